/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/data.c - the data path: open files, read, write, flush, fsync,
 * truncate, and the commit of what writes did to the catalog.
 *
 * Files at home on a tier that cannot write in place (S3) are written on a
 * staging tier and uploaded home at flush, fsync and close (stage.c); the
 * hooks here are the calls into stage.c.
 *
 * An open file holds one backend object, opened at its first read or write;
 * on a local tier that object is a file descriptor, and reads hand it to
 * fuse/ for splicing. Writes go straight to the object; the new size and
 * mtime stay in the vnode and reach the catalog at flush, fsync, release or
 * truncate, together with a new content version. An empty file has no object
 * until its first write, which creates it on the placement tier. Write-only
 * opens of files on a tier with STRATA_BCAP_WRITE_AROUND bypass the kernel's
 * page cache (STRATA_VFS_DIRECT_IO); their writes void what it cached.
 *
 * Passthrough (when fuse/ offers it, vfs.h): an open file whose content is
 * on a tier with descriptors is handed to the kernel, which then reads and
 * writes the backing object itself. Every such open file of an inode shares
 * one backing object, vn->pt_obj; what the kernel wrote is taken from it
 * (vn_pt_absorb) before the size or mtime is reported or committed. A file
 * created for writing gets its object at open then, and loses it again at
 * close if nothing was written. Where the tier can (STRATA_BCAP_ANON), that
 * object is made without its key and takes it at the first commit that
 * records it, so a file created and closed unwritten costs the tier
 * nothing and a crash before the commit leaves nothing behind (on a tier
 * without O_TMPFILE, a scratch file that strata fsck removes). Should the
 * key still be refused at the last close (a full disk), the object stays
 * open, the only copy of those bytes, until a commit links it.
 *
 * A vnode whose writes the catalog has not recorded when it would be
 * dropped (its commit failed: a full disk under the catalog, a refused
 * key) is kept (vn->kept): it stays in the inode table, getattr and new
 * opens see it, and every commit, the reaper's retries among them, tries
 * again; only an unmount that still cannot record it says what is lost.
 *
 * Locks: vf->lock guards vf->obj; vn->lock guards the vnode's content
 * fields (vfs_int.h). I/O runs without vn->lock; the catalog commit runs
 * under it so the size and version recorded belong together.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

/* relatime: a read moves atime when it is older than this or than mtime
 * (noted at open, recorded later: strata__vfs_atime_commit()). */
#define VFS_RELATIME_NS (24ll * 3600 * 1000000000ll)

/*
 * The key of a new object: two shard levels taken from the high bits of
 * the inode number, 4096 objects a directory. Files made together (a
 * dataset, a checkpoint's shards) have neighbouring numbers, so their
 * objects share directory and inode-table blocks on a local or NFS tier,
 * as the files of one directory do on a plain file system: reading them
 * cold costs a few block reads, not several per file. Keys live in the
 * replica rows, so objects made with an earlier layout keep theirs.
 */
void strata__vfs_key(strata_ino_t ino, char *key, size_t len)
{
	snprintf(key, len, "%03x/%03x/%016" PRIx64,
		 (unsigned int)((ino >> 24) & 0xfff),
		 (unsigned int)((ino >> 12) & 0xfff), ino);
}

struct vfs_tier *strata__vfs_tier_by_id(struct strata_vfs *vfs, uint32_t id)
{
	for (unsigned int i = 0; i < vfs->ntiers; i++) {
		if (vfs->tiers[i].id == id)
			return &vfs->tiers[i];
	}
	return NULL;
}

