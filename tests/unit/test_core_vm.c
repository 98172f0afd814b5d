/*
 * Unit tests of the VM model (core/migration/vm.c): vCPUs dirty RAM while
 * running, vm_stop returns only once they are quiet, vm_resume semantics,
 * notifiers, the transition table (an invalid one aborts), the counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ram.h"
#include "vm.h"

#define NPAGES 64

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* Wait up to 2 s for the vCPUs to have made at least n writes. */
static bool wait_writes(struct vm *vm, uint64_t n)
{
	int i;

	for (i = 0; i < 2000; i++) {
		if (vm_guest_writes(vm) >= n)
			return true;
		sleep_ms(1);
	}
	return false;
}

/* Every write increments one counter byte: their sum tracks the writes. */
static uint8_t counter_sum(const struct guest_ram *ram)
{
	uint8_t sum = 0;
	size_t page;

	for (page = 0; page < ram->npages; page++)
		sum = (uint8_t)(sum + ram_page_counter(ram, page));
	return sum;
}

static void test_vm_init_args(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	int s;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, -1, 1, RUN_STATE_PAUSED), -EINVAL);
	assert_int_equal(vm_init(&vm, &ram, VM_MAX_CPUS + 1, 1, RUN_STATE_PAUSED), -EINVAL);
	assert_int_equal(vm_init(&vm, NULL, 1, 1, RUN_STATE_PAUSED), -EINVAL);
	assert_int_equal(vm_init(&vm, &ram, 1, 1, RUN_STATE_COUNT), -EINVAL);
	vm_destroy(&vm);	/* safe after a failed init */

	for (s = 0; s < RUN_STATE_COUNT; s++) {
		assert_int_equal(vm_init(&vm, &ram, 2, 1, (RunState)s), 0);
		assert_int_equal(runstate_get(&vm), s);
		assert_int_equal(runstate_is_running(&vm), s == RUN_STATE_RUNNING);
		assert_int_equal(vm_ncpus(&vm), 2);
		assert_string_not_equal(runstate_name((RunState)s), "(invalid)");
		vm_destroy(&vm);
	}
	assert_string_equal(runstate_name(RUN_STATE_FINISH_MIGRATE), "finish-migrate");
	assert_string_equal(runstate_name(RUN_STATE_COUNT), "(invalid)");
	ram_destroy(&ram);
}

static void test_vm_start_dirties(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	unsigned long *mig;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	mig = bitmap_new(ram.npages);
	assert_non_null(mig);
	assert_int_equal(vm_init(&vm, &ram, 2, 42, RUN_STATE_PAUSED), 0);

	/* paused: the vCPUs wait and write nothing */
	sleep_ms(20);
	assert_int_equal(vm_guest_writes(&vm), 0);
	assert_int_equal(ram_dirty_sync(&ram, mig), 0);

	assert_int_equal(vm_start(&vm), 0);
	assert_true(runstate_is_running(&vm));
	assert_true(wait_writes(&vm, 200));
	assert_true(ram_dirty_sync(&ram, mig) > 0);
	/* reading guest memory while vCPUs write it is intended (and atomic) */
	{
		uint8_t buf[RAM_PAGE_SIZE];
		size_t page;

		for (page = 0; page < ram.npages; page++)
			ram_read_page(&ram, page, buf);
		(void)ram_hash(&ram);
		(void)ram_check(&ram, NULL);
	}
	/* vCPU 0 owns the even pages, vCPU 1 the odd ones: both write. One may
	 * not have run yet on a loaded machine: collect the dirty log until both
	 * showed up (or 5 s passed). */
	{
		size_t page;
		bool even = false, odd = false;

		for (int i = 0; i < 5000 && !(even && odd); i++) {
			for (page = bitmap_find_next(mig, ram.npages, 0); page < ram.npages;
			     page = bitmap_find_next(mig, ram.npages, page + 1)) {
				even |= page % 2 == 0;
				odd |= page % 2 == 1;
			}
			if (!(even && odd)) {
				sleep_ms(1);
				ram_dirty_sync(&ram, mig);
			}
		}
		assert_true(even && odd);
	}
	assert_int_equal(vm_stop(&vm, RUN_STATE_PAUSED), 0);
	assert_int_equal(ram_check(&ram, NULL), 0);
	vm_destroy(&vm);
	bitmap_free(mig);
	ram_destroy(&ram);
}

