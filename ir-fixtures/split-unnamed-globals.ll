; Unnamed globals get (salted) names in the units, since units and the merge find globals by
; name, and lose them again after the merge. A named private string that one unit alone uses
; stays private there.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o %t.0.ll
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: cat %t.0.ll %t.1.ll | FileCheck %s --check-prefixes=UNIT0,UNIT1
; UNIT0: @.str.one = private unnamed_addr constant [4 x i8] c"one\00"
; UNIT0: @[[SHARED:__llpar.local.[0-9a-f]+_[0-9]+]] = hidden unnamed_addr constant [3 x i8] c"hi\00"
; UNIT0: define hidden ptr @[[FN:__llpar.local.[0-9a-f]+_[0-9]+]]()
; UNIT0: define ptr @second()
; UNIT1: @[[SHARED]] = available_externally hidden unnamed_addr constant [3 x i8] c"hi\00"
; UNIT1: define ptr @first()
; UNIT1: call ptr @[[FN]]()
; UNIT1: declare hidden ptr @[[FN]]()

@0 = private unnamed_addr constant [3 x i8] c"hi\00"
@.str.one = private unnamed_addr constant [4 x i8] c"one\00"

define internal ptr @1() {
  ret ptr @0
}

define ptr @first() {
  %p = call ptr @1()
  %c = icmp eq ptr %p, null
  %r = select i1 %c, ptr @0, ptr %p
  ret ptr %r
}

define ptr @second() {
  %p = call ptr @1()
  ret ptr @.str.one
}
