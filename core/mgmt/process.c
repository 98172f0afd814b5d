/*
 * A domain's QEMU seen from the management core (see process.h): the
 * Enter/Exit helpers, start/kill/stop, the monitor's event handlers and the
 * event worker, and the domain APIs. The correct forms of libvirt-races.md
 * §1.6 (release the monitor before taking the domain), §2 (the EOF path only
 * queues; references held across every unlocked window) and R7 (no stop
 * without a job).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "harness_points.h"
#include "invariants.h"
#include "monitor.h"
#include "process.h"

/* ---- the event worker ---------------------------------------------------- */

enum worker_event { WEV_EOF, WEV_SHUTDOWN, WEV_FLUSH };

struct worker_item {
	enum worker_event ev;
	struct mgmt_domain *dom;	/* a reference, owned by the item (not for FLUSH) */
	int id;				/* dom->id when queued: a later QEMU is not ours */
	bool *flushed;			/* FLUSH: set when run */
	struct worker_item *next;
};

struct mgmt_worker {
	QemuMutex lock;			/* a leaf lock: the queue only */
	QemuCond cond;			/* broadcast on queue changes and flushes */
	struct worker_item *head, *tail;	/* lock */
	bool stop;			/* lock */
	QemuThread thread;
};

static atomic_int next_domain_id = 1;

static void worker_queue(struct mgmt_driver *drv, struct worker_item *it)
{
	struct mgmt_worker *w = drv->worker;

	qemu_mutex_lock(&w->lock);
	if (w->tail)
		w->tail->next = it;
	else
		w->head = it;
	w->tail = it;
	qemu_cond_broadcast(&w->cond);
	qemu_mutex_unlock(&w->lock);
}

/* Queue ev for dom (with a reference of the item's own). Domain locked. */
static void worker_queue_domain(struct mgmt_domain *dom, enum worker_event ev)
{
	struct worker_item *it = calloc(1, sizeof(*it));

	if (!it) {
		fprintf(stderr, "mgmt: out of memory queueing an event for %s\n", dom->name);
		abort();
	}
	mgmt_domain_ref(dom);
	it->ev = ev;
	it->dom = dom;
	it->id = dom->id;
	worker_queue(dom->drv, it);
}

/*
 * The EOF, in the worker (qemuProcessHandleMonitorEOF): kill, take a DESTROY
 * job (waiting for whoever is inside the monitor), then stop and remove.
 * The event belongs to QEMU instance id: if the domain was stopped and
 * started again since it was queued, it is stale and the restarted QEMU is
 * left alone (libvirt dd2f36d66e: compare before the stop job, which kills).
 */
static void worker_eof(struct mgmt_domain *dom, int id)
{
	CORE_SYNC_POINT(MGMT_WORKER_EOF_BEGIN);
	mgmt_inv_event_begin(id);
	mgmt_domain_lock(dom);
	if (dom->id != id)
		goto out;
	CORE_SYNC_POINT(MGMT_WORKER_EOF_BEFORE_STOP_JOB);
	if (mgmt_process_begin_stop_job_locked(dom, "monitor-eof") < 0)
		goto out;
	CORE_SYNC_POINT(MGMT_WORKER_EOF_AFTER_STOP_JOB);
	/* the job was waited for unlocked: the domain may have restarted since */
	if (dom->active && dom->id == id) {
		mgmt_process_stop_locked(dom, dom->got_shutdown ? "shutdown" : "crashed");
		mgmt_domain_remove_inactive_locked(dom);
	}
	mgmt_job_end_locked(dom);
out:
	CORE_SYNC_POINT(MGMT_WORKER_EOF_DONE);
	mgmt_inv_event_end();
	mgmt_domain_end_api(dom);	/* the item's reference */
}