static void test_vm_stop_quiesces(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	unsigned long *mig;
	uint64_t h, writes;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	mig = bitmap_new(ram.npages);
	assert_non_null(mig);
	assert_int_equal(vm_init(&vm, &ram, 4, 7, RUN_STATE_RUNNING), 0);
	assert_true(wait_writes(&vm, 100));

	assert_int_equal(vm_stop(&vm, RUN_STATE_FINISH_MIGRATE), 0);
	assert_int_equal(runstate_get(&vm), RUN_STATE_FINISH_MIGRATE);
	assert_false(runstate_is_running(&vm));
	h = ram_hash(&ram);
	writes = vm_guest_writes(&vm);
	ram_dirty_sync(&ram, mig);

	sleep_ms(50);
	assert_int_equal(ram_hash(&ram), h);
	assert_int_equal(vm_guest_writes(&vm), writes);
	assert_int_equal(ram_dirty_sync(&ram, mig), 0);
	assert_int_equal(ram_check(&ram, NULL), 0);
	assert_int_equal(counter_sum(&ram), (uint8_t)writes);

	vm_destroy(&vm);
	bitmap_free(mig);
	ram_destroy(&ram);
}

static void test_vm_resume(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	uint64_t writes, h;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 2, 3, RUN_STATE_RUNNING), 0);

	/* a failed migration with the VM running before: it runs again */
	assert_int_equal(vm_stop(&vm, RUN_STATE_FINISH_MIGRATE), 0);
	writes = vm_guest_writes(&vm);
	vm_resume(&vm, RUN_STATE_RUNNING);
	assert_int_equal(runstate_get(&vm), RUN_STATE_RUNNING);
	assert_int_equal(vm_start_count(&vm), 1);
	assert_true(wait_writes(&vm, writes + 20));

	/* paused before: back to paused, and no vm_start */
	assert_int_equal(vm_stop(&vm, RUN_STATE_PAUSED), 0);
	assert_int_equal(vm_stop(&vm, RUN_STATE_FINISH_MIGRATE), 0);
	assert_int_equal(runstate_get(&vm), RUN_STATE_FINISH_MIGRATE);
	h = ram_hash(&ram);
	writes = vm_guest_writes(&vm);
	vm_resume(&vm, RUN_STATE_PAUSED);
	assert_int_equal(runstate_get(&vm), RUN_STATE_PAUSED);
	assert_int_equal(vm_start_count(&vm), 1);
	sleep_ms(30);
	assert_int_equal(vm_guest_writes(&vm), writes);
	assert_int_equal(ram_hash(&ram), h);

	vm_destroy(&vm);
	ram_destroy(&ram);
}

#define MAX_EVENTS 16

struct event_log {
	struct vm *vm;
	int n;
	struct {
		int who;
		bool running;
		RunState state;
		RunState seen;		/* runstate_get() from inside the notifier */
	} ev[MAX_EVENTS];
};

struct listener {
	struct event_log *log;
	int who;
};

static void record(void *opaque, bool running, RunState state)
{
	struct listener *l = opaque;
	struct event_log *log = l->log;

	if (log->n >= MAX_EVENTS)
		return;
	log->ev[log->n].who = l->who;
	log->ev[log->n].running = running;
	log->ev[log->n].state = state;
	/* would deadlock if notifiers ran under the vm lock */
	log->ev[log->n].seen = runstate_get(log->vm);
	log->n++;
}

static void expect_event(struct event_log *log, int i, int who, bool running, RunState state)
{
	assert_true(i < log->n);
	assert_int_equal(log->ev[i].who, who);
	assert_int_equal(log->ev[i].running, running);
	assert_int_equal(log->ev[i].state, state);
	assert_int_equal(log->ev[i].seen, state);
}

static void test_vm_notifiers(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	struct event_log log = { .vm = &vm };
	struct listener a = { &log, 1 }, b = { &log, 2 };
	struct vm_notifier *na, *nb;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 1, 5, RUN_STATE_INMIGRATE), 0);
	na = vm_state_add_notifier(&vm, record, &a);
	nb = vm_state_add_notifier(&vm, record, &b);
	assert_non_null(na);
	assert_non_null(nb);

	assert_int_equal(vm_start(&vm), 0);
	assert_int_equal(log.n, 2);
	expect_event(&log, 0, 1, true, RUN_STATE_RUNNING);
	expect_event(&log, 1, 2, true, RUN_STATE_RUNNING);

	assert_int_equal(vm_stop(&vm, RUN_STATE_FINISH_MIGRATE), 0);
	assert_int_equal(log.n, 4);
	expect_event(&log, 2, 1, false, RUN_STATE_FINISH_MIGRATE);
	expect_event(&log, 3, 2, false, RUN_STATE_FINISH_MIGRATE);

	/* no notification when nothing runs or stops */
	assert_int_equal(vm_stop(&vm, RUN_STATE_POSTMIGRATE), 0);
	runstate_set(&vm, RUN_STATE_PAUSED);
	vm_resume(&vm, RUN_STATE_PAUSED);
	assert_int_equal(log.n, 4);

	vm_state_remove_notifier(&vm, na);
	assert_int_equal(vm_start(&vm), 0);
	assert_int_equal(vm_start(&vm), -EALREADY);
	assert_int_equal(log.n, 5);
	expect_event(&log, 4, 2, true, RUN_STATE_RUNNING);

	vm_state_remove_notifier(&vm, nb);
	assert_int_equal(vm_stop(&vm, RUN_STATE_SHUTDOWN), 0);
	assert_int_equal(log.n, 5);
	vm_destroy(&vm);
	ram_destroy(&ram);
}

