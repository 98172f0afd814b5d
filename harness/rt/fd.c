/*
 * File descriptors as scheduling decisions. The program's read, write,
 * recv/send, accept, connect, poll, select and epoll_wait calls (and the ones
 * that create and close descriptors, to know which are in the process) are
 * defined here under their own names (intercept.h), forwarding to the real
 * ones.
 *
 * In a controlled thread, a call on a descriptor whose other end is in the
 * process (a pipe, a socketpair, an eventfd, a socket connected to a thread of
 * the program, a listening socket) is a scheduling point: the thread is
 * disabled until the descriptor is ready, as the kernel would block it, and
 * the real call, made once it is ready, no longer blocks. Readiness is a
 * zero-timeout poll at each decision while a thread waits (fd_refresh). When
 * no thread can run and some wait on a descriptor the outside may make ready
 * (a listening socket, a poll set with a descriptor from outside), the run
 * waits for it really, and that thread's step is marked `fd-external`; when
 * nobody can end the wait, the run is a `deadlock` naming the descriptor.
 *
 * A call on a socket whose peer is outside the process is one decision,
 * marked `fd-external`, and then waited for really (the run depends on the
 * outside, and replay says so). Descriptors the program did not create in the
 * run (standard input, files) pass straight through, as do the calls of
 * threads the runtime does not control.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fd.h"
#include "intercept.h"
#include "rt.h"

#define RETADDR ((uintptr_t)__builtin_return_address(0))
#define FD_MAX 4096        /* descriptors above are not tracked: they pass through */

enum fd_kind { FK_NONE, FK_PIPE_R, FK_PIPE_W, FK_SOCKPAIR, FK_EVENTFD, FK_SOCKET, FK_EPOLL };

/* Where the other end is. */
enum fd_class {
	FC_PASS,    /* not created by the program in the run: passes through */
	FC_IN,      /* in the process: a wait is a model wait */
	FC_MAYBE,   /* a listening socket: a model wait, waited for really when nothing else can run */
	FC_OUT,     /* outside: one decision, then waited for really */
};

struct fdent {
	uint8_t kind;           /* enum fd_kind; FK_NONE: unknown */
	uint8_t cls;            /* sockets: the class once known, 0 not yet */
	bool ext;               /* epoll: a descriptor from outside is in its set */
	int peer;               /* pipe or socketpair: the other end's number, -1 none */
	int last;               /* the controlled thread that used it last, -1 none */
	uint64_t dev, ino;      /* the file it was created for: a number closed or reused
	                           behind our back (a raw close, the sanitizers' own
	                           symbolizer pipes) no longer matches */
};

/* The table lives in the fork server's memory and each run gets its copy:
 * what a run creates dies with it. */
static struct fdent fdt[FD_MAX];

/* Threads waiting in fd_wait: the runtime polls their descriptors at each
 * decision only while there are some. */
int fd_waiting;

INTERCEPT_REAL(ssize_t, read, int, void *, size_t);
INTERCEPT_REAL(ssize_t, write, int, const void *, size_t);
INTERCEPT_REAL(ssize_t, readv, int, const struct iovec *, int);
INTERCEPT_REAL(ssize_t, writev, int, const struct iovec *, int);
INTERCEPT_REAL(ssize_t, recv, int, void *, size_t, int);
INTERCEPT_REAL(ssize_t, recvfrom, int, void *, size_t, int, struct sockaddr *, socklen_t *);
INTERCEPT_REAL(ssize_t, recvmsg, int, struct msghdr *, int);
INTERCEPT_REAL(ssize_t, send, int, const void *, size_t, int);
INTERCEPT_REAL(ssize_t, sendto, int, const void *, size_t, int, const struct sockaddr *, socklen_t);
INTERCEPT_REAL(ssize_t, sendmsg, int, const struct msghdr *, int);
INTERCEPT_REAL(int, accept, int, struct sockaddr *, socklen_t *);
INTERCEPT_REAL(int, accept4, int, struct sockaddr *, socklen_t *, int);
INTERCEPT_REAL(int, connect, int, const struct sockaddr *, socklen_t);
INTERCEPT_REAL(int, poll, struct pollfd *, nfds_t, int);
INTERCEPT_REAL(int, ppoll, struct pollfd *, nfds_t, const struct timespec *, const sigset_t *);
INTERCEPT_REAL(int, select, int, fd_set *, fd_set *, fd_set *, struct timeval *);
INTERCEPT_REAL(int, pselect, int, fd_set *, fd_set *, fd_set *, const struct timespec *, const sigset_t *);
INTERCEPT_REAL(int, epoll_wait, int, struct epoll_event *, int, int);
INTERCEPT_REAL(int, epoll_pwait, int, struct epoll_event *, int, int, const sigset_t *);
INTERCEPT_REAL(int, epoll_create, int);
INTERCEPT_REAL(int, epoll_create1, int);
INTERCEPT_REAL(int, epoll_ctl, int, int, int, struct epoll_event *);
INTERCEPT_REAL(int, pipe, int *);
INTERCEPT_REAL(int, pipe2, int *, int);
INTERCEPT_REAL(int, socketpair, int, int, int, int *);
INTERCEPT_REAL(int, socket, int, int, int);
INTERCEPT_REAL(int, eventfd, unsigned, int);
INTERCEPT_REAL(int, eventfd_read, int, eventfd_t *);
INTERCEPT_REAL(int, eventfd_write, int, eventfd_t);
INTERCEPT_REAL(int, close, int);
INTERCEPT_REAL(int, dup, int);
INTERCEPT_REAL(int, dup2, int, int);
INTERCEPT_REAL(int, dup3, int, int, int);

