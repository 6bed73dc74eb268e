# lit configuration for llpar's IR fixtures. Run through `cargo test` (tests/lit.rs), which sets
# LLPAR to the freshly built binary; by hand: LLPAR=target/release/llpar lit -v ir-fixtures
import os
import lit.formats

config.name = "llpar"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".ll"]
config.excludes = ["Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(os.path.dirname(__file__), "Output")

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
version = open(os.path.join(root, "LLVM_VERSION")).read().strip()
llvm_bin = f"/usr/lib/llvm-{version}/bin"
config.environment["PATH"] = os.pathsep.join([llvm_bin, config.environment.get("PATH", os.environ["PATH"])])

llpar = os.path.abspath(os.environ.get("LLPAR") or os.path.join(root, "target", "release", "llpar"))
config.substitutions.append(("%llpar", llpar))
# The light function pipeline llpar is checked against `opt` with.
config.substitutions.append(
    ("%light", "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,gvn,dse)"))
# One function per chunk, so every cross-chunk edge of a small fixture is exercised.
config.substitutions.append(("%tiny", "--min-chunk-cost=1"))
# Split into units, check each compiles alone and they link, merge back, compare with the input:
# %roundtrip INPUT PREFIX N STRATEGY
config.substitutions.append(
    ("%roundtrip", f"bash {os.path.join(root, 'ir-fixtures', 'Inputs', 'round-trip.sh')} {llpar}"))
# The strict comparison of two modules (scripts/irdiff.py; tests/common/irdiff.rs in Rust).
config.substitutions.append(("%irdiff", f"python3 {os.path.join(root, 'scripts', 'irdiff.py')}"))
