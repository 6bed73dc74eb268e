#!/usr/bin/env python3
"""Prints the function-only pipelines llpar is measured and tested with.

  light: function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,gvn,dse)
  loop:  a loop pipeline (rotate, LICM, induction variables, unrolling)
  heavy: the function passes of `default<O2>` without the inliner: the function<...>(...) group
         that `opt -passes='default<O2>' -print-pipeline-passes` prints inside cgscc(...), and the
         one after rpo-function-attrs, as one function-only pipeline.

(`instcombine` is spelled `instcombine<no-verify-fixpoint>` as in the default pipelines: the plain
spelling makes LLVM abort when it does not reach a fixpoint, in `opt` as in llpar.)

usage: pipelines.py light|loop|heavy
"""
import os, subprocess, sys

LIGHT = "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,gvn,dse)"
LOOP = ("function(sroa,loop-mssa(loop-rotate,licm),loop(loop-idiom,indvars,loop-deletion,"
        "loop-unroll-full),instcombine<no-verify-fixpoint>,simplifycfg)")


def function_groups(text):
    """Yields (start, group) for every function<...>(...) or function(...) group, at any depth."""
    i = 0
    while True:
        i = text.find("function", i)
        if i < 0:
            return
        j = i + len("function")
        if text.startswith("<", j):
            j = text.index(">", j) + 1
        if not text.startswith("(", j) or (i > 0 and (text[i - 1].isalnum() or text[i - 1] in "-_")):
            i += 1
            continue
        depth, k = 0, j
        while True:
            depth += {"(": 1, ")": -1}.get(text[k], 0)
            k += 1
            if depth == 0:
                break
        yield i, text[i:k], text[j + 1:k - 1]
        i = k


def heavy():
    version = open(os.path.join(os.path.dirname(__file__), "..", "LLVM_VERSION")).read().strip()
    opt = f"/usr/lib/llvm-{version}/bin/opt"
    text = subprocess.run([opt, "-passes=default<O2>", "-print-pipeline-passes", "-disable-output"],
                          input=b"", capture_output=True, check=True).stdout.decode().strip()
    cgscc = text.index("cgscc(")
    after = text.index("rpo-function-attrs")
    inner = [body for start, _, body in function_groups(text) if start > cgscc and start < after
             and "sroa" in body]
    post = [body for start, _, body in function_groups(text) if start > after and "loop-vectorize" in body]
    if len(inner) != 1 or len(post) != 1:
        sys.exit("pipelines.py: unexpected default<O2> pipeline shape")
    return f"function<eager-inv>({inner[0]}),function<eager-inv>({post[0]})"


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else ""
    if which == "light":
        print(LIGHT)
    elif which == "loop":
        print(LOOP)
    elif which == "heavy":
        print(heavy())
    else:
        sys.exit(__doc__)
