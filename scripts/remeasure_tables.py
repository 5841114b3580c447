#!/usr/bin/env python3
"""Prints, as the docs' Markdown tables, what scripts/remeasure_eval_search.sh measured in OUT.

    python3 scripts/remeasure_tables.py OUT [harness|backends|icl|search|ask ...]

The flops-icl and stories260K columns of the harness tables are read from src/harness/results
(those models were not retrained) unless OUT holds their runs too.
"""
import json
import os
import sys

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
HARNESS_MODELS = ["flops-a", "flops-b", "flops-icl", "stories260K"]
PARTS = ["mc", "causal", "gen", "examples"]

# (label, result key, metric, N, chance) as in src/harness/README.md's Result 3.
HARNESS_ROWS = [
    ("MMLU, 57 subjects (group)", "mmlu", "acc,none", 981, "0.25"),
    ("AGIEval English, 7 sets (group)", "agieval", "acc,none", 140, "0.22"),
    ("agieval_lsat_ar", "agieval_lsat_ar", "acc,none", 20, "0.20"),
    ("agieval_lsat_lr", "agieval_lsat_lr", "acc,none", 20, "0.20"),
    ("agieval_lsat_rc", "agieval_lsat_rc", "acc,none", 20, "0.20"),
    ("agieval_sat_en", "agieval_sat_en", "acc,none", 20, "0.25"),
    ("agieval_sat_math", "agieval_sat_math", "acc,none", 20, "0.25"),
    ("agieval_aqua_rat", "agieval_aqua_rat", "acc,none", 20, "0.20"),
    ("agieval_logiqa_en", "agieval_logiqa_en", "acc,none", 20, "0.25"),
    ("causality_tuebingen_ll (weighted acc)", "causality_tuebingen_ll", "acc_weighted,none", 108, "0.50"),
    ("causality_tuebingen_yesno (weighted)", "causality_tuebingen_yesno", "exact_match_weighted,yes-no", 216, ""),
    ("causality_tuebingen_ab (weighted)", "causality_tuebingen_ab", "exact_match_weighted,answer-tag", 20, ""),
    ("causality_neuropathic", "causality_neuropathic", "exact_match,answer-tag", 20, ""),
    ("causality_arctic", "causality_arctic", "exact_match,answer-tag", 20, ""),
    ("crass", "crass", "exact_match,answer-tag", 20, ""),
    ("crass_mc", "crass_mc", "acc,none", 274, "0.33"),
    ("chemistry_exam (--make-task)", "chemistry_exam", "acc,none", 20, "0.25"),
    ("medical_boards (--make-task)", "medical_boards", "acc,none", 12, "0.25"),
    ("famous_lines (F1)", "famous_lines", "f1,first-words", 10, ""),
]


def load(path):
    with open(path) as f:
        return json.load(f)


def harness_runs(out):
    runs = {}
    for m in HARNESS_MODELS:
        d = os.path.join(out, "harness")
        if not os.path.exists(os.path.join(d, m + "-mc.json")):
            d = os.path.join(REPO, "src/harness/results")
        runs[m] = [load(os.path.join(d, f"{m}-{p}.json")) for p in PARTS]
    return runs


def find(run, key, section):
    for j in run:
        for s in ("groups", section) if section == "results" else (section,):
            if key in j.get(s, {}):
                return j[s][key]
    return None


def si(x):
    """3 significant digits with a k/M/G/T suffix, trailing zeros dropped (1.69G, 66M, 40M)."""
    for div, suf in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            v = x / div
            s = f"{v:.3g}"
            return s + suf
    return f"{x:.3g}"


