/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/vfs/test_vfs.c - lib/vfs over an in-memory catalog and the mem
 * backend: the data path without descriptors, object keys, commits and
 * content versions, orphans, and readdir cookies and references.
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

#include <cmocka.h>

#include "backend.h"
#include "catalog.h"
#include "vfs.h"
#include "vfs_int.h"

static const struct strata_cred root = { 0, 0 };

static int setup(void **state)
{
	struct strata_cfg *cfg = calloc(1, sizeof(*cfg));
	struct strata_vfs_opts opts = { .entry_timeout = 1, .attr_timeout = 1 };
	struct strata_vfs *vfs;
	char err[256];
	char url[128];

	strcpy(cfg->catalog, ":memory:");
	strcpy(cfg->site, "here");
	strcpy(cfg->placement, "fast");
	cfg->ntiers = 2;
	for (int i = 0; i < 2; i++) {
		struct strata_cfg_tier *t = &cfg->tiers[i];

		strcpy(t->name, i == 0 ? "fast" : "slow");
		strcpy(t->site, "here");
		snprintf(url, sizeof(url), "mem://%s-%p", t->name, (void *)cfg);
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

static void object_key_is_sharded_file_id(void **state)
{
	char key[VFS_KEY_LEN + 8];

	strata__vfs_key(0x1a2b, key, sizeof(key));
	assert_string_equal(key, "2b/1a/0000000000001a2b");
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(empty_file_has_no_object, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			written_bytes_read_back_and_size_reaches_catalog_at_flush,
			setup, teardown),
		cmocka_unit_test_setup_teardown(
			reopen_keeps_cache_until_content_changes, setup,
			teardown),
		cmocka_unit_test(object_key_is_sharded_file_id),
		cmocka_unit_test_setup_teardown(
			unlinked_open_file_lives_until_release, setup,
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
