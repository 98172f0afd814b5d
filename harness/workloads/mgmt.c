/*
 * Workload `mgmt`: the management core's public surface at random, two
 * drivers in one process migrating domains to each other (peer to peer, both
 * ways), each domain's QEMU a fake monitor. Every choice is a migrace_choose.
 *
 * What it drives:
 *   - drivers "a" and "b", each the other's peer through a local remote that
 *     fails at random (-ECONNRESET before or instead of the call: a peer
 *     failure); domains d0 and d1 start on a and may migrate to b, d2 starts
 *     on b and may migrate to a;
 *   - API threads, each calling 1..3 APIs at random on a random domain:
 *     create, destroy, query, modify, abort, migrate (p2p, once per domain),
 *     restart (a new QEMU instance and id; on the domain's home, where
 *     SPARES fresh fake QEMUs wait for the starts after the first: create
 *     after destroy, restart);
 *   - events at random moments: monitor EOF (the fake QEMU killed) and
 *     SHUTDOWN, on any instance of the domain's that is serving (an old one
 *     after a restart: a stale event); a crash answered by a restart at
 *     once (the running instance killed, then restart: its EOF may still
 *     be queued);
 *   - the invariant checker of core/mgmt/invariants.c is on (the core is
 *     built with -DMGMT_INVARIANTS): lock order, jobs, monitor, references.
 *
 * What it checks (MIGRACE_INVARIANT or the core's checker):
 *   - after every API: no domain is active and unpaused outside a
 *     migration job on both drivers (the guest runs in one place at most);
 *   - at the end, once the event workers are flushed: no job and no async
 *     job left on any domain, the guest runs in one place at most, every
 *     thread joined, and (asan) nothing leaked.
 * The fakes' scripts cannot know which commands a random run sends, so their
 * `fake-monitor:unused` and `unexpected` reports are not failures here.
 * Every fake is made and registered before the API threads start, and the
 * table of them never changes afterwards: a restart takes the next one
 * (fmon_qemu's start, under the domain's lock), the events read the table
 * without a lock.
 * MGMT_WORKLOAD_DEBUG=1 prints each API with its error on stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <migrace/migrace.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "invariants.h"
#include "mem_channel.h"
#include "migrate.h"
#include "process.h"
#include "remote_local.h"

#define NDOMS 3
#define THREADS 3
#define SPARES 2                /* more QEMU instances per domain on its home */
#define INSTANCES (1 + SPARES)

struct side {
	struct mgmt_driver drv;
	struct fmon_qemu q;
	struct mgmt_remote local;     /* the local peer to the other side */
	struct mgmt_remote flaky;     /* the same, failing at random */
};

static struct side sides[2];
static const char *const doms[NDOMS] = { "d0", "d1", "d2" };
static const int home[NDOMS] = { 0, 0, 1 };       /* where each domain starts */
static struct fmon *fakes[NDOMS][2][INSTANCES];    /* [domain][side][instance]: set before the
						      threads start, read-only then */
static int ninst[NDOMS][2];                        /* idem: instances made */
static atomic_bool migrated[NDOMS];
/* create and migrate of one domain, one at a time: a create on the home
 * after the domain went to the other driver would be the user's split */
static pthread_mutex_t home_lock[NDOMS] = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_MUTEX_INITIALIZER,
					    PTHREAD_MUTEX_INITIALIZER };

static void tolerate_script(const char *name, const char *file, int line, const char *msg)
{
	if (strcmp(name, "fake-monitor:unused") && strcmp(name, "fake-monitor:unexpected"))
		migrace_invariant_failed(name, file, line, "%s", msg);
}

/* ---- the peer that fails at random ---- */

static int flaky_fail(char *err, size_t errlen)
{
	if (migrace_choose(5))
		return 0;
	snprintf(err, errlen, "workload: the peer connection dropped");
	return -ECONNRESET;
}

static int flaky_prepare(void *opaque, const char *dom, char *uri, size_t urilen, char *err, size_t errlen)
{
	const struct mgmt_remote *r = opaque;
	int ret = flaky_fail(err, errlen);
	return ret ? ret : r->ops->prepare(r->opaque, dom, uri, urilen, err, errlen);
}

/* A connection that drops during Finish: the destination sees it as a failed
 * migration (its daemon's close callback kills the incoming guest), the
 * source gets -ECONNRESET. Not after a successful Finish: that is the
 * protocol's known split (both sides may then resume), not a bug. */
static int flaky_finish(void *opaque, const char *dom, int ret, char *err, size_t errlen)
{
	const struct mgmt_remote *r = opaque;
	int fail = flaky_fail(err, errlen);
	if (!fail)
		return r->ops->finish(r->opaque, dom, ret, err, errlen);
	char ignored[MGMT_ERROR_MAX];
	r->ops->finish(r->opaque, dom, fail, ignored, sizeof(ignored));
	return fail;
}

