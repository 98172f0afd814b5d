/*
 * The controlled scheduler. Every controlled thread is a real pthread; exactly
 * one holds the baton and runs. At each scheduling point the running thread
 * records its pending operation in the model, asks the strategy (or the trace
 * being replayed) who runs next, hands over the baton and sleeps until it is
 * chosen again. Built without sanitizer instrumentation.
 */
#define _GNU_SOURCE
#include "rt.h"

#include <errno.h>
#include <linux/futex.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "baton.h"
#include "fd.h"
#include "memshare.h"
#include "rawmap.h"
#include "readsfrom.h"
#include "sanint.h"

struct rthread {
	struct baton baton;
	struct baton started;    /* given once it runs the trampoline (rt_thread_wait_started) */
	uintptr_t handle;        /* pthread_t, once pthread_create returned */
	bool joined;
	char name[16];           /* pthread_setname_np's, for reports */
	uint32_t ndec;           /* scheduling decisions it reached (keys of its steps) */
	int32_t ktid;            /* its kernel thread id; 0 for T0, whose is the run's pid */
	uint32_t *gone;          /* the C library's word the kernel clears when it has exited */
	void *(*fn)(void *);
	void *arg;
};

static struct {
	bool active;             /* a run is in progress and scheduling */
	struct model m;
	struct strategy strat;
	struct rt_buffers buf;
	struct rthread th[MODEL_MAX_THREADS];
	uint64_t step;
	bool script;             /* constraints apply (strategy script) */
	bool misuse_seen;
	uintptr_t exe_base;
	bool mem;                /* memory-access points on, while the run schedules */
	enum rt_mem_sel mem_sel; /* which accesses are points (or the run learns them) */
	bool learn_decide;       /* learning, and every access a decision */
	bool others;             /* mem: a thread besides the running one is enabled */
	bool rf;                 /* mem: reads-from feedback for guided (readsfrom.c) */
} rt;

static __thread int self_tid = -1;
/* MIGRACE_SPURIOUS=1: condition-variable waits may wake spuriously, and
 * timed ones time out early (struct model's spurious); read once, in the
 * fork server before its first run. */
static bool spurious_on;
/* Enabled sets of more than 64 threads: the upper words of each step's, in
 * memory shared with the fork server (mapped before its first fork, so at the
 * same address in every run), reserved up front and touched as used. */
#define WIDE_WORDS (32u << 20)
static uint64_t *wide_arena;
static size_t wide_used;
/* Memory-access points: the thread's stack (skipped) and its count of
 * non-stack accesses, the key of its memory decisions. */
static __thread uintptr_t stk_lo, stk_size;
static __thread uint32_t memc;
/* Targeted points (MEM_SEL_SHARED): the point instructions the thread
 * repeated since its last scheduling point, and how often; a loop over
 * shared memory decides at its 1st, 2nd, 4th, 8th ... access only. */
#define MEM_RECENT 4
static __thread struct { uint64_t pc; uint32_t n; } recent[MEM_RECENT];
static __thread unsigned recent_next;
/* Fairness under memory points: the loads the thread made a decision at
 * (every load, in the learning run), the word and value each read last, and
 * how many times in a row it read that value there with no store point in
 * between. SPIN_REPEATS of them is a spin loop: the thread yields (a fair
 * step), so that no strategy starves the thread it waits for. */
#define SPIN_WATCH 4
#define SPIN_REPEATS 4
#define SPIN_REPEATS_LEARN 1024
static __thread struct { uint64_t pc; uintptr_t addr; uint64_t val; uint32_t n; } spinq[SPIN_WATCH];
static __thread unsigned spinq_next;
/* Inside libfiu (faults.c): its own locks and clock reads are no scheduling
 * points, so every wrapper passes them straight through. */
__thread bool rt_in_fiu;

static int exe_base_cb(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	*(uintptr_t *)data = info->dlpi_addr;   /* the first object is the executable */
	return 1;
}

uintptr_t rt_exe_base(void)
{
	if (!rt.exe_base)
		dl_iterate_phdr(exe_base_cb, &rt.exe_base);
	return rt.exe_base;
}

/* Raw write: stdio would take locks TSan does not model anyway, but a raw
 * syscall keeps the runtime's output out of every interceptor. */
static void say(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	syscall(SYS_write, 2, buf, (size_t)n);
}

static void end_after_handlers(void);

/* Priority 101: before the program's constructors, so that the exit handler
 * is registered before any of the program's and runs after them. */
