/*
 * libFuzzer target: `--switches` lists (switches_parse, harness/rt/strategy.c),
 * as `migrace exec --switches` and `minimize --switches` take them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strategy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct switch_ent *sw = NULL;
	uint32_t n = 0;
	char err[256];

	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (switches_parse(s, &sw, &n, err, sizeof(err)) == 0) {
		for (uint32_t i = 0; i < n; i++)
			if (sw[i].t >= MODEL_MAX_THREADS || sw[i].u >= MODEL_MAX_THREADS || sw[i].n == 0)
				abort();
		free(sw);
	} else if (sw || !memchr(err, '\0', sizeof(err)) || strncmp(err, "switches: ", 10) != 0) {
		abort();
	}
	free(s);
	return 0;
}
