#!/usr/bin/env bash
# Installs the Debian packages flops needs. Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libopenblas-openmp-dev libomp-dev nlohmann-json3-dev
      libcli11-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libicu-dev
      openmpi-bin libopenmpi-dev clang-14 libclang-rt-14-dev
      libyaml-cpp-dev libsqlite3-dev libstemmer-dev libhnswlib-dev libcpp-httplib-dev tmux
      chromium python3-matplotlib)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
else
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# The server's client tests (tests/js): the openai package and playwright-core, pinned by
# package-lock.json. Playwright drives Debian's chromium (never `npx playwright install`).
JS_DIR="$(cd "$(dirname "$0")/.." && pwd)/tests/js"
if command -v npm >/dev/null && [ -f "$JS_DIR/package-lock.json" ] && [ ! -d "$JS_DIR/node_modules/openai" ]; then
  echo "setup: npm ci in tests/js"
  (cd "$JS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
fi
