/*
 * A managed migration end to end over the real adapter, under the controlled
 * scheduler: two management drivers (source and destination, the destination
 * reached through the local peer) whose domains' "QEMUs" are the migration
 * core itself, each serving its monitor (core/migration/monserver.c) over the
 * in-memory channel. Begin, Prepare (migrate-incoming), Perform (migrate,
 * MIGRATION events), Finish (cont), Confirm (the source QEMU is killed); the
 * guest's memory as the source stopped it must be what the destination
 * loaded, the guest must run on the destination only, once. Every invariant
 * of core/mgmt/invariants.h is checked on every step; built for tsan and asan.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/socket.h>

#include <migrace/migrace.h>

#include "domain.h"
#include "error.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migrate.h"
#include "migration.h"
#include "monserver.h"
#include "process.h"
#include "ram.h"
#include "remote_local.h"
#include "vm.h"

#define PAGES 8

/* One "QEMU process": a guest and its monitor server. */
struct qemu {
	const char *role;
	struct guest_ram ram;
	struct vm vm;
	bool up;
	struct monserver *srv;
	struct channel *server_end;   /* the process's end of its monitor */
	uint64_t hash;                /* source: memory when stopped for the last pass;
				       * destination: memory when its guest started */
	bool hashed;
};

static struct qemu srcq = { .role = "source" }, dstq = { .role = "destination" };
static atomic_bool loop_stop;

/* The memory at the cut-over (vm notifiers run with the vCPUs quiet). */
static void on_state(void *opaque, bool running, RunState state)
{
	struct qemu *q = opaque;

	if (q->hashed)
		return;
	if ((q == &srcq && !running && state == RUN_STATE_FINISH_MIGRATE) || (q == &dstq && running)) {
		q->hash = ram_hash(&q->ram);
		q->hashed = true;
	}
}

static int qemu_start(void *opaque, const char *dom, bool incoming, struct channel **mon)
{
	struct qemu *q = opaque;
	struct monserver_config cfg = { .vm = &q->vm, .ram = &q->ram, .incoming = incoming,
					.incoming_uri = "mem:mig" };
	struct channel *client;

	assert(!q->up && incoming == (q == &dstq));
	assert(ram_init(&q->ram, PAGES * RAM_PAGE_SIZE) == 0);
	assert(vm_init(&q->vm, &q->ram, 1, incoming ? 2 : 1, incoming ? RUN_STATE_INMIGRATE : RUN_STATE_RUNNING) == 0);
	vm_state_add_notifier(&q->vm, on_state, q);
	if (!incoming) {
		bql_lock();
		migration_object_init(&q->vm, &q->ram);
		bql_unlock();
	}
	assert(mem_channel_pair(&q->server_end, &client) == 0);
	assert(monserver_start(&cfg, q->server_end, &q->srv) == 0);
	q->up = true;
	*mon = client;
	return 0;
}

/* The process dies: its end of the monitor goes (EOF for the management
 * layer). Never blocks: the caller holds the domain lock. The guest and the
 * server are reaped at the end of the program. */
static void qemu_kill(void *opaque, const char *dom)
{
	struct qemu *q = opaque;

	if (q->up)
		channel_shutdown(q->server_end, SHUT_RDWR);
}

static const struct mgmt_qemu_ops real_qemu_ops = { .start = qemu_start, .kill = qemu_kill };

static void qemu_reap(struct qemu *q)
{
	if (!q->up)
		return;
	monserver_free(q->srv);
	channel_unref(q->server_end);
	vm_destroy(&q->vm);
	ram_destroy(&q->ram);
	q->up = false;
}

/* The management daemon: the whole managed migration, then the drivers go.
 * The process's main thread meanwhile runs the QEMUs' main loop (the
 * migration's cleanup is a bottom half). */
static void *management(void *arg)
{
	struct mgmt_driver src, dst;
	struct mgmt_domain_info si, di;
	struct mgmt_remote peer;

	assert(mgmt_driver_init(&src, "src", &real_qemu_ops, &srcq) == 0);
	assert(mgmt_driver_init(&dst, "dst", &real_qemu_ops, &dstq) == 0);
	mgmt_remote_local_init(&peer, &dst);

	assert(mgmt_domain_create(&src, "vm", true) == 0);
	int ret = mgmt_migrate_p2p(&src, "vm", &peer);
	if (ret)
		fprintf(stderr, "mgmt_real_migrate: migration failed: %s\n", mgmt_last_error());
	assert(ret == 0);

	/* management's view: the domain runs on the destination, no job left */
	assert(mgmt_domain_get_info(&src, "vm", &si) == 0 && !si.active);
	assert(si.async == MGMT_ASYNC_NONE && si.job == MGMT_JOB_NONE);
	assert(mgmt_domain_get_info(&dst, "vm", &di) == 0 && di.active && !di.paused);
	assert(di.async == MGMT_ASYNC_NONE && di.job == MGMT_JOB_NONE);
	/* the QEMUs' view: the destination loaded what the source stopped with */
	assert(srcq.hashed && dstq.hashed && srcq.hash == dstq.hash);
	assert(runstate_is_running(&dstq.vm) && vm_start_count(&dstq.vm) == 1);
	assert(!runstate_is_running(&srcq.vm));

	mgmt_driver_destroy(&src);
	mgmt_driver_destroy(&dst);     /* kills the destination's QEMU */
	atomic_store(&loop_stop, true);
	return NULL;
}

int main(void)
{
	pthread_t mgmt;

	mem_channel_register();
	main_loop_init();
	pthread_create(&mgmt, NULL, management, NULL);
	while (!atomic_load(&loop_stop))
		main_loop_wait(10);
	pthread_join(mgmt, NULL);
	bql_lock();
	migration_shutdown();
	while (migrate_get_current() || main_loop_wait(0) > 0)
		main_loop_wait(10);
	bql_unlock();
	qemu_reap(&srcq);
	qemu_reap(&dstq);
	MIGRACE_CHECK_THREADS_JOINED();
	puts("mgmt_real_migrate: completed, memory verified");
	return 0;
}
