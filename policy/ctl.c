/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * policy/ctl.c - the control channel of a mount: a Unix socket at
 * CATALOG.sock that the strata CLI talks to in newline-delimited JSON.
 *
 * Each request is one JSON object on one line with an "op" member; each
 * reply is one line: {"ok":true,...} or {"ok":false,"error":"message",
 * "errno":"ENOSPC"}. The protocol is in man/strata.1 (CONTROL CHANNEL).
 * Anyone who can reach the socket (mode 0666) may ask read-only questions
 * (status, where, pins, jobs, progress), and sees through it no more than
 * the mount's permissions show them (search permission along a path, read
 * and search to list a directory, by their uid and groups); requests that
 * change something are served only to the mount's owner and root, by the
 * peer's credentials (SO_PEERCRED), never by anything the request says.
 *
 * Jobs that requests ask for (migrate, prefetch, free, pin) are catalog
 * rows in the engine's queue, like the rules' jobs, so they survive a
 * restart and the mover's checks apply; the engine is kicked at once. A
 * client that waits keeps its connection and asks for "progress"; what it
 * waits for (a batch) lives with the connection.
 *
 * Threads: everything here runs on the engine's loop thread, except an
 * import, which runs on the loop's thread pool and shares only its
 * counters (imp->lock) with the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <uv.h>

#include "cfg.h"
#include "json.h"
#include "log.h"
#include "policy.h"
#include "policy_int.h"
#include "util.h"
#include "vfs.h"

#define CTL_LINE_MAX (16u << 20)  /* longest request */
#define CTL_QUEUE_MAX (64u << 20) /* replies a client leaves unread */
#define CTL_ERR_MAX 1024
#define CTL_REPLICAS 32

enum ctl_goal {
	CTL_GOAL_ON,	  /* a valid replica on the tier (migrate, prefetch) */
	CTL_GOAL_OFF,	  /* no replica on the tier (free) */
	CTL_GOAL_SETTLED, /* no job left and nothing dirty (sync) */
};

enum ctl_fstate {
	CTL_WAITING,
	CTL_DONE,
	CTL_FAILED,
};

struct ctl_file {
	uint64_t ino;
	uint64_t size;
	char *path;
};

struct ctl_files {
	struct ctl_file *v;
	size_t n;
	size_t cap;
};

struct ctl_batch {
	enum ctl_goal goal;
	uint32_t tier;
	struct ctl_files files;
	unsigned char *state; /* enum ctl_fstate per file */
	char **why;	      /* per failed file */
	uint64_t files_done;
	uint64_t bytes_done;
	uint64_t nfailed;
	uint64_t retrying;    /* files whose job failed and will try again */
	bool synced;	      /* SETTLED: the final sync is done */
	const char *drops_of; /* migrate: wait for its drops too */
};

struct ctl_client;

struct ctl_import {
	uv_work_t req;
	struct strata_ctl *ctl;
	struct ctl_client *c; /* NULL once the client has gone */
	uint32_t tier;
	uint64_t into;
	char prefix[PATH_MAX];
	pthread_mutex_t lock; /* st, stop, done, ret, err */
	struct strata_vfs_import_stats st;
	bool stop;
	bool done;
	int ret;
	char err[CTL_ERR_MAX];
};

struct ctl_client {
	struct strata_ctl *ctl;
	uv_pipe_t pipe;
	struct ctl_client *next;
	struct ctl_client *prev;
	uid_t uid;
	gid_t gids[65]; /* primary, then supplementary */
	int ngids;
	bool may_change; /* the mount's owner or root: sees everything */
	bool closing;
	char *in;
	size_t len;
	size_t cap;
	struct ctl_batch *batch;
	struct ctl_import *imp;
};

struct strata_ctl {
	struct strata_engine *e;
	struct strata_vfs *vfs;
	struct strata_catalog *cat;
	uv_pipe_t server;
	bool server_on;
	char path[PATH_MAX];
	uid_t owner;
	struct ctl_client *clients;
	unsigned int imports; /* running on the pool */
	bool stopping;	      /* atomic: imports read it on the pool */
};

struct ctl_req {
	struct strata_ctl *ctl;
	struct ctl_client *c;
	const struct strata_json *j;
	struct strata_jw *w; /* the reply, "ok":true written */
	char err[CTL_ERR_MAX];
};

/* Paths and files ----------------------------------------------------- */

int strata_ctl_socket_path(const char *catalog, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s.sock", catalog);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static __attribute__((format(printf, 3, 4))) int
ctl_fail(struct ctl_req *r, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * May client c do mask (4 read, 1 search) to an inode with attributes a?
 * Other users see the namespace as the kernel would let them: the socket
 * must not show what the mount's permissions hide. The owner and root
 * see all.
 */
static bool ctl_may(const struct ctl_client *c, const struct strata_attr *a,
		    unsigned int mask)
{
	unsigned int bits = a->mode & 07;
	bool in_group = false;

	if (!c || c->may_change)
		return true;
	for (int i = 0; i < c->ngids; i++)
		if (c->gids[i] == a->gid)
			in_group = true;
	if (a->uid == c->uid)
		bits = (a->mode >> 6) & 07;
	else if (in_group)
		bits = (a->mode >> 3) & 07;
	return (bits & mask) == mask;
}

/* Resolve a namespace path, searching each directory as c may. */
static int ctl_lookup(struct strata_ctl *ctl, const struct ctl_client *c,
		      const char *path, struct strata_attr *out)
{
	char buf[PATH_MAX];
	char *save = NULL, *part;
	int ret;

	if (path[0] != '/')
		return -EINVAL;
	ret = strata_strlcpy(buf, path, sizeof(buf));
	if (ret < 0)
		return ret;
	ret = strata_catalog_getattr(ctl->cat, STRATA_ROOT_INO, out);
	for (part = strtok_r(buf, "/", &save); part && ret == 0;
	     part = strtok_r(NULL, "/", &save)) {
		if (!S_ISDIR(out->mode))
			return -ENOTDIR;
		if (!ctl_may(c, out, 1))
			return -EACCES;
		ret = strata_catalog_lookup(ctl->cat, out->ino, part, out);
	}
	return ret;
}

/* Can c reach ino by its path? (For lists of jobs and pins.) */
static bool ctl_visible(struct strata_ctl *ctl, const struct ctl_client *c,
			const char *path)
{
	struct strata_attr a;

	return !c || c->may_change || ctl_lookup(ctl, c, path, &a) == 0;
}

static void ctl_files_release(struct ctl_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].path);
	free(f->v);
	memset(f, 0, sizeof(*f));
}

static int ctl_files_add(struct ctl_files *f, uint64_t ino, uint64_t size,
			 const char *path)
{
	struct ctl_file *nv;

	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		nv = realloc(f->v, f->cap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		f->v = nv;
	}
	f->v[f->n].path = strdup(path);
	if (!f->v[f->n].path)
		return -ENOMEM;
	f->v[f->n].ino = ino;
	f->v[f->n].size = size;
	f->n++;
	return 0;
}

struct ctl_walk {
	struct ctl_files *files;
	struct ctl_files dirs; /* a stack of directories still to read */
	const char *dir;
	bool deep; /* into subdirectories too */
	int ret;
};

static int ctl_walk_entry(void *arg, const struct strata_dirent *de)
{
	struct ctl_walk *w = arg;
	char path[PATH_MAX];
	int n;

	n = snprintf(path, sizeof(path), "%s/%s",
		     strcmp(w->dir, "/") == 0 ? "" : w->dir, de->name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		w->ret = -ENAMETOOLONG;
		return 1;
	}
	if (S_ISREG(de->attr->mode))
		w->ret = ctl_files_add(w->files, de->attr->ino, de->attr->size,
				       path);
	else if (S_ISDIR(de->attr->mode) && w->deep)
		w->ret = ctl_files_add(&w->dirs, de->attr->ino, 0, path);
	return w->ret < 0;
}

