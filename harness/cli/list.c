/*
 * migrace list: the race scenarios with their origins and expected
 * signatures (read from the built programs), and the demos; --workloads:
 * the workloads.
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

#include "catalog.h"
#include "commands.h"
#include "opts.h"

static const char list_help[] =
	"usage: migrace list [--workloads]\n\nThe race scenarios (origin, expected signatures on the regressed core,\n"
	"from the built tsan and asan programs) and the demos.\n"
	"  --workloads   the workloads instead (`migrace hunt --workload NAME`): name and\n"
	"                what it drives, one line each\n";

static int list_main(int argc, char **argv)
{
	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(list_help, stdout);
			return 0;
		}
		if (strcmp(argv[1], "--workloads") == 0 && argc == 2) {
			for (size_t i = 0; i < nworkloads; i++)
				printf("%-12s %s\n", workloads[i].name, workloads[i].summary);
			return 0;
		}
		die_usage("list", "takes no arguments but --workloads, not '%s'", argv[argc > 2 ? 2 : 1]);
	}
	printf("%-26s %-20s %-40s %s\n", "SCENARIO", "ORIGIN", "REGRESSED: TSAN", "REGRESSED: ASAN");
	for (size_t i = 0; i < nraces; i++) {
		char prog[PATH_MAX], expect[2][160];
		race_program(&races[i], "tsan", false, prog, sizeof(prog));
		if (describe(prog, expect))
			snprintf(expect[0], sizeof(expect[0]), "(not built: make)");
		printf("%-26s %-20s %-40s %s\n", races[i].name, races[i].origin, expect[0][0] ? expect[0] : "n/a",
		       expect[1][0] ? expect[1] : "n/a");
		printf("    %s\n", races[i].summary);
	}
	printf("\n%-26s %-9s %-28s %s\n", "DEMO", "STRATEGY", "EXPECTED (tsan)", "WHAT");
	for (size_t i = 0; i < ndemos; i++)
		printf("%-26s %-9s %-28s %s\n", demos[i].name, demos[i].strategy, demos[i].expect[0],
		       demos[i].summary);
	return 0;
}


const struct command cmd_list = { "list", list_main, list_help };
