/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lib/backend/nfs.c - the NFS driver ("nfs://" tiers), speaking NFSv3 itself
 * through libnfs, without a kernel mount.
 *
 * URL: nfs://HOST/EXPORT/PREFIX?nfsport=N&mountport=M&conns=4&timeout=10
 * &window=8. conns (contexts in the pool), timeout (seconds per RPC) and
 * window (MiB of write-behind per object) are ours; the
 * libnfs options in NFS_LIBNFS_KEYS pass through to libnfs, whose URL parser
 * is the only way to set its ports. At open the driver mounts the whole path
 * and, while the server refuses, one component less: what is left over is
 * the prefix inside the export, created when missing. Key K is the file
 * PREFIX/K; shard directories are made on demand (0700), objects 0600.
 *
 * Each libnfs context is one TCP connection and not thread-safe, so the
 * driver keeps a pool of them: a caller takes a free one (nb->lock,
 * nb->cond), runs its RPCs synchronously and gives it back. A call failing
 * with a transport error or a timeout gets -EIO and its context is dropped;
 * the next caller to pick that slot mounts a fresh one, so a tier serves
 * again once its server is back, without a restart.
 *
 * An open object keeps one struct nfsfh, opened on whichever context was
 * free, and any context may then use it: an NFSv3 file handle is an opaque
 * token valid server-wide, and libnfs's struct nfsfh holds no pointer to
 * the context that made it. With libnfs's read-ahead and page cache left
 * off (we never turn them on), pread, pwrite, fsync and ftruncate only read
 * it, so one object's I/O runs on several connections at once instead of
 * queueing behind one. It costs no descriptor. A handle gone stale (say the
 * export was re-created) is re-opened by its key, under o->lock held
 * exclusively; I/O holds o->lock shared. Writes are UNSTABLE and made
 * durable by COMMIT at sync and close; if a connection was dropped between
 * the first uncommitted write and the COMMIT, the server may have restarted
 * and lost them, so sync reports -EIO rather than guess.
 *
 * Writes go behind: obj_write copies the data into pooled buffers and
 * queues it to a per-tier I/O thread, which keeps many WRITE RPCs in
 * flight on a TCP connection of its own (nb->wconn), driven by poll(). It
 * encodes those calls itself and sends each buffer as it is (nb_ws_*):
 * libnfs would copy every WRITE's data into an RPC buffer it allocates.
 * obj_write returns at once unless the object has nb->window bytes
 * unanswered, or the tier nb->wtotal bytes of buffers. The first error of
 * a write in flight is kept on the object and returned by the next
 * obj_write, and by the next obj_sync or obj_close, which clear it; a
 * dropped wconn fails its writes with -EIO and bumps nb->gen.
 * Reads, truncation, sync, close, and open, stat, rename and remove by
 * key first wait for the writes admitted before them to that file, so
 * every caller reads its writes; writes to overlapping ranges of one
 * object are never in flight together. As every byte written is copied
 * here anyway, the driver asks to be written around the kernel's page
 * cache (STRATA_BCAP_WRITE_AROUND).
 *
 * Sequential reads are served ahead: the I/O thread also issues READs on
 * a second connection of its own (nb->rconn) for the bytes past a
 * sequential reader, and reads each reply's data straight into a pooled
 * buffer on the object (nb_rs_*, nb_ra_read), which a change this tier
 * makes to the file voids.
 *
 * Threads: any number may call in. Lock order: a pool slot, then o->lock,
 * then o->mlock or nb->wlock; o->ralock, then nb->wlock; o->ralock is
 * never held with a pool slot or o->lock, nor across an RPC, and nb->lock
 * is never held across an RPC. No thread waits for write-behind or
 * read-ahead while holding a pool slot or o->lock (the I/O thread takes
 * both to re-open a stale handle). nb->wconn and nb->rconn (struct
 * nb_conn: socket and send queue), nb->flight, nb->rflight and nb->redo
 * belong to the I/O thread alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h> /* before libnfs.h, which uses struct timeval */
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <nfsc/libnfs.h>
#include <nfsc/libnfs-raw.h>
#include <nfsc/libnfs-raw-nfs.h>

#include "backend.h"
#include "backend_int.h"
#include "log.h"
#include "util.h"

#define NFS_CONNS_DEFAULT 4u
#define NFS_CONNS_MAX 64u
#define NFS_TIMEOUT_DEFAULT 10 /* seconds */
#define NFS_TIMEOUT_MAX 3600
/* Bytes handed to one libnfs call; it splits them into rsize/wsize RPCs
 * and keeps them in flight together. */
#define NFS_IO_MAX (8u << 20)
/* Write-behind: a write is cut into pieces of at most one WRITE RPC
 * (wsize, at most NFS_WB_CHUNK); pieces up to NFS_WB_SMALL get a buffer
 * of their own size, bigger ones a pooled NFS_WB_CHUNK buffer. */
#define NFS_WB_CHUNK (1u << 20)
#define NFS_WB_SMALL (64u << 10)
#define NFS_WB_WINDOW_DEFAULT 8u /* MiB in flight per object */
#define NFS_WB_WINDOW_MAX 256u
#define NFS_WB_TOTAL_MIN (64u << 20) /* buffer bytes per tier */
#define NFS_WB_KEEP 16u		     /* pooled buffers kept for reuse */
#define NFS_WB_TICK_MS 100 /* libnfs timeouts are checked this often */
/* Read-ahead: sequential reads of an object prefetch up to NFS_RA_AHEAD
 * bytes past themselves in READs of NFS_RA_CHUNK (at most rsize), into pooled
 * buffers of at most the larger of NFS_RA_TOTAL_MIN and four windows per
 * tier. */
#define NFS_RA_AHEAD (8u << 20) /* bytes ahead per object */
#define NFS_RA_CHUNK (1u << 20)
#define NFS_RA_TOTAL_MIN (32u << 20)
#define NFS_RA_GENS 256u /* change counters, by hash of the path */
/* The WRITE connection (nb_ws_*): ONC RPC over TCP, RFC 5531 and 1813. */
#define NFS_WS_HDR_MAX 192u  /* record mark, call header, WRITE3args */
#define NFS_WS_REC_MAX 4096u /* a reply; a WRITE3res is about 200 */
#define NFS_WS_RBUF (16u << 10)
#define NFS_WS_IOV 48		/* iovecs per sendmsg, 3 per WRITE */
#define NFS_WS_MACHINE "strata" /* AUTH_SYS machine name */
#define NFS_RS_HEAD_MAX 1024u	/* a READ reply up to its data */

/*
 * libnfs's own struct nfs_fh (libnfs-private.h), which nfs_get_fh() in
 * libnfs-raw.h returns without defining: the raw NFSv3 file handle. Its
 * layout has been the same since libnfs 1.x; nb_ws_encode checks the
 * length it finds.
 */
struct nfs_fh {
	int len;
	char *val;
};

/* libnfs URL options we pass through; version is checked to be 3. */
static const char *const nb_libnfs_keys[] = {
	"nfsport",    "mountport", "uid", "gid",
	"tcp-syncnt", "debug",	   "if",  "version",
};

/* A call on a connection's send queue, embedded in its request. */
struct nb_sreq {
	struct nb_sreq *snext; /* conn->sq */
	size_t sent;	       /* bytes of the call sent so far */
};

/*
 * One of the I/O thread's own RPC connections (the WRITE one and the
 * READ one) and the calls it has left to send. iov_max, total and fill
 * describe the calls it carries: fill points iov at q's unsent bytes and
 * returns how many iovecs it used, at most iov_max.
 */
struct nb_conn {
	int fd;			 /* -1: connect at next use */
	bool bad;		 /* drop fd after this round */
	bool down;		 /* the last connect failed */
	struct nb_sreq *sq_head; /* issued, bytes left to send, in order */
	struct nb_sreq *sq_tail;
	size_t iov_max;
	size_t (*total)(struct nb_sreq *q);
	size_t (*fill)(struct nb_sreq *q, struct iovec *iov);
};

struct nb_be {
	char server[256];
	char export[PATH_MAX];	  /* what was mounted */
	char root[PATH_MAX];	  /* "/PREFIX" inside the export, or "" */
	char url[PATH_MAX + 300]; /* nfs://HOST/PATH, for messages */
	char opts[1024];	  /* libnfs options, "a=1&b=2" */
	int timeout_ms;
	unsigned int nconns;

	pthread_mutex_t lock;
	pthread_cond_t cond;	  /* a slot became free */
	struct nfs_context **ctx; /* NULL: mount at next use */
	bool *busy;		  /* guarded by lock */
	unsigned int nfree;	  /* guarded by lock */
	bool down;		  /* last (re)mount failed; guarded by lock */
	atomic_ulong gen;	  /* bumped when a context is dropped */
	uint64_t readmax;
	uint64_t writemax;

	/* Write-behind, see nb_obj_write. */
	size_t window; /* bytes in flight per object */
	size_t wtotal; /* buffer bytes per tier */
	size_t wchunk; /* bytes per WRITE RPC */
	pthread_t wthread;
	bool wstarted;
	int wefd; /* eventfd: wakes the I/O thread */
	pthread_mutex_t wlock;
	pthread_cond_t wcond;  /* a piece completed */
	struct nb_wreq *whead; /* guarded by wlock: admitted, by seq */
	struct nb_wreq *wtail;
	uint64_t wseq;		 /* guarded by wlock: next seq */
	struct nb_wreq *wq_head; /* guarded by wlock: to issue, in order */
	struct nb_wreq *wq_tail;
	struct nb_wreq *wfree; /* guarded by wlock: pooled buffers */
	unsigned int nwfree;   /* guarded by wlock */
	size_t wbytes;	       /* guarded by wlock: buffer bytes handed out */
	bool wstop;	       /* guarded by wlock */
	/* Owned by the I/O thread alone. */
	struct nb_wreq *flight; /* issued on wconn, awaiting replies */
	struct nb_wreq *redo;	/* to issue again (short or stale) */

	/* The WRITE connection, see nb_ws_issue; the I/O thread's alone
	 * once it runs (uid and gid are set at open, waddr first there). */
	struct sockaddr_storage waddr; /* the server's NFS service */
	socklen_t waddrlen;
	uint32_t uid; /* AUTH_SYS identity, the one libnfs sends */
	uint32_t gid;
	struct nb_conn wconn;
	uint32_t wxid;			   /* next transaction id */
	size_t rlen;			   /* bytes in rbuf */
	size_t reclen;			   /* bytes in rec */
	unsigned char rbuf[NFS_WS_RBUF];   /* received, not parsed */
	unsigned char rec[NFS_WS_REC_MAX]; /* a reply's fragments */

	/* The READ connection for read-ahead, see nb_rs_recv; the I/O
	 * thread's alone. */
	struct nb_conn rconn;
	bool rin_rec;	   /* a reply record has begun */
	bool rfrag_last;   /* its current fragment is its last */
	size_t rfrag_left; /* bytes left in that fragment */
	size_t rmark_got;  /* bytes of the next fragment's mark */
	unsigned char rmark[4];
	int rstate;	      /* NB_RS_HEAD, NB_RS_DATA or NB_RS_SKIP */
	size_t rhlen;	      /* bytes in rhead */
	struct nb_rseg *rcur; /* the segment the data is for, or NULL */
	int rerr;	      /* the reply's result: 0 or -errno */
	size_t rdata_len;     /* data bytes the reply carries */
	size_t rdata_at;      /* of which received */
	unsigned char rhead[NFS_RS_HEAD_MAX];
	unsigned char rskip[256]; /* bytes read to be dropped */

	/* Read-ahead, see nb_ra_read. */
	size_t ra_max;	 /* bytes ahead per object */
	size_t ra_chunk; /* bytes per READ */
	size_t ra_total; /* buffer bytes per tier */
	/* Bumped after every change to a file's content this tier makes,
	 * indexed by a hash of its path. */
	atomic_ulong pgen[NFS_RA_GENS];
	struct nb_rseg *rq_head; /* guarded by wlock: to issue, in order */
	struct nb_rseg *rq_tail;
	struct nb_rseg *rfree;	 /* guarded by wlock: pooled buffers */
	size_t rbytes;		 /* guarded by wlock: buffer bytes handed out */
	struct nb_rseg *rflight; /* I/O thread only: issued on rconn */
};

/*
 * One read-ahead READ of an object and its data. On the object's list
 * (o->ra, by offset) from when it is queued until a reader drops it.
 * While pending, buf and got belong to the I/O thread; a reader that
 * drops a pending segment marks it dead and the I/O thread frees it.
 */
struct nb_rseg {
	struct nb_rseg *next;  /* o->ra, guarded by o->ralock; or nb->rfree */
	struct nb_rseg *qnext; /* nb->rq, guarded by nb->wlock */
	struct nb_rseg *fprev, *fnext; /* nb->rflight */
	struct nb_sreq sq;	       /* nb->rconn */
	uint32_t xid;		       /* of the READ on the wire */
	unsigned int hdrlen;
	int64_t t_issued;
	unsigned char hdr[NFS_WS_HDR_MAX];
	struct strata_obj *obj;
	uint64_t off;
	size_t len;
	size_t got;   /* bytes the server returned; guarded by o->ralock */
	int err;      /* guarded by o->ralock */
	bool pending; /* guarded by o->ralock: not answered yet */
	bool dead;    /* guarded by o->ralock: dropped while pending */
	char buf[];
};

