# SPDX-License-Identifier: GPL-2.0-or-later
#
# integration/posix_ops.py - POSIX operation checks run against a directory.
#
# Usage: python3 posix_ops.py DIR [CHECK...]. Each check gets its own fresh
# subdirectory of DIR, exercises one family of system calls and compares
# results (including exact errno values) with what Linux gives on a local
# file system, so the same script validates both a Strata mount and, under
# STRATA_TEST_DIRECT=1, the expectations themselves. Prints one line per
# check, then "N passed, M failed"; exits 1 if any check failed. Must run as
# root (chown). Standard library only; ctypes reaches renameat2, utimensat
# and getxattr where the os module does not.

import ctypes
import errno
import fcntl
import os
import socket
import stat
import struct
import sys
import time
import traceback

libc = ctypes.CDLL(None, use_errno=True)
AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
UTIME_NOW = (1 << 30) - 1
UTIME_OMIT = (1 << 30) - 2
OLD_NS = 1_000_000_000_123_456_789	# 2001-09-09, with nanoseconds

CHECKS = []


class Failure(Exception):
	pass


def check(fn):
	CHECKS.append(fn)
	return fn


def eq(got, want, what):
	if got != want:
		raise Failure(f"{what}: got {got!r}, want {want!r}")


def true(cond, what):
	if not cond:
		raise Failure(what)


def ename(e):
	return errno.errorcode.get(e, str(e))


def expect_errno(want, fn, *args, **kw):
	"""Call fn and require an OSError whose errno is want (or one of want)."""
	wants = want if isinstance(want, tuple) else (want,)
	label = f"{fn.__name__}{args!r}"
	try:
		fn(*args, **kw)
	except OSError as e:
		if e.errno not in wants:
			raise Failure(f"{label}: got {ename(e.errno)}, want "
				      f"{'/'.join(ename(w) for w in wants)}")
		return
	raise Failure(f"{label}: succeeded, want "
		      f"{'/'.join(ename(w) for w in wants)}")


def cerr(ret, what):
	if ret != 0:
		e = ctypes.get_errno()
		raise OSError(e, f"{what}: {os.strerror(e)}")


def renameat2(old, new, flags):
	ret = libc.renameat2(AT_FDCWD, os.fsencode(old), AT_FDCWD,
			     os.fsencode(new), ctypes.c_uint(flags))
	cerr(ret, "renameat2")


class Timespec(ctypes.Structure):
	_fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


def utimensat(path, atime, mtime):
	"""atime/mtime: (sec, nsec) tuples, UTIME_NOW or UTIME_OMIT."""
	ts = (Timespec * 2)()
	for i, t in enumerate((atime, mtime)):
		if isinstance(t, tuple):
			ts[i].tv_sec, ts[i].tv_nsec = t
		else:
			ts[i].tv_sec, ts[i].tv_nsec = 0, t
	cerr(libc.utimensat(AT_FDCWD, os.fsencode(path), ts, 0), "utimensat")


def c_getxattr(path, name, size):
	buf = ctypes.create_string_buffer(max(size, 1))
	ret = libc.getxattr(os.fsencode(path), os.fsencode(name),
			    buf if size else None, ctypes.c_size_t(size))
	if ret < 0:
		e = ctypes.get_errno()
		raise OSError(e, os.strerror(e))
	return ret


def write_file(path, data, mode=0o644):
	fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
	try:
		view = memoryview(data)
		while view:
			n = os.write(fd, view)
			view = view[n:]
	finally:
		os.close(fd)


def read_file(path):
	with open(path, "rb") as f:
		return f.read()


def pattern(n, seed=0):
	"""n deterministic, non-repeating-looking bytes."""
	out = bytearray(n)
	x = (seed * 2654435761 + 12345) & 0xffffffff
	for i in range(n):
		x = (x * 1103515245 + 12345) & 0x7fffffff
		out[i] = (x >> 16) & 0xff
	return bytes(out)


def now_ns():
	return time.time_ns()


def near_now(t_ns, what, slack=5 * 10**9):
	n = now_ns()
	true(n - slack <= t_ns <= n + slack,
	     f"{what}: {t_ns} is not within {slack // 10**9} s of now ({n})")


def age(path):
	"""Set atime and mtime of path far in the past; return the stat."""
	os.utime(path, ns=(OLD_NS, OLD_NS), follow_symlinks=False)
	st = os.lstat(path)
	eq(st.st_mtime_ns, OLD_NS, f"mtime of {path} after utime")
	return st


def settle():
	"""Let clocks move so that a new ctime differs from an older one."""
	time.sleep(0.05)


# ---------------------------------------------------------------- checks


@check
def lookup_getattr(d):
	p = os.path.join(d, "f")
	write_file(p, b"hello")
	st = os.stat(p)
	true(stat.S_ISREG(st.st_mode), "S_ISREG")
	eq(st.st_size, 5, "st_size")
	eq(st.st_nlink, 1, "st_nlink")
	eq((st.st_uid, st.st_gid), (os.getuid(), os.getgid()), "owner")
	eq(stat.S_IMODE(st.st_mode), 0o644, "mode")
	fd = os.open(p, os.O_RDONLY)
	try:
		eq(os.fstat(fd).st_ino, st.st_ino, "fstat ino == stat ino")
	finally:
		os.close(fd)
	eq(os.stat(p).st_ino, st.st_ino, "ino stable across lookups")
	expect_errno(errno.ENOENT, os.stat, os.path.join(d, "missing"))
	expect_errno(errno.ENOTDIR, os.stat, os.path.join(p, "x"))
	expect_errno(errno.ENOTDIR, os.open, p, os.O_RDONLY | os.O_DIRECTORY)
	expect_errno(errno.EISDIR, os.open, d, os.O_WRONLY)
	dfd = os.open(d, os.O_RDONLY)
	try:
		expect_errno(errno.EISDIR, os.read, dfd, 10)
	finally:
		os.close(dfd)
	true(os.stat(d).st_ino != st.st_ino, "dir and file inodes differ")


