/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/policy_int.h - what the policy module's files share and nobody
 * else sees: the lexer's tokens, diagnostics, and small formatters.
 *
 * Tokens own their text; the lexer holds no state a token points into.
 * Everything here is single-threaded per lexer or buffer.
 */
#ifndef STRATA_POLICY_INT_H
#define STRATA_POLICY_INT_H

#include <stdarg.h>
#include <stddef.h>

#include "policy.h"

enum strata__policy_tok {
	POL_TOK_EOF,
	POL_TOK_NEWLINE,
	POL_TOK_IDENT,	 /* words: keywords, names, tiers, sites */
	POL_TOK_STRING,	 /* "...", text unescaped */
	POL_TOK_NUMBER,	 /* 12, 1.5, 10MiB, 7d, 85%: num and unit */
	POL_TOK_LPAREN,	 /* ( */
	POL_TOK_RPAREN,	 /* ) */
	POL_TOK_AT,	 /* @ */
	POL_TOK_COLON,	 /* : */
	POL_TOK_LT,	 /* < */
	POL_TOK_LE,	 /* <= */
	POL_TOK_GT,	 /* > */
	POL_TOK_GE,	 /* >= */
	POL_TOK_EQ,	 /* == */
	POL_TOK_NE,	 /* != */
	POL_TOK_MATCH,	 /* ~ */
	POL_TOK_NOMATCH, /* !~ */
	POL_TOK_OTHER,	 /* a character the language does not use */
	POL_TOK_ERROR,	 /* a bad string; text is the message */
};

#define POL_UNIT_MAX 8

struct strata__policy_token {
	enum strata__policy_tok type;
	int line;
	int col;
	char *text; /* malloc'd: the word, string value, symbol or message */
	double num; /* POL_TOK_NUMBER */
	char unit[POL_UNIT_MAX]; /* POL_TOK_NUMBER: "", "MiB", "d", "%" */
};

struct strata__policy_lexer {
	const char *p;
	const char *line_start;
	int line;
};

void strata__policy_lex_init(struct strata__policy_lexer *lx, const char *text);

/* The next token into t (released first). Returns 0 or -ENOMEM. */
int strata__policy_lex_next(struct strata__policy_lexer *lx,
			    struct strata__policy_token *t);

void strata__policy_token_release(struct strata__policy_token *t);

/* How a token reads in "got ..." messages: "'at'", "end of line". */
void strata__policy_token_desc(const struct strata__policy_token *t, char *buf,
			       size_t len);

/* Append a diagnostic; diags may be NULL. Returns 0 or -ENOMEM. */
int strata__policy_diag(struct strata_policy_diags *d,
			enum strata_policy_severity sev, int line, int col,
			const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* "nvme", "nvme@lab" or "@lab". */
void strata__policy_target_str(const struct strata_policy_target *t, char *buf,
			       size_t len);

/* Human sizes and durations: "1 MiB", "2.0 MiB" (exact=false), "7d". */
void strata__policy_fmt_size(double bytes, bool exact, char *buf, size_t len);
void strata__policy_fmt_secs(double secs, char *buf, size_t len);

/* "<", ">=", "~"... */
const char *strata__policy_op_str(enum strata_policy_op op);

/*
 * check.c's analyses, shared with the tests: does every path that glob b
 * matches also match glob a (false when unsure), and can condition c ever
 * be true (true when unsure)?
 */
bool strata__policy_covers(const char *a, const char *b);
bool strata__policy_satisfiable(const struct strata_policy_cond *c);

/* Does condition c test field anywhere? */
bool strata__policy_uses(const struct strata_policy_cond *c,
			 enum strata_policy_field field);

/* The engine and its control channel (engine.c, ctl.c) ----------------- */

struct strata_ctl;
struct uv_loop_s;

/* What ctl.c borrows from the engine: valid until strata_engine_stop(). */
struct strata_vfs *strata__engine_vfs(struct strata_engine *e);
const struct strata_cfg *strata__engine_cfg(struct strata_engine *e);
/* Jobs were added (and with pass, pins or files changed): start what can
 * start now, and with pass run an evaluation pass soon. Loop thread; does
 * nothing once the engine is stopping. */
void strata__engine_kick(struct strata_engine *e, bool pass);

/*
 * Serve the control socket of e's mount on loop (before the loop's thread
 * starts). On failure a message naming the socket is in err; *out may
 * still be set (a handle the loop owns), and must then be closed and
 * freed like a working one. close (loop thread) closes every connection
 * and the listener; free (after the loop has ended) removes the socket
 * file and frees. Both accept NULL.
 */
int strata__ctl_open(struct strata_engine *e, struct uv_loop_s *loop,
		     struct strata_ctl **out, char *err, size_t errlen);
void strata__ctl_close(struct strata_ctl *ctl);
void strata__ctl_free(struct strata_ctl *ctl);

#endif
