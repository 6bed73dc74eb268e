//! What a run of llpar is asked to do: the options of `engine::run`, plain data that the
//! engine, the parallel phases and code generation all read.
use crate::cache::Cache;
use crate::llvm::TargetOptions;
use crate::pipeline::PipelineRequest;
use crate::plan::PlanOptions;
use crate::remote::Remote;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitKind {
    Bitcode,
    Ir,
    Asm,
    Object,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub pipeline: PipelineRequest,
    pub threads: usize,
    pub target: TargetOptions,
    /// Verify every intermediate module (chunks, merged modules), not only input and output.
    pub verify_each: bool,
    pub plan: PlanOptions,
    pub emit: EmitKind,
    /// Print each segment of the pipeline on stderr (`--print-pipeline-passes`).
    pub print_pipeline: bool,
    /// With `-O<n>`: also run the function simplification passes per chunk before the inliner.
    pub simplify_before_inlining: bool,
    /// With `-O<n>`: run the inliner's call-graph walk, with the function simplification
    /// passes inside it as in `opt`, on chunks in parallel along the call graph, rather than on
    /// the whole module on one thread.
    pub parallel_inliner: bool,
    /// Where to keep every chunk's bitcode, before and after its passes (`--save-temps`).
    pub save_temps: Option<std::path::PathBuf>,
    /// Where a chunk that LLVM fails on is written as a reproducer.
    pub crash_dir: std::path::PathBuf,
    /// Run every chunk in a child process of this executable (`--isolate`).
    pub isolate: Option<std::path::PathBuf>,
    /// Cap on the process's memory: fewer chunks run at once rather than exceed it.
    pub max_memory: Option<u64>,
    /// Show chunks done and the slowest chunk in flight on stderr (a terminal, not `--quiet`).
    pub progress: bool,
    /// The GNU make jobserver to take a token from for every worker beyond the first.
    pub jobserver: Option<std::sync::Arc<crate::jobserver::Jobserver>>,
    /// Collect the optimization remarks (`--pass-remarks-output`) of the passes whose names
    /// match this regex (empty: every pass) into `Stats::remarks`.
    pub remarks: Option<String>,
    /// Where whole outputs and chunk results are looked up and stored (`--cache-dir`).
    pub cache: Option<std::sync::Arc<Cache>>,
    /// The REAPI server that runs the chunks (`--remote-executor`).
    pub remote: Option<std::sync::Arc<Remote>>,
    /// A chunk the server fails runs here instead (`--remote-fallback`).
    pub remote_fallback: bool,
}
