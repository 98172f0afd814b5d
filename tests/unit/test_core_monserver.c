/*
 * Unit tests of core/migration/monserver.c, QEMU's monitor: a raw client
 * (mon_client.h) over in-memory channels sends commands and watches the
 * events: query-status, stop/cont, errors, a whole migration between two
 * monitors of this process driven only by commands, migrate_cancel, quit.
 *
 * A "pump" thread is the process's main thread: it ran main_loop_init and
 * runs the main loop (the migration's cleanup BH) for the whole run; the
 * test thread is the management layer. SIGALRM aborts a hanging test.
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
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"
#include "mon_client.h"
#include "monserver.h"
#include "ram.h"
#include "vm.h"

#define NPAGES 64
#define TEST_LIMIT_S 20			/* the watchdog: a hang aborts the run */
#define SLOW_BANDWIDTH "65536"		/* ~16 pages/s: 64 pages take ~4 s */

static void watchdog_fired(int sig)
{
	static const char msg[] = "core_monserver: test still running after the time limit\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the main loop's thread ------------------------------------------------ */

static pthread_t pump;
static atomic_bool pump_stop;
static sem_t pump_ready;

static void *pump_main(void *opaque)
{
	main_loop_init();
	sem_post(&pump_ready);
	while (!atomic_load(&pump_stop))
		main_loop_wait(5);
	main_loop_cleanup();
	return NULL;
}

/* ---- one "QEMU": a guest and its monitor --------------------------------------- */

struct qemu {
	struct guest_ram ram;
	struct vm vm;
	struct monserver *srv;
	struct mon_client cl;
	struct channel *client_end;
	bool incoming;
};

static void qemu_open(struct qemu *q, bool incoming)
{
	struct monserver_config cfg = { .vm = &q->vm, .ram = &q->ram, .incoming = incoming };
	struct channel *server_end;

	memset(q, 0, sizeof(*q));
	q->incoming = incoming;
	assert_int_equal(ram_init(&q->ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&q->vm, &q->ram, incoming ? 0 : 2, incoming ? 2 : 1,
				 incoming ? RUN_STATE_INMIGRATE : RUN_STATE_RUNNING), 0);
	if (!incoming) {
		bql_lock();
		migration_object_init(&q->vm, &q->ram);
		bql_unlock();
	}
	assert_int_equal(mem_channel_pair(&q->client_end, &server_end), 0);
	assert_int_equal(monserver_start(&cfg, server_end, &q->srv), 0);
	channel_unref(server_end);	/* the server holds its own */
	mon_client_init(&q->cl, q->client_end, incoming ? "dst" : "src");
}

/* The source's migration object goes away: shut down, the cleanup BH runs. */
static void migration_finalize_wait(void)
{
	bql_lock();
	migration_shutdown();
	bql_unlock();
	for (int i = 0; migrate_get_current() && i < 2000; i++)
		sleep_ms(5);
	assert_null(migrate_get_current());
}

static void qemu_close(struct qemu *q)
{
	channel_close(q->client_end);
	if (!q->incoming)
		migration_finalize_wait();
	monserver_free(q->srv);
	channel_unref(q->client_end);
	vm_destroy(&q->vm);
	ram_destroy(&q->ram);
}

/* Send name with up to 4 key, value pairs (NULL-terminated in ap). */
static int vcmd(struct qemu *q, struct mon_msg *r, const char *name, va_list ap)
{
	const char *k[4] = { 0 }, *v[4] = { 0 };
	int i = 0;

	while (i < 4 && (k[i] = va_arg(ap, const char *)))
		v[i++] = va_arg(ap, const char *);
	return mon_client_cmd(&q->cl, r, name, k[0], v[0], k[1], v[1], k[2], v[2], k[3], v[3], NULL);
}

/* A command that must succeed; returns its reply. */
static struct mon_msg ok(struct qemu *q, const char *name, ...)
{
	struct mon_msg r;
	va_list ap;

	va_start(ap, name);
	int ret = vcmd(q, &r, name, ap);
	va_end(ap);
	if (ret)
		fail_msg("%s: %s: %d %s %s", q->cl.name, name, ret, r.name, mon_msg_get(&r, "desc") ?: "");
	return r;
}

/* A command that must fail with class cls and desc_part in its desc. */
static void refused(struct qemu *q, const char *cls, const char *desc_part, const char *name, ...)
{
	struct mon_msg r;
	va_list ap;

	va_start(ap, name);
	int ret = vcmd(q, &r, name, ap);
	va_end(ap);
	assert_int_equal(ret, 1);
	assert_string_equal(r.name, cls);
	assert_non_null(mon_msg_get(&r, "desc"));
	if (!strstr(mon_msg_get(&r, "desc"), desc_part))
		fail_msg("%s: desc \"%s\" lacks \"%s\"", name, mon_msg_get(&r, "desc"), desc_part);
}

static void expect_field(const struct mon_msg *m, const char *key, const char *val)
{
	const char *got = mon_msg_get(m, key);

	if (!got || strcmp(got, val))
		fail_msg("%s: \"%s\", expected \"%s\"", key, got ? got : "(none)", val);
}

static void wait_event(struct qemu *q, const char *ev)
{
	int i = mon_client_wait_event(&q->cl, ev);

	if (i < 0)
		fail_msg("%s: no event %s (%d); %d seen, last %s", q->cl.name, ev, i, q->cl.nevents,
			 q->cl.nevents ? q->cl.events[q->cl.nevents - 1] : "-");
}

static int setup(void **state)
{
	alarm(TEST_LIMIT_S);
	return 0;
}

static int teardown(void **state)
{
	alarm(0);
	return 0;
}

/* ---- the tests ------------------------------------------------------------------ */

static void test_query_status(void **state)
{
	struct qemu src, dst;
	struct mon_msg r;

	qemu_open(&src, false);
	qemu_open(&dst, true);
	r = ok(&src, "query-status", NULL);
	expect_field(&r, "status", "running");
	expect_field(&r, "running", "true");
	r = ok(&dst, "query-status", NULL);
	expect_field(&r, "status", "inmigrate");
	expect_field(&r, "running", "false");
	r = ok(&src, "query-migrate", NULL);
	expect_field(&r, "status", "none");
	r = ok(&dst, "query-migrate", NULL);
	expect_field(&r, "status", "none");
	qemu_close(&dst);
	qemu_close(&src);
}

static void test_stop_cont_events(void **state)
{
	struct qemu q;
	struct mon_msg r;

	qemu_open(&q, false);
	ok(&q, "stop", NULL);
	wait_event(&q, "STOP:paused");
	r = ok(&q, "query-status", NULL);
	expect_field(&r, "status", "paused");
	ok(&q, "stop", NULL);			/* stopped already: nothing */
	uint64_t starts = vm_start_count(&q.vm);
	ok(&q, "cont", NULL);
	wait_event(&q, "RESUME");
	r = ok(&q, "query-status", NULL);
	expect_field(&r, "status", "running");
	ok(&q, "cont", NULL);			/* running already: no second start */
	assert_int_equal(vm_start_count(&q.vm), starts + 1);
	r = ok(&q, "query-status", NULL);	/* the events came in order, once each */
	assert_int_equal(q.cl.nevents, 2);
	assert_string_equal(q.cl.events[0], "STOP:paused");
	assert_string_equal(q.cl.events[1], "RESUME");
	qemu_close(&q);
}

static void test_errors(void **state)
{
	struct qemu src, dst;
	struct mon_msg r;
	static const char junk[] = "{\"execute\":\n";

	qemu_open(&src, false);
	qemu_open(&dst, true);
	refused(&src, "CommandNotFound", "frobnicate", "frobnicate", NULL);
	refused(&src, "GenericError", "'uri' is missing", "migrate", NULL);
	refused(&src, "GenericError", "Invalid parameter", "migrate", "uri", "mem:x", "multifd-channels", "x", NULL);
	refused(&src, "GenericError", "Invalid parameter", "migrate", "uri", "mem:x", "return-path", "yes", NULL);
	refused(&src, "GenericError", "not started as a migration destination", "migrate-incoming", "uri",
		"mem:nowhere", NULL);
	refused(&src, "GenericError", "Connection refused", "migrate", "uri", "mem:nobody-listens", NULL);
	refused(&dst, "GenericError", "migration destination", "migrate", "uri", "mem:x", NULL);
	refused(&dst, "GenericError", "cannot continue a guest in state inmigrate", "cont", NULL);
	refused(&dst, "GenericError", "waits for an incoming migration", "stop", NULL);
	/* a line that is no command: an error with id 0, and the server goes on */
	assert_int_equal(channel_write_all(src.client_end, junk, sizeof(junk) - 1), 0);
	assert_int_equal(mon_client_read(&src.cl, &r), 0);
	assert_int_equal(r.kind, MON_ERR);
	assert_int_equal(r.id, 0);
	r = ok(&src, "query-status", NULL);
	expect_field(&r, "status", "running");
	ok(&src, "migrate_cancel", NULL);	/* nothing to cancel: ok, as QEMU */
	qemu_close(&dst);
	qemu_close(&src);
}

/* The whole migration, driven by the two monitors only. */
static void test_migration_by_monitor(void **state)
{
	struct qemu src, dst;
	struct mon_msg r;

	qemu_open(&src, false);
	qemu_open(&dst, true);
	ok(&dst, "migrate-incoming", "uri", "mem:mon-mig", NULL);
	refused(&dst, "GenericError", "already started", "migrate-incoming", "uri", "mem:mon-mig2", NULL);
	ok(&src, "migrate", "uri", "mem:mon-mig", "return-path", "true", NULL);
	wait_event(&src, "MIGRATION:completed");
	wait_event(&dst, "MIGRATION:completed");

	/* the source's events, in order */
	int setup = mon_client_find(&src.cl, "MIGRATION:setup", 0);
	int active = mon_client_find(&src.cl, "MIGRATION:active", 0);
	int stop = mon_client_find(&src.cl, "STOP:finish-migrate", 0);
	int device = mon_client_find(&src.cl, "MIGRATION:device", 0);
	int done = mon_client_find(&src.cl, "MIGRATION:completed", 0);
	assert_true(setup >= 0 && setup < active && active < stop && stop < device && device < done);
	/* the destination's: accepted, the guest started, completed */
	int dactive = mon_client_find(&dst.cl, "MIGRATION:active", 0);
	int resume = mon_client_find(&dst.cl, "RESUME", 0);
	assert_true(dactive >= 0 && dactive < resume && resume < mon_client_find(&dst.cl, "MIGRATION:completed", 0));

	r = ok(&src, "query-status", NULL);
	expect_field(&r, "status", "postmigrate");
	r = ok(&dst, "query-status", NULL);
	expect_field(&r, "status", "running");
	r = ok(&src, "query-migrate", NULL);
	expect_field(&r, "status", "completed");
	assert_true(strtoull(mon_msg_get(&r, "pages-sent"), NULL, 10) >= NPAGES);
	r = ok(&dst, "query-migrate", NULL);
	expect_field(&r, "status", "completed");
	assert_int_equal(vm_start_count(&dst.vm), 1);
	assert_int_equal(ram_check(&dst.ram, NULL), 0);
	/* no vCPU on the destination: its memory is what was loaded */
	assert_true(ram_hash(&dst.ram) == ram_hash(&src.ram));

	ok(&dst, "quit", NULL);
	assert_int_equal(mon_client_wait_eof(&dst.cl), 0);
	assert_true(mon_client_find(&dst.cl, "SHUTDOWN", 0) > mon_client_find(&dst.cl, "STOP:shutdown", 0));
	ok(&src, "quit", NULL);
	assert_int_equal(mon_client_wait_eof(&src.cl), 0);
	assert_int_equal(runstate_get(&src.vm), RUN_STATE_SHUTDOWN);
	qemu_close(&dst);
	qemu_close(&src);
}

/* The destination's query-migrate status, polled until it is want (2 s). */
static void wait_dst_status(struct qemu *dst, const char *want)
{
	for (int i = 0; i < 400; i++) {
		struct mon_msg r = ok(dst, "query-migrate", NULL);
		if (strcmp(mon_msg_get(&r, "status"), want) == 0)
			return;
		sleep_ms(5);
	}
	fail_msg("the destination never reached %s", want);
}

/* Postcopy through the monitors: the switch, a broken channel
 * (migrate-pause), postcopy-paused on both sides with the guest running on
 * the destination, migrate-recover and migrate resume=true, completed. */
static void test_postcopy_pause_recover_by_monitor(void **state)
{
	struct qemu src, dst;
	struct mon_msg r;

	qemu_open(&src, false);
	qemu_open(&dst, true);
	ok(&dst, "migrate-incoming", "uri", "mem:mon-pc", NULL);
	refused(&src, "GenericError", "postcopy=true", "migrate-start-postcopy", NULL);
	refused(&dst, "GenericError", "not postcopy-paused", "migrate-recover", "uri", "mem:mon-pc-rec", NULL);
	ok(&src, "migrate", "uri", "mem:mon-pc", "return-path", "true", "postcopy", "true", "max-bandwidth",
	   "262144", NULL);
	ok(&src, "migrate-start-postcopy", NULL);
	wait_event(&src, "MIGRATION:postcopy-active");
	/* the destination runs the guest (a break before SEC_POSTCOPY_RUN arrived
	 * would fail it there: the source turns postcopy-active before sending it) */
	wait_dst_status(&dst, "postcopy-active");
	ok(&src, "migrate-pause", NULL);
	wait_event(&src, "MIGRATION:postcopy-paused");
	wait_dst_status(&dst, "postcopy-paused");
	r = ok(&dst, "query-status", NULL);
	expect_field(&r, "status", "running");		/* alive on the destination */
	r = ok(&src, "query-status", NULL);
	expect_field(&r, "running", "false");
	refused(&src, "GenericError", "not in postcopy-active", "migrate-pause", NULL);
	ok(&dst, "migrate-recover", "uri", "mem:mon-pc-rec", NULL);
	ok(&src, "migrate", "uri", "mem:mon-pc-rec", "resume", "true", NULL);
	wait_event(&src, "MIGRATION:postcopy-recover");
	wait_event(&src, "MIGRATION:completed");
	wait_event(&dst, "MIGRATION:completed");
	r = ok(&src, "query-migrate", NULL);
	expect_field(&r, "status", "completed");
	expect_field(&r, "postcopy-pauses", "1");
	r = ok(&dst, "query-migrate", NULL);
	expect_field(&r, "status", "completed");
	assert_int_equal(vm_start_count(&dst.vm), 1);
	/* no vCPU on the destination: its memory is what arrived */
	assert_true(ram_hash(&dst.ram) == ram_hash(&src.ram));
	ok(&dst, "quit", NULL);
	assert_int_equal(mon_client_wait_eof(&dst.cl), 0);
	ok(&src, "quit", NULL);
	assert_int_equal(mon_client_wait_eof(&src.cl), 0);
	qemu_close(&dst);
	qemu_close(&src);
}

static void test_migrate_cancel(void **state)
{
	struct qemu src, dst;
	struct mon_msg r;

	qemu_open(&src, false);
	qemu_open(&dst, true);
	ok(&dst, "migrate-incoming", "uri", "mem:mon-cancel", NULL);
	ok(&src, "migrate", "uri", "mem:mon-cancel", "return-path", "true", "max-bandwidth", SLOW_BANDWIDTH,
	   NULL);
	wait_event(&src, "MIGRATION:active");
	ok(&src, "migrate_cancel", NULL);
	wait_event(&src, "MIGRATION:cancelled");
	wait_event(&dst, "MIGRATION:failed");
	assert_true(mon_client_find(&src.cl, "MIGRATION:cancelling", 0) >= 0);
	r = ok(&src, "query-status", NULL);
	expect_field(&r, "status", "running");
	r = ok(&src, "query-migrate", NULL);
	expect_field(&r, "status", "cancelled");
	r = ok(&dst, "query-status", NULL);
	expect_field(&r, "status", "inmigrate");
	r = ok(&dst, "query-migrate", NULL);
	expect_field(&r, "status", "failed");
	assert_int_equal(vm_start_count(&dst.vm), 0);
	qemu_close(&dst);
	qemu_close(&src);
}

static void test_quit_gives_eof(void **state)
{
	struct qemu q;
	struct mon_msg r;

	qemu_open(&q, false);
	r = ok(&q, "quit", NULL);
	assert_int_equal(r.kind, MON_RET);
	assert_int_equal(mon_client_wait_eof(&q.cl), 0);
	assert_true(mon_client_find(&q.cl, "STOP:shutdown", 0) >= 0);
	assert_true(mon_client_find(&q.cl, "SHUTDOWN", 0) >= 0);
	for (int i = 0; !monserver_finished(q.srv) && i < 1000; i++)
		sleep_ms(2);
	assert_true(monserver_finished(q.srv));
	assert_true(monserver_quit_requested(q.srv));
	assert_int_equal(runstate_get(&q.vm), RUN_STATE_SHUTDOWN);
	qemu_close(&q);
}

/* A destination told to quit while it waits for the stream: the accept is
 * cancelled, the migration reported failed, then SHUTDOWN and EOF. */
static void test_quit_while_incoming(void **state)
{
	struct qemu dst;

	qemu_open(&dst, true);
	ok(&dst, "migrate-incoming", "uri", "mem:mon-never", NULL);
	ok(&dst, "quit", NULL);
	assert_int_equal(mon_client_wait_eof(&dst.cl), 0);
	int failed = mon_client_find(&dst.cl, "MIGRATION:failed", 0);
	assert_true(failed >= 0 && failed < mon_client_find(&dst.cl, "SHUTDOWN", 0));
	assert_int_equal(runstate_get(&dst.vm), RUN_STATE_SHUTDOWN);
	qemu_close(&dst);
}

/* The client hangs up: the server stops serving, the guest is untouched. */
static void test_client_hangs_up(void **state)
{
	struct qemu q;

	qemu_open(&q, false);
	ok(&q, "query-status", NULL);
	channel_close(q.client_end);
	for (int i = 0; !monserver_finished(q.srv) && i < 1000; i++)
		sleep_ms(2);
	assert_true(monserver_finished(q.srv));
	assert_false(monserver_quit_requested(q.srv));
	assert_int_equal(runstate_get(&q.vm), RUN_STATE_RUNNING);
	qemu_close(&q);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_query_status),
		T(test_stop_cont_events),
		T(test_errors),
		T(test_migration_by_monitor),
		T(test_migrate_cancel),
		T(test_postcopy_pause_recover_by_monitor),
		T(test_quit_gives_eof),
		T(test_quit_while_incoming),
		T(test_client_hangs_up),
	};
	int ret;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog_fired);
	mem_channel_register();
	sem_init(&pump_ready, 0, 0);
	pthread_create(&pump, NULL, pump_main, NULL);
	sem_wait(&pump_ready);
	ret = cmocka_run_group_tests_name("core_monserver", tests, NULL, NULL);
	atomic_store(&pump_stop, true);
	pthread_join(pump, NULL);
	return ret;
}