static void __attribute__((constructor(101))) rt_setup(void)
{
	atexit(end_after_handlers);
	void *p = raw_mmap(NULL, WIDE_WORDS * sizeof(uint64_t), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	wide_arena = p == MAP_FAILED ? NULL : p;
	const char *v = getenv("MIGRACE_SPURIOUS");
	if (v && strcmp(v, "0") && strcmp(v, "1")) {
		say("migrace: MIGRACE_SPURIOUS=\"%s\": expected 0 or 1\n", v);
		_exit(2);
	}
	spurious_on = v && v[0] == '1';
}

bool rt_spurious(void) { return spurious_on; }
void rt_set_spurious(bool on) { spurious_on = on; }

bool rt_managed(void) { return rt.active && self_tid >= 0 && !rt_in_fiu; }
int rt_self(void) { return self_tid; }

int rt_live_threads(void)
{
	int n = 0;
	for (int i = 0; i < rt.m.nthreads; i++)
		n += rt.m.threads[i].status != TS_FINISHED;
	return n;
}
struct model *rt_model(void) { return &rt.m; }
int64_t rt_now(void) { return rt.m.now; }
uint64_t rt_steps(void) { return rt.step; }

/* A finished thread still runs the C library's and the sanitizer's teardown
 * after it handed the baton on: TLS destructors, its malloc arena going back
 * to the free list, its allocator cache drained. The thread that runs next
 * waits until the kernel thread is gone, or which arena and which chunks it
 * gets next, hence the address layout, would depend on the timing (glibc
 * gives a thread's arena to the next new thread only once the old one is
 * gone). The word the kernel clears at the thread's exit (CLONE_CHILD_CLEARTID,
 * what pthread_join waits on) is found in the thread descriptor by its value,
 * at the offset where the main thread's holds the pid. */
static long tid_word_off = -1;   /* -1: not looked for yet; -2: not found */
static int reap_pending = -1;    /* a finished thread not yet waited for (holder of the baton reads it) */
static const void *main_pd;      /* the main thread's descriptor, pthread_self() */

static uint32_t *find_gone_word(void)
{
	if (tid_word_off == -1) {
		const int32_t *self = (const int32_t *)(void *)pthread_self();
		const int32_t *mpd = main_pd;
		int32_t me = (int32_t)gettid(), pid = (int32_t)getpid();
		tid_word_off = -2;
		/* glibc's descriptor is over 2 KiB and the word is at 720 bytes
		 * (x86_64, 2.36); reading no further than 1 KiB stays inside it */
		for (long i = 0; mpd && i < 256; i++)
			if (self[i] == me && mpd[i] == pid) {
				tid_word_off = i * (long)sizeof(int32_t);
				break;
			}
	}
	return tid_word_off < 0 ? NULL : (uint32_t *)(void *)((char *)pthread_self() + tid_word_off);
}

static void reap_wait(void)
{
	if (reap_pending < 0)
		return;
	struct rthread *th = &rt.th[reap_pending];
	reap_pending = -1;
	if (!th->gone)
		return;
	int self = self_tid;
	self_tid = -1;           /* the runtime's own wait: not modelled, real time */
	struct timespec t0, now;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		uint32_t v = __atomic_load_n(th->gone, __ATOMIC_ACQUIRE);
		if (v == 0)
			break;
		/* not FUTEX_PRIVATE: the kernel's wake at a thread's exit is a shared one */
		struct timespec d = { 0, 20 * 1000 * 1000 };
		syscall(SYS_futex, th->gone, FUTEX_WAIT, v, &d, NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 2)
			break;           /* a TLS destructor that blocks: go on rather than hang */
	}
	self_tid = self;
}

void rt_run_begin(const struct rt_config *cfg, const struct rt_buffers *buf)
{
	rt.th[0] = (struct rthread){ 0 };   /* the others are set as they are created */
	/* The fork server never touches the model, so a run's copy is still
	 * all zero: clearing its 450 KiB again would cost page copies and, in
	 * TSan builds, a trip through TSan's memset. */
	if (rt.m.next_obj_id || rt.m.nthreads)
		model_init(&rt.m);
	else
		rt.m.next_obj_id = 1;
	rt.buf = *buf;
	rt.step = 0;
	wide_used = 0;
	rt.misuse_seen = false;
	rt.script = cfg->strat.kind == STRAT_SCRIPT;
	rt_exe_base();
	strategy_begin(&rt.strat, &cfg->strat, cfg->seed, cfg->pct_k, buf->prefix,
		       buf->shm->prefix_len);
	strategy_mem(&rt.strat, cfg->preempt_mem && cfg->mem_sel != MEM_SEL_LEARN, cfg->pct_k_sync);
	rt.strat.sw = cfg->sw;
	rt.strat.nsw = cfg->nsw;
	rt.strat.pct_run = cfg->guided_pct;
	rt.strat.noise = cfg->guided_noise;
	rt.strat.noise_from = cfg->guided_noise_from;
	prng_seed(&rt.strat.grng, ~cfg->seed);
	memc = 0;
	memset(recent, 0, sizeof(recent));
	recent_next = 0;
	memset(spinq, 0, sizeof(spinq));
	spinq_next = 0;
	if (rt.script)
		for (int i = 0; i < cfg->nscript; i++)
			model_add_constraint(&rt.m, cfg->script_before[i], cfg->script_after[i]);
	int tid = model_add_thread(&rt.m);   /* main is thread 0, already running */
	rt.m.threads[tid].pending.kind = OP_NONE;
	strategy_thread_created(&rt.strat, tid);
	self_tid = tid;
	main_pd = (const void *)pthread_self();
	reap_pending = -1;
	rt.active = true;
	rt.others = false;
	rt.mem = cfg->preempt_mem;
	rt.mem_sel = cfg->mem_sel;
	rt.learn_decide = cfg->mem_sel == MEM_SEL_LEARN && cfg->learn_decide;
	rt.rf = cfg->preempt_mem && cfg->mem_sel != MEM_SEL_LEARN && cfg->guided_rf;
	rf_begin(rt.rf);
	rt.m.spurious = spurious_on;
}

/* Adds an ordering constraint from the program itself (scenarios). */
int migrace_order(const char *before, const char *after)
{
	if (!rt.active || !rt.script)
		return 0;
	return model_add_constraint(&rt.m, before, after);
}

static void obj_ref(const struct op *op, char *k, int32_t *id)
{
	switch (op->kind) {
	case OP_JOIN:
	case OP_CREATE:
		*k = 'T';
		*id = op->obj_tid;
		return;
	case OP_SYNC:
		*k = 'p';
		*id = 0;
		return;
	default:
		break;
	}
	const struct mobj *o = op->obj;
	if (o) {
		*k = obj_kind_letter(o->kind);
		*id = o->id;
	} else {
		*k = '-';
		*id = 0;
	}
}

static uint64_t pc_off(uintptr_t pc)
{
	return pc ? pc - rt.exe_base : 0;
}

static void snapshot_to(struct snap *s, int running)
{
	memset(s, 0, sizeof(*s));
	s->nthreads = rt.m.nthreads;
	s->now = rt.m.now;
	s->running = running;
	s->enabled = model_enabled_mask(&rt.m);
	struct tset en;
	model_enabled_set(&rt.m, &en);
	for (int i = 0; i < rt.m.nthreads; i++) {
		const struct mthread *t = &rt.m.threads[i];
		struct snap_thread *st = &s->t[i];
		st->status = t->status;
		st->enabled = tset_has(&en, i);
		st->op = t->pending.kind;
		st->signalled = t->signalled;
		obj_ref(&t->pending, &st->objk, &st->obj);
		st->pc = pc_off(t->pending.pc);
		st->deadline = t->pending.deadline;
		st->name = t->pending.name;
		st->ktid = rt.th[i].ktid;
		st->waits_for = t->status == TS_FINISHED ? -1 : model_waits_for(&rt.m, i);
		if (t->pending.kind == OP_SYNC && !s->missing)
			model_sync_blocked(&rt.m, t->pending.name, &s->missing);
	}
	s->ncycle = model_find_cycle(&rt.m, s->cycle, MODEL_MAX_THREADS);
}

