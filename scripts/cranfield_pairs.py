#!/usr/bin/env python3
"""Title/abstract pairs of the Cranfield documents for `flops train --objective contrastive
--pair-file` (unsupervised domain adaptation: the corpus's own text, no queries, no judgements).

    python3 scripts/cranfield_pairs.py ../shared/data/cranfield-ir/cran.all.1400 > runs/cran-pairs.jsonl

Each document gives (title, abstract) and (first sentence of the abstract, the rest of it).
"""
import json
import re
import sys


def records(path):
    doc, field = None, None
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\r\n")
        m = re.match(r"^\.([A-Z])(?:\s+(.*))?$", line)
        if m:
            if m.group(1) == "I":
                if doc:
                    yield doc
                doc, field = {"T": "", "W": ""}, None
            else:
                field = m.group(1)
            continue
        if doc is not None and field in ("T", "W"):
            doc[field] += " " + line
    if doc:
        yield doc


def main():
    for d in records(sys.argv[1]):
        title = " ".join(d["T"].split())
        text = " ".join(d["W"].split())
        if text.startswith(title):
            text = text[len(title):].strip()
        if len(title.split()) >= 3 and len(text.split()) >= 8:
            print(json.dumps({"a": title, "b": text}))
        parts = re.split(r"(?<= \.) ", text, maxsplit=1)
        if len(parts) == 2 and len(parts[0].split()) >= 5 and len(parts[1].split()) >= 8:
            print(json.dumps({"a": parts[0], "b": parts[1]}))


if __name__ == "__main__":
    main()
