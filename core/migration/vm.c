/*
 * The VM model: runstate transitions checked against one table, vCPU threads
 * that write guest RAM like QEMU's migration-test guest, and the stop
 * handshake that guarantees a stopped VM no longer touches its memory.
 */
#include "vm.h"

#include "thread.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A vCPU thread; the entry is written by vm_init and then only by its thread. */
struct vm_vcpu {
	struct vm *vm;
	int index;
	bool created;		/* vm_init: the thread exists and must be joined */
	QemuThread thread;
	uint64_t prng;		/* xorshift64* state; its own thread only */
};

struct vm_notifier {
	VMChangeStateCb cb;
	void *opaque;
	struct vm_notifier *next;
};

/* How long a vCPU sleeps between two guest writes. */
#define VM_VCPU_PAUSE_NS 50000

static const char *const runstate_names[RUN_STATE_COUNT] = {
	[RUN_STATE_RUNNING] = "running",
	[RUN_STATE_PAUSED] = "paused",
	[RUN_STATE_FINISH_MIGRATE] = "finish-migrate",
	[RUN_STATE_POSTMIGRATE] = "postmigrate",
	[RUN_STATE_INMIGRATE] = "inmigrate",
	[RUN_STATE_SHUTDOWN] = "shutdown",
};

/*
 * The valid transitions, from -> to (setting the current state again is
 * always allowed and does nothing):
 *
 *   inmigrate       -> running (incoming done, autostart), paused (incoming
 *                      done, no autostart), shutdown
 *   running         -> paused, finish-migrate (migration stops the source),
 *                      shutdown
 *   paused          -> running, finish-migrate (migrating a paused guest),
 *                      postmigrate, shutdown
 *   finish-migrate  -> postmigrate (migration completed), running or paused
 *                      (failure or cancel: vm_resume(old state)), shutdown
 *   postmigrate     -> running ("cont" after migration), paused,
 *                      finish-migrate (migrating again), shutdown
 *   shutdown        -> paused, finish-migrate (migrating a shut-down guest)
 *
 * Nothing goes back to inmigrate: only vm_init starts there.
 */
static const bool runstate_transitions[RUN_STATE_COUNT][RUN_STATE_COUNT] = {
	[RUN_STATE_INMIGRATE] = {
		[RUN_STATE_RUNNING] = true, [RUN_STATE_PAUSED] = true,
		[RUN_STATE_SHUTDOWN] = true,
	},
	[RUN_STATE_RUNNING] = {
		[RUN_STATE_PAUSED] = true, [RUN_STATE_FINISH_MIGRATE] = true,
		[RUN_STATE_SHUTDOWN] = true,
	},
	[RUN_STATE_PAUSED] = {
		[RUN_STATE_RUNNING] = true, [RUN_STATE_FINISH_MIGRATE] = true,
		[RUN_STATE_POSTMIGRATE] = true, [RUN_STATE_SHUTDOWN] = true,
	},
	[RUN_STATE_FINISH_MIGRATE] = {
		[RUN_STATE_POSTMIGRATE] = true, [RUN_STATE_RUNNING] = true,
		[RUN_STATE_PAUSED] = true, [RUN_STATE_SHUTDOWN] = true,
	},
	[RUN_STATE_POSTMIGRATE] = {
		[RUN_STATE_RUNNING] = true, [RUN_STATE_PAUSED] = true,
		[RUN_STATE_FINISH_MIGRATE] = true, [RUN_STATE_SHUTDOWN] = true,
	},
	[RUN_STATE_SHUTDOWN] = {
		[RUN_STATE_PAUSED] = true, [RUN_STATE_FINISH_MIGRATE] = true,
	},
};

static bool runstate_valid(int state)
{
	return state >= 0 && state < RUN_STATE_COUNT;
}

const char *runstate_name(RunState state)
{
	return runstate_valid(state) ? runstate_names[state] : "(invalid)";
}

/* Change the state; vm->lock held. Aborts on a transition not in the table. */
static void runstate_set_locked(struct vm *vm, RunState state)
{
	if (!runstate_valid(state)) {
		fprintf(stderr, "runstate_set: invalid runstate %d (current %s)\n",
			(int)state, runstate_name(vm->state));
		abort();
	}
	if (state == vm->state)
		return;
	if (!runstate_transitions[vm->state][state]) {
		fprintf(stderr, "runstate_set: invalid transition %s -> %s\n",
			runstate_name(vm->state), runstate_name(state));
		abort();
	}
	vm->state = state;
}

