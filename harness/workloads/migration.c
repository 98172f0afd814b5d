/*
 * Workload `migration`: the migration core's whole public surface at random,
 * source and destination in one process over the in-memory channel fake.
 * Every choice is a migrace_choose, so a run replays and minimizes.
 *
 * What it drives:
 *   - the destination, chosen once: the real incoming side (mig_incoming,
 *     half of the runs: postcopy needs it), a cpr-transfer target
 *     (cpr_transfer_load, then the stream), or the fake destination
 *     (fakes/fake_dest.h) with up to two random rules: stall, close,
 *     shutdown, RP_SHUT with an error, a bad return-path message;
 *   - CLIENTS client threads, each issuing 1..3 operations at random moments
 *     (the first client's first one mostly a migrate, as a management layer
 *     starts with it), under the BQL as QMP does: migrate (multifd 0..2
 *     channels, return path on/off, bandwidth, downtime, iterations, the
 *     postcopy capability, two times in three with the real destination;
 *     cpr-transfer with the cpr target, precopy otherwise; a new one only
 *     while none has started or one runs, as the destination takes one
 *     stream), migrate-start-postcopy, migrate-pause (the source's, or the
 *     real destination's), recovery (once both sides are paused:
 *     `migrate resume` on the source, then migrate-recover on the real
 *     destination with the channel it accepted), cancel, query, yank, a
 *     device error through migration_file_set_error, the exported helpers
 *     (migration_is_active/is_running/thread_is_self, without the BQL),
 *     and shutdown (a request the main thread carries out at its next
 *     main-loop round, as QEMU's main loop does);
 *   - a real destination releases its incoming state once its load ended
 *     (QEMU's incoming side closes its channels then); one that fails (or a
 *     fake that ends) releases its listeners too, as its process's exit
 *     would; once the clients are done
 *     the main thread releases a stalled fake and, after a while, cancels,
 *     yanks a recovery that hangs and shuts down a postcopy left paused, as
 *     a management layer does with a migration that does not end; a real
 *     destination that went into postcopy is cancelled at the end (a paused
 *     one waits for a recovery that will not come);
 *   - the core's fault points on the channels fail at random (the hunt runs
 *     it with MIGRACE_FAULTS=random:P, workloads.def); the destination's
 *     guest touches its pages from the last one down once it starts there,
 *     so in postcopy it faults on missing pages and requests them (see
 *     dst_guest).
 *
 * What it checks (MIGRACE_INVARIANT: a broken one is the signature):
 *   - after every operation: the guest runs on at most one side, never on
 *     both, and in postcopy (active, paused, recover) not on the source; a
 *     migration is refused (-EBUSY) while another runs, a postcopy one
 *     without the return path or with multifd or cpr (-EINVAL); a resume
 *     is refused unless postcopy is paused, migrate-start-postcopy unless
 *     the migration has the capability;
 *   - cpr-transfer: the target never finds the device still owned by the
 *     source (the source stops and releases it before sending the handles),
 *     unless the source's handoff failed and it took the device back;
 *   - every state change (a notifier): it starts from the state the last
 *     one ended in, and nothing follows completed (an invalid transition
 *     itself aborts in migrate_set_state: signal:SIGABRT);
 *   - at the end: the migration ended (a run that does not is a hang, a
 *     deadlock or invariant:migration-ended); completed means the guest started
 *     once on the destination with the source's memory, the source stopped;
 *     otherwise the guest runs on the source, resumed once per stop, and
 *     never started on the destination (cpr-transfer: or stays stopped when
 *     the target kept the device; no return path: the guest may be lost
 *     when the destination fails after the source completed, QEMU's known
 *     limit without that capability); a migration that went into postcopy
 *     never resumes the source (stopped once, started never), completed means
 *     the pages as they arrived are the source's (ram_pages_digest) and the
 *     guest started once there, failed that it started there at most once;
 *     a destination that completed postcopy has every page as the source had
 *     it at its stop (postcopy-page-lost: one never arrived; memory-migrated),
 *     whatever the source heard (its return path may break after that end);
 *     every thread joined; in the asan build LSan finds nothing left.
 * MIGRATION_WORKLOAD_DEBUG=1 prints each migrate's parameters and result
 * on stderr.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <migrace/migrace.h>

#include "channel.h"
#include "cpr.h"
#include "device.h"
#include "fake_dest.h"
#include "incoming.h"
#include "main_loop.h"
#include "mem_channel.h"
#include "migration.h"
#include "postcopy_ram.h"

#define PAGES 8
#define CLIENTS 2
#define MIG_URI "mem:migration"
#define CPR_URI "mem:cpr"

enum dest_kind { DEST_REAL, DEST_CPR, DEST_FAKE };

static struct guest_ram ram, dst_ram;
static struct vm vm, dst_vm;
static struct vdev dev, dst_dev;
static struct mig_incoming inc;
static struct channel_listener *listener, *cpr_listener;
static struct fake_dest *fdest;
static enum dest_kind dest;
static atomic_bool dst_ready;        /* the destination's guest exists (set by its thread) */
static bool dst_ram_ok, dst_dev_ok;  /* written by the destination thread, read after the join */
static int dst_result = 1;           /* idem */
static bool dst_cleaned;             /* idem: the destination released its incoming state */
static bool dst_postcopy;            /* idem: its load went into postcopy */
static pthread_mutex_t inc_lock = PTHREAD_MUTEX_INITIALIZER;
static bool inc_live;                /* inc_lock: between mig_incoming_init and a cleanup (the
                                        clients' pause and recover, the end's cancel use inc) */
