//! Merging: links optimized chunks back into the home module. `parallel::process_chunks` hands
//! them over strictly in chunk order, so the result never depends on which worker finished first.
use crate::llvm;
use inkwell::context::Context;
use inkwell::module::Module;

pub struct Merger<'m, 'c> {
    context: &'c Context,
    linker: llvm::Linker<'m, 'c>,
    /// The input's number of debug compile units, read before any chunk is linked.
    debug_units: usize,
}

impl<'m, 'c> Merger<'m, 'c> {
    /// A merger into `home`, which it borrows mutably while it lives (linking erases globals).
    pub fn new(context: &'c Context, home: &'m mut Module<'c>) -> Self {
        let debug_units = llvm::named_metadata_len(home, c"llvm.dbg.cu");
        Merger {
            context,
            linker: llvm::Linker::new(home),
            debug_units,
        }
    }

    /// Links chunk `index`'s optimized bitcode into the home module.
    pub fn accept(&mut self, index: usize, bitcode: Vec<u8>) -> Result<(), String> {
        let chunk = llvm::parse(self.context, &bitcode, &format!("optimized chunk {index}"))?;
        self.accept_module(index, chunk)
    }

    /// Links chunk `index`, already parsed into the home module's context.
    pub fn accept_module(&mut self, index: usize, chunk: Module<'c>) -> Result<(), String> {
        let bare = match self.debug_units {
            0 => Vec::new(),
            _ => llvm::bare_functions(&chunk),
        };
        self.linker
            .link(chunk)
            .map_err(|e| format!("linking chunk {index}: {e}"))?;
        llvm::fold_debug_units(self.linker.dest(), self.debug_units, &bare)
            .map_err(|e| format!("merging chunk {index}: {e}"))
    }
}
