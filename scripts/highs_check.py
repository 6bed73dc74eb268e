#!/usr/bin/env python3
"""End-to-end check of llpar on HiGHS, a large C++ program (target/corpus/highs.bc, built by
scripts/build-highs.sh).

Builds the `highs` solver twice from the same module: with the serial reference
(`opt -O2 | llc -O2`, scripts/peers/serial.sh) and with `llpar -O2 --emit=obj -jN`; times both
compiles (wall seconds, medians of --runs), compares their .text sizes, links each with
clang++ -fuse-ld=lld and the arguments in target/corpus/highs.link, solves every instance in
target/corpus/highs-instances with both programs and checks that they report the same model status
and objective value. Exits non-zero if a build, link or solve fails or any result differs.

With -g it builds from highs-g.bc (scripts/build-highs.sh -g) and also compares the .debug_*
bytes of the two objects and runs `llvm-dwarfdump --verify` on llpar's.

usage: highs_check.py [-g] [--runs R] [--jobs N] [--llpar-args "ARGS"] [--timeout S]
"""
import argparse, atexit, os, re, shlex, shutil, statistics, subprocess, sys, tempfile, time

from paths import ROOT, VERSION, BIN, LLPAR, CORPUS  # noqa: E402
SERIAL = os.path.join(ROOT, "scripts", "peers", "serial.sh")
BC = os.path.join(CORPUS, "highs.bc")
LINK = os.path.join(CORPUS, "highs.link")
INSTANCES = os.path.join(CORPUS, "highs-instances")


def fail(msg):
    sys.exit(f"highs_check.py: {msg}")


def timed(cmd, env=None):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        fail(f"{shlex.join(cmd)} failed (exit {proc.returncode}):\n{proc.stderr[-4000:]}")
    return wall


def debug_size(obj):
    """Bytes of the .debug_* sections."""
    out = subprocess.run([f"{BIN}/llvm-size", "-A", obj], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.startswith(".debug_"))


def text_size(obj):
    """Bytes of code: the .text section and the per-function .text.* sections of inline functions."""
    out = subprocess.run([f"{BIN}/llvm-size", "-A", obj], capture_output=True, text=True, check=True).stdout
    return sum(int(line.split()[1]) for line in out.splitlines() if line.startswith(".text"))


# An LP or QP ends with "Model status        : Optimal" and "Objective value     : -4.6e+02"; a MIP
# with a "Solving report" whose "Status" line is the model status and whose solution's value is
# "                    1120 (objective)" (none when it has no solution).
LP_STATUS = re.compile(r"^Model status\s*:\s*(.+?)\s*$", re.M)
LP_OBJECTIVE = re.compile(r"^Objective value\s*:\s*(\S+)\s*$", re.M)
MIP_STATUS = re.compile(r"^  Status\s+(.+?)\s*$", re.M)
MIP_OBJECTIVE = re.compile(r"^\s+(\S+) \(objective\)\s*$", re.M)


