/*
 * Trace file format, version 1:
 *
 *   migrace-trace 1
 *   program /abs/path/to/prog
 *   arg <one argument, with \\ \n \t \r escapes>      (zero or more)
 *   cwd /dir
 *   build tsan|asan|plain
 *   strategy pct:2
 *   seed 17
 *   pct-k 345
 *   code-version fnv1a64:0123456789abcdef
 *   outcome tsan:data-race@incr
 *   faults core/channel/read@3+                    (only when faults were on)
 *   fault-points core/channel/read                 (idem: a glob, default every point)
 *   preempt mem                                    (only when memory-access points were on)
 *   mem-points shared                              (mem: which accesses were points: all, or
 *                                                   the instructions listed by mem-pcs)
 *   mem-pcs +0x1a2b +0x1a40 ...                    (mem-points shared: up to 16 per line)
 *   spurious 1                                     (only when spurious wake-ups were decisions)
 *   fork-here 1                                    (only when the run began at migrace_fork_here())
 *   max-steps 200000                               (the step limit of the run; optional)
 *   stdin prog-random-seed1-run0.trace.stdin       (the run's standard input, a file in the
 *                                                   trace's directory; only when it had one)
 *   steps 57
 *   schedule 0*5 1*3 0*2                           (informational)
 *   ---
 *   <step> T<thread> <op> <object> +0x<pc> from=T<n> e=0x<enabled> t=<ns> d=<key> [@ location]
 *
 * Objects: '-' none, m/c/s/r/o<id> mutex/cond/sem/rwlock/once, w<id> futex
 * word, d<id> file descriptor (ops fd and fd-external), T<id> thread,
 * p:<name> sync point, f:<name>#<hit> the hit-th hit of a fault point (ops
 * fault-pass and fault-fail: a decision of the running thread, no switch).
 * The key d= says which decision of the from= thread the step is: sN its N-th
 * scheduling decision, mN the one at its N-th non-stack memory access (op
 * `mem`, --preempt=mem); fault steps carry d=s0. Traces without keys (older
 * ones) still parse and replay. A last field `fair` marks a step where the
 * from= thread spun (it re-read an unchanged word at a memory decision): it
 * yielded, so a switch there is no preemption.
 * Lines starting with '#' are comments.
 */
#define _GNU_SOURCE
#include "trace.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "model.h"

static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else if (*s == '\t')
			fputs("\\t", f);
		else if (*s == '\r')
			fputs("\\r", f);
		else
			fputc(*s, f);
	}
}

static void unescape(char *s)
{
	char *o = s;
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 'n' ? '\n' : *s == 't' ? '\t' : *s == 'r' ? '\r' : *s;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

int schedule_format(const struct step_rec *steps, uint32_t n, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n;) {
		uint32_t j = i;
		while (j < n && steps[j].chosen == steps[i].chosen)
			j++;
		int w = j - i > 1 ? snprintf(buf + o, len - o, "%s%d*%u", o ? " " : "", steps[i].chosen, j - i)
				  : snprintf(buf + o, len - o, "%s%d", o ? " " : "", steps[i].chosen);
		if (w < 0 || (size_t)w >= len - o)
			return -1;
		o += (size_t)w;
		i = j;
	}
	return 0;
}

int schedule_parse(const char *text, uint16_t *out, uint32_t max, uint32_t *n, char *err, size_t errlen)
{
	const char *p = text;
	*n = 0;
	while (*p) {
		while (*p == ' ' || *p == ',')
			p++;
		if (!*p)
			break;
		char *e = (char *)p;
		unsigned long t = 0, count = 1;
		errno = 0;
		if (*p >= '0' && *p <= '9')      /* strtoul alone would take "-1" */
			t = strtoul(p, &e, 10);
		if (e == p || errno || t >= MODEL_MAX_THREADS) {
			snprintf(err, errlen, "schedule: bad thread number at \"%.20s\" (expected 0..%d)", p,
				 MODEL_MAX_THREADS - 1);
			return -1;
		}
		p = e;
		if (*p == '*') {
			errno = 0;
			count = p[1] >= '0' && p[1] <= '9' ? strtoul(p + 1, &e, 10) : 0;
			if (count == 0 || errno) {
				snprintf(err, errlen, "schedule: bad repeat count after thread %lu", t);
				return -1;
			}
			p = e;
		}
		if (*p && *p != ' ' && *p != ',') {
			snprintf(err, errlen, "schedule: unexpected \"%.20s\"", p);
			return -1;
		}
		if (count > max - *n) {
			snprintf(err, errlen, "schedule: longer than %u steps", max);
			return -1;
		}
		for (unsigned long i = 0; i < count; i++)
			out[(*n)++] = (uint16_t)t;
	}
	return 0;
}

