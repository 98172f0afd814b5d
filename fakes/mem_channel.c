/*
 * In-memory channels: two ends sharing a struct mem_pair, one ring buffer
 * per direction, one mutex, condition variables for "readable" and
 * "writable"; and a registry of named listeners for "mem:NAME" URIs.
 */
#include "mem_channel.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "list.h"

#define MEM_FDQ_LEN 8	/* fd messages one direction may queue */

/* One direction: bytes written by end `i` of the pair, read by end `1 - i`. */
struct mem_pipe {
	uint8_t buf[MEM_CHANNEL_BUF_SIZE];	/* under pair lock */
	size_t head, len;			/* under pair lock: ring of len bytes at head */
	bool eof;		/* under pair lock: the writer end shut down writing or closed */
	bool reader_gone;	/* under pair lock: the reader end shut down reading or closed */
	pthread_cond_t readable;	/* data, eof or an fd message arrived; reader waits */
	pthread_cond_t writable;	/* space freed or reader_gone; writer waits */
	struct {
		int n;
		int fds[CHANNEL_MAX_FDS];
	} fdq[MEM_FDQ_LEN];	/* under pair lock */
	int fdq_head, fdq_len;	/* under pair lock */
};

struct mem_pair {
	pthread_mutex_t lock;	/* protects everything in pipe[] and the ends' flags */
	struct mem_pipe pipe[2];	/* pipe[i]: written by end i */
	int ends;		/* under lock: ends not yet finalized; frees at 0 */
};

struct mem_channel {
	struct channel base;
	struct mem_pair *pair;	/* immutable */
	int side;		/* immutable: 0 or 1 */
	bool rd_shut;		/* under pair lock */
	bool wr_shut;		/* under pair lock */
	bool closed;		/* under pair lock */
};

/*
 * Who is blocked in a read right now, by thread name (what a scenario's
 * watchdog needs to name a hang). Atomic slots, no lock: marking a reader
 * adds no scheduling point. A slot is 0 free, 2 being written, 1 in use.
 */
#define MEM_BLOCKED_MAX 32
static struct {
	_Atomic int state;
	char name[16];		/* written while state is 2, read while it is 1 */
} mem_blocked[MEM_BLOCKED_MAX];

static int mem_blocked_enter(void)
{
	char name[16] = "";

	prctl(PR_GET_NAME, name);
	for (int i = 0; i < MEM_BLOCKED_MAX; i++) {
		int free_slot = 0;
		if (!atomic_compare_exchange_strong(&mem_blocked[i].state, &free_slot, 2))
			continue;
		memcpy(mem_blocked[i].name, name, sizeof(name));
		atomic_store(&mem_blocked[i].state, 1);
		return i;
	}
	return -1;
}

static void mem_blocked_leave(int slot)
{
	if (slot >= 0)
		atomic_store(&mem_blocked[slot].state, 0);
}

bool mem_channel_reader_blocked(const char *thread_name)
{
	for (int i = 0; i < MEM_BLOCKED_MAX; i++)
		if (atomic_load(&mem_blocked[i].state) == 1 &&
		    strncmp(mem_blocked[i].name, thread_name, sizeof(mem_blocked[i].name) - 1) == 0)
			return true;
	return false;
}

static struct mem_pipe *mem_in(struct mem_channel *m)
{
	return &m->pair->pipe[1 - m->side];
}

static struct mem_pipe *mem_out(struct mem_channel *m)
{
	return &m->pair->pipe[m->side];
}

static ssize_t mem_read(struct channel *ch, void *buf, size_t len)
{
	struct mem_channel *m = (struct mem_channel *)ch;
	struct mem_pipe *p = mem_in(m);
	size_t n = 0;

	pthread_mutex_lock(&m->pair->lock);
	if (m->closed) {
		pthread_mutex_unlock(&m->pair->lock);
		return -EBADF;
	}
	/* channel_close on this end does not end this wait (socket semantics) */
	int slot = p->len == 0 && !p->eof && !m->rd_shut ? mem_blocked_enter() : -1;
	while (p->len == 0 && !p->eof && !m->rd_shut)
		pthread_cond_wait(&p->readable, &m->pair->lock);
	mem_blocked_leave(slot);
	while (n < len && p->len > 0) {
		size_t chunk = MEM_CHANNEL_BUF_SIZE - p->head;

		if (chunk > p->len)
			chunk = p->len;
		if (chunk > len - n)
			chunk = len - n;
		memcpy((uint8_t *)buf + n, p->buf + p->head, chunk);
		p->head = (p->head + chunk) % MEM_CHANNEL_BUF_SIZE;
		p->len -= chunk;
		n += chunk;
	}
	if (n > 0)
		pthread_cond_broadcast(&p->writable);
	pthread_mutex_unlock(&m->pair->lock);
	return (ssize_t)n;
}

