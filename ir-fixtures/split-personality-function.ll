; A function with a personality and its landing pad: an internal personality function defined in
; another unit is promoted (hidden, collision-free name) and named by the unit that uses it.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.1 -o - | FileCheck %s --check-prefix=UNIT1
; UNIT1: define void @may_throw_twice() personality ptr @[[P:__llpar.local.[0-9a-f]+_[0-9]+]]
; UNIT1: declare hidden i32 @[[P]](...)

declare void @throws()

define internal i32 @personality(...) {
  ret i32 0
}

define void @may_throw_twice() personality ptr @personality {
entry:
  invoke void @throws() to label %ok unwind label %pad
ok:
  invoke void @throws() to label %done unwind label %pad
pad:
  %lp = landingpad { ptr, i32 } cleanup
  resume { ptr, i32 } %lp
done:
  ret void
}
