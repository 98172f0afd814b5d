/*
 * A request to a server outside the process over a Unix socket (argv[1],
 * its path), while a second thread counts under a lock: the connect and the
 * reply are waited for really, and the trace marks those steps fd-external.
 * With no argument, a connect to a path nobody listens on fails at once.
 */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int counter;

static void *counting(void *arg)
{
	(void)arg;
	for (int i = 0; i < 3; i++) {
		pthread_mutex_lock(&lock);
		counter++;
		pthread_mutex_unlock(&lock);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	pthread_t t;
	char buf[16] = "";
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argc > 1 ? argv[1] : "/nonexistent/migrace.sock");
	pthread_create(&t, NULL, counting, NULL);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert(fd >= 0);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		assert(write(fd, "ping\n", 5) == 5);
		assert(read(fd, buf, sizeof(buf) - 1) > 0);
	}
	close(fd);
	pthread_join(t, NULL);
	assert(counter == 3);
	printf("answer: %s", buf[0] ? buf : "none\n");
	return 0;
}
