/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/vfs.c - namespace operations: lookup, attributes, create and
 * remove names, rename, links, directories, xattrs, statfs, and the start
 * and end of a mounted namespace.
 *
 * Each operation is one catalog transaction plus bookkeeping in the inode
 * table: entry replies take a kernel lookup reference, and an inode whose
 * last name went away is purged once nobody references it. Ownership of new
 * inodes follows the caller and setgid directories; permission checks are
 * the kernel's (default_permissions). Thread-safe.
 */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define VFS_XATTR_NAME_MAX 255
#define VFS_XATTR_SIZE_MAX 65536
#define VFS_ORPHAN_BATCH 256

static int vfs_check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -ENOENT;
	if (len > STRATA_NAME_MAX)
		return -ENAMETOOLONG;
	return 0;
}

/* Hold the mount lock of the catalog: one mount per catalog file. */
static int vfs_lock_catalog(struct strata_vfs *vfs, const char *catalog,
			    char *err, size_t errlen)
{
	char path[PATH_MAX + 16];
	int fd;

	snprintf(path, sizeof(path), "%s.lock", catalog);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot open lock file '%s': %s", path,
			 strerror(errno));
		return -errno;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		snprintf(err, errlen, "catalog '%s' is in use by another mount",
			 catalog);
		close(fd);
		return e == EWOULDBLOCK ? -EBUSY : -e;
	}
	vfs->lock_fd = fd;
	return 0;
}

static int vfs_open_tiers(struct strata_vfs *vfs, const struct strata_cfg *cfg,
			  char *err, size_t errlen)
{
	for (unsigned int i = 0; i < cfg->ntiers; i++) {
		const struct strata_cfg_tier *ct = &cfg->tiers[i];
		struct vfs_tier *t = &vfs->tiers[i];
		struct strata_tier_row row = { 0 };
		int ret;

		strata_strlcpy(t->name, ct->name, sizeof(t->name));
		strata_strlcpy(t->site, ct->site, sizeof(t->site));
		t->capacity = ct->capacity;
		ret = strata_backend_open(&ct->uri, ct->name, &t->be, err,
					  errlen);
		if (ret < 0)
			return ret;
		vfs->ntiers = i + 1;
		strata_strlcpy(row.name, ct->name, sizeof(row.name));
		strata_strlcpy(row.url, ct->url, sizeof(row.url));
		strata_strlcpy(row.site, ct->site, sizeof(row.site));
		row.capacity = ct->capacity;
		ret = strata_catalog_tier_ensure(vfs->cat, &row, &row);
		if (ret < 0) {
			snprintf(err, errlen,
				 "cannot record tier '%s' in the catalog: %s",
				 ct->name, strerror(-ret));
			return ret;
		}
		t->id = row.id;
		if (strcmp(ct->name, cfg->placement) == 0)
			vfs->placement = t;
	}
	if (!vfs->placement) {
		snprintf(err, errlen, "placement tier '%s' is not configured",
			 cfg->placement);
		return -EINVAL;
	}
	return 0;
}

/* Inodes left with no name by a crash: remove their content and rows. */
static int vfs_reclaim_orphans(struct strata_vfs *vfs)
{
	strata_ino_t inos[VFS_ORPHAN_BATCH];
	size_t n;
	size_t done = 0;
	size_t failed = 0;
	int ret;

	do {
		ret = strata_catalog_orphans(vfs->cat, inos,
					     STRATA_ARRAY_SIZE(inos), &n);
		if (ret < 0)
			return ret;
		/* A failure keeps the rows for the next start; it must
		 * not keep the namespace from mounting. */
		for (size_t i = 0; i < n; i++)
			strata__vfs_orphan_gone(vfs, inos[i]);
		strata__vfs_reap(vfs, &failed);
		done += n;
	} while (n == STRATA_ARRAY_SIZE(inos) && failed == 0);
	done -= failed < done ? failed : done;
	if (failed)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "%zu unlinked inodes could not be reclaimed; the "
			   "next start tries again",
			   failed);
	if (done)
		strata_log(
			STRATA_LOG_NOTICE, STRATA_SUB_VFS,
			"reclaimed %zu unlinked inodes left by an unclean stop",
			done);
	return 0;
}