static void test_vm_counters(void **state)
{
	struct guest_ram ram;
	struct vm vm;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 2, 9, RUN_STATE_PAUSED), 0);
	assert_int_equal(vm_start_count(&vm), 0);
	assert_int_equal(vm_stop_count(&vm), 0);

	assert_int_equal(vm_start(&vm), 0);
	/* a double resume is visible in the counter */
	assert_int_equal(vm_start(&vm), -EALREADY);
	assert_true(runstate_is_running(&vm));
	assert_int_equal(vm_start_count(&vm), 2);

	assert_int_equal(vm_stop(&vm, RUN_STATE_PAUSED), 0);
	/* stopping a stopped VM only sets the state */
	assert_int_equal(vm_stop(&vm, RUN_STATE_FINISH_MIGRATE), 0);
	assert_int_equal(runstate_get(&vm), RUN_STATE_FINISH_MIGRATE);
	assert_int_equal(vm_stop_count(&vm), 2);
	vm_resume(&vm, RUN_STATE_RUNNING);
	assert_int_equal(vm_start_count(&vm), 3);
	vm_destroy(&vm);
	ram_destroy(&ram);
}

/* The transitions that migration goes through are all allowed. */
static void test_runstate_valid_paths(void **state)
{
	struct guest_ram ram;
	struct vm vm;
	static const RunState path[] = {
		RUN_STATE_PAUSED, RUN_STATE_FINISH_MIGRATE, RUN_STATE_POSTMIGRATE,
		RUN_STATE_RUNNING, RUN_STATE_FINISH_MIGRATE, RUN_STATE_RUNNING,
		RUN_STATE_PAUSED, RUN_STATE_POSTMIGRATE, RUN_STATE_FINISH_MIGRATE,
		RUN_STATE_PAUSED, RUN_STATE_PAUSED, RUN_STATE_SHUTDOWN,
		RUN_STATE_FINISH_MIGRATE, RUN_STATE_SHUTDOWN, RUN_STATE_PAUSED,
	};
	size_t i;

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&vm, &ram, 0, 1, RUN_STATE_INMIGRATE), 0);
	for (i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
		runstate_set(&vm, path[i]);
		assert_int_equal(runstate_get(&vm), path[i]);
	}
	vm_destroy(&vm);
	ram_destroy(&ram);
}

/*
 * In a forked child, move a VM from state from to state to (by vm_start or
 * runstate_set); expect SIGABRT and a message on stderr naming both states.
 */
struct bad_move {
	struct guest_ram *ram;
	RunState from, to;
	bool via_start;
};

static void do_bad_move(void *opaque)
{
	struct bad_move *m = opaque;
	struct vm vm;

	if (vm_init(&vm, m->ram, 1, 1, m->from) < 0)
		_exit(3);
	if (m->via_start)
		vm_start(&vm);
	else
		runstate_set(&vm, m->to);
}

static void expect_abort(RunState from, RunState to, bool via_start)
{
	struct guest_ram ram;
	char msg[4096];

	assert_int_equal(ram_init(&ram, NPAGES * RAM_PAGE_SIZE), 0);
	struct bad_move m = { &ram, from, to, via_start };
	int status = run_in_child(do_bad_move, &m, msg, sizeof(msg), 5);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
	assert_non_null(strstr(msg, runstate_name(from)));
	assert_non_null(strstr(msg, runstate_name(to)));
	ram_destroy(&ram);
}

static void test_runstate_invalid_aborts(void **state)
{
	expect_abort(RUN_STATE_SHUTDOWN, RUN_STATE_RUNNING, false);
	expect_abort(RUN_STATE_SHUTDOWN, RUN_STATE_RUNNING, true);
	expect_abort(RUN_STATE_RUNNING, RUN_STATE_INMIGRATE, false);
	expect_abort(RUN_STATE_INMIGRATE, RUN_STATE_POSTMIGRATE, false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_init_args),
		cmocka_unit_test(test_vm_start_dirties),
		cmocka_unit_test(test_vm_stop_quiesces),
		cmocka_unit_test(test_vm_resume),
		cmocka_unit_test(test_vm_notifiers),
		cmocka_unit_test(test_vm_counters),
		cmocka_unit_test(test_runstate_valid_paths),
		cmocka_unit_test(test_runstate_invalid_aborts),
	};

	return cmocka_run_group_tests_name("core_vm", tests, NULL, NULL);
}
