/*
 * Unit tests of the scheduling strategies (harness/rt/strategy.c): parsing,
 * the PRNG, the script/random/PCT pickers, forced prefixes, and the bounded
 * exhaustive search driven over small synthetic programs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "steplog.h"
#include "strategy.h"

/* ---- parsing ------------------------------------------------------------ */

static void test_parse_valid(void **state)
{
	static const struct {
		const char *text;
		enum strat_kind kind;
		int param;
	} cases[] = {
		{ "script", STRAT_SCRIPT, 0 }, { "random", STRAT_RANDOM, 0 },
		{ "pct:1", STRAT_PCT, 1 },     { "pct:2", STRAT_PCT, 2 },
		{ "pct:16", STRAT_PCT, 16 },   { "dfs:0", STRAT_DFS, 0 },
		{ "dfs:3", STRAT_DFS, 3 },     { "dfs:16", STRAT_DFS, 16 },
		{ "guided", STRAT_GUIDED, 3 },  { "pos", STRAT_POS, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strat_spec spec = { STRAT_RANDOM, -1 };
		const char *why = NULL;
		char buf[32];

		assert_int_equal(strat_parse(cases[i].text, &spec, &why), 0);
		assert_null(why);
		assert_int_equal(spec.kind, cases[i].kind);
		assert_int_equal(spec.param, cases[i].param);
		strat_format(&spec, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].text);
	}
}

/* The kinds that explore on their own: what hunt and faults --explore take */
static void test_explores(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool explores;
	} cases[] = {
		{ "random", true }, { "pct:3", true },     { "dfs:1", true },  { "pos", true },
		{ "guided", true }, { "script", false }, { "switches", false },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strat_spec spec;
		const char *why = NULL;

		assert_int_equal(strat_parse(cases[i].text, &spec, &why), 0);
		if (strat_explores(spec.kind) != cases[i].explores)
			fail_msg("\"%s\": explores %d, expected %d", cases[i].text, !cases[i].explores,
				 cases[i].explores);
	}
}

static void test_parse_invalid(void **state)
{
	static const struct {
		const char *text;
		const char *reason;      /* a word the reason must contain */
	} cases[] = {
		{ "pct", "pct" },     { "pct:0", "pct" },  { "pct:17", "pct" }, { "pct:x", "pct" },
		{ "pct:", "pct" },    { "pct:2x", "pct" }, { "dfs:-1", "dfs" }, { "dfs", "dfs" },
		{ "dfs:17", "dfs" },  { "dfs:", "dfs" },   { "bogus", "unknown" },
		{ "", "unknown" },    { "Random", "unknown" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strat_spec spec;
		const char *why = NULL;

		assert_int_equal(strat_parse(cases[i].text, &spec, &why), -EINVAL);
		assert_non_null(why);
		if (!strstr(why, cases[i].reason))
			fail_msg("\"%s\": reason \"%s\" does not mention \"%s\"", cases[i].text, why,
				 cases[i].reason);
	}
}

static void test_format(void **state)
{
	char buf[16];
	struct strat_spec pct = { STRAT_PCT, 3 }, dfs = { STRAT_DFS, 0 };

	strat_format(&pct, buf, sizeof(buf));
	assert_string_equal(buf, "pct:3");
	strat_format(&dfs, buf, sizeof(buf));
	assert_string_equal(buf, "dfs:0");
	strat_format(&pct, buf, 4);            /* truncated, still terminated */
	assert_string_equal(buf, "pct");
}

/* ---- the PRNG ----------------------------------------------------------- */

static void test_prng_deterministic(void **state)
{
	struct prng a, b, c;
	int differ = 0;

	prng_seed(&a, 42);
	prng_seed(&b, 42);
	prng_seed(&c, 43);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = prng_next(&a);
		assert_true(x == prng_next(&b));
		differ += x != prng_next(&c);
	}
	assert_true(differ > 990);

	/* reseeding restarts the sequence */
	prng_seed(&a, 7);
	uint64_t first = prng_next(&a);
	prng_next(&a);
	prng_seed(&a, 7);
	assert_true(prng_next(&a) == first);
}

static void test_prng_below(void **state)
{
	struct prng r;
	prng_seed(&r, 1);

	for (uint64_t n = 1; n <= 10; n++) {
		int hits[10] = { 0 };
		for (int i = 0; i < 2000; i++) {
			uint64_t v = prng_below(&r, n);
			assert_true(v < n);
			hits[v]++;
		}
		for (uint64_t v = 0; v < n; v++)
			if (hits[v] < 2000 / (int)n / 2)
				fail_msg("prng_below(%lu): %lu drawn %d times in 2000", (unsigned long)n,
					 (unsigned long)v, hits[v]);
	}
	for (int i = 0; i < 100; i++) {
		assert_true(prng_below(&r, UINT64_MAX) < UINT64_MAX);
		assert_true(prng_below(&r, (1ull << 63) + 1) <= (1ull << 63));
	}
}

/* ---- script, random, prefixes ------------------------------------------- */

static void begin(struct strategy *s, enum strat_kind kind, int param, uint64_t seed, uint64_t k,
		  const uint16_t *prefix, uint32_t prefix_len, int nthreads)
{
	struct strat_spec spec = { kind, param };
	strategy_begin(s, &spec, seed, k, prefix, prefix_len);
	for (int t = 0; t < nthreads; t++)
		strategy_thread_created(s, t);
}

