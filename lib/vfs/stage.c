/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/stage.c - files whose home is an immutable tier (S3): copy-up
 * before writing, staging of new files, and the upload back home.
 *
 * A tier without STRATA_BCAP_RANDOM_WRITE cannot be written in place
 * (DESIGN.md invariant 6). So a file that is written while its content
 * lives there, or that is created while such a tier is the placement, is
 * written on a staging tier instead: the first tier of this site that can
 * write in place (a local one, with descriptors, by preference). Opening
 * an S3-resident file for writing first copies its content to the staging
 * tier as a replica of the same version (nothing is copied with O_TRUNC);
 * the file then remembers its home (vn->stage_to). Writes go to the
 * staged copy and make the home's replica stale, as any write does.
 *
 * While a staged file is written by appends only (a new file, or one
 * rewritten with O_TRUNC), its bytes are also streamed home as they come
 * (struct vfs_upstream: an S3 multipart upload whose parts go up while
 * the writer writes), so that storing it at fsync or close only completes
 * the upload. Any other change (a write elsewhere, a truncate, fallocate)
 * aborts the stream, and the whole staged copy is uploaded instead.
 *
 * The staged content is uploaded home at fsync (which returns only once
 * the object is durable and its replica row committed durably) and when
 * the last writer closes (flush), and the staged copy is dropped when the
 * file is no longer open: replica row first, object after, so a crash
 * leaves at worst an orphan object that fsck reclaims. An upload that
 * fails is logged, reported to the caller, and changes nothing: the staged
 * copy stays the file's valid replica, and the next flush, fsync or close
 * tries again. Which tier a file is staged for lives in memory only: after
 * a remount a file whose upload failed simply stays on the staging tier.
 *
 * Every function here runs with vn->lock held (vfs_int.h), so no write
 * commit can slip between an upload and the row that records it; the
 * upload itself reads the staged object through an object of its own.
 * The price: while a file that was not streamed (a copy-up) is uploaded
 * whole, or copied up, other calls on that file (getattr included) wait.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define STAGE_CHUNK (8u << 20)

/* A streamed upload of a staged file: the bytes [0, pos) went to obj. */
struct vfs_upstream {
	pthread_mutex_t lock;	/* taken after vn->lock, never before */
	struct strata_obj *obj; /* NULL once broken */
	uint64_t pos;
};

/* Drop the stream's object without storing it (up->lock held). */
static void stream_break(struct vfs_upstream *up)
{
	strata_obj_abort(up->obj);
	up->obj = NULL;
}

/* Start streaming vn (empty, staged for vn->stage_to) home; without a
 * stream the upload copies the staged object later (vn->lock held). */
static void stream_open(struct vnode *vn)
{
	struct vfs_upstream *up;

	if (vn->up || !vn->stage_to)
		return;
	up = calloc(1, sizeof(*up));
	if (!up)
		return;
	if (strata_obj_open(vn->stage_to->be, vn->key,
			    STRATA_OBJ_WRITE | STRATA_OBJ_CREATE |
				    STRATA_OBJ_TRUNC,
			    &up->obj) < 0) {
		free(up);
		return;
	}
	pthread_mutex_init(&up->lock, NULL);
	vn->up = up;
}

/* End the stream (vn->lock held; no writer left). */
static void stream_free(struct vnode *vn)
{
	struct vfs_upstream *up = vn->up;

	if (!up)
		return;
	vn->up = NULL;
	stream_break(up);
	pthread_mutex_destroy(&up->lock);
	free(up);
}

void strata__vfs_stage_forget(struct vnode *vn)
{
	stream_free(vn);
	vn->stage_to = NULL;
	vn->up_valid = false;
}

void strata__vfs_stage_stream(struct vnode *vn, uint64_t off, const void *buf,
			      size_t len)
{
	struct vfs_upstream *up;
	int ret;

	pthread_mutex_lock(&vn->lock);
	up = vn->up;
	pthread_mutex_unlock(&vn->lock);
	if (!up)
		return;
	pthread_mutex_lock(&up->lock);
	if (up->obj && off != up->pos) {
		strata_debug(STRATA_SUB_VFS,
			     "inode %" PRIu64
			     ": not an append: upload at close",
			     vn->ino);
		stream_break(up);
	}
	if (up->obj) {
		ret = strata_obj_write(up->obj, off, buf, len);
		if (ret < 0)
			stream_break(up); /* the upload at close tells */
		else
			up->pos += len;
	}
	pthread_mutex_unlock(&up->lock);
}

