//! What a run measured (`--stats`), and the predictions made from it: the wall time on more
//! workers, and the chain of dependent chunks that bounds it.
use crate::remote::RemoteSummary;
use std::time::Duration;

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
    /// The order in which the chunks were handed out (largest first); with `deps`, the order
    /// of preference among the chunks ready to start (see `critical_path_order`).
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

    /// Per chunk, its place in the handout order (see `handout_order`).
    fn rank(&self, cost: &[Duration]) -> Vec<usize> {
        places(&self.handout_order(cost))
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
            makespan_with_deps(&work, &self.deps, &self.rank(&work), workers)
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
            let rank = self.rank(&busy);
            return (self.main_thread + extract)
                .max(makespan_with_deps(&busy, &self.deps, &rank, workers));
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
/// `deps` are done, the ready one of least `rank` handed out first, as llpar does.
fn makespan_with_deps(
    durations: &[Duration],
    deps: &[Vec<usize>],
    rank: &[usize],
    workers: usize,
) -> Duration {
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
        ready.sort_by_key(|&c| std::cmp::Reverse((rank[c], c)));
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

/// Per job of `order` (a permutation of `0..order.len()`), its place in it.
pub fn places(order: &[usize]) -> Vec<usize> {
    let mut place = vec![0; order.len()];
    for (at, &job) in order.iter().enumerate() {
        place[job] = at;
    }
    place
}

/// The order in which the scheduler of dependent jobs prefers the jobs that are ready to start:
/// the longest path of `weights` from a job to the end of the phase (itself and the jobs that
/// wait for it, `deps` naming what each waits for) first, ties in job order. Largest first
/// would leave the small chunks of a long call chain behind every larger one ready with them,
/// each time one of them becomes ready, and the chain bounds the phase (critical-path list
/// scheduling).
pub fn critical_path_order(weights: &[u64], deps: &[Vec<usize>]) -> Vec<usize> {
    let n = weights.len();
    let mut dependents_left = vec![0usize; n];
    for d in deps.iter().flatten().filter(|&&d| d < n) {
        dependents_left[*d] += 1;
    }
    // A job's path is final once every job waiting for it has its own.
    let mut path: Vec<u64> = weights.to_vec();
    let mut done: Vec<usize> = (0..n).filter(|&j| dependents_left[j] == 0).collect();
    while let Some(j) = done.pop() {
        for &d in deps.get(j).into_iter().flatten().filter(|&&d| d < n) {
            path[d] = path[d].max(weights[d] + path[j]);
            dependents_left[d] -= 1;
            if dependents_left[d] == 0 {
                done.push(d);
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&j| (std::cmp::Reverse(path[j]), j));
    order
}

/// The makespan of `durations` on `workers` when they are handed out largest first, each to the
/// worker that frees up first (the model the tests check `makespan_with_deps` against).
#[cfg(test)]
fn makespan(durations: &[Duration], workers: usize) -> Duration {
    let mut order: Vec<usize> = (0..durations.len()).collect();
    order.sort_by(|&a, &b| durations[b].cmp(&durations[a]));
    makespan_in_order(durations, &order, |_| Duration::ZERO, workers)
}

/// The makespan of `durations` on `workers` when they are handed out in `order`, each to the
/// worker that frees up first, chunk `c` not before `ready(c)` (when the calling thread has
/// extracted it).
fn makespan_in_order(
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
        let rank = [0, 1, 2, 3];
        assert_eq!(
            makespan_with_deps(&ms(&[5, 4, 1, 1]), &deps, &rank, 8),
            Duration::from_millis(7)
        );
        assert_eq!(
            makespan_with_deps(&ms(&[5, 4, 1, 1]), &deps, &rank, 1),
            Duration::from_millis(11)
        );
        // Without dependencies, ranked largest first, it is the plain makespan.
        let none = vec![vec![]; 5];
        assert_eq!(
            makespan_with_deps(&ms(&[5, 4, 3, 3, 3]), &none, &[0, 1, 2, 3, 4], 2),
            makespan(&ms(&[5, 4, 3, 3, 3]), 2)
        );
    }

    #[test]
    fn the_chain_that_bounds_the_phase_goes_first() {
        // Chunks 0 -> 1 -> 2 form a chain (2 waits for 1, 1 for 0); 3 and 4 are independent.
        // The head of a chain of small chunks (a path of 3) goes before larger chunks (2).
        let weights = [1, 1, 1, 2, 2];
        let deps = vec![vec![], vec![0], vec![1], vec![], vec![]];
        assert_eq!(critical_path_order(&weights, &deps), vec![0, 1, 3, 4, 2]);
        let long_chain = [4, 4, 4, 3, 3];
        assert_eq!(critical_path_order(&long_chain, &deps), vec![0, 1, 2, 3, 4]);
        let ms = |v: &[u64]| {
            v.iter()
                .map(|&x| Duration::from_millis(x))
                .collect::<Vec<_>>()
        };
        let by_path = places(&critical_path_order(&long_chain, &deps));
        let largest_first = places(&[3, 4, 0, 1, 2]);
        let durations = ms(&long_chain);
        // Two workers: the chain (12) from the start beside 3 and 4 (6), against 3 and 4 first.
        assert_eq!(
            makespan_with_deps(&durations, &deps, &by_path, 2),
            Duration::from_millis(12)
        );
        assert_eq!(
            makespan_with_deps(&durations, &deps, &largest_first, 2),
            Duration::from_millis(15)
        );
    }
}
