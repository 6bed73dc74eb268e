//! The parallel phases shared by optimization and code generation: extract chunks on the
//! calling thread and hand them to workers while the workers optimize or compile them, then hand
//! every result, strictly in chunk order, to the caller. `process_chunks` hands independent
//! chunks out largest first; `process_dag` (the call-graph walk) hands a chunk out once the
//! chunks it depends on are done, with their results to import from.
//!
//! Architecture invariant: all parallelism goes through these two, and both collect every
//! result before reporting the first error in chunk order (`InOrder`), so the error reported is
//! deterministic.
use crate::admission::Admission;
use crate::crash;
use crate::error::{Error, Result};
use crate::llvm::{self, UseTable};
use crate::options::Options;
use crate::plan::Chunk;
use crate::split::{ChunkModule, Listed, Recipe, Split};
use crate::stats::{self, Copies, ParallelPhase, Stats};
use crate::trace;
use crate::worker::{self, Done, HomeImage, Job, WorkerConfig};
use inkwell::module::Module;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// Runs `config.task` on every chunk of `split` of `module`. Once every chunk is extracted and the
/// home module's chunked bodies are gone (while the workers still work), `after_extraction` runs
/// on the calling thread with the module, and returns what receives each chunk's result, in chunk
/// order (it may keep the module borrowed, as a merge into it does).
#[allow(clippy::too_many_arguments)]
pub fn process_chunks<'m, 'c, A>(
    split: &mut Split<'c>,
    module: &'m mut Module<'c>,
    config: &WorkerConfig,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
    after_extraction: impl FnOnce(&'m mut Module<'c>) -> std::result::Result<A, String>,
) -> Result<()>
where
    A: FnMut(usize, Vec<u8>) -> std::result::Result<(), String>,
{
    record_chunks(split, stats);
    let n = split.chunks.len();
    let start = Instant::now();
    let threads = options.threads.max(1).min(n);
    let mut phase = Phase::new(stats, n, options);
    phase.copies = workers_extract(options);
    let home = phase
        .copies
        .then(|| phase.home_image(split, module, input_name));
    // Bounded so that extracted chunks waiting for a worker do not pile up in memory; jobs
    // that the workers extract themselves cost nothing to queue.
    let (job_tx, job_rx) = match home {
        Some(_) => crossbeam_channel::unbounded::<Job>(),
        None => crossbeam_channel::bounded::<Job>(threads * 2),
    };
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    let admission = admission_for(options);
    let mut merge = InOrder::new(n, config.task.temp_suffix());
    let mut failed_chunks: Vec<usize> = Vec::new();
    std::thread::scope(|scope| {
        for w in 0..threads {
            let (jobs, done, admission) = (job_rx.clone(), done_tx.clone(), &admission);
            let home = home.as_ref();
            let config = std::slice::from_ref(config);
            scope.spawn(move || worker::work(w, config, admission, home, jobs, done));
        }
        drop((done_tx, job_rx));
        let extract_here = home.is_none();
        if let Err(e) = dispatch(&mut phase, split, module, extract_here, input_name, job_tx) {
            merge.fail(e);
        }
        admission.dispatch_done();
        merge.start(&mut phase, || {
            let _span = trace::span("remove chunked bodies, home module work");
            split.remove_chunked_bodies(module);
            after_extraction(module)
        });
        let mut finished = 0;
        loop {
            let mut done = match done_rx.recv_timeout(Duration::from_millis(250)) {
                Ok(done) => done,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    show_progress(options, &admission, &phase.labels, finished, n);
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            finished += 1;
            show_progress(options, &admission, &phase.labels, finished, n);
            phase.worked(stats, &mut done);
            if done.result.is_err() {
                failed_chunks.push(done.index);
            }
            merge.offer(&mut phase, done.index, done.result);
        }
    });
    if options.progress {
        let _ = std::io::stderr().write_all(b"\r\x1b[K");
    }
    phase.record(split, stats, &admission, start, Vec::new());
    match merge.first_error {
        Some(e) if options.isolate.is_some() && !failed_chunks.is_empty() => {
            Err(isolated_failures(e, failed_chunks, n))
        }
        Some(e) => Err(Error::failure(e)),
        None => Ok(()),
    }
}

/// Whether the workers extract their chunks from copies of the home module, read lazily, each
/// worker its own (`HomeImage`), instead of the calling thread extracting every chunk: one
/// thread cannot extract as fast as many workers optimize. Not under a memory cap: a chunk's
/// expected memory comes from its bitcode, which a worker would only know after extracting it
/// from a copy whose size is not known before it is read. Either way a chunk's bytes are the
/// same.
fn workers_extract(options: &Options) -> bool {
    options.max_memory.is_none()
}

/// Hands every chunk of `split` to the workers, largest first (so that the last ones to finish
/// are small): extracted from `module` here if `extract_here`, else as a description that a
/// worker extracts from its copy. Stops at the first extraction that fails, or once no worker
/// is left to take a job.
fn dispatch<'c>(
    phase: &mut Phase,
    split: &Split<'c>,
    module: &Module<'c>,
    extract_here: bool,
    input_name: &str,
    jobs: crossbeam_channel::Sender<Job>,
) -> std::result::Result<(), String> {
    let mut order: Vec<usize> = (0..split.chunks.len()).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(split.chunks[i].cost), i));
    phase.order.clone_from(&order);
    let here = extract_here.then(|| {
        let (ranks, uses) = (llvm::UseRanks::new(module), llvm::UseTable::new(module));
        (split.recipe(), Listed::new(module), ranks, uses)
    });
    for index in order {
        let job = match &here {
            Some((recipe, home, ranks, uses)) => {
                phase.extract(split, (recipe, home, ranks, uses), index, input_name)?
            }
            None => phase.describe(split, index, input_name),
        };
        if jobs.send(job).is_err() {
            break;
        }
    }
    Ok(())
}

