/*
 * migrace reproduce: takes what a failure left behind (a failure report, a CI
 * log, a trace file), finds in it what can be rerun and the signature it
 * claims, reruns it and confirms or refutes the claim.
 *
 * A log is read line by line, each line cleaned of what CI systems add
 * (ANSI colours, carriage returns, XML escapes of JUnit files; prefixes such
 * as timestamps or TAP's "# " need nothing, the patterns are searched
 * anywhere in a line). Nothing in the file is ever executed as a command:
 * from a replay line only the trace path is taken, from a seed line the
 * strategy, seed, program and its arguments, and the replay or exec is built
 * here, against a program that must exist and carry migrace's fork server.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "opts.h"
#include "pool.h"
#include "rerun.h"
#include "strategy.h"
#include "trace.h"

#define MAX_WORDS 300

static const char reproduce_help[] =
	"usage: migrace reproduce FILE [--runs N] [--max N] [--out DIR]\n"
	"\n"
	"Reruns the failure that FILE describes and says whether it is real. FILE is a\n"
	"trace, or a failure report or CI log (what migrace exec, run, run --tap,\n"
	"run --junit, hunt, faults and minimize print, or hunt's hunt.txt; ANSI\n"
	"colours, CRLF line ends, XML escapes and prefixes such as timestamps are\n"
	"ignored); '-' reads stdin.\n"
	"\n"
	"What it reruns, for each failure the file names:\n"
	"  - a trace: FILE itself when it starts with `migrace-trace`, or the path of a\n"
	"    `migrace: trace: PATH` or `trace: PATH.trace` line, or of a replay command\n"
	"    (`repro: .../migrace replay PATH`); replayed with `migrace replay`. A\n"
	"    relative path is tried as given, then relative to FILE's directory.\n"
	"  - a seed line: `.../migrace exec --strategy S --seed N --runs 1 -- PROGRAM\n"
	"    ARGS` (with --preempt, --timeout, --max-steps, --script, --schedule and\n"
	"    MIGRACE_FAULTS=, MIGRACE_FAULT_POINTS=, MIGRACE_PREEMPT= before it), rerun\n"
	"    as that one schedule. PROGRAM must exist and be built with migrace-cc.\n"
	"  - a row of hunt.txt: its trace, or (none saved) its seed, with the program\n"
	"    and strategy of the file's `# program` and `# strategy` lines.\n"
	"The claimed signature is the last one the file states between the failure\n"
	"before and this one (`first failure: run N (seed S): SIG`, a run line\n"
	"`...steps): SIG`, a faults line `FAIL POINT@N (transient): SIG`, hunt's\n"
	"`repro SIG (index N):`, JUnit's `<failure message=\"SIG\"` or `signature:\n"
	"SIG`, a hunt.txt row's first column); without one, a trace's recorded\n"
	"outcome, and for a seed line the claim of the failure before it (the same\n"
	"failure named twice). Nothing in FILE is run as a command: the replay or\n"
	"exec is rebuilt from the parsed parts.\n"
	"\n"
	"  --runs N    reruns of each failure (default 10)\n"
	"  --max N     failures to take from the file, in order (default 20)\n"
	"  --out DIR   where the reruns of seed lines leave their trace (default\n"
	"              $MIGRACE_OUT, else migrace-out)\n"
	"\n"
	"Prints for each failure `confirmed: SIG reproduced N/N`, or `refuted: ...` with\n"
	"what the reruns gave instead.\n"
	"exit: 0 every failure confirmed; 1 some refuted; 2 nothing rerunnable in FILE\n"
	"(the message says what was looked for), a named trace or program that does\n"
	"not exist or cannot be run, or bad arguments.\n";

enum { R_RUNS = 1000, R_MAX, R_OUT, R_HELP };

static const struct option reproduce_opts[] = {
	{ "runs", required_argument, NULL, R_RUNS },
	{ "max", required_argument, NULL, R_MAX },
	{ "out", required_argument, NULL, R_OUT },
	{ "help", no_argument, NULL, R_HELP },
	{ 0 },
};

/* One failure to rerun. */
struct item {
	bool is_seed;
	unsigned line;                       /* where FILE names it (0: FILE is the trace) */
	char given[PATH_MAX];                /* the path or program as FILE writes it */
	char path[PATH_MAX];                 /* trace (resolved), or "" when missing */
	char claim[160];                     /* claimed signature, "" none */
	/* a seed line */
	char strategy[32], preempt[16], faults[300], fault_points[256];
	uint64_t seed, max_steps, pct_k;
	bool spurious;
	double timeout;
	char *script, *schedule;
	char prog[PATH_MAX];
	char **args;                         /* prog + arguments, NULL-terminated */
};

