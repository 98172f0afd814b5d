/*
 * Outcome signatures: `clean`, `tsan:<kind>@<function>`,
 * `asan:<kind>@<function>`, `ubsan:<kind>@<file:line>`, `assert:<expression>`,
 * `signal:<name>`, `deadlock`, `hang`, `spin@<file:line>` (the fork server's,
 * spin.c), `invariant:<name>`, `misuse:<what>`,
 * `unreached:<sync point>`, `divergence`, `exit:<code>`.
 */
#define _GNU_SOURCE
#include "classify.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static const char *line_end(const char *p)
{
	const char *e = strchr(p, '\n');
	return e ? e : p + strlen(p);
}

/* The first s in [b, e), or NULL: a search that stops at the line's end,
 * where strstr would go on through the rest of the output. */
static const char *find_in(const char *b, const char *e, const char *s)
{
	return b < e ? memmem(b, (size_t)(e - b), s, strlen(s)) : NULL;
}

static bool is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Copies [b, e) into out, trimming blanks at both ends. */
static void copy_trim(char *out, size_t len, const char *b, const char *e)
{
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '.'))
		e--;
	size_t n = (size_t)(e - b) < len - 1 ? (size_t)(e - b) : len - 1;
	memcpy(out, b, n);
	out[n] = '\0';
}

static bool is_location(const char *tok, size_t n)
{
	return memchr(tok, '/', n) || memchr(tok, ':', n) || tok[0] == '(' || memchr(tok, '+', n);
}

/* "data race /x.c:3:4" -> "data-race"; drops the location and any
 * parenthesised remark such as "(potential deadlock)". */
static void summary_kind(char *out, size_t len, const char *b, const char *e)
{
	size_t o = 0;
	int paren = 0;
	const char *p = b;

	while (p < e) {
		while (p < e && *p == ' ')
			p++;
		const char *t = p;
		while (p < e && *p != ' ')
			p++;
		size_t n = (size_t)(p - t);
		if (!n)
			break;
		if (t[0] == '(')
			paren++;
		bool skip = paren > 0 || is_location(t, n);
		if (t[n - 1] == ')' && paren > 0)
			paren--;
		if (skip)
			continue;
		if (o && o < len - 1)
			out[o++] = '-';
		for (size_t i = 0; i < n && o < len - 1; i++)
			out[o++] = t[i];
	}
	out[o] = '\0';
}

/* A word of a UBSan message that is a value of this run: a number (signed,
 * hexadecimal, floating, "32-bit"), inf or nan. */
static bool is_value_word(const char *w, size_t n)
{
	size_t i = w[0] == '-' || w[0] == '+' ? 1 : 0;
	if (i < n && ((w[i] >= '0' && w[i] <= '9') || w[i] == '.'))
		return true;
	return n - i >= 3 && (strncmp(w + i, "inf", 3) == 0 || strncmp(w + i, "nan", 3) == 0) &&
	       (n - i == 3 || !is_ident(w[i + 3]));
}

/* The kind of the UBSan message at k: its leading words up to the first value
 * of this run (a number, a quoted type, a parenthesis) or the end of a phrase
 * (':', ',', ';'), joined by '-'. "index 5 out of bounds" and "index -1 out of
 * bounds" are both "index"; a message that starts with a value ("1e+10 is
 * outside the range ...") takes the words after it. */
static void ubsan_kind(char *out, size_t len, const char *k)
{
	const char *e = line_end(k), *p = k;
	size_t o = 0;

	while (p < e) {
		while (p < e && *p == ' ')
			p++;
		const char *w = p;
		while (p < e && *p != ' ')
			p++;
		size_t n = (size_t)(p - w);
		if (!n)
			break;
		if (is_value_word(w, n)) {
			if (o)
				break;
			continue;
		}
		if (*w == '\'' || *w == '(')
			break;
		size_t m = 0;
		while (m < n && !strchr(":,;('", w[m]))
			m++;
		if (m && o && o < len - 1)
			out[o++] = '-';
		for (size_t i = 0; i < m && o < len - 1; i++)
			out[o++] = w[i];
		if (m < n)
			break;
	}
	out[o] = '\0';
}

