/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/policy/test_policy.c - unit tests for policy/: the lexer, the
 * parser (every rule kind, every kind of syntax error with its position),
 * check.c's diagnostics, the glob matcher and the pure evaluator.
 *
 * Nothing touches the disk: configs are built in memory, the clock is the
 * constant NOW, heat and user names come from fakes. Single-threaded.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cfg.h"
#include "policy.h"
#include "policy_int.h"

#define DAY 86400
#define MIB (1024 * 1024)

static const struct timespec NOW = { 1700000000, 0 };

/* Helpers ---------------------------------------------------------------- */

static struct strata_cfg *test_cfg(void)
{
	static struct strata_cfg cfg;
	static const char *const tiers[][2] = {
		{ "nvme", "lab" },
		{ "capacity", "lab" },
		{ "s3", "cloud" },
		{ "far", "dc2" },
	};

	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.site, "lab");
	strcpy(cfg.placement, "capacity");
	for (size_t i = 0; i < sizeof(tiers) / sizeof(tiers[0]); i++) {
		strcpy(cfg.tiers[i].name, tiers[i][0]);
		strcpy(cfg.tiers[i].site, tiers[i][1]);
	}
	cfg.ntiers = sizeof(tiers) / sizeof(tiers[0]);
	return &cfg;
}

static int fake_user(void *arg, const char *name, uint32_t *id)
{
	if (strcmp(name, "alice") == 0) {
		*id = 1000;
		return 0;
	}
	return -ENOENT;
}

static int fake_group(void *arg, const char *name, uint32_t *id)
{
	if (strcmp(name, "ml") == 0) {
		*id = 2000;
		return 0;
	}
	return -ENOENT;
}

static const struct strata_policy_resolver fake_res = {
	.user = fake_user,
	.group = fake_group,
};

/* Parse text that must be clean, and bind the test config. */
static struct strata_policy *load(const char *text)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = NULL;
	int ret = strata_policy_parse("t.rules", text, 0, &p, &d);

	for (unsigned int i = 0; i < d.n; i++)
		print_message("%d:%d: %s\n", d.v[i].line, d.v[i].col,
			      d.v[i].msg);
	assert_int_equal(ret, 0);
	assert_non_null(p);
	ret = strata_policy_check(p, test_cfg(), &fake_res, &d);
	for (unsigned int i = 0; i < d.n; i++)
		print_message("%d:%d: %s\n", d.v[i].line, d.v[i].col,
			      d.v[i].msg);
	assert_int_equal(ret, 0);
	assert_int_equal(d.n, 0);
	strata_policy_diags_release(&d);
	return p;
}

/* The text must fail to parse with exactly one error, at line:col. */
static void syntax_error(const char *text, int line, int col, const char *msg)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = (struct strata_policy *)1;

	assert_int_equal(strata_policy_parse("t.rules", text, 0, &p, &d),
			 -EINVAL);
	assert_null(p);
	if (d.n != 1 || d.v[0].line != line || d.v[0].col != col ||
	    strcmp(d.v[0].msg, msg) != 0) {
		for (unsigned int i = 0; i < d.n; i++)
			print_message("got %d:%d: %s\n", d.v[i].line,
				      d.v[i].col, d.v[i].msg);
		fail_msg("want %d:%d: %s (for: %s)", line, col, msg, text);
	}
	assert_int_equal(d.v[0].severity, STRATA_POLICY_ERROR);
	strata_policy_diags_release(&d);
}

/* Parse cleanly, check, and return the diagnostics of check. */
static struct strata_policy *check(const char *text,
				   struct strata_policy_diags *d, int want_ret)
{
	struct strata_policy *p = NULL;

	assert_int_equal(strata_policy_parse("t.rules", text, 0, &p, d), 0);
	assert_int_equal(strata_policy_check(p, test_cfg(), &fake_res, d),
			 want_ret);
	return p;
}

static bool has_diag(const struct strata_policy_diags *d,
		     enum strata_policy_severity sev, int line, int col,
		     const char *msg)
{
	for (unsigned int i = 0; i < d->n; i++)
		if (d->v[i].severity == sev && d->v[i].line == line &&
		    d->v[i].col == col && strcmp(d->v[i].msg, msg) == 0)
			return true;
	for (unsigned int i = 0; i < d->n; i++)
		print_message("have %s %d:%d: %s\n",
			      strata_policy_severity_name(d->v[i].severity),
			      d->v[i].line, d->v[i].col, d->v[i].msg);
	return false;
}

static struct strata_policy_facts facts(const char *path)
{
	static const char *const on_nvme[] = { "nvme" };
	struct strata_policy_facts f = {
		.path = path,
		.size = 2 * MIB,
		.atime = { NOW.tv_sec - 9 * DAY, 0 },
		.mtime = { NOW.tv_sec - 20 * DAY, 0 },
		.ctime = { NOW.tv_sec - 20 * DAY, 0 },
		.btime = { NOW.tv_sec - 30 * DAY, 0 },
		.uid = 1000,
		.gid = 2000,
		.tiers = on_nvme,
		.ntiers = 1,
	};

	return f;
}

/* Does rule n's condition hold for f? */
static bool holds(const char *cond, const struct strata_policy_facts *f)
{
	char text[512];
	struct strata_policy *p;
	bool hit;

	snprintf(text, sizeof(text), "migrate \"**\" to s3 when %s\n", cond);
	p = load(text);
	hit = strata_policy_match(p, &p->rules[0], f, NOW);
	strata_policy_free(p);
	return hit;
}

/* Lexer ------------------------------------------------------------------ */

