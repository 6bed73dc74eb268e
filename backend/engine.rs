//! The engine: parse once, then for each segment of the pipeline either run it on the whole
//! module or split, optimize the chunks on worker threads, and merge; then emit.
use crate::cache::Cache;
use crate::codegen;
use crate::error::{Error, Result};
use crate::llvm::{self, TargetOptions};
use crate::merge::Merger;
use crate::parallel;
use crate::pipeline::{self, PipelineRequest, Segment};
use crate::plan::PlanOptions;
use crate::remote::{Remote, RemoteSummary};
use crate::split;
use crate::trace;
use crate::worker::{Task, WorkerConfig};
use inkwell::context::Context;
use inkwell::module::Module;
use std::time::{Duration, Instant};

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

/// Where the time went, for `--stats`.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    /// (phase, wall time) in the order they ran; phases that repeat are summed.
    pub phases: Vec<(&'static str, Duration)>,
    pub chunks: usize,
    pub largest_chunk_cost: u64,
    pub largest_chunk: String,
    pub total_cost: u64,
    /// Wall time of the parallel phases (from the first job handed out to the last chunk merged).
    pub parallel_wall: Duration,
    /// Sum of the workers' busy time.
    pub worker_busy: Duration,
    /// The most chunks that ran at once (bounded by -j, the jobserver and the memory cap).
    pub most_chunks_at_once: usize,
    /// Peak resident memory of the process, in bytes.
    pub peak_memory: u64,
    pub wall: Duration,
    pub pipeline_segments: Vec<String>,
    /// Per parallel phase: each chunk's measured time (description, busy) and the main thread's
    /// own work during the phase (extraction, merging), for the scaling prediction.
    pub parallel_phases: Vec<ParallelPhase>,
    /// What the caller should warn about, as `opt` does (e.g. debug info dropped as invalid).
    pub warnings: Vec<String>,
    /// With `Options::remarks`: the optimization remarks as YAML, one document per remark, as
    /// `opt -pass-remarks-output` writes them; those of whole-module passes in the order they
    /// ran, those of each parallel phase in chunk order. The same bytes for every `-j`.
    pub remarks: Vec<u8>,
    /// Chunks whose results came from the cache.
    pub cached_chunks: usize,
    /// The whole output came from the cache (nothing else in these stats was measured).
    pub cached_output: bool,
    /// What the remote executor did.
    pub remote: RemoteSummary,
    /// In objects: the compile units before and after joining each source's into one, or why
    /// they were kept per chunk.
    pub debug_units: Option<std::result::Result<(usize, usize), String>>,
}

#[derive(Debug, Default, Clone)]
pub struct ParallelPhase {
    /// Per chunk, a description and the time a worker spent on it (not counting extraction).
    pub chunks: Vec<(String, Duration)>,
    /// The calling thread's own work but extraction (merging the results, the home module's).
    pub main_thread: Duration,
    pub wall: Duration,
    /// Per chunk, the chunks it waits for (the call-graph walk); empty when they are independent.
    pub deps: Vec<Vec<usize>>,
    /// Per chunk, the time its extraction took (on the calling thread, or in a worker).
    pub extract: Vec<Duration>,
    /// The order in which the chunks were handed out (largest first); empty with `deps`.
    pub order: Vec<usize>,
    /// Where workers extracted the chunks from copies of the home module: what the copies cost.
    pub copies: Option<Copies>,
}

/// What giving each worker a copy of the home module cost (`parallel::workers_extract`).
#[derive(Debug, Default, Clone)]
pub struct Copies {
    /// Writing the home module's bitcode once (on the calling thread).
    pub write: Duration,
    /// Each worker's reading of its copy (globals and metadata; bodies are read per chunk).
    pub read: Vec<Duration>,
}

