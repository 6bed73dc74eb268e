; llvm.used and llvm.compiler.used (appending) stay whole in unit 0; each unit also lists what
; it defines, so separate code generation keeps them; after the merge each entry is there once.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o %t.0.ll
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: cat %t.0.ll %t.1.ll | FileCheck %s --check-prefixes=UNIT0,UNIT1
; UNIT0: @llvm.used = appending global [2 x ptr] [ptr @[[ONE:__llpar.local.[0-9a-f]+_0]], ptr @[[TWO:__llpar.local.[0-9a-f]+_1]]], section "llvm.metadata"
; UNIT0: @llvm.compiler.used = appending global [1 x ptr] [ptr @[[THREE:__llpar.local.[0-9a-f]+_2]]], section "llvm.metadata"
; UNIT1: @llvm.used = appending global [1 x ptr] [ptr @[[TWO]]], section "llvm.metadata"
; UNIT1: define hidden void @[[TWO]]()

@llvm.used = appending global [2 x ptr] [ptr @kept_one, ptr @kept_two], section "llvm.metadata"
@llvm.compiler.used = appending global [1 x ptr] [ptr @kept_three], section "llvm.metadata"

define internal void @kept_one() {
  ret void
}

define internal void @kept_two() {
  ret void
}

define internal void @kept_three() {
  ret void
}
