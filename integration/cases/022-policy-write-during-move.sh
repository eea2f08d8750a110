#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 022-policy-write-during-move: a write that lands while the mover copies
# a file wins. The copies' bandwidth is limited (bandwidth = 20MiB), so the
# copy of a 60 MiB file takes seconds; a write into the middle of the file
# while it runs makes that copy void (the log says the file changed during
# the copy), the job retries, and the file ends on the target tier holding
# the written bytes, with no object left behind on either tier.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "022-policy-write-during-move: the engine needs a mount"
	exit 0
fi

write_config "rules = $T/rules
bandwidth = 20MiB"
mount_strata -o debug=policy
mkdir "$M/big"
head -c 60M /dev/urandom > "$T/ref"
cp "$T/ref" "$M/big/f"
sync

log "the move starts; a write lands while it copies"
cat > "$T/rules" <<'RULES'
interval 1s
m: migrate "/big/**" from nvme to capacity
RULES
for _ in $(seq 1 200); do
	[ -n "$(find "$T/tiers/capacity" -type f -print -quit)" ] && break
	sleep 0.05
done
[ -n "$(find "$T/tiers/capacity" -type f -print -quit)" ] ||
	fail "the copy did not start"
printf 'written during the copy' |
	dd of="$M/big/f" bs=1 seek=$((30 << 20)) conv=notrunc status=none
printf 'written during the copy' |
	dd of="$T/ref" bs=1 seek=$((30 << 20)) conv=notrunc status=none

log "the copy is void, the move retried, the write kept"
for _ in $(seq 1 600); do
	[ "$(getfattr --only-values -n user.strata.tiers "$M/big/f")" = capacity ] &&
		break
	sleep 0.1
done
[ "$(getfattr --only-values -n user.strata.tiers "$M/big/f")" = capacity ] ||
	fail "the file did not end on capacity"
grep -q "changed during the copy" "$T/mount.log" ||
	fail "no copy was voided by the write (log: $(grep job "$T/mount.log"))"
cmp "$M/big/f" "$T/ref" || fail "the write was lost by the move"
echo 3 > /proc/sys/vm/drop_caches
cmp "$M/big/f" "$T/ref" || fail "the write is not on the target tier"
[ -z "$(find "$T/tiers/nvme" -type f)" ] ||
	fail "objects are left on nvme"
[ "$(find "$T/tiers/capacity" -type f | wc -l)" = 1 ] ||
	fail "more than one object on capacity"
umount_strata
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *" 0 problems"* ]] || fail "fsck said: $out"
echo "022-policy-write-during-move: ok"
