/*
 * The local peer: a struct mgmt_remote whose ops call another in-process
 * driver's migration entry points directly (Prepare and Finish as a
 * destination, Confirm as a source), so source and destination drivers can
 * live in one process.
 */
#ifndef CORE_MGMT_REMOTE_LOCAL_H
#define CORE_MGMT_REMOTE_LOCAL_H

#include "domain.h"
#include "remote.h"

/* Fill r with the local peer's ops, calling into peer (which must outlive r). */
void mgmt_remote_local_init(struct mgmt_remote *r, struct mgmt_driver *peer);

#endif
