/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/catalog/test_catalog.c - unit tests of the catalog and its
 * SQLite engine.
 *
 * Most tests run against a fresh ":memory:" catalog made by setup; the
 * persistence, schema-version and concurrency tests use a file catalog in
 * a mkdtemp() directory that teardown removes. SQLite is used directly only
 * to forge a catalog with a schema newer than this program.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <limits.h>
#include <unistd.h>

#include <sqlite3.h>

#include "catalog.h"

#define ROOT STRATA_ROOT_INO

struct tmpcat {
	char dir[64];
	char path[128];
};

static struct timespec ts(time_t sec)
{
	struct timespec t = { .tv_sec = sec, .tv_nsec = 123456789 };

	return t;
}

static int setup(void **state)
{
	struct strata_catalog *cat = NULL;
	char err[256];

	if (strata_catalog_open(NULL, ":memory:", &cat, err, sizeof(err)))
		return -1;
	*state = cat;
	return 0;
}

static int teardown(void **state)
{
	strata_catalog_close(*state);
	return 0;
}

static int tmp_setup(void **state)
{
	struct tmpcat *t = calloc(1, sizeof(*t));

	if (!t)
		return -1;
	strcpy(t->dir, "/tmp/strata-cat-XXXXXX");
	if (!mkdtemp(t->dir)) {
		free(t);
		return -1;
	}
	snprintf(t->path, sizeof(t->path), "%s/catalog.db", t->dir);
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	struct tmpcat *t = *state;
	char p[160];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", t->path, sfx[i]);
		unlink(p);
	}
	rmdir(t->dir);
	free(t);
	return 0;
}

static struct strata_attr tmpl(uint32_t mode, time_t sec)
{
	struct strata_attr a;

	memset(&a, 0, sizeof(a));
	a.mode = mode;
	a.uid = 1000;
	a.gid = 100;
	a.atime = a.mtime = a.ctime = a.btime = ts(sec);
	return a;
}

static strata_ino_t mk(struct strata_catalog *cat, strata_ino_t parent,
		       const char *name, uint32_t mode)
{
	struct strata_attr t = tmpl(mode, 1000), out;
	const char *target = S_ISLNK(mode) ? "target" : NULL;

	assert_int_equal(
		strata_catalog_mknode(cat, parent, name, &t, target, &out), 0);
	return out.ino;
}

static uint32_t nlink_of(struct strata_catalog *cat, strata_ino_t ino)
{
	struct strata_attr a;

	assert_int_equal(strata_catalog_getattr(cat, ino, &a), 0);
	return a.nlink;
}

static void assert_ts_equal(struct timespec a, struct timespec b)
{
	assert_int_equal(a.tv_sec, b.tv_sec);
	assert_int_equal(a.tv_nsec, b.tv_nsec);
}

/* ---- open and lookup ---- */

static void open_creates_root_directory(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr a;

	assert_int_equal(strata_catalog_getattr(cat, ROOT, &a), 0);
	assert_int_equal(a.ino, ROOT);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.nlink, 2);
	assert_true(a.mtime.tv_sec > 0);
}

static void open_with_unknown_engine_is_einval(void **state)
{
	struct strata_catalog *cat = (void *)1;
	char err[256] = "";

	(void)state;
	assert_int_equal(strata_catalog_open("nosuch", ":memory:", &cat, err,
					     sizeof(err)),
			 -EINVAL);
	assert_null(cat);
	assert_non_null(strstr(err, "'nosuch'"));
}

static void open_in_missing_directory_names_the_file(void **state)
{
	const char *path = "/nonexistent-strata-dir/catalog.db";
	struct strata_catalog *cat = NULL;
	char err[256] = "";

	(void)state;
	assert_true(strata_catalog_open(NULL, path, &cat, err, sizeof(err)) <
		    0);
	assert_null(cat);
	assert_non_null(strstr(err, path));
}

static void close_accepts_null(void **state)
{
	(void)state;
	strata_catalog_close(NULL);
}

static void lookup_of_missing_name_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr attr;

	assert_int_equal(strata_catalog_lookup(cat, ROOT, "nope", &attr),
			 -ENOENT);
}

static void lookup_under_a_file_is_enotdir(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct strata_attr attr;

	assert_int_equal(strata_catalog_lookup(cat, f, "x", &attr), -ENOTDIR);
}

static void lookup_under_missing_parent_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr attr;

	assert_int_equal(strata_catalog_lookup(cat, 999, "x", &attr), -ENOENT);
}

static void lookup_of_too_long_name_is_enametoolong(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr attr;
	char name[300];

	memset(name, 'a', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	assert_int_equal(strata_catalog_lookup(cat, ROOT, name, &attr),
			 -ENAMETOOLONG);
}

static void getattr_of_missing_inode_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr attr;

	assert_int_equal(strata_catalog_getattr(cat, 4242, &attr), -ENOENT);
}

/* ---- mknode ---- */

static void mknode_creates_file_with_template_attributes(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr t = tmpl(S_IFREG | 0640, 5000), out, got, root;

	t.size = 77;
	t.version = 9;
	t.nlink = 5;
	assert_int_equal(strata_catalog_mknode(cat, ROOT, "f", &t, NULL, &out),
			 0);
	assert_true(out.ino > ROOT);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), 0);
	assert_int_equal(got.ino, out.ino);
	assert_int_equal(got.mode, S_IFREG | 0640);
	assert_int_equal(got.uid, 1000);
	assert_int_equal(got.gid, 100);
	assert_int_equal(got.nlink, 1);
	assert_int_equal(got.size, 0);
	assert_int_equal(got.version, 0);
	assert_ts_equal(got.mtime, ts(5000));
	assert_ts_equal(got.btime, ts(5000));
	assert_memory_equal(&got, &out, sizeof(got));
	assert_int_equal(strata_catalog_getattr(cat, ROOT, &root), 0);
	assert_ts_equal(root.mtime, ts(5000));
	assert_ts_equal(root.ctime, ts(5000));
	assert_int_equal(root.nlink, 2);
}

static void mknode_of_directory_raises_parent_nlink(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);

	assert_int_equal(nlink_of(cat, d), 2);
	assert_int_equal(nlink_of(cat, ROOT), 3);
	mk(cat, d, "sub", S_IFDIR | 0755);
	assert_int_equal(nlink_of(cat, d), 3);
}

static void mknode_of_existing_name_is_eexist(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr t = tmpl(S_IFREG | 0644, 1), out;

	mk(cat, ROOT, "f", S_IFREG | 0644);
	assert_int_equal(strata_catalog_mknode(cat, ROOT, "f", &t, NULL, &out),
			 -EEXIST);
	t.mode = S_IFDIR | 0755;
	assert_int_equal(strata_catalog_mknode(cat, ROOT, "f", &t, NULL, &out),
			 -EEXIST);
	assert_int_equal(nlink_of(cat, ROOT), 2);
}

static void mknode_under_file_is_enotdir(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct strata_attr t = tmpl(S_IFREG | 0644, 1), out;

	assert_int_equal(strata_catalog_mknode(cat, f, "x", &t, NULL, &out),
			 -ENOTDIR);
	assert_int_equal(strata_catalog_mknode(cat, 777, "x", &t, NULL, &out),
			 -ENOENT);
}

static void mknode_in_setgid_directory_takes_its_group(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr t = tmpl(S_IFDIR | 02775, 1), d, out;

	t.gid = 50;
	assert_int_equal(strata_catalog_mknode(cat, ROOT, "sg", &t, NULL, &d),
			 0);
	assert_int_equal(d.mode, S_IFDIR | 02775);
	t = tmpl(S_IFREG | 0644, 1);
	assert_int_equal(strata_catalog_mknode(cat, d.ino, "f", &t, NULL, &out),
			 0);
	assert_int_equal(out.gid, 50);
	assert_int_equal(out.mode, S_IFREG | 0644);
	t = tmpl(S_IFDIR | 0755, 1);
	assert_int_equal(
		strata_catalog_mknode(cat, d.ino, "sub", &t, NULL, &out), 0);
	assert_int_equal(out.gid, 50);
	assert_int_equal(out.mode, S_IFDIR | 02755);
	assert_int_equal(strata_catalog_getattr(cat, out.ino, &out), 0);
	assert_int_equal(out.gid, 50);
	assert_int_equal(out.mode, S_IFDIR | 02755);
	/* Not setgid: the template's group. */
	t = tmpl(S_IFREG | 0644, 1);
	assert_int_equal(strata_catalog_mknode(cat, ROOT, "g", &t, NULL, &out),
			 0);
	assert_int_equal(out.gid, 100);
}

static void mknode_never_reuses_inode_numbers(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(2);
	strata_ino_t a, b;

	a = mk(cat, ROOT, "a", S_IFREG | 0644);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "a", &now, NULL), 0);
	assert_int_equal(strata_catalog_purge(cat, a), 0);
	b = mk(cat, ROOT, "a", S_IFREG | 0644);
	assert_true(b > a);
}

