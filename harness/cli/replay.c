/*
 * migrace replay: runs a trace's program again with the recorded decisions
 * (MIGRACE_REPLAY), optionally recorded under rr where rr can record.
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
#include <linux/perf_event.h>
#include <sys/syscall.h>

#include "commands.h"
#include "opts.h"
#include "rerun.h"
#include "trace.h"

static const char replay_help[] =
	"usage: migrace replay TRACE [--rr]\n"
	"\n"
	"Runs the trace's program again and feeds it the recorded decisions. At the\n"
	"first step where the program does something else, the run stops with a\n"
	"divergence error naming the step, what the trace expected and what happened.\n"
	"A trace with fd-external steps (a descriptor whose peer is outside the\n"
	"process, waited for really) replays only if the outside answers as it did:\n"
	"replay warns about it.\n"
	"\n"
	"--rr records the replay under rr (then `rr replay` steps through it, also\n"
	"backwards). rr needs hardware performance counters: where it cannot record,\n"
	"the command says why in one sentence and exits 77 (skipped).\n"
	"\n"
	"exit: 0 the recorded signature was reproduced; 1 it was not (or divergence);\n"
	"2 the trace cannot be read (the error names the line); 77 --rr unavailable.\n";

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

static int replay_main(int argc, char **argv)
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
	struct trace t;
	char err[512];
	if (read_trace_file(path, &t, err, sizeof(err))) {
		fprintf(stderr, "migrace replay: %s: %s\n", path, err);
		return 2;
	}
	if (access(t.program, X_OK)) {
		fprintf(stderr, "migrace replay: %s: the traced program %s cannot be run: %s\n", path, t.program,
			strerror(errno));
		trace_free(&t);
		return 2;
	}
	for (uint32_t i = 0; i < t.nsteps; i++)
		if (t.steps[i].op == OP_FD_EXT) {
			fprintf(stderr, "migrace replay: warning: the run depends on the outside: at step %u T%u waited "
				"for a descriptor whose peer is outside the process (the replay holds if it answers "
				"as it did)\n", i, t.steps[i].chosen);
			break;
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


const struct command cmd_replay = { "replay", replay_main, replay_help };
