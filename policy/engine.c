/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/engine.c - the policy engine of a mount: a libuv loop that plans
 * passes on a timer, watches the rules file, and runs the mover's jobs.
 *
 * The loop runs on its own thread. Blocking work (a planning pass, a copy,
 * a drop) goes to libuv's thread pool with uv_queue_work; its result comes
 * back to the loop thread, which alone updates jobs' states and swaps the
 * rules. FUSE threads reach the loop through the vfs hooks: the place hook
 * reads the rules under a read lock; reads and name changes are queued
 * under e->lock and announced with uv_async_send.
 *
 * Jobs are catalog rows: a restart turns running jobs back to pending and
 * goes on. Due jobs of one kind between the same tiers run together as a
 * work, sharing one sync of the target and one durable catalog commit;
 * one file is in at most one work. A failed job waits with exponential
 * backoff and jitter and gives up after ENG_ATTEMPTS; a file that is busy
 * (open, written during its copy) fails the same way, logged quietly. A
 * copy never starts when its target lacks room for it, counting the
 * copies already under way. The control socket (ctl.c) shares the loop.
 */
#include <errno.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "cfg.h"
#include "log.h"
#include "policy_int.h"
#include "util.h"
#include "vfs.h"

#define ENG_JOBS_MS 200	      /* how often pending jobs are looked at */
#define ENG_RULES_MS 1000     /* how often the rules file is stat'ed */
#define ENG_EVENTS_MAX 4096   /* queued reads and changes; more are lost */
#define ENG_ATTEMPTS 8	      /* failures before a job is given up */
#define ENG_BACKOFF_MAX_S 300 /* longest wait between attempts */
#define ENG_PER_TIER 4	      /* works at once touching one tier */
#define ENG_DUE 256	      /* due jobs looked at per dispatch */
#define ENG_WORK_FILES 32     /* jobs run together, sharing syncs */
#define ENG_NS 1000000000ll

enum eng_event_kind {
	ENG_EV_READ,
	ENG_EV_CHANGED,
};

struct eng_event {
	enum eng_event_kind kind;
	uint64_t ino;
	char *from; /* ENG_EV_CHANGED by a rename: the old path, malloc'd */
};

/* One job of a work, and how it went. */
struct eng_job {
	struct strata_job job;
	uint64_t reserved; /* bytes held on the target for its copy */
	uint64_t copied;
	struct strata_vfs_copy *cp;
	struct strata_vfs_drop *drop;
	int ret;
};

/*
 * A work: up to ENG_WORK_FILES jobs of one kind between the same tiers,
 * run together on a pool thread so that they share one sync of the
 * target tier and one durable catalog commit instead of one per file.
 */
struct eng_work {
	struct strata_engine *e;
	uv_work_t req;
	struct eng_work *next; /* e->works, loop thread */
	enum strata_job_kind kind;
	uint32_t src_tier;
	uint32_t dst_tier;
	unsigned int n;
	struct eng_job jobs[];
};

struct strata_engine {
	const struct strata_cfg *cfg;
	struct strata_vfs *vfs;
	struct strata_catalog *cat;
	struct strata_policy_resolver resolver;

	uv_loop_t loop;
	uv_thread_t thread;
	bool thread_on;
	uv_async_t wake;
	uv_timer_t pass_timer;
	uv_timer_t jobs_timer;
	uv_timer_t rules_timer;
	uv_work_t pass_req;
	bool pass_running;     /* loop thread */
	bool pass_again;       /* loop thread: run once more when done */
	bool stopping;	       /* e->lock */
	unsigned int running;  /* works under way; loop thread */
	unsigned int nhandles; /* open handles, for the stop */

	/* The rules: swapped on the loop thread under rules_lock (write),
	 * read by the place hook and passes under it (read). */
	pthread_rwlock_t rules_lock;
	struct strata_policy *policy;
	struct strata_policy *prev; /* the rules before a change, for one pass */
	bool places;		    /* policy has place rules */
	double heat_keep;	    /* seconds of reads its rules look at */
	struct timespec rules_mtime;
	off_t rules_size;
	bool rules_seen;

	pthread_mutex_t lock; /* events, reservations, stopping */
	struct eng_event events[ENG_EVENTS_MAX];
	unsigned int nevents;
	bool events_lost;
	/* The batch being handled on the pool; loop thread. */
	struct eng_event batch[ENG_EVENTS_MAX];
	unsigned int nbatch;
	bool batch_running;
	uv_work_t batch_req;
	uint64_t reserved[STRATA_CFG_MAX_TIERS]; /* by tier index */
	struct eng_work *works;			 /* under way; loop thread */
	struct strata_ctl *ctl; /* the control socket (ctl.c) */
};

/* Names ------------------------------------------------------------------ */

