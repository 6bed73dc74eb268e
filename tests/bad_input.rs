//! Bad input and impossible requests: one clear error line naming what is wrong, exit code 1
//! (2 for usage errors), and no output file left behind.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

const GOOD_IR: &str = "define i32 @f(i32 %x) {\n  %y = add i32 %x, 1\n  ret i32 %y\n}\n";

struct Failure {
    code: i32,
    stderr: String,
}

/// Runs llpar with `args` and an output file in a fresh directory; checks that it failed cleanly.
fn fails(dir: &Path, args: &[&str]) -> Failure {
    let output = dir.join("out.bc");
    let out = run(llpar().args(args).arg("-o").arg(&output));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "llpar {args:?} succeeded");
    assert!(!output.exists(), "llpar {args:?} left an output file");
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("llpar") || n.starts_with(".out"))
        .collect();
    assert!(leftovers.is_empty(), "llpar {args:?} left {leftovers:?}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(stderr.starts_with("llpar: error: "), "{stderr}");
    Failure {
        code: out.status.code().unwrap_or(-1),
        stderr,
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn missing_input_file() {
    let dir = tempfile::tempdir().unwrap();
    let f = fails(dir.path(), &["/nonexistent/input.bc", "-O2"]);
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("/nonexistent/input.bc"), "{}", f.stderr);
}

#[test]
fn garbage_input() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "garbage.bc",
        b"\x00\x01\x02 this is not LLVM IR \xff\xfe",
    );
    let f = fails(dir.path(), &[&input, "-O2"]);
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("garbage.bc"), "{}", f.stderr);
}

#[test]
fn truncated_bitcode() {
    let dir = tempfile::tempdir().unwrap();
    let ll = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let bc = dir.path().join("good.bc");
    run_ok(
        Command::new(llvm_tool("llvm-as"))
            .arg(&ll)
            .arg("-o")
            .arg(&bc),
    );
    let bytes = std::fs::read(&bc).unwrap();
    let input = write(dir.path(), "truncated.bc", &bytes[..bytes.len() / 2]);
    let f = fails(dir.path(), &[&input, "-O2"]);
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("truncated.bc"), "{}", f.stderr);
}

#[test]
fn syntax_error_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "syntax.ll",
        b"define i32 @f(i32 %x) {\n  %y = bogus i32 %x, 1\n  ret i32 %y\n}\n",
    );
    let f = fails(dir.path(), &[&input, "-O2"]);
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("syntax.ll:2:8:"), "{}", f.stderr);
}

#[test]
fn module_that_fails_the_verifier() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "invalid.ll",
        b"define i32 @f(i1 %c) {\nentry:\n  br i1 %c, label %a, label %b\na:\n  %x = add i32 1, 2\n  br label %b\nb:\n  ret i32 %x\n}\n",
    );
    let f = fails(dir.path(), &[&input, "-O2"]);
    assert_eq!(f.code, 1);
    assert!(
        f.stderr.contains("invalid.ll") && f.stderr.contains("verifier"),
        "{}",
        f.stderr
    );
    assert!(f.stderr.contains("dominate"), "{}", f.stderr);
}

#[test]
fn unknown_pass() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let f = fails(
        dir.path(),
        &[&input, "--passes=function(sroa,no-such-pass)"],
    );
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("no-such-pass"), "{}", f.stderr);
}

#[test]
fn malformed_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let f = fails(dir.path(), &[&input, "-passes=function(sroa,gvn"]);
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("pipeline"), "{}", f.stderr);
}

#[test]
fn module_pass_inside_function_group() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let f = fails(dir.path(), &[&input, "-passes=function(globaldce)"]);
    assert_eq!(f.code, 1);
    assert!(f.stderr.contains("globaldce"), "{}", f.stderr);
}

#[test]
fn unwritable_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    for output in ["/nonexistent-dir/out.bc", dir.path().to_str().unwrap()] {
        let out = run(llpar().arg(&input).arg("-O2").arg("-o").arg(output));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains("cannot write"), "{stderr}");
    }
    assert!(!Path::new("/nonexistent-dir").exists());
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let f = fails(dir.path(), &[&input, "-O2", "--passes=function(sroa)"]);
    assert_eq!(f.code, 2);
    assert!(f.stderr.contains("cannot be used together"), "{}", f.stderr);
    for args in [vec!["-j0"], vec!["-O7"], vec!["--emit=exe"]] {
        let out = run(llpar()
            .arg(&input)
            .args(&args)
            .arg("-o")
            .arg(dir.path().join("x.bc")));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!dir.path().join("x.bc").exists());
    }
}

