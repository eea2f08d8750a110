/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/itable.c - the in-memory inode table.
 *
 * Holds a struct vnode for each inode the kernel references (its lookup
 * count) or that is open, and those kept because the catalog has not
 * recorded their last writes (data.c): only such a kept vnode holds a file
 * descriptor without an open file, the only copy of bytes whose object
 * could not take its key. An inode whose last name went away (an orphan)
 * is purged, content and catalog rows, when both its lookup and open
 * counts reach zero, as the kernel's forget protocol requires.
 *
 * Locks: itable->lock guards the buckets, the chain links and the
 * reference counts. Purging runs after the vnode left the table, without
 * the table lock.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "vfs_int.h"

#define ITABLE_MIN_BUCKETS 1024

static size_t it_hash(strata_ino_t ino, size_t nbuckets)
{
	uint64_t h = ino * 0x9e3779b97f4a7c15ull;

	return (size_t)(h >> 32) & (nbuckets - 1);
}

int strata__vfs_itable_init(struct vfs_itable *it)
{
	it->buckets = calloc(ITABLE_MIN_BUCKETS, sizeof(*it->buckets));
	if (!it->buckets)
		return -ENOMEM;
	it->nbuckets = ITABLE_MIN_BUCKETS;
	it->count = 0;
	pthread_mutex_init(&it->lock, NULL);
	return 0;
}

void strata__vfs_itable_release(struct vfs_itable *it)
{
	free(it->buckets);
	it->buckets = NULL;
	pthread_mutex_destroy(&it->lock);
}

/* Double the bucket array when the load passes one; keep going on ENOMEM. */
static void it_grow(struct vfs_itable *it)
{
	size_t n = it->nbuckets * 2;
	struct vnode **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < it->nbuckets; i++) {
		struct vnode *vn = it->buckets[i];

		while (vn) {
			struct vnode *next = vn->next;
			size_t h = it_hash(vn->ino, n);

			vn->next = b[h];
			b[h] = vn;
			vn = next;
		}
	}
	free(it->buckets);
	it->buckets = b;
	it->nbuckets = n;
}

static struct vnode *it_find(struct vfs_itable *it, strata_ino_t ino)
{
	struct vnode *vn = it->buckets[it_hash(ino, it->nbuckets)];

	while (vn && vn->ino != ino)
		vn = vn->next;
	return vn;
}

static void it_unlink(struct vfs_itable *it, struct vnode *vn)
{
	struct vnode **pp = &it->buckets[it_hash(vn->ino, it->nbuckets)];

	while (*pp != vn)
		pp = &(*pp)->next;
	*pp = vn->next;
	it->count--;
}

static int it_get(struct strata_vfs *vfs, strata_ino_t ino, uint64_t nlookup,
		  uint32_t nopen, uint32_t nhold, struct vnode **out)
{
	struct vfs_itable *it = &vfs->itable;
	struct vnode *vn;
	int ret = 0;

	pthread_mutex_lock(&it->lock);
	vn = it_find(it, ino);
	if (!vn) {
		vn = calloc(1, sizeof(*vn));
		if (!vn) {
			ret = -ENOMEM;
			goto out;
		}
		vn->ino = ino;
		vn->key = vn->kbuf;
		pthread_mutex_init(&vn->lock, NULL);
		if (it->count >= it->nbuckets)
			it_grow(it);
		vn->next = it->buckets[it_hash(ino, it->nbuckets)];
		it->buckets[it_hash(ino, it->nbuckets)] = vn;
		it->count++;
	}
	vn->nlookup += nlookup;
	vn->nhold += nhold;
	__atomic_store_n(&vn->nopen, vn->nopen + nopen, __ATOMIC_RELAXED);
	*out = vn;
out:
	pthread_mutex_unlock(&it->lock);
	return ret;
}

int strata__vfs_vnode_get(struct strata_vfs *vfs, strata_ino_t ino,
			  uint64_t nlookup, uint32_t nopen, struct vnode **out)
{
	return it_get(vfs, ino, nlookup, nopen, 0, out);
}

int strata__vfs_vnode_grab(struct strata_vfs *vfs, strata_ino_t ino,
			   struct vnode **out)
{
	return it_get(vfs, ino, 0, 0, 1, out);
}

