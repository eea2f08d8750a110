#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 040-cli-commands: every command of the strata CLI that talks to a running
# mount, over its control socket, and their errors: status, where, pin,
# unpin, pins, migrate, prefetch, free, sync, jobs (list, cancel, retry),
# help and version; --json output of each parses; a path outside any
# strata mount, an unknown tier, a pin larger than the tier's free space,
# freeing a last valid copy, no running mount, a user who is not the
# mount's owner trying to change something (or to look where the mount's
# permissions would not let them), malformed arguments (a usage message
# and exit status 2).
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "040-cli-commands: the CLI needs a mount"
	exit 0
fi

S=$STRATA_BIN

# as USER CMD...: run CMD as USER with the user's groups.
as() {
	local user=$1

	shift
	setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups -- "$@"
}

# expect STATUS MESSAGE CMD...: CMD exits with STATUS and prints MESSAGE (a
# fixed string; "" for any) on stdout or stderr. Output in $T/out.
expect() {
	local status=$1 msg=$2 rc=0

	shift 2
	"$@" > "$T/out" 2>&1 || rc=$?
	if [ "$rc" != "$status" ]; then
		cat "$T/out" >&2
		fail "'$*': exit status $rc, want $status"
	fi
	if [ -n "$msg" ] && ! grep -qF -- "$msg" "$T/out"; then
		cat "$T/out" >&2
		fail "'$*': the output lacks '$msg'"
	fi
}

# json CMD...: CMD succeeds and prints one JSON document; it goes to
# $T/json.
json() {
	"$@" > "$T/json" 2> "$T/err" || { cat "$T/err" >&2; fail "'$*' failed"; }
	python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$T/json" ||
		fail "'$*' printed no valid JSON: $(head -c 300 "$T/json")"
}

# jq_ EXPR: evaluate a Python expression over the JSON in $T/json (as j).
jq_() {
	python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
		"$T/json" "$1"
}

# tiers FILE: the tiers holding a valid copy, sorted, from strata where.
tiers() {
	json "$S" where --json "$1"
	jq_ '",".join(sorted(j["files"][0]["durable_on"]))'
}

wait_tiers() {
	local got

	for _ in $(seq 1 100); do
		got=$(tiers "$1")
		[ "$got" = "$2" ] && return 0
		sleep 0.1
	done
	fail "'$1' is on '$got', want '$2'"
}

ensure_test_users
chmod 0755 "$T"
cat > "$T/rules" <<'RULES'
interval 1h
cold: place "/cold/**" on capacity
RULES
write_config "rules = $T/rules"
sed -i '/^url = file:\/\/.*nvme$/a capacity = 4MiB' "$T/strata.conf"

log "no running mount: commands that need one say so"
expect 1 "no running mount" "$S" status -c "$T/strata.conf"
expect 1 "no running mount" "$S" where -c "$T/strata.conf" /a

mount_strata -o allow_other
chmod 0755 "$M"
mkdir "$M/d" "$M/cold"
head -c 100000 /dev/urandom > "$M/a"
for i in 1 2 3 4 5; do
	head -c $((i * 10000)) /dev/urandom > "$M/d/f$i"
done
head -c 6M /dev/urandom > "$M/cold/big"
sum_a=$(sha256sum < "$M/a")
[ -S "$T/catalog.db.sock" ] || fail "no control socket at CATALOG.sock"
[ "$(stat -c %a "$T/catalog.db.sock")" = 666 ] ||
	fail "the socket's mode is $(stat -c %a "$T/catalog.db.sock")"

log "the socket speaks newline-delimited JSON and refuses what is not"
python3 - "$T/catalog.db.sock" > "$T/out" <<'PY' || fail "raw socket: $(cat "$T/out")"
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rwb")
def ask(line):
    f.write(line + b"\n")
    f.flush()
    return json.loads(f.readline())
