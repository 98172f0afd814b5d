/*
 * The fake destination: one run thread reads the main stream (accepting it
 * first when given a listener), one thread per multifd channel reads its
 * packets; rules fire at counted moments. Nothing is loaded: it counts,
 * records and answers. Every wait is a condition variable or a channel read.
 */
#include "fake_dest.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fake_util.h"

#ifdef MIGRACE_SYNC_POINTS
void migrace_sync_point(const char *name);
#define FDEST_SYNC_POINT(name) migrace_sync_point("" name "")
#else
#define FDEST_SYNC_POINT(name) do { } while (0)
#endif

#define FDEST_MAX_PAGE_SIZE (64 * 1024)	/* a larger SEC_RAM_SETUP page size is refused */
#define FDEST_READ_BUF 4096

/* A buffered reader over one channel; owned by the one thread reading it. */
struct fdest_reader {
	struct channel *ch;
	const char *what;		/* "main" or "multifd", for the error text */
	bool multifd;
	size_t pos, len;
	uint8_t buf[FDEST_READ_BUF];
};

struct fdest_mfd {
	struct fake_dest *f;
	int id;				/* run thread: the id of the header */
	struct channel *ch;		/* lock to set (run thread); free releases it */
	pthread_t thread;
	bool created;			/* run thread only (the joiner) */
	uint64_t synced;		/* lock: generation of the last SYNC read */
	bool sync_pending;		/* lock: a SYNC was read, the run thread did not pass it */
	bool ended;			/* lock: the channel's thread stopped reading */
	struct fdest_reader rd;		/* the channel's thread (the run thread for the header) */
};

struct fake_dest {
	struct fake_dest_rule rules[FAKE_DEST_MAX_RULES];	/* immutable */
	int nrules;						/* immutable */

	pthread_mutex_t lock;		/* protects the fields marked "lock" */
	pthread_cond_t cond;		/* broadcast on every change of a "lock" field */
	pthread_mutex_t wlock;		/* serializes return-path writes; taken without lock */

	struct fake_dest_record rec;	/* lock */
	struct fake_dest_record snap;	/* owner: fake_dest_record's copy */
	unsigned seen[FDA_COUNT];	/* lock: occurrences of each moment */
	unsigned releases;		/* lock: fake_dest_release() calls */
	unsigned releases_used;		/* lock: consumed by stalls and NO_SHUT */
	bool accepting;			/* lock: the run thread is in channel_accept */
	bool waiting_eof;		/* lock: the run thread reads in FDD_NO_SHUT */
	bool stopped;			/* lock: an "ends" action ran; read failures are no errors */
	bool stopping;			/* lock: fake_dest_free winds everything down */
	bool mfd_stop;			/* lock: the multifd channels are being stopped */

	struct channel_listener *listener;	/* set by start; the caller's */
	struct channel *main;		/* lock to set (start or the run thread), then
					 * read by the fake's threads; free releases it */
	struct fdest_mfd mfd[MULTIFD_MAX_CHANNELS];
	int nmfd;			/* lock: slots used in mfd[] */

	/* the run thread's own (multifd threads read them after their creation) */
	struct fdest_reader rd;
	bool ram_setup, rp_open;
	uint64_t npages, last_iter;
	uint32_t page_size;

	pthread_t thread;		/* owner */
	bool started, joined;		/* owner */
};

/* ---- errors and the record --------------------------------------------- */

static int fdest_vfail_locked(struct fake_dest *f, int err, const char *fmt, va_list ap)
{
	if (f->rec.error == 0 && !f->stopped && !f->stopping) {
		f->rec.error = err;
		vsnprintf(f->rec.why, sizeof(f->rec.why), fmt, ap);
		pthread_cond_broadcast(&f->cond);
	}
	return err;
}

static int fdest_fail_locked(struct fake_dest *f, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fdest_vfail_locked(f, err, fmt, ap);
	va_end(ap);
	return err;
}

/* Record err (< 0) as the fake's error unless one is recorded or the fake is
 * ending on purpose. Returns err. Any fake thread; takes lock. */
static int fdest_fail(struct fake_dest *f, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&f->lock);
	va_start(ap, fmt);
	fdest_vfail_locked(f, err, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&f->lock);
	return err;
}