/* The regular files in directory ino (path), with deep every one below
 * it, depth first; a directory c may not list and search is -EACCES,
 * named in *denied. */
static int ctl_walk(struct strata_ctl *ctl, const struct ctl_client *c,
		    uint64_t ino, const char *path, bool deep,
		    struct ctl_files *out, char *denied, size_t dlen)
{
	struct ctl_walk w = { .files = out, .deep = deep };
	struct strata_attr a;
	struct ctl_file d;
	int ret;

	ret = ctl_files_add(&w.dirs, ino, 0, path);
	while (ret == 0 && w.dirs.n > 0) {
		d = w.dirs.v[--w.dirs.n];
		w.dir = d.path;
		ret = strata_catalog_getattr(ctl->cat, d.ino, &a);
		if (ret == 0 && !ctl_may(c, &a, 5)) {
			strata_strlcpy(denied, d.path, dlen);
			ret = -EACCES;
		}
		if (ret == 0)
			ret = strata_catalog_readdir(ctl->cat, d.ino, 0,
						     ctl_walk_entry, &w);
		if (ret == 0)
			ret = w.ret;
		free(d.path);
	}
	ctl_files_release(&w.dirs);
	return ret;
}

/* The files a request names in "paths", with "recursive". */
static int ctl_collect(struct ctl_req *r, struct ctl_files *out)
{
	const struct strata_json *paths = strata_json_get(r->j, "paths");
	bool recursive = strata_json_get_bool(r->j, "recursive", false);
	char denied[PATH_MAX] = "";
	struct strata_attr a;
	const char *p;
	int ret;

	if (!paths || paths->type != STRATA_JSON_ARRAY || paths->len == 0)
		return ctl_fail(r, -EINVAL, "no paths given");
	for (size_t i = 0; i < paths->len; i++) {
		p = strata_json_str(paths->items[i]);
		if (!p)
			return ctl_fail(r, -EINVAL, "paths must be strings");
		if (p[0] != '/')
			return ctl_fail(r, -EINVAL,
					"'%s' is no namespace path (they start "
					"with '/')",
					p);
		ret = ctl_lookup(r->ctl, r->c, p, &a);
		if (ret == -ENOENT || ret == -ENOTDIR)
			return ctl_fail(r, -ENOENT,
					"'%s': no such file in the namespace",
					p);
		if (ret == -EACCES)
			return ctl_fail(r, ret, "'%s': permission denied", p);
		if (ret < 0)
			return ctl_fail(r, ret, "cannot look up '%s': %s", p,
					strerror(-ret));
		if (S_ISREG(a.mode))
			ret = ctl_files_add(out, a.ino, a.size, p);
		else if (S_ISDIR(a.mode))
			ret = ctl_walk(r->ctl, r->c, a.ino, p, recursive, out,
				       denied, sizeof(denied));
		else
			return ctl_fail(r, -EINVAL,
					"'%s' is not a regular file", p);
		if (ret == -EACCES)
			return ctl_fail(r, ret, "'%s': permission denied",
					denied);
		if (ret < 0)
			return ctl_fail(r, ret, "cannot list '%s': %s", p,
					strerror(-ret));
	}
	return 0;
}

/* Tiers and replicas -------------------------------------------------- */

static int ctl_tier(struct ctl_req *r, const char *name,
		    struct strata_vfs_tier_info *out)
{
	unsigned int n = strata_vfs_tier_count(r->ctl->vfs);

	if (!name)
		return ctl_fail(r, -EINVAL, "no tier given");
	for (unsigned int i = 0; i < n; i++)
		if (strata_vfs_tier_info(r->ctl->vfs, i, out) == 0 &&
		    strcmp(out->name, name) == 0)
			return 0;
	return ctl_fail(r, -ENOENT, "unknown tier '%s'", name);
}

static const char *ctl_tier_name(struct strata_ctl *ctl, uint32_t id)
{
	struct strata_vfs_tier_info info;
	unsigned int n = strata_vfs_tier_count(ctl->vfs);

	for (unsigned int i = 0; i < n; i++)
		if (strata_vfs_tier_info(ctl->vfs, i, &info) == 0 &&
		    info.id == id)
			return info.name;
	return "?";
}

struct ctl_reps {
	struct strata_replica v[CTL_REPLICAS];
	unsigned int n;
};

static int ctl_rep_add(void *arg, const struct strata_replica *r)
{
	struct ctl_reps *reps = arg;

	if (reps->n < CTL_REPLICAS)
		reps->v[reps->n++] = *r;
	return 0;
}

/* The file's attributes and replica rows. */
static int ctl_file_reps(struct strata_ctl *ctl, uint64_t ino,
			 struct strata_attr *a, struct ctl_reps *reps)
{
	int ret = strata_catalog_getattr(ctl->cat, ino, a);

	reps->n = 0;
	if (ret == 0)
		ret = strata_catalog_replica_list(ctl->cat, ino, ctl_rep_add,
						  reps);
	return ret;
}

static bool ctl_valid(const struct strata_attr *a,
		      const struct strata_replica *r)
{
	return r->state == STRATA_REPLICA_VALID && r->version == a->version;
}

/* Does tier hold a valid copy? The first other valid tier in *other. */
static bool ctl_on(const struct strata_attr *a, const struct ctl_reps *reps,
		   uint32_t tier, uint32_t *other)
{
	bool on = false;

	if (other)
		*other = 0;
	for (unsigned int i = 0; i < reps->n; i++) {
		if (!ctl_valid(a, &reps->v[i]))
			continue;
		if (reps->v[i].tier_id == tier)
			on = true;
		else if (other && !*other)
			*other = reps->v[i].tier_id;
	}
	return on;
}

static int ctl_job(struct strata_ctl *ctl, enum strata_job_kind kind,
		   uint64_t ino, uint32_t src, uint32_t dst, const char *rule,
		   uint64_t *njobs)
{
	struct strata_job j = { 0 };
	int64_t id;
	int ret;

	j.kind = kind;
	j.ino = ino;
	j.src_tier = src;
	j.dst_tier = dst;
	strata_strlcpy(j.rule, rule, sizeof(j.rule));
	ret = strata_catalog_job_add(ctl->cat, &j, &id);
	if (ret == -EEXIST || ret == 0)
		(*njobs)++;
	return ret == -EEXIST || ret == -ENOENT ? 0 : ret;
}

/* Bytes of the files that lack a valid copy on tier. */
static int ctl_need(struct ctl_req *r, const struct ctl_files *f, uint32_t tier,
		    uint64_t *need)
{
	struct ctl_reps reps;
	struct strata_attr a;
	int ret;

	*need = 0;
	for (size_t i = 0; i < f->n; i++) {
		ret = ctl_file_reps(r->ctl, f->v[i].ino, &a, &reps);
		if (ret == -ENOENT)
			continue;
		if (ret < 0)
			return ctl_fail(r, ret, "cannot read '%s': %s",
					f->v[i].path, strerror(-ret));
		if (!ctl_on(&a, &reps, tier, NULL))
			*need += a.size;
	}
	return 0;
}

/* Refuse up front what the tier has no room for. */
static int ctl_admit(struct ctl_req *r, const char *what,
		     const struct ctl_files *f,
		     const struct strata_vfs_tier_info *t)
{
	char need_s[32], free_s[32], miss_s[32];
	uint64_t need;
	int ret;

	ret = ctl_need(r, f, t->id, &need);
	if (ret < 0 || need <= t->free)
		return ret;
	strata__policy_fmt_size((double)need, false, need_s, sizeof(need_s));
	strata__policy_fmt_size((double)t->free, false, free_s, sizeof(free_s));
	strata__policy_fmt_size((double)(need - t->free), false, miss_s,
				sizeof(miss_s));
	return ctl_fail(r, -ENOSPC,
			"%s needs %s on tier '%s', which has %s free: %s "
			"missing",
			what, need_s, t->name, free_s, miss_s);
}

/* Batches: what a client waits for ------------------------------------- */

