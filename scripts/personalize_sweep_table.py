#!/usr/bin/env python3
"""The table of scripts/personalize_sweep.sh: OUT/{full-*,lora-*}/ -> OUT/sweep.md, OUT/sweep.json."""
import glob
import json
import os
import sys

out, author = sys.argv[1], sys.argv[2]


def evals(d):
    r = {}
    for line in open(os.path.join(d, "evals.jsonl")):
        j = json.loads(line)
        if j["text"] == author:
            r[j["model"]] = j["r"]["val_ppl"]
    return r


rows = []
for d in sorted(glob.glob(os.path.join(out, "full-*")) + glob.glob(os.path.join(out, "lora-*"))):
    kind = os.path.basename(d).split("-")[0]
    run = os.path.join(d, f"{author}-{kind}")
    if not os.path.exists(run + ".json"):
        continue
    e, j = evals(d), json.load(open(run + ".json"))
    rows.append(dict(kind=kind, setting=open(run + ".settings").read().split(";")[0], base=e["base"],
                     ppl=e[f"{kind}-{author}"], train_loss=j["final_train_loss"], peak_rss=j["peak_rss_bytes"],
                     bytes=os.path.getsize(os.path.join(run, "adapter.gguf" if kind == "lora" else "model.gguf"))))
fulls = [r for r in rows if r["kind"] == "full"]
best = min(fulls, key=lambda r: r["ppl"]) if fulls else None
md = [f"Held-out perplexity of {author}'s text under each run ({open(run + '.settings').read().split(';')[1].strip()}):", "",
      "| run | settings | held-out ppl | gain closed (vs the best full fine-tune) | final train loss |", "|---|---|---:|---:|---:|"]
for r in rows:
    if best and r["kind"] == "lora" and best["ppl"] < r["base"]:  # a gain to close
        r["gain_closed"] = (r["base"] - r["ppl"]) / (r["base"] - best["ppl"])
    closed = "(best)" if r is best else "(worse than the base)" if r["ppl"] > r["base"] else \
        f"{100 * r['gain_closed']:.0f}%" if "gain_closed" in r else ""
    md.append(f"| {'adapter' if r['kind'] == 'lora' else 'full fine-tune'} | {r['setting']} | {r['ppl']:.2f} | {closed} | {r['train_loss']:.3f} |")
if rows:
    md.append(f"\nBase model: {rows[0]['base']:.2f}.")
text = "\n".join(md) + "\n"
open(os.path.join(out, "sweep.md"), "w").write(text)
json.dump(rows, open(os.path.join(out, "sweep.json"), "w"), indent=1)
print(text)
