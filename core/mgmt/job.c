/*
 * The job condition (see job.h), in the step order of libvirt's
 * virDomainObjBeginJobInternal (libvirt-races.md §1.4). Every function runs
 * with the domain's lock held; the waits release it.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "domain.h"
#include "error.h"
#include "harness_points.h"
#include "invariants.h"
#include "job.h"

static const char *const job_names[MGMT_JOB_COUNT] = {
	"none", "query", "modify", "destroy", "abort", "async-nested",
};
static const char *const async_names[MGMT_ASYNC_COUNT] = {
	"none", "migration-out", "migration-in",
};
static const char *const phase_names[MGMT_PHASE_COUNT] = {
	"none", "begin3", "perform3", "perform3_done", "confirm3_cancelled",
	"confirm3", "prepare", "finish3",
};

const char *mgmt_job_name(enum mgmt_job job)
{
	return (unsigned)job < MGMT_JOB_COUNT ? job_names[job] : "?";
}

const char *mgmt_async_job_name(enum mgmt_async_job job)
{
	return (unsigned)job < MGMT_ASYNC_COUNT ? async_names[job] : "?";
}

const char *mgmt_phase_name(enum mgmt_phase phase)
{
	return (unsigned)phase < MGMT_PHASE_COUNT ? phase_names[phase] : "?";
}

void mgmt_job_obj_init(struct mgmt_job_obj *job)
{
	*job = (struct mgmt_job_obj){ .mask = MGMT_JOB_DEFAULT_MASK };
	qemu_cond_init(&job->cond);
	qemu_cond_init(&job->async_cond);
}

void mgmt_job_obj_destroy(struct mgmt_job_obj *job)
{
	qemu_cond_destroy(&job->cond);
	qemu_cond_destroy(&job->async_cond);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* May job run now as far as the async job is concerned? */
static bool async_allows(const struct mgmt_job_obj *j, enum mgmt_job job, bool async)
{
	if (j->async == MGMT_ASYNC_NONE)
		return true;
	if (async)
		return false;
	return job == MGMT_JOB_ASYNC_NESTED || (j->mask & MGMT_JOB_MASK(job));
}

/*
 * job-wakeup-lost: a wait that timed out, though a job it waited for ended
 * (ends moved) more than the clocks' rounding before its deadline: that end
 * did not wake it. An end after the timeout, before the relock, is fine.
 */
#ifdef MGMT_INVARIANTS
static void check_woken(struct mgmt_domain *dom, bool async, unsigned ends, int64_t deadline)
{
	const struct mgmt_job_obj *j = &dom->job;
	unsigned now_ends = async ? j->async_ends : j->ends;
	int64_t at = async ? j->async_end_ms : j->end_ms;

	MGMT_INV_CHECK(now_ends == ends || at + 2 >= deadline, "job-wakeup-lost",
		       "domain %s: a job waiter timed out, but the %s job it waited for ended "
		       "%lld ms before its deadline without waking it", dom->name,
		       async ? "async" : "sync", (long long)(deadline - at));
}
#endif

/* Wait on the sync (async: the async) job's condition until the deadline;
 * false once it passed. Lock held. */
static bool wait_until(struct mgmt_domain *dom, bool async, int64_t deadline)
{
	struct mgmt_job_obj *j = &dom->job;
#ifdef MGMT_INVARIANTS
	unsigned ends = async ? j->async_ends : j->ends;
#endif
	int64_t left = deadline - now_ms();

	if (left <= 0)
		return false;
	MGMT_INV(mgmt_inv_blocking("job wait", dom, __FILE__, __LINE__));
	CORE_SYNC_POINT(MGMT_JOB_BEGIN_WAIT);
	if (!qemu_cond_timedwait(async ? &j->async_cond : &j->cond, &dom->lock,
				 left > INT32_MAX ? INT32_MAX : (int)left))
		MGMT_INV(check_woken(dom, async, ends, deadline));
	return true;
}

static int job_timeout(struct mgmt_domain *dom)
{
	struct mgmt_job_obj *j = &dom->job;

	if (j->active != MGMT_JOB_NONE)
		return mgmt_error(-ETIMEDOUT, "cannot acquire state change lock (held by %s job=%s)",
				  j->owner_api ? j->owner_api : "?", mgmt_job_name(j->active));
	return mgmt_error(-ETIMEDOUT, "cannot acquire state change lock (held by %s async=%s)",
			  j->async_owner_api ? j->async_owner_api : "?", mgmt_async_job_name(j->async));
}

