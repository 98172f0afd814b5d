/*
 * migrace: the command line. Starts programs built with migrace-cc (their main
 * is a fork server), hands them their configuration through MIGRACE_*
 * variables, splits runs over --jobs workers, collects each run's outcome from
 * a pipe and decides the exit code: 0 expectation held / nothing found,
 * 1 mismatch / bug found, 2 usage or input error, 77 skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
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

#include "strategy.h"
#include "trace.h"

#define MAX_JOBS 64

struct scenario {
	const char *name, *program, *script, *strategy;
	unsigned runs;
	const char *expect[3];       /* tsan, asan, plain */
	const char *summary;
};

static const struct scenario scenarios[] = {
#define SCENARIO(n, p, sc, st, r, et, ea, ep, s) { n, p, sc, st, r, { et, ea, ep }, s },
#include "scenarios.def"
#undef SCENARIO
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))

static const char *const builds[] = { "tsan", "asan", "plain" };

static char root[PATH_MAX];      /* the source tree: build/bin/migrace is under it */
static char self[PATH_MAX];

/* ---- messages ----------------------------------------------------------- */

static void __attribute__((noreturn, format(printf, 2, 3))) die_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "migrace%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see: migrace %s--help)\n", cmd ? cmd : "");
	exit(2);
}

static const char main_help[] =
	"usage: migrace COMMAND [ARGS]\n"
	"\n"
	"Deterministic race reproduction: runs a multithreaded C program one thread at a\n"
	"time in an order chosen by a script or a strategy, under TSan/ASan, and records\n"
	"a trace of every failing run that replays exactly.\n"
	"\n"
	"commands:\n"
	"  list                     the scenarios and what each must produce\n"
	"  run SCENARIO... | --all  run scenarios and check their expected signatures\n"
	"  exec -- PROGRAM ARGS     explore a program built with migrace-cc\n"
	"  replay TRACE             replay a recorded run step by step\n"
	"  help [COMMAND]           this text, or a command's\n"
	"\n"
	"exit codes: 0 expectation held / nothing found; 1 mismatch / bug found (with the\n"
	"trace path and a repro line); 2 usage or input error; 77 skipped.\n"
	"Build programs with build/bin/migrace-cc --tsan|--asan|--plain prog.c -o prog.\n";

static const char exec_help[] =
	"usage: migrace exec [OPTIONS] -- PROGRAM [ARGS]\n"
	"\n"
	"Runs PROGRAM (built with migrace-cc) once per schedule, each run in a forked\n"
	"child, and stops at the first failing run: a sanitizer report, a failed\n"
	"assertion, a crash, a deadlock, a hang, a pthread misuse or a nonzero exit.\n"
	"\n"
	"  --strategy S        script | random | pct:D | dfs:B     (default random)\n"
	"                      script: ordering constraints (--script) + default order\n"
	"                      pct:D: PCT of depth D (D-1 priority change points)\n"
	"                      dfs:B: every schedule within B preemptions, then stops\n"
	"  --seed N            first seed (default 1); run i uses seed N+i\n"
	"  --runs N            schedules to try (default 1; dfs: at most N)\n"
	"  --jobs J            parallel workers, each pinned to a CPU (default 1)\n"
	"  --script FILE       ordering constraints, one \"A -> B\" per line\n"
	"  --schedule TEXT     force a compact schedule (\"0*5 1*3 0\") first\n"
	"  --timeout SEC       per-run wall-clock limit, then `hang` (default 10)\n"
	"  --max-steps N       per-run scheduling steps, then `hang` (default 200000)\n"
	"  --check-determinism run every schedule twice and compare the traces\n"
	"  --keep-going        do not stop at the first failing run\n"
	"  --trace-all         write the trace of every run, not only failing ones\n"
	"  --out DIR           where traces go (default $MIGRACE_OUT, else migrace-out)\n"
	"\n"
	"exit: 0 no run failed; 1 a run failed (signature, trace path, repro line); 2 bad\n"
	"arguments.\n";

static const char run_help[] =
	"usage: migrace run SCENARIO... | --all [OPTIONS]\n"
	"\n"
	"Runs each scenario with its script (or its default strategy) and checks the\n"
	"signature it must produce in the chosen build (see `migrace list`).\n"
	"\n"
	"  --all              every scenario\n"
	"  --build B          tsan | asan | plain (default tsan)\n"
	"  --strategy S       override the scenario's strategy (script|random|pct:D|dfs:B)\n"
	"  --seed N, --runs N, --jobs J, --timeout SEC, --out DIR   as for exec\n"
	"  --tap              TAP 13 output\n"
	"\n"
	"exit: 0 every expectation held; 1 some did not; 2 bad arguments.\n";

