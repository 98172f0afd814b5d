/*
 * An in-process migration whose every fault point may fail (the program of
 * `migrace faults`): source and destination of the migration core in one
 * process over the in-memory channel fake. Whatever fails, and whenever, the
 * end state must be one a failed or a completed migration may legitimately
 * have. argv[1]: "precopy" (default) or "multifd" (two more channels).
 *
 * Checked at the end (MIGRACE_INVARIANT, so a broken one is a signature):
 *   - the migration ended (completed, failed or cancelled): a run that never
 *     ends is a hang or a deadlock, caught by the runtime;
 *   - completed: the guest started exactly once on the destination, with the
 *     memory the source had when it stopped; the source stays stopped;
 *   - failed or cancelled: the guest runs on the source, resumed exactly once
 *     per stop (at most one stop), and never started on the destination;
 *   - every thread was joined; in the asan build LSan checks that every
 *     channel, file and buffer was released.
 * A fault in this program's own setup (guest RAM, the listener) ends it
 * cleanly before any migration: that is not what is under test.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "channel.h"
#include "incoming.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migrace/migrace.h"
#include "migration.h"
#include "mig_run.h"

#define PAGES 8

static struct guest_ram dst_ram;
static struct vm dst_vm;
static struct mig_incoming inc;
static struct channel_listener *listener;
static int dst_result = -EINVAL;     /* written by the destination thread, read after the join */
static bool dst_cleaned;             /* idem */
static pthread_mutex_t listener_lock = PTHREAD_MUTEX_INITIALIZER;
static bool listener_closed;         /* under listener_lock */

/* The listener goes away with a failed destination, as with its process:
 * connections it never accepted see EOF. */
static void close_listener(void)
{
	pthread_mutex_lock(&listener_lock);
	if (!listener_closed)
		channel_listener_close(listener);
	listener_closed = true;
	pthread_mutex_unlock(&listener_lock);
}

static void shutdown_listener(void)
{
	pthread_mutex_lock(&listener_lock);
	if (!listener_closed)
		channel_listener_shutdown(listener);
	pthread_mutex_unlock(&listener_lock);
}

/* The destination: accept the stream (it may never come), load it, wait.
 * A destination that fails releases its channels at once, as its process
 * would by exiting, so that the source sees the end of the stream. */
static void *destination(void *arg)
{
	struct channel *ch;

	(void)arg;
	int ret = channel_accept(listener, &ch);
	if (ret) {
		dst_result = ret;
		close_listener();
		return NULL;
	}
	mig_incoming_set_listener(&inc, listener);
	mig_incoming_start(&inc, ch);    /* on an error the state is failed; wait says so */
	dst_result = mig_incoming_wait(&inc);
	channel_unref(ch);
	if (dst_result) {
		mig_incoming_cleanup(&inc);
		dst_cleaned = true;
		close_listener();
	}
	return NULL;
}

static void check_end(struct vm *src, struct guest_ram *ram, MigrationStatus st, bool unknown, uint64_t starts,
		      uint64_t stops)
{
	uint64_t dst_starts = vm_start_count(&dst_vm);

	if (!mig_status_ended(st))
		MIGRACE_INVARIANT("migration-ended", "the migration ended in state %s", migration_status_name(st));
	if (st == MIGRATION_STATUS_COMPLETED) {
		if (dst_result != 0 || dst_starts != 1)
			MIGRACE_INVARIANT("completed-on-destination",
					  "completed on the source, but the destination gave %d and started %lu times",
					  dst_result, (unsigned long)dst_starts);
		if (runstate_is_running(src) || starts != 0)
			MIGRACE_INVARIANT("source-stopped", "completed, but the source runs (started %lu times)",
					  (unsigned long)starts);
		if (mig_incoming_loaded_hash(&inc) != ram_hash(ram))
			MIGRACE_INVARIANT("memory-migrated", "the destination loaded other memory than the source's");
		return;
	}
	if (unknown) {
		/* failed after the end of the stream went out, with no answer:
		 * the destination may run the guest, so the source must not */
		if (runstate_is_running(src) || starts != stops - 1 || dst_starts > 1)
			MIGRACE_INVARIANT("guest-on-one-side",
					  "migration %s, outcome unknown: the source %s (stopped %lu, started %lu times), "
					  "the destination started %lu times",
					  migration_status_name(st), runstate_is_running(src) ? "runs" : "does not run",
					  (unsigned long)stops, (unsigned long)starts, (unsigned long)dst_starts);
		return;
	}
	if (dst_starts != 0)
		MIGRACE_INVARIANT("guest-on-one-side", "migration %s, but the guest started %lu times on the destination",
				  migration_status_name(st), (unsigned long)dst_starts);
	if (!runstate_is_running(src) || stops > 1 || starts != stops)
		MIGRACE_INVARIANT("source-resumed-once",
				  "migration %s: the source %s, stopped %lu times, started %lu times",
				  migration_status_name(st), runstate_is_running(src) ? "runs" : "does not run",
				  (unsigned long)stops, (unsigned long)starts);
}

