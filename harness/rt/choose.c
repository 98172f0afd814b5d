/*
 * migrace_choose: a program's own random choice as a decision of the run.
 * The value comes from the run's seeded PRNG (or from a plan, MIGRACE_CHOICES,
 * which `migrace minimize` derives from a trace), is recorded as a step of
 * the calling thread and, in a replay, is taken from the trace.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the declaration in <migrace/migrace.h> is that of harness builds (MIGRACE_SYNC_POINTS) */
unsigned migrace_choose(unsigned n);

#include "rt.h"

#define CHOICE_PLAN_MAX 8192

/* The plan of this run: thread T's nth choice is v. Parsed at the first
 * choice of each run (a fresh fork), touched only by the baton holder. */
static struct {
	bool parsed;
	unsigned n;
	struct { uint16_t tid; uint32_t nth; uint16_t v; } e[CHOICE_PLAN_MAX];
} plan;
static __thread uint32_t nchosen;   /* the calling thread's choices so far */

/* "T.N=V ..." : thread T's N-th choice (1-based) is V. */
static void plan_parse(void)
{
	const char *p = getenv("MIGRACE_CHOICES");

	plan.parsed = true;
	while (p && *p) {
		unsigned t, v;
		unsigned long nth;
		int used = 0;
		if (sscanf(p, " %u.%lu=%u%n", &t, &nth, &v, &used) != 3 || t >= MODEL_MAX_THREADS)
			rt_fail("harness:choices", "MIGRACE_CHOICES: expected T.N=V entries, not \"%.30s\"", p);
		if (plan.n == CHOICE_PLAN_MAX)
			rt_fail("harness:choices", "MIGRACE_CHOICES: more than %d entries", CHOICE_PLAN_MAX);
		plan.e[plan.n].tid = (uint16_t)t;
		plan.e[plan.n].nth = (uint32_t)nth;
		plan.e[plan.n++].v = (uint16_t)v;
		p += used;
		while (*p == ' ')
			p++;
	}
}

static bool plan_lookup(int tid, uint32_t nth, uint32_t n, uint32_t *v)
{
	if (!plan.parsed)
		plan_parse();
	for (unsigned i = 0; i < plan.n; i++)
		if (plan.e[i].tid == tid && plan.e[i].nth == nth) {
			*v = plan.e[i].v < n ? plan.e[i].v : n - 1;
			return true;
		}
	return false;
}

unsigned migrace_choose(unsigned n)
{
	uintptr_t pc = (uintptr_t)__builtin_return_address(0);

	if (n == 0 || n > STEP_CHOICE_MAX) {
		if (rt_managed())
			rt_fail("harness:choose", "migrace_choose(%u): the bound must be 1..%u", n, STEP_CHOICE_MAX);
		fprintf(stderr, "migrace_choose(%u): the bound must be 1..%u\n", n, STEP_CHOICE_MAX);
		abort();
	}
	if (!rt_managed())            /* outside a run: no decision to record */
		return n > 1 ? (unsigned)rand() % n : 0;
	uint32_t v;
	if (!plan_lookup(rt_self(), ++nchosen, n, &v))
		v = n > 1 ? (uint32_t)rt_random_below(n) : 0;
	return rt_choice(n, v, pc);
}
