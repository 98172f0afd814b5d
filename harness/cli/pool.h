/*
 * The worker pool: runs a program built with migrace-cc over --jobs fork
 * servers and collects every run's outcome. Every exploring command (exec,
 * run, hunt, faults, reproduce, minimize) uses it; it knows no command.
 */
#ifndef MIGRACE_POOL_H
#define MIGRACE_POOL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MAX_JOBS 64

/* Optional callbacks of pool_run (hunt): every run as it is reported (j the
 * worker), every note of a worker, and a tick every tick_ms and after every
 * batch of reports; a tick returning true stops the workers (SIGTERM: each
 * ends its current run unreported and says "done"). */
struct pool_hooks {
	void *ctx;
	void (*run)(void *ctx, unsigned j, uint64_t index, uint64_t seed, const char *sig, const char *trace);
	void (*note)(void *ctx, const char *text);
	bool (*tick)(void *ctx);
	int tick_ms;
	bool interrupts;             /* Ctrl-C and SIGTERM during pool_run stop the
				      * workers like a tick; out->interrupted says which */
};

/* How a program is explored (MIGRACE_* variables for its fork servers). */
struct exec_opts {
	const char *strategy;
	uint64_t seed, runs;
	unsigned jobs;
	double timeout;
	uint64_t max_steps;
	const char *script, *schedule, *out, *name;
	const char *switches;        /* MIGRACE_SWITCHES: the switches strategy's list, or NULL: none */
	const char *preempt;         /* MIGRACE_PREEMPT, or NULL: the program's default */
	uint64_t shard, nshards;     /* run indices i with i % nshards == shard */
	bool check_det, keep_going, trace_all, quiet;
	bool trace_new;              /* one trace per signature and worker */
	const char *pin;             /* MIGRACE_PIN: none | auto | CPU, or NULL: the default (none) */
	uint64_t pct_k;              /* MIGRACE_PCT_K, or 0: estimated by each fork server */
	const char *stdin_file;      /* MIGRACE_STDIN: every run's standard input, or NULL */
	bool spurious;               /* MIGRACE_SPURIOUS=1: spurious wake-ups are decisions */
	bool resume;                 /* guided: keep and load the corpus under out (else cleared) */
	uint64_t base;               /* run indices start here (a resumed hunt goes on after its last) */
	const struct pool_hooks *hooks;
};

/* What the runs of a pool_run gave. */
struct outcome {
	uint64_t runs, failures;
	bool have_first;
	uint64_t first_index, first_seed;
	char first_sig[160], first_trace[PATH_MAX];
	bool config_error, lost_worker;
	struct { char sig[160]; uint64_t count; } sigs[16];   /* distinct failure signatures */
	int nsigs;
	uint64_t other_sigs;         /* runs whose signature came after the 16th distinct one */
	uint64_t pct_k;              /* the k a PCT fork server used ("pct-k K"), 0 none */
	int interrupted;             /* the signal that stopped the runs (hooks->interrupts), 0 none */
};

/* Runs argv (a migrace-cc program) under o over o->jobs workers and
 * collects every run's outcome. 0, or -1 when workers cannot start. */
int pool_run(const struct exec_opts *o, char *const argv[], struct outcome *out);
/* The signal pool_run has caught so far (hooks->interrupts), 0 none: what a
 * tick reads to say why it stops. */
int pool_interrupt(void);
/* Counts sig in out->sigs (a histogram of distinct signatures; beyond 16 of
 * them, in out->other_sigs). */
void count_signature(struct outcome *out, const char *sig);
/* Worker j's run indices: worker_first(o, j) + k * worker_stride(o). */
uint64_t worker_first(const struct exec_opts *o, unsigned j);
uint64_t worker_stride(const struct exec_opts *o);

/* argv as a shell would need it typed (words quoted where needed). */
void pool_put_command(FILE *f, char *const *argv);
/* The line that reruns one seeded schedule of argv under o, with absolute
 * paths: "SELF exec --strategy S --seed N --runs 1 [--pct-k K] [--preempt P] -- PROG ARGS". */
void pool_seed_repro(FILE *f, const struct exec_opts *o, uint64_t seed, uint64_t pct_k, char *const argv[]);

#endif
