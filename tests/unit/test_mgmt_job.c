/*
 * Unit tests of core/mgmt: the job condition (sync, async, nested, mask,
 * timeout, broadcast) and the invariant checker (each invariant fires on a
 * deliberately wrong sequence and stays silent on the correct one). The
 * invariants' handler is replaced by one that records, so a violation is
 * counted instead of aborting; one test checks the default aborts.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "invariants.h"
#include "job.h"
#include "mem_channel.h"
#include "migrate.h"
#include "monitor.h"
#include "process.h"

#define TEST_LIMIT_S 20

static void watchdog_fired(int sig)
{
	static const char msg[] = "mgmt_job: test still running after the time limit\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

/* ---- recorded violations --------------------------------------------------------- */

static pthread_mutex_t vlock = PTHREAD_MUTEX_INITIALIZER;
static char vname[64];
static int vcount;

static void record_violation(const char *name, const char *file, int line, const char *msg)
{
	pthread_mutex_lock(&vlock);
	snprintf(vname, sizeof(vname), "%s", name);
	vcount++;
	pthread_mutex_unlock(&vlock);
}

static int violations(char *name, size_t len)
{
	int n;

	pthread_mutex_lock(&vlock);
	n = vcount;
	if (name)
		snprintf(name, len, "%s", vname);
	pthread_mutex_unlock(&vlock);
	return n;
}

static void expect_violation(const char *name)
{
	char got[64];

	assert_int_equal(violations(got, sizeof(got)), 1);
	assert_string_equal(got, name);
}

/* ---- fixture: a driver with one inactive domain, or one running on a fake ---- */

struct fx {
	struct mgmt_driver drv;
	struct fmon_qemu q;
	struct fmon *fm;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	pthread_mutex_lock(&vlock);
	vcount = 0;
	vname[0] = '\0';
	pthread_mutex_unlock(&vlock);
	mgmt_inv_set_handler(record_violation);
	mgmt_inv_reset_thread();
	mem_channel_register();
	fx->fm = fmon_new("vm");
	fmon_qemu_add(&fx->q, "vm", fx->fm);
	assert_int_equal(mgmt_driver_init(&fx->drv, "test", &fmon_qemu_ops, &fx->q), 0);
	fx->drv.job_wait_ms = 300;
	alarm(TEST_LIMIT_S);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	mgmt_driver_destroy(&fx->drv);
	fmon_free(fx->fm);
	mgmt_inv_set_handler(NULL);
	alarm(0);
	free(fx);
	return 0;
}

/* An inactive persistent domain "idle", returned locked and referenced. */
static struct mgmt_domain *idle_domain(struct fx *fx)
{
	struct mgmt_domain *dom = mgmt_domain_add(&fx->drv, "idle", true);

	assert_non_null(dom);
	return dom;
}

/* The domain "vm" running on the fake (qmp_capabilities scripted here). */
static void start_vm(struct fx *fx)
{
	assert_int_equal(fmon_expect(fx->fm, "qmp_capabilities", NULL, NULL), 0);
}

/* "vm" created and running, looked up: returned locked, in an API call. */
static struct mgmt_domain *running_vm(struct fx *fx)
{
	start_vm(fx);
	assert_int_equal(mgmt_domain_create(&fx->drv, "vm", true), 0);
	return mgmt_domain_lookup(&fx->drv, "vm");
}

/* ---- jobs ---------------------------------------------------------------------- */

struct waiter {
	struct mgmt_driver *drv;
	const char *name;
	enum mgmt_job job;
	int hold_ms;
	int ret;
	char err[MGMT_ERROR_MAX];
	pthread_t t;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;
	struct mgmt_domain *dom = mgmt_domain_lookup(w->drv, w->name);

	w->ret = mgmt_job_begin_locked(dom, w->job, "waiter");
	mgmt_error_copy(w->err, sizeof(w->err));
	if (w->ret == 0) {
		mgmt_domain_unlock(dom);
		usleep((useconds_t)w->hold_ms * 1000);
		mgmt_domain_lock(dom);
		mgmt_job_end_locked(dom);
	}
	mgmt_domain_end_api(dom);
	return NULL;
}

