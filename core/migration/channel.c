/*
 * The channel layer: reference counting, fault points, the transport
 * registry, and the built-in socket transports ("unix:" and "tcp:").
 * See channel.h for the semantics every transport follows.
 */
#define _GNU_SOURCE
#include "channel.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness_points.h"

/* ---- generic part ---------------------------------------------------- */

void channel_init(struct channel *ch, const struct channel_ops *ops, const char *name)
{
	ch->ops = ops;
	atomic_init(&ch->refcount, 1);
	snprintf(ch->name, sizeof(ch->name), "%s", name ? name : "channel");
}

void channel_ref(struct channel *ch)
{
	int old = atomic_fetch_add(&ch->refcount, 1);

	if (old <= 0) {
		fprintf(stderr, "channel_ref: %s: reference count was %d\n", ch->name, old);
		abort();
	}
}

void channel_unref(struct channel *ch)
{
	int old;

	if (!ch)
		return;
	old = atomic_fetch_sub(&ch->refcount, 1);
	if (old <= 0) {
		fprintf(stderr, "channel_unref: %s: reference count was %d\n", ch->name, old);
		abort();
	}
	if (old == 1)
		ch->ops->finalize(ch);
}

int channel_ref_count(struct channel *ch)
{
	return atomic_load(&ch->refcount);
}

const char *channel_name(struct channel *ch)
{
	return ch->name;
}

ssize_t channel_read(struct channel *ch, void *buf, size_t len)
{
	CORE_FAULT(CHANNEL_READ, -EIO);
	if (len == 0)
		return 0;
	return ch->ops->read(ch, buf, len);
}

