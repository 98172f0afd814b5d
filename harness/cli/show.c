/*
 * migrace show: prints a trace as lanes, one column per thread, each step in
 * its thread's column with its operation, object and source line; or, with
 * --json, writes it in the Chrome trace-event format. Reads the trace (and
 * the run's log beside it, for a deadlock's waits); runs nothing.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "model.h"
#include "opts.h"
#include "rerun.h"
#include "trace.h"

static const char show_help[] =
	"usage: migrace show [--json] [--out FILE] [--width N] [--all] TRACE\n"
	"\n"
	"Prints a trace as lanes, one column per thread (T0 is the main thread): each\n"
	"step in its thread's column with its operation, object and source line\n"
	"(file:line, when the trace has it). A header names the program, its\n"
	"settings, the outcome, the counts, and each thread: who created it, its\n"
	"steps, the function it first appears in.\n"
	"The gutter holds the step number and a mark: `>` a switch (the previous\n"
	"thread blocked or finished, or spun and yielded), `*` a preemption (the\n"
	"previous thread could have gone on), `!` a fault point that failed, and the\n"
	"failure. Sync points show as [name], fault decisions as FAULT pass|fail\n"
	"POINT#HIT. The last line is the trace's outcome, in the lane of the thread\n"
	"that ran last; across the lanes for a deadlock or a clean run, followed by\n"
	"each thread's wait and the wait-for cycle when the run's log (TRACE.log)\n"
	"lists them.\n"
	"A stretch of more than 8 steps of one thread with no switch, sync point,\n"
	"fault decision, create, start or exit in it is folded to its first and last\n"
	"two steps around a line \"... N steps of Tn ...\".\n"
	"Above 6 threads, or when columns would be narrower than 16 characters, each\n"
	"thread gets a narrow lane (`o` the step's thread, `:` a live one) and the\n"
	"step's text follows the lanes; with too many threads for that, each row\n"
	"names its thread. Colours only on a terminal, and not with NO_COLOR set.\n"
	"\n"
	"  --json       write the Chrome trace-event format instead (a JSON object\n"
	"               with traceEvents and displayTimeUnit, for Perfetto and\n"
	"               chrome://tracing): a track per thread (pid 1, tid = thread\n"
	"               number + 1, named by thread_name metadata events), a complete\n"
	"               event (ph X) per step on a virtual clock of one microsecond\n"
	"               per step (its location, switch and decision in args), instant\n"
	"               events (ph i) for sync points, fault decisions, the outcome\n"
	"               (on the thread that ran last; global for a deadlock or a\n"
	"               clean run) and a deadlock's waits\n"
	"  --out FILE   write to FILE instead of the standard output (no colours)\n"
	"  --width N    the lanes' width, 40 to 1000 characters (default: COLUMNS,\n"
	"               else the terminal's width, else 100)\n"
	"  --all        fold nothing\n"
	"\n"
	"exit: 0 shown; 2 bad input (no such file, a directory, not a trace, a\n"
	"truncated or malformed trace: the error names the line).\n";

enum { S_JSON = 1000, S_OUT, S_WIDTH, S_ALL, S_HELP };

static const struct option show_opts[] = {
	{ "json", no_argument, NULL, S_JSON },
	{ "out", required_argument, NULL, S_OUT },
	{ "width", required_argument, NULL, S_WIDTH },
	{ "all", no_argument, NULL, S_ALL },
	{ "help", no_argument, NULL, S_HELP },
	{ 0 },
};

#define SHOW_FOLD_MIN 9          /* a plain stretch this long is folded ... */
#define SHOW_FOLD_KEEP 2         /* ... to its first and last SHOW_FOLD_KEEP steps */
#define SHOW_MIN_COL 16          /* narrower columns: the compact lanes */
#define SHOW_MAX_COLS 6          /* more threads: the compact lanes */

/* What a step is, for the drawing. */
enum {
	SF_SWITCH = 1,           /* another thread than from runs */
	SF_PREEMPT = 2,          /* ... and from could have run on */
	SF_SYNC = 4,
	SF_FAULT = 8,
	SF_FAULT_FAIL = 16,
	SF_HIDDEN = 32,          /* folded away */
	SF_FOLD = 64,            /* the first folded step: the fold line stands here */
};

struct show_thread {
	int64_t first, last;     /* its first and last step, -1 none */
	int64_t created;         /* the step that created it, -1 none seen */
	int creator;
	int64_t exited;          /* its exit step, -1 none */
	char entry[64];          /* the function of its first located step */
};

struct show_view {
	const struct trace *t;
	const char *path;
	unsigned nthreads;
	uint8_t *flags;          /* SF_* per step */
	uint32_t *fold_len;      /* at SF_FOLD steps: how many steps the fold hides */
	struct show_thread th[MODEL_MAX_THREADS];
	int fail_thread;         /* the thread the outcome belongs to, -1 the whole run */
	bool failed;             /* the outcome is not clean */
	unsigned switches, preempts, syncs, faults;
	bool color;
	char *waits[MODEL_MAX_THREADS];  /* from TRACE.log: what each thread waits for at the end */
	char cycle[160];                 /* ... and the wait-for cycle ("" none) */
};

