/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/catalog/sqlite.c - the embedded SQLite engine of the catalog.
 *
 * Implements struct strata_catalog_ops over one SQLite file in WAL mode.
 * Every namespace operation is one short BEGIN IMMEDIATE transaction; hot
 * reads (lookup, getattr) are one indexed query. The schema itself belongs
 * to migrate.c.
 *
 * Group commit: the mount keeps one connection, and every operation runs
 * as a savepoint inside a batch transaction that is committed once it is
 * CAT_BATCH_MS old (by the next operation or by the flusher thread), or at
 * once, synced, when a caller asks for durability (fsync). One commit thus
 * writes the pages of many operations to the WAL once, instead of each
 * operation writing its own; the cache of the one connection stays warm;
 * and no thread of the process can meet "database is locked". The price is
 * that a crash of the process loses the operations of the last batch that
 * nobody asked to be durable, as a power cut loses a local file system's
 * unsynced metadata. Other processes see commits only, and wait on a
 * 30 s busy timeout.
 *
 * A full disk must not undo operations already reported done: SQLite rolls
 * a transaction back when its COMMIT cannot write the log. So the log keeps
 * CAT_RESERVE bytes allocated past its end (fallocate,
 * FALLOC_FL_KEEP_SIZE), topped up after a commit when less than half is
 * left; when that fails for want of space, later changes fail with ENOSPC
 * before they start, reads go on, and the batch already begun commits into
 * the reserve. Removals (unlink, rmdir, the purge of orphans, dropped
 * replicas) and the sizes of writes already made may still use the reserve,
 * all but its last eighth, so that room can be made through the mount and
 * no written byte goes unrecorded. The log, and with it the reserve,
 * outlives the connection (persistent WAL; the unmount's checkpoint
 * empties it and reserves again), so a mount started on a full disk can
 * do as much. The first
 * change after space was freed finds the reserve made again and carries on.
 *
 * Threads: every call holds s->lock while it uses the connection;
 * statements are prepared once and reset after each use. Callbacks
 * (readdir, replica_list) run with no lock held and no statement active,
 * so they may call back into the catalog.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog.h"
#include "catalog_int.h"
#include "log.h"
#include "util.h"

#define CAT_BUSY_MS 30000
/* Log space kept allocated past the end of the WAL, topped up when less
 * than half is left: far more than a batch writes, and than the WAL grows
 * between two checkpoints (1000 pages). */
#define CAT_RESERVE (8ll << 20)
/* Age at which a batch transaction is committed. */
#define CAT_BATCH_MS STRATA_CATALOG_GROUP_MS
/* Readdir fetches a small first page (a FUSE buffer holds few entries) and
 * larger ones after; no page ever holds the whole directory. */
#define CAT_PAGE_FIRST 64
#define CAT_PAGE_MAX 512
/* Deeper than any real tree; a longer parent chain means a corrupt file. */
#define CAT_MAX_DEPTH 65536

enum cat_stmt_id {
	CAT_ST_BEGIN,
	CAT_ST_BEGIN_READ,
	CAT_ST_COMMIT,
	CAT_ST_ROLLBACK,
	CAT_ST_SAVEPOINT,
	CAT_ST_RELEASE,
	CAT_ST_ROLLBACK_TO,
	CAT_ST_LOOKUP,
	CAT_ST_GETATTR,
	CAT_ST_INODE_INSERT,
	CAT_ST_INODE_PUT,
	CAT_ST_INODE_LINKS,
	CAT_ST_INODE_DEAD,
	CAT_ST_DIR_TOUCH,
	CAT_ST_DENTRY_INSERT,
	CAT_ST_DENTRY_DELETE,
	CAT_ST_DENTRY_MOVE,
	CAT_ST_DENTRY_SETINO,
	CAT_ST_DIR_HAS_CHILD,
	CAT_ST_DIR_PARENT,
	CAT_ST_READDIR,
	CAT_ST_SYMLINK_INSERT,
	CAT_ST_SYMLINK_GET,
	CAT_ST_PURGE_XATTRS,
	CAT_ST_PURGE_SYMLINK,
	CAT_ST_PURGE_REPLICAS,
	CAT_ST_PURGE_PINS,
	CAT_ST_PURGE_JOBS,
	CAT_ST_PURGE_DENTRIES,
	CAT_ST_PURGE_INODE,
	CAT_ST_ORPHANS,
	CAT_ST_XATTR_GET,
	CAT_ST_XATTR_PUT,
	CAT_ST_XATTR_LIST,
	CAT_ST_XATTR_DEL,
	CAT_ST_TIER_BY_NAME,
	CAT_ST_TIER_BY_ID,
	CAT_ST_TIER_INSERT,
	CAT_ST_TIER_UPDATE,
	CAT_ST_TIER_LIST,
	CAT_ST_REPLICA_LIST,
	CAT_ST_REPLICA_PUT,
	CAT_ST_REPLICA_DEL,
	CAT_ST_REPLICA_FIND,
	CAT_ST_REPLICA_SCAN,
	CAT_ST_REPLICA_SET_SIZE,
	CAT_ST_STATS,
	CAT_ST_PURGE_HEAT,
	CAT_ST_DENTRY_OF,
	CAT_ST_TIER_USAGE,
	CAT_ST_REPLICA_OTHER,
	CAT_ST_PIN_SET,
	CAT_ST_PIN_DEL,
	CAT_ST_PIN_GET,
	CAT_ST_JOB_FIND,
	CAT_ST_JOB_INSERT,
	CAT_ST_JOB_LIST,
	CAT_ST_JOB_LIST_ANY,
	CAT_ST_JOB_GET,
	CAT_ST_JOB_UPDATE,
	CAT_ST_JOB_DEL,
	CAT_ST_JOB_REQUEUE,
	CAT_ST_JOB_COUNT,
	CAT_ST_HEAT_ADD,
	CAT_ST_HEAT_SUM,
	CAT_ST_HEAT_PRUNE,
	CAT_ST_JOB_DUE,
	CAT_ST_NEXT_INO,
	CAT_ST__COUNT
};

/* The inode columns in the order cat_row_attr() reads them. */
#define CAT_ATTR_COLS(p)                                                  \
	p "ino, " p "mode, " p "uid, " p "gid, " p "nlink, " p "size, " p \
	  "rdev, " p "atime, " p "mtime, " p "ctime, " p "btime, " p "version"
#define CAT_ATTR_NCOLS 12

static const char *const cat_sql[CAT_ST__COUNT] = {
	[CAT_ST_BEGIN] = "BEGIN IMMEDIATE",
	[CAT_ST_BEGIN_READ] = "BEGIN",
	[CAT_ST_COMMIT] = "COMMIT",
	[CAT_ST_ROLLBACK] = "ROLLBACK",
	[CAT_ST_SAVEPOINT] = "SAVEPOINT op",
	[CAT_ST_RELEASE] = "RELEASE op",
	[CAT_ST_ROLLBACK_TO] = "ROLLBACK TO op",
	/* One query answers all of: no parent, parent no dir, no name. */
	[CAT_ST_LOOKUP] = "SELECT p.mode, p.gid, d.cookie, " CAT_ATTR_COLS(
		"i.") " FROM inodes AS p"
		      " LEFT JOIN dentries AS d ON d.parent = p.ino AND d.name = ?2"
		      " LEFT JOIN inodes AS i ON i.ino = d.ino"
		      " WHERE p.ino = ?1",
	[CAT_ST_GETATTR] =
		"SELECT " CAT_ATTR_COLS("") " FROM inodes WHERE ino = ?1",
	[CAT_ST_INODE_INSERT] =
		"INSERT INTO inodes (mode, uid, gid, nlink, size, rdev, atime,"
		" mtime, ctime, btime, version)"
		" VALUES (?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
	[CAT_ST_INODE_PUT] =
		"UPDATE inodes SET mode = ?2, uid = ?3, gid = ?4, nlink = ?5,"
		" size = ?6, rdev = ?7, atime = ?8, mtime = ?9, ctime = ?10,"
		" btime = ?11, version = ?12 WHERE ino = ?1",
	[CAT_ST_INODE_LINKS] =
		"UPDATE inodes SET nlink = max(nlink + ?2, 0), ctime = ?3"
		" WHERE ino = ?1",
	[CAT_ST_INODE_DEAD] =
		"UPDATE inodes SET nlink = 0, ctime = ?2 WHERE ino = ?1",
	[CAT_ST_DIR_TOUCH] =
		"UPDATE inodes SET nlink = max(nlink + ?2, 0), mtime = ?3,"
		" ctime = ?3 WHERE ino = ?1",
	[CAT_ST_DENTRY_INSERT] =
		"INSERT INTO dentries (parent, name, ino) VALUES (?1, ?2, ?3)",
	[CAT_ST_DENTRY_DELETE] = "DELETE FROM dentries WHERE cookie = ?1",
	[CAT_ST_DENTRY_MOVE] =
		"UPDATE dentries SET parent = ?2, name = ?3 WHERE cookie = ?1",
	[CAT_ST_DENTRY_SETINO] =
		"UPDATE dentries SET ino = ?2 WHERE cookie = ?1",
	[CAT_ST_DIR_HAS_CHILD] =
		"SELECT 1 FROM dentries WHERE parent = ?1 LIMIT 1",
	[CAT_ST_DIR_PARENT] =
		"SELECT parent FROM dentries WHERE ino = ?1 LIMIT 1",
	[CAT_ST_READDIR] = "SELECT d.cookie, d.name, " CAT_ATTR_COLS(
		"i.") " FROM dentries AS d JOIN inodes AS i ON i.ino = d.ino"
		      " WHERE d.parent = ?1 AND d.cookie > ?2"
		      " ORDER BY d.cookie LIMIT ?3",
	[CAT_ST_SYMLINK_INSERT] =
		"INSERT INTO symlinks (ino, target) VALUES (?1, ?2)",
	[CAT_ST_SYMLINK_GET] =
		"SELECT i.mode, s.target FROM inodes AS i"
		" LEFT JOIN symlinks AS s ON s.ino = i.ino WHERE i.ino = ?1",
	[CAT_ST_PURGE_XATTRS] = "DELETE FROM xattrs WHERE ino = ?1",
	[CAT_ST_PURGE_SYMLINK] = "DELETE FROM symlinks WHERE ino = ?1",
	[CAT_ST_PURGE_REPLICAS] = "DELETE FROM replicas WHERE ino = ?1",
	[CAT_ST_PURGE_PINS] = "DELETE FROM pins WHERE ino = ?1",
	[CAT_ST_PURGE_JOBS] = "DELETE FROM jobs WHERE ino = ?1",
	[CAT_ST_PURGE_DENTRIES] = "DELETE FROM dentries WHERE ino = ?1",
	[CAT_ST_PURGE_INODE] = "DELETE FROM inodes WHERE ino = ?1",
	/* "nlink = 0" literally, so the partial index applies. */
	[CAT_ST_ORPHANS] =
		"SELECT ino FROM inodes WHERE nlink = 0 ORDER BY ino LIMIT ?1",
	[CAT_ST_XATTR_GET] =
		"SELECT i.ino, x.value FROM inodes AS i"
		" LEFT JOIN xattrs AS x ON x.ino = i.ino AND x.name = ?2"
		" WHERE i.ino = ?1",
	[CAT_ST_XATTR_PUT] = "INSERT OR REPLACE INTO xattrs (ino, name, value)"
			     " VALUES (?1, ?2, ?3)",
	[CAT_ST_XATTR_LIST] =
		"SELECT name FROM xattrs WHERE ino = ?1 ORDER BY name",
	[CAT_ST_XATTR_DEL] = "DELETE FROM xattrs WHERE ino = ?1 AND name = ?2",
	[CAT_ST_TIER_BY_NAME] =
		"SELECT id, name, url, site, capacity FROM tiers"
		" WHERE name = ?1",
	[CAT_ST_TIER_BY_ID] = "SELECT 1 FROM tiers WHERE id = ?1",
	[CAT_ST_TIER_INSERT] = "INSERT INTO tiers (name, url, site, capacity)"
			       " VALUES (?1, ?2, ?3, ?4)",
	[CAT_ST_TIER_UPDATE] =
		"UPDATE tiers SET url = ?2, site = ?3, capacity = ?4"
		" WHERE id = ?1",
	[CAT_ST_TIER_LIST] = "SELECT id, name, url, site, capacity FROM tiers"
			     " ORDER BY id LIMIT ?1",
	[CAT_ST_REPLICA_LIST] =
		"SELECT ino, tier_id, key, version, size, state FROM replicas"
		" WHERE ino = ?1 ORDER BY tier_id",
	[CAT_ST_REPLICA_PUT] = "INSERT OR REPLACE INTO replicas"
			       " (ino, tier_id, key, version, size, state)"
			       " VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
	[CAT_ST_REPLICA_FIND] =
		"SELECT ino, tier_id, key, version, size, state FROM replicas"
		" WHERE tier_id = ?1 AND key = ?2 LIMIT 1",
	[CAT_ST_REPLICA_SCAN] =
		"SELECT ino, tier_id, key, version, size, state FROM replicas"
		" WHERE tier_id = ?1 AND ino > ?2 ORDER BY ino LIMIT ?3",
	[CAT_ST_REPLICA_DEL] =
		"DELETE FROM replicas WHERE ino = ?1 AND tier_id = ?2",
	[CAT_ST_REPLICA_SET_SIZE] =
		"UPDATE replicas SET size = ?3 WHERE ino = ?1 AND tier_id = ?2",
	[CAT_ST_STATS] =
		"SELECT count(*), coalesce(sum(CASE WHEN (mode & 61440) = 32768"
		" THEN size ELSE 0 END), 0) FROM inodes",
	[CAT_ST_PURGE_HEAT] = "DELETE FROM heat WHERE ino = ?1",
	[CAT_ST_DENTRY_OF] = "SELECT parent, name FROM dentries WHERE ino = ?1"
			     " ORDER BY cookie LIMIT 1",
	[CAT_ST_TIER_USAGE] = "SELECT used, files FROM tiers WHERE id = ?1",
	/* A valid replica of the current version on another tier. */
	[CAT_ST_REPLICA_OTHER] =
		"SELECT r.ino, r.tier_id, r.key, r.version, r.size, r.state"
		" FROM replicas AS r JOIN inodes AS i ON i.ino = r.ino"
		" WHERE r.ino = ?1 AND r.tier_id != ?2 AND r.state = 0"
		" AND r.version = i.version ORDER BY r.tier_id LIMIT 1",
	[CAT_ST_PIN_SET] = "INSERT OR REPLACE INTO pins (ino, tier_id, created)"
			   " VALUES (?1, ?2, ?3)",
	[CAT_ST_PIN_DEL] = "DELETE FROM pins WHERE ino = ?1",
	[CAT_ST_PIN_GET] = "SELECT tier_id FROM pins WHERE ino = ?1",
	/* A job that gave up blocks its twin for a while: no new row per
	 * pass for a file that keeps failing. */
	[CAT_ST_JOB_FIND] =
		"SELECT id FROM jobs WHERE ino = ?1 AND kind = ?2"
		" AND coalesce(src_tier, 0) = ?3 AND coalesce(dst_tier, 0) = ?4"
		" AND (state IN (0, 1) OR (state = 2 AND updated > ?5))"
		" LIMIT 1",
	[CAT_ST_JOB_INSERT] =
		"INSERT INTO jobs (kind, ino, src_tier, dst_tier, state,"
		" attempts, last_error, bytes_done, created, updated, rule,"
		" not_before) VALUES (?1, ?2, ?3, ?4, 0, 0, '', 0, ?5, ?5, ?6,"
		" ?7)",
#define CAT_JOB_COLS                                                        \
	"id, kind, ino, coalesce(src_tier, 0), coalesce(dst_tier, 0),"      \
	" state, attempts, bytes_done, not_before, created, updated, rule," \
	" coalesce(last_error, '')"
	[CAT_ST_JOB_LIST] =
		"SELECT " CAT_JOB_COLS " FROM jobs"
		" WHERE state = ?1 AND id > ?2 ORDER BY id LIMIT ?3",
	[CAT_ST_JOB_LIST_ANY] = "SELECT " CAT_JOB_COLS " FROM jobs"
				" WHERE id > ?2 ORDER BY id LIMIT ?3",
	[CAT_ST_JOB_GET] = "SELECT " CAT_JOB_COLS " FROM jobs WHERE id = ?1",
	[CAT_ST_JOB_UPDATE] =
		"UPDATE jobs SET state = ?2, attempts = ?3, bytes_done = ?4,"
		" not_before = ?5, last_error = ?6, updated = ?7 WHERE id = ?1",
	[CAT_ST_JOB_DEL] = "DELETE FROM jobs WHERE id = ?1",
	[CAT_ST_JOB_REQUEUE] = "UPDATE jobs SET state = 0 WHERE state = 1",
	[CAT_ST_JOB_COUNT] =
		"SELECT count(*), coalesce(sum(i.size), 0) FROM jobs AS j"
		" LEFT JOIN inodes AS i ON i.ino = j.ino"
		" WHERE ?1 < 0 OR j.state = ?1",
	[CAT_ST_HEAT_ADD] =
		"INSERT INTO heat (ino, hour, reads) VALUES (?1, ?2, ?3)"
		" ON CONFLICT (ino, hour) DO UPDATE SET reads = reads + ?3",
	[CAT_ST_HEAT_SUM] = "SELECT coalesce(sum(reads), 0) FROM heat"
			    " WHERE ino = ?1 AND hour >= ?2",
	[CAT_ST_HEAT_PRUNE] = "DELETE FROM heat WHERE hour < ?1",
	/* Pending jobs whose time has come, the longest waiting first. */
	[CAT_ST_NEXT_INO] = "SELECT min(ino) FROM inodes WHERE ino > ?1",
	[CAT_ST_JOB_DUE] = "SELECT " CAT_JOB_COLS " FROM jobs"
			   " WHERE state = 0 AND not_before <= ?1"
			   " ORDER BY not_before, id LIMIT ?3",
};