@check
def mkdir_rmdir(d):
	a = os.path.join(d, "a")
	os.mkdir(a, 0o755)
	st = os.stat(a)
	true(stat.S_ISDIR(st.st_mode), "S_ISDIR")
	eq(stat.S_IMODE(st.st_mode), 0o755, "mode")
	eq(os.listdir(a), [], "new dir is empty")
	expect_errno(errno.EEXIST, os.mkdir, a)
	write_file(os.path.join(a, "f"), b"x")
	expect_errno(errno.ENOTEMPTY, os.rmdir, a)
	expect_errno(errno.ENOTDIR, os.rmdir, os.path.join(a, "f"))
	expect_errno(errno.ENOENT, os.rmdir, os.path.join(d, "missing"))
	expect_errno(errno.ENOENT, os.mkdir, os.path.join(d, "no", "such"))
	os.unlink(os.path.join(a, "f"))
	os.rmdir(a)
	expect_errno(errno.ENOENT, os.stat, a)
	os.mkdir(a, 0o700)
	eq(stat.S_IMODE(os.stat(a).st_mode), 0o700, "mode 0700")


@check
def create_excl_trunc_append(d):
	p = os.path.join(d, "f")
	fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
	os.write(fd, b"0123456789")
	os.close(fd)
	eq(stat.S_IMODE(os.stat(p).st_mode), 0o600, "create mode")
	expect_errno(errno.EEXIST, os.open, p,
		     os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
	fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
	eq(os.fstat(fd).st_size, 0, "size after O_TRUNC (fstat)")
	os.close(fd)
	eq(os.stat(p).st_size, 0, "size after O_TRUNC")
	eq(read_file(p), b"", "content after O_TRUNC")
	write_file(p, b"abc")
	fd = os.open(p, os.O_WRONLY | os.O_APPEND)
	os.write(fd, b"def")
	os.lseek(fd, 0, os.SEEK_SET)
	os.write(fd, b"ghi")
	eq(os.lseek(fd, 0, os.SEEK_CUR), 9, "offset after O_APPEND write")
	os.close(fd)
	eq(read_file(p), b"abcdefghi", "O_APPEND content")
	fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)	# existing: no trunc
	os.close(fd)
	eq(read_file(p), b"abcdefghi", "O_CREAT on existing keeps content")
	expect_errno(errno.ENOENT, os.open, os.path.join(d, "nope"), os.O_RDONLY)


@check
def read_write_offsets(d):
	p = os.path.join(d, "f")
	data = pattern(1024 * 1024 + 17, 1)
	write_file(p, data)
	eq(os.stat(p).st_size, len(data), "size")
	eq(read_file(p), data, "content of 1 MiB + 17")
	fd = os.open(p, os.O_RDWR)
	try:
		eq(os.pread(fd, 100, 4090), data[4090:4190], "pread across 4 KiB")
		eq(os.pread(fd, 100, len(data) - 10), data[-10:],
		   "short pread at EOF")
		eq(os.pread(fd, 100, len(data) + 100), b"", "pread past EOF")
		os.pwrite(fd, b"XYZ", 131071)
		os.lseek(fd, 5, os.SEEK_SET)
		os.write(fd, b"12345")
		eq(os.lseek(fd, 0, os.SEEK_CUR), 10, "offset after write")
		eq(os.read(fd, 3), data[10:13], "read continues at offset")
	finally:
		os.close(fd)
	want = bytearray(data)
	want[131071:131074] = b"XYZ"
	want[5:10] = b"12345"
	eq(read_file(p), bytes(want), "content after pwrite/write")
	eq(os.stat(p).st_size, len(data), "size unchanged by inner writes")

	# Two descriptors see each other's writes without a close.
	fd1 = os.open(p, os.O_RDWR)
	fd2 = os.open(p, os.O_RDONLY)
	try:
		os.pwrite(fd1, b"coherent", 200000)
		eq(os.pread(fd2, 8, 200000), b"coherent", "second fd sees write")
		os.pwrite(fd1, b"tail", len(data))
		eq(os.fstat(fd2).st_size, len(data) + 4, "second fd sees growth")
		eq(os.pread(fd2, 10, len(data)), b"tail", "second fd reads growth")
	finally:
		os.close(fd1)
		os.close(fd2)


@check
def sparse_file(d):
	p = os.path.join(d, "f")
	fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
	try:
		os.pwrite(fd, b"end", 10 * 1024 * 1024)
		eq(os.fstat(fd).st_size, 10 * 1024 * 1024 + 3, "sparse size")
		eq(os.pread(fd, 8192, 4 * 1024 * 1024), bytes(8192), "hole reads zeros")
		eq(os.pread(fd, 6, 10 * 1024 * 1024 - 3), b"\0\0\0end",
		   "hole then data")
		os.lseek(fd, 100, os.SEEK_SET)
		os.write(fd, b"mid")
	finally:
		os.close(fd)
	data = read_file(p)
	eq(len(data), 10 * 1024 * 1024 + 3, "read size")
	want = bytearray(10 * 1024 * 1024 + 3)
	want[100:103] = b"mid"
	want[-3:] = b"end"
	true(data == bytes(want), "sparse content (zeros except two writes)")


