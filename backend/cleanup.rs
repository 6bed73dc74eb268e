//! Interruption: files and directories a run creates for a while (the output's temporary file,
//! the scratch directory of code generation) are registered here; SIGINT, SIGTERM or SIGHUP
//! removes them before the process exits.
//!
//! The signals are blocked in every thread and received by one thread with `sigwait`, so the
//! cleanup runs as ordinary code, not inside a signal handler.
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static REGISTERED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

const SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// Starts the thread that waits for the signals. Call it first thing in `main`, before any other
/// thread exists: threads inherit the blocked signal mask.
pub fn install() {
    // SAFETY: plain POSIX calls on a local, initialized signal set.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in SIGNALS {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    std::thread::spawn(move || {
        let mut signal: libc::c_int = 0;
        // SAFETY: `set` is a valid signal set; sigwait only writes `signal`.
        if unsafe { libc::sigwait(&set, &mut signal) } != 0 {
            return;
        }
        remove_all();
        note!("llpar: interrupted by signal {signal}; temporary files removed");
        // SAFETY: ends the process at once, without running destructors under other threads
        // that may be inside LLVM.
        unsafe { libc::_exit(128 + signal) }
    });
}

pub fn register(path: &Path) {
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(path.to_path_buf());
}

pub fn unregister(path: &Path) {
    REGISTERED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|p| p != path);
}

/// After a crash: the same, best effort. It does not wait for the registry's lock (the crashing
/// thread may hold it) and allocates, which can fail if the crash happened in the allocator.
pub fn remove_all_after_crash() {
    if let Ok(paths) = REGISTERED.try_lock() {
        for path in paths.iter() {
            remove(path);
        }
    }
}

fn remove_all() {
    for path in REGISTERED.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        remove(path);
    }
}

/// Removes a registered file or directory while other threads may still be writing into it.
/// A directory is renamed away first: a worker that writes a file into it by its path after
/// that fails, instead of making the directory non-empty again between the removal of its
/// entries and its own (which then fails, and leaves it behind).
fn remove(path: &Path) {
    if !path.is_dir() {
        let _ = std::fs::remove_file(path);
        return;
    }
    let mut doomed = path.as_os_str().to_owned();
    doomed.push(".removing");
    let doomed = PathBuf::from(doomed);
    let target = if std::fs::rename(path, &doomed).is_ok() {
        doomed.as_path()
    } else {
        path
    };
    for _ in 0..10 {
        if std::fs::remove_dir_all(target).is_ok() || !target.exists() {
            break;
        }
    }
}
