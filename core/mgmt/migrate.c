/*
 * Managed migration (see migrate.h): the job helpers and the five protocol
 * steps. Between the API calls of one migration the domain keeps its async
 * job, so only the mask's sync jobs (query, destroy, abort) get in (§3.3).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "harness_points.h"
#include "invariants.h"
#include "migrate.h"
#include "monitor.h"
#include "process.h"

int mgmt_migration_job_start_locked(struct mgmt_domain *dom, enum mgmt_async_job job, const char *api)
{
	int ret;

	if (dom->job.async == MGMT_ASYNC_MIGRATION_OUT || dom->job.async == MGMT_ASYNC_MIGRATION_IN)
		return mgmt_error(-EBUSY, "another migration job is already running for domain '%s'",
				  dom->name);
	ret = mgmt_job_begin_async_locked(dom, job, api);
	if (ret)
		return ret;
	mgmt_job_set_mask_locked(dom, job == MGMT_ASYNC_MIGRATION_OUT ? MGMT_JOB_DEFAULT_MASK : 0);
	return 0;
}

int mgmt_migration_job_set_phase_locked(struct mgmt_domain *dom, enum mgmt_phase phase)
{
	if (phase < dom->job.phase)
		return mgmt_error(-EINVAL, "migration protocol going backwards %s => %s",
				  mgmt_phase_name(dom->job.phase), mgmt_phase_name(phase));
	mgmt_job_store_phase_locked(dom, phase);
	return 0;
}

int mgmt_migration_job_start_phase_locked(struct mgmt_domain *dom, enum mgmt_phase phase)
{
	return mgmt_migration_job_set_phase_locked(dom, phase);	/* the store takes ownership */
}

void mgmt_migration_job_continue_locked(struct mgmt_domain *dom)
{
	dom->job.async_owned = false;	/* 08ec1d787: the next phase runs in another thread */
}

bool mgmt_migration_job_is_active_locked(struct mgmt_domain *dom, enum mgmt_async_job job)
{
	if (dom->job.async == job)
		return true;
	if (job == MGMT_ASYNC_MIGRATION_IN)
		mgmt_error(-EINVAL, "domain '%s' is not processing incoming migration", dom->name);
	else
		mgmt_error(-EINVAL, "domain '%s' is not being migrated", dom->name);
	return false;
}

void mgmt_migration_job_finish_locked(struct mgmt_domain *dom)
{
	mgmt_job_end_async_locked(dom);
}

/* ---- helpers ------------------------------------------------------------------ */

/* One command inside the async job: nested job, re-check, command, exit. */
static int async_command(struct mgmt_domain *dom, enum mgmt_async_job job, struct mon_msg *cmd,
			 struct mon_msg *reply)
{
	int ret = mgmt_enter_monitor_async(dom, job);

	if (ret)
		return ret;
	ret = mgmt_domain_command(dom, cmd, reply);
	mgmt_exit_monitor(dom);
	return ret;
}

/*
 * Wait for a MIGRATION event with a final status (the event thread stores it
 * and broadcasts state_cond), or for the domain to stop. Domain locked: the
 * wait is on the domain's own condition variable.
 */
static int wait_for_migration(struct mgmt_domain *dom)
{
	for (;;) {
		const char *s = dom->mig_status;

		if (strcmp(s, "completed") == 0)
			return 0;
		if (strcmp(s, "failed") == 0)
			return mgmt_error(-EIO, "migration failed");
		if (strcmp(s, "cancelled") == 0)
			return mgmt_error(-ECANCELED, "migration cancelled");
		if (!dom->active)
			return mgmt_error(-ESRCH, "domain is no longer running (%s)",
					  dom->last_mon_error[0] ? dom->last_mon_error : "stopped");
		CORE_SYNC_POINT(MGMT_MIG_PERFORM_WAIT);
		qemu_cond_wait(&dom->state_cond, &dom->lock);
	}
}

/* Look the domain up and check that job is its async job. */
static struct mgmt_domain *lookup_in_job(struct mgmt_driver *drv, const char *name,
					 enum mgmt_async_job job)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);

	if (dom && !mgmt_migration_job_is_active_locked(dom, job)) {
		mgmt_domain_end_api(dom);
		return NULL;
	}
	return dom;
}

/* ---- source ------------------------------------------------------------------- */

