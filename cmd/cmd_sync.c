/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_sync.c - strata sync [--wait] [-r] PATH...
 *
 * Makes everything written so far durable (the tiers' stores, then the
 * catalog) and runs an evaluation pass; with --wait it returns when the
 * files have no job left in the queue and no data that is not yet in the
 * catalog (written through a file still open), after one more sync: their
 * data is then durable on the tiers rules and pins want.
 */
#include <inttypes.h>
#include <stdio.h>

#include "client.h"

#define SYNC_USAGE "[--wait] [-r] PATH... [-c CONFIG] [--json]"

int cmd_sync(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_json *reply = NULL;
	struct cmd_opts o;
	struct cmd_conn c;
	int64_t n = 0;
	int status;

	status = cmd_path_call(argc, argv, ctx, CMD_OPT_R | CMD_OPT_WAIT, false,
			       SYNC_USAGE, &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.wait) {
		status = cmd_wait(ctx, &c, o.json);
		if (status == 0 && !o.json)
			printf("sync: done\n");
		goto out;
	}
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	strata_json_get_int(reply, "files", &n);
	printf("sync: durable; %" PRId64 " files looked at\n", n);
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
