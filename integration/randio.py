#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""integration/randio.py - random I/O against a file and a reference copy.

usage: randio.py [--seed S] [--ops N] [--max-size BYTES] [--trace LOG]
                 FILE REF

Applies the same random sequence of operations to FILE (on the mount) and to
REF (on a local disk): pwrite at a random offset and length (sometimes past
the end, leaving a hole), ftruncate shorter and longer, pread of a random
range compared byte for byte, fstat size compared, fsync and fdatasync,
close and reopen (now and then with O_TRUNC), and a whole-file compare. The
sequence depends only on the seed. Any difference, or any failing system
call on FILE, prints the operation number, the operation and what differed,
and exits 1. At the end both files are compared in full and their sha256 is
printed. --trace writes one line per operation to LOG (for debugging a
failure). Standard library only.
"""

import argparse
import hashlib
import os
import random
import sys


RECENT = []  # the last operations, printed with a failure


def fail(msg):
    print(f"randio: FAIL: {msg}", file=sys.stderr)
    if RECENT:
        print("randio: the operations before it:", file=sys.stderr)
        for line in RECENT:
            print(f"randio:   {line}", file=sys.stderr)
    sys.exit(1)


def pread_all(fd, length, off):
    """Read up to length bytes at off, looping over short reads."""
    out = bytearray()
    while len(out) < length:
        chunk = os.pread(fd, length - len(out), off + len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return h.hexdigest()
            h.update(b)


class Pair:
    def __init__(self, path, ref):
        self.path, self.ref = path, ref
        self.fd = self.rfd = -1
        self.opens = 0

    def open(self, trunc=False):
        flags = os.O_RDWR | os.O_CREAT | (os.O_TRUNC if trunc else 0)
        self.fd = os.open(self.path, flags, 0o644)
        self.rfd = os.open(self.ref, flags, 0o644)
        self.opens += 1

    def close(self):
        os.close(self.fd)
        os.close(self.rfd)
        self.fd = self.rfd = -1


def length_for(rng):
    r = rng.random()
    if r < 0.55:
        return rng.randint(1, 4096)
    if r < 0.90:
        return rng.randint(4097, 128 * 1024)
    return rng.randint(128 * 1024 + 1, 1024 * 1024)


def offset_for(rng, size, max_size, length):
    r = rng.random()
    if r < 0.15:  # append
        off = size
    elif r < 0.25:  # a page boundary, or one byte either side
        off = rng.randrange(0, max_size, 4096) + rng.choice((-1, 0, 1))
    elif r < 0.35:  # past the end: a hole
        off = size + rng.randint(1, 256 * 1024)
    else:
        off = rng.randint(0, max(size, 1))
    return max(0, min(off, max_size - length))


def compare_range(p, n, what, off, length):
    got = pread_all(p.fd, length, off)
    want = pread_all(p.rfd, length, off)
    if got != want:
        at = next((i for i in range(min(len(got), len(want)))
                   if got[i] != want[i]), min(len(got), len(want)))
        fail(f"op {n} ({what}): read of {length} at {off}: got "
             f"{len(got)} bytes, want {len(want)}; first difference at "
             f"byte {off + at}")


def run(args):
    rng = random.Random(args.seed)
    p = Pair(args.file, args.ref)
    p.open(trunc=True)
    size = 0
    counts = {}
    trace = open(args.trace, "w", buffering=1) if args.trace else None
    for n in range(1, args.ops + 1):
        r = rng.random()
        detail = ""
        try:
            if r < 0.45:
                what = "write"
                length = min(length_for(rng), args.max_size)
                off = offset_for(rng, size, args.max_size, length)
                data = rng.randbytes(length)
                detail = f"off={off} len={length}"
                got = os.pwrite(p.fd, data, off)
                if got != length:
                    fail(f"op {n}: pwrite of {length} at {off} wrote {got}")
                if os.pwrite(p.rfd, data, off) != length:
                    fail(f"op {n}: short pwrite on the reference")
                size = max(size, off + length)
            elif r < 0.50:
                what = "truncate"
                if rng.random() < 0.6:
                    new = rng.randint(0, size)
                else:
                    new = rng.randint(size, max(size, min(
                        args.max_size, size + 2 * 1024 * 1024)))
                detail = f"from={size} to={new}"
                os.ftruncate(p.fd, new)
                os.ftruncate(p.rfd, new)
                size = new
            elif r < 0.85:
                what = "read"
                length = length_for(rng)
                off = rng.randint(0, size + 4096)
                detail = f"off={off} len={length}"
                compare_range(p, n, what, off, length)
            elif r < 0.90:
                what = "fstat"
                st = os.fstat(p.fd).st_size
                if st != size:
                    fail(f"op {n}: fstat size {st}, want {size}")
            elif r < 0.94:
                what = "fsync"
                if rng.random() < 0.5:
                    os.fsync(p.fd)
                else:
                    os.fdatasync(p.fd)
            elif r < 0.98:
                what = "reopen"
                p.close()
                trunc = rng.random() < 0.1
                p.open(trunc=trunc)
                if trunc:
                    what = "reopen O_TRUNC"
                    size = 0
                st = os.fstat(p.fd).st_size
                if st != size:
                    fail(f"op {n}: size after reopen {st}, want {size}")
            else:
                what = "whole-file compare"
                compare_range(p, n, what, 0, size + 1)
        except OSError as e:
            fail(f"op {n} ({what}): {e}")
        counts[what] = counts.get(what, 0) + 1
        line = f"{n} {what} size={size} {detail}".rstrip()
        RECENT.append(line)
        del RECENT[:-8]
        if trace:
            trace.write(line + "\n")
    try:
        os.fsync(p.fd)
        p.close()
    except OSError as e:
        fail(f"final fsync or close: {e}")
    got, want = sha256_of(args.file), sha256_of(args.ref)
    if got != want:
        fail(f"sha256 after {args.ops} ops: {got}, want {want}")
    if os.stat(args.file).st_size != size:
        fail(f"final size {os.stat(args.file).st_size}, want {size}")
    summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
    print(f"randio: {args.ops} ops ({summary}); size {size}; sha256 {got}",
          file=sys.stderr)
    print(got)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--ops", type=int, default=10000)
    ap.add_argument("--max-size", type=int, default=8 * 1024 * 1024)
    ap.add_argument("--trace", help="log each operation to this file")
    ap.add_argument("file")
    ap.add_argument("ref")
    run(ap.parse_args())


if __name__ == "__main__":
    main()
