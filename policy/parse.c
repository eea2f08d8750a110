/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/parse.c - the rules language's parser: tokens to a struct
 * strata_policy (grammar in man/strata-rules.5).
 *
 * A recursive-descent parser over one statement per line; inside
 * parentheses line ends do not count. The first syntax error in a
 * statement is reported as "expected X, got Y" at the offending token,
 * then the parser skips to the next statement, so one pass reports every
 * broken line. Meaning (tier names, shadowed rules) is check.c's job. Also
 * here: strata_policy_load (reads the file), _free, and the diagnostics
 * list. Single-threaded per call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define PP_MSG_TOKEN 64

struct pp {
	struct strata__policy_lexer lx;
	struct strata__policy_token tok;  /* the current token */
	struct strata__policy_token next; /* lookahead, when has_next */
	bool has_next;
	int depth; /* open parentheses in the statement */
	struct strata_policy *pol;
	struct strata_policy_diags *diags;
	unsigned int nerrors;
};

/* Diagnostics ------------------------------------------------------------ */

int strata__policy_diag(struct strata_policy_diags *d,
			enum strata_policy_severity sev, int line, int col,
			const char *fmt, ...)
{
	struct strata_policy_diag *g;
	va_list ap;

	if (!d)
		return 0;
	if (d->n == d->cap) {
		unsigned int cap = d->cap ? d->cap * 2 : 8;
		struct strata_policy_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	g = &d->v[d->n++];
	g->severity = sev;
	g->line = line;
	g->col = col;
	va_start(ap, fmt);
	vsnprintf(g->msg, sizeof(g->msg), fmt, ap);
	va_end(ap);
	if (sev == STRATA_POLICY_ERROR)
		d->nerrors++;
	else
		d->nwarnings++;
	return 0;
}

void strata_policy_diags_release(struct strata_policy_diags *d)
{
	if (!d)
		return;
	free(d->v);
	memset(d, 0, sizeof(*d));
}

const char *strata_policy_severity_name(enum strata_policy_severity sev)
{
	return sev == STRATA_POLICY_ERROR ? "error" : "warning";
}

/* Freeing ---------------------------------------------------------------- */

static void pp_target_release(struct strata_policy_target *t)
{
	free(t->tier);
	free(t->site);
	t->tier = NULL;
	t->site = NULL;
}

static void pp_cond_free(struct strata_policy_cond *c)
{
	if (!c)
		return;
	pp_cond_free(c->left);
	pp_cond_free(c->right);
	free(c->str);
	free(c->value);
	pp_target_release(&c->target);
	free(c);
}

static void pp_rule_release(struct strata_policy_rule *r)
{
	free(r->name);
	free(r->pattern);
	pp_target_release(&r->from);
	pp_target_release(&r->to);
	pp_cond_free(r->when);
	memset(r, 0, sizeof(*r));
}

void strata_policy_free(struct strata_policy *p)
{
	if (!p)
		return;
	for (unsigned int i = 0; i < p->nrules; i++)
		pp_rule_release(&p->rules[i]);
	free(p->rules);
	free(p->file);
	free(p);
}

/* Tokens ----------------------------------------------------------------- */

static int pp_raw_next(struct pp *pp, struct strata__policy_token *t)
{
	if (pp->has_next && t == &pp->tok) {
		strata__policy_token_release(&pp->tok);
		pp->tok = pp->next;
		memset(&pp->next, 0, sizeof(pp->next));
		pp->has_next = false;
		return 0;
	}
	return strata__policy_lex_next(&pp->lx, t);
}

/* Move to the next token; inside parentheses, line ends do not count. */
static int pp_advance(struct pp *pp)
{
	int ret;

	do {
		ret = pp_raw_next(pp, &pp->tok);
		if (ret < 0)
			return ret;
	} while (pp->depth > 0 && pp->tok.type == POL_TOK_NEWLINE);
	return 0;
}

static const struct strata__policy_token *pp_peek(struct pp *pp)
{
	if (!pp->has_next) {
		if (strata__policy_lex_next(&pp->lx, &pp->next) < 0)
			return NULL;
		pp->has_next = true;
	}
	return &pp->next;
}

static bool pp_is(const struct pp *pp, const char *word)
{
	return pp->tok.type == POL_TOK_IDENT && strcmp(pp->tok.text, word) == 0;
}

static bool pp_at_end(const struct pp *pp)
{
	return pp->tok.type == POL_TOK_NEWLINE || pp->tok.type == POL_TOK_EOF;
}

/* Report "expected WHAT, got TOKEN" at the current token; -EINVAL. */
static int pp_expected(struct pp *pp, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int pp_expected(struct pp *pp, const char *fmt, ...)
{
	char what[160];
	char got[PP_MSG_TOKEN];
	va_list ap;
	int ret;

	pp->nerrors++;
	if (pp->tok.type == POL_TOK_ERROR) {
		ret = strata__policy_diag(pp->diags, STRATA_POLICY_ERROR,
					  pp->tok.line, pp->tok.col, "%s",
					  pp->tok.text);
		return ret < 0 ? ret : -EINVAL;
	}
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	strata__policy_token_desc(&pp->tok, got, sizeof(got));
	ret = strata__policy_diag(pp->diags, STRATA_POLICY_ERROR, pp->tok.line,
				  pp->tok.col, "expected %s, got %s", what,
				  got);
	return ret < 0 ? ret : -EINVAL;
}

/* An error at pos that is not about the current token; -EINVAL. */
static int pp_error_at(struct pp *pp, struct strata_policy_pos pos,
		       const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int pp_error_at(struct pp *pp, struct strata_policy_pos pos,
		       const char *fmt, ...)
{
	char msg[STRATA_POLICY_MSG_MAX];
	va_list ap;
	int ret;

	pp->nerrors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ret = strata__policy_diag(pp->diags, STRATA_POLICY_ERROR, pos.line,
				  pos.col, "%s", msg);
	return ret < 0 ? ret : -EINVAL;
}

static struct strata_policy_pos pp_pos(const struct pp *pp)
{
	struct strata_policy_pos pos = { pp->tok.line, pp->tok.col };

	return pos;
}

/* Take the current token's text and advance. */
static int pp_take_text(struct pp *pp, char **out)
{
	*out = pp->tok.text;
	pp->tok.text = NULL;
	return pp_advance(pp);
}

/* Expect the word, as in "expected 'on' after the pattern". */
static int pp_word(struct pp *pp, const char *word, const char *after)
{
	if (!pp_is(pp, word))
		return pp_expected(pp, "'%s' %s", word, after);
	return pp_advance(pp);
}

/* Pieces ----------------------------------------------------------------- */

static int pp_target(struct pp *pp, const char *after,
		     struct strata_policy_target *t)
{
	int ret;

	t->pos = pp_pos(pp);
	if (pp->tok.type == POL_TOK_IDENT) {
		ret = pp_take_text(pp, &t->tier);
		if (ret < 0 || pp->tok.type != POL_TOK_AT)
			return ret;
	} else if (pp->tok.type != POL_TOK_AT) {
		return pp_expected(pp, "a tier, TIER@SITE or @SITE %s", after);
	}
	ret = pp_advance(pp);
	if (ret < 0)
		return ret;
	if (pp->tok.type != POL_TOK_IDENT)
		return pp_expected(pp, "a site name after '@'");
	return pp_take_text(pp, &t->site);
}

static int pp_pattern(struct pp *pp, const char *after, char **out,
		      struct strata_policy_pos *pos)
{
	*pos = pp_pos(pp);
	if (pp->tok.type != POL_TOK_STRING)
		return pp_expected(pp, "a pattern in double quotes after '%s'",
				   after);
	if (!pp->tok.text[0])
		return pp_error_at(pp, *pos, "empty pattern after '%s'", after);
	return pp_take_text(pp, out);
}

struct pp_unit {
	const char *unit;
	double mult;
};

static const struct pp_unit pp_size_units[] = {
	{ "", 1 },
	{ "B", 1 },
	{ "K", 1024.0 },
	{ "KiB", 1024.0 },
	{ "M", 1048576.0 },
	{ "MiB", 1048576.0 },
	{ "G", 1073741824.0 },
	{ "GiB", 1073741824.0 },
	{ "T", 1099511627776.0 },
	{ "TiB", 1099511627776.0 },
};

static const struct pp_unit pp_time_units[] = {
	{ "", 1 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
};

static const struct pp_unit pp_count_units[] = { { "", 1 } };
static const struct pp_unit pp_percent_units[] = { { "%", 1 } };

static int pp_quantity(struct pp *pp, const struct pp_unit *units,
		       size_t nunits, const char *what, const char *after,
		       double *out)
{
	if (pp->tok.type == POL_TOK_NUMBER) {
		for (size_t i = 0; i < nunits; i++) {
			if (strcmp(pp->tok.unit, units[i].unit) != 0)
				continue;
			*out = pp->tok.num * units[i].mult;
			return pp_advance(pp);
		}
	}
	return pp_expected(pp, "%s after %s", what, after);
}

#define PP_QTY(pp, units, what, after, out)                                   \
	pp_quantity(pp, units, sizeof(units) / sizeof(units[0]), what, after, \
		    out)

static int pp_duration(struct pp *pp, const char *after, double *out)
{
	return PP_QTY(pp, pp_time_units, "a duration such as 7d", after, out);
}

static int pp_cmp(struct pp *pp, const char *field, enum strata_policy_op *op)
{
	switch (pp->tok.type) {
	case POL_TOK_LT:
		*op = STRATA_POLICY_LT;
		break;
	case POL_TOK_LE:
		*op = STRATA_POLICY_LE;
		break;
	case POL_TOK_GT:
		*op = STRATA_POLICY_GT;
		break;
	case POL_TOK_GE:
		*op = STRATA_POLICY_GE;
		break;
	case POL_TOK_EQ:
		*op = STRATA_POLICY_EQ;
		break;
	case POL_TOK_NE:
		*op = STRATA_POLICY_NE;
		break;
	default:
		return pp_expected(pp,
				   "a comparison (<, <=, >, >=, == or !=) "
				   "after '%s'",
				   field);
	}
	return pp_advance(pp);
}

/* Conditions ------------------------------------------------------------- */

static int pp_or(struct pp *pp, struct strata_policy_cond **out);

static struct strata_policy_cond *pp_node(enum strata_policy_cond_kind kind,
					  struct strata_policy_pos pos)
{
	struct strata_policy_cond *c = calloc(1, sizeof(*c));

	if (c) {
		c->kind = kind;
		c->pos = pos;
	}
	return c;
}

static const struct {
	const char *word;
	enum strata_policy_field field;
} pp_fields[] = {
	{ "size", STRATA_POLICY_F_SIZE },
	{ "atime", STRATA_POLICY_F_ATIME },
	{ "mtime", STRATA_POLICY_F_MTIME },
	{ "ctime", STRATA_POLICY_F_CTIME },
	{ "age", STRATA_POLICY_F_AGE },
	{ "uid", STRATA_POLICY_F_UID },
	{ "gid", STRATA_POLICY_F_GID },
	{ "heat", STRATA_POLICY_F_HEAT },
	{ "path", STRATA_POLICY_F_PATH },
	{ "name", STRATA_POLICY_F_NAME },
	{ "owner", STRATA_POLICY_F_OWNER },
	{ "group", STRATA_POLICY_F_GROUP },
	{ "tag", STRATA_POLICY_F_TAG },
	{ "on", STRATA_POLICY_F_ON },
	{ "pinned", STRATA_POLICY_F_PINNED },
};

static int pp_name_operand(struct pp *pp, const char *what, const char *after,
			   char **out)
{
	if (pp->tok.type != POL_TOK_STRING && pp->tok.type != POL_TOK_IDENT)
		return pp_expected(pp, "%s after %s", what, after);
	return pp_take_text(pp, out);
}

static int pp_tag(struct pp *pp, struct strata_policy_cond *c)
{
	char after[96];
	int ret;

	if (pp->tok.type != POL_TOK_STRING && pp->tok.type != POL_TOK_IDENT)
		return pp_expected(pp, "a tag name in double quotes after "
				       "'tag'");
	/* "user.hot" and "hot" name the same attribute. */
	if (strncmp(pp->tok.text, "user.", 5) == 0)
		memmove(pp->tok.text, pp->tok.text + 5,
			strlen(pp->tok.text + 5) + 1);
	ret = pp_take_text(pp, &c->str);
	if (ret < 0)
		return ret;
	c->op = STRATA_POLICY_EXISTS;
	if (pp->tok.type != POL_TOK_EQ && pp->tok.type != POL_TOK_NE)
		return 0;
	c->op = pp->tok.type == POL_TOK_EQ ? STRATA_POLICY_EQ :
					     STRATA_POLICY_NE;
	snprintf(after, sizeof(after), "'tag \"%s\" %s'", c->str,
		 strata__policy_op_str(c->op));
	ret = pp_advance(pp);
	if (ret < 0)
		return ret;
	return pp_name_operand(pp, "a value in double quotes", after,
			       &c->value);
}

static int pp_test(struct pp *pp, struct strata_policy_cond *c)
{
	const char *w = NULL;
	char after[64];
	int ret;

	for (size_t i = 0; i < sizeof(pp_fields) / sizeof(pp_fields[0]); i++) {
		if (pp_is(pp, pp_fields[i].word)) {
			w = pp_fields[i].word;
			c->field = pp_fields[i].field;
		}
	}
	if (!w)
		return pp_expected(pp, "a condition");
	ret = pp_advance(pp);
	if (ret < 0)
		return ret;
	switch (c->field) {
	case STRATA_POLICY_F_SIZE:
	case STRATA_POLICY_F_ATIME:
	case STRATA_POLICY_F_MTIME:
	case STRATA_POLICY_F_CTIME:
	case STRATA_POLICY_F_AGE:
	case STRATA_POLICY_F_UID:
	case STRATA_POLICY_F_GID:
		ret = pp_cmp(pp, w, &c->op);
		if (ret < 0)
			return ret;
		snprintf(after, sizeof(after), "'%s %s'", w,
			 strata__policy_op_str(c->op));
		if (c->field == STRATA_POLICY_F_SIZE)
			return PP_QTY(pp, pp_size_units, "a size such as 1MiB",
				      after, &c->num);
		if (c->field == STRATA_POLICY_F_UID ||
		    c->field == STRATA_POLICY_F_GID)
			return PP_QTY(pp, pp_count_units, "a number", after,
				      &c->num);
		return pp_duration(pp, after, &c->num);
	case STRATA_POLICY_F_HEAT:
		if (pp->tok.type != POL_TOK_LPAREN)
			return pp_expected(pp, "'(' after 'heat', as in "
					       "heat(24h)");
		pp->depth++;
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_duration(pp, "'heat('", &c->window);
		if (ret < 0)
			return ret;
		if (pp->tok.type != POL_TOK_RPAREN)
			return pp_expected(pp, "')' after the heat window");
		pp->depth--;
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_cmp(pp, "heat(...)", &c->op);
		if (ret < 0)
			return ret;
		snprintf(after, sizeof(after), "'heat(...) %s'",
			 strata__policy_op_str(c->op));
		return PP_QTY(pp, pp_count_units, "a number of reads", after,
			      &c->num);
	case STRATA_POLICY_F_PATH:
	case STRATA_POLICY_F_NAME:
		if (pp->tok.type != POL_TOK_MATCH &&
		    pp->tok.type != POL_TOK_NOMATCH)
			return pp_expected(pp, "'~' or '!~' after '%s'", w);
		c->op = pp->tok.type == POL_TOK_MATCH ? STRATA_POLICY_MATCH :
							STRATA_POLICY_NOMATCH;
		ret = pp_advance(pp);
		if (ret < 0)
			return ret;
		if (pp->tok.type != POL_TOK_STRING)
			return pp_expected(pp,
					   "a pattern in double quotes after "
					   "'%s %s'",
					   w, strata__policy_op_str(c->op));
		return pp_take_text(pp, &c->str);
	case STRATA_POLICY_F_OWNER:
	case STRATA_POLICY_F_GROUP:
		if (pp->tok.type != POL_TOK_EQ && pp->tok.type != POL_TOK_NE)
			return pp_expected(pp, "'==' or '!=' after '%s'", w);
		c->op = pp->tok.type == POL_TOK_EQ ? STRATA_POLICY_EQ :
						     STRATA_POLICY_NE;
		ret = pp_advance(pp);
		if (ret < 0)
			return ret;
		snprintf(after, sizeof(after), "'%s %s'", w,
			 strata__policy_op_str(c->op));
		return pp_name_operand(pp,
				       c->field == STRATA_POLICY_F_OWNER ?
					       "a user name" :
					       "a group name",
				       after, &c->str);
	case STRATA_POLICY_F_TAG:
		return pp_tag(pp, c);
	case STRATA_POLICY_F_ON:
		c->op = STRATA_POLICY_EXISTS;
		return pp_target(pp, "after 'on'", &c->target);
	case STRATA_POLICY_F_PINNED:
		c->op = STRATA_POLICY_EXISTS;
		return 0;
	}
	return 0;
}

static int pp_primary(struct pp *pp, struct strata_policy_cond **out)
{
	struct strata_policy_pos pos = pp_pos(pp);
	struct strata_policy_cond *c;
	int ret;

	if (pp->tok.type == POL_TOK_LPAREN) {
		pp->depth++;
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_or(pp, out);
		if (ret < 0)
			return ret;
		if (pp->tok.type != POL_TOK_RPAREN)
			return pp_expected(pp,
					   "'and', 'or' or ')' to close the "
					   "'(' at %d:%d",
					   pos.line, pos.col);
		/* A group starts at its '('; a lone test keeps its place. */
		if ((*out)->kind != STRATA_POLICY_TEST)
			(*out)->pos = pos;
		pp->depth--;
		return pp_advance(pp);
	}
	c = pp_node(STRATA_POLICY_TEST, pos);
	if (!c)
		return -ENOMEM;
	*out = c;
	return pp_test(pp, c);
}

static int pp_not(struct pp *pp, struct strata_policy_cond **out)
{
	struct strata_policy_cond *c;
	int ret;

	if (!pp_is(pp, "not"))
		return pp_primary(pp, out);
	c = pp_node(STRATA_POLICY_NOT, pp_pos(pp));
	if (!c)
		return -ENOMEM;
	*out = c;
	ret = pp_advance(pp);
	if (ret < 0)
		return ret;
	return pp_not(pp, &c->left);
}

/* left OP right, left-associative; *out owns whatever was built. */
static int pp_binary(struct pp *pp, const char *word,
		     enum strata_policy_cond_kind kind,
		     int (*sub)(struct pp *, struct strata_policy_cond **),
		     struct strata_policy_cond **out)
{
	int ret = sub(pp, out);

	while (ret == 0 && pp_is(pp, word)) {
		/* Positioned where the whole expression starts. */
		struct strata_policy_cond *c = pp_node(kind, (*out)->pos);

		if (!c)
			return -ENOMEM;
		c->left = *out;
		*out = c;
		ret = pp_advance(pp);
		if (ret == 0)
			ret = sub(pp, &c->right);
	}
	return ret;
}

static int pp_and(struct pp *pp, struct strata_policy_cond **out)
{
	return pp_binary(pp, "and", STRATA_POLICY_AND, pp_not, out);
}

static int pp_or(struct pp *pp, struct strata_policy_cond **out)
{
	return pp_binary(pp, "or", STRATA_POLICY_OR, pp_and, out);
}

/* [when COND] then the end of the statement. */
static int pp_when_end(struct pp *pp, struct strata_policy_rule *r,
		       const char *hint)
{
	int ret;

	if (pp_is(pp, "when")) {
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_or(pp, &r->when);
		if (ret < 0)
			return ret;
		hint = "'and', 'or' or the end of the line";
	}
	if (!pp_at_end(pp))
		return pp_expected(pp, "%s", hint);
	return 0;
}

/* Rules ------------------------------------------------------------------ */

static int pp_place(struct pp *pp, struct strata_policy_rule *r)
{
	int ret = pp_pattern(pp, "place", &r->pattern, &r->pattern_pos);

	if (ret == 0)
		ret = pp_word(pp, "on", "after the pattern");
	if (ret == 0)
		ret = pp_target(pp, "after 'on'", &r->to);
	if (ret == 0)
		ret = pp_when_end(pp, r, "'when' or the end of the line");
	return ret;
}

static int pp_migrate(struct pp *pp, struct strata_policy_rule *r)
{
	int ret = pp_pattern(pp, "migrate", &r->pattern, &r->pattern_pos);

	if (ret == 0 && pp_is(pp, "from")) {
		r->has_from = true;
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_target(pp, "after 'from'", &r->from);
		if (ret == 0)
			ret = pp_word(pp, "to", "after the source");
	} else if (ret == 0) {
		ret = pp_word(pp, "to", "or 'from' after the pattern");
	}
	if (ret == 0)
		ret = pp_target(pp, "after 'to'", &r->to);
	if (ret == 0)
		ret = pp_when_end(pp, r, "'when' or the end of the line");
	return ret;
}

static int pp_replicate(struct pp *pp, struct strata_policy_rule *r)
{
	int ret = pp_pattern(pp, "replicate", &r->pattern, &r->pattern_pos);

	if (ret == 0)
		ret = pp_word(pp, "to", "after the pattern");
	if (ret == 0)
		ret = pp_target(pp, "after 'to'", &r->to);
	if (ret == 0)
		ret = pp_when_end(pp, r, "'when' or the end of the line");
	return ret;
}

static int pp_cache(struct pp *pp, struct strata_policy_rule *r)
{
	int ret = pp_pattern(pp, "cache", &r->pattern, &r->pattern_pos);

	if (ret == 0)
		ret = pp_word(pp, "on", "after the pattern");
	if (ret == 0)
		ret = pp_target(pp, "after 'on'", &r->to);
	if (ret == 0)
		ret = pp_word(pp, "when",
			      "after the target: cache rules "
			      "say 'when read'");
	if (ret == 0)
		ret = pp_word(pp, "read", "after 'when'");
	if (ret < 0)
		return ret;
	if (pp_is(pp, "and")) {
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_or(pp, &r->when);
		if (ret < 0)
			return ret;
		if (!pp_at_end(pp))
			return pp_expected(pp, "'and', 'or' or the end of "
					       "the line");
		return 0;
	}
	if (!pp_at_end(pp))
		return pp_expected(pp, "'and' or the end of the line");
	return 0;
}

static int pp_percent(struct pp *pp, const char *after, double *out,
		      struct strata_policy_pos *pos)
{
	*pos = pp_pos(pp);
	return PP_QTY(pp, pp_percent_units, "a percentage such as 85%", after,
		      out);
}

static int pp_evict_by(struct pp *pp, struct strata_policy_rule *r)
{
	static const struct {
		const char *word;
		enum strata_policy_evict_by by;
	} keys[] = {
		{ "atime", STRATA_POLICY_BY_ATIME },
		{ "mtime", STRATA_POLICY_BY_MTIME },
		{ "size", STRATA_POLICY_BY_SIZE },
		{ "heat", STRATA_POLICY_BY_HEAT },
	};
	int ret;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (!pp_is(pp, keys[i].word))
			continue;
		r->by = keys[i].by;
		ret = pp_advance(pp);
		if (ret < 0 || r->by != STRATA_POLICY_BY_HEAT ||
		    pp->tok.type != POL_TOK_LPAREN)
			return ret;
		pp->depth++;
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_duration(pp, "'heat('", &r->heat_window);
		if (ret < 0)
			return ret;
		if (pp->tok.type != POL_TOK_RPAREN)
			return pp_expected(pp, "')' after the heat window");
		pp->depth--;
		return pp_advance(pp);
	}
	return pp_expected(pp, "atime, mtime, size or heat after 'by'");
}

static int pp_evict(struct pp *pp, struct strata_policy_rule *r)
{
	int ret;

	r->has_from = true;
	r->by = STRATA_POLICY_BY_ATIME;
	r->heat_window = 86400;
	ret = pp_target(pp, "after 'evict'", &r->from);
	if (ret == 0)
		ret = pp_word(pp, "to", "after the tier");
	if (ret == 0)
		ret = pp_target(pp, "after 'to'", &r->to);
	if (ret == 0)
		ret = pp_word(pp, "when", "after the target");
	if (ret == 0)
		ret = pp_word(pp, "used", "after 'when'");
	if (ret == 0 && pp->tok.type != POL_TOK_GT)
		ret = pp_expected(pp, "'>' after 'used'");
	if (ret == 0)
		ret = pp_advance(pp);
	if (ret == 0)
		ret = pp_percent(pp, "'used >'", &r->high, &r->high_pos);
	if (ret == 0)
		ret = pp_word(pp, "until", "after the high mark");
	if (ret == 0)
		ret = pp_word(pp, "used", "after 'until'");
	if (ret == 0 && pp->tok.type != POL_TOK_LT)
		ret = pp_expected(pp, "'<' after 'used'");
	if (ret == 0)
		ret = pp_advance(pp);
	if (ret == 0)
		ret = pp_percent(pp, "'used <'", &r->low, &r->low_pos);
	if (ret < 0)
		return ret;
	if (pp_is(pp, "by")) {
		ret = pp_advance(pp);
		if (ret == 0)
			ret = pp_evict_by(pp, r);
		if (ret < 0)
			return ret;
		if (!pp_at_end(pp))
			return pp_expected(pp, "the end of the line");
		return 0;
	}
	if (!pp_at_end(pp))
		return pp_expected(pp, "'by' or the end of the line");
	return 0;
}

static const struct {
	const char *word;
	enum strata_policy_kind kind;
	int (*fn)(struct pp *pp, struct strata_policy_rule *r);
} pp_kinds[] = {
	{ "place", STRATA_POLICY_PLACE, pp_place },
	{ "migrate", STRATA_POLICY_MIGRATE, pp_migrate },
	{ "replicate", STRATA_POLICY_REPLICATE, pp_replicate },
	{ "evict", STRATA_POLICY_EVICT, pp_evict },
	{ "cache", STRATA_POLICY_CACHE, pp_cache },
};

static int pp_add_rule(struct pp *pp, struct strata_policy_rule *r)
{
	struct strata_policy *pol = pp->pol;

	for (unsigned int i = 0; i < pol->nrules; i++) {
		if (strcmp(pol->rules[i].name, r->name) == 0)
			return pp_error_at(pp, r->pos,
					   "duplicate rule name '%s' (first on "
					   "line %d)",
					   r->name, pol->rules[i].pos.line);
	}
	if (pol->nrules == pol->cap) {
		unsigned int cap = pol->cap ? pol->cap * 2 : 8;
		struct strata_policy_rule *v =
			realloc(pol->rules, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		pol->rules = v;
		pol->cap = cap;
	}
	pol->rules[pol->nrules++] = *r;
	memset(r, 0, sizeof(*r));
	return 0;
}

static int pp_interval(struct pp *pp)
{
	struct strata_policy_pos pos = pp_pos(pp);
	double secs = 0;
	int ret;

	ret = pp_advance(pp);
	if (ret == 0)
		ret = pp_duration(pp, "'interval'", &secs);
	if (ret < 0)
		return ret;
	if (!pp_at_end(pp))
		return pp_expected(pp, "the end of the line");
	if (pp->pol->interval_line)
		return pp_error_at(pp, pos,
				   "duplicate 'interval' (first on line %d)",
				   pp->pol->interval_line);
	if (secs < 1)
		return pp_error_at(
			pp, pos, "interval must be at least 1s, got %gs", secs);
	pp->pol->interval = secs;
	pp->pol->interval_line = pos.line;
	return 0;
}

static int pp_statement(struct pp *pp)
{
	struct strata_policy_rule r = { 0 };
	const struct strata__policy_token *next;
	char label[32];
	size_t i;
	int ret;

	if (pp_is(pp, "interval"))
		return pp_interval(pp);
	r.pos = pp_pos(pp);
	next = pp_peek(pp);
	if (!next)
		return -ENOMEM;
	if (pp->tok.type == POL_TOK_IDENT && next->type == POL_TOK_COLON) {
		r.named = true;
		ret = pp_take_text(pp, &r.name);
		if (ret == 0)
			ret = pp_advance(pp);
		if (ret < 0)
			goto out;
	}
	for (i = 0; i < sizeof(pp_kinds) / sizeof(pp_kinds[0]); i++)
		if (pp_is(pp, pp_kinds[i].word))
			break;
	if (i == sizeof(pp_kinds) / sizeof(pp_kinds[0])) {
		ret = pp_expected(pp, r.named ? "a rule (place, migrate, "
						"replicate, evict or cache) "
						"after the rule name" :
						"a rule (place, migrate, "
						"replicate, evict or cache) "
						"or 'interval'");
		goto out;
	}
	r.kind = pp_kinds[i].kind;
	if (!r.named)
		r.pos = pp_pos(pp);
	ret = pp_advance(pp);
	if (ret == 0)
		ret = pp_kinds[i].fn(pp, &r);
	if (ret < 0)
		goto out;
	if (!r.name) {
		snprintf(label, sizeof(label), "line-%d", r.pos.line);
		r.name = strdup(label);
		if (!r.name) {
			ret = -ENOMEM;
			goto out;
		}
	}
	ret = pp_add_rule(pp, &r);
out:
	pp_rule_release(&r);
	return ret;
}

/*
 * Skip the rest of a statement that failed. Inside parentheses the
 * statement may go on over lines; it ends at a line whose first token is
 * in column 1 (continuation lines are indented), or at the end of file.
 */
static int pp_recover(struct pp *pp)
{
	bool in_parens = pp->depth > 0;
	int ret;

	pp->depth = 0;
	for (;;) {
		const struct strata__policy_token *next;

		while (!pp_at_end(pp)) {
			ret = pp_advance(pp);
			if (ret < 0)
				return ret;
		}
		if (pp->tok.type == POL_TOK_EOF || !in_parens)
			return 0;
		next = pp_peek(pp);
		if (!next)
			return -ENOMEM;
		if (next->col == 1 || next->type == POL_TOK_EOF)
			return 0;
		ret = pp_advance(pp);
		if (ret < 0)
			return ret;
	}
}

static int pp_file(struct pp *pp)
{
	int ret = pp_advance(pp);

	while (ret == 0 && pp->tok.type != POL_TOK_EOF) {
		if (pp->tok.type == POL_TOK_NEWLINE) {
			ret = pp_advance(pp);
			continue;
		}
		ret = pp_statement(pp);
		if (ret == -EINVAL)
			ret = pp_recover(pp);
	}
	return ret;
}

int strata_policy_parse(const char *name, const char *text, unsigned int flags,
			struct strata_policy **out,
			struct strata_policy_diags *diags)
{
	struct pp pp = { .diags = diags };
	int ret;

	*out = NULL;
	pp.pol = calloc(1, sizeof(*pp.pol));
	if (!pp.pol)
		return -ENOMEM;
	pp.pol->interval = STRATA_POLICY_INTERVAL_DEFAULT;
	pp.pol->file = strdup(name);
	if (!pp.pol->file) {
		ret = -ENOMEM;
		goto out;
	}
	strata__policy_lex_init(&pp.lx, text);
	ret = pp_file(&pp);
	if (ret == 0 && pp.nerrors)
		ret = -EINVAL;
	if (ret == 0 || (ret == -EINVAL && (flags & STRATA_POLICY_PARTIAL))) {
		*out = pp.pol;
		pp.pol = NULL;
	}
out:
	strata__policy_token_release(&pp.tok);
	strata__policy_token_release(&pp.next);
	strata_policy_free(pp.pol);
	return ret;
}

int strata_policy_load(const char *path, unsigned int flags,
		       struct strata_policy **out,
		       struct strata_policy_diags *diags)
{
	FILE *f = NULL;
	char *text = NULL;
	size_t len = 0;
	size_t cap = 0;
	int ret;

	*out = NULL;
	f = fopen(path, "re");
	if (!f) {
		ret = -errno;
		goto out;
	}
	for (;;) {
		size_t n;

		if (cap - len < 4096) {
			char *t = realloc(text, cap + 65536);

			if (!t) {
				ret = -ENOMEM;
				goto out;
			}
			text = t;
			cap += 65536;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		ret = -EIO;
		goto out;
	}
	text[len] = '\0';
	if (strlen(text) != len) {
		ret = strata__policy_diag(diags, STRATA_POLICY_ERROR, 1, 1,
					  "the file holds a NUL byte: rules "
					  "files are text");
		if (ret == 0)
			ret = -EINVAL;
		goto out;
	}
	ret = strata_policy_parse(path, text, flags, out, diags);
out:
	if (f)
		fclose(f);
	free(text);
	return ret;
}
