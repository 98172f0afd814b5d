/*
 * Scheduling strategies: given the enabled threads at a decision, pick the next
 * one. Every random choice comes from one seeded PRNG per run, so a run is a
 * function of (program, strategy, seed).
 */
#ifndef MIGRACE_STRATEGY_H
#define MIGRACE_STRATEGY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

#define PCT_MAX_DEPTH 16
#define DFS_MAX_BOUND 16
#define GUIDED_RANDOM_WALK UINT32_MAX

enum strat_kind {
	STRAT_SCRIPT,   /* ordering constraints + deterministic default order */
	STRAT_RANDOM,   /* uniform among enabled threads at every decision */
	STRAT_PCT,      /* probabilistic concurrency testing, depth param */
	STRAT_DFS,      /* exhaustive within `param` preemptions */
	STRAT_SWITCHES, /* listed thread switches, else the non-preemptive default */
	STRAT_GUIDED,   /* greybox search (guided.c): per run, listed switches plus
			   random ones after a step, or a fresh PCT run */
	STRAT_POS,      /* partial-order sampling, basic form: each thread's next
			   step has a random priority, drawn again once it ran */
};

/* One listed switch (strategy switches, for `migrace minimize`): when thread t
 * makes its n-th scheduling decision (mem: the decision at its n-th non-stack
 * memory access), thread u runs if it can. */
struct switch_ent {
	uint32_t n;
	uint16_t t, u;
	bool mem;
};

struct strat_spec {
	enum strat_kind kind;
	int param;      /* pct: depth D >= 1; dfs: preemption bound B >= 0 */
};

struct prng {
	uint64_t s[2];
};

struct strategy {
	struct strat_spec spec;
	uint64_t seed;
	struct prng rng;
	/* Prefix of forced choices (dfs backtracking, --schedule), one byte
	 * per step (so threads T0..T255); then the strategy's own choices. */
	const uint16_t *prefix;
	uint32_t prefix_len;
	/* pct */
	uint64_t k;                        /* estimated run length in steps */
	uint64_t change[PCT_MAX_DEPTH];    /* D-1 change-point steps, in [1, k] */
	int nchange;
	int64_t lowest;                    /* lowest priority handed out so far */
	/* with memory points, some runs (by the seed) place their change
	 * points at scheduling points only (strategy_mem): PCT's draw them
	 * among the scheduling points alone (sync_index: in [1, k_sync],
	 * counted by nsync); guided's PCT runs draw them among all decisions,
	 * one due at a memory decision waiting for the thread's next
	 * scheduling point */
	bool sync_cp;
	bool sync_index;
	uint64_t nsync;                    /* sync_index: scheduling decisions so far */
	uint32_t cp_fired;                 /* sync_cp: the change points done, a bit each */
	int nthreads;                      /* threads created: prio[0..nthreads) */
	/* switches */
	const struct switch_ent *sw;
	uint32_t nsw;
	/* guided: the listed switches until step noise_from, then PCT
	 * (pct_run: its change points counted from noise_from; a fresh PCT run
	 * from 0), or a switch to a random other thread with probability
	 * noise/65536 at each decision, drawn from grng (the run's draws of
	 * migrace_choose and fault points stay on rng) */
	bool pct_run;
	uint32_t noise;                    /* GUIDED_RANDOM_WALK: strategy random's run */
	uint64_t noise_from;
	struct prng grng;
	/* the decision being made, set by the runtime before strategy_pick */
	uint32_t key;
	bool key_mem;
	bool fair;                         /* cur spins: it yields (step_rec's fair) */
	int64_t prio[MODEL_MAX_THREADS];   /* last: strategy_begin does not clear it */
};

/* The run has memory points: right after strategy_begin, a PCT run (and
 * guided's PCT runs) draws whether its change points fall on scheduling
 * points only (sync_cp), so that a race between two synchronisation steps is
 * found in not many more schedules than without memory points, not in as
 * many times more as memory decisions dilute the change points. Given
 * k_sync (the first run's scheduling decisions), PCT does so in 3 runs of 4
 * (drawn from the seed apart) and draws them uniformly among the first
 * k_sync scheduling decisions from the seed's own stream: the run is the
 * one the same seed gives without memory points, whose k is k_sync, its
 * memory decisions changing nothing; guided's PCT runs (and PCT without
 * k_sync) in 1 of 2, at the first scheduling point from a step drawn among
 * all decisions. */
