#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/bench/policy.sh [options] [STRATA_BIN] - the policy engine's
# two speeds, each against direct access in the same run:
#
#  planner  a synthetic catalog of FILES files (1000 per directory) on one
#           tier, and a rules file of 10 rules; `strata rules plan` (one
#           whole evaluation pass, moving nothing) against a bare sqlite3
#           scan of the same rows (the ceiling). Prints the seconds, the
#           ratio, and the planner's peak memory at FILES/2 and at FILES
#           files (flat: memory must not grow with the file count; both
#           catalogs are larger than SQLite's page cache of 64 MiB).
#  mover    SMALL files of SMALL_KIB KiB written on tier nvme, then moved
#           to tier capacity by a migrate rule, timed from the mount until
#           nvme is empty, against `cp -a` of the same files between the
#           same directories followed by `sync` (the mover makes every copy
#           durable before it drops the source, so the peer does too).
#           Page caches are dropped before each. Prints MB/s and the ratio.
#
# Options (or environment):
#   --files N        catalog size for the planner (STRATA_BENCH_FILES, 1000000)
#   --small N        files the mover moves        (STRATA_BENCH_SMALL, 2000)
#   --small-kib N    their size in KiB            (STRATA_BENCH_SMALL_KIB, 512)
#   --dir DIR        work directory's parent      (STRATA_BENCH_DIR, /var/tmp)
#   --only LIST      planner,mover (both)
#   --quick          --files 100000 --small 500
# Run as root: dropping the page cache needs it.

set -eu
export LC_ALL=C

STRATA_SRC=$(cd "$(dirname "$0")/../.." && pwd)
STRATA_BIN=$STRATA_SRC/build/strata
FILES=${STRATA_BENCH_FILES:-1000000}
SMALL=${STRATA_BENCH_SMALL:-2000}
SMALL_KIB=${STRATA_BENCH_SMALL_KIB:-512}
BASE=${STRATA_BENCH_DIR:-/var/tmp}
ONLY=planner,mover

usage() {
	sed -n '3,27s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--files) FILES=$2; shift 2 ;;
	--small) SMALL=$2; shift 2 ;;
	--small-kib) SMALL_KIB=$2; shift 2 ;;
	--dir) BASE=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--quick) FILES=100000 SMALL=500; shift ;;
	-h | --help) usage ;;
	-*) echo "policy.sh: unknown option '$1'" >&2; usage ;;
	*) STRATA_BIN=$1; shift ;;
	esac
done
[ -x "$STRATA_BIN" ] || { echo "policy.sh: no strata binary at '$STRATA_BIN'" >&2; exit 1; }

W=$(mktemp -d "$BASE/strata-bench-policy.XXXXXX")
PID=
cleanup() {
	if [ -n "$PID" ]; then
		fusermount3 -u -z "$W/mnt" 2>/dev/null || true
		wait "$PID" 2>/dev/null || true
	fi
	rm -rf "$W"
}
trap cleanup EXIT

drop_caches() {
	sync
	echo 3 > /proc/sys/vm/drop_caches
}

now() {
	date +%s.%N
}

mkdir -p "$W/nvme" "$W/capacity" "$W/mnt"
cat > "$W/strata.conf" <<CONF
[namespace]
catalog = $W/catalog.db
site = bench
placement = nvme
rules = $W/rules

[tier nvme]
url = file://$W/nvme
capacity = 1TiB

[tier capacity]
url = file://$W/capacity
CONF

# fill_catalog FROM TO: files FROM..TO-1, 1000 per directory, all on nvme,
# sizes and times spread over the last 400 days so that each rule matches
# some files and not others.
fill_catalog() {
	local now

	now=$(date +%s)
	sqlite3 "$W/catalog.db" <<SQL
PRAGMA synchronous = OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1)
INSERT INTO inodes (ino, mode, uid, gid, nlink, size, atime, mtime, ctime,
                    btime, version)
SELECT 1000000000 + i, 33188, 1000 + i % 7, 100, 1, (i * 7919) % 300000000,
       ($now - (i % 400) * 86400) * 1000000000,
       ($now - (i % 300) * 86400) * 1000000000,
       ($now - (i % 300) * 86400) * 1000000000,
       ($now - (i % 500) * 86400) * 1000000000, 1 FROM n;
WITH RECURSIVE n(i) AS (SELECT $1 / 1000 UNION ALL SELECT i + 1 FROM n WHERE i < ($2 - 1) / 1000)
INSERT OR IGNORE INTO inodes (ino, mode, nlink, atime, mtime, ctime, btime)
SELECT 100 + i, 16877, 2, 0, 0, 0, 0 FROM n;
WITH RECURSIVE n(i) AS (SELECT $1 / 1000 UNION ALL SELECT i + 1 FROM n WHERE i < ($2 - 1) / 1000)
INSERT OR IGNORE INTO dentries (parent, name, ino)
SELECT 1, CASE i % 4 WHEN 0 THEN 'ckpt' WHEN 1 THEN 'datasets' WHEN 2 THEN 'scratch' ELSE 'home' END || i, 100 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1)
INSERT INTO dentries (parent, name, ino)
SELECT 100 + i / 1000, 'f' || i || CASE i % 3 WHEN 0 THEN '.pt' WHEN 1 THEN '.bin' ELSE '.txt' END,
       1000000000 + i FROM n;
