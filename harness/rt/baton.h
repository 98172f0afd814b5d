/*
 * The baton: how one controlled thread hands the CPU to another. A raw futex
 * and atomics in a file built without sanitizer instrumentation, so that
 * ThreadSanitizer sees no happens-before edge from the harness (DESIGN.md,
 * decision 3).
 */
#ifndef MIGRACE_BATON_H
#define MIGRACE_BATON_H

#include <stdint.h>

struct baton {
	uint32_t word;   /* 1: the owner may run; accessed only through baton_* */
};

void baton_reset(struct baton *b);
void baton_give(struct baton *b);   /* lets the baton's thread run */
void baton_wait(struct baton *b);   /* sleeps until this baton is given */

#endif
