//! `llpar split` and `llpar merge`: every unit passes the verifier and compiles alone; split
//! then merge gives back the input (its disassembly, equal up to struct type names under the
//! strict comparison of tests/common/irdiff.rs) for every IR fixture, the real corpus and 500 random llvm-stress modules; sqlite3's units compiled apart
//! and linked run a SQL workload exactly like the unsplit build.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const STRATEGIES: [&str; 4] = ["balanced", "callgraph", "per-function", "round-robin"];

/// Splits `input` into units in `dir` and returns their paths, unit 0 first.
fn split(dir: &Path, input: &Path, args: &[&str]) -> Vec<PathBuf> {
    let prefix = dir.join("unit.");
    run_ok(
        llpar()
            .arg("split")
            .arg(input)
            .args(args)
            .arg("-o")
            .arg(&prefix),
    );
    let mut units: Vec<(usize, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name()?.to_str()?.to_string();
            let n = name.strip_prefix("unit.")?.parse().ok()?;
            Some((n, path))
        })
        .collect();
    units.sort();
    units.into_iter().map(|(_, p)| p).collect()
}

/// Split into units, check each unit, merge, and compare with the input.
fn round_trip(dir: &Path, input: &Path, args: &[&str], compile_units: bool) -> Result<(), String> {
    let units = split(dir, input, args);
    for unit in &units {
        assert_verifies(unit);
        if compile_units {
            run_ok(
                Command::new(llvm_tool("llc"))
                    .args([
                        "-O0",
                        "-filetype=obj",
                        "-relocation-model=pic",
                        "-o",
                        "/dev/null",
                    ])
                    .arg(unit),
            );
        }
    }
    let merged = dir.join("merged.bc");
    run_ok(llpar().arg("merge").args(&units).arg("-o").arg(&merged));
    let original = if input.extension().is_some_and(|e| e == "bc") {
        input.to_path_buf()
    } else {
        let assembled = dir.join("input.bc");
        run_ok(
            Command::new(llvm_tool("llvm-as"))
                .arg(input)
                .arg("-o")
                .arg(&assembled),
        );
        assembled
    };
    for unit in &units {
        std::fs::remove_file(unit).unwrap();
    }
    // Equal up to the names of struct types (linking the units renames isomorphic structs): the
    // strict comparison, which resolves struct names to their shapes and compares all else.
    strict_diff(&original, &merged, 20).map_err(|report| {
        format!(
            "{} {args:?}: merged units differ from the input:\n{report}",
            input.display()
        )
    })
}

#[test]
fn every_fixture_round_trips_with_every_strategy() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(root().join("ir-fixtures")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "ll") {
            continue;
        }
        for strategy in STRATEGIES {
            for n in ["1", "2", "3"] {
                round_trip(dir.path(), &path, &["-n", n, "--strategy", strategy], true).unwrap();
            }
        }
    }
}

#[test]
fn real_modules_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for (module, args) in [
        ("sqlite3.bc", &["-n", "4"][..]),
        ("sqlite3.bc", &["-n", "8", "--strategy", "callgraph"][..]),
        ("regex.bc", &["-n", "3", "--strategy", "callgraph"][..]),
        ("regex.bc", &["--target-size", "20000"][..]),
        ("lua.bc", &["-n", "5", "--strategy", "round-robin"][..]),
        ("sqlite3-g.bc", &["-n", "4", "--strategy", "callgraph"][..]),
        ("lua-g.bc", &["-n", "3"][..]),
    ] {
        round_trip(dir.path(), &corpus(module), args, false).unwrap();
    }
}

