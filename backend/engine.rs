//! The engine: parse once, then for each segment of the pipeline either run it on the whole
//! module or split, optimize the chunks on worker threads, and merge; then emit.
use crate::codegen;
use crate::crash;
use crate::error::{Error, Result};
use crate::llvm;
use crate::merge::Merger;
use crate::options::{EmitKind, Options};
use crate::parallel;
use crate::pipeline::{self, PipelineRequest, Segment};
use crate::split;
use crate::stats::Stats;
use crate::trace;
use crate::worker::{Task, WorkerConfig};
use inkwell::context::Context;
use inkwell::module::Module;
use inkwell::targets::TargetMachine;
use std::time::Instant;

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
    let (mut module, mut remarks) = parse(&context, input, input_name, options, &mut stats)?;
    let triple = target_triple(&mut module, options);
    let machine = llvm::target_machine(&options.target, &triple).map_err(Error::failure)?;
    let stages = Stages::new(options, machine.as_ref())?;
    if options.print_pipeline {
        stages.print();
    }
    if let Some(p) = &stages.before_codegen {
        stats
            .pipeline_segments
            .push(format!("parallel, with code generation: {p}"));
    }
    let mut take_remarks = |stats: &mut Stats| {
        if let Some(stream) = &mut remarks {
            stats.remarks.extend(stream.take());
        }
    };
    let run = RunContext {
        options,
        input_name,
        triple: &triple,
        machine: machine.as_ref(),
        stages: &stages,
    };
    for segment in &stages.segments {
        let object = run.segment(&context, &mut module, segment, &mut stats)?;
        take_remarks(&mut stats);
        if let Some(bytes) = object {
            // The walk went on to code generation chunk by chunk: the object is made.
            return Ok((bytes, finished(stats, start)));
        }
    }
    let bytes = run.emit(&mut module, &mut stats)?;
    take_remarks(&mut stats);
    Ok((bytes, finished(stats, start)))
}

fn finished(mut stats: Stats, start: Instant) -> Stats {
    stats.wall = start.elapsed();
    stats.peak_memory = crate::admission::peak_resident_bytes();
    stats
}

/// Reads `input` into a module of `context` and verifies it, as `opt` does; starts collecting
/// the remarks (`--pass-remarks-output`) in between, so that a bad filter is a usage error
/// even for an input that fails the verifier.
fn parse<'c>(
    context: &'c Context,
    input: &[u8],
    input_name: &str,
    options: &Options,
    stats: &mut Stats,
) -> Result<(Module<'c>, Option<llvm::RemarkStream<'c>>)> {
    let t = Instant::now();
    let _span = trace::span("parse and verify");
    crash::set_current_work(format!("parsing {input_name}"));
    let parsed = llvm::parse_input(context, input, input_name).map_err(|e| {
        Error::failure(if e.starts_with(input_name) {
            e
        } else {
            format!("{input_name}: {e}")
        })
    })?;
    let remarks = match &options.remarks {
        Some(filter) => Some(
            llvm::RemarkStream::start(context, filter)
                .map_err(|e| Error::usage(format!("--pass-remarks-filter: {e}")))?,
        ),
        None => None,
    };
    stats.warnings.extend(parsed.warning);
    if !parsed.verified {
        llvm::verify(&parsed.module).map_err(|e| {
            Error::failure(format!(
                "{input_name}: input module fails the verifier: {e}"
            ))
        })?;
    }
    stats.add("parse", t.elapsed());
    Ok((parsed.module, remarks))
}

/// The triple code is generated for: `--mtriple`, else the module's, else (as `llc` does for
/// a module without one) the host's. The module is given the one chosen.
fn target_triple(module: &mut Module, options: &Options) -> String {
    if let Some(triple) = &options.target.triple {
        module.set_triple(&inkwell::targets::TargetTriple::create(triple));
    }
    let triple = llvm::module_triple(module);
    let for_code = matches!(options.emit, EmitKind::Asm | EmitKind::Object);
    if !triple.is_empty() || options.target.triple.is_some() || !for_code {
        return triple;
    }
    let host = llvm::host_triple();
    module.set_triple(&inkwell::targets::TargetTriple::create(&host));
    host
}

