/*
 * The management driver and its domains (libvirt's virQEMUDriver,
 * virDomainObjList and virDomainObj): a driver lock, a domain list under a
 * rwlock (order: list before domain), and domain objects with a mutex, an
 * atomic reference count, the job condition and the monitor pointer. Lookup
 * returns a domain locked and referenced; mgmt_domain_end_api() undoes both.
 */
#ifndef CORE_MGMT_DOMAIN_H
#define CORE_MGMT_DOMAIN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "channel.h"
#include "job.h"
#include "thread.h"

#define MGMT_MAX_DOMAINS 16
#define MGMT_NAME_MAX 64
#define MGMT_JOB_WAIT_MS 30000		/* VIR_JOB_WAIT_TIME; virtual time under the harness */

struct mgmt_monitor;
struct mgmt_worker;

/*
 * How the driver runs a domain's "QEMU": a real process, or fakes/fake_monitor
 * over an in-memory channel. Neither op may block for long; both are called
 * with the domain's lock held.
 *   start: start it (incoming: waiting for a migration stream); *mon is a
 *          connected channel to its monitor, owned by the caller. 0 or -errno.
 *   kill:  SIGKILL it; never blocks; its monitor then reads EOF.
 */
struct mgmt_qemu_ops {
	int (*start)(void *opaque, const char *dom, bool incoming, struct channel **mon);
	void (*kill)(void *opaque, const char *dom);
};

struct mgmt_driver {
	QemuMutex lock;			/* rank driver; for configuration changes only */
	char name[32];			/* immutable */
	int job_wait_ms;		/* immutable after init; MGMT_JOB_WAIT_MS by default */
	int max_queued;			/* immutable; 0: no limit on queued jobs */
	struct mgmt_qemu_ops qemu;	/* immutable */
	void *qemu_opaque;		/* immutable */

	pthread_rwlock_t list_lock;	/* rank domain-list: doms, ndoms */
	struct mgmt_domain *doms[MGMT_MAX_DOMAINS];	/* each holds a reference */
	int ndoms;

	struct mgmt_worker *worker;	/* immutable: the event worker (process.c) */
};

struct mgmt_domain {
	QemuMutex lock;			/* rank domain; every field below unless noted */
	atomic_int refs;		/* any thread */
	atomic_int inv_transit;		/* invariants: threads between unlock and relock */
	struct mgmt_driver *drv;	/* immutable */
	char name[MGMT_NAME_MAX];	/* immutable */
	bool persistent;		/* immutable: kept in the list when stopped */

	bool active;			/* its QEMU runs */
	bool being_destroyed;		/* destroy killed it; the EOF path stays out */
	bool removing;			/* being removed from the list: no new jobs */
	unsigned def_generation;	/* bumped at every change of the definition */
	int id;				/* of the running QEMU, -1 when inactive */
	struct mgmt_job_obj job;
	QemuCond state_cond;		/* broadcast on changes of active and mig_status */
	/*
	 * The monitor, with a reference, while active. Written under the lock
	 * and with a job; read unlocked by the job's owner inside Enter/Exit.
	 */
	struct mgmt_monitor *mon;
	bool got_shutdown;		/* SHUTDOWN event seen */
	bool paused;			/* STOP seen, RESUME not since */
	char mig_status[32];		/* status of the last MIGRATION event */
	unsigned mig_generation;	/* def_generation at migration Begin */
	char last_mon_error[128];	/* why the monitor went away */
};

/*
 * Set up drv; starts its event worker thread. ops may be NULL (no domain can
 * start). 0 or -errno.
 */
int mgmt_driver_init(struct mgmt_driver *drv, const char *name,
		     const struct mgmt_qemu_ops *ops, void *opaque);
/*
 * Stop the worker (after it ran what was queued), drop the list's domain
 * references and free what the driver owns. No lock held; every domain
 * should be inactive (active ones are killed and stopped first).
 */
void mgmt_driver_destroy(struct mgmt_driver *drv);

/* Driver lock (rank driver). */
void mgmt_driver_lock(struct mgmt_driver *drv);
void mgmt_driver_unlock(struct mgmt_driver *drv);

/* Domain lock and references. The unref that drops the last reference frees
 * the domain (and checks ref-zero-while-unlocked). */
void mgmt_domain_lock(struct mgmt_domain *dom);
void mgmt_domain_unlock(struct mgmt_domain *dom);
void mgmt_domain_ref(struct mgmt_domain *dom);
void mgmt_domain_unref(struct mgmt_domain *dom);
int mgmt_domain_ref_count(struct mgmt_domain *dom);

/*
 * Add a new inactive domain to the list. Returns it locked and with a
 * reference for the caller (the list holds another), or NULL with
 * -EEXIST/-ENOSPC/-ENOMEM in the last error.
 */
struct mgmt_domain *mgmt_domain_add(struct mgmt_driver *drv, const char *name, bool persistent);
/* The domain called name, locked and referenced; NULL with -ENOENT "no
 * domain with matching name '...'". Takes the list lock, then the domain's. */
struct mgmt_domain *mgmt_domain_lookup(struct mgmt_driver *drv, const char *name);
/* End an API call: unlock dom and drop the lookup's reference. */
void mgmt_domain_end_api(struct mgmt_domain *dom);
/*
 * Remove an inactive non-persistent domain from the list (libvirt's
 * RemoveInactive): marks it removing, unlocks it to take the list lock
 * first, relocks. The caller's reference keeps dom alive; lock held on entry
 * and return.
 */
void mgmt_domain_remove_inactive_locked(struct mgmt_domain *dom);

#endif