static const char replay_help[] =
	"usage: migrace replay TRACE\n"
	"\n"
	"Runs the trace's program again and feeds it the recorded decisions. At the\n"
	"first step where the program does something else, the run stops with a\n"
	"divergence error naming the step, what the trace expected and what happened.\n"
	"\n"
	"exit: 0 the recorded signature was reproduced; 1 it was not (or divergence);\n"
	"2 the trace cannot be read (the error names the line).\n";

static const char list_help[] =
	"usage: migrace list\n\nThe scenarios, their default strategy and expected signatures.\n";

/* ---- the worker pool ---------------------------------------------------- */

struct exec_opts {
	const char *strategy;
	uint64_t seed, runs;
	unsigned jobs;
	double timeout;
	uint64_t max_steps;
	const char *script, *schedule, *out, *name;
	bool check_det, keep_going, trace_all, quiet;
};

struct worker {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
	bool done, killed;
};

struct outcome {
	uint64_t runs, failures;
	bool have_first;
	uint64_t first_index, first_seed;
	char first_sig[160], first_trace[PATH_MAX];
	bool config_error, lost_worker;
	struct { char sig[160]; uint64_t count; } sigs[16];   /* distinct failure signatures */
	int nsigs;
};

static void count_signature(struct outcome *out, const char *sig)
{
	for (int i = 0; i < out->nsigs; i++)
		if (strcmp(out->sigs[i].sig, sig) == 0) {
			out->sigs[i].count++;
			return;
		}
	if (out->nsigs == 16)
		return;
	snprintf(out->sigs[out->nsigs].sig, sizeof(out->sigs[0].sig), "%s", sig);
	out->sigs[out->nsigs++].count = 1;
}

static void setenv_u64(const char *name, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	setenv(name, buf, 1);
}

static void worker_env(const struct exec_opts *o, unsigned j, int fd)
{
	setenv_u64("MIGRACE_CTL_FD", (uint64_t)fd);
	setenv("MIGRACE_STRATEGY", o->strategy, 1);
	setenv_u64("MIGRACE_SEED", o->seed);
	setenv_u64("MIGRACE_RUNS", o->runs);
	setenv_u64("MIGRACE_RUN_FIRST", j);
	setenv_u64("MIGRACE_RUN_STRIDE", o->jobs);
	setenv_u64("MIGRACE_TIMEOUT_MS", (uint64_t)(o->timeout * 1000));
	setenv_u64("MIGRACE_MAX_STEPS", o->max_steps);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	setenv_u64("MIGRACE_CPU", j % (unsigned)(ncpu > 0 ? ncpu : 1));
	setenv("MIGRACE_OUT", o->out, 1);
	setenv("MIGRACE_SELF", self, 1);
	if (o->name)
		setenv("MIGRACE_NAME", o->name, 1);
	if (o->script)
		setenv("MIGRACE_SCRIPT", o->script, 1);
	if (o->schedule)
		setenv("MIGRACE_SCHEDULE", o->schedule, 1);
	if (o->check_det)
		setenv("MIGRACE_CHECK_DETERMINISM", "1", 1);
	if (o->keep_going)
		setenv("MIGRACE_KEEP_GOING", "1", 1);
	if (o->trace_all)
		setenv("MIGRACE_TRACE_ALL", "1", 1);
}

static void handle_line(struct outcome *out, const struct exec_opts *o, char *line)
{
	if (strncmp(line, "note ", 5) == 0) {
		if (!o->quiet)
			fprintf(stderr, "migrace: %s\n", line + 5);
		return;
	}
	if (strncmp(line, "run ", 4) == 0) {
		uint64_t idx, seed;
		unsigned steps;
		int off = 0;
		if (sscanf(line + 4, "%" SCNu64 " %" SCNu64 " %u %n", &idx, &seed, &steps, &off) < 3 || !off)
			return;
		char *sig = line + 4 + off;
		char *tab = strchr(sig, '\t');
		char *trace = tab ? tab + 1 : (char *)"";
		if (tab)
			*tab = '\0';
		out->runs++;
		bool failed = strcmp(sig, "clean") != 0;
		if (!failed)
			return;
		out->failures++;
		count_signature(out, sig);
		if (!out->have_first || idx < out->first_index) {
			out->have_first = true;
			out->first_index = idx;
			out->first_seed = seed;
			snprintf(out->first_sig, sizeof(out->first_sig), "%s", sig);
			snprintf(out->first_trace, sizeof(out->first_trace), "%s", trace);
		}
	}
}

