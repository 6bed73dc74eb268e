//! Faults and limits: the GNU make jobserver, the memory cap, isolation in child processes, and
//! inputs at the extremes (one enormous function, 100,000 tiny functions, declarations only).
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A C program of `functions` functions with loops and branches, compiled by clang to unoptimized
/// bitcode (as a compiler front end hands it over): enough chunks and work for several workers.
fn c_module(dir: &Path, functions: usize) -> PathBuf {
    let mut c = String::from("int table[256];\n");
    for i in 0..functions {
        c.push_str(&format!(
            "int work{i}(int *a, int n) {{\n  int s = {i};\n  for (int k = 0; k < n; k++) {{\n    \
             if (a[k] & {m}) s += a[k] * {i}; else s ^= table[(a[k] + k) & 255];\n    \
             for (int j = 0; j < 4; j++) s += (s >> j) + table[j * {i} & 255];\n  }}\n  \
             return s;\n}}\n",
            m = i % 7 + 1
        ));
    }
    front_end_bitcode(dir, "module", &c)
}

/// C `source` compiled by clang to unoptimized bitcode (`DIR/NAME.bc`), as a compiler front
/// end hands it over: not yet `optnone`, so that llpar's passes do run on it.
fn front_end_bitcode(dir: &Path, name: &str, source: &str) -> PathBuf {
    let (c, bitcode) = (
        dir.join(format!("{name}.c")),
        dir.join(format!("{name}.bc")),
    );
    std::fs::write(&c, source).unwrap();
    run_ok(
        Command::new(llvm_tool("clang"))
            .args(["-O0", "-Xclang", "-disable-O0-optnone", "-emit-llvm", "-c"])
            .arg(&c)
            .arg("-o")
            .arg(&bitcode),
    );
    bitcode
}

fn stats_line<'a>(stderr: &'a str, prefix: &str) -> &'a str {
    stderr
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no '{prefix}' line in:\n{stderr}"))
}

/// "llpar: at most N chunk(s) at once; ..." -> N
fn most_at_once(stderr: &str) -> usize {
    stats_line(stderr, "llpar: at most ")
        .trim_start_matches("llpar: at most ")
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn make_jobserver_grants_the_workers() {
    let dir = tempfile::tempdir().unwrap();
    let module = c_module(dir.path(), 96);
    // `a` asks for 8 workers while `b` holds make -j2's only token until `a` is done: llpar may
    // run one worker, on the slot make started it with. `c` is `a` without the `+` that passes
    // make's jobserver down: llpar must not take that as leave to use 8.
    let makefile = "\
all: a b
a:
\t+$(LLPAR) -O2 -j8 --min-chunk-cost=1 --stats $(IN) -o a.bc 2> a.stats; s=$$?; touch a.done; exit $$s
b:
\tfor i in $$(seq 1200); do [ -e a.done ] && exit 0; sleep 0.1; done; exit 1
c:
\t$(LLPAR) -O2 -j8 --min-chunk-cost=1 --stats $(IN) -o c.bc 2> c.stats
alone:
\t+$(LLPAR) -O2 -j8 --min-chunk-cost=1 --stats $(IN) -o alone.bc 2> alone.stats
";
    std::fs::write(dir.path().join("Makefile"), makefile).unwrap();
    let make = |args: &[&str]| {
        let out = run(Command::new("make")
            .current_dir(dir.path())
            .args(args)
            .arg(format!("LLPAR={}", env!("CARGO_BIN_EXE_llpar")))
            .arg(format!("IN={}", module.display()))
            .env_remove("MAKEFLAGS")
            .env_remove("CARGO_MAKEFLAGS")
            .env_remove("MFLAGS"));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "make {args:?} failed:\n{stderr}");
        // make complains when tokens are lost or not given back.
        assert!(!stderr.contains("jobserver"), "make {args:?}:\n{stderr}");
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        (read, stderr)
    };
    let (read, _) = make(&["-j2", "all"]);
    assert_eq!(most_at_once(&read("a.stats")), 1, "{}", read("a.stats"));

    // Alone under make -j3, make has two tokens to give beside llpar's own slot: llpar takes
    // them (more than one chunk at once) and no more (at most three).
    let (read, _) = make(&["-j3", "alone"]);
    let most = most_at_once(&read("alone.stats"));
    assert!((2..=3).contains(&most), "{}", read("alone.stats"));

    let (read, _) = make(&["-j2", "c"]);
    let stats = read("c.stats");
    assert!(
        stats.contains("llpar: warning: MAKEFLAGS names jobserver descriptors"),
        "{stats}"
    );
    assert_eq!(most_at_once(&stats), 1, "{stats}");

    // The jobserver changes when chunks run, never the output.
    let plain = run_ok(
        llpar()
            .args(["-O2", "-j8", "--min-chunk-cost=1", "-o", "-"])
            .arg(&module),
    );
    assert_eq!(std::fs::read(dir.path().join("a.bc")).unwrap(), plain);
    assert_eq!(std::fs::read(dir.path().join("alone.bc")).unwrap(), plain);
}

