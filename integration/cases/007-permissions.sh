#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 007-permissions: POSIX permissions as other users see them through an
# allow_other mount (the kernel's default_permissions does the checks, the
# file system must store and hand out the right owners and modes). New files
# take the creator's uid and gid; a 0700 directory shuts others out; a group
# file is readable through a supplementary group but not writable; a setgid
# directory hands its group (and, to subdirectories, its setgid bit) down; a
# sticky directory protects other users' entries from unlink and rename;
# chmod, chown and explicit utime are the owner's (or root's) alone; a
# read-only file refuses writes; the execute bit is honoured, even for root.
# Each refusal is checked by its exit status and its message.

. "$(dirname "$0")/../lib.sh"

export LC_ALL=C
umask 022
cd /

ensure_test_users
# mktemp made $T 0700; other users must be able to walk to the mount.
chmod 0755 "$T"
write_config
mount_strata -o allow_other
chmod 0755 "$M"

U1=4701	# strata1, group stratat 4701, supplementary stratax 4702
U2=4702	# strata2, group stratax 4702
GX=4702	# stratax

# as USER CMD...: run CMD as USER with the user's groups.
as() {
	local user=$1

	shift
	setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
}

# expect_fail WHAT STATUS MESSAGE CMD...: CMD must exit with STATUS and
# print MESSAGE (a fixed string) on stderr or stdout.
expect_fail() {
	local what=$1 status=$2 msg=$3 rc=0

	shift 3
	"$@" > "$T/out" 2>&1 || rc=$?
	if [ "$rc" != "$status" ]; then
		cat "$T/out" >&2
		fail "$what: exit status $rc, want $status"
	fi
	grep -qF -- "$msg" "$T/out" || {
		cat "$T/out" >&2
		fail "$what: the message lacks '$msg'"
	}
}

# expect_ok WHAT CMD...: CMD must succeed.
expect_ok() {
	local what=$1

	shift
	"$@" > "$T/out" 2>&1 || { cat "$T/out" >&2; fail "$what: failed"; }
}

# owner PATH: uid:gid
owner() {
	stat -c %u:%g "$1"
}

EACCES="Permission denied"
EPERM="Operation not permitted"

log "a sticky world-writable directory, files made by strata1"
mkdir "$M/pub"
chmod 1777 "$M/pub"
[ "$(stat -c %a "$M/pub")" = 1777 ] ||
	fail "chmod 1777: mode is $(stat -c %a "$M/pub")"
expect_ok "strata1 creates a file" \
	as strata1 sh -c 'echo one > "$1"' sh "$M/pub/f1"
expect_ok "strata1 makes a directory" as strata1 mkdir "$M/pub/d1"
expect_ok "strata1 makes a symlink" as strata1 ln -s f1 "$M/pub/l1"
[ "$(owner "$M/pub/f1")" = "$U1:$U1" ] ||
	fail "a file made by strata1 is owned by $(owner "$M/pub/f1")"
[ "$(owner "$M/pub/d1")" = "$U1:$U1" ] ||
	fail "a directory made by strata1 is owned by $(owner "$M/pub/d1")"
[ "$(owner "$M/pub/l1")" = "$U1:$U1" ] ||
	fail "a symlink made by strata1 is owned by $(owner "$M/pub/l1")"
[ "$(stat -c %a "$M/pub/f1")" = 644 ] ||
	fail "umask 022: strata1's file has mode $(stat -c %a "$M/pub/f1")"
[ "$(as strata2 cat "$M/pub/f1")" = one ] ||
	fail "strata2 cannot read strata1's 0644 file"
expect_fail "strata2 writes strata1's 0644 file" 1 "$EACCES" \
	as strata2 dd of="$M/pub/f1" conv=notrunc status=none if=/dev/null
expect_fail "strata2 creates in strata1's 0755 directory" 1 "$EACCES" \
	as strata2 touch "$M/pub/d1/x"

log "sticky: strata2 cannot unlink or rename strata1's entries"
expect_fail "strata2 removes strata1's file in a sticky dir" 1 "$EPERM" \
	as strata2 rm -f "$M/pub/f1"
expect_fail "strata2 renames strata1's file in a sticky dir" 1 "$EPERM" \
	as strata2 mv "$M/pub/f1" "$M/pub/f1-moved"
expect_fail "strata2 removes strata1's directory in a sticky dir" 1 "$EPERM" \
	as strata2 rmdir "$M/pub/d1"
expect_ok "strata2 creates its own file" as strata2 touch "$M/pub/f2"
expect_fail "strata2 replaces strata1's file by rename" 1 "$EPERM" \
	as strata2 mv -f "$M/pub/f2" "$M/pub/f1"
[ -e "$M/pub/f1" ] ||
	fail "sticky: a refused unlink or rename lost strata1's file"
