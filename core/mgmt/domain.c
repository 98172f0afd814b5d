/*
 * The driver, its domain list and the domain objects (see domain.h). Lock
 * order: driver, list, domain, monitor; every blocking lock goes through the
 * invariant checker first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain.h"
#include "error.h"
#include "invariants.h"
#include "monitor.h"
#include "process.h"

static void list_rdlock(struct mgmt_driver *drv);
static void list_wrlock(struct mgmt_driver *drv);
static void list_unlock(struct mgmt_driver *drv);

int mgmt_driver_init(struct mgmt_driver *drv, const char *name,
		     const struct mgmt_qemu_ops *ops, void *opaque)
{
	int err;

	memset(drv, 0, sizeof(*drv));
	qemu_mutex_init(&drv->lock);
	snprintf(drv->name, sizeof(drv->name), "%s", name);
	drv->job_wait_ms = MGMT_JOB_WAIT_MS;
	if (ops)
		drv->qemu = *ops;
	drv->qemu_opaque = opaque;
	pthread_rwlock_init(&drv->list_lock, NULL);
	err = mgmt_worker_start(drv);
	if (err) {
		pthread_rwlock_destroy(&drv->list_lock);
		qemu_mutex_destroy(&drv->lock);
	}
	return err;
}

void mgmt_driver_destroy(struct mgmt_driver *drv)
{
	struct mgmt_domain *doms[MGMT_MAX_DOMAINS];
	int n;

	/* stop what still runs, each inside a destroy job like any other stop */
	list_rdlock(drv);
	n = drv->ndoms;
	memcpy(doms, drv->doms, sizeof(doms));
	for (int i = 0; i < n; i++)
		mgmt_domain_ref(doms[i]);
	list_unlock(drv);
	for (int i = 0; i < n; i++) {
		mgmt_domain_lock(doms[i]);
		if (doms[i]->active && mgmt_process_begin_stop_job_locked(doms[i], "driver-destroy") == 0) {
			mgmt_process_stop_locked(doms[i], "driver shutdown");
			mgmt_job_end_locked(doms[i]);
		}
		mgmt_domain_end_api(doms[i]);
	}
	mgmt_worker_stop(drv);

	list_wrlock(drv);
	n = drv->ndoms;
	memcpy(doms, drv->doms, sizeof(doms));
	drv->ndoms = 0;
	list_unlock(drv);
	for (int i = 0; i < n; i++)
		mgmt_domain_unref(doms[i]);
	mgmt_monitor_reap();
	pthread_rwlock_destroy(&drv->list_lock);
	qemu_mutex_destroy(&drv->lock);
}

void mgmt_driver_lock(struct mgmt_driver *drv)
{
	if (!MGMT_INV_TOOK_FREE(MGMT_RANK_DRIVER, qemu_mutex_trylock(&drv->lock))) {
		MGMT_INV(mgmt_inv_before_lock(MGMT_RANK_DRIVER, drv, __FILE__, __LINE__));
		qemu_mutex_lock(&drv->lock);
	}
	MGMT_INV(mgmt_inv_locked(MGMT_RANK_DRIVER, drv));
}

void mgmt_driver_unlock(struct mgmt_driver *drv)
{
	MGMT_INV(mgmt_inv_unlocked(drv));
	qemu_mutex_unlock(&drv->lock);
}

static void list_rdlock(struct mgmt_driver *drv)
{
	if (!MGMT_INV_TOOK_FREE(MGMT_RANK_LIST, pthread_rwlock_tryrdlock(&drv->list_lock))) {
		MGMT_INV(mgmt_inv_before_lock(MGMT_RANK_LIST, &drv->list_lock, __FILE__, __LINE__));
		pthread_rwlock_rdlock(&drv->list_lock);
	}
	MGMT_INV(mgmt_inv_locked(MGMT_RANK_LIST, &drv->list_lock));
}

static void list_wrlock(struct mgmt_driver *drv)
{
	if (!MGMT_INV_TOOK_FREE(MGMT_RANK_LIST, pthread_rwlock_trywrlock(&drv->list_lock))) {
		MGMT_INV(mgmt_inv_before_lock(MGMT_RANK_LIST, &drv->list_lock, __FILE__, __LINE__));
		pthread_rwlock_wrlock(&drv->list_lock);
	}
	MGMT_INV(mgmt_inv_locked(MGMT_RANK_LIST, &drv->list_lock));
}

static void list_unlock(struct mgmt_driver *drv)
{
	MGMT_INV(mgmt_inv_unlocked(&drv->list_lock));
	pthread_rwlock_unlock(&drv->list_lock);
}

