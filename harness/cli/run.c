/*
 * migrace run: the scenario gate. Each race on the real core (clean, scripted
 * and explored) and on its regressed core (the expected signature on every
 * scripted run, the trace replays), each demo its own signature; a table,
 * TAP and JUnit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "commands.h"
#include "opts.h"
#include "pool.h"
#include "rerun.h"

static const char run_help[] =
	"usage: migrace run SCENARIO... | --all [OPTIONS]\n"
	"\n"
	"Runs scenarios and checks what they must produce (see `migrace list`).\n"
	"\n"
	"A race scenario (scenarios/) is checked in each build (tsan and asan) on both\n"
	"cores: the real core must be clean on its scripted schedule (--runs times) and\n"
	"under exploration (--explore, --explore-runs schedules); the regressed core\n"
	"(built from the scenario's regress.patch) must give the expected signature on\n"
	"every scripted run, and the first run's trace must replay to it. A table of\n"
	"the results ends the output, then \"N passed, N failed\".\n"
	"A demo (demo-*) runs its default strategy and checks its signature per build.\n"
	"\n"
	"  --all              every scenario and demo\n"
	"  --build B          tsan | asan | plain (default: tsan and asan; the races\n"
	"                     have no plain build: plain runs the demos only)\n"
	"  --real             only the real core;  --regressed  only the regressed core\n"
	"  --runs N           scripted runs per core and build (default 100; demos: their own)\n"
	"  --explore S        exploration strategy on the real core (default pct:3)\n"
	"  --explore-runs N   schedules of it (default 2000; 0 skips exploration)\n"
	"  --strategy S       instead of the checks above, run S for --runs schedules:\n"
	"                     the real core must stay clean, the regressed core must give\n"
	"                     the expected signature in some run\n"
	"  --seed N, --jobs J (default: one per CPU), --timeout SEC, --preempt sync|mem|mem-all,\n"
	"  --pin none|auto|CPU, --pct-k K, --spurious,\n"
	"  --out DIR          as for exec\n"
	"  --tap              TAP 13 output (the table follows as comments)\n"
	"  --junit FILE       also write JUnit XML: a test case per scenario, core, build\n"
	"                     and check; a failure carries its signature, trace, repro line\n"
	"\n"
	"exit: 0 every expectation held; 1 some did not; 2 bad arguments.\n";

/* ---- run: the checks ----------------------------------------------------- */

struct run_ctx {
	struct exec_opts base;
	const char *strategy;        /* --strategy: replaces the gate's checks */
	const char *explore;
	uint64_t runs, explore_runs;
	bool runs_set, tap, real, regressed;
	unsigned passed, failed, skipped, ntap;
	/* the table, printed at the end */
	char (*rows)[512];
	size_t nrows;
	/* --junit FILE: one test case per check */
	const char *junit;
	struct junit_case { char cls[64], name[600], sig[160], trace[PATH_MAX]; bool ok, skipped; } *cases;
	size_t ncases;
	double t0;                   /* when the run began */
};

/* One check's result: TAP line or FAIL line, the counts, a JUnit case. cls
 * is the scenario; out (may be NULL) the runs behind it. */
static void __attribute__((format(printf, 5, 6)))
report(struct run_ctx *c, bool ok, const char *cls, const struct outcome *out, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ok ? c->passed++ : c->failed++;
	if (c->tap)
		printf("%s %u - %s\n", ok ? "ok" : "not ok", ++c->ntap, what);
	else if (!ok)
		printf("FAIL %s\n", what);
	fflush(stdout);
	if (!c->junit)
		return;
	c->cases = realloc(c->cases, (c->ncases + 1) * sizeof(*c->cases));
	struct junit_case *jc = &c->cases[c->ncases++];
	memset(jc, 0, sizeof(*jc));
	snprintf(jc->cls, sizeof(jc->cls), "%s", cls);
	snprintf(jc->name, sizeof(jc->name), "%s", what);
	jc->ok = ok;
	if (out && out->have_first) {
		snprintf(jc->sig, sizeof(jc->sig), "%s", out->first_sig);
		snprintf(jc->trace, sizeof(jc->trace), "%s", out->first_trace);
	}
}

