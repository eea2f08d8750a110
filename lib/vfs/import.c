/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/import.c - adopt objects a tier already holds into the namespace
 * in place: no byte is copied and no object is written.
 *
 * The tier's listing gives every key under a prefix; each becomes a file
 * (and its directories) below a namespace directory, with one valid
 * replica that keeps the object's key. Keys that already belong to a
 * replica are skipped, so an import cut short is resumed by running it
 * again. Runs on the caller's thread; the catalog serialises it with the
 * mount's own requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define IMPORT_REPORT_EVERY 256

struct import_walk {
	struct strata_vfs *vfs;
	struct vfs_tier *tier;
	const char *prefix;
	size_t plen;
	strata_ino_t into;
	struct strata_attr owner; /* uid and gid of the new inodes (a
				   * setgid directory's group wins) */
	char lastdir[PATH_MAX];	  /* the directory last created or found */
	strata_ino_t lastdir_ino;
	struct strata_vfs_import_stats *st;
	strata_vfs_import_cb cb;
	void *arg;
	char *err;
	size_t errlen;
	int ret;
};

static int import_fail(struct import_walk *w, int ret, const char *what,
		       const char *key)
{
	snprintf(w->err, w->errlen, "cannot %s '%s' on tier '%s': %s", what,
		 key, w->tier->name, strerror(-ret));
	w->ret = ret;
	return 1;
}

/* The directory dir (a path relative to into), made where missing. */
static int import_dir(struct import_walk *w, const char *dir, strata_ino_t *out)
{
	char buf[PATH_MAX];
	struct strata_attr a, tmpl;
	struct timespec now = strata_now();
	strata_ino_t cur = w->into;
	char *save = NULL, *part;
	int ret;

	if (strcmp(dir, w->lastdir) == 0 && w->lastdir_ino) {
		*out = w->lastdir_ino;
		return 0;
	}
	ret = strata_strlcpy(buf, dir, sizeof(buf));
	if (ret < 0)
		return ret;
	for (part = strtok_r(buf, "/", &save); part;
	     part = strtok_r(NULL, "/", &save)) {
		ret = strata_catalog_lookup(w->vfs->cat, cur, part, &a);
		if (ret == -ENOENT) {
			memset(&tmpl, 0, sizeof(tmpl));
			tmpl.mode = S_IFDIR | 0755;
			tmpl.uid = w->owner.uid;
			tmpl.gid = w->owner.gid;
			tmpl.atime = tmpl.mtime = tmpl.ctime = tmpl.btime = now;
			ret = strata_catalog_mknode(w->vfs->cat, cur, part,
						    &tmpl, NULL, &a);
			if (ret == 0)
				w->st->dirs++;
		}
		if (ret < 0)
			return ret;
		if (!S_ISDIR(a.mode))
			return -ENOTDIR;
		cur = a.ino;
	}
	strata_strlcpy(w->lastdir, dir, sizeof(w->lastdir));
	w->lastdir_ino = cur;
	*out = cur;
	return 0;
}

static int import_has_replica(void *arg, const struct strata_replica *r)
{
	(void)r;
	*(bool *)arg = true;
	return 1;
}

/* One object: a new file, or an empty name an earlier run left. */
static int import_file(struct import_walk *w, strata_ino_t dir,
		       const char *name, const char *key,
		       const struct strata_obj_stat *ost)
{
	struct strata_catalog *cat = w->vfs->cat;
	struct strata_attr a, tmpl;
	struct timespec now = strata_now();
	bool has = false;
	int ret;

	ret = strata_catalog_lookup(cat, dir, name, &a);
	if (ret == 0) {
		/* A crash between the name and its replica leaves the name
		 * without content: adopt the object now. */
		if (S_ISREG(a.mode))
			ret = strata_catalog_replica_list(
				cat, a.ino, import_has_replica, &has);
		if (ret < 0)
			return ret;
		if (!S_ISREG(a.mode) || has || a.size != 0)
			return -EEXIST;
	} else if (ret == -ENOENT) {
		memset(&tmpl, 0, sizeof(tmpl));
		tmpl.mode = S_IFREG | 0644;
		tmpl.uid = w->owner.uid;
		tmpl.gid = w->owner.gid;
		tmpl.atime = tmpl.mtime = tmpl.ctime = ost->mtime;
		tmpl.btime = now;
		ret = strata_catalog_mknode(cat, dir, name, &tmpl, NULL, &a);
		if (ret < 0)
			return ret;
	} else {
		return ret;
	}
	return strata_catalog_commit_write(cat, a.ino, w->tier->id, key,
					   ost->size, &ost->mtime, true, false,
					   NULL);
}

