#!/usr/bin/env python3
"""Inlining decisions of llpar against `opt`, by their remarks.

For each module, in one invocation: `opt -O<l> -pass-remarks-output` and
`llpar -O<l> -jN --pass-remarks-output`, both filtered to the inliner. A (caller, callee) pair
counts as inlined when some `Passed` remark of the inliner names it. Prints, per module, how many
pairs each inlines, the share of opt's pairs that llpar also inlines and the other way round,
and with `--show N` the first N pairs of each side the other lacks. `LLPAR_ARGS` in the
environment adds options to every llpar run (`LLPAR_ARGS=--inliner=parallel`).

usage: inline_pairs.py [--modules sqlite3,lua,regex] [--level 2] [--jobs N] [--show N]
                       [--check 0.98] [--markdown FILE]
"""
import argparse, os, subprocess, sys, tempfile

from paths import ROOT, VERSION, BIN, LLPAR, CORPUS  # noqa: E402


def unquote(value):
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def inlined_pairs(path):
    """(caller, callee) of every `Passed` remark of the inliner in a YAML remarks file."""
    pairs = set()
    kind, fields = None, {}

    def flush():
        if kind == "Passed" and fields.get("Pass") == "inline" and "Caller" in fields and "Callee" in fields:
            pairs.add((fields["Caller"], fields["Callee"]))

    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("--- !"):
                flush()
                kind, fields = line[5:].strip(), {}
                continue
            key, sep, value = line.strip().lstrip("- ").partition(":")
            if sep and key in ("Pass", "Caller", "Callee") and key not in fields:
                fields[key] = unquote(value)
    flush()
    return pairs


def run_opt(module, level, out):
    subprocess.run([f"{BIN}/opt", f"-O{level}", module, "-o", os.devnull,
                    f"-pass-remarks-output={out}", "-pass-remarks-filter=inline"], check=True)


def run_llpar(module, level, jobs, out):
    extra = os.environ.get("LLPAR_ARGS", "").split()
    subprocess.run([LLPAR, module, f"-O{level}", f"-j{jobs}", "-o", os.devnull,
                    f"--pass-remarks-output={out}", "--pass-remarks-filter=inline"] + extra, check=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", default="sqlite3,lua,regex")
    ap.add_argument("--level", default="2")
    ap.add_argument("--jobs", type=int, default=os.cpu_count())
    ap.add_argument("--show", type=int, default=0)
    ap.add_argument("--check", type=float, help="fail when a share is below this")
    ap.add_argument("--markdown")
    args = ap.parse_args()
    rows = ["| module | opt pairs | llpar pairs | both | opt's in llpar | llpar's in opt |",
            "|---|---:|---:|---:|---:|---:|"]
    failed = False
    with tempfile.TemporaryDirectory(prefix="llpar-pairs-") as tmp:
        for name in args.modules.split(","):
            module = os.path.join(CORPUS, f"{name}.bc")
            if not os.path.exists(module):
                sys.exit(f"{module}: missing (run scripts/build-corpus.sh)")
            serial_yaml, llpar_yaml = os.path.join(tmp, "opt.yaml"), os.path.join(tmp, "llpar.yaml")
            run_opt(module, args.level, serial_yaml)
            run_llpar(module, args.level, args.jobs, llpar_yaml)
            ours, theirs = inlined_pairs(llpar_yaml), inlined_pairs(serial_yaml)
            both = ours & theirs
            recall = len(both) / max(len(theirs), 1)
            precision = len(both) / max(len(ours), 1)
            rows.append(f"| {name} | {len(theirs)} | {len(ours)} | {len(both)} | {recall:.3f} | {precision:.3f} |")
            print(rows[-1], flush=True)
            for label, missing in (("opt only", theirs - ours), ("llpar only", ours - theirs)):
                for caller, callee in sorted(missing)[: args.show]:
                    print(f"  {label}: {callee} into {caller}")
            if args.check is not None and min(recall, precision) < args.check:
                failed = True
    print("\n".join(rows))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(rows) + "\n")
    if failed:
        sys.exit(f"a share is below {args.check}")


if __name__ == "__main__":
    main()
