/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_fsck.c - strata fsck [--repair] -c CONFIG.
 *
 * Checks an unmounted namespace's catalog against its tiers (lib/vfs
 * fsck.c) and prints one line per problem, then a summary. Exit status: 0
 * when nothing is left wrong, 1 when problems remain (or the check could
 * not run), 2 for a usage error. A mounted catalog is refused: its mount
 * holds the lock.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cmd.h"
#include "vfs.h"

static void fsck_print(void *arg, const struct strata_vfs_fsck_problem *p)
{
	const char *done = p->repaired ? ": repaired" : "";

	switch (p->kind) {
	case STRATA_FSCK_ORPHAN_OBJECT:
		printf("orphan object '%s' on tier '%s' (%" PRIu64
		       " bytes, no file uses it)%s\n",
		       p->key, p->tier, p->size,
		       p->repaired ? ": removed" : "");
		break;
	case STRATA_FSCK_MISSING_OBJECT:
		printf("missing object '%s' on tier '%s': inode %" PRIu64
		       " has lost its content there\n",
		       p->key, p->tier, p->ino);
		break;
	case STRATA_FSCK_SIZE_MISMATCH:
		printf("size mismatch: object '%s' on tier '%s' has %" PRIu64
		       " bytes, inode %" PRIu64 " %" PRIu64 "\n",
		       p->key, p->tier, p->size, p->ino, p->want);
		break;
	case STRATA_FSCK_STALE_REPLICA:
		printf("stale replica '%s' on tier '%s' of inode %" PRIu64
		       "%s\n",
		       p->key, p->tier, p->ino, done);
		break;
	}
}

int cmd_fsck(int argc, char **argv, struct strata_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ NULL, 0, NULL, 0 },
	};
	struct strata_vfs_opts vo = { .entry_timeout = 1, .attr_timeout = 1 };
	struct strata_vfs_fsck_stats st;
	struct strata_vfs *vfs = NULL;
	struct strata_cfg *cfg = NULL;
	const char *config = NULL;
	char err[1024];
	bool repair = false;
	int status = 2;
	int c;
	int ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+rc:", longopts, NULL)) != -1) {
		if (c == 'r')
			repair = true;
		else if (c == 'c')
			config = optarg;
		else
			goto usage;
	}
	if (!config || optind != argc)
		goto usage;
	status = 1;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		cmd_error(ctx, "out of memory");
		goto out;
	}
	if (strata_cfg_load(config, cfg, err, sizeof(err)) < 0) {
		cmd_error(ctx, "%s", err);
		goto out;
	}
	if (strata_vfs_new(cfg, &vo, &vfs, err, sizeof(err)) < 0) {
		cmd_error(ctx, "%s", err);
		goto out;
	}
	ret = strata_vfs_fsck(vfs, repair, fsck_print, NULL, &st);
	if (ret < 0) {
		cmd_error(ctx, "checking catalog '%s' failed: %s", cfg->catalog,
			  strerror(-ret));
		goto out;
	}
	printf("%" PRIu64 " objects, %" PRIu64 " replicas checked: %" PRIu64
	       " problems, %" PRIu64 " repaired\n",
	       st.objects, st.replicas, st.problems, st.repaired);
	status = st.problems == st.repaired ? 0 : 1;
	goto out;
usage:
	cmd_error(ctx, "usage: strata fsck [--repair] -c CONFIG");
out:
	strata_vfs_free(vfs);
	free(cfg);
	return status;
}
