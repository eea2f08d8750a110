#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 021-policy-crash: kill -9 of the mount in the middle of a batch of moves,
# then a remount: every file reads back as written, no job is lost (the
# remount finishes the batch: every file is on capacity alone), the only
# debris is orphan objects that `strata fsck --repair` reports and removes,
# and a second fsck finds nothing (no orphan object, no lost content).
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "021-policy-crash: the engine needs a mount"
	exit 0
fi

N=300
write_config "rules = $T/rules"
mount_strata
mkdir "$M/d"
for i in $(seq 1 $N); do
	head -c $((100000 + i * 997)) /dev/urandom > "$M/d/f$i"
done
(cd "$M/d" && sha256sum f*) > "$T/sums"
sync

log "moves start; the mount is killed in the middle"
cat > "$T/rules" <<'RULES'
interval 1s
all: migrate "/d/**" from nvme to capacity
RULES
for _ in $(seq 1 200); do
	moved=$(find "$T/tiers/capacity" -type f | wc -l)
	[ "$moved" -gt 5 ] && break
	sleep 0.02
done
kill9_strata
left=$(find "$T/tiers/nvme" -type f | wc -l)
log "killed with $left objects still on nvme"
[ "$left" -gt 0 ] || fail "every move finished before the kill: no crash tested"

log "remount: every file reads back; the batch finishes"
mount_strata
(cd "$M/d" && sha256sum -c --quiet "$T/sums") ||
	fail "files differ after the crash"
# Every file ends on capacity alone. A kill between a drop's durable
# commit and the removal of its object leaves that object behind as an
# orphan (invariant 3 allows it; fsck below must report and reclaim it).
on_capacity() {
	getfattr -R --absolute-names -n user.strata.tiers "$M/d" 2>/dev/null |
		grep -cx 'user.strata.tiers="capacity"'
}
for _ in $(seq 1 600); do
	[ "$(on_capacity)" = "$N" ] && break
	sleep 0.1
done
[ "$(on_capacity)" = "$N" ] ||
	fail "moves did not finish after the remount (a job was lost): $(on_capacity) of $N on capacity"
sleep 1
orphans=$(find "$T/tiers/nvme" -type f | wc -l)
log "$orphans objects left on nvme by the kill, for fsck"
(cd "$M/d" && sha256sum -c --quiet "$T/sums") ||
	fail "files differ after the moves"
for i in 1 $N; do
	[ "$(getfattr --only-values -n user.strata.tiers "$M/d/f$i")" = capacity ] ||
		fail "f$i is not on capacity"
done
umount_strata

log "fsck: repair what the crash left, then nothing more"
"$STRATA_BIN" fsck --repair -c "$T/strata.conf" > "$T/fsck1" ||
	{ cat "$T/fsck1"; fail "fsck --repair failed"; }
[ "$(grep -c "^orphan object '.*' on tier 'nvme' .*: removed$" "$T/fsck1")" = "$orphans" ] ||
	{ cat "$T/fsck1"; fail "fsck did not reclaim exactly the $orphans objects left on nvme"; }
[ "$(find "$T/tiers/nvme" -type f | wc -l)" = 0 ] ||
	fail "objects are left on nvme after fsck --repair"
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *" 0 problems"* ]] || fail "fsck after repair said: $out"
echo "021-policy-crash: ok"