struct scan {
	const char *file, *dir;              /* FILE and the directory relative paths try */
	struct item *items;
	int nitems, cap;
	char pending[160];                   /* the last claim not yet given to a failure */
	char last[160];                      /* the last claim given to one */
	unsigned skipped_exec;               /* exec lines that are no single run */
	char hunt_prog[PATH_MAX], hunt_strategy[32], hunt_preempt[16];   /* hunt.txt's headers */
};

/* ---- cleaning a line of a log --------------------------------------------- */

/* Drops ANSI escape sequences (CSI "ESC [ ... final", OSC "ESC ] ... BEL or
 * ESC \", two-byte escapes) and control characters; of a line that a
 * carriage return overwrote, keeps what a terminal would show last. */
static void strip_ansi(char *s)
{
	char *o = s, *seg = s;
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	for (char *p = s; *p;) {
		unsigned char c = (unsigned char)*p;
		if (c == 0x1b) {
			p++;
			if (*p == '[') {
				p++;
				while (*p && !((unsigned char)*p >= 0x40 && (unsigned char)*p <= 0x7e))
					p++;
				if (*p)
					p++;
			} else if (*p == ']') {
				while (*p && *p != '\a' && !(p[0] == 0x1b && p[1] == '\\'))
					p++;
				p += *p == '\a' ? 1 : *p ? 2 : 0;
			} else if (*p)
				p++;
			continue;
		}
		if (c == '\r') {            /* overwritten: start again, unless nothing follows */
			p++;
			if (*p)
				o = seg;
			continue;
		}
		if (c < 0x20 && c != '\t') {
			p++;
			continue;
		}
		*o++ = *p++;
	}
	*o = '\0';
}

/* &amp; &lt; &gt; &quot; &apos; &#N; &#xN; (JUnit XML), in place. */
static void xml_unescape(char *s)
{
	static const struct { const char *e; char c; } ents[] = {
		{ "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
	};
	char *o = s;
	for (char *p = s; *p;) {
		bool done = false;
		if (*p == '&') {
			for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]) && !done; i++)
				if (strncmp(p, ents[i].e, strlen(ents[i].e)) == 0) {
					*o++ = ents[i].c;
					p += strlen(ents[i].e);
					done = true;
				}
			if (!done && p[1] == '#') {
				char *e;
				long v = p[2] == 'x' ? strtol(p + 3, &e, 16) : strtol(p + 2, &e, 10);
				if (*e == ';' && v > 0 && v < 128) {
					*o++ = (char)v;
					p = e + 1;
					done = true;
				}
			}
		}
		if (!done)
			*o++ = *p++;
	}
	*o = '\0';
}

static void trim(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	size_t b = strspn(s, " \t");
	memmove(s, s + b, n - b + 1);
}

/* ---- words of a command line ------------------------------------------------ */

/* Splits s into shell words ('...', "...", backslash escapes); the words are
 * allocated. Returns their number (at most max). */
static int split_words(const char *s, char **w, int max)
{
	int n = 0;
	size_t len = strlen(s);
	while (*s && n < max) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		char *o = malloc(len + 1), *q = o;
		if (!o)
			break;
		while (*s && *s != ' ' && *s != '\t') {
			if (*s == '\'') {
				for (s++; *s && *s != '\''; )
					*q++ = *s++;
				if (*s)
					s++;
			} else if (*s == '"') {
				for (s++; *s && *s != '"'; s++) {
					if (*s == '\\' && s[1] && strchr("\"\\$`", s[1]))
						s++;
					*q++ = *s;
				}
				if (*s)
					s++;
			} else if (*s == '\\' && s[1]) {
				*q++ = s[1];
				s += 2;
			} else
				*q++ = *s++;
		}
		*q = '\0';
		w[n++] = o;
	}
	return n;
}

static void free_words(char **w, int n)
{
	for (int i = 0; i < n; i++)
		free(w[i]);
}

static bool is_migrace(const char *word)
{
	const char *b = strrchr(word, '/');
	return strcmp(b ? b + 1 : word, "migrace") == 0;
}

