/*
 * Strategy guided: a greybox search over schedules, in the fork server.
 *
 * Feedback. After each run the server reads its steps (the shared step log)
 * and hashes what it did into bits of a map: for every object (mutex,
 * condition variable, semaphore, rwlock, once, futex word, thread), which
 * operation at which call site of one thread followed which of another thread
 * on it (a lock taken after another thread's unlock, a join after an exit);
 * at every thread switch, which step of the thread that stopped was followed
 * by which step of the one that ran (with --preempt mem, the pairs of memory
 * accesses that a switch put next to each other); for named sync points,
 * which point of one thread followed which of another; and the run's
 * signature. Call sites, not object or thread numbers, name them, so that a
 * schedule that only renumbers is nothing new. The map (DIR/guided/seen, a
 * file every worker maps) is shared by the workers of a hunt: a bit is new
 * to exactly one of them.
 *
 * Corpus. A run that set a new bit joins the corpus as its switch list (the
 * steps where it did not take the non-preemptive default, keyed as `migrace
 * minimize` keys them: thread T's N-th decision) and the decisions where
 * another thread could have run (up to PTS_MAX, sampled). Each entry is also
 * a file DIR/guided/corpus/w<KEY>-<SEQ>.bin (KEY the worker's first run
 * index), which the other workers load every SYNC_EVERY runs, and which
 * `hunt --resume` loads again.
 *
 * Schedules. Every other run of a worker, the first among them, is a fresh
 * PCT run of depth 3: exactly the schedule pct:3 runs at the same index
 * (index KEY + f*STRIDE for the worker's f-th fresh run, the same seed), so
 * that guided runs pct:3's schedules at half their pace whatever the corpus
 * does, and never needs more than about twice pct:3's schedules. The other
 * runs are random walks (the first RANDOM_FIRST, then one in RANDOM_IN: a
 * uniformly random enabled thread at every decision, as strategy random)
 * or mutants of a corpus entry (of two drawn at random, the one with
 * fewer switches): 1 to 3 of add a switch at one of its decisions to
 * another thread that could run there, drop one, move one (to a nearby
 * decision of the same thread, or to another thread), run PCT from a step
 * on, or switch at random after a step (about two random switches). A
 * mutant keeps its parent's seed, so the draws of migrace_choose and of
 * fault points stay the parent's.
 *
 * Memory: the fork server's heap is the runs' (forkserver.c), so the search
 * allocates nothing from it: its corpus lives in an arena reserved at start
 * in every program (whatever the strategy, so that a replay's layout is an
 * exploration's) and not inherited by the runs (MADV_DONTFORK); the plan of
 * the next run is in a second mapping the run inherits.
 */
#define _GNU_SOURCE
#include "guided.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rawmap.h"
#include "readsfrom.h"
#include "strategy.h"
#include "trace.h"

#define ARENA_BYTES ((size_t)256 << 20)
#define MAP_BITS (1u << 20)
#define MAP_BYTES (MAP_BITS / 8)
#define PLAN_MAX (1u << 20)          /* switches of one run's plan */
#define PTS_MAX 8192                 /* decisions kept per entry */
#define CORPUS_MAX 16384
#define SYNC_EVERY 16
#define RANDOM_FIRST 4
#define RANDOM_IN 4
#define OBJ_SLOTS 16384

/* A decision of an entry's run where another thread could have run. */
struct gpoint {
	uint64_t mask[2];            /* enabled threads T0..T127 */
	uint32_t key;
	uint16_t cur;
	uint8_t mem, more;           /* more: threads above T127 were enabled too */
};

struct gentry {
	uint64_t seed;
	uint32_t nsw, npts, nsteps, nthreads;
	struct switch_ent *sw;
	struct gpoint *pts;
};

struct file_head {
	char magic[8];
	uint64_t seed;
	uint32_t nsw, npts, nsteps, nthreads;
};

static const char MAGIC[8] = "MGGUIDE1";

