; llvm.global_ctors and llvm.global_dtors stay whole in unit 0, so each constructor runs once;
; the constructors themselves may live in other units (promoted, hidden).
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o %t.0.ll
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: FileCheck %s --check-prefix=UNIT0 < %t.0.ll
; RUN: FileCheck %s --check-prefix=UNIT1 < %t.1.ll
; UNIT0: @llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @[[INIT:__llpar.local.[0-9a-f]+_0]], ptr null }]
; UNIT0: @llvm.global_dtors = appending global
; UNIT0: define hidden void @[[INIT]]()
; UNIT1-NOT: llvm.global_ctors
; UNIT1-NOT: llvm.global_dtors
; UNIT1: define hidden void @{{__llpar.local.[0-9a-f]+_1}}()

@counter = internal global i32 0
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
@llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @fini, ptr null }]

define internal void @init() {
  store i32 1, ptr @counter
  ret void
}

define internal void @fini() {
  store i32 0, ptr @counter
  ret void
}
