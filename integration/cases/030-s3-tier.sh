#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 030-s3-tier: files placed on an S3 tier (a real Ceph radosgw, the ctest
# fixture `s3`) on a mount with a local tier. Files of 0, 1, 5 MiB - 1,
# 5 MiB, 5 MiB + 1 and 100 MiB (parts of 5 MiB, so single PUTs and
# multipart uploads both) read back identical by sha256, on the mount that
# wrote them and, cold, after a remount (ranged GETs); their objects are in
# the bucket under keys named by file id with the files' exact bytes, and
# nothing stays on the local tier. fsync returns with the object in the
# bucket. 2,000 random-offset reads match the reference. Renaming the
# 100 MiB file and its directory is instant and moves no object. Writing
# into the middle of an S3-resident file works through copy-up, and the
# new content goes back to the bucket at close. O_TRUNC replaces a file
# without copying it up. strata fsck lists the bucket, finds an orphan
# object and removes it; unlinking removes every object.

. "$(dirname "$0")/../lib.sh"

[ "$STRATA_TEST_DIRECT" = 1 ] && exit 0 # nothing here is plain POSIX
s3_server
PFX=030-$$
URL=$(s3_url "$PFX" "partsize=5&timeout=10")
write_s3_config "$URL"
# debug=vfs: the log says when a file is copied up.
mount_strata -o debug=vfs

MIB=$((1024 * 1024))
mkdir "$M/d" "$T/ref"
: > "$T/ref/s0"
printf x > "$T/ref/s1"
head -c $((5 * MIB - 1)) /dev/urandom > "$T/ref/s5m-1"
head -c $((5 * MIB)) /dev/urandom > "$T/ref/s5m"
head -c $((5 * MIB + 1)) /dev/urandom > "$T/ref/s5m+1"
head -c $((100 * MIB)) /dev/urandom > "$T/ref/big"

log "copying 0, 1, 5 MiB - 1, 5 MiB, 5 MiB + 1 and 100 MiB in"
for f in s0 s1 s5m-1 s5m s5m+1 big; do
	cp "$T/ref/$f" "$M/d/$f" || fail "cp $f onto the S3 tier"
done

sums() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 -r sha256sum)
}
check_sums() {
	sums "$T/ref" > "$T/want.sums"
	sums "$M/d" > "$T/got.sums"
	diff "$T/want.sums" "$T/got.sums" >&2 || fail "$1: content differs"
}
check_sums "after writing"

# objects_check: every non-empty file is one object in the bucket with its
# exact bytes, under a key like PFX/hhh/mmm/<16 hex>; the local tier holds
# no object.
objects_check() {
	local keys n f ino key

	keys=$(s3_keys "$PFX")
	echo "$keys" | grep -Ev "^$PFX/[0-9a-f]{3}/[0-9a-f]{3}/[0-9a-f]{16}\$" |
		grep . && fail "objects not named by file id: see above"
	n=$(echo "$keys" | grep -c . || true)
	[ "$n" = "$(find "$T/ref" -type f -size +0 | wc -l)" ] ||
		fail "$n objects in the bucket: $keys"
	for f in $(cd "$T/ref" && find . -type f -size +0 | sed 's|^\./||'); do
		ino=$(stat -c %i "$M/d/$f")
		key=$(printf '%s/%03x/%03x/%016x' "$PFX" \
			$(((ino >> 24) & 4095)) $(((ino >> 12) & 4095)) "$ino")
		s3 -sf "/strata/$key" -o "$T/obj" || fail "no object $key for $f"
		cmp "$T/obj" "$T/ref/$f" || fail "object $key differs from $f"
	done
	[ -z "$(find "$T/tiers/nvme" -type f)" ] ||
		fail "files left on the local tier: $(find "$T/tiers/nvme" -type f)"
}
objects_check

log "remount: cold reads through ranged GETs"
umount_strata
mount_strata -o debug=vfs
check_sums "after a remount"

log "fsync returns with the object in the bucket"
head -c $((6 * MIB + 3)) /dev/urandom > "$T/ref/synced"
python3 - "$M/d/synced" "$T/ref/synced" "$T/obj" "$RADOSGW" "$S3_DIR" \
	"$PFX" <<'PY' || fail "fsync did not leave the whole object in the bucket"
