/*
 * What the commands share besides the pool: where migrace is, usage errors
 * (a message naming the problem, a pointer to --help, exit 2) and the options
 * every exploring command parses the same way.
 */
#ifndef MIGRACE_OPTS_H
#define MIGRACE_OPTS_H

#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct exec_opts;

extern char root[PATH_MAX];      /* the source tree: build/bin/migrace is under it */
extern char self[PATH_MAX];      /* this migrace, for repro lines */

/* Sets root and self from /proc/self/exe. */
void find_root(void);

/* A usage or input error: the message, a pointer to --help, exit 2. */
void die_usage(const char *cmd, const char *fmt, ...) __attribute__((noreturn, format(printf, 2, 3)));
uint64_t parse_count(const char *cmd, const char *opt, const char *v, uint64_t min, uint64_t max);
double parse_seconds(const char *cmd, const char *v);
void check_strategy(const char *cmd, const char *s);
/* --preempt: "sync" or "mem", else a usage error. */
const char *parse_preempt(const char *cmd, const char *v);
/* --pin: none, auto or a CPU number, else a usage error. */
const char *parse_pin(const char *cmd, const char *v);
void exec_defaults(struct exec_opts *o);
void check_dfs_jobs(const char *cmd, struct exec_opts *o);

/* The long options of exec and run (getopt_long's table and its codes). */
enum { OPT_SEED = 256, OPT_RUNS, OPT_JOBS, OPT_SCRIPT, OPT_SCHEDULE, OPT_TIMEOUT, OPT_MAX_STEPS,
       OPT_CHECK_DET, OPT_KEEP_GOING, OPT_TRACE_ALL, OPT_OUT, OPT_STRATEGY, OPT_ALL, OPT_BUILD,
       OPT_TAP, OPT_REGRESSED, OPT_REAL, OPT_EXPLORE, OPT_EXPLORE_RUNS, OPT_JUNIT, OPT_PREEMPT, OPT_SWITCHES,
       OPT_PIN, OPT_PCT_K, OPT_SPURIOUS, OPT_HELP };
extern const struct option common_opts[];
/* Options every exploring command shares (strategy, seed, runs, jobs,
 * timeout, max-steps, preempt, pin, pct-k) into o; false for any other option. */
bool exec_option(const char *cmd, int c, struct exec_opts *o);

/* The --out directory dir made (with its parents), checked writable and
 * returned absolute (one of four static buffers); a usage error if not. */
const char *out_dir_ready(const char *cmd, const char *dir);

/* Copies a file to stderr (a run's log). */
void print_file(const char *path);
double now_s(void);

#endif
