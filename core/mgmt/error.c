/* Thread-local last error of the management core (see error.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include "error.h"

static _Thread_local char last_msg[MGMT_ERROR_MAX];
static _Thread_local int last_err;

int mgmt_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
	va_end(ap);
	last_err = err;
	return err;
}

const char *mgmt_last_error(void)
{
	return last_msg;
}

int mgmt_last_errno(void)
{
	return last_err;
}

void mgmt_error_clear(void)
{
	last_msg[0] = '\0';
	last_err = 0;
}

void mgmt_error_copy(char *buf, size_t len)
{
	if (len)
		snprintf(buf, len, "%s", last_msg);
}
