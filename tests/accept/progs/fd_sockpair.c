/*
 * A request and its reply over a socketpair. The server thread answers only
 * once main has opened the service; the bug: a request that arrives before
 * is dropped, and the client waits for its reply for ever while the server
 * waits for the next request: a deadlock on the two ends of the socketpair,
 * not a hang until the timeout. "fixed": the service is open before the
 * threads start.
 */
#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int sv[2];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static bool open_;

static void *server(void *arg)
{
	char c;
	(void)arg;
	while (recv(sv[1], &c, 1, 0) == 1) {
		pthread_mutex_lock(&lock);
		bool ok = open_;
		pthread_mutex_unlock(&lock);
		if (ok)
			assert(send(sv[1], &c, 1, 0) == 1);
	}
	return NULL;
}

static void *client(void *arg)
{
	char c = 'q', r;
	(void)arg;
	assert(send(sv[0], &c, 1, 0) == 1);
	assert(recv(sv[0], &r, 1, 0) == 1 && r == 'q');
	shutdown(sv[0], SHUT_WR);    /* the server reads EOF and ends */
	return NULL;
}

static void open_service(void)
{
	pthread_mutex_lock(&lock);
	open_ = true;
	pthread_mutex_unlock(&lock);
}

int main(int argc, char **argv)
{
	bool fixed = argc > 1 && strcmp(argv[1], "fixed") == 0;
	pthread_t s, c;
	assert(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	if (fixed)
		open_service();
	pthread_create(&s, NULL, server, NULL);
	pthread_create(&c, NULL, client, NULL);
	if (!fixed)
		open_service();
	pthread_join(c, NULL);
	pthread_join(s, NULL);
	close(sv[0]);
	close(sv[1]);
	puts("answered");
	return 0;
}
