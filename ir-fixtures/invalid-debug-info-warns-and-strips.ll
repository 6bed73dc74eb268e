; Debug info the verifier rejects is dropped with one warning, as `opt` does, and the module is
; optimized without it; the warning comes from the command, once (the library returns it).
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o %t.ll 2> %t.err
; RUN: FileCheck --check-prefix=WARN %s < %t.err
; RUN: FileCheck %s < %t.ll
; RUN: %llpar split -n 2 %s -o %t.unit 2> %t.split.err
; RUN: FileCheck --check-prefix=WARN %s < %t.split.err

; WARN: llpar: warning: {{.*}}invalid-debug-info-warns-and-strips.ll: ignoring invalid debug info
; WARN-NOT: warning
; CHECK: define i32 @g(
; CHECK-NOT: !dbg
; CHECK-NOT: DICompileUnit

define i32 @f(i32 %x) !dbg !6 {
  %r = add i32 %x, 1, !dbg !9
  ret i32 %r, !dbg !9
}

define i32 @g(i32 %x) {
  %r = call i32 @f(i32 %x)
  ret i32 %r
}

; The compile unit is not listed in llvm.dbg.cu.
!llvm.module.flags = !{!3, !4}

!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !1, producer: "hand", isOptimized: true, runtimeVersion: 0, emissionKind: FullDebug)
!1 = !DIFile(filename: "t.c", directory: "/tmp")
!3 = !{i32 7, !"Dwarf Version", i32 5}
!4 = !{i32 2, !"Debug Info Version", i32 3}
!5 = !DISubroutineType(types: !{})
!6 = distinct !DISubprogram(name: "f", scope: !1, file: !1, line: 1, type: !5, scopeLine: 1, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0)
!9 = !DILocation(line: 2, column: 3, scope: !6)