#[test]
fn random_modules_round_trip() {
    // 500 llvm-stress modules of different seeds and sizes, some several linked into one, on two
    // threads; every strategy in turn.
    const MODULES: usize = 500;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..2)
            .map(|t| {
                s.spawn(move || {
                    let dir = tempfile::tempdir().unwrap();
                    let mut failures = Vec::new();
                    for m in (t..MODULES).step_by(2) {
                        let parts: Vec<(u64, u64)> = (0..1 + m % 3)
                            .map(|k| {
                                (
                                    (7000 + m * 3 + k) as u64,
                                    (10 + (m * 37 + k * 11) % 200) as u64,
                                )
                            })
                            .collect();
                        let input = linked_stress_module(dir.path(), &format!("s{m}"), &parts);
                        let n = (1 + m % 4).to_string();
                        let args = ["-n", n.as_str(), "--strategy", STRATEGIES[m % 4]];
                        let work = dir.path().join(format!("w{m}"));
                        std::fs::create_dir(&work).unwrap();
                        if let Err(e) = round_trip(&work, &input, &args, false) {
                            failures.push(e);
                        }
                        let _ = std::fs::remove_dir_all(&work);
                    }
                    failures
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn sqlite_units_compiled_apart_run_like_the_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("sqlite3.bc");
    let units = split(dir.path(), &input, &["-n", "4", "--strategy", "callgraph"]);
    assert_eq!(units.len(), 4);
    let compile = |module: &Path, object: &Path| {
        run_ok(
            Command::new(llvm_tool("clang"))
                .args(["-O1", "-fPIC", "-c", "-x", "ir"])
                .arg(module)
                .arg("-o")
                .arg(object),
        );
    };
    let mut objects = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let object = dir.path().join(format!("unit{i}.o"));
        compile(unit, &object);
        objects.push(object);
    }
    let whole = dir.path().join("whole.o");
    compile(&input, &whole);
    let driver = root().join("scripts/workloads/sqlite_driver.c");
    let link = |objects: &[PathBuf], program: &Path| {
        run_ok(
            Command::new(llvm_tool("clang"))
                .args(["-O1", "-fPIE", "-pie"])
                .arg(format!("-I{}", root().join("target/corpus").display()))
                .arg(&driver)
                .args(objects)
                .arg("-o")
                .arg(program)
                .arg("-lm"),
        );
    };
    let split_program = dir.path().join("sqlite-units");
    let whole_program = dir.path().join("sqlite-whole");
    link(&objects, &split_program);
    link(&[whole], &whole_program);
    let expected = run_ok(Command::new(&whole_program).arg("20000"));
    let got = run_ok(Command::new(&split_program).arg("20000"));
    assert!(!expected.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&expected)
    );
}

#[test]
fn split_errors_are_clean() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.bc");
    std::fs::write(&garbage, b"not a module").unwrap();
    let out = run(llpar()
        .arg("split")
        .arg(&garbage)
        .args(["-n", "2", "-o"])
        .arg(dir.path().join("u.")));
    assert_eq!(out.status.code(), Some(1));
    assert!(!dir.path().join("u.0").exists());
    // merge wants unit 0 first
    let input = root().join("ir-fixtures/internal-called-from-two-chunks.ll");
    let units = split(dir.path(), &input, &["-n", "2"]);
    let out = run(llpar()
        .arg("merge")
        .arg(&units[1])
        .arg(&units[0])
        .arg("-o")
        .arg(dir.path().join("m.bc")));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not unit 0 of `llpar split`"), "{stderr}");
    assert!(!dir.path().join("m.bc").exists());
    // a missing unit, a unit twice, a unit of another split
    let fails_with = |units: &[&Path], expected: &str| {
        let out = run(llpar()
            .arg("merge")
            .args(units)
            .arg("-o")
            .arg(dir.path().join("m.bc")));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(!dir.path().join("m.bc").exists());
    };
    fails_with(&[&units[0]], "was split into 2 units; 1 given");
    fails_with(&[&units[0], &units[0]], "not unit 1 of the split");
    let other = tempfile::tempdir().unwrap();
    let others = split(
        other.path(),
        &root().join("ir-fixtures/comdat-group.ll"),
        &["-n", "2"],
    );
    fails_with(&[&units[0], &others[1]], "not unit 1 of the split");
}

/// A library call does not print: the warning about debug info dropped as invalid comes back
/// with the units, for the caller to show (the command prints it; see the lit fixture).
#[test]
fn invalid_debug_info_is_a_returned_warning() {
    let input =
        std::fs::read(root().join("ir-fixtures/invalid-debug-info-warns-and-strips.ll")).unwrap();
    let options = llpar::units::SplitOptions {
        strategy: llpar::units::Strategy::Balanced,
        units: Some(2),
        target_size: None,
    };
    let units = llpar::units::split(&input, "broken.ll", &options).unwrap();
    assert_eq!(units.warnings, ["broken.ll: ignoring invalid debug info"]);
}
