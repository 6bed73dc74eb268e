; In an object built from several chunks, functions and data that were internal or private in the
; module are local symbols again under their own names, and no promoted name is left.
; RUN: %llpar %tiny -j2 -O1 --emit=obj %s -o %t.o
; RUN: llvm-nm %t.o | FileCheck %s

; CHECK-NOT: __llpar
; CHECK-DAG: t helper
; CHECK-DAG: T entry_a
; CHECK-DAG: T entry_b
; CHECK-DAG: {{[bd]}} counter

target triple = "x86_64-unknown-linux-gnu"

@counter = internal global i32 0

define internal void @helper(i32 %v) noinline {
  %c = load i32, ptr @counter
  %n = add i32 %c, %v
  store volatile i32 %n, ptr @counter
  ret void
}

define void @entry_a() {
  call void @helper(i32 1)
  ret void
}

define void @entry_b() {
  call void @helper(i32 2)
  ret void
}
