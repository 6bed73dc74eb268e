; An alias whose aliasee is optimized in one chunk and which is called from another chunk stays
; a valid alias of the merged function.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: @impl_alias = alias i32 (i32), ptr @impl
; CHECK: @local_alias = internal alias i32 (i32), ptr @impl
; CHECK: define i32 @impl(i32 %x)
; CHECK: define i32 @caller(i32 %y)
; CHECK: call i32 @impl_alias(i32 %y)
; CHECK: call i32 @local_alias(i32

@impl_alias = alias i32 (i32), ptr @impl
@local_alias = internal alias i32 (i32), ptr @impl

define i32 @impl(i32 %x) {
  %r = add i32 %x, 1
  ret i32 %r
}

define i32 @caller(i32 %y) {
  %a = call i32 @impl_alias(i32 %y)
  %b = call i32 @local_alias(i32 %a)
  ret i32 %b
}
