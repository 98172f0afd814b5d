/*
 * shutdown-cleanup-bh: the cleanup bottom half runs on a freed migration
 * object (QEMU fd392cfa8e6f, "migration: Fix use-after-free during process
 * exit", Yury Kotov, April 2019; qemu-races.md §5a).
 *
 * The bug: at exit, migration_shutdown() cancels the migration and drops the
 * global reference on the migration object. The migration thread, winding
 * down, schedules the cleanup BH and then drops its own reference, which is
 * now the last one: finalize frees the object. The main loop then runs the
 * BH, and migration_cleanup works on freed memory. Upstream, clang's ASan saw
 * it as "heap-use-after-free ... in migrate_fd_cleanup", the memory "freed by
 * thread T6 (live_migration)" in object_unref from migration_thread.
 *
 * The fix: the BH holds a reference of its own. Our core has the 2024 form of
 * it (QEMU 699d9476a065, 44d0d456d7c4): migration_bh_schedule() takes a
 * reference before the BH can run and the dispatcher drops it after the
 * callback, so the migration thread's reference is never the last one while
 * a BH is pending. regress.patch schedules the BH without that reference.
 *
 *   main thread (BQL)                     migration thread
 *   -----------------                     ----------------
 *   qmp_migrate
 *   migration_shutdown:
 *     cancel, unref (the global ref)
 *   [main:shutdown:after-unref]
 *   main_loop_wait: no BH yet
 *                                         the stream fails (cancelled)
 *                                         schedules the cleanup BH,
 *                                           no reference for it  (regressed)
 *                                         [mig:finish:cleanup-scheduled]
 *                                         [mig:thread:before-unref]
 *                                         unref: the last one -> finalize,
 *                                           free(s)
 *   runs the cleanup BH
 *   [main:cleanup:start]
 *   s->thread_created   <- freed memory
 *
 * Expected on the regressed core: ASan reports the heap-use-after-free in
 * migration_cleanup; TSan, which also tracks frees, reports the same access
 * as a heap-use-after-free in migration_cleanup.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "mig_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* the global reference is gone before the thread drops its own ... */
		"main:shutdown:after-unref -> mig:thread:before-unref",
		/* ... and the BH runs only after the thread dropped it */
		"mig:thread:before-unref -> main:cleanup:start",
	},
	.expect_tsan = "tsan:heap-use-after-free@migration_cleanup",
	.expect_asan = "asan:heap-use-after-free@migration_cleanup",
);

int main(void)
{
	struct scen_mig m;

	scen_mig_setup(&m, &(struct scen_mig_opts){ 0 });
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	/* the process exits while the migration runs: cancel, drop the global
	 * reference; then, as vm_shutdown does, the main loop runs until the
	 * migration object is gone (the last BHs, the destination joined) */
	migration_shutdown();
	do
		main_loop_wait(10);
	while (migrate_get_current());
	scen_mig_shutdown(&m);

	/* the object is gone, the guest runs on exactly one side */
	assert(migrate_get_current() == NULL);
	assert(qmp_query_migrate(&m.info) == -ESHUTDOWN);
	bool src_runs = runstate_get(&m.vm) == RUN_STATE_RUNNING;
	bool dst_runs = vm_start_count(&m.dst_vm) == 1;
	assert(src_runs != dst_runs);
	assert(dst_runs == (m.dst_result == 0));
	scen_mig_free(&m);                /* every thread joined */
	printf("shutdown-cleanup-bh: cleanup ran on a live object, %s\n",
	       dst_runs ? "migration completed first" : "migration cancelled");
	return 0;
}
