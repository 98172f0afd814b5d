/*
 * migrace hunt: the search for races nobody scripted. Explores a scenario
 * (its script unused) or any migrace-cc program with a strategy over a budget
 * of schedules or of time, keeps going after failures and collects every
 * distinct failure signature: how often it came, the lowest schedule index
 * that gave it (with its seed, so that a sharded hunt over N machines is
 * reproducible from the seed alone) and one trace. The result is a table on
 * stderr and DIR/hunt.txt for machines.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "commands.h"
#include "opts.h"
#include "pool.h"
#include "rerun.h"
#include "strategy.h"
#include "trace.h"

static const char hunt_help[] =
	"usage: migrace hunt SCENARIO [--regressed] [--build tsan|asan] [OPTIONS]\n"
	"       migrace hunt --workload NAME [--regressed SCENARIO | --core DIR] [--build tsan|asan] [OPTIONS]\n"
	"       migrace hunt [OPTIONS] -- PROGRAM [ARGS]\n"
	"\n"
	"Searches without a script: runs schedule after schedule of a scenario's program\n"
	"(see `migrace list`; its scripted order is not used) or of any PROGRAM built with\n"
	"migrace-cc, does not stop at failures, and collects every distinct failure\n"
	"signature: its count, the lowest schedule index that gave it, that run's seed\n"
	"and one trace (with its .log report). Schedule index i runs with seed SEED+i.\n"
	"\n"
	"  --regressed         the scenario's regressed core (default: the real core, where\n"
	"                      any failure is a finding)\n"
	"  --workload NAME     a workload (see `migrace list --workloads`): a program that\n"
	"                      drives a whole core at random, run with its fault settings;\n"
	"                      against the real core, a scenario's regressed core\n"
	"                      (--regressed SCENARIO) or the core in DIR (--core DIR, a\n"
	"                      core/ directory compiled with the Makefile's flags into\n"
	"                      build/workload-core/)\n"
	"  --build tsan|asan   which build of the scenario (default tsan)\n"
	"  --strategy S        random | pct:D | dfs:B | pos | guided   (default pct:3)\n"
	"                      guided: greybox search, its corpus under DIR/guided\n"
	"                      shared by the workers (see docs/strategies.md)\n"
	"  --preempt sync|mem|mem-all\n"
	"                      scheduling points at synchronisation only (default), or\n"
	"                      also before loads and stores of shared memory (mem), or\n"
	"                      of all non-stack memory (mem-all), as for exec\n"
	"  --budget N          schedule indices 0..N-1 (default 1000)\n"
	"  --time SEC          instead of --budget: as many schedules as fit in SEC seconds\n"
	"  --jobs J            parallel workers (default: one per online CPU)\n"
	"  --shard I/N         shard I of N (1 <= I <= N): only the indices i with\n"
	"                      i % N == I-1; shards 1..N together are the unsharded hunt\n"
	"                      with the same --seed and --budget (not with dfs: it has no\n"
	"                      seed space)\n"
	"  --seed N            seed of index 0 (default 1)\n"
	"  --out DIR           traces and hunt.txt (default migrace-hunt/NAME, NAME the\n"
	"                      scenario [+ .regressed] or the program's file name)\n"
	"                      a DIR that already holds a hunt keeps it: this hunt goes\n"
	"                      to DIR/hunt-2 (hunt-3, ...), said on stderr\n"
	"  --force             replace the hunt already in DIR instead\n"
	"  --resume DIR        go on with the guided hunt in DIR: its target and options,\n"
	"                      its corpus and what it found; its schedule indices go on\n"
	"                      after the last it ran; --budget/--time (default 1000\n"
	"                      more), --jobs and --timeout may be given again\n"
	"  --pct-k K           PCT's k (default: estimated from a first run under the\n"
	"                      default schedule; printed in the seed repro lines)\n"
	"  --spurious          spurious wake-ups and early timeouts are decisions too\n"
	"  --pin none|auto|CPU pin each run to one CPU: none, the CPU it started\n"
	"                      on (auto, the default), or CPU\n"
	"  --timeout SEC       per-run wall-clock limit, then `hang` (default 10)\n"
	"  --until-expected    (scenario) stop once the expected signature is found at its\n"
	"                      lowest index (every lower index has run) and print\n"
	"                      \"first expected at schedule N\" on stdout (N = index + 1)\n"
	"\n"
	"A progress line on stderr shows schedules run, rate, failures and signatures.\n"
	"Ctrl-C (or SIGTERM) stops the workers and keeps what was found: the traces on\n"
	"disk, the summary. The summary table (signature, count, first index, seed,\n"
	"trace; a scenario's expected signature marked) and a repro line per signature\n"
	"(`migrace replay TRACE` and the seed form `migrace exec --strategy S --seed N\n"
	"--runs 1 -- PROGRAM`) end the output. DIR/hunt.txt has header lines\n"
	"(# program, # strategy, # preempt, # seed, # shard I/N, # budget, # schedules,\n"
	"# stopped, # expected) and one line per signature:\n"
	"SIGNATURE<TAB>COUNT<TAB>FIRST_INDEX<TAB>SEED<TAB>TRACE.\n"
	"\n"
	"exit: 0 nothing found; 1 failures found; 2 bad input; 130 interrupted before\n"
	"anything was found.\n";

enum { H_REGRESSED = 1000, H_BUILD, H_STRATEGY, H_PREEMPT, H_BUDGET, H_TIME, H_JOBS, H_SHARD, H_SEED, H_OUT,
       H_TIMEOUT, H_UNTIL, H_FORCE, H_WORKLOAD, H_CORE, H_PIN, H_PCT_K, H_SPURIOUS, H_RESUME, H_HELP };

static const struct option hunt_opts[] = {
	{ "regressed", no_argument, NULL, H_REGRESSED },
	{ "build", required_argument, NULL, H_BUILD },
	{ "strategy", required_argument, NULL, H_STRATEGY },
	{ "preempt", required_argument, NULL, H_PREEMPT },
	{ "budget", required_argument, NULL, H_BUDGET },
	{ "time", required_argument, NULL, H_TIME },
	{ "jobs", required_argument, NULL, H_JOBS },
	{ "shard", required_argument, NULL, H_SHARD },
	{ "seed", required_argument, NULL, H_SEED },
	{ "out", required_argument, NULL, H_OUT },
	{ "timeout", required_argument, NULL, H_TIMEOUT },
	{ "until-expected", no_argument, NULL, H_UNTIL },
	{ "force", no_argument, NULL, H_FORCE },
	{ "pin", required_argument, NULL, H_PIN },
	{ "pct-k", required_argument, NULL, H_PCT_K },
	{ "spurious", no_argument, NULL, H_SPURIOUS },
	{ "workload", required_argument, NULL, H_WORKLOAD },
	{ "core", required_argument, NULL, H_CORE },
	{ "resume", required_argument, NULL, H_RESUME },
	{ "help", no_argument, NULL, H_HELP },
	{ 0 },
};

/* One distinct failure signature. */
struct found {
	char sig[160];
	uint64_t count, first, seed;
	char trace[PATH_MAX];
};