[ -e "$M/pub/f2" ] || fail "sticky: a refused rename lost strata2's file"
[ "$(cat "$M/pub/f1")" = one ] || fail "sticky: strata1's file changed"
expect_ok "the owner renames its file" as strata1 mv "$M/pub/f1" "$M/pub/f1b"
expect_ok "the owner renames it back" as strata1 mv "$M/pub/f1b" "$M/pub/f1"
expect_ok "strata2 removes its own file" as strata2 rm "$M/pub/f2"
expect_ok "the owner removes its file" as strata1 rm "$M/pub/l1"
[ ! -e "$M/pub/f2" ] || fail "sticky: strata2's unlink left its file"
[ ! -L "$M/pub/l1" ] || fail "sticky: strata1's unlink left its symlink"

log "a 0700 directory of root"
mkdir "$M/private"
echo secret > "$M/private/file"
chmod 0700 "$M/private"
expect_fail "strata1 lists root's 0700 directory" 2 \
	"ls: cannot open directory '$M/private': $EACCES" \
	as strata1 ls "$M/private"
expect_fail "strata1 reads through root's 0700 directory" 1 \
	"cat: $M/private/file: $EACCES" as strata1 cat "$M/private/file"
expect_fail "strata1 stats through root's 0700 directory" 1 "$EACCES" \
	as strata1 stat "$M/private/file"
expect_fail "strata1 creates in root's 0700 directory" 1 "$EACCES" \
	as strata1 touch "$M/private/new"
expect_fail "strata1 enters root's 0700 directory" 1 "$EACCES" \
	as strata1 bash -c 'cd "$1"' bash "$M/private"
expect_ok "strata1 makes its own 0700 directory" \
	as strata1 sh -c 'mkdir -m 0700 "$1" && echo mine > "$1/f"' \
	sh "$M/pub/own"
[ "$(cat "$M/pub/own/f")" = mine ] ||
	fail "root cannot read through strata1's 0700 directory"

log "a 0640 file of group stratax"
echo "group data" > "$M/group.txt"
chown 0:$GX "$M/group.txt"
chmod 0640 "$M/group.txt"
[ "$(owner "$M/group.txt")" = "0:$GX" ] ||
	fail "chown 0:$GX gave $(owner "$M/group.txt")"
[ "$(as strata1 cat "$M/group.txt")" = "group data" ] ||
	fail "strata1 cannot read a 0640 file of its supplementary group"
[ "$(as strata2 cat "$M/group.txt")" = "group data" ] ||
	fail "strata2 cannot read a 0640 file of its primary group"
expect_fail "strata1 appends to a 0640 group file" 1 "$EACCES" \
	as strata1 dd of="$M/group.txt" oflag=append conv=notrunc status=none \
	if=/dev/null
expect_fail "nobody reads a 0640 file of another group" 1 \
	"cat: $M/group.txt: $EACCES" \
	setpriv --reuid=65534 --regid=65534 --clear-groups cat "$M/group.txt"

log "a setgid directory of group stratax"
mkdir "$M/shared"
chown 0:$GX "$M/shared"
chmod 2775 "$M/shared"
[ "$(stat -c %a "$M/shared")" = 2775 ] ||
	fail "chmod 2775: mode is $(stat -c %a "$M/shared")"
expect_ok "strata1 creates in the setgid directory" \
	as strata1 touch "$M/shared/file"
expect_ok "strata1 makes a subdirectory" as strata1 mkdir "$M/shared/sub"
expect_ok "strata1 makes a file in the subdirectory" \
	as strata1 touch "$M/shared/sub/deeper"
[ "$(owner "$M/shared/file")" = "$U1:$GX" ] ||
	fail "setgid: strata1's new file is $(owner "$M/shared/file")"
[ "$(owner "$M/shared/sub")" = "$U1:$GX" ] ||
	fail "setgid: strata1's new subdir is $(owner "$M/shared/sub")"
[ "$(stat -c %A "$M/shared/sub")" = drwxr-sr-x ] ||
	fail "setgid: the new subdir is $(stat -c %A "$M/shared/sub")"
[ "$(stat -c %A "$M/shared/file")" = -rw-r--r-- ] ||
	fail "setgid: the new file is $(stat -c %A "$M/shared/file")"
[ "$(owner "$M/shared/sub/deeper")" = "$U1:$GX" ] ||
	fail "setgid: a file two levels down is $(owner "$M/shared/sub/deeper")"
expect_ok "root creates in the setgid directory" touch "$M/shared/rootfile"
[ "$(owner "$M/shared/rootfile")" = "0:$GX" ] ||
	fail "setgid: root's new file is owned $(owner "$M/shared/rootfile")"

log "chmod, chown, chgrp and utime belong to the owner"
echo data > "$M/pub/owned"
chown $U1:$U1 "$M/pub/owned"
chmod 0644 "$M/pub/owned"
expect_fail "strata2 chmods strata1's file" 1 \
	"chmod: changing permissions of '$M/pub/owned': $EPERM" \
	as strata2 chmod 0666 "$M/pub/owned"
expect_ok "the owner chmods its file" as strata1 chmod 0664 "$M/pub/owned"
[ "$(stat -c %a "$M/pub/owned")" = 664 ] ||
	fail "the owner's chmod 0664 gave $(stat -c %a "$M/pub/owned")"