/* ---- finding the failures --------------------------------------------------- */

/* A path from FILE: as given, else relative to FILE's directory. */
static bool resolve_path(const struct scan *sc, const char *given, char *out, size_t len)
{
	if (access(given, F_OK) == 0) {
		snprintf(out, len, "%s", given);
		return true;
	}
	if (given[0] != '/' && sc->dir) {
		snprintf(out, len, "%s/%s", sc->dir, given);
		if (access(out, F_OK) == 0)
			return true;
	}
	out[0] = '\0';
	return false;
}

static struct item *new_item(struct scan *sc, unsigned line)
{
	if (sc->nitems == sc->cap) {
		sc->cap = sc->cap ? sc->cap * 2 : 8;
		sc->items = realloc(sc->items, (size_t)sc->cap * sizeof(*sc->items));
		if (!sc->items) {
			fprintf(stderr, "migrace reproduce: out of memory\n");
			exit(2);
		}
	}
	struct item *it = &sc->items[sc->nitems++];
	memset(it, 0, sizeof(*it));
	it->line = line;
	snprintf(it->claim, sizeof(it->claim), "%s", sc->pending);
	if (sc->pending[0])
		snprintf(sc->last, sizeof(sc->last), "%s", sc->pending);
	sc->pending[0] = '\0';
	return it;
}

static void add_trace(struct scan *sc, unsigned line, const char *given)
{
	char path[PATH_MAX];
	bool found = resolve_path(sc, given, path, sizeof(path));
	for (int i = 0; i < sc->nitems; i++) {
		struct item *it = &sc->items[i];
		if (it->is_seed || !(strcmp(it->given, given) == 0 || (found && strcmp(it->path, path) == 0)))
			continue;
		if (!it->claim[0] && sc->pending[0]) {   /* the same failure, named again */
			snprintf(it->claim, sizeof(it->claim), "%s", sc->pending);
			sc->pending[0] = '\0';
		}
		return;
	}
	struct item *it = new_item(sc, line);
	snprintf(it->given, sizeof(it->given), "%s", given);
	snprintf(it->path, sizeof(it->path), "%s", path);
}

/* The path after "trace: ": up to a " (" remark (faults prints "(replays)"). */
static void trace_word(const char *p, char *out, size_t len)
{
	snprintf(out, len, "%s", p);
	char *r = strstr(out, " (");
	if (r)
		*r = '\0';
	trim(out);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* A claimed signature in the line, if it states one. */
static void find_claim(struct scan *sc, const char *line)
{
	const char *p, *sig = NULL;
	char buf[160];
	size_t n = 0;

	if ((p = strstr(line, "<failure message=\""))) {
		sig = p + strlen("<failure message=\"");
		const char *e = strstr(sig, "\">");
		n = e ? (size_t)(e - sig) : strlen(sig);
		if (n == strlen("expectation not met") && strncmp(sig, "expectation not met", n) == 0)
			return;
	} else if ((p = strstr(line, "first failure: run ")) && (p = strstr(p, "): "))) {
		sig = p + 3;                                  /* exec's summary */
	} else if ((p = strstr(line, "first failure: "))) {
		sig = p + strlen("first failure: ");         /* run's FAIL and TAP lines */
	} else if ((p = strstr(line, "(strategy ")) && (p = strstr(p, " steps): "))) {
		sig = p + strlen(" steps): ");               /* the run line */
	} else if ((p = strstr(line, "runs failed; first: "))) {
		sig = p + strlen("runs failed; first: ");    /* a program run by hand */
	} else if ((p = strstr(line, "signature: ")) && (p == line || strchr(" \t#", p[-1]))) {
		sig = p + 11;                                /* JUnit's failure text */
	} else if ((p = strstr(line, "FAIL ")) && ((p = strstr(p, " (transient): ")) ||
						 (p = strstr(line, " (persistent): ")))) {
		sig = strstr(p, "): ") + 3;                  /* faults */
	} else if (strncmp(line, "repro ", 6) == 0 && (p = strstr(line, " (index ")) && ends_with(line, "):")) {
		sig = line + 6;                              /* hunt: "repro SIG (index N):" */
		n = (size_t)(p - sig);
	}
	if (!sig)
		return;
	if (!n)
		n = strlen(sig);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, sig, n);
	buf[n] = '\0';
	/* the end of an XML attribute (JUnit's testcase name="...first failure: SIG">) */
	if (ends_with(buf, "\"/>"))
		buf[strlen(buf) - 3] = '\0';
	else if (ends_with(buf, "\">"))
		buf[strlen(buf) - 2] = '\0';
	trim(buf);
	if (buf[0] && strcmp(buf, "clean") != 0)
		snprintf(sc->pending, sizeof(sc->pending), "%s", buf);
}