static void mknode_of_symlink_stores_its_target(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr t = tmpl(S_IFLNK | 0777, 1), out;
	char buf[64];
	size_t len = 0;

	assert_int_equal(
		strata_catalog_mknode(cat, ROOT, "l", &t, "../x/y", &out), 0);
	assert_int_equal(out.size, 6);
	assert_int_equal(strata_catalog_readlink(cat, out.ino, buf, sizeof(buf),
						 &len),
			 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "../x/y", 6);
}

static void mknode_of_symlink_without_target_is_einval(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr t = tmpl(S_IFLNK | 0777, 1), out;

	assert_int_equal(strata_catalog_mknode(cat, ROOT, "l", &t, NULL, &out),
			 -EINVAL);
}

static void readlink_with_small_buffer_is_erange(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t l = mk(cat, ROOT, "l", S_IFLNK | 0777);
	char buf[3];
	size_t len = 0;

	assert_int_equal(strata_catalog_readlink(cat, l, buf, sizeof(buf),
						 &len),
			 -ERANGE);
	assert_int_equal(len, strlen("target"));
}

static void readlink_of_regular_file_is_einval(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	char buf[16];
	size_t len;

	assert_int_equal(strata_catalog_readlink(cat, f, buf, sizeof(buf),
						 &len),
			 -EINVAL);
	assert_int_equal(strata_catalog_readlink(cat, 999, buf, sizeof(buf),
						 &len),
			 -ENOENT);
}

/* ---- setattr ---- */

static void setattr_changes_only_named_fields(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct strata_attr in, out, got;

	memset(&in, 0, sizeof(in));
	in.mode = S_IFDIR | 04700; /* the type bits must be ignored */
	in.uid = 7;
	in.gid = 8;
	in.size = 4096;
	in.mtime = ts(3000);
	in.ctime = ts(3001);
	in.version = 5;
	assert_int_equal(strata_catalog_setattr(
				 cat, f, &in,
				 STRATA_SET_MODE | STRATA_SET_UID |
					 STRATA_SET_SIZE | STRATA_SET_MTIME |
					 STRATA_SET_CTIME | STRATA_SET_VERSION,
				 &out),
			 0);
	assert_int_equal(out.mode, S_IFREG | 04700);
	assert_int_equal(out.uid, 7);
	assert_int_equal(out.gid, 100);
	assert_int_equal(out.size, 4096);
	assert_int_equal(out.version, 5);
	assert_ts_equal(out.mtime, ts(3000));
	assert_ts_equal(out.ctime, ts(3001));
	assert_ts_equal(out.atime, ts(1000));
	assert_int_equal(strata_catalog_getattr(cat, f, &got), 0);
	assert_memory_equal(&got, &out, sizeof(got));
}

static void setattr_of_missing_inode_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr in, out;

	memset(&in, 0, sizeof(in));
	assert_int_equal(strata_catalog_setattr(cat, 999, &in, STRATA_SET_UID,
						&out),
			 -ENOENT);
}

/* ---- link, unlink, rmdir ---- */

static void link_adds_a_name_and_a_link(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	struct timespec now = ts(4000);
	struct strata_attr out, got, dir;

	assert_int_equal(strata_catalog_link(cat, f, d, "g", &now, &out), 0);
	assert_int_equal(out.nlink, 2);
	assert_ts_equal(out.ctime, now);
	assert_int_equal(strata_catalog_lookup(cat, d, "g", &got), 0);
	assert_int_equal(got.ino, f);
	assert_int_equal(got.nlink, 2);
	assert_int_equal(strata_catalog_getattr(cat, d, &dir), 0);
	assert_ts_equal(dir.mtime, now);
	assert_ts_equal(dir.ctime, now);
	assert_int_equal(dir.nlink, 2);
}

static void link_of_directory_is_eperm(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	struct timespec now = ts(1);
	struct strata_attr out;

	assert_int_equal(strata_catalog_link(cat, d, ROOT, "e", &now, &out),
			 -EPERM);
}

static void link_onto_existing_name_is_eexist(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(1);
	struct strata_attr out;

	mk(cat, ROOT, "g", S_IFREG | 0644);
	assert_int_equal(strata_catalog_link(cat, f, ROOT, "g", &now, &out),
			 -EEXIST);
	assert_int_equal(nlink_of(cat, f), 1);
	assert_int_equal(strata_catalog_link(cat, 999, ROOT, "h", &now, &out),
			 -ENOENT);
}

static void unlink_drops_a_link_and_keeps_the_inode(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(6000);
	struct strata_attr v, got, root;

	assert_int_equal(strata_catalog_link(cat, f, ROOT, "g", &now, NULL), 0);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "f", &now, &v), 0);
	assert_int_equal(v.ino, f);
	assert_int_equal(v.nlink, 1);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "g", &now, &v), 0);
	assert_int_equal(v.nlink, 0);
	assert_ts_equal(v.ctime, now);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), -ENOENT);
	assert_int_equal(strata_catalog_getattr(cat, f, &got), 0);
	assert_int_equal(got.nlink, 0);
	assert_int_equal(strata_catalog_getattr(cat, ROOT, &root), 0);
	assert_ts_equal(root.mtime, now);
}

static void unlink_of_directory_is_eisdir(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);
	struct strata_attr v;

	mk(cat, ROOT, "d", S_IFDIR | 0755);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "d", &now, &v),
			 -EISDIR);
}

static void unlink_of_missing_name_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);
	struct strata_attr v;

	assert_int_equal(strata_catalog_unlink(cat, ROOT, "x", &now, &v),
			 -ENOENT);
}

static void rmdir_removes_an_empty_directory(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	struct timespec now = ts(7000);
	struct strata_attr v, got;

	assert_int_equal(nlink_of(cat, ROOT), 3);
	assert_int_equal(strata_catalog_rmdir(cat, ROOT, "d", &now, &v), 0);
	assert_int_equal(v.ino, d);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(nlink_of(cat, d), 0);
	assert_int_equal(nlink_of(cat, ROOT), 2);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "d", &got), -ENOENT);
}

static void rmdir_of_non_empty_directory_is_enotempty(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	struct timespec now = ts(1);
	struct strata_attr v;

	mk(cat, d, "f", S_IFREG | 0644);
	assert_int_equal(strata_catalog_rmdir(cat, ROOT, "d", &now, &v),
			 -ENOTEMPTY);
	assert_int_equal(nlink_of(cat, ROOT), 3);
}

static void rmdir_of_file_is_enotdir(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);
	struct strata_attr v;

	mk(cat, ROOT, "f", S_IFREG | 0644);
	assert_int_equal(strata_catalog_rmdir(cat, ROOT, "f", &now, &v),
			 -ENOTDIR);
	assert_int_equal(strata_catalog_rmdir(cat, ROOT, "x", &now, &v),
			 -ENOENT);
}

/* ---- rename ---- */

struct collect {
	size_t n;
	size_t stop_after; /* 0: never stop */
	char names[64][32];
	uint64_t offs[64];
	strata_ino_t inos[64];
};

static int collect_cb(void *arg, const struct strata_dirent *de)
{
	struct collect *c = arg;

	if (c->n < 64) {
		snprintf(c->names[c->n], sizeof(c->names[0]), "%s", de->name);
		c->offs[c->n] = de->off;
		c->inos[c->n] = de->attr->ino;
	}
	c->n++;
	return c->stop_after && c->n >= c->stop_after;
}

static uint64_t cookie_of(struct strata_catalog *cat, strata_ino_t dir,
			  const char *name)
{
	struct collect c;
	size_t i;

	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, dir, 0, collect_cb, &c),
			 0);
	for (i = 0; i < c.n && i < 64; i++) {
		if (strcmp(c.names[i], name) == 0)
			return c.offs[i];
	}
	fail_msg("no entry '%s'", name);
	return 0;
}

static void rename_moves_a_file_and_keeps_its_cookie(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	struct timespec now = ts(8000);
	struct strata_attr got, root, dir;
	uint64_t cookie = cookie_of(cat, ROOT, "f");
	bool replaced = true;

	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", d, "g", 0, &now,
					       NULL, &replaced),
			 0);
	assert_false(replaced);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), -ENOENT);
	assert_int_equal(strata_catalog_lookup(cat, d, "g", &got), 0);
	assert_int_equal(got.ino, f);
	assert_ts_equal(got.ctime, now);
	assert_int_equal(cookie_of(cat, d, "g"), cookie);
	assert_int_equal(strata_catalog_getattr(cat, ROOT, &root), 0);
	assert_int_equal(strata_catalog_getattr(cat, d, &dir), 0);
	assert_ts_equal(root.mtime, now);
	assert_ts_equal(root.ctime, now);
	assert_ts_equal(dir.mtime, now);
	assert_int_equal(root.nlink, 3);
	assert_int_equal(dir.nlink, 2);
}

static void rename_of_missing_name_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);

	assert_int_equal(strata_catalog_rename(cat, ROOT, "x", ROOT, "y", 0,
					       &now, NULL, NULL),
			 -ENOENT);
}

static void rename_replaces_an_existing_file(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	strata_ino_t g = mk(cat, ROOT, "g", S_IFREG | 0644);
	struct timespec now = ts(9000);
	struct strata_attr v, got;
	bool replaced = false;

	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "g", 0,
					       &now, &v, &replaced),
			 0);
	assert_true(replaced);
	assert_int_equal(v.ino, g);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(nlink_of(cat, g), 0);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "g", &got), 0);
	assert_int_equal(got.ino, f);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), -ENOENT);
}

