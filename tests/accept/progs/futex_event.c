/*
 * A one-shot event on a raw futex, in the manner of QEMU's QemuEvent: the
 * waiter sleeps on a sequence word with FUTEX_WAIT until the flag is set.
 * The bug: the waiter waits for the word to leave 0, but the setter never
 * changes it, so a set between the waiter's check and its wait is a lost
 * wake-up, a deadlock on the futex word:
 *
 *   waiter                           setter
 *   flag == 0
 *                                    flag = 1; FUTEX_WAKE(seq): nobody asleep
 *   FUTEX_WAIT(seq, 0): seq is 0, sleeps for ever
 *
 * "fixed": the waiter reads seq before the flag and waits on that value, the
 * setter bumps seq before the wake, so the kernel's check at the wait sees
 * the change. "bitset": the fixed event with the _BITSET operations on a
 * shared (not private) futex, as glib's.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static _Atomic uint32_t seq;         /* the futex word */
static atomic_int flag;
static int fixed, bitset;

static void futex(_Atomic uint32_t *w, int op, uint32_t val)
{
	if (bitset)
		syscall(SYS_futex, w, op == FUTEX_WAIT ? FUTEX_WAIT_BITSET : FUTEX_WAKE_BITSET, val, NULL, NULL,
			FUTEX_BITSET_MATCH_ANY);
	else
		syscall(SYS_futex, w, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void *waiter(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t s = fixed ? atomic_load(&seq) : 0;
		if (atomic_load(&flag))
			return NULL;
		futex(&seq, FUTEX_WAIT, s);
	}
}

static void *setter(void *arg)
{
	(void)arg;
	atomic_store(&flag, 1);
	if (fixed)
		atomic_fetch_add(&seq, 1);
	futex(&seq, FUTEX_WAKE, INT_MAX);
	return NULL;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		fixed |= strcmp(argv[i], "fixed") == 0 || strcmp(argv[i], "bitset") == 0;
		bitset |= strcmp(argv[i], "bitset") == 0;
	}
	pthread_t a, b;
	pthread_create(&a, NULL, waiter, NULL);
	pthread_create(&b, NULL, setter, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	printf("event set\n");
	return 0;
}
