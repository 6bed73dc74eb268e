; Functions with debug info in several chunks come back pointing at the one compile unit of the
; input: the merged module has no duplicated DICompileUnit.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: !llvm.dbg.cu = !{![[CU:[0-9]+]]}
; CHECK-COUNT-1: distinct !DICompileUnit(
; CHECK-NOT: DICompileUnit(

define i32 @f(i32 %x) !dbg !6 {
  %r = add i32 %x, 1, !dbg !9
  ret i32 %r, !dbg !9
}

define i32 @g(i32 %x) !dbg !10 {
  %r = call i32 @f(i32 %x), !dbg !11
  ret i32 %r, !dbg !11
}

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!3, !4}

!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !1, producer: "hand", isOptimized: true, runtimeVersion: 0, emissionKind: FullDebug)
!1 = !DIFile(filename: "t.c", directory: "/tmp")
!3 = !{i32 7, !"Dwarf Version", i32 5}
!4 = !{i32 2, !"Debug Info Version", i32 3}
!5 = !DISubroutineType(types: !{})
!6 = distinct !DISubprogram(name: "f", scope: !1, file: !1, line: 1, type: !5, scopeLine: 1, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0)
!9 = !DILocation(line: 2, column: 3, scope: !6)
!10 = distinct !DISubprogram(name: "g", scope: !1, file: !1, line: 5, type: !5, scopeLine: 5, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0)
!11 = !DILocation(line: 6, column: 3, scope: !10)
