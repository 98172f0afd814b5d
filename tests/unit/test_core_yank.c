/*
 * Unit tests of core/migration/yank.c: instances and functions, yank_do,
 * yank_channel waking a blocked reader, and the assertions that abort on
 * broken bookkeeping (checked in forked children, stderr on a pipe).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "mem_channel.h"
#include "yank.h"

static int calls_a, calls_b;

static void count_fn(void *opaque)
{
	(*(int *)opaque)++;
}

static void other_fn(void *opaque)
{
	(*(int *)opaque) += 10;
}

static void test_register_unregister(void **state)
{
	assert_int_equal(yank_function_count("mig"), -ENOENT);
	yank_register_instance("mig");
	yank_register_instance("other");
	assert_int_equal(yank_function_count("mig"), 0);
	yank_register_function("mig", count_fn, &calls_a);
	yank_register_function("mig", count_fn, &calls_b);
	yank_register_function("mig", other_fn, &calls_a);
	assert_int_equal(yank_function_count("mig"), 3);
	assert_int_equal(yank_function_count("other"), 0);
	yank_unregister_function("mig", count_fn, &calls_b);
	yank_unregister_function("mig", other_fn, &calls_a);
	yank_unregister_function("mig", count_fn, &calls_a);
	assert_int_equal(yank_function_count("mig"), 0);
	yank_unregister_instance("mig");
	yank_unregister_instance("other");
	assert_int_equal(yank_function_count("mig"), -ENOENT);
	/* a name can be used again */
	yank_register_instance("mig");
	yank_unregister_instance("mig");
}

static void test_yank_do_calls_functions(void **state)
{
	calls_a = calls_b = 0;
	yank_register_instance("mig");
	yank_register_instance("other");
	yank_register_function("mig", count_fn, &calls_a);
	yank_register_function("mig", other_fn, &calls_b);
	yank_register_function("other", count_fn, &calls_b);
	assert_int_equal(yank_do("mig"), 0);
	assert_int_equal(calls_a, 1);
	assert_int_equal(calls_b, 10);
	assert_int_equal(yank_do("mig"), 0);
	assert_int_equal(calls_a, 2);
	assert_int_equal(calls_b, 20);
	assert_int_equal(yank_do("nobody"), -ENOENT);
	yank_unregister_function("mig", count_fn, &calls_a);
	yank_unregister_function("mig", other_fn, &calls_b);
	yank_unregister_function("other", count_fn, &calls_b);
	assert_int_equal(yank_do("mig"), 0);
	assert_int_equal(calls_a, 2);
	yank_unregister_instance("mig");
	yank_unregister_instance("other");
}

struct reader {
	struct channel *ch;
	bool done;		/* under lock */
	ssize_t ret;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *reader_main(void *opaque)
{
	struct reader *r = opaque;
	char c;
	ssize_t n = channel_read(r->ch, &c, 1);

	pthread_mutex_lock(&r->lock);
	r->ret = n;
	r->done = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

static bool reader_wait(struct reader *r, int ms)
{
	struct timespec deadline;
	bool done;

	deadline = deadline_after_ms(ms);
	pthread_mutex_lock(&r->lock);
	while (!r->done &&
	       pthread_cond_timedwait(&r->cond, &r->lock, &deadline) != ETIMEDOUT)
		;
	done = r->done;
	pthread_mutex_unlock(&r->lock);
	return done;
}

/* The QMP yank of a migration: the channel's yank function wakes its reader. */
static void test_yank_channel_wakes_reader(void **state)
{
	struct channel *a, *b;
	struct reader r = { 0 };
	pthread_t t;

	assert_int_equal(mem_channel_pair(&a, &b), 0);
	yank_register_instance("migration");
	yank_register_function("migration", yank_channel, a);
	r.ch = a;
	pthread_mutex_init(&r.lock, NULL);
	pthread_cond_init(&r.cond, NULL);
	assert_int_equal(pthread_create(&t, NULL, reader_main, &r), 0);
	assert_false(reader_wait(&r, 50));
	assert_int_equal(yank_do("migration"), 0);
	assert_true(reader_wait(&r, 1000));
	pthread_join(t, NULL);
	assert_int_equal(r.ret, 0);
	/* the peer's writes fail now */
	assert_int_equal(channel_write_all(b, "x", 1), -EPIPE);
	yank_unregister_function("migration", yank_channel, a);
	yank_unregister_instance("migration");
	pthread_mutex_destroy(&r.lock);
	pthread_cond_destroy(&r.cond);
	channel_unref(a);
	channel_unref(b);
}

/* Runs fn in a forked child; it must die of SIGABRT with `expect` on stderr. */
static void call_void(void *fn)
{
	((void (*)(void))fn)();
}

static void expect_abort(void (*fn)(void), const char *expect)
{
	assert_true(child_aborts_with(call_void, (void *)fn, expect));
}

static void unregister_with_function_left(void)
{
	static int dummy;

	yank_register_instance("migration");
	yank_register_function("migration", count_fn, &dummy);
	yank_unregister_instance("migration");
}

static void register_instance_twice(void)
{
	yank_register_instance("twice");
	yank_register_instance("twice");
}

static void unregister_unknown_function(void)
{
	yank_register_instance("fns");
	yank_unregister_function("fns", count_fn, NULL);
}

static void test_unregister_instance_with_function_aborts(void **state)
{
	expect_abort(unregister_with_function_left, "QLIST_EMPTY(&entry->yankfns)");
}

static void test_bookkeeping_asserts(void **state)
{
	expect_abort(register_instance_twice, "Assertion");
	expect_abort(unregister_unknown_function, "Assertion");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_unregister),
		cmocka_unit_test(test_yank_do_calls_functions),
		cmocka_unit_test(test_yank_channel_wakes_reader),
		cmocka_unit_test(test_unregister_instance_with_function_aborts),
		cmocka_unit_test(test_bookkeeping_asserts),
	};

	alarm(20);	/* never hang, whatever breaks */
	if (mem_channel_register() < 0)
		return 1;
	return cmocka_run_group_tests_name("core_yank", tests, NULL, NULL);
}
