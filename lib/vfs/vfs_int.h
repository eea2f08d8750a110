/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/vfs_int.h - state shared by the files of lib/vfs.
 *
 * struct strata_vfs holds the catalog handle, one struct vfs_tier per
 * configured tier, and the inode table. struct vnode is the in-memory state
 * of an inode the kernel knows (lookup references) or has open: the kernel's
 * references, the open count, where the content lives, and, while files are
 * written, the size and mtime that reach the catalog at flush, fsync and
 * release. struct vfile is one open file: one backend object, so one
 * descriptor, per open file and never per inode.
 *
 * Locks: itable->lock guards the hash table and every vnode's nlookup and
 * nopen; vn->lock guards the rest of a vnode; vf->lock guards vf->obj.
 * Order: vf->lock, then vn->lock, then itable->lock; no code takes a
 * vnode's lock while it holds the table's. The reaper's r->lock is a leaf,
 * taken under vn->lock too (a kick when a vnode is kept).
 */
#ifndef STRATA_VFS_INT_H
#define STRATA_VFS_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "backend.h"
#include "catalog.h"
#include "vfs.h"

/* Read-only xattrs that show placement: user.strata.tiers, .state, .pin. */
#define VFS_XATTR_VIRTUAL "user.strata."

/* How long the atime of a read may wait in its vnode for the catalog. */
#define VFS_ATIME_LAZY_MS 10000

/* Object keys: "hhh/mmm/<16 hex digits of the file id>" (data.c), and
 * the NUL. */
#define VFS_KEY_LEN 25

struct vfs_tier {
	uint32_t id; /* catalog tier id */
	char name[64];
	char site[64];
	uint64_t capacity;
	struct strata_backend *be;
};

struct vnode {
	strata_ino_t ino;
	struct vnode *next; /* hash chain, itable->lock */
	uint64_t nlookup;   /* itable->lock */
	uint32_t nopen;	    /* itable->lock */
	uint32_t nhold;	    /* short holds taken by vfs itself; itable->lock */
	bool orphan;	    /* nlink reached 0: purge when unreferenced */

	pthread_mutex_t lock;
	bool loaded;	       /* the fields below are known */
	struct vfs_tier *tier; /* where the valid content is, or NULL */
	/* Its object's key: kbuf, or the heap for a longer one (an imported
	 * object keeps its name); set with strata__vfs_vnode_key(). A vnode
	 * is allocated at every lookup, and a page touched for the first
	 * time is dear: keep it small. */
	char *key;
	char kbuf[VFS_KEY_LEN];
	uint64_t size;	  /* authoritative while nopen > 0 */
	uint64_t version; /* content version at load or last commit */
	struct timespec mtime;
	bool dirty;		 /* size or mtime not yet in the catalog */
	bool written;		 /* content changed since the last commit */
	uint32_t nwriters;	 /* open files with write access */
	uint64_t cached_version; /* what the kernel's page cache holds */
	bool cache_valid;
	bool moving; /* a copy or drop of it is under way (move.c) */
	/* stage.c: the immutable tier the content goes back to, or NULL,
	 * and the content version stored there (when up_valid). */
	struct vfs_tier *stage_to;
	/* Where the first object goes, when an open for writing chose it
	 * before the first write (data.c), or NULL. */
	struct vfs_tier *placed;
	uint64_t up_version;
	bool up_valid;
	struct vfs_upstream *up; /* stage.c: streamed upload, or NULL */
	/* Passthrough (data.c): the open files the kernel serves from the
	 * backing object pt_obj itself, and those served here; never both
	 * at once (the kernel refuses to mix them on an inode). */
	uint32_t npt;
	uint32_t npt_writers;
	uint32_t ncached;
	/* Read-write, while npt > 0, or while kept after its last close. */
	struct strata_obj *pt_obj;
	int pt_id;		  /* its backing id */
	struct timespec pt_ctime; /* its ctime when last looked at */
	bool pt_made;  /* created empty at open; no replica recorded yet */
	bool pt_anon;  /* pt_obj has no key yet (STRATA_OBJ_ANON) */
	bool pt_wrote; /* written around the kernel's FUSE page cache */
	/* The catalog has not recorded its writes and a commit failed (a
	 * full disk): the vnode stays in the table, commits retry, and
	 * pt_obj, should its key have been refused, outlives its last open
	 * file as the only copy of the bytes, which a new open passes
	 * through. Read atomically under itable->lock too. */
	bool kept;
	/* The atime as this vnode knows it: with atime_known, the catalog's
	 * (as loaded, set or recorded); with atime_due, the one a read moved
	 * it to (relatime, judged at the open), which waits for the catalog,
	 * as a local file system writes atimes back: within
	 * VFS_ATIME_LAZY_MS (the reaper), at fsync, or when the vnode goes
	 * (forgotten, or the unmount). getattr shows it meanwhile; an atime
	 * set meanwhile cancels it. A vnode with atime_due is on vfs->atimes
	 * (atime_next, atime_prev: vfs->atime_lock). Written under vn->lock. */
	bool atime_due;
	bool atime_known;
	struct timespec atime;
	struct vnode *atime_next;
	struct vnode *atime_prev;
};

