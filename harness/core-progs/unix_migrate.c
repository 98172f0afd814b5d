/*
 * A migration over real Unix sockets under the controlled scheduler: the
 * core's source and destination in one process, the destination a thread
 * that accepts on a listening socket, the source connecting to it, the pages
 * and the return path over the core's own socket transport (channel.c), no
 * in-memory fake. Every recv, send, accept and connect is a decision of the
 * scheduler (harness/rt/fd.c), so the exploration reaches the interleavings
 * of the real transport. argv[1]: "complete" (default), "cancel" (cancel
 * right after starting) or "multifd" (the pages over two more connections).
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "incoming.h"
#include "main_loop.h"
#include "migration.h"
#include "mig_run.h"

#define PAGES 8

static struct guest_ram dst_ram;
static struct vm dst_vm;
static struct mig_incoming inc;
static struct channel_listener *listener;
static int dst_result = 1;

static void *destination(void *arg)
{
	(void)arg;
	mig_accept_and_load(listener, &inc, &dst_result);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "complete";
	bool cancel = strcmp(mode, "cancel") == 0, multifd = strcmp(mode, "multifd") == 0;
	struct guest_ram ram;
	struct vm vm;
	struct mig_info info;
	pthread_t dst;
	char uri[96];

	/* a path of each run's own: runs go on side by side */
	snprintf(uri, sizeof(uri), "unix:/tmp/migrace-unix-migrate.%d.sock", (int)getpid());
	unlink(uri + 5);
	assert(ram_init(&ram, PAGES * RAM_PAGE_SIZE) == 0);
	assert(vm_init(&vm, &ram, 1, 1, RUN_STATE_RUNNING) == 0);
	assert(ram_init(&dst_ram, PAGES * RAM_PAGE_SIZE) == 0);
	assert(vm_init(&dst_vm, &dst_ram, 1, 2, RUN_STATE_INMIGRATE) == 0);
	assert(mig_incoming_init(&inc, &dst_vm, &dst_ram) == 0);
	assert(channel_listen(uri, &listener) == 0);

	main_loop_init();
	bql_lock();
	migration_object_init(&vm, &ram);
	struct mig_params params = { .return_path = true, .downtime_limit_ms = 300,
				     .multifd_channels = multifd ? 2 : 0 };
	pthread_create(&dst, NULL, destination, NULL);
	assert(qmp_migrate(uri, &params) == 0);
	if (cancel)
		assert(qmp_migrate_cancel() == 0);
	mig_run_to_end(&info);
	mig_shutdown_unlock();
	if (cancel)
		channel_listener_shutdown(listener);   /* a destination still in accept gives up */
	pthread_join(dst, NULL);
	channel_listener_close(listener);

	if (cancel) {
		assert(info.status == MIGRATION_STATUS_CANCELLED);
		assert(runstate_is_running(&vm));
		assert(vm_start_count(&dst_vm) == 0);
	} else {
		assert(info.status == MIGRATION_STATUS_COMPLETED);
		assert(dst_result == 0);
		assert(vm_start_count(&dst_vm) == 1);
		assert(mig_incoming_loaded_hash(&inc) == ram_hash(&ram));
	}
	mig_incoming_cleanup(&inc);
	vm_destroy(&dst_vm);
	vm_destroy(&vm);
	ram_destroy(&dst_ram);
	ram_destroy(&ram);
	printf("%s: %s\n", mode, migration_status_name(info.status));
	return 0;
}
