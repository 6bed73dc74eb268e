//! `--time-trace` writes a Chrome trace that parses, names its threads, and whose spans nest
//! properly on every thread, with LLVM's per-function pass runs above the granularity. Checked with Python's json module.
mod common;
use common::*;
use std::process::Command;

const CHECK: &str = r#"
import json, sys
events = json.load(open(sys.argv[1]))["traceEvents"]
names = {e["tid"]: e["args"]["name"] for e in events if e["ph"] == "M"}
assert "main" in names.values() and any(n.startswith("worker") for n in names.values()), names
spans = [e for e in events if e["ph"] == "X"]
assert any(e["name"].startswith("extract chunk") for e in spans), "no chunk extraction"
assert all(e["tid"] in names for e in spans), "a span on an unnamed thread"
for tid in names:
    mine = sorted((e["ts"], -e["dur"], e["name"]) for e in spans if e["tid"] == tid)
    stack = []
    for ts, neg, name in mine:
        end = ts - neg
        while stack and stack[-1] <= ts:
            stack.pop()
        assert not stack or end <= stack[-1], f"{name} overlaps its enclosing span on thread {tid}"
        stack.append(end)
passes = [e for e in spans if e.get("args", {}).get("detail") in ("first", "second", "helper")]
print(len(spans), len(passes))
"#;

/// Runs llpar -O2 to object code with --time-trace; returns (spans, pass runs on the fixture's
/// functions) after checking the trace.
fn trace_with_granularity(granularity_us: u64) -> (usize, usize) {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.json");
    let input = root().join("ir-fixtures/internal-called-from-two-chunks.ll");
    run_ok(
        llpar()
            .arg(&input)
            .args(["--min-chunk-cost=1", "-j2", "-O2", "--emit=obj", "-o"])
            .arg(dir.path().join("out.o"))
            .arg("--time-trace")
            .arg(&trace)
            .arg(format!("--time-trace-granularity={granularity_us}")),
    );
    let out = run_ok(Command::new("python3").arg("-c").arg(CHECK).arg(&trace));
    let out = String::from_utf8_lossy(&out);
    let mut counts = out.split_whitespace().map(|n| n.parse::<usize>().unwrap());
    (counts.next().unwrap(), counts.next().unwrap())
}

#[test]
fn time_trace_parses_and_nests_per_thread() {
    // Every pass run recorded: the passes on each function show up, nested in the chunk spans.
    let (spans, passes) = trace_with_granularity(0);
    assert!(spans >= 5, "only {spans} spans");
    assert!(
        passes >= 10,
        "only {passes} pass runs on the fixture's functions"
    );
    // Nothing lasts a minute: no pass run recorded, the phases and chunks still are.
    let (spans, passes) = trace_with_granularity(60_000_000);
    assert!(spans >= 5, "only {spans} spans");
    assert_eq!(passes, 0);
}

/// Progress (chunks done, the slowest chunk running) goes to stderr only when it is a terminal
/// (here a pseudo-terminal from util-linux's `script`), and not with --quiet.
#[test]
fn progress_only_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("ir-fixtures/internal-called-from-two-chunks.ll");
    let command = |extra: &str| {
        format!(
            "{} --min-chunk-cost=1 -j2 -O2 {extra} {} -o {}",
            env!("CARGO_BIN_EXE_llpar"),
            input.display(),
            dir.path().join("out.bc").display()
        )
    };
    let on_terminal = |extra: &str| {
        let out = run_ok(Command::new("script").args(["-qec", &command(extra), "/dev/null"]));
        String::from_utf8_lossy(&out).into_owned()
    };
    let shown = on_terminal("");
    assert!(shown.contains("llpar: 3/3 chunks done"), "{shown:?}");
    assert!(!on_terminal("--quiet").contains("chunks done"));
    let piped = run(Command::new("sh").args(["-c", &command("")]));
    assert!(piped.status.success());
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
}
