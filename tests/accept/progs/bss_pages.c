/*
 * The fork server gives back the bss's zero pages before its first fork. The
 * setup touches 64 pages of a zeroed array and writes a byte into every
 * odd page, then calls migrace_fork_here(). Each run, two threads check what
 * the pages hold (the odd pages their byte, the rest zeros), and the first
 * reports which pages are in memory before anything in the run touched them
 * (mincore): "odd 32 even 0" when the zero pages were given back, "odd 32
 * even 32" when they were not (MIGRACE_FORK_HERE=0 is no different: runs
 * start at main, and main's own writes come after the drop).
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <migrace/migrace.h>

#define PAGES 64
#define PAGE 4096

static unsigned char pages[PAGES * PAGE] __attribute__((aligned(PAGE)));
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int checked;

static void *check(void *arg)
{
	(void)arg;
	for (int p = 0; p < PAGES; p++)
		for (int i = 0; i < PAGE; i++)
			assert(pages[p * PAGE + i] == (p % 2 && i == 100 ? 7 : 0));
	pthread_mutex_lock(&mu);
	checked++;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(void)
{
	unsigned char in[PAGES];
	pthread_t a, b;

	assert(sysconf(_SC_PAGESIZE) == PAGE);
	memset(pages, 0, sizeof(pages));
	for (int p = 1; p < PAGES; p += 2)
		pages[p * PAGE + 100] = 7;
	migrace_fork_here();
	int odd = 0, even = 0;
	assert(mincore(pages, sizeof(pages), in) == 0);
	for (int p = 0; p < PAGES; p++)
		*(p % 2 ? &odd : &even) += in[p] & 1;
	pthread_create(&a, NULL, check, NULL);
	pthread_create(&b, NULL, check, NULL);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert(checked == 2);
	printf("odd %d even %d\n", odd, even);
	return 0;
}
