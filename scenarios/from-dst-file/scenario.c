/*
 * from-dst-file: migrate_cancel checks rp_state.from_dst_file and then uses
 * it while the return-path thread clears and closes it (QEMU 43044ac0ee57,
 * "migration: Make from_dst_file accesses thread-safe", Peter Xu, July 2021,
 * reported by Dave Gilbert; qemu-races.md §3).
 *
 * The bug: cancel did `if (from_dst_file) qemu_file_shutdown(from_dst_file)`
 * with no lock, to kick the return-path thread out of its blocking read, and
 * the return-path thread released from_dst_file itself on its way out:
 * pointer set to NULL, QEMUFile closed and freed. If that thread was leaving
 * anyway (SHUT came, or its channel failed), the file could be gone between
 * cancel's check and its use. In our cancel the shutdown of to_dst_file comes
 * first, and it already fails the return path's read (both files share one
 * channel), so the return-path thread is always on its way out then.
 *
 * The fix: from_dst_file is protected by qemu_file_lock, and cancel checks
 * and uses both file pointers under it. QEMU's fix kept the release in the
 * return-path thread (under the lock, the close after it); our core goes one
 * step further, as rp-thread-join's fix does: only cleanup clears the pointer,
 * under the lock, after joining the thread. regress.patch restores the buggy
 * form of our code: the return-path thread releases from_dst_file on its exit
 * without the lock, and cancel's check and use lose the lock.
 *
 * Cancel loads the pointer once, for the check and for the use: that is what
 * the compiled buggy code does (nothing between the test and the call forces
 * a reload), so the stale pointer reaches qemu_file_shutdown and the outcome
 * is a use-after-free, QEMU's likelier symptom, not a NULL dereference. The
 * sync point main:cancel:rp-checked sits between the load and the use (in
 * the real core, inside the locked section).
 *
 *   main thread (migrate_cancel)              return-path thread
 *   ----------------------------              ------------------
 *                                             [rp:thread:before-read]
 *                                             blocked in channel_read
 *   state -> cancelling
 *   [main:cancel:before-shutdown]
 *   qemu_file_shutdown(to_dst_file)  ------>  the read fails (shared channel)
 *   rp = from_dst_file       (no lock, regressed)
 *   if (rp)
 *   [main:cancel:rp-checked]
 *                                             from_dst_file = NULL (regressed)
 *                                             qemu_fclose(rp): freed
 *                                             [rp:thread:exit]
 *   qemu_file_shutdown(rp)   -> the freed QEMUFile
 *
 * Expected on the regressed core: TSan reports the race on from_dst_file,
 * at the return-path thread's store (the earlier read is cancel's); ASan
 * reports the use-after-free of the QEMUFile in cancel's qemu_file_shutdown,
 * whose first access to the file is qemu_file_set_error (the top frame).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "mig_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* the return-path thread is in its read when cancel comes ... */
		"rp:thread:before-read -> main:cancel:before-shutdown",
		/* ... and leaves between cancel's check and cancel's use */
		"rp:thread:exit -> main:cancel:rp-checked",
	},
	.expect_tsan = "tsan:data-race@source_return_path_thread",
	.expect_asan = "asan:heap-use-after-free@qemu_file_set_error",
);

int main(void)
{
	struct scen_mig m;

	scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true });
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	/* the BQL is held since setup: the migration cannot stop the guest
	 * and reach state device, so the cancel always applies */
	assert(qmp_migrate_cancel() == 0);
	scen_mig_wait_end(&m);

	/* cancelled: the guest runs on the source only */
	scen_mig_shutdown_cancelled(&m);
	scen_mig_free(&m);                /* every thread joined, the return path too */
	puts("from-dst-file: cancelled, return path joined");
	return 0;
}