static ssize_t mem_write(struct channel *ch, const void *buf, size_t len)
{
	struct mem_channel *m = (struct mem_channel *)ch;
	struct mem_pipe *p = mem_out(m);
	size_t n = 0;
	ssize_t ret;

	pthread_mutex_lock(&m->pair->lock);
	if (m->closed) {
		ret = -EBADF;
		goto out;
	}
	while (p->len == MEM_CHANNEL_BUF_SIZE && !p->reader_gone && !m->wr_shut)
		pthread_cond_wait(&p->writable, &m->pair->lock);
	if (p->reader_gone || m->wr_shut) {
		ret = -EPIPE;
		goto out;
	}
	while (n < len && p->len < MEM_CHANNEL_BUF_SIZE) {
		size_t tail = (p->head + p->len) % MEM_CHANNEL_BUF_SIZE;
		/* contiguous free space at tail; tail == head only when empty */
		size_t chunk = tail >= p->head ? MEM_CHANNEL_BUF_SIZE - tail : p->head - tail;

		if (chunk > len - n)
			chunk = len - n;
		memcpy(p->buf + tail, (const uint8_t *)buf + n, chunk);
		p->len += chunk;
		n += chunk;
	}
	pthread_cond_broadcast(&p->readable);
	ret = (ssize_t)n;
out:
	pthread_mutex_unlock(&m->pair->lock);
	return ret;
}

/* Wake whoever waits on either direction of the pair; caller holds the lock. */
static void mem_wake_all_locked(struct mem_pair *pair)
{
	for (int i = 0; i < 2; i++) {
		pthread_cond_broadcast(&pair->pipe[i].readable);
		pthread_cond_broadcast(&pair->pipe[i].writable);
	}
}

/* Like a unix socket: shutting down reading also makes the peer's writes fail. */
static int mem_shutdown(struct channel *ch, int how)
{
	struct mem_channel *m = (struct mem_channel *)ch;
	int ret = 0;

	pthread_mutex_lock(&m->pair->lock);
	if (m->closed) {
		ret = -EBADF;
	} else {
		if (how & CHANNEL_SHUTDOWN_READ) {
			m->rd_shut = true;
			mem_in(m)->reader_gone = true;
		}
		if (how & CHANNEL_SHUTDOWN_WRITE) {
			m->wr_shut = true;
			mem_out(m)->eof = true;
		}
		mem_wake_all_locked(m->pair);
	}
	pthread_mutex_unlock(&m->pair->lock);
	return ret;
}

/*
 * Marks this end closed: the peer reads EOF after the buffered bytes and its
 * writes fail with -EPIPE. Only the peer's waiters are woken: a reader or
 * writer blocked on this end stays blocked, as on a Linux socket.
 */
static int mem_close(struct channel *ch)
{
	struct mem_channel *m = (struct mem_channel *)ch;

	pthread_mutex_lock(&m->pair->lock);
	if (!m->closed) {
		m->closed = true;
		mem_out(m)->eof = true;
		mem_in(m)->reader_gone = true;
		pthread_cond_broadcast(&mem_out(m)->readable);	/* the peer's reader */
		pthread_cond_broadcast(&mem_in(m)->writable);	/* the peer's writer */
	}
	pthread_mutex_unlock(&m->pair->lock);
	return 0;
}

static void close_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

static int mem_send_fds(struct channel *ch, const int *fds, int nfds)
{
	struct mem_channel *m = (struct mem_channel *)ch;
	struct mem_pipe *p = mem_out(m);
	int ret = 0;

	pthread_mutex_lock(&m->pair->lock);
	if (m->closed) {
		ret = -EBADF;
	} else if (p->reader_gone || m->wr_shut) {
		ret = -EPIPE;
	} else if (p->fdq_len == MEM_FDQ_LEN) {
		ret = -ENOBUFS;
	} else {
		int slot = (p->fdq_head + p->fdq_len) % MEM_FDQ_LEN;

		/* like SCM_RIGHTS: the receiver gets descriptors of its own */
		for (int i = 0; i < nfds && ret == 0; i++) {
			p->fdq[slot].fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
			if (p->fdq[slot].fds[i] < 0) {
				ret = -errno;
				close_fds(p->fdq[slot].fds, i);
			}
		}
		if (ret == 0) {
			p->fdq[slot].n = nfds;
			p->fdq_len++;
			pthread_cond_broadcast(&p->readable);
		}
	}
	pthread_mutex_unlock(&m->pair->lock);
	return ret;
}

