/*
 * QEMUFile: buffered big-endian put/get over a channel with a sticky error.
 * Output collects bytes until the buffer is full or qemu_fflush; input
 * refills its buffer with one channel_read at a time.
 */
#include "qemu_file.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "harness_points.h"

struct QEMUFile {
	struct channel *ch;		/* immutable; one reference held */
	bool is_output;			/* immutable */
	atomic_int last_error;		/* any thread: set once from 0 by CAS */
	size_t buf_index;		/* owner thread: output fill / input read position */
	size_t buf_size;		/* owner thread: input bytes valid in buf */
	uint64_t transferred;		/* owner thread */
	uint8_t buf[QEMU_FILE_BUF_SIZE];	/* owner thread */
};

static QEMUFile *qemu_file_new(struct channel *ch, bool is_output)
{
	QEMUFile *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	channel_ref(ch);
	f->ch = ch;
	f->is_output = is_output;
	atomic_init(&f->last_error, 0);
	return f;
}

QEMUFile *qemu_file_new_output(struct channel *ch)
{
	return qemu_file_new(ch, true);
}

QEMUFile *qemu_file_new_input(struct channel *ch)
{
	return qemu_file_new(ch, false);
}

QEMUFile *qemu_file_get_return_path(QEMUFile *f)
{
	return qemu_file_new(f->ch, !f->is_output);
}

int qemu_file_get_error(QEMUFile *f)
{
	return atomic_load(&f->last_error);
}

void qemu_file_set_error(QEMUFile *f, int err)
{
	int expected = 0;

	if (err < 0)
		atomic_compare_exchange_strong(&f->last_error, &expected, err);
}

int qemu_fflush(QEMUFile *f)
{
	int ret;

	if (!f->is_output)
		return 0;
	ret = qemu_file_get_error(f);
	if (ret < 0 || f->buf_index == 0)
		return ret;
	ret = channel_write_all(f->ch, f->buf, f->buf_index);
	if (ret < 0) {
		qemu_file_set_error(f, ret);
	} else {
		f->transferred += f->buf_index;
	}
	f->buf_index = 0;
	return qemu_file_get_error(f);
}

void qemu_put_buffer(QEMUFile *f, const uint8_t *buf, size_t size)
{
	if (!f->is_output) {
		qemu_file_set_error(f, -EINVAL);
		return;
	}
	while (size > 0 && !qemu_file_get_error(f)) {
		size_t chunk = QEMU_FILE_BUF_SIZE - f->buf_index;

		if (chunk > size)
			chunk = size;
		memcpy(f->buf + f->buf_index, buf, chunk);
		f->buf_index += chunk;
		buf += chunk;
		size -= chunk;
		if (f->buf_index == QEMU_FILE_BUF_SIZE)
			qemu_fflush(f);
	}
}

void qemu_put_byte(QEMUFile *f, uint8_t v)
{
	qemu_put_buffer(f, &v, 1);
}

void qemu_put_be16(QEMUFile *f, uint16_t v)
{
	uint8_t b[2] = { v >> 8, v };

	qemu_put_buffer(f, b, sizeof(b));
}

void qemu_put_be32(QEMUFile *f, uint32_t v)
{
	uint8_t b[4] = { v >> 24, v >> 16, v >> 8, v };

	qemu_put_buffer(f, b, sizeof(b));
}

void qemu_put_be64(QEMUFile *f, uint64_t v)
{
	qemu_put_be32(f, (uint32_t)(v >> 32));
	qemu_put_be32(f, (uint32_t)v);
}

/* Refill an empty input buffer with one channel_read. 0 or the file's error. */
static int qemu_fill_buffer(QEMUFile *f)
{
	ssize_t n;

	if (qemu_file_get_error(f))
		return qemu_file_get_error(f);
	f->buf_index = 0;
	f->buf_size = 0;
	n = channel_read(f->ch, f->buf, QEMU_FILE_BUF_SIZE);
	if (n > 0) {
		f->buf_size = (size_t)n;
		f->transferred += (uint64_t)n;
		return 0;
	}
	qemu_file_set_error(f, n == 0 ? -EIO : (int)n);
	return qemu_file_get_error(f);
}

size_t qemu_get_buffer(QEMUFile *f, uint8_t *buf, size_t size)
{
	size_t done = 0;

	if (f->is_output) {
		qemu_file_set_error(f, -EINVAL);
		return 0;
	}
	while (done < size) {
		size_t chunk = f->buf_size - f->buf_index;

		if (chunk == 0) {
			if (qemu_fill_buffer(f) < 0)
				break;
			continue;
		}
		if (chunk > size - done)
			chunk = size - done;
		memcpy(buf + done, f->buf + f->buf_index, chunk);
		f->buf_index += chunk;
		done += chunk;
	}
	return done;
}

uint8_t qemu_get_byte(QEMUFile *f)
{
	uint8_t v = 0;

	qemu_get_buffer(f, &v, 1);
	return v;
}

uint16_t qemu_get_be16(QEMUFile *f)
{
	uint8_t b[2];

	if (qemu_get_buffer(f, b, sizeof(b)) != sizeof(b))
		return 0;
	return (uint16_t)(b[0] << 8 | b[1]);
}

uint32_t qemu_get_be32(QEMUFile *f)
{
	uint8_t b[4];

	if (qemu_get_buffer(f, b, sizeof(b)) != sizeof(b))
		return 0;
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

uint64_t qemu_get_be64(QEMUFile *f)
{
	uint64_t hi = qemu_get_be32(f);

	return hi << 32 | qemu_get_be32(f);
}

int qemu_file_shutdown(QEMUFile *f)
{
	qemu_file_set_error(f, -EIO);
	return channel_shutdown(f->ch, CHANNEL_SHUTDOWN_BOTH);
}

int qemu_fclose(QEMUFile *f)
{
	int ret, close_ret;

	qemu_fflush(f);
	ret = qemu_file_get_error(f);
	close_ret = channel_close(f->ch);
	if (ret == 0)
		ret = close_ret;
	/* two files share a channel (the stream and its return path): each
	 * drops its own reference, and none decides anything from the count */
	if (f->is_output)
		CORE_SYNC_POINT(FILE_CLOSE_OUTPUT);
	else
		CORE_SYNC_POINT(FILE_CLOSE_INPUT);
	channel_unref(f->ch);
	free(f);
	return ret;
}

struct channel *qemu_file_get_channel(QEMUFile *f)
{
	return f->ch;
}

uint64_t qemu_file_transferred(QEMUFile *f)
{
	return f->transferred;
}
