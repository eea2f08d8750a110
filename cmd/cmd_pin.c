/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_pin.c - strata pin PATH... --tier TIER [-r] [--wait].
 *
 * Pins files to a tier: the pin outranks every rule. The mount admits the
 * pin against the tier's free space first and refuses the whole request,
 * saying how much is missing, when the files that are not there yet would
 * not fit; nothing is pinned then. Files elsewhere get a move job at once.
 */
#include <inttypes.h>
#include <stdio.h>

#include "client.h"

#define PIN_USAGE "PATH... --tier TIER [-r] [--wait] [-c CONFIG] [--json]"

int cmd_pin(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_json *reply = NULL;
	struct cmd_opts o;
	struct cmd_conn c;
	char size[32];
	int64_t files = 0, bytes = 0, jobs = 0;
	int status;

	status = cmd_path_call(argc, argv, ctx,
			       CMD_OPT_TIER | CMD_OPT_R | CMD_OPT_WAIT, true,
			       PIN_USAGE, &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.wait) {
		status = cmd_wait(ctx, &c, o.json);
		goto out;
	}
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	strata_json_get_int(reply, "files", &files);
	strata_json_get_int(reply, "bytes", &bytes);
	strata_json_get_int(reply, "jobs", &jobs);
	cmd_size((uint64_t)bytes, size, sizeof(size));
	printf("pinned %" PRId64 " files (%s) to '%s', %" PRId64
	       " to move there\n",
	       files, size, o.tier, jobs);
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
