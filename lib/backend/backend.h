/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/backend.h - the one interface to every storage tier.
 *
 * A backend stores objects: byte strings named by keys ("000/001/0...1a2b").
 * It knows nothing about inodes, paths, the catalog or policies; the key is
 * chosen by lib/vfs from a stable file id. Each driver (local, mem, nfs and
 * s3) fills one struct strata_backend_ops; the registry (registry.c)
 * maps a URL scheme to a driver. Capability bits say what a driver can do;
 * callers test bits, never driver names. Where a slot is NULL the wrappers
 * below either emulate the operation or return -EOPNOTSUPP.
 *
 * Errors are negative errno values. Threads: a struct strata_backend may be
 * used from any number of threads at once; a struct strata_obj (an open
 * object) may be used by several threads for reads and writes at distinct
 * offsets, as a file descriptor can, but is closed by exactly one.
 */
#ifndef STRATA_BACKEND_BACKEND_H
#define STRATA_BACKEND_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "cfg.h"

/* Longest key a driver must accept. */
#define STRATA_KEY_MAX 1024

enum strata_bcap {
	STRATA_BCAP_RANGE_READ = 1u << 0,   /* read any byte range */
	STRATA_BCAP_RANDOM_WRITE = 1u << 1, /* write in place at any offset */
	STRATA_BCAP_RENAME = 1u << 2,	    /* rename slot is set */
	STRATA_BCAP_FD = 1u << 3,	    /* objects are file descriptors */
	STRATA_BCAP_FALLOCATE = 1u << 4,    /* obj_fallocate slot is set */
	STRATA_BCAP_COPY = 1u << 5,	    /* copy slot is set (server side) */
	/* Write-only opens of files on this tier skip the kernel's page
	 * cache (see STRATA_VFS_DIRECT_IO): the driver copies what it is
	 * given into buffers of its own, so a cached copy on the way costs
	 * the writer one more copy and a page of memory per page written. */
	STRATA_BCAP_WRITE_AROUND = 1u << 6,
	/* Objects can be made without their key (STRATA_OBJ_ANON) and given
	 * it later (obj_link): a file created and closed unwritten then
	 * costs the store nothing. */
	STRATA_BCAP_ANON = 1u << 7,
};

/*
 * Objects of a driver without STRATA_BCAP_RANDOM_WRITE (S3) are immutable:
 * what a key holds is replaced whole, never changed in place. For them:
 *
 * - An object opened with STRATA_OBJ_WRITE is a stream of appends. Each
 *   obj_write must start where the stream ends (at 0 with TRUNC or for a
 *   new object, else at the stored object's size); any other offset fails
 *   with -EOPNOTSUPP and changes nothing.
 * - The bytes become the key's content only at obj_sync or obj_close,
 *   which return 0 once they are durable; until then readers of the key
 *   see its previous content (or none). A failed sync or close leaves the
 *   previous content in place and the written bytes are lost to the
 *   store: the caller must keep its own copy until the sync succeeds.
 *   Appending after a sync continues the same object.
 * - obj_truncate only accepts the stream's current size, or 0 (start
 *   over); anything else is -EOPNOTSUPP.
 * - obj_read on an object opened for writing is -EOPNOTSUPP: open the key
 *   again read-only.
 * - An object opened read-only reads the content the key held at open.
 * - strata_obj_abort() drops a stream: the key keeps what it held.
 */

enum strata_obj_flags {
	STRATA_OBJ_READ = 1u << 0,
	STRATA_OBJ_WRITE = 1u << 1,
	STRATA_OBJ_CREATE = 1u << 2, /* create when missing */
	STRATA_OBJ_EXCL = 1u << 3,   /* with CREATE: fail with -EEXIST */
	STRATA_OBJ_TRUNC = 1u << 4,  /* start empty */
	/*
	 * With CREATE and WRITE, on a driver with STRATA_BCAP_ANON: the
	 * object starts empty and without its key. Nothing under the key
	 * changes (reads, stat, list and remove of the key see what it held)
	 * until strata_obj_link(); closed before that, it stores nothing and
	 * leaves nothing behind. After a crash, nothing either, or a
	 * temporary that the sweep op finds (the local driver on a file
	 * system without O_TMPFILE). Without CREATE and WRITE,
	 * strata_obj_open() refuses it with -EINVAL.
	 */
	STRATA_OBJ_ANON = 1u << 5,
};

struct strata_obj_stat {
	uint64_t size;
	struct timespec mtime;
};

struct strata_backend_statfs {
	uint64_t total; /* bytes */
	uint64_t avail; /* bytes */
	uint64_t files; /* object slots, 0 if unbounded */
	uint64_t ffree;
};

