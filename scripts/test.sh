#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite (unit tests and the 60 s fuzz run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)"
rc=0
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@" || rc=$?
# A fuzzer failure's verdict and input, last, where a shortened log still shows them.
if [ "$rc" -ne 0 ] && [ -f build/fuzz-clang/FAILED.txt ]; then cat build/fuzz-clang/FAILED.txt; fi
exit "$rc"
