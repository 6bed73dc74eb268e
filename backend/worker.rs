//! Workers: threads that each optimize whole chunks, one at a time, in a fresh LLVM context.
//!
//! Architecture invariant: only bytes cross threads. A job is a chunk's bitcode, a result is the
//! optimized chunk's bitcode (or an error message); every LLVM object a worker creates lives and
//! dies on its thread. A fresh context per chunk keeps a chunk's output independent of which
//! chunks the same thread handled before, so the bytes never depend on scheduling.
use crate::llvm::{self, TargetOptions};
use crate::trace;
use crossbeam_channel::{Receiver, Sender};
use inkwell::context::Context;
use std::time::{Duration, Instant};

pub struct Job {
    pub index: usize,
    pub bitcode: Vec<u8>,
    pub description: String,
    /// (promoted name, own name) of the chunk's promoted functions, so messages use own names.
    pub promoted_names: Vec<(String, String)>,
}

pub struct Done {
    pub index: usize,
    pub result: Result<Vec<u8>, String>,
    /// Time spent on this chunk (parse, passes, write).
    pub busy: Duration,
}

/// What a worker does to a chunk.
#[derive(Clone, Debug)]
pub enum Task {
    /// Run this function pipeline, and send back the optimized chunk's bitcode.
    Optimize(String),
    /// Run this pipeline first, if any, then generate code, and send back an object file.
    Codegen(Option<String>),
}

impl Task {
    /// How `--save-temps` names a chunk's result.
    pub fn temp_suffix(&self) -> &'static str {
        match self {
            Task::Optimize(_) => "opt.bc",
            Task::Codegen(_) => "o",
        }
    }
}

/// What every worker does to a chunk.
#[derive(Clone)]
pub struct WorkerConfig {
    pub task: Task,
    pub target: TargetOptions,
    /// The triple the target machine is built for (the module's, or `--mtriple`).
    pub triple: String,
    /// Verify each chunk before and after its passes.
    pub verify: bool,
}

/// Runs jobs from `jobs` until the channel closes, sending one `Done` per job.
pub fn work(worker: usize, config: &WorkerConfig, jobs: Receiver<Job>, results: Sender<Done>) {
    trace::name_thread(&format!("worker {worker}"));
    let machine = llvm::target_machine(&config.target, &config.triple);
    for job in jobs {
        let start = Instant::now();
        let span = trace::span(job.description.clone());
        llvm::set_current_names(&job.promoted_names);
        llvm::set_current_work(match &config.task {
            Task::Optimize(pipeline) => format!("{} running '{pipeline}'", job.description),
            Task::Codegen(None) => format!("{}: generating code", job.description),
            Task::Codegen(Some(pipeline)) => format!(
                "{} running '{pipeline}' and generating code",
                job.description
            ),
        });
        let result = match &machine {
            Ok(machine) => optimize_chunk(config, machine.as_ref(), &job),
            Err(e) => Err(e.clone()),
        };
        let result = result.map_err(|e| llvm::with_own_names(&e));
        drop(span);
        llvm::set_current_work("");
        llvm::set_current_names(&[]);
        let done = Done {
            index: job.index,
            result: result.map_err(|e| format!("{}: {e}", job.description)),
            busy: start.elapsed(),
        };
        if results.send(done).is_err() {
            return;
        }
    }
}

fn optimize_chunk(
    config: &WorkerConfig,
    machine: Option<&inkwell::targets::TargetMachine>,
    job: &Job,
) -> Result<Vec<u8>, String> {
    let context = Context::create();
    let module = llvm::parse(&context, &job.bitcode, &format!("chunk{}", job.index))?;
    let pipeline = match &config.task {
        Task::Optimize(pipeline) => Some(pipeline),
        Task::Codegen(pipeline) => pipeline.as_ref(),
    };
    if let Some(pipeline) = pipeline {
        llvm::run_passes(&module, pipeline, machine)
            .map_err(|e| format!("pipeline '{pipeline}': {e}"))?;
    }
    // Only now is the chunk a valid module (see `llpar_finish_chunk`), so only now is it verified.
    llvm::finish_chunk(&module);
    if config.verify {
        llvm::verify(&module).map_err(|e| format!("optimized chunk fails the verifier: {e}"))?;
    }
    match &config.task {
        Task::Optimize(_) => Ok(llvm::write_bitcode(&module)),
        Task::Codegen(_) => {
            let machine = machine.ok_or("no target triple to generate code for (use --mtriple)")?;
            llvm::emit(&module, machine, true).map_err(|e| format!("code generation: {e}"))
        }
    }
}
