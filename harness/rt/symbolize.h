/* Code offsets of the executable to readable locations, for reports and traces. */
#ifndef MIGRACE_SYMBOLIZE_H
#define MIGRACE_SYMBOLIZE_H

#include <stdbool.h>
#include <stdint.h>

/* Fills out[i] with a malloc'd "file.c:12 function" for offs[i], or NULL when
 * unknown. Returns 0, or -1 when addr2line could not be run. */
int symbolize(const char *exe, const uint64_t *offs, int n, char **out);
/* The same, with the source file's whole path when full. */
int symbolize_paths(const char *exe, const uint64_t *offs, int n, char **out, bool full);

#endif
