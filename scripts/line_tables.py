#!/usr/bin/env python3
"""How llpar's line tables differ from the serial build's, function by function.

Compiles MODULE (a module with debug info) with `opt -O<l> | llc -O2 -relocation-model=pic` and
with `llpar -O<l> --emit=obj -jN`, reads both objects' line tables (`llvm-dwarfdump --debug-line`)
and symbol tables, and for every function defined in both compares the set of source lines
(file, line) its line-table rows name. Prints how many functions have exactly the same lines,
and the mean Jaccard similarity of the line sets over all functions.

usage: line_tables.py MODULE [--level 2] [--jobs N] [--passes PIPELINE]
"""
import argparse, bisect, os, re, subprocess, sys, tempfile

from paths import ROOT, VERSION, BIN, LLPAR  # noqa: E402
ROW = re.compile(r"^0x([0-9a-f]+)\s+(\d+)\s+\d+\s+(\d+)\s")
FILE = re.compile(r"^file_names\[\s*(\d+)\]:")
NAME = re.compile(r'^\s+name: "(.*)"')


def functions(obj):
    """(start, end, name) of every defined function, sorted by start."""
    out = subprocess.run([f"{BIN}/llvm-nm", "-S", "--defined-only", obj], capture_output=True, text=True,
                         check=True).stdout
    spans = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tT":
            start, size = int(parts[0], 16), int(parts[1], 16)
            spans.append((start, start + size, parts[3]))
    return sorted(spans)


def lines_by_function(obj):
    spans = functions(obj)
    starts = [s[0] for s in spans]
    dump = subprocess.run([f"{BIN}/llvm-dwarfdump", "--debug-line", obj], capture_output=True, text=True,
                          check=True).stdout
    files, pending, result = {}, None, {}
    for line in dump.splitlines():
        if line.startswith("debug_line["):
            files = {}
        m = FILE.match(line)
        if m:
            pending = int(m.group(1))
            continue
        m = NAME.match(line)
        if m and pending is not None:
            files[pending] = os.path.basename(m.group(1))
            pending = None
            continue
        m = ROW.match(line)
        if m and int(m.group(2)) > 0:
            address = int(m.group(1), 16)
            i = bisect.bisect_right(starts, address) - 1
            if i >= 0 and address < spans[i][1]:
                result.setdefault(spans[i][2], set()).add((files.get(int(m.group(3)), "?"), int(m.group(2))))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("module")
    ap.add_argument("--level", default="2")
    ap.add_argument("--passes")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    args = ap.parse_args()
    opt_args = [f"-passes={args.passes}"] if args.passes else [f"-O{args.level}"]
    with tempfile.TemporaryDirectory() as tmp:
        serial, ours = os.path.join(tmp, "serial.o"), os.path.join(tmp, "llpar.o")
        opt = subprocess.Popen([f"{BIN}/opt", *opt_args, args.module], stdout=subprocess.PIPE)
        subprocess.run([f"{BIN}/llc", "-O2", "-relocation-model=pic", "-filetype=obj", "-o", serial],
                       stdin=opt.stdout, check=True)
        if opt.wait() != 0:
            sys.exit("opt failed")
        llpar_args = [f"--passes={args.passes}"] if args.passes else [f"-O{args.level}"]
        subprocess.run([LLPAR, args.module, *llpar_args, "--emit=obj", f"-j{args.jobs}", "-o", ours], check=True)
        theirs, mine = lines_by_function(serial), lines_by_function(ours)
    common = sorted(set(theirs) & set(mine))
    same = sum(1 for f in common if theirs[f] == mine[f])
    jaccard = [len(theirs[f] & mine[f]) / len(theirs[f] | mine[f]) for f in common]
    print(f"{os.path.basename(args.module)} {' '.join(opt_args)}: {len(common)} functions in both "
          f"({len(theirs)} serial, {len(mine)} llpar); same source lines: {same} "
          f"({same / max(len(common), 1):.1%}); mean Jaccard similarity of line sets "
          f"{sum(jaccard) / max(len(jaccard), 1):.3f}")


if __name__ == "__main__":
    main()
