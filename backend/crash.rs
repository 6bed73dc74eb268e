//! When LLVM fails beyond recovery: a fatal error (`report_fatal_error`) or a crash (SIGSEGV,
//! SIGABRT, ...) inside a worker or the main thread. The process cannot go on (LLVM's state on
//! that thread is undefined, and other threads may be inside LLVM too), so llpar prints one line
//! naming the work (file, chunk, its functions, the pipeline), writes the chunk being worked on as
//! a reproducer file, removes its temporary files and exits with status 1. No output file exists
//! yet at that point: outputs are written only after everything succeeded.
//!
//! `--isolate` avoids the "whole process" part by running chunks in child processes (see
//! `worker`); this module is what runs inside each process.
use std::cell::{Cell, RefCell};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

/// The chunk a thread works on, for the reproducer; it holds its own reference to the bytes.
struct Reproducer {
    path: CString,
    bitcode: Arc<Vec<u8>>,
    /// How to replay it, e.g. `opt -passes='...' FILE`.
    replay: String,
}

thread_local! {
    static CURRENT_REPRODUCER: RefCell<Option<Reproducer>> = const { RefCell::new(None) };
    /// Whether this thread has used `CURRENT_REPRODUCER` (so that its destructor is registered
    /// already). A `Cell<bool>` has no destructor: reading it registers nothing, which is what
    /// makes it fit for the signal handler.
    static REPRODUCER_USED: Cell<bool> = const { Cell::new(false) };
}

thread_local! {
    /// What this thread is doing, named in the message when LLVM reports a fatal error.
    static CURRENT_WORK: RefCell<String> = const { RefCell::new(String::new()) };
    /// Whether this thread has used `CURRENT_WORK` (so its destructor is registered already):
    /// without a destructor of its own, reading it registers nothing, as the crash handler needs.
    static CURRENT_WORK_USED: Cell<bool> = const { Cell::new(false) };
}

/// Names what the current thread works on (a chunk, a phase) for LLVM's fatal error messages.
pub fn set_current_work(what: impl Into<String>) {
    CURRENT_WORK.with(|w| *w.borrow_mut() = what.into());
    CURRENT_WORK_USED.with(|u| u.set(true));
}

