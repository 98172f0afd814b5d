/*
 * Unit tests of core/migration/migration.c, the source side: the state
 * machine, whole migrations to an in-process destination (incoming.c) over
 * unix sockets, cancel, yank, failures, and the object's lifetime across
 * migration_shutdown() (the fixed forms of qemu-races.md §2-§7).
 *
 * The test process is the main thread: it holds the BQL except inside
 * main_loop_wait(), which runs the cleanup BH. Every test leaves the process
 * globals (the migration object, the yank instances) clean: its teardown
 * yanks and shuts down whatever is left and runs the main loop until the
 * object is finalized.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "channel.h"
#include "incoming.h"
#include "main_loop.h"
#include "migration.h"
#include "postcopy_ram.h"
#include "ram.h"
#include "vm.h"
#include "yank.h"

#define NPAGES 64
#define LOOP_LIMIT_MS 3000		/* any wait on the core */
#define TEST_LIMIT_S 10			/* the watchdog: a hang aborts the run */
#define SLOW_BANDWIDTH (64 * 1024)	/* ~20 pages/s: 64 pages take ~3 s */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* A hang in the core must fail the run, not block it: SIGALRM aborts. */
static void watchdog_fired(int sig)
{
	static const char msg[] = "core_migration: test still running after the time limit\n";

	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

/* ---- the destination ------------------------------------------------------ */

static void expect_source_kept_stopped(void);

/*
 * One destination on a unix socket. A real one runs incoming.c in a thread
 * (accept, mig_incoming_start, mig_incoming_wait); a silent one reads and
 * discards the stream and never answers on the return path, so a source
 * with a return path waits for RP_SHUT in state device for as long as the
 * test wants.
 */
struct dest {
	struct guest_ram ram;
	struct vm vm;
	struct mig_incoming inc;
	struct channel_listener *listener;
	char path[96];
	char uri[112];
	bool silent;
	bool inited;		/* main thread: ram, vm, inc, listener exist */
	bool running;		/* main thread: the thread exists, not joined */
	pthread_t thread;
	int accept_ret;		/* the dest thread writes, main reads after join */
	int wait_ret;		/* as accept_ret */
	_Atomic uint64_t silent_bytes;	/* silent dest: bytes read so far */
};

static void *dest_main(void *opaque)
{
	struct dest *d = opaque;
	struct channel *ch;

	d->accept_ret = channel_accept(d->listener, &ch);
	if (d->accept_ret == 0) {
		mig_incoming_set_listener(&d->inc, d->listener);	/* postcopy's channel */
		mig_incoming_start(&d->inc, ch);	/* on error: failed, wait follows */
		channel_unref(ch);
	}
	d->wait_ret = mig_incoming_wait(&d->inc);
	return NULL;
}

static void *silent_main(void *opaque)
{
	struct dest *d = opaque;
	struct channel *ch;
	char buf[4096];
	ssize_t n;

	d->accept_ret = channel_accept(d->listener, &ch);
	if (d->accept_ret)
		return NULL;
	while ((n = channel_read(ch, buf, sizeof(buf))) > 0)
		atomic_fetch_add(&d->silent_bytes, (uint64_t)n);
	channel_close(ch);
	channel_unref(ch);
	return NULL;
}

static void dest_open(struct dest *d, bool silent)
{
	static unsigned seq;

	memset(d, 0, sizeof(*d));
	d->silent = silent;
	snprintf(d->path, sizeof(d->path), "/tmp/migrace-tcm-%d-%u.sock", (int)getpid(), seq++);
	snprintf(d->uri, sizeof(d->uri), "unix:%s", d->path);
	unlink(d->path);
	assert_int_equal(ram_init(&d->ram, NPAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vm_init(&d->vm, &d->ram, 1, 7, RUN_STATE_INMIGRATE), 0);
	assert_int_equal(mig_incoming_init(&d->inc, &d->vm, &d->ram), 0);
	assert_int_equal(channel_listen(d->uri, &d->listener), 0);
	d->inited = true;
	assert_int_equal(pthread_create(&d->thread, NULL, silent ? silent_main : dest_main, d), 0);
	d->running = true;
}

/* Join the destination's thread; its result (mig_incoming_wait's). */
static int dest_join(struct dest *d)
{
	if (d->running) {
		assert_int_equal(pthread_join(d->thread, NULL), 0);
		d->running = false;
	}
	return d->wait_ret;
}

/* Unblock a destination that may still wait (teardown after a failure). */
static void dest_kick(struct dest *d)
{
	if (!d->inited || !d->running)
		return;
	channel_listener_shutdown(d->listener);
	if (!d->silent)
		mig_incoming_cancel(&d->inc);
}

static void dest_close(struct dest *d)
{
	if (!d->inited)
		return;
	dest_kick(d);
	dest_join(d);
	if (d->silent)
		mig_incoming_wait(&d->inc);	/* never started: -EINVAL, lets cleanup run */
	mig_incoming_cleanup(&d->inc);
	vm_destroy(&d->vm);
	ram_destroy(&d->ram);
	channel_listener_close(d->listener);
	unlink(d->path);
	d->inited = false;
}

/* ---- the source and the fixture ---------------------------------------- */

static struct fixture {
	struct guest_ram ram;
	struct vm vm;
	bool inited;
	struct dest dst[2];
} fx;

static int setup_cpus(int ncpus)
{
	memset(&fx, 0, sizeof(fx));
	alarm(TEST_LIMIT_S);
	if (!bql_locked())
		bql_lock();
	if (ram_init(&fx.ram, NPAGES * RAM_PAGE_SIZE) || vm_init(&fx.vm, &fx.ram, ncpus, 1, RUN_STATE_RUNNING))
		return -1;
	fx.inited = true;
	migration_object_init(&fx.vm, &fx.ram);
	return 0;
}

static int setup(void **state)
{
	return setup_cpus(1);
}

/* No vCPU thread: for the tests that fork. */
static int setup_quiet(void **state)
{
	return setup_cpus(0);
}

/* Runs the main loop until the migration object is finalized. */
static bool run_until_finalized(int limit_ms)
{
	int64_t deadline = now_ms() + limit_ms;

	while (migrate_get_current()) {
		if (now_ms() > deadline)
			return false;
		main_loop_wait(10);
	}
	while (main_loop_wait(0) > 0)
		;
	return true;
}

static void poller_stop(void);

static int teardown(void **state)
{
	poller_stop();
	if (!bql_locked())
		bql_lock();
	qmp_yank_migration();		/* -ENOENT unless a migration is stuck */
	for (int i = 0; i < 2; i++)
		dest_kick(&fx.dst[i]);
	migration_shutdown();
	if (!run_until_finalized(LOOP_LIMIT_MS)) {
		fprintf(stderr, "core_migration: the migration object was never finalized\n");
		abort();
	}
	for (int i = 0; i < 2; i++)
		dest_close(&fx.dst[i]);
	if (fx.inited) {
		vm_destroy(&fx.vm);
		ram_destroy(&fx.ram);
		fx.inited = false;
	}
	alarm(0);
	return 0;
}

static MigrationStatus query_status(void)
{
	struct mig_info info;

	assert_int_equal(qmp_query_migrate(&info), 0);
	return info.status;
}

static bool status_terminal(MigrationStatus st)
{
	return st == MIGRATION_STATUS_COMPLETED || st == MIGRATION_STATUS_FAILED ||
	       st == MIGRATION_STATUS_CANCELLED;
}

/*
 * Runs the main loop until the migration ended and its cleanup BH ran: the
 * status is terminal (with the BQL held, so the BH that goes with completed
 * or failed is already scheduled) and then two iterations run nothing.
 */
static void run_until_done(struct mig_info *info)
{
	int64_t deadline = now_ms() + LOOP_LIMIT_MS;
	int idle = 0;

	for (;;) {
		int ran = main_loop_wait(10);

		assert_int_equal(qmp_query_migrate(info), 0);
		if (status_terminal(info->status) && ran == 0) {
			if (++idle == 2)
				return;
		} else {
			idle = 0;
		}
		if (now_ms() > deadline)
			fail_msg("migration still %s after %d ms", migration_status_name(info->status),
				 LOOP_LIMIT_MS);
	}
}

/* Runs the main loop until the status is st (and at least min_pages were sent). */
static void run_until_status(MigrationStatus st, uint64_t min_pages)
{
	int64_t deadline = now_ms() + LOOP_LIMIT_MS;
	struct mig_info info;

	for (;;) {
		assert_int_equal(qmp_query_migrate(&info), 0);
		if (info.status == st && info.pages_sent >= min_pages)
			return;
		if (now_ms() > deadline)
			fail_msg("status %s, %llu pages, waiting for %s", migration_status_name(info.status),
				 (unsigned long long)info.pages_sent, migration_status_name(st));
		main_loop_wait(5);
	}
}

static const struct mig_params fast = { .return_path = true };
static const struct mig_params fast_no_rp = { .return_path = false };
static const struct mig_params slow = { .return_path = true, .max_bandwidth = SLOW_BANDWIDTH };

/* The end of the stream went out and the return path broke before an
 * answer: the guest stays stopped on the source, never resumed. */
static void expect_source_kept_stopped(void)
{
	assert_false(runstate_is_running(&fx.vm));
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_FINISH_MIGRATE);
	assert_int_equal(vm_start_count(&fx.vm), 0);
}

/* The guest did not move: still runs on the source, never on the destination. */
static void expect_source_kept_guest(struct dest *d)
{
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_RUNNING);
	assert_true(runstate_is_running(&fx.vm));
	if (d) {
		assert_int_not_equal(dest_join(d), 0);
		assert_int_equal(mig_incoming_get_state(&d->inc), MIG_INCOMING_FAILED);
		assert_int_equal(vm_start_count(&d->vm), 0);
		assert_int_equal(runstate_get(&d->vm), RUN_STATE_INMIGRATE);
	}
}