struct hunt {
	struct exec_opts o;
	char *const *argv;           /* the program and its arguments */
	const char *name, *build, *stop;
	char expect[160];            /* a scenario's expected signature, or "" */
	bool scenario, regressed, until_expected, dfs, tty, shown;
	uint64_t budget;             /* 0: --time */
	uint64_t in_shard;           /* the shard's indices below the budget */
	unsigned time_s;
	double t0, last_progress;
	uint64_t runs, failures;
	uint64_t prev_runs;          /* --resume: the schedules the hunt ran before */
	uint64_t pct_k;              /* the k PCT used (the workers' "pct-k" line) */
	uint64_t next[MAX_JOBS];     /* each worker's next index: all below it ran */
	struct found *found;
	size_t nfound;
	char notes[16][256];
	int nnotes;
	char summary[PATH_MAX];
};

/* A trace the hunt does not keep (a worker's own first of a signature whose
 * lowest index another worker ran): it goes, with its report. */
static void discard_trace(const char *trace)
{
	char log[PATH_MAX + 8];
	if (!*trace)
		return;
	unlink(trace);
	snprintf(log, sizeof(log), "%s.log", trace);
	unlink(log);
}

static struct found *find_found(const struct hunt *h, const char *sig)
{
	for (size_t i = 0; i < h->nfound && *sig; i++)
		if (strcmp(h->found[i].sig, sig) == 0)
			return &h->found[i];
	return NULL;
}

static void hunt_run(void *ctx, unsigned j, uint64_t index, uint64_t seed, const char *sig, const char *trace)
{
	struct hunt *h = ctx;
	uint64_t next = index + worker_stride(&h->o);

	h->runs++;
	if (j < MAX_JOBS && next > h->next[j])
		h->next[j] = next;
	if (strcmp(sig, "clean") == 0)
		return;
	h->failures++;
	struct found *f = find_found(h, sig);
	if (!f) {
		struct found *n = realloc(h->found, (h->nfound + 1) * sizeof(*n));
		if (!n) {
			fprintf(stderr, "migrace hunt: out of memory\n");
			exit(2);
		}
		h->found = n;
		f = &h->found[h->nfound++];
		memset(f, 0, sizeof(*f));
		snprintf(f->sig, sizeof(f->sig), "%s", sig);
		f->first = index;
		f->seed = seed;
		snprintf(f->trace, sizeof(f->trace), "%s", trace);
	} else if (index < f->first) {
		f->first = index;
		f->seed = seed;
		if (*trace) {
			discard_trace(f->trace);
			snprintf(f->trace, sizeof(f->trace), "%s", trace);
		}
	} else {
		discard_trace(trace);
	}
	f->count++;
}

