/*
 * Unit tests of the QEMU-style thread and lock wrappers (core/migration/
 * thread.c): thread creation, signal mask and name, mutex, cond, semaphore,
 * the initialized assertions and the scoped lock guards. Threads only record
 * what they see; the checks run in the test's own thread.
 */
#define _GNU_SOURCE	/* pthread_getname_np, pthread_getattr_np */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "test_util.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "thread.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs fn in a forked child; it must die of SIGABRT with msg on stderr. */
static void call_void(void *fn)
{
	((void (*)(void))fn)();
}

static void expect_abort(void (*fn)(void), const char *msg)
{
	assert_true(child_aborts_with(call_void, (void *)fn, msg));
}

/* ---- threads ---- */

static void *add_one(void *arg)
{
	return (char *)arg + 1;
}

static void test_thread_join_returns_value(void **state)
{
	static char base[4];
	QemuThread t;

	qemu_thread_create(&t, "add-one", add_one, base, QEMU_THREAD_JOINABLE);
	assert_ptr_equal(qemu_thread_join(&t), base + 1);
}

static void test_thread_try_create(void **state)
{
	static char base[4];
	QemuThread t;

	assert_int_equal(qemu_thread_try_create(&t, "try", add_one, base,
						QEMU_THREAD_JOINABLE), 0);
	assert_ptr_equal(qemu_thread_join(&t), base + 1);
}

struct detached {
	QemuSemaphore done;
	int detachstate;
	int attr_err;
};

static void *detached_fn(void *arg)
{
	struct detached *d = arg;
	pthread_attr_t attr;

	d->attr_err = pthread_getattr_np(pthread_self(), &attr);
	if (!d->attr_err) {
		pthread_attr_getdetachstate(&attr, &d->detachstate);
		pthread_attr_destroy(&attr);
	}
	qemu_sem_post(&d->done);
	return NULL;
}

static void test_thread_detached(void **state)
{
	static struct detached d;	/* outlives the test: the thread may still be exiting */
	QemuThread t;

	qemu_sem_init(&d.done, 0);
	d.detachstate = -1;
	qemu_thread_create(&t, "detached", detached_fn, &d, QEMU_THREAD_DETACHED);
	assert_int_equal(qemu_sem_timedwait(&d.done, 1000), 0);
	assert_int_equal(d.attr_err, 0);
	assert_int_equal(d.detachstate, PTHREAD_CREATE_DETACHED);
}

struct self_check {
	QemuThread thread;	/* written by the creator before go is posted */
	QemuSemaphore go;
	bool handle_is_self;
	bool got_self_is_self;
	QemuThread got;
};

static void *self_fn(void *arg)
{
	struct self_check *c = arg;

	qemu_sem_wait(&c->go);
	c->handle_is_self = qemu_thread_is_self(&c->thread);
	qemu_thread_get_self(&c->got);
	c->got_self_is_self = qemu_thread_is_self(&c->got);
	return NULL;
}

static void test_thread_is_self(void **state)
{
	struct self_check c = { 0 };
	QemuThread me;

	qemu_sem_init(&c.go, 0);
	qemu_thread_create(&c.thread, "self", self_fn, &c, QEMU_THREAD_JOINABLE);
	assert_false(qemu_thread_is_self(&c.thread));
	qemu_sem_post(&c.go);
	qemu_thread_join(&c.thread);
	assert_true(c.handle_is_self);
	assert_true(c.got_self_is_self);
	assert_true(pthread_equal(c.got.thread, c.thread.thread));
	assert_false(qemu_thread_is_self(&c.got));
	qemu_thread_get_self(&me);
	assert_true(qemu_thread_is_self(&me));
	qemu_sem_destroy(&c.go);
}

static void *mask_fn(void *arg)
{
	sigset_t *mask = arg;

	pthread_sigmask(SIG_BLOCK, NULL, mask);
	return NULL;
}

static void test_thread_signals_blocked(void **state)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2,
				    SIGALRM, SIGCHLD, SIGPIPE };
	sigset_t in_thread, unblock, mine;
	QemuThread t;

	sigemptyset(&unblock);
	sigaddset(&unblock, SIGUSR1);
	assert_int_equal(pthread_sigmask(SIG_UNBLOCK, &unblock, NULL), 0);

	sigemptyset(&in_thread);
	qemu_thread_create(&t, "mask", mask_fn, &in_thread, QEMU_THREAD_JOINABLE);
	qemu_thread_join(&t);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		if (!sigismember(&in_thread, sigs[i]))
			print_error("signal %d not blocked in the new thread\n", sigs[i]);
		assert_true(sigismember(&in_thread, sigs[i]));
	}
	/* the creator's own mask is back as it was */
	assert_int_equal(pthread_sigmask(SIG_BLOCK, NULL, &mine), 0);
	assert_false(sigismember(&mine, SIGUSR1));
}