static int fdest_error(struct fake_dest *f)
{
	int err;

	pthread_mutex_lock(&f->lock);
	err = f->rec.error;
	pthread_mutex_unlock(&f->lock);
	return err;
}

/* ---- reading ----------------------------------------------------------------- */

/* A read that failed: an error unless the multifd channels are being stopped. */
static int fdest_read_fail(struct fake_dest *f, struct fdest_reader *r, int err, const char *how)
{
	pthread_mutex_lock(&f->lock);
	if (!(r->multifd && f->mfd_stop))
		fdest_fail_locked(f, err, "%s: %s", r->what, how);
	pthread_mutex_unlock(&f->lock);
	return err;
}

/* Exactly n bytes into dst (NULL: skip them). 0, -EIO at EOF (a truncated
 * stream), or the channel's -errno. */
static int fdr_get(struct fake_dest *f, struct fdest_reader *r, void *dst, size_t n)
{
	uint8_t *d = dst;

	while (n > 0) {
		if (r->pos == r->len) {
			ssize_t got = channel_read(r->ch, r->buf, sizeof(r->buf));

			if (got == 0)
				return fdest_read_fail(f, r, -EIO, "truncated stream");
			if (got < 0)
				return fdest_read_fail(f, r, (int)got, "read error");
			r->pos = 0;
			r->len = (size_t)got;
		}
		size_t chunk = r->len - r->pos < n ? r->len - r->pos : n;
		if (d) {
			memcpy(d, r->buf + r->pos, chunk);
			d += chunk;
		}
		r->pos += chunk;
		n -= chunk;
	}
	return 0;
}

/* 1 at a clean EOF (nothing buffered), 0 if more bytes come, or -errno. */
static int fdr_at_eof(struct fdest_reader *r)
{
	ssize_t got;

	if (r->pos < r->len)
		return 0;
	got = channel_read(r->ch, r->buf, sizeof(r->buf));
	if (got <= 0)
		return got == 0 ? 1 : (int)got;
	r->pos = 0;
	r->len = (size_t)got;
	return 0;
}

static int fdr_be(struct fake_dest *f, struct fdest_reader *r, size_t size, uint64_t *v)
{
	uint8_t b[8];
	int ret = fdr_get(f, r, b, size);

	*v = 0;
	for (size_t i = 0; ret == 0 && i < size; i++)
		*v = *v << 8 | b[i];
	return ret;
}

static void fdr_init(struct fdest_reader *r, struct channel *ch, const char *what, bool multifd)
{
	r->ch = ch;
	r->what = what;
	r->multifd = multifd;
	r->pos = r->len = 0;
}

/* ---- the return path ---------------------------------------------------------- */

/* One message on the main channel. 0 or -errno; counted on success. */
static int fdest_rp_send(struct fake_dest *f, uint16_t type, uint64_t v, uint16_t len)
{
	uint8_t b[4 + 8];
	int ret;

	b[0] = (uint8_t)(type >> 8);
	b[1] = (uint8_t)type;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)len;
	for (uint16_t i = 0; i < len; i++)
		b[4 + i] = (uint8_t)(v >> (8 * (len - 1 - i)));
	pthread_mutex_lock(&f->wlock);
	ret = channel_write_all(f->main, b, 4u + len);
	pthread_mutex_unlock(&f->wlock);
	if (ret)
		return ret;
	pthread_mutex_lock(&f->lock);
	if (type == RP_SHUT) {
		f->rec.shuts++;
		f->rec.shut_status = (int)v;
	} else if (type == RP_PONG) {
		f->rec.pongs++;
	} else if (type == RP_ACK) {
		f->rec.acks++;
	} else {
		f->rec.bad_messages++;
	}
	pthread_mutex_unlock(&f->lock);
	return 0;
}

/*
 * An answer of the protocol. If it cannot be sent the source hung up: that is
 * recorded, not an error of the stream (a source that hangs up early shows as
 * a truncated stream; one that already sent everything, e.g. after failing on
 * its return path, may close before reading RP_SHUT). Returns 0.
 */
