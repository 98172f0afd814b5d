/*
 * The vhost-style device. Ownership is flock(LOCK_EX) on an open file
 * description private to each vdev: flock belongs to the description, and a
 * handle passed with SCM_RIGHTS (or dup'ed, or inherited) shares it, so each
 * vdev reopens its handle through /proc/self/fd to get a description of its own.
 */
#define _GNU_SOURCE
#include "device.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <unistd.h>

#include "harness_points.h"

/* Open a new description of fd (read-write) for dev->lock_fd. */
static int vdev_reopen(int fd)
{
	char path[64];
	int nfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_RDWR | O_CLOEXEC);
	return nfd < 0 ? -errno : nfd;
}

/* Common part of vdev_create and vdev_open_fd; takes ownership of fd. */
static int vdev_setup(struct vdev *dev, int fd)
{
	int lock_fd = vdev_reopen(fd);

	if (lock_fd < 0) {
		close(fd);
		dev->fd = dev->lock_fd = -1;
		return lock_fd;
	}
	dev->fd = fd;
	dev->lock_fd = lock_fd;
	dev->owner = false;
	dev->io_count = 0;
	pthread_mutex_init(&dev->lock, NULL);
	return 0;
}

int vdev_create(struct vdev *dev, const char *path)
{
	int fd;

	memset(dev, 0, sizeof(*dev));
	dev->fd = dev->lock_fd = -1;
	if (path)
		fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	else
		fd = memfd_create("migrace-vdev", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	return vdev_setup(dev, fd);
}

int vdev_open_fd(struct vdev *dev, int fd)
{
	memset(dev, 0, sizeof(*dev));
	dev->fd = dev->lock_fd = -1;
	if (fd < 0)
		return -EBADF;
	return vdev_setup(dev, fd);
}

int vdev_fd(const struct vdev *dev)
{
	return dev->fd;
}

int vdev_set_owner(struct vdev *dev)
{
	int ret = 0;

	CORE_FAULT(DEVICE_SET_OWNER, -EIO);
	pthread_mutex_lock(&dev->lock);
	if (dev->owner) {
		ret = -EBUSY;
		goto out;
	}
	if (flock(dev->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		ret = errno == EWOULDBLOCK ? -EBUSY : -errno;
		goto out;
	}
	dev->owner = true;
out:
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

int vdev_reset_owner(struct vdev *dev)
{
	int ret = 0;

	CORE_FAULT(DEVICE_RESET_OWNER, -EIO);
	pthread_mutex_lock(&dev->lock);
	if (!dev->owner) {
		ret = -EPERM;
		goto out;
	}
	if (flock(dev->lock_fd, LOCK_UN) < 0) {
		ret = -errno;
		goto out;
	}
	dev->owner = false;
out:
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

bool vdev_is_owner(struct vdev *dev)
{
	bool owner;

	pthread_mutex_lock(&dev->lock);
	owner = dev->owner;
	pthread_mutex_unlock(&dev->lock);
	return owner;
}

int vdev_io(struct vdev *dev)
{
	uint64_t count;
	ssize_t n;
	int ret = 0;

	pthread_mutex_lock(&dev->lock);
	if (!dev->owner) {
		ret = -EPERM;
		goto out;
	}
	/* the operation: record the owner's I/O count in the device */
	count = dev->io_count + 1;
	n = pwrite(dev->lock_fd, &count, sizeof(count), 0);
	if (n != (ssize_t)sizeof(count)) {
		ret = n < 0 ? -errno : -EIO;
		goto out;
	}
	dev->io_count = count;
out:
	pthread_mutex_unlock(&dev->lock);
	return ret;
}

uint64_t vdev_io_count(struct vdev *dev)
{
	uint64_t n;

	pthread_mutex_lock(&dev->lock);
	n = dev->io_count;
	pthread_mutex_unlock(&dev->lock);
	return n;
}

void vdev_close(struct vdev *dev)
{
	if (dev->lock_fd < 0 && dev->fd < 0)
		return;
	/* explicit unlock: a forked child may still hold a copy of lock_fd */
	pthread_mutex_lock(&dev->lock);
	if (dev->owner)
		flock(dev->lock_fd, LOCK_UN);
	dev->owner = false;
	pthread_mutex_unlock(&dev->lock);
	if (dev->lock_fd >= 0)
		close(dev->lock_fd);
	if (dev->fd >= 0)
		close(dev->fd);
	dev->fd = dev->lock_fd = -1;
	pthread_mutex_destroy(&dev->lock);
}
