/*
 * migrace minimize: shrinks a failing trace to fewer thread switches (and so
 * fewer preemptions and usually fewer steps), keeping its signature.
 *
 * A trace's schedule is its switches: the steps where the chosen thread is
 * not the non-preemptive default (the thread that reached the decision if it
 * can go on, else the lowest-numbered enabled one). The runtime's `switches`
 * strategy runs a program with a list of them, each keyed by the thread that
 * reaches the decision and the count of its own decisions ("T.sN>U"), and
 * takes the default everywhere else; so a list with entries left out is
 * still a complete schedule, and a run of it a candidate. Delta debugging
 * (Zeller's ddmin, complements only) removes chunks of the list, then single
 * entries, keeping a removal when the run still ends with the signature, no
 * more preemptions and no more steps than the original. Each run's own trace
 * is re-read: the entries that no longer applied drop out of the list.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "opts.h"
#include "pool.h"
#include "rerun.h"
#include "strategy.h"
#include "trace.h"

static const char minimize_help[] =
	"usage: migrace minimize TRACE [--out FILE] [--budget N] [--runs-check N]\n"
	"                              [--timeout SEC] [--switches]\n"
	"\n"
	"Shrinks a failing trace, keeping its signature. The trace's schedule is taken\n"
	"as its switches: the steps where the chosen thread is not the non-preemptive\n"
	"default (the running thread while it can run, else the lowest-numbered enabled\n"
	"one); a switch where the running thread could have gone on is a preemption.\n"
	"The program is run again with that list (strategy `switches`), which must give\n"
	"the same signature; then delta debugging removes chunks of the list, then\n"
	"single switches, keeping a removal when the run still gives the signature with\n"
	"no more preemptions than before and no more steps than the original. Every run\n"
	"uses the trace's program, arguments, directory, fault settings, choices and preemption\n"
	"mode.\n"
	"\n"
	"  --out FILE       the minimized trace (default: TRACE with .trace replaced by\n"
	"                   .min.trace)\n"
	"  --budget N       at most N runs (default 500); the best trace so far is kept\n"
	"  --runs-check N   replays of the result that must give the signature\n"
	"                   (default 3)\n"
	"  --timeout SEC    per-run wall-clock limit, then `hang` (default 10)\n"
	"  --switches       print the trace's switch list (as MIGRACE_SWITCHES takes\n"
	"                   it, on one line), its counts, then a line per switch: its\n"
	"                   step, the thread that stops and where (file:line when the\n"
	"                   trace has it), the thread that runs and where; run nothing\n"
	"\n"
	"Prints the switches, preemptions and steps before and after, the new trace's\n"
	"switches (up to 40, each with its step and file:line as --switches shows\n"
	"them), the new trace and its repro line (`migrace replay NEW`).\n"
	"exit: 0 minimized (or already minimal); 1 the signature could not be kept (the\n"
	"trace cannot be expressed as switches, or the result does not replay to it);\n"
	"2 bad input (an unreadable trace: the error names the line; a clean trace).\n";

enum { M_OUT = 1000, M_BUDGET, M_RUNS_CHECK, M_TIMEOUT, M_SWITCHES, M_HELP };

static const struct option minimize_opts[] = {
	{ "out", required_argument, NULL, M_OUT },
	{ "budget", required_argument, NULL, M_BUDGET },
	{ "runs-check", required_argument, NULL, M_RUNS_CHECK },
	{ "timeout", required_argument, NULL, M_TIMEOUT },
	{ "switches", no_argument, NULL, M_SWITCHES },
	{ "help", no_argument, NULL, M_HELP },
	{ 0 },
};

/* One switch: at from's key-th decision (its key-th memory access if mem),
 * run `to`. */
struct sw {
	uint32_t key;
	uint32_t step;                     /* the trace's step it was read from */
	uint8_t from, to;
	bool mem, preempt;
};

/* A schedule as switches, and what its run gave. */
struct cand {
	struct sw *sw;
	unsigned n, preempt;
	uint32_t steps;
	char sig[160];
	char trace[PATH_MAX];              /* its trace ("" none) */
};