/* A usage error: exit 2 with a pointer to the help. */

/* "file:line" of step i into buf ("" none); its function, if any, into fn. */
static void show_loc(const struct trace *t, uint32_t i, char *buf, size_t len, char *fn, size_t fnlen)
{
	const char *l = t->locs ? t->locs[i] : NULL;
	buf[0] = '\0';
	if (fn)
		fn[0] = '\0';
	if (!l)
		return;
	const char *sp = strchr(l, ' ');
	snprintf(buf, len, "%.*s", sp ? (int)(sp - l) : (int)strlen(l), l);
	if (fn && sp)
		snprintf(fn, fnlen, "%s", sp + 1);
}

/* The operation and object of step i as the lanes show them. */
static void show_head(const struct step_rec *r, char *buf, size_t len)
{
	const char *op = op_kind_name((enum op_kind)r->op);
	if (r->objk == 'p')
		snprintf(buf, len, "[%s]", r->name ? r->name : "?");
	else if (r->objk == 'f')
		snprintf(buf, len, "FAULT %s %s#%d", r->op == OP_FAULT_FAIL ? "fail" : "pass", r->name ? r->name : "?",
			 r->obj);
	else if (r->objk == '-')
		snprintf(buf, len, "%s", op);
	else
		snprintf(buf, len, "%s %c%d", op, r->objk, r->obj);
}

static void show_threads(struct show_view *v)
{
	const struct trace *t = v->t;
	for (unsigned k = 0; k < MODEL_MAX_THREADS; k++)
		v->th[k] = (struct show_thread){ .first = -1, .last = -1, .created = -1, .creator = -1, .exited = -1 };
	v->nthreads = 1;                        /* the main thread, even with no step */
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		struct show_thread *th = &v->th[r->chosen];
		unsigned hi = r->chosen > r->cur ? r->chosen : r->cur;
		if (r->objk == 'T' && r->obj >= 0 && r->obj < MODEL_MAX_THREADS && (unsigned)r->obj > hi)
			hi = (unsigned)r->obj;
		if (hi + 1 > v->nthreads)
			v->nthreads = hi + 1;
		if (th->first < 0)
			th->first = i;
		th->last = i;
		if (r->op == OP_EXIT)
			th->exited = i;
		if (r->op == OP_CREATE && r->objk == 'T' && r->obj >= 0 && r->obj < MODEL_MAX_THREADS &&
		    v->th[r->obj].created < 0) {
			v->th[r->obj].created = i;
			v->th[r->obj].creator = r->chosen;
		}
		if (!th->entry[0] && t->locs && t->locs[i]) {
			char fl[256];
			show_loc(t, i, fl, sizeof(fl), th->entry, sizeof(th->entry));
		}
	}
}

/* A step a fold may hide: its thread runs on, nothing to mark, not a
 * thread's creation, start or end. */
static bool show_plain(const struct show_view *v, uint32_t i)
{
	uint8_t op = v->t->steps[i].op;
	return !v->flags[i] && op != OP_START && op != OP_EXIT && op != OP_CREATE;
}

/* Marks switches, preemptions, sync points and faults, and the folds. */
static void show_classify(struct show_view *v, bool fold)
{
	const struct trace *t = v->t;
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		uint8_t f = 0;
		if (r->objk == 'f')
			f |= SF_FAULT | (r->op == OP_FAULT_FAIL ? SF_FAULT_FAIL : 0);
		else if (r->chosen != r->cur) {   /* a spinning thread's yield (fair) is no preemption */
			struct tset en;
			step_get_enabled(r, &en);
			f |= SF_SWITCH | (tset_has(&en, r->cur) && !r->fair ? SF_PREEMPT : 0);
		}
		if (r->objk == 'p')
			f |= SF_SYNC;
		v->flags[i] = f;
		v->switches += !!(f & SF_SWITCH);
		v->preempts += !!(f & SF_PREEMPT);
		v->syncs += !!(f & SF_SYNC);
		v->faults += !!(f & SF_FAULT);
	}
	if (!fold)
		return;
	for (uint32_t i = 0; i < t->nsteps;) {
		uint32_t j = i;
		while (j < t->nsteps && show_plain(v, j) && t->steps[j].chosen == t->steps[i].chosen)
			j++;
		if (j == i) {
			i++;
			continue;
		}
		if (j - i >= SHOW_FOLD_MIN) {
			uint32_t a = i + SHOW_FOLD_KEEP, b = j - SHOW_FOLD_KEEP;
			for (uint32_t k = a; k < b; k++)
				v->flags[k] |= SF_HIDDEN;
			v->flags[a] |= SF_FOLD;
			v->fold_len[a] = b - a;
		}
		i = j;
	}
}

