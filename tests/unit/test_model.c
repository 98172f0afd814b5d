/*
 * Unit tests of the scheduler model (harness/rt/model.c): enabledness and
 * effects of every operation, virtual time, sync-point constraints, wait-for
 * cycles and the object table. The model is driven directly, without threads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "model.h"

/* struct model is several hundred KiB: never on the stack */
static struct model m;

/* Objects are identified by address only; these give distinct addresses. */
static uint64_t addrs[16];

/* Resets the model with n started threads, all at no scheduling point. */
static void reset(int n)
{
	model_init(&m);
	for (int i = 0; i < n; i++) {
		assert_int_equal(model_add_thread(&m), i);
		assert_int_equal(m.threads[i].pending.kind, OP_START);
		assert_true(model_enabled(&m, i));
		struct op_result r = model_exec(&m, i);
		assert_int_equal(r.err, 0);
		assert_int_equal(m.threads[i].pending.kind, OP_NONE);
	}
}

static struct mobj *mutex(int i, enum mutex_type type)
{
	struct mobj *o = model_obj(&m, &addrs[i], OBJ_MUTEX);
	assert_non_null(o);
	o->type = type;
	return o;
}

static struct mobj *obj(int i, enum obj_kind kind)
{
	struct mobj *o = model_obj(&m, &addrs[i], kind);
	assert_non_null(o);
	return o;
}

/* Sets thread t's pending operation. */
static void set(int t, enum op_kind kind, struct mobj *o)
{
	m.threads[t].pending = (struct op){ .kind = kind, .obj = o, .deadline = MODEL_NO_DEADLINE };
}

static void set_try(int t, enum op_kind kind, struct mobj *o)
{
	set(t, kind, o);
	m.threads[t].pending.try = true;
}

static void set_timed(int t, enum op_kind kind, struct mobj *o, int64_t deadline)
{
	set(t, kind, o);
	m.threads[t].pending.deadline = deadline;
}

static void set_wait(int t, struct mobj *cv, struct mobj *mx, int64_t deadline)
{
	set_timed(t, OP_COND_WAIT, cv, deadline);
	m.threads[t].pending.obj2 = mx;
}

static void set_join(int t, int target)
{
	set(t, OP_JOIN, NULL);
	m.threads[t].pending.obj_tid = target;
}

static void set_sync(int t, const char *name)
{
	set(t, OP_SYNC, NULL);
	m.threads[t].pending.name = name;
}

/* Executes t's pending operation, which must be enabled. */
static struct op_result run(int t)
{
	assert_true(model_enabled(&m, t));
	return model_exec(&m, t);
}

/* Executes t's pending operation and expects it to succeed. */
static void run_ok(int t)
{
	struct op_result r = run(t);
	assert_int_equal(r.err, 0);
	assert_null(r.misuse);
}

static void do_op(int t, enum op_kind kind, struct mobj *o)
{
	set(t, kind, o);
	run_ok(t);
}

/* t takes mx and then waits on cv (which releases mx). */
static void lock_and_wait(int t, struct mobj *cv, struct mobj *mx, int64_t deadline)
{
	do_op(t, OP_LOCK, mx);
	set_wait(t, cv, mx, deadline);
	run_ok(t);
	assert_int_equal(m.threads[t].pending.kind, OP_COND_REACQ);
}

/* ---- threads ------------------------------------------------------------ */

static void test_threads_start_and_exit(void **state)
{
	model_init(&m);
	assert_int_equal(model_add_thread(&m), 0);
	assert_int_equal(model_add_thread(&m), 1);
	assert_int_equal(m.threads[1].id, 1);
	assert_int_equal(m.threads[1].status, TS_RUNNABLE);
	assert_int_equal(m.threads[0].pending.kind, OP_START);
	assert_int_equal(model_enabled_mask(&m), 0x3);

	run_ok(0);
	assert_int_equal(m.threads[0].pending.kind, OP_NONE);
	assert_false(model_enabled(&m, 0));
	assert_int_equal(model_enabled_mask(&m), 0x2);

	set(1, OP_EXIT, NULL);
	run_ok(1);
	assert_int_equal(m.threads[1].status, TS_FINISHED);
	assert_false(model_enabled(&m, 1));
	/* a finished thread is never enabled, whatever its pending op says */
	set(1, OP_YIELD, NULL);
	assert_false(model_enabled(&m, 1));
}

static void test_threads_limit(void **state)
{
	model_init(&m);
	for (int i = 0; i < MODEL_MAX_THREADS; i++)
		assert_int_equal(model_add_thread(&m), i);
	assert_int_equal(model_add_thread(&m), -1);
	assert_int_equal(m.nthreads, MODEL_MAX_THREADS);
	assert_int_equal(model_enabled_mask(&m), UINT64_MAX);
	struct tset e;
	model_enabled_set(&m, &e);
	assert_int_equal(tset_count(&e), MODEL_MAX_THREADS);
	m.threads[700].status = TS_FINISHED;
	model_enabled_set(&m, &e);
	assert_false(tset_has(&e, 700));
	assert_int_equal(tset_next(&e, 699), 701);
	assert_int_equal(tset_count(&e), MODEL_MAX_THREADS - 1);
}

static void test_exec_clears_pending(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);
	set_timed(0, OP_LOCK, mx, 5000);
	m.threads[0].pending.try = true;
	run_ok(0);
	const struct op *op = &m.threads[0].pending;
	assert_int_equal(op->kind, OP_NONE);
	assert_null(op->obj);
	assert_null(op->obj2);
	assert_false(op->try);
	assert_true(op->deadline == MODEL_NO_DEADLINE);
}

static void test_op_names(void **state)
{
	for (int k = 0; k < OP_KIND_COUNT; k++) {
		const char *name = op_kind_name((enum op_kind)k);
		assert_non_null(name);
		assert_string_not_equal(name, "?");
		assert_int_equal(op_kind_from_name(name), k);
	}
	assert_string_equal(op_kind_name(OP_LOCK), "lock");
	assert_string_equal(op_kind_name(OP_COND_REACQ), "cond-wake");
	assert_string_equal(op_kind_name(OP_KIND_COUNT), "?");
	assert_int_equal(op_kind_from_name("frobnicate"), -1);
	assert_int_equal(obj_kind_letter(OBJ_MUTEX), 'm');
	assert_int_equal(obj_kind_letter(OBJ_COND), 'c');
	assert_int_equal(obj_kind_letter(OBJ_SEM), 's');
	assert_int_equal(obj_kind_letter(OBJ_RWLOCK), 'r');
	assert_int_equal(obj_kind_letter(OBJ_ONCE), 'o');
	assert_int_equal(obj_kind_letter(OBJ_KIND_COUNT), '?');
}

