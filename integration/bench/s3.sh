#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/bench/s3.sh [options] [STRATA_BIN] - Strata over an S3 tier
# against curl talking to the same radosgw directly (the ceiling: one HTTP
# stream, no FUSE, no Strata), in the same run. Starts a private one-node
# Ceph with radosgw (integration/servers/radosgw.sh) under the work
# directory. Measures:
#   upload: dd (1 MiB blocks, conv=fsync) of one big file onto the mount,
#     whose placement tier is the bucket (staged on a local tier, uploaded
#     at fsync in parts of partsize, several in flight), against one
#     `curl -T` PUT of the same file; both read a source in the page cache,
#     and they take turns to go first.
#   seq read: the file read cold (page cache dropped) through the mount in
#     1 MiB reads (ranged GETs with read-ahead), against `curl` GETting the
#     object; both into nothing. Time to first byte: open to the first byte
#     of the first read on the mount; curl's time_starttransfer.
# Prints one table: test, curl, strata, strata/curl. MB/s are 10^6 bytes
# per second (higher is better); TTFB in ms (lower is better).
#
# Options (or environment):
#   --size MIB      big file size             (STRATA_BENCH_SIZE_MIB, 1024)
#   --dir DIR       where the work directory goes (STRATA_BENCH_DIR, /var/tmp;
#                   keep it short: Ceph's admin sockets)
#   --port N        first of ten ports for Ceph (STRATA_BENCH_S3_PORT, 20640)
#   --runs N        repeat each measurement N times, report the best (1)
#   --quick         --size 256
# STRATA_BENCH_MOUNT_OPTS adds `strata mount -o` options;
# STRATA_BENCH_S3_OPTS adds tier URL options (say conns=16). Run as root.

set -eu
export LC_ALL=C

STRATA_SRC=$(cd "$(dirname "$0")/../.." && pwd)
STRATA_BIN=$STRATA_SRC/build/strata
RADOSGW=$STRATA_SRC/integration/servers/radosgw.sh
SIZE_MIB=${STRATA_BENCH_SIZE_MIB:-1024}
BASE=${STRATA_BENCH_DIR:-/var/tmp}
PORT=${STRATA_BENCH_S3_PORT:-20640}
RUNS=1
STRATA_OPTS=${STRATA_BENCH_MOUNT_OPTS:-}
S3_OPTS=${STRATA_BENCH_S3_OPTS:-}

usage() {
	sed -n '3,31s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE_MIB=$2; shift 2 ;;
	--dir) BASE=$2; shift 2 ;;
	--port) PORT=$2; shift 2 ;;
	--runs) RUNS=$2; shift 2 ;;
	--quick) SIZE_MIB=256; shift ;;
	-h | --help) usage ;;
	-*) echo "s3.sh: unknown option '$1'" >&2; usage ;;
	*) STRATA_BIN=$1; shift ;;
	esac
done

[ -x "$STRATA_BIN" ] ||
	{ echo "s3.sh: $STRATA_BIN is missing; build it (make build)" >&2; exit 1; }

W=$(mktemp -d "$BASE/s3b.XXXXXX")
STRATA_PID=
NOTES=()

note() {
	NOTES+=("$*")
	echo "--- note: $*" >&2
}

log() {
	echo "--- $*" >&2
}

mounted() {
	grep -qF " $1 " /proc/self/mounts
}

cleanup() {
	local rc=$?

	set +e
	if mounted "$W/mnt"; then
		"$STRATA_BIN" umount "$W/mnt" 2>/dev/null ||
			fusermount3 -u -z "$W/mnt"
	fi
	if [ -n "$STRATA_PID" ]; then
		kill "$STRATA_PID" 2>/dev/null
		wait "$STRATA_PID" 2>/dev/null
	fi
	"$RADOSGW" stop "$W/s3"
	rm -rf "$W"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

avail=$(df -Pk "$W" | awk 'NR == 2 { print int($4 / 1024) }')
[ "$avail" -gt $((4 * SIZE_MIB + 2048)) ] || {
	echo "s3.sh: $W has $avail MiB free; the run needs" \
		"$((4 * SIZE_MIB + 2048))" >&2
	exit 1
}

drop_caches() {
	sync
	echo 3 2>/dev/null > /proc/sys/vm/drop_caches ||
		note "cannot drop the page cache (not root?): 'cold' is warm"
}

# elapsed CMD...: run CMD, print its wall time in seconds.
elapsed() {
	local t0 t1

	t0=$(date +%s%N)
	"$@" > /dev/null || { echo "s3.sh: failed: $*" >&2; return 1; }
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))e-6
}

mbps() {
	awk -v b=$((SIZE_MIB * 1048576)) -v s="$1" \
		'BEGIN { printf "%.0f", (s > 0 ? b / 1e6 / s : 0) }'
}

declare -A R # R[test,target], the best of RUNS
TESTS=()

# record TEST TARGET VALUE LOWER: LOWER=1 when smaller is better.
record() {
	local test=$1 target=$2 value=$3 lower=${4:-0} old

	[[ " ${TESTS[*]} " == *" $test "* ]] || TESTS+=("$test")
	old=${R[$test,$target]:-}
	if [ -z "$old" ] || { [ "$lower" = 1 ] && [ "$value" -lt "$old" ]; } ||
		{ [ "$lower" = 0 ] && [ "$value" -gt "$old" ]; }; then
		R[$test,$target]=$value
	fi
	printf '    %-26s %-8s %s\n' "$test" "$target" "$value" >&2
}

