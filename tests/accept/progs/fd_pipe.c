/*
 * Producers and a consumer over a pipe. Each producer sends records of a
 * header byte (its id) and a payload of three bytes equal to it. The bug:
 * the header and the payload are two write() calls, so another producer's
 * record can land between them and the consumer reads a payload that does
 * not match its header. "fixed": one write() per record (at most PIPE_BUF
 * bytes: the kernel writes it at once).
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define PRODUCERS 2
#define RECORDS 3

static int fds[2];
static int fixed;

static void write_full(const void *buf, size_t len)
{
	assert(write(fds[1], buf, len) == (ssize_t)len);
}

static void read_full(void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = read(fds[0], (char *)buf + got, len - got);
		assert(n > 0);
		got += (size_t)n;
	}
}

static void *producer(void *arg)
{
	unsigned char id = (unsigned char)(long)arg;
	for (int i = 0; i < RECORDS; i++) {
		unsigned char rec[4] = { id, id, id, id };
		if (fixed) {
			write_full(rec, sizeof(rec));
		} else {
			write_full(rec, 1);
			write_full(rec + 1, 3);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t p[PRODUCERS];
	fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	assert(pipe(fds) == 0);
	for (long i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)(i + 1));
	for (int i = 0; i < PRODUCERS * RECORDS; i++) {
		unsigned char rec[4];
		read_full(rec, 1);
		read_full(rec + 1, 3);
		assert(rec[1] == rec[0] && rec[2] == rec[0] && rec[3] == rec[0] && "record torn");
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	close(fds[0]);
	close(fds[1]);
	puts("records intact");
	return 0;
}
