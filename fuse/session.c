/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/session.c - mount options, the FUSE session and its loop.
 *
 * strata_fuse_main() opens the namespace (lib/vfs), creates the low-level
 * session with the kernel's default_permissions, mounts, daemonizes unless
 * asked not to (logging to syslog from then on), serves requests on a
 * multithreaded loop until the file system is unmounted or SIGINT/SIGTERM
 * arrives, and then unmounts, flushes and closes everything. libfuse's own
 * messages are routed through strata_log().
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"
#include "util.h"

#define SESSION_DEFAULT_THREADS 16
#define SESSION_DEFAULT_MAX_WRITE (1u << 20)
/* Blocks below this come from malloc's heaps, never from mmap; see
 * session_tune_malloc. */
#define SESSION_MMAP_THRESHOLD (4 << 20)
#define SESSION_TRIM_THRESHOLD (64 << 20)

void strata_fuse_opts_init(struct strata_fuse_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->entry_timeout = -1;
	opts->attr_timeout = -1;
	opts->max_threads = SESSION_DEFAULT_THREADS;
	opts->max_write = SESSION_DEFAULT_MAX_WRITE;
	opts->notify_fd = -1;
}

static int session_opt_seconds(const char *name, const char *val, double *out,
			       char *err, size_t errlen)
{
	if (!val || strata_parse_seconds(val, out) < 0) {
		snprintf(err, errlen,
			 "mount option '%s' needs a duration in seconds", name);
		return -EINVAL;
	}
	return 0;
}

static int session_opt_uint(const char *name, const char *val, unsigned int min,
			    unsigned int max, unsigned int *out, char *err,
			    size_t errlen)
{
	uint64_t v;

	if (!val || strata_parse_size(val, &v) < 0 || v < min || v > max) {
		snprintf(err, errlen,
			 "mount option '%s' needs a number from %u to %u", name,
			 min, max);
		return -EINVAL;
	}
	*out = (unsigned int)v;
	return 0;
}

static int session_opt(char *opt, struct strata_fuse_opts *opts, char *err,
		       size_t errlen)
{
	char *val = strchr(opt, '=');
	char bad[64];

	if (val)
		*val++ = '\0';
	if (strcmp(opt, "allow_other") == 0 && !val) {
		opts->allow_other = true;
	} else if (strcmp(opt, "ro") == 0 && !val) {
		opts->read_only = true;
	} else if (strcmp(opt, "rw") == 0 && !val) {
		opts->read_only = false;
	} else if (strcmp(opt, "no_passthrough") == 0 && !val) {
		opts->no_passthrough = true;
	} else if (strcmp(opt, "no_uring") == 0 && !val) {
		opts->no_uring = true;
	} else if (strcmp(opt, "default_permissions") == 0 && !val) {
		/* Always on; accepted for fstab compatibility. */
	} else if (strcmp(opt, "entry_timeout") == 0) {
		return session_opt_seconds(opt, val, &opts->entry_timeout, err,
					   errlen);
	} else if (strcmp(opt, "attr_timeout") == 0) {
		return session_opt_seconds(opt, val, &opts->attr_timeout, err,
					   errlen);
	} else if (strcmp(opt, "max_threads") == 0) {
		return session_opt_uint(opt, val, 1, 256, &opts->max_threads,
					err, errlen);
	} else if (strcmp(opt, "max_write") == 0) {
		return session_opt_uint(opt, val, 4096, 1u << 20,
					&opts->max_write, err, errlen);
	} else if (strcmp(opt, "debug") == 0) {
		if (strata_log_set_debug(val ? val : "all", bad, sizeof(bad)) <
		    0) {
			snprintf(
				err, errlen,
				"unknown debug subsystem '%s' (known: core, "
				"catalog, backend, vfs, fuse, policy, cmd, all)",
				bad);
			return -EINVAL;
		}
	} else {
		snprintf(err, errlen, "unknown mount option '%s'", opt);
		return -EINVAL;
	}
	return 0;
}

int strata_fuse_parse_opts(const char *list, struct strata_fuse_opts *opts,
			   char *err, size_t errlen)
{
	char *copy = strdup(list);
	char *save = NULL;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	for (char *opt = strtok_r(copy, ",", &save); opt;
	     opt = strtok_r(NULL, ",", &save)) {
		ret = session_opt(opt, opts, err, errlen);
		if (ret < 0)
			break;
	}
	free(copy);
	return ret;
}

static void session_fuse_log(enum fuse_log_level level, const char *fmt,
			     va_list ap)
{
	enum strata_log_level l = (enum strata_log_level)level;

	if (level < FUSE_LOG_ERR)
		l = STRATA_LOG_ERR;
	strata_vlog(l, STRATA_SUB_FUSE, fmt, ap);
}