struct cat_sqlite;

struct cat_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[CAT_ST__COUNT]; /* prepared on first use */
};

struct cat_sqlite {
	pthread_mutex_t lock; /* the connection and the batch */
	pthread_cond_t wake;  /* tells the flusher a batch began or we stop */
	pthread_t flusher;
	bool flusher_on;
	bool stopping; /* s->lock */
	bool mem;
	const char *path; /* borrowed from struct strata_catalog */
	struct cat_conn *conn;
	bool batch;		     /* a batch transaction is open; s->lock */
	struct timespec batch_start; /* CLOCK_MONOTONIC; s->lock */
	bool lost;	     /* a batch was rolled back: no more writes */
	bool batch_writer;   /* it began with BEGIN IMMEDIATE */
	bool batch_wrote;    /* the open batch changed something */
	bool unsynced;	     /* commits since the last synced one */
	int walfd;	     /* the WAL, read-write; -1 until used */
	bool dir_synced;     /* its directory, since the WAL was made */
	off_t reserved;	     /* the WAL's bytes allocated from 0, or 0 */
	bool full;	     /* the reserve cannot be made: changes refused */
	bool no_reserve;     /* its file system cannot fallocate */
	bool reserve_warned; /* the lack of a reserve was said */
};

/* One directory entry as found by cat_find(). */
struct cat_entry {
	bool dir_ok;	   /* the parent exists and is a directory */
	uint32_t dir_mode; /* and its mode and group, when dir_ok */
	uint32_t dir_gid;
	sqlite3_int64 cookie;
	struct strata_attr attr;
};

struct cat_dirent_buf {
	struct strata_attr attr;
	uint64_t off;
	char name[STRATA_NAME_MAX + 1];
};

int strata__catalog_errno(sqlite3 *db, int rc, const char *what)
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int ret;

	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		ret = -EAGAIN;
		break;
	case SQLITE_CONSTRAINT:
		if (rc == SQLITE_CONSTRAINT_UNIQUE ||
		    rc == SQLITE_CONSTRAINT_PRIMARYKEY)
			ret = -EEXIST;
		else
			ret = -EINVAL;
		break;
	case SQLITE_FULL:
		ret = -ENOSPC;
		break;
	case SQLITE_NOMEM:
		ret = -ENOMEM;
		break;
	case SQLITE_READONLY:
		ret = -EROFS;
		break;
	default:
		ret = -EIO;
		break;
	}
	strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
		   "sqlite: cannot %s: %s (code %d)", what, msg, rc);
	return ret;
}

static int cat_errno(struct cat_conn *c, int rc, const char *what)
{
	return strata__catalog_errno(c->db, rc, what);
}

static sqlite3_int64 cat_ns(const struct timespec *ts)
{
	return strata__catalog_ts_to_ns(ts);
}

/* ---- connections ---- */

static void cat_conn_close(struct cat_conn *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < CAT_ST__COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close_v2(c->db);
	free(c);
}

static int cat_conn_open(struct cat_sqlite *s, struct cat_conn **out, char *err,
			 size_t errlen)
{
	/*
	 * temp_store stays FILE, SQLite's default: every operation is a
	 * savepoint, which copies each page it changes to a statement
	 * journal first. With temp_store = MEMORY that journal grows in
	 * 1 KiB chunks, four mallocs a page; with FILE it is still kept in
	 * memory, in 64 KiB chunks, up to 64 KiB an operation (16 pages,
	 * far more than one changes), and only beyond goes to a file.
	 */
	static const char pragmas[] = "PRAGMA journal_mode = WAL;"
				      "PRAGMA synchronous = NORMAL;"
				      "PRAGMA foreign_keys = OFF;"
				      /* REPLACE fires delete triggers: the
				       * tiers' usage counts stay right. */
				      "PRAGMA recursive_triggers = ON;"
				      "PRAGMA cache_size = -65536;";
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			  SQLITE_OPEN_NOMUTEX;
	struct cat_conn *c;
	int rc, ret;

	c = calloc(1, sizeof(*c));
	if (!c) {
		ret = -ENOMEM;
		snprintf(err, errlen, "cannot open catalog '%s': %s", s->path,
			 strerror(ENOMEM));
		goto out;
	}
	rc = sqlite3_open_v2(s->path, &c->db, flags, NULL);
	if (rc == SQLITE_OK) {
		/* The log outlives the connection, and with it the space
		 * reserved for it (cat_reserve()): a mount started on a full
		 * disk can still remove files. (No journal_size_limit: it
		 * would truncate the log, and the reserve with it.) */
		int persist = 1;

		sqlite3_extended_result_codes(c->db, 1);
		sqlite3_busy_timeout(c->db, CAT_BUSY_MS);
		sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL,
				     &persist);
		rc = sqlite3_exec(c->db, pragmas, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot open catalog '%s': %s", s->path,
			 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		ret = cat_errno(c, rc, "open catalog");
		cat_conn_close(c);
		c = NULL;
		goto out;
	}
	ret = 0;
out:
	*out = c;
	return ret;
}

/* ---- statements and transactions ---- */

static int cat_stmt(struct cat_conn *c, enum cat_stmt_id id, sqlite3_stmt **out)
{
	int rc;

	if (!c->stmt[id]) {
		rc = sqlite3_prepare_v3(c->db, cat_sql[id], -1,
					SQLITE_PREPARE_PERSISTENT, &c->stmt[id],
					NULL);
		if (rc != SQLITE_OK) {
			*out = NULL;
			return cat_errno(c, rc, "prepare statement");
		}
	}
	*out = c->stmt[id];
	return 0;
}

/* Step st to its end (rows are ignored) and reset it. */
static int cat_done(struct cat_conn *c, sqlite3_stmt *st, const char *what)
{
	int rc;

	do {
		rc = sqlite3_step(st);
	} while (rc == SQLITE_ROW);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return cat_errno(c, rc, what);
	return 0;
}

/* Run a statement without parameters. */
static int cat_run(struct cat_conn *c, enum cat_stmt_id id, const char *what)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, id, &st);
	if (ret < 0)
		return ret;
	return cat_done(c, st, what);
}

/* A statement with a single integer parameter, stepped to its end. */
static int cat_run_ino(struct cat_conn *c, enum cat_stmt_id id,
		       strata_ino_t ino, const char *what)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, id, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	return cat_done(c, st, what);
}

static int64_t cat_mono_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t->tv_sec) * 1000 +
	       (now.tv_nsec - t->tv_nsec) / 1000000;
}

/* Open the WAL into s->walfd (s->lock held), which SQLite made when the
 * connection first read; -errno. */
static int cat_wal_open(struct cat_sqlite *s)
{
	char path[PATH_MAX + 8];

	if (s->walfd >= 0)
		return 0;
	snprintf(path, sizeof(path), "%s-wal", s->path);
	s->walfd = open(path, O_RDWR | O_CLOEXEC);
	return s->walfd < 0 ? -errno : 0;
}

