/*
 * Fault points as scheduling choices. The program's libfiu points (fiu_fail,
 * wrapped at link time: -Wl,--wrap=fiu_fail) are enabled through
 * fiu_enable_external; every hit of a point that matches the run's glob is a
 * decision the runtime draws (a sweep's plan, or the run's seeded PRNG),
 * records as a trace step and, in a replay, takes from the trace.
 *
 * libfiu is invisible to the scheduler and to TSan: while a thread is inside
 * it, the pthread wrappers pass its locks through (rt_in_fiu) and TSan
 * ignores their synchronisation (AnnotateIgnoreSyncBegin/End), so libfiu's
 * rwlocks neither add scheduling points nor a happens-before edge that would
 * hide a race across a fault point. Linked only into programs that call
 * fiu_fail; with no MIGRACE_FAULTS a point is not even looked up.
 */
#define _GNU_SOURCE
#include <errno.h>
#define FIU_ENABLE 1
#include <fiu-control.h>
#include <fiu.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

#define FAULT_MAX_POINTS 128

enum fault_mode {
	FM_OFF,         /* no fault point is a decision (the default) */
	FM_COUNT,       /* every hit is a decision, none fails: the counting run */
	FM_RANDOM,      /* each hit fails with probability ppm / 1e6 */
	FM_PLAN,        /* the hit-th hit of `point` fails (and every later one if persistent) */
};

/* Set by the fork server before the first fork, read-only in the runs. */
static struct {
	enum fault_mode mode;
	char points[256];
	char point[256];
	uint32_t hit;
	bool persistent;
	uint32_t ppm;
} fcfg;

/* Per run (each run is a fresh fork): hits so far of each point, by name.
 * Touched only by the thread holding the baton. */
static struct {
	const char *name;
	uint32_t hits;
} seen[FAULT_MAX_POINTS];
static int nseen;

static __thread uintptr_t hit_pc;     /* the fiu_fail call site, for the trace */
static __thread const char *hit_name; /* its point: libfiu gives the callback the
                                         enabled name ("*"), not the point's */

int __real_fiu_fail(const char *name);

/* TSan's annotations (weak: absent in the asan and plain builds). */
extern void AnnotateIgnoreSyncBegin(const char *file, int line) __attribute__((weak));
extern void AnnotateIgnoreSyncEnd(const char *file, int line) __attribute__((weak));
extern void AnnotateIgnoreReadsBegin(const char *file, int line) __attribute__((weak));
extern void AnnotateIgnoreReadsEnd(const char *file, int line) __attribute__((weak));
extern void AnnotateIgnoreWritesBegin(const char *file, int line) __attribute__((weak));
extern void AnnotateIgnoreWritesEnd(const char *file, int line) __attribute__((weak));

/* TSan must see nothing of libfiu: not its locks (a happens-before edge
 * between two threads passing a fault point would hide a race across it),
 * nor its memory, which those locks protect (its strcmp, malloc and free
 * go through TSan's interceptors). */
static void tsan_blind(bool on)
{
	if (!AnnotateIgnoreSyncBegin)
		return;
	if (on) {
		AnnotateIgnoreSyncBegin(__FILE__, __LINE__);
		AnnotateIgnoreReadsBegin(__FILE__, __LINE__);
		AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
	} else {
		AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
		AnnotateIgnoreReadsEnd(__FILE__, __LINE__);
		AnnotateIgnoreSyncEnd(__FILE__, __LINE__);
	}
}

static uint32_t next_hit(const char *name)
{
	for (int i = 0; i < nseen; i++)
		if (seen[i].name == name || strcmp(seen[i].name, name) == 0)
			return ++seen[i].hits;
	if (nseen == FAULT_MAX_POINTS)
		rt_fail("harness:fault-points", "more than %d distinct fault points in one run", FAULT_MAX_POINTS);
	seen[nseen].name = name;
	seen[nseen].hits = 1;
	return seen[nseen++].hits;
}

/* libfiu's external callback: runs inside fiu_fail, in the thread holding
 * the baton, with libfiu's read lock held; it never hands the baton on. */
static int decide(const char *name, int *failnum, void **failinfo, unsigned *flags)
{
	(void)failnum;
	(void)failinfo;
	(void)flags;
	name = hit_name;
	if (fnmatch(fcfg.points, name, 0) != 0)
		return 0;
	uint32_t hit = next_hit(name);
	bool want = false;
	if (!rt_replaying()) {
		switch (fcfg.mode) {
		case FM_RANDOM:
			want = rt_random_below(1000000) < fcfg.ppm;
			break;
		case FM_PLAN:
			want = strcmp(name, fcfg.point) == 0 &&
			       (hit == fcfg.hit || (fcfg.persistent && hit > fcfg.hit));
			break;
		default:
			break;
		}
	}
	return rt_fault(name, hit, hit_pc, want, fcfg.mode != FM_PLAN);
}

int __wrap_fiu_fail(const char *name)
{
	if (fcfg.mode == FM_OFF || !rt_managed())
		return 0;
	hit_pc = (uintptr_t)__builtin_return_address(0);
	hit_name = name;
	rt_in_fiu = true;
	tsan_blind(true);
	int r = __real_fiu_fail(name);
	tsan_blind(false);
	rt_in_fiu = false;
	return r;
}

static int parse_spec(const char *spec, char *why, size_t len)
{
	if (strcmp(spec, "count") == 0) {
		fcfg.mode = FM_COUNT;
		return 0;
	}
	if (strncmp(spec, "random:", 7) == 0) {
		char *end;
		errno = 0;
		double p = strtod(spec + 7, &end);
		if (errno || end == spec + 7 || *end || !(p >= 0 && p <= 1)) {
			snprintf(why, len, "random:P needs a probability from 0 to 1, as in random:0.01");
			return -1;
		}
		fcfg.mode = FM_RANDOM;
		fcfg.ppm = (uint32_t)(p * 1000000 + 0.5);
		return 0;
	}
	const char *at = strrchr(spec, '@');
	if (!at || at == spec || (size_t)(at - spec) >= sizeof(fcfg.point)) {
		snprintf(why, len, "expected count, random:P, POINT@N or POINT@N+");
		return -1;
	}
	char *end;
	errno = 0;
	unsigned long n = at[1] >= '1' && at[1] <= '9' ? strtoul(at + 1, &end, 10) : 0;
	if (!n || errno || n > UINT32_MAX || (*end && strcmp(end, "+"))) {
		snprintf(why, len, "POINT@N needs a hit number N >= 1 (N+ for that hit and every later one)");
		return -1;
	}
	memcpy(fcfg.point, spec, (size_t)(at - spec));
	fcfg.point[at - spec] = '\0';
	fcfg.hit = (uint32_t)n;
	fcfg.persistent = *end == '+';
	fcfg.mode = FM_PLAN;
	return 0;
}

int rt_faults_setup(const char *spec, const char *points, char *why, size_t len)
{
	if (parse_spec(spec, why, len))
		return -1;
	if (!points || !*points)
		points = "*";
	if (strlen(points) >= sizeof(fcfg.points)) {
		snprintf(why, len, "the glob of fault points is too long");
		return -1;
	}
	strcpy(fcfg.points, points);
	/* one external point for every name ("*" is libfiu's prefix wildcard);
	 * decide() applies the glob. Called once, before any run, in the fork
	 * server's only thread. */
	if (fiu_init(0) || fiu_enable_external("*", 1, NULL, 0, decide)) {
		snprintf(why, len, "libfiu could not enable the fault points");
		fcfg.mode = FM_OFF;
		return -1;
	}
	return 0;
}
