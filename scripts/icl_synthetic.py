#!/usr/bin/env python3
"""Synthetic in-context classification task for structured prompting (issue 6).

Each task draws a fresh random mapping from 32 words to 4 labels and shows noisy
examples "word label" (the label replaced by a different random one with
probability 0.3), so the best answer for a word is the majority label seen for it
and more demonstrations carry more information.

  icl_synthetic.py train  --out FILE --sequences S [--lines K] [--words-min W] [--repeat-fraction R]
                          [--clean-fraction C] [--template T] [--seed N]
      training text: S tasks of K lines each (default 16..96 at random), separated by a blank
      line; each task shows between W and 32 of its words
  icl_synthetic.py eval   --out DIR --tasks T [--demos 4096] [--seed N]
      DIR/task_<i>/demos.jsonl (noisy demonstrations) and test.jsonl (each word once,
      labelled with the true mapping), for `flops icl --demos ... --test ...`
  icl_synthetic.py oracle [--n 16,32,...] [--trials 2000]
      accuracy of the ideal learner (majority vote over N random demonstrations, ties at random)
  icl_synthetic.py report --results FILE.jsonl --out DIR
      table (markdown) and SVG plots of accuracy / FLOPs / time / memory against N
Only the Python standard library is used.
"""
import argparse
import json
import math
import os
import random
import sys

WORDS = ("bako dine fupa gomu hiro jeta kuli lopa mave nori pesu quna rito sela tume vika "
         "wozo yari zemo bule cafi dora feni gilu hapo jubo kiza lure mino pade ruka sovi").split()
LABELS = ["red", "blue", "gold", "gray"]
NOISE = 0.3
TEMPLATE = "{text} {label}\n"
SEPARATOR = "\n"  # a blank line starts a new task


def draw_mapping(rng):
    return {w: rng.randrange(len(LABELS)) for w in WORDS}


def noisy(rng, label, noise=None):
    if rng.random() < (NOISE if noise is None else noise):
        return rng.choice([k for k in range(len(LABELS)) if k != label])
    return label


def examples(rng, mapping, n, words=WORDS, noise=None):
    for _ in range(n):
        w = rng.choice(words)
        yield w, noisy(rng, mapping[w], noise)


def cmd_train(a):
    rng = random.Random(a.seed)
    line = a.template.replace("\\n", "\n")
    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        for s in range(a.sequences):
            m = draw_mapping(rng)
            if rng.random() < a.repeat_fraction:
                # A block of 8 random lines shown twice: the fixed offset makes copying easy to
                # learn, and the copy head is then reused for looking a word up by content.
                for _ in range(rng.randint(1, 4)):
                    block = [(w, rng.randrange(len(LABELS))) for w in (rng.choice(WORDS) for _ in range(8))]
                    for _ in range(2):
                        for w, l in block:
                            f.write(line.format(text=w, label=LABELS[l]))
            else:
                # Showing only some of the words makes each one repeat more within the window:
                # copying and majority voting pay off more, so in-context learning is learned sooner.
                hi = min(a.words_max, len(WORDS))
                active = rng.sample(WORDS, rng.randint(min(a.words_min, hi), hi))
                noise = 0.0 if rng.random() < a.clean_fraction else a.noise
                k = a.lines if a.lines > 0 else rng.randint(16, 96)
                for w, l in examples(rng, m, k, active, noise):
                    f.write(line.format(text=w, label=LABELS[l]))
            f.write(SEPARATOR)
    os.replace(tmp, a.out)


def cmd_eval(a):
    rng = random.Random(a.seed)
    for t in range(a.tasks):
        d = os.path.join(a.out, "task_%03d" % t)
        os.makedirs(d, exist_ok=True)
        m = draw_mapping(rng)
        words = WORDS if a.words >= len(WORDS) else rng.sample(WORDS, a.words)
        with open(os.path.join(d, "demos.jsonl"), "w") as f:
            for w, l in examples(rng, m, a.demos, words, a.noise):
                f.write(json.dumps({"text": w, "label": LABELS[l]}) + "\n")
        with open(os.path.join(d, "test.jsonl"), "w") as f:
            for w in words:
                f.write(json.dumps({"text": w, "label": LABELS[m[w]]}) + "\n")


def oracle_accuracy(n, trials, rng, n_words=len(WORDS), noise=NOISE):
    ok = 0
    total = 0
    for _ in range(trials):
        m = draw_mapping(rng)
        words = WORDS[:n_words]
        counts = {w: [0] * len(LABELS) for w in words}
        for w, l in examples(rng, m, n, words, noise):
            counts[w][l] += 1
        for w in words:
            c = counts[w]
            best = max(c)
            guess = rng.choice([k for k in range(len(LABELS)) if c[k] == best])
            ok += guess == m[w]
            total += 1
    return ok / total


