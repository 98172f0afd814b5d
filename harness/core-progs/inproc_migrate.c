/*
 * An in-process migration under the controlled scheduler: the migration
 * core's source and destination in one process, over the in-memory channel
 * fake, with a running guest. Used to check that the core runs under the
 * harness (its threads scheduled one at a time, its channels the fakes) and
 * stays clean under TSan on every schedule. argv[1]: "complete" (default),
 * "cancel" (cancel right after starting), "multifd" and "multifd-cancel" (the
 * pages over two more channels, each with its threads), "cpr" (cpr-transfer:
 * RAM and device handed over first) or "cpr-fail" (cpr-transfer to a target
 * that is not there: the guest must resume exactly once, with its device).
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "channel.h"
#include "cpr.h"
#include "device.h"
#include "incoming.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"
#include "mig_run.h"

#define PAGES 8

static struct guest_ram dst_ram;
static struct vm dst_vm;
static struct mig_incoming inc;
static struct channel_listener *listener, *cpr_listener;
static struct vdev dst_dev;
static int dst_result = 1;

static void *destination(void *arg)
{
	if (arg) {   /* cpr: the RAM and the device first, then the VM */
		dst_result = cpr_transfer_load(cpr_listener, PAGES * RAM_PAGE_SIZE, &dst_ram, &dst_dev);
		if (dst_result)
			return NULL;
		assert(vm_init(&dst_vm, &dst_ram, 1, 2, RUN_STATE_INMIGRATE) == 0);
		assert(mig_incoming_init(&inc, &dst_vm, &dst_ram) == 0);
	}
	mig_accept_and_load(listener, &inc, &dst_result);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "complete";
	bool multifd = strncmp(mode, "multifd", 7) == 0;
	bool cancel = strcmp(mode, "cancel") == 0 || strcmp(mode, "multifd-cancel") == 0;
	bool cpr = strncmp(mode, "cpr", 3) == 0, cpr_fail = strcmp(mode, "cpr-fail") == 0;
	struct guest_ram ram;
	struct vm vm;
	struct vdev dev;
	struct mig_info info;
	pthread_t dst;

	mem_channel_register();
	assert((cpr ? ram_init_memfd(&ram, PAGES * RAM_PAGE_SIZE) : ram_init(&ram, PAGES * RAM_PAGE_SIZE)) == 0);
	assert(vm_init(&vm, &ram, 1, 1, RUN_STATE_RUNNING) == 0);
	if (cpr) {
		assert(vdev_create(&dev, NULL) == 0);
		assert(vdev_set_owner(&dev) == 0);
	} else {
		assert(ram_init(&dst_ram, PAGES * RAM_PAGE_SIZE) == 0);
		assert(vm_init(&dst_vm, &dst_ram, 1, 2, RUN_STATE_INMIGRATE) == 0);
		assert(mig_incoming_init(&inc, &dst_vm, &dst_ram) == 0);
	}
	assert(channel_listen("mem:migration", &listener) == 0);
	if (cpr && !cpr_fail)
		assert(channel_listen("mem:cpr", &cpr_listener) == 0);

	main_loop_init();
	bql_lock();
	migration_object_init(&vm, &ram);
	struct mig_params params = { .return_path = true, .downtime_limit_ms = 300,
				     .cpr_uri = cpr ? "mem:cpr" : NULL, .multifd_channels = multifd ? 2 : 0 };
	if (cpr)
		migration_set_device(&dev);
	if (cpr_fail) {
		/* nobody takes the handles: the guest resumes once, with its device */
		uint64_t starts = vm_start_count(&vm);
		assert(qmp_migrate("mem:migration", &params) == -ECONNREFUSED);
		assert(runstate_is_running(&vm));
		assert(vm_start_count(&vm) == starts + 1);
		assert(vdev_is_owner(&dev));
		mig_shutdown_unlock();
		channel_listener_close(listener);
		vm_destroy(&vm);
		ram_destroy(&ram);     /* the program's, not the core's: the core never frees a guest's RAM */
		vdev_close(&dev);
		puts("cpr-fail: resumed once");
		return 0;
	}
	pthread_create(&dst, NULL, destination, cpr ? (void *)1 : NULL);
	assert(qmp_migrate("mem:migration", &params) == 0);
	if (cancel)
		assert(qmp_migrate_cancel() == 0);
	mig_run_to_end(&info);
	mig_shutdown_unlock();
	pthread_join(dst, NULL);
	channel_listener_close(listener);
	if (cpr_listener)
		channel_listener_close(cpr_listener);

	if (cancel) {
		assert(info.status == MIGRATION_STATUS_CANCELLED);
		assert(runstate_is_running(&vm));
		assert(vm_start_count(&dst_vm) == 0);
	} else {
		assert(info.status == MIGRATION_STATUS_COMPLETED);
		assert(dst_result == 0);
		assert(vm_start_count(&dst_vm) == 1);
		if (cpr) {
			assert(vdev_is_owner(&dst_dev) && !vdev_is_owner(&dev));
		} else {
			assert(mig_incoming_loaded_hash(&inc) == ram_hash(&ram));
		}
	}
	mig_incoming_cleanup(&inc);
	vm_destroy(&dst_vm);
	vm_destroy(&vm);
	/* the guests' RAM is the program's (vm_destroy leaves it): freed here */
	ram_destroy(&dst_ram);
	ram_destroy(&ram);
	if (cpr) {
		vdev_reset_owner(&dst_dev);
		vdev_close(&dst_dev);
		vdev_close(&dev);
	}
	printf("%s: %s\n", mode, migration_status_name(info.status));
	return 0;
}
