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
#include <time.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define MOVE_CHUNK (1u << 20)

/*
 * A fast 64-bit hash of a byte stream, to tell a copy from its source:
 * four independent lanes over 32-byte blocks (so the CPU runs them side
 * by side), folded into h after every piece, bytes of a piece's tail one
 * by one. Two streams read in the same piece sizes hash alike exactly
 * when their bytes are alike (but for collisions), which holds here:
 * both sides are read in MOVE_CHUNK pieces from offset 0.
 */
struct move_hash {
	uint64_t h;
};

static inline uint64_t move_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 29);
}

static void move_hash(struct move_hash *mh, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t l[4] = { mh->h, mh->h ^ 1, mh->h ^ 2, mh->h ^ 3 };
	size_t blocks = len / 32;
	uint64_t w;

	for (size_t i = 0; i < blocks; i++) {
		for (int k = 0; k < 4; k++) {
			memcpy(&w, p + i * 32 + k * 8, 8);
			l[k] = move_mix(l[k], w);
		}
	}
	mh->h = move_mix(move_mix(l[0], l[1]), move_mix(l[2], l[3]));
	for (size_t i = blocks * 32; i < len; i++)
		mh->h = (mh->h ^ p[i]) * 0x100000001b3ull; /* FNV-1a */
}

struct strata_catalog *strata_vfs_catalog(struct strata_vfs *vfs)
{
	return vfs->cat;
}

int strata_vfs_tier_ident(struct strata_vfs *vfs, unsigned int i,
			  struct strata_vfs_tier_info *out)
{
	struct vfs_tier *t;

	if (i >= vfs->ntiers)
		return -ENOENT;
	t = &vfs->tiers[i];
	memset(out, 0, sizeof(*out));
	out->id = t->id;
	out->name = t->name;
	out->site = t->site;
	out->caps = strata_backend_caps(t->be);
	out->capacity = t->capacity;
	return 0;
}

int strata_vfs_tier_info(struct strata_vfs *vfs, unsigned int i,
			 struct strata_vfs_tier_info *out)
{
	struct strata_backend_statfs bs;
	struct vfs_tier *t;
	uint64_t files;
	int ret;

	ret = strata_vfs_tier_ident(vfs, i, out);
	if (ret < 0)
		return ret;
	t = &vfs->tiers[i];
	ret = strata_catalog_tier_usage(vfs->cat, t->id, &out->used, &files);
	if (ret < 0)
		return ret;
	out->files = files;
	ret = strata_backend_statfs(t->be, &bs);
	if (ret == -EOPNOTSUPP || ret == -ENOSYS) {
		/* A store without a size (an S3 bucket): the configured
		 * capacity is all there is to go by, and without one there
		 * is no limit. */
		out->capacity = t->capacity;
		out->free = !t->capacity	    ? UINT64_MAX :
			    t->capacity > out->used ? t->capacity - out->used :
						      0;
		return 0;
	}
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
	struct vfs_tier *t;
	int rank = strata__vfs_replica_rank(ms->vfs, r, ms->version, &t);

	if (rank && r->tier_id == ms->skip) {
		ms->have_dst = true;
		return 0;
	}
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

/*
 * Take the file for one copy or drop: -EBUSY while another runs, so two
 * movers never share the file's object key on a tier, and a drop's object
 * removal never races a copy that reuses the key. Held until move_end.
 */
static int move_begin(struct strata_vfs *vfs, strata_ino_t ino,
		      struct vnode **out)
{
	struct vnode *vn;
	int ret;

	ret = strata__vfs_vnode_grab(vfs, ino, &vn);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&vn->lock);
	ret = vn->moving ? -EBUSY : 0;
	vn->moving = true;
	pthread_mutex_unlock(&vn->lock);
	if (ret < 0) {
		strata__vfs_vnode_unhold(vfs, vn);
		return ret;
	}
	*out = vn;
	return 0;
}

static void move_end(struct strata_vfs *vfs, struct vnode *vn)
{
	pthread_mutex_lock(&vn->lock);
	vn->moving = false;
	pthread_mutex_unlock(&vn->lock);
	strata__vfs_vnode_unhold(vfs, vn);
}

void strata_vfs_cancel_moves(struct strata_vfs *vfs)
{
	__atomic_store_n(&vfs->cancel_moves, true, __ATOMIC_RELAXED);
}

/*
 * The bandwidth schedule: a chunk of len bytes at rate bytes/s takes the
 * next len / rate seconds after *next (or after now, when the schedule
 * fell behind: idle time is not saved up). Returns when the chunk may
 * start and moves *next to when the following one may.
 */
STRATA_STATIC struct timespec strata__vfs_pace_slot(uint64_t rate, size_t len,
						    struct timespec now,
						    struct timespec *next)
{
	struct timespec start = *next;
	int64_t ns = (int64_t)((double)len * 1e9 / (double)rate);