/*
 * Append [off, off + len) to the staged object obj and to the stream up
 * with one copy: into the stream's part buffer dst, from which both take
 * the bytes (a local tier writes an aligned buffer with O_DIRECT, without
 * a copy of its own). up->lock is held, so no other append takes dst.
 */
static int stage_write_lent(struct vfs_upstream *up, struct strata_obj *obj,
			    uint64_t off, const void *buf, size_t len,
			    void *dst)
{
	int ret;

	memcpy(dst, buf, len);
	ret = strata_obj_write(obj, off, dst, len);
	if (ret < 0)
		return ret; /* dst is the stream's again, unused */
	if (strata_obj_write(up->obj, off, dst, len) < 0)
		stream_break(up); /* the upload at close tells */
	else
		up->pos += len;
	return 0;
}

int strata__vfs_stage_write(struct vnode *vn, struct strata_obj *obj,
			    uint64_t off, const void *buf, size_t len)
{
	struct vfs_upstream *up;
	size_t room = 0;
	void *dst = NULL;
	int ret;

	pthread_mutex_lock(&vn->lock);
	up = vn->up;
	pthread_mutex_unlock(&vn->lock);
	if (up) {
		pthread_mutex_lock(&up->lock);
		if (up->obj && off == up->pos &&
		    strata_obj_wbuf(up->obj, &dst, &room) < 0)
			stream_break(up); /* the upload at close tells */
		if (up->obj && off == up->pos && room >= len) {
			ret = stage_write_lent(up, obj, off, buf, len, dst);
			pthread_mutex_unlock(&up->lock);
			return ret;
		}
		pthread_mutex_unlock(&up->lock);
	}
	ret = strata_obj_write(obj, off, buf, len);
	if (ret == 0)
		strata__vfs_stage_stream(vn, off, buf, len);
	return ret;
}

void strata__vfs_stage_diverged(struct vnode *vn, uint64_t size)
{
	struct vfs_upstream *up = vn->up;

	if (!up)
		return;
	pthread_mutex_lock(&up->lock);
	if (up->obj && size != up->pos)
		stream_break(up);
	pthread_mutex_unlock(&up->lock);
}

/*
 * Store the stream, if it holds exactly the staged content: returns 0
 * when it did, 1 when there is no such stream (copy instead), or the
 * error of storing it (vn->lock held).
 */
static int stream_store(struct vnode *vn)
{
	struct vfs_upstream *up = vn->up;
	struct strata_obj_stat st;
	int ret = 1;

	if (!up)
		return 1;
	pthread_mutex_lock(&up->lock);
	if (up->obj && up->pos != vn->size)
		stream_break(up);
	if (up->obj) {
		ret = strata_obj_sync(up->obj, false);
		if (ret == 0)
			ret = strata_backend_stat(vn->stage_to->be, vn->key,
						  &st);
		if (ret == 0 && st.size != vn->size)
			ret = -EIO;
		if (ret < 0)
			stream_break(up);
	}
	pthread_mutex_unlock(&up->lock);
	return ret;
}

bool strata__vfs_tier_immutable(const struct vfs_tier *t)
{
	return t && !(strata_backend_caps(t->be) & STRATA_BCAP_RANDOM_WRITE);
}

struct vfs_tier *strata__vfs_stage_tier(struct strata_vfs *vfs)
{
	struct vfs_tier *best = NULL;
	int rank = 0;

	for (unsigned int i = 0; i < vfs->ntiers; i++) {
		struct vfs_tier *t = &vfs->tiers[i];
		unsigned int caps = strata_backend_caps(t->be);
		int r;

		if (!(caps & STRATA_BCAP_RANDOM_WRITE))
			continue;
		r = 1 + (strcmp(t->site, vfs->site) == 0 ? 2 : 0) +
		    ((caps & STRATA_BCAP_FD) ? 1 : 0);
		if (t == vfs->placement)
			r += 4;
		if (r > rank) {
			rank = r;
			best = t;
		}
	}
	return best;
}

