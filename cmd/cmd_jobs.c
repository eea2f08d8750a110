/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_jobs.c - strata jobs [list] [--state STATE] [PATH]
 *                  | cancel ID...|--all | retry ID...|--all
 *
 * The mount's job queue: every pending, running and failed copy, move and
 * drop, whoever asked (a rule, a pin, the CLI). cancel removes jobs that
 * are not running (a running job ends first); retry gives failed jobs new
 * attempts at once. The mount is the one holding PATH or the current
 * directory, or CONFIG's.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define JOBS_USAGE                                                       \
	"[list] [--state pending|running|failed] [PATH] | cancel ID...|" \
	"--all | retry ID...|--all [-c CONFIG] [--json]"

static int jobs_list(struct strata_ctx *ctx, const struct cmd_opts *o,
		     const struct strata_json *reply)
{
	static const char *const head[] = { "ID",    "KIND", "PATH",
					    "FROM",  "TO",   "STATE",
					    "TRIES", "RULE", "ERROR" };
	const struct strata_json *jobs = strata_json_get(reply, "jobs");
	struct cmd_table t;

	(void)ctx;
	if (o->json) {
		cmd_print_json(reply);
		return 0;
	}
	cmd_table_init(&t, 9, 0x41);
	cmd_table_row(&t, head);
	for (size_t i = 0; jobs && i < jobs->len; i++) {
		const struct strata_json *j = jobs->items[i];
		char id[32], tries[32];
		const char *row[9];
		int64_t v = 0;

		strata_json_get_int(j, "id", &v);
		snprintf(id, sizeof(id), "%" PRId64, v);
		v = 0;
		strata_json_get_int(j, "attempts", &v);
		snprintf(tries, sizeof(tries), "%" PRId64, v);
		row[0] = id;
		row[1] = strata_json_get_str(j, "kind", "?");
		row[2] = strata_json_get_str(j, "path", "?");
		row[3] = strata_json_get_str(j, "from", "-");
		row[4] = strata_json_get_str(j, "to", "-");
		row[5] = strata_json_get_str(j, "state", "?");
		row[6] = tries;
		row[7] = strata_json_get_str(j, "rule", "?");
		row[8] = strata_json_get_str(j, "error", "");
		if (!row[8][0])
			row[8] = "-";
		cmd_table_row(&t, row);
	}
	cmd_table_print(&t);
	cmd_table_release(&t);
	return 0;
}

int cmd_jobs(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_json *reply = NULL;
	struct strata_jw req = { 0 };
	const char *sub = "list", *where = NULL;
	struct cmd_opts o;
	struct cmd_conn c = { .fd = -1 };
	int status, first;

	status = cmd_parse(argc, argv, ctx, CMD_OPT_STATE | CMD_OPT_ALL,
			   JOBS_USAGE, &o);
	if (status)
		return status < 0 ? 0 : status;
	first = optind;
	if (first < argc && (strcmp(argv[first], "list") == 0 ||
			     strcmp(argv[first], "cancel") == 0 ||
			     strcmp(argv[first], "retry") == 0))
		sub = argv[first++];
	if (strcmp(sub, "list") == 0) {
		if (argc - first > 1 || o.all)
			goto usage;
		if (o.state && strcmp(o.state, "pending") != 0 &&
		    strcmp(o.state, "running") != 0 &&
		    strcmp(o.state, "failed") != 0) {
			cmd_error(ctx, "unknown job state '%s'", o.state);
			return 2;
		}
		where = first < argc ? argv[first] : NULL;
	} else if (o.state || (o.all == (first < argc))) {
		goto usage;
	}
	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", strcmp(sub, "list") == 0 ? "jobs" : sub);
	if (o.state)
		strata_jw_kstr(&req, "state", o.state);
	if (o.all)
		strata_jw_kbool(&req, "all", true);
	if (strcmp(sub, "list") != 0 && !o.all) {
		strata_jw_key(&req, "ids");
		strata_jw_arr(&req);
		for (int i = first; i < argc; i++) {
			char *end;
			long long id;

			errno = 0;
			id = strtoll(argv[i], &end, 10);
			if (errno || *end || end == argv[i] || id <= 0) {
				cmd_error(ctx, "bad job id '%s'", argv[i]);
				status = 2;
				goto out;
			}
			strata_jw_int(&req, id);
		}
		strata_jw_arr_end(&req);
	}
	strata_jw_obj_end(&req);
	status = cmd_connect(ctx, o.config, where, &c);
	if (status == 0)
		status = cmd_call(ctx, &c, &req, &reply);
	if (status)
		goto out;
	if (strcmp(sub, "list") == 0) {
		status = jobs_list(ctx, &o, reply);
	} else if (o.json) {
		cmd_print_json(reply);
	} else {
		int64_t n = 0;

		strata_json_get_int(reply,
				    strcmp(sub, "cancel") == 0 ? "cancelled" :
								 "retried",
				    &n);
		printf("%s: %" PRId64 " jobs\n",
		       strcmp(sub, "cancel") == 0 ? "cancelled" : "retried", n);
	}
	goto out;
usage:
	cmd_error(ctx, "usage: strata jobs %s", JOBS_USAGE);
	status = 2;
out:
	strata_json_free(reply);
	strata_jw_release(&req);
	cmd_disconnect(&c);
	return status;
}