void strategy_mem(struct strategy *s, bool mem, uint64_t k_sync);
/* Parses "script", "random", "pct:D", "dfs:B", "pos", "switches", "guided"; returns 0 or -EINVAL with a
 * reason in *why. */
int strat_parse(const char *text, struct strat_spec *out, const char **why);
/* Whether a strategy explores on its own, from the seed and the run index:
 * random, pct, dfs, pos and guided; not script (constraints) nor switches (a
 * list). The commands that explore (hunt, faults --explore) accept these. */
bool strat_explores(enum strat_kind kind);
/* Parses "T.sN>U T.mN>U ..." (space separated) into a malloc'ed array;
 * 0, or -1 with a reason in err. */
int switches_parse(const char *text, struct switch_ent **out, uint32_t *n, char *err, size_t len);
/* One line of a script (--script FILE, a scenario's order): "A -> B" or "A
 * before B", sync point A before B; '#' starts a comment. Returns 1 with the
 * names in a and b (each of `len` bytes), 0 for a blank or comment line, -1
 * with a reason in err. */
int script_parse_line(const char *line, char *a, char *b, size_t len, char *err, size_t errlen);
/* Writes the canonical text of spec (e.g. "pct:2") into buf. */
void strat_format(const struct strat_spec *spec, char *buf, int len);

void prng_seed(struct prng *r, uint64_t seed);
uint64_t prng_next(struct prng *r);
uint64_t prng_below(struct prng *r, uint64_t n);   /* uniform in [0, n) */

void strategy_begin(struct strategy *s, const struct strat_spec *spec, uint64_t seed,
		    uint64_t k, const uint16_t *prefix, uint32_t prefix_len);
void strategy_thread_created(struct strategy *s, int tid);
/* Picks among `enabled` (nonzero) at decision `step`. `cur` is the thread that
 * reached the decision (possibly no longer enabled), `cur_op` its pending op.
 * Returns -1 when a forced prefix choice is not enabled (nondeterminism). */
int strategy_pick_set(struct strategy *s, uint64_t step, const struct tset *enabled, int cur,
		      enum op_kind cur_op);
/* The same for threads T0..T63 only, as a mask. */
int strategy_pick(struct strategy *s, uint64_t step, uint64_t enabled, int cur,
		  enum op_kind cur_op);
/* An open fault decision at `step` (a fault point no plan fixed), `want`
 * being what the fault mode drew: a forced prefix's PREFIX_FAULT_PASS/FAIL,
 * else PCT fails the hit on a change point; the others keep want. */
bool strategy_fault(struct strategy *s, uint64_t step, bool want);
/* The non-preemptive default: cur while enabled, else the lowest id. */
int strategy_default_set(const struct tset *enabled, int cur);
/* At a fair step (cur spins): the next enabled thread after cur, round the
 * ids, else cur. */
int strategy_fair_default(const struct tset *enabled, int cur);
struct step_rec;
/* The default of a recorded step: fair or non-preemptive, as it was. */
int strategy_step_default(const struct step_rec *r);

/* Exhaustive search state, kept by the fork server across runs. */
struct dfs_node {
	struct tset enabled, tried;      /* a fault decision: tried 1 pass, 2 fail */
	uint16_t cur, chosen;            /* a fault decision: chosen 1 for fail */
	uint8_t fault;                   /* 0 a thread choice, FAULT_OPEN or FAULT_FIXED */
	bool fair;                       /* cur spins: no choice is a preemption */
};
#define DFS_FAULT_OPEN 1
#define DFS_FAULT_FIXED 2

struct dfs {
	int bound;
	struct dfs_node *nodes;
	uint32_t n, cap;
	uint16_t *prefix;                  /* choices to force in the next run */
	uint32_t prefix_len;
	uint64_t schedules;
};

int dfs_init(struct dfs *d, int bound);
void dfs_free(struct dfs *d);
/* Feeds the decisions of the run that just ended. Returns 1 when a next
 * prefix is ready, 0 when the space within the bound is exhausted, -1 when the
 * run did not follow its prefix (the program is not deterministic). An open
 * fault decision branches too: failing the hit costs one of the bound, like a
 * preemption. At a fair step (step_rec's fair) the spinning thread does not
 * go on, and a switch to another costs nothing. */
int dfs_next(struct dfs *d, const struct step_rec *log, uint32_t nsteps);

#endif
