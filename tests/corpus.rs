//! On real modules (sqlite3 built by clang, regex-automata emitted by rustc; see
//! scripts/build-corpus.sh): llpar's output for function-only pipelines is equivalent to `opt`'s
//! under the strict comparison of tests/common/irdiff.rs, it passes the verifier, and its bytes do not depend on `-j`.
mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

fn opt_reference(input: &PathBuf, pipeline: &str, out: &PathBuf) {
    run_ok(
        Command::new(llvm_tool("opt"))
            .arg(format!("-passes={pipeline}"))
            .arg(input)
            .arg("-o")
            .arg(out),
    );
}

fn llpar_output(input: &PathBuf, args: &[&str], out: &PathBuf) {
    run_ok(llpar().arg(input).args(args).arg("-o").arg(out));
}

fn equivalent_to_opt(module: &str, which: &str) {
    let input = corpus(module);
    let dir = tempfile::tempdir().unwrap();
    let pipeline = pipeline(which);
    let reference = dir.path().join("opt.bc");
    let candidate = dir.path().join("llpar.bc");
    opt_reference(&input, &pipeline, &reference);
    llpar_output(
        &input,
        &["-j2", &format!("--passes={pipeline}")],
        &candidate,
    );
    assert_verifies(&candidate);
    let found = differences(&disassemble(&reference), &disassemble(&candidate), 1000);
    let unexplained: Vec<&String> = found.iter().filter(|d| !inferred_call_site(d)).collect();
    assert!(
        unexplained.is_empty(),
        "{} and {} differ:\n{}",
        reference.display(),
        candidate.display(),
        unexplained
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// The one difference from `opt` that the parallel phase cannot avoid (ARCHITECTURE.md, "What
/// the parallel phase cannot reproduce"): library-call simplification infers attributes on the
/// declaration of a library function it calls (`memchr`: `memory(argmem: read)`), and in `opt`
/// the functions optimized after that see the inferred declaration, so a call simplified there
/// gets other call-site attributes (`noundef`) than in a chunk that saw the input's declaration.
/// A difference is of that kind when both lines are calls that are equal once call-site
/// `noundef` is removed.
fn inferred_call_site(difference: &str) -> bool {
    let line = |side: &str| {
        difference
            .lines()
            .find_map(|l| l.trim_start().strip_prefix(side))
            .map(|l| l.replace("noundef ", ""))
    };
    match (line("reference:"), line("candidate:")) {
        (Some(a), Some(b)) => a.contains(" call ") && a == b,
        _ => false,
    }
}

#[test]
fn sqlite3_light_pipeline_matches_opt() {
    equivalent_to_opt("sqlite3.bc", "light");
}

#[test]
fn sqlite3_loop_pipeline_matches_opt() {
    equivalent_to_opt("sqlite3.bc", "loop");
}

#[test]
fn rustc_crate_light_pipeline_matches_opt() {
    equivalent_to_opt("regex.bc", "light");
}

#[test]
fn rustc_crate_loop_pipeline_matches_opt() {
    equivalent_to_opt("regex.bc", "loop");
}

#[test]
fn sqlite3_with_debug_info_light_pipeline_matches_opt() {
    equivalent_to_opt("sqlite3-g.bc", "light");
}

#[test]
fn output_bytes_do_not_depend_on_threads() {
    let input = corpus("sqlite3.bc");
    let dir = tempfile::tempdir().unwrap();
    let heavy = format!("--passes={}", pipeline("heavy"));
    let outputs: Vec<Vec<u8>> = ["-j1", "-j2", "-j8"]
        .iter()
        .map(|j| {
            let out = dir.path().join(format!("out{j}.bc"));
            llpar_output(&input, &[j, &heavy], &out);
            std::fs::read(&out).unwrap()
        })
        .collect();
    assert!(outputs[0] == outputs[1], "-j1 and -j2 outputs differ");
    assert!(outputs[0] == outputs[2], "-j1 and -j8 outputs differ");
    assert_verifies(&dir.path().join("out-j1.bc"));
}

/// A chunk as a worker's passes see it: its IR as the bitcode reader gives it back, with the
/// order of every use list. (The reader resets the attributes of intrinsic declarations, which
/// the home module may carry otherwise, so the bytes may differ where this does not.)
fn as_read(chunk: &std::path::Path) -> String {
    let out = run_ok(
        Command::new(llvm_tool("llvm-dis"))
            .args(["-preserve-ll-uselistorder", "-o", "-"])
            .arg(chunk),
    );
    let text = String::from_utf8_lossy(&out).into_owned();
    let lines = text.lines().filter(|l| !l.starts_with("; ModuleID"));
    lines.collect::<Vec<_>>().join("\n")
}

/// Chunks saved by `--save-temps` from a run whose workers extract them (the default) and from
/// one whose calling thread does (under a memory cap), by name, each as a worker reads it.
fn saved_chunks(
    module: &std::path::Path,
    args: &[&str],
    dir: &std::path::Path,
) -> Vec<(String, String)> {
    for (sub, extra) in [("workers", &[][..]), ("caller", &["--max-memory=1T"][..])] {
        let temps = dir.join(sub);
        run_ok(
            llpar()
                .arg(module)
                .args(args)
                .args(extra)
                .arg("--save-temps")
                .arg(&temps)
                .args(["-o", "/dev/null"]),
        );
    }
    let mut chunks = Vec::new();
    for entry in std::fs::read_dir(dir.join("workers")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.contains(".chunk") && name.ends_with("bc") && !name.ends_with(".opt.bc") {
            let ours = as_read(&dir.join("workers").join(&name));
            let theirs = as_read(&dir.join("caller").join(&name));
            assert!(
                ours == theirs,
                "chunk {name} differs when the workers extract it"
            );
            chunks.push((name, ours));
        }
    }
    chunks
}

/// The order of a global's uses survives extraction in a worker, from a copy whose use lists
/// hold only what it has read: `uselistorder` gives `@g` an order that is not the order of its
/// uses in the text, and the chunks record it.
#[test]
fn workers_extract_chunks_with_the_home_module_use_list_order() {
    let dir = tempfile::tempdir().unwrap();
    let module = dir.path().join("uses.ll");
    let mut ir = String::from("@g = global i32 0\n@h = global i32 0\n");
    for f in 0..6 {
        ir.push_str(&format!(
            "define i32 @f{f}() {{\n  %a = load i32, ptr @g\n  %b = load i32, ptr @h\n  %c = load i32, ptr @g\n  %s = add i32 %a, %b\n  %t = add i32 %s, %c\n  ret i32 %t\n}}\n"
        ));
    }
    // Twelve uses of @g, reversed in pairs.
    ir.push_str("uselistorder ptr @g, { 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10 }\n");
    std::fs::write(&module, ir).unwrap();
    let args = [
        "--passes=function(no-op-function)",
        "-j2",
        "--min-chunk-cost=1",
    ];
    let chunks = saved_chunks(&module, &args, dir.path());
    assert!(chunks.len() >= 2, "{} chunks", chunks.len());
    // And each run extracted where it was meant to.
    let extraction = |extra: &[&str]| -> String {
        let out =
            run(llpar()
                .arg(&module)
                .args(args)
                .args(extra)
                .args(["--stats", "-o", "/dev/null"]));
        let stats = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = stats.lines().find(|l| l.starts_with("llpar: extraction"));
        line.unwrap_or(&stats).to_string()
    };
    let workers = extraction(&[]);
    assert!(
        workers.starts_with("llpar: extraction 0.0 ms on the calling thread"),
        "{workers}"
    );
    let caller = extraction(&["--max-memory=1T"]);
    assert!(caller.contains("in the workers 0.0 ms"), "{caller}");
}

/// Workers extract their chunks from lazily read copies of the home module; under a memory cap
/// the calling thread extracts them from the home module itself. A chunk must read the same
/// either way, debug info included (sqlite3 with `-g`: many local functions,
/// popular globals, compile units per chunk), after the module passes of `-O2`.
#[test]
fn chunks_extracted_by_workers_equal_those_of_the_calling_thread() {
    let input = corpus("sqlite3-g.bc");
    let dir = tempfile::tempdir().unwrap();
    let chunks = saved_chunks(&input, &["-O2", "--emit=obj", "-j2"], dir.path());
    assert!(chunks.len() >= 16, "{} chunks", chunks.len());
}

#[test]
fn o2_output_of_a_rust_crate_verifies_and_is_deterministic() {
    let input = corpus("regex.bc");
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.bc");
    let b = dir.path().join("b.bc");
    llpar_output(&input, &["-O2", "-j1"], &a);
    llpar_output(&input, &["-O2", "-j3"], &b);
    assert_verifies(&a);
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "-O2 output depends on -j"
    );
}

/// Global symbols an object defines, sorted (`llvm-nm --defined-only -g`).
fn defined_globals(object: &std::path::Path) -> Vec<String> {
    let out = run_ok(
        Command::new(llvm_tool("llvm-nm"))
            .args(["--defined-only", "-g", "--format=just-symbols"])
            .arg(object),
    );
    let mut names: Vec<String> = String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect();
    names.sort();
    names
}

#[test]
fn lua_object_is_deterministic_and_runs_like_the_serial_build() {
    let input = corpus("lua.bc");
    let dir = tempfile::tempdir().unwrap();
    let objects: Vec<Vec<u8>> = ["-j1", "-j2", "-j5"]
        .iter()
        .map(|j| {
            let out = dir.path().join(format!("lua{j}.o"));
            llpar_output(&input, &["-O2", "--emit=obj", j], &out);
            std::fs::read(&out).unwrap()
        })
        .collect();
    assert!(
        objects[0] == objects[1] && objects[0] == objects[2],
        "the object depends on -j"
    );
    let ours = dir.path().join("lua-j2.o");
    let reference = dir.path().join("serial.o");
    serial_o2_object(&input, &reference);
    assert_eq!(defined_globals(&ours), defined_globals(&reference));
    let workload = root().join("scripts/workloads");
    let outputs: Vec<Vec<u8>> = [&ours, &reference]
        .iter()
        .map(|object| {
            let program = object.with_extension("exe");
            run_ok(
                Command::new(llvm_tool("clang"))
                    .args(["-O2", "-fPIE", "-pie"])
                    .arg(format!("-I{}", root().join("target/corpus/lua").display()))
                    .arg(workload.join("lua_driver.c"))
                    .arg(object)
                    .arg("-o")
                    .arg(&program)
                    .arg("-lm"),
            );
            run_ok(
                Command::new(&program)
                    .arg(workload.join("workload.lua"))
                    .arg("0.2"),
            )
        })
        .collect();
    assert!(!outputs[0].is_empty());
    assert_eq!(
        String::from_utf8_lossy(&outputs[0]),
        String::from_utf8_lossy(&outputs[1])
    );
}

#[test]
fn rustc_crate_object_defines_the_same_symbols_as_the_serial_build() {
    let input = corpus("regex.bc");
    let dir = tempfile::tempdir().unwrap();
    let ours = dir.path().join("llpar.o");
    let reference = dir.path().join("serial.o");
    llpar_output(&input, &["-O2", "--emit=obj", "-j2"], &ours);
    serial_o2_object(&input, &reference);
    assert_eq!(defined_globals(&ours), defined_globals(&reference));
}

/// The entries of a directory.
fn entries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn an_interrupted_run_leaves_no_file_behind() {
    // llpar writes temporary files in its temporary directory (TMPDIR: the scratch directory of
    // the object link) and beside its output (the output before its rename). The run is stopped
    // (SIGSTOP) as soon as one of them exists, and SIGINT sent while it is there: llpar must
    // remove it and exit with 128 + SIGINT. A run that ends before a temporary file is seen is
    // tried again.
    use std::time::{Duration, Instant};
    let input = corpus("sqlite3.bc");
    for attempt in 1..=5 {
        let out_dir = tempfile::tempdir().unwrap();
        let tmp_dir = tempfile::tempdir().unwrap();
        let output = out_dir.path().join("out.o");
        let mut child = llpar()
            .arg(&input)
            .args(["-O1", "--emit=obj", "-j2", "-o"])
            .arg(&output)
            .env("TMPDIR", tmp_dir.path())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let pid = child.id() as i32;
        let signal = |s| {
            // SAFETY: signals to our own child process, which has not been waited for.
            unsafe { libc::kill(pid, s) };
        };
        let temporaries = || {
            let mut found = entries(tmp_dir.path());
            found.extend(entries(out_dir.path()));
            found
        };
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut interrupted_with = None;
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            if !temporaries().is_empty() {
                signal(libc::SIGSTOP);
                // Stopped: what exists now exists when SIGINT arrives.
                let present = temporaries();
                if !present.is_empty() && child.try_wait().unwrap().is_none() {
                    signal(libc::SIGINT);
                    interrupted_with = Some(present);
                }
                signal(libc::SIGCONT);
                if interrupted_with.is_some() {
                    break;
                }
            }
            std::thread::sleep(Duration::from_micros(500));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let Some(present) = interrupted_with else {
            assert!(
                out.status.success(),
                "attempt {attempt}: {:?}: {stderr}",
                out.status
            );
            eprintln!("attempt {attempt}: the run ended before a temporary file was seen");
            continue;
        };
        assert_eq!(
            out.status.code(),
            Some(128 + libc::SIGINT),
            "interrupted while {present:?} existed: {stderr}"
        );
        // A tool llpar ran (ld.lld) may still be finishing: give it time to leave files.
        std::thread::sleep(Duration::from_millis(500));
        let left = temporaries();
        assert!(
            left.is_empty(),
            "interrupted while {present:?} existed; left behind: {left:?}"
        );
        return;
    }
    panic!("no run was seen with a temporary file in 5 attempts");
}

#[test]
fn an_llvm_fatal_error_in_a_worker_is_reported_with_its_chunk_and_leaves_no_output() {
    // Plain `instcombine` verifies that it reaches a fixpoint and aborts when it does not, which
    // happens on sqlite3 (with `opt` too).
    let input = corpus("sqlite3.bc");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.bc");
    // The reproducer goes to the scratch directory, not the shared temporary one.
    let out = run(llpar()
        .arg(&input)
        .args(["--passes=function(instcombine)", "-j2", "-o"])
        .arg(&output)
        .arg("--crash-dir")
        .arg(dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("chunk")
            && stderr.contains("function(instcombine)")
            && stderr.contains("fixpoint"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("__llpar"),
        "a promoted name leaked into the message: {stderr}"
    );
    assert!(!output.exists());
    let reproducers: Vec<String> = entries(dir.path())
        .into_iter()
        .filter(|n| n.starts_with("llpar-crash-") && n.ends_with(".bc"))
        .collect();
    assert_eq!(reproducers.len(), 1, "{reproducers:?}");
}