void runstate_set(struct vm *vm, RunState state)
{
	pthread_mutex_lock(&vm->lock);
	runstate_set_locked(vm, state);
	pthread_mutex_unlock(&vm->lock);
}

RunState runstate_get(struct vm *vm)
{
	RunState state;

	pthread_mutex_lock(&vm->lock);
	state = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return state;
}

bool runstate_is_running(struct vm *vm)
{
	return runstate_get(vm) == RUN_STATE_RUNNING;
}

/* xorshift64*: small, deterministic per vCPU. */
static uint64_t vm_vcpu_rand(struct vm_vcpu *cpu)
{
	uint64_t x = cpu->prng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	cpu->prng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* splitmix64 of the VM seed and the vCPU index: never 0. */
static uint64_t vm_vcpu_seed(uint64_t seed, int index)
{
	uint64_t z = seed + (uint64_t)(index + 1) * 0x9E3779B97F4A7C15ULL;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	z ^= z >> 31;
	return z ? z : 1;
}

/*
 * One guest write by cpu. Each page has a single writer: vCPU i owns the
 * pages p with p % ncpus == i, so a page's derived bytes always match its
 * counter once the write is over. Returns false if cpu owns no page.
 */
static bool vm_vcpu_write(struct vm_vcpu *cpu)
{
	struct vm *vm = cpu->vm;
	size_t npages = vm->ram->npages, ncpus = (size_t)vm->ncpus;
	size_t idx = (size_t)cpu->index, mine;

	if (idx >= npages)
		return false;
	mine = (npages - idx + ncpus - 1) / ncpus;
	ram_guest_touch(vm->ram, idx + (size_t)(vm_vcpu_rand(cpu) % mine) * ncpus);
	return true;
}

/*
 * The vCPU loop. busy counts the vCPUs that passed the vcpus_run check and
 * may touch memory; vm_stop clears vcpus_run and waits for busy == 0:
 *
 *   vCPU                              vm_stop
 *   lock; vcpus_run? busy++; unlock
 *                                     lock; vcpus_run = false
 *   write page, mark dirty            wait quiet_cond (busy != 0)
 *   lock; busy--, 0: signal; unlock
 *                                     wakes, returns: memory is quiet
 *   lock; !vcpus_run: wait run_cond
 *
 * Every iteration takes the lock and sleeps: never a pure busy loop.
 */
static void *vm_vcpu_thread(void *arg)
{
	struct vm_vcpu *cpu = arg;
	struct vm *vm = cpu->vm;
	const struct timespec pause = { 0, VM_VCPU_PAUSE_NS };
	bool wrote;

	for (;;) {
		pthread_mutex_lock(&vm->lock);
		while (!vm->quit && !vm->vcpus_run)
			pthread_cond_wait(&vm->run_cond, &vm->lock);
		if (vm->quit) {
			pthread_mutex_unlock(&vm->lock);
			break;
		}
		vm->busy++;
		pthread_mutex_unlock(&vm->lock);

		wrote = vm_vcpu_write(cpu);

		pthread_mutex_lock(&vm->lock);
		if (wrote)
			vm->writes++;
		if (--vm->busy == 0 && !vm->vcpus_run)
			pthread_cond_broadcast(&vm->quiet_cond);
		pthread_mutex_unlock(&vm->lock);
		nanosleep(&pause, NULL);
	}
	return NULL;
}

/* Tell the vCPU threads to exit and join those that were created. */
static void vm_stop_threads(struct vm *vm)
{
	int i;

	pthread_mutex_lock(&vm->lock);
	vm->quit = true;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->lock);
	for (i = 0; i < vm->ncpus; i++) {
		if (!vm->vcpus[i].created)
			continue;
		qemu_thread_join(&vm->vcpus[i].thread);
		vm->vcpus[i].created = false;
	}
}