static void start_waiter(struct waiter *w, struct fx *fx, const char *name, enum mgmt_job job)
{
	*w = (struct waiter){ .drv = &fx->drv, .name = name, .job = job, .hold_ms = 10 };
	assert_int_equal(pthread_create(&w->t, NULL, waiter_thread, w), 0);
}

static void test_job_sync_excludes_and_end_wakes_all(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);
	struct waiter a, b;

	fx->drv.job_wait_ms = 5000;
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "holder"), 0);
	assert_true(mgmt_job_owned_locked(dom));
	mgmt_domain_unlock(dom);
	start_waiter(&a, fx, "idle", MGMT_JOB_QUERY);
	start_waiter(&b, fx, "idle", MGMT_JOB_MODIFY);
	usleep(50 * 1000);
	mgmt_domain_lock(dom);
	assert_int_equal(dom->job.queued, 2);	/* both wait: one sync job at a time */
	mgmt_job_end_locked(dom);		/* broadcast: both must get through */
	mgmt_domain_end_api(dom);
	pthread_join(a.t, NULL);
	pthread_join(b.t, NULL);
	assert_int_equal(a.ret, 0);
	assert_int_equal(b.ret, 0);
	assert_int_equal(violations(NULL, 0), 0);
}

static void test_job_timeout_names_holder(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);
	struct waiter w;

	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "holder-api"), 0);
	mgmt_domain_unlock(dom);
	start_waiter(&w, fx, "idle", MGMT_JOB_QUERY);
	pthread_join(w.t, NULL);
	assert_int_equal(w.ret, -ETIMEDOUT);
	assert_non_null(strstr(w.err, "cannot acquire state change lock (held by holder-api"));
	mgmt_domain_lock(dom);
	mgmt_job_end_locked(dom);
	mgmt_domain_end_api(dom);
}

static void test_job_async_mask(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);
	struct waiter q, m, d;

	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	assert_int_equal(dom->job.active, MGMT_JOB_NONE);	/* sync jobs may still run */
	mgmt_domain_unlock(dom);
	start_waiter(&q, fx, "idle", MGMT_JOB_QUERY);	/* in the default mask */
	start_waiter(&m, fx, "idle", MGMT_JOB_MODIFY);	/* not: times out */
	pthread_join(q.t, NULL);
	pthread_join(m.t, NULL);
	assert_int_equal(q.ret, 0);
	assert_int_equal(m.ret, -ETIMEDOUT);
	assert_non_null(strstr(m.err, "held by mig async=migration-out"));
	/* a mask of nothing still lets destroy in */
	mgmt_domain_lock(dom);
	mgmt_job_set_mask_locked(dom, 0);
	mgmt_domain_unlock(dom);
	start_waiter(&q, fx, "idle", MGMT_JOB_QUERY);
	start_waiter(&d, fx, "idle", MGMT_JOB_DESTROY);
	pthread_join(q.t, NULL);
	pthread_join(d.t, NULL);
	assert_int_equal(q.ret, -ETIMEDOUT);
	assert_int_equal(d.ret, 0);
	mgmt_domain_lock(dom);
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
}

static void test_job_async_end_wakes_waiters(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);
	struct waiter a, b;

	fx->drv.job_wait_ms = 5000;
	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_IN, "in"), 0);
	mgmt_job_set_mask_locked(dom, 0);
	mgmt_domain_unlock(dom);
	start_waiter(&a, fx, "idle", MGMT_JOB_MODIFY);
	start_waiter(&b, fx, "idle", MGMT_JOB_QUERY);
	usleep(50 * 1000);
	mgmt_domain_lock(dom);
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
	pthread_join(a.t, NULL);
	pthread_join(b.t, NULL);
	assert_int_equal(a.ret, 0);
	assert_int_equal(b.ret, 0);
}

