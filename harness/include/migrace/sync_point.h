/*
 * SYNC_POINT("role:function:moment"): a named scheduling point.
 *
 * In a harness build (-DMIGRACE_SYNC_POINTS, set by migrace-cc and the
 * Makefile's harness flavours) it is a point where the controlled scheduler
 * may switch threads, and which scripts order ("A -> B": no thread passes B
 * before some thread passed A). Elsewhere it compiles to nothing.
 *
 *     static void *rp_thread(void *arg)
 *     {
 *         ...
 *         s->from_dst_file = NULL;
 *         SYNC_POINT("rp:exit:after-clear");
 *         ...
 *     }
 *
 * The name must be a string literal: the trace refers to it by address.
 */
#ifndef MIGRACE_SYNC_POINT_H
#define MIGRACE_SYNC_POINT_H

#ifdef MIGRACE_SYNC_POINTS
void migrace_sync_point(const char *name);
#define SYNC_POINT(name) migrace_sync_point("" name "")
#else
#define SYNC_POINT(name) do { } while (0)
#endif

#endif