/// The chunk count and the largest chunk, for `--stats`.
fn record_chunks(split: &Split, stats: &mut Stats) {
    stats.chunks = stats.chunks.max(split.chunks.len());
    stats.total_cost = split.chunks.iter().map(|c| c.cost).sum();
    let largest = split
        .chunks
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (c.cost, std::cmp::Reverse(*i)));
    if let Some((i, c)) = largest {
        if c.cost >= stats.largest_chunk_cost {
            stats.largest_chunk_cost = c.cost;
            let names = split.chunk_function_names(i);
            stats.largest_chunk = format!(
                "chunk {i}: {} functions, first {}",
                names.len(),
                names.first().cloned().unwrap_or_default()
            );
        }
    }
}

/// With --isolate every chunk ran to its end whatever the others did: the first error, how many
/// chunks failed, and that the rest passed the verifier (isolated chunks always verify).
fn isolated_failures(first: String, mut failed: Vec<usize>, total: usize) -> Error {
    failed.sort_unstable();
    let others: Vec<String> = failed[1..].iter().map(|i| i.to_string()).collect();
    let also = if others.is_empty() {
        String::new()
    } else {
        format!("; chunks {} failed too", others.join(", "))
    };
    Error::failure(format!(
        "{first}{also}; the other {} of {total} chunks were optimized and passed the verifier",
        total - failed.len()
    ))
}

/// Writes `bytes` as `name` in the `--save-temps` directory `dir`.
fn save_temp(dir: &std::path::Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir)
        .and_then(|_| std::fs::write(dir.join(name), bytes))
        .map_err(|e| Error::failure(format!("{}: cannot write: {e}", dir.join(name).display())))
}

/// The `--save-temps` file of chunk `index` in the `phase`-th parallel phase of the run (a
/// pipeline may have several, each with its own chunks): `phase1.chunk3.opt.bc`.
fn temp_name(phase: usize, index: usize, suffix: &str) -> String {
    format!("phase{phase}.chunk{index}.{suffix}")
}