static void test_job_nested(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);

	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	mgmt_job_set_mask_locked(dom, 0);
	/* nested ignores the mask, but must name the right async job */
	assert_int_equal(mgmt_job_begin_nested_locked(dom, MGMT_ASYNC_MIGRATION_IN), -EINVAL);
	assert_non_null(strstr(mgmt_last_error(), "unexpected async job"));
	assert_int_equal(mgmt_job_begin_nested_locked(dom, MGMT_ASYNC_MIGRATION_OUT), 0);
	assert_int_equal(dom->job.active, MGMT_JOB_ASYNC_NESTED);
	mgmt_job_end_locked(dom);
	/* a second async job is refused at once by the migration helper */
	assert_int_equal(mgmt_migration_job_start_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "again"), -EBUSY);
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
}

static void test_job_removing_refused(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = mgmt_domain_add(&fx->drv, "gone", false);

	assert_non_null(dom);
	mgmt_domain_remove_inactive_locked(dom);
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_QUERY, "late"), -ENOENT);
	mgmt_domain_end_api(dom);
	assert_null(mgmt_domain_lookup(&fx->drv, "gone"));
	assert_non_null(strstr(mgmt_last_error(), "no domain with matching name 'gone'"));
}

static void test_phases_refuse_backwards(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);

	assert_int_equal(mgmt_migration_job_start_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	assert_int_equal(mgmt_migration_job_set_phase_locked(dom, MGMT_PHASE_BEGIN3), 0);
	assert_int_equal(mgmt_migration_job_start_phase_locked(dom, MGMT_PHASE_PERFORM3), 0);
	assert_int_equal(mgmt_migration_job_set_phase_locked(dom, MGMT_PHASE_PERFORM3_DONE), 0);
	mgmt_migration_job_continue_locked(dom);
	assert_false(dom->job.async_owned);
	assert_true(mgmt_migration_job_is_active_locked(dom, MGMT_ASYNC_MIGRATION_OUT));
	assert_false(mgmt_migration_job_is_active_locked(dom, MGMT_ASYNC_MIGRATION_IN));
	assert_non_null(strstr(mgmt_last_error(), "is not processing incoming migration"));
	assert_int_equal(mgmt_migration_job_start_phase_locked(dom, MGMT_PHASE_PERFORM3), -EINVAL);
	assert_non_null(strstr(mgmt_last_error(), "migration protocol going backwards perform3_done => perform3"));
	assert_int_equal(dom->job.phase, MGMT_PHASE_PERFORM3_DONE);
	/* the last step re-attaches (StartPhase), then finishes */
	assert_int_equal(mgmt_migration_job_start_phase_locked(dom, MGMT_PHASE_CONFIRM3), 0);
	mgmt_migration_job_finish_locked(dom);
	assert_int_equal(dom->job.async, MGMT_ASYNC_NONE);
	mgmt_domain_end_api(dom);
	assert_int_equal(violations(NULL, 0), 0);	/* refused: never stored */
}

/* ---- invariants ------------------------------------------------------------------ */

static void test_inv_phase_backwards(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);

	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	mgmt_job_store_phase_locked(dom, MGMT_PHASE_PERFORM3_DONE);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_job_store_phase_locked(dom, MGMT_PHASE_BEGIN3);	/* what a missing check does */
	expect_violation("phase-backwards");
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
}

/* A thread that holds a lock until the main thread reported a violation (it
 * is then blocked on that lock), so that a lock really blocks. */
struct holder {
	void (*lock)(void *), (*unlock)(void *);
	void *obj;
	atomic_bool held;
	pthread_t t;
};

static void *holder_thread(void *arg)
{
	struct holder *h = arg;

	h->lock(h->obj);
	atomic_store(&h->held, true);
	while (violations(NULL, 0) == 0)
		usleep(1000);
	h->unlock(h->obj);
	return NULL;
}

static void hold(struct holder *h, void (*lock)(void *), void (*unlock)(void *), void *obj)
{
	*h = (struct holder){ .lock = lock, .unlock = unlock, .obj = obj };
	assert_int_equal(pthread_create(&h->t, NULL, holder_thread, h), 0);
	while (!atomic_load(&h->held))
		usleep(1000);
}

