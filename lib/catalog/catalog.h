/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/catalog/catalog.h - the catalog: the truth of the namespace.
 *
 * The catalog holds inodes (mode, owner, times, size, content version),
 * directory entries, symlink targets, xattrs, tiers, replicas (which tier
 * holds which content version of a file, under which object key), and the
 * tables pins and jobs that the policy engine fills. Backends are never
 * called from here.
 *
 * Every namespace operation below is atomic in the engine: it either happens
 * whole or not at all, and the process sees it at once. Engines may commit
 * operations in groups: other processes see a change within
 * STRATA_CATALOG_GROUP_MS, a crash of this process may lose the changes of
 * that last interval, and strata_catalog_sync() or a durable commit_write()
 * makes everything before it survive a crash or a power cut. The interface
 * is a struct of operations so a second engine (PostgreSQL, for several
 * mounts) can slot in beside the embedded SQLite one without touching
 * callers.
 *
 * Threads: one struct strata_catalog may be shared by all threads of a
 * process. The SQLite engine keeps one connection, used under a mutex, with
 * group commit (sqlite.c), so callers never see "database is locked";
 * other processes (the CLI) wait on a busy timeout.
 *
 * Errors are negative errno: -ENOENT (no such name or inode), -EEXIST,
 * -ENOTEMPTY, -ENOTDIR, -EISDIR, -ENODATA (no such xattr), -ERANGE (buffer
 * too small), -EIO (the engine failed; the detail is logged once), -EPROTO
 * (the catalog file has a schema newer than this program).
 */
#ifndef STRATA_CATALOG_CATALOG_H
#define STRATA_CATALOG_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

typedef uint64_t strata_ino_t;

#define STRATA_ROOT_INO ((strata_ino_t)1)
/* Schema version this program writes; older files are upgraded at open. */
#define STRATA_CATALOG_SCHEMA 3
/* Longest time a change waits before other processes can see it. */
#define STRATA_CATALOG_GROUP_MS 5

struct strata_attr {
	strata_ino_t ino;
	uint32_t mode; /* type and permission bits, as st_mode */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size;
	uint64_t rdev;
	struct timespec atime;
	struct timespec mtime;
	struct timespec ctime;
	struct timespec btime; /* birth */
	uint64_t version;      /* content version; a write bumps it */
};

/* Bits of strata_catalog_setattr()'s valid argument. */
enum strata_attr_set {
	STRATA_SET_MODE = 1u << 0, /* permission bits only; type kept */
	STRATA_SET_UID = 1u << 1,
	STRATA_SET_GID = 1u << 2,
	STRATA_SET_SIZE = 1u << 3,
	STRATA_SET_ATIME = 1u << 4,
	STRATA_SET_MTIME = 1u << 5,
	STRATA_SET_CTIME = 1u << 6,
	STRATA_SET_VERSION = 1u << 7,
};

enum strata_rename_flags {
	STRATA_RENAME_NOREPLACE = 1u << 0,
	STRATA_RENAME_EXCHANGE = 1u << 1,
};

enum strata_xattr_flags {
	STRATA_XATTR_CREATE = 1u << 0,	/* -EEXIST if present */
	STRATA_XATTR_REPLACE = 1u << 1, /* -ENODATA if absent */
};

enum strata_replica_state {
	STRATA_REPLICA_VALID = 0,    /* usable when its version is current */
	STRATA_REPLICA_COPYING = 1,  /* a mover is filling it */
	STRATA_REPLICA_DELETING = 2, /* to be removed from its backend */
};

struct strata_tier_row {
	uint32_t id;
	char name[64];
	char url[1100];
	char site[64];
	uint64_t capacity;
};

struct strata_replica {
	strata_ino_t ino;
	uint32_t tier_id;
	char key[1024];
	uint64_t version;
	uint64_t size;
	enum strata_replica_state state;
};

struct strata_catalog_stats {
	uint64_t inodes; /* live and orphaned */
	uint64_t bytes;	 /* sum of regular file sizes */
};

