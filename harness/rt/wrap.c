/*
 * The interceptors (intercept.h: strong definitions under the functions' own
 * names, exported from the executable, so that shared libraries' calls come
 * here too) of the pthread, semaphore, sleep and clock API, exit and
 * syscall(SYS_futex). In a controlled thread each call is a scheduling point:
 * the model decides when it may proceed, then the real primitive is called
 * (REAL: the sanitizer's interceptor or libc's), which no longer blocks, so
 * ThreadSanitizer sees the program's real synchronisation. Calls from threads
 * the runtime does not control go straight through.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "intercept.h"
#include "rt.h"

#define RETADDR ((uintptr_t)__builtin_return_address(0))

/* The wrappers are not instrumented, so without help TSan's stacks would lose
 * the program's frame that called them. Each wrapper pushes its call site on
 * TSan's shadow stack for its duration (only in TSan builds: weak symbols). */
extern void __tsan_func_entry(void *pc) __attribute__((weak));
extern void __tsan_func_exit(void) __attribute__((weak));

static inline int tsan_enter(void *pc)
{
	if (__tsan_func_entry)
		__tsan_func_entry(pc);
	return 0;
}

static inline void tsan_leave(int *unused)
{
	(void)unused;
	if (__tsan_func_exit)
		__tsan_func_exit();
}

#define TSAN_FRAME() \
	int tsan_frame_ __attribute__((cleanup(tsan_leave), unused)) = tsan_enter(__builtin_return_address(0))

/* glibc keeps the pre-2.3.2 condition variables under the unversioned names
 * dlsym finds first: the current ones are asked for by version. */
#define COND_VERSION "GLIBC_2.3.2"

