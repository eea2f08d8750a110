#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/servers/ganesha.sh - one private NFS-Ganesha server for tests.
#
#   ganesha.sh start DIR NFSPORT MNTPORT   start a server exporting DIR/export
#                                          on 127.0.0.1 and print its URL
#   ganesha.sh stop DIR                    stop it and wait until it is gone
#   ganesha.sh restart DIR                 stop, then start on the same ports
#   ganesha.sh url DIR [PREFIX]            print the URL (with PREFIX below
#                                          the export) of a started server
#   ganesha.sh pause DIR / resume DIR      freeze the server with SIGSTOP
#                                          (it keeps its connections but
#                                          answers nothing) / thaw it
#
# Everything the server owns lives under DIR: the export (DIR/export), its
# config, log and pid file, and its recovery directory, which is wiped at
# every start. The server speaks NFSv3 (FSAL VFS, no root squash, attributes
# never cached) and is graceless, so writes work as soon as it answers rather
# than after a 90 s grace period. NFS_Port and MNT_Port are fixed and go into
# the URL (nfs://127.0.0.1/DIR/export?nfsport=N&mountport=M), so clients
# never ask rpcbind, which remembers only the last server registered. Two
# servers run side by side when their port pairs do not overlap; leave a gap
# of two between NFSPORT values. rpcbind is started (rpcbind -f, detached)
# if it is not running: Ganesha registers with it at start.
#
# `start` fails (status 1, with the log's tail) unless the server answers
# nfs-ls within 30 s. Needs root, ganesha.nfsd with the VFS FSAL, rpcbind
# and nfs-ls (packages nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils).

set -eu

