#!/usr/bin/env bash
# Personalization (issue 17, must-show 2): from one base model, one LoRA adapter per author and
# one full fine-tune per author with the same budget of tokens, then the held-out perplexity of
# every author's text under the base, each adapter and each fine-tune.
#
#   bash scripts/personalize.sh            # writes runs/personalize/{AUTHOR-lora,AUTHOR-full}/ and results.json
#   STEPS=20 OUT=/tmp/p bash scripts/personalize.sh   # a quick trial
#
# The held-out text of an author is the validation split `--val-fraction 0.05` cuts from that
# author's files: the same trailing chapters the base model never saw (models/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
F=${F:-build/flops}
BASE=${BASE:-models/flops-a.gguf}
OUT=${OUT:-runs/personalize}
STEPS=${STEPS:-150}            # x 16 x 256 tokens per run
THREADS=${THREADS:-1}
RANK=${RANK:-8}
ALPHA=${ALPHA:-16}
LORA_LR=${LORA_LR:-3e-3}
FULL_LR=${FULL_LR:-1e-3}
MICRO=${MICRO:-2}
NICE=${NICE:-10}
D=../shared/data
declare -A FILES=(
  [austen]="$D/jane-austen/emma.txt $D/jane-austen/mansfieldpark.txt $D/jane-austen/northangerabbey.txt $D/jane-austen/persuasion.txt $D/jane-austen/prideprejudice.txt $D/jane-austen/sensesensibility.txt"
  [shakespeare]="$D/tinyshakespeare/input.txt"
  [bible]="$D/public-domain-prose/kjv_bible.tsv"
)
AUTHORS="austen shakespeare bible"
mkdir -p "$OUT"
run() { nice -n "$NICE" "$F" "$@"; }

for a in $AUTHORS; do
  common=(--init "$BASE" --data ${FILES[$a]} --val-fraction 0.05 --steps "$STEPS" --batch 16 --micro-batch "$MICRO"
          --warmup 10 --eval-every 50 --eval-windows 64 --checkpoint-every 0 --seed 1 -t "$THREADS"
          --cache "$OUT/$a-tokens.bin" --json --quiet)
  [ -f "$OUT/$a-lora.json" ] || run train "${common[@]}" --lora-rank "$RANK" --lora-alpha "$ALPHA" \
    --lr "$LORA_LR" --min-lr "$(python3 -c "print($LORA_LR/10)")" --name "flops-a-$a" -o "$OUT/$a-lora" > "$OUT/$a-lora.json"
  [ -f "$OUT/$a-full.json" ] || run train "${common[@]}" \
    --lr "$FULL_LR" --min-lr "$(python3 -c "print($FULL_LR/10)")" --name "flops-a-$a-full" -o "$OUT/$a-full" > "$OUT/$a-full.json"
done

# Held-out perplexity of every author's whole validation split under every model.
evals="$OUT/evals.jsonl"
: > "$evals"
for text in $AUTHORS; do
  ev=(--eval-only --data ${FILES[$text]} --val-fraction 0.05 --eval-windows 100000 --batch 16 -t "$THREADS"
      --cache "$OUT/$text-tokens.bin" --json --quiet)
  echo "{\"text\":\"$text\",\"model\":\"base\",\"r\":$(run train --init "$BASE" "${ev[@]}")}" >> "$evals"
  for a in $AUTHORS; do
    echo "{\"text\":\"$text\",\"model\":\"lora-$a\",\"r\":$(run train --init "$BASE" --lora "$OUT/$a-lora/adapter.gguf" "${ev[@]}")}" >> "$evals"
    echo "{\"text\":\"$text\",\"model\":\"full-$a\",\"r\":$(run train --init "$OUT/$a-full/model.gguf" "${ev[@]}")}" >> "$evals"
  done
done
python3 scripts/personalize_table.py "$OUT" "$BASE"