/// What the calling thread keeps of one parallel phase: its own time (extracting chunks, then
/// merging results), each chunk's description and time, for `--stats` and the progress display.
struct Phase<'o> {
    /// Which parallel phase of the run this is (names the `--save-temps` files).
    number: usize,
    save_temps: Option<&'o std::path::Path>,
    extract_time: Duration,
    serial_time: Duration,
    /// A short name per chunk for the progress display: its index and largest function.
    labels: Vec<String>,
    chunk_times: Vec<(String, Duration)>,
    /// Per chunk, the time its extraction took (on the calling thread, or in a worker).
    extract_times: Vec<Duration>,
    /// Whether the workers extract the chunks from copies of the home module (`HomeImage`),
    /// what writing the home module took, and what each worker's reading of its copy took.
    copies: bool,
    write_time: Duration,
    read_times: Vec<Duration>,
    /// The order in which the chunks were handed out.
    order: Vec<usize>,
    /// Each chunk's optimization remarks, kept to be written in chunk order.
    remarks: Vec<Vec<u8>>,
}

impl<'o> Phase<'o> {
    fn new(stats: &Stats, n: usize, options: &'o Options) -> Self {
        Phase {
            number: stats.parallel_phases.len(),
            save_temps: options.save_temps.as_deref(),
            extract_time: Duration::ZERO,
            serial_time: Duration::ZERO,
            labels: vec![String::new(); n],
            chunk_times: vec![(String::new(), Duration::ZERO); n],
            extract_times: vec![Duration::ZERO; n],
            copies: false,
            write_time: Duration::ZERO,
            read_times: Vec::new(),
            order: Vec::new(),
            remarks: vec![Vec::new(); n],
        }
    }

