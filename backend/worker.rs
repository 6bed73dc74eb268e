//! Workers: threads that each optimize whole chunks, one at a time, in a fresh LLVM context.
//!
//! Architecture invariant: only bytes cross threads. A job is a chunk's bitcode, a result is the
//! optimized chunk's bitcode (or an error message); every LLVM object a worker creates lives and
//! dies on its thread. A fresh context per chunk keeps a chunk's output independent of which
//! chunks the same thread handled before, so the bytes never depend on scheduling.
use crate::admission::Admission;
use crate::cache::{Cache, Key, KeyBuilder};
use crate::crash;
use crate::llvm::{self, FunctionUses, LazyModule, RelocModel, TargetOptions, UseRanks, UseTable};
use crate::remote::{Remote, RemoteError, RemoteTimes};
use crate::split::{Listed, Recipe};
use crate::trace;
use crossbeam_channel::{Receiver, Sender};
use inkwell::context::Context;
use inkwell::targets::TargetMachine;
use std::cell::OnceCell;
use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub struct Job {
    pub index: usize,
    pub bitcode: Vec<u8>,
    pub description: String,
    /// (promoted name, own name) of the chunk's promoted functions, so messages use own names.
    pub promoted_names: Vec<(String, String)>,
    /// What to import before the passes: per finished chunk this one depends on, its result
    /// and the functions of it this chunk calls (see `llvm::import_all`).
    pub imports: Vec<(std::sync::Arc<Vec<u8>>, Vec<String>)>,
    /// Which of the phase's worker configurations does the work: 0, or 1 for the code
    /// generation that follows a chunk's call-graph walk (on the walk's result).
    pub stage: usize,
    /// Functions of the chunk to erase before its work if it does not use them (held for
    /// other chunks, none of whose walk results refers to them; see `split::WalkPlan`).
    pub drop_unused: Vec<String>,
}

/// The chunk `bitcode` without the functions `names` that it does not use, nor the array that
/// kept functions alive for other chunks during the walk.
fn without_unused(bitcode: &[u8], names: &[String], index: usize) -> Result<Vec<u8>, String> {
    let _span = trace::span("drop functions no chunk uses");
    let context = Context::create();
    let mut module = llvm::parse(&context, bitcode, &format!("chunk{index}"))?;
    let kept_alive: Vec<usize> = llvm::variables(&module)
        .iter()
        .position(|v| v.name() == b"__llpar.kept_alive")
        .into_iter()
        .collect();
    llvm::erase_unused_globals(&mut module, &[], &kept_alive);
    let names: std::collections::HashSet<&[u8]> = names.iter().map(|n| n.as_bytes()).collect();
    let chosen: Vec<usize> = llvm::functions(&module)
        .iter()
        .enumerate()
        .filter(|(_, f)| names.contains(&f.name()[..]))
        .map(|(i, _)| i)
        .collect();
    llvm::erase_unused_globals(&mut module, &chosen, &[]);
    llvm::erase_unused_comdats(&mut module);
    Ok(llvm::write_bitcode(&module))
}

/// The functions that the module in `bitcode` declares (and, in a walk's result, uses).
fn declared_functions(bitcode: &[u8]) -> Result<Vec<String>, String> {
    let _span = trace::span("list the walk result's declarations");
    let context = Context::create();
    let lazy = LazyModule::read(&context, bitcode)?;
    Ok(declarations(lazy.module()))
}

fn declarations(module: &inkwell::module::Module) -> Vec<String> {
    llvm::functions(module)
        .iter()
        .filter(|f| f.is_declaration())
        .map(|f| String::from_utf8_lossy(&f.name()).into_owned())
        .collect()
}

/// What a walk's result gives the rest of the walk besides its bytes.
struct Walked {
    /// The functions the result declares: those of other chunks it still refers to (see
    /// `Done::declared`).
    declared: Vec<String>,
    /// The bitcode that the chunks importing from the result read (`llvm::exports`). Part of
    /// the chunk's output wherever the chunk runs (a child process, the cache and remote
    /// workers keep it beside the result), so that importers read the same bytes however the
    /// result was made: made again from the result's bytes, it differs in the order of use
    /// lists and symbol tables.
    exports: Vec<u8>,
}

impl Walked {
    /// Of the walk's result `module`, which this turns into its exports.
    fn of(module: &mut inkwell::module::Module) -> Self {
        let declared = declarations(module);
        llvm::exports(module, crate::split::IMPORT_LIMIT);
        Walked {
            declared,
            exports: llvm::write_bitcode(module),
        }
    }

    /// Of the walk's result `bitcode`, whose `exports` came with it.
    fn with(bitcode: &[u8], exports: Vec<u8>) -> Result<Self, String> {
        Ok(Walked {
            declared: declared_functions(bitcode)?,
            exports,
        })
    }
}