/// Calls `f` with what the current thread works on, without allocating or registering a
/// thread-local destructor (for the crash handler); false if that cannot be read.
fn with_current_work_raw(f: impl FnOnce(&str)) -> bool {
    match CURRENT_WORK_USED.try_with(|u| u.get()) {
        // Never set on this thread: no work named.
        Ok(false) => {
            f("");
            return true;
        }
        Ok(true) => {}
        Err(_) => return false,
    }
    CURRENT_WORK
        .try_with(|w| match w.try_borrow() {
            Ok(work) => {
                f(work.as_str());
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// What the current thread works on, for a fatal error's message.
pub fn current_work() -> String {
    CURRENT_WORK.with(|w| w.borrow().clone())
}

/// While alive, a fatal error or crash on this thread writes the chunk to the reproducer path.
/// Leaking it (`mem::forget`) only leaves the reproducer named: the bytes are shared, not borrowed.
pub struct ReproducerGuard {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ReproducerGuard {
    fn drop(&mut self) {
        CURRENT_REPRODUCER.with(|r| *r.borrow_mut() = None);
    }
}

/// Names `bitcode` (a chunk before its passes) as this thread's reproducer until the guard drops.
pub fn reproducer_for(bitcode: Arc<Vec<u8>>, path: &Path, replay: String) -> ReproducerGuard {
    let reproducer = Reproducer {
        path: CString::new(path.as_os_str().as_bytes()).unwrap_or_default(),
        bitcode,
        replay,
    };
    CURRENT_REPRODUCER.with(|r| *r.borrow_mut() = Some(reproducer));
    REPRODUCER_USED.with(|u| u.set(true));
    ReproducerGuard {
        _not_send: std::marker::PhantomData,
    }
}

/// Where the reproducer of chunk `index` goes: `DIR/llpar-crash-PID-chunkN.bc`.
pub fn reproducer_path(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!(
        "llpar-crash-{}-chunk{index}.bc",
        std::process::id()
    ))
}

/// How to replay a chunk's pipeline with LLVM's own tools (a chunk is a valid module of its own).
pub fn replay_hint(pipeline: Option<&str>, codegen: bool) -> String {
    match (pipeline, codegen) {
        (Some(p), false) => format!("opt -passes='{p}' FILE"),
        (Some(p), true) => format!("opt -passes='{p}' FILE | llc -filetype=obj"),
        (None, _) => "llc -filetype=obj FILE".to_string(),
    }
}

/// Writes this thread's reproducer, if any, and returns what to add to the error message.
/// For the fatal error handler: ordinary code may run there.
pub fn write_reproducer() -> String {
    CURRENT_REPRODUCER.with(|r| match r.try_borrow().ok().as_deref() {
        Some(Some(rep)) => {
            let path = PathBuf::from(std::ffi::OsStr::from_bytes(rep.path.as_bytes()));
            save_reproducer(&path, &rep.bitcode, &rep.replay)
        }
        _ => String::new(),
    })
}

/// Writes `bitcode` to `path` and returns what to add to the error message: where it is and how
/// to replay it, or why it could not be written.
pub fn save_reproducer(path: &Path, bitcode: &[u8], replay: &str) -> String {
    match std::fs::write(path, bitcode) {
        Ok(()) => format!("; reproducer: {} (replay: {replay})", path.display()),
        Err(e) => format!("; cannot write reproducer {}: {e}", path.display()),
    }
}

const CRASH_SIGNALS: [(libc::c_int, &str); 5] = [
    (libc::SIGSEGV, "SIGSEGV"),
    (libc::SIGBUS, "SIGBUS"),
    (libc::SIGILL, "SIGILL"),
    (libc::SIGFPE, "SIGFPE"),
    (libc::SIGABRT, "SIGABRT"),
];

/// Installs the crash handler for the signals a crash inside LLVM raises.
pub fn install_crash_handler() {
    for (signal, _) in CRASH_SIGNALS {
        // SAFETY: a zeroed sigaction with a handler of the right signature; SA_ONSTACK so that a
        // stack overflow (reported as SIGSEGV) runs it on the alternate stack Rust sets up.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_crash as extern "C" fn(libc::c_int) as usize;
            action.sa_flags = libc::SA_ONSTACK;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

fn write_stderr(bytes: &[u8]) {
    // SAFETY: write(2) on a valid buffer; async-signal-safe.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

/// The thread that reports the failure (its kernel thread id), 0 while none does.
static EXITING: AtomicI32 = AtomicI32::new(0);

/// Makes the calling thread the one that reports the failure and ends the process. Any other
/// thread that fails meanwhile (workers often fail together) waits here for the end, so that one
/// complete message is printed. The reporting thread itself may come back (a panic whose report
/// aborts, then the abort signal): it goes on, rather than waiting for itself forever.
pub fn claim_exit() {
    // SAFETY: gettid is a plain system call, async-signal-safe.
    let me = unsafe { libc::gettid() };
    match EXITING.compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => {}
        Err(owner) if owner == me => {}
        Err(_) => loop {
            // SAFETY: pause only suspends this thread until the reporting thread calls _exit.
            unsafe { libc::pause() };
        },
    }
}

/// The signal handler. Reporting and the reproducer use only async-signal-safe calls (write,
/// open, close, pause, _exit) and plain memory reads, and allocate nothing, since the crash may
/// have happened inside malloc: the thread-locals it reads are only touched on threads that used
/// them already (so reading them registers no destructor), and a `RefCell` borrowed at the moment
/// of the crash is skipped. The cleanup of registered temporary files that follows is *not*
/// async-signal-safe: `cleanup::remove_all_after_crash` takes the registry's lock only if it is
/// free (`try_lock`) and removes files and directories with `std::fs`, which allocates and
/// opens directories; a crash inside the allocator can make it fail or hang, after the message
/// and the reproducer are out. A crash inside the handler itself is not caught again (the
/// signal is blocked while it runs), so the kernel ends the process.
extern "C" fn on_crash(signal: libc::c_int) {
    claim_exit();
    let name = CRASH_SIGNALS
        .iter()
        .find(|(s, _)| *s == signal)
        .map_or("signal", |(_, n)| n);
    write_stderr(b"llpar: error: ");
    let named = with_current_work_raw(|work| {
        if !work.is_empty() {
            write_stderr(work.as_bytes());
            write_stderr(b": ");
        }
    });
    if !named {
        write_stderr(b"llpar: ");
    }
    write_stderr(b"LLVM crashed (");
    write_stderr(name.as_bytes());
    write_stderr(b")");
    let used = REPRODUCER_USED.try_with(Cell::get).unwrap_or(false);
    let _ = used.then(|| {
        CURRENT_REPRODUCER.try_with(|r| {
            if let Ok(guard) = r.try_borrow() {
                if let Some(rep) = guard.as_ref() {
                    let bytes: &[u8] = &rep.bitcode;
                    // SAFETY: open/write/close (all async-signal-safe) on a NUL-terminated path and
                    // on bytes the reproducer owns (through its Arc) while it is borrowed here.
                    let written = unsafe {
                        let fd = libc::open(
                            rep.path.as_ptr(),
                            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC,
                            0o644,
                        );
                        fd >= 0 && {
                            let n = libc::write(fd, bytes.as_ptr().cast(), bytes.len());
                            libc::close(fd);
                            n == bytes.len() as isize
                        }
                    };
                    if written {
                        write_stderr(b"; reproducer: ");
                        write_stderr(rep.path.as_bytes());
                        write_stderr(b" (replay: ");
                        write_stderr(rep.replay.as_bytes());
                        write_stderr(b")");
                    }
                }
            }
        })
    });
    write_stderr(b"\n");
    // Not async-signal-safe: see above.
    crate::cleanup::remove_all_after_crash();
    // SAFETY: ends the process at once; nothing else may run after a crash.
    unsafe { libc::_exit(1) }
}
