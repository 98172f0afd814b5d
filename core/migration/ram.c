/*
 * Guest RAM (anonymous or memfd-backed, for CPR), the vCPUs' dirty log and
 * its sync into a migration bitmap, the guest's page layout with its
 * consistency check, FNV-1a hashes, and the bitmap helpers.
 */
#define _GNU_SOURCE
#include "ram.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness_points.h"
#include "postcopy_ram.h"

#define FNV_OFFSET 14695981039346656037ULL
#define FNV_PRIME 1099511628211ULL

/*
 * The guest's page layout: the counter byte at offset 0, and RAM_DERIVED
 * bytes spread over the page holding counter * (2k + 1) for k = 1, 2, ...
 * (0 for a zeroed page). A copy of the page made while a vCPU was between
 * its first and last store fails ram_page_consistent().
 */
#define RAM_DERIVED 4

static size_t ram_derived_offset(const struct guest_ram *ram, int k)
{
	switch (k) {
	case 1: return 1;
	case 2: return ram->page_size / 4;
	case 3: return ram->page_size / 2;
	default: return ram->page_size - 1;
	}
}

static uint8_t ram_derived_value(uint8_t counter, int k)
{
	return (uint8_t)(counter * (2 * k + 1));
}

/* Abort, after saying so, on a page number past the end of guest RAM. */
static void ram_check_page_index(const struct guest_ram *ram, size_t page, const char *who)
{
	if (page < ram->npages)
		return;
	fprintf(stderr, "%s: page %zu out of range (%zu pages)\n", who, page, ram->npages);
	abort();
}

static uint8_t *ram_page_ptr(const struct guest_ram *ram, size_t page)
{
	ram_check_page_index(ram, page, "ram");
	return ram->base + page * ram->page_size;
}

/* Common part of the ram_init* functions: round up, allocate the dirty log. */
static int ram_setup(struct guest_ram *ram, size_t bytes)
{
	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	if (bytes == 0)
		return -EINVAL;
	if (bytes > SIZE_MAX - RAM_PAGE_SIZE)
		return -ENOMEM;
	ram->page_size = RAM_PAGE_SIZE;
	ram->npages = (bytes + RAM_PAGE_SIZE - 1) / RAM_PAGE_SIZE;
	ram->size = ram->npages * RAM_PAGE_SIZE;
	ram->dirty_log = bitmap_new(ram->npages);
	if (!ram->dirty_log)
		return -ENOMEM;
	return 0;
}

int ram_init(struct guest_ram *ram, size_t bytes)
{
	void *p;
	int ret;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	CORE_FAULT(RAM_ALLOC, -ENOMEM);
	ret = ram_setup(ram, bytes);
	if (ret < 0)
		goto fail;
	p = mmap(NULL, ram->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		ret = -ENOMEM;
		goto fail;
	}
	ram->base = p;
	return 0;
fail:
	ram_destroy(ram);
	return ret;
}

/* Map ram->size bytes of fd shared; on success ram owns fd. */
static int ram_map_fd(struct guest_ram *ram, int fd)
{
	void *p = mmap(NULL, ram->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	ram->base = p;
	ram->fd = fd;
	return 0;
}

int ram_init_memfd(struct guest_ram *ram, size_t bytes)
{
	int fd, ret;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	CORE_FAULT(RAM_ALLOC, -ENOMEM);
	ret = ram_setup(ram, bytes);
	if (ret < 0)
		goto fail;
	fd = memfd_create("migrace-ram", MFD_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto fail;
	}
	if (ftruncate(fd, (off_t)ram->size) < 0) {
		ret = -errno;
		close(fd);
		goto fail;
	}
	ret = ram_map_fd(ram, fd);
	if (ret < 0) {
		close(fd);
		goto fail;
	}
	return 0;
fail:
	ram_destroy(ram);
	return ret;
}

int ram_init_from_fd(struct guest_ram *ram, int fd, size_t bytes)
{
	struct stat st;
	int ret;

	memset(ram, 0, sizeof(*ram));
	ram->fd = -1;
	CORE_FAULT(RAM_ALLOC, (close(fd), -ENOMEM));
	ret = ram_setup(ram, bytes);
	if (ret < 0)
		goto fail;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto fail;
	}
	if (st.st_size < 0 || (size_t)st.st_size < ram->size) {
		ret = -EINVAL;
		goto fail;
	}
	ret = ram_map_fd(ram, fd);
	if (ret < 0)
		goto fail;
	return 0;
fail:
	close(fd);
	ram_destroy(ram);
	return ret;
}

