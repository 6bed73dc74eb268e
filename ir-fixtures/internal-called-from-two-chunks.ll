; An internal function defined in one chunk and called from two others is promoted while the
; chunks are optimized apart, then made internal again under its own name after the merge.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK-NOT: __llpar
; CHECK: define internal i32 @helper(i32 %x)
; CHECK: define i32 @first(i32 %a)
; CHECK: call i32 @helper(
; CHECK: define i32 @second(i32 %b)
; CHECK: call i32 @helper(

define internal i32 @helper(i32 %x) noinline {
  %y = mul i32 %x, 3
  %z = add i32 %y, 1
  ret i32 %z
}

define i32 @first(i32 %a) {
  %p = alloca i32
  store i32 %a, ptr %p
  %v = load i32, ptr %p
  %r = call i32 @helper(i32 %v)
  ret i32 %r
}

define i32 @second(i32 %b) {
  %r = call i32 @helper(i32 %b)
  %s = add i32 %r, 0
  ret i32 %s
}