static void snapshot(int running)
{
	snapshot_to(&rt.buf.shm->snap, running);
	rt.buf.shm->has_snap = true;
}

void rt_fail(const char *outcome, const char *fmt, ...)
{
	struct rt_shared *shm = rt.buf.shm;
	va_list ap;

	rt.active = rt.mem = false;
	snprintf(shm->outcome, sizeof(shm->outcome), "%s", outcome);
	va_start(ap, fmt);
	vsnprintf(shm->detail, sizeof(shm->detail), fmt, ap);
	va_end(ap);
	shm->nsteps = (uint32_t)rt.step;
	_exit(RT_EXIT_FAIL);
}

void rt_misuse(const char *slug, int tid, const struct mobj *o, uintptr_t pc)
{
	struct rt_shared *shm = rt.buf.shm;

	say("migrace: pthread misuse: thread T%d: %s on %c%d at exe+0x%lx\n", tid, slug,
	    o ? obj_kind_letter(o->kind) : '-', o ? o->id : 0, (unsigned long)pc_off(pc));
	if (rt.misuse_seen)
		return;
	rt.misuse_seen = true;
	snprintf(shm->outcome, sizeof(shm->outcome), "misuse:%s", slug);
	snprintf(shm->detail, sizeof(shm->detail),
		 "thread T%d: %s on %c%d (call at exe+0x%lx, step %lu)", tid, slug,
		 o ? obj_kind_letter(o->kind) : '-', o ? o->id : 0,
		 (unsigned long)pc_off(pc), (unsigned long)rt.step);
	shm->detail_pc = pc_off(pc);
}

static void __attribute__((noreturn)) fail_unreached(const char *name, const char *why)
{
	char sig[160];
	snprintf(sig, sizeof(sig), "unreached:%s", name);
	rt_fail(sig, "sync point '%s' %s", name, why);
}

/* A deadlock with threads waiting on descriptors: each of them, what it
 * waits for, and what the thread that used the other end last is doing. */
static const char *op_desc(const struct op *op, char *buf, int len);

static void fd_deadlock(void)
{
	char msg[sizeof(rt.buf.shm->detail)];
	size_t n = 0;
	for (int i = 0; i < rt.m.nthreads; i++) {
		const struct op *op = &rt.m.threads[i].pending;
		if (rt.m.threads[i].status == TS_FINISHED || op->kind != OP_FD_WAIT || n >= sizeof(msg) - 200)
			continue;
		char what[300], desc[128];
		int other;
		fd_describe(op, what, sizeof(what), &other);
		n += (size_t)snprintf(msg + n, sizeof(msg) - n, "%s T%d %s", n ? ";" : "", i, what);
		/* a thread waiting on a descriptor too has its own entry */
		const struct mthread *o = other >= 0 && other != i ? &rt.m.threads[other] : NULL;
		if (o && o->pending.kind != OP_FD_WAIT && n < sizeof(msg) - 200)
			n += (size_t)snprintf(msg + n, sizeof(msg) - n, ", which %s%s",
					      o->status == TS_FINISHED ? "has finished" : "waits at ",
					      o->status == TS_FINISHED ? "" : op_desc(&o->pending, desc, sizeof(desc)));
	}
	if (n)
		rt_fail("deadlock", "no thread can run:%s", msg);
}

static void deadlock(void)
{
	snapshot(-1);
	const struct snap *s = &rt.buf.shm->snap;
	if (s->missing && !s->ncycle)
		fail_unreached(s->missing, "was never reached, and a thread waits for it");
	for (int i = 0; i < rt.m.nthreads; i++) {
		const struct op *op = &rt.m.threads[i].pending;
		if (rt.m.threads[i].status != TS_FINISHED && op->kind == OP_FUTEX_SLEEP)
			rt_fail("deadlock", "no thread can run: T%d sleeps on futex word w%d (%p) and no thread "
				"is left to wake it", i, op->obj->id, op->obj->addr);
	}
	fd_deadlock();
	rt_fail("deadlock", "no thread can run and no timed wait is pending");
}

/* The run reached the step limit: a hang, reported with every thread. */
static void __attribute__((noreturn)) step_limit(int self)
{
	snapshot(self);
	rt_fail("hang", "step limit: the run exceeded %u scheduling steps (a livelock? --max-steps raises "
		"the limit)", rt.buf.shm->max_steps);
}

/* The model's object chunks are mapped in the child only: the server maps
 * each at the child's address (never over a mapping of its own) and copies
 * it, so the pointers the snapshot follows are valid. 0, or -1: a chunk
 * could not be had (the hang is then reported without the threads). */
static int map_child_chunks(int pid)
{
	size_t len = MODEL_OBJ_CHUNK * sizeof(struct mobj);
	for (size_t i = 0; i < sizeof(rt.m.chunk) / sizeof(rt.m.chunk[0]) && rt.m.chunk[i]; i++) {
		void *at = rt.m.chunk[i];
		void *p = raw_mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (p != at) {
			if (p != MAP_FAILED)
				raw_munmap(p, len);
			for (size_t j = i; j < sizeof(rt.m.chunk) / sizeof(rt.m.chunk[0]); j++)
				rt.m.chunk[j] = NULL;     /* not ours to unmap */
			return -1;
		}
		struct iovec here = { at, len }, there = { at, len };
		if (process_vm_readv(pid, &here, 1, &there, 1, 0) != (ssize_t)len)
			return -1;
	}
	return 0;
}

static void unmap_child_chunks(void)
{
	for (size_t i = 0; i < sizeof(rt.m.chunk) / sizeof(rt.m.chunk[0]) && rt.m.chunk[i]; i++)
		raw_munmap(rt.m.chunk[i], MODEL_OBJ_CHUNK * sizeof(struct mobj));
}