static int begin_locked(struct mgmt_domain *dom)
{
	int ret;

	if (!dom->active)
		return mgmt_error(-EINVAL, "domain '%s' is not running", dom->name);
	ret = mgmt_migration_job_start_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "migrate-begin");
	if (ret)
		return ret;
	if (!dom->active) {	/* R3 */
		mgmt_migration_job_finish_locked(dom);
		return mgmt_error(-EINVAL, "domain '%s' is not running", dom->name);
	}
	mgmt_migration_job_set_phase_locked(dom, MGMT_PHASE_BEGIN3);
	dom->mig_generation = dom->def_generation;
	CORE_SYNC_POINT(MGMT_MIG_BEGIN_DONE);
	mgmt_migration_job_continue_locked(dom);
	return 0;
}

static int perform_locked(struct mgmt_domain *dom, const char *uri)
{
	struct mon_msg cmd;
	int ret = mgmt_migration_job_start_phase_locked(dom, MGMT_PHASE_PERFORM3);

	if (ret)
		return ret;
	CORE_SYNC_POINT(MGMT_MIG_PERFORM_START);
	if (dom->def_generation != dom->mig_generation) {
		ret = mgmt_error(-EBUSY, "domain '%s' changed since migration Begin", dom->name);
		goto out;
	}
	dom->mig_status[0] = '\0';
	mon_msg_cmd(&cmd, 0, "migrate");
	mon_msg_set(&cmd, "uri", "%s", uri);
	ret = async_command(dom, MGMT_ASYNC_MIGRATION_OUT, &cmd, NULL);
	CORE_SYNC_POINT(MGMT_MIG_PERFORM_SENT);
	if (ret == 0)
		ret = wait_for_migration(dom);
	if (ret == 0)
		mgmt_migration_job_set_phase_locked(dom, MGMT_PHASE_PERFORM3_DONE);
out:
	CORE_SYNC_POINT(MGMT_MIG_PERFORM_DONE);
	mgmt_migration_job_continue_locked(dom);
	return ret;
}

static int confirm_locked(struct mgmt_domain *dom, int result)
{
	enum mgmt_phase phase = result == 0 ? MGMT_PHASE_CONFIRM3 : MGMT_PHASE_CONFIRM3_CANCELLED;
	struct mon_msg cmd;
	int ret = mgmt_migration_job_start_phase_locked(dom, phase);

	if (ret)
		return ret;
	CORE_SYNC_POINT(MGMT_MIG_CONFIRM_START);
	if (result == 0) {
		/* the guest runs on the destination now: kill the source */
		mgmt_process_kill_locked(dom);
		mgmt_process_stop_async_locked(dom, MGMT_ASYNC_MIGRATION_OUT, "migrated");
	} else if (dom->active) {
		mon_msg_cmd(&cmd, 0, "cont");
		ret = async_command(dom, MGMT_ASYNC_MIGRATION_OUT, &cmd, NULL);
		if (ret == 0)
			dom->paused = false;
	}
	mgmt_migration_job_finish_locked(dom);
	if (!dom->active)
		mgmt_domain_remove_inactive_locked(dom);
	CORE_SYNC_POINT(MGMT_MIG_CONFIRM_DONE);
	return ret;
}

int mgmt_migrate_begin(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = begin_locked(dom);
	mgmt_domain_end_api(dom);
	return ret;
}

int mgmt_migrate_perform(struct mgmt_driver *drv, const char *name, const char *uri)
{
	struct mgmt_domain *dom = lookup_in_job(drv, name, MGMT_ASYNC_MIGRATION_OUT);
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = perform_locked(dom, uri);
	mgmt_domain_end_api(dom);
	return ret;
}

int mgmt_migrate_confirm(struct mgmt_driver *drv, const char *name, int result)
{
	struct mgmt_domain *dom = lookup_in_job(drv, name, MGMT_ASYNC_MIGRATION_OUT);
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = confirm_locked(dom, result);
	mgmt_domain_end_api(dom);
	return ret;
}

/* ---- destination ---------------------------------------------------------------- */

