/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_free.c - strata free PATH... --from TIER [-r] [--wait] [-c CONFIG] [--json]
 *
 * drop the copies on TIER; refused for any file whose last valid copy is there. The jobs go to the mount's durable job queue (rule 'free'); with
 * --wait the command follows them to the end (client.c, cmd_move_run).
 */
#include "client.h"

int cmd_free(int argc, char **argv, struct strata_ctx *ctx)
{
	return cmd_move_run(
		argc, argv, ctx, CMD_OPT_FROM,
		"PATH... --from TIER [-r] [--wait] [-c CONFIG] [--json]");
}