int rt_snapshot_child(int pid, struct snap *out)
{
	struct iovec here = { &rt, sizeof(rt) }, there = { &rt, sizeof(rt) };
	int rc = -1;
	/* the server never runs the scheduler: its copy of rt is unused, at the
	 * child's address, so the pointers inside the model stay valid */
	if (process_vm_readv(pid, &here, 1, &there, 1, 0) == (ssize_t)sizeof(rt) && rt.buf.shm &&
	    map_child_chunks(pid) == 0) {
		uint32_t n = rt.buf.shm->nsteps;
		snapshot_to(out, n ? rt.buf.log[n - 1].chosen : 0);
		rc = 0;
	}
	unmap_child_chunks();
	/* back to untouched zero pages, so the next runs start as before */
	uintptr_t lo = ((uintptr_t)&rt + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)(&rt + 1)) & ~(uintptr_t)4095;
	memset(&rt, 0, sizeof(rt));
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
	return rc;
}

static const char *op_desc(const struct op *op, char *buf, int len)
{
	char k;
	int32_t id;
	obj_ref(op, &k, &id);
	if (k == 'p')
		snprintf(buf, len, "%s %s", op_kind_name(op->kind), op->name);
	else if (k == '-')
		snprintf(buf, len, "%s", op_kind_name(op->kind));
	else
		snprintf(buf, len, "%s %c%d", op_kind_name(op->kind), k, id);
	return buf;
}

/* Strict replay: the thread the trace chose must be enabled and about to do
 * what the trace says. */
static int replay_pick(const struct tset *enabled, int self, uint32_t key, bool key_mem)
{
	const struct rt_shared *shm = rt.buf.shm;
	char want[160], got[160];

	if (rt.step >= shm->expect_len)
		rt_fail("divergence", "step %lu: the trace ended after %u steps, but the program went on",
			(unsigned long)rt.step, shm->expect_len);
	const struct step_rec *e = &rt.buf.expect[rt.step];
	if (e->key_mem != key_mem || (key_mem && (e->key != key || e->cur != self))) {
		char at[64], exp[64];
		snprintf(at, sizeof(at), key_mem ? "T%d's memory access #%u" : "T%d's scheduling point", self, key);
		snprintf(exp, sizeof(exp), e->key_mem ? "T%d's memory access #%u" : "a scheduling point of T%d",
			 e->cur, e->key);
		rt_fail("divergence", "step %lu: the trace expected a decision at %s, but the program is at %s "
			"(exe+0x%lx)", (unsigned long)rt.step, exp, at,
			(unsigned long)pc_off(rt.m.threads[self].pending.pc));
	}
	const struct mthread *t = e->chosen < rt.m.nthreads ? &rt.m.threads[e->chosen] : NULL;
	char k = '-';
	int32_t id = 0;
	if (t)
		obj_ref(&t->pending, &k, &id);
	if (e->objk == 'p')
		snprintf(want, sizeof(want), "T%d %s %s", e->chosen, op_kind_name(e->op), e->name);
	else if (e->objk == 'f')
		snprintf(want, sizeof(want), "T%d %s %s#%d", e->chosen, op_kind_name(e->op), e->name, e->obj);
	else if (e->objk == '-')
		snprintf(want, sizeof(want), "T%d %s", e->chosen, op_kind_name(e->op));
	else
		snprintf(want, sizeof(want), "T%d %s %c%d", e->chosen, op_kind_name(e->op), e->objk, e->obj);
	if (!t)
		rt_fail("divergence", "step %lu: the trace expected %s, but thread T%d does not exist",
			(unsigned long)rt.step, want, e->chosen);
	char desc[128];
	snprintf(got, sizeof(got), "T%d %s", e->chosen, op_desc(&t->pending, desc, sizeof(desc)));
	bool same = t->pending.kind == e->op && k == e->objk &&
		    (k == 'p' ? strcmp(t->pending.name ? t->pending.name : "", e->name ? e->name : "") == 0
			      : id == e->obj) &&
		    pc_off(t->pending.pc) == e->pc;
	if (!same)
		rt_fail("divergence", "step %lu: the trace expected %s (exe+0x%lx), but the program is at %s (exe+0x%lx)",
			(unsigned long)rt.step, want, (unsigned long)e->pc, got,
			(unsigned long)pc_off(t->pending.pc));
	if (!tset_has(enabled, e->chosen))
		rt_fail("divergence", "step %lu: the trace expected %s, but that thread cannot run now",
			(unsigned long)rt.step, want);
	return e->chosen;
}

/* The step's enabled set; the words above the first go to the shared arena. */
static void set_enabled(struct step_rec *r, const struct tset *e)
{
	int n = tset_hi_words(e);
	r->enabled = e->w[0];
	r->enabled_hi = NULL;
	if (!n)
		return;
	if (!wide_arena || wide_used + (size_t)n + 1 > WIDE_WORDS)
		rt_fail("harness:too-many-threads", "no room left to record the enabled sets of more than 64 threads "
			"(%lu steps)", (unsigned long)rt.step);
	uint64_t *w = wide_arena + wide_used;
	w[0] = (uint64_t)n;
	memcpy(w + 1, &e->w[1], (size_t)n * sizeof(uint64_t));
	wide_used += (size_t)n + 1;
	r->enabled_hi = w;
}

static void record(int cur, int next, const struct tset *enabled, uint32_t key, bool key_mem, bool fair)
{
	struct rt_shared *shm = rt.buf.shm;
	const struct op *op = &rt.m.threads[next].pending;
	struct step_rec *r = &rt.buf.log[rt.step];

	r->chosen = (uint16_t)next;
	r->cur = (uint16_t)(cur < 0 ? next : cur);
	r->op = (uint8_t)op->kind;
	obj_ref(op, &r->objk, &r->obj);
	set_enabled(r, enabled);
	r->pc = pc_off(op->pc);
	r->now = rt.m.now;
	r->name = op->kind == OP_SYNC ? op->name : NULL;
	r->key = key;
	r->key_mem = key_mem;
	r->fair = fair;
	shm->nsteps = (uint32_t)++rt.step;
}

