/*
 * The destination: mig_incoming_start opens the stream and its return path
 * on one channel and runs the load thread, which parses the sections of
 * wire.h until SEC_EOF and only then starts the guest.
 */
#include "incoming.h"

#include "harness_points.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "yank.h"

#define MIG_INCOMING_THREAD_NAME "mig/dst/main"

static const char *const mig_incoming_state_names[] = {
	[MIG_INCOMING_NONE] = "none",
	[MIG_INCOMING_ACTIVE] = "active",
	[MIG_INCOMING_COMPLETED] = "completed",
	[MIG_INCOMING_FAILED] = "failed",
	[MIG_INCOMING_POSTCOPY_ACTIVE] = "postcopy-active",
	[MIG_INCOMING_POSTCOPY_PAUSED] = "postcopy-paused",
	[MIG_INCOMING_POSTCOPY_RECOVER] = "postcopy-recover",
};

/* The transitions listed with enum mig_incoming_state in incoming.h. */
#define MIG_INCOMING_NSTATES (MIG_INCOMING_POSTCOPY_RECOVER + 1)
static const bool mig_incoming_transitions[MIG_INCOMING_NSTATES][MIG_INCOMING_NSTATES] = {
	[MIG_INCOMING_NONE] = { [MIG_INCOMING_ACTIVE] = true },
	[MIG_INCOMING_ACTIVE] = {
		[MIG_INCOMING_COMPLETED] = true, [MIG_INCOMING_FAILED] = true,
		[MIG_INCOMING_POSTCOPY_ACTIVE] = true,
	},
	[MIG_INCOMING_POSTCOPY_ACTIVE] = {
		[MIG_INCOMING_COMPLETED] = true, [MIG_INCOMING_FAILED] = true,
		[MIG_INCOMING_POSTCOPY_PAUSED] = true,
	},
	[MIG_INCOMING_POSTCOPY_PAUSED] = {
		[MIG_INCOMING_POSTCOPY_RECOVER] = true, [MIG_INCOMING_FAILED] = true,
	},
	[MIG_INCOMING_POSTCOPY_RECOVER] = {
		[MIG_INCOMING_POSTCOPY_ACTIVE] = true, [MIG_INCOMING_POSTCOPY_PAUSED] = true,
		[MIG_INCOMING_FAILED] = true,
	},
};

const char *mig_incoming_state_name(enum mig_incoming_state state)
{
	size_t n = sizeof(mig_incoming_state_names) / sizeof(mig_incoming_state_names[0]);

	if ((size_t)state >= n)
		return "?";
	return mig_incoming_state_names[state];
}

/*
 * The only place the state changes: old -> new if the state is still old.
 * Returns whether it changed. A transition not in the table is a bug of the
 * caller: print it and abort.
 */
static bool mig_incoming_set_state(struct mig_incoming *inc,
				   enum mig_incoming_state old,
				   enum mig_incoming_state new)
{
	int expected = old;

	if ((unsigned)old >= MIG_INCOMING_NSTATES || (unsigned)new >= MIG_INCOMING_NSTATES ||
	    !mig_incoming_transitions[old][new]) {
		fprintf(stderr, "mig_incoming: invalid state transition %s -> %s\n",
			mig_incoming_state_name(old), mig_incoming_state_name(new));
		abort();
	}
	return atomic_compare_exchange_strong(&inc->state, &expected, (int)new);
}

enum mig_incoming_state mig_incoming_get_state(struct mig_incoming *inc)
{
	return (enum mig_incoming_state)atomic_load(&inc->state);
}

/* Record err (< 0) unless an error is already recorded. Any thread. */
static void mig_incoming_set_error(struct mig_incoming *inc, int err)
{
	QEMU_LOCK_GUARD(&inc->error_mutex);
	if (inc->error == 0 && err < 0)
		inc->error = err;
}

int mig_incoming_get_error(struct mig_incoming *inc)
{
	QEMU_LOCK_GUARD(&inc->error_mutex);
	return inc->error;
}

uint64_t mig_incoming_pages_loaded(struct mig_incoming *inc)
{
	return atomic_load(&inc->pages_loaded);
}

uint64_t mig_incoming_iterations_acked(struct mig_incoming *inc)
{
	return atomic_load(&inc->iterations_acked);
}

uint64_t mig_incoming_loaded_hash(struct mig_incoming *inc)
{
	return atomic_load(&inc->loaded_hash);
}

uint64_t mig_incoming_bytes_loaded(struct mig_incoming *inc)
{
	return atomic_load(&inc->bytes_loaded);
}

