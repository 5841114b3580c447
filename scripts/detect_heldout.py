#!/usr/bin/env python3
"""Held-out human passages for `flops make-detect-set`, as JSONL {"text", "source"}.

The text is exactly the validation split that `flops train --val-fraction F` holds out of each
training file (src/train/data.cpp: validation_cut and read_training_text, re-implemented here on
bytes so the offsets agree), so the shipped models never saw it. Passages keep the files' own line
breaks: folding the hard wraps of the human text while the generator (trained on wrapped text)
writes newlines would hand every detector a formatting tell that has nothing to do with the prose.

Each passage is whole paragraphs (whole lines for the verse-per-line Bible) of at least
--min-bytes, and the files are interleaved round-robin so that the first N passages mix all
sources instead of being N passages of the first file.

Usage (from the repository root):
  python3 scripts/detect_heldout.py --config configs/model-b.json -o /tmp/gen/heldout.jsonl
"""
import argparse
import json
import os
import sys

HEADS = [b"CHAPTER", b"Chapter", b"BOOK", b"Book", b"ACT"]


def training_text(path):
    raw = open(path, "rb").read()
    if not path.endswith(".tsv"):
        return raw
    lines = raw.split(b"\n")
    if raw.endswith(b"\n"):
        lines.pop()  # the C++ loop stops at the end instead of reading an empty last line
    out = [l.rsplit(b"\t", 1)[-1] for l in lines]
    return b"".join(l + b"\n" for l in out)


def validation_cut(text, frac):
    if frac <= 0:
        return len(text)
    if frac >= 1:
        return 0
    start = int(len(text) * (1.0 - frac))
    best = None
    for h in HEADS:
        pos = start
        while True:
            pos = text.find(h, pos)
            if pos < 0 or pos == 0 or text[pos - 1:pos] == b"\n":
                break
            pos += 1
        if pos >= 0 and (best is None or pos < best):
            best = pos
    if best is not None:
        return best
    para = text.find(b"\n\n", start)
    if para >= 0:
        return para + 2
    line = text.find(b"\n", start)
    if line >= 0:
        return line + 1
    return start


def passages(val, min_bytes, by_line):
    units = val.split(b"\n") if by_line else val.split(b"\n\n")
    sep = b"\n" if by_line else b"\n\n"
    out, cur = [], []
    size = 0
    for u in units:
        if not u.strip():
            continue
        cur.append(u.strip(b"\n"))
        size += len(u)
        if size >= min_bytes:
            out.append(sep.join(cur))
            cur, size = [], 0
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", required=True, help="training config JSON (its data and val_fraction)")
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--min-bytes", type=int, default=700, help="smallest passage in bytes (default 700)")
    args = ap.parse_args()
    cfg = json.load(open(args.config))
    frac = float(cfg.get("val_fraction", 0.05))
    per_file = []
    for path in cfg["data"]:
        text = training_text(path)
        val = text[validation_cut(text, frac):]
        ps = passages(val, args.min_bytes, path.endswith(".tsv"))
        per_file.append((path, ps))
        print(f"{os.path.basename(path)}: {len(val)} held-out bytes, {len(ps)} passages", file=sys.stderr)
    rows = []
    i = 0
    while any(i < len(ps) for _, ps in per_file):
        for path, ps in per_file:
            if i < len(ps):
                text = ps[i].decode("utf-8")
                rows.append({"text": text, "source": os.path.basename(path)})
        i += 1
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(tmp, args.out)
    print(f"wrote {len(rows)} passages to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
