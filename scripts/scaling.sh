#!/usr/bin/env bash
# Scaling of `llpar -O2 --emit=obj` with the worker count, against the serial reference
# (`opt -O2 | llc -O2 -relocation-model=pic`) measured in the same run, for both places the
# inliner's walk can run (`--inliner=serial` and `--inliner=parallel`). One line per run:
#   MODULE MODE JOBS seconds speedup-over-serial text-bytes text-ratio
# and, for each of STATS_JOBS, llpar's --stats in OUT/stats-MODULE-MODE-jN.txt; then, for each
# peer of PEERS (scripts/peers: naive, thin) at PEER_JOBS parts and jobs, the same line with the peer
# as MODE.
#
# usage: scripts/scaling.sh OUT MODULE.bc...
#   env: LLPAR (default target/release/llpar), LLVM_BIN (default /usr/lib/llvm-$(cat LLVM_VERSION)/bin),
#        JOBS (default "1 2 4 8 16"), MODES (default "serial parallel"),
#        STATS_JOBS (default: the largest JOBS), PEERS (default: none),
#        PEER_JOBS (default: the largest JOBS)
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
out=$1
shift
mkdir -p "$out"
llpar=${LLPAR:-$root/target/release/llpar}
bin=${LLVM_BIN:-/usr/lib/llvm-$(cat "$root/LLVM_VERSION")/bin}
jobs=${JOBS:-1 2 4 8 16}
modes=${MODES:-serial parallel}
peers=${PEERS:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
now() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
# Code bytes: .text and, where a build places functions in sections of their own, .text.*.
text() { "$bin/llvm-size" -A "$1" | awk '$1 ~ /^\.text(\.|$)/ { n += $2 } END { print n + 0 }'; }
last=${jobs##* }
stats_jobs=${STATS_JOBS:-$last}
peer_jobs=${PEER_JOBS:-$last}
# One result line: MODULE MODE JOBS seconds speedup text-bytes text-ratio.
report() {
  local size
  size=$(text "$6")
  printf '%s %s %s %.2f %.2f %s %.3f\n' "$1" "$2" "$3" "$5" "$(calc "$4 / $5")" "$size" \
    "$(calc "$size / $serial_text")" | tee -a "$out/results.txt"
}
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
      case " $stats_jobs " in *" $j "*) stats="$out/stats-$name-$mode-j$j.txt" ;; esac
      start=$(now)
      if ! "$llpar" "$module" -O2 --emit=obj "-j$j" "--inliner=$mode" --stats -o "$tmp/llpar.o" 2>"$stats"; then
        echo "$name $mode $j failed" | tee -a "$out/results.txt"
        continue
      fi
      report "$name" "$mode" "$j" "$serial" "$(calc "$(now) - $start")" "$tmp/llpar.o"
    done
  done
  for peer in $peers; do
    start=$(now)
    if ! LLVM_MAJOR=$(cat "$root/LLVM_VERSION") bash "$root/scripts/peers/$peer.sh" "$module" "$tmp/peer.o" "$peer_jobs" \
      >/dev/null 2>&1; then
      echo "$name $peer $peer_jobs failed" | tee -a "$out/results.txt"
      continue
    fi
    report "$name" "$peer" "$peer_jobs" "$serial" "$(calc "$(now) - $start")" "$tmp/peer.o"
  done
done