/* After the cleanup BH: the yank instance and its function are gone. */
static void expect_cleaned_up(void)
{
	assert_int_equal(yank_function_count(MIGRATION_YANK_INSTANCE), -ENOENT);
	assert_int_equal(qmp_yank_migration(), -ENOENT);
	assert_false(migration_is_running());
	assert_false(migration_is_active());
	assert_false(migration_thread_is_self());
}

/* A whole migration to d with params p; checks both sides. */
static void migrate_and_complete(struct dest *d, const struct mig_params *p)
{
	struct mig_info info;

	assert_int_equal(qmp_migrate(d->uri, p), 0);
	/* the thread may be past setup, but cannot stop the guest: we hold the BQL */
	MigrationStatus st = query_status();
	assert_true(st == MIGRATION_STATUS_SETUP || st == MIGRATION_STATUS_ACTIVE);
	assert_true(migration_is_running());
	assert_int_equal(yank_function_count(MIGRATION_YANK_INSTANCE), 1);
	run_until_done(&info);
	if (info.status != MIGRATION_STATUS_COMPLETED)
		fail_msg("status %s, error %d (%s)", migration_status_name(info.status), info.error,
			 info.error_desc);
	assert_int_equal(info.error, 0);
	assert_true(info.iterations >= 1);
	assert_true(info.pages_sent >= NPAGES);
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_POSTMIGRATE);
	assert_int_equal(dest_join(d), 0);
	assert_int_equal(mig_incoming_get_state(&d->inc), MIG_INCOMING_COMPLETED);
	assert_int_equal(vm_start_count(&d->vm), 1);
	/* the source guest is stopped, so its memory is what was sent last */
	assert_true(mig_incoming_loaded_hash(&d->inc) == ram_hash(&fx.ram));
	assert_int_equal(ram_check(&fx.ram, NULL), 0);
	expect_cleaned_up();
}

