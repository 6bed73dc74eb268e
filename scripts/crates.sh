# Sourced by the corpus scripts (build-corpus.sh, build-highs.sh): crate sources from crates.io,
# through cargo, so that nothing third-party is committed.

# fetch_crates DIR NAME: makes DIR a package NAME whose dependencies are the TOML lines on stdin
# (rewritten every time, so that a crate added later is fetched too), and fetches them.
fetch_crates() {
  mkdir -p "$1/src"
  {
    printf '[package]\nname = "%s"\nversion = "0.0.0"\nedition = "2021"\npublish = false\n' "$2"
    echo '[dependencies]'
    cat
    echo '[workspace]'
  } > "$1/Cargo.toml"
  echo "" > "$1/src/lib.rs"
  (cd "$1" && cargo fetch -q)
}

# registry_src NAME-VERSION: the newest unpacked copy of that crate in cargo's registry.
registry_src() {
  ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/"$1" 2>/dev/null | sort -V | tail -n 1
}