    /// Extracts chunk `index` of `home` by its recipe (with the home module's use ranks and
    /// table), as a job for the workers (kept under `--save-temps`).
    fn extract<'m, 'c>(
        &mut self,
        split: &Split<'c>,
        (recipe, home, ranks, uses): (&Recipe, &Listed<'m, 'c>, &llvm::UseRanks<'m>, &UseTable),
        index: usize,
        input_name: &str,
    ) -> std::result::Result<Job, String> {
        let t = Instant::now();
        let span = trace::span(format!("extract chunk {index}"));
        crash::set_current_work(format!("{input_name}: extracting chunk {index}"));
        let chunk = split.extract(recipe, home, ranks, uses, index);
        drop(span);
        self.extract_times[index] = t.elapsed();
        self.extract_time += t.elapsed();
        self.save(index, "bc", &chunk.bitcode)?;
        Ok(self.job(index, chunk, input_name))
    }

    /// Chunk `index` as a job without bitcode, for a worker that extracts it from its copy of
    /// the home module.
    fn describe(&mut self, split: &Split, index: usize, input_name: &str) -> Job {
        let chunk = split.chunk_info(index);
        self.job(index, chunk, input_name)
    }

    fn job(&mut self, index: usize, chunk: ChunkModule, input_name: &str) -> Job {
        let (largest, cost) = &chunk.largest_function;
        self.labels[index] = format!("chunk {index} with {largest}");
        self.chunk_times[index].0 = format!(
            "{}, its largest function {largest} ({cost} instructions)",
            chunk.description
        );
        Job {
            index,
            bitcode: chunk.bitcode,
            description: format!("{input_name}: {}", chunk.description),
            promoted_names: chunk.promoted_names,
            imports: Vec::new(),
            stage: 0,
            drop_unused: Vec::new(),
        }
    }

    /// The home module in bitcode with what extracting from copies of it takes, for workers
    /// that extract their chunks themselves (timed as the calling thread's extraction work).
    fn home_image(&mut self, split: &Split, home: &Module, input_name: &str) -> HomeImage {
        let t = Instant::now();
        let span = trace::span("write the home module for the workers");
        let image = HomeImage {
            bitcode: llvm::write_bitcode(home),
            recipe: split.recipe(),
            uses: llvm::UseTable::new(home),
            input_name: input_name.to_string(),
            keep_chunks: self.save_temps.is_some(),
        };
        drop(span);
        self.write_time = t.elapsed();
        image
    }

    /// Gives the later stages' jobs of chunk `c` (of `n`) their names, after the first's.
    fn name_stages(&mut self, c: usize, n: usize, stages: usize) {
        for stage in 1..stages {
            self.labels[c + stage * n] = format!("code generation of {}", self.labels[c]);
            self.chunk_times[c + stage * n].0 =
                format!("code generation of {}", self.chunk_times[c].0);
        }
    }

    /// Keeps a chunk's input or result under `--save-temps`.
    fn save(&self, index: usize, suffix: &str, bytes: &[u8]) -> std::result::Result<(), String> {
        match self.save_temps {
            Some(dir) => {
                save_temp(dir, &temp_name(self.number, index, suffix), bytes).map_err(|e| e.message)
            }
            None => Ok(()),
        }
    }

    /// A worker finished a chunk.
    fn worked(&mut self, stats: &mut Stats, done: &mut Done) {
        stats.worker_busy += done.busy + done.extract + done.read;
        if self.copies {
            self.extract_times[done.index] = done.extract;
        }
        if !done.read.is_zero() {
            self.read_times.push(done.read);
        }
        if let (Some(input), Ok(_)) = (done.input.take(), &done.result) {
            if let Err(e) = self.save(done.index, "bc", &input) {
                done.result = Err(e);
            }
        }
        stats.cached_chunks += usize::from(done.cached);
        if let (Some(outcome), Ok(_)) = (&done.remote, &done.result) {
            stats.remote.add(outcome);
        }
        self.chunk_times[done.index].1 = done.busy;
        self.remarks[done.index] = std::mem::take(&mut done.remarks);
    }

    /// Adds the phase to `stats`: its times, and its chunks' for the scaling prediction; and
    /// its chunks' remarks, in chunk order, naming promoted symbols by their own names.
    fn record(
        self,
        split: &Split,
        stats: &mut Stats,
        admission: &Admission,
        start: Instant,
        deps: Vec<Vec<usize>>,
    ) {
        let wall = start.elapsed();
        let main_thread = self.extract_time + self.write_time + self.serial_time;
        stats.most_chunks_at_once = stats.most_chunks_at_once.max(admission.most_running());
        stats.add("split", self.extract_time + self.write_time);
        stats.add("merge", self.serial_time);
        stats.add("parallel passes", wall.saturating_sub(main_thread));
        stats.parallel_wall += wall;
        stats
            .remarks
            .extend(split.restore.with_own_names(&self.remarks.concat()));
        stats.parallel_phases.push(ParallelPhase {
            chunks: self.chunk_times,
            main_thread: self.serial_time,
            wall,
            deps,
            extract: self.extract_times,
            order: self.order,
            copies: self.copies.then_some(Copies {
                write: self.write_time,
                read: self.read_times,
            }),
        });
    }
}

/// Hands chunk results to the merge strictly in chunk order, as they become ready; after the
/// first error it keeps collecting results but accepts no more, so the error reported is the
/// first in chunk order whatever the timing.
struct InOrder<A> {
    results: Vec<Option<std::result::Result<Vec<u8>, String>>>,
    next: usize,
    accept: Option<A>,
    suffix: &'static str,
    first_error: Option<String>,
}

impl<A: FnMut(usize, Vec<u8>) -> std::result::Result<(), String>> InOrder<A> {
    fn new(n: usize, suffix: &'static str) -> Self {
        InOrder {
            results: (0..n).map(|_| None).collect(),
            next: 0,
            accept: None,
            suffix,
            first_error: None,
        }
    }

    fn fail(&mut self, error: String) {
        self.first_error.get_or_insert(error);
    }

    /// Makes the receiver of results with `make` (the home module's work after extraction),
    /// unless an error came first; its time counts as the calling thread's.
    fn start(&mut self, phase: &mut Phase, make: impl FnOnce() -> std::result::Result<A, String>) {
        let t = Instant::now();
        if self.first_error.is_none() {
            match make() {
                Ok(a) => self.accept = Some(a),
                Err(e) => self.fail(e),
            }
        }
        phase.serial_time += t.elapsed();
    }