void strata__vfs_attr_to_stat(const struct strata_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = 4096;
	/* Whole 4 KiB blocks, as a local file system allocates them. */
	st->st_blocks = (blkcnt_t)((a->size + 4095) / 4096 * 8);
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

static bool ts_equal(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/*
 * Take in what the kernel wrote to the backing object of a passed-through
 * file (vn->lock held): when its ctime or size moved, its size and mtime
 * become the file's, with a new content version at the next commit. Linux
 * 6.13+ gives a change after a stat a ctime of its own (multigrain
 * timestamps), so even a same-size rewrite is seen.
 */
static void vn_pt_absorb(struct vnode *vn)
{
	struct stat st;

	if (vn->npt_writers == 0 || !vn->pt_obj ||
	    fstat(strata_obj_fd(vn->pt_obj), &st) < 0)
		return;
	if (ts_equal(st.st_ctim, vn->pt_ctime) &&
	    (uint64_t)st.st_size == vn->size)
		return;
	vn->pt_ctime = st.st_ctim;
	vn->size = (uint64_t)st.st_size;
	vn->mtime = st.st_mtim;
	vn->dirty = true;
	vn->written = true;
	vn->pt_wrote = true;
}

/*
 * The backing object of vn was just linked to its key (vn->lock held), and
 * before shows it as vn_pt_absorb() last saw it: the link moved its ctime,
 * which is no write of the kernel's. Unless a write moved the size or
 * mtime meanwhile (a change after a stat gets a new mtime), the new ctime
 * is the one to compare with; else the next look takes that write in. (An
 * mtime set with utimes(2) must not be undone by the next look, as tar and
 * rsync would find.)
 */
static void vn_pt_linked(struct vnode *vn, const struct stat *before)
{
	struct stat st;

	if (fstat(strata_obj_fd(vn->pt_obj), &st) == 0 &&
	    st.st_size == before->st_size &&
	    ts_equal(st.st_mtim, before->st_mtim))
		vn->pt_ctime = st.st_ctim;
}

void strata__vfs_pt_absorb(struct strata_vfs *vfs, strata_ino_t ino)
{
	struct vnode *vn = strata__vfs_vnode_hold(vfs, ino);

	if (!vn)
		return;
	pthread_mutex_lock(&vn->lock);
	vn_pt_absorb(vn);
	pthread_mutex_unlock(&vn->lock);
	strata__vfs_vnode_unhold(vfs, vn);
}

/* No atime waits in vn any more (vn->lock held, or vn private). */
void strata__vfs_atime_forget(struct strata_vfs *vfs, struct vnode *vn)
{
	if (!vn->atime_due)
		return;
	vn->atime_due = false;
	pthread_mutex_lock(&vfs->atime_lock);
	if (vn->atime_prev)
		vn->atime_prev->atime_next = vn->atime_next;
	else
		vfs->atimes = vn->atime_next;
	if (vn->atime_next)
		vn->atime_next->atime_prev = vn->atime_prev;
	vn->atime_next = NULL;
	vn->atime_prev = NULL;
	__atomic_fetch_sub(&vfs->natime, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&vfs->atime_lock);
}

int strata__vfs_attr_set(struct strata_vfs *vfs, strata_ino_t ino,
			 struct strata_attr *a, unsigned int set)
{
	struct vnode *vn = strata__vfs_vnode_hold(vfs, ino);
	int ret;

	if (vn) {
		pthread_mutex_lock(&vn->lock);
		vn_pt_absorb(vn);
	}
	ret = strata_catalog_setattr(vfs->cat, ino, a, set, a);
	if (vn) {
		if (ret == 0 && (set & STRATA_SET_MTIME) && vn->loaded)
			vn->mtime = a->mtime;
		if (ret == 0 && (set & STRATA_SET_ATIME)) {
			strata__vfs_atime_forget(vfs,
						 vn); /* the atime set wins */
			vn->atime = a->atime;
			vn->atime_known = true;
		}
		pthread_mutex_unlock(&vn->lock);
		strata__vfs_vnode_unhold(vfs, vn);
	}
	return ret;
}

/* A read at now moves atime the relatime way: when it is older than mtime
 * or a day. */
static bool vfs_relatime_due(const struct strata_attr *a, struct timespec now)
{
	int64_t at = a->atime.tv_sec * 1000000000ll + a->atime.tv_nsec;
	int64_t mt = a->mtime.tv_sec * 1000000000ll + a->mtime.tv_nsec;

	return at <= mt ||
	       now.tv_sec * 1000000000ll + now.tv_nsec - at >= VFS_RELATIME_NS;
}

/*
 * vn was opened for reading at t (vn->lock held, vn loaded): relatime,
 * judged now against the atime and mtime the vnode knows. A move waits
 * for the catalog, and the reaper is told when it is the first to.
 */
static void vn_atime_read(struct strata_vfs *vfs, struct vnode *vn,
			  struct timespec t)
{
	struct strata_attr a;
	bool first;

	vn_pt_absorb(vn); /* the mtime of passed-through writes so far */
	a.atime = vn->atime;
	a.mtime = vn->mtime;
	/* An atime not known (its write-back failed) moves, to be sure. */
	if (vn->loaded && (vn->atime_due || vn->atime_known) &&
	    !vfs_relatime_due(&a, t))
		return;
	vn->atime = t;
	if (vn->atime_due)
		return;
	vn->atime_due = true;
	pthread_mutex_lock(&vfs->atime_lock);
	vn->atime_prev = NULL;
	vn->atime_next = vfs->atimes;
	if (vfs->atimes)
		vfs->atimes->atime_prev = vn;
	vfs->atimes = vn;
	first = __atomic_fetch_add(&vfs->natime, 1, __ATOMIC_RELAXED) == 0;
	pthread_mutex_unlock(&vfs->atime_lock);
	if (first)
		strata__vfs_reaper_kick(vfs);
}

void strata_vfs_overlay(struct strata_vfs *vfs, struct strata_attr *a)
{
	struct vnode *vn;

	if (!S_ISREG(a->mode))
		return;
	vn = strata__vfs_vnode_hold(vfs, a->ino);
	if (!vn)
		return;
	/*
	 * While the file is open its vnode holds the size and mtime: the
	 * catalog row read before may predate a commit that has just
	 * cleared dirty, as when a release commits while a new open appends.
	 */
	pthread_mutex_lock(&vn->lock);
	vn_pt_absorb(vn);
	if (vn->loaded && (vn->dirty || strata__vfs_vnode_nopen(vn) > 0)) {
		a->size = vn->size;
		a->mtime = vn->mtime;
	} else if (a->version < vn->version) {
		/* The row predates a commit of the vnode's whose open file
		 * is gone since: a release that ran between the caller's
		 * catalog read and now (close(2) of a passed-through file
		 * does not wait for it). The vnode keeps what it committed. */
		a->size = vn->size;
		a->mtime = vn->mtime;
		a->ctime = vn->mtime;
		a->version = vn->version;
	}
	if (vn->loaded && vn->dirty)
		a->ctime = vn->mtime;
	if (vn->atime_due ||
	    (vn->atime_known && strata_ts_before(a->atime, vn->atime)))
		a->atime = vn->atime;
	pthread_mutex_unlock(&vn->lock);
	strata__vfs_vnode_unhold(vfs, vn);
}

struct pick_ctx {
	struct strata_vfs *vfs;
	uint64_t version;
	struct vfs_tier *best;
	char key[STRATA_KEY_MAX];
	int rank;
};

int strata__vfs_replica_rank(struct strata_vfs *vfs,
			     const struct strata_replica *r, uint64_t version,
			     struct vfs_tier **tier)
{
	struct vfs_tier *t = strata__vfs_tier_by_id(vfs, r->tier_id);

	*tier = t;
	if (!t || r->state != STRATA_REPLICA_VALID || r->version != version)
		return 0;
	return strcmp(t->site, vfs->site) == 0 ? 2 : 1;
}

/* Prefer a valid replica at this mount's site, then the first tier. */
static int pick_replica(void *arg, const struct strata_replica *r)
{
	struct pick_ctx *pc = arg;
	struct vfs_tier *t;
	int rank = strata__vfs_replica_rank(pc->vfs, r, pc->version, &t);

	if (rank > pc->rank) {
		pc->rank = rank;
		pc->best = t;
		strata_strlcpy(pc->key, r->key, sizeof(pc->key));
	}
	return 0;
}

/* What vn knows once loaded (vn->lock held): a is its catalog row, tier
 * where its content is (NULL: none). */
static void vn_set_loaded(struct vnode *vn, const struct strata_attr *a,
			  struct vfs_tier *tier)
{
	vn->tier = tier;
	vn->size = a->size;
	vn->version = a->version;
	vn->mtime = a->mtime;
	if (!vn->atime_due) {
		vn->atime = a->atime;
		vn->atime_known = true;
	}
	vn->dirty = false;
	vn->written = false;
	vn->placed = NULL;
	strata__vfs_stage_forget(vn);
	vn->loaded = true;
}

int strata__vfs_vnode_load(struct strata_vfs *vfs, struct vnode *vn)
{
	struct strata_attr a;
	struct pick_ctx pc = { .vfs = vfs };
	int ret;

	if (vn->loaded)
		return 0;
	ret = strata_catalog_getattr(vfs->cat, vn->ino, &a);
	if (ret < 0)
		return ret;
	pc.version = a.version;
	ret = strata_catalog_replica_list(vfs->cat, vn->ino, pick_replica, &pc);
	if (ret < 0)
		return ret;
	if (!pc.best && a.size > 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "inode %" PRIu64 " has %" PRIu64
			   " bytes but no valid replica on a configured tier",
			   vn->ino, a.size);
		return -EIO;
	}
	if (pc.best && strata__vfs_vnode_key(vn, pc.key) < 0)
		return -ENOMEM;
	vn_set_loaded(vn, &a, pc.best);
	return 0;
}

/* Close vn's backing object (vn->lock held). */
static void vn_pt_obj_close(struct vnode *vn)
{
	int ret = strata_obj_close(vn->pt_obj);

	if (ret < 0)
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "closing object '%s' on tier '%s' failed: %s",
			   vn->key, vn->tier ? vn->tier->name : "?",
			   strerror(-ret));
	vn->pt_obj = NULL;
}

