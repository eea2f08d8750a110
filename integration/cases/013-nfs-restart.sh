#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 013-nfs-restart: the NFS tier across server outages, on a private
# NFS-Ganesha server (this case stops and starts it) with timeout=5 in the
# tier URL.
#  1. The server goes away for 2 s in the middle of a long sequential write.
#     The writer either sees an error (EIO) or, after its final fsync, the
#     file holds exactly the bytes it believes it wrote: through the mount,
#     after a remount, and in the object on the export. Never silent loss.
#  2. With the server stopped, a read of a part of an open file that no cache
#     holds fails with EIO in well under 30 s (within the timeout, plus
#     slack), a write-then-fsync fails with EIO (fsync never reports success
#     for data the server did not get), and stat still answers from the
#     catalog. With the server back the open descriptors and new opens serve
#     the right bytes again. The same read with the server frozen (SIGSTOP:
#     connections stay up, nothing answers) must fail with EIO within the
#     timeout too, and serve again once the server resumes.
#  3. fsync means durable on the server: after fsync returns, the daemon is
#     killed with SIGKILL and the object's bytes are read straight from the
#     export directory on disk; after a remount the file reads back whole.

. "$(dirname "$0")/../lib.sh"

TIMEOUT=5
PORT=${STRATA_TEST_NFS_RESTART_PORT:-20496}
NFSD=$T/nfs
nfs_start "$NFSD" "$PORT"
URL="$(nfs_url "$NFS_URL" "013")&timeout=$TIMEOUT"
EXPORT=$(nfs_dir "$URL")
mkdir -p "$EXPORT"

write_nfs_config "$URL"

nfs_down() {
	[ "$STRATA_TEST_DIRECT" = 1 ] || "$GANESHA" stop "$NFSD"
}

nfs_up() {
	[ "$STRATA_TEST_DIRECT" = 1 ] || "$GANESHA" restart "$NFSD" > /dev/null ||
		fail "cannot restart the NFS server"
}

# object_with SIZE SHA256: true if an object on the export has exactly
# these bytes.
object_with() {
	local f

	while IFS= read -r -d '' f; do
		[ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$2" ] && return 0
	done < <(find "$EXPORT" -type f -size "$1c" -print0)
	return 1
}

mount_strata

# --- 1. restart during a write ---------------------------------------------
log "1. server away for 2 s during a sequential write"
cat > "$T/writer.py" <<'PY'
import json, os, random, sys
path, progress, stop = sys.argv[1:4]
rng = random.Random(31)
errors, written = [], 0
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
while not os.path.exists(stop):
	chunk = rng.randbytes(65536)
	try:
		done = 0
		while done < len(chunk):
			done += os.write(fd, chunk[done:])
	except OSError as e:
		errors.append(f"write at {written + done}: {e}")
		written += done
		break
	written += done
	with open(progress + ".tmp", "w") as f:
		f.write(str(written))
	os.replace(progress + ".tmp", progress)
for what, call in (("fsync", os.fsync), ("close", os.close)):
	try:
		call(fd)
	except OSError as e:
		errors.append(f"{what}: {e}")
print(json.dumps({"written": written, "errors": errors}))
PY
cat > "$T/expect.py" <<'PY'
import hashlib, random, sys
n, rng, h = int(sys.argv[1]), random.Random(31), hashlib.sha256()
while n > 0:
	chunk = rng.randbytes(65536)
	h.update(chunk[:n])
	n -= len(chunk)
print(h.hexdigest())
PY
progress() {
	cat "$T/progress" 2>/dev/null || echo 0
}

# wait_progress BYTES SECONDS: wait until the writer passed BYTES or ended.
wait_progress() {
	for _ in $(seq 1 $(($2 * 10))); do
		[ "$(progress)" -ge "$1" ] && return 0
		kill -0 "$wpid" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

python3 "$T/writer.py" "$M/long" "$T/progress" "$T/stop" > "$T/writer.json" &
wpid=$!
wait_progress $((8 << 20)) 60 || fail "the writer did not reach 8 MiB in 60 s"
log "writer at $(progress) bytes: stopping the server for 2 s"
nfs_down
sleep 2
nfs_up
at=$(progress)
log "server back, writer at $at bytes"
wait_progress $((at + (8 << 20))) 60 ||
	fail "the writer hung: no 8 MiB of progress in 60 s after the restart"
touch "$T/stop"
for _ in $(seq 1 600); do
	kill -0 "$wpid" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$wpid" 2>/dev/null && fail "the writer's fsync or close hung for 60 s"
wait "$wpid" || fail "the writer failed (see above)"
written=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["written"])' \
	"$T/writer.json")
errors=$(python3 -c 'import json,sys; print("; ".join(json.load(open(sys.argv[1]))["errors"]))' \
	"$T/writer.json")
if [ -n "$errors" ]; then
	log "the writer saw errors after $written bytes: $errors"
	case $errors in
	*"Errno 5]"*) ;;
	*) fail "the writer's errors are not EIO: $errors" ;;
	esac
	if echo "$errors" | grep -v 'Errno 5]' | grep -q Errno; then
		fail "the writer saw an error other than EIO: $errors"
	fi