/*
 * One directory entry, as readdir hands it out. off is the cookie to pass
 * back to continue after this entry: cookies of an entry never change while
 * it exists (a rename keeps it), so offsets stay valid while entries are
 * added and removed. name and attr are valid only during the callback.
 */
struct strata_dirent {
	const char *name;
	const struct strata_attr *attr;
	uint64_t off;
};

/* Return 0 to go on, non-zero to stop (readdir then returns 0). */
typedef int (*strata_catalog_dirent_cb)(void *arg,
					const struct strata_dirent *de);
typedef int (*strata_catalog_replica_cb)(void *arg,
					 const struct strata_replica *r);

/* Jobs: the mover's durable queue (policy/). */
enum strata_job_kind {
	STRATA_JOB_COPY = 1, /* make a valid replica on dst; keep the others */
	STRATA_JOB_MOVE = 2, /* copy to dst, then drop the replica on src */
	STRATA_JOB_DROP = 3, /* drop the replica on src (never the last) */
};

enum strata_job_state {
	STRATA_JOB_PENDING = 0, /* waiting for a worker (or for not_before) */
	STRATA_JOB_RUNNING = 1, /* a worker has it */
	STRATA_JOB_FAILED = 2,	/* gave up after its attempts; kept to see */
};

#define STRATA_JOB_RULE_MAX 64
/* How long a job that gave up keeps a twin from being queued. */
#define STRATA_JOB_FAILED_HOLD_S 3600
#define STRATA_JOB_ERR_MAX 256

struct strata_job {
	int64_t id;
	enum strata_job_kind kind;
	strata_ino_t ino;
	uint32_t src_tier; /* 0: none */
	uint32_t dst_tier; /* 0: none */
	enum strata_job_state state;
	uint32_t attempts;
	uint64_t bytes_done;
	int64_t not_before; /* ns since the epoch: do not start earlier */
	int64_t created;    /* ns */
	int64_t updated;    /* ns */
	char rule[STRATA_JOB_RULE_MAX];	     /* who asked: a rule, "pin", ... */
	char last_error[STRATA_JOB_ERR_MAX]; /* "" when none */
};

/*
 * What the planner filters files by: a tree of tests on inode columns,
 * which an engine turns into an indexed query. Times are ns since the
 * epoch; a test compares the column with value.
 */
enum strata_cq_field {
	STRATA_CQ_SIZE,
	STRATA_CQ_ATIME,
	STRATA_CQ_MTIME,
	STRATA_CQ_CTIME,
	STRATA_CQ_BTIME,
	STRATA_CQ_UID,
	STRATA_CQ_GID,
};

enum strata_cq_kind {
	STRATA_CQ_TRUE, /* every file */
	STRATA_CQ_AND,
	STRATA_CQ_OR,
	STRATA_CQ_NOT,
	STRATA_CQ_TEST,
};

enum strata_cq_op {
	STRATA_CQ_LT,
	STRATA_CQ_LE,
	STRATA_CQ_GT,
	STRATA_CQ_GE,
	STRATA_CQ_EQ,
	STRATA_CQ_NE,
};

struct strata_cq {
	enum strata_cq_kind kind;
	const struct strata_cq *left;  /* AND, OR, NOT */
	const struct strata_cq *right; /* AND, OR */
	enum strata_cq_field field;    /* TEST */
	enum strata_cq_op op;	       /* TEST */
	int64_t value;		       /* TEST */
};

/* A scan: regular files with at least one link, matching where (NULL:
 * all), and, when on_tier is not 0, holding a valid replica there. */
struct strata_catalog_query {
	const struct strata_cq *where;
	uint32_t on_tier;
	bool or_pinned; /* pinned files pass whatever where says */
	/* Every file comes back, and where's verdict (or pinned) is the
	 * row's wanted flag instead of a condition. */
	bool where_as_column;
	bool with_tags; /* fill has_tags (one more index probe per row) */
};

