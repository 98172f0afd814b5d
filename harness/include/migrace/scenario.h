/*
 * A scenario: a program that makes one known race happen on every run of the
 * regressed core and stays clean on the real core (scenarios/README.md).
 * Besides main, a scenario defines one descriptor with MIGRACE_SCENARIO:
 *
 *     #include <migrace/scenario.h>
 *
 *     MIGRACE_SCENARIO(
 *         .order = {
 *             "rp:thread:got-shut -> mig:completion:check-rp",
 *             "mig:completion:check-rp -> rp:thread:exit",
 *         },
 *         .expect_tsan = "tsan:data-race@migration_completion",
 *         .expect_asan = "invariant:thread-not-joined",
 *     );
 *
 * order        the ordering constraints between named sync points ("A -> B":
 *              no thread passes B before some thread passed A). They apply
 *              under the script strategy, which is the default when the
 *              program runs by hand or under `migrace run`.
 * expect_tsan  the signature the scripted schedule must give on the regressed
 * expect_asan  core in that build; NULL when no detector of that build applies
 *              (the gate then skips the build for the regressed core).
 *
 * The runtime reads the descriptor before the first run; with
 * MIGRACE_DESCRIBE=1 in the environment the program prints it and exits
 * (that is how `migrace list` and `migrace run` learn it).
 */
#ifndef MIGRACE_SCENARIO_H
#define MIGRACE_SCENARIO_H

#include "migrace.h"

#define MIGRACE_SCENARIO_MAX_ORDER 32

struct migrace_scenario {
	const char *order[MIGRACE_SCENARIO_MAX_ORDER];  /* "A -> B", up to the first NULL */
	const char *expect_tsan;                        /* regressed core, tsan build, or NULL */
	const char *expect_asan;                        /* regressed core, asan build, or NULL */
};

#define MIGRACE_SCENARIO(...) const struct migrace_scenario migrace_scenario = { __VA_ARGS__ }

#endif