static int fdest_answer(struct fake_dest *f, uint16_t type, uint64_t v, uint16_t len)
{
	int ret = fdest_rp_send(f, type, v, len);

	if (ret) {
		pthread_mutex_lock(&f->lock);
		f->rec.rp_write_errors++;
		f->rec.rp_write_error = ret;
		pthread_mutex_unlock(&f->lock);
	}
	return 0;
}

/* ---- the script --------------------------------------------------------------- */

static void fdest_sync_point(enum fake_dest_at at)
{
	switch (at) {
	case FDA_HEADER: FDEST_SYNC_POINT("fdest:header:before-action"); break;
	case FDA_RAM_SETUP: FDEST_SYNC_POINT("fdest:ram-setup:before-action"); break;
	case FDA_OPEN_RETURN_PATH: FDEST_SYNC_POINT("fdest:open-return-path:before-action"); break;
	case FDA_PAGE: FDEST_SYNC_POINT("fdest:page:before-action"); break;
	case FDA_ITER_END: FDEST_SYNC_POINT("fdest:iter-end:before-action"); break;
	case FDA_PING: FDEST_SYNC_POINT("fdest:ping:before-action"); break;
	case FDA_DEVICE_STATE: FDEST_SYNC_POINT("fdest:device-state:before-action"); break;
	case FDA_EOF: FDEST_SYNC_POINT("fdest:eof:before-action"); break;
	case FDA_COUNT: break;
	}
}

/* FDD_STALL: until a release (one is consumed) or free. */
static void fdest_stall(struct fake_dest *f)
{
	pthread_mutex_lock(&f->lock);
	f->rec.stalled++;
	pthread_cond_broadcast(&f->cond);
	while (f->releases_used == f->releases && !f->stopping)
		pthread_cond_wait(&f->cond, &f->lock);
	if (f->releases_used < f->releases)
		f->releases_used++;
	f->rec.stalled--;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

/*
 * FDD_NO_SHUT (run thread, after SEC_EOF): read until the source closes or
 * shuts down, or a release shuts our reading down. Any byte is an error.
 */
static void fdest_no_shut(struct fake_dest *f)
{
	pthread_mutex_lock(&f->lock);
	if (f->releases_used < f->releases) {
		f->releases_used++;
		pthread_mutex_unlock(&f->lock);
		return;
	}
	f->waiting_eof = true;
	pthread_mutex_unlock(&f->lock);
	int eof = fdr_at_eof(&f->rd);
	if (eof == 0)
		fdest_fail(f, -EPROTO, "main: data after SEC_EOF");
	pthread_mutex_lock(&f->lock);
	f->waiting_eof = false;
	if (f->releases_used < f->releases)
		f->releases_used++;
	pthread_mutex_unlock(&f->lock);
}

/*
 * After an "ends" action: the fake stops without error. A multifd thread that
 * acted also wakes the run thread (shutting down its reading of the main
 * channel); every multifd thread is woken.
 */
static void fdest_end_by_script(struct fake_dest *f, bool in_run_thread)
{
	pthread_mutex_lock(&f->lock);
	f->stopped = true;
	f->rec.ended_by_script = true;
	for (int i = 0; i < f->nmfd; i++)
		if (f->mfd[i].ch)
			channel_shutdown(f->mfd[i].ch, CHANNEL_SHUTDOWN_BOTH);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	if (!in_run_thread)
		channel_shutdown(f->main, CHANNEL_SHUTDOWN_READ);
}

/* The multifd channel whose thread this is (NULL in the run thread). */
static __thread struct fdest_mfd *fdest_self_mfd;

/* Run rule r at its moment. Returns whether the fake ends (for
 * FDD_CLOSE_OWN on a multifd channel: whether that channel's thread ends). */
static bool fdest_act(struct fake_dest *f, const struct fake_dest_rule *r, unsigned n, bool in_run_thread)
{
	fdest_sync_point(r->at);
	pthread_mutex_lock(&f->lock);
	if (f->rec.ntaken < FAKE_DEST_MAX_RULES)
		f->rec.taken[f->rec.ntaken++] = (struct fake_dest_action){ r->at, n, r->action };
	pthread_mutex_unlock(&f->lock);

	switch (r->action) {
	case FDD_STALL:
		fdest_stall(f);
		return false;
	case FDD_BAD_MESSAGE:
		fdest_rp_send(f, FAKE_DEST_BAD_RP_TYPE, 0, 4);
		return false;
	case FDD_ERROR:
		fdest_rp_send(f, RP_SHUT, (uint64_t)r->err, 4);
		fdest_end_by_script(f, in_run_thread);
		return true;
	case FDD_CLOSE:
		fdest_end_by_script(f, in_run_thread);	/* before: close does not wake our reader */
		channel_close(f->main);
		return true;
	case FDD_SHUTDOWN:
		channel_shutdown(f->main, CHANNEL_SHUTDOWN_BOTH);
		fdest_end_by_script(f, in_run_thread);
		return true;
	case FDD_NO_SHUT:
		fdest_no_shut(f);
		fdest_end_by_script(f, in_run_thread);
		return true;
	case FDD_CLOSE_OWN:
		if (fdest_self_mfd) {
			channel_shutdown(fdest_self_mfd->ch, CHANNEL_SHUTDOWN_BOTH);
			return true;	/* this channel's thread stops; the fake does not */
		}
		fdest_end_by_script(f, in_run_thread);
		channel_close(f->main);
		return true;
	case FDD_COUNT:
		break;
	}
	return false;
}

/* A moment happened: count it, run the rules for this occurrence in order.
 * Returns whether the fake ends. */
static bool fdest_moment(struct fake_dest *f, enum fake_dest_at at, bool in_run_thread)
{
	unsigned n;
	bool quiet;

	pthread_mutex_lock(&f->lock);
	n = ++f->seen[at];
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < f->nrules; i++) {
		const struct fake_dest_rule *r = &f->rules[i];

		if (r->at != at || (r->n ? r->n : 1) != n)
			continue;
		pthread_mutex_lock(&f->lock);
		quiet = f->stopped || f->stopping;
		pthread_mutex_unlock(&f->lock);
		if (quiet || fdest_act(f, r, n, in_run_thread))
			return true;
	}
	return false;
}

