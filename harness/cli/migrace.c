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
#include <linux/perf_event.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "classify.h"
#include "cli.h"
#include "show.h"
#include "strategy.h"
#include "trace.h"


struct scenario {
	const char *name, *program, *script, *strategy;
	unsigned runs;
	const char *expect[3];       /* tsan, asan, plain */
	const char *summary;
};

static const struct scenario scenarios[] = {
#define DEMO(n, p, sc, st, r, et, ea, ep, s) { n, p, sc, st, r, { et, ea, ep }, s },
#include "demos.def"
#undef DEMO
};
#define NSCENARIOS (sizeof(scenarios) / sizeof(scenarios[0]))


const struct race races[] = {
#define SCENARIO(n, o, s) { n, o, s },
#include "../../scenarios/scenarios.def"
#undef SCENARIO
};
const size_t nraces = sizeof(races) / sizeof(races[0]);
#define NRACES nraces

static const char *const builds[] = { "tsan", "asan", "plain" };

char root[PATH_MAX];      /* the source tree: build/bin/migrace is under it */
char self[PATH_MAX];

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
	"  hunt SCENARIO | -- PROGRAM ARGS\n"
	"                           search without a script, collect every distinct failure\n"
	"  stress -- PROGRAM ARGS   run it with real threads, no scheduler (the baseline)\n"
	"  replay TRACE             replay a recorded run step by step\n"
	"  minimize TRACE           shrink a failing trace, keeping its signature\n"
	"  show TRACE               draw a trace as lanes, one column per thread\n"
	"                           (--json: the Chrome trace-event format)\n"
	"  reproduce FILE           rerun the failure a report, CI log or trace names,\n"
	"                           confirm or refute its signature\n"
	"  faults PROGRAM           fail every hit of every fault point, check the end\n"
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
	"                      switches: the --switches list, else no preemption\n"
	"  --switches LIST     the thread switches `migrace minimize` prints (\"1.m2>2\n"
	"                      0.s3>1\": at thread 1's 2nd memory decision run thread 2,\n"
	"                      at thread 0's 3rd scheduling decision run thread 1);\n"
	"                      implies --strategy switches\n"
	"  --seed N            first seed (default 1); run i uses seed N+i\n"
	"  --runs N            schedules to try (default 1; dfs: at most N)\n"
	"  --jobs J            parallel workers, each pinned to a CPU (default 1)\n"
	"  --script FILE       ordering constraints, one \"A -> B\" per line\n"
	"  --schedule TEXT     force a compact schedule (\"0*5 1*3 0\") first\n"
	"  --timeout SEC       per-run wall-clock limit, then `hang` (default 10)\n"
	"  --max-steps N       per-run scheduling steps, then `hang` (default 200000;\n"
	"                      5000000 with --preempt mem)\n"
	"  --preempt sync|mem  scheduling points at synchronisation only (sync, the\n"
	"                      default) or also before loads and stores of non-stack\n"
	"                      memory (mem)\n"
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
	"Runs scenarios and checks what they must produce (see `migrace list`).\n"
	"\n"
	"A race scenario (scenarios/) is checked in each build (tsan and asan) on both\n"
	"cores: the real core must be clean on its scripted schedule (--runs times) and\n"
	"under exploration (--explore, --explore-runs schedules); the regressed core\n"
	"(built from the scenario's regress.patch) must give the expected signature on\n"
	"every scripted run, and the first run's trace must replay to it. A table of\n"
	"the results ends the output, then \"N passed, N failed\".\n"
	"A demo (demo-*) runs its default strategy and checks its signature per build.\n"
	"\n"
	"  --all              every scenario and demo\n"
	"  --build B          tsan | asan | plain (default: tsan and asan; the races\n"
	"                     have no plain build: plain runs the demos only)\n"
	"  --real             only the real core;  --regressed  only the regressed core\n"
	"  --runs N           scripted runs per core and build (default 100; demos: their own)\n"
	"  --explore S        exploration strategy on the real core (default pct:3)\n"
	"  --explore-runs N   schedules of it (default 2000; 0 skips exploration)\n"
	"  --strategy S       instead of the checks above, run S for --runs schedules:\n"
	"                     the real core must stay clean, the regressed core must give\n"
	"                     the expected signature in some run\n"
	"  --seed N, --jobs J (default: one per CPU), --timeout SEC, --preempt sync|mem,\n"
	"  --out DIR          as for exec\n"
	"  --tap              TAP 13 output (the table follows as comments)\n"
	"  --junit FILE       also write JUnit XML: a test case per scenario, core, build\n"
	"                     and check; a failure carries its signature, trace, repro line\n"
	"\n"
	"exit: 0 every expectation held; 1 some did not; 2 bad arguments.\n";

static const char replay_help[] =
	"usage: migrace replay TRACE [--rr]\n"
	"\n"
	"Runs the trace's program again and feeds it the recorded decisions. At the\n"
	"first step where the program does something else, the run stops with a\n"
	"divergence error naming the step, what the trace expected and what happened.\n"
	"\n"
	"--rr records the replay under rr (then `rr replay` steps through it, also\n"
	"backwards). rr needs hardware performance counters: where it cannot record,\n"
	"the command says why in one sentence and exits 77 (skipped).\n"
	"\n"
	"exit: 0 the recorded signature was reproduced; 1 it was not (or divergence);\n"
	"2 the trace cannot be read (the error names the line); 77 --rr unavailable.\n";