	if (start.tv_sec < now.tv_sec ||
	    (start.tv_sec == now.tv_sec && start.tv_nsec < now.tv_nsec))
		start = now;
	next->tv_sec = start.tv_sec + (time_t)(ns / 1000000000);
	next->tv_nsec = start.tv_nsec + (long)(ns % 1000000000);
	if (next->tv_nsec >= 1000000000) {
		next->tv_sec++;
		next->tv_nsec -= 1000000000;
	}
	return start;
}

/* Keep every copy together under the configured bandwidth: wait for the
 * chunk's slot in the shared schedule. */
static void move_pace(struct strata_vfs *vfs, size_t len)
{
	struct timespec now, start;

	if (!vfs->bw_rate)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&vfs->bw_lock);
	start = strata__vfs_pace_slot(vfs->bw_rate, len, now, &vfs->bw_next);
	pthread_mutex_unlock(&vfs->bw_lock);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &start, NULL) ==
	       EINTR)
		;
}

/* Read obj to its end in MOVE_CHUNK pieces, hashing; write each piece to
 * dst when given (at the configured bandwidth). *n gets the bytes read. */
static int move_stream(struct strata_vfs *vfs, struct strata_obj *obj,
		       struct strata_obj *dst, void *buf, struct move_hash *mh,
		       uint64_t *n)
{
	uint64_t off = 0;
	size_t got;
	int ret;

	for (;;) {
		if (__atomic_load_n(&vfs->cancel_moves, __ATOMIC_RELAXED))
			return -ECANCELED;
		ret = strata_obj_read(obj, off, buf, MOVE_CHUNK, &got);
		if (ret < 0)
			return ret;
		if (got == 0)
			break;
		move_hash(mh, buf, got);
		if (dst) {
			move_pace(vfs, got);
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

/* One copy between its two halves: the bytes written, their hash. */
struct strata_vfs_copy {
	struct vnode *vn; /* held, moving */
	struct vfs_tier *dst;
	char key[STRATA_KEY_MAX]; /* the target object */
	uint64_t version;
	uint64_t size;
	struct move_hash hash;
};

/* Copy src to dkey on dst, hashing, made durable when sync. */
static int move_copy_object(struct strata_vfs *vfs, struct vfs_tier *src,
			    const char *skey, struct strata_vfs_copy *cp,
			    bool sync, uint64_t *copied)
{
	struct strata_obj *in = NULL, *out = NULL;
	void *buf = NULL;
	uint64_t n = 0;
	int ret;

	cp->hash.h = 0xcbf29ce484222325ull;
	buf = malloc(MOVE_CHUNK);
	if (!buf)
		return -ENOMEM;
	ret = strata_obj_open(src->be, skey, STRATA_OBJ_READ, &in);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot open object '%s' on tier '%s', a valid "
			   "replica: %s",
			   skey, src->name, strerror(-ret));
		/* The catalog names it: a missing object is damage, not a
		 * file that went away (strata fsck reports it). */
		if (ret == -ENOENT)
			ret = -ENODATA;
		goto out;
	}
	/* Write only: an immutable store (S3) takes the bytes as a stream
	 * and reads them back through a second, read-only open. */
	ret = strata_obj_open(
		cp->dst->be, cp->key,
		STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC, &out);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot create object '%s' on tier '%s': %s",
			   cp->key, cp->dst->name, strerror(-ret));
		goto out;
	}
	ret = move_stream(vfs, in, out, buf, &cp->hash, &n);
	if (ret == 0 && sync)
		ret = strata_obj_sync(out, false);
	if (ret == 0)
		ret = strata_obj_close(out);
	else
		strata_obj_close(out);
	out = NULL;
	if (ret < 0) {
		strata_log(ret == -ECANCELED ? STRATA_LOG_INFO : STRATA_LOG_ERR,
			   STRATA_SUB_VFS,
			   "copying '%s' from tier '%s' to '%s' failed: %s",
			   skey, src->name, cp->dst->name, strerror(-ret));
		goto out;
	}
	*copied = n;
	if (n != cp->size) {
		/* The catalog and the source object disagree: not ours to
		 * copy until fsck has looked. */
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "object '%s' on tier '%s' has %" PRIu64
			   " bytes, the file %" PRIu64,
			   skey, src->name, n, cp->size);
		ret = -EIO;
	}
out:
	strata_obj_close(in);
	free(buf);
	return ret;
}

