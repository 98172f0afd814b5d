/*
 * The in-memory channel transport of harness builds, scheme "mem:NAME": a
 * bounded ring buffer per direction under a pthread mutex and condition
 * variables, so every block is a wait the controlled scheduler can see.
 * Same semantics as sockets on Linux (core/migration/channel.h).
 */
#ifndef FAKES_MEM_CHANNEL_H
#define FAKES_MEM_CHANNEL_H

#include <stdbool.h>

#include "channel.h"

/* Bytes one direction buffers before a writer blocks. */
#define MEM_CHANNEL_BUF_SIZE (64 * 1024)

/* Register the "mem" transport; idempotent. 0 or -errno. */
int mem_channel_register(void);

/*
 * A connected pair: what *a writes *b reads and vice versa. Each end holds
 * one reference owned by the caller. Differences from a socket:
 *  - fd passing goes through a side queue, in order among themselves but
 *    not ordered with the byte stream; as with SCM_RIGHTS the receiver gets
 *    duplicates of its own (the sender keeps and closes its originals), and
 *    fds never received are closed with the pair;
 *  - channel_close of one end makes the peer see EOF/EPIPE at once, even
 *    while a reader is still blocked on the closed end (that reader stays
 *    blocked until the peer writes or shuts down / closes).
 * 0 or -ENOMEM.
 */
int mem_channel_pair(struct channel **a, struct channel **b);

/* Whether a thread named thread_name (as pthread_setname_np set it) is
 * blocked in a read of some mem channel now, waiting for bytes, EOF or a
 * shutdown. For watchdogs that name a hang; any thread. */
bool mem_channel_reader_blocked(const char *thread_name);

#endif