struct vfile {
	struct vnode *vn;
	int flags; /* open(2) flags */
	pthread_mutex_t lock;
	struct strata_obj *obj; /* lazily opened; vf->lock */
	struct vfs_tier *tier;	/* the tier obj belongs to */
	bool pt;		/* passed through: I/O uses vn->pt_obj */
	bool direct;		/* STRATA_VFS_DIRECT_IO */
	struct vfile *prev;	/* vfs->files, vfs->files_lock */
	struct vfile *next;
};

struct vfs_itable {
	pthread_mutex_t lock;
	struct vnode **buckets;
	size_t nbuckets; /* a power of two */
	size_t count;
};

/* Orphans with content waiting for their objects to go (reap.c). */
struct vfs_reaper {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool on;
	bool stopping;	 /* r->lock */
	strata_ino_t *q; /* r->lock */
	size_t n;
	size_t cap;
};

struct strata_vfs {
	struct strata_catalog *cat;
	struct strata_vfs_opts opts;
	char site[64];
	struct vfs_tier *placement;
	unsigned int ntiers;
	struct vfs_tier tiers[STRATA_CFG_MAX_TIERS];
	struct vfs_itable itable;
	int lock_fd; /* flock held on the catalog's mount lock */
	/* Every open file, so a session the kernel ends (a signal) can
	 * still close them all. */
	pthread_mutex_t files_lock;
	struct vfile *files;
	struct vfs_reaper reaper;
	unsigned int nkept; /* vnodes with kept; atomic */
	/* The vnodes with atime_due, and how many (atomic). */
	pthread_mutex_t atime_lock;
	struct vnode *atimes;
	unsigned int natime;
	struct strata_vfs_hooks hooks;	   /* set while nothing is served */
	struct strata_vfs_backing backing; /* likewise; open NULL: none */
	bool cancel_moves; /* atomic: copies stop at the next chunk */
	/* The copies' shared bandwidth (move.c): each chunk takes the next
	 * slot of time; bytes/s, 0 for none. */
	pthread_mutex_t bw_lock;
	uint64_t bw_rate;
	struct timespec bw_next; /* CLOCK_MONOTONIC; bw_lock */
};

/* itable.c */
int strata__vfs_itable_init(struct vfs_itable *it);
void strata__vfs_itable_release(struct vfs_itable *it);
/* Find or add the vnode of ino and add nlookup and nopen references. */
int strata__vfs_vnode_get(struct strata_vfs *vfs, strata_ino_t ino,
			  uint64_t nlookup, uint32_t nopen, struct vnode **out);
/* The vnode of ino, added if the table lacks it, held until unhold. */
int strata__vfs_vnode_grab(struct strata_vfs *vfs, strata_ino_t ino,
			   struct vnode **out);