/* Read the target back: the bytes and hash written must be there. */
static int move_verify(struct strata_vfs *vfs, struct strata_vfs_copy *cp)
{
	struct move_hash h = { 0xcbf29ce484222325ull };
	struct strata_obj *obj = NULL;
	void *buf = malloc(MOVE_CHUNK);
	uint64_t n = 0;
	int ret;

	if (!buf)
		return -ENOMEM;
	ret = strata_obj_open(cp->dst->be, cp->key, STRATA_OBJ_READ, &obj);
	if (ret == 0)
		ret = move_stream(vfs, obj, NULL, buf, &h, &n);
	if (ret == 0 && (n != cp->size || h.h != cp->hash.h)) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "copy '%s' on tier '%s' does not verify: %" PRIu64
			   " of %" PRIu64 " bytes, hash %016" PRIx64
			   " for %016" PRIx64,
			   cp->key, cp->dst->name, n, cp->size, h.h,
			   cp->hash.h);
		ret = -EIO;
	}
	strata_obj_close(obj);
	free(buf);
	return ret;
}

/* A copy that will not be recorded: its object is nobody's. */
static void move_void(struct strata_vfs *vfs, struct strata_vfs_copy *cp)
{
	if (strata_backend_remove(cp->dst->be, cp->key) < 0)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "cannot remove void copy '%s' on tier '%s'; "
			   "strata fsck reclaims it",
			   cp->key, cp->dst->name);
	move_end(vfs, cp->vn);
	free(cp);
}

int strata_vfs_copy_start(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			  uint32_t dst_tier, bool sync,
			  struct strata_vfs_copy **out, uint64_t *copied)
{
	struct move_src ms = { .vfs = vfs, .skip = dst_tier };
	struct strata_vfs_copy *cp;
	struct strata_attr a;
	struct vnode *vn;
	int ret;

	*out = NULL;
	*copied = 0;
	cp = calloc(1, sizeof(*cp));
	if (!cp)
		return -ENOMEM;
	cp->dst = strata__vfs_tier_by_id(vfs, dst_tier);
	ret = cp->dst ? move_begin(vfs, ino, &vn) : -ENOENT;
	if (ret < 0) {
		free(cp);
		return ret;
	}
	cp->vn = vn;
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
	if (ret == 0 && !ms.have_dst && !ms.tier && a.size > 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "inode %" PRIu64 " has %" PRIu64
			   " bytes but no valid replica on a tier of this "
			   "mount to copy from",
			   ino, a.size);
		ret = -EIO;
	}
	/* Done already, or nothing to copy (an empty file has no object
	 * anywhere). */
	if (ret < 0 || ms.have_dst || !ms.tier) {
		move_end(vfs, vn);
		free(cp);
		return ret;
	}
	cp->version = a.version;
	cp->size = a.size;
	strata__vfs_key(ino, cp->key, sizeof(cp->key));
	ret = move_copy_object(vfs, ms.tier, ms.key, cp, sync, copied);
	if (ret < 0) {
		move_void(vfs, cp);
		return ret;
	}
	*out = cp;
	return 0;
}

int strata_vfs_copy_finish(struct strata_vfs *vfs, struct strata_vfs_copy *cp)
{
	struct vnode *vn = cp->vn;
	struct strata_replica r;
	int ret;

	ret = move_verify(vfs, cp);
	memset(&r, 0, sizeof(r));
	r.ino = vn->ino;
	r.tier_id = cp->dst->id;
	strata_strlcpy(r.key, cp->key, sizeof(r.key));
	r.version = cp->version;
	r.size = cp->size;
	if (ret == 0) {
		pthread_mutex_lock(&vn->lock);
		ret = move_busy(vn) ?
			      -EBUSY :
			      strata_catalog_replica_commit(vfs->cat, &r);
		pthread_mutex_unlock(&vn->lock);
	}
	if (ret < 0) {
		/* A write won, or the copy is bad. */
		move_void(vfs, cp);
		return ret;
	}
	move_end(vfs, vn);
	free(cp);
	return 0;
}

void strata_vfs_copy_abort(struct strata_vfs *vfs, struct strata_vfs_copy *cp)
{
	if (cp)
		move_void(vfs, cp);
}

int strata_vfs_copy(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    uint32_t dst_tier, uint64_t *copied)
{
	struct strata_vfs_copy *cp;
	int ret;

	ret = strata_vfs_copy_start(vfs, ino, dst_tier, true, &cp, copied);
	if (ret < 0 || !cp)
		return ret;
	return strata_vfs_copy_finish(vfs, cp);
}

int strata_vfs_sync_tier(struct strata_vfs *vfs, uint32_t tier_id)
{
	struct vfs_tier *t = strata__vfs_tier_by_id(vfs, tier_id);

	return t ? strata_backend_syncfs(t->be) : -ENOENT;
}

/* The replica a drop removes, and whether a valid copy of the current
 * version stays on a tier this mount has. */
struct move_find {
	struct strata_vfs *vfs;
	uint32_t tier;
	uint64_t version;
	bool found;
	bool current; /* the one to drop is a valid copy, not a stale one */
	bool other;
	char key[STRATA_KEY_MAX];
};

