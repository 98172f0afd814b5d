/*
 * Unit tests of core/migration/incoming.c: a fake source written by hand
 * sends a stream over a mem pair or a unix socketpair and reads the return
 * path; the guest must start only after SEC_EOF and never after an error.
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "channel.h"
#include "incoming.h"
#include "mem_channel.h"
#include "qemu_file.h"
#include "ram.h"
#include "vm.h"
#include "wire.h"
#include "yank.h"

#define NPAGES 64
#define TEST_LIMIT_MS 2000

/*
 * A watchdog per test, armed by the group's per-test setup and disarmed by
 * its teardown (which cmocka runs after a failure too): a read blocked on a
 * broken core would otherwise hang the run. It aborts after TEST_LIMIT_MS;
 * cmocka has printed the test's name by then.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	pthread_t thread;
} watchdog = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *watchdog_main(void *opaque)
{
	struct timespec deadline = deadline_after_ms(TEST_LIMIT_MS);
	int ret = 0;

	pthread_mutex_lock(&watchdog.lock);
	while (!watchdog.done && ret != ETIMEDOUT)
		ret = pthread_cond_timedwait(&watchdog.cond, &watchdog.lock, &deadline);
	if (!watchdog.done) {
		fprintf(stderr, "core_incoming: test still running after %d ms\n",
			TEST_LIMIT_MS);
		abort();
	}
	pthread_mutex_unlock(&watchdog.lock);
	return NULL;
}

static int watchdog_arm(void **state)
{
	watchdog.done = false;
	return pthread_create(&watchdog.thread, NULL, watchdog_main, NULL);
}

static int watchdog_disarm(void **state)
{
	pthread_mutex_lock(&watchdog.lock);
	watchdog.done = true;
	pthread_cond_signal(&watchdog.cond);
	pthread_mutex_unlock(&watchdog.lock);
	return pthread_join(watchdog.thread, NULL);
}

/*
 * The destination under test and the fake source's two files. Fixtures are
 * static, so that after a failed assertion (a longjmp out of the test) the
 * per-test teardown can still stop the load thread and free everything.
 */
struct fixture {
	struct guest_ram ram;
	struct vm vm;
	struct mig_incoming inc;
	bool inc_cleaned;	/* mig_incoming_cleanup done */
	struct channel *src;	/* the source's end, one reference */
	QEMUFile *out;		/* the stream, source side */
	QEMUFile *rp;		/* the return path, source side */
};

static struct fixture *live_fx;	/* the fixture in use, for the rescue */

static void fixture_setup(struct fixture *fx, bool mem)
{
	struct channel *dst;

	memset(fx, 0, sizeof(*fx));
	assert_int_equal(ram_init(&fx->ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&fx->vm, &fx->ram, 1, 42, RUN_STATE_INMIGRATE), 0);
	assert_int_equal(mig_incoming_init(&fx->inc, &fx->vm, &fx->ram), 0);
	live_fx = fx;
	if (mem)
		assert_int_equal(mem_channel_pair(&fx->src, &dst), 0);
	else
		assert_int_equal(channel_socket_pair(&fx->src, &dst), 0);
	assert_int_equal(mig_incoming_start(&fx->inc, dst), 0);
	channel_unref(dst);	/* the destination holds its own reference */
	assert_int_equal(yank_function_count(MIG_INCOMING_YANK_INSTANCE), 1);
	fx->out = qemu_file_new_output(fx->src);
	fx->rp = qemu_file_get_return_path(fx->out);
	assert_non_null(fx->out);
	assert_non_null(fx->rp);
}

/* After mig_incoming_wait: clean the destination up, check the yank instance went. */
static void fixture_cleanup_incoming(struct fixture *fx)
{
	mig_incoming_cleanup(&fx->inc);
	fx->inc_cleaned = true;
	assert_int_equal(yank_function_count(MIG_INCOMING_YANK_INSTANCE), -ENOENT);
}

