/*
 * cpr-stop-order: cpr-transfer hands the device to the target before the
 * source stopped the guest and released the device (Steve Sistare,
 * "migration: stop vm earlier for cpr", V2 04/11 of 30 Jun 2024, reposted by
 * Ben Chaney as v3 1/8 on 3 Dec 2025, base 9febfa94b69b, merge not confirmed;
 * qemu-races.md §6, checklist 5).
 *
 * The bug: with cpr-transfer the target blocks until the source sends the
 * guest's RAM and device handles, then at once creates its devices with
 * them: VHOST_SET_OWNER on the inherited vhost device. Before the patch the
 * source stopped the guest and ran the setup notifiers (vhost_reset_owner)
 * only later, in migrate_fd_connect(), after the handles had gone. The
 * target's SET_OWNER then met a device the source still owned: -EBUSY
 * ("vhost_set_owner failed: Device or resource busy (16)", then the target's
 * "virtio_net_set_queue_pairs: Assertion `!r' failed" in a tester's report),
 * and source I/O raced the target's device initialisation.
 *
 * The fix: stop the guest, release the device, and only then send the
 * handles (the cut-over), then wait until the target took them. In our core
 * that order is cpr_transfer_save(); on any failure migration_resume_vm_locked()
 * resumes the guest exactly once, and only if the source owns the device.
 *
 * The regressed core (regress.patch) sends the handles first and stops the
 * guest and releases the device after them, still before waiting for the
 * target's hang-up: the window in which the target acts is open. (In QEMU
 * the stop came even later, after the hang-up, in migrate_fd_connect();
 * our target hangs up only after SET_OWNER, so that placement would fail
 * in every schedule rather than in the interleaving below.)
 *
 *   source main thread (qmp_migrate)       target (cpr_transfer_load)
 *   --------------------------------       --------------------------
 *                                          blocks for the handles
 *   channel_send_fds(RAM, device)
 *   [cpr:save:fds-sent]
 *                                          receives them
 *                                          [cpr:load:got-fds]
 *                                          [cpr:load:set-owner]
 *                                          vdev_set_owner -> -EBUSY: the
 *                                          source still owns the device
 *   vm_stop            (regressed: only now)
 *   [cpr:save:vm-stopped]
 *   vdev_reset_owner   (regressed: too late)
 *   [cpr:save:device-released]
 *
 * Expected on the regressed core, in both builds: invariant:device-busy,
 * checked by the target at the moment its set_owner fails. Neither TSan nor
 * ASan can see it: the conflict is over device ownership (a flock) and
 * shared memory mapped twice, not over one address.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>

#include <migrace/migrace.h>
#include <migrace/scenario.h>

#include "channel.h"
#include "cpr.h"
#include "device.h"
#include "incoming.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"
#include "mig_run.h"

#define PAGES 8
#define CPR_URI "mem:cpr"
#define MIG_URI "mem:migration"

MIGRACE_SCENARIO(
	.order = {
		/* the target acts on the handles the moment they arrive,
		 * before the source gets past sending them */
		"cpr:load:set-owner -> cpr:save:fds-sent",
	},
	.expect_tsan = "invariant:device-busy",
	.expect_asan = "invariant:device-busy",
);

/* The target: written by its thread, read by main after the join. */
static struct guest_ram dst_ram;
static struct vm dst_vm;
static struct vdev dst_dev;
static struct mig_incoming inc;
static struct channel_listener *listener, *cpr_listener;
static int dst_result = 1;

/* The target process: the handles first (RAM and device), then the guest
 * and the main migration stream. */
static void *target(void *arg)
{
	(void)arg;
	dst_result = cpr_transfer_load(cpr_listener, PAGES * RAM_PAGE_SIZE, &dst_ram, &dst_dev);
	if (dst_result == -EBUSY)
		MIGRACE_INVARIANT("device-busy", "the target's set_owner failed: the source still owns the device");
	if (dst_result)
		return NULL;
	assert(vm_init(&dst_vm, &dst_ram, 1, 2, RUN_STATE_INMIGRATE) == 0);
	assert(mig_incoming_init(&inc, &dst_vm, &dst_ram) == 0);
	mig_accept_and_load(listener, &inc, &dst_result);
	return NULL;
}

int main(void)
{
	struct guest_ram ram;
	struct vm vm;
	struct vdev dev;
	struct mig_info info;
	pthread_t dst;

	/* the source: a running guest on memfd RAM, owning its device */
	mem_channel_register();
	assert(ram_init_memfd(&ram, PAGES * RAM_PAGE_SIZE) == 0);
	migrace_fork_here();	/* the guest's memory is no part of the race */
	assert(vm_init(&vm, &ram, 1, 1, RUN_STATE_RUNNING) == 0);
	assert(vdev_create(&dev, NULL) == 0);
	assert(vdev_set_owner(&dev) == 0);
	assert(channel_listen(MIG_URI, &listener) == 0);
	assert(channel_listen(CPR_URI, &cpr_listener) == 0);
	main_loop_init();
	bql_lock();
	migration_object_init(&vm, &ram);
	migration_set_device(&dev);
	assert(pthread_create(&dst, NULL, target, NULL) == 0);

	/* cpr-transfer */
	struct mig_params params = { .downtime_limit_ms = 300, .cpr_uri = CPR_URI };
	assert(qmp_migrate(MIG_URI, &params) == 0);
	mig_run_to_end(&info);
	mig_shutdown_unlock();
	assert(pthread_join(dst, NULL) == 0);

	/* the device changed hands once: the target owns it, the source not */
	assert(info.status == MIGRATION_STATUS_COMPLETED);
	assert(dst_result == 0);
	assert(vdev_is_owner(&dst_dev) && !vdev_is_owner(&dev));
	/* the guest runs on the target only, started once there, never resumed
	 * on the source */
	assert(runstate_is_running(&dst_vm) && vm_start_count(&dst_vm) == 1);
	assert(!runstate_is_running(&vm) && vm_start_count(&vm) == 0);

	channel_listener_close(listener);
	channel_listener_close(cpr_listener);
	mig_incoming_cleanup(&inc);
	vm_destroy(&dst_vm);
	vm_destroy(&vm);
	vdev_close(&dst_dev);
	vdev_close(&dev);
	ram_destroy(&dst_ram);
	ram_destroy(&ram);
	MIGRACE_CHECK_THREADS_JOINED();
	puts("cpr-stop-order: stopped and released before the handover");
	return 0;
}
