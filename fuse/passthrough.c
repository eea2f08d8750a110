/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/passthrough.c - FUSE passthrough: reads, writes and mmap of files on
 * a local tier go from the kernel straight to the backing file, without a
 * round trip through this process.
 *
 * Linux 6.9 and later can do this (CONFIG_FUSE_PASSTHROUGH): the daemon
 * registers an open backing file with the FUSE device (an ioctl that gives
 * a backing id) and answers an open with FOPEN_PASSTHROUGH and that id.
 * libfuse 3.14 (Debian 12) predates it: its INIT reply cannot ask for the
 * feature and its open reply has no room for the id. So the session runs on
 * a custom I/O (fuse_session_custom_io) that sees every message: it notes
 * whether the kernel's INIT offers passthrough, adds the request to the INIT
 * reply, and fills in the open reply of an open that ops.c marked (a
 * thread-local set around fuse_reply_open/_create, so only that reply).
 * Everything else is the plain read(2), writev(2) and splice(2) libfuse
 * would have done.
 *
 * Whether passthrough works is known only at the first backing
 * registration (it needs CAP_SYS_ADMIN); a refusal there turns it off for
 * the mount and files go through this process as before.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "fuse_int.h"
#include "log.h"

/* From Linux 6.9's <linux/fuse.h> (ABI 7.40); Debian 12's headers are
 * older. */
#define PT_FUSE_PASSTHROUGH (1ull << 37)
#define PT_FOPEN_PASSTHROUGH (1u << 7)
/* Tiers may sit on overlayfs (containers): allow one level below us. */
#define PT_MAX_STACK_DEPTH 2

struct pt_backing_map {
	int32_t fd;
	uint32_t flags;
	uint64_t padding;
};

#define PT_DEV_IOC_MAGIC 229
#define PT_DEV_IOC_BACKING_OPEN _IOW(PT_DEV_IOC_MAGIC, 1, struct pt_backing_map)
#define PT_DEV_IOC_BACKING_CLOSE _IOW(PT_DEV_IOC_MAGIC, 2, uint32_t)

/* fuse_init_out as of ABI 7.40: max_stack_depth took unused[0]. */
struct pt_init_out {
	uint32_t major;
	uint32_t minor;
	uint32_t max_readahead;
	uint32_t flags;
	uint16_t max_background;
	uint16_t congestion_threshold;
	uint32_t max_write;
	uint32_t time_gran;
	uint16_t max_pages;
	uint16_t map_alignment;
	uint32_t flags2;
	uint32_t max_stack_depth;
	uint32_t unused[6];
};

/* fuse_open_out as of ABI 7.40: backing_id took the padding. */
struct pt_open_out {
	uint64_t fh;
	uint32_t open_flags;
	int32_t backing_id;
};

_Static_assert(sizeof(struct pt_init_out) == sizeof(struct fuse_init_out),
	       "fuse_init_out layout");
_Static_assert(sizeof(struct pt_open_out) == sizeof(struct fuse_open_out),
	       "fuse_open_out layout");

/* The backing id the open reply this thread sends next passes through. */
static __thread int pt_reply_id;

/* Look at a request as it arrives: the kernel's INIT tells whether it can
 * pass files through. */
static void pt_saw_request(struct strata_fuse *pf, const void *buf, size_t len)
{
	const struct fuse_in_header *in = buf;
	const struct fuse_init_in *init;
	uint64_t flags;

	if (len < sizeof(*in) + offsetof(struct fuse_init_in, unused) ||
	    in->opcode != FUSE_INIT)
		return;
	init = (const void *)(in + 1);
	flags = init->flags;
	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)init->flags2 << 32;
	pf->pt_init_unique = in->unique;
	pf->pt_kernel = (flags & PT_FUSE_PASSTHROUGH) != 0;
	pf->uring_kernel = (flags & STRATA_FUSE_OVER_IO_URING) != 0;
}

/* The INIT reply asks for FUSE over io_uring once the rings exist. */
static void pt_edit_init_uring(struct strata_fuse *pf, struct pt_init_out *io)
{
	if (pf->opts.no_uring) {
		strata_log(STRATA_LOG_INFO, STRATA_SUB_FUSE,
			   "FUSE over io_uring: off (-o no_uring): requests go "
			   "through /dev/fuse");
		return;
	}
	if (!pf->uring_kernel) {
		strata_log(
			STRATA_LOG_INFO, STRATA_SUB_FUSE,
			"FUSE over io_uring: not offered by the kernel "
			"(Linux 6.14+ with fuse enable_uring=Y): requests go "
			"through /dev/fuse");
		return;
	}
	if (strata__fuse_uring_prepare(pf, io->flags, io->max_write,
				       io->max_pages) < 0)
		return;
	io->flags |= FUSE_INIT_EXT;
	io->flags2 |= (uint32_t)(STRATA_FUSE_OVER_IO_URING >> 32);
}

/* Change a reply on its way out: INIT asks for passthrough; a marked open
 * reply passes its file through. */