static void ctl_batch_free(struct ctl_batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; b->why && i < b->files.n; i++)
		free(b->why[i]);
	free(b->why);
	free(b->state);
	ctl_files_release(&b->files);
	free(b);
}

/* Hand the request's files to a new batch of the client. */
static int ctl_batch_new(struct ctl_req *r, enum ctl_goal goal, uint32_t tier,
			 struct ctl_files *files)
{
	struct ctl_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->state = calloc(files->n ? files->n : 1, 1);
	b->why = calloc(files->n ? files->n : 1, sizeof(*b->why));
	if (!b->state || !b->why) {
		ctl_batch_free(b);
		return -ENOMEM;
	}
	b->goal = goal;
	b->tier = tier;
	b->files = *files;
	memset(files, 0, sizeof(*files));
	ctl_batch_free(r->c->batch);
	r->c->batch = b;
	return 0;
}

/* The jobs in the queue, sorted by inode, for progress. */
struct ctl_jobs {
	struct strata_job *v;
	size_t n;
	size_t cap;
};

static int ctl_jobs_load(struct strata_ctl *ctl, struct ctl_jobs *q)
{
	struct strata_job *nv;
	int64_t after = 0;
	size_t n;
	int ret;

	q->n = 0;
	for (;;) {
		if (q->cap - q->n < 256) {
			q->cap = q->cap ? q->cap * 2 : 1024;
			nv = realloc(q->v, q->cap * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			q->v = nv;
		}
		ret = strata_catalog_job_list(ctl->cat, -1, after, q->v + q->n,
					      256, &n);
		if (ret < 0)
			return ret;
		q->n += n;
		if (n < 256)
			return 0;
		after = q->v[q->n - 1].id;
	}
}

static int ctl_job_cmp(const void *a, const void *b)
{
	const struct strata_job *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The first job of ino that concerns tier (any tier when 0), or is a
 * drop that rule asked for (migrate's drops of the other copies). */
static const struct strata_job *ctl_job_of(const struct ctl_jobs *q,
					   uint64_t ino, uint32_t tier,
					   const char *rule)
{
	size_t lo = 0, hi = q->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (q->v[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < q->n && q->v[lo].ino == ino; lo++)
		if (!tier || q->v[lo].dst_tier == tier ||
		    q->v[lo].src_tier == tier ||
		    (rule && q->v[lo].kind == STRATA_JOB_DROP &&
		     strcmp(q->v[lo].rule, rule) == 0))
			return &q->v[lo];
	return NULL;
}

/* The file's state as user.strata.state says it: "dirty" (writes the
 * catalog lacks), "uploading" (staged, not yet home), "empty", "clean". */
static void ctl_state(struct strata_ctl *ctl, uint64_t ino, char *state,
		      size_t size)
{
	size_t len = 0;

	if (strata_vfs_getxattr(ctl->vfs, ino, "user.strata.state", state,
				size - 1, &len) < 0)
		len = 0;
	state[len] = '\0';
}

static bool ctl_dirty(struct strata_ctl *ctl, uint64_t ino)
{
	char state[32];

	ctl_state(ctl, ino, state, sizeof(state));
	return strcmp(state, "dirty") == 0;
}

static void ctl_batch_mark(struct ctl_batch *b, size_t i, enum ctl_fstate st,
			   const char *why)
{
	b->state[i] = (unsigned char)st;
	if (st == CTL_DONE) {
		b->files_done++;
		b->bytes_done += b->files.v[i].size;
		return;
	}
	b->nfailed++;
	b->why[i] = strdup(why);
}

/* Look at every file still waiting; *partial gets bytes copied so far. */
static int ctl_batch_poll(struct strata_ctl *ctl, struct ctl_batch *b,
			  uint64_t *partial)
{
	struct ctl_jobs q = { 0 };
	const struct strata_job *j;
	struct ctl_reps reps;
	struct strata_attr a;
	char why[STRATA_JOB_ERR_MAX + 64];
	bool met;
	int ret;

	*partial = 0;
	b->retrying = 0;
	ret = ctl_jobs_load(ctl, &q);
	if (ret < 0)
		goto out;
	qsort(q.v, q.n, sizeof(*q.v), ctl_job_cmp);
	for (size_t i = 0; i < b->files.n; i++) {
		if (b->state[i] != CTL_WAITING)
			continue;
		j = ctl_job_of(&q, b->files.v[i].ino,
			       b->goal == CTL_GOAL_SETTLED ? 0 : b->tier,
			       b->drops_of);
		if (j && j->state == STRATA_JOB_FAILED) {
			snprintf(why, sizeof(why), "job %" PRId64 " failed: %s",
				 j->id, j->last_error);
			ctl_batch_mark(b, i, CTL_FAILED, why);
			continue;
		}
		if (j) {
			*partial += j->bytes_done;
			if (j->last_error[0])
				b->retrying++;
			continue;
		}
		ret = ctl_file_reps(ctl, b->files.v[i].ino, &a, &reps);
		if (ret == -ENOENT) {
			ctl_batch_mark(b, i, CTL_FAILED,
				       "the file was removed");
			continue;
		}
		if (ret < 0)
			goto out;
		if (b->goal == CTL_GOAL_ON)
			met = ctl_on(&a, &reps, b->tier, NULL) || a.size == 0;
		else if (b->goal == CTL_GOAL_OFF)
			met = true;
		else
			met = !ctl_dirty(ctl, a.ino);
		for (unsigned int k = 0; b->goal == CTL_GOAL_OFF && k < reps.n;
		     k++)
			if (reps.v[k].tier_id == b->tier)
				met = false;
		if (met)
			ctl_batch_mark(b, i, CTL_DONE, NULL);
		else if (b->goal != CTL_GOAL_SETTLED)
			ctl_batch_mark(b, i, CTL_FAILED,
				       b->goal == CTL_GOAL_ON ?
					       "its job ended without a valid "
					       "copy on the tier (cancelled?)" :
					       "its job ended with a copy left "
					       "on the tier (cancelled?)");
	}
	ret = 0;
out:
	free(q.v);
	return ret;
}

/* Requests ------------------------------------------------------------- */

static void ctl_reply_batch(struct ctl_req *r, uint64_t jobs)
{
	struct ctl_batch *b = r->c->batch;
	uint64_t bytes = 0;

	for (size_t i = 0; i < b->files.n; i++)
		bytes += b->files.v[i].size;
	strata_jw_kuint(r->w, "files", b->files.n);
	strata_jw_kuint(r->w, "bytes", bytes);
	strata_jw_kuint(r->w, "jobs", jobs);
}

/* migrate, prefetch, free: jobs for every file, then a batch to wait on. */
static int ctl_move(struct ctl_req *r, enum ctl_goal goal)
{
	const char *op = strata_json_get_str(r->j, "op", "");
	struct strata_vfs_tier_info t;
	struct ctl_files f = { 0 };
	struct ctl_reps reps;
	struct strata_attr a;
	uint64_t njobs = 0;
	uint32_t other;
	bool on;
	int ret;

	ret = ctl_tier(r, strata_json_get_str(r->j, "tier", NULL), &t);
	if (ret == 0)
		ret = ctl_collect(r, &f);
	if (ret == 0 && goal == CTL_GOAL_ON)
		ret = ctl_admit(r, op, &f, &t);
	/* free: refuse the whole request when a file would lose its last
	 * valid copy, before any job exists. */
	for (size_t i = 0; ret == 0 && goal == CTL_GOAL_OFF && i < f.n; i++) {
		ret = ctl_file_reps(r->ctl, f.v[i].ino, &a, &reps);
		if (ret == 0 && ctl_on(&a, &reps, t.id, &other) && !other)
			ret = ctl_fail(r, -EMLINK,
				       "'%s': tier '%s' holds its last valid "
				       "copy",
				       f.v[i].path, t.name);
		else if (ret < 0)
			ret = ctl_fail(r, ret, "cannot read '%s': %s",
				       f.v[i].path, strerror(-ret));
	}
	for (size_t i = 0; ret == 0 && i < f.n; i++) {
		ret = ctl_file_reps(r->ctl, f.v[i].ino, &a, &reps);
		if (ret == -ENOENT) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		on = ctl_on(&a, &reps, t.id, &other);
		if (goal == CTL_GOAL_OFF) {
			for (unsigned int k = 0; k < reps.n && ret == 0; k++)
				if (reps.v[k].tier_id == t.id)
					ret = ctl_job(r->ctl, STRATA_JOB_DROP,
						      a.ino, t.id, 0, op,
						      &njobs);
			continue;
		}
		if (!on && other)
			ret = ctl_job(r->ctl,
				      strcmp(op, "migrate") == 0 ?
					      STRATA_JOB_MOVE :
					      STRATA_JOB_COPY,
				      a.ino, other, t.id, op, &njobs);
		if (strcmp(op, "migrate") != 0)
			continue;
		/* Every other valid copy goes too; the mover never drops
		 * the last one, whatever order the jobs run in. */
		for (unsigned int k = 0; k < reps.n && ret == 0; k++) {
			uint32_t id = reps.v[k].tier_id;

			if (id != t.id && (on || id != other) &&
			    ctl_valid(&a, &reps.v[k]))
				ret = ctl_job(r->ctl, STRATA_JOB_DROP, a.ino,
					      id, 0, op, &njobs);
		}
	}
	if (ret < 0 && !r->err[0])
		ret = ctl_fail(r, ret, "cannot queue jobs: %s", strerror(-ret));
	if (ret == 0)
		ret = ctl_batch_new(r, goal, t.id, &f);
	if (ret == 0) {
		if (strcmp(op, "migrate") == 0)
			r->c->batch->drops_of = "migrate";
		strata__engine_kick(r->ctl->e, false);
		ctl_reply_batch(r, njobs);
	}
	ctl_files_release(&f);
	return ret;
}

static int ctl_op_migrate(struct ctl_req *r)
{
	return ctl_move(r, CTL_GOAL_ON);
}

static int ctl_op_prefetch(struct ctl_req *r)
{
	return ctl_move(r, CTL_GOAL_ON);
}

static int ctl_op_free(struct ctl_req *r)
{
	return ctl_move(r, CTL_GOAL_OFF);
}

static int ctl_op_sync(struct ctl_req *r)
{
	struct ctl_files f = { 0 };
	int ret;

	ret = ctl_collect(r, &f);
	if (ret == 0) {
		/* On the loop thread: a sync stalls the engine as long as
		 * the stores take, which is what the caller asked for. */
		ret = strata_vfs_sync(r->ctl->vfs);
		if (ret < 0)
			ret = ctl_fail(r, ret, "cannot sync: %s",
				       strerror(-ret));
	}
	if (ret == 0)
		ret = ctl_batch_new(r, CTL_GOAL_SETTLED, 0, &f);
	if (ret == 0) {
		/* A pass now, so rules place what was just written. */
		strata__engine_kick(r->ctl->e, true);
		ctl_reply_batch(r, 0);
	}
	ctl_files_release(&f);
	return ret;
}

static int ctl_op_progress(struct ctl_req *r)
{
	struct ctl_batch *b = r->c->batch;
	struct ctl_import *imp = r->c->imp;
	uint64_t partial, bytes = 0;
	int ret;

	if (imp) {
		pthread_mutex_lock(&imp->lock);
		strata_jw_kuint(r->w, "files", imp->st.files);
		strata_jw_kuint(r->w, "bytes", imp->st.bytes);
		strata_jw_kuint(r->w, "dirs", imp->st.dirs);
		strata_jw_kuint(r->w, "skipped", imp->st.skipped);
		strata_jw_kuint(r->w, "conflicts", imp->st.conflicts);
		strata_jw_kbool(r->w, "done", imp->done);
		ret = imp->done ? imp->ret : 0;
		if (ret < 0)
			ctl_fail(r, ret, "%s", imp->err);
		pthread_mutex_unlock(&imp->lock);
		return ret;
	}
	if (!b)
		return ctl_fail(r, -ENOENT, "nothing to wait for");
	ret = ctl_batch_poll(r->ctl, b, &partial);
	if (ret < 0)
		return ctl_fail(r, ret, "cannot read the jobs: %s",
				strerror(-ret));
	for (size_t i = 0; i < b->files.n; i++)
		bytes += b->files.v[i].size;
	/* sync --wait: what settled since the request (files closed, moves
	 * made) is made durable once more before the wait ends. */
	if (b->goal == CTL_GOAL_SETTLED && !b->synced &&
	    b->files_done + b->nfailed == b->files.n) {
		ret = strata_vfs_sync(r->ctl->vfs);
		if (ret < 0)
			return ctl_fail(r, ret, "cannot sync: %s",
					strerror(-ret));
		b->synced = true;
	}
	strata_jw_kuint(r->w, "files", b->files.n);
	strata_jw_kuint(r->w, "bytes", bytes);
	strata_jw_kuint(r->w, "files_done", b->files_done);
	strata_jw_kuint(r->w, "bytes_done", b->bytes_done + partial);
	strata_jw_kuint(r->w, "failed", b->nfailed);
	strata_jw_kuint(r->w, "retrying", b->retrying);
	strata_jw_kbool(r->w, "done", b->files_done + b->nfailed == b->files.n);
	strata_jw_key(r->w, "failures");
	strata_jw_arr(r->w);
	for (size_t i = 0; i < b->files.n; i++) {
		if (b->state[i] != CTL_FAILED)
			continue;
		strata_jw_obj(r->w);
		strata_jw_kstr(r->w, "path", b->files.v[i].path);
		strata_jw_kstr(r->w, "error", b->why[i] ? b->why[i] : "?");
		strata_jw_obj_end(r->w);
	}
	strata_jw_arr_end(r->w);
	return 0;
}

static const char *ctl_rep_state(const struct strata_attr *a,
				 const struct strata_replica *rep)
{
	if (rep->state == STRATA_REPLICA_COPYING)
		return "copying";
	if (rep->state == STRATA_REPLICA_DELETING)
		return "deleting";
	return rep->version == a->version ? "valid" : "stale";
}

static int ctl_op_where(struct ctl_req *r)
{
	struct ctl_files f = { 0 };
	struct ctl_reps reps;
	struct strata_attr a;
	uint32_t pin;
	char state[32];
	bool dirty;
	int ret;

	ret = ctl_collect(r, &f);
	if (ret < 0)
		goto out;
	strata_jw_key(r->w, "files");
	strata_jw_arr(r->w);
	for (size_t i = 0; i < f.n; i++) {
		ret = ctl_file_reps(r->ctl, f.v[i].ino, &a, &reps);
		if (ret == -ENOENT)
			continue;
		if (ret < 0) {
			ret = ctl_fail(r, ret, "cannot read '%s': %s",
				       f.v[i].path, strerror(-ret));
			goto out;
		}
		ctl_state(r->ctl, a.ino, state, sizeof(state));
		dirty = strcmp(state, "dirty") == 0;
		strata_jw_obj(r->w);
		strata_jw_kstr(r->w, "path", f.v[i].path);
		strata_jw_kuint(r->w, "size", a.size);
		strata_jw_kuint(r->w, "version", a.version);
		if (strata_catalog_pin_get(r->ctl->cat, a.ino, &pin) == 0)
			strata_jw_kstr(r->w, "pin", ctl_tier_name(r->ctl, pin));
		else
			strata_jw_kstr(r->w, "pin", NULL);
		strata_jw_kstr(r->w, "state",
			       dirty			       ? "dirty" :
			       strcmp(state, "uploading") == 0 ? "uploading" :
			       a.size == 0		       ? "empty" :
								 "durable");
		strata_jw_key(r->w, "durable_on");
		strata_jw_arr(r->w);
		for (unsigned int k = 0; !dirty && k < reps.n; k++)
			if (ctl_valid(&a, &reps.v[k]))
				strata_jw_str(r->w,
					      ctl_tier_name(r->ctl,
							    reps.v[k].tier_id));
		strata_jw_arr_end(r->w);
		strata_jw_key(r->w, "replicas");
		strata_jw_arr(r->w);
		for (unsigned int k = 0; k < reps.n; k++) {
			strata_jw_obj(r->w);
			strata_jw_kstr(r->w, "tier",
				       ctl_tier_name(r->ctl,
						     reps.v[k].tier_id));
			strata_jw_kuint(r->w, "version", reps.v[k].version);
			strata_jw_kstr(r->w, "state",
				       ctl_rep_state(&a, &reps.v[k]));
			strata_jw_kstr(r->w, "key", reps.v[k].key);
			strata_jw_obj_end(r->w);
		}
		strata_jw_arr_end(r->w);
		strata_jw_obj_end(r->w);
	}
	strata_jw_arr_end(r->w);
	ret = 0;
out:
	ctl_files_release(&f);
	return ret;
}

static int ctl_op_status(struct ctl_req *r)
{
	unsigned int n = strata_vfs_tier_count(r->ctl->vfs);
	struct strata_vfs_tier_info t;
	struct ctl_jobs q = { 0 };
	uint64_t pending, running, failed;
	uint64_t all[3] = { 0 };
	int ret;

	ret = ctl_jobs_load(r->ctl, &q);
	if (ret < 0)
		return ctl_fail(r, ret, "cannot read the jobs: %s",
				strerror(-ret));
	for (size_t k = 0; k < q.n; k++)
		if (q.v[k].state <= STRATA_JOB_FAILED)
			all[q.v[k].state]++;
	strata_jw_key(r->w, "tiers");
	strata_jw_arr(r->w);
	for (unsigned int i = 0; i < n; i++) {
		if (strata_vfs_tier_info(r->ctl->vfs, i, &t) < 0)
			continue;
		pending = running = failed = 0;
		for (size_t k = 0; k < q.n; k++) {
			/* A job counts on the tier it writes to, or, for a
			 * drop, the one it frees. */
			uint32_t on = q.v[k].dst_tier ? q.v[k].dst_tier :
							q.v[k].src_tier;

			if (on != t.id)
				continue;
			if (q.v[k].state == STRATA_JOB_PENDING)
				pending++;
			else if (q.v[k].state == STRATA_JOB_RUNNING)
				running++;
			else
				failed++;
		}
		strata_jw_obj(r->w);
		strata_jw_kstr(r->w, "name", t.name);
		strata_jw_kstr(r->w, "site", t.site);
		/* A store without a size (S3) and no configured capacity:
		 * both are unknown, said as null. */
		if (t.capacity) {
			strata_jw_kuint(r->w, "capacity", t.capacity);
		} else {
			strata_jw_key(r->w, "capacity");
			strata_jw_null(r->w);
		}
		strata_jw_kuint(r->w, "used", t.used);
		if (t.free != UINT64_MAX) {
			strata_jw_kuint(r->w, "free", t.free);
		} else {
			strata_jw_key(r->w, "free");
			strata_jw_null(r->w);
		}
		strata_jw_kuint(r->w, "files", t.files);
		strata_jw_kuint(r->w, "pending", pending);
		strata_jw_kuint(r->w, "running", running);
		strata_jw_kuint(r->w, "failed", failed);
		strata_jw_obj_end(r->w);
	}
	strata_jw_arr_end(r->w);
	strata_jw_key(r->w, "jobs");
	strata_jw_obj(r->w);
	strata_jw_kuint(r->w, "pending", all[STRATA_JOB_PENDING]);
	strata_jw_kuint(r->w, "running", all[STRATA_JOB_RUNNING]);
	strata_jw_kuint(r->w, "failed", all[STRATA_JOB_FAILED]);
	strata_jw_obj_end(r->w);
	strata_jw_kuint(r->w, "unrecorded", strata_vfs_unrecorded(r->ctl->vfs));
	free(q.v);
	return 0;
}

static int ctl_op_pin(struct ctl_req *r)
{
	struct strata_vfs_tier_info t;
	struct ctl_files f = { 0 };
	struct ctl_reps reps;
	struct strata_attr a;
	uint64_t njobs = 0, bytes = 0;
	uint32_t other;
	int ret;

	ret = ctl_tier(r, strata_json_get_str(r->j, "tier", NULL), &t);
	if (ret == 0)
		ret = ctl_collect(r, &f);
	if (ret == 0)
		ret = ctl_admit(r, "pin", &f, &t);
	for (size_t i = 0; ret == 0 && i < f.n; i++) {
		ret = ctl_file_reps(r->ctl, f.v[i].ino, &a, &reps);
		if (ret == 0)
			ret = strata_catalog_pin_set(r->ctl->cat, a.ino, t.id);
		if (ret == -ENOENT) {
			ret = 0;
			continue;
		}
		bytes += a.size;
		if (ret == 0 && !ctl_on(&a, &reps, t.id, &other) && other)
			ret = ctl_job(r->ctl, STRATA_JOB_MOVE, a.ino, other,
				      t.id, "pin", &njobs);
		if (ret < 0)
			ret = ctl_fail(r, ret, "cannot pin '%s': %s",
				       f.v[i].path, strerror(-ret));
	}
	if (ret == 0) {
		ret = ctl_batch_new(r, CTL_GOAL_ON, t.id, &f);
		strata__engine_kick(r->ctl->e, true);
		strata_jw_kuint(r->w, "files", r->c->batch->files.n);
		strata_jw_kuint(r->w, "bytes", bytes);
		strata_jw_kuint(r->w, "jobs", njobs);
	}
	ctl_files_release(&f);
	return ret;
}

static int ctl_op_unpin(struct ctl_req *r)
{
	struct ctl_files f = { 0 };
	uint64_t n = 0;
	int ret;

	ret = ctl_collect(r, &f);
	for (size_t i = 0; ret == 0 && i < f.n; i++) {
		ret = strata_catalog_pin_del(r->ctl->cat, f.v[i].ino);
		if (ret == 0)
			n++;
		if (ret == -ENOENT)
			ret = 0;
		else if (ret < 0)
			ret = ctl_fail(r, ret, "cannot unpin '%s': %s",
				       f.v[i].path, strerror(-ret));
	}
	if (ret == 0) {
		strata__engine_kick(r->ctl->e, true);
		strata_jw_kuint(r->w, "unpinned", n);
	}
	ctl_files_release(&f);
	return ret;
}

static int ctl_op_pins(struct ctl_req *r)
{
	const struct strata_cq none_true = { .kind = STRATA_CQ_TRUE };
	const struct strata_cq none = { .kind = STRATA_CQ_NOT,
					.left = &none_true };
	struct strata_catalog_query q = { .where = &none, .or_pinned = true };
	struct strata_scan_row *rows;
	char path[PATH_MAX];
	uint64_t after = 0;
	size_t n;
	int ret;

	rows = calloc(256, sizeof(*rows));
	if (!rows)
		return ctl_fail(r, -ENOMEM, "out of memory");
	strata_jw_key(r->w, "pins");
	strata_jw_arr(r->w);
	do {
		ret = strata_catalog_scan(r->ctl->cat, &q, after, rows, 256, &n,
					  &after);
		for (size_t i = 0; ret == 0 && i < n; i++) {
			if (!rows[i].pin_tier)
				continue;
			if (strata_vfs_path(r->ctl->vfs, rows[i].attr.ino, path,
					    sizeof(path)) < 0 ||
			    !ctl_visible(r->ctl, r->c, path))
				continue;
			strata_jw_obj(r->w);
			strata_jw_kstr(r->w, "path", path);
			strata_jw_kstr(r->w, "tier",
				       ctl_tier_name(r->ctl, rows[i].pin_tier));
			strata_jw_kuint(r->w, "size", rows[i].attr.size);
			strata_jw_obj_end(r->w);
		}
	} while (ret == 0 && after);
	strata_jw_arr_end(r->w);
	free(rows);
	if (ret < 0)
		return ctl_fail(r, ret, "cannot list pins: %s", strerror(-ret));
	return 0;
}

static const char *ctl_job_state(enum strata_job_state s)
{
	return s == STRATA_JOB_PENDING ? "pending" :
	       s == STRATA_JOB_RUNNING ? "running" :
					 "failed";
}

static int ctl_op_jobs(struct ctl_req *r)
{
	const char *want = strata_json_get_str(r->j, "state", NULL);
	struct ctl_jobs q = { 0 };
	char path[PATH_MAX];
	int ret;

	ret = ctl_jobs_load(r->ctl, &q);
	if (ret < 0)
		return ctl_fail(r, ret, "cannot read the jobs: %s",
				strerror(-ret));
	strata_jw_key(r->w, "jobs");
	strata_jw_arr(r->w);
	for (size_t i = 0; i < q.n; i++) {
		const struct strata_job *j = &q.v[i];

		if (want && strcmp(want, ctl_job_state(j->state)) != 0)
			continue;
		if (strata_vfs_path(r->ctl->vfs, j->ino, path, sizeof(path)) <
		    0)
			snprintf(path, sizeof(path), "(inode %" PRIu64 ")",
				 j->ino);
		else if (!ctl_visible(r->ctl, r->c, path))
			snprintf(path, sizeof(path), "(hidden)");
		strata_jw_obj(r->w);
		strata_jw_kint(r->w, "id", j->id);
		strata_jw_kstr(r->w, "kind", strata_plan_kind_name(j->kind));
		strata_jw_kstr(r->w, "path", path);
		strata_jw_kstr(r->w, "from",
			       j->src_tier ?
				       ctl_tier_name(r->ctl, j->src_tier) :
				       NULL);
		strata_jw_kstr(r->w, "to",
			       j->dst_tier ?
				       ctl_tier_name(r->ctl, j->dst_tier) :
				       NULL);
		strata_jw_kstr(r->w, "state", ctl_job_state(j->state));
		strata_jw_kuint(r->w, "attempts", j->attempts);
		strata_jw_kuint(r->w, "bytes_done", j->bytes_done);
		strata_jw_kstr(r->w, "rule", j->rule);
		strata_jw_kstr(r->w, "error", j->last_error);
		strata_jw_obj_end(r->w);
	}
	strata_jw_arr_end(r->w);
	free(q.v);
	return 0;
}

/* cancel and retry: "ids", or "all" for every job they apply to. */
static int ctl_jobs_change(struct ctl_req *r, bool retry)
{
	const struct strata_json *ids = strata_json_get(r->j, "ids");
	bool all = strata_json_get_bool(r->j, "all", false);
	struct ctl_jobs q = { 0 };
	struct strata_job j;
	uint64_t n = 0;
	int ret = 0;

	if (all) {
		ret = ctl_jobs_load(r->ctl, &q);
	} else if (!ids || ids->type != STRATA_JSON_ARRAY || !ids->len) {
		return ctl_fail(r, -EINVAL, "no job ids given");
	} else {
		q.v = calloc(ids->len, sizeof(*q.v));
		if (!q.v)
			return ctl_fail(r, -ENOMEM, "out of memory");
		for (size_t i = 0; i < ids->len && ret == 0; i++) {
			if (ids->items[i]->type != STRATA_JSON_NUMBER ||
			    !ids->items[i]->is_int) {
				ret = ctl_fail(r, -EINVAL,
					       "job ids must be integers");
				break;
			}
			ret = strata_catalog_job_get(
				r->ctl->cat, ids->items[i]->i, &q.v[q.n]);
			if (ret == -ENOENT)
				ret = ctl_fail(r, ret, "no job %" PRId64,
					       ids->items[i]->i);
			else if (ret == 0)
				q.n++;
		}
	}
	if (ret < 0 && !r->err[0])
		ret = ctl_fail(r, ret, "cannot read the jobs: %s",
			       strerror(-ret));
	/* A running job is the mover's until it ends: leave it alone. */
	for (size_t i = 0; ret == 0 && !all && i < q.n; i++)
		if (q.v[i].state == STRATA_JOB_RUNNING)
			ret = ctl_fail(r, -EBUSY,
				       "job %" PRId64 " is running; try again "
				       "when it ends",
				       q.v[i].id);
	for (size_t i = 0; ret == 0 && i < q.n; i++) {
		j = q.v[i];
		if (j.state == STRATA_JOB_RUNNING ||
		    (retry && j.state != STRATA_JOB_FAILED && all))
			continue;
		if (retry) {
			j.state = STRATA_JOB_PENDING;
			j.attempts = 0;
			j.not_before = 0;
			j.last_error[0] = '\0';
			ret = strata_catalog_job_update(r->ctl->cat, &j);
		} else {
			ret = strata_catalog_job_del(r->ctl->cat, j.id);
		}
		if (ret == 0)
			n++;
		else if (ret == -ENOENT)
			ret = 0;
		else
			ret = ctl_fail(r, ret,
				       "cannot change job %" PRId64 ": %s",
				       j.id, strerror(-ret));
	}
	free(q.v);
	if (ret < 0)
		return ret;
	if (retry)
		strata__engine_kick(r->ctl->e, false);
	strata_jw_kuint(r->w, retry ? "retried" : "cancelled", n);
	return 0;
}

static int ctl_op_cancel(struct ctl_req *r)
{
	return ctl_jobs_change(r, false);
}

static int ctl_op_retry(struct ctl_req *r)
{
	return ctl_jobs_change(r, true);
}

/* Import: on the pool, counters shared under imp->lock. */
static int ctl_import_progress(void *arg,
			       const struct strata_vfs_import_stats *st)
{
	struct ctl_import *imp = arg;
	bool stop;

	pthread_mutex_lock(&imp->lock);
	imp->st = *st;
	stop = imp->stop;
	pthread_mutex_unlock(&imp->lock);
	/* An unmount stops imports, also those whose client has gone. */
	return stop || __atomic_load_n(&imp->ctl->stopping, __ATOMIC_ACQUIRE);
}

static void ctl_import_work(uv_work_t *req)
{
	struct ctl_import *imp = req->data;
	struct strata_vfs_import_stats st;
	char err[CTL_ERR_MAX] = "";
	int ret;

	ret = strata_vfs_import(imp->ctl->vfs, imp->tier, imp->prefix,
				imp->into, ctl_import_progress, imp, &st, err,
				sizeof(err));
	pthread_mutex_lock(&imp->lock);
	imp->st = st;
	imp->ret = ret;
	strata_strlcpy(imp->err, err, sizeof(imp->err));
	pthread_mutex_unlock(&imp->lock);
}

static void ctl_import_free(struct ctl_import *imp)
{
	pthread_mutex_destroy(&imp->lock);
	free(imp);
}

static void ctl_import_after(uv_work_t *req, int status)
{
	struct ctl_import *imp = req->data;

	(void)status;
	imp->ctl->imports--;
	pthread_mutex_lock(&imp->lock);
	imp->done = true;
	pthread_mutex_unlock(&imp->lock);
	strata_log(imp->ret < 0 ? STRATA_LOG_ERR : STRATA_LOG_NOTICE,
		   STRATA_SUB_POLICY,
		   "import of '%s' on tier '%s': %" PRIu64 " files, %" PRIu64
		   " skipped, %" PRIu64 " conflicts%s%s",
		   imp->prefix, ctl_tier_name(imp->ctl, imp->tier),
		   imp->st.files, imp->st.skipped, imp->st.conflicts,
		   imp->ret < 0 ? ": " : "", imp->ret < 0 ? imp->err : "");
	if (!imp->c) {
		ctl_import_free(imp);
		return;
	}
	/* Rules may want the new files elsewhere. */
	strata__engine_kick(imp->ctl->e, true);
}

/*
 * The key prefix of source on tier: an absolute path must lie below the
 * tier's root (the path of its URL), a relative one is a prefix already.
 * NULL (with the message in r) when it does not.
 */
static const char *ctl_import_prefix(struct ctl_req *r, const char *tier,
				     const char *source)
{
	const struct strata_cfg_tier *ct =
		strata_cfg_tier(strata__engine_cfg(r->ctl->e), tier);
	char root[PATH_MAX], real[PATH_MAX];
	size_t n;

	if (source[0] != '/')
		return source;
	if (!ct)
		return NULL;
	strata_strlcpy(root, ct->uri.path, sizeof(root));
	n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		root[--n] = '\0';
	if (strncmp(source, root, n) == 0 &&
	    (source[n] == '/' || source[n] == '\0'))
		return source + n;
	/* Through symbolic links, for a local tier. */
	if (strcmp(ct->uri.scheme, "file") == 0 && realpath(root, real)) {
		n = strlen(real);
		if (strncmp(source, real, n) == 0 &&
		    (source[n] == '/' || source[n] == '\0'))
			return source + n;
	}
	ctl_fail(r, -EINVAL, "'%s' is not below the root '%s' of tier '%s'",
		 source, root, tier);
	return NULL;
}

static int ctl_op_import(struct ctl_req *r)
{
	const char *source = strata_json_get_str(r->j, "source", NULL);
	const char *into = strata_json_get_str(r->j, "into", NULL);
	struct strata_vfs_tier_info t;
	struct ctl_import *imp;
	struct strata_attr a;
	const char *prefix;
	int ret;

	if (r->c->imp && !r->c->imp->done)
		return ctl_fail(r, -EBUSY, "an import is running already");
	ret = ctl_tier(r, strata_json_get_str(r->j, "tier", NULL), &t);
	if (ret < 0)
		return ret;
	if (!source || !into)
		return ctl_fail(r, -EINVAL, "import needs a source and into");
	prefix = ctl_import_prefix(r, t.name, source);
	if (!prefix)
		return -EINVAL;
	ret = ctl_lookup(r->ctl, r->c, into, &a);
	if (ret == 0 && !S_ISDIR(a.mode))
		ret = -ENOTDIR;
	if (ret < 0)
		return ctl_fail(r, ret,
				"'%s': no such directory in the namespace",
				into);
	imp = calloc(1, sizeof(*imp));
	if (!imp)
		return ctl_fail(r, -ENOMEM, "out of memory");
	if (strata_strlcpy(imp->prefix, prefix, sizeof(imp->prefix)) < 0) {
		free(imp);
		return ctl_fail(r, -ENAMETOOLONG, "prefix too long");
	}
	pthread_mutex_init(&imp->lock, NULL);
	imp->ctl = r->ctl;
	imp->c = r->c;
	imp->tier = t.id;
	imp->into = a.ino;
	imp->req.data = imp;
	ret = uv_queue_work(r->c->pipe.loop, &imp->req, ctl_import_work,
			    ctl_import_after);
	if (ret < 0) {
		ctl_import_free(imp);
		return ctl_fail(r, -EIO, "cannot start the import: %s",
				uv_strerror(ret));
	}
	r->ctl->imports++;
	if (r->c->imp)
		ctl_import_free(r->c->imp);
	r->c->imp = imp;
	strata_jw_kbool(r->w, "started", true);
	return 0;
}

static int ctl_op_hello(struct ctl_req *r)
{
	strata_jw_kstr(r->w, "version", STRATA_VERSION);
	strata_jw_kuint(r->w, "pid", (uint64_t)getpid());
	strata_jw_kuint(r->w, "owner", r->ctl->owner);
	strata_jw_kbool(r->w, "may_change", r->c->may_change);
	return 0;
}

static const struct ctl_op {
	const char *name;
	int (*fn)(struct ctl_req *r);
	bool changes; /* owner and root only */
} ctl_ops[] = {
	{ "hello", ctl_op_hello, false },
	{ "status", ctl_op_status, false },
	{ "where", ctl_op_where, false },
	{ "pins", ctl_op_pins, false },
	{ "jobs", ctl_op_jobs, false },
	{ "progress", ctl_op_progress, false },
	{ "pin", ctl_op_pin, true },
	{ "unpin", ctl_op_unpin, true },
	{ "migrate", ctl_op_migrate, true },
	{ "prefetch", ctl_op_prefetch, true },
	{ "free", ctl_op_free, true },
	{ "sync", ctl_op_sync, true },
	{ "cancel", ctl_op_cancel, true },
	{ "retry", ctl_op_retry, true },
	{ "import", ctl_op_import, true },
};

/* Connections ----------------------------------------------------------- */

struct ctl_wreq {
	uv_write_t req;
	char *buf;
};

static void ctl_written(uv_write_t *req, int status)
{
	struct ctl_wreq *wr = req->data;

	(void)status;
	free(wr->buf);
	free(wr);
}

static void ctl_send(struct ctl_client *c, const char *text, size_t len)
{
	struct ctl_wreq *wr;
	uv_buf_t b;

	if (c->closing)
		return;
	wr = calloc(1, sizeof(*wr));
	if (wr)
		wr->buf = malloc(len + 1);
	if (!wr || !wr->buf) {
		free(wr);
		strata_log(STRATA_LOG_ERR, STRATA_SUB_POLICY,
			   "control: out of memory for a reply");
		return;
	}
	memcpy(wr->buf, text, len);
	wr->buf[len] = '\n';
	wr->req.data = wr;
	b = uv_buf_init(wr->buf, (unsigned int)len + 1);
	if (uv_write(&wr->req, (uv_stream_t *)&c->pipe, &b, 1, ctl_written) <
	    0) {
		free(wr->buf);
		free(wr);
	}
}

static const char *ctl_errno_name(int err)
{
	switch (err) {
	case ENOENT:
		return "ENOENT";
	case EACCES:
		return "EACCES";
	case EPERM:
		return "EPERM";
	case EINVAL:
		return "EINVAL";
	case ENOSPC:
		return "ENOSPC";
	case EISDIR:
		return "EISDIR";
	case EMLINK:
		return "EMLINK";
	case EBUSY:
		return "EBUSY";
	case ENOTDIR:
		return "ENOTDIR";
	case ENOMEM:
		return "ENOMEM";
	default:
		return "EIO";
	}
}

static void ctl_reply_error(struct ctl_client *c, int ret, const char *msg)
{
	struct strata_jw w = { 0 };
	const char *text;
	size_t len;

	strata_jw_obj(&w);
	strata_jw_kbool(&w, "ok", false);
	strata_jw_kstr(&w, "error", msg);
	strata_jw_kstr(&w, "errno", ctl_errno_name(-ret));
	strata_jw_obj_end(&w);
	if (strata_jw_finish(&w, &text, &len) == 0)
		ctl_send(c, text, len);
	strata_jw_release(&w);
}

static void ctl_line(struct ctl_client *c, const char *line, size_t len)
{
	struct ctl_req r = { .ctl = c->ctl, .c = c };
	struct strata_json *j = NULL;
	struct strata_jw w = { 0 };
	const struct ctl_op *op = NULL;
	const char *name, *text;
	size_t where, n;
	int ret;

	ret = strata_json_parse(line, len, &j, &where);
	if (ret < 0) {
		snprintf(r.err, sizeof(r.err),
			 ret == -EINVAL ? "malformed request at byte %zu" :
					  "out of memory",
			 where);
		goto out;
	}
	name = strata_json_get_str(j, "op", "");
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(ctl_ops); i++)
		if (strcmp(ctl_ops[i].name, name) == 0)
			op = &ctl_ops[i];
	if (!op) {
		ret = ctl_fail(&r, -EINVAL, "unknown request '%s'", name);
		goto out;
	}
	if (op->changes && !c->may_change) {
		ret = ctl_fail(&r, -EACCES,
			       "'%s' changes the mount: only its owner (uid "
			       "%u) and root may ask",
			       name, (unsigned int)c->ctl->owner);
		goto out;
	}
	r.j = j;
	r.w = &w;
	strata_jw_obj(&w);
	strata_jw_kbool(&w, "ok", true);
	ret = op->fn(&r);
	if (ret == 0) {
		strata_jw_obj_end(&w);
		ret = strata_jw_finish(&w, &text, &n);
		if (ret == 0)
			ctl_send(c, text, n);
		else
			ctl_fail(&r, ret, "out of memory");
	} else if (!r.err[0]) {
		ctl_fail(&r, ret, "%s", strerror(-ret));
	}
	if (ret == 0 && op->changes)
		strata_log(STRATA_LOG_INFO, STRATA_SUB_POLICY,
			   "control: '%s' from uid %u", name,
			   (unsigned int)c->uid);
out:
	if (ret < 0)
		ctl_reply_error(c, ret, r.err);
	strata_jw_release(&w);
	strata_json_free(j);
}

static void ctl_client_closed(uv_handle_t *h)
{
	struct ctl_client *c = h->data;

	if (c->imp) {
		if (c->imp->done) {
			ctl_import_free(c->imp);
		} else {
			/* The import goes on; it frees itself at its end. */
			c->imp->c = NULL;
		}
	}
	ctl_batch_free(c->batch);
	free(c->in);
	free(c);
}

static void ctl_client_close(struct ctl_client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->prev)
		c->prev->next = c->next;
	else
		c->ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	uv_close((uv_handle_t *)&c->pipe, ctl_client_closed);
}

static void ctl_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct ctl_client *c = h->data;
	size_t want = 65536;
	char *nb;

	(void)hint;
	buf->base = NULL;
	buf->len = 0;
	if (c->cap - c->len < want) {
		nb = realloc(c->in, c->len + want);
		if (!nb)
			return;
		c->in = nb;
		c->cap = c->len + want;
	}
	buf->base = c->in + c->len;
	buf->len = c->cap - c->len;
}

static void ctl_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ctl_client *c = s->data;
	size_t start = 0;
	char *nl;

	(void)buf;
	if (nread < 0) {
		ctl_client_close(c);
		return;
	}
	c->len += (size_t)nread;
	/* A client that asks and never reads gets no more answers. */
	if (c->pipe.write_queue_size > CTL_QUEUE_MAX) {
		strata_log(STRATA_LOG_WARN, STRATA_SUB_POLICY,
			   "control: uid %u reads no replies; closing",
			   (unsigned int)c->uid);
		ctl_client_close(c);
		return;
	}
	while (!c->closing &&
	       (nl = memchr(c->in + start, '\n', c->len - start))) {
		ctl_line(c, c->in + start, (size_t)(nl - (c->in + start)));
		start = (size_t)(nl - c->in) + 1;
	}
	memmove(c->in, c->in + start, c->len - start);
	c->len -= start;
	if (c->len > CTL_LINE_MAX) {
		ctl_reply_error(c, -EINVAL, "request too long");
		ctl_client_close(c);
	}
}