/* ---- mutexes ------------------------------------------------------------ */

static void test_mutex_lock_unlock(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);
	assert_int_equal(mx->owner, -1);

	do_op(0, OP_LOCK, mx);
	assert_int_equal(mx->owner, 0);
	assert_int_equal(mx->count, 1);

	set(1, OP_LOCK, mx);
	assert_false(model_enabled(&m, 1));
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_int_equal(model_waits_for(&m, 1), 0);

	do_op(0, OP_UNLOCK, mx);
	assert_int_equal(mx->owner, -1);
	assert_true(model_enabled(&m, 1));
	run_ok(1);
	assert_int_equal(mx->owner, 1);
}

/* Each thread's held list (the learning runs' locksets): mutexes and rwlocks
 * held for writing, as they are taken and given back, a recursive one once,
 * a cond wait's mutex out while it waits, at most MODEL_HELD of them. */
static void held_is(int t, int n, const struct mobj *a, const struct mobj *b)
{
	assert_int_equal(m.threads[t].nheld, n);
	const struct mobj *want[2] = { a, b };
	for (int i = 0; i < n && i < 2; i++) {
		bool found = false;
		for (int j = 0; j < m.threads[t].nheld; j++)
			found |= m.threads[t].held[j] == (uint32_t)want[i]->id;
		assert_true(found);
	}
}

static void test_held_locks(void **state)
{
	reset(2);
	struct mobj *a = mutex(0, MUTEX_NORMAL), *r = mutex(1, MUTEX_RECURSIVE);
	struct mobj *cv = obj(2, OBJ_COND), *rw = obj(3, OBJ_RWLOCK);

	held_is(0, 0, NULL, NULL);
	do_op(0, OP_LOCK, a);
	do_op(0, OP_LOCK, r);
	do_op(0, OP_LOCK, r);
	held_is(0, 2, a, r);
	held_is(1, 0, NULL, NULL);
	do_op(0, OP_UNLOCK, r);
	held_is(0, 2, a, r);                 /* still held once */
	do_op(0, OP_UNLOCK, r);
	held_is(0, 1, a, NULL);
	set_try(1, OP_LOCK, a);              /* a failed trylock holds nothing */
	assert_int_equal(run(1).err, EBUSY);
	held_is(1, 0, NULL, NULL);
	set_wait(0, cv, a, MODEL_NO_DEADLINE);
	run_ok(0);
	held_is(0, 0, NULL, NULL);           /* waiting: the mutex is out */
	do_op(1, OP_WRLOCK, rw);
	held_is(1, 1, rw, NULL);
	do_op(1, OP_SIGNAL, cv);
	do_op(1, OP_RWUNLOCK, rw);
	held_is(1, 0, NULL, NULL);
	run_ok(0);                           /* woken: it has the mutex again */
	held_is(0, 1, a, NULL);
	do_op(0, OP_UNLOCK, a);
	do_op(0, OP_RDLOCK, rw);             /* read-held: no lock for a lockset */
	held_is(0, 0, NULL, NULL);
	do_op(0, OP_RWUNLOCK, rw);
	for (int i = 0; i < MODEL_HELD + 2; i++)
		do_op(1, OP_LOCK, mutex(4 + i, MUTEX_NORMAL));
	assert_int_equal(m.threads[1].nheld, MODEL_HELD);
	for (int i = 0; i < MODEL_HELD + 2; i++)
		do_op(1, OP_UNLOCK, mutex(4 + i, MUTEX_NORMAL));
	held_is(1, 0, NULL, NULL);
}

static void test_mutex_normal_relock_self_deadlock(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);
	do_op(0, OP_LOCK, mx);
	set(0, OP_LOCK, mx);
	assert_false(model_enabled(&m, 0));
	assert_int_equal(model_waits_for(&m, 0), 0);

	int cycle[MODEL_MAX_THREADS];
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 1);
	assert_int_equal(cycle[0], 0);
}

static void test_mutex_trylock(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);

	set_try(1, OP_LOCK, mx);
	run_ok(1);                          /* free: taken */
	assert_int_equal(mx->owner, 1);

	set_try(0, OP_LOCK, mx);
	struct op_result r = run(0);        /* held: enabled, fails at once */
	assert_int_equal(r.err, EBUSY);
	assert_null(r.misuse);
	assert_int_equal(mx->owner, 1);
	assert_int_equal(mx->count, 1);

	set_try(1, OP_LOCK, mx);            /* normal mutex, by the owner */
	r = run(1);
	assert_int_equal(r.err, EBUSY);
	assert_null(r.misuse);
	assert_int_equal(mx->count, 1);
}

static void test_mutex_recursive(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_RECURSIVE);

	for (int i = 1; i <= 3; i++) {
		do_op(0, OP_LOCK, mx);
		assert_int_equal(mx->owner, 0);
		assert_int_equal(mx->count, i);
	}
	set_try(0, OP_LOCK, mx);
	run_ok(0);
	assert_int_equal(mx->count, 4);

	set(1, OP_LOCK, mx);
	assert_false(model_enabled(&m, 1));
	for (int i = 0; i < 3; i++) {
		do_op(0, OP_UNLOCK, mx);
		assert_int_equal(mx->owner, 0);
		assert_false(model_enabled(&m, 1));
	}
	do_op(0, OP_UNLOCK, mx);
	assert_int_equal(mx->owner, -1);
	assert_true(model_enabled(&m, 1));
}

static void test_mutex_errorcheck_relock(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_ERRORCHECK);
	do_op(0, OP_LOCK, mx);

	set(0, OP_LOCK, mx);
	struct op_result r = run(0);        /* enabled: it returns, not blocks */
	assert_int_equal(r.err, EDEADLK);
	assert_non_null(r.misuse);
	assert_string_equal(r.misuse, "relock-errorcheck");
	assert_int_equal(mx->owner, 0);
	assert_int_equal(mx->count, 1);

	/* timedlock behaves like lock here (glibc: EDEADLK) */
	set_timed(0, OP_LOCK, mx, 1000);
	r = run(0);
	assert_int_equal(r.err, EDEADLK);
	assert_int_equal(mx->count, 1);
}

/*
 * Regression test (model.c exec_lock): the bug described here is fixed. pthread_mutex_trylock() on an errorcheck mutex
 * that the caller already holds returns EBUSY (POSIX: trylock fails with
 * EBUSY when the mutex is locked "by any thread, including the current
 * thread"; glibc does the same). The model returns EDEADLK with misuse
 * "relock-errorcheck", so the runtime reports a correct program as misuse.
 * Expected {EBUSY, NULL}, actual {EDEADLK, "relock-errorcheck"}.
 */