start=$(date +%s)
log "work directory $W, size $SIZE_MIB MiB, runs $RUNS"
log "starting radosgw (a one-node Ceph; about 25 s)"
"$RADOSGW" start "$W/s3" "$PORT" > /dev/null
mkdir -p "$W/cat" "$W/mnt" "$W/nvme"
TIER_URL="$("$RADOSGW" url "$W/s3" bench)${S3_OPTS:+&$S3_OPTS}"

log "source file: $SIZE_MIB MiB of random bytes, kept in the page cache"
head -c $((SIZE_MIB * 1048576)) /dev/urandom > "$W/src"
cat "$W/src" > /dev/null

cat > "$W/strata.conf" <<CONF
[namespace]
catalog = $W/cat/catalog.db
site = bench
placement = s3

[tier nvme]
url = file://$W/nvme

[tier s3]
url = $TIER_URL
CONF
"$STRATA_BIN" mount -f -c "$W/strata.conf" ${STRATA_OPTS:+-o "$STRATA_OPTS"} \
	"$W/mnt" > "$W/strata.log" 2>&1 &
STRATA_PID=$!
for _ in $(seq 1 200); do
	mounted "$W/mnt" && break
	kill -0 "$STRATA_PID" 2>/dev/null || break
	sleep 0.05
done
mounted "$W/mnt" || {
	tail -n 20 "$W/strata.log" >&2
	echo "s3.sh: the strata mount did not come up" >&2
	exit 1
}

# The mount's read: "TTFB_MS MBPS" for a cold sequential read.
mount_read() {
	python3 - "$1" <<'PY'
import os, sys, time
t0 = time.monotonic()
fd = os.open(sys.argv[1], os.O_RDONLY)
first = os.read(fd, 1 << 20)
t1 = time.monotonic()
n = len(first)
while True:
    b = os.read(fd, 1 << 20)
    if not b:
        break
    n += len(b)
t2 = time.monotonic()
os.close(fd)
print("%d %d %d" % ((t1 - t0) * 1000, n / 1e6 / (t2 - t0), n))
PY
}

for run in $(seq 1 "$RUNS"); do
	log "run $run of $RUNS"
	rm -f "$W/mnt/big"
	"$RADOSGW" curl "$W/s3" -sf -X DELETE /strata/direct-big || true
	cat "$W/src" > /dev/null

	# Alternate who goes first: the OSD may still be busy with the bytes
	# of the upload before.
	for who in $([ $((run % 2)) = 1 ] && echo curl strata || echo strata curl); do
		sync
		sleep 2
		if [ "$who" = curl ]; then
			s=$(elapsed "$RADOSGW" curl "$W/s3" -sf -T "$W/src" \
				/strata/direct-big)
		else
			s=$(elapsed dd if="$W/src" of="$W/mnt/big" bs=1M \
				conv=fsync status=none)
		fi
		record "upload (MB/s)" "$who" "$(mbps "$s")"
	done
	# The staged copy goes once the file is closed (release is async).
	for _ in $(seq 1 600); do
		[ -z "$(find "$W/nvme" -type f)" ] && break
		sleep 0.1
	done
	[ -z "$(find "$W/nvme" -type f)" ] ||
		note "strata: the staged copy was still there after 60 s"

	drop_caches
	out=$("$RADOSGW" curl "$W/s3" -sf -o /dev/null \
		-w '%{time_starttransfer} %{time_total} %{size_download}' \
		/strata/direct-big)
	read -r ttfb total got <<< "$out"
	[ "$got" = $((SIZE_MIB * 1048576)) ] || note "curl GET got $got bytes"
	record "seq read cold (MB/s)" curl "$(mbps "$total")"
	record "time to first byte (ms)" curl \
		"$(awk -v t="$ttfb" 'BEGIN { printf "%.0f", t * 1000 }')" 1
	drop_caches
	read -r ttfb rate got <<< "$(mount_read "$W/mnt/big")"
	[ "$got" = $((SIZE_MIB * 1048576)) ] || note "strata read $got bytes"
	record "seq read cold (MB/s)" strata "$rate"
	record "time to first byte (ms)" strata "$ttfb" 1
done
cmp "$W/src" "$W/mnt/big" || note "strata: the file read back differs"
"$STRATA_BIN" umount "$W/mnt" || note "strata: umount failed"
wait "$STRATA_PID" || note "strata: the daemon exited $?"
STRATA_PID=

ratio() {
	if [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$2" != 0 ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
	else
		echo -
	fi
}

echo
echo "Strata S3 benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')," \
	"$(uname -r), $(nproc) CPUs"
echo "server: radosgw $(dpkg-query -W -f '${Version}' radosgw 2>/dev/null)" \
	"(beast, one ceph-osd on BlueStore in a file, 127.0.0.1); file" \
	"$SIZE_MIB MiB; best of $RUNS; took $(($(date +%s) - start)) s"
echo "strata: $STRATA_BIN${STRATA_OPTS:+ -o $STRATA_OPTS}, tier url" \
	"...${TIER_URL#*\?}" | sed 's|credentials=[^&]*|credentials=...|'
echo "curl: $(curl --version | head -n 1 | cut -d' ' -f1-2)"
echo
printf '%-26s %10s %10s %12s\n' test curl strata strata/curl
for test in "${TESTS[@]}"; do
	c=${R[$test,curl]:-}
	s=${R[$test,strata]:-}
	printf '%-26s %10s %10s %12s\n' "$test" "${c:--}" "${s:--}" \
		"$(ratio "$s" "$c")"
done
for n in ${NOTES[@]+"${NOTES[@]}"}; do
	echo "note: $n"
done