/// The chunk's bitcode after the passes that come before its imports
/// (`WorkerConfig::before_imports`), with its imports (`Job::imports`) linked in, built in a
/// context of its own; and the remarks of those passes.
fn with_imports(
    config: &WorkerConfig,
    machine: &Result<Option<TargetMachine>, String>,
    job: &Job,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let context = Context::create();
    let mut module = llvm::parse(&context, &job.bitcode, &format!("chunk{}", job.index))?;
    llvm::declare_shared_types(&module);
    let remarks = match &config.before_imports {
        Some(passes) => before_imports(config, machine, &context, &mut module, job, passes)?,
        None => Vec::new(),
    };
    if !job.imports.is_empty() {
        let _span = trace::span("import callees");
        let dependencies: Vec<(&[u8], &[String])> = job
            .imports
            .iter()
            .map(|(bytes, names)| (bytes.as_slice(), names.as_slice()))
            .collect();
        llvm::import_all(&module, &dependencies, crate::split::IMPORT_LIMIT)
            .map_err(|e| format!("importing callees: {e}"))?;
        llvm::dedupe_debug_units(&module);
    }
    Ok((llvm::write_bitcode(&module), remarks))
}

/// Runs `passes` on the chunk `module` (parsed from `job.bitcode` in `context`) as its work
/// runs its pipeline: with a reproducer ready in case LLVM fails, and its remarks collected.
fn before_imports<'c>(
    config: &WorkerConfig,
    machine: &Result<Option<TargetMachine>, String>,
    context: &'c Context,
    module: &mut inkwell::module::Module<'c>,
    job: &Job,
    passes: &str,
) -> Result<Vec<u8>, String> {
    let machine = machine.as_ref().map_err(String::clone)?.as_ref();
    let doing = format!("{} running '{passes}'", job.description);
    let bitcode = std::sync::Arc::new(job.bitcode.clone());
    let replay = crash::replay_hint(Some(passes), false);
    let ((), remarks) = guarded(config, job.index, doing, bitcode, replay, || {
        with_remarks(config, context, || {
            llvm::run_passes(module, passes, machine, config.inline_level)
                .map_err(|e| format!("pipeline '{passes}': {e}"))
        })
    })?;
    Ok(remarks)
}

/// Runs `work`, LLVM's work on the chunk `bitcode` (job `index`), with what the thread does named
/// for a crash report and a reproducer of the chunk ready in case LLVM fails.
fn guarded<T>(
    config: &WorkerConfig,
    index: usize,
    doing: String,
    bitcode: std::sync::Arc<Vec<u8>>,
    replay: String,
    work: impl FnOnce() -> T,
) -> T {
    crash::set_current_work(doing);
    let path = crash::reproducer_path(&config.crash_dir, index);
    let _reproducer = crash::reproducer_for(bitcode, &path, replay);
    trace::llvm_passes(work)
}

/// Runs `work` on a module of `context`, with the remarks LLVM emits meanwhile collected if
/// they were asked for.
fn with_remarks<T>(
    config: &WorkerConfig,
    context: &Context,
    work: impl FnOnce() -> Result<T, String>,
) -> Result<(T, Vec<u8>), String> {
    let mut stream = match &config.remarks {
        Some(filter) => Some(llvm::RemarkStream::start(context, filter)?),
        None => None,
    };
    let value = work()?;
    let remarks = stream.as_mut().map(llvm::RemarkStream::take);
    Ok((value, remarks.unwrap_or_default()))
}

/// The home module in bitcode, for workers that extract their chunks themselves: each worker
/// reads its own copy lazily, in a context of its own, and reads the bodies of a chunk's
/// functions only when it extracts that chunk, with `recipe`. The copy holds the same globals
/// in the same positions as the home module, and the use-list facts it lacks (the uses by
/// bodies not read) come from `uses`, so a chunk comes out byte for byte as the calling thread
/// would extract it from the home module.
pub struct HomeImage {
    pub bitcode: Vec<u8>,
    pub recipe: Recipe,
    pub uses: UseTable,
    /// The input's name, for messages.
    pub input_name: String,
    /// Send each chunk's bitcode back with its result (`Done::input`), for `--save-temps`.
    pub keep_chunks: bool,
}

/// A worker's own copy of the home module (`HomeImage`), read on its first chunk, and its use
/// ranks, which grow with each chunk extracted.
struct Copy<'c, 'h> {
    context: &'c Context,
    home: &'h HomeImage,
    module: OnceCell<Result<LazyModule<'c, 'h>, String>>,
}

impl Taken {
    fn already() -> Self {
        Taken {
            result: Ok(()),
            extract: Duration::ZERO,
            read: Duration::ZERO,
            input: None,
        }
    }
}

