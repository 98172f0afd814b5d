/*
 * A spin-wait with no call in its loop. The publisher hands a value to the
 * waiter through two atomic words, the value and a ready flag; the waiter
 * spins on the flag, then reads the value. The bug: the publisher sets the
 * flag before the value (argv[1] absent or "bug"), so a waiter that runs
 * between the two stores sees the flag and the old value. "ok" (the correct
 * twin) stores the value first. Atomics, so that ThreadSanitizer reports no
 * race: the bug is an order, found only by a preemption between the
 * publisher's stores, which memory points can take (--preempt mem).
 *
 * With sync points only, the waiter spins with the baton while the
 * publisher could run: the run is a spin (`spin@spin_flag.c:<line of the
 * loop>`), not a wall-clock hang. "call": the bug, with a call into the C
 * library in the loop (getppid, a system call the runtime does not see):
 * the spin is at the call's line.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static atomic_int ready, value;
static int ok, call;

static void *waiter(void *arg)
{
	(void)arg;
	while (!atomic_load_explicit(&ready, memory_order_acquire))
		if (call)
			getppid();
	int v = atomic_load_explicit(&value, memory_order_relaxed);
	assert(v == 42);
	return NULL;
}

static void *publisher(void *arg)
{
	(void)arg;
	if (ok) {
		atomic_store_explicit(&value, 42, memory_order_relaxed);
		atomic_store_explicit(&ready, 1, memory_order_release);
	} else {
		atomic_store_explicit(&ready, 1, memory_order_release);
		atomic_store_explicit(&value, 42, memory_order_relaxed);
	}
	return NULL;
}

/* "far": the bug, with 63 threads started and joined first, so that the
 * waiter is T64 and the publisher T65: a spin is seen above T63 too. */
static void *nothing(void *arg)
{
	return arg;
}

int main(int argc, char **argv)
{
	pthread_t w, p;
	ok = argc > 1 && strcmp(argv[1], "ok") == 0;
	call = argc > 1 && strcmp(argv[1], "call") == 0;
	for (int i = 0; argc > 1 && strcmp(argv[1], "far") == 0 && i < 63; i++) {
		pthread_t t;
		pthread_create(&t, NULL, nothing, NULL);
		pthread_join(t, NULL);
	}
	pthread_create(&w, NULL, waiter, NULL);
	pthread_create(&p, NULL, publisher, NULL);
	pthread_join(w, NULL);
	pthread_join(p, NULL);
	printf("value %d\n", atomic_load(&value));
	return 0;
}
