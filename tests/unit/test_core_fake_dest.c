/*
 * Unit tests of fakes/fake_dest.c: the real source (migration.c) migrates
 * to the fake over "mem:" channels, with and without scripted trouble; and
 * the fake's strictness on hand-written streams.
 *
 * The test process is the main thread and holds the BQL except inside
 * main_loop_wait(). Every test starts the main loop and a guest afresh and
 * leaves nothing behind: its teardown frees the fake (which wakes and joins
 * it), shuts migration down and runs the main loop until the migration
 * object is finalized.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "fake_dest.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"
#include "ram.h"
#include "vm.h"
#include "wire.h"

#define NPAGES 16
#define LOOP_LIMIT_MS 1500		/* any wait on the core or the fake */
#define TEST_LIMIT_S 5			/* the watchdog: a hang aborts the run */
/* one page per 100 ms slice of the source's bandwidth limit: 16 pages take
 * ~1.6 s, so a cancel after page 2 surely comes while the source is active */
#define ONE_PAGE_PER_SLICE ((RAM_PAGE_SIZE + 9) * 10)

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void watchdog_fired(int sig)
{
	static const char msg[] = "core_fake_dest: test still running after the time limit\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

/* ---- the fixture --------------------------------------------------------- */

static struct fixture {
	struct guest_ram ram;
	struct vm vm;
	struct channel_listener *listener;
	char uri[64];
	struct fake_dest *fake;
	uint64_t starts, stops;		/* the guest's counters before the migration */
} fx;

static int setup(void **state)
{
	static unsigned seq;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	alarm(TEST_LIMIT_S);
	main_loop_init();
	bql_lock();
	if (mem_channel_register() || ram_init(&fx.ram, NPAGES * RAM_PAGE_SIZE) ||
	    vm_init(&fx.vm, &fx.ram, 1, 3, RUN_STATE_RUNNING))
		return -1;
	migration_object_init(&fx.vm, &fx.ram);
	snprintf(fx.uri, sizeof(fx.uri), "mem:fdest-%d-%u", (int)getpid(), seq++);
	if (channel_listen(fx.uri, &fx.listener))
		return -1;
	fx.starts = vm_start_count(&fx.vm);
	fx.stops = vm_stop_count(&fx.vm);
	return 0;
}

static int teardown(void **state)
{
	int64_t deadline = now_ms() + LOOP_LIMIT_MS;

	(void)state;
	if (!bql_locked())
		bql_lock();
	fake_dest_free(fx.fake);	/* wakes a stalled fake; the source sees its end go */
	fx.fake = NULL;
	migration_shutdown();
	while (migrate_get_current()) {
		if (now_ms() > deadline) {
			fprintf(stderr, "core_fake_dest: the migration object was never finalized\n");
			abort();
		}
		main_loop_wait(10);
	}
	while (main_loop_wait(0) > 0)
		;
	channel_listener_close(fx.listener);
	vm_destroy(&fx.vm);
	ram_destroy(&fx.ram);
	bql_unlock();
	main_loop_cleanup();
	alarm(0);
	return 0;
}

/* ---- driving the source ------------------------------------------------- */

static bool status_terminal(MigrationStatus st)
{
	return st == MIGRATION_STATUS_COMPLETED || st == MIGRATION_STATUS_FAILED ||
	       st == MIGRATION_STATUS_CANCELLED;
}

/* Runs the main loop until the status is terminal and an iteration ran nothing. */
static void run_until_done(struct mig_info *info)
{
	int64_t deadline = now_ms() + LOOP_LIMIT_MS;

	for (;;) {
		int ran = main_loop_wait(10);

		assert_int_equal(qmp_query_migrate(info), 0);
		if (status_terminal(info->status) && ran == 0 && main_loop_wait(0) == 0)
			return;
		if (now_ms() > deadline)
			fail_msg("migration still %s after %d ms", migration_status_name(info->status),
				 LOOP_LIMIT_MS);
	}
}

/* A fake with these rules on the listener, then qmp_migrate to it. */
static void start(const struct fake_dest_rule *rules, int nrules, const struct mig_params *params)
{
	fx.fake = fake_dest_new(rules, nrules);
	assert_non_null(fx.fake);
	assert_int_equal(fake_dest_start_listener(fx.fake, fx.listener), 0);
	assert_int_equal(qmp_migrate(fx.uri, params), 0);
}

/* The guest runs on the source, and was resumed once for every stop. */
static void expect_guest_back(void)
{
	uint64_t starts = vm_start_count(&fx.vm) - fx.starts;
	uint64_t stops = vm_stop_count(&fx.vm) - fx.stops;

	assert_true(runstate_is_running(&fx.vm));
	if (starts != stops || starts > 1)
		fail_msg("the migration stopped the guest %llu times and started it %llu times",
			 (unsigned long long)stops, (unsigned long long)starts);
}

/* A failure after the end of the stream went out with no answer: the
 * destination may run the guest, so the source keeps it stopped (stopped
 * once, never started) and says the outcome is unknown. */
static void expect_guest_held(const struct mig_info *info)
{
	assert_true(info->outcome_unknown);
	assert_false(runstate_is_running(&fx.vm));
	assert_int_equal(vm_stop_count(&fx.vm) - fx.stops, 1);
	assert_int_equal(vm_start_count(&fx.vm) - fx.starts, 0);
}

static const struct mig_params with_rp = { .return_path = true };

/* ---- whole migrations ------------------------------------------------------ */

static void test_no_rules_completes(void **state)
{
	const struct fake_dest_record *r;
	struct mig_info info;

	(void)state;
	start(NULL, 0, &with_rp);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_COMPLETED);
	assert_int_equal(fake_dest_wait(fx.fake), 0);
	r = fake_dest_record(fx.fake);
	assert_int_equal(r->sections[SEC_RAM_SETUP], 1);
	assert_int_equal(r->ram_bytes, NPAGES * RAM_PAGE_SIZE);
	assert_int_equal(r->sections[SEC_OPEN_RETURN_PATH], 1);
	assert_true(r->pages >= NPAGES);
	assert_int_equal(r->pages, r->sections[SEC_RAM_PAGE]);
	assert_int_equal(r->pages, info.pages_sent);
	assert_true(r->sections[SEC_ITER_END] >= 1);
	assert_int_equal(r->acks, r->sections[SEC_ITER_END]);
	assert_int_equal(r->acks, info.acks);
	assert_int_equal(r->pongs, r->sections[SEC_PING]);
	assert_int_equal(r->sections[SEC_DEVICE_STATE], 1);
	assert_int_equal(r->sections[SEC_EOF], 1);
	assert_int_equal(r->shuts, 1);
	assert_int_equal(r->shut_status, 0);
	assert_int_equal(r->rp_write_errors, 0);
	assert_int_equal(r->ntaken, 0);
	assert_false(r->ended_by_script);
	assert_true(r->done);
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_POSTMIGRATE);
}

