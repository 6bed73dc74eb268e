//! `--time-trace`: spans of the run (phases, chunks) in the Chrome trace event format that
//! `clang -ftime-trace` writes (`traceEvents`, complete events `ph: "X"` with `ts`/`dur` in
//! microseconds, one `tid` per thread, thread names as metadata events).
//!
//! Recording is off unless `enable` was called; a span costs one mutex push when it ends.
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

struct Event {
    name: String,
    /// What the event ran on (a function, for pass events), shown as `args.detail`.
    detail: String,
    tid: u64,
    start_us: u64,
    dur_us: u64,
}

struct Recorder {
    origin: Instant,
    events: Mutex<Vec<Event>>,
    thread_names: Mutex<Vec<(u64, String)>>,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();
static NEXT_TID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static TID: Cell<u64> = const { Cell::new(0) };
}

fn tid() -> u64 {
    TID.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_TID.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// Runs `work` with LLVM's per-pass profiler on this thread when recording, and records each
/// pass run on a function that lasted at least the granularity, nested in the current span.
pub fn llvm_passes<T>(work: impl FnOnce() -> T) -> T {
    let Some(r) = RECORDER.get() else {
        return work();
    };
    let begin = r.origin.elapsed().as_micros() as u64;
    crate::llvm::time_trace_begin(GRANULARITY_US.load(Ordering::Relaxed) as u32);
    let result = work();
    let end = r.origin.elapsed().as_micros() as u64;
    let tid = tid();
    let mut events = r.events.lock().unwrap_or_else(|e| e.into_inner());
    for e in crate::llvm::time_trace_end() {
        // LLVM's clock started a moment after `begin`: clamp so that nothing sticks out.
        let start_us = (begin + e.start_us).min(end);
        events.push(Event {
            name: e.name,
            detail: e.detail,
            tid,
            start_us,
            dur_us: e.dur_us.min(end - start_us),
        });
    }
    result
}

static GRANULARITY_US: AtomicU64 = AtomicU64::new(500);

/// The shortest pass run recorded, in microseconds (`--time-trace-granularity`, as in clang).
pub fn set_granularity(us: u64) {
    GRANULARITY_US.store(us, Ordering::Relaxed);
}

/// Starts recording (call once, before the work).
pub fn enable() {
    let _ = RECORDER.set(Recorder {
        origin: Instant::now(),
        events: Mutex::new(Vec::new()),
        thread_names: Mutex::new(Vec::new()),
    });
    name_thread("main");
}

/// Names the calling thread in the trace.
pub fn name_thread(name: &str) {
    if let Some(r) = RECORDER.get() {
        r.thread_names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((tid(), name.to_string()));
    }
}

/// A span that ends (and is recorded) when dropped.
pub struct Span {
    name: Option<String>,
    start: Instant,
}

pub fn span(name: impl Into<String>) -> Span {
    Span {
        name: RECORDER.get().map(|_| name.into()),
        start: Instant::now(),
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let (Some(name), Some(r)) = (self.name.take(), RECORDER.get()) {
            // Both ends rounded the same way, so that a span inside another never sticks out.
            let start_us = self.start.duration_since(r.origin).as_micros() as u64;
            let end_us = r.origin.elapsed().as_micros() as u64;
            let dur_us = end_us.saturating_sub(start_us);
            r.events
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Event {
                    name,
                    detail: String::new(),
                    tid: tid(),
                    start_us,
                    dur_us,
                });
        }
    }
}

/// Records a span of this thread that has already ended: from `start`, for `duration` (parts
/// of a remote chunk's round trip, known only when it is over).
pub fn record(name: impl Into<String>, start: Instant, duration: std::time::Duration) {
    if let Some(r) = RECORDER.get() {
        let start_us = start.saturating_duration_since(r.origin).as_micros() as u64;
        let event = Event {
            name: name.into(),
            detail: String::new(),
            tid: tid(),
            start_us,
            dur_us: duration.as_micros() as u64,
        };
        r.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(event);
    }
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The recorded trace as JSON, or None when recording is off.
pub fn to_json() -> Option<String> {
    let r = RECORDER.get()?;
    let mut events = r
        .events
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .map(|e| {
            (
                e.tid,
                e.start_us,
                e.dur_us,
                e.name.clone(),
                e.detail.clone(),
            )
        })
        .collect::<Vec<_>>();
    // Per thread by start, longer first, so that enclosing spans come before what they enclose.
    events.sort_by_key(|(tid, start, dur, ..)| (*tid, *start, std::cmp::Reverse(*dur)));
    let mut out = String::from("{\"traceEvents\":[\n");
    let mut first = true;
    for (tid, name) in r
        .thread_names
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        let _ = write!(out, "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":{}}}}}", json_string(name));
    }
    for (tid, start, dur, name, detail) in events {
        if !first {
            out.push_str(",\n");
        }
        first = false;
        let args = if detail.is_empty() {
            String::new()
        } else {
            format!(",\"args\":{{\"detail\":{}}}", json_string(&detail))
        };
        let _ = write!(
            out,
            "{{\"name\":{},\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\"ts\":{start},\"dur\":{dur}{args}}}",
            json_string(&name)
        );
    }
    out.push_str("\n],\"displayTimeUnit\":\"ms\"}\n");
    Some(out)
}