static void lex_tokens_and_positions(void **state)
{
	static const struct {
		enum strata__policy_tok type;
		int line, col;
		const char *text;
		const char *unit;
	} want[] = {
		{ POL_TOK_IDENT, 1, 1, "ckpt-fast", NULL },
		{ POL_TOK_COLON, 1, 10, ":", NULL },
		{ POL_TOK_IDENT, 1, 12, "place", NULL },
		{ POL_TOK_STRING, 1, 18, "/a\"b\\c/**", NULL },
		{ POL_TOK_IDENT, 1, 32, "on", NULL },
		{ POL_TOK_IDENT, 1, 35, "nvme", NULL },
		{ POL_TOK_AT, 1, 39, "@", NULL },
		{ POL_TOK_IDENT, 1, 40, "lab", NULL },
		{ POL_TOK_NEWLINE, 1, 50, NULL, NULL },
		{ POL_TOK_LPAREN, 2, 2, "(", NULL },
		{ POL_TOK_NUMBER, 2, 3, "1MiB", "MiB" },
		{ POL_TOK_NUMBER, 2, 8, "1.5d", "d" },
		{ POL_TOK_NUMBER, 2, 13, "85%", "%" },
		{ POL_TOK_IDENT, 2, 17, "3par", NULL },
		{ POL_TOK_RPAREN, 2, 21, ")", NULL },
		{ POL_TOK_LE, 2, 23, "<=", NULL },
		{ POL_TOK_GE, 2, 26, ">=", NULL },
		{ POL_TOK_LT, 2, 29, "<", NULL },
		{ POL_TOK_GT, 2, 31, ">", NULL },
		{ POL_TOK_EQ, 2, 33, "==", NULL },
		{ POL_TOK_NE, 2, 36, "!=", NULL },
		{ POL_TOK_MATCH, 2, 39, "~", NULL },
		{ POL_TOK_NOMATCH, 2, 41, "!~", NULL },
		{ POL_TOK_OTHER, 2, 44, "$", NULL },
		{ POL_TOK_NEWLINE, 2, 45, NULL, NULL },
		/* The continuation joins lines 3 and 4. */
		{ POL_TOK_IDENT, 3, 1, "a", NULL },
		{ POL_TOK_IDENT, 4, 3, "b", NULL },
		{ POL_TOK_EOF, 4, 4, NULL, NULL },
	};
	const char *text = "ckpt-fast: place \"/a\\\"b\\\\c/**\" on nvme@lab "
			   "# note\n"
			   "\t(1MiB 1.5d 85% 3par) <= >= < > == != ~ !~ $\n"
			   "a \\  \n"
			   "  b";
	struct strata__policy_lexer lx;
	struct strata__policy_token t = { 0 };

	strata__policy_lex_init(&lx, text);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
		if (t.type != want[i].type || t.line != want[i].line ||
		    t.col != want[i].col)
			fail_msg("token %zu: got type %d at %d:%d, want %d at "
				 "%d:%d",
				 i, t.type, t.line, t.col, want[i].type,
				 want[i].line, want[i].col);
		if (want[i].text)
			assert_string_equal(t.text, want[i].text);
		if (want[i].unit)
			assert_string_equal(t.unit, want[i].unit);
	}
	strata__policy_token_release(&t);
}

static void lex_number_values(void **state)
{
	struct strata__policy_lexer lx;
	struct strata__policy_token t = { 0 };

	strata__policy_lex_init(&lx, "1.5 2MiB 10parsecs");
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(t.type, POL_TOK_NUMBER);
	assert_true(t.num == 1.5);
	assert_string_equal(t.unit, "");
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_true(t.num == 2);
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(t.type, POL_TOK_IDENT); /* unknown unit: a word */
	strata__policy_token_release(&t);
}

static void lex_bad_strings(void **state)
{
	struct strata__policy_lexer lx;
	struct strata__policy_token t = { 0 };

	strata__policy_lex_init(&lx, "x \"open\ny \"a\\tb\" z");
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(t.type, POL_TOK_ERROR);
	assert_int_equal(t.col, 3);
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(t.type, POL_TOK_NEWLINE);
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(t.type, POL_TOK_ERROR);
	assert_int_equal(t.line, 2);
	assert_int_equal(t.col, 5);
	assert_string_equal(t.text, "unknown escape '\\t' in a string: only "
				    "\\\" and \\\\ are allowed");
	assert_int_equal(strata__policy_lex_next(&lx, &t), 0);
	assert_int_equal(t.type, POL_TOK_EOF);
	strata__policy_token_release(&t);
}

/* Parser: good input ----------------------------------------------------- */

static void parse_every_rule_kind(void **state)
{
	struct strata_policy *p = load(
		"# the illustration from the issue\n"
		"interval 30s\n"
		"ckpt-fast: place \"/ckpt/**\" on nvme\n"
		"replicate \"/ckpt/**\" to s3 when age > 10m\n"
		"cold: migrate \"**\" from nvme to s3 when atime > 7d and "
		"size >= 1MiB\n"
		"evict nvme to capacity when used > 85% until used < 70% "
		"by heat(12h)\n"
		"cache \"/datasets/**\" on nvme@lab when read and size < 1GiB\n"
		"far: replicate \"*.pt\" to @dc2\n");
	const struct strata_policy_rule *r;

	assert_true(p->interval == 30);
	assert_int_equal(p->interval_line, 2);
	assert_int_equal(p->nrules, 6);

	r = &p->rules[0];
	assert_int_equal(r->kind, STRATA_POLICY_PLACE);
	assert_string_equal(r->name, "ckpt-fast");
	assert_true(r->named);
	assert_int_equal(r->pos.line, 3);
	assert_int_equal(r->pos.col, 1);
	assert_string_equal(r->pattern, "/ckpt/**");
	assert_int_equal(r->pattern_pos.col, 18);
	assert_string_equal(r->to.tier, "nvme");
	assert_null(r->to.site);
	assert_null(r->when);

	r = &p->rules[1];
	assert_int_equal(r->kind, STRATA_POLICY_REPLICATE);
	assert_string_equal(r->name, "line-4");
	assert_false(r->named);
	assert_string_equal(r->to.tier, "s3");
	assert_int_equal(r->when->field, STRATA_POLICY_F_AGE);
	assert_int_equal(r->when->op, STRATA_POLICY_GT);
	assert_true(r->when->num == 600);

	r = &p->rules[2];
	assert_int_equal(r->kind, STRATA_POLICY_MIGRATE);
	assert_true(r->has_from);
	assert_string_equal(r->from.tier, "nvme");
	assert_string_equal(r->to.tier, "s3");
	assert_int_equal(r->when->kind, STRATA_POLICY_AND);
	assert_int_equal(r->when->left->field, STRATA_POLICY_F_ATIME);
	assert_true(r->when->left->num == 7 * DAY);
	assert_int_equal(r->when->right->field, STRATA_POLICY_F_SIZE);
	assert_int_equal(r->when->right->op, STRATA_POLICY_GE);
	assert_true(r->when->right->num == MIB);

	r = &p->rules[3];
	assert_int_equal(r->kind, STRATA_POLICY_EVICT);
	assert_null(r->pattern);
	assert_string_equal(r->from.tier, "nvme");
	assert_string_equal(r->to.tier, "capacity");
	assert_true(r->high == 85);
	assert_true(r->low == 70);
	assert_int_equal(r->by, STRATA_POLICY_BY_HEAT);
	assert_true(r->heat_window == 12 * 3600);

	r = &p->rules[4];
	assert_int_equal(r->kind, STRATA_POLICY_CACHE);
	assert_string_equal(r->to.tier, "nvme");
	assert_string_equal(r->to.site, "lab");
	assert_int_equal(r->when->field, STRATA_POLICY_F_SIZE);
	assert_true(r->when->num == 1024.0 * MIB);

	r = &p->rules[5];
	assert_null(r->to.tier);
	assert_string_equal(r->to.site, "dc2");
	strata_policy_free(p);
}