/* The expected signature is found at its lowest index once every worker is
 * past that index: all lower indices of the shard have run. */
static const struct found *expected_settled(const struct hunt *h)
{
	const struct found *f = find_found(h, h->expect);
	for (unsigned j = 0; f && j < h->o.jobs; j++)
		if (h->next[j] <= f->first)
			return NULL;
	return f;
}

static void clear_progress(struct hunt *h)
{
	if (h->shown)
		fputs("\r\033[K", stderr);
	h->shown = false;
}

/* On a terminal the line is rewritten in place about 4 times a second;
 * into a file or a CI log, a line every 10 s at most. */
static void progress(struct hunt *h, bool last)
{
	double now = now_s(), el = now - h->t0;
	char line[256], total[32] = "";

	if (h->tty ? !last && now - h->last_progress < 0.25 : last || now - h->last_progress < 10)
		return;
	h->last_progress = now;
	if (h->budget)
		snprintf(total, sizeof(total), "/%" PRIu64, h->in_shard);
	snprintf(line, sizeof(line), "migrace hunt: %" PRIu64 "%s schedules, %.0f/s, %" PRIu64 " failures, %zu signature%s, %.1f s",
		 h->runs, total, el > 0 ? (double)h->runs / el : 0.0, h->failures, h->nfound, h->nfound == 1 ? "" : "s", el);
	if (h->tty) {
		fprintf(stderr, "\r%s\033[K", line);
		h->shown = true;
	} else {
		fprintf(stderr, "%s\n", line);
	}
}

static void hunt_note(void *ctx, const char *text)
{
	struct hunt *h = ctx;
	for (int i = 0; i < h->nnotes; i++)
		if (strcmp(h->notes[i], text) == 0)
			return;      /* every worker estimates the same PCT k */
	if (h->nnotes < 16)
		snprintf(h->notes[h->nnotes++], sizeof(h->notes[0]), "%s", text);
	clear_progress(h);
	fprintf(stderr, "migrace: %s\n", text);
}

static bool hunt_tick(void *ctx)
{
	struct hunt *h = ctx;

	progress(h, false);
	if (!h->stop && pool_interrupt())
		h->stop = "interrupted";
	if (!h->stop && h->time_s && now_s() - h->t0 >= h->time_s)
		h->stop = "time";
	if (!h->stop && h->until_expected && expected_settled(h))
		h->stop = "expected";
	return h->stop != NULL;
}

/* An argument as the shell reads it back. */
static int by_first(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	return x->first < y->first ? -1 : x->first > y->first;
}

