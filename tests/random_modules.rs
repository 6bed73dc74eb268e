//! Random modules from `llvm-stress`, five linked into one so that they split into several
//! chunks: llpar's output for the light pipeline is equivalent to `opt`'s under the strict
//! comparison (tests/common/irdiff.rs), and its `-O2` object does not depend on `-j`.
mod common;
use common::*;
use std::process::Command;

const MODULES: u32 = 20;

#[test]
fn random_modules_match_opt_and_compile_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let light = pipeline("light");
    for m in 0..MODULES {
        let parts: Vec<(u64, u64)> = (0..5u64)
            .map(|k| (1000 + m as u64 * 5 + k, 30 + 25 * k))
            .collect();
        let input = linked_stress_module(dir.path(), &format!("m{m}"), &parts);
        let reference = dir.path().join(format!("m{m}.opt.bc"));
        let candidate = dir.path().join(format!("m{m}.llpar.bc"));
        run_ok(
            Command::new(llvm_tool("opt"))
                .arg(format!("-passes={light}"))
                .arg(&input)
                .arg("-o")
                .arg(&reference),
        );
        run_ok(
            llpar()
                .arg(&input)
                .args(["--min-chunk-cost=1", "-j2"])
                .arg(format!("--passes={light}"))
                .arg("-o")
                .arg(&candidate),
        );
        assert_equivalent(&reference, &candidate);
        let objects: Vec<Vec<u8>> = ["-j1", "-j4"]
            .iter()
            .map(|j| {
                let object = dir.path().join(format!("m{m}{j}.o"));
                run_ok(
                    llpar()
                        .arg(&input)
                        .args(["--min-chunk-cost=1", "-O2", "--emit=obj", j, "-o"])
                        .arg(&object),
                );
                std::fs::read(&object).unwrap()
            })
            .collect();
        assert!(
            objects[0] == objects[1],
            "module {m}: the object depends on -j"
        );
    }
}
