/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/ops.c - the fuse_lowlevel_ops table.
 *
 * Every operation unpacks its request, makes one strata_vfs_* call and
 * replies; the sign of an error is flipped here, once. No SQL, no backend
 * and no policy here. Slots left NULL are answered by libfuse with ENOSYS,
 * or handled by the kernel itself: POSIX and BSD locks stay local to the
 * mount, and access checks are the kernel's (default_permissions).
 *
 * Threads: callbacks run on libfuse's worker threads; each keeps its own
 * read buffer (a pthread key), reused for every read it serves.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "fuse_int.h"
#include "log.h"

#define OPS_READ_MAX STRATA_FUSE_READ_MAX

static pthread_key_t ops_scratch_key;
static pthread_once_t ops_scratch_once = PTHREAD_ONCE_INIT;

static void ops_scratch_make_key(void)
{
	pthread_key_create(&ops_scratch_key, free);
}

/* A per-thread buffer for reads: newly allocated memory is slow. */
static void *ops_scratch(void)
{
	void *buf;

	pthread_once(&ops_scratch_once, ops_scratch_make_key);
	buf = pthread_getspecific(ops_scratch_key);
	if (!buf) {
		buf = malloc(OPS_READ_MAX);
		if (buf)
			pthread_setspecific(ops_scratch_key, buf);
	}
	return buf;
}

static struct strata_fuse *ops_pf(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void ops_cred(fuse_req_t req, struct strata_cred *cred)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);

	cred->uid = ctx->uid;
	cred->gid = ctx->gid;
}

static void ops_reply_entry(fuse_req_t req, int ret, const struct stat *st)
{
	struct strata_fuse *pf = ops_pf(req);
	struct fuse_entry_param e;

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.attr = *st;
	e.attr_timeout = pf->attr_ttl;
	e.entry_timeout = pf->entry_ttl;
	if (fuse_reply_entry(req, &e) != 0)
		strata_vfs_forget(pf->vfs, e.ino, 1); /* kernel never saw it */
}

static void ops_reply_attr(fuse_req_t req, int ret, const struct stat *st)
{
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, st, ops_pf(req)->attr_ttl);
}

static void ops_init(void *userdata, struct fuse_conn_info *conn)
{
	struct strata_fuse *pf = userdata;

	/* Reads are spliced from the backing file when the tier allows. */
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	/* Locks stay local to the mount: the kernel handles them. */
	conn->want &= ~(FUSE_CAP_POSIX_LOCKS | FUSE_CAP_FLOCK_LOCKS);
	conn->max_write = pf->opts.max_write;
	conn->max_readahead = OPS_READ_MAX;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
	strata__fuse_pt_init(pf);
}

