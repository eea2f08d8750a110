/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/plan.c - the planner: which jobs the rules want, from the catalog
 * alone.
 *
 * A pass compiles the conditions of the migrate and replicate rules into
 * one catalog filter (struct strata_cq) that keeps every file a rule could
 * match (numeric tests on size, times, owner ids; anything else passes),
 * scans the catalog page by page with it, and runs the pure evaluator on
 * each file found, so the filter only has to be wide enough, never exact.
 * Nothing here reads a backend or a file's bytes. Memory is one page of
 * rows and the paths of the directories met, never a list of files; the
 * evict plan alone keeps the candidates of one over-full tier.
 *
 * Jobs go to the caller's callback (the engine queues them, `strata rules
 * plan` counts them). Threads: a plan runs on one thread; the policy is
 * read-only.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "policy_int.h"
#include "util.h"
#include "vfs.h"

#define PLAN_PAGE 1024
/* Files one pass moves off an over-full tier at most; the next pass takes
 * the next ones, so memory never follows the tier's file count. */
#define PLAN_EVICT_MAX 16384
#define PLAN_CQ_MAX 512 /* filter nodes: plenty for any rules file */
#define PLAN_TAGS_MAX 32
#define PLAN_NS 1000000000ll

struct plan_dir {
	strata_ino_t ino;
	char *path;
};

struct plan_ctx {
	const struct strata_policy *p;
	struct strata_vfs *vfs;
	struct strata_catalog *cat;
	struct timespec now;
	unsigned int ntiers;
	struct strata_vfs_tier_info tiers[STRATA_CFG_MAX_TIERS];
	/* Paths of directories met, open addressing by ino. */
	struct plan_dir *dirs;
	size_t ndirs;
	size_t cap;
	/* The filter under construction. */
	struct strata_cq cq[PLAN_CQ_MAX];
	unsigned int ncq;
	bool want_tags;
	/* Per file: tags and the file whose heat is asked. */
	char tagbuf[8192];
	struct strata_policy_tag tags[PLAN_TAGS_MAX];
	strata_ino_t heat_ino;
};

/* With usage, the tiers' fullness too (the evict plan); else names only. */
static int plan_init(struct plan_ctx *pc, const struct strata_policy *p,
		     struct strata_vfs *vfs, struct timespec now, bool usage)
{
	int ret;

	memset(pc, 0, sizeof(*pc));
	pc->p = p;
	pc->vfs = vfs;
	pc->cat = strata_vfs_catalog(vfs);
	pc->now = now;
	pc->ntiers = strata_vfs_tier_count(vfs);
	for (unsigned int i = 0; i < pc->ntiers; i++) {
		ret = usage ? strata_vfs_tier_info(vfs, i, &pc->tiers[i]) :
			      strata_vfs_tier_ident(vfs, i, &pc->tiers[i]);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < p->nrules; i++)
		pc->want_tags |= strata__policy_uses(p->rules[i].when,
						     STRATA_POLICY_F_TAG);
	return 0;
}

static void plan_release(struct plan_ctx *pc)
{
	for (size_t i = 0; i < pc->cap; i++)
		free(pc->dirs[i].path);
	free(pc->dirs);
}

const char *strata_plan_tier_name(const struct strata_vfs_tier_info *tiers,
				  unsigned int n, uint32_t id)
{
	for (unsigned int i = 0; i < n; i++)
		if (tiers[i].id == id)
			return tiers[i].name;
	return NULL;
}

static uint32_t plan_tier_id(const struct plan_ctx *pc, const char *name)
{
	for (unsigned int i = 0; i < pc->ntiers; i++)
		if (strcmp(pc->tiers[i].name, name) == 0)
			return pc->tiers[i].id;
	return 0;
}

/* Directory paths ------------------------------------------------------- */

static size_t plan_slot(const struct plan_ctx *pc, strata_ino_t ino)
{
	return (size_t)((ino * 0x9e3779b97f4a7c15ull) >> 20) & (pc->cap - 1);
}

static int plan_dir_grow(struct plan_ctx *pc)
{
	size_t cap = pc->cap ? pc->cap * 2 : 1024;
	struct plan_dir *old = pc->dirs;
	size_t oldcap = pc->cap;

	pc->dirs = calloc(cap, sizeof(*pc->dirs));
	if (!pc->dirs) {
		pc->dirs = old;
		return -ENOMEM;
	}
	pc->cap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		size_t s;

		if (!old[i].path)
			continue;
		s = plan_slot(pc, old[i].ino);
		while (pc->dirs[s].path)
			s = (s + 1) & (cap - 1);
		pc->dirs[s] = old[i];
	}
	free(old);
	return 0;
}

/* The path of directory ino, from the cache or the catalog. */
static const char *plan_dir_path(struct plan_ctx *pc, strata_ino_t ino)
{
	char path[PATH_MAX];
	size_t s;

	if (pc->cap) {
		for (s = plan_slot(pc, ino); pc->dirs[s].path;
		     s = (s + 1) & (pc->cap - 1))
			if (pc->dirs[s].ino == ino)
				return pc->dirs[s].path;
	}
	if (strata_vfs_path(pc->vfs, ino, path, sizeof(path)) < 0)
		return NULL;
	if ((pc->ndirs + 1) * 2 > pc->cap && plan_dir_grow(pc) < 0)
		return NULL;
	s = plan_slot(pc, ino);
	while (pc->dirs[s].path)
		s = (s + 1) & (pc->cap - 1);
	pc->dirs[s].path = strdup(path);
	if (!pc->dirs[s].path)
		return NULL;
	pc->dirs[s].ino = ino;
	pc->ndirs++;
	return pc->dirs[s].path;
}

/* The filter ------------------------------------------------------------- */

static struct strata_cq *plan_cq(struct plan_ctx *pc, enum strata_cq_kind k)
{
	struct strata_cq *q;

	if (pc->ncq == PLAN_CQ_MAX)
		return NULL;
	q = &pc->cq[pc->ncq++];
	memset(q, 0, sizeof(*q));
	q->kind = k;
	return q;
}

static struct strata_cq *plan_true(struct plan_ctx *pc)
{
	return plan_cq(pc, STRATA_CQ_TRUE);
}

static struct strata_cq *plan_pair(struct plan_ctx *pc, enum strata_cq_kind k,
				   struct strata_cq *l, struct strata_cq *r)
{
	struct strata_cq *q;

	if (!l || !r)
		return NULL;
	if (k == STRATA_CQ_AND && l->kind == STRATA_CQ_TRUE)
		return r;
	if (k == STRATA_CQ_AND && r->kind == STRATA_CQ_TRUE)
		return l;
	if (k == STRATA_CQ_OR &&
	    (l->kind == STRATA_CQ_TRUE || r->kind == STRATA_CQ_TRUE))
		return l->kind == STRATA_CQ_TRUE ? l : r;
	q = plan_cq(pc, k);
	if (q) {
		q->left = l;
		q->right = r;
	}
	return q;
}

/* A rule's number as a column value: huge ones saturate, never overflow
 * (a size past 2^62 bytes, an age past a century are all "huge"). */
static int64_t plan_clamp(double v)
{
	const double lim = 4611686018427387904.0; /* 2^62 */

	if (v >= lim)
		return (int64_t)lim;
	if (v <= -lim)
		return -(int64_t)lim;
	return (int64_t)v;
}

/* A size test widened to whole bytes: every file it holds for passes. */
static struct strata_cq *plan_size(struct plan_ctx *pc,
				   const struct strata_policy_cond *c)
{
	static const enum strata_cq_op ops[] = {
		[STRATA_POLICY_LT] = STRATA_CQ_LT,
		[STRATA_POLICY_LE] = STRATA_CQ_LE,
		[STRATA_POLICY_GT] = STRATA_CQ_GT,
		[STRATA_POLICY_GE] = STRATA_CQ_GE,
	};
	struct strata_cq *q;

	if (c->op > STRATA_POLICY_GE)
		return plan_true(pc); /* ==, != : the evaluator decides */
	q = plan_cq(pc, STRATA_CQ_TEST);
	if (!q)
		return NULL;
	q->field = STRATA_CQ_SIZE;
	q->op = ops[c->op];
	q->value = (c->op == STRATA_POLICY_LT || c->op == STRATA_POLICY_GE) ?
			   plan_clamp(ceil(c->num)) :
			   plan_clamp(floor(c->num));
	return q;
}

/*
 * An age test ("atime > 7d": read more than 7 days ago) as a bound on the
 * time column, a second wider than the rule so rounding never loses a
 * file: older than D means the time is before now - D.
 */
static struct strata_cq *plan_age(struct plan_ctx *pc,
				  const struct strata_policy_cond *c,
				  enum strata_cq_field field)
{
	int64_t now = (int64_t)pc->now.tv_sec * PLAN_NS + pc->now.tv_nsec;
	int64_t t = now - plan_clamp(c->num * PLAN_NS);
	struct strata_cq *q;

	if (c->op > STRATA_POLICY_GE)
		return plan_true(pc);
	q = plan_cq(pc, STRATA_CQ_TEST);
	if (!q)
		return NULL;
	q->field = field;
	if (c->op == STRATA_POLICY_GT || c->op == STRATA_POLICY_GE) {
		q->op = STRATA_CQ_LE;
		q->value = t + PLAN_NS;
	} else {
		q->op = STRATA_CQ_GE;
		q->value = t - PLAN_NS;
	}
	return q;
}

static struct strata_cq *plan_id(struct plan_ctx *pc,
				 const struct strata_policy_cond *c,
				 enum strata_cq_field field)
{
	struct strata_cq *q;

	if (c->op != STRATA_POLICY_EQ || c->num != floor(c->num))
		return plan_true(pc);
	q = plan_cq(pc, STRATA_CQ_TEST);
	if (!q)
		return NULL;
	q->field = field;
	q->op = STRATA_CQ_EQ;
	q->value = (int64_t)c->num;
	return q;
}

/* A filter every file satisfying c passes (NULL: out of nodes). */
STRATA_STATIC struct strata_cq *
strata__plan_compile(struct plan_ctx *pc, const struct strata_policy_cond *c)
{
	if (!c)
		return plan_true(pc);
	switch (c->kind) {
	case STRATA_POLICY_AND:
	case STRATA_POLICY_OR:
		return plan_pair(pc,
				 c->kind == STRATA_POLICY_AND ? STRATA_CQ_AND :
								STRATA_CQ_OR,
				 strata__plan_compile(pc, c->left),
				 strata__plan_compile(pc, c->right));
	case STRATA_POLICY_NOT:
		/* A widened test negated would narrow: let it all through. */
		return plan_true(pc);
	case STRATA_POLICY_TEST:
		break;
	}
	switch (c->field) {
	case STRATA_POLICY_F_SIZE:
		return plan_size(pc, c);
	case STRATA_POLICY_F_ATIME:
		return plan_age(pc, c, STRATA_CQ_ATIME);
	case STRATA_POLICY_F_MTIME:
		return plan_age(pc, c, STRATA_CQ_MTIME);
	case STRATA_POLICY_F_CTIME:
		return plan_age(pc, c, STRATA_CQ_CTIME);
	case STRATA_POLICY_F_UID:
		return plan_id(pc, c, STRATA_CQ_UID);
	case STRATA_POLICY_F_GID:
		return plan_id(pc, c, STRATA_CQ_GID);
	default:
		return plan_true(pc);
	}
}

/* The filter of a pass: files any migrate or replicate rule may want,
 * and every pinned file (a pin outranks rules). With a previous policy
 * (re-placement), every file. */
static const struct strata_cq *plan_filter(struct plan_ctx *pc, bool all)
{
	struct strata_cq *q = NULL;

	if (all)
		return NULL;
	for (unsigned int i = 0; i < pc->p->nrules; i++) {
		const struct strata_policy_rule *r = &pc->p->rules[i];
		struct strata_cq *c;

		if (r->kind != STRATA_POLICY_MIGRATE &&
		    r->kind != STRATA_POLICY_REPLICATE)
			continue;
		c = strata__plan_compile(pc, r->when);
		q = q ? plan_pair(pc, STRATA_CQ_OR, q, c) : c;
		if (!q || q->kind == STRATA_CQ_TRUE)
			return NULL;
	}
	if (!q) {
		/* No rule moves anything: only pins can (size < 0 is never
		 * true, so the scan returns just the pinned files). */
		q = plan_cq(pc, STRATA_CQ_TEST);
		if (q) {
			q->field = STRATA_CQ_SIZE;
			q->op = STRATA_CQ_LT;
			q->value = 0;
		}
	}
	return q;
}

/* Facts ------------------------------------------------------------------ */

static uint64_t plan_heat(void *arg, double window)
{
	struct plan_ctx *pc = arg;
	int64_t hour = (int64_t)((pc->now.tv_sec - (time_t)window) / 3600);
	uint64_t reads = 0;

	if (strata_catalog_heat_sum(pc->cat, pc->heat_ino, hour, &reads) < 0)
		return 0;
	return reads;
}

/* The user.* xattrs of ino as tags, into pc's buffers. */
static unsigned int plan_tags(struct plan_ctx *pc, strata_ino_t ino)
{
	char names[4096];
	size_t len = 0, used = 0, vlen;
	unsigned int n = 0;

	if (strata_catalog_listxattr(pc->cat, ino, names, sizeof(names), &len) <
	    0)
		return 0;
	for (size_t off = 0; off < len && n < PLAN_TAGS_MAX;
	     off += strlen(names + off) + 1) {
		const char *name = names + off;

		if (strncmp(name, "user.", 5) != 0)
			continue;
		if (strata_catalog_getxattr(
			    pc->cat, ino, name, pc->tagbuf + used,
			    sizeof(pc->tagbuf) - used, &vlen) < 0)
			continue;
		pc->tags[n].name = name + 5;
		pc->tags[n].value = pc->tagbuf + used;
		pc->tags[n].len = vlen;
		used += vlen;
		n++;
	}
	/* The names live in pc->tagbuf too once copied: keep them there. */
	for (unsigned int i = 0; i < n; i++) {
		size_t l = strlen(pc->tags[i].name) + 1;

		if (used + l > sizeof(pc->tagbuf))
			return i;
		memcpy(pc->tagbuf + used, pc->tags[i].name, l);
		pc->tags[i].name = pc->tagbuf + used;
		used += l;
	}
	return n;
}

/* Everything the evaluator needs of one scanned file, into f (which
 * points into row, path and pc). With path NULL, no path is built (the
 * evict plan's keys need none) and f->path is just the name. */
static int plan_facts(struct plan_ctx *pc, const struct strata_scan_row *row,
		      char *path, size_t size, const char **names,
		      struct strata_policy_facts *f)
{
	const char *dir = path ? plan_dir_path(pc, row->parent) : NULL;
	struct strata_attr a;

	if (path && !dir)
		return -ENOMEM;
	if (path &&
	    snprintf(path, size, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
		     row->name) >= (int)size)
		return -ENAMETOOLONG;
	/* Open files may know more than the catalog yet. */
	a = row->attr;
	if (pc->vfs)
		strata_vfs_overlay(pc->vfs, &a);
	memset(f, 0, sizeof(*f));
	f->path = path ? path : row->name;
	f->size = a.size;
	f->atime = a.atime;
	f->mtime = a.mtime;
	f->ctime = a.ctime;
	f->btime = a.btime;
	f->uid = a.uid;
	f->gid = a.gid;
	for (unsigned int i = 0; i < row->ntiers; i++) {
		const char *n = strata_plan_tier_name(pc->tiers, pc->ntiers,
						      row->tiers[i]);

		if (n)
			names[f->ntiers++] = n;
	}
	f->tiers = names;
	f->pin = row->pin_tier ? strata_plan_tier_name(pc->tiers, pc->ntiers,
						       row->pin_tier) :
				 NULL;
	pc->heat_ino = row->attr.ino;
	f->heat = plan_heat;
	f->heat_arg = pc;
	/* Tags cost a query: only for rules that test them, and only
	 * for files that have some. */
	if (pc->want_tags && row->has_tags) {
		f->ntags = plan_tags(pc, row->attr.ino);
		f->tags = pc->tags;
	}
	return 0;
}

/* Jobs ------------------------------------------------------------------- */

static int plan_job(struct plan_ctx *pc, enum strata_job_kind kind,
		    const struct strata_scan_row *row, const char *path,
		    const char *src, const char *dst,
		    const struct strata_policy_rule *rule, bool pinned,
		    strata_plan_cb cb, void *arg)
{
	struct strata_job j;

	memset(&j, 0, sizeof(j));
	j.kind = kind;
	j.ino = row->attr.ino;
	j.src_tier = src ? plan_tier_id(pc, src) : 0;
	j.dst_tier = dst ? plan_tier_id(pc, dst) : 0;
	if ((src && !j.src_tier) || (dst && !j.dst_tier))
		return 0; /* a tier this mount does not have */
	strata_strlcpy(j.rule,
		       rule   ? rule->name :
		       pinned ? "pin" :
				"place",
		       sizeof(j.rule));
	return cb(arg, &j, path, row->attr.size);
}

static bool plan_held(const struct strata_policy_facts *f, const char *tier)
{
	for (unsigned int i = 0; i < f->ntiers; i++)
		if (strcmp(f->tiers[i], tier) == 0)
			return true;
	return false;
}

/* The jobs of one decision: a move (copy, or copy and drop the first
 * source; drops of the rest), then the replicas. */
static int plan_decision(struct plan_ctx *pc, const struct strata_scan_row *row,
			 const char *path, const struct strata_policy_facts *f,
			 const struct strata_policy_decision *d,
			 strata_plan_cb cb, void *arg)
{
	const struct strata_policy_rule *mr = d->migrate.rule;
	unsigned int first = 0;
	int ret = 0;

	if (d->move && d->migrate.tier) {
		if (!plan_held(f, d->migrate.tier)) {
			if (d->ndrop > 0) {
				ret = plan_job(pc, STRATA_JOB_MOVE, row, path,
					       d->drop[0], d->migrate.tier, mr,
					       d->pinned, cb, arg);
				first = 1;
			} else {
				ret = plan_job(pc, STRATA_JOB_COPY, row, path,
					       NULL, d->migrate.tier, mr,
					       d->pinned, cb, arg);
			}
		}
		for (unsigned int i = first; ret == 0 && i < d->ndrop; i++)
			ret = plan_job(pc, STRATA_JOB_DROP, row, path,
				       d->drop[i], NULL, mr, d->pinned, cb,
				       arg);
	}
	for (unsigned int i = 0; ret == 0 && i < d->nreplicate; i++)
		ret = plan_job(pc, STRATA_JOB_COPY, row, path, NULL,
			       d->replicate[i].tier, d->replicate[i].rule,
			       false, cb, arg);
	return ret;
}

/*
 * One file of a pass. prev (the rules before a change) or old_path (where
 * a rename took the file from) say where the file was placed before: it
 * follows the current placement only from there, so a rename or a rule
 * change never undoes what migrate or evict rules did.
 */
static int plan_row_facts(struct plan_ctx *pc, const struct strata_policy *prev,
			  const struct strata_scan_row *row, const char *path,
			  const struct strata_policy_facts *f,
			  const char *old_path, strata_plan_cb cb, void *arg)
{
	struct strata_policy_decision d;
	struct strata_policy_facts of;
	struct strata_policy_action old, cur;
	int ret;

	/* No content, nothing to copy: an empty file has no replica. */
	if (f->ntiers == 0)
		return 0;
	strata_policy_decide(pc->p, f, pc->now, &d);
	ret = plan_decision(pc, row, path, f, &d, cb, arg);
	if (ret < 0)
		return ret;
	of = *f;
	if (old_path) {
		of.path = old_path;
		of.name = NULL;
		prev = pc->p;
	}
	if (!prev || strata_policy_place(prev, &of, pc->now, &old) < 0 ||
	    !old.tier)
		return 0;
	if (strata_policy_place(pc->p, f, pc->now, &cur) < 0 || !cur.tier ||
	    strcmp(cur.tier, old.tier) == 0)
		return 0;
	/* A migrate rule or a pin decides where it lives, not placement;
	 * and it follows only from where the old placement put it. */
	if (d.pinned || d.migrate.rule || plan_held(f, cur.tier) ||
	    !plan_held(f, old.tier))
		return 0;
	return plan_job(pc, STRATA_JOB_MOVE, row, path, old.tier, cur.tier,
			cur.rule, false, cb, arg);
}

static int plan_row(struct plan_ctx *pc, const struct strata_policy *prev,
		    const struct strata_scan_row *row, const char *old_path,
		    strata_plan_cb cb, void *arg)
{
	const char *names[STRATA_SCAN_TIERS];
	struct strata_policy_facts f;
	char path[PATH_MAX];
	int ret;

	ret = plan_facts(pc, row, path, sizeof(path), names, &f);
	if (ret < 0)
		return ret == -ENAMETOOLONG ? 0 : ret;
	return plan_row_facts(pc, prev, row, path, &f, old_path, cb, arg);
}

/* An evict candidate: what ordering and the job need, no more. */
struct plan_cand {
	double key; /* larger: colder, goes first */
	uint64_t size;
	strata_ino_t ino;
	bool other; /* a valid copy is elsewhere too: a drop will do */
};

/*
 * The coldest files, just enough of them to free need bytes and at most
 * PLAN_EVICT_MAX: a min-heap on key, so its top is the warmest file kept,
 * which goes as soon as the others cover need without it.
 */
struct plan_heap {
	struct plan_cand *v;
	size_t n;
	size_t cap;
	uint64_t bytes;
	uint64_t need;
};

static void plan_heap_swap(struct plan_cand *a, struct plan_cand *b)
{
	struct plan_cand t = *a;

	*a = *b;
	*b = t;
}

static void plan_heap_down(struct plan_heap *h, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < h->n && h->v[l].key < h->v[m].key)
			m = l;
		if (r < h->n && h->v[r].key < h->v[m].key)
			m = r;
		if (m == i)
			return;
		plan_heap_swap(&h->v[i], &h->v[m]);
		i = m;
	}
}

static int plan_heap_push(struct plan_heap *h, const struct plan_cand *c)
{
	struct plan_cand *nv;
	size_t i;

	/* Already enough, or as many as one pass moves, and c is warmer
	 * than every file kept: skip. */
	if (h->n && (h->bytes >= h->need || h->n >= PLAN_EVICT_MAX) &&
	    c->key <= h->v[0].key)
		return 0;
	if (h->n == h->cap) {
		h->cap = h->cap ? h->cap * 2 : 256;
		nv = realloc(h->v, h->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		h->v = nv;
	}
	i = h->n++;
	h->v[i] = *c;
	h->bytes += c->size;
	while (i && h->v[(i - 1) / 2].key > h->v[i].key) {
		plan_heap_swap(&h->v[i], &h->v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	while (h->n > 1 &&
	       (h->bytes - h->v[0].size >= h->need || h->n > PLAN_EVICT_MAX)) {
		h->bytes -= h->v[0].size;
		h->v[0] = h->v[--h->n];
		plan_heap_down(h, 0);
	}
	return 0;
}

static int plan_cand_cmp(const void *a, const void *b)
{
	const struct plan_cand *x = a, *y = b;

	return x->key < y->key ? 1 : x->key > y->key ? -1 : 0;
}

/* The tier an evict rule sends files to: its tier, or its site's first. */
static const char *plan_evict_to(const struct plan_ctx *pc,
				 const struct strata_policy_rule *r)
{
	if (r->to.tier)
		return r->to.tier;
	for (unsigned int i = 0; i < pc->ntiers; i++)
		if (r->to.site && strcmp(pc->tiers[i].site, r->to.site) == 0)
			return pc->tiers[i].name;
	return NULL;
}

/* An over-full tier of a pass and the coldest files it could lose. */
struct plan_evict {
	const struct strata_vfs_tier_info *tier;
	const struct strata_policy_rule *rule;
	struct plan_heap heap;
};

/* Which tiers are over an evict rule's high mark, into ev; returns how
 * many. */
static unsigned int plan_evicting(struct plan_ctx *pc, struct plan_evict *ev)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < pc->ntiers; i++) {
		const struct strata_vfs_tier_info *t = &pc->tiers[i];
		const struct strata_policy_rule *r;
		uint64_t low;

		if (!t->capacity)
			continue;
		r = strata_policy_evict_rule(pc->p, t->name,
					     (double)t->used * 100.0 /
						     (double)t->capacity);
		if (!r)
			continue;
		low = (uint64_t)((double)t->capacity * r->low / 100.0);
		memset(&ev[n], 0, sizeof(ev[n]));
		ev[n].tier = t;
		ev[n].rule = r;
		ev[n].heap.need = t->used > low ? t->used - low : 0;
		n++;
	}
	return n;
}

/* A file of an over-full tier: a candidate, by how cold it is. */
static int plan_evict_row(struct plan_ctx *pc, struct plan_evict *ev,
			  const struct strata_scan_row *row,
			  const struct strata_policy_facts *f)
{
	struct plan_cand c;
	bool held = false;

	for (unsigned int i = 0; i < row->ntiers; i++)
		held |= row->tiers[i] == ev->tier->id;
	if (!held || !ev->heap.need ||
	    strata_policy_evict_key(pc->p, ev->rule, f, pc->now, &c.key) < 0)
		return 0;
	c.size = f->size;
	c.ino = row->attr.ino;
	c.other = f->ntiers > 1;
	return plan_heap_push(&ev->heap, &c);
}

/* The jobs of an over-full tier: coldest first; a file with a valid copy
 * elsewhere just loses this one. */
static int plan_evict_jobs(struct plan_ctx *pc, struct plan_evict *ev,
			   strata_plan_cb cb, void *arg)
{
	const char *to = plan_evict_to(pc, ev->rule);
	struct strata_scan_row row;
	struct plan_heap *h = &ev->heap;
	int ret = 0;

	if (h->n)
		qsort(h->v, h->n, sizeof(*h->v), plan_cand_cmp);
	memset(&row, 0, sizeof(row));
	for (size_t i = 0; ret == 0 && i < h->n; i++) {
		row.attr.ino = h->v[i].ino;
		row.attr.size = h->v[i].size;
		if (h->v[i].other)
			ret = plan_job(pc, STRATA_JOB_DROP, &row, NULL,
				       ev->tier->name, NULL, ev->rule, false,
				       cb, arg);
		else if (to)
			ret = plan_job(pc, STRATA_JOB_MOVE, &row, NULL,
				       ev->tier->name, to, ev->rule, false, cb,
				       arg);
	}
	return ret;
}

int strata_plan_run(const struct strata_policy *p,
		    const struct strata_policy *prev, struct strata_vfs *vfs,
		    struct timespec now, strata_plan_cb cb, void *arg,
		    struct strata_plan_stats *st)
{
	struct plan_evict ev[STRATA_CFG_MAX_TIERS];
	struct strata_catalog_query q = { 0 };
	struct strata_scan_row *rows = NULL;
	const char *names[STRATA_SCAN_TIERS];
	struct strata_policy_facts f;
	char path[PATH_MAX];
	struct plan_ctx *pc;
	strata_ino_t after = 0;
	unsigned int nev = 0;
	size_t n;
	int ret;

	memset(st, 0, sizeof(*st));
	pc = malloc(sizeof(*pc));
	rows = calloc(PLAN_PAGE, sizeof(*rows));
	if (!pc || !rows) {
		ret = -ENOMEM;
		goto out;
	}
	ret = plan_init(pc, p, vfs, now, true);
	if (ret < 0)
		goto out;
	nev = plan_evicting(pc, ev);
	q.where = plan_filter(pc, prev != NULL);
	q.or_pinned = true; /* pins outrank the rules the filter knows */
	q.with_tags = pc->want_tags;
	/* Eviction looks at every file of the tier: one scan of all files,
	 * the filter's verdict coming back as a column, serves both. */
	q.where_as_column = nev > 0;
	do {
		ret = strata_catalog_scan(pc->cat, &q, after, rows, PLAN_PAGE,
					  &n, &after);
		for (size_t i = 0; ret == 0 && i < n; i++) {
			const struct strata_scan_row *row = &rows[i];

			st->files++;
			ret = plan_facts(pc, row, path, sizeof(path), names,
					 &f);
			if (ret < 0) {
				ret = ret == -ENAMETOOLONG ? 0 : ret;
				continue;
			}
			if (row->wanted)
				ret = plan_row_facts(pc, prev, row, path, &f,
						     NULL, cb, arg);
			for (unsigned int k = 0; ret == 0 && k < nev; k++)
				ret = plan_evict_row(pc, &ev[k], row, &f);
		}
	} while (ret == 0 && after);
	for (unsigned int k = 0; ret == 0 && k < nev; k++)
		ret = plan_evict_jobs(pc, &ev[k], cb, arg);
out:
	for (unsigned int k = 0; k < nev; k++)
		free(ev[k].heap.v);
	if (pc)
		plan_release(pc);
	free(pc);
	free(rows);
	return ret;
}

/* The scan row of one file, as a pass would find it. */
static int plan_row_of(struct plan_ctx *pc, strata_ino_t ino,
		       struct strata_scan_row *row)
{
	struct strata_cq q1 = { .kind = STRATA_CQ_TRUE };
	struct strata_catalog_query q = { .where = &q1 };
	strata_ino_t next;
	size_t n = 0;
	int ret;

	/* ino - 1 as the cursor: the page starts at ino itself. */
	ret = strata_catalog_scan(pc->cat, &q, ino - 1, row, 1, &n, &next);
	if (ret < 0)
		return ret;
	if (n == 0 || row->attr.ino != ino)
		return -ENOENT;
	return 0;
}

/* What a one-file plan does with the file: plan_file, plan_read. */
struct plan_one {
	strata_plan_cb cb;
	void *arg;
	const char *from; /* plan_file: a rename, from -> to; NULL: tags */
	const char *to;
	strata_plan_line_cb say;
	void *say_arg;
};

typedef int (*plan_one_fn)(struct plan_ctx *pc,
			   const struct strata_scan_row *row,
			   const struct plan_one *po);

/* Set up a context without usage, find ino's row, run fn on it. */
static int plan_one(const struct strata_policy *p, struct strata_vfs *vfs,
		    uint64_t ino, struct timespec now, plan_one_fn fn,
		    const struct plan_one *po)
{
	struct strata_scan_row row;
	struct plan_ctx *pc;
	int ret;

	pc = malloc(sizeof(*pc));
	if (!pc)
		return -ENOMEM;
	ret = plan_init(pc, p, vfs, now, false);
	if (ret == 0)
		ret = plan_row_of(pc, ino, &row);
	if (ret == 0)
		ret = fn(pc, &row, po);
	plan_release(pc);
	free(pc);
	return ret;
}

static int plan_file_fn(struct plan_ctx *pc, const struct strata_scan_row *row,
			const struct plan_one *po)
{
	const char *dir = plan_dir_path(pc, row->parent);
	char now_path[PATH_MAX], old_path[PATH_MAX];
	size_t tl;

	if (!po->from)
		return plan_row(pc, NULL, row, NULL, po->cb, po->arg);
	/* The file's path then: its path now with the renamed prefix
	 * swapped back. */
	if (!dir || snprintf(now_path, sizeof(now_path), "%s%s%s", dir,
			     strcmp(dir, "/") ? "/" : "",
			     row->name) >= (int)sizeof(now_path))
		return 0;
	tl = strlen(po->to);
	if (strncmp(now_path, po->to, tl) != 0 ||
	    (now_path[tl] != '\0' && now_path[tl] != '/') ||
	    snprintf(old_path, sizeof(old_path), "%s%s", po->from,
		     now_path + tl) >= (int)sizeof(old_path))
		return 0;
	return plan_row(pc, NULL, row, old_path, po->cb, po->arg);
}

int strata_plan_file(const struct strata_policy *p, struct strata_vfs *vfs,
		     uint64_t ino, const char *from, const char *to,
		     struct timespec now, strata_plan_cb cb, void *arg)
{
	const struct plan_one po = {
		.cb = cb, .arg = arg, .from = from, .to = to
	};

	return plan_one(p, vfs, ino, now, plan_file_fn, &po);
}

static int plan_read_fn(struct plan_ctx *pc, const struct strata_scan_row *row,
			const struct plan_one *po)
{
	const char *names[STRATA_SCAN_TIERS];
	struct strata_policy_action act;
	struct strata_policy_facts f;
	char path[PATH_MAX];
	int ret;

	ret = plan_facts(pc, row, path, sizeof(path), names, &f);
	if (ret < 0 || f.ntiers == 0)
		return ret;
	strata_policy_on_read(pc->p, &f, pc->now, &act);
	if (!act.rule)
		return 0;
	return plan_job(pc, STRATA_JOB_COPY, row, path, NULL, act.tier,
			act.rule, false, po->cb, po->arg);
}

int strata_plan_read(const struct strata_policy *p, struct strata_vfs *vfs,
		     uint64_t ino, struct timespec now, strata_plan_cb cb,
		     void *arg)
{
	const struct plan_one po = { .cb = cb, .arg = arg };

	return plan_one(p, vfs, ino, now, plan_read_fn, &po);
}

const char *strata_plan_kind_name(enum strata_job_kind kind)
{
	switch (kind) {
	case STRATA_JOB_COPY:
		return "copy";
	case STRATA_JOB_MOVE:
		return "move";
	case STRATA_JOB_DROP:
		return "drop";
	}
	return "?";
}

struct plan_say {
	struct plan_ctx *pc;
	strata_plan_line_cb cb;
	void *arg;
	unsigned int njobs;
};

static int plan_say_job(void *arg, const struct strata_job *j, const char *path,
			uint64_t size)
{
	struct plan_say *ps = arg;
	const char *src = strata_plan_tier_name(ps->pc->tiers, ps->pc->ntiers,
						j->src_tier);
	const char *dst = strata_plan_tier_name(ps->pc->tiers, ps->pc->ntiers,
						j->dst_tier);
	char line[512];

	(void)path;
	(void)size;
	snprintf(line, sizeof(line), "would %s%s%s%s%s (rule '%s')",
		 strata_plan_kind_name(j->kind), src ? " from " : "",
		 src ? src : "", dst ? " to " : "", dst ? dst : "", j->rule);
	ps->njobs++;
	ps->cb(ps->arg, line);
	return 0;
}

static int plan_explain_fn(struct plan_ctx *pc,
			   const struct strata_scan_row *row,
			   const struct plan_one *po)
{
	const char *names[STRATA_SCAN_TIERS];
	struct plan_say ps = { .pc = pc, .cb = po->say, .arg = po->say_arg };
	const struct strata_policy *p = pc->p;
	struct strata_policy_decision d;
	struct strata_policy_action place;
	struct strata_policy_facts f;
	char path[PATH_MAX];
	char line[PATH_MAX + 1024];
	char held[512] = "";
	size_t hl = 0;
	int ret;

	ret = plan_facts(pc, row, path, sizeof(path), names, &f);
	if (ret < 0)
		return ret;
	for (unsigned int i = 0; i < f.ntiers && hl < sizeof(held); i++)
		hl += (size_t)snprintf(held + hl, sizeof(held) - hl, "%s%s",
				       i ? "," : "", f.tiers[i]);
	snprintf(line, sizeof(line), "file '%s': %" PRIu64 " bytes, on %s%s%s",
		 path, f.size, f.ntiers ? held : "no tier (empty)",
		 f.pin ? ", pinned to " : "", f.pin ? f.pin : "");
	ps.cb(ps.arg, line);
	for (unsigned int i = 0; i < p->nrules; i++) {
		strata_policy_explain(p, &p->rules[i], &f, pc->now, line,
				      sizeof(line));
		ps.cb(ps.arg, line);
	}
	if (strata_policy_place(p, &f, pc->now, &place) == 0 && place.tier) {
		snprintf(line, sizeof(line), "placement: %s (%s)", place.tier,
			 place.rule ? place.rule->name :
			 f.pin	    ? "pin" :
				      "the config's placement");
		ps.cb(ps.arg, line);
	}
	strata_policy_decide(p, &f, pc->now, &d);
	ret = plan_decision(pc, row, path, &f, &d, plan_say_job, &ps);
	if (ret == 0 && ps.njobs == 0)
		ps.cb(ps.arg,
		      "nothing to do: the file is where the rules want it");
	return ret;
}

int strata_plan_explain(const struct strata_policy *p, struct strata_vfs *vfs,
			uint64_t ino, struct timespec now,
			strata_plan_line_cb cb, void *arg)
{
	const struct plan_one po = { .say = cb, .say_arg = arg };

	return plan_one(p, vfs, ino, now, plan_explain_fn, &po);
}
