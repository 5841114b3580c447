#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the embedded default model and sample text.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target flops >/dev/null
MODEL=models/flops-a.gguf
if [ ! -f "$MODEL" ]; then
  MODEL=../shared/data/models/stories260K.gguf
fi
./build/flops info -m "$MODEL"
./build/flops generate -m "$MODEL" -p "Once upon a time" -n 64 --temp 0
