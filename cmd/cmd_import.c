/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_import.c - strata import BACKEND-PATH --tier TIER --into PATH.
 *
 * Adopts a directory tree that tier TIER already holds as files below the
 * namespace directory PATH, in place: every file keeps its object (its
 * key is its path below the tier's root) and no byte is copied. For a
 * file:// or nfs:// tier, BACKEND-PATH is the tree's absolute path on the
 * tier's store (it must be below the tier's root) or a path relative to
 * the root. Running it again resumes an import cut short. Progress as for
 * --wait; exit 1 when some objects were not adopted (their names are
 * taken in the namespace).
 */
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "client.h"

#define IMPORT_USAGE "BACKEND-PATH --tier TIER --into PATH [-c CONFIG] [--json]"

static uint64_t import_u(const struct strata_json *j, const char *key)
{
	int64_t v = 0;

	strata_json_get_int(j, key, &v);
	return v < 0 ? 0 : (uint64_t)v;
}

int cmd_import(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_json *reply = NULL, *p = NULL;
	struct strata_jw req = { 0 }, prog = { 0 };
	bool tty = isatty(STDERR_FILENO);
	char into[PATH_MAX], size[32];
	struct cmd_opts o;
	struct cmd_conn c = { .fd = -1 };
	unsigned int polls = 0;
	int status;

	status = cmd_parse(argc, argv, ctx, CMD_OPT_TIER | CMD_OPT_INTO,
			   IMPORT_USAGE, &o);
	if (status)
		return status < 0 ? 0 : status;
	if (argc - optind != 1 || !o.tier || !o.into) {
		cmd_error(ctx, "usage: strata import %s", IMPORT_USAGE);
		return 2;
	}
	status = cmd_connect(ctx, o.config, o.into, &c);
	if (status == 0)
		status = cmd_ns_path(ctx, &c, o.into, into, sizeof(into));
	if (status)
		goto out;
	strata_jw_obj(&req);
	strata_jw_kstr(&req, "op", "import");
	strata_jw_kstr(&req, "tier", o.tier);
	strata_jw_kstr(&req, "source", argv[optind]);
	strata_jw_kstr(&req, "into", into);
	strata_jw_obj_end(&req);
	status = cmd_call(ctx, &c, &req, &reply);
	if (status)
		goto out;
	strata_jw_obj(&prog);
	strata_jw_kstr(&prog, "op", "progress");
	strata_jw_obj_end(&prog);
	for (;;) {
		strata_json_free(p);
		status = cmd_call(ctx, &c, &prog, &p);
		if (status)
			goto out;
		if (strata_json_get_bool(p, "done", false))
			break;
		if (!o.json && (tty || polls % 8 == 0))
			fprintf(stderr,
				"%simported %" PRIu64 " files, %" PRIu64
				" skipped%s",
				tty ? "\r" : "", import_u(p, "files"),
				import_u(p, "skipped"), tty ? "\033[K" : "\n");
		polls++;
		poll(NULL, 0, 250);
	}
	if (tty && !o.json && polls)
		fputc('\n', stderr);
	if (o.json) {
		cmd_print_json(p);
	} else {
		cmd_size(import_u(p, "bytes"), size, sizeof(size));
		printf("imported %" PRIu64 " files (%s) and %" PRIu64
		       " directories into '%s'; %" PRIu64
		       " already imported; %" PRIu64 " not adopted\n",
		       import_u(p, "files"), size, import_u(p, "dirs"), into,
		       import_u(p, "skipped"), import_u(p, "conflicts"));
	}
	if (import_u(p, "conflicts")) {
		cmd_error(ctx,
			  "%" PRIu64 " objects not adopted: their names are "
			  "taken in the namespace (see the mount's log)",
			  import_u(p, "conflicts"));
		status = 1;
	}
out:
	strata_json_free(reply);
	strata_json_free(p);
	strata_jw_release(&req);
	strata_jw_release(&prog);
	cmd_disconnect(&c);
	return status;
}
