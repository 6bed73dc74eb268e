; Unnamed private globals and functions get names in the units (they are referenced across
; units by name) and lose them again after the merge.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o %t.0.ll
; RUN: llvm-dis %t.1 -o %t.1.ll
; RUN: cat %t.0.ll %t.1.ll | FileCheck %s --check-prefixes=UNIT0,UNIT1
; UNIT0: @[[STR:__llpar.local.[0-9a-f]+_1]] = hidden unnamed_addr constant [3 x i8] c"hi\00"
; UNIT0: define hidden ptr @[[FN:__llpar.local.[0-9a-f]+_0]]()
; UNIT0: define ptr @second()
; UNIT1: define ptr @first()
; UNIT1: call ptr @[[FN]]()
; UNIT1: declare hidden ptr @[[FN]]()

@0 = private unnamed_addr constant [3 x i8] c"hi\00"

define internal ptr @1() {
  ret ptr @0
}

define ptr @first() {
  %p = call ptr @1()
  ret ptr %p
}

define ptr @second() {
  %p = call ptr @1()
  ret ptr @0
}
