//! The LLVM boundary: every `unsafe` call into LLVM (llvm-sys, inkwell's raw handles, the C++ shim)
//! lives in this module, and every function here is safe to call with any arguments.
//!
//! Soundness rules, which the types enforce:
//! - a `GlobalRef<'m>` or `ComdatRef<'m>` borrows its module (`&'m Module`), so it cannot outlive
//!   it; struct types (`StructTypes<'c>`) live as long as their context;
//! - whatever can erase a global value or a comdat (running passes, generating code, linking into
//!   a module, erasing globals or comdats) takes the module as `&mut Module`, so no handle to it can
//!   be alive meanwhile; what only renames, relinks or rewrites bodies takes `&Module`;
//! - a function that takes a module and handles checks that the handles belong to that module (and
//!   are of the kind the C++ side casts them to), and panics otherwise;
//! - LLVM objects never leave their thread (the raw handles are neither `Send` nor `Sync`).
mod ffi;

use inkwell::context::{AsContextRef, Context};
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;
use llvm_sys::comdat::{LLVMGetComdat, LLVMGetOrInsertComdat, LLVMSetComdat};
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMLinkage, LLVMVisibility};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::marker::PhantomData;
use std::os::raw::{c_char, c_int};
use std::sync::Once;

pub use llvm_sys::LLVMLinkage as Linkage;
pub use llvm_sys::LLVMVisibility as Visibility;

/// A global value (function, variable, alias, ifunc) of a module borrowed for `'m`. Only made
/// from a live global of that module; the borrow keeps the module alive, and since everything that
/// erases globals takes `&mut Module`, the global too.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct GlobalRef<'m> {
    raw: LLVMValueRef,
    _module: PhantomData<&'m ()>,
}

/// A comdat of a module borrowed for `'m` (comdats are erased only by `erase_unused_comdats`,
/// which takes `&mut Module`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ComdatRef<'m> {
    raw: LLVMComdatRef,
    /// The module whose comdat table holds it.
    module: LLVMModuleRef,
    _module: PhantomData<&'m ()>,
}

impl<'m> GlobalRef<'m> {
    /// `raw` must be null or a live global value of a module borrowed for `'m` (private: only this
    /// module makes handles, from values it reads out of such a module).
    fn from_raw(raw: LLVMValueRef) -> Option<Self> {
        (!raw.is_null()).then_some(GlobalRef {
            raw,
            _module: PhantomData,
        })
    }
}

thread_local! {
    /// Promoted names in the current thread's chunk and the own names they stand for.
    static CURRENT_NAMES: RefCell<Vec<(String, String)>> = const { RefCell::new(Vec::new()) };
}

/// Tells messages from this thread (LLVM's fatal errors included) which promoted names to
/// show as the functions' own names.
pub fn set_current_names(names: &[(String, String)]) {
    CURRENT_NAMES.with(|n| *n.borrow_mut() = names.to_vec());
}

/// `message` with the current chunk's promoted names replaced by the functions' own names.
pub fn with_own_names(message: &str) -> String {
    CURRENT_NAMES.with(|names| {
        let mut out = message.to_string();
        // Longest first, so that `__llpar.local.12` is not taken for `__llpar.local.1`.
        let mut names = names.borrow().clone();
        names.sort_by_key(|(promoted, _)| std::cmp::Reverse(promoted.len()));
        for (promoted, own) in &names {
            if out.contains(promoted.as_str()) {
                out = out.replace(promoted.as_str(), own);
            }
        }
        out
    })
}

extern "C" fn on_fatal_error(reason: *const c_char) {
    crate::crash::claim_exit();
    // SAFETY: LLVM passes a NUL-terminated message that lives for the duration of the call.
    let reason = unsafe { CStr::from_ptr(reason) }
        .to_string_lossy()
        .into_owned();
    let work = crate::crash::current_work();
    let work = if work.is_empty() {
        String::new()
    } else {
        format!("{work}: ")
    };
    let reproducer = crate::crash::write_reproducer();
    eprintln!(
        "llpar: error: {work}LLVM fatal error: {}{reproducer}",
        with_own_names(reason.trim_end())
    );
    crate::cleanup::remove_all_after_crash();
    // Other threads may be inside LLVM: leave without running static destructors under them.
    // SAFETY: _exit ends the process immediately; no Rust state is observed afterwards.
    unsafe { libc::_exit(1) }
}

/// Initializes LLVM's targets and installs the fatal error handler; idempotent, call before threads.
pub fn initialize() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        Target::initialize_all(&InitializationConfig::default());
        // LLVM's readers verify every module with debug info they load and end the process,
        // after printing the verifier's report, when it is broken; `parse_input` does the same
        // upgrade without ending anything, so that a broken input is one error line.
        let args = [
            c"llpar".as_ptr(),
            c"-disable-auto-upgrade-debug-info".as_ptr(),
        ];
        // SAFETY: two NUL-terminated strings that outlive the call; this runs once, before any
        // other thread uses LLVM (LLVM's options are process-wide).
        unsafe {
            llvm_sys::support::LLVMParseCommandLineOptions(
                args.len() as i32,
                args.as_ptr(),
                std::ptr::null(),
            )
        };
        // SAFETY: the handlers are plain functions with the signatures LLVM and the shim expect;
        // both end the process.
        unsafe {
            llvm_sys::error_handling::LLVMInstallFatalErrorHandler(Some(on_fatal_error));
            ffi::llpar_install_bad_alloc_handler(on_fatal_error);
        }
    });
}

/// Parses bitcode or textual IR (told apart by content) into `context`. The error is LLVM's own
/// diagnostic, which names `name` and, for textual IR, the line and column.
pub fn parse<'c>(context: &'c Context, bytes: &[u8], name: &str) -> Result<Module<'c>, String> {
    let buffer = MemoryBuffer::create_from_memory_range_copy(bytes, name);
    context.create_module_from_ir(buffer).map_err(|e| {
        // LLVM's diagnostic reads "NAME:LINE:COL: error: MESSAGE" and, for IR, goes on with
        // the source line and a caret: one line, without the second "error:", is enough.
        first_line(&e.to_string()).replacen(": error: ", ": ", 1)
    })
}

/// Parses a module given to llpar (not one it wrote), then treats its debug info as LLVM's
/// readers would (`llpar_upgrade_debug_info`): invalid debug info, or debug info of another
/// version, is stripped with a warning on stderr, as `opt` does. The flag tells whether the
/// module was verified on the way and found valid.
pub fn parse_input<'c>(
    context: &'c Context,
    bytes: &[u8],
    name: &str,
) -> Result<Parsed<'c>, String> {
    let module = parse(context, bytes, name)?;
    // SAFETY: the module was just made and is owned by this thread.
    let rc = unsafe { ffi::llpar_upgrade_debug_info(module.as_mut_ptr()) };
    let warning = match rc {
        1 => Some(format!("{name}: ignoring invalid debug info")),
        2 => Some(format!("{name}: ignoring debug info of another version")),
        _ => None,
    };
    Ok(Parsed {
        module,
        verified: rc == 3,
        warning,
    })
}

/// An input module as `parse_input` read it.
pub struct Parsed<'c> {
    pub module: Module<'c>,
    /// Whether reading it ran the verifier already (debug info is checked that way).
    pub verified: bool,
    /// What was dropped while reading, as `opt` would warn about it (stripped debug info).
    pub warning: Option<String>,
}

