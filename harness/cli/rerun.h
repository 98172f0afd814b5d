/*
 * Running a trace again from a command (minimize, reproduce, run, hunt): a
 * replay with its output captured and its verdict read, and the check that
 * a file names a program built with migrace-cc before it is run.
 */
#ifndef MIGRACE_RERUN_H
#define MIGRACE_RERUN_H

#include <stdbool.h>
#include <stddef.h>

/* Replays a trace once with this migrace, its output captured: 0 it gave its
 * recorded signature, 1 another (either way the signature in sig, and in
 * detail, when not NULL, the runtime's detail line or a warning, "" none), 2 it
 * could not be replayed (the message in sig). */
int replay_run(const char *trace, char *sig, size_t len, char *detail, size_t dlen);
/* Replays a trace with this migrace: true if it gave its recorded signature. */
bool replay_ok(const char *trace);
/* Whether prog is a program built with migrace-cc (it has the fork server),
 * checked before running a program some file names. */
bool has_fork_server(const char *prog);

/* A usage error (exit 2) unless prog (a path, or a name on PATH) can be run
 * and was built with migrace-cc: checked before anything runs it. With abs
 * (PATH_MAX bytes), the absolute path of the program found goes there. */
void check_program(const char *cmd, const char *prog, char *abs);

struct trace;
/* Reads and parses the trace file path: 0, or -1 with the reason in err (a
 * directory, a file that cannot be opened, "line N: ..." of the parser). */
int read_trace_file(const char *path, struct trace *t, char *err, size_t errlen);

#endif