static void *name_fn(void *arg)
{
	char *name = arg;

	pthread_getname_np(pthread_self(), name, 32);
	return NULL;
}

static void test_thread_name_truncated(void **state)
{
	char name[32] = "";
	QemuThread t;

	qemu_thread_create(&t, "a-very-long-thread-name", name_fn, name,
			   QEMU_THREAD_JOINABLE);
	qemu_thread_join(&t);
	assert_string_equal(name, "a-very-long-thr");

	qemu_thread_create(&t, "mig/src/rp", name_fn, name, QEMU_THREAD_JOINABLE);
	qemu_thread_join(&t);
	assert_string_equal(name, "mig/src/rp");
}

/* ---- mutex ---- */

static void *trylock_fn(void *arg)
{
	QemuMutex *m = arg;
	int ret = qemu_mutex_trylock(m);

	if (ret == 0)
		qemu_mutex_unlock(m);
	return (void *)(intptr_t)ret;
}

static void test_mutex_trylock_busy(void **state)
{
	QemuMutex m;
	QemuThread t;

	qemu_mutex_init(&m);
	qemu_mutex_lock(&m);
	qemu_thread_create(&t, "trylock", trylock_fn, &m, QEMU_THREAD_JOINABLE);
	assert_int_equal((intptr_t)qemu_thread_join(&t), -EBUSY);
	qemu_mutex_unlock(&m);
	qemu_thread_create(&t, "trylock", trylock_fn, &m, QEMU_THREAD_JOINABLE);
	assert_int_equal((intptr_t)qemu_thread_join(&t), 0);
	assert_int_equal(qemu_mutex_trylock(&m), 0);
	qemu_mutex_unlock(&m);
	qemu_mutex_destroy(&m);
}

static void lock_after_destroy(void)
{
	QemuMutex m;

	qemu_mutex_init(&m);
	qemu_mutex_destroy(&m);
	qemu_mutex_lock(&m);
}

static void test_mutex_lock_after_destroy_aborts(void **state)
{
	expect_abort(lock_after_destroy, "Assertion `mutex->initialized' failed");
}

static void destroy_locked(void)
{
	QemuMutex m;

	qemu_mutex_init(&m);
	qemu_mutex_lock(&m);
	qemu_mutex_destroy(&m);
}

static void test_mutex_destroy_locked_aborts(void **state)
{
	expect_abort(destroy_locked, "qemu: qemu_mutex_destroy: ");
}

static void cond_after_destroy(void)
{
	QemuCond c;

	qemu_cond_init(&c);
	qemu_cond_destroy(&c);
	qemu_cond_signal(&c);
}

static void sem_after_destroy(void)
{
	QemuSemaphore s;

	qemu_sem_init(&s, 1);
	qemu_sem_destroy(&s);
	qemu_sem_post(&s);
}

static void test_cond_sem_after_destroy_abort(void **state)
{
	expect_abort(cond_after_destroy, "cond->initialized");
	expect_abort(sem_after_destroy, "sem->initialized");
}

/* ---- cond ---- */

struct flag {
	QemuMutex lock;
	QemuCond cond;
	bool set;		/* under lock */
	int woken;		/* under lock */
};

static void test_cond_timedwait_times_out(void **state)
{
	struct flag f = { 0 };
	int64_t start, elapsed;
	bool woken;

	qemu_mutex_init(&f.lock);
	qemu_cond_init(&f.cond);
	qemu_mutex_lock(&f.lock);
	start = now_ms();
	woken = qemu_cond_timedwait(&f.cond, &f.lock, 50);
	elapsed = now_ms() - start;
	/* the mutex is held again: a trylock must fail */
	assert_int_equal(qemu_mutex_trylock(&f.lock), -EBUSY);
	qemu_mutex_unlock(&f.lock);
	assert_false(woken);
	assert_true(elapsed >= 49);
	assert_true(elapsed < 1000);
	qemu_cond_destroy(&f.cond);
	qemu_mutex_destroy(&f.lock);
}

static void *set_flag_fn(void *arg)
{
	struct flag *f = arg;

	qemu_mutex_lock(&f->lock);
	f->set = true;
	qemu_cond_signal(&f->cond);
	qemu_mutex_unlock(&f->lock);
	return NULL;
}