/* ---- multifd ------------------------------------------------------------------ */

/* One packet's pages: index checked, bytes skipped, counted. 1 if the fake
 * ends, 0, or -errno. */
static int fdest_mfd_pages(struct fdest_mfd *c, uint32_t npages)
{
	struct fake_dest *f = c->f;
	uint64_t idx;
	int ret;

	for (uint32_t i = 0; i < npages; i++) {
		if ((ret = fdr_be(f, &c->rd, 8, &idx)))
			return ret;
		if (idx >= f->npages)
			return fdest_fail(f, -EINVAL, "multifd %d: page %llu beyond the %llu of SEC_RAM_SETUP",
					  c->id, (unsigned long long)idx, (unsigned long long)f->npages);
		if ((ret = fdr_get(f, &c->rd, NULL, f->page_size)))
			return ret;
		pthread_mutex_lock(&f->lock);
		f->rec.pages++;
		f->rec.multifd_pages++;
		pthread_mutex_unlock(&f->lock);
		if (fdest_moment(f, FDA_PAGE, false))
			return 1;
	}
	return 0;
}

/* A SYNC read: hand it to the run thread, wait until it passed it. */
static void fdest_mfd_synced(struct fdest_mfd *c, uint64_t gen)
{
	struct fake_dest *f = c->f;

	pthread_mutex_lock(&f->lock);
	c->synced = gen;
	c->sync_pending = true;
	pthread_cond_broadcast(&f->cond);
	while (c->sync_pending && !f->mfd_stop && !f->stopped && !f->stopping)
		pthread_cond_wait(&f->cond, &f->lock);
	pthread_mutex_unlock(&f->lock);
}

