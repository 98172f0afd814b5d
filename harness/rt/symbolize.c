/*
 * Turns code offsets of the executable into "file:line function", with
 * addr2line, once per report (never on the scheduling path).
 */
#define _GNU_SOURCE
#include "symbolize.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int symbolize(const char *exe, const uint64_t *offs, int n, char **out)
{
	return symbolize_paths(exe, offs, n, out, false);
}

int symbolize_paths(const char *exe, const uint64_t *offs, int n, char **out, bool full)
{
	char tmpl[] = "/tmp/migrace-sym-XXXXXX";
	int fd = mkstemp(tmpl);
	int rc = -1;

	for (int i = 0; i < n; i++)
		out[i] = NULL;
	if (fd < 0)
		return -1;
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		goto out;
	}
	/* return addresses point after the call: look up the call itself */
	for (int i = 0; i < n; i++)
		fprintf(f, "0x%" PRIx64 "\n", offs[i] ? offs[i] - 1 : 0);
	fclose(f);

	char cmd[8400];
	snprintf(cmd, sizeof(cmd), "addr2line -f -e '%s' < '%s' 2>/dev/null", exe, tmpl);
	FILE *p = popen(cmd, "r");
	if (!p)
		goto out;
	char fn[512], loc[1024];
	for (int i = 0; i < n; i++) {
		if (!fgets(fn, sizeof(fn), p) || !fgets(loc, sizeof(loc), p))
			break;
		fn[strcspn(fn, "\n")] = '\0';
		loc[strcspn(loc, "\n")] = '\0';
		char *disc = strstr(loc, " (discriminator");
		if (disc)
			*disc = '\0';
		if (!offs[i] || strncmp(loc, "??", 2) == 0)
			continue;
		if (asprintf(&out[i], "%s %s", full ? loc : basename_of(loc), fn) < 0)
			out[i] = NULL;
	}
	rc = pclose(p) == 0 ? 0 : -1;
out:
	unlink(tmpl);
	return rc;
}