/// Imports into `module` from each of `dependencies` (the bitcode of a finished chunk, and
/// the functions of it the module calls): the attributes of those functions, and the bodies of
/// those of at most `limit` instructions, as `available_externally` definitions that passes
/// skip (see `llpar_import_all`).
pub fn import_all(
    module: &Module,
    dependencies: &[(&[u8], &[String])],
    limit: u64,
) -> Result<(), String> {
    let bytes: Vec<*const c_char> = dependencies
        .iter()
        .map(|(b, _)| b.as_ptr().cast())
        .collect();
    let lens: Vec<usize> = dependencies.iter().map(|(b, _)| b.len()).collect();
    let all_names = dependencies.iter().flat_map(|(_, names)| names.iter());
    let names: Vec<*const c_char> = all_names.clone().map(|n| n.as_ptr().cast()).collect();
    let name_lens: Vec<usize> = all_names.map(String::len).collect();
    let per_dep: Vec<usize> = dependencies.iter().map(|(_, names)| names.len()).collect();
    let mut error = std::ptr::null_mut();
    // SAFETY: the module is alive and owned by the calling thread; the arrays, the bytes and
    // the names they point to outlive the call, each array as long as the counts say (names
    // with their lengths, not NUL-terminated); the shim reads the bytes lazily only during the
    // call, and returns an error allocated with strdup, which take_message_malloc frees once.
    let rc = unsafe {
        ffi::llpar_import_all(
            module.as_mut_ptr(),
            dependencies.len(),
            bytes.as_ptr(),
            lens.as_ptr(),
            names.as_ptr(),
            name_lens.as_ptr(),
            per_dep.as_ptr(),
            limit.min(u64::from(u32::MAX)) as u32,
            &mut error,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(take_message_malloc(error))
    }
}

/// After `import_all`: the compile units the imports brought along are folded into the
/// chunk's own (every reference repointed, the copies dropped from `llvm.dbg.cu`).
pub fn dedupe_debug_units(module: &Module) {
    // SAFETY: the module is alive and owned by the calling thread.
    unsafe { ffi::llpar_dedupe_debug_units(module.as_mut_ptr()) }
}

/// Before a module is cut into chunks for code generation: its debug compile unit (if it is one
/// C or C++ unit) retains the named types that `declare_shared_types` will make chunks declare,
/// so that the home object defines each of them once.
pub fn retain_shared_types(module: &Module) {
    // SAFETY: the module is alive and owned by the calling thread.
    unsafe { ffi::llpar_retain_shared_types(module.as_mut_ptr()) }
}

/// Once a chunk for code generation is read, before its passes: the named types the home
/// object defines (see `retain_shared_types`) are only declared in the chunk's debug info.
pub fn declare_shared_types(module: &Module) {
    // SAFETY: the module is alive and owned by the calling thread.
    unsafe { ffi::llpar_declare_shared_types(module.as_mut_ptr()) }
}

/// Turns a walk's result into what the chunks importing from it read: see `llpar_exports` in
/// the shim.
pub fn exports(module: &mut Module, limit: u64) {
    // SAFETY: the module is alive and owned by the calling thread (`&mut`), and no Rust handle
    // to a global it may erase outlives the call.
    unsafe { ffi::llpar_exports(module.as_mut_ptr(), limit.min(u64::from(u32::MAX)) as u32) }
}

/// Readies an optimized chunk for linking: see `llpar_finish_chunk` in the shim.
pub fn finish_chunk(module: &Module) {
    // SAFETY: the module is alive and owned by the calling thread.
    unsafe { ffi::llpar_finish_chunk(module.as_mut_ptr()) }
}

/// Bitcode of `module`, with its use-list order recorded (as `opt` writes it), so that a module
/// read back behaves under the passes exactly as the one written.
pub fn write_bitcode(module: &Module) -> Vec<u8> {
    // SAFETY: the module is alive; the shim returns a memory buffer that MemoryBuffer owns.
    let buffer = unsafe { MemoryBuffer::new(ffi::llpar_write_bitcode(module.as_mut_ptr())) };
    buffer.as_slice().to_vec()
}

pub fn print_ir(module: &Module) -> String {
    module.print_to_string().to_string()
}

/// Verifies `module`; an error is the verifier's first finding, with the value it names.
pub fn verify(module: &Module) -> Result<(), String> {
    module.verify().map_err(|e| {
        let text = e.to_string();
        let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
        match (lines.next(), lines.next()) {
            (Some(first), Some(value)) if value.len() <= 200 => format!("{first} ({value})"),
            (first, _) => first.unwrap_or("").to_string(),
        }
    })
}

fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// One pass run on one function (or module, loop, SCC), as LLVM's time-trace profiler saw it.
pub struct PassEvent {
    /// Microseconds since `time_trace_begin`.
    pub start_us: u64,
    pub dur_us: u64,
    /// The pass, e.g. `InstCombinePass`.
    pub name: String,
    /// What it ran on, e.g. the function's name.
    pub detail: String,
}

/// Starts LLVM's time-trace profiler on this thread: every pass run lasting at least
/// `granularity_us` is recorded until `time_trace_end`.
pub fn time_trace_begin(granularity_us: u32) {
    // SAFETY: initializes this thread's profiler; ended by `time_trace_end` on the same thread.
    unsafe { ffi::llpar_time_trace_begin(granularity_us) }
}

/// Ends this thread's profiler and returns what it recorded.
pub fn time_trace_end() -> Vec<PassEvent> {
    // SAFETY: the shim returns a malloc'ed, NUL-terminated string, freed here.
    let text = unsafe {
        let ptr = ffi::llpar_time_trace_end();
        let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        libc::free(ptr.cast());
        text
    };
    text.lines()
        .filter_map(|line| {
            let mut fields = line.splitn(4, '\t');
            Some(PassEvent {
                start_us: fields.next()?.parse().ok()?,
                dur_us: fields.next()?.parse().ok()?,
                name: fields.next()?.to_string(),
                detail: fields.next().unwrap_or("").to_string(),
            })
        })
        .collect()
}

/// The optimization remarks emitted in one context (`--pass-remarks-output`), as YAML, until
/// dropped. Borrowing the context keeps the stream from outliving it: LLVM's streamer, which
/// the context holds, writes into the stream's buffer.
pub struct RemarkStream<'c> {
    handle: *mut std::os::raw::c_void,
    _context: PhantomData<&'c Context>,
}

impl<'c> RemarkStream<'c> {
    /// Streams the remarks of the passes whose names match `filter` (a regex; empty for all).
    pub fn start(context: &'c Context, filter: &str) -> Result<Self, String> {
        let filter = CString::new(filter).map_err(|_| "remark filter contains a NUL byte")?;
        let mut error: *mut c_char = std::ptr::null_mut();
        // SAFETY: the context is alive for 'c and used on this thread; the filter outlives the
        // call; on failure the shim returns null and a strdup'ed message freed here.
        let handle =
            unsafe { ffi::llpar_remarks_start(context.as_ctx_ref(), filter.as_ptr(), &mut error) };
        if handle.is_null() {
            return Err(take_message_malloc(error));
        }
        Ok(RemarkStream {
            handle,
            _context: PhantomData,
        })
    }