/* SHUTDOWN: the guest asked to power off; QEMU is killed, EOF follows. */
static void worker_shutdown(struct mgmt_domain *dom, int id)
{
	CORE_SYNC_POINT(MGMT_WORKER_SHUTDOWN);
	mgmt_inv_event_begin(id);
	mgmt_domain_lock(dom);
	if (dom->active && dom->id == id && !dom->being_destroyed)
		mgmt_process_kill_locked(dom);
	mgmt_inv_event_end();
	mgmt_domain_end_api(dom);
}

static void *worker_thread(void *arg)
{
	struct mgmt_worker *w = arg;

	for (;;) {
		struct worker_item *it;

		qemu_mutex_lock(&w->lock);
		while (!w->head && !w->stop)
			qemu_cond_wait(&w->cond, &w->lock);
		it = w->head;
		if (!it) {
			qemu_mutex_unlock(&w->lock);
			return NULL;
		}
		w->head = it->next;
		if (!w->head)
			w->tail = NULL;
		qemu_mutex_unlock(&w->lock);

		switch (it->ev) {
		case WEV_EOF:
			worker_eof(it->dom, it->id);
			break;
		case WEV_SHUTDOWN:
			worker_shutdown(it->dom, it->id);
			break;
		case WEV_FLUSH:
			qemu_mutex_lock(&w->lock);
			*it->flushed = true;
			qemu_cond_broadcast(&w->cond);
			qemu_mutex_unlock(&w->lock);
			break;
		}
		free(it);
	}
}

int mgmt_worker_start(struct mgmt_driver *drv)
{
	struct mgmt_worker *w = calloc(1, sizeof(*w));
	int err;

	if (!w)
		return -ENOMEM;
	qemu_mutex_init(&w->lock);
	qemu_cond_init(&w->cond);
	err = qemu_thread_try_create(&w->thread, "mgmt-worker", worker_thread, w, QEMU_THREAD_JOINABLE);
	if (err) {
		qemu_cond_destroy(&w->cond);
		qemu_mutex_destroy(&w->lock);
		free(w);
		return err;
	}
	drv->worker = w;
	return 0;
}

void mgmt_worker_stop(struct mgmt_driver *drv)
{
	struct mgmt_worker *w = drv->worker;

	if (!w)
		return;
	MGMT_INV(mgmt_inv_blocking("joining the event worker", NULL, __FILE__, __LINE__));
	qemu_mutex_lock(&w->lock);
	w->stop = true;
	qemu_cond_broadcast(&w->cond);
	qemu_mutex_unlock(&w->lock);
	qemu_thread_join(&w->thread);
	qemu_cond_destroy(&w->cond);
	qemu_mutex_destroy(&w->lock);
	free(w);
	drv->worker = NULL;
}

void mgmt_worker_flush(struct mgmt_driver *drv)
{
	struct mgmt_worker *w = drv->worker;
	struct worker_item *it = calloc(1, sizeof(*it));
	bool flushed = false;

	if (!it)
		abort();
	MGMT_INV(mgmt_inv_blocking("waiting for the event worker", NULL, __FILE__, __LINE__));
	it->ev = WEV_FLUSH;
	it->flushed = &flushed;
	worker_queue(drv, it);
	qemu_mutex_lock(&w->lock);
	while (!flushed)
		qemu_cond_wait(&w->cond, &w->lock);
	qemu_mutex_unlock(&w->lock);
}

/* ---- the monitor's event handlers (event thread, monitor unlocked) ---------- */

/*
 * EOF (the I/O-thread half of qemuProcessHandleMonitorEOF): under the domain
 * lock, unless destroy is on it, queue the real work (with a domain
 * reference) and unregister the monitor under its own lock. Nothing is
 * stopped and no reference a monitor user depends on is dropped here.
 */
