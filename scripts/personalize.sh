#!/usr/bin/env bash
# Personalization (issue 17, must-show 2): from one base model, one LoRA adapter per author and
# one full fine-tune per author with the same budget of tokens, then the held-out perplexity of
# every author's text under the base, each adapter and each fine-tune.
#
#   bash scripts/personalize.sh            # writes runs/personalize/{AUTHOR-lora,AUTHOR-full}/, table.md, results.json, loss.png
#   STEPS=20 OUT=/tmp/p bash scripts/personalize.sh   # a quick trial
#   RATIO=16 bash scripts/personalize.sh               # LoRA+: B learns at 16 x the adapter's lr
#   scripts/personalize_sweep.sh                       # learning rates and ratios on one author
#
# The base is the shipped models/flops-a.gguf. The held-out text of an author is the validation
# split `--val-fraction 0.05` cuts from that author's files: the same trailing chapters the base
# model never saw (models/README.md). Every run gets the same budget: STEPS x BATCH x SEQ tokens,
# one thread, niced (the machine is shared); finished runs are kept, so rerunning resumes the set
# (each run's settings are kept beside it, AUTHOR-KIND.settings: a rerun with others fails). The
# full fine-tunes may live in another folder (FULL_OUT; a sweep of adapter settings shares them);
# the table is written when every author has both runs.
set -euo pipefail
cd "$(dirname "$0")/.."
F=${F:-build/flops}
BASE=${BASE:-models/flops-a.gguf}
OUT=${OUT:-runs/personalize}
STEPS=${STEPS:-150}
BATCH=${BATCH:-8}
SEQ=${SEQ:-128}
THREADS=${THREADS:-1}
RANK=${RANK:-8}
ALPHA=${ALPHA:-16}
LORA_LR=${LORA_LR:-3e-3}
RATIO=${RATIO:-1}              # LoRA+: the B matrices learn at RATIO x LORA_LR (flops train --lora-lr-ratio)
TARGETS=${TARGETS:-q,k,v,o,gate,up,down}
FULL_LR=${FULL_LR:-1e-3}
FULL_OUT=${FULL_OUT:-$OUT}     # the full fine-tunes' folder (trained there when missing)
AUTHORS=${AUTHORS:-austen shakespeare bible}
KINDS=${KINDS:-lora full}      # which runs to train when missing: lora, full or both
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
mkdir -p "$OUT" "$FULL_OUT"
budget="steps $STEPS batch $BATCH seq $SEQ micro $MICRO threads $THREADS base $BASE $(sha256sum "$BASE" | cut -c1-12)"
# DIR/NAME is to be (or was) trained with SETTINGS: true when it still has to be trained.
todo() {
  local dir=$1 name=$2 want=$3
  if [ -f "$dir/$name.json" ]; then
    local had; had=$(cat "$dir/$name.settings" 2>/dev/null || echo "unrecorded settings")
    [ "$had" = "$want" ] && return 1
    echo "error: $dir/$name was trained with '$had', not '$want' (use another OUT, or remove it)" >&2; exit 1
  fi
  echo "$want" > "$dir/$name.settings"
}
run() { nice -n "$NICE" "$F" "$@"; }
# Debian's python3 has python3-matplotlib (scripts/setup.sh); a python3 earlier on PATH may not.
PLOT_PY=${PLOT_PY:-$( [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3 )}

for a in $AUTHORS; do
  common=(--init "$BASE" --data ${FILES[$a]} --val-fraction 0.05 --steps "$STEPS" --batch "$BATCH" --seq-len "$SEQ" --micro-batch "$MICRO"
          --warmup 10 --eval-every 50 --eval-windows 32 --checkpoint-every 0 --seed 1 -t "$THREADS"
          --cache "$OUT/$a-tokens.bin" --json --quiet)
  if [[ " $KINDS " == *" lora "* ]] && todo "$OUT" "$a-lora" "rank $RANK alpha $ALPHA lr $LORA_LR ratio $RATIO targets $TARGETS; $budget"; then
    run train "${common[@]}" --lora-rank "$RANK" --lora-alpha "$ALPHA" --lora-lr-ratio "$RATIO" --lora-targets "$TARGETS" \
      --lr "$LORA_LR" --min-lr "$(python3 -c "print($LORA_LR/10)")" --name "flops-a-$a" -o "$OUT/$a-lora" > "$OUT/$a-lora.json.tmp"
    mv "$OUT/$a-lora.json.tmp" "$OUT/$a-lora.json"
  fi
  if [[ " $KINDS " == *" full "* ]] && todo "$FULL_OUT" "$a-full" "lr $FULL_LR; $budget"; then
    run train "${common[@]}" --lr "$FULL_LR" --min-lr "$(python3 -c "print($FULL_LR/10)")" \
      --name "flops-a-$a-full" -o "$FULL_OUT/$a-full" > "$FULL_OUT/$a-full.json.tmp"
    mv "$FULL_OUT/$a-full.json.tmp" "$FULL_OUT/$a-full.json"
  fi
done

# Held-out perplexity of each author's validation split under the base, its adapter and its
# fine-tune (with CROSS=1, under every author's models), those that exist.
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
    [ -f "$OUT/$a-lora.json" ] && score "$text" "lora-$a" --init "$BASE" --lora "$OUT/$a-lora/adapter.gguf"
    [ -f "$FULL_OUT/$a-full.json" ] && score "$text" "full-$a" --init "$FULL_OUT/$a-full/model.gguf"
  done
done
for a in $AUTHORS; do [ -f "$OUT/$a-lora.json" ] && [ -f "$FULL_OUT/$a-full.json" ] || exit 0; done  # no table yet
AUTHORS="$AUTHORS" python3 scripts/personalize_table.py "$OUT" "$BASE" "$FULL_OUT"
"$PLOT_PY" scripts/plot_loss.py -o "$OUT/loss.png" --title "LoRA adapters vs full fine-tunes from flops-a ($STEPS x $BATCH x $SEQ tokens)" \
  $(for a in $AUTHORS; do echo "$a-lora=$OUT/$a-lora/log.jsonl $a-full=$FULL_OUT/$a-full/log.jsonl"; done)
# The adapters, table, results and plot beside the shipped models (PUBLISH= to skip):
# `flops serve --lora-dir models/adapters` then serves flops-a:austen, :shakespeare, :bible.
PUBLISH=${PUBLISH-models/adapters}
if [ -n "$PUBLISH" ]; then
  mkdir -p "$PUBLISH"
  for a in $AUTHORS; do cp "$OUT/$a-lora/adapter.gguf" "$PUBLISH/$a.gguf"; cp "$OUT/$a-lora/log.jsonl" "$PUBLISH/$a-lora-log.jsonl"; cp "$FULL_OUT/$a-full/log.jsonl" "$PUBLISH/$a-full-log.jsonl"; done
  cp "$OUT/table.md" "$OUT/results.json" "$OUT/loss.png" "$PUBLISH/"
fi
