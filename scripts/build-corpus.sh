#!/usr/bin/env bash
# Builds the real-world corpus llpar is tested and measured on, into target/corpus/ (idempotent):
#   sqlite3.bc  - sqlite3.c as shipped by the libsqlite3-sys crate, clang -O2 with LLVM passes disabled
#   regex.bc    - the regex-automata crate as rustc emits it (codegen-units=1, no pre-populated passes)
#   lua.bc      - Lua 5.4 as the lua-src crate ships it, compiled file by file and linked with llvm-link
# Sources come from crates.io through cargo; nothing third-party is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
v=$(tr -d '[:space:]' < "$root/LLVM_VERSION")
bin=/usr/lib/llvm-$v/bin
out=$root/target/corpus
mkdir -p "$out"
fetch=$out/fetch
if true; then # rewritten every time, so that a corpus added later is fetched too
  mkdir -p "$fetch/src"
  cat > "$fetch/Cargo.toml" <<'TOML'
[package]
name = "llpar-corpus"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
libsqlite3-sys = { version = "=0.30.1", features = ["bundled"], default-features = false }
regex-automata = "=0.4.9"
lua-src = "=547.0.0"
[workspace]
TOML
  echo "" > "$fetch/src/lib.rs"
fi
(cd "$fetch" && cargo fetch -q)
registry_src() { # newest unpacked copy of crate $1 in cargo's registry
  ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$1" 2>/dev/null | sort -V | tail -n 1
}
if [ ! -s "$out/sqlite3.bc" ]; then
  src=$(registry_src libsqlite3-sys-0.30.1)/sqlite3
  cp "$src/sqlite3.c" "$src/sqlite3.h" "$out/"
  "$bin/clang" -O2 -Xclang -disable-llvm-passes -emit-llvm -c -fPIC \
    -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION \
    "$out/sqlite3.c" -o "$out/sqlite3.bc.tmp" && mv "$out/sqlite3.bc.tmp" "$out/sqlite3.bc"
fi
if [ ! -s "$out/regex.bc" ]; then
  (cd "$fetch" && cargo rustc -q --release -p regex-automata --target-dir "$out/rust-target" -- \
     --emit=llvm-bc -C codegen-units=1 -C no-prepopulate-passes)
  cp "$(ls -t "$out"/rust-target/release/deps/regex_automata-*.bc | head -n 1)" "$out/regex.bc"
fi
if [ ! -s "$out/lua.bc" ]; then
  src=$(registry_src lua-src-547.0.0)/lua-5.4.7
  mkdir -p "$out/lua"
  for c in "$src"/*.c; do
    # A fixed hash seed (Lua seeds from the clock by default) keeps runs of the workload repeatable.
    "$bin/clang" -O2 -Xclang -disable-llvm-passes -emit-llvm -c -fPIC -DLUA_USE_LINUX '-Dluai_makeseed(L)=0' \
      "$c" -o "$out/lua/$(basename "$c" .c).bc"
  done
  cp "$src"/*.h "$out/lua/"
  "$bin/llvm-link" "$out"/lua/*.bc -o "$out/lua.bc.tmp" && mv "$out/lua.bc.tmp" "$out/lua.bc"
fi
ls -la "$out"/*.bc >&2