/* The runtime's own look at descriptors (readiness, what they are) goes
 * past the sanitizers' interceptors, which would take it for the calling
 * thread touching another thread's descriptor (a report, or an edge that
 * hides one). */
static long raw(long nr, long a, long b, long c, long d, long e)
{
	return syscall(nr, a, b, c, d, e, 0);
}
#define RAW(nr, a, b, c, d, e) raw(nr, (long)(a), (long)(b), (long)(c), (long)(d), (long)(e))

static int raw_fcntl(int fd, int cmd, long arg) { return (int)RAW(SYS_fcntl, fd, cmd, arg, 0, 0); }
static int raw_getsockopt(int fd, int level, int name, void *v, socklen_t *len)
{
	return (int)RAW(SYS_getsockopt, fd, level, name, v, len);
}
static int raw_sockname(int fd, struct sockaddr_storage *a, socklen_t *len, bool peer)
{
	return (int)RAW(peer ? SYS_getpeername : SYS_getsockname, fd, a, len, 0, 0);
}

/* ---- which descriptors are in the process ------------------------------- */

static bool tracked(int fd) { return fd >= 0 && fd < FD_MAX; }

static bool file_of(int fd, uint64_t *dev, uint64_t *ino)
{
	struct stat st;
	if (RAW(SYS_fstat, fd, &st, 0, 0, 0) < 0)
		return false;
	*dev = st.st_dev;
	*ino = st.st_ino;
	return true;
}

/* Only the descriptors controlled threads create in the run are the
 * program's: the fork server's, and those made before the run, pass through. */
static void note_new(int fd, enum fd_kind kind, int peer)
{
	if (!tracked(fd) || !rt_managed())
		return;
	model_obj_forget(rt_model(), &fdt[fd]);   /* a new descriptor: a new object id */
	fdt[fd] = (struct fdent){ .kind = (uint8_t)kind, .peer = peer, .last = rt_self() };
	if (!file_of(fd, &fdt[fd].dev, &fdt[fd].ino))
		fdt[fd].kind = FK_NONE;
}

/* Whether fd's entry still describes the descriptor under that number. */
static bool still_same(int fd)
{
	uint64_t dev, ino;
	if (file_of(fd, &dev, &ino) && dev == fdt[fd].dev && ino == fdt[fd].ino)
		return true;
	fdt[fd] = (struct fdent){ .kind = FK_NONE, .peer = -1, .last = -1 };
	return false;
}

static void note_closed(int fd)
{
	if (!tracked(fd) || fdt[fd].kind == FK_NONE)
		return;
	int peer = fdt[fd].peer;
	if (tracked(peer) && fdt[peer].peer == fd)
		fdt[peer].peer = -1;
	if (rt_managed())
		model_obj_forget(rt_model(), &fdt[fd]);
	fdt[fd] = (struct fdent){ .kind = FK_NONE, .peer = -1, .last = -1 };
}

static void note_dup(int from, int to)
{
	if (!tracked(to))
		return;
	note_closed(to);
	if (tracked(from) && fdt[from].kind != FK_NONE && still_same(from)) {
		note_new(to, (enum fd_kind)fdt[from].kind, fdt[from].peer);
		fdt[to].cls = fdt[from].cls;
		fdt[to].ext = fdt[from].ext;
	}
}

static bool same_inet(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port && !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr));
}

/* An internet socket's peer is in the process when it is the local address
 * of another socket the program created in the run. */
static bool inet_peer_here(int fd, const struct sockaddr_storage *peer)
{
	for (int i = 0; i < FD_MAX; i++) {
		struct sockaddr_storage me;
		socklen_t len = sizeof(me);
		if (i != fd && fdt[i].kind == FK_SOCKET && still_same(i) && raw_sockname(i, &me, &len, false) == 0 &&
		    same_inet(&me, peer))
			return true;
	}
	return false;
}

