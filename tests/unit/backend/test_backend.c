/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tests/unit/backend/test_backend.c - the backend conformance suite.
 *
 * One list of tests runs against every driver in suite_drivers[]: mem,
 * mem without a rename slot (so the registry's copy-and-remove emulation is
 * exercised), local on a mkdtemp directory, and nfs and s3 when
 * STRATA_TEST_NFS_URL or STRATA_TEST_S3_URL names a scratch location
 * (otherwise those groups are skipped with the reason printed). Every test
 * writes under its own key prefix "strata-test-PID/tN/", and the group
 * teardown removes everything under "strata-test-PID/". Tests that depend on
 * a capability test the caps bits, as callers must. A second group holds
 * local-only and registry tests. Single-threaded except the
 * concurrent-writers test, whose threads report errors by return value.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "backend.h"
#include "cfg.h"

#define MIB (1024u * 1024u)

struct suite;

struct suite_driver {
	const char *name;
	const char *env;  /* the URL's variable; NULL: built in */
	bool real_statfs; /* statfs reports a real file system */
	bool lends;	  /* strata_obj_read_lend lends a sequential read */
	int (*open)(struct suite *s, const char *url);
	void (*close)(struct suite *s);
};

struct suite {
	const struct suite_driver *drv;
	struct strata_backend *be;
	char dir[PATH_MAX]; /* local: the mkdtemp root */
	char run[64];	    /* "strata-test-PID" */
	char pfx[96];	    /* "strata-test-PID/tN/" for the current test */
	unsigned int test;
	char keys[8][STRATA_KEY_MAX + 1]; /* ring of buffers for K() */
	unsigned int nextkey;
};

/* The driver whose group is about to run; read by suite_setup. */
static const struct suite_driver *suite_current;

/* ---- helpers ---- */

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	return remove(path);
}

