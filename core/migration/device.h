/*
 * A vhost-style device whose ownership is handed from the source to the
 * target during CPR: the handle is a file descriptor (passed over a unix
 * socket with SCM_RIGHTS), ownership an exclusive flock, so that set_owner
 * fails with -EBUSY while any other vdev, in any process, owns the device.
 */
#ifndef CORE_DEVICE_H
#define CORE_DEVICE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct vdev {
	int fd;			/* the device handle, what is sent to the target;
				 * set by vdev_create/vdev_open_fd, read-only after */
	int lock_fd;		/* this vdev's own open file description of the
				 * device, which holds the flock; read-only */
	pthread_mutex_t lock;	/* serializes ownership changes and I/O */
	bool owner;		/* lock: this vdev owns the device */
	uint64_t io_count;	/* lock: successful vdev_io() calls */
};

/*
 * Create a device handle: open (creating it if needed) the file at path, or
 * a new memfd if path is NULL. The file is not removed by vdev_close: path
 * belongs to the caller. Not owned. Returns 0 or -errno.
 */
int vdev_create(struct vdev *dev, const char *path);

/*
 * Wrap a handle received from the source (or any fd of the device). Takes
 * ownership of fd on success and on failure. Not owned. Returns 0 or -errno.
 */
int vdev_open_fd(struct vdev *dev, int fd);

/* The handle to send to the target (still owned by dev: send, don't close). */
int vdev_fd(const struct vdev *dev);

/*
 * Take ownership, like VHOST_SET_OWNER: -EBUSY if the device already has an
 * owner, this vdev included, in this or another process; -EIO from the
 * fault point DEVICE_SET_OWNER; else 0.
 */
int vdev_set_owner(struct vdev *dev);

/* Release ownership, like VHOST_RESET_OWNER: 0, -EPERM if dev is not the
 * owner, -EIO from the fault point DEVICE_RESET_OWNER. */
int vdev_reset_owner(struct vdev *dev);

/* Whether dev owns the device. */
bool vdev_is_owner(struct vdev *dev);

/*
 * One device operation (a write to the device's backing file). -EPERM unless
 * dev owns the device: the source must do no device I/O after handing it
 * over. Returns 0 or -errno.
 */
int vdev_io(struct vdev *dev);

/* Successful vdev_io() calls on dev. */
uint64_t vdev_io_count(struct vdev *dev);

/* Release ownership if held and close both descriptors. */
void vdev_close(struct vdev *dev);

#endif