static void test_mutex_errorcheck_trylock_by_owner(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_ERRORCHECK);
	do_op(0, OP_LOCK, mx);

	set_try(0, OP_LOCK, mx);
	struct op_result r = run(0);
	assert_null(r.misuse);
	assert_int_equal(r.err, EBUSY);
	assert_int_equal(mx->count, 1);
}

static void test_mutex_unlock_not_owner(void **state)
{
	static const enum mutex_type types[] = { MUTEX_NORMAL, MUTEX_RECURSIVE, MUTEX_ERRORCHECK };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		reset(2);
		struct mobj *mx = mutex(0, types[i]);
		do_op(0, OP_LOCK, mx);

		set(1, OP_UNLOCK, mx);
		struct op_result r = run(1);
		assert_int_equal(r.err, EPERM);
		assert_non_null(r.misuse);
		assert_string_equal(r.misuse, "unlock-not-owner");
		assert_int_equal(mx->owner, 0);
		assert_int_equal(mx->count, 1);
	}
}

static void test_mutex_unlock_unlocked(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_ERRORCHECK);
	set(0, OP_UNLOCK, mx);
	struct op_result r = run(0);
	assert_int_equal(r.err, EPERM);
	assert_non_null(r.misuse);
	assert_string_equal(r.misuse, "unlock-unlocked");
	assert_int_equal(mx->owner, -1);

	/* and after a proper lock/unlock pair, a second unlock */
	do_op(0, OP_LOCK, mx);
	do_op(0, OP_UNLOCK, mx);
	set(0, OP_UNLOCK, mx);
	r = run(0);
	assert_int_equal(r.err, EPERM);
	assert_string_equal(r.misuse, "unlock-unlocked");
}

static void test_mutex_timedlock(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);
	do_op(0, OP_LOCK, mx);

	set_timed(1, OP_LOCK, mx, 100);
	assert_false(model_enabled(&m, 1));
	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 100);
	struct op_result r = run(1);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_null(r.misuse);
	assert_int_equal(mx->owner, 0);

	/* a timed lock of a free mutex succeeds even after its deadline */
	do_op(0, OP_UNLOCK, mx);
	set_timed(1, OP_LOCK, mx, 50);
	run_ok(1);
	assert_int_equal(mx->owner, 1);
}

/* ---- condition variables ------------------------------------------------ */

static void test_cond_wait_releases_mutex(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	lock_and_wait(0, cv, mx, MODEL_NO_DEADLINE);
	assert_int_equal(mx->owner, -1);
	assert_int_equal(mx->count, 0);
	assert_ptr_equal(m.threads[0].pending.obj, cv);
	assert_ptr_equal(m.threads[0].pending.obj2, mx);
	assert_false(m.threads[0].signalled);
	assert_false(model_enabled(&m, 0));

	/* another thread can take the mutex now */
	do_op(1, OP_LOCK, mx);
	assert_int_equal(mx->owner, 1);
}

static void test_cond_wait_needs_signal_and_mutex(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	lock_and_wait(0, cv, mx, MODEL_NO_DEADLINE);
	assert_false(model_enabled(&m, 0));    /* mutex free, but not signalled */

	do_op(1, OP_LOCK, mx);
	do_op(1, OP_SIGNAL, cv);
	assert_true(m.threads[0].signalled);
	assert_false(model_enabled(&m, 0));    /* signalled, but the mutex is held */
	assert_int_equal(model_waits_for(&m, 0), 1);

	do_op(1, OP_UNLOCK, mx);
	struct op_result r = run(0);
	assert_int_equal(r.err, 0);
	assert_null(r.misuse);
	assert_int_equal(mx->owner, 0);
	assert_int_equal(mx->count, 1);
	assert_int_equal(m.threads[0].pending.kind, OP_NONE);
	assert_false(m.threads[0].signalled);
}

static void test_cond_signal_fifo(void **state)
{
	reset(4);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	static const int order[] = { 2, 0, 1 };  /* the order in which they wait */

	for (int i = 0; i < 3; i++) {
		lock_and_wait(order[i], cv, mx, MODEL_NO_DEADLINE);
	}
	for (int i = 0; i < 3; i++) {
		do_op(3, OP_SIGNAL, cv);
		/* exactly the oldest remaining waiter is woken, the mutex is free */
		assert_int_equal(model_enabled_mask(&m), 1ull << order[i]);
		for (int j = 0; j < 3; j++)
			assert_int_equal(m.threads[order[j]].signalled, j == i);
		run_ok(order[i]);
		do_op(order[i], OP_UNLOCK, mx);
	}
	/* a signal with no waiter left wakes nobody */
	do_op(3, OP_SIGNAL, cv);
	assert_int_equal(model_enabled_mask(&m), 0);
}

static void test_cond_broadcast(void **state)
{
	reset(4);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	struct mobj *other = obj(2, OBJ_COND);

	for (int t = 0; t < 3; t++)
		lock_and_wait(t, cv, mx, MODEL_NO_DEADLINE);
	do_op(3, OP_BROADCAST, other);         /* another condvar: nobody wakes */
	assert_int_equal(model_enabled_mask(&m), 0);

	do_op(3, OP_BROADCAST, cv);
	assert_int_equal(model_enabled_mask(&m), 0x7);
	/* the first to retake the mutex blocks the others until it unlocks */
	run_ok(1);
	assert_int_equal(mx->owner, 1);
	assert_int_equal(model_enabled_mask(&m), 0);
	do_op(1, OP_UNLOCK, mx);
	assert_int_equal(model_enabled_mask(&m), 0x5);
}

static void test_cond_signal_is_not_remembered(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	do_op(1, OP_SIGNAL, cv);               /* before anyone waits: lost */
	lock_and_wait(0, cv, mx, MODEL_NO_DEADLINE);
	assert_false(m.threads[0].signalled);
	assert_false(model_enabled(&m, 0));
	assert_false(model_advance_time(&m));  /* no deadline: stuck for good */
}

static void test_cond_timedwait(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	lock_and_wait(0, cv, mx, 500);
	assert_true(m.threads[0].pending.deadline == 500);
	assert_false(model_enabled(&m, 0));
	m.now = 499;
	assert_false(model_enabled(&m, 0));
	m.now = 0;

	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 500);
	struct op_result r = run(0);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_null(r.misuse);
	assert_int_equal(mx->owner, 0);         /* it retook the mutex anyway */
	assert_int_equal(m.threads[0].pending.kind, OP_NONE);
}

