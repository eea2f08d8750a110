/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/move.c - copies and drops of replicas for the policy engine, and
 * the facts it reads about tiers and files.
 *
 * A copy reads the file's current valid replica, writes the target object
 * (hashing both as it goes), makes it durable, reads it back to verify size
 * and hash, and only then records it, in one transaction that checks the
 * file's content version is still the one copied (DESIGN.md invariant 3).
 * A file written during the copy voids it: the target object is removed
 * and the caller retries. A drop removes a replica's row, refusing the last
 * valid copy, and then its object. Neither ever runs under a writer: a
 * file open for writing answers -EBUSY, and so does a drop of a file open
 * at all, so a read in progress never loses the object under it.
 *
 * Threads: any thread; each call holds the file's vnode (vn->lock) only
 * around its checks and catalog commits, never during I/O.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define MOVE_CHUNK (1u << 20)

/* A fast 64-bit hash of a byte stream, fed in pieces of any size. */
struct move_hash {
	uint64_t h;
};

static void move_hash_feed(struct move_hash *mh, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	for (size_t i = 0; i < len; i++) {
		mh->h ^= p[i];
		mh->h *= 0x100000001b3ull; /* FNV-1a */
	}
}

/* Word-wise for speed; byte-wise only for the unaligned tail, so hashing
 * the same bytes in other piece sizes agrees only when pieces are whole
 * words, which MOVE_CHUNK pieces are. */
static void move_hash(struct move_hash *mh, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t words = len / 8;
	uint64_t w;

	for (size_t i = 0; i < words; i++) {
		memcpy(&w, p + i * 8, 8);
		mh->h = (mh->h ^ w) * 0x9e3779b97f4a7c15ull;
		mh->h ^= mh->h >> 29;
	}
	move_hash_feed(mh, p + words * 8, len - words * 8);
}

struct strata_catalog *strata_vfs_catalog(struct strata_vfs *vfs)
{
	return vfs->cat;
}

int strata_vfs_tier_info(struct strata_vfs *vfs, unsigned int i,
			 struct strata_vfs_tier_info *out)
{
	struct strata_backend_statfs bs;
	struct vfs_tier *t;
	uint64_t files;
	int ret;

	if (i >= vfs->ntiers)
		return -ENOENT;
	t = &vfs->tiers[i];
	memset(out, 0, sizeof(*out));
	out->id = t->id;
	out->name = t->name;
	out->site = t->site;
	out->caps = strata_backend_caps(t->be);
	ret = strata_catalog_tier_usage(vfs->cat, t->id, &out->used, &files);
	if (ret < 0)
		return ret;
	out->files = files;
	ret = strata_backend_statfs(t->be, &bs);
	if (ret < 0)
		return ret;
	/* A configured capacity is the budget; else the store's size, with
	 * what others use of it counted as used. */
	if (t->capacity) {
		out->capacity = t->capacity;
		out->free = t->capacity > out->used ? t->capacity - out->used :
						      0;
		if (out->free > bs.avail)
			out->free = bs.avail;
	} else {
		out->capacity = bs.total;
		out->free = bs.avail;
		if (bs.total - bs.avail > out->used)
			out->used = bs.total - bs.avail;
	}
	return 0;
}

unsigned int strata_vfs_tier_count(struct strata_vfs *vfs)
{
	return vfs->ntiers;
}

int strata_vfs_path(struct strata_vfs *vfs, strata_vfs_ino_t ino, char *buf,
		    size_t size)
{
	char name[STRATA_NAME_MAX + 1];
	strata_ino_t parent;
	size_t len = 0;
	int depth = 0;
	int ret;

	/* Built from the end of buf backwards, then moved to its start. */
	if (size < 2)
		return -ERANGE;
	buf[size - 1] = '\0';
	while (ino != STRATA_ROOT_INO) {
		size_t l;

		if (++depth > 4096)
			return -ELOOP;
		ret = strata_catalog_dentry_of(vfs->cat, ino, &parent, name,
					       sizeof(name));
		if (ret < 0)
			return ret;
		l = strlen(name);
		if (len + l + 1 >= size - 1)
			return -ENAMETOOLONG;
		len += l + 1;
		memcpy(buf + size - 1 - len + 1, name, l);
		buf[size - 1 - len] = '/';
		ino = parent;
	}
	if (len == 0) {
		strcpy(buf, "/");
		return 0;
	}
	memmove(buf, buf + size - 1 - len, len + 1);
	return 0;
}

