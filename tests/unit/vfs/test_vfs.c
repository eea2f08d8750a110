/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/vfs/test_vfs.c - lib/vfs over an in-memory catalog and the mem
 * backend: the data path without descriptors, object keys, commits and
 * content versions, orphans, and readdir cookies and references; and over
 * local tiers in a temporary directory: passthrough of backing files.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "catalog.h"
#include "util.h"
#include "vfs.h"
#include "vfs_int.h"

static const struct strata_cred root = { 0, 0 };

/* The local tiers' directory (setup_local), or "". */
static char local_dir[64];

static int setup(void **state)
{
	struct strata_cfg *cfg = calloc(1, sizeof(*cfg));
	struct strata_vfs_opts opts = { .entry_timeout = 1, .attr_timeout = 1 };
	struct strata_vfs *vfs;
	char err[256];
	char url[192];

	strcpy(cfg->catalog, ":memory:");
	strcpy(cfg->site, "here");
	strcpy(cfg->placement, "fast");
	cfg->ntiers = 2;
	for (int i = 0; i < 2; i++) {
		struct strata_cfg_tier *t = &cfg->tiers[i];

		strcpy(t->name, i == 0 ? "fast" : "slow");
		strcpy(t->site, "here");
		if (local_dir[0]) {
			snprintf(url, sizeof(url), "%s/%s", local_dir, t->name);
			assert_int_equal(mkdir(url, 0700), 0);
			snprintf(url, sizeof(url), "file://%s/%s", local_dir,
				 t->name);
		} else {
			snprintf(url, sizeof(url), "mem://%s-%p", t->name,
				 (void *)cfg);
		}
		strcpy(t->url, url);
		assert_int_equal(
			strata_uri_parse(url, &t->uri, err, sizeof(err)), 0);
	}
	assert_int_equal(strata_vfs_new(cfg, &opts, &vfs, err, sizeof(err)), 0);
	free(cfg);
	*state = vfs;
	return 0;
}

static int teardown(void **state)
{
	strata_vfs_free(*state);
	return 0;
}

static int setup_local(void **state)
{
	strcpy(local_dir, "/tmp/strata-test-vfs.XXXXXX");
	assert_non_null(mkdtemp(local_dir));
	return setup(state);
}

static int teardown_local(void **state)
{
	char cmd[128];

	teardown(state);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", local_dir);
	assert_int_equal(system(cmd), 0);
	local_dir[0] = '\0';
	return 0;
}

/* A stand-in for fuse/passthrough.c: backing ids from 7 on. */
struct fake_backing {
	int opens;
	int closes;
	int last_fd;
	int last_closed;
};

static int fake_backing_open(void *arg, int fd)
{
	struct fake_backing *fb = arg;

	fb->last_fd = fd;
	return 7 + fb->opens++;
}

static void fake_backing_close(void *arg, int id)
{
	struct fake_backing *fb = arg;

	fb->closes++;
	fb->last_closed = id;
}

/* Pass files through the fake (strata_vfs_set_backing copies it). */
static void use_fake_backing(struct strata_vfs *vfs, struct fake_backing *fb)
{
	struct strata_vfs_backing b = { fake_backing_open, fake_backing_close,
					fb };

	strata_vfs_set_backing(vfs, &b);
}

static int count_objects_cb(void *arg, const char *key,
			    const struct strata_obj_stat *st)
{
	(*(int *)arg)++;
	return 0;
}

static int count_objects(struct strata_vfs *vfs)
{
	int n = 0;

	assert_int_equal(strata_backend_list(vfs->placement->be,
					     count_objects_cb, &n),
			 0);
	return n;
}

static uint64_t create_file(struct strata_vfs *vfs, const char *name,
			    struct stat *st)
{
	unsigned int oflags;
	uint64_t fh;

	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, name,
					   0644, O_RDWR, st, &fh, &oflags),
			 0);
	return fh;
}

static void empty_file_has_no_object(void **state)
{
	struct strata_vfs *vfs = *state;
	struct stat st;
	uint64_t fh = create_file(vfs, "empty", &st);

	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(count_objects(vfs), 0);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_int_equal(st.st_size, 0);
}

static void
written_bytes_read_back_and_size_reaches_catalog_at_flush(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_attr a;
	struct strata_vfs_buf vb;
	char scratch[64];
	struct stat st;
	size_t n;
	uint64_t fh = create_file(vfs, "f", &st);

	assert_int_equal(strata_vfs_write(vfs, fh, 0, "hello world", 11, &n),
			 0);
	assert_int_equal(n, 11);
	/* Not yet in the catalog, but getattr sees the open file's size. */
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.size, 0);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_int_equal(st.st_size, 11);
	assert_int_equal(
		strata_vfs_read(vfs, fh, 6, sizeof(scratch), scratch, &vb), 0);
	assert_int_equal(vb.fd, -1);
	assert_int_equal(vb.len, 5);
	assert_memory_equal(vb.mem, "world", 5);
	assert_int_equal(strata_vfs_flush(vfs, fh), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.size, 11);
	assert_int_equal(a.version, 1);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(count_objects(vfs), 1);
}

static void reopen_keeps_cache_until_content_changes(void **state)
{
	struct strata_vfs *vfs = *state;
	unsigned int oflags;
	struct stat st;
	uint64_t fh = create_file(vfs, "c", &st);
	size_t n;

	assert_int_equal(strata_vfs_write(vfs, fh, 0, "x", 1, &n), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &fh, &oflags), 0);
	assert_true(oflags & STRATA_VFS_KEEP_CACHE);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
}

static void only_readers_skip_the_flush_at_close(void **state)
{
	struct strata_vfs *vfs = *state;
	unsigned int oflags = 0;
	struct stat st;
	uint64_t fh;

	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "f",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_false(oflags & STRATA_VFS_NO_FLUSH);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(strata_vfs_open(vfs, st.st_ino, O_RDWR, &fh, &oflags),
			 0);
	assert_false(oflags & STRATA_VFS_NO_FLUSH);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &fh, &oflags), 0);
	assert_true(oflags & STRATA_VFS_NO_FLUSH);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
}

