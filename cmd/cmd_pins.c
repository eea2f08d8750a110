/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_pins.c - strata pins [-c CONFIG] [--json] [PATH]: every pinned
 * file of the mount holding PATH (default: the current directory), with
 * its tier and size.
 */
#include <inttypes.h>
#include <stdio.h>

#include "client.h"

#define PINS_USAGE "[-c CONFIG] [--json] [PATH]"

int cmd_pins(int argc, char **argv, struct strata_ctx *ctx)
{
	static const char *const head[] = { "PATH", "TIER", "SIZE" };
	struct strata_json *reply = NULL;
	const struct strata_json *pins;
	struct cmd_table t;
	struct cmd_opts o;
	struct cmd_conn c;
	int status;

	status = cmd_op_call(argc, argv, ctx, PINS_USAGE, &o, &c, &reply);
	if (status)
		return status < 0 ? 0 : status;
	if (o.json) {
		cmd_print_json(reply);
		goto out;
	}
	pins = strata_json_get(reply, "pins");
	cmd_table_init(&t, 3, 0x4);
	cmd_table_row(&t, head);
	for (size_t i = 0; pins && i < pins->len; i++) {
		char size[32];
		int64_t v = 0;
		const char *row[3];

		strata_json_get_int(pins->items[i], "size", &v);
		cmd_size((uint64_t)v, size, sizeof(size));
		row[0] = strata_json_get_str(pins->items[i], "path", "?");
		row[1] = strata_json_get_str(pins->items[i], "tier", "?");
		row[2] = size;
		cmd_table_row(&t, row);
	}
	cmd_table_print(&t);
	cmd_table_release(&t);
out:
	strata_json_free(reply);
	cmd_disconnect(&c);
	return status;
}
