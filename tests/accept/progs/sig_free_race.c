/*
 * A use after free where the free is the program's own: a worker reads an
 * object that main releases (release() calls free) while it still runs.
 * Signed at release (TSan: the read, then the free) or at the reader (argv[1]
 * "late": the free, then the read), never at free. argv[1] "joined": main
 * joins the worker before releasing, clean.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct conn {
	int fd;
	char name[12];
};

static struct conn *conn;

static bool late;

static void *reader(void *arg)
{
	(void)arg;
	if (late)
		usleep(2000);    /* main releases meanwhile */
	printf("fd %d\n", conn->fd);
	return NULL;
}

static void release(struct conn *c)
{
	free(c);
}

int main(int argc, char **argv)
{
	bool joined = argc > 1 && strcmp(argv[1], "joined") == 0;
	pthread_t t;

	late = argc > 1 && strcmp(argv[1], "late") == 0;
	conn = malloc(sizeof(*conn));
	conn->fd = 3;
	pthread_create(&t, NULL, reader, NULL);
	if (joined)
		pthread_join(t, NULL);
	else if (!late)
		usleep(1000);    /* the reader runs meanwhile: its read comes before the free */
	release(conn);
	if (!joined)
		pthread_join(t, NULL);
	return 0;
}