WITH RECURSIVE n(i) AS (SELECT $1 UNION ALL SELECT i + 1 FROM n WHERE i < $2 - 1)
INSERT INTO replicas (ino, tier_id, key, version, size, state)
SELECT 1000000000 + i, (SELECT id FROM tiers WHERE name = 'nvme'), 'k' || i, 1,
       (i * 7919) % 300000000, 0 FROM n;
COMMIT;
SQL
}

# plan_run: "seconds peak_KiB" of one `strata rules plan`.
plan_run() {
	drop_caches
	/usr/bin/time -f '%e %M' -o "$W/time" \
		"$STRATA_BIN" rules plan -c "$W/strata.conf" > "$W/plan.out"
	cat "$W/time"
}

# scan_run: seconds of the bare scan the planner's pass makes at least.
scan_run() {
	local t0 t1

	drop_caches
	t0=$(now)
	sqlite3 "$W/catalog.db" "SELECT count(*), sum(i.size) FROM inodes AS i
		JOIN dentries AS d ON d.ino = i.ino
		JOIN replicas AS r ON r.ino = i.ino
		WHERE (i.mode & 61440) = 32768;" > /dev/null
	t1=$(now)
	echo "$t1 - $t0" | bc -l
}

bench_planner() {
	local small=$((FILES / 2)) p1 p2 scan

	cat > "$W/rules" <<'RULES'
interval 60s
ckpt:     place "/ckpt*/**" on nvme
ckpt-dr:  replicate "/ckpt*/**" to capacity when age > 30d and size > 250MiB
cold:     migrate "**" from nvme to capacity when atime > 300d and size >= 1MiB
old-pt:   migrate "*.pt" from nvme to capacity when mtime > 250d
scratch:  migrate "/scratch*/**" to capacity when mtime > 200d and not tag "keep"
big:      migrate "/datasets*/**" from nvme to capacity when size > 290MiB
alice:    migrate "/home*/**" to capacity when uid == 1003 and atime > 100d
txt:      migrate "*.txt" from nvme to capacity when size < 1KiB
drain:    evict nvme to capacity when used > 85% until used < 70% by atime
near:     cache "/datasets*/**" on nvme when read
RULES
	echo "--- planner: building a catalog of $small files" >&2
	"$STRATA_BIN" rules plan -c "$W/strata.conf" > /dev/null
	fill_catalog 0 "$small"
	p1=$(plan_run)
	echo "--- planner: growing it to $FILES files" >&2
	fill_catalog "$small" "$FILES"
	p2=$(plan_run)
	scan=$(scan_run)
	echo "planner: $(tail -n 1 "$W/plan.out")" >&2
	printf '%-34s %10s %10s %8s\n' "planner ($FILES files, 10 rules)" \
		"sqlite3 s" "strata s" "ratio"
	printf '%-34s %10.2f %10.2f %8.2f\n' "one pass (rules plan)" "$scan" \
		"${p2% *}" "$(echo "$scan / ${p2% *}" | bc -l)"
	printf '%-34s %10s %10s\n' "peak memory, KiB" "$small files" \
		"$FILES files"
	printf '%-34s %10s %10s\n' "" "${p1#* }" "${p2#* }"
}

bench_mover() {
	local t0 t1 bytes direct strata

	echo "--- mover: $SMALL files of $SMALL_KIB KiB" >&2
	rm -f "$W/rules" "$W/catalog.db"*
	"$STRATA_BIN" mount -f -c "$W/strata.conf" "$W/mnt" 2> "$W/mount.log" &
	PID=$!
	for _ in $(seq 1 100); do
		grep -q " $W/mnt fuse" /proc/self/mounts && break
		sleep 0.05
	done
	mkdir "$W/mnt/d"
	head -c $((SMALL_KIB * 1024)) /dev/urandom > "$W/one"
	for i in $(seq 1 "$SMALL"); do
		cp "$W/one" "$W/mnt/d/f$i"
	done
	"$STRATA_BIN" umount "$W/mnt"
	wait "$PID"
	PID=
	bytes=$((SMALL * SMALL_KIB * 1024))

	drop_caches
	t0=$(now)
	cp -a "$W/nvme" "$W/direct-copy"
	sync
	t1=$(now)
	direct=$(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l)
	rm -rf "$W/direct-copy"

	echo 'all: migrate "**" from nvme to capacity' > "$W/rules"
	drop_caches
	t0=$(now)
	"$STRATA_BIN" mount -f -c "$W/strata.conf" "$W/mnt" 2>> "$W/mount.log" &
	PID=$!
	while [ -n "$(find "$W/nvme" -type f -print -quit)" ]; do
		sleep 0.02
	done
	t1=$(now)
	strata=$(echo "$bytes / ($t1 - $t0) / 1000000" | bc -l)
	"$STRATA_BIN" umount "$W/mnt"
	wait "$PID"
	PID=
	printf '%-34s %10s %10s %8s\n' "mover ($SMALL x $SMALL_KIB KiB)" \
		"cp -a MB/s" "strata MB/s" "ratio"
	printf '%-34s %10.0f %10.0f %8.2f\n' "nvme -> capacity, durable" \
		"$direct" "$strata" "$(echo "$strata / $direct" | bc -l)"
}

case ",$ONLY," in *,planner,*) bench_planner ;; esac
case ",$ONLY," in *,mover,*) bench_mover ;; esac