impl ParallelPhase {
    /// The costliest chain of chunks each waiting for the one before (by their measured times),
    /// first to last, and its total time: what bounds a phase of dependent chunks at any
    /// number of workers. Empty for independent chunks.
    pub fn critical_chain(&self) -> (Vec<usize>, Duration) {
        let n = self.chunks.len();
        if self.deps.is_empty() || n == 0 {
            return (Vec::new(), Duration::ZERO);
        }
        // Per chunk: the earliest it could end, and the dependency on its chain. Chunks in
        // an order where each comes after its dependencies (the plan makes them acyclic).
        let mut end: Vec<Option<(Duration, Option<usize>)>> = vec![None; n];
        let mut waiting: Vec<usize> = (0..n)
            .map(|c| self.deps.get(c).map_or(0, Vec::len))
            .collect();
        let mut dependents = vec![Vec::new(); n];
        for (c, ds) in self.deps.iter().enumerate().take(n) {
            for &d in ds.iter().filter(|&&d| d < n) {
                dependents[d].push(c);
            }
        }
        let mut ready: Vec<usize> = (0..n).filter(|&c| waiting[c] == 0).collect();
        while let Some(c) = ready.pop() {
            let before = self
                .deps
                .get(c)
                .into_iter()
                .flatten()
                .filter_map(|&d| Some((end.get(d).copied().flatten()?.0, d)))
                .max();
            let start = before.map_or(Duration::ZERO, |(t, _)| t);
            end[c] = Some((start + self.chunks[c].1, before.map(|(_, d)| d)));
            for &x in &dependents[c] {
                waiting[x] -= 1;
                if waiting[x] == 0 {
                    ready.push(x);
                }
            }
        }
        let Some((last, (total, _))) = end
            .iter()
            .enumerate()
            .filter_map(|(c, e)| Some((c, (*e)?)))
            .max_by_key(|(c, (t, _))| (*t, std::cmp::Reverse(*c)))
        else {
            return (Vec::new(), Duration::ZERO);
        };
        let mut chain = vec![last];
        while let Some(Some((_, Some(d)))) = end.get(*chain.last().unwrap()) {
            chain.push(*d);
        }
        chain.reverse();
        (chain, total)
    }

    /// The order in which the chunks were handed out: the recorded one, or largest `cost`
    /// first if a phase made elsewhere does not say.
    fn handout_order(&self, cost: &[Duration]) -> Vec<usize> {
        let order: Vec<usize> = self
            .order
            .iter()
            .copied()
            .filter(|&c| c < cost.len())
            .collect();
        if order.len() == cost.len() {
            return order;
        }
        let mut order: Vec<usize> = (0..cost.len()).collect();
        order.sort_by(|&a, &b| cost[b].cmp(&cost[a]));
        order
    }

    /// As `predicted`, where workers extract the chunks from their own copies of the home
    /// module: every worker starts once the home module is written and it has read its copy,
    /// then each chunk costs its extraction and its work, handed out in the same order (or, in
    /// the call-graph walk, once its dependencies are done).
    fn predicted_with_copies(
        &self,
        copies: &Copies,
        busy: &[Duration],
        workers: usize,
    ) -> Duration {
        let read = match copies.read.len() {
            0 => Duration::ZERO,
            n => copies.read.iter().sum::<Duration>() / n as u32,
        };
        let work: Vec<Duration> = busy
            .iter()
            .enumerate()
            .map(|(c, b)| *b + self.extract.get(c).copied().unwrap_or_default())
            .collect();
        let span = if self.deps.is_empty() {
            let order = self.handout_order(&work);
            makespan_in_order(&work, &order, |_| Duration::ZERO, workers)
        } else {
            makespan_with_deps(&work, &self.deps, workers)
        };
        (self.main_thread + copies.write).max(copies.write + read + span)
    }

    /// This phase's predicted wall time with `workers` workers: the longer of the calling
    /// thread's own work (extracting every chunk, merging the results) and the makespan of the
    /// chunks (see `predicted_wall`), where a chunk starts no earlier than the calling thread
    /// has extracted it.
    fn predicted(&self, workers: usize) -> Duration {
        let busy: Vec<Duration> = self.chunks.iter().map(|(_, d)| *d).collect();
        if let Some(copies) = &self.copies {
            return self.predicted_with_copies(copies, &busy, workers);
        }
        if !self.deps.is_empty() {
            let extract: Duration = self.extract.iter().sum();
            return (self.main_thread + extract)
                .max(makespan_with_deps(&busy, &self.deps, workers));
        }
        // The calling thread extracts the chunks one after the other, in the order handed out.
        let order = self.handout_order(&busy);
        let mut extracted = vec![Duration::ZERO; busy.len()];
        let mut at = Duration::ZERO;
        for &c in &order {
            at += self.extract.get(c).copied().unwrap_or_default();
            extracted[c] = at;
        }
        let span = makespan_in_order(&busy, &order, |c| extracted[c], workers);
        (self.main_thread + at).max(span)
    }
}

