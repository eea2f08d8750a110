#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 017-odd-paths: a catalog and tiers whose paths hold a comma and a space.
# The catalog path names the mount (its source in mountinfo, where the
# kernel escapes the space); libfuse needs the comma escaped. strata umount
# must find the catalog from that source and wait for it.
. "$(dirname "$0")/../lib.sh"

if [ "$STRATA_TEST_DIRECT" = 1 ]; then
	echo "017-odd-paths: nothing to check without a mount"
	exit 0
fi

odd="$T/odd, dir"
mkdir -p "$odd/tier"
cat > "$T/strata.conf" <<CONF
[namespace]
catalog = "$odd/catalog.db"
site = test
placement = t

[tier t]
url = file://$odd/tier
CONF
mount_strata
echo "through an odd path" > "$M/f"
src=$(awk -v m="$M" '$5 == m { for (i = 7; $i != "-"; i++); print $(i + 2) }' \
	/proc/self/mountinfo)
[ "$src" = "$(printf '%s' "$odd/catalog.db" | sed 's/ /\\040/g')" ] ||
	fail "mount source is '$src'"
umount_strata
mount_strata
[ "$(cat "$M/f")" = "through an odd path" ] || fail "content lost"
umount_strata
echo "ok 017-odd-paths"
