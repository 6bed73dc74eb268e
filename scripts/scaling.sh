#!/usr/bin/env bash
# Scaling of `llpar -O2 --emit=obj` with the worker count, against the serial reference
# (`opt -O2 | llc -O2 -relocation-model=pic`) measured in the same run, for both places the
# inliner's walk can run (`--inliner=serial` and `--inliner=parallel`). One line per run:
#   MODULE MODE JOBS seconds speedup-over-serial text-bytes text-ratio
# and, for the largest JOBS, llpar's --stats in OUT/stats-MODULE-MODE.txt.
#
# usage: scripts/scaling.sh OUT MODULE.bc...
#   env: LLPAR (default target/release/llpar), LLVM_BIN (default /usr/lib/llvm-$(cat LLVM_VERSION)/bin),
#        JOBS (default "1 2 4 8 16"), MODES (default "serial parallel")
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
mkdir -p "$out"
llpar=${LLPAR:-$root/target/release/llpar}
bin=${LLVM_BIN:-/usr/lib/llvm-$(cat "$root/LLVM_VERSION")/bin}
jobs=${JOBS:-1 2 4 8 16}
modes=${MODES:-serial parallel}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
text() { "$bin/llvm-size" -A "$1" | awk '$1 == ".text" { print $2 }'; }
last=${jobs##* }
for module in "$@"; do
  name=$(basename "$module" .bc)
  start=$(now)
  "$bin/opt" -O2 "$module" | "$bin/llc" -O2 -relocation-model=pic -filetype=obj -o "$tmp/serial.o" || {
    echo "$name serial failed"; continue; }
  serial=$(calc "$(now) - $start")
  serial_text=$(text "$tmp/serial.o")
  echo "$name reference 1 $serial 1.00 $serial_text 1.000" | tee -a "$out/results.txt"
  for mode in $modes; do
    for j in $jobs; do
      stats=/dev/null
      [ "$j" = "$last" ] && stats="$out/stats-$name-$mode.txt"
      start=$(now)
      if ! "$llpar" "$module" -O2 --emit=obj "-j$j" "--inliner=$mode" --stats -o "$tmp/llpar.o" 2>"$stats"; then
        echo "$name $mode $j failed" | tee -a "$out/results.txt"
        continue
      fi
      took=$(calc "$(now) - $start")
      size=$(text "$tmp/llpar.o")
      printf '%s %s %s %.2f %.2f %s %.3f\n' "$name" "$mode" "$j" "$took" \
        "$(calc "$serial / $took")" "$size" "$(calc "$size / $serial_text")" |
        tee -a "$out/results.txt"
    done
  done
done