    /// Takes chunk `index`'s result and accepts every result now ready in order. Returns the
    /// chunks accepted by this call.
    fn offer(
        &mut self,
        phase: &mut Phase,
        index: usize,
        result: std::result::Result<Vec<u8>, String>,
    ) -> std::ops::Range<usize> {
        self.results[index] = Some(result);
        let first = self.next;
        while self.first_error.is_none() && self.next < self.results.len() {
            let Some(result) = self.results[self.next].take() else {
                break;
            };
            let t = Instant::now();
            let _span = trace::span(format!("accept chunk {}", self.next));
            let accepted = result
                .and_then(|bytes| phase.save(self.next, self.suffix, &bytes).map(|_| bytes))
                .and_then(|bytes| match self.accept.as_mut() {
                    Some(accept) => accept(self.next, bytes),
                    None => Ok(()),
                });
            phase.serial_time += t.elapsed();
            match accepted {
                Ok(()) => self.next += 1,
                Err(e) => self.fail(e),
            }
        }
        first..self.next
    }

    /// Whether a result arrived that was never accepted although no error stopped the merge.
    fn left_unmerged(&self) -> bool {
        self.first_error.is_none() && self.results.iter().any(|r| r.is_some())
    }
}

/// When workers may start chunks: the jobserver's tokens, and the memory cap, which leaves to
/// the chunks what the process does not already hold.
fn admission_for(options: &Options) -> Admission<'_> {
    let memory_budget = options
        .max_memory
        .map(|cap| cap.saturating_sub(crate::admission::resident_bytes()));
    Admission::new(options.jobserver.as_deref(), memory_budget)
}

/// One line on stderr, rewritten in place: chunks done, and the chunk running longest.
fn show_progress(
    options: &Options,
    admission: &Admission,
    labels: &[String],
    finished: usize,
    total: usize,
) {
    if !options.progress {
        return;
    }
    let slowest = admission.slowest_running().map_or(String::new(), |(c, d)| {
        format!(
            "; slowest running: {} ({:.1} s)",
            labels[c],
            d.as_secs_f64()
        )
    });
    let _ = write!(
        std::io::stderr(),
        "\r\x1b[Kllpar: {finished}/{total} chunks done{slowest}"
    );
}

