/*
 * The main loop: the big lock (BQL) and bottom halves (BHs), callbacks that
 * any thread may schedule and that the main thread runs, in scheduling
 * order, with the BQL held.
 */
#ifndef CORE_MAIN_LOOP_H
#define CORE_MAIN_LOOP_H

#include <stdbool.h>

typedef struct QEMUBH QEMUBH;

/*
 * Sets up the main loop and the BQL, and makes the calling thread the main
 * thread. Call once before any other function here, before other threads
 * exist.
 */
void main_loop_init(void);

/*
 * Undoes main_loop_init(). Call from the main thread, without the BQL, once
 * no other thread uses the main loop. Pending one-shot BHs are dropped
 * unrun and freed; BHs from qemu_bh_new() belong to their owners, who
 * delete them before this call.
 */
void main_loop_cleanup(void);

/* True in the thread that called main_loop_init(). */
bool qemu_in_main_thread(void);

/*
 * The big lock. Not recursive: bql_lock() with the BQL held, or bql_unlock()
 * without it, abort. Lock order: the BQL before any other core lock.
 */
void bql_lock(void);
void bql_unlock(void);
/* Whether the calling thread holds the BQL. */
bool bql_locked(void);

/*
 * Creates an unscheduled BH that runs cb(opaque) in the main thread; name
 * is for debugging and must outlive the BH. Free it with qemu_bh_delete().
 */
QEMUBH *qemu_bh_new(void (*cb)(void *), void *opaque, const char *name);

/*
 * Makes bh pending and wakes the main loop. Callable from any thread, with
 * or without the BQL. Scheduling a BH that is already pending does nothing:
 * it still runs once. A BH scheduled from its own callback runs again in a
 * later main_loop_wait().
 */
void qemu_bh_schedule(QEMUBH *bh);

/* Makes bh not pending; a callback already running is not stopped. */
void qemu_bh_cancel(QEMUBH *bh);

/*
 * Cancels bh if pending and frees it. Safe from bh's own callback; from any
 * other thread, the caller must know that the callback is not running.
 */
void qemu_bh_delete(QEMUBH *bh);

/* Schedules a BH that runs cb(opaque) once and frees itself. */
void aio_bh_schedule_oneshot(void (*cb)(void *), void *opaque, const char *name);

/*
 * One iteration of the main loop, for the main thread only. Waits until a
 * BH is pending or timeout_ms milliseconds pass (timeout_ms < 0: no limit;
 * 0: no wait), then runs every BH that was pending when the wait ended, in
 * scheduling order, and returns how many ran. Each callback runs with the
 * BQL held: if the caller holds it, it is dropped while waiting and held
 * again before the callbacks; if not, it is taken around each callback.
 */
int main_loop_wait(int timeout_ms);

#endif
