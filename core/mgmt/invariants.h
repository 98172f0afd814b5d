/*
 * The management core's invariant checker (libvirt-races.md §6.4): a
 * thread-local stack of the mgmt locks each thread holds, checked at every
 * blocking step, plus checks the core makes on its own state. Active when the
 * build defines MGMT_INVARIANTS (the tsan and asan builds); compiled to
 * nothing otherwise. Invisible to ThreadSanitizer: thread-local state, and
 * shared state only through relaxed atomics (no happens-before edge), never
 * a mutex. Invariant names (the run's signature is `invariant:<name>`):
 *
 *   lock-rank                never block on a lower rank while holding a higher
 *                            one (driver < domain-list < domain < monitor):
 *                            reported when the lock is held by another thread
 *                            (the thread really blocks, R1); taken free, an
 *                            out-of-order lock is the race's first half only
 *   blocking-under-lock      monitor command, remote call, job wait on another
 *                            domain, thread join or sleep with a domain or the
 *                            driver lock held
 *   monitor-without-job      a monitor command outside a job (nested when an
 *                            async job is active; R4, R6)
 *   monitor-without-domain-lock  EnterMonitor without the domain lock (R4)
 *   no-recheck-after-job     EnterMonitor on an inactive domain: active not
 *                            re-checked after the job (R3)
 *   job-end-not-owned        ending a sync job this thread does not hold, or
 *                            an async job it does not own (984640211)
 *   job-wakeup-lost          a job waiter timed out although the job it waited
 *                            for ended before its deadline (EndJob broadcasts)
 *   phase-backwards          a migration phase stored lower than the current one
 *   phase-without-job        a migration phase stored without an async job
 *   ref-zero-while-unlocked  an object's last reference dropped while a thread
 *                            is between unlocking and re-locking it in the
 *                            Enter/Exit helpers
 *   stop-without-job         mgmt_process_stop without a job of the caller's,
 *                            while another thread holds a job on the domain
 *                            (or owns its async job) or is inside its monitor
 *                            (the stop really pulls the domain from under it,
 *                            81f50cb92); without such work alongside, the
 *                            stop is the race's first half only
 *   stale-event              the event worker, handling an event of one QEMU
 *                            instance, kills another (the domain restarted
 *                            since the event was queued)
 */
#ifndef CORE_MGMT_INVARIANTS_H
#define CORE_MGMT_INVARIANTS_H

#include <stdatomic.h>
#include <stdbool.h>

/* Lock ranks, outermost first: a thread may only block on a rank >= the
 * highest it holds. */
enum mgmt_rank {
	MGMT_RANK_DRIVER = 1,	/* struct mgmt_driver.lock */
	MGMT_RANK_LIST = 2,	/* the domain list's rwlock */
	MGMT_RANK_DOMAIN = 3,	/* struct mgmt_domain.lock */
	MGMT_RANK_MONITOR = 4,	/* struct mgmt_monitor.lock */
};

/* Most locks the per-thread stack records; deeper nesting is counted only. */
#define MGMT_INV_MAX_HELD 16

/*
 * What a violation calls. The default, in harness builds (MIGRACE_SYNC_POINTS),
 * is migrace_invariant_failed() (the run fails as invariant:<name>); otherwise
 * it prints "invariant:<name> at file:line: msg" to stderr and aborts. A
 * handler that returns lets the core go on (tests count violations this way).
 */
typedef void (*mgmt_inv_handler)(const char *name, const char *file, int line, const char *msg);

/* Install h for every thread (NULL: the default). Returns the previous one. */
mgmt_inv_handler mgmt_inv_set_handler(mgmt_inv_handler h);

/* Report a violation of invariant name (through the handler). */
void mgmt_inv_fail(const char *name, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* About to block on lock obj of rank: checks lock-rank against this thread's stack. */
void mgmt_inv_before_lock(enum mgmt_rank rank, const void *obj, const char *file, int line);
/*
 * Does this thread hold a lock of a rank higher than rank? The lock helpers
 * then try the lock first and call mgmt_inv_before_lock only when that fails:
 * lock-rank names a thread that blocks out of order, which depends on the
 * schedule, not every out-of-order acquisition (see MGMT_INV_TOOK_FREE).
 */
bool mgmt_inv_rank_inverted(enum mgmt_rank rank);
/* obj (of rank) is now held by this thread / was released by it. */
void mgmt_inv_locked(enum mgmt_rank rank, const void *obj);
void mgmt_inv_unlocked(const void *obj);
/* True if this thread holds obj (per the stack). */
bool mgmt_inv_holds(const void *obj);
/* The number of mgmt locks this thread holds. */
int mgmt_inv_held_count(void);
/*
 * About to block in `what` (a monitor command, a remote call, a join, a
 * sleep, a job wait): blocking-under-lock if this thread holds the driver
 * lock or a domain lock other than except (NULL: none allowed).
 */
void mgmt_inv_blocking(const char *what, const void *except, const char *file, int line);
/*
 * The event worker handles an event of QEMU instance id (the domain's id
 * when the event was queued) until event_end; event_instance is that id on
 * this thread, -1 outside. The kill helper checks stale-event with it.
 */
void mgmt_inv_event_begin(int id);
void mgmt_inv_event_end(void);
int mgmt_inv_event_instance(void);
/* Forget this thread's stack (tests, between deliberately wrong sequences). */
void mgmt_inv_reset_thread(void);

/*
 * Transit counters: an object embeds an atomic_int that counts the threads
 * between dropping and re-taking its lock (or, for a monitor, inside
 * Enter..ExitMonitor). ref_zero is called when its refcount reaches zero.
 */
static inline void mgmt_inv_transit_begin(atomic_int *t)
{
	atomic_fetch_add_explicit(t, 1, memory_order_relaxed);
}

static inline void mgmt_inv_transit_end(atomic_int *t)
{
	atomic_fetch_sub_explicit(t, 1, memory_order_relaxed);
}

void mgmt_inv_ref_zero(atomic_int *transit, const char *what, const char *file, int line);

#ifdef MGMT_INVARIANTS
#define MGMT_INV(call) call
/* Check cond; report invariant name with the message when it does not hold. */
#define MGMT_INV_CHECK(cond, name, ...) \
	do { if (!(cond)) mgmt_inv_fail(name, __FILE__, __LINE__, __VA_ARGS__); } while (0)
/* Out of rank order, and trylock (0 on success) took the lock without blocking. */
#define MGMT_INV_TOOK_FREE(rank, trylock) (mgmt_inv_rank_inverted(rank) && (trylock) == 0)
#else
#define MGMT_INV(call) ((void)0)
#define MGMT_INV_CHECK(cond, name, ...) ((void)0)
#define MGMT_INV_TOOK_FREE(rank, trylock) false
#endif

#endif
