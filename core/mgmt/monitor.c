/*
 * The monitor client (see monitor.h): the command side (send and wait, one
 * message in flight) and the event thread (read lines, complete replies,
 * dispatch events with the lock dropped, fail everything at EOF).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harness_points.h"
#include "invariants.h"
#include "monitor.h"

struct mgmt_monitor {
	QemuMutex lock;			/* rank monitor: the fields marked "lock" */
	atomic_int refs;		/* any thread */
	atomic_int inv_transit;		/* invariants: threads inside Enter..Exit */
	QemuCond notify;		/* broadcast when the message in flight completes */
	struct channel *ch;		/* immutable; one reference */
	char name[64];			/* immutable */
	struct mgmt_monitor_cb cb;	/* immutable */
	void *opaque;			/* immutable */
	QemuThread thread;		/* joined by mgmt_monitor_reap() once the monitor is freed */

	bool busy;			/* lock: a message is in flight */
	bool done;			/* lock: ... and its reply (or failure) arrived */
	uint64_t msg_id;		/* lock: its id */
	int msg_ret;			/* lock: 0, -EIO (error reply) or -ECONNRESET */
	struct mon_msg *msg_reply;	/* lock: where its reply goes (the sender's) */
	uint64_t next_id;		/* lock */
	bool eof;			/* lock: the event thread saw EOF or an error */
	bool closed;			/* lock: mgmt_monitor_close() was called */
	bool unregistered;		/* lock: no more callbacks */
	char last_error[128];		/* lock: why it ended */
};

static void *mon_event_thread(void *arg);

/*
 * Event threads whose monitor was closed or freed (so they end), to be
 * joined by mgmt_monitor_reap().
 * The event thread may drop the last reference itself, and the last
 * reference may go under a domain lock (process stop): joining there would
 * block under the lock (libvirt's StopWorker deadlock), so nobody joins in
 * the finalizer. A leaf lock, never held across anything else.
 */
struct zombie {
	QemuThread thread;
	struct zombie *next;
};
static pthread_mutex_t zombie_lock = PTHREAD_MUTEX_INITIALIZER;
static struct zombie *zombies;		/* zombie_lock */

static int mon_start_thread(struct mgmt_monitor *mon)
{
	CORE_FAULT(MGMT_THREAD_CREATE, -EAGAIN);
	return qemu_thread_try_create(&mon->thread, "mon-event", mon_event_thread, mon,
				      QEMU_THREAD_JOINABLE);
}

static void mon_bury(const QemuThread *thread)
{
	struct zombie *z = malloc(sizeof(*z));

	if (!z) {
		fprintf(stderr, "mgmt: out of memory burying a monitor thread\n");
		abort();
	}
	z->thread = *thread;
	pthread_mutex_lock(&zombie_lock);
	z->next = zombies;
	zombies = z;
	pthread_mutex_unlock(&zombie_lock);
}

void mgmt_monitor_reap(void)
{
	struct zombie *z;

	MGMT_INV(mgmt_inv_blocking("joining monitor event threads", NULL, __FILE__, __LINE__));
	pthread_mutex_lock(&zombie_lock);
	z = zombies;
	zombies = NULL;
	pthread_mutex_unlock(&zombie_lock);
	while (z) {
		struct zombie *next = z->next;

		qemu_thread_join(&z->thread);
		free(z);
		z = next;
	}
}

struct mgmt_monitor *mgmt_monitor_open(struct channel *ch, const char *name,
				       const struct mgmt_monitor_cb *cb, void *opaque)
{
	struct mgmt_monitor *mon = calloc(1, sizeof(*mon));
	int err;

	if (!mon) {
		mgmt_error(-ENOMEM, "out of memory");
		return NULL;
	}
	qemu_mutex_init(&mon->lock);
	qemu_cond_init(&mon->notify);
	atomic_init(&mon->refs, 2);	/* the caller's and the event thread's */
	atomic_init(&mon->inv_transit, 0);
	channel_ref(ch);
	mon->ch = ch;
	snprintf(mon->name, sizeof(mon->name), "%s", name);
	if (cb)
		mon->cb = *cb;
	mon->opaque = opaque;
	err = mon_start_thread(mon);
	if (err) {
		channel_unref(ch);
		qemu_cond_destroy(&mon->notify);
		qemu_mutex_destroy(&mon->lock);
		free(mon);
		mgmt_error(err, "cannot start the monitor event thread: %s", strerror(-err));
		return NULL;
	}
	return mon;
}

