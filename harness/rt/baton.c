/*
 * Futex handoff between controlled threads. Must be compiled without
 * -fsanitize=thread (the Makefile guarantees it for all of harness/rt): the
 * atomics and the futex syscall are then invisible to TSan, which therefore
 * orders the program's accesses only by the program's own synchronisation.
 */
#include "baton.h"

#include <linux/futex.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <unistd.h>

static void futex(uint32_t *addr, int op, uint32_t val)
{
	syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

void baton_reset(struct baton *b)
{
	atomic_store_explicit((_Atomic uint32_t *)&b->word, 0, memory_order_relaxed);
}

void baton_give(struct baton *b)
{
	atomic_store_explicit((_Atomic uint32_t *)&b->word, 1, memory_order_release);
	futex(&b->word, FUTEX_WAKE, 1);
}

void baton_wait(struct baton *b)
{
	_Atomic uint32_t *w = (_Atomic uint32_t *)&b->word;

	while (atomic_exchange_explicit(w, 0, memory_order_acquire) == 0)
		futex(&b->word, FUTEX_WAIT, 0);
}