static int eng_user(void *arg, const char *name, uint32_t *uid)
{
	char buf[4096];
	struct passwd pw, *res = NULL;

	(void)arg;
	if (getpwnam_r(name, &pw, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*uid = res->pw_uid;
	return 0;
}

static int eng_group(void *arg, const char *name, uint32_t *gid)
{
	char buf[4096];
	struct group gr, *res = NULL;

	(void)arg;
	if (getgrnam_r(name, &gr, buf, sizeof(buf), &res) != 0 || !res)
		return -ENOENT;
	*gid = res->gr_gid;
	return 0;
}

const struct strata_policy_resolver strata_engine_resolver = {
	.user = eng_user,
	.group = eng_group,
};

/* Rules ------------------------------------------------------------------ */

int strata_engine_load_rules(const char *path, const struct strata_cfg *cfg,
			     struct strata_policy **out, char *err,
			     size_t errlen)
{
	struct strata_policy_diags d = { 0 };
	struct strata_policy *p = NULL;
	int ret;

	*out = NULL;
	ret = strata_policy_load(path, 0, &p, &d);
	if (ret == 0)
		ret = strata_policy_check(p, cfg, &strata_engine_resolver, &d);
	if (ret < 0) {
		const struct strata_policy_diag *first = NULL;

		for (unsigned int i = 0; i < d.n && !first; i++)
			if (d.v[i].severity == STRATA_POLICY_ERROR)
				first = &d.v[i];
		if (first)
			snprintf(err, errlen, "%s:%d:%d: %s", path, first->line,
				 first->col, first->msg);
		else
			snprintf(err, errlen, "cannot read rules '%s': %s",
				 path, strerror(-ret));
		strata_policy_free(p);
		strata_policy_diags_release(&d);
		return ret;
	}
	for (unsigned int i = 0; i < d.n; i++)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_POLICY,
			   "%s:%d:%d: warning: %s", path, d.v[i].line,
			   d.v[i].col, d.v[i].msg);
	strata_policy_diags_release(&d);
	*out = p;
	return 0;
}

/* Has the rules file changed since we last looked? */
static bool eng_rules_changed(struct strata_engine *e, struct stat *st)
{
	if (stat(e->cfg->rules, st) < 0)
		return false;
	return !e->rules_seen || st->st_mtim.tv_sec != e->rules_mtime.tv_sec ||
	       st->st_mtim.tv_nsec != e->rules_mtime.tv_nsec ||
	       st->st_size != e->rules_size;
}

static void eng_pass_soon(struct strata_engine *e, uint64_t ms);

/* Swap in new rules (loop thread, no pass running). The old ones stay as
 * prev for one pass, so files they placed can follow the new placement. */
/* What the engine needs to know of a policy: place rules (the place
 * hook's fast path) and the longest heat window (how long reads are kept;
 * at least a week, for explain). rules_lock held for writing. */
static void eng_policy_facts(struct strata_engine *e)
{
	const struct strata_policy *p = e->policy;

	e->places = false;
	e->heat_keep = 7 * 86400.0;
	for (unsigned int i = 0; p && i < p->nrules; i++) {
		const struct strata_policy_rule *r = &p->rules[i];

		e->places |= r->kind == STRATA_POLICY_PLACE;
		if (r->kind == STRATA_POLICY_EVICT &&
		    r->by == STRATA_POLICY_BY_HEAT &&
		    r->heat_window > e->heat_keep)
			e->heat_keep = r->heat_window;
		if (strata__policy_uses(r->when, STRATA_POLICY_F_HEAT))
			e->heat_keep = 366 * 86400.0; /* windows vary: a year */
	}
}

static void eng_swap_rules(struct strata_engine *e, struct strata_policy *p)
{
	pthread_rwlock_wrlock(&e->rules_lock);
	strata_policy_free(e->prev);
	e->prev = e->policy;
	e->policy = p;
	eng_policy_facts(e);
	pthread_rwlock_unlock(&e->rules_lock);
}

static void eng_reload(struct strata_engine *e)
{
	struct strata_policy *p = NULL;
	char err[STRATA_POLICY_MSG_MAX + PATH_MAX];
	struct stat st;

	if (!e->cfg->rules[0] || e->pass_running || e->batch_running ||
	    !eng_rules_changed(e, &st))
		return;
	e->rules_seen = true;
	e->rules_mtime = st.st_mtim;
	e->rules_size = st.st_size;
	if (strata_engine_load_rules(e->cfg->rules, e->cfg, &p, err,
				     sizeof(err)) < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_POLICY,
			   "%s; the rules in force stay", err);
		return;
	}
	strata_log(STRATA_LOG_NOTICE, STRATA_SUB_POLICY,
		   "rules '%s' loaded: %u rules, a pass every %.0f s",
		   e->cfg->rules, p->nrules, p->interval);
	eng_swap_rules(e, p);
	eng_pass_soon(e, 0);
}

static void eng_rules_tick(uv_timer_t *t)
{
	eng_reload(t->data);
}

/* Jobs ------------------------------------------------------------------- */

