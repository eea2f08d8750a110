#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 006-real-tools: the tools people actually run on a namespace. A tarball of
# a few thousand real files (/usr/include and /usr/share/doc, cut at a fixed
# byte budget so the tree is the same on every run) is extracted into the
# mount and compared byte for byte, and by mode, size, mtime and link target,
# with a reference extraction on the local disk. Git: init, add, commit,
# modify, `status --porcelain` shows exactly the change, log, fsck, clone. A
# small C project is built with make: it runs, a second make is up to date,
# touching one source rebuilds only that object. rsync -a copies a tree with
# odd modes, owners, symlinks and nanosecond mtimes in and out, and a second
# pass finds nothing to do. SQLite: 50,000 rows in a rollback-journal
# database and a WAL one, integrity_check ok.

. "$(dirname "$0")/../lib.sh"

export LC_ALL=C
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
export GIT_AUTHOR_NAME=strata GIT_AUTHOR_EMAIL=strata@example.invalid
export GIT_COMMITTER_NAME=strata GIT_COMMITTER_EMAIL=strata@example.invalid
unset MAKEFLAGS MFLAGS MAKELEVEL
umask 022
cd /

for tool in tar diff git make cc rsync sqlite3; do
	command -v "$tool" >/dev/null ||
		fail "$tool is missing (packaging/install-deps.sh installs it)"
done

write_config
mount_strata

# listing DIR: one sorted line per entry under DIR with what must survive a
# copy: type and mode, owner, size (regular files), mtime, link target.
listing() {
	(cd "$1" && find . -mindepth 1 -printf '%P %M %U:%G %T@ %l\n' \
		-type f -printf '%P size %s\n') | sort
}

# same_tree A B WHAT: the two trees hold the same bytes and metadata.
same_tree() {
	diff -r --no-dereference "$1" "$2" > "$T/diff.out" 2>&1 || {
		head -n 20 "$T/diff.out" >&2
		fail "$3: diff -r finds differences"
	}
	listing "$1" > "$T/list.a"
	listing "$2" > "$T/list.b"
	diff "$T/list.a" "$T/list.b" > "$T/diff.out" || {
		head -n 20 "$T/diff.out" >&2
		fail "$3: modes, owners, sizes or mtimes differ"
	}
}

# --- tar -------------------------------------------------------------------
log "tar: build the source tarball"
# Every regular file, symlink and directory of the two trees in name order
# ('/' sorting first, so each directory's entries stay together), up to
# 90 MiB of file data; vendored giants (node, llvm) are left out so the cut
# falls inside /usr/share/doc.
{
	printf '0\t%s\0' /usr /usr/share
	find /usr/include /usr/share/doc \
		\( -path /usr/include/node -o -path '/usr/include/llvm-*' \) \
		-prune -o \( -type f -o -type l -o -type d \) -printf '%s\t%p\0'
} |
	tr / '\001' | sort -z -t $'\t' -k 2 | tr '\001' / |
	while IFS=$'\t' read -r -d '' size path; do
		total=$((${total:-0} + size))
		[ "$total" -le $((90 << 20)) ] || break
		printf '%s\0' "$path"
	done |
	tar --null --no-recursion -T - --sort=name --owner=0 --group=0 \
		--numeric-owner -cf "$T/src.tar" 2> "$T/tar.err" ||
	{ cat "$T/tar.err" >&2; fail "tar: cannot build the source tarball"; }
nfiles=$(tar -tvf "$T/src.tar" | grep -c '^-')
[ "$nfiles" -ge 2000 ] ||
	fail "tar: the source tarball holds only $nfiles files"
log "tar: $nfiles files, $(($(stat -c %s "$T/src.tar") >> 20)) MiB"

mkdir "$T/ref" "$M/tree"
tar -xPf "$T/src.tar" -C "$T/ref" || fail "tar: reference extraction failed"
tar -xPf "$T/src.tar" -C "$M/tree" 2> "$T/tar.err" ||
	{ head -n 20 "$T/tar.err" >&2; fail "tar -x into the mount failed"; }