expect_fail "strata1 gives its file to strata2" 1 \
	"chown: changing ownership of '$M/pub/owned': $EPERM" \
	as strata1 chown strata2 "$M/pub/owned"
expect_fail "strata2 takes strata1's file" 1 \
	"chown: changing ownership of '$M/pub/owned': $EPERM" \
	as strata2 chown strata2 "$M/pub/owned"
expect_fail "strata1 chgrps to a group it is not in" 1 \
	"chgrp: changing group of '$M/pub/owned': $EPERM" \
	as strata1 chgrp root "$M/pub/owned"
expect_ok "strata1 chgrps to its supplementary group" \
	as strata1 chgrp stratax "$M/pub/owned"
[ "$(owner "$M/pub/owned")" = "$U1:$GX" ] ||
	fail "chgrp stratax by the owner gave $(owner "$M/pub/owned")"
expect_ok "root chowns" chown $U2:$U2 "$M/pub/owned"
[ "$(owner "$M/pub/owned")" = "$U2:$U2" ] ||
	fail "root's chown gave $(owner "$M/pub/owned")"
chown $U1:$U1 "$M/pub/owned"
chmod 0666 "$M/pub/owned"
# A writable file's times may be set to now by anyone who may write it, but
# only the owner may set an explicit time.
expect_ok "strata2 touches a 0666 file of strata1 to now" \
	as strata2 touch "$M/pub/owned"
expect_fail "strata2 sets an explicit time on strata1's file" 1 \
	"touch: setting times of '$M/pub/owned': $EPERM" \
	as strata2 touch -d '2001-01-01 00:00:00' "$M/pub/owned"
expect_ok "the owner sets an explicit time" \
	as strata1 touch -d '2001-01-01 00:00:00' "$M/pub/owned"
[ "$(stat -c %Y "$M/pub/owned")" = "$(date -d '2001-01-01 00:00:00' +%s)" ] ||
	fail "the owner's explicit mtime did not stick"
chmod 0644 "$M/pub/owned"
expect_fail "strata2 touches a 0644 file of strata1 to now" 1 \
	"touch: cannot touch '$M/pub/owned': $EACCES" \
	as strata2 touch "$M/pub/owned"

log "read-only files refuse writes, even to their owner"
echo original > "$M/pub/ro"
chown $U1:$U1 "$M/pub/ro"
chmod 0444 "$M/pub/ro"
expect_fail "the owner opens its 0444 file for writing" 1 \
	"dd: failed to open '$M/pub/ro': $EACCES" \
	as strata1 dd of="$M/pub/ro" conv=notrunc status=none if=/dev/null
expect_fail "the owner truncates its 0444 file" 1 \
	"truncate: cannot open '$M/pub/ro' for writing: $EACCES" \
	as strata1 truncate -s 0 "$M/pub/ro"
expect_fail "the owner redirects into its 0444 file" 2 \
	"cannot create $M/pub/ro: $EACCES" \
	as strata1 sh -c 'echo x > "$1"' sh "$M/pub/ro"
[ "$(cat "$M/pub/ro")" = original ] || fail "a refused write changed the file"
expect_ok "root writes a 0444 file" sh -c 'echo changed > "$1"' sh "$M/pub/ro"
[ "$(cat "$M/pub/ro")" = changed ] || fail "root's write did not land"

log "the execute bit"
printf '#!/bin/sh\necho script ran\n' > "$M/pub/script"
chown $U1:$U1 "$M/pub/script"
chmod 0644 "$M/pub/script"
expect_fail "strata1 runs its 0644 script" 126 \
	"$M/pub/script: $EACCES" as strata1 bash -c '"$1"' bash "$M/pub/script"
expect_fail "root runs a 0644 script" 126 \
	"$M/pub/script: $EACCES" bash -c '"$1"' bash "$M/pub/script"
chmod 0744 "$M/pub/script"
[ "$(as strata1 "$M/pub/script")" = "script ran" ] ||
	fail "strata1 cannot run its 0744 script"
expect_fail "strata2 runs strata1's 0744 script" 126 \
	"$M/pub/script: $EACCES" as strata2 bash -c '"$1"' bash "$M/pub/script"
chmod 0754 "$M/pub/script"
chgrp stratax "$M/pub/script"
[ "$(as strata2 "$M/pub/script")" = "script ran" ] ||
	fail "strata2 cannot run a 0754 script of its group"
[ "$("$M/pub/script")" = "script ran" ] ||
	fail "root cannot run a 0754 script"
cp /bin/true "$M/pub/true"
chmod 0640 "$M/pub/true"
expect_fail "root runs a 0640 binary" 126 "$EACCES" \
	bash -c '"$1"' bash "$M/pub/true"
chmod 0755 "$M/pub/true"
expect_ok "strata2 runs a 0755 binary" as strata2 "$M/pub/true"

umount_strata
log "ok"