/* Keep vn in the table until a commit records what it holds (vn->lock
 * held). */
static void vn_keep(struct strata_vfs *vfs, struct vnode *vn)
{
	if (vn->kept)
		return;
	__atomic_store_n(&vn->kept, true, __ATOMIC_RELEASE);
	__atomic_add_fetch(&vfs->nkept, 1, __ATOMIC_RELAXED);
	strata__vfs_reaper_kick(vfs);
}

/* vn is kept no more (vn->lock held, or vn private): an object kept
 * open past its last close goes. */
static void vn_kept_clear(struct strata_vfs *vfs, struct vnode *vn)
{
	__atomic_store_n(&vn->kept, false, __ATOMIC_RELEASE);
	__atomic_sub_fetch(&vfs->nkept, 1, __ATOMIC_RELAXED);
	if (vn->pt_obj && vn->npt == 0)
		vn_pt_obj_close(vn);
}

/* A commit recorded what vn held (vn->lock held): a kept object has its
 * key now. */
static void vn_unkeep(struct strata_vfs *vfs, struct vnode *vn)
{
	if (!vn->kept)
		return;
	strata_log(STRATA_LOG_NOTICE, STRATA_SUB_VFS,
		   "inode %" PRIu64 ": its last writes are recorded now",
		   vn->ino);
	vn_kept_clear(vfs, vn);
}

int strata__vfs_keep(struct strata_vfs *vfs, struct vnode *vn)
{
	int ret = strata__vfs_commit(vfs, vn, false);

	/* An orphan's writes need no record: nobody can name it. */
	if (ret < 0 && !vn->kept &&
	    !__atomic_load_n(&vn->orphan, __ATOMIC_RELAXED)) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "inode %" PRIu64
			   ": cannot record its size of %" PRIu64
			   " bytes (%s); kept here to try again",
			   vn->ino, vn->size, strerror(-ret));
		vn_keep(vfs, vn);
	}
	return ret;
}

void strata__vfs_kept_drop(struct strata_vfs *vfs, struct vnode *vn,
			   bool orphan)
{
	if (!vn->kept)
		return;
	if (!orphan)
		strata_log(
			STRATA_LOG_ERR, STRATA_SUB_VFS,
			"inode %" PRIu64 ": its last writes are lost (%" PRIu64
			" bytes%s): the catalog never recorded them",
			vn->ino, vn->size,
			vn->pt_obj ? ", whose object never took its key" : "");
	vn_kept_clear(vfs, vn);
}

