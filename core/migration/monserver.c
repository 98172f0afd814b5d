/*
 * The monitor server: one thread reads command lines and answers them, the
 * commands run under the BQL like QEMU's main-thread dispatch, and events
 * come from whichever thread changes the guest's or the migration's state.
 * A destination has one more thread, which accepts and loads the stream.
 */
#include "monserver.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incoming.h"
#include "main_loop.h"
#include "migration.h"
#include "monproto.h"
#include "thread.h"

/*
 * Threads: the owner (start, free), the server thread "mon/server" (reads
 * and runs the commands), the incoming thread "mon/incoming" (destination:
 * accept, load, report), and any thread that stops or starts the guest or
 * changes the migration's state (they emit events).
 *
 * Locks: wlock is a leaf, taken under the BQL, the vm's change_lock or the
 * migration's notifier mutex, never held across anything but one write.
 * lock is short and never held across a blocking call.
 */
struct monserver {
	struct monserver_config cfg;		/* immutable */
	struct channel *ch;			/* one reference from start to free */

	QemuMutex wlock;			/* serializes writes on ch */
	bool closed;				/* wlock: ch closed by quit; later events are dropped */

	QemuMutex lock;				/* protects the fields marked "lock" */
	bool finished;				/* lock: the server thread stopped serving */
	bool quit;				/* lock: ... because of quit */
	bool inc_done;				/* lock: the incoming thread reported its end */
	int inc_error;				/* lock: its result, 0 completed */
	struct channel_listener *listener;	/* lock: migrate-incoming's, set before the
						 * incoming thread exists, which reads it
						 * without the lock; closed by its joiner */

	struct vm_notifier *vm_notifier;	/* owner: set by start, removed by free */
	bool mig_notifier;			/* owner: registered by start */

	struct mig_incoming inc;		/* destination: init by start (owner), start and
						 * wait by the incoming thread, cleanup by free */
	bool inc_inited;			/* owner: mig_incoming_init done */
	bool inc_requested;			/* server thread: migrate-incoming came */
	QemuThread inc_thread;			/* the server thread creates it; its joiner is the
						 * server thread (quit) or the owner after joining
						 * the server thread (free) */
	bool inc_thread_created;		/* as inc_thread */
	struct channel_listener *rec_listener;	/* lock: migrate-recover's; the recover
						 * thread accepts on it, the postcopy
						 * channel comes on it; closed by the
						 * joiner of both threads */
	QemuThread rec_thread;			/* "mon/recover": accepts the source's new
						 * channel, hands it to the load thread;
						 * created by the server thread, joined as
						 * inc_thread */
	bool rec_thread_created;		/* as rec_thread */
	unsigned ndevices;			/* BQL: device_add's count */

	QemuThread thread;			/* owner */
	bool thread_created;			/* owner */

	char rbuf[MON_LINE_MAX];		/* server thread: bytes read, not yet a line */
	size_t rlen;				/* server thread */
	bool rskip;				/* server thread: dropping an overlong line */
};

/* ---- output --------------------------------------------------------------- */

/* One message, whole, unless quit closed the channel. A failed write means
 * the client went away: the server thread sees EOF. Any thread. */
static void monserver_send(struct monserver *srv, const struct mon_msg *m)
{
	char line[MON_LINE_MAX];
	int n = mon_msg_format(m, line, sizeof(line));

	if (n < 0)
		return;
	WITH_QEMU_LOCK_GUARD(&srv->wlock) {
		if (!srv->closed)
			channel_write_all(srv->ch, line, (size_t)n);
	}
}

/* An event with at most one field (key NULL: none). Any thread. */
static void monserver_event(struct monserver *srv, const char *name, const char *key, const char *val)
{
	struct mon_msg m;

	mon_msg_evt(&m, name);
	if (key)
		mon_msg_set(&m, key, "%s", val);
	monserver_send(srv, &m);
}

/* vm notifier: under the vm's change_lock, in the thread that started or
 * stopped the guest. */
static void monserver_vm_changed(void *opaque, bool running, RunState state)
{
	if (running)
		monserver_event(opaque, "RESUME", NULL, NULL);
	else
		monserver_event(opaque, "STOP", "status", runstate_name(state));
}

