/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/registry.c - the driver table and the wrappers every caller
 * goes through.
 *
 * Maps a URL scheme to a driver, allocates the backend and object structs
 * with their driver-private areas, checks keys once for every driver, and
 * fills the holes a driver leaves: rename becomes copy, sync and remove when
 * the driver has no rename slot (the copy made in the store when the driver
 * has a copy slot); fallocate and fd report "not supported".
 * Holds no state of its own; thread-safety is the drivers' (backend.h).
 */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "backend_int.h"
#include "log.h"
#include "util.h"

/* Chunk size of emulated rename. */
#define REG_COPY_CHUNK (1u << 20)

static const struct strata_backend_ops *const drivers[] = {
	&strata_local_ops,
	&strata_mem_ops,
#ifdef STRATA_WITH_NFS
	&strata_nfs_ops,
#endif
#ifdef STRATA_WITH_S3
	&strata_s3_ops,
#endif
};

/* Size of a struct followed by a driver area, rounded for any alignment. */
static size_t reg_head_size(size_t size)
{
	size_t a = alignof(max_align_t);

	return (size + a - 1) / a * a;
}

int strata__backend_key_check(const char *key)
{
	size_t len = strlen(key);
	const char *c = key;

	if (len == 0 || key[0] == '/' || key[len - 1] == '/')
		return -EINVAL;
	if (len > STRATA_KEY_MAX)
		return -ENAMETOOLONG;
	while (*c) {
		size_t n = strcspn(c, "/");

		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.'))
			return -EINVAL;
		if (strncmp(c, STRATA__BACKEND_TMP_PREFIX,
			    sizeof(STRATA__BACKEND_TMP_PREFIX) - 1) == 0)
			return -EINVAL;
		if (n > STRATA_NAME_MAX)
			return -ENAMETOOLONG;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)c[i];

			if (ch < 0x20 || ch == 0x7f)
				return -EINVAL;
		}
		c += n;
		if (*c == '/')
			c++;
	}
	return 0;
}

const struct strata_backend_ops *strata_backend_driver(const char *scheme)
{
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(drivers); i++) {
		if (strcmp(drivers[i]->scheme, scheme) == 0)
			return drivers[i];
	}
	return NULL;
}

int strata_backend_open(const struct strata_uri *uri, const char *name,
			struct strata_backend **out, char *err, size_t errlen)
{
	const struct strata_backend_ops *ops;
	struct strata_backend *be = NULL;
	char why[512] = "";
	size_t head;
	int ret;

	ops = strata_backend_driver(uri->scheme);
	if (!ops) {
		snprintf(err, errlen, "tier '%s': no driver for scheme '%s'",
			 name, uri->scheme);
		ret = -EPROTONOSUPPORT;
		goto out;
	}
	head = reg_head_size(sizeof(*be));
	be = calloc(1, head + ops->priv_size);
	if (!be) {
		snprintf(err, errlen, "tier '%s': %s", name, strerror(ENOMEM));
		ret = -ENOMEM;
		goto out;
	}
	be->ops = ops;
	be->priv = ops->priv_size ? (char *)be + head : NULL;
	strata_strlcpy(be->name, name, sizeof(be->name));
	ret = ops->open(be, uri, why, sizeof(why));
	if (ret < 0) {
		snprintf(err, errlen, "tier '%s' (%s): %s", name, ops->driver,
			 why[0] ? why : strerror(-ret));
		free(be);
		be = NULL;
		goto out;
	}
	strata_debug(STRATA_SUB_BACKEND, "tier '%s': opened %s driver", name,
		     ops->driver);
	ret = 0;
out:
	*out = be;
	return ret;
}

void strata_backend_close(struct strata_backend *be)
{
	if (!be)
		return;
	if (be->ops->close)
		be->ops->close(be);
	free(be);
}

int strata_backend_syncfs(struct strata_backend *be)
{
	return be->ops->syncfs ? be->ops->syncfs(be) : 0;
}

int strata_backend_statfs(struct strata_backend *be,
			  struct strata_backend_statfs *out)
{
	if (!be->ops->statfs)
		return -EOPNOTSUPP;
	return be->ops->statfs(be, out);
}

