//! A bounded fuzz loop over hostile input. Two kinds of inputs, alternating:
//! - real bitcode (Lua's files as clang emits them) with random damage: bit flips, truncation,
//!   overwritten or repeated byte ranges;
//! - random modules from `llvm-stress`, several linked into one, through split, -O2 and the
//!   verifier, one function per chunk.
//!
//! Every run must end in one of two ways: success with an output that passes the verifier (an
//! object: read by `llvm-readobj` without a warning and linked by `ld.lld -r`), or
//! exit status 1 with one line "llpar: error: ..." and no output file, within a time limit.
//! When LLVM itself fails on an llvm-stress module, `opt` must fail on it too.
//!
//! LLPAR_FUZZ_SECONDS (default 40) bounds the loop; LLPAR_FUZZ_SEED (default fixed) picks the
//! inputs. Failing inputs are kept in target/fuzz-failures/. Run longer with
//! `LLPAR_FUZZ_SECONDS=600 cargo test --release --test fuzz -- --nocapture`.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Optimized,
    CleanError(String),
}

const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Runs llpar on `input` into `dir/out`, and checks that it ended cleanly either way.
fn run_checked(dir: &Path, input: &Path, args: &[&str]) -> Result<Outcome, String> {
    let output = dir.join("out");
    let _ = std::fs::remove_file(&output);
    let mut child = llpar()
        .args(args)
        .arg(input)
        .arg("-o")
        .arg(&output)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > RUN_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("no result after {RUN_LIMIT:?} (hang?)"));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".out") || n.contains("llpar"))
        .collect();
    if !leftovers.is_empty() {
        return Err(format!("left {leftovers:?}"));
    }
    match status.code() {
        Some(0) if args.contains(&"--emit=obj") => {
            check_object(&output).map(|_| Outcome::Optimized)
        }
        Some(0) => {
            let verify = run(Command::new(llvm_tool("opt"))
                .args(["-passes=verify", "-disable-output"])
                .arg(&output));
            if verify.status.success() {
                Ok(Outcome::Optimized)
            } else {
                Err(format!(
                    "output fails the verifier: {}",
                    String::from_utf8_lossy(&verify.stderr)
                ))
            }
        }
        Some(1) => {
            if output.exists() {
                return Err("failed but left an output file".into());
            }
            let lines: Vec<&str> = stderr.trim_end().lines().collect();
            if lines.len() != 1 || !lines[0].starts_with("llpar: error: ") {
                return Err(format!("not one error line: {stderr}"));
            }
            Ok(Outcome::CleanError(lines[0].to_string()))
        }
        other => Err(format!("exit status {other:?} ({status}): {stderr}")),
    }
}

/// An object file is valid when `llvm-readobj` reads its headers, sections and symbols without
/// a warning and finds an x86-64 ELF relocatable, and `ld.lld -r` links it.
fn check_object(object: &Path) -> Result<(), String> {
    let readobj = run(Command::new(llvm_tool("llvm-readobj"))
        .args(["--file-headers", "--sections", "--symbols", "--relocations"])
        .arg(object));
    let stdout = String::from_utf8_lossy(&readobj.stdout);
    let stderr = String::from_utf8_lossy(&readobj.stderr);
    if !readobj.status.success() || !stderr.trim().is_empty() {
        return Err(format!("llvm-readobj fails on the object: {stderr}"));
    }
    if !stdout.contains("Format: elf64-x86-64") || !stdout.contains("Type: Relocatable") {
        return Err(format!(
            "llvm-readobj: not an x86-64 ELF relocatable object: {}",
            stdout.lines().take(20).collect::<Vec<_>>().join("\n")
        ));
    }
    let linked = object.with_extension("linked.o");
    let link = run(Command::new(llvm_tool("ld.lld"))
        .arg("-r")
        .arg(object)
        .arg("-o")
        .arg(&linked));
    let _ = std::fs::remove_file(&linked);
    if !link.status.success() {
        return Err(format!(
            "ld.lld -r fails on the object: {}",
            String::from_utf8_lossy(&link.stderr)
        ));
    }
    Ok(())
}

