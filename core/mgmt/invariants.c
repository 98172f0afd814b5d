/*
 * The invariant checker: a per-thread stack of held mgmt locks (no
 * allocation, at most MGMT_INV_MAX_HELD entries) and the violation handler.
 * Nothing here synchronizes threads: the stack is thread-local and the one
 * shared word (the handler) is a relaxed atomic, so ThreadSanitizer sees no
 * happens-before edge from the checker.
 */
#include "invariants.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef MIGRACE_SYNC_POINTS
#include <migrace/migrace.h>
#endif

struct held_lock {
	const void *obj;
	enum mgmt_rank rank;
};

static _Thread_local struct held_lock held[MGMT_INV_MAX_HELD];
static _Thread_local int nheld;		/* may exceed MGMT_INV_MAX_HELD: counted only */

static _Thread_local int event_instance = -1;	/* the worker's event, or -1 */
static _Atomic(mgmt_inv_handler) handler;	/* relaxed: set by tests before threads */

static const char *rank_name(enum mgmt_rank r)
{
	switch (r) {
	case MGMT_RANK_DRIVER: return "driver";
	case MGMT_RANK_LIST: return "domain-list";
	case MGMT_RANK_DOMAIN: return "domain";
	case MGMT_RANK_MONITOR: return "monitor";
	}
	return "?";
}

mgmt_inv_handler mgmt_inv_set_handler(mgmt_inv_handler h)
{
	return atomic_exchange_explicit(&handler, h, memory_order_relaxed);
}

void mgmt_inv_fail(const char *name, const char *file, int line, const char *fmt, ...)
{
	mgmt_inv_handler h = atomic_load_explicit(&handler, memory_order_relaxed);
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h) {
		h(name, file, line, msg);
		return;
	}
#ifdef MIGRACE_SYNC_POINTS
	migrace_invariant_failed(name, file, line, "%s", msg);
#else
	fprintf(stderr, "invariant:%s at %s:%d: %s\n", name, file, line, msg);
	abort();
#endif
}

void mgmt_inv_before_lock(enum mgmt_rank rank, const void *obj, const char *file, int line)
{
	int n = nheld < MGMT_INV_MAX_HELD ? nheld : MGMT_INV_MAX_HELD;

	for (int i = 0; i < n; i++) {
		if (held[i].rank > rank) {
			mgmt_inv_fail("lock-rank", file, line,
				      "blocking on a %s lock (held by another thread) while holding a %s lock",
				      rank_name(rank), rank_name(held[i].rank));
			return;
		}
	}
}

bool mgmt_inv_rank_inverted(enum mgmt_rank rank)
{
	int n = nheld < MGMT_INV_MAX_HELD ? nheld : MGMT_INV_MAX_HELD;

	for (int i = 0; i < n; i++)
		if (held[i].rank > rank)
			return true;
	return false;
}

void mgmt_inv_locked(enum mgmt_rank rank, const void *obj)
{
	if (nheld < MGMT_INV_MAX_HELD)
		held[nheld] = (struct held_lock){ obj, rank };
	nheld++;
}

void mgmt_inv_unlocked(const void *obj)
{
	int n = nheld < MGMT_INV_MAX_HELD ? nheld : MGMT_INV_MAX_HELD;

	/* locks are not always released in LIFO order: remove obj wherever it is */
	for (int i = n - 1; i >= 0; i--) {
		if (held[i].obj == obj) {
			for (int j = i; j < n - 1; j++)
				held[j] = held[j + 1];
			nheld--;
			return;
		}
	}
	if (nheld > MGMT_INV_MAX_HELD)
		nheld--;	/* an entry beyond the recorded ones */
}

bool mgmt_inv_holds(const void *obj)
{
	int n = nheld < MGMT_INV_MAX_HELD ? nheld : MGMT_INV_MAX_HELD;

	for (int i = 0; i < n; i++)
		if (held[i].obj == obj)
			return true;
	return false;
}

int mgmt_inv_held_count(void)
{
	return nheld;
}

void mgmt_inv_blocking(const char *what, const void *except, const char *file, int line)
{
	int n = nheld < MGMT_INV_MAX_HELD ? nheld : MGMT_INV_MAX_HELD;

	for (int i = 0; i < n; i++) {
		if ((held[i].rank == MGMT_RANK_DRIVER || held[i].rank == MGMT_RANK_DOMAIN) &&
		    held[i].obj != except) {
			mgmt_inv_fail("blocking-under-lock", file, line, "%s while holding a %s lock",
				      what, rank_name(held[i].rank));
			return;
		}
	}
}

void mgmt_inv_event_begin(int id)
{
	event_instance = id;
}

void mgmt_inv_event_end(void)
{
	event_instance = -1;
}

int mgmt_inv_event_instance(void)
{
	return event_instance;
}

void mgmt_inv_reset_thread(void)
{
	nheld = 0;
	event_instance = -1;
}

void mgmt_inv_ref_zero(atomic_int *transit, const char *what, const char *file, int line)
{
	int n = atomic_load_explicit(transit, memory_order_relaxed);

	if (n > 0)
		mgmt_inv_fail("ref-zero-while-unlocked", file, line,
			      "last reference to the %s dropped while %d thread(s) are "
			      "between unlocking and re-locking it", what, n);
}