int strata_backend_stat(struct strata_backend *be, const char *key,
			struct strata_obj_stat *out)
{
	int ret = strata__backend_key_check(key);

	if (ret < 0)
		return ret;
	return be->ops->stat(be, key, out);
}

int strata_backend_remove(struct strata_backend *be, const char *key)
{
	int ret = strata__backend_key_check(key);

	if (ret < 0)
		return ret;
	return be->ops->remove(be, key);
}

static int reg_copy(struct strata_obj *src, struct strata_obj *dst)
{
	char *buf = malloc(REG_COPY_CHUNK);
	uint64_t off = 0;
	size_t n;
	int ret;

	if (!buf)
		return -ENOMEM;
	do {
		ret = strata_obj_read(src, off, buf, REG_COPY_CHUNK, &n);
		if (ret < 0)
			goto out;
		if (n) {
			ret = strata_obj_write(dst, off, buf, n);
			if (ret < 0)
				goto out;
		}
		off += n;
	} while (n == REG_COPY_CHUNK);
	ret = strata_obj_sync(dst, false);
out:
	free(buf);
	return ret;
}

/* Copy by reading and writing, for drivers without a copy slot. */
static int reg_copy_rw(struct strata_backend *be, const char *from,
		       const char *to)
{
	struct strata_obj *src = NULL;
	struct strata_obj *dst = NULL;
	int ret;

	ret = strata_obj_open(be, from, STRATA_OBJ_READ, &src);
	if (ret < 0)
		goto out;
	ret = strata_obj_open(
		be, to, STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC,
		&dst);
	if (ret < 0)
		goto out;
	ret = reg_copy(src, dst);
	if (ret == 0)
		ret = strata_obj_close(dst);
	else
		strata_obj_close(dst);
	dst = NULL;
	if (ret < 0)
		be->ops->remove(be, to);
out:
	strata_obj_close(dst);
	strata_obj_close(src);
	return ret;
}

int strata_backend_copy(struct strata_backend *be, const char *from,
			const char *to)
{
	struct strata_obj_stat st;
	int ret;

	ret = strata__backend_key_check(from);
	if (ret < 0)
		return ret;
	ret = strata__backend_key_check(to);
	if (ret < 0)
		return ret;
	/* Copying an object onto itself would truncate it first. */
	if (strcmp(from, to) == 0)
		return be->ops->stat(be, from, &st);
	if (be->ops->copy) {
		ret = be->ops->copy(be, from, to);
		if (ret != -EOPNOTSUPP)
			return ret;
	}
	return reg_copy_rw(be, from, to);
}

/*
 * Rename for drivers without a rename slot. The source is removed only after
 * the copy is complete and synced, so a failure leaves at worst an extra
 * object, never a missing one.
 */
static int reg_rename_copy(struct strata_backend *be, const char *from,
			   const char *to)
{
	int ret;

	ret = be->ops->copy ? be->ops->copy(be, from, to) : -EOPNOTSUPP;
	if (ret == -EOPNOTSUPP)
		ret = reg_copy_rw(be, from, to);
	if (ret < 0)
		return ret;
	return be->ops->remove(be, from);
}

int strata_backend_rename(struct strata_backend *be, const char *from,
			  const char *to)
{
	struct strata_obj_stat st;
	int ret;

	ret = strata__backend_key_check(from);
	if (ret < 0)
		return ret;
	ret = strata__backend_key_check(to);
	if (ret < 0)
		return ret;
	if (be->ops->rename)
		return be->ops->rename(be, from, to);
	/* Copying an object onto itself would truncate it first. */
	if (strcmp(from, to) == 0)
		return be->ops->stat(be, from, &st);
	return reg_rename_copy(be, from, to);
}

int strata_backend_list(struct strata_backend *be, strata_backend_list_cb cb,
			void *arg)
{
	return be->ops->list(be, cb, arg);
}

int strata_backend_sweep(struct strata_backend *be, bool remove,
			 strata_backend_list_cb cb, void *arg)
{
	return be->ops->sweep ? be->ops->sweep(be, remove, cb, arg) : 0;
}