INTERCEPT_REAL(int, pthread_create, pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);
INTERCEPT_REAL(int, pthread_join, pthread_t, void **);
INTERCEPT_REAL(int, pthread_setname_np, pthread_t, const char *);
INTERCEPT_REAL(int, pthread_detach, pthread_t);
INTERCEPT_REAL(void, pthread_exit, void *);
INTERCEPT_REAL(pthread_t, pthread_self, void);
INTERCEPT_REAL(int, pthread_cancel, pthread_t);
INTERCEPT_REAL(int, pthread_mutex_init, pthread_mutex_t *, const pthread_mutexattr_t *);
INTERCEPT_REAL(int, pthread_mutex_destroy, pthread_mutex_t *);
INTERCEPT_REAL(int, pthread_mutex_lock, pthread_mutex_t *);
INTERCEPT_REAL(int, pthread_mutex_trylock, pthread_mutex_t *);
INTERCEPT_REAL(int, pthread_mutex_unlock, pthread_mutex_t *);
INTERCEPT_REAL_V(int, pthread_cond_init, COND_VERSION, pthread_cond_t *, const pthread_condattr_t *);
INTERCEPT_REAL_V(int, pthread_cond_destroy, COND_VERSION, pthread_cond_t *);
INTERCEPT_REAL_V(int, pthread_cond_wait, COND_VERSION, pthread_cond_t *, pthread_mutex_t *);
INTERCEPT_REAL_V(int, pthread_cond_timedwait, COND_VERSION, pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
INTERCEPT_REAL(int, pthread_cond_clockwait, pthread_cond_t *, pthread_mutex_t *, clockid_t, const struct timespec *);
INTERCEPT_REAL(int, pthread_mutex_clocklock, pthread_mutex_t *, clockid_t, const struct timespec *);
INTERCEPT_REAL_V(int, pthread_cond_signal, COND_VERSION, pthread_cond_t *);
INTERCEPT_REAL_V(int, pthread_cond_broadcast, COND_VERSION, pthread_cond_t *);
INTERCEPT_REAL(int, pthread_mutex_timedlock, pthread_mutex_t *, const struct timespec *);
INTERCEPT_REAL(int, pthread_rwlock_init, pthread_rwlock_t *, const pthread_rwlockattr_t *);
INTERCEPT_REAL(int, pthread_rwlock_destroy, pthread_rwlock_t *);
INTERCEPT_REAL(int, pthread_rwlock_rdlock, pthread_rwlock_t *);
INTERCEPT_REAL(int, pthread_rwlock_wrlock, pthread_rwlock_t *);
INTERCEPT_REAL(int, pthread_rwlock_tryrdlock, pthread_rwlock_t *);
INTERCEPT_REAL(int, pthread_rwlock_trywrlock, pthread_rwlock_t *);
INTERCEPT_REAL(int, pthread_rwlock_timedrdlock, pthread_rwlock_t *, const struct timespec *);
INTERCEPT_REAL(int, pthread_rwlock_timedwrlock, pthread_rwlock_t *, const struct timespec *);
INTERCEPT_REAL(int, pthread_rwlock_unlock, pthread_rwlock_t *);
INTERCEPT_REAL(int, pthread_once, pthread_once_t *, void (*)(void));
INTERCEPT_REAL(int, sem_init, sem_t *, int, unsigned);
INTERCEPT_REAL(int, sem_destroy, sem_t *);
INTERCEPT_REAL(int, sem_wait, sem_t *);
INTERCEPT_REAL(int, sem_trywait, sem_t *);
INTERCEPT_REAL(int, sem_timedwait, sem_t *, const struct timespec *);
INTERCEPT_REAL(int, sem_post, sem_t *);
INTERCEPT_REAL(int, sched_yield, void);
INTERCEPT_REAL(unsigned, sleep, unsigned);
INTERCEPT_REAL(int, usleep, useconds_t);
INTERCEPT_REAL(int, nanosleep, const struct timespec *, struct timespec *);
INTERCEPT_REAL(int, clock_nanosleep, clockid_t, int, const struct timespec *, struct timespec *);
INTERCEPT_REAL(int, clock_gettime, clockid_t, struct timespec *);
INTERCEPT_REAL(int, gettimeofday, struct timeval *, void *);
INTERCEPT_REAL(time_t, time, time_t *);
INTERCEPT_REAL(void, exit, int);
INTERCEPT_REAL(long, syscall, long, ...);
INTERCEPT_REAL(int, __register_atfork, void (*)(void), void (*)(void), void (*)(void), void *);

/* Every real function looked up once, in the fork server before its first
 * fork, so that no run does the lookup (dlsym) at a point of its own. */
static void __attribute__((constructor)) resolve_reals(void)
{
	(void)intercept_real_pthread_create();
	(void)intercept_real_pthread_join();
	(void)intercept_real_pthread_setname_np();
	(void)intercept_real_pthread_detach();
	(void)intercept_real_pthread_exit();
	(void)intercept_real_pthread_self();
	(void)intercept_real_pthread_cancel();
	(void)intercept_real_pthread_mutex_init();
	(void)intercept_real_pthread_mutex_destroy();
	(void)intercept_real_pthread_mutex_lock();
	(void)intercept_real_pthread_mutex_trylock();
	(void)intercept_real_pthread_mutex_unlock();
	(void)intercept_real_pthread_cond_init();
	(void)intercept_real_pthread_cond_destroy();
	(void)intercept_real_pthread_cond_wait();
	(void)intercept_real_pthread_cond_timedwait();
	(void)intercept_real_pthread_cond_clockwait();
	(void)intercept_real_pthread_mutex_clocklock();
	(void)intercept_real_pthread_cond_signal();
	(void)intercept_real_pthread_cond_broadcast();
	(void)intercept_real_pthread_mutex_timedlock();
	(void)intercept_real_pthread_rwlock_init();
	(void)intercept_real_pthread_rwlock_destroy();
	(void)intercept_real_pthread_rwlock_rdlock();
	(void)intercept_real_pthread_rwlock_wrlock();
	(void)intercept_real_pthread_rwlock_tryrdlock();
	(void)intercept_real_pthread_rwlock_trywrlock();
	(void)intercept_real_pthread_rwlock_timedrdlock();
	(void)intercept_real_pthread_rwlock_timedwrlock();
	(void)intercept_real_pthread_rwlock_unlock();
	(void)intercept_real_pthread_once();
	(void)intercept_real_sem_init();
	(void)intercept_real_sem_destroy();
	(void)intercept_real_sem_wait();
	(void)intercept_real_sem_trywait();
	(void)intercept_real_sem_timedwait();
	(void)intercept_real_sem_post();
	(void)intercept_real_sched_yield();
	(void)intercept_real_sleep();
	(void)intercept_real_usleep();
	(void)intercept_real_nanosleep();
	(void)intercept_real_clock_nanosleep();
	(void)intercept_real_clock_gettime();
	(void)intercept_real_gettimeofday();
	(void)intercept_real_time();
	(void)intercept_real_exit();
	(void)intercept_real_syscall();
	(void)intercept_real___register_atfork();
}

/* ---- virtual time ---------------------------------------------------- */

static int64_t clock_base_ns(clockid_t clk)
{
	bool mono = clk == CLOCK_MONOTONIC || clk == CLOCK_MONOTONIC_RAW ||
		    clk == CLOCK_MONOTONIC_COARSE || clk == CLOCK_BOOTTIME;
	return (mono ? VT_MONOTONIC_BASE_S : VT_REALTIME_BASE_S) * 1000000000LL;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

/* Virtual deadline of an absolute timeout on clock clk. */
static int64_t abs_deadline(clockid_t clk, const struct timespec *abstime)
{
	int64_t d = ts_ns(abstime) - clock_base_ns(clk);
	return d < 0 ? 0 : d;
}

static bool virtual_clock(clockid_t clk)
{
	return clk == CLOCK_REALTIME || clk == CLOCK_MONOTONIC || clk == CLOCK_MONOTONIC_RAW ||
	       clk == CLOCK_REALTIME_COARSE || clk == CLOCK_MONOTONIC_COARSE ||
	       clk == CLOCK_BOOTTIME;
}

static void sleep_for(int64_t ns, uintptr_t pc);

/* A thread that reads the clock CLOCK_POLL_READS times in a row with no
 * decision in between (polling for a deadline, with nothing else to wait on)
 * sleeps CLOCK_POLL_NS at the next read: a decision where the others run and,
 * when none can, virtual time moves on, so the deadline comes. */
#define CLOCK_POLL_READS 64
#define CLOCK_POLL_NS 1000000

static __thread uint64_t poll_step = UINT64_MAX;
static __thread unsigned poll_reads;

static void clock_read(uintptr_t pc)
{
	uint64_t step = rt_steps();
	if (step != poll_step) {
		poll_step = step;
		poll_reads = 0;
	}
	if (++poll_reads > CLOCK_POLL_READS) {
		poll_reads = 0;
		sleep_for(CLOCK_POLL_NS, pc);
		poll_step = rt_steps();
	}
}

int clock_gettime(clockid_t clk, struct timespec *ts)
{
	if (!rt_managed() || !virtual_clock(clk))
		return REAL(clock_gettime)(clk, ts);
	clock_read(RETADDR);
	int64_t ns = clock_base_ns(clk) + rt_now();
	ts->tv_sec = ns / 1000000000LL;
	ts->tv_nsec = ns % 1000000000LL;
	return 0;
}

int gettimeofday(struct timeval *tv_, void *tz)
{
	/* glibc declares tv nonnull, but a null tv is allowed (it is for tz
	 * alone): the compiler must not drop the check */
	struct timeval *tv = tv_;
	__asm__("" : "+r"(tv));
	if (!rt_managed() || !tv)
		return REAL(gettimeofday)(tv, tz);
	clock_read(RETADDR);
	int64_t ns = clock_base_ns(CLOCK_REALTIME) + rt_now();
	tv->tv_sec = ns / 1000000000LL;
	tv->tv_usec = ns % 1000000000LL / 1000;
	return 0;
}

time_t time(time_t *out)
{
	if (!rt_managed())
		return REAL(time)(out);
	clock_read(RETADDR);
	time_t t = (time_t)((clock_base_ns(CLOCK_REALTIME) + rt_now()) / 1000000000LL);
	if (out)
		*out = t;
	return t;
}

static struct op mkop(enum op_kind kind, struct mobj *obj, uintptr_t pc)
{
	return (struct op){ .kind = kind, .obj = obj, .deadline = MODEL_NO_DEADLINE, .pc = pc };
}

static void sleep_for(int64_t ns, uintptr_t pc)
{
	struct op op = mkop(ns > 0 ? OP_SLEEP : OP_YIELD, NULL, pc);
	if (ns > 0)
		op.deadline = rt_now() + ns;
	rt_point(&op);
}

unsigned sleep(unsigned s)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(sleep)(s);
	sleep_for((int64_t)s * 1000000000LL, RETADDR);
	return 0;
}

int usleep(useconds_t us)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(usleep)(us);
	sleep_for((int64_t)us * 1000, RETADDR);
	return 0;
}

