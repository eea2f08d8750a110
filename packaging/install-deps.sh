#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# packaging/install-deps.sh - install the Debian 12 packages Strata needs to
# build, test and benchmark. Idempotent: it installs only what is missing and
# does nothing (not even apt-get update) when everything is present. The S3
# tests run a one-node Ceph (ceph-mon, ceph-osd, radosgw) on 127.0.0.1.
set -eu

BUILD="build-essential cmake pkg-config libfuse3-dev libsqlite3-dev libuv1-dev
libcmocka-dev libcurl4-openssl-dev libnfs-dev liburing-dev"
RUNTIME="fuse3 sqlite3"
TEST="attr rsync git tar xz-utils mergerfs psmisc procps python3 clang-format
nfs-ganesha nfs-ganesha-vfs rpcbind libnfs-utils curl openssl ceph-common
ceph-mon ceph-osd radosgw"

missing=""
for p in $BUILD $RUNTIME $TEST; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root to install)" >&2
	exit 1
fi

echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
