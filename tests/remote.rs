//! `--remote-executor`: chunks run as REAPI actions on a real server (BuildGrid, with two workers
//! of scripts/reapi/worker.py, started by scripts/reapi/server.sh and stopped after each test).
//! The objects are the same bytes as a local run's; a second run is answered from the server's
//! action cache; a worker killed in the middle of an action costs a retry, not the run; a blob
//! damaged in the server's storage is rejected and recomputed; an unreachable or silent server
//! is one error line, or a local run with `--remote-fallback`.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// One cluster at a time: each uses two workers of a 2-core machine.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// A running cluster, stopped when dropped.
struct Cluster {
    dir: tempfile::TempDir,
    address: String,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let out = run_ok(
            Command::new(root().join("scripts/reapi/server.sh"))
                .arg("start")
                .arg(dir.path())
                .arg("2"),
        );
        let address = String::from_utf8(out).unwrap().trim().to_string();
        Cluster { dir, address }
    }

    fn url(&self) -> String {
        format!("--remote-executor=grpc://{}", self.address)
    }

    /// The pid of worker `n` (1-based).
    fn worker_pid(&self, n: usize) -> i32 {
        let path = self.dir.path().join(format!("worker-{n}.pid"));
        std::fs::read_to_string(path)
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn worker_log(&self, n: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("worker-{n}.log"))).unwrap_or_default()
    }

    /// The files of the server's CAS.
    fn blobs(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut pending = vec![self.dir.path().join("cas")];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                match entry.path().is_dir() {
                    true => pending.push(entry.path()),
                    false => found.push(entry.path()),
                }
            }
        }
        found
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/reapi/server.sh"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// `compile_o2` with `--stats`, which the tests read.
fn compile(input: &Path, out: &Path, extra: &[&str]) -> String {
    compile_o2(input, out, &["--stats"], extra)
}

/// (chunks run remotely, of them from the action cache) from `--stats`.
fn remote_line(stats: &str) -> (usize, usize) {
    let line = stats
        .lines()
        .find(|l| l.starts_with("llpar: remote: ") && l.contains("ran remotely"))
        .unwrap_or_else(|| panic!("no remote line in:\n{stats}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[2].parse().unwrap(), words[6].parse().unwrap())
}

#[test]
fn remote_objects_are_local_bytes_and_come_back_from_the_action_cache() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    for name in ["lua.bc", "lua-g.bc", "sqlite3.bc"] {
        let input = corpus(name);
        let local = dir.path().join("local.o");
        compile(&input, &local, &[]);
        let remote = dir.path().join("remote.o");
        let trace = dir.path().join("trace.json");
        let trace_arg = format!("--time-trace={}", trace.display());
        let stats = compile(&input, &remote, &[&cluster.url(), &trace_arg]);
        let (ran, cached) = remote_line(&stats);
        let trace = std::fs::read_to_string(&trace).unwrap();
        assert!(
            trace.contains("\"upload ") && trace.contains("\"remote: queued "),
            "{name}: no remote spans"
        );
        assert!(ran > 1 && cached == 0, "{name}: {stats}");
        same_bytes(&local, &remote);
        let stats = compile(&input, &remote, &[&cluster.url()]);
        assert_eq!(
            remote_line(&stats),
            (ran, ran),
            "{name}: not all from the action cache"
        );
        same_bytes(&local, &remote);
    }
    // The parallel call-graph walk: a chunk goes out once the chunks it imports from are back.
    let input = corpus("lua.bc");
    let walk = ["--inliner=parallel", "--emit=bc"];
    let local = dir.path().join("local.bc");
    compile(&input, &local, &walk);
    let remote = dir.path().join("remote.bc");
    let stats = compile(
        &input,
        &remote,
        &[&walk[..], &[cluster.url().as_str()]].concat(),
    );
    assert!(remote_line(&stats).0 > 1, "{stats}");
    same_bytes(&local, &remote);
}

#[test]
fn a_worker_killed_in_an_action_costs_a_retry_not_the_run() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("lua.bc");
    let local = dir.path().join("local.o");
    compile(&input, &local, &[]);
    let remote = dir.path().join("remote.o");
    let llpar = llpar()
        .args(["-O2", "--emit=obj", "-j2", &cluster.url()])
        .arg(&input)
        .arg("-o")
        .arg(&remote)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Kill worker 1 as soon as it has taken an action, in the middle of it.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cluster.worker_log(1).contains("started") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        cluster.worker_log(1).contains("started"),
        "worker 1 took no action"
    );
    // SAFETY: kill only sends a signal to the worker process this test's cluster started.
    unsafe { libc::kill(cluster.worker_pid(1), libc::SIGKILL) };
    let output = llpar.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    same_bytes(&local, &remote);
}

#[test]
fn a_damaged_blob_is_rejected_and_recomputed() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let cluster = Cluster::start();
    let dir = tempfile::tempdir().unwrap();
    let input = corpus("lua.bc");
    let local = dir.path().join("local.o");
    compile(&input, &local, &[]);
    let remote = dir.path().join("remote.o");
    compile(&input, &remote, &[&cluster.url()]);
    // The chunks' objects in the server's storage damaged (the ELF files but llpar's own
    // executable, which is far larger): the action cache now points at results that do not
    // match their digests.
    let mut damaged = 0;
    for blob in cluster.blobs() {
        let mut bytes = std::fs::read(&blob).unwrap();
        if !bytes.starts_with(b"\x7fELF") || bytes.len() > 8 << 20 {
            continue;
        }
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        std::fs::write(&blob, bytes).unwrap();
        damaged += 1;
    }
    assert!(
        damaged > 1,
        "no chunk results found in the server's storage"
    );
    let again = dir.path().join("again.o");
    // No --remote-fallback: a damaged result is never the user's problem.
    let stats = compile(&input, &again, &[&cluster.url()]);
    same_bytes(&local, &again);
    // BuildGrid keeps its damaged copy when the action runs again, so llpar rejects the
    // result on every try and computes the chunks here.
    assert!(
        stats.contains("does not match its digest: rejected"),
        "{stats}"
    );
}

#[test]
fn an_unreachable_or_silent_server_is_one_error_line_or_a_local_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("ir-fixtures/inline-across-chunks.ll");
    let out = dir.path().join("out.o");
    // Nothing listens on a port just released; a listener that never answers stands for a
    // server that hangs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = silent.local_addr().unwrap();
    for address in [closed, silent_addr] {
        let start = std::time::Instant::now();
        let output = run(llpar()
            .args(["-O2", "--emit=obj", "--remote-timeout=3"])
            .arg(format!("--remote-executor=grpc://{address}"))
            .arg(&input)
            .arg("-o")
            .arg(&out));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("llpar: error: --remote-executor: "),
            "{stderr}"
        );
        assert!(!out.exists());
        assert!(
            start.elapsed() < std::time::Duration::from_secs(30),
            "waited too long"
        );
        let plain = dir.path().join("plain.o");
        compile(&input, &plain, &[]);
        let fallback = dir.path().join("fallback.o");
        let stderr = compile(
            &input,
            &fallback,
            &[
                &format!("--remote-executor=grpc://{address}"),
                "--remote-fallback",
                "--remote-timeout=3",
            ],
        );
        assert!(
            stderr.contains("llpar: warning: --remote-executor: "),
            "{stderr}"
        );
        same_bytes(&plain, &fallback);
    }
    drop(silent);
}
