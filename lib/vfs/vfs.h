/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/vfs.h - POSIX semantics over the catalog and the backends.
 *
 * lib/vfs turns namespace and data calls into catalog transactions and
 * backend I/O. It owns the in-memory inode table (kernel lookup counts, open
 * counts, the size and mtime of files being written), open-file state
 * (one backend object, and so one descriptor, per open file, never per known
 * inode), replica choice and the object-key scheme. It knows nothing of FUSE
 * requests: fuse/ unpacks a request, makes one strata_vfs_* call and replies.
 *
 * Permission checks are the kernel's (the mount uses default_permissions):
 * vfs trusts that the caller may do what it asks, and applies ownership
 * rules (new inodes belong to the caller; setgid directories pass on their
 * group) itself.
 *
 * Every call returns 0 or a negative errno. Every call is thread-safe; calls
 * on one open file may run concurrently, as the kernel sends them.
 */
#ifndef STRATA_VFS_VFS_H
#define STRATA_VFS_VFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "cfg.h"

typedef uint64_t strata_vfs_ino_t;

struct strata_vfs;

/* Who is calling; from the FUSE request. */
struct strata_cred {
	uid_t uid;
	gid_t gid;
};

/* Bits of strata_vfs_setattr()'s valid argument. */
enum strata_vfs_set {
	STRATA_VFS_SET_MODE = 1u << 0,
	STRATA_VFS_SET_UID = 1u << 1,
	STRATA_VFS_SET_GID = 1u << 2,
	STRATA_VFS_SET_SIZE = 1u << 3,
	STRATA_VFS_SET_ATIME = 1u << 4,
	STRATA_VFS_SET_MTIME = 1u << 5,
	STRATA_VFS_SET_ATIME_NOW = 1u << 6,
	STRATA_VFS_SET_MTIME_NOW = 1u << 7,
	STRATA_VFS_SET_CTIME = 1u << 8,
};

/* Bits of the open flags strata_vfs_open() and _create() hand back. */
enum strata_vfs_open_flags {
	STRATA_VFS_KEEP_CACHE = 1u << 0, /* content unchanged: keep pages */
	/* Read-only: its flush has nothing to do, so the kernel may skip
	 * asking at close (one round trip fewer per file read). */
	STRATA_VFS_NO_FLUSH = 1u << 1,
	/* The kernel reads and writes the backing file itself: answer the
	 * open with strata_vfs_backing_id(). */
	STRATA_VFS_PASSTHROUGH = 1u << 2,
	/* Write-only, on a tier with STRATA_BCAP_WRITE_AROUND: the kernel
	 * hands the writer's pages to the mount without copying them into
	 * its page cache, and drops what it cached of the ranges written.
	 * Such an open cannot be mapped (mmap needs read access). */
	STRATA_VFS_DIRECT_IO = 1u << 3,
};

struct strata_vfs_opts {
	double entry_timeout;
	double attr_timeout;
	bool read_only; /* change nothing: no atime, no orphan reclaim */
	/* Look at a namespace that may be mounted elsewhere (the CLI's
	 * dry runs): no mount lock, and read_only. */
	bool inspect;
};

/*
 * Where read data is: either in memory (fd == -1, mem/len: the caller's
 * scratch buffer, or memory the tier lends, see ref) or len bytes at
 * offset off of file descriptor fd, which the caller may splice from
 * before the next call on this open file returns.
 */
struct strata_vfs_buf {
	int fd;
	uint64_t off;
	const void *mem;
	size_t len;
	/* Not NULL when mem is the tier's (an S3 read-ahead buffer, saving a
	 * copy): it stays valid until strata_vfs_buf_release(), which the
	 * caller must call once it has sent the bytes. */
	void *ref;
	void *lender;
};

/* One entry for readdir: name and attr live only during the callback.
 * Return 0 when the entry was taken, non-zero when it did not fit. */
typedef int (*strata_vfs_dirent_cb)(void *arg, const char *name,
				    const struct stat *st, uint64_t next_off);

