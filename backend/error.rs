//! Errors: one line each, naming the file, chunk, function or pass, and what is wrong.
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The command line asks for something impossible (exit code 2).
    Usage,
    /// The input, the pipeline, LLVM or the output failed (exit code 1).
    Failure,
}

#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn usage(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Usage,
            message: message.into(),
        }
    }
    pub fn failure(message: impl Into<String>) -> Self {
        Error {
            kind: ErrorKind::Failure,
            message: message.into(),
        }
    }
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage => 2,
            ErrorKind::Failure => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line, whatever LLVM's message looked like (its source excerpt and caret are dropped).
        let first = self
            .message
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("unknown error");
        write!(f, "{first}")?;
        Ok(())
    }
}

impl std::error::Error for Error {}

pub type Result<T> = std::result::Result<T, Error>;
