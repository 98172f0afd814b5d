/*
 * yank-ref-count: two threads close the two files of one channel and neither
 * unregisters the channel's yank function (QEMU 39675ffffb33, "migration:
 * Move the yank unregister of channel_close out", Peter Xu, July 2021;
 * qemu-races.md §4).
 *
 * The bug: the stream (to_dst_file) and its return path (from_dst_file) are
 * two files on one channel, and the channel's yank function is registered
 * once. QEMU's channel_close() unregistered it only when it saw itself as the
 * last reference (OBJECT(ioc)->ref == 1), then dropped its reference: a read
 * of the count and a separate unref. When cleanup (main thread) and the
 * return-path thread close their files at the same time, each can read 2
 * before either unref: neither unregisters, and yank_unregister_instance()
 * aborts on the leaked function, as in all the 2021 crashes.
 *
 * The fix: nobody decides from the count. Cleanup unregisters the function
 * explicitly, once, while it still holds the channel, then releases the
 * files (migration_cleanup; qemu_fclose just drops its reference).
 *
 * Our fixed core never closes the two files from two threads: cleanup closes
 * both, after joining the return-path thread (that join before to_dst_file
 * goes is QEMU 22b04245f0d5, and the return-path thread leaving its file to
 * cleanup is part of our rp-thread-join fix). So regress.patch restores, with
 * the ref == 1 test, the 2021 structure that made the two closers possible:
 * the return-path thread releases from_dst_file itself on its way out (as
 * QEMU 43044ac0ee57's migration_release_from_dst_file, under qemu_file_lock),
 * cleanup closes only to_dst_file and joins the return path after it, and
 * cleanup's own channel reference goes before the files, as QEMU's socket
 * code dropped its ioc reference once the file held one. The migration is
 * cancelled: on success the migration thread joins the return path before
 * cleanup, so only the failure path has the two closers.
 *
 *   main thread (cleanup BH)               return-path thread
 *   ------------------------               ------------------
 *   migrate_cancel: both files shut down
 *                                          read fails: leaves its loop
 *   [main:cleanup:start]
 *                                          [rp:thread:exit]
 *   joins the migration thread
 *   unref its channel ref     (regressed)
 *   qemu_fclose(to_dst_file):
 *     ref == 2: not the last  (regressed)
 *   [file:fclose:output-before-unref]
 *                                          qemu_fclose(from_dst_file):
 *                                            ref == 2: not the last
 *                                          [file:fclose:input-before-unref]
 *                                          unref: 1
 *     unref: 0
 *   joins the return-path thread
 *   yank_unregister_instance:
 *     assert(QLIST_EMPTY(&entry->yankfns))
 *
 * Expected on the regressed core: the yank assertion in both builds. The
 * count is read atomically (channel_ref_count), so TSan has no data race to
 * report: the defect is the decision taken on a stale count, not the read.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "mig_setup.h"
#include "yank.h"

MIGRACE_SCENARIO(
	.order = {
		/* the return-path thread closes only once cleanup is under way ... */
		"main:cleanup:start -> rp:thread:exit",
		/* ... and cleanup, having looked at the count, drops its reference
		 * only after the return-path thread looked too */
		"file:fclose:input-before-unref -> file:fclose:output-before-unref",
	},
	.expect_tsan = "assert:QLIST_EMPTY(&entry->yankfns)",
	.expect_asan = "assert:QLIST_EMPTY(&entry->yankfns)",
);

int main(void)
{
	struct scen_mig m;

	scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true });
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	assert(qmp_migrate_cancel() == 0);
	scen_mig_wait_end(&m);

	/* the yank instance went away with no function left behind; cancelled:
	 * the guest runs on the source only */
	assert(yank_function_count(MIGRATION_YANK_INSTANCE) == -ENOENT);
	scen_mig_shutdown_cancelled(&m);
	scen_mig_free(&m);                /* every thread joined */
	puts("yank-ref-count: cancelled, yank function unregistered once");
	return 0;
}