int strata_vfs_new(const struct strata_cfg *cfg,
		   const struct strata_vfs_opts *opts, struct strata_vfs **out,
		   char *err, size_t errlen)
{
	struct strata_vfs *vfs = calloc(1, sizeof(*vfs));
	int ret;

	if (!vfs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	vfs->lock_fd = -1;
	pthread_mutex_init(&vfs->files_lock, NULL);
	pthread_mutex_init(&vfs->atime_lock, NULL);
	pthread_mutex_init(&vfs->bw_lock, NULL);
	vfs->bw_rate = cfg->bandwidth;
	strata__vfs_reaper_init(vfs);
	vfs->opts = *opts;
	strata_strlcpy(vfs->site, cfg->site, sizeof(vfs->site));
	ret = strata__vfs_itable_init(&vfs->itable);
	if (ret < 0) {
		free(vfs);
		snprintf(err, errlen, "out of memory");
		return ret;
	}
	if (opts->inspect)
		vfs->opts.read_only = true;
	if (strcmp(cfg->catalog, ":memory:") != 0 && !opts->inspect) {
		ret = vfs_lock_catalog(vfs, cfg->catalog, err, errlen);
		if (ret < 0)
			goto fail;
	}
	ret = strata_catalog_open(NULL, cfg->catalog, &vfs->cat, err, errlen);
	if (ret < 0)
		goto fail;
	ret = vfs_open_tiers(vfs, cfg, err, errlen);
	if (ret < 0)
		goto fail;
	ret = vfs->opts.read_only ? 0 : vfs_reclaim_orphans(vfs);
	if (ret < 0) {
		snprintf(err, errlen, "cannot reclaim unlinked inodes: %s",
			 strerror(-ret));
		goto fail;
	}
	ret = strata__vfs_reaper_start(vfs);
	if (ret < 0) {
		snprintf(err, errlen, "cannot start the reaper thread: %s",
			 strerror(-ret));
		goto fail;
	}
	*out = vfs;
	return 0;
fail:
	strata_vfs_free(vfs);
	return ret;
}

void strata_vfs_free(struct strata_vfs *vfs)
{
	if (!vfs)
		return;
	if (vfs->cat && vfs->opts.inspect) {
		/* A look changed nothing: leave the catalog and the tiers of a
		 * mount that may be running alone. */
		strata__vfs_reaper_release(vfs);
	} else if (vfs->cat) {
		/* Its retries of kept objects must not meet the drain. */
		strata__vfs_reaper_stop(vfs);
		strata__vfs_release_all(vfs);
		strata__vfs_itable_drain(vfs);
		strata__vfs_reaper_release(vfs);
		/* Data first, then the catalog that points at it. */
		for (unsigned int i = 0; i < vfs->ntiers; i++) {
			int ret = strata_backend_syncfs(vfs->tiers[i].be);

			if (ret < 0)
				strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
					   "cannot sync tier '%s': %s",
					   vfs->tiers[i].name, strerror(-ret));
		}
		strata_catalog_sync(vfs->cat, true);
		strata_catalog_checkpoint(vfs->cat);
	}
	strata__vfs_itable_release(&vfs->itable);
	for (unsigned int i = 0; i < vfs->ntiers; i++)
		strata_backend_close(vfs->tiers[i].be);
	strata_catalog_close(vfs->cat);
	if (vfs->lock_fd >= 0)
		close(vfs->lock_fd);
	if (!vfs->cat)
		strata__vfs_reaper_release(vfs);
	pthread_mutex_destroy(&vfs->files_lock);
	pthread_mutex_destroy(&vfs->atime_lock);
	pthread_mutex_destroy(&vfs->bw_lock);
	free(vfs);
}