/* One scheduling decision by the thread holding the baton, its key-th
 * (key_mem: at its key-th non-stack memory access; fair: where it spins).
 * Returns when self is chosen (its pending operation is then enabled), or at
 * once when self has finished and handed the baton on. */
static void decide_at(int self, uint32_t key, bool key_mem, bool fair)
{
	struct tset enabled;

	for (;;) {
		if (fd_waiting)
			fd_refresh(&rt.m);
		model_enabled_set(&rt.m, &enabled);
		if (!tset_empty(&enabled))
			break;
		bool alive = false;
		for (int i = 0; i < rt.m.nthreads; i++)
			alive |= rt.m.threads[i].status != TS_FINISHED;
		if (!alive)
			return;                  /* the last thread is gone: the process ends */
		if (!model_advance_time(&rt.m) && !(fd_waiting && fd_wait_outside(&rt.m)))
			deadlock();
	}
	if (rt.step >= rt.buf.shm->max_steps)
		step_limit(self);

	const struct op *cur_op = &rt.m.threads[self].pending;
	int next;
	if (rt.buf.shm->replay)
		next = replay_pick(&enabled, self, key, key_mem);
	else {
		rt.strat.key = key;
		rt.strat.key_mem = key_mem;
		rt.strat.fair = fair;
		next = strategy_pick_set(&rt.strat, rt.step, &enabled, self, cur_op->kind);
		if (next < 0)
			rt_fail("divergence", "step %lu: the forced schedule names thread T%d, which cannot run here",
				(unsigned long)rt.step, rt.strat.prefix[rt.step]);
	}
	record(self, next, &enabled, key, key_mem, fair);
	if (next == self)
		return;
	bool finished = rt.m.threads[self].status == TS_FINISHED;
	if (finished && self > 0)
		reap_pending = self;
	baton_give(&rt.th[next].baton);
	if (finished)
		return;
	baton_wait(&rt.th[self].baton);
	reap_wait();
}

static void decide(int self)
{
	memset(recent, 0, sizeof(recent));   /* a new stretch of the thread's accesses */
	memset(spinq, 0, sizeof(spinq));
	decide_at(self, ++rt.th[self].ndec, false, false);
}

/* mem: who else could run now; only the running thread changes it, at its
 * scheduling points (and when a pthread_once routine returns). */
static void others_changed(void)
{
	if (!rt.mem)
		return;
	rt.others = false;
	for (int i = 0; i < rt.m.nthreads && !rt.others; i++)
		rt.others = i != self_tid && model_enabled(&rt.m, i);
}

/* A fault point hit by the running thread (faults.c): one decision, no
 * thread switch. `want` is what the run's plan or PRNG says; a replay takes
 * the trace's decision instead, after checking that the trace expected this
 * very hit here (else divergence). An open decision (no plan fixed it) is the
 * strategy's too: a forced prefix (dfs) says pass or fail, and PCT fails the
 * hit that falls on one of its change points. Returns whether it fails. */
bool rt_fault(const char *name, uint32_t hit, uintptr_t pc, bool want, bool open)
{
	struct rt_shared *shm = rt.buf.shm;
	int self = self_tid;

	if (rt.step >= shm->max_steps)
		step_limit(self);
	if (shm->replay) {
		char got[300];
		snprintf(got, sizeof(got), "T%d fault %s#%u (exe+0x%lx)", self, name, hit,
			 (unsigned long)pc_off(pc));
		if (rt.step >= shm->expect_len)
			rt_fail("divergence", "step %lu: the trace ended after %u steps, but the program is at %s",
				(unsigned long)rt.step, shm->expect_len, got);
		const struct step_rec *e = &rt.buf.expect[rt.step];
		if (e->objk != 'f' || e->chosen != self || (uint32_t)e->obj != hit || e->pc != pc_off(pc) ||
		    strcmp(e->name ? e->name : "", name) != 0) {
			char want_s[300];
			if (e->objk == 'f')
				snprintf(want_s, sizeof(want_s), "T%d %s %s#%d (exe+0x%lx)", e->chosen,
					 op_kind_name(e->op), e->name, e->obj, (unsigned long)e->pc);
			else
				snprintf(want_s, sizeof(want_s), "T%d %s (exe+0x%lx)", e->chosen,
					 op_kind_name(e->op), (unsigned long)e->pc);
			rt_fail("divergence", "step %lu: the trace expected %s, but the program is at %s",
				(unsigned long)rt.step, want_s, got);
		}
		want = e->op == OP_FAULT_FAIL;
	} else if (open)
		want = strategy_fault(&rt.strat, rt.step, want);
	struct step_rec *r = &rt.buf.log[rt.step];
	*r = (struct step_rec){ .chosen = (uint16_t)self, .cur = (uint16_t)self,
				.op = want ? OP_FAULT_FAIL : OP_FAULT_PASS, .objk = 'f', .open = open,
				.obj = (int32_t)hit, .pc = pc_off(pc), .now = rt.m.now, .name = name };
	struct tset only = { { 0 } };
	tset_add(&only, self);
	set_enabled(r, &only);
	shm->nsteps = (uint32_t)++rt.step;
	return want;
}

bool rt_replaying(void) { return rt.buf.shm && rt.buf.shm->replay; }

/* A workload's choice (choose.c): in a replay the trace's value, checked
 * against the thread, the bound and the call site; else `want`. Recorded as
 * a step of the calling thread that switches nothing, like a fault decision. */
