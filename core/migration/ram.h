/*
 * Guest RAM and its dirty tracking: the memory that vCPUs write and that
 * migration copies, a dirty log filled by vCPUs, the bitmap helpers used for
 * the migration bitmap, the guest's page layout and hashes for verification.
 */
#ifndef CORE_RAM_H
#define CORE_RAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAM_PAGE_SIZE 4096
#define BITMAP_BITS_PER_LONG (8 * sizeof(unsigned long))
#define BITMAP_LONGS(n) (((n) + BITMAP_BITS_PER_LONG - 1) / BITMAP_BITS_PER_LONG)

/*
 * Guest memory. base, size, page_size, npages and fd are set by ram_init*()
 * and read-only afterwards. The bytes at base are shared between vCPUs (who
 * write them) and migration (who reads them, or writes them on the
 * destination): every access goes through relaxed atomics (ram_read_page,
 * ram_write_page, ram_guest_touch), never plain loads and stores.
 */
struct guest_ram {
	uint8_t *base;			/* page aligned; accessed with relaxed atomics only */
	size_t size;			/* npages * page_size */
	size_t page_size;		/* RAM_PAGE_SIZE */
	size_t npages;
	unsigned long *dirty_log;	/* npages bits; any thread, atomic ops only:
					 * set by ram_mark_dirty, fetched-and-cleared
					 * by ram_dirty_sync */
	int fd;				/* memfd backing base, or -1 (anonymous) */
	struct postcopy_ram *_Atomic postcopy;	/* destination in postcopy: touching a
						 * missing page waits for it
						 * (postcopy_ram.h); NULL otherwise */
};

/*
 * Allocate bytes of zeroed guest RAM (rounded up to whole pages) and a clear
 * dirty log. Returns 0, -EINVAL for 0 bytes, -ENOMEM (fault point RAM_ALLOC).
 */
int ram_init(struct guest_ram *ram, size_t bytes);

/*
 * Like ram_init(), but the memory is a shared mapping of a new memfd, so that
 * CPR can hand it to another process (ram_fd). Returns 0 or -errno.
 */
int ram_init_memfd(struct guest_ram *ram, size_t bytes);

/*
 * Map guest RAM from a memfd received from the source (CPR). Takes ownership
 * of fd on success and on failure. bytes must be the source's size; fails
 * with -EINVAL if the file is shorter. Returns 0 or -errno.
 */
int ram_init_from_fd(struct guest_ram *ram, int fd, size_t bytes);

/* The memfd backing ram, or -1 if it is anonymous memory. */
int ram_fd(const struct guest_ram *ram);

/* Unmap the memory, close the memfd, free the dirty log. Idempotent. */
void ram_destroy(struct guest_ram *ram);

/* Mark page dirty in the dirty log. Any thread; release ordering, so a
 * ram_dirty_sync() that sees the bit also sees the writes made before. */
void ram_mark_dirty(struct guest_ram *ram, size_t page);

/*
 * The bitmap sync of migration: atomically fetch and clear each word of the
 * dirty log and OR it into migration_bitmap (npages bits, owned by the
 * caller). Returns how many bits became set in migration_bitmap (pages dirty
 * in the log that were not already pending). Any thread; migration_bitmap
 * must not be touched concurrently.
 */
size_t ram_dirty_sync(struct guest_ram *ram, unsigned long *migration_bitmap);

/* Copy page into buf (page_size bytes) with relaxed atomic word loads:
 * safe while vCPUs write the page (the copy may then be torn, which is why
 * a page dirtied meanwhile is sent again). */
void ram_read_page(const struct guest_ram *ram, size_t page, void *buf);

/* Write buf (page_size bytes) into page with relaxed atomic word stores. */
void ram_write_page(struct guest_ram *ram, size_t page, const void *buf);

/*
 * The guest's write, as QEMU's migration-test guest does it: increment the
 * counter byte at offset 0 of page (wrapping), then write a few bytes derived
 * from the new value elsewhere in the page, then mark it dirty. A page must
 * have one writer at a time. Returns the new counter value.
 */
uint8_t ram_guest_touch(struct guest_ram *ram, size_t page);

/* The counter byte of page. */
uint8_t ram_page_counter(const struct guest_ram *ram, size_t page);

/*
 * Whether the derived bytes of page agree with its counter byte, i.e. the
 * page is not a torn copy. Zeroed pages are consistent.
 */
bool ram_page_consistent(const struct guest_ram *ram, size_t page);

/* The number of inconsistent pages; *first_bad (if not NULL) gets the first
 * one, or npages when all are consistent. */
size_t ram_check(const struct guest_ram *ram, size_t *first_bad);

/* FNV-1a 64 of all of guest memory, and of one page. */
uint64_t ram_hash(const struct guest_ram *ram);
uint64_t ram_page_hash(const struct guest_ram *ram, size_t page);

/*
 * Bitmaps of nbits bits in unsigned longs, bit i in word i / BITMAP_BITS_PER_LONG.
 * Bits past nbits in the last word stay clear. None of these is atomic: a
 * bitmap belongs to one thread at a time (the dirty log uses its own ops).
 */

/* A zeroed bitmap, or NULL (fault point BITMAP_ALLOC). Free with bitmap_free. */
unsigned long *bitmap_new(size_t nbits);
void bitmap_free(unsigned long *map);
void bitmap_set(unsigned long *map, size_t bit);
void bitmap_clear(unsigned long *map, size_t bit);
bool bitmap_test(const unsigned long *map, size_t bit);
/* Set bits 0 .. nbits-1 and leave the tail of the last word clear. */
void bitmap_fill(unsigned long *map, size_t nbits);
/* Clear bits 0 .. nbits-1. */
void bitmap_zero(unsigned long *map, size_t nbits);
/* The number of set bits among the first nbits. */
size_t bitmap_count(const unsigned long *map, size_t nbits);
/* The first set bit at or after start, or nbits when there is none. */
size_t bitmap_find_next(const unsigned long *map, size_t nbits, size_t start);

#endif