/*
 * One piece of written data on its way to the server. Allocated with its
 * buffer and owned by the writer until queued, then by the I/O thread.
 */
struct nb_wreq {
	struct nb_wreq *prev; /* nb->whead list, guarded by nb->wlock */
	struct nb_wreq *next;
	struct nb_wreq *qnext;	       /* nb queue, free or redo list */
	struct nb_wreq *fprev, *fnext; /* nb->flight */
	struct nb_sreq sq;	       /* nb->wconn */
	uint32_t xid;		       /* of the WRITE on the wire */
	size_t wlen;		       /* data bytes it carries */
	int64_t t_issued;	       /* ms, for the timeout */
	unsigned int hdrlen;
	unsigned char hdr[NFS_WS_HDR_MAX];
	struct strata_obj *obj;
	const char *path; /* the object's; valid while admitted */
	struct nfsfh *fh; /* the handle it was last issued with */
	uint64_t off;
	uint64_t seq; /* order of admission to the object */
	size_t len;
	size_t done; /* bytes the server took so far */
	size_t cap;
	bool stale; /* ESTALE seen: re-open before issuing again */
	bool retried;
	char buf[];
};

/* A handle replaced by a re-open; in-flight writes may still name it. */
struct nb_oldfh {
	struct nb_oldfh *next;
	struct nfsfh *fh;
};

struct nb_obj {
	pthread_rwlock_t lock; /* fh: shared for I/O, exclusive to re-open */
	struct nfsfh *fh;
	char *path;
	int oflags; /* O_RDONLY or O_RDWR, for a re-open */
	pthread_mutex_t mlock;
	bool dirty;		 /* guarded by mlock: writes since COMMIT */
	unsigned long dirty_gen; /* guarded by mlock: nb->gen at the first */
	size_t wbytes;		 /* guarded by nb->wlock: bytes in flight */
	int werr;		 /* guarded by nb->wlock: first write error */
	struct nb_oldfh *oldfh;	 /* guarded by lock (exclusive) */
	pthread_mutex_t ralock;
	pthread_cond_t racond; /* a read-ahead segment was answered */
	struct nb_rseg *ra;    /* guarded by ralock: by offset */
	uint64_t ranext;       /* guarded by ralock: end of the last read */
	uint64_t raeof;	       /* guarded by ralock: a short READ ended here */
	unsigned long ragen;   /* guarded by ralock: *nb_pgen the data is of */
	size_t rawin;	       /* guarded by ralock: bytes to keep ahead */
	unsigned int rainflight; /* guarded by ralock: pending segments */
};

/* One borrowed pool context. */
struct nb_call {
	unsigned int slot;
	struct nfs_context *ctx;
};

static struct nb_be *nb_be(struct strata_backend *be)
{
	return be->priv;
}

static struct nb_obj *nb_obj(struct strata_obj *obj)
{
	return obj->priv;
}

static bool nb_is_transport(int rc)
{
	switch (-rc) {
	case EIO:
	case EFAULT: /* libnfs: RPC_STATUS_ERROR */
	case EINTR:  /* libnfs: RPC timed out or cancelled */
	case ENOMEM: /* libnfs: could not queue the RPC */
	case ENOTCONN:
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case EPIPE:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return true;
	}
	return false;
}

/*
 * Translate a libnfs result (0 or -errno, derived from the NFS3ERR status
 * or the RPC outcome) into our -errno, and log libnfs's message once.
 * Expected answers (missing, existing) are logged at debug level only.
 */
static int nb_errno(struct strata_backend *be, struct nfs_context *ctx, int rc,
		    const char *op, const char *path)
{
	const char *why = ctx ? nfs_get_error(ctx) : NULL;
	int ret;

	if (rc >= 0)
		return 0;
	switch (-rc) {
	case ENOENT:
	case EEXIST:
	case ENOTDIR:
	case EISDIR:
	case EACCES:
	case EPERM:
	case ENOSPC:
	case EDQUOT:
	case EROFS:
	case ENAMETOOLONG:
	case ENOTEMPTY:
	case ESTALE:
	case EFBIG:
	case EINVAL:
	case EXDEV:
		ret = rc;
		break;
	default:
		ret = -EIO;
		break;
	}
	if (ret == -ENOENT || ret == -EEXIST)
		strata_debug(STRATA_SUB_BACKEND, "tier '%s': %s '%s': %s",
			     be->name, op, path, why ? why : strerror(-rc));
	else
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': %s '%s' failed: %s", be->name, op, path,
			   why && why[0] ? why : strerror(-rc));
	return ret;
}

/* The libnfs URL for mounting path: nfs://SERVER/PATH?OPTS. */
static int nb_libnfs_url(const struct nb_be *nb, const char *path, char *buf,
			 size_t n)
{
	int len = snprintf(buf, n, "nfs://%s%s%s%s", nb->server, path,
			   nb->opts[0] ? "?" : "", nb->opts);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/*
 * A new context mounted on path. On failure returns -errno and, when why
 * is given, libnfs's reason.
 */
static int nb_mount_at(struct nb_be *nb, const char *path,
		       struct nfs_context **out, char *why, size_t whylen)
{
	char url[sizeof(nb->url) + sizeof(nb->opts)];
	struct nfs_context *ctx = NULL;
	struct nfs_url *u = NULL;
	int ret;

	ret = nb_libnfs_url(nb, path, url, sizeof(url));
	if (ret < 0)
		goto out;
	ctx = nfs_init_context();
	if (!ctx) {
		ret = -ENOMEM;
		goto out;
	}
	nfs_set_version(ctx, NFS_V3);
	nfs_set_timeout(ctx, nb->timeout_ms);
	nfs_set_autoreconnect(ctx, 0); /* we reconnect, see nb_call_end */
	nfs_set_dircache(ctx, 0);      /* other contexts change directories */
	u = nfs_parse_url_dir(ctx, url);
	if (!u) {
		ret = -EINVAL;
		snprintf(why, whylen, "%s", nfs_get_error(ctx));
		goto out;
	}
	ret = nfs_mount(ctx, u->server, u->path);
	if (ret < 0) {
		const char *e = nfs_get_error(ctx);

		snprintf(why, whylen, "%s", e && e[0] ? e : strerror(-ret));
		goto out;
	}
	*out = ctx;
	ctx = NULL;
	ret = 0;
out:
	if (u)
		nfs_destroy_url(u);
	if (ctx)
		nfs_destroy_context(ctx);
	return ret;
}

static void nb_slot_put(struct nb_be *nb, unsigned int slot)
{
	pthread_mutex_lock(&nb->lock);
	nb->busy[slot] = false;
	nb->nfree++;
	pthread_cond_signal(&nb->cond);
	pthread_mutex_unlock(&nb->lock);
}

/* Borrow a mounted context; waits for a free one, mounts it if needed. */
static int nb_call_begin(struct strata_backend *be, struct nb_call *c)
{
	struct nb_be *nb = nb_be(be);
	unsigned int i, pick = nb->nconns;
	char why[256] = "";
	bool was_down;
	int ret;

	pthread_mutex_lock(&nb->lock);
	while (nb->nfree == 0)
		pthread_cond_wait(&nb->cond, &nb->lock);
	for (i = 0; i < nb->nconns; i++) {
		if (nb->busy[i])
			continue;
		if (pick == nb->nconns)
			pick = i;
		if (nb->ctx[i]) {
			pick = i;
			break;
		}
	}
	nb->busy[pick] = true;
	nb->nfree--;
	pthread_mutex_unlock(&nb->lock);

	c->slot = pick;
	if (nb->ctx[pick]) {
		c->ctx = nb->ctx[pick];
		return 0;
	}
	ret = nb_mount_at(nb, nb->export, &nb->ctx[pick], why, sizeof(why));
	pthread_mutex_lock(&nb->lock);
	was_down = nb->down;
	nb->down = ret < 0;
	pthread_mutex_unlock(&nb->lock);
	if (ret < 0) {
		if (!was_down)
			strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
				   "tier '%s': cannot mount '%s': %s", be->name,
				   nb->url, why);
		nb_slot_put(nb, pick);
		return -EIO;
	}
	if (was_down)
		strata_log(STRATA_LOG_NOTICE, STRATA_SUB_BACKEND,
			   "tier '%s': '%s' answers again", be->name, nb->url);
	c->ctx = nb->ctx[pick];
	return 0;
}

/*
 * Give the context back and translate rc (see nb_errno). A transport
 * failure drops the context, so the slot's next user mounts afresh.
 */
static int nb_call_end(struct strata_backend *be, struct nb_call *c, int rc,
		       const char *op, const char *path)
{
	struct nb_be *nb = nb_be(be);
	int ret = nb_errno(be, c->ctx, rc, op, path);

	if (rc < 0 && nb_is_transport(rc)) {
		nfs_destroy_context(c->ctx);
		nb->ctx[c->slot] = NULL;
		atomic_fetch_add(&nb->gen, 1);
	}
	nb_slot_put(nb, c->slot);
	c->ctx = NULL;
	return ret;
}

static int nb_path(struct strata_backend *be, const char *key, char *path,
		   size_t n)
{
	int len = snprintf(path, n, "%s/%s", nb_be(be)->root, key);

	return len < 0 || (size_t)len >= n ? -ENAMETOOLONG : 0;
}

/*
 * Create the directories leading to path (everything before its last '/')
 * from component skip on. Racing creators are fine: EEXIST is success.
 */
static int nb_mkparents(struct strata_backend *be, struct nfs_context *ctx,
			const char *path, size_t skip)
{
	char dir[PATH_MAX];
	char *slash;
	int rc;

	strata_strlcpy(dir, path, sizeof(dir));
	slash = strchr(dir + skip + 1, '/');
	while (slash) {
		*slash = '\0';
		rc = nfs_mkdir2(ctx, dir, 0700);
		if (rc < 0 && rc != -EEXIST)
			return rc;
		*slash = '/';
		slash = strchr(slash + 1, '/');
	}
	return 0;
}

/* Split "a=1&b=2" into our keys and the libnfs options. */
static int nb_parse_query(struct nb_be *nb, const char *query, char *err,
			  size_t errlen)
{
	char buf[sizeof(((struct strata_uri *)0)->query)];
	char *save = NULL;
	char *kv;
	long v;

	nb->nconns = NFS_CONNS_DEFAULT;
	nb->timeout_ms = NFS_TIMEOUT_DEFAULT * 1000;
	nb->window = (size_t)NFS_WB_WINDOW_DEFAULT << 20;
	nb->ra_max = NFS_RA_AHEAD;
	nb->uid = (uint32_t)getuid(); /* libnfs's defaults */
	nb->gid = (uint32_t)getgid();
	strata_strlcpy(buf, query, sizeof(buf));
	for (kv = strtok_r(buf, "&", &save); kv;
	     kv = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(kv, '=');
		const char *val = eq ? eq + 1 : "";
		char *end = NULL;
		bool known = false;

		if (eq)
			*eq = '\0';
		errno = 0;
		v = strtol(val, &end, 10);
		if (strcmp(kv, "window") == 0) {
			if (!val[0] || *end || errno || v < 0 ||
			    v > NFS_WB_WINDOW_MAX) {
				snprintf(
					err, errlen,
					"option 'window' wants a number from 0 to %u",
					NFS_WB_WINDOW_MAX);
				return -EINVAL;
			}
			nb->window = (size_t)v << 20;
			continue;
		}
		if (strcmp(kv, "conns") == 0 || strcmp(kv, "timeout") == 0) {
			long max = kv[0] == 'c' ? NFS_CONNS_MAX :
						  NFS_TIMEOUT_MAX;

			if (!val[0] || *end || errno || v < 1 || v > max) {
				snprintf(
					err, errlen,
					"option '%s' wants a number from 1 to %ld",
					kv, max);
				return -EINVAL;
			}
			if (kv[0] == 'c')
				nb->nconns = (unsigned int)v;
			else
				nb->timeout_ms = (int)v * 1000;
			continue;
		}
		for (size_t i = 0; i < STRATA_ARRAY_SIZE(nb_libnfs_keys); i++)
			known |= strcmp(kv, nb_libnfs_keys[i]) == 0;
		if (!known) {
			snprintf(err, errlen, "unknown option '%s'", kv);
			return -EINVAL;
		}
		/* libnfs takes them too; our WRITEs say the same. */
		if (strcmp(kv, "uid") == 0 || strcmp(kv, "gid") == 0) {
			if (!val[0] || *end || errno || v < 0 ||
			    v > (long)UINT32_MAX) {
				snprintf(err, errlen,
					 "option '%s' wants a number", kv);
				return -EINVAL;
			}
			if (kv[0] == 'u')
				nb->uid = (uint32_t)v;
			else
				nb->gid = (uint32_t)v;
		}
		if (strcmp(kv, "version") == 0 && strcmp(val, "3") != 0) {
			snprintf(err, errlen,
				 "only NFS version 3 is supported");
			return -EINVAL;
		}
		if (strlen(nb->opts) + strlen(kv) + strlen(val) + 3 >
		    sizeof(nb->opts)) {
			snprintf(err, errlen, "options are too long");
			return -EINVAL;
		}
		if (nb->opts[0])
			strcat(nb->opts, "&");
		strcat(nb->opts, kv);
		if (eq) {
			strcat(nb->opts, "=");
			strcat(nb->opts, val);
		}
	}
	return 0;
}