static enum fd_class sock_class(int fd)
{
	struct fdent *e = &fdt[fd];
	if (e->cls)
		return (enum fd_class)e->cls;
	int on = 0;
	socklen_t len = sizeof(on);
	if (raw_getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on)
		return (enum fd_class)(e->cls = FC_MAYBE);
	struct sockaddr_storage peer;
	len = sizeof(peer);
	if (raw_sockname(fd, &peer, &len, true) < 0)
		return FC_IN;          /* not connected (yet): the call fails or waits on the program */
	if (peer.ss_family == AF_UNIX) {
		struct ucred cr;
		len = sizeof(cr);
		if (raw_getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) == 0)
			e->cls = cr.pid == getpid() ? FC_IN : FC_OUT;
		else
			e->cls = FC_OUT;
	} else if (peer.ss_family == AF_INET || peer.ss_family == AF_INET6) {
		e->cls = inet_peer_here(fd, &peer) ? FC_IN : FC_OUT;
	} else {
		e->cls = FC_OUT;
	}
	return (enum fd_class)e->cls;
}

static enum fd_class fd_class(int fd)
{
	if (!tracked(fd) || fdt[fd].kind == FK_NONE || !still_same(fd))
		return FC_PASS;
	switch (fdt[fd].kind) {
	case FK_PIPE_R:
	case FK_PIPE_W:
	case FK_SOCKPAIR:
	case FK_EVENTFD:
		return FC_IN;
	case FK_EPOLL:
		return fdt[fd].ext ? FC_MAYBE : FC_IN;
	case FK_SOCKET:
		return sock_class(fd);
	default:
		return FC_PASS;
	}
}

static bool nonblocking(int fd)
{
	int fl = raw_fcntl(fd, F_GETFL, 0);
	return fl >= 0 && (fl & O_NONBLOCK);
}

static struct mobj *fd_obj(int fd)
{
	struct mobj *o = model_obj(rt_model(), &fdt[fd], OBJ_FD);
	if (!o)
		rt_fail("harness:too-many-objects", "more than %d synchronisation objects", MODEL_MAX_OBJECTS);
	return o;
}

/* ---- waiting ------------------------------------------------------------ */

/* What a thread waits for: one descriptor, a poll set, select's sets or an
 * epoll instance. On the waiting thread's stack while it waits. */
struct fdw {
	const char *verb;       /* "reads", "writes", ... for reports */
	int fd;                 /* one descriptor, or -1 */
	short events;
	struct pollfd *pfd;     /* poll: the program's set */
	nfds_t npfd;
	int nfds;               /* select */
	fd_set *rs, *ws, *es;
	bool maybe;             /* the outside may make it ready */
};

static bool poll_ready(struct pollfd *p, nfds_t n, int ms)
{
	int r = (int)RAW(SYS_poll, p, n, ms, 0, 0);
	if (r <= 0)
		return false;
	for (nfds_t i = 0; i < n; i++)
		if (p[i].revents & ~POLLNVAL)
			return true;   /* a closed descriptor is no readiness: the kernel's waiter would sleep on */
	return false;
}

static bool fdw_ready(const struct fdw *w, int ms)
{
	if (w->pfd) {
		struct pollfd p[64];
		nfds_t n = w->npfd < 64 ? w->npfd : 64;
		for (nfds_t i = 0; i < n; i++)
			p[i] = (struct pollfd){ .fd = w->pfd[i].fd, .events = w->pfd[i].events };
		return poll_ready(p, n, ms);
	}
	if (w->nfds >= 0) {
		fd_set r, wr, e;
		if (w->rs)
			r = *w->rs;
		if (w->ws)
			wr = *w->ws;
		if (w->es)
			e = *w->es;
		struct timeval tv = { ms / 1000, ms % 1000 * 1000 };
		return RAW(SYS_select, w->nfds, w->rs ? &r : NULL, w->ws ? &wr : NULL, w->es ? &e : NULL, &tv) > 0;
	}
	struct pollfd p = { .fd = w->fd, .events = w->events };
	return poll_ready(&p, 1, ms);
}

void fd_refresh(struct model *m)
{
	for (int i = 0; i < m->nthreads; i++) {
		struct mthread *t = &m->threads[i];
		if (t->status != TS_FINISHED && t->pending.kind == OP_FD_WAIT && !t->pending.try && t->pending.fdw)
			t->signalled = fdw_ready(t->pending.fdw, 0);
	}
}

bool fd_wait_outside(struct model *m)
{
	bool any = false;
	for (int i = 0; i < m->nthreads; i++) {
		const struct mthread *t = &m->threads[i];
		any |= t->status != TS_FINISHED && t->pending.kind == OP_FD_WAIT && t->pending.fdw &&
		       ((const struct fdw *)t->pending.fdw)->maybe;
	}
	if (!any)
		return false;
	/* the run's wall clock ends a wait that never ends */
	for (;;)
		for (int i = 0; i < m->nthreads; i++) {
			struct mthread *t = &m->threads[i];
			if (t->status == TS_FINISHED || t->pending.kind != OP_FD_WAIT || !t->pending.fdw ||
			    !((const struct fdw *)t->pending.fdw)->maybe)
				continue;
			if (fdw_ready(t->pending.fdw, 10)) {
				t->pending.kind = OP_FD_EXT;   /* enabled, and the step says why */
				return true;
			}
		}
}

