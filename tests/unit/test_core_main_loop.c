/*
 * Unit tests of the main loop (core/migration/main_loop.c): the BQL, and
 * bottom halves scheduled from any thread and run by main_loop_wait() in
 * the main thread, in order, once, with the BQL held. Every test starts
 * from a fresh main_loop_init().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "main_loop.h"
#include "thread.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int setup(void **state)
{
	main_loop_init();
	return 0;
}

static int teardown(void **state)
{
	main_loop_cleanup();
	return 0;
}

/* What a BH callback saw; filled in the main loop, checked by the test. */
struct seen {
	int runs;
	bool in_main;		/* qemu_in_main_thread() in every run */
	bool bql;		/* bql_locked() in every run */
	QEMUBH *bh;		/* the BH itself, for callbacks that act on it */
	QEMUBH *other;		/* another BH, for callbacks that act on it */
	char *order;		/* appends its tag here, if set */
	char tag;
};

static void record_cb(void *opaque)
{
	struct seen *s = opaque;

	if (s->runs == 0) {
		s->in_main = true;
		s->bql = true;
	}
	s->runs++;
	s->in_main &= qemu_in_main_thread();
	s->bql &= bql_locked();
	if (s->order)
		strncat(s->order, &s->tag, 1);
}

static void test_bql(void **state)
{
	assert_false(bql_locked());
	bql_lock();
	assert_true(bql_locked());
	bql_unlock();
	assert_false(bql_locked());
	assert_true(qemu_in_main_thread());
}

static void *bql_probe_fn(void *arg)
{
	bool *out = arg;

	out[0] = bql_locked();
	out[1] = qemu_in_main_thread();
	return NULL;
}

static void test_bql_is_per_thread(void **state)
{
	bool out[2] = { true, true };
	QemuThread t;

	bql_lock();
	qemu_thread_create(&t, "probe", bql_probe_fn, out, QEMU_THREAD_JOINABLE);
	qemu_thread_join(&t);
	bql_unlock();
	assert_false(out[0]);
	assert_false(out[1]);
}

static void *schedule_fn(void *arg)
{
	usleep(10 * 1000);	/* let the main loop block first */
	qemu_bh_schedule(arg);
	return NULL;
}

static void test_bh_from_thread_runs_in_main(void **state)
{
	struct seen s = { 0 };
	QEMUBH *bh = qemu_bh_new(record_cb, &s, "from-thread");
	QemuThread t;
	int ran;

	qemu_thread_create(&t, "scheduler", schedule_fn, bh, QEMU_THREAD_JOINABLE);
	ran = main_loop_wait(2000);
	qemu_thread_join(&t);
	assert_int_equal(ran, 1);
	assert_int_equal(s.runs, 1);
	assert_true(s.in_main);
	assert_true(s.bql);
	assert_false(bql_locked());	/* taken around the callback only */
	qemu_bh_delete(bh);
}

/* Takes the BQL, which the main loop must drop while it waits, then schedules. */
static void *bql_then_schedule_fn(void *arg)
{
	bql_lock();
	qemu_bh_schedule(arg);
	bql_unlock();
	return NULL;
}

static void test_wait_drops_bql_held_by_caller(void **state)
{
	struct seen s = { 0 };
	QEMUBH *bh = qemu_bh_new(record_cb, &s, "bql-held");
	bool held_after;
	QemuThread t;
	int ran;

	bql_lock();
	qemu_thread_create(&t, "bql-taker", bql_then_schedule_fn, bh,
			   QEMU_THREAD_JOINABLE);
	ran = main_loop_wait(1000);
	held_after = bql_locked();
	bql_unlock();
	qemu_thread_join(&t);
	assert_int_equal(ran, 1);
	assert_true(held_after);
	assert_int_equal(s.runs, 1);
	assert_true(s.bql);
	qemu_bh_delete(bh);
}

static void test_double_schedule_runs_once(void **state)
{
	struct seen s = { 0 };
	QEMUBH *bh = qemu_bh_new(record_cb, &s, "twice");

	qemu_bh_schedule(bh);
	qemu_bh_schedule(bh);
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 1);
	assert_int_equal(main_loop_wait(0), 0);
	qemu_bh_schedule(bh);
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 2);
	qemu_bh_delete(bh);
}

static void test_cancel(void **state)
{
	struct seen s = { 0 };
	QEMUBH *bh = qemu_bh_new(record_cb, &s, "cancelled");

	qemu_bh_cancel(bh);	/* not pending: nothing to do */
	qemu_bh_schedule(bh);
	qemu_bh_cancel(bh);
	assert_int_equal(main_loop_wait(0), 0);
	assert_int_equal(s.runs, 0);
	qemu_bh_schedule(bh);	/* can be scheduled again */
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 1);
	qemu_bh_delete(bh);
}