/* Free what is left; after a failed test, stop the destination first. */
static void fixture_free(struct fixture *fx)
{
	if (!fx->inc_cleaned) {
		mig_incoming_cancel(&fx->inc);
		mig_incoming_wait(&fx->inc);
		mig_incoming_cleanup(&fx->inc);
	}
	if (fx->rp)
		qemu_fclose(fx->rp);
	if (fx->out)
		qemu_fclose(fx->out);
	if (fx->src)
		channel_unref(fx->src);
	vm_destroy(&fx->vm);
	ram_destroy(&fx->ram);
	live_fx = NULL;
}

static void fixture_teardown(struct fixture *fx)
{
	fixture_cleanup_incoming(fx);
	fixture_free(fx);
}

static int test_setup(void **state)
{
	return watchdog_arm(state);
}

static int test_teardown(void **state)
{
	if (live_fx)
		fixture_free(live_fx);
	return watchdog_disarm(state);
}

/* The content the source sends for page in round. */
static void page_pattern(uint8_t *buf, size_t page, unsigned int round)
{
	for (size_t i = 0; i < RAM_PAGE_SIZE; i++)
		buf[i] = (uint8_t)(page * 131 + i * 7 + round * 29 + (i >> 8));
}

static void put_header(QEMUFile *f)
{
	qemu_put_be32(f, MIG_MAGIC);
	qemu_put_be32(f, MIG_VERSION);
}

static void put_ram_setup(QEMUFile *f, uint64_t bytes, uint32_t page_size)
{
	qemu_put_byte(f, SEC_RAM_SETUP);
	qemu_put_be64(f, bytes);
	qemu_put_be32(f, page_size);
}

static void put_page(QEMUFile *f, uint64_t page, unsigned int round)
{
	uint8_t buf[RAM_PAGE_SIZE];

	page_pattern(buf, page, round);
	qemu_put_byte(f, SEC_RAM_PAGE);
	qemu_put_be64(f, page);
	qemu_put_buffer(f, buf, sizeof(buf));
}

static void put_iter_end(QEMUFile *f, uint64_t iter)
{
	qemu_put_byte(f, SEC_ITER_END);
	qemu_put_be64(f, iter);
}

static void put_ping(QEMUFile *f, uint32_t id)
{
	qemu_put_byte(f, SEC_PING);
	qemu_put_be32(f, id);
}

/* The usual start: header, RAM setup matching the fixture, return path open. */
static void put_start(QEMUFile *f)
{
	put_header(f);
	put_ram_setup(f, NPAGES * RAM_PAGE_SIZE, RAM_PAGE_SIZE);
	qemu_put_byte(f, SEC_OPEN_RETURN_PATH);
}

static void flush(struct fixture *fx)
{
	assert_int_equal(qemu_fflush(fx->out), 0);
}

/* Read one return-path message and check its type; returns its value. */
static uint64_t expect_rp(struct fixture *fx, enum mig_rp_message type)
{
	uint16_t got = qemu_get_be16(fx->rp);
	uint16_t len = qemu_get_be16(fx->rp);

	assert_int_equal(qemu_file_get_error(fx->rp), 0);
	assert_int_equal(got, type);
	switch (type) {
	case RP_ACK:
	case RP_REQ_PAGE:
		assert_int_equal(len, 8);
		return qemu_get_be64(fx->rp);
	case RP_SHUT:
	case RP_PONG:
	case RP_RESUME_ACK:
		assert_int_equal(len, 4);
		return qemu_get_be32(fx->rp);
	case RP_RECV_BITMAP:
		break;
	}
	fail();
	return 0;
}

/* The return path has nothing more: the destination closed it. */
static void expect_rp_eof(struct fixture *fx)
{
	qemu_get_byte(fx->rp);
	assert_int_not_equal(qemu_file_get_error(fx->rp), 0);
}

static void expect_not_started(struct fixture *fx)
{
	assert_int_equal(runstate_get(&fx->vm), RUN_STATE_INMIGRATE);
	assert_int_equal(vm_start_count(&fx->vm), 0);
}