static void parse_defaults(void **state)
{
	struct strata_policy *p = load("evict nvme to s3 when used > 90% "
				       "until used < 80%\n");

	assert_true(p->interval == STRATA_POLICY_INTERVAL_DEFAULT);
	assert_int_equal(p->rules[0].by, STRATA_POLICY_BY_ATIME);
	strata_policy_free(p);
	p = load("");
	assert_int_equal(p->nrules, 0);
	strata_policy_free(p);
}

static void parse_condition_precedence(void **state)
{
	/* or < and < not; parentheses regroup. */
	struct strata_policy *p =
		load("migrate \"**\" to s3 when pinned or size > 1 and "
		     "not on nvme\n"
		     "migrate \"/x\" to s3 when (pinned or size > 1) and "
		     "not not on @lab\n");
	const struct strata_policy_cond *c = p->rules[0].when;

	assert_int_equal(c->kind, STRATA_POLICY_OR);
	assert_int_equal(c->left->field, STRATA_POLICY_F_PINNED);
	assert_int_equal(c->right->kind, STRATA_POLICY_AND);
	assert_int_equal(c->right->right->kind, STRATA_POLICY_NOT);
	assert_int_equal(c->right->right->left->field, STRATA_POLICY_F_ON);
	assert_string_equal(c->right->right->left->target.tier, "nvme");

	c = p->rules[1].when;
	assert_int_equal(c->kind, STRATA_POLICY_AND);
	assert_int_equal(c->left->kind, STRATA_POLICY_OR);
	assert_int_equal(c->right->kind, STRATA_POLICY_NOT);
	assert_int_equal(c->right->left->kind, STRATA_POLICY_NOT);
	assert_string_equal(c->right->left->left->target.site, "lab");
	strata_policy_free(p);
}

static void parse_every_condition(void **state)
{
	struct strata_policy *p = load(
		"migrate \"**\" to s3 when size < 2K and atime >= 1h and "
		"mtime <= 30m and ctime == 10s and age != 1d and uid == 7 "
		"and gid > 8 and heat(24h) > 10 and path ~ \"/a/**\" and "
		"name !~ \"*.tmp\" and owner == \"alice\" and group != ml and "
		"tag \"hot\" and tag \"user.tier\" == \"gold\" and on s3@cloud "
		"and pinned\n");
	static const struct {
		enum strata_policy_field field;
		enum strata_policy_op op;
		double num;
	} want[] = {
		{ STRATA_POLICY_F_SIZE, STRATA_POLICY_LT, 2048 },
		{ STRATA_POLICY_F_ATIME, STRATA_POLICY_GE, 3600 },
		{ STRATA_POLICY_F_MTIME, STRATA_POLICY_LE, 1800 },
		{ STRATA_POLICY_F_CTIME, STRATA_POLICY_EQ, 10 },
		{ STRATA_POLICY_F_AGE, STRATA_POLICY_NE, DAY },
		{ STRATA_POLICY_F_UID, STRATA_POLICY_EQ, 7 },
		{ STRATA_POLICY_F_GID, STRATA_POLICY_GT, 8 },
		{ STRATA_POLICY_F_HEAT, STRATA_POLICY_GT, 10 },
		{ STRATA_POLICY_F_PATH, STRATA_POLICY_MATCH, 0 },
		{ STRATA_POLICY_F_NAME, STRATA_POLICY_NOMATCH, 0 },
		{ STRATA_POLICY_F_OWNER, STRATA_POLICY_EQ, 0 },
		{ STRATA_POLICY_F_GROUP, STRATA_POLICY_NE, 0 },
		{ STRATA_POLICY_F_TAG, STRATA_POLICY_EXISTS, 0 },
		{ STRATA_POLICY_F_TAG, STRATA_POLICY_EQ, 0 },
		{ STRATA_POLICY_F_ON, STRATA_POLICY_EXISTS, 0 },
		{ STRATA_POLICY_F_PINNED, STRATA_POLICY_EXISTS, 0 },
	};
	const struct strata_policy_cond *c = p->rules[0].when;
	const struct strata_policy_cond *leaf[16];
	int n = 16;

	/* A left-leaning chain of ands: walk it from the right. */
	while (c->kind == STRATA_POLICY_AND) {
		leaf[--n] = c->right;
		c = c->left;
	}
	leaf[--n] = c;
	assert_int_equal(n, 0);
	for (int i = 0; i < 16; i++) {
		assert_int_equal(leaf[i]->field, want[i].field);
		assert_int_equal(leaf[i]->op, want[i].op);
		if (want[i].num)
			assert_true(leaf[i]->num == want[i].num);
	}
	assert_true(leaf[7]->window == DAY);
	assert_string_equal(leaf[8]->str, "/a/**");
	assert_string_equal(leaf[11]->str, "ml");
	assert_string_equal(leaf[13]->str, "tier");
	assert_string_equal(leaf[13]->value, "gold");
	assert_null(leaf[12]->value);
	assert_string_equal(leaf[14]->target.site, "cloud");
	strata_policy_free(p);
}

static void parse_lines_continue(void **state)
{
	/* Inside parentheses and after '\' line ends do not count. */
	struct strata_policy *p =
		load("migrate \"**\" to s3 when (size > 1MiB or\n"
		     "\t\tatime > 7d)\n"
		     "replicate \"/x/**\" \\\n"
		     "\tto s3\n"
		     "place \"/y\" on nvme\n");

	assert_int_equal(p->nrules, 3);
	assert_int_equal(p->rules[0].when->kind, STRATA_POLICY_OR);
	assert_string_equal(p->rules[1].name, "line-3");
	assert_int_equal(p->rules[2].pos.line, 5);
	strata_policy_free(p);
}

/* Parser: errors --------------------------------------------------------- */

