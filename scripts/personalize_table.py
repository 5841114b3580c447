#!/usr/bin/env python3
"""The personalization table from scripts/personalize.sh's outputs (OUT/*.json, OUT/evals.jsonl).

    personalize_table.py OUT BASE [FULL_OUT]   (AUTHORS="austen ..." in the environment: a subset)
"""
import json
import os
import sys

out, base = sys.argv[1], sys.argv[2]
full_out = sys.argv[3] if len(sys.argv) > 3 else out
authors = os.environ.get("AUTHORS", "austen shakespeare bible").split()
names = {"austen": "Austen", "shakespeare": "Shakespeare", "bible": "KJV Bible"}
ppl = {}
for line in open(os.path.join(out, "evals.jsonl")):
    j = json.loads(line)
    ppl[(j["text"], j["model"])] = j["r"]["val_ppl"]
runs = {}
for a in authors:
    for kind, d in (("lora", out), ("full", full_out)):
        runs[(a, kind)] = json.load(open(os.path.join(d, f"{a}-{kind}.json")))
        runs[(a, kind)]["settings"] = open(os.path.join(d, f"{a}-{kind}.settings")).read().strip()

def mib(b):
    return b / 1048576.0

rows = []
for a in authors:
    lo, fu = runs[(a, "lora")], runs[(a, "full")]
    b, l, f = ppl[(a, "base")], ppl[(a, f"lora-{a}")], ppl[(a, f"full-{a}")]
    closed = (b - l) / (b - f) if b > f else float("nan")  # no gain to close when the fine-tune is no better
    size_l = os.path.getsize(os.path.join(out, f"{a}-lora", "adapter.gguf"))
    size_f = os.path.getsize(os.path.join(full_out, f"{a}-full", "model.gguf"))
    rows.append(dict(author=a, base_ppl=b, lora_ppl=l, full_ppl=f, gain_closed=closed,
                     lora_bytes=size_l, full_bytes=size_f, lora_peak=lo["peak_rss_bytes"], full_peak=fu["peak_rss_bytes"],
                     lora_tok_s=lo["tokens_seen"] / lo["total_seconds"], full_tok_s=fu["tokens_seen"] / fu["total_seconds"],
                     lora_mfu=lo.get("mfu", 0), full_mfu=fu.get("mfu", 0), lora_flops=lo["total_flops"], full_flops=fu["total_flops"],
                     tokens=lo["tokens_seen"], lora_params=lo["parameters"], full_params=fu["parameters"],
                     lora_seconds=lo["total_seconds"], full_seconds=fu["total_seconds"],
                     lora_settings=lo["settings"], full_settings=fu["settings"]))

md = []
# What the runs were: "SETTINGS; BUDGET" per run (one line each when the authors' runs share them).
for what, key in (("Every run", lambda r: r["lora_settings"].split("; ")[1]), ("Adapter", lambda r: r["lora_settings"].split("; ")[0]),
                  ("Full fine-tune", lambda r: r["full_settings"].split("; ")[0])):
    md.append(f"{what}: " + " / ".join(sorted(set(key(r) for r in rows))) + ".")
md.append("")
md.append("| author (held-out text) | base ppl | own adapter ppl | full fine-tune ppl | gain closed by the adapter | adapter / model file | peak memory, adapter / full | tokens/s, adapter / full | MFU, adapter / full |")
md.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for r in rows:
    md.append(f"| {names[r['author']]} | {r['base_ppl']:.2f} | {r['lora_ppl']:.2f} | {r['full_ppl']:.2f} | "
              f"{'**%.0f%%**' % (100 * r['gain_closed']) if r['gain_closed'] == r['gain_closed'] else 'none (the fine-tune gained nothing)'} | "
              f"{r['lora_bytes']/1e6:.2f} MB / {r['full_bytes']/1e6:.1f} MB (**{100*r['lora_bytes']/r['full_bytes']:.1f}%**) | "
              f"{mib(r['lora_peak']):.0f} / {mib(r['full_peak']):.0f} MiB (**{100*r['lora_peak']/r['full_peak']:.0f}%**) | "
              f"{r['lora_tok_s']:.0f} / {r['full_tok_s']:.0f} | {100*r['lora_mfu']:.0f}% / {100*r['full_mfu']:.0f}% |")
cols = ["base"] + [f"lora-{a}" for a in authors] + [f"full-{a}" for a in authors]
if all((t, c) in ppl for t in authors for c in cols):  # CROSS=1 runs
    md.append("")
    md.append("Held-out perplexity of every author's text under every model (rows: text; columns: model):")
    md.append("")
    md.append("| text | " + " | ".join(cols) + " |")
    md.append("|---|" + "---:|" * len(cols))
    for t in authors:
        md.append(f"| {names[t]} | " + " | ".join(f"{ppl[(t, c)]:.2f}" for c in cols) + " |")
text = "\n".join(md) + "\n"
open(os.path.join(out, "table.md"), "w").write(text)
json.dump(dict(rows=rows, ppl={f"{k[0]}|{k[1]}": v for k, v in ppl.items()}), open(os.path.join(out, "results.json"), "w"), indent=1)
print(text)