/*
 * Open the catalog and every tier of cfg, record the tiers in the catalog
 * and reclaim inodes orphaned by a crash. Fails with a message naming the
 * catalog or tier and the cause in err.
 */
int strata_vfs_new(const struct strata_cfg *cfg,
		   const struct strata_vfs_opts *opts, struct strata_vfs **out,
		   char *err, size_t errlen);
/* Flush and close everything: open files, then the catalog. Accepts NULL. */
void strata_vfs_free(struct strata_vfs *vfs);

/* Entry-returning calls take one kernel lookup reference on the inode. */
int strata_vfs_lookup(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		      const char *name, struct stat *out);
void strata_vfs_forget(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		       uint64_t nlookup);
int strata_vfs_getattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		       struct stat *out);
/* fh is the open file the change came through, or 0. */
int strata_vfs_setattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		       uint64_t fh, const struct stat *in, unsigned int valid,
		       struct stat *out);

int strata_vfs_mknod(struct strata_vfs *vfs, const struct strata_cred *cred,
		     strata_vfs_ino_t parent, const char *name, mode_t mode,
		     dev_t rdev, struct stat *out);
int strata_vfs_mkdir(struct strata_vfs *vfs, const struct strata_cred *cred,
		     strata_vfs_ino_t parent, const char *name, mode_t mode,
		     struct stat *out);
int strata_vfs_symlink(struct strata_vfs *vfs, const struct strata_cred *cred,
		       const char *target, strata_vfs_ino_t parent,
		       const char *name, struct stat *out);
int strata_vfs_link(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    strata_vfs_ino_t newparent, const char *newname,
		    struct stat *out);
int strata_vfs_unlink(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		      const char *name);
int strata_vfs_rmdir(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		     const char *name);
/* flags: RENAME_NOREPLACE, RENAME_EXCHANGE as in renameat2(2). */
int strata_vfs_rename(struct strata_vfs *vfs, strata_vfs_ino_t parent,
		      const char *name, strata_vfs_ino_t newparent,
		      const char *newname, unsigned int flags);
/* Writes the NUL-terminated target into buf (size at least PATH_MAX+1). */
int strata_vfs_readlink(struct strata_vfs *vfs, strata_vfs_ino_t ino, char *buf,
			size_t size);

/*
 * Open files. flags are open(2) flags. *fh identifies the open file in the
 * calls below until release; *oflags gets enum strata_vfs_open_flags.
 * create makes the file (O_EXCL honoured) and takes a lookup reference.
 */
int strata_vfs_create(struct strata_vfs *vfs, const struct strata_cred *cred,
		      strata_vfs_ino_t parent, const char *name, mode_t mode,
		      int flags, struct stat *out, uint64_t *fh,
		      unsigned int *oflags);
int strata_vfs_open(struct strata_vfs *vfs, strata_vfs_ino_t ino, int flags,
		    uint64_t *fh, unsigned int *oflags);
/* Read up to size bytes at off; scratch (size bytes) may receive them. */
int strata_vfs_read(struct strata_vfs *vfs, uint64_t fh, uint64_t off,
		    size_t size, void *scratch, struct strata_vfs_buf *out);
/* Give back what a read lent (buf->ref); any thread, even after release. */
void strata_vfs_buf_release(struct strata_vfs *vfs, struct strata_vfs_buf *buf);
int strata_vfs_write(struct strata_vfs *vfs, uint64_t fh, uint64_t off,
		     const void *buf, size_t size, size_t *written);
/* flush: close(2) of one descriptor; fsync: make data and metadata
 * durable; release: the last reference to the open file is gone. */
int strata_vfs_flush(struct strata_vfs *vfs, uint64_t fh);
int strata_vfs_fsync(struct strata_vfs *vfs, uint64_t fh, bool datasync);
int strata_vfs_release(struct strata_vfs *vfs, uint64_t fh);
/* -EOPNOTSUPP when the file's tier cannot allocate. */
int strata_vfs_fallocate(struct strata_vfs *vfs, uint64_t fh, int mode,
			 uint64_t off, uint64_t len);