static void parse_syntax_errors(void **state)
{
	static const struct {
		const char *text;
		int line, col;
		const char *msg;
	} cases[] = {
		{ "place \"/a/**\" at nvme", 1, 15,
		  "expected 'on' after the pattern, got 'at'" },
		{ "plaice \"x\" on nvme", 1, 1,
		  "expected a rule (place, migrate, replicate, evict or "
		  "cache) or 'interval', got 'plaice'" },
		{ "x: interval 5s", 1, 4,
		  "expected a rule (place, migrate, replicate, evict or "
		  "cache) after the rule name, got 'interval'" },
		{ "place /a on nvme", 1, 7,
		  "expected a pattern in double quotes after 'place', got "
		  "'/'" },
		{ "place \"\" on nvme", 1, 7, "empty pattern after 'place'" },
		{ "place \"x\" on", 1, 13,
		  "expected a tier, TIER@SITE or @SITE after 'on', got end "
		  "of file" },
		{ "place \"x\" on nvme@\n", 1, 19,
		  "expected a site name after '@', got end of line" },
		{ "place \"x\" on nvme extra", 1, 19,
		  "expected 'when' or the end of the line, got 'extra'" },
		{ "migrate \"x\" nvme", 1, 13,
		  "expected 'to' or 'from' after the pattern, got 'nvme'" },
		{ "migrate \"x\" from nvme s3", 1, 23,
		  "expected 'to' after the source, got 's3'" },
		{ "replicate \"x\" on s3", 1, 15,
		  "expected 'to' after the pattern, got 'on'" },
		{ "migrate \"x\" to s3 when size > 7d", 1, 31,
		  "expected a size such as 1MiB after 'size >', got '7d'" },
		{ "migrate \"x\" to s3 when atime > 1MiB", 1, 32,
		  "expected a duration such as 7d after 'atime >', got "
		  "'1MiB'" },
		{ "migrate \"x\" to s3 when atime 7d", 1, 30,
		  "expected a comparison (<, <=, >, >=, == or !=) after "
		  "'atime', got '7d'" },
		{ "migrate \"x\" to s3 when size < -1", 1, 31,
		  "expected a size such as 1MiB after 'size <', got '-'" },
		{ "migrate \"x\" to s3 when colour == \"red\"", 1, 24,
		  "expected a condition, got 'colour'" },
		{ "migrate \"x\" to s3 when size > 1 nor size < 5", 1, 33,
		  "expected 'and', 'or' or the end of the line, got 'nor'" },
		{ "migrate \"x\" to s3 when path == \"y\"", 1, 29,
		  "expected '~' or '!~' after 'path', got '=='" },
		{ "migrate \"x\" to s3 when owner ~ \"y\"", 1, 30,
		  "expected '==' or '!=' after 'owner', got '~'" },
		{ "migrate \"x\" to s3 when heat > 3", 1, 29,
		  "expected '(' after 'heat', as in heat(24h), got '>'" },
		{ "migrate \"x\" to s3 when uid == 1K", 1, 31,
		  "expected a number after 'uid ==', got '1K'" },
		{ "migrate \"x\" to s3 when tag \"t\" == 5", 1, 35,
		  "expected a value in double quotes after 'tag \"t\" ==', "
		  "got '5'" },
		{ "place \"x\" on nvme when (size > 1", 1, 33,
		  "expected 'and', 'or' or ')' to close the '(' at 1:24, "
		  "got end of file" },
		{ "place \"abc on nvme", 1, 7,
		  "unterminated string: expected '\"' before the end of the "
		  "line" },
		{ "place \"a\\n\" on nvme", 1, 9,
		  "unknown escape '\\n' in a string: only \\\" and \\\\ are "
		  "allowed" },
		{ "evict nvme capacity", 1, 12,
		  "expected 'to' after the tier, got 'capacity'" },
		{ "evict nvme to s3 when size > 1", 1, 23,
		  "expected 'used' after 'when', got 'size'" },
		{ "evict nvme to s3 when used >= 85%", 1, 28,
		  "expected '>' after 'used', got '>='" },
		{ "evict nvme to s3 when used > 85 until used < 70%", 1, 30,
		  "expected a percentage such as 85% after 'used >', got "
		  "'85'" },
		{ "evict nvme to s3 when used > 85% used < 70%", 1, 34,
		  "expected 'until' after the high mark, got 'used'" },
		{ "evict nvme to s3 when used > 85% until used < 70% by "
		  "colour",
		  1, 54,
		  "expected atime, mtime, size or heat after 'by', got "
		  "'colour'" },
		{ "evict nvme to s3 when used > 85% until used < 70% atime", 1,
		  51, "expected 'by' or the end of the line, got 'atime'" },
		{ "cache \"x\" on nvme when size > 1", 1, 24,
		  "expected 'read' after 'when', got 'size'" },
		{ "cache \"x\" on nvme", 1, 18,
		  "expected 'when' after the target: cache rules say 'when "
		  "read', got end of file" },
		{ "cache \"x\" on nvme when read or pinned", 1, 29,
		  "expected 'and' or the end of the line, got 'or'" },
		{ "interval soon", 1, 10,
		  "expected a duration such as 7d after 'interval', got "
		  "'soon'" },
		{ "interval 0s", 1, 1, "interval must be at least 1s, got 0s" },
		{ "interval 1m\ninterval 2m", 2, 1,
		  "duplicate 'interval' (first on line 1)" },
		{ "a: place \"x\" on nvme\n\na: cache \"y\" on nvme when read",
		  3, 1, "duplicate rule name 'a' (first on line 1)" },
		{ "place \"x\" on nvme\nline-1: place \"y\" on nvme", 2, 1,
		  "duplicate rule name 'line-1' (first on line 1)" },
		{ "place \"x\" on nvme ; place \"y\" on s3", 1, 19,
		  "expected 'when' or the end of the line, got ';'" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		syntax_error(cases[i].text, cases[i].line, cases[i].col,
			     cases[i].msg);
}

static void parse_reports_every_broken_line(void **state)
{
	const char *text = "place \"/a\" at nvme\n"		/* 1 */
			   "good: place \"/b\" on nvme\n"	/* 2 */
			   "migrate \"x\" to s3 when (size >\n" /* 3 */
			   "    1MiB or atime > 1q)\n"		/* 4 */
			   "cache \"/c\" on nvme when read\n"	/* 5 */
			   "evict nvme to s3\n";		/* 6 */
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = NULL;

	assert_int_equal(strata_policy_parse("t", text, 0, &p, &d), -EINVAL);
	assert_null(p);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.nerrors, 3);
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[1].line, 4);
	assert_int_equal(d.v[1].col, 21);
	assert_string_equal(d.v[1].msg, "expected a duration such as 7d after "
					"'atime >', got '1q'");
	assert_int_equal(d.v[2].line, 6);
	strata_policy_diags_release(&d);

	/* With STRATA_POLICY_PARTIAL the good statements stay. */
	assert_int_equal(strata_policy_parse("t", text, STRATA_POLICY_PARTIAL,
					     &p, &d),
			 -EINVAL);
	assert_non_null(p);
	assert_int_equal(p->nrules, 2);
	assert_string_equal(p->rules[0].name, "good");
	assert_string_equal(p->rules[1].name, "line-5");
	strata_policy_free(p);
	strata_policy_diags_release(&d);
}

static void load_missing_file(void **state)
{
	struct strata_policy *p = NULL;

	assert_int_equal(strata_policy_load("/nonexistent/rules", 0, &p, NULL),
			 -ENOENT);
	assert_null(p);
}

/* Check ------------------------------------------------------------------ */

