/*
 * The VM model: a runstate with a table of valid transitions, vCPU threads
 * that write guest RAM while the VM runs, vm_start/vm_stop/vm_resume with
 * QEMU's semantics, state-change notifiers, and start/stop counters.
 */
#ifndef CORE_VM_H
#define CORE_VM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ram.h"

typedef enum RunState {
	RUN_STATE_RUNNING,		/* vCPUs run and write guest RAM */
	RUN_STATE_PAUSED,		/* stopped by the user or at start-up */
	RUN_STATE_FINISH_MIGRATE,	/* source stopped for the last pass of migration */
	RUN_STATE_POSTMIGRATE,		/* source after a completed migration */
	RUN_STATE_INMIGRATE,		/* destination waiting for the stream */
	RUN_STATE_SHUTDOWN,		/* the guest shut down */
	RUN_STATE_COUNT
} RunState;

#define VM_MAX_CPUS 64

struct vm_vcpu;
struct vm_notifier;

typedef void (*VMChangeStateCb)(void *opaque, bool running, RunState state);

struct vm {
	/*
	 * Serializes vm_start, vm_stop and the notifier list, and is held while
	 * notifiers run, like QEMU's BQL; taken before lock, never by vCPUs.
	 */
	pthread_mutex_t change_lock;
	pthread_mutex_t lock;		/* protects the fields marked "lock" */
	pthread_cond_t run_cond;	/* vCPUs wait here while stopped; "lock" */
	pthread_cond_t quiet_cond;	/* vm_stop waits here for busy == 0; "lock" */
	RunState state;			/* lock */
	bool vcpus_run;			/* lock: vCPUs may touch memory */
	bool quit;			/* lock: vCPU threads must exit (vm_destroy) */
	int busy;			/* lock: vCPUs between two memory-touching steps */
	uint64_t starts;		/* lock: vm_start() calls */
	uint64_t stops;			/* lock: vm_stop() calls */
	uint64_t writes;		/* lock: guest writes done by all vCPUs */
	struct guest_ram *ram;		/* set by vm_init; not owned */
	int ncpus;			/* set by vm_init */
	uint64_t seed;			/* set by vm_init */
	struct vm_vcpu *vcpus;		/* set by vm_init; each vCPU owns its own entry */
	struct vm_notifier *notifiers;	/* change_lock; in registration order */
};

/*
 * Create a VM on ram (not owned) with ncpus vCPU threads (0 .. VM_MAX_CPUS)
 * whose page choices derive from seed, in initial_state (the vCPUs run at
 * once if it is RUNNING). Returns 0, -EINVAL, -ENOMEM or -errno of
 * pthread_create.
 */
int vm_init(struct vm *vm, struct guest_ram *ram, int ncpus, uint64_t seed, RunState initial_state);

/* Stop and join the vCPU threads and free the VM (not its RAM). No notifier
 * is called. Every notifier handle becomes invalid. */
void vm_destroy(struct vm *vm);

const char *runstate_name(RunState state);
RunState runstate_get(struct vm *vm);
bool runstate_is_running(struct vm *vm);

/*
 * Set the runstate without touching the vCPUs or calling notifiers. Setting
 * the current state is a no-op; a transition missing from the table in vm.c
 * is a bug of the caller: it prints both states and aborts. Takes vm->lock.
 */
void runstate_set(struct vm *vm, RunState state);

/*
 * Set RUNNING, call the notifiers with (true, RUNNING), then let the vCPUs
 * run. Every call counts in vm_start_count(), including one on a VM that is
 * already running, which changes nothing and returns -EALREADY (a double
 * resume is what the counter is for). Returns 0 or -EALREADY. Must not be
 * called from a notifier.
 */
int vm_start(struct vm *vm);

/*
 * Set new_state and, if the VM was running, stop the vCPUs and wait until
 * none of them touches memory any more, then call the notifiers with
 * (false, new_state). On a stopped VM it only sets the state. Every call
 * counts in vm_stop_count(). Returns 0. Must not be called from a notifier.
 */
int vm_stop(struct vm *vm, RunState new_state);

/* Restore old_state after a failed or cancelled migration: vm_start() if it
 * is RUNNING, else runstate_set(old_state). */
void vm_resume(struct vm *vm, RunState old_state);

/*
 * Register cb, called with opaque after each effective start and stop, in
 * registration order, without vm->lock held (but under change_lock, so cb
 * may read the runstate and counters and must not start, stop or
 * (un)register). Returns the handle, or NULL when out of memory.
 */
struct vm_notifier *vm_state_add_notifier(struct vm *vm, VMChangeStateCb cb, void *opaque);
void vm_state_remove_notifier(struct vm *vm, struct vm_notifier *notifier);

int vm_ncpus(struct vm *vm);
uint64_t vm_start_count(struct vm *vm);
uint64_t vm_stop_count(struct vm *vm);
/* Guest writes made by all vCPUs so far. */
uint64_t vm_guest_writes(struct vm *vm);

#endif