@check
def ftruncate_grow_shrink(d):
	p = os.path.join(d, "f")
	data = pattern(10000, 2)
	write_file(p, data)
	fd = os.open(p, os.O_RDWR)
	try:
		os.ftruncate(fd, 20000)
		eq(os.fstat(fd).st_size, 20000, "size after grow")
		eq(os.pread(fd, 20000, 0), data + bytes(10000), "grown tail is zeros")
		os.ftruncate(fd, 3000)
		eq(os.fstat(fd).st_size, 3000, "size after shrink")
		eq(os.pread(fd, 20000, 0), data[:3000], "content after shrink")
		os.ftruncate(fd, 5000)
		eq(os.pread(fd, 20000, 0), data[:3000] + bytes(2000),
		   "shrink then grow exposes zeros, not old bytes")
		os.ftruncate(fd, 0)
		eq(os.fstat(fd).st_size, 0, "size after truncate to 0")
	finally:
		os.close(fd)
	eq(os.stat(p).st_size, 0, "stat size after close")
	fd = os.open(p, os.O_RDONLY)
	try:
		expect_errno(errno.EINVAL, os.ftruncate, fd, 10)	# not writable
	finally:
		os.close(fd)
	write_file(p, data)
	os.truncate(p, 1234)
	eq(os.stat(p).st_size, 1234, "os.truncate shrink")
	eq(read_file(p), data[:1234], "os.truncate content")
	os.truncate(p, 4096)
	eq(read_file(p), data[:1234] + bytes(4096 - 1234), "os.truncate grow")
	expect_errno(errno.EISDIR, os.truncate, d, 0)


@check
def chmod_chown(d):
	p = os.path.join(d, "f")
	write_file(p, b"x")
	st0 = os.stat(p)
	settle()
	os.chmod(p, 0o640)
	st = os.stat(p)
	eq(stat.S_IMODE(st.st_mode), 0o640, "chmod 0640")
	true(st.st_ctime_ns > st0.st_ctime_ns, "chmod changes ctime")
	eq(st.st_mtime_ns, st0.st_mtime_ns, "chmod keeps mtime")
	os.chmod(p, 0o4755)
	eq(stat.S_IMODE(os.stat(p).st_mode), 0o4755, "chmod 04755")
	os.chown(p, 1234, 5678)
	st = os.stat(p)
	eq((st.st_uid, st.st_gid), (1234, 5678), "chown")
	eq(stat.S_IMODE(st.st_mode), 0o755, "chown clears the set-user-id bit")
	os.chown(p, -1, 42)
	st = os.stat(p)
	eq((st.st_uid, st.st_gid), (1234, 42), "chown -1 keeps uid")
	os.chown(p, 7, -1)
	st = os.stat(p)
	eq((st.st_uid, st.st_gid), (7, 42), "chown gid -1 keeps gid")
	os.chown(d, 99, 98)
	st = os.stat(d)
	eq((st.st_uid, st.st_gid), (99, 98), "chown of a directory")
	os.chmod(d, 0o1777)
	eq(stat.S_IMODE(os.stat(d).st_mode), 0o1777, "chmod sticky dir")
	os.chmod(d, 0o755)
	fd = os.open(p, os.O_RDONLY)
	try:
		os.fchmod(fd, 0o600)
		os.fchown(fd, 0, 0)
	finally:
		os.close(fd)
	st = os.stat(p)
	eq((stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid), (0o600, 0, 0),
	   "fchmod/fchown")


@check
def setgid_dir(d):
	g = os.path.join(d, "g")
	os.mkdir(g)
	os.chown(g, -1, 5678)
	os.chmod(g, 0o2775)
	eq(stat.S_IMODE(os.stat(g).st_mode), 0o2775, "setgid dir mode")
	f = os.path.join(g, "f")
	write_file(f, b"x")
	eq(os.stat(f).st_gid, 5678, "file in a setgid dir takes the dir's group")
	sub = os.path.join(g, "sub")
	os.mkdir(sub, 0o755)
	st = os.stat(sub)
	eq(st.st_gid, 5678, "subdir takes the dir's group")
	true(st.st_mode & stat.S_ISGID, "subdir inherits the set-group-id bit")
	os.mkfifo(os.path.join(g, "p"))
	eq(os.stat(os.path.join(g, "p")).st_gid, 5678, "fifo takes the group")
	os.symlink("f", os.path.join(g, "s"))
	eq(os.lstat(os.path.join(g, "s")).st_gid, 5678, "symlink takes the group")


@check
def utime_explicit(d):
	p = os.path.join(d, "f")
	write_file(p, b"x")
	st0 = os.stat(p)
	settle()
	a, m = 1_111_111_111_222_333_444, 1_234_567_890_987_654_321
	os.utime(p, ns=(a, m))
	st = os.stat(p)
	eq(st.st_atime_ns, a, "atime with ns")
	eq(st.st_mtime_ns, m, "mtime with ns")
	true(st.st_ctime_ns > st0.st_ctime_ns, "utime changes ctime")
	os.utime(p, ns=(0, 86400 * 10**9 + 1))
	st = os.stat(p)
	eq((st.st_atime_ns, st.st_mtime_ns), (0, 86400 * 10**9 + 1),
	   "times near the epoch")
	os.utime(d, ns=(a, m))
	st = os.stat(d)
	eq((st.st_atime_ns, st.st_mtime_ns), (a, m), "utime of a directory")
	fd = os.open(p, os.O_RDONLY)
	try:
		os.utime(fd, ns=(m, a))
	finally:
		os.close(fd)
	st = os.stat(p)
	eq((st.st_atime_ns, st.st_mtime_ns), (m, a), "futimens")


@check
def utime_now_omit(d):
	p = os.path.join(d, "f")
	write_file(p, b"x")
	age(p)
	os.utime(p)				# utimensat(NULL): both now
	st = os.stat(p)
	near_now(st.st_atime_ns, "atime after utime(NULL)")
	near_now(st.st_mtime_ns, "mtime after utime(NULL)")
	age(p)
	utimensat(p, UTIME_OMIT, (1_500_000_000, 5))
	st = os.stat(p)
	eq(st.st_atime_ns, OLD_NS, "UTIME_OMIT keeps atime")
	eq(st.st_mtime_ns, 1_500_000_000 * 10**9 + 5, "explicit mtime")
	age(p)
	utimensat(p, UTIME_NOW, UTIME_OMIT)
	st = os.stat(p)
	near_now(st.st_atime_ns, "UTIME_NOW atime")
	eq(st.st_mtime_ns, OLD_NS, "UTIME_OMIT keeps mtime")
	age(p)
	utimensat(p, (1_600_000_000, 7), UTIME_NOW)
	st = os.stat(p)
	eq(st.st_atime_ns, 1_600_000_000 * 10**9 + 7, "explicit atime")
	near_now(st.st_mtime_ns, "UTIME_NOW mtime")
	st0 = os.stat(p)
	settle()
	utimensat(p, UTIME_OMIT, UTIME_OMIT)
	st = os.stat(p)
	eq((st.st_atime_ns, st.st_mtime_ns), (st0.st_atime_ns, st0.st_mtime_ns),
	   "UTIME_OMIT for both changes nothing")


