#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 016-fsck: strata fsck checks an unmounted catalog against its tiers. A
# clean namespace checks clean (exit 0); an object no file uses (as a crash
# can leave) and a scratch file of an unnamed object (idem) are reported
# and, with --repair, removed; an object removed
# behind the mount's back is reported as lost content and stays reported
# (exit 1); a mounted catalog is refused.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "016-fsck: nothing to check without a mount"
	exit 0
fi

write_config
mount_strata
mkdir "$M/d"
for i in 1 2 3; do
	head -c $((i * 5000)) /dev/urandom > "$M/d/f$i"
done
: > "$M/d/empty"

log "a mounted catalog is refused"
out=$("$STRATA_BIN" fsck -c "$T/strata.conf" 2>&1) && rc=0 || rc=$?
[ "$rc" = 1 ] || fail "fsck on a mounted catalog exited $rc, want 1"
[[ "$out" == *"in use by another mount"* ]] ||
	fail "fsck on a mounted catalog said: $out"
umount_strata

log "a clean namespace"
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") ||
	fail "fsck of a clean namespace failed: $out"
[[ "$out" == *"3 objects, 3 replicas checked: 0 problems, 0 repaired"* ]] ||
	fail "clean fsck said: $out"

log "an orphan object and a missing one"
mkdir -p "$T/tiers/nvme/ff/ff"
head -c 1234 /dev/urandom > "$T/tiers/nvme/ff/ff/00000000deadbeef"
head -c 77 /dev/urandom > "$T/tiers/nvme/ff/ff/.strata-tmp-anon-999-1"
victim=$(find "$T/tiers/nvme" -type f -size 10000c)
[ -n "$victim" ] || fail "cannot find the object of d/f2"
rm "$victim"
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") && rc=0 || rc=$?
[ "$rc" = 1 ] || fail "fsck with problems exited $rc, want 1"
[[ "$out" == *"orphan object 'ff/ff/00000000deadbeef' on tier 'nvme' (1234 bytes"* ]] ||
	fail "the orphan was not reported: $out"
[[ "$out" == *"missing object"*"on tier 'nvme'"* ]] ||
	fail "the missing object was not reported: $out"
[[ "$out" == *"leftover temporary 'ff/ff/.strata-tmp-anon-999-1' on tier 'nvme' (77 bytes"* ]] ||
	fail "the leftover temporary was not reported: $out"
[ -f "$T/tiers/nvme/ff/ff/00000000deadbeef" ] ||
	fail "fsck without --repair removed the orphan"
[ -f "$T/tiers/nvme/ff/ff/.strata-tmp-anon-999-1" ] ||
	fail "fsck without --repair removed the temporary"

log "--repair removes the orphan, keeps reporting the loss"
out=$("$STRATA_BIN" fsck --repair -c "$T/strata.conf") && rc=0 || rc=$?
[ "$rc" = 1 ] || fail "fsck --repair with lost content exited $rc, want 1"
[[ "$out" == *"orphan object 'ff/ff/00000000deadbeef'"*": removed"* ]] ||
	fail "the orphan was not removed: $out"
[ ! -e "$T/tiers/nvme/ff/ff/00000000deadbeef" ] ||
	fail "the orphan is still on the tier"
[[ "$out" == *"leftover temporary 'ff/ff/.strata-tmp-anon-999-1'"*": removed"* ]] ||
	fail "the temporary was not removed: $out"
[ ! -e "$T/tiers/nvme/ff/ff/.strata-tmp-anon-999-1" ] ||
	fail "the temporary is still on the tier"
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") && rc=0 || rc=$?
[ "$rc" = 1 ] || fail "second fsck exited $rc, want 1"
[[ "$out" != *"orphan"* ]] || fail "the orphan came back: $out"
[[ "$out" == *"missing object"* ]] || fail "the loss is no longer reported"

log "the other files are intact"
mount_strata
[ "$(stat -c %s "$M/d/f3")" = 15000 ] || fail "d/f3 changed"
cat "$M/d/f1" "$M/d/f3" > /dev/null || fail "intact files unreadable"
umount_strata

log "usage errors"
"$STRATA_BIN" fsck > /dev/null 2>&1 && rc=0 || rc=$?
[ "$rc" = 2 ] || fail "fsck without -c exited $rc, want 2"
echo "ok 016-fsck"
