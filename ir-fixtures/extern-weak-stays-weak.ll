; An extern_weak symbol may be null. A chunk that only declares it must declare it extern_weak
; too, or `icmp eq @maybe, null` folds to false there (a miscompile); the same for functions.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: define i1 @var_missing()
; CHECK-NEXT: %c = icmp eq ptr @maybe, null
; CHECK: define i1 @function_missing()
; CHECK-NEXT: %c = icmp eq ptr @maybe_function, null

@maybe = extern_weak global i32
declare extern_weak void @maybe_function()

define i1 @var_missing() {
  %c = icmp eq ptr @maybe, null
  ret i1 %c
}

define i1 @function_missing() {
  %c = icmp eq ptr @maybe_function, null
  ret i1 %c
}
