#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 032-s3-policy: the policy engine moves files to and from an S3 tier (a
# real Ceph radosgw, the ctest fixture `s3`): a replicate rule keeps a
# second copy in the bucket, a migrate rule moves files off the local tier
# into it (multipart, verified by reading the object back), a cache rule
# brings a file that lives in the bucket near when it is read. Every file
# reads back identical, cold; strata status shows the bucket's size as
# unknown; strata fsck finds nothing wrong.
. "$(dirname "$0")/../lib.sh"

[ "$STRATA_TEST_DIRECT" = 1 ] && exit 0 # nothing here is plain POSIX
s3_server
PFX=032-$$
URL=$(s3_url "$PFX" "partsize=5&timeout=10")
write_s3_config "$URL" nvme "rules = $T/rules"
cat > "$T/rules" <<'RULES'
interval 1s
dr:   replicate "/ckpt/**" to s3
cold: migrate "/old/**" from nvme to s3
far:  place "/data/**" on s3
near: cache "/data/**" on nvme when read
RULES
mount_strata

# wait_tiers FILE WANT: up to 60 s for the file's tiers to be WANT.
wait_tiers() {
	local got

	for _ in $(seq 1 600); do
		got=$(getfattr --absolute-names --only-values \
			-n user.strata.tiers "$1" |
			tr ',' '\n' | sort | paste -sd, -)
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "'$1' is on '$got', want '$2'"
}

mkdir "$M/ckpt" "$M/old" "$M/data" "$T/ref"
head -c 2M /dev/urandom > "$T/ref/a"
head -c 12M /dev/urandom > "$T/ref/b"
head -c 3M /dev/urandom > "$T/ref/c"
cp "$T/ref/a" "$M/ckpt/a"
cp "$T/ref/b" "$M/old/b"
cp "$T/ref/c" "$M/data/c"

log "replicate: a second copy in the bucket"
wait_tiers "$M/ckpt/a" nvme,s3
log "migrate: off nvme into the bucket (a multipart upload)"
wait_tiers "$M/old/b" s3
log "place: a new file under /data lands in the bucket"
wait_tiers "$M/data/c" s3
[ "$(s3_keys "$PFX" | wc -l)" = 3 ] ||
	fail "the bucket holds $(s3_keys "$PFX" | wc -l) objects, want 3"
[ "$(find "$T/tiers/nvme" -type f | wc -l)" = 1 ] ||
	fail "nvme holds $(find "$T/tiers/nvme" -type f | wc -l) objects, want 1"

log "every file reads back identical, cold"
echo 3 > /proc/sys/vm/drop_caches
for f in ckpt/a old/b data/c; do
	cmp "$M/$f" "$T/ref/$(basename "$f")" || fail "$f differs"
done

log "cache on read: the read brought /data/c near"
wait_tiers "$M/data/c" nvme,s3
echo 3 > /proc/sys/vm/drop_caches
cmp "$M/data/c" "$T/ref/c" || fail "data/c differs once cached"

log "status: a bucket's capacity and free space are unknown, not zero"
out=$("$STRATA_BIN" status "$M") || fail "strata status: $out"
echo "$out" | grep -Eq '^s3 +test +- +[0-9.]+ [KMG]?i?B +- +3 ' ||
	fail "status shows the bucket as: $out"
"$STRATA_BIN" status --json "$M" | grep -q '"free":null' ||
	fail "status --json gives the bucket a free space"

umount_strata
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *" 0 problems"* ]] || fail "fsck said: $out"
echo "032-s3-policy: ok"
