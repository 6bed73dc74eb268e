; A load from a constant global defined outside the chunk still folds: the chunk sees the
; initializer through an available_externally copy, which never reaches the output.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: @table = internal constant [4 x i32] [i32 10, i32 20, i32 30, i32 40]
; CHECK-NOT: available_externally
; CHECK-LABEL: define i32 @third()
; CHECK-NEXT: ret i32 30

@table = internal constant [4 x i32] [i32 10, i32 20, i32 30, i32 40]

define i32 @third() {
  %p = getelementptr inbounds [4 x i32], ptr @table, i64 0, i64 2
  %v = load i32, ptr %p
  ret i32 %v
}

define i32 @any(i64 %i) {
  %p = getelementptr inbounds [4 x i32], ptr @table, i64 0, i64 %i
  %v = load i32, ptr %p
  ret i32 %v
}
