#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 001-posix-ops: POSIX semantics of the mount, one system call family at a
# time: lookup and getattr, create flags, reads and writes at offsets, holes,
# truncation, setattr (mode, owner, ns times, UTIME_NOW/UTIME_OMIT), unlink
# and rename with every error case including renameat2 flags, hard links,
# symlinks, fifos and sockets, statfs, xattrs, NAME_MAX, fsync, POSIX and
# flock locks, fallocate, directory link counts and time stamps. The checks
# live in integration/posix_ops.py, which compares exact errno values with
# what Linux gives on a local file system (see STRATA_TEST_DIRECT in lib.sh),
# once with the configured timeouts and once with kernel caching off.

. "$(dirname "$0")/../lib.sh"

write_config
mount_strata

log "posix_ops.py against $M"
python3 "$STRATA_SRC/integration/posix_ops.py" "$M" ||
	fail "POSIX checks failed (see the FAIL lines above)"
umount_strata

# Again with no kernel caching of entries and attributes, so that every
# lookup and getattr reaches Strata instead of the kernel's copy.
mount_strata -o entry_timeout=0,attr_timeout=0
mkdir "$M/nocache"
log "posix_ops.py against $M/nocache, entry_timeout=0,attr_timeout=0"
python3 "$STRATA_SRC/integration/posix_ops.py" "$M/nocache" ||
	fail "POSIX checks without kernel caching failed (see the FAIL lines)"
umount_strata
echo "ok 001-posix-ops"