def cmd_oracle(a):
    rng = random.Random(a.seed)
    for n in [int(x) for x in a.n.split(",")]:
        print("%6d  %.4f" % (n, oracle_accuracy(n, a.trials, rng, a.words, a.noise)))


def svg_plot(path, title, xlabel, ylabel, series, logy=False):
    """series: {name: [(x, y), ...]} drawn on a log2 x axis."""
    W, H, L, R, T, B = 640, 400, 70, 150, 40, 50
    xs = [x for s in series.values() for x, _ in s]
    ys = [y for s in series.values() for _, y in s if y > 0 or not logy]
    if not xs or not ys:
        return
    fx = lambda x: L + (math.log2(x) - math.log2(min(xs))) / max(1e-9, math.log2(max(xs)) - math.log2(min(xs))) * (W - L - R)
    ylo, yhi = (min(ys), max(ys))
    if logy:
        ylo, yhi = math.log10(ylo), math.log10(yhi)
    if yhi - ylo < 1e-12:
        yhi = ylo + 1
    tr = (lambda y: math.log10(y)) if logy else (lambda y: y)
    fy = lambda y: H - B - (tr(y) - ylo) / (yhi - ylo) * (H - T - B)
    colors = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14">%s</text>' % (L, title),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, H - B, W - R, H - B),
           '<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (L, T, L, H - B),
           '<text x="%d" y="%d" text-anchor="middle">%s</text>' % ((L + W - R) / 2, H - 12, xlabel),
           '<text x="15" y="%d" transform="rotate(-90 15 %d)" text-anchor="middle">%s</text>' % ((T + H - B) / 2, (T + H - B) / 2, ylabel)]
    for x in sorted(set(xs)):
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (fx(x), H - B + 16, x))
    for i in range(5):
        v = ylo + (yhi - ylo) * i / 4
        y = H - B - (H - T - B) * i / 4
        lab = ("%.3g" % (10 ** v)) if logy else ("%.3g" % v)
        out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (L - 5, y + 4, lab))
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (L, y, W - R, y))
    for i, (name, pts) in enumerate(series.items()):
        pts = sorted(p for p in pts if p[1] > 0 or not logy)
        c = colors[i % len(colors)]
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (c, " ".join("%.1f,%.1f" % (fx(x), fy(y)) for x, y in pts)))
        for x, y in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (fx(x), fy(y), c))
        out.append('<text x="%d" y="%d" fill="%s">%s</text>' % (W - R + 10, T + 18 * i + 10, c, name))
    out.append("</svg>")
    with open(path + ".tmp", "w") as f:
        f.write("\n".join(out) + "\n")
    os.replace(path + ".tmp", path)