@check
def unlink_errors(d):
	sub = os.path.join(d, "sub")
	os.mkdir(sub)
	expect_errno(errno.EISDIR, os.unlink, sub)
	expect_errno(errno.ENOENT, os.unlink, os.path.join(d, "missing"))
	p = os.path.join(d, "f")
	write_file(p, b"x")
	expect_errno(errno.ENOTDIR, os.unlink, os.path.join(p, "x"))
	os.unlink(p)
	expect_errno(errno.ENOENT, os.stat, p)
	expect_errno(errno.ENOENT, os.unlink, p)
	eq(os.listdir(d), ["sub"], "listing after unlink")


@check
def rename_basic(d):
	a, b = os.path.join(d, "a"), os.path.join(d, "b")
	write_file(a, b"AAA")
	write_file(b, b"BB")
	ino = os.stat(a).st_ino
	os.rename(a, b)
	expect_errno(errno.ENOENT, os.stat, a)
	eq(read_file(b), b"AAA", "rename over a file: content")
	eq(os.stat(b).st_ino, ino, "rename keeps the inode")
	eq(sorted(os.listdir(d)), ["b"], "listing after rename over file")
	os.rename(b, b)				# same name: no-op
	eq(read_file(b), b"AAA", "rename onto itself")
	os.link(b, a)
	os.rename(a, b)				# two links of one inode: no-op
	eq(sorted(os.listdir(d)), ["a", "b"], "rename between hard links")
	os.unlink(a)
	expect_errno(errno.ENOENT, os.rename, os.path.join(d, "missing"), a)
	# Across directories, with the file open.
	x = os.path.join(d, "x")
	os.mkdir(x)
	fd = os.open(b, os.O_RDONLY)
	try:
		os.rename(b, os.path.join(x, "moved"))
		eq(os.pread(fd, 10, 0), b"AAA", "open fd reads after rename")
	finally:
		os.close(fd)
	eq(read_file(os.path.join(x, "moved")), b"AAA", "cross-dir rename")
	eq(os.listdir(x), ["moved"], "target dir listing")


@check
def rename_dirs(d):
	def mk(*parts):
		p = os.path.join(d, *parts)
		os.mkdir(p)
		return p
	src = mk("src")
	write_file(os.path.join(src, "inner"), b"in")
	empty = mk("empty")
	os.rename(src, empty)			# dir over empty dir
	expect_errno(errno.ENOENT, os.stat, src)
	eq(read_file(os.path.join(empty, "inner")), b"in",
	   "dir over empty dir keeps children")
	full = mk("full")
	write_file(os.path.join(full, "f"), b"x")
	expect_errno(errno.ENOTEMPTY, os.rename, empty, full)
	f = os.path.join(d, "file")
	write_file(f, b"f")
	expect_errno(errno.EISDIR, os.rename, f, full)	# file over dir
	expect_errno(errno.ENOTDIR, os.rename, full, f)	# dir over file
	child = mk("full", "child")
	expect_errno(errno.EINVAL, os.rename, full, child)
	expect_errno(errno.EINVAL, os.rename, full, os.path.join(child, "x"))
	expect_errno(errno.EINVAL, os.rename, full, os.path.join(full, "y"))
	# Moving a dir between parents moves its ".." too.
	os.rename(child, os.path.join(empty, "child"))
	eq(os.stat(os.path.join(empty, "child", "..")).st_ino,
	   os.stat(empty).st_ino, "'..' follows the moved directory")
	eq(sorted(os.listdir(d)), ["empty", "file", "full"], "final listing")


@check
def renameat2_flags(d):
	a, b = os.path.join(d, "a"), os.path.join(d, "b")
	write_file(a, b"AAA")
	write_file(b, b"BBBB")
	expect_errno(errno.EEXIST, renameat2, a, b, RENAME_NOREPLACE)
	eq((read_file(a), read_file(b)), (b"AAA", b"BBBB"),
	   "failed NOREPLACE changes nothing")
	c = os.path.join(d, "c")
	renameat2(a, c, RENAME_NOREPLACE)
	eq(read_file(c), b"AAA", "NOREPLACE to a free name")
	expect_errno(errno.ENOENT, os.stat, a)
	ib, ic = os.stat(b).st_ino, os.stat(c).st_ino
	renameat2(b, c, RENAME_EXCHANGE)
	eq((read_file(b), read_file(c)), (b"AAA", b"BBBB"), "EXCHANGE swaps")
	eq((os.stat(b).st_ino, os.stat(c).st_ino), (ic, ib),
	   "EXCHANGE swaps inodes")
	sub = os.path.join(d, "sub")
	os.mkdir(sub)
	write_file(os.path.join(sub, "in"), b"i")
	renameat2(sub, b, RENAME_EXCHANGE)	# dir <-> file
	true(stat.S_ISDIR(os.stat(b).st_mode), "b is now the directory")
	eq(read_file(sub), b"AAA", "sub is now the file")
	eq(read_file(os.path.join(b, "in")), b"i", "exchanged dir keeps children")
	expect_errno(errno.ENOENT, renameat2, os.path.join(d, "none"), c,
		     RENAME_EXCHANGE)
	expect_errno(errno.EINVAL, renameat2, b, c,
		     RENAME_EXCHANGE | RENAME_NOREPLACE)


