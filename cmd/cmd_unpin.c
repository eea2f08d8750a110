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
	struct strata_jw req = { 0 };
	struct cmd_opts o;
	struct cmd_conn c;
	int64_t n = 0;
	int status;

	status = cmd_parse(argc, argv, ctx, CMD_OPT_R, UNPIN_USAGE, &o);
	if (status)
		return status < 0 ? 0 : status;
	if (optind >= argc) {
		cmd_error(ctx, "usage: strata unpin %s", UNPIN_USAGE);
		return 2;
	}
	status = cmd_connect(ctx, o.config, argv[optind], &c);
	if (status)
		return status;
	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", "unpin");
	strata_jw_kbool(&req, "recursive", o.recursive);
	status = cmd_put_paths(ctx, &c, &req, argc - optind, argv + optind);
	strata_jw_obj_end(&req);
	if (status == 0)
		status = cmd_call(ctx, &c, &req, &reply);
	if (status)
		goto out;
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	strata_json_get_int(reply, "unpinned", &n);
	printf("unpinned %" PRId64 " files\n", n);
out:
	strata_json_free(reply);
	strata_jw_release(&req);
	cmd_disconnect(&c);
	return status;
}
