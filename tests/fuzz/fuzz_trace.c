/*
 * libFuzzer target: trace files (harness/rt/trace.c), as `migrace replay`,
 * minimize and the fork server read them. A trace that parses must write back
 * and parse again to the same steps, and its strategy must be one or refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strategy.h"
#include "trace.h"

static void roundtrip(const struct trace *t)
{
	char *buf = NULL, err[256];
	size_t len = 0;
	FILE *w = open_memstream(&buf, &len);
	if (!w || trace_write(w, t, NULL))
		abort();
	fclose(w);
	FILE *r = fmemopen(buf, len, "r");
	struct trace u;
	if (!r)
		abort();
	if (trace_parse(r, &u, err, sizeof(err))) {
		fprintf(stderr, "a parsed trace, written back, does not parse: %s\n%s", err, buf);
		abort();
	}
	fclose(r);
	if (u.nsteps != t->nsteps || u.nargs != t->nargs || u.seed != t->seed)
		abort();
	for (uint32_t i = 0; i < t->nsteps; i++)
		if (u.steps[i].chosen != t->steps[i].chosen || u.steps[i].op != t->steps[i].op ||
		    u.steps[i].key != t->steps[i].key || u.steps[i].enabled != t->steps[i].enabled)
			abort();
	trace_free(&u);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct trace t;
	struct strat_spec spec;
	const char *why;

	if (size == 0)
		return 0;
	FILE *f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (trace_parse(f, &t, err, sizeof(err)) == 0) {
		strat_parse(t.strategy, &spec, &why);
		roundtrip(&t);
		trace_free(&t);
	} else if (!memchr(err, '\0', sizeof(err)) || strncmp(err, "line ", 5) != 0) {
		abort();                 /* every refusal says where */
	}
	fclose(f);
	return 0;
}
