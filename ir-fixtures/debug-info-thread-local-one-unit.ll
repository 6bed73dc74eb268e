; A thread-local variable's location is `DW_OP_const8u` with a TLS relocation
; (R_X86_64_DTPOFF64) on its operand, and each chunk's unit has one address range (no
; .debug_rnglists in its object). The joined object has one unit for t.c, the variable's
; location keeps its relocation, the unit's ranges go to a section of their own, and
; llvm-dwarfdump finds nothing wrong.
; RUN: %llpar %tiny -O0 --emit=obj -j2 --stats %s -o %t.o 2>&1 | FileCheck %s --check-prefix=STATS
; RUN: llvm-dwarfdump --verify %t.o | FileCheck %s --check-prefix=VERIFY
; RUN: llvm-dwarfdump --debug-info %t.o | FileCheck %s --check-prefix=INFO
; RUN: llvm-readelf -r -S %t.o | FileCheck %s --check-prefix=RELOCS

; STATS: debug info: {{[0-9]+}} compile units joined into 1, one per source
; VERIFY: No errors.
; INFO-COUNT-1: DW_TAG_compile_unit
; INFO: DW_AT_ranges
; INFO: DW_AT_name ("counter")
; INFO: DW_AT_location (DW_OP_const8u 0x0, DW_OP_form_tls_address)
; RELOCS: .debug_rnglists
; RELOCS: R_X86_64_DTPOFF64 {{.*}} counter + 0

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

@counter = dso_local thread_local global i32 0, align 4, !dbg !0

; Function Attrs: noinline nounwind optnone uwtable
define dso_local i32 @f1(i32 noundef %0) #0 !dbg !14 {
  %2 = alloca i32, align 4
  store i32 %0, ptr %2, align 4
    #dbg_declare(ptr %2, !18, !DIExpression(), !19)
  %3 = load i32, ptr %2, align 4, !dbg !20
  %4 = call align 4 ptr @llvm.threadlocal.address.p0(ptr align 4 @counter), !dbg !21
  %5 = load i32, ptr %4, align 4, !dbg !22
  %6 = add nsw i32 %5, %3, !dbg !22
  store i32 %6, ptr %4, align 4, !dbg !22
  %7 = load i32, ptr %2, align 4, !dbg !23
  %8 = call i32 @helper(i32 noundef %7), !dbg !24
  %9 = add nsw i32 %8, 1, !dbg !25
  ret i32 %9, !dbg !26
}

; Function Attrs: nocallback nofree nosync nounwind speculatable willreturn memory(none)
declare nonnull ptr @llvm.threadlocal.address.p0(ptr nonnull) #1

; Function Attrs: noinline nounwind optnone uwtable
define internal i32 @helper(i32 noundef %0) #0 !dbg !27 {
  %2 = alloca i32, align 4
  store i32 %0, ptr %2, align 4
    #dbg_declare(ptr %2, !28, !DIExpression(), !29)
  %3 = load i32, ptr %2, align 4, !dbg !30
  %4 = mul nsw i32 %3, 3, !dbg !31
  %5 = call align 4 ptr @llvm.threadlocal.address.p0(ptr align 4 @counter), !dbg !32
  %6 = load i32, ptr %5, align 4, !dbg !32
  %7 = add nsw i32 %4, %6, !dbg !33
  ret i32 %7, !dbg !34
}

; Function Attrs: noinline nounwind optnone uwtable
define dso_local i32 @f2(i32 noundef %0) #0 !dbg !35 {
  %2 = alloca i32, align 4
  %3 = alloca i32, align 4
  %4 = alloca i32, align 4
  store i32 %0, ptr %2, align 4
    #dbg_declare(ptr %2, !36, !DIExpression(), !37)
    #dbg_declare(ptr %3, !38, !DIExpression(), !39)
  store i32 0, ptr %3, align 4, !dbg !39
    #dbg_declare(ptr %4, !40, !DIExpression(), !42)
  store i32 0, ptr %4, align 4, !dbg !42
  br label %5, !dbg !43

5:                                                ; preds = %14, %1
  %6 = load i32, ptr %4, align 4, !dbg !44
  %7 = load i32, ptr %2, align 4, !dbg !46
  %8 = icmp slt i32 %6, %7, !dbg !47
  br i1 %8, label %9, label %17, !dbg !48

9:                                                ; preds = %5
  %10 = load i32, ptr %4, align 4, !dbg !49
  %11 = call i32 @f1(i32 noundef %10), !dbg !50
  %12 = load i32, ptr %3, align 4, !dbg !51
  %13 = add nsw i32 %12, %11, !dbg !51
  store i32 %13, ptr %3, align 4, !dbg !51
  br label %14, !dbg !52

