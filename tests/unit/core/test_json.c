/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/core/test_json.c - unit tests for lib/core/json.c: the
 * control channel's reader and writer, round trips, escapes, numbers, and
 * the malformed texts the reader must refuse. Single-threaded.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"

static struct strata_json *parse_ok(const char *text)
{
	struct strata_json *j = NULL;

	assert_int_equal(strata_json_parse(text, strlen(text), &j, NULL), 0);
	assert_non_null(j);
	return j;
}

static void request_members_are_found(void **state)
{
	struct strata_json *j = parse_ok(
		" {\"op\": \"pin\", \"tier\":\"nvme\", \"recursive\": true, "
		"\"n\": -42, \"paths\": [\"/a\", \"/b c\"], \"x\": null} \n");
	const struct strata_json *paths = strata_json_get(j, "paths");
	int64_t n = 0;

	(void)state;
	assert_string_equal(strata_json_get_str(j, "op", NULL), "pin");
	assert_string_equal(strata_json_get_str(j, "tier", NULL), "nvme");
	assert_true(strata_json_get_bool(j, "recursive", false));
	assert_false(strata_json_get_bool(j, "absent", false));
	assert_int_equal(strata_json_get_int(j, "n", &n), 0);
	assert_int_equal(n, -42);
	assert_int_equal(strata_json_get_int(j, "absent", &n), -ENOENT);
	assert_int_equal(strata_json_get_int(j, "op", &n), -EINVAL);
	assert_non_null(paths);
	assert_int_equal(paths->type, STRATA_JSON_ARRAY);
	assert_int_equal(paths->len, 2);
	assert_string_equal(strata_json_str(paths->items[1]), "/b c");
	assert_int_equal(strata_json_get(j, "x")->type, STRATA_JSON_NULL);
	assert_null(strata_json_get_str(j, "x", NULL));
	strata_json_free(j);
}

static void escapes_are_undone(void **state)
{
	struct strata_json *j = parse_ok(
		"\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\\u0001\"");

	(void)state;
	assert_string_equal(j->str,
			    "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80\x01");
	assert_int_equal(j->len, strlen(j->str));
	strata_json_free(j);
}

static void numbers_keep_exact_integers(void **state)
{
	struct strata_json *j = parse_ok("[0, 18446744073709551615, "
					 "9007199254740993, 1.5, -2e3]");

	(void)state;
	assert_true(j->items[0]->is_int);
	assert_false(j->items[1]->is_int); /* beyond int64 */
	assert_true(j->items[2]->is_int);
	assert_int_equal(j->items[2]->i, 9007199254740993ll);
	assert_false(j->items[3]->is_int);
	assert_true(j->items[3]->num == 1.5);
	assert_true(j->items[4]->num == -2000.0);
	strata_json_free(j);
}

static void many_members_grow(void **state)
{
	struct strata_jw w = { 0 };
	struct strata_json *j;
	const char *text;
	size_t len;

	(void)state;
	strata_jw_arr(&w);
	for (int i = 0; i < 1000; i++)
		strata_jw_int(&w, i);
	strata_jw_arr_end(&w);
	assert_int_equal(strata_jw_finish(&w, &text, &len), 0);
	j = parse_ok(text);
	assert_int_equal(j->len, 1000);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(j->items[i]->i, i);
	strata_json_free(j);
	strata_jw_release(&w);
}

static void writer_round_trips(void **state)
{
	static const char odd[] = "q\"b\\s\nt\tc\x01 \xff\xfe";
	struct strata_jw w = { 0 };
	struct strata_json *j;
	const char *text;
	size_t len;

	(void)state;
	strata_jw_obj(&w);
	strata_jw_kstr(&w, "name", odd);
	strata_jw_kint(&w, "neg", INT64_MIN);
	strata_jw_kuint(&w, "big", UINT64_MAX);
	strata_jw_kbool(&w, "t", true);
	strata_jw_key(&w, "list");
	strata_jw_arr(&w);
	strata_jw_obj(&w);
	strata_jw_obj_end(&w);
	strata_jw_arr(&w);
	strata_jw_arr_end(&w);
	strata_jw_null(&w);
	strata_jw_double(&w, 0.25);
	strata_jw_str(&w, NULL);
	strata_jw_arr_end(&w);
	strata_jw_obj_end(&w);
	assert_int_equal(strata_jw_finish(&w, &text, &len), 0);
	assert_null(strchr(text, '\n'));
	assert_int_equal(len, strlen(text));
	j = parse_ok(text);
	assert_string_equal(strata_json_get_str(j, "name", NULL), odd);
	assert_int_equal(strata_json_get(j, "neg")->i, INT64_MIN);
	assert_true(strata_json_get_bool(j, "t", false));
	assert_int_equal(strata_json_get(j, "list")->len, 5);
	assert_true(strata_json_get(j, "list")->items[3]->num == 0.25);
	strata_json_free(j);
	strata_jw_release(&w);
}

static void malformed_texts_are_refused(void **state)
{
	static const char *const bad[] = {
		"",
		"{",
		"[1,]",
		"{\"a\"}",
		"{\"a\":}",
		"{a:1}",
		"\"open",
		"[1 2]",
		"01",
		"1.",
		"-",
		"tru",
		"nul",
		"\"\\x\"",
		"\"\\u12\"",
		"\"\\udc00\"",
		"\"\\ud800\"",
		"{} {}",
		"\"a\nb\"",
		"[1,2",
	};
	struct strata_json *j = (struct strata_json *)1;
	char deep[STRATA_JSON_DEPTH + 2];
	size_t where;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(strata_json_parse(bad[i], strlen(bad[i]), &j,
						   &where),
				 -EINVAL);
		assert_null(j);
	}
	memset(deep, '[', sizeof(deep));
	assert_int_equal(strata_json_parse(deep, sizeof(deep), &j, NULL),
			 -EINVAL);
	assert_int_equal(strata_json_parse("[1,x]", 5, &j, &where), -EINVAL);
	assert_int_equal(where, 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(request_members_are_found),
		cmocka_unit_test(escapes_are_undone),
		cmocka_unit_test(numbers_keep_exact_integers),
		cmocka_unit_test(many_members_grow),
		cmocka_unit_test(writer_round_trips),
		cmocka_unit_test(malformed_texts_are_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
