/*
 * The memory-access hooks do not keep the address they are given: the build
 * includes this header first in every source compiled with the load and store
 * hooks (-fsanitize-coverage=trace-loads,trace-stores; migrace-cc and the
 * Makefile's harness flavours do), so each hook is declared `nocapture`.
 *
 * Why: the coverage pass runs before ThreadSanitizer's and puts a hook call
 * before every load and store, locals' too. Passing a local's address to a
 * call the compiler must assume keeps it made the local escape, and TSan then
 * instrumented every access to it, as it must for memory another thread may
 * reach: a byte array a hash loops over cost a TSan call per byte, a trace
 * event each, and the trace's pages faulted in every run. The runtime only
 * compares the address with the thread's stack and records it as a number,
 * which is what nocapture allows; the coverage pass finds these declarations
 * in the module (the `used` pointers below keep them there) and reuses them,
 * so TSan leaves alone the locals nothing else lets escape.
 */
#ifndef MIGRACE_MEMHOOKS_H
#define MIGRACE_MEMHOOKS_H

#ifdef __cplusplus
extern "C" {
#endif

/* The types are the pass's own (i8* ... i128*): another type would give the
 * pass a cast of the declaration, and a call through a cast has no
 * attributes. __extension__: no pedantic warning for long long or __int128
 * in a program built as C89. */
#define MIGRACE_MEMHOOK_(name, type)                                                  \
	__extension__ void name(__attribute__((noescape)) type *addr);               \
	__extension__ __attribute__((used)) static void (*const migrace_keep_##name)(type *) = name;
MIGRACE_MEMHOOK_(__sanitizer_cov_load1, unsigned char)
MIGRACE_MEMHOOK_(__sanitizer_cov_load2, unsigned short)
MIGRACE_MEMHOOK_(__sanitizer_cov_load4, unsigned int)
MIGRACE_MEMHOOK_(__sanitizer_cov_load8, unsigned long long)
MIGRACE_MEMHOOK_(__sanitizer_cov_load16, __int128)
MIGRACE_MEMHOOK_(__sanitizer_cov_store1, unsigned char)
MIGRACE_MEMHOOK_(__sanitizer_cov_store2, unsigned short)
MIGRACE_MEMHOOK_(__sanitizer_cov_store4, unsigned int)
MIGRACE_MEMHOOK_(__sanitizer_cov_store8, unsigned long long)
MIGRACE_MEMHOOK_(__sanitizer_cov_store16, __int128)
#undef MIGRACE_MEMHOOK_

#ifdef __cplusplus
}
#endif

#endif