static struct {
	uint8_t *arena;              /* the map's pages, then the corpus */
	size_t used;
	struct switch_ent *plan;     /* inherited by the run */
	uint64_t *map;
	struct gentry corpus[CORPUS_MAX];
	uint32_t n;
	struct prng rng;
	char dir[PATH_MAX];
	uint64_t key;
	uint32_t seq;                /* this worker's entries written */
	uint64_t runs;
	uint64_t seed;               /* the seed of the run planned last */
	uint64_t base_seed, stride, fresh;   /* fresh PCT runs: pct:3's sequence */
	uint64_t walks;              /* random walks: random's sequence */
	struct { uint64_t key; uint32_t next; } others[1024];
	int nothers;
} g;

static void __attribute__((constructor(102))) guided_reserve(void)
{
	/* raw_mmap, not syscall(SYS_mmap, ..., 0): the offset is 64 bits, and
	 * an int 0 through syscall's varargs leaves its upper half to chance */
	void *p = raw_mmap(NULL, ARENA_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			   -1, 0);
	if (p == MAP_FAILED)
		return;
	g.arena = p;
	syscall(SYS_madvise, g.arena, ARENA_BYTES, MADV_DONTFORK);
	p = raw_mmap(NULL, (size_t)PLAN_MAX * sizeof(struct switch_ent), PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	g.plan = p == MAP_FAILED ? NULL : p;
}

static void *arena_take(size_t bytes)
{
	bytes = (bytes + 15) & ~(size_t)15;
	if (g.used + bytes > ARENA_BYTES)
		return NULL;
	void *p = g.arena + g.used;
	g.used += bytes;
	return p;
}

uint32_t guided_corpus_size(void) { return g.n; }

/* ---- corpus files -------------------------------------------------------- */

/* All n bytes written (out) or read; 0, or -1. */
static int io_all(int fd, void *p, size_t n, bool out)
{
	char *c = p;
	while (n) {
		ssize_t r = out ? write(fd, c, n) : read(fd, c, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void entry_path(char *buf, size_t len, uint64_t key, uint32_t seq, const char *suffix)
{
	snprintf(buf, len, "%s/guided/corpus/w%" PRIu64 "-%u.bin%s", g.dir, key, seq, suffix);
}

static void save_entry(const struct gentry *e)
{
	char tmp[PATH_MAX + 64], path[PATH_MAX + 64];
	struct file_head h = { .seed = e->seed, .nsw = e->nsw, .npts = e->npts, .nsteps = e->nsteps,
			       .nthreads = e->nthreads };
	memcpy(h.magic, MAGIC, sizeof(h.magic));
	entry_path(tmp, sizeof(tmp), g.key, g.seq, ".tmp");
	entry_path(path, sizeof(path), g.key, g.seq, "");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	int rc = io_all(fd, &h, sizeof(h), true) || io_all(fd, e->sw, e->nsw * sizeof(*e->sw), true) ||
		 io_all(fd, e->pts, e->npts * sizeof(*e->pts), true);
	close(fd);
	if (rc || rename(tmp, path))
		unlink(tmp);
	else
		g.seq++;
}

/* Loads entry (key, seq); 0, or -1 when there is none (or it is unreadable). */
static int load_entry(uint64_t key, uint32_t seq)
{
	char path[PATH_MAX + 64];
	struct file_head h;
	entry_path(path, sizeof(path), key, seq, "");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = -1;
	if (g.n < CORPUS_MAX && io_all(fd, &h, sizeof(h), false) == 0 && memcmp(h.magic, MAGIC, sizeof(MAGIC)) == 0 &&
	    h.nsw <= PLAN_MAX && h.npts <= PTS_MAX) {
		struct gentry *e = &g.corpus[g.n];
		size_t mark = g.used;
		e->sw = arena_take(h.nsw * sizeof(*e->sw) + 1);
		e->pts = arena_take(h.npts * sizeof(*e->pts) + 1);
		if (e->sw && e->pts && io_all(fd, e->sw, h.nsw * sizeof(*e->sw), false) == 0 &&
		    io_all(fd, e->pts, h.npts * sizeof(*e->pts), false) == 0) {
			e->seed = h.seed;
			e->nsw = h.nsw;
			e->npts = h.npts;
			e->nsteps = h.nsteps;
			e->nthreads = h.nthreads;
			g.n++;
			rc = 0;
		} else {
			g.used = mark;
		}
	}
	close(fd);
	return rc;
}

static int other_slot(uint64_t key)
{
	for (int i = 0; i < g.nothers; i++)
		if (g.others[i].key == key)
			return i;
	if (g.nothers == (int)(sizeof(g.others) / sizeof(g.others[0])))
		return -1;
	g.others[g.nothers].key = key;
	g.others[g.nothers].next = 0;
	return g.nothers++;
}

/* The entries other workers (and, at a resume, this one before) wrote and
 * this one has not loaded, in the order of their keys and numbers. The
 * directory is read with getdents64: opendir would allocate. */
static void load_new(bool own_too)
{
	char path[PATH_MAX + 32], buf[16384];
	snprintf(path, sizeof(path), "%s/guided/corpus", g.dir);
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	long n;
	while ((n = syscall(SYS_getdents64, fd, buf, sizeof(buf))) > 0)
		for (long off = 0; off < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
				char name[];
			} *d = (void *)(buf + off);
			unsigned long long key;
			unsigned seq;
			int end = 0;
			if (sscanf(d->name, "w%llu-%u.bin%n", &key, &seq, &end) == 2 && !d->name[end] &&
			    (own_too || key != g.key))
				other_slot(key);
			off += d->reclen;
		}
	close(fd);
	/* keys in increasing order, each from its next number on */
	bool done[sizeof(g.others) / sizeof(g.others[0])] = { false };
	for (;;) {
		int best = -1;
		for (int i = 0; i < g.nothers; i++)
			if (!done[i] && (best < 0 || g.others[i].key < g.others[best].key))
				best = i;
		if (best < 0)
			break;
		done[best] = true;
		while (load_entry(g.others[best].key, g.others[best].next) == 0)
			g.others[best].next++;
		if (g.others[best].key == g.key)
			g.seq = g.others[best].next;
	}
	/* this worker's own entries are loaded once, at a resume, never again */
	for (int i = 0; i < g.nothers; i++)
		if (g.others[i].key == g.key) {
			g.others[i] = g.others[--g.nothers];
			break;
		}
}

int guided_init(const char *dir, uint64_t key, uint64_t stride, uint64_t seed, bool resume, char *why, size_t len)
{
	char path[PATH_MAX + 32];
	if (!g.arena || !g.plan) {
		snprintf(why, len, "guided: no memory for the corpus");
		return -1;
	}
	snprintf(g.dir, sizeof(g.dir), "%s", dir);
	g.key = key;
	g.stride = stride ? stride : 1;
	g.base_seed = seed;
	prng_seed(&g.rng, seed ^ (key * 0x9E3779B97F4A7C15ull));
	snprintf(path, sizeof(path), "%s/guided/corpus", dir);
	if (trace_make_dirs(path)) {
		snprintf(why, len, "guided: cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/guided/seen", dir);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) || (st.st_size < MAP_BYTES && ftruncate(fd, MAP_BYTES))) {
		snprintf(why, len, "guided: cannot set up %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	void *p = raw_mmap(g.arena, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		snprintf(why, len, "guided: cannot map %s", path);
		return -1;
	}
	syscall(SYS_madvise, g.arena, (size_t)MAP_BYTES, MADV_DONTFORK);
	g.map = (uint64_t *)g.arena;
	g.used = MAP_BYTES;
	if (resume)
		load_new(true);
	return 0;
}

/* ---- feedback ------------------------------------------------------------ */

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 33);
}

static unsigned set_bit(uint64_t h)
{
	uint32_t b = (uint32_t)(h >> 20) & (MAP_BITS - 1);
	uint64_t m = 1ull << (b & 63);
	return !(__atomic_fetch_or(&g.map[b >> 6], m, __ATOMIC_RELAXED) & m);
}

static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; s && *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ull;
	return h;
}

