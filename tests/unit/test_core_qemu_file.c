/*
 * Unit tests of core/migration/qemu_file.c over mem pairs and unix
 * socketpairs: every width round trips, a file and its return path share
 * one channel, errors stick, and shutdown wakes a blocked qemu_get_byte.
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
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "mem_channel.h"
#include "qemu_file.h"

static void make_pair(bool mem, struct channel **a, struct channel **b)
{
	if (mem)
		assert_int_equal(mem_channel_pair(a, b), 0);
	else
		assert_int_equal(channel_socket_pair(a, b), 0);
}

#define BIG (200 * 1024 + 3)	/* more than the file and the mem channel buffers */

struct producer {
	QEMUFile *f;
	const uint8_t *big;
	int ret;
};

static void *producer_main(void *opaque)
{
	struct producer *p = opaque;

	qemu_put_byte(p->f, 0xa5);
	qemu_put_be16(p->f, 0xbeef);
	qemu_put_be32(p->f, 0xdeadc0de);
	qemu_put_be64(p->f, 0x0123456789abcdefULL);
	qemu_put_buffer(p->f, p->big, BIG);
	qemu_put_be64(p->f, UINT64_MAX);
	qemu_put_byte(p->f, 0);
	p->ret = qemu_fflush(p->f);
	return NULL;
}

static void do_every_width(bool mem)
{
	struct channel *a, *b;
	QEMUFile *out, *in;
	uint8_t *big = malloc(BIG), *got = malloc(BIG);
	struct producer p;
	pthread_t t;
	uint64_t total = 1 + 2 + 4 + 8 + BIG + 8 + 1;

	for (size_t i = 0; i < BIG; i++)
		big[i] = (uint8_t)(i ^ (i >> 9));
	make_pair(mem, &a, &b);
	out = qemu_file_new_output(a);
	in = qemu_file_new_input(b);
	assert_int_equal(channel_ref_count(a), 2);
	p = (struct producer){ .f = out, .big = big };
	assert_int_equal(pthread_create(&t, NULL, producer_main, &p), 0);
	assert_int_equal(qemu_get_byte(in), 0xa5);
	assert_int_equal(qemu_get_be16(in), 0xbeef);
	assert_int_equal(qemu_get_be32(in), 0xdeadc0de);
	assert_true(qemu_get_be64(in) == 0x0123456789abcdefULL);
	assert_int_equal(qemu_get_buffer(in, got, BIG), BIG);
	assert_memory_equal(got, big, BIG);
	assert_true(qemu_get_be64(in) == UINT64_MAX);
	assert_int_equal(qemu_get_byte(in), 0);
	pthread_join(t, NULL);
	assert_int_equal(p.ret, 0);
	assert_int_equal(qemu_file_get_error(in), 0);
	assert_true(qemu_file_transferred(out) == total);
	assert_true(qemu_file_transferred(in) == total);
	assert_ptr_equal(qemu_file_get_channel(out), a);
	/* the writer's close: the reader sees EOF as -EIO, a short read */
	assert_int_equal(qemu_fclose(out), 0);
	assert_int_equal(qemu_get_buffer(in, got, 10), 0);
	assert_int_equal(qemu_file_get_error(in), -EIO);
	assert_int_equal(qemu_fclose(in), -EIO);
	assert_int_equal(channel_ref_count(a), 1);
	channel_unref(a);
	channel_unref(b);
	free(big);
	free(got);
}

static void test_every_width_mem(void **state) { do_every_width(true); }
static void test_every_width_socket(void **state) { do_every_width(false); }

/* qemu_fclose flushes what is still buffered. */
static void test_fclose_flushes(void **state)
{
	struct channel *a, *b;
	QEMUFile *out, *in;

	make_pair(true, &a, &b);
	out = qemu_file_new_output(a);
	in = qemu_file_new_input(b);
	qemu_put_be32(out, 42);
	assert_int_equal(qemu_fclose(out), 0);
	assert_int_equal(qemu_get_be32(in), 42);
	assert_int_equal(qemu_file_get_error(in), 0);
	qemu_fclose(in);
	channel_unref(a);
	channel_unref(b);
}

/*
 * A file and its return path share one channel, on both sides. Closing the
 * main file closes the channel under the return path too (QEMU semantics):
 * the return path's next read fails with -EBADF.
 */
static void do_return_path(bool mem)
{
	struct channel *a, *b;
	QEMUFile *to_dst, *from_dst, *from_src, *to_src;

	make_pair(mem, &a, &b);
	to_dst = qemu_file_new_output(a);
	from_dst = qemu_file_get_return_path(to_dst);
	from_src = qemu_file_new_input(b);
	to_src = qemu_file_get_return_path(from_src);
	assert_non_null(from_dst);
	assert_non_null(to_src);
	assert_int_equal(channel_ref_count(a), 3);
	assert_ptr_equal(qemu_file_get_channel(from_dst), a);

	qemu_put_be32(to_dst, 0x1234);
	assert_int_equal(qemu_fflush(to_dst), 0);
	assert_int_equal(qemu_get_be32(from_src), 0x1234);
	qemu_put_be16(to_src, 0x4321);
	assert_int_equal(qemu_fflush(to_src), 0);
	assert_int_equal(qemu_get_be16(from_dst), 0x4321);

	assert_int_equal(qemu_fclose(to_dst), 0);
	assert_int_equal(channel_ref_count(a), 2);
	assert_int_equal(qemu_get_byte(from_dst), 0);
	assert_int_equal(qemu_file_get_error(from_dst), -EBADF);
	/* shutting down a closed channel is refused too */
	assert_int_equal(qemu_file_shutdown(from_dst), -EBADF);
	assert_int_equal(qemu_fclose(from_dst), -EBADF);
	assert_int_equal(channel_ref_count(a), 1);

	/* the destination sees EOF, and writing back fails */
	assert_int_equal(qemu_get_byte(from_src), 0);
	assert_int_equal(qemu_file_get_error(from_src), -EIO);
	qemu_put_byte(to_src, 1);
	assert_true(qemu_fflush(to_src) < 0);
	qemu_fclose(from_src);
	qemu_fclose(to_src);
	assert_int_equal(channel_ref_count(b), 1);
	channel_unref(a);
	channel_unref(b);
}

