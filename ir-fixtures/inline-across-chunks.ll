; With -O2, a small callee in one chunk is still inlined into its caller in another chunk: the
; inliner runs on the whole module, and the object code has no call left either.
; RUN: %llpar %tiny -j2 -O2 -S %s -o - | FileCheck %s
; RUN: %llpar %tiny -j2 -O2 --emit=obj %s -o %t.o
; RUN: llvm-objdump -d %t.o | FileCheck %s --check-prefix=OBJ

; CHECK-LABEL: define {{.*}}i32 @caller(i32 %x)
; CHECK-NOT: call
; CHECK: ret i32

; OBJ-LABEL: <caller>:
; OBJ-NOT: call
; OBJ: ret

target triple = "x86_64-unknown-linux-gnu"

define internal i32 @square_plus_one(i32 %v) {
  %sq = mul i32 %v, %v
  %r = add i32 %sq, 1
  ret i32 %r
}

define i32 @filler(i32 %a) {
  %b = add i32 %a, 3
  ret i32 %b
}

define i32 @caller(i32 %x) {
  %a = call i32 @square_plus_one(i32 %x)
  %b = call i32 @square_plus_one(i32 %a)
  ret i32 %b
}
