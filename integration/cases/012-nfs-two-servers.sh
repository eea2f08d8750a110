#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 012-nfs-two-servers: two NFS-Ganesha servers (the ctest fixture's two, in
# STRATA_TEST_NFS_URL and STRATA_TEST_NFS_URL2) serve as two tiers of one
# mount at once. With placement = nfsa, files land on server A only; the
# same catalog remounted with placement = nfsb puts new files on server B
# only, while the files on A still read back. Then random I/O runs on both
# servers at the same time (randio.py on a new file on B, in-place random
# rewrites of a file on A) and readers hash both sets in parallel. Every
# file's bytes must be on exactly the server it was placed on, with the
# right content, before and after a remount.

. "$(dirname "$0")/../lib.sh"

nfs_server STRATA_TEST_NFS_URL "$T/nfsa" 20500
URLA=$(nfs_url "$NFS_URL" "012-$$")
nfs_server STRATA_TEST_NFS_URL2 "$T/nfsb" 20502
URLB=$(nfs_url "$NFS_URL" "012-$$")
[ "$URLA" != "$URLB" ] || fail "both NFS URLs are the same: $URLA"
EXPA=$(nfs_dir "$URLA")
EXPB=$(nfs_dir "$URLB")
mkdir -p "$EXPA" "$EXPB"

# config TIER: the namespace with placement on TIER.
config() {
	cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $T/catalog.db
site = test
placement = $1
entry_timeout = 1
attr_timeout = 1

[tier nvme]
url = file://$T/tiers/nvme

[tier nfsa]
url = $URLA

[tier nfsb]
url = $URLB
CONF
}

# export_sums DIR: sorted sha256 of every object under DIR.
export_sums() {
	(cd "$1" && find . -type f -print0 | xargs -0 -r sha256sum) |
		cut -d' ' -f1 | LC_ALL=C sort
}

# where SET WANT OTHER: every non-empty file of $T/ref/SET has its bytes on
# export WANT and not on export OTHER.
where() {
	local set=$1 want=$2 other=$3 f sum

	[ "$STRATA_TEST_DIRECT" = 1 ] && return 0
	export_sums "$want" > "$T/want.objs"
	export_sums "$other" > "$T/other.objs"
	for f in "$T/ref/$set"/*; do
		[ -s "$f" ] || continue
		sum=$(sha256sum < "$f" | cut -d' ' -f1)
		grep -qx "$sum" "$T/want.objs" ||
			fail "$set/${f##*/}: no object with its bytes on $want"
		if grep -qx "$sum" "$T/other.objs"; then
			fail "$set/${f##*/}: its bytes are on $other too"
		fi
	done
}

# check SET: the mount's SET matches the reference.
check() {
	diff -r "$T/ref/$1" "$M/$1" >&2 || fail "$1 differs from the reference"
}

# fill SET SEED: random files and a randio.py file in SET.
fill() {
	local set=$1 seed=$2 i

	mkdir -p "$M/$set" "$T/ref/$set"
	for i in 1 2 3 4 5; do
		head -c $((i * i * 50000 + seed)) /dev/urandom > "$T/ref/$set/f$i"
		cp "$T/ref/$set/f$i" "$M/$set/f$i"
	done
	python3 "$STRATA_SRC/integration/randio.py" --seed "$seed" --ops 2000 \
		--max-size $((2 * 1024 * 1024)) "$M/$set/rand" "$T/ref/$set/rand" \
		> /dev/null || fail "randio on $set/rand (see above)"
}

log "placement = nfsa: files land on server A"
config nfsa
mount_strata
fill a 21
check a
where a "$EXPA" "$EXPB"
umount_strata_or_kill

log "same catalog, placement = nfsb: new files land on server B"
config nfsb
mount_strata
check a
fill b 22
check b
where a "$EXPA" "$EXPB"
where b "$EXPB" "$EXPA"

log "random I/O on both servers at once"
python3 "$STRATA_SRC/integration/randio.py" --seed 23 --ops 3000 \
	--max-size $((2 * 1024 * 1024)) "$M/b/both" "$T/ref/b/both" \
	> /dev/null &
rb=$!
python3 - "$M/a/rand" "$T/ref/a/rand" <<'PY' || fail "in-place rewrites of a/rand"
import os, random, sys
rng = random.Random(24)
fds = [os.open(p, os.O_RDWR) for p in sys.argv[1:]]
size = os.fstat(fds[1]).st_size
for i in range(1500):
	off, n = rng.randint(0, size + 8192), rng.randint(1, 65536)
	if rng.random() < 0.7:
		data = rng.randbytes(n)
		for fd in fds:
			assert os.pwrite(fd, data, off) == n
		size = max(size, off + n)
	else:
		got, want = os.pread(fds[0], n, off), os.pread(fds[1], n, off)
		if got != want:
			sys.exit(f"a/rand: read of {n} at {off} differs (op {i})")
	if i % 200 == 0:
		os.fsync(fds[0])
for fd in fds:
	os.fsync(fd)
	os.close(fd)
PY
wait "$rb" || fail "randio on b/both (see above)"
(cd "$M/a" && sha256sum ./*) > "$T/a.sums" &
ha=$!
(cd "$M/b" && sha256sum ./*) > "$T/b.sums" &
hb=$!
wait "$ha" || fail "reading set a"
wait "$hb" || fail "reading set b"
(cd "$T/ref/a" && sha256sum ./*) | diff - "$T/a.sums" >&2 ||
	fail "parallel read of set a differs"
(cd "$T/ref/b" && sha256sum ./*) | diff - "$T/b.sums" >&2 ||
	fail "parallel read of set b differs"
where a "$EXPA" "$EXPB"
where b "$EXPB" "$EXPA"

log "remount with placement = nfsa, compare both sets"
umount_strata_or_kill
config nfsa
mount_strata
check a
check b
echo new > "$M/a/after"
echo new > "$T/ref/a/after"
where a "$EXPA" "$EXPB"
where b "$EXPB" "$EXPA"
umount_strata_or_kill
echo "ok 012-nfs-two-servers"
