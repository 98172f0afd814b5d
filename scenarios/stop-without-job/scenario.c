/*
 * stop-without-job: the domain's process is stopped without a job while
 * another thread is inside the monitor (libvirt 81f50cb92, "qemu: Avoid
 * calling qemuProcessStop without a job", Jiri Denemark, February 2016, with
 * 8c9ff9960 "Process monitor EOF in a job"; libvirt-races.md §2 and
 * catalogue #19).
 *
 * The bug: qemuProcessStop closes the monitor and clears priv->mon. Called
 * without a job, it runs while a thread that does hold a job is between
 * EnterMonitor and ExitMonitor (the domain unlocked, the monitor locked): that
 * thread's ExitMonitor then finds priv->mon NULL, never unlocks or unrefs the
 * monitor, and the next thread to lock it (the event loop) deadlocks. In the
 * commit's interleaving the stop came from a migration thread woken by an
 * abort; the EOF handler did the same until 8c9ff9960 moved its work into a
 * job.
 *
 * The fix (core/mgmt/process.c, worker_eof): the event worker takes a
 * DESTROY job with mgmt_process_begin_stop_job_locked (kill, wake the
 * waiters, wait for the job) before mgmt_process_stop_locked, and ends it
 * after; destroy does the same. regress.patch drops the job's begin and end
 * in worker_eof and calls the stop directly, as the EOF handler did before
 * 8c9ff9960 (our EOF path runs in the worker already).
 *
 *   query thread                         event thread          event worker
 *   ------------                         ------------          ------------
 *   QUERY job, EnterMonitor
 *   [api:enter-monitor:after-unlock-dom]
 *   send query-status, wait (mon released)
 *                                        QEMU closes: eof,
 *                                        the query woken;
 *                                        on_monitor_eof:
 *                                        queue, unregister
 *                                                              [worker:eof:begin]
 *                                                              lock dom
 *                                                              [worker:eof:before-stop-job]
 *                                                              (fixed: DESTROY job:
 *                                                               waits for the query)
 *                                                              [worker:process-stop:begin]
 *                                                              dom->mon = NULL, close mon
 *                                                                (regressed: no job)
 *   relock mon, -ECONNRESET
 *   [api:exit-monitor:begin]
 *   mon = dom->mon: NULL  (regressed)
 *
 * The EOF can only come under the query's command (the fake closes instead
 * of answering query-status); the order names that path, so that a run that
 * leaves it fails as unreached. The decisive choice is the default order's:
 * when the event thread is done, the runnable threads are the worker and
 * the query, woken with its command failed, and the lower-numbered one runs:
 * the worker, created with the driver (the query runs on a thread of its own
 * for this reason; the points of the query's Enter/Exit are passed by the
 * domain's start too, so no constraint can hold the query there). On the real core the worker
 * then waits for the QUERY job, the query leaves the monitor and ends it, and
 * the worker stops the domain in its DESTROY job.
 *
 * Expected on the regressed core, in both builds: the invariant checker's
 * stop-without-job at worker:process-stop:begin, while the query is inside
 * the monitor (its command failed by the EOF, the monitor not yet relocked).
 * With the checker's reports ignored (an experiment, not part of the
 * scenario), the scripted schedule goes on to the historical symptom: the
 * query's ExitMonitor finds dom->mon NULL (libvirt left the monitor locked;
 * our ExitMonitor dereferences it). The stop cleared it before its close
 * took and released the monitor lock that the query then relocks, a
 * happens-before edge, so TSan sees no data race: TSan's build gets SEGV in
 * mgmt_inv_transit_end, ASan's UBSan's member-access-within-null-pointer in
 * mgmt_monitor_transit. The checker names the broken rule first.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <migrace/scenario.h>

#include "mgmt_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* QEMU dies under the query's command ... */
		"fmon:query-status:before-reply -> evt:io:got-eof",
		/* ... and the worker takes the EOF the handler queued, while
		 * the query has yet to relock the monitor (default order) */
		"eof:handler:queued -> worker:eof:begin",
	},
	.expect_tsan = "invariant:stop-without-job",
	.expect_asan = "invariant:stop-without-job",
);

int main(void)
{
	struct scen_mgmt m;
	struct mgmt_domain_info info;
	struct scen_mgmt_call *q;

	scen_mgmt_setup(&m);
	fmon_expect_eof(m.fm, "query-status", NULL);	/* QEMU dies under the command */
	scen_mgmt_start(&m, false);

	q = scen_mgmt_spawn(&m, SCEN_MGMT_QUERY);

	/* the query failed cleanly; the worker stopped the transient domain
	 * in its DESTROY job and removed it */
	assert(scen_mgmt_join(q) == -ECONNRESET);
	assert(strstr(q->err, "domain is no longer running"));
	assert(scen_mgmt_wait_gone(&m, &info) == -ENOENT);
	/* (not whether the worker also killed the QEMU that is gone: the
	 * regressed worker never does, whatever the schedule, and this
	 * scenario's signature is the race's) */
	assert(fmon_unused(m.fm) == 0);
	scen_mgmt_free(&m);		/* every thread joined */
	puts("stop-without-job: query failed with the EOF, domain stopped in a job");
	return 0;
}