static int move_find(void *arg, const struct strata_replica *r)
{
	struct move_find *mf = arg;
	struct vfs_tier *t;

	int rank = strata__vfs_replica_rank(mf->vfs, r, mf->version, &t);

	if (r->tier_id == mf->tier) {
		mf->found = true;
		mf->current = rank > 0;
		strata_strlcpy(mf->key, r->key, sizeof(mf->key));
	} else if (rank) {
		mf->other = true;
	}
	return 0;
}

/* A drop between its two halves: the row is gone, the object not yet. */
struct strata_vfs_drop {
	struct vnode *vn; /* held, moving */
	struct vfs_tier *tier;
	char key[STRATA_KEY_MAX];
};

int strata_vfs_drop_start(struct strata_vfs *vfs, strata_vfs_ino_t ino,
			  uint32_t tier_id, struct strata_vfs_drop **out)
{
	struct move_find mf = { .vfs = vfs, .tier = tier_id };
	struct strata_vfs_drop *d;
	struct strata_replica other;
	struct strata_attr a;
	struct vnode *vn;
	int ret;

	*out = NULL;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->tier = strata__vfs_tier_by_id(vfs, tier_id);
	ret = d->tier ? move_begin(vfs, ino, &vn) : -ENOENT;
	if (ret < 0) {
		free(d);
		return ret;
	}
	pthread_mutex_lock(&vn->lock);
	/* An open file may be reading this very object. */
	if (strata__vfs_vnode_nopen(vn) > 0 || move_busy(vn)) {
		ret = -EBUSY;
		goto unlock;
	}
	ret = strata_catalog_getattr(vfs->cat, ino, &a);
	if (ret == 0) {
		mf.version = a.version;
		ret = strata_catalog_replica_list(vfs->cat, ino, move_find,
						  &mf);
	}
	if (ret == 0 && !mf.found)
		ret = -ENOENT;
	/* The catalog counts copies on every tier it knows; only one on a
	 * tier this mount can read is a copy to keep the file by. */
	if (ret == 0 && mf.current && !mf.other && a.size > 0)
		ret = -EMLINK;
	if (ret == 0)
		ret = strata_catalog_replica_drop(vfs->cat, ino, tier_id,
						  &other);
	if (ret == 0)
		vn->loaded = false; /* the next open finds the content anew */
unlock:
	pthread_mutex_unlock(&vn->lock);
	if (ret < 0) {
		move_end(vfs, vn);
		free(d);
		return ret;
	}
	d->vn = vn;
	strata_strlcpy(d->key, mf.key, sizeof(d->key));
	*out = d;
	return 0;
}

void strata_vfs_drop_finish(struct strata_vfs *vfs, struct strata_vfs_drop *d,
			    bool durable)
{
	int ret;

	if (!d)
		return;
	/* Without a durable catalog the object stays, as an orphan for
	 * strata fsck, rather than go while a crash could bring back the
	 * row that names it. */
	ret = durable ? strata_backend_remove(d->tier->be, d->key) : -EAGAIN;
	if (ret < 0 && ret != -ENOENT)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
			   "'%s' stays on tier '%s' (%s); strata fsck "
			   "reclaims it",
			   d->key, d->tier->name,
			   durable ? strerror(-ret) :
				     "the catalog could not be made durable");
	move_end(vfs, d->vn);
	free(d);
}

int strata_vfs_drop(struct strata_vfs *vfs, strata_vfs_ino_t ino,
		    uint32_t tier_id)
{
	struct strata_vfs_drop *d;
	int ret;

	ret = strata_vfs_drop_start(vfs, ino, tier_id, &d);
	if (ret < 0)
		return ret;
	/* The catalog must no longer need the object, and a copy made just
	 * before must be on record, even after a power cut, before the
	 * object goes (DESIGN.md invariant 3). */
	ret = strata_catalog_sync(vfs->cat, true);
	strata_vfs_drop_finish(vfs, d, ret == 0);
	return ret;
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
	bool dirty = false, uploading = false;
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
	strata__vfs_pt_absorb(vfs, ino);
	vn = strata__vfs_vnode_hold(vfs, ino);
	if (vn) {
		pthread_mutex_lock(&vn->lock);
		dirty = vn->loaded && (vn->dirty || vn->written);
		/* Staged for an immutable home (S3) that lacks this version
		 * yet: on its way there at the next flush, fsync or close. */
		uploading = vn->loaded && vn->stage_to &&
			    !(vn->up_valid && vn->up_version == vn->version);
		pthread_mutex_unlock(&vn->lock);
		strata__vfs_vnode_unhold(vfs, vn);
	}
	mn->len = (size_t)snprintf(mn->buf, sizeof(mn->buf), "%s",
				   dirty       ? "dirty" :
				   uploading   ? "uploading" :
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