/* Every page holds what the source sent last for it (round[page]). */
static void expect_pages(struct fixture *fx, const unsigned int *round)
{
	uint8_t want[RAM_PAGE_SIZE], got[RAM_PAGE_SIZE];

	for (size_t p = 0; p < NPAGES; p++) {
		page_pattern(want, p, round[p]);
		ram_read_page(&fx->ram, p, got);
		assert_memory_equal(got, want, RAM_PAGE_SIZE);
	}
}

static void do_complete(bool mem)
{
	static const uint8_t devstate[] = "virtio-net: 3 queues, mac 52:54:00:12:34:56";
	unsigned int round[NPAGES] = { 0 };
	static struct fixture fx;
	const uint8_t *ds;
	size_t ds_len;

	fixture_setup(&fx, mem);
	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_ACTIVE);

	/* iteration 1: every page */
	put_start(fx.out);
	for (size_t p = 0; p < NPAGES; p++)
		put_page(fx.out, p, 1);
	put_iter_end(fx.out, 1);
	flush(&fx);
	assert_int_equal(expect_rp(&fx, RP_ACK), 1);
	for (size_t p = 0; p < NPAGES; p++)
		round[p] = 1;
	expect_pages(&fx, round);
	assert_int_equal(mig_incoming_pages_loaded(&fx.inc), NPAGES);

	/* iteration 2: a few pages dirtied meanwhile */
	put_page(fx.out, 3, 2);
	put_page(fx.out, 17, 2);
	put_page(fx.out, NPAGES - 1, 2);
	put_iter_end(fx.out, 2);
	flush(&fx);
	assert_int_equal(expect_rp(&fx, RP_ACK), 2);
	round[3] = round[17] = round[NPAGES - 1] = 2;
	expect_pages(&fx, round);
	assert_int_equal(mig_incoming_iterations_acked(&fx.inc), 2);

	put_ping(fx.out, 0xc0ffee01);
	flush(&fx);
	assert_int_equal(expect_rp(&fx, RP_PONG), 0xc0ffee01);

	qemu_put_byte(fx.out, SEC_DEVICE_STATE);
	qemu_put_be32(fx.out, sizeof(devstate));
	qemu_put_buffer(fx.out, devstate, sizeof(devstate));
	flush(&fx);
	/* everything but SEC_EOF is there: the guest must not run yet */
	expect_not_started(&fx);
	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_ACTIVE);
	assert_null(mig_incoming_device_state(&fx.inc, &ds_len));
	assert_int_equal(ds_len, 0);

	qemu_put_byte(fx.out, SEC_EOF);
	flush(&fx);
	assert_int_equal(expect_rp(&fx, RP_SHUT), 0);
	assert_int_equal(mig_incoming_wait(&fx.inc), 0);

	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_COMPLETED);
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_RUNNING);
	assert_int_equal(vm_start_count(&fx.vm), 1);
	assert_int_equal(mig_incoming_get_error(&fx.inc), 0);
	assert_int_equal(mig_incoming_pages_loaded(&fx.inc), NPAGES + 3);
	assert_true(mig_incoming_bytes_loaded(&fx.inc) >=
		    (uint64_t)(NPAGES + 3) * RAM_PAGE_SIZE);
	ds = mig_incoming_device_state(&fx.inc, &ds_len);
	assert_non_null(ds);
	assert_int_equal(ds_len, sizeof(devstate));
	assert_memory_equal(ds, devstate, sizeof(devstate));

	/* a cancel after completion changes nothing */
	mig_incoming_cancel(&fx.inc);
	assert_int_equal(mig_incoming_wait(&fx.inc), 0);
	assert_int_equal(vm_start_count(&fx.vm), 1);
	fixture_teardown(&fx);
}

static void test_complete_mem(void **state)
{
	do_complete(true);
}

static void test_complete_socket(void **state)
{
	do_complete(false);
}