/* Per object: the last step on it. Open addressing on (kind, id), valid in
 * the run whose epoch it carries. */
static struct objlast {
	uint32_t epoch;
	char k;
	int32_t id;
	uint16_t tid;
	uint8_t op;
	uint64_t pc;
} objs[OBJ_SLOTS];
static uint32_t epoch;
static uint64_t last_pc[MODEL_MAX_THREADS];
static uint8_t last_op[MODEL_MAX_THREADS];
static uint32_t last_seen[MODEL_MAX_THREADS];   /* epoch of last_pc/last_op */

static struct objlast *obj_slot(char k, int32_t id)
{
	uint32_t i = (uint32_t)mix((uint64_t)(uint8_t)k, (uint64_t)(uint32_t)id) & (OBJ_SLOTS - 1);
	for (uint32_t n = 0; n < OBJ_SLOTS; n++, i = (i + 1) & (OBJ_SLOTS - 1)) {
		struct objlast *o = &objs[i];
		if (o->epoch != epoch) {
			*o = (struct objlast){ .epoch = epoch, .k = k, .id = id, .tid = UINT16_MAX };
			return o;
		}
		if (o->k == k && o->id == id)
			return o;
	}
	return NULL;
}

/* The bits this worker set, by kind of feedback: an order on an object,
 * the steps a switch put next to each other, an order of sync points, a
 * signature, a read and the write it saw. */