static bool inc_ended;               /* inc_lock: its load ended and it was released */
static pthread_mutex_t listener_lock = PTHREAD_MUTEX_INITIALIZER;
static bool listener_closed;         /* listener_lock */
static bool cpr_closed;              /* listener_lock */
static atomic_bool shutdown_asked, shutdown_done;
static atomic_int clients_left = CLIENTS;
static bool started_rp;              /* BQL: the return path of the last migration that started */
static bool started_postcopy;        /* BQL: its postcopy capability */
static bool cpr_handoff_failed;      /* BQL: a cpr-transfer failed in its handoff (the source may have
                                        taken the device back while the target took it) */
static bool outcome_unknown;         /* main thread: the core kept the guest stopped, the end of the
                                        stream out and no answer (mig_info), or a shutdown came
                                        before the end (then query cannot tell) */

/* The state changes, as the notifier saw them (states_lock). */
static pthread_mutex_t states_lock = PTHREAD_MUTEX_INITIALIZER;
static MigrationStatus last_state = MIGRATION_STATUS_NONE;
static bool went_postcopy;           /* states_lock: postcopy-active was reached */

static uint64_t postcopy_pauses;     /* states_lock */

static void on_state(void *opaque, MigrationStatus old, MigrationStatus new_state)
{
	(void)opaque;
	pthread_mutex_lock(&states_lock);
	if (new_state == MIGRATION_STATUS_POSTCOPY_PAUSED)
		postcopy_pauses++;
	if (old != last_state)
		MIGRACE_INVARIANT("state-sequence", "a change %s -> %s, but the last change ended in %s",
				  migration_status_name(old), migration_status_name(new_state),
				  migration_status_name(last_state));
	if (last_state == MIGRATION_STATUS_COMPLETED)
		MIGRACE_INVARIANT("completed-is-final", "completed, then %s", migration_status_name(new_state));
	last_state = new_state;
	if (new_state == MIGRATION_STATUS_POSTCOPY_ACTIVE)
		went_postcopy = true;
	pthread_mutex_unlock(&states_lock);
}

static bool in_postcopy(MigrationStatus st)
{
	return st == MIGRATION_STATUS_POSTCOPY_ACTIVE || st == MIGRATION_STATUS_POSTCOPY_PAUSED ||
	       st == MIGRATION_STATUS_POSTCOPY_RECOVER;
}

/* The guest never runs on both sides (the BQL held: the source's runstate
 * is stable; the destination's is read under its lock once it exists). The
 * name says whether a cancel was involved: a cancel that lets the source
 * resume after the destination took over is another bug than a failure. */
static void check_one_side(const char *after)
{
	struct mig_info info = { 0 };

	if (!runstate_is_running(&vm))
		return;
	if (qmp_query_migrate(&info) == 0 && in_postcopy(info.status))
		MIGRACE_INVARIANT("postcopy-source-runs", "after %s the source runs the guest in %s", after,
				  migration_status_name(info.status));
	if (!atomic_load(&dst_ready) || !runstate_is_running(&dst_vm))
		return;
	if (info.status == MIGRATION_STATUS_CANCELLING || info.status == MIGRATION_STATUS_CANCELLED)
		MIGRACE_INVARIANT("cancelled-guest-on-both-sides", "after %s the guest runs on both sides (%s)", after,
				  migration_status_name(info.status));
	MIGRACE_INVARIANT("guest-on-one-side", "after %s the guest runs on both sides (%s)", after,
			  migration_status_name(info.status));
}

/* The listener goes away with a failed destination, as with its process:
 * connections it never accepted see EOF. */
/* A cpr-transfer target takes the handles once: then its cpr channel's
 * listener is gone, and a second cpr-transfer finds nobody. */
static void close_cpr_listener(void)
{
	pthread_mutex_lock(&listener_lock);
	if (cpr_listener && !cpr_closed)
		channel_listener_close(cpr_listener);
	cpr_closed = true;
	pthread_mutex_unlock(&listener_lock);
}

static void close_listener(void)
{
	close_cpr_listener();
	pthread_mutex_lock(&listener_lock);
	if (!listener_closed)
		channel_listener_close(listener);
	listener_closed = true;
	pthread_mutex_unlock(&listener_lock);
}