/// Runs `configs[0].task` on every chunk of `split` as their dependencies allow: chunk `c` starts
/// once every chunk in `deps[c].0` is done, and imports from their results the functions
/// `deps[c].1` names for each. Every chunk is extracted from `module` as it was before any
/// result came back, so a chunk's input depends on its dependencies' results alone, never on
/// timing. With a second configuration, each chunk's result goes on to it as a job of its own
/// (code generation after the walk) and that job's result is the chunk's. Results go to what
/// `after_extraction` returns, strictly in chunk order. A failed chunk stops the chunks that
/// depend on it; the others still run, and the first error in chunk order is reported.
#[allow(clippy::too_many_arguments)]
pub fn process_dag<'m, 'c, A>(
    split: &mut Split<'c>,
    module: &'m mut Module<'c>,
    deps: &[(Vec<usize>, Vec<Vec<String>>)],
    configs: &[WorkerConfig],
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
    after_extraction: impl FnOnce(&'m mut Module<'c>) -> std::result::Result<A, String>,
) -> Result<()>
where
    A: FnMut(usize, Vec<u8>) -> std::result::Result<(), String>,
{
    record_chunks(split, stats);
    let n = split.chunks.len();
    let stages = configs.len();
    let start = Instant::now();
    let threads = options.threads.max(1).min(n.max(1));
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    let admission = admission_for(options);
    let mut phase = Phase::new(stats, n * stages, options);
    phase.copies = workers_extract(options);
    let home = phase
        .copies
        .then(|| phase.home_image(split, module, input_name));
    let later = Later::new(split, stages);
    let all_deps = later.all_deps(deps, stages);
    let weights: Vec<u64> = (0..stages)
        .flat_map(|_| split.chunks.iter().map(|c| c.cost))
        .collect();
    phase.order = stats::critical_path_order(&weights, &all_deps);
    let rank = stats::places(&phase.order);
    let mut scheduler = WalkScheduler {
        jobs: Some(job_tx),
        in_flight: 0,
        workers: threads,
        ready: Default::default(),
        rank,
        graph: Ready::new(deps),
        merge: InOrder::new(n, configs[stages - 1].task.temp_suffix()),
        names: Vec::new(),
        later,
        stages,
    };
    std::thread::scope(|scope| {
        for w in 0..threads {
            let (jobs, done, admission) = (job_rx.clone(), done_tx.clone(), &admission);
            let home = home.as_ref();
            scope.spawn(move || worker::work(w, configs, admission, home, jobs, done));
        }
        drop((done_tx, job_rx));
        // Every chunk is extracted from the module as it is before the walk: here, or by the
        // workers from their copies of it, written before the walk too.
        let here = home.is_none().then(|| {
            let (ranks, uses) = (llvm::UseRanks::new(module), llvm::UseTable::new(module));
            (split.recipe(), Listed::new(module), ranks, uses)
        });
        // Extracting here, this thread hears of no finished job until every chunk is
        // extracted: until then every ready job goes out at once, in chunk order.
        if here.is_some() {
            scheduler.workers = usize::MAX;
        }
        for c in 0..n {
            let job = match &here {
                Some((recipe, home, ranks, uses)) => {
                    phase.extract(split, (recipe, home, ranks, uses), c, input_name)
                }
                None => Ok(phase.describe(split, c, input_name)),
            };
            phase.name_stages(c, n, stages);
            scheduler.extracted(c, job);
        }
        drop(here);
        scheduler.workers = threads;
        scheduler.merge.start(&mut phase, || {
            split.remove_bodies(module, 0..n);
            after_extraction(module)
        });
        while scheduler.in_flight > 0 {
            let Ok(done) = done_rx.recv() else { break };
            scheduler.in_flight -= 1;
            scheduler.done(&mut phase, stats, done, &split.chunks);
            scheduler.send([]);
        }
        // Workers stop once no more jobs can come.
        scheduler.jobs = None;
        admission.dispatch_done();
    });
    if scheduler.merge.left_unmerged() {
        scheduler.merge.fail(format!(
            "{input_name}: internal error: a chunk's result was not merged"
        ));
    }
    phase.record(split, stats, &admission, start, all_deps);
    match scheduler.merge.first_error {
        Some(e) => Err(Error::failure(e)),
        None => Ok(()),
    }
}

/// The scheduler of chunks along the call graph, on the calling thread: hands out the jobs
/// whose dependencies are done, then each walked chunk's later stages, and merges the last
/// stage's results in chunk order.
struct WalkScheduler<'d, A> {
    /// Where jobs go to the workers; `None` once none can come any more.
    jobs: Option<crossbeam_channel::Sender<Job>>,
    /// Jobs sent and not yet done: at most one per worker, so that the job sent next is the
    /// one preferred when a worker is free, not when the job became ready.
    in_flight: usize,
    /// The most jobs in flight: the workers (unlimited while the calling thread extracts).
    workers: usize,
    /// Jobs ready to start, by their place in the handout order (`stats::critical_path_order`).
    ready: std::collections::BTreeMap<usize, Job>,
    /// Per job (`c + stage * n`), its place in the handout order.
    rank: Vec<usize>,
    graph: Ready<'d>,
    merge: InOrder<A>,
    /// Per chunk, its description and promoted names, for its later stages' jobs.
    names: Vec<(String, Vec<(String, String)>)>,
    later: Later,
    stages: usize,
}

