#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 042-cli-prefetch: a dataset on a far tier (another site) is brought near
# with `strata prefetch --wait` before a job reads it: the command exits 0
# once every byte is on the near tier, the far copies stay, and the reads
# that follow are served from the near tier (they succeed, with the same
# bytes, while the far tier's store is out of reach). A prefetch that
# cannot complete exits 1 and lists the file; one that cannot fit is
# refused up front.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "042-cli-prefetch: the CLI needs a mount"
	exit 0
fi

S=$STRATA_BIN
mkdir -p "$T/tiers/far"
cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $T/catalog.db
site = gpu
placement = far
entry_timeout = 1
attr_timeout = 1

[tier nvme]
url = file://$T/tiers/nvme
capacity = 8MiB

[tier far]
url = file://$T/tiers/far
site = archive
CONF

# where_json FILE: strata where --json into $T/json.
py() {
	python3 -c "import json, sys; j = json.load(open('$T/json')); $1"
}

mount_strata
mkdir "$M/ds"
for i in $(seq -w 1 20); do
	head -c 262144 /dev/urandom > "$M/ds/shard$i"
done
(cd "$M/ds" && sha256sum shard*) > "$T/sums"
"$S" where -r --json "$M/ds" > "$T/json"
py 'assert all(f["durable_on"] == ["far"] for f in j["files"]), j' ||
	fail "the dataset did not land on the far tier"

log "prefetch --wait: exit 0 when every byte is near"
"$S" prefetch -r "$M/ds" --to nvme --wait > "$T/out" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "prefetch --wait failed"; }
grep -q "every file is on tier 'nvme'" "$T/out" || fail "prefetch: $(cat "$T/out")"
"$S" where -r --json "$M/ds" > "$T/json"
py 'assert len(j["files"]) == 20 and all(sorted(f["durable_on"]) == ["far", "nvme"] for f in j["files"]), j' ||
	fail "after prefetch the dataset is not on both tiers"

log "reads are served from the near tier"
# A fresh mount: no page cache, no file state from before.
umount_strata
mount_strata
mv "$T/tiers/far" "$T/tiers/far.away"
(cd "$M/ds" && sha256sum -c --quiet "$T/sums") ||
	{ mv "$T/tiers/far.away" "$T/tiers/far"; fail "reads needed the far tier"; }
mv "$T/tiers/far.away" "$T/tiers/far"

log "a prefetch that cannot fit is refused up front"
head -c 4M /dev/urandom > "$M/big"
rc=0
"$S" prefetch "$M/big" --to nvme --wait > "$T/out" 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "prefetch of a file too big: exit $rc"
grep -q "prefetch needs 4.0 MiB on tier 'nvme', which has .* free: .* missing" "$T/out" ||
	fail "prefetch too big: $(cat "$T/out")"

log "a prefetch that fails lists the file and exits 1"
mkdir "$M/bad"
echo lost > "$M/bad/lost"
echo kept > "$M/bad/kept"
"$S" where --json "$M/bad/lost" > "$T/json"
key=$(py 'print(j["files"][0]["replicas"][0]["key"])')
rm "$T/tiers/far/$key"
"$S" prefetch -r "$M/bad" --to nvme --wait > "$T/out" 2> "$T/err" &
waiter=$!
# The copy fails and waits to retry; strata jobs shows why. A scheduler
# (here: us) gives up on it by cancelling the job.
for _ in $(seq 1 100); do
	"$S" jobs --json "$M" > "$T/json"
	id=$(py 'print(" ".join(str(x["id"]) for x in j["jobs"] if "source object is missing" in x["error"]))')
	[ -n "$id" ] && break
	sleep 0.1
done
[ -n "$id" ] || fail "the failing copy shows no error in strata jobs: $(cat "$T/json")"
kill -0 "$waiter" 2>/dev/null || fail "prefetch --wait ended while a copy was failing"
for _ in $(seq 1 50); do
	# shellcheck disable=SC2086 # one id or several
	"$S" jobs cancel $id -c "$T/strata.conf" > /dev/null 2>&1 && break
	sleep 0.1
done
rc=0
wait "$waiter" || rc=$?
[ "$rc" = 1 ] || fail "prefetch with a lost object: exit $rc: $(cat "$T/err")"
grep -q "strata prefetch: '/bad/lost': its job ended without a valid copy" "$T/err" ||
	fail "the failure is not listed: $(cat "$T/err")"
grep -q "'/bad/kept'" "$T/err" && fail "a file that made it is listed as failed"
"$S" where --json "$M/bad/kept" > "$T/json"
py 'assert sorted(j["files"][0]["durable_on"]) == ["far", "nvme"], j' ||
	fail "the good file was not prefetched"
# The namespace knows the object is lost; fsck would say so too.
rm "$M/bad/lost"
umount_strata
log "ok"
