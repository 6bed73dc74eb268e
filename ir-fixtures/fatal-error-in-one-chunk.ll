; An LLVM fatal error in one chunk (instcombine's fixpoint check, reduced from sqlite3 with
; llvm-reduce) is reported with the chunk, its function and the pipeline; the chunk is written
; as a reproducer that replays the error with opt; no output file is left. With --isolate the
; other chunks still run and are verified. A crash (trigger-crash-function aborts) likewise.
; RUN: rm -rf %t.dir && mkdir %t.dir
; RUN: not %llpar %tiny -j2 --crash-dir=%t.dir -passes='function(instcombine)' %s -o %t.out 2>&1 | FileCheck %s --check-prefix=THREADS
; RUN: not test -e %t.out
; RUN: not opt -passes='function(instcombine)' %t.dir/llpar-crash-*-chunk2.bc -disable-output 2>&1 | FileCheck %s --check-prefix=REPLAY
; RUN: not %llpar %tiny -j2 --isolate --crash-dir=%t.dir -passes='function(instcombine)' %s -o %t.out 2>&1 | FileCheck %s --check-prefix=ISOLATE
; RUN: not test -e %t.out
; RUN: not %llpar %tiny -j2 --crash-dir=%t.dir -passes='function(trigger-crash-function)' %s -o %t.out 2>&1 | FileCheck %s --check-prefix=CRASH
; RUN: not test -e %t.out
; RUN: not %llpar %tiny -j2 --isolate --crash-dir=%t.dir -passes='function(trigger-crash-function)' %s -o %t.out 2>&1 | FileCheck %s --check-prefix=ISOCRASH
; RUN: %llpar %tiny -j2 --isolate -passes='function(instcombine<no-verify-fixpoint>)' %s -o %t.ok.bc
; RUN: opt -passes='function(instcombine<no-verify-fixpoint>)' %s -o %t.ref.bc
; RUN: %irdiff %t.ref.bc %t.ok.bc

; THREADS: llpar: error: {{.*}}fatal-error-in-one-chunk.ll: chunk 2 (1 function: no_fixpoint) running 'function(instcombine)': LLVM fatal error: Instruction Combining on no_fixpoint did not reach a fixpoint {{.*}}; reproducer: {{.*}}llpar-crash-{{[0-9]+}}-chunk2.bc (replay: opt -passes='function(instcombine)' FILE)
; THREADS-NOT: error
; REPLAY: Instruction Combining on no_fixpoint did not reach a fixpoint
; ISOLATE: llpar: error: {{.*}}: chunk 2 (1 function: no_fixpoint): running 'function(instcombine)': LLVM fatal error: Instruction Combining on no_fixpoint {{.*}}; reproducer: {{.*}}-chunk2.bc {{.*}}; the other 3 of 4 chunks were optimized and passed the verifier
; CRASH: llpar: error: {{.*}}: chunk {{[0-3]}} ({{.*}}) running 'function(trigger-crash-function)': LLVM crashed (SIGABRT); reproducer: {{.*}}.bc (replay: opt -passes
; ISOCRASH: llpar: error: {{.*}}: chunk 0 (1 function: first): running 'function(trigger-crash-function)': LLVM crashed (SIGABRT); reproducer: {{.*}}-chunk0.bc {{.*}}; chunks 1, 2, 3 failed too; the other 0 of 4 chunks

%struct.Pager = type { ptr, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i8, i32, i32, i32, i32, i32, i32, i32, i32, ptr, ptr, ptr, ptr, i64, i64, ptr, ptr, i32, i32, [16 x i8], i32, i64, ptr, i16, i16, i32, i32, i32, i32, i64, i64, ptr, ptr, ptr, ptr, [4 x i32], ptr, ptr, ptr, ptr, ptr, ptr }

define i32 @first(i32 %x) {
  %y = add i32 %x, 0
  ret i32 %y
}

define i32 @second(i32 %x) {
  %y = mul i32 %x, 1
  ret i32 %y
}

define ptr @no_fixpoint() {
  %1 = alloca ptr, align 8
  %2 = alloca ptr, align 8
  store ptr null, ptr %1, align 8
  call void @llvm.lifetime.start.p0(ptr %2)
  br label %3

3:
  %4 = load i8, ptr %1, align 1
  %5 = sext i8 %4 to i32
  %6 = icmp ne i32 %5, 0
  br i1 %6, label %again, label %7

again:
  store ptr null, ptr %1, align 8
  br label %3

7:
  store ptr null, ptr %2, align 8
  %8 = load ptr, ptr %2, align 8
  %9 = getelementptr %struct.Pager, ptr %8, i32 0, i32 31
  ret ptr %9
}

define i32 @fourth(i32 %x) {
  %y = sub i32 %x, 0
  ret i32 %y
}

declare void @llvm.lifetime.start.p0(ptr captures(none))