impl<A: FnMut(usize, Vec<u8>) -> std::result::Result<(), String>> WalkScheduler<'_, A> {
    /// Queues `jobs`, ready to start, and hands out the preferred ready jobs to free workers.
    fn send(&mut self, jobs: impl IntoIterator<Item = Job>) {
        let chunks = self.rank.len() / self.stages;
        for job in jobs {
            let place = self.rank[job.index + job.stage * chunks];
            self.ready.insert(place, job);
        }
        let Some(sender) = &self.jobs else { return };
        while self.in_flight < self.workers {
            let Some((_, job)) = self.ready.pop_first() else {
                break;
            };
            let _ = sender.send(job);
            self.in_flight += 1;
        }
    }

    /// Chunk `c` is extracted (or described, for a worker to extract): it starts now if it
    /// waits for no other chunk, else once they are done.
    fn extracted(&mut self, c: usize, job: std::result::Result<Job, String>) {
        match job {
            Ok(job) => {
                self.names
                    .push((job.description.clone(), job.promoted_names.clone()));
                if self.graph.waiting[c] == 0 && self.merge.first_error.is_none() {
                    let job = self.graph.with_imports(c, job);
                    self.send([job]);
                } else {
                    self.graph.jobs[c] = Some(job);
                }
            }
            Err(e) => {
                self.names.push(Default::default());
                self.merge.fail(e);
            }
        }
    }

    /// A worker finished a stage of a chunk: a walk lets the chunks waiting for it start, and
    /// the chunk's next stage when the walks it waits for are done; the last stage is merged.
    fn done(&mut self, phase: &mut Phase, stats: &mut Stats, mut done: Done, chunks: &[Chunk]) {
        let n = chunks.len();
        let (c, stage) = (done.index, done.stage);
        done.index = c + stage * n;
        phase.worked(stats, &mut done);
        if stage == 0 && done.result.is_ok() {
            let ready = self.graph.finished(c, std::mem::take(&mut done.exports));
            self.send(ready);
        }
        if stage + 1 == self.stages {
            for c in self.merge.offer(phase, c, done.result) {
                self.graph.merged(c);
            }
            return;
        }
        let bytes = match done.result {
            Ok(bytes) => bytes,
            Err(e) => {
                self.merge.offer(phase, c, Err(e));
                return;
            }
        };
        if let Err(e) = phase.save(c, "opt.bc", &bytes) {
            self.merge.fail(e);
        }
        let (description, promoted_names) = self.names[c].clone();
        let job = Job {
            index: c,
            bitcode: bytes,
            description,
            promoted_names,
            imports: Vec::new(),
            stage: stage + 1,
            drop_unused: Vec::new(),
        };
        let ready = self.later.walked(job, std::mem::take(&mut done.declared));
        self.send(ready);
    }
}

/// The code generation jobs that follow the walk. A chunk holding functions only for other
/// chunks (`Split::walk_droppable`) waits until the chunks whose results could still refer to
/// them are walked, then drops those that none of the results refers to (and that it does not
/// use itself), as `opt` finds them dead after its walk; the others start as soon as their own
/// walk is done. Results outside those chunks never name them, so the drop does not depend on
/// which other walks happen to be done.
struct Later {
    droppable: Vec<(Vec<String>, Vec<usize>)>,
    /// Per chunk, the chunks waiting for its walk.
    waited_by: Vec<Vec<usize>>,
    /// Per chunk, the walks it waits for, its own included, that are not done.
    waiting_for: Vec<usize>,
    referenced: std::collections::HashSet<String>,
    jobs: Vec<Option<Job>>,
}

impl Later {
    fn new(split: &Split, stages: usize) -> Self {
        let n = split.chunks.len();
        let droppable = match stages {
            1 => vec![Default::default(); n],
            _ => split.walk_droppable(),
        };
        let mut waited_by = vec![Vec::new(); n];
        let mut waiting_for = vec![1; n];
        for (c, (names, chunks)) in droppable.iter().enumerate() {
            if names.is_empty() {
                continue;
            }
            for &x in chunks.iter().filter(|&&x| x != c) {
                waited_by[x].push(c);
                waiting_for[c] += 1;
            }
        }
        Later {
            droppable,
            waited_by,
            waiting_for,
            referenced: Default::default(),
            jobs: (0..n).map(|_| None).collect(),
        }
    }