    /// The remarks emitted since the last call: whole YAML documents, one per remark.
    pub fn take(&mut self) -> Vec<u8> {
        let mut len = 0usize;
        // SAFETY: the handle is live until drop; the shim returns a malloc'ed buffer of `len`
        // bytes, copied and freed here.
        unsafe {
            let ptr = ffi::llpar_remarks_take(self.handle, &mut len);
            let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len).to_vec();
            libc::free(ptr.cast());
            bytes
        }
    }
}

impl Drop for RemarkStream<'_> {
    fn drop(&mut self) {
        // SAFETY: the handle is disposed exactly once, while its context is still alive (the
        // borrow of 'c outlives self).
        unsafe { ffi::llpar_remarks_end(self.handle) }
    }
}

/// Renames the arguments, blocks and instructions whose names passes derived from a promoted
/// global's name (`prefix` and what follows it, a key of `own_names`) after its own name.
pub fn rename_derived_values(m: &Module, prefix: &str, own_names: &[(&[u8], &[u8])]) {
    let to_c = |b: &[u8]| CString::new(b).unwrap_or_default();
    let promoted: Vec<CString> = own_names.iter().map(|(p, _)| to_c(p)).collect();
    let own: Vec<CString> = own_names.iter().map(|(_, o)| to_c(o)).collect();
    let promoted_ptrs: Vec<*const c_char> = promoted.iter().map(|c| c.as_ptr()).collect();
    let own_ptrs: Vec<*const c_char> = own.iter().map(|c| c.as_ptr()).collect();
    let prefix = to_c(prefix.as_bytes());
    // SAFETY: the module is alive and used on this thread only; every string is NUL-terminated
    // and outlives the call, and both arrays hold `own_names.len()` pointers.
    unsafe {
        ffi::llpar_rename_derived_values(
            m.as_mut_ptr(),
            prefix.as_ptr(),
            promoted_ptrs.as_ptr(),
            own_ptrs.as_ptr(),
            own_names.len(),
        )
    }
}

/// Runs a pipeline in the new pass manager's textual syntax on `module` (which may erase globals:
/// hence `&mut`). `inline_level` (speed and size level of `-O<n>`) gives the inliner that level's
/// parameters, as `default<On>` does.
pub fn run_passes(
    module: &mut Module,
    pipeline: &str,
    machine: Option<&TargetMachine>,
    inline_level: Option<(u8, u8)>,
) -> Result<(), String> {
    let pipeline =
        CString::new(pipeline).map_err(|_| "pipeline contains a NUL byte".to_string())?;
    let (speed, size) = inline_level.map_or((-1, 0), |(speed, size)| (c_int::from(speed), size));
    let tm = machine.map_or(std::ptr::null_mut(), |m| m.as_mut_ptr());
    // SAFETY: module and machine are live handles owned by the caller, used on this thread only;
    // the pipeline is a NUL-terminated string that outlives the call; the shim returns null or
    // a message allocated with strdup, which take_message_malloc frees once.
    let error = unsafe {
        ffi::llpar_run_passes(
            module.as_mut_ptr(),
            pipeline.as_ptr(),
            tm,
            speed,
            size.into(),
        )
    };
    if error.is_null() {
        Ok(())
    } else {
        Err(take_message_malloc(error))
    }
}

/// Links many modules, one after another, into one destination module. Linking replaces (erases)
/// declarations of the destination that a source defines, so the linker borrows it mutably: no
/// handle to the destination's globals exists while it lives.
pub struct Linker<'m, 'c> {
    dest: &'m mut Module<'c>,
    raw: *mut std::os::raw::c_void,
}

impl<'m, 'c> Linker<'m, 'c> {
    pub fn new(dest: &'m mut Module<'c>) -> Self {
        // SAFETY: `dest` is a live module; the linker refers to it, and the borrow keeps it alive
        // (and its context, which the linker's state refers to) longer than the linker.
        let raw = unsafe { ffi::llpar_linker_create(dest.as_mut_ptr()) };
        Linker { dest, raw }
    }

    /// The destination module.
    pub fn dest(&self) -> &Module<'c> {
        self.dest
    }

    /// Links `source` (consumed) into the destination; a source of another context is refused.
    pub fn link(&mut self, source: Module<'c>) -> Result<(), String> {
        // SAFETY: both modules are alive; reading their contexts has no other effect.
        let same_context = unsafe {
            LLVMGetModuleContext(source.as_mut_ptr())
                == LLVMGetModuleContext(self.dest.as_mut_ptr())
        };
        if !same_context {
            return Err("the module to link belongs to another LLVM context".into());
        }
        let raw_source = source.as_mut_ptr();
        // The shim takes ownership of the source module and disposes of it.
        std::mem::forget(source);
        let mut error = std::ptr::null_mut();
        // SAFETY: both modules belong to the same live context (checked above); ownership of the
        // source has been handed over above; no handle to a global of the destination exists
        // (the linker borrows it mutably), so the declarations linking erases are not referred to.
        let rc = unsafe {
            ffi::llpar_linker_link(self.raw, self.dest.as_mut_ptr(), raw_source, &mut error)
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(take_message_malloc(error))
        }
    }
}

impl Drop for Linker<'_, '_> {
    fn drop(&mut self) {
        // SAFETY: created by llpar_linker_create and disposed exactly once.
        unsafe { ffi::llpar_linker_dispose(self.raw) }
    }
}

/// The named struct types a module uses, to tell them from the copies merging makes. Types are
/// owned by their context and never freed before it, hence the context's lifetime.
#[derive(Debug)]
pub struct StructTypes<'c> {
    types: Vec<LLVMTypeRef>,
    context: LLVMContextRef,
    _context: PhantomData<&'c Context>,
}

pub fn struct_types<'c>(m: &Module<'c>) -> StructTypes<'c> {
    // SAFETY: the module is alive; the first call counts, the second fills a buffer that large.
    unsafe {
        let n = ffi::llpar_struct_types(m.as_mut_ptr(), std::ptr::null_mut(), 0);
        let mut types = vec![std::ptr::null_mut(); n];
        let filled = ffi::llpar_struct_types(m.as_mut_ptr(), types.as_mut_ptr(), n);
        types.truncate(filled);
        StructTypes {
            types,
            context: LLVMGetModuleContext(m.as_mut_ptr()),
            _context: PhantomData,
        }
    }
}

/// Gives struct types copied while merging the names of the originals they replace.
pub fn restore_struct_names<'c>(m: &Module<'c>, originals: &StructTypes<'c>) {
    // SAFETY: the module is alive; reading its context has no other effect.
    let context = unsafe { LLVMGetModuleContext(m.as_mut_ptr()) };
    assert!(
        context == originals.context,
        "struct types of another LLVM context"
    );
    // SAFETY: the types belong to the module's context (checked above), which the lifetime 'c
    // keeps alive.
    unsafe {
        ffi::llpar_restore_struct_names(
            m.as_mut_ptr(),
            originals.types.as_ptr(),
            originals.types.len(),
        )
    }
}