static void dom_lock(void *d) { mgmt_domain_lock(d); }
static void dom_unlock(void *d) { mgmt_domain_unlock(d); }
static void drv_lock(void *d) { mgmt_driver_lock(d); }
static void drv_unlock(void *d) { mgmt_driver_unlock(d); }
static void list_wrlock(void *d) { pthread_rwlock_wrlock(&((struct mgmt_driver *)d)->list_lock); }
static void list_unlock(void *d) { pthread_rwlock_unlock(&((struct mgmt_driver *)d)->list_lock); }

static void hold_domain(struct holder *h, struct mgmt_domain *dom)
{
	hold(h, dom_lock, dom_unlock, dom);
}

static void test_inv_lock_rank(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;
	struct holder h;

	dom = running_vm(fx);
	/* correct: domain, then monitor (EnterMonitor's order) */
	mgmt_monitor_lock(dom->mon);
	mgmt_monitor_unlock(dom->mon);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_domain_unlock(dom);
	/* out of order but free: taken without blocking, not reported */
	mgmt_monitor_lock(dom->mon);
	mgmt_domain_lock(dom);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_domain_unlock(dom);
	/* wrong: monitor held, blocking on the domain held by another thread
	 * (the 2011 documented ExitMonitor against the EOF handler) */
	hold_domain(&h, dom);
	mgmt_domain_lock(dom);
	expect_violation("lock-rank");
	pthread_join(h.t, NULL);
	mgmt_monitor_unlock(dom->mon);
	mgmt_domain_end_api(dom);
}

static void test_inv_blocking_under_lock(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;
	struct mon_msg cmd;

	start_vm(fx);
	fmon_expect(fx->fm, "query-status", NULL, "status=running");
	fmon_expect(fx->fm, "query-status", NULL, "status=running");
	assert_int_equal(mgmt_domain_create(&fx->drv, "vm", true), 0);
	/* correct: through EnterMonitor, which drops the domain lock */
	assert_int_equal(mgmt_domain_query(&fx->drv, "vm", NULL, 0), 0);
	assert_int_equal(violations(NULL, 0), 0);
	/* wrong: a command with the domain lock held */
	dom = mgmt_domain_lookup(&fx->drv, "vm");
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_QUERY, "bad"), 0);
	mgmt_monitor_lock(dom->mon);
	mon_msg_cmd(&cmd, 0, "query-status");
	assert_int_equal(mgmt_monitor_send_locked(dom->mon, &cmd, NULL), 0);
	expect_violation("blocking-under-lock");
	mgmt_monitor_unlock(dom->mon);
	mgmt_job_end_locked(dom);
	mgmt_domain_end_api(dom);
}

static void test_inv_blocking_job_wait_other_domain(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *a = idle_domain(fx), *b;

	mgmt_domain_unlock(a);		/* the list lock is taken before any domain's */
	b = mgmt_domain_add(&fx->drv, "other", true);
	mgmt_domain_lock(a);		/* a second domain: same rank, allowed */
	assert_int_equal(mgmt_job_begin_locked(b, MGMT_JOB_MODIFY, "holder"), 0);
	assert_int_equal(violations(NULL, 0), 0);	/* no wait: nothing to report */
	assert_int_equal(mgmt_job_begin_locked(b, MGMT_JOB_QUERY, "waiter"), -ETIMEDOUT);
	expect_violation("blocking-under-lock");	/* waited on b holding a */
	mgmt_job_end_locked(b);
	mgmt_domain_end_api(b);
	mgmt_domain_end_api(a);
}

