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
};

extern const struct fuse_lowlevel_ops strata__fuse_ops;

#endif