/* ---- the state machine ------------------------------------------------------ */

static void test_status_names(void **state)
{
	static const char *const names[MIGRATION_STATUS_COUNT] = {
		"none", "setup", "active", "device", "completed", "failed", "cancelling", "cancelled",
		"postcopy-active", "postcopy-paused", "postcopy-recover",
	};

	for (int st = 0; st < MIGRATION_STATUS_COUNT; st++)
		assert_string_equal(migration_status_name((MigrationStatus)st), names[st]);
	assert_string_equal(migration_status_name(MIGRATION_STATUS_COUNT), "?");
	assert_string_equal(migration_status_name((MigrationStatus)-1), "?");
	assert_int_equal(query_status(), MIGRATION_STATUS_NONE);
}

/* The documented table (migration.c, transition_valid). */
static bool documented_valid(MigrationStatus old, MigrationStatus new_state)
{
	switch (old) {
	case MIGRATION_STATUS_NONE:
	case MIGRATION_STATUS_COMPLETED:
	case MIGRATION_STATUS_FAILED:
	case MIGRATION_STATUS_CANCELLED:
		return new_state == MIGRATION_STATUS_SETUP;
	case MIGRATION_STATUS_SETUP:
	case MIGRATION_STATUS_ACTIVE:
		return new_state == (old == MIGRATION_STATUS_SETUP ? MIGRATION_STATUS_ACTIVE
								    : MIGRATION_STATUS_DEVICE) ||
		       new_state == MIGRATION_STATUS_FAILED || new_state == MIGRATION_STATUS_CANCELLING ||
		       (old == MIGRATION_STATUS_ACTIVE && new_state == MIGRATION_STATUS_POSTCOPY_ACTIVE);
	case MIGRATION_STATUS_POSTCOPY_ACTIVE:
		/* never cancelling: the guest runs on the destination */
		return new_state == MIGRATION_STATUS_COMPLETED || new_state == MIGRATION_STATUS_FAILED ||
		       new_state == MIGRATION_STATUS_POSTCOPY_PAUSED;
	case MIGRATION_STATUS_POSTCOPY_PAUSED:
		return new_state == MIGRATION_STATUS_POSTCOPY_RECOVER || new_state == MIGRATION_STATUS_FAILED;
	case MIGRATION_STATUS_POSTCOPY_RECOVER:
		return new_state == MIGRATION_STATUS_POSTCOPY_ACTIVE || new_state == MIGRATION_STATUS_POSTCOPY_PAUSED ||
		       new_state == MIGRATION_STATUS_FAILED;
	case MIGRATION_STATUS_DEVICE:
		return new_state == MIGRATION_STATUS_COMPLETED || new_state == MIGRATION_STATUS_FAILED ||
		       new_state == MIGRATION_STATUS_CANCELLING;
	case MIGRATION_STATUS_CANCELLING:
		return new_state == MIGRATION_STATUS_CANCELLED || new_state == MIGRATION_STATUS_FAILED;
	default:
		return false;
	}
}

/* Every valid transition succeeds from its old state and fails (changing
 * nothing) from every other state. No migration runs: the test owns state. */
static void test_valid_transitions(void **state)
{
	MigrationState *s = migrate_get_current();
	int valid = 0;

	assert_non_null(s);
	for (int old = 0; old < MIGRATION_STATUS_COUNT; old++) {
		for (int new_state = 0; new_state < MIGRATION_STATUS_COUNT; new_state++) {
			if (!documented_valid(old, new_state))
				continue;
			valid++;
			for (int cur = 0; cur < MIGRATION_STATUS_COUNT; cur++) {
				atomic_store(&s->state, cur);
				bool ok = migrate_set_state(s, old, new_state);
				if (cur == old) {
					assert_true(ok);
					assert_int_equal(atomic_load(&s->state), new_state);
				} else {
					assert_false(ok);
					assert_int_equal(atomic_load(&s->state), cur);
				}
			}
		}
	}
	assert_int_equal(valid, 24);
	atomic_store(&s->state, MIGRATION_STATUS_NONE);
}