static int rm_tree(const char *dir)
{
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static unsigned char pat(uint64_t i, unsigned int seed)
{
	return (unsigned char)(i * 31 + seed * 17 + (i >> 12) + (i >> 20));
}

static void fill(unsigned char *buf, size_t len, uint64_t off,
		 unsigned int seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = pat(off + i, seed);
}

static struct suite *begin(void **state)
{
	struct suite *s = *state;

	s->test++;
	snprintf(s->pfx, sizeof(s->pfx), "%s/t%u/", s->run, s->test);
	return s;
}

/* The test's key for k; valid for the next seven calls. */
static const char *K(struct suite *s, const char *k)
{
	char *buf = s->keys[s->nextkey++ % 8];

	snprintf(buf, STRATA_KEY_MAX + 1, "%s%s", s->pfx, k);
	return buf;
}

static struct strata_obj *xopen(struct suite *s, const char *key,
				unsigned int flags)
{
	struct strata_obj *obj = NULL;

	assert_int_equal(strata_obj_open(s->be, key, flags, &obj), 0);
	assert_non_null(obj);
	return obj;
}

static void put(struct suite *s, const char *key, const void *buf, size_t len)
{
	struct strata_obj *obj =
		xopen(s, key,
		      STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC);

	assert_int_equal(strata_obj_write(obj, 0, buf, len), 0);
	assert_int_equal(strata_obj_close(obj), 0);
}

/* Check that key holds exactly want[0..len). */
static void expect_content(struct suite *s, const char *key, const void *want,
			   size_t len)
{
	struct strata_obj *obj = xopen(s, key, STRATA_OBJ_READ);
	unsigned char *got = malloc(len + 16);
	size_t n = 0;

	assert_non_null(got);
	assert_int_equal(strata_obj_read(obj, 0, got, len + 16, &n), 0);
	assert_int_equal(n, len);
	assert_memory_equal(got, want, len);
	free(got);
	assert_int_equal(strata_obj_close(obj), 0);
}

static uint64_t size_of(struct suite *s, const char *key)
{
	struct strata_obj_stat st;

	assert_int_equal(strata_backend_stat(s->be, key, &st), 0);
	return st.size;
}

struct listing {
	const char *prefix;
	char *keys[64];
	uint64_t sizes[64];
	unsigned int n;
	unsigned int calls;
	int stop_with; /* returned by the callback when non-zero */
};

static int list_cb(void *arg, const char *key, const struct strata_obj_stat *st)
{
	struct listing *l = arg;
	size_t plen = strlen(l->prefix);

	l->calls++;
	if (l->stop_with)
		return l->stop_with;
	if (strncmp(key, l->prefix, plen) != 0 || l->n == 64)
		return 0;
	l->keys[l->n] = strdup(key + plen);
	l->sizes[l->n] = st->size;
	l->n++;
	return 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void listing_free(struct listing *l)
{
	for (unsigned int i = 0; i < l->n; i++)
		free(l->keys[i]);
	l->n = 0;
}

/* ---- drivers under test ---- */

static int open_url(struct suite *s, const char *url)
{
	struct strata_uri uri;
	char err[512];
	int ret;

	ret = strata_uri_parse(url, &uri, err, sizeof(err));
	if (ret == 0)
		ret = strata_backend_open(&uri, s->drv->name, &s->be, err,
					  sizeof(err));
	if (ret < 0)
		print_error("%s: %s\n", s->drv->name, err);
	return ret;
}

static void close_be(struct suite *s)
{
	strata_backend_close(s->be);
}

static int open_mem(struct suite *s, const char *url)
{
	return open_url(s, "mem://conformance");
}

/* The mem driver with its rename slot taken away. */
static struct strata_backend_ops mem_norename_ops;

static int open_mem_norename(struct suite *s, const char *url)
{
	struct strata_uri uri = { .scheme = "mem" };
	char err[256];

	mem_norename_ops = strata_mem_ops;
	mem_norename_ops.driver = "mem-norename";
	mem_norename_ops.caps &= ~STRATA_BCAP_RENAME;
	mem_norename_ops.rename = NULL;
	s->be = calloc(1, sizeof(*s->be));
	if (!s->be)
		return -ENOMEM;
	s->be->ops = &mem_norename_ops;
	strcpy(s->be->name, "mem-norename");
	s->be->priv = calloc(1, mem_norename_ops.priv_size);
	if (!s->be->priv)
		return -ENOMEM;
	return mem_norename_ops.open(s->be, &uri, err, sizeof(err));
}

static void close_mem_norename(struct suite *s)
{
	if (!s->be)
		return;
	if (s->be->priv)
		mem_norename_ops.close(s->be);
	free(s->be->priv);
	free(s->be);
}

static int open_local(struct suite *s, const char *url)
{
	char tmpl[] = "/tmp/strata-be-XXXXXX";
	char buf[PATH_MAX + 16];

	if (!mkdtemp(tmpl) || !realpath(tmpl, s->dir))
		return -errno;
	snprintf(buf, sizeof(buf), "file://%s", s->dir);
	return open_url(s, buf);
}

static void close_local(struct suite *s)
{
	strata_backend_close(s->be);
	if (s->dir[0])
		rm_tree(s->dir);
}

static const struct suite_driver suite_drivers[] = {
	{ "mem", NULL, false, false, open_mem, close_be },
	{ "mem-norename", NULL, false, false, open_mem_norename,
	  close_mem_norename },
	{ "local", NULL, true, false, open_local, close_local },
	{ "nfs", "STRATA_TEST_NFS_URL", true, false, open_url, close_be },
	{ "s3", "STRATA_TEST_S3_URL", false, true, open_url, close_be },
};

static int suite_setup(void **state)
{
	struct suite *s = calloc(1, sizeof(*s));
	const char *url = NULL;

	if (!s)
		return -1;
	s->drv = suite_current;
	snprintf(s->run, sizeof(s->run), "strata-test-%ld", (long)getpid());
	if (s->drv->env)
		url = getenv(s->drv->env);
	if (s->drv->open(s, url) < 0) {
		s->drv->close(s);
		free(s);
		return -1;
	}
	*state = s;
	return 0;
}

/* Remove everything the run wrote, then close the driver. */
static int suite_teardown(void **state)
{
	struct suite *s = *state;
	struct listing l = { .prefix = "" };

	if (!s)
		return 0; /* the setup failed and said why */
	if (s->be && s->be->priv) {
		l.prefix = s->run;
		strata_backend_list(s->be, list_cb, &l);
		for (unsigned int i = 0; i < l.n; i++) {
			char key[STRATA_KEY_MAX + 1];

			snprintf(key, sizeof(key), "%s%s", s->run, l.keys[i]);
			strata_backend_remove(s->be, key);
		}
		listing_free(&l);
	}
	s->drv->close(s);
	free(s);
	return 0;
}

/* ---- the conformance tests ---- */

static void write_then_read_back(void **state)
{
	struct suite *s = begin(state);
	static const char msg[] = "hello, tiered world";
	struct strata_obj *obj;
	char buf[64];
	size_t n = 0;

	obj = xopen(s, K(s, "a"),
		    STRATA_OBJ_READ | STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	assert_int_equal(strata_obj_write(obj, 0, msg, sizeof(msg)), 0);
	if (strata_backend_caps(s->be) & STRATA_BCAP_RANDOM_WRITE) {
		assert_int_equal(strata_obj_read(obj, 0, buf, sizeof(msg), &n),
				 0);
		assert_int_equal(n, sizeof(msg));
		assert_string_equal(buf, msg);
	} else {
		/* backend.h: a stream is read through another object. */
		assert_int_equal(strata_obj_read(obj, 0, buf, sizeof(msg), &n),
				 -EOPNOTSUPP);
	}
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), msg, sizeof(msg));
	assert_int_equal(strata_obj_close(NULL), 0);
}

static void read_past_eof_is_short(void **state)
{
	struct suite *s = begin(state);
	unsigned char data[100];
	unsigned char buf[64];
	struct strata_obj *obj;
	size_t n = 99;

	fill(data, sizeof(data), 0, 1);
	put(s, K(s, "a"), data, sizeof(data));
	obj = xopen(s, K(s, "a"), STRATA_OBJ_READ);
	assert_int_equal(strata_obj_read(obj, 90, buf, 50, &n), 0);
	assert_int_equal(n, 10);
	assert_memory_equal(buf, data + 90, 10);
	assert_int_equal(strata_obj_read(obj, 100, buf, 50, &n), 0);
	assert_int_equal(n, 0);
	n = 99;
	assert_int_equal(strata_obj_read(obj, 1u << 30, buf, 50, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(strata_obj_read(obj, 0, buf, 0, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(strata_obj_close(obj), 0);
}

static void random_writes_land_in_place(void **state)
{
	struct suite *s = begin(state);
	unsigned char data[8192];
	struct strata_obj *obj;

	if (!(strata_backend_caps(s->be) & STRATA_BCAP_RANDOM_WRITE))
		skip();
	fill(data, sizeof(data), 0, 2);
	put(s, K(s, "a"), data, sizeof(data));
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE);
	assert_int_equal(strata_obj_write(obj, 1000, "XYZ", 3), 0);
	assert_int_equal(strata_obj_write(obj, 8190, "tail", 4), 0);
	assert_int_equal(strata_obj_write(obj, 0, "H", 1), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	memcpy(data + 1000, "XYZ", 3);
	data[0] = 'H';
	{
		unsigned char want[8194];

		memcpy(want, data, 8190);
		memcpy(want + 8190, "tail", 4);
		expect_content(s, K(s, "a"), want, sizeof(want));
	}
}

static void sparse_write_leaves_zeros(void **state)
{
	struct suite *s = begin(state);
	unsigned char *want = calloc(1, MIB + 3);
	struct strata_obj *obj;

	assert_non_null(want);
	if (!(strata_backend_caps(s->be) & STRATA_BCAP_RANDOM_WRITE)) {
		free(want);
		skip();
	}
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	assert_int_equal(strata_obj_write(obj, MIB, "end", 3), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	memcpy(want + MIB, "end", 3);
	assert_int_equal(size_of(s, K(s, "a")), MIB + 3);
	expect_content(s, K(s, "a"), want, MIB + 3);
	free(want);
}

static void truncate_shrinks_and_grows(void **state)
{
	struct suite *s = begin(state);
	unsigned char data[1000];
	unsigned char want[5000] = { 0 };
	struct strata_obj *obj;

	if (!(strata_backend_caps(s->be) & STRATA_BCAP_RANDOM_WRITE))
		skip(); /* see immutable_objects_are_append_streams */
	fill(data, sizeof(data), 0, 3);
	put(s, K(s, "a"), data, sizeof(data));
	obj = xopen(s, K(s, "a"), STRATA_OBJ_READ | STRATA_OBJ_WRITE);
	assert_int_equal(strata_obj_truncate(obj, 10), 0);
	assert_int_equal(strata_obj_truncate(obj, 5000), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	memcpy(want, data, 10);
	assert_int_equal(size_of(s, K(s, "a")), 5000);
	expect_content(s, K(s, "a"), want, sizeof(want));

	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE);
	assert_int_equal(strata_obj_truncate(obj, 0), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(size_of(s, K(s, "a")), 0);
}

static void trunc_flag_empties_object(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj;

	put(s, K(s, "a"), "0123456789", 10);
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(size_of(s, K(s, "a")), 0);
}

static void excl_on_existing_is_eexist(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj = (void *)1;

	put(s, K(s, "a"), "x", 1);
	assert_int_equal(strata_obj_open(s->be, K(s, "a"),
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE |
						 STRATA_OBJ_EXCL,
					 &obj),
			 -EEXIST);
	assert_null(obj);
	expect_content(s, K(s, "a"), "x", 1);
	obj = xopen(s, K(s, "b"),
		    STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_EXCL);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(size_of(s, K(s, "b")), 0);
}

static void open_missing_is_enoent(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj = (void *)1;

	assert_int_equal(strata_obj_open(s->be, K(s, "nope"), STRATA_OBJ_READ,
					 &obj),
			 -ENOENT);
	assert_null(obj);
	assert_int_equal(strata_obj_open(s->be, K(s, "00/00/nope"),
					 STRATA_OBJ_WRITE, &obj),
			 -ENOENT);
}

static void write_to_read_only_object_fails(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj;

	put(s, K(s, "a"), "abc", 3);
	obj = xopen(s, K(s, "a"), STRATA_OBJ_READ);
	assert_int_equal(strata_obj_write(obj, 0, "X", 1), -EBADF);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), "abc", 3);
}

static void stat_reports_size_and_mtime(void **state)
{
	struct suite *s = begin(state);
	unsigned char data[12345];
	struct strata_obj_stat st;
	struct timespec before;

	clock_gettime(CLOCK_REALTIME, &before);
	fill(data, sizeof(data), 0, 4);
	put(s, K(s, "a"), data, sizeof(data));
	assert_int_equal(strata_backend_stat(s->be, K(s, "a"), &st), 0);
	assert_int_equal(st.size, sizeof(data));
	/* Coarse file system clocks may lag the real-time clock a little. */
	assert_true(st.mtime.tv_sec >= before.tv_sec - 2);
	assert_int_equal(strata_backend_stat(s->be, K(s, "nope"), &st),
			 -ENOENT);
}

static void remove_then_stat_is_enoent(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj_stat st;
	struct strata_obj *obj;

	put(s, K(s, "2b/1a/0000000000001a2b"), "x", 1);
	assert_int_equal(strata_backend_remove(s->be,
					       K(s, "2b/1a/0000000000001a2b")),
			 0);
	assert_int_equal(
		strata_backend_stat(s->be, K(s, "2b/1a/0000000000001a2b"), &st),
		-ENOENT);
	assert_int_equal(strata_obj_open(s->be, K(s, "2b/1a/0000000000001a2b"),
					 STRATA_OBJ_READ, &obj),
			 -ENOENT);
	assert_int_equal(strata_backend_remove(s->be,
					       K(s, "2b/1a/0000000000001a2b")),
			 -ENOENT);
	assert_int_equal(strata_backend_remove(s->be, K(s, "never")), -ENOENT);
}

static void rename_moves_content(void **state)
{
	struct suite *s = begin(state);
	static const char msg[] = "payload that must survive the move";
	struct strata_obj_stat st;

	put(s, K(s, "2b/1a/0000000000001a2b"), msg, sizeof(msg));
	assert_int_equal(strata_backend_rename(s->be,
					       K(s, "2b/1a/0000000000001a2b"),
					       K(s, "9f/00/000000000000009f")),
			 0);
	assert_int_equal(
		strata_backend_stat(s->be, K(s, "2b/1a/0000000000001a2b"), &st),
		-ENOENT);
	expect_content(s, K(s, "9f/00/000000000000009f"), msg, sizeof(msg));

	/* Onto an existing key: the target is replaced. */
	put(s, K(s, "old"), "old old old old", 15);
	assert_int_equal(strata_backend_rename(s->be,
					       K(s, "9f/00/000000000000009f"),
					       K(s, "old")),
			 0);
	expect_content(s, K(s, "old"), msg, sizeof(msg));

	/* Onto itself: nothing changes. */
	assert_int_equal(strata_backend_rename(s->be, K(s, "old"), K(s, "old")),
			 0);
	expect_content(s, K(s, "old"), msg, sizeof(msg));

	assert_int_equal(strata_backend_rename(s->be, K(s, "missing"),
					       K(s, "other")),
			 -ENOENT);
	assert_int_equal(strata_backend_stat(s->be, K(s, "other"), &st),
			 -ENOENT);
}

static void list_sees_exactly_the_keys_written(void **state)
{
	struct suite *s = begin(state);
	static const char *const keys[] = {
		"00/00/0000000000000001",
		"2b/1a/0000000000001a2b",
		"2b/1a/0000000000001a2c",
		"2b/ff/000000000000ff2b",
		"flat",
	};
	struct listing l = { .prefix = s->pfx };

	for (size_t i = 0; i < 5; i++)
		put(s, K(s, keys[i]), keys[i], i + 1);
	put(s, K(s, "gone"), "x", 1);
	assert_int_equal(strata_backend_remove(s->be, K(s, "gone")), 0);
	assert_int_equal(strata_backend_list(s->be, list_cb, &l), 0);
	assert_int_equal(l.n, 5);
	qsort(l.keys, l.n, sizeof(l.keys[0]), cmp_str);
	for (size_t i = 0; i < 5; i++)
		assert_string_equal(l.keys[i], keys[i]);
	listing_free(&l);

	/* A non-zero callback return stops the walk and is returned. */
	l.stop_with = 42;
	l.calls = 0;
	assert_int_equal(strata_backend_list(s->be, list_cb, &l), 42);
	assert_int_equal(l.calls, 1);
}

static void list_reports_sizes(void **state)
{
	struct suite *s = begin(state);
	struct listing l = { .prefix = s->pfx };

	put(s, K(s, "aa/one"), "1", 1);
	put(s, K(s, "aa/three"), "333", 3);
	assert_int_equal(strata_backend_list(s->be, list_cb, &l), 0);
	assert_int_equal(l.n, 2);
	for (unsigned int i = 0; i < l.n; i++)
		assert_int_equal(l.sizes[i],
				 strcmp(l.keys[i], "aa/one") == 0 ? 1 : 3);
	listing_free(&l);
}

/* Block-aligned megabyte writes (the local driver sends them around the
 * page cache) interleaved with small unaligned ones over the same bytes. */
static void aligned_and_unaligned_writes_mix(void **state)
{
	struct suite *s = begin(state);
	const size_t size = 4 * MIB;
	unsigned char *ref = calloc(1, size);
	unsigned char *back = malloc(size);
	unsigned char *blk = malloc(MIB);
	struct strata_obj *obj;
	size_t n;

	if (!(strata_backend_caps(s->be) & STRATA_BCAP_RANDOM_WRITE)) {
		free(ref);
		free(back);
		free(blk);
		skip();
	}
	assert_non_null(ref);
	assert_non_null(back);
	assert_non_null(blk);
	obj = xopen(s, K(s, "mix/object"),
		    STRATA_OBJ_READ | STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	for (int round = 0; round < 3; round++) {
		for (size_t off = 0; off < size; off += MIB) {
			fill(blk, MIB, off, round + 7);
			memcpy(ref + off, blk, MIB);
			assert_int_equal(strata_obj_write(obj, off, blk, MIB),
					 0);
		}
		for (size_t off = 4093 * (size_t)(round + 1); off < size;
		     off += 300007) {
			fill(blk, 333, off, round + 11);
			memcpy(ref + off, blk, 333);
			assert_int_equal(strata_obj_write(obj, off, blk, 333),
					 0);
		}
		assert_int_equal(strata_obj_read(obj, 0, back, size, &n), 0);
		assert_int_equal(n, size);
		assert_memory_equal(back, ref, size);
	}
	assert_int_equal(strata_obj_close(obj), 0);
	free(ref);
	free(back);
	free(blk);
}

static void large_object_round_trip(void **state)
{
	struct suite *s = begin(state);
	const size_t size = 8 * MIB;
	const size_t wchunk = MIB + 3;
	const size_t rchunk = 777777;
	unsigned char *data = malloc(size);
	unsigned char *back = malloc(size + 1);
	struct strata_obj *obj;
	size_t n;

	assert_non_null(data);
	assert_non_null(back);
	fill(data, size, 0, 5);
	obj = xopen(s, K(s, "big/object"),
		    STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC);
	for (size_t off = 0; off < size; off += wchunk) {
		size_t len = size - off < wchunk ? size - off : wchunk;

		assert_int_equal(strata_obj_write(obj, off, data + off, len),
				 0);
	}
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(size_of(s, K(s, "big/object")), size);

	obj = xopen(s, K(s, "big/object"), STRATA_OBJ_READ);
	memset(back, 0, size);
	for (size_t off = 0; off < size; off += n) {
		assert_int_equal(
			strata_obj_read(obj, off, back + off, rchunk, &n), 0);
		assert_true(n == rchunk || off + n == size);
		assert_true(n > 0);
	}
	assert_memory_equal(back, data, size);
	assert_int_equal(strata_obj_read(obj, 0, back, size + 1, &n), 0);
	assert_int_equal(n, size);
	assert_memory_equal(back, data, size);
	assert_int_equal(strata_obj_close(obj), 0);
	free(data);
	free(back);
}

/*
 * strata_obj_read_lend gives the same bytes as strata_obj_read, lent or
 * copied, and a loan stays readable after the object is closed.
 */
static void read_lend_matches_read(void **state)
{
	struct suite *s = begin(state);
	const size_t size = 3 * MIB + 5;
	unsigned char *data = malloc(size);
	unsigned char *scratch = malloc(MIB);
	const void *at[4];
	void *ref[4] = { 0 };
	struct strata_obj *obj;
	unsigned int nlent = 0;
	size_t n;

	assert_non_null(data);
	assert_non_null(scratch);
	fill(data, size, 0, 9);
	put(s, K(s, "lend"), data, size);
	obj = xopen(s, K(s, "lend"), STRATA_OBJ_READ);
	for (unsigned int i = 0; i < 4; i++) {
		uint64_t off = (uint64_t)i * MIB;

		assert_int_equal(strata_obj_read_lend(obj, off, scratch, MIB,
						      &n, &at[i], &ref[i]),
				 0);
		assert_int_equal(n, i < 3 ? MIB : 5);
		assert_memory_equal(at[i], data + off, n);
		if (ref[i])
			nlent++;
		else
			assert_ptr_equal(at[i], scratch);
	}
	assert_int_equal(strata_obj_close(obj), 0);
	for (unsigned int i = 0; i < 4; i++) {
		if (ref[i])
			assert_memory_equal(at[i], data + (uint64_t)i * MIB,
					    i < 3 ? MIB : 5);
		strata_backend_ref_put(s->be, ref[i]);
	}
	/* Drivers with read-ahead lend a sequential reader's bytes. */
	if (s->drv->lends)
		assert_true(nlent > 0);
	free(data);
	free(scratch);
}

/* Bytes put where strata_obj_wbuf says land in the stream uncopied. */
static void wbuf_writes_in_place(void **state)
{
	struct suite *s = begin(state);
	unsigned char data[3 * 4096];
	struct strata_obj *obj;
	size_t room;
	void *buf;

	fill(data, sizeof(data), 0, 11);
	obj = xopen(s, K(s, "wbuf"),
		    STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC);
	assert_int_equal(strata_obj_wbuf(obj, &buf, &room), 0);
	if (room >= 4096) {
		assert_int_equal((uintptr_t)buf % 4096, 0);
		memcpy(buf, data, 4096);
		assert_int_equal(strata_obj_write(obj, 0, buf, 4096), 0);
	} else {
		assert_int_equal(strata_obj_write(obj, 0, data, 4096), 0);
	}
	assert_int_equal(strata_obj_write(obj, 4096, data + 4096, 4096), 0);
	assert_int_equal(strata_obj_wbuf(obj, &buf, &room), 0);
	if (room >= 4096) {
		memcpy(buf, data + 8192, 4096);
		assert_int_equal(strata_obj_write(obj, 8192, buf, 4096), 0);
	} else {
		assert_int_equal(strata_obj_write(obj, 8192, data + 8192, 4096),
				 0);
	}
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "wbuf"), data, sizeof(data));
}

struct writer {
	struct strata_backend *be;
	char key[STRATA_KEY_MAX + 1];
	unsigned int seed;
	int ret;
};

#define WRITER_CHUNK (64u * 1024u)
#define WRITER_CHUNKS 32u

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char *buf = malloc(WRITER_CHUNK);
	struct strata_obj *obj = NULL;
	int ret;

	if (!buf) {
		w->ret = -ENOMEM;
		return NULL;
	}
	ret = strata_obj_open(
		w->be, w->key,
		STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC, &obj);
	for (unsigned int i = 0; ret == 0 && i < WRITER_CHUNKS; i++) {
		uint64_t off = (uint64_t)i * WRITER_CHUNK;

		fill(buf, WRITER_CHUNK, off, w->seed);
		ret = strata_obj_write(obj, off, buf, WRITER_CHUNK);
	}
	if (obj) {
		int r = strata_obj_close(obj);

		if (ret == 0)
			ret = r;
	}
	free(buf);
	w->ret = ret;
	return NULL;
}

static void concurrent_writers_on_distinct_objects(void **state)
{
	struct suite *s = begin(state);
	const size_t size = (size_t)WRITER_CHUNK * WRITER_CHUNKS;
	unsigned char *want = malloc(size);
	struct writer w[4];
	pthread_t th[4];
	char k[32];

	assert_non_null(want);
	for (unsigned int i = 0; i < 4; i++) {
		snprintf(k, sizeof(k), "%02x/00/writer%u", i, i);
		w[i].be = s->be;
		w[i].seed = 100 + i;
		w[i].ret = -1;
		strcpy(w[i].key, K(s, k));
		assert_int_equal(
			pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (unsigned int i = 0; i < 4; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (unsigned int i = 0; i < 4; i++) {
		assert_int_equal(w[i].ret, 0);
		fill(want, size, 0, w[i].seed);
		expect_content(s, w[i].key, want, size);
	}
	free(want);
}

/* backend.h: without STRATA_BCAP_RANDOM_WRITE an object open for writing
 * is a stream of appends that replaces the key's content at sync or close. */
static void immutable_objects_are_append_streams(void **state)
{
	struct suite *s = begin(state);
	const size_t big = 6 * MIB + 5; /* past a 5 MiB part */
	unsigned char *data = malloc(big + MIB);
	struct strata_obj *obj;
	struct strata_obj_stat st;
	char buf[16];
	size_t n;

	assert_non_null(data);
	if (strata_backend_caps(s->be) & STRATA_BCAP_RANDOM_WRITE) {
		free(data);
		skip();
	}
	fill(data, big + MIB, 0, 21);
	put(s, K(s, "a"), "0123456789", 10);

	/* Not an append: refused, nothing changes. */
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC);
	assert_int_equal(strata_obj_write(obj, 3, "x", 1), -EOPNOTSUPP);
	assert_int_equal(strata_obj_write(obj, 0, "new", 3), 0);
	assert_int_equal(strata_obj_truncate(obj, 1), -EOPNOTSUPP);
	assert_int_equal(strata_obj_truncate(obj, 3), 0);
	assert_int_equal(strata_obj_read(obj, 0, buf, 3, &n), -EOPNOTSUPP);
	/* Readers see the old content until the stream is stored. */
	expect_content(s, K(s, "a"), "0123456789", 10);
	assert_int_equal(strata_obj_sync(obj, false), 0);
	expect_content(s, K(s, "a"), "new", 3);
	/* Appending after a sync continues the same object. */
	assert_int_equal(strata_obj_write(obj, 3, "er", 2), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), "newer", 5);

	/* Without TRUNC the stream starts at the stored object's end. */
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE);
	assert_int_equal(strata_obj_write(obj, 0, "x", 1), -EOPNOTSUPP);
	assert_int_equal(strata_obj_write(obj, 5, "!", 1), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), "newer!", 6);

	/* Truncating to 0 starts over. */
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE);
	assert_int_equal(strata_obj_truncate(obj, 0), 0);
	assert_int_equal(strata_obj_write(obj, 0, "z", 1), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), "z", 1);

	/* A large stream synced, then appended to. */
	obj = xopen(s, K(s, "big"),
		    STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC);
	assert_int_equal(strata_obj_write(obj, 0, data, big), 0);
	assert_int_equal(strata_obj_sync(obj, true), 0);
	assert_int_equal(strata_backend_stat(s->be, K(s, "big"), &st), 0);
	assert_int_equal(st.size, big);
	assert_int_equal(strata_obj_write(obj, big, data + big, MIB), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "big"), data, big + MIB);

	/* Aborting drops what was written since the last sync. */
	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC);
	assert_int_equal(strata_obj_write(obj, 0, data, big), 0);
	assert_int_equal(strata_obj_abort(obj), 0);
	expect_content(s, K(s, "a"), "z", 1);
	obj = xopen(s, K(s, "new"), STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	assert_int_equal(strata_obj_write(obj, 0, "x", 1), 0);
	assert_int_equal(strata_obj_abort(obj), 0);
	assert_int_equal(strata_backend_stat(s->be, K(s, "new"), &st), -ENOENT);
	assert_int_equal(strata_obj_abort(NULL), 0);
	free(data);
}