/*
 * List dir from cookie off (0 = start; "." and ".." come first). With plus,
 * each entry the callback takes gains a lookup reference, as readdirplus
 * requires; without plus st carries only st_ino and the type bits.
 */
int strata_vfs_readdir(struct strata_vfs *vfs, strata_vfs_ino_t dir,
		       uint64_t off, bool plus, strata_vfs_dirent_cb cb,
		       void *arg);
/* Make the catalog durable (fsyncdir). */
int strata_vfs_fsyncdir(struct strata_vfs *vfs, strata_vfs_ino_t dir);
/* Make everything written so far durable: every tier's store (syncfs),
 * then the catalog. Blocks for as long as the stores take. */
int strata_vfs_sync(struct strata_vfs *vfs);
/* Sums over the tiers; files counts catalog inodes. */
int strata_vfs_statfs(struct strata_vfs *vfs, struct statvfs *out);

/* xattrs as getxattr(2) etc.: size 0 asks for the length. *len gets the
 * length of the value or list. flags are XATTR_CREATE / XATTR_REPLACE. */
int strata_vfs_getxattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			const char *name, void *buf, size_t size, size_t *len);
int strata_vfs_setxattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			const char *name, const void *value, size_t size,
			int flags);
int strata_vfs_listxattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			 char *buf, size_t size, size_t *len);
int strata_vfs_removexattr(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			   const char *name);

/* Policy support ---------------------------------------------------------
 *
 * What policy/ needs to carry out its decisions: tier facts, file paths,
 * copies and drops of replicas, and hooks through which the vfs tells the
 * engine about new files, reads and changes. vfs never calls policy/; the
 * engine installs the hooks before the mount serves.
 */

struct strata_catalog;

/* The mount's catalog handle, for the engine's queries and its jobs;
 * borrowed, valid until strata_vfs_free(). */
struct strata_catalog *strata_vfs_catalog(struct strata_vfs *vfs);

struct strata_vfs_tier_info {
	uint32_t id;	  /* catalog tier id */
	const char *name; /* borrowed, valid as long as vfs */
	const char *site;
	unsigned int caps; /* enum strata_bcap */
	uint64_t capacity; /* the configured capacity, else the store's size;
			      0: unknown (a store without a size) */
	uint64_t used;	   /* replicas' bytes (and others' use of the store) */
	uint64_t free;	   /* what may still be written; UINT64_MAX: no
			      limit known */
	uint64_t files;	   /* replicas on the tier */
};

unsigned int strata_vfs_tier_count(struct strata_vfs *vfs);
/* Files whose last writes the catalog could not record yet (a full disk):
 * the mount keeps them and retries. */
unsigned int strata_vfs_unrecorded(struct strata_vfs *vfs);
/* Tier i (0 .. count - 1) in config order, with its usage (one catalog
 * row) and the store's free space (a statfs of the backend). */
int strata_vfs_tier_info(struct strata_vfs *vfs, unsigned int i,
			 struct strata_vfs_tier_info *out);
/* Only id, name, site, caps and the configured capacity: no I/O. */
int strata_vfs_tier_ident(struct strata_vfs *vfs, unsigned int i,
			  struct strata_vfs_tier_info *out);

struct strata_attr;
/* Lay over a, the catalog row of a file, what its open files hold that the
 * catalog does not have yet: the size and mtime being written, the atime
 * of a read (recorded at release). */
void strata_vfs_overlay(struct strata_vfs *vfs, struct strata_attr *a);

/* The path of ino from the mount root ("/a/b"; "/" for the root), by its
 * first name. -ENOENT for an unlinked inode, -ENAMETOOLONG when it does
 * not fit in size. */
int strata_vfs_path(struct strata_vfs *vfs, strata_vfs_ino_t ino, char *buf,
		    size_t size);

/*
 * Make a valid replica of ino's current content on tier dst_tier (a
 * catalog tier id), keeping every other: copy, make durable, verify size
 * and hash, then commit only if the content version is unchanged. 0 when
 * the tier already holds it. -EBUSY while the file is open for writing,
 * has writes the catalog lacks, or another copy or drop of it runs;
 * -ENODATA when its valid replica's object is missing from its tier
 * (damage: strata fsck reports it); -ESTALE when a write
 * changed it during the
 * copy (the copy is void and removed): retry later. *copied gets the bytes
 * copied.
 */