enum { F_OBJ, F_SWITCH, F_POINT, F_SIG, F_RF, F_KINDS };
static uint64_t nbits[F_KINDS];
static uint64_t rf_only;         /* runs whose only new bits were reads-from pairs */

static unsigned count_bit(int kind, uint64_t h)
{
	unsigned b = set_bit(h);
	nbits[kind] += b;
	return b;
}

static unsigned features(const struct step_rec *log, uint32_t n, const char *sig)
{
	unsigned fresh = 0;
	int prev = -1;
	uint64_t sp_name = 0;
	int sp_tid = -1;

	epoch++;
	for (uint32_t i = 0; i < n; i++) {
		const struct step_rec *r = &log[i];
		if (r->objk == 'f' || r->objk == 'k')
			continue;
		int t = r->chosen;
		if (prev >= 0 && t != prev && last_seen[prev] == epoch)
			fresh += count_bit(F_SWITCH, mix(mix(mix(mix(2, last_op[prev]), last_pc[prev]), r->op), r->pc));
		if (strchr("mcsrowT", r->objk) && r->objk) {
			struct objlast *o = obj_slot(r->objk, r->obj);
			if (o && o->tid != UINT16_MAX && o->tid != t)
				fresh += count_bit(F_OBJ, mix(mix(mix(mix(mix(1, (uint8_t)r->objk), o->op), o->pc), r->op), r->pc));
			if (o) {
				o->tid = (uint16_t)t;
				o->op = r->op;
				o->pc = r->pc;
			}
		}
		if (r->objk == 'p' && r->name) {
			uint64_t h = name_hash(r->name);
			if (sp_tid >= 0 && sp_tid != t)
				fresh += count_bit(F_POINT, mix(mix(3, sp_name), h));
			sp_name = h;
			sp_tid = t;
		}
		if (t < MODEL_MAX_THREADS) {
			last_pc[t] = r->pc;
			last_op[t] = r->op;
			last_seen[t] = epoch;
		}
		prev = t;
	}
	fresh += count_bit(F_SIG, mix(4, name_hash(sig)));
	/* which write each read at a memory point saw (readsfrom.c) */
	const uint64_t *pairs;
	uint32_t npairs = rf_pairs(&pairs);
	unsigned rf = 0;
	for (uint32_t i = 0; i < npairs; i++)
		rf += count_bit(F_RF, mix(5, pairs[i]));
	rf_only += rf && !fresh;
	return fresh + rf;
}

/* ---- the corpus ---------------------------------------------------------- */

