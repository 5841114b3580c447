#!/usr/bin/env bash
# The learning rates of both kinds of run on one author before the personalization table
# (scripts/personalize.sh, issue 17): the full fine-tune at every FULL_LRS, the adapter at every
# LORA_LRS x RATIOS (LoRA+ ratio of B's lr to A's), all with personalize.sh's budget and seed.
# Writes OUT/sweep.md: held-out perplexity of each run and the share of the best full
# fine-tune's gain each adapter closes. JOBS runs at a time; finished runs are kept.
#
#   bash scripts/personalize_sweep.sh
#   AUTHOR=shakespeare RANK=12 RATIOS="1 8" OUT=runs/sweep-s bash scripts/personalize_sweep.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-runs/personalize-sweep}
AUTHOR=${AUTHOR:-austen}
LORA_LRS=${LORA_LRS:-3e-3 1e-2}
RATIOS=${RATIOS:-1 16}
FULL_LRS=${FULL_LRS:-1e-3 3e-3}
RANK=${RANK:-8}
JOBS=${JOBS:-2}
export AUTHORS=$AUTHOR RANK ALPHA=${ALPHA:-$((2 * RANK))} PUBLISH= NICE=${NICE:-5}
mkdir -p "$OUT"
jobs=()
for lr in $FULL_LRS; do jobs+=("OUT=$OUT/full-lr$lr KINDS=full FULL_LR=$lr bash scripts/personalize.sh"); done
for lr in $LORA_LRS; do
  for ratio in $RATIOS; do
    jobs+=("OUT=$OUT/lora-r$RANK-lr$lr-x$ratio KINDS=lora LORA_LR=$lr RATIO=$ratio bash scripts/personalize.sh")
  done
done
printf '%s\n' "${jobs[@]}" | xargs -d '\n' -P "$JOBS" -I{} bash -c '{} > /dev/null'
python3 scripts/personalize_sweep_table.py "$OUT" "$AUTHOR"
