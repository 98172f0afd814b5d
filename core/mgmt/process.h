/*
 * A domain's QEMU process as the management core sees it (libvirt's
 * qemu_process.c and the Enter/Exit helpers of qemu_domain.c): start, kill,
 * stop (only inside a job, R7), the monitor's event handlers (EOF and
 * SHUTDOWN queued to the driver's single event worker), EnterMonitor /
 * ExitMonitor / EnterMonitorAsync / EnterRemote / ExitRemote, and the
 * domain APIs built on them (create, destroy, query, modify, abort).
 */
#ifndef CORE_MGMT_PROCESS_H
#define CORE_MGMT_PROCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "domain.h"
#include "monproto.h"

/* The driver's event worker (qemuProcessEventHandler): one thread and a
 * queue. start: 0 or -errno. stop: runs what is queued, then joins; no
 * lock held (checked: blocking-under-lock). */
int mgmt_worker_start(struct mgmt_driver *drv);
void mgmt_worker_stop(struct mgmt_driver *drv);
/* Block until the worker has run everything queued so far (tests). No lock held. */
void mgmt_worker_flush(struct mgmt_driver *drv);

/*
 * Enter the monitor (§1.4), domain locked, a sync job of this thread's held:
 * lock the monitor, reference it, unlock the domain. 0, or -ESRCH "domain is
 * no longer running" (no monitor). On success the thread holds the monitor
 * lock until mgmt_exit_monitor().
 */
int mgmt_enter_monitor(struct mgmt_domain *dom);
/*
 * The same for the owner of async job `async`: first a nested job, then the
 * re-check that the domain is still active (-ESRCH "domain is no longer
 * running", the nested job ended again); -EINVAL if async is not the
 * domain's async job.
 */
int mgmt_enter_monitor_async(struct mgmt_domain *dom, enum mgmt_async_job async);
/*
 * Leave the monitor: release it (unlock, unref) BEFORE taking the domain
 * lock (§1.6), then end the nested job if there is one. Returns with the
 * domain locked. The domain may have changed: callers re-check active.
 */
void mgmt_exit_monitor(struct mgmt_domain *dom);
/* Between Enter and Exit: send cmd on the domain's monitor (see
 * mgmt_monitor_send_locked). */
int mgmt_domain_command(struct mgmt_domain *dom, struct mon_msg *cmd, struct mon_msg *reply);

/* Around a call to the remote peer: unlock the domain / relock it. With
 * check_active, ExitRemote fails with -ESRCH "domain '...' is not running". */
void mgmt_enter_remote(struct mgmt_domain *dom);
int mgmt_exit_remote(struct mgmt_domain *dom, bool check_active);

/*
 * Start the domain's QEMU (incoming: for a migration) and connect its
 * monitor; domain locked, inside a job (async: the async job, its monitor
 * command then in a nested job). Sends qmp_capabilities. 0, or -errno with
 * the domain stopped again.
 */
int mgmt_process_start_locked(struct mgmt_domain *dom, bool incoming, enum mgmt_async_job async);
/* SIGKILL its QEMU (never blocks); the monitor then sees EOF. Domain locked. */
void mgmt_process_kill_locked(struct mgmt_domain *dom);
/*
 * qemuProcessBeginStopJob: kill first, wake the domain's waiters, then take
 * a DESTROY job (allowed by every async mask). Domain locked. 0 or the job's
 * error.
 */
int mgmt_process_begin_stop_job_locked(struct mgmt_domain *dom, const char *api);
/*
 * Stop the domain: close the monitor, drop the domain's reference to it,
 * mark inactive, bump def_generation, wake waiters. Domain locked and a job
 * of this thread's held (stop-without-job otherwise); a no-op when inactive.
 */
void mgmt_process_stop_locked(struct mgmt_domain *dom, const char *reason);
/* The same inside async job `async` (a nested job around the stop). */
void mgmt_process_stop_async_locked(struct mgmt_domain *dom, enum mgmt_async_job async,
				    const char *reason);

/*
 * Domain APIs. Each looks the domain up, takes its job, re-checks active
 * after the job (R3) and returns 0 or -errno with the thread's last error.
 *   create:  add and start (persistent: kept in the list when stopped)
 *   start:   MODIFY job, start an inactive domain (-EEXIST if running)
 *   restart: MODIFY job, kill and stop the running QEMU, start a new one
 *            (a new id); -EINVAL if not running. A transient domain whose
 *            new QEMU fails to start is removed.
 *   destroy: kill, DESTROY job, stop (-EINVAL if not running)
 *   query:   QUERY job, query-status; the status into status (statuslen)
 *   modify:  MODIFY job, device_add, def_generation++
 *   abort:   ABORT job, migrate_cancel (-EINVAL without an async job)
 */
int mgmt_domain_create(struct mgmt_driver *drv, const char *name, bool persistent);
int mgmt_domain_start(struct mgmt_driver *drv, const char *name);
int mgmt_domain_restart(struct mgmt_driver *drv, const char *name);
int mgmt_domain_destroy(struct mgmt_driver *drv, const char *name);
int mgmt_domain_query(struct mgmt_driver *drv, const char *name, char *status, size_t statuslen);
int mgmt_domain_modify(struct mgmt_driver *drv, const char *name);
int mgmt_domain_abort_job(struct mgmt_driver *drv, const char *name);

/* A snapshot of a domain's state under its lock, for tests and programs.
 * -ENOENT if there is no such domain. */
struct mgmt_domain_info {
	bool active, paused, got_shutdown;
	int id;				/* of the running QEMU, -1 when inactive */
	unsigned def_generation;
	enum mgmt_job job;
	enum mgmt_async_job async;
	enum mgmt_phase phase;
	char mig_status[32];
};
int mgmt_domain_get_info(struct mgmt_driver *drv, const char *name, struct mgmt_domain_info *info);

#endif