@check
def hard_links(d):
	p = os.path.join(d, "f")
	write_file(p, b"linked")
	eq(os.stat(p).st_nlink, 1, "nlink 1")
	sub = os.path.join(d, "sub")
	os.mkdir(sub)
	l1, l2 = os.path.join(d, "l1"), os.path.join(sub, "l2")
	st0 = os.stat(p)
	settle()
	os.link(p, l1)
	os.link(p, l2)
	st = os.stat(p)
	eq(st.st_nlink, 3, "nlink after two links")
	true(st.st_ctime_ns > st0.st_ctime_ns, "link changes ctime")
	eq({os.stat(x).st_ino for x in (p, l1, l2)}, {st.st_ino},
	   "links share the inode")
	eq(os.stat(l2).st_nlink, 3, "nlink seen through another name")
	with open(l2, "r+b") as f:
		f.write(b"LINKED")
	eq(read_file(p), b"LINKED", "write through one link, read another")
	expect_errno(errno.EEXIST, os.link, p, l1)
	expect_errno(errno.EPERM, os.link, sub, os.path.join(d, "dirlink"))
	expect_errno(errno.ENOENT, os.link, os.path.join(d, "none"),
		     os.path.join(d, "x"))
	os.unlink(p)
	eq(os.stat(l1).st_nlink, 2, "nlink after unlink")
	os.unlink(l1)
	eq(os.stat(l2).st_nlink, 1, "nlink after second unlink")
	eq(read_file(l2), b"LINKED", "last link keeps the data")


@check
def symlinks(d):
	t = os.path.join(d, "target")
	write_file(t, b"T" * 10)
	s = os.path.join(d, "s")
	os.symlink("target", s)
	st = os.lstat(s)
	true(stat.S_ISLNK(st.st_mode), "lstat S_ISLNK")
	eq(st.st_size, len("target"), "symlink size is target length")
	eq(os.readlink(s), "target", "readlink")
	eq(os.stat(s).st_ino, os.stat(t).st_ino, "stat follows the link")
	eq(read_file(s), b"T" * 10, "open follows the link")
	long_target = "/" + "/".join(["x" * 200] * 20)	# ~4 KiB
	s2 = os.path.join(d, "long")
	os.symlink(long_target, s2)
	eq(os.readlink(s2), long_target, "readlink of a 4 KiB target")
	dang = os.path.join(d, "dangling")
	os.symlink("nowhere", dang)
	expect_errno(errno.ENOENT, os.stat, dang)
	eq(os.readlink(dang), "nowhere", "readlink of a dangling link")
	expect_errno(errno.EEXIST, os.symlink, "x", s)
	expect_errno(errno.EINVAL, os.readlink, t)
	os.symlink(".", os.path.join(d, "dot"))
	true(stat.S_ISDIR(os.stat(os.path.join(d, "dot")).st_mode),
	     "link to a directory")
	loop = os.path.join(d, "loop")
	os.symlink("loop", loop)
	expect_errno(errno.ELOOP, os.stat, loop)
	os.unlink(s)
	eq(read_file(t), b"T" * 10, "unlinking the symlink keeps the target")


@check
def special_files(d):
	fifo = os.path.join(d, "fifo")
	os.mkfifo(fifo, 0o640)
	st = os.lstat(fifo)
	true(stat.S_ISFIFO(st.st_mode), "S_ISFIFO")
	eq(stat.S_IMODE(st.st_mode), 0o640, "fifo mode")
	fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
	try:
		os.write(fd, b"through the pipe")
		eq(os.read(fd, 100), b"through the pipe", "fifo carries data")
	finally:
		os.close(fd)
	eq(os.lstat(fifo).st_size, 0, "fifo size stays 0")

	reg = os.path.join(d, "reg")
	os.mknod(reg, stat.S_IFREG | 0o600)
	st = os.lstat(reg)
	true(stat.S_ISREG(st.st_mode), "mknod S_IFREG")
	eq((stat.S_IMODE(st.st_mode), st.st_size), (0o600, 0), "mknod reg attrs")

	old = os.getcwd()
	os.chdir(d)				# keep sun_path short
	srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	try:
		srv.bind("sock")
		srv.listen(1)
		true(stat.S_ISSOCK(os.lstat("sock").st_mode), "S_ISSOCK")
		cli.connect("sock")
		conn, _ = srv.accept()
		cli.sendall(b"ping")
		eq(conn.recv(10), b"ping", "unix socket on the mount carries data")
		conn.close()
	finally:
		cli.close()
		srv.close()
		os.chdir(old)
	expect_errno(errno.EEXIST, os.mkfifo, fifo)
	os.unlink(fifo)
	os.unlink(os.path.join(d, "sock"))
	eq(sorted(os.listdir(d)), ["reg"], "listing after removing specials")


@check
def statfs(d):
	sv = os.statvfs(d)
	true(sv.f_blocks > 0, f"f_blocks > 0 (got {sv.f_blocks})")
	true(sv.f_bsize > 0 and sv.f_frsize > 0, "block sizes > 0")
	true(sv.f_bfree <= sv.f_blocks, "f_bfree <= f_blocks")
	true(sv.f_bavail <= sv.f_bfree, "f_bavail <= f_bfree")
	eq(sv.f_namemax, 255, "f_namemax")