/* Escape the commas and backslashes of an option value for libfuse. */
static void session_escape(const char *in, char *out, size_t len)
{
	size_t n = 0;

	for (; *in && n + 2 < len; in++) {
		if (*in == ',' || *in == '\\')
			out[n++] = '\\';
		out[n++] = *in;
	}
	out[n] = '\0';
}

static int session_args(struct fuse_args *args, const struct strata_cfg *cfg,
			const struct strata_fuse_opts *opts)
{
	char fsname[2 * PATH_MAX];
	char o[2 * PATH_MAX + 128];

	/* The catalog names the mount (its source in mountinfo), which is
	 * how strata umount finds the catalog to wait for. */
	session_escape(cfg->catalog, fsname, sizeof(fsname));
	snprintf(o, sizeof(o),
		 "default_permissions,fsname=%s,subtype=strata%s%s", fsname,
		 opts->allow_other ? ",allow_other" : "",
		 opts->read_only ? ",ro" : "");
	if (fuse_opt_add_arg(args, "strata") < 0 ||
	    fuse_opt_add_arg(args, "-o") < 0 || fuse_opt_add_arg(args, o) < 0)
		return -ENOMEM;
	return 0;
}

static int session_check_mountpoint(const char *mnt, char *err, size_t errlen)
{
	struct stat st;

	if (stat(mnt, &st) < 0) {
		snprintf(err, errlen, "cannot use mount point '%s': %s", mnt,
			 strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "mount point '%s' is not a directory",
			 mnt);
		return -ENOTDIR;
	}
	return 0;
}

/* True while mnt (absolute) is still a strata mount. */
static bool session_mounted(const char *mnt)
{
	char src[PATH_MAX];

	return strata_mount_source(mnt, "fuse.strata", src, sizeof(src)) == 0;
}

/*
 * The kernel caps a FUSE mount's read-ahead at its bdi's default (128 KiB)
 * whatever max_readahead the INIT reply asks for, so a sequential reader's
 * pages came in 128 KiB READ requests: eight round trips through the mount
 * per MiB (measured: 8,196 requests and 0.9 s of the mount's CPU for a
 * 1 GiB S3 read, against 1,027 and 0.8 s at 1 MiB). Raise the mount's bdi
 * to what the INIT reply asks for, before the kernel sees the reply. Only
 * root may; otherwise the kernel's default stays.
 */
static void session_readahead(const char *mnt)
{
	char dev[32];
	char path[96];
	char val[32];
	int fd;
	int n;

	if (strata_mount_devno(mnt, "fuse.strata", dev, sizeof(dev)) < 0)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	n = snprintf(val, sizeof(val), "%u\n", STRATA_FUSE_READ_MAX >> 10);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, (size_t)n) != n)
		strata_debug(STRATA_SUB_FUSE, "cannot set '%s': %s", path,
			     strerror(errno));
	if (fd >= 0)
		close(fd);
}

/* Tell the waiting parent the mount is up, then leave the terminal. */
static void session_detach(int notify_fd)
{
	static const char ok[] = STRATA_FUSE_NOTIFY_OK;
	int fd;

	strata_log_set_sink(STRATA_LOG_SYSLOG, "strata");
	if (write(notify_fd, ok, sizeof(ok) - 1) < 0) {
		/* The parent is gone; nobody is left to tell. */
	}
	close(notify_fd);
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	if (chdir("/") < 0) {
		/* Not fatal: only keeps the old directory busy. */
	}
}

