/*
 * The remote peer of a managed migration (libvirt's migration protocol v3,
 * peer to peer): what one management daemon calls on the other. The real
 * peer is another mgmt driver (in this process or reached over a channel);
 * fakes/fake_peer.h is a scripted one. Callers wrap every call in
 * EnterRemote/ExitRemote: no domain or driver lock is held across it.
 */
#ifndef CORE_MGMT_REMOTE_H
#define CORE_MGMT_REMOTE_H

#include <stddef.h>

/*
 * Every op returns 0 or -errno, with a message in err (errlen bytes) on
 * failure. -ECONNRESET means the connection to the peer dropped; the caller
 * must then treat the peer's state as unknown (libvirt: the job is aborted
 * and the domain kept paused or resumed as the phase allows).
 *   prepare: destination: create the incoming domain and start its "QEMU"
 *            listening; writes the URI the source migrates to into uri.
 *   finish:  destination: the stream is over; ret == 0 resumes the guest
 *            there, ret != 0 (the source failed or cancelled) kills it.
 *   confirm: source: called with the outcome of finish; ret == 0 kills the
 *            source guest, ret != 0 resumes it.
 */
struct mgmt_remote_ops {
	int (*prepare)(void *opaque, const char *dom, char *uri, size_t urilen, char *err, size_t errlen);
	int (*finish)(void *opaque, const char *dom, int ret, char *err, size_t errlen);
	int (*confirm)(void *opaque, const char *dom, int ret, char *err, size_t errlen);
};

struct mgmt_remote {
	const struct mgmt_remote_ops *ops;
	void *opaque;
};

#endif
