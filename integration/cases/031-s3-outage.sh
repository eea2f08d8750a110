#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 031-s3-outage: an S3 tier (the ctest fixture `s3`, a real radosgw) that
# goes away and comes back. radosgw stopped in the middle of a sequential
# read of a 60 MiB S3-resident file makes the read fail with EIO within
# the tier's timeout (timeout=4 in the URL) instead of hanging; once
# radosgw is back the same mount reads the file whole again, and writes.
# radosgw frozen (SIGSTOP: connections accepted, nothing answered) in the
# middle of a read gives EIO within the timeout as well.
# A new file written while radosgw is down: close(2) reports the failed
# upload, and the data stays readable on the local staging tier, never
# dropped. At mount time, wrong credentials, a credentials file readable
# by others, and an endpoint that does not answer each make the mount
# refuse with a message naming the tier (and the file), and no secret
# appears in any message; so does an HTTPS endpoint whose certificate is
# not trusted, which serves once its private CA is given (ca=).

. "$(dirname "$0")/../lib.sh"

[ "$STRATA_TEST_DIRECT" = 1 ] && exit 0 # nothing here is plain POSIX
s3_server
PFX=031-$$
TIMEOUT=4
URL=$(s3_url "$PFX" "timeout=$TIMEOUT&readahead=8")
write_s3_config "$URL"
mount_strata

rgw_back() {
	"$RADOSGW" rgw-start "$S3_DIR" > /dev/null || fail "radosgw did not come back"
}

MIB=$((1024 * 1024))
head -c $((60 * MIB)) /dev/urandom > "$T/big"
cp "$T/big" "$M/big" || fail "cp onto the S3 tier"
umount_strata
mount_strata

log "radosgw stopped during a read: EIO within ${TIMEOUT} s"
python3 - "$M/big" "$RADOSGW" "$S3_DIR" "$TIMEOUT" <<'PY' || rc=$?
import errno, os, subprocess, sys, time
path, rgw, s3dir, timeout = sys.argv[1:]
fd = os.open(path, os.O_RDONLY)
assert len(os.read(fd, 1 << 20)) == 1 << 20
subprocess.run([rgw, "rgw-stop", s3dir], check=True)
t0 = time.monotonic()
try:
    while os.read(fd, 1 << 20):
        pass
    sys.exit("the whole file was read with radosgw stopped")
except OSError as e:
    took = time.monotonic() - t0
    print("--- read failed with %s after %.1f s" % (errno.errorcode[e.errno], took))
    if e.errno != errno.EIO:
        sys.exit("want EIO")
    if took > float(timeout) + 3:
        sys.exit("EIO came after %.1f s, the timeout is %s s" % (took, timeout))
PY
[ "${rc:-0}" = 0 ] || { rgw_back; fail "read during the outage"; }
rgw_back

log "radosgw frozen during a read (it answers nothing): EIO within ${TIMEOUT} s"
rc=0
python3 - "$M/big" "$RADOSGW" "$S3_DIR" "$TIMEOUT" <<'PY' || rc=$?
import errno, os, subprocess, sys, time
path, rgw, s3dir, timeout = sys.argv[1:]
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
os.lseek(fd, 30 << 20, os.SEEK_SET)
assert len(os.read(fd, 1 << 20)) == 1 << 20
subprocess.run([rgw, "rgw-pause", s3dir], check=True)
t0 = time.monotonic()
try:
    while os.read(fd, 1 << 20):
        pass
    sys.exit("the rest of the file was read with radosgw frozen")
except OSError as e:
    took = time.monotonic() - t0
    print("--- read failed with %s after %.1f s" % (errno.errorcode[e.errno], took))
    if e.errno != errno.EIO:
        sys.exit("want EIO")
    if took > float(timeout) + 3:
        sys.exit("EIO came after %.1f s, the timeout is %s s" % (took, timeout))
PY
"$RADOSGW" rgw-resume "$S3_DIR"
[ "$rc" = 0 ] || fail "read while radosgw was frozen"

log "radosgw is back: the same mount serves again"
cmp "$M/big" "$T/big" || fail "read after radosgw came back"
head -c 777777 /dev/urandom > "$T/after"
cp "$T/after" "$M/after" || fail "write after radosgw came back"
cmp "$M/after" "$T/after" || fail "read back after radosgw came back"

log "a file written while radosgw is down stays staged, never dropped"
"$RADOSGW" rgw-stop "$S3_DIR"
head -c $((3 * MIB)) /dev/urandom > "$T/down"
rc=0
cp "$T/down" "$M/down" 2> "$T/cp.err" || rc=$?
[ "$rc" != 0 ] || { rgw_back; fail "close(2) did not report the failed upload"; }
grep -q "Input/output error" "$T/cp.err" ||
	{ rgw_back; fail "cp said: $(cat "$T/cp.err")"; }
