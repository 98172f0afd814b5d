/*
 * The programs migrace knows by name: the race scenarios (scenarios/scenarios.def),
 * each built for tsan and asan against the real and the regressed core, and
 * the demos (demos.def), the workloads (harness/workloads/workloads.def); and
 * what a scenario program says about itself.
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
#include "opts.h"

const struct demo demos[] = {
#define DEMO(n, p, sc, st, r, et, ea, ep, s) { n, p, sc, st, r, { et, ea, ep }, s },
#include "demos.def"
#undef DEMO
};
const size_t ndemos = sizeof(demos) / sizeof(demos[0]);


const struct race races[] = {
#define SCENARIO(n, o, s) { n, o, s },
#include "../../scenarios/scenarios.def"
#undef SCENARIO
};
const size_t nraces = sizeof(races) / sizeof(races[0]);

const struct workload workloads[] = {
#define WORKLOAD(n, f, fp, s) { n, f, fp, s },
#include "../workloads/workloads.def"
#undef WORKLOAD
};
const size_t nworkloads = sizeof(workloads) / sizeof(workloads[0]);

const struct workload *find_workload(const char *name)
{
	for (size_t i = 0; i < nworkloads; i++)
		if (strcmp(workloads[i].name, name) == 0)
			return &workloads[i];
	return NULL;
}

void workload_program(const struct workload *w, const char *build, const char *scenario, char *out, size_t len)
{
	if (scenario)
		snprintf(out, len, "%s/build/%s/workloads/regressed/%s/%s", root, build, scenario, w->name);
	else
		snprintf(out, len, "%s/build/%s/workloads/%s", root, build, w->name);
}

static const char *const builds[] = { "tsan", "asan", "plain" };

int build_index(const char *b)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(builds[i], b) == 0)
			return i;
	return -1;
}

const struct demo *find_demo(const char *name)
{
	for (size_t i = 0; i < ndemos; i++)
		if (strcmp(demos[i].name, name) == 0)
			return &demos[i];
	return NULL;
}

const struct race *find_race(const char *name)
{
	for (size_t i = 0; i < nraces; i++)
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

