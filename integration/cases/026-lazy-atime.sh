#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 026-lazy-atime: the atime a read moves (relatime) shows through the mount
# at once, and reaches the catalog by the mount's own write-back (10 s after
# the first read that waits; this waits up to 60 s for it) and at unmount
# for a read made just before it. A second read of an unchanged file keeps
# the first read's atime. (That nothing is written at the read itself is the
# unit tests' to show: here it would be a race with the write-back.)
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "026-lazy-atime: nothing to check without a mount"
	exit 0
fi

OLD=1000000000 # 2001-09-09, in seconds

# catalog_atime INO: the catalog's atime of inode INO, in seconds.
catalog_atime() {
	sqlite3 "$T/catalog.db" \
		"SELECT atime / 1000000000 FROM inodes WHERE ino = $1"
}

write_config
mount_strata
for f in a b; do
	echo "bytes of $f" > "$M/$f"
	touch -d "@$OLD" "$M/$f" # atime and mtime: a read moves atime
done
ino_a=$(stat -c %i "$M/a")
ino_b=$(stat -c %i "$M/b")

log "a read: the mount shows the new atime at once"
start=$(date +%s)
cat "$M/a" > /dev/null
seen=$(stat -c %X "$M/a")
[ "$seen" -ge "$start" ] ||
	fail "atime through the mount after a read is $seen, want >= $start"
sleep 1.1
cat "$M/a" > /dev/null
[ "$(stat -c %X "$M/a")" = "$seen" ] ||
	fail "a second read moved the atime from $seen to $(stat -c %X "$M/a")"

log "the write-back records it in the catalog"
got=
for _ in $(seq 1 600); do
	got=$(catalog_atime "$ino_a")
	[ "$got" != "$OLD" ] && break
	sleep 0.1
done
[ "$got" = "$seen" ] ||
	fail "the catalog's atime of a is $got after 60 s, want $seen"

log "a read just before the unmount is recorded by it"
cat "$M/b" > /dev/null
seen=$(stat -c %X "$M/b")
umount_strata
got=$(catalog_atime "$ino_b")
[ "$got" = "$seen" ] ||
	fail "the catalog's atime of b after unmount is $got, want $seen"
echo "ok 026-lazy-atime"