static void test_cond_timedwait_signalled_in_time(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	lock_and_wait(0, cv, mx, 500);
	do_op(1, OP_SIGNAL, cv);
	assert_int_equal(m.now, 0);
	struct op_result r = run(0);
	assert_int_equal(r.err, 0);
	assert_int_equal(mx->owner, 0);
}

static void test_cond_wait_without_mutex(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	set_wait(0, cv, mx, MODEL_NO_DEADLINE);
	struct op_result r = run(0);
	assert_int_equal(r.err, EPERM);
	assert_non_null(r.misuse);
	assert_string_equal(r.misuse, "cond-wait-unlocked");
	assert_int_equal(mx->owner, -1);
}

/* ---- semaphores --------------------------------------------------------- */

static void test_sem(void **state)
{
	reset(3);
	struct mobj *sem = obj(0, OBJ_SEM);
	assert_int_equal(sem->count, 0);

	set(0, OP_SEM_WAIT, sem);
	set(1, OP_SEM_WAIT, sem);
	assert_int_equal(model_enabled_mask(&m), 0);

	set_try(2, OP_SEM_WAIT, sem);
	struct op_result r = run(2);
	assert_int_equal(r.err, EAGAIN);
	assert_null(r.misuse);
	assert_int_equal(sem->count, 0);

	do_op(2, OP_SEM_POST, sem);
	assert_int_equal(sem->count, 1);
	assert_int_equal(model_enabled_mask(&m), 0x3);
	run_ok(1);
	assert_int_equal(sem->count, 0);
	assert_false(model_enabled(&m, 0));

	do_op(2, OP_SEM_POST, sem);
	do_op(2, OP_SEM_POST, sem);
	assert_int_equal(sem->count, 2);
	set_try(2, OP_SEM_WAIT, sem);
	run_ok(2);
	assert_int_equal(sem->count, 1);
	run_ok(0);
	assert_int_equal(sem->count, 0);
}

static void test_sem_timedwait(void **state)
{
	reset(1);
	struct mobj *sem = obj(0, OBJ_SEM);
	set_timed(0, OP_SEM_WAIT, sem, 2000);
	assert_false(model_enabled(&m, 0));
	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 2000);
	struct op_result r = run(0);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(sem->count, 0);
}

/* ---- rwlocks ------------------------------------------------------------ */

static void test_rwlock_readers_share_writer_exclusive(void **state)
{
	reset(3);
	struct mobj *rw = obj(0, OBJ_RWLOCK);

	do_op(0, OP_RDLOCK, rw);
	do_op(1, OP_RDLOCK, rw);
	assert_int_equal(rw->count, 2);
	assert_int_equal(model_rd_holds(rw, 0), 1);
	assert_int_equal(model_rd_holds(rw, 1), 1);
	assert_int_equal(rw->owner, -1);

	set(2, OP_WRLOCK, rw);
	assert_false(model_enabled(&m, 2));
	int w = model_waits_for(&m, 2);
	assert_true(w == 0 || w == 1);

	do_op(0, OP_RWUNLOCK, rw);
	assert_false(model_enabled(&m, 2));
	assert_int_equal(model_waits_for(&m, 2), 1);
	do_op(1, OP_RWUNLOCK, rw);
	assert_int_equal(rw->count, 0);
	run_ok(2);
	assert_int_equal(rw->owner, 2);

	set(0, OP_RDLOCK, rw);
	set(1, OP_WRLOCK, rw);
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_int_equal(model_waits_for(&m, 0), 2);
	assert_int_equal(model_waits_for(&m, 1), 2);

	do_op(2, OP_RWUNLOCK, rw);
	assert_int_equal(rw->owner, -1);
	assert_int_equal(model_enabled_mask(&m), 0x3);
}

static void test_rwlock_try_and_errors(void **state)
{
	reset(2);
	struct mobj *rw = obj(0, OBJ_RWLOCK);

	do_op(0, OP_WRLOCK, rw);
	set_try(1, OP_RDLOCK, rw);
	struct op_result r = run(1);
	assert_int_equal(r.err, EBUSY);
	assert_int_equal(rw->count, 0);
	set_try(1, OP_WRLOCK, rw);
	r = run(1);
	assert_int_equal(r.err, EBUSY);
	assert_int_equal(rw->owner, 0);

	/* the writer locking again: EDEADLK rather than blocking */
	set(0, OP_WRLOCK, rw);
	r = run(0);
	assert_int_equal(r.err, EDEADLK);
	set(0, OP_RDLOCK, rw);
	r = run(0);
	assert_int_equal(r.err, EDEADLK);

	do_op(0, OP_RWUNLOCK, rw);
	do_op(0, OP_RDLOCK, rw);
	set_try(1, OP_WRLOCK, rw);
	r = run(1);
	assert_int_equal(r.err, EBUSY);

	/* unlocking what one does not hold */
	set(1, OP_RWUNLOCK, rw);
	r = run(1);
	assert_int_equal(r.err, EPERM);
	assert_non_null(r.misuse);
	assert_string_equal(r.misuse, "rwunlock-not-held");
	assert_int_equal(rw->count, 1);
}

static void test_rwlock_timed(void **state)
{
	reset(2);
	struct mobj *rw = obj(0, OBJ_RWLOCK);
	do_op(0, OP_RDLOCK, rw);
	set_timed(1, OP_WRLOCK, rw, 70);
	assert_false(model_enabled(&m, 1));
	assert_true(model_advance_time(&m));
	struct op_result r = run(1);
	assert_int_equal(r.err, ETIMEDOUT);
	assert_int_equal(rw->owner, -1);
}

/* ---- join, once, sleep and virtual time --------------------------------- */

static void test_join(void **state)
{
	reset(2);
	set_join(0, 1);
	assert_false(model_enabled(&m, 0));
	assert_int_equal(model_waits_for(&m, 0), 1);

	set(1, OP_EXIT, NULL);
	run_ok(1);
	assert_true(model_enabled(&m, 0));
	run_ok(0);
}

static void test_once(void **state)
{
	reset(2);
	struct mobj *once = obj(0, OBJ_ONCE);

	do_op(0, OP_ONCE, once);               /* T0 runs the routine */
	assert_int_equal(once->once_state, 1);
	set(1, OP_ONCE, once);
	assert_false(model_enabled(&m, 1));

	once->once_state = 2;                  /* the runtime: the routine returned */
	run_ok(1);
	assert_int_equal(once->once_state, 2);
}

