#!/usr/bin/env bash
# Builds the real-world corpus llpar is tested and measured on, into target/corpus/ (idempotent):
#   sqlite3.bc  - sqlite3.c as shipped by the libsqlite3-sys crate, clang -O2 with LLVM passes disabled
#   regex.bc    - the regex-automata crate as rustc emits it (codegen-units=1, no pre-populated passes)
#   lua.bc      - Lua 5.4 as the lua-src crate ships it, compiled file by file and linked with llvm-link
#   sqlite3-g.bc, lua-g.bc - the same built with -g (what a RelWithDebInfo build hands LLVM)
#   zstd.bc     - zstd's library as the zstd-sys crate ships it, linked with llvm-link
#   rustprog.bc - a serde_json and regex program (scripts/workloads/rust) compiled whole by rustc
#                 (fat LTO, one codegen unit, line tables), with rustprog.link: how to link it
# Sources come from crates.io through cargo; nothing third-party is committed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
v=$(tr -d '[:space:]' < "$root/LLVM_VERSION")
bin=/usr/lib/llvm-$v/bin
out=$root/target/corpus
mkdir -p "$out"
fetch=$out/fetch
. "$root/scripts/crates.sh"
fetch_crates "$fetch" llpar-corpus <<'TOML'
libsqlite3-sys = { version = "=0.30.1", features = ["bundled"], default-features = false }
regex-automata = "=0.4.9"
lua-src = "=547.0.0"
zstd-sys = { version = "=2.0.13", default-features = false }
TOML
for g in "" -g; do
  if [ ! -s "$out/sqlite3$g.bc" ]; then
    src=$(registry_src libsqlite3-sys-0.30.1)/sqlite3
    cp "$src/sqlite3.c" "$src/sqlite3.h" "$out/"
    "$bin/clang" $g -O2 -Xclang -disable-llvm-passes -emit-llvm -c -fPIC \
      -DSQLITE_THREADSAFE=0 -DSQLITE_OMIT_LOAD_EXTENSION \
      "$out/sqlite3.c" -o "$out/sqlite3$g.bc.tmp" && mv "$out/sqlite3$g.bc.tmp" "$out/sqlite3$g.bc"
  fi
done
if [ ! -s "$out/regex.bc" ]; then
  (cd "$fetch" && cargo rustc -q --release -p regex-automata --target-dir "$out/rust-target" -- \
     --emit=llvm-bc -C codegen-units=1 -C no-prepopulate-passes)
  cp "$(ls -t "$out"/rust-target/release/deps/regex_automata-*.bc | head -n 1)" "$out/regex.bc"
fi
# The sources too: the cache tests edit one of them and build it again.
lua_src=$(registry_src lua-src-547.0.0)/lua-5.4.7
if [ ! -s "$out/lua/lvm.c" ]; then
  mkdir -p "$out/lua"
  cp "$lua_src"/*.c "$lua_src"/*.h "$out/lua/"
fi
for g in "" -g; do
  if [ ! -s "$out/lua$g.bc" ]; then
    src=$(registry_src lua-src-547.0.0)/lua-5.4.7
    mkdir -p "$out/lua$g"
    for c in "$src"/*.c; do
      # A fixed hash seed (Lua seeds from the clock by default) keeps runs of the workload repeatable.
      "$bin/clang" $g -O2 -Xclang -disable-llvm-passes -emit-llvm -c -fPIC -DLUA_USE_LINUX \
        '-Dluai_makeseed(L)=0' "$c" -o "$out/lua$g/$(basename "$c" .c).bc"
    done
    mkdir -p "$out/lua"
    cp "$src"/*.h "$out/lua/"
    "$bin/llvm-link" "$out"/lua$g/*.bc -o "$out/lua$g.bc.tmp" && mv "$out/lua$g.bc.tmp" "$out/lua$g.bc"
  fi
done
if [ ! -s "$out/zstd.bc" ]; then
  src=$(registry_src zstd-sys-2.0.13+zstd.1.5.6)/zstd/lib
  mkdir -p "$out/zstd"
  for c in "$src"/common/*.c "$src"/compress/*.c "$src"/decompress/*.c; do
    "$bin/clang" -O2 -Xclang -disable-llvm-passes -emit-llvm -c -fPIC -DZSTD_DISABLE_ASM \
      -I"$src" -I"$src/common" "$c" -o "$out/zstd/$(basename "$c" .c).bc"
  done
  "$bin/llvm-link" "$out"/zstd/*.bc -o "$out/zstd.bc.tmp" && mv "$out/zstd.bc.tmp" "$out/zstd.bc"
fi
if [ ! -s "$out/rustprog.bc" ]; then
  prog=$out/rustprog-src
  mkdir -p "$prog/src"
  cp "$root/scripts/workloads/rust/src/main.rs" "$prog/src/"
  cat > "$prog/Cargo.toml" <<'TOML'
[package]
name = "llpar-rust-workload"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
serde_json = "=1.0.133"
regex = "=1.11.1"
[profile.release]
lto = "fat"
codegen-units = 1
debug = "line-tables-only"
[workspace]
TOML
  (cd "$prog" && cargo rustc -q --release --target-dir "$out/rustprog-target" -- \
     --emit=llvm-bc,link -C no-prepopulate-passes)
  # What rustc links the program's one object with (its own link line, without the object).
  sysroot=$(rustc --print sysroot)
  builtins=$(ls "$sysroot"/lib/rustlib/*/lib/libcompiler_builtins-*.rlib | head -n 1)
  echo "$builtins -Wl,--as-needed -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -Wl,--eh-frame-hdr -Wl,--gc-sections -nodefaultlibs -pie" > "$out/rustprog.link"
  cp "$(ls -t "$out"/rustprog-target/release/deps/llpar_rust_workload-*.bc | head -n 1)" "$out/rustprog.bc"
fi
ls -la "$out"/*.bc >&2
