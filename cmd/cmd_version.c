/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_version.c - strata version [--json]: print the program's
 * version.
 */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

int cmd_version(int argc, char **argv, struct strata_ctx *ctx)
{
	if (argc == 2 && strcmp(argv[1], "--json") == 0) {
		printf("{\"version\":\"%s\"}\n", STRATA_VERSION);
		return 0;
	}
	if (argc > 1) {
		cmd_error(ctx, "usage: strata version [--json]");
		return 2;
	}
	printf("strata %s\n", STRATA_VERSION);
	return 0;
}
