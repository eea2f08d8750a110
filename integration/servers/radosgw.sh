#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/servers/radosgw.sh - one private S3 server (Ceph radosgw) for tests.
#
#   radosgw.sh start DIR PORT      start a one-node Ceph under DIR: ceph-mon
#                                  on PORT, ceph-osd on PORT+1..7, radosgw
#                                  (beast) on PORT+9 (http) and PORT+8
#                                  (https, a private CA); make user, bucket
#   radosgw.sh stop DIR            stop all three and wait until gone
#   radosgw.sh rgw-stop DIR        stop radosgw only (the S3 outage tests)
#   radosgw.sh rgw-start DIR       start radosgw again on the same port
#   radosgw.sh rgw-pause DIR       freeze radosgw (SIGSTOP): it accepts
#   radosgw.sh rgw-resume DIR      connections but answers nothing; thaw
#   radosgw.sh url DIR [PREFIX]    print the tier URL of bucket 'strata'
#   radosgw.sh creds DIR           print the path of the credentials file
#   radosgw.sh endpoint DIR        print http://127.0.0.1:PORT+9
#   radosgw.sh https DIR           print https://localhost:PORT+8
#   radosgw.sh ca DIR              print the private CA's certificate file
#   radosgw.sh curl DIR ARGS...    run curl as user 'strata' (SigV4; the
#                                  keys go to curl on stdin, never argv);
#                                  an ARG starting /strata (the bucket)
#                                  gets the endpoint in front
#
# Everything lives under DIR (keep it short: Ceph's admin sockets are Unix
# sockets, whose paths must stay under about 100 bytes): ceph.conf, the
# keyrings, the monitor's store, the OSD's BlueStore on a sparse 32 GiB
# file (a full OSD makes radosgw hang every request), logs, pid files,
# and the credentials file (mode 0600, AWS shared-credentials
# format) of the user 'strata', whose keys are made at random at each start.
# Debian 12's Ceph 16 has no dbstore, so radosgw needs the mon+osd pair; no
# ceph-mgr runs. `ms mon client mode = crc secure` is required, or radosgw
# loops on auth failures (-13) for 300 s. A fresh start takes about 25 s.
#
# `start` fails loudly (status 1, with the logs' tails) unless the bucket
# answers within 120 s; it never skips. Needs root, ceph-mon, ceph-osd,
# radosgw, ceph-common and curl (packaging/install-deps.sh). Secrets are
# never put on a command line: curl reads them from a config on stdin.

set -eu

die() {
	echo "radosgw.sh: $*" >&2
	exit 1
}

usage() {
	sed -n '4,22s/^# \{0,1\}//p' "$0" >&2
	exit 2
}