static void shutdown_listener(void)
{
	pthread_mutex_lock(&listener_lock);
	if (!listener_closed)
		channel_listener_shutdown(listener);
	if (cpr_listener && !cpr_closed)
		channel_listener_shutdown(cpr_listener);
	pthread_mutex_unlock(&listener_lock);
}

/*
 * The destination's guest: no vCPU thread there (one spins through every
 * virtual millisecond of the run, steps that make PCT's k, a run's length,
 * large and its change points rare where the migration happens), but a
 * thread that, once the guest starts there (in postcopy before all of its
 * memory came), touches dst_guest_touches pages from the last one down, the
 * ones postcopy's background sends last: each one still missing is a page
 * request, one after the other, kept in flight while the background goes on
 * (QEMU cf02f29e1e38's race needs one at the end of the main stream). It
 * waits on the start (a state notifier), not in a poll: a sleeping thread
 * would only wake once the background is done.
 */
static pthread_mutex_t guest_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guest_cond = PTHREAD_COND_INITIALIZER;
static bool guest_started, guest_quit;   /* guest_lock */
static unsigned dst_guest_touches;       /* chosen in main: 1..PAGES */

static void dst_guest_started(void *opaque, bool running, RunState state)
{
	(void)opaque;
	(void)state;
	if (!running)
		return;
	pthread_mutex_lock(&guest_lock);
	guest_started = true;
	pthread_cond_broadcast(&guest_cond);
	pthread_mutex_unlock(&guest_lock);
}

static void *dst_guest(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&guest_lock);
	while (!guest_started && !guest_quit)
		pthread_cond_wait(&guest_cond, &guest_lock);
	bool go = guest_started;
	pthread_mutex_unlock(&guest_lock);
	for (unsigned i = 0; go && i < dst_guest_touches; i++)
		ram_guest_touch(&dst_ram, PAGES - 1 - i);
	return NULL;
}

/* The destination process: the handles first for cpr-transfer, then the
 * stream. A destination that fails releases its channels and its listener
 * at once, as its exit would, so that the source sees the end of the stream. */
static void *destination(void *arg)
{
	struct channel *ch;

	(void)arg;
	if (dest == DEST_CPR) {
		dst_result = cpr_transfer_load(cpr_listener, PAGES * RAM_PAGE_SIZE, &dst_ram, &dst_dev);
		close_cpr_listener();
		if (dst_result) {
			close_listener();
			return NULL;
		}
		dst_dev_ok = true;
	} else if (ram_init(&dst_ram, PAGES * RAM_PAGE_SIZE)) {
		dst_result = -ENOMEM;
		close_listener();
		return NULL;
	}
	dst_ram_ok = true;
	if (vm_init(&dst_vm, &dst_ram, 0, 2, RUN_STATE_INMIGRATE)) {
		dst_result = -ENOMEM;
		close_listener();
		return NULL;
	}
	if (mig_incoming_init(&inc, &dst_vm, &dst_ram)) {
		vm_destroy(&dst_vm);
		dst_result = -ENOMEM;
		close_listener();
		return NULL;
	}
	pthread_mutex_lock(&inc_lock);
	inc_live = true;
	pthread_mutex_unlock(&inc_lock);
	atomic_store(&dst_ready, true);
	dst_result = channel_accept(listener, &ch);
	if (dst_result) {
		close_listener();
		return NULL;
	}
	mig_incoming_set_listener(&inc, listener);
	struct vm_notifier *vn = vm_state_add_notifier(&dst_vm, dst_guest_started, NULL);
	pthread_t guest;
	bool guest_thread = vn && pthread_create(&guest, NULL, dst_guest, NULL) == 0;
	mig_incoming_start(&inc, ch);
	dst_result = mig_incoming_wait(&inc);
	channel_unref(ch);
	if (guest_thread) {
		/* its touches end with postcopy at the latest (the load ended it) */
		pthread_mutex_lock(&guest_lock);
		guest_quit = true;
		pthread_cond_broadcast(&guest_cond);
		pthread_mutex_unlock(&guest_lock);
		pthread_join(guest, NULL);
	}
	if (vn)
		vm_state_remove_notifier(&dst_vm, vn);
	/* done with the stream either way, as QEMU's incoming side is once
	 * the load ends: its channels close (a source still reading the
	 * return path sees EOF) */
	dst_postcopy = inc.postcopy != NULL;
	pthread_mutex_lock(&inc_lock);
	inc_live = false;
	inc_ended = true;
	pthread_mutex_unlock(&inc_lock);
	mig_incoming_cleanup(&inc);
	dst_cleaned = true;
	if (dst_result)
		close_listener();
	return NULL;
}

static const enum fake_dest_do fake_actions[] = { FDD_STALL, FDD_CLOSE, FDD_SHUTDOWN, FDD_ERROR, FDD_BAD_MESSAGE };