/*
 * Mount the longest leading part of path the server exports, then make
 * sure the rest exists as a directory. The mounted context becomes slot 0.
 */
static int nb_find_export(struct strata_backend *be, const char *path,
			  char *err, size_t errlen)
{
	struct nb_be *nb = nb_be(be);
	struct nfs_context *ctx = NULL;
	struct nfs_stat_64 st;
	char first[256] = "";
	char why[256] = "";
	size_t len = strlen(path);
	int ret;

	for (;;) {
		memcpy(nb->export, path, len);
		nb->export[len] = '\0';
		ret = nb_mount_at(nb, len ? nb->export : "/", &ctx, why,
				  sizeof(why));
		if (ret == 0) {
			/* A server may hand out a handle for a directory
			 * that is gone (NFS3ERR_STALE at first use). */
			ret = nfs_stat64(ctx, "/", &st);
			if (ret == 0)
				break;
			snprintf(why, sizeof(why), "%s", nfs_get_error(ctx));
			nfs_destroy_context(ctx);
			ctx = NULL;
		}
		if (!first[0])
			strata_strlcpy(first, why, sizeof(first));
		/* A server that does not answer will not answer a shorter
		 * path either. */
		if (nb_is_transport(ret) || ret == -EINVAL || len == 0)
			goto fail;
		while (len > 0 && path[len - 1] != '/')
			len--;
		while (len > 0 && path[len - 1] == '/')
			len--;
	}
	if (!nb->export[0])
		strcpy(nb->export, "/");
	snprintf(nb->root, sizeof(nb->root), "%s", path + len);
	if (nb->root[0]) {
		char probe[PATH_MAX + 2];

		snprintf(probe, sizeof(probe), "%s/", nb->root);
		ret = nb_mkparents(be, ctx, probe, 0);
		if (ret == 0)
			ret = nfs_stat64(ctx, nb->root, &st);
		if (ret == 0 && !S_ISDIR(st.nfs_mode))
			ret = -ENOTDIR;
		if (ret < 0) {
			snprintf(
				err, errlen,
				"cannot use directory '%s' in export '%s' of '%s': %s",
				nb->root, nb->export, nb->server,
				ret == -ENOTDIR ? strerror(ENOTDIR) :
						  nfs_get_error(ctx));
			goto out;
		}
	}
	nb->readmax = nfs_get_readmax(ctx);
	nb->writemax = nfs_get_writemax(ctx);
	/* The NFS service this context reached, for the WRITE connection. */
	nb->waddrlen = sizeof(nb->waddr);
	if (getpeername(nfs_get_fd(ctx), (struct sockaddr *)&nb->waddr,
			&nb->waddrlen) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot find the address of '%s': %s",
			 nb->url, strerror(errno));
		goto out;
	}
	nb->ctx[0] = ctx;
	ctx = NULL;
	ret = 0;
	goto out;
fail:
	snprintf(err, errlen, "cannot mount '%s': %s", nb->url,
		 first[0] ? first : strerror(-ret));
out:
	if (ctx)
		nfs_destroy_context(ctx);
	return ret;
}

static int nb_obj_reopen(struct strata_obj *obj, struct nfs_context *ctx,
			 struct nfsfh *seen);

/* The change counter of path, see nb->pgen. */
static atomic_ulong *nb_pgen(struct nb_be *nb, const char *path)
{
	uint32_t h = 2166136261u;

	for (; *path; path++)
		h = (h ^ (unsigned char)*path) * 16777619u;
	return &nb->pgen[h % NFS_RA_GENS];
}

/* The content of path changed, or may have: its read-ahead is void. */
static void nb_changed(struct nb_be *nb, const char *path)
{
	atomic_fetch_add(nb_pgen(nb, path), 1);
}

/*
 * Write-behind. A writer copies its data into nb_wreq pieces, admits each
 * (nb->whead; at most nb->window bytes per object) and queues it for the
 * I/O thread, which alone uses nb->wconn.fd: it sends UNSTABLE WRITEs and
 * reads their replies (nb_ws_*). A piece leaves nb->whead when
 * the server answered it for good; its error, the first one, stays in
 * o->werr until obj_sync or obj_close reports it. Pieces of one object
 * that overlap are never in flight together, so the server applies them
 * in order. Whatever reads, truncates, syncs, opens, renames or removes a
 * file first waits for the pieces admitted to it before (nb_wait_path).
 */

/* Take a piece for len bytes, waiting while the tier's buffers are full. */
static struct nb_wreq *nb_wb_get(struct nb_be *nb, size_t len)
{
	size_t cap = len <= NFS_WB_SMALL ? len : nb->wchunk;
	struct nb_wreq *r = NULL;

	pthread_mutex_lock(&nb->wlock);
	while (nb->wbytes > 0 && nb->wbytes + cap > nb->wtotal)
		pthread_cond_wait(&nb->wcond, &nb->wlock);
	nb->wbytes += cap;
	if (cap == nb->wchunk && nb->wfree) {
		r = nb->wfree;
		nb->wfree = r->qnext;
		nb->nwfree--;
	}
	pthread_mutex_unlock(&nb->wlock);
	if (!r) {
		r = malloc(sizeof(*r) + cap);
		if (!r) {
			pthread_mutex_lock(&nb->wlock);
			nb->wbytes -= cap;
			pthread_cond_broadcast(&nb->wcond);
			pthread_mutex_unlock(&nb->wlock);
			return NULL;
		}
	}
	memset(r, 0, sizeof(*r));
	r->cap = cap;
	return r;
}

static void nb_wb_put(struct nb_be *nb, struct nb_wreq *r)
{
	pthread_mutex_lock(&nb->wlock);
	nb->wbytes -= r->cap;
	if (r->cap == nb->wchunk && nb->nwfree < NFS_WB_KEEP) {
		r->qnext = nb->wfree;
		nb->wfree = r;
		nb->nwfree++;
		r = NULL;
	}
	pthread_cond_broadcast(&nb->wcond);
	pthread_mutex_unlock(&nb->wlock);
	free(r);
}

static void nb_wb_wake(struct nb_be *nb)
{
	uint64_t one = 1;

	/* Fails only when the counter would overflow: it is set already. */
	if (write(nb->wefd, &one, sizeof(one)) < 0)
		return;
}

static void nb_wb_queue(struct nb_be *nb, struct nb_wreq *r)
{
	bool wake;

	r->qnext = NULL;
	pthread_mutex_lock(&nb->wlock);
	wake = !nb->wq_head;
	if (nb->wq_tail)
		nb->wq_tail->qnext = r;
	else
		nb->wq_head = r;
	nb->wq_tail = r;
	pthread_mutex_unlock(&nb->wlock);
	if (wake)
		nb_wb_wake(nb);
}

/* The piece is finished with err (0 or -errno): tell its object. */
static void nb_wb_complete(struct nb_be *nb, struct nb_wreq *r, int err)
{
	struct nb_obj *o = nb_obj(r->obj);

	/* Before it leaves nb->whead: a reader that waited for it sees it. */
	nb_changed(nb, r->path);
	pthread_mutex_lock(&nb->wlock);
	if (r->prev)
		r->prev->next = r->next;
	else
		nb->whead = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		nb->wtail = r->prev;
	o->wbytes -= r->len;
	if (err < 0 && o->werr == 0)
		o->werr = err;
	/* The object may be closed as soon as wlock is released. */
	pthread_mutex_unlock(&nb->wlock);
	nb_wb_put(nb, r);
}

/*
 * Wait until the pieces admitted so far for path (all, if NULL) have
 * completed; later ones do not hold us up.
 */
static void nb_wait_path(struct nb_be *nb, const char *path)
{
	struct nb_wreq *r;
	uint64_t seq;

	pthread_mutex_lock(&nb->wlock);
	seq = nb->wseq;
	for (;;) {
		for (r = nb->whead; r && r->seq < seq; r = r->next)
			if (!path || strcmp(r->path, path) == 0)
				break;
		if (!r || r->seq >= seq)
			break;
		pthread_cond_wait(&nb->wcond, &nb->wlock);
	}
	pthread_mutex_unlock(&nb->wlock);
}

static void nb_wb_unflight(struct nb_be *nb, struct nb_wreq *r)
{
	if (r->fprev)
		r->fprev->fnext = r->fnext;
	else
		nb->flight = r->fnext;
	if (r->fnext)
		r->fnext->fprev = r->fprev;
	r->fprev = NULL;
	r->fnext = NULL;
}

static void nb_wb_redo(struct nb_be *nb, struct nb_wreq *r)
{
	r->qnext = nb->redo;
	nb->redo = r;
}

/*
 * Read-ahead. A read that continues the previous one on its object, or
 * starts in data read ahead, is sequential: it keeps o->rawin bytes past
 * its end requested, in segments queued to the I/O thread, which issues
 * them as READs on nb->rconn.fd. The window starts at two
 * segments and doubles with each sequential read up to nb->ra_max. A read
 * copies what answered segments hold, waiting for pending ones, and reads
 * the rest itself, synchronously.
 *
 * Staleness: every change this tier makes to a file's content (a write
 * answered, truncation, open with O_TRUNC or O_CREAT, remove, rename)
 * bumps the file's counter (nb_pgen) once it took effect on the server.
 * Every segment of an object was sent after o->ragen was loaded from that
 * counter, and a read that finds the counter moved drops them all; as a
 * read first waits for the writes before it, it never sees data older
 * than those. Changes made by other clients of the server show at the
 * next read that misses, as with any NFS client's cache.
 */

/* A segment buffer, or NULL when the tier's read-ahead buffers are used. */
static struct nb_rseg *nb_rseg_get(struct nb_be *nb)
{
	struct nb_rseg *s = NULL;
	bool room;

	pthread_mutex_lock(&nb->wlock);
	room = nb->rbytes + nb->ra_chunk <= nb->ra_total;
	if (room) {
		nb->rbytes += nb->ra_chunk;
		s = nb->rfree;
		if (s)
			nb->rfree = s->next;
	}
	pthread_mutex_unlock(&nb->wlock);
	if (room && !s) {
		s = malloc(sizeof(*s) + nb->ra_chunk);
		if (!s) {
			pthread_mutex_lock(&nb->wlock);
			nb->rbytes -= nb->ra_chunk;
			pthread_mutex_unlock(&nb->wlock);
			return NULL;
		}
	}
	if (s)
		memset(s, 0, sizeof(*s));
	return s;
}

/* Buffers are kept for reuse: at most nb->ra_total bytes of them. */
static void nb_rseg_put(struct nb_be *nb, struct nb_rseg *s)
{
	pthread_mutex_lock(&nb->wlock);
	nb->rbytes -= nb->ra_chunk;
	s->next = nb->rfree;
	nb->rfree = s;
	pthread_mutex_unlock(&nb->wlock);
}

/* Take s, after prev (or first), off its object's list; o->ralock held. */
static void nb_ra_drop(struct nb_be *nb, struct nb_obj *o, struct nb_rseg *prev,
		       struct nb_rseg *s)
{
	if (prev)
		prev->next = s->next;
	else
		o->ra = s->next;
	if (s->pending)
		s->dead = true; /* the I/O thread frees it */
	else
		nb_rseg_put(nb, s);
}

static void nb_ra_reset(struct nb_be *nb, struct nb_obj *o)
{
	while (o->ra)
		nb_ra_drop(nb, o, NULL, o->ra);
	o->raeof = UINT64_MAX;
	o->rawin = 0;
}

/* The segment answered: err (0 or -errno), got bytes in s->buf. */
static void nb_ra_done(struct nb_be *nb, struct nb_rseg *s, int err, size_t got)
{
	struct nb_obj *o = nb_obj(s->obj);
	bool dead;

	pthread_mutex_lock(&o->ralock);
	s->err = err;
	s->got = got;
	s->pending = false;
	dead = s->dead;
	if (!dead && err == 0 && got < s->len && s->off + got < o->raeof)
		o->raeof = s->off + got;
	o->rainflight--;
	pthread_cond_broadcast(&o->racond);
	/* The object may be closed as soon as ralock is released. */
	pthread_mutex_unlock(&o->ralock);
	if (dead)
		nb_rseg_put(nb, s);
}

static void nb_ra_unflight(struct nb_be *nb, struct nb_rseg *s)
{
	if (s->fprev)
		s->fprev->fnext = s->fnext;
	else
		nb->rflight = s->fnext;
	if (s->fnext)
		s->fnext->fprev = s->fprev;
	s->fprev = NULL;
	s->fnext = NULL;
}

/*
 * The WRITE connection. libnfs would copy every WRITE's data into an RPC
 * buffer it allocates for it; the I/O thread instead sends WRITE calls on
 * a TCP connection of its own, nb->wconn.fd, each as a header it encodes
 * (record mark, call header with AUTH_SYS, WRITE3args) followed by the
 * piece's own buffer, with sendmsg, and reads the WRITE3res replies. The
 * server and identity are the ones the pool's first context mounted with.
 * Everything else, COMMIT included, still goes through libnfs. A broken
 * connection, a reply that does not parse, or a WRITE unanswered after
 * the timeout drops the connection, fails its writes in flight with -EIO
 * and bumps nb->gen, as a dropped libnfs context does.
 */