/* Starts the workers and collects their reports until all exit. */
static int pool_run(const struct exec_opts *o, char *const argv[], struct outcome *out)
{
	struct worker ws[MAX_JOBS];
	unsigned nw = o->jobs;

	memset(out, 0, sizeof(*out));
	memset(ws, 0, sizeof(ws));
	fflush(NULL);
	for (unsigned j = 0; j < nw; j++) {
		int p[2];
		if (pipe2(p, O_CLOEXEC)) {
			perror("migrace: pipe");
			return -1;
		}
		pid_t pid = fork();
		if (pid < 0) {
			perror("migrace: fork");
			return -1;
		}
		if (pid == 0) {
			close(p[0]);
			int fd = dup(p[1]);      /* without O_CLOEXEC */
			worker_env(o, j, fd);
			execvp(argv[0], argv);
			fprintf(stderr, "migrace: cannot run %s: %s\n", argv[0], strerror(errno));
			_exit(127);
		}
		close(p[1]);
		ws[j] = (struct worker){ .pid = pid, .fd = p[0] };
	}

	unsigned open_fds = nw;
	while (open_fds) {
		struct pollfd pfd[MAX_JOBS];
		unsigned map[MAX_JOBS], n = 0;
		for (unsigned j = 0; j < nw; j++)
			if (ws[j].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = ws[j].fd, .events = POLLIN };
				map[n++] = j;
			}
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (unsigned i = 0; i < n; i++) {
			struct worker *w = &ws[map[i]];
			if (!(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = read(w->fd, w->buf + w->len, sizeof(w->buf) - 1 - w->len);
			if (r <= 0) {
				close(w->fd);
				w->fd = -1;
				open_fds--;
				continue;
			}
			w->len += (size_t)r;
			w->buf[w->len] = '\0';
			char *line = w->buf, *nl;
			while ((nl = strchr(line, '\n'))) {
				*nl = '\0';
				if (strncmp(line, "done ", 5) == 0)
					w->done = true;
				else
					handle_line(out, o, line);
				/* stop workers whose runs are all past the first failure */
				uint64_t idx;
				if (!o->keep_going && out->have_first && sscanf(line, "run %" SCNu64, &idx) == 1 &&
				    idx > out->first_index && !w->killed) {
					kill(w->pid, SIGTERM);
					w->killed = true;
				}
				line = nl + 1;
			}
			w->len = strlen(line);
			memmove(w->buf, line, w->len + 1);
		}
	}
	for (unsigned j = 0; j < nw; j++) {
		int st = 0;
		while (waitpid(ws[j].pid, &st, 0) < 0 && errno == EINTR)
			;
		if (WIFEXITED(st) && WEXITSTATUS(st) == 2)
			out->config_error = true;
		else if (!ws[j].done && !ws[j].killed) {
			out->lost_worker = true;
			if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
				out->config_error = true;
			else if (WIFSIGNALED(st))
				fprintf(stderr, "migrace: worker %u (pid %d) died of signal %d\n", j, ws[j].pid, WTERMSIG(st));
			else
				fprintf(stderr, "migrace: worker %u (pid %d) exited with %d without finishing; "
					"was the program built with migrace-cc?\n", j, ws[j].pid, WEXITSTATUS(st));
		}
	}
	return 0;
}

static void print_file(const char *path)
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

/* ---- option parsing ----------------------------------------------------- */

static uint64_t parse_count(const char *cmd, const char *opt, const char *v, uint64_t min, uint64_t max)
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

static double parse_seconds(const char *cmd, const char *v)
{
	char *e;
	errno = 0;
	double x = strtod(v, &e);
	if (errno || *e || e == v || !(x > 0) || x > 86400)
		die_usage(cmd, "--timeout needs seconds (0 < SEC <= 86400), not '%s'", v);
	return x;
}

static void check_strategy(const char *cmd, const char *s)
{
	struct strat_spec spec;
	const char *why;
	if (strat_parse(s, &spec, &why))
		die_usage(cmd, "--strategy '%s': %s", s, why);
}

enum { OPT_SEED = 256, OPT_RUNS, OPT_JOBS, OPT_SCRIPT, OPT_SCHEDULE, OPT_TIMEOUT, OPT_MAX_STEPS,
       OPT_CHECK_DET, OPT_KEEP_GOING, OPT_TRACE_ALL, OPT_OUT, OPT_STRATEGY, OPT_ALL, OPT_BUILD,
       OPT_TAP, OPT_REGRESSED, OPT_HELP };

static const struct option common_opts[] = {
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
	{ "help", no_argument, NULL, OPT_HELP },
	{ 0 },
};

/* Options every exploring command shares; returns false for others. */
static bool exec_option(const char *cmd, int c, struct exec_opts *o)
{
	switch (c) {
	case OPT_STRATEGY: check_strategy(cmd, optarg); o->strategy = optarg; return true;
	case OPT_SEED: o->seed = parse_count(cmd, "--seed", optarg, 0, UINT64_MAX / 4); return true;
	case OPT_RUNS: o->runs = parse_count(cmd, "--runs", optarg, 1, UINT64_MAX / 4); return true;
	case OPT_JOBS: o->jobs = (unsigned)parse_count(cmd, "--jobs", optarg, 1, MAX_JOBS); return true;
	case OPT_TIMEOUT: o->timeout = parse_seconds(cmd, optarg); return true;
	case OPT_MAX_STEPS: o->max_steps = parse_count(cmd, "--max-steps", optarg, 1, 50000000); return true;
	default: return false;
	}
}

static void exec_defaults(struct exec_opts *o)
{
	*o = (struct exec_opts){ .strategy = "random", .seed = 1, .runs = 1, .jobs = 1, .timeout = 10,
				 .max_steps = 200000,
				 .out = getenv("MIGRACE_OUT") && *getenv("MIGRACE_OUT") ? getenv("MIGRACE_OUT") : "migrace-out" };
}

static void check_dfs_jobs(const char *cmd, struct exec_opts *o)
{
	if (strncmp(o->strategy, "dfs:", 4) == 0 && o->jobs > 1) {
		fprintf(stderr, "migrace %s: dfs explores one schedule after another: using 1 job, not %u\n", cmd, o->jobs);
		o->jobs = 1;
	}
}

/* ---- exec --------------------------------------------------------------- */

static int cmd_exec(int argc, char **argv)
{
	struct exec_opts o;
	int c;

	exec_defaults(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", common_opts, NULL)) != -1) {
		if (exec_option("exec", c, &o))
			continue;
		switch (c) {
		case OPT_SCRIPT: o.script = optarg; break;
		case OPT_SCHEDULE: o.schedule = optarg; break;
		case OPT_CHECK_DET: o.check_det = true; break;
		case OPT_KEEP_GOING: o.keep_going = true; break;
		case OPT_TRACE_ALL: o.trace_all = true; break;
		case OPT_OUT: o.out = optarg; break;
		case 'h':
		case OPT_HELP: fputs(exec_help, stdout); return 0;
		case '?': die_usage("exec", "unknown or incomplete option");
		default: die_usage("exec", "option %s is not for exec", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		die_usage("exec", "no program given: migrace exec [OPTIONS] -- PROGRAM [ARGS]");
	if (o.script && access(o.script, R_OK))
		die_usage("exec", "cannot read script '%s': %s", o.script, strerror(errno));
	if (o.script && strcmp(o.strategy, "random") == 0)
		o.strategy = "script";
	check_dfs_jobs("exec", &o);

	struct outcome out;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (pool_run(&o, argv + optind, &out))
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	if (out.config_error)
		return 2;
	if (out.have_first) {
		char log[PATH_MAX + 8];
		snprintf(log, sizeof(log), "%s.log", out.first_trace);
		print_file(log);
		fprintf(stderr, "migrace: exec: %" PRIu64 " run%s, %" PRIu64 " failed; first failure: run %" PRIu64
			" (seed %" PRIu64 "): %s\n", out.runs, out.runs == 1 ? "" : "s", out.failures,
			out.first_index, out.first_seed, out.first_sig);
		if (out.nsigs > 1 || out.failures > 1) {
			fprintf(stderr, "migrace: signatures:");
			for (int i = 0; i < out.nsigs; i++)
				fprintf(stderr, " %s x%" PRIu64, out.sigs[i].sig, out.sigs[i].count);
			fputc('\n', stderr);
		}
		fprintf(stderr, "migrace: trace: %s\n", out.first_trace);
		fprintf(stderr, "migrace: repro: %s replay %s\n", self, out.first_trace);
		return 1;
	}
	if (out.lost_worker)
		return 2;
	fprintf(stderr, "migrace: exec: %" PRIu64 " run%s (strategy %s), no failure, %.2f s\n", out.runs,
		out.runs == 1 ? "" : "s", o.strategy, secs);
	return 0;
}

/* ---- replay ------------------------------------------------------------- */

static int cmd_replay(int argc, char **argv)
{
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", common_opts, NULL)) != -1) {
		if (c == 'h' || c == OPT_HELP) {
			fputs(replay_help, stdout);
			return 0;
		}
		die_usage("replay", "unknown option %s", argv[optind - 1]);
	}
	if (optind != argc - 1)
		die_usage("replay", "expected exactly one trace file");
	const char *path = argv[optind];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "migrace replay: cannot read %s: %s\n", path, strerror(errno));
		return 2;
	}
	struct trace t;
	char err[512];
	if (trace_parse(f, &t, err, sizeof(err))) {
		fprintf(stderr, "migrace replay: %s: %s\n", path, err);
		fclose(f);
		return 2;
	}
	fclose(f);
	if (access(t.program, X_OK)) {
		fprintf(stderr, "migrace replay: %s: the traced program %s cannot be run: %s\n", path, t.program,
			strerror(errno));
		trace_free(&t);
		return 2;
	}
	char abs[PATH_MAX];
	if (!realpath(path, abs))
		snprintf(abs, sizeof(abs), "%s", path);
	if (t.cwd[0] && chdir(t.cwd))
		fprintf(stderr, "migrace replay: warning: cannot enter the recorded directory %s\n", t.cwd);
	char **av = calloc((size_t)t.nargs + 2, sizeof(*av));
	av[0] = t.program;
	for (int i = 0; i < t.nargs; i++)
		av[i + 1] = t.args[i];
	setenv("MIGRACE_REPLAY", abs, 1);
	setenv("MIGRACE_SELF", self, 1);
	unsetenv("MIGRACE_CTL_FD");
	fflush(NULL);
	execv(t.program, av);
	fprintf(stderr, "migrace replay: cannot run %s: %s\n", t.program, strerror(errno));
	return 2;
}

/* ---- list and run ------------------------------------------------------- */

static int build_index(const char *b)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(builds[i], b) == 0)
			return i;
	return -1;
}