static int start_fake(void)
{
	struct fake_dest_rule rules[2];
	int n = (int)migrace_choose(3);

	for (int i = 0; i < n; i++) {
		rules[i].at = (enum fake_dest_at)migrace_choose(FDA_COUNT);
		rules[i].n = 1 + migrace_choose(3);
		rules[i].action = fake_actions[migrace_choose(sizeof(fake_actions) / sizeof(fake_actions[0]))];
		if (rules[i].at == FDA_EOF && migrace_choose(2))
			rules[i].action = FDD_NO_SHUT;
		rules[i].err = EIO;
	}
	fdest = fake_dest_new(rules, n);
	return fdest ? fake_dest_start_listener(fdest, listener) : -ENOMEM;
}

/* ---- the operations: each runs with the BQL held ---- */

static void op_migrate(void)
{
	static const uint64_t bandwidths[] = { 0, 256 * 1024, 1024 * 1024 };   /* 8 pages: 125 ms a pass at most (the vCPUs spin meanwhile: steps) */
	static const uint64_t downtimes[] = { 1, 300, 100000 };
	struct mig_params p = {
		.multifd_channels = (int)migrace_choose(3),
		.return_path = migrace_choose(2),
		.max_bandwidth = bandwidths[migrace_choose(3)],
		.downtime_limit_ms = downtimes[migrace_choose(3)],
		.max_iterations = 1 + migrace_choose(4),
		.cpr_uri = dest == DEST_CPR ? CPR_URI : NULL,   /* the mode goes with the destination */
		/* postcopy, its pause and recovery need the real destination:
		 * with it, mostly postcopy */
		.postcopy = dest == DEST_REAL ? migrace_choose(3) != 0 : migrace_choose(2) != 0,
	};
	struct mig_info info = { 0 };

	/* mostly a postcopy the core accepts (return path, no multifd); else
	 * one it must refuse */
	if (p.postcopy && migrace_choose(4)) {
		p.return_path = true;
		p.multifd_channels = 0;
	}
	bool invalid = p.postcopy && (!p.return_path || p.multifd_channels || p.cpr_uri);

	/* one migration per run: a second connect would find no destination */
	if (qmp_query_migrate(&info) == 0 && info.status != MIGRATION_STATUS_NONE && !migration_is_running())
		return;
	bool running = migration_is_running();
	int ret = qmp_migrate(MIG_URI, &p);
	if (getenv("MIGRATION_WORKLOAD_DEBUG"))
		fprintf(stderr, "migrate: multifd %d, return path %d, bandwidth %lu, downtime %lu, iterations %u%s%s: %d\n",
			p.multifd_channels, p.return_path, (unsigned long)p.max_bandwidth,
			(unsigned long)p.downtime_limit_ms, p.max_iterations, p.cpr_uri ? ", cpr" : "",
			p.postcopy ? ", postcopy" : "", ret);
	if (ret == 0) {
		started_rp = p.return_path;
		started_postcopy = p.postcopy;
		/* a client that switches at once, before the first pass ends
		 * (8 pages go fast: a later switch mostly finds it completed) */
		if (p.postcopy && migrace_choose(4) && qmp_migrate_start_postcopy())
			MIGRACE_INVARIANT("postcopy-refused", "migrate-start-postcopy refused right after the migrate");
	}
	if (!running && invalid && ret != -EINVAL && ret != -EBUSY && ret != -ESHUTDOWN)
		MIGRACE_INVARIANT("postcopy-refused", "migrate with postcopy, return path %d, multifd %d%s gave %d, "
				  "not -EINVAL", p.return_path, p.multifd_channels, p.cpr_uri ? ", cpr" : "", ret);
	if (ret && p.cpr_uri && qmp_query_migrate(&info) == 0 && strstr(info.error_desc, "cpr-transfer"))
		cpr_handoff_failed = true;
	if (running && ret != -EBUSY && ret != -ESHUTDOWN)
		MIGRACE_INVARIANT("migrate-busy", "a second migrate while one runs gave %d, not -EBUSY", ret);
}

static void op_cancel(void) { qmp_migrate_cancel(); }

/* migrate-start-postcopy: accepted only for a migration with the capability
 * (its state, setup or active, may change meanwhile: only that is checked) */
static void op_postcopy(void)
{
	int ret = qmp_migrate_start_postcopy();
	if (ret == 0 && !started_postcopy)
		MIGRACE_INVARIANT("postcopy-refused", "migrate-start-postcopy accepted without the capability");
}

/* migrate-pause, QEMU's out-of-band command (no BQL): the source's, or the
 * real destination's (either shuts the channel down, both sides pause) */
static void op_pause(void)
{
	if (migrace_choose(2) && dest == DEST_REAL) {
		pthread_mutex_lock(&inc_lock);
		if (inc_live)
			mig_incoming_pause(&inc);
		pthread_mutex_unlock(&inc_lock);
	} else
		qmp_migrate_pause();
}

