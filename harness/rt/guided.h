/*
 * Strategy guided: a greybox search over schedules, run by the fork server.
 * Each run's steps give its feedback (what it did that no run before did);
 * a run that brought something new joins the corpus as its switch list, and
 * later runs mutate corpus entries (add, drop or move a switch, add random
 * switches after a step) or are fresh PCT runs. See docs/strategies.md.
 */
#ifndef MIGRACE_GUIDED_H
#define MIGRACE_GUIDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt.h"
#include "steplog.h"

/* Sets up the search: its corpus and feedback map under dir/guided (shared
 * by every worker of an exec or hunt with the same --out), worker `key`
 * (its first run index; `stride` between its indices), the search's PRNG
 * and its fresh runs' seeds from seed. With resume, the
 * corpus and map already there are loaded; else the caller (the CLI) has
 * cleared them. 0, or -1 with a reason in why. */
int guided_init(const char *dir, uint64_t key, uint64_t stride, uint64_t seed, bool resume, char *why, size_t len);
/* The plan of the next run into cfg (sw, nsw, guided_*) and its seed. */
void guided_plan(struct rt_config *cfg, uint64_t *seed);
/* The run that just ended: its steps and signature ("clean" or one).
 * Returns the number of new feedback bits it set. */
unsigned guided_feedback(const struct step_rec *log, uint32_t nsteps, const char *sig);
/* Corpus entries, and entries other workers added that this one loaded. */
uint32_t guided_corpus_size(void);
/* One line for the user: the corpus, and the feedback bits this worker set,
 * by kind. */
void guided_summary(char *buf, size_t len);

#endif
