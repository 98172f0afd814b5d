/*
 * Unit tests of core/mgmt's monitor client against fakes/fake_monitor (reply,
 * error, events in order, EOF and half a reply during a command, a command
 * after EOF), the fake's strictness in both directions, the EOF path (worker,
 * stop in a job), destroy, and managed migrations Begin..Confirm between two
 * drivers over the local peer, each with its fake "QEMU".
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
#include <stdlib.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "invariants.h"
#include "mem_channel.h"
#include "migrate.h"
#include "monitor.h"
#include "process.h"
#include "remote_local.h"

#define TEST_LIMIT_S 20

static void watchdog_fired(int sig)
{
	static const char msg[] = "mgmt_monitor: test still running after the time limit\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

static pthread_mutex_t vlock = PTHREAD_MUTEX_INITIALIZER;
static char vnames[256];
static int vcount;

static void record_violation(const char *name, const char *file, int line, const char *msg)
{
	pthread_mutex_lock(&vlock);
	vcount++;
	strncat(vnames, name, sizeof(vnames) - strlen(vnames) - 2);
	strcat(vnames, " ");
	pthread_mutex_unlock(&vlock);
}

static int nviolations(void)
{
	pthread_mutex_lock(&vlock);
	int n = vcount;
	pthread_mutex_unlock(&vlock);
	return n;
}

/* ---- a bare monitor on a fake ------------------------------------------------ */

struct bare {
	struct channel *a, *b;
	struct fmon *fm;
	struct mgmt_monitor *mon;
	pthread_mutex_t lock;
	char events[256];	/* lock: event names in order, "EOF" last */
	int neof;		/* lock */
};

static void bare_event(struct mgmt_monitor *mon, const struct mon_msg *evt, void *opaque)
{
	struct bare *b = opaque;

	pthread_mutex_lock(&b->lock);
	strcat(b->events, evt->name);
	strcat(b->events, " ");
	pthread_mutex_unlock(&b->lock);
}

static void bare_eof(struct mgmt_monitor *mon, void *opaque)
{
	struct bare *b = opaque;

	pthread_mutex_lock(&b->lock);
	strcat(b->events, "EOF");
	b->neof++;
	pthread_mutex_unlock(&b->lock);
}

static const struct mgmt_monitor_cb bare_cb = { .eof = bare_eof, .event = bare_event };

static struct bare *bare;

static int setup(void **state)
{
	pthread_mutex_lock(&vlock);
	vcount = 0;
	vnames[0] = '\0';
	pthread_mutex_unlock(&vlock);
	mgmt_inv_set_handler(record_violation);
	mem_channel_register();
	alarm(TEST_LIMIT_S);
	bare = calloc(1, sizeof(*bare));
	pthread_mutex_init(&bare->lock, NULL);
	bare->fm = fmon_new("bare");
	assert_int_equal(mem_channel_pair(&bare->a, &bare->b), 0);
	return 0;
}

/* Start the fake (scripted by the test) and the monitor. */
static void bare_start(void)
{
	assert_int_equal(fmon_start(bare->fm, bare->b), 0);
	bare->mon = mgmt_monitor_open(bare->a, "bare", &bare_cb, bare);
	assert_non_null(bare->mon);
}

static int send_cmd(const char *name, struct mon_msg *reply)
{
	struct mon_msg cmd;
	int ret;

	mon_msg_cmd(&cmd, 0, name);
	mgmt_monitor_lock(bare->mon);
	ret = mgmt_monitor_send_locked(bare->mon, &cmd, reply);
	mgmt_monitor_unlock(bare->mon);
	return ret;
}

static void wait_events(const char *want)
{
	for (int i = 0; i < 2000; i++) {
		pthread_mutex_lock(&bare->lock);
		bool ok = strcmp(bare->events, want) == 0;
		pthread_mutex_unlock(&bare->lock);
		if (ok)
			return;
		usleep(1000);
	}
	pthread_mutex_lock(&bare->lock);
	assert_string_equal(bare->events, want);
	pthread_mutex_unlock(&bare->lock);
}