/* The real destination's state, or none when it is gone. */
static enum mig_incoming_state dst_state(void)
{
	enum mig_incoming_state st = MIG_INCOMING_NONE;

	pthread_mutex_lock(&inc_lock);
	if (inc_live)
		st = mig_incoming_get_state(&inc);
	pthread_mutex_unlock(&inc_lock);
	return st;
}

/*
 * Recovery, as a management layer does it once both sides are paused:
 * `migrate resume=true` on the source (a new main channel), then
 * migrate-recover on the destination with the channel it accepted (the new
 * postcopy channel comes on the same listener). A resume in another state
 * is refused. With the fake destination only the source's half.
 */
static void op_recover(void)
{
	struct mig_params p = { .resume = true };
	struct mig_info info = { 0 };
	struct channel *ch;

	qmp_query_migrate(&info);
	bool paused = info.status == MIGRATION_STATUS_POSTCOPY_PAUSED;
	if (paused && dest == DEST_REAL && dst_state() != MIG_INCOMING_POSTCOPY_PAUSED)
		return;     /* the destination has not paused (yet): nothing to recover there */
	int ret = qmp_migrate(MIG_URI, &p);
	/* (from postcopy-active the migration thread may pause meanwhile) */
	if (!in_postcopy(info.status) && ret != -EINVAL && ret != -ESHUTDOWN)
		MIGRACE_INVARIANT("resume-refused", "migrate resume in %s gave %d, not -EINVAL",
				  migration_status_name(info.status), ret);
	if (ret || dest != DEST_REAL)
		return;
	/* the source's connection is queued: the accept does not wait */
	pthread_mutex_lock(&listener_lock);
	ret = listener_closed ? -ECONNREFUSED : channel_accept(listener, &ch);
	pthread_mutex_unlock(&listener_lock);
	if (ret)
		return;
	pthread_mutex_lock(&inc_lock);
	ret = inc_live ? mig_incoming_recover(&inc, ch, listener) : -ENOENT;
	pthread_mutex_unlock(&inc_lock);
	if (ret)
		channel_close(ch);  /* the destination gave up meanwhile: the source sees EOF */
	channel_unref(ch);
}

static void op_query(void)
{
	struct mig_info info;
	if (qmp_query_migrate(&info) == 0 && info.status >= MIGRATION_STATUS_COUNT)
		MIGRACE_INVARIANT("query-status", "query gave status %d", (int)info.status);
}

static void op_yank(void) { qmp_yank_migration(); }
static void op_device_error(void) { migration_file_set_error(-EIO); }

/* Without the BQL the state may change between two calls: nothing to
 * compare, but they must be safe at any moment (before, during and after
 * shutdown), and a client is never the migration thread. */
static void op_helpers(void)
{
	(void)migration_is_active();
	(void)migration_is_running();
	if (migration_thread_is_self())
		MIGRACE_INVARIANT("thread-is-self", "a client thread is taken for the migration thread");
}

static void op_shutdown(void) { atomic_store(&shutdown_asked, true); }

/* The operation table (pause without the BQL, as QEMU's out-of-band
 * command; the others under it). */
static const struct {
	const char *name;
	void (*fn)(void);
} OPS[] = {
	{ "migrate", op_migrate },
	{ "migrate", op_migrate },
	{ "cancel", op_cancel },
	{ "query", op_query },
	{ "yank", op_yank },
	{ "device-error", op_device_error },
	{ "helpers", op_helpers },
	{ "shutdown", op_shutdown },
	{ "migrate-start-postcopy", op_postcopy },
	{ "migrate-start-postcopy", op_postcopy },
	{ "migrate-pause", op_pause },
	{ "recover", op_recover },
	{ "recover", op_recover },
};
#define NOPS (sizeof(OPS) / sizeof(OPS[0]))

static void *client(void *arg)
{
	unsigned n = 1 + migrace_choose(3);
	/* the first client mostly migrates first, as a management layer does */
	bool migrate_first = (intptr_t)arg == 0 && migrace_choose(4);

	for (unsigned i = 0; i < n; i++) {
		unsigned k = i == 0 && migrate_first ? 0 : migrace_choose(NOPS);
		bool helper = OPS[k].fn == op_device_error || OPS[k].fn == op_helpers || OPS[k].fn == op_pause;
		if (!helper)        /* the exported helpers are for any thread, without the BQL */
			bql_lock();
		OPS[k].fn();
		if (getenv("MIGRATION_WORKLOAD_DEBUG"))
			fprintf(stderr, "op %s\n", OPS[k].name);
		if (!helper) {
			check_one_side(OPS[k].name);
			bql_unlock();
		}
	}
	atomic_fetch_sub(&clients_left, 1);
	return NULL;
}

static bool ended(MigrationStatus st)
{
	return st == MIGRATION_STATUS_NONE || st == MIGRATION_STATUS_COMPLETED || st == MIGRATION_STATUS_FAILED ||
	       st == MIGRATION_STATUS_CANCELLED;
}