static const char *kind_name(int fd)
{
	switch (tracked(fd) ? fdt[fd].kind : FK_NONE) {
	case FK_PIPE_R: return "pipe, read end";
	case FK_PIPE_W: return "pipe, write end";
	case FK_SOCKPAIR: return "socketpair";
	case FK_EVENTFD: return "eventfd";
	case FK_SOCKET: return fdt[fd].cls == FC_MAYBE ? "listening socket" : "socket";
	case FK_EPOLL: return "epoll";
	default: return "closed";
	}
}

int fd_describe(const struct op *op, char *buf, size_t len, int *other)
{
	const struct fdw *w = op->fdw;
	*other = -1;
	if (!w)
		return snprintf(buf, len, "waits on a descriptor");
	if (w->fd < 0)
		return snprintf(buf, len, "%s (%s)", w->verb, w->maybe ? "with a descriptor from outside" :
			"a set of descriptors of the process");
	int fd = w->fd, peer = tracked(fd) ? fdt[fd].peer : -1;
	if (tracked(peer) && fdt[peer].kind != FK_NONE) {
		*other = fdt[peer].last;
		if (*other >= 0)
			return snprintf(buf, len, "%s fd %d (%s; the other end fd %d is open, last used by T%d)",
					w->verb, fd, kind_name(fd), peer, *other);
		return snprintf(buf, len, "%s fd %d (%s; the other end fd %d is open, used by no thread)",
				w->verb, fd, kind_name(fd), peer);
	}
	if (tracked(fd) && (fdt[fd].kind == FK_PIPE_R || fdt[fd].kind == FK_PIPE_W || fdt[fd].kind == FK_SOCKPAIR))
		return snprintf(buf, len, "%s fd %d (%s; the other end is open under another number)", w->verb, fd,
				kind_name(fd));
	if (tracked(fd) && fdt[fd].last >= 0 && fdt[fd].kind != FK_NONE)
		return snprintf(buf, len, "%s fd %d (%s, last used by T%d)", w->verb, fd, kind_name(fd), fdt[fd].last);
	return snprintf(buf, len, "%s fd %d (%s)", w->verb, fd, kind_name(fd));
}

static void used(int fd)
{
	if (tracked(fd))
		fdt[fd].last = rt_self();
}

/* The scheduling point of a call on one descriptor; returns its class (no
 * point for FC_PASS). An FC_IN or FC_MAYBE call returns once the descriptor
 * is ready (or at once when it does not block). */
static enum fd_class fd_point(int fd, short events, bool nonblock, const char *verb, uintptr_t pc)
{
	enum fd_class c = fd_class(fd);
	if (c == FC_PASS)
		return c;
	used(fd);
	struct op op = { .kind = c == FC_OUT ? OP_FD_EXT : OP_FD_WAIT, .obj = fd_obj(fd),
			 .deadline = MODEL_NO_DEADLINE, .pc = pc };
	struct fdw w = { .verb = verb, .fd = fd, .events = events, .nfds = -1, .maybe = c == FC_MAYBE };
	op.try = c == FC_OUT || nonblock || nonblocking(fd);
	op.fdw = &w;
	fd_waiting++;
	rt_point(&op);
	fd_waiting--;
	return c;
}

/* After a call that may have made another thread's descriptor ready. */
static void fd_changed(int fd, uintptr_t pc)
{
	if (fd_class(fd) == FC_IN)
		rt_release_point(fd_obj(fd), pc);
}

/* A blocking write on a descriptor of the process: all of it, as the kernel
 * does, each wait for room a decision; `once` writes what fits without
 * blocking. */
typedef ssize_t (*write_once)(int fd, const void *arg, size_t off, int flags);

static ssize_t write_all(int fd, const void *arg, size_t len, int flags, write_once once, uintptr_t pc)
{
	bool nb = (flags & MSG_DONTWAIT) || nonblocking(fd);
	enum fd_class c = fd_point(fd, POLLOUT, nb, "writes", pc);
	if (c == FC_PASS || c == FC_OUT || nb) {
		ssize_t n = once(fd, arg, 0, flags);
		if (c != FC_PASS && n > 0)
			fd_changed(fd, pc);
		return n;
	}
	size_t done = 0;
	for (;;) {
		int fl = raw_fcntl(fd, F_GETFL, 0);
		raw_fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		ssize_t n = once(fd, arg, done, flags);
		int e = errno;
		raw_fcntl(fd, F_SETFL, fl);
		errno = e;
		if (n < 0 && errno != EAGAIN)
			return done ? (ssize_t)done : -1;
		if (n > 0) {
			done += (size_t)n;
			fd_changed(fd, pc);
		}
		if (done >= len)
			return (ssize_t)done;
		fd_point(fd, POLLOUT, false, "writes", pc);
	}
}

