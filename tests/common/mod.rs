//! Helpers shared by the integration tests: where LLVM's tools and llpar are, and running them.
#![allow(dead_code)]
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One of LLVM's tools, from the version named in LLVM_VERSION.
pub fn llvm_tool(name: &str) -> PathBuf {
    let version = std::fs::read_to_string(root().join("LLVM_VERSION")).unwrap();
    PathBuf::from(format!("/usr/lib/llvm-{}/bin/{name}", version.trim()))
}

pub fn llpar() -> Command {
    Command::new(env!("CARGO_BIN_EXE_llpar"))
}

pub fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// Runs a command that must succeed, and returns its standard output.
pub fn run_ok(command: &mut Command) -> Vec<u8> {
    let out = run(command);
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The pipelines of scripts/pipelines.py (light, loop, heavy).
pub fn pipeline(which: &str) -> String {
    let out = run_ok(Command::new(root().join("scripts/pipelines.py")).arg(which));
    String::from_utf8(out).unwrap().trim().to_string()
}

/// llvm-diff finds no difference between two modules (it exits non-zero when it does).
pub fn assert_no_llvm_diff(reference: &Path, candidate: &Path) {
    let out = run(Command::new(llvm_tool("llvm-diff"))
        .arg(reference)
        .arg(candidate));
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "llvm-diff {} {}:\n{}",
        reference.display(),
        candidate.display(),
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The module passes LLVM's verifier (as a separate process, independent of llpar's own check).
pub fn assert_verifies(module: &Path) {
    run_ok(
        Command::new(llvm_tool("opt"))
            .arg("-passes=verify")
            .arg("-disable-output")
            .arg(module),
    );
}