same_tree "$T/ref" "$M/tree" "tar"
tar -cf "$T/back.tar" --sort=name -C "$M/tree" . ||
	fail "tar -c from the mount failed"
[ "$(tar -tvf "$T/back.tar" | grep -c '^-')" = "$nfiles" ] ||
	fail "tar: an archive made from the mount lacks files"
rm -f "$T/back.tar"

# --- git -------------------------------------------------------------------
log "git: init, add, commit, modify, status, log, fsck, clone"
repo=$M/repo
git init -q -b main "$repo" || fail "git init failed"
cp -a "$T/ref/usr/include/." "$repo/" || fail "git: cannot fill the work tree"
# Git keeps no empty directories (xfsprogs, which ceph-osd needs, installs
# an empty /usr/include/xfs), so the clone compared below cannot have them.
find "$repo" -mindepth 1 -depth -type d -empty -not -path "$repo/.git" \
	-not -path "$repo/.git/*" -exec rmdir {} \; ||
	fail "git: cannot drop empty directories"
git -C "$repo" add -A || fail "git add failed"
git -C "$repo" commit -q -m "import headers" || fail "git commit failed"
[ -z "$(git -C "$repo" status --porcelain)" ] ||
	fail "git status is not clean right after the commit"

mapfile -t tracked < <(git -C "$repo" ls-files | grep -v ' ' | head -n 2)
[ "${#tracked[@]}" = 2 ] || fail "git: fewer than two tracked files"
echo "/* changed by strata 006 */" >> "$repo/${tracked[0]}"
rm "$repo/${tracked[1]}"
echo "new file" > "$repo/strata-new.txt"
want=$(printf ' M %s\n D %s\n?? strata-new.txt' "${tracked[0]}" "${tracked[1]}")
got=$(git -C "$repo" status --porcelain)
[ "$got" = "$want" ] ||
	fail "git status --porcelain: got '$got', want '$want'"
git -C "$repo" add -A || fail "git: second add failed"
git -C "$repo" commit -q -m "second change" || fail "git: second commit failed"
[ -z "$(git -C "$repo" status --porcelain)" ] ||
	fail "git status is not clean after the second commit"
got=$(git -C "$repo" log --format=%s | tr '\n' '|')
[ "$got" = "second change|import headers|" ] ||
	fail "git log: got '$got'"
git -C "$repo" fsck --strict --no-progress > "$T/fsck.out" 2>&1 ||
	{ cat "$T/fsck.out" >&2; fail "git fsck failed"; }
[ ! -s "$T/fsck.out" ] ||
	{ cat "$T/fsck.out" >&2; fail "git fsck reports problems"; }
git -C "$repo" gc -q || fail "git gc failed"
git -C "$repo" fsck --strict --no-progress ||
	fail "git fsck failed after gc"
git clone -q "$repo" "$M/clone" || fail "git clone on the mount failed"
diff -r --no-dereference -x .git "$repo" "$M/clone" > "$T/diff.out" ||
	{ head -n 20 "$T/diff.out" >&2; fail "git: the clone differs"; }

# --- make ------------------------------------------------------------------
log "make: build a small C project"
proj=$M/proj
mkdir "$proj"
cat > "$proj/hello.h" <<'EOF'
const char *greeting(void);
int sum_to(int n);
EOF
cat > "$proj/main.c" <<'EOF'
#include <stdio.h>
#include "hello.h"

int main(void)
{
	printf("%s: sum_to(100) = %d\n", greeting(), sum_to(100));
	return 0;
}
EOF
cat > "$proj/greet.c" <<'EOF'
#include "hello.h"

const char *greeting(void)
{
	return "hello from strata";
}
EOF
cat > "$proj/sum.c" <<'EOF'
#include "hello.h"

