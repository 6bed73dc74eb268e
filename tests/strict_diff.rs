//! The strict module comparison of tests/common/irdiff.rs: it accepts what differs without
//! meaning (struct type names, attribute group and metadata numbers, comments), and finds
//! differences that `llvm-diff` does not report.
mod common;
use common::irdiff::differences;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

const BASE: &str = r#"%struct.A = type { i32, %struct.B }
%struct.B = type { ptr }

@table = internal global [2 x i32] [i32 1, i32 2], align 4
@other = global i32 7

declare void @sink(ptr) #1

define i32 @f(ptr %p) #0 {
entry:
  %x = load i32, ptr %p, align 4, !tbaa !0
  call void @sink(ptr @table) #1
  %s = getelementptr %struct.A, ptr %p, i64 0, i32 1
  call void @sink(ptr %s)
  ret i32 %x
}

attributes #0 = { nounwind }
attributes #1 = { nounwind }

!0 = !{!"int", !1, i64 0}
!1 = !{!"tbaa root"}
"#;

/// `dir/NAME/module.bc`: the same file name for every module, which is their source_filename.
fn assemble(dir: &Path, name: &str, ir: &str) -> PathBuf {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("module.ll");
    std::fs::write(&source, ir).unwrap();
    let module = dir.join("module.bc");
    run_ok(Command::new(llvm_tool("llvm-as")).current_dir(&dir).args([
        "module.ll",
        "-o",
        "module.bc",
    ]));
    module
}

/// A change `llvm-diff` does not see and the strict comparison reports.
fn stricter_than_llvm_diff(name: &str, from: &str, to: &str, expected: &str) {
    assert!(BASE.contains(from), "{from}");
    let dir = tempfile::tempdir().unwrap();
    let reference = assemble(dir.path(), "reference", BASE);
    let candidate = assemble(dir.path(), name, &BASE.replacen(from, to, 1));
    assert!(
        llvm_diff(&reference, &candidate, 20).is_ok(),
        "{name}: llvm-diff sees this one"
    );
    let report = strict_diff(&reference, &candidate, 20).expect_err(name);
    assert!(report.contains(expected), "{name}: {report}");
}

#[test]
fn a_differing_initializer() {
    stricter_than_llvm_diff(
        "initializer",
        "@other = global i32 7",
        "@other = global i32 8",
        "global @other",
    );
}

#[test]
fn a_missing_global() {
    stricter_than_llvm_diff(
        "missing",
        "@other = global i32 7\n",
        "",
        "global @other: missing from the candidate",
    );
}

#[test]
fn a_differing_linkage() {
    stricter_than_llvm_diff(
        "linkage",
        "@table = internal global",
        "@table = global",
        "global @table",
    );
}

#[test]
fn a_declaration_without_its_attributes() {
    stricter_than_llvm_diff(
        "declaration",
        "declare void @sink(ptr) #1",
        "declare void @sink(ptr)",
        "function @sink",
    );
}

#[test]
fn a_call_site_without_its_attributes() {
    stricter_than_llvm_diff(
        "call site",
        "call void @sink(ptr @table) #1",
        "call void @sink(ptr @table)",
        "function @f",
    );
}

#[test]
fn renamed_structs_renumbered_groups_and_metadata_are_equal() {
    // What linking and merging change without meaning: another name for an isomorphic struct, a
    // literal struct for a named one, other attribute group and metadata numbers, comments.
    let candidate = BASE
        .replace(
            "%struct.A = type { i32, %struct.B }\n%struct.B = type { ptr }",
            "%struct._ht = type { i32, { ptr } }",
        )
        .replace("%struct.A,", "%struct._ht,")
        .replace("#0", "#7")
        .replace("!0", "!9")
        .replace("!1", "!8")
        .replace("entry:", "entry: ; a comment");
    assert_eq!(differences(BASE, &candidate, 10), Vec::<String>::new());
    // The same, assembled and disassembled by LLVM.
    let dir = tempfile::tempdir().unwrap();
    let reference = assemble(dir.path(), "reference", BASE);
    let renamed = assemble(dir.path(), "renamed", &candidate);
    assert_equivalent(&reference, &renamed);
}

#[test]
fn a_struct_of_another_shape_and_metadata_of_other_contents_differ() {
    let shape = BASE.replace("%struct.B = type { ptr }", "%struct.B = type { ptr, i8 }");
    let found = differences(BASE, &shape, 10);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].starts_with("function @f, line 5"), "{found:?}");
    let tbaa = BASE.replace("!{!\"tbaa root\"}", "!{!\"another root\"}");
    let found = differences(BASE, &tbaa, 10);
    assert_eq!(found.len(), 1, "{found:?}");
    let order = BASE.replace(
        "@table = internal global [2 x i32] [i32 1, i32 2], align 4\n@other = global i32 7\n",
        "@other = global i32 7\n@table = internal global [2 x i32] [i32 1, i32 2], align 4\n",
    );
    let found = differences(BASE, &order, 10);
    assert!(found[0].starts_with("order of globals"), "{found:?}");
}
