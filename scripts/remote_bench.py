#!/usr/bin/env python3
"""llpar through a REAPI cluster (BuildGrid and two workers on this machine, scripts/reapi),
beside the local run, in one invocation.

For each module: the local `llpar -O2 --emit=obj -jN` (median of --runs), then through the
cluster: the first run (the server's action cache empty for this module) and --runs more (all
from the action cache). Every remote object is compared with the local one's bytes; the chunk
counts come from --stats.

usage: remote_bench.py [--runs R] [--jobs N] [--modules sqlite3,lua]
"""
import argparse, os, re, shutil, statistics, subprocess, sys, tempfile, time

from paths import ROOT, LLPAR, CORPUS  # noqa: E402

SERVER = os.path.join(ROOT, "scripts", "reapi", "server.sh")


def timed(cmd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"remote_bench.py: {' '.join(cmd)} failed:\n{proc.stderr}")
    return time.perf_counter() - start, proc.stderr


def remote_counts(stderr):
    m = re.search(r"remote: (\d+) chunks ran remotely, (\d+) of them from the action cache", stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--modules", default="sqlite3,lua")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="llpar-remote-bench-")
    run_dir = os.path.join(work, "cluster")
    try:
        address = subprocess.run([SERVER, "start", run_dir, "2"], check=True,
                                 capture_output=True, text=True).stdout.strip()
        rows = [measure(args, work, module, address) for module in args.modules.split(",")]
    finally:
        subprocess.run([SERVER, "stop", run_dir])
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nllpar -O2 --emit=obj -j{args.jobs}, BuildGrid 0.2.53 with 2 workers on this machine; "
          f"medians of {args.runs}; ratio = time / local time")
    print("| module | local s | remote, first s | ratio | chunks (from action cache) "
          "| remote, again s | ratio | chunks (from action cache) | bytes |")
    print("|---|---:|---:|---:|---|---:|---:|---|---|")
    for r in rows:
        print(f"| {r['module']} | {r['local']:.2f} | {r['first']:.2f} | {r['first'] / r['local']:.2f} "
              f"| {r['first_counts'][0]} ({r['first_counts'][1]}) | {r['again']:.2f} "
              f"| {r['again'] / r['local']:.2f} | {r['again_counts'][0]} ({r['again_counts'][1]}) "
              f"| identical |")


def measure(args, work, module, address):
    inp = os.path.join(CORPUS, module + ".bc")
    base = [LLPAR, "-O2", "--emit=obj", f"-j{args.jobs}", "--stats"]
    local_out, remote_out = os.path.join(work, "local.o"), os.path.join(work, "remote.o")
    local = [timed(base + [inp, "-o", local_out])[0] for _ in range(args.runs)]
    remote = base + [f"--remote-executor=grpc://{address}", inp, "-o", remote_out]
    first, err = timed(remote)
    first_counts = remote_counts(err)
    assert open(local_out, "rb").read() == open(remote_out, "rb").read(), f"{module}: bytes differ"
    again, again_counts = [], None
    for _ in range(args.runs):
        t, err = timed(remote)
        again.append(t)
        again_counts = remote_counts(err)
        assert open(local_out, "rb").read() == open(remote_out, "rb").read(), f"{module}: bytes differ"
    return {"module": module, "local": statistics.median(local), "first": first,
            "first_counts": first_counts, "again": statistics.median(again),
            "again_counts": again_counts}


if __name__ == "__main__":
    main()
