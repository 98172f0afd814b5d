/*
 * Unit tests of the monitor protocol's messages (core/migration/monproto.c):
 * each kind round-trips through a line, escapes survive, and every malformed
 * line is refused with its reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>

#include "monproto.h"

static void roundtrip(const struct mon_msg *in, const char *want_line, struct mon_msg *out)
{
	char line[MON_LINE_MAX];
	const char *why = NULL;
	int n = mon_msg_format(in, line, sizeof(line));

	assert_true(n > 0);
	assert_string_equal(line, want_line);
	assert_int_equal(mon_msg_parse(line, (size_t)n, out, &why), 0);
	assert_null(why);
}

static void test_command_roundtrip(void **state)
{
	struct mon_msg m, back;

	mon_msg_cmd(&m, 3, "migrate");
	assert_int_equal(mon_msg_set(&m, "uri", "mem:%s", "mig"), 0);
	roundtrip(&m, "{\"execute\":\"migrate\",\"id\":\"3\",\"uri\":\"mem:mig\"}\n", &back);
	assert_int_equal(back.kind, MON_CMD);
	assert_int_equal(back.id, 3);
	assert_string_equal(back.name, "migrate");
	assert_string_equal(mon_msg_get(&back, "uri"), "mem:mig");
	assert_null(mon_msg_get(&back, "id"));
}

static void test_reply_error_event_roundtrip(void **state)
{
	struct mon_msg m, back;

	mon_msg_ret(&m, 18446744073709551615ull);
	mon_msg_set(&m, "status", "active");
	roundtrip(&m, "{\"return\":\"18446744073709551615\",\"status\":\"active\"}\n", &back);
	assert_int_equal(back.kind, MON_RET);
	assert_true(back.id == 18446744073709551615ull);

	mon_msg_err(&m, 7, "GenericError", "say \"no\" \\ twice");
	roundtrip(&m, "{\"error\":\"7\",\"class\":\"GenericError\",\"desc\":\"say \\\"no\\\" \\\\ twice\"}\n", &back);
	assert_int_equal(back.kind, MON_ERR);
	assert_string_equal(back.name, "GenericError");
	assert_string_equal(mon_msg_get(&back, "desc"), "say \"no\" \\ twice");

	mon_msg_evt(&m, "MIGRATION");
	mon_msg_set(&m, "status", "completed");
	roundtrip(&m, "{\"event\":\"MIGRATION\",\"status\":\"completed\"}\n", &back);
	assert_int_equal(back.kind, MON_EVT);
	assert_string_equal(back.name, "MIGRATION");
}

static void test_field_limits(void **state)
{
	struct mon_msg m;
	char big[MON_VAL_MAX + 1];

	mon_msg_evt(&m, "X");
	for (int i = 0; i < MON_MAX_FIELDS; i++)
		assert_int_equal(mon_msg_set(&m, i % 2 ? "a" : "b", "%d", i), 0);
	assert_int_equal(mon_msg_set(&m, "c", "1"), -ENOSPC);
	mon_msg_evt(&m, "X");
	memset(big, 'x', MON_VAL_MAX);
	big[MON_VAL_MAX] = '\0';
	assert_int_equal(mon_msg_set(&m, "v", "%s", big), -ENAMETOOLONG);
	assert_int_equal(mon_msg_set(&m, "a-key-that-is-much-too-long-to-fit", "1"), -ENAMETOOLONG);
	assert_int_equal(m.nfields, 0);
	char small[8];
	assert_int_equal(mon_msg_format(&m, small, sizeof(small)), -ENOSPC);
}

static void test_malformed_lines(void **state)
{
	static const struct { const char *line, *why; } bad[] = {
		{ "", "expected '{'" },
		{ "[]", "expected '{'" },
		{ "{}", "empty object" },
		{ "{\"execute\":\"x\"}", "a command without an id" },
		{ "{\"execute\":\"\",\"id\":\"1\"}", "empty command or event name" },
		{ "{\"execute\":\"x\",\"id\":\"one\"}", "the id is not a number" },
		{ "{\"return\":\"-1\"}", "the id is not a number" },
		{ "{\"error\":\"1\"}", "an error without a class" },
		{ "{\"hello\":\"1\"}", "the first key is not execute, return, error or event" },
		{ "{\"event\":\"E\",\"a\":\"1\",\"a\":\"2\"}", "duplicate key" },
		{ "{\"event\":\"E\" \"a\":\"1\"}", "expected ',' or '}'" },
		{ "{\"event\":\"E\",\"a\":1}", "expected a string" },
		{ "{\"event\":\"E\",\"a\":\"\\n\"}", "unsupported escape" },
		{ "{\"event\":\"E\",\"a\":\"1}", "unterminated string" },
		{ "{\"event\":\"E\"} x", "text after '}'" },
		{ "{\"event\":\"E\",\"a\":\"1\",\"b\":\"1\",\"c\":\"1\",\"d\":\"1\",\"e\":\"1\",\"f\":\"1\","
		  "\"g\":\"1\",\"h\":\"1\",\"i\":\"1\"}", "too many fields" },
	};
	struct mon_msg m;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		assert_int_equal(mon_msg_parse(bad[i].line, strlen(bad[i].line), &m, &why), -EPROTO);
		assert_string_equal(why, bad[i].why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_command_roundtrip),
		cmocka_unit_test(test_reply_error_event_roundtrip),
		cmocka_unit_test(test_field_limits),
		cmocka_unit_test(test_malformed_lines),
	};

	return cmocka_run_group_tests_name("core_monproto", tests, NULL, NULL);
}