static bool ubsan_signature(const char *out, char *sig, size_t len)
{
	const char *re = strstr(out, ": runtime error: ");
	if (!re)
		return false;
	const char *ls = re;
	while (ls > out && ls[-1] != '\n')
		ls--;
	const char *base = ls;
	for (const char *q = ls; q < re; q++)
		if (*q == '/')
			base = q + 1;
	/* file:line:col -> file:line */
	char loc[128];
	copy_trim(loc, sizeof(loc), base, re);
	char *c = strrchr(loc, ':');
	if (c && strchr(loc, ':') != c)
		*c = '\0';
	char kind[96];
	ubsan_kind(kind, sizeof(kind), re + strlen(": runtime error: "));
	snprintf(sig, len, "ubsan:%s@%s", kind, loc);
	return true;
}

#define RT_SOURCE_DIR "/harness/rt/"   /* frames of libmigrace-rt itself */

static bool has_prefix(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strncmp(s, list[i], strlen(list[i])) == 0)
			return true;
	return false;
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Functions that are plumbing, not the program: the sanitizers and their
 * interceptors, migrace's wrappers and runtime, libc, libstdc++ and the
 * allocator. A report that ends in one is about the first frame below it. */
static bool is_plumbing_fn(const char *fn)
{
	static const char *const prefixes[] = {
		"__interceptor_", "__wrap_", "__real_", "__tsan", "__asan", "__lsan", "__ubsan", "__msan",
		"__sanitizer", "__interception", "ubsan_", "__libc_", "__GI_", "_dl_", "__pthread", "pthread_",
		"sem_", "operator new", "operator delete", "std::", "__gnu_cxx::", "__cxa_", "__cxxabiv1",
		"_Unwind_", "<null>", "rt_thread_trampoline",
	};
	static const char *const names[] = {
		"malloc", "calloc", "realloc", "reallocarray", "free", "cfree", "strdup", "strndup",
		"posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc", "memcpy", "memmove",
		"memset", "memcmp", "bcmp", "memchr", "memrchr", "strlen", "strnlen", "strcpy", "strncpy",
		"stpcpy", "strcat", "strncat", "strcmp", "strncmp", "strcasecmp", "strchr", "strrchr",
		"strstr", "strtok", "strtok_r", "sprintf", "snprintf", "vsprintf", "vsnprintf", "printf",
		"fprintf", "vfprintf", "puts", "fputs", "fwrite", "fread", "qsort", "bsearch", "abort",
		"raise", "exit", "_exit", "__assert_fail", "start_thread", "clone", "clone3", "__clone",
		"_start",
	};
	if (!fn[0] || has_prefix(fn, prefixes, N_OF(prefixes)))
		return true;
	for (size_t i = 0; i < N_OF(names); i++)
		if (strcmp(fn, names[i]) == 0)
			return true;
	return false;
}

/* A frame's location that is not the program's: migrace's runtime sources,
 * a shared library of the system or of the sanitizers, no module at all. */
static bool is_plumbing_loc(const char *loc, const char *e)
{
	static const char *const where[] = {
		RT_SOURCE_DIR, "libc.so", "libstdc++.so", "libgcc_s.so", "libm.so", "libpthread.so",
		"ld-linux", "libasan.so", "libtsan.so", "libubsan.so", "liblsan.so", "<unknown module>",
	};
	for (size_t i = 0; i < N_OF(where); i++)
		if (find_in(loc, e, where[i]))
			return true;
	return false;
}

/* The end of a function name that starts at f: a demangled C++ name holds
 * spaces inside its brackets ("ns::f(int, char*)"), after "operator" ("operator
 * new(unsigned long)") and before a qualifier ("C::get() const"). */