static void test_default_choice(void **state)
{
	struct tset e = { { 0x6 } };
	assert_int_equal(strategy_default_set(&e, 1), 1);
	assert_int_equal(strategy_default_set(&e, 2), 2);
	assert_int_equal(strategy_default_set(&e, 0), 1);   /* cur blocked: lowest id */
	assert_int_equal(strategy_default_set(&e, 3), 1);
	e = (struct tset){ { 0x8 } };
	assert_int_equal(strategy_default_set(&e, -1), 3);
	e = (struct tset){ { 1ull << 63 } };
	assert_int_equal(strategy_default_set(&e, 0), 63);
	e = (struct tset){ { 1ull << 63 | 1 } };
	assert_int_equal(strategy_default_set(&e, 63), 63);
	e = (struct tset){ { 0, 0, 1ull << 4 } };       /* T132 only */
	assert_int_equal(strategy_default_set(&e, 0), 132);
	e.w[0] = 1;                                     /* T0 and T132: T132 runs on */
	assert_int_equal(strategy_default_set(&e, 132), 132);

	static const enum strat_kind kinds[] = { STRAT_SCRIPT, STRAT_DFS };
	for (size_t i = 0; i < 2; i++) {
		struct strategy s;
		begin(&s, kinds[i], 0, 99, 0, NULL, 0, 3);
		assert_int_equal(strategy_pick(&s, 0, 0x7, 2, OP_LOCK), 2);
		assert_int_equal(strategy_pick(&s, 1, 0x7, 2, OP_YIELD), 2);
		assert_int_equal(strategy_pick(&s, 2, 0x6, 0, OP_LOCK), 1);
		assert_int_equal(strategy_pick(&s, 3, 0x4, 1, OP_LOCK), 2);
	}
}

static void test_random_picks_enabled(void **state)
{
	struct strategy s;
	struct prng masks;
	int hits[8] = { 0 };

	begin(&s, STRAT_RANDOM, 0, 5, 0, NULL, 0, 8);
	prng_seed(&masks, 1234);
	for (uint64_t step = 0; step < 5000; step++) {
		uint64_t e = prng_next(&masks) & 0xff;
		if (!e)
			continue;
		int t = strategy_pick(&s, step, e, 0, OP_LOCK);
		assert_in_range(t, 0, 7);
		assert_true(e >> t & 1);
	}
	/* every enabled thread is picked sometimes, no other ever */
	for (uint64_t step = 0; step < 2000; step++) {
		int t = strategy_pick(&s, step, 0xb4, 2, OP_LOCK);
		assert_true(0xb4 >> t & 1);
		hits[t]++;
	}
	for (int t = 0; t < 8; t++)
		if ((0xb4 >> t & 1) && hits[t] < 300)
			fail_msg("random: T%d picked %d times in 2000 among 4 enabled", t, hits[t]);
}

/* n picks of a strategy among 4 threads (T0 blocked at every third step),
 * each run by the thread picked before */
static void pick_sequence(enum strat_kind kind, uint64_t seed, int *out, int n)
{
	struct strategy s;
	begin(&s, kind, 0, seed, 0, NULL, 0, 4);
	for (int i = 0; i < n; i++)
		out[i] = strategy_pick(&s, (uint64_t)i, i % 3 ? 0xf : 0xe, i ? out[i - 1] : 0, OP_LOCK);
}

static void random_sequence(uint64_t seed, int *out, int n)
{
	pick_sequence(STRAT_RANDOM, seed, out, n);
}

static void test_random_reproducible(void **state)
{
	int a[200], b[200], c[200];

	random_sequence(17, a, 200);
	random_sequence(17, b, 200);
	random_sequence(18, c, 200);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	for (uint64_t seed = 100; seed < 110; seed++) {
		random_sequence(seed, b, 200);
		assert_memory_not_equal(a, b, sizeof(a));
	}
}

/* ---- pos ---------------------------------------------------------------- */

static void test_pos(void **state)
{
	struct strategy s;

	/* the seed is the whole run: same seed same picks, another seed others */
	int a[300], b[300], c[300];
	pick_sequence(STRAT_POS, 17, a, 300);
	pick_sequence(STRAT_POS, 17, b, 300);
	pick_sequence(STRAT_POS, 18, c, 300);
	assert_memory_equal(a, b, sizeof(a));
	assert_memory_not_equal(a, c, sizeof(a));
	for (int i = 0; i < 300; i++)
		assert_true((i % 3 ? 0xf : 0xe) >> a[i] & 1);

	/* the highest priority runs, and a waiting thread keeps its priority:
	 * with no running thread to draw again, the same one wins every time */
	begin(&s, STRAT_POS, 0, 7, 0, NULL, 0, 4);
	int top = strategy_pick(&s, 0, 0xf, -1, OP_LOCK);
	for (int t = 0; t < 4; t++)
		if (t != top)
			assert_true(s.prio[t] < s.prio[top]);
	for (uint64_t step = 1; step < 50; step++)
		assert_int_equal(strategy_pick(&s, step, 0xf, -1, OP_LOCK), top);

	/* the thread that ran draws again, the others do not */
	int64_t before[4];
	memcpy(before, s.prio, sizeof(before));
	int changed = 0;
	for (uint64_t step = 50; step < 80; step++) {
		memcpy(before, s.prio, sizeof(before));
		strategy_pick(&s, step, 0xf, 2, OP_LOCK);
		for (int t = 0; t < 4; t++)
			if (t != 2)
				assert_true(s.prio[t] == before[t]);
		changed += s.prio[2] != before[2];
	}
	assert_true(changed >= 28);

	/* a thread created later has a priority of its own */
	begin(&s, STRAT_POS, 0, 3, 0, NULL, 0, 2);
	strategy_thread_created(&s, 2);
	assert_int_equal(s.nthreads, 3);

	/* every enabled thread runs sometimes, over seeds, when the runner blocks */
	int hits[4] = { 0 };
	for (uint64_t seed = 1; seed <= 400; seed++) {
		begin(&s, STRAT_POS, 0, seed, 0, NULL, 0, 4);
		hits[strategy_pick(&s, 0, 0xd, 1, OP_LOCK)]++;
	}
	assert_int_equal(hits[1], 0);
	for (int t = 0; t < 4; t++)
		if (t != 1 && hits[t] < 80)
			fail_msg("pos: T%d ran first for %d of 400 seeds among 3 enabled", t, hits[t]);

	/* a fair step (a spin) hands over */
	begin(&s, STRAT_POS, 0, 5, 0, NULL, 0, 3);
	s.fair = true;
	for (int i = 0; i < 200; i++)
		assert_int_not_equal(strategy_pick(&s, (uint64_t)i, 0x7, 1, OP_MEM), 1);
	assert_int_equal(strategy_pick(&s, 200, 0x2, 1, OP_MEM), 1);   /* alone: it goes on */

	/* a fault hit keeps what it wants */
	assert_true(strategy_fault(&s, 5, true));
	assert_false(strategy_fault(&s, 5, false));
}