/* Reply with an entry: take the kernel's lookup reference. */
static int vfs_entry(struct strata_vfs *vfs, struct strata_attr *a,
		     struct stat *out)
{
	struct vnode *vn;
	int ret = strata__vfs_vnode_get(vfs, a->ino, 1, 0, &vn);

	if (ret < 0)
		return ret;
	strata_vfs_overlay(vfs, a);
	strata__vfs_attr_to_stat(a, out);
	return 0;
}

int strata_vfs_lookup(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		      const char *name, struct stat *out)
{
	struct strata_attr a;
	int ret = vfs_check_name(name);

	if (ret < 0)
		return ret;
	ret = strata_catalog_lookup(vfs->cat, parent, name, &a);
	if (ret < 0)
		return ret;
	return vfs_entry(vfs, &a, out);
}

void strata_vfs_forget(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		       uint64_t nlookup)
{
	struct vnode *vn = strata__vfs_vnode_hold(vfs, ino);

	if (!vn)
		return;
	strata__vfs_vnode_put(vfs, vn, nlookup, 0);
	strata__vfs_vnode_unhold(vfs, vn);
}

int strata_vfs_getattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		       struct stat *out)
{
	struct strata_attr a;
	int ret = strata_catalog_getattr(vfs->cat, ino, &a);

	if (ret < 0)
		return ret;
	strata_vfs_overlay(vfs, &a);
	strata__vfs_attr_to_stat(&a, out);
	return 0;
}

static unsigned int vfs_setattr_fields(const struct stat *in,
				       unsigned int valid,
				       struct strata_attr *a)
{
	struct timespec now = strata_now();
	unsigned int set = STRATA_SET_CTIME;

	a->ctime = now;
	if (valid & STRATA_VFS_SET_MODE) {
		a->mode = in->st_mode;
		set |= STRATA_SET_MODE;
	}
	if (valid & STRATA_VFS_SET_UID) {
		a->uid = in->st_uid;
		set |= STRATA_SET_UID;
	}
	if (valid & STRATA_VFS_SET_GID) {
		a->gid = in->st_gid;
		set |= STRATA_SET_GID;
	}
	if (valid & (STRATA_VFS_SET_ATIME | STRATA_VFS_SET_ATIME_NOW)) {
		a->atime = (valid & STRATA_VFS_SET_ATIME_NOW) ? now :
								in->st_atim;
		set |= STRATA_SET_ATIME;
	}
	if (valid & (STRATA_VFS_SET_MTIME | STRATA_VFS_SET_MTIME_NOW)) {
		a->mtime = (valid & STRATA_VFS_SET_MTIME_NOW) ? now :
								in->st_mtim;
		set |= STRATA_SET_MTIME;
	}
	return set;
}

int strata_vfs_setattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		       uint64_t fh, const struct stat *in, unsigned int valid,
		       struct stat *out)
{
	struct strata_attr a = { 0 };
	struct vnode *vn = NULL;
	unsigned int set;
	int ret;

	if (valid & STRATA_VFS_SET_SIZE) {
		struct vfile *vf = (struct vfile *)(uintptr_t)fh;
		struct strata_obj *obj = NULL;

		ret = strata__vfs_vnode_get(vfs, ino, 0, 0, &vn);
		if (ret < 0)
			return ret;
		if (vf) {
			pthread_mutex_lock(&vf->lock);
			obj = vf->obj;
		}
		ret = strata__vfs_truncate(vfs, vn, obj, (uint64_t)in->st_size,
					   NULL);
		if (vf)
			pthread_mutex_unlock(&vf->lock);
		strata__vfs_vnode_put(vfs, vn, 0, 0);
		if (ret < 0)
			return ret;
	}
	set = vfs_setattr_fields(in, valid, &a);
	if (set != STRATA_SET_CTIME || !(valid & STRATA_VFS_SET_SIZE))
		ret = strata__vfs_attr_set(vfs, ino, &a, set);
	else
		ret = strata_catalog_getattr(vfs->cat, ino, &a);
	if (ret < 0)
		return ret;
	strata_vfs_overlay(vfs, &a);
	strata__vfs_attr_to_stat(&a, out);
	return 0;
}

