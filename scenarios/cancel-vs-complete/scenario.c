/*
 * cancel-vs-complete: migrate_cancel wins over a completion whose final
 * stream already went out, so the guest ends running on both sides.
 *
 * Where it comes from: the end of precopy is the one moment where a cancel
 * cannot be honoured any more. QEMU's migration_cancel() sets CANCELLING from
 * any running state, the device state included, and
 * migration_iteration_finish() then resumes the source's guest; QEMU stays
 * safe only because its destination does not start the guest on its own
 * (libvirt starts it paused, -S, and resumes it in Finish only when the
 * source did not cancel: the Finish/Confirm `cancelled` flag, libvirt-races.md
 * §3). There is no single upstream commit to point at: this is the split-brain
 * window the management protocol closes. Our core's destination starts the
 * guest as soon as it loaded SEC_EOF (incoming.c, mig_incoming_complete), so
 * the source must not be cancellable once it sends the final pass.
 *
 * The fix (our core's design, migration.c): qmp_migrate_cancel() refuses with
 * -EBUSY once the state is device, i.e. once the guest is stopped for the
 * final pass: from then on only the stream decides. The CAS state machine
 * (migrate_set_state) makes completion and cancel exclusive, and
 * migration_iteration_finish() resumes the guest only on the failure path,
 * once (vm_stopped). regress.patch lets the cancel in again in the device
 * state, the form QEMU's migration_cancel() has.
 *
 * The main thread plays the management layer: it cancels once it sees the
 * guest stop (a state notifier posts a semaphore), so it takes the BQL only
 * after the migration thread's vm_stop gave it back and never holds it while
 * the migration thread needs it. One constraint then pins the bad window:
 * the cancel's state check (main:cancel:check-state, added to the core for
 * this scenario, before the decision in qmp_migrate_cancel) comes after the
 * destination loaded the whole stream. A cancel during the stream (active,
 * even with the guest already stopped) stays legal and ends cancelled on both
 * sides; the real core's random and PCT runs go through all three answers
 * (0, -EBUSY, and -EINVAL once completed), and the checks accept each.
 *
 *   main thread (BQL; the management's cancel)   migration thread / destination
 *   ------------------------------------------   ------------------------------
 *   qmp_migrate, bql_unlock                      mig: iterates, then stops the
 *   sem_wait (the STOP event)                         guest under the BQL; the
 *                                                     notifier posts the STOP
 *   bql_lock                                     [mig:completion:vm-stopped]
 *   qmp_migrate_cancel                           mig: active -> device, sends
 *   [main:cancel:check-state]  (waits ...)            the rest, device state, EOF
 *                                                [mig:completion:check-rp]
 *                                                     joins the rp thread
 *                                                dst: loads EOF: completed
 *                                                [dst:load:got-eof]
 *                                                dst: RP_SHUT 0, vm_start: the
 *                                                     guest runs on the destination
 *   state device: -EBUSY             (fixed)
 *   device -> cancelling       (regressed)
 *   shuts both files down                        rp: the read fails, exits
 *   bql_unlock                                   mig: finish: device -> completed
 *                                                     fails (cancelling):
 *                                                     vm_resume: the guest runs
 *                                                     on the source too
 *   cleanup BH: cancelling -> cancelled
 *
 * Expected on the regressed core, in both builds: no sanitizer sees anything
 * (every access is atomic or locked; the bug is a decision, not a data race),
 * so the scenario's end-state check reports it: the guest runs on both sides
 * (invariant:guest-on-both-sides). The source still resumes only once: the
 * vm_stopped guard is not part of this fix, so "resumed twice" stays checked
 * but is not what the regressed core shows.
 */
#include <assert.h>
#include <errno.h>
#include <semaphore.h>
#include <stdio.h>

#include <migrace/scenario.h>

#include "mig_setup.h"