/* The value of an option word: "--opt V" or "--opt=V". */
static const char *opt_value(char **w, int n, int *i, const char *name)
{
	size_t l = strlen(name);
	if (strncmp(w[*i], name, l))
		return NULL;
	if (w[*i][l] == '=')
		return w[*i] + l + 1;
	if (w[*i][l] || *i + 1 >= n)
		return NULL;
	return w[++*i];
}

/* `migrace exec ... -- PROGRAM ARGS` at word m (the migrace word): a seed
 * line when it names one run of one seed. */
static void add_exec(struct scan *sc, unsigned line, char **w, int n, int m)
{
	struct item it = { .is_seed = true, .line = line, .timeout = 10 };
	bool have_seed = false;
	uint64_t runs = 1;
	const char *v, *why = NULL;
	int i;

	snprintf(it.strategy, sizeof(it.strategy), "random");
	/* environment assignments right before the command */
	for (int j = m - 1; j >= 0 && strchr(w[j], '=') && w[j][0] != '-'; j--) {
		if (strncmp(w[j], "MIGRACE_FAULTS=", 15) == 0)
			snprintf(it.faults, sizeof(it.faults), "%s", w[j] + 15);
		else if (strncmp(w[j], "MIGRACE_FAULT_POINTS=", 21) == 0)
			snprintf(it.fault_points, sizeof(it.fault_points), "%s", w[j] + 21);
		else if (strncmp(w[j], "MIGRACE_PREEMPT=", 16) == 0)
			snprintf(it.preempt, sizeof(it.preempt), "%s", w[j] + 16);
	}
	for (i = m + 2; i < n && strcmp(w[i], "--"); i++) {
		char *e;
		if ((v = opt_value(w, n, &i, "--strategy"))) {
			struct strat_spec spec;
			const char *bad;
			if (strat_parse(v, &spec, &bad))
				why = "its --strategy is not one migrace knows";
			snprintf(it.strategy, sizeof(it.strategy), "%s", v);
		} else if ((v = opt_value(w, n, &i, "--seed"))) {
			it.seed = strtoull(v, &e, 10);
			have_seed = *v && !*e && *v != '-';
		} else if ((v = opt_value(w, n, &i, "--runs"))) {
			runs = strtoull(v, &e, 10);
			if (*e || !*v)
				runs = 0;
		} else if ((v = opt_value(w, n, &i, "--preempt"))) {
			snprintf(it.preempt, sizeof(it.preempt), "%s", v);
		} else if ((v = opt_value(w, n, &i, "--timeout"))) {
			it.timeout = strtod(v, &e);
			if (*e || !(it.timeout > 0))
				why = "its --timeout is not a number of seconds";
		} else if ((v = opt_value(w, n, &i, "--max-steps"))) {
			it.max_steps = strtoull(v, &e, 10);
			if (*e || !it.max_steps)
				why = "its --max-steps is not a number";
		} else if ((v = opt_value(w, n, &i, "--pct-k"))) {
			it.pct_k = strtoull(v, &e, 10);
			if (*e || !it.pct_k)
				why = "its --pct-k is not a number";
		} else if (strcmp(w[i], "--spurious") == 0) {
			it.spurious = true;
		} else if ((v = opt_value(w, n, &i, "--script"))) {
			free(it.script);
			it.script = strdup(v);
		} else if ((v = opt_value(w, n, &i, "--schedule"))) {
			free(it.schedule);
			it.schedule = strdup(v);
		} else if ((v = opt_value(w, n, &i, "--jobs")) || (v = opt_value(w, n, &i, "--out")) ||
			   (v = opt_value(w, n, &i, "--pin")) ||
			   strcmp(w[i], "--trace-all") == 0 || strcmp(w[i], "--keep-going") == 0) {
			;                                     /* no bearing on what one run does */
		} else if (!why) {
			why = "it has an option reproduce does not take over";
		}
	}
	if (it.preempt[0] && strcmp(it.preempt, "sync") && strcmp(it.preempt, "mem") && strcmp(it.preempt, "mem-all"))
		why = "its --preempt is neither sync, mem nor mem-all";
	if (!have_seed || runs != 1)
		why = "it is not one run of one seed (--seed N --runs 1)";
	else if (i + 1 >= n)
		why = "it names no program after --";
	if (why) {
		fprintf(stderr, "migrace reproduce: %s:%u: an exec line, skipped: %s\n", sc->file, line, why);
		sc->skipped_exec++;
		free(it.script);
		free(it.schedule);
		return;
	}
	snprintf(it.given, sizeof(it.given), "%s", w[i + 1]);
	for (int j = 0; j < sc->nitems; j++) {      /* the same run, named again */
		struct item *o = &sc->items[j];
		if (o->is_seed && o->seed == it.seed && strcmp(o->given, it.given) == 0 &&
		    strcmp(o->strategy, it.strategy) == 0) {
			free(it.script);
			free(it.schedule);
			return;
		}
	}
	if (resolve_path(sc, it.given, it.prog, sizeof(it.prog)) && !strchr(it.prog, '/')) {
		char rel[PATH_MAX];                      /* never a search of $PATH */
		snprintf(rel, sizeof(rel), "./%s", it.prog);
		snprintf(it.prog, sizeof(it.prog), "%s", rel);
	}
	it.args = calloc((size_t)(n - i), sizeof(char *));      /* [0]: the program, set when run */
	for (int j = i + 2; j < n; j++)
		it.args[j - i - 1] = strdup(w[j]);
	/* a seed line has no outcome of its own to fall back on: with no claim
	 * since the last failure, it is that failure named another way */
	struct item *slot = new_item(sc, line);
	snprintf(it.claim, sizeof(it.claim), "%s", slot->claim[0] ? slot->claim : sc->last);
	*slot = it;
}

