#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 045-nfs-cli-import-prefetch: a dataset that already sits on an NFS export
# (the slow tier) is imported in place with `strata import` (no object
# written on either tier), prefetched to the local tier with `strata
# prefetch --wait`, and then read with the NFS server stopped: every read
# is served from the near copy. A private NFS-Ganesha server, so that it
# can be stopped without touching the shared fixture.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "045-nfs-cli-import-prefetch: the CLI needs a mount"
	exit 0
fi

S=$STRATA_BIN
PORT=${STRATA_TEST_NFS_CLI_PORT:-20596}
NFSD=$T/nfs
nfs_start "$NFSD" "$PORT"
URL="$(nfs_url "$NFS_URL" "045")&timeout=5"
EXPORT=$(nfs_dir "$URL")
mkdir -p "$EXPORT/datasets/set"

# snapshot: every object on both tiers, with size, mtime and hash.
snapshot() {
	(cd "$T/tiers/nvme" && find . -type f -printf 'nvme %p %s %T@\n' | sort) > "$1"
	(cd "$EXPORT" && find . -type f -printf 'nfs %p %s %T@\n' | sort) >> "$1"
	(cd "$EXPORT" && find . -type f | sort | xargs -r sha256sum) >> "$1"
}

log "a dataset on the export, written by someone else"
for i in $(seq -w 1 30); do
	head -c $((100000 + 10#$i * 1000)) /dev/urandom > "$EXPORT/datasets/set/shard$i"
done
(cd "$EXPORT/datasets/set" && sha256sum shard*) > "$T/sums"

write_nfs_config "$URL"
# The export is far: reads prefer the mount's own site.
sed -i '/^url = nfs:/a site = archive' "$T/strata.conf"
mount_strata
mkdir "$M/set"
snapshot "$T/before"

log "import in place from the NFS tier"
"$S" import "$EXPORT/datasets/set" --tier nfs --into "$M/set" > "$T/out" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "import failed"; }
grep -q "^imported 30 files " "$T/out" || fail "import: $(cat "$T/out")"
snapshot "$T/after"
diff "$T/before" "$T/after" > /dev/null ||
	{ diff "$T/before" "$T/after" | head >&2; fail "the import wrote to a tier"; }
(cd "$M/set" && sha256sum -c --quiet "$T/sums") || fail "imported files do not read back"

log "prefetch to the local tier"
"$S" prefetch "$M/set" --to nvme --wait > "$T/out" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "prefetch --wait failed"; }
"$S" where --json "$M/set" > "$T/json"
python3 -c '
import json, sys
files = json.load(open(sys.argv[1]))["files"]
assert len(files) == 30, len(files)
for f in files:
    assert sorted(f["durable_on"]) == ["nfs", "nvme"], f
    keys = {r["tier"]: r["key"] for r in f["replicas"]}
    assert keys["nfs"] == "datasets/set/" + f["path"].split("/")[-1], f
' "$T/json" || fail "where after prefetch: $(head -c 600 "$T/json")"

log "reads with the NFS server stopped come from the near tier"
umount_strata_or_kill
mount_strata
"$GANESHA" stop "$NFSD"
rc=0
(cd "$M/set" && timeout 60 sha256sum -c --quiet "$T/sums") || rc=$?
"$GANESHA" restart "$NFSD" > /dev/null || fail "cannot restart the NFS server"
[ "$rc" = 0 ] || fail "reads needed the NFS tier (status $rc)"
umount_strata_or_kill
log "ok"