impl<'c, 'h> Copy<'c, 'h> {
    /// Extracts `job`'s chunk into `job.bitcode` (see `extract`).
    fn take<'m>(&'m self, copy_index: &OnceCell<CopyIndex<'m, 'c>>, job: &mut Job) -> Taken {
        let (mut read, start) = (Duration::ZERO, Instant::now());
        let result = self
            .extract(copy_index, job.index, &mut read)
            .map(|bitcode| job.bitcode = bitcode);
        let input = (self.home.keep_chunks && result.is_ok()).then(|| job.bitcode.clone());
        Taken {
            result,
            extract: start.elapsed().saturating_sub(read),
            read,
            input,
        }
    }

    /// Extracts chunk `index` from the copy, reading the copy first if this is the first chunk
    /// (the time that took goes to `read`). `copy_index` is the copy's, made on first use.
    fn extract<'m>(
        &'m self,
        copy_index: &OnceCell<CopyIndex<'m, 'c>>,
        index: usize,
        read: &mut Duration,
    ) -> Result<Vec<u8>, String> {
        let home = self.home;
        let copy = self.module.get_or_init(|| {
            let t = Instant::now();
            let _span = trace::span("read the copy of the home module");
            crash::set_current_work(format!("{}: reading the home module", home.input_name));
            let copy = LazyModule::read(self.context, &home.bitcode);
            *read = t.elapsed();
            copy
        });
        let copy = copy
            .as_ref()
            .map_err(|e| format!("reading the home module: {e}"))?;
        let CopyIndex { ranks, listed } = copy_index.get_or_init(|| CopyIndex {
            ranks: UseRanks::for_copy(copy),
            listed: Listed::new(copy.module()),
        });
        let _span = trace::span(format!("extract chunk {index}"));
        crash::set_current_work(format!("{}: extracting chunk {index}", home.input_name));
        let functions = &listed.functions;
        let no_uses = FunctionUses::default();
        for i in home.recipe.bodies(index) {
            let f = functions[i];
            copy.materialize(f)
                .map_err(|e| format!("reading the home module: {e}"))?;
            ranks.add(f, home.uses.0.get(i).unwrap_or(&no_uses))?;
        }
        let bitcode = home.recipe.extract(listed, ranks, &home.uses, index);
        // Each function belongs to one chunk: its body is not needed again, unless a chunk of
        // the call-graph walk imports it (see `bodies_done_with`). (The copy's ranks
        // keep the entries of the uses dropped with it; should a use of a later chunk get the
        // same address, `add` gives it its own rank before extraction looks it up.)
        for i in home.recipe.bodies_done_with(index) {
            copy.forget(functions[i]);
        }
        Ok(bitcode)
    }
}

/// What a worker keeps of its copy of the home module from chunk to chunk: the copy's use
/// ranks, which grow with each chunk extracted, and its globals.
struct CopyIndex<'m, 'c> {
    ranks: UseRanks<'m>,
    listed: Listed<'m, 'c>,
}

/// A job's chunk as a worker extracted it from its copy (`Copy::take`): whether that worked, its
/// time, the time reading the copy took if this was the worker's first chunk, and the chunk's
/// bitcode again if the home image asks to keep it. A job the calling thread extracted is
/// `Taken::already`.
struct Taken {
    result: Result<(), String>,
    extract: Duration,
    read: Duration,
    input: Option<Vec<u8>>,
}

pub struct Done {
    pub index: usize,
    /// The job's `stage`.
    pub stage: usize,
    /// For a walk: the functions its result declares (what a later stage waits on).
    pub declared: Vec<String>,
    /// For a walk: what the chunks that import from it read (empty if it failed).
    pub exports: Vec<u8>,
    pub result: Result<Vec<u8>, String>,
    /// The chunk's optimization remarks (YAML), when `WorkerConfig::remarks` asks for them.
    pub remarks: Vec<u8>,
    /// Time spent on this chunk (parse, passes, write).
    pub busy: Duration,
    /// Time spent extracting the chunk from this worker's copy of the home module (zero when
    /// the calling thread extracted it), and reading that copy, on the worker's first chunk.
    pub extract: Duration,
    pub read: Duration,
    /// The chunk's bitcode as this worker extracted it, when `HomeImage::keep_chunks` asks.
    pub input: Option<Vec<u8>>,
    /// The result came from the cache.
    pub cached: bool,
    /// The chunk went to the remote executor: its times, or why it ran here after all.
    pub remote: Option<Result<RemoteTimes, String>>,
}

/// What a worker does to a chunk.
#[derive(Clone, Debug)]
pub enum Task {
    /// Run this function pipeline, and send back the optimized chunk's bitcode.
    Optimize(String),
    /// Run this pipeline first, if any, then generate code, and send back an object file.
    Codegen(Option<String>),
}

