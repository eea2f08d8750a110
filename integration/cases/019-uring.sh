#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 019-uring: FUSE over io_uring (Linux 6.14+). Turns the fuse module's
# enable_uring parameter on for the case (and back to what it was at exit),
# mounts, checks from the log that requests go through the rings, and runs
# a real workload through them: the POSIX checks of posix_ops.py, a few
# thousand files created, written, stat'ed, listed, renamed, read back and
# unlinked with their contents checked, a 100 MiB file by sha256, and four
# processes writing at once. Then again after a remount, and with
# -o no_passthrough so that file data crosses the rings too (1 MiB writes
# and reads in ring entries). -o no_uring keeps the classic /dev/fuse loop.
# Skips (77) where the kernel has no FUSE over io_uring or it cannot be
# turned on.

. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "019-uring: checks a mount's transport, needs a mount"
	exit 0
fi

P=/sys/module/fuse/parameters/enable_uring
if [ ! -e "$P" ]; then
	echo "SKIP: $P is missing: this kernel ($(uname -r)) has no FUSE over io_uring" >&2
	exit 77
fi
OLD=$(cat "$P")
on_exit 'echo "$OLD" > "$P" 2>/dev/null'
if ! echo Y > "$P" 2>/dev/null; then
	echo "SKIP: cannot set $P (not root, or a read-only sysfs)" >&2
	exit 77
fi

# mount_u [-o OPTS]: mount_strata, noting where its log starts.
LOGN=0
mount_u() {
	LOGN=$(cat "$T/mount.log" 2>/dev/null | wc -l)
	mount_strata "$@"
	stat "$M" > /dev/null
}

# logged PATTERN: the last mount logged PATTERN (it logs the transport
# right after INIT, so give it a moment).
logged() {
	for _ in $(seq 1 50); do
		if tail -n "+$((LOGN + 1))" "$T/mount.log" | grep -q "$1"; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

uses_uring() {
	logged "FUSE over io_uring: [0-9]* queues x"
}

write_config
mount_u
uses_uring || fail "the mount does not use io_uring: $(grep io_uring "$T/mount.log")"

log "posix_ops.py through the rings"
python3 "$STRATA_SRC/integration/posix_ops.py" "$M" ||
	fail "POSIX checks failed (see the FAIL lines above)"

log "3000 files: create, write, stat, list, rename, read, unlink"
python3 - "$M/many" <<'PY' || fail "many files"
import hashlib, os, sys
d = sys.argv[1]
os.mkdir(d)
n = 3000

def body(i):
	return hashlib.sha256(str(i).encode()).digest() * (i % 257)

for i in range(n):
	with open(os.path.join(d, "f%d" % i), "wb") as f:
		f.write(body(i))
for i in range(n):
	st = os.stat(os.path.join(d, "f%d" % i))
	assert st.st_size == len(body(i)), (i, st.st_size)
names = set(os.listdir(d))
assert names == {"f%d" % i for i in range(n)}, "listing"
for i in range(0, n, 2):
	os.rename(os.path.join(d, "f%d" % i), os.path.join(d, "r%d" % i))
for i in range(n):
	p = os.path.join(d, ("r%d" if i % 2 == 0 else "f%d") % i)
	with open(p, "rb") as f:
		assert f.read() == body(i), "content of %s" % p
for i in range(0, n, 3):
	os.unlink(os.path.join(d, ("r%d" if i % 2 == 0 else "f%d") % i))
left = len(os.listdir(d))
assert left == n - len(range(0, n, 3)), left
print("ok: %d files left" % left)
PY

log "a 100 MiB file, by sha256"
head -c $((100 << 20)) /dev/urandom > "$T/big"
sha_big=$(sha256sum < "$T/big")
cp "$T/big" "$M/big"
[ "$(sha256sum < "$M/big")" = "$sha_big" ] || fail "big: sha256 differs"

log "4 processes writing at once"
python3 - "$M/par" <<'PY' || fail "parallel writers"
import os, sys
from multiprocessing import Process
d = sys.argv[1]
os.mkdir(d)

def work(w):
	for i in range(500):
		p = os.path.join(d, "w%d-%d" % (w, i))
		with open(p, "wb") as f:
			f.write(bytes([w]) * (1000 + i * 37))
	for i in range(500):
		with open(os.path.join(d, "w%d-%d" % (w, i)), "rb") as f:
			if f.read() != bytes([w]) * (1000 + i * 37):
				sys.exit(1)

ps = [Process(target=work, args=(w,)) for w in range(4)]
for p in ps:
	p.start()
for p in ps:
	p.join()
sys.exit(1 if any(p.exitcode for p in ps) else 0)
PY
umount_strata

# verify: what the workload left, whichever way requests come.
verify() {
	[ "$(sha256sum < "$M/big")" = "$sha_big" ] || fail "big: sha256 after remount ($1)"
	[ "$(ls "$M/many" | wc -l)" = 2000 ] || fail "many: listing after remount ($1)"
	[ "$(ls "$M/par" | wc -l)" = 2000 ] || fail "par: listing after remount ($1)"
	python3 - "$M/many" <<'PY' || fail "many: contents after remount ($1)"
import hashlib, os, sys
d = sys.argv[1]
for i in range(3000):
	if i % 3 == 0:
		continue
	p = os.path.join(d, ("r%d" if i % 2 == 0 else "f%d") % i)
	with open(p, "rb") as f:
		assert f.read() == hashlib.sha256(str(i).encode()).digest() * (i % 257), p
PY
}

log "remount: everything is there"
mount_u
uses_uring || fail "the remount does not use io_uring"
verify remount
umount_strata

log "-o no_passthrough: file data crosses the rings"
mount_u -o no_passthrough
uses_uring || fail "the no_passthrough mount does not use io_uring"
verify no_passthrough
head -c $((100 << 20)) /dev/urandom > "$T/big2"
cp "$T/big2" "$M/big2"
cmp "$T/big2" "$M/big2" || fail "big2: written through the rings, read back differs"
umount_strata
mount_u -o no_passthrough
cmp "$T/big2" "$M/big2" || fail "big2: differs after remount"
umount_strata

log "-o no_uring: the classic loop"
mount_u -o no_uring
logged "FUSE over io_uring: off (-o no_uring)" ||
	fail "no log line for -o no_uring"
uses_uring && fail "io_uring used with -o no_uring"
verify no_uring
umount_strata
echo "019-uring: ok"
