/*
 * migrace faults: an anomaly sweep in the manner of SQLite's. A first run
 * counts the hits of each fault point; then, for every point and every hit
 * N, a run fails the Nth hit once (transient) and one fails it and every
 * later hit (persistent). Each run must end without a failure signature; the
 * program's own checks decide whether its end state is a legitimate one.
 * With --explore S, each combination runs under --runs schedules of strategy
 * S instead of the default schedule only: a fault whose harm needs another
 * thread in the wrong place shows there.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
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

#define MAX_POINTS 128

static const char faults_help[] =
	"usage: migrace faults PROGRAM|SCENARIO [OPTIONS] [-- ARGS]\n"
	"\n"
	"Fault-space sweep over the program's libfiu points (the core's core/<area>/<op>).\n"
	"A first run on the default schedule counts the hits of every point matching\n"
	"--points; then, for every such point and every hit N, one run fails the Nth hit\n"
	"only (transient) and one fails the Nth and every later hit (persistent). Each\n"
	"run must end clean: no hang, deadlock, sanitizer report (LSan included in asan),\n"
	"failed assertion or broken invariant; the program's own checks decide whether\n"
	"its end state is legitimate (build/<build>/core-progs/fault_migrate checks a\n"
	"migration: ended, the guest on exactly one side, every thread joined).\n"
	"\n"
	"  PROGRAM             a program built with migrace-cc (a path), the name of a\n"
	"                      program of build/<build>/core-progs, or a scenario (its\n"
	"                      real core)\n"
	"  --points GLOB       the fault points to sweep (default '*'), as in\n"
	"                      'core/channel/*'\n"
	"  --build tsan|asan   which build of a named program (default tsan)\n"
	"  --explore S         run each combination under --runs schedules of strategy\n"
	"                      S (random, pct:D, dfs:B or pos) instead of the default\n"
	"                      schedule only\n"
	"  --runs N            schedules per combination with --explore (default 100;\n"
	"                      for dfs:B at most N)\n"
	"  --timeout SEC       per-run wall-clock limit, then `hang` (default 10)\n"
	"  --out DIR           where traces go (default $MIGRACE_OUT/faults, else\n"
	"                      migrace-out/faults)\n"
	"\n"
	"Each failing combination is saved as a trace, printed with its repro line\n"
	"(`migrace replay TRACE` replays its fault decisions too). The summary gives the\n"
	"points, the hits tried and the failures.\n"
	"\n"
	"exit: 0 no failure; 1 some combination failed (or the run without faults did);\n"
	"2 bad input (no such program, no fault point matches GLOB, a bad --explore or\n"
	"--runs).\n";

enum { F_POINTS = 1000, F_BUILD, F_OUT, F_TIMEOUT, F_EXPLORE, F_RUNS, F_HELP };

static const struct option faults_opts[] = {
	{ "points", required_argument, NULL, F_POINTS },
	{ "build", required_argument, NULL, F_BUILD },
	{ "out", required_argument, NULL, F_OUT },
	{ "timeout", required_argument, NULL, F_TIMEOUT },
	{ "explore", required_argument, NULL, F_EXPLORE },
	{ "runs", required_argument, NULL, F_RUNS },
	{ "help", no_argument, NULL, F_HELP },
	{ 0 },
};

struct point {
	char name[256];
	uint32_t hits;
	uint32_t failed[2];     /* transient, persistent */
};

/* PROGRAM: a path, a core program's name or a scenario's. */
static void resolve(const char *target, const char *build, char *prog, size_t len)
{
	const struct race *r;

	if (strchr(target, '/'))
		snprintf(prog, len, "%s", target);
	else if ((r = find_race(target)))
		race_program(r, build, false, prog, len);
	else
		snprintf(prog, len, "%s/build/%s/core-progs/%s", root, build, target);
	if (access(prog, X_OK))
		die_usage("faults", "'%s': no such program or scenario (%s: %s)", target, prog, strerror(errno));
}

/* The run without faults, every hit of a matching point recorded. Returns
 * the number of points, or -1 when that run fails. */