@check
def xattrs(d):
	p = os.path.join(d, "f")
	write_file(p, b"x")

	def user_names(path):
		return sorted(n for n in os.listxattr(path) if n.startswith("user."))

	eq(user_names(p), [], "no user xattrs on a new file")
	st0 = os.stat(p)
	settle()
	os.setxattr(p, "user.a", b"alpha")
	true(os.stat(p).st_ctime_ns > st0.st_ctime_ns, "setxattr changes ctime")
	os.setxattr(p, "user.bin", b"\0\1\2\xff\0")
	os.setxattr(p, "user.empty", b"")
	big = pattern(4000, 3)
	os.setxattr(p, "user.big", big)
	eq(os.getxattr(p, "user.a"), b"alpha", "getxattr")
	eq(os.getxattr(p, "user.bin"), b"\0\1\2\xff\0", "binary value")
	eq(os.getxattr(p, "user.empty"), b"", "empty value")
	eq(os.getxattr(p, "user.big"), big, "4000-byte value")
	eq(user_names(p), ["user.a", "user.big", "user.bin", "user.empty"],
	   "listxattr")
	expect_errno(errno.EEXIST, os.setxattr, p, "user.a", b"z",
		     os.XATTR_CREATE)
	expect_errno(errno.ENODATA, os.setxattr, p, "user.none", b"z",
		     os.XATTR_REPLACE)
	expect_errno(errno.ENODATA, os.getxattr, p, "user.none")
	os.setxattr(p, "user.a", b"A2", os.XATTR_REPLACE)
	eq(os.getxattr(p, "user.a"), b"A2", "XATTR_REPLACE")
	os.setxattr(p, "user.new", b"n", os.XATTR_CREATE)
	eq(os.getxattr(p, "user.new"), b"n", "XATTR_CREATE")
	os.setxattr(p, "user.a", b"longer value now")
	eq(os.getxattr(p, "user.a"), b"longer value now", "overwrite")
	eq(c_getxattr(p, "user.a", 0), 16, "getxattr size query")
	expect_errno(errno.ERANGE, c_getxattr, p, "user.a", 4)
	os.removexattr(p, "user.a")
	expect_errno(errno.ENODATA, os.getxattr, p, "user.a")
	expect_errno(errno.ENODATA, os.removexattr, p, "user.a")
	eq(user_names(p), ["user.big", "user.bin", "user.empty", "user.new"],
	   "listxattr after remove")
	os.setxattr(d, "user.dir", b"on a dir")
	eq(os.getxattr(d, "user.dir"), b"on a dir", "xattr on a directory")
	fd = os.open(p, os.O_RDONLY)
	try:
		os.setxattr(fd, "user.fd", b"via fd")
		eq(os.getxattr(fd, "user.fd"), b"via fd", "fsetxattr/fgetxattr")
	finally:
		os.close(fd)
	q = os.path.join(d, "g")
	os.rename(p, q)
	eq(os.getxattr(q, "user.new"), b"n", "xattrs follow a rename")
	os.link(q, p)
	eq(os.getxattr(p, "user.fd"), b"via fd", "xattrs shared by hard links")


@check
def name_max(d):
	n255 = "a" * 255
	n256 = "b" * 256
	p = os.path.join(d, n255)
	write_file(p, b"ok")
	eq(read_file(p), b"ok", "255-byte name")
	true(n255 in os.listdir(d), "255-byte name listed")
	os.mkdir(os.path.join(d, "d" * 255))
	q = os.path.join(d, n256)
	expect_errno(errno.ENAMETOOLONG, os.open, q,
		     os.O_WRONLY | os.O_CREAT, 0o644)
	expect_errno(errno.ENAMETOOLONG, os.stat, q)
	expect_errno(errno.ENAMETOOLONG, os.mkdir, q)
	expect_errno(errno.ENAMETOOLONG, os.symlink, "x", q)
	expect_errno(errno.ENAMETOOLONG, os.link, p, q)
	expect_errno(errno.ENAMETOOLONG, os.rename, p, q)
	expect_errno(errno.ENAMETOOLONG, os.mkfifo, q)
	eq(sorted(os.listdir(d)), sorted([n255, "d" * 255]),
	   "no long name was created")
	u = "é" * 127 + "x"				# 255 bytes of UTF-8
	write_file(os.path.join(d, u), b"u")
	true(u in os.listdir(d), "255-byte UTF-8 name listed")


@check
def fsync_fdatasync(d):
	p = os.path.join(d, "f")
	fd = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
	try:
		os.write(fd, b"durable")
		os.fsync(fd)
		os.write(fd, b" more")
		os.fdatasync(fd)
	finally:
		os.close(fd)
	eq(read_file(p), b"durable more", "content after fsync")
	dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
	try:
		os.fsync(dfd)
		os.fdatasync(dfd)
	finally:
		os.close(dfd)


FLOCK_FMT = "hhqqi4x"	# struct flock on x86_64 and aarch64


def child(fn):
	"""Run fn() in a forked child; return its exit status (0-255)."""
	pid = os.fork()
	if pid == 0:
		code = 99
		try:
			code = fn()
		except BaseException:
			traceback.print_exc()
		os._exit(code)
	_, status = os.waitpid(pid, 0)
	return os.waitstatus_to_exitcode(status)


@check
def posix_locks(d):
	p = os.path.join(d, "f")
	write_file(p, bytes(1000))
	fd = os.open(p, os.O_RDWR)
	try:
		fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 0)

		def conflicting():
			cfd = os.open(p, os.O_RDWR)
			try:
				fcntl.lockf(cfd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)
			except OSError as e:
				if e.errno in (errno.EAGAIN, errno.EACCES):
					return 0
				return 2
			return 1

		eq(child(conflicting), 0,
		   "second process gets EAGAIN/EACCES on an overlapping lock")

		def getlk():
			cfd = os.open(p, os.O_RDWR)
			req = struct.pack(FLOCK_FMT, fcntl.F_WRLCK, os.SEEK_SET,
					  0, 1000, 0)
			res = struct.unpack(FLOCK_FMT,
					    fcntl.fcntl(cfd, fcntl.F_GETLK, req))
			ok = (res[0] == fcntl.F_WRLCK and res[2] == 0 and
			      res[3] == 100 and res[4] == os.getppid())
			return 0 if ok else 1

		eq(child(getlk), 0, "F_GETLK reports the holder's range and pid")

		def disjoint():
			cfd = os.open(p, os.O_RDWR)
			fcntl.lockf(cfd, fcntl.LOCK_EX | fcntl.LOCK_NB, 100, 500)
			return 0

		eq(child(disjoint), 0, "a disjoint range locks fine")
		fcntl.lockf(fd, fcntl.LOCK_UN, 100, 0)

		def after_unlock():
			cfd = os.open(p, os.O_RDWR)
			fcntl.lockf(cfd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)
			return 0

		eq(child(after_unlock), 0, "lock succeeds after unlock")
	finally:
		os.close(fd)