void mgmt_domain_lock(struct mgmt_domain *dom)
{
	/* out of rank order but free: taken without blocking (lock-rank) */
	if (!MGMT_INV_TOOK_FREE(MGMT_RANK_DOMAIN, qemu_mutex_trylock(&dom->lock))) {
		MGMT_INV(mgmt_inv_before_lock(MGMT_RANK_DOMAIN, dom, __FILE__, __LINE__));
		qemu_mutex_lock(&dom->lock);
	}
	MGMT_INV(mgmt_inv_locked(MGMT_RANK_DOMAIN, dom));
}

void mgmt_domain_unlock(struct mgmt_domain *dom)
{
	MGMT_INV(mgmt_inv_unlocked(dom));
	qemu_mutex_unlock(&dom->lock);
}

void mgmt_domain_ref(struct mgmt_domain *dom)
{
	int old = atomic_fetch_add(&dom->refs, 1);

	if (old <= 0) {
		fprintf(stderr, "mgmt: reference taken on a dead domain %s\n", dom->name);
		abort();
	}
}

static void domain_free(struct mgmt_domain *dom)
{
	if (dom->mon)
		mgmt_monitor_unref(dom->mon);
	qemu_cond_destroy(&dom->state_cond);
	mgmt_job_obj_destroy(&dom->job);
	qemu_mutex_destroy(&dom->lock);
	free(dom);
}

void mgmt_domain_unref(struct mgmt_domain *dom)
{
	int old = atomic_fetch_sub(&dom->refs, 1);

	if (old > 1)
		return;
	if (old < 1) {
		fprintf(stderr, "mgmt: domain %s unreferenced more than referenced\n", dom->name);
		abort();
	}
	MGMT_INV(mgmt_inv_ref_zero(&dom->inv_transit, "domain", __FILE__, __LINE__));
	domain_free(dom);
}

int mgmt_domain_ref_count(struct mgmt_domain *dom)
{
	return atomic_load(&dom->refs);
}

static int list_find_locked(struct mgmt_driver *drv, const char *name)
{
	for (int i = 0; i < drv->ndoms; i++)
		if (strcmp(drv->doms[i]->name, name) == 0)
			return i;
	return -1;
}

struct mgmt_domain *mgmt_domain_add(struct mgmt_driver *drv, const char *name, bool persistent)
{
	struct mgmt_domain *dom;

	if (strlen(name) >= MGMT_NAME_MAX) {
		mgmt_error(-ENAMETOOLONG, "domain name '%s' too long", name);
		return NULL;
	}
	dom = calloc(1, sizeof(*dom));
	if (!dom) {
		mgmt_error(-ENOMEM, "out of memory");
		return NULL;
	}
	qemu_mutex_init(&dom->lock);
	qemu_cond_init(&dom->state_cond);
	mgmt_job_obj_init(&dom->job);
	atomic_init(&dom->refs, 2);	/* the list's and the caller's */
	atomic_init(&dom->inv_transit, 0);
	dom->drv = drv;
	dom->persistent = persistent;
	dom->id = -1;
	snprintf(dom->name, sizeof(dom->name), "%s", name);

	list_wrlock(drv);
	if (list_find_locked(drv, name) >= 0 || drv->ndoms == MGMT_MAX_DOMAINS) {
		int err = drv->ndoms == MGMT_MAX_DOMAINS ? -ENOSPC : -EEXIST;

		list_unlock(drv);
		domain_free(dom);
		mgmt_error(err, err == -EEXIST ? "domain '%s' already exists" : "too many domains (adding '%s')", name);
		return NULL;
	}
	drv->doms[drv->ndoms++] = dom;
	mgmt_domain_lock(dom);	/* list -> domain */
	list_unlock(drv);
	return dom;
}

struct mgmt_domain *mgmt_domain_lookup(struct mgmt_driver *drv, const char *name)
{
	struct mgmt_domain *dom = NULL;
	int i;

	list_rdlock(drv);
	i = list_find_locked(drv, name);
	if (i >= 0) {
		dom = drv->doms[i];
		mgmt_domain_ref(dom);
		mgmt_domain_lock(dom);
	}
	list_unlock(drv);
	if (!dom)
		mgmt_error(-ENOENT, "no domain with matching name '%s'", name);
	return dom;
}

void mgmt_domain_end_api(struct mgmt_domain *dom)
{
	mgmt_domain_unlock(dom);
	mgmt_domain_unref(dom);
}

void mgmt_domain_remove_inactive_locked(struct mgmt_domain *dom)
{
	struct mgmt_driver *drv = dom->drv;
	bool removed = false;
	int i;

	if (dom->persistent || dom->active)
		return;
	dom->removing = true;
	/* list before domain: let go of the domain (our reference keeps it) */
	mgmt_domain_unlock(dom);
	list_wrlock(drv);
	mgmt_domain_lock(dom);
	i = list_find_locked(drv, dom->name);
	if (i >= 0 && drv->doms[i] == dom) {
		drv->doms[i] = drv->doms[--drv->ndoms];
		removed = true;
	}
	list_unlock(drv);
	if (removed)
		mgmt_domain_unref(dom);	/* the list's; the caller still holds one */
}