/* migration notifier: after each state change, in the thread that made it. */
static void monserver_migration_changed(void *opaque, MigrationStatus old, MigrationStatus new_state)
{
	monserver_event(opaque, "MIGRATION", "status", migration_status_name(new_state));
}

/* ---- commands --------------------------------------------------------------- */

/* A command's work: fills reply (a return by default). Returns 1 for quit. */
typedef int (*monserver_cmd_fn)(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply);

static int monserver_fail(struct mon_msg *reply, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Turn reply into a GenericError with a formatted desc. Returns 0. */
static int monserver_fail(struct mon_msg *reply, const char *fmt, ...)
{
	char desc[MON_VAL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(desc, sizeof(desc), fmt, ap);
	va_end(ap);
	mon_msg_err(reply, reply->id, "GenericError", desc);
	return 0;
}

static int cmd_query_status(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	RunState st = runstate_get(srv->cfg.vm);

	mon_msg_set(reply, "status", "%s", runstate_name(st));
	mon_msg_set(reply, "running", "%s", st == RUN_STATE_RUNNING ? "true" : "false");
	return 0;
}

static int cmd_stop(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	RunState st = runstate_get(srv->cfg.vm);

	if (st == RUN_STATE_INMIGRATE)
		return monserver_fail(reply, "the guest waits for an incoming migration");
	if (st == RUN_STATE_RUNNING)
		vm_stop(srv->cfg.vm, RUN_STATE_PAUSED);
	return 0;
}

static int cmd_cont(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	RunState st = runstate_get(srv->cfg.vm);

	if (st == RUN_STATE_INMIGRATE || st == RUN_STATE_FINISH_MIGRATE || st == RUN_STATE_SHUTDOWN)
		return monserver_fail(reply, "cannot continue a guest in state %s", runstate_name(st));
	if (st != RUN_STATE_RUNNING)
		vm_start(srv->cfg.vm);
	return 0;
}

/* An optional number argument: 0 (absent: *v unchanged), or -EINVAL. */
static int monserver_arg_u64(const struct mon_msg *cmd, const char *key, uint64_t max, uint64_t *v)
{
	const char *s = mon_msg_get(cmd, key);
	char *end;

	if (!s)
		return 0;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (!*s || *s == '-' || *end || errno || x > max)
		return -EINVAL;
	*v = x;
	return 0;
}

static int cmd_migrate(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	struct mig_params p = { .downtime_limit_ms = 300 };
	const char *uri = mon_msg_get(cmd, "uri"), *rp = mon_msg_get(cmd, "return-path");
	const char *pc = mon_msg_get(cmd, "postcopy"), *resume = mon_msg_get(cmd, "resume");
	uint64_t multifd = 0;

	if (srv->cfg.incoming)
		return monserver_fail(reply, "this guest is a migration destination");
	if (!uri)
		return monserver_fail(reply, "Parameter 'uri' is missing");
	if (monserver_arg_u64(cmd, "multifd-channels", MULTIFD_MAX_CHANNELS, &multifd) ||
	    monserver_arg_u64(cmd, "max-bandwidth", UINT64_MAX, &p.max_bandwidth) ||
	    monserver_arg_u64(cmd, "downtime-limit", UINT64_MAX, &p.downtime_limit_ms) ||
	    (rp && strcmp(rp, "true") && strcmp(rp, "false")) || (pc && strcmp(pc, "true") && strcmp(pc, "false")) ||
	    (resume && strcmp(resume, "true") && strcmp(resume, "false")))
		return monserver_fail(reply, "Invalid parameter value");
	p.multifd_channels = (int)multifd;
	p.return_path = rp && strcmp(rp, "true") == 0;
	p.postcopy = pc && strcmp(pc, "true") == 0;
	p.resume = resume && strcmp(resume, "true") == 0;
	int ret = qmp_migrate(uri, &p);
	if (ret)
		return monserver_fail(reply, "migrate to %s: %s", uri, strerror(-ret));
	return 0;
}

/* Destination: make accept and the load end (never blocks). */
static void monserver_incoming_cancel(struct monserver *srv)
{
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		if (srv->listener)
			channel_listener_shutdown(srv->listener);
		if (srv->rec_listener)
			channel_listener_shutdown(srv->rec_listener);
	}
	mig_incoming_cancel(&srv->inc);
}

/* Destination: cancel, join the incoming thread, close the listener. The
 * server thread, or the owner once the server thread is joined. */
static void monserver_incoming_stop(struct monserver *srv)
{
	struct channel_listener *l;

	if (!srv->inc_inited)
		return;
	monserver_incoming_cancel(srv);
	if (srv->inc_thread_created) {
		qemu_thread_join(&srv->inc_thread);
		srv->inc_thread_created = false;
	}
	if (srv->rec_thread_created) {
		qemu_thread_join(&srv->rec_thread);
		srv->rec_thread_created = false;
	}
	struct channel_listener *rl;
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		l = srv->listener;
		rl = srv->rec_listener;
		srv->listener = NULL;
		srv->rec_listener = NULL;
	}
	if (l)
		channel_listener_close(l);
	if (rl)
		channel_listener_close(rl);
}