else
	want=$(python3 "$T/expect.py" "$written")
	got=$(sha256sum < "$M/long" | cut -d' ' -f1)
	size=$(stat -c %s "$M/long")
	[ "$size" = "$written" ] ||
		fail "after the restart the file has $size bytes; the writer wrote $written with no error"
	[ "$got" = "$want" ] ||
		fail "after the restart the file's bytes differ from what the writer wrote with no error (silent loss)"
	if [ "$STRATA_TEST_DIRECT" != 1 ]; then
		object_with "$written" "$want" ||
			fail "no object on the export holds the $written bytes the writer wrote"
	fi
	umount_strata_or_kill
	mount_strata
	[ "$(sha256sum < "$M/long" | cut -d' ' -f1)" = "$want" ] ||
		fail "the written file differs after a remount"
	log "the write of $written bytes completed across the restart, intact"
fi
# Whatever happened, the mount works now.
head -c 100000 /dev/urandom > "$T/after"
cp "$T/after" "$M/after"
cmp "$T/after" "$M/after" || fail "the mount does not serve after the restart"

# --- 2. server stopped: EIO within the timeout, then service again ----------
log "2. reads and writes with the server stopped"
head -c $((8 << 20)) /dev/urandom > "$T/ref"
dd if="$T/ref" of="$M/r" bs=1M conv=fsync status=none
head -c 4096 /dev/urandom > "$T/w0"
dd if="$T/w0" of="$M/w" bs=4k conv=fsync status=none
head -c $((8 << 20)) /dev/urandom > "$T/ref2"
dd if="$T/ref2" of="$M/r2" bs=1M conv=fsync status=none
umount_strata_or_kill # cold caches: a new daemon and a new kernel inode
mount_strata
cat > "$T/outage.py" <<'PY'
import errno, os, subprocess, sys, time
path, ref, wpath, down, up, limit = sys.argv[1:7]
limit = float(limit)
want = open(ref, "rb").read()
OFF, LEN = 6 << 20, 65536

def timed(what, call):
	t0 = time.monotonic()
	try:
		res, err = call(), None
	except OSError as e:
		res, err = None, e
	dt = time.monotonic() - t0
	print(f"--- {what}: {'errno ' + str(err.errno) if err else 'ok'} "
	      f"in {dt:.2f} s", file=sys.stderr)
	return res, err, dt

fd = os.open(path, os.O_RDONLY)
if os.pread(fd, 4096, 0) != want[:4096]:
	sys.exit("read of the first page differs before the outage")
wfd = os.open(wpath, os.O_WRONLY)
subprocess.run(down, shell=True, check=True)

