#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 004-concurrent-writers: parallel writers do not corrupt each other. Eight
# processes each write their own 4 MiB file in 64 KiB chunks while four
# more append fixed-size lines to one shared file with O_APPEND; every file
# must hold exactly its writer's bytes and the shared file exactly every line,
# none torn or lost. Then four processes create and unlink 2,000 names in one
# directory (their own names, plus shared names raced with O_EXCL and
# unlink, where exactly one process must win each race); the listing must be
# exactly the expected set. Contents and listing are checked again after a
# remount.

. "$(dirname "$0")/../lib.sh"

write_config
mount_strata

log "8 writers, 4 appenders"
python3 - "$M" <<'PY' || fail "concurrent writers"
import hashlib, multiprocessing as mp, os, sys

m = sys.argv[1]
CHUNK, NCHUNK, LINE, NLINE = 64 * 1024, 64, 128, 2000

def chunk(w, i):
	return hashlib.sha256(f"{w}:{i}".encode()).digest() * (CHUNK // 32)

def writer(w):
	fd = os.open(f"{m}/w{w}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
	for i in range(NCHUNK):
		if os.write(fd, chunk(w, i)) != CHUNK:
			os._exit(3)
	os.close(fd)

def appender(a):
	fd = os.open(f"{m}/shared", os.O_WRONLY | os.O_APPEND)
	for i in range(NLINE):
		line = f"appender {a} line {i:06d} ".encode()
		line = line.ljust(LINE - 1, b"abcdefgh"[a:a + 1]) + b"\n"
		if os.write(fd, line) != LINE:
			os._exit(3)
	os.close(fd)

open(f"{m}/shared", "wb").close()
procs = [mp.Process(target=writer, args=(w,)) for w in range(8)]
procs += [mp.Process(target=appender, args=(a,)) for a in range(4)]
for p in procs:
	p.start()
for p in procs:
	p.join()
	if p.exitcode != 0:
		sys.exit(f"a writer exited with {p.exitcode}")
PY

# check_contents: every writer's file and the shared file are exact.
check_contents() {
	python3 - "$M" <<'PY' || fail "file contents after concurrent writes ($1)"
import hashlib, sys

m = sys.argv[1]
CHUNK, NCHUNK, LINE, NLINE = 64 * 1024, 64, 128, 2000
bad = 0
for w in range(8):
	with open(f"{m}/w{w}", "rb") as f:
		data = f.read()
	if len(data) != CHUNK * NCHUNK:
		print(f"w{w}: size {len(data)}, want {CHUNK * NCHUNK}")
		bad += 1
		continue
	for i in range(NCHUNK):
		want = hashlib.sha256(f"{w}:{i}".encode()).digest() * (CHUNK // 32)
		if data[i * CHUNK:(i + 1) * CHUNK] != want:
			print(f"w{w}: chunk {i} wrong")
			bad += 1
with open(f"{m}/shared", "rb") as f:
	data = f.read()
if len(data) != 4 * NLINE * LINE:
	print(f"shared: size {len(data)}, want {4 * NLINE * LINE}")
	bad += 1
seen = {a: [] for a in range(4)}
for off in range(0, len(data) - len(data) % LINE, LINE):
	rec = data[off:off + LINE]
	parts = rec.split(b" ")
	ok = (rec.endswith(b"\n") and rec.count(b"\n") == 1 and
	      rec.startswith(b"appender ") and len(parts) >= 5)
	if ok:
		a, i = int(parts[1]), int(parts[3])
		fill = b"abcdefgh"[a:a + 1]
		head = f"appender {a} line {i:06d} ".encode()
		ok = rec == head.ljust(LINE - 1, fill) + b"\n"
	if not ok:
		print(f"shared: torn record at offset {off}: {rec[:60]!r}")
		bad += 1
		continue
	seen[a].append(i)
for a in range(4):
	if seen[a] != list(range(NLINE)):
		print(f"shared: appender {a} has {len(seen[a])} lines, "
		      f"{len(set(seen[a]))} distinct, in order: "
		      f"{seen[a] == sorted(seen[a])}")
		bad += 1
sys.exit(1 if bad else 0)
PY
}
check_contents "before remount"

log "4 processes: create/unlink in one directory"
mkdir "$M/names"
python3 - "$M/names" "$T/expected" <<'PY' || fail "concurrent create/unlink"
import errno, multiprocessing as mp, os, sys

d, out = sys.argv[1], sys.argv[2]
OWN, SHARED = 500, 400		# 4 * 500 own names, 400 raced ones

def own(k, i):
	return f"own-{k}-{i:04d}"

def worker(k, barrier, results):
	won_create, won_unlink = [], []
	for i in range(OWN):
		fd = os.open(f"{d}/{own(k, i)}", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
		os.close(fd)
		if i >= 1 and (i - 1) % 4 == 0:
			os.unlink(f"{d}/{own(k, i - 1)}")
		j = (i + k * 100) % SHARED if i < SHARED else None
		if j is not None:
			try:
				fd = os.open(f"{d}/shared-{j:04d}",
					     os.O_WRONLY | os.O_CREAT | os.O_EXCL)
				os.close(fd)
				won_create.append(j)
			except FileExistsError:
				pass
	barrier.wait(300)		# every create is done before unlinks race
	for j in range(0, SHARED, 2):
		try:
			os.unlink(f"{d}/shared-{j:04d}")
			won_unlink.append(j)
		except FileNotFoundError:
			pass
	results.put((k, won_create, won_unlink))

q = mp.Queue()
b = mp.Barrier(4)
procs = [mp.Process(target=worker, args=(k, b, q)) for k in range(4)]
for p in procs:
	p.start()
res = [q.get(timeout=600) for _ in procs]
for p in procs:
	p.join()
	if p.exitcode != 0:
		sys.exit(f"a worker exited with {p.exitcode}")
creates = sorted(j for r in res for j in r[1])
unlinks = sorted(j for r in res for j in r[2])
bad = 0
if creates != list(range(SHARED)):
	print(f"O_EXCL race: {len(creates)} wins for {SHARED} names "
	      f"({len(set(creates))} distinct)")
	bad += 1
if unlinks != list(range(0, SHARED, 2)):
	print(f"unlink race: {len(unlinks)} wins for {SHARED // 2} names")
	bad += 1
expected = {own(k, i) for k in range(4) for i in range(OWN)
	    if not (i % 4 == 0 and i < OWN - 1)}
expected |= {f"shared-{j:04d}" for j in range(1, SHARED, 2)}
with open(out, "w") as f:
	f.write("\n".join(sorted(expected)) + "\n")
sys.exit(1 if bad else 0)
PY

# check_names: the listing of names/ is exactly the expected set.
check_names() {
	ls -f "$M/names" | grep -v '^\.\.\?$' | LC_ALL=C sort > "$T/listed"
	diff "$T/expected" "$T/listed" >&2 ||
		fail "listing differs from the expected names ($1)"
	[ "$(wc -l < "$T/listed")" = 1700 ] ||
		fail "$(wc -l < "$T/listed") names listed, want 1700 ($1)"
	python3 - "$M/names" "$T/expected" <<'PY' || fail "stat of listed names ($1)"
import os, sys
d, exp = sys.argv[1], sys.argv[2]
names = open(exp).read().split()
for n in names:
	os.stat(os.path.join(d, n))
PY
}
check_names "before remount"

log "remount"
umount_strata
mount_strata
check_contents "after remount"
check_names "after remount"

umount_strata
echo "ok 004-concurrent-writers"