static void rename_replaces_an_empty_directory(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t a = mk(cat, ROOT, "a", S_IFDIR | 0755);
	strata_ino_t b = mk(cat, ROOT, "b", S_IFDIR | 0755);
	strata_ino_t x = mk(cat, a, "x", S_IFDIR | 0755);
	strata_ino_t y = mk(cat, b, "y", S_IFDIR | 0755);
	struct timespec now = ts(1);
	struct strata_attr v, got;
	bool replaced = false;

	assert_int_equal(nlink_of(cat, a), 3);
	assert_int_equal(nlink_of(cat, b), 3);
	assert_int_equal(strata_catalog_rename(cat, a, "x", b, "y", 0, &now, &v,
					       &replaced),
			 0);
	assert_true(replaced);
	assert_int_equal(v.ino, y);
	assert_int_equal(v.nlink, 0);
	assert_int_equal(nlink_of(cat, y), 0);
	assert_int_equal(nlink_of(cat, a), 2);
	assert_int_equal(nlink_of(cat, b), 3);
	assert_int_equal(strata_catalog_lookup(cat, b, "y", &got), 0);
	assert_int_equal(got.ino, x);
}

static void rename_onto_non_empty_directory_is_enotempty(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t b = mk(cat, ROOT, "b", S_IFDIR | 0755);
	struct timespec now = ts(1);
	struct strata_attr got;

	mk(cat, ROOT, "a", S_IFDIR | 0755);
	mk(cat, b, "child", S_IFREG | 0644);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "a", ROOT, "b", 0,
					       &now, NULL, NULL),
			 -ENOTEMPTY);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "a", &got), 0);
	assert_int_equal(nlink_of(cat, ROOT), 4);
}

static void rename_of_file_onto_directory_is_eisdir(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);

	mk(cat, ROOT, "f", S_IFREG | 0644);
	mk(cat, ROOT, "d", S_IFDIR | 0755);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "d", 0,
					       &now, NULL, NULL),
			 -EISDIR);
}

static void rename_of_directory_onto_file_is_enotdir(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);

	mk(cat, ROOT, "f", S_IFREG | 0644);
	mk(cat, ROOT, "d", S_IFDIR | 0755);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "d", ROOT, "f", 0,
					       &now, NULL, NULL),
			 -ENOTDIR);
}

static void rename_noreplace_onto_existing_name_is_eexist(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);
	struct strata_attr got;

	mk(cat, ROOT, "f", S_IFREG | 0644);
	mk(cat, ROOT, "g", S_IFREG | 0644);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "g",
					       STRATA_RENAME_NOREPLACE, &now,
					       NULL, NULL),
			 -EEXIST);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "h",
					       STRATA_RENAME_NOREPLACE, &now,
					       NULL, NULL),
			 0);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "h", &got), 0);
}

static void rename_exchange_swaps_two_names(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	strata_ino_t g = mk(cat, ROOT, "g", S_IFREG | 0644);
	struct timespec now = ts(1);
	struct strata_attr got;
	bool replaced = true;

	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "g",
					       STRATA_RENAME_EXCHANGE, &now,
					       NULL, &replaced),
			 0);
	assert_false(replaced);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), 0);
	assert_int_equal(got.ino, g);
	assert_int_equal(got.nlink, 1);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "g", &got), 0);
	assert_int_equal(got.ino, f);
	assert_int_equal(got.nlink, 1);
}

static void rename_exchange_of_dir_and_file_moves_parent_nlinks(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t a = mk(cat, ROOT, "a", S_IFDIR | 0755);
	strata_ino_t b = mk(cat, ROOT, "b", S_IFDIR | 0755);
	strata_ino_t sub = mk(cat, a, "sub", S_IFDIR | 0755);
	strata_ino_t f = mk(cat, b, "f", S_IFREG | 0644);
	struct timespec now = ts(1);
	struct strata_attr got;

	assert_int_equal(nlink_of(cat, a), 3);
	assert_int_equal(nlink_of(cat, b), 2);
	assert_int_equal(strata_catalog_rename(cat, a, "sub", b, "f",
					       STRATA_RENAME_EXCHANGE, &now,
					       NULL, NULL),
			 0);
	assert_int_equal(strata_catalog_lookup(cat, a, "sub", &got), 0);
	assert_int_equal(got.ino, f);
	assert_int_equal(strata_catalog_lookup(cat, b, "f", &got), 0);
	assert_int_equal(got.ino, sub);
	assert_int_equal(nlink_of(cat, a), 2);
	assert_int_equal(nlink_of(cat, b), 3);
}

static void rename_exchange_with_missing_target_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);

	mk(cat, ROOT, "f", S_IFREG | 0644);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "g",
					       STRATA_RENAME_EXCHANGE, &now,
					       NULL, NULL),
			 -ENOENT);
}

static void rename_with_both_flags_is_einval(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);

	mk(cat, ROOT, "f", S_IFREG | 0644);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "g",
					       STRATA_RENAME_EXCHANGE |
						       STRATA_RENAME_NOREPLACE,
					       &now, NULL, NULL),
			 -EINVAL);
}

static void rename_onto_a_hard_link_of_itself_does_nothing(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(1);
	struct strata_attr got;
	bool replaced = true;

	assert_int_equal(strata_catalog_link(cat, f, ROOT, "g", &now, NULL), 0);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "g", 0,
					       &now, NULL, &replaced),
			 0);
	assert_false(replaced);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), 0);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "g", &got), 0);
	assert_int_equal(got.nlink, 2);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "f", ROOT, "f", 0,
					       &now, NULL, NULL),
			 0);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "f", &got), 0);
}

static void rename_of_directory_to_other_parent_moves_nlink(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t a = mk(cat, ROOT, "a", S_IFDIR | 0755);
	strata_ino_t b = mk(cat, ROOT, "b", S_IFDIR | 0755);
	strata_ino_t d = mk(cat, a, "d", S_IFDIR | 0755);
	struct timespec now = ts(1);
	struct strata_attr got;

	assert_int_equal(strata_catalog_rename(cat, a, "d", b, "e", 0, &now,
					       NULL, NULL),
			 0);
	assert_int_equal(nlink_of(cat, a), 2);
	assert_int_equal(nlink_of(cat, b), 3);
	assert_int_equal(nlink_of(cat, d), 2);
	assert_int_equal(strata_catalog_lookup(cat, b, "e", &got), 0);
	assert_int_equal(got.ino, d);
	assert_int_equal(strata_catalog_rename(cat, b, "e", b, "f", 0, &now,
					       NULL, NULL),
			 0);
	assert_int_equal(nlink_of(cat, b), 3);
}

static void rename_of_directory_into_its_own_subtree_is_einval(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t a = mk(cat, ROOT, "a", S_IFDIR | 0755);
	strata_ino_t b = mk(cat, a, "b", S_IFDIR | 0755);
	struct timespec now = ts(1);

	mk(cat, b, "c", S_IFDIR | 0755);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "a", b, "x", 0, &now,
					       NULL, NULL),
			 -EINVAL);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "a", a, "x", 0, &now,
					       NULL, NULL),
			 -EINVAL);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "a", b, "c", 0, &now,
					       NULL, NULL),
			 -EINVAL);
}

/* ---- readdir ---- */

static void readdir_lists_entries_in_cookie_order_with_attributes(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	strata_ino_t z = mk(cat, d, "z", S_IFREG | 0644);
	strata_ino_t a = mk(cat, d, "a", S_IFDIR | 0755);
	struct collect c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, d, 0, collect_cb, &c), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.names[0], "z");
	assert_string_equal(c.names[1], "a");
	assert_int_equal(c.inos[0], z);
	assert_int_equal(c.inos[1], a);
	assert_true(c.offs[0] > 2);
	assert_true(c.offs[1] > c.offs[0]);
	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 2, collect_cb, &c),
			 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.names[0], "d");
}

static void readdir_of_empty_directory_calls_nothing(void **state)
{
	struct strata_catalog *cat = *state;
	struct collect c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 0, collect_cb, &c),
			 0);
	assert_int_equal(c.n, 0);
}

static void readdir_stops_when_callback_returns_nonzero(void **state)
{
	struct strata_catalog *cat = *state;
	struct collect c;

	mk(cat, ROOT, "a", S_IFREG | 0644);
	mk(cat, ROOT, "b", S_IFREG | 0644);
	mk(cat, ROOT, "c", S_IFREG | 0644);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 0, collect_cb, &c),
			 0);
	assert_int_equal(c.n, 2);
	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, ROOT,
						cookie_of(cat, ROOT, "b"),
						collect_cb, &c),
			 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.names[0], "c");
}

static void readdir_of_file_is_enotdir(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct collect c;

	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, f, 0, collect_cb, &c),
			 -ENOTDIR);
	assert_int_equal(strata_catalog_readdir(cat, 999, 0, collect_cb, &c),
			 -ENOENT);
}

