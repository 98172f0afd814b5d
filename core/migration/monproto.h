/*
 * The monitor protocol between the management layer (core/mgmt) and "QEMU"
 * (the migration core's monitor server, or fakes/fake_monitor): one flat JSON
 * object per line, every value a string, the first key saying what it is:
 *
 *   {"execute":"migrate","id":"3","uri":"mem:mig"}        command
 *   {"return":"3","status":"active"}                      reply to command 3
 *   {"error":"3","class":"GenericError","desc":"busy"}    error reply to command 3
 *   {"event":"MIGRATION","status":"completed"}            event, at any time
 *
 * Only \" and \\ are escaped in strings; no nesting, no numbers. A line is
 * at most MON_LINE_MAX bytes including its '\n'.
 */
#ifndef CORE_MONPROTO_H
#define CORE_MONPROTO_H

#include <stddef.h>
#include <stdint.h>

#define MON_LINE_MAX 2048
#define MON_MAX_FIELDS 8
#define MON_KEY_MAX 32
#define MON_VAL_MAX 192

enum mon_kind {
	MON_CMD,  /* "execute": name is the command, id its id */
	MON_RET,  /* "return": id of the command answered */
	MON_ERR,  /* "error": id of the command answered, name the error class */
	MON_EVT,  /* "event": name is the event */
};

struct mon_field {
	char key[MON_KEY_MAX];
	char val[MON_VAL_MAX];
};

struct mon_msg {
	enum mon_kind kind;
	uint64_t id;                         /* MON_CMD, MON_RET, MON_ERR */
	char name[MON_KEY_MAX];              /* MON_CMD, MON_ERR (class), MON_EVT */
	int nfields;
	struct mon_field f[MON_MAX_FIELDS];  /* arguments, return data, error "desc", event data */
};

/* Constructors: a message with no fields. */
void mon_msg_cmd(struct mon_msg *m, uint64_t id, const char *name);
void mon_msg_ret(struct mon_msg *m, uint64_t id);
void mon_msg_err(struct mon_msg *m, uint64_t id, const char *cls, const char *desc);
void mon_msg_evt(struct mon_msg *m, const char *name);

/* Adds key=value (printf format). 0, -ENOSPC with MON_MAX_FIELDS fields, or
 * -ENAMETOOLONG when the key or value does not fit. */
int mon_msg_set(struct mon_msg *m, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The value of key, or NULL. */
const char *mon_msg_get(const struct mon_msg *m, const char *key);

/* Writes the line with its '\n' into buf: its length, or -ENOSPC. */
int mon_msg_format(const struct mon_msg *m, char *buf, size_t len);
/* Parses one line (without or with its '\n'): 0, or -EPROTO with a reason
 * in why (may be NULL). */
int mon_msg_parse(const char *line, size_t len, struct mon_msg *m, const char **why);

#endif