int nanosleep(const struct timespec *req, struct timespec *rem)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(nanosleep)(req, rem);
	if (!req || req->tv_nsec < 0 || req->tv_nsec >= 1000000000L) {
		errno = EINVAL;
		return -1;
	}
	sleep_for(ts_ns(req), RETADDR);
	if (rem)
		rem->tv_sec = rem->tv_nsec = 0;
	return 0;
}

int clock_nanosleep(clockid_t clk, int flags, const struct timespec *req,
			   struct timespec *rem)
{
	if (!rt_managed() || !virtual_clock(clk))
		return REAL(clock_nanosleep)(clk, flags, req, rem);
	if (req->tv_nsec < 0 || req->tv_nsec >= 1000000000L)
		return EINVAL;
	int64_t ns = flags & TIMER_ABSTIME ? abs_deadline(clk, req) - rt_now() : ts_ns(req);
	sleep_for(ns, RETADDR);
	if (rem && !(flags & TIMER_ABSTIME))
		rem->tv_sec = rem->tv_nsec = 0;
	return 0;
}

int sched_yield(void)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(sched_yield)();
	struct op op = mkop(OP_YIELD, NULL, RETADDR);
	rt_point(&op);
	return 0;
}

/* ---- threads --------------------------------------------------------- */

int pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
	TSAN_FRAME();
	if (!rt_managed())
		rt_premain_thread(fn);
	if (!rt_managed())
		return REAL(pthread_create)(th, attr, fn, arg);
	int tid = rt_thread_new(fn, arg);
	if (tid < 0)
		rt_fail("harness:too-many-threads", "the program started more than %d threads in one run",
			MODEL_MAX_THREADS);
	int rc = REAL(pthread_create)(th, attr, rt_thread_trampoline, rt_thread_slot(tid));
	if (rc) {
		rt_model()->threads[tid].status = TS_FINISHED;
		rt_model()->threads[tid].pending.kind = OP_NONE;
		return rc;
	}
	rt_thread_wait_started(tid);
	rt_thread_set_handle(tid, (uintptr_t)*th);
	int detached = 0;
	if (attr && pthread_attr_getdetachstate(attr, &detached) == 0 && detached == PTHREAD_CREATE_DETACHED)
		rt_model()->threads[tid].detached = true;
	struct op op = mkop(OP_CREATE, NULL, RETADDR);
	op.obj_tid = tid;
	rt_point(&op);
	return 0;
}