/* The enabled set as one hex number (bit i: thread Ti). */
static void put_enabled(FILE *f, const struct step_rec *r)
{
	struct tset e;
	int top = TSET_WORDS - 1;
	step_get_enabled(r, &e);
	while (top > 0 && !e.w[top])
		top--;
	fprintf(f, "%" PRIx64, e.w[top]);
	while (top-- > 0)
		fprintf(f, "%016" PRIx64, e.w[top]);
}

/* Parses the hex number put_enabled writes; -1 if it is not one or too wide. */
static int parse_enabled(const char *s, struct step_rec *r, uint64_t **wide)
{
	struct tset e = { { 0 } };
	size_t n = strlen(s);
	if (n == 0 || n > TSET_WORDS * 16)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = s[n - 1 - i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (v < 0)
			return -1;
		e.w[i / 16] |= (uint64_t)v << (4 * (i % 16));
	}
	r->enabled = e.w[0];
	r->enabled_hi = NULL;
	int hi = tset_hi_words(&e);
	if (hi) {
		if (!(*wide = malloc((size_t)(hi + 1) * sizeof(uint64_t))))
			return -1;
		(*wide)[0] = (uint64_t)hi;
		memcpy(*wide + 1, &e.w[1], (size_t)hi * sizeof(uint64_t));
		r->enabled_hi = *wide;
	}
	return 0;
}

static void put_obj(FILE *f, const struct step_rec *r)
{
	if (r->objk == '-')
		fputs("-", f);
	else if (r->objk == 'p')
		fprintf(f, "p:%s", r->name ? r->name : "?");
	else if (r->objk == 'f')
		fprintf(f, "f:%s#%d", r->name ? r->name : "?", r->obj);
	else if (r->objk == 'k')
		fprintf(f, "k:%u/%u", STEP_CHOICE_V(r->obj), STEP_CHOICE_N(r->obj));
	else
		fprintf(f, "%c%d", r->objk, r->obj);
}

int trace_write(FILE *f, const struct trace *t, const char *const *locs)
{
	fprintf(f, "migrace-trace %d\n", TRACE_VERSION);
	fprintf(f, "program %s\n", t->program);
	for (int i = 0; i < t->nargs; i++) {
		fputs("arg ", f);
		put_escaped(f, t->args[i]);
		fputc('\n', f);
	}
	fprintf(f, "cwd %s\nbuild %s\nstrategy %s\nseed %" PRIu64 "\npct-k %" PRIu64 "\n", t->cwd,
		t->build, t->strategy, t->seed, t->pct_k);
	fprintf(f, "code-version %s\noutcome %s\n", t->code_version, t->outcome);
	if (t->faults[0])
		fprintf(f, "faults %s\nfault-points %s\n", t->faults, t->fault_points[0] ? t->fault_points : "*");
	if (strcmp(t->preempt, "mem") == 0) {
		fprintf(f, "preempt mem\nmem-points %s\n", strcmp(t->mem_points, "shared") ? "all" : "shared");
		for (uint32_t i = 0; !strcmp(t->mem_points, "shared") && i < t->nmem_pcs; i++)
			fprintf(f, "%s+0x%" PRIx64 "%s", i % 16 ? " " : "mem-pcs ", t->mem_pcs[i],
				i % 16 == 15 || i + 1 == t->nmem_pcs ? "\n" : "");
	}
	if (t->spurious)
		fputs("spurious 1\n", f);
	if (t->fork_here)
		fputs("fork-here 1\n", f);
	if (t->max_steps)
		fprintf(f, "max-steps %u\n", t->max_steps);
	if (t->stdin_file[0])
		fprintf(f, "stdin %s\n", t->stdin_file);
	fprintf(f, "steps %u\n", t->nsteps);
	size_t slen = (size_t)t->nsteps * 8 + 64;
	char *sched = malloc(slen);
	if (sched && schedule_format(t->steps, t->nsteps, sched, slen) == 0)
		fprintf(f, "schedule %s\n", sched);
	free(sched);
	fputs("---\n", f);
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		fprintf(f, "%u T%d %s ", i, r->chosen, op_kind_name((enum op_kind)r->op));
		put_obj(f, r);
		fprintf(f, " +0x%" PRIx64 " from=T%d e=0x", r->pc, r->cur);
		put_enabled(f, r);
		fprintf(f, " t=%" PRId64 " d=%c%u%s", r->now, r->key_mem ? 'm' : 's', r->key, r->fair ? " fair" : "");
		if (locs && locs[i] && locs[i][0])
			fprintf(f, " @ %s", locs[i]);
		fputc('\n', f);
	}
	return ferror(f) ? -EIO : 0;
}

