/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/eval.c - evaluating rules for one file: pure.
 *
 * Maps (policy, the facts of one file, the time passed in) to a decision:
 * where a new file lands, what a pass wants moved or copied, what a read
 * caches, how cold a file is for eviction, and why a rule matched. No I/O,
 * no clock reads, no allocation: tests call it with an injected clock and
 * the engine calls it from any thread. The glob matcher lives here too.
 * Tier sites come from the config strata_policy_check() bound; user and
 * group names resolve through the bound resolver.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cfg.h"
#include "policy_int.h"

/* Globs ------------------------------------------------------------------ */

/*
 * Match the class at *pp (just past '[') against c. Returns 1 or 0 and
 * moves *pp past the ']', or -1 when the class is not closed ('[' is then
 * an ordinary character).
 */
static int glob_class(const char **pp, char c)
{
	const char *p = *pp;
	bool neg = false;
	bool hit = false;

	if (*p == '!' || *p == '^') {
		neg = true;
		p++;
	}
	if (*p == ']') {
		hit = c == ']';
		p++;
	}
	while (*p && *p != ']') {
		char lo = *p;
		char hi = *p;

		if (*p == '\\' && p[1])
			lo = hi = *++p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 2;
			if (*p == '\\' && p[1])
				hi = *++p;
		}
		if (c >= lo && c <= hi)
			hit = true;
		p++;
	}
	if (*p != ']')
		return -1;
	*pp = p + 1;
	return hit != neg && c != '/';
}

static bool glob_at(const char *p, const char *s)
{
	for (;;) {
		const char *rest;
		int r;

		switch (*p) {
		case '\0':
			return *s == '\0';
		case '*':
			if (p[1] == '*') {
				rest = p + 2;
				while (*rest == '*')
					rest++;
				if (*rest == '/') {
					/* Zero or more whole directories. */
					if (glob_at(rest + 1, s))
						return true;
					for (; *s; s++)
						if (*s == '/' &&
						    glob_at(rest + 1, s + 1))
							return true;
					return false;
				}
				for (;; s++) {
					if (glob_at(rest, s))
						return true;
					if (!*s)
						return false;
				}
			}
			for (;; s++) {
				if (glob_at(p + 1, s))
					return true;
				if (!*s || *s == '/')
					return false;
			}
		case '?':
			if (!*s || *s == '/')
				return false;
			p++;
			s++;
			break;
		case '[':
			rest = p + 1;
			r = *s ? glob_class(&rest, *s) : 0;
			if (r == 0)
				return false;
			if (r < 0) {
				if (*s != '[')
					return false;
				rest = p + 1;
			}
			p = rest;
			s++;
			break;
		case '\\':
			if (p[1])
				p++;
			/* fall through */
		default:
			if (*p != *s)
				return false;
			p++;
			s++;
			break;
		}
	}
}

