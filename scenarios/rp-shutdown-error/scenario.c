/*
 * rp-shutdown-error: cleanup decides from to_dst_file's error whether to
 * shut the return path down, and a failure that never touched to_dst_file
 * leaves the return-path thread blocked in its read while cleanup joins it
 * (QEMU 9425ef3f990a, "migration: Use migrate_has_error() in
 * close_return_path_on_source()", Cédric Le Goater, 2024; qemu-races.md §7).
 *
 * The bug: close_return_path_on_source() shut the return path down only if
 * `to_dst_file && from_dst_file && qemu_file_get_error(to_dst_file)`. The
 * return-path thread waits for the destination's SHUT, which a failed
 * migration may never bring, so the shutdown is what wakes it; but an error
 * can end the migration without ever being set on to_dst_file: in QEMU a
 * device's save_setup failing (VFIO) or, later, a failure in
 * migration_completion (Avihai Horon's follow-up), in our core a multifd
 * channel failing (its error is the multifd state's, then the migration's).
 * Then no shutdown, and the join in cleanup never ends.
 *
 * The fix: the decision is keyed on the migration's error
 * (migrate_has_error), whatever file, channel or device it came from.
 * regress.patch reverts exactly that line; the companion fix, joining the
 * return path before to_dst_file is released (22b04245f0d5, the
 * rp-exit-hang scenario), stays.
 *
 * The failure: a migration with one multifd channel to the fake destination,
 * which reads the setup and stalls before answering the PING (nothing ever
 * comes back on the return path), while its multifd thread shuts its own
 * channel down after the first page. The source's multifd thread fails its
 * next write with -EPIPE (the guest's 64 pages do not fit in the channel's
 * buffer, so on every schedule some write comes after the shutdown); the
 * migration thread, at its next multifd sync, fails the migration with that
 * error. to_dst_file, the main stream, is fine.
 *
 *   main thread (cleanup BH)           return-path thread   fake multifd thread
 *   ------------------------           ------------------   -------------------
 *                                      [rp:thread:before-read]
 *                                      blocked in its read
 *                                                           reads page 1
 *                                                           [fdest:page:before-action]
 *                                                           shuts its channel down
 *   (migration thread: its multifd sync fails with -EPIPE before
 *    completion, the migration fails, cleanup is scheduled)
 *   [main:cleanup:start]
 *   joins the migration thread
 *   close_return_path_on_source:
 *     to_dst_file has no error -> no shutdown       (regressed)
 *     qemu_thread_join(rp_thread) ... forever
 *
 * Expected on the regressed core, in both builds:
 * invariant:rp-join-blocked-in-read, from the scenario's watchdog
 * (scen_mig_watch_rp_join): the main thread is in the join in
 * migration_cleanup, "mig/src/rp" blocked in a read, the fake destination
 * stalled, the paused guest's vCPU waiting; the watchdog's deadline is the
 * only one, and the watchdog names the wait. On the real core the return
 * path is shut down, its thread leaves, the migration ends failed with
 * -EPIPE and the guest paused on the source, as it was.
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
	static const struct fake_dest_rule rules[] = {
		{ .at = FDA_PING, .action = FDD_STALL },		/* silent return path */
		{ .at = FDA_PAGE, .n = 1, .action = FDD_CLOSE_OWN },	/* on the multifd channel */
	};
	struct scen_mig m;

	/* 64 pages (256 KiB) do not fit in the channel's 64 KiB: whatever the
	 * schedule, some multifd write comes after the fake shut its channel
	 * down, so the migration fails before completion could wait for a SHUT
	 * that the stalled fake never sends */
	scen_mig_setup(&m, &(struct scen_mig_opts){ .pages = 64, .return_path = true, .multifd_channels = 1,
						   .no_destination = true });
	assert(vm_stop(&m.vm, RUN_STATE_PAUSED) == 0);   /* a paused guest: its vCPU waits */
	struct fake_dest *dst = fake_dest_new(rules, 2);
	assert(dst && fake_dest_start_listener(dst, m.listener) == 0);
	m.params.max_iterations = 1;
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	scen_mig_watch_rp_join(&m, 60);
	MigrationStatus st = scen_mig_wait_end(&m);
	scen_mig_unwatch(&m);

	/* failed by the multifd channel: the guest is as it was on the source */
	assert(st == MIGRATION_STATUS_FAILED);
	assert(m.info.error == -EPIPE);
	assert(m.info.pongs == 0);
	assert(runstate_get(&m.vm) == RUN_STATE_PAUSED);
	assert(vm_start_count(&m.vm) == 0);
	scen_mig_shutdown(&m);
	const struct fake_dest_record *rec = fake_dest_record(dst);
	assert(rec->shuts == 0 && rec->pongs == 0 && rec->multifd_channels == 1);
	fake_dest_free(dst);
	scen_mig_free(&m);                /* every thread joined, the return path too */
	puts("rp-shutdown-error: failed by multifd, return path shut down and joined");
	return 0;
}