static int cmd_migrate_cancel(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	if (srv->cfg.incoming) {
		monserver_incoming_cancel(srv);
		return 0;
	}
	int ret = qmp_migrate_cancel();
	if (ret == -EBUSY)
		return monserver_fail(reply, "the migration is completing: too late to cancel");
	if (ret && ret != -EINVAL)
		return monserver_fail(reply, "migrate_cancel: %s", strerror(-ret));
	return 0;
}

static int cmd_query_migrate(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	struct mig_info info;

	if (srv->cfg.incoming) {
		const char *status = mig_incoming_state_name(mig_incoming_get_state(&srv->inc));

		WITH_QEMU_LOCK_GUARD(&srv->lock) {
			if (srv->inc_done)
				status = srv->inc_error ? "failed" : "completed";
		}
		mon_msg_set(reply, "status", "%s", status);
		mon_msg_set(reply, "pages-loaded", "%" PRIu64, mig_incoming_pages_loaded(&srv->inc));
		mon_msg_set(reply, "bytes-loaded", "%" PRIu64, mig_incoming_bytes_loaded(&srv->inc));
		return 0;
	}
	int ret = qmp_query_migrate(&info);
	if (ret)
		return monserver_fail(reply, "query-migrate: %s", strerror(-ret));
	mon_msg_set(reply, "status", "%s", migration_status_name(info.status));
	mon_msg_set(reply, "iterations", "%" PRIu64, info.iterations);
	mon_msg_set(reply, "pages-sent", "%" PRIu64, info.pages_sent);
	mon_msg_set(reply, "bytes-sent", "%" PRIu64, info.bytes_sent);
	mon_msg_set(reply, "dirty-pages", "%" PRIu64, info.dirty_pages);
	if (info.page_requests || info.postcopy_pauses) {
		mon_msg_set(reply, "page-requests", "%" PRIu64, info.page_requests);
		mon_msg_set(reply, "postcopy-pauses", "%" PRIu64, info.postcopy_pauses);
	}
	if (info.error && info.error_desc[0])
		mon_msg_set(reply, "error-desc", "%s", info.error_desc);
	return 0;
}

/* The incoming thread: accept the stream, load it, report its end. */
static void *monserver_incoming_thread(void *opaque)
{
	struct monserver *srv = opaque;
	struct channel *ch;
	int ret = channel_accept(srv->listener, &ch);

	if (ret == 0) {
		mig_incoming_set_listener(&srv->inc, srv->listener);	/* multifd channels */
		ret = mig_incoming_start(&srv->inc, ch);
		channel_unref(ch);
		if (ret == 0)
			monserver_event(srv, "MIGRATION", "status", "active");
		ret = mig_incoming_wait(&srv->inc);
	}
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		srv->inc_done = true;
		srv->inc_error = ret;
	}
	monserver_event(srv, "MIGRATION", "status", ret ? "failed" : "completed");
	return NULL;
}

