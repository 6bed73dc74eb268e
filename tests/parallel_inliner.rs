//! `--inliner=parallel`: the inliner's call-graph walk on chunks, along the call graph. Its outputs
//! verify, do not depend on `-j`, define what the serial build defines, and build programs that
//! behave like the serial build's; at every level, sizes stay near `opt`'s.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const PARALLEL: &str = "--inliner=parallel";

fn llpar_object(input: &Path, jobs: &str, out: &Path) -> Vec<u8> {
    run_ok(
        llpar()
            .arg(input)
            .args(["-O2", "--emit=obj", "--verify", PARALLEL, jobs, "-o"])
            .arg(out),
    );
    std::fs::read(out).unwrap()
}

/// The object's defined global symbols, by name (which local functions are left depends on
/// inlining decisions, in `opt` too).
fn defined(object: &Path) -> Vec<String> {
    let mut names: Vec<String> = nm(
        object,
        &["--defined-only", "--extern-only", "--format=just-symbols"],
    )
    .into_iter()
    .filter(|n| !n.starts_with(".L"))
    .collect();
    names.sort();
    names
}

/// The lines `llvm-nm ARGS OBJECT` prints.
fn nm(object: &Path, args: &[&str]) -> Vec<String> {
    let out = run_ok(Command::new(llvm_tool("llvm-nm")).args(args).arg(object));
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Links `object` with a workload driver and runs it with `args`.
fn run_program(object: &Path, driver: &str, include: &str, args: &[&str]) -> Vec<u8> {
    let program = object.with_extension("exe");
    run_ok(
        Command::new(llvm_tool("clang"))
            .args(["-O2", "-fPIE", "-pie"])
            .arg(format!("-I{}", root().join(include).display()))
            .arg(root().join("scripts/workloads").join(driver))
            .arg(object)
            .arg("-o")
            .arg(&program)
            .arg("-lm"),
    );
    run_ok(Command::new(&program).args(args))
}

fn deterministic_and_like_serial(module: &str, driver: &str, include: &str, args: &[&str]) {
    let input = corpus(module);
    let dir = tempfile::tempdir().unwrap();
    let objects: Vec<Vec<u8>> = ["-j1", "-j2", "-j5"]
        .iter()
        .map(|j| llpar_object(&input, j, &dir.path().join(format!("llpar{j}.o"))))
        .collect();
    assert!(
        objects[0] == objects[1] && objects[0] == objects[2],
        "{module}: the object depends on -j"
    );
    let (ours, theirs) = (dir.path().join("llpar-j2.o"), dir.path().join("serial.o"));
    serial_o2_object(&input, &theirs);
    assert_eq!(
        defined(&ours),
        defined(&theirs),
        "{module}: defined symbols"
    );
    let expected = run_program(&theirs, driver, include, args);
    assert!(!expected.is_empty());
    assert!(
        run_program(&ours, driver, include, args) == expected,
        "{module}: the program's output differs from the serial build's"
    );
}

#[test]
fn lua_is_deterministic_and_runs_like_the_serial_build() {
    let workload = root().join("scripts/workloads/workload.lua");
    let workload = workload.to_str().unwrap();
    deterministic_and_like_serial(
        "lua.bc",
        "lua_driver.c",
        "target/corpus/lua",
        &[workload, "0.2"],
    );
    // With debug info too (the walk imports bodies with their subprograms).
    deterministic_and_like_serial(
        "lua-g.bc",
        "lua_driver.c",
        "target/corpus/lua",
        &[workload, "0.2"],
    );
}

#[test]
fn sqlite3_is_deterministic_and_runs_like_the_serial_build() {
    deterministic_and_like_serial("sqlite3.bc", "sqlite_driver.c", "target/corpus", &["20000"]);
}

/// Every level, with C and Rust modules, against `opt` by .text size (scripts/levels.py).
#[test]
fn every_level_stays_near_opt_by_text_size() {
    corpus("zstd.bc");
    let out = run(Command::new("python3")
        .env("LLPAR_ARGS", PARALLEL)
        .arg(root().join("scripts/levels.py"))
        .args([
            "--modules",
            "lua,zstd,regex",
            "--jobs",
            "2",
            "--check",
            "0.90,1.10",
        ]));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        report.lines().filter(|l| l.contains("| -O")).count(),
        18,
        "{report}"
    );
}

