/*
 * migration-job-phases: the migration job is not kept from Perform to
 * Confirm, so another API changes the domain in between, after its state
 * went to the destination (libvirt d58e91a81 "Migration job on source
 * daemon", Denemark, July 2011; MIGRATION.txt; libvirt-races.md §3.3-§3.4,
 * catalogue #18).
 *
 * The bug: a managed migration is five API calls driven by the client
 * (Begin, Prepare, Perform, Finish, Confirm). Before d58e91a81 the source's
 * migration job lived inside one call: Perform started and ended its own, and
 * Confirm looked the domain up with no migration job at all. Between Perform
 * and Confirm (while the client runs Finish on the destination) the domain
 * had no job, so any API got in: a hot-plug went to the source QEMU whose
 * state had already been sent, and the destination ran a guest that no longer
 * matched the definition the migration was begun with.
 *
 * The fix: the async job is held from Begin to Confirm. Begin and Perform
 * end with mgmt_migration_job_continue_locked() (the job stays, its owner
 * goes: 08ec1d787), Confirm starts with mgmt_migration_job_is_active_locked()
 * and ends with mgmt_migration_job_finish_locked(); in between only the
 * mask's sync jobs (query, destroy, abort) run, a MODIFY waits (and times
 * out: "cannot acquire state change lock"). regress.patch reverts exactly
 * that in migrate.c: Perform finishes the job instead of continuing it, and
 * Confirm drops its is-active check (plain lookup), as the old Confirm did.
 * Its other guard, the refusal of a phase going backwards (set_phase and the
 * checker's phase-backwards), is a separate fix and stays.
 *
 * A second client calls modify (device_add) once Perform returned:
 *
 *   client (main)                          other client (modify thread)
 *   -------------                          ----------------------------
 *   Begin      (async job, gen recorded)
 *   Prepare    (destination)
 *   Perform: migrate, wait for completed
 *   [mig:perform:done]
 *   job continued (regressed: finished)
 *                                          modify: lookup, MODIFY job:
 *                                            waits for the async job,
 *                                            times out          (fixed)
 *                                            granted at once    (regressed)
 *                                          [api:modify:after-job]
 *                                          device_add to the source QEMU,
 *                                          def_generation++     (regressed)
 *                                          [api:modify:done]
 *   Finish (destination)
 *   [mig:finish:start-phase]  resume there
 *   Confirm
 *   [mig:confirm:start-phase] kill the source
 *
 * Expected on the regressed core, in both builds: the scenario's
 * domain-changed-during-migration (the source's definition changed between
 * Begin and Confirm, and the source QEMU got a device_add after its migrate).
 * No memory or thread error is involved, so neither sanitizer sees it.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <migrace/scenario.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "mem_channel.h"
#include "migrate.h"
#include "process.h"
#include "remote_local.h"

MIGRACE_SCENARIO(
	.order = {
		/* the other client's call ends after Perform returned ... */
		"mig:perform:done -> api:modify:done",
		/* ... and before the client goes on with Finish, then Confirm */
		"api:modify:done -> mig:finish:start-phase",
	},
	.expect_tsan = "invariant:domain-changed-during-migration",
	.expect_asan = "invariant:domain-changed-during-migration",
);

struct side {
	struct mgmt_driver drv;
	struct fmon_qemu q;
	struct fmon *fm;
};

static struct side src, dst;
static int modify_ret;

static void *modify_thread(void *arg)
{
	modify_ret = mgmt_domain_modify(&src.drv, "vm");
	return NULL;
}

static void setup_side(struct side *s, const char *name)
{
	s->fm = fmon_new(name);
	assert(s->fm);
	assert(fmon_qemu_add(&s->q, "vm", s->fm) == 0);
	assert(mgmt_driver_init(&s->drv, name, &fmon_qemu_ops, &s->q) == 0);
}

/* Did the source QEMU get a device_add after its migrate? */
static bool changed_after_migrate(struct fmon *f)
{
	bool migrated = false;
	char cmd[64];

	for (int i = 0; fmon_received(f, i, cmd, sizeof(cmd)); i++) {
		if (strcmp(cmd, "migrate") == 0)
			migrated = true;
		else if (migrated && strcmp(cmd, "device_add") == 0)
			return true;
	}
	return false;
}

int main(void)
{
	struct mgmt_domain_info at_begin, at_confirm, si, di;
	struct mgmt_remote peer;
	char uri[MON_VAL_MAX], err[MGMT_ERROR_MAX];
	pthread_t t;
	int fret;

	mem_channel_register();
	setup_side(&src, "src");
	setup_side(&dst, "dst");
	fmon_expect(src.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(src.fm, "migrate", "uri=mem:mig", NULL);
	fmon_event(src.fm, "MIGRATION", "status=active");
	fmon_event(src.fm, "MIGRATION", "status=completed");
	fmon_allow(src.fm, "device_add", NULL);	/* whenever the other client gets in */
	fmon_expect(dst.fm, "qmp_capabilities", NULL, NULL);
	fmon_expect(dst.fm, "migrate-incoming", NULL, "uri=mem:mig");
	fmon_event(dst.fm, "MIGRATION", "status=completed");
	fmon_expect(dst.fm, "cont", NULL, NULL);
	mgmt_remote_local_init(&peer, &dst.drv);
	assert(mgmt_domain_create(&src.drv, "vm", true) == 0);

	/* the client drives a managed migration step by step */
	assert(mgmt_migrate_begin(&src.drv, "vm") == 0);
	assert(mgmt_domain_get_info(&src.drv, "vm", &at_begin) == 0);
	assert(peer.ops->prepare(peer.opaque, "vm", uri, sizeof(uri), err, sizeof(err)) == 0);
	assert(mgmt_migrate_perform(&src.drv, "vm", uri) == 0);
	pthread_create(&t, NULL, modify_thread, NULL);
	fret = peer.ops->finish(peer.opaque, "vm", 0, err, sizeof(err));
	assert(mgmt_domain_get_info(&src.drv, "vm", &at_confirm) == 0);
	if (at_confirm.def_generation != at_begin.def_generation || changed_after_migrate(src.fm))
		MIGRACE_INVARIANT("domain-changed-during-migration",
				  "the source changed between Begin and Confirm (def_generation %u -> %u), "
				  "after its state went to the destination",
				  at_begin.def_generation, at_confirm.def_generation);
	assert(fret == 0);
	assert(mgmt_migrate_confirm(&src.drv, "vm", fret) == 0);
	pthread_join(t, NULL);

	/* the other client was refused: while the job was held (-ETIMEDOUT, the
	 * scripted order) or once Confirm had stopped the domain (-EINVAL);
	 * the guest runs on the destination only */
	assert(modify_ret == -ETIMEDOUT || modify_ret == -EINVAL);
	assert(mgmt_domain_get_info(&src.drv, "vm", &si) == 0);
	assert(!si.active && si.async == MGMT_ASYNC_NONE && si.job == MGMT_JOB_NONE);
	assert(mgmt_domain_get_info(&dst.drv, "vm", &di) == 0);
	assert(di.active && !di.paused && di.async == MGMT_ASYNC_NONE && di.job == MGMT_JOB_NONE);
	assert(fmon_killed(src.fm));

	mgmt_driver_destroy(&src.drv);
	mgmt_driver_destroy(&dst.drv);
	fmon_free(src.fm);
	fmon_free(dst.fm);
	MIGRACE_CHECK_THREADS_JOINED();
	puts("migration-job-phases: migrated; the other client's modify waited and was refused");
	return 0;
}