static void test_prefix_forced(void **state)
{
	static const uint16_t prefix[] = { 1, 0, 1, 2 };
	static const enum strat_kind kinds[] = { STRAT_SCRIPT, STRAT_RANDOM, STRAT_PCT, STRAT_DFS };

	for (size_t i = 0; i < 4; i++) {
		struct strategy s;
		begin(&s, kinds[i], 2, 3, 10, prefix, 4, 3);
		/* followed whatever cur is */
		assert_int_equal(strategy_pick(&s, 0, 0x7, 0, OP_LOCK), 1);
		assert_int_equal(strategy_pick(&s, 1, 0x7, 1, OP_LOCK), 0);
		assert_int_equal(strategy_pick(&s, 2, 0x7, 0, OP_YIELD), 1);
		/* the forced thread cannot run here: divergence */
		assert_int_equal(strategy_pick(&s, 3, 0x3, 1, OP_LOCK), -1);
		assert_int_equal(strategy_pick(&s, 3, 0x4, 1, OP_LOCK), 2);
	}
	/* past the prefix: the strategy's own choice (script: cur) */
	struct strategy s;
	begin(&s, STRAT_SCRIPT, 0, 0, 0, prefix, 4, 3);
	assert_int_equal(strategy_pick(&s, 4, 0x7, 0, OP_LOCK), 0);
	assert_int_equal(strategy_pick(&s, 5, 0x6, 0, OP_LOCK), 1);
}

/* ---- PCT ---------------------------------------------------------------- */

static int argmax_prio(const struct strategy *s, uint64_t enabled)
{
	int best = -1;
	for (int t = 0; t < 64; t++)
		if ((enabled >> t & 1) && (best < 0 || s->prio[t] > s->prio[best]))
			best = t;
	return best;
}

static void test_pct_depth1_no_preemption(void **state)
{
	uint64_t tops = 0;

	for (uint64_t seed = 0; seed < 64; seed++) {
		struct strategy s;
		begin(&s, STRAT_PCT, 1, seed, 100, NULL, 0, 4);
		assert_int_equal(s.nchange, 0);
		for (int a = 0; a < 4; a++) {
			assert_true(s.prio[a] > PCT_MAX_DEPTH);
			for (int b = 0; b < a; b++)
				assert_true(s.prio[a] != s.prio[b]);
		}
		int top = argmax_prio(&s, 0xf), cur = 0;
		tops |= 1ull << top;
		for (uint64_t step = 0; step < 100; step++) {
			cur = strategy_pick(&s, step, 0xf, cur, OP_LOCK);
			assert_int_equal(cur, top);
		}
		/* the top thread blocks: the next by priority runs, and stays */
		int second = argmax_prio(&s, 0xf & ~(1ull << top));
		for (uint64_t step = 100; step < 150; step++) {
			cur = strategy_pick(&s, step, 0xf & ~(1ull << top), cur, OP_LOCK);
			assert_int_equal(cur, second);
		}
		assert_int_equal(strategy_pick(&s, 150, 0xf, cur, OP_LOCK), top);
	}
	/* the initial priorities are a random permutation */
	assert_int_equal(tops, 0xf);
}

static void test_pct_depth2_one_change_point(void **state)
{
	const uint64_t k = 20;
	uint64_t where = 0;

	for (uint64_t seed = 0; seed < 300; seed++) {
		struct strategy s;
		begin(&s, STRAT_PCT, 2, seed, k, NULL, 0, 2);
		assert_int_equal(s.nchange, 1);
		assert_in_range(s.change[0], 1, k);
		where |= 1ull << s.change[0];

		/* two threads that never block: exactly one switch, at the change point */
		int prev = strategy_pick(&s, 0, 0x3, 0, OP_LOCK), switches = 0;
		for (uint64_t step = 1; step <= k + 5; step++) {
			int t = strategy_pick(&s, step, 0x3, prev, OP_LOCK);
			if (t != prev) {
				switches++;
				assert_true(step == s.change[0]);
			}
			prev = t;
		}
		assert_int_equal(switches, 1);
	}
	/* every step of [1, k] was a change point for some seed */
	assert_true(where == ((1ull << (k + 1)) - 2));
}

/* A PCT run of depth 2 between two threads where every third decision is
 * a scheduling point and the others memory accesses: the one step where
 * the thread changes (it must change exactly once). */
static uint64_t mem_run_switch(struct strategy *s, uint64_t k)
{
	uint64_t at = 0;
	int switches = 0;
	s->key_mem = false;
	int prev = strategy_pick(s, 0, 0x3, 0, OP_LOCK);
	for (uint64_t step = 1; step <= k + 5; step++) {
		s->key_mem = step % 3 != 0;
		int t = strategy_pick(s, step, 0x3, prev, s->key_mem ? OP_MEM : OP_LOCK);
		if (t != prev) {
			switches++;
			at = step;
		}
		prev = t;
	}
	assert_int_equal(switches, 1);
	return at;
}

/* With memory points, half of the PCT runs keep their change points for
 * scheduling points: one due at a memory decision fires at the thread's
 * next scheduling point; the other half fire where they fall. */
