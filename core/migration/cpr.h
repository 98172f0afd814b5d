/*
 * cpr-transfer, target side: before anything else, the target takes the
 * guest's RAM and device handles from the source over the cpr channel, then
 * owns the device. The source half is in migration.c (qmp_migrate).
 */
#ifndef CORE_CPR_H
#define CORE_CPR_H

#include <stddef.h>

#include "channel.h"
#include "device.h"
#include "ram.h"

/*
 * Accepts the source on l, receives its handles (the RAM memfd, then the
 * device if dev is not NULL), maps the RAM into *ram (ram_bytes long) and
 * takes the device: vdev_set_owner() is -EBUSY while the source still owns
 * it, which is the error returned then. Finally closes the cpr channel, which
 * tells the source the handles arrived. Returns 0 or -errno; on error nothing
 * is left initialised.
 */
int cpr_transfer_load(struct channel_listener *l, size_t ram_bytes, struct guest_ram *ram, struct vdev *dev);

#endif
