/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/fsck.c - the catalog checked against the tiers (strata fsck).
 *
 * Two passes per tier. The first lists the tier's objects and looks each
 * key up among the tier's replica rows: an object no row names is an
 * orphan (a crash between writing an object and committing its row, or
 * between committing an unlink and removing the object); the keys are
 * collected and removed after the listing when repairing. The second pages
 * through the tier's replica rows and stats each object: a valid replica
 * whose object is missing is lost content, a size that differs from the
 * file's is reported, and an outdated copy of a file that has a valid one
 * elsewhere is removed when repairing. Between the two, the driver's
 * leftover temporaries (scratch files of a crash) are reported, and
 * removed when repairing. Runs on an unmounted namespace, on one thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define FSCK_PAGE 256

struct fsck {
	struct strata_vfs *vfs;
	struct vfs_tier *tier;
	bool repair;
	strata_vfs_fsck_cb cb;
	void *arg;
	struct strata_vfs_fsck_stats *st;
	char **orphans; /* keys to remove after the listing */
	size_t norphans;
	size_t cap;
	int ret;
};

static void fsck_report(struct fsck *f, struct strata_vfs_fsck_problem *p)
{
	p->tier = f->tier->name;
	f->st->problems++;
	if (p->repaired)
		f->st->repaired++;
	f->cb(f->arg, p);
}

static int fsck_keep_orphan(struct fsck *f, const char *key)
{
	char **v;

	if (f->norphans == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 64;
		v = realloc(f->orphans, f->cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->orphans = v;
	}
	f->orphans[f->norphans] = strdup(key);
	if (!f->orphans[f->norphans])
		return -ENOMEM;
	f->norphans++;
	return 0;
}

static int fsck_object(void *arg, const char *key,
		       const struct strata_obj_stat *os)
{
	struct fsck *f = arg;
	struct strata_vfs_fsck_problem p = { 0 };
	struct strata_replica r;
	int ret;

	f->st->objects++;
	ret = strata_catalog_replica_find(f->vfs->cat, f->tier->id, key, &r);
	if (ret == 0)
		return 0;
	if (ret != -ENOENT) {
		f->ret = ret;
		return 1;
	}
	if (f->repair) {
		ret = fsck_keep_orphan(f, key);
		if (ret < 0) {
			f->ret = ret;
			return 1;
		}
		return 0;
	}
	p.kind = STRATA_FSCK_ORPHAN_OBJECT;
	p.key = key;
	p.size = os->size;
	fsck_report(f, &p);
	return 0;
}

/* Remove the orphans the listing collected, reporting each. */
static void fsck_remove_orphans(struct fsck *f)
{
	for (size_t i = 0; i < f->norphans; i++) {
		struct strata_vfs_fsck_problem p = { 0 };
		struct strata_obj_stat os = { 0 };

		strata_backend_stat(f->tier->be, f->orphans[i], &os);
		p.kind = STRATA_FSCK_ORPHAN_OBJECT;
		p.key = f->orphans[i];
		p.size = os.size;
		p.repaired =
			strata_backend_remove(f->tier->be, f->orphans[i]) == 0;
		fsck_report(f, &p);
		free(f->orphans[i]);
	}
	free(f->orphans);
	f->orphans = NULL;
	f->norphans = 0;
	f->cap = 0;
}

/* A temporary a crash left on the tier (removed already when repairing). */
static int fsck_temporary(void *arg, const char *path,
			  const struct strata_obj_stat *os)
{
	struct fsck *f = arg;
	struct strata_vfs_fsck_problem p = { 0 };

	p.kind = STRATA_FSCK_TEMPORARY;
	p.key = path;
	p.size = os->size;
	p.repaired = f->repair;
	fsck_report(f, &p);
	return 0;
}

struct fsck_valid {
	uint64_t version;
	uint32_t except;
	bool found;
};

static int fsck_valid_elsewhere(void *arg, const struct strata_replica *r)
{
	struct fsck_valid *v = arg;

	if (r->tier_id != v->except && r->version == v->version &&
	    r->state == STRATA_REPLICA_VALID)
		v->found = true;
	return 0;
}

static void fsck_replica(struct fsck *f, const struct strata_replica *r)
{
	struct strata_vfs_fsck_problem p = { .ino = r->ino, .key = r->key };
	struct fsck_valid v = { .except = r->tier_id };
	struct strata_obj_stat os = { 0 };
	struct strata_attr a;
	int ret;

	f->st->replicas++;
	if (strata_catalog_getattr(f->vfs->cat, r->ino, &a) < 0)
		return; /* purged meanwhile */
	ret = strata_backend_stat(f->tier->be, r->key, &os);
	p.size = os.size;
	if (r->version != a.version || r->state != STRATA_REPLICA_VALID) {
		p.kind = STRATA_FSCK_STALE_REPLICA;
		v.version = a.version;
		strata_catalog_replica_list(f->vfs->cat, r->ino,
					    fsck_valid_elsewhere, &v);
		if (f->repair && v.found) {
			int rm = ret == 0 ? strata_backend_remove(f->tier->be,
								  r->key) :
					    0;

			p.repaired =
				(rm == 0 || rm == -ENOENT) &&
				strata_catalog_replica_del(f->vfs->cat, r->ino,
							   r->tier_id) == 0;
		}
		fsck_report(f, &p);
		return;
	}
	if (ret == -ENOENT) {
		p.kind = STRATA_FSCK_MISSING_OBJECT;
		fsck_report(f, &p);
		return;
	}
	if (ret == 0 && os.size != a.size) {
		p.kind = STRATA_FSCK_SIZE_MISMATCH;
		p.want = a.size;
		fsck_report(f, &p);
	}
}

static int fsck_replicas(struct fsck *f)
{
	struct strata_replica *page = calloc(FSCK_PAGE, sizeof(*page));
	strata_ino_t after = 0;
	size_t n;
	int ret;

	if (!page)
		return -ENOMEM;
	do {
		ret = strata_catalog_replica_scan(f->vfs->cat, f->tier->id,
						  after, page, FSCK_PAGE, &n);
		if (ret < 0)
			break;
		for (size_t i = 0; i < n; i++)
			fsck_replica(f, &page[i]);
		if (n)
			after = page[n - 1].ino;
	} while (n == FSCK_PAGE);
	free(page);
	return ret;
}

int strata_vfs_fsck(struct strata_vfs *vfs, bool repair, strata_vfs_fsck_cb cb,
		    void *arg, struct strata_vfs_fsck_stats *out)
{
	struct fsck f = { .vfs = vfs, .repair = repair, .cb = cb, .arg = arg };
	int ret = 0;

	memset(out, 0, sizeof(*out));
	f.st = out;
	for (unsigned int i = 0; ret == 0 && i < vfs->ntiers; i++) {
		f.tier = &vfs->tiers[i];
		f.ret = 0;
		ret = strata_backend_list(f.tier->be, fsck_object, &f);
		if (ret > 0 || f.ret < 0)
			ret = f.ret;
		if (ret == 0)
			fsck_remove_orphans(&f);
		if (ret == 0)
			ret = strata_backend_sweep(f.tier->be, repair,
						   fsck_temporary, &f);
		if (ret == 0)
			ret = fsck_replicas(&f);
	}
	for (size_t i = 0; i < f.norphans; i++)
		free(f.orphans[i]);
	free(f.orphans);
	if (ret == 0)
		ret = strata_catalog_sync(vfs->cat, true);
	return ret;
}
