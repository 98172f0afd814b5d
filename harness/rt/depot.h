/*
 * The sanitizer's stack depot, carried from the runs back to the fork server
 * (depot.c): the stacks a run recorded are the server's for the next runs.
 */
#ifndef MIGRACE_DEPOT_H
#define MIGRACE_DEPOT_H

#include <stdbool.h>

/* The server, once before its first fork: finds the depot's functions and
 * maps the shared area. Without them, the others do nothing. */
void depot_setup(void);
bool depot_active(void);
/* The server, before each fork. */
void depot_before_run(void);
/* The run, at its end: the stacks it added, into the shared area. */
void depot_export(void);
/* The server, after the run: those stacks, into its own depot. */
void depot_import(void);

#endif
