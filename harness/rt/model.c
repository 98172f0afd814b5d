/*
 * The scheduler model: enabledness and effects of every pending operation.
 * The runtime asks it which threads may run and applies the chosen thread's
 * operation here before calling the real pthread primitive, which then never
 * blocks.
 */
#include "model.h"
#include "rawmap.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static const char *const op_names[OP_KIND_COUNT] = {
	[OP_NONE] = "none", [OP_START] = "start", [OP_CREATE] = "create",
	[OP_EXIT] = "exit", [OP_JOIN] = "join", [OP_DETACH] = "detach",
	[OP_LOCK] = "lock", [OP_UNLOCK] = "unlock", [OP_COND_WAIT] = "cond-wait",
	[OP_COND_REACQ] = "cond-wake", [OP_SIGNAL] = "signal",
	[OP_BROADCAST] = "broadcast", [OP_SEM_WAIT] = "sem-wait",
	[OP_SEM_POST] = "sem-post", [OP_RDLOCK] = "rdlock", [OP_WRLOCK] = "wrlock",
	[OP_RWUNLOCK] = "rwunlock", [OP_ONCE] = "once", [OP_SLEEP] = "sleep",
	[OP_YIELD] = "yield", [OP_SYNC] = "sync",
	[OP_FAULT_PASS] = "fault-pass", [OP_FAULT_FAIL] = "fault-fail",
	[OP_MEM] = "mem", [OP_CHOOSE] = "choose", [OP_RELEASE] = "released", [OP_FUTEX_WAIT] = "futex-wait",
	[OP_FUTEX_SLEEP] = "futex-sleep", [OP_FUTEX_WAKE] = "futex-wake",
	[OP_EXIT_PROC] = "exit-process", [OP_FD_WAIT] = "fd", [OP_FD_EXT] = "fd-external",
};

const char *op_kind_name(enum op_kind k)
{
	return (unsigned)k < OP_KIND_COUNT ? op_names[k] : "?";
}

int op_kind_from_name(const char *name)
{
	for (int k = 0; k < OP_KIND_COUNT; k++)
		if (strcmp(op_names[k], name) == 0)
			return k;
	return -1;
}

char obj_kind_letter(enum obj_kind k)
{
	static const char letters[OBJ_KIND_COUNT] = { 'm', 'c', 's', 'r', 'o', 'w', 'd' };
	return (unsigned)k < OBJ_KIND_COUNT ? letters[k] : '?';
}

/* Memory of the model comes from mmap, not malloc: the program's heap (and
 * what the sanitizers track of it) stays the program's. */