static int teardown(void **state)
{
	if (bare->mon) {
		mgmt_monitor_close(bare->mon);
		mgmt_monitor_unref(bare->mon);
	}
	fmon_free(bare->fm);	/* the connection is down: the event thread ends */
	mgmt_monitor_reap();
	channel_unref(bare->a);
	channel_unref(bare->b);
	free(bare);
	mgmt_inv_set_handler(NULL);
	alarm(0);
	return 0;
}

static void test_monitor_reply(void **state)
{
	struct mon_msg reply;
	char name[32];

	fmon_expect(bare->fm, "query-status", NULL, "status=running");
	bare_start();
	assert_int_equal(send_cmd("query-status", &reply), 0);
	assert_string_equal(mon_msg_get(&reply, "status"), "running");
	assert_int_equal(fmon_nreceived(bare->fm), 1);
	assert_true(fmon_received(bare->fm, 0, name, sizeof(name)));
	assert_string_equal(name, "query-status");
	assert_int_equal(fmon_unused(bare->fm), 0);
}

static void test_monitor_error_reply(void **state)
{
	fmon_expect_error(bare->fm, "migrate", NULL, "GenericError", "no way");
	bare_start();
	assert_int_equal(send_cmd("migrate", NULL), -EIO);
	assert_non_null(strstr(mgmt_last_error(), "no way"));
}

static void test_monitor_events_in_order(void **state)
{
	fmon_event(bare->fm, "RESUME", NULL);
	fmon_expect(bare->fm, "stop", NULL, NULL);
	fmon_event_before_reply(bare->fm, "STOP", NULL);
	fmon_event(bare->fm, "MIGRATION", "status=active");
	bare_start();
	assert_int_equal(send_cmd("stop", NULL), 0);
	wait_events("RESUME STOP MIGRATION ");
}

static void test_monitor_eof_during_command(void **state)
{
	fmon_expect_eof(bare->fm, "query-status", NULL);
	bare_start();
	assert_int_equal(send_cmd("query-status", NULL), -ECONNRESET);
	assert_non_null(strstr(mgmt_last_error(), "domain is no longer running"));
	wait_events("EOF");
	/* cc2424fc6: a later command fails at once instead of waiting forever */
	assert_int_equal(send_cmd("query-status", NULL), -ECONNRESET);
	assert_non_null(strstr(mgmt_last_error(), "End of file from qemu monitor"));
	mgmt_monitor_lock(bare->mon);
	assert_true(mgmt_monitor_eof_locked(bare->mon));
	mgmt_monitor_unlock(bare->mon);
	assert_int_equal(fmon_nreceived(bare->fm), 1);
}

static void test_monitor_half_reply(void **state)
{
	fmon_expect_half_reply(bare->fm, "query-status", NULL, "status=running");
	bare_start();
	assert_int_equal(send_cmd("query-status", NULL), -ECONNRESET);
	wait_events("EOF");
}

static void test_monitor_close_fails_commands(void **state)
{
	bare_start();
	mgmt_monitor_close(bare->mon);
	assert_int_equal(send_cmd("query-status", NULL), -ECONNRESET);
	assert_non_null(strstr(mgmt_last_error(), "monitor closed"));
	usleep(20 * 1000);
	pthread_mutex_lock(&bare->lock);
	assert_int_equal(bare->neof, 0);	/* a closed monitor calls nobody back */
	pthread_mutex_unlock(&bare->lock);
}

static void test_fake_unexpected_command(void **state)
{
	fmon_expect(bare->fm, "query-status", NULL, NULL);
	bare_start();
	assert_int_equal(send_cmd("cont", NULL), -EIO);		/* the fake answers with an error */
	assert_int_equal(nviolations(), 1);
	assert_string_equal(vnames, "fake-monitor:unexpected ");
	assert_int_equal(fmon_unexpected(bare->fm), 1);
	assert_int_equal(send_cmd("query-status", NULL), 0);
}

