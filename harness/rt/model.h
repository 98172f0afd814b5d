/*
 * The scheduler model: what each controlled thread is about to do (its pending
 * operation), the state of every synchronisation object, and virtual time.
 * Pure data and functions, no threads: the runtime drives it, the unit tests
 * drive it directly.
 */
#ifndef MIGRACE_MODEL_H
#define MIGRACE_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#define MODEL_MAX_THREADS 64       /* threads per run; ids are never reused */
#define MODEL_MAX_OBJECTS 4096     /* live synchronisation objects per run */
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
	OP_KIND_COUNT
};

enum obj_kind { OBJ_MUTEX, OBJ_COND, OBJ_SEM, OBJ_RWLOCK, OBJ_ONCE, OBJ_KIND_COUNT };

enum mutex_type { MUTEX_NORMAL, MUTEX_RECURSIVE, MUTEX_ERRORCHECK };

enum thread_status { TS_RUNNABLE, TS_FINISHED };

struct mobj {
	const void *addr;            /* the program's object */
	enum obj_kind kind;
	int id;                      /* per-run id in order of first sight */
	int owner;                   /* mutex owner / rwlock writer; -1 none */
	int count;                   /* mutex recursion depth, rwlock readers, sem value */
	enum mutex_type type;
	int clock;                   /* cond: clockid of timed waits */
	int once_state;              /* 0 not run, 1 running, 2 done */
	uint8_t readers[MODEL_MAX_THREADS]; /* rwlock: read holds per thread */
};

struct op {
	enum op_kind kind;
	struct mobj *obj;            /* mutex, cond, sem, rwlock or once */
	struct mobj *obj2;           /* cond wait: the mutex */
	int obj_tid;                 /* join / create: the other thread */
	bool try;                    /* trylock, sem_trywait: never blocks */
	int64_t deadline;            /* virtual ns; MODEL_NO_DEADLINE if none */
	const char *name;            /* SYNC: the point's name */
	uintptr_t pc;                /* where the program called it */
};

struct mthread {
	int id;
	enum thread_status status;
	bool detached;
	struct op pending;
	bool signalled;              /* cond waiter: woken by signal/broadcast */
	uint64_t wait_seq;           /* cond waiter: FIFO order of wake-up */
};

struct constraint {
	const char *before, *after;  /* `after` may not pass until `before` passed */
	bool before_hit, after_hit;
};

struct model {
	struct mthread threads[MODEL_MAX_THREADS];
	int nthreads;
	struct mobj objs[MODEL_MAX_OBJECTS];
	int nobjs_used;              /* high-water mark of objs[] */
	int obj_hash[2 * MODEL_MAX_OBJECTS]; /* addr -> index+1; 0 empty; -1 tombstone */
	int next_obj_id;
	int64_t now;                 /* virtual ns since the run started */
	uint64_t wait_seq;
	struct constraint cons[MODEL_MAX_CONSTRAINTS];
	int ncons;
};

/* Result of executing an operation: what the pthread call returns. */
struct op_result {
	int err;                     /* 0, EBUSY, ETIMEDOUT, EDEADLK, EPERM, EAGAIN */
	const char *misuse;          /* non-NULL: pthreads misuse to report, a slug */
};

void model_init(struct model *m);
int model_add_thread(struct model *m);            /* returns id or -1 when full */
struct mobj *model_obj(struct model *m, const void *addr, enum obj_kind kind);
struct mobj *model_obj_find(struct model *m, const void *addr);
void model_obj_forget(struct model *m, const void *addr);

bool model_enabled(const struct model *m, int tid);
uint64_t model_enabled_mask(const struct model *m);
struct op_result model_exec(struct model *m, int tid);
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