/* Not a scheduling point: the name goes into reports (unjoined threads). */
int pthread_setname_np(pthread_t th, const char *name)
{
	int tid;
	if (rt_managed() && (tid = rt_thread_by_handle((uintptr_t)th)) >= 0)
		rt_thread_set_name(tid, name);
	return REAL(pthread_setname_np)(th, name);
}

int pthread_join(pthread_t th, void **ret)
{
	TSAN_FRAME();
	int tid;
	if (!rt_managed() || (tid = rt_thread_by_handle((uintptr_t)th)) < 0)
		return REAL(pthread_join)(th, ret);
	if (tid == rt_self())
		return EDEADLK;
	struct op op = mkop(OP_JOIN, NULL, RETADDR);
	op.obj_tid = tid;
	rt_point(&op);
	rt_mark_joined(tid);
	return REAL(pthread_join)(th, ret);
}

int pthread_detach(pthread_t th)
{
	TSAN_FRAME();
	int tid;
	if (!rt_managed() || (tid = rt_thread_by_handle((uintptr_t)th)) < 0)
		return REAL(pthread_detach)(th);
	struct op op = mkop(OP_DETACH, NULL, RETADDR);
	op.obj_tid = tid;
	rt_point(&op);
	rt_model()->threads[tid].detached = true;
	return REAL(pthread_detach)(th);
}

void pthread_exit(void *ret)
{
	if (rt_managed())
		rt_thread_exit(RETADDR);
	REAL(pthread_exit)(ret);
	__builtin_unreachable();
}

/* Cancellation is not modelled (a cancelled thread would leave its waits and
 * run its clean-up handlers where the model does not follow): a controlled
 * thread's pthread_cancel stops the run, named as the harness's limit. */
int pthread_cancel(pthread_t th)
{
	if (!rt_managed())
		return REAL(pthread_cancel)(th);
	int tid = rt_thread_by_handle((uintptr_t)th);
	rt_fail("harness:pthread-cancel", "pthread_cancel of T%d: thread cancellation is not modelled "
		"(stop the thread with a flag and a wake-up instead)", tid);
}

pthread_t pthread_self(void)
{
	return REAL(pthread_self)();
}

void exit(int code)
{
	rt_run_end();
	REAL(exit)(code);
	__builtin_unreachable();
}

/* ---- fork handlers ------------------------------------------------------
 *
 * pthread_atfork (a static stub in every object that calls it) registers
 * through libc's __register_atfork. Handlers registered before a run (by
 * constructors) are kept back from libc until the run begins: the fork
 * server's forks are not the program's, and a child handler that starts a
 * thread (QEMU's RCU restarts its call_rcu thread) must not run there,
 * uncontrolled. In a run they are registered in their order, and the
 * program's own forks run them as libc does. */
#define RT_MAX_ATFORK 64

static struct atfork {
	void (*prepare)(void), (*parent)(void), (*child)(void);
	void *dso;
} atfork_kept[RT_MAX_ATFORK];
static int atfork_n;
static bool atfork_direct;

int __register_atfork(void (*prepare)(void), void (*parent)(void), void (*child)(void), void *dso)
{
	if (!atfork_direct && !rt_managed() && atfork_n < RT_MAX_ATFORK) {
		atfork_kept[atfork_n++] = (struct atfork){ prepare, parent, child, dso };
		return 0;
	}
	return REAL(__register_atfork)(prepare, parent, child, dso);
}

void rt_atfork_flush(void)
{
	atfork_direct = true;
	for (int i = 0; i < atfork_n; i++)
		REAL(__register_atfork)(atfork_kept[i].prepare, atfork_kept[i].parent, atfork_kept[i].child,
					 atfork_kept[i].dso);
	atfork_n = 0;
}

