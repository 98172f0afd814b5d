/*
 * QEMU-style thread and lock wrappers over pthreads (see thread.h). A pthread
 * error that cannot happen in a correct program is fatal: it prints
 * "qemu: <function>: <strerror>" and aborts.
 */
#define _GNU_SOURCE	/* pthread_setname_np */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness_points.h"
#include "thread.h"

/* what a new thread needs before it runs fn; freed by the thread itself */
struct thread_start {
	void *(*fn)(void *);
	void *arg;
	char name[16];	/* the kernel keeps 15 characters and a NUL */
};

static void error_exit(int err, const char *where)
{
	fprintf(stderr, "qemu: %s: %s\n", where, strerror(err));
	abort();
}

static void *thread_start(void *opaque)
{
	struct thread_start start = *(struct thread_start *)opaque;

	free(opaque);
	if (start.name[0])
		pthread_setname_np(pthread_self(), start.name);
	return start.fn(start.arg);
}

/*
 * Creates the thread with every signal blocked: the new thread inherits the
 * mask in force at pthread_create, and the caller's mask is restored after.
 * Returns 0 or a positive errno.
 */
static int thread_spawn(QemuThread *thread, const char *name,
			void *(*fn)(void *), void *arg, int mode)
{
	struct thread_start *start;
	sigset_t all, old;
	pthread_attr_t attr;
	int err, mask_err;

	start = calloc(1, sizeof(*start));
	if (!start)
		return ENOMEM;
	start->fn = fn;
	start->arg = arg;
	if (name)
		snprintf(start->name, sizeof(start->name), "%s", name);

	err = pthread_attr_init(&attr);
	if (err)
		goto out_free;
	if (mode == QEMU_THREAD_DETACHED) {
		err = pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (err)
			goto out_attr;
	}

	sigfillset(&all);
	err = pthread_sigmask(SIG_SETMASK, &all, &old);
	if (err)
		error_exit(err, __func__);
	err = pthread_create(&thread->thread, &attr, thread_start, start);
	mask_err = pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (mask_err)
		error_exit(mask_err, __func__);

out_attr:
	pthread_attr_destroy(&attr);
out_free:
	if (err)
		free(start);
	return err;
}

void qemu_thread_create(QemuThread *thread, const char *name,
			void *(*fn)(void *), void *arg, int mode)
{
	int err = thread_spawn(thread, name, fn, arg, mode);

	if (err)
		error_exit(err, __func__);
}

int qemu_thread_try_create(QemuThread *thread, const char *name,
			   void *(*fn)(void *), void *arg, int mode)
{
	CORE_FAULT(THREAD_CREATE, -EAGAIN);
	return -thread_spawn(thread, name, fn, arg, mode);
}

void *qemu_thread_join(QemuThread *thread)
{
	void *ret;
	int err = pthread_join(thread->thread, &ret);

	if (err)
		error_exit(err, __func__);
	return ret;
}

bool qemu_thread_is_self(const QemuThread *thread)
{
	return pthread_equal(pthread_self(), thread->thread);
}

void qemu_thread_get_self(QemuThread *thread)
{
	thread->thread = pthread_self();
}

void qemu_mutex_init(QemuMutex *mutex)
{
	int err = pthread_mutex_init(&mutex->lock, NULL);

	if (err)
		error_exit(err, __func__);
	mutex->initialized = true;
}

void qemu_mutex_destroy(QemuMutex *mutex)
{
	int err;

	assert(mutex->initialized);
	mutex->initialized = false;
	err = pthread_mutex_destroy(&mutex->lock);
	if (err)
		error_exit(err, __func__);
}

void qemu_mutex_lock(QemuMutex *mutex)
{
	int err;

	assert(mutex->initialized);
	err = pthread_mutex_lock(&mutex->lock);
	if (err)
		error_exit(err, __func__);
}

int qemu_mutex_trylock(QemuMutex *mutex)
{
	int err;

	assert(mutex->initialized);
	err = pthread_mutex_trylock(&mutex->lock);
	if (err == EBUSY)
		return -EBUSY;
	if (err)
		error_exit(err, __func__);
	return 0;
}