_, err, dt = timed("stat with the server down", lambda: os.stat(path))
if err or dt > limit:
	sys.exit(f"stat with the server down: {err}, {dt:.2f} s: the catalog "
		 "answers stat")
res, err, dt = timed("read with the server down",
		     lambda: os.pread(fd, LEN, OFF))
if err is None:
	sys.exit(f"a read of an uncached range with the server down returned "
		 f"{len(res)} bytes ({'right' if res == want[OFF:OFF + LEN] else 'WRONG'} "
		 "ones), not EIO")
if err.errno != errno.EIO:
	sys.exit(f"a read with the server down failed with {err}, not EIO")
if dt > limit:
	sys.exit(f"a read with the server down took {dt:.2f} s to fail, over "
		 f"{limit} s (timeout=5 in the URL)")
_, werr, wdt = timed("pwrite with the server down",
		     lambda: os.pwrite(wfd, b"z" * 4096, 0))
_, ferr, fdt = timed("fsync with the server down", lambda: os.fsync(wfd))
if wdt > limit or fdt > limit:
	sys.exit(f"pwrite or fsync with the server down took {wdt:.2f} s and "
		 f"{fdt:.2f} s, over {limit} s")
if werr is None and ferr is None:
	sys.exit("pwrite and fsync both succeeded with the server down: fsync "
		 "reported durable data the server never got")
for e in (werr, ferr):
	if e is not None and e.errno != errno.EIO:
		sys.exit(f"a write or fsync with the server down failed with {e}, "
			 "not EIO")

subprocess.run(up, shell=True, check=True)
t0 = time.monotonic()
while True:
	try:
		got = os.pread(fd, LEN, OFF)
		break
	except OSError as e:
		if time.monotonic() - t0 > limit:
			sys.exit(f"reads still fail {limit} s after the server came "
				 f"back: {e}")
		time.sleep(0.2)
print(f"--- read on the old descriptor serves again after "
      f"{time.monotonic() - t0:.2f} s", file=sys.stderr)
if got != want[OFF:OFF + LEN]:
	sys.exit("the read after the server came back returned wrong bytes")
try:
	os.pwrite(wfd, b"y" * 4096, 0)
	os.fsync(wfd)
	os.close(wfd)
except OSError as e:
	sys.exit(f"write and fsync on the old descriptor after the server came "
		 f"back: {e}")
fd2 = os.open(path, os.O_RDONLY)
data = b""
while True:
	b = os.read(fd2, 1 << 20)
	if not b:
		break
	data += b
if data != want:
	sys.exit("a new open after the server came back reads wrong bytes")
os.close(fd2)
os.close(fd)
PY
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	timeout -k 5 120 python3 "$T/outage.py" "$M/r" "$T/ref" "$M/w" \
		"'$GANESHA' stop '$NFSD'" "'$GANESHA' restart '$NFSD' >/dev/null" \
		$((TIMEOUT * 2 + 2)) ||
		fail "server outage: see the line above (124: the case's 120 s watchdog fired)"
	printf 'y%.0s' $(seq 1 4096) > "$T/w1"
	cmp "$T/w1" "$M/w" || fail "the write after the server came back is not in the file"
fi

# --- 2b. server hung (SIGSTOP): the timeout, not a reset, ends the read ------
log "2b. a read with the server frozen fails within the timeout"
cat > "$T/frozen.py" <<'PY'
import errno, os, subprocess, sys, time
path, ref, pause, resume, limit = sys.argv[1:6]
limit = float(limit)
want = open(ref, "rb").read()
OFF, LEN = 6 << 20, 65536
fd = os.open(path, os.O_RDONLY)
if os.pread(fd, 4096, 0) != want[:4096]:
	sys.exit("read of the first page differs before the freeze")
subprocess.run(pause, shell=True, check=True)
t0 = time.monotonic()
try:
	got = os.pread(fd, LEN, OFF)
	err = None