/// The walk and the phase after it each keep their chunks under `--save-temps`, under names of
/// their own (both once wrote `chunkN.bc`, and the second phase's overwrote the first's).
#[test]
fn save_temps_keeps_both_stages() {
    let dir = tempfile::tempdir().unwrap();
    let temps = dir.path().join("temps");
    std::fs::create_dir(&temps).unwrap();
    run_ok(
        llpar()
            .arg(corpus("lua.bc"))
            .args(["-O2", "--emit=obj", PARALLEL, "-j2", "--save-temps"])
            .arg(&temps)
            .arg("-o")
            .arg(dir.path().join("lua.o")),
    );
    let names: Vec<String> = std::fs::read_dir(&temps)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    // To an object, one phase: each chunk's input, its walk's result, and its object.
    for name in [
        "phase0.chunk0.bc",
        "phase0.chunk0.opt.bc",
        "phase0.chunk0.o",
    ] {
        assert!(names.iter().any(|n| n == name), "no {name} in {names:?}");
    }
    for name in names.iter().filter(|n| n.ends_with(".bc")) {
        assert_verifies(&temps.join(name));
    }
}

/// Workers extract the walk's chunks from their copies of the home module; under a memory cap
/// the calling thread extracts them. The objects are the same. (A copy that dropped the body of
/// a function some later chunk imports fails the copy's check, or would import less.)
#[test]
fn workers_extract_the_walk_chunks_as_the_calling_thread_does() {
    let dir = tempfile::tempdir().unwrap();
    for module in ["lua.bc", "lua-g.bc"] {
        let objects: Vec<Vec<u8>> = [&[][..], &["--max-memory", "64G"][..]]
            .iter()
            .enumerate()
            .map(|(i, extra)| {
                let out = dir.path().join(format!("{module}.{i}.o"));
                run_ok(
                    llpar()
                        .arg(corpus(module))
                        .args(["-O2", "--emit=obj", PARALLEL, "-j2", "-o"])
                        .arg(&out)
                        .args(*extra),
                );
                std::fs::read(out).unwrap()
            })
            .collect();
        assert!(
            objects[0] == objects[1],
            "{module}: the object depends on who extracts the walk's chunks"
        );
    }
}

/// `MODULE.bc` of the corpus compiled at `-O2 -j2` by llpar (`llpar_object`) and by the serial
/// reference, in a temporary directory that lives as long as the first element.
fn beside_serial(module: &str) -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(&format!("{module}.bc"));
    let (ours, theirs) = (dir.path().join("llpar.o"), dir.path().join("serial.o"));
    llpar_object(&input, "-j2", &ours);
    serial_o2_object(&input, &theirs);
    (dir, ours, theirs)
}

/// The functions every caller inlined are not compiled: a chunk drops what it held only for
/// other chunks once no walk result refers to it (as `opt` deletes them). Without that, Lua's
/// object defines 822 functions where the serial one defines 647.
#[test]
fn functions_every_caller_inlined_are_dropped() {
    let (_dir, ours, theirs) = beside_serial("lua");
    let functions = |object: &Path| {
        nm(object, &["--defined-only", "--format=posix"])
            .iter()
            .filter(|l| matches!(l.split(' ').nth(1), Some("t" | "T")))
            .count()
    };
    let (ours, theirs) = (functions(&ours), functions(&theirs));
    assert!(
        ours * 100 <= theirs * 105,
        "lua: {ours} functions defined, the serial build {theirs}"
    );
}

/// A member of a large SCC whose body calls a local function once is not imported by the
/// chunks that call it in their own wave: importing it made that local function external, so
/// its own chunk no longer inlined it for free as its last call. In Lua, `luaC_step` (in the
/// interpreter's SCC) kept `genstep` and `incstep` out of line, where `opt` inlines both.
#[test]
fn a_local_called_once_inside_a_large_scc_is_inlined_as_in_opt() {
    let (_dir, ours, theirs) = beside_serial("lua");
    let symbols = |object: &Path| nm(object, &["--defined-only", "--format=just-symbols"]);
    let (ours, theirs) = (symbols(&ours), symbols(&theirs));
    for name in ["genstep", "incstep"] {
        let has = |list: &[String]| list.iter().any(|n| n == name);
        assert!(!has(&theirs), "the serial build keeps {name}");
        assert!(
            !has(&ours),
            "{name} is left out of line, not inlined into luaC_step"
        );
    }
}

/// `always-inline` runs on the whole module before the walk, as in `opt`, not in the walk's
/// chunks: there, zstd's large `alwaysinline` templates stayed calls (`.text` 0.54 of `opt`'s),
/// and with their bodies imported, each walked template had inlined its callees as if it were
/// their only caller (1.07).
#[test]
fn always_inline_comes_before_the_walk_as_in_opt() {
    let (_dir, ours, theirs) = beside_serial("zstd");
    let (ours, theirs) = (
        section_bytes(&ours, ".text"),
        section_bytes(&theirs, ".text"),
    );
    assert!(
        ours * 100 >= theirs * 98 && ours * 100 <= theirs * 102,
        "zstd: .text {ours} bytes, the serial build's {theirs}"
    );
}