static void do_shutdown(void)
{
	struct mig_info info;

	if (atomic_exchange(&shutdown_done, true))
		return;
	/* the last answer query gives: a migration still running may end
	 * after it, unseen (then any end is possible for the check) */
	if (qmp_query_migrate(&info) == 0)
		outcome_unknown = info.outcome_unknown || !ended(info.status);
	migration_shutdown();
	while (main_loop_wait(0) > 0)
		;
}

/* The main thread's loop: bottom halves, the shutdown request, and once the
 * clients are done, what a management layer does with a migration that
 * does not end: the fake destination's stall is released. Returns the
 * final state (NONE: no migration ran). */
static MigrationStatus main_loop(void)
{
	struct mig_info info = { 0 };
	MigrationStatus seen = MIGRATION_STATUS_NONE;
	unsigned idle = 0, recoveries = 0;

	for (;;) {
		main_loop_wait(10);
		if (atomic_load(&shutdown_asked))
			do_shutdown();
		if (atomic_load(&shutdown_done)) {
			pthread_mutex_lock(&states_lock);
			info.status = last_state;
			pthread_mutex_unlock(&states_lock);
		} else {
			qmp_query_migrate(&info);
			outcome_unknown = info.outcome_unknown;
		}
		check_one_side("a main-loop round");
		/* the management layer's share of postcopy, decided once per state
		 * it sees: a pause (a network failure) once postcopy runs, a
		 * recovery (at most 3) once both sides paused */
		if (info.status != seen && !atomic_load(&shutdown_done)) {
			seen = info.status;
			if (seen == MIGRATION_STATUS_POSTCOPY_ACTIVE && migrace_choose(3) == 0)
				qmp_migrate_pause();
		}
		if (seen == MIGRATION_STATUS_POSTCOPY_PAUSED && recoveries < 3 && !atomic_load(&shutdown_done) &&
		    (dest != DEST_REAL || dst_state() == MIG_INCOMING_POSTCOPY_PAUSED)) {
			seen = MIGRATION_STATUS_COUNT;   /* once per pause */
			recoveries++;
			if (migrace_choose(4))
				op_recover();
		}
		if (atomic_load(&clients_left) > 0)
			continue;
		if (ended(info.status) && !migration_is_running())
			break;
		if (fdest && fake_dest_record(fdest)->done) {
			/* the fake destination ended: its process exits */
			fake_dest_free(fdest);
			fdest = NULL;
			close_listener();
		}
		/* rounds of 10 ms; a guest that runs meanwhile spends some 140
		 * scheduling steps a round, so all of this fits well within the
		 * hunt's 200,000 */
		if (++idle % 20 == 0 && fdest)
			fake_dest_release(fdest);
		if (getenv("MIGRATION_WORKLOAD_DEBUG") && idle % 20 == 0)
			fprintf(stderr, "idle %u: %s\n", idle, migration_status_name(info.status));
		if (idle == 40)     /* the management layer gives up on it */
			qmp_migrate_cancel();
		if (idle % 20 == 10 && info.status == MIGRATION_STATUS_POSTCOPY_RECOVER)
			qmp_yank_migration();   /* a recovery that hangs: pause again */
		/* paused for good (nothing to cancel back to): nobody recovers it
		 * once the destination ended, or after a while */
		enum mig_incoming_state d = dest == DEST_REAL ? dst_state() : MIG_INCOMING_NONE;
		pthread_mutex_lock(&inc_lock);
		bool dst_ended = d == MIG_INCOMING_COMPLETED || d == MIG_INCOMING_FAILED || inc_ended ||
				 (dest == DEST_FAKE && !fdest);   /* (the fake ended: freed above) */
		pthread_mutex_unlock(&inc_lock);
		if (info.status == MIGRATION_STATUS_POSTCOPY_PAUSED && (idle >= 60 || (dst_ended && idle >= 5)))
			do_shutdown();
		if (idle == 90)
			MIGRACE_INVARIANT("migration-ended", "the migration is still %s long after the clients finished",
					  migration_status_name(info.status));
	}
	while (main_loop_wait(0) > 0)
		;
	return info.status;
}

/*
 * The end state. A run may have tried several migrations (attempts refused
 * before the state machine, as a failed cpr-transfer is, leave it at none),
 * each stopping the source once and resuming it once when it failed: so the
 * source was resumed once per stop, except after the last stop when the
 * guest moved on (completed) or the target kept its device (cpr-transfer).
 */