static void test_inv_monitor_without_job(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;

	dom = running_vm(fx);
	/* correct: a sync job first */
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_QUERY, "ok"), 0);
	assert_int_equal(mgmt_enter_monitor(dom), 0);
	mgmt_exit_monitor(dom);
	mgmt_job_end_locked(dom);
	assert_int_equal(violations(NULL, 0), 0);
	/* wrong: no job */
	assert_int_equal(mgmt_enter_monitor(dom), 0);
	expect_violation("monitor-without-job");
	mgmt_exit_monitor(dom);
	/* wrong: the async job's owner without a nested job (193cd0f3c) */
	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_QUERY, "mig-q"), 0);
	assert_int_equal(mgmt_enter_monitor(dom), 0);
	assert_int_equal(violations(NULL, 0), 2);
	mgmt_exit_monitor(dom);
	mgmt_job_end_locked(dom);
	/* correct: EnterMonitorAsync */
	assert_int_equal(mgmt_enter_monitor_async(dom, MGMT_ASYNC_MIGRATION_OUT), 0);
	mgmt_exit_monitor(dom);
	assert_int_equal(dom->job.active, MGMT_JOB_NONE);	/* Exit ended the nested job */
	assert_int_equal(violations(NULL, 0), 2);
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
}

/* Another thread's QUERY job on the domain, held until a violation came
 * (the holder of the lock-rank tests, with a job for a lock). */
static void query_job_begin(void *d)
{
	mgmt_domain_lock(d);
	assert_int_equal(mgmt_job_begin_locked(d, MGMT_JOB_QUERY, "query"), 0);
	mgmt_domain_unlock(d);
}

static void query_job_end(void *d)
{
	mgmt_domain_lock(d);
	mgmt_job_end_locked(d);
	mgmt_domain_unlock(d);
}

/* 81f50cb92: a stop without a job while another thread holds one (it may
 * be inside the monitor the stop closes) */
static void test_inv_stop_without_job(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;
	struct holder h;

	dom = running_vm(fx);
	mgmt_domain_unlock(dom);
	hold(&h, query_job_begin, query_job_end, dom);
	mgmt_domain_lock(dom);
	mgmt_process_kill_locked(dom);
	mgmt_process_stop_locked(dom, "no job");	/* what 81f50cb92 forbade */
	expect_violation("stop-without-job");
	assert_false(dom->active);
	mgmt_domain_end_api(dom);
	pthread_join(h.t, NULL);
}

/* The same stop with nobody's work alongside: the race's first half only,
 * not reported (else it would be the signature of every schedule) */
static void test_inv_stop_without_job_alone_silent(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;

	dom = running_vm(fx);
	mgmt_process_kill_locked(dom);
	mgmt_process_stop_locked(dom, "no job, nobody else's");
	assert_int_equal(violations(NULL, 0), 0);
	assert_false(dom->active);
	mgmt_domain_end_api(dom);
}

static void test_inv_stop_in_job_silent(void **state)
{
	struct fx *fx = *state;

	start_vm(fx);
	assert_int_equal(mgmt_domain_create(&fx->drv, "vm", true), 0);
	assert_int_equal(mgmt_domain_destroy(&fx->drv, "vm"), 0);
	mgmt_worker_flush(&fx->drv);
	assert_int_equal(violations(NULL, 0), 0);
	assert_true(fmon_killed(fx->fm));
}

static void test_inv_ref_zero_while_unlocked(void **state)
{
	struct fx *fx = *state;
	struct channel *a, *b;
	struct mgmt_monitor *mon;
	struct fmon *fm = fmon_new("raw");

	(void)fx;
	assert_int_equal(mem_channel_pair(&a, &b), 0);
	assert_int_equal(fmon_start(fm, b), 0);
	mon = mgmt_monitor_open(a, "raw", NULL, NULL);
	assert_non_null(mon);
	mgmt_inv_transit_begin(mgmt_monitor_transit(mon));	/* "inside Enter..Exit" */
	fmon_kill(fm);					/* the event thread ends, drops its ref */
	while (mgmt_monitor_ref_count(mon) > 1)
		usleep(1000);
	mgmt_monitor_unref(mon);			/* the last, with a user in transit */
	expect_violation("ref-zero-while-unlocked");
	fmon_free(fm);
	mgmt_monitor_reap();
	channel_unref(a);
	channel_unref(b);
}