/* ---- mutexes ------------------------------------------------------------ */

/* The model of the object at addr, created on first sight; the run stops
 * when the model is full. */
static struct mobj *obj_of(const void *addr, enum obj_kind kind)
{
	struct mobj *o = model_obj(rt_model(), addr, kind);
	if (!o)
		rt_fail("harness:too-many-objects", "more than %d synchronisation objects", MODEL_MAX_OBJECTS);
	return o;
}

/* The model of a mutex, created on first sight. Its type is read from glibc's
 * mutex (PTHREAD_MUTEX_INITIALIZER, the _NP static initialisers and
 * pthread_mutex_init all set it there). */
static struct mobj *mutex_obj(pthread_mutex_t *mx)
{
	struct model *m = rt_model();
	struct mobj *o = model_obj_find(m, mx);
	if (o && o->kind == OBJ_MUTEX)
		return o;
	o = obj_of(mx, OBJ_MUTEX);
	switch (mx->__data.__kind & 3) {
	case PTHREAD_MUTEX_RECURSIVE: o->type = MUTEX_RECURSIVE; break;
	case PTHREAD_MUTEX_ERRORCHECK: o->type = MUTEX_ERRORCHECK; break;
	default: o->type = MUTEX_NORMAL; break;
	}
	return o;
}

int pthread_mutex_init(pthread_mutex_t *mx, const pthread_mutexattr_t *attr)
{
	TSAN_FRAME();
	if (rt_managed())
		model_obj_forget(rt_model(), mx);
	return REAL(pthread_mutex_init)(mx, attr);
}

int pthread_mutex_destroy(pthread_mutex_t *mx)
{
	TSAN_FRAME();
	if (rt_managed())
		model_obj_forget(rt_model(), mx);
	return REAL(pthread_mutex_destroy)(mx);
}

/* glibc marks a destroyed mutex (kind -1) and refuses it with EINVAL. Using
 * one is the program's misuse: reported as such (slug) before the model, the
 * real mutex or TSan see the call. */
static bool mutex_destroyed(pthread_mutex_t *mx, const char *slug, uintptr_t pc)
{
	if (mx->__data.__kind != -1)
		return false;
	rt_misuse(slug, rt_self(), mutex_obj(mx), pc);
	return true;
}

/* Takes the real mutex once the model granted it. A blocking lock, not a
 * trylock, so that TSan records the lock order (its deadlock detector skips
 * trylocks); it cannot block, which the check before it makes sure of. */
static int real_lock(pthread_mutex_t *mx, const struct mobj *o, bool try)
{
	bool relock = o->owner == rt_self() && o->count > 1;
	if (!relock && mx->__data.__lock != 0)
		rt_fail("harness:model-mismatch", "mutex m%d: the model granted it, but the real mutex is held", o->id);
	int rc = try ? REAL(pthread_mutex_trylock)(mx) : REAL(pthread_mutex_lock)(mx);
	if (rc)
		rt_fail("harness:model-mismatch", "mutex m%d: the model granted it, the real mutex said %d", o->id, rc);
	return 0;
}

/* Takes mx in the model (op already set up), then really. */
static int mutex_acquire(pthread_mutex_t *mx, struct op *op)
{
	struct mobj *o = op->obj;
	struct op_result r = rt_point(op);
	if (r.misuse)
		rt_misuse(r.misuse, rt_self(), o, op->pc);
	if (r.err)
		return r.err;
	return real_lock(mx, o, op->try);
}

int pthread_mutex_lock(pthread_mutex_t *mx)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_mutex_lock)(mx);
	if (mutex_destroyed(mx, "lock-destroyed", RETADDR))
		return EINVAL;
	struct op op = mkop(OP_LOCK, mutex_obj(mx), RETADDR);
	return mutex_acquire(mx, &op);
}

int pthread_mutex_trylock(pthread_mutex_t *mx)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_mutex_trylock)(mx);
	if (mutex_destroyed(mx, "lock-destroyed", RETADDR))
		return EINVAL;
	struct op op = mkop(OP_LOCK, mutex_obj(mx), RETADDR);
	op.try = true;
	return mutex_acquire(mx, &op);
}

int pthread_mutex_timedlock(pthread_mutex_t *mx, const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_mutex_timedlock)(mx, abstime);
	if (mutex_destroyed(mx, "lock-destroyed", RETADDR))
		return EINVAL;
	struct op op = mkop(OP_LOCK, mutex_obj(mx), RETADDR);
	op.deadline = abs_deadline(CLOCK_REALTIME, abstime);
	return mutex_acquire(mx, &op);
}