static void test_pct_mem_sync_change_points(void **state)
{
	const uint64_t k = 20;
	int sync_runs = 0;

	for (uint64_t seed = 0; seed < 200; seed++) {
		struct strategy s;
		struct strat_spec spec = { STRAT_PCT, 2 };
		strategy_begin(&s, &spec, seed, k, NULL, 0);
		strategy_mem(&s, true, 0);
		strategy_thread_created(&s, 0);
		strategy_thread_created(&s, 1);
		sync_runs += s.sync_cp;
		/* every third decision is a scheduling point, the others memory accesses */
		uint64_t want = s.change[0];
		if (s.sync_cp)
			while (want % 3)
				want++;
		assert_int_equal(mem_run_switch(&s, k), want);
	}
	assert_in_range(sync_runs, 60, 140);
	/* without memory points, and for random, nothing changes */
	struct strategy s;
	struct strat_spec pct = { STRAT_PCT, 3 }, rnd = { STRAT_RANDOM, 0 };
	for (uint64_t seed = 0; seed < 50; seed++) {
		strategy_begin(&s, &pct, seed, k, NULL, 0);
		strategy_mem(&s, false, 0);
		assert_false(s.sync_cp);
		strategy_begin(&s, &rnd, seed, k, NULL, 0);
		strategy_mem(&s, true, 0);
		assert_false(s.sync_cp);
	}
}

/* Given k_sync, 3 PCT runs in 4 draw their change point among the
 * scheduling points alone, uniformly, and it falls exactly on the one drawn:
 * such a run is the seed's run without memory points; the others keep
 * theirs among all decisions. Guided's PCT runs do not. */
static void test_pct_mem_sync_index(void **state)
{
	const uint64_t k = 30, k_sync = 10;
	int sync_runs = 0, at[10] = { 0 };

	for (uint64_t seed = 0; seed < 400; seed++) {
		struct strategy s;
		struct strat_spec spec = { STRAT_PCT, 2 };
		strategy_begin(&s, &spec, seed, k, NULL, 0);
		strategy_mem(&s, true, k_sync);
		strategy_thread_created(&s, 0);
		strategy_thread_created(&s, 1);
		sync_runs += s.sync_cp;
		assert_true(s.sync_index == s.sync_cp);
		if (s.sync_cp) {
			/* the very run the seed gives without memory points, with k = k_sync */
			struct strategy plain;
			strategy_begin(&plain, &spec, seed, k_sync, NULL, 0);
			strategy_thread_created(&plain, 0);
			strategy_thread_created(&plain, 1);
			assert_int_equal(s.nchange, plain.nchange);
			assert_int_equal(s.change[0], plain.change[0]);
			assert_true(s.prio[0] == plain.prio[0] && s.prio[1] == plain.prio[1]);
			assert_in_range(s.change[0], 1, k_sync);
		}
		/* every third decision is a scheduling point, the others memory accesses */
		uint64_t want = s.sync_cp ? s.change[0] * 3 : s.change[0];
		assert_int_equal(mem_run_switch(&s, k), want);
		if (s.sync_cp)
			at[want / 3 - 1]++;
	}
	assert_in_range(sync_runs, 260, 340);
	/* a fault hit counts as a scheduling step there: the run fails the hit
	 * at its change point, whatever the step number of all decisions */
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct strategy s;
		struct strat_spec spec = { STRAT_PCT, 2 };
		strategy_begin(&s, &spec, seed, k, NULL, 0);
		strategy_mem(&s, true, k_sync);
		if (!s.sync_index)
			continue;
		for (uint64_t i = 0; i <= k_sync; i++)
			assert_true(strategy_fault(&s, 1000 + 3 * i, false) == (i == s.change[0]));
	}
	for (int i = 0; i < 10; i++)          /* uniform over the scheduling points */
		assert_in_range(at[i], 10, 50);
	for (uint64_t seed = 0; seed < 50; seed++) {
		struct strategy s;
		struct strat_spec guided = { STRAT_GUIDED, 3 };
		strategy_begin(&s, &guided, seed, k, NULL, 0);
		strategy_mem(&s, true, k_sync);
		assert_false(s.sync_index);
	}
}

static void test_pct_change_points(void **state)
{
	for (uint64_t seed = 0; seed < 100; seed++) {
		struct strategy s;
		begin(&s, STRAT_PCT, 5, seed, 10, NULL, 0, 3);
		assert_int_equal(s.nchange, 4);
		for (int i = 0; i < 4; i++) {
			assert_in_range(s.change[i], 1, 10);
			for (int j = 0; j < i; j++)
				assert_true(s.change[i] != s.change[j]);
		}
		/* fewer steps than change points: one per step at most */
		begin(&s, STRAT_PCT, 16, seed, 3, NULL, 0, 3);
		assert_int_equal(s.nchange, 3);
		begin(&s, STRAT_PCT, 3, seed, 0, NULL, 0, 3);
		assert_int_equal(s.nchange, 0);
	}
	/* reproducible for a seed */
	struct strategy a, b;
	begin(&a, STRAT_PCT, 4, 77, 1000, NULL, 0, 5);
	begin(&b, STRAT_PCT, 4, 77, 1000, NULL, 0, 5);
	assert_memory_equal(a.change, b.change, sizeof(a.change));
	assert_int_equal(a.nthreads, b.nthreads);
	assert_memory_equal(a.prio, b.prio, sizeof(a.prio[0]) * (size_t)a.nthreads);
}

static void test_pct_yield_gives_way(void **state)
{
	struct strategy s;
	begin(&s, STRAT_PCT, 1, 11, 100, NULL, 0, 3);
	int first = argmax_prio(&s, 0x7);
	int second = argmax_prio(&s, 0x7 & ~(1ull << first));
	int third = 0 + 1 + 2 - first - second;

	assert_int_equal(strategy_pick(&s, 0, 0x7, first, OP_LOCK), first);
	/* first yields: it goes below everyone */
	assert_int_equal(strategy_pick(&s, 1, 0x7, first, OP_YIELD), second);
	assert_int_equal(strategy_pick(&s, 2, 0x7, second, OP_LOCK), second);
	/* second yields: below first, which is below third */
	assert_int_equal(strategy_pick(&s, 3, 0x7, second, OP_YIELD), third);
	assert_int_equal(strategy_pick(&s, 4, 0x7, third, OP_YIELD), first);
	assert_int_equal(strategy_pick(&s, 5, 0x7, first, OP_LOCK), first);
	/* a yielder still runs when nobody else can */
	assert_int_equal(strategy_pick(&s, 6, 1ull << first, first, OP_YIELD), first);
}

