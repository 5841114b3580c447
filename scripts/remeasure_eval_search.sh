#!/usr/bin/env bash
# Re-measures every figure of src/harness/README.md, src/search/README.md and README.md's
# search, in-context-learning and evaluation sections that rests on the shipped models
# (models/flops-a.gguf, models/flops-b.gguf), so that the next retraining can redo them.
# It writes only under OUT; scripts/remeasure_tables.py OUT prints the tables for the docs.
#
#   scripts/remeasure_eval_search.sh [OUT] [PART...]     PART: harness backends icl search ask (default all)
#   DRY=1 scripts/remeasure_eval_search.sh /tmp/dry     # tiny limits: checks the commands in a minute
#
# Every command runs under `nice -n 5` with one thread, one at a time (the machine is shared);
# OUT/times.tsv records each command's wall, user and system seconds.
# CPU (user) seconds on the 2-core EPYC, one thread, measured 2026-12-01 on the retrained models
# while the machine was loaded (load average 7-10; wall time was 3-8x the CPU time):
#   harness 118 (flops-a 85, flops-b 33), backends 1, icl 54, search 340 (indexes: flops-a 88,
#   flops-b 29, contrastive 29; search-eval 40 each; contrastive training 74), ask 0.2.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-$(mktemp -d /tmp/remeasure.XXXXXX)}
shift || true
PARTS=${*:-harness backends icl search ask}
FLOPS=${FLOPS:-$PWD/build/flops}
MODELS=${MODELS:-models/flops-a.gguf models/flops-b.gguf}
SHARED=${SHARED:-../shared/data}
LLAMA_SERVER=${LLAMA_SERVER:-../shared/reference/llama.cpp/bin/llama-server}
DRY=${DRY:-0}
mkdir -p "$OUT"
[ -x "$FLOPS" ] || { echo "error: $FLOPS is not built" >&2; exit 1; }
for m in $MODELS; do [ -f "$m" ] || { echo "error: model $m is missing" >&2; exit 1; }; done
model_a=$(echo $MODELS | awk '{print $1}')
model_b=$(echo $MODELS | awk '{print $2}')
echo "out: $OUT; models: $MODELS; dry: $DRY"
{ date -u +%FT%TZ; git rev-parse HEAD; sha256sum $MODELS; uptime; } > "$OUT/provenance.txt"

# run NAME CMD...: stdout to OUT/NAME.out, stderr to OUT/NAME.err, times to OUT/times.tsv.
# A command whose OUT/NAME.time exists already ran: it is skipped (FORCE=1 runs it again), so an
# interrupted run continues where it stopped.
run() {
  local name=$1; shift
  if [ -f "$OUT/$name.time" ] && [ "${FORCE:-0}" != 1 ]; then
    echo "[$(date -u +%T)] $name: done before, skipped" >&2
    grep -q "^$name	" "$OUT/times.tsv" 2>/dev/null || cat "$OUT/$name.time" >> "$OUT/times.tsv"
    return 0
  fi
  echo "[$(date -u +%T)] $name" >&2
  nice -n 5 /usr/bin/time -o "$OUT/$name.time.tmp" -f "$name	%e	%U	%S" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" \
    || { echo "error: $name failed, see $OUT/$name.err" >&2; tail -3 "$OUT/$name.err" >&2; exit 1; }
  mv "$OUT/$name.time.tmp" "$OUT/$name.time"
  cat "$OUT/$name.time" >> "$OUT/times.tsv"
}

# Servers started by `backends`, stopped by their process ids when it ends or the script exits.
SERVERS=()
stop_servers() { for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null || true; done; SERVERS=(); }
trap stop_servers EXIT

limit() { if [ "$DRY" = 1 ]; then echo "--limit 2"; else echo "$1"; fi; }

# src/harness/README.md Result 3: the built-in and home-made tasks (results/<model>-*.json).
harness() {
  mkdir -p "$OUT/harness"
  for m in $MODELS; do
    local n; n=$(basename "$m" .gguf); local R=$OUT/harness
    run "eval-$n-mc" "$FLOPS" eval -m "$m" -t 1 --tasks mmlu,agieval $(limit "--limit 20") -o "$R/$n-mc.json"
    run "eval-$n-causal" "$FLOPS" eval -m "$m" -t 1 --tasks causality_tuebingen_yesno,causality_tuebingen_ll,crass_mc \
      $(limit "") -o "$R/$n-causal.json"
    run "eval-$n-gen" "$FLOPS" eval -m "$m" -t 1 \
      --tasks causality_tuebingen_ab,causality_neuropathic,causality_arctic,crass $(limit "--limit 20") -o "$R/$n-gen.json" \
      --log-samples "$R/$n-gen.samples.jsonl"
    run "eval-$n-examples" "$FLOPS" eval -m "$m" -t 1 --tasks chemistry_exam,medical_boards,famous_lines $(limit "") \
      -o "$R/$n-examples.json" --log-samples "$R/$n-examples.samples.jsonl"
    # What the yes/no protocol's answers look like (the README quotes them).
    run "eval-$n-yesno-samples" "$FLOPS" eval -m "$m" -t 1 --tasks causality_tuebingen_yesno --limit 6 \
      --log-samples "$R/$n-yesno.samples.jsonl"
  done
  # The plot: the unchanged flops-icl and stories260K runs from the repo next to the new ones.
  local runs=()
  for n in flops-a flops-b flops-icl stories260K; do
    local d=$OUT/harness
    [ -f "$d/$n-mc.json" ] || d=src/harness/results
    runs+=("$d/$n-mc.json+$d/$n-causal.json+$d/$n-gen.json+$d/$n-examples.json")
  done
  run eval-report "$FLOPS" eval-report "${runs[@]}" \
    --tasks mmlu agieval causality_tuebingen_ll crass_mc causality_tuebingen_yesno causality_tuebingen_ab chemistry_exam \
    medical_boards famous_lines \
    --title "built-in tasks on the shipped models and stories260K (MMLU, AGIEval, A/B: --limit 20)" -o "$OUT/harness/models.svg"
}