/*
 * hunt's summary file (DIR/hunt.txt): "# program CMD", "# strategy S" and
 * "# preempt P" headers, then SIG<TAB>COUNT<TAB>FIRST<TAB>SEED<TAB>TRACE per
 * signature. A row names its trace, or, when hunt saved none ("-"), its
 * seed: the exec line is rebuilt from the headers. True if the line was one
 * of these.
 */
static bool hunt_line(struct scan *sc, unsigned ln, char *line)
{
	char *f[5], *save = NULL, *e;
	int n = 0;

	if (strncmp(line, "# program ", 10) == 0) {
		snprintf(sc->hunt_prog, sizeof(sc->hunt_prog), "%s", line + 10);
		return true;
	}
	if (strncmp(line, "# strategy ", 11) == 0 || strncmp(line, "# preempt ", 10) == 0) {
		if (line[2] == 's')
			snprintf(sc->hunt_strategy, sizeof(sc->hunt_strategy), "%s", line + 11);
		else
			snprintf(sc->hunt_preempt, sizeof(sc->hunt_preempt), "%s", line + 10);
		return true;
	}
	if (!strchr(line, '\t'))
		return false;
	char copy[PATH_MAX + 400];
	snprintf(copy, sizeof(copy), "%s", line);
	for (char *tok = strtok_r(copy, "\t", &save); tok && n < 5; tok = strtok_r(NULL, "\t", &save))
		f[n++] = tok;
	if (n != 5 || strtok_r(NULL, "\t", &save) || !f[0][0])
		return false;
	for (int i = 1; i < 4; i++) {
		strtoull(f[i], &e, 10);
		if (*e || !isdigit((unsigned char)f[i][0]))
			return false;
	}
	snprintf(sc->pending, sizeof(sc->pending), "%s", f[0]);
	if (strcmp(f[4], "-")) {
		add_trace(sc, ln, f[4]);
		return true;
	}
	if (!sc->hunt_prog[0] || strcmp(sc->hunt_strategy, "guided") == 0) {
		fprintf(stderr, "migrace reproduce: %s:%u: a hunt row without trace, and %s: skipped\n", sc->file, ln,
			sc->hunt_prog[0] ? "a guided hunt's seed does not give its schedule" : "no \"# program\" line");
		sc->pending[0] = '\0';
		return true;
	}
	/* the exec line hunt prints for this seed, from the file's own parts */
	char cmd[PATH_MAX + 800];
	snprintf(cmd, sizeof(cmd), "migrace exec --strategy %s --seed %s --runs 1 --preempt %s -- %s",
		 sc->hunt_strategy[0] ? sc->hunt_strategy : "pct:3", f[3], sc->hunt_preempt[0] ? sc->hunt_preempt : "sync",
		 sc->hunt_prog);
	char *w[MAX_WORDS];
	int nw = split_words(cmd, w, MAX_WORDS);
	add_exec(sc, ln, w, nw, 0);
	free_words(w, nw);
	return true;
}