static void on_monitor_eof(struct mgmt_monitor *mon, void *opaque)
{
	struct mgmt_domain *dom = opaque;

	CORE_SYNC_POINT(MGMT_EOF_BEFORE_LOCK_DOM);
	mgmt_domain_lock(dom);
	CORE_SYNC_POINT(MGMT_EOF_AFTER_LOCK_DOM);
	if (dom->being_destroyed || dom->mon != mon) {
		mgmt_domain_unlock(dom);
		return;
	}
	worker_queue_domain(dom, WEV_EOF);
	CORE_SYNC_POINT(MGMT_EOF_QUEUED);
	CORE_SYNC_POINT(MGMT_EOF_BEFORE_LOCK_MON);
	mgmt_monitor_lock(mon);		/* domain -> monitor, as EnterMonitor */
	snprintf(dom->last_mon_error, sizeof(dom->last_mon_error), "%s",
		 mgmt_monitor_last_error_locked(mon));
	mgmt_monitor_unregister_locked(mon);
	mgmt_monitor_unlock(mon);
	mgmt_domain_unlock(dom);
}

static void on_monitor_event(struct mgmt_monitor *mon, const struct mon_msg *evt, void *opaque)
{
	struct mgmt_domain *dom = opaque;
	const char *status = mon_msg_get(evt, "status");

	mgmt_domain_lock(dom);
	if (dom->mon != mon) {
		mgmt_domain_unlock(dom);
		return;
	}
	if (strcmp(evt->name, "SHUTDOWN") == 0) {
		dom->got_shutdown = true;
		worker_queue_domain(dom, WEV_SHUTDOWN);
	} else if (strcmp(evt->name, "STOP") == 0) {
		dom->paused = true;
	} else if (strcmp(evt->name, "RESUME") == 0) {
		dom->paused = false;
	} else if (strcmp(evt->name, "MIGRATION") == 0 && status) {
		snprintf(dom->mig_status, sizeof(dom->mig_status), "%s", status);
		qemu_cond_broadcast(&dom->state_cond);
		CORE_SYNC_POINT(MGMT_MIG_EVENT);
	}
	mgmt_domain_unlock(dom);
}

static void on_monitor_release(void *opaque)
{
	mgmt_domain_unref(opaque);
}

static const struct mgmt_monitor_cb domain_monitor_cb = {
	.eof = on_monitor_eof,
	.event = on_monitor_event,
	.release = on_monitor_release,
};

/* ---- Enter/Exit ---------------------------------------------------------------- */

/* EnterMonitor's steps after the job checks: lock mon, ref mon, unlock dom. */
static int enter_monitor_locked(struct mgmt_domain *dom)
{
	struct mgmt_monitor *mon = dom->mon;

	MGMT_INV_CHECK(mgmt_job_owned_locked(dom), "monitor-without-job",
		       "domain %s: entering the monitor without a job", dom->name);
	MGMT_INV_CHECK(!(dom->job.async != MGMT_ASYNC_NONE && dom->job.async_owned &&
			 pthread_equal(dom->job.async_owner, pthread_self()) &&
			 dom->job.active != MGMT_JOB_ASYNC_NESTED),
		       "monitor-without-job",
		       "domain %s: the async job's owner enters the monitor without a nested job",
		       dom->name);
	MGMT_INV_CHECK(dom->active, "no-recheck-after-job",
		       "domain %s: entering the monitor of an inactive domain (active not "
		       "re-checked after the job)", dom->name);
	if (!mon)
		return mgmt_error(-ESRCH, "domain is no longer running");
#ifdef MGMT_INVARIANTS
	if (!mgmt_inv_holds(dom)) {
		mgmt_inv_fail("monitor-without-domain-lock", __FILE__, __LINE__,
			      "domain %s: locking its monitor without the domain lock", dom->name);
		mgmt_domain_lock(dom);	/* reported; go on as the helper is written */
	}
#endif
	mgmt_monitor_lock(mon);
	CORE_SYNC_POINT(MGMT_ENTER_AFTER_LOCK_MON);
	mgmt_inv_transit_begin(mgmt_monitor_transit(mon));
	mgmt_monitor_ref(mon);
	CORE_SYNC_POINT(MGMT_ENTER_AFTER_REF_MON);
	mgmt_inv_transit_begin(&dom->inv_transit);
	mgmt_domain_unlock(dom);
	CORE_SYNC_POINT(MGMT_ENTER_AFTER_UNLOCK_DOM);
	return 0;
}

