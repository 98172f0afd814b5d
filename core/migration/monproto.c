/*
 * The monitor protocol's messages: building, formatting and parsing the flat
 * one-line JSON objects of monproto.h. No I/O here.
 */
#include "monproto.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_name(struct mon_msg *m, const char *name)
{
	snprintf(m->name, sizeof(m->name), "%s", name);
}

void mon_msg_cmd(struct mon_msg *m, uint64_t id, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->kind = MON_CMD;
	m->id = id;
	set_name(m, name);
}

void mon_msg_ret(struct mon_msg *m, uint64_t id)
{
	memset(m, 0, sizeof(*m));
	m->kind = MON_RET;
	m->id = id;
}

void mon_msg_err(struct mon_msg *m, uint64_t id, const char *cls, const char *desc)
{
	memset(m, 0, sizeof(*m));
	m->kind = MON_ERR;
	m->id = id;
	set_name(m, cls);
	if (desc)
		mon_msg_set(m, "desc", "%s", desc);
}

void mon_msg_evt(struct mon_msg *m, const char *name)
{
	memset(m, 0, sizeof(*m));
	m->kind = MON_EVT;
	set_name(m, name);
}

int mon_msg_set(struct mon_msg *m, const char *key, const char *fmt, ...)
{
	va_list ap;

	if (m->nfields == MON_MAX_FIELDS)
		return -ENOSPC;
	struct mon_field *f = &m->f[m->nfields];
	if (strlen(key) >= sizeof(f->key))
		return -ENAMETOOLONG;
	va_start(ap, fmt);
	int n = vsnprintf(f->val, sizeof(f->val), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(f->val))
		return -ENAMETOOLONG;
	strcpy(f->key, key);
	m->nfields++;
	return 0;
}

const char *mon_msg_get(const struct mon_msg *m, const char *key)
{
	for (int i = 0; i < m->nfields; i++)
		if (strcmp(m->f[i].key, key) == 0)
			return m->f[i].val;
	return NULL;
}

/* ---- formatting ---------------------------------------------------------- */

struct out {
	char *p;
	size_t len, pos;
	bool full;
};

static void put_char(struct out *o, char c)
{
	if (o->pos + 1 < o->len)
		o->p[o->pos++] = c;
	else
		o->full = true;
}

static void put_str(struct out *o, const char *s)
{
	put_char(o, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			put_char(o, '\\');
		put_char(o, *s);
	}
	put_char(o, '"');
}

static void put_pair(struct out *o, const char *key, const char *val)
{
	if (o->pos > 1)
		put_char(o, ',');
	put_str(o, key);
	put_char(o, ':');
	put_str(o, val);
}

int mon_msg_format(const struct mon_msg *m, char *buf, size_t len)
{
	static const char *const first[] = { "execute", "return", "error", "event" };
	struct out o = { buf, len, 0, false };
	char id[24];

	if (len == 0)
		return -ENOSPC;
	snprintf(id, sizeof(id), "%" PRIu64, m->id);
	put_char(&o, '{');
	switch (m->kind) {
	case MON_CMD:
		put_pair(&o, first[m->kind], m->name);
		put_pair(&o, "id", id);
		break;
	case MON_RET:
		put_pair(&o, first[m->kind], id);
		break;
	case MON_ERR:
		put_pair(&o, first[m->kind], id);
		put_pair(&o, "class", m->name);
		break;
	case MON_EVT:
		put_pair(&o, first[m->kind], m->name);
		break;
	}
	for (int i = 0; i < m->nfields; i++)
		put_pair(&o, m->f[i].key, m->f[i].val);
	put_char(&o, '}');
	put_char(&o, '\n');
	if (o.full || o.pos > MON_LINE_MAX)
		return -ENOSPC;
	buf[o.pos] = '\0';
	return (int)o.pos;
}

/* ---- parsing ---------------------------------------------------------------- */

struct in {
	const char *p, *end;
	const char *why;
};

static void skip_ws(struct in *in)
{
	while (in->p < in->end && (*in->p == ' ' || *in->p == '\t'))
		in->p++;
}