static ssize_t write_once_plain(int fd, const void *arg, size_t off, int flags)
{
	const struct iovec *v = arg;
	(void)flags;
	return REAL(write)(fd, (const char *)v->iov_base + off, v->iov_len - off);
}

static ssize_t send_once(int fd, const void *arg, size_t off, int flags)
{
	const struct iovec *v = arg;
	return REAL(send)(fd, (const char *)v->iov_base + off, v->iov_len - off, flags);
}

/* writev and sendmsg: the vector after `off` bytes, into out (at most 64). */
static int iov_skip(const struct iovec *v, int n, size_t off, struct iovec *out)
{
	int k = 0;
	for (int i = 0; i < n && k < 64; i++) {
		if (off >= v[i].iov_len) {
			off -= v[i].iov_len;
			continue;
		}
		out[k++] = (struct iovec){ (char *)v[i].iov_base + off, v[i].iov_len - off };
		off = 0;
	}
	return k;
}

struct vec { const struct iovec *v; int n; const struct msghdr *msg; };

static ssize_t writev_once(int fd, const void *arg, size_t off, int flags)
{
	const struct vec *a = arg;
	struct iovec rest[64];
	int k = iov_skip(a->v, a->n, off, rest);
	if (!a->msg)
		return REAL(writev)(fd, rest, k);
	struct msghdr m = *a->msg;
	m.msg_iov = rest;
	m.msg_iovlen = (size_t)k;
	if (off) {             /* the ancillary data went with the first bytes */
		m.msg_control = NULL;
		m.msg_controllen = 0;
	}
	return REAL(sendmsg)(fd, &m, flags);
}

static size_t iov_len(const struct iovec *v, int n)
{
	size_t len = 0;
	for (int i = 0; i < n; i++)
		len += v[i].iov_len;
	return len;
}

/* ---- the calls ---------------------------------------------------------- */

ssize_t read(int fd, void *buf, size_t len)
{
	if (!rt_managed())
		return REAL(read)(fd, buf, len);
	fd_point(fd, POLLIN, false, "reads", RETADDR);
	return REAL(read)(fd, buf, len);
}

ssize_t readv(int fd, const struct iovec *v, int n)
{
	if (!rt_managed())
		return REAL(readv)(fd, v, n);
	fd_point(fd, POLLIN, false, "reads", RETADDR);
	return REAL(readv)(fd, v, n);
}

ssize_t write(int fd, const void *buf, size_t len)
{
	if (!rt_managed())
		return REAL(write)(fd, buf, len);
	struct iovec v = { (void *)buf, len };
	return write_all(fd, &v, len, 0, write_once_plain, RETADDR);
}

ssize_t writev(int fd, const struct iovec *v, int n)
{
	if (!rt_managed() || n > 64)
		return REAL(writev)(fd, v, n);
	struct vec a = { v, n, NULL };
	return write_all(fd, &a, iov_len(v, n), 0, writev_once, RETADDR);
}

/* recv with MSG_WAITALL on a blocking descriptor of the process: until len
 * bytes, EOF or an error, each wait a decision. */
static ssize_t recv_all(int fd, void *buf, size_t len, int flags, uintptr_t pc)
{
	size_t done = 0;
	for (;;) {
		fd_point(fd, POLLIN, false, "reads", pc);
		ssize_t n = REAL(recv)(fd, (char *)buf + done, len - done, (flags & ~MSG_WAITALL) | MSG_DONTWAIT);
		if (n < 0 && errno != EAGAIN)
			return done ? (ssize_t)done : -1;
		if (n == 0)
			return (ssize_t)done;
		if (n > 0)
			done += (size_t)n;
		if (done >= len)
			return (ssize_t)done;
	}
}