struct vnode *strata__vfs_vnode_hold(struct strata_vfs *vfs, strata_ino_t ino)
{
	struct vnode *vn;

	pthread_mutex_lock(&vfs->itable.lock);
	vn = it_find(&vfs->itable, ino);
	if (vn)
		vn->nhold++;
	pthread_mutex_unlock(&vfs->itable.lock);
	return vn;
}

static void vn_free(struct strata_vfs *vfs, struct vnode *vn)
{
	strata__vfs_atime_forget(vfs, vn); /* at unmount */
	strata__vfs_vnode_key(vn, "");
	pthread_mutex_destroy(&vn->lock);
	free(vn);
}

int strata__vfs_vnode_key(struct vnode *vn, const char *key)
{
	size_t len = strlen(key);
	char *heap = NULL;

	if (len >= sizeof(vn->kbuf)) {
		heap = strdup(key);
		if (!heap)
			return -ENOMEM;
	}
	if (vn->key != vn->kbuf)
		free(vn->key);
	if (heap) {
		vn->key = heap;
	} else {
		memcpy(vn->kbuf, key, len + 1);
		vn->key = vn->kbuf;
	}
	return 0;
}

/* Drop references of each kind; free the vnode, and purge an orphan, when
 * none is left. */
static void vn_drop(struct strata_vfs *vfs, struct vnode *vn, uint64_t nlookup,
		    uint32_t nopen, uint32_t nhold)
{
	struct vfs_itable *it = &vfs->itable;
	bool gone;
	bool orphan;

	pthread_mutex_lock(&it->lock);
	vn->nhold -= nhold;
	vn->nlookup -= nlookup < vn->nlookup ? nlookup : vn->nlookup;
	__atomic_store_n(&vn->nopen,
			 vn->nopen - (nopen < vn->nopen ? nopen : vn->nopen),
			 __ATOMIC_RELAXED);
	gone = vn->nlookup == 0 && vn->nopen == 0 && vn->nhold == 0;
	orphan = vn->orphan;
	/*
	 * Writes the catalog has not recorded (the commit at release
	 * failed): one more try, holding the vnode; if that fails too, it
	 * is kept, and stays for the reaper's retries. A read's atime that
	 * waits is recorded now. Nobody else can touch a vnode without
	 * references, so its fields can be read.
	 */
	if (gone && !orphan &&
	    (__atomic_load_n(&vn->kept, __ATOMIC_ACQUIRE) ||
	     (vn->loaded && vn->dirty) || vn->atime_due)) {
		bool retry = !vn->kept;

		if (retry)
			vn->nhold++;
		pthread_mutex_unlock(&it->lock);
		if (retry) {
			pthread_mutex_lock(&vn->lock);
			(void)strata__vfs_keep(vfs, vn);
			strata__vfs_atime_commit(vfs, vn);
			pthread_mutex_unlock(&vn->lock);
			vn_drop(vfs, vn, 0, 0, 1);
		}
		return;
	}
	if (gone) {
		it_unlink(it, vn);
		/* An orphan's atime: off the list before the table lock
		 * goes, which the write-back holds while it takes holds. */
		strata__vfs_atime_forget(vfs, vn);
	}
	pthread_mutex_unlock(&it->lock);
	if (!gone)
		return;
	if (orphan)
		strata__vfs_orphan_gone(vfs, vn->ino);
	strata__vfs_kept_drop(vfs, vn, orphan);
	vn_free(vfs, vn);
}

void strata__vfs_vnode_put(struct strata_vfs *vfs, struct vnode *vn,
			   uint64_t nlookup, uint32_t nopen)
{
	vn_drop(vfs, vn, nlookup, nopen, 0);
}

void strata__vfs_vnode_unhold(struct strata_vfs *vfs, struct vnode *vn)
{
	vn_drop(vfs, vn, 0, 0, 1);
}

void strata__vfs_orphan(struct strata_vfs *vfs, strata_ino_t ino)
{
	struct vnode *vn;
	bool idle = false;

	pthread_mutex_lock(&vfs->itable.lock);
	vn = it_find(&vfs->itable, ino);
	if (vn) {
		__atomic_store_n(&vn->orphan, true, __ATOMIC_RELAXED);
		/* Kept with no reference left: it goes now, not at the
		 * next retry. */
		idle = vn->nlookup == 0 && vn->nopen == 0 && vn->nhold == 0;
		if (idle)
			vn->nhold++;
	}
	pthread_mutex_unlock(&vfs->itable.lock);
	if (!vn)
		strata__vfs_orphan_gone(vfs, ino);
	else if (idle)
		strata__vfs_vnode_unhold(vfs, vn);
}