#[test]
fn memory_cap_lowers_parallelism_not_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let module = c_module(dir.path(), 64);
    let run_with = |extra: &[&str]| {
        let out = run(llpar()
            .args([
                "-O2",
                "--emit=obj",
                "-j4",
                "--min-chunk-cost=1",
                "--stats",
                "-o",
                "-",
            ])
            .args(extra)
            .arg(&module));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        (out.stdout, stderr)
    };
    let (free, free_stats) = run_with(&[]);
    // A cap below what the process already holds leaves room for one chunk at a time, where
    // without it several run at once.
    let (capped, capped_stats) = run_with(&["--max-memory=1M"]);
    assert_eq!(most_at_once(&capped_stats), 1, "{capped_stats}");
    assert!(most_at_once(&free_stats) >= 2, "{free_stats}");
    assert_eq!(free, capped, "the memory cap changed the object");

    let out = run(llpar()
        .args(["-O2", "--max-memory=lots", "-o", "-"])
        .arg(&module));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a size"));
}

#[test]
fn isolated_chunks_give_the_same_output() {
    let dir = tempfile::tempdir().unwrap();
    let module = c_module(dir.path(), 24);
    for emit in ["--emit=bc", "--emit=obj"] {
        let threads = run_ok(llpar().args(["-O2", "-j2", emit, "-o", "-"]).arg(&module));
        let isolated = run_ok(
            llpar()
                .args(["-O2", "-j2", "--isolate", emit, "-o", "-"])
                .arg(&module),
        );
        assert_eq!(threads, isolated, "--isolate changed the output of {emit}");
    }
}

/// A C program whose `functions` functions call each other as a binary tree (`f{i}` calls
/// `f{2i+1}` and `f{2i+2}`): a call graph of several levels for the parallel walk.
fn call_tree_module(dir: &Path, functions: usize) -> PathBuf {
    let mut c = String::from("int table[256];\n");
    for i in (0..functions).rev() {
        let calls: String = [2 * i + 1, 2 * i + 2]
            .iter()
            .filter(|&&k| k < functions)
            .map(|k| format!("    s += f{k}(a, n - 1) >> {};\n", k % 5))
            .collect();
        c.push_str(&format!(
            "int f{i}(int *a, int n) {{\n  int s = {i};\n  for (int k = 0; k < n; k++) {{\n    \
             s += a[k] * table[(a[k] + {i}) & 255];\n{calls}  }}\n  return s;\n}}\n"
        ));
    }
    front_end_bitcode(dir, "tree", &c)
}

/// The parallel walk's chunks wait for each other: in child processes (`--isolate`), one at
/// a time under a memory cap, or with a make jobserver's tokens, they give the same bytes.
#[test]
fn the_walk_is_the_same_isolated_capped_and_under_make() {
    let dir = tempfile::tempdir().unwrap();
    let module = call_tree_module(dir.path(), 40);
    let walk = [
        "-O2",
        "-j2",
        "--inliner=parallel",
        "--min-chunk-cost=1",
        "--stats",
    ];
    let object = |extra: &[&str]| {
        let out = run(llpar()
            .args(walk)
            .args(extra)
            .args(["--emit=obj", "-o", "-"])
            .arg(&module));
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{extra:?}: {stderr}");
        (out.stdout, stderr)
    };
    let (threads, stats) = object(&[]);
    let chain = stats_line(&stats, "llpar: call-graph chain: ");
    assert!(!chain.starts_with("llpar: call-graph chain: 1 "), "{chain}");
    assert_eq!(
        threads,
        object(&["--isolate"]).0,
        "--isolate changed the object"
    );
    let (capped, capped_stats) = object(&["--max-memory=1M"]);
    assert_eq!(most_at_once(&capped_stats), 1, "{capped_stats}");
    assert_eq!(threads, capped, "the memory cap changed the object");
    let makefile = dir.path().join("Makefile");
    std::fs::write(
        &makefile,
        "all:\n\t+$(LLPAR) -O2 -j4 --inliner=parallel --min-chunk-cost=1 --emit=obj $(IN) -o made.o\n",
    )
    .unwrap();
    run_ok(
        Command::new("make")
            .args(["-s", "-j2", "-f"])
            .arg(&makefile)
            .arg(format!("LLPAR={}", env!("CARGO_BIN_EXE_llpar")))
            .arg(format!("IN={}", module.display()))
            .current_dir(dir.path()),
    );
    let made = std::fs::read(dir.path().join("made.o")).unwrap();
    assert_eq!(threads, made, "the jobserver changed the object");
}