static const char *eval_basename(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

bool strata_policy_glob(const char *pattern, const char *path)
{
	if (!strchr(pattern, '/'))
		return glob_at(pattern, eval_basename(path));
	return glob_at(pattern, path);
}

/* Formatting ------------------------------------------------------------- */

const char *strata__policy_op_str(enum strata_policy_op op)
{
	static const char *const ops[] = {
		[STRATA_POLICY_LT] = "<",    [STRATA_POLICY_LE] = "<=",
		[STRATA_POLICY_GT] = ">",    [STRATA_POLICY_GE] = ">=",
		[STRATA_POLICY_EQ] = "==",   [STRATA_POLICY_NE] = "!=",
		[STRATA_POLICY_MATCH] = "~", [STRATA_POLICY_NOMATCH] = "!~",
		[STRATA_POLICY_EXISTS] = "",
	};

	return ops[op];
}

void strata__policy_fmt_size(double bytes, bool exact, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;
	double v = bytes;

	while (u + 1 < sizeof(units) / sizeof(units[0]) && fabs(v) >= 1024) {
		v /= 1024;
		u++;
	}
	if (u == 0 || (exact && v == floor(v)))
		snprintf(buf, len, "%.0f %s", v, units[u]);
	else if (exact)
		snprintf(buf, len, "%g %s", v, units[u]);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

void strata__policy_fmt_secs(double secs, char *buf, size_t len)
{
	static const struct {
		const char *unit;
		double secs;
	} units[] = { { "d", 86400 }, { "h", 3600 }, { "m", 60 } };
	const char *unit = "s";
	double v = secs;

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (fabs(secs) >= units[i].secs) {
			v = secs / units[i].secs;
			unit = units[i].unit;
			break;
		}
	}
	if (v == floor(v))
		snprintf(buf, len, "%.0f%s", v, unit);
	else
		snprintf(buf, len, "%.1f%s", v, unit);
}

void strata__policy_target_str(const struct strata_policy_target *t, char *buf,
			       size_t len)
{
	snprintf(buf, len, "%s%s%s", t->tier ? t->tier : "", t->site ? "@" : "",
		 t->site ? t->site : "");
}

/* Tiers and targets ------------------------------------------------------ */

static const struct strata_cfg_tier *eval_tier(const struct strata_policy *p,
					       const char *name)
{
	if (!p->cfg)
		return NULL;
	for (unsigned int i = 0; i < p->cfg->ntiers; i++)
		if (strcmp(p->cfg->tiers[i].name, name) == 0)
			return &p->cfg->tiers[i];
	return NULL;
}

/* Does tier (a name) satisfy target t? */
static bool eval_target_has(const struct strata_policy *p,
			    const struct strata_policy_target *t,
			    const char *tier)
{
	const struct strata_cfg_tier *ct;

	if (t->tier && strcmp(t->tier, tier) != 0)
		return false;
	if (!t->site)
		return true;
	ct = eval_tier(p, tier);
	return ct && strcmp(ct->site, t->site) == 0;
}

/* The first tier holding a replica that satisfies t, or NULL. */
static const char *eval_held(const struct strata_policy *p,
			     const struct strata_policy_target *t,
			     const struct strata_policy_facts *f)
{
	for (unsigned int i = 0; i < f->ntiers; i++)
		if (eval_target_has(p, t, f->tiers[i]))
			return f->tiers[i];
	return NULL;
}

/* The tier a copy for t goes to: the named tier, or a site's first tier. */
static const char *eval_pick(const struct strata_policy *p,
			     const struct strata_policy_target *t)
{
	const struct strata_cfg_tier *ct;

	if (t->tier) {
		ct = eval_tier(p, t->tier);
		return ct ? ct->name : t->tier;
	}
	if (!p->cfg)
		return NULL;
	for (unsigned int i = 0; i < p->cfg->ntiers; i++)
		if (strcmp(p->cfg->tiers[i].site, t->site) == 0)
			return p->cfg->tiers[i].name;
	return NULL;
}

/* Conditions ------------------------------------------------------------- */

static double eval_age(struct timespec now, struct timespec t)
{
	return (double)(now.tv_sec - t.tv_sec) +
	       (double)(now.tv_nsec - t.tv_nsec) / 1e9;
}

static bool eval_cmp(double a, enum strata_policy_op op, double b)
{
	switch (op) {
	case STRATA_POLICY_LT:
		return a < b;
	case STRATA_POLICY_LE:
		return a <= b;
	case STRATA_POLICY_GT:
		return a > b;
	case STRATA_POLICY_GE:
		return a >= b;
	case STRATA_POLICY_EQ:
		return a == b;
	case STRATA_POLICY_NE:
		return a != b;
	default:
		return false;
	}
}

static const struct strata_policy_tag *
eval_tag(const struct strata_policy_facts *f, const char *name)
{
	for (unsigned int i = 0; i < f->ntags; i++)
		if (strcmp(f->tags[i].name, name) == 0)
			return &f->tags[i];
	return NULL;
}

static bool eval_tag_is(const struct strata_policy_tag *t, const char *value)
{
	size_t n = strlen(value);

	return t && t->len == n && memcmp(t->value, value, n) == 0;
}

/* Resolve owner or group; false when the name is unknown. */
static bool eval_resolve(const struct strata_policy *p,
			 enum strata_policy_field field, const char *name,
			 uint32_t *id)
{
	const struct strata_policy_resolver *r = p->resolver;
	int (*fn)(void *, const char *, uint32_t *);

	if (!r)
		return false;
	fn = field == STRATA_POLICY_F_OWNER ? r->user : r->group;
	return fn && fn(r->arg, name, id) == 0;
}

static struct timespec eval_btime(const struct strata_policy_facts *f)
{
	if (f->btime.tv_sec == 0 && f->btime.tv_nsec == 0)
		return f->ctime;
	return f->btime;
}

/* The file's value of a numeric field. */
static double eval_value(const struct strata_policy_cond *c,
			 const struct strata_policy_facts *f,
			 struct timespec now)
{
	switch (c->field) {
	case STRATA_POLICY_F_SIZE:
		return (double)f->size;
	case STRATA_POLICY_F_ATIME:
		return eval_age(now, f->atime);
	case STRATA_POLICY_F_MTIME:
		return eval_age(now, f->mtime);
	case STRATA_POLICY_F_CTIME:
		return eval_age(now, f->ctime);
	case STRATA_POLICY_F_AGE:
		return eval_age(now, eval_btime(f));
	case STRATA_POLICY_F_UID:
		return f->uid;
	case STRATA_POLICY_F_GID:
		return f->gid;
	case STRATA_POLICY_F_HEAT:
		return f->heat ? (double)f->heat(f->heat_arg, c->window) : 0;
	default:
		return 0;
	}
}

static const char *eval_name(const struct strata_policy_facts *f)
{
	return f->name ? f->name : eval_basename(f->path);
}

static bool eval_test(const struct strata_policy *p,
		      const struct strata_policy_cond *c,
		      const struct strata_policy_facts *f, struct timespec now)
{
	const struct strata_policy_tag *tag;
	bool hit;
	uint32_t id;

	switch (c->field) {
	case STRATA_POLICY_F_PATH:
	case STRATA_POLICY_F_NAME:
		hit = c->field == STRATA_POLICY_F_PATH ?
			      strata_policy_glob(c->str, f->path) :
			      glob_at(c->str, eval_name(f));
		return c->op == STRATA_POLICY_MATCH ? hit : !hit;
	case STRATA_POLICY_F_OWNER:
	case STRATA_POLICY_F_GROUP:
		hit = eval_resolve(p, c->field, c->str, &id) &&
		      id == (c->field == STRATA_POLICY_F_OWNER ? f->uid :
								 f->gid);
		return c->op == STRATA_POLICY_EQ ? hit : !hit;
	case STRATA_POLICY_F_TAG:
		tag = eval_tag(f, c->str);
		if (c->op == STRATA_POLICY_EXISTS)
			return tag != NULL;
		hit = eval_tag_is(tag, c->value);
		return c->op == STRATA_POLICY_EQ ? hit : !hit;
	case STRATA_POLICY_F_ON:
		return eval_held(p, &c->target, f) != NULL;
	case STRATA_POLICY_F_PINNED:
		return f->pin != NULL;
	default:
		return eval_cmp(eval_value(c, f, now), c->op, c->num);
	}
}

static bool eval_cond(const struct strata_policy *p,
		      const struct strata_policy_cond *c,
		      const struct strata_policy_facts *f, struct timespec now)
{
	if (!c)
		return true;
	switch (c->kind) {
	case STRATA_POLICY_AND:
		return eval_cond(p, c->left, f, now) &&
		       eval_cond(p, c->right, f, now);
	case STRATA_POLICY_OR:
		return eval_cond(p, c->left, f, now) ||
		       eval_cond(p, c->right, f, now);
	case STRATA_POLICY_NOT:
		return !eval_cond(p, c->left, f, now);
	case STRATA_POLICY_TEST:
		return eval_test(p, c, f, now);
	}
	return false;
}

bool strata_policy_match(const struct strata_policy *p,
			 const struct strata_policy_rule *r,
			 const struct strata_policy_facts *f,
			 struct timespec now)
{
	if (r->pattern && !strata_policy_glob(r->pattern, f->path))
		return false;
	if (r->has_from && !eval_held(p, &r->from, f))
		return false;
	return eval_cond(p, r->when, f, now);
}

/* Decisions -------------------------------------------------------------- */

int strata_policy_place(const struct strata_policy *p,
			const struct strata_policy_facts *f,
			struct timespec now, struct strata_policy_action *out)
{
	memset(out, 0, sizeof(*out));
	if (f->pin) {
		out->tier = f->pin;
		return 0;
	}
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];

		if (r->kind != STRATA_POLICY_PLACE ||
		    !strata_policy_match(p, r, f, now))
			continue;
		out->tier = eval_pick(p, &r->to);
		if (!out->tier)
			continue;
		out->rule = r;
		return 0;
	}
	if (!p->cfg || !p->cfg->placement[0])
		return -ENOENT;
	out->tier = p->cfg->placement;
	return 0;
}

