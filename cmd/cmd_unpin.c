/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_unpin.c - strata unpin PATH... [-r]: remove pins; the rules
 * decide where the files live again (a pass runs at once).
 */
#include <inttypes.h>
#include <stdio.h>

#include "client.h"

#define UNPIN_USAGE "PATH... [-r] [-c CONFIG] [--json]"

int cmd_unpin(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_json *reply = NULL;
	struct cmd_opts o;
	struct cmd_conn c;
	int64_t n = 0;
	int status;

	status = cmd_path_call(argc, argv, ctx, CMD_OPT_R, false, UNPIN_USAGE,
			       &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	strata_json_get_int(reply, "unpinned", &n);
	printf("unpinned %" PRId64 " files\n", n);
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