uint32_t rt_choice(uint32_t n, uint32_t want, uintptr_t pc)
{
	struct rt_shared *shm = rt.buf.shm;
	int self = self_tid;

	if (rt.step >= shm->max_steps)
		rt_fail("hang", "the run exceeded %u scheduling steps (livelock?)", shm->max_steps);
	if (shm->replay) {
		if (rt.step >= shm->expect_len)
			rt_fail("divergence", "step %lu: the trace ended after %u steps, but T%d chooses among %u "
				"(exe+0x%lx)", (unsigned long)rt.step, shm->expect_len, self, n, (unsigned long)pc_off(pc));
		const struct step_rec *e = &rt.buf.expect[rt.step];
		if (e->objk != 'k' || e->chosen != self || STEP_CHOICE_N(e->obj) != n || e->pc != pc_off(pc)) {
			char want_s[64];
			if (e->objk == 'k')
				snprintf(want_s, sizeof(want_s), "k:%u/%u", STEP_CHOICE_V(e->obj), STEP_CHOICE_N(e->obj));
			else
				snprintf(want_s, sizeof(want_s), "%c%d", e->objk, e->obj);
			rt_fail("divergence", "step %lu: the trace expected T%d %s %s (exe+0x%lx), but T%d chooses "
				"among %u (exe+0x%lx)", (unsigned long)rt.step, e->chosen, op_kind_name(e->op), want_s,
				(unsigned long)e->pc, self, n, (unsigned long)pc_off(pc));
		}
		want = STEP_CHOICE_V(e->obj);
	}
	rt.buf.log[rt.step] = (struct step_rec){ .chosen = (uint8_t)self, .cur = (uint8_t)self, .op = OP_CHOOSE,
						 .objk = 'k', .obj = STEP_CHOICE(n, want),
						 .enabled = 1ull << self, .pc = pc_off(pc), .now = rt.m.now };
	shm->nsteps = (uint32_t)++rt.step;
	return want;
}

/* A draw from the run's one seeded PRNG (the strategy's). */
uint64_t rt_random_below(uint64_t n) { return prng_below(&rt.strat.rng, n); }

struct op_result rt_continue(void)
{
	int self = self_tid;
	decide(self);
	struct op_result r = model_exec(&rt.m, self);
	others_changed();
	return r;
}

struct op_result rt_point(struct op *op)
{
	struct mthread *t = &rt.m.threads[self_tid];
	t->pending = *op;
	return rt_continue();
}

bool rt_is_baton(const void *addr)
{
	return (const char *)addr >= (const char *)rt.th && (const char *)addr < (const char *)(rt.th + MODEL_MAX_THREADS);
}

static bool others_enabled(int self)
{
	for (int i = 0; i < rt.m.nthreads; i++)
		if (i != self && model_enabled(&rt.m, i))
			return true;
	return false;
}

/* A release point. No decision while no other thread can run: nothing could
 * happen in between, and a run that releases with nobody waiting keeps the
 * steps (and the cost) it had before. */
void rt_release_point(struct mobj *o, uintptr_t pc)
{
	int self = self_tid;
	if (fd_waiting)
		fd_refresh(&rt.m);
	if (!others_enabled(self))
		return;
	rt.m.threads[self].pending = (struct op){ .kind = OP_RELEASE, .obj = o,
						  .deadline = MODEL_NO_DEADLINE, .pc = pc };
	rt_continue();
}

int rt_thread_new(void *(*fn)(void *), void *arg)
{
	int tid = model_add_thread(&rt.m);
	if (tid < 0)
		return -1;
	rt.th[tid] = (struct rthread){ .fn = fn, .arg = arg };
	baton_reset(&rt.th[tid].baton);
	baton_reset(&rt.th[tid].started);
	strategy_thread_created(&rt.strat, tid);
	if (rt.mem && rt.mem_sel == MEM_SEL_LEARN)
		memshare_thread_created(self_tid, tid);
	return tid;
}

/* The creator waits until the new thread is in the trampoline: what the C
 * library and the sanitizer do when a thread starts (ASan maps its signal
 * stack) then happens before the creator's next allocation, never beside it,
 * so the address layout is the same in every run of a schedule. */
void rt_thread_wait_started(int tid)
{
	baton_wait(&rt.th[tid].started);
}

void rt_thread_set_name(int tid, const char *name)
{
	snprintf(rt.th[tid].name, sizeof(rt.th[tid].name), "%s", name);
}

void *rt_thread_slot(int tid)
{
	return &rt.th[tid];
}

void rt_thread_set_handle(int tid, uintptr_t handle)
{
	/* glibc reuses the pthread_t of a thread that is gone (joined, or
	 * detached and finished): the handle now names the new thread only */
	for (int i = 0; i < rt.m.nthreads; i++)
		if (i != tid && rt.th[i].handle == handle)
			rt.th[i].handle = 0;
	rt.th[tid].handle = handle;
}

int rt_thread_by_handle(uintptr_t handle)
{
	for (int i = 0; i < rt.m.nthreads; i++)
		if (rt.th[i].handle == handle && !rt.th[i].joined)
			return i;
	return -1;
}

/* The thread finishes: one decision while it is still at its exit (others may
 * run first), then it hands the baton on for good. */
void rt_thread_exit(uintptr_t pc)
{
	int self = self_tid;
	struct op op = { .kind = OP_EXIT, .deadline = MODEL_NO_DEADLINE, .pc = pc };
	rt_point(&op);
	self_tid = -1;           /* TLS destructors and the rest of exit are not controlled */
	decide(self);
}

void *rt_thread_trampoline(void *arg)
{
	struct rthread *th = arg;
	int tid = (int)(th - rt.th);

	self_tid = tid;
	th->ktid = (int32_t)gettid();   /* for spin.c; before the creator goes on */
	th->gone = find_gone_word();
	baton_give(&th->started);
	baton_wait(&th->baton);
	reap_wait();
	rt_note_stack();         /* holding the baton: its allocations happen in a fixed order */
	model_exec(&rt.m, tid);  /* start */
	others_changed();
	void *ret = th->fn(th->arg);
	if (rt.active && self_tid == tid)
		rt_thread_exit(0);
	return ret;
}

void rt_once_done(struct mobj *o)
{
	o->once_state = 2;
	o->owner = -1;
	others_changed();
}

void rt_mark_joined(int tid)
{
	rt.th[tid].joined = true;
}

/* exit() while other threads live: the exit handlers run on the exiting
 * thread under control, the others still scheduled, as on a real machine;
 * the runtime's own handler (rt_setup), run after the program's, ends the
 * run. A decision before the handlers and one after them. */
static bool exiting;

static bool others_alive(int self)
{
	for (int i = 0; i < rt.m.nthreads; i++)
		if (i != self && rt.m.threads[i].status != TS_FINISHED)
			return true;
	return false;
}

