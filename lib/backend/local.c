/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/local.c - the POSIX-directory driver ("file://" tiers).
 *
 * An object with key K is the regular file ROOT/K; shard directories in the
 * key are created on demand, objects with mode 0600 and directories 0700.
 * An open object is one file descriptor, opened once and kept until close,
 * so the data path can read and write it directly. Apart from those and the
 * directories a list walk visits, the driver holds no descriptors: tiers can
 * hold millions of objects under a 20,000-descriptor limit.
 *
 * Large block-aligned writes go through a second, O_DIRECT descriptor of the
 * same file, opened at the first such write: the kernel already keeps those
 * bytes in the FUSE file's page cache, and a second cached copy costs a page
 * allocation per 4 KiB, which on the VMs measured here made buffered writes
 * a third as fast as direct ones. Where the file system refuses O_DIRECT the
 * object stays buffered. The data goes through a per-thread aligned buffer
 * unless it is aligned already.
 *
 * A new object made without its key (STRATA_OBJ_ANON) is an O_TMPFILE file
 * in the root, linked to its key by obj_link; one closed unwritten and
 * unlinked goes to a small pool of such files (lb->pool) for the next, so
 * a file created and closed empty costs no file system operation at all.
 * Where the file system has no O_TMPFILE, the object is a scratch file
 * beside its key, renamed to it by obj_link and removed when closed before.
 *
 * Threads: any number may call in at once; lo->dlock guards lo->dfd,
 * lb->plock the pool.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "backend.h"
#include "backend_int.h"
#include "log.h"
#include "util.h"

/* Unlinked, empty O_TMPFILE files kept for the next anonymous object. */
#define LOCAL_POOL 16

struct local_be {
	char root[PATH_MAX]; /* no trailing '/' unless it is "/" */
	pthread_mutex_t plock;
	int pool[LOCAL_POOL]; /* lb->plock */
	unsigned int npool;   /* lb->plock */
	bool no_tmpfile;      /* O_TMPFILE was refused: scratch files */
};

/* Writes at least this large and block-aligned bypass the page cache. */
#define LOCAL_DIRECT_MIN (128u << 10)
#define LOCAL_DIRECT_MAX (1u << 20) /* the bounce buffer's size */
#define LOCAL_DIRECT_ALIGN 4096u
#define LOCAL_DIRECT_NONE (-2) /* the file system refused O_DIRECT */

struct local_obj {
	int fd;
	int dfd; /* O_DIRECT twin: -1 not yet, or LOCAL_DIRECT_NONE */
	pthread_mutex_t dlock;
	/* STRATA_OBJ_ANON: where obj_link puts it, until it has; anon_tmp
	 * is its scratch name where the file system lacks O_TMPFILE. */
	char *anon_path;
	char *anon_tmp;
};

static pthread_key_t local_bounce_key;
static pthread_once_t local_bounce_once = PTHREAD_ONCE_INIT;

static struct local_be *local_be(struct strata_backend *be)
{
	return be->priv;
}

static struct local_obj *local_obj(struct strata_obj *obj)
{
	return obj->priv;
}

