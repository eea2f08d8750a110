# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/lib.sh - shared helpers for integration cases. Source it first.
#
# Each case gets its own temporary directory ($T) holding a config, a catalog,
# tier directories and a mount point, mounts Strata for real through
# /dev/fuse with `strata mount -f` in the background, and unmounts in a trap.
# Exits 77 (ctest SKIP) only when /dev/fuse is missing, saying so.
#
# Environment: STRATA_BIN (the strata binary), STRATA_SRC (the source tree).
# With STRATA_TEST_DIRECT=1 no mount is made and $M is a plain directory:
# that checks a case's own expectations against the local kernel file system.

set -eu
export TZ=UTC LC_ALL=C

STRATA_SRC=${STRATA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
STRATA_BIN=${STRATA_BIN:-$STRATA_SRC/build/strata}
STRATA_TEST_DIRECT=${STRATA_TEST_DIRECT:-0}
# The cases' inline Python checks import itcheck from here.
export PYTHONPATH="$STRATA_SRC/integration${PYTHONPATH:+:$PYTHONPATH}"

if [ ! -c /dev/fuse ]; then
	echo "SKIP: /dev/fuse is missing: integration cases need FUSE" >&2
	exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/strata-it.XXXXXX")
M=$T/mnt
STRATA_PID=
mkdir -p "$M" "$T/tiers/nvme" "$T/tiers/capacity"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

log() {
	echo "--- $*"
}

# write_config [extra lines for the namespace section]
write_config() {
	cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $T/catalog.db
site = test
placement = nvme
entry_timeout = 1
attr_timeout = 1
${1:-}

[tier nvme]
url = file://$T/tiers/nvme

[tier capacity]
url = file://$T/tiers/capacity
CONF
}

# is_mounted DIR: true while DIR is a FUSE mount point.
is_mounted() {
	grep -q " $1 fuse" /proc/self/mounts
}

# mount_strata [-o OPTS]: mount $T/strata.conf at $M in the foreground
# process, in the background, and wait until the mount answers.
mount_strata() {
	if [ "$STRATA_TEST_DIRECT" = 1 ]; then
		return 0
	fi
	[ -f "$T/strata.conf" ] || write_config
	"$STRATA_BIN" mount -f -c "$T/strata.conf" "$@" "$M" \
		>> "$T/mount.log" 2>&1 &
	STRATA_PID=$!
	for _ in $(seq 1 200); do
		if is_mounted "$M"; then
			return 0
		fi
		if ! kill -0 "$STRATA_PID" 2>/dev/null; then
			cat "$T/mount.log" >&2
			fail "strata mount exited before the mount appeared"
		fi
		sleep 0.05
	done
	cat "$T/mount.log" >&2
	fail "mount did not appear within 10 s"
}

# wait_log TEXT: wait up to 30 s for TEXT in the mount's log.
wait_log() {
	for _ in $(seq 1 600); do
		grep -qF "$1" "$T/mount.log" && return 0
		sleep 0.05
	done
	cat "$T/mount.log" >&2
	fail "the mount never logged: $1"
}

# wait_exit PID: wait up to 30 s for the daemon to exit; fail if it did not
# exit cleanly (a sanitizer report makes the exit status non-zero).
wait_exit() {
	local pid=$1 rc=0

	wait "$pid" || rc=$?
	if [ "$rc" != 0 ]; then
		cat "$T/mount.log" >&2
		fail "strata mount exited with status $rc"
	fi
}

# umount_strata: unmount with `strata umount` and wait for the daemon.
umount_strata() {
	if [ "$STRATA_TEST_DIRECT" = 1 ] || [ -z "$STRATA_PID" ]; then
		return 0
	fi
	"$STRATA_BIN" umount "$M" || fail "strata umount failed"
	wait_exit "$STRATA_PID"
	STRATA_PID=
}

# kill9_strata: kill the daemon the hard way, and clean the dead mount.
kill9_strata() {
	if [ "$STRATA_TEST_DIRECT" = 1 ] || [ -z "$STRATA_PID" ]; then
		return 0
	fi
	kill -9 "$STRATA_PID"
	wait "$STRATA_PID" 2>/dev/null || true
	STRATA_PID=
	fusermount3 -u -z "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true
}

# on_exit 'COMMANDS': run COMMANDS when the case exits, however it exits,
# before the common cleanup below (the last registered first; failures are
# ignored). Cases add to this rather than replace the EXIT trap.
EXIT_HOOKS=()
on_exit() {
	EXIT_HOOKS+=("$1")
}

cleanup() {
	local rc=$? i

	set +e
	for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
		eval "${EXIT_HOOKS[i]}"
	done
	if [ -n "$STRATA_PID" ]; then
		fusermount3 -u -z "$M" 2>/dev/null || true
		kill "$STRATA_PID" 2>/dev/null || true
		wait "$STRATA_PID" 2>/dev/null || true
	fi
	nfs_stop_all
	s3_stop_all
	if [ "$rc" != 0 ] && [ -f "$T/mount.log" ]; then
		echo "--- mount log (last 40 lines)" >&2
		tail -n 40 "$T/mount.log" >&2
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The tests run as root; cases that act as other users use these accounts.
ensure_test_users() {
	getent group stratat >/dev/null || groupadd -g 4701 stratat
	getent group stratax >/dev/null || groupadd -g 4702 stratax
	id strata1 >/dev/null 2>&1 ||
		useradd -u 4701 -g stratat -G stratax -M -s /bin/sh strata1
	id strata2 >/dev/null 2>&1 ||
		useradd -u 4702 -g stratax -M -s /bin/sh strata2
}

# --- NFS servers (integration/servers/ganesha.sh) --------------------------
# Cases named NNN-nfs-*.sh run with the ctest fixture `nfs`, which starts two
# NFS-Ganesha servers and passes their export URLs in STRATA_TEST_NFS_URL and
# STRATA_TEST_NFS_URL2. A case may also start private servers under $T with
# nfs_start; those are stopped by the cleanup trap.
GANESHA=$STRATA_SRC/integration/servers/ganesha.sh
NFS_SERVERS=()

# write_nfs_config URL: a config with a local tier `nvme` and an NFS tier
# `nfs` at URL, new files placed on `nfs`, kernel caches kept short.
write_nfs_config() {
	cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $T/catalog.db
site = test
placement = nfs
entry_timeout = 1
attr_timeout = 1

[tier nvme]
url = file://$T/tiers/nvme

[tier nfs]
url = $1
CONF
}

# nfs_start DIR NFSPORT: start a server exporting DIR/export on NFSPORT and
# NFSPORT+1 (the mount protocol); set NFS_URL to its export's URL.
nfs_start() {
	NFS_SERVERS+=("$1")
	NFS_URL=$("$GANESHA" start "$1" "$2" $(($2 + 1))) ||
		fail "cannot start the NFS server in $1 on port $2"
}

# nfs_server VAR DIR NFSPORT: set NFS_URL from the environment variable VAR
# (the ctest fixture's server), or when VAR is unset start a private server
# in DIR on NFSPORT (a case run by hand).
nfs_server() {
	local url=${!1:-}

	if [ -n "$url" ]; then
		NFS_URL=$url
		return 0
	fi
	log "$1 is unset: starting a private NFS server on port $3"
	nfs_start "$2" "$3"
}

nfs_stop_all() {
	local d

	for d in ${NFS_SERVERS[@]+"${NFS_SERVERS[@]}"}; do
		"$GANESHA" stop "$d" || echo "could not stop the NFS server in $d" >&2
	done
	NFS_SERVERS=()
}

# nfs_url URL PREFIX: URL with PREFIX appended to its path.
nfs_url() {
	local base=${1%%\?*} query=

	case $1 in
	*\?*) query=?${1#*\?} ;;
	esac
	echo "${base%/}/$2$query"
}

# nfs_dir URL: the directory on this machine behind URL's path (the servers
# are local, so the path of an nfs://127.0.0.1/... URL is a local path).
nfs_dir() {
	local p=${1%%\?*}

	p=${p#nfs://*/}
	echo "/${p%/}"
}

# umount_strata_or_kill: umount_strata for cases where the daemon may hang
# on a backend (an NFS server gone): when `strata umount` fails because the
# daemon did not exit, print the daemon's thread stacks (if gdb is
# installed), kill it with SIGKILL so the cleanup trap cannot hang on it,
# and fail.
umount_strata_or_kill() {
	if [ "$STRATA_TEST_DIRECT" = 1 ] || [ -z "$STRATA_PID" ]; then
		return 0
	fi
	if ! "$STRATA_BIN" umount "$M"; then
		if command -v gdb > /dev/null; then
			echo "--- stacks of the daemon (pid $STRATA_PID)" >&2
			timeout 60 gdb -p "$STRATA_PID" -batch \
				-ex 'thread apply all bt' 2>/dev/null |
				grep -E '^(Thread|#)' | cut -c1-200 | head -n 80 >&2 ||
				true
		fi
		kill9_strata
		fail "strata umount failed: the daemon did not exit"
	fi
	wait_exit "$STRATA_PID"
	STRATA_PID=
}

# --- S3 server (integration/servers/radosgw.sh) -----------------------------
# Cases named NNN-s3-*.sh run with the ctest fixture `s3`, which starts one
# radosgw (a one-node Ceph) and passes its directory in STRATA_S3_DIR. Run
# by hand without it, s3_server starts a private one under $T (about 25 s)
# that the cleanup trap stops.
RADOSGW=${STRATA_RADOSGW:-$STRATA_SRC/integration/servers/radosgw.sh}
S3_PRIVATE=

# s3_server: set S3_DIR to the fixture's server, or start a private one.
s3_server() {
	if [ -n "${STRATA_S3_DIR:-}" ]; then
		S3_DIR=$STRATA_S3_DIR
		return 0
	fi
	S3_DIR=$T/s3
	log "STRATA_S3_DIR is unset: starting a private radosgw on port 20629"
	S3_PRIVATE=$S3_DIR
	"$RADOSGW" start "$S3_DIR" 20620 > /dev/null ||
		fail "cannot start radosgw in $S3_DIR"
}

s3_stop_all() {
	if [ -n "$S3_PRIVATE" ]; then
		"$RADOSGW" stop "$S3_PRIVATE" ||
			echo "could not stop radosgw in $S3_PRIVATE" >&2
		S3_PRIVATE=
	fi
}

# s3_url PREFIX [OPTIONS]: the tier URL of PREFIX in the server's bucket,
# with "&OPTIONS" appended.
s3_url() {
	echo "$("$RADOSGW" url "$S3_DIR" "$1")${2:+&$2}"
}

# s3 ARGS...: curl against the server as its user (see radosgw.sh curl).
s3() {
	"$RADOSGW" curl "$S3_DIR" "$@"
}

# s3_keys PREFIX: the keys under PREFIX/ in the bucket, one a line (at
# most 1000: enough for a case).
s3_keys() {
	s3 -s "/strata?list-type=2&prefix=$1%2F" |
		grep -o '<Key>[^<]*</Key>' | sed 's|<Key>\(.*\)</Key>|\1|'
}

# write_s3_config URL [PLACEMENT [LINES]]: a config with a local tier
# `nvme` and an S3 tier `s3` at URL, new files placed on PLACEMENT (`s3`),
# LINES added to [namespace], kernel caches kept short.
write_s3_config() {
	cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $T/catalog.db
site = test
placement = ${2:-s3}
entry_timeout = 1
attr_timeout = 1
${3:-}

[tier nvme]
url = file://$T/tiers/nvme

[tier s3]
url = $1
CONF
}
