/*
 * libFuzzer target: script files (`--script FILE`, one "A -> B" a line;
 * script_parse_line, harness/rt/strategy.c), line by line into a model, as
 * the fork server loads them.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "strategy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct model m;
	static char names[2 * MODEL_MAX_CONSTRAINTS + 2][256];   /* the model keeps pointers */
	char *line = NULL, err[128];
	size_t cap = 0;
	int used = 0;

	FILE *f = size ? fmemopen((void *)data, size, "r") : NULL;
	if (!f)
		return 0;
	memset(&m, 0, sizeof(m));
	while (getline(&line, &cap, f) >= 0) {
		char *a = names[used], *b = names[used + 1];
		int rc = script_parse_line(line, a, b, sizeof(names[0]), err, sizeof(err));
		if (rc < 0 && !memchr(err, '\0', sizeof(err)))
			abort();
		if (rc <= 0)
			continue;
		if (!a[0] || !b[0] || strchr(a, ' ') || strchr(b, '#'))
			abort();
		if (model_add_constraint(&m, a, b) == 0)
			used += 2;
		model_sync_blocked(&m, b, NULL);
	}
	free(line);
	fclose(f);
	return 0;
}