static void test_error_at_eof(void **state)
{
	const struct fake_dest_rule rules[] = { { FDA_EOF, 1, FDD_ERROR, EIO } };
	const struct fake_dest_record *r;
	struct mig_info info;

	(void)state;
	start(rules, 1, &with_rp);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_equal(info.error, -EIO);
	assert_true(runstate_is_running(&fx.vm));
	/* the source stopped the guest for the last pass: exactly one resume */
	assert_int_equal(vm_stop_count(&fx.vm) - fx.stops, 1);
	assert_int_equal(vm_start_count(&fx.vm) - fx.starts, 1);
	assert_int_equal(fake_dest_wait(fx.fake), 0);
	r = fake_dest_record(fx.fake);
	assert_int_equal(r->sections[SEC_EOF], 1);
	assert_int_equal(r->shuts, 1);
	assert_int_equal(r->shut_status, EIO);
	assert_int_equal(r->ntaken, 1);
	assert_int_equal(r->taken[0].at, FDA_EOF);
	assert_int_equal(r->taken[0].action, FDD_ERROR);
	assert_true(r->ended_by_script);
}

/* The close must come while the source is still sending pages. Unthrottled,
 * the whole stream (16 pages, a little over the mem channel's 64 KiB) may be
 * in the channel before the fake reads page 3: the end of the stream is then
 * out with no answer, and the source rightly keeps its guest stopped. One
 * page per 100 ms slice keeps the source in its first pass. */