static void scan_line(struct scan *sc, unsigned ln, char *line)
{
	const char *p;
	char path[PATH_MAX];

	strip_ansi(line);
	if (hunt_line(sc, ln, line))
		return;
	xml_unescape(line);
	find_claim(sc, line);
	/* what is left of JUnit's markup after a path: "</failure>" */
	char *tag = strstr(line, "</");
	if (tag)
		*tag = '\0';

	if ((p = strstr(line, "migrace: trace: "))) {
		trace_word(p + strlen("migrace: trace: "), path, sizeof(path));
		if (path[0])
			add_trace(sc, ln, path);
		return;
	}
	if ((p = strstr(line, "trace: ")) && (p == line || strchr(" \t#:>", p[-1]))) {
		trace_word(p + strlen("trace: "), path, sizeof(path));
		if (ends_with(path, ".trace")) {
			add_trace(sc, ln, path);
			return;
		}
	}
	if (!strstr(line, "migrace"))
		return;
	/* exec's seed line right after the trace it printed: the same failure */
	struct item *last = sc->nitems ? &sc->items[sc->nitems - 1] : NULL;
	if (strstr(line, "repro (seed): ") && last && !last->is_seed && ln - last->line <= 2)
		return;
	char *w[MAX_WORDS];
	int n = split_words(line, w, MAX_WORDS);
	for (int i = 0; i + 1 < n; i++) {
		if (!is_migrace(w[i]))
			continue;
		if (strcmp(w[i + 1], "replay") == 0 && i + 2 < n) {
			add_trace(sc, ln, w[i + 2]);
			break;
		}
		if (strcmp(w[i + 1], "exec") == 0) {
			add_exec(sc, ln, w, n, i);
			break;
		}
	}
	free_words(w, n);
}

/* ---- rerunning ----------------------------------------------------------------- */


/* The verdict on one failure: 0 confirmed, 1 refuted. */
static int verdict(const char *claim, const struct outcome *t, uint64_t runs, const char *detail)
{
	uint64_t same = 0;
	for (int i = 0; i < t->nsigs; i++)
		if (strcmp(t->sigs[i].sig, claim) == 0)
			same = t->sigs[i].count;
	if (same == runs) {
		printf("confirmed: %s reproduced %" PRIu64 "/%" PRIu64 "\n", claim, same, runs);
		return 0;
	}
	printf("refuted: %s reproduced %" PRIu64 "/%" PRIu64 "; the reruns gave", claim, same, runs);
	for (int i = 0; i < t->nsigs; i++)
		if (strcmp(t->sigs[i].sig, claim))
			printf(" %s x%" PRIu64, t->sigs[i].sig, t->sigs[i].count);
	if (t->other_sigs)
		printf(" and %" PRIu64 " others", t->other_sigs);
	putchar('\n');
	if (detail && detail[0])
		printf("  (%s)\n", detail);
	return 1;
}

/* Reruns a trace: 0 confirmed, 1 refuted, 2 input error. */
static int rerun_trace(const struct item *it, uint64_t runs)
{
	struct trace t;
	char err[600], sig[400], detail[600] = "", d[600];
	if (read_trace_file(it->path, &t, err, sizeof(err))) {
		printf("error: trace %s cannot be read: %s\n", it->path, err);
		return 2;
	}
	bool runnable = has_fork_server(t.program);
	char outcome[160];
	snprintf(outcome, sizeof(outcome), "%s", t.outcome);
	char prog[PATH_MAX];
	snprintf(prog, sizeof(prog), "%s", t.program);
	trace_free(&t);
	if (!runnable) {
		printf("error: trace %s: its program %s %s\n", it->path, prog,
		       access(prog, F_OK) ? "does not exist" : "is not a program built with migrace-cc");
		return 2;
	}
	const char *claim = it->claim[0] ? it->claim : outcome;
	if (it->claim[0] && strcmp(it->claim, outcome))
		printf("note: the report claims %s; the trace recorded %s\n", it->claim, outcome);
	struct outcome tl = { .nsigs = 0 };   /* only its signature histogram */
	for (uint64_t r = 0; r < runs; r++) {
		int rc = replay_run(it->path, sig, sizeof(sig), d, sizeof(d));
		if (rc == 2) {
			printf("error: the replay of %s cannot run: %s\n", it->path, sig);
			return 2;
		}
		if (!detail[0] && strcmp(sig, claim))
			snprintf(detail, sizeof(detail), "%s", d);
		count_signature(&tl, sig);
	}
	return verdict(claim, &tl, runs, detail);
}

