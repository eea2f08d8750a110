#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 025-full-disk: full file systems under the catalog and under a tier lose
# nothing that was reported done. The catalog and the tier each live on a
# small tmpfs of their own, filled from outside the mount.
#
# Catalog full: every change reported done before the disk filled survives
# (the catalog commits in batches, and SQLite rolls back a batch whose
# commit cannot write its log: the log keeps space reserved); later changes
# fail with ENOSPC, and the log names the catalog; reads go on, and so do
# removals and the recording of a write's size, from the reserve; a mount
# started on the full disk can do as much; once there is room, changes are
# taken again. Tier full: a write fails with ENOSPC, and what was written
# stays. After a remount everything reads back and fsck finds nothing
# wrong. (Files kept when even the reserve is gone: 024-refused-key.)

. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "025-full-disk: fills the mount's own file systems, needs a mount"
	exit 0
fi

S=$STRATA_BIN
CAT=$T/catfs
TIER=$T/tierfs
mkdir -p "$CAT" "$TIER"
mount -t tmpfs -o size=16m strata-test-cat "$CAT" ||
	fail "cannot mount a tmpfs for the catalog"
on_exit "umount -l '$CAT'"
mount -t tmpfs -o size=24m strata-test-tier "$TIER" ||
	fail "cannot mount a tmpfs for the tier"
on_exit "umount -l '$TIER'"
cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $CAT/catalog.db
site = test
placement = nvme

[tier nvme]
url = file://$TIER
CONF

# fill DIR: take every free byte of DIR's file system.
fill() {
	dd if=/dev/zero of="$1/filler" bs=64k status=none 2>/dev/null || true
	[ "$(df --output=avail "$1" | tail -1)" -eq 0 ] || fail "$1 is not full"
}

mount_strata
mkdir "$M/a" "$M/empty"
for i in $(seq 1 50); do echo "file $i" > "$M/a/f$i"; done

log "catalog full: changes reported done survive, later ones get ENOSPC"
fill "$CAT"
mkdir "$M/b" || fail "mkdir with the log's reserve left"
n=0
while [ $n -lt 20000 ]; do
	if ! err=$(echo "entry $n" 2>&1 > "$M/b/g$n"); then
		[[ "$err" == *"No space left on device"* ]] ||
			fail "create $n failed, but not with ENOSPC: $err"
		break
	fi
	n=$((n + 1))
done
[ $n -lt 20000 ] || fail "20000 creates with the catalog's disk full"
log "$n creates before ENOSPC"
wait_log "catalog '$CAT/catalog.db': no room to reserve"
mkdir "$M/c" 2> /dev/null && fail "mkdir succeeded with the catalog full"
[ "$(ls "$M/b" | wc -l)" = "$n" ] || fail "b lists $(ls "$M/b" | wc -l), want $n"
[ "$(cat "$M/a/f7")" = "file 7" ] || fail "a read with the catalog full"
rm "$M/b/g0" || fail "unlink with the catalog full"
rmdir "$M/empty" || fail "rmdir with the catalog full"

log "a file written meanwhile has its size recorded from the reserve"
echo "appended while full" >> "$M/a/f1" || fail "append to a/f1"
want_f1=$(printf 'file 1\nappended while full')
size_f1=$((${#want_f1} + 1))
[ "$(cat "$M/a/f1")" = "$want_f1" ] || fail "a/f1 does not read back"
[ "$(stat -c %s "$M/a/f1")" = $size_f1 ] ||
	fail "a/f1 size: $(stat -c %s "$M/a/f1"), want $size_f1"

log "a mount started on the full disk still reads and removes"
umount_strata
grep -q "are lost" "$T/mount.log" && fail "the mount says it lost something"
mount_strata
[ "$(stat -c %s "$M/a/f1")" = $size_f1 ] ||
	fail "a/f1 size after a remount on the full disk"
[ "$(cat "$M/a/f1")" = "$want_f1" ] || fail "a/f1 after a remount"
[ "$(ls "$M/b" | wc -l)" = $((n - 1)) ] || fail "b after a remount"
rm "$M/b/g1" || fail "unlink on a mount started with the catalog full"
mkdir "$M/c" 2> /dev/null && fail "mkdir succeeded with the catalog full"
# Removals go on until the reserve's last eighth; none is undone.
r=0
while [ $((2 + r)) -lt $n ]; do
	if ! err=$(rm "$M/b/g$((2 + r))" 2>&1); then
		[[ "$err" == *"No space left on device"* ]] ||
			fail "an unlink failed, but not with ENOSPC: $err"
		break
	fi
	r=$((r + 1))
done
log "$r more removals on the full disk"
umount_strata
grep -q "rolled back" "$T/mount.log" && fail "the catalog rolled changes back"
mount_strata
[ "$(ls "$M/b" | wc -l)" = $((n - 2 - r)) ] ||
	fail "b after removals on the full disk: $(ls "$M/b" | wc -l)"
rm "$CAT/filler"
mkdir "$M/c" || fail "mkdir after room was made"
echo after > "$M/c/after" || fail "create after room was made"
wait_log "there is room for its log again"

log "tier full: a write gets ENOSPC, and what was written stays"
if head -c 64M /dev/zero > "$M/big" 2> "$T/big.err"; then
	fail "a 64 MiB write to a 24 MiB tier succeeded"
fi
grep -q "No space left on device" "$T/big.err" ||
	fail "the write failed, but not with ENOSPC: $(cat "$T/big.err")"
[ "$(cat "$M/a/f7")" = "file 7" ] || fail "a/f7 after the tier filled"
rm "$M/big"
# Its object goes with the reaper's next batch.
for _ in $(seq 1 600); do
	[ "$(df --output=avail "$TIER" | tail -1)" -gt 1024 ] && break
	sleep 0.05
done
echo small > "$M/small" || fail "a write after the big file went"

log "everything survives a remount; fsck finds nothing wrong"
umount_strata
grep -q "are lost" "$T/mount.log" && fail "the mount says it lost something"
out=$("$S" fsck -c "$T/strata.conf") || fail "fsck: $out"
mount_strata
for i in $(seq 2 50); do
	[ "$(cat "$M/a/f$i")" = "file $i" ] || fail "a/f$i after remount"
done
[ "$(cat "$M/a/f1")" = "$want_f1" ] || fail "a/f1 after remount: $(cat "$M/a/f1")"
[ "$(stat -c %s "$M/a/f1")" = $size_f1 ] || fail "a/f1 size after remount"
[ "$(ls "$M/b" | wc -l)" = $((n - 2 - r)) ] ||
	fail "b after remount: $(ls "$M/b" | wc -l), want $((n - 2 - r))"
[ ! -e "$M/b/g0" ] && [ ! -e "$M/b/g$((1 + r))" ] && [ ! -e "$M/empty" ] ||
	fail "removals undone by a remount"
for i in $(seq $((2 + r)) $((n - 1))); do
	[ "$(cat "$M/b/g$i")" = "entry $i" ] || fail "b/g$i after remount"
done
[ "$(cat "$M/c/after")" = after ] || fail "c/after after remount"
[ "$(cat "$M/small")" = small ] || fail "small after remount"
umount_strata
log "ok"