int pthread_mutex_clocklock(pthread_mutex_t *mx, clockid_t clk, const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed() || !virtual_clock(clk))
		return REAL(pthread_mutex_clocklock)(mx, clk, abstime);
	struct op op = mkop(OP_LOCK, mutex_obj(mx), RETADDR);
	op.deadline = abs_deadline(clk, abstime);
	return mutex_acquire(mx, &op);
}

int pthread_mutex_unlock(pthread_mutex_t *mx)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_mutex_unlock)(mx);
	if (mutex_destroyed(mx, "unlock-destroyed", RETADDR))
		return EINVAL;
	struct op op = mkop(OP_UNLOCK, mutex_obj(mx), RETADDR);
	struct op_result r = rt_point(&op);
	if (r.misuse) {
		rt_misuse(r.misuse, rt_self(), op.obj, op.pc);
		return r.err;
	}
	int rc = REAL(pthread_mutex_unlock)(mx);
	rt_release_point(op.obj, op.pc);
	return rc;
}

/* ---- condition variables ------------------------------------------------ */

static struct mobj *cond_obj(pthread_cond_t *cv)
{
	return obj_of(cv, OBJ_COND);
}

int pthread_cond_init(pthread_cond_t *cv, const pthread_condattr_t *attr)
{
	TSAN_FRAME();
	if (rt_managed()) {
		clockid_t clk = CLOCK_REALTIME;
		model_obj_forget(rt_model(), cv);
		if (attr)
			pthread_condattr_getclock(attr, &clk);
		cond_obj(cv)->clock = (int)clk;
	}
	return REAL(pthread_cond_init)(cv, attr);
}

int pthread_cond_destroy(pthread_cond_t *cv)
{
	TSAN_FRAME();
	if (rt_managed())
		model_obj_forget(rt_model(), cv);
	return REAL(pthread_cond_destroy)(cv);
}

/* clk: the clock of abstime, -1 for the condition variable's own */
static int cond_wait(pthread_cond_t *cv, pthread_mutex_t *mx, const struct timespec *abstime,
		     int clk, uintptr_t pc)
{
	if (mutex_destroyed(mx, "cond-wait-destroyed", pc))
		return EINVAL;
	struct op op = mkop(OP_COND_WAIT, cond_obj(cv), pc);
	op.obj2 = mutex_obj(mx);
	if (abstime)
		op.deadline = abs_deadline((clockid_t)(clk < 0 ? op.obj->clock : clk), abstime);
	struct op_result r = rt_point(&op);     /* releases the mutex in the model */
	if (r.misuse) {
		rt_misuse(r.misuse, rt_self(), op.obj2, pc);
		return r.err;
	}
	REAL(pthread_mutex_unlock)(mx);
	r = rt_continue();                       /* until signalled or timed out, and the mutex is free */
	real_lock(mx, op.obj2, false);
	return r.err;
}

int pthread_cond_wait(pthread_cond_t *cv, pthread_mutex_t *mx)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_cond_wait)(cv, mx);
	return cond_wait(cv, mx, NULL, -1, RETADDR);
}

int pthread_cond_timedwait(pthread_cond_t *cv, pthread_mutex_t *mx, const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_cond_timedwait)(cv, mx, abstime);
	return cond_wait(cv, mx, abstime, -1, RETADDR);
}

/* glibc 2.30's clock-taking waits (libstdc++'s condition_variable and
 * timed_mutex use them with steady_clock) */
int pthread_cond_clockwait(pthread_cond_t *cv, pthread_mutex_t *mx, clockid_t clk,
				  const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed() || !virtual_clock(clk))
		return REAL(pthread_cond_clockwait)(cv, mx, clk, abstime);
	return cond_wait(cv, mx, abstime, (int)clk, RETADDR);
}

static int cond_wake(pthread_cond_t *cv, enum op_kind kind, uintptr_t pc)
{
	struct op op = mkop(kind, cond_obj(cv), pc);
	rt_point(&op);
	rt_release_point(op.obj, pc);
	return 0;
}

int pthread_cond_signal(pthread_cond_t *cv)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_cond_signal)(cv);
	return cond_wake(cv, OP_SIGNAL, RETADDR);
}

int pthread_cond_broadcast(pthread_cond_t *cv)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_cond_broadcast)(cv);
	return cond_wake(cv, OP_BROADCAST, RETADDR);
}

/* ---- rwlocks ------------------------------------------------------------ */

static struct mobj *rw_obj(pthread_rwlock_t *rw)
{
	return obj_of(rw, OBJ_RWLOCK);
}

int pthread_rwlock_init(pthread_rwlock_t *rw, const pthread_rwlockattr_t *attr)
{
	TSAN_FRAME();
	if (rt_managed())
		model_obj_forget(rt_model(), rw);
	return REAL(pthread_rwlock_init)(rw, attr);
}