static int64_t nb_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nb_put32(unsigned char *p, unsigned int *at, uint32_t v)
{
	p[*at] = (unsigned char)(v >> 24);
	p[*at + 1] = (unsigned char)(v >> 16);
	p[*at + 2] = (unsigned char)(v >> 8);
	p[*at + 3] = (unsigned char)v;
	*at += 4;
}

static uint32_t nb_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* XDR pads opaque data to a multiple of four bytes. */
static size_t nb_xdr_pad(size_t len)
{
	return (4 - (len & 3)) & 3;
}

/* All bytes of r on the wire: header, data and padding. */
static size_t nb_ws_total(const struct nb_wreq *r)
{
	return r->hdrlen + r->wlen + nb_xdr_pad(r->wlen);
}

/*
 * Encode an NFSv3 call to proc on handle f into hdr, from the call's xid
 * up to and with the handle (the record mark, 4 bytes, comes first and is
 * left to the caller). Returns where the arguments go on.
 */
static unsigned int nb_rpc_call(struct nb_be *nb, unsigned char *hdr,
				uint32_t xid, uint32_t proc,
				const struct nfs_fh *f)
{
	static const char machine[] = NFS_WS_MACHINE;
	size_t mlen = sizeof(machine) - 1;
	unsigned int at = 4;

	nb_put32(hdr, &at, xid);
	nb_put32(hdr, &at, 0);	    /* CALL */
	nb_put32(hdr, &at, 2);	    /* RPC version */
	nb_put32(hdr, &at, 100003); /* NFS */
	nb_put32(hdr, &at, 3);
	nb_put32(hdr, &at, proc);
	nb_put32(hdr, &at, 1); /* AUTH_SYS */
	nb_put32(hdr, &at,
		 (uint32_t)(4 + 4 + mlen + nb_xdr_pad(mlen) + 4 + 4 + 4));
	nb_put32(hdr, &at, 0); /* stamp */
	nb_put32(hdr, &at, (uint32_t)mlen);
	memcpy(hdr + at, machine, mlen);
	memset(hdr + at + mlen, 0, nb_xdr_pad(mlen));
	at += (unsigned int)(mlen + nb_xdr_pad(mlen));
	nb_put32(hdr, &at, nb->uid);
	nb_put32(hdr, &at, nb->gid);
	nb_put32(hdr, &at, 0); /* no supplementary groups */
	nb_put32(hdr, &at, 0); /* verifier: AUTH_NONE */
	nb_put32(hdr, &at, 0);
	nb_put32(hdr, &at, (uint32_t)f->len);
	memcpy(hdr + at, f->val, (size_t)f->len);
	memset(hdr + at + f->len, 0, nb_xdr_pad((size_t)f->len));
	at += (unsigned int)((size_t)f->len + nb_xdr_pad((size_t)f->len));
	return at;
}

/* The raw handle of fh, or NULL for one we cannot send. */
static const struct nfs_fh *nb_raw_fh(struct nfsfh *fh)
{
	const struct nfs_fh *f = nfs_get_fh(fh);

	return f && f->len > 0 && f->len <= 64 ? f : NULL;
}

/*
 * Encode the WRITE of r's unsent bytes (UNSTABLE, like libnfs's) with
 * handle fh into r->hdr. Returns -EIO for a handle we cannot send.
 */
static int nb_ws_encode(struct nb_be *nb, struct nb_wreq *r, struct nfsfh *fh)
{
	const struct nfs_fh *f = nb_raw_fh(fh);
	uint64_t off = r->off + r->done;
	unsigned int at;

	if (!f)
		return -EIO;
	r->wlen = r->len - r->done;
	r->xid = nb->wxid++;
	at = nb_rpc_call(nb, r->hdr, r->xid, 7, f); /* WRITE */
	nb_put32(r->hdr, &at, (uint32_t)(off >> 32));
	nb_put32(r->hdr, &at, (uint32_t)off);
	nb_put32(r->hdr, &at, (uint32_t)r->wlen);
	nb_put32(r->hdr, &at, 0); /* UNSTABLE */
	nb_put32(r->hdr, &at, (uint32_t)r->wlen);
	r->hdrlen = at;
	at = 0;
	nb_put32(r->hdr, &at, 0x80000000u | (uint32_t)(nb_ws_total(r) - 4));
	r->sq.sent = 0;
	return 0;
}

/* The piece whose send-queue entry q is. */
static struct nb_wreq *nb_ws_req(struct nb_sreq *q)
{
	return (struct nb_wreq *)((char *)q - offsetof(struct nb_wreq, sq));
}

static size_t nb_ws_sq_total(struct nb_sreq *q)
{
	return nb_ws_total(nb_ws_req(q));
}

/* A WRITE's unsent bytes: header, the piece's own data and padding. */
static size_t nb_ws_fill(struct nb_sreq *q, struct iovec *iov)
{
	static const unsigned char zeros[4];
	struct nb_wreq *r = nb_ws_req(q);
	size_t at = q->sent;
	size_t pad = nb_xdr_pad(r->wlen);
	size_t n = 0;

	if (at < r->hdrlen) {
		iov[n].iov_base = r->hdr + at;
		iov[n++].iov_len = r->hdrlen - at;
		at = r->hdrlen;
	}
	if (at < r->hdrlen + r->wlen) {
		iov[n].iov_base = r->buf + r->done + (at - r->hdrlen);
		iov[n++].iov_len = r->hdrlen + r->wlen - at;
		at = r->hdrlen + r->wlen;
	}
	if (pad && at < r->hdrlen + r->wlen + pad) {
		iov[n].iov_base = (void *)(zeros + (at - r->hdrlen - r->wlen));
		iov[n++].iov_len = r->hdrlen + r->wlen + pad - at;
	}
	return n;
}

/* Send what c's queue holds until the socket is full. */
static int nb_conn_flush(struct nb_conn *c)
{
	while (c->sq_head) {
		struct iovec iov[NFS_WS_IOV];
		struct msghdr msg = { .msg_iov = iov };
		struct nb_sreq *q;
		size_t n = 0;
		ssize_t w;

		for (q = c->sq_head; q && n + c->iov_max <= NFS_WS_IOV;
		     q = q->snext)
			n += c->fill(q, iov + n);
		msg.msg_iovlen = n;
		w = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0)
			return -errno;
		while (w > 0) {
			size_t left;

			q = c->sq_head;
			left = c->total(q) - q->sent;
			if ((size_t)w < left) {
				q->sent += (size_t)w;
				break;
			}
			q->sent += left;
			w -= (ssize_t)left;
			c->sq_head = q->snext;
			if (!c->sq_head)
				c->sq_tail = NULL;
		}
	}
	return 0;
}

static void nb_conn_send(struct strata_backend *be, struct nb_conn *c)
{
	struct nb_be *nb = nb_be(be);
	int rc = nb_conn_flush(c);

	if (rc < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': sending to '%s' failed: %s", be->name,
			   nb->url, strerror(-rc));
		c->bad = true;
	}
}

/* Queue q, its call encoded, to be sent on c after those before it. */
static void nb_conn_queue(struct nb_conn *c, struct nb_sreq *q)
{
	q->snext = NULL;
	if (c->sq_tail)
		c->sq_tail->snext = q;
	else
		c->sq_head = q;
	c->sq_tail = q;
}

/*
 * Close c and forget its queue; the caller fails what was in flight on
 * it. Returns whether it was open.
 */
static bool nb_conn_close(struct nb_conn *c)
{
	bool was_open = c->fd >= 0;

	if (was_open) {
		close(c->fd);
		c->fd = -1;
	}
	c->sq_head = NULL;
	c->sq_tail = NULL;
	return was_open;
}

/*
 * r's WRITE was answered: rc is the bytes the server took or -errno, why
 * a reason to log at debug level, or NULL.
 */
static void nb_wb_done(struct nb_be *nb, struct nb_wreq *r, int rc,
		       const char *why)
{
	struct strata_obj *obj = r->obj;

	nb_wb_unflight(nb, r);
	if (rc > 0 && (size_t)rc < r->len - r->done) {
		r->done += (size_t)rc;
		nb_wb_redo(nb, r);
		return;
	}
	if (rc == -ESTALE && !r->retried) {
		r->retried = true;
		r->stale = true;
		nb_wb_redo(nb, r);
		return;
	}
	if (rc == 0)
		rc = -EIO; /* the server took nothing: do not spin */
	if (rc < 0 && why)
		strata_debug(STRATA_SUB_BACKEND, "tier '%s': write '%s': %s",
			     obj->be->name, nb_obj(obj)->path, why);
	if (rc > 0)
		rc = 0;
	else
		rc = nb_errno(obj->be, NULL, rc, "write", nb_obj(obj)->path);
	nb_wb_complete(nb, r, rc);
}

/* Drop wconn: whatever it had in flight may or may not have been written. */
static void nb_ws_drop(struct nb_be *nb)
{
	if (nb_conn_close(&nb->wconn))
		atomic_fetch_add(&nb->gen, 1);
	nb->rlen = 0;
	nb->reclen = 0;
	while (nb->flight) {
		struct nb_wreq *r = nb->flight;

		nb_wb_unflight(nb, r);
		nb_wb_complete(nb, r, -EIO);
	}
	nb->wconn.bad = false;
}

/* Bind fd to a port below 1024 if we may, as libnfs does: some servers
 * refuse others. */
static void nb_ws_bind_reserved(int fd, int family)
{
	unsigned int start = (unsigned int)nb_now_ms() % 512;

	for (unsigned int i = 0; i < 512; i++) {
		uint16_t port = (uint16_t)(512 + (start + i) % 512);
		struct sockaddr_storage ss = { .ss_family =
						       (sa_family_t)family };
		socklen_t len;

		if (family == AF_INET) {
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
			len = sizeof(struct sockaddr_in);
		} else if (family == AF_INET6) {
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
			len = sizeof(struct sockaddr_in6);
		} else {
			return;
		}
		if (bind(fd, (struct sockaddr *)&ss, len) == 0)
			return;
		if (errno != EADDRINUSE)
			return; /* EACCES: not allowed, take any port */
	}
}

/*
 * Where the pool's contexts reach the NFS service now: a server that
 * restarted may have registered another port with its portmapper, which
 * the pool asks when it mounts again. Keeps the old address on failure.
 */
static void nb_ws_find_server(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	struct nb_call c;

	if (nb_call_begin(be, &c) < 0)
		return;
	if (getpeername(nfs_get_fd(c.ctx), (struct sockaddr *)&ss, &len) == 0 &&
	    len <= sizeof(nb->waddr)) {
		memcpy(&nb->waddr, &ss, len);
		nb->waddrlen = len;
	}
	nb_call_end(be, &c, 0, "connect", nb->url);
}

/*
 * Connect c to the server's NFS service, logging a failure once until a
 * connect succeeds again (c->down).
 */
static int nb_conn_open(struct strata_backend *be, struct nb_conn *c)
{
	struct nb_be *nb = nb_be(be);
	struct pollfd pfd;
	socklen_t len = sizeof(int);
	int one = 1;
	int fd, err = 0;

	nb_ws_find_server(be);
	fd = socket(nb->waddr.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = errno;
		goto out;
	}
	nb_ws_bind_reserved(fd, nb->waddr.ss_family);
	if (connect(fd, (struct sockaddr *)&nb->waddr, nb->waddrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, nb->timeout_ms) <= 0) {
			err = ETIMEDOUT;
			goto out;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			goto out;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
out:
	if (err) {
		if (fd >= 0)
			close(fd);
		if (!c->down)
			strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
				   "tier '%s': cannot connect to '%s': %s",
				   be->name, nb->url, strerror(err));
		c->down = true;
		return -EIO;
	}
	if (c->down)
		strata_log(STRATA_LOG_NOTICE, STRATA_SUB_BACKEND,
			   "tier '%s': '%s' answers again", be->name, nb->url);
	c->down = false;
	c->fd = fd;
	return 0;
}

/* Bounds-checked reading of a reply. */
struct nb_xdr {
	const unsigned char *p;
	size_t len;
	size_t at;
	bool bad;
};

static uint32_t nb_xdr_u32(struct nb_xdr *x)
{
	uint32_t v;

	if (x->bad || x->len - x->at < 4) {
		x->bad = true;
		return 0;
	}
	v = nb_get32(x->p + x->at);
	x->at += 4;
	return v;
}

static void nb_xdr_skip(struct nb_xdr *x, size_t n)
{
	if (x->bad || x->len - x->at < n)
		x->bad = true;
	else
		x->at += n;
}

/*
 * Parse one reply record to a WRITE call: its xid into *xid, and into *rc
 * the bytes the server took or -errno, with *why naming an error (static
 * text) or NULL. Returns -EIO when the record is no reply, or does not
 * parse: the stream cannot be trusted any more.
 */
