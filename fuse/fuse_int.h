/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/fuse_int.h - what ops.c, passthrough.c, uring.c and session.c
 * share: the per-mount state handed to every FUSE callback as the
 * session's user data, and the FUSE-over-io_uring ABI that Debian 12's
 * <linux/fuse.h> (7.38) predates.
 */
#ifndef STRATA_FUSE_INT_H
#define STRATA_FUSE_INT_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "strata_fuse.h"
#include "vfs.h"

/* The largest read: what the kernel is asked to read ahead, and the most
 * a READ request brings. */
#define STRATA_FUSE_READ_MAX (1u << 20)

struct strata_uring;

struct strata_fuse {
	struct strata_vfs *vfs;
	struct strata_fuse_opts opts;
	double entry_ttl;
	double attr_ttl;
	/* passthrough.c */
	int dev_fd;		 /* the session's /dev/fuse descriptor */
	uint64_t pt_init_unique; /* the kernel's INIT request */
	bool pt_kernel;		 /* the kernel offers passthrough */
	bool pt_asked;		 /* our INIT reply asked for it */
	bool pt_on;		 /* atomic: backing files are accepted */
	bool init_edited;	 /* the INIT reply went out */
	/* uring.c */
	struct fuse_session *se;
	bool uring_kernel; /* the kernel's INIT offers io_uring */
	/* Set up for the INIT reply (atomic), or NULL; freed by _stop. */
	struct strata_uring *uring;
};

/*
 * FUSE over io_uring, Linux 6.14+ (ABI 7.42; include/uapi/linux/fuse.h).
 * The kernel honours the INIT flag only while the fuse module's
 * enable_uring parameter is Y.
 */
#define STRATA_FUSE_OVER_IO_URING (1ull << 41)
#define STRATA_URING_HDR_SZ 128 /* in_out: fuse_in/out_header */
#define STRATA_URING_OP_SZ 128	/* op_in: the request's first argument */
#define STRATA_URING_CMD_REGISTER 1
#define STRATA_URING_CMD_COMMIT_AND_FETCH 2

struct strata_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;  /* the unique of the request to answer */
	uint32_t payload_sz; /* bytes used in the payload, either way */
	uint32_t padding;
	uint64_t reserved;
};

/* iov[0] of a REGISTER; the payload buffer is iov[1]. */
struct strata_uring_req_header {
	char in_out[STRATA_URING_HDR_SZ];
	char op_in[STRATA_URING_OP_SZ];
	struct strata_uring_ent_in_out ring_ent_in_out;
};

/* In the 80-byte command area of a 128-byte SQE. */
struct strata_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};

_Static_assert(sizeof(struct strata_uring_req_header) == 288,
	       "fuse_uring_req_header layout");
_Static_assert(sizeof(struct strata_uring_cmd_req) == 24,
	       "fuse_uring_cmd_req layout");

extern const struct fuse_lowlevel_ops strata__fuse_ops;

/* passthrough.c: run the session on the custom I/O that negotiates FUSE
 * passthrough (after fuse_session_mount). */
int strata__fuse_pt_install(struct strata_fuse *pf, struct fuse_session *se);
/* From the init callback: offer backing files to the vfs if the kernel
 * can take them. */
void strata__fuse_pt_init(struct strata_fuse *pf);
/* The open reply this thread sends next passes through backing_id (0:
 * none). */
void strata__fuse_pt_mark(int backing_id);

/*
 * uring.c: FUSE over io_uring. The INIT reply asks for it only when
 * _prepare succeeded (rings and buffers exist, sized from that reply's
 * max_write and max_pages, which it reads); _start runs right after the
 * INIT reply was written and never fails the mount: on any refusal the
 * kernel keeps /dev/fuse. _stop (after the session loop ended, before the
 * unmount) joins the ring threads and frees everything; NULL-safe.
 */
int strata__fuse_uring_prepare(struct strata_fuse *pf, uint32_t flags,
			       uint32_t max_write, uint16_t max_pages);
void strata__fuse_uring_start(struct strata_fuse *pf);
void strata__fuse_uring_stop(struct strata_fuse *pf);
/* The reply libfuse is writing (iov[0] the out header) answers the ring
 * request this thread serves: it is stored in the ring entry and *res is
 * what writev would have returned. False: not a ring reply, write it to
 * /dev/fuse. */
bool strata__fuse_uring_take(const struct iovec *iov, int count, ssize_t *res);
/* The same for a reply libfuse spliced into a pipe (len bytes at fd). */
bool strata__fuse_uring_take_pipe(int fd, size_t len, ssize_t *res);
/* read(2) on /dev/fuse, paced while the rings serve (see uring.c). */
ssize_t strata__fuse_uring_read(struct strata_fuse *pf, int fd, void *buf,
				size_t len);
/* This thread serves a ring request now (replies must not be spliced). */
bool strata__fuse_uring_serving(void);

/* Pure helpers, for the unit tests. */
/* The number of CPUs in a kernel CPU list ("0-3,8"), or -EINVAL. */
int strata__fuse_uring_ncpus(const char *list);
/* The smallest payload buffer the kernel accepts for these INIT reply
 * values, rounded up to page. */
size_t strata__fuse_uring_payload_size(uint32_t flags, uint32_t max_write,
				       uint16_t max_pages, size_t page);
/* Turn a ring entry's request into the classic /dev/fuse layout in place:
 * fuse_in_header and op_in are copied right before payload (which needs
 * that much room in front of it), so [header][op_in][payload] is one
 * request of *len bytes at *req. -EPROTO if the lengths disagree. */
int strata__fuse_uring_place(const struct strata_uring_req_header *h,
			     char *payload, size_t cap, void **req,
			     size_t *len);
/* Store a reply (iov[0] the out header, the rest its arguments) in a ring
 * entry: the header into in_out, the arguments one after the other into
 * payload (cap bytes), payload_sz. Returns the reply's length or
 * -EMSGSIZE. */
ssize_t strata__fuse_uring_gather(struct strata_uring_req_header *h,
				  char *payload, size_t cap,
				  const struct iovec *iov, int count);

#endif