alive() {
	local state

	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
	state=$(sed 's/^.*) \(.\).*$/\1/' "/proc/$1/stat" 2>/dev/null) ||
		return 1
	[ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

listening() {
	(: > "/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_of() {
	[ -r "$1/port" ] || die "no server was started in $1"
	cat "$1/port"
}

endpoint() {
	echo "http://127.0.0.1:$(($(port_of "$1") + 9))"
}

https() {
	echo "https://localhost:$(($(port_of "$1") + 8))"
}

# make_certs DIR: a private CA and a certificate for localhost, 127.0.0.1
# and *.localhost (virtual-host addressing) signed by it.
make_certs() {
	local d=$1/tls

	mkdir -p "$d"
	openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=strata test CA" \
		-keyout "$d/ca.key" -out "$d/ca.pem" > /dev/null 2>&1 &&
		openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
			-keyout "$d/rgw.key" -out "$d/rgw.csr" > /dev/null 2>&1 &&
		printf 'subjectAltName=DNS:localhost,DNS:*.localhost,IP:127.0.0.1\n' \
			> "$d/ext" &&
		openssl x509 -req -in "$d/rgw.csr" -CA "$d/ca.pem" \
			-CAkey "$d/ca.key" -CAcreateserial -days 30 \
			-extfile "$d/ext" -out "$d/rgw.pem" > /dev/null 2>&1
}

url() {
	local dir=$1 prefix=${2:-}

	echo "s3://strata${prefix:+/$prefix}?endpoint=$(endpoint "$dir")&credentials=$dir/credentials"
}

write_conf() {
	local dir=$1 port=$2 fsid=$3

	cat > "$dir/ceph.conf" <<CONF
# Written by integration/servers/radosgw.sh; rewritten at every start.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$port
mon initial members = a
public addr = 127.0.0.1
# Every daemon listens on the loopback only, the OSD's cluster side too.
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
cluster network = 127.0.0.0/8
ms bind msgr1 = false
ms bind port min = $((port + 1))
ms bind port max = $((port + 7))
ms mon client mode = crc secure
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/\$name.keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = false
crash dir = $dir/crash
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail warn = 2
mon data avail crit = 1
mon max pg per osd = 1000

[mon]
mon data = $dir/mon

[osd]
osd data = $dir/osd
osd objectstore = bluestore
bluestore block create = true
bluestore block size = 34359738368
bluestore block db create = false
bluestore block wal create = false
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 134217728
osd memory target = 939524096
osd max object name len = 460
osd max object namespace len = 64

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$((port + 9)) ssl_endpoint=127.0.0.1:$((port + 8)) ssl_certificate=$dir/tls/rgw.pem ssl_private_key=$dir/tls/rgw.key
rgw dns name = localhost
rgw thread pool size = 64
rgw enable usage log = false
CONF
}

# ceph CLI as client.admin
cephc() {
	timeout 60 ceph -c "$dir/ceph.conf" "$@"
}

stop_one() {
	local pidf=$1 pid

	[ -r "$pidf" ] || return 0
	pid=$(cat "$pidf" 2>/dev/null || true)
	if alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 1 200); do
			alive "$pid" || break
			sleep 0.1
		done
		if alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			for _ in $(seq 1 100); do
				alive "$pid" || break
				sleep 0.1
			done
			alive "$pid" && die "pid $pid survived SIGKILL"
		fi
	fi
	rm -f "$pidf"
}

stop() {
	local dir=$1

	stop_one "$dir/run/client.rgw.a.pid"
	stop_one "$dir/run/osd.0.pid"
	stop_one "$dir/run/mon.a.pid"
}

fail() {
	local dir=$1

	shift
	echo "radosgw.sh: $*" >&2
	for f in "$dir"/log/*.log "$dir"/log/*.out; do
		[ -r "$f" ] || continue
		echo "==> $f <==" >&2
		tail -n 20 "$f" >&2
	done
	stop "$dir"
	exit 1
}

# s3req DIR METHOD PATH: one signed request to radosgw as user strata;
# prints the HTTP status.
s3req() {
	local dir=$1 method=$2 path=$3 ak sk

	ak=$(sed -n 's/^aws_access_key_id *= *//p' "$dir/credentials")
	sk=$(sed -n 's/^aws_secret_access_key *= *//p' "$dir/credentials")
	printf 'user = "%s:%s"\n' "$ak" "$sk" |
		curl -K - -s -o /dev/null -w '%{http_code}' --max-time 10 \
			--aws-sigv4 "aws:amz:us-east-1:s3" -X "$method" \
			-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
			"$(endpoint "$dir")$path" || true
}

rgw_start() {
	local dir=$1 port code=''

	port=$(port_of "$dir")
	listening $((port + 9)) && die "port $((port + 9)) is already in use"
	setsid radosgw -c "$dir/ceph.conf" -n client.rgw.a \
		< /dev/null > "$dir/log/rgw.out" 2>&1
	for _ in $(seq 1 1200); do
		if listening $((port + 9)); then
			code=$(s3req "$dir" GET /strata)
			case $code in
			200 | 404) return 0 ;;
			esac
			# The keys of a user just made take a moment.
		fi
		sleep 0.1
	done
	fail "$dir" "radosgw in $dir did not answer on port $((port + 9)) (last status '$code')"
}

start() {
	local dir=$1 port=$2 fsid uuid code

	case $dir in
	/*) ;;
	*) die "DIR must be an absolute path: $dir" ;;
	esac
	case $port in
	'' | *[!0-9]*) die "bad port '$port'" ;;
	esac
	[ ${#dir} -le 85 ] || die "DIR is too long for Ceph's admin sockets: $dir"
	for b in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool \
		monmaptool curl openssl; do
		command -v $b > /dev/null ||
			die "$b is not installed (packaging/install-deps.sh)"
	done
	[ "$(id -u)" = 0 ] || die "Ceph needs root here"

	if [ -d "$dir" ]; then
		stop "$dir"
	fi
	for p in $(seq "$port" $((port + 9))); do
		listening "$p" && die "port $p on 127.0.0.1 is already in use"
	done
	rm -rf "$dir"
	mkdir -p "$dir/run" "$dir/log" "$dir/crash" "$dir/mon" "$dir/osd"
	echo "$port" > "$dir/port"
	make_certs "$dir" || fail "$dir" "openssl cannot make the test certificates"
	fsid=$(cat /proc/sys/kernel/random/uuid)
	write_conf "$dir" "$port" "$fsid"

	ceph-authtool --create-keyring "$dir/mon.a.keyring" --gen-key -n mon. \
		--cap mon 'allow *' > /dev/null
	ceph-authtool --create-keyring "$dir/client.admin.keyring" --gen-key \
		-n client.admin --cap mon 'allow *' --cap osd 'allow *' \
		--cap mgr 'allow *' > /dev/null
	ceph-authtool "$dir/mon.a.keyring" \
		--import-keyring "$dir/client.admin.keyring" > /dev/null
	monmaptool --create --addv a "[v2:127.0.0.1:$port]" --fsid "$fsid" \
		"$dir/monmap" > /dev/null
	ceph-mon -c "$dir/ceph.conf" --mkfs -i a --monmap "$dir/monmap" \
		--keyring "$dir/mon.a.keyring" > "$dir/log/mkfs.out" 2>&1 ||
		fail "$dir" "ceph-mon --mkfs failed"
	ceph-mon -c "$dir/ceph.conf" -i a > "$dir/log/mon.out" 2>&1 ||
		fail "$dir" "ceph-mon did not start"

	uuid=$(cat /proc/sys/kernel/random/uuid)
	cephc osd new "$uuid" > "$dir/log/osdnew.out" 2>&1 ||
		fail "$dir" "the monitor did not answer 'osd new'"
	ceph-authtool --create-keyring "$dir/osd.0.keyring" --gen-key -n osd.0 \
		> /dev/null
	cephc auth add osd.0 osd 'allow *' mon 'allow profile osd' \
		-i "$dir/osd.0.keyring" > /dev/null 2>&1 ||
		fail "$dir" "cannot register the key of osd.0"
	ceph-osd -c "$dir/ceph.conf" -i 0 --mkfs --osd-uuid "$uuid" \
		> "$dir/log/osdmkfs.out" 2>&1 ||
		fail "$dir" "ceph-osd --mkfs failed"
	ceph-osd -c "$dir/ceph.conf" -i 0 > "$dir/log/osd.out" 2>&1 ||
		fail "$dir" "ceph-osd did not start"

	cephc auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' \
		-o "$dir/client.rgw.a.keyring" > /dev/null 2>&1 ||
		fail "$dir" "cannot make the key of radosgw"
	for _ in $(seq 1 600); do
		cephc osd stat 2>/dev/null | grep -q '1 up' && break
		sleep 0.2
	done
	cephc osd stat 2>/dev/null | grep -q '1 up' ||
		fail "$dir" "osd.0 did not come up"

	# Keys made by radosgw-admin and parsed from its output, so that no
	# secret ever reaches a command line.
	timeout 120 radosgw-admin -c "$dir/ceph.conf" user create --uid=strata \
		--display-name=strata > "$dir/user.json" 2> "$dir/log/user.out" ||
		fail "$dir" "radosgw-admin cannot create user 'strata'"
	(
		umask 077
		python3 -c '
import json, sys
k = json.load(open(sys.argv[1]))["keys"][0]
print("[default]")
print("aws_access_key_id = " + k["access_key"])
print("aws_secret_access_key = " + k["secret_key"])
' "$dir/user.json" > "$dir/credentials"
	) || fail "$dir" "cannot read the keys of user 'strata'"
	chmod 600 "$dir/user.json" "$dir/credentials"
	rgw_start "$dir"
	code=$(s3req "$dir" PUT /strata)
	case $code in
	200 | 409) ;;
	*) fail "$dir" "cannot create bucket 'strata' (status '$code')" ;;
	esac
	url "$dir"
}

# s3curl DIR ARGS...: curl signed as user strata; /strata... args get the
# endpoint in front.
s3curl() {
	local dir=$1 ak sk ep a

	shift
	ep=$(endpoint "$dir")
	ak=$(sed -n 's/^aws_access_key_id *= *//p' "$dir/credentials")
	sk=$(sed -n 's/^aws_secret_access_key *= *//p' "$dir/credentials")
	args=()
	for a in "$@"; do
		case $a in
		/strata | /strata[/?]*) args+=("$ep$a") ;;
		*) args+=("$a") ;;
		esac
	done
	printf 'user = "%s:%s"\n' "$ak" "$sk" |
		curl -K - --aws-sigv4 "aws:amz:us-east-1:s3" \
			-H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "${args[@]}"
}