/* Which thread the outcome belongs to: the one that ran last, unless nothing
 * ran (a deadlock: every thread waits) or the run was clean. */
static void show_outcome(struct show_view *v)
{
	const struct trace *t = v->t;
	v->failed = strcmp(t->outcome, "clean") != 0;
	v->fail_thread = -1;
	if (v->failed && t->nsteps && strcmp(t->outcome, "deadlock") != 0)
		v->fail_thread = t->steps[t->nsteps - 1].chosen;
}

/* The waits the run's log (TRACE.log, beside the trace) lists at a deadlock
 * or a hang: "  T1 waits: lock m2 (held by T2) at f.c:25 one". No log, none. */
static void show_waits(struct show_view *v)
{
	char path[PATH_MAX + 8], *line = NULL;
	size_t cap = 0;
	snprintf(path, sizeof(path), "%s.log", v->path);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	while (getline(&line, &cap, f) >= 0) {
		unsigned k;
		int off = 0;
		line[strcspn(line, "\n")] = '\0';
		if (sscanf(line, "  T%u waits: %n", &k, &off) == 1 && off > 0 && k < MODEL_MAX_THREADS && !v->waits[k]) {
			if (asprintf(&v->waits[k], "waits: %s", line + off) < 0)
				v->waits[k] = NULL;
			if (k + 1 > v->nthreads)
				v->nthreads = k + 1;
		} else if (strncmp(line, "wait-for cycle: ", 16) == 0 && !v->cycle[0])
			snprintf(v->cycle, sizeof(v->cycle), "%s", line);
	}
	free(line);
	fclose(f);
}

/* ---- the lanes ---- */

/* One output line: bytes, and the display column reached. */
struct show_line {
	char b[8192];
	size_t n;
	int col;
};

static void line_esc(struct show_line *l, bool on, const char *code)
{
	if (!on || l->n + strlen(code) + 1 >= sizeof(l->b))
		return;
	l->n += (size_t)snprintf(l->b + l->n, sizeof(l->b) - l->n, "%s", code);
}

/* Appends at most maxw characters of s (control bytes as '?'; a UTF-8
 * sequence counts as one character). */