static void
write_only_opens_skip_the_page_cache_where_the_tier_asks(void **state)
{
	static struct strata_backend_ops around;
	struct strata_vfs *vfs = *state;
	struct strata_backend *be = vfs->placement->be;
	unsigned int oflags = 0;
	struct stat st;
	uint64_t fh;
	size_t n;

	/* A tier without the capability keeps the page cache. */
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "a",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_false(oflags & STRATA_VFS_DIRECT_IO);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);

	around = *be->ops;
	around.caps |= STRATA_BCAP_WRITE_AROUND;
	be->ops = &around;
	/* A new file: its tier is chosen at open, and its first write
	 * creates the object there. */
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "b",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_true(oflags & STRATA_VFS_DIRECT_IO);
	assert_int_equal(strata_vfs_write(vfs, fh, 0, "x", 1, &n), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(count_objects(vfs), 1);
	/* What the kernel cached may predate the write: not kept. */
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &fh, &oflags), 0);
	assert_false(oflags & (STRATA_VFS_KEEP_CACHE | STRATA_VFS_DIRECT_IO));
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	/* A reader-writer may map the file: it keeps the page cache. */
	assert_int_equal(strata_vfs_open(vfs, st.st_ino, O_RDWR, &fh, &oflags),
			 0);
	assert_false(oflags & STRATA_VFS_DIRECT_IO);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_WRONLY, &fh, &oflags), 0);
	assert_true(oflags & STRATA_VFS_DIRECT_IO);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
}

static void object_key_is_sharded_file_id(void **state)
{
	char key[VFS_KEY_LEN + 8];

	strata__vfs_key(0x1a2b, key, sizeof(key));
	assert_string_equal(key, "000/001/0000000000001a2b");
	/* Neighbours share a shard directory; the 4097th is the next. */
	strata__vfs_key(0x1000, key, sizeof(key));
	assert_string_equal(key, "000/001/0000000000001000");
	strata__vfs_key(0x1fff, key, sizeof(key));
	assert_string_equal(key, "000/001/0000000000001fff");
	strata__vfs_key(0x2000, key, sizeof(key));
	assert_string_equal(key, "000/002/0000000000002000");
	strata__vfs_key(0x123456789aULL, key, sizeof(key));
	assert_string_equal(key, "234/567/000000123456789a");
}

static void unlinked_open_file_lives_until_release(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_vfs_buf vb;
	struct strata_attr a;
	char scratch[16];
	struct stat st;
	uint64_t fh = create_file(vfs, "gone", &st);
	size_t n;

	assert_int_equal(strata_vfs_write(vfs, fh, 0, "data", 4, &n), 0);
	assert_int_equal(strata_vfs_unlink(vfs, STRATA_ROOT_INO, "gone"), 0);
	assert_int_equal(strata_vfs_lookup(vfs, STRATA_ROOT_INO, "gone", &st),
			 -ENOENT);
	assert_int_equal(strata_vfs_write(vfs, fh, 4, "more", 4, &n), 0);
	assert_int_equal(strata_vfs_read(vfs, fh, 0, 8, scratch, &vb), 0);
	assert_memory_equal(vb.mem, "datamore", 8);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	/* The kernel's lookup reference from create still holds it. */
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.nlink, 0);
	strata_vfs_forget(vfs, st.st_ino, 1);
	/* Its content queues for the reaper; reap now rather than wait. */
	assert_int_equal(strata__vfs_reap(vfs, NULL), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a),
			 -ENOENT);
	assert_int_equal(count_objects(vfs), 0);
}

/* Open ino for reading and close it again. */
static void read_once(struct strata_vfs *vfs, ino_t ino)
{
	unsigned int oflags;
	uint64_t fh;

	assert_int_equal(strata_vfs_open(vfs, ino, O_RDONLY, &fh, &oflags), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
}

static unsigned int atimes_waiting(struct strata_vfs *vfs)
{
	return __atomic_load_n(&vfs->natime, __ATOMIC_RELAXED);
}

static void read_atime_reaches_the_catalog_lazily(void **state)
{
	struct strata_vfs *vfs = *state;
	unsigned int oflags;
	struct strata_attr a;
	struct timespec seen;
	struct stat st, in;
	uint64_t fh = create_file(vfs, "f", &st);

	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	in = st;
	in.st_atim.tv_sec = in.st_mtim.tv_sec = 1000;
	in.st_atim.tv_nsec = in.st_mtim.tv_nsec = 0;
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_ATIME |
						    STRATA_VFS_SET_MTIME,
					    &st),
			 0);
	/* A read: getattr shows the new atime at once, and after the
	 * release too; the catalog does not have it yet. */
	read_once(vfs, st.st_ino);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_true(st.st_atim.tv_sec > 1000);
	seen = st.st_atim;
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, 1000);
	assert_int_equal(atimes_waiting(vfs), 1);
	/* relatime from the atime that waits: a second read, of an
	 * unchanged file, keeps it. */
	read_once(vfs, st.st_ino);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, seen.tv_sec);
	assert_int_equal(st.st_atim.tv_nsec, seen.tv_nsec);
	/* The reaper's write-back records it. */
	strata__vfs_flush_atimes(vfs);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, seen.tv_sec);
	assert_int_equal(a.atime.tv_nsec, seen.tv_nsec);
	/* relatime: a read soon after, of an unchanged file, moves
	 * nothing. */
	read_once(vfs, st.st_ino);
	strata__vfs_flush_atimes(vfs);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, seen.tv_sec);
	assert_int_equal(a.atime.tv_nsec, seen.tv_nsec);
	/* An atime set while it is open wins over the read's (which would
	 * move an atime older than mtime). */
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_ATIME, &st),
			 0);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &fh, &oflags), 0);
	in.st_atim.tv_sec = 2000;
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_ATIME, &st),
			 0);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	strata__vfs_flush_atimes(vfs);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, 2000);
	/* fsync records it. */
	in.st_atim.tv_sec = 1000;
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_ATIME, &st),
			 0);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &fh, &oflags), 0);
	assert_int_equal(strata_vfs_fsync(vfs, fh, false), 0);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_true(a.atime.tv_sec > 1000);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	/* So does the kernel's forget of the inode, which frees the
	 * vnode. */
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_ATIME, &st),
			 0);
	read_once(vfs, st.st_ino);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, 1000);
	strata_vfs_forget(vfs, st.st_ino, 1);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_true(a.atime.tv_sec > 1000);
}