int vm_init(struct vm *vm, struct guest_ram *ram, int ncpus, uint64_t seed, RunState initial_state)
{
	int i, ret;

	memset(vm, 0, sizeof(*vm));
	if (!ram || ncpus < 0 || ncpus > VM_MAX_CPUS || !runstate_valid(initial_state))
		return -EINVAL;
	vm->vcpus = calloc(ncpus ? (size_t)ncpus : 1, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	pthread_mutex_init(&vm->change_lock, NULL);
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->run_cond, NULL);
	pthread_cond_init(&vm->quiet_cond, NULL);
	vm->ram = ram;
	vm->ncpus = ncpus;
	vm->seed = seed;
	vm->state = initial_state;
	vm->vcpus_run = initial_state == RUN_STATE_RUNNING;

	for (i = 0; i < ncpus; i++) {
		struct vm_vcpu *cpu = &vm->vcpus[i];

		cpu->vm = vm;
		cpu->index = i;
		cpu->prng = vm_vcpu_seed(seed, i);
		ret = qemu_thread_try_create(&cpu->thread, "vcpu", vm_vcpu_thread, cpu, QEMU_THREAD_JOINABLE);
		if (ret) {
			vm_destroy(vm);
			return ret;
		}
		cpu->created = true;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	struct vm_notifier *n, *next;

	if (!vm->vcpus)
		return;
	vm_stop_threads(vm);
	for (n = vm->notifiers; n; n = next) {
		next = n->next;
		free(n);
	}
	vm->notifiers = NULL;
	free(vm->vcpus);
	vm->vcpus = NULL;
	pthread_cond_destroy(&vm->quiet_cond);
	pthread_cond_destroy(&vm->run_cond);
	pthread_mutex_destroy(&vm->lock);
	pthread_mutex_destroy(&vm->change_lock);
}

/* Call every notifier in registration order; change_lock held, lock not. */
static void vm_state_notify(struct vm *vm, bool running, RunState state)
{
	struct vm_notifier *n;

	for (n = vm->notifiers; n; n = n->next)
		n->cb(n->opaque, running, state);
}

int vm_start(struct vm *vm)
{
	pthread_mutex_lock(&vm->change_lock);
	pthread_mutex_lock(&vm->lock);
	vm->starts++;
	if (vm->state == RUN_STATE_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		pthread_mutex_unlock(&vm->change_lock);
		return -EALREADY;
	}
	runstate_set_locked(vm, RUN_STATE_RUNNING);
	pthread_mutex_unlock(&vm->lock);

	/* as in QEMU, the notifiers run before the vCPUs resume */
	vm_state_notify(vm, true, RUN_STATE_RUNNING);

	pthread_mutex_lock(&vm->lock);
	vm->vcpus_run = true;
	pthread_cond_broadcast(&vm->run_cond);
	pthread_mutex_unlock(&vm->lock);
	pthread_mutex_unlock(&vm->change_lock);
	return 0;
}

int vm_stop(struct vm *vm, RunState new_state)
{
	bool was_running;

	pthread_mutex_lock(&vm->change_lock);
	pthread_mutex_lock(&vm->lock);
	vm->stops++;
	was_running = vm->state == RUN_STATE_RUNNING;
	runstate_set_locked(vm, new_state);
	if (!was_running) {
		pthread_mutex_unlock(&vm->lock);
		pthread_mutex_unlock(&vm->change_lock);
		return 0;
	}
	vm->vcpus_run = false;
	while (vm->busy > 0)
		pthread_cond_wait(&vm->quiet_cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);

	vm_state_notify(vm, false, new_state);
	pthread_mutex_unlock(&vm->change_lock);
	return 0;
}

void vm_resume(struct vm *vm, RunState old_state)
{
	if (old_state == RUN_STATE_RUNNING)
		vm_start(vm);
	else
		runstate_set(vm, old_state);
}

struct vm_notifier *vm_state_add_notifier(struct vm *vm, VMChangeStateCb cb, void *opaque)
{
	struct vm_notifier *n = calloc(1, sizeof(*n)), **tail;

	if (!n)
		return NULL;
	n->cb = cb;
	n->opaque = opaque;
	pthread_mutex_lock(&vm->change_lock);
	for (tail = &vm->notifiers; *tail; tail = &(*tail)->next)
		;
	*tail = n;
	pthread_mutex_unlock(&vm->change_lock);
	return n;
}

void vm_state_remove_notifier(struct vm *vm, struct vm_notifier *notifier)
{
	struct vm_notifier **p;

	pthread_mutex_lock(&vm->change_lock);
	for (p = &vm->notifiers; *p; p = &(*p)->next) {
		if (*p == notifier) {
			*p = notifier->next;
			free(notifier);
			break;
		}
	}
	pthread_mutex_unlock(&vm->change_lock);
}

int vm_ncpus(struct vm *vm)
{
	return vm->ncpus;
}

static uint64_t vm_read_counter(struct vm *vm, const uint64_t *counter)
{
	uint64_t v;

	pthread_mutex_lock(&vm->lock);
	v = *counter;
	pthread_mutex_unlock(&vm->lock);
	return v;
}

uint64_t vm_start_count(struct vm *vm)
{
	return vm_read_counter(vm, &vm->starts);
}

uint64_t vm_stop_count(struct vm *vm)
{
	return vm_read_counter(vm, &vm->stops);
}

uint64_t vm_guest_writes(struct vm *vm)
{
	return vm_read_counter(vm, &vm->writes);
}
