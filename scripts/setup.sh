#!/usr/bin/env bash
# Installs the Debian packages flops needs. Idempotent: installs only what is missing.
set -euo pipefail
PKGS=(build-essential cmake pkg-config libopenblas-openmp-dev libomp-dev nlohmann-json3-dev
      libcli11-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev libicu-dev
      openmpi-bin libopenmpi-dev clang-14 libclang-rt-14-dev
      libyaml-cpp-dev libsqlite3-dev libstemmer-dev libhnswlib-dev libcpp-httplib-dev tmux)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
