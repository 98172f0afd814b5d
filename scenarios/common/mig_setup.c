/*
 * The in-process source and destination the migration-core scenarios share
 * (see mig_setup.h).
 */
#include "mig_setup.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <migrace/migrace.h>

#include "mem_channel.h"
#include "mig_run.h"

static void *destination(void *arg)
{
	struct scen_mig *m = arg;

	mig_accept_and_load(m->listener, &m->inc, &m->dst_result);
	return NULL;
}

void scen_mig_setup(struct scen_mig *m, const struct scen_mig_opts *o)
{
	unsigned pages = o->pages ? o->pages : 8;

	memset(m, 0, sizeof(*m));
	m->dst_result = 1;
	mem_channel_register();
	if (ram_init(&m->ram, pages * RAM_PAGE_SIZE) || ram_init(&m->dst_ram, pages * RAM_PAGE_SIZE)) {
		fprintf(stderr, "scenario: setup failed\n");
		abort();
	}
	/* the guests' memory is no part of the race: every schedule forks from
	 * here (the vCPU threads start next) */
	migrace_fork_here();
	if (vm_init(&m->vm, &m->ram, 1, 1, RUN_STATE_RUNNING) ||
	    vm_init(&m->dst_vm, &m->dst_ram, o->dst_no_vcpu ? 0 : 1, 2, RUN_STATE_INMIGRATE) ||
	    mig_incoming_init(&m->inc, &m->dst_vm, &m->dst_ram) || channel_listen(SCEN_URI, &m->listener)) {
		fprintf(stderr, "scenario: setup failed\n");
		abort();
	}
	m->params = (struct mig_params){ .return_path = o->return_path, .downtime_limit_ms = 300,
					 .multifd_channels = o->multifd_channels, .postcopy = o->postcopy };
	main_loop_init();
	bql_lock();
	migration_object_init(&m->vm, &m->ram);
	if (!o->no_destination) {
		assert(pthread_create(&m->dst, NULL, destination, m) == 0);
		m->dst_started = true;
	}
}

MigrationStatus scen_mig_wait_end(struct scen_mig *m)
{
	atomic_store(&m->in_main_loop, true);
	mig_run_to_end(&m->info);
	atomic_store(&m->in_main_loop, false);
	qmp_query_migrate(&m->info);
	return m->info.status;
}

static void *watchdog(void *arg)
{
	struct scen_mig *m = arg;
	struct timespec until;
	bool done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += m->watch_s;
	pthread_mutex_lock(&m->watch_lock);
	while (!m->watch_done && pthread_cond_timedwait(&m->watch_cond, &m->watch_lock, &until) != ETIMEDOUT)
		;
	done = m->watch_done;
	pthread_mutex_unlock(&m->watch_lock);
	if (done || !atomic_load(&m->in_main_loop) || migration_is_running() ||
	    !mem_channel_reader_blocked("mig/src/rp"))
		return NULL;
	MIGRACE_INVARIANT("rp-join-blocked-in-read",
			  "after %u s the main thread is still in the cleanup of a migration that ended, "
			  "joining the return-path thread, which is blocked in a read of its channel: "
			  "nothing shut the channel down, the join never ends", m->watch_s);
}

void scen_mig_watch_rp_join(struct scen_mig *m, unsigned seconds)
{
	m->watch_s = seconds;
	m->watch_done = false;
	pthread_mutex_init(&m->watch_lock, NULL);
	pthread_cond_init(&m->watch_cond, NULL);
	assert(pthread_create(&m->watchdog, NULL, watchdog, m) == 0);
	m->watching = true;
}

void scen_mig_unwatch(struct scen_mig *m)
{
	if (!m->watching)
		return;
	pthread_mutex_lock(&m->watch_lock);
	m->watch_done = true;
	pthread_cond_signal(&m->watch_cond);
	pthread_mutex_unlock(&m->watch_lock);
	pthread_join(m->watchdog, NULL);
	pthread_mutex_destroy(&m->watch_lock);
	pthread_cond_destroy(&m->watch_cond);
	m->watching = false;
}

void scen_mig_shutdown(struct scen_mig *m)
{
	mig_shutdown_unlock();
	if (m->dst_started)
		pthread_join(m->dst, NULL);
	m->dst_started = false;
}

void scen_mig_shutdown_cancelled(struct scen_mig *m)
{
	assert(m->info.status == MIGRATION_STATUS_CANCELLED);
	assert(m->info.error == -ECANCELED);
	assert(runstate_is_running(&m->vm));
	assert(vm_start_count(&m->vm) == vm_stop_count(&m->vm));
	scen_mig_shutdown(m);
	assert(m->dst_result < 0);
	assert(vm_start_count(&m->dst_vm) == 0);
}

void scen_mig_free(struct scen_mig *m)
{
	channel_listener_close(m->listener);
	mig_incoming_cleanup(&m->inc);
	vm_destroy(&m->dst_vm);
	vm_destroy(&m->vm);
	ram_destroy(&m->dst_ram);
	ram_destroy(&m->ram);
	MIGRACE_CHECK_THREADS_JOINED();
}
