/*
 * Work that depends on the address layout: each worker's number of rounds
 * comes from a hash of a heap and a stack address, and it visits its nodes
 * in address order (qsort of pointers). Its rounds update a shared counter
 * without the lock (a lost update under memory points); "locked" takes it.
 */
#include <assert.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WORKERS 3
#define NODES 6

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int counter, expected, locked, touched;

static unsigned hash(const void *p)
{
	uint64_t x = (uintptr_t)p;
	x ^= x >> 17;
	x *= 0x9E3779B97F4A7C15ull;
	return (unsigned)(x >> 58);
}

static int by_address(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;
	return x < y ? -1 : x > y;
}

static void *worker(void *arg)
{
	char local;
	void *nodes[NODES];
	(void)arg;
	for (int i = 0; i < NODES; i++)
		nodes[i] = malloc(16 + 16 * (size_t)(hash(&local) % 4));
	qsort(nodes, NODES, sizeof(nodes[0]), by_address);
	unsigned rounds = 1 + (hash(nodes[0]) ^ hash(&local)) % 4;
	for (int i = 0; i < NODES; i++)
		if (hash(nodes[i]) & 1) {        /* a lock round trip per odd node */
			pthread_mutex_lock(&mu);
			touched++;
			pthread_mutex_unlock(&mu);
		}
	for (unsigned r = 0; r < rounds; r++) {
		if (locked)
			pthread_mutex_lock(&mu);
		int v = counter;
		counter = v + 1;
		if (locked)
			pthread_mutex_unlock(&mu);
	}
	pthread_mutex_lock(&mu);
	expected += (int)rounds;
	pthread_mutex_unlock(&mu);
	for (int i = 0; i < NODES; i++)
		free(nodes[i]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[WORKERS];
	locked = argc > 1 && strcmp(argv[1], "locked") == 0;
	for (int i = 0; i < WORKERS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(t[i], NULL);
	printf("counter %d of %d, %d odd nodes\n", counter, expected, touched);
	assert(counter == expected);
	return 0;
}
