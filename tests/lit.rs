//! Runs the IR fixtures in ir-fixtures/ with LLVM's lit and FileCheck against the llpar binary
//! cargo just built.
mod common;
use common::*;
use std::process::Command;

#[test]
fn ir_fixtures_pass_under_lit() {
    let out = run(Command::new(llvm_tool("lit"))
        .arg("-v")
        .arg(root().join("ir-fixtures"))
        .env("LLPAR", env!("CARGO_BIN_EXE_llpar")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "lit failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("Passed"), "lit ran no test:\n{stdout}");
}
