#!/usr/bin/python3
"""Loss curves of flops training runs (their log.jsonl) as one PNG, one panel per group.

    python3 scripts/plot_loss.py -o loss.png [--title T] NAME=runs/x/log.jsonl ...

NAME is GROUP-KIND (e.g. austen-lora): runs of one GROUP share a panel. Training loss is drawn
as a line (a running mean over 10 steps, since single batches are noisy), validation loss as
dots on the same colour. Needs python3-matplotlib (scripts/setup.sh installs it).
"""
import argparse
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only: no display here
import matplotlib.pyplot as plt


def read_log(path):
    steps, loss, vsteps, vloss = [], [], [], []
    with open(path) as f:
        for line in f:
            j = json.loads(line)
            if "loss" in j:
                steps.append(j["step"])
                loss.append(j["loss"])
            if "val_loss" in j:
                vsteps.append(j["step"])
                vloss.append(j["val_loss"])
    return steps, loss, vsteps, vloss


def running_mean(xs, k=10):
    out, s = [], 0.0
    for i, x in enumerate(xs):
        s += x
        if i >= k:
            s -= xs[i - k]
        out.append(s / min(i + 1, k))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--title", default="")
    ap.add_argument("runs", nargs="+", help="GROUP-KIND=path/to/log.jsonl")
    a = ap.parse_args()
    groups = {}
    for r in a.runs:
        if "=" not in r:
            sys.exit(f"error: '{r}' is not NAME=LOG")
        name, path = r.split("=", 1)
        group = name.split("-", 1)[0]
        groups.setdefault(group, []).append((name, path))
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 4), squeeze=False)
    for ax, (group, runs) in zip(axes[0], groups.items()):
        for i, (name, path) in enumerate(runs):
            steps, loss, vsteps, vloss = read_log(path)
            colour = f"C{i}"
            ax.plot(steps, running_mean(loss), color=colour, label=f"{name} train")
            ax.plot(vsteps, vloss, "o", color=colour, label=f"{name} held-out")
        ax.set_title(group)
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats/token)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if a.title:
        fig.suptitle(a.title)
    fig.tight_layout()
    tmp = a.out + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, a.out)  # atomically: never a half-written PNG


if __name__ == "__main__":
    main()
