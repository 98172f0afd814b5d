/*
 * Reads its standard input to the end (a thread reads it, main waits) and
 * prints its length and FNV-1a digest. "fail" then exits 1, so that every
 * run under exec --keep-going leaves its output in a report.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t h = 0xcbf29ce484222325ull, len;

static void *reader(void *arg)
{
	unsigned char buf[4096];
	ssize_t n;
	(void)arg;
	while ((n = read(0, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++, len++)
			h = (h ^ buf[i]) * 0x100000001b3ull;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	pthread_create(&t, NULL, reader, NULL);
	pthread_join(t, NULL);
	printf("stdin %llu bytes, fnv1a64 %016llx\n", (unsigned long long)len, (unsigned long long)h);
	return argc > 1 && strcmp(argv[1], "fail") == 0;
}