/*
 * Make every commit so far survive a power cut (s->lock held): fdatasync
 * the WAL through a descriptor of our own. A checkpoint would sync it only
 * when it has frames to copy back, which another process's read snapshot
 * can prevent; and the synchronous level cannot change inside a batch.
 * The directory is synced once, so the WAL file's name is durable too.
 */
static int cat_log_sync(struct cat_sqlite *s)
{
	char path[PATH_MAX + 8];
	int fd;

	if (!s->unsynced || s->mem)
		return 0;
	if (cat_wal_open(s) < 0)
		goto fail;
	if (!s->dir_synced) {
		snprintf(path, sizeof(path), "%s", s->path);
		fd = open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) < 0) {
			if (fd >= 0)
				close(fd);
			goto fail;
		}
		close(fd);
		s->dir_synced = true;
	}
	if (fdatasync(s->walfd) < 0)
		goto fail;
	s->unsynced = false;
	return 0;
fail:
	strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
		   "cannot sync the log of catalog '%s': %s", s->path,
		   strerror(errno));
	return -EIO;
}

/* The log cannot be given a reserve (s->lock held): say why, once, and
 * carry on without; for good when the file system cannot, else until the
 * next commit tries again. */
static void cat_no_reserve(struct cat_sqlite *s, const char *what, int err)
{
	if (err == EOPNOTSUPP || err == ENOSYS)
		s->no_reserve = true;
	if (s->reserve_warned)
		return;
	s->reserve_warned = true;
	strata_log(STRATA_LOG_WARN, STRATA_SUB_CATALOG,
		   "catalog '%s': %s: %s; should its disk fill up, changes "
		   "already reported done may be lost",
		   s->path, what, strerror(err));
}

/*
 * Keep CAT_RESERVE bytes allocated past the end of the WAL (s->lock held).
 * -ENOSPC, said once, when the file system has no room for them: the mount
 * then refuses changes until this succeeds again.
 */
static int cat_reserve(struct cat_sqlite *s)
{
	struct stat st;
	off_t want;
	int ret;

	if (s->mem || s->no_reserve)
		return 0;
	ret = cat_wal_open(s);
	if (ret == -ENOENT)
		return 0; /* SQLite makes it at the first read: next time */
	if (ret == 0 && fstat(s->walfd, &st) < 0)
		ret = -errno;
	if (ret < 0) {
		cat_no_reserve(s, "cannot look at its log", -ret);
		return 0;
	}
	if (s->reserved == 0) /* what an earlier connection left */
		s->reserved = (off_t)st.st_blocks * 512;
	if (!s->full && st.st_size + CAT_RESERVE / 2 <= s->reserved)
		return 0;
	want = st.st_size + CAT_RESERVE;
	if (fallocate(s->walfd, FALLOC_FL_KEEP_SIZE, 0, want) == 0) {
		s->reserved = want;
		s->reserve_warned = false;
		if (s->full)
			strata_log(STRATA_LOG_NOTICE, STRATA_SUB_CATALOG,
				   "catalog '%s': there is room for its log "
				   "again; changes are taken",
				   s->path);
		s->full = false;
		return 0;
	}
	ret = -errno;
	if (ret != -ENOSPC && ret != -EDQUOT) {
		cat_no_reserve(s,
			       "cannot reserve space for its log (fallocate)",
			       -ret);
		return 0;
	}
	if (!s->full)
		strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
			   "catalog '%s': no room to reserve %lld MiB for its "
			   "log: %s; changes are refused until there is",
			   s->path, CAT_RESERVE >> 20, strerror(-ret));
	s->full = true;
	return ret;
}

/* SQLite rolled an open batch back on its own (s->lock held): its changes,
 * already reported done, are gone, and the in-memory state of the mount no
 * longer matches the file. Refuse every later change until a remount. */
static void cat_batch_lost(struct cat_sqlite *s)
{
	s->batch = false;
	if (!s->batch_wrote)
		return;
	s->lost = true;
	strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
		   "catalog '%s': an error rolled back changes already "
		   "reported done; refusing further changes until the "
		   "namespace is mounted again",
		   s->path);
}

/*
 * Commit the open batch (s->lock held); durable then syncs the log, and
 * with it every earlier commit. When COMMIT fails but the transaction is
 * still open (a full disk, say), the batch stays open and is tried again
 * a batch interval later: its changes are kept, not dropped.
 */
static int cat_batch_commit(struct cat_sqlite *s, bool durable)
{
	struct cat_conn *c = s->conn;
	int ret;

	ret = cat_run(c, CAT_ST_COMMIT, "commit transaction");
	if (ret < 0) {
		if (sqlite3_get_autocommit(c->db))
			cat_batch_lost(s);
		else
			clock_gettime(CLOCK_MONOTONIC, &s->batch_start);
		return ret;
	}
	s->batch = false;
	if (s->batch_wrote) {
		s->unsynced = true;
		/* Room for the next batches; a failure refuses them. */
		(void)cat_reserve(s);
	}
	s->batch_wrote = false;
	return durable ? cat_log_sync(s) : 0;
}

/* Commits batches that no later operation came to commit. */
static void *cat_flusher(void *arg)
{
	struct cat_sqlite *s = arg;
	struct timespec until;
	int64_t age;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		if (!s->batch) {
			pthread_cond_wait(&s->wake, &s->lock);
			continue;
		}
		age = cat_mono_ms_since(&s->batch_start);
		if (age >= CAT_BATCH_MS) {
			cat_batch_commit(s, false);
			continue;
		}
		until = strata_ts_add_ms(s->batch_start, CAT_BATCH_MS);
		pthread_cond_timedwait(&s->wake, &s->lock, &until);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/*
 * Open a batch transaction (s->lock held). A batch opened by a read is a
 * plain read transaction, so the mount never holds SQLite's write lock
 * while it only reads; a write ends such a batch (for free) and opens a
 * writing one with BEGIN IMMEDIATE.
 */
static int cat_batch_open(struct cat_sqlite *s, bool write)
{
	int ret;

	if (s->batch && (s->batch_writer || !write))
		return 0;
	if (s->batch) {
		ret = cat_batch_commit(s, false);
		if (ret < 0)
			return ret;
	}
	ret = cat_run(s->conn, write ? CAT_ST_BEGIN : CAT_ST_BEGIN_READ,
		      "begin transaction");
	if (ret < 0)
		return ret;
	s->batch = true;
	s->batch_writer = write;
	clock_gettime(CLOCK_MONOTONIC, &s->batch_start);
	pthread_cond_signal(&s->wake);
	return 0;
}

/*
 * A read runs inside the batch too: a read outside a transaction would
 * take and drop SQLite's shared-memory locks, two system calls, each time.
 * A batch that only read commits for free.
 */
static int cat_rbegin(struct strata_catalog *cat, struct cat_conn **out)
{
	struct cat_sqlite *s = cat->priv;
	int ret;

	pthread_mutex_lock(&s->lock);
	*out = s->conn;
	ret = s->mem ? 0 : cat_batch_open(s, false);
	if (ret < 0)
		pthread_mutex_unlock(&s->lock);
	return ret;
}

static void cat_rend(struct strata_catalog *cat)
{
	struct cat_sqlite *s = cat->priv;

	if (s->batch && cat_mono_ms_since(&s->batch_start) >= CAT_BATCH_MS)
		cat_batch_commit(s, false);
	pthread_mutex_unlock(&s->lock);
}

/* Whether an urgent write may still use the reserve (s->lock held,
 * s->full): its last eighth stays for the batches under way. */
static bool cat_reserve_left(struct cat_sqlite *s)
{
	struct stat st;

	return s->walfd >= 0 && fstat(s->walfd, &st) == 0 &&
	       st.st_size + CAT_RESERVE / 8 <= s->reserved;
}

/*
 * Start a write: open a batch transaction if none is open, then a
 * savepoint, so this operation alone can be rolled back. urgent: it
 * removes things, records the size of writes already made, or recovers at
 * start, and may go on while the disk is full (cat_reserve()). A durable
 * write commits the batch, synced, in cat_wend().
 */
static int cat_wbegin_as(struct strata_catalog *cat, bool urgent,
			 struct cat_conn **out)
{
	struct cat_sqlite *s = cat->priv;
	struct cat_conn *c = s->conn;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->lost) {
		ret = -EIO;
		goto out;
	}
	/* Before anything is reported done, its log space is there. */
	if (s->full || s->reserved == 0) {
		ret = cat_reserve(s);
		if (ret < 0 && urgent && cat_reserve_left(s))
			ret = 0;
		if (ret < 0)
			goto out;
	}
	ret = cat_batch_open(s, true);
	if (ret < 0)
		goto out;
	ret = cat_run(c, CAT_ST_SAVEPOINT, "begin operation");
	s->batch_wrote = true;
out:
	if (ret < 0)
		pthread_mutex_unlock(&s->lock);
	*out = c;
	return ret;
}

static int cat_wbegin(struct strata_catalog *cat, bool durable,
		      struct cat_conn **out)
{
	(void)durable; /* cat_wend() commits */
	return cat_wbegin_as(cat, false, out);
}

/* End a write: keep it when ret is 0, else undo it; returns the result. */
static int cat_wend(struct strata_catalog *cat, struct cat_conn *c, int ret,
		    bool durable)
{
	struct cat_sqlite *s = cat->priv;
	int cret;

	if (sqlite3_get_autocommit(c->db)) {
		/* Some errors (I/O, memory) roll the whole batch back. */
		cat_batch_lost(s);
		if (ret == 0)
			ret = -EIO;
		goto out;
	}
	if (ret == 0) {
		ret = cat_run(c, CAT_ST_RELEASE, "end operation");
	} else {
		cat_run(c, CAT_ST_ROLLBACK_TO, "undo operation");
		cat_run(c, CAT_ST_RELEASE, "end operation");
	}
	/* While the disk is full each change commits alone, so that the
	 * next one's look at the reserve sees where the log really ends. */
	if (durable || s->mem || s->full ||
	    cat_mono_ms_since(&s->batch_start) >= CAT_BATCH_MS) {
		cret = cat_batch_commit(s, durable);
		if (ret == 0)
			ret = cret;
	}
out:
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* ---- rows ---- */

static void cat_row_attr(sqlite3_stmt *st, int col, struct strata_attr *a)
{
	a->ino = (strata_ino_t)sqlite3_column_int64(st, col);
	a->mode = (uint32_t)sqlite3_column_int64(st, col + 1);
	a->uid = (uint32_t)sqlite3_column_int64(st, col + 2);
	a->gid = (uint32_t)sqlite3_column_int64(st, col + 3);
	a->nlink = (uint32_t)sqlite3_column_int64(st, col + 4);
	a->size = (uint64_t)sqlite3_column_int64(st, col + 5);
	a->rdev = (uint64_t)sqlite3_column_int64(st, col + 6);
	a->atime = strata__catalog_ns_to_ts(sqlite3_column_int64(st, col + 7));
	a->mtime = strata__catalog_ns_to_ts(sqlite3_column_int64(st, col + 8));
	a->ctime = strata__catalog_ns_to_ts(sqlite3_column_int64(st, col + 9));
	a->btime = strata__catalog_ns_to_ts(sqlite3_column_int64(st, col + 10));
	a->version = (uint64_t)sqlite3_column_int64(st, col + 11);
}

/* Bind a as ?1 (ino) to ?12 (version), the order of CAT_ATTR_COLS. */
static void cat_bind_attr(sqlite3_stmt *st, const struct strata_attr *a)
{
	sqlite3_bind_int64(st, 1, (sqlite3_int64)a->ino);
	sqlite3_bind_int64(st, 2, a->mode);
	sqlite3_bind_int64(st, 3, a->uid);
	sqlite3_bind_int64(st, 4, a->gid);
	sqlite3_bind_int64(st, 5, a->nlink);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)a->size);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)a->rdev);
	sqlite3_bind_int64(st, 8, cat_ns(&a->atime));
	sqlite3_bind_int64(st, 9, cat_ns(&a->mtime));
	sqlite3_bind_int64(st, 10, cat_ns(&a->ctime));
	sqlite3_bind_int64(st, 11, cat_ns(&a->btime));
	sqlite3_bind_int64(st, 12, (sqlite3_int64)a->version);
}

