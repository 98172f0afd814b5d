/*
 * Postcopy on the destination: the guest runs before all of its memory is
 * here. A page still missing blocks the vCPU that touches it until the page
 * is placed, and asks the source for it once (QEMU's userfaultfd, modelled).
 */
#ifndef CORE_POSTCOPY_RAM_H
#define CORE_POSTCOPY_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "thread.h"

struct guest_ram;

/*
 * Threads: the vCPUs (fault), the loaders (place: the load thread and the
 * postcopy channel's thread), the owner (begin, end, free) and whoever
 * resends the requests after a recovery. All fields but the immutable ones
 * are under lock, which is a leaf: request() is called without it.
 */
struct postcopy_ram {
	struct guest_ram *ram;		/* immutable */
	void (*request)(void *opaque, size_t page);	/* immutable: ask the source
							 * for page; called by the
							 * faulting vCPU, no lock held */
	void *opaque;			/* immutable */
	QemuMutex lock;
	QemuCond placed;		/* broadcast when a page arrives or at the end */
	unsigned long *missing;		/* lock: pages not here yet */
	unsigned long *requested;	/* lock: missing pages asked for */
	size_t nmissing;		/* lock */
	size_t requested_count;		/* lock: requested and not yet placed */
	uint64_t *page_hash;		/* lock: each page's hash as it arrived (or as
					 * it was when postcopy began, if already here) */
	size_t requesting;		/* lock: vCPUs inside request() (end waits for
					 * them: request() uses the owner's state) */
	bool active;			/* lock: false after end: nothing is missing any more */
	bool channel_broken;		/* lock: the channel that brings the requested
					 * pages failed (until a recovery's new one) */
	uint64_t faults, placed_count;	/* lock: statistics */
};

/*
 * Postcopy begins on ram: the pages set in missing (npages bits) are not
 * here; the others are, as they are now (hashed now: call it before the
 * guest runs). Installs the fault hook on ram (the vCPUs' ram_guest_touch).
 * Returns the state, or NULL (out of memory).
 */
struct postcopy_ram *postcopy_ram_begin(struct guest_ram *ram, const unsigned long *missing,
					void (*request)(void *opaque, size_t page), void *opaque);

/* A vCPU touches page: returns at once if it is here, else asks for it
 * (once per page) and waits until it is placed or postcopy ends. */
void postcopy_ram_fault(struct postcopy_ram *pc, size_t page);

/* A loader has page's bytes: written and woken if the page is still
 * missing; dropped (false) if it is already here (the guest may have
 * written it since: never overwrite). */
bool postcopy_ram_place(struct postcopy_ram *pc, size_t page, const void *buf);

/* Wait until no requested page is in flight any more (requested_count 0),
 * or postcopy ended: true; false when the channel that brings them broke
 * with requests in flight (they are lost: only a recovery brings them). */
bool postcopy_ram_wait_requests(struct postcopy_ram *pc);
/* The requested pages' channel failed (broken) or a new one runs (not):
 * wakes a wait_requests. */
void postcopy_ram_set_channel_broken(struct postcopy_ram *pc, bool broken);

/* Counters and the missing bitmap, under the lock. copy_missing copies
 * BITMAP_LONGS(npages) words. */
size_t postcopy_ram_missing(struct postcopy_ram *pc);
size_t postcopy_ram_requests_in_flight(struct postcopy_ram *pc);
void postcopy_ram_copy_missing(struct postcopy_ram *pc, unsigned long *out);
/* Calls request(opaque, page) again for every page requested and not yet
 * here (after a recovery: the requests in flight were lost with the
 * channel). Not under the lock. */
void postcopy_ram_resend_requests(struct postcopy_ram *pc);

/*
 * Postcopy ends: nothing is missing any more from the vCPUs' point of view
 * (a page still missing keeps whatever bytes it has), waiters are woken, and
 * a vCPU still inside request() has returned from it (so the owner may then
 * free what request() uses: its return path; QEMU joins its fault thread).
 * Returns the digest of the pages as they arrived (FNV-1a over page_hash;
 * ram_pages_digest of the source's memory when every page came).
 */
uint64_t postcopy_ram_end(struct postcopy_ram *pc);
/* Removes the hook from ram and frees pc (after end; no vCPU may be inside). */
void postcopy_ram_free(struct postcopy_ram *pc);

/* The digest postcopy_ram_end computes, of ram as it is now. */
uint64_t ram_pages_digest(const struct guest_ram *ram);

#endif
