//! The parallel phase shared by optimization and code generation: extract chunks on the calling
//! thread and hand them to workers, largest first, while the workers optimize or compile them;
//! then hand every result, strictly in chunk order, to the caller.
//!
//! Architecture invariant: all parallelism goes through `process_chunks`. It collects every
//! result before reporting the first error in chunk order, so the error reported is deterministic.
use crate::admission::Admission;
use crate::engine::{save_temp, Options, ParallelPhase, Stats};
use crate::error::{Error, Result};
use crate::llvm;
use crate::split::Split;
use crate::trace;
use crate::worker::{self, Done, Job, WorkerConfig};
use inkwell::module::Module;
use std::io::Write as _;
use std::time::{Duration, Instant};

/// Runs `config.task` on every chunk of `split` of `module`. Once every chunk is extracted and the
/// home module's chunked bodies are gone (while the workers still work), `after_extraction` runs
/// on the calling thread with the module, and returns what receives each chunk's result, in chunk
/// The `--save-temps` file of chunk `index` in the `phase`-th parallel phase of the run (a
/// pipeline may have several, each with its own chunks): `phase1.chunk3.opt.bc`.
fn temp_name(phase: usize, index: usize, suffix: &str) -> String {
    format!("phase{phase}.chunk{index}.{suffix}")
}

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
    stats.chunks = stats.chunks.max(split.chunks.len());
    stats.total_cost = split.chunks.iter().map(|c| c.cost).sum();
    if let Some((i, c)) = split
        .chunks
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (c.cost, std::cmp::Reverse(*i)))
    {
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
    let suffix = config.task.temp_suffix();
    let parallel_start = Instant::now();
    let threads = options.threads.max(1).min(split.chunks.len());
    // Bounded so that extracted chunks waiting for a worker do not pile up in memory.
    let (job_tx, job_rx) = crossbeam_channel::bounded::<Job>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    let mut results: Vec<Option<std::result::Result<Vec<u8>, String>>> =
        (0..split.chunks.len()).map(|_| None).collect();
    let mut extract_time = Duration::ZERO;
    let mut serial_time = Duration::ZERO;
    let mut first_error: Option<String> = None;
    // A short name per chunk for the progress display: its index and largest function.
    let mut labels: Vec<String> = vec![String::new(); split.chunks.len()];
    let mut chunk_times: Vec<(String, Duration)> =
        vec![(String::new(), Duration::ZERO); split.chunks.len()];

    let admission = admission_for(options);
    let phase = stats.parallel_phases.len();
    let mut failed_chunks: Vec<usize> = Vec::new();

    std::thread::scope(|scope| {
        for w in 0..threads {
            let (jobs, done, admission) = (job_rx.clone(), done_tx.clone(), &admission);
            scope.spawn(move || worker::work(w, config, admission, jobs, done));
        }
        drop(done_tx);
        drop(job_rx);
        // Largest chunks first, so that the last ones to finish are small.
        let mut dispatch: Vec<usize> = (0..split.chunks.len()).collect();
        dispatch.sort_by_key(|&i| (std::cmp::Reverse(split.chunks[i].cost), i));
        let ranks = llvm::UseRanks::new(module);
        for index in dispatch {
            let t = Instant::now();
            let span = trace::span(format!("extract chunk {index}"));
            llvm::set_current_work(format!("{input_name}: extracting chunk {index}"));
            let chunk = split.extract(module, &ranks, index);
            drop(span);
            let (largest, cost) = &chunk.largest_function;
            labels[index] = format!("chunk {index} with {largest}");
            chunk_times[index].0 = format!(
                "{}, its largest function {largest} ({cost} instructions)",
                chunk.description
            );
            extract_time += t.elapsed();
            if let Some(dir) = &options.save_temps {
                if let Err(e) = save_temp(dir, &temp_name(phase, index, "bc"), &chunk.bitcode) {
                    first_error = Some(e.message);
                    break;
                }
            }
            let job = Job {
                index,
                bitcode: chunk.bitcode,
                description: format!("{input_name}: {}", chunk.description),
                promoted_names: chunk.promoted_names,
                imports: Vec::new(),
            };
            if job_tx.send(job).is_err() {
                break;
            }
        }
        drop(ranks);
        drop(job_tx);
        admission.dispatch_done();
        let t = Instant::now();
        let span = trace::span("remove chunked bodies, home module work");
        split.remove_chunked_bodies(module);
        let mut accept = None;
        if first_error.is_none() {
            match after_extraction(module) {
                Ok(a) => accept = Some(a),
                Err(e) => first_error = Some(e),
            }
        }
        serial_time += t.elapsed();
        drop(span);
        let mut next = 0;
        let mut finished = 0;
        let total = results.len();
        loop {
            let done = match done_rx.recv_timeout(Duration::from_millis(250)) {
                Ok(done) => done,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    show_progress(options, &admission, &labels, finished, total);
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            };
            finished += 1;
            show_progress(options, &admission, &labels, finished, total);
            stats.worker_busy += done.busy;
            chunk_times[done.index].1 = done.busy;
            if done.result.is_err() {
                failed_chunks.push(done.index);
            }
            results[done.index] = Some(done.result);
            // Accept what is ready, in order; after an error, keep collecting but stop accepting.
            while first_error.is_none() && next < results.len() {
                match results[next].take() {
                    None => break,
                    Some(Err(e)) => first_error = Some(e),
                    Some(Ok(bytes)) => {
                        if let Some(dir) = &options.save_temps {
                            if let Err(e) = save_temp(dir, &temp_name(phase, next, suffix), &bytes)
                            {
                                first_error = Some(e.message);
                                continue;
                            }
                        }
                        let t = Instant::now();
                        let _span = trace::span(format!("accept chunk {next}"));
                        if let Some(accept) = accept.as_mut() {
                            first_error = accept(next, bytes).err();
                        }
                        serial_time += t.elapsed();
                        next += 1;
                    }
                }
            }
        }
    });
    if options.progress {
        let _ = std::io::stderr().write_all(b"\r\x1b[K");
    }
    stats.most_chunks_at_once = stats.most_chunks_at_once.max(admission.most_running());
    stats.add("split", extract_time);
    stats.parallel_wall += parallel_start.elapsed();
    stats.parallel_phases.push(ParallelPhase {
        chunks: chunk_times,
        main_thread: extract_time + serial_time,
        wall: parallel_start.elapsed(),
        deps: Vec::new(),
    });
    stats.add("merge", serial_time);
    stats.add(
        "parallel passes",
        parallel_start
            .elapsed()
            .saturating_sub(extract_time + serial_time),
    );
    match first_error {
        // With --isolate every chunk ran to its end whatever the others did: say how many
        // failed and that the rest passed the verifier (isolated chunks always verify).
        Some(e) if options.isolate.is_some() && !failed_chunks.is_empty() => {
            failed_chunks.sort_unstable();
            let total = split.chunks.len();
            let others: Vec<String> = failed_chunks[1..].iter().map(|i| i.to_string()).collect();
            let also = if others.is_empty() {
                String::new()
            } else {
                format!("; chunks {} failed too", others.join(", "))
            };
            Err(Error::failure(format!(
                "{e}{also}; the other {} of {total} chunks were optimized and passed the verifier",
                total - failed_chunks.len()
            )))
        }
        Some(e) => Err(Error::failure(e)),
        None => Ok(()),
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

/// Runs `config.task` on every chunk of `split` as their dependencies allow: chunk `c` starts
/// once every chunk in `deps[c].0` is done, and imports from their results the functions
/// `deps[c].1` names for each. Every chunk is extracted from `module` as it was before any
/// result came back, so a chunk's input depends on its dependencies' results alone, never on
/// timing; results go to what `after_extraction` returns, strictly in chunk order. A failed chunk
/// stops the chunks that depend on it; the others still run, and the first error in chunk order
/// is reported.
#[allow(clippy::too_many_arguments)]
pub fn process_dag<'m, 'c, A>(
    split: &mut Split<'c>,
    module: &'m mut Module<'c>,
    deps: &[(Vec<usize>, Vec<Vec<String>>)],
    config: &WorkerConfig,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
    after_extraction: impl FnOnce(&'m mut Module<'c>) -> std::result::Result<A, String>,
) -> Result<()>
where
    A: FnMut(usize, Vec<u8>) -> std::result::Result<(), String>,
{
    let n = split.chunks.len();
    stats.chunks = stats.chunks.max(n);
    let parallel_start = Instant::now();
    let threads = options.threads.max(1).min(n.max(1));
    let (job_tx, job_rx) = crossbeam_channel::unbounded::<Job>();
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<Done>();
    let admission = admission_for(options);
    let phase = stats.parallel_phases.len();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = deps.iter().map(|(d, _)| d.len()).collect();
    for (c, (ds, _)) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(c);
        }
    }
    let mut jobs: Vec<Option<Job>> = (0..n).map(|_| None).collect();
    let mut outputs: Vec<Option<std::sync::Arc<Vec<u8>>>> = vec![None; n];
    let mut results: Vec<Option<std::result::Result<Vec<u8>, String>>> =
        (0..n).map(|_| None).collect();
    let mut chunk_times = vec![(String::new(), Duration::ZERO); n];
    let (mut extract_time, mut serial_time) = (Duration::ZERO, Duration::ZERO);
    let mut first_error: Option<String> = None;
    std::thread::scope(|scope| {
        for w in 0..threads {
            let (jobs, done, admission) = (job_rx.clone(), done_tx.clone(), &admission);
            scope.spawn(move || worker::work(w, config, admission, jobs, done));
        }
        drop(done_tx);
        drop(job_rx);
        // Hands chunk `c` to the workers, with what it imports from its dependencies.
        let send = |c: usize, job: Job, outputs: &[Option<std::sync::Arc<Vec<u8>>>]| {
            let imports = deps[c]
                .0
                .iter()
                .zip(&deps[c].1)
                .filter_map(|(&d, names)| Some((outputs[d].clone()?, names.clone())))
                .collect();
            let _ = job_tx.send(Job { imports, ..job });
        };
        let ranks = llvm::UseRanks::new(module);
        let mut in_flight = 0;
        for c in 0..n {
            let t = Instant::now();
            let span = trace::span(format!("extract chunk {c}"));
            llvm::set_current_work(format!("{input_name}: extracting chunk {c}"));
            let chunk = split.extract(module, &ranks, c);
            drop(span);
            extract_time += t.elapsed();
            chunk_times[c].0 = chunk.description.clone();
            if let Some(dir) = &options.save_temps {
                if let Err(e) = save_temp(dir, &temp_name(phase, c, "bc"), &chunk.bitcode) {
                    first_error.get_or_insert(e.message);
                }
            }
            let job = Job {
                index: c,
                bitcode: chunk.bitcode,
                description: format!("{input_name}: {}", chunk.description),
                promoted_names: chunk.promoted_names,
                imports: Vec::new(),
            };
            if waiting[c] == 0 && first_error.is_none() {
                send(c, job, &outputs);
                in_flight += 1;
            } else {
                jobs[c] = Some(job);
            }
        }
        drop(ranks);
        let t = Instant::now();
        split.remove_bodies(module, 0..n);
        let mut accept = None;
        if first_error.is_none() {
            match after_extraction(module) {
                Ok(a) => accept = Some(a),
                Err(e) => first_error = Some(e),
            }
        }
        serial_time += t.elapsed();
        let mut next = 0;
        while in_flight > 0 {
            let Ok(done) = done_rx.recv() else { break };
            in_flight -= 1;
            stats.worker_busy += done.busy;
            chunk_times[done.index].1 = done.busy;
            if let Ok(bytes) = &done.result {
                outputs[done.index] = Some(std::sync::Arc::new(bytes.clone()));
                let mut ready: Vec<usize> = Vec::new();
                for &c in &dependents[done.index] {
                    waiting[c] -= 1;
                    if waiting[c] == 0 {
                        ready.push(c);
                    }
                }
                // Largest first, so that the last chunks to finish are small.
                ready.sort_by_key(|&c| (std::cmp::Reverse(split.chunks[c].cost), c));
                for c in ready {
                    if let Some(job) = jobs[c].take() {
                        send(c, job, &outputs);
                        in_flight += 1;
                    }
                }
            }
            results[done.index] = Some(done.result);
            while first_error.is_none() && next < n {
                let Some(result) = results[next].take() else {
                    break;
                };
                match result {
                    Err(e) => first_error = Some(e),
                    Ok(bytes) => {
                        let t = Instant::now();
                        let _span = trace::span(format!("accept chunk {next}"));
                        if let Some(dir) = &options.save_temps {
                            if let Err(e) =
                                save_temp(dir, &temp_name(phase, next, "opt.bc"), &bytes)
                            {
                                first_error = Some(e.message);
                            }
                        }
                        if let Some(accept) = accept.as_mut().filter(|_| first_error.is_none()) {
                            first_error = accept(next, bytes).err();
                        }
                        outputs_done(&mut outputs, next, &dependents, &waiting);
                        serial_time += t.elapsed();
                        next += 1;
                    }
                }
            }
        }
        drop(job_tx);
        admission.dispatch_done();
    });
    if first_error.is_none() && results.iter().any(|r| r.is_some()) {
        first_error = Some(format!(
            "{input_name}: internal error: a chunk's result was not merged"
        ));
    }
    stats.most_chunks_at_once = stats.most_chunks_at_once.max(admission.most_running());
    stats.add("split", extract_time);
    stats.add("merge", serial_time);
    let wall = parallel_start.elapsed();
    stats.parallel_wall += wall;
    stats.add(
        "parallel passes",
        wall.saturating_sub(extract_time + serial_time),
    );
    stats.parallel_phases.push(ParallelPhase {
        chunks: chunk_times,
        main_thread: extract_time + serial_time,
        wall,
        deps: deps.iter().map(|(d, _)| d.clone()).collect(),
    });
    match first_error {
        Some(e) => Err(Error::failure(e)),
        None => Ok(()),
    }
}

/// Frees a merged chunk's result once no chunk waiting to start needs it any more.
fn outputs_done(
    outputs: &mut [Option<std::sync::Arc<Vec<u8>>>],
    chunk: usize,
    dependents: &[Vec<usize>],
    waiting: &[usize],
) {
    if dependents[chunk].iter().all(|&c| waiting[c] == 0) {
        outputs[chunk] = None;
    }
}
