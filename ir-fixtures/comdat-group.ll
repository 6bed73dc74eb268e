; The members of a comdat group (two functions and a variable) stay in one chunk, and the
; group is intact after the merge: one comdat, every member still in it.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: $inl = comdat any
; CHECK-NOT: comdat any
; CHECK: @inl.guard = linkonce_odr global i32 0, comdat($inl)
; CHECK: define linkonce_odr i32 @inl(i32 %x) comdat {
; CHECK: define linkonce_odr i32 @inl.helper(i32 %x) comdat($inl) {
; CHECK: define i32 @user(i32 %y)

$inl = comdat any

@inl.guard = linkonce_odr global i32 0, comdat($inl)

define linkonce_odr i32 @inl(i32 %x) comdat {
  %g = load i32, ptr @inl.guard
  %r = add i32 %x, %g
  ret i32 %r
}

define linkonce_odr i32 @inl.helper(i32 %x) comdat($inl) {
  %r = call i32 @inl(i32 %x)
  ret i32 %r
}

define i32 @user(i32 %y) {
  %r = call i32 @inl.helper(i32 %y)
  ret i32 %r
}