/// The makespan of `durations` on `workers` when each chunk starts once the chunks in its
/// `deps` are done, the ready ones handed out largest first, as llpar does.
pub fn makespan_with_deps(durations: &[Duration], deps: &[Vec<usize>], workers: usize) -> Duration {
    let n = durations.len();
    let mut waiting: Vec<usize> = (0..n).map(|c| deps.get(c).map_or(0, Vec::len)).collect();
    let mut dependents = vec![Vec::new(); n];
    for (c, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(c);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&c| waiting[c] == 0).collect();
    // (time it frees up, chunk it runs) per busy worker.
    let mut running: Vec<(Duration, usize)> = Vec::new();
    let mut now = Duration::ZERO;
    loop {
        ready.sort_by_key(|&c| (durations[c], std::cmp::Reverse(c)));
        while running.len() < workers.max(1) {
            let Some(c) = ready.pop() else { break };
            running.push((now + durations[c], c));
        }
        let Some(i) = (0..running.len()).min_by_key(|&i| running[i]) else {
            return now;
        };
        let (end, c) = running.swap_remove(i);
        now = end;
        for &d in &dependents[c] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(d);
            }
        }
    }
}

/// The makespan of `durations` on `workers` when they are handed out largest first, each to the
/// worker that frees up first.
pub fn makespan(durations: &[Duration], workers: usize) -> Duration {
    let mut order: Vec<usize> = (0..durations.len()).collect();
    order.sort_by(|&a, &b| durations[b].cmp(&durations[a]));
    makespan_in_order(durations, &order, |_| Duration::ZERO, workers)
}

/// The makespan of `durations` on `workers` when they are handed out in `order`, each to the
/// worker that frees up first, chunk `c` not before `ready(c)` (when the calling thread has
/// extracted it).
pub fn makespan_in_order(
    durations: &[Duration],
    order: &[usize],
    ready: impl Fn(usize) -> Duration,
    workers: usize,
) -> Duration {
    let mut free = vec![Duration::ZERO; workers.max(1)];
    let mut end = Duration::ZERO;
    for &c in order {
        let first = free.iter_mut().min().expect("at least one worker");
        *first = (*first).max(ready(c)) + durations[c];
        end = end.max(*first);
    }
    end
}

impl Stats {
    /// Predicted wall time with `workers` workers: the time outside the parallel phases as
    /// measured, plus, per parallel phase, the longer of the main thread's own work and the
    /// makespan of the measured chunk times. Chunk times measured with more threads than cores
    /// include waiting for a core, so predictions from such runs are pessimistic.
    pub fn predicted_wall(&self, workers: usize) -> Duration {
        let outside = self.wall.saturating_sub(self.parallel_wall);
        let parallel: Duration = self
            .parallel_phases
            .iter()
            .map(|p| p.predicted(workers))
            .sum();
        outside + parallel
    }

    /// The chunk that bounds the parallel phases: the longest one measured.
    pub fn critical_chunk(&self) -> Option<(&str, Duration)> {
        self.parallel_phases
            .iter()
            .flat_map(|p| p.chunks.iter())
            .max_by_key(|(_, d)| *d)
            .map(|(n, d)| (n.as_str(), *d))
    }
}

impl Stats {
    pub(crate) fn add(&mut self, phase: &'static str, d: Duration) {
        match self.phases.iter_mut().find(|(p, _)| *p == phase) {
            Some((_, total)) => *total += d,
            None => self.phases.push((phase, d)),
        }
    }
}

/// Optimizes `input` (bitcode or textual IR, named `input_name` in messages) and returns the
/// output bytes in the requested form.
pub fn run(input: &[u8], input_name: &str, options: &Options) -> Result<(Vec<u8>, Stats)> {
    // `--save-temps` asks for the chunks themselves: only a run that makes them writes them.
    let cache = options
        .cache
        .as_ref()
        .filter(|_| options.save_temps.is_none());
    let Some(cache) = cache else {
        return run_uncached(input, input_name, options);
    };
    let start = Instant::now();
    let key = output_key(input, input_name, options);
    if let Some([output, remarks, warnings]) = cache.get(&key).as_deref() {
        let stats = Stats {
            remarks: remarks.clone(),
            warnings: String::from_utf8_lossy(warnings)
                .lines()
                .map(String::from)
                .collect(),
            cached_output: true,
            wall: start.elapsed(),
            ..Stats::default()
        };
        return Ok((output.clone(), stats));
    }
    let (output, stats) = run_uncached(input, input_name, options)?;
    let warnings = stats.warnings.join("\n");
    cache.put(&key, &[&output, &stats.remarks, warnings.as_bytes()]);
    Ok((output, stats))
}

