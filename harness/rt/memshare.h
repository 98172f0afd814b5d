/*
 * Targeted memory-access points (memshare.c): the instructions that touch
 * memory another thread touches, learned from learning runs (memshare.c, forkserver.c).
 */
#ifndef MIGRACE_MEMSHARE_H
#define MIGRACE_MEMSHARE_H

#include <stdbool.h>
#include <stdint.h>

#define MEMSHARE_CAP 32768       /* instructions in the set; beyond: every access is a point */
#define MEMSHARE_LOCKSET 2       /* locks a word's lockset keeps (more held: the first ones) */
#define MEMSHARE_THREADS 1024    /* threads whose creator the learning run knows (model ids) */

/* Maps the tables (the fork server, before the first fork); 0 or -1. */
int memshare_init(void);
/* In the learning run: a non-stack access of size bytes by thread tid at
 * pc (an offset into the executable), holding the locks held[0..nheld)
 * (their object ids, which a run never gives twice),
 * having joined the threads of joined63 (bit t: thread t < 63). */
void memshare_learn(uintptr_t addr, unsigned size, uint64_t pc, int tid, bool write, const uint32_t *held,
		    int nheld, uint64_t joined63);
/* In the learning run: thread parent created thread child (model ids). */
void memshare_thread_created(int parent, int child);
/* Whether pc is a point. */
bool memshare_has(uint64_t pc);
void memshare_add(uint64_t pc);
void memshare_clear(void);
uint32_t memshare_count(void);
bool memshare_overflow(void);
/* The set, sorted, into out (at most max); returns how many. */
uint32_t memshare_list(uint64_t *out, uint32_t max);

#endif
