#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 014-rules-check: `strata rules check [-c CONFIG] FILE` judges a rules
# file and moves nothing. A good file (the illustration of man
# strata-rules(5)) exits 0 and says "ok"; a file with syntax errors on
# several lines reports each as FILE:LINE:COL: error: and exits 1; meaning
# errors (unknown tier, tier at the wrong site, from == to, evict marks out
# of order) need -c CONFIG; warnings alone (a shadowed rule, a condition
# that is never true) exit 0; bad usage exits 2; a missing file exits 1 and
# is named. Needs no FUSE: it never mounts.

set -eu
export LC_ALL=C

STRATA_SRC=${STRATA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
STRATA_BIN=${STRATA_BIN:-$STRATA_SRC/build/strata}
T=$(mktemp -d "${TMPDIR:-/tmp}/strata-it.XXXXXX")
trap 'rm -rf "$T"' EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

log() {
	echo "--- $*"
}

# run WANT-STATUS ARGS...: run strata rules check; its output lands in
# $T/out. Fails unless it exits WANT-STATUS.
run() {
	local want=$1 rc=0

	shift
	"$STRATA_BIN" rules "$@" > "$T/out" 2>&1 || rc=$?
	if [ "$rc" != "$want" ]; then
		cat "$T/out" >&2
		fail "strata rules $*: exit $rc, want $want"
	fi
}

# has TEXT: the last output holds the line TEXT.
has() {
	grep -qxF -- "$1" "$T/out" || {
		cat "$T/out" >&2
		fail "the output lacks the line '$1'"
	}
}

mkdir -p "$T/tiers/nvme" "$T/tiers/capacity" "$T/tiers/s3"
cat > "$T/strata.conf" <<CONF
[namespace]
catalog = $T/catalog.db
site = lab
placement = nvme

[tier nvme]
url = file://$T/tiers/nvme

[tier capacity]
url = file://$T/tiers/capacity

[tier s3]
url = file://$T/tiers/s3
site = cloud
CONF

cat > "$T/good.rules" <<'RULES'
# the illustration of strata-rules(5)
interval 30s
ckpt-fast: place "/ckpt/**" on nvme
replicate "/ckpt/**" to s3 when age > 10m
cold: migrate "**" from nvme to s3 when atime > 7d and size >= 1MiB
evict nvme to capacity when used > 85% until used < 70% by atime
cache "/datasets/**" on nvme when read
far: migrate "/old/**" to @cloud when (mtime > 30d or
	tag "archive") and not pinned
RULES

log "a good file passes, with and without a config"
run 0 check -c "$T/strata.conf" "$T/good.rules"
has "$T/good.rules: ok, 6 rules, interval 30s, 0 warnings"
run 0 check "$T/good.rules"
has "$T/good.rules: ok, 6 rules, interval 30s, 0 warnings (tiers not checked: no -c CONFIG)"

log "syntax errors are reported line by line"
cat > "$T/syntax.rules" <<'RULES'
place "/a/**" at nvme
ok: place "/b/**" on nvme
migrate "**" to s3 when size > 7d
evict nvme to capacity when used > 85% until used < 70% by colour
cache "/c" on nvme when read
RULES
run 1 check -c "$T/strata.conf" "$T/syntax.rules"
has "$T/syntax.rules:1:15: error: expected 'on' after the pattern, got 'at'"
has "$T/syntax.rules:3:32: error: expected a size such as 1MiB after 'size >', got '7d'"
has "$T/syntax.rules:4:60: error: expected atime, mtime, size or heat after 'by', got 'colour'"
has "$T/syntax.rules: 3 errors, 0 warnings"

log "meaning errors need the config"
cat > "$T/meaning.rules" <<'RULES'
place "/a" on fast
place "/b" on s3@lab
migrate "/c" from nvme to nvme
evict nvme to capacity when used > 60% until used < 70%
RULES
run 1 check -c "$T/strata.conf" "$T/meaning.rules"
has "$T/meaning.rules:1:15: error: unknown tier 'fast'"
has "$T/meaning.rules:2:15: error: tier 's3' is at site 'cloud', not 'lab'"
has "$T/meaning.rules:3:27: error: 'from' and 'to' are the same: 'nvme'"
has "$T/meaning.rules:4:53: error: low mark 70% must be below the high mark 60%"
has "$T/meaning.rules: 4 errors, 0 warnings"
# Without a config only what needs none is reported.
run 1 check "$T/meaning.rules"
has "$T/meaning.rules: 2 errors, 0 warnings"

log "warnings alone pass"
cat > "$T/warn.rules" <<'RULES'
all: place "/data/**" on nvme
place "/data/x/*.pt" on capacity
migrate "/y" to s3 when size > 1KiB and size < 1KiB
RULES
run 0 check -c "$T/strata.conf" "$T/warn.rules"
has "$T/warn.rules:2:1: warning: rule 'line-2' can never apply: place rule 'all' (line 1) comes first, has no condition and matches every file it does"
has "$T/warn.rules:3:25: warning: rule 'line-3' can never apply: its condition is never true"

log "usage and missing files"
run 2 check
run 2 check a b
run 2
run 2 frobnicate x
run 0 --help
run 1 check "$T/nope.rules"
grep -qF "$T/nope.rules" "$T/out" || fail "a missing file is not named"
run 1 check -c "$T/nope.conf" "$T/good.rules"
grep -qF "$T/nope.conf" "$T/out" || fail "a missing config is not named"
log "ok"