static int local_path(struct strata_backend *be, const char *key, char *path,
		      size_t n)
{
	const char *root = local_be(be)->root;
	int ret = strata__backend_key_check(key);
	int len;

	if (ret < 0)
		return ret;
	len = snprintf(path, n, "%s%s%s", root, strcmp(root, "/") ? "/" : "",
		       key);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

/*
 * Create the directories leading to path (everything before its last '/')
 * below the root. Racing creators are fine: EEXIST counts as success.
 */
static int local_mkparents(struct strata_backend *be, const char *path)
{
	size_t rootlen = strlen(local_be(be)->root);
	char dir[PATH_MAX];
	char *slash;

	strata_strlcpy(dir, path, sizeof(dir));
	slash = strchr(dir + rootlen + 1, '/');
	while (slash) {
		*slash = '\0';
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return -errno;
		*slash = '/';
		slash = strchr(slash + 1, '/');
	}
	return 0;
}

static int local_open(struct strata_backend *be, const struct strata_uri *uri,
		      char *err, size_t errlen)
{
	struct local_be *lb = local_be(be);
	const char *path = uri->path;
	size_t len = strlen(path);
	struct stat st;

	if (path[0] != '/') {
		snprintf(err, errlen, "path '%s' is not absolute", path);
		return -EINVAL;
	}
	while (len > 1 && path[len - 1] == '/')
		len--;
	if (len >= sizeof(lb->root)) {
		snprintf(err, errlen, "path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(lb->root, path, len);
	lb->root[len] = '\0';
	if (stat(lb->root, &st) < 0) {
		int ret = -errno;

		snprintf(err, errlen, "cannot use directory '%s': %s", lb->root,
			 strerror(-ret));
		return ret;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cannot use directory '%s': %s", lb->root,
			 strerror(ENOTDIR));
		return -ENOTDIR;
	}
	if (access(lb->root, R_OK | W_OK | X_OK) < 0) {
		int ret = -errno;

		snprintf(err, errlen, "directory '%s' is not writable: %s",
			 lb->root, strerror(-ret));
		return ret;
	}
	pthread_mutex_init(&lb->plock, NULL);
	return 0;
}

static void local_close(struct strata_backend *be)
{
	struct local_be *lb = local_be(be);

	while (lb->npool > 0)
		close(lb->pool[--lb->npool]);
	pthread_mutex_destroy(&lb->plock);
}

static int local_statfs(struct strata_backend *be,
			struct strata_backend_statfs *out)
{
	struct statvfs sv;

	if (statvfs(local_be(be)->root, &sv) < 0)
		return -errno;
	out->total = (uint64_t)sv.f_blocks * sv.f_frsize;
	out->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	out->files = sv.f_files;
	out->ffree = sv.f_favail;
	return 0;
}

static int local_oflags(unsigned int flags)
{
	int o = O_CLOEXEC;

	if (flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC))
		o |= O_RDWR;
	else
		o |= O_RDONLY;
	if (flags & STRATA_OBJ_CREATE)
		o |= O_CREAT;
	if ((flags & (STRATA_OBJ_CREATE | STRATA_OBJ_EXCL)) ==
	    (STRATA_OBJ_CREATE | STRATA_OBJ_EXCL))
		o |= O_EXCL;
	if (flags & STRATA_OBJ_TRUNC)
		o |= O_TRUNC;
	return o;
}

/*
 * open(2) with O_NOATIME: reads through the mount keep their atime in the
 * catalog, and the object's own would only cost inode writes (the kernel's
 * passthrough reads go through this descriptor too). A file the process
 * may not do that for (another owner's, adopted by an import, when not
 * root) opens without.
 */
static int local_open_file(const char *path, int oflags)
{
	int fd = open(path, oflags | O_NOATIME, 0600);

	if (fd < 0 && errno == EPERM)
		fd = open(path, oflags, 0600);
	return fd;
}

static void local_pool_put(struct strata_backend *be, int fd)
{
	struct local_be *lb = local_be(be);
	struct stat st;

	/* Only an empty file no name points to can become another. */
	if (fstat(fd, &st) == 0 && st.st_nlink == 0 && st.st_size == 0) {
		pthread_mutex_lock(&lb->plock);
		if (lb->npool < LOCAL_POOL) {
			lb->pool[lb->npool++] = fd;
			fd = -1;
		}
		pthread_mutex_unlock(&lb->plock);
	}
	if (fd >= 0)
		close(fd);
}

static int local_pool_take(struct strata_backend *be)
{
	struct local_be *lb = local_be(be);
	int fd = -1;

	pthread_mutex_lock(&lb->plock);
	if (lb->npool > 0)
		fd = lb->pool[--lb->npool];
	pthread_mutex_unlock(&lb->plock);
	return fd;
}

/* Without O_TMPFILE: a scratch file in the key's directory, which list
 * skips and obj_link renames; returns its descriptor or -errno. */
static int local_anon_scratch(struct strata_backend *be, struct local_obj *lo)
{
	static unsigned long seq;
	const char *slash = strrchr(lo->anon_path, '/');
	char tmp[PATH_MAX];
	int fd, len;

	len = snprintf(tmp, sizeof(tmp), "%.*s/%s-anon-%d-%lu",
		       (int)(slash - lo->anon_path), lo->anon_path,
		       STRATA__BACKEND_TMP_PREFIX, (int)getpid(),
		       __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	if (len < 0 || (size_t)len >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT && local_mkparents(be, tmp) == 0)
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	lo->anon_tmp = strdup(tmp);
	if (!lo->anon_tmp) {
		unlink(tmp);
		close(fd);
		return -ENOMEM;
	}
	return fd;
}

/* Make an object without its key (STRATA_OBJ_ANON); path is the key's. */
static int local_anon_open(struct strata_backend *be, const char *path,
			   struct strata_obj *obj)
{
	struct local_obj *lo = local_obj(obj);
	struct local_be *lb = local_be(be);
	int fd = local_pool_take(be);

	if (fd < 0 && !__atomic_load_n(&lb->no_tmpfile, __ATOMIC_RELAXED)) {
		fd = local_open_file(lb->root, O_TMPFILE | O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno != EOPNOTSUPP && errno != EISDIR &&
		    errno != EINVAL)
			return -errno;
		/* The file system has no O_TMPFILE: no need to ask again. */
		if (fd < 0)
			__atomic_store_n(&lb->no_tmpfile, true,
					 __ATOMIC_RELAXED);
	}
	lo->anon_path = strdup(path);
	if (!lo->anon_path) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	if (fd < 0) {
		fd = local_anon_scratch(be, lo);
		if (fd < 0) {
			free(lo->anon_path);
			lo->anon_path = NULL;
			return fd;
		}
	}
	lo->fd = fd;
	lo->dfd = -1;
	pthread_mutex_init(&lo->dlock, NULL);
	return 0;
}

static int local_obj_open(struct strata_backend *be, const char *key,
			  unsigned int flags, struct strata_obj *obj)
{
	int oflags = local_oflags(flags);
	char path[PATH_MAX];
	struct stat st;
	int fd = -1;
	int ret;

	ret = local_path(be, key, path, sizeof(path));
	if (ret < 0)
		goto out;
	if (flags & STRATA_OBJ_ANON) { /* with CREATE and WRITE (registry) */
		ret = local_anon_open(be, path, obj);
		goto out;
	}
	fd = local_open_file(path, oflags);
	if (fd < 0 && errno == ENOENT && (flags & STRATA_OBJ_CREATE)) {
		ret = local_mkparents(be, path);
		if (ret < 0)
			goto out;
		fd = local_open_file(path, oflags);
	}
	if (fd < 0) {
		ret = -errno;
		if (ret != -ENOENT && ret != -EEXIST)
			strata_debug(STRATA_SUB_BACKEND,
				     "tier '%s': cannot open '%s': %s",
				     be->name, path, strerror(-ret));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
		goto out;
	}
	local_obj(obj)->fd = fd;
	local_obj(obj)->dfd = -1;
	pthread_mutex_init(&local_obj(obj)->dlock, NULL);
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static int local_obj_read(struct strata_obj *obj, uint64_t off, void *buf,
			  size_t len, size_t *nread)
{
	int fd = local_obj(obj)->fd;
	size_t done = 0;

	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	*nread = done;
	return 0;
}

static void local_bounce_make_key(void)
{
	pthread_key_create(&local_bounce_key, free);
}

/* This thread's aligned buffer for direct writes, or NULL. */
static void *local_bounce(void)
{
	void *buf;

	pthread_once(&local_bounce_once, local_bounce_make_key);
	buf = pthread_getspecific(local_bounce_key);
	if (!buf) {
		if (posix_memalign(&buf, LOCAL_DIRECT_ALIGN, LOCAL_DIRECT_MAX))
			return NULL;
		pthread_setspecific(local_bounce_key, buf);
	}
	return buf;
}

/* The O_DIRECT descriptor of the object, opened on first use, or -1. */
static int local_dfd(struct local_obj *lo)
{
	char path[64];
	int fd;

	pthread_mutex_lock(&lo->dlock);
	if (lo->dfd == -1) {
		/* Reopening through /proc reaches the same file even after a
		 * rename or unlink of its name. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", lo->fd);
		fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
		lo->dfd = fd >= 0 ? fd : LOCAL_DIRECT_NONE;
	}
	fd = lo->dfd;
	pthread_mutex_unlock(&lo->dlock);
	return fd >= 0 ? fd : -1;
}

/*
 * Write len bytes at off through the O_DIRECT descriptor. Returns 0 when
 * it did, 1 when the caller must write through the page cache instead, or
 * a negative errno.
 */
static int local_write_direct(struct local_obj *lo, uint64_t off,
			      const void *buf, size_t len)
{
	const void *from = buf;
	void *bounce;
	ssize_t n;
	int dfd;

	if (len < LOCAL_DIRECT_MIN || len > LOCAL_DIRECT_MAX ||
	    off % LOCAL_DIRECT_ALIGN || len % LOCAL_DIRECT_ALIGN)
		return 1;
	dfd = local_dfd(lo);
	if (dfd < 0)
		return 1;
	/* An aligned buffer (an S3 part buffer, from stage.c) goes as it
	 * is; others through this thread's aligned copy. */
	if ((uintptr_t)buf % LOCAL_DIRECT_ALIGN) {
		bounce = local_bounce();
		if (!bounce)
			return 1;
		memcpy(bounce, buf, len);
		from = bounce;
	}
	do {
		n = pwrite(dfd, from, len, (off_t)off);
	} while (n < 0 && errno == EINTR);
	if (n == (ssize_t)len)
		return 0;
	if (n < 0 && errno == EINVAL) {
		/* Alignment rules stricter than ours: stay buffered. */
		pthread_mutex_lock(&lo->dlock);
		if (lo->dfd >= 0)
			close(lo->dfd);
		lo->dfd = LOCAL_DIRECT_NONE;
		pthread_mutex_unlock(&lo->dlock);
		return 1;
	}
	if (n < 0)
		return -errno;
	return 1; /* short: the buffered path rewrites the whole range */
}

static int local_obj_write(struct strata_obj *obj, uint64_t off,
			   const void *buf, size_t len)
{
	struct local_obj *lo = local_obj(obj);
	int fd = lo->fd;
	size_t done = 0;
	int ret;

	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	ret = local_write_direct(lo, off, buf, len);
	if (ret <= 0)
		return ret;
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int local_obj_truncate(struct strata_obj *obj, uint64_t size)
{
	if (size > INT64_MAX)
		return -EFBIG;
	if (ftruncate(local_obj(obj)->fd, (off_t)size) < 0)
		return -errno;
	return 0;
}

static int local_obj_sync(struct strata_obj *obj, bool datasync)
{
	int fd = local_obj(obj)->fd;
	int r = datasync ? fdatasync(fd) : fsync(fd);

	return r < 0 ? -errno : 0;
}

static int local_obj_fallocate(struct strata_obj *obj, int mode, uint64_t off,
			       uint64_t len)
{
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	if (fallocate(local_obj(obj)->fd, mode, (off_t)off, (off_t)len) < 0)
		return -errno;
	return 0;
}

static int local_obj_fd(struct strata_obj *obj)
{
	return local_obj(obj)->fd;
}

/*
 * Link an anonymous object to its key. What the key held is replaced: a
 * leftover of an earlier life of the key (a crash before its replica was
 * recorded) must not survive.
 */
static int local_obj_link(struct strata_obj *obj)
{
	struct local_obj *lo = local_obj(obj);
	char proc[64];
	int tries;

	if (!lo->anon_path)
		return 0;
	if (lo->anon_tmp) {
		if (rename(lo->anon_tmp, lo->anon_path) < 0)
			return -errno;
		free(lo->anon_tmp);
		lo->anon_tmp = NULL;
		goto done;
	}
	/* linkat(AT_EMPTY_PATH) would need CAP_DAC_READ_SEARCH. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", lo->fd);
	for (tries = 0;; tries++) {
		if (linkat(AT_FDCWD, proc, AT_FDCWD, lo->anon_path,
			   AT_SYMLINK_FOLLOW) == 0)
			break;
		if (tries < 2 && errno == ENOENT &&
		    local_mkparents(obj->be, lo->anon_path) == 0)
			continue;
		if (tries < 2 && errno == EEXIST &&
		    (unlink(lo->anon_path) == 0 || errno == ENOENT))
			continue;
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': cannot link object '%s': %s",
			   obj->be->name, lo->anon_path, strerror(errno));
		return -errno;
	}
done:
	free(lo->anon_path);
	lo->anon_path = NULL;
	return 0;
}

static int local_obj_close(struct strata_obj *obj)
{
	struct local_obj *lo = local_obj(obj);
	int ret = 0;

	if (lo->anon_path) {
		/* Never linked: it stores nothing. */
		if (lo->anon_tmp) {
			unlink(lo->anon_tmp);
			free(lo->anon_tmp);
			lo->anon_tmp = NULL;
		} else if (lo->dfd < 0) {
			local_pool_put(obj->be, lo->fd);
			lo->fd = -1;
		}
		free(lo->anon_path);
		lo->anon_path = NULL;
	}
	/* The descriptor is gone whatever close(2) says; EINTR included. */
	if (lo->dfd >= 0 && close(lo->dfd) < 0 && errno != EINTR)
		ret = -errno;
	if (lo->fd >= 0 && close(lo->fd) < 0 && errno != EINTR)
		ret = -errno;
	lo->fd = -1;
	lo->dfd = -1;
	pthread_mutex_destroy(&lo->dlock);
	return ret;
}

static int local_stat_out(const struct stat *st, struct strata_obj_stat *out)
{
	if (S_ISDIR(st->st_mode))
		return -EISDIR;
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	out->size = (uint64_t)st->st_size;
	out->mtime = st->st_mtim;
	return 0;
}

static int local_stat(struct strata_backend *be, const char *key,
		      struct strata_obj_stat *out)
{
	char path[PATH_MAX];
	struct stat st;
	int ret;

	ret = local_path(be, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	if (stat(path, &st) < 0)
		return -errno;
	return local_stat_out(&st, out);
}

static int local_remove(struct strata_backend *be, const char *key)
{
	char path[PATH_MAX];
	int ret;

	ret = local_path(be, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	if (unlink(path) < 0)
		return -errno;
	return 0;
}

static int local_rename(struct strata_backend *be, const char *from,
			const char *to)
{
	char src[PATH_MAX];
	char dst[PATH_MAX];
	int ret;

	ret = local_path(be, from, src, sizeof(src));
	if (ret < 0)
		return ret;
	ret = local_path(be, to, dst, sizeof(dst));
	if (ret < 0)
		return ret;
	if (rename(src, dst) == 0)
		return 0;
	if (errno != ENOENT)
		return -errno;
	/* ENOENT: either the source is missing or the target's shard is. */
	if (access(src, F_OK) < 0)
		return -errno;
	ret = local_mkparents(be, dst);
	if (ret < 0)
		return ret;
	if (rename(src, dst) < 0)
		return -errno;
	return 0;
}

struct local_walk {
	strata_backend_list_cb cb;
	void *arg;
	bool tmp;	     /* visit the leftover temporaries, not objects */
	bool remove;	     /* with tmp: remove each before its cb */
	char path[PATH_MAX]; /* ROOT/prefix being walked */
	size_t keyoff;	     /* where keys start in path */
};

/* The regular file at w->path: its callback, after its removal when the
 * walk removes (a sweep). */
static int local_walk_file(struct local_walk *w, const struct stat *st)
{
	struct strata_obj_stat ost;

	if (local_stat_out(st, &ost) < 0)
		return 0;
	if (w->remove && unlink(w->path) < 0 && errno != ENOENT)
		return -errno;
	return w->cb(w->arg, w->path + w->keyoff, &ost);
}

/*
 * Walk path (of length len) recursively, one open directory per level. A
 * non-zero return from the callback, or an error, stops the walk.
 */
static int local_walk_dir(struct local_walk *w, size_t len)
{
	struct dirent *de;
	DIR *dir;
	int ret = 0;

	dir = opendir(len ? w->path : "/");
	if (!dir) {
		/* A shard removed while we walked is not an error. */
		if (errno == ENOENT && len + 1 != w->keyoff)
			return 0;
		return -errno;
	}
	for (;;) {
		struct stat st;
		size_t nlen;
		bool tmp;

		errno = 0;
		de = readdir(dir);
		if (!de) {
			ret = errno ? -errno : 0;
			break;
		}
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' ||
		     (de->d_name[1] == '.' && de->d_name[2] == '\0')))
			continue;
		tmp = strncmp(de->d_name, STRATA__BACKEND_TMP_PREFIX,
			      sizeof(STRATA__BACKEND_TMP_PREFIX) - 1) == 0;
		if (tmp && !w->tmp)
			continue;
		nlen = strlen(de->d_name);
		if (len + 1 + nlen >= sizeof(w->path)) {
			ret = -ENAMETOOLONG;
			break;
		}
		w->path[len] = '/';
		memcpy(w->path + len + 1, de->d_name, nlen + 1);
		if (lstat(w->path, &st) < 0)
			ret = errno == ENOENT ? 0 : -errno;
		else if (S_ISDIR(st.st_mode))
			ret = tmp ? 0 : local_walk_dir(w, len + 1 + nlen);
		else if (S_ISREG(st.st_mode) && tmp == w->tmp)
			ret = local_walk_file(w, &st);
		w->path[len] = '\0';
		if (ret)
			break;
	}
	closedir(dir);
	return ret;
}

static int local_walk(struct strata_backend *be, bool tmp, bool remove,
		      strata_backend_list_cb cb, void *arg)
{
	struct local_walk *w;
	size_t len;
	int ret;

	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->cb = cb;
	w->arg = arg;
	w->tmp = tmp;
	w->remove = remove;
	strata_strlcpy(w->path, local_be(be)->root, sizeof(w->path));
	len = strlen(w->path);
	if (len == 1)
		len = 0; /* root is "/": keys start right after it */
	w->path[len] = '\0';
	w->keyoff = len + 1;
	ret = local_walk_dir(w, len);
	free(w);
	return ret;
}

static int local_list(struct strata_backend *be, strata_backend_list_cb cb,
		      void *arg)
{
	return local_walk(be, false, false, cb, arg);
}

/* Scratch files of unnamed objects on file systems without O_TMPFILE. */
static int local_sweep(struct strata_backend *be, bool remove,
		       strata_backend_list_cb cb, void *arg)
{
	return local_walk(be, true, remove, cb, arg);
}

static int local_syncfs(struct strata_backend *be)
{
	int fd = open(local_be(be)->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (syncfs(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

const struct strata_backend_ops strata_local_ops = {
	.scheme = "file",
	.driver = "local",
	.caps = STRATA_BCAP_RANGE_READ | STRATA_BCAP_RANDOM_WRITE |
		STRATA_BCAP_RENAME | STRATA_BCAP_FD | STRATA_BCAP_FALLOCATE |
		STRATA_BCAP_ANON,
	.priv_size = sizeof(struct local_be),
	.obj_priv_size = sizeof(struct local_obj),
	.open = local_open,
	.close = local_close,
	.statfs = local_statfs,
	.syncfs = local_syncfs,
	.obj_open = local_obj_open,
	.obj_read = local_obj_read,
	.obj_write = local_obj_write,
	.obj_truncate = local_obj_truncate,
	.obj_sync = local_obj_sync,
	.obj_fallocate = local_obj_fallocate,
	.obj_fd = local_obj_fd,
	.obj_link = local_obj_link,
	.obj_close = local_obj_close,
	.stat = local_stat,
	.remove = local_remove,
	.rename = local_rename,
	.list = local_list,
	.sweep = local_sweep,
};