static int mem_recv_fds(struct channel *ch, int *fds, int max)
{
	struct mem_channel *m = (struct mem_channel *)ch;
	struct mem_pipe *p = mem_in(m);
	int ret;

	pthread_mutex_lock(&m->pair->lock);
	if (m->closed) {
		ret = -EBADF;
		goto out;
	}
	while (p->fdq_len == 0 && !p->eof && !m->rd_shut)
		pthread_cond_wait(&p->readable, &m->pair->lock);
	if (p->fdq_len == 0) {
		ret = 0;
		goto out;
	}
	ret = p->fdq[p->fdq_head].n;
	if (ret > max) {
		close_fds(p->fdq[p->fdq_head].fds, ret);   /* discarded, as the kernel does */
		ret = -EMSGSIZE;
	} else {
		memcpy(fds, p->fdq[p->fdq_head].fds, sizeof(int) * ret);
	}
	p->fdq_head = (p->fdq_head + 1) % MEM_FDQ_LEN;
	p->fdq_len--;
out:
	pthread_mutex_unlock(&m->pair->lock);
	return ret;
}

static void mem_finalize(struct channel *ch)
{
	struct mem_channel *m = (struct mem_channel *)ch;
	struct mem_pair *pair = m->pair;
	bool last;

	/* a dropped end that was never closed still hangs up on its peer */
	mem_close(ch);
	pthread_mutex_lock(&pair->lock);
	last = --pair->ends == 0;
	pthread_mutex_unlock(&pair->lock);
	free(m);
	if (!last)
		return;
	for (int i = 0; i < 2; i++) {
		struct mem_pipe *p = &pair->pipe[i];
		for (; p->fdq_len; p->fdq_len--, p->fdq_head = (p->fdq_head + 1) % MEM_FDQ_LEN)
			close_fds(p->fdq[p->fdq_head].fds, p->fdq[p->fdq_head].n);  /* never received */
		pthread_cond_destroy(&pair->pipe[i].readable);
		pthread_cond_destroy(&pair->pipe[i].writable);
	}
	pthread_mutex_destroy(&pair->lock);
	free(pair);
}

static const struct channel_ops mem_channel_ops = {
	.read = mem_read,
	.write = mem_write,
	.shutdown = mem_shutdown,
	.close = mem_close,
	.send_fds = mem_send_fds,
	.recv_fds = mem_recv_fds,
	.finalize = mem_finalize,
};

static struct mem_channel *mem_end_new(struct mem_pair *pair, int side, const char *name, int id)
{
	struct mem_channel *m = calloc(1, sizeof(*m));
	char full[64];

	if (!m)
		return NULL;
	snprintf(full, sizeof(full), "%s-%c", name, id ? 'b' : 'a');
	channel_init(&m->base, &mem_channel_ops, full);
	m->pair = pair;
	m->side = side;
	return m;
}

static int mem_pair_named(const char *name, struct channel **a, struct channel **b)
{
	struct mem_pair *pair = calloc(1, sizeof(*pair));
	struct mem_channel *ma, *mb;

	if (!pair)
		return -ENOMEM;
	pthread_mutex_init(&pair->lock, NULL);
	for (int i = 0; i < 2; i++) {
		pthread_cond_init(&pair->pipe[i].readable, NULL);
		pthread_cond_init(&pair->pipe[i].writable, NULL);
	}
	ma = mem_end_new(pair, 0, name, 0);
	mb = mem_end_new(pair, 1, name, 1);
	if (!ma || !mb) {
		free(ma);
		free(mb);
		pthread_mutex_destroy(&pair->lock);
		free(pair);
		return -ENOMEM;
	}
	pair->ends = 2;
	*a = &ma->base;
	*b = &mb->base;
	return 0;
}

