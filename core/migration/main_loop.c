/*
 * The main loop (see main_loop.h): the BQL, and a queue of pending bottom
 * halves that the main thread sleeps on with a condition variable and runs
 * in scheduling order.
 */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/queue.h>
#include <time.h>

#include "main_loop.h"
#include "thread.h"

struct QEMUBH {
	void (*cb)(void *);
	void *opaque;
	const char *name;
	bool oneshot;			/* frees itself after running */
	bool scheduled;			/* on the pending queue; under ml.lock */
	uint64_t seq;			/* when it was scheduled; under ml.lock */
	TAILQ_ENTRY(QEMUBH) link;	/* in ml.pending; under ml.lock */
};

static struct {
	QemuMutex lock;			/* protects pending and seq; after the BQL */
	QemuCond wake;			/* signalled when a BH becomes pending */
	TAILQ_HEAD(, QEMUBH) pending;	/* in scheduling order */
	uint64_t seq;			/* number of schedules so far */
	pthread_t main_thread;		/* written by main_loop_init only */
	bool ready;			/* between main_loop_init and cleanup */
} ml;

static QemuMutex bql;
static _Thread_local bool bql_held;	/* whether this thread holds bql */

void main_loop_init(void)
{
	assert(!ml.ready);
	qemu_mutex_init(&bql);
	qemu_mutex_init(&ml.lock);
	qemu_cond_init(&ml.wake);
	TAILQ_INIT(&ml.pending);
	ml.seq = 0;
	ml.main_thread = pthread_self();
	ml.ready = true;
}

void main_loop_cleanup(void)
{
	QEMUBH *bh;

	assert(qemu_in_main_thread());
	assert(!bql_held);
	while ((bh = TAILQ_FIRST(&ml.pending))) {
		TAILQ_REMOVE(&ml.pending, bh, link);
		bh->scheduled = false;
		if (bh->oneshot)
			free(bh);
	}
	qemu_cond_destroy(&ml.wake);
	qemu_mutex_destroy(&ml.lock);
	qemu_mutex_destroy(&bql);
	ml.ready = false;
}

bool qemu_in_main_thread(void)
{
	return ml.ready && pthread_equal(pthread_self(), ml.main_thread);
}

void bql_lock(void)
{
	if (bql_held) {
		fprintf(stderr, "bql_lock: the BQL is already held by this thread\n");
		abort();
	}
	qemu_mutex_lock(&bql);
	bql_held = true;
}

void bql_unlock(void)
{
	if (!bql_held) {
		fprintf(stderr, "bql_unlock: the BQL is not held by this thread\n");
		abort();
	}
	bql_held = false;
	qemu_mutex_unlock(&bql);
}

bool bql_locked(void)
{
	return bql_held;
}

static QEMUBH *bh_alloc(void (*cb)(void *), void *opaque, const char *name,
			bool oneshot)
{
	QEMUBH *bh = calloc(1, sizeof(*bh));

	if (!bh) {
		fprintf(stderr, "qemu_bh_new: out of memory for BH %s\n",
			name ? name : "(unnamed)");
		abort();
	}
	bh->cb = cb;
	bh->opaque = opaque;
	bh->name = name;
	bh->oneshot = oneshot;
	return bh;
}

QEMUBH *qemu_bh_new(void (*cb)(void *), void *opaque, const char *name)
{
	return bh_alloc(cb, opaque, name, false);
}

void qemu_bh_schedule(QEMUBH *bh)
{
	qemu_mutex_lock(&ml.lock);
	if (!bh->scheduled) {
		bh->scheduled = true;
		bh->seq = ++ml.seq;
		TAILQ_INSERT_TAIL(&ml.pending, bh, link);
		qemu_cond_signal(&ml.wake);
	}
	qemu_mutex_unlock(&ml.lock);
}

/* Takes bh off the pending queue if it is there. Expects ml.lock held. */
static void bh_unschedule_locked(QEMUBH *bh)
{
	if (bh->scheduled) {
		TAILQ_REMOVE(&ml.pending, bh, link);
		bh->scheduled = false;
	}
}

void qemu_bh_cancel(QEMUBH *bh)
{
	qemu_mutex_lock(&ml.lock);
	bh_unschedule_locked(bh);
	qemu_mutex_unlock(&ml.lock);
}

void qemu_bh_delete(QEMUBH *bh)
{
	qemu_mutex_lock(&ml.lock);
	bh_unschedule_locked(bh);
	qemu_mutex_unlock(&ml.lock);
	free(bh);
}

void aio_bh_schedule_oneshot(void (*cb)(void *), void *opaque, const char *name)
{
	qemu_bh_schedule(bh_alloc(cb, opaque, name, true));
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waits on ml.wake until a BH is pending or timeout_ms passes (see
 * main_loop_wait()). Expects ml.lock held, keeps it held on return. If the
 * caller holds the BQL and the wait blocks, the BQL is dropped; returns
 * whether it was, so that the caller retakes it once ml.lock is released
 * (ml.lock comes after the BQL in the lock order).
 */
static bool bh_wait_locked(int timeout_ms)
{
	int64_t deadline = monotonic_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	bool dropped = false;

	if (!TAILQ_EMPTY(&ml.pending) || timeout_ms == 0)
		return false;
	if (bql_held) {
		bql_unlock();
		dropped = true;
	}
	while (TAILQ_EMPTY(&ml.pending)) {
		if (timeout_ms < 0) {
			qemu_cond_wait(&ml.wake, &ml.lock);
			continue;
		}
		int64_t left = deadline - monotonic_ms();
		if (left <= 0 || !qemu_cond_timedwait(&ml.wake, &ml.lock, (int)left))
			break;
	}
	return dropped;
}

/* A popped BH, copied under ml.lock: once popped, the BH may be freed. */
struct bh_call {
	QEMUBH *bh;
	void (*cb)(void *);
	void *opaque;
	bool oneshot;
};

/*
 * Takes the oldest pending BH scheduled no later than limit off the queue
 * into *call; returns false if there is none.
 */
static bool bh_pop(uint64_t limit, struct bh_call *call)
{
	QEMUBH *bh;

	qemu_mutex_lock(&ml.lock);
	bh = TAILQ_FIRST(&ml.pending);
	if (bh && bh->seq <= limit) {
		bh_unschedule_locked(bh);
		*call = (struct bh_call){ bh, bh->cb, bh->opaque, bh->oneshot };
	} else {
		bh = NULL;
	}
	qemu_mutex_unlock(&ml.lock);
	return bh != NULL;
}

int main_loop_wait(int timeout_ms)
{
	bool held = bql_held, dropped;
	struct bh_call call;
	uint64_t limit;
	int ran = 0;

	assert(qemu_in_main_thread());
	qemu_mutex_lock(&ml.lock);
	dropped = bh_wait_locked(timeout_ms);
	limit = ml.seq;	/* BHs scheduled from here on wait for the next call */
	qemu_mutex_unlock(&ml.lock);
	if (dropped)
		bql_lock();

	while (bh_pop(limit, &call)) {
		if (!held)
			bql_lock();
		call.cb(call.opaque);
		if (!held)
			bql_unlock();
		/* a one-shot BH has no other owner: nobody else can free it */
		if (call.oneshot)
			free(call.bh);
		ran++;
	}
	return ran;
}