int strata__vfs_commit(struct strata_vfs *vfs, struct vnode *vn, bool durable)
{
	struct strata_attr out;
	bool bump;
	int ret;

	vn_pt_absorb(vn);
	bump = vn->written && vn->tier;
	if (!vn->loaded || (!vn->dirty && !durable))
		return 0;
	if (!vn->dirty)
		return strata_catalog_sync(vfs->cat, true);
	/* The object takes its key before a replica row names it; an
	 * orphan's never does (nobody can name it again), and goes with its
	 * last close. */
	if (vn->pt_anon && !__atomic_load_n(&vn->orphan, __ATOMIC_RELAXED)) {
		struct stat before;
		bool quiet = fstat(strata_obj_fd(vn->pt_obj), &before) == 0 &&
			     ts_equal(before.st_ctim, vn->pt_ctime);

		ret = strata_obj_link(vn->pt_obj);
		if (ret < 0)
			return ret;
		vn->pt_anon = false;
		if (quiet)
			vn_pt_linked(vn, &before);
	}
	ret = strata_catalog_commit_write(vfs->cat, vn->ino,
					  vn->tier ? vn->tier->id : 0, vn->key,
					  vn->size, &vn->mtime, bump, durable,
					  &out);
	if (ret < 0)
		return ret;
	/* Our own writes went through the kernel's page cache: it still
	 * holds the new content; passed-through ones did not. */
	if (vn->pt_wrote)
		vn->cache_valid = false;
	else if (vn->cache_valid && vn->cached_version == vn->version)
		vn->cached_version = out.version;
	vn->version = out.version;
	vn->dirty = false;
	vn_unkeep(vfs, vn);
	vn->written = false;
	vn->pt_wrote = false;
	if (vn->tier)
		vn->pt_made = false; /* the replica is recorded */
	return 0;
}

/* Where a file's first bytes go: the place hook's tier (place rules, pins),
 * else the config's placement tier. a: the file's catalog row, if the
 * caller has it (a create), else it is read. */
static struct vfs_tier *vn_place(struct strata_vfs *vfs, struct vnode *vn,
				 const struct strata_attr *a)
{
	struct strata_vfs_newfile nf = { .ino = vn->ino };
	struct strata_attr row;
	struct vfs_tier *t;
	uint32_t id;

	if (!vfs->hooks.place)
		return vfs->placement;
	if (!a) {
		if (strata_catalog_getattr(vfs->cat, vn->ino, &row) < 0)
			return vfs->placement;
		a = &row;
	}
	nf.uid = a->uid;
	nf.gid = a->gid;
	id = vfs->hooks.place(vfs->hooks.arg, &nf);
	t = id ? strata__vfs_tier_by_id(vfs, id) : NULL;
	/* An immutable home (S3) is staged by the caller. */
	return t ? t : vfs->placement;
}

/* Where a new file's first bytes go: the choice made at open, if any. */
static struct vfs_tier *vn_home(struct strata_vfs *vfs, struct vnode *vn)
{
	return vn->placed ? vn->placed : vn_place(vfs, vn, NULL);
}

/*
 * Create the first object of a file that has none, on the placement tier,
 * and open it into *obj (vn->lock held, so two writers cannot both create
 * it). It starts empty: whatever an earlier, uncommitted life of the same
 * key left there (a crash, a lost batch) must not show through.
 */
static int vn_create_object(struct strata_vfs *vfs, struct vnode *vn,
			    struct vfs_tier *home, unsigned int flags,
			    struct strata_obj **obj)
{
	struct vfs_tier *where;
	char key[STRATA_KEY_MAX];
	int ret;

	strata__vfs_key(vn->ino, key, sizeof(key));
	ret = strata__vfs_stage_create(vfs, vn, home, &where);
	vn->placed = NULL;
	if (ret < 0)
		return ret;
	ret = strata_obj_open(where->be, key,
			      flags | STRATA_OBJ_WRITE | STRATA_OBJ_CREATE |
				      STRATA_OBJ_TRUNC,
			      obj);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot create object '%s' on tier '%s': %s", key,
			   where->name, strerror(-ret));
		vn->stage_to = NULL;
		return ret;
	}
	vn->tier = where;
	return strata__vfs_vnode_key(vn, key); /* fits kbuf: no failure */
}

/* Make sure vf has its object; for writing, create it on the placement tier
 * when the file has no content yet. */
static int vf_obj(struct strata_vfs *vfs, struct vfile *vf, bool write)
{
	struct vnode *vn = vf->vn;
	unsigned int flags = STRATA_OBJ_READ;
	struct vfs_tier *tier;
	char key[STRATA_KEY_MAX];
	int ret = 0;

	if (vf->pt)
		return 0; /* vn->pt_obj, open while vf is */
	pthread_mutex_lock(&vf->lock);
	if (vf->obj)
		goto out;
	if ((vf->flags & O_ACCMODE) != O_RDONLY)
		flags |= STRATA_OBJ_WRITE;
	pthread_mutex_lock(&vn->lock);
	if (!vn->tier && write) {
		ret = vn_create_object(vfs, vn, vn_home(vfs, vn), flags,
				       &vf->obj);
		if (ret == 0)
			vf->tier = vn->tier;
		pthread_mutex_unlock(&vn->lock);
		goto out;
	}
	tier = vn->tier;
	if (tier)
		strata_strlcpy(key, vn->key, sizeof(key));
	pthread_mutex_unlock(&vn->lock);
	if (!tier) {
		ret = -ENODATA; /* no content yet: reads see an empty file */
		goto out;
	}
	ret = strata_obj_open(tier->be, key, flags, &vf->obj);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot open object '%s' on tier '%s': %s", key,
			   tier->name, strerror(-ret));
		goto out;
	}
	vf->tier = tier;
