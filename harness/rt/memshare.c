/*
 * Targeted memory-access points: which instructions touch memory that another
 * thread touches too. With --preempt mem, the fork server first runs the
 * program in learning mode, once on the default schedule (no decision at any
 * access) and twice under the random strategy deciding at every access
 * (forkserver.c, learn_mem_points): every non-stack access by a controlled
 * thread is noted by 4-byte word (so that a lock-protected int beside an
 * atomic one is a word of its own), with the threads that touched the word
 * and whether any access wrote it (an atomic read-modify-write writes). A
 * word touched by two threads, one of them writing, is contended. From the
 * first access by a second thread on, the word also keeps its lockset, as
 * Eraser does: the mutexes (and rwlocks held for writing) held at every
 * access since. An access by a thread that has joined every other thread
 * that touched the word (main reading the results after the joins), or
 * joined one that did, cannot meet another access under any schedule: it
 * neither shares the word nor refines its lockset, nor is it a point, even
 * on a contended word. Thread creation orders
 * too: a word only one thread touched, every time before it created (the
 * ancestor of) the thread touching it now, changes hands, as Eraser's
 * Exclusive state would if it knew the creation: what the creator wrote
 * before pthread_create (a work item, a table of settings) is not shared with
 * the threads it makes. The word starts afresh with its new owner (not
 * written, its earlier instructions forgotten), and an access by the creator
 * after the creation shares it as any other would. A contended word whose
 * lockset is empty is unprotected, and every instruction that accessed it,
 * before or after, is a point. A word every thread touches under one same
 * lock needs none: no other thread can touch it between two points of the
 * holder, and the lock's own scheduling points already order the critical
 * sections. The runs then make a decision only at those instructions.
 *
 * The set of points (offsets into the executable) lives in memory shared with
 * the fork server, so the learning runs add to it and every later run reads
 * it; the trace records it (`mem-pcs`), and a replay takes it from there.
 * Everything here is called by the thread holding the baton, one at a time.
 */
#define _GNU_SOURCE
#include "memshare.h"
#include "rawmap.h"

#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

/* The learning run's tables: private to the run (the server never touches
 * them, so each run starts from zero pages). */
#define WORDS_CAP (1u << 21)
#define NODES_CAP (1u << 21)

struct word {
	uint64_t w;              /* address >> 2 with bit 63 set, 0 empty */
	uint8_t flags;
	uint8_t nls;             /* W_MULTI: the lockset, ls[0..nls) */
	uint64_t tids;           /* bit t: thread t touched it (bit 63: some thread >= 63) */
	uint32_t head;           /* the instructions that touched it before it was marked */
	uint32_t epoch;          /* the toucher's creations before its last access (one toucher) */
	uint32_t ls[MEMSHARE_LOCKSET];     /* the locks' object ids (unique in a run) */
};
#define W_MULTI 1
#define W_WRITTEN 2
#define W_MARKED 4               /* contended: its instructions are in the set */

struct node {
	uint64_t pc;
	uint32_t next;           /* 0 ends the list; node 0 is unused */
};

struct pcset {
	uint32_t n;
	bool overflow;           /* more instructions than the set holds: every access is a point */
	uint64_t pc[MEMSHARE_CAP * 2];   /* open addressing, 0 empty */
};

/* Each thread's creator (+1: 0 for main), how many threads the creator had
 * made before it, and how many it made itself; learning runs only, so that
 * other runs never touch these pages. */
static struct {
	uint16_t parent1;
	uint32_t at, made;
} lineage[MEMSHARE_THREADS];

static struct pcset *set;        /* shared with the server */
static struct word *words;
static struct node *nodes;
static uint32_t nwords, nnodes;

