/*
 * Multifd: RAM pages over several channels, each with its own thread, on both
 * sides. The migration thread queues pages and syncs; the load thread of the
 * destination syncs when the main stream says so (wire.h).
 */
#ifndef CORE_MULTIFD_H
#define CORE_MULTIFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "channel.h"
#include "ram.h"

struct multifd_send;
struct multifd_recv;

/*
 * Source (main thread, before the migration thread starts): connects n
 * channels to uri, registers a yank function for each under yank_instance,
 * and starts their send threads. 0 or -errno; on error nothing is left.
 */
int multifd_send_setup(struct multifd_send **out, const char *uri, int n, struct guest_ram *ram,
		       const char *yank_instance);
/* Migration thread: send this page on some channel (batched). */
int multifd_queue_page(struct multifd_send *m, size_t page);
/* Migration thread: send what is queued, then a SYNC of this generation on
 * every channel; returns once every channel sent it. 0 or the first error. */
int multifd_send_sync(struct multifd_send *m, uint64_t generation);
/* Any thread (cancel, errors): shut every channel down; send threads wake. */
void multifd_send_shutdown(struct multifd_send *m);
/* Main thread, after the migration thread was joined: stop and join the send
 * threads (shutting the channels down first if `failed`), unregister the yank
 * functions explicitly, then close the channels. */
void multifd_send_cleanup(struct multifd_send *m, bool failed);
uint64_t multifd_send_pages(struct multifd_send *m);

/*
 * Destination (load thread, at SEC_MULTIFD_SETUP): accepts the n channels on
 * l, checks their headers and starts their receive threads. 0 or -errno.
 */
int multifd_recv_setup(struct multifd_recv **out, struct channel_listener *l, int n, struct guest_ram *ram);
/* Load thread, at SEC_MULTIFD_SYNC: waits until every channel delivered its
 * SYNC of this generation (so every page before it is loaded), then lets the
 * channels go on. 0 or the first error. */
int multifd_recv_sync(struct multifd_recv *m, uint64_t generation);
/* Any thread: shut every channel down; receive threads wake. */
void multifd_recv_shutdown(struct multifd_recv *m);
/* The load thread, at the end: stops and joins the receive threads, closes
 * the channels. */
void multifd_recv_cleanup(struct multifd_recv *m);
uint64_t multifd_recv_pages(struct multifd_recv *m);

#endif