struct mctx {
	struct exec_opts o;
	char **argv;                       /* the trace's program and arguments */
	char tmp[PATH_MAX];                /* where candidates leave their traces */
	uint64_t runs, budget;
	char target[160];
	uint32_t max_steps_kept;           /* the original's steps: no candidate may exceed them */
};

/*
 * The switches of a trace's steps: every step whose chosen thread is not
 * strategy_default_set(enabled, from), keyed by from's decision count (the
 * step's d= field; traces written before it existed have no memory steps, so
 * the count of from's non-fault steps is the key). A fault decision is never
 * a switch: its thread runs on.
 *
 * Under the script strategy the enabled set at a decision is narrowed by the
 * ordering constraints, which the switches strategy does not apply; with
 * `spell_out`, every step where another thread than from runs is listed, so
 * that the narrowed choices are forced rather than left to a default that
 * would see more threads.
 */
static int extract(const struct trace *t, bool spell_out, struct cand *c, char *err, size_t errlen)
{
	uint32_t count[MODEL_MAX_THREADS] = { 0 };
	bool keyed = true;

	for (uint32_t i = 0; i < t->nsteps; i++)
		if (t->steps[i].objk != 'f' && t->steps[i].objk != 'k' && !t->steps[i].key)
			keyed = false;
	free(c->sw);
	c->sw = calloc(t->nsteps ? t->nsteps : 1, sizeof(*c->sw));
	c->n = c->preempt = 0;
	c->steps = t->nsteps;
	if (!c->sw) {
		snprintf(err, errlen, "out of memory for %u steps", t->nsteps);
		return -1;
	}
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		if (r->objk == 'f' || r->objk == 'k')
			continue;
		if (!keyed && r->key_mem) {
			snprintf(err, errlen, "step %u: a memory decision without its key (d=mN)", i);
			return -1;
		}
		uint32_t key = keyed ? r->key : ++count[r->cur];
		struct tset en;
		step_get_enabled(r, &en);   /* T64 and above too */
		bool cur_on = tset_has(&en, r->cur) && !r->fair;   /* a spin's yield is no preemption */
		bool sw = r->chosen != strategy_step_default(r);
		if (!sw && !(spell_out && r->chosen != r->cur))
			continue;
		c->sw[c->n++] = (struct sw){ .key = key, .step = i, .from = r->cur, .to = r->chosen, .mem = r->key_mem,
					     .preempt = sw && cur_on };
		c->preempt += sw && cur_on;
	}
	return 0;
}

/* "T.sN>U ..." (MIGRACE_SWITCHES) of the list without entries [skip_b, skip_e). */
static char *format_switches(const struct sw *sw, unsigned n, unsigned skip_b, unsigned skip_e)
{
	size_t cap = (size_t)n * 24 + 1, o = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (unsigned i = 0; i < n; i++) {
		if (i >= skip_b && i < skip_e)
			continue;
		o += (size_t)snprintf(s + o, cap - o, "%s%u.%c%" PRIu32 ">%u", o ? " " : "", sw[i].from,
				      sw[i].mem ? 'm' : 's', sw[i].key, sw[i].to);
	}
	return s;
}

/* "lock m1 @ file.c:12 fn" of step i ("" past the trace's end) */
static void step_text(const struct trace *t, int64_t i, char *buf, size_t len)
{
	if (i < 0 || i >= t->nsteps) {
		snprintf(buf, len, "(no step)");
		return;
	}
	const struct step_rec *r = &t->steps[i];
	const char *op = op_kind_name((enum op_kind)r->op), *loc = t->locs ? t->locs[i] : NULL;
	int n;
	if (r->objk == '-')
		n = snprintf(buf, len, "%s", op);
	else if (r->objk == 'p' || r->objk == 'f')
		n = snprintf(buf, len, "%s %c:%s", op, r->objk, r->name ? r->name : "?");
	else
		n = snprintf(buf, len, "%s %c%d", op, r->objk, r->obj);
	if (loc && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " @ %s", loc);
}

