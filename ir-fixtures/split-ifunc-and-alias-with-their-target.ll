; An ifunc goes to the unit of its resolver, an alias to the unit of its aliasee; the other
; units call them through declarations.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o - | FileCheck %s --check-prefix=UNIT0
; RUN: llvm-dis %t.1 -o - | FileCheck %s --check-prefix=UNIT1
; UNIT0: @impl_alias = alias i32 (i32), ptr @impl
; UNIT0: declare i32 @dispatch(i32)
; UNIT0: define i32 @impl(i32 %x)
; UNIT0: define i32 @user_of_dispatch(i32 %x)
; UNIT1: @dispatch = ifunc i32 (i32), ptr @resolve
; UNIT1: define ptr @resolve()
; UNIT1: define i32 @user_of_alias(i32 %x)
; UNIT1: declare i32 @impl_alias(i32)

@impl_alias = alias i32 (i32), ptr @impl
@dispatch = ifunc i32 (i32), ptr @resolve

define i32 @impl(i32 %x) {
  %y = add i32 %x, 1
  ret i32 %y
}

define ptr @resolve() {
  ret ptr @impl
}

define i32 @user_of_dispatch(i32 %x) {
  %r = call i32 @dispatch(i32 %x)
  ret i32 %r
}

define i32 @user_of_alias(i32 %x) {
  %r = call i32 @impl_alias(i32 %x)
  ret i32 %r
}