out:
	pthread_mutex_unlock(&vf->lock);
	return ret;
}

/* The object vf's I/O goes to (after vf_obj). */
static struct strata_obj *vf_io(struct vfile *vf)
{
	return vf->pt ? vf->vn->pt_obj : vf->obj;
}

/* Can the kernel pass files on t through? */
static bool vfs_pt_tier(const struct vfs_tier *t)
{
	return t && (strata_backend_caps(t->be) & STRATA_BCAP_FD) &&
	       !strata__vfs_tier_immutable(t);
}

/* Undo the object vn_pt_open made: nothing was written to it. One without
 * its key went with its close. */
static void vn_pt_unmake(struct vnode *vn)
{
	if (!vn->pt_anon && strata_backend_remove(vn->tier->be, vn->key) < 0)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "cannot remove the empty object '%s' on tier '%s'",
			   vn->key, vn->tier->name);
	vn->tier = NULL;
	strata__vfs_vnode_key(vn, "");
	vn->pt_made = false;
	vn->pt_anon = false;
}

/*
 * Set up passthrough for a new open file of vn (vn->lock held): true when
 * the kernel will serve it from vn->pt_obj. A file without content that is
 * opened for writing gets its first object now, on a tier that can pass it
 * through. Anything that does not work out leaves the file to be served
 * here, as without passthrough.
 */
static bool vn_pt_open(struct strata_vfs *vfs, struct vnode *vn, bool writer)
{
	unsigned int flags = STRATA_OBJ_READ;
	struct strata_obj *obj = vn->pt_obj; /* kept: the only copy */
	struct vfs_tier *t = vn->tier;
	struct stat st;
	int id;

	if (!vfs->backing.open || vn->ncached > 0 || vn->stage_to)
		return false;
	if (vn->npt > 0)
		return true; /* the kernel wants one backing file per inode */
	/* Every open file of the inode shares the backing file: readers'
	 * too, so it must take writes. */
	if (!vfs->opts.read_only)
		flags |= STRATA_OBJ_WRITE;
	if (obj) {
		/* Registered again below. */
	} else if (!t) {
		if (!writer || vfs->opts.read_only)
			return false;
		t = vn_home(vfs, vn);
		vn->placed = t; /* for the first write, if not passed through */
		if (strata_backend_caps(t->be) & STRATA_BCAP_ANON)
			flags |= STRATA_OBJ_ANON;
		if (!vfs_pt_tier(t) ||
		    vn_create_object(vfs, vn, t, flags, &obj) < 0)
			return false;
		vn->pt_made = true;
		vn->pt_anon = (flags & STRATA_OBJ_ANON) != 0;
	} else if (!vfs_pt_tier(t) ||
		   strata_obj_open(t->be, vn->key, flags, &obj) < 0) {
		return false;
	}
	id = fstat(strata_obj_fd(obj), &st) == 0 ?
		     vfs->backing.open(vfs->backing.arg, strata_obj_fd(obj)) :
		     -errno;
	if (id <= 0) {
		if (obj == vn->pt_obj)
			return false; /* kept as it was */
		strata_obj_close(obj);
		if (vn->pt_made)
			vn_pt_unmake(vn);
		return false;
	}
	vn->pt_obj = obj;
	vn->pt_id = id;
	vn->pt_ctime = st.st_ctim;
	return true;
}

/* The last passed-through open file of vn is gone (vn->lock held). */
static void vn_pt_close(struct strata_vfs *vfs, struct vnode *vn)
{
	int ret;

	if (vfs->backing.close)
		vfs->backing.close(vfs->backing.arg, vn->pt_id);
	vn->pt_id = 0;
	/* Written but not recorded (a failed commit): the bytes take their
	 * key now, or the descriptor, their only copy, stays open. An
	 * orphan's go with it. */
	if (vn->pt_anon && (vn->dirty || vn->size > 0) &&
	    !__atomic_load_n(&vn->orphan, __ATOMIC_RELAXED)) {
		ret = strata_obj_link(vn->pt_obj);
		if (ret < 0) {
			strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
				   "inode %" PRIu64 ": its object cannot take "
				   "key '%s' on tier '%s' (%s); its %" PRIu64
				   " bytes stay open here to try again",
				   vn->ino, vn->key,
				   vn->tier ? vn->tier->name : "?",
				   strerror(-ret), vn->size);
			vn_keep(vfs, vn);
			return;
		}
		vn->pt_anon = false;
	}
	vn_pt_obj_close(vn);
	/* Created at open and never written: an empty file has no
	 * object. */
	if (vn->pt_made && !vn->dirty && vn->size == 0)
		vn_pt_unmake(vn);
}

int strata_vfs_backing_id(struct strata_vfs *vfs, uint64_t fh)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	int id;

	(void)vfs;
	pthread_mutex_lock(&vf->vn->lock);
	id = vf->pt ? vf->vn->pt_id : 0;
	pthread_mutex_unlock(&vf->vn->lock);
	return id;
}

/*
 * Whether a write-only open of vn should skip the kernel's page cache: the
 * tier its writes go to asks for it (STRATA_BCAP_WRITE_AROUND). A file
 * without content gets its tier chosen now, and its first write uses that
 * choice (vn->lock held).
 */
