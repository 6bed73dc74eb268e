; linkonce_odr, weak, available_externally and extern_weak symbols keep their linkage in the
; unit that defines them and come back unchanged; an available_externally function stays a
; definition where it is, so calls to it can still be inlined in its unit.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o - | FileCheck %s --check-prefix=UNIT0
; RUN: llvm-dis %t.1 -o - | FileCheck %s --check-prefix=UNIT1
; UNIT0: @weak_var = weak global i32 1
; UNIT0: @maybe = extern_weak global i32
; UNIT0: define linkonce_odr i32 @odr(i32 %x)
; UNIT0: define available_externally i32 @elsewhere(i32 %x)
; UNIT1: @weak_var = external global i32
; UNIT1: @maybe = extern_weak global i32
; UNIT1: define weak i32 @overridable(i32 %x)
; UNIT1: define i32 @user(i32 %x)

@weak_var = weak global i32 1
@maybe = extern_weak global i32

define linkonce_odr i32 @odr(i32 %x) {
  ret i32 %x
}

define weak i32 @overridable(i32 %x) {
  %v = load i32, ptr @weak_var
  %y = add i32 %x, %v
  ret i32 %y
}

define available_externally i32 @elsewhere(i32 %x) {
  ret i32 %x
}

define i32 @user(i32 %x) {
  %a = call i32 @odr(i32 %x)
  %b = call i32 @elsewhere(i32 %a)
  %c = call i32 @overridable(i32 %b)
  %p = icmp eq ptr @maybe, null
  %r = select i1 %p, i32 0, i32 %c
  ret i32 %r
}
