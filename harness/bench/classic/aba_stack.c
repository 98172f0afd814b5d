/*
 * Classic pattern: ABA in a lock-free stack. A Treiber stack of three nodes
 * (A -> B -> C) whose pop reads the head and its next, then swings the head
 * with a compare-and-swap on the pointer alone. Popper 1 takes one node;
 * popper 2 takes two and gives the first back. If popper 1 is stopped
 * between reading A->next (B) and its CAS while popper 2 pops A, pops B and
 * pushes A again, the CAS still sees A and sets the head to B, which popper 2
 * holds: B is then both on the stack and taken. No pthread call lies in the
 * window, so only memory points (--preempt mem) can open it. The nodes'
 * fields are atomics: ThreadSanitizer has nothing to report.
 * Expected: assert:owners == 1 (a node taken and on the stack at once).
 * FIXED: the head carries a tag bumped at every push, and the CAS compares
 * both (the usual cure).
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#define NODES 3

struct node {
	_Atomic(int) next;       /* index of the next node, -1 none */
};

static struct node nodes[NODES];
/* the head: node index in the low 32 bits, tag (FIXED) in the high ones */
static _Atomic(uint64_t) head;
static atomic_int taken[NODES];  /* 1 while a thread holds the node */

static int pop(void)
{
	for (;;) {
		uint64_t h = atomic_load(&head);
		int top = (int)(int32_t)(uint32_t)h;
		if (top < 0)
			return -1;
		int next = atomic_load(&nodes[top].next);
#ifdef FIXED
		uint64_t nh = (h & 0xffffffff00000000ull) | (uint32_t)next;
#else
		uint64_t nh = (uint32_t)next;
#endif
		if (atomic_compare_exchange_strong(&head, &h, nh)) {
			atomic_store(&taken[top], 1);
			return top;
		}
	}
}

static void push(int n)
{
	atomic_store(&taken[n], 0);
	for (;;) {
		uint64_t h = atomic_load(&head);
		atomic_store(&nodes[n].next, (int)(int32_t)(uint32_t)h);
#ifdef FIXED
		uint64_t nh = ((h >> 32) + 1) << 32 | (uint32_t)n;
#else
		uint64_t nh = (uint32_t)n;
#endif
		if (atomic_compare_exchange_strong(&head, &h, nh))
			return;
	}
}

static void *popper1(void *arg)
{
	(void)arg;
	pop();
	return NULL;
}

static void *popper2(void *arg)
{
	(void)arg;
	int x = pop();
	pop();
	if (x >= 0)
		push(x);
	return NULL;
}

int main(void)
{
	for (int i = 0; i < NODES; i++)
		atomic_store(&nodes[i].next, i + 1 < NODES ? i + 1 : -1);
	atomic_store(&head, 0);
	pthread_t p, q;
	pthread_create(&p, NULL, popper1, NULL);
	pthread_create(&q, NULL, popper2, NULL);
	pthread_join(p, NULL);
	pthread_join(q, NULL);
	/* every node on the stack must not be taken too */
	int steps = 0;
	for (int n = (int)(int32_t)(uint32_t)atomic_load(&head); n >= 0 && steps++ < NODES;
	     n = atomic_load(&nodes[n].next)) {
		int owners = atomic_load(&taken[n]) + 1;
		assert(owners == 1);
	}
	printf("stack ok\n");
	return 0;
}