static const struct scenario *find_scenario(const char *name)
{
	for (size_t i = 0; i < NSCENARIOS; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

static int cmd_list(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(list_help, stdout);
			return 0;
		}
		die_usage("list", "takes no arguments");
	}
	printf("%-22s %-9s %-28s %s\n", "SCENARIO", "STRATEGY", "EXPECTED (tsan)", "WHAT");
	for (size_t i = 0; i < NSCENARIOS; i++)
		printf("%-22s %-9s %-28s %s\n", scenarios[i].name, scenarios[i].strategy, scenarios[i].expect[0],
		       scenarios[i].summary);
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	struct exec_opts base;
	const char *build = "tsan", *strategy = NULL;
	bool all = false, tap = false, runs_set = false;
	int c;

	exec_defaults(&base);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", common_opts, NULL)) != -1) {
		if (c == OPT_RUNS)
			runs_set = true;
		if (exec_option("run", c, &base)) {
			if (c == OPT_STRATEGY)
				strategy = optarg;
			continue;
		}
		switch (c) {
		case OPT_ALL: all = true; break;
		case OPT_BUILD:
			if (build_index(optarg) < 0)
				die_usage("run", "--build must be tsan, asan or plain, not '%s'", optarg);
			build = optarg;
			break;
		case OPT_TAP: tap = true; break;
		case OPT_OUT: base.out = optarg; break;
		case OPT_REGRESSED:
			die_usage("run", "--regressed needs scenarios with a regress.patch; the demos have none yet");
		case 'h':
		case OPT_HELP: fputs(run_help, stdout); return 0;
		case '?': die_usage("run", "unknown or incomplete option");
		default: die_usage("run", "option %s is not for run", argv[optind - 1]);
		}
	}
	const struct scenario *sel[NSCENARIOS];
	size_t nsel = 0;
	if (all) {
		if (optind < argc)
			die_usage("run", "give scenario names or --all, not both");
		for (size_t i = 0; i < NSCENARIOS; i++)
			sel[nsel++] = &scenarios[i];
	} else {
		if (optind >= argc)
			die_usage("run", "no scenario given (see migrace list, or use --all)");
		for (int i = optind; i < argc; i++) {
			const struct scenario *s = find_scenario(argv[i]);
			if (!s)
				die_usage("run", "no scenario named '%s' (see migrace list)", argv[i]);
			if (nsel < NSCENARIOS)
				sel[nsel++] = s;
		}
	}
	int bi = build_index(build);
	unsigned failed = 0;
	if (tap)
		printf("TAP version 13\n1..%zu\n", nsel);
	else
		printf("%-22s %-6s %-9s %-26s %-26s %s\n", "SCENARIO", "BUILD", "STRATEGY", "EXPECTED", "GOT", "RESULT");
	for (size_t i = 0; i < nsel; i++) {
		const struct scenario *s = sel[i];
		struct exec_opts o = base;
		char prog[PATH_MAX], script[PATH_MAX];
		o.strategy = strategy ? strategy : s->strategy;
		o.runs = runs_set ? base.runs : s->runs;
		o.name = s->name;
		o.quiet = true;
		snprintf(prog, sizeof(prog), "%s/build/%s/%s", root, build, s->program);
		if (s->script) {
			snprintf(script, sizeof(script), "%s/%s", root, s->script);
			o.script = script;
		}
		check_dfs_jobs("run", &o);
		const char *expect = s->expect[bi];
		char got[200];
		bool ok;
		struct outcome out;
		if (access(prog, X_OK)) {
			snprintf(got, sizeof(got), "not built (%s)", prog);
			ok = false;
		} else {
			char *av[] = { prog, NULL };
			if (pool_run(&o, av, &out) || out.config_error)
				snprintf(got, sizeof(got), "error");
			else if (out.have_first)
				snprintf(got, sizeof(got), "%s", out.first_sig);
			else if (out.lost_worker)
				snprintf(got, sizeof(got), "error");
			else
				snprintf(got, sizeof(got), "clean");
			ok = strcmp(got, expect) == 0;
		}
		failed += !ok;
		if (tap) {
			printf("%s %zu - %s [%s] expected %s, got %s\n", ok ? "ok" : "not ok", i + 1, s->name, build,
			       expect, got);
			if (!ok && out.have_first)
				printf("  ---\n  trace: %s\n  repro: %s replay %s\n  ...\n", out.first_trace, self,
				       out.first_trace);
		} else {
			printf("%-22s %-6s %-9s %-26s %-26s %s\n", s->name, build, o.strategy, expect, got,
			       ok ? "ok" : "MISMATCH");
			if (!ok && out.have_first)
				printf("  trace: %s\n  repro: %s replay %s\n", out.first_trace, self, out.first_trace);
		}
		fflush(stdout);
	}
	if (!tap)
		printf("%zu scenario%s, %u mismatch%s\n", nsel, nsel == 1 ? "" : "s", failed, failed == 1 ? "" : "es");
	return failed ? 1 : 0;
}

/* ---- main --------------------------------------------------------------- */

static void find_root(void)
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

int main(int argc, char **argv)
{
	find_root();
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		fputs(main_help, stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
		fputs(main_help, stdout);
		return 0;
	}
	if (strcmp(cmd, "help") == 0) {
		const char *topic = argc > 2 ? argv[2] : "";
		fputs(strcmp(topic, "exec") == 0 ? exec_help : strcmp(topic, "run") == 0 ? run_help
		      : strcmp(topic, "replay") == 0 ? replay_help : strcmp(topic, "list") == 0 ? list_help
		      : main_help, stdout);
		return 0;
	}
	if (strcmp(cmd, "exec") == 0)
		return cmd_exec(argc - 1, argv + 1);
	if (strcmp(cmd, "replay") == 0)
		return cmd_replay(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(cmd, "hunt") == 0 || strcmp(cmd, "minimize") == 0)
		die_usage(NULL, "'%s' is not implemented yet (see the open issues)", cmd);
	die_usage(NULL, "unknown command '%s'", cmd);
}