static int count_hits(struct exec_opts *o, char *const av[], const char *name, struct point *pts)
{
	struct outcome out;
	char dir[PATH_MAX], path[PATH_MAX + 300], err[512];
	struct trace t;

	snprintf(dir, sizeof(dir), "%s/count", o->out);
	struct exec_opts c = *o;
	c.out = dir;
	c.trace_all = true;
	c.name = name;
	setenv("MIGRACE_FAULTS", "count", 1);
	if (pool_run(&c, av, &out) || out.config_error || out.lost_worker)
		exit(2);
	if (out.failures) {
		printf("the run without faults fails: %s\ntrace: %s\nrepro: %s replay %s\n", out.first_sig,
		       out.first_trace, self, out.first_trace);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s-script-seed1-run0.trace", dir, name);
	if (read_trace_file(path, &t, err, sizeof(err))) {
		fprintf(stderr, "migrace faults: cannot read the counting run's trace %s: %s\n", path, err);
		exit(2);
	}
	int n = 0;
	for (uint32_t i = 0; i < t.nsteps; i++) {
		if (t.steps[i].objk != 'f')
			continue;
		int j = 0;
		while (j < n && strcmp(pts[j].name, t.steps[i].name))
			j++;
		if (j == n) {
			if (n == MAX_POINTS)
				continue;
			snprintf(pts[n++].name, sizeof(pts[0].name), "%s", t.steps[i].name);
		}
		if ((uint32_t)t.steps[i].obj > pts[j].hits)
			pts[j].hits = (uint32_t)t.steps[i].obj;
	}
	trace_free(&t);
	return n;
}

/* One combination: returns true when it failed (and says so). */
static bool try_one(struct exec_opts *o, char *const av[], const char *base, const struct point *p, uint32_t hit,
		    bool persistent, uint64_t *schedules)
{
	char spec[300], name[400];
	struct outcome out;

	snprintf(spec, sizeof(spec), "%s@%" PRIu32 "%s", p->name, hit, persistent ? "+" : "");
	snprintf(name, sizeof(name), "%s-%s-%" PRIu32 "%s", base, p->name, hit, persistent ? "p" : "t");
	for (char *c = name; *c; c++)
		if (*c == '/' || *c == '*')
			*c = '_';
	setenv("MIGRACE_FAULTS", spec, 1);
	struct exec_opts c = *o;
	c.name = name;
	if (pool_run(&c, av, &out) || out.config_error || out.lost_worker)
		exit(2);
	*schedules += out.runs;
	if (!out.failures)
		return false;
	printf("FAIL %s (%s): %s", spec, persistent ? "persistent" : "transient", out.first_sig);
	if (o->runs > 1)
		printf(" (schedule %" PRIu64 " of %s)", out.first_index, o->strategy);
	printf("\n  trace: %s (%s)\n  repro: %s replay %s\n", out.first_trace,
	       replay_ok(out.first_trace) ? "replays" : "does NOT replay", self, out.first_trace);
	fflush(stdout);
	return true;
}

static int faults_main(int argc, char **argv)
{
	const char *glob = "*", *build = "tsan", *outdir = NULL, *explore = NULL;
	uint64_t runs = 0;
	struct exec_opts o;
	int c;

	exec_defaults(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", faults_opts, NULL)) != -1) {
		switch (c) {
		case F_POINTS: glob = optarg; break;
		case F_BUILD:
			if (strcmp(optarg, "tsan") && strcmp(optarg, "asan"))
				die_usage("faults", "--build must be tsan or asan, not '%s'", optarg);
			build = optarg;
			break;
		case F_OUT: outdir = optarg; break;
		case F_TIMEOUT: o.timeout = parse_seconds("faults", optarg); break;
		case F_EXPLORE: {
			struct strat_spec spec;
			const char *why;
			if (strat_parse(optarg, &spec, &why))
				die_usage("faults", "--explore '%s': %s", optarg, why);
			/* guided keeps a corpus across runs: a sweep's runs are
			 * per combination */
			if (!strat_explores(spec.kind) || spec.kind == STRAT_GUIDED)
				die_usage("faults", "--explore '%s': use random, pct:D, dfs:B or pos", optarg);
			explore = optarg;
			break;
		}
		case F_RUNS: runs = parse_count("faults", "--runs", optarg, 1, 1000000); break;
		case 'h':
		case F_HELP: fputs(faults_help, stdout); return 0;
		default: die_usage("faults", "unknown or incomplete option");
		}
	}
	if (optind >= argc)
		die_usage("faults", "no program given: migrace faults PROGRAM|SCENARIO [--points GLOB] [-- ARGS]");
	if (!*glob)
		die_usage("faults", "--points needs a glob, as in 'core/channel/*'");
	if (runs && !explore)
		die_usage("faults", "--runs needs --explore S (without it each combination runs the default schedule once)");

	char prog[PATH_MAX], out_buf[PATH_MAX];
	resolve(argv[optind], build, prog, sizeof(prog));
	if (!outdir) {
		snprintf(out_buf, sizeof(out_buf), "%s/faults", o.out);
		outdir = out_buf;
	}
	o.out = outdir;
	o.strategy = "script";
	o.quiet = true;
	argv[optind] = prog;
	char *const *av = argv + optind;
	const char *base = strrchr(prog, '/') ? strrchr(prog, '/') + 1 : prog;
	setenv("MIGRACE_FAULT_POINTS", glob, 1);

	static struct point pts[MAX_POINTS];
	int n = count_hits(&o, av, base, pts);
	if (n < 0)
		return 1;
	if (n == 0)
		die_usage("faults", "%s reaches no fault point matching '%s'", prog, glob);

	if (explore) {
		o.strategy = explore;
		o.runs = runs ? runs : 100;
		if (strncmp(explore, "dfs:", 4) == 0)
			o.jobs = 1;          /* dfs explores one schedule after another */
	}
	double t0 = now_s();
	uint64_t hits = 0, combos = 0, failures = 0, schedules = 0;
	for (int i = 0; i < n; i++)
		for (uint32_t h = 1; h <= pts[i].hits; h++) {
			hits++;
			for (int persistent = 0; persistent < 2; persistent++) {
				combos++;
				if (try_one(&o, av, base, &pts[i], h, persistent, &schedules)) {
					pts[i].failed[persistent]++;
					failures++;
				}
			}
		}
	printf("%-28s %5s %10s %10s\n", "POINT", "HITS", "TRANSIENT", "PERSISTENT");
	for (int i = 0; i < n; i++)
		printf("%-28s %5" PRIu32 " %5" PRIu32 " fail %5" PRIu32 " fail\n", pts[i].name, pts[i].hits,
		       pts[i].failed[0], pts[i].failed[1]);
	char how[64] = "";
	if (explore)
		snprintf(how, sizeof(how), ", explore %s x %" PRIu64, explore, o.runs);
	printf("migrace faults: %s (%s, points '%s'%s): %d points, %" PRIu64 " hits, %" PRIu64 " runs, %" PRIu64
	       " failures", base, strstr(prog, "/asan/") ? "asan" : "tsan", glob, how, n, hits, combos, failures);
	if (explore)
		printf(", %" PRIu64 " schedules", schedules);
	printf(", %.1f s\n", now_s() - t0);
	return failures ? 1 : 0;
}

const struct command cmd_faults = { "faults", faults_main, faults_help };