int ram_fd(const struct guest_ram *ram)
{
	return ram->fd;
}

void ram_destroy(struct guest_ram *ram)
{
	postcopy_ram_free(atomic_load(&ram->postcopy));   /* its vCPUs are gone */
	if (ram->base)
		munmap(ram->base, ram->size);
	if (ram->fd >= 0)
		close(ram->fd);
	bitmap_free(ram->dirty_log);
	ram->base = NULL;
	ram->fd = -1;
	ram->dirty_log = NULL;
}

void ram_mark_dirty(struct guest_ram *ram, size_t page)
{
	ram_check_page_index(ram, page, "ram_mark_dirty");
	__atomic_fetch_or(&ram->dirty_log[page / BITMAP_BITS_PER_LONG],
			  1UL << (page % BITMAP_BITS_PER_LONG), __ATOMIC_RELEASE);
}

size_t ram_dirty_sync(struct guest_ram *ram, unsigned long *migration_bitmap)
{
	size_t i, n = 0;

	for (i = 0; i < BITMAP_LONGS(ram->npages); i++) {
		unsigned long word;

		/* cheap check first: most words are clean between syncs */
		if (!__atomic_load_n(&ram->dirty_log[i], __ATOMIC_RELAXED))
			continue;
		word = __atomic_exchange_n(&ram->dirty_log[i], 0UL, __ATOMIC_ACQ_REL);
		n += (size_t)__builtin_popcountl(word & ~migration_bitmap[i]);
		migration_bitmap[i] |= word;
	}
	return n;
}

void ram_read_page(const struct guest_ram *ram, size_t page, void *buf)
{
	const uint64_t *src = (const uint64_t *)ram_page_ptr(ram, page);
	uint8_t *dst = buf;
	size_t i;

	for (i = 0; i < ram->page_size / sizeof(uint64_t); i++) {
		uint64_t w = __atomic_load_n(&src[i], __ATOMIC_RELAXED);

		memcpy(dst + i * sizeof(w), &w, sizeof(w));
	}
}

void ram_write_page(struct guest_ram *ram, size_t page, const void *buf)
{
	uint64_t *dst = (uint64_t *)ram_page_ptr(ram, page);
	const uint8_t *src = buf;
	size_t i;

	for (i = 0; i < ram->page_size / sizeof(uint64_t); i++) {
		uint64_t w;

		memcpy(&w, src + i * sizeof(w), sizeof(w));
		__atomic_store_n(&dst[i], w, __ATOMIC_RELAXED);
	}
}

uint8_t ram_guest_touch(struct guest_ram *ram, size_t page)
{
	struct postcopy_ram *pc = atomic_load(&ram->postcopy);
	if (pc)
		postcopy_ram_fault(pc, page);   /* a page not here yet: wait for it */
	uint8_t *p = ram_page_ptr(ram, page);
	uint8_t c = (uint8_t)(__atomic_load_n(&p[0], __ATOMIC_RELAXED) + 1);
	int k;

	__atomic_store_n(&p[0], c, __ATOMIC_RELAXED);
	for (k = 1; k <= RAM_DERIVED; k++)
		__atomic_store_n(&p[ram_derived_offset(ram, k)], ram_derived_value(c, k),
				 __ATOMIC_RELAXED);
	ram_mark_dirty(ram, page);
	return c;
}

uint8_t ram_page_counter(const struct guest_ram *ram, size_t page)
{
	return __atomic_load_n(ram_page_ptr(ram, page), __ATOMIC_RELAXED);
}

bool ram_page_consistent(const struct guest_ram *ram, size_t page)
{
	const uint8_t *p = ram_page_ptr(ram, page);
	uint8_t c = __atomic_load_n(&p[0], __ATOMIC_RELAXED);
	int k;

	for (k = 1; k <= RAM_DERIVED; k++)
		if (__atomic_load_n(&p[ram_derived_offset(ram, k)], __ATOMIC_RELAXED) !=
		    ram_derived_value(c, k))
			return false;
	return true;
}

