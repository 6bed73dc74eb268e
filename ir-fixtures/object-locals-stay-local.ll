; In an object built from several chunks, functions and data that were internal or private in the
; module are local symbols again under their own names, and no promoted name is left. A private
; global's symbol is a temporary label (`.L`), as in `llc`'s object, which the linker drops.
; RUN: %llpar %tiny -j2 -O1 --emit=obj %s -o %t.o
; RUN: llvm-nm %t.o | FileCheck %s
; RUN: llvm-nm %t.o | FileCheck --check-prefix=PROMOTED %s

; A promoted name is left only inside a temporary label (the private global without a name).
; PROMOTED-NOT: {{ [a-zA-Z] __llpar}}
; CHECK-DAG: t helper
; CHECK-DAG: T entry_a
; CHECK-DAG: T entry_b
; CHECK-DAG: {{[bd]}} counter
; CHECK-DAG: r .L.str
; CHECK-DAG: r .L__llpar.local.{{[0-9]+}}
; CHECK-NOT: {{ }}.str

target triple = "x86_64-unknown-linux-gnu"

@counter = internal global i32 0
@.str = private unnamed_addr constant [6 x i8] c"hello\00"
@0 = private unnamed_addr constant [6 x i8] c"world\00"

declare i32 @puts(ptr)

define void @say_a() {
  %1 = call i32 @puts(ptr @.str)
  %2 = call i32 @puts(ptr @0)
  ret void
}

define void @say_b() {
  %1 = call i32 @puts(ptr @.str)
  %2 = call i32 @puts(ptr @0)
  ret void
}

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
