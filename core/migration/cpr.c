/*
 * cpr-transfer, target side: receive the RAM and device handles, map the
 * RAM, take the device, hang up.
 */
#include "cpr.h"

#include <errno.h>
#include <unistd.h>

#include "harness_points.h"

int cpr_transfer_load(struct channel_listener *l, size_t ram_bytes, struct guest_ram *ram, struct vdev *dev)
{
	struct channel *ch;
	int fds[CHANNEL_MAX_FDS], n, want = dev ? 2 : 1;
	int ret = channel_accept(l, &ch);

	if (ret)
		return ret;
	n = channel_recv_fds(ch, fds, CHANNEL_MAX_FDS);
	CORE_SYNC_POINT(CPR_LOAD_GOT_FDS);
	if (n != want) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		ret = n < 0 ? n : -EPROTO;
		goto out;
	}
	ret = ram_init_from_fd(ram, fds[0], ram_bytes);   /* takes fds[0] */
	if (ret) {
		if (dev)
			close(fds[1]);
		goto out;
	}
	if (dev) {
		ret = vdev_open_fd(dev, fds[1]);             /* takes fds[1] */
		if (ret == 0) {
			CORE_SYNC_POINT(CPR_LOAD_SET_OWNER);
			ret = vdev_set_owner(dev);
			if (ret)
				vdev_close(dev);
		}
		if (ret)
			ram_destroy(ram);
	}
out:
	channel_close(ch);          /* the source waits for this hang-up */
	channel_unref(ch);
	return ret;
}