def cmd_report(a):
    rows = [json.loads(l) for l in open(a.results) if l.strip()]
    agg = {}
    for r in rows:
        k = (r["method"], r["n"])
        g = agg.setdefault(k, {"acc": [], "flops_encode": [], "flops_test": [], "s_encode": [], "s_test": [],
                               "kv": [], "rss": [], "used": [], "groups": [], "n_test": []})
        g["acc"].append(r["accuracy"])
        g["flops_encode"].append(r["cost"]["flops_encode"])
        g["flops_test"].append(r["cost"]["flops_test"] / max(1, r["n_test"]))
        g["s_encode"].append(r["cost"]["seconds_encode"])
        g["s_test"].append(r["cost"]["seconds_test"] / max(1, r["n_test"]))
        g["kv"].append(r["cost"]["kv_bytes"])
        g["rss"].append(r["cost"]["peak_rss_bytes"])
        g["used"].append(r["n_demos_used"])
        g["groups"].append(r["n_groups"])
    mean = lambda v: sum(v) / len(v)
    ns = sorted({n for _, n in agg})
    methods = sorted({m for m, _ in agg}, reverse=True)
    rng = random.Random(7)
    oracle = {n: oracle_accuracy(n, 300, rng, a.words, a.noise) for n in ns}
    lines = ["| N | method | demos used | groups | accuracy | ideal learner | encode FLOPs | FLOPs / test | encode s | s / test | KV MB | peak RSS MB |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in ns:
        for m in methods:
            if (m, n) not in agg:
                continue
            g = agg[(m, n)]
            se = math.sqrt(mean([(x - mean(g["acc"])) ** 2 for x in g["acc"]]) / max(1, len(g["acc"]) - 1)) if len(g["acc"]) > 1 else 0
            lines.append("| %d | %s | %.0f | %.1f | %.3f ± %.3f | %.3f | %.3g | %.3g | %.3f | %.4f | %.2f | %.1f |" % (
                n, m, mean(g["used"]), mean(g["groups"]), mean(g["acc"]), se, oracle[n], mean(g["flops_encode"]),
                mean(g["flops_test"]), mean(g["s_encode"]), mean(g["s_test"]), mean(g["kv"]) / 1e6, mean(g["rss"]) / 1e6))
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "icl_sweep.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    # "one-context" runs positions past the training window: its accuracy says nothing about
    # in-context learning, only its cost is plotted.
    acc = {m: [(n, mean(agg[(m, n)]["acc"])) for n in ns if (m, n) in agg] for m in methods if m != "one-context"}
    acc["ideal learner"] = [(n, oracle[n]) for n in ns]
    svg_plot(os.path.join(a.out, "icl_accuracy.svg"), "Accuracy against demonstrations N", "N (log scale)", "accuracy", acc)
    svg_plot(os.path.join(a.out, "icl_encode_flops.svg"), "FLOPs to encode the demonstrations", "N (log scale)", "FLOPs",
             {m: [(n, mean(agg[(m, n)]["flops_encode"])) for n in ns if (m, n) in agg] for m in methods}, logy=True)
    svg_plot(os.path.join(a.out, "icl_time.svg"), "Seconds to encode the demonstrations", "N (log scale)", "seconds",
             {m: [(n, mean(agg[(m, n)]["s_encode"])) for n in ns if (m, n) in agg] for m in methods}, logy=True)
    svg_plot(os.path.join(a.out, "icl_kv.svg"), "KV cache bytes", "N (log scale)", "bytes",
             {m: [(n, mean(agg[(m, n)]["kv"])) for n in ns if (m, n) in agg] for m in methods}, logy=True)
    svg_plot(os.path.join(a.out, "icl_peak_rss.svg"), "Peak resident memory of the process", "N (log scale)", "bytes",
             {m: [(n, mean(agg[(m, n)]["rss"])) for n in ns if (m, n) in agg] for m in methods}, logy=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = p.add_subparsers(dest="cmd", required=True)
    t = sp.add_parser("train")
    t.add_argument("--out", required=True)
    t.add_argument("--sequences", type=int, required=True)
    t.add_argument("--lines", type=int, default=0, help="lines per task (default: random 16..96)")
    t.add_argument("--words-min", type=int, default=32,
                   help="each task shows a random subset of k in [words-min, 32] of its words (default: all 32)")
    t.add_argument("--words-max", type=int, default=32, help="at most this many words per task (default 32)")
    t.add_argument("--template", default=TEMPLATE.replace("\n", "\\n"),
                   help="line format (default '{text} {label}\\n'; the evaluation template must be the same)")
    t.add_argument("--noise", type=float, default=NOISE, help="label flip probability in the training text (default 0.3)")
    t.add_argument("--repeat-fraction", type=float, default=0.0,
                   help="fraction of sequences that are blocks of 8 lines shown twice (a curriculum for "
                        "the copy head; default 0)")
    t.add_argument("--clean-fraction", type=float, default=0.0,
                   help="fraction of tasks shown without label noise (a curriculum: exact copies teach the "
                        "induction head sooner; default 0)")
    t.add_argument("--seed", type=int, default=1)
    e = sp.add_parser("eval")
    e.add_argument("--out", required=True)
    e.add_argument("--tasks", type=int, default=10)
    e.add_argument("--demos", type=int, default=4096)
    e.add_argument("--seed", type=int, default=1000)
    e.add_argument("--words", type=int, default=32, help="words per task (a random subset; default all 32)")
    e.add_argument("--noise", type=float, default=NOISE, help="label flip probability of the demonstrations")
    o = sp.add_parser("oracle")
    o.add_argument("--n", default="16,32,64,128,256,512,1024,2048,4096")
    o.add_argument("--trials", type=int, default=500)
    o.add_argument("--seed", type=int, default=7)
    o.add_argument("--words", type=int, default=32)
    o.add_argument("--noise", type=float, default=NOISE)
    r = sp.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--out", required=True)
    r.add_argument("--words", type=int, default=32, help="as given to eval (for the ideal-learner column)")
    r.add_argument("--noise", type=float, default=NOISE, help="as given to eval")
    a = p.parse_args()
    if getattr(a, "sequences", 1) <= 0 or getattr(a, "tasks", 1) <= 0 or getattr(a, "demos", 1) <= 0:
        sys.exit("counts must be positive")
    {"train": cmd_train, "eval": cmd_eval, "oracle": cmd_oracle, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    main()
