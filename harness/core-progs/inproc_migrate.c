/*
 * An in-process migration under the controlled scheduler: the migration
 * core's source and destination in one process, over the in-memory channel
 * fake, with a running guest. Used to check that the core runs under the
 * harness (its threads scheduled one at a time, its channels the fakes) and
 * stays clean under TSan on every schedule. argv[1]: "complete" (default) or
 * "cancel" (cancel right after starting).
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "channel.h"
#include "incoming.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"

#define PAGES 8

static struct guest_ram dst_ram;
static struct vm dst_vm;
static struct mig_incoming inc;
static struct channel_listener *listener;
static int dst_result = 1;

static void *destination(void *arg)
{
	struct channel *ch;

	(void)arg;
	if (channel_accept(listener, &ch) == 0) {
		if (mig_incoming_start(&inc, ch) == 0)
			dst_result = mig_incoming_wait(&inc);
		channel_unref(ch);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	bool cancel = argc > 1 && strcmp(argv[1], "cancel") == 0;
	struct guest_ram ram;
	struct vm vm;
	struct mig_info info;
	pthread_t dst;

	mem_channel_register();
	assert(ram_init(&ram, PAGES * RAM_PAGE_SIZE) == 0);
	assert(vm_init(&vm, &ram, 1, 1, RUN_STATE_RUNNING) == 0);
	assert(ram_init(&dst_ram, PAGES * RAM_PAGE_SIZE) == 0);
	assert(vm_init(&dst_vm, &dst_ram, 1, 2, RUN_STATE_INMIGRATE) == 0);
	assert(mig_incoming_init(&inc, &dst_vm, &dst_ram) == 0);
	assert(channel_listen("mem:migration", &listener) == 0);
	pthread_create(&dst, NULL, destination, NULL);

	main_loop_init();
	bql_lock();
	migration_object_init(&vm, &ram);
	struct mig_params params = { .return_path = true, .downtime_limit_ms = 300 };
	assert(qmp_migrate("mem:migration", &params) == 0);
	if (cancel)
		assert(qmp_migrate_cancel() == 0);
	do {
		main_loop_wait(10);
		qmp_query_migrate(&info);
	} while (info.status != MIGRATION_STATUS_COMPLETED && info.status != MIGRATION_STATUS_FAILED &&
		 info.status != MIGRATION_STATUS_CANCELLED);
	while (main_loop_wait(0) > 0)
		;
	migration_shutdown();
	while (main_loop_wait(0) > 0)
		;
	bql_unlock();
	pthread_join(dst, NULL);
	channel_listener_close(listener);

	if (cancel) {
		assert(info.status == MIGRATION_STATUS_CANCELLED);
		assert(runstate_is_running(&vm));
		assert(vm_start_count(&dst_vm) == 0);
	} else {
		assert(info.status == MIGRATION_STATUS_COMPLETED);
		assert(dst_result == 0);
		assert(mig_incoming_loaded_hash(&inc) == ram_hash(&ram));
		assert(vm_start_count(&dst_vm) == 1);
	}
	mig_incoming_cleanup(&inc);
	vm_destroy(&dst_vm);
	vm_destroy(&vm);
	printf("%s: %s\n", cancel ? "cancel" : "complete", migration_status_name(info.status));
	return 0;
}