static void test_fake_argument_check(void **state)
{
	struct mon_msg cmd;

	fmon_expect(bare->fm, "migrate", "uri=mem:a", NULL);
	fmon_expect(bare->fm, "migrate", "uri=mem:a", NULL);
	bare_start();
	mon_msg_cmd(&cmd, 0, "migrate");
	mon_msg_set(&cmd, "uri", "mem:a");
	mgmt_monitor_lock(bare->mon);
	assert_int_equal(mgmt_monitor_send_locked(bare->mon, &cmd, NULL), 0);
	mon_msg_cmd(&cmd, 0, "migrate");
	mon_msg_set(&cmd, "uri", "mem:b");
	assert_int_equal(mgmt_monitor_send_locked(bare->mon, &cmd, NULL), -EIO);
	mgmt_monitor_unlock(bare->mon);
	assert_string_equal(vnames, "fake-monitor:unexpected ");
	/* the expectation left over is reported at teardown */
	mgmt_monitor_close(bare->mon);
	mgmt_monitor_unref(bare->mon);
	bare->mon = NULL;
	fmon_free(bare->fm);
	bare->fm = fmon_new("done");
	assert_string_equal(vnames, "fake-monitor:unexpected fake-monitor:unused ");
}

static void test_fake_unused_silent_when_done(void **state)
{
	fmon_expect(bare->fm, "cont", NULL, NULL);
	fmon_close(bare->fm);
	bare_start();
	assert_int_equal(send_cmd("cont", NULL), 0);
	wait_events("EOF");
	assert_int_equal(fmon_unused(bare->fm), 0);
	assert_int_equal(nviolations(), 0);
}

/* ---- drivers on fakes --------------------------------------------------------------- */

struct side {
	struct mgmt_driver drv;
	struct fmon_qemu q;
	struct fmon *fm;
};

static struct side src, dst;

static int drv_setup(void **state)
{
	setup(state);
	memset(&src, 0, sizeof(src));
	memset(&dst, 0, sizeof(dst));
	src.fm = fmon_new("src-qemu");
	dst.fm = fmon_new("dst-qemu");
	fmon_qemu_add(&src.q, "vm", src.fm);
	fmon_qemu_add(&dst.q, "vm", dst.fm);
	assert_int_equal(mgmt_driver_init(&src.drv, "src", &fmon_qemu_ops, &src.q), 0);
	assert_int_equal(mgmt_driver_init(&dst.drv, "dst", &fmon_qemu_ops, &dst.q), 0);
	src.drv.job_wait_ms = dst.drv.job_wait_ms = 300;
	return 0;
}

static int drv_teardown(void **state)
{
	mgmt_driver_destroy(&src.drv);
	mgmt_driver_destroy(&dst.drv);
	fmon_free(src.fm);
	fmon_free(dst.fm);
	return teardown(state);
}

static void test_domain_eof_stops_in_worker(void **state)
{
	struct mgmt_domain_info info;

	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect_eof(src.fm, "query-status", NULL);
	assert_int_equal(mgmt_domain_create(&src.drv, "vm", false), 0);
	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);
	assert_true(info.active);
	assert_int_equal(mgmt_domain_query(&src.drv, "vm", NULL, 0), -ECONNRESET);
	assert_non_null(strstr(mgmt_last_error(), "domain is no longer running"));
	/* a transient domain is gone once the worker stopped it (the EOF is
	 * queued by the event thread after the command failed: poll) */
	for (int i = 0; i < 2000 && mgmt_domain_get_info(&src.drv, "vm", &info) == 0; i++) {
		mgmt_worker_flush(&src.drv);
		usleep(1000);
	}
	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), -ENOENT);
	assert_int_equal(nviolations(), 0);
}