14:                                               ; preds = %9
  %15 = load i32, ptr %4, align 4, !dbg !53
  %16 = add nsw i32 %15, 1, !dbg !53
  store i32 %16, ptr %4, align 4, !dbg !53
  br label %5, !dbg !54, !llvm.loop !55

17:                                               ; preds = %5
  %18 = load i32, ptr %3, align 4, !dbg !58
  ret i32 %18, !dbg !59
}

; Function Attrs: noinline nounwind optnone uwtable
define dso_local i32 @f3(i32 noundef %0) #0 !dbg !60 {
  %2 = alloca i32, align 4
  store i32 %0, ptr %2, align 4
    #dbg_declare(ptr %2, !61, !DIExpression(), !62)
  %3 = load i32, ptr %2, align 4, !dbg !63
  %4 = call i32 @f2(i32 noundef %3), !dbg !64
  %5 = load i32, ptr %2, align 4, !dbg !65
  %6 = call i32 @helper(i32 noundef %5), !dbg !66
  %7 = mul nsw i32 %4, %6, !dbg !67
  ret i32 %7, !dbg !68
}

; Function Attrs: noinline nounwind optnone uwtable
define dso_local i32 @f4(i32 noundef %0) #0 !dbg !69 {
  %2 = alloca i32, align 4
  store i32 %0, ptr %2, align 4
    #dbg_declare(ptr %2, !70, !DIExpression(), !71)
  %3 = load i32, ptr %2, align 4, !dbg !72
  %4 = call i32 @f3(i32 noundef %3), !dbg !73
  %5 = load i32, ptr %2, align 4, !dbg !74
  %6 = call i32 @f1(i32 noundef %5), !dbg !75
  %7 = sub nsw i32 %4, %6, !dbg !76
  ret i32 %7, !dbg !77
}

attributes #0 = { noinline nounwind optnone uwtable "frame-pointer"="all" "min-legal-vector-width"="0" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cmov,+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #1 = { nocallback nofree nosync nounwind speculatable willreturn memory(none) }

!llvm.dbg.cu = !{!2}
!llvm.module.flags = !{!6, !7, !8, !9, !10, !11, !12}
!llvm.ident = !{!13}

