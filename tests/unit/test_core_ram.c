/*
 * Unit tests of guest RAM and dirty tracking (core/migration/ram.c): the
 * bitmap helpers at word boundaries, the dirty log and its fetch-and-clear
 * sync, the guest page layout and its check, hashes, memfd-backed RAM.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ram.h"

/* nbits not a multiple of 64, with bits on both sides of each word boundary. */
static void test_bitmap_basic(void **state)
{
	const size_t nbits = 130;
	unsigned long *map = bitmap_new(nbits);

	assert_non_null(map);
	assert_int_equal(bitmap_count(map, nbits), 0);
	bitmap_set(map, 0);
	bitmap_set(map, 63);
	bitmap_set(map, 64);
	bitmap_set(map, 129);
	assert_true(bitmap_test(map, 0));
	assert_true(bitmap_test(map, 63));
	assert_true(bitmap_test(map, 64));
	assert_false(bitmap_test(map, 65));
	assert_true(bitmap_test(map, 129));
	assert_int_equal(bitmap_count(map, nbits), 4);
	bitmap_clear(map, 63);
	assert_false(bitmap_test(map, 63));
	assert_true(bitmap_test(map, 64));
	assert_int_equal(bitmap_count(map, nbits), 3);
	/* clearing a clear bit changes nothing */
	bitmap_clear(map, 63);
	assert_int_equal(bitmap_count(map, nbits), 3);
	bitmap_zero(map, nbits);
	assert_int_equal(bitmap_count(map, nbits), 0);
	bitmap_free(map);
}

static void test_bitmap_find_next(void **state)
{
	const size_t nbits = 130;
	unsigned long *map = bitmap_new(nbits);

	assert_non_null(map);
	assert_int_equal(bitmap_find_next(map, nbits, 0), nbits);
	bitmap_set(map, 63);
	bitmap_set(map, 64);
	bitmap_set(map, 127);
	bitmap_set(map, 128);
	bitmap_set(map, 129);
	assert_int_equal(bitmap_find_next(map, nbits, 0), 63);
	assert_int_equal(bitmap_find_next(map, nbits, 63), 63);
	assert_int_equal(bitmap_find_next(map, nbits, 64), 64);
	assert_int_equal(bitmap_find_next(map, nbits, 65), 127);
	assert_int_equal(bitmap_find_next(map, nbits, 128), 128);
	assert_int_equal(bitmap_find_next(map, nbits, 129), 129);
	assert_int_equal(bitmap_find_next(map, nbits, 130), nbits);
	assert_int_equal(bitmap_find_next(map, nbits, 1000), nbits);

	/* walking visits every set bit once, in order */
	{
		size_t bit, seen = 0;

		for (bit = bitmap_find_next(map, nbits, 0); bit < nbits;
		     bit = bitmap_find_next(map, nbits, bit + 1))
			seen++;
		assert_int_equal(seen, bitmap_count(map, nbits));
	}

	/* a stray bit past nbits in the last word is never reported */
	bitmap_zero(map, nbits);
	map[2] |= 1UL << 5;		/* bit 133 */
	assert_int_equal(bitmap_find_next(map, nbits, 0), nbits);
	assert_int_equal(bitmap_find_next(map, nbits, 129), nbits);
	assert_int_equal(bitmap_count(map, nbits), 0);
	bitmap_free(map);
}

static void test_bitmap_fill(void **state)
{
	unsigned long *map = bitmap_new(70);

	assert_non_null(map);
	bitmap_fill(map, 70);
	assert_int_equal(bitmap_count(map, 70), 70);
	assert_true(bitmap_test(map, 69));
	assert_int_equal(map[1], (1UL << 6) - 1);	/* the tail stays clear */
	assert_int_equal(bitmap_find_next(map, 70, 64), 64);
	assert_int_equal(bitmap_find_next(map, 70, 69), 69);
	assert_int_equal(bitmap_find_next(map, 70, 70), 70);
	bitmap_free(map);

	/* an exact multiple of the word size */
	map = bitmap_new(128);
	assert_non_null(map);
	bitmap_fill(map, 128);
	assert_int_equal(bitmap_count(map, 128), 128);
	assert_int_equal(bitmap_find_next(map, 128, 127), 127);
	bitmap_free(map);
}

