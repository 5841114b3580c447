#!/usr/bin/env bash
# KL-divergence of flops quantize vs llama-quantize, measured with llama-perplexity exactly as
# ../shared/data/llama-reference/table.md was (SOURCE.md there): the F32 reference model is the
# base, -c 128 on tinyshakespeare_first20000.txt, 2 threads. For each type, flops quantizes
# llama.f32.gguf and both flops's file and llama-quantize's shipped file are measured in the same
# run of this script, on this machine (so both numbers carry the same build and CPU effects).
# Usage: scripts/quant_kld.sh [work_dir=/tmp/flops-kld] [types...]
# Prints a Markdown table; the raw logs stay in work_dir.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/flops-kld}
shift || true
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 IQ4_NL IQ4_XS Q3_K_L Q3_K_M Q3_K_S Q2_K)
ref=$root/../shared/data/llama-reference
bin=$root/../shared/reference/llama.cpp/bin
flops=${FLOPS_BIN:-$root/build/flops}
text=$ref/tinyshakespeare_first20000.txt
mkdir -p "$work"
export OMP_WAIT_POLICY=passive
# llama-perplexity loads its CPU backends from its own directory or the current one.
ppl() { (cd "$bin" && ./llama-perplexity -f "$text" -c 128 -t 2 "$@"); }
[ -f "$work/llama.f32.kld" ] || ppl -m "$ref/llama.f32.gguf" --kl-divergence-base "$work/llama.f32.kld" >"$work/base.log" 2>&1
kld() { grep -m1 '^Mean    KLD:' "$1" | awk '{print $3}'; }
top() { grep -m1 '^Same top p:' "$1" | awk '{print $4}'; }
# Bits per weight: tensor bytes over tensor elements (metadata not counted), as flops info says.
bpw() { "$flops" info "$1" --json | python3 -c 'import json,sys; j=json.load(sys.stdin)["tensor_types"]; print("%.3f" % (8 * sum(v["bytes"] for v in j.values()) / sum(v["elements"] for v in j.values())))'; }
echo "| type | flops bytes | llama.cpp bytes | flops bpw | llama.cpp bpw | mean KLD flops | mean KLD llama.cpp | same top-1 % flops | same top-1 % llama.cpp |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in "${types[@]}"; do
  lower=$(echo "$t" | tr 'A-Z' 'a-z')
  mine=$work/flops.$lower.gguf
  "$flops" quantize "$ref/llama.f32.gguf" "$mine" "$t" --quiet >"$work/quantize.$lower.log"
  ppl -m "$mine" --kl-divergence-base "$work/llama.f32.kld" --kl-divergence >"$work/flops.$lower.log" 2>&1
  theirs=$ref/llama.$lower.gguf
  # Types the reference set lacks (Q3_K_L) are made here, as SOURCE.md made the others.
  if [ ! -f "$theirs" ]; then
    theirs=$work/llama.$lower.gguf
    (cd "$bin" && ./llama-quantize "$ref/llama.f32.gguf" "$theirs" "$t" 2) >"$work/llama-quantize.$lower.log" 2>&1
  fi
  ppl -m "$theirs" --kl-divergence-base "$work/llama.f32.kld" --kl-divergence >"$work/llama.$lower.log" 2>&1
  a=$(stat -c %s "$mine"); b=$(stat -c %s "$theirs")
  echo "| $t | $a | $b | $(bpw "$mine") | $(bpw "$theirs") | $(kld "$work/flops.$lower.log") | $(kld "$work/llama.$lower.log") | $(top "$work/flops.$lower.log") | $(top "$work/llama.$lower.log") |"
done
