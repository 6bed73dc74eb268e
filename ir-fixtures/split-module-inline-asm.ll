; Module-level assembly stays in unit 0, once. A local function the assembly names keeps its name
; when promoted (hidden), so that the assembly in unit 0 still reaches it in unit 1; the objects
; link. After the merge it is internal again.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o - | FileCheck %s --check-prefix=UNIT0
; RUN: llvm-dis %t.1 -o - | FileCheck %s --check-prefix=UNIT1
; UNIT0: module asm "asm_entry:"
; UNIT1-NOT: module asm
; UNIT1: define hidden i32 @helper_named_in_asm(i32 %x)

module asm ".globl asm_entry"
module asm "asm_entry:"
module asm "  jmp helper_named_in_asm"

define i32 @first(i32 %x) {
  ret i32 %x
}

define internal i32 @helper_named_in_asm(i32 %x) {
  %y = mul i32 %x, 2
  ret i32 %y
}

@llvm.compiler.used = appending global [1 x ptr] [ptr @helper_named_in_asm], section "llvm.metadata"