static bool eval_listed(const char *const *v, unsigned int n, const char *s)
{
	for (unsigned int i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

static void eval_replicas(const struct strata_policy *p,
			  const struct strata_policy_facts *f,
			  struct timespec now,
			  struct strata_policy_decision *out)
{
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];
		const char *tier;
		bool dup = false;

		if (r->kind != STRATA_POLICY_REPLICATE ||
		    !strata_policy_match(p, r, f, now) ||
		    eval_held(p, &r->to, f))
			continue;
		tier = eval_pick(p, &r->to);
		if (!tier)
			continue;
		if (out->move && out->migrate.tier &&
		    strcmp(out->migrate.tier, tier) == 0)
			continue; /* the move makes that copy */
		for (unsigned int j = 0; j < out->nreplicate; j++)
			if (strcmp(out->replicate[j].tier, tier) == 0)
				dup = true;
		if (dup || out->nreplicate == STRATA_POLICY_MAX_TIERS)
			continue;
		out->replicate[out->nreplicate].rule = r;
		out->replicate[out->nreplicate].tier = tier;
		out->nreplicate++;
	}
}

/* Does an applying replicate rule want the copy on tier? */
static bool eval_wanted(const struct strata_policy *p,
			const struct strata_policy_facts *f,
			struct timespec now, const char *tier)
{
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];

		if (r->kind == STRATA_POLICY_REPLICATE &&
		    eval_target_has(p, &r->to, tier) &&
		    strata_policy_match(p, r, f, now))
			return true;
	}
	return false;
}

