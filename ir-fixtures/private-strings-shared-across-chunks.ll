; Private string constants used by functions in different chunks stay one private definition each,
; with their own names: no copy per chunk, no renamed duplicate.
; RUN: %llpar %tiny -j2 -passes='%light' -S %s -o - | FileCheck %s
; RUN: opt -passes='%light' %s -o %t.ref.bc
; RUN: %llpar %tiny -j2 -passes='%light' %s -o %t.bc
; RUN: %irdiff %t.ref.bc %t.bc

; CHECK: @.str = private unnamed_addr constant [6 x i8] c"hello\00"
; CHECK-NEXT: @0 = private unnamed_addr constant [6 x i8] c"world\00"
; CHECK-NOT: @.str.1
; CHECK-NOT: __llpar
; CHECK: call i32 @puts(ptr {{.*}}@.str)
; CHECK: call i32 @puts(ptr {{.*}}@.str)
; CHECK: call i32 @puts(ptr {{.*}}@0)

@.str = private unnamed_addr constant [6 x i8] c"hello\00"
@0 = private unnamed_addr constant [6 x i8] c"world\00"

declare i32 @puts(ptr)

define void @a() {
  %1 = call i32 @puts(ptr @.str)
  ret void
}

define void @b() {
  %1 = call i32 @puts(ptr @.str)
  %2 = call i32 @puts(ptr @0)
  ret void
}
