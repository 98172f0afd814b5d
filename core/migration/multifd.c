/*
 * Multifd, both sides. A send thread per channel takes page batches from the
 * migration thread; a receive thread per channel loads them on the
 * destination. Syncs order the pages of one iteration before everything that
 * follows it on the main stream.
 */
#include "multifd.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness_points.h"
#include "qemu_file.h"
#include "thread.h"
#include "wire.h"
#include "yank.h"

/* ---- source ---------------------------------------------------------------- */

struct multifd_send_channel {
	struct multifd_send *m;
	int id;
	struct channel *ch;            /* main thread: set in setup, released in cleanup */
	QEMUFile *f;                   /* the send thread's, until cleanup */
	QemuThread thread;
	bool created;                  /* main thread: set at creation, cleared at join */
	QemuSemaphore sem;             /* a job (or quit) is waiting for the thread */
	QemuMutex mutex;               /* protects the job below */
	size_t pages[MULTIFD_PAGES_PER_PACKET];
	unsigned npages;               /* mutex */
	bool busy;                     /* mutex: a job is queued or being sent */
	bool sync;                     /* mutex: the job is a SYNC of sync_gen */
	uint64_t sync_gen;             /* mutex */
	bool quit;                     /* mutex */
};

struct multifd_send {
	int n;
	struct guest_ram *ram;
	const char *yank_instance;
	struct multifd_send_channel *c;
	QemuSemaphore channels_ready;  /* one token per idle channel */
	QemuSemaphore sem_sync;        /* one token per SYNC sent */
	_Atomic int error;             /* first error of any channel */
	_Atomic uint64_t pages;
	/* the migration thread's own: the batch being filled, the next channel */
	size_t batch[MULTIFD_PAGES_PER_PACKET];
	unsigned nbatch;
	int next;
};

static void set_error(_Atomic int *error, int err)
{
	int none = 0;
	atomic_compare_exchange_strong(error, &none, err ? err : -EIO);
}

static int send_packet(struct multifd_send_channel *c, uint32_t flags, uint64_t gen, const size_t *pages,
		       unsigned n, uint8_t *buf)
{
	struct guest_ram *ram = c->m->ram;

	qemu_put_be32(c->f, flags);
	qemu_put_be64(c->f, gen);
	qemu_put_be32(c->f, n);
	for (unsigned i = 0; i < n; i++) {
		ram_read_page(ram, pages[i], buf);
		qemu_put_be64(c->f, pages[i]);
		qemu_put_buffer(c->f, buf, ram->page_size);
	}
	return qemu_fflush(c->f);
}

static void *multifd_send_thread(void *opaque)
{
	struct multifd_send_channel *c = opaque;
	struct multifd_send *m = c->m;
	uint8_t *buf = malloc(m->ram->page_size);
	size_t pages[MULTIFD_PAGES_PER_PACKET];
	int ret = buf ? 0 : -ENOMEM;

	if (ret == 0) {
		qemu_put_be32(c->f, MULTIFD_MAGIC);
		qemu_put_be32(c->f, (uint32_t)c->id);
		ret = qemu_fflush(c->f);
	}
	if (ret)
		set_error(&m->error, ret);
	qemu_sem_post(&m->channels_ready);
	for (;;) {
		qemu_sem_wait(&c->sem);
		qemu_mutex_lock(&c->mutex);
		bool quit = c->quit, sync = c->sync;
		uint64_t gen = c->sync_gen;
		unsigned n = c->npages;
		memcpy(pages, c->pages, n * sizeof(pages[0]));
		c->npages = 0;
		c->sync = false;
		qemu_mutex_unlock(&c->mutex);
		if (quit)
			break;
		if (ret == 0 && n)
			ret = send_packet(c, 0, 0, pages, n, buf);
		if (ret == 0 && sync)
			ret = send_packet(c, MULTIFD_FLAG_SYNC, gen, NULL, 0, buf);
		if (ret)
			set_error(&m->error, ret);   /* keep answering: the migration thread waits on us */
		atomic_fetch_add(&m->pages, n);
		qemu_mutex_lock(&c->mutex);
		c->busy = false;
		qemu_mutex_unlock(&c->mutex);
		qemu_sem_post(sync ? &m->sem_sync : &m->channels_ready);
	}
	free(buf);
	return NULL;
}