static int eng_enqueue(void *arg, const struct strata_job *job,
		       const char *path, uint64_t size)
{
	struct strata_engine *e = arg;
	int64_t id;
	int ret;

	(void)size;
	ret = strata_catalog_job_add(e->cat, job, &id);
	if (ret == -EEXIST || ret == -ENOENT)
		return 0;
	if (ret < 0)
		return ret;
	strata_log(STRATA_LOG_DEBUG, STRATA_SUB_POLICY,
		   "job %" PRId64 ": %s '%s' (rule '%s')", id,
		   strata_plan_kind_name(job->kind), path ? path : "?",
		   job->rule);
	return 0;
}

/* The index of tier id in the config, or -ENOENT. */
static int eng_tier_index(struct strata_engine *e, uint32_t id)
{
	struct strata_vfs_tier_info info;
	unsigned int n = strata_vfs_tier_count(e->vfs);

	for (unsigned int i = 0; i < n; i++) {
		if (strata_vfs_tier_ident(e->vfs, i, &info) == 0 &&
		    info.id == id)
			return (int)i;
	}
	return -ENOENT;
}

/*
 * Reserve room on the target for a copy: its free space, less what copies
 * under way will take, must hold the file. Any thread.
 */
static int eng_reserve(struct strata_engine *e, struct eng_job *ej)
{
	struct strata_vfs_tier_info info;
	struct strata_attr a;
	int idx, ret;

	ret = strata_catalog_getattr(e->cat, ej->job.ino, &a);
	if (ret < 0)
		return ret;
	idx = eng_tier_index(e, ej->job.dst_tier);
	if (idx < 0)
		return idx;
	ret = strata_vfs_tier_info(e->vfs, (unsigned int)idx, &info);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&e->lock);
	if (info.free < e->reserved[idx] + a.size) {
		ret = -ENOSPC;
	} else {
		e->reserved[idx] += a.size;
		ej->reserved = a.size;
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static void eng_unreserve(struct strata_engine *e, struct eng_job *ej)
{
	int idx;

	if (!ej->reserved)
		return;
	idx = eng_tier_index(e, ej->job.dst_tier);
	pthread_mutex_lock(&e->lock);
	if (idx >= 0)
		e->reserved[idx] -= ej->reserved;
	pthread_mutex_unlock(&e->lock);
	ej->reserved = 0;
}

/* Does tier hold a valid replica of ino's current content already? */
static bool eng_holds(struct strata_engine *e, uint64_t ino, uint32_t tier)
{
	struct strata_scan_row row;
	struct strata_cq all = { .kind = STRATA_CQ_TRUE };
	struct strata_catalog_query q = { .where = &all, .on_tier = tier };
	strata_ino_t next;
	size_t n = 0;

	return strata_catalog_scan(e->cat, &q, ino - 1, &row, 1, &n, &next) ==
		       0 &&
	       n == 1 && row.attr.ino == ino;
}

/* Copies of a work: data first (no sync), then one sync of the target,
 * then each verified and committed. A copy already made (a move whose
 * drop waits) needs neither room nor bytes. */
static void eng_work_copies(struct eng_work *w)
{
	struct strata_engine *e = w->e;
	bool any = false;
	int ret;

	for (unsigned int i = 0; i < w->n; i++) {
		struct eng_job *ej = &w->jobs[i];

		if (eng_holds(e, ej->job.ino, w->dst_tier))
			continue;
		ej->ret = eng_reserve(e, ej);
		if (ej->ret == 0)
			ej->ret = strata_vfs_copy_start(e->vfs, ej->job.ino,
							w->dst_tier, false,
							&ej->cp, &ej->copied);
		any |= ej->cp != NULL;
	}
	ret = any ? strata_vfs_sync_tier(e->vfs, w->dst_tier) : 0;
	for (unsigned int i = 0; i < w->n; i++) {
		struct eng_job *ej = &w->jobs[i];

		if (ej->cp && ret < 0) {
			strata_vfs_copy_abort(e->vfs, ej->cp);
			ej->ret = ret;
		} else if (ej->cp) {
			ej->ret = strata_vfs_copy_finish(e->vfs, ej->cp);
		}
		ej->cp = NULL;
		eng_unreserve(e, ej);
	}
}

/* Drops of a work: every row, one durable catalog commit, then the
 * objects (DESIGN.md invariant 3). */
static void eng_work_drops(struct eng_work *w)
{
	struct strata_engine *e = w->e;
	bool any = false;
	int ret;

	for (unsigned int i = 0; i < w->n; i++) {
		struct eng_job *ej = &w->jobs[i];

		if (ej->ret == 0)
			ej->ret = strata_vfs_drop_start(e->vfs, ej->job.ino,
							w->src_tier, &ej->drop);
		any |= ej->drop != NULL;
	}
	ret = any ? strata_catalog_sync(e->cat, true) : 0;
	for (unsigned int i = 0; i < w->n; i++) {
		struct eng_job *ej = &w->jobs[i];

		if (!ej->drop)
			continue;
		strata_vfs_drop_finish(e->vfs, ej->drop, ret == 0);
		ej->drop = NULL;
		if (ret < 0)
			ej->ret = ret;
	}
}

/* The work itself, on a pool thread. */
static void eng_work_run(uv_work_t *req)
{
	struct eng_work *w = req->data;

	if (w->kind == STRATA_JOB_COPY || w->kind == STRATA_JOB_MOVE)
		eng_work_copies(w);
	if (w->kind == STRATA_JOB_MOVE || w->kind == STRATA_JOB_DROP)
		eng_work_drops(w);
	/* The file or the replica to drop is gone: nothing left to do. The
	 * vfs reports a missing object of a valid replica as -ENODATA. */
	for (unsigned int i = 0; i < w->n; i++)
		if (w->jobs[i].ret == -ENOENT)
			w->jobs[i].ret = 0;
}

static void eng_dispatch(struct strata_engine *e);

static const char *eng_error(int ret)
{
	switch (ret) {
	case -EMLINK:
		return "it is the last valid copy";
	case -ESTALE:
		return "the file changed during the copy";
	case -EBUSY:
		return "the file is open or being written";
	case -ENOSPC:
		return "the target tier has no room for it";
	case -ENODATA:
		return "the source object is missing (see strata fsck)";
	default:
		return strerror(-ret);
	}
}

/*
 * Record how one job went (loop thread). Every failure counts and waits
 * twice as long as the one before (with jitter), up to ENG_BACKOFF_MAX_S;
 * after ENG_ATTEMPTS the job gives up and stays for operators to see, and
 * keeps its twins away for STRATA_JOB_FAILED_HOLD_S. A job stopped by an
 * unmount is simply pending again.
 */
static void eng_job_done(struct strata_engine *e, struct eng_job *ej)
{
	struct strata_job *j = &ej->job;
	bool busy = ej->ret == -EBUSY || ej->ret == -ESTALE;
	int64_t wait_s;

	if (ej->ret == 0) {
		if (strata_catalog_job_del(e->cat, j->id) < 0)
			strata_log(STRATA_LOG_ERR, STRATA_SUB_POLICY,
				   "job %" PRId64 " done but not removed",
				   j->id);
		return;
	}
	j->bytes_done = ej->copied;
	j->state = STRATA_JOB_PENDING;
	if (ej->ret == -ECANCELED) {
		j->not_before = 0;
		goto record;
	}
	j->attempts++;
	wait_s = (int64_t)1 << (j->attempts < 9 ? j->attempts : 9);
	if (wait_s > ENG_BACKOFF_MAX_S)
		wait_s = ENG_BACKOFF_MAX_S;
	wait_s += (int64_t)(random() % (wait_s + 1)) / 2;
	j->not_before = (int64_t)strata_now().tv_sec * ENG_NS + wait_s * ENG_NS;
	snprintf(j->last_error, sizeof(j->last_error), "%s",
		 eng_error(ej->ret));
	if (j->attempts >= ENG_ATTEMPTS)
		j->state = STRATA_JOB_FAILED;
	strata_log(j->state == STRATA_JOB_FAILED ? STRATA_LOG_ERR :
		   busy				 ? STRATA_LOG_DEBUG :
						   STRATA_LOG_WARN,
		   STRATA_SUB_POLICY,
		   "job %" PRId64 " (%s of inode %" PRIu64
		   ", rule '%s') failed: %s%s",
		   j->id, strata_plan_kind_name(j->kind), j->ino, j->rule,
		   j->last_error,
		   j->state == STRATA_JOB_FAILED ? "; giving up" : "");
record:
	if (strata_catalog_job_update(e->cat, j) < 0)
		strata_log(STRATA_LOG_ERR, STRATA_SUB_POLICY,
			   "cannot record how job %" PRId64 " ended", j->id);
}

static void eng_work_after(uv_work_t *req, int status)
{
	struct eng_work *w = req->data;
	struct strata_engine *e = w->e;
	struct eng_work **pp;

	for (pp = &e->works; *pp != w; pp = &(*pp)->next)
		;
	*pp = w->next;
	e->running--;
	for (unsigned int i = 0; i < w->n; i++) {
		if (status < 0)
			w->jobs[i].ret = -ECANCELED;
		eng_job_done(e, &w->jobs[i]);
	}
	free(w);
	eng_dispatch(e);
}

/* Is a job under way for that file? */
static bool eng_ino_busy(struct strata_engine *e, uint64_t ino)
{
	for (struct eng_work *w = e->works; w; w = w->next)
		for (unsigned int i = 0; i < w->n; i++)
			if (w->jobs[i].job.ino == ino)
				return true;
	return false;
}

/* Works under way that touch tier id. */
static unsigned int eng_tier_load(struct strata_engine *e, uint32_t id)
{
	unsigned int load = 0;

	for (struct eng_work *w = e->works; id && w; w = w->next)
		if (w->src_tier == id || w->dst_tier == id)
			load++;
	return load;
}

/* Add due job j to w if it fits: same kind and tiers, file not taken. */
static bool eng_work_take(struct strata_engine *e, struct eng_work *w,
			  const struct strata_job *j)
{
	struct eng_job *ej;

	if (w->n == ENG_WORK_FILES || j->kind != w->kind ||
	    j->src_tier != w->src_tier || j->dst_tier != w->dst_tier ||
	    eng_ino_busy(e, j->ino))
		return false;
	for (unsigned int i = 0; i < w->n; i++)
		if (w->jobs[i].job.ino == j->ino)
			return false;
	ej = &w->jobs[w->n];
	memset(ej, 0, sizeof(*ej));
	ej->job = *j;
	ej->job.state = STRATA_JOB_RUNNING;
	if (strata_catalog_job_update(e->cat, &ej->job) < 0)
		return false;
	w->n++;
	return true;
}

/*
 * Start due jobs while movers are free (loop thread): jobs of one kind
 * between the same tiers go together, one job per file at a time, at most
 * ENG_PER_TIER works on any tier.
 */
static void eng_dispatch(struct strata_engine *e)
{
	struct strata_job v[ENG_DUE];
	bool taken[ENG_DUE] = { false };
	int64_t now = (int64_t)strata_now().tv_sec * ENG_NS;
	struct eng_work *w;
	size_t n = 0;
	bool stopping;

	pthread_mutex_lock(&e->lock);
	stopping = e->stopping;
	pthread_mutex_unlock(&e->lock);
	if (stopping || e->running >= e->cfg->movers)
		return;
	if (strata_catalog_job_due(e->cat, now, v, ENG_DUE, &n) < 0)
		return;
	for (size_t i = 0; i < n && e->running < e->cfg->movers; i++) {
		if (taken[i] || eng_ino_busy(e, v[i].ino) ||
		    eng_tier_load(e, v[i].src_tier) >= ENG_PER_TIER ||
		    eng_tier_load(e, v[i].dst_tier) >= ENG_PER_TIER)
			continue;
		w = calloc(1, sizeof(*w) +
				      ENG_WORK_FILES * sizeof(struct eng_job));
		if (!w)
			return;
		w->e = e;
		w->kind = v[i].kind;
		w->src_tier = v[i].src_tier;
		w->dst_tier = v[i].dst_tier;
		for (size_t k = i; k < n && w->n < ENG_WORK_FILES; k++)
			if (!taken[k] && eng_work_take(e, w, &v[k]))
				taken[k] = true;
		if (!w->n) {
			free(w);
			continue;
		}
		w->req.data = w;
		w->next = e->works;
		e->works = w;
		e->running++;
		uv_queue_work(&e->loop, &w->req, eng_work_run, eng_work_after);
	}
}

static void eng_jobs_tick(uv_timer_t *t)
{
	eng_dispatch(t->data);
}

/* Passes ----------------------------------------------------------------- */

static void eng_pass_work(uv_work_t *req)
{
	struct strata_engine *e = req->data;
	struct timespec now = strata_now();
	struct strata_plan_stats st;
	int ret;

	pthread_rwlock_rdlock(&e->rules_lock);
	if (!e->policy)
		goto out;
	strata_catalog_heat_prune(e->cat,
				  (now.tv_sec - (time_t)e->heat_keep) / 3600);
	ret = strata_plan_run(e->policy, e->prev, e->vfs, now, eng_enqueue, e,
			      &st);
	if (ret < 0)
		strata_log(STRATA_LOG_ERR, STRATA_SUB_POLICY,
			   "evaluation pass failed: %s", strerror(-ret));
out:
	pthread_rwlock_unlock(&e->rules_lock);
}

static void eng_pass_after(uv_work_t *req, int status)
{
	struct strata_engine *e = req->data;
	bool stopping;

	(void)status;
	e->pass_running = false;
	/* The old rules have had their one pass of re-placement. */
	pthread_rwlock_wrlock(&e->rules_lock);
	strata_policy_free(e->prev);
	e->prev = NULL;
	pthread_rwlock_unlock(&e->rules_lock);
	pthread_mutex_lock(&e->lock);
	stopping = e->stopping;
	pthread_mutex_unlock(&e->lock);
	if (stopping)
		return;
	eng_pass_soon(e, e->pass_again ? 0 :
			 e->policy ? (uint64_t)(e->policy->interval * 1000) :
				     60000);
	e->pass_again = false;
	/* A change seen while the pass ran: new rules get a pass at once
	 * (after the timer above, which it overrides). */
	eng_reload(e);
	eng_dispatch(e);
}

static void eng_pass_tick(uv_timer_t *t)
{
	struct strata_engine *e = t->data;

	if (e->pass_running) {
		e->pass_again = true;
		return;
	}
	e->pass_running = true;
	e->pass_req.data = e;
	uv_queue_work(&e->loop, &e->pass_req, eng_pass_work, eng_pass_after);
}

static void eng_pass_soon(struct strata_engine *e, uint64_t ms)
{
	if (e->pass_running) {
		e->pass_again = e->pass_again || ms == 0;
		return;
	}
	uv_timer_start(&e->pass_timer, eng_pass_tick, ms, 0);
}

/* Events from FUSE threads ---------------------------------------------- */

static void eng_push(struct strata_engine *e, enum eng_event_kind kind,
		     uint64_t ino, const char *from)
{
	char *copy = from ? strdup(from) : NULL;

	pthread_mutex_lock(&e->lock);
	if (e->nevents < ENG_EVENTS_MAX && (!from || copy)) {
		e->events[e->nevents].kind = kind;
		e->events[e->nevents].ino = ino;
		e->events[e->nevents].from = copy;
		e->nevents++;
		copy = NULL;
	} else {
		e->events_lost = true;
	}
	pthread_mutex_unlock(&e->lock);
	free(copy);
	uv_async_send(&e->wake);
}

static void eng_hook_opened(void *arg, uint64_t ino)
{
	struct strata_engine *e = arg;
	bool rules;

	/* Without rules a read changes nothing (the batch skips it): no
	 * reason to wake the loop and a pool thread for every open. */
	pthread_rwlock_rdlock(&e->rules_lock);
	rules = e->policy != NULL;
	pthread_rwlock_unlock(&e->rules_lock);
	if (rules)
		eng_push(e, ENG_EV_READ, ino, NULL);
}

static void eng_hook_changed(void *arg, uint64_t ino, const char *from)
{
	eng_push(arg, ENG_EV_CHANGED, ino, from);
}

static uint32_t eng_hook_place(void *arg, const struct strata_vfs_newfile *nf)
{
	struct strata_engine *e = arg;
	struct strata_policy_facts f = { 0 };
	struct strata_policy_action act;
	struct strata_vfs_tier_info info;
	struct timespec now = strata_now();
	char path[PATH_MAX];
	uint32_t id = 0;

	pthread_rwlock_rdlock(&e->rules_lock);
	/* Without place rules the config decides: no path to build. */
	if (!e->policy || !e->places)
		goto out;
	if (strata_vfs_path(e->vfs, nf->ino, path, sizeof(path)) < 0)
		goto out;
	f.path = path;
	f.uid = (uint32_t)nf->uid;
	f.gid = (uint32_t)nf->gid;
	f.atime = f.mtime = f.ctime = f.btime = now;
	if (strata_policy_place(e->policy, &f, now, &act) < 0 || !act.tier)
		goto out;
	for (unsigned int i = 0; i < strata_vfs_tier_count(e->vfs); i++) {
		if (strata_vfs_tier_ident(e->vfs, i, &info) == 0 &&
		    strcmp(info.name, act.tier) == 0)
			id = info.id;
	}
out:
	pthread_rwlock_unlock(&e->rules_lock);
	return id;
}

/* A directory renamed: every file below it may belong elsewhere now. */
struct eng_walk {
	struct strata_engine *e;
	const char *from;
	const char *to;
	uint64_t *stack;
	size_t n;
	size_t cap;
	struct timespec now;
};

static int eng_walk_entry(void *arg, const struct strata_dirent *de)
{
	struct eng_walk *w = arg;
	uint64_t *ns;

	if (S_ISREG(de->attr->mode)) {
		strata_plan_file(w->e->policy, w->e->vfs, de->attr->ino,
				 w->from, w->to, w->now, eng_enqueue, w->e);
		return 0;
	}
	if (!S_ISDIR(de->attr->mode))
		return 0;
	if (w->n == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 64;
		ns = realloc(w->stack, w->cap * sizeof(*ns));
		if (!ns)
			return 1;
		w->stack = ns;
	}
	w->stack[w->n++] = de->attr->ino;
	return 0;
}

/* A rename (ev->from set) or a tag change of ino (pool thread). */
static void eng_changed(struct strata_engine *e, const struct eng_event *ev,
			struct timespec now)
{
	struct eng_walk w = { .e = e, .from = ev->from, .now = now };
	char to[PATH_MAX];
	struct strata_attr a;

	if (strata_catalog_getattr(e->cat, ev->ino, &a) < 0)
		return;
	if (ev->from && strata_vfs_path(e->vfs, ev->ino, to, sizeof(to)) < 0)
		return;
	w.to = ev->from ? to : NULL;
	if (!S_ISDIR(a.mode) || !ev->from) {
		if (S_ISREG(a.mode))
			strata_plan_file(e->policy, e->vfs, ev->ino, w.from,
					 w.to, now, eng_enqueue, e);
		return;
	}
	eng_walk_entry(&w, &(struct strata_dirent){ .attr = &a });
	while (w.n > 0) {
		uint64_t dir = w.stack[--w.n];

		strata_catalog_readdir(e->cat, dir, 0, eng_walk_entry, &w);
	}
	free(w.stack);
}

/* Reads and renames, on a pool thread: a tree walk may be long. */
static void eng_batch_work(uv_work_t *req)
{
	struct strata_engine *e = req->data;
	struct timespec now = strata_now();

	pthread_rwlock_rdlock(&e->rules_lock);
	for (unsigned int i = 0; i < e->nbatch && e->policy; i++) {
		const struct eng_event *ev = &e->batch[i];

		if (ev->kind == ENG_EV_READ) {
			strata_catalog_heat_add(e->cat, ev->ino,
						now.tv_sec / 3600, 1);
			strata_plan_read(e->policy, e->vfs, ev->ino, now,
					 eng_enqueue, e);
		} else {
			eng_changed(e, ev, now);
		}
	}
	pthread_rwlock_unlock(&e->rules_lock);
}

static void eng_events(struct strata_engine *e);

static void eng_batch_after(uv_work_t *req, int status)
{
	struct strata_engine *e = req->data;

	(void)status;
	for (unsigned int i = 0; i < e->nbatch; i++)
		free(e->batch[i].from);
	e->nbatch = 0;
	e->batch_running = false;
	eng_dispatch(e);
	eng_events(e); /* what came while this batch ran */
}

/* Hand the queued events to the pool (loop thread), one batch at a time;
 * a rules swap waits for it like for a pass. */
static void eng_events(struct strata_engine *e)
{
	bool lost;

	if (e->batch_running)
		return;
	pthread_mutex_lock(&e->lock);
	e->nbatch = e->nevents;
	memcpy(e->batch, e->events, e->nevents * sizeof(*e->batch));
	e->nevents = 0;
	lost = e->events_lost;
	e->events_lost = false;
	if (e->stopping) {
		for (unsigned int i = 0; i < e->nbatch; i++)
			free(e->batch[i].from);
		e->nbatch = 0;
	}
	pthread_mutex_unlock(&e->lock);
	if (lost)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_POLICY,
			   "more than %d reads and renames queued: some were "
			   "not looked at",
			   ENG_EVENTS_MAX);
	if (!e->nbatch)
		return;
	e->batch_running = true;
	e->batch_req.data = e;
	uv_queue_work(&e->loop, &e->batch_req, eng_batch_work, eng_batch_after);
}

