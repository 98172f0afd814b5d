/*
 * A fake destination peer for scenarios: it reads the source's stream
 * (wire.h) and checks it like incoming.c, but loads nothing: it counts and
 * records, answers on the return path, and follows a script of rules.
 */
#ifndef FAKES_FAKE_DEST_H
#define FAKES_FAKE_DEST_H

#include <stdbool.h>
#include <stdint.h>

#include "channel.h"
#include "wire.h"

/*
 * The moments a rule can fire at. Each is counted from 1; a rule fires at
 * the rule's n-th occurrence of its moment (n 0 means 1), once. Before its
 * action the fake passes the sync point "fdest:<moment>:before-action".
 */
enum fake_dest_at {
	FDA_HEADER,		/* "header": after MIG_MAGIC and MIG_VERSION were checked */
	FDA_RAM_SETUP,		/* "ram-setup": after SEC_RAM_SETUP */
	FDA_OPEN_RETURN_PATH,	/* "open-return-path": after SEC_OPEN_RETURN_PATH */
	FDA_PAGE,		/* "page": after a page was read, on the main stream or a
				 * multifd channel (then the channel's thread acts) */
	FDA_ITER_END,		/* "iter-end": after SEC_ITER_END, before its RP_ACK */
	FDA_PING,		/* "ping": after SEC_PING, before its RP_PONG */
	FDA_DEVICE_STATE,	/* "device-state": after SEC_DEVICE_STATE */
	FDA_EOF,		/* "eof": after SEC_EOF (multifd channels already
				 * stopped), before RP_SHUT */
	FDA_COUNT
};

/* What a rule does. The ones marked "ends" stop the fake (it returns 0). */
enum fake_dest_do {
	FDD_STALL,		/* block on a condition variable until one
				 * fake_dest_release() or fake_dest_free() */
	FDD_CLOSE,		/* ends: channel_close() of the main channel: the
				 * source reads EOF, its writes fail with -EPIPE */
	FDD_SHUTDOWN,		/* ends: channel_shutdown(BOTH) of the main channel */
	FDD_ERROR,		/* ends: send RP_SHUT with the rule's err (> 0) */
	FDD_BAD_MESSAGE,	/* send a return-path message of an unknown type, go on */
	FDD_NO_SHUT,		/* ends, FDA_EOF only: no RP_SHUT; keep the channel
				 * open until the source closes or shuts it down,
				 * or one fake_dest_release() */
	FDD_CLOSE_OWN,		/* on a multifd channel (FDA_PAGE read there): shut
				 * that channel down both ways and stop reading it;
				 * the rest of the fake goes on (the source's writes
				 * on that channel fail with -EPIPE). Elsewhere: as
				 * FDD_CLOSE */
	FDD_COUNT
};

struct fake_dest_rule {
	enum fake_dest_at at;
	unsigned n;		/* the n-th occurrence of `at` (1-based; 0 is 1) */
	enum fake_dest_do action;
	int err;		/* FDD_ERROR: the positive errno RP_SHUT carries */
};

#define FAKE_DEST_MAX_RULES 16
#define FAKE_DEST_NSECTIONS (SEC_MULTIFD_SYNC + 1)
/* The type FDD_BAD_MESSAGE sends: none of enum mig_rp_message. */
#define FAKE_DEST_BAD_RP_TYPE 0x7e57

/* An action taken: which rule's moment, and what. */
struct fake_dest_action {
	enum fake_dest_at at;
	unsigned n;
	enum fake_dest_do action;
};

/*
 * What happened. fake_dest_record() returns a copy taken under the fake's
 * lock, so it is consistent at any time; it is final after fake_dest_wait().
 */
struct fake_dest_record {
	unsigned sections[FAKE_DEST_NSECTIONS];	/* main-stream sections by type */
	uint64_t pages;			/* every page read, main stream and multifd */
	uint64_t multifd_pages;		/* of which on multifd channels */
	uint64_t ram_bytes;		/* announced by SEC_RAM_SETUP */
	uint32_t page_size;		/* announced by SEC_RAM_SETUP */
	unsigned multifd_channels;	/* accepted at SEC_MULTIFD_SETUP */
	unsigned multifd_syncs;		/* SEC_MULTIFD_SYNC passed (all channels synced) */
	unsigned acks, pongs, shuts;	/* return-path messages sent */
	unsigned bad_messages;		/* FDD_BAD_MESSAGE messages sent */
	unsigned rp_write_errors;	/* answers (ACK, PONG, SHUT) that could not be
					 * sent: the source hung up; not an error */
	int rp_write_error;		/* the last such write's -errno */
	int shut_status;		/* status of the last RP_SHUT sent, -1 before */
	struct fake_dest_action taken[FAKE_DEST_MAX_RULES];
	int ntaken;
	int stalled;			/* threads inside FDD_STALL now */
	bool ended_by_script;		/* an "ends" action stopped the fake */
	bool done;			/* the fake's thread finished */
	int error;			/* 0, or the fake's first error (-errno) */
	char why[128];			/* what the error was */
};

struct fake_dest;

/*
 * A fake following rules[0..nrules-1] (copied). NULL with errno EINVAL for a
 * bad rule (an unknown moment or action, FDD_NO_SHUT elsewhere than at
 * FDA_EOF, FDD_ERROR without err > 0, more than FAKE_DEST_MAX_RULES), or
 * ENOMEM.
 */
struct fake_dest *fake_dest_new(const struct fake_dest_rule *rules, int nrules);

/*
 * Start the fake's thread, which accepts the main channel on l, then the
 * multifd channels at SEC_MULTIFD_SETUP, and runs. l stays the caller's:
 * close it after fake_dest_free() (which shuts it down if an accept is still
 * in flight). 0, -EBUSY if already started, or -errno of pthread_create.
 */
int fake_dest_start_listener(struct fake_dest *f, struct channel_listener *l);
/* Same on a connected channel (the fake takes its own reference); a stream
 * announcing multifd then fails with -EINVAL. */
int fake_dest_start_channel(struct fake_dest *f, struct channel *ch);

/* Let one FDD_STALL (in progress, or the next one reached) or the
 * FDD_NO_SHUT wait go on. Any thread. */
void fake_dest_release(struct fake_dest *f);
/* Block until some thread is inside FDD_STALL (0), the fake finished
 * (-ESRCH), or timeout_ms passed (-ETIMEDOUT). Any thread. */
int fake_dest_wait_stalled(struct fake_dest *f, int timeout_ms);
/* Join the fake's thread. 0, or the fake's error; -EINVAL if never started.
 * Owner only. */
int fake_dest_wait(struct fake_dest *f);
/* A snapshot of the record, valid until the next call or free. Owner only. */
const struct fake_dest_record *fake_dest_record(struct fake_dest *f);
/* Wake and join whatever still runs (shutting its channels down), close
 * the channels, free f. NULL is a no-op. Owner only. */
void fake_dest_free(struct fake_dest *f);

#endif