static void add_entry(const struct step_rec *log, uint32_t n)
{
	if (g.n == CORPUS_MAX)
		return;
	uint32_t nsw = 0, npts = 0, seen = 0, nthreads = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct step_rec *r = &log[i];
		if (r->objk == 'f' || r->objk == 'k')
			continue;
		struct tset e;
		step_get_enabled(r, &e);
		nsw += r->chosen != strategy_step_default(r);
		npts += tset_count(&e) > 1;
	}
	if (nsw > PLAN_MAX)
		return;
	size_t mark = g.used;
	struct gentry *en = &g.corpus[g.n];
	uint32_t keep = npts < PTS_MAX ? npts : PTS_MAX;
	en->sw = arena_take(nsw * sizeof(*en->sw) + 1);
	en->pts = arena_take(keep * sizeof(*en->pts) + 1);
	if (!en->sw || !en->pts) {
		g.used = mark;
		return;
	}
	en->nsw = 0;
	for (uint32_t i = 0; i < n; i++) {
		const struct step_rec *r = &log[i];
		if (r->objk == 'f' || r->objk == 'k')
			continue;
		struct tset e;
		step_get_enabled(r, &e);
		if ((uint32_t)r->chosen + 1 > nthreads)
			nthreads = (uint32_t)r->chosen + 1;
		if (r->chosen != strategy_step_default(r))
			en->sw[en->nsw++] = (struct switch_ent){ .n = r->key, .t = r->cur, .u = r->chosen,
								 .mem = r->key_mem };
		if (tset_count(&e) < 2)
			continue;
		struct gpoint pt = { .mask = { e.w[0], e.w[1] }, .key = r->key, .cur = r->cur, .mem = r->key_mem };
		for (int w = 2; w < TSET_WORDS; w++)
			pt.more |= e.w[w] != 0;
		/* a uniform sample of the decisions (reservoir) */
		if (seen < keep)
			en->pts[seen] = pt;
		else {
			uint64_t j = prng_below(&g.rng, (uint64_t)seen + 1);
			if (j < keep)
				en->pts[j] = pt;
		}
		seen++;
	}
	en->npts = keep;
	en->nsteps = n;
	en->nthreads = nthreads;
	en->seed = g.seed;
	g.n++;
	save_entry(en);
}

unsigned guided_feedback(const struct step_rec *log, uint32_t nsteps, const char *sig)
{
	unsigned fresh = features(log, nsteps, sig);
	if (fresh || g.n == 0)
		add_entry(log, nsteps);
	return fresh;
}

void guided_summary(char *buf, size_t len)
{
	snprintf(buf, len, "guided: %u corpus entries; new feedback from this worker's runs: %" PRIu64
		 " object orders, %" PRIu64 " switch pairs, %" PRIu64 " sync-point orders, %" PRIu64
		 " signatures, %" PRIu64 " reads-from pairs (runs new by those alone: %" PRIu64 ")", g.n, nbits[F_OBJ],
		 nbits[F_SWITCH], nbits[F_POINT], nbits[F_SIG], nbits[F_RF], rf_only);
}

/* ---- planning ------------------------------------------------------------ */

static uint32_t plan_find(uint32_t nsw, uint16_t t, uint32_t key, bool mem)
{
	for (uint32_t i = 0; i < nsw; i++)
		if (g.plan[i].t == t && g.plan[i].n == key && g.plan[i].mem == mem)
			return i;
	return UINT32_MAX;
}

/* A thread of pt's enabled set other than the default, or -1. */
static int pick_other(const struct gpoint *pt, const struct gentry *e)
{
	struct tset s = { { 0 } };
	s.w[0] = pt->mask[0];
	s.w[1] = pt->mask[1];
	int def = strategy_default_set(&s, pt->cur);
	int n = tset_count(&s) - 1;
	uint64_t extra = pt->more && e->nthreads > 128 ? e->nthreads - 128 : 0;
	if (n + (int64_t)extra < 1)
		return -1;
	uint64_t k = prng_below(&g.rng, (uint64_t)n + extra);
	if (k >= (uint64_t)n)
		return (int)(128 + k - (uint64_t)n);
	TSET_FOR(t, &s)
		if (t != def && k-- == 0)
			return t;
	return -1;
}