fn damage(rng: &mut Rng, original: &[u8]) -> Vec<u8> {
    let mut bytes = original.to_vec();
    for _ in 0..1 + rng.below(3) {
        let len = bytes.len().max(1);
        match rng.below(5) {
            0 => {
                let at = rng.below(len);
                if at < bytes.len() {
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
            1 => bytes.truncate(rng.below(len)),
            2 => {
                let at = rng.below(len);
                for b in bytes.iter_mut().skip(at).take(1 + rng.below(16)) {
                    *b = rng.next() as u8;
                }
            }
            3 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(bytes.len());
                let copy = bytes[at.min(end)..end].to_vec();
                let to = rng.below(len).min(bytes.len());
                bytes.splice(to..to, copy);
            }
            _ => {
                // A 32-bit word set to zero or all ones: often an abbreviation width or a count.
                let at = rng.below(len) & !3;
                let v = if rng.below(2) == 0 { 0 } else { 0xff };
                for b in bytes.iter_mut().skip(at).take(4) {
                    *b = v;
                }
            }
        }
    }
    bytes
}

fn stress_module(rng: &mut Rng, dir: &Path, n: usize) -> PathBuf {
    let parts: Vec<(u64, u64)> = (0..2 + rng.below(4))
        .map(|_| (rng.next() % 1_000_000_000, 10 + rng.below(300) as u64))
        .collect();
    linked_stress_module(dir, &format!("s{n}"), &parts)
}

fn keep_failure(input: &Path, what: &str, failures: &mut Vec<String>) {
    let dir = root().join("target/fuzz-failures");
    std::fs::create_dir_all(&dir).unwrap();
    let kept = dir.join(format!(
        "{}-{}",
        failures.len(),
        input.file_name().unwrap().to_string_lossy()
    ));
    std::fs::copy(input, &kept).unwrap();
    failures.push(format!("{}: {what}", kept.display()));
}

#[test]
fn hostile_inputs_fail_cleanly() {
    let seconds: u64 = std::env::var("LLPAR_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let seed: u64 = std::env::var("LLPAR_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x11a7_2026);
    let mut rng = Rng(seed | 1);
    // Lua's files built without and with debug info (lua-g/: -g).
    let seeds: Vec<Vec<u8>> = [
        "lua/lfunc.bc",
        "lua/lstring.bc",
        "lua/lundump.bc",
        "lua/ltablib.bc",
        "lua/lctype.bc",
        "lua-g/lfunc.bc",
        "lua-g/lstring.bc",
        "lua-g/lundump.bc",
        "lua-g/lparser.bc",
    ]
    .iter()
    .map(|f| std::fs::read(corpus(f)).unwrap())
    .collect();
    let dir = tempfile::tempdir().unwrap();
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let (mut mutants, mut mutants_optimized, mut stress, mut stress_llvm_failures) = (0, 0, 0, 0);
    // Damaged inputs that crash LLVM's reader: reported cleanly by the crash handler, counted.
    let mut mutants_llvm_crashes = 0;
    let mut failures = Vec::new();
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        if n % 4 != 0 {
            let original = &seeds[rng.below(seeds.len())];
            let input = dir.path().join(format!("mutant{n}.bc"));
            std::fs::write(&input, damage(&mut rng, original)).unwrap();
            mutants += 1;
            match run_checked(
                dir.path(),
                &input,
                &["-O1", "-j2", "--verify", "--min-chunk-cost=1"],
            ) {
                Ok(Outcome::Optimized) => mutants_optimized += 1,
                Ok(Outcome::CleanError(line)) => {
                    if line.contains("LLVM crashed") || line.contains("LLVM fatal error") {
                        mutants_llvm_crashes += 1;
                    }
                }
                Err(what) => keep_failure(&input, &what, &mut failures),
            }
            let _ = std::fs::remove_file(&input);
        } else {
            let input = stress_module(&mut rng, dir.path(), n);
            stress += 1;
            let emit = if rng.below(2) == 0 {
                "--emit=obj"
            } else {
                "--emit=bc"
            };
            match run_checked(
                dir.path(),
                &input,
                &["-O2", "-j2", "--verify", "--min-chunk-cost=1", emit],
            ) {
                Ok(Outcome::Optimized) => {}
                Ok(Outcome::CleanError(line)) => {
                    // Only acceptable when LLVM fails on the module without llpar as well.
                    let opt = run(Command::new(llvm_tool("opt"))
                        .args(["-O2", "-disable-output"])
                        .arg(&input));
                    if opt.status.success() {
                        keep_failure(
                            &input,
                            &format!("opt -O2 succeeds, llpar: {line}"),
                            &mut failures,
                        );
                    } else {
                        stress_llvm_failures += 1;
                    }
                }
                Err(what) => keep_failure(&input, &what, &mut failures),
            }
            let _ = std::fs::remove_file(&input);
        }
    }
    eprintln!(
        "fuzz (seed {seed}, {seconds} s): {mutants} damaged bitcode files ({mutants_optimized} \
         still valid and optimized, {mutants_llvm_crashes} on which LLVM crashed), {stress} llvm-stress modules ({stress_llvm_failures} that \
         LLVM itself fails on), {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "inputs that llpar did not handle cleanly:\n{}",
        failures.join("\n")
    );
    assert!(mutants > 0 && stress > 0, "the loop ran no input");
}
