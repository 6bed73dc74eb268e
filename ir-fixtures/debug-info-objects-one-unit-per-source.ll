; Two C files (a.c, b.c) linked into one module with -g, one function per chunk: every chunk's
; object has its own compile units, and the joined object has one per source again, as `llc`'s
; has, valid for llvm-dwarfdump, with every function's line rows, and the same at any -j.
; RUN: %llpar %tiny -O2 --emit=obj -j2 --stats %s -o %t.o 2>&1 | FileCheck %s --check-prefix=STATS
; RUN: %llpar %tiny -O2 --emit=obj -j1 %s -o %t.j1.o
; RUN: cmp %t.o %t.j1.o
; RUN: llvm-dwarfdump --verify %t.o | FileCheck %s --check-prefix=VERIFY
; RUN: llvm-dwarfdump --debug-info --recurse-depth=0 %t.o | FileCheck %s --check-prefix=UNITS
; RUN: llvm-dwarfdump --debug-line %t.o | FileCheck %s --check-prefix=LINES

; STATS: debug info: {{[0-9]+}} compile units joined into 2, one per source
; VERIFY: No errors.
; UNITS: DW_TAG_compile_unit
; UNITS: DW_AT_name ("a.c")
; UNITS: DW_TAG_compile_unit
; UNITS: DW_AT_name ("b.c")
; UNITS-NOT: DW_TAG_compile_unit
; LINES-COUNT-2: include_directories[  0] = "/src"
; LINES-NOT: include_directories[  0]

target datalayout = "e-m:e-p270:32:32-p271:32:32-p272:64:64-i64:64-i128:128-f80:128-n8:16:32:64-S128"
target triple = "x86_64-pc-linux-gnu"

%struct.pair = type { i32, i32 }

; Function Attrs: nounwind uwtable
define dso_local i32 @a_one(i32 noundef %0) #0 !dbg !15 {
  %2 = alloca i32, align 4
  %3 = alloca %struct.pair, align 4
  store i32 %0, ptr %2, align 4, !tbaa !5
    #dbg_declare(ptr %2, !20, !DIExpression(), !26)
  call void @llvm.lifetime.start.p0(ptr %3) #2, !dbg !27
    #dbg_declare(ptr %3, !21, !DIExpression(), !28)
  %4 = getelementptr inbounds nuw %struct.pair, ptr %3, i32 0, i32 0, !dbg !29
  %5 = load i32, ptr %2, align 4, !dbg !30, !tbaa !5
  store i32 %5, ptr %4, align 4, !dbg !31, !tbaa !32
  %6 = getelementptr inbounds nuw %struct.pair, ptr %3, i32 0, i32 1, !dbg !29
  %7 = load i32, ptr %2, align 4, !dbg !34, !tbaa !5
  %8 = add nsw i32 %7, 1, !dbg !35
  store i32 %8, ptr %6, align 4, !dbg !31, !tbaa !36
  %9 = call i32 @a_helper(ptr noundef %3), !dbg !37
  %10 = load i32, ptr %2, align 4, !dbg !38, !tbaa !5
  %11 = call i32 @b_twice(i32 noundef %10), !dbg !39
  %12 = add nsw i32 %9, %11, !dbg !40
  call void @llvm.lifetime.end.p0(ptr %3) #2, !dbg !41
  ret i32 %12, !dbg !42
}

; Function Attrs: nocallback nofree nosync nounwind willreturn memory(argmem: readwrite)
declare void @llvm.lifetime.start.p0(ptr captures(none)) #1