static bool vn_write_around(struct strata_vfs *vfs, struct vnode *vn)
{
	struct vfs_tier *t = vn->tier;
	bool any = false;

	/* Without such a tier, creating a file costs no placement. */
	for (unsigned int i = 0; i < vfs->ntiers; i++)
		any |= (strata_backend_caps(vfs->tiers[i].be) &
			STRATA_BCAP_WRITE_AROUND) != 0;
	if (!any)
		return false;
	if (!t) {
		if (!vn->placed)
			vn->placed = vn_place(vfs, vn, NULL);
		t = vn->placed;
	}
	return t && (strata_backend_caps(t->be) & STRATA_BCAP_WRITE_AROUND);
}

static int vf_new(struct strata_vfs *vfs, struct vnode *vn, int flags,
		  uint64_t *fh, unsigned int *oflags)
{
	struct vfile *vf = calloc(1, sizeof(*vf));
	bool writer = (flags & O_ACCMODE) != O_RDONLY;
	int ret;

	if (!vf)
		return -ENOMEM;
	vf->vn = vn;
	vf->flags = flags;
	pthread_mutex_init(&vf->lock, NULL);
	pthread_mutex_lock(&vn->lock);
	ret = strata__vfs_vnode_load(vfs, vn);
	if (ret < 0)
		goto out;
	/* Kept writes (a failed commit) may be recorded now. */
	if (vn->kept)
		(void)strata__vfs_commit(vfs, vn, false);
	if (writer && strata__vfs_tier_immutable(vn->tier)) {
		ret = strata__vfs_stage_copyup(vfs, vn, flags & O_TRUNC);
		if (ret < 0)
			goto out;
	}
	vf->pt = vn_pt_open(vfs, vn, writer);
	if (!vf->pt && vn->pt_obj) {
		/* Its bytes are in that object only, and it cannot be
		 * served here: it has no key to open. */
		ret = -EIO;
		goto out;
	}
	if (vf->pt) {
		/* No flush at close(2), for writers either: the release
		 * that follows takes in what the kernel wrote, as every
		 * getattr before it does (strata__vfs_attr_set() keeps a
		 * utimes(2) made in between), and the writes' own errors
		 * were the kernel's to report. */
		*oflags = STRATA_VFS_PASSTHROUGH | STRATA_VFS_NO_FLUSH;
		vn->npt++;
		if (writer)
			vn->npt_writers++;
	} else {
		*oflags = writer ? 0 : STRATA_VFS_NO_FLUSH;
		if (vn->cache_valid && vn->cached_version == vn->version)
			*oflags |= STRATA_VFS_KEEP_CACHE;
		vn->cached_version = vn->version;
		vn->cache_valid = true;
		vn->ncached++;
		if ((flags & O_ACCMODE) == O_WRONLY &&
		    vn_write_around(vfs, vn)) {
			vf->direct = true;
			*oflags |= STRATA_VFS_DIRECT_IO;
		}
	}
	if (writer)
		vn->nwriters++;
out:
	pthread_mutex_unlock(&vn->lock);
	if (ret < 0) {
		pthread_mutex_destroy(&vf->lock);
		free(vf);
		return ret;
	}
	pthread_mutex_lock(&vfs->files_lock);
	vf->next = vfs->files;
	if (vf->next)
		vf->next->prev = vf;
	vfs->files = vf;
	pthread_mutex_unlock(&vfs->files_lock);
	*fh = (uint64_t)(uintptr_t)vf;
	if ((flags & O_TRUNC) && writer) {
		ret = strata__vfs_truncate(vfs, vn, NULL, 0, NULL);
		if (ret < 0) {
			strata_vfs_release(vfs, *fh);
			return ret;
		}
	}
	return 0;
}

/*
 * A failed write loses the atime: it is not worth keeping a vnode for, nor
 * a catalog kept full by retries. An orphan's row goes soon: the vnode
 * alone keeps it.
 */
void strata__vfs_atime_commit(struct strata_vfs *vfs, struct vnode *vn)
{
	struct strata_attr a = { .atime = vn->atime };

	if (!vn->atime_due)
		return;
	strata__vfs_atime_forget(vfs, vn);
	vn->atime_known = __atomic_load_n(&vn->orphan, __ATOMIC_RELAXED) ||
			  strata_catalog_setattr(vfs->cat, vn->ino, &a,
						 STRATA_SET_ATIME, &a) == 0;
}

/* Open ino, taking nlookup kernel references with the open one; made is
 * its catalog row when this call's caller has just made it. */
static int vfs_open_ref(struct strata_vfs *vfs, strata_ino_t ino,
			uint64_t nlookup, const struct strata_attr *made,
			int flags, uint64_t *fh, unsigned int *oflags)
{
	struct vnode *vn;
	int ret;

	ret = strata__vfs_vnode_get(vfs, ino, nlookup, 1, &vn);
	if (ret < 0)
		return ret;
	if (made) {
		/* No content, no replica: nothing to ask the catalog. Any
		 * change since went through this vnode, which is then
		 * loaded already. */
		pthread_mutex_lock(&vn->lock);
		if (!vn->loaded) {
			vn_set_loaded(vn, made, NULL);
			/* Placed now, from the row at hand. */
			vn->placed = vn_place(vfs, vn, made);
		}
		pthread_mutex_unlock(&vn->lock);
	}
	ret = vf_new(vfs, vn, flags, fh, oflags);
	if (ret < 0)
		strata__vfs_vnode_put(vfs, vn, nlookup, 1);
	return ret;
}

