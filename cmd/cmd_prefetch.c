/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_prefetch.c - strata prefetch PATH... --to TIER [-r] [--wait] [-c CONFIG] [--json]
 *
 * copy files to TIER as an extra replica, keeping the others; with --wait, exit 0 only when every byte is there. The jobs go to the mount's durable job queue (rule 'prefetch'); with
 * --wait the command follows them to the end (client.c, cmd_move_run).
 */
#include "client.h"

int cmd_prefetch(int argc, char **argv, struct strata_ctx *ctx)
{
	return cmd_move_run(
		argc, argv, ctx, CMD_OPT_TO,
		"PATH... --to TIER [-r] [--wait] [-c CONFIG] [--json]");
}