/* The vnode of ino if the table has it, held until unhold; else NULL. */
struct vnode *strata__vfs_vnode_hold(struct strata_vfs *vfs, strata_ino_t ino);
void strata__vfs_vnode_unhold(struct strata_vfs *vfs, struct vnode *vn);
/* Drop references; the vnode is freed, and an orphan purged, at zero. */
void strata__vfs_vnode_put(struct strata_vfs *vfs, struct vnode *vn,
			   uint64_t nlookup, uint32_t nopen);
/* vn's open count, read atomically: a hint that may change at once. */
static inline uint32_t strata__vfs_vnode_nopen(struct vnode *vn)
{
	return __atomic_load_n(&vn->nopen, __ATOMIC_RELAXED);
}
/* Mark ino orphaned (nlink 0): purge now if nobody holds it. */
void strata__vfs_orphan(struct strata_vfs *vfs, strata_ino_t ino);
/* reap.c: an orphan nobody references any more; its rows go now, or, when
 * it has content, it queues for the reaper. */
void strata__vfs_orphan_gone(struct strata_vfs *vfs, strata_ino_t ino);
/* Handle every queued orphan now: one durable sync, then objects, then
 * rows. Adds the orphans that failed (rows kept) to *failed if not NULL. */
int strata__vfs_reap(struct strata_vfs *vfs, size_t *failed);
void strata__vfs_reaper_init(struct strata_vfs *vfs);
int strata__vfs_reaper_start(struct strata_vfs *vfs);
/* Wake the thread: a kept vnode is there to retry, or an atime waits. */
void strata__vfs_reaper_kick(struct strata_vfs *vfs);
/* Stop the thread; orphans queued after it wait for reaper_release. */
void strata__vfs_reaper_stop(struct strata_vfs *vfs);
/* Stop the thread and reap what is left. */
void strata__vfs_reaper_release(struct strata_vfs *vfs);
/* Drop every vnode at unmount, purging orphans. */
void strata__vfs_itable_drain(struct strata_vfs *vfs);
/* Retry the commit of every kept vnode (the reaper, after 1 s, then twice
 * as long each time up to a minute, while there is one). */
void strata__vfs_retry_kept(struct strata_vfs *vfs);
/* Record every atime that waits in a vnode (the reaper, VFS_ATIME_LAZY_MS
 * after the first began to wait). */
void strata__vfs_flush_atimes(struct strata_vfs *vfs);
/* No atime waits in vn any more, unwritten (vn->lock held, or vn about to
 * be freed). */
void strata__vfs_atime_forget(struct strata_vfs *vfs, struct vnode *vn);

/* move.c: the value of a user.strata.* xattr, as getxattr(2). */
int strata__vfs_virtual_xattr(struct strata_vfs *vfs, strata_ino_t ino,
			      const char *name, void *buf, size_t size,
			      size_t *len);

/* data.c */
/* Close every file still open (the session ended without releases). */
void strata__vfs_release_all(struct strata_vfs *vfs);
/* Open the file of catalog row a for a create: one lookup and one open
 * reference. made: this create made it (a is then all there is to it). */
int strata__vfs_open_new(struct strata_vfs *vfs, const struct strata_attr *a,
			 bool made, int flags, uint64_t *fh,
			 unsigned int *oflags);
void strata__vfs_key(strata_ino_t ino, char *key, size_t len);
/* Set vn->key (vn->lock held, or vn private); "" forgets it. */
int strata__vfs_vnode_key(struct vnode *vn, const char *key);
struct vfs_tier *strata__vfs_tier_by_id(struct strata_vfs *vfs, uint32_t id);
/* How good a source replica r is for content version: 0 unusable (stale,
 * busy or on no configured tier), 1 another site's, 2 this site's. *tier
 * gets its tier (or NULL). */
int strata__vfs_replica_rank(struct strata_vfs *vfs,
			     const struct strata_replica *r, uint64_t version,
			     struct vfs_tier **tier);
