#!/usr/bin/env bash
# Installs what is missing, builds, and runs the main job on the embedded default:
# the shipped model (models/flops-a.gguf) and the bundled sample texts.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target flops >/dev/null
MODEL=models/flops-a.gguf
if [ ! -f "$MODEL" ]; then
  MODEL=../shared/data/models/stories260K.gguf
  echo "(models/flops-a.gguf is not in this checkout: using $MODEL)"
fi
set -x
./build/flops info -m "$MODEL"
./build/flops generate -m "$MODEL" -p "It is a truth universally acknowledged" -n 48 --temp 0
./build/flops detect -m "$MODEL" data/detect/human_austen.txt