STRATA_STATIC int strata__backend_nfs_write_reply(const unsigned char *p,
						  size_t len, uint32_t *xid,
						  int *rc, const char **why)
{
	struct nb_xdr x = { .p = p, .len = len };
	uint32_t v;

	*why = NULL;
	*xid = nb_xdr_u32(&x);
	if (nb_xdr_u32(&x) != 1 || x.bad) /* REPLY */
		return -EIO;
	if (nb_xdr_u32(&x) != 0) { /* MSG_DENIED */
		v = nb_xdr_u32(&x);
		if (x.bad)
			return -EIO;
		*rc = v == 1 ? -EACCES : -EIO; /* AUTH_ERROR, RPC_MISMATCH */
		*why = "call denied";
		return 0;
	}
	nb_xdr_u32(&x); /* verifier flavor */
	v = nb_xdr_u32(&x);
	if (v > 400)
		return -EIO;
	nb_xdr_skip(&x, v + nb_xdr_pad(v));
	v = nb_xdr_u32(&x); /* accept_stat */
	if (x.bad)
		return -EIO;
	if (v != 0) {
		*rc = -EIO;
		*why = "call not accepted";
		return 0;
	}
	v = nb_xdr_u32(&x); /* nfsstat3 */
	if (nb_xdr_u32(&x))
		nb_xdr_skip(&x, 24); /* pre_op_attr */
	if (nb_xdr_u32(&x))
		nb_xdr_skip(&x, 84); /* post_op_attr: fattr3 */
	if (x.bad)
		return -EIO;
	if (v != 0) {
		*rc = nfsstat3_to_errno((int)v);
		*why = nfsstat3_to_str((int)v);
		if (*rc >= 0)
			*rc = -EIO;
		return 0;
	}
	v = nb_xdr_u32(&x); /* count; committed and verf follow */
	if (x.bad || v > INT_MAX)
		return -EIO;
	*rc = (int)v;
	return 0;
}

/*
 * One reply record: find its WRITE and finish it. Returns -EIO when the
 * stream cannot be trusted any more (the connection is then dropped).
 */
static int nb_ws_reply(struct strata_backend *be, const unsigned char *p,
		       size_t len)
{
	struct nb_be *nb = nb_be(be);
	const char *why;
	struct nb_wreq *r;
	uint32_t xid;
	int rc;

	if (strata__backend_nfs_write_reply(p, len, &xid, &rc, &why) < 0)
		goto bad;
	for (r = nb->flight; r; r = r->fnext)
		if (r->xid == xid)
			break;
	if (!r) {
		strata_debug(STRATA_SUB_BACKEND,
			     "tier '%s': reply to unknown xid %08x", be->name,
			     xid);
		return 0;
	}
	/* Answered before it was all sent, or more taken than sent. */
	if (r->sq.sent < nb_ws_total(r) || (rc > 0 && (size_t)rc > r->wlen))
		goto bad;
	nb_wb_done(nb, r, rc, why);
	return 0;
bad:
	strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
		   "tier '%s': '%s' sent a reply that does not parse", be->name,
		   nb->url);
	return -EIO;
}

/* Read what the server sent and finish the WRITEs it answered. */
static int nb_ws_recv(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);

	for (;;) {
		size_t at = 0;
		ssize_t n;

		n = read(nb->wconn.fd, nb->rbuf + nb->rlen,
			 sizeof(nb->rbuf) - nb->rlen);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (n <= 0) {
			strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
				   "tier '%s': connection to '%s' %s", be->name,
				   nb->url,
				   n == 0 ? "closed by the server" :
					    strerror(errno));
			return -EIO;
		}
		nb->rlen += (size_t)n;
		while (nb->rlen - at >= 4) {
			uint32_t mark = nb_get32(nb->rbuf + at);
			size_t flen = mark & 0x7fffffffu;

			if (flen > sizeof(nb->rec) - nb->reclen) {
				strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
					   "tier '%s': '%s' sent a reply too "
					   "long for a WRITE",
					   be->name, nb->url);
				return -EIO;
			}
			if (nb->rlen - at - 4 < flen)
				break;
			memcpy(nb->rec + nb->reclen, nb->rbuf + at + 4, flen);
			nb->reclen += flen;
			at += 4 + flen;
			if (mark & 0x80000000u) {
				size_t reclen = nb->reclen;

				nb->reclen = 0;
				if (nb_ws_reply(be, nb->rec, reclen) < 0)
					return -EIO;
			}
		}
		memmove(nb->rbuf, nb->rbuf + at, nb->rlen - at);
		nb->rlen -= at;
	}
}

/* A WRITE unanswered for longer than the timeout: the connection is
 * given up, as libnfs gives up a context. */
static bool nb_ws_timed_out(struct nb_be *nb)
{
	int64_t now = nb_now_ms();

	for (struct nb_wreq *r = nb->flight; r; r = r->fnext)
		if (now - r->t_issued > nb->timeout_ms)
			return true;
	return false;
}

/* Issue r on wconn, connecting first unless that already failed (*down). */
static void nb_wb_issue(struct strata_backend *be, struct nb_wreq *r,
			bool *down)
{
	struct nb_be *nb = nb_be(be);
	struct nb_obj *o = nb_obj(r->obj);
	int rc;

	if (nb->wconn.fd < 0 && (*down || nb_conn_open(be, &nb->wconn) < 0)) {
		*down = true;
		nb_wb_complete(nb, r, -EIO);
		return;
	}
	if (r->stale) {
		struct nb_call c;

		r->stale = false;
		rc = nb_call_begin(be, &c);
		if (rc == 0)
			rc = nb_call_end(be, &c,
					 nb_obj_reopen(r->obj, c.ctx, r->fh),
					 "open", o->path);
		if (rc < 0) {
			nb_wb_complete(nb, r, rc);
			return;
		}
	}
	/* A handle replaced by a re-open stays valid until close, which
	 * waits for this piece. */
	pthread_rwlock_rdlock(&o->lock);
	r->fh = o->fh;
	pthread_rwlock_unlock(&o->lock);
	if (nb_ws_encode(nb, r, r->fh) < 0) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': write '%s' failed: bad file handle",
			   be->name, o->path);
		nb_wb_complete(nb, r, -EIO);
		return;
	}
	r->t_issued = nb_now_ms();
	nb_conn_queue(&nb->wconn, &r->sq);
	r->fprev = NULL;
	r->fnext = nb->flight;
	if (nb->flight)
		nb->flight->fprev = r;
	nb->flight = r;
}

/*
 * The READ connection. Read-ahead READs go out on a second connection of
 * the I/O thread's own, nb->rconn.fd, and each reply's data is read from the
 * socket straight into its segment's buffer: libnfs would read the whole
 * reply into a buffer it allocates, and its callback copied it from there.
 * A reply is read in three states: NB_RS_HEAD gathers its bytes up to the
 * data (and maybe some of the data) in nb->rhead, NB_RS_DATA reads the
 * rest of the data into the segment, and NB_RS_SKIP drops what is left of
 * the record (padding, or a reply nobody waits for). Record marks are
 * taken out on the way (nb_rs_take), so fragments may split a reply
 * anywhere. Losing this connection loses no data: its segments fail with
 * -EIO and their readers read the bytes themselves.
 */
enum { NB_RS_HEAD, NB_RS_DATA, NB_RS_SKIP };

/*
 * Parse the head of a READ reply, p[0..len), up to its data: the xid into
 * *xid, the result into *rc (0 or -errno), the length of the head into
 * *hlen and the data bytes that follow into *dlen. Returns -EAGAIN when
 * more bytes are needed, -EIO when this is no reply.
 */
STRATA_STATIC int strata__backend_nfs_read_reply(const unsigned char *p,
						 size_t len, uint32_t *xid,
						 int *rc, size_t *hlen,
						 size_t *dlen)
{
	struct nb_xdr x = { .p = p, .len = len };
	uint32_t v, status;

	*dlen = 0;
	*xid = nb_xdr_u32(&x);
	v = nb_xdr_u32(&x);
	if (x.bad)
		return -EAGAIN;
	if (v != 1) /* REPLY */
		return -EIO;
	v = nb_xdr_u32(&x);
	if (v != 0) { /* MSG_DENIED; the rest of the record is dropped */
		v = nb_xdr_u32(&x);
		if (x.bad)
			return -EAGAIN;
		*rc = v == 1 ? -EACCES : -EIO;
		*hlen = x.at;
		return 0;
	}
	nb_xdr_u32(&x); /* verifier flavor */
	v = nb_xdr_u32(&x);
	if (x.bad)
		return -EAGAIN;
	if (v > 400)
		return -EIO;
	nb_xdr_skip(&x, v + nb_xdr_pad(v));
	v = nb_xdr_u32(&x); /* accept_stat */
	if (x.bad)
		return -EAGAIN;
	if (v != 0) {
		*rc = -EIO;
		*hlen = x.at;
		return 0;
	}
	status = nb_xdr_u32(&x);
	if (nb_xdr_u32(&x))
		nb_xdr_skip(&x, 84); /* post_op_attr: fattr3 */
	if (x.bad)
		return -EAGAIN;
	if (status != 0) {
		*rc = nfsstat3_to_errno((int)status);
		if (*rc >= 0)
			*rc = -EIO;
		*hlen = x.at;
		return 0;
	}
	nb_xdr_u32(&x); /* count */
	nb_xdr_u32(&x); /* eof */
	v = nb_xdr_u32(&x);
	if (x.bad)
		return -EAGAIN;
	*rc = 0;
	*hlen = x.at;
	*dlen = v;
	return 0;
}

/*
 * Encode the READ of segment s with handle fh into s->hdr. Returns -EIO
 * for a handle we cannot send.
 */
static int nb_rs_encode(struct nb_be *nb, struct nb_rseg *s, struct nfsfh *fh)
{
	const struct nfs_fh *f = nb_raw_fh(fh);
	unsigned int at;

	if (!f)
		return -EIO;
	s->xid = nb->wxid++;
	at = nb_rpc_call(nb, s->hdr, s->xid, 6, f); /* READ */
	nb_put32(s->hdr, &at, (uint32_t)(s->off >> 32));
	nb_put32(s->hdr, &at, (uint32_t)s->off);
	nb_put32(s->hdr, &at, (uint32_t)s->len);
	s->hdrlen = at;
	at = 0;
	nb_put32(s->hdr, &at, 0x80000000u | (uint32_t)(s->hdrlen - 4));
	s->sq.sent = 0;
	return 0;
}

/* The segment whose send-queue entry q is. */
static struct nb_rseg *nb_rs_seg(struct nb_sreq *q)
{
	return (struct nb_rseg *)((char *)q - offsetof(struct nb_rseg, sq));
}

static size_t nb_rs_sq_total(struct nb_sreq *q)
{
	return nb_rs_seg(q)->hdrlen;
}

/* A READ call's unsent bytes, all in its header. */
static size_t nb_rs_fill(struct nb_sreq *q, struct iovec *iov)
{
	struct nb_rseg *s = nb_rs_seg(q);

	iov->iov_base = s->hdr + q->sent;
	iov->iov_len = s->hdrlen - q->sent;
	return 1;
}

/* The reply in progress is over: start afresh with the next record. */
static void nb_rs_next(struct nb_be *nb)
{
	nb->rin_rec = false;
	nb->rfrag_last = false;
	nb->rfrag_left = 0;
	nb->rstate = NB_RS_HEAD;
	nb->rhlen = 0;
	nb->rcur = NULL;
	nb->rerr = 0;
	nb->rdata_len = 0;
	nb->rdata_at = 0;
}

/* Drop rconn: its segments fail, and their readers read for themselves. */
static void nb_rs_drop(struct nb_be *nb)
{
	nb_conn_close(&nb->rconn);
	nb->rmark_got = 0;
	nb_rs_next(nb);
	while (nb->rflight) {
		struct nb_rseg *s = nb->rflight;

		nb_ra_unflight(nb, s);
		nb_ra_done(nb, s, -EIO, 0);
	}
	nb->rconn.bad = false;
}

/*
 * Read up to n (> 0) bytes of the current reply record into dst, taking
 * record marks out. Returns the bytes read, 0 when none are there yet,
 * -ENODATA when the record has ended, or -EIO.
 */