static void copy_duplicates_content(void **state)
{
	struct suite *s = begin(state);
	static const char msg[] = "copied, not moved";
	struct strata_obj_stat st;

	put(s, K(s, "2b/1a/0000000000001a2b"), msg, sizeof(msg));
	assert_int_equal(strata_backend_copy(s->be,
					     K(s, "2b/1a/0000000000001a2b"),
					     K(s, "9f/00/000000000000009f")),
			 0);
	expect_content(s, K(s, "2b/1a/0000000000001a2b"), msg, sizeof(msg));
	expect_content(s, K(s, "9f/00/000000000000009f"), msg, sizeof(msg));
	assert_int_equal(strata_backend_copy(s->be, K(s, "missing"),
					     K(s, "other")),
			 -ENOENT);
	assert_int_equal(strata_backend_stat(s->be, K(s, "other"), &st),
			 -ENOENT);
	assert_int_equal(strata_backend_copy(s->be,
					     K(s, "9f/00/000000000000009f"),
					     K(s, "9f/00/000000000000009f")),
			 0);
	expect_content(s, K(s, "9f/00/000000000000009f"), msg, sizeof(msg));
}

/* Keys with characters that URLs, query strings and XML treat specially. */
static void odd_keys_round_trip(void **state)
{
	struct suite *s = begin(state);
	static const char *const keys[] = {
		"odd/a+b",	   "odd/sp ace",    "odd/per%25cent",
		"odd/q?x=1&y=2",   "odd/h#ash",	    "odd/<xml>&amp;\"'",
		"odd/caf\xc3\xa9", "odd/ti~lde.-_",
	};
	struct listing l = { .prefix = s->pfx };
	struct strata_obj_stat st;

	for (size_t i = 0; i < 8; i++)
		put(s, K(s, keys[i]), keys[i], strlen(keys[i]));
	for (size_t i = 0; i < 8; i++) {
		expect_content(s, K(s, keys[i]), keys[i], strlen(keys[i]));
		assert_int_equal(strata_backend_stat(s->be, K(s, keys[i]), &st),
				 0);
		assert_int_equal(st.size, strlen(keys[i]));
	}
	assert_int_equal(strata_backend_list(s->be, list_cb, &l), 0);
	assert_int_equal(l.n, 8);
	qsort(l.keys, l.n, sizeof(l.keys[0]), cmp_str);
	for (unsigned int i = 0; i < l.n; i++) {
		bool found = false;

		for (size_t j = 0; j < 8; j++)
			found |= strcmp(l.keys[i], keys[j]) == 0;
		assert_true(found);
	}
	listing_free(&l);
	assert_int_equal(
		strata_backend_copy(s->be, K(s, keys[0]), K(s, keys[5])), 0);
	expect_content(s, K(s, keys[5]), keys[0], strlen(keys[0]));
	assert_int_equal(
		strata_backend_rename(s->be, K(s, keys[1]), K(s, keys[3])), 0);
	expect_content(s, K(s, keys[3]), keys[1], strlen(keys[1]));
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(strata_backend_remove(s->be, K(s, keys[i])),
				 i == 1 ? -ENOENT : 0);
}