/// The cache key of a whole run: the input, its name (a textual module without a
/// `source_filename` takes it), and every option that shapes the output; not `-j`, the
/// limits, `--verify` or `--isolate`, which never change it.
fn output_key(input: &[u8], input_name: &str, options: &Options) -> crate::cache::Key {
    let shape = format!(
        "{:?} {:?} {:?} {:?} {} {} {:?}",
        options.pipeline,
        options.target,
        options.plan,
        options.emit,
        options.simplify_before_inlining,
        options.parallel_inliner,
        options.remarks,
    );
    crate::cache::KeyBuilder::new("output", &llvm::version())
        .field(shape.as_bytes())
        .field(input_name.as_bytes())
        .field(input)
        .finish()
}

fn run_uncached(input: &[u8], input_name: &str, options: &Options) -> Result<(Vec<u8>, Stats)> {
    llvm::initialize();
    let start = Instant::now();
    let mut stats = Stats::default();
    let context = Context::create();

    let t = Instant::now();
    let parse_span = trace::span("parse and verify");
    llvm::set_current_work(format!("parsing {input_name}"));
    let parsed = llvm::parse_input(&context, input, input_name).map_err(|e| {
        Error::failure(if e.starts_with(input_name) {
            e
        } else {
            format!("{input_name}: {e}")
        })
    })?;
    let (mut module, verified) = (parsed.module, parsed.verified);
    let mut remarks = match &options.remarks {
        Some(filter) => Some(
            llvm::RemarkStream::start(&context, filter)
                .map_err(|e| Error::usage(format!("--pass-remarks-filter: {e}")))?,
        ),
        None => None,
    };
    stats.warnings.extend(parsed.warning);
    if !verified {
        llvm::verify(&module).map_err(|e| {
            Error::failure(format!(
                "{input_name}: input module fails the verifier: {e}"
            ))
        })?;
    }
    stats.add("parse", t.elapsed());
    drop(parse_span);

    if let Some(triple) = &options.target.triple {
        module.set_triple(&inkwell::targets::TargetTriple::create(triple));
    }
    let mut triple = llvm::module_triple(&module);
    if triple.is_empty()
        && options.target.triple.is_none()
        && matches!(options.emit, EmitKind::Asm | EmitKind::Object)
    {
        // As `llc` does: code for a module without a triple is generated for the host.
        triple = llvm::host_triple();
        module.set_triple(&inkwell::targets::TargetTriple::create(&triple));
    }
    let machine = llvm::target_machine(&options.target, &triple).map_err(Error::failure)?;
    let pipeline_text = match &options.pipeline {
        PipelineRequest::Level { speed, size } => {
            llvm::default_pipeline(machine.as_ref(), *speed, *size)
        }
        // No pipeline at all: like `opt` without passes, read, verify and write.
        PipelineRequest::Text(text) if text.trim().is_empty() => String::new(),
        PipelineRequest::Text(text) => {
            pipeline::check_parses(text)
                .map_err(|e| Error::failure(format!("invalid pipeline '{text}': {e}")))?;
            text.clone()
        }
    };
    let segments = match &options.pipeline {
        PipelineRequest::Level { .. } if options.parallel_inliner => {
            pipeline::walk_segments(&pipeline_text)
        }
        PipelineRequest::Level { .. } => {
            pipeline::default_segments(&pipeline_text, options.simplify_before_inlining)
        }
        PipelineRequest::Text(_) => pipeline::segment(&pipeline_text),
    }
    .map_err(Error::failure)?;
    // With code generation to follow, the last per-chunk segment runs in the code generation jobs.
    let (segments, before_codegen) = match options.emit {
        EmitKind::Object if machine.is_some() => pipeline::fuse_with_codegen(segments),
        _ => (segments, None),
    };
    if options.print_pipeline {
        for segment in &segments {
            let _span = trace::span(match segment {
                Segment::WholeModule(p) => {
                    format!("serial: {}", p.chars().take(80).collect::<String>())
                }
                Segment::PerChunk(p) => {
                    format!("per chunk: {}", p.chars().take(80).collect::<String>())
                }
                Segment::Walk(p) => {
                    format!(
                        "per chunk, along the call graph: {}",
                        p.chars().take(80).collect::<String>()
                    )
                }
            });
            match segment {
                Segment::WholeModule(p) => note!("serial: {p}"),
                Segment::PerChunk(p) => note!("per chunk: {p}"),
                Segment::Walk(p) => note!("per chunk, along the call graph: {p}"),
            }
        }
        if let Some(p) = &before_codegen {
            note!("per chunk, then code generation: {p}");
        }
    }
    if let Some(p) = &before_codegen {
        stats
            .pipeline_segments
            .push(format!("parallel, with code generation: {p}"));
    }

    // With `--inliner=parallel` and an object to make, each chunk of the walk goes on to code
    // generation by itself; the module is not rebuilt after the walk.
    let along_walk = match (options.emit, &machine) {
        (EmitKind::Object, Some(_)) => {
            pipeline::after_walk_per_chunk(&segments, before_codegen.as_deref())
        }
        _ => None,
    };
    // The inliner of `-O<n>` runs in a serial segment and must use that level's parameters.
    let inline_level = match options.pipeline {
        PipelineRequest::Level { speed, size } => Some((speed, size)),
        PipelineRequest::Text(_) => None,
    };
    for segment in &segments {
        match segment {
            Segment::WholeModule(passes) => {
                stats.pipeline_segments.push(format!("serial: {passes}"));
                let t = Instant::now();
                llvm::set_current_work(format!(
                    "{input_name}: running '{passes}' on the whole module"
                ));
                let _span = trace::span(format!(
                    "serial passes: {}",
                    passes.chars().take(80).collect::<String>()
                ));
                trace::llvm_passes(|| {
                    llvm::run_passes(&mut module, passes, machine.as_ref(), inline_level)
                })
                .map_err(|e| Error::failure(format!("{input_name}: pipeline '{passes}': {e}")))?;
                stats.add("module passes", t.elapsed());
                if let Some(stream) = &mut remarks {
                    stats.remarks.extend(stream.take());
                }
            }
            Segment::PerChunk(passes) | Segment::Walk(passes) => {
                let walk = matches!(segment, Segment::Walk(_));
                stats.pipeline_segments.push(if walk {
                    format!("parallel, along the call graph: {passes}")
                } else {
                    format!("parallel: {passes}")
                });
                let config = WorkerConfig {
                    task: Task::Optimize(passes.clone()),
                    target: options.target.clone(),
                    triple: triple.clone(),
                    verify: options.verify_each,
                    crash_dir: options.crash_dir.clone(),
                    isolate: options.isolate.clone(),
                    inline_level: if walk { inline_level } else { None },
                    remarks: options.remarks.clone(),
                    cache: options.cache.clone(),
                    remote: options.remote.clone(),
                    remote_fallback: options.remote_fallback,
                };
                if let (true, Some(per_chunk), Some(machine)) = (walk, &along_walk, &machine) {
                    let bytes = emit_along_walk(
                        &mut module,
                        &config,
                        per_chunk,
                        machine,
                        options,
                        input_name,
                        &mut stats,
                    )?;
                    if let Some(stream) = &mut remarks {
                        stats.remarks.extend(stream.take());
                    }
                    stats.wall = start.elapsed();
                    stats.peak_memory = crate::admission::peak_resident_bytes();
                    return Ok((bytes, stats));
                }
                let run = if walk { run_walk } else { run_per_chunk };
                run(
                    &context,
                    &mut module,
                    &config,
                    options,
                    input_name,
                    &mut stats,
                )?;
            }
        }
        if options.verify_each {
            llvm::verify(&module).map_err(|e| {
                Error::failure(format!(
                    "{input_name}: module fails the verifier after '{segment:?}': {e}"
                ))
            })?;
        }
    }

    let t = Instant::now();
    let _emit_span = trace::span("verify and emit");
    llvm::set_current_work(format!("{input_name}: verifying the output"));
    llvm::verify(&module).map_err(|e| {
        Error::failure(format!(
            "{input_name}: output module fails the verifier: {e}"
        ))
    })?;
    llvm::set_current_work(format!("{input_name}: emitting"));
    let bytes = match options.emit {
        EmitKind::Bitcode => llvm::write_bitcode(&module),
        EmitKind::Ir => llvm::print_ir(&module).into_bytes(),
        EmitKind::Asm | EmitKind::Object => {
            let machine = machine.as_ref().ok_or_else(|| {
                Error::failure(format!(
                    "{input_name}: no target triple to generate code for (use --mtriple)"
                ))
            })?;
            if options.emit == EmitKind::Object {
                codegen::emit_object(
                    &mut module,
                    before_codegen.clone(),
                    machine,
                    &options.target,
                    &triple,
                    options,
                    input_name,
                    &mut stats,
                )?
            } else {
                // Assembly of several modules cannot simply be concatenated (local labels would
                // collide), so assembly is generated for the whole module at once.
                llvm::emit(&mut module, machine, false)
                    .map_err(|e| Error::failure(format!("{input_name}: code generation: {e}")))?
            }
        }
    };
    stats.add("emit", t.elapsed());
    if let Some(stream) = &mut remarks {
        stats.remarks.extend(stream.take());
    }
    stats.wall = start.elapsed();
    stats.peak_memory = crate::admission::peak_resident_bytes();
    Ok((bytes, stats))
}

