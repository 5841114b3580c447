#!/usr/bin/env python3
"""The figures of data/detect/EVAL.md that are not printed by one flops command as they stand.

scripts/detect_remeasure.sh calls it; every subcommand reads files flops wrote and prints
Markdown (or plain lines) to paste into EVAL.md / README.md.

  table EVAL.json...          one row per method of `flops detect-eval --json` outputs
  diag SET.jsonl HUMAN.jsonl SCORES.jsonl
                              class means of the --scores-out features, and per source of the
                              pair the AUROC of raw log-ppl (higher = AI), Fast-DetectGPT
                              (higher = AI) and Binoculars (lower = AI)
  entropy FLOPS MODEL SET.jsonl N
                              mean next-token entropy minus mean surprisal (nats) over the
                              tokens after the prompt of the first N human texts of the set
                              (> 0: under-confident on held-out human text, < 0: over-confident),
                              and the mean entropy and surprisal per token over all of them
  pair SET.jsonl PAIR OUTDIR  writes OUTDIR/pairPAIR-human.txt and -ai.txt
"""
import json
import subprocess
import sys
import tempfile

AUSTEN = {"emma.txt", "mansfieldpark.txt", "northangerabbey.txt", "persuasion.txt", "prideprejudice.txt",
          "sensesensibility.txt"}
GROUPS = [("Austen", AUSTEN), ("tinyshakespeare", {"input.txt"}),
          ("Devil's Dictionary + Jargon File", {"devils_dictionary.txt", "jargon_file_4.4.7.txt"}),
          ("KJV", {"kjv_bible.tsv"})]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def auroc(scores, labels):
    """P(score of an AI text > score of a human text), ties counting one half (Mann-Whitney)."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    n_ai = sum(labels)
    n_h = len(labels) - n_ai
    r_ai = sum(r for r, l in zip(ranks, labels) if l)
    return (r_ai - n_ai * (n_ai + 1) / 2) / (n_ai * n_h)


def table(paths):
    print("| file | method | n | AUROC | TPR @ 1 % FPR | TPR @ 0.1 % FPR | best F1 | best-F1 threshold |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for p in paths:
        with open(p, encoding="utf-8") as f:
            j = json.load(f)
        for r in j["results"]:
            op = ">=" if r["higher_is_ai"] else "<="
            name = r["method"] + (" (out-of-fold)" if r.get("cross_validated") else "")
            if r["method"] == "binoculars":
                name += " obs {} / perf {}".format(r["observer"].split("/")[-1], r["performer"].split("/")[-1])
            if j.get("sampler"):
                name += " sampler " + j["sampler"].split("/")[-1]
            extra = ""
            if "threshold" in r:
                extra = " (calibrated: AI {} {:.4f}, human side {:.4f})".format(op, r["threshold"], r["threshold_human"])
            print("| {} | `{}` | {} | {:.4f} | {:.4f} | {:.4f} | {:.4f} | score {} {:.5g}{} |".format(
                p.split("/")[-1], name, r["n"], r["auroc"], r["tpr_at_1pct_fpr"], r["tpr_at_0.1pct_fpr"],
                r["best_f1"], op, r["best_f1_threshold"], extra))


def pair_sources(set_rows, human_rows):
    """pair -> source file of its human passage (make-detect-set renumbers pairs after drops)."""
    src, j = {}, 0
    for r in set_rows:
        if r["label"] != "human":
            continue
        while not human_rows[j]["text"].startswith(r["text"][:100]):
            j += 1
        src[r["pair"]] = human_rows[j]["source"]
        j += 1
    return src


def diag(set_path, human_path, scores_path):
    rows = read_jsonl(set_path)
    src = pair_sources(rows, read_jsonl(human_path))
    sc = read_jsonl(scores_path)
    keys = [k for k in ("log_ppl", "burstiness", "fast-detectgpt", "binoculars") if k in sc[0]]
    print("| | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for lab in ("human", "ai"):
        xs = [s for s in sc if s["label"] == lab]
        print("| {} ({}) | ".format(lab, len(xs)) + " | ".join("{:.3f}".format(sum(s[k] for s in xs) / len(xs)) for k in keys) + " |")
    print()
    print("per source (pairs): AUROC of raw log-ppl (higher = AI) / fast-detectgpt / binoculars (lower = AI)")
    for name, files in GROUPS:
        xs = [s for s in sc if src[rows[s["index"]]["pair"]] in files]
        y = [1 if s["label"] == "ai" else 0 for s in xs]
        if not 0 < sum(y) < len(y):
            print("  {}: not both classes".format(name))
            continue
        parts = ["{:.3f}".format(auroc([s["log_ppl"] for s in xs], y))]
        if "fast-detectgpt" in keys:
            parts.append("{:.3f}".format(auroc([s["fast-detectgpt"] for s in xs], y)))
        if "binoculars" in keys:
            parts.append("{:.3f}".format(auroc([-s["binoculars"] for s in xs], y)))
        print("  {} ({} pairs): {}".format(name, len(xs) // 2, " / ".join(parts)))
    pooled = [1 if s["label"] == "ai" else 0 for s in sc]
    print("  pooled raw log-ppl AUROC: {:.4f}".format(auroc([s["log_ppl"] for s in sc], pooled)))


def entropy(flops, model, set_path, n):
    """Scores each human text whole (the prompt as context) and keeps the tokens after the prompt,
    as detect-eval's --prefix context does."""
    per = []  # (sum entropy, sum surprisal, tokens) per text
    for r in [r for r in read_jsonl(set_path) if r["label"] == "human"]:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as f:
            f.write(r["text"])
            f.flush()
            out = subprocess.run([flops, "score", f.name, "-m", model, "-t", "1", "--json"], check=True,
                                 capture_output=True, text=True).stdout
        toks = [t for t in json.loads(out)["tokens"] if t["begin"] >= r.get("prompt_bytes", 0)]
        per.append((sum(t["entropy"] for t in toks), -sum(t["logprob"] for t in toks), len(toks)))
    first = per[:n]
    e, s, c = (sum(x[i] for x in first) for i in range(3))
    print("first {} human texts, {} tokens pooled: mean entropy {:.4f}, mean surprisal {:.4f}, "
          "entropy - surprisal {:+.4f} nats".format(len(first), c, e / c, s / c, (e - s) / c))
    print("all {} human texts, mean over texts: entropy {:.4f}, surprisal {:.4f} nats per token".format(
        len(per), sum(x[0] / x[2] for x in per) / len(per), sum(x[1] / x[2] for x in per) / len(per)))


def pair(set_path, k, outdir):
    for r in read_jsonl(set_path):
        if r["pair"] == k:
            with open("{}/pair{}-{}.txt".format(outdir, k, r["label"]), "w", encoding="utf-8") as f:
                f.write(r["text"])


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "table":
        table(args)
    elif cmd == "diag" and len(args) == 3:
        diag(*args)
    elif cmd == "entropy" and len(args) == 4:
        entropy(args[0], args[1], args[2], int(args[3]))
    elif cmd == "pair" and len(args) == 3:
        pair(args[0], int(args[1]), args[2])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