#define STRATA_SCAN_TIERS 8	 /* valid replicas reported per file */
#define STRATA_SCAN_WINDOW 65536 /* inodes one scan call examines */

/* One file found by a scan. */
struct strata_scan_row {
	struct strata_attr attr;
	strata_ino_t parent; /* of its first name */
	char name[256];
	uint32_t pin_tier;		   /* 0: not pinned */
	uint32_t tiers[STRATA_SCAN_TIERS]; /* holding the current version */
	unsigned int ntiers;
	bool has_tags; /* it has user.* xattrs (with_tags) */
	bool wanted;   /* it passes where (always, unless where_as_column) */
};

struct strata_catalog;

struct strata_catalog_ops {
	const char *engine; /* "sqlite" */

	int (*open)(struct strata_catalog *cat, const char *path, char *err,
		    size_t errlen);
	void (*close)(struct strata_catalog *cat);

	int (*lookup)(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, struct strata_attr *out);
	int (*getattr)(struct strata_catalog *cat, strata_ino_t ino,
		       struct strata_attr *out);
	int (*setattr)(struct strata_catalog *cat, strata_ino_t ino,
		       const struct strata_attr *in, unsigned int valid,
		       struct strata_attr *out);
	int (*mknode)(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, const struct strata_attr *tmpl,
		      const char *symlink, struct strata_attr *out);
	int (*link)(struct strata_catalog *cat, strata_ino_t ino,
		    strata_ino_t newparent, const char *newname,
		    const struct timespec *now, struct strata_attr *out);
	int (*unlink)(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, const struct timespec *now,
		      struct strata_attr *victim);
	int (*rmdir)(struct strata_catalog *cat, strata_ino_t parent,
		     const char *name, const struct timespec *now,
		     struct strata_attr *victim);
	int (*rename)(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, strata_ino_t newparent,
		      const char *newname, unsigned int flags,
		      const struct timespec *now, struct strata_attr *victim,
		      bool *replaced);
	int (*readdir)(struct strata_catalog *cat, strata_ino_t dir,
		       uint64_t off, strata_catalog_dirent_cb cb, void *arg);
	int (*readlink)(struct strata_catalog *cat, strata_ino_t ino, char *buf,
			size_t size, size_t *len);
	int (*purge)(struct strata_catalog *cat, strata_ino_t ino);
	int (*orphans)(struct strata_catalog *cat, strata_ino_t *out,
		       size_t max, size_t *n);

	int (*getxattr)(struct strata_catalog *cat, strata_ino_t ino,
			const char *name, void *buf, size_t size, size_t *len);
	int (*setxattr)(struct strata_catalog *cat, strata_ino_t ino,
			const char *name, const void *value, size_t len,
			unsigned int flags, const struct timespec *now);
	int (*listxattr)(struct strata_catalog *cat, strata_ino_t ino,
			 char *buf, size_t size, size_t *len);
	int (*removexattr)(struct strata_catalog *cat, strata_ino_t ino,
			   const char *name, const struct timespec *now);

	int (*tier_ensure)(struct strata_catalog *cat,
			   const struct strata_tier_row *in,
			   struct strata_tier_row *out);
	int (*tier_list)(struct strata_catalog *cat,
			 struct strata_tier_row *out, size_t max, size_t *n);

	int (*replica_list)(struct strata_catalog *cat, strata_ino_t ino,
			    strata_catalog_replica_cb cb, void *arg);
	int (*replica_put)(struct strata_catalog *cat,
			   const struct strata_replica *r);
	int (*replica_del)(struct strata_catalog *cat, strata_ino_t ino,
			   uint32_t tier_id);
	int (*replica_find)(struct strata_catalog *cat, uint32_t tier_id,
			    const char *key, struct strata_replica *out);
	int (*replica_scan)(struct strata_catalog *cat, uint32_t tier_id,
			    strata_ino_t after, struct strata_replica *out,
			    size_t max, size_t *n);
	int (*commit_write)(struct strata_catalog *cat, strata_ino_t ino,
			    uint32_t tier_id, const char *key, uint64_t size,
			    const struct timespec *mtime, bool bump,
			    bool durable, struct strata_attr *out);
	int (*stats)(struct strata_catalog *cat,
		     struct strata_catalog_stats *out);
	int (*sync)(struct strata_catalog *cat, bool durable);
	int (*checkpoint)(struct strata_catalog *cat);