int strata_vfs_open(struct strata_vfs *vfs, strata_vfs_ino_t ino, int flags,
		    uint64_t *fh, unsigned int *oflags)
{
	int ret = vfs_open_ref(vfs, ino, 0, NULL, flags, fh, oflags);

	/* The atime of a read goes to the catalog later, in the background:
	 * a write here, or at release, would cost every first read after a
	 * change a catalog write on the reader's path. */
	if (ret == 0 && (flags & O_ACCMODE) != O_WRONLY && !(flags & O_TRUNC) &&
	    !vfs->opts.read_only) {
		struct vnode *vn = ((struct vfile *)(uintptr_t)*fh)->vn;

		pthread_mutex_lock(&vn->lock);
		vn_atime_read(vfs, vn, strata_now());
		pthread_mutex_unlock(&vn->lock);
	}
	if (ret == 0 && (flags & O_ACCMODE) == O_RDONLY && vfs->hooks.opened)
		vfs->hooks.opened(vfs->hooks.arg, ino);
	return ret;
}

int strata__vfs_open_new(struct strata_vfs *vfs, const struct strata_attr *a,
			 bool made, int flags, uint64_t *fh,
			 unsigned int *oflags)
{
	/* One lookup reference for the entry, one open reference. */
	return vfs_open_ref(vfs, a->ino, 1, made ? a : NULL, flags, fh, oflags);
}

int strata_vfs_read(struct strata_vfs *vfs, uint64_t fh, uint64_t off,
		    size_t size, void *scratch, struct strata_vfs_buf *out)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	struct vnode *vn = vf->vn;
	uint64_t fsize;
	size_t nread = 0;
	int fd;
	int ret;

	out->fd = -1;
	out->mem = scratch;
	out->len = 0;
	out->off = off;
	out->ref = NULL;
	out->lender = NULL;
	pthread_mutex_lock(&vn->lock);
	fsize = vn->size;
	pthread_mutex_unlock(&vn->lock);
	if (off >= fsize)
		return 0;
	if (size > fsize - off)
		size = (size_t)(fsize - off);
	ret = vf_obj(vfs, vf, false);
	if (ret == -ENODATA) {
		/* Grown by truncate and never written: all zeros. */
		memset(scratch, 0, size);
		out->len = size;
		return 0;
	}
	if (ret < 0)
		return ret;
	fd = strata_obj_fd(vf_io(vf));
	if (fd >= 0) {
		out->fd = fd;
		out->len = size;
		return 0;
	}
	ret = strata_obj_read_lend(vf_io(vf), off, scratch, size, &nread,
				   &out->mem, &out->ref);
	if (ret < 0)
		return ret;
	if (out->ref)
		out->lender = vf_io(vf)->be;
	if (nread < size && out->mem != scratch) {
		/* Not expected: a loan covers the whole range. */
		memcpy(scratch, out->mem, nread);
		strata_vfs_buf_release(vfs, out);
		out->mem = scratch;
	}
	if (nread < size)
		memset((char *)scratch + nread, 0, size - nread);
	out->len = size;
	return 0;
}

void strata_vfs_buf_release(struct strata_vfs *vfs, struct strata_vfs_buf *buf)
{
	(void)vfs;
	if (!buf->ref)
		return;
	strata_backend_ref_put(buf->lender, buf->ref);
	buf->ref = NULL;
	buf->lender = NULL;
}

/* Content changed up to byte end: the size and mtime for the next commit,
 * with a new content version (vn->lock held). */
static void vn_note_write(struct vnode *vn, uint64_t end)
{
	if (end > vn->size)
		vn->size = end;
	vn->mtime = strata_now();
	vn->dirty = true;
	vn->written = true;
}

int strata_vfs_write(struct strata_vfs *vfs, uint64_t fh, uint64_t off,
		     const void *buf, size_t size, size_t *written)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	struct vnode *vn = vf->vn;
	int ret;

	ret = vf_obj(vfs, vf, true);
	if (ret < 0)
		return ret;
	ret = strata__vfs_stage_write(vn, vf_io(vf), off, buf, size);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&vn->lock);
	vn_note_write(vn, off + size);
	/* The kernel dropped the cached pages of the range before sending
	 * it, but a reader may have fetched them again before it landed:
	 * the next open must not keep them. */
	if (vf->direct)
		vn->cache_valid = false;
	pthread_mutex_unlock(&vn->lock);
	*written = size;
	return 0;
}

int strata_vfs_flush(struct strata_vfs *vfs, uint64_t fh)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	struct vnode *vn = vf->vn;
	int ret;

	pthread_mutex_lock(&vn->lock);
	ret = strata__vfs_commit(vfs, vn, false);
	/* The last writer's close: its data goes home now, so that close(2)
	 * reports a failed upload. */
	if (ret == 0 && (vf->flags & O_ACCMODE) != O_RDONLY &&
	    vn->nwriters == 1)
		ret = strata__vfs_stage_upload(vfs, vn, false);
	pthread_mutex_unlock(&vn->lock);
	return ret;
}

int strata_vfs_fsync(struct strata_vfs *vfs, uint64_t fh, bool datasync)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	struct vnode *vn = vf->vn;
	int ret = 0;

	/* fsync on any descriptor flushes the file, even one that has not
	 * done I/O of its own yet. */
	ret = vf_obj(vfs, vf, false);
	if (ret == 0) {
		pthread_mutex_lock(&vf->lock);
		ret = strata_obj_sync(vf_io(vf), datasync);
		pthread_mutex_unlock(&vf->lock);
	}
	if (ret < 0 && ret != -ENODATA)
		return ret;
	pthread_mutex_lock(&vn->lock);
	/* Timestamps too, as lazytime file systems do at fsync. */
	strata__vfs_atime_commit(vfs, vn);
	ret = strata__vfs_commit(vfs, vn, true);
	if (ret == 0)
		ret = strata__vfs_stage_upload(vfs, vn, true);
	pthread_mutex_unlock(&vn->lock);
	return ret;
}

