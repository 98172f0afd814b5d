/*
 * One record per scheduling decision, written by the run into memory shared
 * with the fork server, so a crash, a sanitizer abort or a kill loses nothing.
 */
#ifndef MIGRACE_STEPLOG_H
#define MIGRACE_STEPLOG_H

#include <stdbool.h>
#include <stdint.h>

struct step_rec {
	uint8_t chosen;        /* thread that runs next */
	uint8_t cur;           /* thread that reached the decision */
	uint8_t op;            /* enum op_kind of chosen's pending operation */
	char objk;             /* 'm' 'c' 's' 'r' 'o' object, 'T' thread, 'p' sync point,
	                          'f' fault point (op fault-pass/fail), 'k' a choice
	                          (op choose), '-' */
	int32_t obj;           /* object id, thread id, hit number of a fault point,
	                          a choice's bound and value (STEP_CHOICE);
	                          unused for '-' and 'p' */
	uint64_t enabled;      /* mask of enabled threads at the decision */
	uint64_t pc;           /* call site, as an offset into the executable */
	int64_t now;           /* virtual time (ns) at the decision */
	const char *name;      /* sync or fault point name (a string of the program) */
	uint32_t key;          /* which decision of `cur` this is: its key-th scheduling
	                          decision, or (key_mem) the one at its key-th non-stack
	                          memory access; 0 in traces that predate keys */
	bool key_mem;
};

/* A choice (migrace_choose) of `v` among 0..n-1, n at most STEP_CHOICE_MAX,
 * in one obj field; the trace writes it k:V/N. */
#define STEP_CHOICE_MAX 32767u
#define STEP_CHOICE(n, v) ((int32_t)((uint32_t)(n) << 16 | (uint32_t)(v)))
#define STEP_CHOICE_N(obj) ((uint32_t)(obj) >> 16)
#define STEP_CHOICE_V(obj) ((uint32_t)(obj) & 0xffffu)

#endif