static void check_end(MigrationStatus st, uint64_t starts, uint64_t stops)
{
	uint64_t dst_starts = atomic_load(&dst_ready) ? vm_start_count(&dst_vm) : 0;
	bool src_runs = runstate_is_running(&vm);

	/* the source stops the guest and releases the device before the
	 * handles go out (cpr.h): unless its handoff failed (and it took the
	 * device back), the target never finds the device busy */
	if (dest == DEST_CPR && dst_result == -EBUSY && !cpr_handoff_failed)
		MIGRACE_INVARIANT("device-busy", "the target's set_owner failed: the source still owns the device");
	bool last_stop_kept = !src_runs && stops == starts + 1;

	if (getenv("MIGRATION_WORKLOAD_DEBUG"))
		fprintf(stderr, "end: %s, postcopy %d, outcome unknown %d, shutdown %d, destination %d (kind %d) "
			"started %lu\n", migration_status_name(st), went_postcopy, outcome_unknown,
			atomic_load(&shutdown_asked), dst_result, (int)dest, (unsigned long)dst_starts);

	/* from postcopy-active on the guest belongs to the destination: the
	 * source never resumes it; it may be lost when the destination failed
	 * (QEMU's postcopy risk), but it never starts twice there */
	if (went_postcopy) {
		if (!last_stop_kept)
			MIGRACE_INVARIANT("postcopy-source-resumed", "postcopy %s, but the source %s (stopped %lu, "
					  "started %lu times)", migration_status_name(st), src_runs ? "runs" : "is off",
					  (unsigned long)stops, (unsigned long)starts);
		if (dst_starts > 1)
			MIGRACE_INVARIANT("started-once", "postcopy %s: the guest started %lu times on the destination",
					  migration_status_name(st), (unsigned long)dst_starts);
		/* the destination completed postcopy: whatever the source heard
		 * (its return path may break after the destination's end, and it
		 * pauses or fails), every page is there as the source had it at
		 * its stop (stopped since) */
		if (dest == DEST_REAL && dst_postcopy && dst_result == 0) {
			size_t lost = postcopy_ram_missing(inc.postcopy);
			if (lost)
				MIGRACE_INVARIANT("postcopy-page-lost", "the destination completed postcopy with %zu "
						  "pages that never arrived (the source %s)", lost,
						  migration_status_name(st));
			if (mig_incoming_loaded_hash(&inc) != ram_pages_digest(&ram))
				MIGRACE_INVARIANT("memory-migrated", "the destination completed postcopy, but the pages "
						  "as they arrived are not the source's (the source %s)",
						  migration_status_name(st));
		}
		if (st != MIGRATION_STATUS_COMPLETED || dest == DEST_FAKE)
			return;
		if (dst_result != 0 || dst_starts != 1)
			MIGRACE_INVARIANT("completed-on-destination", "postcopy completed, but the destination gave "
					  "%d and started %lu times", dst_result, (unsigned long)dst_starts);
		/* the pages as they arrived (a completion in precopy after an
		 * ignored switch: the whole memory) */
		uint64_t want = dst_postcopy ? ram_pages_digest(&ram) : ram_hash(&ram);
		if (mig_incoming_loaded_hash(&inc) != want)
			MIGRACE_INVARIANT("memory-migrated", "postcopy completed, but the pages as they arrived on the "
					  "destination are not the source's");
		return;
	}
	if (st == MIGRATION_STATUS_COMPLETED) {
		if (!last_stop_kept)
			MIGRACE_INVARIANT("source-stopped", "completed, but the source %s (stopped %lu, started %lu times)",
					  src_runs ? "runs" : "is off", (unsigned long)stops, (unsigned long)starts);
		if (dest == DEST_FAKE)
			return;   /* the fake loads nothing and starts nothing */
		/* without a return path the source completes once the stream is
		 * out: a destination that fails to load it then loses the guest
		 * (why the capability exists), but never runs a wrong one */
		if (!started_rp && dst_result != 0 && dst_starts == 0)
			return;
		if (dst_result != 0 || dst_starts != 1)
			MIGRACE_INVARIANT("completed-on-destination",
					  "completed, but the destination gave %d and started %lu times", dst_result,
					  (unsigned long)dst_starts);
		uint64_t got = dest == DEST_CPR ? ram_hash(&dst_ram) : mig_incoming_loaded_hash(&inc);
		if (got != ram_hash(&ram))
			MIGRACE_INVARIANT("memory-migrated", "the destination has other memory than the source");
		return;
	}
	/* the end of the stream went out and the return path broke before the
	 * destination's answer: the core keeps the guest stopped (the
	 * destination may run it, at most once) */
	if (outcome_unknown && st == MIGRATION_STATUS_FAILED && !src_runs && stops == starts + 1) {
		if (dst_starts > 1)
			MIGRACE_INVARIANT("started-once", "the guest started %lu times on the destination",
					  (unsigned long)dst_starts);
		return;
	}
	if (dst_starts != 0 && st == MIGRATION_STATUS_CANCELLED)
		MIGRACE_INVARIANT("cancelled-guest-on-both-sides", "cancelled, but the guest started %lu times on the "
				  "destination and the source %s", (unsigned long)dst_starts, src_runs ? "runs" : "is stopped");
	if (dst_starts != 0)
		MIGRACE_INVARIANT("guest-on-one-side", "migration %s, but the guest started %lu times on the destination "
				  "and the source %s", migration_status_name(st), (unsigned long)dst_starts,
				  src_runs ? "runs" : "is stopped");
	/* cpr-transfer resumes the source only if it could take the device
	 * back from the target (cpr.h): otherwise the guest stays stopped (and
	 * a later attempt stops it again, refused at once) */
	if (dest == DEST_CPR && !src_runs && !vdev_is_owner(&dev))
		return;
	if (!src_runs || starts != stops)
		MIGRACE_INVARIANT("source-resumed-once", "migration %s: the source %s, stopped %lu times, started %lu times",
				  migration_status_name(st), src_runs ? "runs" : "does not run",
				  (unsigned long)stops, (unsigned long)starts);
}

