; Thread-local variables stay thread-local in every unit: the unit that defines one keeps it
; (with its initializer), units that use it declare it thread-local too.
; RUN: %roundtrip %s %t 2 round-robin
; RUN: llvm-dis %t.0 -o - | FileCheck %s --check-prefix=UNIT0
; RUN: llvm-dis %t.1 -o - | FileCheck %s --check-prefix=UNIT1
; UNIT0: @counter = thread_local global i32 7
; UNIT0: @{{__llpar.local.*}} = hidden thread_local global i32 0
; UNIT0: define i32 @bump()
; UNIT1: @counter = {{.*}}thread_local global i32
; UNIT1: define i32 @read()

@counter = thread_local global i32 7
@hidden_counter = internal thread_local global i32 0

define i32 @bump() {
  %v = load i32, ptr @counter
  %w = add i32 %v, 1
  store i32 %w, ptr @counter
  store i32 %w, ptr @hidden_counter
  ret i32 %w
}

define i32 @read() {
  %a = load i32, ptr @counter
  %b = load i32, ptr @hidden_counter
  %c = add i32 %a, %b
  ret i32 %c
}
