//! Helpers shared by the integration tests: where LLVM's tools and llpar are, and running them.
#![allow(dead_code)]
pub mod irdiff;
#[allow(unused_imports)]
pub use irdiff::{assert_equivalent, differences, disassemble, strict_diff};
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

/// Whether llvm-diff finds no difference between two modules (it exits non-zero when it does);
/// otherwise its first `lines` lines of report.
pub fn llvm_diff(reference: &Path, candidate: &Path, lines: usize) -> Result<(), String> {
    let out = run(Command::new(llvm_tool("llvm-diff"))
        .arg(reference)
        .arg(candidate));
    if out.status.success() && out.stderr.is_empty() {
        return Ok(());
    }
    Err(String::from_utf8_lossy(&out.stderr)
        .lines()
        .take(lines)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// llvm-diff finds no difference between two modules.
pub fn assert_no_llvm_diff(reference: &Path, candidate: &Path) {
    if let Err(report) = llvm_diff(reference, candidate, 40) {
        panic!(
            "llvm-diff {} {}:\n{report}",
            reference.display(),
            candidate.display()
        );
    }
}

/// A module of the real corpus (target/corpus), which scripts/build-corpus.sh builds, once per
/// test binary (it does nothing when the corpus is already there).
pub fn corpus(name: &str) -> PathBuf {
    static BUILT: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    BUILT.get_or_init(|| {
        run_ok(&mut Command::new(root().join("scripts/build-corpus.sh")));
    });
    let path = root().join("target/corpus").join(name);
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// One `llvm-stress` function per (seed, size), linked into one module `dir/NAME.bc`.
pub fn linked_stress_module(dir: &Path, name: &str, parts: &[(u64, u64)]) -> PathBuf {
    let mut files = Vec::new();
    for (k, (seed, size)) in parts.iter().enumerate() {
        let part = dir.join(format!("{name}-{k}.ll"));
        run_ok(
            Command::new(llvm_tool("llvm-stress"))
                .arg(format!("-seed={seed}"))
                .arg(format!("-size={size}"))
                .arg("-o")
                .arg(&part),
        );
        files.push(part);
    }
    let module = dir.join(format!("{name}.bc"));
    run_ok(
        Command::new(llvm_tool("llvm-link"))
            .args(&files)
            .arg("-o")
            .arg(&module),
    );
    for file in files {
        let _ = std::fs::remove_file(file);
    }
    module
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

/// The serial reference object: `opt -O2`, then `llc -O2 -relocation-model=pic`.
pub fn serial_o2_object(input: &Path, out: &Path) {
    let optimized = out.with_extension("bc");
    run_ok(
        Command::new(llvm_tool("opt"))
            .arg("-O2")
            .arg(input)
            .arg("-o")
            .arg(&optimized),
    );
    run_ok(
        Command::new(llvm_tool("llc"))
            .args(["-O2", "-relocation-model=pic", "-filetype=obj"])
            .arg(&optimized)
            .arg("-o")
            .arg(out),
    );
}

/// The bytes of an object's sections whose names start with `prefix` (`.text`, `.debug_`), by
/// `llvm-size -A`.
pub fn section_bytes(object: &Path, prefix: &str) -> u64 {
    let out = run_ok(Command::new(llvm_tool("llvm-size")).arg("-A").arg(object));
    String::from_utf8_lossy(&out)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// Two files hold the same bytes.
pub fn same_bytes(a: &Path, b: &Path) {
    assert!(
        std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
        "{} and {} differ",
        a.display(),
        b.display()
    );
}

/// `llpar -O2 -j2 INPUT -o OUT` with `fixed` then `extra` arguments (and `--emit=obj` unless
/// `extra` names another); its stderr. It must succeed.
pub fn compile_o2(input: &Path, out: &Path, fixed: &[&str], extra: &[&str]) -> String {
    let emit = match extra.iter().any(|a| a.starts_with("--emit")) {
        true => None,
        false => Some("--emit=obj"),
    };
    let output = run(llpar()
        .args(["-O2", "-j2"])
        .args(fixed)
        .args(emit)
        .args(extra)
        .arg(input)
        .arg("-o")
        .arg(out));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "llpar failed: {stderr}");
    stderr
}