void strata__vfs_itable_drain(struct strata_vfs *vfs)
{
	struct vfs_itable *it = &vfs->itable;

	for (size_t i = 0; i < it->nbuckets; i++) {
		while (it->buckets[i]) {
			struct vnode *vn = it->buckets[i];

			it->buckets[i] = vn->next;
			it->count--;
			/* Files still open when the session ended (a signal):
			 * their last writes reach the catalog now. */
			if (vn->loaded && vn->dirty &&
			    strata__vfs_commit(vfs, vn, false) < 0 && !vn->kept)
				strata_log(
					STRATA_LOG_ERR, STRATA_SUB_VFS,
					"inode %" PRIu64
					": cannot record its size at unmount",
					vn->ino);
			if (vn->orphan)
				strata__vfs_orphan_gone(vfs, vn->ino);
			else
				strata__vfs_atime_commit(vfs, vn);
			strata__vfs_kept_drop(vfs, vn, vn->orphan);
			vn_free(vfs, vn);
		}
	}
}

unsigned int strata_vfs_unrecorded(struct strata_vfs *vfs)
{
	return __atomic_load_n(&vfs->nkept, __ATOMIC_RELAXED);
}

/* Room for as many vnodes as *count says, the count of those the caller
 * will collect; NULL when none (or no memory: the next round). */
static struct vnode **it_batch(unsigned int *count, size_t *cap)
{
	*cap = __atomic_load_n(count, __ATOMIC_RELAXED);
	return *cap ? calloc(*cap, sizeof(struct vnode *)) : NULL;
}

/* Run fn (vn->lock held) on each of the n vnodes of batch, which the
 * caller holds, then let them and the batch go. */
static void it_run(struct strata_vfs *vfs, struct vnode **batch, size_t n,
		   void (*fn)(struct strata_vfs *vfs, struct vnode *vn))
{
	for (size_t i = 0; i < n; i++) {
		struct vnode *vn = batch[i];

		pthread_mutex_lock(&vn->lock);
		fn(vfs, vn);
		pthread_mutex_unlock(&vn->lock);
		strata__vfs_vnode_unhold(vfs, vn);
	}
	free(batch);
}

static void vn_retry(struct strata_vfs *vfs, struct vnode *vn)
{
	if (vn->kept)
		(void)strata__vfs_commit(vfs, vn, false);
}

void strata__vfs_retry_kept(struct strata_vfs *vfs)
{
	struct vfs_itable *it = &vfs->itable;
	size_t cap, n = 0;
	struct vnode **batch = it_batch(&vfs->nkept, &cap);

	if (!batch)
		return;
	/* A scan of the whole table, but only while commits keep failing. */
	pthread_mutex_lock(&it->lock);
	for (size_t i = 0; i < it->nbuckets && n < cap; i++) {
		for (struct vnode *vn = it->buckets[i]; vn && n < cap;
		     vn = vn->next) {
			if (__atomic_load_n(&vn->kept, __ATOMIC_ACQUIRE)) {
				vn->nhold++;
				batch[n++] = vn;
			}
		}
	}
	pthread_mutex_unlock(&it->lock);
	it_run(vfs, batch, n, vn_retry);
}

void strata__vfs_flush_atimes(struct strata_vfs *vfs)
{
	size_t cap, n = 0;
	struct vnode **batch = it_batch(&vfs->natime, &cap);

	if (!batch)
		return;
	/* The table lock for the holds, the list's for the walk; those
	 * that join meanwhile wait for the next round. */
	pthread_mutex_lock(&vfs->itable.lock);
	pthread_mutex_lock(&vfs->atime_lock);
	for (struct vnode *vn = vfs->atimes; vn && n < cap;
	     vn = vn->atime_next) {
		vn->nhold++;
		batch[n++] = vn;
	}
	pthread_mutex_unlock(&vfs->atime_lock);
	pthread_mutex_unlock(&vfs->itable.lock);
	it_run(vfs, batch, n, strata__vfs_atime_commit);
}