int strata_vfs_copy(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    uint32_t dst_tier, uint64_t *copied);
/*
 * Drop ino's replica on tier_id: its row, a durable catalog commit, then
 * its object. -EMLINK when no other valid copy stays on a tier of this
 * mount (nothing changes), -EBUSY while the file is open or another copy
 * or drop of it runs (retry later), -ENOENT when the tier holds no replica
 * of it.
 */
int strata_vfs_drop(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    uint32_t tier_id);

/*
 * The same copy in two halves, so a batch of copies to one tier can share
 * one sync: start writes the target object (made durable only with sync)
 * and keeps the file from other movers; then, once the target is durable
 * (strata_vfs_sync_tier() when start did not sync), finish reads it back,
 * verifies it and commits it, with the errors of strata_vfs_copy(); abort
 * removes it. *out is NULL (and 0 returned) when there is nothing to copy.
 * finish and abort free the copy.
 */
struct strata_vfs_copy;
int strata_vfs_copy_start(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			  uint32_t dst_tier, bool sync,
			  struct strata_vfs_copy **out, uint64_t *copied);
int strata_vfs_copy_finish(struct strata_vfs *vfs, struct strata_vfs_copy *cp);
void strata_vfs_copy_abort(struct strata_vfs *vfs, struct strata_vfs_copy *cp);
/* Make everything written to tier_id durable (a syncfs of its store). */
int strata_vfs_sync_tier(struct strata_vfs *vfs, uint32_t tier_id);

/*
 * The same drop in two halves, so a batch of drops can share one durable
 * catalog commit: start removes the row (errors of strata_vfs_drop()),
 * then the caller makes the catalog durable (strata_catalog_sync) and
 * finish removes the object only if that worked (durable), else leaves it
 * for strata fsck. finish frees the drop and accepts NULL.
 */
struct strata_vfs_drop;
int strata_vfs_drop_start(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			  uint32_t tier_id, struct strata_vfs_drop **out);
void strata_vfs_drop_finish(struct strata_vfs *vfs, struct strata_vfs_drop *d,
			    bool durable);

/* Make copies under way stop at their next chunk with -ECANCELED (their
 * target objects are removed), so a stop need not wait for big copies. */
void strata_vfs_cancel_moves(struct strata_vfs *vfs);

/* A file about to get its first bytes, for the place hook (which asks
 * strata_vfs_path() for its path only if it needs it). */
struct strata_vfs_newfile {
	strata_vfs_ino_t ino;
	uid_t uid;
	gid_t gid;
};

struct strata_vfs_hooks {
	/* Where a new file's first object goes: a tier id, or 0 for the
	 * config's placement tier. On a FUSE thread: must be quick. */
	uint32_t (*place)(void *arg, const struct strata_vfs_newfile *nf);
	/* ino was opened for reading. Must not block. */
	void (*opened)(void *arg, strata_vfs_ino_t ino);
	/* ino (a file or a directory) was renamed from the path from, or,
	 * with from NULL, its user tags changed: where it belongs may have.
	 * from lives only during the call. Must not block. */
	void (*changed)(void *arg, strata_vfs_ino_t ino, const char *from);
	void *arg;
};

/* Install hooks (copied; NULL removes them). Only while no request is
 * served: before the mount starts and after it ends. */
void strata_vfs_set_hooks(struct strata_vfs *vfs,
			  const struct strata_vfs_hooks *hooks);

/*
 * Passthrough: the kernel can read and write a file's backing descriptor
 * itself (fuse/passthrough.c). With these set, opens of files whose content
 * is on a tier with descriptors (local) hand the kernel a backing file
 * instead of serving reads and writes: open registers a descriptor and
 * returns an id (> 0), or a negative errno, and the file is then served as
 * usual; close forgets an id. One id per inode while any of its open files
 * passes through, as the kernel wants. Writes the vfs no longer sees are
 * taken from the backing file (size, mtime, a new content version) at
 * getattr, setattr, flush, fsync and release.
 */
