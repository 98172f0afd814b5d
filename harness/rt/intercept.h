/*
 * How the runtime catches a call: symbol interposition from the executable.
 *
 * The decision, taken once for every intercepted call (pthreads, semaphores,
 * sleeps and clocks, futexes, file descriptors, exit): the runtime, linked
 * statically into the program, defines the function itself under its own name
 * (pthread_mutex_lock, read, syscall, ...). The program's own calls bind to
 * that definition at link time; calls made inside shared libraries that were
 * not built with migrace-cc (glib, libstdc++, a user's .so) bind to it at run
 * time, because migrace-cc exports each of these names from the executable
 * (-Wl,--dynamic-list, the list generated from intercept.syms) and the dynamic
 * linker searches the executable first. This is how the sanitizers' own
 * interceptors work, and it composes with them:
 *
 *   the sanitizers define each of their interceptors as __interceptor_NAME,
 *   and NAME as a weak alias of it. Our strong NAME wins the link; the real
 *   function we forward to is __interceptor_NAME when the sanitizer has one
 *   (so TSan still sees the synchronisation and ASan still checks the
 *   buffers), else the next definition after the executable, libc's
 *   (dlsym(RTLD_NEXT)).
 *
 * Only main keeps a link-time wrapper (-Wl,--wrap=main): a program's main
 * cannot be interposed. Use:
 *
 *   INTERCEPT_REAL(int, pthread_mutex_lock, pthread_mutex_t *);
 *   int pthread_mutex_lock(pthread_mutex_t *m) { ... REAL(pthread_mutex_lock)(m) ... }
 *
 * and for symbols with several versions in glibc, whose unversioned dlsym
 * gives the oldest (pthread_cond_*): INTERCEPT_REAL_V(..., "GLIBC_2.3.2", ...).
 * The pointer is looked up once, on the first call, and cached (a relaxed
 * atomic: two threads looking it up at once store the same value).
 */
#ifndef MIGRACE_INTERCEPT_H
#define MIGRACE_INTERCEPT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stddef.h>
#include <unistd.h>

/* Writes "migrace: cannot find the real NAME" and exits 2 (intercept.c). */
void intercept_missing(const char *name) __attribute__((noreturn));

static inline void *intercept_lookup(void *sanitizer_fn, const char *name, const char *version)
{
	if (sanitizer_fn)
		return sanitizer_fn;
	void *p = version ? dlvsym(RTLD_NEXT, name, version) : dlsym(RTLD_NEXT, name);
	if (!p)
		intercept_missing(name);
	return p;
}

#define INTERCEPT_REAL_V(ret, fn, version, ...)                                                \
	extern ret __interceptor_##fn(__VA_ARGS__) __attribute__((weak));                      \
	static ret (*intercept_real_##fn##_p)(__VA_ARGS__);                                     \
	static inline __typeof__(intercept_real_##fn##_p) intercept_real_##fn(void)             \
	{                                                                                       \
		__typeof__(intercept_real_##fn##_p) p =                                         \
			__atomic_load_n(&intercept_real_##fn##_p, __ATOMIC_RELAXED);            \
		if (!p) {                                                                       \
			p = (__typeof__(p))intercept_lookup((void *)__interceptor_##fn, #fn,     \
							    version);                           \
			__atomic_store_n(&intercept_real_##fn##_p, p, __ATOMIC_RELAXED);        \
		}                                                                               \
		return p;                                                                       \
	}

#define INTERCEPT_REAL(ret, fn, ...) INTERCEPT_REAL_V(ret, fn, NULL, __VA_ARGS__)

#ifndef REAL
#define REAL(fn) (intercept_real_##fn())
#endif

#endif
