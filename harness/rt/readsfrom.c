/*
 * Reads-from feedback for strategy guided: which write each read saw.
 *
 * While a guided run schedules with memory points on, every access at a point
 * instruction comes here after it ran (rt.c's memory hook). A write tags its
 * 8-byte word with the writer (thread, instruction); a read of a word that
 * another thread wrote last makes the pair (writer's instruction, reader's
 * instruction), and a read of a word nobody wrote in this run the pair (0,
 * reader's instruction): the value came from before the run's threads. Each
 * pair goes once into memory shared with the fork server, whose guided.c
 * hashes it into the seen map: a schedule that made a read see a write it had
 * never seen is new (as in reads-from guided fuzzing). Instructions, not
 * thread numbers, name the pair, so a renumbering is nothing new.
 *
 * The word table and the run's own set of pairs are private to the run and
 * start from zero pages in each (the server never touches them); a run that
 * watches more words than the table holds stops tagging new ones, and one
 * with more pairs than the shared list holds stops adding: both lose
 * feedback, never correctness. Called by the thread holding the baton.
 */
#define _GNU_SOURCE
#include "readsfrom.h"

#include <stddef.h>
#include <sys/mman.h>

#include "rawmap.h"

#define RF_WORDS (1u << 18)          /* words watched per run (16 bytes each) */
#define RF_SEEN (1u << 15)           /* pairs of one run, for the dedup */
#define RF_OUT_MAX 16384             /* pairs handed to the server per run */

struct rf_word {
	uint64_t w;                  /* address >> 3 with the top bit set, 0 empty */
	uint64_t tag;                /* writer: instruction << 16 | thread */
};

struct rf_out {
	uint32_t n;
	uint64_t pair[RF_OUT_MAX];
};

static struct rf_word *words;   /* private to the run */
static uint64_t *seen;          /* private to the run: open addressing, 0 empty */
static struct rf_out *out;      /* shared with the server */
static uint32_t nwords, nseen;
static bool on;

int rf_init(void)
{
	if (out)
		return 0;
	void *w = raw_mmap(NULL, RF_WORDS * sizeof(*words), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *s = raw_mmap(NULL, RF_SEEN * sizeof(*seen), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *o = raw_mmap(NULL, sizeof(*out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
			   -1, 0);
	if (w == MAP_FAILED || s == MAP_FAILED || o == MAP_FAILED)
		return -1;
	words = w;
	seen = s;
	out = o;
	return 0;
}

void rf_begin(bool enable)
{
	on = enable && out;
	nwords = nseen = 0;
	if (out)
		out->n = 0;
}

static inline uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

static void emit(uint64_t writer_pc, uint64_t reader_pc)
{
	uint64_t h = mix64(mix64(writer_pc) ^ reader_pc) | 1;   /* never 0 */
	uint32_t mask = RF_SEEN - 1;
	uint32_t i = (uint32_t)h & mask;
	for (; seen[i]; i = (i + 1) & mask)
		if (seen[i] == h)
			return;
	if (nseen >= RF_SEEN / 4 * 3 || out->n == RF_OUT_MAX)
		return;
	seen[i] = h;
	nseen++;
	out->pair[out->n++] = h;
}

void rf_access(uintptr_t addr, uint64_t pc, int tid, bool write)
{
	if (!on)
		return;
	uint64_t w = (uint64_t)(addr >> 3) | 1ull << 63;
	uint32_t mask = RF_WORDS - 1;
	uint32_t i = (uint32_t)mix64(w) & mask;
	for (; words[i].w && words[i].w != w; i = (i + 1) & mask)
		;
	struct rf_word *e = &words[i];
	uint64_t tag = pc << 16 | (uint16_t)tid;
	if (write) {
		if (!e->w) {
			if (nwords >= RF_WORDS / 4 * 3)
				return;
			nwords++;
			e->w = w;
		}
		e->tag = tag;
		return;
	}
	if (!e->w)
		emit(0, pc);
	else if ((uint16_t)e->tag != (uint16_t)tid)
		emit(e->tag >> 16, pc);
}

uint32_t rf_pairs(const uint64_t **pairs)
{
	if (!out) {
		*pairs = NULL;
		return 0;
	}
	*pairs = out->pair;
	return out->n;
}