static bool expect(struct in *in, char c, const char *why)
{
	skip_ws(in);
	if (in->p < in->end && *in->p == c) {
		in->p++;
		return true;
	}
	in->why = why;
	return false;
}

/* A quoted string into out (size cap); false with in->why on error. */
static bool get_str(struct in *in, char *out, size_t cap)
{
	size_t n = 0;

	if (!expect(in, '"', "expected a string"))
		return false;
	while (in->p < in->end && *in->p != '"') {
		char c = *in->p++;
		if (c == '\\') {
			if (in->p == in->end || (*in->p != '"' && *in->p != '\\')) {
				in->why = "unsupported escape";
				return false;
			}
			c = *in->p++;
		} else if ((unsigned char)c < 0x20) {
			in->why = "control character in a string";
			return false;
		}
		if (n + 1 >= cap) {
			in->why = "string too long";
			return false;
		}
		out[n++] = c;
	}
	if (in->p == in->end) {
		in->why = "unterminated string";
		return false;
	}
	in->p++;
	out[n] = '\0';
	return true;
}

static bool parse_id(const char *s, uint64_t *id)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*id = v;
	return true;
}

static int fail(struct in *in, const char **why, const char *reason)
{
	if (why)
		*why = reason ? reason : in->why;
	return -EPROTO;
}

int mon_msg_parse(const char *line, size_t len, struct mon_msg *m, const char **why)
{
	struct in in = { line, line + len, NULL };
	char key[MON_KEY_MAX], val[MON_VAL_MAX];
	bool have_kind = false, have_id = false, have_class = false;

	memset(m, 0, sizeof(*m));
	if (len > MON_LINE_MAX)
		return fail(&in, why, "line too long");
	if (len && line[len - 1] == '\n')
		in.end--;
	if (!expect(&in, '{', "expected '{'"))
		return fail(&in, why, NULL);
	for (int first = 1;; first = 0) {
		skip_ws(&in);
		if (in.p < in.end && *in.p == '}')
			break;
		if (!first && !expect(&in, ',', "expected ',' or '}'"))
			return fail(&in, why, NULL);
		if (!get_str(&in, key, sizeof(key)) || !expect(&in, ':', "expected ':'") ||
		    !get_str(&in, val, sizeof(val)))
			return fail(&in, why, NULL);
		if (first) {
			if (strcmp(key, "execute") == 0) {
				m->kind = MON_CMD;
				set_name(m, val);
			} else if (strcmp(key, "return") == 0 || strcmp(key, "error") == 0) {
				m->kind = key[0] == 'r' ? MON_RET : MON_ERR;
				if (!parse_id(val, &m->id))
					return fail(&in, why, "the id is not a number");
				have_id = true;
			} else if (strcmp(key, "event") == 0) {
				m->kind = MON_EVT;
				set_name(m, val);
			} else {
				return fail(&in, why, "the first key is not execute, return, error or event");
			}
			if (!val[0] && (m->kind == MON_CMD || m->kind == MON_EVT))
				return fail(&in, why, "empty command or event name");
			have_kind = true;
			continue;
		}
		if (m->kind == MON_CMD && !have_id && strcmp(key, "id") == 0) {
			if (!parse_id(val, &m->id))
				return fail(&in, why, "the id is not a number");
			have_id = true;
			continue;
		}
		if (m->kind == MON_ERR && !have_class && strcmp(key, "class") == 0) {
			set_name(m, val);
			have_class = true;
			continue;
		}
		if (mon_msg_get(m, key))
			return fail(&in, why, "duplicate key");
		if (mon_msg_set(m, key, "%s", val))
			return fail(&in, why, "too many fields");
	}
	in.p++;
	skip_ws(&in);
	if (in.p != in.end)
		return fail(&in, why, "text after '}'");
	if (!have_kind)
		return fail(&in, why, "empty object");
	if (m->kind == MON_CMD && !have_id)
		return fail(&in, why, "a command without an id");
	if (m->kind == MON_ERR && !have_class)
		return fail(&in, why, "an error without a class");
	return 0;
}