/* A fair step (the running thread spins on memory, rt.c): every strategy
 * lets another thread run; dfs neither lets the spinner go on there nor
 * counts the switch as a preemption. */
static void test_fair_steps(void **state)
{
	static const enum strat_kind kinds[] = { STRAT_SCRIPT, STRAT_DFS, STRAT_SWITCHES };
	for (size_t i = 0; i < 3; i++) {
		struct strategy s;
		begin(&s, kinds[i], 0, 99, 0, NULL, 0, 3);
		s.fair = true;
		assert_int_equal(strategy_pick(&s, 0, 0x7, 1, OP_MEM), 2);   /* the next one */
		assert_int_equal(strategy_pick(&s, 1, 0x7, 2, OP_MEM), 0);   /* round the ids */
		assert_int_equal(strategy_pick(&s, 2, 0x2, 1, OP_MEM), 1);   /* alone: it goes on */
		s.fair = false;
		assert_int_equal(strategy_pick(&s, 3, 0x7, 1, OP_MEM), 1);
	}
	struct strategy s;
	begin(&s, STRAT_RANDOM, 0, 5, 0, NULL, 0, 3);
	s.fair = true;
	for (int i = 0; i < 200; i++)
		assert_int_not_equal(strategy_pick(&s, (uint64_t)i, 0x7, 1, OP_MEM), 1);
	/* PCT: the spinner goes below the others, as a yield does */
	begin(&s, STRAT_PCT, 1, 11, 100, NULL, 0, 3);
	int first = argmax_prio(&s, 0x7);
	s.fair = true;
	int next = strategy_pick(&s, 0, 0x7, first, OP_MEM);
	assert_int_not_equal(next, first);
	s.fair = false;
	assert_int_equal(strategy_pick(&s, 1, 0x7 & ~(1ull << next), next, OP_MEM), 3 - first - next);

	struct step_rec r = { .chosen = 1, .cur = 0, .op = OP_MEM, .objk = '-', .enabled = 0x3, .key = 8,
			      .key_mem = true, .fair = true };
	assert_int_equal(strategy_step_default(&r), 1);
	struct dfs d;
	assert_int_equal(dfs_init(&d, 0), 0);
	assert_int_equal(dfs_next(&d, &r, 1), 0);     /* T0 going on is no alternative */
	dfs_free(&d);
	r.fair = false;
	assert_int_equal(strategy_step_default(&r), 0);
	assert_int_equal(dfs_init(&d, 0), 0);
	assert_int_equal(dfs_next(&d, &r, 1), 1);     /* T0 going on is, and costs nothing */
	assert_int_equal(d.prefix[0], 0);
	dfs_free(&d);
}

/* ---- synthetic programs --------------------------------------------------- */

#define MAXT 4
#define MAXSTEPS 64

/* Each thread runs its string, one character per step: 'x' a plain step,
 * 'L' / 'U' lock / unlock of the program's one mutex. `first_cur` is the
 * thread that reaches the first decision (may be outside the program, e.g. a
 * main thread blocked in join). The run stops after max_steps if nonzero. */
struct prog {
	int n;
	const char *code[MAXT];
	int first_cur;
	int max_steps;
};

struct pstate {
	int pc[MAXT];
	int owner;
	int steps;
};

static uint64_t prog_enabled(const struct prog *p, const struct pstate *st)
{
	uint64_t e = 0;
	if (p->max_steps && st->steps == p->max_steps)
		return 0;
	for (int t = 0; t < p->n; t++) {
		char c = p->code[t][st->pc[t]];
		if (c && (c != 'L' || st->owner < 0))
			e |= 1ull << t;
	}
	return e;
}

static void prog_step(const struct prog *p, struct pstate *st, int t)
{
	char c = p->code[t][st->pc[t]++];
	if (c == 'L')
		st->owner = t;
	else if (c == 'U')
		st->owner = -1;
	st->steps++;
}

/* Runs p under s; returns the number of steps, or -1 when s diverged. */
static int prog_run(const struct prog *p, struct strategy *s, struct step_rec *log)
{
	struct pstate st = { .owner = -1 };
	int cur = p->first_cur;

	for (int step = 0;; step++) {
		uint64_t e = prog_enabled(p, &st);
		if (!e)
			return step;
		assert_true(step < MAXSTEPS);
		int t = strategy_pick(s, (uint64_t)step, e, cur, OP_LOCK);
		if (t < 0)
			return -1;
		assert_true(e >> t & 1);
		log[step] = (struct step_rec){ .chosen = (uint8_t)t, .cur = (uint8_t)cur, .op = OP_LOCK,
					       .objk = '-', .enabled = e };
		prog_step(p, &st, t);
		cur = t;
	}
}

static int preemptions(const struct step_rec *log, int n)
{
	int k = 0;
	for (int i = 0; i < n; i++)
		k += log[i].chosen != log[i].cur && (log[i].enabled >> log[i].cur & 1);
	return k;
}

/* Independent count: every complete schedule of p within `bound` preemptions. */
static long brute_count(const struct prog *p, struct pstate st, int cur, int used, int bound)
{
	uint64_t e = prog_enabled(p, &st);
	long n = 0;

	if (!e)
		return 1;
	for (int t = 0; t < p->n; t++) {
		if (!(e >> t & 1))
			continue;
		int pre = used + (t != cur && (e >> cur & 1));
		if (pre > bound)
			continue;
		struct pstate next = st;
		prog_step(p, &next, t);
		n += brute_count(p, next, t, pre, bound);
	}
	return n;
}

static long brute(const struct prog *p, int bound)
{
	struct pstate st = { .owner = -1 };
	return brute_count(p, st, p->first_cur, 0, bound);
}

#define MAXSCHED 4096
static char seen[MAXSCHED][MAXSTEPS + 1];

/* Explores p with dfs:bound; checks that every schedule is new and within
 * the bound; returns the number of runs. */