int mgmt_enter_monitor(struct mgmt_domain *dom)
{
	CORE_SYNC_POINT(MGMT_ENTER_AFTER_JOB);
	return enter_monitor_locked(dom);
}

int mgmt_enter_monitor_async(struct mgmt_domain *dom, enum mgmt_async_job async)
{
	int ret = mgmt_job_begin_nested_locked(dom, async);

	if (ret)
		return ret;
	CORE_SYNC_POINT(MGMT_ENTER_AFTER_JOB);
	/* R3: the job was waited for with the domain unlocked */
	if (!dom->active) {
		mgmt_job_end_locked(dom);
		return mgmt_error(-ESRCH, "domain is no longer running");
	}
	ret = enter_monitor_locked(dom);
	if (ret)
		mgmt_job_end_locked(dom);
	return ret;
}

void mgmt_exit_monitor(struct mgmt_domain *dom)
{
	/* stable without the domain lock: nobody stops the domain while we hold the job (R7) */
	struct mgmt_monitor *mon = dom->mon;

	CORE_SYNC_POINT(MGMT_EXIT_BEGIN);
	mgmt_inv_transit_end(mgmt_monitor_transit(mon));
	mgmt_monitor_unlock(mon);	/* §1.6: release the inner lock first */
	CORE_SYNC_POINT(MGMT_EXIT_AFTER_UNLOCK_MON);
	mgmt_monitor_unref(mon);
	CORE_SYNC_POINT(MGMT_EXIT_AFTER_UNREF_MON);
	CORE_SYNC_POINT(MGMT_EXIT_BEFORE_LOCK_DOM);
	mgmt_domain_lock(dom);
	CORE_SYNC_POINT(MGMT_EXIT_AFTER_LOCK_DOM);
	mgmt_inv_transit_end(&dom->inv_transit);
	if (dom->job.active == MGMT_JOB_ASYNC_NESTED)
		mgmt_job_end_locked(dom);
}

int mgmt_domain_command(struct mgmt_domain *dom, struct mon_msg *cmd, struct mon_msg *reply)
{
	return mgmt_monitor_send_locked(dom->mon, cmd, reply);
}

void mgmt_enter_remote(struct mgmt_domain *dom)
{
	mgmt_inv_transit_begin(&dom->inv_transit);
	mgmt_domain_unlock(dom);
	CORE_SYNC_POINT(MGMT_REMOTE_AFTER_UNLOCK);
}

int mgmt_exit_remote(struct mgmt_domain *dom, bool check_active)
{
	mgmt_domain_lock(dom);
	CORE_SYNC_POINT(MGMT_REMOTE_AFTER_LOCK);
	mgmt_inv_transit_end(&dom->inv_transit);
	if (check_active && !dom->active)
		return mgmt_error(-ESRCH, "domain '%s' is not running", dom->name);
	return 0;
}

/* ---- start, kill, stop ------------------------------------------------------- */

static int qemu_start(struct mgmt_domain *dom, bool incoming, struct channel **ch)
{
	CORE_FAULT(MGMT_PROCESS_START, -EIO);
	if (!dom->drv->qemu.start)
		return -ENOTSUP;
	return dom->drv->qemu.start(dom->drv->qemu_opaque, dom->name, incoming, ch);
}

