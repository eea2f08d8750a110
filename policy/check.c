/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/check.c - what a parsed policy means, judged against a config.
 *
 * Errors are what the engine could not carry out: unknown tiers and sites,
 * a move onto itself, impossible evict marks. Warnings are rules that are
 * legal but dead or suspicious: shadowed by an earlier rule, a condition
 * that can never be true, a pattern that can never match, facts a new file
 * cannot have, names the resolver does not know. The never-true test is
 * an interval analysis over the numeric fields of each way the condition
 * can be true (its disjuncts), within a work budget; it never reports a
 * condition that could be true. Also binds the config and resolver that
 * evaluation uses. Single-threaded per policy.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "policy_int.h"

#define CK_TARGET_MAX (2 * STRATA_CFG_NAME_MAX + 4)

struct ck {
	struct strata_policy *p;
	const struct strata_cfg *cfg;
	const struct strata_policy_resolver *res;
	struct strata_policy_diags *diags;
	int ret; /* first -ENOMEM */
	unsigned int nerrors;
};

static void ck_diag(struct ck *ck, enum strata_policy_severity sev,
		    struct strata_policy_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void ck_diag(struct ck *ck, enum strata_policy_severity sev,
		    struct strata_policy_pos pos, const char *fmt, ...)
{
	char msg[STRATA_POLICY_MSG_MAX];
	va_list ap;

	if (sev == STRATA_POLICY_ERROR)
		ck->nerrors++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (strata__policy_diag(ck->diags, sev, pos.line, pos.col, "%s", msg) <
		    0 &&
	    ck->ret == 0)
		ck->ret = -ENOMEM;
}

/* Targets ---------------------------------------------------------------- */

static bool ck_site_known(const struct strata_cfg *cfg, const char *site)
{
	for (unsigned int i = 0; i < cfg->ntiers; i++)
		if (strcmp(cfg->tiers[i].site, site) == 0)
			return true;
	return false;
}

static void ck_target(struct ck *ck, const struct strata_policy_target *t)
{
	const struct strata_cfg_tier *ct;

	if (!ck->cfg)
		return;
	if (!t->tier) {
		if (!ck_site_known(ck->cfg, t->site))
			ck_diag(ck, STRATA_POLICY_ERROR, t->pos,
				"unknown site '%s': no tier belongs to it",
				t->site);
		return;
	}
	ct = strata_cfg_tier(ck->cfg, t->tier);
	if (!ct) {
		ck_diag(ck, STRATA_POLICY_ERROR, t->pos, "unknown tier '%s'",
			t->tier);
		return;
	}
	if (t->site && strcmp(ct->site, t->site) != 0)
		ck_diag(ck, STRATA_POLICY_ERROR, t->pos,
			"tier '%s' is at site '%s', not '%s'", t->tier,
			ct->site, t->site);
}

static bool ck_same_target(const struct strata_policy_target *a,
			   const struct strata_policy_target *b)
{
	if (a->tier || b->tier)
		return a->tier && b->tier && strcmp(a->tier, b->tier) == 0;
	return strcmp(a->site, b->site) == 0;
}

/* Patterns --------------------------------------------------------------- */

static bool ck_wild(const char *s)
{
	return strpbrk(s, "*?[\\") != NULL;
}

static void ck_pattern(struct ck *ck, const char *pat,
		       struct strata_policy_pos pos)
{
	if (strchr(pat, '/') && pat[0] != '/' && pat[0] != '*')
		ck_diag(ck, STRATA_POLICY_WARNING, pos,
			"pattern '%s' can never match: it holds a '/' but "
			"does not start with one, and paths do",
			pat);
}

static bool ck_wild_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strchr("*?[\\", s[i]))
			return true;
	return false;
}

bool strata__policy_covers(const char *a, const char *b)
{
	size_t n = strlen(a);

	if (strcmp(a, b) == 0 || strcmp(a, "**") == 0 || strcmp(a, "*") == 0 ||
	    strcmp(a, "/**") == 0)
		return true;
	if (!strchr(b, '/'))
		return !strchr(a, '/') && !ck_wild(b) &&
		       strata_policy_glob(a, b);
	if (!ck_wild(b))
		return strata_policy_glob(a, b);
	/* A literal directory followed by slash-star-star covers its subtree. */
	if (n > 3 && strcmp(a + n - 3, "/**") == 0 && !ck_wild_n(a, n - 3) &&
	    strncmp(a, b, n - 2) == 0)
		return true;
	if (!strchr(a, '/')) {
		const char *last = strrchr(b, '/') + 1;

		return !ck_wild(last) && strata_policy_glob(a, last);
	}
	return false;
}

