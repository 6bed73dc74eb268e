//! The LLVM boundary: every `unsafe` call into LLVM (llvm-sys, inkwell's raw handles, the C++ shim)
//! lives in this module. Values are referred to by `GlobalRef`, a raw handle that is only valid while
//! the module that owns it is alive and the value has not been erased; callers keep the module
//! borrowed for as long as they hold handles to it, and LLVM objects never leave their thread.
mod ffi;

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};
use inkwell::OptimizationLevel;
use llvm_sys::comdat::{LLVMGetComdat, LLVMSetComdat};
use llvm_sys::core::*;
use llvm_sys::prelude::*;
use llvm_sys::{LLVMLinkage, LLVMVisibility};
use std::cell::RefCell;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int};
use std::sync::Once;

pub use llvm_sys::LLVMLinkage as Linkage;
pub use llvm_sys::LLVMVisibility as Visibility;

/// A global value (function, variable, alias, ifunc) of a module that the caller keeps alive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct GlobalRef(LLVMValueRef);

/// A comdat of a module that the caller keeps alive.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ComdatRef(LLVMComdatRef);

thread_local! {
    /// What this thread is doing, named in the message when LLVM reports a fatal error.
    static CURRENT_WORK: RefCell<String> = const { RefCell::new(String::new()) };
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

/// Names what the current thread works on (a chunk, a phase) for LLVM's fatal error messages.
pub fn set_current_work(what: impl Into<String>) {
    CURRENT_WORK.with(|w| *w.borrow_mut() = what.into());
}

/// Calls `f` with what the current thread works on, without allocating (for the crash handler);
/// false if that cannot be read.
pub fn with_current_work_raw(f: impl FnOnce(&str)) -> bool {
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

extern "C" fn on_fatal_error(reason: *const c_char) {
    crate::crash::claim_exit();
    // SAFETY: LLVM passes a NUL-terminated message that lives for the duration of the call.
    let reason = unsafe { CStr::from_ptr(reason) }
        .to_string_lossy()
        .into_owned();
    let work = CURRENT_WORK.with(|w| w.borrow().clone());
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

pub fn verify(module: &Module) -> Result<(), String> {
    module.verify().map_err(|e| first_line(&e.to_string()))
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

/// Runs a pipeline in the new pass manager's textual syntax on `module`. `inline_level` (speed
/// and size level of `-O<n>`) gives the inliner that level's parameters, as `default<On>` does.
pub fn run_passes(
    module: &Module,
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
        ffi::llpar_run_passes(module.as_mut_ptr(), pipeline.as_ptr(), tm, speed, size.into())
    };
    if error.is_null() {
        Ok(())
    } else {
        Err(take_message_malloc(error))
    }
}

/// Links many modules, one after another, into one destination module.
pub struct Linker<'m, 'c> {
    dest: &'m Module<'c>,
    raw: *mut std::os::raw::c_void,
}

impl<'m, 'c> Linker<'m, 'c> {
    pub fn new(dest: &'m Module<'c>) -> Self {
        // SAFETY: the linker refers to `dest`, which the borrow keeps alive longer than the linker.
        Linker {
            dest,
            raw: unsafe { ffi::llpar_linker_create(dest.as_mut_ptr()) },
        }
    }

    /// Links `source` (consumed) into the destination.
    pub fn link(&mut self, source: Module<'c>) -> Result<(), String> {
        let raw_source = source.as_mut_ptr();
        // The shim takes ownership of the source module and disposes of it.
        std::mem::forget(source);
        let mut error = std::ptr::null_mut();
        // SAFETY: both modules belong to the same live context; ownership of the source has been
        // handed over above.
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

/// The named struct types a module uses, to tell them from the copies merging makes.
#[derive(Debug)]
pub struct StructTypes(Vec<LLVMTypeRef>);

pub fn struct_types(m: &Module) -> StructTypes {
    // SAFETY: the module is alive; the first call counts, the second fills a buffer that large.
    unsafe {
        let n = ffi::llpar_struct_types(m.as_mut_ptr(), std::ptr::null_mut(), 0);
        let mut types = vec![std::ptr::null_mut(); n];
        ffi::llpar_struct_types(m.as_mut_ptr(), types.as_mut_ptr(), n);
        StructTypes(types)
    }
}

/// Gives struct types copied while merging the names of the originals they replace.
pub fn restore_struct_names(m: &Module, originals: &StructTypes) {
    // SAFETY: the types belong to the module's context, which outlives both.
    unsafe {
        ffi::llpar_restore_struct_names(m.as_mut_ptr(), originals.0.as_ptr(), originals.0.len())
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
        .map(Some)
        .ok_or_else(|| format!("cannot create a target machine for '{}'", triple))
}

/// Generates assembly or an object file for `module` in memory.
pub fn emit(module: &Module, machine: &TargetMachine, object: bool) -> Result<Vec<u8>, String> {
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

fn collect(
    first: LLVMValueRef,
    next: unsafe extern "C" fn(LLVMValueRef) -> LLVMValueRef,
) -> Vec<GlobalRef> {
    let mut out = Vec::new();
    let mut v = first;
    while !v.is_null() {
        out.push(GlobalRef(v));
        // SAFETY: v is a live global of a module the caller keeps alive.
        v = unsafe { next(v) };
    }
    out
}

// SAFETY (for the four below): the module is alive for the duration of the call.
pub fn functions(m: &Module) -> Vec<GlobalRef> {
    collect(
        unsafe { LLVMGetFirstFunction(m.as_mut_ptr()) },
        LLVMGetNextFunction,
    )
}
pub fn variables(m: &Module) -> Vec<GlobalRef> {
    collect(
        unsafe { LLVMGetFirstGlobal(m.as_mut_ptr()) },
        LLVMGetNextGlobal,
    )
}
pub fn aliases(m: &Module) -> Vec<GlobalRef> {
    collect(
        unsafe { LLVMGetFirstGlobalAlias(m.as_mut_ptr()) },
        LLVMGetNextGlobalAlias,
    )
}
pub fn ifuncs(m: &Module) -> Vec<GlobalRef> {
    collect(
        unsafe { LLVMGetFirstGlobalIFunc(m.as_mut_ptr()) },
        LLVMGetNextGlobalIFunc,
    )
}

/// Every global value: functions, variables, aliases, ifuncs, in that order.
pub fn global_values(m: &Module) -> Vec<GlobalRef> {
    let mut all = functions(m);
    all.extend(variables(m));
    all.extend(aliases(m));
    all.extend(ifuncs(m));
    all
}

pub fn named_global(m: &Module, name: &[u8]) -> Option<GlobalRef> {
    // SAFETY: the name is passed with its length; the module is alive.
    let v = unsafe {
        ffi::llpar_named_global_value(m.as_mut_ptr(), name.as_ptr() as *const c_char, name.len())
    };
    (!v.is_null()).then_some(GlobalRef(v))
}

// SAFETY (for the accessors below): a GlobalRef is only used while its module is alive and the
// value has not been erased, which is the contract stated on the type.
impl GlobalRef {
    pub fn name(self) -> Vec<u8> {
        let mut len = 0usize;
        let ptr = unsafe { LLVMGetValueName2(self.0, &mut len) };
        if ptr.is_null() || len == 0 {
            return Vec::new();
        }
        unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }.to_vec()
    }
    pub fn set_name(self, name: &[u8]) {
        unsafe { LLVMSetValueName2(self.0, name.as_ptr() as *const c_char, name.len()) }
    }
    pub fn display_name(self) -> String {
        String::from_utf8_lossy(&self.name()).into_owned()
    }
    pub fn is_function(self) -> bool {
        unsafe { !LLVMIsAFunction(self.0).is_null() }
    }
    pub fn is_variable(self) -> bool {
        unsafe { !LLVMIsAGlobalVariable(self.0).is_null() }
    }
    pub fn is_declaration(self) -> bool {
        unsafe { LLVMIsDeclaration(self.0) != 0 }
    }
    pub fn linkage(self) -> LLVMLinkage {
        unsafe { LLVMGetLinkage(self.0) }
    }
    pub fn set_linkage(self, linkage: LLVMLinkage) {
        unsafe { LLVMSetLinkage(self.0, linkage) }
    }
    pub fn visibility(self) -> LLVMVisibility {
        unsafe { LLVMGetVisibility(self.0) }
    }
    pub fn set_visibility(self, visibility: LLVMVisibility) {
        unsafe { LLVMSetVisibility(self.0, visibility) }
    }
    pub fn has_local_linkage(self) -> bool {
        matches!(
            self.linkage(),
            LLVMLinkage::LLVMInternalLinkage | LLVMLinkage::LLVMPrivateLinkage
        )
    }
    pub fn comdat(self) -> Option<ComdatRef> {
        if self.is_function() || self.is_variable() {
            let c = unsafe { LLVMGetComdat(self.0) };
            (!c.is_null()).then_some(ComdatRef(c))
        } else {
            None
        }
    }
    pub fn set_comdat(self, comdat: Option<ComdatRef>) {
        unsafe { LLVMSetComdat(self.0, comdat.map_or(std::ptr::null_mut(), |c| c.0)) }
    }
    /// The function or variable an alias stands for (an ifunc's resolver).
    pub fn alias_target(self) -> Option<GlobalRef> {
        let t = unsafe { ffi::llpar_alias_target(self.0) };
        (!t.is_null()).then_some(GlobalRef(t))
    }

    /// Replaces this alias or ifunc with a declaration of the same name (consumes the handle).
    pub fn replace_alias_with_declaration(self) {
        unsafe { ffi::llpar_alias_to_declaration(self.0) }
    }

    /// Turns a function definition into a declaration (and drops its comdat).
    pub fn delete_body(self) {
        unsafe { ffi::llpar_delete_body(self.0) }
    }
    /// The functions whose block addresses this variable's initializer holds, at any depth.
    pub fn block_address_functions(self) -> Vec<GlobalRef> {
        let mut out = Vec::new();
        let init = unsafe { LLVMGetInitializer(self.0) };
        if !init.is_null() {
            collect_block_address_functions(init, 0, &mut out);
        }
        out.sort_by_key(|g| g.0 as usize);
        out.dedup();
        out
    }

    /// Turns a variable definition into a declaration (no initializer, no comdat).
    pub fn remove_initializer(self) {
        unsafe { ffi::llpar_remove_initializer(self.0) }
    }

    /// Removes this global if nothing uses it (consumes the handle); false if something does.
    pub fn erase_if_unused(self) -> bool {
        // SAFETY: the handle is a live global; the shim erases it only when it has no uses.
        unsafe { ffi::llpar_erase_unused_global(self.0) != 0 }
    }

    /// The functions whose instructions use this global, if instructions (directly or through
    /// constant expressions) are its only users; `None` if anything else uses it: a global's
    /// initializer, an alias, a `blockaddress`, an aggregate constant.
    pub fn only_instruction_users(self) -> Option<Vec<GlobalRef>> {
        let (functions, only_instructions) = self.user_functions_and_others();
        only_instructions.then_some(functions)
    }

    /// The functions whose instructions use this global, directly or through constant expressions.
    pub fn user_functions(self) -> Vec<GlobalRef> {
        self.user_functions_and_others().0
    }

    /// The functions whose instructions use this global (directly or through constant
    /// expressions), sorted, without repeats; and whether those are its only users.
    fn user_functions_and_others(self) -> (Vec<GlobalRef>, bool) {
        let mut out = Vec::new();
        let only_instructions = collect_user_functions(self.0, 0, &mut out);
        out.sort_by_key(|g| g.0 as usize);
        out.dedup();
        (out, only_instructions)
    }

    /// The function's instruction count, and the other functions whose `blockaddress` it uses
    /// (those must stay in the same module as it).
    pub fn body_summary(self) -> (u64, Vec<GlobalRef>) {
        let (count, block_address_of, _) = self.body_summary_with_calls();
        (count, block_address_of)
    }

    /// Like `body_summary`, plus the functions this one calls directly (with repeats).
    pub fn body_summary_with_calls(self) -> (u64, Vec<GlobalRef>, Vec<GlobalRef>) {
        let mut count = 0u64;
        let mut block_address_of = Vec::new();
        let mut callees = Vec::new();
        // SAFETY: walks the live function's own blocks and instructions, reading only.
        unsafe {
            let mut bb = LLVMGetFirstBasicBlock(self.0);
            while !bb.is_null() {
                let mut inst = LLVMGetFirstInstruction(bb);
                while !inst.is_null() {
                    count += 1;
                    if !LLVMIsACallInst(inst).is_null() || !LLVMIsAInvokeInst(inst).is_null() {
                        let callee = LLVMGetCalledValue(inst);
                        if !callee.is_null() && !LLVMIsAFunction(callee).is_null() {
                            callees.push(GlobalRef(callee));
                        }
                    }
                    for i in 0..LLVMGetNumOperands(inst).max(0) as u32 {
                        let op = LLVMGetOperand(inst, i);
                        if !op.is_null() && !LLVMIsABlockAddress(op).is_null() {
                            let f = block_address_function(op);
                            if f.0 != self.0 {
                                block_address_of.push(f);
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

/// Removes the comdats no global of `m` belongs to any more.
pub fn erase_unused_comdats(m: &Module) {
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
    // SAFETY: the module is alive; the shim copies both strings.
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
    // SAFETY: the shim returns a malloc'ed string (or null), freed here.
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
/// `ba` must be a live `blockaddress` constant.
unsafe fn block_address_function(ba: LLVMValueRef) -> GlobalRef {
    GlobalRef(LLVMGetBasicBlockParent(LLVMValueAsBasicBlock(
        LLVMGetOperand(ba, 0),
    )))
}

fn collect_block_address_functions(c: LLVMValueRef, depth: u32, out: &mut Vec<GlobalRef>) {
    // SAFETY: c is a constant owned by the live module's context.
    unsafe {
        if !LLVMIsABlockAddress(c).is_null() {
            out.push(block_address_function(c));
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
fn collect_user_functions(v: LLVMValueRef, depth: u32, out: &mut Vec<GlobalRef>) -> bool {
    let mut only_instructions = true;
    // SAFETY: v is a live value; its uses are walked without modifying anything.
    unsafe {
        let mut u = LLVMGetFirstUse(v);
        while !u.is_null() {
            let user = LLVMGetUser(u);
            if !LLVMIsAInstruction(user).is_null() {
                out.push(GlobalRef(LLVMGetBasicBlockParent(
                    LLVMGetInstructionParent(user),
                )));
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

/// Where each use of a global value sits in that value's use list, computed once per split.
pub struct UseRanks {
    raw: *mut std::os::raw::c_void,
}

impl UseRanks {
    /// Valid for as long as `m`'s instructions are not changed; `Split` guarantees that.
    pub fn new(m: &Module) -> Self {
        // SAFETY: the module is alive; the shim returns an object we dispose exactly once.
        UseRanks {
            raw: unsafe { ffi::llpar_use_ranks_create(m.as_mut_ptr()) },
        }
    }
}

impl Drop for UseRanks {
    fn drop(&mut self) {
        // SAFETY: created by llpar_use_ranks_create, disposed once.
        unsafe { ffi::llpar_use_ranks_dispose(self.raw) }
    }
}

impl std::fmt::Debug for UseRanks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UseRanks")
    }
}

/// A new module of `m`'s context holding the definitions of `owned` (functions, and variables
/// holding their block addresses), what they reach as declarations, and `copyable` variables
/// they reach as `available_externally` copies.
pub fn extract_chunk<'c>(
    m: &Module<'c>,
    ranks: &UseRanks,
    owned: &[GlobalRef],
    copyable: &[GlobalRef],
    local_functions: &[(GlobalRef, Linkage)],
    for_codegen: bool,
) -> Module<'c> {
    let owned: Vec<LLVMValueRef> = owned.iter().map(|g| g.0).collect();
    let copyable: Vec<LLVMValueRef> = copyable.iter().map(|g| g.0).collect();
    let locals: Vec<LLVMValueRef> = local_functions.iter().map(|(g, _)| g.0).collect();
    let linkages: Vec<Linkage> = local_functions.iter().map(|(_, l)| *l).collect();
    // SAFETY: the handles belong to `m`; the shim returns a fresh module of m's context, which
    // the returned Module owns and disposes.
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
            locals.len(),
            for_codegen as i32,
        ))
    }
}

pub fn named_metadata_len(m: &Module, name: &CStr) -> usize {
    // SAFETY: the module is alive.
    unsafe { LLVMGetNamedMetadataNumOperands(m.as_mut_ptr(), name.as_ptr()) as usize }
}

/// Points the subprograms of merged functions back at the input's compile units, whose number
/// is `original_units`, and drops the copies each chunk brought along.
pub fn fold_debug_units(m: &Module, original_units: usize) -> Result<(), String> {
    let mut error = std::ptr::null_mut();
    // SAFETY: the module is alive; the error message, if any, is ours to free.
    let rc = unsafe { ffi::llpar_fold_debug_units(m.as_mut_ptr(), original_units, &mut error) };
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

/// Puts `order` first in the module's function list, in that order.
pub fn order_variables(m: &Module, order: &[GlobalRef]) {
    let raw: Vec<LLVMValueRef> = order.iter().map(|g| g.0).collect();
    // SAFETY: every handle is a global variable of `m`.
    unsafe { ffi::llpar_order_variables(m.as_mut_ptr(), raw.as_ptr(), raw.len()) }
}

/// Keeps one entry per global in `llvm.used` and `llvm.compiler.used` (the first).
pub fn dedupe_used_lists(m: &Module) {
    // SAFETY: the module is alive and owned by the calling thread.
    unsafe { ffi::llpar_dedupe_used_lists(m.as_mut_ptr()) }
}

pub fn order_functions(m: &Module, order: &[GlobalRef]) {
    let raw: Vec<LLVMValueRef> = order.iter().map(|g| g.0).collect();
    // SAFETY: every handle is a function of `m`.
    unsafe { ffi::llpar_order_functions(m.as_mut_ptr(), raw.as_ptr(), raw.len()) }
}
