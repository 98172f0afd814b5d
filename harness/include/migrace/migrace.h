/*
 * What a program under the harness may call (scenarios do; an unmodified
 * pthread program needs none of it).
 */
#ifndef MIGRACE_MIGRACE_H
#define MIGRACE_MIGRACE_H

#include "sync_point.h"

/* Under the script strategy, no thread passes sync point `after` before some
 * thread passed `before` (RocksDB's {predecessor, successor}). Call it from
 * main before starting threads; ignored under the other strategies. Returns
 * 0, or -ENOSPC when there are too many constraints. */
int migrace_order(const char *before, const char *after);

/*
 * A broken invariant of the program under test: the run stops with the
 * signature `invariant:<name>` and the message, naming the calling thread and
 * file:line. Outside a run (a program started without the runtime active) it
 * prints the message and aborts.
 *
 *     if (refs == 0 && between_unlock_and_relock)
 *             MIGRACE_INVARIANT("ref-zero-while-unlocked", "domain %s", name);
 */
void migrace_invariant_failed(const char *name, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));
#define MIGRACE_INVARIANT(name, ...) migrace_invariant_failed(name, __FILE__, __LINE__, __VA_ARGS__)

/* Every thread the program created was joined or detached; otherwise the run
 * fails with `invariant:thread-not-joined`, listing them. Call it at the end
 * of a scenario. */
void migrace_check_threads_joined(const char *file, int line);
#define MIGRACE_CHECK_THREADS_JOINED() migrace_check_threads_joined(__FILE__, __LINE__)

/*
 * A choice among 0..n-1 (1 <= n <= 32767) for a program that drives
 * something at random (a workload): drawn from the run's one seeded PRNG,
 * recorded in the trace as a step of the calling thread (`choose k:V/N`),
 * fed back by a replay (a program that chooses elsewhere, or among another
 * n, stops with `divergence`) and kept by `migrace minimize`.
 *
 *     switch (migrace_choose(3)) {
 *     case 0: qmp_migrate_cancel(); break;
 *     ...
 *     }
 *
 * Outside a harness build (no MIGRACE_SYNC_POINTS) it is rand() % n.
 */
#ifdef MIGRACE_SYNC_POINTS
unsigned migrace_choose(unsigned n);
#else
#include <stdlib.h>
__attribute__((weak)) unsigned migrace_choose(unsigned n)
{
	return n > 1 ? (unsigned)rand() % n : 0;
}
#endif

/*
 * A fork point after setup: the program runs single-threaded up to this
 * call once (in the fork server, not under the scheduler), and every
 * schedule forks from here: its runs begin at this call, under the
 * scheduler, with what the setup built. Call it from main while the
 * program has one thread (else the run fails as harness:fork-here), after
 * work that is no part of the race (allocating, initialising, parsing) and
 * before the threads start. The setup runs with the real clocks and outside
 * the scheduler: it must not depend on anything a run decides (its
 * migrace_choose() calls are rand(), its fault points never fail). Outside
 * a harness build (no MIGRACE_SYNC_POINTS) it does nothing.
 */
#if defined(MIGRACE_SYNC_POINTS) || defined(MIGRACE_RT)   /* MIGRACE_RT: the runtime itself */
void migrace_fork_here(void);
#else
static inline void migrace_fork_here(void) {}
#endif

#endif
