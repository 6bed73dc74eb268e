//! Merging: links optimized chunks back into the home module, strictly in chunk order, so the
//! result never depends on which worker finished first.
use crate::llvm;
use inkwell::context::Context;
use inkwell::module::Module;
use std::collections::BTreeMap;

pub struct Merger<'m, 'c> {
    context: &'c Context,
    home: &'m Module<'c>,
    linker: llvm::Linker<'m, 'c>,
    debug_units: usize,
    next: usize,
    waiting: BTreeMap<usize, Vec<u8>>,
}

// The number of debug compile units is read when the merger is made, before any chunk is linked.

impl<'m, 'c> Merger<'m, 'c> {
    pub fn new(context: &'c Context, home: &'m Module<'c>) -> Self {
        Merger {
            context,
            home,
            linker: llvm::Linker::new(home),
            debug_units: llvm::named_metadata_len(home, c"llvm.dbg.cu"),
            next: 0,
            waiting: BTreeMap::new(),
        }
    }

    /// Accepts chunk `index`'s optimized bitcode, and links every chunk that is now next in order.
    pub fn accept(&mut self, index: usize, bitcode: Vec<u8>) -> Result<(), String> {
        self.waiting.insert(index, bitcode);
        while let Some(bitcode) = self.waiting.remove(&self.next) {
            let chunk = llvm::parse(
                self.context,
                &bitcode,
                &format!("optimized chunk {}", self.next),
            )?;
            self.linker
                .link(chunk)
                .map_err(|e| format!("linking chunk {}: {e}", self.next))?;
            llvm::fold_debug_units(self.home, self.debug_units)
                .map_err(|e| format!("merging chunk {}: {e}", self.next))?;
            self.next += 1;
        }
        Ok(())
    }

    pub fn linked(&self) -> usize {
        self.next
    }
}
