/*
 * The programs migrace knows by name: the race scenarios (scenarios.def) and
 * the demos (demos.def), where their builds are, and what a scenario program
 * declares about itself.
 */
#ifndef MIGRACE_CATALOG_H
#define MIGRACE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

/* A race: built for tsan and asan against the real core and against its
 * regressed core; the expectations come from the program's own descriptor
 * (migrace/scenario.h). */
struct race {
	const char *name, *origin, *summary;
};
extern const struct race races[];
extern const size_t nraces;

/* A demo: a small program of harness/demos with its strategy and the
 * signature it must give in each build. */
struct demo {
	const char *name, *program, *script, *strategy;
	unsigned runs;
	const char *expect[3];       /* tsan, asan, plain */
	const char *summary;
};
extern const struct demo demos[];
extern const size_t ndemos;

/* A workload (harness/workloads/workloads.def): a program that drives a
 * whole core at random, hunted against the real core, a scenario's
 * regressed core or another core; with the fault settings it runs under. */
struct workload {
	const char *name, *faults, *fault_points, *summary;
};
extern const struct workload workloads[];
extern const size_t nworkloads;
const struct workload *find_workload(const char *name);
/* build/<build>/workloads/<name>, or .../workloads/regressed/<scenario>/<name> */
void workload_program(const struct workload *w, const char *build, const char *scenario, char *out, size_t len);

/* "tsan", "asan", "plain": the index of a build name, or -1. */
int build_index(const char *b);
const struct race *find_race(const char *name);
const struct demo *find_demo(const char *name);
/* build/<build>/scenarios/<name>[.regressed] under root */
void race_program(const struct race *r, const char *build, bool regressed, char *out, size_t len);
/* The program's descriptor: expect[0] tsan, expect[1] asan ("" when none). */
int describe(const char *prog, char expect[2][160]);

#endif
