/*
 * Shared by every interceptor (intercept.h): the one way a lookup of the real
 * function can fail.
 */
#define _GNU_SOURCE
#include "intercept.h"

#include <stdio.h>
#include <unistd.h>

void intercept_missing(const char *name)
{
	char msg[200];
	int n = snprintf(msg, sizeof msg,
			 "migrace: cannot find the real %s (no sanitizer interceptor, not in libc)\n",
			 name);
	if (n > 0)
		(void)!write(2, msg, (size_t)n < sizeof msg ? (size_t)n : sizeof msg - 1);
	_exit(2);
}