static void set_or_unset(const char *name, const char *v)
{
	if (v && *v)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

/* Reruns one seed of a program: 0 confirmed, 1 refuted, 2 input error. */
static int rerun_seed(struct item *it, uint64_t runs, const char *outdir)
{
	if (!it->prog[0] || access(it->prog, X_OK)) {
		printf("error: the program %s (line %u) %s\n", it->given, it->line,
		       it->prog[0] ? "cannot be run" : "does not exist");
		return 2;
	}
	if (!has_fork_server(it->prog)) {
		printf("error: %s is not a program built with migrace-cc: not run\n", it->prog);
		return 2;
	}
	if (it->script && access(it->script, R_OK)) {
		printf("error: the script %s of line %u cannot be read\n", it->script, it->line);
		return 2;
	}
	struct exec_opts o;
	exec_defaults(&o);
	o.strategy = it->strategy;
	o.seed = it->seed;
	o.runs = 1;
	o.jobs = 1;
	o.timeout = it->timeout;
	o.max_steps = it->max_steps;              /* 0: the program's default */
	o.pct_k = it->pct_k;                      /* 0: estimated, as the line's run did */
	o.spurious = it->spurious;
	o.preempt = it->preempt[0] ? it->preempt : NULL;
	o.script = it->script;
	o.schedule = it->schedule;
	o.quiet = true;
	if (outdir)
		o.out = outdir;
	it->args[0] = it->prog;
	/* the line says everything about the run: nothing from this environment */
	unsetenv("MIGRACE_SCHEDULE");
	unsetenv("MIGRACE_SCRIPT");
	unsetenv("MIGRACE_SWITCHES");
	unsetenv("MIGRACE_PREEMPT");
	set_or_unset("MIGRACE_FAULTS", it->faults);
	set_or_unset("MIGRACE_FAULT_POINTS", it->fault_points);

	struct outcome tl = { .nsigs = 0 };   /* only its signature histogram */
	char trace[PATH_MAX] = "";
	int rc = 0;
	for (uint64_t r = 0; r < runs && !rc; r++) {
		struct outcome out;
		if (pool_run(&o, it->args, &out) || out.config_error || (out.lost_worker && !out.runs)) {
			printf("error: %s could not run its schedule (bad settings on line %u?)\n", it->prog, it->line);
			rc = 2;
			break;
		}
		count_signature(&tl, out.have_first ? out.first_sig : "clean");
		if (out.have_first && !trace[0])
			snprintf(trace, sizeof(trace), "%s", out.first_trace);
	}
	unsetenv("MIGRACE_FAULTS");
	unsetenv("MIGRACE_FAULT_POINTS");
	if (rc)
		return rc;
	const char *claim = it->claim;
	char any[160];
	if (!claim[0]) {         /* no claim: the run must fail, the same way each time */
		snprintf(any, sizeof(any), "%s", tl.nsigs == 1 && strcmp(tl.sigs[0].sig, "clean") ? tl.sigs[0].sig : "a failure");
		printf("note: the report states no signature; any one failure, every time, confirms it\n");
		claim = any;
	}
	rc = verdict(claim, &tl, runs, NULL);
	if (trace[0])
		printf("trace: %s\nrepro: %s replay %s\n", trace, self, trace);
	return rc;
}

/* ---- the command ---------------------------------------------------------------- */

static void looked_for(const char *file, const struct scan *sc)
{
	fprintf(stderr,
		"migrace reproduce: %s: nothing to rerun. Looked for: a trace (a file starting with\n"
		"`migrace-trace`), a `migrace: trace: PATH` or `trace: PATH.trace` line, a replay command\n"
		"(`.../migrace replay PATH`), and a seed line (`.../migrace exec --strategy S --seed N\n"
		"--runs 1 -- PROGRAM ARGS`)%s.\n",
		file, sc->skipped_exec ? "; the exec lines it has are no single run (see above)" : "");
}

static int reproduce_main(int argc, char **argv)
{
	uint64_t runs = 10, max = 20;
	const char *outdir = NULL;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", reproduce_opts, NULL)) != -1) {
		switch (c) {
		case R_RUNS: runs = parse_count("reproduce", "--runs", optarg, 1, 100000); break;
		case R_MAX: max = parse_count("reproduce", "--max", optarg, 1, 10000); break;
		case R_OUT: outdir = optarg; break;
		case 'h':
		case R_HELP: fputs(reproduce_help, stdout); return 0;
		default: die_usage("reproduce", "unknown or incomplete option");
		}
	}
	if (optind >= argc)
		die_usage("reproduce", "no file given: migrace reproduce FILE (a report, a CI log or a trace)");
	if (optind + 1 < argc)
		die_usage("reproduce", "one file at a time, not '%s' too", argv[optind + 1]);
	const char *file = argv[optind];
	FILE *f = strcmp(file, "-") == 0 ? stdin : fopen(file, "r");
	if (!f) {
		fprintf(stderr, "migrace reproduce: cannot read %s: %s\n", file, strerror(errno));
		return 2;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", file);
	char *slash = strrchr(dir, '/');
	if (slash)
		slash == dir ? (void)(dir[1] = '\0') : (void)(*slash = '\0');
	struct scan sc = { .file = file, .dir = f == stdin ? NULL : slash ? dir : "." };

	char *line = NULL;
	size_t cap = 0;
	unsigned ln = 0;
	bool is_trace = false;
	while (getline(&line, &cap, f) >= 0) {
		ln++;
		if (ln == 1) {
			const char *l = line;
			if (strncmp(l, "\xef\xbb\xbf", 3) == 0)
				l += 3;                          /* a byte order mark */
			if (strncmp(l, "migrace-trace", 13) == 0) {
				is_trace = true;
				break;
			}
		}
		scan_line(&sc, ln, line);
	}
	free(line);
	if (f != stdin)
		fclose(f);
	if (is_trace) {
		if (f == stdin)
			die_usage("reproduce", "a trace on stdin cannot be replayed: give its path");
		struct item *it = new_item(&sc, 0);
		snprintf(it->given, sizeof(it->given), "%s", file);
		snprintf(it->path, sizeof(it->path), "%s", file);
	}
	if (!sc.nitems) {
		looked_for(file, &sc);
		return 2;
	}

	int worst = 0, confirmed = 0, refuted = 0, errors = 0;
	int n = sc.nitems < (int)max ? sc.nitems : (int)max;
	for (int i = 0; i < n; i++) {
		struct item *it = &sc.items[i];
		char where[64] = "";
		if (it->line)
			snprintf(where, sizeof(where), " (line %u)", it->line);
		if (it->is_seed)
			printf("[%d/%d] seed %" PRIu64 " of %s, strategy %s%s\n", i + 1, n, it->seed, it->given,
			       it->strategy, where);
		else
			printf("[%d/%d] trace %s%s\n", i + 1, n, it->path[0] ? it->path : it->given, where);
		fflush(stdout);
		int rc;
		if (!it->is_seed && !it->path[0]) {
			printf("error: the trace %s does not exist (tried it as given%s%s)\n", it->given,
			       sc.dir && it->given[0] != '/' ? " and relative to " : "",
			       sc.dir && it->given[0] != '/' ? sc.dir : "");
			rc = 2;
		} else
			rc = it->is_seed ? rerun_seed(it, runs, outdir) : rerun_trace(it, runs);
		rc == 0 ? confirmed++ : rc == 1 ? refuted++ : errors++;
		if (rc > worst)
			worst = rc;
		fflush(stdout);
	}
	if (sc.nitems > n)
		printf("(%d more failures in %s not rerun: --max %" PRIu64 ")\n", sc.nitems - n, file, max);
	if (n > 1)
		printf("migrace reproduce: %d failures: %d confirmed, %d refuted, %d could not be rerun\n", n,
		       confirmed, refuted, errors);
	for (int i = 0; i < sc.nitems; i++) {
		free(sc.items[i].script);
		free(sc.items[i].schedule);
		for (char **a = sc.items[i].args ? sc.items[i].args + 1 : NULL; a && *a; a++)
			free(*a);
		free(sc.items[i].args);
	}
	free(sc.items);
	return worst;
}

const struct command cmd_reproduce = { "reproduce", reproduce_main, reproduce_help };
