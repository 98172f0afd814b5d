/*
 * A reference-counted bidirectional byte channel (QIOChannel-like) with
 * transports registered by URI scheme. Built in: "unix:/path" and
 * "tcp:HOST:PORT" over real sockets; fakes/mem_channel.h adds "mem:NAME".
 * Semantics follow sockets on Linux: shutdown wakes a blocked reader, close does not.
 */
#ifndef CORE_CHANNEL_H
#define CORE_CHANNEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/types.h>

struct channel;
struct channel_listener;

enum channel_shutdown_how {
	CHANNEL_SHUTDOWN_READ = 1,	/* reads return 0 (EOF) from now on */
	CHANNEL_SHUTDOWN_WRITE = 2,	/* writes fail with -EPIPE, the peer reads EOF */
	CHANNEL_SHUTDOWN_BOTH = 3,	/* both of the above */
};

/* Most fds one channel_send_fds / channel_recv_fds call may carry. */
#define CHANNEL_MAX_FDS 16

/*
 * What a transport implements for one end of a connection. Every op may be
 * called from any thread; the generic layer adds nothing but fault points.
 *   read:     block until at least 1 byte; bytes, 0 at EOF, or -errno
 *   write:    block until at least 1 byte is accepted; bytes or -errno
 *   shutdown: never blocks; wakes blocked readers/writers of this end
 *   close:    releases the end; does NOT wake a reader already blocked on it
 *   send_fds/recv_fds: optional (NULL means -ENOTSUP)
 *   finalize: frees the channel; called once, when the last reference goes
 */
struct channel_ops {
	ssize_t (*read)(struct channel *ch, void *buf, size_t len);
	ssize_t (*write)(struct channel *ch, const void *buf, size_t len);
	int (*shutdown)(struct channel *ch, int how);
	int (*close)(struct channel *ch);
	int (*send_fds)(struct channel *ch, const int *fds, int nfds);
	int (*recv_fds)(struct channel *ch, int *fds, int max);
	void (*finalize)(struct channel *ch);
};

/* Embedded as the first member of each transport's channel struct. */
struct channel {
	const struct channel_ops *ops;	/* set at init, immutable */
	atomic_int refcount;		/* any thread, atomic inc/dec only */
	char name[64];			/* set at init, immutable */
};

/*
 * A transport: scheme is the URI prefix before the first ':', and each op
 * gets the rest of the URI (the address). All return 0 or -errno.
 *   listen:  bind and listen on addr, return a listener
 *   accept:  block until a connection arrives on the listener;
 *            -ECANCELED once channel_listener_shutdown() was called
 *   connect: connect to addr; -ECONNREFUSED (or -ENOENT) if nobody listens
 *   shutdown_listener: wake a blocked accept (never blocks)
 *   close_listener: release and free; no accept may be in flight
 */
struct channel_transport {
	const char *scheme;
	int (*listen)(const char *addr, struct channel_listener **out);
	int (*accept)(struct channel_listener *l, struct channel **out);
	int (*connect)(const char *addr, struct channel **out);
	void (*shutdown_listener)(struct channel_listener *l);
	void (*close_listener)(struct channel_listener *l);
};

/* Embedded as the first member of each transport's listener struct. */
struct channel_listener {
	const struct channel_transport *transport;	/* immutable */
	char uri[128];	/* the bound URI (tcp: with the actual port), immutable */
};

/* Set up the generic part of a new channel: one reference, held by the caller. */
void channel_init(struct channel *ch, const struct channel_ops *ops, const char *name);

void channel_ref(struct channel *ch);
/* Drop a reference; the last one calls ops->finalize (which frees ch). */
void channel_unref(struct channel *ch);
/* The current reference count, for assertions and tests only. */
int channel_ref_count(struct channel *ch);
const char *channel_name(struct channel *ch);

/*
 * Block until at least one byte is available; returns the number of bytes
 * read, 0 at EOF (the peer closed or shut down writing, or this end was shut
 * down for reading), or -errno (-EBADF after channel_close on this end).
 */
ssize_t channel_read(struct channel *ch, void *buf, size_t len);
/*
 * Write all len bytes, blocking while the peer does not read. 0 or -errno:
 * -EPIPE (or -ECONNRESET) after the peer closed or after a local shutdown
 * of writing; -EBADF after channel_close. Never raises SIGPIPE.
 */
int channel_write_all(struct channel *ch, const void *buf, size_t len);
/*
 * shutdown(2): never blocks, safe under a lock; wakes readers and writers
 * blocked on this end in other threads. Idempotent. -EBADF after close.
 */
int channel_shutdown(struct channel *ch, int how);
/*
 * close(2) on the end: later ops on it return -EBADF, the peer sees EOF, but
 * a reader already blocked in channel_read in another thread is NOT woken
 * (it returns when data or EOF arrives from the peer). A second close returns
 * 0, as QEMU's socket channel does. The channel itself lives on until the
 * last reference is dropped.
 */
int channel_close(struct channel *ch);
/* Hand over descriptors (SCM_RIGHTS on unix sockets). 0 or -errno. */
int channel_send_fds(struct channel *ch, const int *fds, int nfds);
/*
 * Receive descriptors sent with channel_send_fds, blocking until they come.
 * Returns how many (>= 1), 0 at EOF, or -errno (-EMSGSIZE if more than max
 * were sent: those are closed). The caller owns the received fds.
 */
int channel_recv_fds(struct channel *ch, int *fds, int max);

/*
 * Register a transport for its scheme; transport must stay valid forever.
 * Registering the same transport again is a no-op; another transport with
 * a taken scheme gives -EEXIST. "unix" and "tcp" are always registered.
 */
int channel_register_transport(const struct channel_transport *t);
/* Listen on "scheme:address". -EINVAL for a malformed URI or unknown scheme. */
int channel_listen(const char *uri, struct channel_listener **out);
/* Block until a connection arrives; -ECANCELED after channel_listener_shutdown(). */
int channel_accept(struct channel_listener *l, struct channel **out);
/* Connect to "scheme:address"; -EINVAL for a bad URI, -ECONNREFUSED/-ENOENT if nobody listens. */
int channel_connect(const char *uri, struct channel **out);
/* The URI the listener is bound to; for "tcp:...:0" it holds the real port. */
const char *channel_listener_uri(struct channel_listener *l);
/* Wake a channel_accept blocked in another thread. Never blocks. */
void channel_listener_shutdown(struct channel_listener *l);
/* Stop listening and free l. No channel_accept may be in flight. */
void channel_listener_close(struct channel_listener *l);

/* A channel over a connected socket fd; takes ownership of fd. NULL on ENOMEM. */
struct channel *channel_socket_new(int fd, const char *name);
/* A connected pair of unix stream sockets. 0 or -errno. */
int channel_socket_pair(struct channel **a, struct channel **b);

#endif