/*
 * Copy the object key of tier from into the object key of tier to,
 * replacing it, and check the size. size bytes are expected.
 */
static int stage_copy(struct vfs_tier *from, struct vfs_tier *to,
		      const char *key, uint64_t size)
{
	struct strata_obj *src = NULL;
	struct strata_obj *dst = NULL;
	struct strata_obj_stat st;
	char *buf = NULL;
	uint64_t off = 0;
	size_t n;
	int ret;

	ret = strata_obj_open(from->be, key, STRATA_OBJ_READ, &src);
	if (ret < 0)
		goto out;
	ret = strata_obj_open(
		to->be, key,
		STRATA_OBJ_WRITE | STRATA_OBJ_CREATE | STRATA_OBJ_TRUNC, &dst);
	if (ret < 0)
		goto out;
	while (off < size) {
		size_t want = size - off < STAGE_CHUNK ? (size_t)(size - off) :
							 STAGE_CHUNK;
		const void *data;
		void *into = NULL;
		void *ref = NULL;
		size_t room = 0;

		/* Read straight into the upload's part buffer when the target
		 * lends it (S3), else into ours; and from the source's
		 * read-ahead when it lends that (an S3 copy-up). Either way
		 * one copy fewer. */
		ret = strata_obj_wbuf(dst, &into, &room);
		if (ret < 0)
			goto out;
		if (room > 0 && want > room)
			want = room;
		if (room == 0 && !buf) {
			buf = malloc(STAGE_CHUNK);
			if (!buf) {
				ret = -ENOMEM;
				goto out;
			}
		}
		if (room == 0)
			into = buf;
		if (room > 0)
			ret = strata_obj_read(src, off, into, want, &n);
		else
			ret = strata_obj_read_lend(src, off, into, want, &n,
						   &data, &ref);
		if (ret < 0)
			goto out;
		if (room > 0)
			data = into;
		if (n == 0) {
			ret = -EIO; /* shorter than the catalog says */
			goto out;
		}
		ret = strata_obj_write(dst, off, data, n);
		strata_backend_ref_put(src->be, ref);
		if (ret < 0)
			goto out;
		off += n;
	}
	/* Closing stores an immutable object durably, once; a tier that
	 * writes in place is synced first. */
	if (!strata__vfs_tier_immutable(to)) {
		ret = strata_obj_sync(dst, false);
		if (ret < 0)
			goto out;
	}
	ret = strata_obj_close(dst);
	dst = NULL;
	if (ret < 0)
		goto out;
	ret = strata_backend_stat(to->be, key, &st);
	if (ret == 0 && st.size != size)
		ret = -EIO;
out:
	if (dst)
		strata_obj_close(dst);
	strata_obj_close(src);
	free(buf);
	return ret;
}

static int stage_replica(struct strata_vfs *vfs, struct vnode *vn,
			 struct vfs_tier *t)
{
	struct strata_replica r = {
		.ino = vn->ino,
		.tier_id = t->id,
		.version = vn->version,
		.size = vn->size,
		.state = STRATA_REPLICA_VALID,
	};

	strata_strlcpy(r.key, vn->key, sizeof(r.key));
	return strata_catalog_replica_put(vfs->cat, &r);
}