/* The template of a new inode: the caller's ids (the catalog applies a
 * setgid parent's group, from the row it reads anyway). */
static void vfs_new_attr(const struct strata_cred *cred, mode_t mode,
			 dev_t rdev, struct strata_attr *t)
{
	memset(t, 0, sizeof(*t));
	t->mode = mode;
	t->uid = cred->uid;
	t->gid = cred->gid;
	t->rdev = rdev;
	t->atime = t->mtime = t->ctime = t->btime = strata_now();
}

static int vfs_mknode(struct strata_vfs *vfs, const struct strata_cred *cred,
		      strata_ino_t parent, const char *name, mode_t mode,
		      dev_t rdev, const char *target, struct strata_attr *a)
{
	struct strata_attr t;
	int ret = vfs_check_name(name);

	if (ret < 0)
		return ret;
	vfs_new_attr(cred, mode, rdev, &t);
	return strata_catalog_mknode(vfs->cat, parent, name, &t, target, a);
}

int strata_vfs_mknod(struct strata_vfs *vfs, const struct strata_cred *cred,
		     strata_vfs_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev, struct stat *out)
{
	struct strata_attr a;
	int ret;

	if (!S_ISREG(mode) && !S_ISFIFO(mode) && !S_ISSOCK(mode) &&
	    !S_ISCHR(mode) && !S_ISBLK(mode))
		return -EINVAL;
	ret = vfs_mknode(vfs, cred, parent, name, mode, rdev, NULL, &a);
	if (ret < 0)
		return ret;
	return vfs_entry(vfs, &a, out);
}

int strata_vfs_mkdir(struct strata_vfs *vfs, const struct strata_cred *cred,
		     strata_vfs_ino_t parent, const char *name, mode_t mode,
		     struct stat *out)
{
	struct strata_attr a;
	int ret = vfs_mknode(vfs, cred, parent, name, S_IFDIR | (mode & 07777),
			     0, NULL, &a);

	if (ret < 0)
		return ret;
	return vfs_entry(vfs, &a, out);
}

int strata_vfs_symlink(struct strata_vfs *vfs, const struct strata_cred *cred,
		       const char *target, strata_vfs_ino_t parent,
		       const char *name, struct stat *out)
{
	struct strata_attr a;
	int ret;

	if (strlen(target) >= PATH_MAX)
		return -ENAMETOOLONG;
	ret = vfs_mknode(vfs, cred, parent, name, S_IFLNK | 0777, 0, target,
			 &a);
	if (ret < 0)
		return ret;
	a.size = strlen(target);
	return vfs_entry(vfs, &a, out);
}

int strata_vfs_link(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    strata_vfs_ino_t newparent, const char *newname,
		    struct stat *out)
{
	struct timespec now = strata_now();
	struct strata_attr a;
	int ret = vfs_check_name(newname);

	if (ret < 0)
		return ret;
	ret = strata_catalog_link(vfs->cat, ino, newparent, newname, &now, &a);
	if (ret < 0)
		return ret;
	return vfs_entry(vfs, &a, out);
}

int strata_vfs_unlink(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		      const char *name)
{
	struct timespec now = strata_now();
	struct strata_attr victim;
	int ret = vfs_check_name(name);

	if (ret < 0)
		return ret;
	ret = strata_catalog_unlink(vfs->cat, parent, name, &now, &victim);
	if (ret < 0)
		return ret;
	if (victim.nlink == 0)
		strata__vfs_orphan(vfs, victim.ino);
	return 0;
}

int strata_vfs_rmdir(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		     const char *name)
{
	struct timespec now = strata_now();
	struct strata_attr victim;
	int ret = vfs_check_name(name);

	if (ret < 0)
		return ret;
	if (strcmp(name, ".") == 0)
		return -EINVAL;
	if (strcmp(name, "..") == 0)
		return -ENOTEMPTY;
	ret = strata_catalog_rmdir(vfs->cat, parent, name, &now, &victim);
	if (ret < 0)
		return ret;
	strata__vfs_orphan(vfs, victim.ino);
	return 0;
}

