/*
 * Writes 8 MiB of binary data to stdout (byte i is (i * 2654435761) >> 13,
 * NULs included), half from a second thread, then "done" to stderr: a
 * program started by hand must pass it through byte for byte.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

#define TOTAL (8u << 20)

static void put(uint32_t from, uint32_t to)
{
	static unsigned char buf[65536];
	for (uint32_t i = from; i < to; i += sizeof(buf)) {
		for (uint32_t j = 0; j < sizeof(buf); j++)
			buf[j] = (unsigned char)((uint32_t)((i + j) * 2654435761u) >> 13);
		fwrite(buf, 1, sizeof(buf), stdout);
	}
}

static void *second_half(void *arg)
{
	(void)arg;
	put(TOTAL / 2, TOTAL);
	return NULL;
}

int main(void)
{
	pthread_t t;
	put(0, TOTAL / 2);
	fflush(stdout);
	pthread_create(&t, NULL, second_half, NULL);
	pthread_join(t, NULL);
	fflush(stdout);
	fputs("done\n", stderr);
	return 0;
}