def harness(out):
    runs = harness_runs(out)
    print("| task | N | chance | " + " | ".join(HARNESS_MODELS) + " |")
    print("|---|---:|---:|" + "---:|" * len(HARNESS_MODELS))
    for label, key, metric, n, chance in HARNESS_ROWS:
        cells = []
        for m in HARNESS_MODELS:
            r = find(runs[m], key, "results")
            stderr = metric.replace(",", "_stderr,", 1)
            cells.append(f"{r[metric]:.3f} ± {r[stderr]:.3f}" if r else "-")
        print(f"| {label} | {n} | {chance} | " + " | ".join(cells) + " |")
    print()
    print("| task | " + " | ".join(f"{m} FLOPs/q · s/q · J/q" for m in HARNESS_MODELS) + " |")
    print("|---|" + "---:|" * len(HARNESS_MODELS))
    for label, key, _, _, _ in HARNESS_ROWS:
        cells = []
        for m in HARNESS_MODELS:
            c = find(runs[m], key, "cost")
            cells.append(f"{si(c['flops_per_question'])} · {c['seconds_per_question']:.3f} · {c['joules_per_question']:.2f}")
        print(f"| {label} | " + " | ".join(cells) + " |")
    print()
    whole = []
    for m in HARNESS_MODELS:
        f = sum(j["receipt"]["flops"]["total"] for j in runs[m])
        s = sum(j["receipt"]["wall_s"] for j in runs[m])
        e = sum(j["receipt"]["energy_j"] for j in runs[m])
        # The groups' questions, then every task of the other runs (the groups count their members).
        mc = runs[m][0]["cost"]
        q = mc["mmlu"]["questions"] + mc["agieval"]["questions"] + sum(
            c["questions"] for j in runs[m][1:] for c in j["cost"].values())
        whole.append(f"{m}: {q} questions, {f:.3g} FLOPs, {s:.0f} s, {e:.0f} J (threads {runs[m][0]['receipt']['threads']})")
    print("Whole runs: " + "; ".join(whole) + ".")
    # Generated answers, as the prose quotes them.
    for m in ("flops-a", "flops-b"):
        for name in ("gen.samples", "yesno.samples"):
            p = os.path.join(out, "harness", f"{m}-{name}.jsonl")
            if not os.path.exists(p):
                continue
            with open(p) as f:
                lines = [json.loads(x) for x in f][:3]
            for x in lines:
                print(f"{m} {name}: {x.get('task', '')} {json.dumps(x.get('response', ''))[:120]}")
    print()


def samples(path):
    with open(path) as f:
        return {json.dumps(j["doc_id"]): j for j in map(json.loads, f)}


def backends(out):
    d = os.path.join(out, "backends")
    all_diffs = []
    for task in ("chemistry_exam", "medical_boards"):
        lo, sv = samples(f"{d}/{task}-local.jsonl"), samples(f"{d}/{task}-serve.jsonl")
        diffs = [abs(a - b) for k in lo for a, b in zip(lo[k]["loglikelihoods"], sv[k]["loglikelihoods"])]
        all_diffs += diffs
        same = sum(lo[k]["answer"] == sv[k]["answer"] for k in lo)
        rl = load(f"{d}/../backends-{task}-local.out")["results"]
        rs = load(f"{d}/../backends-{task}-serve.out")["results"]
        print(f"{task}: {len(lo)} questions, same answer {same}, {len(diffs)} log-likelihoods, "
              f"largest |difference| {max(diffs):.2g}, results equal: {rl == rs}; {json.dumps(rl)}")
    print(f"both exams: {len(all_diffs)} log-likelihoods, largest |difference| {max(all_diffs):.2g}")
    lo = samples(f"{d}/famous_lines-local.jsonl")
    for other in ("serve", "llama"):
        p = f"{d}/famous_lines-{other}.jsonl"
        if os.path.exists(p):
            o = samples(p)
            print(f"famous_lines -m vs {other}: {sum(lo[k]['response'] == o[k]['response'] for k in lo)}/{len(lo)} identical")
    print("famous_lines -m:", json.dumps(load(f"{d}/../backends-famous_lines-local.out")["results"]))
    print("famous_lines responses:", [lo[k]["response"] for k in sorted(lo)][:10])
    print()