static void test_domain_shutdown_event(void **state)
{
	struct mgmt_domain_info info;

	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	fmon_event(src.fm, "SHUTDOWN", NULL);
	assert_int_equal(mgmt_domain_create(&src.drv, "vm", true), 0);
	for (int i = 0; i < 2000; i++) {
		mgmt_worker_flush(&src.drv);
		assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);
		if (!info.active)
			break;
		usleep(1000);
	}
	assert_false(info.active);
	assert_true(info.got_shutdown);
	assert_true(fmon_killed(src.fm));
}

/* The source's and the destination's scripts of a migration that completes. */
static void script_migration(bool query_between)
{
	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	if (query_between)
		fmon_expect(src.fm, "query-status", NULL, "status=running");
	fmon_expect(src.fm, "migrate", "uri=mem:mig", NULL);
	fmon_event(src.fm, "MIGRATION", "status=active");
	fmon_event(src.fm, "MIGRATION", "status=completed");
	fmon_expect(dst.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(dst.fm, "migrate-incoming", NULL, "uri=mem:mig");
	fmon_event(dst.fm, "MIGRATION", "status=completed");
	fmon_expect(dst.fm, "cont", NULL, NULL);
}

static void check_migrated(void)
{
	struct mgmt_domain_info info;

	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);	/* persistent */
	assert_false(info.active);
	assert_int_equal(info.async, MGMT_ASYNC_NONE);
	assert_int_equal(mgmt_domain_get_info(&dst.drv, "vm", &info), 0);
	assert_true(info.active);
	assert_false(info.paused);
	assert_int_equal(info.async, MGMT_ASYNC_NONE);
	assert_true(fmon_killed(src.fm));
	assert_int_equal(fmon_unused(src.fm), 0);
	assert_int_equal(fmon_unused(dst.fm), 0);
	assert_int_equal(nviolations(), 0);
}

static void test_migration_managed_steps(void **state)
{
	struct mgmt_domain_info info;
	char uri[64];

	script_migration(true);
	assert_int_equal(mgmt_domain_create(&src.drv, "vm", true), 0);
	assert_int_equal(mgmt_migrate_begin(&src.drv, "vm"), 0);
	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);
	assert_int_equal(info.async, MGMT_ASYNC_MIGRATION_OUT);
	assert_int_equal(info.phase, MGMT_PHASE_BEGIN3);
	/* between the calls: query gets in, modify does not (the async mask) */
	assert_int_equal(mgmt_domain_query(&src.drv, "vm", NULL, 0), 0);
	assert_int_equal(mgmt_domain_modify(&src.drv, "vm"), -ETIMEDOUT);
	assert_non_null(strstr(mgmt_last_error(), "cannot acquire state change lock (held by migrate-begin async=migration-out)"));
	assert_int_equal(mgmt_migrate_prepare(&dst.drv, "vm", uri, sizeof(uri)), 0);
	assert_string_equal(uri, "mem:mig");
	assert_int_equal(mgmt_migrate_perform(&src.drv, "vm", uri), 0);
	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);
	assert_int_equal(info.phase, MGMT_PHASE_PERFORM3_DONE);
	/* a second Perform would go backwards */
	assert_int_equal(mgmt_migrate_perform(&src.drv, "vm", uri), -EINVAL);
	assert_non_null(strstr(mgmt_last_error(), "going backwards"));
	assert_int_equal(mgmt_migrate_finish(&dst.drv, "vm", 0), 0);
	assert_int_equal(mgmt_migrate_confirm(&src.drv, "vm", 0), 0);
	check_migrated();
	/* the job is over: Confirm again is refused */
	assert_int_equal(mgmt_migrate_confirm(&src.drv, "vm", 0), -EINVAL);
	assert_non_null(strstr(mgmt_last_error(), "is not being migrated"));
}

