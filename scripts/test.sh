#!/usr/bin/env bash
# Runs llpar's whole test suite: installs LLVM if needed, builds the real-world corpus (sqlite3,
# a rustc-emitted crate), then unit tests, lit fixtures and corpus checks through `cargo test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
scripts/build-corpus.sh
cargo test --release --no-fail-fast
