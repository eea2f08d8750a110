/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_migrate.c - strata migrate PATH... --to TIER [-r] [--wait] [-c CONFIG] [--json]
 *
 * move files to TIER: a verified copy there, then every other copy dropped. The jobs go to the mount's durable job queue (rule 'migrate'); with
 * --wait the command follows them to the end (client.c, cmd_move_run).
 */
#include "client.h"

int cmd_migrate(int argc, char **argv, struct strata_ctx *ctx)
{
	return cmd_move_run(
		argc, argv, ctx, CMD_OPT_TO,
		"PATH... --to TIER [-r] [--wait] [-c CONFIG] [--json]");
}