	int (*dentry_of)(struct strata_catalog *cat, strata_ino_t ino,
			 strata_ino_t *parent, char *name, size_t size);
	int (*scan)(struct strata_catalog *cat,
		    const struct strata_catalog_query *q, strata_ino_t after,
		    struct strata_scan_row *out, size_t max, size_t *n,
		    strata_ino_t *next);
	int (*tier_usage)(struct strata_catalog *cat, uint32_t tier_id,
			  uint64_t *bytes, uint64_t *files);
	int (*replica_commit)(struct strata_catalog *cat,
			      const struct strata_replica *r);
	int (*replica_drop)(struct strata_catalog *cat, strata_ino_t ino,
			    uint32_t tier_id, struct strata_replica *other);
	int (*pin_set)(struct strata_catalog *cat, strata_ino_t ino,
		       uint32_t tier_id);
	int (*pin_del)(struct strata_catalog *cat, strata_ino_t ino);
	int (*pin_get)(struct strata_catalog *cat, strata_ino_t ino,
		       uint32_t *tier_id);
	int (*job_add)(struct strata_catalog *cat, const struct strata_job *in,
		       int64_t *id);
	int (*job_list)(struct strata_catalog *cat, int state, int64_t after,
			struct strata_job *out, size_t max, size_t *n);
	int (*job_get)(struct strata_catalog *cat, int64_t id,
		       struct strata_job *out);
	int (*job_update)(struct strata_catalog *cat,
			  const struct strata_job *j);
	int (*job_del)(struct strata_catalog *cat, int64_t id);
	int (*job_requeue)(struct strata_catalog *cat, int64_t *n);
	int (*job_count)(struct strata_catalog *cat, int state, uint64_t *n,
			 uint64_t *bytes);
	int (*heat_add)(struct strata_catalog *cat, strata_ino_t ino,
			int64_t hour, uint32_t reads);
	int (*heat_sum)(struct strata_catalog *cat, strata_ino_t ino,
			int64_t since_hour, uint64_t *reads);
	int (*heat_prune)(struct strata_catalog *cat, int64_t before_hour);
	int (*job_due)(struct strata_catalog *cat, int64_t now,
		       struct strata_job *out, size_t max, size_t *n);
};

struct strata_catalog {
	const struct strata_catalog_ops *ops;
	char path[4096];
	void *priv; /* engine state */
};

/*
 * Open (creating if absent) the catalog at path with the named engine
 * ("sqlite"; NULL means the default). path ":memory:" gives a private
 * in-memory catalog for tests, shared by the threads of this handle. The
 * schema is created or upgraded to STRATA_CATALOG_SCHEMA; the root directory
 * (inode 1, mode 0755, owned by root) exists after open. On failure writes a
 * message naming the file and cause to err.
 */
int strata_catalog_open(const char *engine, const char *path,
			struct strata_catalog **out, char *err, size_t errlen);
/* Closes every thread's connection; no thread may use cat afterwards.
 * Accepts NULL. */
void strata_catalog_close(struct strata_catalog *cat);

/* Name lookup in a directory: -ENOENT, -ENOTDIR when parent is no dir. */
int strata_catalog_lookup(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, struct strata_attr *out);
int strata_catalog_getattr(struct strata_catalog *cat, strata_ino_t ino,
			   struct strata_attr *out);
/*
 * Change the fields named by valid (enum strata_attr_set) to those of in.
 * The caller sets in->ctime and includes STRATA_SET_CTIME when ctime moves.
 * SIZE changes only the recorded size; the caller truncates the bytes.
 * VERSION sets the content version to in->version. out gets the result.
 */