static void line_put(struct show_line *l, const char *s, int maxw)
{
	for (; *s && l->n + 8 < sizeof(l->b); s++) {
		unsigned char c = (unsigned char)*s;
		bool cont = (c & 0xc0) == 0x80;
		if (!cont && maxw <= 0)
			break;
		l->b[l->n++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
		if (!cont) {
			maxw--;
			l->col++;
		}
	}
	l->b[l->n] = '\0';
}

static void line_pad(struct show_line *l, int col)
{
	while (l->col < col && l->n + 2 < sizeof(l->b)) {
		l->b[l->n++] = ' ';
		l->col++;
	}
	l->b[l->n] = '\0';
}

static void line_end(struct show_line *l, FILE *out)
{
	while (l->n && l->b[l->n - 1] == ' ')
		l->n--;
	l->b[l->n] = '\0';
	fprintf(out, "%s\n", l->b);
	l->n = 0;
	l->col = 0;
	l->b[0] = '\0';
}

static int show_chars(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

/* s cut to w characters, from the left when the start matters least
 * ("~" marks the cut); a sync point's brackets stay. */
static void show_cut_left(char *s, int w)
{
	int n = show_chars(s);
	bool br = s[0] == '[';
	if (n <= w || w < 3)
		return;
	char *p = s + br;
	for (int skip = n - (w - 1); skip > 0; p++)
		skip -= ((unsigned char)*p & 0xc0) != 0x80;
	while (((unsigned char)*p & 0xc0) == 0x80)
		p++;
	memmove(s + 1 + br, p, strlen(p) + 1);
	s[br] = '~';
}

/* "file:line" cut to w characters in the file's name: "lock_or~:46". */
static bool show_cut_file(char *fl, int w)
{
	char *colon = strrchr(fl, ':');
	int n = show_chars(fl);
	if (n <= w)
		return true;
	if (!colon || show_chars(colon) + 3 > w)
		return false;
	int keep = w - show_chars(colon) - 1;          /* characters of the name kept */
	char *p = fl;
	for (int k = 0; k < keep; p++)
		k += ((unsigned char)p[1] & 0xc0) != 0x80;
	memmove(p + 1, colon, strlen(colon) + 1);
	*p = '~';
	return true;
}

/*
 * The text of step i in at most w characters: operation and object, then
 * file:line, then the function when there is room. Too long, the function
 * goes first, then the file's name is cut (its line stays), then the
 * location, then the object's name is cut from the left (its end tells
 * points apart).
 */
static void show_text(const struct show_view *v, uint32_t i, int w, bool func, char *buf, size_t len)
{
	const struct step_rec *r = &v->t->steps[i];
	char head[512], fl[256], fn[256];
	show_head(r, head, sizeof(head));
	show_loc(v->t, i, fl, sizeof(fl), fn, sizeof(fn));
	int hl = show_chars(head), ll = show_chars(fl), fnl = show_chars(fn);
	if (func && fn[0] && hl + 1 + ll + 1 + fnl <= w) {
		snprintf(buf, len, "%s %s %s", head, fl, fn);
		return;
	}
	if (fl[0] && (hl + 1 + ll <= w || (w - hl - 1 >= 6 && show_cut_file(fl, w - hl - 1)))) {
		snprintf(buf, len, "%s %s", head, fl);
		return;
	}
	show_cut_left(head, w);
	snprintf(buf, len, "%s", head);
}

/* The drawing's geometry: full columns, or compact lanes and a text column. */
struct show_geom {
	int width, gutter, stepw;
	bool compact;
	int colw;                /* full columns: each thread's width */
	int lanew;               /* compact: each lane's width (0: no lanes) */
	int textcol;             /* compact: where the text starts */
};

static void show_geometry(const struct show_view *v, int width, struct show_geom *g)
{
	char num[16];
	g->width = width;
	g->stepw = snprintf(num, sizeof(num), "%u", v->t->nsteps ? v->t->nsteps - 1 : 0);
	if (g->stepw < 4)
		g->stepw = 4;
	g->gutter = g->stepw + 3;               /* "step" " " mark " " */
	unsigned n = v->nthreads ? v->nthreads : 1;
	g->colw = (width - g->gutter) / (int)n;
	g->compact = n > SHOW_MAX_COLS || g->colw < SHOW_MIN_COL;
	if (!g->compact)
		return;
	g->lanew = n > 10 ? 4 : 3;
	if ((int)n * g->lanew > (width - g->gutter) / 2)
		g->lanew = 0;                   /* too many: the text names the thread */
	g->textcol = g->gutter + (int)n * g->lanew + 1;
}

/* Is thread k running at step i: started, not yet exited. */
static bool show_alive(const struct show_view *v, unsigned k, uint32_t i)
{
	const struct show_thread *th = &v->th[k];
	int64_t from = k == 0 ? 0 : th->first;      /* the main thread runs from the start */
	return from >= 0 && (int64_t)i >= from && (th->exited < 0 || (int64_t)i <= th->exited);
}

/* Colour of a step's text (ANSI), "" none. */
static const char *show_color(const struct show_view *v, uint32_t i)
{
	uint8_t f = v->flags[i];
	if (f & SF_FAULT_FAIL)
		return "\033[1;31m";
	if (f & SF_FAULT)
		return "\033[33m";
	if (f & SF_SYNC)
		return "\033[1;36m";
	return "";
}

static char show_mark(uint8_t f)
{
	return f & SF_FAULT_FAIL ? '!' : f & SF_PREEMPT ? '*' : f & SF_SWITCH ? '>' : ' ';
}

/* The gutter: the step number (or a word) and a mark. */
static void show_gutter(struct show_line *l, const struct show_geom *g, const char *num, char mark, bool color)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%*s ", g->stepw, num);
	line_put(l, buf, g->stepw + 1);
	bool hi = color && mark != ' ';
	line_esc(l, hi, mark == '!' ? "\033[1;31m" : "\033[1;35m");
	char m[2] = { mark, 0 };
	line_put(l, m, 1);
	line_esc(l, hi, "\033[0m");
	line_pad(l, g->gutter);
}

/* The lanes of the threads other than `who` on a row at step i (':' alive). */
static void show_lanes(struct show_line *l, const struct show_view *v, const struct show_geom *g, uint32_t i,
		       int who, char self)
{
	for (unsigned k = 0; k < v->nthreads; k++) {
		line_pad(l, g->gutter + (int)k * g->lanew);
		char c[2] = { (int)k == who ? self : show_alive(v, k, i) ? ':' : ' ', 0 };
		line_put(l, c, 1);
	}
}

/* Compact lanes: a mark per thread ('o' the step's, '!' the outcome's),
 * then the text. */
static void show_row_compact(struct show_line *l, const struct show_view *v, const struct show_geom *g,
			     uint32_t i, int who)
{
	bool end = i >= v->t->nsteps;
	if (g->lanew && (!end || who >= 0))
		show_lanes(l, v, g, i, who, end ? '!' : 'o');
	line_pad(l, g->lanew && (!end || who >= 0) ? g->textcol : g->gutter);
	if (who >= 0 && !g->lanew) {
		char tn[8];
		snprintf(tn, sizeof(tn), "T%d ", who);
		line_put(l, tn, 8);
	}
}

/* Columns: the lanes left of who's column, its text, the lanes right of it;
 * the last column may run to the line's end. */
static void show_row_columns(struct show_line *l, const struct show_view *v, const struct show_geom *g,
			     uint32_t i, int who, const char *text, const char *color)
{
	bool hi = v->color && *color;
	for (unsigned k = 0; k < v->nthreads; k++) {
		line_pad(l, g->gutter + (int)k * g->colw);
		if ((int)k != who) {
			line_put(l, show_alive(v, k, i) ? ":" : " ", 1);
			continue;
		}
		int w = k + 1 == v->nthreads ? g->width - l->col : g->colw - 1;
		line_esc(l, hi, color);
		line_put(l, text, w);
		line_esc(l, hi, "\033[0m");
	}
}

/*
 * One row: the gutter (num, mark), then text in thread who's column or
 * lane. A row past the steps (the outcome, the waits) draws no lanes in
 * columns and starts in who's column, or earlier when the text would not
 * fit; who -1 (a deadlock's outcome): right after the gutter.
 */
static void show_row(FILE *out, const struct show_view *v, const struct show_geom *g, uint32_t i, const char *num,
		     char mark, int who, const char *text, const char *color)
{
	struct show_line l = { .n = 0 };
	bool hi = v->color && *color;
	show_gutter(&l, g, num, mark, v->color);
	if (!g->compact && who >= 0 && i < v->t->nsteps) {
		show_row_columns(&l, v, g, i, who, text, color);
		line_end(&l, out);
		return;
	}
	if (g->compact)
		show_row_compact(&l, v, g, i, who);
	else {
		int start = who < 0 ? g->gutter : g->gutter + who * g->colw, len = show_chars(text);
		if (start + len > g->width)
			start = g->width - len < g->gutter ? g->gutter : g->width - len;
		line_pad(&l, start);
	}
	line_esc(&l, hi, color);
	line_put(&l, text, g->width - l.col);
	line_esc(&l, hi, "\033[0m");
	line_end(&l, out);
}

/* A row past the steps in thread who's column, wrapped at spaces to stay
 * in it. */
static void show_wrapped(FILE *out, const struct show_view *v, const struct show_geom *g, int who, const char *text,
			 const char *color)
{
	int avail = g->compact ? g->width - (g->lanew ? g->textcol : g->gutter + 4)
			       : g->width - g->gutter - who * g->colw;
	char piece[1024];
	if (avail < 10)
		avail = 10;
	while (show_chars(text) > avail) {
		int cut = 0, chars = 0, lastsp = -1;
		for (; text[cut] && chars < avail; cut++) {
			chars += ((unsigned char)text[cut] & 0xc0) != 0x80;
			if (text[cut] == ' ')
				lastsp = cut;
		}
		if (lastsp > 0)
			cut = lastsp;
		snprintf(piece, sizeof(piece), "%.*s", cut, text);
		show_row(out, v, g, v->t->nsteps, "", ' ', who, piece, color);
		text += cut;
		while (*text == ' ')
			text++;
	}
	if (*text)
		show_row(out, v, g, v->t->nsteps, "", ' ', who, text, color);
}

/* The lanes' title: each thread's name (with the function it starts in,
 * when its column has room) over its column or lane, then a rule. */
static void show_title(FILE *out, const struct show_view *v, const struct show_geom *g)
{
	struct show_line l = { .n = 0 }, rule = { .n = 0 };
	static const char dashes[] = "--------------------------------------------------------------------------------";
	char buf[96];
	snprintf(buf, sizeof(buf), "%*s", g->stepw, "step");
	line_put(&l, buf, g->stepw);
	line_put(&rule, dashes, g->stepw);
	unsigned lanes = g->compact && !g->lanew ? 0 : v->nthreads;
	for (unsigned k = 0; k < lanes; k++) {
		int c0 = g->gutter + (int)k * (g->compact ? g->lanew : g->colw);
		int w = g->compact ? g->lanew - 1 : k + 1 == v->nthreads ? g->width - c0 : g->colw - 1;
		const char *e = v->th[k].entry;
		snprintf(buf, sizeof(buf), "T%u%s%s", k, e[0] && !g->compact ? " " : "", g->compact ? "" : e);
		if (show_chars(buf) > w)
			snprintf(buf, sizeof(buf), "T%u", k);
		line_pad(&l, c0);
		line_put(&l, buf, w);
		line_pad(&rule, c0);
		line_put(&rule, dashes, g->compact ? show_chars(buf) : w);
	}
	if (g->compact) {
		const char *what = g->lanew ? "op object file:line function" : "thread op object file:line function";
		line_pad(&l, g->lanew ? g->textcol : g->gutter);
		line_put(&l, what, g->width - l.col);
		line_pad(&rule, g->lanew ? g->textcol : g->gutter);
		line_put(&rule, dashes, show_chars(what) < g->width - rule.col ? show_chars(what) : g->width - rule.col);
	}
	line_end(&l, out);
	line_end(&rule, out);
}

/* s with its control characters (an argument's newline) as '?'. */
static void show_put_clean(FILE *out, const char *s)
{
	for (; *s; s++)
		fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* What the trace is: program, settings, outcome, counts, threads, marks. */
static void show_header(FILE *out, const struct show_view *v, const struct show_geom *g)
{
	const struct trace *t = v->t;
	fprintf(out, "trace    %s\n", v->path);
	fputs("program  ", out);
	show_put_clean(out, t->program);
	for (int i = 0; i < t->nargs; i++) {
		fputc(' ', out);
		show_put_clean(out, t->args[i]);
	}
	fprintf(out, "\n         build %s, strategy %s, seed %" PRIu64 "%s%s%s\n", t->build, t->strategy, t->seed,
		strcmp(t->preempt, "mem") == 0 ? ", memory points on" : "", t->faults[0] ? ", faults " : "",
		t->faults);
	if (t->faults[0] && t->fault_points[0] && strcmp(t->fault_points, "*"))
		fprintf(out, "         fault points %s\n", t->fault_points);
	fprintf(out, "outcome  %s\n", t->outcome[0] ? t->outcome : "(none recorded)");
	fprintf(out, "steps    %u, %u thread%s, %u switch%s (%u preemption%s), %u sync point%s, %u fault decision%s\n",
		t->nsteps, v->nthreads, v->nthreads == 1 ? "" : "s", v->switches, v->switches == 1 ? "" : "es",
		v->preempts, v->preempts == 1 ? "" : "s", v->syncs, v->syncs == 1 ? "" : "s", v->faults,
		v->faults == 1 ? "" : "s");
	for (unsigned k = 0; k < v->nthreads; k++) {
		const struct show_thread *th = &v->th[k];
		fprintf(out, "  T%-3u", k);
		if (k == 0)
			fputs(" the main thread", out);
		else if (th->created >= 0)
			fprintf(out, " created by T%d (its create: step %" PRId64 ")", th->creator, th->created);
		if (th->first >= 0)
			fprintf(out, ", steps %" PRId64 "-%" PRId64, th->first, th->last);
		else
			fputs(", never ran", out);
		if (th->entry[0])
			fprintf(out, ", first in %s", th->entry);
		if (th->exited >= 0)
			fprintf(out, ", exits at step %" PRId64, th->exited);
		fputc('\n', out);
	}
	fprintf(out, "marks    > switch  * preemption  ! fault failed / the failure  [name] sync point%s\n",
		g->compact && g->lanew ? "  o the step's thread  : alive" : g->compact ? "" : "  : alive");
	fputc('\n', out);
}

static void show_lanes_print(FILE *out, const struct show_view *v, const struct show_geom *g)
{
	const struct trace *t = v->t;
	char text[1024], num[24];
	int w = g->compact ? g->width - (g->lanew ? g->textcol : g->gutter + 4) : g->colw - 1;
	show_header(out, v, g);
	show_title(out, v, g);
	for (uint32_t i = 0; i < t->nsteps; i++) {
		const struct step_rec *r = &t->steps[i];
		int who = r->chosen;
		int wi = g->compact || who + 1 < (int)v->nthreads ? w : g->width - g->gutter - who * g->colw;
		if (v->flags[i] & SF_FOLD) {
			snprintf(text, sizeof(text), "... %u steps of T%d ...", v->fold_len[i], who);
			if (show_chars(text) > wi)
				snprintf(text, sizeof(text), "... %u ...", v->fold_len[i]);
			show_row(out, v, g, i, "", ' ', who, text, "\033[2m");
		}
		if (v->flags[i] & SF_HIDDEN)
			continue;
		snprintf(num, sizeof(num), "%u", i);
		show_text(v, i, wi, true, text, sizeof(text));
		show_row(out, v, g, i, num, show_mark(v->flags[i]), who, text, show_color(v, i));
	}
	if (!t->nsteps)
		fputs("(no steps)\n", out);
	snprintf(text, sizeof(text), "%s %s", v->failed ? "==>" : "---", t->outcome[0] ? t->outcome : "?");
	show_row(out, v, g, t->nsteps, "end", v->failed ? '!' : ' ', v->fail_thread, text,
		 v->failed ? "\033[1;31m" : "");
	for (unsigned k = 0; k < v->nthreads; k++)
		if (v->waits[k])
			show_wrapped(out, v, g, (int)k, v->waits[k], "\033[31m");
	if (v->cycle[0])
		show_row(out, v, g, t->nsteps, "", ' ', -1, v->cycle, "\033[31m");
}

/* ---- the Chrome trace-event format ---- */

/* The length of the valid UTF-8 sequence at s, 0 if it is not one. */
static int utf8_len(const unsigned char *s)
{
	int n = s[0] >= 0xc2 && s[0] <= 0xdf ? 2 : s[0] >= 0xe0 && s[0] <= 0xef ? 3
		: s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : 0;
	for (int k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* s as a JSON string; a byte that is not UTF-8 becomes U+FFFD. */
static void json_str(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int n = *p >= 0x80 ? utf8_len(p) : 1;
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\u%04x", *p);
		else if (n == 0)
			fputs("\\ufffd", out);
		else {
			fwrite(p, 1, (size_t)n, out);
			p += n - 1;
		}
	}
	fputc('"', out);
}

/* The start of an event: name, ph, ts, pid, tid (the fields every event has). */
static void json_event(FILE *out, bool *first, const char *name, const char *ph, uint64_t ts, unsigned thread)
{
	fputs(*first ? "\n  {" : ",\n  {", out);
	*first = false;
	fputs("\"name\": ", out);
	json_str(out, name);
	fprintf(out, ", \"ph\": \"%s\", \"ts\": %" PRIu64 ", \"pid\": 1, \"tid\": %u", ph, ts, thread + 1);
}

static void json_threads(FILE *out, const struct show_view *v, bool *first)
{
	const char *base = strrchr(v->t->program, '/');
	json_event(out, first, "process_name", "M", 0, 0);
	fputs(", \"args\": {\"name\": ", out);
	json_str(out, base ? base + 1 : v->t->program);
	fputs("}}", out);
	for (unsigned k = 0; k < v->nthreads; k++) {
		char name[96];
		snprintf(name, sizeof(name), "T%u%s%s", k, v->th[k].entry[0] ? " " : "", v->th[k].entry);
		json_event(out, first, "thread_name", "M", 0, k);
		fputs(", \"args\": {\"name\": ", out);
		json_str(out, name);
		fputs("}}", out);
		json_event(out, first, "thread_sort_index", "M", 0, k);
		fprintf(out, ", \"args\": {\"sort_index\": %u}}", k);
	}
}

/* Step i: a complete event on its thread's track, one microsecond per step. */
static void json_step(FILE *out, const struct show_view *v, uint32_t i, bool *first)
{
	const struct step_rec *r = &v->t->steps[i];
	char name[512], fl[256], fn[256];
	if (r->objk == 'p')
		snprintf(name, sizeof(name), "sync %s", r->name ? r->name : "?");
	else if (r->objk == 'f')
		snprintf(name, sizeof(name), "%s %s#%d", op_kind_name((enum op_kind)r->op), r->name ? r->name : "?",
			 r->obj);
	else
		show_head(r, name, sizeof(name));
	show_loc(v->t, i, fl, sizeof(fl), fn, sizeof(fn));
	uint8_t f = v->flags[i];
	json_event(out, first, name, "X", i, r->chosen);
	fprintf(out, ", \"dur\": 1, \"cat\": \"%s\", \"args\": {\"step\": %u, \"from\": \"T%d\", ",
		f & SF_SYNC ? "sync" : f & SF_FAULT ? "fault" : r->op == OP_MEM ? "mem" : "step", i, r->cur);
	fprintf(out, "\"switch\": \"%s\", ", f & SF_PREEMPT ? "preemption" : f & SF_SWITCH ? "switch" : "none");
	fputs("\"location\": ", out);
	json_str(out, fl);
	fputs(", \"function\": ", out);
	json_str(out, fn);
	fprintf(out, ", \"enabled\": \"0x%" PRIx64 "\", \"virtual_ns\": %" PRId64 ", \"decision\": \"%c%u\"}}", r->enabled,
		r->now, r->key_mem ? 'm' : 's', r->key);
	if (!(f & (SF_SYNC | SF_FAULT)))
		return;
	snprintf(name, sizeof(name), "%s %s", f & SF_SYNC ? "sync point" : r->op == OP_FAULT_FAIL ? "fault FAILED" :
		 "fault passed", r->name ? r->name : "?");
	json_event(out, first, name, "i", i, r->chosen);
	fputs(", \"s\": \"t\", \"cat\": ", out);
	fputs(f & SF_SYNC ? "\"sync\"" : "\"fault\"", out);
	fprintf(out, ", \"args\": {\"step\": %u, \"location\": ", i);
	json_str(out, fl);
	fputs("}}", out);
}

static void show_json(FILE *out, const struct show_view *v)
{
	const struct trace *t = v->t;
	bool first = true;
	fputs("{\"traceEvents\": [", out);
	json_threads(out, v, &first);
	for (uint32_t i = 0; i < t->nsteps; i++)
		json_step(out, v, i, &first);
	/* the outcome: on the thread that ran last, or global (a deadlock) */
	json_event(out, &first, t->outcome[0] ? t->outcome : "?", "i", t->nsteps,
		   v->fail_thread >= 0 ? (unsigned)v->fail_thread : 0);
	fprintf(out, ", \"s\": \"%s\", \"cat\": \"%s\", \"args\": {\"outcome\": ", v->fail_thread >= 0 ? "t" : "g",
		v->failed ? "failure" : "end");
	json_str(out, t->outcome);
	fputs("}}", out);
	for (unsigned k = 0; k < v->nthreads; k++) {
		if (!v->waits[k])
			continue;
		json_event(out, &first, v->waits[k], "i", t->nsteps, k);
		fputs(", \"s\": \"t\", \"cat\": \"failure\", \"args\": {\"cycle\": ", out);
		json_str(out, v->cycle);
		fputs("}}", out);
	}
	fputs("\n], \"displayTimeUnit\": \"ms\", \"otherData\": {\"clock\": \"one microsecond per step\", "
	      "\"program\": ", out);
	json_str(out, t->program);
	fputs(", \"build\": ", out);
	json_str(out, t->build);
	fputs(", \"strategy\": ", out);
	json_str(out, t->strategy);
	fprintf(out, ", \"seed\": \"%" PRIu64 "\", \"outcome\": ", t->seed);
	json_str(out, t->outcome);
	fputs(", \"faults\": ", out);
	json_str(out, t->faults);
	fputs(", \"preempt\": ", out);
	json_str(out, t->preempt[0] ? t->preempt : "sync");
	fputs("}}\n", out);
}

/* ---- the command ---- */

/* --width, else COLUMNS, else the terminal's, else 100; within [40, 1000]. */
static int show_width(const char *opt)
{
	long w = 0;
	const char *c = getenv("COLUMNS");
	struct winsize ws;
	if (opt) {
		char *e;
		errno = 0;
		w = strtol(opt, &e, 10);
		if (errno || *e || e == opt || w < 40 || w > 1000)
			die_usage("show", "--width %s: expected a number of characters from 40 to 1000", opt);
		return (int)w;
	}
	if (c && *c)
		w = strtol(c, NULL, 10);
	if (w <= 0 && isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
		w = ws.ws_col;
	if (w <= 0)
		w = 100;
	return w < 40 ? 40 : w > 1000 ? 1000 : (int)w;
}

/* Reads the trace: 0, or 2 with the message printed. */
static int show_read(const char *path, struct trace *t)
{
	char err[600];
	if (read_trace_file(path, t, err, sizeof(err))) {
		fprintf(stderr, "migrace show: %s: %s\n", path, err);
		return 2;
	}
	return 0;
}

static int show_main(int argc, char **argv)
{
	const char *out_path = NULL, *width_opt = NULL;
	bool json = false, fold = true;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", show_opts, NULL)) != -1) {
		switch (c) {
		case S_JSON: json = true; break;
		case S_OUT: out_path = optarg; break;
		case S_WIDTH: width_opt = optarg; break;
		case S_ALL: fold = false; break;
		case 'h':
		case S_HELP: fputs(show_help, stdout); return 0;
		default: die_usage("show", "unknown or incomplete option");
		}
	}
	if (optind >= argc)
		die_usage("show", "no trace given: migrace show TRACE");
	if (optind + 1 < argc)
		die_usage("show", "one trace at a time, not '%s' too", argv[optind + 1]);
	int width = show_width(width_opt);

	struct trace t;
	if (show_read(argv[optind], &t))
		return 2;
	struct show_view v = { .t = &t, .path = argv[optind] };
	v.flags = calloc(t.nsteps ? t.nsteps : 1, sizeof(*v.flags));
	v.fold_len = calloc(t.nsteps ? t.nsteps : 1, sizeof(*v.fold_len));
	FILE *out = stdout;
	int rc = 2;
	if (!v.flags || !v.fold_len) {
		fprintf(stderr, "migrace show: out of memory for %u steps\n", t.nsteps);
		goto out;
	}
	struct stat a, b;
	if (out_path && stat(out_path, &a) == 0 && stat(argv[optind], &b) == 0 && a.st_dev == b.st_dev &&
	    a.st_ino == b.st_ino) {
		fprintf(stderr, "migrace show: --out %s is the trace itself\n", out_path);
		goto out;
	}
	if (out_path && !(out = fopen(out_path, "w"))) {
		fprintf(stderr, "migrace show: cannot write %s: %s\n", out_path, strerror(errno));
		out = stdout;
		goto out;
	}
	show_threads(&v);
	show_waits(&v);
	show_classify(&v, fold);
	show_outcome(&v);
	v.color = !json && !out_path && isatty(STDOUT_FILENO) && !getenv("NO_COLOR");
	if (json)
		show_json(out, &v);
	else {
		struct show_geom g;
		show_geometry(&v, width, &g);
		show_lanes_print(out, &v, &g);
	}
	rc = 0;
	if (fflush(out) || ferror(out)) {
		fprintf(stderr, "migrace show: cannot write %s: %s\n", out_path ? out_path : "the output",
			strerror(errno));
		rc = 2;
	}
out:
	if (out != stdout)
		fclose(out);
	for (unsigned k = 0; k < MODEL_MAX_THREADS; k++)
		free(v.waits[k]);
	free(v.flags);
	free(v.fold_len);
	trace_free(&t);
	return rc;
}

const struct command cmd_show = { "show", show_main, show_help };