static void test_ram_init(void **state)
{
	struct guest_ram ram;
	uint8_t buf[RAM_PAGE_SIZE], zero[RAM_PAGE_SIZE] = { 0 };
	size_t i;

	assert_int_equal(ram_init(&ram, 0), -EINVAL);
	ram_destroy(&ram);	/* safe after a failed init */

	assert_int_equal(ram_init(&ram, RAM_PAGE_SIZE + 1), 0);
	assert_int_equal(ram.npages, 2);
	assert_int_equal(ram.page_size, RAM_PAGE_SIZE);
	assert_int_equal(ram.size, 2 * RAM_PAGE_SIZE);
	assert_int_equal(ram_fd(&ram), -1);
	for (i = 0; i < ram.npages; i++) {
		ram_read_page(&ram, i, buf);
		assert_memory_equal(buf, zero, sizeof(buf));
	}
	assert_int_equal(ram_check(&ram, NULL), 0);
	ram_destroy(&ram);
	ram_destroy(&ram);	/* idempotent */
}

static void test_ram_dirty_sync(void **state)
{
	struct guest_ram ram;
	unsigned long *mig;
	const size_t npages = 130;

	assert_int_equal(ram_init(&ram, npages * RAM_PAGE_SIZE), 0);
	mig = bitmap_new(ram.npages);
	assert_non_null(mig);

	assert_int_equal(ram_dirty_sync(&ram, mig), 0);
	ram_mark_dirty(&ram, 0);
	ram_mark_dirty(&ram, 63);
	ram_mark_dirty(&ram, 64);
	ram_mark_dirty(&ram, 64);	/* twice: still one page */
	ram_mark_dirty(&ram, npages - 1);
	assert_int_equal(ram_dirty_sync(&ram, mig), 4);
	assert_true(bitmap_test(mig, 0));
	assert_true(bitmap_test(mig, 63));
	assert_true(bitmap_test(mig, 64));
	assert_true(bitmap_test(mig, npages - 1));
	assert_int_equal(bitmap_count(mig, npages), 4);
	assert_int_equal(bitmap_count(ram.dirty_log, npages), 0);

	/* fetch-and-clear: nothing new without writes */
	assert_int_equal(ram_dirty_sync(&ram, mig), 0);

	/* a page still pending in the migration bitmap is not newly dirty */
	ram_mark_dirty(&ram, 63);
	assert_int_equal(ram_dirty_sync(&ram, mig), 0);
	assert_int_equal(bitmap_count(ram.dirty_log, npages), 0);

	/* once sent (cleared), a new write makes it dirty again */
	bitmap_clear(mig, 63);
	ram_mark_dirty(&ram, 63);
	assert_int_equal(ram_dirty_sync(&ram, mig), 1);
	assert_true(bitmap_test(mig, 63));

	bitmap_free(mig);
	ram_destroy(&ram);
}

static void test_ram_hash(void **state)
{
	struct guest_ram ram;
	uint8_t buf[RAM_PAGE_SIZE];
	uint64_t h0, p0, p1;

	assert_int_equal(ram_init(&ram, 8 * RAM_PAGE_SIZE), 0);
	h0 = ram_hash(&ram);
	p0 = ram_page_hash(&ram, 3);
	p1 = ram_page_hash(&ram, 4);
	assert_int_equal(p0, p1);	/* both zero pages */

	ram_read_page(&ram, 3, buf);
	buf[RAM_PAGE_SIZE - 1] = 0x42;
	ram_write_page(&ram, 3, buf);
	assert_int_not_equal(ram_hash(&ram), h0);
	assert_int_not_equal(ram_page_hash(&ram, 3), p0);
	assert_int_equal(ram_page_hash(&ram, 4), p1);
	p1 = ram_page_hash(&ram, 3);

	/* the same content at another page gives another memory hash */
	{
		uint64_t h3 = ram_hash(&ram);

		buf[RAM_PAGE_SIZE - 1] = 0;
		ram_write_page(&ram, 3, buf);
		assert_int_equal(ram_hash(&ram), h0);
		buf[RAM_PAGE_SIZE - 1] = 0x42;
		ram_write_page(&ram, 5, buf);
		assert_int_not_equal(ram_hash(&ram), h3);
		/* the page hash depends on the content only */
		assert_int_equal(ram_page_hash(&ram, 5), p1);
	}
	ram_destroy(&ram);
}