int pthread_rwlock_destroy(pthread_rwlock_t *rw)
{
	TSAN_FRAME();
	if (rt_managed())
		model_obj_forget(rt_model(), rw);
	return REAL(pthread_rwlock_destroy)(rw);
}

static int rw_acquire(pthread_rwlock_t *rw, bool write, bool try, const struct timespec *abstime,
		      uintptr_t pc)
{
	struct op op = mkop(write ? OP_WRLOCK : OP_RDLOCK, rw_obj(rw), pc);
	op.try = try;
	if (abstime)
		op.deadline = abs_deadline(CLOCK_REALTIME, abstime);
	struct op_result r = rt_point(&op);
	if (r.err)
		return r.err;
	int rc = try ? (write ? REAL(pthread_rwlock_trywrlock)(rw) : REAL(pthread_rwlock_tryrdlock)(rw))
		     : (write ? REAL(pthread_rwlock_wrlock)(rw) : REAL(pthread_rwlock_rdlock)(rw));
	if (rc)
		rt_fail("harness:model-mismatch", "rwlock r%d: the model granted it, the real rwlock said %d", op.obj->id, rc);
	return 0;
}

#define RW_WRAPPER(name, write, try)                                          \
	int pthread_rwlock_##name(pthread_rwlock_t *rw)               \
	{                                                                      \
		TSAN_FRAME();                                                  \
		if (!rt_managed())                                             \
			return REAL(pthread_rwlock_##name)(rw);                \
		return rw_acquire(rw, write, try, NULL, RETADDR);              \
	}
RW_WRAPPER(rdlock, false, false)
RW_WRAPPER(wrlock, true, false)
RW_WRAPPER(tryrdlock, false, true)
RW_WRAPPER(trywrlock, true, true)

int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_rwlock_timedrdlock)(rw, abstime);
	return rw_acquire(rw, false, false, abstime, RETADDR);
}

int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_rwlock_timedwrlock)(rw, abstime);
	return rw_acquire(rw, true, false, abstime, RETADDR);
}

int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_rwlock_unlock)(rw);
	struct op op = mkop(OP_RWUNLOCK, rw_obj(rw), RETADDR);
	struct op_result r = rt_point(&op);
	if (r.misuse) {
		rt_misuse(r.misuse, rt_self(), op.obj, op.pc);
		return r.err;
	}
	int rc = REAL(pthread_rwlock_unlock)(rw);
	rt_release_point(op.obj, op.pc);
	return rc;
}

/* ---- semaphores ----------------------------------------------------------- */

static struct mobj *sem_obj(sem_t *s)
{
	struct model *m = rt_model();
	struct mobj *o = model_obj_find(m, s);
	if (o && o->kind == OBJ_SEM)
		return o;
	o = obj_of(s, OBJ_SEM);
	/* Not sem_getvalue(): TSan intercepts it as an acquire, an edge the
	 * program did not make. glibc's 64-bit semaphore keeps the value in the
	 * low 32 bits of its first word. */
	o->count = (int)(*(const uint64_t *)(const void *)s & 0x7fffffff);
	return o;
}

int sem_init(sem_t *s, int pshared, unsigned value)
{
	TSAN_FRAME();
	int rc = REAL(sem_init)(s, pshared, value);
	if (rc == 0 && rt_managed()) {
		model_obj_forget(rt_model(), s);
		sem_obj(s);
	}
	return rc;
}

int sem_destroy(sem_t *s)
{
	TSAN_FRAME();
	if (rt_managed())
		model_obj_forget(rt_model(), s);
	return REAL(sem_destroy)(s);
}

static int sem_acquire(sem_t *s, bool try, const struct timespec *abstime, uintptr_t pc)
{
	struct op op = mkop(OP_SEM_WAIT, sem_obj(s), pc);
	op.try = try;
	if (abstime) {
		if (abstime->tv_nsec < 0 || abstime->tv_nsec >= 1000000000L) {
			errno = EINVAL;
			return -1;
		}
		op.deadline = abs_deadline(CLOCK_REALTIME, abstime);
	}
	struct op_result r = rt_point(&op);
	if (r.err) {
		errno = r.err;
		return -1;
	}
	if (REAL(sem_trywait)(s))
		rt_fail("harness:model-mismatch", "semaphore s%d: the model had a token, the real one did not", op.obj->id);
	return 0;
}

int sem_wait(sem_t *s)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(sem_wait)(s);
	return sem_acquire(s, false, NULL, RETADDR);
}

int sem_trywait(sem_t *s)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(sem_trywait)(s);
	return sem_acquire(s, true, NULL, RETADDR);
}

int sem_timedwait(sem_t *s, const struct timespec *abstime)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(sem_timedwait)(s, abstime);
	return sem_acquire(s, false, abstime, RETADDR);
}

