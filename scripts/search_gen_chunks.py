#!/usr/bin/env python3
"""Synthetic passages for the search scale benchmark (src/search/README.md, "Scale").

Writes N one-chunk documents as JSONL ({"_id", "title", "text"}): each is 2-5 sentences drawn at
random (seeded) from public-domain prose in ../shared/data, so term statistics are those of real
English while (almost) every passage is distinct.

    python3 scripts/search_gen_chunks.py 1000000 /tmp/chunks.jsonl
"""
import json
import os
import random
import re
import sys


def sentences(data):
    files = [
        "jane-austen/emma.txt", "jane-austen/prideprejudice.txt", "jane-austen/persuasion.txt",
        "jane-austen/mansfieldpark.txt", "jane-austen/sensesensibility.txt", "jane-austen/northangerabbey.txt",
        "public-domain-prose/devils_dictionary.txt", "public-domain-prose/jargon_file_4.4.7.txt",
        "tinyshakespeare/input.txt",
    ]
    out = []
    for f in files:
        p = os.path.join(data, f)
        if not os.path.exists(p):
            continue
        text = re.sub(r"\s+", " ", open(p, encoding="utf-8", errors="replace").read())
        for s in re.split(r"(?<=[.!?])\s+", text):
            if 4 <= len(s.split()) <= 40:
                out.append(s)
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: search_gen_chunks.py N OUT.jsonl")
    n, out = int(sys.argv[1]), sys.argv[2]
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.environ.get("FLOPS_DATA", os.path.join(here, "..", "..", "shared", "data"))
    sents = sentences(data)
    if not sents:
        sys.exit(f"no text found under {data} (set FLOPS_DATA)")
    rng = random.Random(1)
    with open(out, "w", encoding="utf-8") as f:
        for i in range(n):
            k = rng.randint(2, 5)
            text = " ".join(rng.choice(sents) for _ in range(k))
            f.write(json.dumps({"_id": f"c{i}", "title": "", "text": text}) + "\n")
    print(f"{n} passages from {len(sents)} sentences -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