const uint8_t *mig_incoming_device_state(struct mig_incoming *inc, size_t *len)
{
	/* the load thread stored the bytes before its completing CAS */
	if (mig_incoming_get_state(inc) != MIG_INCOMING_COMPLETED) {
		*len = 0;
		return NULL;
	}
	*len = inc->device_state_len;
	return inc->device_state;
}

int mig_incoming_init(struct mig_incoming *inc, struct vm *vm, struct guest_ram *ram)
{
	if (!vm || !ram || vm->ram != ram || ram->page_size != RAM_PAGE_SIZE)
		return -EINVAL;
	if (runstate_get(vm) != RUN_STATE_INMIGRATE)
		return -EINVAL;
	memset(inc, 0, sizeof(*inc));
	inc->vm = vm;
	inc->ram = ram;
	qemu_mutex_init(&inc->file_lock);
	qemu_mutex_init(&inc->error_mutex);
	qemu_mutex_init(&inc->rp_mutex);
	qemu_cond_init(&inc->recover_cond);
	atomic_init(&inc->state, MIG_INCOMING_NONE);
	atomic_init(&inc->pages_loaded, 0);
	atomic_init(&inc->iterations_acked, 0);
	atomic_init(&inc->bytes_loaded, 0);
	atomic_init(&inc->loaded_hash, 0);
	return 0;
}

/*
 * Return-path messages, whole, under rp_mutex: the load thread writes them,
 * and in postcopy the faulting vCPUs too (RP_REQ_PAGE). Each message is
 * flushed at once: the source may wait for it. Returns 0 (also when the
 * return path is not open) or the file's -errno. rp_open is the load
 * thread's, and set before any vCPU can fault (the guest starts later).
 */
static int mig_incoming_rp_send(struct mig_incoming *inc, enum mig_rp_message type,
				const uint8_t *payload, uint16_t len)
{
	if (!inc->rp_open)
		return 0;
	QEMU_LOCK_GUARD(&inc->rp_mutex);
	QEMUFile *rp = inc->to_src_file;
	if (!rp)
		return -EPIPE;		/* paused: a request is sent again after recovery */
	qemu_put_be16(rp, (uint16_t)type);
	qemu_put_be16(rp, len);
	qemu_put_buffer(rp, payload, len);
	return qemu_fflush(rp);
}

static void mig_incoming_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static int mig_incoming_rp_send32(struct mig_incoming *inc, enum mig_rp_message type,
				  uint32_t v)
{
	uint8_t b[4];

	mig_incoming_put32(b, v);
	return mig_incoming_rp_send(inc, type, b, sizeof(b));
}

static int mig_incoming_rp_send64(struct mig_incoming *inc, enum mig_rp_message type,
				  uint64_t v)
{
	uint8_t b[8];

	mig_incoming_put32(b, (uint32_t)(v >> 32));
	mig_incoming_put32(b + 4, (uint32_t)v);
	return mig_incoming_rp_send(inc, type, b, sizeof(b));
}

/* SEC_RAM_SETUP: the source's RAM must be ours, byte for byte. */
static int mig_incoming_load_ram_setup(struct mig_incoming *inc)
{
	QEMUFile *f = inc->from_src_file;
	uint64_t bytes = qemu_get_be64(f);
	uint32_t page_size = qemu_get_be32(f);
	int ret = qemu_file_get_error(f);

	if (ret < 0)
		return ret;
	if (bytes != inc->ram->size || page_size != inc->ram->page_size)
		return -EINVAL;
	return 0;
}

/* SEC_RAM_PAGE: index, then the page's bytes, written into guest RAM. */
static int mig_incoming_load_page(struct mig_incoming *inc)
{
	QEMUFile *f = inc->from_src_file;
	uint8_t page[RAM_PAGE_SIZE];	/* init checked ram->page_size */
	uint64_t index = qemu_get_be64(f);
	int ret = qemu_file_get_error(f);

	if (ret < 0)
		return ret;
	if (index >= inc->ram->npages)
		return -EINVAL;
	if (qemu_get_buffer(f, page, sizeof(page)) != sizeof(page))
		return qemu_file_get_error(f);
	if (inc->postcopy)
		postcopy_ram_place(inc->postcopy, (size_t)index, page);   /* never over the guest's writes */
	else
		ram_write_page(inc->ram, (size_t)index, page);
	atomic_fetch_add(&inc->pages_loaded, 1);
	return 0;
}

/*
 * SEC_ITER_END: answer RP_ACK with the iteration number. Counted before the
 * answer goes out, so that a source holding the RP_ACK sees the counter too.
 */