static void test_close_at_page_3(void **state)
{
	const struct fake_dest_rule rules[] = { { FDA_PAGE, 3, FDD_CLOSE, 0 } };
	const struct mig_params slow = { .return_path = true, .max_bandwidth = ONE_PAGE_PER_SLICE };
	const struct fake_dest_record *r;
	struct mig_info info;

	(void)state;
	start(rules, 1, &slow);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_not_equal(info.error, 0);
	expect_guest_back();
	assert_int_equal(fake_dest_wait(fx.fake), 0);
	r = fake_dest_record(fx.fake);
	assert_int_equal(r->pages, 3);
	assert_int_equal(r->ntaken, 1);
	assert_int_equal(r->taken[0].at, FDA_PAGE);
	assert_int_equal(r->taken[0].n, 3);
	assert_int_equal(r->taken[0].action, FDD_CLOSE);
	assert_int_equal(r->shuts, 0);
	assert_int_equal(r->sections[SEC_EOF], 0);
}

static void test_bad_message_at_iter_end(void **state)
{
	const struct fake_dest_rule rules[] = { { FDA_ITER_END, 1, FDD_BAD_MESSAGE, 0 } };
	const struct fake_dest_record *r;
	struct mig_info info;
	int ret;

	(void)state;
	start(rules, 1, &with_rp);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_equal(info.error, -EPROTO);
	/* the bad message reaches the return path before the end of the stream
	 * goes out (the guest comes back), or after it (held: unknown) */
	if (info.outcome_unknown)
		expect_guest_held(&info);
	else
		expect_guest_back();
	/* the fake goes on after the message: it reads the rest of the stream,
	 * or sees it cut short if the source gave up early */
	ret = fake_dest_wait(fx.fake);
	r = fake_dest_record(fx.fake);
	if (ret != 0 && ret != -EIO)
		fail_msg("the fake ended with %d (%s)", ret, r->why);
	assert_int_equal(r->bad_messages, 1);
	assert_int_equal(r->ntaken, 1);
	assert_int_equal(r->taken[0].action, FDD_BAD_MESSAGE);
	assert_false(r->ended_by_script);
}

static void test_stall_then_cancel(void **state)
{
	const struct fake_dest_rule rules[] = { { FDA_PAGE, 2, FDD_STALL, 0 } };
	const struct mig_params slow = { .return_path = true, .max_bandwidth = ONE_PAGE_PER_SLICE };
	const struct fake_dest_record *r;
	struct mig_info info;

	(void)state;
	start(rules, 1, &slow);
	assert_int_equal(fake_dest_wait_stalled(fx.fake, LOOP_LIMIT_MS), 0);
	assert_int_equal(qmp_migrate_cancel(), 0);
	fake_dest_release(fx.fake);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_CANCELLED);
	assert_true(runstate_is_running(&fx.vm));
	assert_int_equal(vm_stop_count(&fx.vm) - fx.stops, 0);
	assert_int_equal(vm_start_count(&fx.vm) - fx.starts, 0);
	/* released, the fake reads on and finds the stream cut short */
	assert_int_equal(fake_dest_wait(fx.fake), -EIO);
	r = fake_dest_record(fx.fake);
	assert_non_null(strstr(r->why, "truncated"));
	assert_int_equal(r->stalled, 0);
	assert_int_equal(r->ntaken, 1);
	assert_int_equal(r->taken[0].action, FDD_STALL);
	assert_true(r->pages >= 2 && r->pages < NPAGES);
	assert_int_equal(r->sections[SEC_EOF], 0);
}

