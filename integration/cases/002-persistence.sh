#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 002-persistence: everything written through the mount survives an unmount
# and a remount unchanged. Builds a tree with files of several sizes (empty
# to 3 MiB of random data, and a sparse one), modes including 0600, 0755 and
# a set-group-id directory, a chown to 1234:5678, explicit mtimes, user
# xattrs, hard links, symlinks, a fifo and an empty directory; records a
# manifest (sha256, stat fields with ns mtimes, xattrs, link targets) and the
# inode numbers, then compares both exactly after a remount, and once more
# after a change made on the remounted file system.

. "$(dirname "$0")/../lib.sh"

# touch -d and stat's %y/%Y below are read in UTC; %F in English.
export TZ=UTC LC_ALL=C

# manifest DIR: one line per entry, stable across mounts.
manifest() {
	(
		cd "$1"
		find . -print0 | LC_ALL=C sort -z |
		while IFS= read -r -d '' p; do
			printf '%s|%s' "$p" \
				"$(stat -c '%a %u %g %s %h %Y %y %F' -- "$p")"
			if [ -L "$p" ]; then
				printf '|-> %s' "$(readlink -- "$p")"
			elif [ -f "$p" ]; then
				printf '|%s' "$(sha256sum < "$p" | cut -d' ' -f1)"
			fi
			getfattr -h -d -e hex --absolute-names -- "$p" 2>/dev/null |
				grep '^user\.' | LC_ALL=C sort | tr '\n' '|' |
				sed 's/^/|xattrs:/'
			echo
		done
	)
}

# inodes DIR: "path inode" for every entry.
inodes() {
	(cd "$1" && find . -printf '%p %i\n' | LC_ALL=C sort)
}

# expect_stat PATH FORMAT WANT
expect_stat() {
	local got

	got=$(stat -c "$2" -- "$1")
	[ "$got" = "$3" ] || fail "stat -c '$2' $1: got '$got', want '$3'"
}

write_config
mount_strata

log "building the tree"
R=$M/tree
mkdir "$R"
: > "$R/empty"
printf x > "$R/one"
head -c 4095 /dev/urandom > "$R/f4095"
head -c 4096 /dev/urandom > "$R/f4096"
head -c 4097 /dev/urandom > "$R/f4097"
head -c 131073 /dev/urandom > "$R/f128k1"
head -c $((3 * 1024 * 1024)) /dev/urandom > "$R/big"
truncate -s 20M "$R/sparse"
printf 'in the middle' | dd of="$R/sparse" bs=1 seek=7000000 conv=notrunc \
	status=none
chmod 0600 "$R/f4095"
chmod 0755 "$R/f4096"
chmod 0444 "$R/f4097"
chown 1234:5678 "$R/f128k1"

mkdir -m 0755 "$R/dir" "$R/dir/deep" "$R/dir/deep/er"
echo nested > "$R/dir/deep/er/file"
mkdir "$R/emptydir"
mkdir "$R/sgid"
chown :5678 "$R/sgid"
chmod 2775 "$R/sgid"
echo inherit > "$R/sgid/child"
mkdir "$R/sgid/subdir"
mkdir "$R/owned"
chown 1234:5678 "$R/owned"
chmod 0700 "$R/owned"

setfattr -n user.color -v blue "$R/one"
setfattr -n user.empty "$R/one"
setfattr -n user.bin -v 0x00ff00ff "$R/big"
setfattr -n user.dir -v tagged "$R/dir"

echo linked > "$R/hl"
ln "$R/hl" "$R/hl2"
ln "$R/hl" "$R/dir/hl3"
ln -s f4096 "$R/rel-link"
ln -s /nonexistent/target "$R/dangling"
ln -s ../tree/dir/deep "$R/dir-link"
mkfifo -m 0640 "$R/fifo"

touch -h -d '2001-02-03 04:05:06.123456789' "$R/one" "$R/rel-link"
touch -d '1999-12-31 23:59:59' "$R/big" "$R/emptydir"
touch -d '@1' "$R/f4097"
touch -d '2030-01-01 00:00:00.5' "$R/dir/deep"

log "checking the tree before unmount"
expect_stat "$R/f4095" '%a' 600
expect_stat "$R/f4096" '%a' 755
expect_stat "$R/f128k1" '%u:%g' 1234:5678
expect_stat "$R/sgid" '%a %g' '2775 5678'
expect_stat "$R/sgid/child" '%g' 5678
expect_stat "$R/sgid/subdir" '%a %g' '2755 5678'
expect_stat "$R/hl" '%h' 3
expect_stat "$R/one" '%y' '2001-02-03 04:05:06.123456789 +0000'
expect_stat "$R/big" '%s %Y' "$((3 * 1024 * 1024)) 946684799"
expect_stat "$R/sparse" '%s' $((20 * 1024 * 1024))
expect_stat "$R/dir" '%h' 3
expect_stat "$R/fifo" '%F %a' 'fifo 640'
[ "$(getfattr -h --absolute-names --only-values -n user.color "$R/one")" = blue ] ||
	fail "xattr user.color before unmount"

manifest "$R" > "$T/manifest.before"
inodes "$R" > "$T/inodes.before"
[ "$(wc -l < "$T/manifest.before")" = 25 ] ||
	fail "manifest has $(wc -l < "$T/manifest.before") lines, want 25"

log "unmount, remount"
umount_strata
mount_strata

manifest "$R" > "$T/manifest.after"
inodes "$R" > "$T/inodes.after"
diff "$T/manifest.before" "$T/manifest.after" >&2 ||
	fail "manifest changed across a remount"
diff "$T/inodes.before" "$T/inodes.after" >&2 ||
	fail "inode numbers changed across a remount"
hl_inos=$(stat -c %i "$R/hl" "$R/hl2" "$R/dir/hl3" | sort -u | wc -l)
[ "$hl_inos" = 1 ] || fail "hard links have $hl_inos inode numbers after remount"

log "change after remount, then remount again"
echo appended >> "$R/dir/deep/er/file"
rm "$R/hl2"
setfattr -x user.color "$R/one"
touch -d '2001-02-03 04:05:06.123456789' "$R/dir/deep/er" \
	"$R/dir/deep/er/file" "$R/one" "$R"
manifest "$R" > "$T/manifest.before2"
umount_strata
mount_strata
manifest "$R" > "$T/manifest.after2"
diff "$T/manifest.before2" "$T/manifest.after2" >&2 ||
	fail "manifest changed across the second remount"
[ "$(cat "$R/dir/deep/er/file")" = "$(printf 'nested\nappended')" ] ||
	fail "appended content lost"
expect_stat "$R/hl" '%h' 2

umount_strata
echo "ok 002-persistence"