static int cat_inode_get(struct cat_conn *c, strata_ino_t ino,
			 struct strata_attr *out)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_stmt(c, CAT_ST_GETATTR, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		ret = cat_errno(c, rc, "read inode");
		goto out;
	}
	cat_row_attr(st, 0, out);
	ret = 0;
out:
	sqlite3_reset(st);
	return ret;
}

static int cat_inode_put(struct cat_conn *c, const struct strata_attr *a)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_INODE_PUT, &st);
	if (ret < 0)
		return ret;
	cat_bind_attr(st, a);
	return cat_done(c, st, "update inode");
}

/* nlink += delta and ctime = now, for a non-directory inode. */
static int cat_inode_links(struct cat_conn *c, strata_ino_t ino, int delta,
			   const struct timespec *now)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_INODE_LINKS, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int(st, 2, delta);
	sqlite3_bind_int64(st, 3, cat_ns(now));
	return cat_done(c, st, "update inode");
}

static int cat_inode_dead(struct cat_conn *c, strata_ino_t ino,
			  const struct timespec *now)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_INODE_DEAD, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, cat_ns(now));
	return cat_done(c, st, "update inode");
}

/* A directory whose entries changed: nlink += delta, mtime = ctime = now. */
static int cat_dir_touch(struct cat_conn *c, strata_ino_t dir, int delta,
			 const struct timespec *now)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_DIR_TOUCH, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
	sqlite3_bind_int(st, 2, delta);
	sqlite3_bind_int64(st, 3, cat_ns(now));
	return cat_done(c, st, "update directory");
}

/*
 * Find parent/name. Returns 0 with e filled, -ENOENT (e->dir_ok tells
 * whether only the name is missing), -ENOTDIR, or an engine error.
 */
static int cat_find(struct cat_conn *c, strata_ino_t parent, const char *name,
		    struct cat_entry *e)
{
	sqlite3_stmt *st;
	int rc, ret;

	e->dir_ok = false;
	ret = cat_stmt(c, CAT_ST_LOOKUP, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)parent);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		ret = cat_errno(c, rc, "look up name");
		goto out;
	}
	if (!S_ISDIR(sqlite3_column_int64(st, 0))) {
		ret = -ENOTDIR;
		goto out;
	}
	e->dir_ok = true;
	e->dir_mode = (uint32_t)sqlite3_column_int64(st, 0);
	e->dir_gid = (uint32_t)sqlite3_column_int64(st, 1);
	if (sqlite3_column_type(st, 2) == SQLITE_NULL) {
		ret = -ENOENT;
		goto out;
	}
	if (sqlite3_column_type(st, 3) == SQLITE_NULL) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
			   "entry '%s' in directory %llu names a missing inode",
			   name, (unsigned long long)parent);
		ret = -EIO;
		goto out;
	}
	e->cookie = sqlite3_column_int64(st, 2);
	cat_row_attr(st, 3, &e->attr);
	ret = 0;
out:
	sqlite3_reset(st);
	return ret;
}

/* Like cat_find(), but a missing name under a good parent is not an error:
 * *found says which. */
static int cat_find_opt(struct cat_conn *c, strata_ino_t parent,
			const char *name, struct cat_entry *e, bool *found)
{
	int ret = cat_find(c, parent, name, e);

	*found = ret == 0;
	if (ret == -ENOENT && e->dir_ok)
		ret = 0;
	return ret;
}

static int cat_dentry_insert(struct cat_conn *c, strata_ino_t parent,
			     const char *name, strata_ino_t ino)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_DENTRY_INSERT, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)parent);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)ino);
	return cat_done(c, st, "insert entry");
}

static int cat_dir_empty(struct cat_conn *c, strata_ino_t dir)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_stmt(c, CAT_ST_DIR_HAS_CHILD, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		ret = -ENOTEMPTY;
	else if (rc == SQLITE_DONE)
		ret = 0;
	else
		ret = cat_errno(c, rc, "read directory");
	sqlite3_reset(st);
	return ret;
}

/* -EINVAL when dir would become its own descendant by moving into to. */
static int cat_check_loop(struct cat_conn *c, strata_ino_t dir, strata_ino_t to)
{
	sqlite3_stmt *st;
	strata_ino_t cur = to;
	int depth, rc, ret;

	ret = cat_stmt(c, CAT_ST_DIR_PARENT, &st);
	if (ret < 0)
		return ret;
	for (depth = 0; depth < CAT_MAX_DEPTH; depth++) {
		if (cur == dir)
			return -EINVAL;
		if (cur == STRATA_ROOT_INO)
			return 0;
		sqlite3_bind_int64(st, 1, (sqlite3_int64)cur);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			cur = (strata_ino_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			return 0;
		if (rc != SQLITE_ROW)
			return cat_errno(c, rc, "read directory parent");
	}
	strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
		   "directory %llu has no path to the root",
		   (unsigned long long)to);
	return -EIO;
}

/* ---- operations ---- */

static void cat_close(struct strata_catalog *cat)
{
	struct cat_sqlite *s = cat->priv;

	if (!s)
		return;
	if (s->flusher_on) {
		pthread_mutex_lock(&s->lock);
		s->stopping = true;
		pthread_cond_signal(&s->wake);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->flusher, NULL);
	}
	if (s->batch && cat_batch_commit(s, false) < 0 && s->batch_wrote)
		strata_log(STRATA_LOG_ERR, STRATA_SUB_CATALOG,
			   "catalog '%s': the last changes could not be "
			   "committed at close and are lost",
			   s->path);
	cat_conn_close(s->conn);
	if (s->walfd >= 0)
		close(s->walfd);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
	cat->priv = NULL;
}

static pthread_once_t cat_config_once = PTHREAD_ONCE_INIT;

/*
 * Before SQLite starts: no memory statistics (nobody reads them), which
 * otherwise take a global mutex at every one of SQLite's many mallocs and
 * frees. Refused, harmlessly, when SQLite was started already.
 */
static void cat_config(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int cat_open(struct strata_catalog *cat, const char *path, char *err,
		    size_t errlen)
{
	struct cat_sqlite *s;
	pthread_condattr_t ca;
	int ret;

	pthread_once(&cat_config_once, cat_config);
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "cannot open catalog '%s': %s", path,
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	s->path = path;
	s->walfd = -1;
	s->mem = strcmp(path, ":memory:") == 0;
	cat->priv = s;
	ret = cat_conn_open(s, &s->conn, err, errlen);
	if (ret < 0)
		goto out;
	ret = strata__catalog_migrate(s->conn->db, path, err, errlen);
	if (ret < 0 || s->mem)
		goto out;
	ret = -pthread_create(&s->flusher, NULL, cat_flusher, s);
	if (ret < 0) {
		snprintf(err, errlen, "cannot open catalog '%s': %s", path,
			 strerror(-ret));
		goto out;
	}
	s->flusher_on = true;
out:
	if (ret < 0)
		cat_close(cat);
	return ret;
}

static int cat_lookup(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, struct strata_attr *out)
{
	struct cat_conn *c;
	struct cat_entry e;
	int ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_find(c, parent, name, &e);
	cat_rend(cat);
	if (ret == 0)
		*out = e.attr;
	return ret;
}

static int cat_getattr(struct strata_catalog *cat, strata_ino_t ino,
		       struct strata_attr *out)
{
	struct cat_conn *c;
	int ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, out);
	cat_rend(cat);
	return ret;
}

static void cat_apply_attr(struct strata_attr *a, const struct strata_attr *in,
			   unsigned int valid)
{
	if (valid & STRATA_SET_MODE)
		a->mode = (a->mode & S_IFMT) | (in->mode & 07777);
	if (valid & STRATA_SET_UID)
		a->uid = in->uid;
	if (valid & STRATA_SET_GID)
		a->gid = in->gid;
	if (valid & STRATA_SET_SIZE)
		a->size = in->size;
	if (valid & STRATA_SET_ATIME)
		a->atime = in->atime;
	if (valid & STRATA_SET_MTIME)
		a->mtime = in->mtime;
	if (valid & STRATA_SET_CTIME)
		a->ctime = in->ctime;
	if (valid & STRATA_SET_VERSION)
		a->version = in->version;
}

static int cat_setattr(struct strata_catalog *cat, strata_ino_t ino,
		       const struct strata_attr *in, unsigned int valid,
		       struct strata_attr *out)
{
	struct strata_attr a;
	struct cat_conn *c;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret < 0)
		goto out;
	cat_apply_attr(&a, in, valid);
	ret = cat_inode_put(c, &a);
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && out)
		*out = a;
	return ret;
}

static int cat_symlink_insert(struct cat_conn *c, strata_ino_t ino,
			      const char *target)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_SYMLINK_INSERT, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_text(st, 2, target, -1, SQLITE_STATIC);
	return cat_done(c, st, "insert symlink");
}

static int cat_mknode(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, const struct strata_attr *tmpl,
		      const char *symlink, struct strata_attr *out)
{
	bool isdir = S_ISDIR(tmpl->mode);
	struct strata_attr a = *tmpl;
	struct cat_entry e;
	struct cat_conn *c;
	sqlite3_stmt *st;
	bool found;
	int ret;

	if (S_ISLNK(tmpl->mode) != (symlink != NULL))
		return -EINVAL;
	a.nlink = isdir ? 2 : 1;
	a.size = symlink ? strlen(symlink) : 0;
	a.version = 0;
	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_find_opt(c, parent, name, &e, &found);
	if (ret < 0)
		goto out;
	if (found) {
		ret = -EEXIST;
		goto out;
	}
	/* A setgid directory passes on its group, and to a directory its
	 * setgid bit too. */
	if (e.dir_mode & S_ISGID) {
		a.gid = e.dir_gid;
		if (isdir)
			a.mode |= S_ISGID;
	}
	ret = cat_stmt(c, CAT_ST_INODE_INSERT, &st);
	if (ret < 0)
		goto out;
	cat_bind_attr(st, &a);
	ret = cat_done(c, st, "insert inode");
	if (ret < 0)
		goto out;
	a.ino = (strata_ino_t)sqlite3_last_insert_rowid(c->db);
	ret = cat_dentry_insert(c, parent, name, a.ino);
	if (ret < 0)
		goto out;
	if (symlink) {
		ret = cat_symlink_insert(c, a.ino, symlink);
		if (ret < 0)
			goto out;
	}
	ret = cat_dir_touch(c, parent, isdir ? 1 : 0, &tmpl->ctime);
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && out)
		*out = a;
	return ret;
}

static int cat_link(struct strata_catalog *cat, strata_ino_t ino,
		    strata_ino_t newparent, const char *newname,
		    const struct timespec *now, struct strata_attr *out)
{
	struct strata_attr a;
	struct cat_entry e;
	struct cat_conn *c;
	bool found;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret < 0)
		goto out;
	if (S_ISDIR(a.mode)) {
		ret = -EPERM;
		goto out;
	}
	/* As Linux: an unlinked inode cannot come back to life. */
	if (a.nlink == 0) {
		ret = -ENOENT;
		goto out;
	}
	ret = cat_find_opt(c, newparent, newname, &e, &found);
	if (ret < 0)
		goto out;
	if (found) {
		ret = -EEXIST;
		goto out;
	}
	ret = cat_dentry_insert(c, newparent, newname, ino);
	if (ret < 0)
		goto out;
	ret = cat_inode_links(c, ino, 1, now);
	if (ret < 0)
		goto out;
	ret = cat_dir_touch(c, newparent, 0, now);
	a.nlink++;
	a.ctime = *now;
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && out)
		*out = a;
	return ret;
}

static int cat_unlink(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, const struct timespec *now,
		      struct strata_attr *victim)
{
	struct cat_entry e;
	struct cat_conn *c;
	int ret;

	ret = cat_wbegin_as(cat, true, &c);
	if (ret < 0)
		return ret;
	ret = cat_find(c, parent, name, &e);
	if (ret < 0)
		goto out;
	if (S_ISDIR(e.attr.mode)) {
		ret = -EISDIR;
		goto out;
	}
	ret = cat_run_ino(c, CAT_ST_DENTRY_DELETE, (strata_ino_t)e.cookie,
			  "delete entry");
	if (ret < 0)
		goto out;
	ret = cat_inode_links(c, e.attr.ino, -1, now);
	if (ret < 0)
		goto out;
	ret = cat_dir_touch(c, parent, 0, now);
	if (e.attr.nlink > 0)
		e.attr.nlink--;
	e.attr.ctime = *now;
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && victim)
		*victim = e.attr;
	return ret;
}

