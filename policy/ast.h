/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/ast.h - the syntax tree of a rules file (man/strata-rules.5).
 *
 * parse.c builds it, check.c judges it against a config, eval.c reads it.
 * Everything here is owned by one struct strata_policy and freed with it by
 * strata_policy_free(); nothing points outside it except the config and
 * resolver that strata_policy_check() binds, which are borrowed. A policy
 * is not modified after check, so any number of threads may evaluate it at
 * once. Positions are 1-based; columns count bytes.
 */
#ifndef STRATA_POLICY_AST_H
#define STRATA_POLICY_AST_H

#include <stdbool.h>

struct strata_cfg;
struct strata_policy_resolver;

struct strata_policy_pos {
	int line;
	int col;
};

/* TIER, TIER@SITE or @SITE; both names NULL when absent. */
struct strata_policy_target {
	char *tier; /* NULL: any tier of site */
	char *site; /* NULL: the tier's own site, whichever it is */
	struct strata_policy_pos pos;
};

enum strata_policy_kind {
	STRATA_POLICY_PLACE,
	STRATA_POLICY_MIGRATE,
	STRATA_POLICY_REPLICATE,
	STRATA_POLICY_EVICT,
	STRATA_POLICY_CACHE,
};

enum strata_policy_cond_kind {
	STRATA_POLICY_AND,
	STRATA_POLICY_OR,
	STRATA_POLICY_NOT,
	STRATA_POLICY_TEST, /* a leaf: field op operand */
};

enum strata_policy_field {
	STRATA_POLICY_F_SIZE,	/* bytes */
	STRATA_POLICY_F_ATIME,	/* seconds since the last read */
	STRATA_POLICY_F_MTIME,	/* seconds since the last write */
	STRATA_POLICY_F_CTIME,	/* seconds since the last change */
	STRATA_POLICY_F_AGE,	/* seconds since creation */
	STRATA_POLICY_F_UID,	/* number */
	STRATA_POLICY_F_GID,	/* number */
	STRATA_POLICY_F_HEAT,	/* reads within window seconds */
	STRATA_POLICY_F_PATH,	/* str is a glob */
	STRATA_POLICY_F_NAME,	/* str is a glob */
	STRATA_POLICY_F_OWNER,	/* str is a user name */
	STRATA_POLICY_F_GROUP,	/* str is a group name */
	STRATA_POLICY_F_TAG,	/* str is a tag, value NULL or a value */
	STRATA_POLICY_F_ON,	/* target */
	STRATA_POLICY_F_PINNED, /* no operand */
};

enum strata_policy_op {
	STRATA_POLICY_LT,
	STRATA_POLICY_LE,
	STRATA_POLICY_GT,
	STRATA_POLICY_GE,
	STRATA_POLICY_EQ,
	STRATA_POLICY_NE,
	STRATA_POLICY_MATCH,   /* ~ */
	STRATA_POLICY_NOMATCH, /* !~ */
	STRATA_POLICY_EXISTS,  /* tag "x", on T, pinned */
};

struct strata_policy_cond {
	enum strata_policy_cond_kind kind;
	struct strata_policy_pos pos;
	struct strata_policy_cond *left;  /* AND, OR, NOT */
	struct strata_policy_cond *right; /* AND, OR */
	enum strata_policy_field field;	  /* TEST */
	enum strata_policy_op op;	  /* TEST */
	double num;    /* bytes, seconds, an id or a read count */
	double window; /* heat: seconds */
	char *str;     /* glob, user, group or tag name */
	char *value;   /* tag value; NULL: the tag exists */
	struct strata_policy_target target; /* on */
};

enum strata_policy_evict_by {
	STRATA_POLICY_BY_ATIME, /* least recently read first (default) */
	STRATA_POLICY_BY_MTIME, /* least recently written first */
	STRATA_POLICY_BY_SIZE,	/* largest first */
	STRATA_POLICY_BY_HEAT,	/* fewest reads within heat_window first */
};

struct strata_policy_rule {
	enum strata_policy_kind kind;
	char *name;		      /* as written, or "line-N" */
	bool named;		      /* written by the author */
	struct strata_policy_pos pos; /* of the name, else of the kind */
	char *pattern;		      /* NULL for evict */
	struct strata_policy_pos pattern_pos;
	bool has_from;
	struct strata_policy_target from; /* migrate: from; evict: the tier */
	struct strata_policy_target to;	  /* place and cache: on */
	struct strata_policy_cond *when;  /* NULL: always */
	/* evict only */
	double high; /* percent: start when used > high */
	double low;  /* percent: stop when used < low */
	struct strata_policy_pos high_pos, low_pos;
	enum strata_policy_evict_by by;
	double heat_window; /* seconds, for STRATA_POLICY_BY_HEAT */
};

#define STRATA_POLICY_INTERVAL_DEFAULT 60.0

struct strata_policy {
	char *file;	     /* the name given to parse, for messages */
	double interval;     /* seconds between evaluation passes */
	int interval_line;   /* 0: the default */
	unsigned int nrules; /* in file order */
	unsigned int cap;
	struct strata_policy_rule *rules;
	/* Bound by strata_policy_check(), borrowed; may be NULL. */
	const struct strata_cfg *cfg;
	const struct strata_policy_resolver *resolver;
};

#endif
