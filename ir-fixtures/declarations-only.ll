; A module with declarations only has nothing to split; it comes out unchanged.
; RUN: %llpar -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: @ext = external global i32
; CHECK: declare i32 @f(i32)
; CHECK: declare void @g(ptr)
; CHECK-NOT: define

@ext = external global i32
declare i32 @f(i32)
declare void @g(ptr)