struct transition {
	MigrationStatus old, new_state;
};

static void child_set_state(void *opaque)
{
	struct transition *t = opaque;
	MigrationState *s = migrate_get_current();

	atomic_store(&s->state, t->old);
	migrate_set_state(s, t->old, t->new_state);
	fprintf(stderr, "no abort\n");
	_exit(1);
}

/* Every transition missing from the table aborts, whatever the current state. */
static void test_invalid_transitions_abort(void **state)
{
	MigrationState *s = migrate_get_current();
	char buf[4096], want[128];
	int invalid = 0;

	for (int old = 0; old < MIGRATION_STATUS_COUNT; old++) {
		for (int new_state = 0; new_state < MIGRATION_STATUS_COUNT; new_state++) {
			struct transition t = { old, new_state };

			if (documented_valid(old, new_state))
				continue;
			invalid++;
			int status = run_in_child(child_set_state, &t, buf, sizeof(buf), TEST_LIMIT_S);
			if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGABRT)
				fail_msg("%s -> %s: child status %#x; stderr:\n%s", migration_status_name(old),
					 migration_status_name(new_state), status, buf);
			snprintf(want, sizeof(want), "invalid state transition %s -> %s",
				 migration_status_name(old), migration_status_name(new_state));
			if (!strstr(buf, want))
				fail_msg("stderr lacks \"%s\":\n%s", want, buf);
		}
	}
	assert_int_equal(invalid, MIGRATION_STATUS_COUNT * MIGRATION_STATUS_COUNT - 24);
	assert_int_equal(atomic_load(&s->state), MIGRATION_STATUS_NONE);
}

/* ---- whole migrations ----------------------------------------------------------- */

static void test_complete_with_return_path(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	migrate_and_complete(&fx.dst[0], &fast);
	assert_int_equal(qmp_query_migrate(&info), 0);
	assert_true(info.acks >= 1);
	assert_true(info.acks <= info.iterations);
	assert_int_equal(info.pongs, 1);           /* the PING sent at setup came back */
	/* a command that does not apply any more */
	assert_int_equal(qmp_migrate_cancel(), -EINVAL);
	assert_int_equal(query_status(), MIGRATION_STATUS_COMPLETED);
}

static void test_complete_without_return_path(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	migrate_and_complete(&fx.dst[0], &fast_no_rp);
	assert_int_equal(qmp_query_migrate(&info), 0);
	assert_int_equal(info.acks, 0);
	assert_int_equal(info.pongs, 0);
}

/* ---- postcopy ---------------------------------------------------------------- */

#define POSTCOPY_BANDWIDTH (256 * 1024)	/* the background: 64 pages take ~1 s */

static const struct mig_params postcopy = { .return_path = true, .postcopy = true,
					    .max_bandwidth = POSTCOPY_BANDWIDTH };

/* Runs the main loop until the destination's state is st. */
static void run_until_dest_state(struct dest *d, enum mig_incoming_state st)
{
	int64_t deadline = now_ms() + LOOP_LIMIT_MS;

	while (mig_incoming_get_state(&d->inc) != st) {
		if (now_ms() > deadline)
			fail_msg("destination %s, waiting for %s",
				 mig_incoming_state_name(mig_incoming_get_state(&d->inc)),
				 mig_incoming_state_name(st));
		main_loop_wait(5);
	}
}

/* The end of a postcopy migration: the pages as they arrived are the
 * source's memory at its stop (stopped since), the guest started once there
 * and stays stopped here. */
static void expect_postcopy_completed(struct dest *d, struct mig_info *info)
{
	run_until_done(info);
	if (info->status != MIGRATION_STATUS_COMPLETED)
		fail_msg("status %s, error %d (%s)", migration_status_name(info->status), info->error,
			 info->error_desc);
	assert_int_equal(dest_join(d), 0);
	assert_int_equal(mig_incoming_get_state(&d->inc), MIG_INCOMING_COMPLETED);
	assert_true(mig_incoming_loaded_hash(&d->inc) == ram_pages_digest(&fx.ram));
	assert_int_equal(vm_start_count(&d->vm), 1);
	assert_true(runstate_is_running(&d->vm));
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_POSTMIGRATE);
	expect_cleaned_up();
}

/* Postcopy from the first page: every page is missing on the destination,
 * whose vCPU requests what it touches; cancel is refused meanwhile. */
static void test_postcopy_complete(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate_start_postcopy(), -EINVAL);	/* no migration */
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &postcopy), 0);
	assert_int_equal(qmp_migrate_start_postcopy(), 0);
	run_until_status(MIGRATION_STATUS_POSTCOPY_ACTIVE, 0);
	assert_int_equal(qmp_migrate_cancel(), -EBUSY);
	expect_postcopy_completed(&fx.dst[0], &info);
	assert_int_equal(info.postcopy_pauses, 0);
}