/* Satisfiability --------------------------------------------------------- */

enum {
	CK_SIZE,
	CK_ATIME,
	CK_MTIME,
	CK_CTIME,
	CK_AGE,
	CK_UID,
	CK_GID,
	CK_HEAT0,
	CK_NVARS = CK_HEAT0 + 4
};

struct ck_state {
	double lo[CK_NVARS]; /* closed bounds for integers; see open[] */
	double hi[CK_NVARS];
	bool lo_open[CK_NVARS];
	bool hi_open[CK_NVARS];
	double window[4]; /* heat windows of CK_HEAT0.. */
	unsigned int nwindows;
};

struct ck_item {
	const struct strata_policy_cond *c;
	bool neg;
	const struct ck_item *next;
};

static void ck_state_init(struct ck_state *st)
{
	for (int i = 0; i < CK_NVARS; i++) {
		st->lo[i] = 0;
		st->hi[i] = INFINITY;
		st->lo_open[i] = false;
		st->hi_open[i] = false;
	}
	st->hi[CK_UID] = st->hi[CK_GID] = 4294967295.0;
	st->nwindows = 0;
}

/* The variable a test constrains, or -1 (not numeric, or out of slots). */
static int ck_var(struct ck_state *st, const struct strata_policy_cond *c)
{
	switch (c->field) {
	case STRATA_POLICY_F_SIZE:
		return CK_SIZE;
	case STRATA_POLICY_F_ATIME:
		return CK_ATIME;
	case STRATA_POLICY_F_MTIME:
		return CK_MTIME;
	case STRATA_POLICY_F_CTIME:
		return CK_CTIME;
	case STRATA_POLICY_F_AGE:
		return CK_AGE;
	case STRATA_POLICY_F_UID:
		return CK_UID;
	case STRATA_POLICY_F_GID:
		return CK_GID;
	case STRATA_POLICY_F_HEAT:
		for (unsigned int i = 0; i < st->nwindows; i++)
			if (st->window[i] == c->window)
				return CK_HEAT0 + (int)i;
		if (st->nwindows == 4)
			return -1;
		st->window[st->nwindows] = c->window;
		return CK_HEAT0 + (int)st->nwindows++;
	default:
		return -1;
	}
}

static bool ck_integer(int v)
{
	return v == CK_SIZE || v == CK_UID || v == CK_GID || v >= CK_HEAT0;
}

static void ck_lower(struct ck_state *st, int v, double x, bool open)
{
	if (x > st->lo[v] || (x == st->lo[v] && open)) {
		st->lo[v] = x;
		st->lo_open[v] = open;
	}
}

static void ck_upper(struct ck_state *st, int v, double x, bool open)
{
	if (x < st->hi[v] || (x == st->hi[v] && open)) {
		st->hi[v] = x;
		st->hi_open[v] = open;
	}
}

/* Narrow st by the test (negated when neg); false when nothing is left. */
static bool ck_apply(struct ck_state *st, const struct strata_policy_cond *c,
		     bool neg)
{
	static const enum strata_policy_op flip[] = {
		[STRATA_POLICY_LT] = STRATA_POLICY_GE,
		[STRATA_POLICY_LE] = STRATA_POLICY_GT,
		[STRATA_POLICY_GT] = STRATA_POLICY_LE,
		[STRATA_POLICY_GE] = STRATA_POLICY_LT,
		[STRATA_POLICY_EQ] = STRATA_POLICY_NE,
		[STRATA_POLICY_NE] = STRATA_POLICY_EQ,
	};
	enum strata_policy_op op = c->op;
	int v = ck_var(st, c);
	double x = c->num;

	if (v < 0 || op > STRATA_POLICY_NE)
		return true;
	if (neg)
		op = flip[op];
	if (ck_integer(v)) {
		/* Integers: turn strict bounds into closed ones. */
		if (op == STRATA_POLICY_GT) {
			op = STRATA_POLICY_GE;
			x = floor(x) + 1;
		} else if (op == STRATA_POLICY_LT) {
			op = STRATA_POLICY_LE;
			x = ceil(x) - 1;
		} else if (op == STRATA_POLICY_GE) {
			x = ceil(x);
		} else if (op == STRATA_POLICY_LE) {
			x = floor(x);
		} else if (op == STRATA_POLICY_EQ && x != floor(x)) {
			return false;
		}
	}
	switch (op) {
	case STRATA_POLICY_LT:
	case STRATA_POLICY_LE:
		ck_upper(st, v, x, op == STRATA_POLICY_LT);
		break;
	case STRATA_POLICY_GT:
	case STRATA_POLICY_GE:
		ck_lower(st, v, x, op == STRATA_POLICY_GT);
		break;
	case STRATA_POLICY_EQ:
		ck_lower(st, v, x, false);
		ck_upper(st, v, x, false);
		break;
	default:
		/* != empties only a range that is that one point. */
		if (st->lo[v] == x && st->hi[v] == x)
			return false;
		break;
	}
	if (st->lo[v] > st->hi[v])
		return false;
	return !(st->lo[v] == st->hi[v] && (st->lo_open[v] || st->hi_open[v]));
}