    /// The walks chunk `c`'s next stage waits for (its own included).
    fn waits_for(&self, c: usize) -> Vec<usize> {
        let mut all: Vec<usize> = match self.droppable.get(c) {
            Some((names, chunks)) if !names.is_empty() => chunks.clone(),
            _ => Vec::new(),
        };
        all.push(c);
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Per job (`stages` per chunk, stage by stage), the jobs it waits for: a walk its
    /// dependencies' walks (`deps`), a later stage the walks `waits_for` names.
    fn all_deps(&self, deps: &[(Vec<usize>, Vec<Vec<String>>)], stages: usize) -> Vec<Vec<usize>> {
        let n = deps.len();
        let mut all: Vec<Vec<usize>> = deps.iter().map(|(d, _)| d.clone()).collect();
        for stage in 1..stages {
            all.extend((0..n).map(|c| {
                let walks = self.waits_for(c);
                walks.into_iter().map(|x| x + (stage - 1) * n).collect()
            }));
        }
        all
    }

    /// A chunk's walk is done: `job` is its next stage's, `declared` what its result refers to.
    /// Returns the jobs that can start now.
    fn walked(&mut self, job: Job, declared: Vec<String>) -> Vec<Job> {
        self.referenced.extend(declared);
        let c = job.index;
        self.jobs[c] = Some(job);
        let mut ready = Vec::new();
        for x in std::iter::once(c).chain(self.waited_by[c].clone()) {
            self.waiting_for[x] -= 1;
            if self.waiting_for[x] > 0 {
                continue;
            }
            let Some(mut job) = self.jobs[x].take() else {
                continue;
            };
            job.drop_unused = self.droppable[x]
                .0
                .iter()
                .filter(|name| !self.referenced.contains(*name))
                .cloned()
                .collect();
            ready.push(job);
        }
        ready
    }
}

/// The dependencies between chunks as the DAG scheduler tracks them: which chunks wait, how
/// many of their dependencies are not done, and the done chunks' results they import from.
struct Ready<'d> {
    deps: &'d [(Vec<usize>, Vec<Vec<String>>)],
    dependents: Vec<Vec<usize>>,
    waiting: Vec<usize>,
    /// Extracted chunks not yet handed out.
    jobs: Vec<Option<Job>>,
    outputs: Vec<Option<std::sync::Arc<Vec<u8>>>>,
}

impl<'d> Ready<'d> {
    fn new(deps: &'d [(Vec<usize>, Vec<Vec<String>>)]) -> Self {
        let n = deps.len();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (c, (ds, _)) in deps.iter().enumerate() {
            for &d in ds {
                dependents[d].push(c);
            }
        }
        Ready {
            deps,
            dependents,
            waiting: deps.iter().map(|(d, _)| d.len()).collect(),
            jobs: (0..n).map(|_| None).collect(),
            outputs: vec![None; n],
        }
    }

    /// Chunk `c`'s job with what it imports from its dependencies' results.
    fn with_imports(&self, c: usize, job: Job) -> Job {
        let imports = self.deps[c]
            .0
            .iter()
            .zip(&self.deps[c].1)
            .filter_map(|(&d, names)| Some((self.outputs[d].clone()?, names.clone())))
            .collect();
        Job { imports, ..job }
    }

    /// Chunk `done` succeeded, and `exports` is what its dependents import from (see
    /// `Done::exports`): returns the jobs of the chunks it was the last dependency of.
    fn finished(&mut self, done: usize, exports: Vec<u8>) -> Vec<Job> {
        self.outputs[done] = Some(std::sync::Arc::new(exports));
        let mut jobs = Vec::new();
        for &c in &self.dependents[done] {
            self.waiting[c] -= 1;
            if self.waiting[c] == 0 {
                if let Some(job) = self.jobs[c].take() {
                    jobs.push(self.with_imports(c, job));
                }
            }
        }
        jobs
    }

    /// Frees a merged chunk's result once no chunk waiting to start needs it any more.
    fn merged(&mut self, chunk: usize) {
        if self.dependents[chunk].iter().all(|&c| self.waiting[c] == 0) {
            self.outputs[chunk] = None;
        }
    }
}
