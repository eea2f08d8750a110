/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/client.h - what the commands that talk to a running mount share:
 * finding the mount's control socket, one request and its reply, waiting
 * with progress, and aligned tables.
 *
 * A mount is found from a path inside it (its mount point's source in
 * mountinfo is the catalog; the socket is CATALOG.sock) or from -c CONFIG
 * (the config's catalog). Everything here prints its own one-line errors
 * ("strata CMD: ...") and returns an exit status: 0 ok, 1 failed, 2 usage.
 * Single-threaded, like the CLI.
 */
#ifndef STRATA_CMD_CLIENT_H
#define STRATA_CMD_CLIENT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "cmd.h"
#include <getopt.h>

#include "json.h"

struct cmd_conn {
	int fd;
	char mnt[PATH_MAX];	/* the mount point, "" when found by config */
	char catalog[PATH_MAX]; /* the mount's catalog */
	char sock[PATH_MAX];
	char *in; /* bytes read past the last reply */
	size_t len;
	size_t cap;
};

/* Options most commands share. */
struct cmd_opts {
	const char *config; /* -c CONFIG */
	const char *tier;   /* --tier, --to, --from */
	bool recursive;	    /* -r */
	bool json;	    /* --json */
	bool wait;	    /* --wait */
	bool all;	    /* --all */
	const char *state;  /* --state */
	const char *into;   /* --into */
};

/* Which options a command takes (bits) and how they are spelled. */
enum cmd_opt_bits {
	CMD_OPT_TIER = 1u << 0, /* --tier T / -t T */
	CMD_OPT_TO = 1u << 1,	/* --to T */
	CMD_OPT_FROM = 1u << 2, /* --from T */
	CMD_OPT_R = 1u << 3,
	CMD_OPT_WAIT = 1u << 4,
	CMD_OPT_ALL = 1u << 5,
	CMD_OPT_STATE = 1u << 6,
	CMD_OPT_INTO = 1u << 7,
};

/*
 * Parse argv (argv[0] the command) with -c, --json and the options in
 * bits into o; optind is the first operand after. Returns 0, or 2 after
 * printing usage ("usage: strata CMD USAGE") for anything else.
 */
int cmd_parse(int argc, char **argv, struct strata_ctx *ctx, unsigned int bits,
	      const char *usage, struct cmd_opts *o);

/*
 * Connect to the mount: by -c CONFIG when given, else the mount holding
 * path (NULL: the current directory). Returns 0 or 1 (message printed:
 * the path is in no strata mount, or no mount is running there).
 */
int cmd_connect(struct strata_ctx *ctx, const char *config, const char *path,
		struct cmd_conn *c);
void cmd_disconnect(struct cmd_conn *c);

/* The namespace path of arg ("/a/b") for conn: a path through the mount
 * point, or, with a config, an absolute namespace path. 0 or 1. */
int cmd_ns_path(struct strata_ctx *ctx, const struct cmd_conn *c,
		const char *arg, char *out, size_t len);

/* Append "paths": [...] (namespace paths of argv[0..n)) to req. 0 or 1. */
int cmd_put_paths(struct strata_ctx *ctx, const struct cmd_conn *c,
		  struct strata_jw *req, int n, char **argv);

/*
 * Send req (a finished object) and read the reply into *reply. An
 * {"ok":false} reply prints its error and returns 1 (*reply is then
 * freed and NULL), so does a broken connection. 0 on ok.
 */
int cmd_call(struct strata_ctx *ctx, struct cmd_conn *c, struct strata_jw *req,
	     struct strata_json **reply);

/*
 * Poll "progress" until the batch (or import) is done, drawing a bar on
 * a TTY (stderr) or printing a plain line every few seconds otherwise;
 * with json, nothing until the last reply, printed to stdout. Failures
 * are listed on stderr. Returns 0 when every file got there, 1 otherwise.
 */
int cmd_wait(struct strata_ctx *ctx, struct cmd_conn *c, bool json);

/*
 * The shape of the commands that ask the mount one thing (status, pins):
 * parse -c and --json, take at most one PATH (to find the mount), send
 * {op: argv[0]} and take the reply. Returns as cmd_path_call().
 */
int cmd_op_call(int argc, char **argv, struct strata_ctx *ctx,
		const char *usage, struct cmd_opts *o, struct cmd_conn *c,
		struct strata_json **reply);

/*
 * The shape of the commands that act on paths (argv[0] is the command and
 * the request's op): parse options (bits), require a path (and a tier
 * with need_tier), connect through the first path, send {op, tier,
 * recursive, paths} and take the reply. Returns 0 with *reply set and c
 * connected (the caller frees and disconnects), -1 after --help was
 * printed, or an exit status with nothing left to free.
 */
int cmd_path_call(int argc, char **argv, struct strata_ctx *ctx,
		  unsigned int bits, bool need_tier, const char *usage,
		  struct cmd_opts *o, struct cmd_conn *c,
		  struct strata_json **reply);

/*
 * strata migrate | prefetch | free PATH... --to|--from T [-r] [--wait]:
 * argv[0] is the request's op; bits says which of --to and --from.
 */
int cmd_move_run(int argc, char **argv, struct strata_ctx *ctx,
		 unsigned int bits, const char *usage);

/* Print a reply object as one line of JSON on stdout. */
void cmd_print_json(const struct strata_json *j);

/* "1.5 GiB", "512 B". */
void cmd_size(uint64_t v, char *buf, size_t len);

/* Aligned tables: columns are padded to their widest cell. */
struct cmd_table {
	unsigned int ncols;
	unsigned int right; /* bit i: column i aligns right */
	char **cells;
	size_t n; /* cells */
	size_t cap;
};

void cmd_table_init(struct cmd_table *t, unsigned int ncols,
		    unsigned int right);
/* One row of ncols strings (copied; NULL prints as "-"). */
void cmd_table_row(struct cmd_table *t, const char *const *cols);
void cmd_table_print(struct cmd_table *t);
void cmd_table_release(struct cmd_table *t);

#endif