def icl(out):
    print("| task | method | demos drawn / used | groups | accuracy | macro-F1 | encode FLOPs | test FLOPs | encode s | test s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for task, label in (("sst2", "SST-2 dev"), ("trec", "TREC test")):
        for method in ("conventional", "structured"):
            j = load(f"{out}/icl-{task}-{method}.out")
            c = j["cost"]
            print(f"| {label} | {method} | {j['n_demos_requested']} / {j['n_demos_used']} | {j['n_groups']} | "
                  f"{j['accuracy']:.3f} | {j['macro_f1']:.3f} | {c['flops_encode']:.1e} | {c['flops_test']:.1e} | "
                  f"{c['seconds_encode']:.2f} | {c['seconds_test']:.1f} |")
            preds = j.get("predictions", [])
            print(f"|  predictions: {dict((p, preds.count(p)) for p in set(preds))}, n_test {j['n_test']}")
    print()


def search(out):
    rows = {}
    for n in ("flops-a", "flops-b", "embed-cran-b"):
        p = f"{out}/search-eval-{n}.out"
        if os.path.exists(f"{out}/search-eval-{n}.time"):  # finished
            rows[n] = {r["system"]: r for r in load(p)["results"]}
    print("| system | index | nDCG@10 | MAP@100 | R@100 | MRR |")
    print("|---|---|---|---|---|---|")
    for n, sysname in (("flops-b", "dense"), ("flops-a", "dense"), ("embed-cran-b", "dense"),
                       ("embed-cran-b", "hybrid-rrf"), ("embed-cran-b", "hybrid-rrf (tuned, 2-fold CV)"),
                       ("embed-cran-b", "hybrid-weighted"), ("embed-cran-b", "hybrid-weighted (tuned, 2-fold CV)"),
                       ("embed-cran-b", "bm25"), ("embed-cran-b", "bm25+rm3 (tuned, 2-fold CV)")):
        r = rows.get(n, {}).get(sysname)
        if r:
            print(f"| {sysname} | {n} | {r['ndcg@10']:.4f} | {r['map@100']:.4f} | {r['recall@100']:.4f} | {r['mrr']:.4f} |")
            if "tuned" in sysname and "hybrid-weighted" in sysname:
                print("|  chose alpha:", [s.get("alpha") for s in r["settings"]])
    t = f"{out}/train-embed-cran-b.out"
    if os.path.exists(t):
        j = load(t)
        print(f"contrastive: {j['steps']} steps, {j['seconds']:.0f} s, {j['total_flops']:.2g} FLOPs, "
              f"held-out top-1 {j['val_acc']:.3f} on {j['val_pairs']} pairs (chance 1/32 = 0.031), final loss {j['final_loss']:.3f}")
    for n in ("flops-a", "flops-b", "embed-cran-b"):
        p = f"{out}/index-{n}.out"
        if os.path.exists(p):
            j = load(p)
            r = j["receipt"]
            print(f"index {n}: {j['chunks']} chunks in {r['wall_s']:.0f} s wall, {r['cpu_s']:.0f} CPU-s "
                  f"({j['chunks'] / r['wall_s']:.1f} chunks/s wall)")
    print()


def ask(out):
    for f in ("ask.err", "ask.out"):
        with open(f"{out}/{f}") as fh:
            print(fh.read().rstrip())
    print()


def main():
    out = sys.argv[1]
    parts = sys.argv[2:] or ["harness", "backends", "icl", "search", "ask"]
    times = f"{out}/times.tsv"
    for p in parts:
        print(f"## {p}")
        try:
            globals()[p](out)
        except FileNotFoundError as e:
            print(f"(not measured: {e.filename})\n")
    if os.path.exists(times):
        print("## times (name, wall s, user s, sys s)")
        with open(times) as f:
            print(f.read().rstrip())


if __name__ == "__main__":
    main()