r = ask(b'{"op": "hello"}')
assert r["ok"] and r["may_change"] is True, r
r = ask(b'{"op": "where", "paths": ["/a"]')
assert not r["ok"] and r["errno"] == "EINVAL" and "malformed request at byte" in r["error"], r
r = ask(b'{"op": "frobnicate"}')
assert not r["ok"] and r["error"] == "unknown request 'frobnicate'", r
r = ask(b'[1, 2]')
assert not r["ok"], r
r = ask(b'{"op": "where", "paths": ["relative"]}')
assert not r["ok"] and r["errno"] == "EINVAL" and "no namespace path" in r["error"], r
r = ask(b'{"op": "where", "paths": ["/nope"]}')
assert not r["ok"] and r["errno"] == "ENOENT", r
r = ask(b'{"op": "progress"}')
assert not r["ok"] and r["error"] == "nothing to wait for", r
r = ask(b'{"op": "status"}')
assert r["ok"] and len(r["tiers"]) == 2, r
print("ok")
PY

log "help, version, usage errors (exit 2)"
expect 0 "usage: strata where" "$S" help where
expect 0 "usage: strata migrate" "$S" migrate --help
expect 0 "prefetch" "$S" help
expect 2 "unknown command 'nope'" "$S" help nope
expect 2 "unknown command 'frobnicate'" "$S" frobnicate
json "$S" version --json
[ "$(jq_ 'j["version"]')" != "" ] || fail "version --json has no version"
expect 2 "usage: strata where" "$S" where
expect 2 "usage: strata pin" "$S" pin "$M/a"
expect 2 "usage: strata migrate" "$S" migrate "$M/a"
expect 2 "usage: strata migrate" "$S" migrate --bogus "$M/a" --to nvme
expect 2 "usage: strata free" "$S" free "$M/a" --to nvme
expect 2 "usage: strata status" "$S" status "$M" "$M"
expect 2 "usage: strata import" "$S" import "$M/a"
expect 2 "bad job id 'abc'" "$S" jobs cancel abc
expect 2 "usage: strata jobs" "$S" jobs cancel
expect 2 "unknown job state 'done'" "$S" jobs --state done "$M"
expect 2 "usage: strata version" "$S" version extra

log "a path outside any strata mount"
expect 1 "'/tmp' is not in a strata mount" "$S" where /tmp
expect 1 "is not in a strata mount" "$S" migrate "$T/rules" --to nvme
expect 1 "No such file" "$S" where "$M/missing"

log "status: per tier and per site"
expect 0 "" "$S" status "$M"
head -n 1 "$T/out" | grep -q '^TIER *SITE *CAPACITY *USED *FREE *FILES *PENDING *RUNNING *FAILED$' ||
	fail "status header: $(head -n 1 "$T/out")"
grep -q '^nvme  *test  *4.0 MiB ' "$T/out" || fail "status lacks nvme: $(cat "$T/out")"
grep -q '^capacity  *test ' "$T/out" || fail "status lacks capacity"
grep -q '^(site)  *test ' "$T/out" || fail "status lacks the site row"
json "$S" status --json "$M"
[ "$(jq_ '[t["files"] for t in j["tiers"] if t["name"]=="nvme"][0]')" = 6 ] ||
	fail "nvme should hold 6 files: $(cat "$T/json")"
[ "$(jq_ '[t["capacity"] for t in j["tiers"] if t["name"]=="nvme"][0]')" = 4194304 ] ||
	fail "nvme capacity: $(cat "$T/json")"
(cd "$M/d" && "$S" status > /dev/null) || fail "status from the current directory"

log "where: tiers, replicas, version, pin, state"
expect 0 "" "$S" where "$M/a" "$M/cold/big"
grep -q '^/a  *97.7 KiB  *1  *durable  *-  *nvme  *nvme:v1:valid$' "$T/out" ||
	fail "where /a: $(cat "$T/out")"
grep -q '^/cold/big  *6.0 MiB  *1  *durable  *-  *capacity ' "$T/out" ||
	fail "where /cold/big: $(cat "$T/out")"
mkdir "$M/d/sub"
echo deep > "$M/d/sub/deep"
json "$S" where --json "$M/d"
[ "$(jq_ 'len(j["files"])')" = 5 ] || fail "where d: $(cat "$T/json")"
json "$S" where -r --json "$M/d"
[ "$(jq_ 'len(j["files"])')" = 6 ] || fail "where -r d: $(cat "$T/json")"
[ "$(jq_ 'sorted(f["path"] for f in j["files"])[-1]')" = /d/sub/deep ] ||
	fail "where -r d: $(cat "$T/json")"
