/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/mem.c - an in-memory driver ("mem://anything") for tests.
 *
 * A table of key -> growable byte buffer behind one mutex (mem->lock), which
 * guards the table and every buffer. Objects behave like POSIX files: an
 * open object keeps its buffer alive when the key is removed or renamed
 * (each buffer counts its references). Nothing persists past close. No FD
 * and no FALLOCATE capability, so callers exercise their fallbacks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "backend.h"
#include "backend_int.h"
#include "util.h"

struct mem_buf {
	char *key; /* NULL once removed from the table */
	unsigned char *data;
	size_t size;
	size_t cap;
	struct timespec mtime;
	unsigned int refs; /* the table's plus one per open object */
};

struct mem_be {
	pthread_mutex_t lock;
	struct mem_buf **bufs; /* guarded by lock */
	size_t nbufs;
	size_t cap;
};

struct mem_obj {
	struct mem_buf *buf;
};

static struct mem_be *mem_be(struct strata_backend *be)
{
	return be->priv;
}

static struct mem_buf *mem_obj_buf(struct strata_obj *obj)
{
	return ((struct mem_obj *)obj->priv)->buf;
}

/* Called with lock held. */
static void mem_unref(struct mem_buf *b)
{
	b->refs--;
	if (b->refs)
		return;
	free(b->key);
	free(b->data);
	free(b);
}

/* Called with lock held; returns the index or -1. */
static ssize_t mem_find(struct mem_be *m, const char *key)
{
	for (size_t i = 0; i < m->nbufs; i++) {
		if (strcmp(m->bufs[i]->key, key) == 0)
			return (ssize_t)i;
	}
	return -1;
}

/* Called with lock held: drop entry i from the table. */
static void mem_drop(struct mem_be *m, size_t i)
{
	struct mem_buf *b = m->bufs[i];

	m->bufs[i] = m->bufs[--m->nbufs];
	free(b->key);
	b->key = NULL;
	mem_unref(b);
}