/* What a copy starts from: the file's version, size, and the replica it
 * reads, preferring one at this mount's site. */
struct move_src {
	struct strata_vfs *vfs;
	uint32_t skip; /* the target tier */
	uint64_t version;
	struct vfs_tier *tier;
	char key[STRATA_KEY_MAX];
	bool have_dst; /* the target already holds this version */
	int rank;
};

static int move_pick(void *arg, const struct strata_replica *r)
{
	struct move_src *ms = arg;
	struct vfs_tier *t = strata__vfs_tier_by_id(ms->vfs, r->tier_id);
	int rank;

	if (!t || r->state != STRATA_REPLICA_VALID || r->version != ms->version)
		return 0;
	if (r->tier_id == ms->skip) {
		ms->have_dst = true;
		return 0;
	}
	rank = strcmp(t->site, ms->vfs->site) == 0 ? 2 : 1;
	if (rank > ms->rank) {
		ms->rank = rank;
		ms->tier = t;
		strata_strlcpy(ms->key, r->key, sizeof(ms->key));
	}
	return 0;
}

/* Is anyone writing the file, or has written what the catalog lacks?
 * (vn->lock held) */
static bool move_busy(struct vnode *vn)
{
	return vn->nwriters > 0 || (vn->loaded && (vn->dirty || vn->written));
}

/* Read obj to its end in MOVE_CHUNK pieces, hashing; write each piece to
 * dst when given. *n gets the bytes read. */
static int move_stream(struct strata_obj *obj, struct strata_obj *dst,
		       void *buf, struct move_hash *mh, uint64_t *n)
{
	uint64_t off = 0;
	size_t got;
	int ret;

	for (;;) {
		ret = strata_obj_read(obj, off, buf, MOVE_CHUNK, &got);
		if (ret < 0)
			return ret;
		if (got == 0)
			break;
		move_hash(mh, buf, got);
		if (dst) {
			ret = strata_obj_write(dst, off, buf, got);
			if (ret < 0)
				return ret;
		}
		off += got;
		if (got < MOVE_CHUNK)
			break;
	}
	*n = off;
	return 0;
}

/* Copy src to a fresh object key on dst, durable and verified. */
static int move_copy_object(struct vfs_tier *src, const char *skey,
			    struct vfs_tier *dst, const char *dkey,
			    uint64_t size, uint64_t *copied)
{
	struct move_hash h1 = { 0xcbf29ce484222325ull };
	struct move_hash h2 = { 0xcbf29ce484222325ull };
	struct strata_obj *in = NULL, *out = NULL;
	uint64_t n = 0, n2 = 0;
	void *buf = NULL;
	int ret;

	buf = malloc(MOVE_CHUNK);
	if (!buf)
		return -ENOMEM;
	ret = strata_obj_open(src->be, skey, STRATA_OBJ_READ, &in);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot open object '%s' on tier '%s': %s", skey,
			   src->name, strerror(-ret));
		goto out;
	}
	ret = strata_obj_open(dst->be, dkey,
			      STRATA_OBJ_READ | STRATA_OBJ_WRITE |
				      STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC,
			      &out);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot create object '%s' on tier '%s': %s", dkey,
			   dst->name, strerror(-ret));
		goto out;
	}
	ret = move_stream(in, out, buf, &h1, &n);
	if (ret == 0)
		ret = strata_obj_sync(out, false);
	if (ret == 0)
		ret = strata_obj_close(out);
	else
		strata_obj_close(out);
	out = NULL;
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "copying '%s' from tier '%s' to '%s' failed: %s",
			   skey, src->name, dst->name, strerror(-ret));
		goto out;
	}
	if (n != size) {
		/* The catalog and the source object disagree: not ours to
		 * copy until fsck has looked. */
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "object '%s' on tier '%s' has %" PRIu64
			   " bytes, the file %" PRIu64,
			   skey, src->name, n, size);
		ret = -EIO;
		goto out;
	}
	ret = strata_obj_open(dst->be, dkey, STRATA_OBJ_READ, &out);
	if (ret == 0)
		ret = move_stream(out, NULL, buf, &h2, &n2);
	if (ret == 0 && (n2 != n || h2.h != h1.h)) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "copy of '%s' to tier '%s' does not verify: %" PRIu64
			   " of %" PRIu64 " bytes, hash %016" PRIx64
			   " for %016" PRIx64,
			   skey, dst->name, n2, n, h2.h, h1.h);
		ret = -EIO;
	}
	*copied = n;
