/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_where.c - strata where [-c CONFIG] [-r] [--json] PATH...
 *
 * For each file: its size and content version, the tiers holding a valid
 * copy, every replica with its version and state (valid, stale, copying,
 * deleting), the pin, and whether its data is dirty (written, not yet in
 * the catalog) or durable (on which tiers). A directory stands for the
 * files in it; with -r, for every file below it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "client.h"

#define WHERE_USAGE "[-c CONFIG] [-r] [--json] PATH..."

static void where_list(const struct strata_json *arr, bool detail, char *buf,
		       size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; arr && i < arr->len && n < len; i++) {
		const struct strata_json *r = arr->items[i];
		int64_t v = 0;

		if (!detail) {
			n += (size_t)snprintf(buf + n, len - n, "%s%s",
					      i ? "," : "",
					      strata_json_str(r) ?: "?");
			continue;
		}
		strata_json_get_int(r, "version", &v);
		n += (size_t)snprintf(buf + n, len - n, "%s%s:v%" PRId64 ":%s",
				      i ? "," : "",
				      strata_json_get_str(r, "tier", "?"), v,
				      strata_json_get_str(r, "state", "?"));
	}
	if (!buf[0])
		snprintf(buf, len, "-");
}

int cmd_where(int argc, char **argv, struct strata_ctx *ctx)
{
	static const char *const head[] = { "PATH",    "SIZE", "VERSION",
					    "STATE",   "PIN",  "DURABLE ON",
					    "REPLICAS" };
	struct strata_json *reply = NULL;
	const struct strata_json *files;
	struct cmd_table t;
	struct cmd_opts o;
	struct cmd_conn c;
	int status;

	status = cmd_path_call(argc, argv, ctx, CMD_OPT_R, false, WHERE_USAGE,
			       &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	files = strata_json_get(reply, "files");
	cmd_table_init(&t, 7, 0x6);
	cmd_table_row(&t, head);
	for (size_t i = 0; files && i < files->len; i++) {
		const struct strata_json *f = files->items[i];
		char size[32], ver[32], durable[1024], reps[2048];
		const char *row[7];
		int64_t v = 0;

		strata_json_get_int(f, "size", &v);
		cmd_size((uint64_t)v, size, sizeof(size));
		strata_json_get_int(f, "version", &v);
		snprintf(ver, sizeof(ver), "%" PRId64, v);
		where_list(strata_json_get(f, "durable_on"), false, durable,
			   sizeof(durable));
		where_list(strata_json_get(f, "replicas"), true, reps,
			   sizeof(reps));
		row[0] = strata_json_get_str(f, "path", "?");
		row[1] = size;
		row[2] = ver;
		row[3] = strata_json_get_str(f, "state", "?");
		row[4] = strata_json_get_str(f, "pin", "-");
		row[5] = durable;
		row[6] = reps;
		cmd_table_row(&t, row);
	}
	cmd_table_print(&t);
	cmd_table_release(&t);
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
