/*
 * An echo over loopback TCP between two threads, the server waiting in poll
 * (or, with "epoll", in epoll_wait) for the connection and for the request,
 * the client in poll for the reply. Correct under every schedule: the
 * waits are decisions of the scheduler, never a real block, and none of the
 * steps is fd-external (the peer of each socket is the other thread's).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int lfd, use_epoll;

static void wait_in(int fd)
{
	if (use_epoll) {
		int ep = epoll_create1(0);
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		assert(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
		assert(epoll_wait(ep, &ev, 1, -1) == 1 && ev.data.fd == fd);
		close(ep);
	} else {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		assert(poll(&p, 1, -1) == 1 && (p.revents & POLLIN));
	}
}

static void *server(void *arg)
{
	char buf[8];
	(void)arg;
	wait_in(lfd);
	int c = accept(lfd, NULL, NULL);
	assert(c >= 0);
	wait_in(c);
	ssize_t n = read(c, buf, sizeof(buf));
	assert(n > 0);
	assert(write(c, buf, (size_t)n) == n);
	close(c);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	pthread_t t;
	char buf[8] = "";
	use_epoll = argc > 1 && strcmp(argv[1], "epoll") == 0;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 4) == 0);
	assert(getsockname(lfd, (struct sockaddr *)&sa, &len) == 0);
	pthread_create(&t, NULL, server, NULL);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	assert(write(fd, "hi", 2) == 2);
	struct pollfd p = { .fd = fd, .events = POLLIN };
	assert(poll(&p, 1, 5000) == 1);
	assert(read(fd, buf, sizeof(buf) - 1) == 2 && strcmp(buf, "hi") == 0);
	close(fd);
	pthread_join(t, NULL);
	close(lfd);
	puts("echoed");
	return 0;
}