static void test_sleep_and_advance_time(void **state)
{
	reset(4);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);

	set_timed(0, OP_SLEEP, NULL, 300);
	set_timed(1, OP_SLEEP, NULL, 100);
	set_timed(2, OP_SLEEP, NULL, 200);
	set(3, OP_LOCK, mx);
	assert_int_equal(model_enabled_mask(&m), 0x8);
	/* something can run: time does not move */
	assert_false(model_advance_time(&m));
	assert_int_equal(m.now, 0);

	run_ok(3);
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 100);          /* the earliest deadline */
	assert_int_equal(model_enabled_mask(&m), 0x2);
	assert_false(model_advance_time(&m));
	run_ok(1);

	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 200);
	assert_int_equal(model_enabled_mask(&m), 0x4);
	run_ok(2);

	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 300);
	assert_int_equal(model_enabled_mask(&m), 0x1);
	run_ok(0);

	/* all idle, no deadline left */
	assert_false(model_advance_time(&m));
	assert_int_equal(m.now, 300);
}

static void test_advance_time_no_deadline(void **state)
{
	reset(2);
	struct mobj *a = mutex(0, MUTEX_NORMAL), *b = mutex(1, MUTEX_NORMAL);
	do_op(0, OP_LOCK, a);
	do_op(1, OP_LOCK, b);
	set(0, OP_LOCK, b);
	set(1, OP_LOCK, a);
	assert_false(model_advance_time(&m));
	assert_int_equal(m.now, 0);

	/* deadlines of finished threads do not count */
	reset(2);
	set_timed(0, OP_SLEEP, NULL, 100);
	m.threads[0].status = TS_FINISHED;
	set_join(1, 1);
	assert_false(model_advance_time(&m));
	assert_int_equal(m.now, 0);
}

/*
 * Regression test (model.c model_advance_time): the bug described here is fixed. T0 timed-waits on a condvar (deadline
 * 100); T1 takes the mutex and joins T0. At t=100 T0 has timed out but
 * cannot retake the mutex, and T1 waits for T0: a deadlock. Nothing is
 * enabled and no deadline lies in the future, so advance_time must return
 * false ("true if it moved", DESIGN.md: no enabled thread and no deadline is
 * a deadlock). It returns true without moving time, because it takes the
 * earliest deadline even when that deadline has passed; the runtime's
 * decide() then loops forever and the run ends as "hang", not "deadlock".
 * Expected false, actual true (now stays 100).
 */
static void test_advance_time_stale_deadline(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);

	lock_and_wait(0, cv, mx, 100);
	do_op(1, OP_LOCK, mx);
	set_join(1, 0);
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 100);
	assert_int_equal(model_enabled_mask(&m), 0);

	bool moved = model_advance_time(&m);
	assert_int_equal(m.now, 100);
	assert_false(moved);
}

/* ---- sync points and constraints ---------------------------------------- */

static void test_sync_constraint(void **state)
{
	reset(3);
	/* names are compared by content, not by address */
	static char after_copy[] = "rp:exit:after-clear";
	const char *missing = NULL;

	assert_int_equal(model_add_constraint(&m, "main:cleanup:before-free", "rp:exit:after-clear"), 0);
	set_sync(0, after_copy);
	assert_false(model_enabled(&m, 0));
	assert_true(model_sync_blocked(&m, "rp:exit:after-clear", &missing));
	assert_non_null(missing);
	assert_string_equal(missing, "main:cleanup:before-free");
	assert_int_equal(model_waits_for(&m, 0), -1);

	/* an unconstrained point passes freely and unblocks nothing */
	set_sync(2, "other:point:x");
	run_ok(2);
	assert_false(model_enabled(&m, 0));

	set_sync(1, "main:cleanup:before-free");
	assert_false(model_sync_blocked(&m, "main:cleanup:before-free", NULL));
	run_ok(1);
	assert_true(m.cons[0].before_hit);
	assert_false(model_sync_blocked(&m, "rp:exit:after-clear", NULL));
	assert_true(model_enabled(&m, 0));
	run_ok(0);
	assert_true(m.cons[0].after_hit);

	/* once passed, the `before` point stays passed */
	set_sync(0, "rp:exit:after-clear");
	assert_true(model_enabled(&m, 0));
}

static void test_sync_two_constraints_on_one_point(void **state)
{
	reset(3);
	const char *missing = NULL;
	assert_int_equal(model_add_constraint(&m, "a:f:one", "c:f:three"), 0);
	assert_int_equal(model_add_constraint(&m, "b:f:two", "c:f:three"), 0);

	set_sync(2, "c:f:three");
	set_sync(0, "a:f:one");
	run_ok(0);
	assert_false(model_enabled(&m, 2));
	assert_true(model_sync_blocked(&m, "c:f:three", &missing));
	assert_string_equal(missing, "b:f:two");
	set_sync(1, "b:f:two");
	run_ok(1);
	assert_true(model_enabled(&m, 2));
}

static void test_constraint_limit(void **state)
{
	reset(0);
	for (int i = 0; i < MODEL_MAX_CONSTRAINTS; i++)
		assert_int_equal(model_add_constraint(&m, "a:b:c", "d:e:f"), 0);
	assert_int_equal(model_add_constraint(&m, "a:b:c", "d:e:f"), -ENOSPC);
	assert_int_equal(m.ncons, MODEL_MAX_CONSTRAINTS);
}

/* ---- deadlock cycles ---------------------------------------------------- */

static void test_cycle_two_mutexes(void **state)
{
	reset(3);
	struct mobj *a = mutex(0, MUTEX_NORMAL), *b = mutex(1, MUTEX_NORMAL);
	int cycle[MODEL_MAX_THREADS];

	do_op(0, OP_LOCK, a);
	do_op(1, OP_LOCK, b);
	set(0, OP_LOCK, b);
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 0);
	set(1, OP_LOCK, a);
	assert_int_equal(model_waits_for(&m, 0), 1);
	assert_int_equal(model_waits_for(&m, 1), 0);
	assert_int_equal(model_waits_for(&m, 2), -1);

	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 2);
	assert_true((cycle[0] == 0 && cycle[1] == 1) || (cycle[0] == 1 && cycle[1] == 0));
}

static void test_cycle_join(void **state)
{
	reset(2);
	int cycle[MODEL_MAX_THREADS];
	set_join(0, 1);
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 0);
	set_join(1, 0);
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 2);
	assert_true((cycle[0] == 0 && cycle[1] == 1) || (cycle[0] == 1 && cycle[1] == 0));
}