/*
 * One line per switch of c (read from t), with where it happens: the step,
 * the thread that stops and the operation it stops at (a preempted thread:
 * the one it was about to do, its next step; a blocked or finished one: the
 * last it did), and what the thread that runs does, with file:line when the
 * trace has locations.
 */
static void print_located(const struct trace *t, const struct cand *c, unsigned max)
{
	for (unsigned k = 0; k < c->n && k < max; k++) {
		const struct sw *w = &c->sw[k];
		char from[400], to[400], key[48];
		int64_t j = w->step;
		if (w->step >= t->nsteps)
			continue;
		if (w->preempt)
			do
				j++;
			while (j < t->nsteps && t->steps[j].chosen != w->from);
		else
			do
				j--;
			while (j >= 0 && t->steps[j].chosen != w->from);
		step_text(t, j, from, sizeof(from));
		step_text(t, w->step, to, sizeof(to));
		snprintf(key, sizeof(key), "%u.%c%" PRIu32 ">%u", w->from, w->mem ? 'm' : 's', w->key, w->to);
		printf("    %-12s step %-6" PRIu32 " T%u %s %s -> T%u %s\n", key, w->step, w->from,
		       w->preempt ? "preempted at" : "stops after", from, w->to, to);
	}
	if (c->n > max)
		printf("    ... and %u more\n", c->n - max);
}

/* "N switches (P preemptions), S steps" */
static const char *counts(const struct cand *c, char *buf, size_t len)
{
	snprintf(buf, len, "%u switch%s (%u preemption%s), %" PRIu32 " steps", c->n, c->n == 1 ? "" : "es", c->preempt,
		 c->preempt == 1 ? "" : "s", c->steps);
	return buf;
}


static void drop_trace(const char *path)
{
	char log[PATH_MAX + 8];
	if (!path[0])
		return;
	snprintf(log, sizeof(log), "%s.log", path);
	unlink(path);
	unlink(log);
}

/*
 * One candidate: the list without [skip_b, skip_e), run once. Fills res
 * with the signature and, from the run's own trace, the switches that
 * applied. Returns false when the run could not be made (workers failed).
 */
static bool run_candidate(struct mctx *m, const struct cand *from, unsigned skip_b, unsigned skip_e,
			  struct cand *res)
{
	char name[64], err[600];
	struct outcome out;
	struct trace t;

	char *list = format_switches(from->sw, from->n, skip_b, skip_e);
	if (!list)
		return false;
	snprintf(name, sizeof(name), "cand%" PRIu64, m->runs);
	m->o.name = name;
	m->o.switches = list;
	m->runs++;
	res->trace[0] = '\0';
	res->sig[0] = '\0';
	int prc = pool_run(&m->o, m->argv, &out);
	m->o.switches = NULL;
	free(list);
	if (prc || out.config_error || out.lost_worker)
		return false;
	/* with trace_all every run leaves a trace: a clean one is not reported, find it by name */
	snprintf(res->trace, sizeof(res->trace), "%s/%s-switches-seed%" PRIu64 "-run0.trace", m->tmp, name, m->o.seed);
	snprintf(res->sig, sizeof(res->sig), "%s", out.have_first ? out.first_sig : "clean");
	if (read_trace_file(res->trace, &t, err, sizeof(err))) {
		fprintf(stderr, "migrace minimize: the trace of run %" PRIu64 " (%s): %s\n", m->runs, res->trace, err);
		drop_trace(res->trace);
		res->trace[0] = '\0';
		return false;
	}
	int rc = extract(&t, false, res, err, sizeof(err));
	trace_free(&t);
	if (rc)
		fprintf(stderr, "migrace minimize: the trace of run %" PRIu64 ": %s\n", m->runs, err);
	return rc == 0;
}

/* A candidate is kept when it fails the same way, with no more preemptions
 * than the current list and no more steps than the original. (It has fewer
 * switches: its list is a part of the current one.) */
