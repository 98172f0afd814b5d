/*
 * Unit tests of the destination's postcopy memory (core/migration/
 * postcopy_ram.c): a fault asks for a missing page once and waits until it
 * is placed; a placed page is never overwritten; the digest of the pages as
 * they arrived; the end wakes the waiters and waits for a vCPU still inside
 * its request (the owner frees what request uses once end returns).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "postcopy_ram.h"
#include "ram.h"

#define NPAGES 4

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The request hook: counts, and holds the caller while hold is set. */
static struct {
	atomic_int calls;
	atomic_size_t last;
	atomic_bool inside;		/* a caller is in the hook */
	atomic_bool hold;		/* the hook waits until it is cleared */
} req;

static void request(void *opaque, size_t page)
{
	(void)opaque;
	atomic_store(&req.last, page);
	atomic_fetch_add(&req.calls, 1);
	atomic_store(&req.inside, true);
	while (atomic_load(&req.hold))
		sleep_ms(1);
	atomic_store(&req.inside, false);
}

static struct guest_ram ram;

static struct postcopy_ram *begin_all_missing(void)
{
	unsigned long *missing = bitmap_new(NPAGES);

	memset(&req, 0, sizeof(req));
	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_non_null(missing);
	bitmap_fill(missing, NPAGES);
	struct postcopy_ram *pc = postcopy_ram_begin(&ram, missing, request, NULL);
	bitmap_free(missing);
	assert_non_null(pc);
	return pc;
}

static void finish(struct postcopy_ram *pc)
{
	postcopy_ram_end(pc);
	ram_destroy(&ram);	/* frees pc with the hook */
}

struct vcpu {
	struct postcopy_ram *pc;
	size_t page;
	atomic_bool done;
};

static void *vcpu_fault(void *arg)
{
	struct vcpu *v = arg;

	postcopy_ram_fault(v->pc, v->page);
	atomic_store(&v->done, true);
	return NULL;
}

/* A fault asks once and waits for the page; a second fault on it does not ask again. */
static void test_fault_waits_for_place(void **state)
{
	struct postcopy_ram *pc = begin_all_missing();
	struct vcpu a = { .pc = pc, .page = 2 }, b = { .pc = pc, .page = 2 };
	pthread_t ta, tb;
	uint8_t page[RAM_PAGE_SIZE];

	assert_int_equal(postcopy_ram_missing(pc), NPAGES);
	assert_int_equal(pthread_create(&ta, NULL, vcpu_fault, &a), 0);
	while (atomic_load(&req.calls) == 0)
		sleep_ms(1);
	assert_int_equal(pthread_create(&tb, NULL, vcpu_fault, &b), 0);
	sleep_ms(20);
	assert_false(atomic_load(&a.done));
	assert_false(atomic_load(&b.done));
	assert_int_equal(atomic_load(&req.calls), 1);
	assert_int_equal(atomic_load(&req.last), 2);
	assert_int_equal(postcopy_ram_requests_in_flight(pc), 1);

	memset(page, 0x5a, sizeof(page));
	assert_true(postcopy_ram_place(pc, 2, page));
	assert_int_equal(pthread_join(ta, NULL), 0);
	assert_int_equal(pthread_join(tb, NULL), 0);
	assert_int_equal(postcopy_ram_requests_in_flight(pc), 0);
	assert_int_equal(postcopy_ram_missing(pc), NPAGES - 1);
	/* here now: a second copy is dropped, the fault returns at once */
	memset(page, 0xa5, sizeof(page));
	assert_false(postcopy_ram_place(pc, 2, page));
	postcopy_ram_fault(pc, 2);
	assert_int_equal(atomic_load(&req.calls), 1);
	assert_true(postcopy_ram_wait_requests(pc));
	finish(pc);
}

/* Every page placed: the digest at the end is the RAM's, as it is now. */
static void test_end_digest(void **state)
{
	struct postcopy_ram *pc = begin_all_missing();
	uint8_t page[RAM_PAGE_SIZE];

	for (size_t p = 0; p < NPAGES; p++) {
		memset(page, (int)p + 1, sizeof(page));
		assert_true(postcopy_ram_place(pc, p, page));
	}
	assert_int_equal(postcopy_ram_missing(pc), 0);
	uint64_t want = ram_pages_digest(&ram);
	assert_true(postcopy_ram_end(pc) == want);
	ram_destroy(&ram);
}

struct ender {
	struct postcopy_ram *pc;
	atomic_bool done;
};

static void *end_thread(void *arg)
{
	struct ender *e = arg;

	postcopy_ram_end(e->pc);
	atomic_store(&e->done, true);
	return NULL;
}

/*
 * A vCPU asked for a page and is still inside request() (on the
 * destination: writing RP_REQ_PAGE under the incoming state's rp_mutex)
 * when postcopy ends. end must not return before request() did: its owner
 * frees the incoming state next (mig_incoming_cleanup destroys rp_mutex),
 * and the vCPU would lock a destroyed mutex (found by the migration
 * workload, pct:3 --preempt mem: tsan:data-race@qemu_mutex_lock on
 * rp_mutex, a use after mig_incoming_cleanup).
 */
static void test_end_waits_for_request(void **state)
{
	struct postcopy_ram *pc = begin_all_missing();
	struct vcpu v = { .pc = pc, .page = 1 };
	struct ender e = { .pc = pc };
	pthread_t tv, te;

	atomic_store(&req.hold, true);
	assert_int_equal(pthread_create(&tv, NULL, vcpu_fault, &v), 0);
	while (!atomic_load(&req.inside))
		sleep_ms(1);
	assert_int_equal(pthread_create(&te, NULL, end_thread, &e), 0);
	sleep_ms(50);
	assert_false(atomic_load(&e.done));	/* the vCPU is still in request() */
	atomic_store(&req.hold, false);
	assert_int_equal(pthread_join(te, NULL), 0);
	assert_false(atomic_load(&req.inside));
	assert_int_equal(pthread_join(tv, NULL), 0);	/* woken: nothing is missing any more */
	assert_true(atomic_load(&v.done));
	ram_destroy(&ram);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fault_waits_for_place),
		cmocka_unit_test(test_end_digest),
		cmocka_unit_test(test_end_waits_for_request),
	};

	return cmocka_run_group_tests_name("core_postcopy_ram", tests, NULL, NULL);
}