static void pt_edit_reply(struct strata_fuse *pf, struct iovec *iov, int count)
{
	struct fuse_out_header *out;

	if (count < 2 || iov[0].iov_len < sizeof(*out))
		return;
	out = iov[0].iov_base;
	if (out->error != 0)
		return;
	if (!pf->init_edited && out->unique == pf->pt_init_unique &&
	    iov[1].iov_len >= sizeof(struct pt_init_out)) {
		struct pt_init_out *io = iov[1].iov_base;

		pf->init_edited = true;
		if (pf->pt_kernel && !pf->opts.no_passthrough) {
			/* The kernel turns passthrough down with writeback
			 * caching, which we never ask for. Asked, it counts
			 * the mount as stacked: without the ask, another
			 * passthrough mount (or overlayfs) can stack on it. */
			io->flags |= FUSE_INIT_EXT;
			io->flags2 |= (uint32_t)(PT_FUSE_PASSTHROUGH >> 32);
			io->max_stack_depth = PT_MAX_STACK_DEPTH;
			pf->pt_asked = true;
		}
		pt_edit_init_uring(pf, io);
		return;
	}
	if (pt_reply_id > 0 && iov[1].iov_len >= sizeof(struct pt_open_out)) {
		/* fuse_reply_open sends fuse_open_out alone, _create after
		 * fuse_entry_out: either way it ends the message. */
		struct pt_open_out *oo = (void *)((char *)iov[1].iov_base +
						  iov[1].iov_len - sizeof(*oo));

		oo->open_flags |= PT_FOPEN_PASSTHROUGH;
		oo->backing_id = pt_reply_id;
	}
}

static ssize_t pt_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = strata__fuse_uring_read(userdata, fd, buf, len);

	if (n > 0)
		pt_saw_request(userdata, buf, (size_t)n);
	return n;
}

static ssize_t pt_writev(int fd, struct iovec *iov, int count, void *userdata)
{
	struct strata_fuse *pf = userdata;
	bool init = !pf->init_edited;
	ssize_t n;

	pt_edit_reply(pf, iov, count);
	if (strata__fuse_uring_take(iov, count, &n))
		return n;
	n = writev(fd, iov, count);
	/* The kernel has taken the INIT reply: the rings may register. (If
	 * it did not, the session is over and _stop frees them.) */
	if (init && pf->init_edited && n >= 0)
		strata__fuse_uring_start(pf);
	return n;
}

static ssize_t pt_splice(int fdin, off_t *offin, int fdout, off_t *offout,
			 size_t len, unsigned int flags, void *userdata)
{
	(void)userdata;
	return splice(fdin, offin, fdout, offout, len, flags);
}

/* A reply spliced into a pipe: a ring request's reply goes to its entry. */
static ssize_t pt_splice_send(int fdin, off_t *offin, int fdout, off_t *offout,
			      size_t len, unsigned int flags, void *userdata)
{
	ssize_t n;

	if (strata__fuse_uring_take_pipe(fdin, len, &n))
		return n;
	return pt_splice(fdin, offin, fdout, offout, len, flags, userdata);
}

static const struct fuse_custom_io pt_io = {
	.read = pt_read,
	.writev = pt_writev,
	.splice_receive = pt_splice,
	.splice_send = pt_splice_send,
};

int strata__fuse_pt_install(struct strata_fuse *pf, struct fuse_session *se)
{
	pf->se = se;
	pf->dev_fd = fuse_session_fd(se);
	return fuse_session_custom_io(se, &pt_io, pf->dev_fd);
}

/* vfs backing callbacks: register fd with the device for passthrough. */
static int pt_backing_open(void *arg, int fd)
{
	struct strata_fuse *pf = arg;
	struct pt_backing_map map = { .fd = fd };
	int id;

	if (!__atomic_load_n(&pf->pt_on, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	id = ioctl(pf->dev_fd, PT_DEV_IOC_BACKING_OPEN, &map);
	if (id > 0)
		return id;
	if (id == 0)
		return -EIO; /* no such id: the kernel never gives 0 */
	if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOTTY ||
	    errno == EINVAL) {
		/* The kernel or our privileges say no: for good. */
		if (__atomic_exchange_n(&pf->pt_on, false, __ATOMIC_RELAXED))
			strata_log(STRATA_LOG_WARN, STRATA_SUB_FUSE,
				   "FUSE passthrough refused (%s): file data "
				   "goes through the daemon",
				   strerror(errno));
		return -EOPNOTSUPP;
	}
	/* This file only (a tier on too deep a stack: ELOOP). */
	strata_log(STRATA_LOG_DEBUG, STRATA_SUB_FUSE,
		   "no passthrough for a file: %s", strerror(errno));
	return -errno;
}

static void pt_backing_close(void *arg, int id)
{
	struct strata_fuse *pf = arg;
	uint32_t bid = (uint32_t)id;

	if (ioctl(pf->dev_fd, PT_DEV_IOC_BACKING_CLOSE, &bid) < 0)
		strata_log(STRATA_LOG_WARN, STRATA_SUB_FUSE,
			   "cannot close FUSE backing %d: %s", id,
			   strerror(errno));
}

void strata__fuse_pt_init(struct strata_fuse *pf)
{
	struct strata_vfs_backing b = {
		.open = pt_backing_open,
		.close = pt_backing_close,
		.arg = pf,
	};

	if (!pf->pt_kernel || pf->opts.no_passthrough)
		return;
	pf->pt_on = true;
	strata_vfs_set_backing(pf->vfs, &b);
	strata_log(
		STRATA_LOG_INFO, STRATA_SUB_FUSE,
		"FUSE passthrough: local-tier file data bypasses the daemon");
}

void strata__fuse_pt_mark(int backing_id)
{
	pt_reply_id = backing_id;
}
