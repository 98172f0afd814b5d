/*
 * Scheduling strategies: script (default order), random, PCT and the
 * bookkeeping of bounded exhaustive search (DFS).
 */
#include "strategy.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "steplog.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void prng_seed(struct prng *r, uint64_t seed)
{
	r->s[0] = splitmix64(&seed);
	r->s[1] = splitmix64(&seed);
}

/* xoroshiro128+ */
uint64_t prng_next(struct prng *r)
{
	uint64_t s0 = r->s[0], s1 = r->s[1], out = s0 + s1;
	s1 ^= s0;
	r->s[0] = ((s0 << 24) | (s0 >> 40)) ^ s1 ^ (s1 << 16);
	r->s[1] = (s1 << 37) | (s1 >> 27);
	return out;
}

uint64_t prng_below(struct prng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n, v;
	do
		v = prng_next(r);
	while (v >= limit);
	return v % n;
}

static int parse_param(const char *p, int max, int *out)
{
	char *end;
	long v;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	errno = 0;
	v = strtol(p, &end, 10);
	if (errno || *end || v < 0 || v > max)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

bool strat_explores(enum strat_kind kind)
{
	return kind != STRAT_SCRIPT && kind != STRAT_SWITCHES;
}

int strat_parse(const char *text, struct strat_spec *out, const char **why)
{
	static const char depth_msg[] = "pct needs a depth from 1 to 16, as in pct:2";
	static const char bound_msg[] = "dfs needs a preemption bound from 0 to 16, as in dfs:2";

	if (strcmp(text, "script") == 0 || strcmp(text, "random") == 0) {
		*out = (struct strat_spec){ text[0] == 's' ? STRAT_SCRIPT : STRAT_RANDOM, 0 };
		return 0;
	}
	if (strcmp(text, "switches") == 0) {
		*out = (struct strat_spec){ STRAT_SWITCHES, 0 };
		return 0;
	}
	if (strcmp(text, "pos") == 0) {
		*out = (struct strat_spec){ STRAT_POS, 0 };
		return 0;
	}
	if (strcmp(text, "guided") == 0) {
		*out = (struct strat_spec){ STRAT_GUIDED, 3 };   /* its fresh runs: PCT of depth 3 */
		return 0;
	}
	if (strncmp(text, "pct:", 4) == 0) {
		out->kind = STRAT_PCT;
		if (parse_param(text + 4, PCT_MAX_DEPTH, &out->param) || out->param < 1) {
			*why = depth_msg;
			return -EINVAL;
		}
		return 0;
	}
	if (strncmp(text, "dfs:", 4) == 0) {
		out->kind = STRAT_DFS;
		if (parse_param(text + 4, DFS_MAX_BOUND, &out->param)) {
			*why = bound_msg;
			return -EINVAL;
		}
		return 0;
	}
	if (strcmp(text, "pct") == 0) {
		*why = depth_msg;
		return -EINVAL;
	}
	if (strcmp(text, "dfs") == 0) {
		*why = bound_msg;
		return -EINVAL;
	}
	*why = "unknown strategy (expected script, random, pct:D, dfs:B, pos, guided or switches)";
	return -EINVAL;
}

/* The next blank-separated word of *p, up to '#' or the end: its length and
 * start; moves *p past it. */
static size_t script_word(const char **p, const char **w)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	*w = s;
	while (*s && *s != '#' && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n')
		s++;
	*p = s;
	return (size_t)(s - *w);
}

int script_parse_line(const char *line, char *a, char *b, size_t len, char *err, size_t errlen)
{
	const char *p = line, *w[4];
	size_t n[4];
	int nw = 0;

	while (nw < 4 && (n[nw] = script_word(&p, &w[nw])) > 0)
		nw++;
	if (nw == 0)
		return 0;
	bool arrow = nw >= 2 && ((n[1] == 2 && strncmp(w[1], "->", 2) == 0) ||
				 (n[1] == 6 && strncmp(w[1], "before", 6) == 0));
	if (nw != 3 || !arrow) {
		snprintf(err, errlen, "expected \"<point> -> <point>\"");
		return -1;
	}
	if (n[0] >= len || n[2] >= len) {
		snprintf(err, errlen, "a sync point name longer than %zu characters", len - 1);
		return -1;
	}
	memcpy(a, w[0], n[0]);
	a[n[0]] = '\0';
	memcpy(b, w[2], n[2]);
	b[n[2]] = '\0';
	return 1;
}

void strat_format(const struct strat_spec *spec, char *buf, int len)
{
	switch (spec->kind) {
	case STRAT_SCRIPT: snprintf(buf, len, "script"); break;
	case STRAT_RANDOM: snprintf(buf, len, "random"); break;
	case STRAT_PCT: snprintf(buf, len, "pct:%d", spec->param); break;
	case STRAT_DFS: snprintf(buf, len, "dfs:%d", spec->param); break;
	case STRAT_SWITCHES: snprintf(buf, len, "switches"); break;
	case STRAT_GUIDED: snprintf(buf, len, "guided"); break;
	case STRAT_POS: snprintf(buf, len, "pos"); break;
	}
}

/* D-1 distinct change points, uniform in [1, k] */
static void draw_change_points(struct strategy *s, uint64_t k)
{
	int want = s->spec.param - 1;
	if ((uint64_t)want > k)
		want = (int)k;
	while (s->nchange < want) {
		uint64_t c = 1 + prng_below(&s->rng, k);
		bool dup = false;
		for (int i = 0; i < s->nchange; i++)
			dup |= s->change[i] == c;
		if (!dup)
			s->change[s->nchange++] = c;
	}
}

void strategy_begin(struct strategy *s, const struct strat_spec *spec, uint64_t seed,
		    uint64_t k, const uint16_t *prefix, uint32_t prefix_len)
{
	memset(s, 0, offsetof(struct strategy, prio));  /* prio: set per thread created */
	s->spec = *spec;
	s->seed = seed;
	s->prefix = prefix;
	s->prefix_len = prefix_len;
	s->k = k;
	prng_seed(&s->rng, seed);
	if ((spec->kind == STRAT_PCT || spec->kind == STRAT_GUIDED) && k > 0)
		draw_change_points(s, k);
	s->lowest = 0;
}

void strategy_mem(struct strategy *s, bool mem, uint64_t k_sync)
{
	if (!mem || !s->nchange || (s->spec.kind != STRAT_PCT && s->spec.kind != STRAT_GUIDED))
		return;
	if (s->spec.kind == STRAT_PCT && k_sync) {
		/* the draw has a stream of its own, so that a run at scheduling
		 * points starts its stream as the same seed without memory
		 * points does: it is that run, change points and priorities */
		struct prng pick;
		prng_seed(&pick, s->seed ^ 0x5eed5eed5eed5eedull);
		s->sync_cp = prng_below(&pick, 4) != 0;
		if (s->sync_cp) {                      /* at scheduling points counted alone */
			s->sync_index = true;
			s->nchange = 0;
			prng_seed(&s->rng, s->seed);
			draw_change_points(s, k_sync);
		}
		return;
	}
	s->sync_cp = prng_below(&s->rng, 2) == 0;
}

/* PCT: initial priorities are distinct values above every change-point
 * priority (1..D-1); a thread created later gets a random one too, which is
 * the dynamic-thread form of a random permutation. */
void strategy_thread_created(struct strategy *s, int tid)
{
	if (tid >= s->nthreads)
		s->nthreads = tid + 1;
	if (s->spec.kind == STRAT_POS) {           /* its first step's priority */
		s->prio[tid] = (int64_t)prng_below(&s->rng, 1u << 30);
		return;
	}
	if (s->spec.kind != STRAT_PCT && s->spec.kind != STRAT_GUIDED)
		return;
	for (;;) {
		int64_t p = PCT_MAX_DEPTH + 1 + (int64_t)prng_below(&s->rng, 1u << 30);
		bool dup = false;
		for (int i = 0; i < tid; i++)
			dup |= s->prio[i] == p;
		if (!dup) {
			s->prio[tid] = p;
			return;
		}
	}
}

int strategy_default_set(const struct tset *enabled, int cur)
{
	if (tset_has(enabled, cur))
		return cur;
	return tset_first(enabled);
}

int strategy_fair_default(const struct tset *enabled, int cur)
{
	int t = tset_next(enabled, cur);
	if (t < 0)
		t = tset_first(enabled);
	return t;
}

int strategy_step_default(const struct step_rec *r)
{
	struct tset e;
	step_get_enabled(r, &e);
	return r->fair ? strategy_fair_default(&e, r->cur) : strategy_default_set(&e, r->cur);
}

/* The default at the decision being made. */
static int pick_default(const struct strategy *s, const struct tset *enabled, int cur)
{
	return s->fair ? strategy_fair_default(enabled, cur) : strategy_default_set(enabled, cur);
}

/* The threads a strategy picks among: the enabled ones, at a fair step (a
 * spin) the others, if there are. */
static struct tset candidates(const struct strategy *s, const struct tset *enabled, int cur)
{
	struct tset e = *enabled;
	if (s->fair && tset_count(&e) > 1)
		tset_del(&e, cur);
	return e;
}

/* Uniform among the enabled threads; at a fair step, among the others. */
static int pick_random(struct strategy *s, const struct tset *enabled, int cur)
{
	struct tset e = candidates(s, enabled, cur);
	int n = tset_count(&e);
	int k = (int)prng_below(&s->rng, (uint64_t)n);
	TSET_FOR(t, &e)
		if (k-- == 0)
			return t;
	return -1;
}

static int pick_pct(struct strategy *s, uint64_t step, const struct tset *enabled, int cur,
		    enum op_kind cur_op)
{
	if (s->sync_index) {                            /* count the scheduling points alone */
		if (s->key_mem)
			step = UINT64_MAX;                    /* no change point here */
		else
			step = s->nsync++;
	}
	if (cur >= 0) {
		for (int i = 0; i < s->nchange; i++)
			if (s->sync_cp && !s->sync_index ? !s->key_mem && s->change[i] <= step && !(s->cp_fired & (1u << i))
							 : s->change[i] == step) {
				s->prio[cur] = i + 1;  /* below every initial priority; the
							  * draw order, not time order, ranks them */
				s->cp_fired |= 1u << i;
			}
		/* A yield gives way, and so does a thread spinning on memory (a
		 * fair step): without this, a spinning thread at the top
		 * priority would starve the thread it waits for. */
		if (cur_op == OP_YIELD || s->fair) {
			for (int i = 0; i < s->nthreads; i++)
				if (s->prio[i] < s->lowest)
					s->lowest = s->prio[i];
			s->prio[cur] = --s->lowest;
		}
	}
	int best = -1;
	TSET_FOR(t, enabled)
		if (best < 0 || s->prio[t] > s->prio[best])
			best = t;
	return best;
}

/* POS, the basic form of partial-order sampling (Yuan et al., CAV 2018):
 * every thread's next step carries a random priority and the highest one
 * runs; the thread that ran draws a new one for its next step, the others
 * keep theirs. A thread that lost a draw stays behind until the runner draws
 * lower, so runs of one thread alternate with long waits, in a way random's
 * coin per step never gives: one thread can run a whole stretch while ten
 * others wait. At a fair step (a spin), another thread runs. */
static int pick_pos(struct strategy *s, const struct tset *enabled, int cur)
{
	if (cur >= 0)
		s->prio[cur] = (int64_t)prng_below(&s->rng, 1u << 30);
	struct tset e = candidates(s, enabled, cur);
	int best = -1;
	TSET_FOR(t, &e)
		if (best < 0 || s->prio[t] > s->prio[best])
			best = t;
	return best;
}

/* The listed switch of this decision, else the default. */
static int pick_listed(struct strategy *s, const struct tset *enabled, int cur)
{
	for (uint32_t i = 0; i < s->nsw; i++) {
		const struct switch_ent *w = &s->sw[i];
		if (w->t == cur && w->n == s->key && w->mem == s->key_mem && tset_has(enabled, w->u))
			return w->u;
	}
	return pick_default(s, enabled, cur);
}

static int pick_guided(struct strategy *s, uint64_t step, const struct tset *enabled, int cur,
		       enum op_kind cur_op)
{
	if (s->pct_run && step >= s->noise_from)   /* change points count from there */
		return pick_pct(s, step - s->noise_from, enabled, cur, cur_op);
	if (s->noise == GUIDED_RANDOM_WALK)         /* random's own choices */
		return pick_random(s, enabled, cur);
	int t = pick_listed(s, enabled, cur);
	if (!s->noise || step < s->noise_from || t != pick_default(s, enabled, cur) ||
	    prng_below(&s->grng, 65536) >= s->noise)
		return t;
	int n = tset_count(enabled) - 1, k;
	if (n < 1)
		return t;
	k = (int)prng_below(&s->grng, (uint64_t)n);
	TSET_FOR(u, enabled)
		if (u != t && k-- == 0)
			return u;
	return t;
}

int strategy_pick_set(struct strategy *s, uint64_t step, const struct tset *enabled, int cur,
		      enum op_kind cur_op)
{
	if (step < s->prefix_len) {
		int t = s->prefix[step];
		return tset_has(enabled, t) ? t : -1;
	}
	switch (s->spec.kind) {
	case STRAT_RANDOM:
		return pick_random(s, enabled, cur);
	case STRAT_PCT:
		return pick_pct(s, step, enabled, cur, cur_op);
	case STRAT_SWITCHES:
		return pick_listed(s, enabled, cur);
	case STRAT_GUIDED:
		return pick_guided(s, step, enabled, cur, cur_op);
	case STRAT_POS:
		return pick_pos(s, enabled, cur);
	case STRAT_SCRIPT:
	case STRAT_DFS:
	default:
		return pick_default(s, enabled, cur);
	}
}

bool strategy_fault(struct strategy *s, uint64_t step, bool want)
{
	if (step < s->prefix_len)
		return s->prefix[step] == PREFIX_FAULT_FAIL ? true : s->prefix[step] == PREFIX_FAULT_PASS ? false : want;
	if (s->spec.kind == STRAT_PCT) {
		if (s->sync_index)                 /* a fault hit is a scheduling step too */
			step = s->nsync++;
		for (int i = 0; i < s->nchange; i++)
			if (s->change[i] == step)
				return true;
	}
	return want;
}

int strategy_pick(struct strategy *s, uint64_t step, uint64_t enabled, int cur,
		  enum op_kind cur_op)
{
	struct tset e = { { enabled } };
	return strategy_pick_set(s, step, &e, cur, cur_op);
}

int switches_parse(const char *text, struct switch_ent **out, uint32_t *n, char *err, size_t len)
{
	const char *p = text;
	uint32_t cap = 0;
	struct switch_ent *v = NULL;

	*out = NULL;
	*n = 0;
	for (;;) {
		while (*p == ' ' || *p == ',' || *p == '\n')
			p++;
		if (!*p)
			break;
		unsigned t, u;
		unsigned long num;
		char kind;
		int used = 0;
		if (sscanf(p, "%u.%c%lu>%u%n", &t, &kind, &num, &u, &used) != 4 || (kind != 's' && kind != 'm') ||
		    t >= MODEL_MAX_THREADS || u >= MODEL_MAX_THREADS || num == 0 || num > UINT32_MAX ||
		    (p[used] && p[used] != ' ' && p[used] != ',' && p[used] != '\n')) {
			snprintf(err, len, "switches: bad entry at \"%.24s\" (expected T.sN>U or T.mN>U, as in 1.s4>2)", p);
			free(v);
			return -1;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			struct switch_ent *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				snprintf(err, len, "switches: out of memory");
				free(v);
				return -1;
			}
			v = nv;
		}
		v[(*n)++] = (struct switch_ent){ .n = (uint32_t)num, .t = (uint16_t)t, .u = (uint16_t)u, .mem = kind == 'm' };
		p += used;
	}
	*out = v;
	return 0;
}