; Function Attrs: nounwind uwtable
define internal i32 @a_helper(ptr noundef %0) #0 !dbg !43 {
  %2 = alloca ptr, align 8
  store ptr %0, ptr %2, align 8, !tbaa !49
    #dbg_declare(ptr %2, !48, !DIExpression(), !52)
  %3 = load ptr, ptr %2, align 8, !dbg !53, !tbaa !49
  %4 = getelementptr inbounds nuw %struct.pair, ptr %3, i32 0, i32 0, !dbg !54
  %5 = load i32, ptr %4, align 4, !dbg !54, !tbaa !32
  %6 = mul nsw i32 %5, 3, !dbg !55
  %7 = load ptr, ptr %2, align 8, !dbg !56, !tbaa !49
  %8 = getelementptr inbounds nuw %struct.pair, ptr %7, i32 0, i32 1, !dbg !57
  %9 = load i32, ptr %8, align 4, !dbg !57, !tbaa !36
  %10 = add nsw i32 %6, %9, !dbg !58
  ret i32 %10, !dbg !59
}

; Function Attrs: nocallback nofree nosync nounwind willreturn memory(argmem: readwrite)
declare void @llvm.lifetime.end.p0(ptr captures(none)) #1

; Function Attrs: nounwind uwtable
define dso_local i32 @a_two(i32 noundef %0) #0 !dbg !60 {
  %2 = alloca i32, align 4
  %3 = alloca i32, align 4
  %4 = alloca i32, align 4
  store i32 %0, ptr %2, align 4, !tbaa !5
    #dbg_declare(ptr %2, !62, !DIExpression(), !66)
  call void @llvm.lifetime.start.p0(ptr %3) #2, !dbg !67
    #dbg_declare(ptr %3, !63, !DIExpression(), !68)
  store i32 0, ptr %3, align 4, !dbg !69, !tbaa !5
  call void @llvm.lifetime.start.p0(ptr %4) #2, !dbg !70
    #dbg_declare(ptr %4, !64, !DIExpression(), !71)
  store i32 0, ptr %4, align 4, !dbg !72, !tbaa !5
  br label %5, !dbg !70

5:                                                ; preds = %15, %1
  %6 = load i32, ptr %4, align 4, !dbg !73, !tbaa !5
  %7 = load i32, ptr %2, align 4, !dbg !75, !tbaa !5
  %8 = icmp slt i32 %6, %7, !dbg !76
  br i1 %8, label %10, label %9, !dbg !77

9:                                                ; preds = %5
  call void @llvm.lifetime.end.p0(ptr %4) #2, !dbg !78
  br label %18

10:                                               ; preds = %5
  %11 = load i32, ptr %4, align 4, !dbg !79, !tbaa !5
  %12 = call i32 @a_one(i32 noundef %11), !dbg !80
  %13 = load i32, ptr %3, align 4, !dbg !81, !tbaa !5
  %14 = add nsw i32 %13, %12, !dbg !82
  store i32 %14, ptr %3, align 4, !dbg !83, !tbaa !5
  br label %15, !dbg !84

15:                                               ; preds = %10
  %16 = load i32, ptr %4, align 4, !dbg !85, !tbaa !5
  %17 = add nsw i32 %16, 1, !dbg !86
  store i32 %17, ptr %4, align 4, !dbg !87, !tbaa !5
  br label %5, !dbg !78, !llvm.loop !88

18:                                               ; preds = %9
  %19 = load i32, ptr %3, align 4, !dbg !92, !tbaa !5
  call void @llvm.lifetime.end.p0(ptr %3) #2, !dbg !93
  ret i32 %19, !dbg !94
}

; Function Attrs: nounwind uwtable
define dso_local i32 @b_twice(i32 noundef %0) #0 !dbg !95 {
  %2 = alloca i32, align 4
  store i32 %0, ptr %2, align 4, !tbaa !5
    #dbg_declare(ptr %2, !97, !DIExpression(), !98)
  %3 = load i32, ptr %2, align 4, !dbg !99, !tbaa !5
  %4 = mul nsw i32 2, %3, !dbg !100
  ret i32 %4, !dbg !101
}

