/*
 * rp-thread-join: the migration thread skips the join of the return-path
 * thread (QEMU 53021ea1659b, "migration: Fix missing join() of rp_thread",
 * Peter Xu, July 2021; qemu-races.md §2).
 *
 * The bug: migration_completion() decided whether a return path exists from
 * rp_state.from_dst_file, which the return-path thread itself clears when the
 * destination's SHUT arrives. If the return-path thread is between clearing
 * the pointer and closing its file when the migration thread looks, the
 * migration thread concludes there is no return path, never joins the thread
 * and lets cleanup run under it. In QEMU the visible end was the yank
 * assertion in migrate_fd_cleanup; the root is the unsynchronised read of
 * from_dst_file and the thread that nobody joins.
 *
 * The fix: a flag, rp_thread_created, set by the creator and cleared by the
 * joiner, decides the join; the return-path thread no longer releases
 * from_dst_file (cleanup does, under qemu_file_lock, after joining it).
 *
 *   return-path thread                    migration thread
 *   ------------------                    ----------------
 *   reads RP_SHUT from the destination
 *   from_dst_file = NULL     (regressed)
 *   [rp:thread:got-shut]
 *                                         sends EOF, flushes
 *                                         [mig:completion:check-rp]
 *                                         if (from_dst_file)   -> NULL:
 *                                             no join          (regressed)
 *                                         schedules cleanup, exits
 *   [rp:thread:exit]
 *   qemu_fclose(rp)          (regressed)
 *   ... never joined
 *
 * Expected on the regressed core: TSan reports the race on from_dst_file in
 * migration_completion; under ASan (no race detector) the return-path thread
 * is still unjoined when the migration is over.
 */
#include <assert.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "mig_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* the destination's SHUT reached the return-path thread ... */
		"rp:thread:got-shut -> mig:completion:check-rp",
		/* ... which waits right there while the migration thread decides */
		"mig:completion:check-rp -> rp:thread:exit",
	},
	.expect_tsan = "tsan:data-race@migration_completion",
	.expect_asan = "invariant:thread-not-joined",
);

int main(void)
{
	struct scen_mig m;

	scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true });
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	MigrationStatus st = scen_mig_wait_end(&m);

	/* the invariants of a completed migration with a return path */
	assert(st == MIGRATION_STATUS_COMPLETED);
	assert(m.info.pongs == 1);
	scen_mig_shutdown(&m);
	assert(m.dst_result == 0);
	assert(vm_start_count(&m.dst_vm) == 1);
	scen_mig_free(&m);                /* every thread joined */
	puts("rp-thread-join: completed, return path joined");
	return 0;
}
