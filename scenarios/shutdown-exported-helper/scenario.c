/*
 * shutdown-exported-helper: another subsystem calls an exported migration
 * helper after the migration object is gone (Avihai Horon's VFIO report of
 * 20 Oct 2024; Peter Xu's series "Migration: Make misc.h helpers available
 * for whole VM lifecycle", v2 patches 2-3 "Reset current_migration properly"
 * and "Add global_migration", v3 patch 8 "Protect updates to
 * current_migration with a mutex"; qemu-races.md §5c, checklist 4c).
 *
 * The bug: the exported helpers (migration_file_set_error,
 * migration_is_running, migration_is_active) reached the object through
 * current_migration, which nothing ever reset. migration_shutdown() drops the
 * initial reference while a migration runs; the migration thread, then the
 * cleanup BH, keep the object alive a little longer, and the BH's unref
 * finalizes it: qemu_file_lock is destroyed, the memory freed, and
 * current_migration still points there. A device that then reports an error
 * through migration_file_set_error() locks the destroyed mutex of a freed
 * object. In QEMU, VFIO's VM-state handler did so from vm_shutdown() and hit
 * "qemu_mutex_lock_impl: Assertion `mutex->initialized' failed".
 *
 * The fix (our core): two pointers with two lifetimes. global_migration owns
 * the initial reference and goes at migration_shutdown(); current_migration
 * lives until finalize, which clears it under migration_mutex (a static
 * mutex, never destroyed), and the helpers read it under that mutex, so after
 * finalize they find no object and do nothing. QEMU's v3 patch 8, which does
 * this, was never confirmed merged (qemu-races.md §5c).
 *
 * The regressed core (regress.patch) is the pre-series form of our code:
 * finalize leaves current_migration dangling and the helpers read it without
 * migration_mutex.
 *
 *   main thread                            device thread (a VFIO-like device)
 *   -----------                            -------------
 *   qmp_migrate; the migration thread
 *   holds its own reference, iterates
 *   migration_shutdown(): cancel,
 *   global_migration = NULL, unref
 *   [main:shutdown:after-unref]
 *           (the migration thread winds down: [mig:iterate:iteration-end],
 *            schedules the cleanup BH with a reference, drops its own)
 *   main loop: cleanup BH, last unref:
 *   finalize destroys qemu_file_lock,
 *   frees the object
 *   [mig:finalize:freed]
 *                                          the device fails, reports it:
 *                                          migration_file_set_error(-EIO)
 *                                          [helper:file-set-error:enter]
 *                                          s = current_migration  (regressed:
 *                                              dangling, not NULL)
 *                                          qemu_mutex_lock(&s->qemu_file_lock)
 *                                              reads the freed object
 *
 * Expected on the regressed core: the device thread reads the freed object in
 * qemu_mutex_lock (the `mutex->initialized` check), with no happens-before
 * from the free in the main thread: TSan reports it as heap-use-after-free,
 * ASan as heap-use-after-free. (QEMU's assertion is what a build without a
 * detector gives: the flag was cleared by qemu_mutex_destroy before the free.)
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "mig_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* shutdown while migrating: the migration thread is past setup
		 * (main waits for that) and may not finish its first pass before
		 * shutdown dropped the initial reference ... */
		"main:shutdown:after-unref -> mig:iterate:iteration-end",
		/* ... and the device reports its error once the object is gone */
		"mig:finalize:freed -> helper:file-set-error:enter",
	},
	.expect_tsan = "tsan:heap-use-after-free@qemu_mutex_lock",
	.expect_asan = "asan:heap-use-after-free@qemu_mutex_lock",
);

static atomic_bool device_reported;

/* The other subsystem: a device that fails and tells migration, from its
 * own thread, without knowing whether a migration object exists. */
static void *device_thread(void *arg)
{
	(void)arg;
	migration_file_set_error(-EIO);
	atomic_store(&device_reported, true);
	return NULL;
}

int main(void)
{
	struct scen_mig m;
	pthread_t dev;

	scen_mig_setup(&m, &(struct scen_mig_opts){ 0 });
	assert(pthread_create(&dev, NULL, device_thread, NULL) == 0);
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	do {        /* until the migration thread is past setup */
		main_loop_wait(1);
		qmp_query_migrate(&m.info);
	} while (m.info.status == MIGRATION_STATUS_SETUP);

	/* exit while migrating: the last reference goes with the cleanup BH */
	migration_shutdown();
	while (!atomic_load(&device_reported))
		main_loop_wait(10);
	assert(pthread_join(dev, NULL) == 0);
	while (main_loop_wait(0) > 0)
		;

	/* the object is gone, and nothing reaches it any more */
	assert(migrate_get_current() == NULL);
	assert(!migration_is_running() && !migration_is_active());
	scen_mig_shutdown(&m);
	/* The guest runs, started at most once on each side; on the source if
	 * the destination failed. Not "on exactly one side": in other
	 * schedules the device's error can land on to_dst_file after the last
	 * byte went out, so the source fails and resumes while the destination,
	 * which has everything, starts (no return path decides; QEMU alike). */
	assert(vm_start_count(&m.vm) <= 1 && vm_start_count(&m.dst_vm) <= 1);
	assert(runstate_is_running(&m.vm) || runstate_is_running(&m.dst_vm));
	if (m.dst_result != 0)
		assert(runstate_is_running(&m.vm) && vm_start_count(&m.dst_vm) == 0);
	scen_mig_free(&m);                /* every thread joined */
	puts("shutdown-exported-helper: the helper found no object after finalize");
	return 0;
}