int strata_catalog_setattr(struct strata_catalog *cat, strata_ino_t ino,
			   const struct strata_attr *in, unsigned int valid,
			   struct strata_attr *out);
/*
 * Create an inode from tmpl (mode with type, uid, gid, rdev, times; ino,
 * nlink, size and version are ignored) and its entry parent/name. A
 * directory starts with nlink 2 and raises its parent's nlink; symlink is
 * the target for S_IFLNK and NULL otherwise. In a setgid parent the inode
 * takes the parent's group instead of tmpl's, and a directory the setgid
 * bit too. The parent's mtime and ctime become tmpl->ctime. -EEXIST when
 * the name exists, -ENOENT/-ENOTDIR for a bad parent. Inode numbers are
 * never reused.
 */
int strata_catalog_mknode(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, const struct strata_attr *tmpl,
			  const char *symlink, struct strata_attr *out);
/* A new name for a non-directory (nlink + 1). -EPERM for a directory. */
int strata_catalog_link(struct strata_catalog *cat, strata_ino_t ino,
			strata_ino_t newparent, const char *newname,
			const struct timespec *now, struct strata_attr *out);
/*
 * Remove a non-directory's name; nlink - 1. The inode row stays, even at
 * nlink 0, until strata_catalog_purge() (the caller decides when nobody
 * holds it open). victim gets the inode after the change. -EISDIR for a
 * directory.
 */
int strata_catalog_unlink(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, const struct timespec *now,
			  struct strata_attr *victim);
/* Remove an empty directory: -ENOTEMPTY, -ENOTDIR. victim's nlink is 0
 * after. The inode row stays until purged, like unlink. */
int strata_catalog_rmdir(struct strata_catalog *cat, strata_ino_t parent,
			 const char *name, const struct timespec *now,
			 struct strata_attr *victim);
/*
 * Rename with enum strata_rename_flags. Without flags an existing target is
 * replaced when the kinds agree (-EISDIR, -ENOTDIR otherwise; a directory
 * target must be empty, else -ENOTEMPTY); the replaced inode loses a link
 * (a directory goes to nlink 0), is returned in victim, and *replaced is
 * set; it is purged by the caller like an unlinked one. NOREPLACE gives
 * -EEXIST on an existing target; EXCHANGE swaps two existing names
 * (-ENOENT if the target is missing). Renaming a name onto the same inode
 * does nothing. Directory nlinks and both parents' mtime and ctime follow.
 * The entry keeps its readdir cookie.
 */
int strata_catalog_rename(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, strata_ino_t newparent,
			  const char *newname, unsigned int flags,
			  const struct timespec *now,
			  struct strata_attr *victim, bool *replaced);
/*
 * Call cb for the entries of dir after cookie off (0 = from the start), in
 * cookie order, with their attributes. "." and ".." are not stored and not
 * returned; cookies start above 2 so callers may use 1 and 2 for them.
 */
int strata_catalog_readdir(struct strata_catalog *cat, strata_ino_t dir,
			   uint64_t off, strata_catalog_dirent_cb cb,
			   void *arg);
/* Copy a symlink target (not NUL-terminated) to buf; *len is its length.
 * -ERANGE when size is too small, -EINVAL when ino is not a symlink. */
int strata_catalog_readlink(struct strata_catalog *cat, strata_ino_t ino,
			    char *buf, size_t size, size_t *len);
/* Delete an inode with nlink 0 and all its rows (xattrs, symlink,
 * replicas, pins, jobs). -EBUSY if it still has links. The caller removes
 * the replicas' objects first (list them with replica_list). */
int strata_catalog_purge(struct strata_catalog *cat, strata_ino_t ino);
/* Up to max inodes with nlink 0 (left by a crash), into out. */
int strata_catalog_orphans(struct strata_catalog *cat, strata_ino_t *out,
			   size_t max, size_t *n);

/* Extended attributes: names are full ("user.x"); values are bytes.
 * get/list with size 0 only report the length in *len. */
