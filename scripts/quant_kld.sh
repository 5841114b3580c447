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
[ ${#types[@]} -gt 0 ] || types=(Q8_0 Q6_K Q5_K_M Q5_K_S Q5_1 Q5_0 Q4_K_M Q4_K_S Q4_1 Q4_0 IQ4_NL IQ4_XS Q3_K_M Q3_K_S Q2_K)
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
echo "| type | flops size (bytes) | llama size (bytes) | mean KLD flops | mean KLD llama-quantize | same top-1 % flops | same top-1 % llama |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for t in "${types[@]}"; do
  lower=$(echo "$t" | tr 'A-Z' 'a-z')
  mine=$work/flops.$lower.gguf
  "$flops" quantize "$ref/llama.f32.gguf" "$mine" "$t" --quiet >"$work/quantize.$lower.log"
  ppl -m "$mine" --kl-divergence-base "$work/llama.f32.kld" --kl-divergence >"$work/flops.$lower.log" 2>&1
  ppl -m "$ref/llama.$lower.gguf" --kl-divergence-base "$work/llama.f32.kld" --kl-divergence >"$work/llama.$lower.log" 2>&1
  echo "| $t | $(stat -c %s "$mine") | $(stat -c %s "$ref/llama.$lower.gguf") | $(kld "$work/flops.$lower.log") | $(kld "$work/llama.$lower.log") | $(top "$work/flops.$lower.log") | $(top "$work/llama.$lower.log") |"
done
