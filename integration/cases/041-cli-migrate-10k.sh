#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 041-cli-migrate-10k: `strata migrate DIR --to T --wait` over 10,000 files
# draws a progress bar (files, bytes, rate, ETA) on a terminal (script(1)
# gives it one), exits 0, and every file is then on T and only there, as
# `strata where` shows; the content is unchanged. Without a terminal the
# same wait prints plain lines.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "041-cli-migrate-10k: the CLI needs a mount"
	exit 0
fi
command -v script > /dev/null || fail "script(1) is needed for a terminal"

S=$STRATA_BIN
N=10000

write_config
mount_strata
mkdir "$M/ds"

log "write $N files of 1 to 8 KiB in one directory"
python3 - "$M/ds" "$N" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    with open(f"{root}/f{i:05}", "wb") as f:
        f.write(os.urandom(1024 + (i * 7919) % 7168))
PY
sum_before=$(cd "$M/ds" && find . -type f | sort | xargs cat | sha256sum)

log "migrate on a terminal: a progress bar"
start=$(date +%s.%N)
script -qec "'$S' migrate '$M/ds' --to capacity --wait" "$T/tty" \
	> /dev/null || { cat -v "$T/tty" | tail -c 2000 >&2; fail "migrate --wait failed"; }
end=$(date +%s.%N)
tr '\r' '\n' < "$T/tty" > "$T/tty.lines"
grep -qE '^ *[0-9]+% \[[#.]{30}\] [0-9]+/10000 files  .*/s  ETA [0-9:-]+' "$T/tty.lines" ||
	{ tail -n 5 "$T/tty.lines" >&2; fail "no progress bar on the terminal"; }
grep -qE '^100% \[#{30}\] 10000/10000 files  ' "$T/tty.lines" ||
	{ tail -n 5 "$T/tty.lines" >&2; fail "the bar does not end at 10000/10000"; }
grep -q "every file is on tier 'capacity'" "$T/tty.lines" || fail "no final line"
bars=$(grep -cE '\] [0-9]+/10000 files' "$T/tty.lines")
log "$N files migrated in $(echo "$end - $start" | bc) s; $bars bar updates"

log "where: every file is on capacity, and only there"
"$S" where --json "$M/ds" > "$T/where.json"
python3 - "$T/where.json" "$N" <<'PY' || fail "where disagrees"
import json, sys
j = json.load(open(sys.argv[1]))
files = j["files"]
assert len(files) == int(sys.argv[2]), f"{len(files)} files"
bad = [f["path"] for f in files if f["durable_on"] != ["capacity"]
       or [r["tier"] for r in f["replicas"]] != ["capacity"]]
assert not bad, f"{len(bad)} files elsewhere, e.g. {bad[:3]}"
PY
[ -z "$(find "$T/tiers/nvme" -type f | head -n 1)" ] ||
	fail "objects are left on nvme: $(find "$T/tiers/nvme" -type f | wc -l)"
sum_after=$(cd "$M/ds" && find . -type f | sort | xargs cat | sha256sum)
[ "$sum_before" = "$sum_after" ] || fail "content changed by the migration"

log "without a terminal: plain progress lines"
# shellcheck disable=SC2046
"$S" migrate $(printf "$M/ds/f%05d " $(seq 0 199)) --to nvme --wait \
	> "$T/out" 2> "$T/err" ||
	{ cat "$T/err" >&2; fail "migrate back failed"; }
grep -qE '^[0-9]+/200 files, .*/s, eta ' "$T/err" || fail "no plain lines: $(cat "$T/err")"
grep -q $'\r' "$T/err" && fail "carriage returns without a terminal"
grep -q "every file is on tier 'nvme'" "$T/out" || fail "no final line"
umount_strata
log "ok"