/* Can every item of todo hold at once, within st? */
static bool ck_sat(const struct ck_item *todo, struct ck_state st, int *budget)
{
	const struct strata_policy_cond *c;
	struct ck_item a, b;
	bool both;

	if (!todo)
		return true;
	if (--*budget < 0)
		return true; /* too much work: assume it can */
	c = todo->c;
	switch (c->kind) {
	case STRATA_POLICY_NOT:
		a = (struct ck_item){ c->left, !todo->neg, todo->next };
		return ck_sat(&a, st, budget);
	case STRATA_POLICY_TEST:
		if (!ck_apply(&st, c, todo->neg))
			return false;
		return ck_sat(todo->next, st, budget);
	default:
		both = (c->kind == STRATA_POLICY_AND) != todo->neg;
		if (both) {
			b = (struct ck_item){ c->right, todo->neg, todo->next };
			a = (struct ck_item){ c->left, todo->neg, &b };
			return ck_sat(&a, st, budget);
		}
		a = (struct ck_item){ c->left, todo->neg, todo->next };
		if (ck_sat(&a, st, budget))
			return true;
		a.c = c->right;
		return ck_sat(&a, st, budget);
	}
}

bool strata__policy_satisfiable(const struct strata_policy_cond *c)
{
	struct ck_item item = { c, false, NULL };
	struct ck_state st;
	int budget = 4096;

	ck_state_init(&st);
	return ck_sat(&item, st, &budget);
}

/* Conditions ------------------------------------------------------------- */

static void ck_cond(struct ck *ck, const struct strata_policy_rule *r,
		    const struct strata_policy_cond *c)
{
	static const char *const unknown_at_create[] = {
		[STRATA_POLICY_F_SIZE] = "size",
		[STRATA_POLICY_F_ATIME] = "atime",
		[STRATA_POLICY_F_MTIME] = "mtime",
		[STRATA_POLICY_F_CTIME] = "ctime",
		[STRATA_POLICY_F_AGE] = "age",
		[STRATA_POLICY_F_HEAT] = "heat",
		[STRATA_POLICY_F_TAG] = "tag",
		[STRATA_POLICY_F_ON] = "on",
	};
	uint32_t id;

	if (c->kind != STRATA_POLICY_TEST) {
		ck_cond(ck, r, c->left);
		if (c->right)
			ck_cond(ck, r, c->right);
		return;
	}
	if (r->kind == STRATA_POLICY_PLACE &&
	    c->field < sizeof(unknown_at_create) / sizeof(char *) &&
	    unknown_at_create[c->field])
		ck_diag(ck, STRATA_POLICY_WARNING, c->pos,
			"'%s' in a place rule: a new file is empty, just "
			"created and has no tags or replicas yet",
			unknown_at_create[c->field]);
	switch (c->field) {
	case STRATA_POLICY_F_ON:
		ck_target(ck, &c->target);
		break;
	case STRATA_POLICY_F_PATH:
		ck_pattern(ck, c->str, c->pos);
		break;
	case STRATA_POLICY_F_NAME:
		if (strchr(c->str, '/'))
			ck_diag(ck, STRATA_POLICY_WARNING, c->pos,
				"name pattern '%s' can never match: names "
				"hold no '/'",
				c->str);
		break;
	case STRATA_POLICY_F_OWNER:
		if (ck->res && ck->res->user &&
		    ck->res->user(ck->res->arg, c->str, &id) < 0)
			ck_diag(ck, STRATA_POLICY_WARNING, c->pos,
				"unknown user '%s'", c->str);
		break;
	case STRATA_POLICY_F_GROUP:
		if (ck->res && ck->res->group &&
		    ck->res->group(ck->res->arg, c->str, &id) < 0)
			ck_diag(ck, STRATA_POLICY_WARNING, c->pos,
				"unknown group '%s'", c->str);
		break;
	default:
		break;
	}
}