/* Set atime and mtime of ino to now minus the given seconds. */
static void times_ago(struct strata_vfs *vfs, ino_t ino, double atime_ago,
		      double mtime_ago)
{
	struct timespec now = strata_now();
	struct stat in = { 0 }, st;
	int64_t ns = now.tv_sec * 1000000000ll + now.tv_nsec;
	int64_t a = ns - (int64_t)(atime_ago * 1e9);
	int64_t m = ns - (int64_t)(mtime_ago * 1e9);

	in.st_atim.tv_sec = a / 1000000000;
	in.st_atim.tv_nsec = a % 1000000000;
	in.st_mtim.tv_sec = m / 1000000000;
	in.st_mtim.tv_nsec = m % 1000000000;
	assert_int_equal(strata_vfs_setattr(vfs, ino, 0, &in,
					    STRATA_VFS_SET_ATIME |
						    STRATA_VFS_SET_MTIME,
					    &st),
			 0);
}

/* relatime is judged at the read, against what was then: a write after
 * the read changes nothing about it. */
static void relatime_is_judged_at_the_read(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_attr before, a;
	unsigned int oflags;
	struct stat st;
	uint64_t fh = create_file(vfs, "f", &st);
	size_t n;

	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	/* Read an hour ago, changed two hours ago: a read moves nothing,
	 * not even once a write through the same open follows it. */
	times_ago(vfs, st.st_ino, 3600, 7200);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &before),
			 0);
	assert_int_equal(strata_vfs_open(vfs, st.st_ino, O_RDWR, &fh, &oflags),
			 0);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata_vfs_write(vfs, fh, 0, "x", 1, &n), 0);
	assert_int_equal(strata_vfs_fsync(vfs, fh, false), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	strata__vfs_flush_atimes(vfs);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, before.atime.tv_sec);
	assert_int_equal(st.st_atim.tv_nsec, before.atime.tv_nsec);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, before.atime.tv_sec);
	assert_int_equal(a.atime.tv_nsec, before.atime.tv_nsec);
	/* Read a day less 0.3 s ago: a read now moves nothing, one 0.4 s
	 * later does. */
	times_ago(vfs, st.st_ino, 86400 - 0.3, 90000);
	read_once(vfs, st.st_ino);
	assert_int_equal(atimes_waiting(vfs), 0);
	usleep(400000);
	read_once(vfs, st.st_ino);
	assert_int_equal(atimes_waiting(vfs), 1);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_true(st.st_atim.tv_sec > strata_now().tv_sec - 5);
	strata__vfs_flush_atimes(vfs);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.atime.tv_sec, st.st_atim.tv_sec);
	assert_int_equal(a.atime.tv_nsec, st.st_atim.tv_nsec);
}

/* An unlinked file's waiting atime is never written (its row goes), yet
 * shows while the file is open. */
static void an_orphan_drops_its_waiting_atime(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_attr a;
	unsigned int oflags;
	struct stat st;
	uint64_t fh = create_file(vfs, "gone", &st);

	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	times_ago(vfs, st.st_ino, 7200, 7200);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &fh, &oflags), 0);
	assert_int_equal(atimes_waiting(vfs), 1);
	assert_int_equal(strata_vfs_unlink(vfs, STRATA_ROOT_INO, "gone"), 0);
	strata__vfs_flush_atimes(vfs);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_true(a.atime.tv_sec < strata_now().tv_sec - 3600);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_true(st.st_atim.tv_sec > strata_now().tv_sec - 5);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	/* One read, unlinked, forgotten without a write-back. */
	fh = create_file(vfs, "gone2", &st);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	times_ago(vfs, st.st_ino, 7200, 7200);
	read_once(vfs, st.st_ino);
	assert_int_equal(atimes_waiting(vfs), 1);
	assert_int_equal(strata_vfs_unlink(vfs, STRATA_ROOT_INO, "gone2"), 0);
	strata_vfs_forget(vfs, st.st_ino, 1);
	assert_int_equal(atimes_waiting(vfs), 0);
	assert_int_equal(strata__vfs_reap(vfs, NULL), 0);
}

static void reap_batch_mixes_empty_and_written_orphans(void **state)
{
	static const char *const names[] = { "e1", "w", "e2" };
	struct strata_vfs *vfs = *state;
	struct strata_attr a;
	struct stat st[3];
	size_t n;

	for (int i = 0; i < 3; i++) {
		uint64_t fh = create_file(vfs, names[i], &st[i]);

		if (i == 1)
			assert_int_equal(
				strata_vfs_write(vfs, fh, 0, "data", 4, &n), 0);
		assert_int_equal(strata_vfs_release(vfs, fh), 0);
	}
	assert_int_equal(count_objects(vfs), 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
			strata_vfs_unlink(vfs, STRATA_ROOT_INO, names[i]), 0);
		strata_vfs_forget(vfs, st[i].st_ino, 1);
	}
	/* One batch: the empty ones go at once, the written one after the
	 * durable sync, with its object. */
	assert_int_equal(strata__vfs_reap(vfs, NULL), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(strata_catalog_getattr(vfs->cat, st[i].st_ino,
							&a),
				 -ENOENT);
	assert_int_equal(count_objects(vfs), 0);
}

