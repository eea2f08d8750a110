/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/catalog/migrate.c - the catalog schema and its upgrades.
 *
 * The schema version lives in PRAGMA user_version (mirrored in the meta
 * table for people reading the file with the sqlite3 shell). steps[] holds
 * one entry per version: steps[N] takes a file from version N to N + 1, and
 * the step from 0 creates everything, root directory included. Each step is
 * one write transaction that re-reads the version first, so two processes
 * opening a new file at once do the work once. A file newer than this
 * program is refused with -EPROTO and left untouched. Called by sqlite.c on
 * the opening thread's connection only; nothing here is shared state.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "catalog.h"
#include "catalog_int.h"
#include "log.h"
#include "util.h"

struct mig_step {
	const char *sql;
	int (*fn)(sqlite3 *db); /* runs after sql when not NULL */
};

static const char mig_v1_sql[] =
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	");"
	"CREATE TABLE inodes ("
	"  ino INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  mode INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL DEFAULT 0,"
	"  gid INTEGER NOT NULL DEFAULT 0,"
	"  nlink INTEGER NOT NULL DEFAULT 0,"
	"  size INTEGER NOT NULL DEFAULT 0,"
	"  rdev INTEGER NOT NULL DEFAULT 0,"
	"  atime INTEGER NOT NULL DEFAULT 0,"
	"  mtime INTEGER NOT NULL DEFAULT 0,"
	"  ctime INTEGER NOT NULL DEFAULT 0,"
	"  btime INTEGER NOT NULL DEFAULT 0,"
	"  version INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX inodes_orphan ON inodes(nlink) WHERE nlink = 0;"
	"CREATE TABLE dentries ("
	"  cookie INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  parent INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  ino INTEGER NOT NULL,"
	"  UNIQUE (parent, name)"
	");"
	/* Cookies 1 and 2 are left to "." and "..". */
	"INSERT INTO sqlite_sequence (name, seq) VALUES ('dentries', 2);"
	"CREATE INDEX dentries_readdir ON dentries(parent, cookie);"
	"CREATE INDEX dentries_ino ON dentries(ino);"
	"CREATE TABLE symlinks ("
	"  ino INTEGER PRIMARY KEY,"
	"  target TEXT NOT NULL"
	");"
	"CREATE TABLE xattrs ("
	"  ino INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  value BLOB NOT NULL,"
	"  PRIMARY KEY (ino, name)"
	") WITHOUT ROWID;"
	"CREATE TABLE tiers ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  name TEXT NOT NULL UNIQUE,"
	"  url TEXT NOT NULL,"
	"  site TEXT NOT NULL,"
	"  capacity INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE TABLE replicas ("
	"  ino INTEGER NOT NULL,"
	"  tier_id INTEGER NOT NULL,"
	"  key TEXT NOT NULL,"
	"  version INTEGER NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  state INTEGER NOT NULL,"
	"  PRIMARY KEY (ino, tier_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX replicas_tier ON replicas(tier_id);"
	"CREATE TABLE pins ("
	"  ino INTEGER PRIMARY KEY,"
	"  tier_id INTEGER NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE jobs ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  kind INTEGER NOT NULL,"
	"  ino INTEGER NOT NULL,"
	"  src_tier INTEGER,"
	"  dst_tier INTEGER,"
	"  state INTEGER NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  bytes_done INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL,"
	"  updated INTEGER NOT NULL"
	");"
	"CREATE INDEX jobs_state ON jobs(state);"
	"CREATE INDEX jobs_ino ON jobs(ino);";

static int mig_v1_root(sqlite3 *db)
{
	static const char sql[] =
		"INSERT INTO inodes (ino, mode, uid, gid, nlink, size, rdev,"
		" atime, mtime, ctime, btime, version)"
		" VALUES (?1, ?2, 0, 0, 2, 0, 0, ?3, ?3, ?3, ?3, 0)";
	struct timespec now = strata_now();
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)STRATA_ROOT_INO);
	sqlite3_bind_int64(st, 2, S_IFDIR | 0755);
	sqlite3_bind_int64(st, 3, strata__catalog_ts_to_ns(&now));
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

/* v2: find the replica an object on a tier belongs to (strata fsck). */
static const char mig_v2_sql[] =
	"CREATE INDEX replicas_tier_key ON replicas(tier_id, key);";

/*
 * v3: the policy engine's jobs carry the rule that asked and a backoff
 * time; reads are counted per hour for heat; pins are found by tier; each
 * tier keeps the bytes and count of its replicas, kept right by triggers
 * (REPLACE fires the delete trigger because every connection turns on
 * recursive_triggers), so usage is one row, not a scan of the tier.
 */