int dfs_init(struct dfs *d, int bound)
{
	memset(d, 0, sizeof(*d));
	d->bound = bound;
	d->cap = 1024;
	d->nodes = calloc(d->cap, sizeof(*d->nodes));
	d->prefix = calloc(d->cap, 1);
	return d->nodes && d->prefix ? 0 : -ENOMEM;
}

void dfs_free(struct dfs *d)
{
	free(d->nodes);
	free(d->prefix);
	memset(d, 0, sizeof(*d));
}

static bool is_preemption(const struct dfs_node *n, int choice)
{
	if (n->fault)                        /* failing a hit no plan fixed counts like a preemption */
		return n->fault == DFS_FAULT_OPEN && choice == 1;
	return choice != n->cur && tset_has(&n->enabled, n->cur) && !n->fair;
}

static uint16_t prefix_choice(const struct dfs_node *n)
{
	if (n->fault)
		return n->chosen ? PREFIX_FAULT_FAIL : PREFIX_FAULT_PASS;
	return n->chosen;
}

/* The decisions past the prefix become new nodes; false when the run did
 * not follow its prefix. */
static bool dfs_take(struct dfs *d, const struct step_rec *log, uint32_t nsteps)
{
	for (uint32_t i = 0; i < d->prefix_len && i < nsteps; i++) {
		struct tset e;
		step_get_enabled(&log[i], &e);
		bool fault = log[i].objk == 'f';
		if (fault != !!d->nodes[i].fault || memcmp(&e, &d->nodes[i].enabled, sizeof(e)))
			return false;
		if (fault ? (log[i].op == OP_FAULT_FAIL) != (d->nodes[i].chosen == 1) : log[i].chosen != d->prefix[i])
			return false;
	}
	if (nsteps < d->prefix_len)
		return false;
	for (uint32_t i = d->prefix_len; i < nsteps; i++) {
		struct dfs_node *n = &d->nodes[i];
		step_get_enabled(&log[i], &n->enabled);
		memset(&n->tried, 0, sizeof(n->tried));
		n->cur = log[i].cur;
		n->fair = log[i].fair;
		n->fault = log[i].objk != 'f' ? 0 : log[i].open ? DFS_FAULT_OPEN : DFS_FAULT_FIXED;
		n->chosen = n->fault ? log[i].op == OP_FAULT_FAIL : log[i].chosen;
		tset_add(&n->tried, n->fault ? n->chosen + 1 : n->chosen);
	}
	d->n = nsteps;
	return true;
}