static void *fdest_mfd_thread(void *opaque)
{
	struct fdest_mfd *c = opaque;
	struct fake_dest *f = c->f;
	uint64_t flags, gen, npages;
	int ret = 0;

	fdest_self_mfd = c;
	while (ret == 0) {
		int eof = fdr_at_eof(&c->rd);
		if (eof) {
			if (eof < 0)
				fdest_read_fail(f, &c->rd, eof, "read error");
			break;
		}
		if ((ret = fdr_be(f, &c->rd, 4, &flags)) || (ret = fdr_be(f, &c->rd, 8, &gen)) ||
		    (ret = fdr_be(f, &c->rd, 4, &npages)))
			break;
		if (npages > MULTIFD_PAGES_PER_PACKET || (flags & ~(uint64_t)MULTIFD_FLAG_SYNC) ||
		    ((flags & MULTIFD_FLAG_SYNC) && npages)) {
			fdest_fail(f, -EPROTO, "multifd %d: bad packet (flags %#llx, %llu pages)", c->id,
				   (unsigned long long)flags, (unsigned long long)npages);
			break;
		}
		if (flags & MULTIFD_FLAG_SYNC)
			fdest_mfd_synced(c, gen);
		else
			ret = fdest_mfd_pages(c, (uint32_t)npages);
	}
	pthread_mutex_lock(&f->lock);
	c->ended = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static int fdest_accept(struct fake_dest *f, struct channel **out)
{
	int ret;

	pthread_mutex_lock(&f->lock);
	if (f->stopping) {
		pthread_mutex_unlock(&f->lock);
		return -ECANCELED;
	}
	f->accepting = true;
	pthread_mutex_unlock(&f->lock);
	ret = channel_accept(f->listener, out);
	pthread_mutex_lock(&f->lock);
	f->accepting = false;
	pthread_mutex_unlock(&f->lock);
	return ret ? fdest_fail(f, ret, "accept failed") : 0;
}

/* SEC_MULTIFD_SETUP: accept n channels, check their headers, start their threads. */
static int fdest_mfd_setup(struct fake_dest *f)
{
	uint64_t n, magic, id;
	uint32_t ids = 0;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 4, &n)))
		return ret;
	if (!f->ram_setup || f->nmfd || n < 1 || n > MULTIFD_MAX_CHANNELS)
		return fdest_fail(f, -EPROTO, "main: SEC_MULTIFD_SETUP %llu out of place", (unsigned long long)n);
	if (!f->listener)
		return fdest_fail(f, -EINVAL, "main: multifd without a listener");
	for (int i = 0; i < (int)n; i++) {
		struct fdest_mfd *c = &f->mfd[i];
		struct channel *ch;

		if ((ret = fdest_accept(f, &ch)))
			return ret;
		c->f = f;
		c->id = -1;
		fdr_init(&c->rd, ch, "multifd", true);
		pthread_mutex_lock(&f->lock);
		c->ch = ch;
		f->nmfd = i + 1;
		if (f->stopping)
			channel_shutdown(ch, CHANNEL_SHUTDOWN_BOTH);
		pthread_mutex_unlock(&f->lock);
		if ((ret = fdr_be(f, &c->rd, 4, &magic)) || (ret = fdr_be(f, &c->rd, 4, &id)))
			return ret;
		if (magic != MULTIFD_MAGIC || id >= n || (ids & (1u << id)))
			return fdest_fail(f, -EPROTO, "multifd: bad header (magic %#llx, id %llu)",
					  (unsigned long long)magic, (unsigned long long)id);
		ids |= 1u << id;
		c->id = (int)id;
	}
	pthread_mutex_lock(&f->lock);
	f->rec.multifd_channels = (unsigned)n;
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < (int)n; i++) {
		ret = -pthread_create(&f->mfd[i].thread, NULL, fdest_mfd_thread, &f->mfd[i]);
		if (ret)
			return fdest_fail(f, ret, "multifd: pthread_create failed");
		f->mfd[i].created = true;
	}
	return 0;
}

/* SEC_MULTIFD_SYNC: go on once every channel delivered its SYNC of gen. */
static int fdest_mfd_sync(struct fake_dest *f)
{
	uint64_t gen;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 8, &gen)))
		return ret;
	pthread_mutex_lock(&f->lock);
	if (!f->nmfd)
		ret = fdest_fail_locked(f, -EPROTO, "main: SEC_MULTIFD_SYNC without multifd");
	while (ret == 0 && !f->rec.error && !f->stopped && !f->stopping) {
		int missing = 0;

		for (int i = 0; ret == 0 && i < f->nmfd; i++) {
			struct fdest_mfd *c = &f->mfd[i];

			if (c->sync_pending && c->synced != gen)
				ret = fdest_fail_locked(f, -EPROTO, "multifd %d: SYNC %llu, the stream says %llu",
							c->id, (unsigned long long)c->synced,
							(unsigned long long)gen);
			else if (!c->sync_pending && c->ended)
				ret = fdest_fail_locked(f, -EPROTO, "multifd %d: ended before SYNC %llu", c->id,
							(unsigned long long)gen);
			else if (!c->sync_pending)
				missing++;
		}
		if (ret || !missing)
			break;
		pthread_cond_wait(&f->cond, &f->lock);
	}
	if (ret == 0)
		ret = f->rec.error;
	if (ret == 0 && !f->stopped && !f->stopping) {
		for (int i = 0; i < f->nmfd; i++)
			f->mfd[i].sync_pending = false;
		f->rec.multifd_syncs++;
		pthread_cond_broadcast(&f->cond);
	}
	pthread_mutex_unlock(&f->lock);
	return ret;
}

