#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 043-cli-import: `strata import` adopts a directory tree that a local tier
# already holds, in place: the files appear in the namespace with their
# sizes and mtimes, readable, and not one object is written, changed or
# removed on any tier; each replica keeps the file's path as its key. A
# second run adopts only what is new (resumable); a name the namespace
# already uses is left alone and reported. Then a rule moves the imported
# files like any other, and fsck finds nothing wrong.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "043-cli-import: the CLI needs a mount"
	exit 0
fi

S=$STRATA_BIN
SRC=$T/tiers/capacity/datasets/set1

# snapshot: every file on every tier, with size, mtime and content hash.
snapshot() {
	(cd "$T/tiers" && find . -type f -printf '%p %s %T@\n' | sort) > "$1"
	(cd "$T/tiers" && find . -type f | sort | xargs -r sha256sum) >> "$1"
}

log "an existing tree on the capacity tier's store"
python3 - "$SRC" <<'PY'
import os, sys
root = sys.argv[1]
for d in ("", "train", "train/a", "train/b", "val"):
    os.makedirs(os.path.join(root, d), exist_ok=True)
for i in range(60):
    d = ("train/a", "train/b", "val")[i % 3]
    with open(os.path.join(root, d, f"s{i:03}.bin"), "wb") as f:
        f.write(os.urandom(1000 + i * 997))
with open(os.path.join(root, "README"), "w") as f:
    f.write("set1\n")
PY
touch -d '2021-05-06 07:08:09' "$SRC/README"
(cd "$SRC" && find . -type f | sort | xargs sha256sum) > "$T/sums"
nfiles=$(find "$SRC" -type f | wc -l)

cat > "$T/rules" <<'RULES'
interval 1s
RULES
write_config "rules = $T/rules"
mount_strata
mkdir "$M/imported"
snapshot "$T/before"

log "import: the files appear, no object is written"
"$S" import "$SRC" --tier capacity --into "$M/imported" > "$T/out" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "import failed"; }
grep -q "^imported $nfiles files (.*) and 4 directories into '/imported'; 0 already imported; 0 not adopted$" "$T/out" ||
	fail "import said: $(cat "$T/out")"
snapshot "$T/after"
diff "$T/before" "$T/after" > /dev/null ||
	{ diff "$T/before" "$T/after" | head >&2; fail "the import changed the tiers' stores"; }
(cd "$M/imported" && sha256sum -c --quiet "$T/sums") || fail "imported files do not read back"
[ "$(stat -c '%s %Y' "$M/imported/README")" = "5 $(date -d '2021-05-06 07:08:09' +%s)" ] ||
	fail "README: $(stat -c '%s %Y' "$M/imported/README")"
[ "$(find "$M/imported" -type f | wc -l)" = "$nfiles" ] || fail "file count"
"$S" where --json "$M/imported/val/s002.bin" > "$T/json"
python3 -c '
import json, sys
f = json.load(open(sys.argv[1]))["files"][0]
assert f["durable_on"] == ["capacity"], f
assert f["replicas"][0]["key"] == "datasets/set1/val/s002.bin", f
' "$T/json" || fail "where: $(cat "$T/json")"

log "a second run adopts only what is new; a taken name is reported"
echo new > "$SRC/val/new.bin"
mkdir "$M/imported/taken"
echo mine > "$M/imported/taken/x"
mkdir -p "$SRC/taken"
echo theirs > "$SRC/taken/x"
rc=0
"$S" import datasets/set1 --tier capacity --into "$M/imported" --json > "$T/json" 2> "$T/err" || rc=$?
[ "$rc" = 1 ] || fail "a taken name: exit $rc"
grep -q "1 objects not adopted: their names are taken" "$T/err" || fail "$(cat "$T/err")"
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert (j["files"], j["skipped"], j["conflicts"]) == (1, int(sys.argv[2]), 1), j
' "$T/json" "$nfiles" || fail "second import: $(cat "$T/json")"
[ "$(cat "$M/imported/val/new.bin")" = new ] || fail "new.bin"
[ "$(cat "$M/imported/taken/x")" = mine ] || fail "a taken name was overwritten"
[ "$(cat "$SRC/taken/x")" = theirs ] || fail "a skipped object was changed"
rm "$SRC/taken/x"
expect_err() {
	local rc=0

	"$S" "$@" > "$T/out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "'$*': exit $rc: $(cat "$T/out")"
}
expect_err import /etc --tier capacity --into "$M/imported"
grep -q "'/etc' is not below the root" "$T/out" || fail "$(cat "$T/out")"
expect_err import datasets --tier nope --into "$M/imported"
grep -q "unknown tier 'nope'" "$T/out" || fail "$(cat "$T/out")"
expect_err import datasets --tier capacity --into "$M/imported/README"
grep -q "no such directory" "$T/out" || fail "$(cat "$T/out")"

log "a rule moves imported files like any other"
cat > "$T/rules" <<'RULES'
interval 1s
hot: migrate "/imported/train/**" from capacity to nvme
RULES
# nvme holds taken/x already: 40 train files join it.
for _ in $(seq 1 300); do
	n=$(find "$T/tiers/nvme" -type f | wc -l)
	[ "$n" = 41 ] && break
	sleep 0.1
done
[ "$n" = 41 ] || fail "$((n - 1)) of 40 train files moved to nvme"
for _ in $(seq 1 100); do
	left=$(find "$SRC/train" -type f | wc -l)
	[ "$left" = 0 ] && break
	sleep 0.1
done
[ "$left" = 0 ] || fail "$left moved files kept their old object"
(cd "$M/imported" && sha256sum -c --quiet "$T/sums") || fail "moved files do not read back"
[ "$(find "$SRC/val" -type f | wc -l)" = 21 ] || fail "val files were touched"
umount_strata

log "fsck: imported objects are the catalog's, nothing is orphaned"
"$STRATA_BIN" fsck --json -c "$T/strata.conf" > "$T/json" 2> "$T/err" ||
	{ cat "$T/json" "$T/err" >&2; fail "fsck"; }
python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["found"] == 0 and j["problems"] == [] and j["replicas"] == j["objects"], j
' "$T/json" || fail "fsck --json: $(cat "$T/json")"
log "ok"
