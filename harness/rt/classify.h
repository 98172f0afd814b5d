/*
 * Outcome signatures (DESIGN.md decision 7): turns how a run ended (its
 * output, wait status, the runtime's own verdict) into one short string.
 */
#ifndef MIGRACE_CLASSIFY_H
#define MIGRACE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>

struct run_end {
	const char *output;        /* captured stderr (and stdout), NUL-terminated */
	int wait_status;           /* from waitpid */
	bool timed_out;            /* killed by the fork server's timeout */
	const char *rt_outcome;    /* the runtime's verdict ("" or NULL if none) */
};

/* Writes the signature into sig; returns true when the run failed. */
bool classify(const struct run_end *end, char *sig, size_t len);
/* True when sig matches pattern: equal, or pattern ends in '*' and is a prefix. */
bool signature_matches(const char *sig, const char *pattern);

#endif
