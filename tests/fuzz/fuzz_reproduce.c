/*
 * libFuzzer target: the logs `migrace reproduce` reads (reports, CI logs,
 * hunt.txt), line by line through its scanner. It includes reproduce.c for its
 * static scan_line; the rest of the command line is linked beside it. What
 * reproduce says of skipped lines goes to stderr: run with -close_fd_mask=2.
 */
#include "../../harness/cli/reproduce.c"

static void scan_free(struct scan *sc)
{
	for (int i = 0; i < sc->nitems; i++) {
		struct item *it = &sc->items[i];
		free(it->script);
		free(it->schedule);
		for (char **a = it->args ? it->args + 1 : NULL; a && *a; a++)
			free(*a);
		free(it->args);
	}
	free(sc->items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scan sc = { .file = "fuzz.log", .dir = "/nonexistent-migrace-fuzz" };
	char *line = NULL;
	size_t cap = 0;
	unsigned ln = 0;

	FILE *f = size ? fmemopen((void *)data, size, "r") : NULL;
	if (!f)
		return 0;
	while (getline(&line, &cap, f) >= 0)
		scan_line(&sc, ++ln, line);
	for (int i = 0; i < sc.nitems; i++)
		if (sc.items[i].is_seed && !sc.items[i].args)
			abort();
	free(line);
	fclose(f);
	scan_free(&sc);
	return 0;
}