static const char *func_end(const char *f, const char *e)
{
	int depth = 0;
	const char *q = f;

	while (q < e) {
		if (strncmp(q, "operator", 8) == 0 && (q == f || !is_ident(q[-1])) && (q + 8 >= e || !is_ident(q[8]))) {
			q += 8;
			if (q < e && *q == ' ')
				q++;                      /* operator new, operator bool */
			while (q < e && strchr("<>=!+-*/%^&|~,", *q))
				q++;                      /* operator<<, operator->, ... */
			continue;
		}
		if (*q == '(' || *q == '<' || *q == '[')
			depth++;
		else if ((*q == ')' || *q == '>' || *q == ']') && depth > 0)
			depth--;
		else if (*q == ' ' && depth == 0) {
			if (strncmp(q, " const", 6) == 0 && (q + 6 >= e || q[6] == ' ')) {
				q += 6;
				continue;
			}
			break;
		}
		q++;
	}
	return q;
}

/* Parses the frame line at p ("    #N [0xADDR in ]FUNC LOCATION"): its
 * function (empty when unknown) into fn, and where its location starts. */
static void parse_frame(const char *p, const char *e, char *fn, size_t len, const char **loc)
{
	const char *f = p + 5;
	while (f < e && *f != ' ')
		f++;                             /* past "#N" */
	while (f < e && *f == ' ')
		f++;
	fn[0] = '\0';
	*loc = f;
	if (strncmp(f, "0x", 2) == 0) {          /* ASan style: "#1 0xADDR in FUNC" */
		const char *in = find_in(f, e, " in ");
		if (!in)
			return;                      /* "#0 0x0  (<unknown module>)" */
		f = in + 4;
	}
	const char *fe = func_end(f, e);
	copy_trim(fn, len, f, fe);
	*loc = fe;
}

static bool is_frame_line(const char *p)
{
	return strncmp(p, "    #", 5) == 0 && p[5] >= '0' && p[5] <= '9';
}

/* The first frame of the program in the stacks of the report from `from` on
 * (a stack's frames are consecutive "    #N" lines), skipping the stacks of
 * thread and mutex creation (TSan's "created by ... at:"), which say where a
 * thread came from, not where the bug is. False, fn untouched, when none. */
static bool program_frame(const char *from, char *fn, size_t len)
{
	bool skip_stack = false;

	for (const char *p = from; *p; p = *line_end(p) ? line_end(p) + 1 : line_end(p)) {
		const char *e = line_end(p);
		if (!is_frame_line(p)) {
			skip_stack = find_in(p, e, " created ") != NULL;
			continue;
		}
		if (skip_stack)
			continue;
		char cand[256];
		const char *loc;
		parse_frame(p, e, cand, sizeof(cand), &loc);
		if (!is_plumbing_fn(cand) && !is_plumbing_loc(loc, e)) {
			snprintf(fn, len, "%s", cand);
			return true;
		}
	}
	return false;
}

/* Where the report that ends in the SUMMARY at p starts: its "WARNING: " or
 * "ERROR: " line (the last one before p), else the start of the output. */
static const char *report_start(const char *out, const char *p)
{
	const char *start = out;
	for (const char *q = strstr(out, "ERROR: "); q && q < p; q = strstr(q + 1, "ERROR: "))
		start = q;
	for (const char *q = strstr(out, "WARNING: "); q && q < p; q = strstr(q + 1, "WARNING: "))
		if (q > start)
			start = q;
	return start;
}

/* The kind and function of a SUMMARY line's text [b, e) ("data race
 * /x.c:3:4 in f", "40 byte(s) leaked in 1 allocation(s)."); the function is
 * the program's first frame when the summary names plumbing or none. */
static void summary_parts(const char *out, const char *b, const char *e, char *kind, size_t klen,
			  char *fn, size_t flen)
{
	const char *in = NULL, *start = report_start(out, b);

	fn[0] = '\0';
	if (find_in(b, e, "leaked in")) {
		const char *leak = strstr(out, "Direct leak of");
		snprintf(kind, klen, "memory-leak");
		if (!leak)
			leak = strstr(out, "Indirect leak of");
		if (leak)
			program_frame(leak, fn, flen);
		return;
	}
	/* the last " in " separates the function */
	for (const char *q = find_in(b, e, " in "); q; q = find_in(q + 1, e, " in "))
		in = q;
	summary_kind(kind, klen, b, in ? in : e);
	if (in)
		copy_trim(fn, flen, in + 4, e);
	if (is_plumbing_fn(fn) || is_plumbing_loc(b, in ? in : e)) {
		fn[0] = '\0';
		program_frame(start, fn, flen);
	}
}