int strata_catalog_getxattr(struct strata_catalog *cat, strata_ino_t ino,
			    const char *name, void *buf, size_t size,
			    size_t *len);
int strata_catalog_setxattr(struct strata_catalog *cat, strata_ino_t ino,
			    const char *name, const void *value, size_t len,
			    unsigned int flags, const struct timespec *now);
/* Names, each NUL-terminated, one after another. */
int strata_catalog_listxattr(struct strata_catalog *cat, strata_ino_t ino,
			     char *buf, size_t size, size_t *len);
int strata_catalog_removexattr(struct strata_catalog *cat, strata_ino_t ino,
			       const char *name, const struct timespec *now);

/* Find the tier row named in->name, creating it if absent and updating url,
 * site and capacity if they changed; ids are never reused. */
int strata_catalog_tier_ensure(struct strata_catalog *cat,
			       const struct strata_tier_row *in,
			       struct strata_tier_row *out);
int strata_catalog_tier_list(struct strata_catalog *cat,
			     struct strata_tier_row *out, size_t max,
			     size_t *n);

/* Every replica row of ino, any state. */
int strata_catalog_replica_list(struct strata_catalog *cat, strata_ino_t ino,
				strata_catalog_replica_cb cb, void *arg);
/* Insert or replace the row (ino, tier_id). */
int strata_catalog_replica_put(struct strata_catalog *cat,
			       const struct strata_replica *r);
int strata_catalog_replica_del(struct strata_catalog *cat, strata_ino_t ino,
			       uint32_t tier_id);
/* The replica stored under key on tier_id, or -ENOENT. */
int strata_catalog_replica_find(struct strata_catalog *cat, uint32_t tier_id,
				const char *key, struct strata_replica *out);
/* Up to max replicas on tier_id with ino > after, in ino order, into out;
 * page by passing the last ino back as after. */
int strata_catalog_replica_scan(struct strata_catalog *cat, uint32_t tier_id,
				strata_ino_t after, struct strata_replica *out,
				size_t max, size_t *n);
/*
 * Record what writes through an open file did, in one transaction: the
 * inode's size and mtime (ctime = mtime); with bump, a new content version
 * (old version + 1) that the replica (ino, tier_id, key) gets too, making
 * every other replica stale. durable makes the commit survive power loss
 * (fsync), not only a crash of the process.
 */
int strata_catalog_commit_write(struct strata_catalog *cat, strata_ino_t ino,
				uint32_t tier_id, const char *key,
				uint64_t size, const struct timespec *mtime,
				bool bump, bool durable,
				struct strata_attr *out);
int strata_catalog_stats(struct strata_catalog *cat,
			 struct strata_catalog_stats *out);
/* Commit every change so far (visible to other processes); with durable,
 * also make it survive a power cut. */
int strata_catalog_sync(struct strata_catalog *cat, bool durable);
/* Fold the write-ahead log into the main file (at unmount). */
int strata_catalog_checkpoint(struct strata_catalog *cat);

/* Policy support ---------------------------------------------------------- */

/* The first name of ino: its parent and the name (NUL-terminated, size at
 * least 256). -ENOENT when ino has no name (the root, or an orphan). */
int strata_catalog_dentry_of(struct strata_catalog *cat, strata_ino_t ino,
			     strata_ino_t *parent, char *name, size_t size);
/*
 * Up to max files matching q with ino > after, in ino order, into out.
 * *next is where the next page starts (pass it back as after), 0 when the
 * scan is done. Each call examines at most STRATA_SCAN_WINDOW inodes, so
 * a page may be short, even empty, without being the last: the catalog
 * is never held long for other users. An engine turns q->where into an
 * indexed query, so a scan never reads a file's bytes or a backend. Each
 * call is its own short read transaction.
 */
int strata_catalog_scan(struct strata_catalog *cat,
			const struct strata_catalog_query *q,
			strata_ino_t after, struct strata_scan_row *out,
			size_t max, size_t *n, strata_ino_t *next);