struct strata_backend;

/* An open object. Allocated by the core with ops->obj_priv_size bytes for the
 * driver at priv. */
struct strata_obj {
	struct strata_backend *be;
	unsigned int flags; /* enum strata_obj_flags it was opened with */
	void *priv;
};

/* Called once per object by list; return non-zero to stop the walk (that
 * value is then returned by strata_backend_list). */
typedef int (*strata_backend_list_cb)(void *arg, const char *key,
				      const struct strata_obj_stat *st);

struct strata_backend_ops {
	const char *scheme;   /* URL scheme: "file", "mem", "nfs", "s3" */
	const char *driver;   /* driver name for messages: "local", ... */
	unsigned int caps;    /* enum strata_bcap */
	size_t priv_size;     /* per backend, zeroed, at be->priv */
	size_t obj_priv_size; /* per open object, zeroed, at obj->priv */

	/* Connect or check the store; a failure message goes to err. */
	int (*open)(struct strata_backend *be, const struct strata_uri *uri,
		    char *err, size_t errlen);
	void (*close)(struct strata_backend *be);
	int (*statfs)(struct strata_backend *be,
		      struct strata_backend_statfs *out);
	/* Make every object written so far durable (at unmount); NULL when
	 * closing an object already does. */
	int (*syncfs)(struct strata_backend *be);

	int (*obj_open)(struct strata_backend *be, const char *key,
			unsigned int flags, struct strata_obj *obj);
	/* Short reads only at end of object. */
	int (*obj_read)(struct strata_obj *obj, uint64_t off, void *buf,
			size_t len, size_t *nread);
	/* obj_read that may lend its own memory instead of copying (see
	 * strata_obj_read_lend()); NULL when the driver never lends. */
	int (*obj_read_lend)(struct strata_obj *obj, uint64_t off, void *buf,
			     size_t len, size_t *nread, const void **data,
			     void **ref);
	/* Give back what obj_read_lend lent (ref is never NULL). */
	void (*ref_put)(struct strata_backend *be, void *ref);
	/* Writes all of buf or fails. */
	int (*obj_write)(struct strata_obj *obj, uint64_t off, const void *buf,
			 size_t len);
	/* Where obj_write would copy the next bytes of a stream to; see
	 * strata_obj_wbuf(). NULL when the driver keeps no such buffer. */
	int (*obj_wbuf)(struct strata_obj *obj, void **buf, size_t *room);
	int (*obj_truncate)(struct strata_obj *obj, uint64_t size);
	int (*obj_sync)(struct strata_obj *obj, bool datasync);
	int (*obj_fallocate)(struct strata_obj *obj, int mode, uint64_t off,
			     uint64_t len);    /* NULL unless BCAP_FALLOCATE */
	int (*obj_fd)(struct strata_obj *obj); /* NULL unless BCAP_FD */
	/* Give an object opened with STRATA_OBJ_ANON its key; NULL unless
	 * BCAP_ANON. */
	int (*obj_link)(struct strata_obj *obj);
	/* Releases the object whatever it returns; an error means data
	 * written through it may not have reached the store. */
	int (*obj_close)(struct strata_obj *obj);
	/* Release the object and store nothing more: what was written since
	 * the last obj_sync is dropped where the protocol allows (an S3
	 * stream); NULL when closing is the same (writes already landed). */
	int (*obj_abort)(struct strata_obj *obj);

	int (*stat)(struct strata_backend *be, const char *key,
		    struct strata_obj_stat *out);
	int (*remove)(struct strata_backend *be, const char *key);
	int (*rename)(struct strata_backend *be, const char *from,
		      const char *to); /* NULL unless BCAP_RENAME */
	/* Make to hold what from holds, in the store itself; from stays.
	 * NULL unless BCAP_COPY; -EOPNOTSUPP for an object it cannot copy
	 * (the core then copies by reading and writing). */
	int (*copy)(struct strata_backend *be, const char *from,
		    const char *to);
	int (*list)(struct strata_backend *be, strata_backend_list_cb cb,
		    void *arg);
	/* The driver's leftover temporaries (a write or an unnamed object
	 * a crash cut short), which list skips: cb gets each by its path
	 * under the tier, after its removal when remove is set. Only for a
	 * tier no mount is using. NULL when the driver leaves none. */
	int (*sweep)(struct strata_backend *be, bool remove,
		     strata_backend_list_cb cb, void *arg);
};

struct strata_backend {
	const struct strata_backend_ops *ops;
	char name[64]; /* the tier's name, for messages */
	void *priv;
};

