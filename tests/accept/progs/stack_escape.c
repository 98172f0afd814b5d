/*
 * Locals and ThreadSanitizer under the memory-access hooks. hash() loops over
 * a byte array no other code sees: the hooks before its loads and stores must
 * not make it escape (migrace/memhooks.h declares them nocapture), so TSan
 * leaves its accesses alone. main's counter is a local too, but its address
 * goes to a thread: both write it, without a lock (a data race TSan reports)
 * or, with the argument "locked", under one mutex (no race).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int locked;

__attribute__((noinline)) uint64_t hash(const uint64_t *words, int n)
{
	uint64_t h = 1469598103934665603ull;
	for (int i = 0; i < n; i++) {
		uint8_t b[sizeof(uint64_t)];
		memcpy(b, &words[i], sizeof(b));
		for (unsigned j = 0; j < sizeof(b); j++)
			h = (h ^ b[j]) * 1099511628211ull;
	}
	return h;
}

static void bump(long *counter)
{
	if (locked)
		pthread_mutex_lock(&lock);
	++*counter;
	if (locked)
		pthread_mutex_unlock(&lock);
}

static void *other(void *arg)
{
	bump(arg);
	return NULL;
}

int main(int argc, char **argv)
{
	uint64_t words[4] = { 1, 2, 3, 4 };
	long counter = 0;
	pthread_t t;

	locked = argc > 1 && strcmp(argv[1], "locked") == 0;
	pthread_create(&t, NULL, other, &counter);
	bump(&counter);
	pthread_join(t, NULL);
	printf("counter %ld hash %016llx\n", counter, (unsigned long long)hash(words, 4));
	return 0;
}