/* Bytes and files the replicas on tier_id hold (any version or state),
 * kept per tier as replicas change: one row read. -ENOENT: no such tier. */
int strata_catalog_tier_usage(struct strata_catalog *cat, uint32_t tier_id,
			      uint64_t *bytes, uint64_t *files);
/*
 * Add or replace the replica (r->ino, r->tier_id) as a valid copy of
 * content version r->version, in one transaction, only if that is still
 * the file's version: -ESTALE when a write changed the file since the copy
 * began (the copy is void), -ENOENT when the file is gone.
 */
int strata_catalog_replica_commit(struct strata_catalog *cat,
				  const struct strata_replica *r);
/*
 * Delete the replica row (ino, tier_id), in one transaction with the check
 * that it is not the last valid copy: -EMLINK when no other replica of the
 * current version would remain (nothing changes), -ENOENT when there is no
 * such row. A stale replica may always go. other, if not NULL, gets a
 * valid replica that remains (other->tier_id is 0 if none: the dropped one
 * was stale and the file has no content).
 */
int strata_catalog_replica_drop(struct strata_catalog *cat, strata_ino_t ino,
				uint32_t tier_id, struct strata_replica *other);

/* Pins outrank every rule: one tier per file. -ENOENT: no such inode or
 * tier (set), no pin (del, get). */
int strata_catalog_pin_set(struct strata_catalog *cat, strata_ino_t ino,
			   uint32_t tier_id);
int strata_catalog_pin_del(struct strata_catalog *cat, strata_ino_t ino);
int strata_catalog_pin_get(struct strata_catalog *cat, strata_ino_t ino,
			   uint32_t *tier_id);

/*
 * Jobs. add inserts in->kind, ino, src_tier, dst_tier, rule and
 * not_before as a pending job and returns its id; -EEXIST (with the
 * existing id) when a pending or running job of the same kind already
 * exists for the same file and tiers, or one that gave up less than
 * STRATA_JOB_FAILED_HOLD_S ago. list gives jobs in a state (-1: any)
 * with id > after, in id order. update writes state, attempts,
 * bytes_done, not_before and last_error (updated is set to now). requeue
 * turns every running job back to pending (a restart) and says how many.
 * count gives the number of jobs in a state (-1: any) and the bytes of
 * their files.
 */
int strata_catalog_job_add(struct strata_catalog *cat,
			   const struct strata_job *in, int64_t *id);
int strata_catalog_job_list(struct strata_catalog *cat, int state,
			    int64_t after, struct strata_job *out, size_t max,
			    size_t *n);
int strata_catalog_job_get(struct strata_catalog *cat, int64_t id,
			   struct strata_job *out);
int strata_catalog_job_update(struct strata_catalog *cat,
			      const struct strata_job *j);
int strata_catalog_job_del(struct strata_catalog *cat, int64_t id);
int strata_catalog_job_requeue(struct strata_catalog *cat, int64_t *n);
int strata_catalog_job_count(struct strata_catalog *cat, int state, uint64_t *n,
			     uint64_t *bytes);
/* Up to max pending jobs with not_before <= now (ns), the longest waiting
 * first, so jobs backing off never hide the ones that are due. */
int strata_catalog_job_due(struct strata_catalog *cat, int64_t now,
			   struct strata_job *out, size_t max, size_t *n);

/* Reads of files, counted per hour (hours since the epoch), for heat
 * conditions and eviction by heat. */
int strata_catalog_heat_add(struct strata_catalog *cat, strata_ino_t ino,
			    int64_t hour, uint32_t reads);
int strata_catalog_heat_sum(struct strata_catalog *cat, strata_ino_t ino,
			    int64_t since_hour, uint64_t *reads);
/* Forget the reads counted before before_hour. */
int strata_catalog_heat_prune(struct strata_catalog *cat, int64_t before_hour);

extern const struct strata_catalog_ops strata_catalog_sqlite_ops;

#endif