int multifd_send_setup(struct multifd_send **out, const char *uri, int n, struct guest_ram *ram,
		       const char *yank_instance)
{
	struct multifd_send *m;
	int ret = 0;

	if (n < 1 || n > MULTIFD_MAX_CHANNELS)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->c = calloc((size_t)n, sizeof(*m->c)))) {
		free(m);
		return -ENOMEM;
	}
	m->n = n;
	m->ram = ram;
	m->yank_instance = yank_instance;
	qemu_sem_init(&m->channels_ready, 0);
	qemu_sem_init(&m->sem_sync, 0);
	for (int i = 0; i < n; i++) {
		struct multifd_send_channel *c = &m->c[i];
		c->m = m;
		c->id = i;
		qemu_sem_init(&c->sem, 0);
		qemu_mutex_init(&c->mutex);
	}
	for (int i = 0; i < n && ret == 0; i++) {
		struct multifd_send_channel *c = &m->c[i];
		ret = channel_connect(uri, &c->ch);
		if (ret)
			break;
		yank_register_function(yank_instance, yank_channel, c->ch);
		c->f = qemu_file_new_output(c->ch);
		ret = qemu_thread_try_create(&c->thread, "mig/src/multifd", multifd_send_thread, c,
					     QEMU_THREAD_JOINABLE);
		c->created = ret == 0;
	}
	if (ret) {
		multifd_send_cleanup(m, true);
		return ret;
	}
	*out = m;
	return 0;
}

/* Hands the batch to an idle channel (migration thread). */
static int flush_batch(struct multifd_send *m)
{
	if (!m->nbatch)
		return atomic_load(&m->error);
	qemu_sem_wait(&m->channels_ready);
	int err = atomic_load(&m->error);
	if (err) {
		qemu_sem_post(&m->channels_ready);   /* the token stays for the next waiter */
		return err;
	}
	for (int tries = 0; tries < m->n; tries++) {
		struct multifd_send_channel *c = &m->c[m->next];
		m->next = (m->next + 1) % m->n;
		qemu_mutex_lock(&c->mutex);
		if (!c->busy) {
			c->busy = true;
			memcpy(c->pages, m->batch, m->nbatch * sizeof(m->batch[0]));
			c->npages = m->nbatch;
			qemu_mutex_unlock(&c->mutex);
			m->nbatch = 0;
			qemu_sem_post(&c->sem);
			return 0;
		}
		qemu_mutex_unlock(&c->mutex);
	}
	fprintf(stderr, "multifd: a ready token but no idle channel\n");
	abort();
}

int multifd_queue_page(struct multifd_send *m, size_t page)
{
	m->batch[m->nbatch++] = page;
	return m->nbatch == MULTIFD_PAGES_PER_PACKET ? flush_batch(m) : atomic_load(&m->error);
}

int multifd_send_sync(struct multifd_send *m, uint64_t generation)
{
	int ret = flush_batch(m);
	if (ret)
		return ret;
	/* every channel idle (all tokens taken), then a SYNC on each */
	for (int i = 0; i < m->n; i++)
		qemu_sem_wait(&m->channels_ready);
	for (int i = 0; i < m->n; i++) {
		struct multifd_send_channel *c = &m->c[i];
		qemu_mutex_lock(&c->mutex);
		c->busy = true;
		c->sync = true;
		c->sync_gen = generation;
		qemu_mutex_unlock(&c->mutex);
		qemu_sem_post(&c->sem);
	}
	for (int i = 0; i < m->n; i++)
		qemu_sem_wait(&m->sem_sync);
	for (int i = 0; i < m->n; i++)
		qemu_sem_post(&m->channels_ready);
	return atomic_load(&m->error);
}

