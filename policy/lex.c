/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/lex.c - the rules language's tokenizer.
 *
 * Turns text into words, strings, numbers with units, symbols and line
 * ends, each with its line and column. It skips blanks, '#' comments and a
 * '\' that ends a line (continuation); the parser decides what the tokens
 * mean and reports errors, including a POL_TOK_ERROR token for a string
 * that is unterminated or has a bad escape. A word that starts with a
 * digit is a number only when what follows the digits is a known unit, so
 * a tier may be called "3par". One lexer per thread.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

static const char *const lex_units[] = {
	"",  "B", "KiB", "MiB", "GiB", "TiB", "K", "M",
	"G", "T", "s",	 "m",	"h",   "d",   "%",
};

void strata__policy_lex_init(struct strata__policy_lexer *lx, const char *text)
{
	lx->p = text;
	lx->line_start = text;
	lx->line = 1;
}

void strata__policy_token_release(struct strata__policy_token *t)
{
	free(t->text);
	memset(t, 0, sizeof(*t));
}

static bool lex_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static bool lex_known_unit(const char *u)
{
	for (size_t i = 0; i < sizeof(lex_units) / sizeof(lex_units[0]); i++)
		if (strcmp(u, lex_units[i]) == 0)
			return true;
	return false;
}

/* Is word "digits[.digits]unit" with a known unit? Then fill num and unit. */
static bool lex_number(const char *w, struct strata__policy_token *t)
{
	const char *q = w;
	char *end;

	while (isdigit((unsigned char)*q))
		q++;
	if (*q == '.' && isdigit((unsigned char)q[1])) {
		q++;
		while (isdigit((unsigned char)*q))
			q++;
	}
	if (strlen(q) >= POL_UNIT_MAX || !lex_known_unit(q))
		return false;
	t->num = strtod(w, &end);
	if (end != q)
		return false;
	strcpy(t->unit, q);
	return true;
}

static void lex_skip_blanks(struct strata__policy_lexer *lx)
{
	for (;;) {
		const char *q;

		if (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' ||
		    *lx->p == '\f' || *lx->p == '\v') {
			lx->p++;
			continue;
		}
		if (*lx->p == '#') {
			while (*lx->p && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (*lx->p != '\\')
			return;
		q = lx->p + 1;
		while (*q == ' ' || *q == '\t' || *q == '\r')
			q++;
		if (*q != '\n')
			return;
		lx->p = q + 1;
		lx->line++;
		lx->line_start = lx->p;
	}
}

static int lex_string(struct strata__policy_lexer *lx,
		      struct strata__policy_token *t)
{
	const char *q = lx->p + 1;
	char *out = malloc(strlen(q) + 1);
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	t->type = POL_TOK_STRING;
	for (;;) {
		if (*q == '\0' || *q == '\n') {
			free(out);
			t->type = POL_TOK_ERROR;
			t->text = strdup("unterminated string: expected '\"' "
					 "before the end of the line");
			lx->p = q;
			return t->text ? 0 : -ENOMEM;
		}
		if (*q == '"')
			break;
		if (*q == '\\') {
			if (q[1] != '"' && q[1] != '\\') {
				char msg[96];

				free(out);
				if (isprint((unsigned char)q[1]))
					snprintf(msg, sizeof(msg),
						 "unknown escape '\\%c' in a "
						 "string: only \\\" and \\\\ "
						 "are allowed",
						 q[1]);
				else
					snprintf(msg, sizeof(msg),
						 "unknown escape in a string: "
						 "only \\\" and \\\\ are "
						 "allowed");
				t->type = POL_TOK_ERROR;
				t->col = (int)(q - lx->line_start) + 1;
				t->text = strdup(msg);
				while (*q && *q != '\n')
					q++;
				lx->p = q;
				return t->text ? 0 : -ENOMEM;
			}
			q++;
		}
		out[n++] = *q++;
	}
	out[n] = '\0';
	t->text = out;
	lx->p = q + 1;
	return 0;
}

struct lex_sym {
	const char *s;
	enum strata__policy_tok type;
};

/* Two-character symbols first. */
static const struct lex_sym lex_syms[] = {
	{ "<=", POL_TOK_LE },	   { ">=", POL_TOK_GE },
	{ "==", POL_TOK_EQ },	   { "!=", POL_TOK_NE },
	{ "!~", POL_TOK_NOMATCH }, { "<", POL_TOK_LT },
	{ ">", POL_TOK_GT },	   { "~", POL_TOK_MATCH },
	{ "(", POL_TOK_LPAREN },   { ")", POL_TOK_RPAREN },
	{ "@", POL_TOK_AT },	   { ":", POL_TOK_COLON },
};

int strata__policy_lex_next(struct strata__policy_lexer *lx,
			    struct strata__policy_token *t)
{
	const char *start;

	strata__policy_token_release(t);
	lex_skip_blanks(lx);
	t->line = lx->line;
	t->col = (int)(lx->p - lx->line_start) + 1;
	start = lx->p;
	if (*lx->p == '\0') {
		t->type = POL_TOK_EOF;
		return 0;
	}
	if (*lx->p == '\n') {
		t->type = POL_TOK_NEWLINE;
		lx->p++;
		lx->line++;
		lx->line_start = lx->p;
		return 0;
	}
	if (*lx->p == '"')
		return lex_string(lx, t);
	if (isalnum((unsigned char)*lx->p) || *lx->p == '_') {
		while (lex_word_char(*lx->p))
			lx->p++;
		if (*lx->p == '%' && isdigit((unsigned char)*start))
			lx->p++;
		t->text = strndup(start, (size_t)(lx->p - start));
		if (!t->text)
			return -ENOMEM;
		t->type = isdigit((unsigned char)*start) &&
					  lex_number(t->text, t) ?
				  POL_TOK_NUMBER :
				  POL_TOK_IDENT;
		return 0;
	}
	for (size_t i = 0; i < sizeof(lex_syms) / sizeof(lex_syms[0]); i++) {
		size_t n = strlen(lex_syms[i].s);

		if (strncmp(lx->p, lex_syms[i].s, n) != 0)
			continue;
		t->type = lex_syms[i].type;
		t->text = strdup(lex_syms[i].s);
		lx->p += n;
		return t->text ? 0 : -ENOMEM;
	}
	t->type = POL_TOK_OTHER;
	/* One UTF-8 sequence, so the message quotes a whole character. */
	lx->p++;
	while (((unsigned char)*lx->p & 0xc0) == 0x80)
		lx->p++;
	t->text = strndup(start, (size_t)(lx->p - start));
	return t->text ? 0 : -ENOMEM;
}

void strata__policy_token_desc(const struct strata__policy_token *t, char *buf,
			       size_t len)
{
	switch (t->type) {
	case POL_TOK_EOF:
		snprintf(buf, len, "end of file");
		break;
	case POL_TOK_NEWLINE:
		snprintf(buf, len, "end of line");
		break;
	case POL_TOK_STRING:
		snprintf(buf, len, "string \"%s\"", t->text);
		break;
	default:
		snprintf(buf, len, "'%s'", t->text ? t->text : "");
		break;
	}
}