import os, subprocess, sys
path, ref, out, rgw, s3dir, pfx = sys.argv[1:]
data = open(ref, "rb").read()
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, data)
os.fsync(fd)
ino = os.fstat(fd).st_ino
key = "%s/%03x/%03x/%016x" % (pfx, (ino >> 24) & 4095, (ino >> 12) & 4095, ino)
# Still open: the object must be there already, whole.
subprocess.run([rgw, "curl", s3dir, "-sf", "/strata/" + key, "-o", out],
               check=True)
if open(out, "rb").read() != data:
    sys.exit("the object after fsync differs")
os.close(fd)
PY
objects_check

log "2,000 random-offset reads of the 100 MiB file"
python3 - "$M/d/big" "$T/ref/big" <<'PY' || fail "random reads differ"
import os, random, sys
rnd = random.Random(30)
a = os.open(sys.argv[1], os.O_RDONLY)
b = os.open(sys.argv[2], os.O_RDONLY)
size = os.fstat(b).st_size
for i in range(2000):
    off = rnd.randrange(0, size + 4096)
    n = rnd.choice([1, 17, 4096, 65536, 131072, 1000000])
    if os.pread(a, n, off) != os.pread(b, n, off):
        sys.exit("read of %d at %d differs" % (n, off))
PY

log "renaming a 100 MiB S3 file and its directory is instant"
before=$(s3_keys "$PFX" | LC_ALL=C sort)
t0=$(date +%s%N)
mv "$M/d/big" "$M/d/big2"
mkdir "$M/e"
mv "$M/d" "$M/e/d2"
t1=$(date +%s%N)
mv "$T/ref/big" "$T/ref/big2"
[ $(((t1 - t0) / 1000000)) -lt 1000 ] ||
	fail "renames took $(((t1 - t0) / 1000000)) ms"
[ "$(s3_keys "$PFX" | LC_ALL=C sort)" = "$before" ] ||
	fail "a rename changed the objects in the bucket"
mv "$M/e/d2" "$M/d"
cmp "$M/d/big2" "$T/ref/big2" || fail "content after rename"

log "writing into the middle of an S3 file: copy-up"
printf 'in the middle' > "$T/patch"
for f in big2 s5m+1; do
	dd if="$T/patch" of="$M/d/$f" bs=1 seek=3000000 conv=notrunc \
		status=none || fail "dd into $f"
	dd if="$T/patch" of="$T/ref/$f" bs=1 seek=3000000 conv=notrunc \
		status=none
done
check_sums "after writing into the middle"
[ "$(grep -c 'copied up from tier' "$T/mount.log")" = 2 ] ||
	fail "expected 2 copy-ups: $(grep 'copied up' "$T/mount.log")"
# Back home once closed (release runs after close(2) returns).
for _ in $(seq 1 100); do
	[ -z "$(find "$T/tiers/nvme" -type f)" ] && break
	sleep 0.1
done
objects_check

log "O_TRUNC replaces an S3 file without a copy-up"
head -c 3333 /dev/urandom > "$T/ref/s5m"
cat "$T/ref/s5m" > "$M/d/s5m"
check_sums "after O_TRUNC"
[ "$(grep -c 'copied up from tier' "$T/mount.log")" = 2 ] ||
	fail "O_TRUNC copied the file up"
umount_strata
mount_strata -o debug=vfs
check_sums "after the last remount"
for _ in $(seq 1 100); do
	[ -z "$(find "$T/tiers/nvme" -type f)" ] && break
	sleep 0.1
done
objects_check
umount_strata

log "fsck lists the bucket: clean, then an orphan object found and removed"
n=$(find "$T/ref" -type f -size +0 | wc -l)
out=$("$STRATA_BIN" fsck -c "$T/strata.conf") || fail "fsck: $out"
[[ "$out" == *"$n objects, $n replicas checked: 0 problems"* ]] ||
	fail "clean fsck said: $out"
printf 'stray' > "$T/stray"
s3 -sf -T "$T/stray" "/strata/$PFX/ff/ff/00000000deadbeef" ||
	fail "cannot put a stray object"
out=$("$STRATA_BIN" fsck --repair -c "$T/strata.conf") || true
[[ "$out" == *"orphan object 'ff/ff/00000000deadbeef' on tier 's3' (5 bytes"*": removed"* ]] ||
	fail "the orphan was not removed: $out"
s3 -sf -o /dev/null "/strata/$PFX/ff/ff/00000000deadbeef" &&
	fail "the orphan is still in the bucket"
mount_strata -o debug=vfs
log "unlinking removes the objects from the bucket"
rm -rf "$M/d"
umount_strata
[ -z "$(s3_keys "$PFX")" ] || fail "objects left: $(s3_keys "$PFX")"
log "ok"