@check
def flock_locks(d):
	p = os.path.join(d, "f")
	write_file(p, b"x")
	fd1 = os.open(p, os.O_RDWR)
	fd2 = os.open(p, os.O_RDWR)
	try:
		fcntl.flock(fd1, fcntl.LOCK_EX | fcntl.LOCK_NB)
		expect_errno(errno.EWOULDBLOCK, fcntl.flock, fd2,
			     fcntl.LOCK_EX | fcntl.LOCK_NB)
		expect_errno(errno.EWOULDBLOCK, fcntl.flock, fd2,
			     fcntl.LOCK_SH | fcntl.LOCK_NB)
		fcntl.flock(fd1, fcntl.LOCK_UN)
		fcntl.flock(fd2, fcntl.LOCK_SH | fcntl.LOCK_NB)
		fcntl.flock(fd1, fcntl.LOCK_SH | fcntl.LOCK_NB)
		expect_errno(errno.EWOULDBLOCK, fcntl.flock, fd1,
			     fcntl.LOCK_EX | fcntl.LOCK_NB)
	finally:
		os.close(fd1)
		os.close(fd2)
	fd3 = os.open(p, os.O_RDWR)
	try:
		fcntl.flock(fd3, fcntl.LOCK_EX | fcntl.LOCK_NB)	# all released
	finally:
		os.close(fd3)


@check
def fallocate(d):
	p = os.path.join(d, "f")
	write_file(p, b"head")
	fd = os.open(p, os.O_RDWR)
	try:
		os.posix_fallocate(fd, 0, 1 << 20)
		st = os.fstat(fd)
		eq(st.st_size, 1 << 20, "posix_fallocate grows the size")
		true(st.st_blocks * 512 >= 1 << 20,
		     f"allocated blocks cover the range ({st.st_blocks})")
		eq(os.pread(fd, 8, 0), b"head\0\0\0\0", "data kept, rest zeros")
		eq(os.pread(fd, 4096, 500000), bytes(4096), "allocated reads zeros")
		os.posix_fallocate(fd, 0, 100)
		eq(os.fstat(fd).st_size, 1 << 20, "fallocate inside keeps size")
	finally:
		os.close(fd)
	eq(os.stat(p).st_size, 1 << 20, "size after close")


@check
def dir_nlink(d):
	a = os.path.join(d, "a")
	os.mkdir(a)
	eq(os.stat(a).st_nlink, 2, "new dir nlink")
	before = os.stat(d).st_nlink
	os.mkdir(os.path.join(a, "x"))
	os.mkdir(os.path.join(a, "y"))
	write_file(os.path.join(a, "f"), b"f")
	os.symlink("x", os.path.join(a, "s"))
	eq(os.stat(a).st_nlink, 4, "nlink = 2 + two subdirs (files don't count)")
	eq(os.stat(d).st_nlink, before, "parent nlink unchanged by grandchildren")
	os.rmdir(os.path.join(a, "x"))
	eq(os.stat(a).st_nlink, 3, "nlink after rmdir")
	b = os.path.join(d, "b")
	os.mkdir(b)
	eq(os.stat(d).st_nlink, before + 1, "parent gains a link on mkdir")
	os.rename(os.path.join(a, "y"), os.path.join(b, "y"))
	eq(os.stat(a).st_nlink, 2, "source parent loses a link on rename")
	eq(os.stat(b).st_nlink, 3, "target parent gains a link on rename")
	os.mkdir(os.path.join(a, "z"))
	os.rename(os.path.join(b, "y"), os.path.join(a, "z"))	# over empty dir
	eq(os.stat(a).st_nlink, 3, "dir over empty dir: target parent")
	eq(os.stat(b).st_nlink, 2, "dir over empty dir: source parent")


@check
def blocks(d):
	p = os.path.join(d, "f")
	write_file(p, pattern(65536, 4))
	st = os.stat(p)
	true(st.st_blocks > 0, "st_blocks > 0 for a written file")
	true(st.st_blocks * 512 >= 65536,
	     f"st_blocks covers 64 KiB of data ({st.st_blocks})")
	e = os.path.join(d, "empty")
	write_file(e, b"")
	eq(os.stat(e).st_blocks, 0, "st_blocks of an empty file")


@check
def file_times_on_write(d):
	p = os.path.join(d, "f")
	write_file(p, b"start")
	st0 = age(p)
	settle()
	fd = os.open(p, os.O_WRONLY)
	try:
		os.write(fd, b"x")
	finally:
		os.close(fd)
	st = os.stat(p)
	near_now(st.st_mtime_ns, "mtime after write")
	true(st.st_ctime_ns > st0.st_ctime_ns, "ctime after write")
	eq(st.st_atime_ns, OLD_NS, "write leaves atime")
	st0 = age(p)
	settle()
	os.truncate(p, 2)
	st = os.stat(p)
	near_now(st.st_mtime_ns, "mtime after truncate")
	true(st.st_ctime_ns > st0.st_ctime_ns, "ctime after truncate")
	st0 = age(p)
	settle()
	fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
	os.close(fd)
	st = os.stat(p)
	near_now(st.st_mtime_ns, "mtime after O_TRUNC open")
	true(st.st_ctime_ns > st0.st_ctime_ns, "ctime after O_TRUNC open")