/* Stop the multifd channels (shut them down) and join their threads. Run thread. */
static void fdest_mfd_stop(struct fake_dest *f)
{
	int n;

	pthread_mutex_lock(&f->lock);
	f->mfd_stop = true;
	n = f->nmfd;
	for (int i = 0; i < n; i++)
		if (f->mfd[i].ch)
			channel_shutdown(f->mfd[i].ch, CHANNEL_SHUTDOWN_BOTH);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	for (int i = 0; i < n; i++) {
		if (f->mfd[i].created) {
			pthread_join(f->mfd[i].thread, NULL);
			f->mfd[i].created = false;
		}
	}
}

/* ---- the main stream ------------------------------------------------------------ */

static int fdest_ram_setup(struct fake_dest *f)
{
	uint64_t bytes, psize;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 8, &bytes)) || (ret = fdr_be(f, &f->rd, 4, &psize)))
		return ret;
	if (f->ram_setup)
		return fdest_fail(f, -EPROTO, "main: a second SEC_RAM_SETUP");
	if (psize == 0 || psize > FDEST_MAX_PAGE_SIZE || bytes == 0 || bytes % psize)
		return fdest_fail(f, -EINVAL, "main: SEC_RAM_SETUP of %llu bytes in pages of %llu",
				  (unsigned long long)bytes, (unsigned long long)psize);
	f->ram_setup = true;
	f->npages = bytes / psize;
	f->page_size = (uint32_t)psize;
	pthread_mutex_lock(&f->lock);
	f->rec.ram_bytes = bytes;
	f->rec.page_size = (uint32_t)psize;
	pthread_mutex_unlock(&f->lock);
	return fdest_moment(f, FDA_RAM_SETUP, true);
}

static int fdest_page(struct fake_dest *f)
{
	uint64_t idx;
	int ret;

	if (!f->ram_setup || f->nmfd)
		return fdest_fail(f, -EPROTO, "main: SEC_RAM_PAGE %s", f->nmfd ? "with multifd on" :
				  "before SEC_RAM_SETUP");
	if ((ret = fdr_be(f, &f->rd, 8, &idx)))
		return ret;
	if (idx >= f->npages)
		return fdest_fail(f, -EINVAL, "main: page %llu beyond the %llu of SEC_RAM_SETUP",
				  (unsigned long long)idx, (unsigned long long)f->npages);
	if ((ret = fdr_get(f, &f->rd, NULL, f->page_size)))
		return ret;
	pthread_mutex_lock(&f->lock);
	f->rec.pages++;
	pthread_mutex_unlock(&f->lock);
	return fdest_moment(f, FDA_PAGE, true);
}

static int fdest_iter_end(struct fake_dest *f)
{
	uint64_t iter;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 8, &iter)))
		return ret;
	if (iter <= f->last_iter)
		return fdest_fail(f, -EPROTO, "main: SEC_ITER_END %llu after %llu", (unsigned long long)iter,
				  (unsigned long long)f->last_iter);
	f->last_iter = iter;
	if (fdest_moment(f, FDA_ITER_END, true))
		return 1;
	return f->rp_open ? fdest_answer(f, RP_ACK, iter, 8) : 0;
}

static int fdest_ping(struct fake_dest *f)
{
	uint64_t id;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 4, &id)))
		return ret;
	if (fdest_moment(f, FDA_PING, true))
		return 1;
	return f->rp_open ? fdest_answer(f, RP_PONG, id, 4) : 0;
}

