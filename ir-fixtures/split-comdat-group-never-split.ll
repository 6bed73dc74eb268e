; The members of a comdat group (two functions and a variable) land in one unit, with the comdat,
; even when per-function splitting would separate them.
; RUN: %roundtrip %s %t 2 per-function
; RUN: llvm-dis %t.0 -o %t.0.ll
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: FileCheck %s --check-prefix=GROUP < %t.0.ll
; RUN: FileCheck %s --check-prefix=OTHER < %t.1.ll
; GROUP: $inl = comdat any
; GROUP: @inl.guard = linkonce_odr global i32 0, comdat($inl)
; GROUP: define linkonce_odr i32 @inl(i32 %x) comdat
; GROUP: define linkonce_odr i32 @inl.helper(i32 %x) comdat($inl)
; OTHER-NOT: comdat(
; OTHER: define i32 @user(i32 %y)
; OTHER-NOT: comdat(

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
