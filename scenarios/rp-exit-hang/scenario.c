/*
 * rp-exit-hang: after a failed migration, cleanup joins a return-path thread
 * that nobody woke (QEMU 22b04245f0d5, "migration: Join the return path
 * thread before releasing to_dst_file", Fabiano Rosas, Feb 2024;
 * qemu-races.md §7).
 *
 * The bug: when the migration fails before completion (where the
 * return-path thread is normally joined), the destination never sends SHUT
 * and the return-path thread stays blocked in its read. Cleanup released
 * to_dst_file first: its close closes the channel both files share, which
 * does not wake a reader already blocked on it. Then
 * close_return_path_on_source() decided whether to shut the return path down
 * from `to_dst_file && qemu_file_get_error(to_dst_file)`; to_dst_file was
 * NULL by then, so no shutdown, and the join waited forever, in a BH: the
 * main loop hangs, and the destination waits too.
 *
 * The fix: cleanup joins the return path before it releases to_dst_file.
 * regress.patch reverts exactly that in our code: cleanup releases
 * to_dst_file right after joining the migration thread. It keeps the
 * companion fix, 9425ef3f990a ("migration: Use migrate_has_error() in
 * close_return_path_on_source()", Cédric Le Goater): the shutdown stays keyed
 * on the migration's error, and the order alone is enough for the hang: the
 * shutdown of from_dst_file after the shared channel was closed fails with
 * -EBADF and wakes nobody (Peter Xu's point: closing one file closes the
 * channel under the other). Reverting 9425ef3f990a alone is not caught here:
 * the error is on to_dst_file, as in Cédric's case; only a failure that leaves
 * to_dst_file without an error shows it: that is scenarios/rp-shutdown-error.
 *
 * The failure: a device fails during the migration and reports it with
 * migration_file_set_error(), as VFIO does in QEMU. The fake destination
 * reads the setup and then stalls before answering the PING: it never sends
 * anything on the return path. The main thread holds the BQL until the error
 * is set, so the migration thread, which needs the BQL to stop the guest in
 * completion, sees the error before completion's EOF and its join (a single
 * pass, max_iterations 1, fits in the channel: the migration thread never
 * blocks on the stalled destination).
 *
 *   main thread                               return-path thread
 *   -----------                               ------------------
 *                                             [rp:thread:before-read]
 *                                             blocked in channel_read
 *   migration_file_set_error(-EIO)
 *   (migration thread: completion fails before its join, schedules cleanup)
 *   [main:cleanup:start]
 *   joins the migration thread
 *   to_dst_file = NULL, qemu_fclose   (regressed: the channel is closed,
 *                                      the blocked read is not woken)
 *   close_return_path_on_source:
 *     to_dst_file NULL -> no shutdown (regressed)
 *     qemu_thread_join(rp_thread)  ...  forever
 *
 * Expected on the regressed core, in both builds:
 * invariant:rp-join-blocked-in-read. The main thread waits in the join in
 * migration_cleanup, the return-path thread ("mig/src/rp") in its read, the
 * fake destination in its stall and the paused guest's vCPU on its
 * condition: with the scenario's watchdog (scen_mig_watch_rp_join) the only
 * pending deadline, virtual time jumps to it, and the watchdog finds the
 * migration over, the main thread still in the main loop (the cleanup BH)
 * and "mig/src/rp" blocked in a read: it names that wait. Without the
 * watchdog the runtime would end the run as a bare `deadlock` (its signature
 * names no thread; the wait list is only in the report).
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "fake_dest.h"
#include "mig_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* the return-path thread is in its read when cleanup runs */
		"rp:thread:before-read -> main:cleanup:start",
	},
	.expect_tsan = "invariant:rp-join-blocked-in-read",
	.expect_asan = "invariant:rp-join-blocked-in-read",
);

int main(void)
{
	static const struct fake_dest_rule silent[] = {
		{ .at = FDA_PING, .action = FDD_STALL },   /* reads the setup, never answers */
	};
	struct scen_mig m;

	scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true, .no_destination = true });
	assert(vm_stop(&m.vm, RUN_STATE_PAUSED) == 0);   /* a paused guest: its vCPU waits */
	struct fake_dest *dst = fake_dest_new(silent, 1);
	assert(dst && fake_dest_start_listener(dst, m.listener) == 0);
	m.params.max_iterations = 1;
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	assert(fake_dest_wait_stalled(dst, 600000) == 0);
	migration_file_set_error(-EIO);   /* a device failed its save (VFIO's way) */
	scen_mig_watch_rp_join(&m, 60);
	MigrationStatus st = scen_mig_wait_end(&m);
	scen_mig_unwatch(&m);

	/* failed: the guest is back as it was on the source, paused */
	assert(st == MIGRATION_STATUS_FAILED);
	assert(m.info.error == -EIO);
	assert(m.info.pongs == 0);
	assert(runstate_get(&m.vm) == RUN_STATE_PAUSED);
	assert(vm_start_count(&m.vm) == 0);
	scen_mig_shutdown(&m);
	const struct fake_dest_record *rec = fake_dest_record(dst);
	assert(rec->shuts == 0 && rec->pongs == 0);
	fake_dest_free(dst);
	scen_mig_free(&m);                /* every thread joined, the return path too */
	puts("rp-exit-hang: failed, return path shut down and joined");
	return 0;
}
