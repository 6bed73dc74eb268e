//! `--time-trace` writes a Chrome trace that parses, names its threads, and whose spans nest
//! properly on every thread. Checked with Python's json module.
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
print(len(spans))
"#;

#[test]
fn time_trace_parses_and_nests_per_thread() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.json");
    let input = root().join("ir-fixtures/internal-called-from-two-chunks.ll");
    run_ok(
        llpar()
            .arg(&input)
            .args(["--min-chunk-cost=1", "-j2", "-O2", "--emit=obj", "-o"])
            .arg(dir.path().join("out.o"))
            .arg("--time-trace")
            .arg(&trace),
    );
    let out = run_ok(Command::new("python3").arg("-c").arg(CHECK).arg(&trace));
    let spans: usize = String::from_utf8_lossy(&out).trim().parse().unwrap();
    assert!(spans >= 5, "only {spans} spans");
}