static void test_delete_pending(void **state)
{
	struct seen s = { 0 };
	QEMUBH *bh = qemu_bh_new(record_cb, &s, "deleted");

	qemu_bh_schedule(bh);
	qemu_bh_delete(bh);
	assert_int_equal(main_loop_wait(0), 0);
	assert_int_equal(s.runs, 0);
}

static void delete_self_cb(void *opaque)
{
	struct seen *s = opaque;

	record_cb(s);
	qemu_bh_delete(s->bh);
	s->bh = NULL;
}

static void test_delete_from_own_callback(void **state)
{
	struct seen s = { 0 };

	s.bh = qemu_bh_new(delete_self_cb, &s, "delete-self");
	qemu_bh_schedule(s.bh);
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 1);
	assert_null(s.bh);
	assert_int_equal(main_loop_wait(0), 0);
}

static void test_oneshot(void **state)
{
	struct seen s = { 0 };

	aio_bh_schedule_oneshot(record_cb, &s, "oneshot");
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 1);
	assert_true(s.in_main);
	assert_true(s.bql);
	assert_int_equal(main_loop_wait(0), 0);
	assert_int_equal(s.runs, 1);
	/* one left pending at cleanup is freed there (LSan checks) */
	aio_bh_schedule_oneshot(record_cb, &s, "oneshot-left");
}

static void test_order(void **state)
{
	char order[8] = "";
	struct seen s[3] = {
		{ .order = order, .tag = 'a' },
		{ .order = order, .tag = 'b' },
		{ .order = order, .tag = 'c' },
	};
	QEMUBH *bh[3];

	for (int i = 0; i < 3; i++)
		bh[i] = qemu_bh_new(record_cb, &s[i], "ordered");
	qemu_bh_schedule(bh[2]);
	qemu_bh_schedule(bh[0]);
	qemu_bh_schedule(bh[1]);
	qemu_bh_schedule(bh[2]);	/* already pending: keeps its place */
	assert_int_equal(main_loop_wait(0), 3);
	assert_string_equal(order, "cab");
	for (int i = 0; i < 3; i++)
		qemu_bh_delete(bh[i]);
}

static void reschedule_once_cb(void *opaque)
{
	struct seen *s = opaque;

	record_cb(s);
	if (s->runs == 1)
		qemu_bh_schedule(s->bh);
}

static void test_reschedule_from_callback_runs_later(void **state)
{
	struct seen s = { 0 };

	s.bh = qemu_bh_new(reschedule_once_cb, &s, "again");
	qemu_bh_schedule(s.bh);
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 1);
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(s.runs, 2);
	assert_int_equal(main_loop_wait(0), 0);
	qemu_bh_delete(s.bh);
}

static void cancel_other_cb(void *opaque)
{
	struct seen *s = opaque;

	record_cb(s);
	qemu_bh_cancel(s->other);
}

static void test_cancel_by_earlier_callback(void **state)
{
	struct seen first = { 0 }, second = { 0 };
	QEMUBH *a = qemu_bh_new(cancel_other_cb, &first, "canceller");
	QEMUBH *b = qemu_bh_new(record_cb, &second, "cancelled");

	first.other = b;
	qemu_bh_schedule(a);
	qemu_bh_schedule(b);
	assert_int_equal(main_loop_wait(0), 1);
	assert_int_equal(first.runs, 1);
	assert_int_equal(second.runs, 0);
	qemu_bh_delete(a);
	qemu_bh_delete(b);
}

static void test_wait_zero_does_not_block(void **state)
{
	int64_t start = now_ms();

	assert_int_equal(main_loop_wait(0), 0);
	bql_lock();
	assert_int_equal(main_loop_wait(0), 0);
	assert_true(bql_locked());
	bql_unlock();
	assert_true(now_ms() - start < 500);	/* generous: loaded CI machines */
}

static void test_wait_timeout(void **state)
{
	int64_t start = now_ms(), elapsed;

	assert_int_equal(main_loop_wait(100), 0);
	elapsed = now_ms() - start;
	assert_true(elapsed >= 99);
	assert_true(elapsed < 1000);

	/* the same with the BQL held by the caller */
	bql_lock();
	start = now_ms();
	assert_int_equal(main_loop_wait(50), 0);
	elapsed = now_ms() - start;
	assert_true(bql_locked());
	bql_unlock();
	assert_true(elapsed >= 49);
	assert_true(elapsed < 1000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bql, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bql_is_per_thread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bh_from_thread_runs_in_main, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_drops_bql_held_by_caller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_double_schedule_runs_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_delete_from_own_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oneshot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reschedule_from_callback_runs_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_by_earlier_callback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_zero_does_not_block, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wait_timeout, setup, teardown),
	};

	return cmocka_run_group_tests_name("core_main_loop", tests, NULL, NULL);
}
