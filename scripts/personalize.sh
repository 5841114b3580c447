#!/usr/bin/env bash
# Personalization (issue 17, must-show 2): from one base model, one LoRA adapter per author and
# one full fine-tune per author with the same budget of tokens, then the held-out perplexity of
# every author's text under the base, each adapter and each fine-tune.
#
#   bash scripts/personalize.sh            # writes runs/personalize/{AUTHOR-lora,AUTHOR-full}/, table.md, results.json, loss.png
#   STEPS=20 OUT=/tmp/p bash scripts/personalize.sh   # a quick trial
#
# The base is the shipped models/flops-a.gguf. The held-out text of an author is the validation
# split `--val-fraction 0.05` cuts from that author's files: the same trailing chapters the base
# model never saw (models/README.md). Every run gets the same budget: STEPS x BATCH x SEQ tokens,
# one thread, niced (the machine is shared); finished runs are kept, so rerunning resumes the set.
set -euo pipefail
cd "$(dirname "$0")/.."
F=${F:-build/flops}
BASE=${BASE:-models/flops-a.gguf}
OUT=${OUT:-runs/personalize}
STEPS=${STEPS:-300}
BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
THREADS=${THREADS:-1}
RANK=${RANK:-8}
ALPHA=${ALPHA:-16}
LORA_LR=${LORA_LR:-3e-3}
FULL_LR=${FULL_LR:-1e-3}
MICRO=${MICRO:-2}
NICE=${NICE:-10}
EVAL_WINDOWS=${EVAL_WINDOWS:-100}  # held-out windows of 256 tokens scored per text (100000: all)
CROSS=${CROSS:-0}              # 1: also every author's text under every other author's models
D=../shared/data
declare -A FILES=(
  [austen]="$D/jane-austen/emma.txt $D/jane-austen/mansfieldpark.txt $D/jane-austen/northangerabbey.txt $D/jane-austen/persuasion.txt $D/jane-austen/prideprejudice.txt $D/jane-austen/sensesensibility.txt"
  [shakespeare]="$D/tinyshakespeare/input.txt"
  [bible]="$D/public-domain-prose/kjv_bible.tsv"
)
AUTHORS="austen shakespeare bible"
mkdir -p "$OUT"
run() { nice -n "$NICE" "$F" "$@"; }
# Debian's python3 has python3-matplotlib (scripts/setup.sh); a python3 earlier on PATH may not.
PLOT_PY=${PLOT_PY:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3 )}

for a in $AUTHORS; do
  common=(--init "$BASE" --data ${FILES[$a]} --val-fraction 0.05 --steps "$STEPS" --batch "$BATCH" --seq-len "$SEQ" --micro-batch "$MICRO"
          --warmup 10 --eval-every 50 --eval-windows 32 --checkpoint-every 0 --seed 1 -t "$THREADS"
          --cache "$OUT/$a-tokens.bin" --json --quiet)
  if [ ! -f "$OUT/$a-lora.json" ]; then
    run train "${common[@]}" --lora-rank "$RANK" --lora-alpha "$ALPHA" --lr "$LORA_LR" --min-lr "$(python3 -c "print($LORA_LR/10)")" \
      --name "flops-a-$a" -o "$OUT/$a-lora" > "$OUT/$a-lora.json.tmp"
    mv "$OUT/$a-lora.json.tmp" "$OUT/$a-lora.json"
  fi
  if [ ! -f "$OUT/$a-full.json" ]; then
    run train "${common[@]}" --lr "$FULL_LR" --min-lr "$(python3 -c "print($FULL_LR/10)")" \
      --name "flops-a-$a-full" -o "$OUT/$a-full" > "$OUT/$a-full.json.tmp"
    mv "$OUT/$a-full.json.tmp" "$OUT/$a-full.json"
  fi
done

# Held-out perplexity of each author's validation split under the base, its adapter and its
# fine-tune (with CROSS=1, under every author's models).
evals="$OUT/evals.jsonl"
touch "$evals"
score() {  # TEXT MODEL-NAME ARGS...: one line of evals.jsonl, unless it is there already
  local text=$1 name=$2; shift 2
  grep -q "\"text\":\"$text\",\"model\":\"$name\"" "$evals" && return
  local r
  r=$(run train "$@" --eval-only --data ${FILES[$text]} --val-fraction 0.05 --eval-windows "$EVAL_WINDOWS" --batch 16 \
      -t "$THREADS" --cache "$OUT/$text-tokens.bin" --json --quiet)
  echo "{\"text\":\"$text\",\"model\":\"$name\",\"r\":$r}" >> "$evals"
}
for text in $AUTHORS; do
  score "$text" base --init "$BASE"
  for a in $AUTHORS; do
    [ "$a" = "$text" ] || [ "$CROSS" = 1 ] || continue
    score "$text" "lora-$a" --init "$BASE" --lora "$OUT/$a-lora/adapter.gguf"
    score "$text" "full-$a" --init "$OUT/$a-full/model.gguf"
  done
done
python3 scripts/personalize_table.py "$OUT" "$BASE"
"$PLOT_PY" scripts/plot_loss.py -o "$OUT/loss.png" --title "LoRA adapters vs full fine-tunes from flops-a ($STEPS x $BATCH x $SEQ tokens)" \
  $(for a in $AUTHORS; do echo "$a-lora=$OUT/$a-lora/log.jsonl $a-full=$OUT/$a-full/log.jsonl"; done)
# The adapters, table, results and plot beside the shipped models (PUBLISH= to skip):
# `flops serve --lora-dir models/adapters` then serves flops-a:austen, :shakespeare, :bible.
PUBLISH=${PUBLISH-models/adapters}
if [ -n "$PUBLISH" ]; then
  mkdir -p "$PUBLISH"
  for a in $AUTHORS; do cp "$OUT/$a-lora/adapter.gguf" "$PUBLISH/$a.gguf"; cp "$OUT/$a-lora/log.jsonl" "$PUBLISH/$a-lora-log.jsonl"; cp "$OUT/$a-full/log.jsonl" "$PUBLISH/$a-full-log.jsonl"; done
  cp "$OUT/table.md" "$OUT/results.json" "$OUT/loss.png" "$PUBLISH/"
fi
