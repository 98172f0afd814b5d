/*
 * File descriptors as scheduling decisions (fd.c): what the scheduler asks
 * of the threads waiting on descriptors.
 */
#ifndef MIGRACE_FD_H
#define MIGRACE_FD_H

#include <stdbool.h>
#include <stddef.h>

#include "model.h"

/* Threads waiting on a descriptor now; the scheduler polls only while > 0. */
extern int fd_waiting;
/* Marks each waiting thread ready or not (a zero-timeout poll). */
void fd_refresh(struct model *m);
/* No thread can run: if some wait on a descriptor the outside may make
 * ready, waits for one really, enables it (its step is fd-external) and
 * returns true; false if none does. */
bool fd_wait_outside(struct model *m);
/* What a thread waiting in an fd call waits for ("reads fd 5 (pipe, ...)");
 * *other: the thread that used the other end last, or -1. */
int fd_describe(const struct op *op, char *buf, size_t len, int *other);

#endif
