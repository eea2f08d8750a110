#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/bench/local.sh [options] [STRATA_BIN] - Strata over one local
# tier against the plain directory under it and against mergerfs over a
# directory on the same disk, in the same run. Measures sequential write
# (dd, 1 MiB blocks, conv=fsync), sequential read cold (page cache dropped)
# and warm, random 4 KiB preads cold and warm, create / stat (cold dentry
# cache) / unlink of many empty files, and many 16 KiB files written then
# read back cold. Prints one table: test, direct, strata, mergerfs,
# strata/direct, strata/mergerfs. Higher is better everywhere. The targets
# take turns going first from round to round.
#
# Options (or environment):
#   --size MIB      big file size             (STRATA_BENCH_SIZE_MIB, 2048)
#   --files N       create/stat/unlink files  (STRATA_BENCH_FILES, 19000)
#   --small N       16 KiB files              (STRATA_BENCH_SMALL, 10000)
#   --reads N       random 4 KiB preads       (STRATA_BENCH_READS, 20000)
#   --dir DIR       where the work directory goes; the same disk for all three
#                   (STRATA_BENCH_DIR, /var/tmp)
#   --quick         --size 256 --files 2000 --small 1000 --reads 5000
#   --only LIST     targets to run, from direct,strata,mergerfs (all)
#   --rounds N      rounds, interleaved over the targets; the table shows
#                   medians                 (STRATA_BENCH_ROUNDS, 3)
#   --uring on|off|asis
#                   the fuse module's enable_uring for the run (restored
#                   after): on lets Strata take requests over io_uring
#                   (mergerfs 2.33 cannot)  (STRATA_BENCH_URING, on)
# MERGERFS_OPTS overrides the mergerfs options; STRATA_BENCH_MOUNT_OPTS adds
# `strata mount -o` options. Run as root: dropping the page cache needs it.

set -eu
export LC_ALL=C

STRATA_SRC=$(cd "$(dirname "$0")/../.." && pwd)
STRATA_BIN=$STRATA_SRC/build/strata
SIZE_MIB=${STRATA_BENCH_SIZE_MIB:-2048}
NFILES=${STRATA_BENCH_FILES:-19000}
NSMALL=${STRATA_BENCH_SMALL:-10000}
NREADS=${STRATA_BENCH_READS:-20000}
ROUNDS=${STRATA_BENCH_ROUNDS:-3}
URING=${STRATA_BENCH_URING:-on}
URING_PARAM=/sys/module/fuse/parameters/enable_uring
URING_OLD=
BASE=${STRATA_BENCH_DIR:-/var/tmp}
ONLY=direct,strata,mergerfs
MERGERFS_DEFAULT=cache.files=off,category.create=ff,dropcacheonclose=false
MERGERFS_OPTS=${MERGERFS_OPTS:-$MERGERFS_DEFAULT,fsname=bench-mergerfs}
STRATA_OPTS=${STRATA_BENCH_MOUNT_OPTS:-}

usage() {
	sed -n '3,30s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

while [ $# -gt 0 ]; do
	case $1 in
	--size) SIZE_MIB=$2; shift 2 ;;
	--files) NFILES=$2; shift 2 ;;
	--small) NSMALL=$2; shift 2 ;;
	--reads) NREADS=$2; shift 2 ;;
	--dir) BASE=$2; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	--rounds) ROUNDS=$2; shift 2 ;;
	--uring) URING=$2; shift 2 ;;
	--quick) SIZE_MIB=256 NFILES=2000 NSMALL=1000 NREADS=5000 ROUNDS=1; shift ;;
	-h | --help) usage ;;
	-*) echo "local.sh: unknown option '$1'" >&2; usage ;;
	*) STRATA_BIN=$1; shift ;;
	esac
done

case $URING in
on | off | asis) ;;
*) echo "local.sh: --uring takes on, off or asis, not '$URING'" >&2; exit 2 ;;
esac

W=$(mktemp -d "$BASE/strata-bench.XXXXXX")
STRATA_PID=
MERGERFS_PID=
NOTES=()

note() {
	NOTES+=("$*")
	echo "--- note: $*" >&2
}

mounted() {
	grep -qF " $1 " /proc/self/mounts
}