/* T0 joins T1, which is in a cycle of three with T2 and T3: the reported
 * cycle leaves the tail T0 out. */
static void test_cycle_behind_a_tail(void **state)
{
	reset(4);
	struct mobj *a = mutex(0, MUTEX_NORMAL), *b = mutex(1, MUTEX_NORMAL), *c = mutex(2, MUTEX_NORMAL);
	int cycle[MODEL_MAX_THREADS];

	do_op(1, OP_LOCK, a);
	do_op(2, OP_LOCK, b);
	do_op(3, OP_LOCK, c);
	set(1, OP_LOCK, b);
	set(2, OP_LOCK, c);
	set(3, OP_LOCK, a);
	set_join(0, 1);

	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 3);
	assert_int_equal(cycle[0], 1);
	assert_int_equal(cycle[1], 2);
	assert_int_equal(cycle[2], 3);
}

static void test_no_cycle_through_cond_waiter(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	int cycle[MODEL_MAX_THREADS];

	/* T0 waits on cv (never signalled); T1 holds the mutex and joins T0 */
	lock_and_wait(0, cv, mx, MODEL_NO_DEADLINE);
	do_op(1, OP_LOCK, mx);
	set_join(1, 0);
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_int_equal(model_waits_for(&m, 0), -1);
	assert_int_equal(model_waits_for(&m, 1), 0);
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 0);
}

static void test_cycle_through_signalled_waiter(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	int cycle[MODEL_MAX_THREADS];

	/* T0 was signalled and needs the mutex that T1 holds while joining T0 */
	lock_and_wait(0, cv, mx, MODEL_NO_DEADLINE);
	do_op(1, OP_LOCK, mx);
	do_op(1, OP_SIGNAL, cv);
	set_join(1, 0);
	assert_int_equal(model_waits_for(&m, 0), 1);
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 2);
}

/*
 * Regression test (model.c model_waits_for): the bug described here is fixed. a cond waiter whose timed wait has expired
 * waits for the mutex owner exactly like a signalled one, but waits_for()
 * only follows the mutex when `signalled` is set. Same setup as
 * test_advance_time_stale_deadline: at t=100 T0 (timed out, needs the mutex)
 * and T1 (holds the mutex, joins T0) form a cycle. Expected waits_for(T0) ==
 * 1 and a cycle of 2; actual -1 and no cycle.
 */
static void test_cycle_through_timed_out_waiter(void **state)
{
	reset(2);
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	int cycle[MODEL_MAX_THREADS];

	lock_and_wait(0, cv, mx, 100);
	do_op(1, OP_LOCK, mx);
	set_join(1, 0);
	m.now = 100;
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_int_equal(model_waits_for(&m, 0), 1);
	assert_int_equal(model_find_cycle(&m, cycle, MODEL_MAX_THREADS), 2);
}

/*
 * Regression test (model.c model_find_cycle): the bug described here is fixed
 * (it was latent: the runtime passes
 * MODEL_MAX_THREADS): with a bounded buffer, the path is truncated at `max`
 * before the cycle is rotated out of it, so a cycle that fits in the buffer
 * is returned with garbage. T0 joins T1; T1 and T2 deadlock on two mutexes;
 * max 2. Expected {1, 2} (or {2, 1}), actual {1, <never written>}.
 */
static void test_cycle_bounded_buffer(void **state)
{
	reset(3);
	struct mobj *a = mutex(0, MUTEX_NORMAL), *b = mutex(1, MUTEX_NORMAL);
	int cycle[8] = { -7, -7, -7, -7, -7, -7, -7, -7 };

	do_op(1, OP_LOCK, a);
	do_op(2, OP_LOCK, b);
	set(1, OP_LOCK, b);
	set(2, OP_LOCK, a);
	set_join(0, 1);

	assert_int_equal(model_find_cycle(&m, cycle, 2), 2);
	assert_true((cycle[0] == 1 && cycle[1] == 2) || (cycle[0] == 2 && cycle[1] == 1));
	assert_int_equal(cycle[2], -7);        /* nothing written past max */
}

/* ---- the object table --------------------------------------------------- */

static void test_obj_ids_and_lookup(void **state)
{
	reset(0);
	struct mobj *a = model_obj(&m, &addrs[0], OBJ_MUTEX);
	struct mobj *b = model_obj(&m, &addrs[1], OBJ_COND);
	struct mobj *c = model_obj(&m, &addrs[2], OBJ_SEM);
	assert_non_null(a);
	assert_non_null(b);
	assert_non_null(c);
	assert_int_equal(a->id, 1);
	assert_int_equal(b->id, 2);
	assert_int_equal(c->id, 3);
	assert_int_equal(a->owner, -1);
	assert_int_equal(b->kind, OBJ_COND);
	assert_ptr_equal(a->addr, &addrs[0]);

	/* the same address again: the same object */
	assert_ptr_equal(model_obj(&m, &addrs[1], OBJ_COND), b);
	assert_int_equal(b->id, 2);
	assert_ptr_equal(model_obj_find(&m, &addrs[2]), c);
	assert_null(model_obj_find(&m, &addrs[3]));

	/* forgotten (destroy / re-init): gone, and a new id on next sight */
	model_obj_forget(&m, &addrs[1]);
	assert_null(model_obj_find(&m, &addrs[1]));
	assert_ptr_equal(model_obj_find(&m, &addrs[0]), a);
	assert_ptr_equal(model_obj_find(&m, &addrs[2]), c);
	struct mobj *b2 = model_obj(&m, &addrs[1], OBJ_COND);
	assert_non_null(b2);
	assert_int_equal(b2->id, 4);
	assert_ptr_equal(model_obj_find(&m, &addrs[1]), b2);
	model_obj_forget(&m, &addrs[5]);       /* unknown: no effect */
	assert_ptr_equal(model_obj_find(&m, &addrs[0]), a);
}

static void test_obj_state_reset_on_recreate(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_RECURSIVE);
	do_op(0, OP_LOCK, mx);
	model_obj_forget(&m, &addrs[0]);
	struct mobj *again = model_obj(&m, &addrs[0], OBJ_MUTEX);
	assert_non_null(again);
	assert_int_equal(again->owner, -1);
	assert_int_equal(again->count, 0);
	assert_int_equal(again->type, MUTEX_NORMAL);
}

static void test_obj_kind_change(void **state)
{
	reset(0);
	struct mobj *a = model_obj(&m, &addrs[0], OBJ_MUTEX);
	assert_non_null(a);
	/* the memory now holds a semaphore: a new object */
	struct mobj *s = model_obj(&m, &addrs[0], OBJ_SEM);
	assert_non_null(s);
	assert_int_equal(s->kind, OBJ_SEM);
	assert_int_equal(s->id, 2);
	assert_ptr_equal(model_obj_find(&m, &addrs[0]), s);
}