size_t ram_check(const struct guest_ram *ram, size_t *first_bad)
{
	size_t page, bad = 0;

	if (first_bad)
		*first_bad = ram->npages;
	for (page = 0; page < ram->npages; page++) {
		if (ram_page_consistent(ram, page))
			continue;
		if (bad++ == 0 && first_bad)
			*first_bad = page;
	}
	return bad;
}

/* Continue FNV-1a hash h over page, read with relaxed atomic word loads. */
static uint64_t ram_fnv_page(const struct guest_ram *ram, size_t page, uint64_t h)
{
	const uint64_t *src = (const uint64_t *)ram_page_ptr(ram, page);
	size_t i, j;

	for (i = 0; i < ram->page_size / sizeof(uint64_t); i++) {
		uint64_t w = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
		uint8_t b[sizeof(w)];

		memcpy(b, &w, sizeof(w));
		for (j = 0; j < sizeof(w); j++) {
			h ^= b[j];
			h *= FNV_PRIME;
		}
	}
	return h;
}

uint64_t ram_hash(const struct guest_ram *ram)
{
	uint64_t h = FNV_OFFSET;
	size_t page;

	for (page = 0; page < ram->npages; page++)
		h = ram_fnv_page(ram, page, h);
	return h;
}

uint64_t ram_page_hash(const struct guest_ram *ram, size_t page)
{
	return ram_fnv_page(ram, page, FNV_OFFSET);
}

/* Bitmaps. */

unsigned long *bitmap_new(size_t nbits)
{
	CORE_FAULT(BITMAP_ALLOC, NULL);
	return calloc(BITMAP_LONGS(nbits) ? BITMAP_LONGS(nbits) : 1, sizeof(unsigned long));
}

void bitmap_free(unsigned long *map)
{
	free(map);
}

void bitmap_set(unsigned long *map, size_t bit)
{
	map[bit / BITMAP_BITS_PER_LONG] |= 1UL << (bit % BITMAP_BITS_PER_LONG);
}

void bitmap_clear(unsigned long *map, size_t bit)
{
	map[bit / BITMAP_BITS_PER_LONG] &= ~(1UL << (bit % BITMAP_BITS_PER_LONG));
}

bool bitmap_test(const unsigned long *map, size_t bit)
{
	return (map[bit / BITMAP_BITS_PER_LONG] >> (bit % BITMAP_BITS_PER_LONG)) & 1;
}

void bitmap_fill(unsigned long *map, size_t nbits)
{
	size_t full = nbits / BITMAP_BITS_PER_LONG, rest = nbits % BITMAP_BITS_PER_LONG;

	memset(map, 0xff, full * sizeof(unsigned long));
	if (rest)
		map[full] = (1UL << rest) - 1;
}

void bitmap_zero(unsigned long *map, size_t nbits)
{
	memset(map, 0, BITMAP_LONGS(nbits) * sizeof(unsigned long));
}

size_t bitmap_count(const unsigned long *map, size_t nbits)
{
	size_t full = nbits / BITMAP_BITS_PER_LONG, rest = nbits % BITMAP_BITS_PER_LONG;
	size_t i, n = 0;

	for (i = 0; i < full; i++)
		n += (size_t)__builtin_popcountl(map[i]);
	if (rest)
		n += (size_t)__builtin_popcountl(map[full] & ((1UL << rest) - 1));
	return n;
}

size_t bitmap_find_next(const unsigned long *map, size_t nbits, size_t start)
{
	size_t i;
	unsigned long word;

	if (start >= nbits)
		return nbits;
	i = start / BITMAP_BITS_PER_LONG;
	word = map[i] & (~0UL << (start % BITMAP_BITS_PER_LONG));
	for (;;) {
		if (word) {
			size_t bit = i * BITMAP_BITS_PER_LONG + (size_t)__builtin_ctzl(word);

			return bit < nbits ? bit : nbits;
		}
		if (++i >= BITMAP_LONGS(nbits))
			return nbits;
		word = map[i];
	}
}