static long dfs_explore(const struct prog *p, int bound)
{
	struct dfs d;
	struct step_rec log[MAXSTEPS];
	long runs = 0;

	assert_int_equal(dfs_init(&d, bound), 0);
	for (;;) {
		struct strategy s;
		begin(&s, STRAT_DFS, bound, 0, 0, d.prefix, d.prefix_len, p->n);
		int n = prog_run(p, &s, log);
		assert_true(n > 0);
		assert_true(runs < MAXSCHED);
		for (int i = 0; i < n; i++)
			seen[runs][i] = (char)('0' + log[i].chosen);
		seen[runs][n] = '\0';
		for (long r = 0; r < runs; r++)
			if (strcmp(seen[r], seen[runs]) == 0)
				fail_msg("dfs:%d ran schedule %s twice (runs %ld and %ld)", bound, seen[r], r, runs);
		if (preemptions(log, n) > bound)
			fail_msg("dfs:%d ran %s with %d preemptions", bound, seen[runs], preemptions(log, n));
		runs++;
		int rc = dfs_next(&d, log, (uint32_t)n);
		if (rc == 0)
			break;
		assert_int_equal(rc, 1);
	}
	assert_int_equal(d.schedules, runs);
	dfs_free(&d);
	return runs;
}

static void test_dfs_two_threads_two_steps(void **state)
{
	/* T0 reaches the first decision: starting with T1 is a preemption.
	 * 0011: 0, 0110: 1, 1100: 1, 0101: 2, 1001: 2, 1010: 3 preemptions */
	const struct prog p = { 2, { "xx", "xx" }, 0, 0 };
	static const long expected[] = { 1, 3, 5, 6, 6 };

	for (int bound = 0; bound < 5; bound++) {
		assert_int_equal(brute(&p, bound), expected[bound]);
		assert_int_equal(dfs_explore(&p, bound), expected[bound]);
	}
}

static void test_dfs_blocked_first_thread(void **state)
{
	/* the first decision is reached by T2 (blocked, e.g. in join): any
	 * first choice is free */
	const struct prog p = { 2, { "xx", "xx" }, 2, 0 };
	static const long expected[] = { 2, 4, 6 };

	for (int bound = 0; bound < 3; bound++)
		assert_int_equal(dfs_explore(&p, bound), expected[bound]);
}

static void test_dfs_always_enabled(void **state)
{
	/* two threads enabled at every step (e=0x3), three steps: a switch is
	 * always a preemption, except at the first decision */
	const struct prog p = { 2, { "xxxx", "xxxx" }, 2, 3 };
	static const long expected[] = { 2, 6, 8, 8 };

	for (int bound = 0; bound < 4; bound++)
		assert_int_equal(dfs_explore(&p, bound), expected[bound]);
}

static void test_dfs_matches_brute_force(void **state)
{
	static const struct prog progs[] = {
		{ 3, { "xx", "xx", "xx" }, 0, 0 },          /* 90 interleavings */
		{ 2, { "xLxU", "LxU" }, 0, 0 },             /* a mutex: masks vary */
		{ 3, { "LxUx", "xLU", "LUx" }, 3, 0 },
		{ 3, { "LxU", "x", "xLxxU" }, 1, 0 },
	};
	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		for (int bound = 0; bound <= 4; bound++) {
			long want = brute(&progs[i], bound);
			long got = dfs_explore(&progs[i], bound);
			if (got != want)
				fail_msg("program %zu, dfs:%d: %ld schedules, expected %ld", i, bound, got, want);
		}
	}
	assert_int_equal(brute(&progs[0], 16), 90);
	assert_int_equal(dfs_explore(&progs[0], 16), 90);
}

static void test_dfs_handwritten_logs(void **state)
{
	struct dfs d;
	struct step_rec log[3];

	/* bound 0, T0 reaches the first decision, both always enabled:
	 * nothing but 000 is non-preemptive */
	assert_int_equal(dfs_init(&d, 0), 0);
	for (int i = 0; i < 3; i++)
		log[i] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	assert_int_equal(dfs_next(&d, log, 3), 0);
	assert_int_equal(d.schedules, 1);
	dfs_free(&d);

	/* bound 0, the first decision reached by blocked T2 */
	assert_int_equal(dfs_init(&d, 0), 0);
	log[0] = (struct step_rec){ .chosen = 0, .cur = 2, .enabled = 0x3 };
	log[1] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	log[2] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	assert_int_equal(dfs_next(&d, log, 3), 1);
	assert_int_equal(d.prefix_len, 1);
	assert_int_equal(d.prefix[0], 1);
	log[0].chosen = 1;
	log[1] = (struct step_rec){ .chosen = 1, .cur = 1, .enabled = 0x3 };
	log[2] = (struct step_rec){ .chosen = 1, .cur = 1, .enabled = 0x3 };
	assert_int_equal(dfs_next(&d, log, 3), 0);
	assert_int_equal(d.schedules, 2);
	dfs_free(&d);

	/* bound 1: the deepest alternative comes first */
	assert_int_equal(dfs_init(&d, 1), 0);
	log[0] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	log[1] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	log[2] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	assert_int_equal(dfs_next(&d, log, 3), 1);
	assert_int_equal(d.prefix_len, 3);
	assert_int_equal(d.prefix[0], 0);
	assert_int_equal(d.prefix[1], 0);
	assert_int_equal(d.prefix[2], 1);
	dfs_free(&d);

	/* threads above T253 are alternatives too (a prefix choice is 16 bits):
	 * T0 and T300 enabled, T0 ran on; the alternative is T300 */
	static const uint64_t hi[] = { 4, 0, 0, 0, 1ull << (300 - 256) };
	assert_int_equal(dfs_init(&d, 1), 0);
	log[0] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x1, .enabled_hi = hi };
	assert_int_equal(dfs_next(&d, log, 1), 1);
	assert_int_equal(d.prefix_len, 1);
	assert_int_equal(d.prefix[0], 300);
	dfs_free(&d);
}

