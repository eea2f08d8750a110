#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# 005-large-directory: one directory with 100,000 entries. Creates them
# (names of varying length), lists them with `ls -f` and os.scandir (exactly
# 100,000 names, the expected set, no duplicates), then lists repeatedly
# while another process deletes a third of them and adds 10,000 new ones:
# no pass may return a name twice, every name that existed throughout must
# be returned, and nothing that never existed. Finally the directory must
# hold exactly the survivors, and after removing them all, rmdir succeeds.

. "$(dirname "$0")/../lib.sh"

N=100000

cat > "$T/large.py" <<'PY'
import multiprocessing as mp, os, sys, time

d, cmd, n = sys.argv[1], sys.argv[2], int(sys.argv[3])

def name(i):
	return f"e{i:06d}" + "x" * (i % 41)

def new_name(i):
	return f"new-{i:05d}"

ORIG = {name(i) for i in range(n)}
GONE = {name(i) for i in range(0, n, 3)}
ADDED = {new_name(i) for i in range(n // 10)}

def listing(pause=0, started=None):
	names = []
	with os.scandir(d) as it:
		for k, e in enumerate(it, 1):
			names.append(e.name)
			if pause and k % 2000 == 0:
				if started is not None:
					started.set()	# churn begins mid-listing
				time.sleep(pause)
	return names

def check_exact(want, what):
	names = listing()
	if len(names) != len(set(names)):
		sys.exit(f"{what}: {len(names) - len(set(names))} duplicate names")
	if set(names) != want:
		miss, extra = want - set(names), set(names) - want
		sys.exit(f"{what}: {len(names)} names; missing {len(miss)} "
			 f"{sorted(miss)[:3]}, unexpected {len(extra)} {sorted(extra)[:3]}")
	print(f"{what}: {len(names)} names, as expected")

def churn(started, done):
	started.wait()
	gone = sorted(GONE)
	added = sorted(ADDED)
	for k, g in enumerate(gone):
		os.unlink(os.path.join(d, g))
		if k % 3 == 0 and k // 3 < len(added):
			fd = os.open(os.path.join(d, added[k // 3]),
				     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
			os.close(fd)
	for a in added[len(gone) // 3 + 1:]:
		os.close(os.open(os.path.join(d, a), os.O_WRONLY | os.O_CREAT, 0o644))
	done.set()

if cmd == "create":
	flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
	for i in range(n):
		os.close(os.open(os.path.join(d, name(i)), flags, 0o644))
elif cmd == "check":
	check_exact(ORIG, "after create")
elif cmd == "churn":
	stable = ORIG - GONE
	possible = ORIG | ADDED
	started, done = mp.Event(), mp.Event()
	p = mp.Process(target=churn, args=(started, done))
	p.start()
	passes = 0
	while passes < 2 or not done.is_set():
		names = listing(pause=0.002, started=started)
		passes += 1
		got = set(names)
		if len(names) != len(got):
			p.kill()
			sys.exit(f"pass {passes}: {len(names) - len(got)} names returned twice")
		if not stable <= got:
			p.kill()
			miss = sorted(stable - got)
			sys.exit(f"pass {passes}: {len(miss)} names that existed "
				 f"throughout were not returned, e.g. {miss[:3]}")
		if not got <= possible:
			p.kill()
			sys.exit(f"pass {passes}: unknown names {sorted(got - possible)[:3]}")
	p.join()
	if p.exitcode != 0:
		sys.exit(f"the churning process exited with {p.exitcode}")
	print(f"{passes} listing passes during the churn")
	check_exact((ORIG - GONE) | ADDED, "after churn")
elif cmd == "remove":
	for e in listing():
		os.unlink(os.path.join(d, e))
	check_exact(set(), "after removing everything")
PY

write_config
mount_strata

D=$M/big
mkdir "$D"
log "creating $N entries"
python3 "$T/large.py" "$D" create "$N" || fail "creating $N entries"

log "listing"
got=$(ls -f "$D" | wc -l)
[ "$got" = $((N + 2)) ] || fail "ls -f lists $got entries, want $((N + 2))"
python3 "$T/large.py" "$D" check "$N" || fail "scandir after create"

log "listing while deleting and adding"
python3 "$T/large.py" "$D" churn "$N" || fail "listing during changes"
got=$(ls -f "$D" | wc -l)
want=$((N - (N + 2) / 3 + N / 10 + 2))
[ "$got" = "$want" ] || fail "ls -f lists $got entries after churn, want $want"

log "removing everything"
python3 "$T/large.py" "$D" remove "$N" || fail "removing all entries"
rmdir "$D" || fail "rmdir of the emptied directory"
[ ! -e "$D" ] || fail "directory still there after rmdir"

umount_strata
echo "ok 005-large-directory"
