#!/usr/bin/env python3
"""End-to-end quality check of llpar -O2 to object code against the serial reference and the peers.

For each module of the corpus (sqlite3 with a SQL workload, Lua linked from its files with a Lua
workload, regex-automata as rustc emits it), in one invocation:
  - compiles it with the serial reference (`opt -O2 | llc -O2`, scripts/peers/serial.sh),
    with `llpar -O2 --emit=obj -jN`, and with the peers (naive.sh, thin.sh) when present;
  - links each object with the workload driver and runs it;
and prints compile speedup, CPU ratio, .text ratio, runtime ratio (medians of --runs) and whether
the program's output is identical to the serial build's, and the ratio of instructions executed
(callgrind, on a smaller run of the workload).

usage: quality.py [--runs R] [--jobs N] [--modules sqlite3,lua,regex] [--markdown FILE]
                  [--simplify-before-inlining]
"""
import argparse, atexit, os, shutil, statistics, subprocess, sys, tempfile, time

from paths import ROOT, VERSION, BIN, LLPAR, CORPUS  # noqa: E402
WORK = os.path.join(ROOT, "scripts", "workloads")
PEERS = os.environ.get("LLPAR_PEERS", os.path.join(ROOT, "scripts", "peers"))

# Each workload runs at full size for timing, and smaller under callgrind to count executed
# instructions: a repeatable measure where wall time on a shared machine varies by several percent.
MODULES = {
    "sqlite3": {"driver": "sqlite_driver.c", "include": CORPUS, "args": ["200000"], "small": ["20000"]},
    "lua": {"driver": "lua_driver.c", "include": os.path.join(CORPUS, "lua"), "args": [os.path.join(WORK, "workload.lua")],
            "small": [os.path.join(WORK, "workload.lua"), "0.1"]},
    "regex": {"driver": None},
}


def instructions(prog, args):
    # Without address randomization, so that hash tables keyed by addresses behave alike each run.
    out = subprocess.run(["setarch", "-R", "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", prog] + args,
                         capture_output=True, text=True)
    for line in out.stderr.splitlines():
        if "Collected" in line:
            return int(line.split()[-1])
    return None


def timed(cmd, **kw):
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    out, err = proc.communicate()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"quality.py: {' '.join(map(str, cmd))} failed:\n{err.decode(errors='replace')}")
    return wall, out


def cpu_of(cmd):
    """Runs cmd through bash (the peers are pipelines); returns (wall, user+sys of all children)."""
    before = os.times()
    wall, _ = timed(cmd)
    after = os.times()
    return wall, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def text_size(obj):
    out = subprocess.run([f"{BIN}/llvm-size", "-A", obj], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.startswith(".text"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--modules", default="sqlite3,lua,regex")
    ap.add_argument("--markdown")
    ap.add_argument("--simplify-before-inlining", action="store_true",
                    help="also measure llpar --simplify-before-inlining")
    args = ap.parse_args()
    # The instructions ratio runs the programs under callgrind, with address randomization off.
    missing = [tool for tool in ("valgrind", "setarch") if shutil.which(tool) is None]
    if missing:
        sys.exit(f"quality.py: {' and '.join(missing)} not found (Debian packages valgrind and "
                 f"util-linux; scripts/install-deps.sh installs them)")
    tmp = tempfile.mkdtemp(prefix="llpar-quality-")
    atexit.register(shutil.rmtree, tmp, True)
    lines = ["| module | build | compile s | speedup | CPU ratio | .text ratio | runtime s | runtime ratio |"
             " instructions ratio | output |", "|" + "---|" * 10]
    for name in args.modules.split(","):
        spec = MODULES[name]
        bc = os.path.join(CORPUS, f"{name}.bc")
        builds = {"serial": ["bash", os.path.join(PEERS, "serial.sh"), bc]}
        builds[f"llpar -j{args.jobs}"] = [LLPAR, "-O2", "--emit=obj", f"-j{args.jobs}", bc, "-o"]
        if args.simplify_before_inlining:
            builds[f"llpar+sbi -j{args.jobs}"] = [LLPAR, "-O2", "--simplify-before-inlining", "--emit=obj",
                                                  f"-j{args.jobs}", bc, "-o"]
        for peer in ("naive", "thin"):
            if os.path.exists(os.path.join(PEERS, f"{peer}.sh")):
                builds[f"{peer} -j{args.jobs}"] = ["bash", os.path.join(PEERS, f"{peer}.sh"), bc]
        compile_samples = {b: [] for b in builds}
        objects = {}
        for _ in range(args.runs):
            for b, cmd in builds.items():
                obj = os.path.join(tmp, f"{name}-{b.split()[0].replace('+', '_')}.o")
                full = cmd + [obj] + ([str(args.jobs)] if b.split()[0] in ("naive", "thin") else [])
                compile_samples[b].append(cpu_of(full))
                objects[b] = obj
        base_wall = statistics.median(w for w, _ in compile_samples["serial"])
        base_cpu = statistics.median(c for _, c in compile_samples["serial"])
        base_text = text_size(objects["serial"])
        reference_output, base_runtime, base_instructions = None, None, None
        for b in builds:
            wall = statistics.median(w for w, _ in compile_samples[b])
            cpu = statistics.median(c for _, c in compile_samples[b])
            text = text_size(objects[b])
            runtime, verdict, ir = "-", "n/a (no workload)", "-"
            if spec["driver"]:
                prog = os.path.join(tmp, f"{name}-{b.split()[0].replace('+', '_')}")
                subprocess.run([f"{BIN}/clang", "-O2", "-fPIE", "-pie", f"-I{spec['include']}",
                                os.path.join(WORK, spec["driver"]), objects[b], "-o", prog, "-lm"], check=True)
                times, outputs = [], set()
                for _ in range(args.runs):
                    t, out = timed([prog] + spec["args"])
                    times.append(t)
                    outputs.add(out)
                runtime = statistics.median(times)
                output = outputs.pop() if len(outputs) == 1 else None
                count = instructions(prog, spec["small"])
                if b == "serial":
                    reference_output, base_runtime, base_instructions = output, runtime, count
                ir = f"{count / base_instructions:.4f}" if count and base_instructions else "-"
                verdict = "identical" if output is not None and output == reference_output else "DIFFERENT"
            rt = f"{runtime:.3f}" if runtime != "-" else "-"
            rr = f"{runtime / base_runtime:.3f}" if runtime != "-" and base_runtime else "-"
            lines.append(f"| {name} | {b} | {wall:.2f} | {base_wall / wall:.2f}x | {cpu / base_cpu:.2f} | "
                         f"{text / base_text:.3f} | {rt} | {rr} | {ir} | {verdict} |")
            print(lines[-1], flush=True)
    table = "\n".join(lines)
    print(f"\nmedians of {args.runs} runs, {os.cpu_count()} cores, LLVM {VERSION}\n{table}")
    if args.markdown:
        open(args.markdown, "w").write(table + "\n")


if __name__ == "__main__":
    main()