int mem_channel_pair(struct channel **a, struct channel **b)
{
	return mem_pair_named("mem-pair", a, b);
}

/* ---- listeners -------------------------------------------------------- */

#define MEM_BACKLOG 16

struct mem_listener {
	struct channel_listener base;
	char name[64];				/* immutable */
	struct channel *pending[MEM_BACKLOG];	/* under registry_lock: connected, not accepted */
	int npending;				/* under registry_lock */
	bool shut;				/* under registry_lock */
	pthread_cond_t arrived;			/* a connect or a shutdown; accept waits */
	QLIST_ENTRY(mem_listener) next;		/* under registry_lock */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static QLIST_HEAD(, mem_listener) registry = QLIST_HEAD_INITIALIZER(registry);	/* under registry_lock */

static const struct channel_transport mem_transport;

static struct mem_listener *mem_find_locked(const char *name)
{
	struct mem_listener *l;

	QLIST_FOREACH(l, &registry, next) {
		if (strcmp(l->name, name) == 0)
			return l;
	}
	return NULL;
}

static int mem_listen(const char *name, struct channel_listener **out)
{
	struct mem_listener *l;

	if (!name[0] || strlen(name) >= sizeof(l->name))
		return -EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->base.transport = &mem_transport;
	snprintf(l->base.uri, sizeof(l->base.uri), "mem:%s", name);
	snprintf(l->name, sizeof(l->name), "%s", name);
	pthread_cond_init(&l->arrived, NULL);
	pthread_mutex_lock(&registry_lock);
	if (mem_find_locked(name)) {
		pthread_mutex_unlock(&registry_lock);
		pthread_cond_destroy(&l->arrived);
		free(l);
		return -EADDRINUSE;
	}
	QLIST_INSERT_HEAD(&registry, l, next);
	pthread_mutex_unlock(&registry_lock);
	*out = &l->base;
	return 0;
}

static int mem_accept(struct channel_listener *base, struct channel **out)
{
	struct mem_listener *l = (struct mem_listener *)base;
	int ret = 0;

	pthread_mutex_lock(&registry_lock);
	while (l->npending == 0 && !l->shut)
		pthread_cond_wait(&l->arrived, &registry_lock);
	if (l->shut) {
		ret = -ECANCELED;
	} else {
		*out = l->pending[0];
		memmove(&l->pending[0], &l->pending[1], sizeof(l->pending[0]) * --l->npending);
	}
	pthread_mutex_unlock(&registry_lock);
	return ret;
}

/* Like a socket with a backlog: succeeds without waiting for the accept. */
static int mem_connect(const char *name, struct channel **out)
{
	struct mem_listener *l;
	struct channel *mine, *theirs;
	int ret = mem_pair_named(name, &mine, &theirs);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&registry_lock);
	l = mem_find_locked(name);
	if (!l || l->shut)
		ret = -ECONNREFUSED;
	else if (l->npending == MEM_BACKLOG)
		ret = -EAGAIN;
	else {
		l->pending[l->npending++] = theirs;
		pthread_cond_signal(&l->arrived);
	}
	pthread_mutex_unlock(&registry_lock);
	if (ret < 0) {
		channel_unref(mine);
		channel_unref(theirs);
		return ret;
	}
	*out = mine;
	return 0;
}

static void mem_shutdown_listener(struct channel_listener *base)
{
	struct mem_listener *l = (struct mem_listener *)base;

	pthread_mutex_lock(&registry_lock);
	l->shut = true;
	pthread_cond_broadcast(&l->arrived);
	pthread_mutex_unlock(&registry_lock);
}

/* Connections never accepted are dropped: their peers see EOF. */
static void mem_close_listener(struct channel_listener *base)
{
	struct mem_listener *l = (struct mem_listener *)base;

	pthread_mutex_lock(&registry_lock);
	QLIST_REMOVE(l, next);
	pthread_mutex_unlock(&registry_lock);
	for (int i = 0; i < l->npending; i++)
		channel_unref(l->pending[i]);
	pthread_cond_destroy(&l->arrived);
	free(l);
}

static const struct channel_transport mem_transport = {
	.scheme = "mem",
	.listen = mem_listen,
	.accept = mem_accept,
	.connect = mem_connect,
	.shutdown_listener = mem_shutdown_listener,
	.close_listener = mem_close_listener,
};

int mem_channel_register(void)
{
	return channel_register_transport(&mem_transport);
}