static int mig_incoming_load_iter_end(struct mig_incoming *inc)
{
	uint64_t iter = qemu_get_be64(inc->from_src_file);
	int ret = qemu_file_get_error(inc->from_src_file);

	if (ret < 0 || !inc->rp_open)
		return ret;
	atomic_fetch_add(&inc->iterations_acked, 1);
	return mig_incoming_rp_send64(inc, RP_ACK, iter);
}

/* SEC_PING: answer RP_PONG with the id. */
static int mig_incoming_load_ping(struct mig_incoming *inc)
{
	uint32_t id = qemu_get_be32(inc->from_src_file);
	int ret = qemu_file_get_error(inc->from_src_file);

	if (ret < 0)
		return ret;
	return mig_incoming_rp_send32(inc, RP_PONG, id);
}

/* SEC_DEVICE_STATE: keep the bytes (the last section of this type wins). */
static int mig_incoming_load_device_state(struct mig_incoming *inc)
{
	QEMUFile *f = inc->from_src_file;
	uint32_t len = qemu_get_be32(f);
	int ret = qemu_file_get_error(f);

	if (ret < 0)
		return ret;
	if (len > MIG_DEVICE_STATE_MAX)
		return -EMSGSIZE;
	inc->device_state_len = 0;
	if (qemu_get_buffer(f, inc->device_state, len) != len)
		return qemu_file_get_error(f);
	inc->device_state_len = len;
	return 0;
}

/*
 * Parse the stream until SEC_EOF. Returns 0 at SEC_EOF, else the -errno that
 * ends the load: the file's error for a read error or an early EOF, -EPROTO
 * for a bad header or an unknown section, or what a section returned.
 */
static int mig_incoming_load_multifd_setup(struct mig_incoming *inc);
static int mig_incoming_postcopy_run(struct mig_incoming *inc);
static int mig_incoming_postcopy_resume(struct mig_incoming *inc);

static int mig_incoming_load(struct mig_incoming *inc)
{
	QEMUFile *f = inc->from_src_file;
	bool ram_setup = inc->postcopy != NULL;	/* a recovered stream: set up before */
	uint32_t v;
	int ret;

	v = qemu_get_be32(f);
	if ((ret = qemu_file_get_error(f)) < 0)
		return ret;
	if (v != MIG_MAGIC)
		return -EPROTO;
	v = qemu_get_be32(f);
	if ((ret = qemu_file_get_error(f)) < 0)
		return ret;
	if (v != MIG_VERSION)
		return -EPROTO;

	for (;;) {
		uint8_t type = qemu_get_byte(f);

		if ((ret = qemu_file_get_error(f)) < 0)
			return ret;
		switch (type) {
		case SEC_RAM_SETUP:
			ret = mig_incoming_load_ram_setup(inc);
			ram_setup = ret == 0;
			break;
		case SEC_OPEN_RETURN_PATH:
			inc->rp_open = true;
			break;
		case SEC_RAM_PAGE:
			/* a page before the sizes were checked is out of protocol */
			ret = ram_setup ? mig_incoming_load_page(inc) : -EPROTO;
			break;
		case SEC_ITER_END:
			ret = mig_incoming_load_iter_end(inc);
			break;
		case SEC_PING:
			ret = mig_incoming_load_ping(inc);
			break;
		case SEC_DEVICE_STATE:
			ret = mig_incoming_load_device_state(inc);
			break;
		case SEC_EOF:
			ret = 0;
			break;
		case SEC_MULTIFD_SETUP:
			ret = ram_setup ? mig_incoming_load_multifd_setup(inc) : -EPROTO;
			break;
		case SEC_POSTCOPY_RESUME:
			ret = mig_incoming_get_state(inc) == MIG_INCOMING_POSTCOPY_RECOVER
				      ? mig_incoming_postcopy_resume(inc) : -EPROTO;
			break;
		case SEC_POSTCOPY_RUN:
			ret = ram_setup && !inc->postcopy && !inc->multifd ? mig_incoming_postcopy_run(inc)
									   : -EPROTO;
			break;
		case SEC_MULTIFD_SYNC: {
			uint64_t gen = qemu_get_be64(f);
			ret = qemu_file_get_error(f);
			if (ret == 0)
				ret = inc->multifd ? multifd_recv_sync(inc->multifd, gen) : -EPROTO;
			break;
		}
		default:
			ret = -EPROTO;
			break;
		}
		atomic_store(&inc->bytes_loaded, qemu_file_transferred(f));
		if (ret < 0 || type == SEC_EOF)
			return ret;
	}
}

/* SEC_MULTIFD_SETUP: accept the source's multifd channels and start their
 * receive threads (they connected right after the main channel). */