/* The path parent/name will have, into buf; "" when it cannot be had. */
static void vfs_path_of(struct strata_vfs *vfs, strata_vfs_ino_t parent,
			const char *name, char *buf, size_t size)
{
	size_t len;

	buf[0] = '\0';
	if (strata_vfs_path(vfs, parent, buf, size) < 0) {
		buf[0] = '\0';
		return;
	}
	len = strlen(buf);
	if (snprintf(buf + len, size - len, "%s%s", len > 1 ? "/" : "", name) >=
	    (int)(size - len))
		buf[0] = '\0';
}

/* A new path can mean a new place: tell the engine which inode moved and
 * from where. */
static void vfs_renamed(struct strata_vfs *vfs, strata_vfs_ino_t parent,
			const char *name, const char *from)
{
	struct strata_attr a;

	if (from[0] && strata_catalog_lookup(vfs->cat, parent, name, &a) == 0)
		vfs->hooks.changed(vfs->hooks.arg, a.ino, from);
}

int strata_vfs_rename(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		      const char *name, strata_vfs_ino_t newparent,
		      const char *newname, unsigned int flags)
{
	struct timespec now = strata_now();
	struct strata_attr victim;
	unsigned int cflags = 0;
	bool replaced = false;
	char from[PATH_MAX], to[PATH_MAX];
	int ret;

	ret = vfs_check_name(name);
	if (ret == 0)
		ret = vfs_check_name(newname);
	if (ret < 0)
		return ret;
	if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE))
		return -EINVAL;
	if (flags & RENAME_NOREPLACE)
		cflags |= STRATA_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		cflags |= STRATA_RENAME_EXCHANGE;
	if (vfs->hooks.changed) {
		vfs_path_of(vfs, parent, name, from, sizeof(from));
		vfs_path_of(vfs, newparent, newname, to, sizeof(to));
	}
	ret = strata_catalog_rename(vfs->cat, parent, name, newparent, newname,
				    cflags, &now, &victim, &replaced);
	if (ret < 0)
		return ret;
	if (replaced && victim.nlink == 0)
		strata__vfs_orphan(vfs, victim.ino);
	if (vfs->hooks.changed) {
		vfs_renamed(vfs, newparent, newname, from);
		if (flags & RENAME_EXCHANGE)
			vfs_renamed(vfs, parent, name, to);
	}
	return 0;
}

int strata_vfs_readlink(struct strata_vfs *vfs, strata_vfs_ino_t ino, char *buf,
			size_t size)
{
	size_t len;
	int ret = strata_catalog_readlink(vfs->cat, ino, buf, size - 1, &len);

	if (ret < 0)
		return ret;
	buf[len] = '\0';
	return 0;
}

int strata_vfs_create(struct strata_vfs *vfs, const struct strata_cred *cred,
		      strata_vfs_ino_t parent, const char *name, mode_t mode,
		      int flags, struct stat *out, uint64_t *fh,
		      unsigned int *oflags)
{
	struct strata_attr a;
	int ret;

	ret = vfs_mknode(vfs, cred, parent, name, S_IFREG | (mode & 07777), 0,
			 NULL, &a);
	if (ret == -EEXIST && !(flags & O_EXCL)) {
		/* Lost a race with another creator: open what is there. */
		ret = strata_catalog_lookup(vfs->cat, parent, name, &a);
		if (ret < 0)
			return ret;
		if (S_ISDIR(a.mode))
			return -EISDIR;
		ret = strata__vfs_open_new(vfs, &a, false, flags, fh, oflags);
	} else if (ret == 0) {
		ret = strata__vfs_open_new(vfs, &a, true, flags & ~O_TRUNC, fh,
					   oflags);
	}
	if (ret < 0)
		return ret;
	strata__vfs_attr_to_stat(&a, out);
	return 0;
}

