//! llpar: LLVM optimization and code generation of one module on every core.
//!
//! The public API is small:
//! - [`run`] (with [`Options`], [`EmitKind`], [`PipelineRequest`], [`TargetOptions`],
//!   [`PlanOptions`]) optimizes a module given as bytes, and returns the output bytes and
//!   [`Stats`];
//! - [`units::split`] and [`units::merge`] cut a module into codegen units that compile alone
//!   (`llpar split`) and link them back (`llpar merge`);
//! - [`Error`] is every failure.
//!
//! Inside, the stages each handle one module: `plan` chunks of functions, `split` the module into
//! chunk modules, run the function passes on `worker` threads, `merge` the results back, and the
//! `engine` that strings them together with the module-level passes and emission. All calls into
//! LLVM go through the internal `llvm` module.
#![warn(clippy::undocumented_unsafe_blocks)]

/// `eprintln!` that never panics: a closed or full stderr must not turn a message, or the
/// report of a failure, into a panic (which inside the panic hook aborts).
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod admission;
mod cache;
mod cleanup;
mod codegen;
mod crash;
mod dwarf;
mod elf;
mod engine;
pub mod error;
mod jobserver;
mod llvm;
mod merge;
mod options;
mod parallel;
mod pipeline;
mod plan;
mod remote;
mod split;
mod stats;
mod trace;
pub mod units;
mod worker;

pub use cache::Cache;
pub use engine::run;
pub use error::{Error, ErrorKind, Result};
pub use jobserver::Jobserver;
pub use llvm::{RelocModel, TargetOptions};
pub use options::{EmitKind, Options};
pub use pipeline::PipelineRequest;
pub use plan::{PlanOptions, Strategy};
pub use remote::{Remote, RemoteSummary};
pub use stats::{Copies, ParallelPhase, Stats};

/// Process setup for a program built on llpar, first thing in `main` (before any other thread
/// exists): SIGINT, SIGTERM and SIGHUP remove the files registered with
/// [`register_temporary_file`] before the process exits, and a crash inside LLVM is reported
/// with what it was working on (and a reproducer) instead of a bare signal.
pub fn install_signal_handlers() {
    cleanup::install();
    crash::install_crash_handler();
}

/// For a program built on llpar: a panic (a bug in llpar) is reported like any failure, as one
/// line on stderr naming the place, with the registered temporary files removed and exit status
/// 1, instead of Rust's backtrace and status 101.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        crash::claim_exit();
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        note!("llpar: error: internal error: {message}{place}");
        cleanup::remove_all_after_crash();
        std::process::exit(1);
    }));
}

/// Removes `path` (a file or a directory) if the process is interrupted or LLVM crashes, until
/// [`unregister_temporary_file`].
pub fn register_temporary_file(path: &std::path::Path) {
    cleanup::register(path);
}

/// Stops removing `path` on interruption.
pub fn unregister_temporary_file(path: &std::path::Path) {
    cleanup::unregister(path);
}

/// Records a Chrome trace (as `clang -ftime-trace` does) of what follows: phases, chunks and
/// every pass run on a function that lasts at least `granularity_us` microseconds.
pub fn enable_time_trace(granularity_us: u64) {
    trace::set_granularity(granularity_us);
    trace::enable();
}

/// The trace recorded since [`enable_time_trace`], as JSON; `None` if none was enabled.
pub fn time_trace_json() -> Option<String> {
    trace::to_json()
}

/// For `main` of the `llpar` executable: when `args` (the whole command line) ask for the hidden
/// chunk-worker mode that `--isolate` starts, runs it and returns the process's exit status;
/// otherwise `None`. Installs the crash handler in that case.
#[doc(hidden)]
pub fn chunk_worker_main(args: &[String]) -> Option<i32> {
    if args.get(1).map(String::as_str) != Some(worker::CHILD_ARG) {
        return None;
    }
    crash::install_crash_handler();
    Some(worker::child_main(&args[2..]))
}

/// The serial reference for benchmarks: parses `input`, runs `pipeline` on the whole module at
/// once (as `opt` does) and writes bitcode, or, for [`EmitKind::Object`], an object file.
#[doc(hidden)]
pub fn serial_reference(
    input: &[u8],
    pipeline: &str,
    target: &TargetOptions,
    emit: EmitKind,
) -> std::result::Result<Vec<u8>, String> {
    llvm::initialize();
    let context = inkwell::context::Context::create();
    let mut module = llvm::parse_input(&context, input, "input")?.module;
    let triple = target
        .triple
        .clone()
        .unwrap_or_else(|| llvm::module_triple(&module));
    let machine = llvm::target_machine(target, &triple)?;
    if !pipeline.is_empty() {
        llvm::run_passes(&mut module, pipeline, machine.as_ref(), None)?;
    }
    match (emit, &machine) {
        (EmitKind::Object, Some(machine)) => llvm::emit(&mut module, machine, true),
        (EmitKind::Object, None) => Err("no target triple".into()),
        _ => Ok(llvm::write_bitcode(&module)),
    }
}