static int mig_incoming_load_multifd_setup(struct mig_incoming *inc)
{
	struct multifd_recv *m = NULL;
	uint32_t n = qemu_get_be32(inc->from_src_file);
	int ret = qemu_file_get_error(inc->from_src_file);

	if (ret)
		return ret;
	if (inc->multifd || n < 1 || n > MULTIFD_MAX_CHANNELS)
		return -EPROTO;
	if (!inc->listener)
		return -EINVAL;
	ret = multifd_recv_setup(&m, inc->listener, (int)n, inc->ram);
	if (ret)
		return ret;
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->multifd = m;
		if (inc->cancelled)
			multifd_recv_shutdown(m);
	}
	return 0;
}

/* ---- postcopy ------------------------------------------------------------ */

/* A vCPU faulted on a missing page: ask the source (postcopy_ram's hook). A
 * failed send is the channel's failure, which the load thread sees too. */
static void mig_incoming_request_page(void *opaque, size_t page)
{
	mig_incoming_rp_send64(opaque, RP_REQ_PAGE, page);
}

/* "mig/dst/postcopy": places the requested pages that come on the postcopy
 * channel until it ends (shut down at the end, or failed). */
static void *mig_incoming_postcopy_thread(void *opaque)
{
	struct mig_incoming *inc = opaque;
	QEMUFile *f = inc->pc_file;
	uint8_t page[RAM_PAGE_SIZE];

	for (;;) {
		uint64_t index = qemu_get_be64(f);
		if (qemu_file_get_error(f) || index >= inc->ram->npages)
			break;
		if (qemu_get_buffer(f, page, sizeof(page)) != sizeof(page))
			break;
		CORE_SYNC_POINT(DST_POSTCOPY_PAGE_READ);
		if (postcopy_ram_place(inc->postcopy, (size_t)index, page))
			atomic_fetch_add(&inc->pc_pages, 1);
	}
	/* Not stopped by the load thread: the channel failed, as the network
	 * would fail for both: the stream is shut down too, so postcopy pauses
	 * (the requests in flight are lost, a recovery sends them again), and
	 * an end that waits for them stops waiting. */
	bool stopping;
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		stopping = inc->pc_stopping;
		if (!stopping && inc->channel)
			channel_shutdown(inc->channel, CHANNEL_SHUTDOWN_BOTH);
	}
	if (!stopping)
		postcopy_ram_set_channel_broken(inc->postcopy, true);
	return NULL;
}

/* The postcopy channel (load thread): accepted on the listener, its magic
 * checked, its thread started. 0 or -errno. */
static int mig_incoming_postcopy_channel(struct mig_incoming *inc)
{
	struct channel *ch;
	int ret = channel_accept(inc->listener, &ch);

	if (ret)
		return ret;
	QEMUFile *pf = qemu_file_new_input(ch);
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->pc_channel = ch;
		inc->pc_file = pf;
		if (inc->cancelled)
			channel_shutdown(ch, CHANNEL_SHUTDOWN_BOTH);
	}
	if (!pf)
		return -ENOMEM;
	if (qemu_get_be32(pf) != POSTCOPY_MAGIC)
		return qemu_file_get_error(pf) ? qemu_file_get_error(pf) : -EPROTO;
	postcopy_ram_set_channel_broken(inc->postcopy, false);
	ret = qemu_thread_try_create(&inc->pc_thread, "mig/dst/postcopy", mig_incoming_postcopy_thread, inc,
				     QEMU_THREAD_JOINABLE);
	if (ret == 0)
		inc->pc_thread_created = true;
	return ret;
}

/* SEC_POSTCOPY_RUN: the missing pages, the postcopy channel, the guest runs. */
static int mig_incoming_postcopy_run(struct mig_incoming *inc)
{
	QEMUFile *f = inc->from_src_file;
	size_t nwords = BITMAP_LONGS(inc->ram->npages);
	uint64_t npages = qemu_get_be64(f);
	int ret;

	if ((ret = qemu_file_get_error(f)))
		return ret;
	if (npages != inc->ram->npages || !inc->listener || !inc->rp_open)
		return -EPROTO;
	unsigned long *missing = bitmap_new(inc->ram->npages);
	if (!missing)
		return -ENOMEM;
	for (size_t i = 0; i < nwords; i++)
		missing[i] = (unsigned long)qemu_get_be64(f);
	ret = qemu_file_get_error(f);
	if (ret == 0) {
		inc->postcopy = postcopy_ram_begin(inc->ram, missing, mig_incoming_request_page, inc);
		ret = inc->postcopy ? 0 : -ENOMEM;
	}
	bitmap_free(missing);
	if (ret == 0)
		ret = mig_incoming_postcopy_channel(inc);
	if (ret)
		return ret;
	if (!mig_incoming_set_state(inc, MIG_INCOMING_ACTIVE, MIG_INCOMING_POSTCOPY_ACTIVE))
		return -ECANCELED;
	CORE_SYNC_POINT(DST_POSTCOPY_RUN);
	vm_start(inc->vm);
	return 0;
}