# src/harness/README.md Result 2: -m and flops serve agree on the home-made exams; -m, flops serve
# and llama-server give the same greedy lines (tests/test_harness_servers.cpp asserts it; this
# records the largest log-likelihood difference).
backends() {
  local R=$OUT/backends; mkdir -p "$R"
  local port=$((20000 + RANDOM % 20000)) lport=$((40000 + RANDOM % 20000))
  nice -n 5 "$FLOPS" serve -m "$model_a" --port $port -t 1 --quiet > "$R/serve.log" 2>&1 &
  SERVERS+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" > /dev/null && break; sleep 0.2; done
  for task in chemistry_exam medical_boards famous_lines; do
    local extra=""; [ $task = famous_lines ] && extra="--api-completions"
    run "backends-$task-local" "$FLOPS" eval -m "$model_a" -t 1 --tasks tasks/examples/$task.yaml --json \
      --log-samples "$R/$task-local.jsonl"
    run "backends-$task-serve" "$FLOPS" eval --api-base "http://127.0.0.1:$port/v1" --api-model flops-a \
      --tasks tasks/examples/$task.yaml $extra --json --log-samples "$R/$task-serve.jsonl"
  done
  if [ -x "$LLAMA_SERVER" ]; then
    nice -n 5 "$LLAMA_SERVER" -m "$model_a" -c 512 -t 1 --host 127.0.0.1 --port $lport > "$R/llama-server.log" 2>&1 &
    SERVERS+=($!)
    for _ in $(seq 150); do curl -sf "http://127.0.0.1:$lport/health" > /dev/null && break; sleep 0.2; done
    run backends-famous_lines-llama "$FLOPS" eval --api-base "http://127.0.0.1:$lport/v1" --api-model flops-a \
      --tasks tasks/examples/famous_lines.yaml --api-completions --json --log-samples "$R/famous_lines-llama.jsonl"
  fi
  stop_servers
}

# README.md, "Structured prompting": SST-2 and TREC with model A, both methods.
icl() {
  local D=$SHARED/icl-classification n=200
  [ "$DRY" = 1 ] && n=10
  for method in conventional structured; do
    run "icl-sst2-$method" "$FLOPS" icl -m "$model_a" -t 1 --demos $D/sst2/stsa.binary.train --test $D/sst2/stsa.binary.dev \
      --template 'Review: {text}\nSentiment: {label}\n\n' --labels negative,positive --n-demos 64 --n-test $n \
      --method $method --json
    run "icl-trec-$method" "$FLOPS" icl -m "$model_a" -t 1 --demos $D/trec/train.txt --test $D/trec/test.txt \
      --template 'Question: {text}\nType: {label}\n\n' --labels abbreviation,description,entity,person,location,number \
      --n-demos 128 --n-test $n --method $method --json
  done
}

# src/search/README.md "Cranfield" and README.md's search table: the dense rows of both models,
# flops-b after contrastive training on the corpus's title/abstract pairs, and the hybrids on it.
search() {
  local C=$SHARED/cranfield-ir S=$OUT/search steps=150
  mkdir -p "$S"
  local docs=$C/cran.all.1400
  if [ "$DRY" = 1 ]; then awk '/^\.I /{n++} n<=60' $docs > "$S/cran60"; docs=$S/cran60; steps=4; fi
  local q="--queries $C/cran.qry --qrels $C/cranqrel --tune -t 1 --json"
  for m in $MODELS; do
    local n; n=$(basename "$m" .gguf)
    [ -f "$OUT/index-$n.time" ] || rm -f "$S/cran-$n.idx"
    run "index-$n" "$FLOPS" index --format smart $docs -o "$S/cran-$n.idx" -m "$m" -t 1 --json
    run "search-eval-$n" "$FLOPS" search-eval "$S/cran-$n.idx" $q
  done
  python3 scripts/cranfield_pairs.py $C/cran.all.1400 > "$S/cran-pairs.jsonl"
  [ -f "$OUT/train-embed-cran-b.time" ] || rm -rf "$S/embed-cran-b"
  run train-embed-cran-b "$FLOPS" train --objective contrastive --init "$model_b" --pair-file "$S/cran-pairs.jsonl" \
    --steps $steps --batch 32 --lr 3e-4 --warmup 10 --out "$S/embed-cran-b" -t 1 --json
  [ -f "$OUT/index-embed-cran-b.time" ] || rm -f "$S/cran-cb.idx"
  run index-embed-cran-b "$FLOPS" index --format smart $docs -o "$S/cran-cb.idx" -m "$S/embed-cran-b/model.gguf" -t 1 --json
  run search-eval-embed-cran-b "$FLOPS" search-eval "$S/cran-cb.idx" $q
}

# src/search/README.md, "flops ask": the example over the repo's READMEs with model A.
ask() {
  local S=$OUT/ask; mkdir -p "$S"
  [ -f "$OUT/ask-index.time" ] || rm -f "$S/docs.idx"
  run ask-index "$FLOPS" index README.md models/README.md src/search/README.md -o "$S/docs.idx" \
    --chunk-tokens 60 --chunk-overlap 10
  run ask "$FLOPS" ask "$S/docs.idx" "How were the shipped models trained?" -m "$model_a" -n 48 -t 1
}

for p in $PARTS; do $p; done
echo "done: $OUT (tables: python3 scripts/remeasure_tables.py $OUT)"
