/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/catalog/catalog.c - the public catalog calls: pick an engine at open
 * and dispatch every call through cat->ops.
 *
 * Checks that hold for every engine live here (name lengths, xattr sizes,
 * flag combinations), so an engine only sees well-formed arguments; the
 * semantics themselves are the engine's. No state of its own beyond the
 * handle: thread-safety is the engine's, as catalog.h documents.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "util.h"

/* Linux limits for extended attributes (XATTR_NAME_MAX, XATTR_SIZE_MAX). */
#define CAT_XATTR_NAME_MAX 255
#define CAT_XATTR_SIZE_MAX 65536

static const struct strata_catalog_ops *const engines[] = {
	&strata_catalog_sqlite_ops,
};

static int cat_check_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -ENOENT;
	if (len > STRATA_NAME_MAX)
		return -ENAMETOOLONG;
	if (strchr(name, '/'))
		return -EINVAL;
	return 0;
}

static int cat_check_xattr_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return -EINVAL;
	if (len > CAT_XATTR_NAME_MAX)
		return -ERANGE;
	return 0;
}

int strata_catalog_open(const char *engine, const char *path,
			struct strata_catalog **out, char *err, size_t errlen)
{
	const struct strata_catalog_ops *ops = NULL;
	struct strata_catalog *cat = NULL;
	size_t i;
	int ret;

	*out = NULL;
	if (!engine)
		engine = engines[0]->engine;
	for (i = 0; i < STRATA_ARRAY_SIZE(engines); i++) {
		if (strcmp(engines[i]->engine, engine) == 0)
			ops = engines[i];
	}
	if (!ops) {
		snprintf(err, errlen, "unknown catalog engine '%s'", engine);
		ret = -EINVAL;
		goto out;
	}
	cat = calloc(1, sizeof(*cat));
	if (!cat) {
		snprintf(err, errlen, "cannot open catalog '%s': %s", path,
			 strerror(ENOMEM));
		ret = -ENOMEM;
		goto out;
	}
	cat->ops = ops;
	ret = strata_strlcpy(cat->path, path, sizeof(cat->path));
	if (ret < 0) {
		snprintf(err, errlen, "catalog path '%.64s...' is too long",
			 path);
		goto out;
	}
	ret = ops->open(cat, cat->path, err, errlen);
	if (ret < 0)
		goto out;
	*out = cat;
	cat = NULL;
out:
	free(cat);
	return ret;
}

void strata_catalog_close(struct strata_catalog *cat)
{
	if (!cat)
		return;
	cat->ops->close(cat);
	free(cat);
}

int strata_catalog_lookup(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, struct strata_attr *out)
{
	int ret = cat_check_name(name);

	if (ret < 0)
		return ret;
	return cat->ops->lookup(cat, parent, name, out);
}

int strata_catalog_getattr(struct strata_catalog *cat, strata_ino_t ino,
			   struct strata_attr *out)
{
	return cat->ops->getattr(cat, ino, out);
}

int strata_catalog_setattr(struct strata_catalog *cat, strata_ino_t ino,
			   const struct strata_attr *in, unsigned int valid,
			   struct strata_attr *out)
{
	return cat->ops->setattr(cat, ino, in, valid, out);
}

int strata_catalog_mknode(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, const struct strata_attr *tmpl,
			  const char *symlink, struct strata_attr *out)
{
	int ret = cat_check_name(name);

	if (ret < 0)
		return ret;
	return cat->ops->mknode(cat, parent, name, tmpl, symlink, out);
}

int strata_catalog_link(struct strata_catalog *cat, strata_ino_t ino,
			strata_ino_t newparent, const char *newname,
			const struct timespec *now, struct strata_attr *out)
{
	int ret = cat_check_name(newname);

	if (ret < 0)
		return ret;
	return cat->ops->link(cat, ino, newparent, newname, now, out);
}

int strata_catalog_unlink(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, const struct timespec *now,
			  struct strata_attr *victim)
{
	int ret = cat_check_name(name);

	if (ret < 0)
		return ret;
	return cat->ops->unlink(cat, parent, name, now, victim);
}

int strata_catalog_rmdir(struct strata_catalog *cat, strata_ino_t parent,
			 const char *name, const struct timespec *now,
			 struct strata_attr *victim)
{
	int ret = cat_check_name(name);

	if (ret < 0)
		return ret;
	return cat->ops->rmdir(cat, parent, name, now, victim);
}