static int cmd_migrate_incoming(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	const char *uri = mon_msg_get(cmd, "uri");
	struct channel_listener *l;
	int ret;

	if (!srv->cfg.incoming)
		return monserver_fail(reply, "this guest was not started as a migration destination");
	if (srv->inc_requested)
		return monserver_fail(reply, "an incoming migration was already started");
	if (!uri)
		uri = srv->cfg.incoming_uri;
	if (!uri)
		return monserver_fail(reply, "Parameter 'uri' is missing");
	ret = channel_listen(uri, &l);
	if (ret)
		return monserver_fail(reply, "listen on %s: %s", uri, strerror(-ret));
	srv->inc_requested = true;
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		srv->listener = l;
	}
	ret = qemu_thread_try_create(&srv->inc_thread, "mon/incoming", monserver_incoming_thread, srv,
				     QEMU_THREAD_JOINABLE);
	if (ret) {
		monserver_incoming_stop(srv);
		return monserver_fail(reply, "migrate-incoming: %s", strerror(-ret));
	}
	srv->inc_thread_created = true;
	mon_msg_set(reply, "uri", "%s", uri);      /* where the source must connect */
	return 0;
}

/* migrate-start-postcopy (source): switch at the next page. */
static int cmd_migrate_start_postcopy(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	if (srv->cfg.incoming)
		return monserver_fail(reply, "this guest is a migration destination");
	if (qmp_migrate_start_postcopy())
		return monserver_fail(reply, "no migration with postcopy=true in setup or active");
	return 0;
}

/* migrate-pause: in postcopy-active, break the stream's channel (either
 * side), as QEMU's out-of-band command does: both sides pause. */
static int cmd_migrate_pause(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	int ret = srv->cfg.incoming ? mig_incoming_pause(&srv->inc) : qmp_migrate_pause();

	if (ret)
		return monserver_fail(reply, "migrate-pause: not in postcopy-active");
	return 0;
}

/* The recover thread: one channel from the source, handed to the paused
 * load thread (which takes the postcopy channel from the same listener). */
static void *monserver_recover_thread(void *opaque)
{
	struct monserver *srv = opaque;
	struct channel *ch;

	if (channel_accept(srv->rec_listener, &ch) == 0) {
		if (mig_incoming_recover(&srv->inc, ch, srv->rec_listener))
			monserver_event(srv, "MIGRATION", "status", "postcopy-recover-refused");
		channel_unref(ch);
	}
	return NULL;
}

/* migrate-recover uri=URI (destination, postcopy-paused): listen on URI for
 * the source's `migrate uri=URI resume=true`. */
static int cmd_migrate_recover(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	const char *uri = mon_msg_get(cmd, "uri");
	struct channel_listener *l;

	if (!srv->cfg.incoming)
		return monserver_fail(reply, "this guest is not a migration destination");
	if (!uri)
		return monserver_fail(reply, "Parameter 'uri' is missing");
	if (mig_incoming_get_state(&srv->inc) != MIG_INCOMING_POSTCOPY_PAUSED)
		return monserver_fail(reply, "migrate-recover: the incoming migration is not postcopy-paused");
	if (srv->rec_thread_created)
		return monserver_fail(reply, "migrate-recover: a recovery was already asked for");
	int ret = channel_listen(uri, &l);
	if (ret)
		return monserver_fail(reply, "listen on %s: %s", uri, strerror(-ret));
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		srv->rec_listener = l;
	}
	ret = qemu_thread_try_create(&srv->rec_thread, "mon/recover", monserver_recover_thread, srv,
				     QEMU_THREAD_JOINABLE);
	if (ret) {
		WITH_QEMU_LOCK_GUARD(&srv->lock) {
			srv->rec_listener = NULL;
		}
		channel_listener_close(l);
		return monserver_fail(reply, "migrate-recover: %s", strerror(-ret));
	}
	srv->rec_thread_created = true;
	mon_msg_set(reply, "uri", "%s", uri);
	return 0;
}

/* The handshake a client opens with: nothing to negotiate here. */
static int cmd_qmp_capabilities(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	return 0;
}

/* device_add id=ID: a named device with no hardware behind it (the
 * management layer's stand-in for a change of the guest's configuration);
 * counted, refused without an id. */