/*
 * Find the driver for uri->scheme and open it. name is the tier name used in
 * messages. On failure returns -EPROTONOSUPPORT (no driver for the scheme) or
 * the driver's error, and writes a message naming the tier and the cause to
 * err. The backend is freed by strata_backend_close().
 */
int strata_backend_open(const struct strata_uri *uri, const char *name,
			struct strata_backend **out, char *err, size_t errlen);
void strata_backend_close(struct strata_backend *be);

/* The driver registered for a scheme, or NULL. */
const struct strata_backend_ops *strata_backend_driver(const char *scheme);

static inline unsigned int strata_backend_caps(const struct strata_backend *be)
{
	return be->ops->caps;
}

int strata_backend_statfs(struct strata_backend *be,
			  struct strata_backend_statfs *out);
/* Everything written through be so far survives a power cut after this. */
int strata_backend_syncfs(struct strata_backend *be);
int strata_backend_stat(struct strata_backend *be, const char *key,
			struct strata_obj_stat *out);
int strata_backend_remove(struct strata_backend *be, const char *key);
/* Emulated by copy and remove when the driver cannot rename. */
int strata_backend_rename(struct strata_backend *be, const char *from,
			  const char *to);
/* Make to a copy of from, in the store when the driver can (BCAP_COPY),
 * else by reading and writing; a failure leaves to missing or as it was. */
int strata_backend_copy(struct strata_backend *be, const char *from,
			const char *to);
int strata_backend_list(struct strata_backend *be, strata_backend_list_cb cb,
			void *arg);
/* See the sweep op; 0 (nothing found) for drivers without one. */
int strata_backend_sweep(struct strata_backend *be, bool remove,
			 strata_backend_list_cb cb, void *arg);

/* Open an object; *out is freed by strata_obj_close() only. */
int strata_obj_open(struct strata_backend *be, const char *key,
		    unsigned int flags, struct strata_obj **out);
int strata_obj_read(struct strata_obj *obj, uint64_t off, void *buf, size_t len,
		    size_t *nread);
/*
 * strata_obj_read(), except that where the driver holds the bytes already
 * (S3 read-ahead) it may lend them rather than copy them into buf. *data
 * is where the *nread bytes are: buf, or the driver's memory, which then
 * stays valid and unchanged until strata_backend_ref_put(obj->be, *ref),
 * even after the object is closed. *ref is NULL when nothing was lent.
 */
int strata_obj_read_lend(struct strata_obj *obj, uint64_t off, void *buf,
			 size_t len, size_t *nread, const void **data,
			 void **ref);
/* Give back what strata_obj_read_lend() lent; accepts a NULL ref. */
void strata_backend_ref_put(struct strata_backend *be, void *ref);
int strata_obj_write(struct strata_obj *obj, uint64_t off, const void *buf,
		     size_t len);
/*
 * Lend the memory where the next bytes of obj's stream go (an object of an
 * immutable store opened for writing): *buf with room for *room bytes,
 * page-aligned when the stream's length is. Bytes put there become the
 * stream's with strata_obj_write(obj, off, *buf, n) for n <= *room, which
 * then copies nothing; the memory is the driver's again at any other call
 * on obj. *room is 0 when the driver has no such memory to lend.
 */
int strata_obj_wbuf(struct strata_obj *obj, void **buf, size_t *room);
int strata_obj_truncate(struct strata_obj *obj, uint64_t size);
int strata_obj_sync(struct strata_obj *obj, bool datasync);
/* -EOPNOTSUPP when the driver cannot allocate. */
int strata_obj_fallocate(struct strata_obj *obj, int mode, uint64_t off,
			 uint64_t len);
/* The object's file descriptor (borrowed, valid until close), or -1. */
int strata_obj_fd(struct strata_obj *obj);
/*
 * Give an object opened with STRATA_OBJ_ANON the key it was opened with,
 * replacing whatever the key held; its bytes are then the key's, durable
 * once strata_obj_sync() says so. 0 at once for any other object, or one
 * linked already.
 */
int strata_obj_link(struct strata_obj *obj);
/* Accepts NULL. */
int strata_obj_close(struct strata_obj *obj);
/* Close without storing anything more (see obj_abort); accepts NULL. */
int strata_obj_abort(struct strata_obj *obj);

extern const struct strata_backend_ops strata_local_ops;
extern const struct strata_backend_ops strata_mem_ops;
/* Linked only when built with STRATA_WITH_NFS. */
extern const struct strata_backend_ops strata_nfs_ops;
/* Linked only when built with STRATA_WITH_S3. */
extern const struct strata_backend_ops strata_s3_ops;

#endif
