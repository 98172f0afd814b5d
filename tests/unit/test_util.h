/*
 * Small helpers shared by the unit tests: absolute deadlines for the timed
 * waits the tests use so that a broken behaviour fails instead of hanging.
 */
#ifndef MIGRACE_TEST_UTIL_H
#define MIGRACE_TEST_UTIL_H

#include <time.h>

/* CLOCK_REALTIME now + ms, for pthread_cond_timedwait with the default clock. */
static inline struct timespec deadline_after_ms(int ms)
{
	struct timespec d;

	clock_gettime(CLOCK_REALTIME, &d);
	d.tv_sec += ms / 1000;
	d.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (d.tv_nsec >= 1000000000L) {
		d.tv_sec++;
		d.tv_nsec -= 1000000000L;
	}
	return d;
}

#endif
