#!/usr/bin/env bash
# Builds the GGUF fuzzer (clang-14, libFuzzer + ASan + UBSan) and runs it.
# Usage: scripts/fuzz.sh [seconds=60] [build_dir=build-fuzz/fuzz]
#   seconds=0 only builds. Exits non-zero when the fuzzer finds a crash, a
#   sanitizer report, a leak, a timeout or an out-of-memory input; the input
#   that triggered it is saved under <build_dir>/artifacts/.
# New interesting inputs go to <build_dir>/corpus, never into fuzz/corpus
# (the committed seeds), so runs do not dirty the tree. On failure the verdict and the input
# (base64) go to <build_dir>/FAILED.txt as well.
set -euo pipefail
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${2:-$root/build-fuzz/fuzz}
cxx=${FLOPS_FUZZ_CXX:-clang++-14}

command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
cmake -S "$root/fuzz" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j2 --target fuzz_gguf
[ "$secs" -gt 0 ] || exit 0

mkdir -p "$build/corpus" "$build/artifacts"
rm -f "$build/FAILED.txt" "$build"/artifacts/*
# A fixed seed (FLOPS_FUZZ_SEED, default 1) makes a run reproducible: an input that fails on
# one machine is found again on another by running as long with the same seed.
seed=${FLOPS_FUZZ_SEED:-1}
log="$build/last_run.log"
# -timeout: one input taking 10 s is a hang; -rss_limit_mb / -malloc_limit_mb: an
# input that makes the parser allocate ~1 GB is an allocation bomb.
set +e
"$build/fuzz_gguf" -seed="$seed" \
  -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=4096 \
  -dict="$root/fuzz/gguf.dict" -artifact_prefix="$build/artifacts/" -print_final_stats=1 \
  "$build/corpus" "$root/fuzz/corpus" >"$log" 2>&1
rc=$?
set -e
tail -n 12 "$log"
[ "$rc" -eq 0 ] && exit 0
# The failure in a few lines that survive a shortened CI log (scripts/test.sh prints this file
# last): the sanitizer's or libFuzzer's own verdict, and the input as base64 (at most 4 KB).
{
  echo "fuzz_gguf failed (exit $rc, seed $seed, ${secs} s):"
  grep -m3 -E '^(==[0-9]+==ERROR|SUMMARY|ERROR: libFuzzer|.*runtime error|bad error message)' "$log" || tail -n 3 "$log"
  for a in "$build"/artifacts/*; do
    [ -f "$a" ] || continue
    echo "input $(basename "$a") ($(stat -c %s "$a") bytes, base64): $(base64 -w0 "$a")"
  done
} | tee "$build/FAILED.txt" >&2
exit "$rc"
