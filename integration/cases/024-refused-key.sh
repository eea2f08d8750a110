#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 024-refused-key: the object of a new passed-through file is made without
# a name (O_TMPFILE) and takes its key when first recorded. When the tier
# refuses the key at the last close (here a regular file stands where the
# key's shard directory goes; on a real tier, a full disk), the bytes must
# not go with the descriptor: the object stays open, the file reads back
# whole and shows its size, strata status counts it as unrecorded, and a
# retry records it once the way is clear, without anyone opening the file
# again, while other files come and go. Everything then survives a remount
# and fsck finds nothing wrong.

. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "024-refused-key: checks a mount's objects, needs a mount"
	exit 0
fi

S=$STRATA_BIN

write_config
# The first files' key is 000/000/<inode>: block its first directory.
echo "in the way" > "$T/tiers/nvme/000"
mount_strata
if ! grep -q "FUSE passthrough: local-tier file data bypasses" \
	"$T/mount.log"; then
	echo "SKIP: this kernel ($(uname -r)) offers no FUSE passthrough;" \
		"only passed-through new files have unnamed objects"
	exit 77
fi

log "the key is refused at close: the bytes stay readable"
head -c 100000 /dev/urandom > "$T/data"
cp "$T/data" "$M/f"
wait_log "bytes stay open here to try again"
[ "$(stat -c %s "$M/f")" = 100000 ] || fail "size while kept: $(stat -c %s "$M/f")"
cmp "$T/data" "$M/f" || fail "the kept bytes do not read back"
[ -z "$(find "$T/tiers" -type f ! -path "$T/tiers/nvme/000")" ] ||
	fail "an object has a name although its key was refused"
# unrecorded: what strata status says of kept files.
unrecorded() {
	"$S" status --json "$M" | python3 -c \
		'import json, sys; print(json.load(sys.stdin)["unrecorded"])'
}
[ "$(unrecorded)" = 1 ] || fail "status: unrecorded $(unrecorded), want 1"
"$S" status "$M" | grep -q "^unrecorded: 1 file" ||
	fail "strata status does not say a file is unrecorded"

log "once the way is clear, a retry records them unasked"
rm "$T/tiers/nvme/000"
# Files made and removed meanwhile (orphans for the same thread to reap)
# must not put the retry off.
(
	while ! grep -qF "its last writes are recorded now" "$T/mount.log"; do
		{ : > "$M/churn" && rm "$M/churn"; } || exit 1
		sleep 0.1
	done
) &
CHURN=$!
on_exit 'kill $CHURN 2>/dev/null; wait $CHURN 2>/dev/null'
wait_log "its last writes are recorded now"
wait $CHURN || fail "the churn loop failed"
[ "$(unrecorded)" = 0 ] || fail "status: unrecorded $(unrecorded), want 0"
"$S" status "$M" | grep -q "^unrecorded" && fail "status still says unrecorded"
[ "$(find "$T/tiers" -type f | wc -l)" = 1 ] || fail "want one object"
cmp "$T/data" "$(find "$T/tiers" -type f)" ||
	fail "the object does not hold the bytes"

log "everything survives a remount; fsck finds nothing wrong"
umount_strata
grep -q "are lost" "$T/mount.log" && fail "the mount says it lost bytes"
out=$("$S" fsck -c "$T/strata.conf") || fail "fsck: $out"
mount_strata
cmp "$T/data" "$M/f" || fail "f after remount"
umount_strata
log "ok"