static void check_targets(void **state)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = check("place \"/a\" on fast\n"
					"place \"/b\" on @mars\n"
					"place \"/c\" on s3@lab\n"
					"migrate \"/d\" from nvme to nvme\n"
					"replicate \"/e\" to s3 when on tape\n"
					"replicate \"/f\" to nvme@lab\n"
					"migrate \"/g\" from @dc2 to @dc2\n",
					&d, -EINVAL);

	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 1, 15,
			     "unknown tier 'fast'"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 2, 15,
			     "unknown site 'mars': no tier belongs to it"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 3, 15,
			     "tier 's3' is at site 'cloud', not 'lab'"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 4, 27,
			     "'from' and 'to' are the same: 'nvme'"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 5, 30,
			     "unknown tier 'tape'"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 7, 27,
			     "'from' and 'to' are the same: '@dc2'"));
	assert_int_equal(d.nerrors, 6);
	assert_int_equal(d.nwarnings, 0);
	strata_policy_free(p);
	strata_policy_diags_release(&d);
}

static void check_evict_marks(void **state)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p =
		check("evict nvme to s3 when used > 120% until used < 70%\n"
		      "evict nvme to s3 when used > 60% until used < 70%\n"
		      "evict @lab to s3 when used > 90% until used < 80%\n"
		      "evict nvme to nvme when used > 90% until used < 80%\n",
		      &d, -EINVAL);

	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 1, 30,
			     "high mark 120% is outside 0..100%"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 2, 47,
			     "low mark 70% must be below the high mark 60%"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 3, 7,
			     "evict needs a tier, not a site: '@lab'"));
	assert_true(has_diag(&d, STRATA_POLICY_ERROR, 4, 15,
			     "'from' and 'to' are the same: 'nvme'"));
	assert_int_equal(d.nerrors, 4);
	strata_policy_free(p);
	strata_policy_diags_release(&d);
}

static void check_never_true(void **state)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = check(
		"migrate \"/a\" to s3 when size < 0\n"
		"migrate \"/b\" to s3 when size > 1KiB and size < 1KiB\n"
		"migrate \"/c\" to s3 when not (size >= 0)\n"
		"migrate \"/d\" to s3 when (size > 1 or atime > 1d) and "
		"size < 1 and atime < 1h\n"
		"migrate \"/e\" to s3 when heat(1h) > 5 and heat(1h) < 5\n"
		"migrate \"/f\" to s3 when size > 1KiB or size < 1KiB\n"
		"migrate \"/g\" to s3 when heat(1h) > 5 and heat(2h) < 5\n"
		"migrate \"/h\" to s3 when atime > 1d and not (atime > 2d)\n"
		"migrate \"/i\" to s3 when size > 5 and size < 6\n"
		"migrate \"/j\" to s3 when uid == 1 and uid != 1\n",
		&d, 0);

	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 1, 25,
			     "rule 'line-1' can never apply: its condition is "
			     "never true"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 2, 25,
			     "rule 'line-2' can never apply: its condition is "
			     "never true"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 3, 25,
			     "rule 'line-3' can never apply: its condition is "
			     "never true"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 4, 25,
			     "rule 'line-4' can never apply: its condition is "
			     "never true"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 5, 25,
			     "rule 'line-5' can never apply: its condition is "
			     "never true"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 9, 25,
			     "rule 'line-9' can never apply: its condition is "
			     "never true"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 10, 25,
			     "rule 'line-10' can never apply: its condition "
			     "is never true"));
	/* f, g and h can be true. */
	assert_int_equal(d.nwarnings, 7);
	assert_int_equal(d.nerrors, 0);
	strata_policy_free(p);
	strata_policy_diags_release(&d);
}

static void check_shadowed(void **state)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = check(
		"all: place \"/data/**\" on nvme\n"
		"place \"/data/x/*.pt\" on capacity\n" /* shadowed */
		"cond: place \"/other/**\" on nvme when owner == \"alice\"\n"
		"place \"/other/y\" on capacity\n" /* not: 'cond' has a when */
		"m1: migrate \"**\" from nvme to s3\n"
		"migrate \"/z/**\" from capacity to s3\n" /* other source */
		"migrate \"/z/**\" from nvme to far\n"	  /* shadowed */
		"c1: cache \"*.pt\" on nvme when read\n"
		"cache \"/w/a.pt\" on capacity when read\n", /* shadowed */
		&d, 0);

	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 2, 1,
			     "rule 'line-2' can never apply: place rule 'all' "
			     "(line 1) comes first, has no condition and "
			     "matches every file it does"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 7, 1,
			     "rule 'line-7' can never apply: migrate rule "
			     "'m1' (line 5) comes first, has no condition and "
			     "matches every file it does"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 9, 1,
			     "rule 'line-9' can never apply: cache rule 'c1' "
			     "(line 8) comes first, has no condition and "
			     "matches every file it does"));
	assert_int_equal(d.nwarnings, 3);
	strata_policy_free(p);
	strata_policy_diags_release(&d);
}

static void check_warnings(void **state)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = check(
		"place \"data/**\" on nvme\n"
		"place \"/n\" on nvme when atime > 1d\n"
		"migrate \"/o\" to s3 when owner == \"bob\" or group == ml\n"
		"migrate \"/p\" to s3 when name ~ \"a/b\"\n",
		&d, 0);

	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 1, 7,
			     "pattern 'data/**' can never match: it holds a "
			     "'/' but does not start with one, and paths do"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 2, 25,
			     "'atime' in a place rule: a new file is empty, "
			     "just created and has no tags or replicas yet"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 3, 25,
			     "unknown user 'bob'"));
	assert_true(has_diag(&d, STRATA_POLICY_WARNING, 4, 25,
			     "name pattern 'a/b' can never match: names hold "
			     "no '/'"));
	assert_int_equal(d.nwarnings, 4);
	strata_policy_free(p);
	strata_policy_diags_release(&d);
}

static void check_without_config(void **state)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = NULL;

	assert_int_equal(strata_policy_parse("t", "place \"/a\" on fast\n", 0,
					     &p, &d),
			 0);
	assert_int_equal(strata_policy_check(p, NULL, NULL, &d), 0);
	assert_int_equal(d.n, 0);
	strata_policy_free(p);
}

static void check_covers(void **state)
{
	assert_true(strata__policy_covers("**", "/a/*.pt"));
	assert_true(strata__policy_covers("/**", "/a"));
	assert_true(strata__policy_covers("*", "x.pt"));
	assert_true(strata__policy_covers("/a/**", "/a/b/**"));
	assert_true(strata__policy_covers("/a/**", "/a/b/c"));
	assert_true(strata__policy_covers("*.pt", "/x/y.pt"));
	assert_true(strata__policy_covers("*.pt", "a.pt"));
	assert_false(strata__policy_covers("/a/**", "/ab/c"));
	assert_false(strata__policy_covers("/a/*", "/a/b/*"));
	assert_false(strata__policy_covers("*.pt", "/x/*.pt2"));
	assert_false(strata__policy_covers("/a/**", "**"));
	assert_false(strata__policy_covers("/a*/**", "/ab/c/*"));
}

/* Globs ------------------------------------------------------------------ */