static void test_cond_timedwait_signalled(void **state)
{
	struct flag f = { 0 };
	bool all_woken = true;
	int64_t start;
	QemuThread t;

	qemu_mutex_init(&f.lock);
	qemu_cond_init(&f.cond);
	qemu_mutex_lock(&f.lock);
	qemu_thread_create(&t, "signal", set_flag_fn, &f, QEMU_THREAD_JOINABLE);
	start = now_ms();
	while (!f.set)
		all_woken &= qemu_cond_timedwait(&f.cond, &f.lock, 5000);
	qemu_mutex_unlock(&f.lock);
	qemu_thread_join(&t);
	assert_true(all_woken);
	assert_true(now_ms() - start < 1000);
	qemu_cond_destroy(&f.cond);
	qemu_mutex_destroy(&f.lock);
}

static void *wait_flag_fn(void *arg)
{
	struct flag *f = arg;

	qemu_mutex_lock(&f->lock);
	while (!f->set)
		qemu_cond_wait(&f->cond, &f->lock);
	f->woken++;
	qemu_mutex_unlock(&f->lock);
	return NULL;
}

static void test_cond_broadcast(void **state)
{
	struct flag f = { 0 };
	QemuThread t[3];

	qemu_mutex_init(&f.lock);
	qemu_cond_init(&f.cond);
	for (int i = 0; i < 3; i++)
		qemu_thread_create(&t[i], "waiter", wait_flag_fn, &f, QEMU_THREAD_JOINABLE);
	qemu_mutex_lock(&f.lock);
	f.set = true;
	qemu_cond_broadcast(&f.cond);
	qemu_mutex_unlock(&f.lock);
	for (int i = 0; i < 3; i++)
		qemu_thread_join(&t[i]);
	assert_int_equal(f.woken, 3);
	qemu_cond_destroy(&f.cond);
	qemu_mutex_destroy(&f.lock);
}

/* ---- semaphore ---- */

static void test_sem_counts(void **state)
{
	QemuSemaphore s;

	qemu_sem_init(&s, 2);
	assert_int_equal(qemu_sem_timedwait(&s, 0), 0);
	qemu_sem_wait(&s);
	assert_int_equal(qemu_sem_timedwait(&s, 0), -1);
	for (int i = 0; i < 3; i++)
		qemu_sem_post(&s);
	for (int i = 0; i < 3; i++)
		assert_int_equal(qemu_sem_timedwait(&s, 0), 0);
	assert_int_equal(qemu_sem_timedwait(&s, 0), -1);
	qemu_sem_destroy(&s);
}

static void test_sem_timedwait_timeout(void **state)
{
	QemuSemaphore s;
	int64_t start, elapsed;

	qemu_sem_init(&s, 0);
	start = now_ms();
	assert_int_equal(qemu_sem_timedwait(&s, 30), -1);
	elapsed = now_ms() - start;
	assert_true(elapsed >= 29);
	assert_true(elapsed < 1000);
	qemu_sem_destroy(&s);
}

static void *post_fn(void *arg)
{
	QemuSemaphore *s = arg;

	usleep(10 * 1000);
	qemu_sem_post(s);
	qemu_sem_post(s);
	return NULL;
}

static void test_sem_post_wakes_waiter(void **state)
{
	QemuSemaphore s;
	QemuThread t;

	qemu_sem_init(&s, 0);
	qemu_thread_create(&t, "post", post_fn, &s, QEMU_THREAD_JOINABLE);
	qemu_sem_wait(&s);
	assert_int_equal(qemu_sem_timedwait(&s, 2000), 0);
	qemu_thread_join(&t);
	assert_int_equal(qemu_sem_timedwait(&s, 0), -1);
	qemu_sem_destroy(&s);
}

/* ---- lock guards ---- */

static bool is_locked(QemuMutex *m)
{
	if (qemu_mutex_trylock(m) == -EBUSY)
		return true;
	qemu_mutex_unlock(m);
	return false;
}

static int guard_until_return(QemuMutex *m, bool *locked_inside)
{
	QEMU_LOCK_GUARD(m);
	*locked_inside = is_locked(m);
	return 42;
}

static void test_lock_guard_releases_on_return(void **state)
{
	bool locked_inside = false;
	QemuMutex m;

	qemu_mutex_init(&m);
	assert_int_equal(guard_until_return(&m, &locked_inside), 42);
	assert_true(locked_inside);
	assert_false(is_locked(&m));
	qemu_mutex_destroy(&m);
}

