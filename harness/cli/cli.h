/*
 * What the command line's files share (the .c files of harness/cli): the worker pool that
 * runs a program built with migrace-cc over --jobs fork servers, option
 * parsing, the race table and scenario descriptors. migrace.c has main and
 * the commands list, run, exec, replay and stress; faults.c the fault sweep;
 * hunt.c the unscripted search; reproduce.c and minimize.c the commands of
 * their names.
 */
#ifndef MIGRACE_CLI_H
#define MIGRACE_CLI_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_JOBS 64

extern char root[PATH_MAX];      /* the source tree: build/bin/migrace is under it */
extern char self[PATH_MAX];      /* this migrace, for repro lines */

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
};

/* How a program is explored (MIGRACE_* variables for its fork servers). */
struct exec_opts {
	const char *strategy;
	uint64_t seed, runs;
	unsigned jobs;
	double timeout;
	uint64_t max_steps;
	const char *script, *schedule, *out, *name;
	const char *preempt;         /* MIGRACE_PREEMPT, or NULL: the program's default */
	uint64_t shard, nshards;     /* run indices i with i % nshards == shard */
	bool check_det, keep_going, trace_all, quiet;
	bool trace_new;              /* one trace per signature and worker */
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
};

/* The races (scenarios/scenarios.def): each built for tsan and asan against
 * the real core and against its regressed core; the expectations come from
 * the program's own descriptor (migrace/scenario.h). */
struct race {
	const char *name, *origin, *summary;
};
extern const struct race races[];
extern const size_t nraces;

/* A usage or input error: the message, a pointer to --help, exit 2. */
void die_usage(const char *cmd, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
uint64_t parse_count(const char *cmd, const char *opt, const char *v, uint64_t min, uint64_t max);
double parse_seconds(const char *cmd, const char *v);
void check_strategy(const char *cmd, const char *s);
void exec_defaults(struct exec_opts *o);
void check_dfs_jobs(const char *cmd, struct exec_opts *o);
/* --preempt: "sync" or "mem", else a usage error. */
const char *parse_preempt(const char *cmd, const char *v);
/* Worker j's run indices: worker_first(o, j) + k * worker_stride(o). */
uint64_t worker_first(const struct exec_opts *o, unsigned j);
uint64_t worker_stride(const struct exec_opts *o);

/* Runs argv (a migrace-cc program) under o over o->jobs workers and
 * collects every run's outcome. 0, or -1 when workers cannot start. */
int pool_run(const struct exec_opts *o, char *const argv[], struct outcome *out);
/* Counts sig in out->sigs (a histogram of distinct signatures; beyond 16 of
 * them, in out->other_sigs). */
void count_signature(struct outcome *out, const char *sig);
void print_file(const char *path);
/* Replays a trace with this migrace: true if it gave its recorded signature. */
bool replay_ok(const char *trace);
/* Replays a trace once with this migrace, its output captured: 0 it gave its
 * recorded signature, 1 another (either way the signature in sig, and in
 * detail, when not NULL, the runtime's detail line or a warning, "" none), 2 it
 * could not be replayed (the message in sig). */
int replay_run(const char *trace, char *sig, size_t len, char *detail, size_t dlen);
/* Whether prog is a program built with migrace-cc (it has the fork server),
 * checked before running a program some file names. */
bool has_fork_server(const char *prog);
double now_s(void);

/* migrace faults (faults.c) */
int cmd_faults(int argc, char **argv);
extern const char faults_help[];

/* migrace reproduce (reproduce.c), migrace minimize (minimize.c) */
int cmd_reproduce(int argc, char **argv);
extern const char reproduce_help[];
int cmd_minimize(int argc, char **argv);
extern const char minimize_help[];

/* migrace hunt (hunt.c) */
int cmd_hunt(int argc, char **argv);
extern const char hunt_help[];

const struct race *find_race(const char *name);
/* build/<build>/scenarios/<name>[.regressed] under root */
void race_program(const struct race *r, const char *build, bool regressed, char *out, size_t len);
/* The program's descriptor: expect[0] tsan, expect[1] asan ("" when none). */
int describe(const char *prog, char expect[2][160]);

#endif