static bool wait_all(int fd, int flags)
{
	return (flags & MSG_WAITALL) && !(flags & MSG_DONTWAIT) && fd_class(fd) != FC_PASS &&
	       fd_class(fd) != FC_OUT && !nonblocking(fd);
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	if (!rt_managed())
		return REAL(recv)(fd, buf, len, flags);
	if (wait_all(fd, flags))
		return recv_all(fd, buf, len, flags, RETADDR);
	fd_point(fd, POLLIN, flags & MSG_DONTWAIT, "reads", RETADDR);
	return REAL(recv)(fd, buf, len, flags);
}

ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from, socklen_t *fromlen)
{
	if (!rt_managed())
		return REAL(recvfrom)(fd, buf, len, flags, from, fromlen);
	if (!from && wait_all(fd, flags))
		return recv_all(fd, buf, len, flags, RETADDR);
	fd_point(fd, POLLIN, flags & MSG_DONTWAIT, "reads", RETADDR);
	return REAL(recvfrom)(fd, buf, len, flags & ~(wait_all(fd, flags) ? MSG_WAITALL : 0), from, fromlen);
}

ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!rt_managed())
		return REAL(recvmsg)(fd, msg, flags);
	/* MSG_WAITALL: what is there once ready (a shorter read than the kernel's) */
	fd_point(fd, POLLIN, flags & MSG_DONTWAIT, "reads", RETADDR);
	return REAL(recvmsg)(fd, msg, flags & ~(wait_all(fd, flags) ? MSG_WAITALL : 0));
}

ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (!rt_managed())
		return REAL(send)(fd, buf, len, flags);
	struct iovec v = { (void *)buf, len };
	return write_all(fd, &v, len, flags, send_once, RETADDR);
}

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to, socklen_t tolen)
{
	if (!rt_managed())
		return REAL(sendto)(fd, buf, len, flags, to, tolen);
	if (!to) {
		struct iovec v = { (void *)buf, len };
		return write_all(fd, &v, len, flags, send_once, RETADDR);
	}
	enum fd_class c = fd_point(fd, POLLOUT, flags & MSG_DONTWAIT, "writes", RETADDR);
	ssize_t n = REAL(sendto)(fd, buf, len, flags, to, tolen);
	if (c != FC_PASS && n > 0)
		fd_changed(fd, RETADDR);
	return n;
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!rt_managed() || msg->msg_iovlen > 64 || msg->msg_name)
		return REAL(sendmsg)(fd, msg, flags);
	struct vec a = { msg->msg_iov, (int)msg->msg_iovlen, msg };
	return write_all(fd, &a, iov_len(msg->msg_iov, (int)msg->msg_iovlen), flags, writev_once, RETADDR);
}

static int accepted(int fd)
{
	if (fd >= 0)
		note_new(fd, FK_SOCKET, -1);
	return fd;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	if (rt_managed())
		fd_point(fd, POLLIN, false, "accepts on", RETADDR);
	return accepted(REAL(accept)(fd, addr, len));
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
	if (rt_managed())
		fd_point(fd, POLLIN, flags & SOCK_NONBLOCK, "accepts on", RETADDR);
	return accepted(REAL(accept4)(fd, addr, len, flags));
}

/* Whether some listening socket of the program is bound to addr. */
static bool listener_here(const struct sockaddr *addr, socklen_t alen)
{
	for (int i = 0; i < FD_MAX; i++) {
		if (fdt[i].kind != FK_SOCKET || fd_class(i) != FC_MAYBE)
			continue;
		struct sockaddr_storage me;
		socklen_t len = sizeof(me);
		if (raw_sockname(i, &me, &len, false) < 0 || me.ss_family != addr->sa_family)
			continue;
		if (addr->sa_family == AF_UNIX) {
			const struct sockaddr_un *a = (const void *)addr, *b = (const void *)&me;
			size_t off = offsetof(struct sockaddr_un, sun_path);
			if (alen > off && len > off &&
			    !strncmp(a->sun_path, b->sun_path, sizeof(a->sun_path)))
				return true;
		} else if (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) {
			struct sockaddr_storage to = { 0 };
			memcpy(&to, addr, alen < sizeof(to) ? alen : sizeof(to));
			if (same_inet(&me, &to))
				return true;
			/* bound to any address: the port decides */
			if (addr->sa_family == AF_INET && ((struct sockaddr_in *)&me)->sin_addr.s_addr == htonl(INADDR_ANY) &&
			    ((struct sockaddr_in *)&me)->sin_port == ((const struct sockaddr_in *)addr)->sin_port)
				return true;
		}
	}
	return false;
}

/* A connection to a listener of the program completes without its accept
 * (the kernel queues it): a decision, then the call. To the outside: a
 * decision marked external, then the real wait. */
int connect(int fd, const struct sockaddr *addr, socklen_t alen)
{
	if (!rt_managed() || !tracked(fd) || fdt[fd].kind != FK_SOCKET || !addr)
		return REAL(connect)(fd, addr, alen);
	bool here = listener_here(addr, alen);
	used(fd);
	struct op op = { .kind = here ? OP_FD_WAIT : OP_FD_EXT, .obj = fd_obj(fd), .try = true,
			 .deadline = MODEL_NO_DEADLINE, .pc = RETADDR };
	rt_point(&op);
	fdt[fd].cls = 0;       /* classified again once connected */
	int r = REAL(connect)(fd, addr, alen);
	if (r == 0 && here)
		rt_release_point(op.obj, RETADDR);
	return r;
}

/* ---- poll, select, epoll ------------------------------------------------ */

static int64_t ms_deadline(int ms)
{
	return ms < 0 ? MODEL_NO_DEADLINE : rt_now() + (int64_t)ms * 1000000;
}