cmp "$M/down" "$T/down" || { rgw_back; fail "the staged data is not readable"; }
grep -q "cannot upload inode .* to tier 's3'" "$T/mount.log" ||
	{ rgw_back; fail "the failed upload was not logged"; }
# While its upload waits, an open file says so (strata where, getfattr).
python3 - "$M/pending" <<'PY' || { rgw_back; fail "pending upload state"; }
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o644)
os.write(fd, b"x" * 100000)
try:
    os.fsync(fd)
    sys.exit("fsync succeeded with radosgw down")
except OSError:
    pass
state = os.getxattr(path, "user.strata.state").decode()
if state != "uploading":
    sys.exit("state is %r, want 'uploading'" % state)
try:
    os.close(fd)
except OSError:
    pass
PY
rgw_back
rm -f "$M/pending"
cmp "$M/down" "$T/down" || fail "staged data after radosgw came back"
# Kept on 'nvme', or uploaded by a later close now that radosgw is back.
ino=$(stat -c %i "$M/down")
key=$(printf '%03x/%03x/%016x' $(((ino >> 24) & 4095)) \
	$(((ino >> 12) & 4095)) "$ino")
if [ -f "$T/tiers/nvme/$key" ]; then
	cmp "$T/tiers/nvme/$key" "$T/down" || fail "the staged copy differs"
else
	s3 -sf "/strata/$PFX/$key" -o "$T/obj" ||
		fail "the data is neither staged on 'nvme' nor in the bucket"
	cmp "$T/obj" "$T/down" || fail "the uploaded object differs"
fi
umount_strata
mount_strata
cmp "$M/down" "$T/down" || fail "staged data after a remount"
cmp "$M/big" "$T/big" || fail "S3 data after a remount"
rm -f "$M/big" "$M/after" "$M/down"
umount_strata
[ -z "$(s3_keys "$PFX")" ] || fail "objects left: $(s3_keys "$PFX")"

# refused URL WANT...: the mount must fail, naming the tier, saying WANT.
refused() {
	local url=$1 out rc=0

	shift
	write_s3_config "$url"
	out=$(timeout 120 "$STRATA_BIN" mount -f -c "$T/strata.conf" "$M" 2>&1) ||
		rc=$?
	[ "$rc" = 1 ] || fail "mount exited $rc, want 1: $out"
	is_mounted "$M" && fail "something is mounted after the refusal"
	[[ "$out" == *"tier 's3'"* ]] || fail "the refusal does not name the tier: $out"
	for w in "$@"; do
		[[ "$out" == *"$w"* ]] || fail "the refusal does not say '$w': $out"
	done
	[[ "$out" == *"$SECRET"* ]] && fail "a secret reached a message: $out"
	echo "--- refused: $out"
}

log "wrong credentials, a credentials file readable by others, no server"
AK=$(sed -n 's/^aws_access_key_id *= *//p' "$S3_DIR/credentials")
SECRET=wrong$$secret
(umask 077 && printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
	"$AK" "$SECRET" > "$T/wrong")
refused "$(s3_url "$PFX")&credentials=$T/wrong" "denied" "SignatureDoesNotMatch"
printf '[default]\naws_access_key_id = NOSUCHKEY\naws_secret_access_key = %s\n' \
	"$SECRET" > "$T/nokey"
chmod 600 "$T/nokey"
refused "$(s3_url "$PFX")&credentials=$T/nokey" "denied" "InvalidAccessKeyId"
chmod 644 "$T/wrong"
refused "$(s3_url "$PFX")&credentials=$T/wrong" "'$T/wrong'" "0600"
chmod 600 "$T/wrong"
refused "s3://strata/$PFX?endpoint=http://127.0.0.1:1&credentials=$T/wrong&timeout=2" \
	"cannot reach 'http://127.0.0.1:1'"
log "HTTPS: refused without the private CA, served with ca="
HTTPS=$("$RADOSGW" https "$S3_DIR")
refused "s3://strata/$PFX?endpoint=$HTTPS&credentials=$S3_DIR/credentials" \
	"cannot reach '$HTTPS'" "certificate"
write_s3_config "s3://strata/$PFX?endpoint=$HTTPS&ca=$("$RADOSGW" ca "$S3_DIR")&credentials=$S3_DIR/credentials"
mount_strata
cp "$T/after" "$M/tls" || fail "cp over HTTPS"
umount_strata
mount_strata
cmp "$M/tls" "$T/after" || fail "read back over HTTPS"
rm "$M/tls"
umount_strata
[ -z "$(s3_keys "$PFX")" ] || fail "objects left: $(s3_keys "$PFX")"
log "ok"