/* The peer's groups, as permission checks need them: SO_PEERCRED gives
 * the primary one, the peer's /proc status the supplementary ones. */
static void ctl_peer_groups(struct ctl_client *c, const struct ucred *cred)
{
	char path[64], line[4096];
	char *p, *end;
	FILE *f;

	c->gids[0] = cred->gid;
	c->ngids = 1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)cred->pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		for (p = line + 7; c->ngids < (int)STRATA_ARRAY_SIZE(c->gids);
		     p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			c->gids[c->ngids++] = (gid_t)g;
		}
	}
	fclose(f);
}

static void ctl_accept(uv_stream_t *server, int status)
{
	struct strata_ctl *ctl = server->data;
	struct ctl_client *c;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	uv_os_fd_t fd;

	if (status < 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->ctl = ctl;
	uv_pipe_init(server->loop, &c->pipe, 0);
	c->pipe.data = c;
	c->next = ctl->clients;
	if (ctl->clients)
		ctl->clients->prev = c;
	ctl->clients = c;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		ctl_client_close(c);
		return;
	}
	c->uid = cred.uid;
	c->may_change = cred.uid == 0 || cred.uid == ctl->owner;
	ctl_peer_groups(c, &cred);
	uv_read_start((uv_stream_t *)&c->pipe, ctl_alloc, ctl_read);
}