#define MANY 3000
#define ROUNDS 8
static uint64_t pool[ROUNDS][MANY];

/* Objects created and destroyed over and over (fresh addresses each round,
 * as with malloc'ed objects) never exhaust the table. */
static void test_obj_many_created_and_forgotten(void **state)
{
	static struct mobj *seen[MANY];
	int next_id = 1;

	reset(0);
	for (int r = 0; r < 3 * ROUNDS; r++) {
		uint64_t *base = pool[r % ROUNDS];
		for (int i = 0; i < MANY; i++) {
			seen[i] = model_obj(&m, &base[i], (enum obj_kind)(i % OBJ_KIND_COUNT));
			assert_non_null(seen[i]);
			assert_int_equal(seen[i]->id, next_id);
			next_id++;
		}
		for (int i = 0; i < MANY; i++) {
			assert_ptr_equal(model_obj_find(&m, &base[i]), seen[i]);
			assert_ptr_equal(seen[i]->addr, &base[i]);
		}
		/* forgetting some must not lose the others */
		for (int i = 0; i < MANY; i += 2)
			model_obj_forget(&m, &base[i]);
		for (int i = 0; i < MANY; i++)
			assert_ptr_equal(model_obj_find(&m, &base[i]), i % 2 ? seen[i] : NULL);
		for (int i = 1; i < MANY; i += 2)
			model_obj_forget(&m, &base[i]);
		for (int i = 0; i < MANY; i++)
			assert_null(model_obj_find(&m, &base[i]));
		assert_true(m.nobjs_used <= MANY);
	}
}

/* Scattered addresses (as from malloc) collide in any hash table: forgetting
 * some objects must not lose the ones that collided with them. */
static void test_obj_forget_keeps_colliding(void **state)
{
	enum { N = 2000, SPACE = 1 << 17 };
	static uint64_t space[SPACE];
	static uint64_t *addr[N];
	static struct mobj *o[N];
	static uint8_t used[SPACE];
	uint64_t x = 88172645463325252ull;

	reset(0);
	memset(used, 0, sizeof(used));
	for (int i = 0; i < N; i++) {
		uint64_t k;
		do {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;  /* xorshift64 */
			k = x % SPACE;
		} while (used[k]);
		used[k] = 1;
		addr[i] = &space[k];
		o[i] = model_obj(&m, addr[i], OBJ_MUTEX);
		assert_non_null(o[i]);
	}
	for (int round = 0; round < 3; round++) {
		for (int i = round; i < N; i += 3)
			model_obj_forget(&m, addr[i]);
		for (int i = 0; i < N; i++) {
			bool gone = i % 3 <= round;
			if (model_obj_find(&m, addr[i]) != (gone ? NULL : o[i]))
				fail_msg("round %d: object %d (id %d) %s", round, i, o[i]->id,
					 gone ? "still found after forget" : "lost after forgetting others");
		}
	}
	/* all forgotten: they come back with new ids */
	for (int i = 0; i < N; i++) {
		struct mobj *again = model_obj(&m, addr[i], OBJ_SEM);
		assert_non_null(again);
		assert_int_equal(again->id, N + 1 + i);
	}
}

static void test_obj_table_full(void **state)
{
	static uint64_t base[MODEL_MAX_OBJECTS + 1];

	reset(0);
	for (int i = 0; i < MODEL_MAX_OBJECTS; i++)
		assert_non_null(model_obj(&m, &base[i], OBJ_MUTEX));
	assert_null(model_obj(&m, &base[MODEL_MAX_OBJECTS], OBJ_MUTEX));
	model_obj_forget(&m, &base[10]);
	struct mobj *o = model_obj(&m, &base[MODEL_MAX_OBJECTS], OBJ_MUTEX);
	assert_non_null(o);
	assert_ptr_equal(model_obj_find(&m, &base[MODEL_MAX_OBJECTS]), o);
	assert_int_equal(o->id, MODEL_MAX_OBJECTS + 1);
}

/* ---- release points, futexes, spurious wake-ups ---------------------------- */

static void test_release_is_always_enabled(void **state)
{
	reset(1);
	struct mobj *mx = mutex(0, MUTEX_NORMAL);
	do_op(0, OP_RELEASE, mx);
	assert_int_equal(m.threads[0].pending.kind, OP_NONE);
	assert_int_equal(mx->owner, -1);   /* no effect on the object */
}

static void futex_sleep(int t, struct mobj *fx, uint32_t bits, int64_t deadline)
{
	set_timed(t, OP_FUTEX_SLEEP, fx, deadline);
	m.threads[t].pending.bits = bits;
	model_futex_sleep(&m, t);
}

static void test_futex_wake_fifo_and_count(void **state)
{
	reset(4);
	struct mobj *fx = obj(0, OBJ_FUTEX), *other = obj(1, OBJ_FUTEX);
	futex_sleep(1, fx, UINT32_MAX, MODEL_NO_DEADLINE);
	futex_sleep(2, fx, UINT32_MAX, MODEL_NO_DEADLINE);
	futex_sleep(3, other, UINT32_MAX, MODEL_NO_DEADLINE);
	set(0, OP_YIELD, NULL);
	assert_int_equal(model_enabled_mask(&m), 0x1);
	assert_int_equal(model_futex_wake(&m, fx, 1, UINT32_MAX), 1);
	assert_int_equal(model_enabled_mask(&m), 0x3);     /* the first asleep */
	assert_int_equal(model_futex_wake(&m, fx, 5, UINT32_MAX), 1);
	assert_int_equal(model_enabled_mask(&m), 0x7);     /* the other word's sleeper stays */
	assert_int_equal(model_futex_wake(&m, fx, 5, UINT32_MAX), 0);
	struct op_result r = run(1);
	assert_int_equal(r.err, 0);
	assert_int_equal(m.threads[1].pending.kind, OP_NONE);
}

static void test_futex_bitset_and_timeout(void **state)
{
	reset(3);
	struct mobj *fx = obj(0, OBJ_FUTEX);
	futex_sleep(1, fx, 0x1, MODEL_NO_DEADLINE);
	futex_sleep(2, fx, 0x2, 500);
	set(0, OP_YIELD, NULL);
	assert_int_equal(model_futex_wake(&m, fx, 5, 0x2), 1);
	assert_int_equal(model_enabled_mask(&m), 0x5);     /* only the matching bitset */
	run_ok(2);
	futex_sleep(2, fx, 0x2, 500);
	set(0, OP_EXIT, NULL);
	run_ok(0);
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_true(model_advance_time(&m));
	assert_int_equal(m.now, 500);
	struct op_result r = run(2);
	assert_int_equal(r.err, ETIMEDOUT);
	/* T1 sleeps with no deadline and nobody left: nothing to advance to */
	assert_false(model_advance_time(&m));
	assert_false(model_enabled(&m, 1));
}