static int cat_rmdir(struct strata_catalog *cat, strata_ino_t parent,
		     const char *name, const struct timespec *now,
		     struct strata_attr *victim)
{
	struct cat_entry e;
	struct cat_conn *c;
	int ret;

	ret = cat_wbegin_as(cat, true, &c);
	if (ret < 0)
		return ret;
	ret = cat_find(c, parent, name, &e);
	if (ret < 0)
		goto out;
	if (!S_ISDIR(e.attr.mode)) {
		ret = -ENOTDIR;
		goto out;
	}
	ret = cat_dir_empty(c, e.attr.ino);
	if (ret < 0)
		goto out;
	ret = cat_run_ino(c, CAT_ST_DENTRY_DELETE, (strata_ino_t)e.cookie,
			  "delete entry");
	if (ret < 0)
		goto out;
	ret = cat_inode_dead(c, e.attr.ino, now);
	if (ret < 0)
		goto out;
	ret = cat_dir_touch(c, parent, -1, now);
	e.attr.nlink = 0;
	e.attr.ctime = *now;
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && victim)
		*victim = e.attr;
	return ret;
}

static int cat_dentry_setino(struct cat_conn *c, sqlite3_int64 cookie,
			     strata_ino_t ino)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_DENTRY_SETINO, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, cookie);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)ino);
	return cat_done(c, st, "update entry");
}

static int cat_dentry_move(struct cat_conn *c, sqlite3_int64 cookie,
			   strata_ino_t parent, const char *name)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_DENTRY_MOVE, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, cookie);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)parent);
	sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
	return cat_done(c, st, "move entry");
}

/*
 * Swap the inodes of two entries; each name keeps its cookie. When a
 * directory and a non-directory trade parents, the parents' link counts
 * follow the directory. *pdelta and *npdelta get those changes.
 */
static int cat_exchange(struct cat_conn *c, const struct cat_entry *src,
			const struct cat_entry *dst, bool cross,
			const struct timespec *now, int *pdelta, int *npdelta)
{
	bool sdir = S_ISDIR(src->attr.mode);
	bool ddir = S_ISDIR(dst->attr.mode);
	int ret;

	ret = cat_dentry_setino(c, src->cookie, dst->attr.ino);
	if (ret < 0)
		return ret;
	ret = cat_dentry_setino(c, dst->cookie, src->attr.ino);
	if (ret < 0)
		return ret;
	ret = cat_inode_links(c, dst->attr.ino, 0, now);
	if (ret < 0)
		return ret;
	if (cross && sdir != ddir) {
		*pdelta = sdir ? -1 : 1;
		*npdelta = -*pdelta;
	}
	return 0;
}

/* Drop the target dst of a replacing rename; victim gets it after. */
static int cat_replace(struct cat_conn *c, const struct cat_entry *src,
		       const struct cat_entry *dst, const struct timespec *now,
		       struct strata_attr *victim, int *npdelta)
{
	bool sdir = S_ISDIR(src->attr.mode);
	bool ddir = S_ISDIR(dst->attr.mode);
	int ret;

	if (sdir && !ddir)
		return -ENOTDIR;
	if (!sdir && ddir)
		return -EISDIR;
	if (ddir) {
		ret = cat_dir_empty(c, dst->attr.ino);
		if (ret < 0)
			return ret;
	}
	ret = cat_run_ino(c, CAT_ST_DENTRY_DELETE, (strata_ino_t)dst->cookie,
			  "delete entry");
	if (ret < 0)
		return ret;
	*victim = dst->attr;
	victim->ctime = *now;
	if (ddir) {
		victim->nlink = 0;
		*npdelta -= 1;
		return cat_inode_dead(c, dst->attr.ino, now);
	}
	if (victim->nlink > 0)
		victim->nlink--;
	return cat_inode_links(c, dst->attr.ino, -1, now);
}

static int cat_rename(struct strata_catalog *cat, strata_ino_t parent,
		      const char *name, strata_ino_t newparent,
		      const char *newname, unsigned int flags,
		      const struct timespec *now, struct strata_attr *victim,
		      bool *replaced)
{
	const unsigned int known = STRATA_RENAME_NOREPLACE |
				   STRATA_RENAME_EXCHANGE;
	bool exchange = flags & STRATA_RENAME_EXCHANGE;
	bool cross = parent != newparent;
	int pdelta = 0, npdelta = 0;
	struct strata_attr v = { 0 };
	struct cat_entry src, dst;
	struct cat_conn *c;
	bool sdir, have_dst, did_replace = false;
	int ret;

	if (replaced)
		*replaced = false;
	if ((flags & ~known) || flags == known)
		return -EINVAL;
	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_find(c, parent, name, &src);
	if (ret < 0)
		goto out;
	ret = cat_find_opt(c, newparent, newname, &dst, &have_dst);
	if (ret < 0)
		goto out;
	if (have_dst && (flags & STRATA_RENAME_NOREPLACE)) {
		ret = -EEXIST;
		goto out;
	}
	if (!have_dst && exchange) {
		ret = -ENOENT;
		goto out;
	}
	if (have_dst && dst.attr.ino == src.attr.ino)
		goto out;
	sdir = S_ISDIR(src.attr.mode);
	if (sdir && cross) {
		ret = cat_check_loop(c, src.attr.ino, newparent);
		if (ret < 0)
			goto out;
	}
	if (exchange) {
		if (S_ISDIR(dst.attr.mode) && cross) {
			ret = cat_check_loop(c, dst.attr.ino, parent);
			if (ret < 0)
				goto out;
		}
		ret = cat_exchange(c, &src, &dst, cross, now, &pdelta,
				   &npdelta);
		if (ret < 0)
			goto out;
	} else {
		if (have_dst) {
			ret = cat_replace(c, &src, &dst, now, &v, &npdelta);
			if (ret < 0)
				goto out;
			did_replace = true;
		}
		ret = cat_dentry_move(c, src.cookie, newparent, newname);
		if (ret < 0)
			goto out;
		if (sdir && cross) {
			pdelta -= 1;
			npdelta += 1;
		}
	}
	ret = cat_inode_links(c, src.attr.ino, 0, now);
	if (ret < 0)
		goto out;
	if (cross) {
		ret = cat_dir_touch(c, parent, pdelta, now);
		if (ret < 0)
			goto out;
		ret = cat_dir_touch(c, newparent, npdelta, now);
	} else {
		ret = cat_dir_touch(c, parent, pdelta + npdelta, now);
	}
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && did_replace) {
		if (victim)
			*victim = v;
		if (replaced)
			*replaced = true;
	}
	return ret;
}

/* Fetch up to max entries of dir after off into page; *n gets the count. */
static int cat_readdir_page(struct cat_conn *c, strata_ino_t dir, uint64_t off,
			    struct cat_dirent_buf *page, int max, int *n)
{
	sqlite3_stmt *st;
	const char *name;
	int rc, ret, i = 0;

	ret = cat_stmt(c, CAT_ST_READDIR, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)dir);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)off);
	sqlite3_bind_int(st, 3, max);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW || i == max)
			break;
		page[i].off = (uint64_t)sqlite3_column_int64(st, 0);
		name = (const char *)sqlite3_column_text(st, 1);
		strata_strlcpy(page[i].name, name ? name : "",
			       sizeof(page[i].name));
		cat_row_attr(st, 2, &page[i].attr);
		i++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = cat_errno(c, rc, "read directory");
	sqlite3_reset(st);
	*n = i;
	return ret;
}

static int cat_readdir(struct strata_catalog *cat, strata_ino_t dir,
		       uint64_t off, strata_catalog_dirent_cb cb, void *arg)
{
	struct cat_dirent_buf *page;
	struct strata_dirent de;
	struct strata_attr a;
	struct cat_conn *c;
	int limit = CAT_PAGE_FIRST;
	bool first = true;
	int i, n = 0, ret;

	page = malloc(sizeof(*page) * CAT_PAGE_MAX);
	if (!page)
		return -ENOMEM;
	for (;;) {
		ret = cat_rbegin(cat, &c);
		if (ret < 0)
			goto out;
		if (first) {
			ret = cat_inode_get(c, dir, &a);
			if (ret == 0 && !S_ISDIR(a.mode))
				ret = -ENOTDIR;
			first = false;
		}
		if (ret == 0)
			ret = cat_readdir_page(c, dir, off, page, limit, &n);
		cat_rend(cat);
		if (ret < 0)
			goto out;
		/* No lock is held here: cb may call the catalog. */
		for (i = 0; i < n; i++) {
			de.name = page[i].name;
			de.attr = &page[i].attr;
			de.off = page[i].off;
			off = page[i].off;
			if (cb(arg, &de) != 0)
				goto out;
		}
		if (n < limit)
			break;
		limit = CAT_PAGE_MAX;
	}
out:
	free(page);
	return ret;
}

static int cat_readlink(struct strata_catalog *cat, strata_ino_t ino, char *buf,
			size_t size, size_t *len)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	size_t n;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_SYMLINK_GET, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		ret = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		ret = cat_errno(c, rc, "read symlink");
		goto out;
	}
	if (!S_ISLNK(sqlite3_column_int64(st, 0)) ||
	    sqlite3_column_type(st, 1) == SQLITE_NULL) {
		ret = -EINVAL;
		goto out;
	}
	n = (size_t)sqlite3_column_bytes(st, 1);
	*len = n;
	if (n > size) {
		ret = -ERANGE;
		goto out;
	}
	memcpy(buf, sqlite3_column_text(st, 1), n);
	ret = 0;
out:
	sqlite3_reset(st); /* a no-op on NULL */
	cat_rend(cat);
	return ret;
}

static int cat_purge(struct strata_catalog *cat, strata_ino_t ino)
{
	static const enum cat_stmt_id dels[] = {
		CAT_ST_PURGE_XATTRS,   CAT_ST_PURGE_SYMLINK,
		CAT_ST_PURGE_REPLICAS, CAT_ST_PURGE_PINS,
		CAT_ST_PURGE_JOBS,     CAT_ST_PURGE_HEAT,
		CAT_ST_PURGE_DENTRIES, CAT_ST_PURGE_INODE,
	};
	struct strata_attr a;
	struct cat_conn *c;
	size_t i;
	int ret;

	ret = cat_wbegin_as(cat, true, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret < 0)
		goto out;
	if (a.nlink > 0) {
		ret = -EBUSY;
		goto out;
	}
	for (i = 0; i < STRATA_ARRAY_SIZE(dels) && ret == 0; i++)
		ret = cat_run_ino(c, dels[i], ino, "purge inode");
out:
	return cat_wend(cat, c, ret, false);
}

static int cat_orphans(struct strata_catalog *cat, strata_ino_t *out,
		       size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	size_t i = 0;
	int rc, ret;

	*n = 0;
	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_ORPHANS, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW || i == max)
			break;
		out[i++] = (strata_ino_t)sqlite3_column_int64(st, 0);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = cat_errno(c, rc, "list orphans");
	*n = i;
out:
	sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

/*
 * Step CAT_ST_XATTR_GET for ino/name, leaving the row current for the
 * caller, who resets the statement. 0 when the attribute exists.
 */
static int cat_xattr_find(struct cat_conn *c, strata_ino_t ino,
			  const char *name, sqlite3_stmt **out)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_stmt(c, CAT_ST_XATTR_GET, &st);
	*out = st;
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return cat_errno(c, rc, "read xattr");
	if (sqlite3_column_type(st, 1) == SQLITE_NULL)
		return -ENODATA;
	return 0;
}