static bool better(const struct mctx *m, const struct cand *cur, const struct cand *c)
{
	return strcmp(c->sig, m->target) == 0 && c->preempt <= cur->preempt && c->steps <= m->max_steps_kept;
}

static void take(struct cand *cur, struct cand *c)
{
	drop_trace(cur->trace);
	free(cur->sw);
	*cur = *c;
	memset(c, 0, sizeof(*c));
}

/* ddmin over cur's list, complements only: n chunks, the first whose removal
 * keeps the failure is dropped (n - 1 chunks next), else twice as many
 * chunks, down to single entries. Starts at one chunk: the empty list, the
 * default schedule, is tried first, and only once (it is the same run
 * whatever the list was). Returns true at a fixpoint, false when the budget
 * ran out. */
static bool ddmin(struct mctx *m, struct cand *cur)
{
	unsigned n = 1;
	bool default_tried = false;
	struct cand c = { 0 };

	while (cur->n > 0) {
		unsigned chunk = (cur->n + n - 1) / n;
		bool kept = false;
		for (unsigned b = 0; b < cur->n; b += chunk) {
			unsigned e = b + chunk < cur->n ? b + chunk : cur->n;
			if (e - b == cur->n && default_tried)
				continue;
			if (m->runs >= m->budget) {
				free(c.sw);
				return false;
			}
			default_tried |= e - b == cur->n;
			bool ran = run_candidate(m, cur, b, e, &c);
			if (ran && better(m, cur, &c)) {
				char buf[120];
				printf("  run %" PRIu64 ": %s\n", m->runs, counts(&c, buf, sizeof(buf)));
				fflush(stdout);
				take(cur, &c);
				kept = true;
				break;
			}
			drop_trace(c.trace);
		}
		if (kept) {
			n = n > 1 ? n - 1 : 1;
			continue;
		}
		if (n >= cur->n)
			break;
		n = 2 * n < cur->n ? 2 * n : cur->n;
	}
	free(c.sw);
	return true;
}

/*
 * The fault settings for the runs: those of the trace, except random:P,
 * whose draws come from the PRNG the trace's strategy also drew from; the
 * decisions it made are turned into a plan when one can say them: none
 * failed (count), one hit (POINT@N), or one hit and every later one of the
 * same point (POINT@N+). Returns 0, or -1 with the reason in err.
 */
static int fault_plan(const struct trace *t, char *plan, size_t len, char *err, size_t errlen)
{
	snprintf(plan, len, "%s", t->faults);
	if (strncmp(t->faults, "random:", 7))
		return 0;
	const char *point = NULL;
	uint32_t first = 0, nfail = 0;
	bool tail = true;          /* every hit of point after the first failed one failed */
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		if (r->objk != 'f')
			continue;
		bool failed = r->op == OP_FAULT_FAIL;
		if (failed && point && strcmp(point, r->name)) {
			snprintf(err, errlen, "its fault decisions (%s) failed hits of two points, %s and %s, "
				 "which no single plan (POINT@N or POINT@N+) repeats", t->faults, point, r->name);
			return -1;
		}
		if (failed && !point) {
			point = r->name;
			first = (uint32_t)r->obj;
		}
		if (point && strcmp(point, r->name) == 0) {
			tail &= failed;
			nfail += failed;
		}
	}
	if (!point)
		snprintf(plan, len, "count");
	else if (nfail == 1)
		snprintf(plan, len, "%s@%" PRIu32, point, first);
	else if (tail)
		snprintf(plan, len, "%s@%" PRIu32 "+", point, first);
	else {
		snprintf(err, errlen, "its fault decisions (%s) failed some hits of %s and passed others, which no "
			 "single plan (POINT@N or POINT@N+) repeats", t->faults, point);
		return -1;
	}
	return 0;
}

/* The trace's choices as MIGRACE_CHOICES ("T.N=V ...": thread T's N-th
 * choice was V); NULL for none. Malloc'd. */