/*
 * SEC_POSTCOPY_RESUME (load thread, postcopy-recover): the new postcopy
 * channel, then the answer: the missing pages in RP_RECV_BITMAP messages,
 * RP_RESUME_ACK, and the requests lost with the old channel again.
 */
static int mig_incoming_postcopy_resume(struct mig_incoming *inc)
{
	size_t nwords = BITMAP_LONGS(inc->ram->npages);
	uint8_t msg[8 + 8 * RP_BITMAP_WORDS];
	int ret = mig_incoming_postcopy_channel(inc);
	unsigned long *missing = ret ? NULL : bitmap_new(inc->ram->npages);

	if (ret || !missing)
		return ret ? ret : -ENOMEM;
	postcopy_ram_copy_missing(inc->postcopy, missing);
	for (size_t first = 0; first < nwords && ret == 0; first += RP_BITMAP_WORDS) {
		size_t n = nwords - first < RP_BITMAP_WORDS ? nwords - first : RP_BITMAP_WORDS;
		mig_incoming_put32(msg, (uint32_t)((uint64_t)first >> 32));
		mig_incoming_put32(msg + 4, (uint32_t)first);
		for (size_t i = 0; i < n; i++) {
			uint64_t w = missing[first + i];
			mig_incoming_put32(msg + 8 + 8 * i, (uint32_t)(w >> 32));
			mig_incoming_put32(msg + 12 + 8 * i, (uint32_t)w);
		}
		ret = mig_incoming_rp_send(inc, RP_RECV_BITMAP, msg, (uint16_t)(8 + 8 * n));
	}
	bitmap_free(missing);
	if (ret == 0)
		ret = mig_incoming_rp_send32(inc, RP_RESUME_ACK, 0);
	if (ret)
		return ret;
	if (!mig_incoming_set_state(inc, MIG_INCOMING_POSTCOPY_RECOVER, MIG_INCOMING_POSTCOPY_ACTIVE))
		return -ECANCELED;
	CORE_SYNC_POINT(DST_POSTCOPY_RECOVERED);
	postcopy_ram_resend_requests(inc->postcopy);
	return 0;
}

/* Stop the postcopy channel's thread (load thread): shut down, joined. */
static void mig_incoming_postcopy_channel_stop(struct mig_incoming *inc)
{
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->pc_stopping = true;
		if (inc->pc_channel)
			channel_shutdown(inc->pc_channel, CHANNEL_SHUTDOWN_BOTH);
	}
	if (inc->pc_thread_created) {
		qemu_thread_join(&inc->pc_thread);
		inc->pc_thread_created = false;
	}
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->pc_stopping = false;
	}
}

/* Release the stream, its return path, the postcopy channel and the main
 * channel's yank function (load thread, pausing). */
static void mig_incoming_release_channels(struct mig_incoming *inc)
{
	struct channel *ch, *pch;
	QEMUFile *from, *to, *pf;

	WITH_QEMU_LOCK_GUARD(&inc->rp_mutex) {
		to = inc->to_src_file;
		inc->to_src_file = NULL;
	}
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		ch = inc->channel;
		from = inc->from_src_file;
		pch = inc->pc_channel;
		pf = inc->pc_file;
		inc->channel = NULL;
		inc->from_src_file = NULL;
		inc->pc_channel = NULL;
		inc->pc_file = NULL;
	}
	if (inc->yank_function && ch)
		yank_unregister_function(MIG_INCOMING_YANK_INSTANCE, yank_channel, ch);
	inc->yank_function = false;
	if (to)
		qemu_fclose(to);
	if (from)
		qemu_fclose(from);
	if (pf)
		qemu_fclose(pf);
	if (ch)
		channel_unref(ch);
	if (pch)
		channel_unref(pch);
}

/* Whether a failure of the stream pauses (postcopy, not cancelled). */
static bool mig_incoming_may_pause(struct mig_incoming *inc)
{
	enum mig_incoming_state st = mig_incoming_get_state(inc);

	if (!inc->postcopy || (st != MIG_INCOMING_POSTCOPY_ACTIVE && st != MIG_INCOMING_POSTCOPY_RECOVER))
		return false;
	QEMU_LOCK_GUARD(&inc->file_lock);
	return !inc->cancelled;
}

/*
 * The stream failed in postcopy (load thread): release everything of the
 * old channel, postcopy-paused, wait for mig_incoming_recover (then
 * postcopy-recover on the new channel: 0) or a cancel (-ECANCELED). The
 * guest runs on all along; its vCPUs wait for missing pages.
 */
