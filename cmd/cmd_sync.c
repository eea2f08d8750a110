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
	struct strata_jw req = { 0 };
	struct cmd_opts o;
	struct cmd_conn c;
	int64_t n = 0;
	int status;

	status = cmd_parse(argc, argv, ctx, CMD_OPT_R | CMD_OPT_WAIT,
			   SYNC_USAGE, &o);
	if (status)
		return status < 0 ? 0 : status;
	if (optind >= argc) {
		cmd_error(ctx, "usage: strata sync %s", SYNC_USAGE);
		return 2;
	}
	status = cmd_connect(ctx, o.config, argv[optind], &c);
	if (status)
		return status;
	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", "sync");
	strata_jw_kbool(&req, "recursive", o.recursive);
	status = cmd_put_paths(ctx, &c, &req, argc - optind, argv + optind);
	strata_jw_obj_end(&req);
	if (status == 0)
		status = cmd_call(ctx, &c, &req, &reply);
	if (status)
		goto out;
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
	strata_jw_release(&req);
	cmd_disconnect(&c);
	return status;
}
