#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 011-nfs-tier: files placed on an NFS tier (a real NFS-Ganesha server, the
# ctest fixture `nfs`, reached through libnfs inside the daemon) read, write,
# random-write and truncate correctly. integration/randio.py runs 10,000
# random operations with a fixed seed (pwrite at random offsets and lengths,
# holes, ftruncate both ways, read-compare, fsync, close and reopen) against
# a reference copy on local disk, twice over on two files at once; a set of
# plain files (empty, one byte, page sizes, 20 MiB) is copied in with cp and
# dd. Every sha256 must match before and after an unmount and remount, the
# objects must be on the NFS export under sharded key directories (named by
# file id, never by file name) with the files' exact bytes, nothing may land
# on the local tier, and an unlinked file's object must leave the export.

. "$(dirname "$0")/../lib.sh"

nfs_server STRATA_TEST_NFS_URL "$T/nfs" 20498
URL=$(nfs_url "$NFS_URL" "011-$$")
EXPORT=$(nfs_dir "$URL")
mkdir -p "$EXPORT"

write_nfs_config "$URL"
mount_strata

# sums: "sha256  name" of every file in $M/d, sorted.
sums() {
	(cd "$M/d" && find . -type f -print0 | LC_ALL=C sort -z |
		xargs -0 -r sha256sum)
}

mkdir "$M/d" "$T/ref"
log "randio: 10,000 random operations on each of two files, seeds 11 and 12"
python3 "$STRATA_SRC/integration/randio.py" --seed 11 --ops 10000 \
	"$M/d/rand1" "$T/ref/rand1" > "$T/rand1.sum" &
r1=$!
python3 "$STRATA_SRC/integration/randio.py" --seed 12 --ops 10000 \
	--max-size $((512 * 1024)) "$M/d/rand2" "$T/ref/rand2" > "$T/rand2.sum" ||
	fail "randio on rand2 (see above)"
wait "$r1" || fail "randio on rand1 (see above)"

log "copying plain files in"
: > "$T/ref/empty"
printf x > "$T/ref/one"
for n in 4095 4096 4097 65536 131073; do
	head -c "$n" /dev/urandom > "$T/ref/f$n"
done
head -c $((20 * 1024 * 1024 + 17)) /dev/urandom > "$T/ref/big"
for f in empty one f4095 f4096 f4097 f65536 f131073; do
	cp "$T/ref/$f" "$M/d/$f"
done
dd if="$T/ref/big" of="$M/d/big" bs=1M conv=fsync status=none ||
	fail "dd of 20 MiB onto the NFS tier"
head -c 3000 /dev/urandom > "$T/ref/victim"
cp "$T/ref/victim" "$M/d/victim"
# An append through a second open, and a rename: objects follow the file id.
head -c 777 /dev/urandom >> "$T/ref/f4096"
tail -c 777 "$T/ref/f4096" >> "$M/d/f4096"
mv "$M/d/f4097" "$M/d/renamed"
mv "$T/ref/f4097" "$T/ref/renamed"

(cd "$T/ref" && find . -type f -print0 | LC_ALL=C sort -z |
	xargs -0 -r sha256sum) > "$T/want.sums"
sums > "$T/got.sums"
diff "$T/want.sums" "$T/got.sums" >&2 ||
	fail "content on the mount differs from the reference"
for f in empty one f131073 big; do
	cmp "$T/ref/$f" "$M/d/$f" || fail "cmp $f"
done

# objects_check: every file has an object on the export with its exact
# bytes, keys look like hhh/mmm/<16 hex>, no object is named after a file,
# and the local tier holds no objects.
objects_check() {
	local keys bad

	[ "$STRATA_TEST_DIRECT" = 1 ] && return 0
	keys=$(cd "$EXPORT" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
	[ -n "$keys" ] || fail "no objects on the NFS export $EXPORT"
	bad=$(echo "$keys" | grep -Ev '^[0-9a-f]{3}/[0-9a-f]{3}/[0-9a-f]{16}$' ||
		true)
	[ -z "$bad" ] || fail "objects on the export with unexpected keys:" \
		"$(echo "$bad" | head -n 5)"
	if echo "$keys" | grep -E '(rand1|rand2|big|victim|renamed|f4096)' >&2; then
		fail "objects on the export are named after files"
	fi
	[ -z "$(find "$T/tiers/nvme" -type f)" ] ||
		fail "objects on the local tier: placement = nfs was ignored"
	(cd "$EXPORT" && find . -type f -print0 | xargs -0 -r sha256sum) |
		cut -d' ' -f1 | LC_ALL=C sort > "$T/export.sums"
	while read -r sum name; do
		[ "$name" = ./empty ] && continue # may have no object at all
		grep -qx "$sum" "$T/export.sums" ||
			fail "no object on the export holds the bytes of $name"
	done < "$T/want.sums"
	echo "$keys" | wc -l
}

log "objects on the export"
before=$(objects_check)
log "$before objects under $EXPORT"

log "unlink: the object leaves the export"
vsum=$(sha256sum < "$T/ref/victim" | cut -d' ' -f1)
rm "$M/d/victim" "$T/ref/victim"
sed -i '/ \.\/victim$/d' "$T/want.sums"
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	for _ in $(seq 1 100); do
		(cd "$EXPORT" && find . -type f -print0 | xargs -0 -r sha256sum) |
			grep -q "^$vsum " || break
		sleep 0.1
	done
	(cd "$EXPORT" && find . -type f -print0 | xargs -0 -r sha256sum) |
		grep "^$vsum " >&2 &&
		fail "the unlinked file's object is still on the export after 10 s"
fi

log "unmount, remount, compare again"
umount_strata_or_kill
mount_strata
sums > "$T/got2.sums"
diff "$T/want.sums" "$T/got2.sums" >&2 ||
	fail "content on the mount changed across a remount"
[ "$(cat "$T/rand1.sum")" = "$(sha256sum < "$M/d/rand1" | cut -d' ' -f1)" ] ||
	fail "rand1 differs from what randio.py reported after a remount"
after=$(objects_check)

log "random writes again after the remount, on the existing objects"
python3 - "$M/d/rand1" "$T/ref/rand1" <<'PY' || fail "rewrite after remount"
import os, random, sys
rng = random.Random(99)
fds = [os.open(p, os.O_RDWR) for p in sys.argv[1:]]
size = os.fstat(fds[1]).st_size
for _ in range(300):
	off, data = rng.randint(0, size), rng.randbytes(rng.randint(1, 70000))
	for fd in fds:
		assert os.pwrite(fd, data, off) == len(data)
os.ftruncate(fds[0], size // 3)
os.ftruncate(fds[1], size // 3)
for fd in fds:
	os.fsync(fd)
	os.close(fd)
PY
cmp "$T/ref/rand1" "$M/d/rand1" || fail "rand1 after rewrites"
umount_strata_or_kill
mount_strata
cmp "$T/ref/rand1" "$M/d/rand1" || fail "rand1 after rewrites and a remount"
umount_strata_or_kill
echo "ok 011-nfs-tier${after:+ ($after objects on the export)}"