static const char stress_help[] =
	"usage: migrace stress [OPTIONS] -- PROGRAM [ARGS]\n"
	"\n"
	"The baseline the harness is measured against: runs PROGRAM (built with\n"
	"migrace-cc) again and again with real threads and no controlled scheduler\n"
	"(MIGRACE_PASSTHROUGH=1: sync points and scripts do nothing), the way a CI job\n"
	"or a stress loop does, and counts each run's signature.\n"
	"\n"
	"  --runs N        at least N runs (default 1000)\n"
	"  --time SEC      and for at least SEC seconds (default 0)\n"
	"  --timeout SEC   per-run limit, then `hang` (default 10)\n"
	"  --jobs J        parallel runs (default 1)\n"
	"  --expect SIG    count the runs giving SIG (a deadlock shows as a hang here)\n"
	"\n"
	"Prints the signatures with their counts, then a line\n"
	"\"stress: R runs in S s, E gave SIG\". exit: 0; 2 bad arguments.\n";

static const char list_help[] =
	"usage: migrace list\n\nThe race scenarios (origin, expected signatures on the regressed core,\n"
	"from the built tsan and asan programs) and the demos.\n";

/* ---- the worker pool ---------------------------------------------------- */


struct worker {
	pid_t pid;
	int fd;
	char buf[8192];
	size_t len;
	bool done, killed;
};


void count_signature(struct outcome *out, const char *sig)
{
	for (int i = 0; i < out->nsigs; i++)
		if (strcmp(out->sigs[i].sig, sig) == 0) {
			out->sigs[i].count++;
			return;
		}
	if (out->nsigs == 16) {
		out->other_sigs++;
		return;
	}
	snprintf(out->sigs[out->nsigs].sig, sizeof(out->sigs[0].sig), "%s", sig);
	out->sigs[out->nsigs++].count = 1;
}

static void setenv_u64(const char *name, uint64_t v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	setenv(name, buf, 1);
}

/* The runs of a shard (--shard I/N: shard = I-1, nshards = N) interleave
 * over its workers: worker j takes shard + j*N, then every N*J-th index, so
 * that the shards together run exactly the indices of the unsharded hunt. */
uint64_t worker_first(const struct exec_opts *o, unsigned j)
{
	return o->shard + (uint64_t)j * (o->nshards ? o->nshards : 1);
}

uint64_t worker_stride(const struct exec_opts *o)
{
	return (o->nshards ? o->nshards : 1) * o->jobs;
}

static void worker_env(const struct exec_opts *o, unsigned j, int fd)
{
	setenv_u64("MIGRACE_CTL_FD", (uint64_t)fd);
	setenv("MIGRACE_STRATEGY", o->strategy, 1);
	setenv_u64("MIGRACE_SEED", o->seed);
	setenv_u64("MIGRACE_RUNS", o->runs);
	setenv_u64("MIGRACE_RUN_FIRST", worker_first(o, j));
	setenv_u64("MIGRACE_RUN_STRIDE", worker_stride(o));
	setenv_u64("MIGRACE_TIMEOUT_MS", (uint64_t)(o->timeout * 1000));
	if (o->max_steps)      /* else the program's default, higher with memory points */
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
	if (o->trace_new)
		setenv("MIGRACE_TRACE_NEW", "1", 1);
	if (o->preempt)
		setenv("MIGRACE_PREEMPT", o->preempt, 1);
}