static const char mig_v3_sql[] =
	"ALTER TABLE jobs ADD COLUMN rule TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE jobs ADD COLUMN not_before INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX jobs_file ON jobs(ino, kind, src_tier, dst_tier);"
	"CREATE TABLE heat ("
	"  ino INTEGER NOT NULL,"
	"  hour INTEGER NOT NULL,"
	"  reads INTEGER NOT NULL,"
	"  PRIMARY KEY (ino, hour)"
	") WITHOUT ROWID;"
	"CREATE INDEX pins_tier ON pins(tier_id);"
	"ALTER TABLE tiers ADD COLUMN used INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE tiers ADD COLUMN files INTEGER NOT NULL DEFAULT 0;"
	"UPDATE tiers SET"
	"  used = (SELECT coalesce(sum(size), 0) FROM replicas"
	"          WHERE tier_id = tiers.id),"
	"  files = (SELECT count(*) FROM replicas WHERE tier_id = tiers.id);"
	"CREATE TRIGGER replicas_add AFTER INSERT ON replicas BEGIN"
	"  UPDATE tiers SET used = used + NEW.size, files = files + 1"
	"  WHERE id = NEW.tier_id;"
	"END;"
	"CREATE TRIGGER replicas_del AFTER DELETE ON replicas BEGIN"
	"  UPDATE tiers SET used = used - OLD.size, files = files - 1"
	"  WHERE id = OLD.tier_id;"
	"END;"
	"CREATE TRIGGER replicas_resize AFTER UPDATE OF size, tier_id"
	" ON replicas BEGIN"
	"  UPDATE tiers SET used = used - OLD.size, files = files - 1"
	"  WHERE id = OLD.tier_id;"
	"  UPDATE tiers SET used = used + NEW.size, files = files + 1"
	"  WHERE id = NEW.tier_id;"
	"END;";

/* steps[N] upgrades version N to N + 1. */
static const struct mig_step steps[STRATA_CATALOG_SCHEMA] = {
	{ mig_v1_sql, mig_v1_root },
	{ mig_v2_sql, NULL },
	{ mig_v3_sql, NULL },
};

static int mig_user_version(sqlite3 *db, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto out;
	*out = sqlite3_column_int(st, 0);
	rc = SQLITE_OK;
out:
	sqlite3_finalize(st);
	return rc;
}

static int mig_set_version(sqlite3 *db, int version)
{
	char sql[160];

	/* PRAGMA takes no parameters; version is our own small integer. */
	snprintf(sql, sizeof(sql),
		 "PRAGMA user_version = %d;"
		 "INSERT OR REPLACE INTO meta (key, value)"
		 " VALUES ('schema', '%d');",
		 version, version);
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * Run steps[from] unless another process did it while we waited. On
 * failure the transaction is left open so the caller can read the error
 * message before rolling back.
 */
static int mig_step(sqlite3 *db, int from)
{
	const struct mig_step *s = &steps[from];
	int cur = 0;
	int rc;

	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = mig_user_version(db, &cur);
	if (rc != SQLITE_OK || cur != from)
		goto out;
	rc = sqlite3_exec(db, s->sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		goto out;
	if (s->fn) {
		rc = s->fn(db);
		if (rc != SQLITE_OK)
			goto out;
	}
	rc = mig_set_version(db, from + 1);
out:
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	return rc;
}

int strata__catalog_migrate(sqlite3 *db, const char *path, char *err,
			    size_t errlen)
{
	bool created;
	int cur = 0;
	int rc, ret;

	rc = mig_user_version(db, &cur);
	if (rc != SQLITE_OK) {
		ret = strata__catalog_errno(db, rc, "read schema version");
		snprintf(err, errlen, "cannot read catalog '%s': %s", path,
			 sqlite3_errmsg(db));
		goto out;
	}
	if (cur > STRATA_CATALOG_SCHEMA) {
		snprintf(
			err, errlen,
			"catalog '%s' has schema version %d, newer than %d of this program",
			path, cur, STRATA_CATALOG_SCHEMA);
		ret = -EPROTO;
		goto out;
	}
	created = cur == 0;
	for (; cur < STRATA_CATALOG_SCHEMA; cur++) {
		rc = mig_step(db, cur);
		if (rc != SQLITE_OK) {
			snprintf(
				err, errlen,
				"cannot upgrade catalog '%s' to schema version %d: %s",
				path, cur + 1, sqlite3_errmsg(db));
			ret = strata__catalog_errno(db, rc, "upgrade schema");
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			goto out;
		}
		/* A new file passes through every version: not news. */
		if (!created)
			strata_log(STRATA_LOG_NOTICE, STRATA_SUB_CATALOG,
				   "catalog '%s' upgraded to schema version %d",
				   path, cur + 1);
	}
	ret = 0;
out:
	return ret;
}