static void test_dfs_divergence(void **state)
{
	struct dfs d;
	struct step_rec log[3];

	assert_int_equal(dfs_init(&d, 2), 0);
	for (int i = 0; i < 3; i++)
		log[i] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3 };
	assert_int_equal(dfs_next(&d, log, 3), 1);
	assert_int_equal(d.prefix_len, 3);     /* forces 0 0 1 */

	/* the run ignored its prefix */
	struct step_rec bad[3];
	memcpy(bad, log, sizeof(bad));
	assert_int_equal(dfs_next(&d, bad, 3), -1);
	/* the run followed it but saw other enabled threads */
	memcpy(bad, log, sizeof(bad));
	bad[2].chosen = 1;
	bad[1].enabled = 0x1;
	assert_int_equal(dfs_next(&d, bad, 3), -1);
	/* the run ended before the prefix did */
	assert_int_equal(dfs_next(&d, log, 2), -1);
	dfs_free(&d);
}

static void test_dfs_long_run(void **state)
{
	enum { N = 1500 };                     /* longer than the initial capacity */
	struct step_rec *log = calloc(N, sizeof(*log));
	struct dfs d;

	assert_non_null(log);
	for (int i = 0; i < N; i++)
		log[i] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x1 };
	log[N - 1].enabled = 0x3;
	assert_int_equal(dfs_init(&d, 1), 0);
	assert_int_equal(dfs_next(&d, log, N), 1);
	assert_int_equal(d.prefix_len, N);
	assert_int_equal(d.prefix[N - 1], 1);
	assert_int_equal(d.prefix[N - 2], 0);
	log[N - 1].chosen = 1;
	assert_int_equal(dfs_next(&d, log, N), 0);
	dfs_free(&d);
	free(log);
}

/*
 * Regression test (strategy.c strategy_begin/pick_pct): the bug described here is fixed. the change points are sorted and
 * the i-th in time gets priority i, so a thread demoted later always
 * outranks every thread demoted earlier. In PCT (Burckhardt et al. 2010) the
 * d-1 change points carry priorities d-1..1 independently of their order in
 * time; here the depth-3 schedule "a1 b1 a2 b2" (T0, T1, T0, T1 with both
 * threads enabled throughout) can never be produced, for any depth: after T1
 * is demoted, it still outranks T0, demoted before it. PCT finds it with
 * probability >= 1/(n k^(d-1)) = 1/32 per run. Input: two threads of two
 * steps, pct:3, k=4, seeds 0..2999. Expected: 0101 or 1010 seen; actual:
 * never.
 */
static void test_pct_depth3_reaches_alternation(void **state)
{
	const struct prog p = { 2, { "xx", "xx" }, 0, 0 };
	struct step_rec log[MAXSTEPS];
	int found = 0, kinds = 0;
	uint32_t schedules = 0;

	for (uint64_t seed = 0; seed < 3000; seed++) {
		struct strategy s;
		begin(&s, STRAT_PCT, 3, seed, 4, NULL, 0, 2);
		assert_int_equal(prog_run(&p, &s, log), 4);
		int code = log[0].chosen << 3 | log[1].chosen << 2 | log[2].chosen << 1 | log[3].chosen;
		schedules |= 1u << code;
		found += code == 0x5 || code == 0xa;
	}
	for (int c = 0; c < 16; c++)
		kinds += schedules >> c & 1;
	/* 0011, 1100, 0110 and 1001 are all reached */
	assert_true(kinds >= 4);
	if (!found)
		fail_msg("pct:3 never produced 0101 or 1010 in 3000 seeds (schedules seen: mask 0x%x)",
			 schedules);
}

/* Strategy switches (migrace minimize): a listed switch applies at the listed
 * decision of the listed thread only, when the target can run; everything
 * else is the non-preemptive default. */
