/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/strata.c - main() and the one table of commands.
 *
 * main() finds argv[1] in the table and calls it; after the command it
 * checks that stdout was written out, so a full disk or a closed pipe is an
 * error rather than silent truncation. Adding a command takes a function in
 * cmd/cmd_<name>.c, a row here, a man page and an integration case.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "util.h"

static const struct strata_cmd cmds[] = {
	{ "mount", cmd_mount, "[-f] [-o OPT,...] -c CONFIG MOUNTPOINT",
	  "mount a namespace" },
	{ "umount", cmd_umount, "MOUNTPOINT", "flush and unmount a namespace" },
	{ "rules", cmd_rules,
	  "check [-c CONFIG] FILE | explain -c CONFIG [-r RULES] PATH | "
	  "plan -c CONFIG [-r RULES] [--json]",
	  "check rules, explain a file, plan a pass: moving nothing" },
	{ "fsck", cmd_fsck, "[--repair] [--json] -c CONFIG",
	  "check an unmounted catalog against its tiers" },
	{ "status", cmd_status, "[-c CONFIG] [--json] [PATH]",
	  "show each tier's and site's space, files and jobs" },
	{ "where", cmd_where, "[-c CONFIG] [-r] [--json] PATH...",
	  "show which tiers hold files, their state and pins" },
	{ "pin", cmd_pin,
	  "PATH... --tier TIER [-r] [--wait] [-c CONFIG] [--json]",
	  "pin files to a tier, outranking every rule" },
	{ "unpin", cmd_unpin, "PATH... [-r] [-c CONFIG] [--json]",
	  "remove pins" },
	{ "pins", cmd_pins, "[-c CONFIG] [--json] [PATH]",
	  "list pinned files" },
	{ "migrate", cmd_migrate,
	  "PATH... --to TIER [-r] [--wait] [-c CONFIG] [--json]",
	  "move files to a tier" },
	{ "prefetch", cmd_prefetch,
	  "PATH... --to TIER [-r] [--wait] [-c CONFIG] [--json]",
	  "copy files to a near tier, keeping the others" },
	{ "free", cmd_free,
	  "PATH... --from TIER [-r] [--wait] [-c CONFIG] [--json]",
	  "drop copies on a tier, never the last valid one" },
	{ "sync", cmd_sync, "[--wait] [-r] PATH... [-c CONFIG] [--json]",
	  "make files durable where they belong" },
	{ "jobs", cmd_jobs,
	  "[list] [--state STATE] [PATH] | cancel ID...|--all | "
	  "retry ID...|--all [-c CONFIG] [--json]",
	  "list, cancel or retry the mount's jobs" },
	{ "import", cmd_import,
	  "BACKEND-PATH --tier TIER --into PATH [-c CONFIG] [--json]",
	  "adopt a tree a tier holds, in place, without copying" },
	{ "version", cmd_version, "[--json]", "print version information" },
	{ "help", NULL, "[COMMAND]", "show the commands, or one's usage" },
};

void cmd_error(const struct strata_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", ctx->prog, ctx->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: strata COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(cmds); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n'strata COMMAND --help' shows a command's options; "
		   "see strata(1).\n");
}

static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "strata: cannot write output: %s\n",
			strerror(errno));
		return 1;
	}
	return status;
}

int main(int argc, char **argv)
{
	struct strata_ctx ctx = { .prog = "strata" };

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    (strcmp(argv[1], "help") == 0 && argc == 2)) {
		usage(stdout);
		return finish_stdout(0);
	}
	if (strcmp(argv[1], "help") == 0) {
		if (strcmp(argv[2], "--help") == 0 ||
		    strcmp(argv[2], "-h") == 0)
			argv[2] = "help";
		if (argc > 3) {
			fprintf(stderr, "strata help: usage: strata help "
					"[COMMAND]\n");
			return 2;
		}
		for (size_t i = 0; i < STRATA_ARRAY_SIZE(cmds); i++) {
			if (strcmp(argv[2], cmds[i].name) != 0)
				continue;
			printf("usage: strata %s %s\n%s\n", cmds[i].name,
			       cmds[i].usage, cmds[i].help);
			return finish_stdout(0);
		}
		fprintf(stderr, "strata help: unknown command '%s'\n", argv[2]);
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0)
		argv[1] = "version";
	for (size_t i = 0; i < STRATA_ARRAY_SIZE(cmds); i++) {
		if (strcmp(argv[1], cmds[i].name) != 0 || !cmds[i].fn)
			continue;
		ctx.cmd = cmds[i].name;
		if (argc > 2 && (strcmp(argv[2], "--help") == 0 ||
				 strcmp(argv[2], "-h") == 0)) {
			printf("usage: strata %s %s\n%s\n", cmds[i].name,
			       cmds[i].usage, cmds[i].help);
			return finish_stdout(0);
		}
		return finish_stdout(cmds[i].fn(argc - 1, argv + 1, &ctx));
	}
	fprintf(stderr, "strata: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
