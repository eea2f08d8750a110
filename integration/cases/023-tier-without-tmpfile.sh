#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 023-tier-without-tmpfile: a local tier on a file system without O_TMPFILE.
# The tier here is a directory on a second Strata mount (mounted with -o
# no_passthrough, so that the upper mount can pass its files through),
# whose FUSE answers O_TMPFILE with EOPNOTSUPP. A new passed-through file's
# object is then a scratch file beside its key (.strata-tmp-anon-*), renamed
# to the key when the file is first recorded. Checks that the fallback
# really runs (while the file is open and unrecorded the scratch file is on
# the tier and nothing else is), that fsync and close give the object its
# key with every byte, that a file closed unwritten leaves nothing, that
# the scratch file of a file open at a crash (kill -9) is what fsck reports
# and --repair removes, and that all that was recorded reads back after a
# remount.

. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "023-tier-without-tmpfile: stacks two mounts, needs mounts"
	exit 0
fi

S=$STRATA_BIN
U=$T/up
UP_PID=
mkdir -p "$U"

# The upper mount goes before the lower one.
on_exit 'if [ -n "$UP_PID" ]; then
	fusermount3 -u -z "$U" 2>/dev/null
	kill "$UP_PID" 2>/dev/null
	wait "$UP_PID" 2>/dev/null
fi'

write_config
mount_strata -o no_passthrough
mkdir "$M/tier"
cat > "$T/upper.conf" <<CONF
[namespace]
catalog = $T/upper.db
site = test
placement = low

[tier low]
url = file://$M/tier
CONF

mount_upper() {
	"$S" mount -f -c "$T/upper.conf" "$U" >> "$T/upper.log" 2>&1 &
	UP_PID=$!
	for _ in $(seq 1 200); do
		is_mounted "$U" && return 0
		kill -0 "$UP_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/upper.log" >&2
	fail "the upper mount did not appear"
}

umount_upper() {
	"$S" umount "$U" || fail "strata umount of the upper mount failed"
	wait "$UP_PID" || fail "the upper mount exited with status $?"
	UP_PID=
}

mount_upper
if ! grep -q "FUSE passthrough: local-tier file data bypasses" \
	"$T/upper.log"; then
	echo "SKIP: this kernel ($(uname -r)) offers no FUSE passthrough;" \
		"only passed-through new files use unnamed objects"
	exit 77
fi

log "O_TMPFILE is refused on the tier"
python3 - "$M/tier" <<'PY' || fail "O_TMPFILE worked on the lower mount"
import errno, os, sys
try:
	os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600))
except OSError as e:
	sys.exit(0 if e.errno == errno.EOPNOTSUPP else 1)
sys.exit(1)
PY

log "scratch objects: hidden until recorded, renamed at fsync and close"
python3 - "$U" "$M/tier" <<'PY' || fail "scratch object checks"
import os, sys, time
up, tier = sys.argv[1], sys.argv[2]
from itcheck import check, finish

def files():
	scratch, named = [], []
	for d, _, names in os.walk(tier):
		for n in names:
			p = os.path.join(d, n)
			(scratch if n.startswith(".strata-tmp-anon-") else named).append(p)
	return scratch, named

def settle(want_named):
	# The release that records a closed file comes after close(2).
	for _ in range(100):
		scratch, named = files()
		if not scratch and len(named) == want_named:
			return scratch, named
		time.sleep(0.05)
	return files()

fd = os.open(up + "/a", os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"first")
scratch, named = files()
check(len(scratch) == 1 and not named,
      "open and unrecorded: one scratch file, no key (%s %s)" % (scratch, named))
os.fsync(fd)
scratch, named = files()
check(not scratch and len(named) == 1,
      "fsync renames it to its key (%s %s)" % (scratch, named))
os.write(fd, b" and more")
os.close(fd)
scratch, named = settle(1)
check(not scratch and len(named) == 1, "one object after close")
if named:
	with open(named[0], "rb") as f:
		check(f.read() == b"first and more", "the object holds every byte")

fd = os.open(up + "/b", os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"second")
os.close(fd)
scratch, named = settle(2)
check(not scratch and len(named) == 2, "close renames a written file's object")

fd = os.open(up + "/empty", os.O_CREAT | os.O_WRONLY, 0o644)
check(len(files()[0]) == 1, "a new empty file has its scratch object")
os.close(fd)
scratch, named = settle(2)
check(not scratch and len(named) == 2,
      "closed unwritten, it leaves nothing (%s %s)" % (scratch, named))
check(os.stat(up + "/empty").st_size == 0, "the empty file is there")
finish()
PY

log "a crash leaves a scratch file: fsck reports it, --repair removes it"
exec {held}> "$U/crash"
echo "never recorded" >&"$held"
kill -9 "$UP_PID"
wait "$UP_PID" 2>/dev/null || true
UP_PID=
exec {held}>&-
fusermount3 -u -z "$U" 2>/dev/null || true
left=$(find "$M/tier" -name '.strata-tmp-anon-*' | wc -l)
[ "$left" = 1 ] || fail "$left scratch files after the crash, want 1"
out=$("$S" fsck -c "$T/upper.conf") && rc=0 || rc=$?
[ "$rc" = 1 ] || fail "fsck after the crash exited $rc, want 1: $out"
[[ "$out" == *"leftover temporary '"*".strata-tmp-anon-"*"' on tier 'low' (15 bytes"* ]] ||
	fail "fsck did not report the scratch file: $out"
out=$("$S" fsck --repair -c "$T/upper.conf") && rc=0 || rc=$?
[[ "$out" == *"leftover temporary"*": removed"* ]] ||
	fail "fsck --repair did not remove the scratch file: $out"
[ -z "$(find "$M/tier" -name '.strata-tmp-anon-*')" ] ||
	fail "the scratch file is still on the tier"
out=$("$S" fsck -c "$T/upper.conf") || fail "fsck after --repair: $out"

log "everything recorded reads back after a remount"
mount_upper
[ "$(cat "$U/a")" = "first and more" ] || fail "a after remount: $(cat "$U/a")"
[ "$(cat "$U/b")" = second ] || fail "b after remount: $(cat "$U/b")"
[ -f "$U/empty" ] && [ ! -s "$U/empty" ] || fail "empty after remount"
# Its name may be lost with the last group commit; its bytes never were
# recorded.
[ ! -e "$U/crash" ] || [ ! -s "$U/crash" ] ||
	fail "the file being written at the crash has recorded bytes"
umount_upper
log "ok"
