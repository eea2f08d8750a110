/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd.h - the strata command table's shape.
 *
 * Each command lives in cmd/cmd_<name>.c as int cmd_<name>(argc, argv,
 * ctx): it parses its options, calls the library, prints, and returns an
 * exit status (0 ok, 1 failed, 2 bad usage). Messages go to stderr as one
 * line, "strata <cmd>: ...", lower case, subject in single quotes.
 */
#ifndef STRATA_CMD_H
#define STRATA_CMD_H

#include <stdio.h>

struct strata_ctx {
	const char *prog; /* "strata" */
	const char *cmd;  /* the command's name, for messages */
};

struct strata_cmd {
	const char *name;
	int (*fn)(int argc, char **argv, struct strata_ctx *ctx);
	const char *usage;
	const char *help;
};

/* Print "strata CMD: message" to stderr. */
void cmd_error(const struct strata_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int cmd_mount(int argc, char **argv, struct strata_ctx *ctx);
int cmd_rules(int argc, char **argv, struct strata_ctx *ctx);
int cmd_umount(int argc, char **argv, struct strata_ctx *ctx);
int cmd_version(int argc, char **argv, struct strata_ctx *ctx);
int cmd_fsck(int argc, char **argv, struct strata_ctx *ctx);
int cmd_status(int argc, char **argv, struct strata_ctx *ctx);
int cmd_where(int argc, char **argv, struct strata_ctx *ctx);
int cmd_pin(int argc, char **argv, struct strata_ctx *ctx);
int cmd_unpin(int argc, char **argv, struct strata_ctx *ctx);
int cmd_pins(int argc, char **argv, struct strata_ctx *ctx);
int cmd_migrate(int argc, char **argv, struct strata_ctx *ctx);
int cmd_prefetch(int argc, char **argv, struct strata_ctx *ctx);
int cmd_free(int argc, char **argv, struct strata_ctx *ctx);
int cmd_sync(int argc, char **argv, struct strata_ctx *ctx);
int cmd_jobs(int argc, char **argv, struct strata_ctx *ctx);
int cmd_import(int argc, char **argv, struct strata_ctx *ctx);

#endif