int mgmt_process_start_locked(struct mgmt_domain *dom, bool incoming, enum mgmt_async_job async)
{
	struct mgmt_monitor *mon;
	struct channel *ch;
	struct mon_msg cmd;
	int ret;

	if (dom->active)
		return mgmt_error(-EEXIST, "domain '%s' is already running", dom->name);
	ret = qemu_start(dom, incoming, &ch);
	if (ret)
		return mgmt_error(ret, "cannot start QEMU for '%s': %s", dom->name, strerror(-ret));
	mgmt_domain_ref(dom);	/* the monitor's, for its callbacks */
	mon = mgmt_monitor_open(ch, dom->name, &domain_monitor_cb, dom);
	channel_unref(ch);
	if (!mon) {
		ret = mgmt_last_errno();
		mgmt_domain_unref(dom);
		return ret;
	}
	dom->mon = mon;
	dom->active = true;
	dom->id = atomic_fetch_add(&next_domain_id, 1);
	dom->def_generation++;
	dom->got_shutdown = false;
	dom->paused = incoming;
	dom->mig_status[0] = '\0';
	dom->last_mon_error[0] = '\0';

	ret = async != MGMT_ASYNC_NONE ? mgmt_enter_monitor_async(dom, async) : mgmt_enter_monitor(dom);
	if (ret == 0) {
		mon_msg_cmd(&cmd, 0, "qmp_capabilities");
		ret = mgmt_domain_command(dom, &cmd, NULL);
		mgmt_exit_monitor(dom);
	}
	if (ret) {
		int err = ret;
		char why[MGMT_ERROR_MAX];

		mgmt_error_copy(why, sizeof(why));
		mgmt_process_kill_locked(dom);
		mgmt_process_stop_async_locked(dom, async, "failed to start");
		return mgmt_error(err, "%s", why);
	}
	return 0;
}

void mgmt_process_kill_locked(struct mgmt_domain *dom)
{
	if (!dom->active)
		return;
	MGMT_INV_CHECK(mgmt_inv_event_instance() < 0 || mgmt_inv_event_instance() == dom->id,
		       "stale-event", "domain %s: the event of QEMU instance %d kills instance %d",
		       dom->name, mgmt_inv_event_instance(), dom->id);
	if (dom->drv->qemu.kill)
		dom->drv->qemu.kill(dom->drv->qemu_opaque, dom->name);
}

int mgmt_process_begin_stop_job_locked(struct mgmt_domain *dom, const char *api)
{
	mgmt_process_kill_locked(dom);
	CORE_SYNC_POINT(MGMT_STOP_JOB_AFTER_KILL);
	/* whoever waits for the domain's state (Perform) must notice now */
	qemu_cond_broadcast(&dom->state_cond);
	return mgmt_job_begin_locked(dom, MGMT_JOB_DESTROY, api);
}

/*
 * For stop-without-job: another thread's job, or a thread inside the
 * monitor, that a stop without a job of its own pulls the domain from under
 * (81f50cb92: the monitor cleared and closed under a command). A stop
 * without a job that nobody's work overlaps is the race's first half only,
 * whatever the schedule; reported, it would be every such run's signature.
 */
#ifdef MGMT_INVARIANTS
static bool stop_overlaps_work(struct mgmt_domain *dom)
{
	const struct mgmt_job_obj *j = &dom->job;

	if (j->active != MGMT_JOB_NONE && !pthread_equal(j->owner, pthread_self()))
		return true;
	if (j->async != MGMT_ASYNC_NONE && j->async_owned && !pthread_equal(j->async_owner, pthread_self()))
		return true;
	return dom->mon && atomic_load_explicit(mgmt_monitor_transit(dom->mon), memory_order_relaxed) > 0;
}
#endif

void mgmt_process_stop_locked(struct mgmt_domain *dom, const char *reason)
{
	struct mgmt_monitor *mon;

	CORE_SYNC_POINT(MGMT_STOP_BEGIN);
	MGMT_INV_CHECK(mgmt_job_owned_locked(dom) || !stop_overlaps_work(dom), "stop-without-job",
		       "domain %s stopped (%s) without a job, under another thread's work", dom->name, reason);
	if (!dom->active)	/* 9962e406c: stopped once only */
		return;
	mon = dom->mon;
	dom->mon = NULL;
	if (mon) {
		mgmt_monitor_close(mon);
		CORE_SYNC_POINT(MGMT_STOP_MON_CLOSED);
	}
	dom->active = false;
	dom->paused = false;
	dom->id = -1;
	dom->def_generation++;	/* the live definition goes */
	qemu_cond_broadcast(&dom->state_cond);
	if (mon)
		mgmt_monitor_unref(mon);	/* the domain's; users hold their own */
	CORE_SYNC_POINT(MGMT_STOP_DONE);
}