/// What a target machine is built from: `llc`'s `-mtriple`, `-mcpu`, `-mattr`, `-relocation-model`.
#[derive(Clone, Debug, Default)]
pub struct TargetOptions {
    pub triple: Option<String>,
    pub cpu: String,
    pub features: String,
    pub reloc: RelocModel,
    pub codegen_level: u8,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RelocModel {
    #[default]
    Pic,
    Static,
    DynamicNoPic,
}

/// The triple of the machine llpar runs on.
pub fn host_triple() -> String {
    TargetMachine::get_default_triple()
        .as_str()
        .to_string_lossy()
        .into_owned()
}

/// The version of the LLVM library llpar runs with (`22.1.8`): part of every cache key, since
/// another LLVM may optimize the same input differently.
pub fn version() -> String {
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: LLVMGetVersion only writes the three integers it is given pointers to.
    unsafe { llvm_sys::core::LLVMGetVersion(&mut major, &mut minor, &mut patch) };
    format!("{major}.{minor}.{patch}")
}

pub fn module_triple(module: &Module) -> String {
    module.get_triple().as_str().to_string_lossy().into_owned()
}

/// A target machine for `triple`, or `None` when there is no triple at all (as `opt` does).
pub fn target_machine(
    options: &TargetOptions,
    module_triple: &str,
) -> Result<Option<TargetMachine>, String> {
    let triple = options
        .triple
        .clone()
        .unwrap_or_else(|| module_triple.to_string());
    if triple.is_empty() {
        return Ok(None);
    }
    let triple = TargetTriple::create(&triple);
    let target = Target::from_triple(&triple)
        .map_err(|e| format!("target '{}': {}", triple, e.to_string().trim()))?;
    let level = match options.codegen_level {
        0 => OptimizationLevel::None,
        1 => OptimizationLevel::Less,
        3 => OptimizationLevel::Aggressive,
        _ => OptimizationLevel::Default,
    };
    let reloc = match options.reloc {
        RelocModel::Pic => RelocMode::PIC,
        RelocModel::Static => RelocMode::Static,
        RelocModel::DynamicNoPic => RelocMode::DynamicNoPic,
    };
    target
        .create_target_machine(
            &triple,
            &options.cpu,
            &options.features,
            level,
            reloc,
            CodeModel::Default,
        )
        .map(|machine| {
            // SAFETY: the target machine was just made and is alive; the shim sets one field.
            unsafe { ffi::llpar_use_init_array(machine.as_mut_ptr()) };
            Some(machine)
        })
        .ok_or_else(|| format!("cannot create a target machine for '{}'", triple))
}

/// Generates assembly or an object file for `module` in memory. Code generation rewrites the IR
/// (and may erase globals, as GlobalMerge does): hence `&mut`.
pub fn emit(module: &mut Module, machine: &TargetMachine, object: bool) -> Result<Vec<u8>, String> {
    let kind = if object {
        FileType::Object
    } else {
        FileType::Assembly
    };
    machine
        .write_to_memory_buffer(module, kind)
        .map(|b| b.as_slice().to_vec())
        .map_err(|e| first_line(&e.to_string()))
}

/// The textual `default<On>` pipeline, as `opt -print-pipeline-passes` prints it.
pub fn default_pipeline(machine: Option<&TargetMachine>, level: u8, size_level: u8) -> String {
    let tm = machine.map_or(std::ptr::null_mut(), |m| m.as_mut_ptr());
    // SAFETY: the shim only reads the target machine, and returns a message we free.
    take_message_malloc(unsafe {
        ffi::llpar_print_default_pipeline(tm, level as u32, size_level as u32)
    })
}

// ---- Global values --------------------------------------------------------------------------

fn collect<'m>(
    first: LLVMValueRef,
    next: unsafe extern "C" fn(LLVMValueRef) -> LLVMValueRef,
) -> Vec<GlobalRef<'m>> {
    let mut out = Vec::new();
    let mut v = first;
    while let Some(g) = GlobalRef::from_raw(v) {
        out.push(g);
        // SAFETY: v is a live global of the module borrowed for 'm; `next` is the matching
        // iterator of the same list.
        v = unsafe { next(v) };
    }
    out
}

/// The module's functions, in order.
pub fn functions<'m>(m: &'m Module) -> Vec<GlobalRef<'m>> {
    // SAFETY: the module is alive for the duration of the call.
    let first = unsafe { LLVMGetFirstFunction(m.as_mut_ptr()) };
    collect(first, LLVMGetNextFunction)
}

/// The module's global variables, in order.
pub fn variables<'m>(m: &'m Module) -> Vec<GlobalRef<'m>> {
    // SAFETY: the module is alive for the duration of the call.
    let first = unsafe { LLVMGetFirstGlobal(m.as_mut_ptr()) };
    collect(first, LLVMGetNextGlobal)
}

/// The module's aliases, in order.
pub fn aliases<'m>(m: &'m Module) -> Vec<GlobalRef<'m>> {
    // SAFETY: the module is alive for the duration of the call.
    let first = unsafe { LLVMGetFirstGlobalAlias(m.as_mut_ptr()) };
    collect(first, LLVMGetNextGlobalAlias)
}

/// The module's ifuncs, in order.
pub fn ifuncs<'m>(m: &'m Module) -> Vec<GlobalRef<'m>> {
    // SAFETY: the module is alive for the duration of the call.
    let first = unsafe { LLVMGetFirstGlobalIFunc(m.as_mut_ptr()) };
    collect(first, LLVMGetNextGlobalIFunc)
}

/// The module's aliases, then its ifuncs.
pub fn aliases_and_ifuncs<'m>(m: &'m Module) -> Vec<GlobalRef<'m>> {
    let mut all = aliases(m);
    all.extend(ifuncs(m));
    all
}

/// Every global value: functions, variables, aliases, ifuncs, in that order.
pub fn global_values<'m>(m: &'m Module) -> Vec<GlobalRef<'m>> {
    let mut all = functions(m);
    all.extend(variables(m));
    all.extend(aliases_and_ifuncs(m));
    all
}

pub fn named_global<'m>(m: &'m Module, name: &[u8]) -> Option<GlobalRef<'m>> {
    // SAFETY: the name is passed with its length; the module is alive; the result is null or
    // one of its globals.
    let v = unsafe {
        ffi::llpar_named_global_value(m.as_mut_ptr(), name.as_ptr() as *const c_char, name.len())
    };
    GlobalRef::from_raw(v)
}

/// The comdat of `m` named `name`, created (with the default selection kind) if there is none.
pub fn comdat_named<'m>(m: &'m Module, name: &[u8]) -> Option<ComdatRef<'m>> {
    let name = CString::new(name).ok()?;
    // SAFETY: the module is alive and the name NUL-terminated; LLVM returns the module's comdat
    // of that name, inserting it into the module's comdat table if missing.
    let raw = unsafe { LLVMGetOrInsertComdat(m.as_mut_ptr(), name.as_ptr()) };
    (!raw.is_null()).then_some(ComdatRef {
        raw,
        module: m.as_mut_ptr(),
        _module: PhantomData,
    })
}

impl ComdatRef<'_> {
    /// The comdat's name.
    pub fn name(self) -> Vec<u8> {
        let mut len = 0usize;
        // SAFETY: the comdat is alive (its module is borrowed, and comdats are erased only with
        // `&mut Module`); the shim returns a pointer to its name's `len` bytes.
        unsafe {
            let ptr = ffi::llpar_comdat_name(self.raw, &mut len);
            if ptr.is_null() || len == 0 {
                return Vec::new();
            }
            std::slice::from_raw_parts(ptr.cast::<u8>(), len).to_vec()
        }
    }
}