/// The object of `module`, whose every chunk runs the walk (`walk`) and then `per_chunk` and
/// code generation (`codegen::emit_object_along_walk`). The output module never exists whole:
/// each chunk is verified before its code generation, and the home module before its own.
fn emit_along_walk(
    module: &mut Module,
    walk: &WorkerConfig,
    per_chunk: &str,
    machine: &inkwell::targets::TargetMachine,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
) -> Result<Vec<u8>> {
    let t = Instant::now();
    let _span = trace::span("the walk and code generation per chunk");
    let bytes = codegen::emit_object_along_walk(
        module,
        walk,
        per_chunk.to_string(),
        machine,
        options,
        input_name,
        stats,
    )?;
    stats.add("emit", t.elapsed());
    Ok(bytes)
}

/// Splits `module`, runs `config.pipeline` on every chunk on `options.threads` workers, and merges
/// the results back into `module`.
fn run_per_chunk<'c>(
    context: &'c Context,
    module: &mut Module<'c>,
    config: &WorkerConfig,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
) -> Result<()> {
    let t = Instant::now();
    llvm::set_current_work(format!("{input_name}: splitting"));
    let mut split = split::prepare(module, options.plan, split::Purpose::Optimize);
    stats.add("split", t.elapsed());
    if split.chunks.is_empty() {
        return Ok(());
    }
    parallel::process_chunks(
        &mut split,
        module,
        config,
        options,
        input_name,
        stats,
        |module| Ok(merge_into(context, module, input_name)),
    )?;
    let t = Instant::now();
    split.restore.apply(module);
    stats.add("merge", t.elapsed());
    Ok(())
}