int strata_vfs_release(struct strata_vfs *vfs, uint64_t fh)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	struct vnode *vn = vf->vn;
	int ret;
	int cret;

	cret = strata_obj_close(vf->obj); /* NULL when passed through */
	if (cret < 0)
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "closing object '%s' on tier '%s' failed: %s",
			   vn->key, vf->tier ? vf->tier->name : "?",
			   strerror(-cret));
	pthread_mutex_lock(&vn->lock);
	/* Not recorded: kept, and retried (a full disk). */
	ret = strata__vfs_keep(vfs, vn);
	if ((vf->flags & O_ACCMODE) != O_RDONLY) {
		vn->nwriters--;
		if (vf->pt)
			vn->npt_writers--;
	}
	if (!vf->pt)
		vn->ncached--;
	else if (--vn->npt == 0)
		vn_pt_close(vfs, vn);
	/* A failed upload is logged by stage.c and keeps the staged copy. */
	if (ret == 0 && vn->nwriters == 0 && strata__vfs_vnode_nopen(vn) == 1)
		strata__vfs_stage_settle(vfs, vn);
	/* The last open file: where the content lives may change (a move)
	 * before the next open, which reloads it. */
	if (strata__vfs_vnode_nopen(vn) == 1 && !vn->dirty)
		vn->loaded = false;
	pthread_mutex_unlock(&vn->lock);
	pthread_mutex_lock(&vfs->files_lock);
	if (vf->prev)
		vf->prev->next = vf->next;
	else
		vfs->files = vf->next;
	if (vf->next)
		vf->next->prev = vf->prev;
	pthread_mutex_unlock(&vfs->files_lock);
	pthread_mutex_destroy(&vf->lock);
	free(vf);
	strata__vfs_vnode_put(vfs, vn, 0, 1);
	return ret < 0 ? ret : cret;
}

void strata__vfs_release_all(struct strata_vfs *vfs)
{
	struct vfile *vf;

	for (;;) {
		pthread_mutex_lock(&vfs->files_lock);
		vf = vfs->files;
		pthread_mutex_unlock(&vfs->files_lock);
		if (!vf)
			break;
		strata_vfs_release(vfs, (uint64_t)(uintptr_t)vf);
	}
}

int strata_vfs_fallocate(struct strata_vfs *vfs, uint64_t fh, int mode,
			 uint64_t off, uint64_t len)
{
	struct vfile *vf = (struct vfile *)(uintptr_t)fh;
	struct vnode *vn = vf->vn;
	int ret;

	/* Collapsing and inserting ranges would move bytes under the size
	 * kept in the vnode; nothing here asks for them. */
	if (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE |
		     FALLOC_FL_ZERO_RANGE))
		return -EOPNOTSUPP;
	ret = vf_obj(vfs, vf, true);
	if (ret < 0)
		return ret;
	ret = strata_obj_fallocate(vf_io(vf), mode, off, len);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&vn->lock);
	strata__vfs_stage_diverged(vn, UINT64_MAX);
	if (mode & (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE))
		/* The content changed: a new version, as for a write. */
		vn_note_write(vn, (mode & FALLOC_FL_KEEP_SIZE) ? vn->size :
								 off + len);
	else if (!(mode & FALLOC_FL_KEEP_SIZE) && off + len > vn->size)
		vn_note_write(vn, off + len);
	pthread_mutex_unlock(&vn->lock);
	return 0;
}

int strata__vfs_truncate(struct strata_vfs *vfs, struct vnode *vn,
			 struct strata_obj *obj, uint64_t size,
			 struct strata_attr *out)
{
	struct strata_obj *tmp = NULL;
	int ret;

	pthread_mutex_lock(&vn->lock);
	ret = strata__vfs_vnode_load(vfs, vn);
	if (ret < 0)
		goto out;
	if (strata__vfs_tier_immutable(vn->tier)) {
		ret = strata__vfs_stage_copyup(vfs, vn, size == 0);
		if (ret < 0)
			goto out;
	}
	/* Passed-through open files share one object (which may have no key
	 * yet): truncate that one. */
	if (vn->pt_obj)
		obj = vn->pt_obj;
	if (!vn->tier && size > 0) {
		ret = vn_create_object(vfs, vn, vn_home(vfs, vn), 0, &tmp);
		obj = tmp;
	} else if (vn->tier && (!obj || obj->be != vn->tier->be)) {
		ret = strata_obj_open(vn->tier->be, vn->key, STRATA_OBJ_WRITE,
				      &tmp);
		obj = tmp;
	}
	if (ret < 0)
		goto out;
	if (obj) {
		ret = strata_obj_truncate(obj, size);
		if (ret < 0)
			goto out;
	}
	strata__vfs_stage_diverged(vn, size);
	vn->size = size;
	vn->mtime = strata_now();
	vn->dirty = true;
	vn->written = true;
	ret = strata__vfs_commit(vfs, vn, false);
	if (ret == 0 && strata__vfs_vnode_nopen(vn) == 0)
		ret = strata__vfs_stage_settle(vfs, vn);
	if (ret == 0 && out)
		ret = strata_catalog_getattr(vfs->cat, vn->ino, out);
out:
	/* Without open files the location may change under us later. */
	if (strata__vfs_vnode_nopen(vn) == 0 && !vn->dirty)
		vn->loaded = false;
	pthread_mutex_unlock(&vn->lock);
	strata_obj_close(tmp);
	return ret;
}