/* DIR/hunt.txt, replaced whole (a reader never sees half of it). */
static int write_summary(const struct hunt *h, const char *stopped)
{
	char tmp[PATH_MAX + 8];
	snprintf(tmp, sizeof(tmp), "%s.tmp", h->summary);
	FILE *f = fopen(tmp, "w");
	if (!f)
		return -1;
	fputs("# migrace hunt\n# program ", f);
	pool_put_command(f, h->argv);
	fprintf(f, "\n# strategy %s\n# preempt %s\n# seed %" PRIu64 "\n# shard %" PRIu64 "/%" PRIu64 "\n", h->o.strategy,
		h->o.preempt, h->o.seed, h->o.shard + 1, h->o.nshards);
	if (h->budget)
		fprintf(f, "# budget %" PRIu64 "\n", h->budget);
	else
		fprintf(f, "# time %u\n", h->time_s);
	fprintf(f, "# schedules %" PRIu64 "\n# stopped %s\n", h->prev_runs + h->runs, stopped);
	if (h->scenario)
		fprintf(f, "# expected %s\n", *h->expect ? h->expect : "-");
	for (size_t i = 0; i < h->nfound; i++)
		fprintf(f, "%s\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%s\n", h->found[i].sig, h->found[i].count,
			h->found[i].first, h->found[i].seed, h->found[i].trace[0] ? h->found[i].trace : "-");
	if (fclose(f) || rename(tmp, h->summary)) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void parse_shard(const char *v, struct exec_opts *o)
{
	unsigned long long i, n;
	int end = 0;
	if (sscanf(v, "%llu/%llu%n", &i, &n, &end) != 2 || v[end] || !isdigit((unsigned char)v[0]) ||
	    !strchr(v, '/') || !isdigit((unsigned char)strchr(v, '/')[1]) || i < 1 || n > 16384 || i > n)
		die_usage("hunt", "--shard needs I/N with 1 <= I <= N <= 16384, not '%s'", v);
	o->shard = i - 1;
	o->nshards = n;
}

static void summary(struct hunt *h, double secs)
{
	size_t w = 9;
	for (size_t i = 0; i < h->nfound; i++)
		if (strlen(h->found[i].sig) > w)
			w = strlen(h->found[i].sig);
	fprintf(stderr, "migrace hunt: %s, strategy %s, preempt %s, seed %" PRIu64 ", shard %" PRIu64 "/%" PRIu64
		": %" PRIu64 " schedules in %.1f s (%.0f/s), %" PRIu64 " failed, %zu signature%s%s%s\n", h->name,
		h->o.strategy, h->o.preempt, h->o.seed, h->o.shard + 1, h->o.nshards, h->runs, secs,
		secs > 0 ? (double)h->runs / secs : 0.0, h->failures, h->nfound, h->nfound == 1 ? "" : "s",
		strcmp(h->stop, "budget") ? "; stopped: " : "", strcmp(h->stop, "budget") ? h->stop : "");
	if (h->nfound) {
		fprintf(stderr, "  %-*s %8s %8s %8s  %s\n", (int)w, "SIGNATURE", "COUNT", "FIRST", "SEED", "TRACE");
		for (size_t i = 0; i < h->nfound; i++) {
			const struct found *f = &h->found[i];
			bool exp = *h->expect && strcmp(f->sig, h->expect) == 0;
			fprintf(stderr, "%c %-*s %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "  %s\n", exp ? '*' : ' ', (int)w,
				f->sig, f->count, f->first, f->seed, f->trace[0] ? f->trace : "(not saved)");
		}
	}
	const struct found *f = find_found(h, h->expect);
	if (h->scenario && !h->regressed)
		fprintf(stderr, "the real core: any failure is a finding%s%s%s\n",
			*h->expect ? " (* the regressed core's expected signature, " : "", h->expect,
			*h->expect ? ")" : "");
	else if (h->scenario && !*h->expect)
		fprintf(stderr, "the scenario expects no signature in the %s build\n", h->build);
	else if (h->scenario && f)
		fprintf(stderr, "* expected %s: found, first at schedule index %" PRIu64 " (seed %" PRIu64 ")\n",
			h->expect, f->first, f->seed);
	else if (h->scenario)
		fprintf(stderr, "expected %s: NOT found in %" PRIu64 " schedules\n", h->expect, h->runs);
	for (size_t i = 0; i < h->nfound; i++) {
		const struct found *f = &h->found[i];
		fprintf(stderr, "repro %s (index %" PRIu64 "):\n", f->sig, f->first);
		if (f->trace[0])
			fprintf(stderr, "  %s replay %s\n", self, f->trace);
		if (h->dfs) {
			fprintf(stderr, "  (dfs: a schedule is a position in the search, it has no seed)\n");
			continue;
		}
		if (strcmp(h->o.strategy, "guided") == 0) {
			fprintf(stderr, "  (guided: a schedule comes from the corpus, it has no seed)\n");
			continue;
		}
		fputs("  ", stderr);
		pool_seed_repro(stderr, &h->o, f->seed, h->pct_k, h->argv);
	}
	fprintf(stderr, "summary: %s\n", h->summary);
}

/* Where this hunt writes: DIR itself, unless an earlier hunt's summary is
 * there (then DIR/hunt-2, hunt-3, ...: a hunt never overwrites another's
 * findings, unless --force). Absolute, created and writable, else exit 2. */
static const char *hunt_dir(const char *dir, bool force)
{
	static char sub[PATH_MAX];
	const char *abs = out_dir_ready("hunt", dir);
	char summary[PATH_MAX + 16];
	snprintf(summary, sizeof(summary), "%s/hunt.txt", abs);
	if (force || access(summary, F_OK))
		return abs;
	for (unsigned n = 2; n < 100000; n++) {
		snprintf(sub, sizeof(sub), "%s/hunt-%u", abs, n);
		if (access(sub, F_OK) == 0)
			continue;
		fprintf(stderr, "migrace hunt: %s already holds a hunt; this one goes to %s (--force: replace it)\n",
			abs, sub);
		return out_dir_ready("hunt", sub);
	}
	die_usage("hunt", "'%s' holds too many hunts", dir);
}

/* A workload built against the core in dir, with the Makefile's flags, into
 * build/workload-core/<build>/; exit 2 when it does not build. */
static void build_against_core(const struct workload *w, const char *build, const char *dir, char *prog)
{
	char out[PATH_MAX], cmd[4 * PATH_MAX], abs[PATH_MAX];

	if (!realpath(dir, abs))
		die_usage("hunt", "--core %s: %s", dir, strerror(errno));
	snprintf(out, sizeof(out), "%s/build/workload-core/%s", root, build);
	snprintf(cmd, sizeof(cmd), "make -s --no-print-directory -C '%s' workload-core WL='%s' WL_BUILD=%s "
		 "WL_CORE='%s' WL_OUT='%s' > '%s.log' 2>&1", root, w->name, build, abs, out, out);
	trace_make_dirs(out);
	if (system(cmd) != 0) {
		fprintf(stderr, "migrace hunt: the core in %s does not build with workload %s (%s); see %s.log:\n", dir,
			w->name, build, out);
		snprintf(cmd, sizeof(cmd), "grep -m 8 -E 'error|workload-core|regressed-core' '%s.log' | sed 's/^/  /' >&2",
			 out);
		if (system(cmd)) { /* the message above stands alone */ }
		exit(2);
	}
	snprintf(prog, PATH_MAX, "%s/%s", out, w->name);
}

/* --workload NAME [--regressed SCENARIO | --core DIR]: the program (built
 * now if needed), its name for the output, its fault settings. */
static void workload_target(struct hunt *h, int argc, char **argv, int dd, const char *wname, const char *core_dir,
			    char *prog, char *name)
{
	const struct workload *w = find_workload(wname);
	if (!w)
		die_usage("hunt", "no workload named '%s' (see migrace list --workloads)", wname);
	if (dd != argc)
		die_usage("hunt", "--workload runs the workload: no program after --");
	if (h->until_expected)
		die_usage("hunt", "--until-expected is for a scenario (a workload has no expected signature)");
	const char *scen = NULL;
	if (h->regressed) {
		if (core_dir)
			die_usage("hunt", "--regressed SCENARIO and --core DIR exclude each other");
		if (optind >= argc)
			die_usage("hunt", "--workload %s --regressed needs a SCENARIO (see migrace list)", wname);
		scen = argv[optind++];
		if (!find_race(scen))
			die_usage("hunt", "no scenario named '%s' (see migrace list)", scen);
	}
	if (optind < argc)
		die_usage("hunt", "--workload %s: unexpected argument '%s'", wname, argv[optind]);
	if (core_dir) {
		build_against_core(w, h->build, core_dir, prog);
		snprintf(name, PATH_MAX, "%s.core", w->name);
	} else {
		workload_program(w, h->build, scen, prog, PATH_MAX);
		char cmd[2 * PATH_MAX];
		snprintf(cmd, sizeof(cmd), "make -s --no-print-directory -C '%s' '%s' >/dev/null 2>&1", root,
			 prog + strlen(root) + 1);
		if (access(prog, X_OK) && system(cmd) != 0)
			die_usage("hunt", "workload %s is not built (%s): run make", wname, prog);
		snprintf(name, PATH_MAX, scen ? "%s.regressed-%s" : "%s", w->name, scen);
	}
	if (!getenv("MIGRACE_FAULTS") && w->faults[0]) {
		setenv("MIGRACE_FAULTS", w->faults, 1);
		setenv("MIGRACE_FAULT_POINTS", w->fault_points[0] ? w->fault_points : "*", 1);
	}
}

/* ---- --resume DIR --------------------------------------------------------
 *
 * A guided hunt keeps its arguments in DIR/guided/args (one a line, without
 * --out, --force, --budget and --time); --resume DIR runs hunt again with
 * them, the options given beside --resume first (so --budget, --time, --jobs
 * or --timeout apply), its corpus kept and its findings (DIR/hunt.txt) taken
 * over. */
static bool arg_dropped(const char *a, bool *with_value)
{
	static const char *const valued[] = { "--out", "--budget", "--time", "--resume" };
	*with_value = false;
	if (strcmp(a, "--force") == 0)
		return true;
	for (size_t i = 0; i < sizeof(valued) / sizeof(valued[0]); i++) {
		size_t n = strlen(valued[i]);
		if (strncmp(a, valued[i], n) == 0 && (a[n] == '\0' || a[n] == '=')) {
			*with_value = a[n] == '\0';
			return true;
		}
	}
	return false;
}

static void save_args(const char *dir, int argc, char **argv)
{
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/guided", dir);
	trace_make_dirs(path);
	snprintf(path, sizeof(path), "%s/guided/args", dir);
	FILE *f = fopen(path, "w");
	bool opts = true, val;
	for (int i = 1; f && i < argc; i++) {
		if (strchr(argv[i], '\n')) {        /* cannot be kept a line each: no resume */
			fclose(f);
			unlink(path);
			return;
		}
		if (strcmp(argv[i], "--") == 0)
			opts = false;
		if (opts && arg_dropped(argv[i], &val)) {
			i += val;
			continue;
		}
		fprintf(f, "%s\n", argv[i]);
	}
	if (f && fclose(f))
		unlink(path);
}

static const char *resume_args(int *argc, char ***argv)
{
	static char dir[PATH_MAX];
	const char *r = NULL;
	int at = -1;
	for (int i = 1; i < *argc && strcmp((*argv)[i], "--"); i++)
		if (strcmp((*argv)[i], "--resume") == 0 && i + 1 < *argc) {
			r = (*argv)[i + 1];
			at = i;
		} else if (strncmp((*argv)[i], "--resume=", 9) == 0) {
			r = (*argv)[i] + 9;
			at = i;
		}
	if (!r)
		return NULL;
	for (int i = 1; i < *argc; i++)
		if (strcmp((*argv)[i], "--") == 0)
			die_usage("hunt", "--resume %s takes the hunt's own target: no program after --", r);
	snprintf(dir, sizeof(dir), "%s", r);
	char path[PATH_MAX + 32];
	snprintf(path, sizeof(path), "%s/guided/args", dir);
	FILE *f = fopen(path, "r");
	if (!f)
		die_usage("hunt", "--resume %s: no guided hunt there (%s: %s)", dir, path, strerror(errno));
	char **stored = NULL, *line = NULL;
	size_t cap = 0, n = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) >= 0) {
		if (len && line[len - 1] == '\n')
			line[len - 1] = '\0';
		stored = realloc(stored, (n + 1) * sizeof(*stored));
		if (!stored)
			die_usage("hunt", "out of memory");
		stored[n++] = strdup(line);
	}
	free(line);
	fclose(f);
	/* argv[0], the stored options, the ones given now, then "--" and the rest */
	char **nv = calloc((size_t)*argc + n + 2, sizeof(*nv));
	int k = 0;
	size_t dd = 0;
	while (dd < n && strcmp(stored[dd], "--"))
		dd++;
	nv[k++] = (*argv)[0];
	for (size_t i = 0; i < dd; i++)
		nv[k++] = stored[i];
	for (int i = 1; i < *argc; i++) {
		if (i == at) {
			i += strcmp((*argv)[i], "--resume") == 0;
			continue;
		}
		nv[k++] = (*argv)[i];
	}
	for (size_t i = dd; i < n; i++)
		nv[k++] = stored[i];
	nv[k] = NULL;
	*argc = k;
	*argv = nv;
	return dir;
}