void qemu_mutex_unlock(QemuMutex *mutex)
{
	int err;

	assert(mutex->initialized);
	err = pthread_mutex_unlock(&mutex->lock);
	if (err)
		error_exit(err, __func__);
}

void qemu_cond_init(QemuCond *cond)
{
	pthread_condattr_t attr;
	int err;

	err = pthread_condattr_init(&attr);
	if (err)
		error_exit(err, __func__);
	err = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (err)
		error_exit(err, __func__);
	err = pthread_cond_init(&cond->cond, &attr);
	if (err)
		error_exit(err, __func__);
	pthread_condattr_destroy(&attr);
	cond->initialized = true;
}

void qemu_cond_destroy(QemuCond *cond)
{
	int err;

	assert(cond->initialized);
	cond->initialized = false;
	err = pthread_cond_destroy(&cond->cond);
	if (err)
		error_exit(err, __func__);
}

void qemu_cond_signal(QemuCond *cond)
{
	int err;

	assert(cond->initialized);
	err = pthread_cond_signal(&cond->cond);
	if (err)
		error_exit(err, __func__);
}

void qemu_cond_broadcast(QemuCond *cond)
{
	int err;

	assert(cond->initialized);
	err = pthread_cond_broadcast(&cond->cond);
	if (err)
		error_exit(err, __func__);
}

void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex)
{
	int err;

	assert(cond->initialized);
	assert(mutex->initialized);
	err = pthread_cond_wait(&cond->cond, &mutex->lock);
	if (err)
		error_exit(err, __func__);
}

/* The CLOCK_MONOTONIC time ms milliseconds from now (ms >= 0). */
static struct timespec deadline_after(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Waits until woken or until the absolute deadline; false on timeout. */
static bool cond_wait_until(QemuCond *cond, QemuMutex *mutex,
			    const struct timespec *deadline)
{
	int err = pthread_cond_timedwait(&cond->cond, &mutex->lock, deadline);

	if (err == ETIMEDOUT)
		return false;
	if (err)
		error_exit(err, "qemu_cond_timedwait");
	return true;
}

bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms)
{
	struct timespec deadline;

	assert(cond->initialized);
	assert(mutex->initialized);
	if (ms < 0) {
		qemu_cond_wait(cond, mutex);
		return true;
	}
	deadline = deadline_after(ms);
	return cond_wait_until(cond, mutex, &deadline);
}

void qemu_sem_init(QemuSemaphore *sem, int init)
{
	assert(init >= 0);
	qemu_mutex_init(&sem->mutex);
	qemu_cond_init(&sem->cond);
	sem->count = (unsigned int)init;
	sem->initialized = true;
}

void qemu_sem_destroy(QemuSemaphore *sem)
{
	assert(sem->initialized);
	sem->initialized = false;
	qemu_cond_destroy(&sem->cond);
	qemu_mutex_destroy(&sem->mutex);
}

void qemu_sem_post(QemuSemaphore *sem)
{
	assert(sem->initialized);
	qemu_mutex_lock(&sem->mutex);
	if (sem->count == UINT_MAX)
		error_exit(EINVAL, __func__);
	sem->count++;
	qemu_cond_signal(&sem->cond);
	qemu_mutex_unlock(&sem->mutex);
}

void qemu_sem_wait(QemuSemaphore *sem)
{
	assert(sem->initialized);
	qemu_mutex_lock(&sem->mutex);
	while (sem->count == 0)
		qemu_cond_wait(&sem->cond, &sem->mutex);
	sem->count--;
	qemu_mutex_unlock(&sem->mutex);
}

int qemu_sem_timedwait(QemuSemaphore *sem, int ms)
{
	struct timespec deadline;
	int ret = 0;

	assert(sem->initialized);
	if (ms < 0) {
		qemu_sem_wait(sem);
		return 0;
	}
	deadline = deadline_after(ms);
	qemu_mutex_lock(&sem->mutex);
	/* one deadline for the whole wait, however many spurious wakeups */
	while (sem->count == 0) {
		if (!cond_wait_until(&sem->cond, &sem->mutex, &deadline))
			break;
	}
	if (sem->count > 0)
		sem->count--;
	else
		ret = -1;
	qemu_mutex_unlock(&sem->mutex);
	return ret;
}