cleanup() {
	local rc=$?

	set +e
	if mounted "$W/strata-mnt"; then
		"$STRATA_BIN" umount "$W/strata-mnt" 2>/dev/null ||
			fusermount3 -u -z "$W/strata-mnt"
	fi
	if mounted "$W/mergerfs-mnt"; then
		fusermount3 -u "$W/mergerfs-mnt" ||
			fusermount3 -u -z "$W/mergerfs-mnt"
	fi
	for pid in $STRATA_PID $MERGERFS_PID; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	rm -rf "$W"
	[ -z "$URING_OLD" ] || echo "$URING_OLD" > "$URING_PARAM"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() {
	echo "--- $*" >&2
}

# --- the helper program ----------------------------------------------------
cat > "$W/bench.c" <<'EOF'
/* Timed file operations for local.sh; prints elapsed seconds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PER_DIR 1000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "bench: %s %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void name(char *buf, size_t len, const char *dir, long i)
{
	snprintf(buf, len, "%s/d%03ld/f%06ld", dir, i / PER_DIR, i);
}

int main(int argc, char **argv)
{
	static char buf[1 << 16] __attribute__((aligned(4096)));
	char path[4096];
	const char *op, *dir;
	long n, size, i;
	double t0;
	struct stat st;
	int fd;

	if (argc < 4) {
		fprintf(stderr, "usage: bench OP PATH N [SIZE]\n");
		return 2;
	}
	op = argv[1];
	dir = argv[2];
	n = atol(argv[3]);
	size = argc > 4 ? atol(argv[4]) : 0;
	memset(buf, 'x', sizeof(buf));
	t0 = now();
	if (!strcmp(op, "randread")) {
		uint64_t x = 88172645463325252ULL, blocks;

		fd = open(dir, O_RDONLY);
		if (fd < 0 || fstat(fd, &st))
			die("open", dir);
		blocks = st.st_size / 4096;
		for (i = 0; i < n; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			off_t off = (off_t)(x % blocks) * 4096;

			if (pread(fd, buf, 4096, off) != 4096)
				die("pread", dir);
		}
		close(fd);
	} else if (!strcmp(op, "create") || !strcmp(op, "write")) {
		for (i = 0; i < n; i++) {
			if (i % PER_DIR == 0) {
				snprintf(path, sizeof(path), "%s/d%03ld", dir,
					 i / PER_DIR);
				if (mkdir(path, 0755))
					die("mkdir", path);
			}
			name(path, sizeof(path), dir, i);
			fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
			if (fd < 0)
				die("create", path);
			for (long left = size; left > 0; left -= sizeof(buf)) {
				size_t len = sizeof(buf);

				if (left < (long)len)
					len = left;

				if (write(fd, buf, len) != (ssize_t)len)
					die("write", path);
			}
			if (close(fd))
				die("close", path);
		}
	} else if (!strcmp(op, "stat")) {
		for (i = 0; i < n; i++) {
			name(path, sizeof(path), dir, i);
			if (stat(path, &st) || st.st_size != size)
				die("stat", path);
		}
	} else if (!strcmp(op, "read")) {
		for (i = 0; i < n; i++) {
			long got = 0;
			ssize_t r;

			name(path, sizeof(path), dir, i);
			fd = open(path, O_RDONLY);
			if (fd < 0)
				die("open", path);
			while ((r = read(fd, buf, sizeof(buf))) > 0)
				got += r;
			if (r < 0 || got != size)
				die("read", path);
			close(fd);
		}
	} else if (!strcmp(op, "unlink")) {
		for (i = 0; i < n; i++) {
			name(path, sizeof(path), dir, i);
			if (unlink(path))
				die("unlink", path);
		}
	} else {
		fprintf(stderr, "bench: unknown op %s\n", op);
		return 2;
	}
	printf("%.6f\n", now() - t0);
	return 0;
}
EOF
cc -O2 -Wall -o "$W/bench" "$W/bench.c" ||
	{ echo "local.sh: cannot build the helper" >&2; exit 1; }

# --- measuring -------------------------------------------------------------
CAN_DROP=1
drop_caches() {
	sync
	[ "$CAN_DROP" = 1 ] || return 0
	if ! echo 3 2>/dev/null > /proc/sys/vm/drop_caches; then
		CAN_DROP=0
		note "cannot drop the page cache (not root?): 'cold' is warm"
	fi
}

# elapsed CMD...: run CMD, print its wall time in seconds.
elapsed() {
	local t0 t1

	t0=$(date +%s%N)
	"$@" > /dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000))e-6
}

# rate AMOUNT SECONDS: AMOUNT per second, rounded.
rate() {
	awk -v a="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0 ? a / s : 0) }'
}

declare -A R	# R[test,target] = number
TESTS=()

record() {
	local test=$1 target=$2 value=$3

	[[ " ${TESTS[*]} " == *" $test "* ]] || TESTS+=("$test")
	R[$test,$target]="${R[$test,$target]:-} $value"
	printf '    %-34s %-8s %s\n' "$test" "$target" "$value" >&2
}

# run_target NAME DIR: the whole suite in DIR, which is then emptied.
run_target() {
	local t=$1 d=$2 s

	log "$t: $d"
	s=$(elapsed dd if=/dev/zero of="$d/big" bs=1M count="$SIZE_MIB" \
		conv=fsync status=none)
	record "seq write 1M (MiB/s)" "$t" "$(rate "$SIZE_MIB" "$s")"
	drop_caches
	s=$(elapsed dd if="$d/big" of=/dev/null bs=1M status=none)
	record "seq read cold 1M (MiB/s)" "$t" "$(rate "$SIZE_MIB" "$s")"
	s=$(elapsed dd if="$d/big" of=/dev/null bs=1M status=none)
	record "seq read warm 1M (MiB/s)" "$t" "$(rate "$SIZE_MIB" "$s")"
	s=$("$W/bench" randread "$d/big" "$NREADS")
	record "rand read warm 4K (ops/s)" "$t" "$(rate "$NREADS" "$s")"
	drop_caches
	s=$("$W/bench" randread "$d/big" "$NREADS")
	record "rand read cold 4K (ops/s)" "$t" "$(rate "$NREADS" "$s")"
	rm -f "$d/big"
	sync # the freeing of its blocks is not the next test's cost

	mkdir "$d/meta"
	s=$("$W/bench" create "$d/meta" "$NFILES")
	record "create $NFILES (files/s)" "$t" "$(rate "$NFILES" "$s")"
	drop_caches
	s=$("$W/bench" stat "$d/meta" "$NFILES")
	record "stat cold $NFILES (files/s)" "$t" "$(rate "$NFILES" "$s")"
	s=$("$W/bench" unlink "$d/meta" "$NFILES")
	record "unlink $NFILES (files/s)" "$t" "$(rate "$NFILES" "$s")"
	rm -rf "$d/meta"

	mkdir "$d/small"
	s=$("$W/bench" write "$d/small" "$NSMALL" 16384)
	record "write $NSMALL x 16K (files/s)" "$t" "$(rate "$NSMALL" "$s")"
	drop_caches
	s=$("$W/bench" read "$d/small" "$NSMALL" 16384)
	record "read cold $NSMALL x 16K (files/s)" "$t" "$(rate "$NSMALL" "$s")"
	rm -rf "$d/small"
	sync
}

# wait_mount DIR PID LOG: wait up to 10 s for DIR to become a mount point.
wait_mount() {
	for _ in $(seq 1 200); do
		mounted "$1" && return 0
		kill -0 "$2" 2>/dev/null || break
		sleep 0.05
	done
	tail -n 20 "$3" >&2
	return 1
}

want() {
	[[ ",$ONLY," == *",$1,"* ]]
}

avail=$(df -Pk "$W" | awk 'NR == 2 { print int($4 / 1024) }')
[ "$avail" -gt $((SIZE_MIB + NSMALL / 32 + 1024)) ] || {
	echo "local.sh: $W has $avail MiB free; the run needs" \
		"$((SIZE_MIB + NSMALL / 32 + 1024))" >&2
	exit 1
}
DISK=$(df -P "$W" | awk 'NR == 2 { print $1 }')
log "work directory $W ($DISK), size $SIZE_MIB MiB, files $NFILES," \
	"small $NSMALL, reads $NREADS"
start=$(date +%s)

# The fuse module reads enable_uring when a mount starts.
if [ "$URING" != asis ]; then
	if [ -w "$URING_PARAM" ]; then
		URING_OLD=$(cat "$URING_PARAM")
		if [ "$URING" = on ]; then
			echo Y > "$URING_PARAM"
		else
			echo N > "$URING_PARAM"
		fi
	else
		note "cannot set $URING_PARAM (kernel before 6.14, or not root):" \
			"io_uring left as it is"
	fi
fi
URING_NOW=$(cat "$URING_PARAM" 2>/dev/null || echo -)

# Mount everything first, then run the rounds interleaved (direct, strata,
# mergerfs, direct, ...) so each target sees the machine in the same state;
# the table shows each figure's median over the rounds.
TARGETS=()
if want direct; then
	mkdir "$W/direct"
	TARGETS+=("direct:$W/direct")
fi

if want strata; then
	mkdir -p "$W/strata-tier" "$W/strata-cat" "$W/strata-mnt"
	cat > "$W/strata.conf" <<CONF
[namespace]
catalog = $W/strata-cat/catalog.db
site = bench
placement = nvme

[tier nvme]
url = file://$W/strata-tier
CONF
	if [ ! -x "$STRATA_BIN" ]; then
		note "strata: $STRATA_BIN is missing; build it (make build)"
	else
		"$STRATA_BIN" mount -f -c "$W/strata.conf" \
			${STRATA_OPTS:+-o "$STRATA_OPTS"} "$W/strata-mnt" \
			> "$W/strata.log" 2>&1 &
		STRATA_PID=$!
		if wait_mount "$W/strata-mnt" $STRATA_PID "$W/strata.log"; then
			TARGETS+=("strata:$W/strata-mnt")
		else
			note "strata: the mount did not come up (see above)"
		fi
	fi
fi

if want mergerfs; then
	mkdir -p "$W/mergerfs-src" "$W/mergerfs-mnt"
	if ! command -v mergerfs > /dev/null; then
		note "mergerfs: not installed (packaging/install-deps.sh)"
	else
		mergerfs -f -o "$MERGERFS_OPTS" "$W/mergerfs-src" \
			"$W/mergerfs-mnt" > "$W/mergerfs.log" 2>&1 &
		MERGERFS_PID=$!
		if wait_mount "$W/mergerfs-mnt" $MERGERFS_PID \
			"$W/mergerfs.log"; then
			TARGETS+=("mergerfs:$W/mergerfs-mnt")
		else
			note "mergerfs: the mount did not come up (see above)"
		fi
	fi
fi

# Each round starts with the next target: whatever writes first after the
# previous suite's removals is measured differently on this kind of disk.
for round in $(seq 1 "$ROUNDS"); do
	for i in "${!TARGETS[@]}"; do
		t=${TARGETS[$(((i + round - 1) % ${#TARGETS[@]}))]}
		log "round $round of $ROUNDS"
		run_target "${t%%:*}" "${t#*:}"
	done
done

if [ -n "$STRATA_PID" ]; then
	"$STRATA_BIN" umount "$W/strata-mnt" || note "strata: umount failed"
	wait $STRATA_PID || note "strata: the daemon exited $?"
	STRATA_PID=
fi
if [ -n "$MERGERFS_PID" ]; then
	fusermount3 -u "$W/mergerfs-mnt"
	wait "$MERGERFS_PID" || true
	MERGERFS_PID=
fi

# --- the table -------------------------------------------------------------
ratio() {
	if [ -n "${1:-}" ] && [ -n "${2:-}" ] && [ "$2" != 0 ]; then
		awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'
	else
		echo -
	fi
}

echo
MERGERFS_VERSION=$(mergerfs --version 2>/dev/null | head -n 1 |
	sed 's/^mergerfs version: //')
echo "Strata local benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')," \
	"$(uname -r), $(nproc) CPUs"
echo "disk: $DISK; big file $SIZE_MIB MiB; medians of $ROUNDS rounds;" \
	"took $(($(date +%s) - start)) s"
echo "strata: $STRATA_BIN${STRATA_OPTS:+ -o $STRATA_OPTS}" \
	"(default config: entry_timeout = attr_timeout = 10 s);" \
	"fuse enable_uring: $URING_NOW; $(grep -o 'FUSE over io_uring[^"]*' \
		"$W/strata.log" 2>/dev/null | head -n 1 || true)"
echo "mergerfs: ${MERGERFS_VERSION:-?} -o $MERGERFS_OPTS"
echo
printf '%-34s %10s %10s %10s %14s %16s\n' test direct strata mergerfs \
	strata/direct strata/mergerfs
# median VALUES...: the middle value (the lower middle of an even count).
median() {
	[ $# -gt 0 ] || return 0
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { print v[int((NR + 1) / 2)] }'
}

for test in "${TESTS[@]}"; do
	# shellcheck disable=SC2086 # the recorded values are space-separated
	d=$(median ${R[$test,direct]:-})
	# shellcheck disable=SC2086
	s=$(median ${R[$test,strata]:-})
	# shellcheck disable=SC2086
	m=$(median ${R[$test,mergerfs]:-})
	printf '%-34s %10s %10s %10s %14s %16s\n' "$test" "${d:--}" "${s:--}" \
		"${m:--}" "$(ratio "$s" "$d")" "$(ratio "$s" "$m")"
done
for n in "${NOTES[@]}"; do
	echo "note: $n"
done