static void rename_over_file_purges_replaced_content(void **state)
{
	struct strata_vfs *vfs = *state;
	struct stat a;
	struct stat b;
	size_t n;
	uint64_t fh = create_file(vfs, "a", &a);

	assert_int_equal(strata_vfs_write(vfs, fh, 0, "A", 1, &n), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	fh = create_file(vfs, "b", &b);
	assert_int_equal(strata_vfs_write(vfs, fh, 0, "B", 1, &n), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	strata_vfs_forget(vfs, b.st_ino, 1);
	assert_int_equal(count_objects(vfs), 2);
	assert_int_equal(strata_vfs_rename(vfs, STRATA_ROOT_INO, "a",
					   STRATA_ROOT_INO, "b", 0),
			 0);
	assert_int_equal(strata__vfs_reap(vfs, NULL), 0);
	assert_int_equal(count_objects(vfs), 1);
	assert_int_equal(strata_vfs_lookup(vfs, STRATA_ROOT_INO, "b", &b), 0);
	assert_int_equal(b.st_ino, a.st_ino);
}

static void truncate_grows_with_zeros_and_bumps_version(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_vfs_buf vb;
	struct stat in = { .st_size = 8 };
	struct stat st;
	char scratch[16];
	uint64_t fh = create_file(vfs, "t", &st);
	size_t n;

	assert_int_equal(strata_vfs_write(vfs, fh, 0, "ab", 2, &n), 0);
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, fh, &in,
					    STRATA_VFS_SET_SIZE, &st),
			 0);
	assert_int_equal(st.st_size, 8);
	assert_int_equal(strata_vfs_read(vfs, fh, 0, 16, scratch, &vb), 0);
	assert_int_equal(vb.len, 8);
	assert_memory_equal(vb.mem, "ab\0\0\0\0\0\0", 8);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
}

static void names_over_255_bytes_are_too_long(void **state)
{
	struct strata_vfs *vfs = *state;
	char name[300];
	struct stat st;

	memset(name, 'n', 256);
	name[256] = '\0';
	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, name,
					  0755, &st),
			 -ENAMETOOLONG);
	name[255] = '\0';
	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, name,
					  0755, &st),
			 0);
}

static void setgid_directory_passes_on_its_group(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_cred user = { 1000, 1000 };
	struct stat dir;
	struct stat in = { .st_mode = S_IFDIR | 02775, .st_gid = 50 };
	struct stat st;

	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, "sg",
					  0775, &dir),
			 0);
	assert_int_equal(strata_vfs_setattr(vfs, dir.st_ino, 0, &in,
					    STRATA_VFS_SET_MODE |
						    STRATA_VFS_SET_GID,
					    &dir),
			 0);
	assert_int_equal(
		strata_vfs_mkdir(vfs, &user, dir.st_ino, "sub", 0755, &st), 0);
	assert_int_equal(st.st_uid, 1000);
	assert_int_equal(st.st_gid, 50);
	assert_true(st.st_mode & S_ISGID);
	assert_int_equal(strata_vfs_mknod(vfs, &user, dir.st_ino, "f",
					  S_IFREG | 0644, 0, &st),
			 0);
	assert_int_equal(st.st_gid, 50);
	assert_false(st.st_mode & S_ISGID);
}

struct names {
	char seen[8][16];
	int n;
	int limit;
};

static int collect(void *arg, const char *name, const struct stat *st,
		   uint64_t next_off)
{
	struct names *nm = arg;

	if (nm->n == nm->limit)
		return 1;
	snprintf(nm->seen[nm->n++], sizeof(nm->seen[0]), "%s", name);
	return 0;
}

static void readdir_lists_dots_then_entries_and_resumes(void **state)
{
	struct strata_vfs *vfs = *state;
	struct names nm = { .limit = 3 };
	struct stat st;

	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, "d1",
					  0755, &st),
			 0);
	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, "d2",
					  0755, &st),
			 0);
	assert_int_equal(strata_vfs_readdir(vfs, STRATA_ROOT_INO, 0, false,
					    collect, &nm),
			 0);
	assert_int_equal(nm.n, 3);
	assert_string_equal(nm.seen[0], ".");
	assert_string_equal(nm.seen[1], "..");
	assert_string_equal(nm.seen[2], "d1");
	assert_int_equal(strata_vfs_readdir(vfs, st.st_ino, 0, false, collect,
					    &(struct names){ .limit = 8 }),
			 0);
}

/* ---- copies and drops for the policy engine (move.c) ---- */