/// A closed stderr (`llpar --stats ... 2>&1 | head -1`) must not turn the messages into a
/// panic: once, the panic's own report failed too, the process aborted, and the crash handler
/// waited forever for itself.
#[test]
fn closed_stderr_neither_panics_nor_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let module = c_module(dir.path(), 24);
    let output = dir.path().join("out.o");
    let mut child = llpar()
        .args([
            "-O2",
            "-j2",
            "--emit=obj",
            "--stats",
            "--print-pipeline-passes",
            "-o",
        ])
        .arg(&output)
        .arg(&module)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let start = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > std::time::Duration::from_secs(120) {
            let _ = child.kill();
            panic!("llpar hangs when its stderr is closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert!(std::fs::read(&output).unwrap().starts_with(b"\x7fELF"));
}

/// Runs llpar with --stats on `module`, checks the output verifies, and returns --stats.
fn optimize_with_stats(dir: &Path, module: &Path, args: &[&str]) -> String {
    let output = dir.join("out.bc");
    let out = run(llpar()
        .args(args)
        .arg("--stats")
        .arg(module)
        .arg("-o")
        .arg(&output));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    assert_verifies(&output);
    stderr
}

#[test]
fn one_enormous_function() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = String::from("int huge(int *a, int n) {\n  int s = 0;\n");
    for i in 0..3000 {
        c.push_str(&format!(
            "  if (a[{}] > {i}) s += a[{}] * {i}; else s ^= a[{}] + n;\n",
            i % 97,
            i * 13 % 97,
            i * 7 % 97
        ));
        if i % 50 == 0 {
            c.push_str(&format!(
                "  for (int i = 0; i < n; i++) s += a[i] >> {};\n",
                i % 5
            ));
        }
    }
    c.push_str("  return s;\n}\nint small(int x) { return x + 1; }\n");
    let module = front_end_bitcode(dir.path(), "huge", &c);
    let stats = optimize_with_stats(dir.path(), &module, &["-O2", "-j2"]);
    let critical = stats_line(&stats, "llpar: critical path: ");
    assert!(
        critical.contains("its largest function huge ("),
        "{critical}"
    );
}

#[test]
fn a_hundred_thousand_tiny_functions() {
    let dir = tempfile::tempdir().unwrap();
    let mut ir = String::from("declare void @sink(i32)\n");
    for i in 0..100_000 {
        ir.push_str(&format!(
            "define i32 @f{i}(i32 %x) {{\n  %y = add i32 %x, {i}\n  call void @sink(i32 %y)\n  ret i32 %y\n}}\n"
        ));
    }
    let module = dir.path().join("tiny.ll");
    std::fs::write(&module, ir).unwrap();
    let stats = optimize_with_stats(
        dir.path(),
        &module,
        &[
            "-j2",
            "--passes=function(instcombine<no-verify-fixpoint>,simplifycfg)",
        ],
    );
    // About 32 chunks of about 9,400 instructions (cut by content, so not exactly 32).
    let chunks: usize = stats_line(&stats, "llpar: 2 worker")
        .split(", ")
        .find_map(|part| part.strip_suffix(" chunk(s)")?.parse().ok())
        .unwrap();
    assert!((20..=32).contains(&chunks), "{stats}");
    let critical = stats_line(&stats, "llpar: critical path: ");
    assert!(critical.contains("functions: f"), "{critical}");
    // Every function is still there, under its own name.
    let ir = run_ok(
        Command::new(llvm_tool("llvm-dis"))
            .arg(dir.path().join("out.bc"))
            .arg("-o")
            .arg("-"),
    );
    let ir = String::from_utf8(ir).unwrap();
    assert_eq!(ir.matches("\ndefine ").count(), 100_000);
    assert!(ir.contains("define i32 @f99999(i32 %x)"));
}

#[test]
fn declarations_only() {
    let dir = tempfile::tempdir().unwrap();
    let module = root().join("ir-fixtures/declarations-only.ll");
    let stats = optimize_with_stats(dir.path(), &module, &["-O2", "-j4"]);
    assert!(
        stats.contains("llpar: critical path: no parallel phase"),
        "{stats}"
    );
}