/*
 * Fill migrate, move and drop for a move to tier, from the replicas that
 * satisfy from (or, without from, every replica not on tier).
 */
static void eval_move(const struct strata_policy *p,
		      const struct strata_policy_facts *f, struct timespec now,
		      const struct strata_policy_target *from,
		      const struct strata_policy_target *to,
		      struct strata_policy_decision *out)
{
	const char *held = to ? eval_held(p, to, f) : NULL;

	if (held)
		out->migrate.tier = held;
	for (unsigned int i = 0; i < f->ntiers; i++) {
		const char *t = f->tiers[i];

		if (strcmp(t, out->migrate.tier) == 0 ||
		    (to && eval_target_has(p, to, t)))
			continue;
		if (from && !eval_target_has(p, from, t))
			continue;
		if (eval_wanted(p, f, now, t) ||
		    eval_listed(out->drop, out->ndrop, t))
			continue;
		if (out->ndrop < STRATA_POLICY_MAX_TIERS)
			out->drop[out->ndrop++] = t;
	}
	out->move = !eval_listed(f->tiers, f->ntiers, out->migrate.tier) ||
		    out->ndrop > 0;
}

int strata_policy_decide(const struct strata_policy *p,
			 const struct strata_policy_facts *f,
			 struct timespec now,
			 struct strata_policy_decision *out)
{
	memset(out, 0, sizeof(*out));
	if (f->pin) {
		out->pinned = true;
		out->migrate.tier = f->pin;
		eval_move(p, f, now, NULL, NULL, out);
		eval_replicas(p, f, now, out);
		return 0;
	}
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];

		if (r->kind != STRATA_POLICY_MIGRATE ||
		    !strata_policy_match(p, r, f, now))
			continue;
		out->migrate.tier = eval_pick(p, &r->to);
		if (!out->migrate.tier)
			continue;
		out->migrate.rule = r;
		eval_move(p, f, now, r->has_from ? &r->from : NULL, &r->to,
			  out);
		break;
	}
	eval_replicas(p, f, now, out);
	return 0;
}

int strata_policy_on_read(const struct strata_policy *p,
			  const struct strata_policy_facts *f,
			  struct timespec now, struct strata_policy_action *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];

		if (r->kind != STRATA_POLICY_CACHE ||
		    !strata_policy_match(p, r, f, now))
			continue;
		if (eval_held(p, &r->to, f))
			return 0;
		out->tier = eval_pick(p, &r->to);
		if (out->tier)
			out->rule = r;
		return 0;
	}
	return 0;
}

const struct strata_policy_rule *
strata_policy_evict_rule(const struct strata_policy *p, const char *tier,
			 double used_pct)
{
	for (unsigned int i = 0; i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];

		if (r->kind == STRATA_POLICY_EVICT &&
		    eval_target_has(p, &r->from, tier) && used_pct > r->high)
			return r;
	}
	return NULL;
}