static void readdir_resumes_after_entries_change_between_pages(void **state)
{
	struct strata_catalog *cat = *state;
	struct timespec now = ts(1);
	struct collect c;
	uint64_t off;

	mk(cat, ROOT, "a", S_IFREG | 0644);
	mk(cat, ROOT, "b", S_IFREG | 0644);
	mk(cat, ROOT, "c", S_IFREG | 0644);
	mk(cat, ROOT, "d", S_IFREG | 0644);
	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 0, collect_cb, &c),
			 0);
	off = c.offs[1];
	/* Between pages: drop a seen and an unseen entry, add one, rename
	 * an unseen one (it keeps its place). */
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "a", &now, NULL), 0);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "c", &now, NULL), 0);
	assert_int_equal(strata_catalog_rename(cat, ROOT, "d", ROOT, "dd", 0,
					       &now, NULL, NULL),
			 0);
	mk(cat, ROOT, "e", S_IFREG | 0644);
	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, ROOT, off, collect_cb, &c),
			 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.names[0], "dd");
	assert_string_equal(c.names[1], "e");
}

struct reenter {
	struct strata_catalog *cat;
	strata_ino_t dir;
	size_t n;
};

static int reenter_cb(void *arg, const struct strata_dirent *de)
{
	struct reenter *r = arg;
	struct strata_attr got;
	struct timespec now = ts(1);

	assert_int_equal(strata_catalog_lookup(r->cat, r->dir, de->name, &got),
			 0);
	assert_int_equal(got.ino, de->attr->ino);
	assert_int_equal(
		strata_catalog_unlink(r->cat, r->dir, de->name, &now, NULL), 0);
	r->n++;
	return 0;
}

static void readdir_callback_may_call_the_catalog(void **state)
{
	struct strata_catalog *cat = *state;
	struct reenter r = { .cat = cat, .dir = ROOT };
	struct collect c;

	mk(cat, ROOT, "a", S_IFREG | 0644);
	mk(cat, ROOT, "b", S_IFREG | 0644);
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 0, reenter_cb, &r),
			 0);
	assert_int_equal(r.n, 2);
	memset(&c, 0, sizeof(c));
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 0, collect_cb, &c),
			 0);
	assert_int_equal(c.n, 0);
}

struct counter {
	size_t n;
	uint64_t last;
	bool ordered;
	size_t stop_every; /* 0: never */
};

static int count_cb(void *arg, const struct strata_dirent *de)
{
	struct counter *c = arg;

	if (de->off <= c->last || de->attr->ino == 0)
		c->ordered = false;
	c->last = de->off;
	c->n++;
	return c->stop_every && c->n % c->stop_every == 0;
}

static void readdir_of_ten_thousand_entries_pages_completely(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_attr t = tmpl(S_IFREG | 0644, 1);
	struct counter c = { .ordered = true };
	size_t before;
	char name[32];
	int i;

	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "file-%05d", i);
		assert_int_equal(strata_catalog_mknode(cat, ROOT, name, &t,
						       NULL, NULL),
				 0);
	}
	assert_int_equal(strata_catalog_readdir(cat, ROOT, 0, count_cb, &c), 0);
	assert_int_equal(c.n, 10000);
	assert_true(c.ordered);
	/* Resume in small chunks, as a FUSE buffer would. */
	memset(&c, 0, sizeof(c));
	c.ordered = true;
	c.stop_every = 37;
	do {
		before = c.n;
		assert_int_equal(strata_catalog_readdir(cat, ROOT, c.last,
							count_cb, &c),
				 0);
	} while (c.n != before);
	assert_int_equal(c.n, 10000);
	assert_true(c.ordered);
}

/* ---- purge and orphans ---- */

static void purge_of_linked_inode_is_ebusy(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);

	assert_int_equal(strata_catalog_purge(cat, f), -EBUSY);
	assert_int_equal(strata_catalog_purge(cat, ROOT), -EBUSY);
	assert_int_equal(strata_catalog_purge(cat, 999), -ENOENT);
}

static int count_replica_cb(void *arg, const struct strata_replica *r)
{
	(void)r;
	(*(int *)arg)++;
	return 0;
}

static void purge_removes_the_inode_and_its_rows(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct strata_tier_row tier = { .name = "fast",
					.url = "local:///x",
					.site = "here" };
	struct timespec now = ts(1), mt = ts(2);
	struct strata_attr got;
	char buf[8];
	size_t len;
	int n = 0;

	assert_int_equal(strata_catalog_tier_ensure(cat, &tier, &tier), 0);
	assert_int_equal(
		strata_catalog_setxattr(cat, f, "user.a", "1", 1, 0, &now), 0);
	assert_int_equal(strata_catalog_commit_write(cat, f, tier.id, "k/1", 5,
						     &mt, true, false, NULL),
			 0);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "f", &now, NULL), 0);
	assert_int_equal(strata_catalog_purge(cat, f), 0);
	assert_int_equal(strata_catalog_getattr(cat, f, &got), -ENOENT);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.a", buf,
						 sizeof(buf), &len),
			 -ENOENT);
	assert_int_equal(
		strata_catalog_replica_list(cat, f, count_replica_cb, &n), 0);
	assert_int_equal(n, 0);
}

static void orphans_lists_unlinked_inodes(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t a = mk(cat, ROOT, "a", S_IFREG | 0644);
	strata_ino_t d = mk(cat, ROOT, "d", S_IFDIR | 0755);
	struct timespec now = ts(1);
	strata_ino_t out[4];
	size_t n = 99;

	mk(cat, ROOT, "b", S_IFREG | 0644);
	assert_int_equal(strata_catalog_orphans(cat, out, 4, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "a", &now, NULL), 0);
	assert_int_equal(strata_catalog_rmdir(cat, ROOT, "d", &now, NULL), 0);
	assert_int_equal(strata_catalog_orphans(cat, out, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], a);
	assert_int_equal(out[1], d);
	assert_int_equal(strata_catalog_orphans(cat, out, 1, &n), 0);
	assert_int_equal(n, 1);
}

/* ---- xattrs ---- */

static void xattr_set_then_get_returns_the_value(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(12345);
	struct strata_attr got;
	char buf[16];
	size_t len = 0;

	assert_int_equal(strata_catalog_setxattr(cat, f, "user.tag", "v\0x", 3,
						 0, &now),
			 0);
	assert_int_equal(strata_catalog_getattr(cat, f, &got), 0);
	assert_ts_equal(got.ctime, now);
	assert_int_equal(
		strata_catalog_getxattr(cat, f, "user.tag", NULL, 0, &len), 0);
	assert_int_equal(len, 3);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.tag", buf,
						 sizeof(buf), &len),
			 0);
	assert_int_equal(len, 3);
	assert_memory_equal(buf, "v\0x", 3);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.tag", buf, 2,
						 &len),
			 -ERANGE);
}

static void xattr_of_empty_value_has_length_zero(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(1);
	char buf[4];
	size_t len = 99;

	assert_int_equal(
		strata_catalog_setxattr(cat, f, "user.e", NULL, 0, 0, &now), 0);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.e", buf,
						 sizeof(buf), &len),
			 0);
	assert_int_equal(len, 0);
}

static void getxattr_of_missing_name_is_enodata(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	char buf[4];
	size_t len;

	assert_int_equal(strata_catalog_getxattr(cat, f, "user.no", buf,
						 sizeof(buf), &len),
			 -ENODATA);
	assert_int_equal(strata_catalog_getxattr(cat, 999, "user.no", buf,
						 sizeof(buf), &len),
			 -ENOENT);
}

static void setxattr_flags_check_presence(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(1);
	char buf[4];
	size_t len;

	assert_int_equal(strata_catalog_setxattr(cat, f, "user.a", "1", 1,
						 STRATA_XATTR_REPLACE, &now),
			 -ENODATA);
	assert_int_equal(strata_catalog_setxattr(cat, f, "user.a", "1", 1,
						 STRATA_XATTR_CREATE, &now),
			 0);
	assert_int_equal(strata_catalog_setxattr(cat, f, "user.a", "2", 1,
						 STRATA_XATTR_CREATE, &now),
			 -EEXIST);
	assert_int_equal(strata_catalog_setxattr(cat, f, "user.a", "3", 1,
						 STRATA_XATTR_REPLACE, &now),
			 0);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.a", buf,
						 sizeof(buf), &len),
			 0);
	assert_memory_equal(buf, "3", 1);
	assert_int_equal(strata_catalog_setxattr(cat, 999, "user.a", "1", 1, 0,
						 &now),
			 -ENOENT);
}

