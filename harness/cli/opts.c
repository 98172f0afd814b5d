/*
 * What the commands share besides the pool: where migrace is, usage errors
 * (a message naming the problem, exit 2), and the parsing of the options
 * every exploring command takes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "opts.h"
#include "pool.h"
#include "strategy.h"
#include "trace.h"

char root[PATH_MAX];      /* the source tree: build/bin/migrace is under it */
char self[PATH_MAX];      /* this migrace, for repro lines */

/* ---- messages ----------------------------------------------------------- */

void die_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "migrace%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see: migrace %s%s--help)\n", cmd ? cmd : "", cmd ? " " : "");
	exit(2);
}
/* ---- option parsing ----------------------------------------------------- */

uint64_t parse_count(const char *cmd, const char *opt, const char *v, uint64_t min, uint64_t max)
{
	char *e;
	errno = 0;
	if (!v || !*v || *v == '-')
		die_usage(cmd, "%s needs a number from %" PRIu64 " to %" PRIu64 ", not '%s'", opt, min, max, v ? v : "");
	unsigned long long x = strtoull(v, &e, 10);
	if (errno || *e || x < min || x > max)
		die_usage(cmd, "%s needs a number from %" PRIu64 " to %" PRIu64 ", not '%s'", opt, min, max, v);
	return x;
}

double parse_seconds(const char *cmd, const char *v)
{
	char *e;
	errno = 0;
	double x = strtod(v, &e);
	if (errno || *e || e == v || !(x > 0) || x > 86400)
		die_usage(cmd, "--timeout needs seconds (0 < SEC <= 86400), not '%s'", v);
	return x;
}

void check_strategy(const char *cmd, const char *s)
{
	struct strat_spec spec;
	const char *why;
	if (strat_parse(s, &spec, &why))
		die_usage(cmd, "--strategy '%s': %s", s, why);
}


const struct option common_opts[] = {
	{ "strategy", required_argument, NULL, OPT_STRATEGY },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "runs", required_argument, NULL, OPT_RUNS },
	{ "jobs", required_argument, NULL, OPT_JOBS },
	{ "script", required_argument, NULL, OPT_SCRIPT },
	{ "schedule", required_argument, NULL, OPT_SCHEDULE },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "max-steps", required_argument, NULL, OPT_MAX_STEPS },
	{ "check-determinism", no_argument, NULL, OPT_CHECK_DET },
	{ "keep-going", no_argument, NULL, OPT_KEEP_GOING },
	{ "trace-all", no_argument, NULL, OPT_TRACE_ALL },
	{ "out", required_argument, NULL, OPT_OUT },
	{ "all", no_argument, NULL, OPT_ALL },
	{ "build", required_argument, NULL, OPT_BUILD },
	{ "tap", no_argument, NULL, OPT_TAP },
	{ "regressed", no_argument, NULL, OPT_REGRESSED },
	{ "real", no_argument, NULL, OPT_REAL },
	{ "explore", required_argument, NULL, OPT_EXPLORE },
	{ "explore-runs", required_argument, NULL, OPT_EXPLORE_RUNS },
	{ "junit", required_argument, NULL, OPT_JUNIT },
	{ "preempt", required_argument, NULL, OPT_PREEMPT },
	{ "switches", required_argument, NULL, OPT_SWITCHES },
	{ "pin", required_argument, NULL, OPT_PIN },
	{ "pct-k", required_argument, NULL, OPT_PCT_K },
	{ "spurious", no_argument, NULL, OPT_SPURIOUS },
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* Options every exploring command shares; returns false for others. */
bool exec_option(const char *cmd, int c, struct exec_opts *o)
{
	switch (c) {
	case OPT_STRATEGY: check_strategy(cmd, optarg); o->strategy = optarg; return true;
	case OPT_SEED: o->seed = parse_count(cmd, "--seed", optarg, 0, UINT64_MAX / 4); return true;
	case OPT_RUNS: o->runs = parse_count(cmd, "--runs", optarg, 1, UINT64_MAX / 4); return true;
	case OPT_JOBS: o->jobs = (unsigned)parse_count(cmd, "--jobs", optarg, 1, MAX_JOBS); return true;
	case OPT_TIMEOUT: o->timeout = parse_seconds(cmd, optarg); return true;
	case OPT_MAX_STEPS: o->max_steps = parse_count(cmd, "--max-steps", optarg, 1, 50000000); return true;
	case OPT_PREEMPT: o->preempt = parse_preempt(cmd, optarg); return true;
	case OPT_PIN: o->pin = parse_pin(cmd, optarg); return true;
	case OPT_PCT_K: o->pct_k = parse_count(cmd, "--pct-k", optarg, 1, UINT32_MAX); return true;
	case OPT_SPURIOUS: o->spurious = true; return true;
	default: return false;
	}
}

const char *parse_pin(const char *cmd, const char *v)
{
	char *e;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (strcmp(v, "none") == 0 || strcmp(v, "auto") == 0)
		return v;
	errno = 0;
	long c = strtol(v, &e, 10);
	if (errno || *e || e == v || c < 0 || c >= ncpu)
		die_usage(cmd, "--pin must be none, auto or a CPU from 0 to %ld, not '%s'", ncpu - 1, v);
	return v;
}

const char *parse_preempt(const char *cmd, const char *v)
{
	if (strcmp(v, "sync") && strcmp(v, "mem") && strcmp(v, "mem-all"))
		die_usage(cmd, "--preempt must be sync, mem or mem-all, not '%s'", v);
	return v;
}

void exec_defaults(struct exec_opts *o)
{
	*o = (struct exec_opts){ .strategy = "random", .seed = 1, .runs = 1, .jobs = 1, .timeout = 10,
				 .nshards = 1,
				 .out = getenv("MIGRACE_OUT") && *getenv("MIGRACE_OUT") ? getenv("MIGRACE_OUT") : "migrace-out" };
}

void check_dfs_jobs(const char *cmd, struct exec_opts *o)
{
	if (strncmp(o->strategy, "dfs:", 4) == 0 && o->jobs > 1) {
		fprintf(stderr, "migrace %s: dfs explores one schedule after another: using 1 job, not %u\n", cmd, o->jobs);
		o->jobs = 1;
	}
}

void print_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;
	if (!f)
		return;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

const char *out_dir_ready(const char *cmd, const char *dir)
{
	static char abs[4][PATH_MAX];
	static unsigned next;
	char *a = abs[next++ % 4];
	if (trace_make_dirs(dir) || !realpath(dir, a))
		die_usage(cmd, "cannot create the --out directory '%s': %s", dir, strerror(errno));
	struct stat st;
	if (stat(a, &st) || !S_ISDIR(st.st_mode))
		die_usage(cmd, "--out '%s' is not a directory", dir);
	if (access(a, W_OK | X_OK))
		die_usage(cmd, "cannot write into the --out directory '%s': %s", dir, strerror(errno));
	return a;
}

double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}


/* ---- where migrace is ---------------------------------------------------- */

void find_root(void)
{
	if (!realpath("/proc/self/exe", self))
		snprintf(self, sizeof(self), "migrace");
	snprintf(root, sizeof(root), "%s", self);
	for (int i = 0; i < 3; i++) {      /* build/bin/migrace -> the tree */
		char *s = strrchr(root, '/');
		if (s)
			*s = '\0';
	}
}

