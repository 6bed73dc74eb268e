#!/usr/bin/env bash
# Round trip of `llpar split` and `llpar merge` for an IR fixture, the way the split fixtures
# use it: round-trip.sh LLPAR INPUT.ll PREFIX N STRATEGY
#  - splits INPUT into N units PREFIX0..; each unit passes the verifier and compiles alone
#    (llc -filetype=obj), and the objects link together (ld.lld -r);
#  - merges the units and checks that the disassembly equals the input's.
set -euo pipefail
llpar=$1 input=$2 prefix=$3 n=$4 strategy=$5
rm -f "$prefix".*
"$llpar" split "$input" -n "$n" --strategy "$strategy" -o "$prefix."
units=()
for ((i = 0; i < n; i++)); do
  opt -passes=verify -disable-output "$prefix.$i"
  llc -filetype=obj -relocation-model=pic "$prefix.$i" -o "$prefix.$i.o"
  units+=("$prefix.$i")
done
objects=("${units[@]/%/.o}")
ld.lld -r "${objects[@]}" -o "$prefix.linked.o"
"$llpar" merge "${units[@]}" -o "$prefix.merged.bc"
llvm-as "$input" -o "$prefix.input.bc"
diff <(llvm-dis "$prefix.input.bc" -o - | sed 1d) <(llvm-dis "$prefix.merged.bc" -o - | sed 1d)
