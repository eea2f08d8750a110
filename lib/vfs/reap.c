/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/vfs/reap.c - removing what orphaned inodes leave behind.
 *
 * An inode whose last name is gone and that nobody references any more is
 * an orphan. Orphans queue here and a reaper thread handles them in
 * batches, off the path of the unlink or forget that made them (whose
 * thread would otherwise hold the catalog for a dozen statements while the
 * next request waits). When any of a batch has content, the unlinks that
 * orphaned them must be durable before their objects are removed (the
 * catalog commits in groups: a power cut must never find a linked file
 * whose content is gone): one durable catalog sync, then each one's
 * objects, then its rows. Orphans without content need no sync. A crash
 * between those steps leaves an orphan row, which the next start
 * reclaims; a failed removal keeps the rows for the same reason.
 *
 * The same thread retries the commits of kept vnodes (data.c: writes the
 * catalog has not recorded, a full disk say): after 1 s, then twice as
 * long each time up to a minute, while any is kept. And it records the
 * atimes of reads that wait in vnodes, VFS_ATIME_LAZY_MS after the first
 * began to wait.
 *
 * Threads: the queue is guarded by r->lock; the catalog and backends are
 * called without it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "util.h"
#include "vfs_int.h"

#define REAP_MAX_REPLICAS 16
/* A batch waits at most this long, or until this many orphans queue. */
#define REAP_DELAY_MS 50
#define REAP_BATCH 256
/* Retries of kept vnodes' commits: the first wait and the longest. */
#define REAP_RETRY_MS 1000
#define REAP_RETRY_MAX_MS 60000

struct reap_replicas {
	unsigned int n;
	struct strata_replica r[REAP_MAX_REPLICAS];
};

static int reap_collect(void *arg, const struct strata_replica *r)
{
	struct reap_replicas *rr = arg;

	if (rr->n == REAP_MAX_REPLICAS)
		return 1; /* any further objects are left to fsck */
	rr->r[rr->n++] = *r;
	return 0;
}

/* The catalog rows of an orphan whose objects are gone (or never were). */
static int reap_rows(struct strata_vfs *vfs, strata_ino_t ino)
{
	int ret = strata_catalog_purge(vfs->cat, ino);

	if (ret == -EBUSY || ret == -ENOENT)
		ret = 0; /* linked again, or already purged */
	return ret;
}

/* Remove an orphan's objects, then its rows; the unlink is durable. */
static int reap_one(struct strata_vfs *vfs, strata_ino_t ino,
		    struct reap_replicas *rr)
{
	int ret;

	rr->n = 0;
	ret = strata_catalog_replica_list(vfs->cat, ino, reap_collect, rr);
	for (unsigned int i = 0; ret == 0 && i < rr->n; i++) {
		struct vfs_tier *t =
			strata__vfs_tier_by_id(vfs, rr->r[i].tier_id);

		if (!t)
			continue; /* tier gone from the config: fsck */
		ret = strata_backend_remove(t->be, rr->r[i].key);
		if (ret == -ENOENT)
			ret = 0;
		if (ret < 0)
			strata_log(STRATA_LOG_WARN, STRATA_SUB_VFS,
				   "cannot remove object '%s' from tier '%s': "
				   "%s",
				   rr->r[i].key, t->name, strerror(-ret));
	}
	return ret < 0 ? ret : reap_rows(vfs, ino);
}

int strata__vfs_reap(struct strata_vfs *vfs, size_t *failed)
{
	struct vfs_reaper *r = &vfs->reaper;
	struct reap_replicas *rr = NULL;
	strata_ino_t *q;
	size_t n, later = 0;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	q = r->q;
	n = r->n;
	r->q = NULL;
	r->n = 0;
	r->cap = 0;
	pthread_mutex_unlock(&r->lock);
	if (!n)
		goto out;
	rr = malloc(sizeof(*rr));
	if (!rr) {
		ret = -ENOMEM;
		later = n;
	} else {
		/* Orphans without content go now; the others (and any whose
		 * listing failed) wait for one durable sync. */
		for (size_t i = 0; i < n; i++) {
			rr->n = 0;
			if (strata_catalog_replica_list(
				    vfs->cat, q[i], reap_collect, rr) != 0 ||
			    rr->n > 0)
				q[later++] = q[i];
			else if (reap_rows(vfs, q[i]) < 0 && failed)
				(*failed)++;
		}
		if (later)
			ret = strata_catalog_sync(vfs->cat, true);
	}
	for (size_t i = 0; i < later; i++) {
		if (ret < 0 || reap_one(vfs, q[i], rr) < 0) {
			/* The rows stay: the next start tries again. */
			if (failed)
				(*failed)++;
		}
	}
out:
	free(rr);
	free(q);
	return ret;
}