int strata_obj_open(struct strata_backend *be, const char *key,
		    unsigned int flags, struct strata_obj **out)
{
	struct strata_obj *obj = NULL;
	size_t head;
	int ret;

	ret = strata__backend_key_check(key);
	if (ret < 0)
		goto out;
	if ((flags & STRATA_OBJ_ANON) &&
	    (flags & (STRATA_OBJ_CREATE | STRATA_OBJ_WRITE)) !=
		    (STRATA_OBJ_CREATE | STRATA_OBJ_WRITE)) {
		ret = -EINVAL; /* an object without a key is a new one */
		goto out;
	}
	if ((flags & STRATA_OBJ_ANON) && !(be->ops->caps & STRATA_BCAP_ANON)) {
		ret = -EOPNOTSUPP;
		goto out;
	}
	head = reg_head_size(sizeof(*obj));
	obj = calloc(1, head + be->ops->obj_priv_size);
	if (!obj) {
		ret = -ENOMEM;
		goto out;
	}
	obj->be = be;
	obj->flags = flags;
	obj->priv = be->ops->obj_priv_size ? (char *)obj + head : NULL;
	ret = be->ops->obj_open(be, key, flags, obj);
	if (ret < 0) {
		free(obj);
		obj = NULL;
	}
out:
	*out = obj;
	return ret;
}

int strata_obj_read(struct strata_obj *obj, uint64_t off, void *buf, size_t len,
		    size_t *nread)
{
	return obj->be->ops->obj_read(obj, off, buf, len, nread);
}

int strata_obj_write(struct strata_obj *obj, uint64_t off, const void *buf,
		     size_t len)
{
	return obj->be->ops->obj_write(obj, off, buf, len);
}

int strata_obj_truncate(struct strata_obj *obj, uint64_t size)
{
	return obj->be->ops->obj_truncate(obj, size);
}

int strata_obj_sync(struct strata_obj *obj, bool datasync)
{
	if (!obj->be->ops->obj_sync)
		return 0;
	return obj->be->ops->obj_sync(obj, datasync);
}

int strata_obj_fallocate(struct strata_obj *obj, int mode, uint64_t off,
			 uint64_t len)
{
	if (!obj->be->ops->obj_fallocate)
		return -EOPNOTSUPP;
	return obj->be->ops->obj_fallocate(obj, mode, off, len);
}

int strata_obj_read_lend(struct strata_obj *obj, uint64_t off, void *buf,
			 size_t len, size_t *nread, const void **data,
			 void **ref)
{
	*data = buf;
	*ref = NULL;
	if (!obj->be->ops->obj_read_lend)
		return obj->be->ops->obj_read(obj, off, buf, len, nread);
	return obj->be->ops->obj_read_lend(obj, off, buf, len, nread, data,
					   ref);
}

void strata_backend_ref_put(struct strata_backend *be, void *ref)
{
	if (ref)
		be->ops->ref_put(be, ref);
}

int strata_obj_wbuf(struct strata_obj *obj, void **buf, size_t *room)
{
	*buf = NULL;
	*room = 0;
	if (!obj->be->ops->obj_wbuf)
		return 0;
	return obj->be->ops->obj_wbuf(obj, buf, room);
}

int strata_obj_fd(struct strata_obj *obj)
{
	if (!obj->be->ops->obj_fd)
		return -1;
	return obj->be->ops->obj_fd(obj);
}

int strata_obj_link(struct strata_obj *obj)
{
	if (!(obj->flags & STRATA_OBJ_ANON) || !obj->be->ops->obj_link)
		return 0;
	return obj->be->ops->obj_link(obj);
}

int strata_obj_close(struct strata_obj *obj)
{
	int ret;

	if (!obj)
		return 0;
	ret = obj->be->ops->obj_close(obj);
	free(obj);
	return ret;
}

int strata_obj_abort(struct strata_obj *obj)
{
	int ret;

	if (!obj)
		return 0;
	if (obj->be->ops->obj_abort)
		ret = obj->be->ops->obj_abort(obj);
	else
		ret = obj->be->ops->obj_close(obj);
	free(obj);
	return ret;
}