int memshare_init(void)
{
	if (set)
		return 0;
	void *s = raw_mmap(NULL, sizeof(*set), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *w = raw_mmap(NULL, WORDS_CAP * sizeof(*words), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *n = raw_mmap(NULL, NODES_CAP * sizeof(*nodes), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (s == MAP_FAILED || w == MAP_FAILED || n == MAP_FAILED)
		return -1;
	set = s;
	words = w;
	nodes = n;
	return 0;
}

static inline uint32_t hash64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x;
}

bool memshare_has(uint64_t pc)
{
	if (set->overflow)
		return true;
	uint32_t mask = MEMSHARE_CAP * 2 - 1;
	for (uint32_t i = hash64(pc) & mask;; i = (i + 1) & mask) {
		if (set->pc[i] == pc)
			return true;
		if (!set->pc[i])
			return false;
	}
}

void memshare_add(uint64_t pc)
{
	if (!pc || set->overflow)
		return;
	uint32_t mask = MEMSHARE_CAP * 2 - 1;
	uint32_t i = hash64(pc) & mask;
	for (; set->pc[i]; i = (i + 1) & mask)
		if (set->pc[i] == pc)
			return;
	if (set->n == MEMSHARE_CAP) {
		set->overflow = true;
		return;
	}
	set->pc[i] = pc;
	set->n++;
}

void memshare_clear(void)
{
	memset(set, 0, sizeof(*set));
}

uint32_t memshare_count(void)
{
	return set->n;
}

bool memshare_overflow(void)
{
	return set->overflow;
}

uint32_t memshare_list(uint64_t *out, uint32_t max)
{
	uint32_t k = 0;
	for (uint32_t i = 0; i < MEMSHARE_CAP * 2 && k < max; i++)
		if (set->pc[i])
			out[k++] = set->pc[i];
	/* sorted, so that the trace's list reads the same however it was hashed */
	for (uint32_t i = 1; i < k; i++)
		for (uint32_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			uint64_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return k;
}

static void mark(struct word *e)
{
	e->flags |= W_MARKED;
	for (uint32_t n = e->head; n; n = nodes[n].next)
		memshare_add(nodes[n].pc);
	e->head = 0;
}

/* The lockset of e, intersected with the locks held now. */
static void refine(struct word *e, const uint32_t *held, int nheld)
{
	uint8_t k = 0;
	for (uint8_t i = 0; i < e->nls; i++)
		for (int j = 0; j < nheld; j++)
			if (e->ls[i] == held[j]) {
				e->ls[k++] = e->ls[i];
				break;
			}
	e->nls = k;
}

void memshare_thread_created(int parent, int child)
{
	if (parent < 0 || child <= 0 || child >= MEMSHARE_THREADS || parent >= MEMSHARE_THREADS)
		return;
	lineage[child].parent1 = (uint16_t)(parent + 1);
	lineage[child].at = lineage[parent].made++;
}

/* Whether every access of thread owner (the last when it had made epoch
 * threads) came before it made tid or one of tid's ancestors. */
static bool created_after(int owner, uint32_t epoch, int tid)
{
	for (int c = tid; c > 0 && c < MEMSHARE_THREADS && lineage[c].parent1; c = lineage[c].parent1 - 1)
		if (lineage[c].parent1 - 1 == owner)
			return epoch <= lineage[c].at;
	return false;
}

static void learn_word(uint64_t w, uint64_t pc, int tid, bool write, const uint32_t *held, int nheld,
		       uint64_t joined63)
{
	uint32_t mask = WORDS_CAP - 1;
	uint32_t i = hash64(w) & mask;
	for (; words[i].w && words[i].w != w; i = (i + 1) & mask)
		;
	struct word *e = &words[i];
	if (!e->w) {
		if (nwords >= WORDS_CAP / 4 * 3) {
			memshare_add(pc);            /* no room to watch it: a point, to be safe */
			return;
		}
		nwords++;
		*e = (struct word){ .w = w };
	}
	uint64_t me = tid < 63 ? 1ull << tid : 1ull << 63;
	/* one toucher, thread o < 63, all before it created tid (or an ancestor) */
	if (e->tids && !(e->tids & (e->tids - 1)) && e->tids != me && !(e->tids >> 63) && tid < 63 &&
	    !(e->flags & W_MARKED) && created_after(__builtin_ctzll(e->tids), e->epoch, tid)) {
		e->tids = 0;
		e->flags &= (uint8_t)~W_WRITTEN;
		e->head = 0;
	}
	e->epoch = tid < MEMSHARE_THREADS ? lineage[tid].made : UINT32_MAX;
	bool shared = e->tids & ~me & ~joined63;   /* another toucher it has not joined */
	e->tids |= me;
	if (shared && (e->flags & W_MULTI))
		refine(e, held, nheld);
	else if (shared) {                       /* shared from here: its lockset starts */
		e->flags |= W_MULTI;
		for (int j = 0; j < nheld && e->nls < MEMSHARE_LOCKSET; j++)
			e->ls[e->nls++] = held[j];
	}
	if (write)
		e->flags |= W_WRITTEN;
	if (e->flags & W_MARKED) {
		if (shared)          /* not after joining every other toucher */
			memshare_add(pc);
		return;
	}
	if ((e->flags & (W_MULTI | W_WRITTEN)) == (W_MULTI | W_WRITTEN) && !e->nls) {
		memshare_add(pc);
		mark(e);
		return;
	}
	/* not contended yet: remember the instruction (a short look for it first) */
	int look = 0;
	for (uint32_t n = e->head; n && look < 16; n = nodes[n].next, look++)
		if (nodes[n].pc == pc)
			return;
	if (nnodes + 1 >= NODES_CAP) {
		memshare_add(pc);
		return;
	}
	uint32_t n = ++nnodes;
	nodes[n] = (struct node){ .pc = pc, .next = e->head };
	e->head = n;
}

void memshare_learn(uintptr_t addr, unsigned size, uint64_t pc, int tid, bool write, const uint32_t *held,
		    int nheld, uint64_t joined63)
{
	uintptr_t last = addr + (size ? size - 1 : 0);
	for (uintptr_t g = addr >> 2; g <= last >> 2; g++)
		learn_word((uint64_t)g | 1ull << 63, pc, tid, write, held, nheld, joined63);   /* never 0 */
}