static ssize_t nb_rs_take(struct nb_be *nb, void *dst, size_t n)
{
	ssize_t r;

	while (nb->rfrag_left == 0) {
		uint32_t mark;

		if (nb->rin_rec && nb->rfrag_last)
			return -ENODATA;
		r = read(nb->rconn.fd, nb->rmark + nb->rmark_got,
			 4 - nb->rmark_got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return -EIO;
		nb->rmark_got += (size_t)r;
		if (nb->rmark_got < 4)
			continue;
		mark = nb_get32(nb->rmark);
		nb->rmark_got = 0;
		nb->rfrag_left = mark & 0x7fffffffu;
		nb->rfrag_last = (mark & 0x80000000u) != 0;
		nb->rin_rec = true;
	}
	if (n > nb->rfrag_left)
		n = nb->rfrag_left;
	for (;;) {
		r = read(nb->rconn.fd, dst, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (r <= 0)
			return -EIO;
		nb->rfrag_left -= (size_t)r;
		return r;
	}
}

/* A reply's head is complete in nb->rhead: find its segment and start on
 * its data. */
static int nb_rs_head(struct strata_backend *be, bool ended)
{
	struct nb_be *nb = nb_be(be);
	struct nb_rseg *s;
	size_t hlen, dlen, extra;
	uint32_t xid;
	int rc, res;

	rc = strata__backend_nfs_read_reply(nb->rhead, nb->rhlen, &xid, &res,
					    &hlen, &dlen);
	if (rc == -EAGAIN && !ended && nb->rhlen < sizeof(nb->rhead))
		return 0; /* more to come */
	if (rc < 0)
		return -EIO;
	for (s = nb->rflight; s; s = s->fnext)
		if (s->xid == xid)
			break;
	if (s && (s->sq.sent < s->hdrlen || dlen > s->len))
		return -EIO; /* answered before it was sent, or too much */
	if (!s)
		strata_debug(STRATA_SUB_BACKEND,
			     "tier '%s': reply to unknown xid %08x", be->name,
			     xid);
	nb->rcur = s;
	nb->rerr = res;
	nb->rdata_len = dlen;
	extra = nb->rhlen - hlen;
	nb->rdata_at = extra < dlen ? extra : dlen;
	if (s && nb->rdata_at)
		memcpy(s->buf, nb->rhead + hlen, nb->rdata_at);
	nb->rstate = nb->rdata_at < dlen ? NB_RS_DATA : NB_RS_SKIP;
	return 0;
}

/* The reply is all read: its segment, if any, is answered. */
static void nb_rs_finish(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);
	struct nb_rseg *s = nb->rcur;

	if (s) {
		nb_ra_unflight(nb, s);
		/* A reader that needs these bytes reads them itself, and
		 * reports. */
		if (nb->rerr < 0)
			strata_debug(STRATA_SUB_BACKEND,
				     "tier '%s': read-ahead of '%s' failed: %s",
				     be->name, nb_obj(s->obj)->path,
				     strerror(-nb->rerr));
		nb_ra_done(nb, s, nb->rerr, nb->rerr < 0 ? 0 : nb->rdata_len);
	}
	nb_rs_next(nb);
}

/* Read what the server sent on rconn and answer the segments it is for. */
static int nb_rs_recv(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);

	for (;;) {
		ssize_t n;
		void *dst;
		size_t want;

		switch (nb->rstate) {
		case NB_RS_HEAD:
			n = nb_rs_take(nb, nb->rhead + nb->rhlen,
				       sizeof(nb->rhead) - nb->rhlen);
			if (n == 0)
				return 0;
			if (n < 0 && n != -ENODATA)
				return -EIO;
			if (n > 0)
				nb->rhlen += (size_t)n;
			if (nb_rs_head(be, n == -ENODATA) < 0)
				goto bad;
			break;
		case NB_RS_DATA:
			want = nb->rdata_len - nb->rdata_at;
			if (nb->rcur) {
				dst = nb->rcur->buf + nb->rdata_at;
			} else {
				dst = nb->rskip;
				if (want > sizeof(nb->rskip))
					want = sizeof(nb->rskip);
			}
			n = nb_rs_take(nb, dst, want);
			if (n == 0)
				return 0;
			if (n == -ENODATA)
				goto bad; /* the record ended inside the data */
			if (n < 0)
				return -EIO;
			nb->rdata_at += (size_t)n;
			if (nb->rdata_at == nb->rdata_len)
				nb->rstate = NB_RS_SKIP;
			break;
		default:
			n = nb_rs_take(nb, nb->rskip, sizeof(nb->rskip));
			if (n == 0)
				return 0;
			if (n == -ENODATA)
				nb_rs_finish(be);
			else if (n < 0)
				return -EIO;
			break;
		}
	}
bad:
	strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
		   "tier '%s': '%s' sent a reply that does not parse", be->name,
		   nb->url);
	return -EIO;
}

/* A READ unanswered for longer than the timeout. */
static bool nb_rs_timed_out(struct nb_be *nb)
{
	int64_t now = nb_now_ms();

	for (struct nb_rseg *s = nb->rflight; s; s = s->fnext)
		if (now - s->t_issued > nb->timeout_ms)
			return true;
	return false;
}

/* Issue s on rconn, connecting first unless that already failed (*down). */
static void nb_ra_issue(struct strata_backend *be, struct nb_rseg *s,
			bool *down)
{
	struct nb_be *nb = nb_be(be);
	struct nb_obj *o = nb_obj(s->obj);
	struct nfsfh *fh;
	bool dead;
	int rc;

	pthread_mutex_lock(&o->ralock);
	dead = s->dead;
	pthread_mutex_unlock(&o->ralock);
	if (dead) {
		nb_ra_done(nb, s, -ECANCELED, 0);
		return;
	}
	if (nb->rconn.fd < 0 && (*down || nb_conn_open(be, &nb->rconn) < 0)) {
		*down = true;
		nb_ra_done(nb, s, -EIO, 0);
		return;
	}
	pthread_rwlock_rdlock(&o->lock);
	fh = o->fh;
	pthread_rwlock_unlock(&o->lock);
	/* The handle's bytes are copied into the call here. */
	rc = nb_rs_encode(nb, s, fh);
	if (rc < 0) {
		nb_ra_done(nb, s, rc, 0);
		return;
	}
	s->t_issued = nb_now_ms();
	nb_conn_queue(&nb->rconn, &s->sq);
	s->fprev = NULL;
	s->fnext = nb->rflight;
	if (nb->rflight)
		nb->rflight->fprev = s;
	nb->rflight = s;
}

/* Poll c's socket for replies, and for room when it has calls to send. */
static void nb_conn_pollfd(const struct nb_conn *c, struct pollfd *pfd)
{
	if (c->fd >= 0) {
		pfd->fd = c->fd;
		pfd->events = POLLIN | (c->sq_head ? POLLOUT : 0);
	}
}

/*
 * Serve c's poll events: read what came with recv, then send what is
 * queued. A failure marks c to be dropped.
 */
static void nb_conn_serve(struct strata_backend *be, struct nb_conn *c,
			  short revents, int (*recv)(struct strata_backend *be))
{
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		if (recv(be) < 0)
			c->bad = true;
	}
	if (!c->bad && c->fd >= 0 && c->sq_head)
		nb_conn_send(be, c);
}

/* Wait for the I/O thread's wakeup or the connections' events, and serve
 * them. */
static void nb_wb_poll(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);
	struct pollfd pfd[3] = { { .fd = nb->wefd, .events = POLLIN },
				 { .fd = -1 },
				 { .fd = -1 } };
	uint64_t v;
	int rc;

	nb_conn_pollfd(&nb->wconn, &pfd[1]);
	nb_conn_pollfd(&nb->rconn, &pfd[2]);
	rc = poll(pfd, 3, nb->flight || nb->rflight ? NFS_WB_TICK_MS : -1);
	if (rc < 0)
		return; /* EINTR: go round again */
	if (pfd[0].revents & POLLIN) {
		if (read(nb->wefd, &v, sizeof(v)) < 0)
			v = 0; /* EAGAIN cannot happen with POLLIN set */
	}
	nb_conn_serve(be, &nb->wconn, pfd[1].revents, nb_ws_recv);
	if (!nb->wconn.bad && nb->flight && nb_ws_timed_out(nb)) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': a write to '%s' timed out", be->name,
			   nb->url);
		nb->wconn.bad = true;
	}
	nb_conn_serve(be, &nb->rconn, pfd[2].revents, nb_rs_recv);
	if (!nb->rconn.bad && nb->rflight && nb_rs_timed_out(nb)) {
		strata_log(STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			   "tier '%s': a read from '%s' timed out", be->name,
			   nb->url);
		nb->rconn.bad = true;
	}
}

static void *nb_wb_main(void *arg)
{
	struct strata_backend *be = arg;
	struct nb_be *nb = nb_be(be);

	for (;;) {
		struct nb_wreq *q, *r, *next;
		struct nb_rseg *rq, *rnext;
		bool wsdown = false;
		bool down = false;
		bool stop;

		pthread_mutex_lock(&nb->wlock);
		q = nb->wq_head;
		nb->wq_head = NULL;
		nb->wq_tail = NULL;
		rq = nb->rq_head;
		nb->rq_head = NULL;
		nb->rq_tail = NULL;
		stop = nb->wstop;
		pthread_mutex_unlock(&nb->wlock);
		if (nb->rconn.bad)
			nb_rs_drop(nb);
		if (nb->wconn.bad)
			nb_ws_drop(nb);
		r = nb->redo;
		nb->redo = NULL;
		for (; r; r = next) {
			next = r->qnext;
			nb_wb_issue(be, r, &wsdown);
		}
		for (; q; q = next) {
			next = q->qnext;
			nb_wb_issue(be, q, &wsdown);
		}
		if (nb->wconn.fd >= 0 && nb->wconn.sq_head)
			nb_conn_send(be, &nb->wconn);
		for (; rq; rq = rnext) {
			rnext = rq->qnext;
			nb_ra_issue(be, rq, &down);
		}
		if (nb->rconn.fd >= 0 && nb->rconn.sq_head)
			nb_conn_send(be, &nb->rconn);
		if (nb->rconn.bad)
			nb_rs_drop(nb);
		if (nb->wconn.bad)
			nb_ws_drop(nb);
		if (nb->redo)
			continue;
		if (stop && !nb->flight && !nb->rflight)
			break;
		nb_wb_poll(be);
	}
	nb_conn_close(&nb->rconn);
	nb_conn_close(&nb->wconn);
	return NULL;
}

static int nb_wb_start(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);
	int ret;

	nb->wchunk = NFS_WB_CHUNK;
	if (nb->writemax > 0 && nb->writemax < nb->wchunk)
		nb->wchunk = (size_t)nb->writemax;
	nb->wtotal = nb->window > NFS_WB_TOTAL_MIN ? nb->window :
						     NFS_WB_TOTAL_MIN;
	nb->ra_chunk = NFS_RA_CHUNK;
	if (nb->readmax > 0 && nb->readmax < nb->ra_chunk)
		nb->ra_chunk = (size_t)nb->readmax;
	nb->ra_total = 4 * nb->ra_max > NFS_RA_TOTAL_MIN ? 4 * nb->ra_max :
							   NFS_RA_TOTAL_MIN;
	nb->wconn = (struct nb_conn){ .fd = -1,
				      .iov_max = 3,
				      .total = nb_ws_sq_total,
				      .fill = nb_ws_fill };
	nb->rconn = (struct nb_conn){ .fd = -1,
				      .iov_max = 1,
				      .total = nb_rs_sq_total,
				      .fill = nb_rs_fill };
	nb->wxid = (uint32_t)((uint64_t)nb_now_ms() * 2654435761u);
	nb->wefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (nb->wefd < 0)
		return -errno;
	pthread_mutex_init(&nb->wlock, NULL);
	pthread_cond_init(&nb->wcond, NULL);
	ret = -pthread_create(&nb->wthread, NULL, nb_wb_main, be);
	if (ret < 0) {
		pthread_cond_destroy(&nb->wcond);
		pthread_mutex_destroy(&nb->wlock);
		close(nb->wefd);
		return ret;
	}
	nb->wstarted = true;
	return 0;
}

/* Every object is closed: nothing is queued or in flight. */
static void nb_wb_stop(struct nb_be *nb)
{
	if (!nb->wstarted)
		return;
	pthread_mutex_lock(&nb->wlock);
	nb->wstop = true;
	pthread_mutex_unlock(&nb->wlock);
	nb_wb_wake(nb);
	pthread_join(nb->wthread, NULL);
	while (nb->wfree) {
		struct nb_wreq *r = nb->wfree;

		nb->wfree = r->qnext;
		free(r);
	}
	while (nb->rfree) {
		struct nb_rseg *s = nb->rfree;

		nb->rfree = s->next;
		free(s);
	}
	pthread_cond_destroy(&nb->wcond);
	pthread_mutex_destroy(&nb->wlock);
	close(nb->wefd);
	nb->wstarted = false;
}

static void nb_close_be(struct strata_backend *be)
{
	struct nb_be *nb = nb_be(be);

	if (!nb->ctx)
		return;
	nb_wb_stop(nb);
	for (unsigned int i = 0; i < nb->nconns; i++) {
		if (nb->ctx[i]) {
			nfs_umount(nb->ctx[i]);
			nfs_destroy_context(nb->ctx[i]);
		}
	}
	free(nb->ctx);
	free(nb->busy);
	nb->ctx = NULL;
	pthread_cond_destroy(&nb->cond);
	pthread_mutex_destroy(&nb->lock);
}

static int nb_open_be(struct strata_backend *be, const struct strata_uri *uri,
		      char *err, size_t errlen)
{
	struct nb_be *nb = nb_be(be);
	char path[PATH_MAX];
	size_t len;
	int ret;

	if (!uri->host[0] || uri->path[0] != '/') {
		snprintf(err, errlen,
			 "URL wants a host and a path (nfs://HOST/EXPORT)");
		return -EINVAL;
	}
	strata_strlcpy(nb->server, uri->host, sizeof(nb->server));
	len = strlen(uri->path);
	while (len > 1 && uri->path[len - 1] == '/')
		len--;
	memcpy(path, uri->path, len);
	path[len] = '\0';
	snprintf(nb->url, sizeof(nb->url), "nfs://%s%s", nb->server, path);
	ret = nb_parse_query(nb, uri->query, err, errlen);
	if (ret < 0)
		return ret;
	pthread_mutex_init(&nb->lock, NULL);
	pthread_cond_init(&nb->cond, NULL);
	nb->ctx = calloc(nb->nconns, sizeof(*nb->ctx));
	nb->busy = calloc(nb->nconns, sizeof(*nb->busy));
	nb->nfree = nb->nconns;
	if (!nb->ctx || !nb->busy) {
		ret = -ENOMEM;
		goto out;
	}
	ret = nb_find_export(be, strcmp(path, "/") ? path : "", err, errlen);
	if (ret < 0)
		goto out;
	ret = nb_wb_start(be);
	if (ret < 0) {
		snprintf(err, errlen, "cannot start the I/O thread: %s",
			 strerror(-ret));
		nfs_destroy_context(nb->ctx[0]);
		goto out;
	}
	strata_debug(
		STRATA_SUB_BACKEND,
		"tier '%s': export '%s', prefix '%s', rsize %llu, wsize %llu",
		be->name, nb->export, nb->root, (unsigned long long)nb->readmax,
		(unsigned long long)nb->writemax);
out:
	if (ret < 0) {
		free(nb->ctx);
		free(nb->busy);
		nb->ctx = NULL;
		nb->busy = NULL;
		pthread_cond_destroy(&nb->cond);
		pthread_mutex_destroy(&nb->lock);
	}
	return ret;
}