static void *map(size_t len)
{
	void *p = raw_mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

void model_free(struct model *m)
{
	for (int i = 0; i < MODEL_MAX_OBJECTS / MODEL_OBJ_CHUNK && m->chunk[i]; i++)
		raw_munmap(m->chunk[i], MODEL_OBJ_CHUNK * sizeof(struct mobj));
	if (m->obj_hash)
		raw_munmap(m->obj_hash, (size_t)m->hash_cap * sizeof(int));
	/* arena blocks are chained through their first word */
	for (void *b = m->arena; b;) {
		void *prev = *(void **)b;
		raw_munmap(b, *((size_t *)b + 1));
		b = prev;
	}
	memset(m->chunk, 0, sizeof(m->chunk));
	m->obj_hash = NULL;
	m->arena = NULL;
}

void model_init(struct model *m)
{
	model_free(m);
	memset(m, 0, sizeof(*m));
	m->next_obj_id = 1;
}

int model_add_thread(struct model *m)
{
	if (m->nthreads == MODEL_MAX_THREADS)
		return -1;
	struct mthread *t = &m->threads[m->nthreads];
	memset(t, 0, sizeof(*t));
	t->id = m->nthreads;
	t->status = TS_RUNNABLE;
	t->pending.kind = OP_START;
	t->pending.deadline = MODEL_NO_DEADLINE;
	return m->nthreads++;
}

static struct mobj *obj_at(const struct model *m, int idx)
{
	return &m->chunk[idx / MODEL_OBJ_CHUNK][idx % MODEL_OBJ_CHUNK];
}

static uintptr_t addr_hash(const void *addr)
{
	return ((uintptr_t)addr >> 3) * 0x9E3779B97F4A7C15ull;
}

/* Open addressing over obj_hash (hash_cap a power of two, never full);
 * returns the slot for addr (found, or free for an insert), -1 if no table. */
static int hash_slot(const struct model *m, const void *addr, bool for_insert)
{
	const uintptr_t mask = (uintptr_t)m->hash_cap - 1;
	uintptr_t h = addr_hash(addr) >> 20;
	int first_free = -1;

	if (!m->obj_hash)
		return -1;
	for (uintptr_t i = 0; i < (uintptr_t)m->hash_cap; i++) {
		int s = (int)((h + i) & mask);
		int v = m->obj_hash[s];
		if (v == 0)
			return for_insert && first_free >= 0 ? first_free : s;
		if (v < 0) {
			if (first_free < 0)
				first_free = s;
			continue;
		}
		if (obj_at(m, v - 1)->addr == addr)
			return s;
	}
	return first_free;
}

/* Keeps the table at most half full (live and tombstones): rebuilds it,
 * twice as large when the live objects need it. */
static int hash_reserve(struct model *m, int live)
{
	if (m->obj_hash && 2 * (m->hash_fill + 1) <= m->hash_cap)
		return 0;
	int cap = m->hash_cap ? m->hash_cap : 1024;
	while (4 * (live + 1) > cap)
		cap *= 2;
	int *old = m->obj_hash, old_cap = m->hash_cap;
	int *h = map((size_t)cap * sizeof(int));
	if (!h)
		return -1;
	m->obj_hash = h;
	m->hash_cap = cap;
	m->hash_fill = 0;
	for (int i = 0; i < old_cap; i++)
		if (old[i] > 0) {
			h[hash_slot(m, obj_at(m, old[i] - 1)->addr, true)] = old[i];
			m->hash_fill++;
		}
	if (old)
		raw_munmap(old, (size_t)old_cap * sizeof(int));
	return 0;
}

struct mobj *model_obj_find(struct model *m, const void *addr)
{
	int s = hash_slot(m, addr, false);
	if (s < 0 || m->obj_hash[s] <= 0)
		return NULL;
	return obj_at(m, m->obj_hash[s] - 1);
}

/* A free object index: a forgotten one, else the next unused; -1 when full. */
static int obj_alloc(struct model *m)
{
	if (m->free_head) {
		int idx = m->free_head - 1;
		m->free_head = obj_at(m, idx)->free_next;
		return idx;
	}
	if (m->nobjs_used == MODEL_MAX_OBJECTS)
		return -1;
	int c = m->nobjs_used / MODEL_OBJ_CHUNK;
	if (!m->chunk[c] && !(m->chunk[c] = map(MODEL_OBJ_CHUNK * sizeof(struct mobj))))
		return -1;
	return m->nobjs_used++;
}

/* Returns the object at addr, creating it on first sight; NULL when full. */
struct mobj *model_obj(struct model *m, const void *addr, enum obj_kind kind)
{
	struct mobj *o = model_obj_find(m, addr);
	if (o && o->kind == kind)
		return o;
	if (o)                       /* memory reused for another kind of object */
		model_obj_forget(m, addr);

	int live = m->nobjs_used;    /* an upper bound is enough for sizing */
	if (hash_reserve(m, live) < 0)
		return NULL;
	int idx = obj_alloc(m);
	if (idx < 0)
		return NULL;
	int s = hash_slot(m, addr, true);
	o = obj_at(m, idx);
	memset(o, 0, sizeof(*o));
	o->addr = addr;
	o->kind = kind;
	o->id = m->next_obj_id++;
	o->owner = -1;
	if (m->obj_hash[s] == 0)
		m->hash_fill++;
	m->obj_hash[s] = idx + 1;
	return o;
}

void model_obj_forget(struct model *m, const void *addr)
{
	int s = hash_slot(m, addr, false);
	if (s < 0 || m->obj_hash[s] <= 0)
		return;
	int idx = m->obj_hash[s] - 1;
	struct mobj *o = obj_at(m, idx);
	o->addr = NULL;
	o->free_next = m->free_head;
	m->free_head = idx + 1;
	m->obj_hash[s] = -1;
}

int model_add_constraint(struct model *m, const char *before, const char *after)
{
	if (m->ncons == MODEL_MAX_CONSTRAINTS)
		return -ENOSPC;
	m->cons[m->ncons++] = (struct constraint){ .before = before, .after = after };
	return 0;
}

/* A sync point is blocked while a constraint names it as `after` and its
 * `before` point has not been passed yet. */
bool model_sync_blocked(const struct model *m, const char *name, const char **missing)
{
	for (int i = 0; i < m->ncons; i++) {
		const struct constraint *c = &m->cons[i];
		if (!c->before_hit && strcmp(c->after, name) == 0) {
			if (missing)
				*missing = c->before;
			return true;
		}
	}
	return false;
}

static bool deadline_passed(const struct model *m, const struct op *op)
{
	return op->deadline != MODEL_NO_DEADLINE && m->now >= op->deadline;
}

static bool mutex_available(const struct mobj *mx, int tid)
{
	return mx->owner < 0 || (mx->owner == tid && mx->type != MUTEX_NORMAL);
}

bool model_enabled(const struct model *m, int tid)
{
	const struct mthread *t = &m->threads[tid];
	const struct op *op = &t->pending;

	if (t->status == TS_FINISHED)
		return false;
	switch (op->kind) {
	case OP_NONE:
		return false;
	case OP_JOIN:
		return m->threads[op->obj_tid].status == TS_FINISHED;
	case OP_LOCK:
		return op->try || mutex_available(op->obj, tid) || deadline_passed(m, op);
	case OP_COND_REACQ:
		return (t->signalled || deadline_passed(m, op) || (m->spurious && !t->spurious_used)) &&
		       (op->obj2->owner < 0 || op->obj2->owner == tid);
	case OP_SEM_WAIT:
		return op->try || op->obj->count > 0 || deadline_passed(m, op);
	case OP_RDLOCK:
		return op->try || op->obj->owner < 0 || op->obj->owner == tid ||
		       deadline_passed(m, op);
	case OP_WRLOCK:
		return op->try || (op->obj->owner < 0 && op->obj->count == 0) ||
		       op->obj->owner == tid || deadline_passed(m, op);
	case OP_ONCE:
		return op->obj->once_state != 1;
	case OP_SLEEP:
		return deadline_passed(m, op);
	case OP_FUTEX_SLEEP:
		return t->signalled || deadline_passed(m, op);
	case OP_FD_WAIT:
		return op->try || t->signalled || deadline_passed(m, op);
	case OP_SYNC:
		return !model_sync_blocked(m, op->name, NULL);
	default:
		return true;
	}
}

void model_enabled_set(const struct model *m, struct tset *out)
{
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < m->nthreads; i++)
		if (model_enabled(m, i))
			tset_add(out, i);
}