static void mutate(struct rt_config *cfg, const struct gentry *e, uint32_t *nsw)
{
	switch (prng_below(&g.rng, 10)) {
	case 0: case 1: case 2: case 3: {                   /* add a switch */
		if (!e->npts)
			break;
		const struct gpoint *pt = &e->pts[prng_below(&g.rng, e->npts)];
		int u = pick_other(pt, e);
		if (u < 0)
			break;
		uint32_t at = plan_find(*nsw, pt->cur, pt->key, pt->mem);
		if (at == UINT32_MAX && *nsw < PLAN_MAX)
			at = (*nsw)++;
		if (at != UINT32_MAX)
			g.plan[at] = (struct switch_ent){ .n = pt->key, .t = pt->cur, .u = (uint16_t)u, .mem = pt->mem };
		break;
	}
	case 4: case 5: {                                     /* PCT after a step */
		cfg->guided_pct = true;
		cfg->guided_noise_from = e->nsteps ? prng_below(&g.rng, e->nsteps) : 0;
		break;
	}
	case 6:                                               /* drop one */
		if (*nsw) {
			uint32_t i = (uint32_t)prng_below(&g.rng, *nsw);
			g.plan[i] = g.plan[--*nsw];
		}
		break;
	case 7: case 8:                                       /* move one */
		if (*nsw) {
			struct switch_ent *w = &g.plan[prng_below(&g.rng, *nsw)];
			if (prng_below(&g.rng, 2) || e->nthreads < 3) {
				int64_t d = (int64_t)prng_below(&g.rng, 8) - 4;
				d += d >= 0;
				int64_t k = (int64_t)w->n + d;
				w->n = k < 1 ? 1 : (uint32_t)k;
			} else {
				uint16_t u = (uint16_t)prng_below(&g.rng, e->nthreads);
				if (u != w->t)
					w->u = u;
			}
		}
		break;
	default: {                                            /* random switches after a step */
		uint64_t from = e->nsteps ? prng_below(&g.rng, e->nsteps) : 0;
		uint64_t left = e->nsteps > from ? (uint64_t)e->npts * (e->nsteps - from) / e->nsteps : 0;
		cfg->guided_noise_from = from;
		cfg->guided_noise = (uint32_t)(2 * 65536 / (left > 2 ? left : 2));
		break;
	}
	}
}

void guided_plan(struct rt_config *cfg, uint64_t *seed)
{
	if (++g.runs % SYNC_EVERY == 0)
		load_new(false);
	cfg->sw = g.plan;
	cfg->nsw = 0;
	cfg->guided_pct = false;
	cfg->guided_noise = 0;
	cfg->guided_noise_from = 0;
	/* every other run (the first too) is a fresh PCT run: this worker's
	 * share of pct:3's own schedules, in its order (index key + f*stride,
	 * its seed), whatever the corpus holds */
	if (g.runs % 2 == 1 || g.n == 0) {
		cfg->guided_pct = true;
		*seed = g.seed = g.base_seed + g.key + g.fresh++ * g.stride;
		return;
	}
	/* of the other runs, the first RANDOM_FIRST and one in RANDOM_IN after
	 * them are random walks: a uniformly random thread at every decision */
	if (g.walks < RANDOM_FIRST || prng_below(&g.rng, RANDOM_IN) == 0) {
		cfg->guided_noise = GUIDED_RANDOM_WALK;
		*seed = g.seed = g.base_seed + g.key + g.walks++ * g.stride;
		return;
	}
	g.seed = *seed;
	/* a parent: the one with fewer switches of two entries drawn at random
	 * (a tournament: short schedules are mutated more) */
	const struct gentry *e = &g.corpus[prng_below(&g.rng, g.n)], *e2 = &g.corpus[prng_below(&g.rng, g.n)];
	if (e2->nsw < e->nsw)
		e = e2;
	uint32_t nsw = e->nsw;
	memcpy(g.plan, e->sw, nsw * sizeof(*g.plan));
	int nmut = 1 + (prng_below(&g.rng, 4) == 0 ? (int)prng_below(&g.rng, 3) : 0);
	/* a mutation that changed nothing (a drop from an empty list, an add
	 * where there is no other thread) is tried again, a few times */
	for (int i = 0, tries = 0; i < nmut && tries < 16; tries++) {
		uint32_t before = nsw;
		uint64_t h = 0;
		for (uint32_t j = 0; j < nsw; j++)
			h = mix(h, (uint64_t)g.plan[j].n << 32 | (uint64_t)g.plan[j].t << 16 | g.plan[j].u);
		mutate(cfg, e, &nsw);
		uint64_t h2 = 0;
		for (uint32_t j = 0; j < nsw; j++)
			h2 = mix(h2, (uint64_t)g.plan[j].n << 32 | (uint64_t)g.plan[j].t << 16 | g.plan[j].u);
		if (nsw != before || h != h2 || cfg->guided_noise || cfg->guided_pct)
			i++;
	}
	cfg->nsw = nsw;
	*seed = g.seed = e->seed;
}
