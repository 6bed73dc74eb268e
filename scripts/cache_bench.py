#!/usr/bin/env python3
"""What `--cache-dir` saves on sqlite3, in one invocation (medians, ratios to the cold run).

Builds sqlite3.c (the corpus copy) and, for each edited function, a copy with one constant of
that function changed, and one with a call statement of it repeated on its line (more code, the
same line numbers; scripts/edit_function.py), all from the same path so that only the edit
differs. Then, with `llpar -O2 --emit=obj -jN` (options from --llpar-args):
  - no cache: the plain run;
  - cold: an empty cache;
  - warm: the unchanged input again, with the cache of a cold run;
  - edit F: the edited input, with a copy of the cache that the original's cold run filled;
    how many chunks were computed again (from --stats) and its time.
Every output is compared with the plain run's bytes of the same input.

usage: cache_bench.py [--runs R] [--jobs N] [--functions f,g] [--edits constant,grow]
                      [--llpar-args "..."]
"""
import argparse, os, re, shutil, statistics, subprocess, sys, tempfile, time

from paths import ROOT, BIN, LLPAR, CORPUS  # noqa: E402

CFLAGS = ["-O2", "-Xclang", "-disable-llvm-passes", "-emit-llvm", "-c", "-fPIC",
          "-DSQLITE_THREADSAFE=0", "-DSQLITE_OMIT_LOAD_EXTENSION"]


def timed(cmd):
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"cache_bench.py: {' '.join(cmd)} failed:\n{proc.stderr}")
    return time.perf_counter() - start, proc.stderr


def build(work, source_text, name):
    """sqlite3.c with the given text, compiled at the same path every time, to NAME.bc."""
    with open(os.path.join(work, "sqlite3.c"), "w", encoding="latin-1") as f:
        f.write(source_text)
    out = os.path.join(work, name + ".bc")
    subprocess.run([os.path.join(BIN, "clang")] + CFLAGS + ["sqlite3.c", "-o", out],
                   cwd=work, check=True, stderr=subprocess.DEVNULL)
    return out


def same(a, b):
    return open(a, "rb").read() == open(b, "rb").read()


def recomputed(stderr):
    match = re.search(r"cache: (\d+) of (\d+) chunk results", stderr)
    if not match:
        return "whole output" if "whole output from the cache" in stderr else "?"
    return f"{int(match.group(2)) - int(match.group(1))} of {match.group(2)}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--functions", default="sqlite3ExprCode,whereLoopAddBtree,sqlite3VdbeMemGrow")
    ap.add_argument("--llpar-args", default="-O2 --emit=obj")
    ap.add_argument("--edits", default="constant,grow",
                    help="constant: one constant changed; grow: one call statement repeated")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="llpar-cache-bench-")
    try:
        run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args, work):
    shutil.copy(os.path.join(CORPUS, "sqlite3.h"), work)
    shipped = open(os.path.join(CORPUS, "sqlite3.c"), encoding="latin-1").read()
    inputs = {"original": build(work, shipped, "original")}
    for kind in args.edits.split(","):
        for function in args.functions.split(","):
            edited = os.path.join(work, "edited.c")
            flag = ["--grow"] if kind == "grow" else []
            line = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "edit_function.py")]
                                  + flag + [os.path.join(CORPUS, "sqlite3.c"), function, edited],
                                  check=True, capture_output=True, text=True).stdout.strip()
            print(f"edit: {line}")
            key = f"{function} ({kind})"
            inputs[key] = build(work, open(edited, encoding="latin-1").read(), f"edit{len(inputs)}")
    base = [LLPAR] + args.llpar_args.split() + [f"-j{args.jobs}", "--stats"]
    llpar = lambda inp, out, *extra: timed(base + list(extra) + [inp, "-o", out])
    plain_out = {k: os.path.join(work, k + ".plain.o") for k in inputs}
    times = {}
    notes = {}
    for r in range(args.runs):
        for key, inp in inputs.items():
            t, _ = llpar(inp, plain_out[key])
            times.setdefault(("no cache", key), []).append(t)
        primed = os.path.join(work, "primed")
        shutil.rmtree(primed, ignore_errors=True)
        out = os.path.join(work, "out.o")
        t, err = llpar(inputs["original"], out, f"--cache-dir={primed}")
        assert same(out, plain_out["original"]), "cold cache output differs"
        times.setdefault(("cold", "original"), []).append(t)
        t, err = llpar(inputs["original"], out, f"--cache-dir={primed}")
        assert same(out, plain_out["original"]), "warm cache output differs"
        times.setdefault(("warm", "original"), []).append(t)
        notes["warm"] = recomputed(err)
        for key in inputs:
            if key == "original":
                continue
            scratch = os.path.join(work, "scratch")
            shutil.rmtree(scratch, ignore_errors=True)
            shutil.copytree(primed, scratch)
            t, err = llpar(inputs[key], out, f"--cache-dir={scratch}")
            assert same(out, plain_out[key]), f"edit {key}: output differs from the plain run"
            times.setdefault(("edit", key), []).append(t)
            notes[key] = recomputed(err)
    cold = statistics.median(times[("cold", "original")])
    print(f"\nllpar {args.llpar_args} -j{args.jobs} on sqlite3, {args.runs} runs, medians; "
          f"ratio = time / cold-cache time")
    print("| run | input | s | ratio | chunks computed |")
    print("|---|---|---:|---:|---|")
    for (kind, key), ts in times.items():
        if kind == "no cache" and key != "original":
            continue
        m = statistics.median(ts)
        note = {"cold": "all", "no cache": "all"}.get(kind, notes.get(key if kind == "edit" else kind, ""))
        print(f"| {kind} | {key} | {m:.2f} | {m / cold:.3f} | {note} |")
    print("\nall outputs byte-identical with the plain runs of the same input")


if __name__ == "__main__":
    main()
