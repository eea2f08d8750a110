#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 008-unlinked-open: an open file outlives its last name. A file unlinked
# while open keeps working through its descriptor (reads, writes, truncate,
# fsync; fstat shows nlink 0) and its name is gone at once; a new file under
# the same name is a different file; a file open in two processes and
# unlinked by one stays shared by both; a file renamed over while open keeps
# its old content. Afterwards, across unmount and remount, the tiers hold no
# object beyond those of files still linked, and object names never come
# from file names.

. "$(dirname "$0")/../lib.sh"

# objects: number of files under the tier directories.
objects() {
	find "$T/tiers" -type f | wc -l
}

write_config
mount_strata

b0=$(objects)
log "files that stay linked"
for n in alpha beta gamma; do
	head -c 100000 /dev/urandom > "$M/keep-$n"
done
(cd "$M" && sha256sum keep-*) > "$T/keep.sums"
b1=$(objects)
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	[ "$b1" -ge $((b0 + 3)) ] ||
		fail "3 files with data added only $((b1 - b0)) objects under tiers/"
	hits=$(find "$T/tiers" -name 'keep-*' | wc -l)
	[ "$hits" = 0 ] || fail "tier objects are named after files ($hits)"
fi

log "unlinked while open"
python3 - "$M" <<'PY' || fail "unlinked-open checks"
import os, sys, time

m = sys.argv[1]
from itcheck import check, finish

# One process: unlink, then keep using the descriptor.
p = os.path.join(m, "victim")
data = os.urandom(300000)
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, data)
os.unlink(p)
check("victim" not in os.listdir(m), "name gone from the listing")
try:
	os.stat(p)
	check(False, "stat of the unlinked name fails")
except FileNotFoundError:
	check(True, "stat of the unlinked name gives ENOENT")
st = os.fstat(fd)
check(st.st_nlink == 0, f"fstat nlink is 0 (got {st.st_nlink})")
check(st.st_size == len(data), "fstat size")
check(os.pread(fd, len(data), 0) == data, "read back after unlink")
os.pwrite(fd, b"after unlink", 1000)
data = data[:1000] + b"after unlink" + data[1012:]
os.lseek(fd, 0, os.SEEK_END)
os.write(fd, b"tail")
data += b"tail"
check(os.pread(fd, len(data) + 10, 0) == data, "writes after unlink read back")
os.fsync(fd)
os.ftruncate(fd, 5000)
check(os.fstat(fd).st_size == 5000, "ftruncate after unlink")
check(os.pread(fd, 10000, 0) == data[:5000], "content after ftruncate")

# Same name, new file: must not share the old one's bytes.
fd2 = os.open(p, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.write(fd2, b"new file")
check(os.fstat(fd2).st_ino != st.st_ino, "new file under the name has a new inode")
check(os.pread(fd, 10000, 0) == data[:5000], "old file unchanged by the new one")
check(os.pread(fd2, 100, 0) == b"new file", "new file has its own content")
os.close(fd)
os.close(fd2)
with open(p, "rb") as f:
	check(f.read() == b"new file", "new file intact after the old one closed")
os.unlink(p)

# Two processes share a file; one unlinks it.
q = os.path.join(m, "shared")
with open(q, "wb") as f:
	f.write(b"0" * 4096)
r1, w1 = os.pipe()
r2, w2 = os.pipe()
pid = os.fork()
if pid == 0:
	cfd = os.open(q, os.O_RDWR)
	os.write(w1, b"o")			# opened
	os.read(r2, 1)				# parent unlinked
	ok = os.fstat(cfd).st_nlink == 0
	os.pwrite(cfd, b"child wrote", 100)
	ok = ok and os.pread(cfd, 6, 0) == b"parent"
	os.write(w1, b"w")
	os.read(r2, 1)
	os.close(cfd)
	os._exit(0 if ok else 1)
pfd = os.open(q, os.O_RDWR)
os.read(r1, 1)
os.unlink(q)
os.pwrite(pfd, b"parent", 0)
os.write(w2, b"u")
os.read(r1, 1)
check(os.pread(pfd, 11, 100) == b"child wrote", "parent sees the child's write")
os.close(pfd)					# child still holds it
os.write(w2, b"c")
_, status = os.waitpid(pid, 0)
check(os.waitstatus_to_exitcode(status) == 0,
      "child kept reading and writing the unlinked file")
check("shared" not in os.listdir(m), "shared name gone")

# Rename over an open file: the old file lives on through its descriptor.
a, b = os.path.join(m, "over-src"), os.path.join(m, "over-dst")
with open(a, "wb") as f:
	f.write(b"new content")
with open(b, "wb") as f:
	f.write(b"old content, longer")
fd = os.open(b, os.O_RDWR)
os.rename(a, b)
check(os.fstat(fd).st_nlink == 0, "replaced file has nlink 0")
check(os.pread(fd, 100, 0) == b"old content, longer", "replaced file readable")
os.pwrite(fd, b"OLD", 0)
with open(b, "rb") as f:
	check(f.read() == b"new content", "name shows the new file")
os.close(fd)
os.unlink(b)

# Hard links: unlinking one name of an open file orphans nothing.
h = os.path.join(m, "h1")
with open(h, "wb") as f:
	f.write(b"linked")
os.link(h, os.path.join(m, "h2"))
fd = os.open(h, os.O_RDONLY)
os.unlink(h)
check(os.fstat(fd).st_nlink == 1, "nlink 1 after unlinking one of two names")
os.close(fd)
with open(os.path.join(m, "h2"), "rb") as f:
	check(f.read() == b"linked", "the other name keeps the data")
os.unlink(os.path.join(m, "h2"))

# Many unlinked-open files at once.
fds = []
for i in range(50):
	x = os.path.join(m, f"many{i}")
	fd = os.open(x, os.O_RDWR | os.O_CREAT, 0o644)
	os.write(fd, bytes([i]) * 10000)
	os.unlink(x)
	fds.append(fd)
ok = all(os.pread(fd, 10000, 0) == bytes([i]) * 10000 for i, fd in enumerate(fds))
check(ok, "50 unlinked-open files keep their own data")
for fd in fds:
	os.close(fd)
names = sorted(os.listdir(m))
check(names == ["keep-alpha", "keep-beta", "keep-gamma"],
      f"only the kept files remain listed ({names})")
finish()
PY

log "unmount: leftover objects"
umount_strata
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	c=$(objects)
	[ "$c" = "$b1" ] || log "note: $c objects after unmount, $b1 before the unlinks"
fi
mount_strata
(cd "$M" && sha256sum --quiet -c "$T/keep.sums") ||
	fail "kept files changed across the remount"
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	# Reclaiming may be deferred to the next mount; allow it 10 s.
	for _ in $(seq 1 100); do
		c=$(objects)
		[ "$c" = "$b1" ] && break
		sleep 0.1
	done
	if [ "$c" != "$b1" ]; then
		find "$T/tiers" -type f -printf '%s %p\n' >&2
		fail "$c objects under tiers/ after remount, want $b1 (3 linked files)"
	fi
fi
[ "$(ls "$M" | wc -l)" = 3 ] || fail "listing after remount: $(ls "$M")"

umount_strata
echo "ok 008-unlinked-open"