/* Load size, version and content location into vn (vn->lock held). */
int strata__vfs_vnode_load(struct strata_vfs *vfs, struct vnode *vn);
/* Commit vn's dirty size and mtime (vn->lock held). */
int strata__vfs_commit(struct strata_vfs *vfs, struct vnode *vn, bool durable);
/* Record the atime of vn's reads, if one waits (vn->lock held). */
void strata__vfs_atime_commit(struct strata_vfs *vfs, struct vnode *vn);
/* Commit vn (vn->lock held); when that fails, keep it (vn->kept). */
int strata__vfs_keep(struct strata_vfs *vfs, struct vnode *vn);
/* vn is about to be freed (vn->lock held or vn private): if kept, what it
 * held is lost, which is said unless orphan (nobody can name the file any
 * more), and a kept object closes. */
void strata__vfs_kept_drop(struct strata_vfs *vfs, struct vnode *vn,
			   bool orphan);
/* Truncate the content of vn to size, through obj if given. */
int strata__vfs_truncate(struct strata_vfs *vfs, struct vnode *vn,
			 struct strata_obj *obj, uint64_t size,
			 struct strata_attr *out);
void strata__vfs_attr_to_stat(const struct strata_attr *a, struct stat *st);
/* Take in what the kernel wrote to ino's passed-through backing file. */
void strata__vfs_pt_absorb(struct strata_vfs *vfs, strata_ino_t ino);
/* Set attributes of ino in the catalog (strata_catalog_setattr()) with its
 * vnode locked, after taking in what the kernel wrote: a release cannot
 * commit the writes' mtime over one set here (tar and rsync set it right
 * after close(2), before the release comes), and the vnode takes it. */
int strata__vfs_attr_set(struct strata_vfs *vfs, strata_ino_t ino,
			 struct strata_attr *a, unsigned int set);

/* stage.c: files at home on a tier that cannot write in place (S3); all
 * with vn->lock held. */
/* t cannot be written in place (no STRATA_BCAP_RANDOM_WRITE). */
bool strata__vfs_tier_immutable(const struct vfs_tier *t);
/* The tier that stages writes for immutable tiers, or NULL. */
struct vfs_tier *strata__vfs_stage_tier(struct strata_vfs *vfs);
/* Before writing a file whose content is on an immutable tier: copy it
 * (nothing with trunc) to the staging tier, which becomes vn->tier. */
int strata__vfs_stage_copyup(struct strata_vfs *vfs, struct vnode *vn,
			     bool trunc);
/* The tier a new file's first object goes on: home (where placement puts
 * it), or the staging tier when home is immutable (then vn->stage_to is
 * set). */
int strata__vfs_stage_create(struct strata_vfs *vfs, struct vnode *vn,
			     struct vfs_tier *home, struct vfs_tier **where);
/* Commit, then store the staged content at home and record it as a valid
 * replica (durably with durable) unless it is there already. */
int strata__vfs_stage_upload(struct strata_vfs *vfs, struct vnode *vn,
			     bool durable);
/* Upload, then drop the staged copy: the file is at home again. Only
 * when nobody has the file open (or the caller is the last). Ends the
 * streamed upload, if any, whatever happens. */
int strata__vfs_stage_settle(struct strata_vfs *vfs, struct vnode *vn);
/* Write [off, off + len) of a file to its object obj and, while it is
 * staged and written by appends, stream it home too, copying buf once
 * (obj is the staged copy when a stream runs). Called without vn->lock. */
int strata__vfs_stage_write(struct vnode *vn, struct strata_obj *obj,
			    uint64_t off, const void *buf, size_t len);
/* Written [off, off + len) of a staged file: stream it home too while the
 * writes are appends. Called without vn->lock, after the staged write. */
void strata__vfs_stage_stream(struct vnode *vn, uint64_t off, const void *buf,
			      size_t len);
/* Forget any upload in progress: vn is (re)loaded from the catalog, which
 * records where the content is (vn->lock held). */
void strata__vfs_stage_forget(struct vnode *vn);
/* The staged content changed other than by appending (vn->lock held). */
void strata__vfs_stage_diverged(struct vnode *vn, uint64_t size);

#endif