/* A descriptor wait: enabled once the runtime marks it ready (its poll), at
 * its deadline (poll's timeout), or at once when it does not block. */
static void test_fd_wait(void **state)
{
	reset(3);
	struct mobj *fd = obj(0, OBJ_FD);
	assert_int_equal(obj_kind_letter(OBJ_FD), 'd');
	set(1, OP_FD_WAIT, fd);
	set_timed(2, OP_FD_WAIT, fd, 700);
	set(0, OP_EXIT, NULL);
	run_ok(0);
	assert_int_equal(model_enabled_mask(&m), 0);
	assert_true(model_advance_time(&m));    /* the poll timeout */
	assert_int_equal(model_enabled_mask(&m), 0x4);
	struct op_result r = run(2);
	assert_int_equal(r.err, ETIMEDOUT);
	m.threads[1].signalled = true;          /* ready */
	assert_true(model_enabled(&m, 1));
	run_ok(1);
	assert_false(m.threads[1].signalled);
	set_try(1, OP_FD_WAIT, fd);             /* non-blocking */
	assert_true(model_enabled(&m, 1));
	run_ok(1);
	set(1, OP_FD_EXT, fd);                  /* outside: always a plain decision */
	assert_true(model_enabled(&m, 1));
	run_ok(1);
	assert_null(m.threads[1].pending.fdw);
}

static void test_spurious_wakeup_once(void **state)
{
	reset(2);
	m.spurious = true;
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	lock_and_wait(0, cv, mx, MODEL_NO_DEADLINE);
	assert_true(model_enabled(&m, 0));       /* may wake unsignalled */
	struct op_result r = run(0);
	assert_int_equal(r.err, 0);
	assert_int_equal(mx->owner, 0);
	/* waits again: no second spurious wake-up before a real one */
	set_wait(0, cv, mx, MODEL_NO_DEADLINE);
	run_ok(0);
	assert_false(model_enabled(&m, 0));
	do_op(1, OP_SIGNAL, cv);
	run_ok(0);
	/* after a real wake-up it may wake spuriously again */
	set_wait(0, cv, mx, MODEL_NO_DEADLINE);
	run_ok(0);
	assert_true(model_enabled(&m, 0));
}

static void test_spurious_early_timeout(void **state)
{
	reset(2);
	m.spurious = true;
	struct mobj *mx = mutex(0, MUTEX_NORMAL), *cv = obj(1, OBJ_COND);
	lock_and_wait(0, cv, mx, 3000);
	assert_true(model_enabled(&m, 0));
	struct op_result r = run(0);
	assert_int_equal(r.err, ETIMEDOUT);      /* the timeout won the race */
	assert_int_equal(m.now, 3000);           /* and time reached it */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threads_start_and_exit),
		cmocka_unit_test(test_threads_limit),
		cmocka_unit_test(test_exec_clears_pending),
		cmocka_unit_test(test_op_names),
		cmocka_unit_test(test_mutex_lock_unlock),
		cmocka_unit_test(test_held_locks),
		cmocka_unit_test(test_mutex_normal_relock_self_deadlock),
		cmocka_unit_test(test_mutex_trylock),
		cmocka_unit_test(test_mutex_recursive),
		cmocka_unit_test(test_mutex_errorcheck_relock),
		cmocka_unit_test(test_mutex_errorcheck_trylock_by_owner),
		cmocka_unit_test(test_mutex_unlock_not_owner),
		cmocka_unit_test(test_mutex_unlock_unlocked),
		cmocka_unit_test(test_mutex_timedlock),
		cmocka_unit_test(test_cond_wait_releases_mutex),
		cmocka_unit_test(test_cond_wait_needs_signal_and_mutex),
		cmocka_unit_test(test_cond_signal_fifo),
		cmocka_unit_test(test_cond_broadcast),
		cmocka_unit_test(test_cond_signal_is_not_remembered),
		cmocka_unit_test(test_cond_timedwait),
		cmocka_unit_test(test_cond_timedwait_signalled_in_time),
		cmocka_unit_test(test_cond_wait_without_mutex),
		cmocka_unit_test(test_sem),
		cmocka_unit_test(test_sem_timedwait),
		cmocka_unit_test(test_rwlock_readers_share_writer_exclusive),
		cmocka_unit_test(test_rwlock_try_and_errors),
		cmocka_unit_test(test_rwlock_timed),
		cmocka_unit_test(test_join),
		cmocka_unit_test(test_once),
		cmocka_unit_test(test_sleep_and_advance_time),
		cmocka_unit_test(test_advance_time_no_deadline),
		cmocka_unit_test(test_advance_time_stale_deadline),
		cmocka_unit_test(test_sync_constraint),
		cmocka_unit_test(test_sync_two_constraints_on_one_point),
		cmocka_unit_test(test_constraint_limit),
		cmocka_unit_test(test_cycle_two_mutexes),
		cmocka_unit_test(test_cycle_join),
		cmocka_unit_test(test_cycle_behind_a_tail),
		cmocka_unit_test(test_no_cycle_through_cond_waiter),
		cmocka_unit_test(test_cycle_through_signalled_waiter),
		cmocka_unit_test(test_cycle_through_timed_out_waiter),
		cmocka_unit_test(test_cycle_bounded_buffer),
		cmocka_unit_test(test_obj_ids_and_lookup),
		cmocka_unit_test(test_obj_state_reset_on_recreate),
		cmocka_unit_test(test_obj_kind_change),
		cmocka_unit_test(test_obj_many_created_and_forgotten),
		cmocka_unit_test(test_obj_forget_keeps_colliding),
		cmocka_unit_test(test_obj_table_full),
		cmocka_unit_test(test_release_is_always_enabled),
		cmocka_unit_test(test_futex_wake_fifo_and_count),
		cmocka_unit_test(test_futex_bitset_and_timeout),
		cmocka_unit_test(test_fd_wait),
		cmocka_unit_test(test_spurious_wakeup_once),
		cmocka_unit_test(test_spurious_early_timeout),
	};
	return cmocka_run_group_tests_name("model", tests, NULL, NULL);
}