static void test_inv_ref_zero_silent(void **state)
{
	struct channel *a, *b;
	struct mgmt_monitor *mon;
	struct fmon *fm = fmon_new("raw");

	(void)state;
	assert_int_equal(mem_channel_pair(&a, &b), 0);
	assert_int_equal(fmon_start(fm, b), 0);
	mon = mgmt_monitor_open(a, "raw", NULL, NULL);
	mgmt_inv_transit_begin(mgmt_monitor_transit(mon));
	mgmt_monitor_ref(mon);
	fmon_kill(fm);
	while (mgmt_monitor_ref_count(mon) > 2)
		usleep(1000);
	mgmt_monitor_unref(mon);
	mgmt_inv_transit_end(mgmt_monitor_transit(mon));	/* leave, then drop the last */
	mgmt_monitor_unref(mon);
	assert_int_equal(violations(NULL, 0), 0);
	fmon_free(fm);
	mgmt_monitor_reap();
	channel_unref(a);
	channel_unref(b);
}

/* R1: never lock the driver while holding a domain lock (30c551ab4) */
static void test_inv_lock_rank_driver(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);
	struct holder h;

	mgmt_domain_unlock(dom);
	mgmt_driver_lock(&fx->drv);		/* correct: driver, then domain */
	mgmt_domain_lock(dom);
	mgmt_domain_unlock(dom);
	mgmt_driver_unlock(&fx->drv);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_domain_lock(dom);
	hold(&h, drv_lock, drv_unlock, &fx->drv);
	mgmt_driver_lock(&fx->drv);		/* wrong: blocks on it, domain held */
	expect_violation("lock-rank");
	pthread_join(h.t, NULL);
	mgmt_driver_unlock(&fx->drv);
	mgmt_domain_end_api(dom);
}

/* R1: list before domain (c7d1c139c): a lookup with a domain locked */
static void test_inv_lock_rank_list(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx), *other;
	struct holder h;

	mgmt_domain_unlock(dom);
	other = mgmt_domain_add(&fx->drv, "other", true);	/* correct: list, then domain */
	mgmt_domain_lock(dom);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_domain_unlock(other);
	hold(&h, list_wrlock, list_unlock, &fx->drv);
	mgmt_domain_end_api(mgmt_domain_lookup(&fx->drv, "other"));	/* wrong: dom held */
	expect_violation("lock-rank");
	pthread_join(h.t, NULL);
	mgmt_domain_unref(other);
	mgmt_domain_end_api(dom);
}

/* R3: re-check active after the job, before the monitor */
static void test_inv_no_recheck_after_job(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;

	start_vm(fx);
	assert_int_equal(mgmt_domain_create(&fx->drv, "vm", true), 0);
	assert_int_equal(mgmt_domain_destroy(&fx->drv, "vm"), 0);
	/* correct: the API re-checks and refuses */
	assert_int_equal(mgmt_domain_query(&fx->drv, "vm", NULL, 0), -EINVAL);
	assert_int_equal(violations(NULL, 0), 0);
	/* wrong: a job on the stopped domain, then straight into the monitor */
	dom = mgmt_domain_lookup(&fx->drv, "vm");
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_QUERY, "no-recheck"), 0);
	assert_int_equal(mgmt_enter_monitor(dom), -ESRCH);
	expect_violation("no-recheck-after-job");
	mgmt_job_end_locked(dom);
	mgmt_domain_end_api(dom);
}

/* R4: the domain lock is held when the monitor lock is taken */
static void test_inv_monitor_without_domain_lock(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;

	dom = running_vm(fx);
	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_QUERY, "unlocked"), 0);
	mgmt_domain_unlock(dom);
	assert_int_equal(mgmt_enter_monitor(dom), 0);	/* wrong: domain unlocked */
	expect_violation("monitor-without-domain-lock");
	mgmt_exit_monitor(dom);
	mgmt_job_end_locked(dom);
	mgmt_domain_end_api(dom);
}

