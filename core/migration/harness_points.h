/*
 * The only harness-facing things in the core: named sync points and libfiu
 * fault points, both from their registries, both compiled to nothing unless
 * the build asks for them (MIGRACE_SYNC_POINTS, FIU_ENABLE). The registries
 * of core/mgmt follow those of core/migration: one enum, one names array.
 *
 *     CORE_SYNC_POINT(RP_EXIT_AFTER_CLEAR);       // a point listed in sync_points.def
 *     CORE_FAULT(CHANNEL_READ, -EIO);             // return -EIO when the point fires
 */
#ifndef CORE_HARNESS_POINTS_H
#define CORE_HARNESS_POINTS_H

#include <fiu-local.h>

enum core_sync_point {
#define SYNC_POINT_DEF(id, name) CORE_SP_##id,
#include "sync_points.def"
#include "../mgmt/sync_points.def"
#undef SYNC_POINT_DEF
	CORE_SP_COUNT
};

enum core_fault_point {
#define FAULT_POINT_DEF(id, name, what) CORE_FP_##id,
#include "fault_points.def"
#include "../mgmt/fault_points.def"
#undef FAULT_POINT_DEF
	CORE_FP_COUNT
};

extern const char *const core_sync_point_names[CORE_SP_COUNT];
extern const char *const core_fault_point_names[CORE_FP_COUNT];

#ifdef MIGRACE_SYNC_POINTS
void migrace_sync_point(const char *name);
#define CORE_SYNC_POINT(id) migrace_sync_point(core_sync_point_names[CORE_SP_##id])
#else
#define CORE_SYNC_POINT(id) do { (void)CORE_SP_##id; } while (0)
#endif

#define CORE_FAULT(id, retval) fiu_return_on(core_fault_point_names[CORE_FP_##id], retval)

#endif