static void eng_close_cb(uv_handle_t *h)
{
	struct strata_engine *e = h->data;

	e->nhandles--;
}

static void eng_wake(uv_async_t *a)
{
	struct strata_engine *e = a->data;
	bool stopping;

	pthread_mutex_lock(&e->lock);
	stopping = e->stopping;
	pthread_mutex_unlock(&e->lock);
	if (!stopping) {
		eng_events(e);
		return;
	}
	/* Close every handle; the loop ends when queued work is done. */
	uv_close((uv_handle_t *)&e->wake, eng_close_cb);
	uv_close((uv_handle_t *)&e->pass_timer, eng_close_cb);
	uv_close((uv_handle_t *)&e->jobs_timer, eng_close_cb);
	uv_close((uv_handle_t *)&e->rules_timer, eng_close_cb);
	strata__ctl_close(e->ctl);
}

static void eng_run(void *arg)
{
	struct strata_engine *e = arg;

	uv_run(&e->loop, UV_RUN_DEFAULT);
}

static int eng_handles(struct strata_engine *e)
{
	uv_timer_t *timers[] = { &e->pass_timer, &e->jobs_timer,
				 &e->rules_timer };
	int ret;

	ret = uv_async_init(&e->loop, &e->wake, eng_wake);
	if (ret < 0)
		return ret;
	e->wake.data = e;
	e->nhandles++;
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(timers); i++) {
		ret = uv_timer_init(&e->loop, timers[i]);
		if (ret < 0)
			return ret;
		timers[i]->data = e;
		e->nhandles++;
	}
	uv_timer_start(&e->jobs_timer, eng_jobs_tick, ENG_JOBS_MS, ENG_JOBS_MS);
	if (e->cfg->rules[0])
		uv_timer_start(&e->rules_timer, eng_rules_tick, ENG_RULES_MS,
			       ENG_RULES_MS);
	uv_timer_start(&e->pass_timer, eng_pass_tick, 0, 0);
	return 0;
}