uint64_t model_enabled_mask(const struct model *m)
{
	uint64_t mask = 0;
	for (int i = 0; i < m->nthreads && i < 64; i++)
		if (model_enabled(m, i))
			mask |= 1ull << i;
	return mask;
}

static bool any_enabled(const struct model *m)
{
	for (int i = 0; i < m->nthreads; i++)
		if (model_enabled(m, i))
			return true;
	return false;
}

/* Bump allocation from mapped blocks, released with the model. */
static void *arena_alloc(struct model *m, size_t len)
{
	len = (len + 15) & ~(size_t)15;
	if (!m->arena || m->arena_used + len > m->arena_cap) {
		size_t cap = len + 16 > (1u << 20) ? len + 16 : (1u << 20);
		void **b = map(cap);
		if (!b)
			return NULL;
		b[0] = m->arena;
		*((size_t *)b + 1) = cap;
		m->arena = b;
		m->arena_used = 16;
		m->arena_cap = cap;
	}
	void *p = (char *)m->arena + m->arena_used;
	m->arena_used += len;
	return p;
}

int model_rd_holds(const struct mobj *rw, int tid)
{
	int n = 0;
	for (int i = 0; i < rw->count; i++)
		n += rw->rd[i] == tid;
	return n;
}

/* Records a read hold of tid (count is the number of holds). */
static bool rd_add(struct model *m, struct mobj *rw, int tid)
{
	if (rw->count == rw->rd_cap) {
		int cap = rw->rd_cap ? 2 * rw->rd_cap : 8;
		uint16_t *rd = arena_alloc(m, (size_t)cap * sizeof(*rd));
		if (!rd)
			return false;
		if (rw->count)
			memcpy(rd, rw->rd, (size_t)rw->count * sizeof(*rd));
		rw->rd = rd;
		rw->rd_cap = cap;
	}
	rw->rd[rw->count++] = (uint16_t)tid;
	return true;
}

