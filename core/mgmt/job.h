/*
 * The job condition of a domain (libvirt's virDomainJobObj, libvirt-races.md
 * §1.4): long-running ownership of a domain. Not a lock: state plus two
 * condition variables that wait on the domain's mutex. One sync job at a
 * time; one async job (a migration) whose mask lets some sync jobs in, and
 * whose owner runs its monitor commands in nested jobs.
 */
#ifndef CORE_MGMT_JOB_H
#define CORE_MGMT_JOB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "thread.h"

struct mgmt_domain;

enum mgmt_job {
	MGMT_JOB_NONE,		/* no sync job */
	MGMT_JOB_QUERY,		/* read-only monitor commands */
	MGMT_JOB_MODIFY,	/* changes the domain */
	MGMT_JOB_DESTROY,	/* kills and stops it; never masked out */
	MGMT_JOB_ABORT,		/* aborts the async job */
	MGMT_JOB_ASYNC_NESTED,	/* the async job's monitor command */
	MGMT_JOB_COUNT
};

enum mgmt_async_job {
	MGMT_ASYNC_NONE,
	MGMT_ASYNC_MIGRATION_OUT,	/* source, Begin to Confirm */
	MGMT_ASYNC_MIGRATION_IN,	/* destination, Prepare to Finish */
	MGMT_ASYNC_COUNT
};

/* Migration phases, in libvirt's enum order, which "backwards" is measured
 * against (§3.2). */
enum mgmt_phase {
	MGMT_PHASE_NONE,
	MGMT_PHASE_BEGIN3,		/* source: Begin done */
	MGMT_PHASE_PERFORM3,		/* source: migrating */
	MGMT_PHASE_PERFORM3_DONE,	/* source: stream sent, waiting for Confirm */
	MGMT_PHASE_CONFIRM3_CANCELLED,	/* source: resuming after a failure */
	MGMT_PHASE_CONFIRM3,		/* source: killing after success */
	MGMT_PHASE_PREPARE,		/* destination: incoming QEMU started */
	MGMT_PHASE_FINISH3,		/* destination: resume or kill */
	MGMT_PHASE_COUNT
};

#define MGMT_JOB_MASK(j) (1u << (j))
/* The default async mask; DESTROY is always ORed in. */
#define MGMT_JOB_DEFAULT_MASK \
	(MGMT_JOB_MASK(MGMT_JOB_QUERY) | MGMT_JOB_MASK(MGMT_JOB_DESTROY) | MGMT_JOB_MASK(MGMT_JOB_ABORT))

/* Embedded in struct mgmt_domain; every field under the domain's lock. */
struct mgmt_job_obj {
	enum mgmt_job active;		/* the sync job, or NONE */
	pthread_t owner;		/* its thread, when active */
	const char *owner_api;		/* its API name, when active */
	enum mgmt_async_job async;	/* the async job, or NONE */
	pthread_t async_owner;		/* valid when async_owned */
	bool async_owned;		/* false between API calls of the async job */
	const char *async_owner_api;	/* the API that started it */
	enum mgmt_phase phase;		/* of the async job */
	unsigned mask;			/* sync jobs allowed during the async job */
	int queued;			/* threads in begin (waiting or not) */
	QemuCond cond;			/* broadcast when the sync job ends */
	QemuCond async_cond;		/* broadcast when the async job ends */
	/* for the invariant job-wakeup-lost: how many sync / async jobs ended,
	 * and when the last did (ms, CLOCK_MONOTONIC) */
	unsigned ends, async_ends;
	int64_t end_ms, async_end_ms;
};

const char *mgmt_job_name(enum mgmt_job job);
const char *mgmt_async_job_name(enum mgmt_async_job job);
const char *mgmt_phase_name(enum mgmt_phase phase);

void mgmt_job_obj_init(struct mgmt_job_obj *job);
void mgmt_job_obj_destroy(struct mgmt_job_obj *job);

/*
 * Begin a sync job (not NONE, not ASYNC_NESTED) for api on dom, whose lock the
 * caller holds; waits (the lock released) in the step order of §1.4: for an
 * async job whose mask excludes job, then for the sync job, then re-checks
 * the async condition. 0; -ETIMEDOUT after the driver's job_wait_ms with
 * "cannot acquire state change lock (held by ...)"; -ENOENT "no domain with
 * matching name" if the domain is being removed. The domain may have changed
 * (stopped) while this waited: callers re-check active.
 */
int mgmt_job_begin_locked(struct mgmt_domain *dom, enum mgmt_job job, const char *api);
/* End this thread's sync job and wake every waiter. Lock held; ending a
 * job this thread does not hold is the invariant job-end-not-owned. */
void mgmt_job_end_locked(struct mgmt_domain *dom);
/*
 * Begin the async job (waits for no async and no sync job); mask defaults to
 * MGMT_JOB_DEFAULT_MASK, the phase to NONE, the owner is this thread.
 * Errors as mgmt_job_begin_locked.
 */
int mgmt_job_begin_async_locked(struct mgmt_domain *dom, enum mgmt_async_job async, const char *api);
/* End the async job, reset phase and mask, wake every waiter. Lock held;
 * this thread must own it (job-end-not-owned otherwise). */
void mgmt_job_end_async_locked(struct mgmt_domain *dom);
/*
 * Begin a nested job inside async (which must be the active async job:
 * otherwise -EINVAL "unexpected async job"), ignoring the mask. Lock held.
 */
int mgmt_job_begin_nested_locked(struct mgmt_domain *dom, enum mgmt_async_job async);
/* Set the async mask; DESTROY is always allowed. Lock held. */
void mgmt_job_set_mask_locked(struct mgmt_domain *dom, unsigned mask);
/*
 * Store phase as the async job's phase and make this thread its owner. The
 * checker's phase-backwards fires if phase is lower than the current one:
 * refusing that is the caller's business (mgmt_migration_job_*); its
 * phase-without-job if there is no async job. Lock held.
 */
void mgmt_job_store_phase_locked(struct mgmt_domain *dom, enum mgmt_phase phase);
/* True if this thread holds a sync job of dom (including a nested one). Lock held. */
bool mgmt_job_owned_locked(const struct mgmt_domain *dom);

#endif