static int flaky_confirm(void *opaque, const char *dom, int ret, char *err, size_t errlen)
{
	const struct mgmt_remote *r = opaque;
	int fail = flaky_fail(err, errlen);
	return fail ? fail : r->ops->confirm(r->opaque, dom, ret, err, errlen);
}

static const struct mgmt_remote_ops flaky_ops = { flaky_prepare, flaky_finish, flaky_confirm };

/* ---- setup ---- */

/* A QEMU of domain d on side s: as a migration source (its home) or as
 * the incoming destination. Standing answers for the APIs' commands. */
static void setup_fake(int d, int s)
{
	struct fmon *f = fmon_new(s == home[d] ? "src" : "dst");

	if (!f || fmon_qemu_add(&sides[s].q, doms[d], f))
		MIGRACE_INVARIANT("workload-setup", "no fake monitor for %s", doms[d]);
	fmon_expect(f, "qmp_capabilities", NULL, NULL);
	fmon_allow(f, "query-status", "status=running");
	fmon_allow(f, "device_add", NULL);
	fmon_allow(f, "migrate_cancel", NULL);
	if (s == home[d]) {
		fmon_allow(f, "cont", NULL);      /* the source resumes after a failed migration */
		fmon_expect(f, "migrate", NULL, NULL);
		fmon_event(f, "MIGRATION", "status=active");
		fmon_event(f, "MIGRATION", "status=completed");
	} else {
		fmon_expect(f, "migrate-incoming", NULL, "uri=mem:mig");
		fmon_event(f, "MIGRATION", "status=completed");
		fmon_expect(f, "cont", NULL, NULL);
	}
	fakes[d][s][ninst[d][s]++] = f;
}

/* ---- the APIs and events ---- */

/* On the domain's home only, and only until a migration was tried: a
 * second guest of the same name on the other driver would be the user's
 * split, not the core's. */
static void api_create(int d, int s)
{
	(void)s;
	bool persistent = migrace_choose(2);
	pthread_mutex_lock(&home_lock[d]);
	if (!atomic_load(&migrated[d]))
		mgmt_domain_create(&sides[home[d]].drv, doms[d], persistent);
	pthread_mutex_unlock(&home_lock[d]);
}
static void api_destroy(int d, int s) { mgmt_domain_destroy(&sides[s].drv, doms[d]); }
static void api_modify(int d, int s) { mgmt_domain_modify(&sides[s].drv, doms[d]); }
static void api_abort(int d, int s) { mgmt_domain_abort_job(&sides[s].drv, doms[d]); }

static void api_query(int d, int s)
{
	char status[32];
	mgmt_domain_query(&sides[s].drv, doms[d], status, sizeof(status));
}

/* On either driver: where the domain is not running (or the home's
 * instances are used up) it is refused or fails to start. */
static void api_restart(int d, int s) { mgmt_domain_restart(&sides[s].drv, doms[d]); }

static void api_migrate(int d, int s)
{
	(void)s;
	pthread_mutex_lock(&home_lock[d]);
	if (!atomic_exchange(&migrated[d], true))     /* once per domain: the fakes play one migration */
		mgmt_migrate_p2p(&sides[home[d]].drv, doms[d], &sides[home[d]].flaky);
	pthread_mutex_unlock(&home_lock[d]);
}

/* Only a fake that serves a connection gets an event (qmp_capabilities
 * came): any instance of the domain's on that side, the current or an old
 * one. */
static struct fmon *some_instance(int d, int s)
{
	return fakes[d][s][migrace_choose((unsigned)ninst[d][s])];
}

static void ev_eof(int d, int s)
{
	struct fmon *f = some_instance(d, s);
	if (fmon_nreceived(f) > 0)
		fmon_kill(f);
}

/* A crash the user answers with a restart at once (libvirt dd2f36d66e's
 * sequence): the running instance killed, then the domain restarted, while
 * its EOF may still wait for the event worker. */
static void ev_crash_restart(int d, int s)
{
	struct fmon *cur = NULL;

	for (int i = 0; i < ninst[d][s]; i++)    /* the last one started: the running instance */
		if (fmon_nreceived(fakes[d][s][i]) > 0 && !fmon_killed(fakes[d][s][i]))
			cur = fakes[d][s][i];
	if (!cur)
		return;
	fmon_kill(cur);
	mgmt_domain_restart(&sides[s].drv, doms[d]);
}

static void ev_shutdown(int d, int s)
{
	struct fmon *f = some_instance(d, s);
	if (fmon_nreceived(f) > 0)
		fmon_send_event(f, "SHUTDOWN", NULL);
}