/// The pipeline cut into what runs on the whole module and what runs per chunk.
struct Stages {
    segments: Vec<Segment>,
    /// With an object to make: the last per-chunk segment, run in the code generation jobs.
    before_codegen: Option<String>,
    /// With `--inliner=parallel` and an object to make: what each chunk of the walk runs
    /// before its own code generation (the module is not rebuilt after the walk).
    along_walk: Option<String>,
    /// The `-O<n>` level whose parameters the inliner uses, wherever it runs.
    inline_level: Option<(u8, u8)>,
}

impl Stages {
    fn new(options: &Options, machine: Option<&TargetMachine>) -> Result<Self> {
        let text = match &options.pipeline {
            PipelineRequest::Level { speed, size } => {
                llvm::default_pipeline(machine, *speed, *size)
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
                pipeline::walk_segments(&text)
            }
            PipelineRequest::Level { .. } => {
                pipeline::default_segments(&text, options.simplify_before_inlining)
            }
            PipelineRequest::Text(_) => pipeline::segment(&text),
        }
        .map_err(Error::failure)?;
        let to_object = options.emit == EmitKind::Object && machine.is_some();
        let (segments, before_codegen) = match to_object {
            true => pipeline::fuse_with_codegen(segments),
            false => (segments, None),
        };
        let along_walk = to_object
            .then(|| pipeline::after_walk_per_chunk(&segments, before_codegen.as_deref()))
            .flatten();
        let inline_level = match options.pipeline {
            PipelineRequest::Level { speed, size } => Some((speed, size)),
            PipelineRequest::Text(_) => None,
        };
        Ok(Stages {
            segments,
            before_codegen,
            along_walk,
            inline_level,
        })
    }

    /// `--print-pipeline-passes`: each segment on stderr, and in the time trace.
    fn print(&self) {
        for segment in &self.segments {
            let (how, passes) = match segment {
                Segment::WholeModule(p) => ("serial", p),
                Segment::PerChunk(p) => ("per chunk", p),
                Segment::Walk(p) => ("per chunk, along the call graph", p),
            };
            let _span = trace::span(format!(
                "{how}: {}",
                passes.chars().take(80).collect::<String>()
            ));
            note!("{how}: {passes}");
        }
        if let Some(p) = &self.before_codegen {
            note!("per chunk, then code generation: {p}");
        }
    }
}

/// One run's fixed parts, which every segment reads.
struct RunContext<'r> {
    options: &'r Options,
    input_name: &'r str,
    triple: &'r str,
    machine: Option<&'r TargetMachine>,
    stages: &'r Stages,
}

