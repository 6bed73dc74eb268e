//! C++ end to end (scripts/workloads/cpp/shapes.cpp, this project's own program): static
//! constructors, comdats, virtual calls, exceptions and the standard library, compiled by clang
//! to unoptimized bitcode, built by llpar at every level that inlines, with and without `-g`,
//! linked by lld: the program prints what the serial build prints, and the object does not
//! depend on `-j`.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bitcode(dir: &Path, debug: bool) -> PathBuf {
    let out = dir.join(if debug { "shapes-g.bc" } else { "shapes.bc" });
    run_ok(
        Command::new(llvm_tool("clang++"))
            .args([
                "-O2",
                "-Xclang",
                "-disable-llvm-passes",
                "-emit-llvm",
                "-c",
                "-fPIC",
            ])
            .args(debug.then_some("-g"))
            .arg(root().join("scripts/workloads/cpp/shapes.cpp"))
            .arg("-o")
            .arg(&out),
    );
    out
}

fn run_linked(object: &Path) -> Vec<u8> {
    let program = object.with_extension("exe");
    run_ok(
        Command::new(llvm_tool("clang++"))
            .arg("-fuse-ld=lld")
            .arg(object)
            .arg("-o")
            .arg(&program),
    );
    run_ok(&mut Command::new(&program))
}

#[test]
fn cpp_program_runs_like_its_serial_build() {
    let dir = tempfile::tempdir().unwrap();
    for debug in [false, true] {
        let input = bitcode(dir.path(), debug);
        let serial = dir.path().join("serial.o");
        serial_o2_object(&input, &serial);
        let expected = run_linked(&serial);
        // Static constructors ran (the registry is filled before main) and exceptions were caught.
        assert!(
            String::from_utf8_lossy(&expected)
                .starts_with("shapes 2000 registry 3 calls 2001 caught 4"),
            "{}",
            String::from_utf8_lossy(&expected)
        );
        for level in ["-O1", "-O2", "-O3", "-Os", "-Oz"] {
            let objects: Vec<Vec<u8>> = ["-j1", "-j2"]
                .iter()
                .map(|j| {
                    let object = dir.path().join(format!("llpar{level}{j}.o"));
                    run_ok(
                        llpar()
                            .arg(&input)
                            .args([level, "--emit=obj", "--min-chunk-cost=1", j, "-o"])
                            .arg(&object),
                    );
                    assert!(
                        run_linked(&object) == expected,
                        "{level} {j} -g={debug}: the program prints something else"
                    );
                    std::fs::read(&object).unwrap()
                })
                .collect();
            assert!(
                objects[0] == objects[1],
                "{level} -g={debug}: the object depends on -j"
            );
        }
    }
}