static int cat_getxattr(struct strata_catalog *cat, strata_ino_t ino,
			const char *name, void *buf, size_t size, size_t *len)
{
	struct cat_conn *c;
	sqlite3_stmt *st;
	size_t n;
	int ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_xattr_find(c, ino, name, &st);
	if (ret < 0)
		goto out;
	n = (size_t)sqlite3_column_bytes(st, 1);
	*len = n;
	if (size == 0)
		goto out;
	if (n > size) {
		ret = -ERANGE;
		goto out;
	}
	if (n)
		memcpy(buf, sqlite3_column_blob(st, 1), n);
out:
	sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

static int cat_setxattr(struct strata_catalog *cat, strata_ino_t ino,
			const char *name, const void *value, size_t len,
			unsigned int flags, const struct timespec *now)
{
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_xattr_find(c, ino, name, &st);
	sqlite3_reset(st);
	if (ret == 0 && (flags & STRATA_XATTR_CREATE)) {
		ret = -EEXIST;
		goto out;
	}
	if (ret == -ENODATA && !(flags & STRATA_XATTR_REPLACE))
		ret = 0;
	if (ret < 0)
		goto out;
	ret = cat_stmt(c, CAT_ST_XATTR_PUT, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	/* A non-NULL pointer, so an empty value is a blob and not NULL. */
	sqlite3_bind_blob64(st, 3, len ? value : "", len, SQLITE_STATIC);
	ret = cat_done(c, st, "write xattr");
	if (ret < 0)
		goto out;
	ret = cat_inode_links(c, ino, 0, now);
out:
	return cat_wend(cat, c, ret, false);
}

static int cat_listxattr(struct strata_catalog *cat, strata_ino_t ino,
			 char *buf, size_t size, size_t *len)
{
	sqlite3_stmt *st = NULL;
	struct strata_attr a;
	struct cat_conn *c;
	size_t total = 0, n;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret < 0)
		goto out;
	ret = cat_stmt(c, CAT_ST_XATTR_LIST, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		n = (size_t)sqlite3_column_bytes(st, 0) + 1;
		if (size && total + n <= size)
			memcpy(buf + total, sqlite3_column_text(st, 0), n);
		total += n;
	}
	if (rc != SQLITE_DONE) {
		ret = cat_errno(c, rc, "list xattrs");
		goto out;
	}
	*len = total;
	if (size && total > size)
		ret = -ERANGE;
out:
	sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

static int cat_removexattr(struct strata_catalog *cat, strata_ino_t ino,
			   const char *name, const struct timespec *now)
{
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_xattr_find(c, ino, name, &st);
	sqlite3_reset(st);
	if (ret < 0)
		goto out;
	ret = cat_stmt(c, CAT_ST_XATTR_DEL, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	ret = cat_done(c, st, "remove xattr");
	if (ret < 0)
		goto out;
	ret = cat_inode_links(c, ino, 0, now);
out:
	return cat_wend(cat, c, ret, false);
}

static void cat_row_tier(sqlite3_stmt *st, struct strata_tier_row *t)
{
	const char *s;

	memset(t, 0, sizeof(*t));
	t->id = (uint32_t)sqlite3_column_int64(st, 0);
	s = (const char *)sqlite3_column_text(st, 1);
	strata_strlcpy(t->name, s ? s : "", sizeof(t->name));
	s = (const char *)sqlite3_column_text(st, 2);
	strata_strlcpy(t->url, s ? s : "", sizeof(t->url));
	s = (const char *)sqlite3_column_text(st, 3);
	strata_strlcpy(t->site, s ? s : "", sizeof(t->site));
	t->capacity = (uint64_t)sqlite3_column_int64(st, 4);
}

static int cat_tier_find(struct cat_conn *c, const char *name,
			 struct strata_tier_row *out)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_stmt(c, CAT_ST_TIER_BY_NAME, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cat_row_tier(st, out);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = cat_errno(c, rc, "read tier");
	sqlite3_reset(st);
	return ret;
}

static int cat_tier_write(struct cat_conn *c, enum cat_stmt_id id,
			  const struct strata_tier_row *t)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, id, &st);
	if (ret < 0)
		return ret;
	if (id == CAT_ST_TIER_INSERT) {
		sqlite3_bind_text(st, 1, t->name, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_int64(st, 1, t->id);
	}
	sqlite3_bind_text(st, 2, t->url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, t->site, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)t->capacity);
	return cat_done(c, st, "write tier");
}

static int cat_tier_ensure(struct strata_catalog *cat,
			   const struct strata_tier_row *in,
			   struct strata_tier_row *out)
{
	struct strata_tier_row t;
	struct cat_conn *c;
	int ret;

	if (!in->name[0])
		return -EINVAL;
	/* A mount mostly finds its tiers as configured: no write, so that
	 * it starts on a full disk too. */
	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_tier_find(c, in->name, &t);
	cat_rend(cat);
	if (ret == 0 && !strcmp(t.url, in->url) && !strcmp(t.site, in->site) &&
	    t.capacity == in->capacity) {
		if (out)
			*out = t;
		return 0;
	}
	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_tier_find(c, in->name, &t);
	if (ret == -ENOENT) {
		t = *in;
		ret = cat_tier_write(c, CAT_ST_TIER_INSERT, &t);
		t.id = (uint32_t)sqlite3_last_insert_rowid(c->db);
		goto out;
	}
	if (ret < 0)
		goto out;
	if (strcmp(t.url, in->url) || strcmp(t.site, in->site) ||
	    t.capacity != in->capacity) {
		strata_strlcpy(t.url, in->url, sizeof(t.url));
		strata_strlcpy(t.site, in->site, sizeof(t.site));
		t.capacity = in->capacity;
		ret = cat_tier_write(c, CAT_ST_TIER_UPDATE, &t);
	}
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && out)
		*out = t;
	return ret;
}

static int cat_tier_list(struct strata_catalog *cat,
			 struct strata_tier_row *out, size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	size_t i = 0;
	int rc, ret;

	*n = 0;
	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_TIER_LIST, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)max);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW || i == max)
			break;
		cat_row_tier(st, &out[i++]);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = cat_errno(c, rc, "list tiers");
	*n = i;
out:
	sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

static int cat_replica_fetch(struct cat_conn *c, strata_ino_t ino,
			     struct strata_replica **out, size_t *n)
{
	struct strata_replica *v = NULL, *nv, *r;
	size_t cap = 0, i = 0;
	sqlite3_stmt *st;
	const char *key;
	int rc, ret;

	ret = cat_stmt(c, CAT_ST_REPLICA_LIST, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		if (i == cap) {
			cap = cap ? cap * 2 : 4;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				ret = -ENOMEM;
				break;
			}
			v = nv;
		}
		r = &v[i++];
		memset(r, 0, sizeof(*r));
		r->ino = (strata_ino_t)sqlite3_column_int64(st, 0);
		r->tier_id = (uint32_t)sqlite3_column_int64(st, 1);
		key = (const char *)sqlite3_column_text(st, 2);
		strata_strlcpy(r->key, key ? key : "", sizeof(r->key));
		r->version = (uint64_t)sqlite3_column_int64(st, 3);
		r->size = (uint64_t)sqlite3_column_int64(st, 4);
		r->state = (enum strata_replica_state)sqlite3_column_int(st, 5);
	}
	if (ret == 0 && rc != SQLITE_DONE)
		ret = cat_errno(c, rc, "list replicas");
	sqlite3_reset(st);
out:
	if (ret < 0) {
		free(v);
		v = NULL;
		i = 0;
	}
	*out = v;
	*n = i;
	return ret;
}

static int cat_replica_list(struct strata_catalog *cat, strata_ino_t ino,
			    strata_catalog_replica_cb cb, void *arg)
{
	struct strata_replica *v = NULL;
	struct cat_conn *c;
	size_t i, n = 0;
	int ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_replica_fetch(c, ino, &v, &n);
	cat_rend(cat);
	/* No lock is held here: cb may call the catalog. */
	for (i = 0; ret == 0 && i < n; i++) {
		if (cb(arg, &v[i]) != 0)
			break;
	}
	free(v);
	return ret;
}

static int cat_replica_write(struct cat_conn *c, const struct strata_replica *r)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_REPLICA_PUT, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)r->ino);
	sqlite3_bind_int64(st, 2, r->tier_id);
	sqlite3_bind_text(st, 3, r->key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)r->version);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)r->size);
	sqlite3_bind_int(st, 6, (int)r->state);
	return cat_done(c, st, "write replica");
}

static int cat_tier_exists(struct cat_conn *c, uint32_t id)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_stmt(c, CAT_ST_TIER_BY_ID, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else if (rc != SQLITE_ROW)
		ret = cat_errno(c, rc, "read tier");
	sqlite3_reset(st);
	return ret;
}

static int cat_replica_put(struct strata_catalog *cat,
			   const struct strata_replica *r)
{
	struct strata_attr a;
	struct cat_conn *c;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, r->ino, &a);
	if (ret < 0)
		goto out;
	ret = cat_tier_exists(c, r->tier_id);
	if (ret < 0)
		goto out;
	ret = cat_replica_write(c, r);
out:
	return cat_wend(cat, c, ret, false);
}

static int cat_replica_del(struct strata_catalog *cat, strata_ino_t ino,
			   uint32_t tier_id)
{
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_REPLICA_DEL, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, tier_id);
	ret = cat_done(c, st, "delete replica");
	if (ret == 0 && sqlite3_changes(c->db) == 0)
		ret = -ENOENT;
out:
	return cat_wend(cat, c, ret, false);
}

static int cat_replica_size(struct cat_conn *c, strata_ino_t ino,
			    uint32_t tier_id, uint64_t size)
{
	sqlite3_stmt *st;
	int ret;

	ret = cat_stmt(c, CAT_ST_REPLICA_SET_SIZE, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, tier_id);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)size);
	return cat_done(c, st, "update replica");
}

static int cat_commit_write(struct strata_catalog *cat, strata_ino_t ino,
			    uint32_t tier_id, const char *key, uint64_t size,
			    const struct timespec *mtime, bool bump,
			    bool durable, struct strata_attr *out)
{
	struct strata_replica r;
	struct strata_attr a;
	struct cat_conn *c;
	int ret;

	if (bump && !key)
		return -EINVAL;
	ret = cat_wbegin_as(cat, true, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret < 0)
		goto out;
	a.size = size;
	a.mtime = *mtime;
	a.ctime = *mtime;
	if (bump)
		a.version++;
	ret = cat_inode_put(c, &a);
	if (ret < 0)
		goto out;
	if (!bump) {
		ret = cat_replica_size(c, ino, tier_id, size);
		goto out;
	}
	memset(&r, 0, sizeof(r));
	r.ino = ino;
	r.tier_id = tier_id;
	ret = strata_strlcpy(r.key, key, sizeof(r.key));
	if (ret < 0)
		goto out;
	r.version = a.version;
	r.size = size;
	r.state = STRATA_REPLICA_VALID;
	ret = cat_replica_write(c, &r);
out:
	ret = cat_wend(cat, c, ret, durable);
	if (ret == 0 && out)
		*out = a;
	return ret;
}

static int cat_stats(struct strata_catalog *cat,
		     struct strata_catalog_stats *out)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_STATS, &st);
	if (ret < 0)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->inodes = (uint64_t)sqlite3_column_int64(st, 0);
		out->bytes = (uint64_t)sqlite3_column_int64(st, 1);
	} else {
		ret = cat_errno(c, rc, "count inodes");
	}
out:
	sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

static int cat_sync(struct strata_catalog *cat, bool durable)
{
	struct cat_sqlite *s = cat->priv;
	int ret = 0;

	pthread_mutex_lock(&s->lock);
	if (s->batch)
		ret = cat_batch_commit(s, durable);
	else if (durable)
		ret = cat_log_sync(s);
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static int cat_checkpoint(struct strata_catalog *cat)
{
	struct cat_sqlite *s = cat->priv;
	struct cat_conn *c = s->conn;
	int rc, ret = 0;

	if (s->mem)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (s->batch)
		ret = cat_batch_commit(s, false);
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE,
				       NULL, NULL);
	if (rc != SQLITE_OK) {
		ret = cat_errno(c, rc, "checkpoint");
	} else {
		/* The emptied log takes its reserve back at once, from the
		 * room its truncation just freed: the log file outlives the
		 * connection (persistent WAL), and a mount started on a
		 * full disk finds it there. */
		s->unsynced = false;
		s->reserved = 0;
		s->full = false;
		(void)cat_reserve(s);
	}
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void cat_row_replica(sqlite3_stmt *st, struct strata_replica *r)
{
	const unsigned char *key = sqlite3_column_text(st, 2);

	memset(r, 0, sizeof(*r));
	r->ino = (strata_ino_t)sqlite3_column_int64(st, 0);
	r->tier_id = (uint32_t)sqlite3_column_int64(st, 1);
	strata_strlcpy(r->key, key ? (const char *)key : "", sizeof(r->key));
	r->version = (uint64_t)sqlite3_column_int64(st, 3);
	r->size = (uint64_t)sqlite3_column_int64(st, 4);
	r->state = (enum strata_replica_state)sqlite3_column_int(st, 5);
}

static int cat_replica_find(struct strata_catalog *cat, uint32_t tier_id,
			    const char *key, struct strata_replica *out)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_REPLICA_FIND, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, tier_id);
	sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cat_row_replica(st, out);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = cat_errno(c, rc, "find replica");
