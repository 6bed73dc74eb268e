//! Code generation in parallel: each chunk becomes an object file on a worker (a target machine
//! per worker), the home module (variables, aliases of variables, constructors, module asm) one
//! more on the calling thread, and `ld.lld -r` joins them, in chunk order, into one relocatable
//! object. Symbols that were local in the input were promoted to hidden ones so that objects
//! can refer to each other; `llvm-objcopy` makes them local again under their own names.
use crate::crash;
use crate::error::{Error, Result};
use crate::llvm::{self, TargetOptions};
use crate::options::Options;
use crate::parallel;
use crate::split::{self, Purpose};
use crate::stats::Stats;
use crate::worker::{Task, WorkerConfig};
use inkwell::module::Module;
use inkwell::targets::TargetMachine;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// LLVM's tools, from the version llpar was built against.
fn llvm_tool(name: &str) -> PathBuf {
    Path::new(env!("LLPAR_LLVM_BIN")).join(name)
}

/// A scratch directory removed when dropped, whatever happened.
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("llpar-{}-{n}", std::process::id()));
        crate::cleanup::register(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        crate::cleanup::unregister(&self.0);
    }
}

/// Generates one relocatable object for `module`, compiling its chunks in parallel, after running
/// `pipeline` on each chunk when given. The module is consumed in the process (its function
/// bodies move to the chunks).
#[allow(clippy::too_many_arguments)]
pub fn emit_object(
    module: &mut Module,
    pipeline: Option<String>,
    machine: &TargetMachine,
    target: &TargetOptions,
    triple: &str,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
) -> Result<Vec<u8>> {
    let t = Instant::now();
    let mut split = split::prepare(module, options.plan, Purpose::Codegen);
    stats.add("split", t.elapsed());
    if split.chunks.is_empty() {
        return emit_whole(&split, module, pipeline.as_deref(), machine, input_name);
    }
    // Only chunks declare the shared debug types, so only a split module lists them.
    let t = Instant::now();
    llvm::retain_shared_types(module);
    stats.add("split", t.elapsed());
    let config = WorkerConfig {
        task: Task::Codegen(pipeline),
        before_imports: None,
        target: target.clone(),
        triple: triple.to_string(),
        verify: options.verify_each,
        crash_dir: options.crash_dir.clone(),
        isolate: options.isolate.clone(),
        inline_level: None,
        remarks: options.remarks.clone(),
        cache: options.cache.clone(),
        remote: options.remote.clone(),
        remote_fallback: options.remote_fallback,
    };
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let mut home_object = Vec::new();
    parallel::process_chunks(
        &mut split,
        module,
        &config,
        options,
        input_name,
        stats,
        |module| {
            home_object = emit_home(module, machine, input_name)?;
            Ok(|_, object| {
                objects.push(object);
                Ok(())
            })
        },
    )?;
    join(&split, &objects, &home_object, input_name, stats)
}

/// A module with no function to cut into chunks, compiled whole after `pipeline`.
fn emit_whole<'c>(
    split: &split::Split<'c>,
    module: &mut Module<'c>,
    pipeline: Option<&str>,
    machine: &TargetMachine,
    input_name: &str,
) -> Result<Vec<u8>> {
    split.restore.apply(module);
    if let Some(p) = pipeline {
        llvm::run_passes(module, p, Some(machine), None)
            .map_err(|e| Error::failure(format!("{input_name}: pipeline '{p}': {e}")))?;
    }
    llvm::emit(module, machine, true)
        .map_err(|e| Error::failure(format!("{input_name}: code generation: {e}")))
}

/// The home module's object, once its chunks' bodies are gone.
fn emit_home(
    module: &mut Module,
    machine: &TargetMachine,
    input_name: &str,
) -> std::result::Result<Vec<u8>, String> {
    crash::set_current_work(format!("{input_name}: generating code for the home module"));
    llvm::emit(module, machine, true).map_err(|e| format!("{input_name}: code generation: {e}"))
}