/* A file named name holding len bytes of c, closed. */
static uint64_t make_data(struct strata_vfs *vfs, const char *name, char c,
			  size_t len)
{
	char buf[4096];
	struct stat st;
	size_t done;
	uint64_t fh = create_file(vfs, name, &st);

	memset(buf, c, sizeof(buf));
	assert_true(len <= sizeof(buf));
	assert_int_equal(strata_vfs_write(vfs, fh, 0, buf, len, &done), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	return st.st_ino;
}

static void xattr_str(struct strata_vfs *vfs, uint64_t ino, const char *name,
		      char *out, size_t size)
{
	size_t len = 0;

	assert_int_equal(
		strata_vfs_getxattr(vfs, ino, name, out, size - 1, &len), 0);
	out[len] = '\0';
}

static uint32_t tier_id(struct strata_vfs *vfs, const char *name)
{
	struct strata_vfs_tier_info info;

	for (unsigned int i = 0; i < strata_vfs_tier_count(vfs); i++) {
		assert_int_equal(strata_vfs_tier_info(vfs, i, &info), 0);
		if (strcmp(info.name, name) == 0)
			return info.id;
	}
	fail();
	return 0;
}

static void copy_then_drop_moves_a_file_and_keeps_its_bytes(void **state)
{
	struct strata_vfs *vfs = *state;
	uint64_t ino = make_data(vfs, "f", 'x', 3000);
	uint32_t fast = tier_id(vfs, "fast"), slow = tier_id(vfs, "slow");
	struct strata_vfs_buf vb;
	char tiers[64], scratch[3000];
	unsigned int oflags;
	uint64_t copied, fh;

	xattr_str(vfs, ino, "user.strata.tiers", tiers, sizeof(tiers));
	assert_string_equal(tiers, "fast");
	assert_int_equal(strata_vfs_drop(vfs, ino, fast), -EMLINK);
	assert_int_equal(strata_vfs_copy(vfs, ino, slow, &copied), 0);
	assert_int_equal(copied, 3000);
	xattr_str(vfs, ino, "user.strata.tiers", tiers, sizeof(tiers));
	assert_string_equal(tiers, "fast,slow");
	/* A copy already there is not made again. */
	assert_int_equal(strata_vfs_copy(vfs, ino, slow, &copied), 0);
	assert_int_equal(copied, 0);
	assert_int_equal(strata_vfs_drop(vfs, ino, fast), 0);
	xattr_str(vfs, ino, "user.strata.tiers", tiers, sizeof(tiers));
	assert_string_equal(tiers, "slow");
	assert_int_equal(count_objects(vfs), 0); /* gone from fast */
	assert_int_equal(strata_vfs_open(vfs, ino, O_RDONLY, &fh, &oflags), 0);
	assert_int_equal(
		strata_vfs_read(vfs, fh, 0, sizeof(scratch), scratch, &vb), 0);
	assert_int_equal(vb.len, 3000);
	assert_int_equal(((const char *)vb.mem)[2999], 'x');
	/* Never under an open file. */
	assert_int_equal(strata_vfs_copy(vfs, ino, fast, &copied), 0);
	assert_int_equal(strata_vfs_drop(vfs, ino, slow), -EBUSY);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(strata_vfs_drop(vfs, ino, slow), 0);
	assert_int_equal(strata_vfs_drop(vfs, ino, slow), -ENOENT);
}

static void a_file_open_for_writing_is_not_copied(void **state)
{
	struct strata_vfs *vfs = *state;
	uint64_t ino = make_data(vfs, "w", 'a', 100);
	uint32_t slow = tier_id(vfs, "slow");
	char tiers[64], state_s[16];
	unsigned int oflags;
	uint64_t copied, fh;
	size_t done;

	assert_int_equal(strata_vfs_open(vfs, ino, O_RDWR, &fh, &oflags), 0);
	assert_int_equal(strata_vfs_copy(vfs, ino, slow, &copied), -EBUSY);
	assert_int_equal(strata_vfs_write(vfs, fh, 0, "b", 1, &done), 0);
	xattr_str(vfs, ino, "user.strata.state", state_s, sizeof(state_s));
	assert_string_equal(state_s, "dirty");
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	xattr_str(vfs, ino, "user.strata.state", state_s, sizeof(state_s));
	assert_string_equal(state_s, "clean");
	assert_int_equal(strata_vfs_copy(vfs, ino, slow, &copied), 0);
	/* A later write makes the copy stale: it no longer counts. */
	assert_int_equal(strata_vfs_open(vfs, ino, O_RDWR, &fh, &oflags), 0);
	assert_int_equal(strata_vfs_write(vfs, fh, 0, "c", 1, &done), 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	xattr_str(vfs, ino, "user.strata.tiers", tiers, sizeof(tiers));
	assert_string_equal(tiers, "fast");
	assert_int_equal(strata_vfs_setxattr(vfs, ino, "user.strata.tiers", "x",
					     1, 0),
			 -EPERM);
}

static void path_of_nested_file_is_built_from_names(void **state)
{
	struct strata_vfs *vfs = *state;
	struct stat d, f;
	char path[64];

	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, "a",
					  0755, &d),
			 0);
	assert_int_equal(strata_vfs_mknod(vfs, &root, d.st_ino, "b",
					  S_IFREG | 0644, 0, &f),
			 0);
	assert_int_equal(strata_vfs_path(vfs, f.st_ino, path, sizeof(path)), 0);
	assert_string_equal(path, "/a/b");
	assert_int_equal(
		strata_vfs_path(vfs, STRATA_ROOT_INO, path, sizeof(path)), 0);
	assert_string_equal(path, "/");
	assert_int_equal(strata_vfs_path(vfs, f.st_ino, path, 4),
			 -ENAMETOOLONG);
}