static int cmd_device_add(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	if (!mon_msg_get(cmd, "id"))
		return monserver_fail(reply, "Parameter 'id' is missing");
	mon_msg_set(reply, "devices", "%u", ++srv->ndevices);
	return 0;
}

static int cmd_quit(struct monserver *srv, const struct mon_msg *cmd, struct mon_msg *reply)
{
	return 1;
}

/*
 * After quit's reply (server thread, no lock held): nothing migrates any
 * more, the guest stops, SHUTDOWN, then EOF for the client. A source
 * migration that cannot be cancelled (the last pass) or is cancelling still
 * decides the guest's runstate: the guest is left to it.
 */
static void monserver_quit(struct monserver *srv)
{
	/* before the EOF: a client that saw it finds quit_requested true */
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		srv->quit = true;
	}
	monserver_incoming_stop(srv);
	bql_lock();
	if (!srv->cfg.incoming && migration_is_running())
		qmp_migrate_cancel();
	if (srv->cfg.incoming || !migration_is_running())
		vm_stop(srv->cfg.vm, RUN_STATE_SHUTDOWN);
	bql_unlock();
	monserver_event(srv, "SHUTDOWN", NULL, NULL);
	WITH_QEMU_LOCK_GUARD(&srv->wlock) {
		srv->closed = true;
		channel_close(srv->ch);
	}
}

static const struct {
	const char *name;
	monserver_cmd_fn fn;
	bool bql;		/* runs with the BQL held */
} monserver_cmds[] = {
	{ "query-status", cmd_query_status, true },
	{ "stop", cmd_stop, true },
	{ "cont", cmd_cont, true },
	{ "migrate", cmd_migrate, true },
	{ "migrate_cancel", cmd_migrate_cancel, true },
	{ "query-migrate", cmd_query_migrate, true },
	{ "migrate-incoming", cmd_migrate_incoming, true },
	{ "migrate-start-postcopy", cmd_migrate_start_postcopy, true },
	{ "migrate-pause", cmd_migrate_pause, false },
	{ "migrate-recover", cmd_migrate_recover, true },
	{ "quit", cmd_quit, false },
	{ "qmp_capabilities", cmd_qmp_capabilities, false },
	{ "device_add", cmd_device_add, true },
};

/* One line from the client: parse, run, reply. Returns 1 after quit. */
static int monserver_dispatch(struct monserver *srv, const char *line, size_t len)
{
	struct mon_msg cmd, reply;
	const char *why = NULL;
	int quit = 0;

	if (mon_msg_parse(line, len, &cmd, &why) || cmd.kind != MON_CMD) {
		mon_msg_err(&reply, why ? 0 : cmd.id, "GenericError", why ? why : "not a command");
		monserver_send(srv, &reply);
		return 0;
	}
	mon_msg_ret(&reply, cmd.id);
	size_t i, n = sizeof(monserver_cmds) / sizeof(monserver_cmds[0]);
	for (i = 0; i < n && strcmp(monserver_cmds[i].name, cmd.name); i++)
		;
	if (i == n) {
		char desc[MON_VAL_MAX];

		snprintf(desc, sizeof(desc), "The command %s has not been found", cmd.name);
		mon_msg_err(&reply, cmd.id, "CommandNotFound", desc);
	} else if (monserver_cmds[i].bql) {
		bql_lock();
		quit = monserver_cmds[i].fn(srv, &cmd, &reply);
		bql_unlock();
	} else {
		quit = monserver_cmds[i].fn(srv, &cmd, &reply);
	}
	monserver_send(srv, &reply);
	if (quit)
		monserver_quit(srv);
	return quit;
}

/* ---- input ------------------------------------------------------------------ */

/*
 * The next line (without its '\n') into line. Returns its length + 1, 0 at
 * EOF, -EMSGSIZE for a line longer than MON_LINE_MAX (dropped up to its
 * end), or the channel's -errno. Server thread.
 */
