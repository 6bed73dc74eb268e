//! The GNU make jobserver client: under `make -jN` (or cargo), a token from make's pipe is needed
//! for every thread beyond the one make started llpar with, and goes back when the thread is done
//! with its chunk. So `make -j2` running llpar beside another job gets no second worker.
//!
//! MAKEFLAGS names the jobserver as `--jobserver-auth=R,W` (two inherited pipe descriptors, make
//! 4.3 and cargo) or `--jobserver-auth=fifo:PATH` (make 4.4). Tokens are read without blocking
//! from llpar's own open file description of the pipe (opened through /proc/self/fd), so that
//! llpar never changes the descriptor make and its other children share, and a worker waiting for
//! a token can give up when no chunk is left.
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

pub struct Jobserver {
    read: File,
    write: File,
}

impl std::fmt::Debug for Jobserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jobserver(read fd {})", self.read.as_raw_fd())
    }
}

/// A token taken from the jobserver; given back when dropped.
pub struct Token<'a> {
    jobserver: &'a Jobserver,
    byte: u8,
}

impl Drop for Token<'_> {
    fn drop(&mut self) {
        // make's tokens are bytes that must go back as they came.
        let _ = (&self.jobserver.write).write_all(&[self.byte]);
    }
}

/// Where MAKEFLAGS says the jobserver is.
#[derive(Debug, PartialEq, Eq)]
enum Auth {
    Fds(i32, i32),
    Fifo(String),
}

fn parse_makeflags(flags: &str) -> Option<Auth> {
    let value = flags
        .split_whitespace()
        .filter_map(|w| {
            w.strip_prefix("--jobserver-auth=")
                .or_else(|| w.strip_prefix("--jobserver-fds="))
        })
        .next_back()?;
    if let Some(path) = value.strip_prefix("fifo:") {
        return Some(Auth::Fifo(path.to_string()));
    }
    let (r, w) = value.split_once(',')?;
    Some(Auth::Fds(r.parse().ok()?, w.parse().ok()?))
}

impl Jobserver {
    /// The jobserver named by MAKEFLAGS (or CARGO_MAKEFLAGS), `Ok(None)` if there is none, an
    /// error if one is named but cannot be used (make did not pass its descriptors: the rule
    /// that runs llpar needs a `+` prefix or `$(MAKE)`).
    pub fn from_env() -> Result<Option<Jobserver>, String> {
        let flags = std::env::var("MAKEFLAGS")
            .or_else(|_| std::env::var("CARGO_MAKEFLAGS"))
            .unwrap_or_default();
        match parse_makeflags(&flags) {
            None => Ok(None),
            Some(Auth::Fifo(path)) => {
                let open = || {
                    OpenOptions::new()
                        .read(true)
                        .write(true)
                        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                        .open(&path)
                };
                match (open(), open()) {
                    (Ok(read), Ok(write)) => Ok(Some(Jobserver { read, write })),
                    (Err(e), _) | (_, Err(e)) => {
                        Err(format!("jobserver fifo {path} cannot be opened: {e}"))
                    }
                }
            }
            Some(Auth::Fds(r, w)) => {
                // SAFETY: fcntl(F_GETFD) only asks whether the descriptor is open.
                let open = |fd: i32| fd >= 0 && unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0;
                if !open(r) || !open(w) {
                    return Err(format!(
                        "MAKEFLAGS names jobserver descriptors {r},{w} that are not open \
                         (mark the make rule that runs llpar with '+')"
                    ));
                }
                let read = OpenOptions::new()
                    .read(true)
                    .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
                    .open(format!("/proc/self/fd/{r}"))
                    .map_err(|e| format!("jobserver descriptor {r} cannot be reopened: {e}"))?;
                // SAFETY: `w` is open (checked above); dup gives llpar its own descriptor, which
                // the File owns and closes.
                let write = unsafe {
                    let fd = libc::fcntl(w, libc::F_DUPFD_CLOEXEC, 0);
                    if fd < 0 {
                        return Err(format!("jobserver descriptor {w} cannot be duplicated"));
                    }
                    File::from_raw_fd(fd)
                };
                Ok(Some(Jobserver { read, write }))
            }
        }
    }

    /// A token if one is free now.
    pub fn try_acquire(&self) -> Option<Token<'_>> {
        let mut byte = [0u8];
        match (&self.read).read(&mut byte) {
            Ok(1) => Some(Token {
                jobserver: self,
                byte: byte[0],
            }),
            _ => None,
        }
    }

    /// Waits until a token may be free, or `timeout` passes.
    pub fn wait(&self, timeout: Duration) {
        let mut poll = libc::pollfd {
            fd: self.read.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd; poll only writes its revents.
        unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makeflags_forms() {
        assert_eq!(
            parse_makeflags(" -j2 --jobserver-auth=3,4"),
            Some(Auth::Fds(3, 4))
        );
        assert_eq!(
            parse_makeflags("-j --jobserver-fds=5,6 --jobserver-auth=7,8"),
            Some(Auth::Fds(7, 8))
        );
        assert_eq!(
            parse_makeflags("-j4 --jobserver-auth=fifo:/tmp/GMfifo1"),
            Some(Auth::Fifo("/tmp/GMfifo1".into()))
        );
        assert_eq!(parse_makeflags("-k -j"), None);
        assert_eq!(parse_makeflags(""), None);
    }
}
