#!/usr/bin/env bash
# Builds the HiGHS LP/MIP solver into target/corpus/ (idempotent), a large C++ module for llpar:
#   highs.bc          - HiGHS's library and its command-line app (app/RunHighs.cpp) as the
#                       highs-sys crate ships them, clang++ -O2 with LLVM passes disabled, file by
#                       file, linked with llvm-link
#   highs.link        - the extra arguments that link an object built from highs.bc into the
#                       `highs` executable: clang++ -fuse-ld=lld OBJ -o EXE $(cat highs.link)
#   highs-instances/  - a few of HiGHS's own check instances (MPS) that solve in about a second
#   highs-g.bc        - with -g as the first argument: the same with debug info (-g), as a
#                       RelWithDebInfo build hands it to LLVM
# Without cmake: HConfig.h, which cmake would generate, is written here (no zlib, no HiPO
# extras, 32-bit HighsInt, no OpenMP). The source list comes from HiGHS's cmake/sources.cmake.
# Sources come from crates.io through cargo; nothing third-party is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
v=$(tr -d '[:space:]' < "$root/LLVM_VERSION")
bin=/usr/lib/llvm-$v/bin
out=$root/target/corpus
highs_sys=1.16.0 # ships HiGHS 1.16.0 in HiGHS/
mkdir -p "$out"
g=; flags=
if [ "${1:-}" = -g ]; then g=-g; flags=-g; fi
. "$root/scripts/crates.sh"
fetch_crates "$out/fetch-highs" llpar-corpus-highs <<TOML
highs-sys = { version = "=$highs_sys", default-features = false }
TOML
src=$(registry_src "highs-sys-$highs_sys")/HiGHS
[ -f "$src/highs/Highs.h" ] || { echo "build-highs.sh: no HiGHS sources in highs-sys-$highs_sys" >&2; exit 1; }

if [ ! -s "$out/highs$g.bc" ]; then
  build=$out/highs$g-build
  mkdir -p "$build/bc"
  # What cmake's configure_file makes of highs/HConfig.h.in with the defaults of a Release build
  # (FAST_BUILD on, cuPDLP on the CPU), the optional dependencies off.
  eval "$(grep -E '^HIGHS_(MAJOR|MINOR|PATCH)=[0-9]+$' "$src/Version.txt")"
  cat > "$build/HConfig.h.tmp" <<EOF
#ifndef HCONFIG_H_
#define HCONFIG_H_

#define FAST_BUILD
/* #undef ZLIB_FOUND */
#define CUPDLP_CPU
/* #undef CUPDLP_GPU */
/* #undef HIPO */
/* #undef HIGHS_SHARED_EXTRAS_LIBRARY */
#define CMAKE_BUILD_TYPE "Release"
/* #undef HIGHSINT64 */
/* #undef HIGHS_NO_DEFAULT_THREADS */
#define HIGHS_HAVE_MM_PAUSE
#define HIGHS_HAVE_BUILTIN_CLZ
/* #undef HIGHS_HAVE_BITSCAN_REVERSE */

#define HIGHS_GITHASH "highs-sys-$highs_sys"
#define HIGHS_VERSION_MAJOR $HIGHS_MAJOR
#define HIGHS_VERSION_MINOR $HIGHS_MINOR
#define HIGHS_VERSION_PATCH $HIGHS_PATCH

#endif /* HCONFIG_H_ */
EOF
  mv "$build/HConfig.h.tmp" "$build/HConfig.h"

  # The library's sources: the lists highs/CMakeLists.txt builds libhighs from, plus the two files of
  # the statically linked extras library (extern/CMakeLists.txt without HIPO), plus the app's main.
  cmake_list() { # the entries of set($1 ...) in cmake/sources.cmake
    awk -v name="$1" '
      $0 ~ "^set\\(" name "$" || $0 ~ "^set\\(" name "[ )]" { on = 1; sub("^set\\(" name, ""); }
      on { line = $0; done = sub(/\).*/, "", line); n = split(line, w, /[ \t]+/);
           for (i = 1; i <= n; i++) if (w[i] != "") print w[i];
           if (done) on = 0 }' "$src/cmake/sources.cmake"
  }
  files=()
  for list in highs_sources cupdlp_sources ipx_sources basiclu_sources hipo_sources \
              factor_highs_sources hipo_util_sources; do
    while read -r f; do files+=("highs/$f"); done < <(cmake_list "$list")
  done
  files+=(extern/HighsExtrasApi.cpp extern/HighsExtrasExternalDeps.cpp app/RunHighs.cpp)
  for f in "${files[@]}"; do
    [ -f "$src/$f" ] || { echo "build-highs.sh: $src/$f is missing" >&2; exit 1; }
  done

  incs=(-I"$build" -I"$src/extern" -I"$src/highs" -I"$src/app")
  while read -r d; do incs+=(-I"$src/highs/$d"); done < <(
    grep -o 'PROJECT_SOURCE_DIR}/highs/[^>]*' "$src/cmake/sources.cmake" | sed 's|.*}/highs/||')
  # -w: HiGHS warns a lot under clang; a failed compile still shows its errors.
  common="$flags -O2 -Xclang -disable-llvm-passes -emit-llvm -c -fPIC -w -DNDEBUG ${incs[*]}"
  # extern/CMakeLists.txt gives the extras library its version on the command line.
  extras_def="-DHIGHS_EXTRAS_VERSION=\"$HIGHS_MAJOR.$HIGHS_MINOR.$HIGHS_PATCH\""
  export bin common build extras_def
  echo "highs: compiling ${#files[@]} files of HiGHS $HIGHS_MAJOR.$HIGHS_MINOR.$HIGHS_PATCH to bitcode (2 at a time)" >&2
  start=$SECONDS
  for f in "${files[@]}"; do echo "$src/$f" "$build/bc/$(echo "$f" | tr / _).bc"; done |
    xargs -P2 -n2 bash -c '
      set -euo pipefail
      [ -s "$2" ] && exit 0
      case "$1" in
        *.c) "$bin/clang" $common "$1" -o "$2.tmp" ;;
        */extern/*) "$bin/clang++" -std=c++17 $common "$extras_def" "$1" -o "$2.tmp" ;;
        *) "$bin/clang++" -std=c++17 $common "$1" -o "$2.tmp" ;;
      esac
      mv "$2.tmp" "$2"' _
  echo "highs: compiled in $((SECONDS - start)) s; linking" >&2
  bcs=()
  for f in "${files[@]}"; do bcs+=("$build/bc/$(echo "$f" | tr / _).bc"); done
  "$bin/llvm-link" "${bcs[@]}" -o "$out/highs$g.bc.tmp" && mv "$out/highs$g.bc.tmp" "$out/highs$g.bc"
fi

echo "-lpthread -lm -ldl" > "$out/highs.link"

# Small LPs, MIPs and a QP of HiGHS's check instances, each solving in about a second or less.
instances=(afiro adlittle blending avgas 25fv47 bandm e226 etamacro scrs8 shell
           egout flugpl lseu bell5 p0548 gt2 qjh)
mkdir -p "$out/highs-instances"
for i in "${instances[@]}"; do
  cmp -s "$src/check/instances/$i.mps" "$out/highs-instances/$i.mps" ||
    cp "$src/check/instances/$i.mps" "$out/highs-instances/$i.mps"
done
ls -la "$out/highs$g.bc" >&2
