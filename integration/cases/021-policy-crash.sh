#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 021-policy-crash: kill -9 of the mount in the middle of a batch of moves,
# then a remount: every file reads back as written, no job is lost (the
# remount finishes the batch), and after `strata fsck --repair` a second
# fsck finds nothing (no orphan object, no lost content).
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
# on_nvme: how many files still have a replica on nvme, by the catalog.
on_nvme() {
	(cd "$M/d" && getfattr --absolute-names --only-values \
		-n user.strata.tiers f* 2>/dev/null | tr -d '\0' |
		grep -o nvme || true) | wc -l
}
for _ in $(seq 1 300); do
	[ "$(on_nvme)" = 0 ] && break
	sleep 0.2
done
[ "$(on_nvme)" = 0 ] ||
	fail "moves did not finish after the remount (a job was lost)"
(cd "$M/d" && sha256sum -c --quiet "$T/sums") ||
	fail "files differ after the moves"
for i in 1 $N; do
	[ "$(getfattr --only-values -n user.strata.tiers "$M/d/f$i")" = capacity ] ||
		fail "f$i is not on capacity"
done
umount_strata

log "fsck: repair what the crash left, then nothing more"
# A kill between a drop's commit and its object's removal leaves an
# orphan object on nvme: fsck --repair reclaims it.
"$STRATA_BIN" fsck --repair -c "$T/strata.conf" > "$T/fsck1" ||
	{ cat "$T/fsck1"; fail "fsck --repair failed"; }
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *" 0 problems"* ]] || fail "fsck after repair said: $out"
[ -z "$(find "$T/tiers/nvme" -type f)" ] ||
	fail "objects are left on nvme after fsck --repair"
echo "021-policy-crash: ok"
