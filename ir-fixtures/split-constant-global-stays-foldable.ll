; A unit that loads from a constant global defined in another unit gets an available_externally
; copy of its initializer, so the load can still fold when the unit is optimized alone.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: FileCheck %s < %t.1.ll
; RUN: opt -passes=instcombine %t.1 -S -o - | FileCheck %s --check-prefix=FOLDED
; CHECK: @table = available_externally constant [4 x i32] [i32 1, i32 2, i32 3, i32 5]
; FOLDED: define i32 @third()
; FOLDED-NEXT: ret i32 3

@table = constant [4 x i32] [i32 1, i32 2, i32 3, i32 5]

define i32 @first() {
  %v = load i32, ptr @table
  ret i32 %v
}

define i32 @third() {
  %p = getelementptr [4 x i32], ptr @table, i64 0, i64 2
  %v = load i32, ptr %p
  ret i32 %v
}