/* migrate-start-postcopy needs the capability (and postcopy the return path). */
static void test_postcopy_refused(void **state)
{
	struct mig_params no_rp = { .postcopy = true };

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &no_rp), -EINVAL);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	assert_int_equal(qmp_migrate_start_postcopy(), -EINVAL);
	assert_int_equal(qmp_migrate_pause(), -EINVAL);			/* not in postcopy */
	struct mig_params resume = { .resume = true };
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &resume), -EINVAL);	/* not paused */
	assert_int_equal(qmp_migrate_cancel(), 0);
}

/* The channel breaks in postcopy: both sides pause, the guest runs on the
 * destination; a new channel (migrate-recover, migrate resume=true) and
 * postcopy completes with every page. */
static void test_postcopy_pause_recover(void **state)
{
	struct dest *d = &fx.dst[0];
	struct mig_info info;
	struct channel *ch;

	dest_open(d, false);
	assert_int_equal(qmp_migrate(d->uri, &postcopy), 0);
	assert_int_equal(qmp_migrate_start_postcopy(), 0);
	run_until_status(MIGRATION_STATUS_POSTCOPY_ACTIVE, 0);
	/* the guest runs there (a break before SEC_POSTCOPY_RUN arrived would
	 * fail the destination: the source is postcopy-active before sending it) */
	run_until_dest_state(d, MIG_INCOMING_POSTCOPY_ACTIVE);
	assert_int_equal(qmp_migrate_pause(), 0);
	run_until_status(MIGRATION_STATUS_POSTCOPY_PAUSED, 0);
	run_until_dest_state(d, MIG_INCOMING_POSTCOPY_PAUSED);
	assert_true(runstate_is_running(&d->vm));		/* alive on the destination */
	assert_false(runstate_is_running(&fx.vm));
	assert_int_equal(yank_function_count(MIGRATION_YANK_INSTANCE), 0);
	assert_int_equal(qmp_migrate_cancel(), -EINVAL);	/* nothing to cancel back to */
	struct mig_params resume = { .resume = true };
	assert_int_equal(qmp_migrate(d->uri, &resume), 0);
	assert_int_equal(channel_accept(d->listener, &ch), 0);
	assert_int_equal(mig_incoming_recover(&d->inc, ch, d->listener), 0);
	assert_int_equal(mig_incoming_recover(&d->inc, ch, d->listener), -EINVAL);	/* one at a time */
	channel_unref(ch);
	expect_postcopy_completed(d, &info);
	assert_int_equal(info.postcopy_pauses, 1);
	assert_int_equal(mig_incoming_pauses(&d->inc), 1);
}

/* Paused and never resumed: shutdown fails it on the source (the guest stays
 * stopped there); a cancel fails it on the destination, whose guest keeps
 * running with what it has. */
static void test_postcopy_pause_given_up(void **state)
{
	struct dest *d = &fx.dst[0];

	dest_open(d, false);
	assert_int_equal(qmp_migrate(d->uri, &postcopy), 0);
	assert_int_equal(qmp_migrate_start_postcopy(), 0);
	run_until_status(MIGRATION_STATUS_POSTCOPY_ACTIVE, 0);
	/* the guest runs there (a break before SEC_POSTCOPY_RUN arrived would
	 * fail the destination: the source is postcopy-active before sending it) */
	run_until_dest_state(d, MIG_INCOMING_POSTCOPY_ACTIVE);
	assert_int_equal(qmp_migrate_pause(), 0);
	run_until_status(MIGRATION_STATUS_POSTCOPY_PAUSED, 0);
	run_until_dest_state(d, MIG_INCOMING_POSTCOPY_PAUSED);
	mig_incoming_cancel(&d->inc);
	assert_int_equal(dest_join(d), -ECANCELED);
	assert_int_equal(mig_incoming_get_state(&d->inc), MIG_INCOMING_FAILED);
	assert_true(runstate_is_running(&d->vm));
	migration_shutdown();
	assert_true(run_until_finalized(LOOP_LIMIT_MS));
	assert_false(runstate_is_running(&fx.vm));		/* never on both sides */
}

/*
 * The postcopy channel cannot be connected at the switch (the destination's
 * socket is gone; in the workload a fault at core/channel/connect): the
 * migration fails before postcopy-active and the guest stays on the source.
 * The core once switched first, then connected: the failure left it
 * postcopy-active without SEC_POSTCOPY_RUN sent, it sent the rest and
 * SEC_EOF on the main stream, and the destination completed a precopy
 * without the last dirty pages and ran the guest (completed on both sides,
 * other memory there).
 */
