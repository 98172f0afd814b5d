/*
 * Managed migration (libvirt's qemu_migration.c, protocol v3, §3): the
 * migration job helpers (the async job kept across the API calls of one
 * migration, phases that never go backwards) and the protocol's entry
 * points: on the source Begin, Perform, Confirm; on the destination
 * Prepare, Finish; and a peer-to-peer driver of all five through a
 * struct mgmt_remote.
 */
#ifndef CORE_MGMT_MIGRATE_H
#define CORE_MGMT_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>

#include "domain.h"
#include "remote.h"

/*
 * qemuMigrationJobStart: begin the async job (MIGRATION_OUT: the default
 * mask, query/destroy/abort; MIGRATION_IN: destroy only). Fails at once with
 * -EBUSY "another migration job is already running". Domain locked. 0 or -errno.
 */
int mgmt_migration_job_start_locked(struct mgmt_domain *dom, enum mgmt_async_job job, const char *api);
/* Advance the phase; -EINVAL "migration protocol going backwards" if phase
 * is lower than the current one. Domain locked, the async job active. */
int mgmt_migration_job_set_phase_locked(struct mgmt_domain *dom, enum mgmt_phase phase);
/* A later API call re-attaches to the async job: set_phase, and this thread
 * becomes the job's owner. */
int mgmt_migration_job_start_phase_locked(struct mgmt_domain *dom, enum mgmt_phase phase);
/* The API call returns keeping the async job; it no longer has an owner. */
void mgmt_migration_job_continue_locked(struct mgmt_domain *dom);
/* Is job the domain's async job? false with "domain '...' is not being
 * migrated" / "... is not processing incoming migration" (-EINVAL). */
bool mgmt_migration_job_is_active_locked(struct mgmt_domain *dom, enum mgmt_async_job job);
/* End the async job (Confirm on the source, Finish on the destination). */
void mgmt_migration_job_finish_locked(struct mgmt_domain *dom);

/*
 * The protocol. Each returns 0 or -errno with the thread's last error.
 *   begin:   source, running domain: start MIGRATION_OUT, phase begin3,
 *            remember def_generation; keeps the job.
 *   perform: source, in begin3: phase perform3, `migrate uri=URI` on its
 *            monitor (nested job), wait for a MIGRATION event with status
 *            completed (0), failed (-EIO) or cancelled (-ECANCELED), or the
 *            domain stopping (-ESRCH); perform3_done on success; keeps the job.
 *   confirm: source: phase confirm3 (ret == 0: kill and stop the source) or
 *            confirm3_cancelled (ret != 0: `cont`); ends the job.
 *   prepare: destination: add a transient domain, start MIGRATION_IN, phase
 *            prepare, start its QEMU incoming, `migrate-incoming`; the URI
 *            its reply names into uri; keeps the job.
 *   finish:  destination: phase finish3; ret == 0: wait for MIGRATION
 *            completed, `cont`; ret != 0: kill, stop, remove; ends the job.
 */
int mgmt_migrate_begin(struct mgmt_driver *drv, const char *name);
int mgmt_migrate_perform(struct mgmt_driver *drv, const char *name, const char *uri);
int mgmt_migrate_confirm(struct mgmt_driver *drv, const char *name, int ret);
int mgmt_migrate_prepare(struct mgmt_driver *drv, const char *name, char *uri, size_t urilen);
int mgmt_migrate_finish(struct mgmt_driver *drv, const char *name, int ret);

/*
 * Peer to peer: Begin, the peer's Prepare, Perform, the peer's Finish,
 * Confirm, the source's job held throughout; every peer call between
 * EnterRemote and ExitRemote. 0 or the first error.
 */
int mgmt_migrate_p2p(struct mgmt_driver *drv, const char *name, const struct mgmt_remote *peer);

#endif