[ $# -ge 2 ] || usage
cmd=$1
dir=${2%/}
case $cmd in
start)
	[ $# = 3 ] || usage
	start "$dir" "$3"
	;;
stop)
	[ $# = 2 ] || usage
	[ -d "$dir" ] || exit 0
	stop "$dir"
	;;
rgw-stop)
	[ $# = 2 ] || usage
	stop_one "$dir/run/client.rgw.a.pid"
	;;
rgw-start)
	[ $# = 2 ] || usage
	rgw_start "$dir"
	;;
rgw-pause | rgw-resume)
	[ $# = 2 ] || usage
	pid=$(cat "$dir/run/client.rgw.a.pid" 2>/dev/null || true)
	alive "$pid" || die "radosgw is not running in $dir"
	if [ "$cmd" = rgw-pause ]; then
		kill -STOP "$pid"
	else
		kill -CONT "$pid"
	fi
	;;
url)
	[ $# -le 3 ] || usage
	url "$dir" "${3:-}"
	;;
creds)
	[ $# = 2 ] || usage
	echo "$dir/credentials"
	;;
endpoint)
	[ $# = 2 ] || usage
	endpoint "$dir"
	;;
https)
	[ $# = 2 ] || usage
	https "$dir"
	;;
ca)
	[ $# = 2 ] || usage
	echo "$dir/tls/ca.pem"
	;;
curl)
	shift 2
	s3curl "$dir" "$@"
	;;
*)
	usage
	;;
esac
