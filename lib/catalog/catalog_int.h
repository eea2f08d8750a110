/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/catalog/catalog_int.h - helpers shared by the files of the catalog
 * module, never included from outside lib/catalog/.
 *
 * migrate.c owns the schema: it creates a new catalog and upgrades an older
 * one, one step per version, and refuses a catalog written by a newer
 * program. sqlite.c calls it once per open, on the connection of the
 * opening thread, before any other thread can reach the handle.
 */
#ifndef STRATA_CATALOG_CATALOG_INT_H
#define STRATA_CATALOG_CATALOG_INT_H

#include <stddef.h>
#include <time.h>

#include <sqlite3.h>

/* Nanoseconds since the epoch, the unit of every time column. */
static inline sqlite3_int64 strata__catalog_ts_to_ns(const struct timespec *ts)
{
	return (sqlite3_int64)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static inline struct timespec strata__catalog_ns_to_ts(sqlite3_int64 ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	if (ts.tv_nsec < 0) {
		ts.tv_sec -= 1;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

/*
 * The one translation of an SQLite result code (rc, not SQLITE_OK) into a
 * negative errno, for every file of the module. It logs the SQLite detail
 * of db once, naming the operation what: BUSY and LOCKED give -EAGAIN,
 * CONSTRAINT -EEXIST, FULL -ENOSPC, NOMEM -ENOMEM, READONLY -EROFS, the
 * rest -EIO. Defined in sqlite.c.
 */
int strata__catalog_errno(sqlite3 *db, int rc, const char *what);

/*
 * Bring the schema of db (named path in messages) to STRATA_CATALOG_SCHEMA,
 * creating it and the root directory in a new file. Each step runs in its
 * own write transaction, so a crash leaves the file at a whole version.
 * Returns 0, -EPROTO when the file's schema is newer than this program's,
 * or another negative errno; a message naming the file goes to err.
 */
int strata__catalog_migrate(sqlite3 *db, const char *path, char *err,
			    size_t errlen);

#endif