static void test_switches(void **state)
{
	struct switch_ent *sw;
	uint32_t n;
	char err[128];
	struct strategy s;
	struct strat_spec spec;
	const char *why;

	assert_int_equal(strat_parse("switches", &spec, &why), 0);
	assert_int_equal(spec.kind, STRAT_SWITCHES);
	assert_int_equal(switches_parse(" 1.m2>2 0.s3>1,2.s1>0\n", &sw, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 3);
	assert_true(sw[0].mem && sw[0].t == 1 && sw[0].n == 2 && sw[0].u == 2);
	assert_true(!sw[1].mem && sw[1].t == 0 && sw[1].n == 3 && sw[1].u == 1);
	strategy_begin(&s, &spec, 1, 0, NULL, 0);
	s.sw = sw;
	s.nsw = n;
	s.key = 2, s.key_mem = true;
	assert_int_equal(strategy_pick(&s, 0, 0x6, 1, OP_MEM), 2);    /* listed */
	s.key_mem = false;
	assert_int_equal(strategy_pick(&s, 1, 0x6, 1, OP_LOCK), 1);   /* sync decision 2: not listed */
	s.key = 3;
	assert_int_equal(strategy_pick(&s, 2, 0x3, 0, OP_LOCK), 1);   /* 0.s3>1 */
	assert_int_equal(strategy_pick(&s, 3, 0x1, 0, OP_LOCK), 0);   /* target cannot run: default */
	s.key = 1;
	assert_int_equal(strategy_pick(&s, 4, 0x5, 2, OP_LOCK), 0);   /* 2.s1>0 */
	assert_int_equal(strategy_pick(&s, 5, 0x3, 2, OP_LOCK), 0);   /* T2 blocked: lowest */
	free(sw);

	static const char *const bad[] = { "1.x2>2", "1.m0>2", "1024.s1>0", "1.s1>1024", "1.s1", "1.s1>2x", "a" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(switches_parse(bad[i], &sw, &n, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "bad entry"));
	}
	assert_int_equal(switches_parse("", &sw, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	free(sw);
}

/* More than 64 threads: every strategy picks among all of them. */
/* Strategy guided's run plans (guided.c sets them): listed switches, else
 * the default; a random walk; random switches after a step; PCT after a
 * step, its change points counted from there. */
static void test_guided(void **state)
{
	(void)state;
	struct strat_spec spec;
	const char *why = NULL;
	struct strategy s;
	struct switch_ent sw[] = { { .n = 2, .t = 0, .u = 1 } };
	struct tset e = { { 0x7 } };

	assert_int_equal(strat_parse("guided", &spec, &why), 0);
	/* listed: T0's 2nd decision goes to T1, every other one stays on T0 */
	strategy_begin(&s, &spec, 1, 10, NULL, 0);
	s.sw = sw;
	s.nsw = 1;
	for (uint32_t key = 1; key <= 4; key++) {
		s.key = key;
		assert_int_equal(strategy_pick_set(&s, key, &e, 0, OP_LOCK), key == 2 ? 1 : 0);
	}
	/* noise: none before noise_from; certain switches after it never pick
	 * the default thread */
	strategy_begin(&s, &spec, 1, 10, NULL, 0);
	s.noise = 65535;
	s.noise_from = 5;
	prng_seed(&s.grng, 9);
	for (uint64_t step = 0; step < 5; step++)
		assert_int_equal(strategy_pick_set(&s, step, &e, 0, OP_LOCK), 0);
	int moved = 0;
	for (uint64_t step = 5; step < 200; step++)
		moved += strategy_pick_set(&s, step, &e, 0, OP_LOCK) != 0;
	assert_true(moved > 190);
	/* a random walk reaches every enabled thread */
	strategy_begin(&s, &spec, 3, 10, NULL, 0);
	s.noise = GUIDED_RANDOM_WALK;
	int seen = 0;
	for (uint64_t step = 0; step < 100; step++)
		seen |= 1 << strategy_pick_set(&s, step, &e, 0, OP_LOCK);
	assert_int_equal(seen, 0x7);
	/* PCT after step 50: before it the default, after it the top priority */
	strategy_begin(&s, &spec, 4, 10, NULL, 0);
	for (int t = 0; t < 3; t++)
		strategy_thread_created(&s, t);
	s.pct_run = true;
	s.noise_from = 50;
	assert_int_equal(strategy_pick_set(&s, 10, &e, 2, OP_LOCK), 2);
	int top = 0;
	for (int t = 1; t < 3; t++)
		if (s.prio[t] > s.prio[top])
			top = t;
	s.nchange = 0;
	assert_int_equal(strategy_pick_set(&s, 60, &e, 2, OP_LOCK), top);
}

static void test_wide_enabled_sets(void **state)
{
	struct strat_spec spec = { STRAT_RANDOM, 0 };
	struct strategy s;
	struct tset e = { { 0 } };
	tset_add(&e, 3);
	tset_add(&e, 300);
	tset_add(&e, 1023);
	assert_int_equal(strategy_default_set(&e, 300), 300);
	assert_int_equal(strategy_default_set(&e, 5), 3);
	bool seen[3] = { false };
	strategy_begin(&s, &spec, 1, 0, NULL, 0);
	for (int i = 0; i < 200; i++) {
		int t = strategy_pick_set(&s, (uint64_t)i, &e, 3, OP_LOCK);
		assert_true(t == 3 || t == 300 || t == 1023);
		seen[t == 3 ? 0 : t == 300 ? 1 : 2] = true;
	}
	assert_true(seen[0] && seen[1] && seen[2]);
	spec = (struct strat_spec){ STRAT_PCT, 1 };
	strategy_begin(&s, &spec, 7, 100, NULL, 0);
	for (int t = 0; t < 1024; t++)
		strategy_thread_created(&s, t);
	int best = strategy_pick_set(&s, 0, &e, 3, OP_LOCK);
	for (int t = 0; t < 1024; t++)
		if (tset_has(&e, t))
			assert_true(s.prio[t] <= s.prio[best]);
}

/* dfs over a run whose enabled threads include one above T255: it is never
 * offered as a forced choice (the prefix is a byte per step). */
static void test_dfs_wide(void **state)
{
	static const uint64_t hi[] = { 4, 0, 0, 0, 1ull << 44 };   /* T300 */
	struct dfs d;
	struct step_rec log[2];
	assert_int_equal(dfs_init(&d, 1), 0);
	for (int i = 0; i < 2; i++)
		log[i] = (struct step_rec){ .chosen = 0, .cur = 0, .enabled = 0x3, .enabled_hi = hi };
	assert_int_equal(dfs_next(&d, log, 2), 1);
	assert_int_equal(d.prefix[d.prefix_len - 1], 1);
	dfs_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wide_enabled_sets),
		cmocka_unit_test(test_dfs_wide),
		cmocka_unit_test(test_parse_valid),
		cmocka_unit_test(test_switches),
		cmocka_unit_test(test_guided),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_explores),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_prng_deterministic),
		cmocka_unit_test(test_prng_below),
		cmocka_unit_test(test_default_choice),
		cmocka_unit_test(test_random_picks_enabled),
		cmocka_unit_test(test_random_reproducible),
		cmocka_unit_test(test_pos),
		cmocka_unit_test(test_prefix_forced),
		cmocka_unit_test(test_pct_depth1_no_preemption),
		cmocka_unit_test(test_pct_depth2_one_change_point),
		cmocka_unit_test(test_pct_mem_sync_change_points),
		cmocka_unit_test(test_pct_mem_sync_index),
		cmocka_unit_test(test_pct_change_points),
		cmocka_unit_test(test_pct_yield_gives_way),
		cmocka_unit_test(test_fair_steps),
		cmocka_unit_test(test_dfs_two_threads_two_steps),
		cmocka_unit_test(test_dfs_blocked_first_thread),
		cmocka_unit_test(test_dfs_always_enabled),
		cmocka_unit_test(test_dfs_matches_brute_force),
		cmocka_unit_test(test_dfs_handwritten_logs),
		cmocka_unit_test(test_dfs_divergence),
		cmocka_unit_test(test_dfs_long_run),
		cmocka_unit_test(test_pct_depth3_reaches_alternation),
	};
	return cmocka_run_group_tests_name("strategy", tests, NULL, NULL);
}