#[test]
fn stdin_to_stdout_and_empty_input() {
    // An empty input is a valid empty module, as for `opt`; `-` is standard input and output.
    let out = run_ok(
        llpar()
            .args(["-", "-S", "-o", "-", "-O2"])
            .stdin(std::process::Stdio::null()),
    );
    assert!(String::from_utf8_lossy(&out).contains("ModuleID"));
}

#[test]
fn no_pipeline_reads_verifies_and_writes_like_opt() {
    // Without a pipeline llpar does what `opt` without passes does: the same bitcode and the same
    // text, byte for byte, for a small module and for a real one (Lua); and where the input fails
    // the verifier, both fail with exit status 1 and write nothing.
    let dir = tempfile::tempdir().unwrap();
    let small = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let lua = std::fs::read(corpus("lua.bc")).unwrap();
    let real = write(dir.path(), "lua.bc", &lua);
    let opt = |args: &[&str]| run(Command::new(llvm_tool("opt")).args(args));
    for input in [&small, &real] {
        for format in [&[][..], &["-S"][..]] {
            let ours = dir.path().join("ours.out");
            let theirs = dir.path().join("theirs.out");
            run_ok(llpar().arg(input).args(format).arg("-o").arg(&ours));
            let reference = opt(&[
                &[input.as_str()][..],
                format,
                &["-o", theirs.to_str().unwrap()],
            ]
            .concat());
            assert!(reference.status.success());
            assert!(
                std::fs::read(&ours).unwrap() == std::fs::read(&theirs).unwrap(),
                "{input} {format:?}: llpar's output differs from opt's"
            );
        }
    }
    let invalid = write(
        dir.path(),
        "invalid.ll",
        b"define i32 @f(i1 %c) {\nentry:\n  br i1 %c, label %a, label %b\na:\n  %x = add i32 1, 2\n  br label %b\nb:\n  ret i32 %x\n}\n",
    );
    let theirs = dir.path().join("invalid.opt.bc");
    let reference = opt(&[invalid.as_str(), "-o", theirs.to_str().unwrap()]);
    assert_eq!(reference.status.code(), Some(1));
    assert!(!theirs.exists());
    // opt says "input module is broken!": the input is checked before anything runs on it.
    assert!(
        String::from_utf8_lossy(&reference.stderr).contains("input module is broken"),
        "{reference:?}"
    );
    let f = fails(dir.path(), &[&invalid]);
    assert_eq!(f.code, 1, "{}", f.stderr);
    assert!(
        f.stderr.contains("input module fails the verifier"),
        "{}",
        f.stderr
    );
}

#[test]
fn bitcode_of_another_llvm_version() {
    // A module whose bitcode epoch (ir-fixtures/Inputs/future-llvm-epoch.bc: one bit set in an
    // llvm-as output) says that a later, incompatible LLVM wrote it.
    let dir = tempfile::tempdir().unwrap();
    let input = root().join("ir-fixtures/Inputs/future-llvm-epoch.bc");
    let f = fails(dir.path(), &[input.to_str().unwrap(), "-O2"]);
    assert_eq!(f.code, 1);
    assert!(
        f.stderr
            .contains("future-llvm-epoch.bc: Incompatible epoch: Bitcode '1' vs current: '0'"),
        "{}",
        f.stderr
    );
}

#[test]
fn output_to_a_fifo_or_device_is_written_in_place() {
    // Atomic output (a temporary file renamed over the output) must not replace a FIFO or a
    // device such as /dev/null with a regular file.
    use std::os::unix::fs::FileTypeExt;
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "good.ll", GOOD_IR.as_bytes());
    let fifo = dir.path().join("fifo");
    run_ok(Command::new("mkfifo").arg(&fifo));
    let reader = std::thread::spawn({
        let fifo = fifo.clone();
        move || std::fs::read(&fifo).unwrap()
    });
    run_ok(llpar().args([input.as_str(), "-S", "-o"]).arg(&fifo));
    let text = String::from_utf8(reader.join().unwrap()).unwrap();
    assert!(text.contains("define i32 @f(i32 %x)"), "{text}");
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    run_ok(llpar().args([input.as_str(), "-o", "/dev/null"]));
    assert!(std::fs::metadata("/dev/null")
        .unwrap()
        .file_type()
        .is_char_device());
}
