#!/usr/bin/env bash
# The main job on the default input: installs LLVM if needed, builds llpar and sqlite3's bitcode
# (from the sqlite3.c that the libsqlite3-sys crate ships), then optimizes it serially with
# `opt` and in parallel with `llpar`, and prints both, side by side, with a check that the
# results match.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
scripts/install-deps.sh
cargo build --release -q
scripts/build-corpus.sh
v=$(tr -d '[:space:]' < LLVM_VERSION)
bin=/usr/lib/llvm-$v/bin
input=target/corpus/sqlite3.bc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
heavy=$(scripts/pipelines.py heavy)
jobs=$(nproc)
echo "== input: $input ($(wc -c < "$input") bytes), $jobs cores"
echo "== pipeline: the function passes of default<O2> without the inliner (scripts/pipelines.py heavy)"
echo "== serial: opt -passes=PIPELINE; parallel: llpar -j$jobs --passes=PIPELINE --stats"
"$bin/opt" -passes="$heavy" "$input" -o "$out/serial.bc"
target/release/llpar -j"$jobs" --passes="$heavy" "$input" -o "$out/llpar.bc" --stats
echo "== timings, side by side (medians of 3 runs)"
scripts/bench.py --runs 3 --modules sqlite3 --pipelines heavy --jobs "1,$jobs"
if "$bin/llvm-diff" "$out/serial.bc" "$out/llpar.bc" 2>/dev/null; then
  echo "== llvm-diff: no difference from opt's output"
else
  echo "== llvm-diff: $("$bin/llvm-diff" "$out/serial.bc" "$out/llpar.bc" 2>&1 | grep -c '^in function') of $("$bin/llvm-nm" --defined-only "$input" | grep -c ' [tT] ') functions differ from opt's output"
fi

echo "== -O2 to an object file: serial 'opt -O2 | llc -O2 -relocation-model=pic' against 'llpar -O2 --emit=obj -j$jobs'"
python3 - "$bin" "$input" "$out" "$jobs" <<'PY'
import subprocess, sys, time
bin, src, out, jobs = sys.argv[1:]
def timed(cmd):
    t = time.perf_counter(); subprocess.run(cmd, shell=True, check=True); return time.perf_counter() - t
serial = timed(f"{bin}/opt -O2 {src} | {bin}/llc -O2 -relocation-model=pic -filetype=obj -o {out}/serial.o")
parallel = timed(f"target/release/llpar -O2 --emit=obj -j{jobs} {src} -o {out}/llpar.o")
def text(o):
    lines = subprocess.run([f"{bin}/llvm-size", "-A", o], capture_output=True, text=True).stdout.splitlines()
    return sum(int(l.split()[1]) for l in lines if l.startswith(".text"))
print(f"== serial {serial:.2f} s, llpar {parallel:.2f} s: {serial / parallel:.2f}x; "
      f".text {text(out + '/llpar.o') / text(out + '/serial.o'):.3f} of the serial object's "
      "(scripts/quality.py runs the programs too)")
PY
