/*
 * Reads-from feedback for strategy guided (readsfrom.c): which write each
 * read at a memory point saw, as (writer instruction, reader instruction)
 * pairs a run hands back to the fork server.
 */
#ifndef MIGRACE_READSFROM_H
#define MIGRACE_READSFROM_H

#include <stdbool.h>
#include <stdint.h>

/* Maps the tables (the fork server, before the first fork); 0 or -1. */
int rf_init(void);
/* In the run, at its start: whether its accesses are watched. */
void rf_begin(bool on);
/* In the run, after a memory point's access at pc (an offset into the
 * executable) by thread tid. */
void rf_access(uintptr_t addr, uint64_t pc, int tid, bool write);
/* In the fork server, after a run: the pairs it saw, each once (a hash of
 * the writer's and the reader's instruction); returns how many. */
uint32_t rf_pairs(const uint64_t **pairs);

#endif