/* R5: a reference of one's own across an unlock (540c339a2) */
static void test_inv_ref_zero_domain(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = mgmt_domain_add(&fx->drv, "t", false);

	/* correct: an extra reference across EnterRemote..ExitRemote */
	mgmt_domain_ref(dom);
	mgmt_enter_remote(dom);
	mgmt_domain_unref(dom);
	assert_int_equal(mgmt_exit_remote(dom, false), 0);
	assert_int_equal(violations(NULL, 0), 0);
	/* wrong: removed from the list (its reference gone), then the caller's
	 * last one dropped while it is unlocked in EnterRemote */
	mgmt_domain_remove_inactive_locked(dom);
	mgmt_enter_remote(dom);
	mgmt_domain_unref(dom);
	expect_violation("ref-zero-while-unlocked");
}

/* R7: inside an async job the stop takes a nested job (81f50cb92) */
static void test_inv_stop_async_without_nested(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;
	struct holder h;

	dom = running_vm(fx);
	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	mgmt_domain_unlock(dom);
	hold(&h, query_job_begin, query_job_end, dom);	/* a query the async mask allows */
	mgmt_domain_lock(dom);
	mgmt_process_kill_locked(dom);
	mgmt_process_stop_locked(dom, "no nested job");	/* wrong */
	expect_violation("stop-without-job");
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
	pthread_join(h.t, NULL);
}

static void test_inv_stop_async_nested_silent(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;

	dom = running_vm(fx);
	assert_int_equal(mgmt_job_begin_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	mgmt_process_kill_locked(dom);
	mgmt_process_stop_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "nested");
	assert_false(dom->active);
	mgmt_job_end_async_locked(dom);
	mgmt_domain_end_api(dom);
	assert_int_equal(violations(NULL, 0), 0);
}

/* the job is ended by its holder, once (984640211) */
static void test_inv_job_end_not_owned(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);

	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "once"), 0);
	mgmt_job_end_locked(dom);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_job_end_locked(dom);			/* wrong: ended twice */
	expect_violation("job-end-not-owned");
	mgmt_domain_end_api(dom);
}

static void test_inv_async_end_not_owned(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);

	assert_int_equal(mgmt_migration_job_start_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "mig"), 0);
	assert_int_equal(mgmt_migration_job_set_phase_locked(dom, MGMT_PHASE_BEGIN3), 0);
	mgmt_migration_job_continue_locked(dom);	/* owned by no thread now */
	mgmt_migration_job_finish_locked(dom);		/* wrong: without StartPhase */
	expect_violation("job-end-not-owned");
	mgmt_domain_end_api(dom);
}

/* EndJob wakes every waiter: an end that does not is seen by the waiter
 * when it times out */
static void test_inv_job_wakeup_lost(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);
	struct mgmt_job_obj *j = &dom->job;
	struct timespec ts;
	struct waiter w;

	assert_int_equal(mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "holder"), 0);
	mgmt_domain_unlock(dom);
	start_waiter(&w, fx, "idle", MGMT_JOB_QUERY);	/* waits up to 300 ms */
	usleep(50 * 1000);
	mgmt_domain_lock(dom);
	/* wrong: what mgmt_job_end_locked does, without the broadcast */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	j->active = MGMT_JOB_NONE;
	j->owner_api = NULL;
	j->ends++;
	j->end_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	mgmt_domain_unlock(dom);
	pthread_join(w.t, NULL);
	assert_int_equal(w.ret, 0);	/* it got the job, late */
	expect_violation("job-wakeup-lost");
	mgmt_domain_lock(dom);
	mgmt_domain_end_api(dom);
}

/* §3.3: phases live in the migration job */
static void test_inv_phase_without_job(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom = idle_domain(fx);

	mgmt_job_store_phase_locked(dom, MGMT_PHASE_BEGIN3);
	expect_violation("phase-without-job");
	mgmt_domain_end_api(dom);
}

/* an event of one QEMU instance acts on that instance only (dd2f36d66e) */
static void test_inv_stale_event(void **state)
{
	struct fx *fx = *state;
	struct mgmt_domain *dom;

	dom = running_vm(fx);
	mgmt_inv_event_begin(dom->id);		/* correct: its own instance */
	mgmt_process_kill_locked(dom);
	mgmt_inv_event_end();
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_inv_event_begin(dom->id - 1);	/* wrong: an older instance's event */
	mgmt_process_kill_locked(dom);
	mgmt_inv_event_end();
	expect_violation("stale-event");
	mgmt_domain_end_api(dom);
	mgmt_worker_flush(&fx->drv);		/* the kill's EOF stops it */
}