int main(int argc, char **argv)
{
	bool multifd = argc > 1 && strcmp(argv[1], "multifd") == 0;
	struct guest_ram ram;
	struct vm vm;
	struct mig_info info = { 0 };
	pthread_t dst;

	mem_channel_register();
	/* the setup's own faults (RAM, the vCPU threads) end the run cleanly */
	memset(&vm, 0, sizeof(vm));
	if (ram_init(&ram, PAGES * RAM_PAGE_SIZE)) {
		puts("setup: no guest RAM");
		return 0;
	}
	if (ram_init(&dst_ram, PAGES * RAM_PAGE_SIZE)) {
		puts("setup: no destination RAM");
		goto out_ram;
	}
	if (vm_init(&vm, &ram, 1, 1, RUN_STATE_RUNNING) || vm_init(&dst_vm, &dst_ram, 1, 2, RUN_STATE_INMIGRATE)) {
		puts("setup: no vCPU thread");
		goto out_vm;
	}
	if (mig_incoming_init(&inc, &dst_vm, &dst_ram) || channel_listen("mem:migration", &listener)) {
		fprintf(stderr, "setup failed without a fault point\n");
		return 1;
	}
	main_loop_init();
	bql_lock();
	migration_object_init(&vm, &ram);
	uint64_t starts0 = vm_start_count(&vm), stops0 = vm_stop_count(&vm);
	struct mig_params params = { .return_path = true, .downtime_limit_ms = 300,
				     .multifd_channels = multifd ? 2 : 0 };
	pthread_create(&dst, NULL, destination, NULL);
	int ret = qmp_migrate("mem:migration", &params);
	qmp_query_migrate(&info);
	while (ret == 0 && !mig_status_ended(info.status)) {
		main_loop_wait(10);
		qmp_query_migrate(&info);
	}
	while (main_loop_wait(0) > 0)
		;
	mig_shutdown_unlock();
	/* what a management layer does after a failed migration: stop the
	 * destination waiting for a stream that will not come */
	if (info.status != MIGRATION_STATUS_COMPLETED)
		shutdown_listener();
	pthread_join(dst, NULL);
	close_listener();
	if (ret)   /* refused before it started: the source never stopped */
		info.status = info.status == MIGRATION_STATUS_NONE ? MIGRATION_STATUS_FAILED : info.status;
	check_end(&vm, &ram, info.status, info.outcome_unknown, vm_start_count(&vm) - starts0, vm_stop_count(&vm) - stops0);

	if (!dst_cleaned)
		mig_incoming_cleanup(&inc);
	printf("%s: %s (qmp_migrate %d, destination %d)\n", multifd ? "multifd" : "precopy",
	       migration_status_name(info.status), ret, dst_result);
out_vm:
	vm_destroy(&dst_vm);
	vm_destroy(&vm);
	ram_destroy(&dst_ram);
out_ram:
	ram_destroy(&ram);
	MIGRACE_CHECK_THREADS_JOINED();   /* the vCPUs included, once the VMs are gone */
	return 0;
}