/* The source waits for RP_SHUT in state device (cancel refused); a release
 * makes the fake hang up after it took the end of the stream: the source
 * fails, and keeps its guest stopped, since the destination may run it. */
static void test_no_shut_then_release(void **state)
{
	const struct fake_dest_rule rules[] = { { FDA_EOF, 1, FDD_NO_SHUT, 0 } };
	int64_t deadline = now_ms() + LOOP_LIMIT_MS;
	struct mig_info info;

	(void)state;
	start(rules, 1, &with_rp);
	while (fake_dest_record(fx.fake)->ntaken == 0) {
		if (now_ms() > deadline)
			fail_msg("the fake never reached SEC_EOF");
		main_loop_wait(5);
	}
	assert_int_equal(qmp_query_migrate(&info), 0);
	assert_int_equal(info.status, MIGRATION_STATUS_DEVICE);
	assert_int_equal(qmp_migrate_cancel(), -EBUSY);
	fake_dest_release(fx.fake);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	expect_guest_held(&info);
	assert_int_equal(fake_dest_wait(fx.fake), 0);
	assert_int_equal(fake_dest_record(fx.fake)->shuts, 0);
}

/* fake_dest_free wakes a stall that is never released and hangs up: the
 * source fails and keeps its guest. */
static void test_free_wakes_a_stall(void **state)
{
	const struct fake_dest_rule rules[] = { { FDA_RAM_SETUP, 1, FDD_STALL, 0 } };
	struct mig_info info;

	(void)state;
	start(rules, 1, &with_rp);
	assert_int_equal(fake_dest_wait_stalled(fx.fake, LOOP_LIMIT_MS), 0);
	fake_dest_free(fx.fake);
	fx.fake = NULL;
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	expect_guest_back();
}

static void test_multifd_completes(void **state)
{
	const struct mig_params mfd = { .return_path = true, .multifd_channels = 2 };
	const struct fake_dest_record *r;
	struct mig_info info;

	(void)state;
	start(NULL, 0, &mfd);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_COMPLETED);
	assert_int_equal(fake_dest_wait(fx.fake), 0);
	r = fake_dest_record(fx.fake);
	assert_int_equal(r->multifd_channels, 2);
	assert_int_equal(r->sections[SEC_MULTIFD_SETUP], 1);
	assert_int_equal(r->sections[SEC_RAM_PAGE], 0);
	assert_true(r->pages >= NPAGES);
	assert_int_equal(r->multifd_pages, r->pages);
	assert_int_equal(r->pages, info.pages_sent);
	/* one sync per iteration and one before the device state */
	assert_int_equal(r->multifd_syncs, r->sections[SEC_MULTIFD_SYNC]);
	assert_int_equal(r->multifd_syncs, r->sections[SEC_ITER_END] + 1);
	assert_int_equal(r->shuts, 1);
	assert_int_equal(r->shut_status, 0);
	assert_int_equal(r->rp_write_errors, 0);
}

/* ---- strictness, on hand-written streams ----------------------------------- */

struct stream {
	uint8_t b[256];
	size_t len;
};

static void put(struct stream *s, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		s->b[s->len++] = (uint8_t)(v >> (8 * i));
}

static void put_header(struct stream *s, uint32_t magic)
{
	put(s, magic, 4);
	put(s, MIG_VERSION, 4);
}

static void put_ram_setup(struct stream *s)
{
	put(s, SEC_RAM_SETUP, 1);
	put(s, NPAGES * RAM_PAGE_SIZE, 8);
	put(s, RAM_PAGE_SIZE, 4);
}

/* Feed s to a fake on a mem pair, hang up, and return fake_dest_wait's result. */
static int feed(const struct stream *s)
{
	struct channel *a, *b;
	int ret;

	fx.fake = fake_dest_new(NULL, 0);
	assert_non_null(fx.fake);
	assert_int_equal(mem_channel_pair(&a, &b), 0);
	assert_int_equal(fake_dest_start_channel(fx.fake, b), 0);
	channel_unref(b);
	/* the fake may hang up before reading it all: a short write is fine */
	channel_write_all(a, s->b, s->len);
	channel_close(a);
	ret = fake_dest_wait(fx.fake);
	channel_unref(a);
	return ret;
}

