//! Micro-benchmarks of llpar's stages, serial against parallel, on a real module when the corpus
//! is built (scripts/build-corpus.sh; Lua, the smallest) and on an IR fixture otherwise:
//! the light function pipeline at 1 and 2 threads, split plus merge alone (an empty function
//! pipeline), and code generation to an object at 1 and 2 threads.
//! Run with `cargo bench`; `cargo bench --no-run` only compiles them.
use criterion::{criterion_group, criterion_main, Criterion};
use llpar::engine::{self, EmitKind, Options};
use llpar::llvm::TargetOptions;
use llpar::pipeline::PipelineRequest;
use llpar::plan::PlanOptions;
use std::path::Path;

const LIGHT: &str = "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,gvn,dse)";

fn input() -> (String, Vec<u8>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lua = root.join("target/corpus/lua.bc");
    let path = if lua.exists() {
        lua
    } else {
        root.join("ir-fixtures/internal-called-from-two-chunks.ll")
    };
    (
        path.display().to_string(),
        std::fs::read(&path).expect("benchmark input"),
    )
}

fn options(pipeline: &str, threads: usize, emit: EmitKind) -> Options {
    Options {
        pipeline: PipelineRequest::Text(pipeline.to_string()),
        threads,
        target: TargetOptions {
            triple: Some("x86_64-unknown-linux-gnu".into()),
            ..Default::default()
        },
        verify_each: false,
        plan: PlanOptions::default(),
        emit,
        save_temps: None,
        print_pipeline: false,
        simplify_before_inlining: false,
    }
}

fn stages(c: &mut Criterion) {
    let (name, bytes) = input();
    let mut group = c.benchmark_group(format!("llpar on {name}"));
    group.sample_size(10);
    for threads in [1, 2] {
        group.bench_function(format!("light pipeline, {threads} thread(s)"), |b| {
            let o = options(LIGHT, threads, EmitKind::Bitcode);
            b.iter(|| engine::run(&bytes, &name, &o).expect("llpar"))
        });
        group.bench_function(format!("code generation, {threads} thread(s)"), |b| {
            let o = options("", threads, EmitKind::Object);
            b.iter(|| engine::run(&bytes, &name, &o).expect("llpar"))
        });
    }
    group.bench_function("split and merge only (empty function pipeline)", |b| {
        let o = options("function(no-op-function)", 2, EmitKind::Bitcode);
        b.iter(|| engine::run(&bytes, &name, &o).expect("llpar"))
    });
    group.finish();
}

criterion_group!(benches, stages);
criterion_main!(benches);