/* The API table. */
static const struct {
	const char *name;
	void (*fn)(int d, int s);
} APIS[] = {
	{ "create", api_create },
	{ "destroy", api_destroy },
	{ "query", api_query },
	{ "modify", api_modify },
	{ "abort", api_abort },
	{ "restart", api_restart },
	{ "crash-restart", ev_crash_restart },
	{ "migrate", api_migrate },
	{ "migrate", api_migrate },
	{ "eof", ev_eof },
	{ "shutdown-event", ev_shutdown },
};
#define NAPIS (sizeof(APIS) / sizeof(APIS[0]))

/* Running, as far as its driver knows: active, not paused, and in no
 * migration (while one runs, the migration decides where the guest is). */
static bool settled_running(const struct mgmt_domain_info *i)
{
	return i->active && !i->paused && i->async == MGMT_ASYNC_NONE;
}

/* The guest runs in one place at most. */
static void check_one_place(const char *after)
{
	for (int d = 0; d < NDOMS; d++) {
		struct mgmt_domain_info a, b, again;
		if (mgmt_domain_get_info(&sides[0].drv, doms[d], &a) || mgmt_domain_get_info(&sides[1].drv, doms[d], &b) ||
		    mgmt_domain_get_info(&sides[0].drv, doms[d], &again))
			continue;
		/* one snapshot of both: a did not change while b was read (a
		 * stop bumps the generation) */
		if (a.active != again.active || a.paused != again.paused || a.async != again.async ||
		    a.def_generation != again.def_generation)
			continue;
		if (settled_running(&a) && settled_running(&b))
			MIGRACE_INVARIANT("guest-in-one-place", "after %s, %s runs on both drivers (a: generation %u, "
					  "b: generation %u)", after, doms[d], a.def_generation, b.def_generation);
	}
}

static void *api_thread(void *arg)
{
	unsigned n = 1 + migrace_choose(3);

	(void)arg;
	for (unsigned i = 0; i < n; i++) {
		unsigned k = migrace_choose(NAPIS);
		int d = (int)migrace_choose(NDOMS), s = (int)migrace_choose(2);
		APIS[k].fn(d, s);
		if (getenv("MGMT_WORKLOAD_DEBUG"))      /* each API and its error, on stderr */
			fprintf(stderr, "%s %s on %d: %s\n", APIS[k].name, doms[d], s, mgmt_last_error());
		check_one_place(APIS[k].name);
	}
	return NULL;
}

/* A job still held by some domain: its index * 2 + side, or -1. */
static int job_held(struct mgmt_domain_info *info)
{
	for (int d = 0; d < NDOMS; d++)
		for (int s = 0; s < 2; s++)
			if (mgmt_domain_get_info(&sides[s].drv, doms[d], info) == 0 &&
			    (info->job != MGMT_JOB_NONE || info->async != MGMT_ASYNC_NONE))
				return d * 2 + s;
	return -1;
}

/* Once the APIs returned, the events still in flight (an EOF the monitor's
 * thread has not queued yet) are handled within a few rounds of the event
 * workers (virtual time); then no job may be left. */
static void check_end(void)
{
	struct mgmt_domain_info info;
	int held = 0;

	for (int round = 0; round < 100 && held >= 0; round++) {
		for (int s = 0; s < 2; s++)
			mgmt_worker_flush(&sides[s].drv);
		held = job_held(&info);
		if (held >= 0)
			usleep(1000);
	}
	if (held >= 0)
		MIGRACE_INVARIANT("job-left", "%s on driver %d still has job %s, async %s", doms[held / 2], held % 2,
				  mgmt_job_name(info.job), mgmt_async_job_name(info.async));
	check_one_place("the end");
}

int main(void)
{
	pthread_t t[THREADS];

	mgmt_inv_set_handler(tolerate_script);
	mem_channel_register();
	for (int s = 0; s < 2; s++)
		if (mgmt_driver_init(&sides[s].drv, s ? "b" : "a", &fmon_qemu_ops, &sides[s].q))
			MIGRACE_INVARIANT("workload-setup", "driver %d did not start", s);
	for (int s = 0; s < 2; s++) {
		mgmt_remote_local_init(&sides[s].local, &sides[!s].drv);
		sides[s].flaky = (struct mgmt_remote){ &flaky_ops, &sides[s].local };
	}
	for (int d = 0; d < NDOMS; d++) {
		for (int i = 0; i < INSTANCES; i++)
			setup_fake(d, home[d]);
		setup_fake(d, !home[d]);
	}
	for (int d = 0; d < NDOMS; d++)
		mgmt_domain_create(&sides[home[d]].drv, doms[d], migrace_choose(2));

	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, api_thread, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	check_end();

	for (int s = 0; s < 2; s++)
		mgmt_driver_destroy(&sides[s].drv);
	for (int d = 0; d < NDOMS; d++)
		for (int s = 0; s < 2; s++)
			for (int i = 0; i < ninst[d][s]; i++)
				fmon_free(fakes[d][s][i]);
	MIGRACE_CHECK_THREADS_JOINED();
	puts("mgmt workload: done");
	return 0;
}