except OSError as e:
	err = e
dt = time.monotonic() - t0
print(f"--- read with the server frozen: "
      f"{'errno ' + str(err.errno) if err else 'ok'} in {dt:.2f} s",
      file=sys.stderr)
subprocess.run(resume, shell=True, check=True)
if err is None:
	sys.exit(f"a read of an uncached range with the server frozen returned "
		 f"{len(got)} bytes, not EIO")
if err.errno != errno.EIO:
	sys.exit(f"a read with the server frozen failed with {err}, not EIO")
if dt > limit:
	sys.exit(f"a read with the server frozen took {dt:.2f} s to fail, over "
		 f"{limit} s (timeout=5 in the URL)")
t0 = time.monotonic()
while True:
	try:
		got = os.pread(fd, LEN, OFF)
		break
	except OSError as e:
		if time.monotonic() - t0 > limit:
			sys.exit(f"reads still fail {limit} s after the server "
				 f"resumed: {e}")
		time.sleep(0.2)
print(f"--- read serves again {time.monotonic() - t0:.2f} s after the "
      "server resumed", file=sys.stderr)
if got != want[OFF:OFF + LEN]:
	sys.exit("the read after the server resumed returned wrong bytes")
os.close(fd)
PY
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	timeout -k 5 120 python3 "$T/frozen.py" "$M/r2" "$T/ref2" \
		"'$GANESHA' pause '$NFSD'" "'$GANESHA' resume '$NFSD'" \
		$((TIMEOUT * 2 + 2)) ||
		fail "server frozen: see the line above (124: the case's 120 s watchdog fired)"
	cmp "$T/ref2" "$M/r2" || fail "r2 reads wrong after the server resumed"
fi

# --- 3. fsync is durable on the server ---------------------------------------
log "3. fsync, kill -9 the daemon, read the object on the export"
head -c $((3 * 1024 * 1024 + 123)) /dev/urandom > "$T/durable"
dsum=$(sha256sum < "$T/durable" | cut -d' ' -f1)
python3 - "$T/durable" "$M/durable" "$T/fsynced" <<'PY' &
import os, sys, time
data = open(sys.argv[1], "rb").read()
fd = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for off in range(0, len(data), 100000):
	assert os.pwrite(fd, data[off:off + 100000], off) == len(data[off:off + 100000])
os.fsync(fd)
open(sys.argv[3], "w").close()
time.sleep(600)	# still open when the daemon dies
PY
dpid=$!
for _ in $(seq 1 600); do
	[ -e "$T/fsynced" ] && break
	kill -0 "$dpid" 2>/dev/null || fail "the fsync writer failed"
	sleep 0.1
done
[ -e "$T/fsynced" ] || fail "write and fsync of 3 MiB did not finish in 60 s"
kill9_strata
kill "$dpid" 2>/dev/null || true
wait "$dpid" 2>/dev/null || true
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	object_with $((3 * 1024 * 1024 + 123)) "$dsum" ||
		fail "after fsync and kill -9 no object on the export has the fsync'd bytes"
fi
mount_strata
cmp "$T/durable" "$M/durable" ||
	fail "the fsync'd file differs after kill -9 and a remount"
umount_strata_or_kill

# --- mounting while the export does not answer -------------------------------
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	log "a mount whose NFS export does not answer is refused, naming the tier"
	"$GANESHA" stop "$NFSD" > /dev/null || fail "cannot stop the NFS server"
	rc=0
	out=$(timeout 60 "$STRATA_BIN" mount -f -c "$T/strata.conf" "$M" 2>&1) ||
		rc=$?
	[ "$rc" = 1 ] || fail "mount with a dead NFS server exited $rc, want 1"
	[[ "$out" == *"tier 'nfs'"* ]] ||
		fail "the refusal does not name the tier: $out"
	is_mounted "$M" && fail "something is mounted after the refusal"
fi
echo "ok 013-nfs-restart"
