/*
 * What the fork server does with the sanitizer runtime's internals (sanint.c):
 * the stacks a run recorded become the server's for the next runs, and
 * TSan's idle background thread is not started in every run.
 */
#ifndef MIGRACE_SANINT_H
#define MIGRACE_SANINT_H

/* The server, once before its first fork: finds the runtime's functions and
 * variables and maps the shared area. Without them, the others do nothing. */
void sanint_setup(void);
/* The server, before its first fork: the runs will not start TSan's
 * background thread (unless TSAN_OPTIONS asks for what it does). */
void sanint_no_background_thread(void);
/* The server, before each fork. */
void depot_before_run(void);
/* The run, at its end: the stacks it added, into the shared area. */
void depot_export(void);
/* The server, after the run: those stacks, into its own depot. */
void depot_import(void);

#endif
