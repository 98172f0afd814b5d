/*
 * The scheduler model: what each controlled thread is about to do (its pending
 * operation), the state of every synchronisation object, and virtual time.
 * Pure data and functions, no threads: the runtime drives it, the unit tests
 * drive it directly.
 */
#ifndef MIGRACE_MODEL_H
#define MIGRACE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODEL_MAX_THREADS 1024     /* threads per run; ids are never reused */
#define MODEL_MAX_OBJECTS (1 << 20) /* live synchronisation objects per run */
#define MODEL_OBJ_CHUNK 4096       /* objects are allocated this many at a time */
#define MODEL_MAX_CONSTRAINTS 64   /* script ordering constraints */
#define MODEL_NO_DEADLINE INT64_MAX

enum op_kind {
	OP_NONE,        /* not at a scheduling point (running, or finished) */
	OP_START,       /* a new thread, before its first instruction */
	OP_CREATE,      /* just created a thread (obj_tid) */
	OP_EXIT,        /* about to finish */
	OP_JOIN,        /* waits until thread obj_tid finished */
	OP_DETACH,
	OP_LOCK,        /* mutex; try and deadline variants via flags */
	OP_UNLOCK,
	OP_COND_WAIT,   /* releases the mutex, starts waiting */
	OP_COND_REACQ,  /* signalled or timed out, retakes the mutex */
	OP_SIGNAL,
	OP_BROADCAST,
	OP_SEM_WAIT,
	OP_SEM_POST,
	OP_RDLOCK,
	OP_WRLOCK,
	OP_RWUNLOCK,
	OP_ONCE,        /* pthread_once: waits while another thread runs the routine */
	OP_SLEEP,       /* until deadline */
	OP_YIELD,
	OP_SYNC,        /* a named SYNC_POINT */
	OP_FAULT_PASS,  /* a fault point decided not to fail (trace only, never pending) */
	OP_FAULT_FAIL,  /* a fault point decided to fail (trace only, never pending) */
	OP_MEM,         /* about to load or store non-stack memory (--preempt=mem) */
	OP_CHOOSE,      /* a program's migrace_choose (trace only, never pending) */
	OP_RELEASE,     /* just released obj (unlock, sem_post, signal): others may run */
	OP_FUTEX_WAIT,  /* FUTEX_WAIT: before the word is compared with the value */
	OP_FUTEX_SLEEP, /* asleep on the futex word until woken (or the deadline) */
	OP_FUTEX_WAKE,  /* FUTEX_WAKE */
	OP_EXIT_PROC,   /* in exit() (before, then after its handlers) while threads live */
	OP_FD_WAIT,     /* a descriptor call (fd.c): waits until ready, unless try (non-blocking) */
	OP_FD_EXT,      /* a descriptor call whose peer is outside: waited for really */
	OP_KIND_COUNT
};

enum obj_kind { OBJ_MUTEX, OBJ_COND, OBJ_SEM, OBJ_RWLOCK, OBJ_ONCE, OBJ_FUTEX, OBJ_FD, OBJ_KIND_COUNT };

enum mutex_type { MUTEX_NORMAL, MUTEX_RECURSIVE, MUTEX_ERRORCHECK };

enum thread_status { TS_RUNNABLE, TS_FINISHED };

/* A set of thread ids (enabled threads at a decision). */
#define TSET_WORDS (MODEL_MAX_THREADS / 64)
struct tset {
	uint64_t w[TSET_WORDS];
};

static inline bool tset_has(const struct tset *s, int t)
{
	return t >= 0 && t < MODEL_MAX_THREADS && (s->w[t >> 6] >> (t & 63) & 1);
}

static inline void tset_add(struct tset *s, int t) { s->w[t >> 6] |= 1ull << (t & 63); }
static inline void tset_del(struct tset *s, int t) { s->w[t >> 6] &= ~(1ull << (t & 63)); }

static inline bool tset_empty(const struct tset *s)
{
	for (int i = 0; i < TSET_WORDS; i++)
		if (s->w[i])
			return false;
	return true;
}

/* The lowest id in s, or -1. */
static inline int tset_first(const struct tset *s)
{
	for (int i = 0; i < TSET_WORDS; i++)
		if (s->w[i])
			return i * 64 + __builtin_ctzll(s->w[i]);
	return -1;
}

/* The lowest id in s above t, or -1. */
static inline int tset_next(const struct tset *s, int t)
{
	int i = (t + 1) >> 6;
	if (t + 1 >= MODEL_MAX_THREADS)
		return -1;
	uint64_t w = s->w[i] & (~0ull << ((t + 1) & 63));
	for (;;) {
		if (w)
			return i * 64 + __builtin_ctzll(w);
		if (++i == TSET_WORDS)
			return -1;
		w = s->w[i];
	}
}

static inline int tset_count(const struct tset *s)
{
	int n = 0;
	for (int i = 0; i < TSET_WORDS; i++)
		n += __builtin_popcountll(s->w[i]);
	return n;
}

#define TSET_FOR(t, s) for (int t = tset_first(s); t >= 0; t = tset_next(s, t))