static int mig_incoming_postcopy_pause(struct mig_incoming *inc)
{
	struct channel_listener *l;
	struct channel *ch;
	bool cancelled;

	mig_incoming_postcopy_channel_stop(inc);
	mig_incoming_release_channels(inc);
	atomic_fetch_add(&inc->pauses, 1);
	if (!mig_incoming_set_state(inc, mig_incoming_get_state(inc), MIG_INCOMING_POSTCOPY_PAUSED))
		return -ECANCELED;
	CORE_SYNC_POINT(DST_POSTCOPY_PAUSED);
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		while (!inc->recover_ch && !inc->cancelled)
			qemu_cond_wait(&inc->recover_cond, &inc->file_lock);
		ch = inc->recover_ch;
		l = inc->recover_listener;
		cancelled = inc->cancelled;
		inc->recover_ch = NULL;
	}
	if (cancelled) {
		if (ch)
			channel_unref(ch);
		return -ECANCELED;
	}
	QEMUFile *from = qemu_file_new_input(ch);
	QEMUFile *to = from ? qemu_file_get_return_path(from) : NULL;
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->channel = ch;		/* the reference recover took */
		inc->from_src_file = from;
	}
	WITH_QEMU_LOCK_GUARD(&inc->rp_mutex) {
		inc->to_src_file = to;
	}
	inc->listener = l;
	if (!from || !to)
		return -ENOMEM;
	yank_register_function(MIG_INCOMING_YANK_INSTANCE, yank_channel, ch);
	inc->yank_function = true;
	mig_incoming_set_state(inc, MIG_INCOMING_POSTCOPY_PAUSED, MIG_INCOMING_POSTCOPY_RECOVER);
	return 0;
}

int mig_incoming_recover(struct mig_incoming *inc, struct channel *ch, struct channel_listener *l)
{
	if (!ch || !l)
		return -EINVAL;
	QEMU_LOCK_GUARD(&inc->file_lock);
	if (mig_incoming_get_state(inc) != MIG_INCOMING_POSTCOPY_PAUSED || inc->recover_ch || inc->cancelled)
		return -EINVAL;
	channel_ref(ch);
	inc->recover_ch = ch;
	inc->recover_listener = l;
	qemu_cond_broadcast(&inc->recover_cond);
	return 0;
}

int mig_incoming_pause(struct mig_incoming *inc)
{
	QEMU_LOCK_GUARD(&inc->file_lock);
	if (mig_incoming_get_state(inc) != MIG_INCOMING_POSTCOPY_ACTIVE || !inc->channel)
		return -EINVAL;
	channel_shutdown(inc->channel, CHANNEL_SHUTDOWN_BOTH);
	return 0;
}

uint64_t mig_incoming_pauses(struct mig_incoming *inc)
{
	return atomic_load(&inc->pauses);
}

/*
 * The main stream of a postcopy migration is complete (load thread, ret 0
 * from the load): requested pages may still be on their way on the
 * postcopy channel (the source sent SEC_EOF once no page was left to send,
 * requested ones included), so wait for them before the channel goes
 * (fixed form of QEMU cf02f29e1e38). If that channel broke with requests
 * in flight they are lost: -EIO, postcopy pauses and a recovery sends them.
 * Returns ret otherwise (a precopy stream, or a failed load).
 */
static int mig_incoming_postcopy_drain(struct mig_incoming *inc, int ret)
{
	if (ret || !inc->postcopy)
		return ret;
	CORE_SYNC_POINT(DST_POSTCOPY_GOT_EOF);
	if (!postcopy_ram_wait_requests(inc->postcopy))
		return -EIO;
	return 0;
}

/*
 * The end of postcopy (load thread): the main stream is complete (and
 * drained), or failed. Shut the postcopy channel down, join its thread, and
 * end the faults. Returns the digest of the pages as they arrived.
 */
static uint64_t mig_incoming_postcopy_end(struct mig_incoming *inc)
{
	CORE_SYNC_POINT(DST_POSTCOPY_CHANNEL_SHUT);
	mig_incoming_postcopy_channel_stop(inc);
	return postcopy_ram_end(inc->postcopy);
}

/* The load thread, at the end: stop and join the receive threads. */
static void mig_incoming_multifd_end(struct mig_incoming *inc)
{
	struct multifd_recv *m;

	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		m = inc->multifd;
		inc->multifd = NULL;
	}
	multifd_recv_cleanup(m);      /* outside the lock: it joins */
}

/*
 * The end of a complete stream. The source stopped its copy before sending
 * SEC_EOF, so starting the guest here never makes it run on both sides. A
 * failed RP_SHUT does not stop the start: the whole state is here, and the
 * source cannot resume a copy whose stream it finished.
 */