; Function Attrs: nounwind uwtable
define dso_local i32 @b_sum(i32 noundef %0) #0 !dbg !102 {
  %2 = alloca i32, align 4
  %3 = alloca i32, align 4
  %4 = alloca i32, align 4
  store i32 %0, ptr %2, align 4, !tbaa !5
    #dbg_declare(ptr %2, !104, !DIExpression(), !108)
  call void @llvm.lifetime.start.p0(ptr %3) #2, !dbg !109
    #dbg_declare(ptr %3, !105, !DIExpression(), !110)
  store i32 0, ptr %3, align 4, !dbg !111, !tbaa !5
  call void @llvm.lifetime.start.p0(ptr %4) #2, !dbg !112
    #dbg_declare(ptr %4, !106, !DIExpression(), !113)
  store i32 0, ptr %4, align 4, !dbg !114, !tbaa !5
  br label %5, !dbg !112

5:                                                ; preds = %19, %1
  %6 = load i32, ptr %4, align 4, !dbg !115, !tbaa !5
  %7 = load i32, ptr %2, align 4, !dbg !117, !tbaa !5
  %8 = icmp slt i32 %6, %7, !dbg !118
  br i1 %8, label %10, label %9, !dbg !119

9:                                                ; preds = %5
  call void @llvm.lifetime.end.p0(ptr %4) #2, !dbg !120
  br label %22

10:                                               ; preds = %5
  %11 = load i32, ptr %4, align 4, !dbg !121, !tbaa !5
  %12 = call i32 @b_twice(i32 noundef %11), !dbg !122
  %13 = load i32, ptr %4, align 4, !dbg !123, !tbaa !5
  %14 = and i32 %13, 3, !dbg !124
  %15 = call i32 @a_two(i32 noundef %14), !dbg !125
  %16 = xor i32 %12, %15, !dbg !126
  %17 = load i32, ptr %3, align 4, !dbg !127, !tbaa !5
  %18 = add nsw i32 %17, %16, !dbg !128
  store i32 %18, ptr %3, align 4, !dbg !129, !tbaa !5
  br label %19, !dbg !130

19:                                               ; preds = %10
  %20 = load i32, ptr %4, align 4, !dbg !131, !tbaa !5
  %21 = add nsw i32 %20, 1, !dbg !132
  store i32 %21, ptr %4, align 4, !dbg !133, !tbaa !5
  br label %5, !dbg !120, !llvm.loop !134

22:                                               ; preds = %9
  %23 = load i32, ptr %3, align 4, !dbg !137, !tbaa !5
  call void @llvm.lifetime.end.p0(ptr %3) #2, !dbg !138
  ret i32 %23, !dbg !139
}

attributes #0 = { nounwind uwtable "min-legal-vector-width"="0" "no-trapping-math"="true" "stack-protector-buffer-size"="8" "target-cpu"="x86-64" "target-features"="+cmov,+cx8,+fxsr,+mmx,+sse,+sse2,+x87" "tune-cpu"="generic" }
attributes #1 = { nocallback nofree nosync nounwind willreturn memory(argmem: readwrite) }
attributes #2 = { nounwind }

!llvm.dbg.cu = !{!0, !2}
!llvm.ident = !{!4}
!llvm.errno.tbaa = !{!5}
!llvm.module.flags = !{!9, !10, !11, !12, !13, !14}

