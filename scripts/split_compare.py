#!/usr/bin/env python3
"""llpar split against llvm-split on the same modules and unit counts: balance (largest unit's
instructions over the mean), the number of promoted symbols, split time (median of --runs).

Instructions per unit are counted the same way for both tools: instruction lines inside
function bodies of `llvm-dis` output. llvm-split makes every local symbol external (keeping
its name, which can clash with another module's symbols at link time); llpar promotes them
under names salted with a hash of the module, and `llpar merge` makes them local again.
llpar's promoted count is from its --report; llvm-split's is the number of local symbols
(functions, variables, aliases) of the input.

usage: split_compare.py [--modules sqlite3,lua,regex] [--units 2,4,8] [--runs 3]
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

from paths import ROOT, VERSION, BIN, LLPAR, CORPUS  # noqa: E402


def instructions(unit):
    text = subprocess.run([f"{BIN}/llvm-dis", unit, "-o", "-"], capture_output=True, text=True, check=True).stdout
    count, inside = 0, False
    for line in text.splitlines():
        if line.startswith("define "):
            inside = True
        elif line.startswith("}"):
            inside = False
        elif inside and line.startswith("  ") and not line.lstrip().startswith(";"):
            count += 1
    return count


def balance(units):
    counts = [instructions(u) for u in units]
    return max(counts) / (sum(counts) / len(counts)) if sum(counts) else 1.0


def timed(cmd):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def local_symbols(module):
    text = subprocess.run([f"{BIN}/llvm-dis", module, "-o", "-"], capture_output=True, text=True, check=True).stdout
    pattern = re.compile(r"^(define|@|declare)\S*.*?\b(internal|private)\b")
    return sum(1 for line in text.splitlines()
               if (line.startswith("define ") and re.search(r"^define (internal|private) ", line))
               or re.match(r"^@\S+ = (internal|private) ", line))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", default="sqlite3,lua,regex")
    ap.add_argument("--units", default="2,4,8")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()
    print("| module | units | tool | balance (max/mean) | promoted symbols | split s |")
    print("|---|---:|---|---:|---:|---:|")
    for name in a.modules.split(","):
        module = os.path.join(CORPUS, f"{name}.bc")
        locals_ = local_symbols(module)
        for n in [int(x) for x in a.units.split(",")]:
            with tempfile.TemporaryDirectory() as tmp:
                rows = []
                for tool, cmd, prefix in [
                    ("llvm-split", [f"{BIN}/llvm-split", f"-j{n}", module, "-o", f"{tmp}/s"], f"{tmp}/s"),
                    ("llpar split (balanced)", [LLPAR, "split", module, "-n", str(n), "-o", f"{tmp}/b.",
                                                "--report", f"{tmp}/b.report"], f"{tmp}/b."),
                    ("llpar split (callgraph)", [LLPAR, "split", module, "-n", str(n), "--strategy", "callgraph",
                                                 "-o", f"{tmp}/c.", "--report", f"{tmp}/c.report"], f"{tmp}/c."),
                ]:
                    times = [timed(cmd) for _ in range(a.runs)]
                    units = [f"{prefix}{i}" for i in range(n)]
                    if tool == "llvm-split":
                        promoted = locals_
                    else:
                        report = open(prefix + "report").read()
                        promoted = int(re.search(r"promoted (\d+) local symbols", report).group(1))
                    rows.append((tool, balance(units), promoted, statistics.median(times)))
                for tool, bal, promoted, t in rows:
                    print(f"| {name} | {n} | {tool} | {bal:.2f} | {promoted} | {t:.2f} |", flush=True)


if __name__ == "__main__":
    main()