static void sync_succeeds(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj;

	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	assert_int_equal(strata_obj_write(obj, 0, "data", 4), 0);
	assert_int_equal(strata_obj_sync(obj, true), 0);
	assert_int_equal(strata_obj_sync(obj, false), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), "data", 4);
}

static void fd_matches_caps(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj;
	char buf[8];
	size_t n;
	int fd;

	obj = xopen(s, K(s, "a"),
		    STRATA_OBJ_READ | STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	fd = strata_obj_fd(obj);
	if (!(strata_backend_caps(s->be) & STRATA_BCAP_FD)) {
		assert_int_equal(fd, -1);
		assert_int_equal(strata_obj_close(obj), 0);
		return;
	}
	assert_true(fd >= 0);
	assert_int_equal(strata_obj_fd(obj), fd);
	/* Bytes written through the fd are the object's bytes. */
	assert_int_equal(pwrite(fd, "via fd", 6, 0), 6);
	assert_int_equal(strata_obj_read(obj, 0, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 6);
	assert_memory_equal(buf, "via fd", 6);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "a"), "via fd", 6);
}

static void anon_object_shows_only_once_linked(void **state)
{
	struct suite *s = begin(state);
	unsigned int flags = STRATA_OBJ_READ | STRATA_OBJ_WRITE |
			     STRATA_OBJ_CREATE | STRATA_OBJ_ANON;
	struct strata_obj_stat st;
	struct strata_obj *obj = NULL;

	/* An object without a key can only be a new one, to write. */
	assert_int_equal(strata_obj_open(s->be, K(s, "anon/a"),
					 flags & ~STRATA_OBJ_CREATE, &obj),
			 -EINVAL);
	assert_null(obj);
	assert_int_equal(strata_obj_open(s->be, K(s, "anon/a"),
					 flags & ~STRATA_OBJ_WRITE, &obj),
			 -EINVAL);
	assert_null(obj);
	if (!(strata_backend_caps(s->be) & STRATA_BCAP_ANON)) {
		assert_int_equal(strata_obj_open(s->be, K(s, "anon/a"), flags,
						 &obj),
				 -EOPNOTSUPP);
		assert_null(obj);
		return;
	}
	/* Closed before its link, written or not, it stored nothing. */
	obj = xopen(s, K(s, "anon/a"), flags);
	assert_int_equal(strata_obj_write(obj, 0, "gone", 4), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(strata_backend_stat(s->be, K(s, "anon/a"), &st),
			 -ENOENT);
	obj = xopen(s, K(s, "anon/a"), flags);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(strata_backend_stat(s->be, K(s, "anon/a"), &st),
			 -ENOENT);
	/* The key keeps what it held until the link, which replaces it. */
	put(s, K(s, "anon/a"), "old", 3);
	obj = xopen(s, K(s, "anon/a"), flags);
	assert_int_equal(strata_obj_write(obj, 0, "new bytes", 9), 0);
	expect_content(s, K(s, "anon/a"), "old", 3);
	assert_int_equal(strata_obj_link(obj), 0);
	assert_int_equal(strata_obj_link(obj), 0); /* once is enough */
	/* Linked, it is the key's object: later writes land there too. */
	assert_int_equal(strata_obj_write(obj, 9, "!", 1), 0);
	assert_int_equal(strata_obj_sync(obj, false), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "anon/a"), "new bytes!", 10);
	/* Linking makes the shard directories it needs. */
	obj = xopen(s, K(s, "anon/new/shard/b"), flags);
	assert_int_equal(strata_obj_write(obj, 0, "b", 1), 0);
	assert_int_equal(strata_obj_link(obj), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	expect_content(s, K(s, "anon/new/shard/b"), "b", 1);
}

static void fallocate_matches_caps(void **state)
{
	struct suite *s = begin(state);
	struct strata_obj *obj;
	int ret;

	obj = xopen(s, K(s, "a"), STRATA_OBJ_WRITE | STRATA_OBJ_CREATE);
	ret = strata_obj_fallocate(obj, 0, 0, MIB);
	assert_int_equal(strata_obj_close(obj), 0);
	if (!(strata_backend_caps(s->be) & STRATA_BCAP_FALLOCATE)) {
		assert_int_equal(ret, -EOPNOTSUPP);
		return;
	}
	assert_int_equal(ret, 0);
	assert_int_equal(size_of(s, K(s, "a")), MIB);
}

static void statfs_is_sane(void **state)
{
	struct suite *s = begin(state);
	struct strata_backend_statfs sf;
	int ret;

	memset(&sf, 0xff, sizeof(sf));
	ret = strata_backend_statfs(s->be, &sf);
	if (ret == -EOPNOTSUPP && !s->drv->real_statfs)
		return;
	assert_int_equal(ret, 0);
	assert_true(sf.total >= sf.avail);
	assert_true(sf.files >= sf.ffree);
	if (s->drv->real_statfs)
		assert_true(sf.avail > 0);
}

static void bad_keys_are_einval(void **state)
{
	struct suite *s = begin(state);
	static const char *const bad[] = {
		"",
		"/abs",
		"a/../b",
		"..",
		"../x",
		"a/..",
		".",
		"./a",
		"a//b",
		"a/",
		"a\nb",
		"tab\there",
		"x/.strata-tmp.1",
	};
	char longkey[STRATA_KEY_MAX + 2];
	char longname[STRATA_KEY_MAX];
	struct strata_obj_stat st;
	struct strata_obj *obj;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(strata_obj_open(s->be, bad[i],
						 STRATA_OBJ_WRITE |
							 STRATA_OBJ_CREATE,
						 &obj),
				 -EINVAL);
		assert_int_equal(strata_backend_stat(s->be, bad[i], &st),
				 -EINVAL);
		assert_int_equal(strata_backend_remove(s->be, bad[i]), -EINVAL);
		assert_int_equal(strata_backend_rename(s->be, bad[i], "ok"),
				 -EINVAL);
		assert_int_equal(strata_backend_rename(s->be, "ok", bad[i]),
				 -EINVAL);
	}
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(strata_obj_open(s->be, longkey, STRATA_OBJ_READ, &obj),
			 -ENAMETOOLONG);
	/* One component longer than a directory entry can be. */
	snprintf(longname, sizeof(longname), "%s", s->pfx);
	memset(longname + strlen(longname), 'n', 300);
	longname[strlen(s->pfx) + 300] = '\0';
	assert_int_equal(strata_obj_open(s->be, longname, STRATA_OBJ_READ,
					 &obj),
			 -ENAMETOOLONG);
}