/* bind(2) at path; a path too long for sun_path goes through its
 * directory's descriptor. */
static int ctl_bind(int fd, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[PATH_MAX];
	const char *base;
	int dfd = -1, ret;

	if (strlen(path) < sizeof(sa.sun_path)) {
		strata_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	} else {
		strata_strlcpy(dir, path, sizeof(dir));
		base = strrchr(path, '/') + 1;
		dir[base - path] = '\0';
		dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0)
			return -errno;
		if (snprintf(sa.sun_path, sizeof(sa.sun_path),
			     "/proc/self/fd/%d/%s", dfd,
			     base) >= (int)sizeof(sa.sun_path)) {
			close(dfd);
			return -ENAMETOOLONG;
		}
	}
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	if (dfd >= 0)
		close(dfd);
	return ret;
}

int strata__ctl_open(struct strata_engine *e, struct uv_loop_s *loop,
		     struct strata_ctl **out, char *err, size_t errlen)
{
	struct strata_ctl *ctl;
	int fd = -1, ret;

	*out = NULL;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ctl->e = e;
	ctl->vfs = strata__engine_vfs(e);
	ctl->cat = strata_vfs_catalog(ctl->vfs);
	ctl->owner = geteuid();
	ret = strata_ctl_socket_path(strata__engine_cfg(e)->catalog, ctl->path,
				     sizeof(ctl->path));
	if (ret < 0) {
		snprintf(err, errlen, "control socket path too long");
		goto fail;
	}
	/* The mount lock is ours: a socket left here is a dead mount's. */
	unlink(ctl->path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ret = fd < 0 ? -errno : ctl_bind(fd, ctl->path);
	/* Anyone may ask; SO_PEERCRED decides who may change things. */
	if (ret == 0 && chmod(ctl->path, 0666) < 0)
		ret = -errno;
	if (ret == 0 && listen(fd, 64) < 0)
		ret = -errno;
	if (ret < 0) {
		snprintf(err, errlen, "cannot create control socket '%s': %s",
			 ctl->path, strerror(-ret));
		goto fail;
	}
	ret = uv_pipe_init(loop, &ctl->server, 0);
	if (ret == 0) {
		ctl->server_on = true;
		ctl->server.data = ctl;
		ret = uv_pipe_open(&ctl->server, fd);
	}
	if (ret == 0) {
		fd = -1;
		ret = uv_listen((uv_stream_t *)&ctl->server, 64, ctl_accept);
	}
	if (ret < 0) {
		snprintf(err, errlen, "cannot serve control socket '%s': %s",
			 ctl->path, uv_strerror(ret));
		ret = -EIO;
		goto fail;
	}
	*out = ctl;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	if (!ctl->server_on) {
		unlink(ctl->path);
		free(ctl);
	} else {
		/* The handle is the loop's now: the engine's stop closes it
		 * and frees ctl. */
		*out = ctl;
	}
	return ret;
}

void strata__ctl_close(struct strata_ctl *ctl)
{
	if (!ctl)
		return;
	__atomic_store_n(&ctl->stopping, true, __ATOMIC_RELEASE);
	while (ctl->clients) {
		if (ctl->clients->imp) {
			pthread_mutex_lock(&ctl->clients->imp->lock);
			ctl->clients->imp->stop = true;
			pthread_mutex_unlock(&ctl->clients->imp->lock);
		}
		ctl_client_close(ctl->clients);
	}
	if (ctl->server_on && !uv_is_closing((uv_handle_t *)&ctl->server))
		uv_close((uv_handle_t *)&ctl->server, NULL);
}

void strata__ctl_free(struct strata_ctl *ctl)
{
	if (!ctl)
		return;
	unlink(ctl->path);
	free(ctl);
}