int channel_write_all(struct channel *ch, const void *buf, size_t len)
{
	const char *p = buf;

	CORE_FAULT(CHANNEL_WRITE, -EIO);
	while (len > 0) {
		ssize_t n = ch->ops->write(ch, p, len);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EIO;	/* a transport must make progress */
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int channel_shutdown(struct channel *ch, int how)
{
	if (how < CHANNEL_SHUTDOWN_READ || how > CHANNEL_SHUTDOWN_BOTH)
		return -EINVAL;
	return ch->ops->shutdown(ch, how);
}

int channel_close(struct channel *ch)
{
	return ch->ops->close(ch);
}

int channel_send_fds(struct channel *ch, const int *fds, int nfds)
{
	if (nfds <= 0 || nfds > CHANNEL_MAX_FDS)
		return -EINVAL;
	if (!ch->ops->send_fds)
		return -ENOTSUP;
	CORE_FAULT(CHANNEL_WRITE, -EIO);
	return ch->ops->send_fds(ch, fds, nfds);
}

int channel_recv_fds(struct channel *ch, int *fds, int max)
{
	if (max <= 0)
		return -EINVAL;
	if (!ch->ops->recv_fds)
		return -ENOTSUP;
	CORE_FAULT(CHANNEL_READ, -EIO);
	return ch->ops->recv_fds(ch, fds, max > CHANNEL_MAX_FDS ? CHANNEL_MAX_FDS : max);
}

/* ---- transport registry ---------------------------------------------- */

#define CHANNEL_MAX_TRANSPORTS 8

static const struct channel_transport unix_transport;
static const struct channel_transport tcp_transport;

static pthread_mutex_t transports_lock = PTHREAD_MUTEX_INITIALIZER;
/* under transports_lock; the built-ins are always there */
static const struct channel_transport *transports[CHANNEL_MAX_TRANSPORTS] = {
	&unix_transport, &tcp_transport,
};

int channel_register_transport(const struct channel_transport *t)
{
	int ret = -ENOSPC;

	if (!t || !t->scheme || !t->scheme[0] || strchr(t->scheme, ':'))
		return -EINVAL;
	pthread_mutex_lock(&transports_lock);
	for (int i = 0; i < CHANNEL_MAX_TRANSPORTS; i++) {
		if (transports[i] == t) {
			ret = 0;
			break;
		}
		if (transports[i] && strcmp(transports[i]->scheme, t->scheme) == 0) {
			ret = -EEXIST;
			break;
		}
		if (!transports[i]) {
			transports[i] = t;
			ret = 0;
			break;
		}
	}
	pthread_mutex_unlock(&transports_lock);
	return ret;
}

/* Find the transport of uri and the address after "scheme:"; NULL if none. */
static const struct channel_transport *channel_find_transport(const char *uri, const char **addr)
{
	const struct channel_transport *found = NULL;
	const char *colon = uri ? strchr(uri, ':') : NULL;
	size_t len;

	if (!colon || colon == uri)
		return NULL;
	len = (size_t)(colon - uri);
	pthread_mutex_lock(&transports_lock);
	for (int i = 0; i < CHANNEL_MAX_TRANSPORTS && transports[i]; i++) {
		if (strlen(transports[i]->scheme) == len &&
		    strncmp(transports[i]->scheme, uri, len) == 0) {
			found = transports[i];
			break;
		}
	}
	pthread_mutex_unlock(&transports_lock);
	*addr = colon + 1;
	return found;
}

int channel_listen(const char *uri, struct channel_listener **out)
{
	const char *addr;
	const struct channel_transport *t = channel_find_transport(uri, &addr);

	if (!t)
		return -EINVAL;
	return t->listen(addr, out);
}

int channel_accept(struct channel_listener *l, struct channel **out)
{
	CORE_FAULT(CHANNEL_ACCEPT, -EIO);
	return l->transport->accept(l, out);
}

int channel_connect(const char *uri, struct channel **out)
{
	const char *addr;
	const struct channel_transport *t = channel_find_transport(uri, &addr);

	if (!t)
		return -EINVAL;
	CORE_FAULT(CHANNEL_CONNECT, -EIO);
	return t->connect(addr, out);
}

const char *channel_listener_uri(struct channel_listener *l)
{
	return l->uri;
}

void channel_listener_shutdown(struct channel_listener *l)
{
	l->transport->shutdown_listener(l);
}

void channel_listener_close(struct channel_listener *l)
{
	if (l)
		l->transport->close_listener(l);
}

/* ---- socket channels ------------------------------------------------- */

/*
 * One end of a connected socket. The fd is only used between sock_get_fd()
 * and sock_put_fd(); close(2) is deferred while such a use is in flight.
 * This is what Linux does too (a blocked recv holds the file open), and it
 * keeps a concurrent channel_close from closing an fd number that another
 * thread is about to pass to recv(2), which could by then be a reused one.
 */
struct sock_channel {
	struct channel base;
	pthread_mutex_t lock;	/* protects the three fields below; never held while blocking */
	int fd;			/* under lock; -1 once released by close(2) */
	int users;		/* under lock: ops between sock_get_fd and sock_put_fd */
	bool closed;		/* under lock: channel_close was called */
	bool can_pass_fds;	/* immutable: an AF_UNIX socket */
};

static int sock_get_fd(struct sock_channel *s)
{
	int fd;

	pthread_mutex_lock(&s->lock);
	if (s->closed) {
		fd = -EBADF;
	} else {
		fd = s->fd;
		s->users++;
	}
	pthread_mutex_unlock(&s->lock);
	return fd;
}

static void sock_put_fd(struct sock_channel *s)
{
	int release = -1;

	pthread_mutex_lock(&s->lock);
	s->users--;
	if (s->closed && s->users == 0 && s->fd >= 0) {
		release = s->fd;
		s->fd = -1;
	}
	pthread_mutex_unlock(&s->lock);
	if (release >= 0)
		close(release);
}

static ssize_t sock_read(struct channel *ch, void *buf, size_t len)
{
	struct sock_channel *s = (struct sock_channel *)ch;
	int fd = sock_get_fd(s);
	ssize_t n;

	if (fd < 0)
		return fd;
	do {
		n = recv(fd, buf, len, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	sock_put_fd(s);
	return n;
}

static ssize_t sock_write(struct channel *ch, const void *buf, size_t len)
{
	struct sock_channel *s = (struct sock_channel *)ch;
	int fd = sock_get_fd(s);
	ssize_t n;

	if (fd < 0)
		return fd;
	do {
		n = send(fd, buf, len, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	sock_put_fd(s);
	return n;
}

static int sock_shutdown(struct channel *ch, int how)
{
	struct sock_channel *s = (struct sock_channel *)ch;
	int fd = sock_get_fd(s);
	int sh = how == CHANNEL_SHUTDOWN_READ ? SHUT_RD :
		 how == CHANNEL_SHUTDOWN_WRITE ? SHUT_WR : SHUT_RDWR;
	int ret = 0;

	if (fd < 0)
		return fd;
	/* ENOTCONN: the peer is already gone, which is what we wanted */
	if (shutdown(fd, sh) < 0 && errno != ENOTCONN)
		ret = -errno;
	sock_put_fd(s);
	return ret;
}

static int sock_close(struct channel *ch)
{
	struct sock_channel *s = (struct sock_channel *)ch;
	int release = -1;

	pthread_mutex_lock(&s->lock);
	if (!s->closed) {
		s->closed = true;
		if (s->users == 0) {
			release = s->fd;
			s->fd = -1;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (release >= 0 && close(release) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

static int sock_send_fds(struct channel *ch, const int *fds, int nfds)
{
	struct sock_channel *s = (struct sock_channel *)ch;
	char byte = 'F';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * CHANNEL_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = CMSG_SPACE(sizeof(int) * nfds),
	};
	struct cmsghdr *c;
	int fd;
	ssize_t n;

	/* other families would silently drop the fds and send the marker byte */
	if (!s->can_pass_fds)
		return -ENOTSUP;
	fd = sock_get_fd(s);
	if (fd < 0)
		return fd;
	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	do {
		n = sendmsg(fd, &msg, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	sock_put_fd(s);
	return n < 0 ? -errno : 0;
}

/* Close every fd carried by a control message (on a protocol error). */
static void sock_close_cmsg_fds(struct msghdr *msg)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		int n, *p = (int *)CMSG_DATA(c);

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < n; i++)
			close(p[i]);
	}
}

/*
 * Reads exactly the one marker byte channel_send_fds wrote, with its fds.
 * The caller must not have consumed that byte through a buffered read.
 */
static int sock_recv_fds(struct channel *ch, int *fds, int max)
{
	struct sock_channel *s = (struct sock_channel *)ch;
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	union {
		char buf[CMSG_SPACE(sizeof(int) * CHANNEL_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	int fd, got = 0;
	ssize_t n;

	if (!s->can_pass_fds)
		return -ENOTSUP;
	fd = sock_get_fd(s);
	if (fd < 0)
		return fd;
	do {
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	sock_put_fd(s);
	if (n <= 0)
		return (int)n;
	if (msg.msg_flags & MSG_CTRUNC) {
		sock_close_cmsg_fds(&msg);
		return -EMSGSIZE;
	}
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
		return -EPROTO;
	got = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	if (got > max) {
		sock_close_cmsg_fds(&msg);
		return -EMSGSIZE;
	}
	memcpy(fds, CMSG_DATA(c), sizeof(int) * got);
	return got;
}

static void sock_finalize(struct channel *ch)
{
	struct sock_channel *s = (struct sock_channel *)ch;

	/* no users can be left: they held references */
	if (s->fd >= 0)
		close(s->fd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct channel_ops sock_channel_ops = {
	.read = sock_read,
	.write = sock_write,
	.shutdown = sock_shutdown,
	.close = sock_close,
	.send_fds = sock_send_fds,
	.recv_fds = sock_recv_fds,
	.finalize = sock_finalize,
};

struct channel *channel_socket_new(int fd, const char *name)
{
	struct sock_channel *s = calloc(1, sizeof(*s));
	int domain = 0;
	socklen_t len = sizeof(domain);

	if (!s)
		return NULL;
	channel_init(&s->base, &sock_channel_ops, name);
	pthread_mutex_init(&s->lock, NULL);
	s->fd = fd;
	s->can_pass_fds = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
			  domain == AF_UNIX;
	return &s->base;
}

/* Wrap fd, or close it on failure. */
static int sock_wrap(int fd, const char *name, struct channel **out)
{
	*out = channel_socket_new(fd, name);
	if (!*out) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

int channel_socket_pair(struct channel **a, struct channel **b)
{
	int sv[2], ret;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	ret = sock_wrap(sv[0], "socketpair-a", a);
	if (ret < 0) {
		close(sv[1]);
		return ret;
	}
	ret = sock_wrap(sv[1], "socketpair-b", b);
	if (ret < 0) {
		channel_unref(*a);
		*a = NULL;
	}
	return ret;
}

/* ---- socket listeners ------------------------------------------------ */

struct sock_listener {
	struct channel_listener base;
	pthread_mutex_t lock;	/* protects shut; shutdown(2) is done under it (never blocks) */
	int fd;			/* immutable until close_listener */
	bool shut;		/* under lock: channel_listener_shutdown was called */
	char unlink_path[sizeof(((struct sockaddr_un *)0)->sun_path)];	/* unix only */
};

static int sock_listener_new(const struct channel_transport *t, int fd, struct sock_listener **out)
{
	struct sock_listener *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->base.transport = t;
	pthread_mutex_init(&l->lock, NULL);
	l->fd = fd;
	*out = l;
	return 0;
}

static int sock_accept(struct channel_listener *base, struct channel **out)
{
	struct sock_listener *l = (struct sock_listener *)base;
	bool shut;
	int fd;

	pthread_mutex_lock(&l->lock);
	shut = l->shut;
	pthread_mutex_unlock(&l->lock);
	if (shut)
		return -ECANCELED;
	do {
		fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
	} while (fd < 0 && (errno == EINTR || errno == ECONNABORTED));
	if (fd < 0) {
		int err = -errno;

		pthread_mutex_lock(&l->lock);
		shut = l->shut;
		pthread_mutex_unlock(&l->lock);
		return shut ? -ECANCELED : err;
	}
	if (base->transport == &tcp_transport)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	return sock_wrap(fd, base->uri, out);
}

/* On Linux, shutdown(2) of a listening socket wakes a blocked accept(2). */
static void sock_shutdown_listener(struct channel_listener *base)
{
	struct sock_listener *l = (struct sock_listener *)base;

	pthread_mutex_lock(&l->lock);
	if (!l->shut) {
		l->shut = true;
		shutdown(l->fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&l->lock);
}

static void sock_close_listener(struct channel_listener *base)
{
	struct sock_listener *l = (struct sock_listener *)base;

	close(l->fd);
	if (l->unlink_path[0])
		unlink(l->unlink_path);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

static int unix_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!path[0])
		return -EINVAL;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int unix_listen(const char *path, struct channel_listener **out)
{
	struct sockaddr_un sa;
	struct sock_listener *l;
	int fd, ret = unix_addr(path, &sa);

	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	ret = sock_listener_new(&unix_transport, fd, &l);
	if (ret < 0) {
		close(fd);
		unlink(path);
		return ret;
	}
	snprintf(l->unlink_path, sizeof(l->unlink_path), "%s", path);
	snprintf(l->base.uri, sizeof(l->base.uri), "unix:%s", path);
	*out = &l->base;
	return 0;
}

static int unix_connect(const char *path, struct channel **out)
{
	struct sockaddr_un sa;
	int fd, ret = unix_addr(path, &sa);

	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return sock_wrap(fd, path, out);
}

/* Split "host:port" or "[v6]:port" and resolve it (numeric port). */
static int tcp_resolve(const char *addr, bool passive, struct addrinfo **res)
{
	char host[128];
	const char *colon = strrchr(addr, ':');
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	size_t hlen;
	int ret;

	if (!colon || !colon[1])
		return -EINVAL;
	hlen = (size_t)(colon - addr);
	if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']') {
		addr++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	ret = getaddrinfo(hlen ? host : NULL, colon + 1, &hints, res);
	if (ret == EAI_SYSTEM)
		return -errno;
	return ret ? -EINVAL : 0;
}

static int tcp_listen(const char *addr, struct channel_listener **out)
{
	struct addrinfo *res, *ai;
	struct sock_listener *l;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	char host[INET6_ADDRSTRLEN], port[16];
	int fd = -1, ret = tcp_resolve(addr, true, &res);

	if (ret < 0)
		return ret;
	ret = -EADDRNOTAVAIL;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &(int){1}, sizeof(int));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 16) == 0)
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ret;
	if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
		ret = -errno;
	else if (getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host), port, sizeof(port),
			     NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		ret = -EINVAL;
	else
		ret = 0;
	if (ret < 0) {
		close(fd);
		return ret;
	}
	ret = sock_listener_new(&tcp_transport, fd, &l);
	if (ret < 0) {
		close(fd);
		return ret;
	}
	snprintf(l->base.uri, sizeof(l->base.uri), ss.ss_family == AF_INET6 ? "tcp:[%s]:%s" : "tcp:%s:%s",
		 host, port);
	*out = &l->base;
	return 0;
}

static int tcp_connect(const char *addr, struct channel **out)
{
	struct addrinfo *res, *ai;
	int fd = -1, ret = tcp_resolve(addr, false, &res);

	if (ret < 0)
		return ret;
	ret = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return ret;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
	return sock_wrap(fd, addr, out);
}

static const struct channel_transport unix_transport = {
	.scheme = "unix",
	.listen = unix_listen,
	.accept = sock_accept,
	.connect = unix_connect,
	.shutdown_listener = sock_shutdown_listener,
	.close_listener = sock_close_listener,
};

static const struct channel_transport tcp_transport = {
	.scheme = "tcp",
	.listen = tcp_listen,
	.accept = sock_accept,
	.connect = tcp_connect,
	.shutdown_listener = sock_shutdown_listener,
	.close_listener = sock_close_listener,
};