/* Put an object on tier t behind the vfs's back (an existing tree). */
static void put_object(struct strata_vfs *vfs, const char *tier,
		       const char *key, const char *text)
{
	struct strata_backend *be = NULL;
	struct strata_obj *obj;

	for (unsigned int i = 0; i < vfs->ntiers; i++)
		if (strcmp(vfs->tiers[i].name, tier) == 0)
			be = vfs->tiers[i].be;
	assert_non_null(be);
	assert_int_equal(strata_obj_open(be, key,
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_write(obj, 0, text, strlen(text)), 0);
	assert_int_equal(strata_obj_close(obj), 0);
}

static int count_stats(void *arg, const struct strata_vfs_import_stats *st)
{
	(*(int *)arg)++;
	return 0;
}

static void import_adopts_objects_in_place_and_resumes(void **state)
{
	struct strata_vfs *vfs = *state;
	struct strata_vfs_import_stats st;
	uint32_t slow = tier_id(vfs, "slow");
	struct strata_vfs_buf vb;
	struct stat dir, f;
	char err[256], scratch[64], tiers[64];
	unsigned int oflags;
	uint64_t fh, copied;
	int calls = 0;

	put_object(vfs, "slow", "ds/a/one", "first");
	put_object(vfs, "slow", "ds/a/two", "second!");
	put_object(vfs, "slow", "ds/top", "t");
	put_object(vfs, "slow", "other/x", "not ours");
	assert_int_equal(strata_vfs_mkdir(vfs, &root, STRATA_ROOT_INO, "in",
					  0755, &dir),
			 0);
	assert_int_equal(strata_vfs_import(vfs, slow, "/ds/", dir.st_ino,
					   count_stats, &calls, &st, err,
					   sizeof(err)),
			 0);
	assert_true(calls >= 1);
	assert_int_equal(st.files, 3);
	assert_int_equal(st.bytes, 13);
	assert_int_equal(st.dirs, 1);
	assert_int_equal(st.skipped, 0);
	/* The name reads the object it adopted, which keeps its key. */
	assert_int_equal(strata_vfs_lookup(vfs, dir.st_ino, "a", &f), 0);
	assert_int_equal(strata_vfs_lookup(vfs, f.st_ino, "two", &f), 0);
	assert_int_equal(f.st_size, 7);
	assert_int_equal(strata_vfs_open(vfs, f.st_ino, O_RDONLY, &fh, &oflags),
			 0);
	assert_int_equal(
		strata_vfs_read(vfs, fh, 0, sizeof(scratch), scratch, &vb), 0);
	assert_int_equal(vb.len, 7);
	assert_memory_equal(vb.mem, "second!", 7);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	xattr_str(vfs, f.st_ino, "user.strata.tiers", tiers, sizeof(tiers));
	assert_string_equal(tiers, "slow");
	assert_int_equal(strata_vfs_lookup(vfs, STRATA_ROOT_INO, "x", &f),
			 -ENOENT);
	/* Again: everything is known; a new object is all it adopts. */
	put_object(vfs, "slow", "ds/a/three", "3");
	assert_int_equal(strata_vfs_import(vfs, slow, "ds", dir.st_ino, NULL,
					   NULL, &st, err, sizeof(err)),
			 0);
	assert_int_equal(st.files, 1);
	assert_int_equal(st.skipped, 3);
	/* A taken name is left alone. */
	put_object(vfs, "slow", "ds2/top", "clash");
	assert_int_equal(strata_vfs_import(vfs, slow, "ds2", dir.st_ino, NULL,
					   NULL, &st, err, sizeof(err)),
			 0);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.conflicts, 1);
	/* Imported files move like any other: the old key goes. */
	assert_int_equal(strata_vfs_lookup(vfs, dir.st_ino, "top", &f), 0);
	assert_int_equal(strata_vfs_copy(vfs, f.st_ino, tier_id(vfs, "fast"),
					 &copied),
			 0);
	assert_int_equal(copied, 1);
	assert_int_equal(strata_vfs_drop(vfs, f.st_ino, slow), 0);
	xattr_str(vfs, f.st_ino, "user.strata.tiers", tiers, sizeof(tiers));
	assert_string_equal(tiers, "fast");
	/* Bad input. */
	assert_int_equal(strata_vfs_import(vfs, 999, "ds", dir.st_ino, NULL,
					   NULL, &st, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(strata_vfs_import(vfs, slow, "ds", f.st_ino, NULL,
					   NULL, &st, err, sizeof(err)),
			 -ENOTDIR);
}

struct timespec strata__vfs_pace_slot(uint64_t rate, size_t len,
				      struct timespec now,
				      struct timespec *next);

static void
bandwidth_schedule_spaces_chunks_and_saves_no_idle_time(void **state)
{
	struct timespec next = { 0, 0 };
	struct timespec t0 = { 100, 0 }, s;

	/* 10 MB/s: a 1 MB chunk takes 0.1 s of the schedule. */
	s = strata__vfs_pace_slot(10000000, 1000000, t0, &next);
	assert_int_equal(s.tv_sec, 100);
	assert_int_equal(s.tv_nsec, 0);
	s = strata__vfs_pace_slot(10000000, 1000000, t0, &next);
	assert_int_equal(s.tv_sec, 100);
	assert_int_equal(s.tv_nsec, 100000000);
	s = strata__vfs_pace_slot(10000000, 5000000, t0, &next);
	assert_int_equal(s.tv_nsec, 200000000);
	assert_int_equal(next.tv_sec, 100);
	assert_int_equal(next.tv_nsec, 700000000);
	/* After a pause the schedule starts from now, not from the past. */
	t0.tv_sec = 200;
	s = strata__vfs_pace_slot(10000000, 1000000, t0, &next);
	assert_int_equal(s.tv_sec, 200);
	assert_int_equal(next.tv_sec, 200);
	assert_int_equal(next.tv_nsec, 100000000);
}

static void passthrough_shares_one_backing_and_takes_in_its_writes(void **state)
{
	struct strata_vfs *vfs = *state;
	struct fake_backing fb = { 0 };
	unsigned int oflags = 0, rflags = 0;
	struct strata_attr a;
	struct stat st, in;
	uint64_t fh, rfh, f_ino;

	use_fake_backing(vfs, &fb);
	/* A new file for writing gets its object now, to pass through;
	 * the object has no key (no name on the tier) until recorded. */
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "f",
					   0644, O_RDWR, &st, &fh, &oflags),
			 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(strata_vfs_backing_id(vfs, fh), 7);
	assert_int_equal(count_objects(vfs), 0);
	f_ino = st.st_ino;
	/* A second open file of the inode shares the backing file. */
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &rfh, &rflags), 0);
	assert_true(rflags & STRATA_VFS_PASSTHROUGH);
	/* No close of a passed-through file sends a flush: the release
	 * takes in what the kernel wrote. */
	assert_true(rflags & STRATA_VFS_NO_FLUSH);
	assert_true(oflags & STRATA_VFS_NO_FLUSH);
	assert_int_equal(strata_vfs_backing_id(vfs, rfh), 7);
	assert_int_equal(fb.opens, 1);
	/* The kernel writes the backing file; Strata takes it in. */
	assert_int_equal(pwrite(fb.last_fd, "passed through", 14, 0), 14);
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_int_equal(st.st_size, 14);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.size, 0);
	/* A truncate through the path reaches the shared object. */
	in = st;
	in.st_size = 15;
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_SIZE, &st),
			 0);
	assert_int_equal(st.st_size, 15);
	assert_int_equal(count_objects(vfs), 1);
	assert_int_equal(pwrite(fb.last_fd, "passed through!", 15, 0), 15);
	/* The writer's release records what the kernel wrote, while the
	 * reader keeps the backing file open. */
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(count_objects(vfs), 1);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.size, 15);
	assert_int_equal(fb.closes, 0);
	assert_int_equal(strata_vfs_release(vfs, rfh), 0);
	assert_int_equal(fb.closes, 1);
	assert_int_equal(fb.last_closed, 7);

	/* tar and rsync: a new file written and closed, then its mtime
	 * set before the release comes (close(2) does not wait for it).
	 * Neither the writes taken in at the release nor the link of the
	 * object there may undo that mtime. */
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "t",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_int_equal(pwrite(fb.last_fd, "tarred", 6, 0), 6);
	in = st;
	in.st_mtim.tv_sec = 1000000000;
	in.st_mtim.tv_nsec = 5;
	assert_int_equal(strata_vfs_setattr(vfs, st.st_ino, 0, &in,
					    STRATA_VFS_SET_MTIME, &st),
			 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.size, 6);
	assert_int_equal(a.mtime.tv_sec, 1000000000);
	assert_int_equal(a.mtime.tv_nsec, 5);
	assert_int_equal(count_objects(vfs), 2);

	/* Created, passed through, never written: no object is left. */
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "e",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(count_objects(vfs), 2);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(count_objects(vfs), 2);

	/* Without content a reader is served here; a writer beside it
	 * must be too (the kernel refuses to mix the two on an inode). */
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDONLY, &rfh, &rflags), 0);
	assert_false(rflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_WRONLY, &fh, &oflags), 0);
	assert_false(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(strata_vfs_release(vfs, rfh), 0);

	/* A refused registration leaves the file to be served here. */
	fb.opens = -7;
	assert_int_equal(strata_vfs_open(vfs, f_ino, O_RDONLY, &rfh, &rflags),
			 0);
	assert_false(rflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(strata_vfs_release(vfs, rfh), 0);
	strata_vfs_set_backing(vfs, NULL);
}

static void overlay_shows_a_release_after_a_stale_read(void **state)
{
	struct strata_vfs *vfs = *state;
	struct fake_backing fb = { 0 };
	unsigned int oflags = 0;
	struct strata_attr a;
	struct stat st;
	uint64_t fh;

	use_fake_backing(vfs, &fb);
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "f",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(pwrite(fb.last_fd, "hello", 5, 0), 5);
	/* A getattr reads the row before the release that follows close(2)
	 * commits, and lays the vnode over it after: the commit shows. */
	assert_int_equal(strata_catalog_getattr(vfs->cat, st.st_ino, &a), 0);
	assert_int_equal(a.size, 0);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	strata_vfs_overlay(vfs, &a);
	assert_int_equal(a.size, 5);
	assert_int_equal(a.version, 1);
	strata_vfs_set_backing(vfs, NULL);
}

/* relatime sees what a passed-through writer wrote since the last read,
 * which the mount learns only from the backing file. */
static void relatime_sees_passed_through_writes(void **state)
{
	struct strata_vfs *vfs = *state;
	struct fake_backing fb = { 0 };
	unsigned int oflags = 0;
	uint64_t fh, writer;
	struct stat st;

	use_fake_backing(vfs, &fb);
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "f",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_int_equal(pwrite(fb.last_fd, "hello", 5, 0), 5);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	/* Read an hour ago, changed two hours ago: a read now moves
	 * nothing... */
	times_ago(vfs, st.st_ino, 3600, 7200);
	assert_int_equal(
		strata_vfs_open(vfs, st.st_ino, O_RDWR, &writer, &oflags), 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(atimes_waiting(vfs), 0);
	/* ...but after the kernel wrote through the backing file, it
	 * does. */
	assert_int_equal(pwrite(fb.last_fd, "H", 1, 0), 1);
	read_once(vfs, st.st_ino);
	assert_int_equal(atimes_waiting(vfs), 1);
	assert_int_equal(strata_vfs_release(vfs, writer), 0);
	strata_vfs_set_backing(vfs, NULL);
}

static void an_unlinked_new_file_never_names_its_object(void **state)
{
	struct strata_vfs *vfs = *state;
	struct fake_backing fb = { 0 };
	unsigned int oflags = 0;
	char buf[16] = "";
	struct stat st;
	uint64_t fh;

	/* A temporary file: made, unlinked, written, read and closed. Its
	 * object never takes a key, so the tier never sees it. */
	use_fake_backing(vfs, &fb);
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "tmp",
					   0644, O_RDWR, &st, &fh, &oflags),
			 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(strata_vfs_unlink(vfs, STRATA_ROOT_INO, "tmp"), 0);
	assert_int_equal(pwrite(fb.last_fd, "scratch", 7, 0), 7);
	assert_int_equal(strata_vfs_fsync(vfs, fh, false), 0);
	assert_int_equal(count_objects(vfs), 0);
	assert_int_equal(pread(fb.last_fd, buf, sizeof(buf), 0), 7);
	assert_string_equal(buf, "scratch");
	assert_int_equal(strata_vfs_getattr(vfs, st.st_ino, &st), 0);
	assert_int_equal(st.st_size, 7);
	assert_int_equal(strata_vfs_release(vfs, fh), 0);
	assert_int_equal(count_objects(vfs), 0);
	strata_vfs_forget(vfs, st.st_ino, 1);
	assert_int_equal(strata__vfs_reap(vfs, NULL), 0);
	assert_int_equal(count_objects(vfs), 0);
	strata_vfs_set_backing(vfs, NULL);
}

/* Write s to a new passed-through file name and release it while the
 * link of its object fails; its inode into *ino. */
static void write_unlinkable(struct strata_vfs *vfs, struct fake_backing *fb,
			     const char *name, const char *s,
			     strata_vfs_ino_t *ino)
{
	unsigned int oflags = 0;
	struct stat st;
	uint64_t fh;

	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, name,
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(pwrite(fb->last_fd, s, strlen(s), 0),
			 (ssize_t)strlen(s));
	assert_int_equal(strata_vfs_release(vfs, fh), -ENOTDIR);
	*ino = st.st_ino;
}

static void a_failed_link_keeps_the_bytes_until_a_retry(void **state)
{
	struct strata_vfs *vfs = *state;
	struct fake_backing fb = { 0 };
	size_t nvnodes = vfs->itable.count, nvnodes_kept;
	strata_vfs_ino_t f, g, h, k;
	unsigned int oflags = 0;
	char key[VFS_KEY_LEN + 8];
	char path[256];
	char buf[16] = "";
	struct strata_attr a;
	struct stat st;
	uint64_t fh, rfh;
	int fd;

	use_fake_backing(vfs, &fb);
	/* A file where the new objects' shard directory goes. */
	strata__vfs_key(STRATA_ROOT_INO + 1, key, sizeof(key));
	snprintf(path, sizeof(path), "%s/fast/%.3s", local_dir, key);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);

	/* The release cannot record the bytes; the object stays open, and
	 * the file shows them, also once the kernel forgot it. */
	write_unlinkable(vfs, &fb, "f", "precious", &f);
	assert_int_equal(fb.closes, 1);
	assert_int_equal(vfs->nkept, 1);
	assert_int_equal(strata_catalog_getattr(vfs->cat, f, &a), 0);
	assert_int_equal(a.size, 0);
	strata_vfs_forget(vfs, f, 1);
	assert_int_equal(strata_vfs_getattr(vfs, f, &st), 0);
	assert_int_equal(st.st_size, 8);

	/* One unlinked meanwhile has nothing left to keep, whether the
	 * kernel forgets it after or before. */
	write_unlinkable(vfs, &fb, "g", "doomed", &g);
	assert_int_equal(vfs->nkept, 2);
	assert_int_equal(strata_vfs_unlink(vfs, STRATA_ROOT_INO, "g"), 0);
	strata_vfs_forget(vfs, g, 1);
	assert_int_equal(vfs->nkept, 1);
	write_unlinkable(vfs, &fb, "h", "doomed too", &h);
	strata_vfs_forget(vfs, h, 1);
	assert_int_equal(vfs->nkept, 2);
	nvnodes_kept = vfs->itable.count;
	assert_int_equal(strata_vfs_unlink(vfs, STRATA_ROOT_INO, "h"), 0);
	assert_int_equal(vfs->nkept, 1);
	assert_int_equal(vfs->itable.count, nvnodes_kept - 1);

	/* A release that cannot record its writes keeps the vnode at once,
	 * though another open file still holds the object. */
	assert_int_equal(strata_vfs_create(vfs, &root, STRATA_ROOT_INO, "k",
					   0644, O_WRONLY, &st, &fh, &oflags),
			 0);
	k = st.st_ino;
	assert_int_equal(strata_vfs_open(vfs, k, O_RDONLY, &rfh, &oflags), 0);
	assert_int_equal(pwrite(fb.last_fd, "kept", 4, 0), 4);
	assert_int_equal(strata_vfs_release(vfs, fh), -ENOTDIR);
	assert_int_equal(vfs->nkept, 2);
	assert_int_equal(strata_vfs_release(vfs, rfh), -ENOTDIR);
	strata_vfs_forget(vfs, k, 1);
	assert_int_equal(vfs->nkept, 2);

	/* A new open passes the kept object through again. */
	assert_int_equal(strata_vfs_open(vfs, f, O_RDONLY, &fh, &oflags), 0);
	assert_true(oflags & STRATA_VFS_PASSTHROUGH);
	assert_int_equal(pread(fb.last_fd, buf, sizeof(buf), 0), 8);
	assert_string_equal(buf, "precious");
	assert_int_equal(strata_vfs_release(vfs, fh), -ENOTDIR);
	assert_int_equal(vfs->nkept, 2);

	/* The way is clear: the retry records them, and the vnodes go. */
	assert_int_equal(unlink(path), 0);
	strata__vfs_retry_kept(vfs);
	assert_int_equal(vfs->nkept, 0);
	assert_int_equal(strata_catalog_getattr(vfs->cat, k, &a), 0);
	assert_int_equal(a.size, 4);
	assert_int_equal(vfs->itable.count, nvnodes);
	assert_int_equal(strata_catalog_getattr(vfs->cat, f, &a), 0);
	assert_int_equal(a.size, 8);
	snprintf(path, sizeof(path), "%s/fast/%s", local_dir, key);
	memset(buf, 0, sizeof(buf));
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 8);
	close(fd);
	assert_string_equal(buf, "precious");
	strata_vfs_set_backing(vfs, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_file_has_no_object, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			copy_then_drop_moves_a_file_and_keeps_its_bytes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			a_file_open_for_writing_is_not_copied, setup, teardown),
		cmocka_unit_test(
			bandwidth_schedule_spaces_chunks_and_saves_no_idle_time),
		cmocka_unit_test_setup_teardown(
			path_of_nested_file_is_built_from_names, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			written_bytes_read_back_and_size_reaches_catalog_at_flush,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			reopen_keeps_cache_until_content_changes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			only_readers_skip_the_flush_at_close, setup, teardown),
		cmocka_unit_test_setup_teardown(
			write_only_opens_skip_the_page_cache_where_the_tier_asks,
			setup, teardown),
		cmocka_unit_test(object_key_is_sharded_file_id),
		cmocka_unit_test_setup_teardown(
			unlinked_open_file_lives_until_release, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			read_atime_reaches_the_catalog_lazily, setup, teardown),
		cmocka_unit_test_setup_teardown(relatime_is_judged_at_the_read,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			an_orphan_drops_its_waiting_atime, setup, teardown),
		cmocka_unit_test_setup_teardown(
			reap_batch_mixes_empty_and_written_orphans, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			rename_over_file_purges_replaced_content, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			truncate_grows_with_zeros_and_bumps_version, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			names_over_255_bytes_are_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(
			setgid_directory_passes_on_its_group, setup, teardown),
		cmocka_unit_test_setup_teardown(
			readdir_lists_dots_then_entries_and_resumes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			import_adopts_objects_in_place_and_resumes, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			passthrough_shares_one_backing_and_takes_in_its_writes,
			setup_local, teardown_local),
		cmocka_unit_test_setup_teardown(
			overlay_shows_a_release_after_a_stale_read, setup_local,
			teardown_local),
		cmocka_unit_test_setup_teardown(
			a_failed_link_keeps_the_bytes_until_a_retry,
			setup_local, teardown_local),
		cmocka_unit_test_setup_teardown(
			an_unlinked_new_file_never_names_its_object,
			setup_local, teardown_local),
		cmocka_unit_test_setup_teardown(
			relatime_sees_passed_through_writes, setup_local,
			teardown_local),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