static void mig_incoming_fail(struct mig_incoming *inc, int err);

/* Postcopy's end: every page here (the guest already runs), SHUT 0. */
static void mig_incoming_postcopy_complete(struct mig_incoming *inc)
{
	atomic_store(&inc->loaded_hash, mig_incoming_postcopy_end(inc));
	int ret = mig_incoming_rp_send32(inc, RP_SHUT, 0);
	if (ret)
		mig_incoming_set_error(inc, ret);   /* the guest runs here whatever the source hears */
	CORE_SYNC_POINT(DST_SHUT_SENT);
	if (!mig_incoming_set_state(inc, MIG_INCOMING_POSTCOPY_ACTIVE, MIG_INCOMING_COMPLETED)) {
		fprintf(stderr, "mig_incoming: completing postcopy from state %s\n",
			mig_incoming_state_name(mig_incoming_get_state(inc)));
		abort();
	}
}

/*
 * The whole stream is in: tell the source (SHUT 0), then run the guest here.
 * The guest runs here only once the source was told: a source without its
 * SHUT fails and resumes its own guest, so a destination that cannot send it
 * fails instead (never the guest on both sides, never a source waiting for a
 * SHUT that does not come; found by the fault sweep, core/channel/write).
 */
static void mig_incoming_complete(struct mig_incoming *inc)
{
	if (inc->postcopy) {
		mig_incoming_postcopy_complete(inc);
		return;
	}
	/* the memory exactly as the source left it, before the guest runs here */
	atomic_store(&inc->loaded_hash, ram_hash(inc->ram));
	CORE_SYNC_POINT(DST_GOT_EOF);
	int ret = mig_incoming_rp_send32(inc, RP_SHUT, 0);
	if (ret) {
		mig_incoming_fail(inc, ret);
		return;
	}
	CORE_SYNC_POINT(DST_SHUT_SENT);
	if (!mig_incoming_set_state(inc, MIG_INCOMING_ACTIVE, MIG_INCOMING_COMPLETED)) {
		fprintf(stderr, "mig_incoming: completing from state %s\n",
			mig_incoming_state_name(mig_incoming_get_state(inc)));
		abort();
	}
	vm_start(inc->vm);
}

/* An error ended the load: failed, tell the source if we can, no guest. */
static void mig_incoming_fail(struct mig_incoming *inc, int err)
{
	enum mig_incoming_state from = MIG_INCOMING_ACTIVE;

	mig_incoming_set_error(inc, err);
	if (inc->postcopy) {
		/* the guest runs here with what it has: no vCPU may wait any more */
		mig_incoming_postcopy_end(inc);
		enum mig_incoming_state cur = mig_incoming_get_state(inc);
		if (cur != MIG_INCOMING_ACTIVE)
			from = cur;	/* postcopy-active, -paused or -recover */
	}
	if (!mig_incoming_set_state(inc, from, MIG_INCOMING_FAILED)) {
		fprintf(stderr, "mig_incoming: failing from state %s\n",
			mig_incoming_state_name(mig_incoming_get_state(inc)));
		abort();
	}
	CORE_SYNC_POINT(DST_FAILED);
	/* the first error, e.g. -ECANCELED rather than the -EIO it caused */
	mig_incoming_rp_send32(inc, RP_SHUT, (uint32_t)-mig_incoming_get_error(inc));
}

static void *mig_incoming_thread(void *opaque)
{
	struct mig_incoming *inc = opaque;
	int ret = mig_incoming_postcopy_drain(inc, mig_incoming_load(inc));

	/* postcopy: a failed stream pauses, and a recovered one goes on */
	while (ret < 0 && mig_incoming_may_pause(inc)) {
		ret = mig_incoming_postcopy_pause(inc);
		if (ret == 0)
			ret = mig_incoming_postcopy_drain(inc, mig_incoming_load(inc));
	}
	/* every multifd page is loaded (the last sync came before SEC_EOF) */
	mig_incoming_multifd_end(inc);
	if (ret == 0)
		mig_incoming_complete(inc);
	else
		mig_incoming_fail(inc, ret);
	return NULL;
}

/* A failure of start: record it; the state goes failed. Returns err. */
static int mig_incoming_start_failed(struct mig_incoming *inc, int err)
{
	mig_incoming_set_error(inc, err);
	mig_incoming_set_state(inc, MIG_INCOMING_ACTIVE, MIG_INCOMING_FAILED);
	return err;
}