static void xml_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		default:
			if ((unsigned char)*s >= 0x20 || *s == '\n' || *s == '\t')
				fputc(*s, f);
		}
	}
}

/* JUnit XML: one <testcase> per check (scenario, core, build), a failure
 * carrying its signature, trace path and repro line. 0, or -1 (message). */
static int write_junit(const struct run_ctx *c)
{
	FILE *f = fopen(c->junit, "w");
	if (!f) {
		fprintf(stderr, "migrace run: cannot write %s: %s\n", c->junit, strerror(errno));
		return -1;
	}
	unsigned fails = 0, skips = 0;
	for (size_t i = 0; i < c->ncases; i++) {
		fails += !c->cases[i].ok;
		skips += c->cases[i].skipped;
	}
	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<testsuites tests=\"%zu\" failures=\"%u\" skipped=\"%u\">\n"
		   "  <testsuite name=\"migrace\" tests=\"%zu\" failures=\"%u\" skipped=\"%u\">\n",
		c->ncases, fails, skips, c->ncases, fails, skips);
	for (size_t i = 0; i < c->ncases; i++) {
		const struct junit_case *jc = &c->cases[i];
		fputs("    <testcase classname=\"", f);
		xml_escaped(f, jc->cls);
		fputs("\" name=\"", f);
		xml_escaped(f, jc->name);
		fputs("\"", f);
		if (jc->ok && !jc->skipped) {
			fputs("/>\n", f);
			continue;
		}
		fputs(">\n", f);
		if (jc->skipped) {
			fputs("      <skipped message=\"no detector of this build applies\"/>\n", f);
		} else {
			fputs("      <failure message=\"", f);
			xml_escaped(f, jc->sig[0] ? jc->sig : "expectation not met");
			fputs("\">", f);
			xml_escaped(f, jc->name);
			if (jc->trace[0]) {
				fprintf(f, "\nsignature: ");
				xml_escaped(f, jc->sig);
				fprintf(f, "\ntrace: ");
				xml_escaped(f, jc->trace);
				fprintf(f, "\nrepro: ");
				xml_escaped(f, self);
				fputs(" replay ", f);
				xml_escaped(f, jc->trace);
			}
			fputs("</failure>\n", f);
		}
		fputs("    </testcase>\n", f);
	}
	fputs("  </testsuite>\n</testsuites>\n", f);
	return fclose(f) ? -1 : 0;
}

static void report_failure_detail(struct run_ctx *c, const struct outcome *out)
{
	if (!out->have_first)
		return;
	const char *pre = c->tap ? "#   " : "    ";
	char log[PATH_MAX + 8];
	snprintf(log, sizeof(log), "%s.log", out->first_trace);
	FILE *f = fopen(log, "r");
	char line[1024];
	int n = 0;
	while (f && fgets(line, sizeof(line), f) && n++ < 30)
		printf("%s%s", pre, line);
	if (f)
		fclose(f);
	printf("%strace: %s\n%srepro: %s replay %s\n", pre, out->first_trace, pre, self, out->first_trace);
}

/* Runs prog under strategy for runs schedules into out. */
static bool run_prog(struct run_ctx *c, const char *prog, const char *name, const char *strategy, uint64_t runs,
		     bool keep_going, const char *outdir, struct outcome *out)
{
	struct exec_opts o = c->base;
	o.strategy = strategy;
	o.runs = runs;
	o.name = name;
	o.quiet = true;
	o.keep_going = keep_going;
	o.out = outdir;
	check_dfs_jobs("run", &o);
	if (strcmp(strategy, "script") == 0)
		o.jobs = o.jobs > runs ? (unsigned)runs : o.jobs;
	char *av[] = { (char *)prog, NULL };
	return pool_run(&o, av, out) == 0 && !out->config_error && !out->lost_worker;
}