struct mobj {
	const void *addr;            /* the program's object */
	enum obj_kind kind;
	int id;                      /* per-run id in order of first sight */
	int owner;                   /* mutex owner / rwlock writer; -1 none */
	int count;                   /* mutex recursion depth, rwlock readers, sem value */
	enum mutex_type type;
	int clock;                   /* cond: clockid of timed waits */
	int once_state;              /* 0 not run, 1 running, 2 done */
	uint16_t *rd;                /* rwlock: one entry per read hold, the holder's id */
	int rd_cap;
	int free_next;               /* free list of the object table: index+1, 0 end */
};

struct op {
	enum op_kind kind;
	struct mobj *obj;            /* mutex, cond, sem, rwlock or once */
	struct mobj *obj2;           /* cond wait: the mutex */
	int obj_tid;                 /* join / create: the other thread */
	bool try;                    /* trylock, sem_trywait: never blocks */
	int64_t deadline;            /* virtual ns; MODEL_NO_DEADLINE if none */
	const char *name;            /* SYNC: the point's name */
	uint32_t bits;               /* futex wait and wake: the bitset (all ones if none) */
	const void *fdw;             /* fd wait: what it waits for (fd.c's struct fdw) */
	uintptr_t pc;                /* where the program called it */
};

#define MODEL_HELD 4

struct mthread {
	int id;
	enum thread_status status;
	bool detached;
	struct op pending;
	bool signalled;              /* cond or futex waiter: woken; fd waiter: ready */
	uint64_t wait_seq;           /* cond or futex waiter: FIFO order of wake-up */
	bool spurious_used;          /* woke spuriously since its last real wake-up */
	/* the object ids of the mutexes (and rwlocks held for writing) it
	 * holds, the first MODEL_HELD of them: the learning runs' locksets
	 * (memshare.c); an id is never given twice in a run, so a lock made
	 * where a destroyed one was is another lock */
	uint32_t held[MODEL_HELD];
	int nheld;
	uint64_t joined63;           /* bit u: it joined thread u < 63, or joined one that did */
};

struct constraint {
	const char *before, *after;  /* `after` may not pass until `before` passed */
	bool before_hit, after_hit;
};

struct model {
	struct mthread threads[MODEL_MAX_THREADS];
	int nthreads;
	/* objects: chunks of MODEL_OBJ_CHUNK mapped as needed (pointers to them
	 * stay valid), a free list, and an open-addressing hash addr -> index+1
	 * (0 empty, -1 tombstone) that doubles as it fills */
	struct mobj *chunk[MODEL_MAX_OBJECTS / MODEL_OBJ_CHUNK];
	int nobjs_used;              /* high-water mark of the object indices */
	int free_head;               /* index+1 of a forgotten object's slot, 0 none */
	int *obj_hash;
	int hash_cap, hash_fill;     /* slots; slots not empty (live or tombstone) */
	void *arena;                 /* rwlock reader lists: mapped blocks, bump allocated */
	size_t arena_used, arena_cap;
	int next_obj_id;
	int64_t now;                 /* virtual ns since the run started */
	bool spurious;               /* a cond waiter may wake unsignalled, a timed one
	                                time out early: once between two real wake-ups */
	uint64_t wait_seq;
	struct constraint cons[MODEL_MAX_CONSTRAINTS];
	int ncons;
};

/* Result of executing an operation: what the pthread call returns. */
struct op_result {
	int err;                     /* 0, EBUSY, ETIMEDOUT, EDEADLK, EPERM, EAGAIN */
	const char *misuse;          /* non-NULL: pthreads misuse to report, a slug */
};

/* m must be zeroed or initialised before: what it held is released. */
void model_init(struct model *m);
void model_free(struct model *m);
int model_add_thread(struct model *m);            /* returns id or -1 when full */
struct mobj *model_obj(struct model *m, const void *addr, enum obj_kind kind);
struct mobj *model_obj_find(struct model *m, const void *addr);
void model_obj_forget(struct model *m, const void *addr);

bool model_enabled(const struct model *m, int tid);
/* The enabled threads: all of them, or the ones below 64 as a mask. */
void model_enabled_set(const struct model *m, struct tset *out);
uint64_t model_enabled_mask(const struct model *m);
/* Read holds of rwlock rw by thread tid. */
int model_rd_holds(const struct mobj *rw, int tid);
struct op_result model_exec(struct model *m, int tid);
/* Puts tid's pending futex wait to sleep on its word (the word held the
 * expected value). */
void model_futex_sleep(struct model *m, int tid);
/* Wakes up to n sleepers on futex fx whose bitset meets bits, first asleep
 * first; returns how many. */
int model_futex_wake(struct model *m, struct mobj *fx, int n, uint32_t bits);
/* If nothing is enabled, advance time to the earliest deadline; true if it moved. */
bool model_advance_time(struct model *m);
/* Thread a blocked thread waits for, or -1 (cond, sem, sleep, sync point). */
int model_waits_for(const struct model *m, int tid);
/* Writes a wait-for cycle into cycle[] (returns its length, 0 if none). */
int model_find_cycle(const struct model *m, int *cycle, int max);

int model_add_constraint(struct model *m, const char *before, const char *after);
bool model_sync_blocked(const struct model *m, const char *name, const char **missing);

const char *op_kind_name(enum op_kind k);
int op_kind_from_name(const char *name);
char obj_kind_letter(enum obj_kind k);

#endif
