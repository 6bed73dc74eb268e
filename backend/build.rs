//! Compiles the C++ shim (backend/llvm-shim) against the LLVM named in LLVM_VERSION.
use std::process::Command;

fn main() {
    let version = std::fs::read_to_string("LLVM_VERSION").expect("LLVM_VERSION at the crate root");
    let version = version.trim();
    let llvm_config = format!("/usr/lib/llvm-{version}/bin/llvm-config");
    let output = Command::new(&llvm_config)
        .arg("--cxxflags")
        .output()
        .unwrap_or_else(|e| panic!("{llvm_config}: {e} (run scripts/install-deps.sh)"));
    let cxxflags = String::from_utf8(output.stdout).expect("llvm-config prints UTF-8");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .file("backend/llvm-shim/shim.cpp")
        .warnings(false);
    for flag in cxxflags.split_whitespace() {
        // llvm-config asks for -fno-exceptions and a -std; both are what the shim is written for.
        build.flag(flag);
    }
    build.compile("llpar_shim");
    // Code generation links per-chunk objects with LLVM's own ld.lld and llvm-objcopy.
    println!("cargo:rustc-env=LLPAR_LLVM_BIN=/usr/lib/llvm-{version}/bin");
    println!("cargo:rerun-if-changed=backend/llvm-shim/shim.cpp");
    println!("cargo:rerun-if-changed=LLVM_VERSION");
}
