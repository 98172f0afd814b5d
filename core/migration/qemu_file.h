/*
 * QEMUFile: a buffered, one-direction stream over a channel, as the
 * migration stream and the return path use it. Two files may share one
 * channel (a file and its return path); closing either closes the channel.
 */
#ifndef CORE_QEMU_FILE_H
#define CORE_QEMU_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "channel.h"

#define QEMU_FILE_BUF_SIZE (32 * 1024)

typedef struct QEMUFile QEMUFile;

/*
 * Threads: a file is read or written by one thread at a time. Only
 * qemu_file_shutdown, qemu_file_set_error and qemu_file_get_error may be
 * called from other threads concurrently (e.g. under qemu_file_lock by a
 * cancel or yank path), as long as the file is not being closed.
 */

/* A file writing to ch / reading from ch; each takes its own channel reference. NULL on ENOMEM. */
QEMUFile *qemu_file_new_output(struct channel *ch);
QEMUFile *qemu_file_new_input(struct channel *ch);
/* A second file on the same channel in the opposite direction (another channel reference). */
QEMUFile *qemu_file_get_return_path(QEMUFile *f);

/* Writes are buffered; they are no-ops once the file has an error. */
void qemu_put_byte(QEMUFile *f, uint8_t v);
void qemu_put_be16(QEMUFile *f, uint16_t v);
void qemu_put_be32(QEMUFile *f, uint32_t v);
void qemu_put_be64(QEMUFile *f, uint64_t v);
void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size);

/*
 * Reads block until the bytes are there. At EOF or on a channel error they
 * set the file's error (-EIO at EOF) and return 0 (the getters) or the short
 * count (qemu_get_buffer).
 */
uint8_t qemu_get_byte(QEMUFile *f);
uint16_t qemu_get_be16(QEMUFile *f);
uint32_t qemu_get_be32(QEMUFile *f);
uint64_t qemu_get_be64(QEMUFile *f);
size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size);

/* Write out the buffer of an output file (no-op for input). 0 or the file's error. */
int qemu_fflush(QEMUFile *f);
/* 0 or -errno; the first error sticks. Any thread. */
int qemu_file_get_error(QEMUFile *f);
/* Record err (< 0) unless an error is already set. Any thread. */
void qemu_file_set_error(QEMUFile *f, int err);
/*
 * channel_shutdown(BOTH) on the file's channel, which wakes a reader blocked
 * in another thread; sets the file's error to -EIO. Never blocks: safe under
 * qemu_file_lock. 0 or the channel's -errno (-EBADF once it was closed).
 */
int qemu_file_shutdown(QEMUFile *f);
/*
 * Flush an output file, channel_close() the channel (for the file sharing
 * it too), drop this file's channel reference and free f. Returns the
 * first error: the file's own, else the flush's, else the close's.
 */
int qemu_fclose(QEMUFile *f);
struct channel *qemu_file_get_channel(QEMUFile *f);
/* Bytes moved through the channel by this file so far. */
uint64_t qemu_file_transferred(QEMUFile *f);

#endif