static int fdest_device_state(struct fake_dest *f)
{
	uint64_t len;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 4, &len)))
		return ret;
	if (len > MIG_DEVICE_STATE_MAX)
		return fdest_fail(f, -EMSGSIZE, "main: SEC_DEVICE_STATE of %llu bytes", (unsigned long long)len);
	if ((ret = fdr_get(f, &f->rd, NULL, (size_t)len)))
		return ret;
	return fdest_moment(f, FDA_DEVICE_STATE, true);
}

/* SEC_EOF: the channels stop (every SYNC came before), then the rules, then RP_SHUT 0. */
static int fdest_eof(struct fake_dest *f)
{
	int ret;

	fdest_mfd_stop(f);
	if ((ret = fdest_error(f)))
		return ret;
	if (fdest_moment(f, FDA_EOF, true))
		return 1;
	if (f->rp_open)
		fdest_answer(f, RP_SHUT, 0, 4);
	return 1;
}

/* One section. 1 if the fake ends (SEC_EOF or a script), 0 to go on, or -errno. */
static int fdest_section(struct fake_dest *f, uint8_t type)
{
	switch (type) {
	case SEC_RAM_SETUP:
		return fdest_ram_setup(f);
	case SEC_OPEN_RETURN_PATH:
		if (f->rp_open)
			return fdest_fail(f, -EPROTO, "main: a second SEC_OPEN_RETURN_PATH");
		f->rp_open = true;
		return fdest_moment(f, FDA_OPEN_RETURN_PATH, true);
	case SEC_RAM_PAGE:
		return fdest_page(f);
	case SEC_ITER_END:
		return fdest_iter_end(f);
	case SEC_PING:
		return fdest_ping(f);
	case SEC_DEVICE_STATE:
		return fdest_device_state(f);
	case SEC_EOF:
		return fdest_eof(f);
	case SEC_MULTIFD_SETUP:
		return fdest_mfd_setup(f);
	case SEC_MULTIFD_SYNC:
		return fdest_mfd_sync(f);
	default:
		return fdest_fail(f, -EPROTO, "main: unknown section %u", type);
	}
}

/* The whole main stream. 0 when it ended (SEC_EOF or a script), or -errno. */
static int fdest_load(struct fake_dest *f)
{
	uint64_t magic, version;
	uint8_t type;
	int ret;

	if ((ret = fdr_be(f, &f->rd, 4, &magic)) || (ret = fdr_be(f, &f->rd, 4, &version)))
		return ret;
	if (magic != MIG_MAGIC || version != MIG_VERSION)
		return fdest_fail(f, -EPROTO, "main: bad header (magic %#llx, version %llu)",
				  (unsigned long long)magic, (unsigned long long)version);
	if (fdest_moment(f, FDA_HEADER, true))
		return 0;
	for (;;) {
		if ((ret = fdr_get(f, &f->rd, &type, 1)))
			return ret;
		pthread_mutex_lock(&f->lock);
		if (type > 0 && type < FAKE_DEST_NSECTIONS)
			f->rec.sections[type]++;
		pthread_mutex_unlock(&f->lock);
		ret = fdest_section(f, type);
		if (ret == 0)
			ret = fdest_error(f);	/* a multifd thread's */
		if (ret)
			return ret < 0 ? ret : 0;
	}
}