static bool rd_remove(struct mobj *rw, int tid)
{
	for (int i = 0; i < rw->count; i++)
		if (rw->rd[i] == tid) {
			rw->rd[i] = rw->rd[--rw->count];
			return true;
		}
	return false;
}

static struct op_result ok(void) { return (struct op_result){ 0, NULL }; }
static struct op_result err(int e, const char *misuse) { return (struct op_result){ e, misuse }; }

static struct op_result exec_lock(struct mobj *mx, int tid, const struct op *op, bool timed_out)
{
	if (mx->owner == tid) {
		if (mx->type == MUTEX_RECURSIVE) {
			mx->count++;
			return ok();
		}
		if (mx->type == MUTEX_ERRORCHECK)
			return op->try ? err(EBUSY, NULL) : err(EDEADLK, "relock-errorcheck");
	}
	if (mx->owner >= 0)
		return err(op->try ? EBUSY : (timed_out ? ETIMEDOUT : EBUSY), NULL);
	mx->owner = tid;
	mx->count = 1;
	return ok();
}

static struct op_result exec_unlock(struct mobj *mx, int tid)
{
	if (mx->owner != tid)
		return err(EPERM, mx->owner < 0 ? "unlock-unlocked" : "unlock-not-owner");
	if (--mx->count == 0)
		mx->owner = -1;
	return ok();
}

static void cond_wake(struct model *m, struct mobj *cv, bool all)
{
	for (;;) {
		struct mthread *first = NULL;
		for (int i = 0; i < m->nthreads; i++) {
			struct mthread *w = &m->threads[i];
			if (w->pending.kind == OP_COND_REACQ && w->pending.obj == cv &&
			    !w->signalled && (!first || w->wait_seq < first->wait_seq))
				first = w;
		}
		if (!first)
			return;
		first->signalled = true;
		if (!all)
			return;
	}
}

static struct op_result exec_rwlock(struct model *m, struct mobj *rw, int tid, const struct op *op,
				     bool write)
{
	if (rw->owner == tid)
		return err(EDEADLK, NULL);
	if (write ? (rw->owner >= 0 || rw->count > 0) : rw->owner >= 0)
		return err(op->try ? EBUSY : ETIMEDOUT, NULL);
	if (write) {
		rw->owner = tid;
	} else if (!rd_add(m, rw, tid)) {
		return err(EAGAIN, NULL);   /* out of memory: as glibc's "too many readers" */
	}
	return ok();
}