/* two guards in one scope, a third nested; all released, in any exit */
static int guard_nested(QemuMutex *a, QemuMutex *b, QemuMutex *c, bool early,
			int *locked)
{
	QEMU_LOCK_GUARD(a);
	QEMU_LOCK_GUARD(b);
	QEMU_LOCK_GUARD(NULL);
	{
		QEMU_LOCK_GUARD(c);
		*locked = is_locked(a) + is_locked(b) + is_locked(c);
		if (early)
			return 1;
	}
	*locked += is_locked(c) ? 10 : 0;
	return 2;
}

static void test_lock_guard_nested(void **state)
{
	QemuMutex a, b, c;
	int locked = 0;

	qemu_mutex_init(&a);
	qemu_mutex_init(&b);
	qemu_mutex_init(&c);
	assert_int_equal(guard_nested(&a, &b, &c, true, &locked), 1);
	assert_int_equal(locked, 3);
	assert_false(is_locked(&a) || is_locked(&b) || is_locked(&c));
	assert_int_equal(guard_nested(&a, &b, &c, false, &locked), 2);
	assert_int_equal(locked, 3);	/* c released at the end of its block */
	assert_false(is_locked(&a) || is_locked(&b) || is_locked(&c));
	qemu_mutex_destroy(&c);
	qemu_mutex_destroy(&b);
	qemu_mutex_destroy(&a);
}

static int with_guard_return(QemuMutex *m, bool *locked_inside)
{
	WITH_QEMU_LOCK_GUARD(m) {
		*locked_inside = is_locked(m);
		return 7;
	}
	return -1;
}

static void test_with_lock_guard(void **state)
{
	bool locked_inside = false;
	int runs = 0;
	QemuMutex m, n;

	qemu_mutex_init(&m);
	qemu_mutex_init(&n);

	/* normal exit: the body runs once, locked, and is unlocked after */
	WITH_QEMU_LOCK_GUARD(&m) {
		runs++;
		locked_inside = is_locked(&m);
	}
	assert_int_equal(runs, 1);
	assert_true(locked_inside);
	assert_false(is_locked(&m));

	/* break leaves early and unlocks */
	runs = 0;
	locked_inside = false;
	WITH_QEMU_LOCK_GUARD(&m) {
		locked_inside = is_locked(&m);
		if (locked_inside)
			break;
		runs++;
	}
	assert_true(locked_inside);
	assert_int_equal(runs, 0);
	assert_false(is_locked(&m));

	/* continue ends the one iteration and unlocks */
	runs = 0;
	WITH_QEMU_LOCK_GUARD(&m) {
		runs++;
		continue;
	}
	assert_int_equal(runs, 1);
	assert_false(is_locked(&m));

	/* return unlocks */
	locked_inside = false;
	assert_int_equal(with_guard_return(&m, &locked_inside), 7);
	assert_true(locked_inside);
	assert_false(is_locked(&m));

	/* nested */
	runs = 0;
	WITH_QEMU_LOCK_GUARD(&m) {
		WITH_QEMU_LOCK_GUARD(&n) {
			runs += is_locked(&m) + is_locked(&n);
		}
		runs += is_locked(&n) ? 10 : 0;
	}
	assert_int_equal(runs, 2);
	assert_false(is_locked(&m) || is_locked(&n));

	qemu_mutex_destroy(&n);
	qemu_mutex_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_thread_join_returns_value),
		cmocka_unit_test(test_thread_try_create),
		cmocka_unit_test(test_thread_detached),
		cmocka_unit_test(test_thread_is_self),
		cmocka_unit_test(test_thread_signals_blocked),
		cmocka_unit_test(test_thread_name_truncated),
		cmocka_unit_test(test_mutex_trylock_busy),
		cmocka_unit_test(test_mutex_lock_after_destroy_aborts),
		cmocka_unit_test(test_mutex_destroy_locked_aborts),
		cmocka_unit_test(test_cond_sem_after_destroy_abort),
		cmocka_unit_test(test_cond_timedwait_times_out),
		cmocka_unit_test(test_cond_timedwait_signalled),
		cmocka_unit_test(test_cond_broadcast),
		cmocka_unit_test(test_sem_counts),
		cmocka_unit_test(test_sem_timedwait_timeout),
		cmocka_unit_test(test_sem_post_wakes_waiter),
		cmocka_unit_test(test_lock_guard_releases_on_return),
		cmocka_unit_test(test_lock_guard_nested),
		cmocka_unit_test(test_with_lock_guard),
	};

	return cmocka_run_group_tests_name("core_thread", tests, NULL, NULL);
}