struct strata_vfs_backing {
	int (*open)(void *arg, int fd);
	void (*close)(void *arg, int id);
	void *arg;
};

/* Install backing callbacks (copied; NULL removes them), as set_hooks. */
void strata_vfs_set_backing(struct strata_vfs *vfs,
			    const struct strata_vfs_backing *b);
/* The backing id an open with STRATA_VFS_PASSTHROUGH passes through. */
int strata_vfs_backing_id(struct strata_vfs *vfs, uint64_t fh);

/* What strata_vfs_import() did so far. */
struct strata_vfs_import_stats {
	uint64_t files;	    /* objects adopted as new files */
	uint64_t bytes;	    /* their sizes */
	uint64_t dirs;	    /* directories made for them */
	uint64_t skipped;   /* keys a replica already had (earlier runs) */
	uint64_t conflicts; /* keys whose name the namespace uses already */
};

/* Progress of an import, now and then and once at the end; return
 * non-zero to stop it (then -ECANCELED). */
typedef int (*strata_vfs_import_cb)(void *arg,
				    const struct strata_vfs_import_stats *st);

/*
 * Adopt, in place, the objects that tier tier_id holds under the key
 * prefix (a directory of the tier: "datasets/imagenet"; "" for all) as
 * files below the directory into: key "PREFIX/a/b" becomes into/a/b, a
 * regular file of mode 0644 with the object's size and mtime and one
 * valid replica that keeps the key; missing directories are made with
 * mode 0755. New inodes belong to into's owner. No object is read,
 * written or moved. Keys that already belong to a replica are skipped, so
 * running it again resumes one cut short; a name the namespace already
 * uses is left alone and counted as a conflict. The catalog is durable at
 * the end. On failure a message naming the key or tier is in err.
 */
int strata_vfs_import(struct strata_vfs *vfs, uint32_t tier_id,
		      const char *prefix, strata_vfs_ino_t into,
		      strata_vfs_import_cb cb, void *arg,
		      struct strata_vfs_import_stats *st, char *err,
		      size_t errlen);

/* What strata_vfs_fsck() finds. */
enum strata_vfs_fsck_kind {
	STRATA_FSCK_ORPHAN_OBJECT,  /* an object no catalog row names */
	STRATA_FSCK_MISSING_OBJECT, /* a valid replica's object is gone */
	STRATA_FSCK_SIZE_MISMATCH,  /* object and file sizes differ */
	STRATA_FSCK_STALE_REPLICA,  /* an outdated copy kept around */
	STRATA_FSCK_TEMPORARY,	    /* a driver's temporary a crash left */
};

struct strata_vfs_fsck_problem {
	enum strata_vfs_fsck_kind kind;
	const char *tier;
	const char *key;
	strata_vfs_ino_t ino; /* 0 for an orphan object */
	uint64_t size;	      /* the object's size, when known */
	uint64_t want;	      /* the file's size (size mismatch) */
	bool repaired;
};

struct strata_vfs_fsck_stats {
	uint64_t objects;  /* objects listed on every tier */
	uint64_t replicas; /* replica rows checked */
	uint64_t problems;
	uint64_t repaired;
};

/* Called once per problem; the strings live only during the call. */
typedef void (*strata_vfs_fsck_cb)(void *arg,
				   const struct strata_vfs_fsck_problem *p);

/*
 * Check the catalog against the tiers of a namespace that is not mounted
 * (strata_vfs_new took its mount lock, and reclaimed unlinked inodes):
 * every object must belong to a replica row, every valid replica's object
 * must exist with the file's size. With repair, orphan objects are removed,
 * and so are stale replicas (object and row) of files that have a valid
 * copy elsewhere; missing objects and size mismatches are only reported.
 */
int strata_vfs_fsck(struct strata_vfs *vfs, bool repair, strata_vfs_fsck_cb cb,
		    void *arg, struct strata_vfs_fsck_stats *out);

#endif