void mgmt_monitor_lock(struct mgmt_monitor *mon)
{
	MGMT_INV(mgmt_inv_before_lock(MGMT_RANK_MONITOR, mon, __FILE__, __LINE__));
	qemu_mutex_lock(&mon->lock);
	MGMT_INV(mgmt_inv_locked(MGMT_RANK_MONITOR, mon));
}

void mgmt_monitor_unlock(struct mgmt_monitor *mon)
{
	MGMT_INV(mgmt_inv_unlocked(mon));
	qemu_mutex_unlock(&mon->lock);
}

void mgmt_monitor_ref(struct mgmt_monitor *mon)
{
	if (atomic_fetch_add(&mon->refs, 1) <= 0) {
		fprintf(stderr, "mgmt: reference taken on a dead monitor %s\n", mon->name);
		abort();
	}
}

void mgmt_monitor_unref(struct mgmt_monitor *mon)
{
	int old = atomic_fetch_sub(&mon->refs, 1);

	if (old > 1)
		return;
	if (old < 1) {
		fprintf(stderr, "mgmt: monitor %s unreferenced more than referenced\n", mon->name);
		abort();
	}
	MGMT_INV(mgmt_inv_ref_zero(&mon->inv_transit, "monitor", __FILE__, __LINE__));
	if (!mon->closed)	/* close buried it already */
		mon_bury(&mon->thread);	/* it dropped its reference: it is ending */
	if (mon->cb.release)
		mon->cb.release(mon->opaque);
	channel_unref(mon->ch);
	qemu_cond_destroy(&mon->notify);
	qemu_mutex_destroy(&mon->lock);
	free(mon);
}

int mgmt_monitor_ref_count(struct mgmt_monitor *mon)
{
	return atomic_load(&mon->refs);
}

atomic_int *mgmt_monitor_transit(struct mgmt_monitor *mon)
{
	return &mon->inv_transit;
}

bool mgmt_monitor_eof_locked(const struct mgmt_monitor *mon)
{
	return mon->eof;
}

const char *mgmt_monitor_last_error_locked(const struct mgmt_monitor *mon)
{
	return mon->last_error;
}

/* Complete the message in flight with ret and wake its sender. Lock held. */
static void mon_complete_locked(struct mgmt_monitor *mon, int ret)
{
	if (mon->busy && !mon->done) {
		mon->msg_ret = ret;
		mon->done = true;
		qemu_cond_broadcast(&mon->notify);
	}
}

static int mon_write(struct mgmt_monitor *mon, const char *line, size_t len)
{
	CORE_FAULT(MGMT_MONITOR_WRITE, -EIO);
	return channel_write_all(mon->ch, line, len);
}

int mgmt_monitor_send_locked(struct mgmt_monitor *mon, struct mon_msg *cmd, struct mon_msg *reply)
{
	struct mon_msg local;
	char line[MON_LINE_MAX];
	int len, ret;

	if (mon->eof || mon->closed)	/* cc2424fc6: never wait for a dead QEMU */
		return mgmt_error(-ECONNRESET, "domain is no longer running (%s)",
				  mon->last_error[0] ? mon->last_error : "monitor closed");
	if (mon->busy)
		return mgmt_error(-EBUSY, "monitor %s: another command is in flight", mon->name);
	MGMT_INV(mgmt_inv_blocking("monitor command", NULL, __FILE__, __LINE__));
	cmd->kind = MON_CMD;
	cmd->id = ++mon->next_id;
	len = mon_msg_format(cmd, line, sizeof(line));
	if (len < 0)
		return mgmt_error(len, "monitor command %s does not fit a line", cmd->name);
	mon->busy = true;
	mon->done = false;
	mon->msg_id = cmd->id;
	mon->msg_reply = reply ? reply : &local;
	CORE_SYNC_POINT(MGMT_MON_SEND_BEFORE_WRITE);
	ret = mon_write(mon, line, (size_t)len);
	if (ret < 0) {
		snprintf(mon->last_error, sizeof(mon->last_error), "cannot write to monitor: %s",
			 strerror(-ret));
		mon_complete_locked(mon, -ECONNRESET);
	}
	while (!mon->done)
		qemu_cond_wait(&mon->notify, &mon->lock);
	CORE_SYNC_POINT(MGMT_MON_SEND_AFTER_WAIT);
	ret = mon->msg_ret;
	mon->busy = false;
	mon->msg_reply = NULL;
	if (ret == -ECONNRESET)
		return mgmt_error(ret, "domain is no longer running (%s)", mon->last_error);
	if (ret == -EIO) {
		const char *desc = mon_msg_get(reply ? reply : &local, "desc");

		return mgmt_error(ret, "monitor command %s failed: %s", cmd->name, desc ? desc : "?");
	}
	return 0;
}

