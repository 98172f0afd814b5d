/* The local peer (see remote_local.h): the ops call mgmt_migrate_* on the peer driver. */
#include "error.h"
#include "migrate.h"
#include "remote_local.h"

static int local_prepare(void *opaque, const char *dom, char *uri, size_t urilen, char *err, size_t errlen)
{
	int ret = mgmt_migrate_prepare(opaque, dom, uri, urilen);

	if (ret)
		mgmt_error_copy(err, errlen);
	return ret;
}

static int local_finish(void *opaque, const char *dom, int result, char *err, size_t errlen)
{
	int ret = mgmt_migrate_finish(opaque, dom, result);

	if (ret)
		mgmt_error_copy(err, errlen);
	return ret;
}

static int local_confirm(void *opaque, const char *dom, int result, char *err, size_t errlen)
{
	int ret = mgmt_migrate_confirm(opaque, dom, result);

	if (ret)
		mgmt_error_copy(err, errlen);
	return ret;
}

static const struct mgmt_remote_ops local_ops = {
	.prepare = local_prepare,
	.finish = local_finish,
	.confirm = local_confirm,
};

void mgmt_remote_local_init(struct mgmt_remote *r, struct mgmt_driver *peer)
{
	r->ops = &local_ops;
	r->opaque = peer;
}
