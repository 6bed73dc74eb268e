; llvm.global_ctors, llvm.global_dtors and llvm.used stay single and keep pointing at their
; (internal) functions, whichever chunks those land in.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc
; Objects and assembly put them in .init_array and .fini_array, as llc and clang do: programs
; linked by lld never run .ctors.
; (At -O1 and above GlobalOpt evaluates this constructor away; -O0 keeps it.)
; RUN: %llpar %tiny -j2 -O0 --emit=obj %s -o %t.o
; RUN: llvm-readelf -S %t.o | FileCheck --check-prefix=SECTIONS %s
; RUN: %llpar %tiny -j2 -O0 --emit=asm %s -o - | FileCheck --check-prefix=SECTIONS %s
; SECTIONS-NOT: .ctors
; SECTIONS-DAG: .init_array
; SECTIONS-DAG: .fini_array
; SECTIONS-NOT: .ctors

; CHECK-COUNT-1: @llvm.global_ctors = appending global
; CHECK-SAME: ptr @init
; CHECK-COUNT-1: @llvm.global_dtors = appending global
; CHECK-SAME: ptr @fini
; CHECK-COUNT-1: @llvm.used = appending global [1 x ptr] [ptr @keep]
; CHECK: define internal void @init()
; CHECK: define internal void @fini()
; CHECK: define internal void @keep()

@counter = internal global i32 0
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @init, ptr null }]
@llvm.global_dtors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @fini, ptr null }]
@llvm.used = appending global [1 x ptr] [ptr @keep], section "llvm.metadata"

define internal void @init() {
  store i32 1, ptr @counter
  ret void
}

define internal void @fini() {
  store i32 0, ptr @counter
  ret void
}

define internal void @keep() {
  ret void
}

define i32 @get() {
  %v = load i32, ptr @counter
  ret i32 %v
}