static void listxattr_returns_names_and_checks_the_buffer(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(1);
	char buf[64];
	size_t len = 99;

	assert_int_equal(
		strata_catalog_listxattr(cat, f, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(
		strata_catalog_setxattr(cat, f, "user.b", "1", 1, 0, &now), 0);
	assert_int_equal(
		strata_catalog_setxattr(cat, f, "user.a", "1", 1, 0, &now), 0);
	assert_int_equal(strata_catalog_listxattr(cat, f, NULL, 0, &len), 0);
	assert_int_equal(len, 14);
	assert_int_equal(
		strata_catalog_listxattr(cat, f, buf, sizeof(buf), &len), 0);
	assert_int_equal(len, 14);
	assert_memory_equal(buf, "user.a\0user.b\0", 14);
	assert_int_equal(strata_catalog_listxattr(cat, f, buf, 10, &len),
			 -ERANGE);
	assert_int_equal(strata_catalog_listxattr(cat, 999, buf, sizeof(buf),
						  &len),
			 -ENOENT);
}

static void removexattr_deletes_and_reports_missing(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct timespec now = ts(1), later = ts(50000);
	struct strata_attr got;
	char buf[4];
	size_t len;

	assert_int_equal(
		strata_catalog_setxattr(cat, f, "user.a", "1", 1, 0, &now), 0);
	assert_int_equal(strata_catalog_removexattr(cat, f, "user.a", &later),
			 0);
	assert_int_equal(strata_catalog_getattr(cat, f, &got), 0);
	assert_ts_equal(got.ctime, later);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.a", buf,
						 sizeof(buf), &len),
			 -ENODATA);
	assert_int_equal(strata_catalog_removexattr(cat, f, "user.a", &now),
			 -ENODATA);
}

/* ---- tiers, replicas, writes ---- */

static void tier_ensure_creates_then_updates_and_keeps_the_id(void **state)
{
	struct strata_catalog *cat = *state;
	struct strata_tier_row in = { .name = "nvme",
				      .url = "local:///a",
				      .site = "paris",
				      .capacity = 10 };
	struct strata_tier_row s3 = { .name = "s3",
				      .url = "s3://b/",
				      .site = "paris" };
	struct strata_tier_row out, again, list[4];
	size_t n = 0;

	assert_int_equal(strata_catalog_tier_ensure(cat, &in, &out), 0);
	assert_true(out.id > 0);
	assert_string_equal(out.url, "local:///a");
	assert_int_equal(strata_catalog_tier_ensure(cat, &s3, NULL), 0);
	strcpy(in.url, "local:///b");
	in.capacity = 20;
	assert_int_equal(strata_catalog_tier_ensure(cat, &in, &again), 0);
	assert_int_equal(again.id, out.id);
	assert_string_equal(again.url, "local:///b");
	assert_int_equal(again.capacity, 20);
	assert_int_equal(strata_catalog_tier_list(cat, list, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(list[0].name, "nvme");
	assert_string_equal(list[0].url, "local:///b");
	assert_string_equal(list[0].site, "paris");
	assert_string_equal(list[1].name, "s3");
	assert_int_equal(strata_catalog_tier_list(cat, list, 1, &n), 0);
	assert_int_equal(n, 1);
}

struct replicas {
	int n;
	struct strata_replica r[4];
};

static int replica_cb(void *arg, const struct strata_replica *r)
{
	struct replicas *v = arg;

	if (v->n < 4)
		v->r[v->n] = *r;
	v->n++;
	return 0;
}

static uint32_t tier(struct strata_catalog *cat, const char *name)
{
	struct strata_tier_row t = { .url = "local:///t", .site = "s" };

	strcpy(t.name, name);
	assert_int_equal(strata_catalog_tier_ensure(cat, &t, &t), 0);
	return t.id;
}

static void replica_put_list_and_del_round_trip(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	uint32_t t1 = tier(cat, "one"), t2 = tier(cat, "two");
	struct strata_replica r = { .ino = f,
				    .tier_id = t2,
				    .key = "obj/2",
				    .version = 3,
				    .size = 10,
				    .state = STRATA_REPLICA_COPYING };
	struct replicas v = { 0 };

	assert_int_equal(strata_catalog_replica_put(cat, &r), 0);
	r.tier_id = t1;
	strcpy(r.key, "obj/1");
	r.state = STRATA_REPLICA_VALID;
	assert_int_equal(strata_catalog_replica_put(cat, &r), 0);
	assert_int_equal(strata_catalog_replica_list(cat, f, replica_cb, &v),
			 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.r[0].tier_id, t1);
	assert_string_equal(v.r[0].key, "obj/1");
	assert_int_equal(v.r[1].tier_id, t2);
	assert_int_equal(v.r[1].state, STRATA_REPLICA_COPYING);
	assert_int_equal(v.r[1].version, 3);
	assert_int_equal(v.r[1].size, 10);
	assert_int_equal(strata_catalog_replica_del(cat, f, t2), 0);
	assert_int_equal(strata_catalog_replica_del(cat, f, t2), -ENOENT);
	memset(&v, 0, sizeof(v));
	assert_int_equal(strata_catalog_replica_list(cat, f, replica_cb, &v),
			 0);
	assert_int_equal(v.n, 1);
}

static void replica_put_for_missing_inode_or_tier_is_enoent(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	struct strata_replica r = { .ino = 999,
				    .tier_id = tier(cat, "t"),
				    .key = "k" };

	assert_int_equal(strata_catalog_replica_put(cat, &r), -ENOENT);
	r.ino = f;
	r.tier_id = 77;
	assert_int_equal(strata_catalog_replica_put(cat, &r), -ENOENT);
}

static void commit_write_with_bump_versions_inode_and_replica(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	uint32_t t1 = tier(cat, "one"), t2 = tier(cat, "two");
	struct timespec mt = ts(20000);
	struct strata_replica old = {
		.ino = f, .tier_id = t2, .key = "old", .version = 0, .size = 0
	};
	struct strata_attr out, got;
	struct replicas v = { 0 };

	assert_int_equal(strata_catalog_replica_put(cat, &old), 0);
	assert_int_equal(strata_catalog_commit_write(cat, f, t1, "key/f", 4096,
						     &mt, true, false, &out),
			 0);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.size, 4096);
	assert_ts_equal(out.mtime, mt);
	assert_ts_equal(out.ctime, mt);
	assert_int_equal(strata_catalog_getattr(cat, f, &got), 0);
	assert_memory_equal(&got, &out, sizeof(got));
	assert_int_equal(strata_catalog_replica_list(cat, f, replica_cb, &v),
			 0);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.r[0].tier_id, t1);
	assert_string_equal(v.r[0].key, "key/f");
	assert_int_equal(v.r[0].version, 1);
	assert_int_equal(v.r[0].size, 4096);
	assert_int_equal(v.r[0].state, STRATA_REPLICA_VALID);
	assert_int_equal(v.r[1].version, 0); /* now stale */
}

static void commit_write_without_bump_updates_sizes_only(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	uint32_t t1 = tier(cat, "one");
	struct timespec mt = ts(100), mt2 = ts(200);
	struct strata_attr out;
	struct replicas v = { 0 };

	assert_int_equal(strata_catalog_commit_write(cat, f, t1, "k", 10, &mt,
						     true, false, &out),
			 0);
	assert_int_equal(strata_catalog_commit_write(cat, f, t1, "k", 30, &mt2,
						     false, false, &out),
			 0);
	assert_int_equal(out.version, 1);
	assert_int_equal(out.size, 30);
	assert_ts_equal(out.mtime, mt2);
	assert_int_equal(strata_catalog_replica_list(cat, f, replica_cb, &v),
			 0);
	assert_int_equal(v.n, 1);
	assert_int_equal(v.r[0].size, 30);
	assert_int_equal(v.r[0].version, 1);
	assert_int_equal(strata_catalog_commit_write(cat, 999, t1, "k", 1, &mt,
						     true, false, &out),
			 -ENOENT);
}

static void stats_counts_inodes_and_regular_bytes(void **state)
{
	struct strata_catalog *cat = *state;
	strata_ino_t f = mk(cat, ROOT, "f", S_IFREG | 0644);
	strata_ino_t g = mk(cat, ROOT, "g", S_IFREG | 0644);
	struct strata_attr in = { .size = 1000 };
	struct strata_catalog_stats st;

	mk(cat, ROOT, "d", S_IFDIR | 0755);
	mk(cat, ROOT, "l", S_IFLNK | 0777);
	assert_int_equal(
		strata_catalog_setattr(cat, f, &in, STRATA_SET_SIZE, NULL), 0);
	in.size = 24;
	assert_int_equal(
		strata_catalog_setattr(cat, g, &in, STRATA_SET_SIZE, NULL), 0);
	assert_int_equal(strata_catalog_stats(cat, &st), 0);
	assert_int_equal(st.inodes, 5);
	assert_int_equal(st.bytes, 1024);
	assert_int_equal(strata_catalog_checkpoint(cat), 0);
}

/* ---- file catalogs ---- */