static int nb_statfs(struct strata_backend *be,
		     struct strata_backend_statfs *out)
{
	struct nb_be *nb = nb_be(be);
	struct nfs_statvfs_64 sv;
	struct nb_call c;
	const char *dir = nb->root[0] ? nb->root : "/";
	int ret;

	ret = nb_call_begin(be, &c);
	if (ret < 0)
		return ret;
	ret = nb_call_end(be, &c, nfs_statvfs64(c.ctx, dir, &sv), "statfs",
			  dir);
	if (ret < 0)
		return ret;
	out->total = sv.f_blocks * sv.f_frsize;
	out->avail = sv.f_bavail * sv.f_frsize;
	out->files = sv.f_files;
	out->ffree = sv.f_favail < sv.f_files ? sv.f_favail : sv.f_files;
	return 0;
}

static int nb_oflags(unsigned int flags)
{
	int o = (flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC)) ? O_RDWR :
								  O_RDONLY;

	if (flags & STRATA_OBJ_TRUNC)
		o |= O_TRUNC;
	return o;
}

static int nb_open_fh(struct nfs_context *ctx, const char *path,
		      unsigned int flags, struct nfsfh **fh)
{
	int o = nb_oflags(flags);

	if ((flags & (STRATA_OBJ_CREATE | STRATA_OBJ_EXCL)) ==
	    (STRATA_OBJ_CREATE | STRATA_OBJ_EXCL))
		return nfs_create(ctx, path, o | O_EXCL, 0600, fh);
	if (flags & STRATA_OBJ_CREATE)
		return nfs_open2(ctx, path, o | O_CREAT, 0600, fh);
	return nfs_open(ctx, path, o, fh);
}

static int nb_obj_open(struct strata_backend *be, const char *key,
		       unsigned int flags, struct strata_obj *obj)
{
	struct nb_obj *o = nb_obj(obj);
	struct nfsfh *fh = NULL;
	char path[PATH_MAX];
	struct nb_call c;
	int rc, ret;

	ret = nb_path(be, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	nb_wait_path(nb_be(be), path); /* say, it truncates */
	o->path = strdup(path);
	if (!o->path)
		return -ENOMEM;
	ret = nb_call_begin(be, &c);
	if (ret < 0)
		goto out;
	rc = nb_open_fh(c.ctx, path, flags, &fh);
	if (rc == -ENOENT && (flags & STRATA_OBJ_CREATE)) {
		rc = nb_mkparents(be, c.ctx, path, strlen(nb_be(be)->root));
		if (rc == 0)
			rc = nb_open_fh(c.ctx, path, flags, &fh);
	}
	ret = nb_call_end(be, &c, rc, "open", path);
	if (ret < 0)
		goto out;
	if (flags & (STRATA_OBJ_TRUNC | STRATA_OBJ_CREATE))
		nb_changed(nb_be(be), path);
	o->fh = fh;
	o->oflags = nb_oflags(flags) & O_ACCMODE;
	pthread_rwlock_init(&o->lock, NULL);
	pthread_mutex_init(&o->mlock, NULL);
	pthread_mutex_init(&o->ralock, NULL);
	pthread_cond_init(&o->racond, NULL);
	o->raeof = UINT64_MAX;
out:
	if (ret < 0) {
		free(o->path);
		o->path = NULL;
	}
	return ret;
}

/*
 * The handle in use (seen) went stale: open the object again by its key,
 * unless another thread already did. Called without o->lock. The old
 * handle is kept until close, as writes in flight may still use it.
 */
static int nb_obj_reopen(struct strata_obj *obj, struct nfs_context *ctx,
			 struct nfsfh *seen)
{
	struct nb_obj *o = nb_obj(obj);
	struct nfsfh *fh = NULL;
	struct nb_oldfh *old;
	int rc = 0;

	pthread_rwlock_wrlock(&o->lock);
	if (o->fh == seen) {
		old = malloc(sizeof(*old));
		rc = old ? nfs_open(ctx, o->path, o->oflags, &fh) : -ENOMEM;
		if (rc < 0)
			free(old);
		if (rc == 0) {
			old->fh = o->fh;
			old->next = o->oldfh;
			o->oldfh = old;
			o->fh = fh;
			strata_log(STRATA_LOG_NOTICE, STRATA_SUB_BACKEND,
				   "tier '%s': re-opened stale '%s'",
				   obj->be->name, o->path);
		}
	}
	pthread_rwlock_unlock(&o->lock);
	return rc;
}

/* Hand the segments q ... tail to the I/O thread. */
static void nb_ra_queue(struct nb_be *nb, struct nb_rseg *q,
			struct nb_rseg *tail)
{
	bool wake;

	tail->qnext = NULL;
	pthread_mutex_lock(&nb->wlock);
	wake = !nb->rq_head;
	if (nb->rq_tail)
		nb->rq_tail->qnext = q;
	else
		nb->rq_head = q;
	nb->rq_tail = tail;
	pthread_mutex_unlock(&nb->wlock);
	if (wake)
		nb_wb_wake(nb);
}

/* The segment holding byte pos, and in *prev the one before it. */
static struct nb_rseg *nb_ra_find(struct nb_obj *o, uint64_t pos,
				  struct nb_rseg **prev)
{
	struct nb_rseg *p = NULL;
	struct nb_rseg *s;

	for (s = o->ra; s && s->off <= pos; p = s, s = s->next) {
		if (pos < s->off + s->len) {
			*prev = p;
			return s;
		}
	}
	return NULL;
}

/*
 * Request read-ahead for a sequential read ending at end (o->ralock
 * held). Returns the new segments, linked by qnext, and their last in
 * *tail.
 */
static struct nb_rseg *nb_ra_ahead(struct strata_obj *obj, uint64_t end,
				   struct nb_rseg **tail)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_be *nb = nb_be(obj->be);
	struct nb_rseg *last = NULL;
	struct nb_rseg *q = NULL;
	struct nb_rseg *s;
	uint64_t at = end;

	if (o->rawin == 0)
		o->rawin = 2 * nb->ra_chunk;
	else
		o->rawin *= 2;
	if (o->rawin > nb->ra_max)
		o->rawin = nb->ra_max;
	for (s = o->ra; s; s = s->next)
		last = s;
	if (last && last->off + last->len > at)
		at = last->off + last->len;
	while (at < end + o->rawin && at < o->raeof) {
		s = nb_rseg_get(nb);
		if (!s)
			break;
		s->obj = obj;
		s->off = at;
		s->len = nb->ra_chunk - (size_t)(at % nb->ra_chunk);
		s->pending = true;
		if (last)
			last->next = s;
		else
			o->ra = s;
		last = s;
		if (q)
			(*tail)->qnext = s;
		else
			q = s;
		*tail = s;
		o->rainflight++;
		at += s->len;
	}
	return q;
}

/*
 * Copy what read-ahead holds of [off, off + len) into buf, from off on,
 * and keep a sequential reader's window requested. Returns the bytes
 * copied; the caller reads the rest. Called with no lock held, after the
 * writes admitted before it have completed.
 */
static size_t nb_ra_read(struct strata_obj *obj, uint64_t off, void *buf,
			 size_t len)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_be *nb = nb_be(obj->be);
	struct nb_rseg *s, *prev, *q, *tail = NULL;
	uint64_t end = off + len;
	uint64_t pos = off;
	unsigned long gen;
	bool seq;

	pthread_mutex_lock(&o->ralock);
	/* Loaded under ralock, so o->ragen never goes back. */
	gen = atomic_load(nb_pgen(nb, o->path));
	if (gen != o->ragen) {
		nb_ra_reset(nb, o);
		o->ragen = gen;
	}
	/* Near the last read's end: FUSE threads race each other. */
	seq = (off <= o->ranext ? o->ranext - off : off - o->ranext) <=
		      nb->ra_chunk ||
	      nb_ra_find(o, off, &prev);
	while (pos < end) {
		size_t n;

		s = nb_ra_find(o, pos, &prev);
		if (!s)
			break;
		if (s->pending) {
			/* The list may change while we wait: look again. */
			pthread_cond_wait(&o->racond, &o->ralock);
			continue;
		}
		if (s->err) {
			nb_ra_drop(nb, o, prev, s);
			break;
		}
		if (pos >= s->off + s->got)
			break; /* a short READ: the caller finds out why */
		n = s->off + s->got - pos < end - pos ?
			    (size_t)(s->off + s->got - pos) :
			    (size_t)(end - pos);
		memcpy((char *)buf + (pos - off), s->buf + (pos - s->off), n);
		pos += n;
	}
	/* Segments a whole segment behind this read are done with. */
	while (o->ra && o->ra->off + o->ra->len + nb->ra_chunk <= off)
		nb_ra_drop(nb, o, NULL, o->ra);
	if (seq) {
		q = nb_ra_ahead(obj, end, &tail);
		if (end > o->ranext)
			o->ranext = end;
	} else {
		/* The stream moved: give the tier's buffers back. */
		q = NULL;
		nb_ra_reset(nb, o);
		o->ranext = end;
	}
	pthread_mutex_unlock(&o->ralock);
	if (q)
		nb_ra_queue(nb, q, tail);
	return (size_t)(pos - off);
}

static int nb_obj_read(struct strata_obj *obj, uint64_t off, void *buf,
		       size_t len, size_t *nread)
{
	struct nb_obj *o = nb_obj(obj);
	bool retried = false;
	struct nfsfh *fh;
	struct nb_call c;
	size_t done = 0;
	int rc = 0;
	int ret;

	*nread = 0;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EINVAL;
	nb_wait_path(nb_be(obj->be), o->path);
	if (len > 0) {
		done = nb_ra_read(obj, off, buf, len);
		if (done == len) {
			*nread = done;
			return 0;
		}
	}
	ret = nb_call_begin(obj->be, &c);
	if (ret < 0)
		return ret;
	pthread_rwlock_rdlock(&o->lock);
	while (done < len) {
		size_t n = len - done < NFS_IO_MAX ? len - done : NFS_IO_MAX;

		fh = o->fh;
		rc = nfs_pread(c.ctx, fh, off + done, n, (char *)buf + done);
		if (rc == -ESTALE && !retried) {
			retried = true;
			pthread_rwlock_unlock(&o->lock);
			rc = nb_obj_reopen(obj, c.ctx, fh);
			pthread_rwlock_rdlock(&o->lock);
			if (rc < 0)
				break;
			continue;
		}
		if (rc <= 0)
			break;
		done += (size_t)rc;
	}
	pthread_rwlock_unlock(&o->lock);
	ret = nb_call_end(obj->be, &c, rc < 0 ? rc : 0, "read", o->path);
	if (ret == 0)
		*nread = done;
	return ret;
}

static void nb_obj_mark_dirty(struct strata_obj *obj)
{
	struct nb_obj *o = nb_obj(obj);

	pthread_mutex_lock(&o->mlock);
	if (!o->dirty) {
		o->dirty = true;
		o->dirty_gen = atomic_load(&nb_be(obj->be)->gen);
	}
	pthread_mutex_unlock(&o->mlock);
}

/*
 * Admit r: wait until it overlaps no piece of its object in flight and
 * fits the object's window (one piece always fits). Returns the object's
 * pending write error instead, if any.
 */
static int nb_obj_admit(struct strata_obj *obj, struct nb_wreq *r)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_be *nb = nb_be(obj->be);
	struct nb_wreq *w;
	bool wait;
	int ret;

	pthread_mutex_lock(&nb->wlock);
	for (;;) {
		wait = o->wbytes > 0 && o->wbytes + r->len > nb->window;
		for (w = nb->whead; w && !wait; w = w->next)
			wait = w->obj == obj && w->off < r->off + r->len &&
			       r->off < w->off + w->len;
		if (!wait || o->werr)
			break;
		pthread_cond_wait(&nb->wcond, &nb->wlock);
	}
	ret = o->werr;
	if (ret == 0) {
		r->seq = nb->wseq++;
		r->prev = nb->wtail;
		if (nb->wtail)
			nb->wtail->next = r;
		else
			nb->whead = r;
		nb->wtail = r;
		o->wbytes += r->len;
	}
	pthread_mutex_unlock(&nb->wlock);
	return ret;
}