/* Called with lock held. */
static int mem_insert(struct mem_be *m, const char *key, struct mem_buf **out)
{
	struct mem_buf *b;

	if (m->nbufs == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct mem_buf **bufs = realloc(m->bufs, cap * sizeof(*bufs));

		if (!bufs)
			return -ENOMEM;
		m->bufs = bufs;
		m->cap = cap;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->key = strdup(key);
	if (!b->key) {
		free(b);
		return -ENOMEM;
	}
	b->refs = 1;
	b->mtime = strata_now();
	m->bufs[m->nbufs++] = b;
	*out = b;
	return 0;
}

/* Called with lock held: make b hold size bytes, new bytes zeroed. */
static int mem_resize(struct mem_buf *b, uint64_t size)
{
	if (size > SIZE_MAX / 2)
		return -EFBIG;
	if (size > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		unsigned char *data;

		while (cap < size)
			cap *= 2;
		data = realloc(b->data, cap);
		if (!data)
			return -ENOMEM;
		b->data = data;
		b->cap = cap;
	}
	if (size > b->size)
		memset(b->data + b->size, 0, (size_t)size - b->size);
	b->size = (size_t)size;
	return 0;
}

static int mem_open(struct strata_backend *be, const struct strata_uri *uri,
		    char *err, size_t errlen)
{
	int ret = pthread_mutex_init(&mem_be(be)->lock, NULL);

	return -ret;
}

static void mem_close(struct strata_backend *be)
{
	struct mem_be *m = mem_be(be);

	while (m->nbufs)
		mem_drop(m, m->nbufs - 1);
	free(m->bufs);
	pthread_mutex_destroy(&m->lock);
}

static int mem_statfs(struct strata_backend *be,
		      struct strata_backend_statfs *out)
{
	memset(out, 0, sizeof(*out));
	return 0;
}

static int mem_obj_open(struct strata_backend *be, const char *key,
			unsigned int flags, struct strata_obj *obj)
{
	struct mem_be *m = mem_be(be);
	struct mem_buf *b = NULL;
	ssize_t i;
	int ret;

	pthread_mutex_lock(&m->lock);
	i = mem_find(m, key);
	if (i >= 0 && (flags & STRATA_OBJ_CREATE) &&
	    (flags & STRATA_OBJ_EXCL)) {
		ret = -EEXIST;
		goto out;
	}
	if (i < 0 && !(flags & STRATA_OBJ_CREATE)) {
		ret = -ENOENT;
		goto out;
	}
	if (i >= 0) {
		b = m->bufs[i];
	} else {
		ret = mem_insert(m, key, &b);
		if (ret < 0)
			goto out;
	}
	if ((flags & STRATA_OBJ_TRUNC) && b->size) {
		b->size = 0;
		b->mtime = strata_now();
	}
	b->refs++;
	((struct mem_obj *)obj->priv)->buf = b;
	ret = 0;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int mem_obj_read(struct strata_obj *obj, uint64_t off, void *buf,
			size_t len, size_t *nread)
{
	struct mem_be *m = mem_be(obj->be);
	struct mem_buf *b = mem_obj_buf(obj);
	size_t n = 0;

	pthread_mutex_lock(&m->lock);
	if (off < b->size) {
		n = b->size - (size_t)off;
		if (n > len)
			n = len;
		memcpy(buf, b->data + off, n);
	}
	pthread_mutex_unlock(&m->lock);
	*nread = n;
	return 0;
}

static int mem_obj_write(struct strata_obj *obj, uint64_t off, const void *buf,
			 size_t len)
{
	struct mem_be *m = mem_be(obj->be);
	struct mem_buf *b = mem_obj_buf(obj);
	int ret = 0;

	if (!(obj->flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC)))
		return -EBADF;
	if (off > UINT64_MAX - len)
		return -EFBIG;
	if (len == 0)
		return 0;
	pthread_mutex_lock(&m->lock);
	if (off + len > b->size)
		ret = mem_resize(b, off + len);
	if (ret == 0) {
		memcpy(b->data + off, buf, len);
		b->mtime = strata_now();
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int mem_obj_truncate(struct strata_obj *obj, uint64_t size)
{
	struct mem_be *m = mem_be(obj->be);
	struct mem_buf *b = mem_obj_buf(obj);
	int ret;

	if (!(obj->flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC)))
		return -EBADF;
	pthread_mutex_lock(&m->lock);
	ret = mem_resize(b, size);
	if (ret == 0)
		b->mtime = strata_now();
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int mem_obj_sync(struct strata_obj *obj, bool datasync)
{
	return 0;
}

static int mem_obj_close(struct strata_obj *obj)
{
	struct mem_be *m = mem_be(obj->be);

	pthread_mutex_lock(&m->lock);
	mem_unref(mem_obj_buf(obj));
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static int mem_stat(struct strata_backend *be, const char *key,
		    struct strata_obj_stat *out)
{
	struct mem_be *m = mem_be(be);
	int ret = -ENOENT;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	i = mem_find(m, key);
	if (i >= 0) {
		out->size = m->bufs[i]->size;
		out->mtime = m->bufs[i]->mtime;
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int mem_remove(struct strata_backend *be, const char *key)
{
	struct mem_be *m = mem_be(be);
	int ret = -ENOENT;
	ssize_t i;

	pthread_mutex_lock(&m->lock);
	i = mem_find(m, key);
	if (i >= 0) {
		mem_drop(m, (size_t)i);
		ret = 0;
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static int mem_rename(struct strata_backend *be, const char *from,
		      const char *to)
{
	struct mem_be *m = mem_be(be);
	char *key = NULL;
	ssize_t i;
	ssize_t j;
	int ret;

	pthread_mutex_lock(&m->lock);
	i = mem_find(m, from);
	if (i < 0) {
		ret = -ENOENT;
		goto out;
	}
	if (strcmp(from, to) == 0) {
		ret = 0;
		goto out;
	}
	key = strdup(to);
	if (!key) {
		ret = -ENOMEM;
		goto out;
	}
	j = mem_find(m, to);
	if (j >= 0) {
		mem_drop(m, (size_t)j);
		/* The drop moved the last entry into slot j. */
		if ((size_t)i == m->nbufs)
			i = j;
	}
	free(m->bufs[i]->key);
	m->bufs[i]->key = key;
	key = NULL;
	ret = 0;
out:
	pthread_mutex_unlock(&m->lock);
	free(key);
	return ret;
}

struct mem_entry {
	char *key;
	struct strata_obj_stat st;
};

/* Called with lock held: copy the table so callbacks run unlocked. */
static int mem_snapshot(struct mem_be *m, struct mem_entry **out, size_t *n)
{
	struct mem_entry *e = calloc(m->nbufs ? m->nbufs : 1, sizeof(*e));
	size_t i;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < m->nbufs; i++) {
		e[i].key = strdup(m->bufs[i]->key);
		if (!e[i].key)
			break;
		e[i].st.size = m->bufs[i]->size;
		e[i].st.mtime = m->bufs[i]->mtime;
	}
	*out = e;
	*n = i;
	return i == m->nbufs ? 0 : -ENOMEM;
}

static int mem_list(struct strata_backend *be, strata_backend_list_cb cb,
		    void *arg)
{
	struct mem_be *m = mem_be(be);
	struct mem_entry *e = NULL;
	size_t n = 0;
	size_t i;
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = mem_snapshot(m, &e, &n);
	pthread_mutex_unlock(&m->lock);
	for (i = 0; ret == 0 && i < n; i++)
		ret = cb(arg, e[i].key, &e[i].st);
	for (i = 0; e && i < n; i++)
		free(e[i].key);
	free(e);
	return ret;
}

const struct strata_backend_ops strata_mem_ops = {
	.scheme = "mem",
	.driver = "mem",
	.caps = STRATA_BCAP_RANGE_READ | STRATA_BCAP_RANDOM_WRITE |
		STRATA_BCAP_RENAME,
	.priv_size = sizeof(struct mem_be),
	.obj_priv_size = sizeof(struct mem_obj),
	.open = mem_open,
	.close = mem_close,
	.statfs = mem_statfs,
	.obj_open = mem_obj_open,
	.obj_read = mem_obj_read,
	.obj_write = mem_obj_write,
	.obj_truncate = mem_obj_truncate,
	.obj_sync = mem_obj_sync,
	.obj_close = mem_obj_close,
	.stat = mem_stat,
	.remove = mem_remove,
	.rename = mem_rename,
	.list = mem_list,
};