void multifd_send_shutdown(struct multifd_send *m)
{
	for (int i = 0; m && i < m->n; i++)
		if (m->c[i].ch)
			channel_shutdown(m->c[i].ch, CHANNEL_SHUTDOWN_BOTH);
}

void multifd_send_cleanup(struct multifd_send *m, bool failed)
{
	if (!m)
		return;
	if (failed)
		multifd_send_shutdown(m);
	for (int i = 0; i < m->n; i++) {
		struct multifd_send_channel *c = &m->c[i];
		if (c->created) {
			qemu_mutex_lock(&c->mutex);
			c->quit = true;
			qemu_mutex_unlock(&c->mutex);
			qemu_sem_post(&c->sem);
			qemu_thread_join(&c->thread);
			c->created = false;
		}
		if (c->ch) {
			/* explicitly, before the channel can go */
			yank_unregister_function(m->yank_instance, yank_channel, c->ch);
			if (c->f)
				qemu_fclose(c->f);
			channel_unref(c->ch);
		}
		qemu_sem_destroy(&c->sem);
		qemu_mutex_destroy(&c->mutex);
	}
	qemu_sem_destroy(&m->channels_ready);
	qemu_sem_destroy(&m->sem_sync);
	free(m->c);
	free(m);
}

uint64_t multifd_send_pages(struct multifd_send *m)
{
	return m ? atomic_load(&m->pages) : 0;
}

/* ---- destination -------------------------------------------------------------- */

struct multifd_recv_channel {
	struct multifd_recv *m;
	int id;
	struct channel *ch;            /* the load thread's: set in setup, released in cleanup */
	QEMUFile *f;                   /* the receive thread's */
	QemuThread thread;
	bool created;                  /* the load thread's: set at creation, cleared at join */
	QemuSemaphore sem;             /* the load thread lets the channel go on after a SYNC */
	_Atomic uint64_t synced;       /* the last generation this channel delivered */
	_Atomic bool quit;
};

struct multifd_recv {
	int n;
	struct guest_ram *ram;
	struct multifd_recv_channel *c;
	QemuSemaphore sem_sync;        /* one token per SYNC received (or channel end) */
	_Atomic int error;
	_Atomic uint64_t pages;
};

static int recv_packet(struct multifd_recv_channel *c, uint8_t *buf, bool *sync, uint64_t *gen)
{
	struct guest_ram *ram = c->m->ram;
	uint32_t flags = qemu_get_be32(c->f);
	*gen = qemu_get_be64(c->f);
	uint32_t n = qemu_get_be32(c->f);
	int ret = qemu_file_get_error(c->f);

	if (ret)
		return ret;
	if (n > MULTIFD_PAGES_PER_PACKET || (flags & ~MULTIFD_FLAG_SYNC) || ((flags & MULTIFD_FLAG_SYNC) && n))
		return -EPROTO;
	*sync = flags & MULTIFD_FLAG_SYNC;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t page = qemu_get_be64(c->f);
		qemu_get_buffer(c->f, buf, ram->page_size);
		if ((ret = qemu_file_get_error(c->f)))
			return ret;
		if (page >= ram->npages)
			return -EINVAL;
		ram_write_page(ram, (size_t)page, buf);
		atomic_fetch_add(&c->m->pages, 1);
	}
	return 0;
}

static void *multifd_recv_thread(void *opaque)
{
	struct multifd_recv_channel *c = opaque;
	struct multifd_recv *m = c->m;
	uint8_t *buf = malloc(m->ram->page_size);
	int ret = buf ? 0 : -ENOMEM;

	while (ret == 0) {
		bool sync = false;
		uint64_t gen = 0;
		ret = recv_packet(c, buf, &sync, &gen);
		if (ret || !sync)
			continue;
		atomic_store(&c->synced, gen);
		qemu_sem_post(&m->sem_sync);
		qemu_sem_wait(&c->sem);          /* until the load thread passed the sync */
		if (atomic_load(&c->quit))
			break;
	}
	if (ret && !atomic_load(&c->quit)) {
		set_error(&m->error, ret);
		qemu_sem_post(&m->sem_sync);     /* a waiting load thread must not hang */
	}
	free(buf);
	return NULL;
}