static int session_serve(struct strata_fuse *pf, const struct strata_cfg *cfg,
			 const char *mountpoint, char *err, size_t errlen)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *lc = NULL;
	struct fuse_session *se = NULL;
	bool mounted = false;
	bool handlers = false;
	int ret;

	ret = session_args(&args, cfg, &pf->opts);
	if (ret < 0)
		goto out;
	se = fuse_session_new(&args, &strata__fuse_ops,
			      sizeof(strata__fuse_ops), pf);
	if (!se) {
		snprintf(err, errlen, "cannot create the FUSE session");
		ret = -EIO;
		goto out;
	}
	if (fuse_set_signal_handlers(se) != 0) {
		snprintf(err, errlen, "cannot install signal handlers");
		ret = -EIO;
		goto out;
	}
	handlers = true;
	if (fuse_session_mount(se, mountpoint) != 0) {
		snprintf(err, errlen,
			 "cannot mount at '%s' (is /dev/fuse there, and "
			 "fusermount3 installed?)",
			 mountpoint);
		ret = -EIO;
		goto out;
	}
	mounted = true;
	if (strata__fuse_pt_install(pf, se) != 0) {
		snprintf(err, errlen, "cannot set up the FUSE session's I/O");
		ret = -EIO;
		goto out;
	}
	session_readahead(mountpoint);
	strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE,
		   "mounted catalog '%s' at '%s'", cfg->catalog, mountpoint);
	if (pf->opts.notify_fd >= 0)
		session_detach(pf->opts.notify_fd);
	lc = fuse_loop_cfg_create();
	if (!lc) {
		ret = -ENOMEM;
		goto out;
	}
	fuse_loop_cfg_set_max_threads(lc, pf->opts.max_threads);
	/* One shared device descriptor: measured 16 us per request against
	 * 17 to 23 us with a clone per thread, which migrates more. */
	fuse_loop_cfg_set_clone_fd(lc, 0);
	ret = fuse_session_loop_mt(se, lc);
	/* Before the unmount: ring commands still held by the kernel keep
	 * the device open, which would hold the unmount up. */
	strata__fuse_uring_stop(pf);
	/* Files still open are closed after the session is gone: their
	 * backing ids went with it. */
	strata_vfs_set_backing(pf->vfs, NULL);
	if (ret == SIGINT || ret == SIGTERM || ret == SIGHUP) {
		/* libfuse returns the signal that asked us to stop. */
		strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE,
			   "signal %d: unmounting", ret);
		ret = 0;
	}
	if (ret != 0 && !session_mounted(mountpoint)) {
		/* Some kernels end an unmounted session with ECONNABORTED
		 * rather than ENODEV: the file system is gone either way. */
		strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE,
			   "the kernel closed the session of '%s'", mountpoint);
		ret = 0;
	}
	if (ret != 0) {
		snprintf(err, errlen, "the FUSE session ended with an error");
		ret = -EIO;
	}
	strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE, "unmounting '%s'",
		   mountpoint);
out:
	if (lc)
		fuse_loop_cfg_destroy(lc);
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fuse_opt_free_args(&args);
	return ret;
}

/*
 * Requests come and go with 1 MiB buffers: libnfs allocates one for every
 * WRITE it sends and for every READ reply, and frees it at the answer.
 * With glibc's defaults such a block is mmap'd, or taken from a thread's
 * heap that free() trims again as soon as the writes in flight drain, so
 * every page of every request is faulted in and zeroed afresh: 21% of the
 * mount's CPU in a sequential write to an NFS tier, on a VM where fresh
 * guest memory is slow. A fixed mmap threshold above the biggest request
 * and a trim threshold above what a stream keeps in flight make free()
 * keep that memory for the next request. The price is up to
 * SESSION_TRIM_THRESHOLD of free memory kept per malloc arena.
 */
static void session_tune_malloc(void)
{
	if (mallopt(M_MMAP_THRESHOLD, SESSION_MMAP_THRESHOLD) != 1 ||
	    mallopt(M_TRIM_THRESHOLD, SESSION_TRIM_THRESHOLD) != 1)
		strata_log(STRATA_LOG_NOTICE, STRATA_SUB_FUSE,
			   "cannot tune malloc: buffers are not kept");
}

int strata_fuse_main(const struct strata_cfg *cfg, const char *mountpoint,
		     const struct strata_fuse_opts *opts, char *err,
		     size_t errlen)
{
	struct strata_vfs_opts vo = { 0 };
	struct strata_fuse pf;
	char mnt[PATH_MAX];
	int ret;

	fuse_set_log_func(session_fuse_log);
	session_tune_malloc();
	ret = session_check_mountpoint(mountpoint, err, errlen);
	if (ret < 0)
		return ret;
	if (!realpath(mountpoint, mnt)) {
		snprintf(err, errlen, "cannot use mount point '%s': %s",
			 mountpoint, strerror(errno));
		return -errno;
	}
	memset(&pf, 0, sizeof(pf));
	pf.opts = *opts;
	pf.entry_ttl = opts->entry_timeout >= 0 ? opts->entry_timeout :
						  cfg->entry_timeout;
	pf.attr_ttl = opts->attr_timeout >= 0 ? opts->attr_timeout :
						cfg->attr_timeout;
	vo.entry_timeout = pf.entry_ttl;
	vo.attr_timeout = pf.attr_ttl;
	vo.read_only = opts->read_only;
	ret = strata_vfs_new(cfg, &vo, &pf.vfs, err, errlen);
	if (ret < 0)
		return ret;
	if (opts->attach) {
		ret = opts->attach(opts->attach_arg, pf.vfs, err, errlen);
		if (ret < 0) {
			strata_vfs_free(pf.vfs);
			return ret;
		}
	}
	ret = session_serve(&pf, cfg, mnt, err, errlen);
	/* Requests have stopped: what was attached goes before the vfs. */
	if (opts->detach)
		opts->detach(opts->attach_arg, pf.vfs);
	strata_vfs_free(pf.vfs);
	return ret;
}