/* The findings and the schedule count of the hunt being resumed. */
static void resume_found(struct hunt *h)
{
	FILE *f = fopen(h->summary, "r");
	char line[PATH_MAX + 512];
	if (!f)
		die_usage("hunt", "--resume: cannot read %s: %s", h->summary, strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		unsigned long long v;
		if (sscanf(line, "# schedules %llu", &v) == 1) {
			h->prev_runs = v;
			continue;
		}
		char *fld[5], *p = line;
		int nf = 0;
		if (line[0] == '#')
			continue;
		while (nf < 5 && p) {
			fld[nf++] = p;
			p = strchr(p, '\t');
			if (p)
				*p++ = '\0';
		}
		if (nf != 5)
			continue;
		struct found *nfnd = realloc(h->found, (h->nfound + 1) * sizeof(*nfnd));
		if (!nfnd)
			die_usage("hunt", "out of memory");
		h->found = nfnd;
		struct found *x = &h->found[h->nfound++];
		memset(x, 0, sizeof(*x));
		snprintf(x->sig, sizeof(x->sig), "%s", fld[0]);
		x->count = strtoull(fld[1], NULL, 10);
		x->first = strtoull(fld[2], NULL, 10);
		x->seed = strtoull(fld[3], NULL, 10);
		snprintf(x->trace, sizeof(x->trace), "%s", strcmp(fld[4], "-") ? fld[4] : "");
	}
	fclose(f);
}