impl Task {
    /// How `--save-temps` names a chunk's result.
    pub fn temp_suffix(&self) -> &'static str {
        match self {
            Task::Optimize(_) => "opt.bc",
            Task::Codegen(_) => "o",
        }
    }
}

/// What every worker does to a chunk.
#[derive(Clone)]
pub struct WorkerConfig {
    pub task: Task,
    /// Passes run on the chunk before its imports are linked in, on the worker's thread (also
    /// with `--isolate` and a remote executor, which get the chunk with its imports): the walk's
    /// leading function group, which must see its callees as they were before the walk
    /// (`pipeline::before_imports`).
    pub before_imports: Option<String>,
    pub target: TargetOptions,
    /// The triple the target machine is built for (the module's, or `--mtriple`).
    pub triple: String,
    /// Verify each chunk before and after its passes.
    pub verify: bool,
    /// Where a chunk that LLVM fails on is written as a reproducer.
    pub crash_dir: PathBuf,
    /// Run each chunk in a child process of this executable (`--isolate`), which must call
    /// `child_main` when its first argument is `CHILD_ARG`.
    pub isolate: Option<PathBuf>,
    /// The `-O<n>` level (speed, size) whose parameters the pipeline's inliner uses, if any.
    pub inline_level: Option<(u8, u8)>,
    /// Collect the optimization remarks of the passes matching this regex (empty: all).
    pub remarks: Option<String>,
    /// Where chunk results are looked up before the work and stored after it (`--cache-dir`).
    pub cache: Option<std::sync::Arc<Cache>>,
    /// Run chunks on this REAPI server (`--remote-executor`).
    pub remote: Option<std::sync::Arc<Remote>>,
    /// Run a chunk locally when the server fails it (`--remote-fallback`).
    pub remote_fallback: bool,
}

impl WorkerConfig {
    fn pipeline(&self) -> Option<&str> {
        match &self.task {
            Task::Optimize(pipeline) => Some(pipeline),
            Task::Codegen(pipeline) => pipeline.as_deref(),
        }
    }

    /// How to replay this work on a chunk's reproducer with LLVM's own tools.
    fn replay_hint(&self) -> String {
        crash::replay_hint(self.pipeline(), matches!(self.task, Task::Codegen(_)))
    }

    /// What a worker does to a chunk, for messages.
    fn doing(&self) -> String {
        match &self.task {
            Task::Optimize(pipeline) => format!("running '{pipeline}'"),
            Task::Codegen(None) => "generating code".to_string(),
            Task::Codegen(Some(pipeline)) => {
                format!("running '{pipeline}' and generating code")
            }
        }
    }
}

/// Runs jobs from `jobs` until the channel closes, sending one `Done` per job. `admission`
/// decides when this worker may start its next chunk (jobserver tokens, the memory cap).
pub fn work(
    worker: usize,
    configs: &[WorkerConfig],
    admission: &Admission<'_>,
    home: Option<&HomeImage>,
    jobs: Receiver<Job>,
    results: Sender<Done>,
) {
    trace::name_thread(&format!("worker {worker}"));
    // Every stage generates code for the same target. Child processes make their own, but
    // passes that run here before the imports need one too.
    let machine = match (&configs[0].isolate, &configs[0].before_imports) {
        (Some(_), None) => Ok(None),
        _ => llvm::target_machine(&configs[0].target, &configs[0].triple),
    };
    let copy_context = Context::create();
    let copy = home.map(|home| Copy {
        context: &copy_context,
        home,
        module: OnceCell::new(),
    });
    let copy_index = OnceCell::new();
    loop {
        let Some(slot) = admission.slot(worker, || jobs.is_empty()) else {
            return;
        };
        let Ok(mut job) = jobs.recv() else {
            return;
        };
        let config = &configs[job.stage.min(configs.len() - 1)];
        // A later stage's job comes with its bitcode (the earlier stage's result).
        let taken = match &copy {
            Some(copy) if job.stage == 0 => copy.take(&copy_index, &mut job),
            _ => Taken::already(),
        };
        let ticket = admission.admit(job.index, job.bitcode.len());
        let start = Instant::now();
        let span = trace::span(job.description.clone());
        llvm::set_current_names(&job.promoted_names);
        let prepared = taken
            .result
            .and_then(|()| with_imports_and_drops(config, &machine, &mut job));
        let (prepared, mut remarks) = match prepared {
            Ok(remarks) => (Ok(()), remarks),
            Err(e) => (Err(e), Vec::new()),
        };
        let produced = produce(config, &machine, &mut job, prepared);
        let (result, walked) = match produced.result {
            Ok(output) => {
                remarks.extend(output.remarks);
                (Ok(output.bytes), output.walked)
            }
            Err(e) => (Err(llvm::with_own_names(&e)), None),
        };
        drop(span);
        crash::set_current_work("");
        llvm::set_current_names(&[]);
        let (declared, exports) = walked.map_or_else(Default::default, |w| (w.declared, w.exports));
        // Under a memory cap, give the memory of the chunk's context back to the system before
        // the next chunk is admitted: each thread allocates from its own malloc arena, and the
        // cap counts what is resident. Without a cap, the thread's next chunk reuses that
        // memory; trimming after every chunk cost 9-10% of the wall time on sqlite3 at -j2,
        // for a peak 6-10% lower (and 1.34x `opt`'s without it).
        if admission.capped() {
            // SAFETY: malloc_trim only releases free memory of the allocator's arenas.
            unsafe { libc::malloc_trim(0) };
        }
        drop(ticket);
        drop(slot);
        let done = Done {
            index: job.index,
            stage: job.stage,
            declared,
            exports,
            result: result.map_err(|e| format!("{}: {e}", job.description)),
            remarks,
            busy: start.elapsed(),
            extract: taken.extract,
            read: taken.read,
            input: taken.input,
            cached: produced.cached,
            remote: produced.remote,
        };
        if results.send(done).is_err() {
            return;
        }
    }
}

