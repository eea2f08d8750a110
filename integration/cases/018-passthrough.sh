#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 018-passthrough: files on a local tier are passed through to the kernel
# (FUSE passthrough, Linux 6.9+), which then reads and writes the backing
# object itself. Checks that the kernel really reads the backing object (a
# change made behind Strata's back shows through a descriptor that had read
# the old bytes), and that what Strata no longer sees still reaches the
# catalog: sizes and mtimes of files being written show at once and are
# committed at close, a new content version is recorded, an mtime set while
# the file is open wins over the writes' one, mmap writes persist, an empty
# file created and closed leaves no object, and a file open without
# passthrough (no content yet) can be opened for writing beside it.
# -o no_passthrough turns it off.

. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "018-passthrough: checks a mount's passthrough, needs a mount"
	exit 0
fi

S=$STRATA_BIN

write_config
mount_strata

if ! grep -q "FUSE passthrough: local-tier file data bypasses" "$T/mount.log"; then
	# The kernel lacks CONFIG_FUSE_PASSTHROUGH (before 6.9): the
	# semantic checks below still hold for the daemon's own data path.
	echo "note: this kernel ($(uname -r)) offers no FUSE passthrough;" \
		"checking the semantics only"
	PT=0
else
	PT=1
fi

# obj FILE: the backing object of FILE on the nvme tier.
obj() {
	local key

	key=$("$S" where --json "$1" | python3 -c \
		'import json, sys; print(json.load(sys.stdin)["files"][0]["replicas"][0]["key"])')
	echo "$T/tiers/nvme/$key"
}

# reads_backing FILE: "new" if a read through an open descriptor sees a
# change made to the backing object behind Strata's back, "old" if it sees
# what it read before.
reads_backing() {
	python3 - "$1" "$(obj "$1")" <<'PY'
import os, sys
f, o = sys.argv[1], sys.argv[2]
fd = os.open(f, os.O_RDONLY)
first = os.pread(fd, 4096, 0)
with open(o, "r+b") as b:
	b.write(b"B" * 4096)
again = os.pread(fd, 4096, 0)
os.close(fd)
print("new" if again == b"B" * 4096 else "old" if again == first else "other")
PY
}

log "the kernel reads the backing object itself"
head -c 65536 /dev/zero | tr '\0' 'A' > "$M/probe"
got=$(reads_backing "$M/probe")
if [ "$PT" = 1 ]; then
	[ "$got" = new ] || fail "a passed-through read did not see the backing object ($got)"
fi

log "sizes and mtimes of files being written, versions, explicit mtimes"
python3 - "$M" "$S" <<'PY' || fail "passthrough write checks"
import json, os, subprocess, sys, time
m, s = sys.argv[1], sys.argv[2]
from itcheck import check, finish

def where(p):
	out = subprocess.run([s, "where", "--json", p], check=True,
			     capture_output=True, text=True).stdout
	return json.loads(out)["files"][0]

p = os.path.join(m, "grow")
with open(p, "wb") as f:
	f.write(b"x" * 1000)
v1 = where(p)["version"]

fd = os.open(p, os.O_WRONLY | os.O_APPEND)
os.write(fd, b"y" * 5000)
check(os.stat(p).st_size == 6000, "stat from another path sees 6000 bytes while open")
# In this process: a child's exec would close a copy of fd, a flush.
check(os.getxattr(p, "user.strata.state") == b"dirty",
      "user.strata.state says dirty while the writer is open")
os.close(fd)
w = where(p)
check(w["size"] == 6000, "the catalog has 6000 bytes after close (%d)" % w["size"])
check(w["version"] > v1, "a new content version after the write (%d > %d)" % (w["version"], v1))
check(w["state"] != "dirty", "not dirty after close (%s)" % w["state"])

# The same size, rewritten: still a new version.
v2 = w["version"]
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, b"z" * 10, 100)
os.close(fd)
w = where(p)
check(w["version"] > v2 and w["size"] == 6000, "a same-size rewrite gets a new version")
with open(p, "rb") as f:
	d = f.read()
check(d[100:110] == b"z" * 10 and len(d) == 6000, "the rewrite reads back")

# An mtime set while open wins over the writes' own.
fd = os.open(p, os.O_WRONLY)
os.pwrite(fd, b"q", 0)
os.utime(p, (1000000000, 1000000000))
os.close(fd)
check(int(os.stat(p).st_mtime) == 1000000000, "utime while open wins (%d)" % os.stat(p).st_mtime)

# mmap writes reach the file.
import mmap
q = os.path.join(m, "mapped")
with open(q, "wb") as f:
	f.write(b"\0" * 8192)
fd = os.open(q, os.O_RDWR)
mm = mmap.mmap(fd, 8192)
mm[4096:4101] = b"hello"
mm.flush()
mm.close()
os.fsync(fd)
os.close(fd)
with open(q, "rb") as f:
	check(f.read()[4096:4101] == b"hello", "an mmap write reads back")

# A file without content is open for reading (not passed through: there
# is nothing to pass); a writer may still open it.
e = os.path.join(m, "late")
open(e, "wb").close()
rfd = os.open(e, os.O_RDONLY)
try:
	wfd = os.open(e, os.O_WRONLY)
	os.write(wfd, b"late data")
	os.close(wfd)
	check(os.pread(rfd, 100, 0) == b"late data", "the reader sees the writer's bytes")
except OSError as err:
	check(False, "opening for writing beside a reader: %s" % err)
os.close(rfd)
finish()
PY

log "an empty file created and closed has no object"
before=$(find "$T/tiers" -type f | wc -l)
for i in 1 2 3 4 5; do : > "$M/empty$i"; done
python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
os.close(fd)' "$M/empty6"
after=$(find "$T/tiers" -type f | wc -l)
[ "$after" = "$before" ] || fail "6 empty files added $((after - before)) objects"

log "everything survives a remount"
sha_probe=$(sha256sum < "$M/probe")
umount_strata
mount_strata
[ "$(stat -c %s "$M/grow")" = 6000 ] || fail "grow: size after remount"
[ "$(stat -c %Y "$M/grow")" = 1000000000 ] || fail "grow: mtime after remount"
[ "$(head -c 4101 "$M/mapped" | tail -c 5)" = hello ] || fail "mapped: after remount"
[ "$(cat "$M/late")" = "late data" ] || fail "late: after remount"
[ "$(sha256sum < "$M/probe")" = "$sha_probe" ] || fail "probe: after remount"
umount_strata

log "-o no_passthrough: the daemon serves the data"
offers() {
	grep -c "FUSE passthrough: local-tier" "$T/mount.log" || true
}
n=$(offers)
mount_strata -o no_passthrough
[ "$(offers)" = "$n" ] || fail "passthrough offered with -o no_passthrough"
[ "$(sha256sum < "$M/probe")" = "$sha_probe" ] || fail "probe: without passthrough"
umount_strata
echo "018-passthrough: ok"