static void test_return_path_mem(void **state) { do_return_path(true); }
static void test_return_path_socket(void **state) { do_return_path(false); }

static void test_errors_sticky(void **state)
{
	struct channel *a, *b;
	QEMUFile *out, *in;

	make_pair(true, &a, &b);
	out = qemu_file_new_output(a);
	in = qemu_file_new_input(b);
	assert_int_equal(qemu_file_get_error(out), 0);
	qemu_file_set_error(out, -EPIPE);
	qemu_file_set_error(out, -EIO);
	qemu_file_set_error(out, 0);	/* not an error: ignored */
	assert_int_equal(qemu_file_get_error(out), -EPIPE);
	qemu_put_be64(out, 7);		/* a no-op now */
	assert_int_equal(qemu_fflush(out), -EPIPE);
	assert_int_equal(qemu_file_transferred(out), 0);
	assert_int_equal(qemu_fclose(out), -EPIPE);

	/* EOF (out closed the channel) is -EIO, and it stays the error */
	assert_int_equal(qemu_get_byte(in), 0);
	assert_int_equal(qemu_file_get_error(in), -EIO);
	qemu_file_set_error(in, -ENOMEM);
	assert_int_equal(qemu_file_get_error(in), -EIO);
	assert_int_equal(qemu_get_be32(in), 0);

	/* using a file in the wrong direction is an error, too */
	{
		QEMUFile *rp = qemu_file_get_return_path(in);

		qemu_get_byte(rp);
		assert_int_equal(qemu_file_get_error(rp), -EINVAL);
		qemu_put_byte(in, 1);
		qemu_fclose(rp);
	}
	qemu_fclose(in);
	channel_unref(a);
	channel_unref(b);
}

struct blocked_get {
	QEMUFile *f;
	bool done;		/* under lock */
	uint8_t value;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *blocked_get_main(void *opaque)
{
	struct blocked_get *g = opaque;
	uint8_t v = qemu_get_byte(g->f);

	pthread_mutex_lock(&g->lock);
	g->value = v;
	g->done = true;
	pthread_cond_broadcast(&g->cond);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static bool blocked_get_wait(struct blocked_get *g, int ms)
{
	struct timespec deadline;
	bool done;

	deadline = deadline_after_ms(ms);
	pthread_mutex_lock(&g->lock);
	while (!g->done &&
	       pthread_cond_timedwait(&g->cond, &g->lock, &deadline) != ETIMEDOUT)
		;
	done = g->done;
	pthread_mutex_unlock(&g->lock);
	return done;
}

/* The cancel path: qemu_file_shutdown from another thread ends a blocked read. */
static void do_shutdown_wakes_get(bool mem)
{
	struct channel *a, *b;
	struct blocked_get g = { 0 };
	pthread_t t;

	make_pair(mem, &a, &b);
	g.f = qemu_file_new_input(a);
	pthread_mutex_init(&g.lock, NULL);
	pthread_cond_init(&g.cond, NULL);
	assert_int_equal(pthread_create(&t, NULL, blocked_get_main, &g), 0);
	assert_false(blocked_get_wait(&g, 50));	/* it is blocked */
	assert_int_equal(qemu_file_shutdown(g.f), 0);
	assert_true(blocked_get_wait(&g, 1000));
	pthread_join(t, NULL);
	assert_int_equal(g.value, 0);
	assert_int_equal(qemu_file_get_error(g.f), -EIO);
	assert_int_equal(qemu_file_shutdown(g.f), 0);	/* idempotent */
	assert_int_equal(qemu_fclose(g.f), -EIO);
	pthread_mutex_destroy(&g.lock);
	pthread_cond_destroy(&g.cond);
	channel_unref(a);
	channel_unref(b);
}

static void test_shutdown_wakes_get_mem(void **state) { do_shutdown_wakes_get(true); }
static void test_shutdown_wakes_get_socket(void **state) { do_shutdown_wakes_get(false); }

static int group_setup(void **state)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(20);	/* never hang, whatever breaks */
	return mem_channel_register();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_width_mem),
		cmocka_unit_test(test_every_width_socket),
		cmocka_unit_test(test_fclose_flushes),
		cmocka_unit_test(test_return_path_mem),
		cmocka_unit_test(test_return_path_socket),
		cmocka_unit_test(test_errors_sticky),
		cmocka_unit_test(test_shutdown_wakes_get_mem),
		cmocka_unit_test(test_shutdown_wakes_get_socket),
	};

	return cmocka_run_group_tests_name("core_qemu_file", tests, group_setup, NULL);
}
