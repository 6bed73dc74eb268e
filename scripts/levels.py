#!/usr/bin/env python3
"""Every optimization level against `opt` at the same level: .text size of the objects.

For each module and each of -O0, -O1, -O2, -O3, -Os, -Oz, in one invocation: the serial reference
`opt -O<l> | llc -O<c> -relocation-model=pic` and `llpar -O<l> --emit=obj -jN`, where <c> is the
code generation level llpar uses for that level (as clang: 0, 1, 2, 3, and 2 for s and z). Prints
the .text of both and their ratio, and with `--debug-sizes` the size of the .debug_* sections
(for modules built with -g). With `--check LO,HI` it exits 1 when a ratio falls outside [LO, HI]. `LLPAR_ARGS` in the
environment adds options to every llpar run (`LLPAR_ARGS=--inliner=serial`).

usage: levels.py [--modules sqlite3,lua,zstd] [--levels 0,1,2,3,s,z] [--jobs N]
                 [--check 0.95,1.05] [--debug-sizes] [--markdown FILE]
"""
import argparse, os, subprocess, sys, tempfile

from paths import ROOT, VERSION, BIN, LLPAR, CORPUS  # noqa: E402
CODEGEN_LEVEL = {"0": "0", "1": "1", "2": "2", "3": "3", "s": "2", "z": "2"}


def section_sizes(obj):
    out = subprocess.run([f"{BIN}/llvm-size", "-A", obj], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = sizes.get(parts[0], 0) + int(parts[1])
    return sizes


def serial(module, level, obj):
    opt = subprocess.Popen([f"{BIN}/opt", f"-O{level}", module], stdout=subprocess.PIPE)
    subprocess.run([f"{BIN}/llc", f"-O{CODEGEN_LEVEL[level]}", "-relocation-model=pic", "-filetype=obj",
                    "-o", obj], stdin=opt.stdout, check=True)
    if opt.wait() != 0:
        sys.exit(f"opt -O{level} {module} failed")


def parallel(module, level, obj, jobs):
    extra = os.environ.get("LLPAR_ARGS", "").split()
    subprocess.run([LLPAR, module, f"-O{level}", "--emit=obj", f"-j{jobs}", "-o", obj] + extra, check=True)


def debug_total(sizes):
    return sum(v for k, v in sizes.items() if k.startswith(".debug_"))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", default="sqlite3,lua,zstd")
    ap.add_argument("--levels", default="0,1,2,3,s,z")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--check", help="LO,HI: fail when a .text ratio is outside")
    ap.add_argument("--debug-sizes", action="store_true")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    header = "| module | level | serial .text | llpar .text | ratio |"
    rule = "|---|---|---:|---:|---:|"
    if args.debug_sizes:
        header += " serial .debug_* | llpar .debug_* | ratio |"
        rule += "---:|---:|---:|"
    rows = [header, rule]
    print(header, flush=True)
    outside = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.modules.split(","):
            module = os.path.join(CORPUS, f"{name}.bc")
            for level in args.levels.split(","):
                ref, cand = os.path.join(tmp, "serial.o"), os.path.join(tmp, "llpar.o")
                serial(module, level, ref)
                parallel(module, level, cand, args.jobs)
                s, p = section_sizes(ref), section_sizes(cand)
                ratio = p[".text"] / s[".text"]
                row = f"| {name} | -O{level} | {s['.text']:,} | {p['.text']:,} | {ratio:.3f} |"
                if args.debug_sizes:
                    ds, dp = debug_total(s), debug_total(p)
                    row += f" {ds:,} | {dp:,} | {dp / ds if ds else 0:.3f} |"
                print(row, flush=True)
                rows.append(row)
                if args.check:
                    lo, hi = (float(x) for x in args.check.split(","))
                    if not lo <= ratio <= hi:
                        outside.append(f"{name} -O{level}: {ratio:.3f}")
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(rows) + "\n")
    if outside:
        print("outside the bounds: " + ", ".join(outside), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