def solve(exe, instance, timeout, cwd):
    """(model status, objective value as printed, wall seconds, last line of stderr) of `highs INSTANCE`."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([exe, instance], capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        return f"timeout ({timeout:g} s)", None, time.perf_counter() - start, ""
    wall = time.perf_counter() - start
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    err = " / ".join(err[-2:])
    if proc.returncode < 0:
        return f"killed by signal {-proc.returncode}", None, wall, err
    out = proc.stdout
    if "Solving report" in out:
        report = out[out.rindex("Solving report"):]
        status, objective = MIP_STATUS.findall(report), MIP_OBJECTIVE.findall(report)
    else:
        status, objective = LP_STATUS.findall(out), LP_OBJECTIVE.findall(out)
    return (status[-1] if status else f"no status (exit {proc.returncode})",
            objective[-1] if objective else None, wall, err)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=1, help="compiles of each build (the median is shown)")
    ap.add_argument("--jobs", type=int, default=2, help="llpar -j (default 2)")
    ap.add_argument("--llpar-args", default="", help="extra arguments for llpar, one shell-quoted string")
    ap.add_argument("--timeout", type=float, default=60, help="seconds allowed per instance and build")
    ap.add_argument("-g", action="store_true", help="the build with debug info (highs-g.bc)")
    args = ap.parse_args()
    global BC
    if args.g:
        BC = os.path.join(CORPUS, "highs-g.bc")
        args.timeout = max(args.timeout, 1800)
    for path, what in ((BC, os.path.basename(BC)), (LINK, "highs.link"), (INSTANCES, "highs-instances")):
        if not os.path.exists(path):
            fail(f"{path} is missing: run scripts/build-highs.sh ({what})")
    instances = sorted(f for f in os.listdir(INSTANCES) if f.endswith((".mps", ".lp")))
    if not instances:
        fail(f"no instances in {INSTANCES}")
    tmp = tempfile.mkdtemp(prefix="llpar-highs-check-")
    atexit.register(shutil.rmtree, tmp, True)

    serial_obj, llpar_obj = os.path.join(tmp, "serial.o"), os.path.join(tmp, "llpar.o")
    env = dict(os.environ, LLVM_MAJOR=VERSION)
    builds = {
        "serial": ["bash", SERIAL, BC, serial_obj],
        "llpar": [LLPAR, "-O2", "--emit=obj", f"-j{args.jobs}", "-q"] + shlex.split(args.llpar_args)
                 + [BC, "-o", llpar_obj],
    }
    walls = {b: [] for b in builds}
    for _ in range(args.runs):
        for b, cmd in builds.items():
            print(f"compiling: {shlex.join(cmd)}", file=sys.stderr, flush=True)
            walls[b].append(timed(cmd, env=env))
            print(f"  {walls[b][-1]:.1f} s", file=sys.stderr, flush=True)
    serial_s, llpar_s = statistics.median(walls["serial"]), statistics.median(walls["llpar"])
    serial_text, llpar_text = text_size(serial_obj), text_size(llpar_obj)

    link_args = shlex.split(open(LINK).read())
    exes = {}
    for b, obj in (("serial", serial_obj), ("llpar", llpar_obj)):
        exes[b] = os.path.join(tmp, f"highs-{b}")
        timed([f"{BIN}/clang++", "-fuse-ld=lld", obj, "-o", exes[b]] + link_args)

    # Each solve runs in its own empty directory: the app may write files (a log) next to it.
    rows, differ, errors = [], 0, {}
    for inst in instances:
        path = os.path.join(INSTANCES, inst)
        results = {}
        for b in ("serial", "llpar"):
            cwd = os.path.join(tmp, f"run-{b}")
            os.makedirs(cwd, exist_ok=True)
            results[b] = solve(exes[b], path, args.timeout, cwd)
        (s_status, s_obj, s_t, s_err), (l_status, l_obj, l_t, l_err) = results["serial"], results["llpar"]
        ok = (s_status, s_obj) == (l_status, l_obj) and not s_status.startswith(("timeout", "killed", "no status"))
        differ += not ok
        for b, (status, _, _, err) in results.items():
            if status.startswith(("timeout", "killed", "no status")) and err:
                errors.setdefault(f"{b} build: {status}: {err}", []).append(inst)
        rows.append((inst, s_status, s_obj or "-", l_status, l_obj or "-", f"{s_t:.2f}", f"{l_t:.2f}",
                     "same" if ok else "DIFFERENT"))
        print(f"  {inst}: {rows[-1][-1]}", file=sys.stderr, flush=True)

    print(f"HiGHS (target/corpus/{os.path.basename(BC)}), LLVM {VERSION}, {os.cpu_count()} cores, "
          f"median of {args.runs} compile(s) each")
    print(f"{'build':<8} {'compile s':>10} {'speedup':>8} {'.text bytes':>12} {'.text ratio':>12}")
    print(f"{'serial':<8} {serial_s:>10.2f} {'1.00x':>8} {serial_text:>12} {'1.000':>12}")
    print(f"{'llpar':<8} {llpar_s:>10.2f} {serial_s / llpar_s:>7.2f}x {llpar_text:>12} "
          f"{llpar_text / serial_text:>12.3f}")
    print(f"  (llpar -O2 --emit=obj -j{args.jobs}{' ' + args.llpar_args if args.llpar_args else ''})")
    if args.g:
        serial_debug, llpar_debug = debug_size(serial_obj), debug_size(llpar_obj)
        print(f".debug_* bytes: llpar {llpar_debug}, serial {serial_debug} "
              f"({llpar_debug / serial_debug:.3f}x)")
        verify = subprocess.run([f"{BIN}/llvm-dwarfdump", "--verify", llpar_obj],
                                capture_output=True, text=True)
        print(f"llvm-dwarfdump --verify on llpar's object: "
              f"{'no errors' if verify.returncode == 0 else 'ERRORS'}")
        if verify.returncode != 0:
            differ += 1
    print()
    head = ("instance", "status serial", "objective serial", "status llpar", "objective llpar",
            "solve s serial", "solve s llpar", "result")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print()
    for e, insts in errors.items():
        print(f"{', '.join(insts) if len(insts) < 4 else f'{len(insts)} instances'}, {e}")
    if differ:
        print(f"{differ} of {len(rows)} instances DIFFER between the serial and the llpar build")
        sys.exit(1)
    print(f"all {len(rows)} instances: same status and objective value")


if __name__ == "__main__":
    main()
