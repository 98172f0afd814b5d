/*
 * A lock-free stack (C11 atomics) with a bug between an exchange and a
 * compare-and-swap: the drainer detaches the whole stack with an exchange and
 * puts it back with a CAS that expects the stack still empty; a push in
 * between makes the CAS fail and the detached nodes are lost.
 *
 *   drainer                          pusher
 *   old = exchange(&head, NULL)
 *                                    n->next = head (NULL); CAS(head, NULL, n)
 *   CAS(&head, NULL, old) fails  ->  three nodes lost
 *
 * Nothing but the two read-modify-writes lies between them, so only a
 * decision at an atomic read-modify-write (--preempt mem) can find it.
 * "fixed": the drainer appends the stack it finds to the one it detached.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct node {
	struct node *next;
	int value;
};

static _Atomic(struct node *) head;
static int fixed;

static void push(int value)
{
	struct node *n = malloc(sizeof(*n));
	n->value = value;
	n->next = atomic_load(&head);
	while (!atomic_compare_exchange_weak(&head, &n->next, n))
		;
}

static void *drainer(void *arg)
{
	(void)arg;
	struct node *old = atomic_exchange(&head, NULL);
	struct node *expected = NULL;
	if (atomic_compare_exchange_strong(&head, &expected, old) || !fixed)
		return NULL;            /* the bug: on failure, old is dropped */
	struct node *tail = old;
	while (tail && tail->next)
		tail = tail->next;
	if (!tail)
		return NULL;
	tail->next = atomic_load(&head);
	while (!atomic_compare_exchange_weak(&head, &tail->next, old))
		;
	return NULL;
}

static void *pusher(void *arg)
{
	(void)arg;
	push(100);
	return NULL;
}

int main(int argc, char **argv)
{
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	for (int i = 0; i < 3; i++)
		push(i);
	pthread_t a, b;
	pthread_create(&a, NULL, drainer, NULL);
	pthread_create(&b, NULL, pusher, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	int count = 0;
	for (struct node *n = atomic_load(&head), *next; n; n = next) {
		next = n->next;
		count++;
		free(n);
	}
	assert(count == 4);
	printf("stack of %d\n", count);
	return 0;
}