out:
	if (st)
		sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

static int cat_replica_scan(struct strata_catalog *cat, uint32_t tier_id,
			    strata_ino_t after, struct strata_replica *out,
			    size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	*n = 0;
	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_REPLICA_SCAN, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, tier_id);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	for (rc = sqlite3_step(st); rc == SQLITE_ROW; rc = sqlite3_step(st))
		cat_row_replica(st, &out[(*n)++]);
	if (rc != SQLITE_DONE)
		ret = cat_errno(c, rc, "scan replicas");
out:
	if (st)
		sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

/* ---- policy support ---- */

static int cat_dentry_of(struct strata_catalog *cat, strata_ino_t ino,
			 strata_ino_t *parent, char *name, size_t size)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_DENTRY_OF, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*parent = (strata_ino_t)sqlite3_column_int64(st, 0);
		ret = strata_strlcpy(
			name, (const char *)sqlite3_column_text(st, 1), size);
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = cat_errno(c, rc, "find name");
	}
out:
	if (st)
		sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

/* A query's text; a full buffer makes the whole query fail (-E2BIG). */
struct cat_sql_buf {
	char *p;
	size_t len;
	size_t n;
};

static void cat_sql_put(struct cat_sql_buf *b, const char *s)
{
	size_t l = strlen(s);

	if (b->n + l < b->len)
		memcpy(b->p + b->n, s, l + 1);
	b->n += l;
}

/* Render a filter as SQL over inodes AS i. Values are our own integers,
 * printed, never strings; depth is bounded by the planner's trees. */
static void cat_sql_cq(struct cat_sql_buf *b, const struct strata_cq *q)
{
	static const char *const cols[] = {
		[STRATA_CQ_SIZE] = "i.size",   [STRATA_CQ_ATIME] = "i.atime",
		[STRATA_CQ_MTIME] = "i.mtime", [STRATA_CQ_CTIME] = "i.ctime",
		[STRATA_CQ_BTIME] = "i.btime", [STRATA_CQ_UID] = "i.uid",
		[STRATA_CQ_GID] = "i.gid",
	};
	static const char *const ops[] = {
		[STRATA_CQ_LT] = " < ", [STRATA_CQ_LE] = " <= ",
		[STRATA_CQ_GT] = " > ", [STRATA_CQ_GE] = " >= ",
		[STRATA_CQ_EQ] = " = ", [STRATA_CQ_NE] = " != ",
	};
	char num[32];

	switch (q->kind) {
	case STRATA_CQ_TRUE:
		cat_sql_put(b, "1");
		break;
	case STRATA_CQ_AND:
	case STRATA_CQ_OR:
		cat_sql_put(b, "(");
		cat_sql_cq(b, q->left);
		cat_sql_put(b, q->kind == STRATA_CQ_AND ? " AND " : " OR ");
		cat_sql_cq(b, q->right);
		cat_sql_put(b, ")");
		break;
	case STRATA_CQ_NOT:
		cat_sql_put(b, "NOT (");
		cat_sql_cq(b, q->left);
		cat_sql_put(b, ")");
		break;
	case STRATA_CQ_TEST:
		cat_sql_put(b, cols[q->field]);
		cat_sql_put(b, ops[q->op]);
		snprintf(num, sizeof(num), "%" PRId64, q->value);
		cat_sql_put(b, num);
		break;
	}
}

/*
 * One page of a scan. With on_tier the walk follows the replicas index of
 * that tier; without, the inode table in ino order. The valid tiers and
 * the pin come from the primary keys of replicas and pins.
 */
/* The filter's verdict, pins included when asked. */
static void cat_sql_where(struct cat_sql_buf *b,
			  const struct strata_catalog_query *q)
{
	cat_sql_put(b, "(");
	if (q->where)
		cat_sql_cq(b, q->where);
	else
		cat_sql_put(b, "1");
	if (q->or_pinned)
		cat_sql_put(b, " OR i.ino IN (SELECT ino FROM pins)");
	cat_sql_put(b, ")");
}

static int cat_scan_sql(const struct strata_catalog_query *q, char *buf,
			size_t len)
{
	/* The valid tiers and the pin come from the primary keys of
	 * replicas and pins; user tags, when asked, from xattrs'. */
	static const char cols[] = "SELECT " CAT_ATTR_COLS(
		"i.") ", d.parent, d.name,"
		      " (SELECT group_concat(r.tier_id) FROM replicas AS r"
		      "  WHERE r.ino = i.ino AND r.state = 0"
		      "  AND r.version = i.version),"
		      " (SELECT p.tier_id FROM pins AS p WHERE p.ino = i.ino), ";
	static const char tags[] =
		"EXISTS (SELECT 1 FROM xattrs AS x WHERE x.ino = i.ino"
		" AND x.name >= 'user.' AND x.name < 'user/'), ";
	static const char from_tier[] =
		" FROM replicas AS t JOIN inodes AS i ON i.ino = t.ino"
		" JOIN dentries AS d ON d.ino = i.ino"
		" WHERE t.tier_id = ?3 AND t.state = 0"
		" AND t.version = i.version AND t.ino > ?1 AND t.ino <= ?4";
	static const char from_all[] =
		" FROM inodes AS i JOIN dentries AS d ON d.ino = i.ino"
		" WHERE i.ino > ?1 AND i.ino <= ?4";
	struct cat_sql_buf b = { .p = buf, .len = len };

	cat_sql_put(&b, cols);
	cat_sql_put(&b, q->with_tags ? tags : "0, ");
	if (q->where_as_column)
		cat_sql_where(&b, q);
	else
		cat_sql_put(&b, "1");
	cat_sql_put(&b, q->on_tier ? from_tier : from_all);
	cat_sql_put(&b, " AND (i.mode & 61440) = 32768 AND i.nlink > 0");
	if (!q->where_as_column) {
		cat_sql_put(&b, " AND ");
		cat_sql_where(&b, q);
	}
	/* Every name of a hard-linked file comes back, first name first;
	 * cat_scan keeps the first of each inode. */
	cat_sql_put(&b, q->on_tier ? " ORDER BY t.ino, d.cookie LIMIT ?2" :
				     " ORDER BY i.ino, d.cookie LIMIT ?2");
	return b.n < len ? 0 : -E2BIG;
}

static void cat_scan_tiers(const char *list, struct strata_scan_row *row)
{
	const char *p = list;
	char *end;

	row->ntiers = 0;
	while (p && *p && row->ntiers < STRATA_SCAN_TIERS) {
		row->tiers[row->ntiers++] = (uint32_t)strtoul(p, &end, 10);
		p = *end == ',' ? end + 1 : NULL;
	}
}

static int cat_get_int(struct cat_conn *c, enum cat_stmt_id id, int64_t key,
		       int64_t *out, const char *what);

static int cat_scan(struct strata_catalog *cat,
		    const struct strata_catalog_query *q, strata_ino_t after,
		    struct strata_scan_row *out, size_t max, size_t *n,
		    strata_ino_t *next)
{
	strata_ino_t end = after + STRATA_SCAN_WINDOW;
	int64_t last = 0;
	char sql[8192];
	sqlite3_stmt *st = NULL;
	struct strata_scan_row *row;
	struct cat_conn *c;
	int rc, ret;

	*n = 0;
	*next = 0;
	ret = cat_scan_sql(q, sql, sizeof(sql));
	if (ret == -E2BIG) {
		/* A filter too long to render: scan wider, never fail. */
		struct strata_catalog_query wide = *q;

		wide.where = NULL;
		wide.or_pinned = false;
		wide.where_as_column = false;
		ret = cat_scan_sql(&wide, sql, sizeof(sql));
	}
	if (ret < 0)
		return ret;
	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		ret = cat_errno(c, rc, "prepare scan");
		goto out;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)after);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)end);
	if (q->on_tier)
		sqlite3_bind_int64(st, 3, q->on_tier);
	for (rc = sqlite3_step(st); rc == SQLITE_ROW && *n < max;
	     rc = sqlite3_step(st)) {
		/* A second name of the file just returned. */
		if (*n && out[*n - 1].attr.ino ==
				  (strata_ino_t)sqlite3_column_int64(st, 0))
			continue;
		row = &out[(*n)++];
		cat_row_attr(st, 0, &row->attr);
		row->parent =
			(strata_ino_t)sqlite3_column_int64(st, CAT_ATTR_NCOLS);
		strata_strlcpy(row->name,
			       (const char *)sqlite3_column_text(
				       st, CAT_ATTR_NCOLS + 1),
			       sizeof(row->name));
		cat_scan_tiers((const char *)sqlite3_column_text(
				       st, CAT_ATTR_NCOLS + 2),
			       row);
		row->pin_tier =
			(uint32_t)sqlite3_column_int64(st, CAT_ATTR_NCOLS + 3);
		row->has_tags = sqlite3_column_int(st, CAT_ATTR_NCOLS + 4);
		row->wanted = sqlite3_column_int(st, CAT_ATTR_NCOLS + 5);
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		ret = cat_errno(c, rc, "scan files");
		goto out;
	}
	/* A full page goes on after its last file; a short one where the
	 * next inode beyond its window is (gaps in inode numbers cost no
	 * empty calls), unless there is none. */
	if (*n == max) {
		*next = out[*n - 1].attr.ino;
		goto out;
	}
	ret = cat_get_int(c, CAT_ST_NEXT_INO, (int64_t)end, &last,
			  "find the next inode");
	if (ret == 0 && last > 0)
		*next = (strata_ino_t)last - 1;
out:
	sqlite3_finalize(st);
	cat_rend(cat);
	return ret;
}

static int cat_tier_usage(struct strata_catalog *cat, uint32_t tier_id,
			  uint64_t *bytes, uint64_t *files)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_TIER_USAGE, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, tier_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*bytes = (uint64_t)sqlite3_column_int64(st, 0);
		*files = (uint64_t)sqlite3_column_int64(st, 1);
	} else if (rc == SQLITE_DONE) {
		ret = -ENOENT;
	} else {
		ret = cat_errno(c, rc, "read tier usage");
	}
out:
	if (st)
		sqlite3_reset(st);
	cat_rend(cat);
	return ret;
}

static int cat_replica_commit(struct strata_catalog *cat,
			      const struct strata_replica *r)
{
	struct strata_replica v = *r;
	struct strata_attr a;
	struct cat_conn *c;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, r->ino, &a);
	if (ret < 0)
		goto out;
	if (a.version != r->version || a.nlink == 0) {
		ret = a.nlink == 0 ? -ENOENT : -ESTALE;
		goto out;
	}
	ret = cat_tier_exists(c, r->tier_id);
	if (ret < 0)
		goto out;
	v.state = STRATA_REPLICA_VALID;
	ret = cat_replica_write(c, &v);
out:
	return cat_wend(cat, c, ret, false);
}

/* The replica (ino, tier_id) into out: -ENOENT when there is none. */
static int cat_replica_get(struct cat_conn *c, strata_ino_t ino,
			   uint32_t tier_id, struct strata_replica *out)
{
	struct strata_replica *v = NULL;
	size_t i, n = 0;
	int ret;

	ret = cat_replica_fetch(c, ino, &v, &n);
	if (ret < 0)
		return ret;
	ret = -ENOENT;
	for (i = 0; i < n; i++) {
		if (v[i].tier_id == tier_id) {
			*out = v[i];
			ret = 0;
		}
	}
	free(v);
	return ret;
}

static int cat_replica_drop(struct strata_catalog *cat, strata_ino_t ino,
			    uint32_t tier_id, struct strata_replica *other)
{
	struct strata_replica mine, alt;
	struct strata_attr a;
	sqlite3_stmt *st;
	struct cat_conn *c;
	int rc, ret;

	memset(&alt, 0, sizeof(alt));
	ret = cat_wbegin_as(cat, true, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret < 0)
		goto out;
	ret = cat_replica_get(c, ino, tier_id, &mine);
	if (ret < 0)
		goto out;
	ret = cat_stmt(c, CAT_ST_REPLICA_OTHER, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, tier_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cat_row_replica(st, &alt);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		ret = cat_errno(c, rc, "find replica");
		goto out;
	}
	/* The last valid copy of content the file has never goes. */
	if (rc == SQLITE_DONE && mine.state == STRATA_REPLICA_VALID &&
	    mine.version == a.version && a.size > 0) {
		ret = -EMLINK;
		goto out;
	}
	ret = cat_stmt(c, CAT_ST_REPLICA_DEL, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, tier_id);
	ret = cat_done(c, st, "delete replica");
out:
	ret = cat_wend(cat, c, ret, false);
	if (ret == 0 && other)
		*other = alt;
	return ret;
}