# A writer that keeps its one descriptor open: any close(2) of a copy of
# it (a shell's redirection) would flush it to the catalog.
# It says when it has written (a loaded machine may take longer than any
# fixed pause to start python).
python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"more")
open(sys.argv[2], "w").close()
time.sleep(2)' "$M/d/f1" "$T/written" &
writer=$!
for _ in $(seq 1 100); do
	[ -e "$T/written" ] && break
	sleep 0.1
done
[ -e "$T/written" ] || fail "the writer did not write within 10 s"
json "$S" where --json "$M/d/f1"
[ "$(jq_ 'j["files"][0]["state"]')" = dirty ] ||
	fail "a file written through an open descriptor is not dirty: $(cat "$T/json")"
wait "$writer"
json "$S" where --json -c "$T/strata.conf" /d/f1
[ "$(jq_ 'j["files"][0]["state"]')" = durable ] || fail "f1 is not durable after close"
[ "$(jq_ 'j["files"][0]["version"]')" = 2 ] || fail "f1's version is not 2"

log "an unknown tier"
expect 1 "unknown tier 'nope'" "$S" migrate "$M/a" --to nope
expect 1 "unknown tier 'nope'" "$S" pin "$M/a" --tier nope

log "pin: admitted against the tier's free space"
expect 1 "pin needs 6.0 MiB on tier 'nvme', which has" "$S" pin "$M/cold/big" --tier nvme
grep -q "missing" "$T/out" || fail "the refusal does not say how much is missing"
json "$S" pins --json "$M"
[ "$(jq_ 'len(j["pins"])')" = 0 ] || fail "a refused pin was set"
[ "$(tiers "$M/cold/big")" = capacity ] || fail "a refused pin moved the file"
expect 0 "pinned 1 files" "$S" pin "$M/d/f2" --tier capacity
wait_tiers "$M/d/f2" capacity
expect 0 "" "$S" pins "$M"
grep -q '^/d/f2  *capacity  *19.5 KiB$' "$T/out" || fail "pins: $(cat "$T/out")"
json "$S" where --json "$M/d/f2"
[ "$(jq_ 'j["files"][0]["pin"]')" = capacity ] || fail "where shows no pin"
expect 0 "unpinned 1 files" "$S" unpin -r "$M/d"
json "$S" pins --json "$M"
[ "$(jq_ 'len(j["pins"])')" = 0 ] || fail "unpin left a pin"

log "migrate, prefetch, free"
expect 0 "every file is on tier 'capacity'" "$S" migrate -r "$M/d" --to capacity --wait
for i in 1 2 3 4 5; do
	[ "$(tiers "$M/d/f$i")" = capacity ] || fail "d/f$i is on $(tiers "$M/d/f$i")"
done
json "$S" prefetch --json --wait "$M/a" --to capacity
[ "$(jq_ 'j["failed"]')" = 0 ] || fail "prefetch --json: $(cat "$T/json")"
[ "$(tiers "$M/a")" = capacity,nvme ] || fail "prefetch left a on $(tiers "$M/a")"
expect 0 "jobs queued" "$S" free "$M/a" --from nvme
wait_tiers "$M/a" capacity
# A migrate --wait ends when the other copies are gone too.
expect 0 "every file is on tier 'nvme'" "$S" prefetch "$M/d/f3" --to nvme --wait
[ "$(tiers "$M/d/f3")" = capacity,nvme ] || fail "prefetch f3: $(tiers "$M/d/f3")"
expect 0 "every file is on tier 'nvme'" "$S" migrate "$M/d/f3" --to nvme --wait
[ "$(tiers "$M/d/f3")" = nvme ] || fail "after migrate --wait f3 is on $(tiers "$M/d/f3")"
expect 1 "'/a': tier 'capacity' holds its last valid copy" "$S" free "$M/a" --from capacity
[ "$(tiers "$M/a")" = capacity ] || fail "a refused free changed a"
[ "$(sha256sum < "$M/a")" = "$sum_a" ] || fail "a's content changed"

log "sync"
echo synced > "$M/d/new"
expect 0 "sync: done" "$S" sync --wait "$M/d/new"
json "$S" sync --json -r "$M/d"
[ "$(jq_ 'j["files"]')" = 7 ] || fail "sync -r: $(cat "$T/json")"