/* restart: a new QEMU instance (the next fake), a new id */
static void test_restart(void **state)
{
	struct fx *fx = *state;
	struct fmon *fm2 = fmon_new("vm-2");
	struct mgmt_domain_info a, b;

	start_vm(fx);
	fmon_qemu_add(&fx->q, "vm", fm2);
	fmon_expect(fm2, "qmp_capabilities", NULL, NULL);
	assert_int_equal(mgmt_domain_restart(&fx->drv, "vm"), -ENOENT);
	assert_int_equal(mgmt_domain_create(&fx->drv, "vm", true), 0);
	assert_int_equal(mgmt_domain_get_info(&fx->drv, "vm", &a), 0);
	assert_int_equal(mgmt_domain_start(&fx->drv, "vm"), -EEXIST);
	assert_int_equal(mgmt_domain_restart(&fx->drv, "vm"), 0);
	assert_int_equal(mgmt_domain_get_info(&fx->drv, "vm", &b), 0);
	assert_true(b.active);
	assert_int_not_equal(a.id, b.id);
	assert_true(fmon_killed(fx->fm));
	assert_false(fmon_killed(fm2));
	mgmt_worker_flush(&fx->drv);
	assert_int_equal(mgmt_domain_get_info(&fx->drv, "vm", &b), 0);
	assert_true(b.active);
	/* no QEMU left for a third instance: the restart fails, stopped */
	assert_int_equal(mgmt_domain_restart(&fx->drv, "vm"), -EBUSY);
	assert_int_equal(mgmt_domain_get_info(&fx->drv, "vm", &b), 0);
	assert_false(b.active);
	assert_int_equal(mgmt_domain_start(&fx->drv, "vm"), -EBUSY);
	assert_int_equal(violations(NULL, 0), 0);
	mgmt_worker_flush(&fx->drv);
	fmon_free(fm2);
}

static void *hold_forever(void *arg)
{
	mgmt_domain_lock(arg);
	for (;;)
		pause();
	return NULL;
}

static void lock_rank_default(void *arg)
{
	struct mgmt_driver *drv = arg;
	struct mgmt_domain *dom = mgmt_domain_add(drv, "child", true);
	pthread_t t;

	mgmt_inv_set_handler(NULL);
	mgmt_domain_unlock(dom);
	pthread_create(&t, NULL, hold_forever, dom);
	while (qemu_mutex_trylock(&dom->lock) == 0) {	/* not held by it yet */
		qemu_mutex_unlock(&dom->lock);
		usleep(1000);
	}
	mgmt_inv_locked(MGMT_RANK_MONITOR, &dom);	/* as if a monitor were held */
	mgmt_domain_lock(dom);				/* blocks: aborts */
}

static void test_inv_default_handler_aborts(void **state)
{
	struct fx *fx = *state;

	assert_true(child_aborts_with(lock_rank_default, &fx->drv, "invariant:lock-rank at "));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_job_sync_excludes_and_end_wakes_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_timeout_names_holder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_async_mask, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_async_end_wakes_waiters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_job_removing_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_phases_refuse_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_phase_backwards, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_lock_rank, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_blocking_under_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_blocking_job_wait_other_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_monitor_without_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_stop_without_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_stop_without_job_alone_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_stop_in_job_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_ref_zero_while_unlocked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_ref_zero_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_lock_rank_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_lock_rank_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_no_recheck_after_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_monitor_without_domain_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_ref_zero_domain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_stop_async_without_nested, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_stop_async_nested_silent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_job_end_not_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_async_end_not_owned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_job_wakeup_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_phase_without_job, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_stale_event, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_inv_default_handler_aborts, setup, teardown),
	};

	signal(SIGALRM, watchdog_fired);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