static void glob_matcher(void **state)
{
	static const struct {
		const char *pat;
		const char *path;
		bool hit;
	} cases[] = {
		{ "/a/b", "/a/b", true },
		{ "/a/b", "/a/bc", false },
		{ "/a/*", "/a/b", true },
		{ "/a/*", "/a/b/c", false },
		{ "/a/*", "/a/", true },
		{ "/a/*.pt", "/a/x.pt", true },
		{ "/a/*.pt", "/a/x.ptx", false },
		{ "/a/?", "/a/b", true },
		{ "/a/?", "/a/bc", false },
		{ "/a?b", "/a/b", false },
		/* ** at the end */
		{ "/a/**", "/a/b", true },
		{ "/a/**", "/a/b/c/d", true },
		{ "/a/**", "/a", false },
		{ "/a/**", "/ab/c", false },
		{ "**", "/anything/at/all", true },
		{ "/**", "/x", true },
		/* ** at the start */
		{ "**/b", "/b", true },
		{ "**/b", "/a/b", true },
		{ "**/b", "/a/x/b", true },
		{ "**/b", "/a/xb", false },
		{ "**.pt", "/a/b/c.pt", true },
		/* ** in the middle */
		{ "/a/**/b", "/a/b", true },
		{ "/a/**/b", "/a/x/b", true },
		{ "/a/**/b", "/a/x/y/b", true },
		{ "/a/**/b", "/a/xb", false },
		{ "/a/**/b", "/a/x/b/c", false },
		{ "/a/**/b/**", "/a/x/b/c", true },
		{ "/a/**/*.pt", "/a/m.pt", true },
		{ "/a/**/*.pt", "/a/x/y/m.pt", true },
		{ "/a/**/*.pt", "/a/x/y/m.txt", false },
		{ "/a/x**y", "/a/x/q/y", true },
		/* classes */
		{ "/f[0-9]", "/f7", true },
		{ "/f[0-9]", "/fa", false },
		{ "/f[!0-9]", "/fa", true },
		{ "/f[^0-9]", "/f1", false },
		{ "/f[]x]", "/f]", true },
		{ "/a[/]b", "/a/b", false },
		{ "/f[", "/f[", true },
		{ "/f[ab", "/fa", false },
		/* escapes */
		{ "/a\\*", "/a*", true },
		{ "/a\\*", "/ab", false },
		/* no '/': the name anywhere */
		{ "*.pt", "/x/y/z.pt", true },
		{ "*.pt", "/z.pt", true },
		{ "*.pt", "/z.pt/w", false },
		{ "z.pt", "/q/z.pt", true },
		{ "z.pt", "/q/az.pt", false },
		{ "*", "/a/b", true },
		{ "/*", "/a/b", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strata_policy_glob(cases[i].pat, cases[i].path) !=
		    cases[i].hit)
			fail_msg("glob '%s' on '%s': want %s", cases[i].pat,
				 cases[i].path, cases[i].hit ? "hit" : "miss");
}

/* Evaluation ------------------------------------------------------------- */

static uint64_t fake_heat(void *arg, double window)
{
	/* 3 reads an hour */
	return (uint64_t)(window / 3600 * 3);
}

static void eval_each_condition(void **state)
{
	static const struct strata_policy_tag tags[] = {
		{ "hot", "", 0 },
		{ "tier", "gold", 4 },
	};
	struct strata_policy_facts f = facts("/data/run1/model.pt");

	f.tags = tags;
	f.ntags = 2;
	f.heat = fake_heat;
	/* size is 2 MiB */
	assert_true(holds("size >= 1MiB", &f));
	assert_true(holds("size == 2M", &f));
	assert_false(holds("size > 2MiB", &f));
	assert_true(holds("size <= 2097152", &f));
	/* atime 9 days ago, mtime and ctime 20, created 30 */
	assert_true(holds("atime > 7d", &f));
	assert_false(holds("atime > 10d", &f));
	assert_true(holds("atime < 217h", &f));
	assert_true(holds("mtime >= 20d", &f));
	assert_false(holds("mtime < 19d", &f));
	assert_true(holds("ctime > 28799m", &f));
	assert_true(holds("age > 29d and age < 31d", &f));
	/* ids and names */
	assert_true(holds("uid == 1000", &f));
	assert_false(holds("uid != 1000", &f));
	assert_true(holds("gid >= 2000", &f));
	assert_true(holds("owner == \"alice\"", &f));
	assert_false(holds("owner != alice", &f));
	assert_true(holds("group == \"ml\"", &f));
	f.gid = 1;
	assert_false(holds("group == \"ml\"", &f));
	/* paths and names */
	assert_true(holds("path ~ \"/data/**\"", &f));
	assert_false(holds("path ~ \"/other/**\"", &f));
	assert_true(holds("path !~ \"/other/**\"", &f));
	assert_true(holds("name ~ \"*.pt\"", &f));
	assert_true(holds("name ~ \"model.*\"", &f));
	assert_false(holds("name !~ \"*.pt\"", &f));
	/* tags */
	assert_true(holds("tag \"hot\"", &f));
	assert_true(holds("tag \"user.hot\"", &f));
	assert_false(holds("tag \"cold\"", &f));
	assert_true(holds("tag \"tier\" == \"gold\"", &f));
	assert_false(holds("tag \"tier\" == \"gol\"", &f));
	assert_true(holds("tag \"tier\" != \"silver\"", &f));
	assert_true(holds("tag \"missing\" != \"x\"", &f));
	/* heat: 3 reads an hour */
	assert_true(holds("heat(24h) == 72", &f));
	assert_true(holds("heat(1h) < 4", &f));
	f.heat = NULL;
	assert_true(holds("heat(1h) == 0", &f));
	/* replicas and sites */
	assert_true(holds("on nvme", &f));
	assert_true(holds("on nvme@lab", &f));
	assert_true(holds("on @lab", &f));
	assert_false(holds("on @cloud", &f));
	assert_false(holds("on s3", &f));
	/* pins */
	assert_false(holds("pinned", &f));
	f.pin = "nvme";
	assert_true(holds("pinned", &f));
}

static void eval_and_or_not(void **state)
{
	struct strata_policy_facts f = facts("/a/b");

	assert_true(holds("size > 1 and atime > 1d", &f));
	assert_false(holds("size > 1 and atime > 10d", &f));
	assert_true(holds("size < 1 or atime > 1d", &f));
	assert_false(holds("size < 1 or atime > 10d", &f));
	assert_true(holds("not size < 1", &f));
	assert_false(holds("not not size < 1", &f));
	assert_true(holds("size < 1 or size > 1 and not atime > 10d", &f));
	assert_false(holds("(size < 1 or size > 1) and atime > 10d", &f));
	assert_true(holds("not (size < 1 or atime > 10d)", &f));
}

static void eval_btime_falls_back_to_ctime(void **state)
{
	struct strata_policy_facts f = facts("/a");

	f.btime.tv_sec = 0;
	assert_true(holds("age > 19d and age < 21d", &f));
}

static void eval_place_precedence(void **state)
{
	struct strata_policy *p =
		load("first: place \"/ckpt/**\" on nvme when owner == alice\n"
		     "second: place \"/ckpt/**\" on s3\n"
		     "third: place \"*.pt\" on @dc2\n");
	struct strata_policy_facts f = facts("/ckpt/a.pt");
	struct strata_policy_action a;

	f.size = 0;
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), 0);
	assert_string_equal(a.rule->name, "first");
	assert_string_equal(a.tier, "nvme");

	f.uid = 5; /* not alice: the next rule in file order */
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), 0);
	assert_string_equal(a.rule->name, "second");
	assert_string_equal(a.tier, "s3");

	f.path = "/other/a.pt"; /* a site target: its first tier */
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), 0);
	assert_string_equal(a.rule->name, "third");
	assert_string_equal(a.tier, "far");

	f.path = "/other/a.txt"; /* no rule: the config's placement */
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), 0);
	assert_null(a.rule);
	assert_string_equal(a.tier, "capacity");

	f.path = "/ckpt/a.pt"; /* a pin outranks every rule */
	f.pin = "far";
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), 0);
	assert_null(a.rule);
	assert_string_equal(a.tier, "far");
	strata_policy_free(p);
}