/// The job's bitcode after the passes that come before its imports, with the bodies it
/// imports from its dependencies' results, and without the functions no walk's result refers
/// to any more (`Job::drop_unused`); the remarks of those passes.
fn with_imports_and_drops(
    config: &WorkerConfig,
    machine: &Result<Option<TargetMachine>, String>,
    job: &mut Job,
) -> Result<Vec<u8>, String> {
    let mut remarks = Vec::new();
    if !job.imports.is_empty() || config.before_imports.is_some() {
        (job.bitcode, remarks) = with_imports(config, machine, job)?;
    }
    if !job.drop_unused.is_empty() {
        job.bitcode = without_unused(&job.bitcode, &job.drop_unused, job.index)?;
    }
    Ok(remarks)
}

/// A job's output, and where it came from.
struct Produced {
    result: Result<Output, String>,
    /// From the cache (`--cache-dir`).
    cached: bool,
    /// What the remote executor took, or why it failed, if it was asked to run the job.
    remote: Option<Result<RemoteTimes, String>>,
}

/// The output of a job whose bitcode is `prepared` (extracted, with its imports): from the cache, the remote executor, or
/// computed here; a computed one is stored in the cache.
fn produce(
    config: &WorkerConfig,
    machine: &Result<Option<inkwell::targets::TargetMachine>, String>,
    job: &mut Job,
    prepared: Result<(), String>,
) -> Produced {
    let key = config
        .cache
        .as_ref()
        .map(|_| chunk_key(config, &job.bitcode));
    let hit = key.as_ref().and_then(|key| cached(config, key));
    let cached = hit.is_some();
    let mut remote = None;
    let result = match (prepared, hit, &config.remote) {
        (Err(e), _, _) => Err(e),
        (Ok(()), Some(output), _) => Ok(output),
        (Ok(()), None, Some(server)) => {
            let (result, times) = remotely(server, config, machine, job);
            remote = Some(times);
            result
        }
        (Ok(()), None, None) => compute(config, machine, job),
    };
    if let (Some(cache), Some(key), Ok(output), false) = (&config.cache, &key, &result, cached) {
        cache.put(key, &output.parts(config));
    }
    Produced {
        result,
        cached,
        remote,
    }
}

/// The cache key of a chunk's work: the chunk (with its imports) and everything in the
/// configuration that shapes the result. Not the chunk's index or description, which only name
/// it in messages, so an unchanged chunk hits whatever its place in an edited module.
fn chunk_key(config: &WorkerConfig, bitcode: &[u8]) -> Key {
    KeyBuilder::new("chunk", &llvm::version())
        .field(format!("{:?}", config.task).as_bytes())
        .field(format!("{:?}", config.target).as_bytes())
        .field(config.triple.as_bytes())
        .field(format!("{:?}", config.inline_level).as_bytes())
        .field(format!("{:?}", config.remarks).as_bytes())
        .field(bitcode)
        .finish()
}

/// A chunk's result from the cache: its parts, as `put` stored them (`Output::parts`).
fn cached(config: &WorkerConfig, key: &Key) -> Option<Output> {
    let parts = config.cache.as_ref()?.get(key)?;
    Output::of_parts(config, parts).ok()
}

