#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 015-signal-stop: SIGTERM to the mount process is a clean stop. A file still
# open for writing keeps what was written (its size reaches the catalog as the
# mount stops), the process exits 0, and a read-only mount (-o ro) changes
# nothing in the catalog, not even access times.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "015-signal-stop: nothing to check without a mount"
	exit 0
fi

write_config
mount_strata
head -c 100000 /dev/urandom > "$T/ref"
# A writer that keeps its descriptor open while the mount stops.
python3 - "$M/open-writer" "$T/ref" "$T/written" <<'PY' &
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o644)
with open(sys.argv[2], "rb") as f:
	os.write(fd, f.read())
open(sys.argv[3], "w").close()
time.sleep(30)
PY
writer=$!
for _ in $(seq 1 100); do
	[ -e "$T/written" ] && break
	sleep 0.1
done
[ -e "$T/written" ] || fail "the writer did not write"

log "SIGTERM with a file open for writing"
kill -TERM "$STRATA_PID"
rc=0
wait "$STRATA_PID" || rc=$?
STRATA_PID=
[ "$rc" = 0 ] || fail "strata mount exited $rc on SIGTERM, want 0"
kill "$writer" 2>/dev/null || true
wait "$writer" 2>/dev/null || true
is_mounted "$M" && fail "the mount is still there after SIGTERM"

mount_strata
size=$(stat -c %s "$M/open-writer")
[ "$size" = 100000 ] || fail "size after SIGTERM and remount is $size, want 100000"
cmp -s "$M/open-writer" "$T/ref" || fail "content changed across SIGTERM"
umount_strata

log "read-only mount changes nothing"
sum_before=$(sqlite3 "$T/catalog.db" 'SELECT sum(atime), count(*) FROM inodes')
mount_strata -o ro
cat "$M/open-writer" > /dev/null
touch "$M/new" 2>/dev/null && fail "creating a file on a read-only mount worked"
umount_strata
sum_after=$(sqlite3 "$T/catalog.db" 'SELECT sum(atime), count(*) FROM inodes')
[ "$sum_before" = "$sum_after" ] ||
	fail "the catalog changed under -o ro: $sum_before -> $sum_after"
echo "ok 015-signal-stop"