/* The common path of sync, async and nested jobs (§1.4 steps 1-7). */
static int job_begin(struct mgmt_domain *dom, enum mgmt_job job, enum mgmt_async_job async,
		     const char *api)
{
	struct mgmt_job_obj *j = &dom->job;
	bool is_async = async != MGMT_ASYNC_NONE;
	int64_t deadline;
	int ret = 0;

	/* 1. queue; deadline */
	j->queued++;
	deadline = now_ms() + dom->drv->job_wait_ms;
	/* 2. the queue limit; async and destroy jobs are exempt */
	if (dom->drv->max_queued && j->queued > dom->drv->max_queued &&
	    !is_async && job != MGMT_JOB_DESTROY) {
		ret = mgmt_error(-EBUSY, "cannot acquire state change lock: too many queued jobs");
		goto out;
	}
retry:
	/* 3. an async job whose mask excludes this job */
	while (!async_allows(j, job, is_async)) {
		if (!wait_until(dom, true, deadline)) {
			ret = job_timeout(dom);
			goto out;
		}
	}
	/* 4. another sync job */
	while (j->active != MGMT_JOB_NONE) {
		if (!wait_until(dom, false, deadline)) {
			ret = job_timeout(dom);
			goto out;
		}
	}
	/* 5. an async job may have started while we slept */
	if (!async_allows(j, job, is_async))
		goto retry;
	/* 6. */
	if (dom->removing) {
		ret = mgmt_error(-ENOENT, "no domain with matching name '%s'", dom->name);
		goto out;
	}
	/* 7. */
	if (is_async) {
		j->async = async;
		j->async_owner = pthread_self();
		j->async_owned = true;
		j->async_owner_api = api;
		j->phase = MGMT_PHASE_NONE;
		j->mask = MGMT_JOB_DEFAULT_MASK;
	} else {
		j->active = job;
		j->owner = pthread_self();
		j->owner_api = api;
	}
	CORE_SYNC_POINT(MGMT_JOB_BEGIN_ACQUIRED);
out:
	j->queued--;
	return ret;
}

int mgmt_job_begin_locked(struct mgmt_domain *dom, enum mgmt_job job, const char *api)
{
	if (job == MGMT_JOB_NONE || job == MGMT_JOB_ASYNC_NESTED || job >= MGMT_JOB_COUNT)
		return mgmt_error(-EINVAL, "invalid job %d", (int)job);
	return job_begin(dom, job, MGMT_ASYNC_NONE, api);
}

void mgmt_job_end_locked(struct mgmt_domain *dom)
{
	struct mgmt_job_obj *j = &dom->job;

	MGMT_INV_CHECK(mgmt_job_owned_locked(dom), "job-end-not-owned",
		       "domain %s: ending a %s job this thread does not hold", dom->name,
		       mgmt_job_name(j->active));
	j->active = MGMT_JOB_NONE;
	j->owner_api = NULL;
	j->ends++;
	j->end_ms = now_ms();
	/* every waiter: taking a job depends on more than this variable */
	qemu_cond_broadcast(&j->cond);
	CORE_SYNC_POINT(MGMT_JOB_END);
}

int mgmt_job_begin_async_locked(struct mgmt_domain *dom, enum mgmt_async_job async, const char *api)
{
	if (async == MGMT_ASYNC_NONE || async >= MGMT_ASYNC_COUNT)
		return mgmt_error(-EINVAL, "invalid async job %d", (int)async);
	return job_begin(dom, MGMT_JOB_NONE, async, api);
}

void mgmt_job_end_async_locked(struct mgmt_domain *dom)
{
	struct mgmt_job_obj *j = &dom->job;

	MGMT_INV_CHECK(j->async != MGMT_ASYNC_NONE && j->async_owned &&
		       pthread_equal(j->async_owner, pthread_self()), "job-end-not-owned",
		       "domain %s: ending the %s async job this thread does not own", dom->name,
		       mgmt_async_job_name(j->async));
	j->async_ends++;
	j->async_end_ms = now_ms();
	j->async = MGMT_ASYNC_NONE;
	j->async_owned = false;
	j->async_owner_api = NULL;
	j->phase = MGMT_PHASE_NONE;
	j->mask = MGMT_JOB_DEFAULT_MASK;
	qemu_cond_broadcast(&j->async_cond);
	CORE_SYNC_POINT(MGMT_JOB_END_ASYNC);
}

int mgmt_job_begin_nested_locked(struct mgmt_domain *dom, enum mgmt_async_job async)
{
	struct mgmt_job_obj *j = &dom->job;

	if (async != j->async)
		return mgmt_error(-EINVAL, "unexpected async job %s (active: %s)",
				  mgmt_async_job_name(async), mgmt_async_job_name(j->async));
	/* libvirt only warns when the caller is not the async owner; so do we, silently */
	return job_begin(dom, MGMT_JOB_ASYNC_NESTED, MGMT_ASYNC_NONE, j->async_owner_api);
}

void mgmt_job_set_mask_locked(struct mgmt_domain *dom, unsigned mask)
{
	dom->job.mask = mask | MGMT_JOB_MASK(MGMT_JOB_DESTROY);
}

void mgmt_job_store_phase_locked(struct mgmt_domain *dom, enum mgmt_phase phase)
{
	struct mgmt_job_obj *j = &dom->job;

	MGMT_INV_CHECK(j->async != MGMT_ASYNC_NONE, "phase-without-job",
		       "domain %s: migration phase %s stored without an async job", dom->name,
		       mgmt_phase_name(phase));
	MGMT_INV_CHECK(phase >= j->phase, "phase-backwards",
		       "domain %s: migration phase %s -> %s", dom->name,
		       mgmt_phase_name(j->phase), mgmt_phase_name(phase));
	j->phase = phase;
	j->async_owner = pthread_self();
	j->async_owned = true;
}

bool mgmt_job_owned_locked(const struct mgmt_domain *dom)
{
	return dom->job.active != MGMT_JOB_NONE && pthread_equal(dom->job.owner, pthread_self());
}