!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !1, producer: "Debian clang version 22.1.8 (1~deb12u1)", isOptimized: true, runtimeVersion: 0, emissionKind: FullDebug, splitDebugInlining: false, nameTableKind: None)
!1 = !DIFile(filename: "a.c", directory: "/src", checksumkind: CSK_MD5, checksum: "f3c0bdf40a46db224e82776efc697fc9")
!2 = distinct !DICompileUnit(language: DW_LANG_C11, file: !3, producer: "Debian clang version 22.1.8 (1~deb12u1)", isOptimized: true, runtimeVersion: 0, emissionKind: FullDebug, splitDebugInlining: false, nameTableKind: None)
!3 = !DIFile(filename: "b.c", directory: "/src", checksumkind: CSK_MD5, checksum: "8e585f4e9973fb58eeffb40e5325fe6b")
!4 = !{!"Debian clang version 22.1.8 (1~deb12u1)"}
!5 = !{!6, !6, i64 0}
!6 = !{!"int", !7, i64 0}
!7 = !{!"omnipotent char", !8, i64 0}
!8 = !{!"Simple C/C++ TBAA"}
!9 = !{i32 7, !"Dwarf Version", i32 5}
!10 = !{i32 2, !"Debug Info Version", i32 3}
!11 = !{i32 1, !"wchar_size", i32 4}
!12 = !{i32 8, !"PIC Level", i32 2}
!13 = !{i32 7, !"PIE Level", i32 2}
!14 = !{i32 7, !"uwtable", i32 2}
!15 = distinct !DISubprogram(name: "a_one", scope: !1, file: !1, line: 4, type: !16, scopeLine: 4, flags: DIFlagPrototyped | DIFlagAllCallsDescribed, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0, retainedNodes: !19, keyInstructions: true)
!16 = !DISubroutineType(types: !17)
!17 = !{!18, !18}
!18 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!19 = !{!20, !21}
!20 = !DILocalVariable(name: "x", arg: 1, scope: !15, file: !1, line: 4, type: !18)
!21 = !DILocalVariable(name: "p", scope: !15, file: !1, line: 4, type: !22)
!22 = distinct !DICompositeType(tag: DW_TAG_structure_type, name: "pair", file: !1, line: 1, size: 64, elements: !23)
!23 = !{!24, !25}
!24 = !DIDerivedType(tag: DW_TAG_member, name: "a", scope: !22, file: !1, line: 1, baseType: !18, size: 32)
!25 = !DIDerivedType(tag: DW_TAG_member, name: "b", scope: !22, file: !1, line: 1, baseType: !18, size: 32, offset: 32)
!26 = !DILocation(line: 4, column: 15, scope: !15)
!27 = !DILocation(line: 4, column: 20, scope: !15)
!28 = !DILocation(line: 4, column: 32, scope: !15)
!29 = !DILocation(line: 4, column: 36, scope: !15)
!30 = !DILocation(line: 4, column: 38, scope: !15, atomGroup: 1, atomRank: 2)
!31 = !DILocation(line: 4, column: 36, scope: !15, atomGroup: 1, atomRank: 1)
!32 = !{!33, !6, i64 0}
!33 = !{!"pair", !6, i64 0, !6, i64 4}
!34 = !DILocation(line: 4, column: 41, scope: !15)
!35 = !DILocation(line: 4, column: 43, scope: !15, atomGroup: 1, atomRank: 2)
!36 = !{!33, !6, i64 4}
!37 = !DILocation(line: 4, column: 57, scope: !15)
!38 = !DILocation(line: 4, column: 80, scope: !15)
!39 = !DILocation(line: 4, column: 72, scope: !15)
!40 = !DILocation(line: 4, column: 70, scope: !15, atomGroup: 3, atomRank: 2)
!41 = !DILocation(line: 4, column: 84, scope: !15)
!42 = !DILocation(line: 4, column: 50, scope: !15, atomGroup: 3, atomRank: 1)
!43 = distinct !DISubprogram(name: "a_helper", scope: !1, file: !1, line: 3, type: !44, scopeLine: 3, flags: DIFlagPrototyped | DIFlagAllCallsDescribed, spFlags: DISPFlagLocalToUnit | DISPFlagDefinition | DISPFlagOptimized, unit: !0, retainedNodes: !47, keyInstructions: true)
!44 = !DISubroutineType(types: !45)
!45 = !{!18, !46}
!46 = !DIDerivedType(tag: DW_TAG_pointer_type, baseType: !22, size: 64)
!47 = !{!48}
!48 = !DILocalVariable(name: "p", arg: 1, scope: !43, file: !1, line: 3, type: !46)
!49 = !{!50, !50, i64 0}
!50 = !{!"p1 _ZTS4pair", !51, i64 0}
!51 = !{!"any pointer", !7, i64 0}
!52 = !DILocation(line: 3, column: 34, scope: !43)
!53 = !DILocation(line: 3, column: 46, scope: !43)
!54 = !DILocation(line: 3, column: 49, scope: !43)
!55 = !DILocation(line: 3, column: 51, scope: !43)
!56 = !DILocation(line: 3, column: 57, scope: !43)
!57 = !DILocation(line: 3, column: 60, scope: !43)
!58 = !DILocation(line: 3, column: 55, scope: !43, atomGroup: 1, atomRank: 2)
!59 = !DILocation(line: 3, column: 39, scope: !43, atomGroup: 1, atomRank: 1)
!60 = distinct !DISubprogram(name: "a_two", scope: !1, file: !1, line: 5, type: !16, scopeLine: 5, flags: DIFlagPrototyped | DIFlagAllCallsDescribed, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0, retainedNodes: !61, keyInstructions: true)
!61 = !{!62, !63, !64}
!62 = !DILocalVariable(name: "x", arg: 1, scope: !60, file: !1, line: 5, type: !18)
!63 = !DILocalVariable(name: "s", scope: !60, file: !1, line: 5, type: !18)
!64 = !DILocalVariable(name: "i", scope: !65, file: !1, line: 5, type: !18)
!65 = distinct !DILexicalBlock(scope: !60, file: !1, line: 5, column: 31)
!66 = !DILocation(line: 5, column: 15, scope: !60)
!67 = !DILocation(line: 5, column: 20, scope: !60)
!68 = !DILocation(line: 5, column: 24, scope: !60)
!69 = !DILocation(line: 5, column: 24, scope: !60, atomGroup: 1, atomRank: 1)
!70 = !DILocation(line: 5, column: 36, scope: !65)
!71 = !DILocation(line: 5, column: 40, scope: !65)
!72 = !DILocation(line: 5, column: 40, scope: !65, atomGroup: 2, atomRank: 1)
!73 = !DILocation(line: 5, column: 47, scope: !74)
!74 = distinct !DILexicalBlock(scope: !65, file: !1, line: 5, column: 31)
!75 = !DILocation(line: 5, column: 51, scope: !74)
!76 = !DILocation(line: 5, column: 49, scope: !74, atomGroup: 3, atomRank: 1)
!77 = !DILocation(line: 5, column: 31, scope: !65, atomGroup: 4, atomRank: 1)
!78 = !DILocation(line: 5, column: 31, scope: !74)
!79 = !DILocation(line: 5, column: 70, scope: !74)
!80 = !DILocation(line: 5, column: 64, scope: !74)
!81 = !DILocation(line: 5, column: 61, scope: !74)
!82 = !DILocation(line: 5, column: 61, scope: !74, atomGroup: 5, atomRank: 2)
!83 = !DILocation(line: 5, column: 61, scope: !74, atomGroup: 5, atomRank: 1)
!84 = !DILocation(line: 5, column: 59, scope: !74, atomGroup: 7, atomRank: 1)
!85 = !DILocation(line: 5, column: 55, scope: !74)
!86 = !DILocation(line: 5, column: 55, scope: !74, atomGroup: 6, atomRank: 2)
!87 = !DILocation(line: 5, column: 55, scope: !74, atomGroup: 6, atomRank: 1)
!88 = distinct !{!88, !89, !90, !91}
!89 = !DILocation(line: 5, column: 31, scope: !65)
!90 = !DILocation(line: 5, column: 71, scope: !65)
!91 = !{!"llvm.loop.mustprogress"}
!92 = !DILocation(line: 5, column: 81, scope: !60, atomGroup: 9, atomRank: 2)
!93 = !DILocation(line: 5, column: 84, scope: !60)
!94 = !DILocation(line: 5, column: 74, scope: !60, atomGroup: 9, atomRank: 1)
!95 = distinct !DISubprogram(name: "b_twice", scope: !3, file: !3, line: 2, type: !16, scopeLine: 2, flags: DIFlagPrototyped | DIFlagAllCallsDescribed, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !2, retainedNodes: !96, keyInstructions: true)
!96 = !{!97}
!97 = !DILocalVariable(name: "x", arg: 1, scope: !95, file: !3, line: 2, type: !18)
!98 = !DILocation(line: 2, column: 17, scope: !95)
!99 = !DILocation(line: 2, column: 33, scope: !95)
!100 = !DILocation(line: 2, column: 31, scope: !95, atomGroup: 1, atomRank: 2)
!101 = !DILocation(line: 2, column: 22, scope: !95, atomGroup: 1, atomRank: 1)
!102 = distinct !DISubprogram(name: "b_sum", scope: !3, file: !3, line: 3, type: !16, scopeLine: 3, flags: DIFlagPrototyped | DIFlagAllCallsDescribed, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !2, retainedNodes: !103, keyInstructions: true)
!103 = !{!104, !105, !106}
!104 = !DILocalVariable(name: "n", arg: 1, scope: !102, file: !3, line: 3, type: !18)
!105 = !DILocalVariable(name: "s", scope: !102, file: !3, line: 3, type: !18)
!106 = !DILocalVariable(name: "i", scope: !107, file: !3, line: 3, type: !18)
!107 = distinct !DILexicalBlock(scope: !102, file: !3, line: 3, column: 31)
!108 = !DILocation(line: 3, column: 15, scope: !102)
!109 = !DILocation(line: 3, column: 20, scope: !102)
!110 = !DILocation(line: 3, column: 24, scope: !102)
!111 = !DILocation(line: 3, column: 24, scope: !102, atomGroup: 1, atomRank: 1)
!112 = !DILocation(line: 3, column: 36, scope: !107)
!113 = !DILocation(line: 3, column: 40, scope: !107)
!114 = !DILocation(line: 3, column: 40, scope: !107, atomGroup: 2, atomRank: 1)
!115 = !DILocation(line: 3, column: 47, scope: !116)
!116 = distinct !DILexicalBlock(scope: !107, file: !3, line: 3, column: 31)
!117 = !DILocation(line: 3, column: 51, scope: !116)
!118 = !DILocation(line: 3, column: 49, scope: !116, atomGroup: 3, atomRank: 1)
!119 = !DILocation(line: 3, column: 31, scope: !107, atomGroup: 4, atomRank: 1)
!120 = !DILocation(line: 3, column: 31, scope: !116)
!121 = !DILocation(line: 3, column: 72, scope: !116)
!122 = !DILocation(line: 3, column: 64, scope: !116)
!123 = !DILocation(line: 3, column: 83, scope: !116)
!124 = !DILocation(line: 3, column: 85, scope: !116)
!125 = !DILocation(line: 3, column: 77, scope: !116)
!126 = !DILocation(line: 3, column: 75, scope: !116)
!127 = !DILocation(line: 3, column: 61, scope: !116)
!128 = !DILocation(line: 3, column: 61, scope: !116, atomGroup: 5, atomRank: 2)
!129 = !DILocation(line: 3, column: 61, scope: !116, atomGroup: 5, atomRank: 1)
!130 = !DILocation(line: 3, column: 59, scope: !116, atomGroup: 7, atomRank: 1)
!131 = !DILocation(line: 3, column: 55, scope: !116)
!132 = !DILocation(line: 3, column: 55, scope: !116, atomGroup: 6, atomRank: 2)
!133 = !DILocation(line: 3, column: 55, scope: !116, atomGroup: 6, atomRank: 1)
!134 = distinct !{!134, !135, !136, !91}
!135 = !DILocation(line: 3, column: 31, scope: !107)
!136 = !DILocation(line: 3, column: 88, scope: !107)
!137 = !DILocation(line: 3, column: 98, scope: !102, atomGroup: 9, atomRank: 2)
!138 = !DILocation(line: 3, column: 101, scope: !102)
!139 = !DILocation(line: 3, column: 91, scope: !102, atomGroup: 9, atomRank: 1)