!0 = !DIGlobalVariableExpression(var: !1, expr: !DIExpression())
!1 = distinct !DIGlobalVariable(name: "counter", scope: !2, file: !3, line: 1, type: !5, isLocal: false, isDefinition: true)
!2 = distinct !DICompileUnit(language: DW_LANG_C11, file: !3, producer: "Debian clang version 22.1.8 (1~deb12u1)", isOptimized: false, runtimeVersion: 0, emissionKind: FullDebug, globals: !4, splitDebugInlining: false, nameTableKind: None)
!3 = !DIFile(filename: "t.c", directory: "/src", checksumkind: CSK_MD5, checksum: "fca24e241c825edc246b1658b71431f6")
!4 = !{!0}
!5 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!6 = !{i32 7, !"Dwarf Version", i32 5}
!7 = !{i32 2, !"Debug Info Version", i32 3}
!8 = !{i32 1, !"wchar_size", i32 4}
!9 = !{i32 8, !"PIC Level", i32 2}
!10 = !{i32 7, !"PIE Level", i32 2}
!11 = !{i32 7, !"uwtable", i32 2}
!12 = !{i32 7, !"frame-pointer", i32 2}
!13 = !{!"Debian clang version 22.1.8 (1~deb12u1)"}
!14 = distinct !DISubprogram(name: "f1", scope: !3, file: !3, line: 3, type: !15, scopeLine: 3, flags: DIFlagPrototyped, spFlags: DISPFlagDefinition, unit: !2, retainedNodes: !17)
!15 = !DISubroutineType(types: !16)
!16 = !{!5, !5}
!17 = !{}
!18 = !DILocalVariable(name: "a", arg: 1, scope: !14, file: !3, line: 3, type: !5)
!19 = !DILocation(line: 3, column: 12, scope: !14)
!20 = !DILocation(line: 3, column: 28, scope: !14)
!21 = !DILocation(line: 3, column: 17, scope: !14)
!22 = !DILocation(line: 3, column: 25, scope: !14)
!23 = !DILocation(line: 3, column: 45, scope: !14)
!24 = !DILocation(line: 3, column: 38, scope: !14)
!25 = !DILocation(line: 3, column: 48, scope: !14)
!26 = !DILocation(line: 3, column: 31, scope: !14)
!27 = distinct !DISubprogram(name: "helper", scope: !3, file: !3, line: 2, type: !15, scopeLine: 2, flags: DIFlagPrototyped, spFlags: DISPFlagLocalToUnit | DISPFlagDefinition, unit: !2, retainedNodes: !17)
!28 = !DILocalVariable(name: "x", arg: 1, scope: !27, file: !3, line: 2, type: !5)
!29 = !DILocation(line: 2, column: 23, scope: !27)
!30 = !DILocation(line: 2, column: 35, scope: !27)
!31 = !DILocation(line: 2, column: 37, scope: !27)
!32 = !DILocation(line: 2, column: 43, scope: !27)
!33 = !DILocation(line: 2, column: 41, scope: !27)
!34 = !DILocation(line: 2, column: 28, scope: !27)
!35 = distinct !DISubprogram(name: "f2", scope: !3, file: !3, line: 4, type: !15, scopeLine: 4, flags: DIFlagPrototyped, spFlags: DISPFlagDefinition, unit: !2, retainedNodes: !17)
!36 = !DILocalVariable(name: "a", arg: 1, scope: !35, file: !3, line: 4, type: !5)
!37 = !DILocation(line: 4, column: 12, scope: !35)
!38 = !DILocalVariable(name: "s", scope: !35, file: !3, line: 4, type: !5)
!39 = !DILocation(line: 4, column: 21, scope: !35)
!40 = !DILocalVariable(name: "i", scope: !41, file: !3, line: 4, type: !5)
!41 = distinct !DILexicalBlock(scope: !35, file: !3, line: 4, column: 28)
!42 = !DILocation(line: 4, column: 37, scope: !41)
!43 = !DILocation(line: 4, column: 33, scope: !41)
!44 = !DILocation(line: 4, column: 44, scope: !45)
!45 = distinct !DILexicalBlock(scope: !41, file: !3, line: 4, column: 28)
!46 = !DILocation(line: 4, column: 48, scope: !45)
!47 = !DILocation(line: 4, column: 46, scope: !45)
!48 = !DILocation(line: 4, column: 28, scope: !41)
!49 = !DILocation(line: 4, column: 64, scope: !45)
!50 = !DILocation(line: 4, column: 61, scope: !45)
!51 = !DILocation(line: 4, column: 58, scope: !45)
!52 = !DILocation(line: 4, column: 56, scope: !45)
!53 = !DILocation(line: 4, column: 52, scope: !45)
!54 = !DILocation(line: 4, column: 28, scope: !45)
!55 = distinct !{!55, !48, !56, !57}
!56 = !DILocation(line: 4, column: 65, scope: !41)
!57 = !{!"llvm.loop.mustprogress"}
!58 = !DILocation(line: 4, column: 75, scope: !35)
!59 = !DILocation(line: 4, column: 68, scope: !35)
!60 = distinct !DISubprogram(name: "f3", scope: !3, file: !3, line: 5, type: !15, scopeLine: 5, flags: DIFlagPrototyped, spFlags: DISPFlagDefinition, unit: !2, retainedNodes: !17)
!61 = !DILocalVariable(name: "a", arg: 1, scope: !60, file: !3, line: 5, type: !5)
!62 = !DILocation(line: 5, column: 12, scope: !60)
!63 = !DILocation(line: 5, column: 27, scope: !60)
!64 = !DILocation(line: 5, column: 24, scope: !60)
!65 = !DILocation(line: 5, column: 39, scope: !60)
!66 = !DILocation(line: 5, column: 32, scope: !60)
!67 = !DILocation(line: 5, column: 30, scope: !60)
!68 = !DILocation(line: 5, column: 17, scope: !60)
!69 = distinct !DISubprogram(name: "f4", scope: !3, file: !3, line: 6, type: !15, scopeLine: 6, flags: DIFlagPrototyped, spFlags: DISPFlagDefinition, unit: !2, retainedNodes: !17)
!70 = !DILocalVariable(name: "a", arg: 1, scope: !69, file: !3, line: 6, type: !5)
!71 = !DILocation(line: 6, column: 12, scope: !69)
!72 = !DILocation(line: 6, column: 27, scope: !69)
!73 = !DILocation(line: 6, column: 24, scope: !69)
!74 = !DILocation(line: 6, column: 35, scope: !69)
!75 = !DILocation(line: 6, column: 32, scope: !69)
!76 = !DILocation(line: 6, column: 30, scope: !69)
!77 = !DILocation(line: 6, column: 17, scope: !69)