int mig_incoming_start(struct mig_incoming *inc, struct channel *ch)
{
	QEMUFile *from, *to;
	bool cancelled;
	int ret;

	if (!ch)
		return -EINVAL;
	if (!mig_incoming_set_state(inc, MIG_INCOMING_NONE, MIG_INCOMING_ACTIVE))
		return -EBUSY;

	channel_ref(ch);
	from = qemu_file_new_input(ch);
	to = from ? qemu_file_get_return_path(from) : NULL;
	/* published at once, so that cleanup releases them whatever happens next */
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->channel = ch;
		inc->from_src_file = from;
		inc->to_src_file = to;
		cancelled = inc->cancelled;
	}
	if (!from || !to)
		return mig_incoming_start_failed(inc, -ENOMEM);
	if (cancelled)
		return mig_incoming_start_failed(inc, -ECANCELED);

	yank_register_instance(MIG_INCOMING_YANK_INSTANCE);
	inc->yank_instance = true;
	yank_register_function(MIG_INCOMING_YANK_INSTANCE, yank_channel, ch);
	inc->yank_function = true;

	ret = qemu_thread_try_create(&inc->thread, MIG_INCOMING_THREAD_NAME,
				     mig_incoming_thread, inc, QEMU_THREAD_JOINABLE);
	if (ret < 0)
		return mig_incoming_start_failed(inc, ret);
	inc->thread_created = true;
	return 0;
}

int mig_incoming_wait(struct mig_incoming *inc)
{
	int err;

	if (inc->thread_created) {
		qemu_thread_join(&inc->thread);
		inc->thread_created = false;
	}
	if (mig_incoming_get_state(inc) == MIG_INCOMING_COMPLETED)
		return 0;
	err = mig_incoming_get_error(inc);
	return err < 0 ? err : -EINVAL;
}

/*
 * Cancel, from any thread. The shutdown is done under file_lock so that
 * cleanup cannot drop the channel meanwhile; it never blocks.
 *
 *   canceller                           load thread
 *   set_error(-ECANCELED)
 *                                       blocked in channel_read
 *   lock file_lock
 *   channel_shutdown(BOTH)   ------->   read returns EOF: -EIO; fails with
 *   unlock file_lock                    the first error, -ECANCELED
 */
void mig_incoming_cancel(struct mig_incoming *inc)
{
	if (mig_incoming_get_state(inc) != MIG_INCOMING_COMPLETED)
		mig_incoming_set_error(inc, -ECANCELED);
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		inc->cancelled = true;
		if (inc->channel)
			channel_shutdown(inc->channel, CHANNEL_SHUTDOWN_BOTH);
		if (inc->pc_channel)
			channel_shutdown(inc->pc_channel, CHANNEL_SHUTDOWN_BOTH);
		qemu_cond_broadcast(&inc->recover_cond);	/* a paused postcopy gives up */
		multifd_recv_shutdown(inc->multifd);
	}
}

void mig_incoming_set_listener(struct mig_incoming *inc, struct channel_listener *l)
{
	inc->listener = l;
}

void mig_incoming_cleanup(struct mig_incoming *inc)
{
	struct channel *ch;
	QEMUFile *from, *to;

	if (inc->thread_created) {
		fprintf(stderr, "mig_incoming_cleanup: the load thread was not joined "
			"(call mig_incoming_wait first)\n");
		abort();
	}
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		ch = inc->channel;
		from = inc->from_src_file;
		to = inc->to_src_file;
		inc->channel = NULL;
		inc->from_src_file = NULL;
		inc->to_src_file = NULL;
	}
	/* no yank may reach the channel once our reference is gone */
	if (inc->yank_function) {
		yank_unregister_function(MIG_INCOMING_YANK_INSTANCE, yank_channel, ch);
		inc->yank_function = false;
	}
	if (inc->yank_instance) {
		yank_unregister_instance(MIG_INCOMING_YANK_INSTANCE);
		inc->yank_instance = false;
	}
	if (to)
		qemu_fclose(to);
	if (from)
		qemu_fclose(from);
	if (ch)
		channel_unref(ch);
	WITH_QEMU_LOCK_GUARD(&inc->file_lock) {
		from = inc->pc_file;
		ch = inc->pc_channel;
		inc->pc_file = NULL;
		inc->pc_channel = NULL;
	}
	if (from)
		qemu_fclose(from);
	if (ch)
		channel_unref(ch);
	if (inc->recover_ch)
		channel_unref(inc->recover_ch);
	inc->recover_ch = NULL;
	/* inc->postcopy belongs to the guest's RAM: its vCPUs may still run */
	qemu_cond_destroy(&inc->recover_cond);
	qemu_mutex_destroy(&inc->file_lock);
	qemu_mutex_destroy(&inc->error_mutex);
	qemu_mutex_destroy(&inc->rp_mutex);
}