struct readdir_ctx {
	struct strata_vfs *vfs;
	bool plus;
	strata_vfs_dirent_cb cb;
	void *arg;
	int ret;
};

static int readdir_one(void *arg, const struct strata_dirent *de)
{
	struct readdir_ctx *rc = arg;
	struct strata_attr a = *de->attr;
	struct stat st;
	struct vnode *vn;

	if (rc->plus) {
		strata_vfs_overlay(rc->vfs, &a);
		strata__vfs_attr_to_stat(&a, &st);
	} else {
		memset(&st, 0, sizeof(st));
		st.st_ino = a.ino;
		st.st_mode = a.mode & S_IFMT;
	}
	if (rc->cb(rc->arg, de->name, &st, de->off) != 0)
		return 1;
	if (rc->plus) {
		rc->ret = strata__vfs_vnode_get(rc->vfs, a.ino, 1, 0, &vn);
		if (rc->ret < 0)
			return 1;
	}
	return 0;
}

int strata_vfs_readdir(struct strata_vfs *vfs, strata_vfs_ino_t dir,
		       uint64_t off, bool plus, strata_vfs_dirent_cb cb,
		       void *arg)
{
	struct readdir_ctx rc = {
		.vfs = vfs, .plus = plus, .cb = cb, .arg = arg
	};
	struct strata_attr a;
	struct stat st;
	int ret;

	if (off < 2) {
		ret = strata_catalog_getattr(vfs->cat, dir, &a);
		if (ret < 0)
			return ret;
		if (!S_ISDIR(a.mode))
			return -ENOTDIR;
		strata__vfs_attr_to_stat(&a, &st);
		/* "." and ".." take no lookup reference, even with plus. */
		if (off == 0 && cb(arg, ".", &st, 1) != 0)
			return 0;
		if (cb(arg, "..", &st, 2) != 0)
			return 0;
		off = 2;
	}
	ret = strata_catalog_readdir(vfs->cat, dir, off, readdir_one, &rc);
	if (ret < 0)
		return ret;
	return rc.ret;
}

int strata_vfs_fsyncdir(struct strata_vfs *vfs, strata_vfs_ino_t dir)
{
	return strata_catalog_sync(vfs->cat, true);
}

int strata_vfs_sync(struct strata_vfs *vfs)
{
	int ret = 0;

	/* Data first, then the catalog that points at it. */
	for (unsigned int i = 0; i < vfs->ntiers; i++) {
		int r = strata_backend_syncfs(vfs->tiers[i].be);

		if (r < 0 && ret == 0) {
			strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
				   "cannot sync tier '%s': %s",
				   vfs->tiers[i].name, strerror(-r));
			ret = r;
		}
	}
	if (ret == 0)
		ret = strata_catalog_sync(vfs->cat, true);
	return ret;
}

int strata_vfs_statfs(struct strata_vfs *vfs, struct statvfs *out)
{
	struct strata_catalog_stats cs;
	uint64_t total = 0;
	uint64_t avail = 0;
	uint64_t ffree = 0;
	int ret;

	for (unsigned int i = 0; i < vfs->ntiers; i++) {
		struct strata_backend_statfs bs;

		ret = strata_backend_statfs(vfs->tiers[i].be, &bs);
		if (ret == -EOPNOTSUPP) {
			/* An object store has no size: count its configured
			 * capacity, if any, as free. */
			bs.total = vfs->tiers[i].capacity;
			bs.avail = bs.total;
			bs.files = 0;
			bs.ffree = 0;
		} else if (ret < 0) {
			return ret;
		}
		if (vfs->tiers[i].capacity && vfs->tiers[i].capacity < bs.total)
			bs.total = vfs->tiers[i].capacity;
		if (bs.avail > bs.total)
			bs.avail = bs.total;
		total += bs.total;
		avail += bs.avail;
		ffree += bs.ffree;
	}
	ret = strata_catalog_stats(vfs->cat, &cs);
	if (ret < 0)
		return ret;
	memset(out, 0, sizeof(*out));
	out->f_bsize = 4096;
	out->f_frsize = 4096;
	out->f_blocks = total / 4096;
	out->f_bfree = avail / 4096;
	out->f_bavail = avail / 4096;
	out->f_files = cs.inodes + ffree;
	out->f_ffree = ffree;
	out->f_favail = ffree;
	out->f_namemax = STRATA_NAME_MAX;
	return 0;
}