static void test_postcopy_channel_connect_fails(void **state)
{
	struct dest *d = &fx.dst[0];
	struct mig_info info;

	dest_open(d, false);
	assert_int_equal(qmp_migrate(d->uri, &postcopy), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	unlink(d->path);		/* the main channel is connected: only postcopy's fails */
	assert_int_equal(qmp_migrate_start_postcopy(), 0);
	run_until_done(&info);
	if (info.status != MIGRATION_STATUS_FAILED)
		fail_msg("status %s (the destination %s, started %lu times)", migration_status_name(info.status),
			 mig_incoming_state_name(mig_incoming_get_state(&d->inc)),
			 (unsigned long)vm_start_count(&d->vm));
	assert_int_equal(info.postcopy_pauses, 0);
	expect_source_kept_guest(d);
	expect_cleaned_up();
}

/* completed -> setup: the same object migrates again, after the cleanup ran. */
static void test_second_migration(void **state)
{
	dest_open(&fx.dst[0], false);
	migrate_and_complete(&fx.dst[0], &fast);
	dest_close(&fx.dst[0]);		/* one incoming yank instance at a time */
	dest_open(&fx.dst[1], false);
	migrate_and_complete(&fx.dst[1], &fast);
}

/* A second qmp_migrate while one runs is refused and changes nothing. */
static void test_migrate_while_running_busy(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	dest_open(&fx.dst[1], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	assert_int_equal(qmp_migrate(fx.dst[1].uri, &fast), -EBUSY);
	assert_int_equal(query_status(), MIGRATION_STATUS_ACTIVE);
	assert_int_equal(yank_function_count(MIGRATION_YANK_INSTANCE), 1);
	assert_int_equal(qmp_migrate_cancel(), 0);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_CANCELLED);
	expect_source_kept_guest(&fx.dst[0]);
	/* the refused one never connected: its destination still waits */
	assert_true(fx.dst[1].running);
}

/* ---- cancel ------------------------------------------------------------------ */

static void test_cancel_active(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	assert_true(migration_is_active());
	assert_int_equal(qmp_migrate_cancel(), 0);
	assert_int_equal(query_status(), MIGRATION_STATUS_CANCELLING);
	assert_int_equal(qmp_migrate_cancel(), 0);	/* again: already cancelling */
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_CANCELLED);
	assert_int_equal(info.error, -ECANCELED);
	expect_source_kept_guest(&fx.dst[0]);
	expect_cleaned_up();
	assert_int_equal(qmp_migrate_cancel(), -EINVAL);
}

/* Cancel right after the command, in setup or early active: either way cancelled. */
static void test_cancel_at_once(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	assert_int_equal(qmp_migrate_cancel(), 0);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_CANCELLED);
	expect_source_kept_guest(&fx.dst[0]);
	expect_cleaned_up();
}

static void test_cancel_without_migration(void **state)
{
	assert_int_equal(qmp_migrate_cancel(), -EINVAL);
	assert_int_equal(query_status(), MIGRATION_STATUS_NONE);
}

/*
 * Deterministic state device: the silent destination reads everything and
 * never sends RP_SHUT, so the migration thread waits for the return path
 * with the guest stopped. Cancel is refused there; a yank ends it as a
 * failure, but the end of the stream went out and no answer came: the
 * destination may run the guest, so it stays stopped on the source
 * (outcome_unknown; a management layer decides).
 */
static void test_cancel_in_device_refused(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], true);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &fast), 0);
	run_until_status(MIGRATION_STATUS_DEVICE, NPAGES);
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_FINISH_MIGRATE);
	assert_true(migration_is_active());
	assert_int_equal(qmp_migrate_cancel(), -EBUSY);
	assert_int_equal(query_status(), MIGRATION_STATUS_DEVICE);
	main_loop_wait(20);
	assert_int_equal(query_status(), MIGRATION_STATUS_DEVICE);
	assert_int_equal(runstate_get(&fx.vm), RUN_STATE_FINISH_MIGRATE);
	assert_int_equal(qmp_yank_migration(), 0);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_not_equal(info.error, 0);
	assert_true(info.outcome_unknown);
	expect_source_kept_stopped();
	expect_cleaned_up();
	dest_join(&fx.dst[0]);		/* the silent reader saw the whole stream, then EOF */
	assert_true(atomic_load(&fx.dst[0].silent_bytes) > NPAGES * RAM_PAGE_SIZE);
}

/* ---- failures ------------------------------------------------------------------- */

static void test_connect_failure(void **state)
{
	char uri[128];

	snprintf(uri, sizeof(uri), "unix:/tmp/migrace-tcm-%d-nobody.sock", (int)getpid());
	unlink(uri + 5);
	int ret = qmp_migrate(uri, &fast);
	assert_true(ret == -ENOENT || ret == -ECONNREFUSED);
	assert_int_equal(query_status(), MIGRATION_STATUS_NONE);
	assert_int_equal(yank_function_count(MIGRATION_YANK_INSTANCE), -ENOENT);
	assert_int_equal(qmp_migrate("bogus:nothing", &fast), -EINVAL);
	assert_int_equal(query_status(), MIGRATION_STATUS_NONE);

	/* after a completed migration too: the status stays completed */
	dest_open(&fx.dst[0], false);
	migrate_and_complete(&fx.dst[0], &fast);
	ret = qmp_migrate(uri, &fast);
	assert_true(ret == -ENOENT || ret == -ECONNREFUSED);
	assert_int_equal(query_status(), MIGRATION_STATUS_COMPLETED);
	expect_cleaned_up();
}