void trace_free(struct trace *t)
{
	for (int i = 0; i < t->nargs; i++)
		free(t->args[i]);
	if (t->names)
		for (uint32_t i = 0; i < t->nsteps; i++)
			free(t->names[i]);
	if (t->locs)
		for (uint32_t i = 0; i < t->nsteps; i++)
			free(t->locs[i]);
	free(t->names);
	free(t->locs);
	if (t->wide)
		for (uint32_t i = 0; i < t->nsteps; i++)
			free(t->wide[i]);
	free(t->wide);
	free(t->steps);
	free(t->mem_pcs);
	memset(t, 0, sizeof(*t));
}

int trace_make_dirs(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(buf, 0777);
			*p = '/';
		}
	return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

static int fail(char *err, size_t errlen, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "line %u: ", line);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - n, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_u64(const char *s, uint64_t *out, int base)
{
	char *e;
	if (!*s || *s == '-')
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &e, base);
	if (errno || *e)
		return -1;
	*out = v;
	return 0;
}

static int parse_thread(const char *s, uint16_t *out)
{
	uint64_t v;
	if (s[0] != 'T' || parse_u64(s + 1, &v, 10) || v >= MODEL_MAX_THREADS)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* "V/N" of a choice into its obj field. */
static int parse_choice(char *s, int32_t *obj)
{
	uint64_t v, n;
	char *slash = strchr(s, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	int bad = parse_u64(s, &v, 10) || parse_u64(slash + 1, &n, 10) || n < 1 || n > STEP_CHOICE_MAX || v >= n;
	*slash = '/';
	if (bad)
		return -1;
	*obj = STEP_CHOICE(n, v);
	return 0;
}

static int parse_step(char *line, struct trace *t, uint32_t idx, char *err, size_t errlen, unsigned ln)
{
	struct step_rec *r = &t->steps[idx];
	char *loc = strstr(line, " @ ");
	if (loc) {
		*loc = '\0';
		t->locs[idx] = strdup(loc + 3);
	}
	char *f[10];
	int nf = 0;
	for (char *tok = strtok(line, " "); tok; tok = strtok(NULL, " "))
		if (nf < 10)
			f[nf++] = tok;
		else
			return fail(err, errlen, ln, "too many fields in step line");
	if (nf < 8)
		return fail(err, errlen, ln, "a step line needs 8 to 10 fields (step thread op object pc from enabled time [key [fair]]), found %d", nf);
	uint64_t v;
	if (parse_u64(f[0], &v, 10) || v != idx)
		return fail(err, errlen, ln, "expected step number %u, found \"%s\"", idx, f[0]);
	if (parse_thread(f[1], &r->chosen))
		return fail(err, errlen, ln, "bad thread \"%s\" (expected T0..T%d)", f[1], MODEL_MAX_THREADS - 1);
	int op = op_kind_from_name(f[2]);
	if (op < 0 || op == OP_NONE)
		return fail(err, errlen, ln, "unknown operation \"%s\"", f[2]);
	r->op = (uint8_t)op;
	char *hash = strrchr(f[3], '#');     /* of f:name#hit */
	if (strcmp(f[3], "-") == 0)
		r->objk = '-';
	else if (strncmp(f[3], "p:", 2) == 0 && f[3][2]) {
		r->objk = 'p';
		t->names[idx] = strdup(f[3] + 2);
		r->name = t->names[idx];
	} else if (strncmp(f[3], "f:", 2) == 0 && hash && hash > f[3] + 2 &&
		   parse_u64(hash + 1, &v, 10) == 0 && v >= 1 && v < INT32_MAX) {
		r->objk = 'f';
		r->obj = (int32_t)v;
		*hash = '\0';
		t->names[idx] = strdup(f[3] + 2);
		r->name = t->names[idx];
	} else if (strncmp(f[3], "k:", 2) == 0) {
		if (parse_choice(f[3] + 2, &r->obj))
			return fail(err, errlen, ln, "bad choice \"%s\" (expected k:V/N, 0 <= V < N <= %u)", f[3],
				    STEP_CHOICE_MAX);
		r->objk = 'k';
	} else if (strchr("mcsrowdT", f[3][0]) && parse_u64(f[3] + 1, &v, 10) == 0 && v < INT32_MAX) {
		r->objk = f[3][0];
		r->obj = (int32_t)v;
	} else
		return fail(err, errlen, ln, "bad object \"%s\" (expected -, m1, c1, s1, r1, o1, w1, d1, T1, p:name, f:name#hit or k:V/N)", f[3]);
	if (strncmp(f[4], "+0x", 3) || parse_u64(f[4] + 3, &r->pc, 16))
		return fail(err, errlen, ln, "bad code offset \"%s\" (expected +0x<hex>)", f[4]);
	if (strncmp(f[5], "from=", 5) || parse_thread(f[5] + 5, &r->cur))
		return fail(err, errlen, ln, "bad field \"%s\" (expected from=T<n>)", f[5]);
	if (strncmp(f[6], "e=0x", 4) || parse_enabled(f[6] + 4, r, &t->wide[idx]))
		return fail(err, errlen, ln, "bad field \"%s\" (expected e=0x<hex mask>)", f[6]);
	bool fault_op = r->op == OP_FAULT_PASS || r->op == OP_FAULT_FAIL;
	if (fault_op != (r->objk == 'f'))
		return fail(err, errlen, ln, "%s", fault_op ? "a fault decision needs an object f:name#hit"
							 : "an object f:name#hit needs the operation fault-pass or fault-fail");
	if ((r->op == OP_CHOOSE) != (r->objk == 'k'))
		return fail(err, errlen, ln, "%s", r->op == OP_CHOOSE ? "a choice needs an object k:V/N"
								      : "an object k:V/N needs the operation choose");
	struct tset en;
	step_get_enabled(r, &en);
	if (!tset_has(&en, r->chosen))
		return fail(err, errlen, ln, "thread T%d is not in its enabled set %s", r->chosen, f[6]);
	if (strncmp(f[7], "t=", 2) || parse_u64(f[7] + 2, &v, 10))
		return fail(err, errlen, ln, "bad field \"%s\" (expected t=<virtual ns>)", f[7]);
	r->now = (int64_t)v;
	if (nf == 10 && strcmp(f[9], "fair"))
		return fail(err, errlen, ln, "bad field \"%s\" (expected fair, or the end of the step)", f[9]);
	r->fair = nf == 10;
	if (nf >= 9) {
		if (strncmp(f[8], "d=", 2) || (f[8][2] != 's' && f[8][2] != 'm') || parse_u64(f[8] + 3, &v, 10) ||
		    v > UINT32_MAX)
			return fail(err, errlen, ln, "bad field \"%s\" (expected d=s<n> or d=m<n>)", f[8]);
		r->key = (uint32_t)v;
		r->key_mem = f[8][2] == 'm';
		if (r->key_mem && r->chosen == r->cur && r->op != OP_MEM)
			return fail(err, errlen, ln, "a memory decision that keeps its thread running needs the op mem");
	}
	return 0;
}

static int header_line(struct trace *t, char *key, char *val, bool *seen_steps, char *err, size_t errlen,
		       unsigned ln)
{
	uint64_t v;
#define COPY(field)                                                                \
	do {                                                                       \
		if (strlen(val) >= sizeof(t->field))                               \
			return fail(err, errlen, ln, "value of \"%s\" is too long", key); \
		strcpy(t->field, val);                                             \
	} while (0)
	if (strcmp(key, "program") == 0)
		COPY(program);
	else if (strcmp(key, "arg") == 0) {
		if (t->nargs == TRACE_MAX_ARGS)
			return fail(err, errlen, ln, "more than %d arguments", TRACE_MAX_ARGS);
		unescape(val);
		t->args[t->nargs++] = strdup(val);
	} else if (strcmp(key, "cwd") == 0)
		COPY(cwd);
	else if (strcmp(key, "build") == 0)
		COPY(build);
	else if (strcmp(key, "strategy") == 0)
		COPY(strategy);
	else if (strcmp(key, "code-version") == 0)
		COPY(code_version);
	else if (strcmp(key, "outcome") == 0)
		COPY(outcome);
	else if (strcmp(key, "faults") == 0)
		COPY(faults);
	else if (strcmp(key, "fault-points") == 0)
		COPY(fault_points);
	else if (strcmp(key, "schedule") == 0)
		;
	else if (strcmp(key, "stdin") == 0) {
		if (!val[0] || strchr(val, '/'))
			return fail(err, errlen, ln, "stdin \"%s\" is not a file name (a file beside the trace)", val);
		COPY(stdin_file);
	} else if (strcmp(key, "max-steps") == 0) {
		if (parse_u64(val, &v, 10) || v == 0 || v > 100000000)
			return fail(err, errlen, ln, "max-steps \"%s\" is not a number of steps", val);
		t->max_steps = (uint32_t)v;
	}
	else if (strcmp(key, "spurious") == 0 || strcmp(key, "fork-here") == 0) {
		if (strcmp(val, "0") && strcmp(val, "1"))
			return fail(err, errlen, ln, "%s \"%s\" (expected 0 or 1)", key, val);
		*(key[0] == 's' ? &t->spurious : &t->fork_here) = val[0] == '1';
	}
	else if (strcmp(key, "preempt") == 0) {
		if (strcmp(val, "mem") && strcmp(val, "sync"))
			return fail(err, errlen, ln, "preempt \"%s\" (expected sync or mem)", val);
		COPY(preempt);
	}
	else if (strcmp(key, "mem-points") == 0) {
		if (strcmp(val, "all") && strcmp(val, "shared"))
			return fail(err, errlen, ln, "mem-points \"%s\" (expected all or shared)", val);
		COPY(mem_points);
	}
	else if (strcmp(key, "mem-pcs") == 0) {
		for (char *p = val, *e; *p;) {
			if (strncmp(p, "+0x", 3) || (e = p + 3 + strspn(p + 3, "0123456789abcdef")) == p + 3 ||
			    (*e && *e != ' '))
				return fail(err, errlen, ln, "mem-pcs: bad offset at \"%.20s\" (expected +0x<hex>)", p);
			if (t->nmem_pcs >= 1u << 20)
				return fail(err, errlen, ln, "mem-pcs: more than %u instructions", 1u << 20);
			if (!(t->nmem_pcs & (t->nmem_pcs - 1)) || !t->mem_pcs) {
				uint64_t *m = realloc(t->mem_pcs, (t->nmem_pcs ? t->nmem_pcs * 2 : 16) * sizeof(*m));
				if (!m)
					return fail(err, errlen, ln, "out of memory");
				t->mem_pcs = m;
			}
			char hex[20];
			size_t hn = (size_t)(e - p - 3);
			if (hn > 16)
				return fail(err, errlen, ln, "mem-pcs: bad offset at \"%.20s\"", p);
			memcpy(hex, p + 3, hn);
			hex[hn] = '\0';
			if (parse_u64(hex, &v, 16) || !v)
				return fail(err, errlen, ln, "mem-pcs: bad offset at \"%.20s\"", p);
			t->mem_pcs[t->nmem_pcs++] = v;
			p = *e ? e + 1 : e;
		}
	}
	else if (strcmp(key, "seed") == 0) {
		if (parse_u64(val, &t->seed, 10))
			return fail(err, errlen, ln, "seed \"%s\" is not a number", val);
	} else if (strcmp(key, "pct-k") == 0) {
		if (parse_u64(val, &t->pct_k, 10))
			return fail(err, errlen, ln, "pct-k \"%s\" is not a number", val);
	} else if (strcmp(key, "steps") == 0) {
		if (parse_u64(val, &v, 10) || v > 100000000)
			return fail(err, errlen, ln, "steps \"%s\" is not a number of steps", val);
		t->nsteps = (uint32_t)v;
		*seen_steps = true;
	} else
		return fail(err, errlen, ln, "unknown header field \"%s\"", key);
#undef COPY
	return 0;
}

/* Room for more steps, up to the header's count: the arrays grow with the
 * step lines read, so a header that claims millions of steps costs nothing
 * until they are there. Zeroes the new part; 0, or -1 out of memory. */
static int grow_steps(struct trace *t, uint32_t *cap)
{
	uint32_t n = *cap ? *cap * 2 : 256;
	if (n > t->nsteps || n < *cap)
		n = t->nsteps ? t->nsteps : 1;     /* never NULL, even for no steps */
	struct step_rec *steps = realloc(t->steps, (size_t)n * sizeof(*steps));
	if (steps)
		t->steps = steps;
	char **names = realloc(t->names, (size_t)n * sizeof(*names));
	if (names)
		t->names = names;
	char **locs = realloc(t->locs, (size_t)n * sizeof(*locs));
	if (locs)
		t->locs = locs;
	uint64_t **wide = realloc(t->wide, (size_t)n * sizeof(*wide));
	if (wide)
		t->wide = wide;
	if (!steps || !names || !locs || !wide)
		return -1;
	memset(steps + *cap, 0, (size_t)(n - *cap) * sizeof(*steps));
	memset(names + *cap, 0, (size_t)(n - *cap) * sizeof(*names));
	memset(locs + *cap, 0, (size_t)(n - *cap) * sizeof(*locs));
	memset(wide + *cap, 0, (size_t)(n - *cap) * sizeof(*wide));
	*cap = n;
	return 0;
}

int trace_parse(FILE *f, struct trace *t, char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned ln = 0;
	bool body = false, seen_steps = false;
	uint32_t idx = 0, room = 0;
	int rc = -1;

	memset(t, 0, sizeof(*t));
	while ((n = getline(&line, &cap, f)) >= 0) {
		ln++;
		while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (memchr(line, '\0', (size_t)n)) {        /* text after it would be lost */
			fail(err, errlen, ln, "a NUL byte in the line");
			goto out;
		}
		if (ln == 1) {
			uint64_t v;
			if (strncmp(line, "migrace-trace ", 14) || parse_u64(line + 14, &v, 10)) {
				fail(err, errlen, ln, "not a migrace trace (expected \"migrace-trace %d\")", TRACE_VERSION);
				goto out;
			}
			if (v != TRACE_VERSION) {
				fail(err, errlen, ln, "trace version %" PRIu64 " is not supported (this migrace reads version %d)",
				     v, TRACE_VERSION);
				goto out;
			}
			t->version = (int)v;
			continue;
		}
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if (!body) {
			if (strcmp(line, "---") == 0) {
				const char *missing = !t->program[0] ? "program" : !t->build[0] ? "build"
						   : !t->strategy[0] ? "strategy" : !seen_steps ? "steps" : NULL;
				if (missing) {
					fail(err, errlen, ln, "header field \"%s\" is missing", missing);
					goto out;
				}
				body = true;
				if (grow_steps(t, &room)) {
					fail(err, errlen, ln, "out of memory for the steps");
					goto out;
				}
				continue;
			}
			char *sp = strchr(line, ' ');
			if (!sp) {
				fail(err, errlen, ln, "expected \"<field> <value>\", found \"%.40s\"", line);
				goto out;
			}
			*sp = '\0';
			if (header_line(t, line, sp + 1, &seen_steps, err, errlen, ln))
				goto out;
			continue;
		}
		if (idx >= t->nsteps) {
			fail(err, errlen, ln, "more step lines than the header's steps %u", t->nsteps);
			goto out;
		}
		if (idx == room && grow_steps(t, &room)) {
			fail(err, errlen, ln, "out of memory for %u steps", idx + 1);
			goto out;
		}
		if (parse_step(line, t, idx, err, errlen, ln))
			goto out;
		idx++;
	}
	if (ln == 0) {
		fail(err, errlen, 1, "the file is empty");
		goto out;
	}
	if (!body) {
		fail(err, errlen, ln, "no \"---\" line: the trace has no steps section");
		goto out;
	}
	if (idx != t->nsteps) {
		fail(err, errlen, ln, "the header says %u steps, the file has %u", t->nsteps, idx);
		goto out;
	}
	rc = 0;
out:
	free(line);
	if (rc) {
		t->nsteps = room;                  /* the names allocated so far */
		trace_free(t);
	}
	return rc;
}