int sem_post(sem_t *s)
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(sem_post)(s);
	struct op op = mkop(OP_SEM_POST, sem_obj(s), RETADDR);
	rt_point(&op);
	int rc = REAL(sem_post)(s);
	rt_release_point(op.obj, op.pc);
	return rc;
}

/* ---- pthread_once --------------------------------------------------------- */

int pthread_once(pthread_once_t *once, void (*init)(void))
{
	TSAN_FRAME();
	if (!rt_managed())
		return REAL(pthread_once)(once, init);
	struct model *m = rt_model();
	struct mobj *o = model_obj_find(m, once);
	if (!o || o->kind != OBJ_ONCE) {
		o = obj_of(once, OBJ_ONCE);
		o->once_state = *once != PTHREAD_ONCE_INIT ? 2 : 0;
	}
	struct op op = mkop(OP_ONCE, o, RETADDR);
	rt_point(&op);
	if (o->once_state == 1 && o->owner < 0) {
		o->owner = rt_self();    /* this thread runs the routine */
		int rc = REAL(pthread_once)(once, init);
		rt_once_done(o);
		return rc;
	}
	return REAL(pthread_once)(once, init);
}

/* ---- named sync points ---------------------------------------------------- */

void migrace_sync_point(const char *name)
{
	if (!rt_managed())
		return;
	struct op op = mkop(OP_SYNC, NULL, RETADDR);
	op.name = name;
	rt_point(&op);
}

/* ---- futexes -------------------------------------------------------------- */

/* FUTEX_WAIT[_BITSET]: a decision, then the word is compared with val as the
 * kernel does (no other thread runs in between); if equal the thread sleeps
 * on the word until a wake that reaches it, or until its deadline (relative
 * for FUTEX_WAIT, absolute for _BITSET, on CLOCK_MONOTONIC unless
 * FUTEX_CLOCK_REALTIME). */
static long futex_wait(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts,
		       uint32_t bits, uintptr_t pc)
{
	bool bitset = (op & FUTEX_CMD_MASK) == FUTEX_WAIT_BITSET;
	struct op w = mkop(OP_FUTEX_WAIT, obj_of(uaddr, OBJ_FUTEX), pc);
	w.bits = bits;
	if (bitset && !bits) {
		errno = EINVAL;
		return -1;
	}
	if (ts && bitset)
		w.deadline = abs_deadline(op & FUTEX_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, ts);
	else if (ts)
		w.deadline = rt_now() + ts_ns(ts);
	rt_point(&w);
	if (__atomic_load_n(uaddr, __ATOMIC_SEQ_CST) != val) {
		errno = EAGAIN;
		return -1;
	}
	struct model *m = rt_model();
	w.kind = OP_FUTEX_SLEEP;
	m->threads[rt_self()].pending = w;
	model_futex_sleep(m, rt_self());
	struct op_result r = rt_continue();
	if (r.err) {
		errno = r.err;
		return -1;
	}
	return 0;
}

static long futex_wake(uint32_t *uaddr, int n, uint32_t bits, uintptr_t pc)
{
	struct op w = mkop(OP_FUTEX_WAKE, obj_of(uaddr, OBJ_FUTEX), pc);
	w.bits = bits;
	if (!bits) {
		errno = EINVAL;
		return -1;
	}
	rt_point(&w);
	int woken = model_futex_wake(rt_model(), w.obj, n < 0 ? INT32_MAX : n, bits);
	if (woken)
		rt_release_point(w.obj, pc);
	return woken;
}

/* syscall(SYS_futex, ...) of a controlled thread is modelled (wait and wake,
 * private or shared, plain or _BITSET); other futex operations stop the run
 * with harness:futex-op, every other system call goes through. The runtime's
 * own futexes (the batons) are not modelled. */
long syscall(long nr, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (nr != SYS_futex || !rt_managed() || rt_is_baton((const void *)a[0]))
		return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
	TSAN_FRAME();
	uint32_t *uaddr = (uint32_t *)a[0];
	int op = (int)a[1];
	uint32_t val = (uint32_t)a[2];
	switch (op & FUTEX_CMD_MASK) {
	case FUTEX_WAIT:
		return futex_wait(uaddr, op, val, (const struct timespec *)a[3], UINT32_MAX, RETADDR);
	case FUTEX_WAIT_BITSET:
		return futex_wait(uaddr, op, val, (const struct timespec *)a[3], (uint32_t)a[5], RETADDR);
	case FUTEX_WAKE:
		return futex_wake(uaddr, (int)val, UINT32_MAX, RETADDR);
	case FUTEX_WAKE_BITSET:
		return futex_wake(uaddr, (int)val, (uint32_t)a[5], RETADDR);
	default:
		rt_fail("harness:futex-op", "futex operation %d on %p is not modelled (wait and wake are)",
			op & FUTEX_CMD_MASK, (void *)uaddr);
	}
}
