#!/usr/bin/env bash
# Installs the Debian packages supportrl builds and tests with, only those that are missing.
# Runs as root on a fresh Debian 12 machine (apt-get update first); a no-op when all are present.
# `setup.sh bench` and `setup.sh golden` also install python3-torch, which only the PyTorch peer benchmark
# and regenerating tests/golden (make_golden.py) need; the tests read the committed golden files.
set -euo pipefail
PACKAGES=(
  build-essential cmake pkg-config
  libtorch-dev
  libsentencepiece-dev
  libyaml-cpp-dev libcli11-dev nlohmann-json3-dev
  libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libopenblas0-openmp
)
if [ "${1:-}" = "bench" ] || [ "${1:-}" = "golden" ]; then PACKAGES+=(python3-torch); fi
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