/* Rules ------------------------------------------------------------------ */

static const char *ck_kind_name(enum strata_policy_kind kind)
{
	static const char *const names[] = {
		[STRATA_POLICY_PLACE] = "place",
		[STRATA_POLICY_MIGRATE] = "migrate",
		[STRATA_POLICY_REPLICATE] = "replicate",
		[STRATA_POLICY_EVICT] = "evict",
		[STRATA_POLICY_CACHE] = "cache",
	};

	return names[kind];
}

static void ck_evict(struct ck *ck, const struct strata_policy_rule *r)
{
	char t[CK_TARGET_MAX];

	if (!r->from.tier) {
		strata__policy_target_str(&r->from, t, sizeof(t));
		ck_diag(ck, STRATA_POLICY_ERROR, r->from.pos,
			"evict needs a tier, not a site: '%s'", t);
	}
	if (r->high < 0 || r->high > 100)
		ck_diag(ck, STRATA_POLICY_ERROR, r->high_pos,
			"high mark %g%% is outside 0..100%%", r->high);
	if (r->low < 0 || r->low > 100)
		ck_diag(ck, STRATA_POLICY_ERROR, r->low_pos,
			"low mark %g%% is outside 0..100%%", r->low);
	if (r->low >= r->high)
		ck_diag(ck, STRATA_POLICY_ERROR, r->low_pos,
			"low mark %g%% must be below the high mark %g%%",
			r->low, r->high);
}

/* Is r dead because an earlier rule of its kind always takes its files? */
static void ck_shadow(struct ck *ck, unsigned int i)
{
	const struct strata_policy_rule *r = &ck->p->rules[i];

	if (r->kind != STRATA_POLICY_PLACE &&
	    r->kind != STRATA_POLICY_MIGRATE && r->kind != STRATA_POLICY_CACHE)
		return;
	for (unsigned int j = 0; j < i; j++) {
		const struct strata_policy_rule *e = &ck->p->rules[j];

		if (e->kind != r->kind || e->when ||
		    !strata__policy_covers(e->pattern, r->pattern))
			continue;
		if (e->has_from &&
		    (!r->has_from || !ck_same_target(&e->from, &r->from)))
			continue;
		ck_diag(ck, STRATA_POLICY_WARNING, r->pos,
			"rule '%s' can never apply: %s rule '%s' (line %d) "
			"comes first, has no condition and matches every "
			"file it does",
			r->name, ck_kind_name(r->kind), e->name, e->pos.line);
		return;
	}
}

static void ck_rule(struct ck *ck, unsigned int i)
{
	const struct strata_policy_rule *r = &ck->p->rules[i];
	char t[CK_TARGET_MAX];

	if (r->pattern)
		ck_pattern(ck, r->pattern, r->pattern_pos);
	if (r->has_from)
		ck_target(ck, &r->from);
	ck_target(ck, &r->to);
	if (r->has_from && ck_same_target(&r->from, &r->to)) {
		strata__policy_target_str(&r->to, t, sizeof(t));
		ck_diag(ck, STRATA_POLICY_ERROR, r->to.pos,
			"'from' and 'to' are the same: '%s'", t);
	}
	if (r->kind == STRATA_POLICY_EVICT)
		ck_evict(ck, r);
	if (r->when) {
		ck_cond(ck, r, r->when);
		if (!strata__policy_satisfiable(r->when))
			ck_diag(ck, STRATA_POLICY_WARNING, r->when->pos,
				"rule '%s' can never apply: its condition is "
				"never true",
				r->name);
	}
	ck_shadow(ck, i);
}

int strata_policy_check(struct strata_policy *p, const struct strata_cfg *cfg,
			const struct strata_policy_resolver *res,
			struct strata_policy_diags *diags)
{
	struct ck ck = { .p = p, .cfg = cfg, .res = res, .diags = diags };

	p->cfg = cfg;
	p->resolver = res;
	for (unsigned int i = 0; i < p->nrules; i++)
		ck_rule(&ck, i);
	if (ck.ret < 0)
		return ck.ret;
	return ck.nerrors ? -EINVAL : 0;
}
