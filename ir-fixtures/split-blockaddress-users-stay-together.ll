; A function whose block addresses another function or a table takes stays in one unit with
; them (its blocks must stay address-taken where they are compiled), even per function.
; RUN: %roundtrip %s %t 2 per-function
; RUN: llvm-dis %t.0 -o %t.0.ll
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: FileCheck %s --check-prefix=TOGETHER < %t.0.ll
; RUN: FileCheck %s --check-prefix=ALONE < %t.1.ll
; TOGETHER: @{{__llpar.local.[0-9a-f]+_0}} = hidden constant [2 x ptr] [ptr blockaddress(@interp, %one), ptr blockaddress(@interp, %two)]
; TOGETHER: define i32 @interp(i32 %i)
; TOGETHER: define ptr @label_of_interp()
; ALONE: define i32 @unrelated(i32 %x)

@targets = internal constant [2 x ptr] [ptr blockaddress(@interp, %one), ptr blockaddress(@interp, %two)]

define i32 @interp(i32 %i) {
entry:
  %idx = zext i32 %i to i64
  %p = getelementptr inbounds [2 x ptr], ptr @targets, i64 0, i64 %idx
  %t = load ptr, ptr %p
  indirectbr ptr %t, [label %one, label %two]
one:
  ret i32 1
two:
  ret i32 2
}

define ptr @label_of_interp() {
  ret ptr blockaddress(@interp, %two)
}

define i32 @unrelated(i32 %x) {
  ret i32 %x
}
