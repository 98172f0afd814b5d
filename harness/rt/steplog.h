/*
 * One record per scheduling decision, written by the run into memory shared
 * with the fork server, so a crash, a sanitizer abort or a kill loses nothing.
 */
#ifndef MIGRACE_STEPLOG_H
#define MIGRACE_STEPLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "model.h"

struct step_rec {
	uint16_t chosen;       /* thread that runs next */
	uint16_t cur;          /* thread that reached the decision */
	uint8_t op;            /* enum op_kind of chosen's pending operation */
	char objk;             /* 'm' 'c' 's' 'r' 'o' 'w' object, 'T' thread, 'p' sync point,
	                          'f' fault point (op fault-pass/fail), 'k' a choice
	                          (op choose), '-' */
	bool key_mem;          /* key counts memory accesses, not decisions */
	bool open;             /* a fault decision a strategy may take either way (not
	                          fixed by a plan): dfs branches on it; not in traces */
	bool fair;             /* cur spins (it re-read an unchanged word, rt.c): the
	                          default runs another thread, and a switch here is no
	                          preemption; `fair` in traces */
	int32_t obj;           /* object id, thread id, hit number of a fault point,
	                          a choice's bound and value (STEP_CHOICE);
	                          unused for '-' and 'p' */
	uint32_t key;          /* which decision of `cur` this is: its key-th scheduling
	                          decision, or (key_mem) the one at its key-th non-stack
	                          memory access; 0 in traces that predate keys */
	uint64_t enabled;      /* mask of enabled threads T0..T63 at the decision */
	const uint64_t *enabled_hi; /* NULL, or the same for T64 and above: enabled_hi[0]
	                          words follow (T64..T127, ...); the run's ones are in
	                          memory shared with the fork server, a trace's its own */
	uint64_t pc;           /* call site, as an offset into the executable */
	int64_t now;           /* virtual time (ns) at the decision */
	const char *name;      /* sync or fault point name (a string of the program) */
};

/* A choice (migrace_choose) of `v` among 0..n-1, n at most STEP_CHOICE_MAX,
 * in one obj field; the trace writes it k:V/N. */
#define STEP_CHOICE_MAX 32767u
#define STEP_CHOICE(n, v) ((int32_t)((uint32_t)(n) << 16 | (uint32_t)(v)))
#define STEP_CHOICE_N(obj) ((uint32_t)(obj) >> 16)
#define STEP_CHOICE_V(obj) ((uint32_t)(obj) & 0xffffu)

/* A forced prefix (dfs, --schedule) holds a thread per step (T0..T1023, 16
 * bits); at a fault decision, these two values say pass or fail (dfs writes
 * them). */
#define PREFIX_FAULT_PASS 0xfffe
#define PREFIX_FAULT_FAIL 0xffff

static inline void step_get_enabled(const struct step_rec *r, struct tset *out)
{
	out->w[0] = r->enabled;
	for (int i = 1; i < TSET_WORDS; i++)
		out->w[i] = r->enabled_hi && (uint64_t)i <= r->enabled_hi[0] ? r->enabled_hi[i] : 0;
}

/* The number of words above the first that a step needs for s (0: none). */
static inline int tset_hi_words(const struct tset *s)
{
	int top = TSET_WORDS - 1;
	while (top > 0 && !s->w[top])
		top--;
	return top;
}

#endif