static int import_one(void *arg, const char *key,
		      const struct strata_obj_stat *ost)
{
	struct import_walk *w = arg;
	struct strata_replica r;
	char rel[PATH_MAX];
	const char *name;
	strata_ino_t dir;
	char *slash;
	int ret;

	if (w->plen &&
	    (strncmp(key, w->prefix, w->plen) != 0 || key[w->plen] != '/'))
		return 0;
	if (strata_strlcpy(rel, key + w->plen + (w->plen ? 1 : 0),
			   sizeof(rel)) < 0 ||
	    !rel[0])
		return 0;
	ret = strata_catalog_replica_find(w->vfs->cat, w->tier->id, key, &r);
	if (ret == 0) {
		w->st->skipped++;
		goto report;
	}
	if (ret != -ENOENT)
		return import_fail(w, ret, "look up", key);
	slash = strrchr(rel, '/');
	if (slash) {
		*slash = '\0';
		name = slash + 1;
		ret = import_dir(w, rel, &dir);
	} else {
		name = rel;
		dir = w->into;
		ret = 0;
	}
	if (ret == 0)
		ret = import_file(w, dir, name, key, ost);
	if (ret == -EEXIST || ret == -ENOTDIR) {
		/* A name the namespace already uses for something else. */
		w->st->conflicts++;
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "import: '%s' on tier '%s' not adopted: its name "
			   "is taken in the namespace",
			   key, w->tier->name);
		goto report;
	}
	if (ret < 0)
		return import_fail(w, ret, "import", key);
	w->st->files++;
	w->st->bytes += ost->size;
report:
	if (w->cb &&
	    (w->st->files + w->st->skipped + w->st->conflicts) %
			    IMPORT_REPORT_EVERY ==
		    0 &&
	    w->cb(w->arg, w->st) != 0) {
		snprintf(w->err, w->errlen, "import stopped");
		w->ret = -ECANCELED;
		return 1;
	}
	return 0;
}

int strata_vfs_import(struct strata_vfs *vfs, uint32_t tier_id,
		      const char *prefix, strata_vfs_ino_t into,
		      strata_vfs_import_cb cb, void *arg,
		      struct strata_vfs_import_stats *st, char *err,
		      size_t errlen)
{
	struct import_walk *w;
	int ret;

	memset(st, 0, sizeof(*st));
	w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->vfs = vfs;
	w->tier = strata__vfs_tier_by_id(vfs, tier_id);
	w->into = into;
	w->st = st;
	w->cb = cb;
	w->arg = arg;
	w->err = err;
	w->errlen = errlen;
	while (*prefix == '/')
		prefix++;
	w->prefix = prefix;
	w->plen = strlen(prefix);
	while (w->plen && prefix[w->plen - 1] == '/')
		w->plen--;
	ret = -ENOENT;
	if (!w->tier) {
		snprintf(err, errlen, "no tier with id %u", tier_id);
		goto out;
	}
	ret = strata_catalog_getattr(vfs->cat, into, &w->owner);
	if (ret == 0 && !S_ISDIR(w->owner.mode))
		ret = -ENOTDIR;
	if (ret < 0) {
		snprintf(err, errlen, "cannot import into inode %llu: %s",
			 (unsigned long long)into, strerror(-ret));
		goto out;
	}
	ret = strata_backend_list(w->tier->be, import_one, w);
	if (ret > 0 || w->ret < 0) {
		ret = w->ret;
		goto out;
	}
	if (ret < 0) {
		snprintf(err, errlen, "cannot list tier '%s': %s",
			 w->tier->name, strerror(-ret));
		goto out;
	}
	ret = strata_catalog_sync(vfs->cat, true);
	if (ret < 0)
		snprintf(err, errlen, "cannot make the import durable: %s",
			 strerror(-ret));
	if (cb)
		cb(arg, st);
out:
	free(w);
	return ret;
}
