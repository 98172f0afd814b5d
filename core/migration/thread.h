/*
 * QEMU-style thread and lock wrappers over pthreads: threads created with all
 * signals blocked, mutexes, condition variables and semaphores that assert
 * they were initialized, and scoped lock guards (QEMU_LOCK_GUARD).
 */
#ifndef CORE_THREAD_H
#define CORE_THREAD_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>

/* A thread handle; there is no "was it created" query, keep a flag for that. */
typedef struct QemuThread {
	pthread_t thread;
} QemuThread;

/* modes of qemu_thread_create() */
#define QEMU_THREAD_JOINABLE 0	/* must be joined with qemu_thread_join() */
#define QEMU_THREAD_DETACHED 1	/* releases itself when fn returns */

typedef struct QemuMutex {
	pthread_mutex_t lock;
	bool initialized;	/* set by init, cleared by destroy */
} QemuMutex;

typedef struct QemuCond {
	pthread_cond_t cond;	/* waits measured on CLOCK_MONOTONIC */
	bool initialized;
} QemuCond;

/* A counting semaphore made of a mutex, a condition variable and a count. */
typedef struct QemuSemaphore {
	QemuMutex mutex;
	QemuCond cond;
	unsigned int count;	/* under mutex */
	bool initialized;
} QemuSemaphore;

/*
 * Starts fn(arg) in a new thread named name (truncated to 15 characters)
 * with every signal blocked, so that signals go to the main thread. mode is
 * QEMU_THREAD_JOINABLE or QEMU_THREAD_DETACHED. Any failure is fatal: it
 * prints "qemu: <function>: <strerror>" and aborts.
 */
void qemu_thread_create(QemuThread *thread, const char *name,
			void *(*fn)(void *), void *arg, int mode);

/*
 * Same as qemu_thread_create(), but returns 0 on success or -errno when the
 * thread could not be created. Carries the fault point core/thread/create,
 * which makes it fail with -EAGAIN.
 */
int qemu_thread_try_create(QemuThread *thread, const char *name,
			   void *(*fn)(void *), void *arg, int mode);

/* Waits for a joinable thread and returns what its fn returned; aborts on error. */
void *qemu_thread_join(QemuThread *thread);
bool qemu_thread_is_self(const QemuThread *thread);
void qemu_thread_get_self(QemuThread *thread);

void qemu_mutex_init(QemuMutex *mutex);
/* The mutex must be unlocked: destroying a locked one aborts. */
void qemu_mutex_destroy(QemuMutex *mutex);
void qemu_mutex_lock(QemuMutex *mutex);
/* Returns 0 with the mutex locked, or -EBUSY if another holder has it. */
int qemu_mutex_trylock(QemuMutex *mutex);
void qemu_mutex_unlock(QemuMutex *mutex);

/*
 * Condition variables. Signal and broadcast only reach the current waiters
 * reliably when called with the mutex those waiters use held.
 */
void qemu_cond_init(QemuCond *cond);
void qemu_cond_destroy(QemuCond *cond);
void qemu_cond_signal(QemuCond *cond);
void qemu_cond_broadcast(QemuCond *cond);
/* Expects mutex held; releases it while waiting and holds it again on return. */
void qemu_cond_wait(QemuCond *cond, QemuMutex *mutex);
/*
 * As qemu_cond_wait(), for at most ms milliseconds (ms < 0: no limit).
 * Returns false if the time ran out, true if woken (spurious wakeups
 * included: callers re-check their predicate).
 */
bool qemu_cond_timedwait(QemuCond *cond, QemuMutex *mutex, int ms);

/* Semaphores: init sets the count, post increments it, wait decrements it. */
void qemu_sem_init(QemuSemaphore *sem, int init);
void qemu_sem_destroy(QemuSemaphore *sem);
void qemu_sem_post(QemuSemaphore *sem);
void qemu_sem_wait(QemuSemaphore *sem);
/* Waits at most ms milliseconds for the count; returns 0, or -1 on timeout. */
int qemu_sem_timedwait(QemuSemaphore *sem, int ms);

/*
 * Scoped lock guards, in plain C with __attribute__((cleanup)).
 *
 *     int get(struct s *s)
 *     {
 *         QEMU_LOCK_GUARD(&s->lock);    (locked until the function returns)
 *         return s->value;
 *     }
 *
 *     WITH_QEMU_LOCK_GUARD(&s->lock) {  (locked inside the block only;
 *         if (s->done)                   break and return unlock too)
 *             break;
 *         s->value++;
 *     }
 *
 * QEMU_LOCK_GUARD declares a variable, so it goes where a declaration may;
 * QEMU_LOCK_GUARD(NULL) does nothing. WITH_QEMU_LOCK_GUARD needs a mutex;
 * continue in its block ends it like break. Both nest and can be used
 * several times in one function. Do not jump (goto) into a guarded scope.
 */
static inline QemuMutex *qemu_lock_guard_enter(QemuMutex *mutex)
{
	if (mutex)
		qemu_mutex_lock(mutex);
	return mutex;
}

static inline QemuMutex *qemu_lock_guard_enter_nonnull(QemuMutex *mutex)
{
	assert(mutex);	/* with NULL, WITH_QEMU_LOCK_GUARD would skip its body */
	qemu_mutex_lock(mutex);
	return mutex;
}

/* cleanup handler: unlocks the guard's mutex unless already released */
static inline void qemu_lock_guard_leave(QemuMutex **guard)
{
	if (*guard) {
		qemu_mutex_unlock(*guard);
		*guard = NULL;
	}
}

#define QEMU_GUARD_PASTE(a, b) a##b
#define QEMU_GUARD_CONCAT(a, b) QEMU_GUARD_PASTE(a, b)
#define QEMU_GUARD_NAME(prefix) QEMU_GUARD_CONCAT(prefix, __COUNTER__)

#define QEMU_LOCK_GUARD_NAMED(mutex, var)					\
	QemuMutex *var __attribute__((cleanup(qemu_lock_guard_leave), unused)) = \
		qemu_lock_guard_enter(mutex)
#define QEMU_LOCK_GUARD(mutex) \
	QEMU_LOCK_GUARD_NAMED(mutex, QEMU_GUARD_NAME(qemu_lock_guard_))

/* the iteration expression unlocks on normal exit; cleanup covers break and return */
#define WITH_QEMU_LOCK_GUARD_NAMED(mutex, var)				\
	for (QemuMutex *var __attribute__((cleanup(qemu_lock_guard_leave))) = \
		     qemu_lock_guard_enter_nonnull(mutex);		\
	     var; qemu_lock_guard_leave(&var))
#define WITH_QEMU_LOCK_GUARD(mutex) \
	WITH_QEMU_LOCK_GUARD_NAMED(mutex, QEMU_GUARD_NAME(qemu_with_lock_guard_))

#endif