die() {
	echo "ganesha.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '4,14s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

# alive PID: true while PID exists and is not a zombie.
alive() {
	local state

	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) ||
		return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# listening PORT: true if something accepts TCP connections on PORT.
listening() {
	(: > "/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# url DIR [PREFIX]
url() {
	local dir=$1 prefix=${2:-} nfsport mntport

	[ -r "$dir/ganesha/ports" ] || die "no server was started in $dir"
	read -r nfsport mntport < "$dir/ganesha/ports"
	echo "nfs://127.0.0.1$dir/export${prefix:+/$prefix}?nfsport=$nfsport&mountport=$mntport"
}

ensure_rpcbind() {
	# Not pgrep: a dead rpcbind may linger as a zombie.
	if listening 111; then
		return 0
	fi
	command -v rpcbind > /dev/null ||
		die "rpcbind is not installed (packaging/install-deps.sh)"
	mkdir -p /run/rpcbind
	# Not -h 127.0.0.1: rpcbind 1.2.6 crashes with it.
	setsid rpcbind -f < /dev/null > /dev/null 2>&1 &
	for _ in $(seq 1 100); do
		listening 111 && return 0
		sleep 0.05
	done
	die "rpcbind did not start listening on port 111"
}

write_conf() {
	local dir=$1 nfsport=$2 mntport=$3

	cat > "$dir/ganesha/ganesha.conf" <<CONF
# Written by integration/servers/ganesha.sh; rewritten at every start.
NFS_CORE_PARAM {
	Bind_addr = 127.0.0.1;
	NFS_Port = $nfsport;
	MNT_Port = $mntport;
	Protocols = 3;
	Enable_NLM = false;
	Enable_RQUOTA = false;
	Enable_UDP = false;
}
NFSv4 {
	Graceless = true;
	RecoveryRoot = "$dir/ganesha/recovery";
}
NFS_KRB5 {
	Active_krb5 = false;
}
MDCACHE {
	Dir_Chunk = 0;
}
EXPORT_DEFAULTS {
	Attr_Expiration_Time = 0;
}
EXPORT {
	Export_Id = 1;
	Path = "$dir/export";
	Pseudo = "$dir/export";
	Protocols = 3;
	Transports = TCP;
	Access_Type = RW;
	Squash = No_Root_Squash;
	SecType = sys;
	Attr_Expiration_Time = 0;
	FSAL {
		Name = VFS;
	}
}
LOG {
	Default_Log_Level = EVENT;
}
CONF
}

stop() {
	local dir=$1 pid

	[ -r "$dir/ganesha/pid" ] || return 0
	pid=$(cat "$dir/ganesha/pid" 2>/dev/null || true)
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		kill -CONT "$pid" 2>/dev/null || true # if paused
		for _ in $(seq 1 300); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			echo "ganesha.sh: pid $pid ignored SIGTERM for 30 s;" \
				"killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do
				alive "$pid" || break
				sleep 0.1
			done
			alive "$pid" && die "pid $pid survived SIGKILL"
		fi
	fi
	rm -f "$dir/ganesha/pid"
}

start() {
	local dir=$1 nfsport=$2 mntport=$3 pid='' probe

	case $dir in
	/*) ;;
	*) die "DIR must be an absolute path: $dir" ;;
	esac
	for p in "$nfsport" "$mntport"; do
		case $p in
		'' | *[!0-9]*) die "bad port '$p'" ;;
		esac
	done
	command -v ganesha.nfsd > /dev/null ||
		die "ganesha.nfsd is not installed (packaging/install-deps.sh)"
	command -v nfs-ls > /dev/null ||
		die "nfs-ls is not installed (libnfs-utils)"
	[ "$(id -u)" = 0 ] || die "NFS-Ganesha needs root"

	mkdir -p "$dir/export" "$dir/ganesha"
	stop "$dir"
	for p in "$nfsport" "$mntport"; do
		listening "$p" &&
			die "port $p on 127.0.0.1 is already in use"
	done
	ensure_rpcbind

	rm -rf "$dir/ganesha/recovery"
	mkdir -p "$dir/ganesha/recovery"
	echo "$nfsport $mntport" > "$dir/ganesha/ports"
	write_conf "$dir" "$nfsport" "$mntport"
	: > "$dir/ganesha/ganesha.log"
	# -L is the server's log; what it prints before opening it goes to
	# ganesha.out.
	setsid ganesha.nfsd -F -f "$dir/ganesha/ganesha.conf" \
		-L "$dir/ganesha/ganesha.log" -p "$dir/ganesha/pid" \
		< /dev/null > "$dir/ganesha/ganesha.out" 2>&1 &

	probe=$(url "$dir")
	for _ in $(seq 1 300); do
		if [ -z "$pid" ] && [ -s "$dir/ganesha/pid" ]; then
			pid=$(cat "$dir/ganesha/pid")
		fi
		if [ -n "$pid" ] && ! alive "$pid"; then
			break
		fi
		if nfs-ls "$probe" > /dev/null 2>&1; then
			[ -n "$pid" ] || pid=$(cat "$dir/ganesha/pid")
			alive "$pid" || break
			echo "$probe"
			return 0
		fi
		sleep 0.1
	done
	echo "ganesha.sh: the server in $dir did not answer $probe" >&2
	tail -n 30 "$dir/ganesha/ganesha.out" "$dir/ganesha/ganesha.log" >&2
	stop "$dir"
	exit 1
}

[ $# -ge 2 ] || usage
cmd=$1
dir=${2%/}
case $cmd in
start)
	[ $# = 4 ] || usage
	start "$dir" "$3" "$4"
	;;
stop)
	[ $# = 2 ] || usage
	stop "$dir"
	;;
restart)
	[ $# = 2 ] || usage
	[ -r "$dir/ganesha/ports" ] || die "no server was started in $dir"
	read -r nfsport mntport < "$dir/ganesha/ports"
	stop "$dir"
	start "$dir" "$nfsport" "$mntport"
	;;
pause | resume)
	[ $# = 2 ] || usage
	pid=$(cat "$dir/ganesha/pid" 2>/dev/null || true)
	alive "$pid" || die "no server is running in $dir"
	if [ "$cmd" = pause ]; then
		kill -STOP "$pid"
	else
		kill -CONT "$pid"
	fi
	;;
url)
	[ $# -le 3 ] || usage
	url "$dir" "${3:-}"
	;;
*)
	usage
	;;
esac