int sum_to(int n)
{
	int s = 0;

	for (int i = 1; i <= n; i++)
		s += i;
	return s;
}
EOF
printf '%s\n' \
	'OBJS = main.o greet.o sum.o' \
	'hello: $(OBJS)' \
	'	@echo "LD $@"' \
	'	@$(CC) -o $@ $(OBJS)' \
	'%.o: %.c hello.h' \
	'	@echo "CC $<"' \
	'	@$(CC) -O2 -Wall -c -o $@ $<' > "$proj/Makefile"

(cd "$proj" && make -s) > "$T/make.out" 2>&1 ||
	{ cat "$T/make.out" >&2; fail "make: the first build failed"; }
got=$(sort "$T/make.out" | tr '\n' '|')
[ "$got" = "CC greet.c|CC main.c|CC sum.c|LD hello|" ] ||
	fail "make: first build printed '$got'"
got=$("$proj/hello") || fail "make: the binary does not run"
[ "$got" = "hello from strata: sum_to(100) = 5050" ] ||
	fail "make: the binary printed '$got'"
got=$(cd "$proj" && make 2>&1)
[ "$got" = "make: 'hello' is up to date." ] ||
	fail "make: a second make printed '$got', not up to date"
sleep 1.1
touch "$proj/greet.c"
got=$(cd "$proj" && make -s 2>&1 | tr '\n' '|')
[ "$got" = "CC greet.c|LD hello|" ] ||
	fail "make: after touching greet.c it printed '$got'"
got=$(cd "$proj" && make 2>&1)
[ "$got" = "make: 'hello' is up to date." ] ||
	fail "make: after the rebuild it printed '$got', not up to date"
"$proj/hello" > /dev/null || fail "make: the rebuilt binary does not run"

# --- rsync -----------------------------------------------------------------
log "rsync: a tree with odd modes, owners, links and mtimes, in and out"
src=$T/rsrc
mkdir -p "$src/a/b/c" "$src/private" "$src/empty-dir"
cp -a "$T/ref/usr/include/." "$src/a/b/c/" ||
	fail "rsync: cannot fill the source tree"
head -c $((5 << 20)) /dev/urandom > "$src/random.bin"
: > "$src/empty"
printf 'x' > "$src/one-byte"
printf '#!/bin/sh\necho hi\n' > "$src/script"
ln -s random.bin "$src/link-to-file"
ln -s a/b "$src/link-to-dir"
ln -s does/not/exist "$src/dangling"
chmod 0755 "$src/script"
chmod 0600 "$src/random.bin"
chmod 0444 "$src/one-byte"
chmod 0700 "$src/private"
chmod 2750 "$src/a"
chmod 1777 "$src/empty-dir"
echo secret > "$src/private/key"
chmod 0400 "$src/private/key"
chown 4711:4712 "$src/one-byte" "$src/private"
# rsync skips a nanosecond-only mtime difference, so nothing may keep the
# time it was made at: give every entry an old time first.
find "$src" -mindepth 1 -exec touch -h -d '2020-05-05 12:00:00.25' {} +
touch -h -d '2001-02-03 04:05:06.123456789' "$src/link-to-file"
touch -d '1999-12-31 23:59:59.987654321' "$src/random.bin"
touch -d '2030-01-01 00:00:00.5' "$src/empty"
touch -d '1970-01-02 00:00:00' "$src/script" "$src/a/b"

rsync -a --numeric-ids "$src/" "$M/rs/" > "$T/rsync.out" 2>&1 ||
	{ cat "$T/rsync.out" >&2; fail "rsync -a into the mount failed"; }
same_tree "$src" "$M/rs" "rsync in"
got=$(rsync -a --numeric-ids --itemize-changes "$src/" "$M/rs/" 2>&1)
[ -z "$got" ] || {
	echo "$got" | head -n 20 >&2
	fail "rsync: a second pass into the mount still finds changes"
}
rsync -a --numeric-ids "$M/rs/" "$T/rback/" > "$T/rsync.out" 2>&1 ||
	{ cat "$T/rsync.out" >&2; fail "rsync -a out of the mount failed"; }