/* The first write error not yet reported by sync or close, or 0. */
static int nb_obj_werr(struct strata_obj *obj, bool take)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_be *nb = nb_be(obj->be);
	int ret;

	pthread_mutex_lock(&nb->wlock);
	ret = o->werr;
	if (take)
		o->werr = 0;
	pthread_mutex_unlock(&nb->wlock);
	return ret;
}

/*
 * Copy buf into pieces for the I/O thread and return; wait only while the
 * object's window or the tier's buffers are full. A failure of a piece is
 * returned by the next write, sync or close. With window=0 in the URL,
 * every write waits for its own completion.
 */
static int nb_obj_write(struct strata_obj *obj, uint64_t off, const void *buf,
			size_t len)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_be *nb = nb_be(obj->be);
	struct nb_wreq *r;
	size_t done = 0;
	int ret;

	if (!(obj->flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC)))
		return -EBADF;
	if (off > INT64_MAX || len > INT64_MAX - off)
		return -EFBIG;
	if (len == 0)
		return 0;
	ret = nb_obj_werr(obj, false);
	if (ret < 0)
		return ret;
	nb_obj_mark_dirty(obj);
	while (done < len) {
		size_t n = len - done < nb->wchunk ? len - done : nb->wchunk;

		r = nb_wb_get(nb, n);
		if (!r)
			return -ENOMEM;
		memcpy(r->buf, (const char *)buf + done, n);
		r->obj = obj;
		r->path = o->path;
		r->off = off + done;
		r->len = n;
		ret = nb_obj_admit(obj, r);
		if (ret < 0) {
			nb_wb_put(nb, r);
			return ret;
		}
		nb_wb_queue(nb, r);
		done += n;
	}
	if (nb->window == 0) {
		nb_wait_path(nb_be(obj->be), o->path);
		ret = nb_obj_werr(obj, false);
	}
	return ret;
}

static int nb_obj_truncate(struct strata_obj *obj, uint64_t size)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_call c;
	int rc, ret;

	if (!(obj->flags & (STRATA_OBJ_WRITE | STRATA_OBJ_TRUNC)))
		return -EBADF;
	if (size > INT64_MAX)
		return -EFBIG;
	nb_wait_path(nb_be(obj->be), o->path);
	ret = nb_call_begin(obj->be, &c);
	if (ret < 0)
		return ret;
	pthread_rwlock_rdlock(&o->lock);
	rc = nfs_ftruncate(c.ctx, o->fh, size);
	pthread_rwlock_unlock(&o->lock);
	nb_changed(nb_be(obj->be), o->path);
	return nb_call_end(obj->be, &c, rc, "truncate", o->path);
}

/*
 * Wait for the writes in flight, then COMMIT what was written; -EIO if a
 * dropped connection may have lost it. A write's error is reported here
 * once, and the next sync commits again.
 */
static int nb_obj_sync(struct strata_obj *obj, bool datasync)
{
	struct nb_obj *o = nb_obj(obj);
	struct nb_call c;
	unsigned long gen;
	bool dirty;
	int rc, ret;

	nb_wait_path(nb_be(obj->be), o->path);
	ret = nb_obj_werr(obj, true);
	if (ret < 0)
		return ret;
	pthread_mutex_lock(&o->mlock);
	dirty = o->dirty;
	gen = o->dirty_gen;
	o->dirty = false;
	pthread_mutex_unlock(&o->mlock);
	if (!dirty)
		return 0;
	ret = nb_call_begin(obj->be, &c);
	if (ret < 0)
		return ret;
	pthread_rwlock_rdlock(&o->lock);
	rc = nfs_fsync(c.ctx, o->fh);
	pthread_rwlock_unlock(&o->lock);
	ret = nb_call_end(obj->be, &c, rc, "commit", o->path);
	if (ret == 0 && gen != atomic_load(&nb_be(obj->be)->gen)) {
		strata_log(
			STRATA_LOG_ERR, STRATA_SUB_BACKEND,
			"tier '%s': a connection was lost before '%s' was committed; its last writes may be lost",
			obj->be->name, o->path);
		ret = -EIO;
	}
	return ret;
}

/* Free the object's handles, the current one and any re-opened. */
static void nb_obj_close_fhs(struct nb_obj *o, struct nfs_context *ctx)
{
	struct nb_oldfh *old;

	nfs_close(ctx, o->fh);
	while (o->oldfh) {
		old = o->oldfh;
		o->oldfh = old->next;
		nfs_close(ctx, old->fh);
		free(old);
	}
}

/* Sync (which waits for the writes in flight), then free the handle. */
static int nb_obj_close(struct strata_obj *obj)
{
	struct nb_obj *o = nb_obj(obj);
	struct nfs_context *spare = NULL;
	struct nb_be *nb = nb_be(obj->be);
	struct nb_call c;
	int ret = nb_obj_sync(obj, false);

	/* Read-ahead in flight uses the handle and the object. */
	pthread_mutex_lock(&o->ralock);
	nb_ra_reset(nb, o);
	while (o->rainflight > 0)
		pthread_cond_wait(&o->racond, &o->ralock);
	pthread_mutex_unlock(&o->ralock);
	/* Freeing the handle needs a context but no server. */
	if (nb_call_begin(obj->be, &c) == 0) {
		nb_obj_close_fhs(o, c.ctx);
		nb_call_end(obj->be, &c, 0, "close", o->path);
	} else {
		spare = nfs_init_context();
		if (spare) {
			/* Unconnected, it would otherwise wait forever for a
			 * server that is down. */
			nfs_set_timeout(spare, nb_be(obj->be)->timeout_ms);
			nb_obj_close_fhs(o, spare);
			nfs_destroy_context(spare);
		}
	}
	o->fh = NULL;
	pthread_rwlock_destroy(&o->lock);
	pthread_mutex_destroy(&o->mlock);
	pthread_cond_destroy(&o->racond);
	pthread_mutex_destroy(&o->ralock);
	free(o->path);
	o->path = NULL;
	return ret;
}

static int nb_stat(struct strata_backend *be, const char *key,
		   struct strata_obj_stat *out)
{
	struct nfs_stat_64 st;
	char path[PATH_MAX];
	struct nb_call c;
	int ret;

	ret = nb_path(be, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	nb_wait_path(nb_be(be), path);
	ret = nb_call_begin(be, &c);
	if (ret < 0)
		return ret;
	ret = nb_call_end(be, &c, nfs_stat64(c.ctx, path, &st), "stat", path);
	if (ret < 0)
		return ret;
	if (S_ISDIR(st.nfs_mode))
		return -EISDIR;
	if (!S_ISREG(st.nfs_mode))
		return -EINVAL;
	out->size = st.nfs_size;
	out->mtime.tv_sec = (time_t)st.nfs_mtime;
	out->mtime.tv_nsec = (long)st.nfs_mtime_nsec;
	return 0;
}

static int nb_remove(struct strata_backend *be, const char *key)
{
	char path[PATH_MAX];
	struct nb_call c;
	int ret;

	ret = nb_path(be, key, path, sizeof(path));
	if (ret < 0)
		return ret;
	nb_wait_path(nb_be(be), path);
	ret = nb_call_begin(be, &c);
	if (ret < 0)
		return ret;
	ret = nfs_unlink(c.ctx, path);
	nb_changed(nb_be(be), path);
	return nb_call_end(be, &c, ret, "remove", path);
}

static int nb_rename_be(struct strata_backend *be, const char *from,
			const char *to)
{
	struct nfs_stat_64 st;
	char src[PATH_MAX];
	char dst[PATH_MAX];
	struct nb_call c;
	int rc, ret;

	ret = nb_path(be, from, src, sizeof(src));
	if (ret == 0)
		ret = nb_path(be, to, dst, sizeof(dst));
	if (ret < 0)
		return ret;
	nb_wait_path(nb_be(be), src);
	nb_wait_path(nb_be(be), dst);
	ret = nb_call_begin(be, &c);
	if (ret < 0)
		return ret;
	rc = nfs_rename(c.ctx, src, dst);
	if (rc == -ENOENT) {
		/* Either the source is missing or the target's shard is. */
		rc = nfs_stat64(c.ctx, src, &st);
		if (rc == 0)
			rc = nb_mkparents(be, c.ctx, dst,
					  strlen(nb_be(be)->root));
		if (rc == 0)
			rc = nfs_rename(c.ctx, src, dst);
	}
	nb_changed(nb_be(be), src);
	nb_changed(nb_be(be), dst);
	return nb_call_end(be, &c, rc, "rename", src);
}

struct nb_dent {
	char *name;
	bool dir;
	struct strata_obj_stat st;
};

struct nb_walk {
	struct strata_backend *be;
	strata_backend_list_cb cb;
	void *arg;
	char path[PATH_MAX]; /* ROOT/prefix being walked */
	size_t keyoff;	     /* where keys start in path */
};

static void nb_dents_free(struct nb_dent *d, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(d[i].name);
	free(d);
}

/*
 * Read the directory w->path whole, so that no context is held while the
 * callback runs (it may call into this backend).
 */
static int nb_read_dir(struct nb_walk *w, struct nb_dent **out, size_t *nout)
{
	struct nb_dent *d = NULL;
	struct nfsdirent *de;
	struct nfsdir *dir = NULL;
	size_t n = 0, cap = 0;
	struct nb_call c;
	int rc, ret;

	ret = nb_call_begin(w->be, &c);
	if (ret < 0)
		return ret;
	rc = nfs_opendir(c.ctx, w->path[0] ? w->path : "/", &dir);
	while (rc == 0 && (de = nfs_readdir(c.ctx, dir)) != NULL) {
		if (strcmp(de->name, ".") == 0 || strcmp(de->name, "..") == 0)
			continue;
		if (strncmp(de->name, STRATA__BACKEND_TMP_PREFIX,
			    sizeof(STRATA__BACKEND_TMP_PREFIX) - 1) == 0)
			continue;
		if (de->type != NF3DIR && de->type != NF3REG)
			continue;
		if (n == cap) {
			struct nb_dent *nd;

			cap = cap ? cap * 2 : 64;
			nd = realloc(d, cap * sizeof(*d));
			if (!nd) {
				rc = -ENOMEM;
				break;
			}
			d = nd;
		}
		d[n].name = strdup(de->name);
		if (!d[n].name) {
			rc = -ENOMEM;
			break;
		}
		d[n].dir = de->type == NF3DIR;
		d[n].st.size = de->size;
		d[n].st.mtime.tv_sec = de->mtime.tv_sec;
		d[n].st.mtime.tv_nsec = (long)de->mtime_nsec;
		n++;
	}
	if (dir)
		nfs_closedir(c.ctx, dir);
	if (rc == -ENOMEM) {
		nb_slot_put(nb_be(w->be), c.slot);
		ret = -ENOMEM;
	} else {
		ret = nb_call_end(w->be, &c, rc, "list", w->path);
	}
	if (ret < 0) {
		nb_dents_free(d, n);
		return ret;
	}
	*out = d;
	*nout = n;
	return 0;
}

static int nb_walk_dir(struct nb_walk *w, size_t len)
{
	struct nb_dent *d = NULL;
	size_t n = 0;
	int ret;

	ret = nb_read_dir(w, &d, &n);
	if (ret < 0)
		/* A shard removed while we walked is not an error. */
		return ret == -ENOENT && len + 1 != w->keyoff ? 0 : ret;
	for (size_t i = 0; i < n && ret == 0; i++) {
		size_t nlen = strlen(d[i].name);

		if (len + 1 + nlen >= sizeof(w->path)) {
			ret = -ENAMETOOLONG;
			break;
		}
		w->path[len] = '/';
		memcpy(w->path + len + 1, d[i].name, nlen + 1);
		if (d[i].dir)
			ret = nb_walk_dir(w, len + 1 + nlen);
		else
			ret = w->cb(w->arg, w->path + w->keyoff, &d[i].st);
		w->path[len] = '\0';
	}
	nb_dents_free(d, n);
	return ret;
}

static int nb_list(struct strata_backend *be, strata_backend_list_cb cb,
		   void *arg)
{
	struct nb_walk *w;
	size_t len;
	int ret;

	nb_wait_path(nb_be(be), NULL);
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->be = be;
	w->cb = cb;
	w->arg = arg;
	strata_strlcpy(w->path, nb_be(be)->root, sizeof(w->path));
	len = strlen(w->path);
	w->keyoff = len + 1;
	ret = nb_walk_dir(w, len);
	free(w);
	return ret;
}

const struct strata_backend_ops strata_nfs_ops = {
	.scheme = "nfs",
	.driver = "nfs",
	.caps = STRATA_BCAP_RANGE_READ | STRATA_BCAP_RANDOM_WRITE |
		STRATA_BCAP_RENAME | STRATA_BCAP_WRITE_AROUND,
	.priv_size = sizeof(struct nb_be),
	.obj_priv_size = sizeof(struct nb_obj),
	.open = nb_open_be,
	.close = nb_close_be,
	.statfs = nb_statfs,
	.obj_open = nb_obj_open,
	.obj_read = nb_obj_read,
	.obj_write = nb_obj_write,
	.obj_truncate = nb_obj_truncate,
	.obj_sync = nb_obj_sync,
	.obj_close = nb_obj_close,
	.stat = nb_stat,
	.remove = nb_remove,
	.rename = nb_rename_be,
	.list = nb_list,
};
