/*
 * Reads-from feedback (strategy guided, memory points): a writer stores x
 * eight times, from eight instructions, with a store to a word a bystander
 * thread also writes between each two; a reader reads x once. Which store the
 * read sees is what a schedule decides here, and the bystander's steps can
 * stand between the writer's and the reader's: a schedule can make the read
 * see a new store with no new pair of steps next to each other. The reader
 * fails when it sees the sixth store (between two of the writer's stores).
 * Expected: assert:v != 6. READSFROM_OK (readsfrom_ok.c): it accepts any value.
 */
#include <assert.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int x, noise;

static void *writer(void *arg)
{
	atomic_store_explicit(&x, 1, memory_order_relaxed);
	atomic_store_explicit(&noise, 1, memory_order_relaxed);
	atomic_store_explicit(&x, 2, memory_order_relaxed);
	atomic_store_explicit(&noise, 2, memory_order_relaxed);
	atomic_store_explicit(&x, 3, memory_order_relaxed);
	atomic_store_explicit(&noise, 3, memory_order_relaxed);
	atomic_store_explicit(&x, 4, memory_order_relaxed);
	atomic_store_explicit(&noise, 4, memory_order_relaxed);
	atomic_store_explicit(&x, 5, memory_order_relaxed);
	atomic_store_explicit(&noise, 5, memory_order_relaxed);
	atomic_store_explicit(&x, 6, memory_order_relaxed);
	atomic_store_explicit(&noise, 6, memory_order_relaxed);
	atomic_store_explicit(&x, 7, memory_order_relaxed);
	atomic_store_explicit(&noise, 7, memory_order_relaxed);
	atomic_store_explicit(&x, 8, memory_order_relaxed);
	return arg;
}

static void *bystander(void *arg)
{
	for (int i = 0; i < 4; i++)
		atomic_store_explicit(&noise, 100 + i, memory_order_relaxed);
	return arg;
}

static void *reader(void *arg)
{
	int v = atomic_load_explicit(&x, memory_order_relaxed);
#ifndef READSFROM_OK
	assert(v != 6);
#endif
	printf("read %d\n", v);
	return arg;
}

int main(void)
{
	pthread_t t[3];
	pthread_create(&t[0], NULL, writer, NULL);
	pthread_create(&t[1], NULL, bystander, NULL);
	pthread_create(&t[2], NULL, reader, NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return 0;
}