static int64_t ts_deadline(const struct timespec *ts)
{
	return ts ? rt_now() + (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec : MODEL_NO_DEADLINE;
}

/* A wait on a set: a model wait until something is ready or the virtual
 * deadline passed; `maybe` when the outside may make it ready. */
static void set_wait(struct fdw *w, int one, int64_t deadline, uintptr_t pc)
{
	struct op op = { .kind = OP_FD_WAIT, .obj = one >= 0 ? fd_obj(one) : NULL, .deadline = deadline,
			 .pc = pc, .fdw = w };
	op.try = deadline != MODEL_NO_DEADLINE && deadline <= rt_now();
	fd_waiting++;
	rt_point(&op);
	fd_waiting--;
}

/* How a set of descriptors is waited for: in the model (some are the
 * process's, or none at all: a sleep), or, when all are outside, with one
 * fd-external decision and then the real call; when none was created in the
 * run (standard input alone), the call passes through. */
enum set_mode { SET_MODEL, SET_OUTSIDE, SET_PASS };

struct set_count { int here, out, pass, one; };

static void set_count_fd(struct set_count *k, int fd)
{
	enum fd_class c = fd_class(fd);
	if (c == FC_PASS) {
		k->pass++;
		return;
	}
	used(fd);
	if (c == FC_OUT)
		k->out++;
	else
		k->here++;
	k->one = k->one == -1 ? fd : -2;
}

static enum set_mode set_point(struct fdw *w, const struct set_count *k, int64_t deadline, uintptr_t pc)
{
	if (!k->here && !k->out && k->pass)
		return SET_PASS;
	if (!k->here && k->out) {
		struct op op = { .kind = OP_FD_EXT, .obj = k->one >= 0 ? fd_obj(k->one) : NULL,
				 .deadline = MODEL_NO_DEADLINE, .pc = pc };
		rt_point(&op);
		return SET_OUTSIDE;
	}
	w->maybe = k->out || k->pass;
	w->fd = k->one >= 0 && !w->maybe ? k->one : -1;   /* named in a deadlock report */
	set_wait(w, k->one, deadline, pc);
	return SET_MODEL;
}

static enum set_mode poll_set(struct pollfd *p, nfds_t n, int64_t deadline, uintptr_t pc)
{
	struct fdw w = { .verb = "polls", .fd = -1, .pfd = p, .npfd = n, .nfds = -1 };
	struct set_count k = { .one = -1 };
	for (nfds_t i = 0; i < n; i++)
		if (p[i].fd >= 0)
			set_count_fd(&k, p[i].fd);
	return set_point(&w, &k, deadline, pc);
}

int poll(struct pollfd *p, nfds_t n, int ms)
{
	if (!rt_managed() || n > 64)
		return REAL(poll)(p, n, ms);
	if (poll_set(p, n, ms_deadline(ms), RETADDR) != SET_MODEL)
		return REAL(poll)(p, n, ms);
	return REAL(poll)(p, n, 0);
}

int ppoll(struct pollfd *p, nfds_t n, const struct timespec *ts, const sigset_t *mask)
{
	if (!rt_managed() || n > 64)
		return REAL(ppoll)(p, n, ts, mask);
	if (poll_set(p, n, ts_deadline(ts), RETADDR) != SET_MODEL)
		return REAL(ppoll)(p, n, ts, mask);
	return REAL(ppoll)(p, n, &(struct timespec){ 0, 0 }, mask);
}

static enum set_mode select_set(int nfds, fd_set *r, fd_set *wr, fd_set *e, int64_t deadline, uintptr_t pc)
{
	struct fdw w = { .verb = "selects", .fd = -1, .nfds = nfds, .rs = r, .ws = wr, .es = e };
	struct set_count k = { .one = -1 };
	for (int fd = 0; fd < nfds && fd < FD_SETSIZE; fd++)
		if ((r && FD_ISSET(fd, r)) || (wr && FD_ISSET(fd, wr)) || (e && FD_ISSET(fd, e)))
			set_count_fd(&k, fd);
	return set_point(&w, &k, deadline, pc);
}

int select(int nfds, fd_set *r, fd_set *wr, fd_set *e, struct timeval *tv)
{
	if (!rt_managed())
		return REAL(select)(nfds, r, wr, e, tv);
	if (select_set(nfds, r, wr, e, tv ? rt_now() + (int64_t)tv->tv_sec * 1000000000 + tv->tv_usec * 1000 :
		       MODEL_NO_DEADLINE, RETADDR) != SET_MODEL)
		return REAL(select)(nfds, r, wr, e, tv);
	return REAL(select)(nfds, r, wr, e, &(struct timeval){ 0, 0 });
}

int pselect(int nfds, fd_set *r, fd_set *wr, fd_set *e, const struct timespec *ts, const sigset_t *mask)
{
	if (!rt_managed())
		return REAL(pselect)(nfds, r, wr, e, ts, mask);
	if (select_set(nfds, r, wr, e, ts_deadline(ts), RETADDR) != SET_MODEL)
		return REAL(pselect)(nfds, r, wr, e, ts, mask);
	return REAL(pselect)(nfds, r, wr, e, &(struct timespec){ 0, 0 }, mask);
}

static void epoll_set(int ep, int64_t deadline, uintptr_t pc)
{
	struct fdw w = { .verb = "waits on", .fd = ep, .events = POLLIN, .nfds = -1 };
	enum fd_class c = fd_class(ep);
	if (c == FC_PASS) {
		w.maybe = true;
		set_wait(&w, -1, deadline, pc);
		return;
	}
	used(ep);
	w.maybe = c != FC_IN;
	set_wait(&w, ep, deadline, pc);
}

int epoll_wait(int ep, struct epoll_event *ev, int max, int ms)
{
	if (!rt_managed())
		return REAL(epoll_wait)(ep, ev, max, ms);
	epoll_set(ep, ms_deadline(ms), RETADDR);
	return REAL(epoll_wait)(ep, ev, max, 0);
}

int epoll_pwait(int ep, struct epoll_event *ev, int max, int ms, const sigset_t *mask)
{
	if (!rt_managed())
		return REAL(epoll_pwait)(ep, ev, max, ms, mask);
	epoll_set(ep, ms_deadline(ms), RETADDR);
	return REAL(epoll_pwait)(ep, ev, max, 0, mask);
}

int epoll_create(int size)
{
	int fd = REAL(epoll_create)(size);
	if (fd >= 0)
		note_new(fd, FK_EPOLL, -1);
	return fd;
}

int epoll_create1(int flags)
{
	int fd = REAL(epoll_create1)(flags);
	if (fd >= 0)
		note_new(fd, FK_EPOLL, -1);
	return fd;
}

/* An epoll set with a descriptor the outside may make ready is waited for
 * really when nothing else can run. */
int epoll_ctl(int ep, int op, int fd, struct epoll_event *ev)
{
	int r = REAL(epoll_ctl)(ep, op, fd, ev);
	if (r == 0 && op == EPOLL_CTL_ADD && tracked(ep) && fdt[ep].kind == FK_EPOLL &&
	    (!tracked(fd) || fdt[fd].kind == FK_NONE || (fdt[fd].kind == FK_SOCKET && fd_class(fd) != FC_IN)))
		fdt[ep].ext = true;
	return r;
}

/* ---- creating and closing ----------------------------------------------- */

static int pair(int *fds, int r, enum fd_kind a, enum fd_kind b)
{
	if (r == 0) {
		note_new(fds[0], a, fds[1]);
		note_new(fds[1], b, fds[0]);
	}
	return r;
}

int pipe(int fds[2]) { return pair(fds, REAL(pipe)(fds), FK_PIPE_R, FK_PIPE_W); }
int pipe2(int fds[2], int flags) { return pair(fds, REAL(pipe2)(fds, flags), FK_PIPE_R, FK_PIPE_W); }

int socketpair(int dom, int type, int proto, int fds[2])
{
	return pair(fds, REAL(socketpair)(dom, type, proto, fds), FK_SOCKPAIR, FK_SOCKPAIR);
}

int socket(int dom, int type, int proto)
{
	int fd = REAL(socket)(dom, type, proto);
	if (fd >= 0 && (dom == AF_UNIX || dom == AF_INET || dom == AF_INET6))
		note_new(fd, FK_SOCKET, -1);
	return fd;
}

int eventfd(unsigned initval, int flags)
{
	int fd = REAL(eventfd)(initval, flags);
	if (fd >= 0)
		note_new(fd, FK_EVENTFD, -1);
	return fd;
}

/* glibc's eventfd_read and eventfd_write call its internal read and write. */
int eventfd_read(int fd, eventfd_t *v)
{
	if (!rt_managed())
		return REAL(eventfd_read)(fd, v);
	return read(fd, v, sizeof(*v)) == sizeof(*v) ? 0 : -1;
}

int eventfd_write(int fd, eventfd_t v)
{
	if (!rt_managed())
		return REAL(eventfd_write)(fd, v);
	return write(fd, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

/* Closing an end makes the other ready (EOF, or an error): a release point. */
int close(int fd)
{
	if (!rt_managed() || !tracked(fd) || fdt[fd].kind == FK_NONE) {
		if (tracked(fd))
			note_closed(fd);
		return REAL(close)(fd);
	}
	struct mobj *o = fd_obj(fd);
	bool here = fd_class(fd) == FC_IN;
	used(fd);
	note_closed(fd);
	int r = REAL(close)(fd);
	if (here)
		rt_release_point(o, RETADDR);
	return r;
}

int dup(int fd)
{
	int r = REAL(dup)(fd);
	if (r >= 0)
		note_dup(fd, r);
	return r;
}

int dup2(int fd, int to)
{
	int r = REAL(dup2)(fd, to);
	if (r >= 0 && r != fd)
		note_dup(fd, r);
	return r;
}

int dup3(int fd, int to, int flags)
{
	int r = REAL(dup3)(fd, to, flags);
	if (r >= 0)
		note_dup(fd, r);
	return r;
}