static char *choice_plan(const struct trace *t)
{
	uint32_t nth[MODEL_MAX_THREADS] = { 0 };
	size_t cap = 1, o = 0;
	for (uint32_t i = 0; i < t->nsteps; i++)
		cap += t->steps[i].objk == 'k' ? 24 : 0;
	if (cap == 1)
		return NULL;
	char *plan = malloc(cap);
	if (!plan)
		return NULL;
	plan[0] = '\0';
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		if (r->objk == 'k')
			o += (size_t)snprintf(plan + o, cap - o, "%s%u.%u=%u", o ? " " : "", r->chosen,
					      ++nth[r->chosen], STEP_CHOICE_V(r->obj));
	}
	return plan;
}

static int copy_file(const char *from, const char *to, char *err, size_t errlen)
{
	FILE *in = fopen(from, "r"), *out = in ? fopen(to, "w") : NULL;
	char buf[65536];
	size_t n;
	int rc = 0;
	if (!in || !out) {
		snprintf(err, errlen, "%s: %s", in ? to : from, strerror(errno));
		if (in)
			fclose(in);
		return -1;
	}
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			rc = -1;
	fclose(in);
	if (fclose(out) || rc) {
		snprintf(err, errlen, "%s: %s", to, strerror(errno));
		return -1;
	}
	return 0;
}

/* Absolute, against the directory minimize started in (runs happen in the
 * trace's). */
static void absolute(const char *p, char *out, size_t len)
{
	char cwd[PATH_MAX];
	if (p[0] == '/' || !getcwd(cwd, sizeof(cwd)))
		snprintf(out, len, "%s", p);
	else
		snprintf(out, len, "%s/%s", cwd, p);
}

static int finish(struct mctx *m, const struct cand *before, struct cand *best, bool fixpoint, const char *out_path,
		  const char *out_show, unsigned runs_check)
{
	char err[PATH_MAX + 100], sig[400], detail[600], b[120];

	if (copy_file(best->trace, out_path, err, sizeof(err))) {
		fprintf(stderr, "migrace minimize: cannot write the minimized trace %s\n", err);
		return 2;
	}
	printf("  minimized:   %s, after %" PRIu64 " run%s (%s)\n", counts(best, b, sizeof(b)), m->runs,
	       m->runs == 1 ? "" : "s",
	       fixpoint ? "a fixpoint: no switch can go" : "--budget ran out: the best so far");
	if (best->n && best->n <= 40) {
		char *list = format_switches(best->sw, best->n, 0, 0);
		struct trace t;
		printf("  switches: %s\n", list ? list : "?");
		free(list);
		if (read_trace_file(out_path, &t, err, sizeof(err)) == 0) {
			print_located(&t, best, 40);
			trace_free(&t);
		}
	}
	unsigned same = 0;
	for (unsigned i = 0; i < runs_check; i++) {
		int rc = replay_run(out_path, sig, sizeof(sig), detail, sizeof(detail));
		if (rc == 0)
			same++;
		else
			printf("  replay %u gave %s%s%s\n", i + 1, sig, detail[0] ? ": " : "", detail);
	}
	printf("  replays: %u/%u %s\n", same, runs_check, m->target);
	/* the one line a script takes (scripts/bench-explore) */
	printf("migrace minimize: %u -> %u switches, %u -> %u preemptions, %" PRIu32 " -> %" PRIu32 " steps; "
	       "replays %u/%u\n", before->n, best->n, before->preempt, best->preempt, before->steps, best->steps, same,
	       runs_check);
	printf("migrace: trace: %s\n", out_show);
	printf("migrace: repro: %s replay %s\n", self, out_show);
	return same == runs_check ? 0 : 1;
}