/*
 * One failing stream: write(fx) sends it, then the destination must fail
 * with err, answer RP_SHUT err if the stream opened the return path, and
 * leave the guest alone.
 */
static void run_error(void (*write)(struct fixture *fx), int err, bool rp_open)
{
	static struct fixture fx;

	fixture_setup(&fx, true);
	write(&fx);
	flush(&fx);
	if (rp_open)
		assert_int_equal(expect_rp(&fx, RP_SHUT), -err);
	assert_int_equal(mig_incoming_wait(&fx.inc), err);
	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_FAILED);
	expect_not_started(&fx);
	fixture_cleanup_incoming(&fx);
	/* nothing else was said on the return path before it was closed */
	expect_rp_eof(&fx);
	fixture_free(&fx);
}

static void write_bad_magic(struct fixture *fx)
{
	qemu_put_be32(fx->out, MIG_MAGIC ^ 1);
	qemu_put_be32(fx->out, MIG_VERSION);
}

static void write_bad_version(struct fixture *fx)
{
	qemu_put_be32(fx->out, MIG_MAGIC);
	qemu_put_be32(fx->out, MIG_VERSION + 1);
}

static void write_ram_size_mismatch(struct fixture *fx)
{
	put_header(fx->out);
	qemu_put_byte(fx->out, SEC_OPEN_RETURN_PATH);
	put_ram_setup(fx->out, (NPAGES + 1) * RAM_PAGE_SIZE, RAM_PAGE_SIZE);
}

static void write_page_size_mismatch(struct fixture *fx)
{
	put_header(fx->out);
	qemu_put_byte(fx->out, SEC_OPEN_RETURN_PATH);
	put_ram_setup(fx->out, NPAGES * RAM_PAGE_SIZE, RAM_PAGE_SIZE / 2);
}

static void write_page_out_of_range(struct fixture *fx)
{
	put_start(fx->out);
	put_page(fx->out, 0, 1);
	put_page(fx->out, NPAGES, 1);
}

static void write_page_before_setup(struct fixture *fx)
{
	put_header(fx->out);
	qemu_put_byte(fx->out, SEC_OPEN_RETURN_PATH);
	put_page(fx->out, 0, 1);
}

static void write_unknown_section(struct fixture *fx)
{
	put_start(fx->out);
	qemu_put_byte(fx->out, 0x42);
}

static void write_oversized_device_state(struct fixture *fx)
{
	put_start(fx->out);
	qemu_put_byte(fx->out, SEC_DEVICE_STATE);
	qemu_put_be32(fx->out, MIG_DEVICE_STATE_MAX + 1);
}

/* The source's write side goes down mid-stream; its return path still reads. */
static void write_cut_before_eof(struct fixture *fx)
{
	put_start(fx->out);
	put_page(fx->out, 0, 1);
	put_page(fx->out, 1, 1);
	flush(fx);
	assert_int_equal(channel_shutdown(fx->src, CHANNEL_SHUTDOWN_WRITE), 0);
}

/* Cut in the middle of a page. */
static void write_cut_mid_page(struct fixture *fx)
{
	uint8_t half[RAM_PAGE_SIZE / 2] = { 0 };

	put_start(fx->out);
	qemu_put_byte(fx->out, SEC_RAM_PAGE);
	qemu_put_be64(fx->out, 5);
	qemu_put_buffer(fx->out, half, sizeof(half));
	flush(fx);
	assert_int_equal(channel_shutdown(fx->src, CHANNEL_SHUTDOWN_WRITE), 0);
}

static void test_bad_magic(void **state)
{
	run_error(write_bad_magic, -EPROTO, false);
}

static void test_bad_version(void **state)
{
	run_error(write_bad_version, -EPROTO, false);
}

static void test_ram_size_mismatch(void **state)
{
	run_error(write_ram_size_mismatch, -EINVAL, true);
}