/* The destination ends as a management layer ends it: its listeners shut
 * down (a destination still waiting gives up), its thread joined. */
static void stop_destination(pthread_t dst, bool dst_thread)
{
	if (fdest) {
		fake_dest_free(fdest);
		fdest = NULL;
	}
	/* a destination in postcopy outlives the source's end (paused, it
	 * waits for a recovery): it is given up; a completed one stays so */
	pthread_mutex_lock(&inc_lock);
	if (went_postcopy && inc_live)
		mig_incoming_cancel(&inc);
	pthread_mutex_unlock(&inc_lock);
	shutdown_listener();
	if (dst_thread)
		pthread_join(dst, NULL);
}

static void free_destination(void)
{
	close_listener();
	if (atomic_load(&dst_ready)) {
		if (!dst_cleaned)
			mig_incoming_cleanup(&inc);
		vm_destroy(&dst_vm);
	}
	if (dst_dev_ok)
		vdev_close(&dst_dev);
	if (dst_ram_ok)
		ram_destroy(&dst_ram);
}

int main(void)
{
	pthread_t dst = 0, clients[CLIENTS];

	mem_channel_register();
	/* a fault in the setup (guest RAM, vCPUs, the device) ends the run cleanly */
	if (ram_init_memfd(&ram, PAGES * RAM_PAGE_SIZE)) {
		puts("setup: no guest RAM");
		return 0;
	}
	if (vm_init(&vm, &ram, 1, 1, RUN_STATE_RUNNING) || vdev_create(&dev, NULL) || vdev_set_owner(&dev)) {
		puts("setup: no vCPU or device");
		vm_destroy(&vm);
		vdev_close(&dev);
		ram_destroy(&ram);
		return 0;
	}
	/* the real destination twice as often as each other kind: postcopy,
	 * its pause and recovery need it */
	static const enum dest_kind kinds[] = { DEST_REAL, DEST_REAL, DEST_CPR, DEST_FAKE };
	dest = kinds[migrace_choose(sizeof(kinds) / sizeof(kinds[0]))];
	dst_guest_touches = 1 + (unsigned)migrace_choose(PAGES);
	if (getenv("MIGRATION_WORKLOAD_DEBUG"))
		fprintf(stderr, "destination: %s\n", dest == DEST_REAL ? "real" : dest == DEST_CPR ? "cpr" : "fake");
	if (channel_listen(MIG_URI, &listener) || (dest == DEST_CPR && channel_listen(CPR_URI, &cpr_listener))) {
		fprintf(stderr, "setup failed without a fault point\n");
		return 1;
	}
	main_loop_init();
	bql_lock();
	migration_object_init(&vm, &ram);
	migration_set_device(&dev);
	migration_add_state_notifier(on_state, NULL);
	uint64_t starts0 = vm_start_count(&vm), stops0 = vm_stop_count(&vm);
	bool dst_thread = dest != DEST_FAKE && pthread_create(&dst, NULL, destination, NULL) == 0;
	if (dest == DEST_FAKE && start_fake())
		fprintf(stderr, "migration workload: the fake destination did not start\n");
	bql_unlock();
	for (int i = 0; i < CLIENTS; i++)
		pthread_create(&clients[i], NULL, client, (void *)(intptr_t)i);
	bql_lock();
	MigrationStatus st = main_loop();
	uint64_t starts = vm_start_count(&vm) - starts0, stops = vm_stop_count(&vm) - stops0;
	do_shutdown();
	bql_unlock();
	for (int i = 0; i < CLIENTS; i++)
		pthread_join(clients[i], NULL);
	migration_remove_state_notifier(on_state, NULL);
	stop_destination(dst, dst_thread);
	check_end(st, starts, stops);
	free_destination();
	printf("migration workload: destination %d, %s (destination %d)%s, %lu pauses\n", (int)dest,
	       migration_status_name(st), dst_result, went_postcopy ? ", postcopy" : "",
	       (unsigned long)postcopy_pauses);

	main_loop_cleanup();
	vdev_close(&dev);
	vm_destroy(&vm);
	ram_destroy(&ram);
	MIGRACE_CHECK_THREADS_JOINED();
	return 0;
}