/// The inliner's walk along the call graph: plans chunks in waves (`split::prepare_walk`), and
/// runs `config`'s pipeline on each chunk once the chunks it calls into are done, importing
/// their results, so that every chunk sees its callees as simplified bodies.
fn run_walk<'c>(
    context: &'c Context,
    module: &mut Module<'c>,
    config: &WorkerConfig,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
) -> Result<()> {
    let t = Instant::now();
    llvm::set_current_work(format!("{input_name}: planning the call-graph walk"));
    let mut split = split::prepare_walk(module, options.plan, split::Purpose::Optimize);
    stats.add("split", t.elapsed());
    let deps = split.walk_deps();
    parallel::process_dag(
        &mut split,
        module,
        &deps,
        std::slice::from_ref(config),
        options,
        input_name,
        stats,
        |module| Ok(merge_into(context, module, input_name)),
    )?;
    let t = Instant::now();
    // What the inliner deleted in a chunk (a local function inlined into its every caller) is
    // left at home as an unused declaration; the split finds it by position.
    split
        .keep_positions(module)
        .map_err(|e| Error::failure(format!("{input_name}: after the call-graph walk: {e}")))?;
    split.erase_deleted_functions(module);
    split.restore.apply(module);
    stats.add("merge", t.elapsed());
    Ok(())
}

/// Links optimized chunks into `module`, as `parallel` hands them over (in chunk order).
fn merge_into<'m, 'c>(
    context: &'c Context,
    module: &'m mut Module<'c>,
    input_name: &'m str,
) -> impl FnMut(usize, Vec<u8>) -> std::result::Result<(), String> + use<'m, 'c> {
    let mut merger = Merger::new(context, module);
    move |index, bitcode| {
        llvm::set_current_work(format!("{input_name}: merging chunk {index}"));
        merger
            .accept(index, bitcode)
            .map_err(|e| format!("{input_name}: {e}"))
    }
}