static void test_migration_p2p_local_peer(void **state)
{
	struct mgmt_remote peer;

	script_migration(false);
	mgmt_remote_local_init(&peer, &dst.drv);
	assert_int_equal(mgmt_domain_create(&src.drv, "vm", true), 0);
	assert_int_equal(mgmt_migrate_p2p(&src.drv, "vm", &peer), 0);
	check_migrated();
}

static void test_migration_failed_resumes_source(void **state)
{
	struct mgmt_remote peer;
	struct mgmt_domain_info info;

	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(src.fm, "migrate", NULL, NULL);
	fmon_event(src.fm, "MIGRATION", "status=failed");
	fmon_expect(src.fm, "cont", NULL, NULL);
	fmon_expect(dst.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(dst.fm, "migrate-incoming", NULL, "uri=mem:mig");
	mgmt_remote_local_init(&peer, &dst.drv);
	assert_int_equal(mgmt_domain_create(&src.drv, "vm", true), 0);
	assert_int_equal(mgmt_migrate_p2p(&src.drv, "vm", &peer), -EIO);
	assert_non_null(strstr(mgmt_last_error(), "migration failed"));
	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);
	assert_true(info.active);
	assert_int_equal(info.async, MGMT_ASYNC_NONE);
	/* the destination killed its QEMU and forgot the domain */
	assert_int_equal(mgmt_domain_get_info(&dst.drv, "vm", &info), -ENOENT);
	assert_true(fmon_killed(dst.fm));
	assert_int_equal(nviolations(), 0);
}

struct perform_arg {
	const char *uri;
	int ret;
	char err[MGMT_ERROR_MAX];
};

static void *perform_thread(void *arg)
{
	struct perform_arg *p = arg;

	p->ret = mgmt_migrate_perform(&src.drv, "vm", p->uri);
	mgmt_error_copy(p->err, sizeof(p->err));
	return NULL;
}

static void test_migration_destroy_during_perform(void **state)
{
	struct perform_arg p = { .uri = "mem:mig" };
	struct mgmt_domain_info info;
	pthread_t t;

	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(src.fm, "migrate", NULL, NULL);	/* never completes */
	assert_int_equal(mgmt_domain_create(&src.drv, "vm", true), 0);
	assert_int_equal(mgmt_migrate_begin(&src.drv, "vm"), 0);
	pthread_create(&t, NULL, perform_thread, &p);
	for (int i = 0; i < 2000 && fmon_nreceived(src.fm) < 2; i++)
		usleep(1000);
	/* destroy is in every async mask: kill, job, stop; Perform wakes */
	assert_int_equal(mgmt_domain_destroy(&src.drv, "vm"), 0);
	pthread_join(t, NULL);
	assert_int_equal(p.ret, -ESRCH);
	assert_non_null(strstr(p.err, "domain is no longer running"));
	assert_int_equal(mgmt_migrate_confirm(&src.drv, "vm", p.ret), 0);
	assert_int_equal(mgmt_domain_get_info(&src.drv, "vm", &info), 0);
	assert_false(info.active);
	assert_int_equal(info.async, MGMT_ASYNC_NONE);
	mgmt_worker_flush(&src.drv);
	assert_int_equal(nviolations(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_monitor_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_error_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_events_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_eof_during_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_half_reply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_monitor_close_fails_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_unexpected_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_argument_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fake_unused_silent_when_done, setup, teardown),
		cmocka_unit_test_setup_teardown(test_domain_eof_stops_in_worker, drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(test_domain_shutdown_event, drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(test_migration_managed_steps, drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(test_migration_p2p_local_peer, drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(test_migration_failed_resumes_source, drv_setup, drv_teardown),
		cmocka_unit_test_setup_teardown(test_migration_destroy_during_perform, drv_setup, drv_teardown),
	};

	signal(SIGALRM, watchdog_fired);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
