/*
 * libFuzzer target: `--schedule` text (schedule_parse, harness/rt/trace.c).
 * What parses must format back to a schedule that parses to the same choices.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "steplog.h"
#include "trace.h"

#define MAX_CHOICES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint16_t out[MAX_CHOICES], again[MAX_CHOICES];
	static struct step_rec steps[MAX_CHOICES];
	static char text[MAX_CHOICES * 8 + 64];
	char err[256];
	uint32_t n, m;

	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (schedule_parse(s, out, MAX_CHOICES, &n, err, sizeof(err)) == 0) {
		if (n > MAX_CHOICES)
			abort();
		for (uint32_t i = 0; i < n; i++)
			steps[i] = (struct step_rec){ .chosen = out[i] };
		if (schedule_format(steps, n, text, sizeof(text)) ||
		    schedule_parse(text, again, MAX_CHOICES, &m, err, sizeof(err)) || m != n ||
		    memcmp(out, again, n * sizeof(*out)))
			abort();
	} else if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "schedule: ", 10) != 0) {
		abort();
	}
	free(s);
	return 0;
}
