/*
 * Trace files: a versioned text header and one line per scheduling decision.
 * Written by the fork server, read back by `migrace replay` and the tests.
 */
#ifndef MIGRACE_TRACE_H
#define MIGRACE_TRACE_H

#include <stdint.h>
#include <stdio.h>

#include "steplog.h"

#define TRACE_VERSION 1
#define TRACE_MAX_ARGS 256

struct trace {
	int version;
	char program[4096];
	int nargs;
	char *args[TRACE_MAX_ARGS];      /* owned */
	char cwd[4096];
	char build[32];
	char strategy[32];
	uint64_t seed;
	uint64_t pct_k;
	char code_version[64];
	char outcome[160];
	char faults[300];                /* the run's fault decisions ("" none), as MIGRACE_FAULTS */
	char fault_points[256];          /* the points that were decisions, as MIGRACE_FAULT_POINTS */
	char preempt[8];                 /* "mem": memory-access points were on; "" or "sync": not */
	char mem_points[8];              /* mem: "all" (every non-stack access; also "" in older
	                                    traces) or "shared" (the instructions of mem_pcs) */
	uint64_t *mem_pcs;               /* owned: shared: the point instructions, offsets */
	uint32_t nmem_pcs;
	bool spurious;                   /* spurious wake-ups were decisions (MIGRACE_SPURIOUS=1) */
	bool fork_here;                  /* the run began at migrace_fork_here(), the setup before it
	                                    run once by the fork server */
	uint32_t max_steps;              /* the run's step limit (0: not recorded) */
	char stdin_file[256];            /* the run's standard input, a file beside the trace ("" none) */
	uint32_t nsteps;
	struct step_rec *steps;          /* owned */
	char **names;                    /* owned sync point names, one per step or NULL */
	char **locs;                     /* owned: each step's location after " @ " or NULL */
	uint64_t **wide;                 /* owned enabled_hi of the steps, one per step or NULL */
};

/* Writes t; locs[i] (may be NULL) is a readable location for step i. */
int trace_write(FILE *f, const struct trace *t, const char *const *locs);
/* Parses a trace. On error returns -1 with "line N: reason" in err. */
int trace_parse(FILE *f, struct trace *t, char *err, size_t errlen);
void trace_free(struct trace *t);
/* mkdir -p for the directory traces go to: 0, or -1 with errno. */
int trace_make_dirs(const char *path);

/* Compact schedule for bug reports: the chosen thread of every step,
 * run-length encoded: "0*5 1*3 0". */
int schedule_format(const struct step_rec *steps, uint32_t n, char *buf, size_t len);
/* Parses it back into choices; -1 with a reason in err. */
int schedule_parse(const char *text, uint16_t *out, uint32_t max, uint32_t *n, char *err, size_t errlen);

#endif