static void mark_sync_hit(struct model *m, const char *name)
{
	for (int i = 0; i < m->ncons; i++) {
		if (strcmp(m->cons[i].before, name) == 0)
			m->cons[i].before_hit = true;
		if (strcmp(m->cons[i].after, name) == 0)
			m->cons[i].after_hit = true;
	}
}

/* Whether thread t owns o now, noted in its held list (a thread that holds
 * more than MODEL_HELD notes the first ones only). */
static void held_note(struct mthread *t, const struct mobj *o)
{
	if (!o)
		return;
	int i = 0;
	while (i < t->nheld && t->held[i] != (uint32_t)o->id)
		i++;
	bool owns = o->owner == t->id, listed = i < t->nheld;
	if (owns && !listed && t->nheld < MODEL_HELD)
		t->held[t->nheld++] = (uint32_t)o->id;
	else if (!owns && listed)
		t->held[i] = t->held[--t->nheld];
}

/* Applies tid's pending operation (which must be enabled) and clears it,
 * except that a cond wait turns into the wait for the wake-up. */
struct op_result model_exec(struct model *m, int tid)
{
	struct mthread *t = &m->threads[tid];
	struct op *op = &t->pending;
	struct op_result r = ok();
	bool timed_out = deadline_passed(m, op);

	switch (op->kind) {
	case OP_LOCK:
		r = exec_lock(op->obj, tid, op, timed_out);
		break;
	case OP_UNLOCK:
		r = exec_unlock(op->obj, tid);
		break;
	case OP_COND_WAIT: {
		struct mobj *mx = op->obj2;
		if (mx->owner != tid) {
			r = err(EPERM, "cond-wait-unlocked");
			break;
		}
		mx->owner = -1;
		mx->count = 0;
		held_note(t, mx);
		op->kind = OP_COND_REACQ;
		t->signalled = false;
		t->wait_seq = ++m->wait_seq;
		return ok();             /* pending stays: now waiting for the wake-up */
	}
	case OP_FUTEX_SLEEP:
	case OP_FD_WAIT:
		r = err(t->signalled || op->try ? 0 : ETIMEDOUT, NULL);
		t->signalled = false;
		break;
	case OP_COND_REACQ:
		op->obj2->owner = tid;
		op->obj2->count = 1;
		t->spurious_used = !t->signalled && !timed_out;
		if (t->spurious_used && op->deadline != MODEL_NO_DEADLINE && op->deadline > m->now)
			m->now = op->deadline;       /* the timeout came first: time reached it */
		r = err(t->signalled || op->deadline == MODEL_NO_DEADLINE ? 0 : ETIMEDOUT, NULL);
		t->signalled = false;
		break;
	case OP_SIGNAL:
	case OP_BROADCAST:
		cond_wake(m, op->obj, op->kind == OP_BROADCAST);
		break;
	case OP_SEM_WAIT:
		if (op->obj->count > 0)
			op->obj->count--;
		else
			r = err(op->try ? EAGAIN : ETIMEDOUT, NULL);
		break;
	case OP_SEM_POST:
		op->obj->count++;
		break;
	case OP_RDLOCK:
	case OP_WRLOCK:
		r = exec_rwlock(m, op->obj, tid, op, op->kind == OP_WRLOCK);
		break;
	case OP_RWUNLOCK: {
		struct mobj *rw = op->obj;
		if (rw->owner == tid)
			rw->owner = -1;
		else if (!rd_remove(rw, tid))
			r = err(EPERM, "rwunlock-not-held");
		break;
	}
	case OP_ONCE:
		if (op->obj->once_state == 0)
			op->obj->once_state = 1;   /* the runtime marks 2 when the routine returns */
		break;
	case OP_EXIT:
		t->status = TS_FINISHED;
		break;
	case OP_JOIN:
		if (op->obj_tid >= 0 && m->threads[op->obj_tid].status == TS_FINISHED) {
			t->joined63 |= m->threads[op->obj_tid].joined63;
			if (op->obj_tid < 63)
				t->joined63 |= 1ull << op->obj_tid;
		}
		break;
	case OP_DETACH:
		break;
	case OP_SYNC:
		mark_sync_hit(m, op->name);
		break;
	default:
		break;
	}
	if (op->kind == OP_LOCK || op->kind == OP_UNLOCK || op->kind == OP_WRLOCK || op->kind == OP_RWUNLOCK)
		held_note(t, op->obj);
	else if (op->kind == OP_COND_REACQ)
		held_note(t, op->obj2);
	op->kind = OP_NONE;
	op->obj = op->obj2 = NULL;
	op->fdw = NULL;
	op->deadline = MODEL_NO_DEADLINE;
	op->try = false;
	return r;
}