/// With `--inliner=parallel`: each chunk of the call-graph walk, once `walk` has run on it,
/// goes on in a job of its own to `pipeline` and code generation, so the walk's results are
/// never merged home (see `pipeline::after_walk_per_chunk`). The chunks are planned for code
/// generation (comdat groups, aliases and `llvm.used` entries with their functions).
#[allow(clippy::too_many_arguments)]
pub fn emit_object_along_walk(
    module: &mut Module,
    walk: &WorkerConfig,
    pipeline: String,
    machine: &TargetMachine,
    options: &Options,
    input_name: &str,
    stats: &mut Stats,
) -> Result<Vec<u8>> {
    let t = Instant::now();
    let mut split = split::prepare_walk(module, options.plan, Purpose::Codegen);
    stats.add("split", t.elapsed());
    if split.chunks.is_empty() {
        // No function definitions: the walk has nothing to do, the passes after it still run.
        return emit_whole(&split, module, Some(&pipeline), machine, input_name);
    }
    let t = Instant::now();
    llvm::retain_shared_types(module);
    stats.add("split", t.elapsed());
    // The output is verified chunk by chunk (it never exists as one module).
    let codegen = WorkerConfig {
        task: Task::Codegen(Some(pipeline)),
        before_imports: None,
        inline_level: None,
        verify: true,
        ..walk.clone()
    };
    let deps = split.walk_deps();
    let mut objects: Vec<Vec<u8>> = Vec::new();
    let mut home_object = Vec::new();
    parallel::process_dag(
        &mut split,
        module,
        &deps,
        &[walk.clone(), codegen],
        options,
        input_name,
        stats,
        |module| {
            // An unused hidden declaration still becomes an undefined symbol of the home object,
            // and the chunk that owned the function may have dropped it (`worker::without_unused`).
            llvm::erase_unused_declarations(module);
            llvm::verify(module)
                .map_err(|e| format!("{input_name}: the home module fails the verifier: {e}"))?;
            home_object = emit_home(module, machine, input_name)?;
            Ok(|_, object| {
                objects.push(object);
                Ok(())
            })
        },
    )?;
    join(&split, &objects, &home_object, input_name, stats)
}

/// The chunks' objects and the home module's as one object: linked, local symbols restored,
/// one compile unit per source.
fn join(
    split: &split::Split,
    objects: &[Vec<u8>],
    home_object: &[u8],
    input_name: &str,
    stats: &mut Stats,
) -> Result<Vec<u8>> {
    let t = Instant::now();
    let _span = crate::trace::span("link objects");
    let renames: Vec<(&[u8], Vec<u8>)> = split.restore.object_symbol_names().collect();
    let combined = link_objects(objects, home_object, &renames)
        .map_err(|e| Error::failure(format!("{input_name}: {e}")))?;
    stats.add("link objects", t.elapsed());
    Ok(one_unit_per_source(combined, stats))
}

/// Joins each source's compile units (one per chunk) into one, as a serial build has it. What
/// the linker cannot rewrite stays as it is: many units per source are still valid DWARF.
fn one_unit_per_source(object: Vec<u8>, stats: &mut Stats) -> Vec<u8> {
    let t = Instant::now();
    let _span = crate::trace::span("link debug info");
    let result = crate::dwarf::merge_units(&object);
    stats.add("link debug info", t.elapsed());
    match result {
        Ok(None) => object,
        Ok(Some((merged, counts))) => {
            stats.debug_units = Some(Ok((counts.units_before, counts.units_after)));
            merged
        }
        Err(reason) => {
            stats.debug_units = Some(Err(reason));
            object
        }
    }
}

fn run_tool(command: &mut Command) -> std::result::Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("cannot run {:?}: {e}", command.get_program()))?;
    if out.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&out.stderr);
        Err(format!(
            "{} failed: {}",
            Path::new(command.get_program()).display(),
            stderr.lines().next().unwrap_or("")
        ))
    }
}

/// Joins the chunks' objects and the home object with `ld.lld -r`, then makes promoted symbols
/// local again under their original names.
fn link_objects(
    objects: &[Vec<u8>],
    home: &[u8],
    renames: &[(&[u8], Vec<u8>)],
) -> std::result::Result<Vec<u8>, String> {
    let scratch =
        ScratchDir::new().map_err(|e| format!("cannot create a scratch directory: {e}"))?;
    let dir = &scratch.0;
    let mut inputs = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        let path = dir.join(format!("chunk{i}.o"));
        std::fs::write(&path, object).map_err(|e| format!("{}: {e}", path.display()))?;
        inputs.push(path);
    }
    let home_path = dir.join("home.o");
    std::fs::write(&home_path, home).map_err(|e| format!("{}: {e}", home_path.display()))?;
    inputs.push(home_path);
    let combined = dir.join("combined.o");
    run_tool(
        Command::new(llvm_tool("ld.lld"))
            .arg("-r")
            .args(&inputs)
            .arg("-o")
            .arg(&combined),
    )?;
    if !renames.is_empty() {
        let mut localize = Vec::new();
        let mut redefine = Vec::new();
        for (promoted, original) in renames {
            localize.extend_from_slice(promoted);
            localize.push(b'\n');
            if !original.is_empty() && !original.iter().any(|b| b.is_ascii_whitespace()) {
                redefine.extend_from_slice(promoted);
                redefine.push(b' ');
                redefine.extend_from_slice(original);
                redefine.push(b'\n');
            }
        }
        let (localize_file, redefine_file) = (dir.join("localize.txt"), dir.join("redefine.txt"));
        std::fs::write(&localize_file, localize).map_err(|e| e.to_string())?;
        std::fs::write(&redefine_file, redefine).map_err(|e| e.to_string())?;
        run_tool(
            Command::new(llvm_tool("llvm-objcopy"))
                .arg(format!("--localize-symbols={}", localize_file.display()))
                .arg(format!("--redefine-syms={}", redefine_file.display()))
                .arg(&combined),
        )?;
    }
    std::fs::read(&combined).map_err(|e| format!("{}: {e}", combined.display()))
}