/* ---- local driver and registry ---- */

struct local_fix {
	char dir[256]; /* short, so paths below it always fit */
	struct strata_backend *be;
};

static int local_setup(void **state)
{
	struct local_fix *f = calloc(1, sizeof(*f));
	char tmpl[] = "/tmp/strata-local-XXXXXX";
	struct strata_uri uri = { .scheme = "file" };
	char real[PATH_MAX];
	char err[512];

	if (!f || !mkdtemp(tmpl) || !realpath(tmpl, real) ||
	    strlen(real) >= sizeof(f->dir))
		return -1;
	strcpy(f->dir, real);
	strcpy(uri.path, f->dir);
	if (strata_backend_open(&uri, "nvme", &f->be, err, sizeof(err)) < 0) {
		print_error("%s\n", err);
		rm_tree(f->dir);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int local_teardown(void **state)
{
	struct local_fix *f = *state;

	strata_backend_close(f->be);
	rm_tree(f->dir);
	free(f);
	return 0;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void local_objects_live_under_shard_dirs(void **state)
{
	struct local_fix *f = *state;
	struct strata_obj *obj;
	char path[PATH_MAX + 64];
	struct stat st;

	assert_int_equal(strata_obj_open(f->be, "2b/1a/0000000000001a2b",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_write(obj, 0, "abc", 3), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	snprintf(path, sizeof(path), "%s/2b/1a/0000000000001a2b", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, 3);
	snprintf(path, sizeof(path), "%s/2b/1a", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
}

/* Reads through the mount keep their atime in the catalog: an object's
 * own stays as it was, reads through its descriptor included. */
static void local_reads_leave_the_object_atime(void **state)
{
	struct local_fix *f = *state;
	const struct timespec old[2] = { { 1000, 0 }, { 0, UTIME_OMIT } };
	struct strata_obj *obj;
	char path[PATH_MAX + 64];
	char buf[8];
	struct stat st;
	size_t n;

	assert_int_equal(strata_obj_open(f->be, "00/00/00000000000000aa",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_write(obj, 0, "abc", 3), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	snprintf(path, sizeof(path), "%s/00/00/00000000000000aa", f->dir);
	/* Older than mtime: relatime would move it at the next read. */
	assert_int_equal(utimensat(AT_FDCWD, path, old, 0), 0);
	assert_int_equal(strata_obj_open(f->be, "00/00/00000000000000aa",
					 STRATA_OBJ_READ | STRATA_OBJ_WRITE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_read(obj, 0, buf, 3, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(pread(strata_obj_fd(obj), buf, 3, 0), 3);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_atim.tv_sec, 1000);
}

static void local_key_naming_a_shard_dir_is_eisdir(void **state)
{
	struct local_fix *f = *state;
	struct strata_obj_stat st;
	struct strata_obj *obj;

	assert_int_equal(strata_obj_open(f->be, "77/66/obj",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(strata_obj_open(f->be, "77/66", STRATA_OBJ_READ, &obj),
			 -EISDIR);
	assert_int_equal(strata_backend_stat(f->be, "77", &st), -EISDIR);
}

static int count_cb(void *arg, const char *key,
		    const struct strata_obj_stat *st)
{
	if (strstr(key, ".strata-tmp") || strstr(key, "link"))
		return -EBADMSG;
	(*(unsigned int *)arg)++;
	return 0;
}

static void local_list_skips_scratch_and_special_files(void **state)
{
	struct local_fix *f = *state;
	char path[PATH_MAX + 64];
	unsigned int n = 0;
	struct strata_obj *obj;

	assert_int_equal(strata_obj_open(f->be, "aa/bb/listed",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_close(obj), 0);
	snprintf(path, sizeof(path), "%s/aa/bb/.strata-tmp.123", f->dir);
	assert_int_equal(close(open(path, O_CREAT | O_WRONLY, 0600)), 0);
	snprintf(path, sizeof(path), "%s/aa/link", f->dir);
	assert_int_equal(symlink("bb/listed", path), 0);
	assert_int_equal(strata_backend_list(f->be, count_cb, &n), 0);
	assert_true(n >= 1);
}

static void local_holds_no_spare_descriptors(void **state)
{
	struct local_fix *f = *state;
	int before = count_fds();
	struct strata_obj *obj[50];
	unsigned int n = 0;
	char key[64];

	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "fd/%02x/obj%d", i, i);
		assert_int_equal(strata_obj_open(f->be, key,
						 STRATA_OBJ_WRITE |
							 STRATA_OBJ_CREATE,
						 &obj[i]),
				 0);
	}
	/* One descriptor per open object, no more. */
	assert_int_equal(count_fds(), before + 50);
	for (int i = 0; i < 50; i++)
		assert_int_equal(strata_obj_close(obj[i]), 0);
	assert_int_equal(strata_backend_list(f->be, count_cb, &n), 0);
	assert_int_equal(
		strata_backend_rename(f->be, "fd/00/obj0", "fd/new/obj0"), 0);
	assert_int_equal(count_fds(), before);
}

/* Objects made and closed empty without their key leave nothing in the
 * tier and reuse a few descriptors rather than pile them up. */
/* Notes the temporaries under sw/ (the fixture's tier is shared). */
static int sweep_cb(void *arg, const char *path,
		    const struct strata_obj_stat *st)
{
	char *seen = arg;

	if (strncmp(path, "sw/", 3) != 0)
		return 0;
	assert_int_equal(st->size, 3);
	strcat(seen, path);
	strcat(seen, ";");
	return 0;
}

static void local_sweep_finds_and_removes_leftover_temporaries(void **state)
{
	struct local_fix *f = *state;
	char path[PATH_MAX + 64];
	char seen[256] = "";
	struct strata_obj_stat st;
	struct strata_obj *obj;
	int fd;

	assert_int_equal(strata_obj_open(f->be, "sw/bb/kept",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_close(obj), 0);
	snprintf(path, sizeof(path), "%s/sw/bb/.strata-tmp-anon-1-1", f->dir);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_int_equal(write(fd, "old", 3), 3);
	assert_int_equal(close(fd), 0);
	/* Reported, not removed; objects are not temporaries. */
	assert_int_equal(strata_backend_sweep(f->be, false, sweep_cb, seen), 0);
	assert_string_equal(seen, "sw/bb/.strata-tmp-anon-1-1;");
	assert_int_equal(access(path, F_OK), 0);
	/* Removed, then reported; the object stays. */
	seen[0] = '\0';
	assert_int_equal(strata_backend_sweep(f->be, true, sweep_cb, seen), 0);
	assert_string_equal(seen, "sw/bb/.strata-tmp-anon-1-1;");
	assert_int_equal(access(path, F_OK), -1);
	seen[0] = '\0';
	assert_int_equal(strata_backend_sweep(f->be, false, sweep_cb, seen), 0);
	assert_string_equal(seen, "");
	assert_int_equal(strata_backend_stat(f->be, "sw/bb/kept", &st), 0);
}

static void local_anon_empty_objects_are_reused(void **state)
{
	struct local_fix *f = *state;
	unsigned int flags = STRATA_OBJ_READ | STRATA_OBJ_WRITE |
			     STRATA_OBJ_CREATE | STRATA_OBJ_ANON;
	int before = count_fds();
	unsigned int n = 0, n0 = 0;
	struct strata_obj *obj;
	char key[64];
	int fd = -1;

	assert_int_equal(strata_backend_list(f->be, count_cb, &n0), 0);
	for (int i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "000/001/%016x", i);
		assert_int_equal(strata_obj_open(f->be, key, flags, &obj), 0);
		if (i > 0) /* the pool's: the one closed just before */
			assert_int_equal(strata_obj_fd(obj), fd);
		fd = strata_obj_fd(obj);
		assert_int_equal(strata_obj_close(obj), 0);
	}
	assert_int_equal(count_fds(), before + 1);
	assert_int_equal(strata_backend_list(f->be, count_cb, &n), 0);
	assert_int_equal(n, n0);
	/* A written one is never handed out again, linked or not. */
	assert_int_equal(strata_obj_open(f->be, "000/001/a", flags, &obj), 0);
	assert_int_equal(strata_obj_fd(obj), fd);
	assert_int_equal(strata_obj_write(obj, 0, "x", 1), 0);
	assert_int_equal(strata_obj_close(obj), 0);
	assert_int_equal(count_fds(), before);
}

static void local_open_missing_root_names_path(void **state)
{
	struct local_fix *f = *state;
	struct strata_uri uri = { .scheme = "file" };
	struct strata_backend *be = (void *)1;
	char err[512] = "";

	snprintf(uri.path, sizeof(uri.path), "%s/missing", f->dir);
	assert_int_equal(strata_backend_open(&uri, "cold", &be, err,
					     sizeof(err)),
			 -ENOENT);
	assert_null(be);
	assert_non_null(strstr(err, "tier 'cold'"));
	assert_non_null(strstr(err, uri.path));
	assert_non_null(strstr(err, "No such file or directory"));
}

static void local_open_file_root_is_enotdir(void **state)
{
	struct local_fix *f = *state;
	struct strata_uri uri = { .scheme = "file" };
	struct strata_backend *be;
	struct strata_obj *obj;
	char err[512] = "";

	assert_int_equal(strata_obj_open(f->be, "plainfile",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_close(obj), 0);
	snprintf(uri.path, sizeof(uri.path), "%s/plainfile", f->dir);
	assert_int_equal(strata_backend_open(&uri, "cold", &be, err,
					     sizeof(err)),
			 -ENOTDIR);
	assert_non_null(strstr(err, uri.path));
	assert_non_null(strstr(err, "Not a directory"));
}

static void local_open_unwritable_root(void **state)
{
	struct local_fix *f = *state;
	struct strata_uri uri = { .scheme = "file" };
	struct strata_backend *be;
	char err[512] = "";

	if (geteuid() == 0)
		skip(); /* root may write anywhere */
	snprintf(uri.path, sizeof(uri.path), "%s/ro", f->dir);
	assert_int_equal(mkdir(uri.path, 0500), 0);
	assert_int_equal(strata_backend_open(&uri, "cold", &be, err,
					     sizeof(err)),
			 -EACCES);
	assert_non_null(strstr(err, "not writable"));
	assert_non_null(strstr(err, uri.path));
}

static void local_root_trailing_slash(void **state)
{
	struct local_fix *f = *state;
	struct strata_uri uri = { .scheme = "file" };
	struct strata_backend *be;
	struct strata_obj *obj;
	unsigned int n = 0;
	char err[512];
	char path[PATH_MAX + 64];
	struct stat st;

	snprintf(uri.path, sizeof(uri.path), "%s/slash/", f->dir);
	assert_int_equal(mkdir(uri.path, 0700), 0);
	assert_int_equal(strata_backend_open(&uri, "s", &be, err, sizeof(err)),
			 0);
	assert_int_equal(strata_obj_open(be, "k/v",
					 STRATA_OBJ_WRITE | STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_close(obj), 0);
	snprintf(path, sizeof(path), "%s/slash/k/v", f->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(strata_backend_list(be, count_cb, &n), 0);
	assert_int_equal(n, 1);
	strata_backend_close(be);
}

#ifdef STRATA_WITH_S3
/* Open an s3 tier; returns its error and the message in err. */
static int s3_open_msg(const char *url, char *err, size_t errlen)
{
	struct strata_backend *be = NULL;
	struct strata_uri uri;
	int ret;

	assert_int_equal(strata_uri_parse(url, &uri, err, errlen), 0);
	ret = strata_backend_open(&uri, "cold", &be, err, errlen);
	strata_backend_close(be);
	return ret;
}

/* What the s3 driver refuses before it sends a request. */
static void s3_open_refuses_bad_settings(void **state)
{
	char dir[] = "/tmp/strata-s3-XXXXXX";
	char file[PATH_MAX], url[PATH_MAX + 200], err[512];
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/creds", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fputs("[default]\naws_access_key_id = AK\n"
	      "aws_secret_access_key = sekrit-value\n",
	      f);
	fclose(f);
	assert_int_equal(chmod(file, 0644), 0);
	snprintf(url, sizeof(url),
		 "s3://bucket/p?endpoint=http://127.0.0.1:1&credentials=%s",
		 file);
	assert_int_equal(s3_open_msg(url, err, sizeof(err)), -EACCES);
	assert_non_null(strstr(err, "tier 'cold' (s3): "));
	assert_non_null(strstr(err, file));
	assert_non_null(strstr(err, "0600"));

	/* Mode 0600, but nobody answers: the message names the endpoint
	 * and never the secret. */
	assert_int_equal(chmod(file, 0600), 0);
	snprintf(
		url, sizeof(url),
		"s3://bucket/p?endpoint=http://127.0.0.1:1&credentials=%s&timeout=2&retries=1",
		file);
	assert_int_equal(s3_open_msg(url, err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "cannot reach 'http://127.0.0.1:1'"));
	assert_null(strstr(err, "sekrit"));

	assert_int_equal(s3_open_msg("s3://bucket?colour=blue", err,
				     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "unknown option 'colour'"));
	assert_int_equal(s3_open_msg("s3://bucket?partsize=4", err,
				     sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "'partsize' wants a number from 5"));
	assert_int_equal(s3_open_msg("s3://Bad_Bucket", err, sizeof(err)),
			 -EINVAL);
	unlink(file);
	rmdir(dir);
}
#endif

static void registry_maps_schemes(void **state)
{
	struct strata_uri uri = { .scheme = "gopher" };
	struct strata_backend *be = (void *)1;
	char err[256] = "";

	assert_ptr_equal(strata_backend_driver("file"), &strata_local_ops);
	assert_ptr_equal(strata_backend_driver("mem"), &strata_mem_ops);
	assert_null(strata_backend_driver("gopher"));
	assert_int_equal(strata_backend_open(&uri, "far", &be, err,
					     sizeof(err)),
			 -EPROTONOSUPPORT);
	assert_null(be);
	assert_string_equal(err, "tier 'far': no driver for scheme 'gopher'");
	strata_backend_close(NULL);
	assert_int_equal(strata_local_ops.caps,
			 STRATA_BCAP_RANGE_READ | STRATA_BCAP_RANDOM_WRITE |
				 STRATA_BCAP_RENAME | STRATA_BCAP_FD |
				 STRATA_BCAP_FALLOCATE | STRATA_BCAP_ANON);
	assert_int_equal(strata_mem_ops.caps &
				 (STRATA_BCAP_FD | STRATA_BCAP_FALLOCATE),
			 0);
#ifdef STRATA_WITH_S3
	assert_ptr_equal(strata_backend_driver("s3"), &strata_s3_ops);
	assert_int_equal(strata_s3_ops.caps & STRATA_BCAP_RANDOM_WRITE, 0);
#endif
}

#ifdef STRATA_WITH_NFS
int strata__backend_nfs_write_reply(const unsigned char *p, size_t len,
				    uint32_t *xid, int *rc, const char **why);

static size_t xdr_put(unsigned char *p, size_t at, uint32_t v)
{
	p[at] = (unsigned char)(v >> 24);
	p[at + 1] = (unsigned char)(v >> 16);
	p[at + 2] = (unsigned char)(v >> 8);
	p[at + 3] = (unsigned char)v;
	return at + 4;
}

/* A reply to xid 0x1234: accepted, status, with or without attributes,
 * and count when status is 0. Returns its length; *count_end is where the
 * count ends. */
static size_t write_reply(unsigned char *p, uint32_t status, bool attrs,
			  size_t *count_end)
{
	size_t at = 0;

	at = xdr_put(p, at, 0x1234);
	at = xdr_put(p, at, 1); /* REPLY */
	at = xdr_put(p, at, 0); /* MSG_ACCEPTED */
	at = xdr_put(p, at, 0); /* AUTH_NONE */
	at = xdr_put(p, at, 0);
	at = xdr_put(p, at, 0); /* SUCCESS */
	at = xdr_put(p, at, status);
	at = xdr_put(p, at, attrs);
	if (attrs) {
		memset(p + at, 0x5a, 24);
		at += 24;
	}
	at = xdr_put(p, at, attrs);
	if (attrs) {
		memset(p + at, 0xa5, 84);
		at += 84;
	}
	if (status == 0) {
		at = xdr_put(p, at, 4096); /* count */
		*count_end = at;
		at = xdr_put(p, at, 0); /* UNSTABLE */
		memset(p + at, 7, 8);	/* verifier */
		at += 8;
	}
	return at;
}

static void nfs_write_replies_parse_and_garbage_is_refused(void **state)
{
	unsigned char p[512];
	const char *why;
	size_t len, count_end = 0;
	uint32_t xid = 0;
	int rc = 0;

	(void)state;
	len = write_reply(p, 0, true, &count_end);
	assert_int_equal(
		strata__backend_nfs_write_reply(p, len, &xid, &rc, &why), 0);
	assert_int_equal(xid, 0x1234);
	assert_int_equal(rc, 4096);
	assert_null(why);
	/* Cut anywhere before the count: refused, and nothing read past. */
	for (size_t n = 0; n < count_end; n++) {
		unsigned char *cut = malloc(n ? n : 1);

		memcpy(cut, p, n);
		assert_int_equal(strata__backend_nfs_write_reply(cut, n, &xid,
								 &rc, &why),
				 -EIO);
		free(cut);
	}
	len = write_reply(p, 28, false, &count_end); /* NFS3ERR_NOSPC */
	assert_int_equal(
		strata__backend_nfs_write_reply(p, len, &xid, &rc, &why), 0);
	assert_int_equal(rc, -ENOSPC);
	assert_non_null(why);
	len = write_reply(p, 70, true, &count_end); /* NFS3ERR_STALE */
	assert_int_equal(
		strata__backend_nfs_write_reply(p, len, &xid, &rc, &why), 0);
	assert_int_equal(rc, -ESTALE);
	/* Denied for its credentials. */
	len = xdr_put(p, 0, 9);
	len = xdr_put(p, len, 1);
	len = xdr_put(p, len, 1); /* MSG_DENIED */
	len = xdr_put(p, len, 1); /* AUTH_ERROR */
	len = xdr_put(p, len, 1);
	assert_int_equal(
		strata__backend_nfs_write_reply(p, len, &xid, &rc, &why), 0);
	assert_int_equal(xid, 9);
	assert_int_equal(rc, -EACCES);
	/* A call, not a reply; a verifier longer than RPC allows. */
	len = write_reply(p, 0, false, &count_end);
	xdr_put(p, 4, 0);
	assert_int_equal(
		strata__backend_nfs_write_reply(p, len, &xid, &rc, &why), -EIO);
	len = write_reply(p, 0, false, &count_end);
	xdr_put(p, 16, 401);
	assert_int_equal(
		strata__backend_nfs_write_reply(p, len, &xid, &rc, &why), -EIO);
}

int strata__backend_nfs_read_reply(const unsigned char *p, size_t len,
				   uint32_t *xid, int *rc, size_t *hlen,
				   size_t *dlen);

/* The head of a READ reply to xid 0x77 (up to its data), with a
 * verifier of vlen bytes and attributes or not. */
static size_t read_reply_head(unsigned char *p, uint32_t status, bool attrs,
			      uint32_t vlen, uint32_t dlen)
{
	size_t at = 0;

	at = xdr_put(p, at, 0x77);
	at = xdr_put(p, at, 1); /* REPLY */
	at = xdr_put(p, at, 0); /* MSG_ACCEPTED */
	at = xdr_put(p, at, 6); /* some flavor */
	at = xdr_put(p, at, vlen);
	memset(p + at, 0x11, vlen + (4 - vlen % 4) % 4);
	at += vlen + (4 - vlen % 4) % 4;
	at = xdr_put(p, at, 0); /* SUCCESS */
	at = xdr_put(p, at, status);
	at = xdr_put(p, at, attrs);
	if (attrs) {
		memset(p + at, 0x22, 84);
		at += 84;
	}
	if (status == 0) {
		at = xdr_put(p, at, dlen); /* count */
		at = xdr_put(p, at, 1);	   /* eof */
		at = xdr_put(p, at, dlen);
	}
	return at;
}

static void nfs_read_reply_heads_parse_or_ask_for_more(void **state)
{
	unsigned char p[1024];
	size_t len, hlen = 0, dlen = 0;
	uint32_t xid = 0;
	int rc = 0;

	(void)state;
	len = read_reply_head(p, 0, true, 5, 1048576);
	/* The data that follows the head does not matter to it. */
	memset(p + len, 0x33, 100);
	assert_int_equal(strata__backend_nfs_read_reply(p, len + 100, &xid, &rc,
							&hlen, &dlen),
			 0);
	assert_int_equal(xid, 0x77);
	assert_int_equal(rc, 0);
	assert_int_equal(hlen, len);
	assert_int_equal(dlen, 1048576);
	/* Any shorter, and it asks for more, reading nothing past the end. */
	for (size_t n = 0; n < len; n++) {
		unsigned char *cut = malloc(n ? n : 1);

		memcpy(cut, p, n);
		assert_int_equal(strata__backend_nfs_read_reply(
					 cut, n, &xid, &rc, &hlen, &dlen),
				 -EAGAIN);
		free(cut);
	}
	len = read_reply_head(p, 70, true, 0, 0); /* NFS3ERR_STALE */
	assert_int_equal(strata__backend_nfs_read_reply(p, len, &xid, &rc,
							&hlen, &dlen),
			 0);
	assert_int_equal(rc, -ESTALE);
	assert_int_equal(hlen, len);
	assert_int_equal(dlen, 0);
	/* No reply, or a verifier longer than RPC allows: refused. */
	len = read_reply_head(p, 0, false, 0, 8);
	xdr_put(p, 4, 0); /* CALL */
	assert_int_equal(strata__backend_nfs_read_reply(p, len, &xid, &rc,
							&hlen, &dlen),
			 -EIO);
	len = read_reply_head(p, 0, false, 0, 8);
	xdr_put(p, 16, 401);
	assert_int_equal(strata__backend_nfs_read_reply(p, len, &xid, &rc,
							&hlen, &dlen),
			 -EIO);
}
#endif

static void mem_open_object_survives_remove(void **state)
{
	struct strata_uri uri = { .scheme = "mem" };
	struct strata_backend *be;
	struct strata_obj *obj;
	char err[256];
	char buf[4];
	size_t n;

	assert_int_equal(strata_backend_open(&uri, "m", &be, err, sizeof(err)),
			 0);
	assert_int_equal(strata_obj_open(be, "k",
					 STRATA_OBJ_READ | STRATA_OBJ_WRITE |
						 STRATA_OBJ_CREATE,
					 &obj),
			 0);
	assert_int_equal(strata_obj_write(obj, 0, "abc", 3), 0);
	assert_int_equal(strata_backend_remove(be, "k"), 0);
	assert_int_equal(strata_obj_read(obj, 0, buf, sizeof(buf), &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(strata_obj_close(obj), 0);
	strata_backend_close(be);
}

int main(void)
{
	const struct CMUnitTest conformance[] = {
		cmocka_unit_test(write_then_read_back),
		cmocka_unit_test(read_past_eof_is_short),
		cmocka_unit_test(random_writes_land_in_place),
		cmocka_unit_test(sparse_write_leaves_zeros),
		cmocka_unit_test(truncate_shrinks_and_grows),
		cmocka_unit_test(trunc_flag_empties_object),
		cmocka_unit_test(excl_on_existing_is_eexist),
		cmocka_unit_test(open_missing_is_enoent),
		cmocka_unit_test(write_to_read_only_object_fails),
		cmocka_unit_test(stat_reports_size_and_mtime),
		cmocka_unit_test(remove_then_stat_is_enoent),
		cmocka_unit_test(rename_moves_content),
		cmocka_unit_test(list_sees_exactly_the_keys_written),
		cmocka_unit_test(list_reports_sizes),
		cmocka_unit_test(large_object_round_trip),
		cmocka_unit_test(read_lend_matches_read),
		cmocka_unit_test(wbuf_writes_in_place),
		cmocka_unit_test(aligned_and_unaligned_writes_mix),
		cmocka_unit_test(concurrent_writers_on_distinct_objects),
		cmocka_unit_test(immutable_objects_are_append_streams),
		cmocka_unit_test(copy_duplicates_content),
		cmocka_unit_test(odd_keys_round_trip),
		cmocka_unit_test(sync_succeeds),
		cmocka_unit_test(fd_matches_caps),
		cmocka_unit_test(anon_object_shows_only_once_linked),
		cmocka_unit_test(fallocate_matches_caps),
		cmocka_unit_test(statfs_is_sane),
		cmocka_unit_test(bad_keys_are_einval),
	};
	const struct CMUnitTest local[] = {
		cmocka_unit_test(local_objects_live_under_shard_dirs),
		cmocka_unit_test(local_reads_leave_the_object_atime),
		cmocka_unit_test(local_key_naming_a_shard_dir_is_eisdir),
		cmocka_unit_test(local_list_skips_scratch_and_special_files),
		cmocka_unit_test(local_holds_no_spare_descriptors),
		cmocka_unit_test(local_anon_empty_objects_are_reused),
		cmocka_unit_test(
			local_sweep_finds_and_removes_leftover_temporaries),
		cmocka_unit_test(local_open_missing_root_names_path),
		cmocka_unit_test(local_open_file_root_is_enotdir),
		cmocka_unit_test(local_open_unwritable_root),
		cmocka_unit_test(local_root_trailing_slash),
		cmocka_unit_test(registry_maps_schemes),
#ifdef STRATA_WITH_S3
		cmocka_unit_test(s3_open_refuses_bad_settings),
#endif
		cmocka_unit_test(mem_open_object_survives_remove),
#ifdef STRATA_WITH_NFS
		cmocka_unit_test(
			nfs_write_replies_parse_and_garbage_is_refused),
		cmocka_unit_test(nfs_read_reply_heads_parse_or_ask_for_more),
#endif
	};
	char name[64];
	int failed = 0;

	for (size_t i = 0; i < sizeof(suite_drivers) / sizeof(suite_drivers[0]);
	     i++) {
		const struct suite_driver *d = &suite_drivers[i];

		if (d->env && !getenv(d->env)) {
			printf("[  SKIPPED ] conformance/%s: %s is not set\n",
			       d->name, d->env);
			continue;
		}
		suite_current = d;
		snprintf(name, sizeof(name), "conformance/%s", d->name);
		printf("[----------] %s\n", name);
		failed += cmocka_run_group_tests_name(
			name, conformance, suite_setup, suite_teardown);
	}
	printf("[----------] local\n");
	failed += cmocka_run_group_tests_name("local", local, local_setup,
					      local_teardown);
	return failed ? 1 : 0;
}