static int cat_pin_set(struct strata_catalog *cat, strata_ino_t ino,
		       uint32_t tier_id)
{
	struct timespec now = strata_now();
	struct strata_attr a;
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, ino, &a);
	if (ret == 0)
		ret = cat_tier_exists(c, tier_id);
	if (ret == 0)
		ret = cat_stmt(c, CAT_ST_PIN_SET, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, tier_id);
	sqlite3_bind_int64(st, 3, cat_ns(&now));
	ret = cat_done(c, st, "set pin");
out:
	return cat_wend(cat, c, ret, false);
}

/* Delete the one row statement id names by key: -ENOENT when there is
 * none. */
static int cat_delete_one(struct strata_catalog *cat, enum cat_stmt_id id,
			  int64_t key, const char *what)
{
	struct cat_conn *c;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_run_ino(c, id, (strata_ino_t)key, what);
	if (ret == 0 && sqlite3_changes(c->db) == 0)
		ret = -ENOENT;
	return cat_wend(cat, c, ret, false);
}

static int cat_pin_del(struct strata_catalog *cat, strata_ino_t ino)
{
	return cat_delete_one(cat, CAT_ST_PIN_DEL, (int64_t)ino, "remove pin");
}

/* Run st (parameter 1 bound to key) for one integer; -ENOENT: no row. */
static int cat_get_int(struct cat_conn *c, enum cat_stmt_id id, int64_t key,
		       int64_t *out, const char *what)
{
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_stmt(c, id, &st);
	if (ret < 0)
		return ret;
	sqlite3_bind_int64(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = cat_errno(c, rc, what);
	sqlite3_reset(st);
	return ret;
}

static int cat_pin_get(struct strata_catalog *cat, strata_ino_t ino,
		       uint32_t *tier_id)
{
	struct cat_conn *c;
	int64_t v = 0;
	int ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_get_int(c, CAT_ST_PIN_GET, (int64_t)ino, &v, "read pin");
	cat_rend(cat);
	if (ret == 0)
		*tier_id = (uint32_t)v;
	return ret;
}

static void cat_row_job(sqlite3_stmt *st, struct strata_job *j)
{
	memset(j, 0, sizeof(*j));
	j->id = sqlite3_column_int64(st, 0);
	j->kind = (enum strata_job_kind)sqlite3_column_int(st, 1);
	j->ino = (strata_ino_t)sqlite3_column_int64(st, 2);
	j->src_tier = (uint32_t)sqlite3_column_int64(st, 3);
	j->dst_tier = (uint32_t)sqlite3_column_int64(st, 4);
	j->state = (enum strata_job_state)sqlite3_column_int(st, 5);
	j->attempts = (uint32_t)sqlite3_column_int64(st, 6);
	j->bytes_done = (uint64_t)sqlite3_column_int64(st, 7);
	j->not_before = sqlite3_column_int64(st, 8);
	j->created = sqlite3_column_int64(st, 9);
	j->updated = sqlite3_column_int64(st, 10);
	strata_strlcpy(j->rule, (const char *)sqlite3_column_text(st, 11),
		       sizeof(j->rule));
	strata_strlcpy(j->last_error, (const char *)sqlite3_column_text(st, 12),
		       sizeof(j->last_error));
}

/* A tier column: NULL for none, so old rows and new agree. */
static void cat_bind_tier(sqlite3_stmt *st, int col, uint32_t tier)
{
	if (tier)
		sqlite3_bind_int64(st, col, tier);
	else
		sqlite3_bind_null(st, col);
}

static int cat_job_add(struct strata_catalog *cat, const struct strata_job *in,
		       int64_t *id)
{
	struct timespec now = strata_now();
	struct strata_attr a;
	struct cat_conn *c;
	sqlite3_stmt *st;
	int rc, ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_inode_get(c, in->ino, &a);
	if (ret == 0)
		ret = cat_stmt(c, CAT_ST_JOB_FIND, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)in->ino);
	sqlite3_bind_int(st, 2, (int)in->kind);
	sqlite3_bind_int64(st, 3, in->src_tier);
	sqlite3_bind_int64(st, 4, in->dst_tier);
	sqlite3_bind_int64(
		st, 5, cat_ns(&now) - STRATA_JOB_FAILED_HOLD_S * 1000000000ll);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		ret = -EEXIST;
	} else if (rc != SQLITE_DONE) {
		ret = cat_errno(c, rc, "find job");
	}
	sqlite3_reset(st);
	if (ret < 0)
		goto out;
	ret = cat_stmt(c, CAT_ST_JOB_INSERT, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int(st, 1, (int)in->kind);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)in->ino);
	cat_bind_tier(st, 3, in->src_tier);
	cat_bind_tier(st, 4, in->dst_tier);
	sqlite3_bind_int64(st, 5, cat_ns(&now));
	sqlite3_bind_text(st, 6, in->rule, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, in->not_before);
	ret = cat_done(c, st, "add job");
	if (ret == 0)
		*id = sqlite3_last_insert_rowid(c->db);
out:
	/* -EEXIST is an answer, not a failure: nothing to undo. */
	return cat_wend(cat, c, ret, false);
}

/* Up to max jobs from statement id, whose parameters are a and b, then
 * the limit (as ?3). */
static int cat_job_rows(struct strata_catalog *cat, enum cat_stmt_id id,
			int64_t a, int64_t b, struct strata_job *out,
			size_t max, size_t *n)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	*n = 0;
	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, id, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	for (rc = sqlite3_step(st); rc == SQLITE_ROW && *n < max;
	     rc = sqlite3_step(st))
		cat_row_job(st, &out[(*n)++]);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		ret = cat_errno(c, rc, "list jobs");
	sqlite3_reset(st);
out:
	cat_rend(cat);
	return ret;
}

static int cat_job_list(struct strata_catalog *cat, int state, int64_t after,
			struct strata_job *out, size_t max, size_t *n)
{
	return cat_job_rows(cat,
			    state < 0 ? CAT_ST_JOB_LIST_ANY : CAT_ST_JOB_LIST,
			    state, after, out, max, n);
}

static int cat_job_get(struct strata_catalog *cat, int64_t id,
		       struct strata_job *out)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_JOB_GET, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		cat_row_job(st, out);
	else if (rc == SQLITE_DONE)
		ret = -ENOENT;
	else
		ret = cat_errno(c, rc, "read job");
	sqlite3_reset(st);
out:
	cat_rend(cat);
	return ret;
}

static int cat_job_update(struct strata_catalog *cat,
			  const struct strata_job *j)
{
	struct timespec now = strata_now();
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_JOB_UPDATE, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, j->id);
	sqlite3_bind_int(st, 2, (int)j->state);
	sqlite3_bind_int64(st, 3, j->attempts);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)j->bytes_done);
	sqlite3_bind_int64(st, 5, j->not_before);
	sqlite3_bind_text(st, 6, j->last_error, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, cat_ns(&now));
	ret = cat_done(c, st, "update job");
	if (ret == 0 && sqlite3_changes(c->db) == 0)
		ret = -ENOENT;
out:
	return cat_wend(cat, c, ret, false);
}

static int cat_job_del(struct strata_catalog *cat, int64_t id)
{
	return cat_delete_one(cat, CAT_ST_JOB_DEL, id, "remove job");
}

static int cat_job_count(struct strata_catalog *cat, int state, uint64_t *n,
			 uint64_t *bytes);

static int cat_job_requeue(struct strata_catalog *cat, int64_t *n)
{
	uint64_t running = 0, bytes;
	struct cat_conn *c;
	int ret;

	/* Recovery at start, which a full disk must not stop: mostly there
	 * is nothing to requeue, and nothing is written. */
	*n = 0;
	ret = cat_job_count(cat, STRATA_JOB_RUNNING, &running, &bytes);
	if (ret < 0 || running == 0)
		return ret;
	ret = cat_wbegin_as(cat, true, &c);
	if (ret < 0)
		return ret;
	ret = cat_run(c, CAT_ST_JOB_REQUEUE, "requeue jobs");
	if (ret == 0)
		*n = sqlite3_changes(c->db);
	return cat_wend(cat, c, ret, false);
}

static int cat_job_count(struct strata_catalog *cat, int state, uint64_t *n,
			 uint64_t *bytes)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_JOB_COUNT, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int(st, 1, state);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*n = (uint64_t)sqlite3_column_int64(st, 0);
		*bytes = (uint64_t)sqlite3_column_int64(st, 1);
	} else {
		ret = cat_errno(c, rc, "count jobs");
	}
	sqlite3_reset(st);
out:
	cat_rend(cat);
	return ret;
}

static int cat_heat_add(struct strata_catalog *cat, strata_ino_t ino,
			int64_t hour, uint32_t reads)
{
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_HEAT_ADD, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, hour);
	sqlite3_bind_int64(st, 3, reads);
	ret = cat_done(c, st, "count reads");
out:
	return cat_wend(cat, c, ret, false);
}

static int cat_heat_sum(struct strata_catalog *cat, strata_ino_t ino,
			int64_t since_hour, uint64_t *reads)
{
	sqlite3_stmt *st = NULL;
	struct cat_conn *c;
	int rc, ret;

	ret = cat_rbegin(cat, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_HEAT_SUM, &st);
	if (ret < 0)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)ino);
	sqlite3_bind_int64(st, 2, since_hour);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*reads = (uint64_t)sqlite3_column_int64(st, 0);
	else
		ret = cat_errno(c, rc, "sum reads");
	sqlite3_reset(st);
out:
	cat_rend(cat);
	return ret;
}

static int cat_heat_prune(struct strata_catalog *cat, int64_t before_hour)
{
	struct cat_conn *c;
	sqlite3_stmt *st;
	int ret;

	ret = cat_wbegin(cat, false, &c);
	if (ret < 0)
		return ret;
	ret = cat_stmt(c, CAT_ST_HEAT_PRUNE, &st);
	if (ret == 0) {
		sqlite3_bind_int64(st, 1, before_hour);
		ret = cat_done(c, st, "forget old reads");
	}
	return cat_wend(cat, c, ret, false);
}

static int cat_job_due(struct strata_catalog *cat, int64_t now,
		       struct strata_job *out, size_t max, size_t *n)
{
	return cat_job_rows(cat, CAT_ST_JOB_DUE, now, 0, out, max, n);
}

const struct strata_catalog_ops strata_catalog_sqlite_ops = {
	.engine = "sqlite",
	.open = cat_open,
	.close = cat_close,
	.lookup = cat_lookup,
	.getattr = cat_getattr,
	.setattr = cat_setattr,
	.mknode = cat_mknode,
	.link = cat_link,
	.unlink = cat_unlink,
	.rmdir = cat_rmdir,
	.rename = cat_rename,
	.readdir = cat_readdir,
	.readlink = cat_readlink,
	.purge = cat_purge,
	.orphans = cat_orphans,
	.getxattr = cat_getxattr,
	.setxattr = cat_setxattr,
	.listxattr = cat_listxattr,
	.removexattr = cat_removexattr,
	.tier_ensure = cat_tier_ensure,
	.tier_list = cat_tier_list,
	.replica_list = cat_replica_list,
	.replica_put = cat_replica_put,
	.replica_del = cat_replica_del,
	.replica_find = cat_replica_find,
	.replica_scan = cat_replica_scan,
	.commit_write = cat_commit_write,
	.stats = cat_stats,
	.sync = cat_sync,
	.checkpoint = cat_checkpoint,
	.dentry_of = cat_dentry_of,
	.scan = cat_scan,
	.tier_usage = cat_tier_usage,
	.replica_commit = cat_replica_commit,
	.replica_drop = cat_replica_drop,
	.pin_set = cat_pin_set,
	.pin_del = cat_pin_del,
	.pin_get = cat_pin_get,
	.job_add = cat_job_add,
	.job_list = cat_job_list,
	.job_get = cat_job_get,
	.job_update = cat_job_update,
	.job_del = cat_job_del,
	.job_requeue = cat_job_requeue,
	.job_count = cat_job_count,
	.heat_add = cat_heat_add,
	.heat_sum = cat_heat_sum,
	.heat_prune = cat_heat_prune,
	.job_due = cat_job_due,
};
