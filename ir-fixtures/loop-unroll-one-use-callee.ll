; Loop unrolling holds back for a loop that calls a local function with exactly one use (LLVM's
; CodeMetrics counts it as about to be inlined). That callee shares its caller's chunk, where it
; is local with its one use, so the loop stays rolled as in `opt`; a local callee used twice is
; no such candidate wherever it is, so it may live in another chunk, and both loops calling it
; unroll as in `opt`.
; RUN: opt -passes='function(loop-unroll)' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='function(loop-unroll)' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc
; RUN: %llpar %tiny -j2 -passes='function(loop-unroll)' -S %s -o - | FileCheck %s

; CHECK-LABEL: define void @rolled(
; CHECK: call void @once(
; CHECK-NOT: call void @once(
; CHECK-LABEL: define void @unrolled(
; CHECK-COUNT-4: call void @twice(
; CHECK-LABEL: define void @unrolled_too(
; CHECK-COUNT-4: call void @twice(

define internal void @once(ptr %p) {
  store volatile i32 1, ptr %p
  ret void
}

define internal void @twice(ptr %p) {
  store volatile i32 2, ptr %p
  ret void
}

define void @rolled(ptr %p) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %n, %loop ]
  call void @once(ptr %p)
  %n = add i32 %i, 1
  %c = icmp ult i32 %n, 4
  br i1 %c, label %loop, label %exit
exit:
  ret void
}

define void @unrolled(ptr %p) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %n, %loop ]
  call void @twice(ptr %p)
  %n = add i32 %i, 1
  %c = icmp ult i32 %n, 4
  br i1 %c, label %loop, label %exit
exit:
  ret void
}

define void @unrolled_too(ptr %p) {
entry:
  br label %loop
loop:
  %i = phi i32 [ 0, %entry ], [ %n, %loop ]
  call void @twice(ptr %p)
  %n = add i32 %i, 1
  %c = icmp ult i32 %n, 4
  br i1 %c, label %loop, label %exit
exit:
  ret void
}