static int minimize_main(int argc, char **argv)
{
	const char *out_opt = NULL;
	uint64_t budget = 500, runs_check = 3;
	double timeout = 10;
	bool list_only = false;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", minimize_opts, NULL)) != -1) {
		switch (c) {
		case M_OUT: out_opt = optarg; break;
		case M_BUDGET: budget = parse_count("minimize", "--budget", optarg, 1, 1000000); break;
		case M_RUNS_CHECK: runs_check = parse_count("minimize", "--runs-check", optarg, 0, 10000); break;
		case M_TIMEOUT: timeout = parse_seconds("minimize", optarg); break;
		case M_SWITCHES: list_only = true; break;
		case 'h':
		case M_HELP: fputs(minimize_help, stdout); return 0;
		default: die_usage("minimize", "unknown or incomplete option");
		}
	}
	if (optind >= argc)
		die_usage("minimize", "no trace given: migrace minimize TRACE");
	if (optind + 1 < argc)
		die_usage("minimize", "one trace at a time, not '%s' too", argv[optind + 1]);

	char path[PATH_MAX], out_path[PATH_MAX], out_show[PATH_MAX], err[600];
	absolute(argv[optind], path, sizeof(path));
	struct trace t;
	if (read_trace_file(path, &t, err, sizeof(err))) {
		fprintf(stderr, "migrace minimize: %s: %s\n", argv[optind], err);
		return 2;
	}
	bool script = strcmp(t.strategy, "script") == 0;
	struct cand orig = { 0 }, full = { 0 };
	if (extract(&t, false, &orig, err, sizeof(err)) || extract(&t, script, &full, err, sizeof(err))) {
		fprintf(stderr, "migrace minimize: %s: %s\n", argv[optind], err);
		trace_free(&t);
		return 2;
	}
	char b[120];
	if (list_only) {
		char *s = format_switches(full.sw, full.n, 0, 0);
		printf("%s\n", s ? s : "");
		free(s);
		printf("  %s\n", counts(&orig, b, sizeof(b)));
		if (script && full.n != orig.n)
			printf("  (strategy script: the list also spells out %u choices its ordering constraints made)\n",
			       full.n - orig.n);
		print_located(&t, &full, UINT_MAX);
		trace_free(&t);
		free(orig.sw);
		free(full.sw);
		return 0;
	}
	int rc = 2;
	struct cand cur = { 0 };
	struct mctx m = { .budget = budget, .max_steps_kept = t.nsteps };
	snprintf(m.target, sizeof(m.target), "%s", t.outcome);
	if (strcmp(t.outcome, "clean") == 0) {
		fprintf(stderr, "migrace minimize: %s: its outcome is clean: there is no failure to keep\n", argv[optind]);
		goto out;
	}
	if (access(t.program, X_OK) || !has_fork_server(t.program)) {
		fprintf(stderr, "migrace minimize: %s: the traced program %s %s\n", argv[optind], t.program,
			access(t.program, X_OK) ? "cannot be run" : "is not built with migrace-cc");
		goto out;
	}
	char plan[300];
	if (fault_plan(&t, plan, sizeof(plan), err, sizeof(err))) {
		printf("migrace minimize: %s cannot be expressed as switches: %s\n", argv[optind], err);
		printf("  the original %s\n", replay_ok(path) ? "still replays" : "does NOT replay either");
		rc = 1;
		goto out;
	}
	/* shown as the user named it; used absolute: the runs happen in the trace's directory */
	if (out_opt)
		snprintf(out_show, sizeof(out_show), "%s", out_opt);
	else {
		size_t l = strlen(argv[optind]);
		if (l > 6 && strcmp(argv[optind] + l - 6, ".trace") == 0)
			snprintf(out_show, sizeof(out_show), "%.*s.min.trace", (int)(l - 6), argv[optind]);
		else
			snprintf(out_show, sizeof(out_show), "%s.min.trace", argv[optind]);
	}
	absolute(out_show, out_path, sizeof(out_path));
	char out_dir[PATH_MAX];                  /* refused now rather than after the runs */
	snprintf(out_dir, sizeof(out_dir), "%s", out_path);
	*strrchr(out_dir, '/') = '\0';
	if (access(out_dir[0] ? out_dir : "/", W_OK)) {
		fprintf(stderr, "migrace minimize: cannot write %s: %s\n", out_show, strerror(errno));
		goto out;
	}
	if (strcmp(out_path, path) == 0) {
		fprintf(stderr, "migrace minimize: --out %s is the trace itself\n", out_opt);
		goto out;
	}
	const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(m.tmp, sizeof(m.tmp), "%s/migrace-minimize.XXXXXX", tmpdir);
	if (!mkdtemp(m.tmp)) {
		fprintf(stderr, "migrace minimize: cannot make a directory in %s: %s\n", tmpdir, strerror(errno));
		goto out;
	}

	/* the runs: the trace's program, arguments, directory and settings */
	m.argv = calloc((size_t)t.nargs + 2, sizeof(char *));
	m.argv[0] = t.program;
	for (int i = 0; i < t.nargs; i++)
		m.argv[i + 1] = t.args[i];
	exec_defaults(&m.o);
	m.o.strategy = "switches";
	m.o.seed = t.seed;
	m.o.runs = 1;
	m.o.jobs = 1;
	m.o.timeout = timeout;
	bool mem = strcmp(t.preempt, "mem") == 0;
	m.o.preempt = !mem ? "sync" : strcmp(t.mem_points, "shared") == 0 ? "mem" : "mem-all";
	/* the program's step limit (forkserver.c), unless the trace went further */
	m.o.max_steps = t.nsteps > (mem ? 5000000u : 200000u) ? t.nsteps : 0;
	m.o.out = m.tmp;
	m.o.quiet = true;
	m.o.trace_all = true;
	if (plan[0]) {
		setenv("MIGRACE_FAULTS", plan, 1);
		setenv("MIGRACE_FAULT_POINTS", t.fault_points[0] ? t.fault_points : "*", 1);
	} else {
		unsetenv("MIGRACE_FAULTS");
		unsetenv("MIGRACE_FAULT_POINTS");
	}
	char *choices = choice_plan(&t);
	if (choices)
		setenv("MIGRACE_CHOICES", choices, 1);
	else
		unsetenv("MIGRACE_CHOICES");
	free(choices);
	unsetenv("MIGRACE_SCHEDULE");            /* a forced prefix would come before the switches */
	if (t.cwd[0] && chdir(t.cwd))
		fprintf(stderr, "migrace minimize: warning: cannot enter the recorded directory %s: %s\n", t.cwd,
			strerror(errno));

	printf("minimizing %s: %s\n", argv[optind], t.outcome);
	printf("  original:    %s\n", counts(&orig, b, sizeof(b)));
	if (script && full.n != orig.n)
		printf("  (strategy script: its ordering constraints made %u more choices, listed as switches: the\n"
		       "  switches strategy does not apply the constraints)\n", full.n - orig.n);
	fflush(stdout);
	if (!run_candidate(&m, &full, 0, 0, &cur)) {
		fprintf(stderr, "migrace minimize: the program could not be run with the switches strategy\n");
		goto out;
	}
	if (strcmp(cur.sig, m.target)) {
		printf("migrace minimize: the trace cannot be expressed as switches: its %u switches gave %s, not %s\n",
		       full.n, cur.sig, m.target);
		printf("  the original %s\n", replay_ok(path) ? "still replays to it" : "does NOT replay to it either");
		rc = 1;
		goto out;
	}
	printf("  as switches: %s: %s\n", counts(&cur, b, sizeof(b)), cur.sig);
	fflush(stdout);
	struct cand before = { .n = cur.n, .preempt = cur.preempt, .steps = cur.steps };
	bool fixpoint = ddmin(&m, &cur);
	rc = finish(&m, &before, &cur, fixpoint, out_path, out_show, (unsigned)runs_check);
out:
	drop_trace(cur.trace);
	free(cur.sw);
	if (m.tmp[0])
		rmdir(m.tmp);
	free(m.argv);
	free(orig.sw);
	free(full.sw);
	trace_free(&t);
	return rc;
}

const struct command cmd_minimize = { "minimize", minimize_main, minimize_help };
