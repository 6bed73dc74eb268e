//! When a worker may start its next chunk. Three limits meet here: the worker threads (`-j`),
//! the GNU make jobserver (a token per worker beyond the first), and the memory cap
//! (`--max-memory`): a chunk starts only if the memory its work is expected to take fits in what
//! the cap leaves, except when nothing else is running, so a cap lowers parallelism and never
//! fails a run. None of this changes the output: chunks are independent and merged in order.
use crate::jobserver::{Jobserver, Token};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Peak memory of a chunk's work (a context holding the chunk, its analyses, code generation)
/// per byte of the chunk's bitcode. Measured on sqlite3 at -O2 to object code: at -j1 the
/// process grows by 34 MiB over the parallel phase, whose largest chunk has 163 KB of bitcode
/// (about 210 bytes per byte, sqlite3VdbeExec's code generation); at -j8 the 7 extra chunks in
/// flight, ~140 KB each, add 36 MiB (about 37 per byte). Large functions cost more per byte.
pub const MEMORY_PER_BITCODE_BYTE: u64 = 150;

pub struct Admission<'a> {
    jobserver: Option<&'a Jobserver>,
    /// Bytes that chunks in flight may take together, if capped.
    memory_budget: Option<u64>,
    state: Mutex<InFlight>,
    finished: Condvar,
    dispatch_done: AtomicBool,
}

#[derive(Default)]
struct InFlight {
    bytes: u64,
    running: usize,
    most_running: usize,
    /// The chunks running now, with when they started (for the progress display).
    started: Vec<(usize, Instant)>,
}

/// A chunk admitted to run; leaves the count when dropped.
pub struct Ticket<'a> {
    admission: &'a Admission<'a>,
    bytes: u64,
    chunk: usize,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        let mut state = self.admission.lock();
        state.bytes -= self.bytes;
        state.running -= 1;
        state.started.retain(|(c, _)| *c != self.chunk);
        self.admission.finished.notify_all();
    }
}

/// Leave to run one more chunk: free for the first worker, a jobserver token for the others.
pub enum Slot<'a> {
    Own,
    Token(#[allow(dead_code)] Token<'a>),
}

impl<'a> Admission<'a> {
    pub fn new(jobserver: Option<&'a Jobserver>, memory_budget: Option<u64>) -> Self {
        Admission {
            jobserver,
            memory_budget,
            state: Mutex::new(InFlight::default()),
            finished: Condvar::new(),
            dispatch_done: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a memory cap is set (`--max-memory`).
    pub fn capped(&self) -> bool {
        self.memory_budget.is_some()
    }

    /// Every chunk has been handed out: workers waiting for a token may stop once the queue
    /// is empty.
    pub fn dispatch_done(&self) {
        self.dispatch_done.store(true, Ordering::SeqCst);
    }

    /// Waits for leave to run another chunk; `None` when no chunk is left to run
    /// (`queue_empty` tells whether chunks are waiting).
    pub fn slot(&self, worker: usize, queue_empty: impl Fn() -> bool) -> Option<Slot<'_>> {
        let Some(jobserver) = self.jobserver.filter(|_| worker > 0) else {
            return Some(Slot::Own);
        };
        loop {
            if let Some(token) = jobserver.try_acquire() {
                return Some(Slot::Token(token));
            }
            if self.dispatch_done.load(Ordering::SeqCst) && queue_empty() {
                return None;
            }
            jobserver.wait(Duration::from_millis(20));
        }
    }

    /// Waits until a chunk of `bitcode_len` bytes fits under the memory cap (or nothing else
    /// runs), and counts it as running.
    pub fn admit(&self, chunk: usize, bitcode_len: usize) -> Ticket<'_> {
        let bytes = bitcode_len as u64 * MEMORY_PER_BITCODE_BYTE;
        let mut state = self.lock();
        if let Some(budget) = self.memory_budget {
            while state.running > 0 && state.bytes + bytes > budget {
                state = self.finished.wait(state).unwrap_or_else(|e| e.into_inner());
            }
        }
        state.bytes += bytes;
        state.running += 1;
        state.most_running = state.most_running.max(state.running);
        state.started.push((chunk, Instant::now()));
        Ticket {
            admission: self,
            bytes,
            chunk,
        }
    }

    /// The chunk that has been running longest, and for how long.
    pub fn slowest_running(&self) -> Option<(usize, Duration)> {
        let state = self.lock();
        state
            .started
            .iter()
            .min_by_key(|(_, t)| *t)
            .map(|(c, t)| (*c, t.elapsed()))
    }

    /// The most chunks that ran at once.
    pub fn most_running(&self) -> usize {
        self.lock().most_running
    }
}

/// This process's resident memory now, in bytes (0 if unknown).
pub fn resident_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// This process's peak resident memory so far, in bytes.
pub fn peak_resident_bytes() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    usage.ru_maxrss as u64 * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_cap_admits_one_chunk_when_nothing_fits() {
        let admission = Admission::new(None, Some(0));
        let first = admission.admit(0, 1000);
        let first_finished = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                // A second chunk would exceed the cap: it may only start after the first.
                let _second = admission.admit(0, 1000);
                assert!(first_finished.load(Ordering::SeqCst));
            });
            std::thread::sleep(Duration::from_millis(50));
            first_finished.store(true, Ordering::SeqCst);
            drop(first);
        });
        assert_eq!(admission.most_running(), 1);
    }

    #[test]
    fn without_cap_chunks_run_together() {
        let admission = Admission::new(None, None);
        let _a = admission.admit(0, 1 << 20);
        let _b = admission.admit(0, 1 << 20);
        assert_eq!(admission.most_running(), 2);
    }
}