static void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct strata_fuse *pf = ops_pf(req);
	struct fuse_entry_param e;
	struct stat st;
	int ret = strata_vfs_lookup(pf->vfs, parent, name, &st);

	if (ret == -ENOENT) {
		/* The kernel may cache the absence: names only appear through
		 * this mount, and the kernel sees each one appear. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = pf->entry_ttl;
		fuse_reply_entry(req, &e);
		return;
	}
	ops_reply_entry(req, ret, &st);
}

static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	strata_vfs_forget(ops_pf(req)->vfs, ino, nlookup);
	fuse_reply_none(req);
}

static void ops_forget_multi(fuse_req_t req, size_t count,
			     struct fuse_forget_data *forgets)
{
	struct strata_vfs *vfs = ops_pf(req)->vfs;

	for (size_t i = 0; i < count; i++)
		strata_vfs_forget(vfs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void ops_getattr(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	struct stat st;
	int ret = strata_vfs_getattr(ops_pf(req)->vfs, ino, &st);

	ops_reply_attr(req, ret, &st);
}

static const struct {
	int fuse;
	unsigned int vfs;
} ops_set_bits[] = {
	{ FUSE_SET_ATTR_MODE, STRATA_VFS_SET_MODE },
	{ FUSE_SET_ATTR_UID, STRATA_VFS_SET_UID },
	{ FUSE_SET_ATTR_GID, STRATA_VFS_SET_GID },
	{ FUSE_SET_ATTR_SIZE, STRATA_VFS_SET_SIZE },
	{ FUSE_SET_ATTR_ATIME, STRATA_VFS_SET_ATIME },
	{ FUSE_SET_ATTR_MTIME, STRATA_VFS_SET_MTIME },
	{ FUSE_SET_ATTR_ATIME_NOW, STRATA_VFS_SET_ATIME_NOW },
	{ FUSE_SET_ATTR_MTIME_NOW, STRATA_VFS_SET_MTIME_NOW },
	{ FUSE_SET_ATTR_CTIME, STRATA_VFS_SET_CTIME },
};

static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	unsigned int valid = 0;
	struct stat st;
	int ret;

	for (size_t i = 0; i < sizeof(ops_set_bits) / sizeof(ops_set_bits[0]);
	     i++) {
		if (to_set & ops_set_bits[i].fuse)
			valid |= ops_set_bits[i].vfs;
	}
	ret = strata_vfs_setattr(ops_pf(req)->vfs, ino, fi ? fi->fh : 0, attr,
				 valid, &st);
	ops_reply_attr(req, ret, &st);
}

static void ops_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX + 1];
	int ret = strata_vfs_readlink(ops_pf(req)->vfs, ino, buf, sizeof(buf));

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_readlink(req, buf);
}

static void ops_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, dev_t rdev)
{
	struct strata_cred cred;
	struct stat st;
	int ret;

	ops_cred(req, &cred);
	ret = strata_vfs_mknod(ops_pf(req)->vfs, &cred, parent, name, mode,
			       rdev, &st);
	ops_reply_entry(req, ret, &st);
}

static void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode)
{
	struct strata_cred cred;
	struct stat st;
	int ret;

	ops_cred(req, &cred);
	ret = strata_vfs_mkdir(ops_pf(req)->vfs, &cred, parent, name, mode,
			       &st);
	ops_reply_entry(req, ret, &st);
}

static void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			const char *name)
{
	struct strata_cred cred;
	struct stat st;
	int ret;

	ops_cred(req, &cred);
	ret = strata_vfs_symlink(ops_pf(req)->vfs, &cred, link, parent, name,
				 &st);
	ops_reply_entry(req, ret, &st);
}

static void ops_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		     const char *newname)
{
	struct stat st;
	int ret =
		strata_vfs_link(ops_pf(req)->vfs, ino, newparent, newname, &st);

	ops_reply_entry(req, ret, &st);
}

static void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -strata_vfs_unlink(ops_pf(req)->vfs, parent, name));
}

static void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, -strata_vfs_rmdir(ops_pf(req)->vfs, parent, name));
}

static void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname,
		       unsigned int flags)
{
	fuse_reply_err(req, -strata_vfs_rename(ops_pf(req)->vfs, parent, name,
					       newparent, newname, flags));
}

static void ops_fill_open(fuse_req_t req, struct fuse_file_info *fi,
			  uint64_t fh, unsigned int oflags)
{
	fi->fh = fh;
	fi->keep_cache = (oflags & STRATA_VFS_KEEP_CACHE) != 0;
	fi->noflush = (oflags & STRATA_VFS_NO_FLUSH) != 0;
	fi->direct_io = (oflags & STRATA_VFS_DIRECT_IO) != 0;
	/* The reply sent next on this thread is this open's. */
	strata__fuse_pt_mark(
		(oflags & STRATA_VFS_PASSTHROUGH) ?
			strata_vfs_backing_id(ops_pf(req)->vfs, fh) :
			0);
}

static void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, struct fuse_file_info *fi)
{
	struct strata_fuse *pf = ops_pf(req);
	struct strata_cred cred;
	struct fuse_entry_param e;
	unsigned int oflags = 0;
	uint64_t fh = 0;
	int ret;

	ops_cred(req, &cred);
	memset(&e, 0, sizeof(e));
	ret = strata_vfs_create(pf->vfs, &cred, parent, name, mode, fi->flags,
				&e.attr, &fh, &oflags);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	ops_fill_open(req, fi, fh, oflags);
	e.ino = e.attr.st_ino;
	e.attr_timeout = pf->attr_ttl;
	e.entry_timeout = pf->entry_ttl;
	ret = fuse_reply_create(req, &e, fi);
	strata__fuse_pt_mark(0);
	if (ret != 0) {
		/* The kernel never saw the open file or the entry. */
		strata_vfs_release(pf->vfs, fh);
		strata_vfs_forget(pf->vfs, e.ino, 1);
	}
}

static void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct strata_fuse *pf = ops_pf(req);
	unsigned int oflags = 0;
	uint64_t fh = 0;
	int ret = strata_vfs_open(pf->vfs, ino, fi->flags, &fh, &oflags);

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	ops_fill_open(req, fi, fh, oflags);
	ret = fuse_reply_open(req, fi);
	strata__fuse_pt_mark(0);
	if (ret != 0)
		strata_vfs_release(pf->vfs, fh); /* open was interrupted */
}

static void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct strata_vfs *vfs =
		ops_pf(req)->vfs; /* req is gone once replied */
	struct strata_vfs_buf vb;
	void *scratch = ops_scratch();
	int ret;

	if (!scratch) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (size > OPS_READ_MAX)
		size = OPS_READ_MAX;
	ret = strata_vfs_read(vfs, fi->fh, (uint64_t)off, size, scratch, &vb);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (vb.fd >= 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(vb.len);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = vb.fd;
		bv.buf[0].pos = (off_t)vb.off;
		/* A ring entry takes the reply in memory, not a pipe. */
		fuse_reply_data(req, &bv,
				strata__fuse_uring_serving() ?
					FUSE_BUF_NO_SPLICE :
					FUSE_BUF_SPLICE_MOVE);
		return;
	}
	/* A loan from the tier (vb.ref) is given back once sent. */
	fuse_reply_buf(req, vb.mem, vb.len);
	strata_vfs_buf_release(vfs, &vb);
}

