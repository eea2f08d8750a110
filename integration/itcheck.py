# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/itcheck.py - the expectation helpers of the integration cases'
# inline Python checks (lib.sh puts this directory on PYTHONPATH).
#
#   from itcheck import check, finish
#   check(cond, "what it shows")   # prints "ok   ..." or "FAIL ..."
#   finish()                       # exits 1 if any check failed, else 0
#
# Every check runs and prints, so one failure does not hide the next.

import sys

_failed = 0


def check(cond, what):
	"""Print one expectation's outcome; return cond."""
	global _failed
	print(("ok   " if cond else "FAIL ") + what, flush=True)
	if not cond:
		_failed += 1
	return cond


def finish():
	"""Exit 1 when any check failed, else 0."""
	sys.exit(1 if _failed else 0)
