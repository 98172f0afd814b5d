/*
 * Spin loops under sync points only (spin.c): the fork server watches a
 * long run and ends it as `spin@file:line` when the thread holding the baton
 * runs with no scheduling decision while another thread could run.
 */
#ifndef MIGRACE_SPIN_H
#define MIGRACE_SPIN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "rt.h"

#define SPIN_TICK_MS 100         /* how often the server looks at a run that lasts */

/* What the server knows of the run it watches. */
struct spin_watch {
	uint32_t steps;          /* the step counter at the last look */
	bool probed;             /* the scheduler's state was read since it last moved */
	int thread;              /* the running thread, a spin suspect; -1 none */
	pid_t ktid;              /* its kernel thread id */
	uint64_t cpu0;           /* its CPU time (ns) when it became a suspect */
	struct snap snap;        /* the state read then */
};

/* In the fork server, before the first fork: installs the sampling handler
 * (which the runs inherit) and sets the CPU time after which a thread that
 * makes no decision while others could run is a spin (0: never). */
void spin_setup(struct rt_shared *shm, unsigned spin_ms);
void spin_watch_begin(struct spin_watch *w, const struct rt_shared *shm);
/* Called every SPIN_TICK_MS while the run lasts; true when it spins: the
 * running thread's pc has then been sampled into shm (spin_pc), its state
 * into shm's snapshot, and the run can be killed. */
bool spin_watch_tick(struct spin_watch *w, pid_t pid, struct rt_shared *shm);
/* After a spin: the run's outcome `spin@file:line` and the detail, into
 * shm, from the samples (exe symbolizes them; this allocates: call it in a
 * child of the server). */
void spin_verdict(const char *exe, struct rt_shared *shm);

#endif