static ssize_t monserver_read_line(struct monserver *srv, char *line)
{
	for (;;) {
		char *nl = memchr(srv->rbuf, '\n', srv->rlen);

		if (nl) {
			size_t n = (size_t)(nl - srv->rbuf);
			bool skipped = srv->rskip;

			memcpy(line, srv->rbuf, n);
			srv->rlen -= n + 1;
			memmove(srv->rbuf, nl + 1, srv->rlen);
			srv->rskip = false;
			if (skipped)
				return -EMSGSIZE;
			return (ssize_t)n + 1;
		}
		if (srv->rlen == sizeof(srv->rbuf)) {
			srv->rskip = true;		/* keep reading, up to its end */
			srv->rlen = 0;
		}
		ssize_t got = channel_read(srv->ch, srv->rbuf + srv->rlen, sizeof(srv->rbuf) - srv->rlen);
		if (got <= 0)
			return got;
		srv->rlen += (size_t)got;
	}
}

static void *monserver_thread(void *opaque)
{
	struct monserver *srv = opaque;
	char line[MON_LINE_MAX];
	bool quit = false;
	ssize_t n;

	while (!quit && (n = monserver_read_line(srv, line)) != 0) {
		if (n == -EMSGSIZE) {
			struct mon_msg err;

			mon_msg_err(&err, 0, "GenericError", "line too long");
			monserver_send(srv, &err);
			continue;
		}
		if (n < 0)
			break;
		quit = monserver_dispatch(srv, line, (size_t)n - 1) == 1;
	}
	WITH_QEMU_LOCK_GUARD(&srv->lock) {
		srv->finished = true;
	}
	return NULL;
}

/* ---- the API ------------------------------------------------------------------ */

int monserver_start(const struct monserver_config *cfg, struct channel *ch, struct monserver **out)
{
	struct monserver *srv;
	int ret;

	if (!cfg->vm || !cfg->ram || !ch || (cfg->incoming && runstate_get(cfg->vm) != RUN_STATE_INMIGRATE))
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->cfg = *cfg;
	qemu_mutex_init(&srv->wlock);
	qemu_mutex_init(&srv->lock);
	if (cfg->incoming) {
		ret = mig_incoming_init(&srv->inc, cfg->vm, cfg->ram);
		if (ret)
			goto fail;
		srv->inc_inited = true;
	}
	srv->vm_notifier = vm_state_add_notifier(cfg->vm, monserver_vm_changed, srv);
	ret = -ENOMEM;
	if (!srv->vm_notifier)
		goto fail;
	if (!cfg->incoming) {
		ret = migration_add_state_notifier(monserver_migration_changed, srv);
		if (ret)
			goto fail;
		srv->mig_notifier = true;
	}
	channel_ref(ch);
	srv->ch = ch;
	ret = qemu_thread_try_create(&srv->thread, "mon/server", monserver_thread, srv, QEMU_THREAD_JOINABLE);
	if (ret)
		goto fail;
	srv->thread_created = true;
	*out = srv;
	return 0;
fail:
	monserver_free(srv);
	return ret;
}

bool monserver_finished(struct monserver *srv)
{
	QEMU_LOCK_GUARD(&srv->lock);
	return srv->finished;
}

bool monserver_quit_requested(struct monserver *srv)
{
	QEMU_LOCK_GUARD(&srv->lock);
	return srv->quit;
}

void monserver_free(struct monserver *srv)
{
	if (!srv)
		return;
	if (srv->thread_created) {
		channel_shutdown(srv->ch, CHANNEL_SHUTDOWN_READ);	/* wakes its read */
		qemu_thread_join(&srv->thread);
		srv->thread_created = false;
	}
	monserver_incoming_stop(srv);
	if (srv->mig_notifier)
		migration_remove_state_notifier(monserver_migration_changed, srv);
	if (srv->vm_notifier)
		vm_state_remove_notifier(srv->cfg.vm, srv->vm_notifier);
	if (srv->inc_inited) {
		mig_incoming_wait(&srv->inc);
		mig_incoming_cleanup(&srv->inc);
	}
	if (srv->ch) {
		channel_close(srv->ch);
		channel_unref(srv->ch);
	}
	qemu_mutex_destroy(&srv->lock);
	qemu_mutex_destroy(&srv->wlock);
	free(srv);
}
