//! Declarations of the C++ shim's entry points (backend/llvm-shim/shim.cpp). Nothing else in llpar
//! declares foreign functions; everything else comes from llvm-sys.
use llvm_sys::prelude::{
    LLVMContextRef, LLVMMemoryBufferRef, LLVMModuleRef, LLVMTypeRef, LLVMValueRef,
};
use llvm_sys::target_machine::LLVMTargetMachineRef;
use std::os::raw::{c_char, c_int, c_uint, c_void};

extern "C" {
    pub fn llpar_install_bad_alloc_handler(callback: extern "C" fn(*const c_char));
    pub fn llpar_erase_unused_global(v: LLVMValueRef) -> c_int;
    pub fn llpar_order_variables(m: LLVMModuleRef, order: *const LLVMValueRef, n: usize);
    pub fn llpar_dedupe_used_lists(m: LLVMModuleRef);
    pub fn llpar_erase_unused_comdats(m: LLVMModuleRef);
    pub fn llpar_comdat_name(c: llvm_sys::prelude::LLVMComdatRef, len: *mut usize)
        -> *const c_char;
    pub fn llpar_set_named_string(
        m: LLVMModuleRef,
        name: *const c_char,
        text: *const c_char,
        len: usize,
    );
    pub fn llpar_take_named_string(m: LLVMModuleRef, name: *const c_char) -> *mut c_char;
    pub fn llpar_rename_derived_values(
        m: LLVMModuleRef,
        prefix: *const c_char,
        promoted: *const *const c_char,
        own: *const *const c_char,
        n: usize,
    );
    pub fn llpar_upgrade_debug_info(m: LLVMModuleRef) -> c_int;
    pub fn llpar_run_passes(
        m: LLVMModuleRef,
        passes: *const c_char,
        tm: LLVMTargetMachineRef,
        inline_level: c_int,
        inline_size_level: c_uint,
    ) -> *mut c_char;
    pub fn llpar_time_trace_begin(granularity_us: c_uint);
    pub fn llpar_time_trace_end() -> *mut c_char;
    pub fn llpar_use_ranks_create(m: LLVMModuleRef) -> *mut c_void;
    pub fn llpar_use_ranks_dispose(ranks: *mut c_void);
    pub fn llpar_use_ranks_for_copy(m: LLVMModuleRef) -> *mut c_void;
    pub fn llpar_use_table(m: LLVMModuleRef, len: *mut usize) -> *mut c_uint;
    pub fn llpar_use_ranks_add(
        ranks: *mut c_void,
        f: LLVMValueRef,
        r: *const c_uint,
        n: usize,
    ) -> c_int;
    pub fn llpar_read_lazily(
        c: LLVMContextRef,
        bytes: *const c_char,
        len: usize,
        error: *mut *mut c_char,
    ) -> LLVMModuleRef;
    pub fn llpar_materialize(g: LLVMValueRef, error: *mut *mut c_char) -> c_int;
    pub fn llpar_forget_body(f: LLVMValueRef);
    pub fn llpar_extract_chunk(
        m: LLVMModuleRef,
        use_ranks: *mut c_void,
        functions: *const LLVMValueRef,
        n_functions: usize,
        copyable: *const LLVMValueRef,
        n_copyable: usize,
        local_functions: *const LLVMValueRef,
        local_linkages: *const llvm_sys::LLVMLinkage,
        local_one_use: *const c_int,
        n_local: usize,
        imports: *const LLVMValueRef,
        n_imports: usize,
        keep_alive: *const LLVMValueRef,
        n_keep_alive: usize,
        for_codegen: c_int,
    ) -> LLVMModuleRef;
    pub fn llpar_alias_target(v: LLVMValueRef) -> LLVMValueRef;
    pub fn llpar_alias_to_declaration(v: LLVMValueRef);
    pub fn llpar_finish_chunk(m: LLVMModuleRef);
    pub fn llpar_exports(m: LLVMModuleRef, limit: c_uint);
    pub fn llpar_dedupe_debug_units(m: LLVMModuleRef);
    pub fn llpar_retain_shared_types(m: LLVMModuleRef);
    pub fn llpar_declare_shared_types(m: LLVMModuleRef);
    pub fn llpar_import_all(
        m: LLVMModuleRef,
        n_deps: usize,
        bytes: *const *const c_char,
        lens: *const usize,
        names: *const *const c_char,
        name_lens: *const usize,
        names_per_dep: *const usize,
        limit: c_uint,
        error: *mut *mut c_char,
    ) -> c_int;
    pub fn llpar_write_bitcode(m: LLVMModuleRef) -> LLVMMemoryBufferRef;
    pub fn llpar_linker_create(dest: LLVMModuleRef) -> *mut c_void;
    pub fn llpar_linker_dispose(linker: *mut c_void);
    pub fn llpar_linker_link(
        linker: *mut c_void,
        dest: LLVMModuleRef,
        src: LLVMModuleRef,
        error: *mut *mut c_char,
    ) -> c_int;
    pub fn llpar_struct_types(m: LLVMModuleRef, out: *mut LLVMTypeRef, capacity: usize) -> usize;
    pub fn llpar_restore_struct_names(m: LLVMModuleRef, originals: *const LLVMTypeRef, n: usize);
    pub fn llpar_delete_body(f: LLVMValueRef);
    pub fn llpar_remove_initializer(v: LLVMValueRef);
    pub fn llpar_named_global_value(
        m: LLVMModuleRef,
        name: *const c_char,
        len: usize,
    ) -> LLVMValueRef;
    pub fn llpar_order_functions(m: LLVMModuleRef, order: *const LLVMValueRef, n: usize);
    pub fn llpar_fold_debug_units(
        m: LLVMModuleRef,
        n_original: usize,
        bare: *const *const c_char,
        bare_lens: *const usize,
        n_bare: usize,
        error: *mut *mut c_char,
    ) -> c_int;
    pub fn llpar_remarks_start(
        c: llvm_sys::prelude::LLVMContextRef,
        filter: *const c_char,
        error: *mut *mut c_char,
    ) -> *mut c_void;
    pub fn llpar_remarks_take(handle: *mut c_void, len: *mut usize) -> *mut c_char;
    pub fn llpar_remarks_end(handle: *mut c_void);
    pub fn llpar_use_init_array(tm: llvm_sys::target_machine::LLVMTargetMachineRef);
    pub fn llpar_print_default_pipeline(
        tm: LLVMTargetMachineRef,
        level: c_uint,
        size_level: c_uint,
    ) -> *mut c_char;
}