pub(crate) fn save_temp(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(dir.join(name), bytes))
        .map_err(|e| Error::failure(format!("{}: cannot write: {e}", dir.join(name).display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makespan_hands_out_largest_first() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&x| Duration::from_millis(x))
                .collect::<Vec<_>>()
        };
        // Largest first: 5 | 4, 3 | then 3 to the first (8), 3 to the second (10). (The best
        // schedule, 5+4 | 3+3+3, would take 9; llpar's dispatch does not find it, nor is it modeled.)
        assert_eq!(
            makespan(&ms(&[5, 4, 3, 3, 3]), 2),
            Duration::from_millis(10)
        );
        assert_eq!(makespan(&ms(&[10, 1, 1]), 8), Duration::from_millis(10));
        assert_eq!(makespan(&ms(&[2, 2, 2, 2]), 1), Duration::from_millis(8));
        assert_eq!(makespan(&[], 4), Duration::ZERO);
    }

    #[test]
    fn makespan_in_order_waits_for_extraction() {
        let ms = Duration::from_millis;
        let work = [ms(10), ms(1), ms(1)];
        // Extracted one after the other at 2, 3 and 4 ms: the small ones wait for it, the
        // large one bounds the end (2 + 10).
        let ready = [ms(2), ms(3), ms(4)];
        let span = makespan_in_order(&work, &[0, 1, 2], |c| ready[c], 2);
        assert_eq!(span, ms(12));
        // Extracted late (at 20 ms), a small chunk ends the phase.
        let late = [ms(0), ms(0), ms(20)];
        let span = makespan_in_order(&work, &[0, 1, 2], |c| late[c], 2);
        assert_eq!(span, ms(21));
        assert_eq!(
            makespan_in_order(&[], &[], |_| Duration::ZERO, 2),
            Duration::ZERO
        );
    }

    #[test]
    fn critical_chain_follows_the_costliest_dependencies() {
        let ms = Duration::from_millis;
        let chunk = |t: u64| (String::new(), ms(t));
        // 0 and 1 are leaves; 2 waits for both, 3 for 2: the chain is 1 -> 2 -> 3.
        let phase = ParallelPhase {
            chunks: vec![chunk(5), chunk(7), chunk(2), chunk(4)],
            deps: vec![vec![], vec![], vec![0, 1], vec![2]],
            ..Default::default()
        };
        assert_eq!(phase.critical_chain(), (vec![1, 2, 3], ms(13)));
        let independent = ParallelPhase {
            chunks: vec![chunk(5)],
            ..Default::default()
        };
        assert_eq!(independent.critical_chain(), (Vec::new(), Duration::ZERO));
        // A phase made by a library user, with dependencies for some chunks only and no
        // extraction times or order: no panic, and the chunks are handed out largest first.
        let partial = ParallelPhase {
            chunks: vec![chunk(5), chunk(7), chunk(2)],
            deps: vec![vec![], vec![0]],
            ..Default::default()
        };
        assert_eq!(partial.critical_chain(), (vec![0, 1], ms(12)));
        let stats = Stats {
            parallel_phases: vec![ParallelPhase {
                chunks: vec![chunk(5), chunk(7), chunk(2)],
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(stats.predicted_wall(2), ms(7));
    }

    #[test]
    fn makespan_with_deps_waits_for_dependencies() {
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&x| Duration::from_millis(x))
                .collect::<Vec<_>>()
        };
        // 2 waits for 0 and 1; 3 waits for 2: a chain of 5 + 1 + 1 whatever the workers.
        let deps = vec![vec![], vec![], vec![0, 1], vec![2]];
        assert_eq!(
            makespan_with_deps(&ms(&[5, 4, 1, 1]), &deps, 8),
            Duration::from_millis(7)
        );
        assert_eq!(
            makespan_with_deps(&ms(&[5, 4, 1, 1]), &deps, 1),
            Duration::from_millis(11)
        );
        // Without dependencies it is the plain makespan.
        let none = vec![vec![]; 5];
        assert_eq!(
            makespan_with_deps(&ms(&[5, 4, 3, 3, 3]), &none, 2),
            makespan(&ms(&[5, 4, 3, 3, 3]), 2)
        );
    }
}