/// Does a chunk's work on the remote executor, or here when the cluster gives no trustworthy
/// result (always for a damaged result or a failed chunk; for an unreachable cluster only with
/// `--remote-fallback`); with the remote times, or why it ran here.
fn remotely(
    server: &Remote,
    config: &WorkerConfig,
    machine: &Result<Option<inkwell::targets::TargetMachine>, String>,
    job: &mut Job,
) -> (Result<Output, String>, Result<RemoteTimes, String>) {
    let start = std::time::Instant::now();
    // Index 0: the action, and so the server's cache entry, must not depend on where the
    // chunk is in the module.
    let args = child_args(config, 0);
    match server.run(&args, &job.bitcode) {
        Ok((bytes, times)) => {
            trace::record(format!("upload {}", job.description), start, times.upload);
            let rest = times.total.saturating_sub(times.upload);
            let label = match times.cached {
                true => "remote, from the action cache".to_string(),
                false => format!(
                    "remote: queued {} ms, executing {} ms",
                    times.queued.as_millis(),
                    times.executing.as_millis()
                ),
            };
            trace::record(label, start + times.upload, rest);
            (child_output(bytes, config), Ok(times))
        }
        // An unreachable cluster is the user's to know about, unless they allowed a local run.
        Err(RemoteError::Unavailable(e)) if !config.remote_fallback => {
            (Err(format!("remote execution: {e}")), Err(e))
        }
        // A result that failed its digest, or a chunk worker's failure, is computed here: the
        // work is the same, and a failure that is the chunk's own is then reported with its
        // reproducer, as a local one is.
        Err(e) => (compute(config, machine, job), Err(e.message().to_string())),
    }
}

/// Does a chunk's work: in a child process with `--isolate`, else on this thread with a
/// reproducer ready in case LLVM fails.
fn compute(
    config: &WorkerConfig,
    machine: &Result<Option<inkwell::targets::TargetMachine>, String>,
    job: &mut Job,
) -> Result<Output, String> {
    match (&config.isolate, machine) {
        (Some(program), _) => run_in_child(program, config, job),
        (None, Ok(machine)) => {
            let doing = format!("{} {}", job.description, config.doing());
            let bitcode = std::sync::Arc::new(std::mem::take(&mut job.bitcode));
            guarded(
                config,
                job.index,
                doing,
                bitcode.clone(),
                config.replay_hint(),
                || optimize_chunk(config, machine.as_ref(), &bitcode, job.index),
            )
        }
        (None, Err(e)) => Err(e.clone()),
    }
}

/// What a chunk's work gives back: its bitcode or object, and its remarks if asked for.
#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    remarks: Vec<u8>,
    /// For a walk, what the walk's result gives the rest of the walk.
    walked: Option<Walked>,
}

impl Output {
    /// What leaves a child process, or goes into the cache: the bytes, the remarks if
    /// `WorkerConfig::remarks` asks for them, and a walk's exports.
    fn parts(&self, config: &WorkerConfig) -> Vec<&[u8]> {
        let mut parts = vec![&self.bytes[..]];
        if config.remarks.is_some() {
            parts.push(&self.remarks);
        }
        if let Some(walked) = &self.walked {
            parts.push(&walked.exports);
        }
        parts
    }

    fn part_count(config: &WorkerConfig) -> usize {
        1 + usize::from(config.remarks.is_some()) + usize::from(config.inline_level.is_some())
    }

    /// The output whose `parts` are these, for a chunk done with `config`.
    fn of_parts(config: &WorkerConfig, parts: Vec<Vec<u8>>) -> Result<Self, String> {
        if parts.len() != Output::part_count(config) {
            return Err("a chunk's output has the wrong number of parts".to_string());
        }
        let mut parts = parts.into_iter();
        let bytes = parts.next().unwrap_or_default();
        let remarks = match config.remarks {
            Some(_) => parts.next().unwrap_or_default(),
            None => Vec::new(),
        };
        let walked = match parts.next() {
            Some(exports) => Some(Walked::with(&bytes, exports)?),
            None => None,
        };
        Ok(Output {
            bytes,
            remarks,
            walked,
        })
    }
}

fn optimize_chunk(
    config: &WorkerConfig,
    machine: Option<&inkwell::targets::TargetMachine>,
    bitcode: &[u8],
    index: usize,
) -> Result<Output, String> {
    let context = Context::create();
    let ((bytes, walked), remarks) = with_remarks(config, &context, || {
        chunk_work(config, machine, &context, bitcode, index)
    })?;
    Ok(Output {
        bytes,
        remarks,
        walked,
    })
}