static void replica_find_and_scan_by_tier(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t t1 = tier(cat, "one");
	uint32_t t2 = tier(cat, "two");
	struct strata_replica r = { .version = 1, .size = 3 };
	struct strata_replica page[2];
	strata_ino_t f[3];
	size_t n;

	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		f[i] = mk(cat, ROOT, name, S_IFREG | 0644);
		r.ino = f[i];
		r.tier_id = i == 1 ? t2 : t1;
		snprintf(r.key, sizeof(r.key), "k%d", i);
		assert_int_equal(strata_catalog_replica_put(cat, &r), 0);
	}
	assert_int_equal(strata_catalog_replica_find(cat, t2, "k1", &r), 0);
	assert_int_equal(r.ino, f[1]);
	assert_string_equal(r.key, "k1");
	assert_int_equal(strata_catalog_replica_find(cat, t1, "k1", &r),
			 -ENOENT);
	assert_int_equal(strata_catalog_replica_scan(cat, t1, 0, page, 1, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(page[0].ino, f[0]);
	assert_int_equal(strata_catalog_replica_scan(cat, t1, page[0].ino, page,
						     2, &n),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(page[0].ino, f[2]);
	assert_int_equal(
		strata_catalog_replica_scan(cat, t1, f[2], page, 2, &n), 0);
	assert_int_equal(n, 0);
}

/* A scan call examines a window of inodes: far-apart files take a call
 * each, a gap in inode numbers costs no call of its own, and no file is
 * lost. */
static void scan_pages_through_windows_of_inodes(void **state)
{
	struct tmpcat *t = *state;
	struct strata_catalog *cat = NULL;
	struct strata_catalog_query q = { 0 };
	struct strata_scan_row rows[8];
	strata_ino_t after = 0, first, far;
	sqlite3 *db = NULL;
	char err[256];
	int calls = 0, empty = 0, found = 0;
	size_t n;

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	first = mk(cat, ROOT, "first", S_IFREG | 0644);
	strata_catalog_close(cat);
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "UPDATE sqlite_sequence SET seq = 300000"
				      " WHERE name = 'inodes'",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	far = mk(cat, ROOT, "far", S_IFREG | 0644);
	assert_true(far > first + 3 * STRATA_SCAN_WINDOW);
	do {
		assert_int_equal(strata_catalog_scan(cat, &q, after, rows, 8,
						     &n, &after),
				 0);
		calls++;
		empty += n == 0;
		for (size_t i = 0; i < n; i++)
			found += rows[i].attr.ino == first ||
				 rows[i].attr.ino == far;
	} while (after);
	assert_int_equal(found, 2);
	assert_int_equal(calls, 2);
	assert_int_equal(empty, 0);
	strata_catalog_close(cat);
}

/* A version 1 file (no tier/key index, no heat, jobs without rule and
 * backoff) is upgraded in place at open. */
static void version_1_catalog_is_upgraded_at_open(void **state)
{
	struct tmpcat *t = *state;
	struct strata_catalog *cat = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char err[256];

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	mk(cat, ROOT, "kept", S_IFREG | 0644);
	strata_catalog_close(cat);
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "DROP INDEX replicas_tier_key;"
				      "DROP INDEX jobs_file;"
				      "DROP INDEX pins_tier;"
				      "DROP TABLE heat;"
				      "ALTER TABLE jobs DROP COLUMN rule;"
				      "ALTER TABLE jobs DROP COLUMN not_before;"
				      "DROP TRIGGER replicas_add;"
				      "DROP TRIGGER replicas_del;"
				      "DROP TRIGGER replicas_resize;"
				      "ALTER TABLE tiers DROP COLUMN used;"
				      "ALTER TABLE tiers DROP COLUMN files;"
				      "PRAGMA user_version = 1;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	strata_catalog_close(cat);
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), STRATA_CATALOG_SCHEMA);
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM sqlite_master"
					    " WHERE name = 'replicas_tier_key'",
					    -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 1);
	sqlite3_finalize(st);
	sqlite3_close(db);
	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "kept",
					       &(struct strata_attr){ 0 }),
			 0);
	strata_catalog_close(cat);
}

/*
 * fdatasync is wrapped at link time (-Wl,--wrap=fdatasync, CMakeLists.txt)
 * to count the catalog's own syncs of its write-ahead log.
 */
int __real_fdatasync(int fd);
static int wal_syncs;

int __wrap_fdatasync(int fd)
{
	char link[64];
	char target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n > 4) {
		target[n] = '\0';
		if (strcmp(target + n - 4, "-wal") == 0)
			wal_syncs++;
	}
	return __real_fdatasync(fd);
}

/* Another process's read snapshot (a backup, a monitor) can keep SQLite
 * from syncing the log at a checkpoint; a durable commit must not care. */