static void test_page_size_mismatch(void **state)
{
	run_error(write_page_size_mismatch, -EINVAL, true);
}

static void test_page_out_of_range(void **state)
{
	run_error(write_page_out_of_range, -EINVAL, true);
}

static void test_page_before_setup(void **state)
{
	run_error(write_page_before_setup, -EPROTO, true);
}

static void test_unknown_section(void **state)
{
	run_error(write_unknown_section, -EPROTO, true);
}

static void test_oversized_device_state(void **state)
{
	run_error(write_oversized_device_state, -EMSGSIZE, true);
}

static void test_cut_before_eof(void **state)
{
	run_error(write_cut_before_eof, -EIO, true);
}

static void test_cut_mid_page(void **state)
{
	run_error(write_cut_mid_page, -EIO, true);
}

/* The source goes away entirely (closes its end) before SEC_EOF. */
static void test_source_closes(void **state)
{
	static struct fixture fx;

	fixture_setup(&fx, true);
	put_start(fx.out);
	put_page(fx.out, 2, 1);
	flush(&fx);
	assert_int_equal(channel_close(fx.src), 0);
	assert_int_equal(mig_incoming_wait(&fx.inc), -EIO);
	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_FAILED);
	expect_not_started(&fx);
	fixture_teardown(&fx);
}

/*
 * Sync with the load thread: after the PONG it has handled every section
 * sent and goes back to reading the next one, where it blocks.
 */
static void sync_blocked(struct fixture *fx)
{
	put_start(fx->out);
	put_page(fx->out, 7, 1);
	put_ping(fx->out, 7);
	flush(fx);
	assert_int_equal(expect_rp(fx, RP_PONG), 7);
}

static void test_cancel_wakes_blocked_load(void **state)
{
	static struct fixture fx;

	fixture_setup(&fx, true);
	sync_blocked(&fx);
	mig_incoming_cancel(&fx.inc);
	assert_int_equal(mig_incoming_wait(&fx.inc), -ECANCELED);
	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_FAILED);
	expect_not_started(&fx);
	/* the channel is shut down both ways: no RP_SHUT could go out */
	expect_rp_eof(&fx);
	mig_incoming_cancel(&fx.inc);	/* again, after the end: harmless */
	fixture_teardown(&fx);
}

static void test_cancel_socket(void **state)
{
	static struct fixture fx;

	fixture_setup(&fx, false);
	sync_blocked(&fx);
	mig_incoming_cancel(&fx.inc);
	assert_int_equal(mig_incoming_wait(&fx.inc), -ECANCELED);
	expect_not_started(&fx);
	fixture_teardown(&fx);
}

static void test_cancel_before_start(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	struct mig_incoming inc;
	struct channel *a, *b;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 1, 1, RUN_STATE_INMIGRATE), 0);
	assert_int_equal(mig_incoming_init(&inc, &vm, &ram), 0);
	mig_incoming_cancel(&inc);
	assert_int_equal(mem_channel_pair(&a, &b), 0);
	assert_int_equal(mig_incoming_start(&inc, b), -ECANCELED);
	assert_int_equal(mig_incoming_get_state(&inc), MIG_INCOMING_FAILED);
	assert_int_equal(yank_function_count(MIG_INCOMING_YANK_INSTANCE), -ENOENT);
	assert_int_equal(mig_incoming_wait(&inc), -ECANCELED);
	mig_incoming_cleanup(&inc);
	assert_int_equal(channel_ref_count(b), 1);
	channel_unref(a);
	channel_unref(b);
	assert_int_equal(vm_start_count(&vm), 0);
	vm_destroy(&vm);
	ram_destroy(&ram);
}

