/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cmd/cmd_umount.c - strata umount MOUNTPOINT.
 *
 * Writes back the kernel's dirty pages (syncfs), unmounts (umount2 as root,
 * else fusermount3 -u), and waits until the mount process has synced its
 * tiers, made its catalog durable and let go of the catalog's mount lock,
 * so a following mount or backup sees a quiet, durable catalog.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "util.h"

#define UMOUNT_WAIT_SECONDS 60

static int umount_fusermount(const char *mnt)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", mnt, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EPERM;
}

/* Wait until the mount process released the catalog's mount lock. */
static int umount_wait(const char *catalog)
{
	char path[PATH_MAX + 16];
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	int fd;

	snprintf(path, sizeof(path), "%s.lock", catalog);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* nothing to wait for */
	for (int i = 0; i < UMOUNT_WAIT_SECONDS * 20; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			close(fd);
			return 0;
		}
		nanosleep(&pause, NULL);
	}
	close(fd);
	return -ETIMEDOUT;
}

int cmd_umount(int argc, char **argv, struct strata_ctx *ctx)
{
	char mnt[PATH_MAX];
	char catalog[PATH_MAX];
	int fd;
	int ret;

	if (argc != 2) {
		cmd_error(ctx, "usage: strata umount MOUNTPOINT");
		return 2;
	}
	if (!realpath(argv[1], mnt)) {
		cmd_error(ctx, "cannot find '%s': %s", argv[1],
			  strerror(errno));
		return 1;
	}
	ret = strata_mount_source(mnt, "fuse.strata", catalog, sizeof(catalog));
	if (ret < 0) {
		cmd_error(ctx, "'%s' is not a strata mount", mnt);
		return 1;
	}
	fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		if (syncfs(fd) < 0)
			cmd_error(ctx, "flushing '%s' failed: %s", mnt,
				  strerror(errno));
		close(fd);
	}
	if (geteuid() == 0)
		ret = umount2(mnt, 0) < 0 ? -errno : 0;
	else
		ret = umount_fusermount(mnt);
	if (ret < 0) {
		cmd_error(ctx, "cannot unmount '%s': %s", mnt, strerror(-ret));
		return 1;
	}
	if (umount_wait(catalog) < 0) {
		cmd_error(ctx,
			  "unmounted '%s', but its process still holds "
			  "catalog '%s' after %d s",
			  mnt, catalog, UMOUNT_WAIT_SECONDS);
		return 1;
	}
	return 0;
}
