/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuse/strata_fuse.h - mount a namespace through the kernel's FUSE.
 *
 * fuse/ is an adapter: each low-level FUSE operation unpacks its request,
 * makes one strata_vfs_* call and replies. This header is what cmd/ sees:
 * the mount options and the call that mounts, serves and unmounts.
 * fuse_lowlevel.h stays inside fuse/.
 */
#ifndef STRATA_FUSE_H
#define STRATA_FUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"

struct strata_vfs;

/* What a detached mount writes to notify_fd once it serves. */
#define STRATA_FUSE_NOTIFY_OK "ok\n"

struct strata_fuse_opts {
	/*
	 * When >= 0, the caller has forked to run in the background: once
	 * the mount serves, write STRATA_FUSE_NOTIFY_OK to this descriptor,
	 * close it, log to syslog and let go of the terminal.
	 */
	int notify_fd;
	bool allow_other; /* let every user in (permissions still hold) */
	bool read_only;
	double entry_timeout;	  /* < 0: take the config's */
	double attr_timeout;	  /* < 0: take the config's */
	unsigned int max_threads; /* FUSE worker threads */
	unsigned int max_write;	  /* largest write request, bytes */
	/* Serve every byte through the daemon, even where the kernel could
	 * pass local-tier files through (-o no_passthrough). */
	bool no_passthrough;
	/* Keep requests on /dev/fuse even where the kernel offers FUSE over
	 * io_uring (-o no_uring). */
	bool no_uring;
	/*
	 * Called once the namespace is open and before the mount serves
	 * (attach: the policy engine starts; a negative errno with a message
	 * in err refuses the mount), and after serving ends, before the
	 * namespace closes (detach). Both run in the process that serves,
	 * after it has daemonized.
	 */
	int (*attach)(void *arg, struct strata_vfs *vfs, char *err,
		      size_t errlen);
	void (*detach)(void *arg, struct strata_vfs *vfs);
	void *attach_arg;
};

/*
 * Parse one "-o" list ("allow_other,attr_timeout=5,debug=catalog") into
 * opts. debug= is applied to the logger directly. Returns 0, or -EINVAL with
 * a message naming the option in err.
 */
int strata_fuse_parse_opts(const char *list, struct strata_fuse_opts *opts,
			   char *err, size_t errlen);

/* Defaults for every option. */
void strata_fuse_opts_init(struct strata_fuse_opts *opts);

/*
 * Open the namespace of cfg, mount it at mountpoint and serve requests
 * until it is unmounted or a signal ends it; then flush and close. Returns 0
 * after a clean unmount, or a negative errno with the reason in err (which
 * is also logged when the process has daemonized).
 */
int strata_fuse_main(const struct strata_cfg *cfg, const char *mountpoint,
		     const struct strata_fuse_opts *opts, char *err,
		     size_t errlen);

#endif
