/*
 * The scheduler model: enabledness and effects of every pending operation.
 * The runtime asks it which threads may run and applies the chosen thread's
 * operation here before calling the real pthread primitive, which then never
 * blocks.
 */
#include "model.h"

#include <errno.h>
#include <string.h>

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
	[OP_MEM] = "mem", [OP_CHOOSE] = "choose",
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
	static const char letters[OBJ_KIND_COUNT] = { 'm', 'c', 's', 'r', 'o' };
	return (unsigned)k < OBJ_KIND_COUNT ? letters[k] : '?';
}

void model_init(struct model *m)
{
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

/* Open addressing over obj_hash; returns the slot for addr (found or free). */
static int hash_slot(const struct model *m, const void *addr, bool for_insert)
{
	const int size = 2 * MODEL_MAX_OBJECTS;
	uintptr_t h = ((uintptr_t)addr >> 3) * 0x9E3779B97F4A7C15ull;
	int first_free = -1;

	for (int i = 0; i < size; i++) {
		int s = (int)((h + (uintptr_t)i) % size);
		int v = m->obj_hash[s];
		if (v == 0)
			return for_insert && first_free >= 0 ? first_free : s;
		if (v < 0) {
			if (first_free < 0)
				first_free = s;
			continue;
		}
		if (m->objs[v - 1].addr == addr)
			return s;
	}
	return first_free;
}

struct mobj *model_obj_find(struct model *m, const void *addr)
{
	int s = hash_slot(m, addr, false);
	if (s < 0 || m->obj_hash[s] <= 0)
		return NULL;
	return &m->objs[m->obj_hash[s] - 1];
}

/* Returns the object at addr, creating it on first sight; NULL when full. */
struct mobj *model_obj(struct model *m, const void *addr, enum obj_kind kind)
{
	struct mobj *o = model_obj_find(m, addr);
	if (o && o->kind == kind)
		return o;
	if (o)                       /* memory reused for another kind of object */
		model_obj_forget(m, addr);

	int idx = -1;
	for (int i = 0; i < m->nobjs_used; i++)
		if (m->objs[i].addr == NULL) {
			idx = i;
			break;
		}
	if (idx < 0) {
		if (m->nobjs_used == MODEL_MAX_OBJECTS)
			return NULL;
		idx = m->nobjs_used++;
	}
	int s = hash_slot(m, addr, true);
	if (s < 0)
		return NULL;
	o = &m->objs[idx];
	memset(o, 0, sizeof(*o));
	o->addr = addr;
	o->kind = kind;
	o->id = m->next_obj_id++;
	o->owner = -1;
	m->obj_hash[s] = idx + 1;
	return o;
}

void model_obj_forget(struct model *m, const void *addr)
{
	int s = hash_slot(m, addr, false);
	if (s < 0 || m->obj_hash[s] <= 0)
		return;
	m->objs[m->obj_hash[s] - 1].addr = NULL;
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
		return (t->signalled || deadline_passed(m, op)) &&
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
	case OP_SYNC:
		return !model_sync_blocked(m, op->name, NULL);
	default:
		return true;
	}
}

uint64_t model_enabled_mask(const struct model *m)
{
	uint64_t mask = 0;
	for (int i = 0; i < m->nthreads; i++)
		if (model_enabled(m, i))
			mask |= 1ull << i;
	return mask;
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

static struct op_result exec_rwlock(struct mobj *rw, int tid, const struct op *op, bool write)
{
	if (rw->owner == tid)
		return err(EDEADLK, NULL);
	if (write ? (rw->owner >= 0 || rw->count > 0) : rw->owner >= 0)
		return err(op->try ? EBUSY : ETIMEDOUT, NULL);
	if (write) {
		rw->owner = tid;
	} else {
		rw->count++;
		rw->readers[tid]++;
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
		op->kind = OP_COND_REACQ;
		t->signalled = false;
		t->wait_seq = ++m->wait_seq;
		return ok();             /* pending stays: now waiting for the wake-up */
	}
	case OP_COND_REACQ:
		op->obj2->owner = tid;
		op->obj2->count = 1;
		r = err(t->signalled ? 0 : ETIMEDOUT, NULL);
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
		r = exec_rwlock(op->obj, tid, op, op->kind == OP_WRLOCK);
		break;
	case OP_RWUNLOCK: {
		struct mobj *rw = op->obj;
		if (rw->owner == tid)
			rw->owner = -1;
		else if (rw->readers[tid] > 0) {
			rw->readers[tid]--;
			rw->count--;
		} else
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
	case OP_DETACH:
		break;
	case OP_SYNC:
		mark_sync_hit(m, op->name);
		break;
	default:
		break;
	}
	op->kind = OP_NONE;
	op->obj = op->obj2 = NULL;
	op->deadline = MODEL_NO_DEADLINE;
	op->try = false;
	return r;
}

bool model_advance_time(struct model *m)
{
	int64_t earliest = MODEL_NO_DEADLINE;

	if (model_enabled_mask(m))
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
		for (int i = 0; i < m->nthreads; i++)
			if (op->obj->readers[i] && i != tid)
				return i;
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
		memset(seen, -1, sizeof(seen));
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