int strata_catalog_rename(struct strata_catalog *cat, strata_ino_t parent,
			  const char *name, strata_ino_t newparent,
			  const char *newname, unsigned int flags,
			  const struct timespec *now,
			  struct strata_attr *victim, bool *replaced)
{
	int ret;

	if (replaced)
		*replaced = false;
	ret = cat_check_name(name);
	if (ret == 0)
		ret = cat_check_name(newname);
	if (ret < 0)
		return ret;
	return cat->ops->rename(cat, parent, name, newparent, newname, flags,
				now, victim, replaced);
}

int strata_catalog_readdir(struct strata_catalog *cat, strata_ino_t dir,
			   uint64_t off, strata_catalog_dirent_cb cb, void *arg)
{
	return cat->ops->readdir(cat, dir, off, cb, arg);
}

int strata_catalog_readlink(struct strata_catalog *cat, strata_ino_t ino,
			    char *buf, size_t size, size_t *len)
{
	return cat->ops->readlink(cat, ino, buf, size, len);
}

int strata_catalog_purge(struct strata_catalog *cat, strata_ino_t ino)
{
	return cat->ops->purge(cat, ino);
}

int strata_catalog_orphans(struct strata_catalog *cat, strata_ino_t *out,
			   size_t max, size_t *n)
{
	return cat->ops->orphans(cat, out, max, n);
}

int strata_catalog_getxattr(struct strata_catalog *cat, strata_ino_t ino,
			    const char *name, void *buf, size_t size,
			    size_t *len)
{
	int ret = cat_check_xattr_name(name);

	if (ret < 0)
		return ret;
	return cat->ops->getxattr(cat, ino, name, buf, size, len);
}

int strata_catalog_setxattr(struct strata_catalog *cat, strata_ino_t ino,
			    const char *name, const void *value, size_t len,
			    unsigned int flags, const struct timespec *now)
{
	const unsigned int both = STRATA_XATTR_CREATE | STRATA_XATTR_REPLACE;
	int ret = cat_check_xattr_name(name);

	if (ret < 0)
		return ret;
	if (len > CAT_XATTR_SIZE_MAX)
		return -E2BIG;
	if ((flags & ~both) || flags == both)
		return -EINVAL;
	return cat->ops->setxattr(cat, ino, name, value, len, flags, now);
}

int strata_catalog_listxattr(struct strata_catalog *cat, strata_ino_t ino,
			     char *buf, size_t size, size_t *len)
{
	return cat->ops->listxattr(cat, ino, buf, size, len);
}

int strata_catalog_removexattr(struct strata_catalog *cat, strata_ino_t ino,
			       const char *name, const struct timespec *now)
{
	int ret = cat_check_xattr_name(name);

	if (ret < 0)
		return ret;
	return cat->ops->removexattr(cat, ino, name, now);
}

int strata_catalog_tier_ensure(struct strata_catalog *cat,
			       const struct strata_tier_row *in,
			       struct strata_tier_row *out)
{
	return cat->ops->tier_ensure(cat, in, out);
}

int strata_catalog_tier_list(struct strata_catalog *cat,
			     struct strata_tier_row *out, size_t max, size_t *n)
{
	return cat->ops->tier_list(cat, out, max, n);
}

int strata_catalog_replica_list(struct strata_catalog *cat, strata_ino_t ino,
				strata_catalog_replica_cb cb, void *arg)
{
	return cat->ops->replica_list(cat, ino, cb, arg);
}

int strata_catalog_replica_put(struct strata_catalog *cat,
			       const struct strata_replica *r)
{
	return cat->ops->replica_put(cat, r);
}

int strata_catalog_replica_del(struct strata_catalog *cat, strata_ino_t ino,
			       uint32_t tier_id)
{
	return cat->ops->replica_del(cat, ino, tier_id);
}

int strata_catalog_commit_write(struct strata_catalog *cat, strata_ino_t ino,
				uint32_t tier_id, const char *key,
				uint64_t size, const struct timespec *mtime,
				bool bump, bool durable,
				struct strata_attr *out)
{
	return cat->ops->commit_write(cat, ino, tier_id, key, size, mtime, bump,
				      durable, out);
}

int strata_catalog_stats(struct strata_catalog *cat,
			 struct strata_catalog_stats *out)
{
	return cat->ops->stats(cat, out);
}