static void eval_place_unbound(void **state)
{
	struct strata_policy *p = NULL;
	struct strata_policy_facts f = facts("/x");
	struct strata_policy_action a;

	assert_int_equal(strata_policy_parse("t", "place \"/y\" on nvme\n", 0,
					     &p, NULL),
			 0);
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), -ENOENT);
	f.path = "/y";
	assert_int_equal(strata_policy_place(p, &f, NOW, &a), 0);
	assert_string_equal(a.tier, "nvme");
	strata_policy_free(p);
}

static void eval_decide_migrate(void **state)
{
	struct strata_policy *p =
		load("cold: migrate \"**\" from nvme to s3 when atime > 7d "
		     "and size >= 1MiB\n"
		     "warm: migrate \"**\" from nvme to capacity when "
		     "atime > 1d\n");
	static const char *const both[] = { "nvme", "s3" };
	struct strata_policy_facts f = facts("/d/f");
	struct strata_policy_decision d;

	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_false(d.pinned);
	assert_string_equal(d.migrate.rule->name, "cold");
	assert_string_equal(d.migrate.tier, "s3");
	assert_true(d.move);
	assert_int_equal(d.ndrop, 1);
	assert_string_equal(d.drop[0], "nvme");
	assert_int_equal(d.nreplicate, 0);

	/* The first matching rule decides; later ones do not run. */
	f.size = 10;
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_string_equal(d.migrate.rule->name, "warm");
	assert_string_equal(d.migrate.tier, "capacity");

	/* Already on the target and a copy on the source: drop it. */
	f.size = 2 * MIB;
	f.tiers = both;
	f.ntiers = 2;
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_string_equal(d.migrate.tier, "s3");
	assert_true(d.move);
	assert_int_equal(d.ndrop, 1);

	/* Not on the source: the rule does not match. */
	f.tiers = both + 1;
	f.ntiers = 1;
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_null(d.migrate.rule);
	assert_false(d.move);

	/* Nothing matches: nothing to do. */
	f.tiers = both;
	f.atime = NOW;
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_null(d.migrate.rule);
	assert_false(d.move);
	strata_policy_free(p);
}

static void eval_decide_replicate(void **state)
{
	struct strata_policy *p =
		load("off: replicate \"/ckpt/**\" to s3 when age > 10m\n"
		     "dr: replicate \"/ckpt/**\" to @dc2\n"
		     "dup: replicate \"**\" to far\n"
		     "mv: migrate \"/ckpt/**\" to capacity when size > 1GiB\n");
	static const char *const on[] = { "nvme", "s3" };
	struct strata_policy_facts f = facts("/ckpt/a");
	struct strata_policy_decision d;

	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_null(d.migrate.rule);
	assert_int_equal(d.nreplicate, 2);
	assert_string_equal(d.replicate[0].rule->name, "off");
	assert_string_equal(d.replicate[0].tier, "s3");
	assert_string_equal(d.replicate[1].rule->name, "dr");
	assert_string_equal(d.replicate[1].tier, "far"); /* not twice */

	/* Already satisfied copies are not asked for again. */
	f.tiers = on;
	f.ntiers = 2;
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_int_equal(d.nreplicate, 1);
	assert_string_equal(d.replicate[0].tier, "far");

	/* A migrate without 'from' keeps the copies replicate rules want. */
	f.size = 2ull << 30;
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_string_equal(d.migrate.rule->name, "mv");
	assert_string_equal(d.migrate.tier, "capacity");
	assert_true(d.move);
	assert_int_equal(d.ndrop, 1);
	assert_string_equal(d.drop[0], "nvme");
	strata_policy_free(p);
}

static void eval_decide_pinned(void **state)
{
	struct strata_policy *p =
		load("migrate \"**\" to s3\nreplicate \"**\" to far\n");
	struct strata_policy_facts f = facts("/p");
	struct strata_policy_decision d;

	f.pin = "nvme"; /* and on nvme already: no move */
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_true(d.pinned);
	assert_null(d.migrate.rule);
	assert_string_equal(d.migrate.tier, "nvme");
	assert_false(d.move);
	assert_int_equal(d.nreplicate, 1); /* copies elsewhere still come */
	assert_string_equal(d.replicate[0].tier, "far");

	f.pin = "capacity"; /* the pin's tier lacks a copy */
	assert_int_equal(strata_policy_decide(p, &f, NOW, &d), 0);
	assert_true(d.pinned);
	assert_string_equal(d.migrate.tier, "capacity");
	assert_true(d.move);
	assert_int_equal(d.ndrop, 1);
	strata_policy_free(p);
}

static void eval_cache_on_read(void **state)
{
	struct strata_policy *p =
		load("near: cache \"/datasets/**\" on nvme when read and "
		     "size < 1GiB\n"
		     "site: cache \"/datasets/**\" on @lab when read\n");
	static const char *const on_s3[] = { "s3" };
	static const char *const on_cap[] = { "capacity" };
	struct strata_policy_facts f = facts("/datasets/x");
	struct strata_policy_action a;

	f.tiers = on_s3;
	assert_int_equal(strata_policy_on_read(p, &f, NOW, &a), 0);
	assert_string_equal(a.rule->name, "near");
	assert_string_equal(a.tier, "nvme");

	f.size = 2ull << 30;
	assert_int_equal(strata_policy_on_read(p, &f, NOW, &a), 0);
	assert_string_equal(a.rule->name, "site");
	assert_string_equal(a.tier, "nvme"); /* the site's first tier */

	f.tiers = on_cap; /* already near: nothing to copy */
	assert_int_equal(strata_policy_on_read(p, &f, NOW, &a), 0);
	assert_null(a.rule);

	f.path = "/other"; /* no rule matches */
	f.tiers = on_s3;
	assert_int_equal(strata_policy_on_read(p, &f, NOW, &a), 0);
	assert_null(a.rule);
	strata_policy_free(p);
}

