#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 044-cli-mount-helper: packaging/mount.strata, called the way mount(8)
# calls it for `mount -t strata CONFIG MOUNTPOINT -o OPTIONS` and for an
# fstab line: it mounts in the background (the mount answers the CLI),
# drops the options mount(8) and fstab keep for themselves, passes strata's
# own, refuses unknown ones (unless -s) and bad usage with status 1, does
# nothing with -f, and reports a failed mount with status 32. When the
# helper is installed in /sbin, `mount -t strata` and an fstab line (mount
# -T) are driven through mount(8) itself.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "044-cli-mount-helper: needs a mount"
	exit 0
fi

H=$STRATA_SRC/packaging/mount.strata
S=$STRATA_BIN
export STRATA_BIN

# The helper's daemon is not the case's child: unmount it on any exit.
on_exit 'is_mounted "$M" && "$S" umount "$M"'

# helper_rc WANT ARGS...: run the helper, which must exit with WANT.
helper_rc() {
	local want=$1 rc=0

	shift
	"$H" "$@" > "$T/out" 2>&1 || rc=$?
	[ "$rc" = "$want" ] || fail "mount.strata $*: exit $rc, want $want: $(cat "$T/out")"
}

write_config

log "bad usage and unknown options: status 1, nothing mounted"
helper_rc 1 "$T/strata.conf"
grep -q "usage: mount.strata" "$T/out" || fail "no usage: $(cat "$T/out")"
helper_rc 1 "$T/strata.conf" "$M" -o rw,frobnicate
grep -q "unknown mount option 'frobnicate'" "$T/out" || fail "$(cat "$T/out")"
helper_rc 0 "$T/strata.conf" "$M" -f -v -o rw,noauto
grep -q "strata mount -o rw -c $T/strata.conf $M" "$T/out" || fail "-f -v: $(cat "$T/out")"
is_mounted "$M" && fail "mounted by a bad or fake call"

log "a failed mount: status 32 with strata's message"
sed 's/^catalog = .*/catalog = \/nonexistent\/dir\/catalog.db/' "$T/strata.conf" > "$T/bad.conf"
helper_rc 32 "$T/bad.conf" "$M" -o rw
grep -q "catalog" "$T/out" || fail "the failure does not name the catalog: $(cat "$T/out")"

log "mount as mount(8) would: fstab options dropped, strata's kept"
helper_rc 1 "$T/strata.conf" "$M" -n -o rw,nofail,_netdev,x-systemd.automount,noatime,defaults,entry_timeout=2,attr_timeout=2,s
is_mounted "$M" && fail "-o ...,s (not -s) should be an unknown option"
grep -q "unknown mount option 's'" "$T/out" || fail "$(cat "$T/out")"
helper_rc 0 "$T/strata.conf" "$M" -s -n -o rw,nofail,_netdev,x-systemd.automount,noatime,defaults,entry_timeout=2,attr_timeout=2,bogus
is_mounted "$M" || fail "not mounted"
grep -q " $M fuse.strata .*rw" /proc/self/mounts || fail "mount table: $(grep "$M" /proc/self/mounts)"
echo hello > "$M/f"
"$S" where "$M/f" > "$T/out" || fail "the mount does not answer the CLI"
grep -q '^/f ' "$T/out" || fail "where: $(cat "$T/out")"
"$S" umount "$M" || fail "umount"
is_mounted "$M" && fail "still mounted"

if [ -x /sbin/mount.strata ]; then
	log "through mount(8): mount -t strata, and an fstab line"
	mount -t strata -o rw,nofail "$T/strata.conf" "$M" || fail "mount -t strata"
	[ "$(cat "$M/f")" = hello ] || fail "content after mount -t"
	"$S" umount "$M"
	echo "$T/strata.conf $M strata rw,noauto,nofail,entry_timeout=2 0 0" > "$T/fstab"
	mount -T "$T/fstab" "$M" || fail "mount from an fstab line"
	is_mounted "$M" || fail "not mounted from fstab"
	"$S" umount "$M"
else
	log "mount.strata is not installed in /sbin: mount(8) itself not driven"
fi
log "ok"
