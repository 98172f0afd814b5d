/*
 * The management core's errors, libvirt style: a failing call returns
 * -errno and leaves a message in the calling thread's last error, which the
 * caller reads with mgmt_last_error() (virGetLastError). Thread-local, so
 * concurrent API calls never see each other's messages.
 */
#ifndef CORE_MGMT_ERROR_H
#define CORE_MGMT_ERROR_H

#include <stddef.h>

#define MGMT_ERROR_MAX 256

/* Set this thread's last error; returns err (a -errno) for `return mgmt_error(...)`. */
int mgmt_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* This thread's last error message ("" if none since the last clear). */
const char *mgmt_last_error(void);
/* The -errno of this thread's last error (0 if none). */
int mgmt_last_errno(void);
void mgmt_error_clear(void);
/* Copy this thread's last error into buf (for the remote ops' err argument). */
void mgmt_error_copy(char *buf, size_t len);

#endif