static void test_strict_bad_magic(void **state)
{
	struct stream s = { .len = 0 };

	(void)state;
	put_header(&s, 0x4d494758u);
	put_ram_setup(&s);
	assert_int_equal(feed(&s), -EPROTO);
	assert_non_null(strstr(fake_dest_record(fx.fake)->why, "bad header"));
}

static void test_strict_page_beyond_ram(void **state)
{
	struct stream s = { .len = 0 };

	(void)state;
	put_header(&s, MIG_MAGIC);
	put_ram_setup(&s);
	put(&s, SEC_RAM_PAGE, 1);
	put(&s, NPAGES, 8);
	assert_int_equal(feed(&s), -EINVAL);
	assert_non_null(strstr(fake_dest_record(fx.fake)->why, "beyond"));
}

static void test_strict_unknown_section(void **state)
{
	struct stream s = { .len = 0 };

	(void)state;
	put_header(&s, MIG_MAGIC);
	put_ram_setup(&s);
	put(&s, 0x42, 1);
	assert_int_equal(feed(&s), -EPROTO);
	assert_int_equal(fake_dest_record(fx.fake)->sections[SEC_RAM_SETUP], 1);
}

static void test_strict_truncated(void **state)
{
	struct stream s = { .len = 0 };

	(void)state;
	put_header(&s, MIG_MAGIC);
	put(&s, SEC_RAM_SETUP, 1);
	put(&s, NPAGES * RAM_PAGE_SIZE, 8);	/* the page size never comes */
	assert_int_equal(feed(&s), -EIO);
	assert_non_null(strstr(fake_dest_record(fx.fake)->why, "truncated"));
}

static void test_strict_page_before_setup(void **state)
{
	struct stream s = { .len = 0 };

	(void)state;
	put_header(&s, MIG_MAGIC);
	put(&s, SEC_RAM_PAGE, 1);
	put(&s, 0, 8);
	assert_int_equal(feed(&s), -EPROTO);
}

static void test_strict_multifd_without_listener(void **state)
{
	struct stream s = { .len = 0 };

	(void)state;
	put_header(&s, MIG_MAGIC);
	put_ram_setup(&s);
	put(&s, SEC_MULTIFD_SETUP, 1);
	put(&s, 2, 4);
	assert_int_equal(feed(&s), -EINVAL);
}

static void test_bad_rules_refused(void **state)
{
	const struct fake_dest_rule no_shut_early[] = { { FDA_PAGE, 1, FDD_NO_SHUT, 0 } };
	const struct fake_dest_rule error_zero[] = { { FDA_EOF, 1, FDD_ERROR, 0 } };
	const struct fake_dest_rule bad_at[] = { { FDA_COUNT, 1, FDD_STALL, 0 } };

	(void)state;
	errno = 0;
	assert_null(fake_dest_new(no_shut_early, 1));
	assert_int_equal(errno, EINVAL);
	assert_null(fake_dest_new(error_zero, 1));
	assert_null(fake_dest_new(bad_at, 1));
	assert_null(fake_dest_new(NULL, FAKE_DEST_MAX_RULES + 1));
	/* never started: free is enough, wait says so */
	fx.fake = fake_dest_new(NULL, 0);
	assert_non_null(fx.fake);
	assert_int_equal(fake_dest_wait(fx.fake), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_rules_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_error_at_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_at_page_3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_message_at_iter_end, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_then_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_shut_then_release, setup, teardown),
		cmocka_unit_test_setup_teardown(test_free_wakes_a_stall, setup, teardown),
		cmocka_unit_test_setup_teardown(test_multifd_completes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_page_beyond_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_unknown_section, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_truncated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_page_before_setup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_strict_multifd_without_listener, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_rules_refused, setup, teardown),
	};

	signal(SIGALRM, watchdog_fired);
	return cmocka_run_group_tests_name("core_fake_dest", tests, NULL, NULL);
}
