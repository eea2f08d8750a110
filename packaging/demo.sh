#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# packaging/demo.sh - what `make run` and `make stop` do.
#
#   demo.sh STRATA_BIN   mount the demo namespace at ./mnt: a SQLite catalog
#                        and two local-directory tiers (nvme, capacity) under
#                        ./var, configured by var/strata.conf, which is made
#                        from examples/strata.conf.in on first use.
#   demo.sh --stop       flush and unmount it.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd)
MNT=$TOP/mnt
CONF=$TOP/var/strata.conf
BIN=${1:-$TOP/build/strata}

if [ "${1:-}" = "--stop" ]; then
	BIN=$TOP/build/strata
	if grep -q " $MNT fuse.strata " /proc/self/mounts; then
		"$BIN" umount "$MNT"
		echo "unmounted $MNT"
	else
		echo "nothing is mounted at $MNT"
	fi
	exit 0
fi

mkdir -p "$TOP/var/tiers/nvme" "$TOP/var/tiers/capacity" "$MNT"
if [ ! -f "$CONF" ]; then
	sed "s|@TOP@|$TOP|g" "$TOP/examples/strata.conf.in" > "$CONF"
fi

if grep -q " $MNT fuse.strata " /proc/self/mounts; then
	echo "the demo namespace is already mounted at $MNT"
else
	"$BIN" mount -c "$CONF" "$MNT"
	if [ ! -e "$MNT/README" ]; then
		cat > "$MNT/README" <<'TXT'
This file lives in a Strata namespace. Its bytes are on the 'nvme' tier,
under var/tiers/nvme, named by a stable file id; its name, mode, owner,
times and xattrs are rows in var/catalog.db.
TXT
		mkdir -p "$MNT/datasets" "$MNT/ckpt"
	fi
fi

cat <<TXT
Strata is mounted at $MNT
  config:   $CONF
  catalog:  $TOP/var/catalog.db
  tiers:    nvme -> $TOP/var/tiers/nvme, capacity -> $TOP/var/tiers/capacity

Use it like any directory:
  ls -l $MNT; cp -r /usr/share/doc/bash $MNT/datasets/; cat $MNT/README
Logs go to syslog (journalctl -t strata). Unmount with:
  make stop        (or: $BIN umount $MNT, or fusermount3 -u $MNT)
TXT
