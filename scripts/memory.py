#!/usr/bin/env python3
"""Peak memory and parallelism of llpar -O2 to object code at several -j, with and without
--max-memory, and the cost of --isolate: one table, from llpar's own --stats (peak resident
memory of the process, the most chunks that ran at once) and wall time.

usage: memory.py [--module target/corpus/sqlite3.bc] [--caps 180M,200M,220M] [--runs 1]
"""
import argparse, os, statistics, subprocess, sys, time

from paths import ROOT, LLPAR  # noqa: E402


def run(module, args):
    start = time.perf_counter()
    out = subprocess.run([LLPAR, "-O2", "--emit=obj", "--stats", module, "-o", "/dev/null"] + args,
                         capture_output=True, text=True)
    wall = time.perf_counter() - start
    if out.returncode != 0:
        sys.exit(f"memory.py: llpar {' '.join(args)} failed:\n{out.stderr}")
    line = next(l for l in out.stderr.splitlines() if l.startswith("llpar: at most "))
    most = int(line.split()[3])
    peak = float(line.split("peak memory ")[1].split()[0])
    return wall, most, peak


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--module", default=os.path.join(ROOT, "target", "corpus", "sqlite3.bc"))
    ap.add_argument("--caps", default="180M,200M,220M")
    ap.add_argument("--runs", type=int, default=1)
    a = ap.parse_args()
    configs = [["-j1"], ["-j2"], ["-j8"]] + [["-j8", f"--max-memory={c}"] for c in a.caps.split(",")] \
        + [["-j2", "--isolate"]]
    results = {tuple(c): [] for c in configs}
    for _ in range(a.runs):
        for c in configs:
            results[tuple(c)].append(run(a.module, c))
    print(f"module: {os.path.basename(a.module)}, -O2 to object code, medians of {a.runs} run(s)")
    print("| options | wall s | most chunks at once | peak memory MiB |")
    print("|---|---|---|---|")
    for c in configs:
        r = results[tuple(c)]
        print(f"| {' '.join(c)} | {statistics.median(x[0] for x in r):.2f} | "
              f"{max(x[1] for x in r)} | {statistics.median(x[2] for x in r):.0f} |")


if __name__ == "__main__":
    main()