// SAFETY (for the accessors below): a GlobalRef<'m> is a live global value of a module borrowed
// for 'm (see the type), so every call below gets a valid value. Those that LLVM's C API casts to
// a subclass (function, variable, global object) first check that the value is one.
impl<'m> GlobalRef<'m> {
    pub fn name(self) -> Vec<u8> {
        let mut len = 0usize;
        // SAFETY: see above; LLVM returns a pointer to the name's `len` bytes, copied at once.
        unsafe {
            let ptr = LLVMGetValueName2(self.raw, &mut len);
            if ptr.is_null() || len == 0 {
                return Vec::new();
            }
            std::slice::from_raw_parts(ptr as *const u8, len).to_vec()
        }
    }
    pub fn set_name(self, name: &[u8]) {
        // SAFETY: see above; the name is passed with its length and copied.
        unsafe { LLVMSetValueName2(self.raw, name.as_ptr() as *const c_char, name.len()) }
    }
    pub fn is_function(self) -> bool {
        // SAFETY: see above.
        unsafe { !LLVMIsAFunction(self.raw).is_null() }
    }
    pub fn is_variable(self) -> bool {
        // SAFETY: see above.
        unsafe { !LLVMIsAGlobalVariable(self.raw).is_null() }
    }
    fn is_global_object(self) -> bool {
        // SAFETY: see above.
        unsafe { !LLVMIsAGlobalObject(self.raw).is_null() }
    }
    /// Whether this global belongs to `m`.
    pub fn belongs_to(self, m: &Module) -> bool {
        // SAFETY: see above.
        unsafe { LLVMGetGlobalParent(self.raw) == m.as_mut_ptr() }
    }
    pub fn is_declaration(self) -> bool {
        // SAFETY: see above.
        unsafe { LLVMIsDeclaration(self.raw) != 0 }
    }
    pub fn linkage(self) -> LLVMLinkage {
        // SAFETY: see above.
        unsafe { LLVMGetLinkage(self.raw) }
    }
    pub fn set_linkage(self, linkage: LLVMLinkage) {
        // SAFETY: see above.
        unsafe { LLVMSetLinkage(self.raw, linkage) }
    }
    pub fn set_visibility(self, visibility: LLVMVisibility) {
        // SAFETY: see above.
        unsafe { LLVMSetVisibility(self.raw, visibility) }
    }
    /// Whether exactly one thing uses this global (an instruction, a constant, ...).
    pub fn has_one_use(self) -> bool {
        // SAFETY: see above; the use list is only walked, not changed.
        unsafe {
            let first = LLVMGetFirstUse(self.raw);
            !first.is_null() && LLVMGetNextUse(first).is_null()
        }
    }
    pub fn has_local_linkage(self) -> bool {
        matches!(
            self.linkage(),
            LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
        )
    }
    /// The comdat of a function or variable (aliases and ifuncs have none).
    pub fn comdat(self) -> Option<ComdatRef<'m>> {
        if !(self.is_function() || self.is_variable()) {
            return None;
        }
        // SAFETY: see above; the value is a global object, as LLVMGetComdat requires.
        let (raw, module) = unsafe { (LLVMGetComdat(self.raw), LLVMGetGlobalParent(self.raw)) };
        (!raw.is_null()).then_some(ComdatRef {
            raw,
            module,
            _module: PhantomData,
        })
    }
    /// Puts a global object into `comdat` (a comdat of its own module), or takes it out of any.
    /// Panics for an alias, or a comdat of another module.
    pub fn set_comdat(self, comdat: Option<ComdatRef<'m>>) {
        assert!(self.is_global_object(), "only global objects have comdats");
        // SAFETY: see above.
        let module = unsafe { LLVMGetGlobalParent(self.raw) };
        assert!(
            comdat.is_none_or(|c| c.module == module),
            "a comdat of another module"
        );
        // SAFETY: see above; the value is a global object and the comdat one of its module's.
        unsafe { LLVMSetComdat(self.raw, comdat.map_or(std::ptr::null_mut(), |c| c.raw)) }
    }
    /// The function or variable an alias stands for (an ifunc's resolver).
    pub fn alias_target(self) -> Option<GlobalRef<'m>> {
        // SAFETY: see above; the shim returns null or a global of the same module.
        GlobalRef::from_raw(unsafe { ffi::llpar_alias_target(self.raw) })
    }

    /// Turns a function definition into a declaration (and drops its comdat); does nothing to
    /// anything but a function. Erases only the body's blocks and instructions, to which no handle
    /// exists.
    pub fn delete_body(self) {
        if self.is_function() {
            // SAFETY: see above; the value is a function, as the shim requires.
            unsafe { ffi::llpar_delete_body(self.raw) }
        }
    }
    /// The functions whose block addresses this variable's initializer holds, at any depth
    /// (none for anything but a variable).
    pub fn block_address_functions(self) -> Vec<GlobalRef<'m>> {
        let mut out = Vec::new();
        if !self.is_variable() {
            return out;
        }
        // SAFETY: see above; the value is a global variable, as LLVMGetInitializer requires.
        let init = unsafe { LLVMGetInitializer(self.raw) };
        if !init.is_null() {
            collect_block_address_functions(init, 0, &mut out);
        }
        out.sort_by_key(|g| g.raw as usize);
        out.dedup();
        out
    }

    /// Turns a variable definition into a declaration (no initializer, no comdat); does nothing
    /// to anything but a variable.
    pub fn remove_initializer(self) {
        if self.is_variable() {
            // SAFETY: see above; the value is a global variable, as the shim requires.
            unsafe { ffi::llpar_remove_initializer(self.raw) }
        }
    }

    /// The functions whose instructions use this global, if instructions (directly or through
    /// constant expressions) are its only users; `None` if anything else uses it: a global's
    /// initializer, an alias, a `blockaddress`, an aggregate constant.
    pub fn only_instruction_users(self) -> Option<Vec<GlobalRef<'m>>> {
        let (functions, only_instructions) = self.user_functions_and_others();
        only_instructions.then_some(functions)
    }

    /// The functions whose instructions use this global, directly or through constant expressions.
    pub fn user_functions(self) -> Vec<GlobalRef<'m>> {
        self.user_functions_and_others().0
    }

    /// The functions whose instructions use this global (directly or through constant
    /// expressions), sorted, without repeats; and whether those are its only users.
    fn user_functions_and_others(self) -> (Vec<GlobalRef<'m>>, bool) {
        let mut out = Vec::new();
        let only_instructions = collect_user_functions(self.raw, 0, &mut out);
        out.sort_by_key(|g| g.raw as usize);
        out.dedup();
        (out, only_instructions)
    }

    /// The function's instruction count, the other functions whose `blockaddress` it uses (those
    /// must stay in the same module as it), and the functions it calls directly (with repeats).
    /// Empty for anything but a function.
    pub fn body_summary_with_calls(self) -> (u64, Vec<GlobalRef<'m>>, Vec<GlobalRef<'m>>) {
        let mut count = 0u64;
        let mut block_address_of = Vec::new();
        let mut callees = Vec::new();
        if !self.is_function() {
            return (count, block_address_of, callees);
        }
        // SAFETY: see above; walks the live function's own blocks and instructions, reading only.
        // Called functions and the functions of block addresses belong to the same module.
        unsafe {
            let mut bb = LLVMGetFirstBasicBlock(self.raw);
            while !bb.is_null() {
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    count += 1;
                    if !LLVMIsACallInst(inst).is_null() || !LLVMIsAInvokeInst(inst).is_null() {
                        let callee = LLVMGetCalledValue(inst);
                        if !callee.is_null() && !LLVMIsAFunction(callee).is_null() {
                            callees.extend(GlobalRef::from_raw(callee));
                        }
                    }
                    for i in 0..LLVMGetNumOperands(inst).max(0) as u32 {
                        let op = LLVMGetOperand(inst, i);
                        if !op.is_null() && !LLVMIsABlockAddress(op).is_null() {
                            if let Some(f) = block_address_function(op) {
                                if f.raw != self.raw {
                                    block_address_of.push(f);
                                }
                            }
                        }
                    }
                    inst = LLVMGetNextInstruction(inst);
                }
                bb = LLVMGetNextBasicBlock(bb);
            }
        }
        (count, block_address_of, callees)
    }
}

