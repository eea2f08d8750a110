#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 033-s3-import: `strata import` adopts objects already under a prefix of
# an S3 tier (a real Ceph radosgw, the ctest fixture `s3`) in place: the
# files appear in the namespace with their sizes, read back identical, and
# the bucket is not written to (its listing, sizes and ETags unchanged);
# each replica keeps the object's key. A rule then moves the imported
# files like any other (here: to the local tier), and fsck is clean.
. "$(dirname "$0")/../lib.sh"

[ "$STRATA_TEST_DIRECT" = 1 ] && exit 0 # nothing here is plain POSIX
s3_server
PFX=033-$$
URL=$(s3_url "$PFX" "partsize=5&timeout=10")
write_s3_config "$URL" nvme "rules = $T/rules"
echo 'interval 1s' > "$T/rules"

# listing: the bucket's keys under the prefix with their sizes and ETags.
listing() {
	s3 -s "/strata?list-type=2&prefix=$PFX%2F" | python3 -c '
import re, sys
for c in re.findall(r"<Contents>(.*?)</Contents>", sys.stdin.read()):
    print(*(re.search("<%s>(.*?)</%s>" % (t, t), c).group(1)
            for t in ("Key", "ETag", "Size")))' | LC_ALL=C sort
}

log "a dataset already in the bucket"
mkdir -p "$T/ref/train" "$T/ref/val"
for i in $(seq 1 12); do
	d=$([ $((i % 3)) = 0 ] && echo val || echo train)
	head -c $((i * 50000)) /dev/urandom > "$T/ref/$d/s$i.bin"
	s3 -sf -T "$T/ref/$d/s$i.bin" "/strata/$PFX/datasets/set1/$d/s$i.bin" ||
		fail "cannot put s$i.bin in the bucket"
done
head -c $((6 << 20)) /dev/urandom > "$T/ref/big.bin"
s3 -sf -T "$T/ref/big.bin" "/strata/$PFX/datasets/set1/big.bin" ||
	fail "cannot put big.bin in the bucket"
before=$(listing)
[ "$(echo "$before" | wc -l)" = 13 ] || fail "the bucket lists: $before"

mount_strata
mkdir "$M/imported"
log "import: the files appear, the bucket is not written to"
"$STRATA_BIN" import datasets/set1 --tier s3 --into "$M/imported" \
	> "$T/out" 2> "$T/err" || { cat "$T/err" >&2; fail "import failed"; }
grep -q "^imported 13 files " "$T/out" || fail "import said: $(cat "$T/out")"
[ "$(listing)" = "$before" ] || fail "the import wrote to the bucket"
echo 3 > /proc/sys/vm/drop_caches
(cd "$T/ref" && find . -type f | sort) > "$T/names"
while read -r f; do
	cmp "$M/imported/$f" "$T/ref/$f" || fail "imported $f differs"
done < "$T/names"
[ "$(find "$M/imported" -type f | wc -l)" = 13 ] || fail "file count"
[ "$(getfattr --absolute-names --only-values -n user.strata.tiers \
	"$M/imported/big.bin")" = s3 ] || fail "big.bin is not on s3"
"$STRATA_BIN" where --json "$M/imported/val/s3.bin" > "$T/json"
python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
assert f["replicas"][0]["key"] == "datasets/set1/val/s3.bin", f
' "$T/json" || fail "where: $(cat "$T/json")"

log "a rule moves the imported files to the local tier"
echo 'near: migrate "/imported/**" from s3 to nvme' >> "$T/rules"
for _ in $(seq 1 600); do
	[ "$(getfattr --absolute-names --only-values -n user.strata.tiers \
		"$M/imported/big.bin")" = nvme ] && break
	sleep 0.1
done
[ "$(getfattr --absolute-names --only-values -n user.strata.tiers \
	"$M/imported/big.bin")" = nvme ] || fail "big.bin was not moved"
echo 3 > /proc/sys/vm/drop_caches
while read -r f; do
	cmp "$M/imported/$f" "$T/ref/$f" || fail "moved $f differs"
done < "$T/names"

umount_strata
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *" 0 problems"* ]] || fail "fsck said: $out"
echo "033-s3-import: ok"
