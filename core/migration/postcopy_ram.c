/*
 * The destination's postcopy memory: a missing-page bitmap, a requested-page
 * bitmap and a condition variable that faulting vCPUs wait on until the
 * loaders place their page. See postcopy_ram.h.
 */
#include "postcopy_ram.h"

#include <stdlib.h>
#include <string.h>

#include "ram.h"

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t digest_add(uint64_t h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		h ^= (uint8_t)(v >> (8 * i));
		h *= FNV_PRIME;
	}
	return h;
}

uint64_t ram_pages_digest(const struct guest_ram *ram)
{
	uint64_t h = FNV_OFFSET;

	for (size_t p = 0; p < ram->npages; p++)
		h = digest_add(h, ram_page_hash(ram, p));
	return h;
}

struct postcopy_ram *postcopy_ram_begin(struct guest_ram *ram, const unsigned long *missing,
					void (*request)(void *opaque, size_t page), void *opaque)
{
	struct postcopy_ram *pc = calloc(1, sizeof(*pc));

	if (!pc)
		return NULL;
	pc->missing = bitmap_new(ram->npages);
	pc->requested = bitmap_new(ram->npages);
	pc->page_hash = calloc(ram->npages ? ram->npages : 1, sizeof(uint64_t));
	if (!pc->missing || !pc->requested || !pc->page_hash) {
		bitmap_free(pc->missing);
		bitmap_free(pc->requested);
		free(pc->page_hash);
		free(pc);
		return NULL;
	}
	pc->ram = ram;
	pc->request = request;
	pc->opaque = opaque;
	memcpy(pc->missing, missing, BITMAP_LONGS(ram->npages) * sizeof(unsigned long));
	pc->nmissing = bitmap_count(pc->missing, ram->npages);
	for (size_t p = 0; p < ram->npages; p++)
		if (!bitmap_test(pc->missing, p))
			pc->page_hash[p] = ram_page_hash(ram, p);
	pc->active = true;
	qemu_mutex_init(&pc->lock);
	qemu_cond_init(&pc->placed);
	atomic_store(&ram->postcopy, pc);
	return pc;
}

void postcopy_ram_fault(struct postcopy_ram *pc, size_t page)
{
	bool ask = false;

	qemu_mutex_lock(&pc->lock);
	if (!pc->active || !bitmap_test(pc->missing, page)) {
		qemu_mutex_unlock(&pc->lock);
		return;
	}
	pc->faults++;
	if (!bitmap_test(pc->requested, page)) {
		bitmap_set(pc->requested, page);
		pc->requested_count++;
		pc->requesting++;	/* end waits until request() returned */
		ask = true;
	}
	qemu_mutex_unlock(&pc->lock);
	if (ask)
		pc->request(pc->opaque, page);
	qemu_mutex_lock(&pc->lock);
	if (ask && --pc->requesting == 0)
		qemu_cond_broadcast(&pc->placed);
	while (pc->active && bitmap_test(pc->missing, page))
		qemu_cond_wait(&pc->placed, &pc->lock);
	qemu_mutex_unlock(&pc->lock);
}

bool postcopy_ram_place(struct postcopy_ram *pc, size_t page, const void *buf)
{
	QEMU_LOCK_GUARD(&pc->lock);
	if (!pc->active || !bitmap_test(pc->missing, page))
		return false;
	ram_write_page(pc->ram, page, buf);
	pc->page_hash[page] = ram_page_hash(pc->ram, page);
	bitmap_clear(pc->missing, page);
	pc->nmissing--;
	pc->placed_count++;
	if (bitmap_test(pc->requested, page)) {
		bitmap_clear(pc->requested, page);
		pc->requested_count--;
	}
	qemu_cond_broadcast(&pc->placed);
	return true;
}

bool postcopy_ram_wait_requests(struct postcopy_ram *pc)
{
	QEMU_LOCK_GUARD(&pc->lock);
	while (pc->active && pc->requested_count && !pc->channel_broken)
		qemu_cond_wait(&pc->placed, &pc->lock);
	return !pc->active || pc->requested_count == 0;
}

void postcopy_ram_set_channel_broken(struct postcopy_ram *pc, bool broken)
{
	QEMU_LOCK_GUARD(&pc->lock);
	pc->channel_broken = broken;
	qemu_cond_broadcast(&pc->placed);
}

size_t postcopy_ram_missing(struct postcopy_ram *pc)
{
	QEMU_LOCK_GUARD(&pc->lock);
	return pc->nmissing;
}

size_t postcopy_ram_requests_in_flight(struct postcopy_ram *pc)
{
	QEMU_LOCK_GUARD(&pc->lock);
	return pc->requested_count;
}

void postcopy_ram_copy_missing(struct postcopy_ram *pc, unsigned long *out)
{
	QEMU_LOCK_GUARD(&pc->lock);
	memcpy(out, pc->missing, BITMAP_LONGS(pc->ram->npages) * sizeof(unsigned long));
}

void postcopy_ram_resend_requests(struct postcopy_ram *pc)
{
	size_t n = pc->ram->npages;

	for (size_t p = 0; p < n; p++) {
		qemu_mutex_lock(&pc->lock);
		bool again = pc->active && bitmap_test(pc->requested, p);
		qemu_mutex_unlock(&pc->lock);
		if (again)
			pc->request(pc->opaque, p);
	}
}

uint64_t postcopy_ram_end(struct postcopy_ram *pc)
{
	uint64_t h = FNV_OFFSET;

	QEMU_LOCK_GUARD(&pc->lock);
	pc->active = false;
	qemu_cond_broadcast(&pc->placed);
	/* a vCPU that asked before the end may still be in request(), on the
	 * owner's return path: once end returns, the owner frees it */
	while (pc->requesting)
		qemu_cond_wait(&pc->placed, &pc->lock);
	for (size_t p = 0; p < pc->ram->npages; p++)
		h = digest_add(h, pc->page_hash[p]);
	return h;
}

void postcopy_ram_free(struct postcopy_ram *pc)
{
	if (!pc)
		return;
	atomic_store(&pc->ram->postcopy, NULL);
	qemu_cond_destroy(&pc->placed);
	qemu_mutex_destroy(&pc->lock);
	bitmap_free(pc->missing);
	bitmap_free(pc->requested);
	free(pc->page_hash);
	free(pc);
}
