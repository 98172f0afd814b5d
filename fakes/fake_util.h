/*
 * Small helpers shared by the fakes: the absolute deadline of a bounded
 * wait, so that a "wait until" of a fake fails instead of hanging.
 */
#ifndef FAKES_FAKE_UTIL_H
#define FAKES_FAKE_UTIL_H

#include <time.h>

/* CLOCK_REALTIME now + ms, for pthread_cond_timedwait with the default clock. */
static inline struct timespec fake_deadline_after_ms(int ms)
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