void model_futex_sleep(struct model *m, int tid)
{
	struct mthread *t = &m->threads[tid];
	t->pending.kind = OP_FUTEX_SLEEP;
	t->signalled = false;
	t->wait_seq = ++m->wait_seq;
}

int model_futex_wake(struct model *m, struct mobj *fx, int n, uint32_t bits)
{
	int woken = 0;
	while (woken < n) {
		struct mthread *first = NULL;
		for (int i = 0; i < m->nthreads; i++) {
			struct mthread *w = &m->threads[i];
			if (w->pending.kind == OP_FUTEX_SLEEP && w->pending.obj == fx && !w->signalled &&
			    (w->pending.bits & bits) && (!first || w->wait_seq < first->wait_seq))
				first = w;
		}
		if (!first)
			break;
		first->signalled = true;
		woken++;
	}
	return woken;
}

bool model_advance_time(struct model *m)
{
	int64_t earliest = MODEL_NO_DEADLINE;

	if (any_enabled(m))
		return false;
	for (int i = 0; i < m->nthreads; i++) {
		const struct mthread *t = &m->threads[i];
		/* a deadline already passed does not help a thread that still
		 * cannot run (a timed-out cond waiter whose mutex is held) */
		if (t->status != TS_FINISHED && t->pending.kind != OP_NONE &&
		    t->pending.deadline > m->now && t->pending.deadline < earliest)
			earliest = t->pending.deadline;
	}
	if (earliest == MODEL_NO_DEADLINE)
		return false;
	m->now = earliest;
	return true;
}

int model_waits_for(const struct model *m, int tid)
{
	const struct op *op = &m->threads[tid].pending;

	switch (op->kind) {
	case OP_JOIN:
		return op->obj_tid;
	case OP_LOCK:
		return op->obj->owner;
	case OP_COND_REACQ:
		return m->threads[tid].signalled || deadline_passed(m, op) ? op->obj2->owner : -1;
	case OP_RDLOCK:
		return op->obj->owner;
	case OP_WRLOCK:
		if (op->obj->owner >= 0)
			return op->obj->owner;
		for (int i = 0; i < op->obj->count; i++)
			if (op->obj->rd[i] != tid)
				return op->obj->rd[i];
		return -1;
	default:
		return -1;
	}
}

int model_find_cycle(const struct model *m, int *cycle, int max)
{
	for (int start = 0; start < m->nthreads; start++) {
		int seen[MODEL_MAX_THREADS], path[MODEL_MAX_THREADS];
		int n = 0, cur = start;
		memset(seen, -1, sizeof(seen[0]) * (size_t)m->nthreads);
		while (cur >= 0 && m->threads[cur].status != TS_FINISHED && seen[cur] < 0 &&
		       !model_enabled(m, cur)) {
			seen[cur] = n;
			path[n++] = cur;
			cur = model_waits_for(m, cur);
		}
		if (cur >= 0 && seen[cur] >= 0 && m->threads[cur].status != TS_FINISHED) {
			int len = n - seen[cur];      /* the cycle starts at cur */
			if (len > max)
				len = max;
			for (int i = 0; i < len; i++)
				cycle[i] = path[seen[cur] + i];
			return len;
		}
	}
	return 0;
}
