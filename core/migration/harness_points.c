/* The names of the core's sync points and fault points, from their registries. */
#include "harness_points.h"

const char *const core_sync_point_names[CORE_SP_COUNT] = {
#define SYNC_POINT_DEF(id, name) [CORE_SP_##id] = name,
#include "sync_points.def"
#include "../mgmt/sync_points.def"
#undef SYNC_POINT_DEF
};

const char *const core_fault_point_names[CORE_FP_COUNT] = {
#define FAULT_POINT_DEF(id, name, what) [CORE_FP_##id] = name,
#include "fault_points.def"
#include "../mgmt/fault_points.def"
#undef FAULT_POINT_DEF
};
