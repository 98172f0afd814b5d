/*
 * Internal interface of libmigrace-rt: the controlled scheduler used by the
 * pthread wrappers (wrap.c) and the fork server (forkserver.c).
 */
#ifndef MIGRACE_RT_H
#define MIGRACE_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"
#include "steplog.h"
#include "strategy.h"

#define RT_EXIT_FAIL 86           /* a run stopped by the runtime (outcome in shared memory) */
#define RT_MAX_SCRIPT 64
#define SPIN_SAMPLES 32
#define SPIN_DEPTH 8

/* Fixed bases of the virtual clocks, so that runs and replays see the same time. */
#define VT_REALTIME_BASE_S 1700000000LL
#define VT_MONOTONIC_BASE_S 1000LL

struct snap_thread {
	uint8_t status, op, signalled;
	bool enabled;             /* it could have run (any thread id; snap.enabled has T0..T63) */
	char objk;
	int32_t obj;
	int32_t waits_for;
	uint64_t pc;
	int64_t deadline;
	const char *name;
	int32_t ktid;             /* its kernel thread id (spin.c samples it) */
};

/* What the threads were doing when the run stopped (deadlock, or a hang at
 * the step limit or the wall clock). */
struct snap {
	int nthreads;
	int running;              /* the thread that held the baton, -1 none (deadlock) */
	uint64_t enabled;         /* the threads that could have run */
	struct snap_thread t[MODEL_MAX_THREADS];
	int ncycle;
	int cycle[MODEL_MAX_THREADS];
	const char *missing;      /* a sync point waited for that no thread reached */
	int64_t now;
};

/* Memory shared between the fork server and the run it forked. */
struct rt_shared {
	/* in: set by the fork server before the fork */
	uint32_t max_steps;
	uint32_t prefix_len;      /* forced choices in prefix[] */
	bool replay;              /* strict replay of expect[] */
	uint32_t expect_len;      /* strict replay: steps in expect[] */
	/* out: set by the run */
	uint32_t nsteps;
	bool fork_here;           /* the run reached migrace_fork_here() from main (forkserver.c) */
	bool has_snap;
	char outcome[160];        /* signature decided by the runtime, "" if none */
	char detail[2048];        /* what the runtime saw, for the report */
	uint64_t detail_pc;       /* the call site it is about, 0 if none */
	/* spin loops (spin.c): where the fork server's samples found the
	 * running thread: per sample, its pc and return addresses, as code
	 * offsets into the executable, 0 outside it */
	uint32_t spin_npc;
	uint64_t spin_pc[SPIN_SAMPLES][SPIN_DEPTH];
	struct snap snap;
};

/* Which non-stack accesses are points with --preempt mem: every one, only
 * the instructions of the learned set (memshare.c), or none while the run
 * learns that set. */
enum rt_mem_sel { MEM_SEL_ALL, MEM_SEL_SHARED, MEM_SEL_LEARN };

struct rt_config {
	struct strat_spec strat;
	uint64_t seed;
	uint64_t pct_k;
	uint64_t pct_k_sync;        /* with memory points: the first run's scheduling decisions */
	int nscript;
	const char *script_before[RT_MAX_SCRIPT], *script_after[RT_MAX_SCRIPT];
	bool preempt_mem;           /* scheduling points at non-stack loads and stores */
	enum rt_mem_sel mem_sel;    /* which of them (preempt_mem) */
	bool learn_decide;          /* MEM_SEL_LEARN: every access is also a decision */
	const struct switch_ent *sw;   /* strategy switches (and guided) */
	uint32_t nsw;
	/* strategy guided (guided.c): this run's plan besides sw */
	bool guided_pct;
	uint32_t guided_noise;
	uint64_t guided_noise_from;
	bool guided_rf;             /* reads-from feedback (readsfrom.c), with memory points */
};

struct rt_buffers {
	struct rt_shared *shm;
	struct step_rec *log;       /* max_steps records */
	const struct step_rec *expect;
	const uint16_t *prefix;
};

/* Records the calling thread's stack, which memory-access points skip (the
 * fork server calls it for the main thread, the trampoline for the others). */