out:
	strata_obj_close(in);
	strata_obj_close(out);
	free(buf);
	return ret;
}

int strata_vfs_copy(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    uint32_t dst_tier, uint64_t *copied)
{
	struct move_src ms = { .vfs = vfs, .skip = dst_tier };
	struct vfs_tier *dst = strata__vfs_tier_by_id(vfs, dst_tier);
	struct strata_replica r;
	struct strata_attr a;
	char key[STRATA_KEY_MAX];
	struct vnode *vn;
	int ret;

	*copied = 0;
	if (!dst)
		return -ENOENT;
	ret = strata__vfs_vnode_grab(vfs, ino, &vn);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&vn->lock);
	ret = move_busy(vn) ? -EBUSY : 0;
	if (ret == 0)
		ret = strata_catalog_getattr(vfs->cat, ino, &a);
	if (ret == 0 && !S_ISREG(a.mode))
		ret = -EISDIR;
	if (ret == 0) {
		ms.version = a.version;
		ret = strata_catalog_replica_list(vfs->cat, ino, move_pick,
						  &ms);
	}
	pthread_mutex_unlock(&vn->lock);
	if (ret < 0 || ms.have_dst)
		goto out;
	if (!ms.tier) {
		/* Nothing to copy: an empty file has no object anywhere. */
		ret = a.size == 0 ? 0 : -EIO;
		goto out;
	}
	strata__vfs_key(ino, key, sizeof(key));
	ret = move_copy_object(ms.tier, ms.key, dst, key, a.size, copied);
	if (ret < 0)
		goto void_copy;
	memset(&r, 0, sizeof(r));
	r.ino = ino;
	r.tier_id = dst->id;
	strata_strlcpy(r.key, key, sizeof(r.key));
	r.version = a.version;
	r.size = a.size;
	pthread_mutex_lock(&vn->lock);
	ret = move_busy(vn) ? -EBUSY :
			      strata_catalog_replica_commit(vfs->cat, &r);
	pthread_mutex_unlock(&vn->lock);
	if (ret == 0)
		goto out;
void_copy:
	/* A write won, or the copy failed: the object is nobody's. */
	if (strata_backend_remove(dst->be, key) < 0)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "cannot remove void copy '%s' on tier '%s'; "
			   "strata fsck reclaims it",
			   key, dst->name);
out:
	strata__vfs_vnode_unhold(vfs, vn);
	return ret;
}

struct move_find {
	uint32_t tier;
	bool found;
	char key[STRATA_KEY_MAX];
};

static int move_find(void *arg, const struct strata_replica *r)
{
	struct move_find *mf = arg;

	if (r->tier_id != mf->tier)
		return 0;
	mf->found = true;
	strata_strlcpy(mf->key, r->key, sizeof(mf->key));
	return 1;
}

int strata_vfs_drop(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    uint32_t tier_id)
{
	struct vfs_tier *t = strata__vfs_tier_by_id(vfs, tier_id);
	struct move_find mf = { .tier = tier_id };
	struct strata_replica other;
	struct vnode *vn;
	int ret;

	if (!t)
		return -ENOENT;
	ret = strata__vfs_vnode_grab(vfs, ino, &vn);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&vn->lock);
	/* An open file may be reading this very object. */
	if (strata__vfs_vnode_nopen(vn) > 0 || move_busy(vn)) {
		ret = -EBUSY;
		goto unlock;
	}
	ret = strata_catalog_replica_list(vfs->cat, ino, move_find, &mf);
	if (ret == 0 && !mf.found)
		ret = -ENOENT;
	if (ret == 0)
		ret = strata_catalog_replica_drop(vfs->cat, ino, tier_id,
						  &other);
	if (ret == 0)
		vn->loaded = false; /* the next open finds the content anew */
