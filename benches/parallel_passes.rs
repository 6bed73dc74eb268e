//! Micro-benchmarks, serial against parallel, for each group of passes llpar runs per chunk:
//! function simplification (the light pipeline), loop passes, the vectorizers, code generation,
//! and split plus merge themselves (an empty function pipeline). "serial" runs the pipeline on the
//! whole module in one context, as `opt` and `llc` do; "llpar -jN" runs it through llpar's engine
//! at 1 and N threads (N = the machine's cores, at least 2). Inputs: an IR fixture, and a real
//! module (Lua, linked from its files, when scripts/build-corpus.sh has built it).
//! Run with `cargo bench`; `cargo bench --no-run` only compiles them.
use criterion::{criterion_group, criterion_main, Criterion};
use llpar::{EmitKind, Options, PipelineRequest, PlanOptions, TargetOptions};
use std::path::Path;

const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// (group, function pipeline, what is emitted)
const GROUPS: &[(&str, &str, EmitKind)] = &[
    (
        "function simplification",
        "function(sroa,early-cse,instcombine<no-verify-fixpoint>,simplifycfg,gvn,dse)",
        EmitKind::Bitcode,
    ),
    (
        "loop passes",
        "function(sroa,loop-mssa(loop-rotate,licm),loop(loop-idiom,indvars,loop-deletion,\
         loop-unroll-full),instcombine<no-verify-fixpoint>,simplifycfg)",
        EmitKind::Bitcode,
    ),
    (
        "vectorizers",
        "function(sroa,loop-mssa(loop-rotate),loop-vectorize,slp-vectorizer)",
        EmitKind::Bitcode,
    ),
    ("code generation", "", EmitKind::Object),
    (
        "split and merge only",
        "function(no-op-function)",
        EmitKind::Bitcode,
    ),
];

fn inputs() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("ir-fixtures/inline-across-chunks.ll")];
    let lua = root.join("target/corpus/lua.bc");
    if lua.exists() {
        paths.push(lua);
    }
    paths
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).expect("benchmark input"))
        })
        .collect()
}

fn options(pipeline: &str, threads: usize, emit: EmitKind) -> Options {
    Options {
        pipeline: PipelineRequest::Text(pipeline.to_string()),
        threads,
        target: TargetOptions {
            triple: Some(TRIPLE.into()),
            codegen_level: 2,
            ..Default::default()
        },
        verify_each: false,
        // Small chunks, so that the fixture splits too.
        plan: PlanOptions {
            min_chunk_cost: 1,
            ..PlanOptions::default()
        },
        emit,
        save_temps: None,
        print_pipeline: false,
        simplify_before_inlining: false,
        parallel_inliner: false,
        crash_dir: std::env::temp_dir(),
        isolate: None,
        max_memory: None,
        progress: false,
        jobserver: None,
        remarks: None,
        cache: None,
        remote: None,
        remote_fallback: false,
    }
}

/// The serial reference: parse, run the pipeline on the whole module, write (or compile).
fn serial(bytes: &[u8], pipeline: &str, emit: EmitKind) -> Vec<u8> {
    let target = TargetOptions {
        triple: Some(TRIPLE.into()),
        codegen_level: 2,
        ..Default::default()
    };
    llpar::serial_reference(bytes, pipeline, &target, emit).expect("serial reference")
}

fn pass_groups(c: &mut Criterion) {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get().max(2));
    for (name, bytes) in inputs() {
        for &(group_name, pipeline, emit) in GROUPS {
            let mut group = c.benchmark_group(format!("{group_name} on {name}"));
            group.sample_size(10);
            group.bench_function("serial", |b| b.iter(|| serial(&bytes, pipeline, emit)));
            for threads in [1, cores] {
                let o = options(pipeline, threads, emit);
                group.bench_function(format!("llpar -j{threads}"), |b| {
                    b.iter(|| llpar::run(&bytes, &name, &o).expect("llpar"))
                });
            }
            group.finish();
        }
    }
}

criterion_group!(benches, pass_groups);
criterion_main!(benches);