int dfs_next(struct dfs *d, const struct step_rec *log, uint32_t nsteps)
{
	d->schedules++;
	if (nsteps > d->cap) {
		uint32_t cap = nsteps * 2;
		struct dfs_node *nodes = realloc(d->nodes, cap * sizeof(*nodes));
		uint16_t *prefix = nodes ? realloc(d->prefix, cap * sizeof(*prefix)) : NULL;
		if (nodes)
			d->nodes = nodes;
		if (!nodes || !prefix)
			return -ENOMEM;
		d->prefix = prefix;
		d->cap = cap;
	}
	if (!dfs_take(d, log, nsteps))
		return -1;

	/* preemptions used before each node */
	uint32_t *pre = malloc((nsteps + 1) * sizeof(*pre));
	if (!pre)
		return -ENOMEM;
	pre[0] = 0;
	for (uint32_t i = 0; i < nsteps; i++)
		pre[i + 1] = pre[i] + is_preemption(&d->nodes[i], d->nodes[i].chosen);

	for (uint32_t i = nsteps; i-- > 0;) {
		struct dfs_node *n = &d->nodes[i];
		int next = -1;
		if (n->fault) {
			int alt = !n->chosen;
			if (n->fault == DFS_FAULT_OPEN && !tset_has(&n->tried, alt + 1) &&
			    pre[i] + is_preemption(n, alt) <= (uint32_t)d->bound) {
				tset_add(&n->tried, alt + 1);
				next = alt;
			}
		} else
			TSET_FOR(t, &n->enabled) {
				/* at a fair step, the spinning thread going on is
				 * no alternative: every schedule would have one
				 * more such step than the last (bounded fairness) */
				if (tset_has(&n->tried, t) || (n->fair && t == n->cur) ||
				    pre[i] + is_preemption(n, t) > (uint32_t)d->bound)
					continue;
				tset_add(&n->tried, t);
				next = t;
				break;
			}
		if (next < 0)
			continue;
		n->chosen = (uint16_t)next;
		for (uint32_t j = 0; j <= i; j++)
			d->prefix[j] = prefix_choice(&d->nodes[j]);
		d->prefix_len = i + 1;
		d->n = i + 1;
		free(pre);
		return 1;
	}
	free(pre);
	return 0;
}
