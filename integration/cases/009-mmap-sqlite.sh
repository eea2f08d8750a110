#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 009-mmap-sqlite: shared memory maps and SQLite work on the mount. Writes
# through a MAP_SHARED map (across page boundaries, then growing the file and
# writing into the new part), checks the bytes through a separate open, the
# reverse direction (write() seen by an existing map), and the content after
# a remount. Then an SQLite database in WAL mode (shared-memory index and
# POSIX locks on the mount): two processes with connections open at the same
# time insert 10,000 rows in alternating transactions while the other reads;
# journal_mode, row count, sums and integrity_check are checked before and
# after a remount.

. "$(dirname "$0")/../lib.sh"

write_config
mount_strata

log "shared mmap"
python3 - "$M/mapped" "$T/mapped.sum" <<'PY' || fail "mmap checks"
import hashlib, mmap, os, sys

p, sumfile = sys.argv[1], sys.argv[2]
PG = mmap.PAGESIZE
from itcheck import check, finish

size = 64 * PG
fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
os.ftruncate(fd, size)
m = mmap.mmap(fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
want = bytearray(size)
for off, data in ((0, b"first page"), (PG - 3, b"straddles"),
		  (10 * PG, os.urandom(3 * PG)), (size - 5, b"last!")):
	m[off:off + len(data)] = data
	want[off:off + len(data)] = data
m.flush()
with open(p, "rb") as f:
	check(f.read() == bytes(want), "separate open reads the mapped writes")

# write() into the file shows up in the existing map.
os.pwrite(fd, b"via write", 20 * PG + 1)
want[20 * PG + 1:20 * PG + 10] = b"via write"
check(m[20 * PG + 1:20 * PG + 10] == b"via write", "map sees write()")

# Grow the file and map the new part.
m.close()
os.ftruncate(fd, 2 * size)
want += bytes(size)
m = mmap.mmap(fd, 2 * size, mmap.MAP_SHARED)
tail = os.urandom(size)
m[size:] = tail
want[size:] = tail
m.flush()
m.close()
os.close(fd)
check(os.stat(p).st_size == 2 * size, "size after growing under the map")
with open(p, "rb") as f:
	check(f.read() == bytes(want), "content after growing and mapping")

# Write through a map with no msync, then munmap and close: must land too.
fd = os.open(p, os.O_RDWR)
m = mmap.mmap(fd, 2 * size, mmap.MAP_SHARED)
m[5 * PG:5 * PG + 7] = b"no sync"
want[5 * PG:5 * PG + 7] = b"no sync"
m.close()
os.close(fd)
with open(p, "rb") as f:
	check(f.read() == bytes(want), "unsynced map writes reach the file")

# A private map never writes back.
fd = os.open(p, os.O_RDWR)
m = mmap.mmap(fd, PG, mmap.MAP_PRIVATE)
m[0:7] = b"private"
m.close()
os.close(fd)
with open(p, "rb") as f:
	check(f.read(7) == bytes(want[:7]), "MAP_PRIVATE writes stay private")

with open(sumfile, "w") as f:
	f.write(hashlib.sha256(want).hexdigest() + "  mapped\n")
finish()
PY

log "sqlite in WAL mode, two processes"
python3 - "$M/db.sqlite" <<'PY' || fail "sqlite checks"
import multiprocessing as mp, sqlite3, sys

db = sys.argv[1]
ROUNDS, PER = 20, 500		# 20 transactions of 500 rows = 10,000

def connect():
	c = sqlite3.connect(db, timeout=30, isolation_level=None)
	mode = c.execute("PRAGMA journal_mode=wal").fetchone()[0]
	if mode != "wal":
		sys.exit(f"journal_mode=wal returned {mode!r}")
	return c

def worker(me, turn, cond, errs):
	try:
		c = connect()
		for r in range(ROUNDS):
			with cond:
				# The reader of round r may arrive after it ended.
				cond.wait_for(lambda: turn.value >= r or turn.value < 0,
					      timeout=120)
				if turn.value < r:
					raise RuntimeError(f"no round {r}: timeout or "
							   "the other process failed")
			if r % 2 == me:
				c.execute("BEGIN IMMEDIATE")
				c.executemany(
					"INSERT INTO t (id, who, payload) VALUES (?, ?, ?)",
					((r * PER + i, me, f"row {r * PER + i} " + "p" * (i % 200))
					 for i in range(PER)))
				c.execute("COMMIT")
				with cond:
					turn.value = r + 1
					cond.notify_all()
			else:
				# The other process reads while this round is written.
				n = c.execute("SELECT count(*) FROM t").fetchone()[0]
				if n not in (r * PER, (r + 1) * PER):
					raise RuntimeError(f"round {r}: reader saw {n} rows")
		c.close()
	except BaseException as e:
		errs.put(f"process {me}: {e!r}")
		with cond:
			turn.value = -1000
			cond.notify_all()
		raise

c = connect()
c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, who INTEGER, payload TEXT)")
c.execute("CREATE INDEX t_who ON t (who)")
turn, cond, errs = mp.Value("i", 0), mp.Condition(), mp.Queue()
procs = [mp.Process(target=worker, args=(k, turn, cond, errs)) for k in (0, 1)]
for p in procs:
	p.start()
for p in procs:
	p.join()
if not errs.empty() or any(p.exitcode for p in procs):
	sys.exit(errs.get() if not errs.empty() else "a writer failed")
n, s = c.execute("SELECT count(*), sum(id) FROM t").fetchone()
if (n, s) != (ROUNDS * PER, sum(range(ROUNDS * PER))):
	sys.exit(f"count/sum {n}/{s}")
by = c.execute("SELECT who, count(*) FROM t GROUP BY who ORDER BY who").fetchall()
if by != [(0, ROUNDS * PER // 2), (1, ROUNDS * PER // 2)]:
	sys.exit(f"rows per process {by}")
ic = c.execute("PRAGMA integrity_check").fetchone()[0]
if ic != "ok":
	sys.exit(f"integrity_check: {ic}")
c.close()
print("10000 rows from two processes, integrity ok")
PY

# db_ok WHEN: the database still reads back right, with the sqlite3 CLI.
db_ok() {
	local out

	out=$(sqlite3 "$M/db.sqlite" 'PRAGMA journal_mode;' \
		'PRAGMA integrity_check;' 'SELECT count(*), sum(id) FROM t;') ||
		fail "sqlite3 cannot read the database ($1)"
	[ "$out" = "$(printf 'wal\nok\n10000|49995000')" ] ||
		fail "database $1: got '$out'"
}
db_ok "before remount"

log "remount"
umount_strata
mount_strata
(cd "$M" && sha256sum --quiet -c "$T/mapped.sum") ||
	fail "mapped file changed across the remount"
db_ok "after remount"
sqlite3 "$M/db.sqlite" "INSERT INTO t (id, who, payload) VALUES (10000, 2, 'x');" ||
	fail "insert after remount"
[ "$(sqlite3 "$M/db.sqlite" 'SELECT count(*) FROM t')" = 10001 ] ||
	fail "row count after an insert on the remounted database"

umount_strata
echo "ok 009-mmap-sqlite"
