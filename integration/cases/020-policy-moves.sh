#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 020-policy-moves: the policy engine on a real mount over two local tiers.
# Each rule kind moves exactly the files it should and no others (placement
# read from user.strata.tiers); moves keep content, size and mtime; reads
# during moves never fail; a file open for writing is not moved and its
# writes win; watermarks converge; a cache-on-read replica is made and
# eviction drops it again; a rule change and a rename re-place files; a bad
# rules file keeps the old rules, and refuses a mount; `strata rules
# explain` and `plan` move nothing.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "020-policy-moves: the engine needs a mount"
	exit 0
fi

# tiers FILE: where the file's valid replicas are ("nvme", "capacity,nvme").
tiers() {
	getfattr --only-values -n user.strata.tiers "$1" 2>/dev/null |
		tr ',' '\n' | sort | paste -sd, -
}

# wait_tiers FILE WANT: wait up to 20 s for the file's tiers to be WANT.
wait_tiers() {
	local got

	for _ in $(seq 1 200); do
		got=$(tiers "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "'$1' is on '$got', want '$2'"
}

# stays FILE WANT: the file is on WANT now and still after two passes.
stays() {
	[ "$(tiers "$1")" = "$2" ] || fail "'$1' is on '$(tiers "$1")', want '$2'"
	sleep 2.5
	[ "$(tiers "$1")" = "$2" ] ||
		fail "'$1' moved to '$(tiers "$1")', want it kept on '$2'"
}

cat > "$T/rules" <<'RULES'
interval 1s
ckpt:  place "/ckpt/**" on capacity
big:   migrate "/data/**" from nvme to capacity when size >= 1MiB
rep:   replicate "/rep/**" to capacity
cold:  cache "/cold/**" on nvme when read
RULES
write_config "rules = $T/rules"
sed -i '/^url = file:\/\/.*nvme$/a capacity = 8MiB' "$T/strata.conf"
mount_strata
mkdir "$M/ckpt" "$M/data" "$M/rep" "$M/cold" "$M/other"

log "place: new files land where the first matching place rule says"
echo ckpt > "$M/ckpt/a"
echo other > "$M/other/a"
wait_tiers "$M/ckpt/a" capacity
stays "$M/other/a" nvme

log "migrate: files of 1 MiB and more leave nvme, smaller ones stay"
head -c 3M /dev/urandom > "$M/data/big"
head -c 1000 /dev/urandom > "$M/data/small"
touch -d '2020-01-02 03:04:05.123456789' "$M/data/big"
sum=$(sha256sum < "$M/data/big")
stat_before=$(stat -c '%s %Y %y' "$M/data/big")
# A reader runs through the move: every read must give the same bytes.
( for _ in $(seq 1 60); do
	[ "$(sha256sum < "$M/data/big")" = "$sum" ] || exit 1
	sleep 0.05
  done ) &
reader=$!
wait_tiers "$M/data/big" capacity
wait "$reader" || fail "a read during the move failed or gave other bytes"
stays "$M/data/small" nvme
[ "$(sha256sum < "$M/data/big")" = "$sum" ] || fail "moved content differs"
[ "$(stat -c '%s %Y %y' "$M/data/big")" = "$stat_before" ] ||
	fail "size or mtime changed by the move: $(stat -c '%s %Y %y' "$M/data/big")"
[ -z "$(find "$T/tiers/nvme" -type f -size 3072k)" ] ||
	fail "the source object of the move is still on nvme"

log "replicate: an extra copy, the first one kept"
echo rep > "$M/rep/r"
wait_tiers "$M/rep/r" capacity,nvme

log "a file open for writing is not moved, and its writes win"
head -c 2M /dev/zero > "$T/two"
exec 7<> "$M/data/growing"
cat "$T/two" >&7
# Recorded while still open (an fsync; cat's close flushed it too), so the
# rule has a replica it could move.
python3 -c 'import os; os.fsync(7)'
[ "$(tiers "$M/data/growing")" = nvme ] ||
	fail "an fsync'd file open for writing is on '$(tiers "$M/data/growing")'"
sleep 2.5
[ "$(tiers "$M/data/growing")" = nvme ] ||
	fail "a file open for writing moved to '$(tiers "$M/data/growing")'"
printf 'tail' >&7
exec 7>&-
printf 'tail' >> "$T/two"
wait_tiers "$M/data/growing" capacity
cmp "$M/data/growing" "$T/two" || fail "the writer's bytes were lost by a move"

log "cache on read: a read of a far file copies it near"
cat >> "$T/rules" <<'RULES'
far:   place "/cold/**" on capacity
RULES
sleep 1.5
head -c 100K /dev/urandom > "$M/cold/c"
wait_tiers "$M/cold/c" capacity
cat "$M/cold/c" > /dev/null
wait_tiers "$M/cold/c" capacity,nvme

log "watermarks: nvme over 80% of 8 MiB drains below 40%, coldest first"
for i in 1 2 3 4 5 6 7 8; do
	head -c 900K /dev/urandom > "$M/other/w$i"
	touch -a -d "2021-01-0$i" "$M/other/w$i"
done
cat >> "$T/rules" <<'RULES'
drain: evict nvme to capacity when used > 80% until used < 40% by atime
RULES
used=0
for _ in $(seq 1 200); do
	used=$(du -sb --apparent-size "$T/tiers/nvme" | cut -f1)
	[ "$used" -lt $((8 * 1048576 * 40 / 100)) ] && break
	sleep 0.1
done
[ "$used" -lt $((8 * 1048576 * 40 / 100)) ] ||
	fail "nvme holds $used bytes, want under 40% of 8 MiB"
# The oldest reads went first; the newest stayed.
[ "$(tiers "$M/other/w1")" = capacity ] || fail "w1 (coldest) stayed on nvme"
[ "$(tiers "$M/other/w8")" = nvme ] || fail "w8 (warmest) left nvme"
# The cached copy was an extra replica: eviction may drop just that.
c=$(tiers "$M/cold/c")
[ "$c" = capacity ] || [ "$c" = capacity,nvme ] ||
	fail "the cached file lost its home copy: '$c'"

log "a rule change re-places files the old placement put"
sed -i 's|^ckpt:  place "/ckpt/\*\*" on capacity|ckpt:  place "/ckpt/**" on nvme|' \
	"$T/rules"
wait_tiers "$M/ckpt/a" nvme
stays "$M/other/a" nvme

log "a rename re-places a file"
echo moved > "$M/other/renamed"
mkdir "$M/cold/sub"
mv "$M/other/renamed" "$M/cold/sub/renamed"
wait_tiers "$M/cold/sub/renamed" capacity

log "a bad rules file keeps the rules in force, naming the line"
cp "$T/rules" "$T/rules.good"
echo 'broken: migrate "/x/**" to nowhere' >> "$T/rules"
sleep 2
grep -q "rules:[0-9]*:[0-9]*: .*nowhere.*the rules in force stay" \
	"$T/mount.log" || fail "no message naming the bad line"
echo big2 > "$M/ckpt/b"
wait_tiers "$M/ckpt/b" nvme

log "rules explain and plan move nothing"
cp "$T/rules.good" "$T/rules"
out=$("$STRATA_BIN" rules explain -c "$T/strata.conf" "$M/data/small") ||
	fail "rules explain failed: $out"
[[ "$out" == *"rule 'big' (line 3): size 1000 B >= 1 MiB [no]"* ]] ||
	fail "explain said: $out"
[[ "$out" == *"nothing to do"* ]] || fail "explain said: $out"
echo 'all: migrate "/other/**" to capacity' > "$T/other.rules"
before=$(find "$T/tiers" -type f | sort)
out=$("$STRATA_BIN" rules plan -c "$T/strata.conf" -r "$T/other.rules") ||
	fail "rules plan failed: $out"
[[ "$out" =~ all\ +move\ +[0-9]+ ]] || fail "plan said: $out"
[ "$(find "$T/tiers" -type f | sort)" = "$before" ] ||
	fail "rules plan moved something"
out=$("$STRATA_BIN" rules explain -c "$T/strata.conf" /nope 2>&1) &&
	fail "explain of a missing file succeeded"
[[ "$out" == *"'/nope': no such regular file"* ]] || fail "explain said: $out"

umount_strata
log "fsck: no orphan, nothing lost"
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *" 0 problems"* ]] || fail "fsck said: $out"
log "a bad rules file at mount time refuses the mount, naming the line"
echo 'broken: migrate "/x/**" to nowhere' > "$T/rules"
rc=0
out=$("$STRATA_BIN" mount -f -c "$T/strata.conf" "$M" 2>&1) || rc=$?
[ "$rc" = 1 ] || fail "a mount with a bad rules file exited $rc"
[[ "$out" == *"rules:1:"*"nowhere"* ]] || fail "the refusal said: $out"
is_mounted "$M" && fail "a mount with a bad rules file is mounted"
echo "020-policy-moves: ok"