int multifd_recv_setup(struct multifd_recv **out, struct channel_listener *l, int n, struct guest_ram *ram)
{
	struct multifd_recv *m;
	int ret = 0;

	if (n < 1 || n > MULTIFD_MAX_CHANNELS || !l)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m || !(m->c = calloc((size_t)n, sizeof(*m->c)))) {
		free(m);
		return -ENOMEM;
	}
	m->n = n;
	m->ram = ram;
	qemu_sem_init(&m->sem_sync, 0);
	for (int i = 0; i < n; i++) {
		m->c[i].m = m;
		m->c[i].id = -1;
		qemu_sem_init(&m->c[i].sem, 0);
	}
	for (int i = 0; i < n && ret == 0; i++) {
		struct channel *ch;
		ret = channel_accept(l, &ch);
		if (ret)
			break;
		QEMUFile *f = qemu_file_new_input(ch);
		uint32_t magic = qemu_get_be32(f), id = qemu_get_be32(f);
		ret = qemu_file_get_error(f);
		if (ret == 0 && (magic != MULTIFD_MAGIC || id >= (uint32_t)n || m->c[id].ch))
			ret = -EPROTO;
		if (ret) {
			qemu_fclose(f);
			channel_unref(ch);
			break;
		}
		struct multifd_recv_channel *c = &m->c[id];
		c->id = (int)id;
		c->ch = ch;
		c->f = f;
		ret = qemu_thread_try_create(&c->thread, "mig/dst/multifd", multifd_recv_thread, c,
					     QEMU_THREAD_JOINABLE);
		c->created = ret == 0;
	}
	if (ret) {
		multifd_recv_shutdown(m);
		multifd_recv_cleanup(m);
		return ret;
	}
	*out = m;
	return 0;
}

int multifd_recv_sync(struct multifd_recv *m, uint64_t generation)
{
	/* a failed channel posts once and exits: never wait for it again */
	for (int i = 0; i < m->n && !atomic_load(&m->error); i++)
		qemu_sem_wait(&m->sem_sync);
	int err = atomic_load(&m->error);
	for (int i = 0; !err && i < m->n; i++)
		if (atomic_load(&m->c[i].synced) != generation)
			err = -EPROTO;
	if (err)
		return err;
	for (int i = 0; i < m->n; i++)
		qemu_sem_post(&m->c[i].sem);
	return 0;
}

void multifd_recv_shutdown(struct multifd_recv *m)
{
	for (int i = 0; m && i < m->n; i++)
		if (m->c[i].ch)
			channel_shutdown(m->c[i].ch, CHANNEL_SHUTDOWN_BOTH);
}

void multifd_recv_cleanup(struct multifd_recv *m)
{
	if (!m)
		return;
	for (int i = 0; i < m->n; i++) {
		struct multifd_recv_channel *c = &m->c[i];
		atomic_store(&c->quit, true);
		if (c->ch)
			channel_shutdown(c->ch, CHANNEL_SHUTDOWN_BOTH);
		qemu_sem_post(&c->sem);
	}
	for (int i = 0; i < m->n; i++) {
		struct multifd_recv_channel *c = &m->c[i];
		if (c->created) {
			qemu_thread_join(&c->thread);
			c->created = false;
		}
		if (c->f)
			qemu_fclose(c->f);
		if (c->ch)
			channel_unref(c->ch);
		qemu_sem_destroy(&c->sem);
	}
	qemu_sem_destroy(&m->sem_sync);
	free(m->c);
	free(m);
}

uint64_t multifd_recv_pages(struct multifd_recv *m)
{
	return m ? atomic_load(&m->pages) : 0;
}