static void exit_point(void)
{
	rt.m.threads[self_tid].pending = (struct op){ .kind = OP_EXIT_PROC, .deadline = MODEL_NO_DEADLINE };
	rt_continue();
}

static void run_finish(void);

static void end_after_handlers(void)
{
	if (!exiting || !rt.active || self_tid < 0)
		return;
	if (others_alive(self_tid))
		exit_point();
	run_finish();
}

void rt_run_end(void)
{
	if (!rt.active || exiting)
		return;
	if (self_tid >= 0 && !rt_in_fiu && others_alive(self_tid)) {
		exiting = true;
		exit_point();
		return;
	}
	run_finish();
}

static void run_finish(void)
{
	struct rt_shared *shm = rt.buf.shm;

	rt.active = rt.mem = false;
	shm->nsteps = (uint32_t)rt.step;
	depot_export();
	if (shm->replay && rt.step < shm->expect_len)
		rt_fail("divergence", "the run ended after %lu steps, but the trace has %u",
			(unsigned long)rt.step, shm->expect_len);
	if (rt.script)
		for (int i = 0; i < rt.m.ncons; i++) {
			const struct constraint *c = &rt.m.cons[i];
			if (!c->before_hit)
				fail_unreached(c->before, "named by the script was never reached");
			if (!c->after_hit)
				fail_unreached(c->after, "named by the script was never reached");
		}
}

/* A broken invariant of the program under test: the run fails with
 * `invariant:<name>` and the thread's file:line (scenarios, core/mgmt). */
void migrace_invariant_failed(const char *name, const char *file, int line, const char *fmt, ...)
{
	char sig[160], msg[1600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!rt.active) {
		fprintf(stderr, "migrace: invariant:%s broken at %s:%d: %s\n", name, file, line, msg);
		abort();
	}
	snprintf(sig, sizeof(sig), "invariant:%s", name);
	rt_fail(sig, "thread T%d at %s:%d: %s", self_tid, file, line, msg);
}

/* Every thread the program created has been joined (or was detached);
 * otherwise the run fails with `invariant:thread-not-joined`. */
void migrace_check_threads_joined(const char *file, int line)
{
	char list[512];
	int n = 0, len = 0;

	if (!rt.active)
		return;
	list[0] = '\0';
	for (int i = 1; i < rt.m.nthreads; i++) {
		if (rt.th[i].joined || rt.m.threads[i].detached || i == self_tid)
			continue;
		n++;
		if (len < (int)sizeof(list) - 64)
			len += snprintf(list + len, sizeof(list) - (size_t)len, " T%d%s%s%s (%s)", i,
					rt.th[i].name[0] ? " \"" : "", rt.th[i].name, rt.th[i].name[0] ? "\"" : "",
					rt.m.threads[i].status == TS_FINISHED ? "finished" : "still running");
	}
	if (n)
		migrace_invariant_failed("thread-not-joined", file, line,
					 "%d thread(s) never joined:%s", n, list);
}

/* ---- memory-access points (--preempt=mem) -------------------------------
 *
 * Programs built by migrace-cc carry -fsanitize-coverage=trace-loads,
 * trace-stores: the compiler calls __sanitizer_cov_load<N>/store<N> before
 * every load and store. While a run schedules with memory points on, a load or
 * store of non-stack memory by a controlled thread, while another thread could
 * run, is a scheduling decision like any other: recorded with the thread's
 * count of non-stack accesses as its key, replayed, and open to every
 * strategy. The runtime itself is built without the instrumentation, and
 * accesses to the thread's own stack are skipped (locals cannot race).
 */
#define MAPS_CAP ((size_t)1 << 20)

