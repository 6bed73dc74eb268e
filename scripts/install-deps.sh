#!/usr/bin/env bash
# Installs what llpar needs to build and test: Debian's LLVM packages for the version named in
# LLVM_VERSION (libLLVM, opt/llc/llvm-diff/FileCheck/lit, clang, lld), and valgrind and setarch
# (util-linux) for scripts/quality.py, python3-venv for the REAPI test cluster (scripts/reapi).
# Idempotent: does nothing
# when every package is already present. Needs root (or sudo) only when something is missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
v=$(tr -d '[:space:]' < "$root/LLVM_VERSION")
pkgs=(llvm-$v-dev llvm-$v-tools clang-$v lld-$v libpolly-$v-dev zlib1g-dev libzstd-dev libxml2-dev libffi-dev python3 python3-venv g++ make gdb valgrind util-linux)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# lit ships with llvm-N-tools as a python module; expose it as `lit` next to the other tools.
bin=/usr/lib/llvm-$v/bin
if [ ! -x "$bin/llvm-lit" ] && [ ! -x "$bin/lit" ]; then
  echo "install-deps: no lit in $bin" >&2
fi
"$bin/llvm-config" --version >/dev/null