int mgmt_migrate_prepare(struct mgmt_driver *drv, const char *name, char *uri, size_t urilen)
{
	struct mgmt_domain *dom = mgmt_domain_add(drv, name, false);
	struct mon_msg cmd, reply;
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = mgmt_migration_job_start_locked(dom, MGMT_ASYNC_MIGRATION_IN, "migrate-prepare");
	if (ret)
		goto out;
	mgmt_migration_job_set_phase_locked(dom, MGMT_PHASE_PREPARE);
	ret = mgmt_process_start_locked(dom, true, MGMT_ASYNC_MIGRATION_IN);
	if (ret == 0) {
		mon_msg_cmd(&cmd, 0, "migrate-incoming");
		ret = async_command(dom, MGMT_ASYNC_MIGRATION_IN, &cmd, &reply);
	}
	if (ret == 0) {
		const char *u = mon_msg_get(&reply, "uri");

		snprintf(uri, urilen, "%s", u ? u : "");
		CORE_SYNC_POINT(MGMT_MIG_PREPARE_DONE);
		mgmt_migration_job_continue_locked(dom);
	} else {
		char why[MGMT_ERROR_MAX];

		mgmt_error_copy(why, sizeof(why));
		mgmt_process_kill_locked(dom);
		mgmt_process_stop_async_locked(dom, MGMT_ASYNC_MIGRATION_IN, "prepare failed");
		mgmt_migration_job_finish_locked(dom);
		mgmt_error(ret, "%s", why);
	}
out:
	if (ret)
		mgmt_domain_remove_inactive_locked(dom);
	mgmt_domain_end_api(dom);
	return ret;
}

int mgmt_migrate_finish(struct mgmt_driver *drv, const char *name, int result)
{
	struct mgmt_domain *dom = lookup_in_job(drv, name, MGMT_ASYNC_MIGRATION_IN);
	struct mon_msg cmd;
	int ret;

	if (!dom)
		return mgmt_last_errno();
	ret = mgmt_migration_job_start_phase_locked(dom, MGMT_PHASE_FINISH3);
	if (ret)
		goto out;
	CORE_SYNC_POINT(MGMT_MIG_FINISH_START);
	ret = result;
	if (ret == 0)
		ret = wait_for_migration(dom);
	if (ret == 0) {
		mon_msg_cmd(&cmd, 0, "cont");
		ret = async_command(dom, MGMT_ASYNC_MIGRATION_IN, &cmd, NULL);
	}
	if (ret == 0) {
		dom->paused = false;
	} else {
		char why[MGMT_ERROR_MAX];

		mgmt_error_copy(why, sizeof(why));
		mgmt_process_kill_locked(dom);
		mgmt_process_stop_async_locked(dom, MGMT_ASYNC_MIGRATION_IN, "migration failed");
		if (result)
			mgmt_error(result, "migration failed on the source");
		else
			mgmt_error(ret, "%s", why);
	}
	mgmt_migration_job_finish_locked(dom);
	if (!dom->active)
		mgmt_domain_remove_inactive_locked(dom);
	CORE_SYNC_POINT(MGMT_MIG_FINISH_DONE);
out:
	mgmt_domain_end_api(dom);
	return ret;
}

/* ---- peer to peer ------------------------------------------------------------------ */

/* EnterRemote; the call; ExitRemote. The domain locked on entry and return. */
#define REMOTE_CALL(dom, call)							\
	({									\
		int r_;								\
		mgmt_enter_remote(dom);						\
		MGMT_INV(mgmt_inv_blocking("remote call", NULL, __FILE__, __LINE__)); \
		r_ = (call);							\
		mgmt_exit_remote(dom, false);					\
		r_;								\
	})

int mgmt_migrate_p2p(struct mgmt_driver *drv, const char *name, const struct mgmt_remote *peer)
{
	struct mgmt_domain *dom = mgmt_domain_lookup(drv, name);
	char uri[MON_VAL_MAX] = "", err[MGMT_ERROR_MAX] = "";
	int ret, fret;

	if (!dom)
		return mgmt_last_errno();
	ret = begin_locked(dom);
	if (ret)
		goto out;
	ret = REMOTE_CALL(dom, peer->ops->prepare(peer->opaque, name, uri, sizeof(uri), err, sizeof(err)));
	if (ret) {
		mgmt_error(ret, "migration Prepare on the destination failed: %s", err);
	} else {
		ret = perform_locked(dom, uri);
		fret = REMOTE_CALL(dom, peer->ops->finish(peer->opaque, name, ret, err, sizeof(err)));
		if (ret == 0 && fret)
			ret = mgmt_error(fret, "migration Finish on the destination failed: %s", err);
	}
	{
		char why[MGMT_ERROR_MAX];

		mgmt_error_copy(why, sizeof(why));
		if (confirm_locked(dom, ret) == 0 && ret)
			mgmt_error(ret, "%s", why);	/* the migration's error, not Confirm's */
	}
out:
	mgmt_domain_end_api(dom);
	return ret;
}