static void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		      size_t size, off_t off, struct fuse_file_info *fi)
{
	size_t written = 0;
	int ret = strata_vfs_write(ops_pf(req)->vfs, fi->fh, (uint64_t)off, buf,
				   size, &written);

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_write(req, written);
}

static void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -strata_vfs_flush(ops_pf(req)->vfs, fi->fh));
}

static void ops_release(fuse_req_t req, fuse_ino_t ino,
			struct fuse_file_info *fi)
{
	fuse_reply_err(req, -strata_vfs_release(ops_pf(req)->vfs, fi->fh));
}

static void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		      struct fuse_file_info *fi)
{
	fuse_reply_err(req,
		       -strata_vfs_fsync(ops_pf(req)->vfs, fi->fh, datasync));
}

struct ops_dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size;
	size_t used;
	bool plus;
};

static int ops_add_dirent(void *arg, const char *name, const struct stat *st,
			  uint64_t next_off)
{
	struct ops_dirbuf *db = arg;
	struct strata_fuse *pf = ops_pf(db->req);
	size_t room = db->size - db->used;
	size_t need;

	if (db->plus) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.ino = st->st_ino;
		e.attr = *st;
		e.attr_timeout = pf->attr_ttl;
		e.entry_timeout = pf->entry_ttl;
		need = fuse_add_direntry_plus(db->req, db->buf + db->used, room,
					      name, &e, (off_t)next_off);
	} else {
		need = fuse_add_direntry(db->req, db->buf + db->used, room,
					 name, st, (off_t)next_off);
	}
	if (need > room)
		return 1;
	db->used += need;
	return 0;
}

static void ops_readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			       off_t off, bool plus)
{
	struct ops_dirbuf db = { .req = req, .size = size, .plus = plus };
	int ret;

	db.buf = malloc(size);
	if (!db.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = strata_vfs_readdir(ops_pf(req)->vfs, ino, (uint64_t)off, plus,
				 ops_add_dirent, &db);
	if (ret < 0 && db.used == 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_buf(req, db.buf, db.used);
	free(db.buf);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	ops_readdir_common(req, ino, size, off, false);
}

static void ops_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			    off_t off, struct fuse_file_info *fi)
{
	ops_readdir_common(req, ino, size, off, true);
}

static void ops_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			 struct fuse_file_info *fi)
{
	fuse_reply_err(req, -strata_vfs_fsyncdir(ops_pf(req)->vfs, ino));
}

static void ops_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int ret = strata_vfs_statfs(ops_pf(req)->vfs, &sv);

	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_statfs(req, &sv);
}

static void ops_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 const char *value, size_t size, int flags)
{
	fuse_reply_err(req, -strata_vfs_setxattr(ops_pf(req)->vfs, ino, name,
						 value, size, flags));
}

/* getxattr and listxattr: size 0 asks for the length. */
static void ops_reply_xattr(fuse_req_t req, int ret, const char *buf,
			    size_t size, size_t len)
{
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else if (size == 0)
		fuse_reply_xattr(req, len);
	else
		fuse_reply_buf(req, buf, len);
}

static void ops_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			 size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	size_t len = 0;
	int ret;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = strata_vfs_getxattr(ops_pf(req)->vfs, ino, name, buf, size, &len);
	ops_reply_xattr(req, ret, buf, size, len);
	free(buf);
}

static void ops_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char *buf = size ? malloc(size) : NULL;
	size_t len = 0;
	int ret;

	if (size && !buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ret = strata_vfs_listxattr(ops_pf(req)->vfs, ino, buf, size, &len);
	ops_reply_xattr(req, ret, buf, size, len);
	free(buf);
}

static void ops_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	fuse_reply_err(req,
		       -strata_vfs_removexattr(ops_pf(req)->vfs, ino, name));
}

static void ops_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			  off_t offset, off_t length, struct fuse_file_info *fi)
{
	fuse_reply_err(req, -strata_vfs_fallocate(ops_pf(req)->vfs, fi->fh,
						  mode, (uint64_t)offset,
						  (uint64_t)length));
}

const struct fuse_lowlevel_ops strata__fuse_ops = {
	.init = ops_init,
	.lookup = ops_lookup,
	.forget = ops_forget,
	.forget_multi = ops_forget_multi,
	.getattr = ops_getattr,
	.setattr = ops_setattr,
	.readlink = ops_readlink,
	.mknod = ops_mknod,
	.mkdir = ops_mkdir,
	.symlink = ops_symlink,
	.link = ops_link,
	.unlink = ops_unlink,
	.rmdir = ops_rmdir,
	.rename = ops_rename,
	.create = ops_create,
	.open = ops_open,
	.read = ops_read,
	.write = ops_write,
	.flush = ops_flush,
	.release = ops_release,
	.fsync = ops_fsync,
	.readdir = ops_readdir,
	.readdirplus = ops_readdirplus,
	.fsyncdir = ops_fsyncdir,
	.statfs = ops_statfs,
	.setxattr = ops_setxattr,
	.getxattr = ops_getxattr,
	.listxattr = ops_listxattr,
	.removexattr = ops_removexattr,
	.fallocate = ops_fallocate,
};