unlock:
	pthread_mutex_unlock(&vn->lock);
	strata__vfs_vnode_unhold(vfs, vn);
	if (ret < 0)
		return ret;
	/*
	 * The drop (and the copy's commit before it) must survive a crash
	 * before the object goes: a group commit still in memory would come
	 * back, after a crash, as a replica whose object is gone. Until the
	 * sync succeeds the object stays, at worst an orphan for fsck.
	 */
	ret = strata_catalog_sync(vfs->cat, true);
	if (ret < 0) {
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "cannot make the drop of '%s' on tier '%s' durable: "
			   "%s; the object stays for strata fsck",
			   mf.key, t->name, strerror(-ret));
		return 0;
	}
	ret = strata_backend_remove(t->be, mf.key);
	if (ret < 0 && ret != -ENOENT) {
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "cannot remove '%s' on tier '%s': %s; strata fsck "
			   "reclaims it",
			   mf.key, t->name, strerror(-ret));
	}
	return 0;
}

struct move_names {
	struct strata_vfs *vfs;
	uint64_t version;
	char buf[STRATA_CFG_MAX_TIERS * (STRATA_CFG_NAME_MAX + 1) + 1];
	size_t len;
};

static int move_name(void *arg, const struct strata_replica *r)
{
	struct move_names *mn = arg;
	struct vfs_tier *t = strata__vfs_tier_by_id(mn->vfs, r->tier_id);

	if (!t || r->state != STRATA_REPLICA_VALID || r->version != mn->version)
		return 0;
	mn->len += (size_t)snprintf(mn->buf + mn->len,
				    sizeof(mn->buf) - mn->len, "%s%s",
				    mn->len ? "," : "", t->name);
	return 0;
}

/* The value of one placement xattr into v (NUL-terminated, not counted). */
static int move_xattr_value(struct strata_vfs *vfs, strata_ino_t ino,
			    const char *what, struct move_names *mn)
{
	struct strata_attr a;
	struct vnode *vn;
	uint32_t pin;
	bool dirty = false;
	int ret;

	ret = strata_catalog_getattr(vfs->cat, ino, &a);
	if (ret < 0)
		return ret;
	if (!S_ISREG(a.mode))
		return -ENODATA;
	mn->vfs = vfs;
	mn->version = a.version;
	if (strcmp(what, "tiers") == 0)
		return strata_catalog_replica_list(vfs->cat, ino, move_name,
						   mn);
	if (strcmp(what, "pin") == 0) {
		ret = strata_catalog_pin_get(vfs->cat, ino, &pin);
		if (ret == -ENOENT)
			return -ENODATA;
		if (ret == 0 && strata__vfs_tier_by_id(vfs, pin))
			mn->len = (size_t)snprintf(
				mn->buf, sizeof(mn->buf), "%s",
				strata__vfs_tier_by_id(vfs, pin)->name);
		return ret;
	}
	if (strcmp(what, "state") != 0)
		return -ENODATA;
	vn = strata__vfs_vnode_hold(vfs, ino);
	if (vn) {
		pthread_mutex_lock(&vn->lock);
		dirty = vn->loaded && (vn->dirty || vn->written);
		pthread_mutex_unlock(&vn->lock);
		strata__vfs_vnode_unhold(vfs, vn);
	}
	mn->len = (size_t)snprintf(mn->buf, sizeof(mn->buf), "%s",
				   dirty       ? "dirty" :
				   a.size == 0 ? "empty" :
						 "clean");
	return 0;
}

int strata__vfs_virtual_xattr(struct strata_vfs *vfs, strata_ino_t ino,
			      const char *name, void *buf, size_t size,
			      size_t *len)
{
	struct move_names mn = { 0 };
	int ret;

	ret = move_xattr_value(vfs, ino, name + strlen(VFS_XATTR_VIRTUAL), &mn);
	if (ret < 0)
		return ret;
	*len = mn.len;
	if (size == 0)
		return 0;
	if (size < mn.len)
		return -ERANGE;
	memcpy(buf, mn.buf, mn.len);
	return 0;
}