same_tree "$src" "$T/rback" "rsync out"
got=$(rsync -a --numeric-ids --itemize-changes "$M/rs/" "$T/rback/" 2>&1)
[ -z "$got" ] || {
	echo "$got" | head -n 20 >&2
	fail "rsync: a second pass out of the mount still finds changes"
}
# Change one file in the middle; only it (and nothing else) moves again.
printf 'changed' | dd of="$src/random.bin" bs=1 seek=1000 conv=notrunc \
	status=none
touch -d '1999-12-31 23:59:59.987654321' "$src/random.bin"
got=$(rsync -a --numeric-ids --checksum --itemize-changes "$src/" "$M/rs/" \
	2>&1)
[ "$got" = ">fc........ random.bin" ] ||
	fail "rsync --checksum: got '$got', want only random.bin"
cmp "$src/random.bin" "$M/rs/random.bin" ||
	fail "rsync: random.bin differs after the checksum pass"

# --- sqlite ----------------------------------------------------------------
log "sqlite: 50,000 rows, rollback journal and WAL"
mkdir "$M/db"
for mode in delete wal; do
	db=$M/db/test-$mode.db
	{
		echo "PRAGMA journal_mode = $mode;"
		echo "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB);"
		echo "CREATE INDEX t_k ON t (k);"
		for i in $(seq 0 49); do
			echo "BEGIN;"
			echo "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL"
			echo " SELECT x + 1 FROM n WHERE x < 1000)"
			echo "INSERT INTO t (id, k, v) SELECT $i * 1000 + x,"
			echo " printf('key-%08d', $i * 1000 + x),"
			echo " randomblob(100)"
			echo " FROM n;"
			echo "COMMIT;"
		done
		echo "UPDATE t SET k = 'even' || k WHERE id % 2 = 0;"
		echo "DELETE FROM t WHERE id % 10 = 0;"
	} | sqlite3 "$db" > "$T/sql.out" 2>&1 ||
		{ cat "$T/sql.out" >&2; fail "sqlite ($mode): load failed"; }
	got=$(sqlite3 "$db" "SELECT count(*), sum(id), sum(k LIKE 'even%')
		FROM t;")
	[ "$got" = "45000|1125000000|20000" ] ||
		fail "sqlite ($mode): count|sum|even is '$got'"
	got=$(sqlite3 "$db" "PRAGMA integrity_check;")
	[ "$got" = ok ] || fail "sqlite ($mode): integrity_check says '$got'"
	got=$(sqlite3 "$db" "PRAGMA journal_mode;")
	[ "$got" = "$mode" ] || fail "sqlite ($mode): journal_mode is '$got'"
	sqlite3 "$db" "VACUUM;" || fail "sqlite ($mode): VACUUM failed"
	got=$(sqlite3 "$db" "PRAGMA integrity_check; SELECT count(*) FROM t;" |
		tr '\n' '|')
	[ "$got" = "ok|45000|" ] ||
		fail "sqlite ($mode): after VACUUM got '$got'"
done

umount_strata

# Everything must still be there after a fresh mount.
if [ "$STRATA_TEST_DIRECT" != 1 ]; then
	log "remount: the trees and the databases survive"
	mount_strata
	same_tree "$T/ref" "$M/tree" "tar after remount"
	same_tree "$src" "$M/rs" "rsync after remount"
	git -C "$repo" fsck --strict --no-progress ||
		fail "git fsck failed after remount"
	got=$(sqlite3 "$M/db/test-wal.db" "PRAGMA integrity_check;")
	[ "$got" = ok ] || fail "sqlite: integrity_check after remount: '$got'"
	umount_strata
fi
log "ok"