int strata__vfs_stage_copyup(struct strata_vfs *vfs, struct vnode *vn,
			     bool trunc)
{
	struct vfs_tier *home = vn->tier;
	struct vfs_tier *stage = strata__vfs_stage_tier(vfs);
	struct strata_obj *obj = NULL;
	char key[STRATA_KEY_MAX];
	uint64_t size = vn->size;
	int ret;

	if (!strata__vfs_tier_immutable(home))
		return 0;
	if (!stage) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot write inode %" PRIu64
			   " on tier '%s': no tier can stage it",
			   vn->ino, home->name);
		return -EROFS;
	}
	strata_strlcpy(key, vn->key, sizeof(key));
	if (trunc) {
		/* Its content is about to go: stage an empty object. */
		ret = strata_obj_open(stage->be, key,
				      STRATA_OBJ_WRITE | STRATA_OBJ_CREATE |
					      STRATA_OBJ_TRUNC,
				      &obj);
		if (ret == 0)
			ret = strata_obj_close(obj);
		size = 0;
	} else {
		ret = stage_copy(home, stage, key, size);
	}
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot copy inode %" PRIu64
			   " from tier '%s' to tier '%s' for writing: %s",
			   vn->ino, home->name, stage->name, strerror(-ret));
		strata_backend_remove(stage->be, key);
		return ret;
	}
	vn->tier = stage;
	if (size != vn->size) {
		/* An empty copy is not a replica of this version: the
		 * truncation that follows commits a new one. */
		vn->stage_to = home;
		vn->up_valid = true;
		vn->up_version = vn->version;
		stream_open(vn);
		return 0;
	}
	ret = stage_replica(vfs, vn, stage);
	if (ret < 0) {
		vn->tier = home;
		strata_backend_remove(stage->be, key);
		return ret;
	}
	vn->stage_to = home;
	vn->up_valid = true;
	vn->up_version = vn->version;
	strata_debug(STRATA_SUB_VFS,
		     "inode %" PRIu64 ": copied up from tier '%s' to tier '%s'",
		     vn->ino, home->name, stage->name);
	return 0;
}

int strata__vfs_stage_upload(struct strata_vfs *vfs, struct vnode *vn,
			     bool durable)
{
	struct vfs_tier *home = vn->stage_to;
	int ret;

	if (!home || !vn->tier || vn->tier == home)
		return 0;
	ret = strata__vfs_commit(vfs, vn, durable);
	if (ret < 0)
		return ret;
	if (vn->up_valid && vn->up_version == vn->version)
		return 0;
	ret = stream_store(vn);
	if (ret > 0)
		ret = stage_copy(vn->tier, home, vn->key, vn->size);
	if (ret == 0)
		ret = stage_replica(vfs, vn, home);
	if (ret == 0 && durable)
		ret = strata_catalog_sync(vfs->cat, true);
	if (ret < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot upload inode %" PRIu64
			   " to tier '%s': %s; its data stays on tier '%s'",
			   vn->ino, home->name, strerror(-ret), vn->tier->name);
		return ret;
	}
	vn->up_valid = true;
	vn->up_version = vn->version;
	return 0;
}

int strata__vfs_stage_settle(struct strata_vfs *vfs, struct vnode *vn)
{
	struct vfs_tier *stage = vn->tier;
	struct vfs_tier *home = vn->stage_to;
	int ret;

	if (!home || !stage || stage == home) {
		stream_free(vn);
		return 0;
	}
	ret = strata__vfs_stage_upload(vfs, vn, false);
	stream_free(vn);
	if (ret < 0)
		return ret;
	/* The row first: a crash then leaves an orphan object, never a
	 * replica row without its object. */
	ret = strata_catalog_replica_del(vfs->cat, vn->ino, stage->id);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	vn->tier = home;
	vn->stage_to = NULL;
	ret = strata_backend_remove(stage->be, vn->key);
	if (ret < 0 && ret != -ENOENT)
		strata_log(
			STRATA_LOG_WARN, STRATA_SUB_VFS,
			"cannot remove the staged copy '%s' of inode %" PRIu64
			" on tier '%s': %s (strata fsck reclaims it)",
			vn->key, vn->ino, stage->name, strerror(-ret));
	return 0;
}

int strata__vfs_stage_create(struct strata_vfs *vfs, struct vnode *vn,
			     struct vfs_tier *home, struct vfs_tier **where)
{
	char key[VFS_KEY_LEN];
	struct vfs_tier *stage;

	*where = home;
	if (!strata__vfs_tier_immutable(home))
		return 0;
	stage = strata__vfs_stage_tier(vfs);
	if (!stage) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_VFS,
			   "cannot create inode %" PRIu64
			   " on tier '%s': no tier can stage it",
			   vn->ino, home->name);
		return -EROFS;
	}
	vn->stage_to = home;
	vn->up_valid = false;
	strata__vfs_key(vn->ino, key, sizeof(key));
	strata__vfs_vnode_key(vn, key); /* fits kbuf: no failure */
	stream_open(vn);
	*where = stage;
	return 0;
}
