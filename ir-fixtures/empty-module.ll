; An empty module (like an empty file) is valid input and gives a valid empty module.
; RUN: %llpar -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: %llpar -j2 -O2 %s -o %t.bc
; RUN: llvm-dis %t.bc -o - | FileCheck %s
; RUN: %llpar -j2 -O2 -S < /dev/null | FileCheck %s

; CHECK: ModuleID
; CHECK-NOT: define