static void add_row(struct run_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add_row(struct run_ctx *c, const char *fmt, ...)
{
	va_list ap;
	c->rows = realloc(c->rows, (c->nrows + 1) * sizeof(*c->rows));
	va_start(ap, fmt);
	vsnprintf(c->rows[c->nrows++], sizeof(c->rows[0]), fmt, ap);
	va_end(ap);
}

#define ROW_FMT "%-26s %-26s %-5s %-37s %-27s %-40s %s"

/* The gate for one race in one build. */
static void check_race(struct run_ctx *c, const struct race *r, const char *build, const char *expect)
{
	char real[PATH_MAX], regr[PATH_MAX], outdir[PATH_MAX], real_res[160] = "-", regr_res[160] = "-";
	struct outcome out;
	uint64_t total = 0;

	race_program(r, build, false, real, sizeof(real));
	race_program(r, build, true, regr, sizeof(regr));
	if (!c->regressed) {
		snprintf(outdir, sizeof(outdir), "%s/%s/%s/real", c->base.out, r->name, build);
		const char *st = c->strategy ? c->strategy : "script";
		bool ran = run_prog(c, real, r->name, st, c->runs, false, outdir, &out);
		bool ok = ran && !out.have_first && out.runs == c->runs;
		total += out.runs;
		report(c, ok, r->name, &out, "%s [%s] real core, %s: clean in %" PRIu64 " of %" PRIu64 " runs%s%s", r->name, build, st,
		       out.runs - out.failures, c->runs, out.have_first ? "; first failure: " : "",
		       out.have_first ? out.first_sig : (ran ? "" : " (could not run)"));
		if (!ok)
			report_failure_detail(c, &out);
		uint64_t script_clean = out.runs - out.failures;
		snprintf(real_res, sizeof(real_res), "%s %s %" PRIu64 "/%" PRIu64, ok ? "clean" : "FAILED", st,
			 script_clean, c->runs);
		bool real_ok = ok;
		if (!c->strategy && c->explore_runs) {
			ran = run_prog(c, real, r->name, c->explore, c->explore_runs, false, outdir, &out);
			ok = ran && !out.have_first;
			total += out.runs;
			report(c, ok, r->name, &out, "%s [%s] real core, %s: clean in %" PRIu64 " schedules%s%s", r->name, build,
			       c->explore, out.runs - out.failures, out.have_first ? "; first failure: " : "",
			       out.have_first ? out.first_sig : (ran ? "" : " (could not run)"));
			if (!ok)
				report_failure_detail(c, &out);
			snprintf(real_res, sizeof(real_res), "%s %s %" PRIu64 "/%" PRIu64 ", %s %" PRIu64 "/%" PRIu64,
				 ok && real_ok ? "clean" : "FAILED", st, script_clean, c->runs, c->explore,
				 out.runs - out.failures, c->explore_runs);
		}
	}
	if (!c->real) {
		if (!*expect) {
			c->skipped++;
			if (c->junit) {
				report(c, true, r->name, NULL, "%s [%s] regressed core: no detector of this build applies",
				       r->name, build);
				c->passed--;
				c->cases[c->ncases - 1].skipped = true;
			}
			if (c->tap)
				printf("ok %u - %s [%s] regressed core # SKIP no detector of this build applies\n",
				       ++c->ntap, r->name, build);
			snprintf(regr_res, sizeof(regr_res), "n/a (no detector)");
		} else {
			snprintf(outdir, sizeof(outdir), "%s/%s/%s/regressed", c->base.out, r->name, build);
			const char *st = c->strategy ? c->strategy : "script";
			bool every = !c->strategy;        /* scripted: every run; else: some run */
			bool ran = run_prog(c, regr, r->name, st, c->runs, every, outdir, &out);
			total += out.runs;
			bool ok = ran && out.have_first && strcmp(out.first_sig, expect) == 0 &&
				  (!every || (out.failures == c->runs && out.nsigs == 1));
			report(c, ok, r->name, &out, "%s [%s] regressed core, %s: %s in %" PRIu64 " of %" PRIu64 " runs (first: %s)",
			       r->name, build, st, expect, ok ? (every ? out.failures : 1) : 0, c->runs,
			       out.have_first ? out.first_sig : (ran ? "clean" : "could not run"));
			if (!ok)
				report_failure_detail(c, &out);
			snprintf(regr_res, sizeof(regr_res), "%s %" PRIu64 "/%" PRIu64, ok ? "reproduced" : "NOT REPRODUCED",
				 every ? (out.failures) : (uint64_t)(out.have_first ? 1 : 0), c->runs);
			if (out.have_first && every) {
				bool rok = replay_ok(out.first_trace);
				total++;
				report(c, rok, r->name, rok ? NULL : &out, "%s [%s] regressed core: the trace replays to %s", r->name,
				       build, expect);
				if (!rok)
					printf("%s  trace: %s\n", c->tap ? "#" : "", out.first_trace);
				size_t l = strlen(regr_res);
				snprintf(regr_res + l, sizeof(regr_res) - l, ", %s", rok ? "replays" : "REPLAY FAILED");
			}
		}
	}
	add_row(c, ROW_FMT, r->name, r->origin, build, real_res, regr_res, *expect ? expect : "n/a", "");
	size_t l = strlen(c->rows[c->nrows - 1]);
	snprintf(c->rows[c->nrows - 1] + l, sizeof(c->rows[0]) - l, "%" PRIu64, total);
}

static void check_demo(struct run_ctx *c, const struct demo *s, const char *build)
{
	char prog[PATH_MAX], script[PATH_MAX], outdir[PATH_MAX];
	struct outcome out;
	struct exec_opts save = c->base;
	const char *expect = s->expect[build_index(build)];

	snprintf(prog, sizeof(prog), "%s/build/%s/%s", root, build, s->program);
	if (s->script) {
		snprintf(script, sizeof(script), "%s/%s", root, s->script);
		c->base.script = script;
	}
	snprintf(outdir, sizeof(outdir), "%s/%s/%s", c->base.out, s->name, build);
	const char *st = c->strategy ? c->strategy : s->strategy;
	uint64_t runs = c->runs_set ? c->runs : s->runs;
	bool ran = !access(prog, X_OK) && run_prog(c, prog, s->name, st, runs, false, outdir, &out);
	c->base = save;
	char got[200];
	snprintf(got, sizeof(got), "%s", !ran ? "error (not built?)" : out.have_first ? out.first_sig : "clean");
	bool ok = strcmp(got, expect) == 0;
	report(c, ok, s->name, ran ? &out : NULL, "%s [%s] %s, %" PRIu64 " runs: expected %s, got %s", s->name, build,
	       st, runs, expect, got);
	if (!ok && ran)
		report_failure_detail(c, &out);
	add_row(c, ROW_FMT, s->name, "demo", build, ok ? "as expected" : "MISMATCH", "-", expect, "");
	size_t l = strlen(c->rows[c->nrows - 1]);
	snprintf(c->rows[c->nrows - 1] + l, sizeof(c->rows[0]) - l, "%" PRIu64, ran ? out.runs : 0);
}

/* A line on stderr per finished scenario and build (its row of the table,
 * its time), so that a terminal or a CI log shows how far the gate is. */
static void progress(struct run_ctx *c, size_t total)
{
	static double last;
	double now = now_s();
	if (!last)
		last = c->t0;
	char row[sizeof(c->rows[0])];
	snprintf(row, sizeof(row), "%s", c->rows[c->nrows - 1]);
	for (char *p = row, *q = row; ; p++) {      /* squeeze the table's padding */
		if (*p == ' ' && (q == row || q[-1] == ' '))
			continue;
		if (!(*q++ = *p))
			break;
	}
	fprintf(stderr, "migrace run: [%zu/%zu] %s (%.0f s)\n", c->nrows, total, row, now - last);
	last = now;
}

static int run_main(int argc, char **argv)
{
	struct run_ctx c = { .explore = "pct:3", .runs = 100, .explore_runs = 2000, .t0 = now_s() };
	const char *build = NULL;
	bool all = false;
	int ch;

	exec_defaults(&c.base);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	c.base.jobs = ncpu > 0 ? (unsigned)(ncpu < MAX_JOBS ? ncpu : MAX_JOBS) : 1;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", common_opts, NULL)) != -1) {
		if (ch == OPT_RUNS)
			c.runs_set = true;
		if (exec_option("run", ch, &c.base)) {
			if (ch == OPT_STRATEGY)
				c.strategy = optarg;
			continue;
		}
		switch (ch) {
		case OPT_ALL: all = true; break;
		case OPT_BUILD:
			if (build_index(optarg) < 0)
				die_usage("run", "--build must be tsan, asan or plain, not '%s'", optarg);
			build = optarg;
			break;
		case OPT_TAP: c.tap = true; break;
		case OPT_JUNIT: c.junit = optarg; break;
		case OPT_OUT: c.base.out = optarg; break;
		case OPT_REGRESSED: c.regressed = true; break;
		case OPT_REAL: c.real = true; break;
		case OPT_EXPLORE: check_strategy("run", optarg); c.explore = optarg; break;
		case OPT_EXPLORE_RUNS: c.explore_runs = parse_count("run", "--explore-runs", optarg, 0, UINT64_MAX / 4); break;
		case 'h':
		case OPT_HELP: fputs(run_help, stdout); return 0;
		case '?': die_usage("run", "unknown or incomplete option");
		default: die_usage("run", "option %s is not for run", argv[optind - 1]);
		}
	}
	if (c.junit) {     /* bad input is refused before any run, not after */
		FILE *f = fopen(c.junit, "w");
		if (!f)
			die_usage("run", "cannot write the JUnit file '%s': %s", c.junit, strerror(errno));
		fclose(f);
	}
	c.base.out = out_dir_ready("run", c.base.out);
	if (c.real && c.regressed)
		die_usage("run", "--real and --regressed exclude each other (neither: both cores)");
	if (c.runs_set)
		c.runs = c.base.runs;
	const struct race *rsel[nraces + 1];
	const struct demo *dsel[ndemos + 1];
	size_t nr = 0, nd = 0;
	if (all) {
		if (optind < argc)
			die_usage("run", "give scenario names or --all, not both");
		for (size_t i = 0; build && strcmp(build, "plain") == 0 ? false : i < nraces; i++)
			rsel[nr++] = &races[i];     /* the races have no plain build */
		if (!c.regressed)
			for (size_t i = 0; i < ndemos; i++)
				dsel[nd++] = &demos[i];
	} else {
		if (optind >= argc)
			die_usage("run", "no scenario given (see migrace list, or use --all)");
		for (int i = optind; i < argc; i++) {
			const struct race *r = find_race(argv[i]);
			const struct demo *d = find_demo(argv[i]);
			if (r && nr < nraces)
				rsel[nr++] = r;
			else if (d && c.regressed)
				die_usage("run", "--regressed: '%s' is a demo, it has no regress.patch", argv[i]);
			else if (d && nd < ndemos)
				dsel[nd++] = d;
			else if (!r && !d)
				die_usage("run", "no scenario named '%s' (see migrace list)", argv[i]);
		}
	}
	const char *bl[2] = { "tsan", "asan" };
	int nb = 2;
	if (build) {
		bl[0] = build;
		nb = 1;
		if (nr && strcmp(build, "plain") == 0)
			die_usage("run", "the race scenarios are built for tsan and asan only, not plain");
	}
	if (c.tap)
		printf("TAP version 13\n");
	for (size_t i = 0; i < nr; i++) {
		char prog[PATH_MAX], expect[2][160];
		race_program(rsel[i], "tsan", false, prog, sizeof(prog));
		if (describe(prog, expect)) {
			report(&c, false, rsel[i]->name, NULL, "%s: cannot read its descriptor from %s (not built? run make)",
			       rsel[i]->name, prog);
			continue;
		}
		for (int b = 0; b < nb; b++) {
			check_race(&c, rsel[i], bl[b], expect[build_index(bl[b])]);
			progress(&c, (nr + nd) * (size_t)nb);
		}
	}
	for (size_t i = 0; i < nd; i++)
		for (int b = 0; b < nb; b++) {
			check_demo(&c, dsel[i], bl[b]);
			progress(&c, (nr + nd) * (size_t)nb);
		}

	const char *pre = c.tap ? "# " : "";
	printf("%s\n%s" ROW_FMT "\n", pre, pre, "SCENARIO", "ORIGIN", "BUILD", "REAL CORE", "REGRESSED CORE",
	       "SIGNATURE", "RUNS");
	for (size_t i = 0; i < c.nrows; i++)
		printf("%s%s\n", pre, c.rows[i]);
	free(c.rows);
	if (c.junit && write_junit(&c))
		c.failed++;
	free(c.cases);
	if (c.tap)
		printf("1..%u\n", c.ntap);
	printf("%s%u passed, %u failed%s\n", pre, c.passed, c.failed, c.skipped ? "" : "");
	return c.failed ? 1 : 0;
}


const struct command cmd_run = { "run", run_main, run_help };
