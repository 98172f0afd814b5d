/*
 * Atomic read-modify-writes as memory-access points: migrace-cc includes this
 * header first in every source (-include), so each compare-exchange, exchange
 * and fetch-op of C11 <stdatomic.h>, the __atomic and __sync builtins (and so
 * C++ std::atomic) first tells the runtime where it is, like the compiler's
 * load and store hooks do. The runtime ignores it unless --preempt mem.
 */
#ifndef MIGRACE_RMW_H
#define MIGRACE_RMW_H

#ifdef __cplusplus
extern "C" {
#endif
void migrace_rmw(const volatile void *addr);
#ifdef __cplusplus
}
#endif

/* Each macro has the name of the builtin it wraps: the builtin's name in its
 * own expansion is not expanded again, so it reaches the compiler. The
 * pointer is evaluated once. */
#define MIGRACE_RMW_(fn, p, ...)                                                   \
	__extension__({                                                             \
		__typeof__(p) migrace_p_ = (p);                                     \
		migrace_rmw((const volatile void *)migrace_p_);                     \
		fn(migrace_p_, __VA_ARGS__);                                        \
	})

#define __c11_atomic_exchange(p, ...) MIGRACE_RMW_(__c11_atomic_exchange, p, __VA_ARGS__)
#define __c11_atomic_compare_exchange_strong(p, ...) MIGRACE_RMW_(__c11_atomic_compare_exchange_strong, p, __VA_ARGS__)
#define __c11_atomic_compare_exchange_weak(p, ...) MIGRACE_RMW_(__c11_atomic_compare_exchange_weak, p, __VA_ARGS__)
#define __c11_atomic_fetch_add(p, ...) MIGRACE_RMW_(__c11_atomic_fetch_add, p, __VA_ARGS__)
#define __c11_atomic_fetch_sub(p, ...) MIGRACE_RMW_(__c11_atomic_fetch_sub, p, __VA_ARGS__)
#define __c11_atomic_fetch_and(p, ...) MIGRACE_RMW_(__c11_atomic_fetch_and, p, __VA_ARGS__)
#define __c11_atomic_fetch_or(p, ...) MIGRACE_RMW_(__c11_atomic_fetch_or, p, __VA_ARGS__)
#define __c11_atomic_fetch_xor(p, ...) MIGRACE_RMW_(__c11_atomic_fetch_xor, p, __VA_ARGS__)

#define __atomic_exchange(p, ...) MIGRACE_RMW_(__atomic_exchange, p, __VA_ARGS__)
#define __atomic_exchange_n(p, ...) MIGRACE_RMW_(__atomic_exchange_n, p, __VA_ARGS__)
#define __atomic_compare_exchange(p, ...) MIGRACE_RMW_(__atomic_compare_exchange, p, __VA_ARGS__)
#define __atomic_compare_exchange_n(p, ...) MIGRACE_RMW_(__atomic_compare_exchange_n, p, __VA_ARGS__)
#define __atomic_test_and_set(p, ...) MIGRACE_RMW_(__atomic_test_and_set, p, __VA_ARGS__)
#define __atomic_fetch_add(p, ...) MIGRACE_RMW_(__atomic_fetch_add, p, __VA_ARGS__)
#define __atomic_fetch_sub(p, ...) MIGRACE_RMW_(__atomic_fetch_sub, p, __VA_ARGS__)
#define __atomic_fetch_and(p, ...) MIGRACE_RMW_(__atomic_fetch_and, p, __VA_ARGS__)
#define __atomic_fetch_or(p, ...) MIGRACE_RMW_(__atomic_fetch_or, p, __VA_ARGS__)
#define __atomic_fetch_xor(p, ...) MIGRACE_RMW_(__atomic_fetch_xor, p, __VA_ARGS__)
#define __atomic_fetch_nand(p, ...) MIGRACE_RMW_(__atomic_fetch_nand, p, __VA_ARGS__)
#define __atomic_add_fetch(p, ...) MIGRACE_RMW_(__atomic_add_fetch, p, __VA_ARGS__)
#define __atomic_sub_fetch(p, ...) MIGRACE_RMW_(__atomic_sub_fetch, p, __VA_ARGS__)
#define __atomic_and_fetch(p, ...) MIGRACE_RMW_(__atomic_and_fetch, p, __VA_ARGS__)
#define __atomic_or_fetch(p, ...) MIGRACE_RMW_(__atomic_or_fetch, p, __VA_ARGS__)
#define __atomic_xor_fetch(p, ...) MIGRACE_RMW_(__atomic_xor_fetch, p, __VA_ARGS__)
#define __atomic_nand_fetch(p, ...) MIGRACE_RMW_(__atomic_nand_fetch, p, __VA_ARGS__)

#define __sync_fetch_and_add(p, ...) MIGRACE_RMW_(__sync_fetch_and_add, p, __VA_ARGS__)
#define __sync_fetch_and_sub(p, ...) MIGRACE_RMW_(__sync_fetch_and_sub, p, __VA_ARGS__)
#define __sync_fetch_and_or(p, ...) MIGRACE_RMW_(__sync_fetch_and_or, p, __VA_ARGS__)
#define __sync_fetch_and_and(p, ...) MIGRACE_RMW_(__sync_fetch_and_and, p, __VA_ARGS__)
#define __sync_fetch_and_xor(p, ...) MIGRACE_RMW_(__sync_fetch_and_xor, p, __VA_ARGS__)
#define __sync_fetch_and_nand(p, ...) MIGRACE_RMW_(__sync_fetch_and_nand, p, __VA_ARGS__)
#define __sync_add_and_fetch(p, ...) MIGRACE_RMW_(__sync_add_and_fetch, p, __VA_ARGS__)
#define __sync_sub_and_fetch(p, ...) MIGRACE_RMW_(__sync_sub_and_fetch, p, __VA_ARGS__)
#define __sync_or_and_fetch(p, ...) MIGRACE_RMW_(__sync_or_and_fetch, p, __VA_ARGS__)
#define __sync_and_and_fetch(p, ...) MIGRACE_RMW_(__sync_and_and_fetch, p, __VA_ARGS__)
#define __sync_xor_and_fetch(p, ...) MIGRACE_RMW_(__sync_xor_and_fetch, p, __VA_ARGS__)
#define __sync_nand_and_fetch(p, ...) MIGRACE_RMW_(__sync_nand_and_fetch, p, __VA_ARGS__)
#define __sync_bool_compare_and_swap(p, ...) MIGRACE_RMW_(__sync_bool_compare_and_swap, p, __VA_ARGS__)
#define __sync_val_compare_and_swap(p, ...) MIGRACE_RMW_(__sync_val_compare_and_swap, p, __VA_ARGS__)
#define __sync_lock_test_and_set(p, ...) MIGRACE_RMW_(__sync_lock_test_and_set, p, __VA_ARGS__)

#endif
