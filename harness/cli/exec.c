/*
 * migrace exec: explores a program built with migrace-cc over --jobs workers
 * and reports the first failing run (signature, trace, repro lines).
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
#include <time.h>

#include "commands.h"
#include "opts.h"
#include "pool.h"
#include "rerun.h"
#include "strategy.h"

static const char exec_help[] =
	"usage: migrace exec [OPTIONS] -- PROGRAM [ARGS]\n"
	"\n"
	"Runs PROGRAM (built with migrace-cc) once per schedule, each run in a forked\n"
	"child, and stops at the first failing run: a sanitizer report, a failed\n"
	"assertion, a crash, a deadlock, a hang, a spin loop, a pthread misuse or a\n"
	"nonzero exit.\n"
	"\n"
	"  --strategy S        script | random | pct:D | dfs:B | pos | guided\n"
	"                      (default random)\n"
	"                      script: ordering constraints (--script) + default order\n"
	"                      pct:D: PCT of depth D (D-1 priority change points)\n"
	"                      pos: partial-order sampling: each thread's next step\n"
	"                      has a random priority, drawn again when it has run\n"
	"                      dfs:B: every schedule within B preemptions, then stops\n"
	"                      switches: the --switches list, else no preemption\n"
	"                      guided: greybox search; runs that did something new\n"
	"                      (a lock handoff, a pair of steps at a thread switch, an\n"
	"                      order of sync points, a signature) are kept in a corpus\n"
	"                      under OUT/guided and mutated (switches added, dropped,\n"
	"                      moved); the workers share it; a failing run's trace\n"
	"                      replays as any other (there is no seed repro line)\n"
	"  --switches LIST     the thread switches `migrace minimize` prints (\"1.m2>2\n"
	"                      0.s3>1\": at thread 1's 2nd memory decision run thread 2,\n"
	"                      at thread 0's 3rd scheduling decision run thread 1);\n"
	"                      implies --strategy switches\n"
	"  --seed N            first seed (default 1); run i uses seed N+i\n"
	"  --runs N            schedules to try (default 1; dfs: at most N)\n"
	"  --jobs J            parallel workers (default 1)\n"
	"  --script FILE       ordering constraints, one \"A -> B\" per line\n"
	"  --schedule TEXT     force a compact schedule (\"0*5 1*3 0\") first\n"
	"  --timeout SEC       per-run wall-clock limit (default 10); a run past it runs\n"
	"                      once more with 4x the limit, and only a second timeout\n"
	"                      is a `hang` (its report says it was the wall clock); a\n"
	"                      thread that runs 1 s of CPU (or a quarter of the limit)\n"
	"                      with no scheduling point while another could run is a\n"
	"                      spin loop: `spin@FILE:LINE`, before the limit\n"
	"  --pct-k K           PCT's k (default: the length of a first run under the\n"
	"                      default schedule; printed in the seed repro line)\n"
	"  --spurious          condition-variable waits may also wake without a signal,\n"
	"                      and timed waits time out before a signal (decisions,\n"
	"                      recorded in the trace: replay needs no flag)\n"
	"  --pin none|auto|CPU pin each run to one CPU: none, the CPU the kernel\n"
	"                      started it on (auto, the default), or CPU\n"
	"  --max-steps N       per-run scheduling steps, then `hang` (default 200000;\n"
	"                      5000000 with --preempt mem)\n"
	"  --preempt sync|mem|mem-all\n"
	"                      scheduling points at synchronisation only (sync, the\n"
	"                      default), also before the loads and stores of the\n"
	"                      instructions that touch memory another thread touches,\n"
	"                      with no lock held at every access, learned from 3\n"
	"                      learning runs (mem), or before every load\n"
	"                      and store of non-stack memory (mem-all); a thread that\n"
	"                      re-reads an unchanged word there yields (a spin loop)\n"
	"  --check-determinism run every schedule twice and compare the traces\n"
	"  --keep-going        do not stop at the first failing run\n"
	"  --trace-all         write the trace of every run, not only failing ones\n"
	"  --out DIR           where traces go (default $MIGRACE_OUT, else migrace-out)\n"
	"\n"
	"Standard input from a pipe or a file is read once and every run gets the same\n"
	"bytes (kept beside each trace, so that replay feeds them again).\n"
	"Ctrl-C (or SIGTERM) stops the runs and reports what the finished ones gave:\n"
	"their count, the first failure with its trace and repro lines.\n"
	"\n"
	"exit: 0 no run failed; 1 a run failed (signature, trace path, repro lines: the\n"
	"replay and the seed form); 2 bad arguments or a program not built with\n"
	"migrace-cc; 128+N interrupted by signal N with no failure found.\n";

/* ---- exec --------------------------------------------------------------- */

