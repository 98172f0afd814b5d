/*
 * Outcome signatures: `clean`, `tsan:<kind>@<function>`,
 * `asan:<kind>@<function>`, `ubsan:<kind>@<file:line>`, `assert:<expression>`,
 * `signal:<name>`, `deadlock`, `hang`, `invariant:<name>`, `misuse:<what>`,
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
	const char *k = re + strlen(": runtime error: ");
	const char *ke = k;
	/* the kind is the leading words, before any value of this run (an
	 * address, a number, a quoted type) that would make it unstable */
	while (*ke && *ke != ':' && *ke != '\n' && *ke != '(' && *ke != '\'' &&
	       !(*ke >= '0' && *ke <= '9') && *ke != ',')
		ke++;
	char kind[96];
	copy_trim(kind, sizeof(kind), k, ke);
	for (char *q = kind; *q; q++)
		if (*q == ' ')
			*q = '-';
	snprintf(sig, len, "ubsan:%s@%s", kind, loc);
	return true;
}

#define RT_SOURCE_DIR "/harness/rt/"   /* frames of libmigrace-rt itself */

/* Frames of the sanitizer, libc's pthread or migrace's wrappers: a report
 * that ends in one (TSan's lock-order inversion does) is about its caller. */
static bool is_runtime_frame(const char *fn)
{
	static const char *const prefixes[] = { "__interceptor_", "__wrap_", "__tsan", "__asan", "__sanitizer",
						"pthread_", "sem_", "<null>" };
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(fn, prefixes[i], strlen(prefixes[i])) == 0)
			return true;
	return false;
}

static bool is_allocator_frame(const char *fn)
{
	static const char *const alloc[] = { "malloc", "calloc", "realloc", "free", "strdup", "strndup",
					     "operator new", "posix_memalign", "aligned_alloc", "__libc_" };
	for (size_t i = 0; i < sizeof(alloc) / sizeof(alloc[0]); i++)
		if (strncmp(fn, alloc[i], strlen(alloc[i])) == 0)
			return true;
	return is_runtime_frame(fn);
}

/* The first stack frame ("#N [0xADDR in ]FUNC ...") of the report, from
 * `from` on, whose function `skip` does not reject and which is not in the
 * runtime's own sources. Returns false, leaving fn alone, when there is none. */
static bool first_frame(const char *from, bool (*skip)(const char *), char *fn, size_t len)
{
	for (const char *p = strstr(from, "    #"); p; p = strstr(p + 1, "    #")) {
		const char *e = line_end(p);
		const char *f = p + 5;
		while (f < e && *f != ' ')
			f++;                     /* past "#N" */
		while (f < e && *f == ' ')
			f++;
		if (strncmp(f, "0x", 2) == 0) {  /* ASan style: "#1 0xADDR in FUNC" */
			const char *in = strstr(f, " in ");
			if (!in || in > e)
				continue;
			f = in + 4;
		}
		const char *fe = f;
		while (fe < e && *fe != ' ')
			fe++;
		char cand[128];
		copy_trim(cand, sizeof(cand), f, fe);
		bool in_rt = strstr(fe, RT_SOURCE_DIR) && strstr(fe, RT_SOURCE_DIR) < e;
		if (cand[0] && !in_rt && !skip(cand)) {
			snprintf(fn, len, "%s", cand);
			return true;
		}
	}
	return false;
}

static bool sanitizer_signature(const char *out, char *sig, size_t len)
{
	static const struct { const char *tool, *prefix; } tools[] = {
		{ "ThreadSanitizer: ", "tsan" }, { "AddressSanitizer: ", "asan" },
		{ "LeakSanitizer: ", "asan" }, { "UndefinedBehaviorSanitizer: ", "ubsan" },
	};

	for (const char *p = strstr(out, "SUMMARY: "); p; p = strstr(p + 1, "SUMMARY: ")) {
		const char *rest = p + 9;
		for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++) {
			size_t tl = strlen(tools[i].tool);
			if (strncmp(rest, tools[i].tool, tl) != 0)
				continue;
			if (strcmp(tools[i].prefix, "ubsan") == 0 && ubsan_signature(out, sig, len))
				return true;
			const char *b = rest + tl, *e = line_end(b);
			char kind[96], fn[128] = "";
			/* the last " in " separates the function */
			const char *in = NULL;
			for (const char *q = b; q && q < e; q = strstr(q + 1, " in "))
				if (q > b && q + 4 <= e && strncmp(q, " in ", 4) == 0)
					in = q;
			if (strstr(b, "leaked in") && strstr(b, "leaked in") < e) {
				const char *leak = strstr(out, "Direct leak of");
				snprintf(kind, sizeof(kind), "memory-leak");
				if (!leak)
					leak = strstr(out, "Indirect leak of");
				if (leak)
					first_frame(leak, is_allocator_frame, fn, sizeof(fn));
			} else {
				summary_kind(kind, sizeof(kind), b, in ? in : e);
				if (in)
					copy_trim(fn, sizeof(fn), in + 4, e);
			}
			const char *loc_rt = strstr(b, RT_SOURCE_DIR);
			if (is_runtime_frame(fn) || (loc_rt && loc_rt < e))
				first_frame(out, is_runtime_frame, fn, sizeof(fn));
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