int strata_policy_evict_key(const struct strata_policy *p,
			    const struct strata_policy_rule *r,
			    const struct strata_policy_facts *f,
			    struct timespec now, double *key)
{
	const char *held = eval_held(p, &r->from, f);

	if (!held)
		return -ENOENT;
	if (f->pin && strcmp(f->pin, held) == 0)
		return -EPERM;
	switch (r->by) {
	case STRATA_POLICY_BY_ATIME:
		*key = eval_age(now, f->atime);
		break;
	case STRATA_POLICY_BY_MTIME:
		*key = eval_age(now, f->mtime);
		break;
	case STRATA_POLICY_BY_SIZE:
		*key = (double)f->size;
		break;
	case STRATA_POLICY_BY_HEAT:
		*key = f->heat ? -(double)f->heat(f->heat_arg, r->heat_window) :
				 0;
		break;
	}
	return 0;
}

/* Explaining ------------------------------------------------------------- */

struct eval_buf {
	char *p;
	size_t len;
	size_t n; /* what was needed so far */
};

static void eval_put(struct eval_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void eval_put(struct eval_buf *b, const char *fmt, ...)
{
	size_t room = b->n < b->len ? b->len - b->n : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? b->p + b->n : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		b->n += (size_t)n;
}

static const char *const eval_field_names[] = {
	[STRATA_POLICY_F_SIZE] = "size",     [STRATA_POLICY_F_ATIME] = "atime",
	[STRATA_POLICY_F_MTIME] = "mtime",   [STRATA_POLICY_F_CTIME] = "ctime",
	[STRATA_POLICY_F_AGE] = "age",	     [STRATA_POLICY_F_UID] = "uid",
	[STRATA_POLICY_F_GID] = "gid",	     [STRATA_POLICY_F_HEAT] = "heat",
	[STRATA_POLICY_F_PATH] = "path",     [STRATA_POLICY_F_NAME] = "name",
	[STRATA_POLICY_F_OWNER] = "owner",   [STRATA_POLICY_F_GROUP] = "group",
	[STRATA_POLICY_F_TAG] = "tag",	     [STRATA_POLICY_F_ON] = "on",
	[STRATA_POLICY_F_PINNED] = "pinned",
};

static void eval_put_tiers(struct eval_buf *b,
			   const struct strata_policy_facts *f)
{
	if (!f->ntiers)
		eval_put(b, "none");
	for (unsigned int i = 0; i < f->ntiers; i++)
		eval_put(b, "%s%s", i ? ", " : "", f->tiers[i]);
}

static void eval_put_test(struct eval_buf *b, const struct strata_policy *p,
			  const struct strata_policy_cond *c,
			  const struct strata_policy_facts *f,
			  struct timespec now)
{
	const char *op = strata__policy_op_str(c->op);
	const char *fname = eval_field_names[c->field];
	const struct strata_policy_tag *tag;
	char v[32], w[32], t[2 * STRATA_CFG_NAME_MAX + 4];

	switch (c->field) {
	case STRATA_POLICY_F_SIZE:
		strata__policy_fmt_size(eval_value(c, f, now), false, v,
					sizeof(v));
		strata__policy_fmt_size(c->num, true, w, sizeof(w));
		eval_put(b, "size %s %s %s", v, op, w);
		break;
	case STRATA_POLICY_F_ATIME:
	case STRATA_POLICY_F_MTIME:
	case STRATA_POLICY_F_CTIME:
	case STRATA_POLICY_F_AGE:
		strata__policy_fmt_secs(eval_value(c, f, now), v, sizeof(v));
		strata__policy_fmt_secs(c->num, w, sizeof(w));
		eval_put(b, "%s %s %s %s", fname, v, op, w);
		break;
	case STRATA_POLICY_F_UID:
	case STRATA_POLICY_F_GID:
		eval_put(b, "%s %.0f %s %.0f", fname, eval_value(c, f, now), op,
			 c->num);
		break;
	case STRATA_POLICY_F_HEAT:
		strata__policy_fmt_secs(c->window, w, sizeof(w));
		eval_put(b, "heat(%s) %.0f %s %.0f", w, eval_value(c, f, now),
			 op, c->num);
		break;
	case STRATA_POLICY_F_PATH:
		eval_put(b, "path '%s' %s \"%s\"", f->path, op, c->str);
		break;
	case STRATA_POLICY_F_NAME:
		eval_put(b, "name '%s' %s \"%s\"", eval_name(f), op, c->str);
		break;
	case STRATA_POLICY_F_OWNER:
	case STRATA_POLICY_F_GROUP:
		eval_put(b, "%s %s \"%s\" (%s %u)", fname, op, c->str,
			 c->field == STRATA_POLICY_F_OWNER ? "uid" : "gid",
			 c->field == STRATA_POLICY_F_OWNER ? f->uid : f->gid);
		break;
	case STRATA_POLICY_F_TAG:
		tag = eval_tag(f, c->str);
		if (c->op == STRATA_POLICY_EXISTS)
			eval_put(b, "tag \"%s\" (%s)", c->str,
				 tag ? "set" : "unset");
		else if (tag)
			eval_put(b, "tag \"%s\" \"%.*s\" %s \"%s\"", c->str,
				 (int)(tag->len > 64 ? 64 : tag->len),
				 (const char *)tag->value, op, c->value);
		else
			eval_put(b, "tag \"%s\" (unset) %s \"%s\"", c->str, op,
				 c->value);
		break;
	case STRATA_POLICY_F_ON:
		strata__policy_target_str(&c->target, t, sizeof(t));
		eval_put(b, "on %s (replicas: ", t);
		eval_put_tiers(b, f);
		eval_put(b, ")");
		break;
	case STRATA_POLICY_F_PINNED:
		if (f->pin)
			eval_put(b, "pinned (to '%s')", f->pin);
		else
			eval_put(b, "pinned (not pinned)");
		break;
	}
	if (!eval_test(p, c, f, now))
		eval_put(b, " [no]");
}

static void eval_put_cond(struct eval_buf *b, const struct strata_policy *p,
			  const struct strata_policy_cond *c,
			  const struct strata_policy_facts *f,
			  struct timespec now, bool paren)
{
	if (c->kind == STRATA_POLICY_TEST) {
		eval_put_test(b, p, c, f, now);
		return;
	}
	if (paren)
		eval_put(b, "(");
	if (c->kind == STRATA_POLICY_NOT) {
		eval_put(b, "not ");
		eval_put_cond(b, p, c->left, f, now, true);
	} else {
		bool sub = c->kind == STRATA_POLICY_AND;

		eval_put_cond(b, p, c->left, f, now,
			      sub && c->left->kind == STRATA_POLICY_OR);
		eval_put(b, " %s ", sub ? "and" : "or");
		eval_put_cond(b, p, c->right, f, now,
			      c->right->kind != STRATA_POLICY_TEST &&
				      c->right->kind != STRATA_POLICY_NOT);
	}
	if (paren)
		eval_put(b, ")");
}

int strata_policy_explain(const struct strata_policy *p,
			  const struct strata_policy_rule *r,
			  const struct strata_policy_facts *f,
			  struct timespec now, char *buf, size_t len)
{
	struct eval_buf b = { buf, len, 0 };
	char t[2 * STRATA_CFG_NAME_MAX + 4];
	bool clause = false;

	if (len)
		buf[0] = '\0';
	eval_put(&b, "rule '%s' (line %d): ", r->name, r->pos.line);
	if (r->pattern && !strata_policy_glob(r->pattern, f->path)) {
		eval_put(&b, "path '%s' ~ \"%s\" [no]", f->path, r->pattern);
		clause = true;
	}
	if (r->has_from && r->kind != STRATA_POLICY_EVICT &&
	    !eval_held(p, &r->from, f)) {
		strata__policy_target_str(&r->from, t, sizeof(t));
		eval_put(&b, "%sfrom %s (replicas: ", clause ? " and " : "", t);
		eval_put_tiers(&b, f);
		eval_put(&b, ") [no]");
		clause = true;
	}
	if (r->when) {
		if (clause)
			eval_put(&b, " and ");
		eval_put_cond(&b, p, r->when, f, now,
			      clause && r->when->kind == STRATA_POLICY_OR);
	} else if (!clause && r->pattern) {
		eval_put(&b, "path '%s' ~ \"%s\"", f->path, r->pattern);
	}
	return (int)b.n;
}

bool strata__policy_uses(const struct strata_policy_cond *c,
			 enum strata_policy_field field)
{
	if (!c)
		return false;
	if (c->kind == STRATA_POLICY_TEST)
		return c->field == field;
	return strata__policy_uses(c->left, field) ||
	       strata__policy_uses(c->right, field);
}