log "jobs: list, cancel, retry"
# A file open for writing is never moved: its job stays pending.
exec 3>> "$M/d/new"
expect 0 "1 jobs queued" "$S" migrate "$M/d/new" --to capacity
json "$S" jobs --json "$M"
[ "$(jq_ 'len(j["jobs"])')" = 1 ] || fail "jobs: $(cat "$T/json")"
[ "$(jq_ 'j["jobs"][0]["path"]')" = /d/new ] || fail "job path: $(cat "$T/json")"
[ "$(jq_ 'j["jobs"][0]["rule"]')" = migrate ] || fail "job rule: $(cat "$T/json")"
id=$(jq_ 'j["jobs"][0]["id"]')
expect 0 "" "$S" jobs "$M"
grep -q "^ *$id  *move  */d/new  *nvme  *capacity " "$T/out" || fail "jobs: $(cat "$T/out")"
expect 1 "no job 999999" "$S" jobs retry 999999 -c "$T/strata.conf"
for _ in $(seq 1 50); do
	rc=0
	"$S" jobs -c "$T/strata.conf" retry "$id" > "$T/out" 2>&1 || rc=$?
	[ "$rc" = 0 ] && break
	grep -q "is running" "$T/out" || fail "retry: $(cat "$T/out")"
	sleep 0.1
done
grep -q "retried: 1 jobs" "$T/out" || fail "retry: $(cat "$T/out")"
for _ in $(seq 1 50); do
	rc=0
	(cd "$M" && "$S" jobs cancel "$id") > "$T/out" 2>&1 || rc=$?
	[ "$rc" = 0 ] && break
	grep -q "is running" "$T/out" || fail "cancel: $(cat "$T/out")"
	sleep 0.1
done
grep -q "cancelled: 1 jobs" "$T/out" || fail "cancel: $(cat "$T/out")"
json "$S" jobs --json "$M"
[ "$(jq_ 'len(j["jobs"])')" = 0 ] || fail "cancel left jobs: $(cat "$T/json")"
"$S" migrate "$M/d/new" --to capacity > /dev/null
# --all leaves a running job alone: cancel until none is left.
for _ in $(seq 1 50); do
	expect 0 "cancelled: " "$S" jobs cancel --all -c "$T/strata.conf"
	json "$S" jobs --json "$M"
	[ "$(jq_ 'len(j["jobs"])')" = 0 ] && break
	sleep 0.1
done
[ "$(jq_ 'len(j["jobs"])')" = 0 ] || fail "cancel --all left jobs"
exec 3>&-
[ "$(tiers "$M/d/new")" = nvme ] || fail "a cancelled move moved the file"

log "a user who is not the mount's owner may look, not change"
expect 0 "nvme" as strata1 "$S" status "$M"
expect 0 "/a" as strata1 "$S" where "$M/a"
expect 0 "" as strata1 "$S" jobs -c "$T/strata.conf"
for cmd in "pin $M/a --tier nvme" "unpin $M/a" "migrate $M/a --to nvme" \
	"prefetch $M/a --to nvme" "free $M/a --from capacity" "sync $M/a" \
	"jobs cancel --all" "import x --tier nvme --into $M/d"; do
	# shellcheck disable=SC2086
	expect 1 "only its owner (uid 0) and root may ask" \
		as strata1 "$S" $cmd -c "$T/strata.conf"
done
[ "$(tiers "$M/a")" = capacity ] || fail "a refused request moved a"
# The socket shows others no more than the mount's permissions do.
mkdir -m 0700 "$M/private"
echo secret > "$M/private/f"
expect 1 "'/private/f': permission denied" \
	as strata1 "$S" where -c "$T/strata.conf" /private/f
expect 1 "'/private': permission denied" \
	as strata1 "$S" where -r -c "$T/strata.conf" /
expect 0 "/private/f" "$S" where -c "$T/strata.conf" /private/f

log "the mount stops: the socket goes, commands say no mount runs"
umount_strata
[ ! -e "$T/catalog.db.sock" ] || fail "the socket outlived the mount"
expect 1 "no running mount" "$S" pins -c "$T/strata.conf"
json "$S" fsck --json -c "$T/strata.conf"
[ "$(jq_ 'j["found"]')" = 0 ] || fail "fsck after the commands: $(cat "$T/json")"
json "$S" rules check --json -c "$T/strata.conf" "$T/rules"
[ "$(jq_ '(j["errors"], j["rules"], j["ok"])')" = "(0, 1, True)" ] ||
	fail "rules check --json: $(cat "$T/json")"
log "ok"
