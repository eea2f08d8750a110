/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_fsck.c - strata fsck [--repair] [--json] -c CONFIG.
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
#include "json.h"
#include "vfs.h"

static const char *const fsck_kinds[] = {
	[STRATA_FSCK_ORPHAN_OBJECT] = "orphan_object",
	[STRATA_FSCK_MISSING_OBJECT] = "missing_object",
	[STRATA_FSCK_SIZE_MISMATCH] = "size_mismatch",
	[STRATA_FSCK_STALE_REPLICA] = "stale_replica",
	[STRATA_FSCK_TEMPORARY] = "temporary",
};

/* --json: one object per problem into the array arg writes. */
static void fsck_json(struct strata_jw *w,
		      const struct strata_vfs_fsck_problem *p)
{
	strata_jw_obj(w);
	strata_jw_kstr(w, "kind", fsck_kinds[p->kind]);
	strata_jw_kstr(w, "tier", p->tier);
	strata_jw_kstr(w, "key", p->key);
	strata_jw_kuint(w, "ino", p->ino);
	strata_jw_kuint(w, "size", p->size);
	strata_jw_kuint(w, "want", p->want);
	strata_jw_kbool(w, "repaired", p->repaired);
	strata_jw_obj_end(w);
}

static void fsck_print(void *arg, const struct strata_vfs_fsck_problem *p)
{
	const char *done = p->repaired ? ": repaired" : "";

	if (arg) {
		fsck_json(arg, p);
		return;
	}

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
	case STRATA_FSCK_TEMPORARY:
		printf("leftover temporary '%s' on tier '%s' (%" PRIu64
		       " bytes, from a crash)%s\n",
		       p->key, p->tier, p->size,
		       p->repaired ? ": removed" : "");
		break;
	}
}

int cmd_fsck(int argc, char **argv, struct strata_ctx *ctx)
{
	static const struct option longopts[] = {
		{ "repair", no_argument, NULL, 'r' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct strata_vfs_opts vo = { .entry_timeout = 1, .attr_timeout = 1 };
	struct strata_vfs_fsck_stats st;
	struct strata_vfs *vfs = NULL;
	struct strata_cfg *cfg = NULL;
	struct strata_jw w = { 0 };
	const char *config = NULL, *text;
	char err[1024];
	bool repair = false, json = false;
	size_t len;
	int status = 2;
	int c;
	int ret;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+rc:", longopts, NULL)) != -1) {
		if (c == 'r')
			repair = true;
		else if (c == 'c')
			config = optarg;
		else if (c == 'j')
			json = true;
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
	strata_jw_obj(&w);
	strata_jw_key(&w, "problems");
	strata_jw_arr(&w);
	ret = strata_vfs_fsck(vfs, repair, fsck_print, json ? &w : NULL, &st);
	if (ret < 0) {
		cmd_error(ctx, "checking catalog '%s' failed: %s", cfg->catalog,
			  strerror(-ret));
		goto out;
	}
	status = st.problems == st.repaired ? 0 : 1;
	if (json) {
		strata_jw_arr_end(&w);
		strata_jw_kuint(&w, "objects", st.objects);
		strata_jw_kuint(&w, "replicas", st.replicas);
		strata_jw_kuint(&w, "found", st.problems);
		strata_jw_kuint(&w, "repaired", st.repaired);
		strata_jw_obj_end(&w);
		if (strata_jw_finish(&w, &text, &len) < 0) {
			cmd_error(ctx, "out of memory");
			status = 1;
			goto out;
		}
		printf("%s\n", text);
		goto out;
	}
	printf("%" PRIu64 " objects, %" PRIu64 " replicas checked: %" PRIu64
	       " problems, %" PRIu64 " repaired\n",
	       st.objects, st.replicas, st.problems, st.repaired);
	goto out;
usage:
	cmd_error(ctx, "usage: strata fsck [--repair] [--json] -c CONFIG");
out:
	strata_jw_release(&w);
	strata_vfs_free(vfs);
	free(cfg);
	return status;
}