impl RunContext<'_> {
    /// Runs `segment` on `module`; returns the object when the segment is the walk and went on
    /// to code generation chunk by chunk (nothing is left to run then).
    fn segment<'c>(
        &self,
        context: &'c Context,
        module: &mut Module<'c>,
        segment: &Segment,
        stats: &mut Stats,
    ) -> Result<Option<Vec<u8>>> {
        let (options, input_name) = (self.options, self.input_name);
        match segment {
            Segment::WholeModule(passes) => self.whole_module(module, passes, stats)?,
            Segment::PerChunk(passes) | Segment::Walk(passes) => {
                let walk = matches!(segment, Segment::Walk(_));
                stats.pipeline_segments.push(match walk {
                    true => format!("parallel, along the call graph: {passes}"),
                    false => format!("parallel: {passes}"),
                });
                let config = self.worker_config(passes, walk);
                if let (true, Some(per_chunk), Some(machine)) =
                    (walk, &self.stages.along_walk, self.machine)
                {
                    let bytes = emit_along_walk(
                        module, &config, per_chunk, machine, options, input_name, stats,
                    )?;
                    return Ok(Some(bytes));
                }
                let run = if walk { run_walk } else { run_per_chunk };
                run(context, module, &config, options, input_name, stats)?;
            }
        }
        if options.verify_each {
            llvm::verify(module).map_err(|e| {
                Error::failure(format!(
                    "{input_name}: module fails the verifier after '{segment:?}': {e}"
                ))
            })?;
        }
        Ok(None)
    }

    fn whole_module(&self, module: &mut Module, passes: &str, stats: &mut Stats) -> Result<()> {
        let input_name = self.input_name;
        stats.pipeline_segments.push(format!("serial: {passes}"));
        let t = Instant::now();
        crash::set_current_work(format!(
            "{input_name}: running '{passes}' on the whole module"
        ));
        let _span = trace::span(format!(
            "serial passes: {}",
            passes.chars().take(80).collect::<String>()
        ));
        trace::llvm_passes(|| {
            llvm::run_passes(module, passes, self.machine, self.stages.inline_level)
        })
        .map_err(|e| Error::failure(format!("{input_name}: pipeline '{passes}': {e}")))?;
        stats.add("module passes", t.elapsed());
        Ok(())
    }

    fn worker_config(&self, passes: &str, walk: bool) -> WorkerConfig {
        let options = self.options;
        let (before_imports, passes) = match walk {
            true => pipeline::before_imports(passes),
            false => (None, passes.to_string()),
        };
        WorkerConfig {
            task: Task::Optimize(passes),
            before_imports,
            target: options.target.clone(),
            triple: self.triple.to_string(),
            verify: options.verify_each,
            crash_dir: options.crash_dir.clone(),
            isolate: options.isolate.clone(),
            // The inliner of `-O<n>` runs in the walk and must use that level's parameters.
            inline_level: if walk { self.stages.inline_level } else { None },
            remarks: options.remarks.clone(),
            cache: options.cache.clone(),
            remote: options.remote.clone(),
            remote_fallback: options.remote_fallback,
        }
    }

    /// The output of the module as it is after the pipeline: verified, then written in the
    /// form asked for.
    fn emit(&self, module: &mut Module, stats: &mut Stats) -> Result<Vec<u8>> {
        let input_name = self.input_name;
        let t = Instant::now();
        let _span = trace::span("verify and emit");
        crash::set_current_work(format!("{input_name}: verifying the output"));
        llvm::verify(module).map_err(|e| {
            Error::failure(format!(
                "{input_name}: output module fails the verifier: {e}"
            ))
        })?;
        crash::set_current_work(format!("{input_name}: emitting"));
        let bytes = match self.options.emit {
            EmitKind::Bitcode => llvm::write_bitcode(module),
            EmitKind::Ir => llvm::print_ir(module).into_bytes(),
            EmitKind::Asm | EmitKind::Object => self.generate_code(module, stats)?,
        };
        stats.add("emit", t.elapsed());
        Ok(bytes)
    }

    fn generate_code(&self, module: &mut Module, stats: &mut Stats) -> Result<Vec<u8>> {
        let input_name = self.input_name;
        let machine = self.machine.ok_or_else(|| {
            Error::failure(format!(
                "{input_name}: no target triple to generate code for (use --mtriple)"
            ))
        })?;
        if self.options.emit == EmitKind::Asm {
            // Assembly of several modules cannot simply be concatenated (local labels would
            // collide), so assembly is generated for the whole module at once.
            return llvm::emit(module, machine, false)
                .map_err(|e| Error::failure(format!("{input_name}: code generation: {e}")));
        }
        codegen::emit_object(
            module,
            self.stages.before_codegen.clone(),
            machine,
            &self.options.target,
            self.triple,
            self.options,
            input_name,
            stats,
        )
    }
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
    crash::set_current_work(format!("{input_name}: splitting"));
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
    crash::set_current_work(format!("{input_name}: planning the call-graph walk"));
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
        crash::set_current_work(format!("{input_name}: merging chunk {index}"));
        merger
            .accept(index, bitcode)
            .map_err(|e| format!("{input_name}: {e}"))
    }
}