/// Replaces the aliases and ifuncs at `positions` of `aliases_and_ifuncs(m)` with declarations of
/// the same names, so that what refers to them still does (positions out of range are skipped).
pub fn replace_aliases_with_declarations(m: &mut Module, positions: &[usize]) {
    let all = aliases_and_ifuncs(m);
    let mut chosen: Vec<LLVMValueRef> = positions
        .iter()
        .filter_map(|&i| all.get(i).map(|g| g.raw))
        .collect();
    chosen.sort_unstable_by_key(|&v| v as usize);
    chosen.dedup();
    for v in chosen {
        // SAFETY: `v` is an alias or ifunc of `m`, alive: each is erased once (no repeats), and
        // erasing one erases no other global. No other handle to it exists: `m` is borrowed
        // mutably and `all`'s handles are not used after this loop.
        unsafe { ffi::llpar_alias_to_declaration(v) }
    }
}

/// Erases the function declarations of `m` that nothing uses; returns how many were erased.
pub fn erase_unused_declarations(m: &mut Module) -> usize {
    let declarations: Vec<usize> = functions(m)
        .iter()
        .enumerate()
        .filter(|(_, f)| f.is_declaration())
        .map(|(i, _)| i)
        .collect();
    erase_unused_globals(m, &declarations, &[])
}

/// Erases the functions at `functions` of `functions(m)` and the variables at `variables` of
/// `variables(m)` that nothing uses (any more); returns how many were erased.
pub fn erase_unused_globals(
    m: &mut Module,
    functions_at: &[usize],
    variables_at: &[usize],
) -> usize {
    let all_functions = functions(m);
    let all_variables = variables(m);
    let mut chosen: Vec<LLVMValueRef> = functions_at
        .iter()
        .filter_map(|&i| all_functions.get(i).map(|g| g.raw))
        .chain(
            variables_at
                .iter()
                .filter_map(|&i| all_variables.get(i).map(|g| g.raw)),
        )
        .collect();
    chosen.sort_unstable_by_key(|&v| v as usize);
    chosen.dedup();
    let mut erased = 0;
    for v in chosen {
        // SAFETY: `v` is a global of `m`, alive: each is erased at most once (no repeats), and
        // erasing one erases no other global. No other handle to it exists: `m` is borrowed
        // mutably and the lists' handles are not used after this loop.
        erased += unsafe { ffi::llpar_erase_unused_global(v) } as usize;
    }
    erased
}

/// Removes the comdats no global of `m` belongs to any more (`&mut`: no `ComdatRef` to them
/// can be alive).
pub fn erase_unused_comdats(m: &mut Module) {
    // SAFETY: the module is alive and owned by the calling thread.
    unsafe { ffi::llpar_erase_unused_comdats(m.as_mut_ptr()) }
}

/// The module's top-level inline assembly (empty if none).
pub fn module_inline_asm(m: &Module) -> String {
    let mut len = 0usize;
    // SAFETY: LLVM returns a pointer into the module's own string and its length.
    unsafe {
        let ptr = LLVMGetModuleInlineAsm(m.as_mut_ptr(), &mut len);
        if ptr.is_null() || len == 0 {
            return String::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
    }
}

/// Stores `text` as the module's named metadata `name` (one string), replacing what was there.
pub fn set_named_string(m: &Module, name: &CStr, text: &str) {
    // SAFETY: the module is alive; the shim copies both strings. Named metadata is never referred
    // to by handles, so replacing it invalidates none.
    unsafe {
        ffi::llpar_set_named_string(
            m.as_mut_ptr(),
            name.as_ptr(),
            text.as_ptr().cast(),
            text.len(),
        )
    }
}

/// Reads and removes the named metadata `name` that `set_named_string` wrote.
pub fn take_named_string(m: &Module, name: &CStr) -> Option<String> {
    // SAFETY: the module is alive; the shim returns a malloc'ed string (or null), freed here.
    unsafe {
        let ptr = ffi::llpar_take_named_string(m.as_mut_ptr(), name.as_ptr());
        if ptr.is_null() {
            return None;
        }
        let text = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        libc::free(ptr.cast());
        Some(text)
    }
}

/// The function a `blockaddress` constant names: its one operand is its block (LLVM 22), whose
/// parent is the function.
///
/// # Safety
/// `ba` must be a live `blockaddress` constant whose function belongs to a module borrowed for
/// `'m`.
unsafe fn block_address_function<'m>(ba: LLVMValueRef) -> Option<GlobalRef<'m>> {
    // SAFETY: per the contract, operand 0 of `ba` is a live basic block of a live function.
    GlobalRef::from_raw(unsafe {
        LLVMGetBasicBlockParent(LLVMValueAsBasicBlock(LLVMGetOperand(ba, 0)))
    })
}

fn collect_block_address_functions<'m>(c: LLVMValueRef, depth: u32, out: &mut Vec<GlobalRef<'m>>) {
    // SAFETY: c is a constant (a variable's initializer, or an operand of one) of a module
    // borrowed for 'm; a blockaddress in it names a function of that module.
    unsafe {
        if !LLVMIsABlockAddress(c).is_null() {
            out.extend(block_address_function(c));
            return;
        }
        if depth > 16 || !LLVMIsAGlobalValue(c).is_null() {
            return;
        }
        for i in 0..LLVMGetNumOperands(c).max(0) as u32 {
            let op = LLVMGetOperand(c, i);
            if !op.is_null() && !LLVMIsAConstant(op).is_null() {
                collect_block_address_functions(op, depth + 1, out);
            }
        }
    }
}