void mgmt_monitor_unregister_locked(struct mgmt_monitor *mon)
{
	mon->unregistered = true;
}

void mgmt_monitor_close(struct mgmt_monitor *mon)
{
	mgmt_monitor_lock(mon);
	if (!mon->closed) {
		mon->closed = true;
		if (!mon->last_error[0])
			snprintf(mon->last_error, sizeof(mon->last_error), "monitor closed");
		mon_complete_locked(mon, -ECONNRESET);
		channel_shutdown(mon->ch, CHANNEL_SHUTDOWN_BOTH);
		mon_bury(&mon->thread);	/* it ends now: its read sees the shutdown */
	}
	mgmt_monitor_unlock(mon);
}

/* QEMU_MONITOR_CALLBACK: ref, unlock, call, lock, unref. Lock held. */
static void mon_dispatch_locked(struct mgmt_monitor *mon, const struct mon_msg *evt)
{
	if (mon->unregistered || mon->closed)
		return;
	mgmt_monitor_ref(mon);
	mgmt_monitor_unlock(mon);
	CORE_SYNC_POINT(MGMT_EVT_BEFORE_CALLBACK);
	if (!evt && mon->cb.eof)
		mon->cb.eof(mon, mon->opaque);
	else if (evt && mon->cb.event)
		mon->cb.event(mon, evt, mon->opaque);
	CORE_SYNC_POINT(MGMT_EVT_AFTER_CALLBACK);
	mgmt_monitor_lock(mon);
	mgmt_monitor_unref(mon);	/* never the last: the event thread holds one */
}

/* One line from QEMU: a reply or an event. A bad line is dropped. */
static void mon_handle_line(struct mgmt_monitor *mon, const char *line, size_t len)
{
	struct mon_msg m;

	CORE_SYNC_POINT(MGMT_EVT_GOT_LINE);
	if (mon_msg_parse(line, len, &m, NULL) < 0)
		return;
	mgmt_monitor_lock(mon);
	switch (m.kind) {
	case MON_RET:
	case MON_ERR:
		if (mon->busy && !mon->done && m.id == mon->msg_id) {
			*mon->msg_reply = m;
			mon_complete_locked(mon, m.kind == MON_RET ? 0 : -EIO);
		}
		break;
	case MON_EVT:
		mon_dispatch_locked(mon, &m);
		break;
	case MON_CMD:
		break;	/* QEMU does not send commands */
	}
	mgmt_monitor_unlock(mon);
}

static ssize_t mon_read(struct mgmt_monitor *mon, char *buf, size_t len)
{
	CORE_FAULT(MGMT_MONITOR_READ, -EIO);
	return channel_read(mon->ch, buf, len);
}

static void *mon_event_thread(void *arg)
{
	struct mgmt_monitor *mon = arg;
	char buf[MON_LINE_MAX];
	size_t have = 0;
	ssize_t n;

	for (;;) {
		char *nl;

		n = mon_read(mon, buf + have, sizeof(buf) - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		while ((nl = memchr(buf, '\n', have))) {
			size_t linelen = (size_t)(nl - buf) + 1;

			mon_handle_line(mon, buf, linelen);
			memmove(buf, buf + linelen, have - linelen);
			have -= linelen;
		}
		if (have == sizeof(buf)) {
			n = -EPROTO;	/* a line longer than MON_LINE_MAX */
			break;
		}
	}
	CORE_SYNC_POINT(MGMT_EVT_GOT_EOF);
	mgmt_monitor_lock(mon);
	mon->eof = true;
	if (!mon->last_error[0])
		snprintf(mon->last_error, sizeof(mon->last_error), "%s",
			 n == 0 ? "End of file from qemu monitor" : strerror((int)-n));
	mon_complete_locked(mon, -ECONNRESET);
	mon_dispatch_locked(mon, NULL);
	mgmt_monitor_unlock(mon);
	CORE_SYNC_POINT(MGMT_EVT_EXIT);
	mgmt_monitor_unref(mon);	/* the event thread's */
	return NULL;
}