@check
def size_right_after_close(d):
	"""A stat right after close(2) sees what was written, every time (the
	mount commits it at the release, which close does not wait for)."""
	for i in range(2000):
		p = os.path.join(d, f"f{i}")
		write_file(p, b"hello")
		eq(os.stat(p).st_size, 5, f"size of {p} right after close")


@check
def atime_on_read(d):
	"""relatime: a read moves an atime older than mtime (or a day), a
	second one does not, and an atime set while the file is open stays."""
	p = os.path.join(d, "f")
	write_file(p, b"some bytes")
	age(p)
	settle()
	eq(read_file(p), b"some bytes", "read")
	st = os.stat(p)
	near_now(st.st_atime_ns, "atime after a read")
	eq(st.st_mtime_ns, OLD_NS, "a read leaves mtime")
	# Every time: the mount keeps it in memory and writes it back later,
	# which nothing here waits for.
	for i in range(1500):
		os.utime(p, ns=(OLD_NS, OLD_NS))
		read_file(p)
		near_now(os.stat(p).st_atime_ns, f"atime right after read {i}")
	age(p)
	settle()
	read_file(p)
	st = os.stat(p)
	settle()
	read_file(p)
	eq(os.stat(p).st_atime_ns, st.st_atime_ns,
	   "a second read keeps an atime newer than mtime")
	age(p)
	set_ns = 1_600_000_000 * 10**9 + 7
	fd = os.open(p, os.O_RDONLY)
	try:
		os.read(fd, 4)
		os.utime(p, ns=(set_ns, OLD_NS))
	finally:
		os.close(fd)
	eq(os.stat(p).st_atime_ns, set_ns, "an atime set while open stays")
	# Past the release, which close(2) does not wait for, and past the
	# attributes the kernel keeps (attr_timeout = 1 in the tests).
	time.sleep(1.2)
	eq(os.stat(p).st_atime_ns, set_ns, "an atime set while open stays, "
	   "after the release")


@check
def dir_times_on_entries(d):
	sub = os.path.join(d, "sub")
	other = os.path.join(d, "other")
	os.mkdir(sub)
	os.mkdir(other)

	def changes(what, fn, dirs=(sub,)):
		olds = [age(x) for x in dirs]
		settle()
		fn()
		for x, old in zip(dirs, olds):
			st = os.stat(x)
			near_now(st.st_mtime_ns, f"{what}: mtime of {os.path.basename(x)}")
			true(st.st_ctime_ns > old.st_ctime_ns,
			     f"{what}: ctime of {os.path.basename(x)}")

	f = os.path.join(sub, "f")
	changes("create", lambda: write_file(f, b"x"))
	changes("mkdir", lambda: os.mkdir(os.path.join(sub, "d")))
	changes("symlink", lambda: os.symlink("f", os.path.join(sub, "s")))
	changes("link", lambda: os.link(f, os.path.join(sub, "l")))
	changes("mkfifo", lambda: os.mkfifo(os.path.join(sub, "p")))
	changes("unlink", lambda: os.unlink(os.path.join(sub, "l")))
	changes("rmdir", lambda: os.rmdir(os.path.join(sub, "d")))
	changes("rename within", lambda: os.rename(f, os.path.join(sub, "g")))
	changes("rename across",
		lambda: os.rename(os.path.join(sub, "g"), os.path.join(other, "g")),
		dirs=(sub, other))
	old = age(sub)
	settle()
	write_file(os.path.join(other, "g"), b"content only")
	st = os.stat(sub)
	eq(st.st_mtime_ns, OLD_NS, "writing a file elsewhere leaves dir mtime")
	eq(st.st_ctime_ns, old.st_ctime_ns, "writing a file leaves dir ctime")


@check
def readdir_types(d):
	os.mkdir(os.path.join(d, "dir"))
	write_file(os.path.join(d, "file"), b"x")
	os.symlink("file", os.path.join(d, "link"))
	os.mkfifo(os.path.join(d, "fifo"))
	seen = {}
	with os.scandir(d) as it:
		for e in it:
			seen[e.name] = (e.is_dir(follow_symlinks=False),
					e.is_file(follow_symlinks=False),
					e.is_symlink(), e.inode())
	eq(sorted(seen), ["dir", "fifo", "file", "link"], "scandir names")
	eq(seen["dir"][:3], (True, False, False), "d_type of dir")
	eq(seen["file"][:3], (False, True, False), "d_type of file")
	eq(seen["link"][:3], (False, False, True), "d_type of symlink")
	eq(seen["fifo"][:3], (False, False, False), "d_type of fifo")
	for name, v in seen.items():
		eq(v[3], os.lstat(os.path.join(d, name)).st_ino,
		   f"d_ino of {name} matches lstat")
	eq(os.stat(os.path.join(d, "dir", "..")).st_ino, os.stat(d).st_ino,
	   "'..' is the parent")
	eq(os.stat(os.path.join(d, ".")).st_ino, os.stat(d).st_ino, "'.'")


def main():
	if len(sys.argv) < 2:
		print("usage: posix_ops.py DIR [CHECK...]", file=sys.stderr)
		return 2
	root = sys.argv[1]
	wanted = set(sys.argv[2:])
	os.umask(0o022)
	passed = failed = 0
	for fn in CHECKS:
		name = fn.__name__
		if wanted and name not in wanted:
			continue
		d = os.path.join(root, "t-" + name)
		try:
			os.mkdir(d)
			fn(d)
		except Failure as e:
			failed += 1
			print(f"FAIL {name}: {e}", flush=True)
			continue
		except Exception as e:
			failed += 1
			tb = traceback.extract_tb(e.__traceback__)[-1]
			print(f"FAIL {name}: {type(e).__name__}: {e} "
			      f"(line {tb.lineno})", flush=True)
			continue
		passed += 1
		print(f"ok   {name}", flush=True)
	print(f"{passed} passed, {failed} failed")
	return 1 if failed else 0


if __name__ == "__main__":
	sys.exit(main())