/// Pushes the functions whose instructions use `v`, through constant expressions up to a depth;
/// returns false if some other user (or a chain too deep to follow) uses it too.
fn collect_user_functions<'m>(v: LLVMValueRef, depth: u32, out: &mut Vec<GlobalRef<'m>>) -> bool {
    let mut only_instructions = true;
    // SAFETY: v is a live value of a module borrowed for 'm; its uses are walked without
    // modifying anything, and the function of an instruction in a block belongs to that module.
    unsafe {
        let mut u = LLVMGetFirstUse(v);
        while !u.is_null() {
            let user = LLVMGetUser(u);
            if !LLVMIsAInstruction(user).is_null() {
                let block = LLVMGetInstructionParent(user);
                if !block.is_null() {
                    out.extend(GlobalRef::from_raw(LLVMGetBasicBlockParent(block)));
                }
            } else if !LLVMIsAConstantExpr(user).is_null() && depth < 8 {
                only_instructions &= collect_user_functions(user, depth + 1, out);
            } else {
                only_instructions = false;
            }
            u = LLVMGetNextUse(u);
        }
    }
    only_instructions
}

// ---- Whole-module edits ---------------------------------------------------------------------

/// Where each use of a global value by an instruction sits in that value's use list, computed once
/// per split. It borrows the module it was computed from; the shim only looks uses up in it by
/// address (never dereferences its keys), so edits of the module made meanwhile can make its
/// ranks stale, never unsafe.
pub struct UseRanks<'m> {
    raw: *mut std::os::raw::c_void,
    module: LLVMModuleRef,
    _module: PhantomData<&'m ()>,
}

impl<'m> UseRanks<'m> {
    pub fn new(m: &'m Module) -> Self {
        // SAFETY: the module is alive; the shim returns an object we dispose exactly once.
        let raw = unsafe { ffi::llpar_use_ranks_create(m.as_mut_ptr()) };
        UseRanks {
            raw,
            module: m.as_mut_ptr(),
            _module: PhantomData,
        }
    }

    /// Ranks for `copy`, a lazily read copy of a home module: empty until `add` gives each
    /// function read the ranks its home original had.
    pub fn for_copy(copy: &'m LazyModule<'_, '_>) -> Self {
        let m = copy.module();
        // SAFETY: the module is alive; the shim returns an object we dispose exactly once.
        let raw = unsafe { ffi::llpar_use_ranks_for_copy(m.as_mut_ptr()) };
        UseRanks {
            raw,
            module: m.as_mut_ptr(),
            _module: PhantomData,
        }
    }

    /// Gives the uses of globals by `f`, a function of this copy whose body was read, the ranks
    /// of `home`, its original's entry in the home module's `UseTable`.
    pub fn add(&self, f: GlobalRef<'m>, home: &FunctionUses) -> Result<(), String> {
        assert!(
            f.is_function() && self.module_of(f),
            "a function of the ranks' module"
        );
        // SAFETY: `f` is a live function of the module these ranks were made for (checked
        // above); the shim reads `ranks.len()` values and keeps only their copies.
        let rc = unsafe {
            ffi::llpar_use_ranks_add(self.raw, f.raw, home.ranks.as_ptr(), home.ranks.len())
        };
        match rc {
            0 => Ok(()),
            _ => Err(format!(
                "the copy of the home module differs from it in function {}",
                String::from_utf8_lossy(&f.name())
            )),
        }
    }

    fn module_of(&self, g: GlobalRef) -> bool {
        // SAFETY: `g` is a live global (GlobalRef's invariant).
        unsafe { LLVMGetGlobalParent(g.raw) == self.module }
    }
}

/// What a home module's use lists say about one of its functions, for extraction from a copy
/// that lacks the uses of the bodies it has not read (see `UseTable`).
#[derive(Debug, Clone, Default)]
pub struct FunctionUses {
    /// The function has exactly one use.
    pub one_use: bool,
    /// The rank of each use of a global by its instructions, in instruction and operand order.
    ranks: Vec<u32>,
}

/// Per function of a home module, in its list, its `FunctionUses`: plain data, computed once
/// and shared by the workers that extract chunks from their own copies of the module.
#[derive(Debug, Default)]
pub struct UseTable(pub Vec<FunctionUses>);

impl UseTable {
    pub fn new(m: &Module) -> Self {
        let mut len = 0usize;
        // SAFETY: the module is alive; the shim returns a malloc'ed array of `len` values, read
        // here and freed once.
        let flat = unsafe {
            let p = ffi::llpar_use_table(m.as_mut_ptr(), &mut len);
            let v = std::slice::from_raw_parts(p, len).to_vec();
            libc::free(p.cast());
            v
        };
        let mut table = Vec::new();
        let mut at = 0;
        while at + 1 < flat.len() {
            let n = flat[at + 1] as usize;
            table.push(FunctionUses {
                one_use: flat[at] != 0,
                ranks: flat[at + 2..at + 2 + n].to_vec(),
            });
            at += 2 + n;
        }
        UseTable(table)
    }
}

/// A module read lazily from bitcode it borrows (`'b`): its globals and metadata at once, each
/// function's body when `materialize` asks for it.
pub struct LazyModule<'c, 'b> {
    module: Module<'c>,
    _bytes: PhantomData<&'b [u8]>,
}

impl<'c, 'b> LazyModule<'c, 'b> {
    pub fn read(context: &'c Context, bytes: &'b [u8]) -> Result<Self, String> {
        let mut error = std::ptr::null_mut();
        // SAFETY: the context is alive and used by this thread only; the module made keeps
        // reading `bytes`, which the returned value borrows for as long as it owns the module
        // (`'b`); an error is allocated with strdup and freed once by take_message_malloc.
        let raw = unsafe {
            ffi::llpar_read_lazily(
                context.as_ctx_ref(),
                bytes.as_ptr().cast(),
                bytes.len(),
                &mut error,
            )
        };
        if raw.is_null() {
            return Err(take_message_malloc(error));
        }
        Ok(LazyModule {
            // SAFETY: a fresh module of `context`, owned (and disposed) by the Module.
            module: unsafe { Module::new(raw) },
            _bytes: PhantomData,
        })
    }

    pub fn module(&self) -> &Module<'c> {
        &self.module
    }

    /// Reads the body of `g`, a global of this module (nothing if it is read already).
    pub fn materialize(&self, g: GlobalRef) -> Result<(), String> {
        assert!(g.belongs_to(&self.module), "a global of another module");
        let mut error = std::ptr::null_mut();
        // SAFETY: `g` is a live global of this module (checked above), whose bitcode is
        // borrowed for as long as the module lives; an error is freed once.
        match unsafe { ffi::llpar_materialize(g.raw, &mut error) } {
            0 => Ok(()),
            _ => Err(take_message_malloc(error)),
        }
    }
}

impl LazyModule<'_, '_> {
    /// Drops the body of `f`, a function of this module, once no chunk needs it any more (a
    /// declaration is what other chunks see of it); kept if a block's address is taken.
    pub fn forget(&self, f: GlobalRef) {
        assert!(
            f.is_function() && f.belongs_to(&self.module),
            "a function of this module"
        );
        // SAFETY: `f` is a live function of this module (checked above); handles to its
        // instructions are never kept across calls, and GlobalRef handles stay valid.
        unsafe { ffi::llpar_forget_body(f.raw) }
    }
}

impl Drop for UseRanks<'_> {
    fn drop(&mut self) {
        // SAFETY: created by llpar_use_ranks_create, disposed once.
        unsafe { ffi::llpar_use_ranks_dispose(self.raw) }
    }
}

impl std::fmt::Debug for UseRanks<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UseRanks")
    }
}

