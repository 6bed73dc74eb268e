; A function whose blockaddress another function uses stays in the same chunk as that user; a
; table of block addresses goes with the function whose blocks it names, and so do the functions
; that read it. The blocks stay address-taken while the chunk is optimized, and the table still
; names them after the merge. (llvm-diff is blind here, so the disassembly is compared instead.)
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: llvm-dis %t.ref.bc -o - | sed 1d > %t.ref.ll
; RUN: llvm-dis %t.bc -o - | sed 1d > %t.ll
; RUN: diff %t.ref.ll %t.ll

; CHECK: @targets = internal constant [2 x ptr]
; CHECK: define i32 @interp(i32 %i)
; CHECK: define ptr @label_of_interp()
; CHECK: ret ptr blockaddress(@interp,

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

define i32 @other(i32 %x) {
  %l = load ptr, ptr @targets
  %c = icmp eq ptr %l, null
  %r = select i1 %c, i32 %x, i32 0
  ret i32 %r
}
