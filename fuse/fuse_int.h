/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/fuse_int.h - what ops.c and session.c share: the per-mount state
 * handed to every FUSE callback as the session's user data.
 */
#ifndef STRATA_FUSE_INT_H
#define STRATA_FUSE_INT_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>

#include "strata_fuse.h"
#include "vfs.h"

/* The largest read: what the kernel is asked to read ahead, and the most
 * a READ request brings. */
#define STRATA_FUSE_READ_MAX (1u << 20)

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
};

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

#endif
