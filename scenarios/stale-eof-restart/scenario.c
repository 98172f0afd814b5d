/*
 * stale-eof-restart: the EOF of a QEMU that is gone kills the domain's new
 * QEMU after a restart (libvirt dd2f36d66e: processMonitorEOFEvent compares
 * the event's domain id with the domain's before qemuProcessBeginStopJob).
 *
 * The bug: the monitor's EOF handler queues the real work for the event
 * worker with the domain's id of that moment (the QEMU instance that died).
 * If the domain is stopped and started again before the worker runs (a
 * restart: the same domain, a new QEMU and a new id), the event is stale.
 * The worker compared the ids only after qemuProcessBeginStopJob, which
 * kills the domain's QEMU first: the restarted one. Its monitor then reads
 * EOF, a second, genuine event is queued, and the freshly restarted domain
 * is stopped as if it had crashed.
 *
 * The fix (core/mgmt/process.c, worker_eof): leave at once when the domain's
 * id is no longer the event's, before mgmt_process_begin_stop_job_locked;
 * the id is compared again after the job (the wait unlocks the domain).
 * regress.patch removes the first comparison: the stop job (and its kill)
 * comes first, the comparison after it only, as before the fix.
 *
 *   API thread (main: restart)             event worker
 *   --------------------------             ------------
 *   create "vm": QEMU 1, id 1
 *   QEMU 1 crashes (SIGKILL); on its
 *   monitor's event thread the EOF
 *   handler queues EOF(id 1)
 *     [eof:handler:queued]
 *   [api:restart:begin]
 *   MODIFY job, kill and stop QEMU 1,
 *   start QEMU 2: id 2
 *   [api:restart:done]
 *                                          [worker:eof:begin]
 *                                          lock dom
 *                                          (fixed: id 2 != 1: stale, done)
 *                                          stop job: kill    (regressed)
 *                                            -> QEMU 2 dies
 *                                          DESTROY job, id 2 != 1: no
 *                                          stop, but QEMU 2 is dead
 *
 * QEMU 1 dies right after its start (the scenario kills the fake from
 * outside, as a crash would). The first constraint makes the restart wait
 * until the handler queued that EOF (later, the restart's stop would have
 * replaced the monitor and the handler would stay out); the second holds the
 * worker until the restart is done. Unscripted, the worker may also stop the
 * crashed domain before the restart, which then finds it not running: the
 * program starts it instead, and checks the same.
 *
 * Expected on the regressed core, in both builds: the invariant checker's
 * stale-event ("the event of QEMU instance 1 kills instance 2") at the
 * worker's kill. With the checker's reports ignored (an experiment, not part
 * of the scenario), the scripted run fails the check that nobody killed
 * QEMU 2 (assert:!fmon_killed(fm2)); its monitor's EOF, queued in turn, then
 * has the worker stop the restarted domain as crashed.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <migrace/scenario.h>

#include "mgmt_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* QEMU 1's EOF is queued for the worker before the restart ... */
		"eof:handler:queued -> api:restart:begin",
		/* ... which the worker handles only once the new QEMU runs */
		"api:restart:done -> worker:eof:begin",
	},
	.expect_tsan = "invariant:stale-event",
	.expect_asan = "invariant:stale-event",
);

int main(void)
{
	struct scen_mgmt m;
	struct mgmt_domain_info before, after;
	struct fmon *fm2;
	char status[32];
	int ret;

	scen_mgmt_setup(&m);
	fm2 = scen_mgmt_next_qemu(&m);		/* QEMU 2, for the restart */
	fmon_expect(fm2, "query-status", NULL, "status=running");
	scen_mgmt_start(&m, true);
	assert(scen_mgmt_info(&m, &before) == 0);
	fmon_kill(m.fm);			/* QEMU 1 crashes */

	ret = mgmt_domain_restart(&m.drv, SCEN_DOM);
	if (ret == -EINVAL) {
		/* unscripted, the worker may stop the crashed domain first: no
		 * stale event then; start it again instead */
		assert(strstr(mgmt_last_error(), "is not running"));
		assert(mgmt_domain_start(&m.drv, SCEN_DOM) == 0);
	} else {
		assert(ret == 0);
	}
	mgmt_worker_flush(&m.drv);		/* QEMU 1's EOF handled */

	/* the new QEMU runs, with a new id, and nobody killed it */
	assert(scen_mgmt_info(&m, &after) == 0);
	assert(after.active);
	assert(after.id != before.id);
	assert(fmon_killed(m.fm));
	assert(!fmon_killed(fm2));
	assert(mgmt_domain_query(&m.drv, SCEN_DOM, status, sizeof(status)) == 0);
	assert(strcmp(status, "running") == 0);
	assert(fmon_unused(m.fm) == 0 && fmon_unused(fm2) == 0);
	scen_mgmt_free(&m);			/* every thread joined */
	puts("stale-eof-restart: restarted, the stale EOF left the new QEMU alone");
	return 0;
}
