#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 010-config-errors: bad input gets a clear error and changes nothing. Each
# broken config (unknown key or section, bad URL scheme, relative file://
# path, missing tier directory, duplicate tier or key, placement naming an
# unknown tier, missing required key, bad size or number) makes `strata
# mount -f` exit non-zero within a few seconds, print "FILE:LINE:" with the
# line at fault, and leave no mount behind. So does a missing config file or
# mount point (the message names it), and a second mount of a catalog that a
# running mount holds (the message names the catalog); the first mount keeps
# working.

. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "010-config-errors: nothing to check with STRATA_TEST_DIRECT=1"
	exit 0
fi

export LC_ALL=C
cd /

# good [NAMESPACE-EXTRA] [NVME-EXTRA] [TAIL]: a valid config on stdout, with
# extra lines in the namespace section, the nvme tier, and at the end.
good() {
	cat <<CONF
# strata.conf for 010-config-errors
[namespace]
catalog = $T/catalog.db
site = test
placement = nvme
entry_timeout = 1
attr_timeout = 1
${1:-}

[tier nvme]
url = file://$T/tiers/nvme
capacity = 1G
${2:-}

[tier capacity]
url = file://$T/tiers/capacity
site = test
${3:-}
CONF
}

# no_mount WHAT DIR: nothing is mounted at DIR; clean up and fail if it is.
no_mount() {
	if grep -qF " $2 " /proc/self/mounts; then
		fusermount3 -u -z "$2" 2>/dev/null ||
			umount -l "$2" 2>/dev/null || true
		fail "$1: a mount was left at $2"
	fi
}

# try_mount WHAT CONFIG MNT: run a foreground mount that must fail at once;
# its output lands in $T/out. Fails unless it exits non-zero within 5 s.
try_mount() {
	local what=$1 rc=0

	timeout -k 2 5 "$STRATA_BIN" mount -f -c "$2" "$3" > "$T/out" 2>&1 ||
		rc=$?
	no_mount "$what" "$3"
	case $rc in
	0) cat "$T/out" >&2; fail "$what: strata mount exited 0" ;;
	124 | 137)
		cat "$T/out" >&2
		fail "$what: strata mount still ran after 5 s"
		;;
	esac
	[ -s "$T/out" ] || fail "$what: strata mount exited $rc, saying nothing"
}

# bad NAME LINE-TEXT [N]: the config on stdin must be refused with a message
# "FILE:LINE:" where LINE is the Nth (default first) line that is LINE-TEXT.
bad() {
	local name=$1 text=$2 conf=$T/bad-$1.conf line

	cat > "$conf"
	line=$(grep -nxF -- "$text" "$conf" | sed -n "${3:-1}p" | cut -d: -f1)
	[ -n "$line" ] || fail "$name: the test's config lacks the line '$text'"
	try_mount "$name" "$conf" "$M"
	grep -qF -- "$conf:$line:" "$T/out" || {
		cat "$T/out" >&2
		fail "$name: the message lacks '$conf:$line:'"
	}
	echo "    $name: $(head -n 1 "$T/out")"
}

log "the good config mounts"
good > "$T/good.conf"
cp "$T/good.conf" "$T/strata.conf"
mount_strata
ls "$M" > /dev/null || fail "the good config's mount does not answer"
umount_strata

log "broken configs"
good "colour = blue" | bad unknown-key "colour = blue"
good "" "" "[cache]" | bad unknown-section "[cache]"
good "" "" "[tier]" | bad tier-without-name "[tier]"
good "" "" "stray line without equals" |
	bad no-equals "stray line without equals"
good | sed "s|^url = file://\($T/tiers/capacity\)\$|url = ftp://\1|" |
	bad url-scheme "url = ftp://$T/tiers/capacity"
good | sed "s|^url = file://$T/tiers/nvme\$|url = file://tiers/nvme|" |
	bad relative-file-url "url = file://tiers/nvme"
good | sed "s|^url = file://$T/tiers/nvme\$|url = file:tiers/nvme|" |
	bad relative-file-url-no-slashes "url = file:tiers/nvme"
good | sed "s|^url = file://$T/tiers/capacity\$|url = file://$T/tiers/nope|" |
	bad missing-tier-dir "url = file://$T/tiers/nope"
good "" "" "[tier nvme]
url = file://$T/tiers/nvme" | bad duplicate-tier "[tier nvme]" 2
good "site = elsewhere" | bad duplicate-key "site = elsewhere"
good | sed 's|^placement = nvme$|placement = fast|' |
	bad placement-unknown-tier "placement = fast"
good | grep -vx "url = file://$T/tiers/capacity" |
	bad missing-url "[tier capacity]"
good | sed 's|^capacity = 1G$|capacity = 10 parsecs|' |
	bad bad-size "capacity = 10 parsecs"
good | sed 's|^capacity = 1G$|capacity = -5G|' |
	bad negative-size "capacity = -5G"
good | sed 's|^entry_timeout = 1$|entry_timeout = soon|' |
	bad bad-timeout "entry_timeout = soon"

log "a missing config file is named"
try_mount missing-config "$T/no-such.conf" "$M"
grep -qF "$T/no-such.conf" "$T/out" ||
	{ cat "$T/out" >&2; fail "missing config: the message lacks its name"; }
echo "    missing-config: $(head -n 1 "$T/out")"

log "a missing mount point is named"
try_mount missing-mountpoint "$T/good.conf" "$T/no-such-dir"
grep -qF "$T/no-such-dir" "$T/out" || {
	cat "$T/out" >&2
	fail "missing mount point: the message does not name it"
}
[ ! -e "$T/no-such-dir" ] || fail "missing mount point: strata created it"
echo "    missing-mountpoint: $(head -n 1 "$T/out")"

log "a second mount of a catalog in use is refused"
mount_strata
echo kept > "$M/first"
mkdir "$T/mnt2"
try_mount catalog-in-use "$T/good.conf" "$T/mnt2"
grep -qF "$T/catalog.db" "$T/out" || {
	cat "$T/out" >&2
	fail "catalog in use: the message does not name the catalog"
}
echo "    catalog-in-use: $(head -n 1 "$T/out")"
is_mounted "$M" || fail "catalog in use: the first mount went away"
[ "$(cat "$M/first")" = kept ] ||
	fail "catalog in use: the first mount no longer reads its file"
echo more > "$M/second" || fail "catalog in use: the first mount cannot write"
umount_strata

log "the catalog is intact after all that"
mount_strata
[ "$(cat "$M/first")" = kept ] || fail "after the refusals 'first' is lost"
[ "$(cat "$M/second")" = more ] || fail "after the refusals 'second' is lost"
umount_strata
log "ok"
