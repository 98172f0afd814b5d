/*
 * libFuzzer target: outcome signatures (harness/rt/classify.c) of whatever a
 * program prints, sanitizer reports above all. The first byte picks how the
 * run ended; a signature is always a terminated string, "clean" only when the
 * run passed.
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int statuses[] = { 0, 1 << 8, 66 << 8, 23 << 8, SIGABRT, SIGSEGV };
	static const char *const verdicts[] = { "", "", "misuse:lock-destroyed", "deadlock" };
	char sig[160];

	if (size == 0)
		return 0;
	char *out = malloc(size);
	if (!out)
		return 0;
	memcpy(out, data + 1, size - 1);
	out[size - 1] = '\0';
	struct run_end end = {
		.output = out,
		.wait_status = statuses[data[0] % 6],
		.timed_out = data[0] == 0xff,
		.rt_outcome = verdicts[(data[0] >> 4) % 4],
	};
	memset(sig, 'x', sizeof(sig));
	bool failed = classify(&end, sig, sizeof(sig));
	if (!memchr(sig, '\0', sizeof(sig)) || failed != (strcmp(sig, "clean") != 0))
		abort();
	free(out);
	return 0;
}