/* A yank during active fails the migration; the guest stays on the source. */
static void test_yank_active(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	assert_int_equal(qmp_yank_migration(), 0);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_not_equal(info.error, 0);
	expect_source_kept_guest(&fx.dst[0]);
	expect_cleaned_up();
}

/* The destination gives up mid-stream: the source fails, keeps the guest. */
static void test_destination_fails(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	mig_incoming_cancel(&fx.dst[0].inc);
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_not_equal(info.error, 0);
	expect_source_kept_guest(&fx.dst[0]);
	expect_cleaned_up();
}

struct set_error_arg {
	pthread_t thread;
	atomic_bool done;
};

static void *set_error_main(void *opaque)
{
	struct set_error_arg *a = opaque;

	migration_file_set_error(-EIO);
	atomic_store(&a->done, true);
	return NULL;
}

/* migration_file_set_error from another thread fails a running migration. */
static void test_file_set_error_fails_migration(void **state)
{
	struct set_error_arg a = { 0 };
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	assert_int_equal(pthread_create(&a.thread, NULL, set_error_main, &a), 0);
	assert_int_equal(pthread_join(a.thread, NULL), 0);
	assert_true(atomic_load(&a.done));
	run_until_done(&info);
	assert_int_equal(info.status, MIGRATION_STATUS_FAILED);
	assert_int_equal(info.error, -EIO);
	expect_source_kept_guest(&fx.dst[0]);
	expect_cleaned_up();
}

/* ---- lifetime and the exported helpers ------------------------------------------ */

static void expect_helpers_idle(void)
{
	assert_false(migration_is_active());
	assert_false(migration_is_running());
	assert_false(migration_thread_is_self());
	migration_file_set_error(-EIO);		/* nothing to set it on */
	assert_false(migration_is_running());
}

/*
 * The 2019 use-after-free, fixed: shutdown during active drops the global
 * reference; the migration thread and the cleanup BH hold their own, and
 * the last of them finalizes.
 */
static void test_shutdown_while_active(void **state)
{
	dest_open(&fx.dst[0], false);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &slow), 0);
	run_until_status(MIGRATION_STATUS_ACTIVE, 1);
	MigrationState *s = migrate_get_current();
	migration_shutdown();
	assert_true(migrate_get_current() == s);	/* the thread still holds it */
	assert_true(object_ref_count(&s->obj) >= 1);
	assert_int_equal(qmp_query_migrate(&(struct mig_info){ 0 }), -ESHUTDOWN);
	assert_true(run_until_finalized(LOOP_LIMIT_MS));
	assert_null(migrate_get_current());
	expect_source_kept_guest(&fx.dst[0]);
	expect_cleaned_up();
	expect_helpers_idle();
}

/*
 * Shutdown in state device: cancel is refused, so the migration thread
 * keeps its reference and goes on; when it ends (yanked here) its BH holds
 * the last reference.
 */
static void test_shutdown_in_device(void **state)
{
	dest_open(&fx.dst[0], true);
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &fast), 0);
	run_until_status(MIGRATION_STATUS_DEVICE, NPAGES);
	migration_shutdown();
	assert_non_null(migrate_get_current());
	assert_true(migration_is_active());	/* helpers still see the live object */
	main_loop_wait(20);
	assert_non_null(migrate_get_current());
	assert_int_equal(qmp_yank_migration(), 0);
	assert_true(run_until_finalized(LOOP_LIMIT_MS));
	expect_source_kept_stopped();		/* the stream's end went out, no answer */
	expect_cleaned_up();
	expect_helpers_idle();
}

static void test_helpers_after_shutdown_without_migration(void **state)
{
	expect_helpers_idle();		/* before: no migration */
	migration_shutdown();
	assert_null(migrate_get_current());	/* nothing else held it */
	expect_helpers_idle();
	migration_shutdown();		/* twice is harmless */
	expect_helpers_idle();
}

static void test_helpers_after_migration(void **state)
{
	dest_open(&fx.dst[0], false);
	migrate_and_complete(&fx.dst[0], &fast);
	expect_helpers_idle();
	assert_int_equal(query_status(), MIGRATION_STATUS_COMPLETED);	/* set_error changed nothing */
	migration_shutdown();
	assert_true(run_until_finalized(LOOP_LIMIT_MS));
	assert_null(migrate_get_current());
	expect_helpers_idle();
}

/* A thread calling every query helper in a loop for a whole migration. */
static struct poller {
	pthread_t thread;
	bool running;		/* main thread: created, not joined */
	atomic_bool stop;
	_Atomic unsigned long calls, saw_running, saw_active, saw_self;
} poller;

/* Teardown too: a failed assertion leaves the test with the poller running. */
static void poller_stop(void)
{
	if (!poller.running)
		return;
	atomic_store(&poller.stop, true);
	pthread_join(poller.thread, NULL);
	poller.running = false;
}

static void *poller_main(void *opaque)
{
	struct poller *p = opaque;

	while (!atomic_load(&p->stop)) {
		if (migration_is_running())
			atomic_fetch_add(&p->saw_running, 1);
		if (migration_is_active())
			atomic_fetch_add(&p->saw_active, 1);
		if (migration_thread_is_self())
			atomic_fetch_add(&p->saw_self, 1);
		atomic_fetch_add(&p->calls, 1);
	}
	return NULL;
}