/// Runs the pipeline on the chunk in `context`, then writes its bitcode (and, for a walk, what
/// its importers read) or generates its code.
fn chunk_work(
    config: &WorkerConfig,
    machine: Option<&inkwell::targets::TargetMachine>,
    context: &Context,
    bitcode: &[u8],
    index: usize,
) -> Result<(Vec<u8>, Option<Walked>), String> {
    let mut module = llvm::parse(context, bitcode, &format!("chunk{index}"))?;
    llvm::declare_shared_types(&module);
    if let Some(pipeline) = config.pipeline() {
        llvm::run_passes(&mut module, pipeline, machine, config.inline_level)
            .map_err(|e| format!("pipeline '{pipeline}': {e}"))?;
    }
    // Only now is the chunk a valid module (see `llpar_finish_chunk`), so only now is it verified.
    llvm::finish_chunk(&module);
    if config.inline_level.is_some() {
        // A walk's result declares only what it uses, so that the declarations tell which
        // functions of other chunks it still refers to (`Done::declared`).
        llvm::erase_unused_declarations(&mut module);
    }
    if config.verify {
        llvm::verify(&module).map_err(|e| format!("optimized chunk fails the verifier: {e}"))?;
    }
    match &config.task {
        Task::Optimize(_) => {
            let bytes = llvm::write_bitcode(&module);
            let walked = config.inline_level.map(|_| Walked::of(&mut module));
            Ok((bytes, walked))
        }
        Task::Codegen(_) => {
            let machine = machine.ok_or("no target triple to generate code for (use --mtriple)")?;
            let object = llvm::emit(&mut module, machine, true)
                .map_err(|e| format!("code generation: {e}"))?;
            Ok((object, None))
        }
    }
}

/// The first argument that makes an llpar executable a chunk worker (see `child_main`).
pub const CHILD_ARG: &str = "__llpar-chunk-worker";

/// Runs one chunk in a child process: the chunk's bitcode on its standard input, the result on
/// its standard output, an error as one line on its standard error. A crash or fatal error kills
/// only the child; the parent reports it with a reproducer and goes on with the other chunks.
fn run_in_child(program: &Path, config: &WorkerConfig, job: &Job) -> Result<Output, String> {
    let args = child_args(config, job.index);
    let mut child = Command::new(program)
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    // The child reads all its input before it writes anything, so writing first cannot block
    // forever; if it dies early the write fails, and its exit status tells why.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(&job.bitcode);
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("cannot wait for {}: {e}", program.display()))?;
    if output.status.success() {
        return child_output(output.stdout, config);
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let reason = match output.status.signal() {
        Some(signal) => format!(
            "{} (the chunk's process crashed with signal {signal})",
            config.doing()
        ),
        None => {
            let line = stderr
                .lines()
                .find(|l| l.starts_with("llpar: error: "))
                .or_else(|| stderr.lines().rev().find(|l| !l.trim().is_empty()))
                .unwrap_or("failed without a message");
            format!(
                "{}: {}",
                config.doing(),
                line.trim_start_matches("llpar: error: ")
            )
        }
    };
    let path = crash::reproducer_path(&config.crash_dir, job.index);
    let reproducer = crash::save_reproducer(&path, &job.bitcode, &config.replay_hint());
    Err(format!("{reason}{reproducer}"))
}

/// Reads a child's standard output (see `frame_output`).
fn child_output(stdout: Vec<u8>, config: &WorkerConfig) -> Result<Output, String> {
    let mut parts = Vec::new();
    let mut rest = &stdout[..];
    for _ in 1..Output::part_count(config) {
        let framed = rest
            .get(..8)
            .map(|len| u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize)
            .filter(|&len| len <= rest.len() - 8);
        let Some(len) = framed else {
            return Err("the chunk's process wrote a truncated result".to_string());
        };
        parts.push(rest[8..8 + len].to_vec());
        rest = &rest[8 + len..];
    }
    parts.push(rest.to_vec());
    Output::of_parts(config, parts)
}

/// What a chunk worker process is asked to do (see `child_main`).
struct ChildArgs {
    config: WorkerConfig,
    index: usize,
    /// Read the chunk from this file rather than standard input (a remote action's input).
    input: Option<PathBuf>,
    /// Write the result to this file rather than standard output (a remote action's output).
    output: Option<PathBuf>,
}