static int hunt_main(int argc, char **argv)
{
	static struct hunt h;
	const char *outdir = NULL, *target = NULL, *workload = NULL, *core_dir = NULL;
	bool jobs_set = false, time_set = false, budget_set = false, force = false;
	int c, dd = argc;

	memset(&h, 0, sizeof(h));
	const char *resume = resume_args(&argc, &argv);
	exec_defaults(&h.o);
	h.o.strategy = "pct:3";
	h.o.preempt = "sync";
	h.budget = 1000;
	h.build = "tsan";
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	h.o.jobs = ncpu > 0 ? (unsigned)(ncpu < MAX_JOBS ? ncpu : MAX_JOBS) : 1;

	/* SCENARIO [OPTIONS], or [OPTIONS] -- PROGRAM ARGS: options end at "--" */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			dd = i;
			break;
		}
	optind = 1;
	while ((c = getopt_long(dd, argv, "h", hunt_opts, NULL)) != -1) {
		switch (c) {
		case H_REGRESSED: h.regressed = true; break;
		case H_BUILD:
			if (strcmp(optarg, "tsan") && strcmp(optarg, "asan"))
				die_usage("hunt", "--build must be tsan or asan, not '%s'", optarg);
			h.build = optarg;
			break;
		case H_STRATEGY: {
			struct strat_spec spec;
			const char *why;
			check_strategy("hunt", optarg);
			strat_parse(optarg, &spec, &why);
			if (!strat_explores(spec.kind))
				die_usage("hunt", "--strategy '%s': a hunt explores on its own (no script, no switch list): "
					  "use random, pct:D, dfs:B, pos or guided", optarg);
			h.o.strategy = optarg;
			break;
		}
		case H_PREEMPT: h.o.preempt = parse_preempt("hunt", optarg); break;
		case H_BUDGET: h.budget = parse_count("hunt", "--budget", optarg, 1, UINT64_MAX / 4); budget_set = true; break;
		case H_TIME: h.time_s = (unsigned)parse_count("hunt", "--time", optarg, 1, 7 * 86400); time_set = true; break;
		case H_JOBS: h.o.jobs = (unsigned)parse_count("hunt", "--jobs", optarg, 1, MAX_JOBS); jobs_set = true; break;
		case H_SHARD: parse_shard(optarg, &h.o); break;
		case H_SEED: h.o.seed = parse_count("hunt", "--seed", optarg, 0, UINT64_MAX / 4); break;
		case H_OUT: outdir = optarg; break;
		case H_TIMEOUT: h.o.timeout = parse_seconds("hunt", optarg); break;
		case H_UNTIL: h.until_expected = true; break;
		case H_FORCE: force = true; break;
		case H_PIN: h.o.pin = parse_pin("hunt", optarg); break;
		case H_SPURIOUS: h.o.spurious = true; break;
		case H_PCT_K: h.o.pct_k = parse_count("hunt", "--pct-k", optarg, 1, UINT32_MAX); break;
		case H_WORKLOAD: workload = optarg; break;
		case H_CORE: core_dir = optarg; break;
		case H_RESUME: break;   /* taken apart by resume_args */
		case 'h':
		case H_HELP: fputs(hunt_help, stdout); return 0;
		default: die_usage("hunt", "unknown or incomplete option");
		}
	}
	if (budget_set && time_set)
		die_usage("hunt", "--budget and --time exclude each other (a count of schedules, or seconds)");
	if (time_set)
		h.budget = 0;

	char prog[PATH_MAX], out_buf[PATH_MAX], name[PATH_MAX];
	h.scenario = dd == argc && !workload;
	if (core_dir && !workload)
		die_usage("hunt", "--core is for a workload (--workload NAME --core DIR)");
	if (workload) {
		workload_target(&h, argc, argv, dd, workload, core_dir, prog, name);
		static char *av[2];
		av[0] = prog;
		h.argv = av;
	} else if (h.scenario) {
		if (optind >= argc)
			die_usage("hunt", "no scenario given: migrace hunt SCENARIO [OPTIONS] | [OPTIONS] -- PROGRAM ARGS");
		if (optind < argc - 1)
			die_usage("hunt", "one scenario at a time, not '%s' and '%s' (a program goes after --)",
				  argv[optind], argv[optind + 1]);
		target = argv[optind];
		const struct race *r = find_race(target);
		if (!r)
			die_usage("hunt", "no scenario named '%s' (see migrace list; a program goes after --)", target);
		race_program(r, h.build, h.regressed, prog, sizeof(prog));
		char expect[2][160];
		if (describe(prog, expect))
			die_usage("hunt", "%s: cannot read its descriptor from %s (not built? run make)", target, prog);
		snprintf(h.expect, sizeof(h.expect), "%s", expect[strcmp(h.build, "asan") == 0]);
		snprintf(name, sizeof(name), "%s%s", r->name, h.regressed ? ".regressed" : "");
		static char *av[2];
		av[0] = prog;
		h.argv = av;
		if (h.until_expected && !*h.expect)
			die_usage("hunt", "--until-expected: %s expects no signature in the %s build", target, h.build);
	} else {
		if (optind < dd)
			die_usage("hunt", "give a SCENARIO or -- PROGRAM, not both ('%s')", argv[optind]);
		if (dd + 1 >= argc)
			die_usage("hunt", "no program after --: migrace hunt [OPTIONS] -- PROGRAM [ARGS]");
		if (h.regressed)
			die_usage("hunt", "--regressed is for a scenario, not a program");
		if (h.until_expected)
			die_usage("hunt", "--until-expected is for a scenario (a program has no expected signature)");
		check_program("hunt", argv[dd + 1], prog);
		argv[dd + 1] = prog;
		h.argv = argv + dd + 1;
		const char *b = strrchr(prog, '/');
		snprintf(name, sizeof(name), "%s", b ? b + 1 : prog);
	}
	h.name = name;

	h.dfs = strncmp(h.o.strategy, "dfs:", 4) == 0;
	if (h.dfs && h.o.nshards > 1)
		die_usage("hunt", "--shard does not apply to dfs: dfs has no seed space, its schedules come one "
			  "after another (use random, pct:D or pos to shard)");
	if (h.dfs && !jobs_set)
		h.o.jobs = 1;
	check_dfs_jobs("hunt", &h.o);
	h.in_shard = UINT64_MAX;
	if (h.budget) {
		h.in_shard = h.budget > h.o.shard ? (h.budget - h.o.shard + h.o.nshards - 1) / h.o.nshards : 0;
		if (h.o.jobs > h.in_shard)
			h.o.jobs = h.in_shard ? (unsigned)h.in_shard : 1;
	}

	if (!outdir) {
		snprintf(out_buf, sizeof(out_buf), "migrace-hunt/%s", name);
		outdir = out_buf;
	}
	bool guided = strcmp(h.o.strategy, "guided") == 0;
	if (guided && h.o.nshards > 1)
		die_usage("hunt", "--shard does not apply to guided: its schedules come from a corpus the shards "
			  "would not share (use random, pct:D or pos to shard)");
	if (resume && !guided)
		die_usage("hunt", "--resume %s: not a guided hunt (%s)", resume, h.o.strategy);
	const char *out_abs = resume ? out_dir_ready("hunt", resume) : hunt_dir(outdir, force);
	snprintf(h.summary, sizeof(h.summary), "%s/hunt.txt", out_abs);
	if (resume)
		resume_found(&h);
	else if (guided)
		save_args(out_abs, argc, argv);
	h.o.resume = resume != NULL;
	h.o.base = h.prev_runs;
	if (write_summary(&h, "running"))
		die_usage("hunt", "cannot write into the --out directory '%s': %s", out_abs, strerror(errno));

	struct pool_hooks hooks = { .ctx = &h, .run = hunt_run, .note = hunt_note, .tick = hunt_tick, .tick_ms = 250,
				   .interrupts = true };
	h.o.runs = h.budget ? h.budget : UINT64_MAX / 4;
	h.o.out = out_abs;
	h.o.name = name;
	h.o.keep_going = true;
	h.o.trace_new = true;
	h.o.hooks = &hooks;
	for (unsigned j = 0; j < h.o.jobs; j++)
		h.next[j] = worker_first(&h.o, j);
	h.tty = isatty(2);

	h.t0 = h.last_progress = now_s();
	struct outcome out;
	int rc = h.in_shard ? pool_run(&h.o, h.argv, &out) : (memset(&out, 0, sizeof(out)), 0);
	h.pct_k = out.pct_k ? out.pct_k : h.o.pct_k;
	double secs = now_s() - h.t0;
	progress(&h, true);
	clear_progress(&h);
	if (rc || out.config_error)
		return 2;
	if (!h.stop)     /* dfs may run out of schedules before the budget */
		h.stop = out.interrupted ? "interrupted" : h.dfs && h.budget && h.runs < h.in_shard ? "exhausted" : "budget";
	if (out.lost_worker && !h.nfound && strcmp(h.stop, "interrupted"))
		return 2;

	qsort(h.found, h.nfound, sizeof(*h.found), by_first);
	summary(&h, secs);
	if (write_summary(&h, h.stop))
		fprintf(stderr, "migrace hunt: cannot write %s: %s\n", h.summary, strerror(errno));
	if (h.until_expected) {
		const struct found *f = expected_settled(&h), *any = find_found(&h, h.expect);
		if (f)
			printf("first expected at schedule %" PRIu64 "\n", f->first + 1);
		else if (any)
			printf("expected %s at schedule index %" PRIu64 ", but the hunt stopped (%s) before every "
			       "lower index ran\n", h.expect, any->first, h.stop);
		else
			printf("expected %s not found in %" PRIu64 " schedules\n", h.expect, h.runs);
	}
	fflush(stdout);
	free(h.found);
	if (h.nfound)
		return 1;
	return strcmp(h.stop, "interrupted") == 0 ? 130 : 0;
}

const struct command cmd_hunt = { "hunt", hunt_main, hunt_help };
