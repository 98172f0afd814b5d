/*
 * Unit tests of the vhost-style device (core/migration/device.c): ownership
 * is exclusive across vdevs of one process, across processes, and when the
 * handle is passed with SCM_RIGHTS; I/O needs ownership.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "device.h"

/* Send fd with one data byte over a unix socket. Returns 0 or -1. */
static int send_fd(int sock, int fd)
{
	char byte = 'F';
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;

	memset(&ctl, 0, sizeof(ctl));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &msg, 0) == 1 ? 0 : -1;
}

/* Receive a fd sent by send_fd. Returns it, or -1. */
static int recv_fd(int sock)
{
	char byte;
	struct iovec iov = { &byte, 1 };
	union {
		struct cmsghdr hdr;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -1;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* One int over the socket, both ways (results and go-ahead messages). */
static int send_int(int sock, int v)
{
	return write(sock, &v, sizeof(v)) == sizeof(v) ? 0 : -1;
}

static int recv_int(int sock)
{
	int v;

	return read(sock, &v, sizeof(v)) == sizeof(v) ? v : -9999;
}

static void test_owner_in_process(void **state)
{
	struct vdev a, b;

	assert_int_equal(vdev_create(&a, NULL), 0);
	assert_true(vdev_fd(&a) >= 0);
	assert_int_equal(vdev_open_fd(&b, dup(vdev_fd(&a))), 0);
	assert_false(vdev_is_owner(&a));

	/* I/O needs ownership */
	assert_int_equal(vdev_io(&a), -EPERM);
	assert_int_equal(vdev_reset_owner(&a), -EPERM);

	assert_int_equal(vdev_set_owner(&a), 0);
	assert_true(vdev_is_owner(&a));
	assert_int_equal(vdev_set_owner(&a), -EBUSY);	/* like VHOST_SET_OWNER */
	assert_int_equal(vdev_set_owner(&b), -EBUSY);
	assert_int_equal(vdev_io(&a), 0);
	assert_int_equal(vdev_io(&b), -EPERM);
	assert_int_equal(vdev_io_count(&a), 1);

	assert_int_equal(vdev_reset_owner(&a), 0);
	assert_int_equal(vdev_reset_owner(&a), -EPERM);
	assert_int_equal(vdev_io(&a), -EPERM);
	assert_int_equal(vdev_set_owner(&b), 0);
	assert_int_equal(vdev_set_owner(&a), -EBUSY);
	assert_int_equal(vdev_io(&b), 0);
	assert_int_equal(vdev_io(&b), 0);
	assert_int_equal(vdev_io_count(&b), 2);

	/* the I/O reached the device */
	{
		uint64_t v = 0;

		assert_int_equal(pread(vdev_fd(&a), &v, sizeof(v), 0), sizeof(v));
		assert_int_equal(v, 2);
	}

	/* closing the owner releases the device */
	vdev_close(&b);
	assert_int_equal(vdev_set_owner(&a), 0);
	vdev_close(&a);
	vdev_close(&a);		/* idempotent */
}

static void test_owner_by_path(void **state)
{
	char path[] = "/tmp/migrace-vdev-XXXXXX";
	struct vdev a, b;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	/* two independent opens of the same device exclude each other */
	assert_int_equal(vdev_create(&a, path), 0);
	assert_int_equal(vdev_create(&b, path), 0);
	assert_int_equal(vdev_set_owner(&b), 0);
	assert_int_equal(vdev_set_owner(&a), -EBUSY);
	assert_int_equal(vdev_reset_owner(&b), 0);
	assert_int_equal(vdev_set_owner(&a), 0);
	vdev_close(&a);
	vdev_close(&b);
	unlink(path);

	assert_int_equal(vdev_create(&a, "/nonexistent-dir/dev"), -ENOENT);
	assert_int_equal(vdev_open_fd(&a, -1), -EBADF);
}

/* The handle passed with SCM_RIGHTS shares the sender's open file description. */
static void test_owner_scm_rights(void **state)
{
	struct vdev a, b;
	int sv[2], fd;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_int_equal(vdev_create(&a, NULL), 0);
	assert_int_equal(vdev_set_owner(&a), 0);
	assert_int_equal(send_fd(sv[0], vdev_fd(&a)), 0);
	fd = recv_fd(sv[1]);
	assert_true(fd >= 0);
	assert_int_equal(vdev_open_fd(&b, fd), 0);

	assert_int_equal(vdev_set_owner(&b), -EBUSY);
	assert_int_equal(vdev_reset_owner(&a), 0);
	assert_int_equal(vdev_set_owner(&b), 0);
	assert_int_equal(vdev_set_owner(&a), -EBUSY);
	vdev_close(&a);
	vdev_close(&b);
	close(sv[0]);
	close(sv[1]);
}

/*
 * The target of a CPR transfer, in a child: receive the handle, then obey
 * the parent's commands, replying with each result: 1 = vdev_set_owner,
 * 2 = vdev_io, 0 = close the device and exit.
 */
static void target_child(int sock)
{
	struct vdev dev;
	int fd = recv_fd(sock), cmd;

	if (fd < 0 || vdev_open_fd(&dev, fd) < 0)
		_exit(2);
	while ((cmd = recv_int(sock)) > 0) {
		int r = cmd == 1 ? vdev_set_owner(&dev) : vdev_io(&dev);

		if (send_int(sock, r) < 0)
			_exit(3);
	}
	vdev_close(&dev);
	_exit(cmd == 0 ? 0 : 4);
}

/* Ownership across processes: first the bad order, then the right one. */
static void test_owner_cross_process(void **state)
{
	struct vdev src;
	int sv[2], status;
	pid_t pid;

	assert_int_equal(vdev_create(&src, NULL), 0);
	assert_int_equal(vdev_set_owner(&src), 0);
	assert_int_equal(vdev_io(&src), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		target_child(sv[1]);
	}
	close(sv[1]);

	/* handles sent while the source still owns the device: -EBUSY */
	assert_int_equal(send_fd(sv[0], vdev_fd(&src)), 0);
	assert_int_equal(send_int(sv[0], 1), 0);
	assert_int_equal(recv_int(sv[0]), -EBUSY);
	assert_int_equal(send_int(sv[0], 2), 0);
	assert_int_equal(recv_int(sv[0]), -EPERM);

	/* the source releases: the target takes over */
	assert_int_equal(vdev_reset_owner(&src), 0);
	assert_int_equal(send_int(sv[0], 1), 0);
	assert_int_equal(recv_int(sv[0]), 0);
	assert_int_equal(send_int(sv[0], 2), 0);
	assert_int_equal(recv_int(sv[0]), 0);

	/* now the source may neither own nor use the device */
	assert_int_equal(vdev_set_owner(&src), -EBUSY);
	assert_int_equal(vdev_io(&src), -EPERM);

	/* the target exits: ownership is free again */
	assert_int_equal(send_int(sv[0], 0), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(vdev_set_owner(&src), 0);
	vdev_close(&src);
	close(sv[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_owner_in_process),
		cmocka_unit_test(test_owner_by_path),
		cmocka_unit_test(test_owner_scm_rights),
		cmocka_unit_test(test_owner_cross_process),
	};

	return cmocka_run_group_tests_name("core_device", tests, NULL, NULL);
}