void mgmt_process_stop_async_locked(struct mgmt_domain *dom, enum mgmt_async_job async,
				    const char *reason)
{
	bool nested = async != MGMT_ASYNC_NONE && !mgmt_job_owned_locked(dom);

	/* 81f50cb92: inside an async job the stop takes a nested job */
	if (nested && mgmt_job_begin_nested_locked(dom, async) < 0)
		return;
	mgmt_process_stop_locked(dom, reason);
	if (nested)
		mgmt_job_end_locked(dom);
}

/* ---- domain APIs --------------------------------------------------------------- */

int mgmt_domain_create(struct mgmt_driver *drv, const char *name, bool persistent)
{
	struct mgmt_domain *dom = mgmt_domain_add(drv, name, persistent);
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "create");
	if (ret == 0) {
		ret = mgmt_process_start_locked(dom, false, MGMT_ASYNC_NONE);
		if (ret)
			mgmt_domain_remove_inactive_locked(dom);
		mgmt_job_end_locked(dom);
	}
	mgmt_domain_end_api(dom);
	return ret;
}

int mgmt_domain_start(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "start");
	if (ret == 0) {
		ret = mgmt_process_start_locked(dom, false, MGMT_ASYNC_NONE);
		mgmt_job_end_locked(dom);
	}
	mgmt_domain_end_api(dom);
	CORE_SYNC_POINT(MGMT_START_DONE);
	return ret;
}

/*
 * Stop and start in one MODIFY job. The old QEMU's EOF, if its handler runs
 * after the stop, finds another monitor and stays out; one queued before is
 * the worker's, which must leave the new QEMU alone (worker_eof).
 */
static int restart_in_job(struct mgmt_domain *dom)
{
	int ret;

	if (!dom->active)	/* R3: maybe stopped while we waited */
		return mgmt_error(-EINVAL, "domain '%s' is not running", dom->name);
	mgmt_process_kill_locked(dom);
	mgmt_process_stop_locked(dom, "restarted");
	CORE_SYNC_POINT(MGMT_RESTART_STOPPED);
	ret = mgmt_process_start_locked(dom, false, MGMT_ASYNC_NONE);
	if (ret)
		mgmt_domain_remove_inactive_locked(dom);
	return ret;
}

int mgmt_domain_restart(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom;
	int ret;

	CORE_SYNC_POINT(MGMT_RESTART_BEGIN);
	dom = mgmt_domain_lookup(drv, name);
	if (!dom)
		return mgmt_last_errno();
	ret = mgmt_job_begin_locked(dom, MGMT_JOB_MODIFY, "restart");
	if (ret == 0) {
		ret = restart_in_job(dom);
		mgmt_job_end_locked(dom);
	}
	mgmt_domain_end_api(dom);
	CORE_SYNC_POINT(MGMT_RESTART_DONE);
	return ret;
}

int mgmt_domain_destroy(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);
	int ret;

	if (!dom)
		return mgmt_last_errno();
	if (!dom->active) {
		ret = mgmt_error(-EINVAL, "domain '%s' is not running", name);
		goto out;
	}
	dom->being_destroyed = true;	/* 5547d2b81: the EOF path stays out */
	ret = mgmt_process_begin_stop_job_locked(dom, "destroy");
	CORE_SYNC_POINT(MGMT_DESTROY_AFTER_KILL);
	dom->being_destroyed = false;
	if (ret)
		goto out;
	CORE_SYNC_POINT(MGMT_DESTROY_AFTER_JOB);
	mgmt_process_stop_locked(dom, "destroyed");
	mgmt_domain_remove_inactive_locked(dom);
	mgmt_job_end_locked(dom);
