#!/usr/bin/env python3
"""The held-out text `flops train --val-fraction F` cuts from each file (src/train/data.cpp's
validation_cut: from the first chapter heading at a line start after the (1 - F) point, else the
next paragraph), the files' parts concatenated, on stdout: text for commands that take a file
(llama-perplexity, flops perplexity) to score the split the trainer held out.

    python3 scripts/heldout_text.py [-f 0.05] FILE... > heldout.txt
"""
import argparse
import sys

HEADS = [b"CHAPTER", b"Chapter", b"BOOK", b"Book", b"ACT"]


def cut(t, f):
    if f <= 0:
        return len(t)
    if f >= 1:
        return 0
    start = int(len(t) * (1 - f))
    best = None
    for h in HEADS:
        pos = t.find(h, start)
        while pos > 0 and t[pos - 1:pos] != b"\n":
            pos = t.find(h, pos + 1)
        if pos >= 0 and (best is None or pos < best):
            best = pos
    if best is not None:
        return best
    for sep, skip in ((b"\n\n", 2), (b"\n", 1)):
        p = t.find(sep, start)
        if p >= 0:
            return p + skip
    return start


ap = argparse.ArgumentParser()
ap.add_argument("-f", type=float, default=0.05)
ap.add_argument("files", nargs="+")
a = ap.parse_args()
for path in a.files:
    if path.endswith(".tsv"):
        sys.exit(f"error: {path}: .tsv files are read by their last column; this script takes plain text")
    t = open(path, "rb").read()
    sys.stdout.buffer.write(t[cut(t, a.f):])