/* init refuses a VM that is not waiting for a migration; a second start is -EBUSY. */
static void test_init_and_start_checks(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	struct mig_incoming inc;
	static struct fixture fx;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 0, 1, RUN_STATE_PAUSED), 0);
	assert_int_equal(mig_incoming_init(&inc, &vm, &ram), -EINVAL);
	vm_destroy(&vm);
	ram_destroy(&ram);

	fixture_setup(&fx, true);
	assert_int_equal(mig_incoming_start(&fx.inc, fx.src), -EBUSY);
	mig_incoming_cancel(&fx.inc);
	assert_int_equal(mig_incoming_wait(&fx.inc), -ECANCELED);
	fixture_teardown(&fx);
}

static void test_never_started(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	struct mig_incoming inc;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 1, 1, RUN_STATE_INMIGRATE), 0);
	assert_int_equal(mig_incoming_init(&inc, &vm, &ram), 0);
	assert_int_equal(mig_incoming_get_state(&inc), MIG_INCOMING_NONE);
	assert_int_equal(mig_incoming_wait(&inc), -EINVAL);
	mig_incoming_cleanup(&inc);
	vm_destroy(&vm);
	ram_destroy(&ram);
}

static void do_yank(bool mem)
{
	static struct fixture fx;

	fixture_setup(&fx, mem);
	sync_blocked(&fx);
	assert_int_equal(yank_function_count(MIG_INCOMING_YANK_INSTANCE), 1);
	assert_int_equal(yank_do(MIG_INCOMING_YANK_INSTANCE), 0);
	/* the channel went down under the reader: EOF on the stream */
	assert_int_equal(mig_incoming_wait(&fx.inc), -EIO);
	assert_int_equal(mig_incoming_get_state(&fx.inc), MIG_INCOMING_FAILED);
	expect_not_started(&fx);
	/* still registered until cleanup, and yanking again is harmless */
	assert_int_equal(yank_function_count(MIG_INCOMING_YANK_INSTANCE), 1);
	assert_int_equal(yank_do(MIG_INCOMING_YANK_INSTANCE), 0);
	fixture_teardown(&fx);	/* checks the instance is gone */
	assert_int_equal(yank_do(MIG_INCOMING_YANK_INSTANCE), -ENOENT);
}

static void test_yank_mem(void **state)
{
	do_yank(true);
}

static void test_yank_socket(void **state)
{
	do_yank(false);
}

/* Yank from another thread while the load thread is blocked. */
static void *yank_main(void *opaque)
{
	return (void *)(intptr_t)yank_do(MIG_INCOMING_YANK_INSTANCE);
}

static void test_yank_from_other_thread(void **state)
{
	static struct fixture fx;
	pthread_t t;
	void *ret;

	fixture_setup(&fx, true);
	sync_blocked(&fx);
	assert_int_equal(pthread_create(&t, NULL, yank_main, NULL), 0);
	assert_int_equal(mig_incoming_wait(&fx.inc), -EIO);
	pthread_join(t, &ret);
	assert_int_equal((intptr_t)ret, 0);
	expect_not_started(&fx);
	fixture_teardown(&fx);
}

/* Every test runs under the watchdog. */
#define WATCHED(test) cmocka_unit_test_setup_teardown(test, test_setup, test_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		WATCHED(test_complete_mem),
		WATCHED(test_complete_socket),
		WATCHED(test_bad_magic),
		WATCHED(test_bad_version),
		WATCHED(test_ram_size_mismatch),
		WATCHED(test_page_size_mismatch),
		WATCHED(test_page_out_of_range),
		WATCHED(test_page_before_setup),
		WATCHED(test_unknown_section),
		WATCHED(test_oversized_device_state),
		WATCHED(test_cut_before_eof),
		WATCHED(test_cut_mid_page),
		WATCHED(test_source_closes),
		WATCHED(test_cancel_wakes_blocked_load),
		WATCHED(test_cancel_socket),
		WATCHED(test_cancel_before_start),
		WATCHED(test_init_and_start_checks),
		WATCHED(test_never_started),
		WATCHED(test_yank_mem),
		WATCHED(test_yank_socket),
		WATCHED(test_yank_from_other_thread),
	};

	return cmocka_run_group_tests_name("core_incoming", tests, NULL, NULL);
}