fn parse_child_args(args: &[String]) -> Result<ChildArgs, String> {
    let mut child = ChildArgs {
        config: WorkerConfig {
            task: Task::Codegen(None),
            // The parent ran them: the child gets the chunk with its imports.
            before_imports: None,
            target: TargetOptions::default(),
            triple: String::new(),
            verify: false,
            crash_dir: std::env::temp_dir(),
            isolate: None,
            inline_level: None,
            remarks: None,
            cache: None,
            remote: None,
            remote_fallback: false,
        },
        index: 0,
        input: None,
        output: None,
    };
    let config = &mut child.config;
    for arg in args {
        let (key, value) = arg.split_once('=').unwrap_or((arg.as_str(), ""));
        match key {
            "index" => child.index = value.parse().unwrap_or(0),
            "input" => child.input = Some(PathBuf::from(value)),
            "output" => child.output = Some(PathBuf::from(value)),
            "triple" => config.triple = value.to_string(),
            "mtriple" => config.target.triple = Some(value.to_string()),
            "cpu" => config.target.cpu = value.to_string(),
            "features" => config.target.features = value.to_string(),
            "reloc" => {
                config.target.reloc = match value {
                    "static" => RelocModel::Static,
                    "dynamic-no-pic" => RelocModel::DynamicNoPic,
                    _ => RelocModel::Pic,
                }
            }
            "level" => config.target.codegen_level = value.parse().unwrap_or(2),
            "verify" => config.verify = value == "1",
            "inline" => {
                config.inline_level = value
                    .split_once(',')
                    .and_then(|(speed, size)| Some((speed.parse().ok()?, size.parse().ok()?)))
            }
            "remarks" => config.remarks = Some(value.to_string()),
            "optimize" => config.task = Task::Optimize(value.to_string()),
            "codegen" if arg.contains('=') => config.task = Task::Codegen(Some(value.to_string())),
            "codegen" => config.task = Task::Codegen(None),
            _ => return Err(format!("unknown argument '{arg}'")),
        }
    }
    Ok(child)
}

/// The arguments that make a chunk worker process do `config`'s work on chunk `index`.
pub fn child_args(config: &WorkerConfig, index: usize) -> Vec<String> {
    let reloc = match config.target.reloc {
        RelocModel::Pic => "pic",
        RelocModel::Static => "static",
        RelocModel::DynamicNoPic => "dynamic-no-pic",
    };
    let mut args = vec![
        CHILD_ARG.to_string(),
        format!("index={index}"),
        format!("triple={}", config.triple),
        format!("cpu={}", config.target.cpu),
        format!("features={}", config.target.features),
        format!("reloc={reloc}"),
        format!("level={}", config.target.codegen_level),
        // A chunk in a process of its own is there to be checked: always verify.
        "verify=1".to_string(),
    ];
    if let Some(triple) = &config.target.triple {
        args.push(format!("mtriple={triple}"));
    }
    if let Some((speed, size)) = config.inline_level {
        args.push(format!("inline={speed},{size}"));
    }
    if let Some(filter) = &config.remarks {
        args.push(format!("remarks={filter}"));
    }
    match &config.task {
        Task::Optimize(p) => args.push(format!("optimize={p}")),
        Task::Codegen(Some(p)) => args.push(format!("codegen={p}")),
        Task::Codegen(None) => args.push("codegen".to_string()),
    }
    args
}

/// The child side of `--isolate` and of remote actions: `args` are the arguments after
/// `CHILD_ARG`. Returns the exit status: 0 with the result written, 1 with one error line on
/// standard error, 2 for arguments it does not know.
pub fn child_main(args: &[String]) -> i32 {
    llvm::initialize();
    let child = match parse_child_args(args) {
        Ok(child) => child,
        Err(e) => {
            note!("llpar: error: chunk worker: {e}");
            return 2;
        }
    };
    let bitcode = match &child.input {
        Some(path) => std::fs::read(path),
        None => {
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map(|_| bytes)
        }
    };
    let bitcode = match bitcode {
        Ok(bitcode) => bitcode,
        Err(e) => {
            note!("llpar: error: chunk worker: cannot read the chunk: {e}");
            return 1;
        }
    };
    let config = &child.config;
    let result = llvm::target_machine(&config.target, &config.triple)
        .and_then(|machine| optimize_chunk(config, machine.as_ref(), &bitcode, child.index));
    match result {
        Ok(output) => {
            let bytes = frame_output(&output, config);
            let written = match &child.output {
                Some(path) => std::fs::write(path, &bytes),
                None => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(&bytes).and_then(|_| out.flush())
                }
            };
            match written {
                Ok(()) => 0,
                Err(e) => {
                    note!("llpar: error: chunk worker: cannot write the result: {e}");
                    1
                }
            }
        }
        Err(e) => {
            note!("llpar: error: {e}");
            1
        }
    }
}

/// A chunk worker's output as it leaves the process: its parts (`Output::parts`), each but the
/// last after its length (8 bytes, little-endian); a result alone is just its bytes.
fn frame_output(output: &Output, config: &WorkerConfig) -> Vec<u8> {
    let parts = output.parts(config);
    let mut framed = Vec::new();
    for part in &parts[..parts.len() - 1] {
        framed.extend_from_slice(&(part.len() as u64).to_le_bytes());
        framed.extend_from_slice(part);
    }
    framed.extend_from_slice(parts[parts.len() - 1]);
    framed
}
