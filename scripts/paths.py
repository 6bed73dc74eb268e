"""Where the benchmark and comparison scripts find things: the repository, the LLVM tools of the
version named in LLVM_VERSION, llpar's release binary and the corpus that
scripts/build-corpus.sh fetches and builds."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VERSION = open(os.path.join(ROOT, "LLVM_VERSION")).read().strip()
BIN = f"/usr/lib/llvm-{VERSION}/bin"
LLPAR = os.path.join(ROOT, "target", "release", "llpar")
CORPUS = os.path.join(ROOT, "target", "corpus")
