/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_mount.c - strata mount [-f] [-o OPT,...] -c CONFIG MOUNTPOINT.
 *
 * Loads the config, then serves the mount: in the foreground with -f, else
 * in a detached child. The parent waits on a pipe until the child reports
 * that the mount is up (exit 0) or why it could not mount (the message is
 * printed here, exit 1), so errors reach the terminal even when the mount
 * runs in the background.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

#include "cfg.h"
#include "cmd.h"
#include "log.h"
#include "policy.h"
#include "strata_fuse.h"

#define MOUNT_ERR_MAX 1024

/* The policy engine runs beside the FUSE session, in the serving process. */
struct mount_engine {
	const struct strata_cfg *cfg;
	struct strata_engine *engine;
};

static int mount_attach(void *arg, struct strata_vfs *vfs, char *err,
			size_t errlen)
{
	struct mount_engine *me = arg;

	return strata_engine_start(me->cfg, vfs, &me->engine, err, errlen);
}

static void mount_detach(void *arg, struct strata_vfs *vfs)
{
	struct mount_engine *me = arg;

	(void)vfs;
	strata_engine_stop(me->engine);
	me->engine = NULL;
}

/* Parent side: relay the child's report. */
static int mount_wait_child(struct strata_ctx *ctx, int fd, pid_t pid)
{
	char msg[MOUNT_ERR_MAX];
	size_t len = 0;
	ssize_t n;
	int status;

	while (len < sizeof(msg) - 1) {
		n = read(fd, msg + len, sizeof(msg) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	msg[len] = '\0';
	close(fd);
	if (strcmp(msg, STRATA_FUSE_NOTIFY_OK) == 0)
		return 0;
	waitpid(pid, &status, 0);
	if (len)
		cmd_error(ctx, "%s", msg);
	else
		cmd_error(ctx, "the mount process exited before mounting");
	return 1;
}

static int mount_run(struct strata_ctx *ctx, const struct strata_cfg *cfg,
		     const char *mnt, bool foreground,
		     struct strata_fuse_opts *opts)
{
	char err[MOUNT_ERR_MAX] = "";
	int pfd[2];
	pid_t pid;
	int ret;

	if (foreground) {
		ret = strata_fuse_main(cfg, mnt, opts, err, sizeof(err));
		if (ret < 0) {
			cmd_error(ctx, "%s", err);
			return 1;
		}
		return 0;
	}
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		cmd_error(ctx, "cannot create a pipe: %s", strerror(errno));
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		cmd_error(ctx, "cannot fork: %s", strerror(errno));
		return 1;
	}
	if (pid > 0) {
		close(pfd[1]);
		return mount_wait_child(ctx, pfd[0], pid);
	}
	close(pfd[0]);
	setsid();
	opts->notify_fd = pfd[1];
	ret = strata_fuse_main(cfg, mnt, opts, err, sizeof(err));
	if (ret < 0) {
		/* Still attached when the mount failed: tell the parent. */
		if (write(pfd[1], err, strlen(err)) < 0)
			strata_log(STRATA_LOG_ERR, STRATA_SUB_CMD, "%s", err);
		_exit(1);
	}
	_exit(0);
}

int cmd_mount(int argc, char **argv, struct strata_ctx *ctx)
{
	struct strata_fuse_opts opts;
	struct mount_engine me = { 0 };
	struct strata_cfg *cfg = NULL;
	const char *config = NULL;
	bool foreground = false;
	char err[MOUNT_ERR_MAX];
	int status = 2;
	int c;

	strata_fuse_opts_init(&opts);
	optind = 1;
	while ((c = getopt(argc, argv, "+fo:c:")) != -1) {
		switch (c) {
		case 'f':
			foreground = true;
			break;
		case 'o':
			if (strata_fuse_parse_opts(optarg, &opts, err,
						   sizeof(err)) < 0) {
				cmd_error(ctx, "%s", err);
				goto out;
			}
			break;
		case 'c':
			config = optarg;
			break;
		default:
			goto usage;
		}
	}
	if (!config || optind != argc - 1)
		goto usage;
	cfg = calloc(1, sizeof(*cfg));
	if (!cfg) {
		cmd_error(ctx, "out of memory");
		status = 1;
		goto out;
	}
	if (strata_cfg_load(config, cfg, err, sizeof(err)) < 0) {
		cmd_error(ctx, "%s", err);
		status = 1;
		goto out;
	}
	me.cfg = cfg;
	opts.attach = mount_attach;
	opts.detach = mount_detach;
	opts.attach_arg = &me;
	status = mount_run(ctx, cfg, argv[optind], foreground, &opts);
	goto out;
usage:
	cmd_error(ctx, "usage: strata mount [-f] [-o OPT,...] -c CONFIG "
		       "MOUNTPOINT");
out:
	free(cfg);
	return status;
}