void strata__vfs_orphan_gone(struct strata_vfs *vfs, strata_ino_t ino)
{
	struct vfs_reaper *r = &vfs->reaper;
	strata_ino_t *q;
	bool full;

	pthread_mutex_lock(&r->lock);
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;

		q = realloc(r->q, cap * sizeof(*q));
		if (!q) {
			/* The row stays an orphan: the next start reclaims
			 * it. */
			pthread_mutex_unlock(&r->lock);
			return;
		}
		r->q = q;
		r->cap = cap;
	}
	r->q[r->n++] = ino;
	full = r->n >= REAP_BATCH;
	if (full || r->n == 1)
		pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/* A deadline of the reaper's, set when work for it first shows. */
struct reap_timer {
	bool armed;
	struct timespec at;
};

/* Whether t's time has come (want: there is work for it), which disarms
 * it; arms it ms from now when work shows, disarms it when none is left. */
static bool reap_timer_due(struct reap_timer *t, bool want, long ms)
{
	if (!want) {
		t->armed = false;
		return false;
	}
	if (!t->armed) {
		t->at = strata_mono_in_ms(ms);
		t->armed = true;
		return false;
	}
	if (strata_ts_before(strata_mono_in_ms(0), t->at))
		return false;
	t->armed = false;
	return true;
}

/* The earlier of two deadlines into *at; false when neither is armed. */
static bool reap_timer_next(const struct reap_timer *a,
			    const struct reap_timer *b, struct timespec *at)
{
	if (!a->armed && !b->armed)
		return false;
	*at = !a->armed || (b->armed && strata_ts_before(b->at, a->at)) ?
		      b->at :
		      a->at;
	return true;
}

static void *reap_thread(void *arg)
{
	struct strata_vfs *vfs = arg;
	struct vfs_reaper *r = &vfs->reaper;
	struct reap_timer retry = { 0 }, atimes = { 0 };
	long retry_ms = REAP_RETRY_MS;
	struct timespec until, wake;
	unsigned int kept, seen = 0;
	bool timed;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		/* Kept vnodes: a retry at a time of its own, which orphans
		 * coming and going do not put off; one newly kept starts
		 * the backoff again. */
		kept = __atomic_load_n(&vfs->nkept, __ATOMIC_RELAXED);
		if (kept > seen || kept == 0) {
			retry.armed = false;
			retry_ms = REAP_RETRY_MS;
		}
		seen = kept;
		if (reap_timer_due(&retry, kept > 0, retry_ms)) {
			pthread_mutex_unlock(&r->lock);
			strata__vfs_retry_kept(vfs);
			pthread_mutex_lock(&r->lock);
			if (retry_ms < REAP_RETRY_MAX_MS)
				retry_ms *= 2;
			continue;
		}
		/* Atimes: one write-back for all that wait, at a time of
		 * its own too. */
		if (reap_timer_due(&atimes,
				   __atomic_load_n(&vfs->natime,
						   __ATOMIC_RELAXED) > 0,
				   VFS_ATIME_LAZY_MS)) {
			pthread_mutex_unlock(&r->lock);
			strata__vfs_flush_atimes(vfs);
			pthread_mutex_lock(&r->lock);
			continue;
		}
		timed = reap_timer_next(&retry, &atimes, &wake);
		if (r->n == 0) {
			if (timed)
				pthread_cond_timedwait(&r->wake, &r->lock,
						       &wake);
			else
				pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		/* Let a batch gather, unless it is already large. */
		if (r->n < REAP_BATCH) {
			until = strata_mono_in_ms(REAP_DELAY_MS);
			if (timed && strata_ts_before(wake, until))
				until = wake;
			pthread_cond_timedwait(&r->wake, &r->lock, &until);
		}
		pthread_mutex_unlock(&r->lock);
		strata__vfs_reap(vfs, NULL);
		pthread_mutex_lock(&r->lock);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

void strata__vfs_reaper_kick(struct strata_vfs *vfs)
{
	struct vfs_reaper *r = &vfs->reaper;

	pthread_mutex_lock(&r->lock);
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

int strata__vfs_reaper_start(struct strata_vfs *vfs)
{
	struct vfs_reaper *r = &vfs->reaper;
	int ret = -pthread_create(&r->thread, NULL, reap_thread, vfs);

	if (ret == 0)
		r->on = true;
	return ret;
}

void strata__vfs_reaper_init(struct strata_vfs *vfs)
{
	struct vfs_reaper *r = &vfs->reaper;
	pthread_condattr_t ca;

	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
}

void strata__vfs_reaper_stop(struct strata_vfs *vfs)
{
	struct vfs_reaper *r = &vfs->reaper;

	if (!r->on)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	r->on = false;
}

void strata__vfs_reaper_release(struct strata_vfs *vfs)
{
	struct vfs_reaper *r = &vfs->reaper;

	strata__vfs_reaper_stop(vfs);
	if (vfs->cat)
		strata__vfs_reap(vfs, NULL);
	free(r->q);
	r->q = NULL;
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
}
