/*
 * postcopy-requests-in-flight: at the end of postcopy the destination shuts
 * its postcopy channel while a page it requested is still on its way (QEMU
 * cf02f29e1e38, "migration: Fix race that dest preempt thread close too
 * early", Peter Xu, Sep 2023, debugged by Fabiano Rosas; GitLab #1886).
 *
 * The bug: in postcopy the destination's vCPUs fault on missing pages and
 * ask the source for them over the return path; the source answers on the
 * postcopy channel (QEMU's preempt channel), apart from the background pages
 * of the main stream. When the main stream reached its end, the destination
 * told its postcopy-channel thread to quit and shut the channel down at
 * once. But a page can be requested, taken out of the source's bitmap (so
 * the main stream never carries it) and still be on its way when the main
 * stream ends: that page never arrives. In QEMU's migration-test
 * (preempt/plain): "Unable to read from socket: Connection reset by peer"
 * and "Memory content inconsistency".
 *
 * The fix: the destination waits until no requested page is in flight (its
 * count of requested, unplaced pages is zero) before it shuts the channel;
 * a condition variable instead of a spin. Ours: mig_incoming_postcopy_drain()
 * waits in postcopy_ram_wait_requests(); regress.patch removes that wait.
 *
 *   dest load thread        dest "vCPU" (the scenario)   source rp thread        source migration thread
 *   ----------------        --------------------------   ----------------        -----------------------
 *   SEC_POSTCOPY_RUN:
 *   the guest runs          touches the last page:
 *                           missing, RP_REQ_PAGE -->     takes it out of the
 *                           waits for it                 bitmap
 *                                                        [rp:req-page:taken]
 *                                                                                [mig:postcopy:run-sent]
 *                                                                                every other page, SEC_EOF
 *   [dst:postcopy:got-eof]
 *   no wait      (regressed)
 *   shuts the postcopy channel
 *                                                        [rp:req-page:before-send]
 *                                                        the page: -EPIPE
 *   postcopy ends: the page never came; SHUT 0, completed
 *                           wakes with the page's old bytes
 *
 * Checks: the destination completes with every page as the source had it
 * when it stopped (the digest of the pages as they arrived equals the
 * source's), then the source completes, the guest started once there.
 *
 * Expected on the regressed core, in both builds: the assertion on the
 * digest (the missing page has no arrival), like QEMU's "Memory content
 * inconsistency".
 */
#include <assert.h>
#include <stdio.h>
#include <time.h>

#include <migrace/scenario.h>

#include "mig_setup.h"
#include "postcopy_ram.h"

MIGRACE_SCENARIO(
	.order = {
		/* a requested page is taken before the background starts ... */
		"rp:req-page:taken -> mig:postcopy:run-sent",
		/* ... and goes out only once the destination has the end of the stream */
		"dst:postcopy:got-eof -> rp:req-page:before-send",
	},
	.expect_tsan = "assert:dst_pages_as_arrived == src_pages_at_stop",
	.expect_asan = "assert:dst_pages_as_arrived == src_pages_at_stop",
);

/* The destination's vCPU, played by the scenario: once the guest runs there,
 * touch the last page (every page is missing: postcopy began before the
 * first one went out). */
static void *guest_vcpu(void *arg)
{
	struct scen_mig *m = arg;
	const struct timespec tick = { 0, 1000000L };

	for (;;) {
		enum mig_incoming_state st = mig_incoming_get_state(&m->inc);
		if (st == MIG_INCOMING_POSTCOPY_ACTIVE)
			break;
		if (st == MIG_INCOMING_COMPLETED || st == MIG_INCOMING_FAILED)
			return NULL;
		nanosleep(&tick, NULL);
	}
	ram_guest_touch(&m->dst_ram, m->dst_ram.npages - 1);
	return NULL;
}

int main(void)
{
	const struct timespec tick = { 0, 1000000L };
	struct scen_mig m;
	pthread_t vcpu;

	scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true, .postcopy = true, .dst_no_vcpu = true });
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	assert(qmp_migrate_start_postcopy() == 0);     /* before the first page: all missing */
	assert(pthread_create(&vcpu, NULL, guest_vcpu, &m) == 0);

	/* the destination's end, the main loop running meanwhile */
	enum mig_incoming_state dst;
	while ((dst = mig_incoming_get_state(&m.inc)) != MIG_INCOMING_COMPLETED && dst != MIG_INCOMING_FAILED) {
		main_loop_wait(1);
		nanosleep(&tick, NULL);
	}
	assert(dst == MIG_INCOMING_COMPLETED);
	/* the source's guest is stopped since the switch (or, on a schedule where
	 * the last pass had begun its completion before migrate-start-postcopy,
	 * since the precopy completion: then the destination hashed it whole) */
	uint64_t src_pages_at_stop = m.inc.postcopy ? ram_pages_digest(&m.ram) : ram_hash(&m.ram);
	uint64_t dst_pages_as_arrived = mig_incoming_loaded_hash(&m.inc);
	assert(dst_pages_as_arrived == src_pages_at_stop);

	MigrationStatus st = scen_mig_wait_end(&m);
	assert(st == MIGRATION_STATUS_COMPLETED);
	assert(runstate_get(&m.vm) == RUN_STATE_POSTMIGRATE);
	assert(pthread_join(vcpu, NULL) == 0);
	scen_mig_shutdown(&m);
	assert(m.dst_result == 0);
	assert(vm_start_count(&m.dst_vm) == 1);
	scen_mig_free(&m);                /* every thread joined */
	puts("postcopy-requests-in-flight: completed, the requested page arrived");
	return 0;
}