/*
 * The loop's thread, and the pool threads it starts, never take the
 * signals that stop the mount: those belong to the FUSE session's loop.
 */
static int eng_thread_start(struct strata_engine *e)
{
	sigset_t block, old;
	int ret;

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	ret = uv_thread_create(&e->thread, eng_run, e);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

static void eng_close_any(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* The control channel's view of the engine (policy_int.h). */
struct strata_vfs *strata__engine_vfs(struct strata_engine *e)
{
	return e->vfs;
}

const struct strata_cfg *strata__engine_cfg(struct strata_engine *e)
{
	return e->cfg;
}

void strata__engine_kick(struct strata_engine *e, bool pass)
{
	bool stopping;

	pthread_mutex_lock(&e->lock);
	stopping = e->stopping;
	pthread_mutex_unlock(&e->lock);
	if (stopping)
		return;
	eng_dispatch(e);
	if (pass)
		eng_pass_soon(e, 0);
}

int strata_engine_start(const struct strata_cfg *cfg, struct strata_vfs *vfs,
			struct strata_engine **out, char *err, size_t errlen)
{
	struct strata_vfs_hooks hooks = { 0 };
	struct strata_engine *e;
	struct stat st;
	char env[32];
	int64_t requeued = 0;
	int ret;

	*out = NULL;
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->cfg = cfg;
	e->vfs = vfs;
	e->cat = strata_vfs_catalog(vfs);
	pthread_rwlock_init(&e->rules_lock, NULL);
	pthread_mutex_init(&e->lock, NULL);
	/* A bad rules file at mount time refuses the mount, naming the
	 * line; later, a bad edit keeps the rules in force. */
	if (cfg->rules[0] && stat(cfg->rules, &st) == 0) {
		ret = strata_engine_load_rules(cfg->rules, cfg, &e->policy, err,
					       errlen);
		if (ret < 0)
			goto fail;
		e->rules_seen = true;
		e->rules_mtime = st.st_mtim;
		e->rules_size = st.st_size;
	} else if (cfg->rules[0]) {
		strata_log(STRATA_LOG_NOTICE, STRATA_SUB_POLICY,
			   "rules '%s' do not exist yet; waiting for them",
			   cfg->rules);
	}
	ret = strata_catalog_job_requeue(e->cat, &requeued);
	if (ret == -ENOSPC) {
		/* A full disk under the catalog: the mount still serves,
		 * and the next start resumes them. */
		strata_log(STRATA_LOG_WARN, STRATA_SUB_POLICY,
			   "cannot resume the jobs cut short: %s; the next "
			   "start will",
			   strerror(-ret));
	} else if (ret < 0) {
		snprintf(err, errlen, "cannot resume jobs: %s", strerror(-ret));
		goto fail;
	}
	if (requeued)
		strata_log(STRATA_LOG_NOTICE, STRATA_SUB_POLICY,
			   "resuming %" PRId64 " jobs cut short", requeued);
	/* The pool runs passes and movers; libuv sizes it at first use. */
	snprintf(env, sizeof(env), "%u", cfg->movers + 2);
	setenv("UV_THREADPOOL_SIZE", env, 0);
	eng_policy_facts(e);
	ret = uv_loop_init(&e->loop);
	if (ret == 0)
		ret = eng_handles(e);
	if (ret < 0) {
		snprintf(err, errlen, "cannot start the policy engine: %s",
			 uv_strerror(ret));
		goto fail;
	}
	ret = strata__ctl_open(e, &e->loop, &e->ctl, err, errlen);
	if (ret < 0)
		goto fail;
	ret = eng_thread_start(e);
	if (ret < 0) {
		snprintf(err, errlen, "cannot start the policy engine: %s",
			 uv_strerror(ret));
		goto fail;
	}
	e->thread_on = true;
	hooks.place = eng_hook_place;
	hooks.opened = eng_hook_opened;
	hooks.changed = eng_hook_changed;
	hooks.arg = e;
	strata_vfs_set_hooks(vfs, &hooks);
	*out = e;
	return 0;
fail:
	strata_engine_stop(e);
	return ret < 0 ? ret : -EIO;
}

void strata_engine_stop(struct strata_engine *e)
{
	if (!e)
		return;
	strata_vfs_set_hooks(e->vfs, NULL);
	if (e->thread_on) {
		pthread_mutex_lock(&e->lock);
		e->stopping = true;
		pthread_mutex_unlock(&e->lock);
		/* Copies under way stop at their next chunk; their jobs stay
		 * pending for the next mount. */
		strata_vfs_cancel_moves(e->vfs);
		uv_async_send(&e->wake);
		uv_thread_join(&e->thread);
		/* Work still queued ran; its callbacks ran too. */
		uv_loop_close(&e->loop);
	} else if (e->nhandles) {
		uv_walk(&e->loop, eng_close_any, NULL);
		uv_run(&e->loop, UV_RUN_DEFAULT);
		uv_loop_close(&e->loop);
	}
	for (unsigned int i = 0; i < e->nevents; i++)
		free(e->events[i].from);
	strata__ctl_free(e->ctl);
	strata_policy_free(e->policy);
	strata_policy_free(e->prev);
	pthread_rwlock_destroy(&e->rules_lock);
	pthread_mutex_destroy(&e->lock);
	free(e);
}