static void *fdest_run(void *opaque)
{
	struct fake_dest *f = opaque;
	struct channel *ch = NULL;
	int ret = 0;

	if (f->listener) {
		ret = fdest_accept(f, &ch);
		if (ret == 0) {
			pthread_mutex_lock(&f->lock);
			f->main = ch;
			if (f->stopping)
				channel_shutdown(ch, CHANNEL_SHUTDOWN_BOTH);
			pthread_mutex_unlock(&f->lock);
		}
	}
	if (ret == 0) {
		fdr_init(&f->rd, f->main, "main", false);
		ret = fdest_load(f);
	}
	fdest_mfd_stop(f);
	/* like the real destination: a failed load still says why, if it can */
	if (ret < 0 && f->rp_open && fdest_error(f))
		fdest_rp_send(f, RP_SHUT, (uint64_t)-fdest_error(f), 4);
	if (f->main)
		channel_close(f->main);
	pthread_mutex_lock(&f->lock);
	f->rec.done = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

/* ---- the API ---------------------------------------------------------------------- */

struct fake_dest *fake_dest_new(const struct fake_dest_rule *rules, int nrules)
{
	struct fake_dest *f;

	if (nrules < 0 || nrules > FAKE_DEST_MAX_RULES || (nrules && !rules)) {
		errno = EINVAL;
		return NULL;
	}
	for (int i = 0; i < nrules; i++) {
		const struct fake_dest_rule *r = &rules[i];

		if ((unsigned)r->at >= FDA_COUNT || (unsigned)r->action >= FDD_COUNT ||
		    (r->action == FDD_NO_SHUT && r->at != FDA_EOF) || (r->action == FDD_ERROR && r->err <= 0)) {
			errno = EINVAL;
			return NULL;
		}
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	if (nrules)
		memcpy(f->rules, rules, sizeof(rules[0]) * (size_t)nrules);
	f->nrules = nrules;
	f->rec.shut_status = -1;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_init(&f->wlock, NULL);
	pthread_cond_init(&f->cond, NULL);
	return f;
}

static int fdest_start(struct fake_dest *f)
{
	int ret = pthread_create(&f->thread, NULL, fdest_run, f);

	if (ret)
		return -ret;
	f->started = true;
	return 0;
}

int fake_dest_start_listener(struct fake_dest *f, struct channel_listener *l)
{
	if (f->started || !l)
		return f->started ? -EBUSY : -EINVAL;
	f->listener = l;
	return fdest_start(f);
}

int fake_dest_start_channel(struct fake_dest *f, struct channel *ch)
{
	int ret;

	if (f->started || !ch)
		return f->started ? -EBUSY : -EINVAL;
	channel_ref(ch);
	f->main = ch;
	ret = fdest_start(f);
	if (ret) {
		f->main = NULL;
		channel_unref(ch);
	}
	return ret;
}

void fake_dest_release(struct fake_dest *f)
{
	pthread_mutex_lock(&f->lock);
	f->releases++;
	if (f->waiting_eof)
		channel_shutdown(f->main, CHANNEL_SHUTDOWN_READ);
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

int fake_dest_wait_stalled(struct fake_dest *f, int timeout_ms)
{
	struct timespec d = fake_deadline_after_ms(timeout_ms);
	int ret = 0;

	pthread_mutex_lock(&f->lock);
	while (!f->rec.stalled && !f->rec.done && ret == 0)
		ret = pthread_cond_timedwait(&f->cond, &f->lock, &d);
	ret = f->rec.stalled ? 0 : f->rec.done ? -ESRCH : -ETIMEDOUT;
	pthread_mutex_unlock(&f->lock);
	return ret;
}

int fake_dest_wait(struct fake_dest *f)
{
	if (!f->started)
		return -EINVAL;
	if (!f->joined) {
		pthread_join(f->thread, NULL);
		f->joined = true;
	}
	return fdest_error(f);
}

const struct fake_dest_record *fake_dest_record(struct fake_dest *f)
{
	pthread_mutex_lock(&f->lock);
	f->snap = f->rec;
	pthread_mutex_unlock(&f->lock);
	return &f->snap;
}

void fake_dest_free(struct fake_dest *f)
{
	if (!f)
		return;
	if (f->started && !f->joined) {
		pthread_mutex_lock(&f->lock);
		f->stopping = true;
		if (f->main)
			channel_shutdown(f->main, CHANNEL_SHUTDOWN_BOTH);
		for (int i = 0; i < f->nmfd; i++)
			if (f->mfd[i].ch)
				channel_shutdown(f->mfd[i].ch, CHANNEL_SHUTDOWN_BOTH);
		if (f->accepting)
			channel_listener_shutdown(f->listener);
		pthread_cond_broadcast(&f->cond);
		pthread_mutex_unlock(&f->lock);
		fake_dest_wait(f);
	}
	for (int i = 0; i < f->nmfd; i++) {
		if (f->mfd[i].ch) {
			channel_close(f->mfd[i].ch);
			channel_unref(f->mfd[i].ch);
		}
	}
	if (f->main) {
		channel_close(f->main);
		channel_unref(f->main);
	}
	pthread_cond_destroy(&f->cond);
	pthread_mutex_destroy(&f->wlock);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