static bool sanitizer_signature(const char *out, char *sig, size_t len)
{
	static const struct { const char *tool, *prefix; } tools[] = {
		{ "ThreadSanitizer: ", "tsan" }, { "AddressSanitizer: ", "asan" },
		{ "LeakSanitizer: ", "asan" }, { "UndefinedBehaviorSanitizer: ", "ubsan" },
	};

	for (const char *p = strstr(out, "SUMMARY: "); p; p = strstr(p + 1, "SUMMARY: ")) {
		const char *rest = p + 9;
		for (size_t i = 0; i < N_OF(tools); i++) {
			size_t tl = strlen(tools[i].tool);
			if (strncmp(rest, tools[i].tool, tl) != 0)
				continue;
			if (strcmp(tools[i].prefix, "ubsan") == 0 && ubsan_signature(out, sig, len))
				return true;
			const char *b = rest + tl;
			char kind[96], fn[256];
			summary_parts(out, b, line_end(b), kind, sizeof(kind), fn, sizeof(fn));
			if (fn[0])
				snprintf(sig, len, "%s:%s@%s", tools[i].prefix, kind, fn);
			else
				snprintf(sig, len, "%s:%s", tools[i].prefix, kind);
			return true;
		}
	}
	return false;
}

static bool assert_signature(const char *out, char *sig, size_t len)
{
	const char *a = strstr(out, "Assertion `");
	if (!a)
		return false;
	a += strlen("Assertion `");
	const char *e = strstr(a, "' failed");
	if (!e || line_end(a) < e)
		return false;
	char expr[256];
	copy_trim(expr, sizeof(expr), a, e);
	snprintf(sig, len, "assert:%s", expr);
	return true;
}

/* MIGRACE_INVARIANT in a program running without the runtime (real
 * threads): "migrace: invariant:<name> broken at ...". */
static bool invariant_signature(const char *out, char *sig, size_t len)
{
	const char *a = strstr(out, "migrace: invariant:");
	if (!a)
		return false;
	a += strlen("migrace: ");
	const char *e = strstr(a, " broken at ");
	if (!e || line_end(a) < e)
		return false;
	copy_trim(sig, len, a, e);
	return true;
}

bool classify(const struct run_end *end, char *sig, size_t len)
{
	const char *out = end->output ? end->output : "";
	const char *rt = end->rt_outcome ? end->rt_outcome : "";
	bool misuse = strncmp(rt, "misuse:", 7) == 0;

	if (end->timed_out) {
		snprintf(sig, len, "hang");
		return true;
	}
	if (rt[0] && !misuse) {
		snprintf(sig, len, "%s", rt);
		return true;
	}
	if (sanitizer_signature(out, sig, len) || assert_signature(out, sig, len) ||
	    invariant_signature(out, sig, len))
		return true;
	if (misuse) {
		snprintf(sig, len, "%s", rt);
		return true;
	}
	if (WIFSIGNALED(end->wait_status)) {
		const char *name = sigabbrev_np(WTERMSIG(end->wait_status));
		if (name)
			snprintf(sig, len, "signal:SIG%s", name);
		else
			snprintf(sig, len, "signal:%d", WTERMSIG(end->wait_status));
		return true;
	}
	if (WIFEXITED(end->wait_status) && WEXITSTATUS(end->wait_status) != 0) {
		snprintf(sig, len, "exit:%d", WEXITSTATUS(end->wait_status));
		return true;
	}
	snprintf(sig, len, "clean");
	return false;
}

bool signature_matches(const char *sig, const char *pattern)
{
	size_t n = strlen(pattern);
	if (n && pattern[n - 1] == '*')
		return strncmp(sig, pattern, n - 1) == 0;
	return strcmp(sig, pattern) == 0;
}