void rt_note_stack(void);
/* /proc/self/maps, whole and NUL-terminated, read with open and read into a
 * mapping made past the sanitizers (no allocation: the fork server's heap is
 * the runs'); NULL if it cannot be read or is larger than 1 MiB. Give it
 * back with rt_free_maps. */
char *rt_read_maps(void);
void rt_free_maps(char *maps);
/* Start controlling the calling (main) thread as thread 0. */
void rt_run_begin(const struct rt_config *cfg, const struct rt_buffers *buf);
/* The run is over (main returned or exit() was called): stop scheduling and
 * check the script and the replay ran to their end. May _exit(RT_EXIT_FAIL). */
void rt_run_end(void);
/* pthread_create before main, by a thread the runtime does not control
 * (forkserver.c): starts the fork server there; returns in each run, with
 * the caller controlled, or at once when main has begun. */
void rt_premain_thread(void *(*fn)(void *));
/* Registers with libc the fork handlers the program registered before a
 * run (wrap.c): a run's forks run them, the fork server's did not. */
void rt_atfork_flush(void);
/* Spurious wake-ups as decisions (MIGRACE_SPURIOUS=1, or a replayed trace's
 * header): whether they are on, and setting it before the runs. */
bool rt_spurious(void);
void rt_set_spurious(bool on);
bool rt_managed(void);
/* Threads of the run that have not finished. */
int rt_live_threads(void);
/* In the fork server, for a run stopped at the wall clock or suspected of a
 * spin (spin.c): reads the child's scheduler state and writes its snapshot
 * into out. 0, or -1 when the child's memory cannot be read. */
int rt_snapshot_child(int pid, struct snap *out);
extern __thread bool rt_in_fiu;   /* inside libfiu: wrappers pass through */
uintptr_t rt_exe_base(void);

/* Scheduling points, called by the wrappers. */
struct op_result rt_point(struct op *op);
struct op_result rt_continue(void);
/* Right after the running thread released o (at pc): a decision, when
 * another thread could run, whether it goes on or another runs first. */
void rt_release_point(struct mobj *o, uintptr_t pc);
/* addr is a word of the runtime's own thread handoff. */
bool rt_is_baton(const void *addr);
int rt_self(void);
struct model *rt_model(void);
/* New controlled thread; -1 when the run has too many. */
int rt_thread_new(void *(*fn)(void *), void *arg);
void *rt_thread_trampoline(void *arg);
void *rt_thread_slot(int tid);   /* the argument of rt_thread_trampoline */
void rt_thread_wait_started(int tid);   /* after pthread_create: it reached the trampoline */
void rt_thread_set_handle(int tid, uintptr_t handle);
int rt_thread_by_handle(uintptr_t handle);
void rt_thread_exit(uintptr_t pc);   /* pc: the pthread_exit call, or 0 */
void rt_once_done(struct mobj *o);
void rt_mark_joined(int tid);
void rt_thread_set_name(int tid, const char *name);
/* Stops the run with an outcome (printf-style detail). */
void rt_fail(const char *outcome, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));
void rt_misuse(const char *slug, int tid, const struct mobj *o, uintptr_t pc);
int64_t rt_now(void);
uint64_t rt_steps(void);            /* decisions so far in this run */

/* Fault points (faults.c): a decision recorded as a step; see rt.c. open:
 * not fixed by a plan, so the strategy may take it (dfs, PCT). */
bool rt_fault(const char *name, uint32_t hit, uintptr_t pc, bool want, bool open);
bool rt_replaying(void);
/* A choice among n (choose.c): `want`, or the trace's in a replay; a step. */
uint32_t rt_choice(uint32_t n, uint32_t want, uintptr_t pc);
uint64_t rt_random_below(uint64_t n);
/* Set up by the fork server before the first run (weak: only programs with
 * fiu points link faults.c). spec: "count", "random:P", "NAME@N" or
 * "NAME@N+"; points: a glob of the points that are decisions. Returns 0,
 * or -1 with a reason in why. */
int rt_faults_setup(const char *spec, const char *points, char *why, size_t len);

#endif