char *rt_read_maps(void)
{
	size_t n = 0;
	ssize_t r;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	char *buf = raw_mmap(NULL, MAPS_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fd >= 0 && buf != MAP_FAILED)
		while (n < MAPS_CAP - 1 && ((r = read(fd, buf + n, MAPS_CAP - 1 - n)) > 0 || (r < 0 && errno == EINTR)))
			n += r > 0 ? (size_t)r : 0;
	if (fd >= 0)
		close(fd);
	if (buf == MAP_FAILED)
		return NULL;
	if (fd < 0 || n == MAPS_CAP - 1) {
		raw_munmap(buf, MAPS_CAP);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

void rt_free_maps(char *maps)
{
	if (maps)
		raw_munmap(maps, MAPS_CAP);
}

/* The main thread's stack as glibc's pthread_getattr_np finds it (the
 * mapping that holds __libc_stack_end, from the page above it down by the
 * stack limit, not into the mapping below), but read with rt_read_maps:
 * pthread_getattr_np reads /proc/self/maps through stdio, and the fork server
 * (which calls this for main) must not allocate: each size class its heap
 * used is mapping that every fork copies. 0, or -1 (then ask glibc). */
extern void *__libc_stack_end;

static int main_stack(uintptr_t *lo, size_t *size)
{
	struct rlimit rl;
	int rc = -1;
	char *buf = rt_read_maps();
	if (!buf)
		return -1;
	if (getrlimit(RLIMIT_STACK, &rl))
		goto out;
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), end = (uintptr_t)__libc_stack_end;
	uintptr_t stack_end = (end & -page) + page, last_to = 0;
	for (char *l = buf; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		char *e;
		uintptr_t from = strtoull(l, &e, 16), to = *e == '-' ? strtoull(e + 1, NULL, 16) : 0;
		if (from <= end && end < to) {
			size_t sz = (size_t)(rl.rlim_cur - (to - stack_end)) & -page;
			if (sz > stack_end - last_to)
				sz = stack_end - last_to;
			*lo = stack_end - sz;
			*size = sz;
			rc = 0;
			break;
		}
		last_to = to;
	}
out:
	rt_free_maps(buf);
	return rc;
}

void rt_note_stack(void)
{
	pthread_attr_t a;
	void *lo;
	size_t size;
	uintptr_t mlo;
	if (getpid() == (pid_t)syscall(SYS_gettid) && main_stack(&mlo, &size) == 0) {
		stk_lo = mlo;
		stk_size = size;
		return;
	}
	if (pthread_getattr_np(pthread_self(), &a) == 0) {
		if (pthread_attr_getstack(&a, &lo, &size) == 0) {
			stk_lo = (uintptr_t)lo;
			stk_size = size;
		}
		pthread_attr_destroy(&a);
	}
}

/* The value at addr, the size-byte word a load is about to read (its first
 * 8 bytes for a 16-byte one). */
static uint64_t peek(const void *addr, unsigned size)
{
	switch (size) {
	case 1: return *(const volatile uint8_t *)addr;
	case 2: return *(const volatile uint16_t *)addr;
	case 4: return *(const volatile uint32_t *)addr;
	default: return *(const volatile uint64_t *)addr;
	}
}

/* Whether the thread's load at pc, of addr, makes the `repeats`-th time in a
 * row it reads the same value there (then it counts again from 0). A store
 * point forgets every load: the thread did something another can see. */
static bool spinning(uint64_t pc, const void *addr, unsigned size, bool write, uint32_t repeats)
{
	if (write) {
		memset(spinq, 0, sizeof(spinq));
		return false;
	}
	uint64_t v = peek(addr, size);
	for (int i = 0; i < SPIN_WATCH; i++) {
		if (spinq[i].pc != pc)
			continue;
		if (spinq[i].addr != (uintptr_t)addr || spinq[i].val != v) {
			spinq[i].addr = (uintptr_t)addr;
			spinq[i].val = v;
			spinq[i].n = 1;
			return false;
		}
		if (++spinq[i].n < repeats)
			return false;
		spinq[i].n = 0;
		return true;
	}
	spinq[spinq_next] = (typeof(spinq[0])){ pc, (uintptr_t)addr, v, 1 };
	spinq_next = (spinq_next + 1) % SPIN_WATCH;
	return false;
}

static void __attribute__((noinline)) mem_decide(uintptr_t pc, bool fair)
{
	int self = self_tid;
	rt.m.threads[self].pending = (struct op){ .kind = OP_MEM, .deadline = MODEL_NO_DEADLINE, .pc = pc };
	decide_at(self, memc, true, fair);
	model_exec(&rt.m, self);
	others_changed();
}

/* Whether the thread's access at point instruction pc is a decision: the
 * n-th repetition of pc since the thread's last scheduling point decides
 * when n is a power of two. */
static bool backoff(uint64_t pc)
{
	for (int i = 0; i < MEM_RECENT; i++)
		if (recent[i].pc == pc) {
			uint32_t n = ++recent[i].n;
			return !(n & (n - 1));
		}
	recent[recent_next] = (typeof(recent[0])){ pc, 1 };
	recent_next = (recent_next + 1) % MEM_RECENT;
	return true;
}

static inline __attribute__((always_inline)) void mem_point(const void *addr, uintptr_t pc, bool write,
							     unsigned size, bool rmw)
{
	if (__builtin_expect(!rt.mem, 1))
		return;
	if (self_tid < 0 || rt_in_fiu || (uintptr_t)addr - stk_lo < stk_size)
		return;
	if (rt.mem_sel == MEM_SEL_LEARN) {
		const struct mthread *mt = &rt.m.threads[self_tid];
		memshare_learn((uintptr_t)addr, size, pc - rt.exe_base, self_tid, write, mt->held, mt->nheld,
			       mt->joined63);
		/* a spin would end the learning run before the thread it waits
		 * for touched the word: it yields, and that thread runs */
		if (rt.learn_decide) {
			memc++;
			if (rt.others)
				mem_decide(pc, spinning(pc, addr, size, write, SPIN_REPEATS));
		} else if (rt.others && spinning(pc, addr, size, write, SPIN_REPEATS_LEARN))
			mem_decide(pc, true);
		return;
	}
	memc++;              /* the key counts every non-stack access, points or not */
	if (!rt.others && !rt.rf)
		return;
	if (rt.mem_sel != MEM_SEL_ALL && !memshare_has(pc - rt.exe_base))
		return;
	if (rt.others && (rt.mem_sel == MEM_SEL_ALL || backoff(pc)))
		mem_decide(pc, spinning(pc, addr, size, write, SPIN_REPEATS));
	if (rt.rf && rmw)    /* after the decision: the access runs now */
		rf_access((uintptr_t)addr, pc - rt.exe_base, self_tid, false);
	if (rt.rf)
		rf_access((uintptr_t)addr, pc - rt.exe_base, self_tid, write);
}

/* An atomic read-modify-write (harness/include/migrace/rmw.h, which
 * migrace-cc includes in every source): a memory-access point like a store. */
void migrace_rmw(const volatile void *addr)
{
	mem_point((const void *)addr, (uintptr_t)__builtin_return_address(0), true, 8, true);
}

#define MEM_HOOK(name, type, write)                                                               \
	void name(type *addr);                                                                    \
	void name(type *addr) { mem_point(addr, (uintptr_t)__builtin_return_address(0), write, sizeof(type), false); }
MEM_HOOK(__sanitizer_cov_load1, uint8_t, false)
MEM_HOOK(__sanitizer_cov_load2, uint16_t, false)
MEM_HOOK(__sanitizer_cov_load4, uint32_t, false)
MEM_HOOK(__sanitizer_cov_load8, uint64_t, false)
MEM_HOOK(__sanitizer_cov_load16, __int128, false)
MEM_HOOK(__sanitizer_cov_store1, uint8_t, true)
MEM_HOOK(__sanitizer_cov_store2, uint16_t, true)
MEM_HOOK(__sanitizer_cov_store4, uint32_t, true)
MEM_HOOK(__sanitizer_cov_store8, uint64_t, true)
MEM_HOOK(__sanitizer_cov_store16, __int128, true)

/* The load/store hooks need one coverage kind besides them (clang 14 emits
 * none without); migrace-cc asks for func,trace-pc-guard, whose callbacks
 * have nothing to do here. */
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop) { (void)start; (void)stop; }
void __sanitizer_cov_trace_pc_guard(uint32_t *guard);
void __sanitizer_cov_trace_pc_guard(uint32_t *guard) { (void)guard; }
