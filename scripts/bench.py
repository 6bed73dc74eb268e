#!/usr/bin/env python3
"""Side-by-side timing of serial `opt` and llpar on real modules, in one invocation.

For each module and function-only pipeline it runs `opt -passes=P`, `llpar -j1` and `llpar -jN`
(N from --jobs, default 2 and the core count), several times, interleaved, and prints the
medians: wall time, CPU time (user+sys), peak memory, and the ratios to `opt` in the same run.
It also reports where llpar's time goes (from --stats) and whether the floors hold.

usage: bench.py [--runs R] [--modules sqlite3,regex] [--pipelines light,heavy] [--jobs 1,2]
                [--markdown FILE] [--json FILE]
"""
import argparse, atexit, json, os, re, shutil, statistics, subprocess, sys, tempfile, time

from paths import ROOT, VERSION, BIN, LLPAR  # noqa: E402


def measure(cmd):
    """Runs cmd; returns (wall s, cpu s, peak rss MiB, stderr)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"bench.py: {' '.join(cmd)} failed:\n{stderr}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0, stderr


def pipeline(which):
    return subprocess.run([os.path.join(ROOT, "scripts", "pipelines.py"), which],
                          capture_output=True, text=True, check=True).stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--modules", default="sqlite3,regex")
    ap.add_argument("--pipelines", default="light,heavy")
    ap.add_argument("--jobs", default=f"1,2,{os.cpu_count()}")
    ap.add_argument("--markdown")
    ap.add_argument("--json")
    args = ap.parse_args()
    jobs = sorted({int(j) for j in args.jobs.split(",")})
    rows, results = [], []
    tmp = tempfile.mkdtemp(prefix="llpar-bench-")
    atexit.register(shutil.rmtree, tmp, True)
    for module in args.modules.split(","):
        path = os.path.join(ROOT, "target", "corpus", f"{module}.bc")
        for which in args.pipelines.split(","):
            p = pipeline(which)
            tools = {"opt": [f"{BIN}/opt", f"-passes={p}", path, "-o", f"{tmp}/opt.bc"]}
            for j in jobs:
                tools[f"llpar -j{j}"] = [LLPAR, f"-j{j}", f"--passes={p}", path, "-o",
                                         f"{tmp}/llpar{j}.bc", "--stats"]
            samples = {name: [] for name in tools}
            stats = {}
            for _ in range(args.runs):  # interleaved, so drifts hit every tool alike
                for name, cmd in tools.items():
                    wall, cpu, rss, err = measure(cmd)
                    samples[name].append((wall, cpu, rss))
                    stats[name] = err
            base = [statistics.median(x[i] for x in samples["opt"]) for i in range(3)]
            for name in tools:
                med = [statistics.median(x[i] for x in samples[name]) for i in range(3)]
                outside = re.search(r"outside the parallel phases ([0-9.]+)%", stats[name])
                result = {
                    "module": module, "pipeline": which, "tool": name, "runs": args.runs,
                    "wall_s": round(med[0], 3), "cpu_s": round(med[1], 3), "peak_mib": round(med[2], 1),
                    "speedup": round(base[0] / med[0], 2), "cpu_ratio": round(med[1] / base[1], 2),
                    "memory_ratio": round(med[2] / base[2], 2),
                    "serial_share_pct": float(outside.group(1)) if outside else None,
                }
                results.append(result)
                rows.append(result)
    header = ("| module | pipeline | tool | wall s | speedup vs opt | CPU s | CPU ratio | peak MiB |"
              " memory ratio | outside parallel phases |")
    lines = [header, "|" + "---|" * 10]
    for r in rows:
        share = f"{r['serial_share_pct']:.0f}%" if r["serial_share_pct"] is not None else "-"
        lines.append(f"| {r['module']} | {r['pipeline']} | {r['tool']} | {r['wall_s']:.2f} | "
                     f"{r['speedup']:.2f}x | {r['cpu_s']:.2f} | {r['cpu_ratio']:.2f} | "
                     f"{r['peak_mib']:.0f} | {r['memory_ratio']:.2f} | {share} |")
    table = "\n".join(lines)
    print(f"medians of {args.runs} runs, {os.cpu_count()} cores, LLVM {VERSION}")
    print(table)
    # The floors for the heavy pipeline on 2 cores.
    for r in rows:
        if r["pipeline"] != "heavy":
            continue
        if r["tool"] == "llpar -j2":
            print(f"floor {r['module']}: -j2 speedup {r['speedup']:.2f}x (>= 1.5: "
                  f"{'ok' if r['speedup'] >= 1.5 else 'MISSED'}), peak memory {r['memory_ratio']:.2f}x opt "
                  f"(<= 2: {'ok' if r['memory_ratio'] <= 2 else 'MISSED'})")
        if r["tool"] == "llpar -j1":
            print(f"floor {r['module']}: -j1 at {1 / r['speedup']:.2f}x opt's time (<= 1.10: "
                  f"{'ok' if 1 / r['speedup'] <= 1.10 else 'MISSED'})")
    if args.markdown:
        open(args.markdown, "w").write(table + "\n")
    if args.json:
        json.dump(results, open(args.json, "w"), indent=1)


if __name__ == "__main__":
    main()