static int vfs_check_xattr_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > VFS_XATTR_NAME_MAX)
		return -ERANGE;
	/* POSIX ACLs are not supported: the mode bits are the whole truth. */
	if (strncmp(name, "system.", 7) == 0)
		return -EOPNOTSUPP;
	if (strncmp(name, "user.", 5) != 0 &&
	    strncmp(name, "trusted.", 8) != 0 &&
	    strncmp(name, "security.", 9) != 0)
		return -EOPNOTSUPP;
	return 0;
}

int strata_vfs_getxattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			const char *name, void *buf, size_t size, size_t *len)
{
	int ret = vfs_check_xattr_name(name);

	if (ret == -EOPNOTSUPP)
		return -ENODATA;
	if (ret < 0)
		return ret;
	if (strncmp(name, VFS_XATTR_VIRTUAL, strlen(VFS_XATTR_VIRTUAL)) == 0)
		return strata__vfs_virtual_xattr(vfs, ino, name, buf, size,
						 len);
	return strata_catalog_getxattr(vfs->cat, ino, name, buf, size, len);
}

/* User tags feed the rules: tell the engine one changed. */
static void vfs_tag_changed(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			    const char *name)
{
	if (vfs->hooks.changed && strncmp(name, "user.", 5) == 0)
		vfs->hooks.changed(vfs->hooks.arg, ino, NULL);
}

int strata_vfs_setxattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			const char *name, const void *value, size_t size,
			int flags)
{
	struct timespec now = strata_now();
	unsigned int cflags = 0;
	int ret = vfs_check_xattr_name(name);

	if (ret < 0)
		return ret;
	if (size > VFS_XATTR_SIZE_MAX)
		return -E2BIG;
	if (strncmp(name, VFS_XATTR_VIRTUAL, strlen(VFS_XATTR_VIRTUAL)) == 0)
		return -EPERM; /* read-only facts of placement */
	if (flags & XATTR_CREATE)
		cflags |= STRATA_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		cflags |= STRATA_XATTR_REPLACE;
	ret = strata_catalog_setxattr(vfs->cat, ino, name, value, size, cflags,
				      &now);
	if (ret == 0)
		vfs_tag_changed(vfs, ino, name);
	return ret;
}

int strata_vfs_listxattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			 char *buf, size_t size, size_t *len)
{
	return strata_catalog_listxattr(vfs->cat, ino, buf, size, len);
}

int strata_vfs_removexattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			   const char *name)
{
	struct timespec now = strata_now();
	int ret = vfs_check_xattr_name(name);

	if (ret == -EOPNOTSUPP)
		return -ENODATA;
	if (ret < 0)
		return ret;
	if (strncmp(name, VFS_XATTR_VIRTUAL, strlen(VFS_XATTR_VIRTUAL)) == 0)
		return -EPERM;
	ret = strata_catalog_removexattr(vfs->cat, ino, name, &now);
	if (ret == 0)
		vfs_tag_changed(vfs, ino, name);
	return ret;
}

void strata_vfs_set_hooks(struct strata_vfs *vfs,
			  const struct strata_vfs_hooks *hooks)
{
	if (hooks)
		vfs->hooks = *hooks;
	else
		memset(&vfs->hooks, 0, sizeof(vfs->hooks));
}

void strata_vfs_set_backing(struct strata_vfs *vfs,
			    const struct strata_vfs_backing *b)
{
	if (b)
		vfs->backing = *b;
	else
		memset(&vfs->backing, 0, sizeof(vfs->backing));
}