MIGRACE_SCENARIO(
	.order = {
		/* the cancel is decided only once the destination has the whole
		 * stream and starts the guest */
		"dst:load:got-eof -> main:cancel:check-state",
	},
	.expect_tsan = "invariant:guest-on-both-sides",
	.expect_asan = "invariant:guest-on-both-sides",
);

/* Posted when the source's guest stops: the STOP event a management layer
 * reacts to. Lets the main thread take the BQL for the cancel only after the
 * migration thread's vm_stop released it. */
static sem_t guest_stopped;

static void on_source_state(void *opaque, bool running, RunState state)
{
	(void)opaque;
	if (!running && state == RUN_STATE_FINISH_MIGRATE)
		sem_post(&guest_stopped);
}

int main(void)
{
	struct scen_mig m;

	/* setup: return path on, so the destination's SHUT 0 confirms the load */
	assert(sem_init(&guest_stopped, 0, 0) == 0);
	scen_mig_setup(&m, &(struct scen_mig_opts){ .return_path = true });
	assert(vm_state_add_notifier(&m.vm, on_source_state, NULL));

	/* the action: migrate; cancel once the guest stopped for the final pass */
	assert(qmp_migrate(SCEN_URI, &m.params) == 0);
	bql_unlock();
	sem_wait(&guest_stopped);
	bql_lock();
	int cancel_ret = qmp_migrate_cancel();
	MigrationStatus st = scen_mig_wait_end(&m);
	scen_mig_shutdown(&m);

	/* the guest runs on exactly one side */
	bool src_running = runstate_is_running(&m.vm), dst_running = runstate_is_running(&m.dst_vm);
	if (src_running && dst_running)
		MIGRACE_INVARIANT("guest-on-both-sides",
				  "source %s (cancel returned %d, %llu starts), destination started %llu times",
				  migration_status_name(st), cancel_ret,
				  (unsigned long long)vm_start_count(&m.vm),
				  (unsigned long long)vm_start_count(&m.dst_vm));
	if (!src_running && !dst_running)
		MIGRACE_INVARIANT("guest-on-no-side", "source %s, source runstate %s, destination result %d",
				  migration_status_name(st), runstate_name(runstate_get(&m.vm)), m.dst_result);

	/* both sides agree: completed <=> the destination started the guest */
	bool dst_started = m.dst_result == 0 && vm_start_count(&m.dst_vm) > 0;
	if (!((st == MIGRATION_STATUS_COMPLETED && dst_started) ||
	      (st == MIGRATION_STATUS_CANCELLED && !dst_started)))
		MIGRACE_INVARIANT("source-destination-disagree",
				  "source %s (cancel returned %d), destination result %d, started %llu times",
				  migration_status_name(st), cancel_ret, m.dst_result,
				  (unsigned long long)vm_start_count(&m.dst_vm));
	/* a refused cancel is refused because the migration is past the point */
	if (cancel_ret == -EBUSY && st != MIGRATION_STATUS_COMPLETED)
		MIGRACE_INVARIANT("refused-cancel-not-completed", "cancel -EBUSY, source %s",
				  migration_status_name(st));

	/* the source's guest resumed at most once, the destination's started once at most */
	if (vm_start_count(&m.vm) > 1 || vm_start_count(&m.dst_vm) > 1)
		MIGRACE_INVARIANT("guest-resumed-twice", "source %llu starts, destination %llu",
				  (unsigned long long)vm_start_count(&m.vm),
				  (unsigned long long)vm_start_count(&m.dst_vm));
	if (st == MIGRATION_STATUS_COMPLETED)
		assert(runstate_get(&m.vm) == RUN_STATE_POSTMIGRATE);

	scen_mig_free(&m);                /* every thread joined */
	sem_destroy(&guest_stopped);
	printf("cancel-vs-complete: %s, cancel returned %d, guest on the %s\n", migration_status_name(st),
	       cancel_ret, dst_running ? "destination" : "source");
	return 0;
}