out:
	mgmt_domain_end_api(dom);
	return ret;
}

/* Look up, begin job, re-check active (R3). Returns the domain locked with
 * the job held, or NULL with the error. */
static struct mgmt_domain *api_begin(struct mgmt_driver *drv, const char *name,
				     enum mgmt_job job, const char *api)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);

	if (!dom)
		return NULL;
	if (mgmt_job_begin_locked(dom, job, api) < 0) {
		mgmt_domain_end_api(dom);
		return NULL;
	}
	if (job == MGMT_JOB_QUERY)
		CORE_SYNC_POINT(MGMT_QUERY_AFTER_JOB);
	else
		CORE_SYNC_POINT(MGMT_MODIFY_AFTER_JOB);
	if (!dom->active) {
		mgmt_error(-EINVAL, "domain '%s' is not running", name);
		mgmt_job_end_locked(dom);
		mgmt_domain_end_api(dom);
		return NULL;
	}
	return dom;
}

static void api_end(struct mgmt_domain *dom)
{
	mgmt_job_end_locked(dom);
	mgmt_domain_end_api(dom);
}

int mgmt_domain_query(struct mgmt_driver *drv, const char *name, char *status, size_t statuslen)
{
	struct mgmt_domain *dom = api_begin(drv, name, MGMT_JOB_QUERY, "query");
	struct mon_msg cmd, reply;
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = mgmt_enter_monitor(dom);
	if (ret == 0) {
		mon_msg_cmd(&cmd, 0, "query-status");
		ret = mgmt_domain_command(dom, &cmd, &reply);
		mgmt_exit_monitor(dom);
	}
	if (ret == 0 && status && statuslen) {
		const char *s = mon_msg_get(&reply, "status");

		snprintf(status, statuslen, "%s", s ? s : "");
	}
	api_end(dom);
	return ret;
}

int mgmt_domain_modify(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom = api_begin(drv, name, MGMT_JOB_MODIFY, "modify");
	struct mon_msg cmd;
	int ret;

	if (!dom) {
		CORE_SYNC_POINT(MGMT_MODIFY_DONE);	/* refused */
		return mgmt_last_errno();
	}
	ret = mgmt_enter_monitor(dom);
	if (ret == 0) {
		mon_msg_cmd(&cmd, 0, "device_add");
		mon_msg_set(&cmd, "id", "dev%u", dom->def_generation);
		ret = mgmt_domain_command(dom, &cmd, NULL);
		mgmt_exit_monitor(dom);
	}
	if (ret == 0)
		dom->def_generation++;
	api_end(dom);
	CORE_SYNC_POINT(MGMT_MODIFY_DONE);
	return ret;
}

int mgmt_domain_abort_job(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom = api_begin(drv, name, MGMT_JOB_ABORT, "abort");
	struct mon_msg cmd;
	int ret;

	if (!dom)
		return mgmt_last_errno();
	if (dom->job.async == MGMT_ASYNC_NONE) {
		ret = mgmt_error(-EINVAL, "no job is active on the domain");
		goto out;
	}
	ret = mgmt_enter_monitor(dom);
	if (ret == 0) {
		mon_msg_cmd(&cmd, 0, "migrate_cancel");
		ret = mgmt_domain_command(dom, &cmd, NULL);
		mgmt_exit_monitor(dom);
	}
out:
	api_end(dom);
	return ret;
}

int mgmt_domain_get_info(struct mgmt_driver *drv, const char *name, struct mgmt_domain_info *info)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);

	if (!dom)
		return mgmt_last_errno();
	*info = (struct mgmt_domain_info){
		.active = dom->active, .paused = dom->paused, .got_shutdown = dom->got_shutdown,
		.id = dom->id,
		.def_generation = dom->def_generation, .job = dom->job.active,
		.async = dom->job.async, .phase = dom->job.phase,
	};
	snprintf(info->mig_status, sizeof(info->mig_status), "%s", dom->mig_status);
	mgmt_domain_end_api(dom);
	return 0;
}
