/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_version.c - strata version: print the program's version.
 */
#include <stdio.h>

#include "cmd.h"

int cmd_version(int argc, char **argv, struct strata_ctx *ctx)
{
	if (argc > 1) {
		cmd_error(ctx, "takes no arguments");
		return 2;
	}
	printf("strata %s\n", STRATA_VERSION);
	return 0;
}
