; Two modules with an internal function of the same name, each split into units: the promoted
; names are salted with a hash of their module, so all units' objects link into one object
; without a duplicate symbol (with llvm-split both would be the hidden symbol `helper`).
; RUN: sed 's/ret i32 1/ret i32 2/; s/@api_one/@api_two/' %s > %t.other.ll
; RUN: %roundtrip %s %t.a 2 round-robin
; RUN: %roundtrip %t.other.ll %t.b 2 round-robin
; RUN: ld.lld -r %t.a.0.o %t.a.1.o %t.b.0.o %t.b.1.o -o %t.all.o
; RUN: llvm-nm %t.all.o | FileCheck %s
; CHECK-DAG: T api_one
; CHECK-DAG: T api_two

define internal i32 @helper() {
  ret i32 1
}

define i32 @api_one() {
  %r = call i32 @helper()
  ret i32 %r
}
