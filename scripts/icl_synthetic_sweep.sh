#!/usr/bin/env bash
# Accuracy and cost against the number of demonstrations N on the synthetic task:
# conventional prompting (capped by the 256-token window) against structured prompting
# (groups of <= 256 tokens, test scale = number of groups). Needs a model trained on
# `icl_synthetic.py train` text (see README / scripts/icl_synthetic_model.json).
#   scripts/icl_synthetic_sweep.sh MODEL.gguf OUTDIR [TASKS] [NS]
# Writes OUTDIR/results.jsonl, OUTDIR/icl_sweep.md and the SVG plots.
# LONG_CONTEXT=1 adds a third method, "one context": every demonstration in a single context
# of 4N+64 tokens (-c), to measure what the N^2 alternative costs. Its positions run far past
# the 256 the model was trained on, so only its cost columns mean something.
set -euo pipefail
model=$1
out=$2
tasks=${3:-10}
ns=${4:-"16 32 64 128 256 512 1024 2048 4096"}
template='{text} {label}\n'  # ICL_TEMPLATE overrides it (must match the training text)
if [ -n "${ICL_TEMPLATE:-}" ]; then template=$ICL_TEMPLATE; fi
here=$(cd "$(dirname "$0")" && pwd)
flops=${FLOPS:-$here/../build/flops}
mkdir -p "$out"
# ICL_NOISE / ICL_WORDS make harder or easier task variants (the ideal learner in the report follows).
variant=()
if [ -n "${ICL_NOISE:-}" ]; then variant+=(--noise "$ICL_NOISE"); fi
if [ -n "${ICL_WORDS:-}" ]; then variant+=(--words "$ICL_WORDS"); fi
python3 "$here/icl_synthetic.py" eval --out "$out/tasks" --tasks "$tasks" --demos 4096 --seed 1000 "${variant[@]}"
: > "$out/results.jsonl"
methods="conventional structured"
if [ "${LONG_CONTEXT:-0}" = 1 ]; then methods="$methods one-context"; fi
for dir in "$out"/tasks/task_*; do
  for n in $ns; do
    for method in $methods; do
      args=(--method "$method")
      if [ "$method" = one-context ]; then args=(--method conventional -c $((4 * n + 64))); fi
      "$flops" icl -m "$model" --demos "$dir/demos.jsonl" --test "$dir/test.jsonl" \
        --template "$template" --labels red,blue,gold,gray --prefix '\n' \
        --n-demos "$n" "${args[@]}" --seed "$n" --json --quiet ${FLOPS_ICL_ARGS:-} |
        python3 -c 'import json,sys; r=json.load(sys.stdin); r["n"]=int(sys.argv[1]); r["task"]=sys.argv[2]; r["method"]=sys.argv[3]; print(json.dumps(r))' "$n" "$(basename "$dir")" "$method" \
        >> "$out/results.jsonl"
    done
    echo "$(basename "$dir") N=$n done" >&2
  done
done
python3 "$here/icl_synthetic.py" report --results "$out/results.jsonl" --out "$out" "${variant[@]}"