/// A new module of `m`'s context holding the definitions of `owned` (functions, and variables
/// holding their block addresses), what they reach as declarations, and `copyable` variables
/// they reach as `available_externally` copies. Panics if `ranks` or a handle is of another
/// module, or a local function is not a function.
/// What a chunk brings in besides its own functions.
#[derive(Default)]
pub struct ChunkExtras<'m> {
    /// Variables copied as `available_externally`.
    pub copyable: Vec<GlobalRef<'m>>,
    /// Functions that were local before promotion, with their linkage and whether they have
    /// one use in the home module: owned ones stay local.
    pub local_functions: Vec<(GlobalRef<'m>, Linkage, bool)>,
    /// Functions of other chunks whose bodies come along as `available_externally` copies.
    pub imports: Vec<GlobalRef<'m>>,
    /// Owned functions that must survive their chunk's passes, though unused in it.
    pub keep_alive: Vec<GlobalRef<'m>>,
}

pub fn extract_chunk<'c, 'm>(
    m: &'m Module<'c>,
    ranks: &UseRanks<'m>,
    owned: &[GlobalRef<'m>],
    extras: &ChunkExtras<'m>,
    for_codegen: bool,
) -> Module<'c> {
    assert!(
        ranks.module == m.as_mut_ptr(),
        "use ranks of another module"
    );
    let ChunkExtras {
        copyable,
        local_functions,
        imports,
        keep_alive,
    } = extras;
    assert!(
        owned
            .iter()
            .chain(copyable)
            .chain(local_functions.iter().map(|(g, _, _)| g))
            .chain(imports)
            .chain(keep_alive)
            .all(|g| g.belongs_to(m)),
        "a global of another module"
    );
    assert!(
        copyable.iter().all(|g| g.is_variable())
            && local_functions.iter().all(|(g, _, _)| g.is_function())
            && imports
                .iter()
                .all(|g| g.is_function() && !g.is_declaration() && !owned.contains(g))
            && keep_alive
                .iter()
                .all(|g| g.is_function() && owned.contains(g)),
        "only variables are copied, only functions kept local, imported or kept alive"
    );
    let raw =
        |list: &[GlobalRef<'m>]| -> Vec<LLVMValueRef> { list.iter().map(|g| g.raw).collect() };
    let (owned, copyable) = (raw(owned), raw(copyable));
    let (imports, keep_alive) = (raw(imports), raw(keep_alive));
    let locals: Vec<LLVMValueRef> = local_functions.iter().map(|(g, _, _)| g.raw).collect();
    let linkages: Vec<Linkage> = local_functions.iter().map(|(_, l, _)| *l).collect();
    let one_use: Vec<c_int> = local_functions
        .iter()
        .map(|(_, _, one)| c_int::from(*one))
        .collect();
    // SAFETY: the handles are live globals of `m` (checked above); imports are definitions the
    // chunk does not own; the ranks were computed from `m`; the shim returns a fresh module of
    // m's context, which the returned Module owns and disposes.
    unsafe {
        Module::new(ffi::llpar_extract_chunk(
            m.as_mut_ptr(),
            ranks.raw,
            owned.as_ptr(),
            owned.len(),
            copyable.as_ptr(),
            copyable.len(),
            locals.as_ptr(),
            linkages.as_ptr(),
            one_use.as_ptr(),
            locals.len(),
            imports.as_ptr(),
            imports.len(),
            keep_alive.as_ptr(),
            keep_alive.len(),
            for_codegen as i32,
        ))
    }
}

pub fn named_metadata_len(m: &Module, name: &CStr) -> usize {
    // SAFETY: the module is alive and the name NUL-terminated.
    unsafe { LLVMGetNamedMetadataNumOperands(m.as_mut_ptr(), name.as_ptr()) as usize }
}

/// The names of the functions `m` defines without a debug subprogram (rustc's `main` shim):
/// code inlined into them may still carry debug locations (see `fold_debug_units`).
pub fn bare_functions(m: &Module) -> Vec<Vec<u8>> {
    functions(m)
        .into_iter()
        .filter(|f| !f.is_declaration())
        // SAFETY: the function belongs to `m`, which is alive.
        .filter(|f| unsafe { llvm_sys::debuginfo::LLVMGetSubprogram(f.raw) }.is_null())
        .map(|f| f.name())
        .collect()
}

/// Points the subprograms of merged functions back at the input's compile units, whose number
/// is `original_units`, and drops the copies each chunk brought along (metadata only). `bare`
/// (from `bare_functions` of the chunk, before it was linked) are walked too.
pub fn fold_debug_units(m: &Module, original_units: usize, bare: &[Vec<u8>]) -> Result<(), String> {
    let mut error = std::ptr::null_mut();
    let names: Vec<*const c_char> = bare.iter().map(|n| n.as_ptr().cast()).collect();
    let lens: Vec<usize> = bare.iter().map(Vec::len).collect();
    // SAFETY: the module is alive; the names outlive the call (their lengths are passed, they
    // need no NUL); the error message, if any, is ours to free.
    let rc = unsafe {
        ffi::llpar_fold_debug_units(
            m.as_mut_ptr(),
            original_units,
            names.as_ptr(),
            lens.as_ptr(),
            names.len(),
            &mut error,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(take_message_malloc(error))
    }
}

fn take_message_malloc(ptr: *mut c_char) -> String {
    if ptr.is_null() {
        return String::new();
    }
    // SAFETY: the shim allocates its messages with strdup (malloc); we free it once, here.
    unsafe {
        let s = CStr::from_ptr(ptr).to_string_lossy().into_owned();
        libc::free(ptr as *mut libc::c_void);
        s
    }
}

/// Puts `order` (variables of `m`) first in the module's variable list, in that order. Panics
/// if one is not a variable of `m`.
pub fn order_variables<'m>(m: &'m Module, order: &[GlobalRef<'m>]) {
    assert!(
        order.iter().all(|g| g.is_variable() && g.belongs_to(m)),
        "only variables of the module can be ordered"
    );
    let raw: Vec<LLVMValueRef> = order.iter().map(|g| g.raw).collect();
    // SAFETY: every handle is a live global variable of `m` (checked above).
    unsafe { ffi::llpar_order_variables(m.as_mut_ptr(), raw.as_ptr(), raw.len()) }
}

/// Keeps one entry per global in `llvm.used` and `llvm.compiler.used` (the first). Replaces
/// (erases) those variables: hence `&mut`.
pub fn dedupe_used_lists(m: &mut Module) {
    // SAFETY: the module is alive and owned by the calling thread; no handle to its globals
    // exists (it is borrowed mutably).
    unsafe { ffi::llpar_dedupe_used_lists(m.as_mut_ptr()) }
}

/// Puts `order` (functions of `m`) first in the module's function list, in that order. Panics
/// if one is not a function of `m`.
pub fn order_functions<'m>(m: &'m Module, order: &[GlobalRef<'m>]) {
    assert!(
        order.iter().all(|g| g.is_function() && g.belongs_to(m)),
        "only functions of the module can be ordered"
    );
    let raw: Vec<LLVMValueRef> = order.iter().map(|g| g.raw).collect();
    // SAFETY: every handle is a live function of `m` (checked above).
    unsafe { ffi::llpar_order_functions(m.as_mut_ptr(), raw.as_ptr(), raw.len()) }
}
