/*
 * What a program under the harness may call (scenarios do; an unmodified
 * pthread program needs none of it).
 */
#ifndef MIGRACE_MIGRACE_H
#define MIGRACE_MIGRACE_H

#include "sync_point.h"

/* Under the script strategy, no thread passes sync point `after` before some
 * thread passed `before` (RocksDB's {predecessor, successor}). Call it from
 * main before starting threads; ignored under the other strategies. Returns
 * 0, or -ENOSPC when there are too many constraints. */
int migrace_order(const char *before, const char *after);

#endif