/*
 * "Safe from any thread at any time": the poller runs from before
 * qmp_migrate to after finalize. Under ThreadSanitizer this also checks
 * that the helpers read nothing the main thread writes without a lock.
 * Regression: migration_thread_is_self used to read thread_created and the
 * thread handle, which the main thread writes without migration_mutex (a
 * data race TSan reported); it now reads a thread-local flag.
 */
static void test_helpers_from_other_thread(void **state)
{
	struct poller *p = &poller;

	memset(p, 0, sizeof(*p));
	dest_open(&fx.dst[0], false);
	assert_int_equal(pthread_create(&p->thread, NULL, poller_main, p), 0);
	p->running = true;
	migrate_and_complete(&fx.dst[0], &fast);
	migration_shutdown();
	assert_true(run_until_finalized(LOOP_LIMIT_MS));
	sleep_ms(5);
	poller_stop();
	assert_true(atomic_load(&p->calls) > 0);
	assert_int_equal(atomic_load(&p->saw_self), 0);
}

static void test_migrate_after_shutdown(void **state)
{
	struct mig_info info;

	dest_open(&fx.dst[0], false);
	migration_shutdown();
	assert_int_equal(qmp_migrate(fx.dst[0].uri, &fast), -ESHUTDOWN);
	assert_int_equal(qmp_migrate_cancel(), -ESHUTDOWN);
	assert_int_equal(qmp_query_migrate(&info), -ESHUTDOWN);
	assert_int_equal(info.status, MIGRATION_STATUS_NONE);
	assert_int_equal(yank_function_count(MIGRATION_YANK_INSTANCE), -ENOENT);
	assert_true(fx.dst[0].running);		/* nobody connected */
}

/*
 * Regression: a migration ends (completed or failed) in
 * migration_iteration_finish, under the BQL, together with scheduling the
 * cleanup BH; until that BH runs, the yank instance, the channel, the files
 * and the joinable thread of the finished migration are all still there. A
 * migrate command handled before the BH used to start a new migration over
 * the old one (yank_register_instance aborted on the duplicate instance; the
 * pending BH would have cleaned up the new migration). Expected: -EBUSY until
 * the cleanup ran. Deterministic: the main thread drops the BQL, waits for
 * the status to leave running, takes the BQL back (the BH is scheduled, not
 * run: only main_loop_wait runs BHs) and issues the command. Runs in a child
 * so that a regression's abort does not end the whole test binary.
 */
static void child_migrate_before_cleanup(void *opaque)
{
	struct mig_info info;
	int64_t deadline;
	int ret;

	dest_open(&fx.dst[0], false);
	dest_open(&fx.dst[1], true);
	if (qmp_migrate(fx.dst[0].uri, &fast))
		_exit(2);
	bql_unlock();
	deadline = now_ms() + LOOP_LIMIT_MS;
	while (migration_is_running()) {
		if (now_ms() > deadline)
			_exit(3);
		sleep_ms(1);
	}
	bql_lock();
	qmp_query_migrate(&info);
	fprintf(stderr, "status %s, cleanup BH pending\n", migration_status_name(info.status));
	ret = qmp_migrate(fx.dst[1].uri, &fast);
	fprintf(stderr, "second qmp_migrate returned %d\n", ret);
	_exit(ret == -EBUSY ? 0 : 4);
}

static void test_migrate_before_cleanup_bh_busy(void **state)
{
	char buf[8192];
	int status = run_in_child(child_migrate_before_cleanup, NULL, buf, sizeof(buf), TEST_LIMIT_S);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("qmp_migrate before the previous cleanup BH ran: child status %#x "
			 "(expected exit 0: -EBUSY); child stderr:\n%s", status, buf);
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)
#define TQ(test) cmocka_unit_test_setup_teardown(test, setup_quiet, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_status_names),
		T(test_valid_transitions),
		TQ(test_invalid_transitions_abort),
		T(test_complete_with_return_path),
		T(test_postcopy_complete),
		T(test_postcopy_refused),
		T(test_postcopy_pause_recover),
		T(test_postcopy_pause_given_up),
		T(test_postcopy_channel_connect_fails),
		T(test_complete_without_return_path),
		T(test_second_migration),
		T(test_migrate_while_running_busy),
		T(test_cancel_active),
		T(test_cancel_at_once),
		T(test_cancel_without_migration),
		T(test_cancel_in_device_refused),
		T(test_connect_failure),
		T(test_yank_active),
		T(test_destination_fails),
		T(test_file_set_error_fails_migration),
		T(test_shutdown_while_active),
		T(test_shutdown_in_device),
		T(test_helpers_after_shutdown_without_migration),
		T(test_helpers_after_migration),
		T(test_helpers_from_other_thread),
		T(test_migrate_after_shutdown),
		TQ(test_migrate_before_cleanup_bh_busy),
	};
	int ret;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, watchdog_fired);
	main_loop_init();
	ret = cmocka_run_group_tests_name("core_migration", tests, NULL, NULL);
	if (bql_locked())
		bql_unlock();
	main_loop_cleanup();
	return ret;
}
