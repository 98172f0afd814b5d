/*
 * The floor of the handoff benchmark: two threads pinned to one CPU pass a
 * token through two raw futex words, exactly as the harness's baton does
 * (harness/rt/baton.c), and nothing else. Plain clang, no harness.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static _Atomic uint32_t word_a;   /* 1: thread A may run; A clears it, B sets it */
static _Atomic uint32_t word_b;   /* 1: thread B may run; B clears it, A sets it */
static long round_trips;          /* written before pthread_create, then read-only */

static void futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	syscall(SYS_futex, (uint32_t *)addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

/* baton_give() */
static void give(_Atomic uint32_t *w)
{
	atomic_store_explicit(w, 1, memory_order_release);
	futex(w, FUTEX_WAKE, 1);
}

/* baton_wait() */
static void wait_for(_Atomic uint32_t *w)
{
	while (atomic_exchange_explicit(w, 0, memory_order_acquire) == 0)
		futex(w, FUTEX_WAIT, 0);
}

static void *thread_b(void *arg)
{
	(void)arg;
	for (long i = 0; i < round_trips; i++) {
		wait_for(&word_b);
		give(&word_a);
	}
	return NULL;
}

static long parse_long(const char *s, long min, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || v < min) {
		fprintf(stderr, "futex_pingpong: %s must be a number >= %ld, not '%s'\n", what, min, s);
		exit(2);
	}
	return v;
}

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* futex_pingpong [ROUND_TRIPS [CPU]]: a round trip is two handoffs. */
int main(int argc, char **argv)
{
	pthread_t b;
	cpu_set_t set;

	round_trips = argc > 1 ? parse_long(argv[1], 1, "ROUND_TRIPS") : 200000;
	int cpu = argc > 2 ? (int)parse_long(argv[2], 0, "CPU") : sched_getcpu();
	if (cpu < 0) {
		perror("futex_pingpong: sched_getcpu");
		return 1;
	}

	/* Pin the main thread (A) before creating B, which inherits the mask:
	 * both threads then share the one CPU, like the threads of a run. */
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "futex_pingpong: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
		return 1;
	}
	if (pthread_create(&b, NULL, thread_b, NULL)) {
		fprintf(stderr, "futex_pingpong: pthread_create failed\n");
		return 1;
	}

	double t0 = now_ns();
	for (long i = 0; i < round_trips; i++) {
		give(&word_b);
		wait_for(&word_a);
	}
	double t1 = now_ns();
	pthread_join(b, NULL);

	long handoffs = 2 * round_trips;
	printf("futex-pingpong handoffs=%ld ns_per_handoff=%.1f\n", handoffs, (t1 - t0) / (double)handoffs);
	return 0;
}