static void test_ram_read_write_page(void **state)
{
	struct guest_ram ram;
	uint8_t in[RAM_PAGE_SIZE + 1], out[RAM_PAGE_SIZE + 1];
	size_t i;

	assert_int_equal(ram_init(&ram, 4 * RAM_PAGE_SIZE), 0);
	for (i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 1);
	/* unaligned user buffers are fine */
	ram_write_page(&ram, 2, in + 1);
	ram_read_page(&ram, 2, out + 1);
	assert_memory_equal(in + 1, out + 1, RAM_PAGE_SIZE);
	assert_int_equal(ram_page_counter(&ram, 2), in[1]);
	/* writing a page does not mark it dirty: that is the vCPUs' job */
	assert_int_equal(bitmap_count(ram.dirty_log, ram.npages), 0);
	ram_destroy(&ram);
}

static void test_ram_guest_touch(void **state)
{
	struct guest_ram ram;
	unsigned long *mig;
	size_t first_bad, i;
	uint8_t buf[RAM_PAGE_SIZE];

	assert_int_equal(ram_init(&ram, 4 * RAM_PAGE_SIZE), 0);
	mig = bitmap_new(ram.npages);
	assert_non_null(mig);

	assert_int_equal(ram_guest_touch(&ram, 1), 1);
	assert_int_equal(ram_guest_touch(&ram, 1), 2);
	assert_int_equal(ram_page_counter(&ram, 1), 2);
	assert_true(ram_page_consistent(&ram, 1));
	assert_int_equal(ram_dirty_sync(&ram, mig), 1);
	assert_true(bitmap_test(mig, 1));

	/* the counter wraps, and the page stays consistent */
	for (i = 2; i < 256; i++)
		ram_guest_touch(&ram, 1);
	assert_int_equal(ram_page_counter(&ram, 1), 0);
	assert_true(ram_page_consistent(&ram, 1));
	assert_int_equal(ram_guest_touch(&ram, 1), 1);
	assert_int_equal(ram_check(&ram, &first_bad), 0);
	assert_int_equal(first_bad, ram.npages);

	/* a torn copy: new counter, old derived bytes */
	ram_guest_touch(&ram, 2);
	ram_read_page(&ram, 2, buf);
	buf[0]++;
	ram_write_page(&ram, 2, buf);
	assert_false(ram_page_consistent(&ram, 2));
	assert_int_equal(ram_check(&ram, &first_bad), 1);
	assert_int_equal(first_bad, 2);

	bitmap_free(mig);
	ram_destroy(&ram);
}

/* memfd RAM is shared with a second mapping made from its fd (CPR). */
static void test_ram_memfd(void **state)
{
	struct guest_ram src, dst;
	int fd;

	assert_int_equal(ram_init_memfd(&src, 16 * RAM_PAGE_SIZE), 0);
	assert_true(ram_fd(&src) >= 0);
	fd = dup(ram_fd(&src));
	assert_true(fd >= 0);
	assert_int_equal(ram_init_from_fd(&dst, fd, src.size), 0);
	assert_int_equal(ram_fd(&dst), fd);

	ram_guest_touch(&src, 7);
	assert_int_equal(ram_page_counter(&dst, 7), 1);
	assert_int_equal(ram_hash(&src), ram_hash(&dst));
	/* the dirty log is per mapping, not shared */
	assert_int_equal(bitmap_count(dst.dirty_log, dst.npages), 0);
	ram_destroy(&dst);

	/* a file shorter than the announced size is refused */
	fd = dup(ram_fd(&src));
	assert_true(fd >= 0);
	assert_int_equal(ram_init_from_fd(&dst, fd, src.size + RAM_PAGE_SIZE), -EINVAL);
	ram_destroy(&src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bitmap_basic),
		cmocka_unit_test(test_bitmap_find_next),
		cmocka_unit_test(test_bitmap_fill),
		cmocka_unit_test(test_ram_init),
		cmocka_unit_test(test_ram_dirty_sync),
		cmocka_unit_test(test_ram_hash),
		cmocka_unit_test(test_ram_read_write_page),
		cmocka_unit_test(test_ram_guest_touch),
		cmocka_unit_test(test_ram_memfd),
	};

	return cmocka_run_group_tests_name("core_ram", tests, NULL, NULL);
}
