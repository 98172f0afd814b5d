/*
 * Tests of cpr-transfer's target side (core/migration/cpr.c): the handles
 * arrive, the RAM is the source's memory, the device can be owned only once
 * the source released it, and a bad handover leaves nothing behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cpr.h"
#include "mem_channel.h"

#define PAGES 4

struct sender {
	pthread_t thread;
	const char *uri;
	int fds[2], nfds;
	int ret;                    /* 0, or the first error */
	int hup;                    /* 0: the target hung up after taking the handles */
};

/* The source's half, reduced to the wire: send the handles, wait for the hang-up. */
static void *sender_main(void *opaque)
{
	struct sender *s = opaque;
	struct channel *ch;
	char byte;

	s->ret = channel_connect(s->uri, &ch);
	if (s->ret)
		return NULL;
	s->ret = channel_send_fds(ch, s->fds, s->nfds);
	s->hup = (int)channel_read(ch, &byte, 1);
	channel_close(ch);
	channel_unref(ch);
	return NULL;
}

static struct channel_listener *listen_at(const char *uri)
{
	struct channel_listener *l;
	mem_channel_register();
	assert_int_equal(channel_listen(uri, &l), 0);
	return l;
}

static void test_handover(void **state)
{
	struct guest_ram src, dst;
	struct vdev src_dev, dst_dev;
	struct channel_listener *l = listen_at("mem:cpr-ok");
	uint8_t page[RAM_PAGE_SIZE];

	(void)state;
	assert_int_equal(ram_init_memfd(&src, PAGES * RAM_PAGE_SIZE), 0);
	memset(page, 0x5a, sizeof(page));
	ram_write_page(&src, 2, page);
	assert_int_equal(vdev_create(&src_dev, NULL), 0);
	assert_int_equal(vdev_set_owner(&src_dev), 0);
	assert_int_equal(vdev_reset_owner(&src_dev), 0);       /* the source released it first */

	struct sender s = { .uri = "mem:cpr-ok", .fds = { ram_fd(&src), vdev_fd(&src_dev) }, .nfds = 2 };
	pthread_create(&s.thread, NULL, sender_main, &s);
	assert_int_equal(cpr_transfer_load(l, PAGES * RAM_PAGE_SIZE, &dst, &dst_dev), 0);
	pthread_join(s.thread, NULL);
	assert_int_equal(s.ret, 0);
	assert_int_equal(s.hup, 0);                               /* EOF: the hang-up */

	assert_true(vdev_is_owner(&dst_dev));
	assert_int_equal(vdev_set_owner(&src_dev), -EBUSY);       /* the target has it now */
	assert_int_equal(ram_hash(&dst), ram_hash(&src));         /* the same memory */
	ram_write_page(&dst, 1, page);
	assert_int_equal(ram_page_hash(&src, 1), ram_page_hash(&dst, 1));

	vdev_reset_owner(&dst_dev);
	vdev_close(&dst_dev);
	vdev_close(&src_dev);
	ram_destroy(&dst);
	ram_destroy(&src);
	channel_listener_close(l);
}

/* The fixed order matters: while the source still owns the device, the
 * target's set_owner fails with -EBUSY (the bug of "stop vm earlier for cpr"). */
static void test_device_still_owned(void **state)
{
	struct guest_ram src, dst;
	struct vdev src_dev, dst_dev;
	struct channel_listener *l = listen_at("mem:cpr-busy");

	(void)state;
	assert_int_equal(ram_init_memfd(&src, PAGES * RAM_PAGE_SIZE), 0);
	assert_int_equal(vdev_create(&src_dev, NULL), 0);
	assert_int_equal(vdev_set_owner(&src_dev), 0);            /* not released */

	struct sender s = { .uri = "mem:cpr-busy", .fds = { ram_fd(&src), vdev_fd(&src_dev) }, .nfds = 2 };
	pthread_create(&s.thread, NULL, sender_main, &s);
	assert_int_equal(cpr_transfer_load(l, PAGES * RAM_PAGE_SIZE, &dst, &dst_dev), -EBUSY);
	pthread_join(s.thread, NULL);
	assert_int_equal(s.hup, 0);                               /* it still hangs up */
	assert_true(vdev_is_owner(&src_dev));                     /* the source can go on */

	vdev_reset_owner(&src_dev);
	vdev_close(&src_dev);
	ram_destroy(&src);
	channel_listener_close(l);
}

/* A handover without the device handle is a protocol error; nothing leaks. */
static void test_missing_device_handle(void **state)
{
	struct guest_ram src, dst;
	struct vdev dst_dev;
	struct channel_listener *l = listen_at("mem:cpr-short");

	(void)state;
	assert_int_equal(ram_init_memfd(&src, PAGES * RAM_PAGE_SIZE), 0);
	struct sender s = { .uri = "mem:cpr-short", .fds = { ram_fd(&src) }, .nfds = 1 };
	pthread_create(&s.thread, NULL, sender_main, &s);
	assert_int_equal(cpr_transfer_load(l, PAGES * RAM_PAGE_SIZE, &dst, &dst_dev), -EPROTO);
	pthread_join(s.thread, NULL);
	ram_destroy(&src);
	channel_listener_close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_device_still_owned),
		cmocka_unit_test(test_missing_device_handle),
	};
	return cmocka_run_group_tests_name("core_cpr", tests, NULL, NULL);
}