int strata_catalog_checkpoint(struct strata_catalog *cat)
{
	return cat->ops->checkpoint(cat);
}

int strata_catalog_sync(struct strata_catalog *cat, bool durable)
{
	return cat->ops->sync(cat, durable);
}

int strata_catalog_replica_find(struct strata_catalog *cat, uint32_t tier_id,
				const char *key, struct strata_replica *out)
{
	return cat->ops->replica_find(cat, tier_id, key, out);
}

int strata_catalog_replica_scan(struct strata_catalog *cat, uint32_t tier_id,
				strata_ino_t after, struct strata_replica *out,
				size_t max, size_t *n)
{
	return cat->ops->replica_scan(cat, tier_id, after, out, max, n);
}

int strata_catalog_dentry_of(struct strata_catalog *cat, strata_ino_t ino,
			     strata_ino_t *parent, char *name, size_t size)
{
	return cat->ops->dentry_of(cat, ino, parent, name, size);
}

int strata_catalog_scan(struct strata_catalog *cat,
			const struct strata_catalog_query *q,
			strata_ino_t after, struct strata_scan_row *out,
			size_t max, size_t *n, strata_ino_t *next)
{
	return cat->ops->scan(cat, q, after, out, max, n, next);
}

int strata_catalog_tier_usage(struct strata_catalog *cat, uint32_t tier_id,
			      uint64_t *bytes, uint64_t *files)
{
	return cat->ops->tier_usage(cat, tier_id, bytes, files);
}

int strata_catalog_replica_commit(struct strata_catalog *cat,
				  const struct strata_replica *r)
{
	return cat->ops->replica_commit(cat, r);
}

int strata_catalog_replica_drop(struct strata_catalog *cat, strata_ino_t ino,
				uint32_t tier_id, struct strata_replica *other)
{
	return cat->ops->replica_drop(cat, ino, tier_id, other);
}

int strata_catalog_pin_set(struct strata_catalog *cat, strata_ino_t ino,
			   uint32_t tier_id)
{
	return cat->ops->pin_set(cat, ino, tier_id);
}

int strata_catalog_pin_del(struct strata_catalog *cat, strata_ino_t ino)
{
	return cat->ops->pin_del(cat, ino);
}

int strata_catalog_pin_get(struct strata_catalog *cat, strata_ino_t ino,
			   uint32_t *tier_id)
{
	return cat->ops->pin_get(cat, ino, tier_id);
}

int strata_catalog_job_add(struct strata_catalog *cat,
			   const struct strata_job *in, int64_t *id)
{
	return cat->ops->job_add(cat, in, id);
}

int strata_catalog_job_list(struct strata_catalog *cat, int state,
			    int64_t after, struct strata_job *out, size_t max,
			    size_t *n)
{
	return cat->ops->job_list(cat, state, after, out, max, n);
}

int strata_catalog_job_get(struct strata_catalog *cat, int64_t id,
			   struct strata_job *out)
{
	return cat->ops->job_get(cat, id, out);
}

int strata_catalog_job_update(struct strata_catalog *cat,
			      const struct strata_job *j)
{
	return cat->ops->job_update(cat, j);
}

int strata_catalog_job_del(struct strata_catalog *cat, int64_t id)
{
	return cat->ops->job_del(cat, id);
}

int strata_catalog_job_requeue(struct strata_catalog *cat, int64_t *n)
{
	return cat->ops->job_requeue(cat, n);
}

int strata_catalog_job_count(struct strata_catalog *cat, int state, uint64_t *n,
			     uint64_t *bytes)
{
	return cat->ops->job_count(cat, state, n, bytes);
}

int strata_catalog_heat_add(struct strata_catalog *cat, strata_ino_t ino,
			    int64_t hour, uint32_t reads)
{
	return cat->ops->heat_add(cat, ino, hour, reads);
}

int strata_catalog_heat_sum(struct strata_catalog *cat, strata_ino_t ino,
			    int64_t since_hour, uint64_t *reads)
{
	return cat->ops->heat_sum(cat, ino, since_hour, reads);
}

int strata_catalog_heat_prune(struct strata_catalog *cat, int64_t before_hour)
{
	return cat->ops->heat_prune(cat, before_hour);
}

int strata_catalog_job_due(struct strata_catalog *cat, int64_t now,
			   struct strata_job *out, size_t max, size_t *n)
{
	return cat->ops->job_due(cat, now, out, max, n);
}