static void handle_line(struct outcome *out, const struct exec_opts *o, unsigned j, char *line)
{
	const struct pool_hooks *h = o->hooks;
	if (strncmp(line, "note ", 5) == 0) {
		if (h && h->note)
			h->note(h->ctx, line + 5);
		else if (!o->quiet)
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
		if (h && h->run)
			h->run(h->ctx, j, idx, seed, sig, trace);
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
int pool_run(const struct exec_opts *o, char *const argv[], struct outcome *out)
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
	const struct pool_hooks *h = o->hooks;
	bool stopping = false;
	while (open_fds) {
		struct pollfd pfd[MAX_JOBS];
		unsigned map[MAX_JOBS], n = 0;
		for (unsigned j = 0; j < nw; j++)
			if (ws[j].fd >= 0) {
				pfd[n] = (struct pollfd){ .fd = ws[j].fd, .events = POLLIN };
				map[n++] = j;
			}
		int ready = poll(pfd, n, h && h->tick ? h->tick_ms : -1);
		if (ready < 0 && errno != EINTR)
			break;
		for (unsigned i = 0; ready > 0 && i < n; i++) {
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
					handle_line(out, o, map[i], line);
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
		/* the caller's stop (a time budget, an interrupt): SIGTERM ends a
		 * fork server's current run unreported, then it says "done" */
		if (h && h->tick && h->tick(h->ctx) && !stopping) {
			stopping = true;
			for (unsigned j = 0; j < nw; j++)
				if (ws[j].fd >= 0 && !ws[j].killed) {
					kill(ws[j].pid, SIGTERM);
					ws[j].killed = true;
				}
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

enum { OPT_SEED = 256, OPT_RUNS, OPT_JOBS, OPT_SCRIPT, OPT_SCHEDULE, OPT_TIMEOUT, OPT_MAX_STEPS,
       OPT_CHECK_DET, OPT_KEEP_GOING, OPT_TRACE_ALL, OPT_OUT, OPT_STRATEGY, OPT_ALL, OPT_BUILD,
       OPT_TAP, OPT_REGRESSED, OPT_REAL, OPT_EXPLORE, OPT_EXPLORE_RUNS, OPT_JUNIT, OPT_PREEMPT, OPT_SWITCHES, OPT_HELP };

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
	{ "real", no_argument, NULL, OPT_REAL },
	{ "explore", required_argument, NULL, OPT_EXPLORE },
	{ "explore-runs", required_argument, NULL, OPT_EXPLORE_RUNS },
	{ "junit", required_argument, NULL, OPT_JUNIT },
	{ "preempt", required_argument, NULL, OPT_PREEMPT },
	{ "switches", required_argument, NULL, OPT_SWITCHES },
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
	case OPT_PREEMPT: o->preempt = parse_preempt(cmd, optarg); return true;
	default: return false;
	}
}

const char *parse_preempt(const char *cmd, const char *v)
{
	if (strcmp(v, "sync") && strcmp(v, "mem"))
		die_usage(cmd, "--preempt must be sync or mem, not '%s'", v);
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

/* ---- exec --------------------------------------------------------------- */

static int cmd_exec(int argc, char **argv)
{
	struct exec_opts o;
	bool switches = false;
	int c;

	exec_defaults(&o);
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", common_opts, NULL)) != -1) {
		if (exec_option("exec", c, &o))
			continue;
		switch (c) {
		case OPT_SCRIPT: o.script = optarg; break;
		case OPT_SCHEDULE: o.schedule = optarg; break;
		case OPT_SWITCHES: {
			struct switch_ent *sw;
			uint32_t n;
			char err[160];
			if (switches_parse(optarg, &sw, &n, err, sizeof(err)))
				die_usage("exec", "--switches: %s", err + strlen("switches: "));
			free(sw);
			setenv("MIGRACE_SWITCHES", optarg, 1);
			switches = true;
			break;
		}
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
	if (switches && strcmp(o.strategy, "random") && strcmp(o.strategy, "switches"))
		die_usage("exec", "--switches needs the switches strategy, not %s", o.strategy);
	if (switches)
		o.strategy = "switches";
	else if (strcmp(o.strategy, "switches") == 0)
		unsetenv("MIGRACE_SWITCHES");   /* no list: the non-preemptive schedule */
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

/* ---- rr --------------------------------------------------------------------- */

/* Whether rr can record here; if not, why, in one sentence. rr needs the
 * CPU's performance counters (perf_event_open of a hardware event, allowed
 * by kernel.perf_event_paranoid <= 1) on a CPU it knows. */
static bool rr_can_record(char *why, size_t len)
{
	char line[256];
	FILE *f;

	if (system("command -v rr >/dev/null 2>&1") != 0) {
		snprintf(why, len, "rr is not installed (apt-get install rr)");
		return false;
	}
	if ((f = fopen("/proc/sys/kernel/perf_event_paranoid", "r"))) {
		int level = 3;
		if (fscanf(f, "%d", &level) == 1 && level > 1) {
			fclose(f);
			snprintf(why, len, "kernel.perf_event_paranoid is %d and rr needs 1 or less "
				 "(sysctl kernel.perf_event_paranoid=1)", level);
			return false;
		}
		fclose(f);
	}
	struct perf_event_attr attr = { .type = PERF_TYPE_HARDWARE, .size = sizeof(attr),
					.config = PERF_COUNT_HW_BRANCH_INSTRUCTIONS, .exclude_kernel = 1,
					.disabled = 1 };
	int fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
	if (fd < 0) {
		snprintf(why, len, "this machine has no usable hardware performance counters "
			 "(perf_event_open: %s; a virtual machine without PMU passthrough?)", strerror(errno));
		return false;
	}
	close(fd);
	bool known = false;
	if ((f = fopen("/proc/cpuinfo", "r"))) {
		while (fgets(line, sizeof(line), f))
			if (strncmp(line, "vendor_id", 9) == 0 || strncmp(line, "CPU implementer", 15) == 0) {
				known = strstr(line, "GenuineIntel") || strstr(line, "AuthenticAMD") || strstr(line, "0x41");
				break;
			}
		fclose(f);
	}
	if (!known) {
		snprintf(why, len, "rr does not support this CPU's vendor");
		return false;
	}
	/* the last word is rr's: it knows which microarchitectures it supports */
	if (system("rr record -n /bin/true >/dev/null 2>&1") != 0) {
		snprintf(why, len, "rr cannot record on this machine (try: rr record /bin/true)");
		return false;
	}
	return true;
}

/* ---- replay ------------------------------------------------------------- */

static int cmd_replay(int argc, char **argv)
{
	static const struct option opts[] = { { "rr", no_argument, NULL, 'r' }, { "help", no_argument, NULL, 'h' }, { 0 } };
	bool rr = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(replay_help, stdout);
			return 0;
		}
		if (c == 'r') {
			rr = true;
			continue;
		}
		die_usage("replay", "unknown option %s", argv[optind - 1]);
	}
	if (optind != argc - 1)
		die_usage("replay", "expected exactly one trace file");
	if (rr) {
		char why[256];
		if (!rr_can_record(why, sizeof(why))) {
			printf("migrace replay --rr: skipped: %s.\n", why);
			return 77;
		}
	}
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
	if (rr) {   /* record the replay: rr replay then steps through it backwards */
		char **rv = calloc((size_t)t.nargs + 4, sizeof(*rv));
		rv[0] = "rr";
		rv[1] = "record";
		for (int i = 0; i <= t.nargs; i++)
			rv[i + 2] = av[i];
		fprintf(stderr, "migrace replay: recording under rr; afterwards: rr replay (the latest recording)\n");
		execvp("rr", rv);
		fprintf(stderr, "migrace replay: cannot run rr: %s\n", strerror(errno));
		return 2;
	}
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

static const struct scenario *find_demo(const char *name)
{
	for (size_t i = 0; i < NSCENARIOS; i++)
		if (strcmp(scenarios[i].name, name) == 0)
			return &scenarios[i];
	return NULL;
}

const struct race *find_race(const char *name)
{
	for (size_t i = 0; i < NRACES; i++)
		if (strcmp(races[i].name, name) == 0)
			return &races[i];
	return NULL;
}

void race_program(const struct race *r, const char *build, bool regressed, char *out, size_t len)
{
	snprintf(out, len, "%s/build/%s/scenarios/%s%s", root, build, r->name, regressed ? ".regressed" : "");
}

/* What the scenario program says about itself (MIGRACE_DESCRIBE=1): its
 * expected signature per build ("" when none applies). 0, or -1 when the
 * program cannot be run or has no descriptor. */
int describe(const char *prog, char expect[2][160])
{
	char cmd[PATH_MAX + 64], line[512];
	int found = 0;

	expect[0][0] = expect[1][0] = '\0';
	if (access(prog, X_OK))
		return -1;
	snprintf(cmd, sizeof(cmd), "MIGRACE_DESCRIBE=1 '%s' 2>/dev/null", prog);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "scenario yes") == 0)
			found = 1;
		for (int b = 0; b < 2; b++) {
			char key[16];
			snprintf(key, sizeof(key), "expect-%s ", builds[b]);
			if (strncmp(line, key, strlen(key)) == 0)
				snprintf(expect[b], sizeof(expect[b]), "%s", strcmp(line + strlen(key), "-") ? line + strlen(key) : "");
		}
	}
	return pclose(p) == 0 && found ? 0 : -1;
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
	printf("%-26s %-20s %-40s %s\n", "SCENARIO", "ORIGIN", "REGRESSED: TSAN", "REGRESSED: ASAN");
	for (size_t i = 0; i < NRACES; i++) {
		char prog[PATH_MAX], expect[2][160];
		race_program(&races[i], "tsan", false, prog, sizeof(prog));
		if (describe(prog, expect))
			snprintf(expect[0], sizeof(expect[0]), "(not built: make)");
		printf("%-26s %-20s %-40s %s\n", races[i].name, races[i].origin, expect[0][0] ? expect[0] : "n/a",
		       expect[1][0] ? expect[1] : "n/a");
		printf("    %s\n", races[i].summary);
	}
	printf("\n%-26s %-9s %-28s %s\n", "DEMO", "STRATEGY", "EXPECTED (tsan)", "WHAT");
	for (size_t i = 0; i < NSCENARIOS; i++)
		printf("%-26s %-9s %-28s %s\n", scenarios[i].name, scenarios[i].strategy, scenarios[i].expect[0],
		       scenarios[i].summary);
	return 0;
}

/* ---- run: the checks ----------------------------------------------------- */

struct run_ctx {
	struct exec_opts base;
	const char *strategy;        /* --strategy: replaces the gate's checks */
	const char *explore;
	uint64_t runs, explore_runs;
	bool runs_set, tap, real, regressed;
	unsigned passed, failed, skipped, ntap;
	/* the table, printed at the end */
	char (*rows)[512];
	size_t nrows;
	/* --junit FILE: one test case per check */
	const char *junit;
	struct junit_case { char cls[64], name[600], sig[160], trace[PATH_MAX]; bool ok, skipped; } *cases;
	size_t ncases;
};

/* One check's result: TAP line or FAIL line, the counts, a JUnit case. cls
 * is the scenario; out (may be NULL) the runs behind it. */
static void __attribute__((format(printf, 5, 6)))
report(struct run_ctx *c, bool ok, const char *cls, const struct outcome *out, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ok ? c->passed++ : c->failed++;
	if (c->tap)
		printf("%s %u - %s\n", ok ? "ok" : "not ok", ++c->ntap, what);
	else if (!ok)
		printf("FAIL %s\n", what);
	fflush(stdout);
	if (!c->junit)
		return;
	c->cases = realloc(c->cases, (c->ncases + 1) * sizeof(*c->cases));
	struct junit_case *jc = &c->cases[c->ncases++];
	memset(jc, 0, sizeof(*jc));
	snprintf(jc->cls, sizeof(jc->cls), "%s", cls);
	snprintf(jc->name, sizeof(jc->name), "%s", what);
	jc->ok = ok;
	if (out && out->have_first) {
		snprintf(jc->sig, sizeof(jc->sig), "%s", out->first_sig);
		snprintf(jc->trace, sizeof(jc->trace), "%s", out->first_trace);
	}
}

static void xml_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* JUnit XML: one <testcase> per check (scenario, core, build), a failure
 * carrying its signature, trace path and repro line. 0, or -1 (message). */
static int write_junit(const struct run_ctx *c)
{
	FILE *f = fopen(c->junit, "w");
	if (!f) {
		fprintf(stderr, "migrace run: cannot write %s: %s\n", c->junit, strerror(errno));
		return -1;
	}
	unsigned fails = 0, skips = 0;
	for (size_t i = 0; i < c->ncases; i++) {
		fails += !c->cases[i].ok;
		skips += c->cases[i].skipped;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<testsuites tests=\"%zu\" failures=\"%u\" skipped=\"%u\">\n"
		   "  <testsuite name=\"migrace\" tests=\"%zu\" failures=\"%u\" skipped=\"%u\">\n",
		c->ncases, fails, skips, c->ncases, fails, skips);
	for (size_t i = 0; i < c->ncases; i++) {
		const struct junit_case *jc = &c->cases[i];
		fputs("    <testcase classname=\"", f);
		xml_escaped(f, jc->cls);
		fputs("\" name=\"", f);
		xml_escaped(f, jc->name);
		fputs("\"", f);
		if (jc->ok && !jc->skipped) {
			fputs("/>\n", f);
			continue;
		}
		fputs(">\n", f);
		if (jc->skipped) {
			fputs("      <skipped message=\"no detector of this build applies\"/>\n", f);
		} else {
			fputs("      <failure message=\"", f);
			xml_escaped(f, jc->sig[0] ? jc->sig : "expectation not met");
			fputs("\">", f);
			xml_escaped(f, jc->name);
			if (jc->trace[0]) {
				fprintf(f, "\nsignature: ");
				xml_escaped(f, jc->sig);
				fprintf(f, "\ntrace: ");
				xml_escaped(f, jc->trace);
				fprintf(f, "\nrepro: ");
				xml_escaped(f, self);
				fputs(" replay ", f);
				xml_escaped(f, jc->trace);
			}
			fputs("</failure>\n", f);
		}
		fputs("    </testcase>\n", f);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	return fclose(f) ? -1 : 0;
}

static void report_failure_detail(struct run_ctx *c, const struct outcome *out)
{
	if (!out->have_first)
		return;
	const char *pre = c->tap ? "#   " : "    ";
	char log[PATH_MAX + 8];
	snprintf(log, sizeof(log), "%s.log", out->first_trace);
	FILE *f = fopen(log, "r");
	char line[1024];
	int n = 0;
	while (f && fgets(line, sizeof(line), f) && n++ < 30)
		printf("%s%s", pre, line);
	if (f)
		fclose(f);
	printf("%strace: %s\n%srepro: %s replay %s\n", pre, out->first_trace, pre, self, out->first_trace);
}

/* Runs prog under strategy for runs schedules into out. */
static bool run_prog(struct run_ctx *c, const char *prog, const char *name, const char *strategy, uint64_t runs,
		     bool keep_going, const char *outdir, struct outcome *out)
{
	struct exec_opts o = c->base;
	o.strategy = strategy;
	o.runs = runs;
	o.name = name;
	o.quiet = true;
	o.keep_going = keep_going;
	o.out = outdir;
	check_dfs_jobs("run", &o);
	if (strcmp(strategy, "script") == 0)
		o.jobs = o.jobs > runs ? (unsigned)runs : o.jobs;
	char *av[] = { (char *)prog, NULL };
	return pool_run(&o, av, out) == 0 && !out->config_error && !out->lost_worker;
}

/* Replays trace with this migrace: true if it reproduced its signature. */
bool replay_ok(const char *trace)
{
	char sig[400];
	return replay_run(trace, sig, sizeof(sig), NULL, 0) == 0;
}

static void add_row(struct run_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_row(struct run_ctx *c, const char *fmt, ...)
{
	va_list ap;
	c->rows = realloc(c->rows, (c->nrows + 1) * sizeof(*c->rows));
	va_start(ap, fmt);
	vsnprintf(c->rows[c->nrows++], sizeof(c->rows[0]), fmt, ap);
	va_end(ap);
}

#define ROW_FMT "%-26s %-26s %-5s %-37s %-27s %-40s %s"

/* The gate for one race in one build. */
static void check_race(struct run_ctx *c, const struct race *r, const char *build, const char *expect)
{
	char real[PATH_MAX], regr[PATH_MAX], outdir[PATH_MAX], real_res[160] = "-", regr_res[160] = "-";
	struct outcome out;
	uint64_t total = 0;

	race_program(r, build, false, real, sizeof(real));
	race_program(r, build, true, regr, sizeof(regr));
	if (!c->regressed) {
		snprintf(outdir, sizeof(outdir), "%s/%s/%s/real", c->base.out, r->name, build);
		const char *st = c->strategy ? c->strategy : "script";
		bool ran = run_prog(c, real, r->name, st, c->runs, false, outdir, &out);
		bool ok = ran && !out.have_first && out.runs == c->runs;
		total += out.runs;
		report(c, ok, r->name, &out, "%s [%s] real core, %s: clean in %" PRIu64 " of %" PRIu64 " runs%s%s", r->name, build, st,
		       out.runs - out.failures, c->runs, out.have_first ? "; first failure: " : "",
		       out.have_first ? out.first_sig : (ran ? "" : " (could not run)"));
		if (!ok)
			report_failure_detail(c, &out);
		uint64_t script_clean = out.runs - out.failures;
		snprintf(real_res, sizeof(real_res), "%s %s %" PRIu64 "/%" PRIu64, ok ? "clean" : "FAILED", st,
			 script_clean, c->runs);
		bool real_ok = ok;
		if (!c->strategy && c->explore_runs) {
			ran = run_prog(c, real, r->name, c->explore, c->explore_runs, false, outdir, &out);
			ok = ran && !out.have_first;
			total += out.runs;
			report(c, ok, r->name, &out, "%s [%s] real core, %s: clean in %" PRIu64 " schedules%s%s", r->name, build,
			       c->explore, out.runs - out.failures, out.have_first ? "; first failure: " : "",
			       out.have_first ? out.first_sig : (ran ? "" : " (could not run)"));
			if (!ok)
				report_failure_detail(c, &out);
			snprintf(real_res, sizeof(real_res), "%s %s %" PRIu64 "/%" PRIu64 ", %s %" PRIu64 "/%" PRIu64,
				 ok && real_ok ? "clean" : "FAILED", st, script_clean, c->runs, c->explore,
				 out.runs - out.failures, c->explore_runs);
		}
	}
	if (!c->real) {
		if (!*expect) {
			c->skipped++;
			if (c->junit) {
				report(c, true, r->name, NULL, "%s [%s] regressed core: no detector of this build applies",
				       r->name, build);
				c->passed--;
				c->cases[c->ncases - 1].skipped = true;
			}
			if (c->tap)
				printf("ok %u - %s [%s] regressed core # SKIP no detector of this build applies\n",
				       ++c->ntap, r->name, build);
			snprintf(regr_res, sizeof(regr_res), "n/a (no detector)");
		} else {
			snprintf(outdir, sizeof(outdir), "%s/%s/%s/regressed", c->base.out, r->name, build);
			const char *st = c->strategy ? c->strategy : "script";
			bool every = !c->strategy;        /* scripted: every run; else: some run */
			bool ran = run_prog(c, regr, r->name, st, c->runs, every, outdir, &out);
			total += out.runs;
			bool ok = ran && out.have_first && strcmp(out.first_sig, expect) == 0 &&
				  (!every || (out.failures == c->runs && out.nsigs == 1));
			report(c, ok, r->name, &out, "%s [%s] regressed core, %s: %s in %" PRIu64 " of %" PRIu64 " runs (first: %s)",
			       r->name, build, st, expect, ok ? (every ? out.failures : 1) : 0, c->runs,
			       out.have_first ? out.first_sig : (ran ? "clean" : "could not run"));
			if (!ok)
				report_failure_detail(c, &out);
			snprintf(regr_res, sizeof(regr_res), "%s %" PRIu64 "/%" PRIu64, ok ? "reproduced" : "NOT REPRODUCED",
				 every ? (out.failures) : (uint64_t)(out.have_first ? 1 : 0), c->runs);
			if (out.have_first && every) {
				bool rok = replay_ok(out.first_trace);
				total++;
				report(c, rok, r->name, rok ? NULL : &out, "%s [%s] regressed core: the trace replays to %s", r->name,
				       build, expect);
				if (!rok)
					printf("%s  trace: %s\n", c->tap ? "#" : "", out.first_trace);
				size_t l = strlen(regr_res);
				snprintf(regr_res + l, sizeof(regr_res) - l, ", %s", rok ? "replays" : "REPLAY FAILED");
			}
		}
	}
	add_row(c, ROW_FMT, r->name, r->origin, build, real_res, regr_res, *expect ? expect : "n/a", "");
	size_t l = strlen(c->rows[c->nrows - 1]);
	snprintf(c->rows[c->nrows - 1] + l, sizeof(c->rows[0]) - l, "%" PRIu64, total);
}

static void check_demo(struct run_ctx *c, const struct scenario *s, const char *build)
{
	char prog[PATH_MAX], script[PATH_MAX], outdir[PATH_MAX];
	struct outcome out;
	struct exec_opts save = c->base;
	const char *expect = s->expect[build_index(build)];

	snprintf(prog, sizeof(prog), "%s/build/%s/%s", root, build, s->program);
	if (s->script) {
		snprintf(script, sizeof(script), "%s/%s", root, s->script);
		c->base.script = script;
	}
	snprintf(outdir, sizeof(outdir), "%s/%s/%s", c->base.out, s->name, build);
	const char *st = c->strategy ? c->strategy : s->strategy;
	uint64_t runs = c->runs_set ? c->runs : s->runs;
	bool ran = !access(prog, X_OK) && run_prog(c, prog, s->name, st, runs, false, outdir, &out);
	c->base = save;
	char got[200];
	snprintf(got, sizeof(got), "%s", !ran ? "error (not built?)" : out.have_first ? out.first_sig : "clean");
	bool ok = strcmp(got, expect) == 0;
	report(c, ok, s->name, ran ? &out : NULL, "%s [%s] %s, %" PRIu64 " runs: expected %s, got %s", s->name, build,
	       st, runs, expect, got);
	if (!ok && ran)
		report_failure_detail(c, &out);
	add_row(c, ROW_FMT, s->name, "demo", build, ok ? "as expected" : "MISMATCH", "-", expect, "");
	size_t l = strlen(c->rows[c->nrows - 1]);
	snprintf(c->rows[c->nrows - 1] + l, sizeof(c->rows[0]) - l, "%" PRIu64, ran ? out.runs : 0);
}

static int cmd_run(int argc, char **argv)
{
	struct run_ctx c = { .explore = "pct:3", .runs = 100, .explore_runs = 2000 };
	const char *build = NULL;
	bool all = false;
	int ch;

	exec_defaults(&c.base);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c.base.jobs = ncpu > 0 ? (unsigned)(ncpu < MAX_JOBS ? ncpu : MAX_JOBS) : 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", common_opts, NULL)) != -1) {
		if (ch == OPT_RUNS)
			c.runs_set = true;
		if (exec_option("run", ch, &c.base)) {
			if (ch == OPT_STRATEGY)
				c.strategy = optarg;
			continue;
		}
		switch (ch) {
		case OPT_ALL: all = true; break;
		case OPT_BUILD:
			if (build_index(optarg) < 0)
				die_usage("run", "--build must be tsan, asan or plain, not '%s'", optarg);
			build = optarg;
			break;
		case OPT_TAP: c.tap = true; break;
		case OPT_JUNIT: c.junit = optarg; break;
		case OPT_OUT: c.base.out = optarg; break;
		case OPT_REGRESSED: c.regressed = true; break;
		case OPT_REAL: c.real = true; break;
		case OPT_EXPLORE: check_strategy("run", optarg); c.explore = optarg; break;
		case OPT_EXPLORE_RUNS: c.explore_runs = parse_count("run", "--explore-runs", optarg, 0, UINT64_MAX / 4); break;
		case 'h':
		case OPT_HELP: fputs(run_help, stdout); return 0;
		case '?': die_usage("run", "unknown or incomplete option");
		default: die_usage("run", "option %s is not for run", argv[optind - 1]);
		}
	}
	if (c.junit) {     /* bad input is refused before any run, not after */
		FILE *f = fopen(c.junit, "w");
		if (!f)
			die_usage("run", "cannot write the JUnit file '%s': %s", c.junit, strerror(errno));
		fclose(f);
	}
	if (c.real && c.regressed)
		die_usage("run", "--real and --regressed exclude each other (neither: both cores)");
	if (c.runs_set)
		c.runs = c.base.runs;
	const struct race *rsel[NRACES + 1];
	const struct scenario *dsel[NSCENARIOS + 1];
	size_t nr = 0, nd = 0;
	if (all) {
		if (optind < argc)
			die_usage("run", "give scenario names or --all, not both");
		for (size_t i = 0; build && strcmp(build, "plain") == 0 ? false : i < NRACES; i++)
			rsel[nr++] = &races[i];     /* the races have no plain build */
		if (!c.regressed)
			for (size_t i = 0; i < NSCENARIOS; i++)
				dsel[nd++] = &scenarios[i];
	} else {
		if (optind >= argc)
			die_usage("run", "no scenario given (see migrace list, or use --all)");
		for (int i = optind; i < argc; i++) {
			const struct race *r = find_race(argv[i]);
			const struct scenario *d = find_demo(argv[i]);
			if (r && nr < NRACES)
				rsel[nr++] = r;
			else if (d && c.regressed)
				die_usage("run", "--regressed: '%s' is a demo, it has no regress.patch", argv[i]);
			else if (d && nd < NSCENARIOS)
				dsel[nd++] = d;
			else if (!r && !d)
				die_usage("run", "no scenario named '%s' (see migrace list)", argv[i]);
		}
	}
	const char *bl[2] = { "tsan", "asan" };
	int nb = 2;
	if (build) {
		bl[0] = build;
		nb = 1;
		if (nr && strcmp(build, "plain") == 0)
			die_usage("run", "the race scenarios are built for tsan and asan only, not plain");
	}
	if (c.tap)
		printf("TAP version 13\n");
	for (size_t i = 0; i < nr; i++) {
		char prog[PATH_MAX], expect[2][160];
		race_program(rsel[i], "tsan", false, prog, sizeof(prog));
		if (describe(prog, expect)) {
			report(&c, false, rsel[i]->name, NULL, "%s: cannot read its descriptor from %s (not built? run make)",
			       rsel[i]->name, prog);
			continue;
		}
		for (int b = 0; b < nb; b++)
			check_race(&c, rsel[i], bl[b], expect[build_index(bl[b])]);
	}
	for (size_t i = 0; i < nd; i++)
		for (int b = 0; b < nb; b++)
			check_demo(&c, dsel[i], bl[b]);

	const char *pre = c.tap ? "# " : "";
	printf("%s\n%s" ROW_FMT "\n", pre, pre, "SCENARIO", "ORIGIN", "BUILD", "REAL CORE", "REGRESSED CORE",
	       "SIGNATURE", "RUNS");
	for (size_t i = 0; i < c.nrows; i++)
		printf("%s%s\n", pre, c.rows[i]);
	free(c.rows);
	if (c.junit && write_junit(&c))
		c.failed++;
	free(c.cases);
	if (c.tap)
		printf("1..%u\n", c.ntap);
	printf("%s%u passed, %u failed%s\n", pre, c.passed, c.failed, c.skipped ? "" : "");
	return c.failed ? 1 : 0;
}

/* ---- stress: real threads, no scheduler -------------------------------- */

struct stress_slot {
	pid_t pid;
	int fd;
	double start;
};

double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* Collects a finished (or killed) run: its signature into the histogram. */
static void stress_reap(struct stress_slot *sl, int status, bool timed_out, struct outcome *out)
{
	off_t n = lseek(sl->fd, 0, SEEK_END);
	char *buf = malloc((size_t)(n > 0 ? n : 0) + 1);
	ssize_t got = n > 0 ? pread(sl->fd, buf, (size_t)n, 0) : 0;
	buf[got > 0 ? got : 0] = '\0';
	close(sl->fd);
	struct run_end end = { buf, status, timed_out, NULL };
	char sig[160];
	classify(&end, sig, sizeof(sig));
	out->runs++;
	count_signature(out, sig);
	free(buf);
	sl->pid = 0;
}

static int cmd_stress(int argc, char **argv)
{
	uint64_t runs = 1000;
	double min_time = 0, timeout = 10;
	unsigned jobs = 1;
	const char *expect = NULL;
	int c;
	static const struct option opts[] = {
		{ "runs", required_argument, NULL, OPT_RUNS }, { "time", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT }, { "jobs", required_argument, NULL, OPT_JOBS },
		{ "expect", required_argument, NULL, 'e' }, { "help", no_argument, NULL, OPT_HELP }, { 0 },
	};

	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_RUNS: runs = parse_count("stress", "--runs", optarg, 1, UINT64_MAX / 4); break;
		case 't': min_time = (double)parse_count("stress", "--time", optarg, 0, 86400); break;
		case OPT_TIMEOUT: timeout = parse_seconds("stress", optarg); break;
		case OPT_JOBS: jobs = (unsigned)parse_count("stress", "--jobs", optarg, 1, MAX_JOBS); break;
		case 'e': expect = optarg; break;
		case 'h':
		case OPT_HELP: fputs(stress_help, stdout); return 0;
		default: die_usage("stress", "unknown or incomplete option");
		}
	}
	if (optind >= argc)
		die_usage("stress", "no program given: migrace stress [OPTIONS] -- PROGRAM [ARGS]");
	if (access(argv[optind], X_OK))
		die_usage("stress", "cannot run '%s': %s", argv[optind], strerror(errno));

	struct stress_slot slots[MAX_JOBS] = { { 0 } };
	struct outcome out = { 0 };
	uint64_t started = 0;
	double t0 = now_s();
	setenv("MIGRACE_PASSTHROUGH", "1", 1);
	for (;;) {
		bool more = started < runs || now_s() - t0 < min_time;
		unsigned busy = 0;
		for (unsigned j = 0; j < jobs; j++) {
			struct stress_slot *sl = &slots[j];
			if (!sl->pid && more) {
				sl->fd = memfd_create("migrace-stress", MFD_CLOEXEC);
				fflush(NULL);
				sl->pid = fork();
				if (sl->pid == 0) {
					setpgid(0, 0);
					dup2(sl->fd, 1);
					dup2(sl->fd, 2);
					execvp(argv[optind], argv + optind);
					_exit(127);
				}
				sl->start = now_s();
				started++;
				more = started < runs || now_s() - t0 < min_time;
			}
			if (!sl->pid)
				continue;
			int st;
			pid_t r = waitpid(sl->pid, &st, WNOHANG);
			if (r == sl->pid) {
				stress_reap(sl, st, false, &out);
			} else if (now_s() - sl->start > timeout) {
				kill(-sl->pid, SIGKILL);
				kill(sl->pid, SIGKILL);
				waitpid(sl->pid, &st, 0);
				stress_reap(sl, st, true, &out);
			} else {
				busy++;
			}
		}
		if (!busy && !more)
			break;
		if (busy)
			usleep(200);
	}
	double secs = now_s() - t0;
	uint64_t hits = 0;
	for (int i = 0; i < out.nsigs; i++) {
		printf("%-50s %" PRIu64 "\n", out.sigs[i].sig, out.sigs[i].count);
		if (expect && (signature_matches(out.sigs[i].sig, expect) ||
			       (strcmp(expect, "deadlock") == 0 && strcmp(out.sigs[i].sig, "hang") == 0)))
			hits += out.sigs[i].count;
	}
	printf("stress: %" PRIu64 " runs in %.2f s, %" PRIu64 " gave %s\n", out.runs, secs, hits,
	       expect ? expect : "(no --expect)");
	return 0;
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
		      : strcmp(topic, "stress") == 0 ? stress_help : strcmp(topic, "faults") == 0 ? faults_help
		      : strcmp(topic, "hunt") == 0 ? hunt_help : strcmp(topic, "reproduce") == 0 ? reproduce_help
		      : strcmp(topic, "minimize") == 0 ? minimize_help : strcmp(topic, "show") == 0 ? show_help
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
	if (strcmp(cmd, "stress") == 0)
		return cmd_stress(argc - 1, argv + 1);
	if (strcmp(cmd, "faults") == 0)
		return cmd_faults(argc - 1, argv + 1);
	if (strcmp(cmd, "hunt") == 0)
		return cmd_hunt(argc - 1, argv + 1);
	if (strcmp(cmd, "reproduce") == 0)
		return cmd_reproduce(argc - 1, argv + 1);
	if (strcmp(cmd, "minimize") == 0)
		return cmd_minimize(argc - 1, argv + 1);
	if (strcmp(cmd, "show") == 0)
		return cmd_show(argc - 1, argv + 1);
	die_usage(NULL, "unknown command '%s'", cmd);
}