static void
durable_commit_syncs_log_while_another_reader_holds_snapshot(void **state)
{
	struct tmpcat *t = *state;
	struct strata_catalog *cat = NULL;
	struct timespec mt = ts(7);
	struct strata_attr out;
	sqlite3 *reader = NULL;
	strata_ino_t f;
	char err[256];

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	f = mk(cat, ROOT, "f", S_IFREG | 0644);
	assert_int_equal(strata_catalog_sync(cat, true), 0);
	assert_int_equal(sqlite3_open(t->path, &reader), SQLITE_OK);
	assert_int_equal(sqlite3_exec(reader,
				      "BEGIN; SELECT count(*) FROM inodes;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	wal_syncs = 0;
	assert_int_equal(strata_catalog_commit_write(cat, f, tier(cat, "t"),
						     "k", 5, &mt, true, true,
						     &out),
			 0);
	assert_true(wal_syncs >= 1);
	/* Nothing new committed: a second durable sync has nothing to do. */
	wal_syncs = 0;
	assert_int_equal(strata_catalog_sync(cat, true), 0);
	assert_int_equal(wal_syncs, 0);
	sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(reader);
	strata_catalog_close(cat);
}

static void file_catalog_persists_across_reopen(void **state)
{
	struct tmpcat *t = *state;
	struct strata_catalog *cat = NULL;
	struct strata_attr got, out;
	struct timespec mt = ts(42);
	char err[256];
	strata_ino_t f;
	char buf[8];
	size_t len;

	assert_int_equal(strata_catalog_open("sqlite", t->path, &cat, err,
					     sizeof(err)),
			 0);
	f = mk(cat, ROOT, "kept", S_IFREG | 0600);
	mk(cat, ROOT, "dir", S_IFDIR | 0755);
	assert_int_equal(
		strata_catalog_setxattr(cat, f, "user.x", "yz", 2, 0, &mt), 0);
	assert_int_equal(strata_catalog_commit_write(cat, f, tier(cat, "t"),
						     "k", 9, &mt, true, true,
						     &out),
			 0);
	assert_int_equal(strata_catalog_checkpoint(cat), 0);
	strata_catalog_close(cat);

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	assert_int_equal(strata_catalog_lookup(cat, ROOT, "kept", &got), 0);
	assert_int_equal(got.ino, f);
	assert_int_equal(got.mode, S_IFREG | 0600);
	assert_int_equal(got.size, 9);
	assert_int_equal(got.version, 1);
	assert_int_equal(nlink_of(cat, ROOT), 3);
	assert_int_equal(strata_catalog_getxattr(cat, f, "user.x", buf,
						 sizeof(buf), &len),
			 0);
	assert_memory_equal(buf, "yz", 2);
	strata_catalog_close(cat);
}

static void catalog_with_newer_schema_is_refused_with_eproto(void **state)
{
	struct tmpcat *t = *state;
	struct strata_catalog *cat = NULL;
	sqlite3_stmt *st = NULL;
	char err[256] = "";
	sqlite3 *db = NULL;

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	strata_catalog_close(cat);
	cat = NULL;
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL,
				      NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(strata_catalog_open(NULL, t->path, &cat, err,
					     sizeof(err)),
			 -EPROTO);
	assert_null(cat);
	assert_non_null(strstr(err, t->path));
	assert_non_null(strstr(err, "99"));
	/* The refused file is left as it was. */
	assert_int_equal(sqlite3_open(t->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(st, 0), 99);
	sqlite3_finalize(st);
	sqlite3_close(db);
}

#define CONC_THREADS 4
#define CONC_ROUNDS 300

struct conc {
	struct strata_catalog *cat;
	int id;
	int failures;
};

static void *conc_worker(void *arg)
{
	struct conc *w = arg;
	struct strata_attr t = tmpl(S_IFREG | 0644, 1), got;
	struct timespec now = ts(2);
	char name[32];
	int i;

	for (i = 0; i < CONC_ROUNDS; i++) {
		snprintf(name, sizeof(name), "t%d-%d", w->id, i);
		if (strata_catalog_mknode(w->cat, ROOT, name, &t, NULL, &got))
			w->failures++;
		if (strata_catalog_lookup(w->cat, ROOT, name, &got))
			w->failures++;
		if (i % 2 &&
		    strata_catalog_unlink(w->cat, ROOT, name, &now, &got))
			w->failures++;
		if (i % 2 && strata_catalog_purge(w->cat, got.ino))
			w->failures++;
	}
	return NULL;
}

static void run_concurrently(struct strata_catalog *cat)
{
	struct conc w[CONC_THREADS];
	pthread_t th[CONC_THREADS];
	struct strata_catalog_stats st;
	int i;

	for (i = 0; i < CONC_THREADS; i++) {
		w[i].cat = cat;
		w[i].id = i;
		w[i].failures = 0;
		assert_int_equal(
			pthread_create(&th[i], NULL, conc_worker, &w[i]), 0);
	}
	for (i = 0; i < CONC_THREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(strata_catalog_stats(cat, &st), 0);
	assert_int_equal(st.inodes, 1 + CONC_THREADS * CONC_ROUNDS / 2);
}

static void threads_creating_and_unlinking_at_once_see_no_error(void **state)
{
	struct tmpcat *t = *state;
	struct strata_catalog *cat = NULL;
	char err[256];

	assert_int_equal(
		strata_catalog_open(NULL, t->path, &cat, err, sizeof(err)), 0);
	run_concurrently(cat);
	strata_catalog_close(cat);
}

static void memory_catalog_is_shared_by_threads(void **state)
{
	run_concurrently(*state);
}

static void memory_catalogs_are_independent(void **state)
{
	struct strata_catalog *cat = *state, *other = NULL;
	struct strata_attr got;
	char err[256];

	mk(cat, ROOT, "only-here", S_IFREG | 0644);
	assert_int_equal(strata_catalog_open(NULL, ":memory:", &other, err,
					     sizeof(err)),
			 0);
	assert_int_equal(strata_catalog_lookup(other, ROOT, "only-here", &got),
			 -ENOENT);
	strata_catalog_close(other);
}

/* ---- policy support ---- */

static uint32_t mk_tier(struct strata_catalog *cat, const char *name)
{
	struct strata_tier_row t = { .url = "file:///x", .site = "here" };

	strcpy(t.name, name);
	assert_int_equal(strata_catalog_tier_ensure(cat, &t, &t), 0);
	return t.id;
}

/* A file of size bytes with a valid replica on tier. */
static strata_ino_t mk_data(struct strata_catalog *cat, const char *name,
			    uint32_t tier, uint64_t size)
{
	strata_ino_t f = mk(cat, ROOT, name, S_IFREG | 0644);
	struct timespec mt = ts(2000);

	assert_int_equal(strata_catalog_commit_write(cat, f, tier, "k", size,
						     &mt, true, false, NULL),
			 0);
	return f;
}

static void scan_filters_by_compiled_conditions(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t fast = mk_tier(cat, "fast"), slow = mk_tier(cat, "slow");
	strata_ino_t small = mk_data(cat, "small", fast, 10);
	strata_ino_t big = mk_data(cat, "big", fast, 5000);
	strata_ino_t far = mk_data(cat, "far", slow, 7000);
	struct strata_cq gt = { .kind = STRATA_CQ_TEST,
				.field = STRATA_CQ_SIZE,
				.op = STRATA_CQ_GT,
				.value = 100 };
	struct strata_catalog_query q = { .where = &gt };
	struct strata_scan_row rows[8];
	strata_ino_t next;
	size_t n;

	mk(cat, ROOT, "dir", S_IFDIR | 0755);
	assert_int_equal(strata_catalog_scan(cat, &q, 0, rows, 8, &n, &next),
			 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].attr.ino, big);
	assert_string_equal(rows[0].name, "big");
	assert_int_equal(rows[0].parent, ROOT);
	assert_int_equal(rows[0].ntiers, 1);
	assert_int_equal(rows[0].tiers[0], fast);
	assert_int_equal(rows[1].attr.ino, far);
	/* on_tier follows the tier's replicas only. */
	q.on_tier = fast;
	assert_int_equal(strata_catalog_scan(cat, &q, 0, rows, 8, &n, &next),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attr.ino, big);
	/* Paging: after the last ino seen. */
	q.where = NULL;
	q.on_tier = 0;
	assert_int_equal(strata_catalog_scan(cat, &q, 0, rows, 1, &n, &next),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].attr.ino, small);
	assert_int_equal(
		strata_catalog_scan(cat, &q, small, rows, 8, &n, &next), 0);
	assert_int_equal(n, 2);
	/* Pinned files pass any filter with or_pinned. */
	assert_int_equal(strata_catalog_pin_set(cat, small, slow), 0);
	q.where = &gt;
	q.or_pinned = true;
	assert_int_equal(strata_catalog_scan(cat, &q, 0, rows, 8, &n, &next),
			 0);
	assert_int_equal(n, 3);
	assert_int_equal(rows[0].pin_tier, slow);
}

static void replica_commit_refuses_a_changed_version(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t fast = mk_tier(cat, "fast"), slow = mk_tier(cat, "slow");
	strata_ino_t f = mk_data(cat, "f", fast, 10);
	struct strata_replica r = { .ino = f, .tier_id = slow, .size = 10 };
	struct strata_attr a;
	struct timespec mt = ts(3000);
	uint64_t bytes, files;

	strcpy(r.key, "k2");
	assert_int_equal(strata_catalog_getattr(cat, f, &a), 0);
	r.version = a.version;
	/* A write lands between copy and commit: the copy is void. */
	assert_int_equal(strata_catalog_commit_write(cat, f, fast, "k", 11, &mt,
						     true, false, NULL),
			 0);
	assert_int_equal(strata_catalog_replica_commit(cat, &r), -ESTALE);
	r.version = a.version + 1;
	assert_int_equal(strata_catalog_replica_commit(cat, &r), 0);
	assert_int_equal(strata_catalog_tier_usage(cat, slow, &bytes, &files),
			 0);
	assert_int_equal(bytes, 10);
	assert_int_equal(files, 1);
}

static void replica_drop_never_drops_the_last_valid_copy(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t fast = mk_tier(cat, "fast"), slow = mk_tier(cat, "slow");
	strata_ino_t f = mk_data(cat, "f", fast, 10);
	struct strata_replica r = { .ino = f, .tier_id = slow, .size = 10 };
	struct strata_replica other;
	struct strata_attr a;

	assert_int_equal(strata_catalog_replica_drop(cat, f, fast, NULL),
			 -EMLINK);
	assert_int_equal(strata_catalog_replica_drop(cat, f, slow, NULL),
			 -ENOENT);
	assert_int_equal(strata_catalog_getattr(cat, f, &a), 0);
	strcpy(r.key, "k2");
	r.version = a.version;
	assert_int_equal(strata_catalog_replica_commit(cat, &r), 0);
	assert_int_equal(strata_catalog_replica_drop(cat, f, fast, &other), 0);
	assert_int_equal(other.tier_id, slow);
	assert_string_equal(other.key, "k2");
	assert_int_equal(strata_catalog_replica_drop(cat, f, slow, NULL),
			 -EMLINK);
}

static void tier_usage_follows_every_replica_change(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t fast = mk_tier(cat, "fast"), slow = mk_tier(cat, "slow");
	strata_ino_t f = mk_data(cat, "f", fast, 100);
	strata_ino_t g = mk_data(cat, "g", fast, 50);
	struct timespec mt = ts(3000), now = ts(3001);
	struct strata_replica r = { .ino = f, .tier_id = slow, .size = 100 };
	struct strata_attr a;
	uint64_t bytes, files;

	assert_int_equal(strata_catalog_tier_usage(cat, fast, &bytes, &files),
			 0);
	assert_int_equal(bytes, 150);
	assert_int_equal(files, 2);
	/* A rewrite replaces the row: counted once, at its new size. */
	assert_int_equal(strata_catalog_commit_write(cat, f, fast, "k", 70, &mt,
						     true, false, NULL),
			 0);
	assert_int_equal(strata_catalog_commit_write(cat, g, fast, "k", 80, &mt,
						     false, false, NULL),
			 0);
	assert_int_equal(strata_catalog_tier_usage(cat, fast, &bytes, &files),
			 0);
	assert_int_equal(bytes, 150);
	assert_int_equal(files, 2);
	assert_int_equal(strata_catalog_getattr(cat, f, &a), 0);
	r.version = a.version;
	r.size = 70;
	strcpy(r.key, "k2");
	assert_int_equal(strata_catalog_replica_commit(cat, &r), 0);
	assert_int_equal(strata_catalog_replica_drop(cat, f, fast, NULL), 0);
	assert_int_equal(strata_catalog_tier_usage(cat, fast, &bytes, &files),
			 0);
	assert_int_equal(bytes, 80);
	assert_int_equal(files, 1);
	assert_int_equal(strata_catalog_tier_usage(cat, slow, &bytes, &files),
			 0);
	assert_int_equal(bytes, 70);
	assert_int_equal(files, 1);
	/* Purging a file takes its replicas off the count. */
	assert_int_equal(strata_catalog_unlink(cat, ROOT, "f", &now, NULL), 0);
	assert_int_equal(strata_catalog_purge(cat, f), 0);
	assert_int_equal(strata_catalog_tier_usage(cat, slow, &bytes, &files),
			 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(files, 0);
	assert_int_equal(strata_catalog_tier_usage(cat, 4242, &bytes, &files),
			 -ENOENT);
}

static void jobs_are_deduplicated_listed_updated_and_requeued(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t fast = mk_tier(cat, "fast"), slow = mk_tier(cat, "slow");
	strata_ino_t f = mk_data(cat, "f", fast, 10);
	struct strata_job j = { .kind = STRATA_JOB_MOVE,
				.ino = f,
				.src_tier = fast,
				.dst_tier = slow };
	struct strata_job v[4];
	int64_t id, id2;
	uint64_t n, bytes;
	size_t got;

	strcpy(j.rule, "cold");
	assert_int_equal(strata_catalog_job_add(cat, &j, &id), 0);
	assert_int_equal(strata_catalog_job_add(cat, &j, &id2), -EEXIST);
	assert_int_equal(id2, id);
	j.ino = 999999;
	assert_int_equal(strata_catalog_job_add(cat, &j, &id2), -ENOENT);
	assert_int_equal(strata_catalog_job_list(cat, STRATA_JOB_PENDING, 0, v,
						 4, &got),
			 0);
	assert_int_equal(got, 1);
	assert_int_equal(v[0].ino, f);
	assert_int_equal(v[0].src_tier, fast);
	assert_int_equal(v[0].dst_tier, slow);
	assert_string_equal(v[0].rule, "cold");
	v[0].state = STRATA_JOB_RUNNING;
	v[0].attempts = 2;
	strcpy(v[0].last_error, "busy");
	assert_int_equal(strata_catalog_job_update(cat, &v[0]), 0);
	assert_int_equal(strata_catalog_job_count(cat, STRATA_JOB_RUNNING, &n,
						  &bytes),
			 0);
	assert_int_equal(n, 1);
	assert_int_equal(bytes, 10);
	/* A restart: running jobs go back to pending, none is lost. */
	assert_int_equal(strata_catalog_job_requeue(cat, &id2), 0);
	assert_int_equal(id2, 1);
	assert_int_equal(strata_catalog_job_get(cat, id, &v[1]), 0);
	assert_int_equal(v[1].state, STRATA_JOB_PENDING);
	assert_int_equal(v[1].attempts, 2);
	assert_string_equal(v[1].last_error, "busy");
	/* Due jobs: a job backing off waits, without hiding the others. */
	v[1].not_before = INT64_MAX / 2;
	assert_int_equal(strata_catalog_job_update(cat, &v[1]), 0);
	j.ino = f;
	j.kind = STRATA_JOB_DROP;
	assert_int_equal(strata_catalog_job_add(cat, &j, &id2), 0);
	assert_int_equal(strata_catalog_job_due(cat, 1000, v, 4, &got), 0);
	assert_int_equal(got, 1);
	assert_int_equal(v[0].id, id2);
	/* A job that gave up keeps its twin away for a while. */
	assert_int_equal(strata_catalog_job_get(cat, id, &v[1]), 0);
	v[1].state = STRATA_JOB_FAILED;
	assert_int_equal(strata_catalog_job_update(cat, &v[1]), 0);
	j.kind = STRATA_JOB_MOVE;
	assert_int_equal(strata_catalog_job_add(cat, &j, &id2), -EEXIST);
	assert_int_equal(id2, id);
	assert_int_equal(strata_catalog_job_del(cat, id), 0);
	assert_int_equal(strata_catalog_job_del(cat, id), -ENOENT);
	assert_int_equal(strata_catalog_job_add(cat, &j, &id2), 0);
}

static void pins_and_heat_are_kept_per_file(void **state)
{
	struct strata_catalog *cat = *state;
	uint32_t fast = mk_tier(cat, "fast");
	strata_ino_t f = mk_data(cat, "f", fast, 10);
	uint32_t pin = 0;
	uint64_t reads = 0;

	assert_int_equal(strata_catalog_pin_get(cat, f, &pin), -ENOENT);
	assert_int_equal(strata_catalog_pin_set(cat, f, 4242), -ENOENT);
	assert_int_equal(strata_catalog_pin_set(cat, f, fast), 0);
	assert_int_equal(strata_catalog_pin_get(cat, f, &pin), 0);
	assert_int_equal(pin, fast);
	assert_int_equal(strata_catalog_pin_del(cat, f), 0);
	assert_int_equal(strata_catalog_pin_del(cat, f), -ENOENT);
	assert_int_equal(strata_catalog_heat_add(cat, f, 100, 2), 0);
	assert_int_equal(strata_catalog_heat_add(cat, f, 100, 1), 0);
	assert_int_equal(strata_catalog_heat_add(cat, f, 90, 5), 0);
	assert_int_equal(strata_catalog_heat_sum(cat, f, 95, &reads), 0);
	assert_int_equal(reads, 3);
	assert_int_equal(strata_catalog_heat_sum(cat, f, 0, &reads), 0);
	assert_int_equal(reads, 8);
	assert_int_equal(strata_catalog_heat_prune(cat, 95), 0);
	assert_int_equal(strata_catalog_heat_sum(cat, f, 0, &reads), 0);
	assert_int_equal(reads, 3);
}

#define MEM(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
#define TMP(t) cmocka_unit_test_setup_teardown(t, tmp_setup, tmp_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		MEM(open_creates_root_directory),
		TMP(scan_pages_through_windows_of_inodes),
		MEM(scan_filters_by_compiled_conditions),
		MEM(replica_commit_refuses_a_changed_version),
		MEM(replica_drop_never_drops_the_last_valid_copy),
		MEM(tier_usage_follows_every_replica_change),
		MEM(jobs_are_deduplicated_listed_updated_and_requeued),
		MEM(pins_and_heat_are_kept_per_file),
		cmocka_unit_test(open_with_unknown_engine_is_einval),
		cmocka_unit_test(open_in_missing_directory_names_the_file),
		cmocka_unit_test(close_accepts_null),
		MEM(lookup_of_missing_name_is_enoent),
		MEM(lookup_under_a_file_is_enotdir),
		MEM(lookup_under_missing_parent_is_enoent),
		MEM(lookup_of_too_long_name_is_enametoolong),
		MEM(getattr_of_missing_inode_is_enoent),
		MEM(mknode_creates_file_with_template_attributes),
		MEM(mknode_of_directory_raises_parent_nlink),
		MEM(mknode_of_existing_name_is_eexist),
		MEM(mknode_under_file_is_enotdir),
		MEM(mknode_in_setgid_directory_takes_its_group),
		MEM(mknode_never_reuses_inode_numbers),
		MEM(mknode_of_symlink_stores_its_target),
		MEM(mknode_of_symlink_without_target_is_einval),
		MEM(readlink_with_small_buffer_is_erange),
		MEM(readlink_of_regular_file_is_einval),
		MEM(setattr_changes_only_named_fields),
		MEM(setattr_of_missing_inode_is_enoent),
		MEM(link_adds_a_name_and_a_link),
		MEM(link_of_directory_is_eperm),
		MEM(link_onto_existing_name_is_eexist),
		MEM(unlink_drops_a_link_and_keeps_the_inode),
		MEM(unlink_of_directory_is_eisdir),
		MEM(unlink_of_missing_name_is_enoent),
		MEM(rmdir_removes_an_empty_directory),
		MEM(rmdir_of_non_empty_directory_is_enotempty),
		MEM(rmdir_of_file_is_enotdir),
		MEM(rename_moves_a_file_and_keeps_its_cookie),
		MEM(rename_of_missing_name_is_enoent),
		MEM(rename_replaces_an_existing_file),
		MEM(rename_replaces_an_empty_directory),
		MEM(rename_onto_non_empty_directory_is_enotempty),
		MEM(rename_of_file_onto_directory_is_eisdir),
		MEM(rename_of_directory_onto_file_is_enotdir),
		MEM(rename_noreplace_onto_existing_name_is_eexist),
		MEM(rename_exchange_swaps_two_names),
		MEM(rename_exchange_of_dir_and_file_moves_parent_nlinks),
		MEM(rename_exchange_with_missing_target_is_enoent),
		MEM(rename_with_both_flags_is_einval),
		MEM(rename_onto_a_hard_link_of_itself_does_nothing),
		MEM(rename_of_directory_to_other_parent_moves_nlink),
		MEM(rename_of_directory_into_its_own_subtree_is_einval),
		MEM(readdir_lists_entries_in_cookie_order_with_attributes),
		MEM(readdir_of_empty_directory_calls_nothing),
		MEM(readdir_stops_when_callback_returns_nonzero),
		MEM(readdir_of_file_is_enotdir),
		MEM(readdir_resumes_after_entries_change_between_pages),
		MEM(readdir_of_ten_thousand_entries_pages_completely),
		MEM(readdir_callback_may_call_the_catalog),
		MEM(purge_of_linked_inode_is_ebusy),
		MEM(purge_removes_the_inode_and_its_rows),
		MEM(orphans_lists_unlinked_inodes),
		MEM(xattr_set_then_get_returns_the_value),
		MEM(xattr_of_empty_value_has_length_zero),
		MEM(getxattr_of_missing_name_is_enodata),
		MEM(setxattr_flags_check_presence),
		MEM(listxattr_returns_names_and_checks_the_buffer),
		MEM(removexattr_deletes_and_reports_missing),
		MEM(tier_ensure_creates_then_updates_and_keeps_the_id),
		MEM(replica_put_list_and_del_round_trip),
		MEM(replica_find_and_scan_by_tier),
		MEM(replica_put_for_missing_inode_or_tier_is_enoent),
		MEM(commit_write_with_bump_versions_inode_and_replica),
		MEM(commit_write_without_bump_updates_sizes_only),
		MEM(stats_counts_inodes_and_regular_bytes),
		TMP(file_catalog_persists_across_reopen),
		TMP(version_1_catalog_is_upgraded_at_open),
		TMP(durable_commit_syncs_log_while_another_reader_holds_snapshot),
		TMP(catalog_with_newer_schema_is_refused_with_eproto),
		TMP(threads_creating_and_unlinking_at_once_see_no_error),
		MEM(memory_catalog_is_shared_by_threads),
		MEM(memory_catalogs_are_independent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