/* Standard input from a pipe or a file is read once, into DIR/stdin-PID,
 * and every run gets it (MIGRACE_STDIN; the fork server keeps it beside each
 * trace for replay). A terminal or /dev/null is left alone. NULL: nothing saved. */
static const char *save_stdin(const char *dir)
{
	static char path[PATH_MAX];
	struct stat st;
	if (isatty(0) || fstat(0, &st) || !(S_ISFIFO(st.st_mode) || S_ISREG(st.st_mode) || S_ISSOCK(st.st_mode)))
		return NULL;
	snprintf(path, sizeof(path), "%s/stdin-%d", dir, (int)getpid());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		die_usage("exec", "cannot save standard input to %s: %s", path, strerror(errno));
	char buf[65536];
	ssize_t n;
	while ((n = read(0, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && write(fd, buf, (size_t)n) != n)
			die_usage("exec", "cannot save standard input to %s: %s", path, strerror(errno));
	close(fd);
	return path;
}

static int exec_main(int argc, char **argv)
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
			o.switches = optarg;
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
	check_program("exec", argv[optind], NULL);
	o.out = out_dir_ready("exec", o.out);
	o.stdin_file = save_stdin(o.out);
	if (o.script && access(o.script, R_OK))
		die_usage("exec", "cannot read script '%s': %s", o.script, strerror(errno));
	if (o.script && strcmp(o.strategy, "random") == 0)
		o.strategy = "script";
	if (switches && strcmp(o.strategy, "random") && strcmp(o.strategy, "switches"))
		die_usage("exec", "--switches needs the switches strategy, not %s", o.strategy);
	if (switches)
		o.strategy = "switches";
	check_dfs_jobs("exec", &o);

	struct outcome out;
	/* Ctrl-C or SIGTERM: the pool stops its workers (each ends its current
	 * run unreported) and exec reports what the finished runs gave */
	struct pool_hooks hooks = { .interrupts = true };
	o.hooks = &hooks;
	double t0 = now_s();
	int rc = pool_run(&o, argv + optind, &out);
	double secs = now_s() - t0;
	if (rc)
		return 2;
	if (out.config_error)
		return 2;
	if (out.interrupted)      /* what ran before the interrupt is kept and said */
		fprintf(stderr, "migrace: exec: interrupted (%s) after %" PRIu64 " run%s, %" PRIu64 " failed, %.2f s\n",
			strsignal(out.interrupted), out.runs, out.runs == 1 ? "" : "s", out.failures, secs);
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
		if (strncmp(o.strategy, "dfs:", 4) && strcmp(o.strategy, "guided")) {
			fputs("migrace: repro (seed): ", stderr);
			pool_seed_repro(stderr, &o, out.first_seed, out.pct_k ? out.pct_k : o.pct_k, argv + optind);
		}
		return 1;
	}
	if (out.interrupted)
		return 128 + out.interrupted;
	if (out.lost_worker)
		return 2;
	fprintf(stderr, "migrace: exec: %" PRIu64 " run%s (strategy %s), no failure, %.2f s\n", out.runs,
		out.runs == 1 ? "" : "s", o.strategy, secs);
	return 0;
}


const struct command cmd_exec = { "exec", exec_main, exec_help };
