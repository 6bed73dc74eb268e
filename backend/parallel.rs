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
use std::time::{Duration, Instant};

/// Runs `config.task` on the chunks `range` of `split` of `module` (all of them, or one wave of
/// the call-graph walk). Once those chunks are extracted and their bodies in the home module are gone (while the workers still work), `after_extraction` runs
/// on the calling thread with the module, and returns what receives each chunk's result, in chunk
/// order (it may keep the module borrowed, as a merge into it does).
#[allow(clippy::too_many_arguments)]
pub fn process_chunks<'m, 'c, A>(
    split: &mut Split<'c>,
    range: std::ops::Range<usize>,
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
    if let Some((i, c)) = split.chunks[range.clone()]
        .iter()
        .enumerate()
        .map(|(i, c)| (i + range.start, c))
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
    let threads = options.threads.max(1).min(range.len());
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

    // The memory cap leaves to the chunks what the process does not already hold.
    let memory_budget = options
        .max_memory
        .map(|cap| cap.saturating_sub(crate::admission::resident_bytes()));
    let admission = Admission::new(options.jobserver.as_deref(), memory_budget);
    let mut failed_chunks: Vec<usize> = Vec::new();

    std::thread::scope(|scope| {
        for w in 0..threads {
            let (jobs, done, admission) = (job_rx.clone(), done_tx.clone(), &admission);
            scope.spawn(move || worker::work(w, config, admission, jobs, done));
        }
        drop(done_tx);
        drop(job_rx);
        // Largest chunks first, so that the last ones to finish are small.
        let mut dispatch: Vec<usize> = range.clone().collect();
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
                if let Err(e) = save_temp(dir, &format!("chunk{index}.bc"), &chunk.bitcode) {
                    first_error = Some(e.message);
                    break;
                }
            }
            let job = Job {
                index,
                bitcode: chunk.bitcode,
                description: format!("{input_name}: {}", chunk.description),
                promoted_names: chunk.promoted_names,
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
        split.remove_bodies(module, range.clone());
        let mut accept = None;
        if first_error.is_none() {
            match after_extraction(module) {
                Ok(a) => accept = Some(a),
                Err(e) => first_error = Some(e),
            }
        }
        serial_time += t.elapsed();
        drop(span);
        let mut next = range.start;
        let mut finished = 0;
        let total = range.len();
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
            while first_error.is_none() && next < range.end {
                match results[next].take() {
                    None => break,
                    Some(Err(e)) => first_error = Some(e),
                    Some(Ok(bytes)) => {
                        if let Some(dir) = &options.save_temps {
                            if let Err(e) = save_temp(dir, &format!("chunk{next}.{suffix}"), &bytes)
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
        eprint!("\r\x1b[K");
    }
    stats.most_chunks_at_once = stats.most_chunks_at_once.max(admission.most_running());
    stats.add("split", extract_time);
    stats.parallel_wall += parallel_start.elapsed();
    stats.parallel_phases.push(ParallelPhase {
        chunks: chunk_times[range.clone()].to_vec(),
        main_thread: extract_time + serial_time,
        wall: parallel_start.elapsed(),
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
            let total = range.len();
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
    eprint!("\r\x1b[Kllpar: {finished}/{total} chunks done{slowest}");
}
