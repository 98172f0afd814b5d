/*
 * eof-during-monitor: the monitor's EOF handler drops the last reference to
 * the monitor while another thread is inside a monitor command (libvirt
 * d96431f91 family; libvirt-races.md §2 and §1.4, catalogue #2, #4, #21).
 *
 * The bug: a thread that holds a job enters the monitor (locks it, unlocks
 * the domain) and sends a command; QEMU dies before it answers. The event
 * thread reads EOF and runs the EOF callback, which used to tear the domain
 * down right there: close the monitor and drop the domain's reference to
 * it. Nothing else kept the monitor alive for the thread still waiting for
 * its reply, so the event thread's own last unref freed it under that
 * thread, which then woke on a freed condition variable and read freed
 * memory. In libvirt the first form of this crashed in qemuMonitorUnlock
 * after a command (79533da1b, 2009); d96431f91 (Wen Congyang, 2011) is the
 * same shape one level up: reconnect blocked in qemuMonitorSetCapabilities on
 * a SIGSTOPped QEMU, QEMU SIGKILLed, qemuHandleMonitorEOF dropped the vm's
 * last reference while the reconnect thread still used it.
 *
 * The fixes, both in our core (process.c), either one enough:
 *  - 79533da1b "Fix crash when deleting monitor while a command is in
 *    progress": EnterMonitor takes a monitor reference, ExitMonitor drops it
 *    (enter_monitor_locked / mgmt_exit_monitor);
 *  - 8c9ff9960 "Process monitor EOF in a job" (Denemark, 2016, with R7: no
 *    stop without a job): the EOF handler only queues the work to the event
 *    worker (worker_queue_domain(dom, WEV_EOF)); the worker kills, waits for
 *    a DESTROY job, i.e. until the thread inside the monitor has left, and
 *    only then closes and unrefs the monitor.
 * regress.patch reverts both, and nothing else: the reference pair in
 * Enter/ExitMonitor goes, and on_monitor_eof closes dom->mon and drops the
 * domain's reference inline (setting dom->mon to NULL, as qemuProcessStop
 * did from the EOF callback) instead of queueing. Reverting one alone shows
 * nothing: the monitor reference alone keeps the monitor alive, and the
 * queued EOF alone never frees anything before the job ends.
 *
 * The thread inside the monitor is the one that starts the domain (as in
 * d96431f91: the capabilities handshake is the first command); the fake
 * QEMU dies instead of answering it.
 *
 *   API thread (create, MODIFY job)       monitor event thread
 *   -------------------------------       --------------------
 *   lock mon; (ref mon: fix 1)
 *   [api:enter-monitor:after-ref-mon]
 *   unlock dom
 *   [api:enter-monitor:after-unlock-dom]
 *   [api:monitor-send:before-write]
 *   write qmp_capabilities, wait on
 *   mon->notify (mon unlocked)
 *                 ... QEMU dies: EOF ...
 *                                         [evt:io:got-eof]
 *                                         eof, fail the command, dispatch
 *                                         on_monitor_eof: lock dom
 *                                         [eof:handler:after-lock-dom]
 *                                         close mon, unref (the domain's)
 *                                                 (fix 2: queue to the worker)
 *                                         [eof:handler:queued]
 *                                         unref (dispatch's), unref (its own):
 *                                         the last: mon freed  (regressed)
 *   [api:monitor-send:after-wait]
 *   wakes on the freed mon->notify, reads mon->done
 *
 * Expected on the regressed core: the checker's ref-zero-while-unlocked in
 * both builds. EnterMonitor raised the monitor's transit counter, so the
 * event thread's last unref is caught before the free; ASan's
 * heap-use-after-free (the historical symptom) would come after it, in the
 * API thread, but the run ends at the first violation.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <migrace/migrace.h>
#include <migrace/scenario.h>

#include "domain.h"
#include "error.h"
#include "fake_monitor.h"
#include "mem_channel.h"
#include "process.h"

MIGRACE_SCENARIO(
	.order = {
		/* QEMU dies with the command in flight ... */
		"api:monitor-send:before-write -> evt:io:got-eof",
		/* ... and the command's thread stays inside the monitor until
		 * the EOF handler has done its part */
		"eof:handler:queued -> api:monitor-send:after-wait",
	},
	.expect_tsan = "invariant:ref-zero-while-unlocked",
	.expect_asan = "invariant:ref-zero-while-unlocked",
);

int main(void)
{
	struct mgmt_driver drv;
	struct mgmt_domain_info info;
	struct fmon_qemu q = { 0 };
	struct fmon *fm;
	int ret;

	mem_channel_register();
	fm = fmon_new("vm");
	assert(fm);
	assert(fmon_expect_eof(fm, "qmp_capabilities", NULL) == 0);	/* dies instead */
	assert(fmon_qemu_add(&q, "vm", fm) == 0);
	migrace_fork_here();	/* the fake QEMU is no part of the race */
	assert(mgmt_driver_init(&drv, "drv", &fmon_qemu_ops, &q) == 0);

	ret = mgmt_domain_create(&drv, "vm", true);
	mgmt_worker_flush(&drv);	/* the queued EOF has run */

	/* the command failed, the domain was stopped once, in a job, and
	 * nothing is left held */
	assert(ret == -ECONNRESET);
	assert(strstr(mgmt_last_error(), "no longer running"));
	assert(mgmt_domain_get_info(&drv, "vm", &info) == 0);
	assert(!info.active);
	assert(info.job == MGMT_JOB_NONE && info.async == MGMT_ASYNC_NONE);
	assert(fmon_nreceived(fm) == 1 && fmon_unused(fm) == 0);

	mgmt_driver_destroy(&drv);
	fmon_free(fm);
	MIGRACE_CHECK_THREADS_JOINED();
	puts("eof-during-monitor: command failed, monitor alive until the stop in a job");
	return 0;
}
