/*
 * migrace stress: the baseline the harness is measured against: the program
 * again and again with real threads and no controlled scheduler.
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
#include <sys/mman.h>

#include "classify.h"
#include "commands.h"
#include "opts.h"
#include "pool.h"
#include "rerun.h"

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

/* ---- stress: real threads, no scheduler -------------------------------- */

struct stress_slot {
	pid_t pid;
	int fd;
	double start;
};

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

static int stress_main(int argc, char **argv)
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
	check_program("stress", argv[optind], NULL);

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


const struct command cmd_stress = { "stress", stress_main, stress_help };