static void eval_evict(void **state)
{
	struct strata_policy *p = load(
		"evict nvme to capacity when used > 85% until used < 70%\n"
		"big: evict capacity to s3 when used > 90% until used < 80% "
		"by size\n"
		"hot: evict s3 to far when used > 50% until used < 40% by "
		"heat(1h)\n");
	const struct strata_policy_rule *r;
	struct strata_policy_facts f = facts("/e");
	double key;

	assert_null(strata_policy_evict_rule(p, "nvme", 85));
	r = strata_policy_evict_rule(p, "nvme", 86);
	assert_non_null(r);
	assert_string_equal(r->name, "line-1");
	assert_int_equal(strata_policy_evict_key(p, r, &f, NOW, &key), 0);
	assert_true(key == 9 * DAY); /* by atime: older is colder */
	f.pin = "nvme";
	assert_int_equal(strata_policy_evict_key(p, r, &f, NOW, &key), -EPERM);
	f.pin = NULL;

	r = strata_policy_evict_rule(p, "capacity", 95);
	assert_string_equal(r->name, "big");
	assert_int_equal(strata_policy_evict_key(p, r, &f, NOW, &key), -ENOENT);
	f.tiers = (const char *const[]){ "capacity" };
	assert_int_equal(strata_policy_evict_key(p, r, &f, NOW, &key), 0);
	assert_true(key == 2 * MIB);

	r = strata_policy_evict_rule(p, "s3", 60);
	f.tiers = (const char *const[]){ "s3" };
	f.heat = fake_heat;
	assert_int_equal(strata_policy_evict_key(p, r, &f, NOW, &key), 0);
	assert_true(key == -3);
	assert_null(strata_policy_evict_rule(p, "far", 100));
	strata_policy_free(p);
}

static void eval_explain(void **state)
{
	struct strata_policy *p =
		load("\n\ncold: migrate \"**\" from nvme to s3 when atime > 7d "
		     "and size >= 1MiB\n"
		     "x: replicate \"/d/**\" to s3 when (owner == alice or "
		     "tag \"hot\") and not heat(24h) > 10\n"
		     "y: place \"/q/**\" on nvme\n");
	struct strata_policy_facts f = facts("/d/f");
	char buf[512];
	int n;

	n = strata_policy_explain(p, &p->rules[0], &f, NOW, buf, sizeof(buf));
	assert_string_equal(buf, "rule 'cold' (line 3): atime 9d > 7d and "
				 "size 2.0 MiB >= 1 MiB");
	assert_int_equal(n, (int)strlen(buf));

	n = strata_policy_explain(p, &p->rules[1], &f, NOW, buf, sizeof(buf));
	assert_string_equal(buf, "rule 'x' (line 4): (owner == \"alice\" "
				 "(uid 1000) or tag \"hot\" (unset) [no]) and "
				 "not heat(1d) 0 > 10 [no]");

	f.atime = NOW;
	f.tiers = NULL;
	f.ntiers = 0;
	strata_policy_explain(p, &p->rules[0], &f, NOW, buf, sizeof(buf));
	assert_string_equal(buf, "rule 'cold' (line 3): from nvme (replicas: "
				 "none) [no] and atime 0s > 7d [no] and size "
				 "2.0 MiB >= 1 MiB");

	strata_policy_explain(p, &p->rules[2], &f, NOW, buf, sizeof(buf));
	assert_string_equal(buf, "rule 'y' (line 5): path '/d/f' ~ "
				 "\"/q/**\" [no]");
	f.path = "/q/r";
	strata_policy_explain(p, &p->rules[2], &f, NOW, buf, sizeof(buf));
	assert_string_equal(buf, "rule 'y' (line 5): path '/q/r' ~ "
				 "\"/q/**\"");

	/* A short buffer is cut, NUL-terminated, and the need reported. */
	n = strata_policy_explain(p, &p->rules[2], &f, NOW, buf, 8);
	assert_string_equal(buf, "rule 'y");
	assert_int_equal(n, (int)strlen("rule 'y' (line 5): path '/q/r' ~ "
					"\"/q/**\""));
	strata_policy_free(p);
}

static void fmt_units(void **state)
{
	char buf[32];

	strata__policy_fmt_size(1536, true, buf, sizeof(buf));
	assert_string_equal(buf, "1.5 KiB");
	strata__policy_fmt_size(1 << 30, true, buf, sizeof(buf));
	assert_string_equal(buf, "1 GiB");
	strata__policy_fmt_size(100, false, buf, sizeof(buf));
	assert_string_equal(buf, "100 B");
	strata__policy_fmt_secs(90, buf, sizeof(buf));
	assert_string_equal(buf, "1.5m");
	strata__policy_fmt_secs(7200, buf, sizeof(buf));
	assert_string_equal(buf, "2h");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lex_tokens_and_positions),
		cmocka_unit_test(lex_number_values),
		cmocka_unit_test(lex_bad_strings),
		cmocka_unit_test(parse_every_rule_kind),
		cmocka_unit_test(parse_defaults),
		cmocka_unit_test(parse_condition_precedence),
		cmocka_unit_test(parse_every_condition),
		cmocka_unit_test(parse_lines_continue),
		cmocka_unit_test(parse_syntax_errors),
		cmocka_unit_test(parse_reports_every_broken_line),
		cmocka_unit_test(load_missing_file),
		cmocka_unit_test(check_targets),
		cmocka_unit_test(check_evict_marks),
		cmocka_unit_test(check_never_true),
		cmocka_unit_test(check_shadowed),
		cmocka_unit_test(check_warnings),
		cmocka_unit_test(check_without_config),
		cmocka_unit_test(check_covers),
		cmocka_unit_test(glob_matcher),
		cmocka_unit_test(eval_each_condition),
		cmocka_unit_test(eval_and_or_not),
		cmocka_unit_test(eval_btime_falls_back_to_ctime),
		cmocka_unit_test(eval_place_precedence),
		cmocka_unit_test(eval_place_unbound),
		cmocka_unit_test(eval_decide_migrate),
		cmocka_unit_test(eval_decide_replicate),
		cmocka_unit_test(eval_decide_pinned),
		cmocka_unit_test(eval_cache_on_read),
		cmocka_unit_test(eval_evict),
		cmocka_unit_test(eval_explain),
		cmocka_unit_test(fmt_units),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
