//! Codegen units: cut one module into standalone modules that each compile alone and whose
//! objects link into the same program, and link such units back into one module.
//!
//! This is what `llpar split` and `llpar merge` do, and what a compiler that wants parallel code
//! generation needs. It reuses llpar's splitting (see `split`) for code generation: unit 0 is
//! the module's "home" (every global variable, constructor list, `llvm.used`, module inline asm,
//! named metadata) together with the first group of functions; units 1.. hold the other
//! functions, their comdats, aliases and ifuncs, declarations of what they use, and
//! `available_externally` copies of constant variables so that loads still fold. Local symbols
//! are promoted to hidden external symbols under names salted with a hash of the input
//! (`__llpar.local.<hash>_N`), so that units of different modules never clash; a local that
//! module inline asm names keeps its name. Unit 0 records, as named metadata `llpar.split`, what
//! `merge` needs to make them local again under their names and to restore function order.
//!
//! ```
//! use llpar::units::{self, SplitOptions, Strategy};
//!
//! // A module with an internal function called from two others.
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ir-fixtures/internal-called-from-two-chunks.ll");
//! let input = std::fs::read(path).unwrap();
//! let options = SplitOptions { strategy: Strategy::RoundRobin, units: Some(2), target_size: None };
//! let split = units::split(&input, path, &options).unwrap();
//! assert_eq!(split.bitcode.len(), 2);
//! // Both units use `helper`, which one of them defines: it is promoted, under a salted name.
//! assert_eq!(split.report.promoted.len(), 1);
//! assert_eq!(split.report.promoted[0].0, "helper");
//! print!("{}", split.report);
//!
//! // Unit 0 first; the merged module has `helper` internal again, under its own name.
//! let named: Vec<(String, Vec<u8>)> = split
//!     .bitcode
//!     .into_iter()
//!     .enumerate()
//!     .map(|(i, bitcode)| (format!("unit{i}.bc"), bitcode))
//!     .collect();
//! let merged = units::merge(&named).unwrap();
//! let text = String::from_utf8(units::to_text(&merged).unwrap()).unwrap();
//! assert!(text.contains("define internal i32 @helper(i32 %x)"));
//! ```
use crate::error::{Error, Result};
use crate::llvm;
use crate::merge::Merger;
pub use crate::plan::Strategy;
use crate::plan::{self, Glue};
use crate::split::{self, Purpose, Split};
use inkwell::context::Context;
use inkwell::module::Module;
use std::fmt;

const RESTORE_METADATA: &std::ffi::CStr = c"llpar.split";
/// In every unit: "INDEX COUNT SALT", so that merge takes only a whole set, in order.
const UNIT_METADATA: &std::ffi::CStr = c"llpar.unit";

#[derive(Clone, Copy, Debug)]
pub struct SplitOptions {
    pub strategy: Strategy,
    /// How many units (default 2); ignored with `target_size` and with `PerFunction`.
    pub units: Option<usize>,
    /// The cost (instructions) a unit should have: as many units as that makes.
    pub target_size: Option<u64>,
}

/// The units, in bitcode, and why they are what they are.
pub struct Units {
    pub bitcode: Vec<Vec<u8>>,
    /// What the caller should warn about, as `opt` does (debug info dropped as invalid).
    pub warnings: Vec<String>,
    pub report: Report,
}

pub struct UnitSummary {
    /// The unit's function definitions, by their own names.
    pub functions: Vec<String>,
    /// Their cost, in instructions.
    pub cost: u64,
}

pub struct Report {
    pub strategy: Strategy,
    pub units: Vec<UnitSummary>,
    /// (own name, name in the units, why).
    pub promoted: Vec<(String, String, String)>,
    /// Local symbols left local: one unit alone uses them.
    pub kept_local: usize,
    /// (function, function, why they share a unit).
    pub glued: Vec<(String, String, &'static str)>,
    /// Largest unit cost over the mean.
    pub balance: f64,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total: u64 = self.units.iter().map(|u| u.cost).sum();
        writeln!(
            f,
            "llpar split: strategy {:?}, {} units, {} instructions, balance {:.3} (largest unit over mean)",
            self.strategy,
            self.units.len(),
            total,
            self.balance
        )?;
        for (i, u) in self.units.iter().enumerate() {
            let shown: Vec<&str> = u.functions.iter().take(4).map(String::as_str).collect();
            writeln!(
                f,
                "unit {i}: {} functions, cost {}{}: {}{}",
                u.functions.len(),
                u.cost,
                if i == 0 {
                    " (with the module's globals)"
                } else {
                    ""
                },
                shown.join(", "),
                if u.functions.len() > 4 { ", ..." } else { "" }
            )?;
        }
        writeln!(
            f,
            "{} local symbols stay local (one unit alone uses them); promoted {} local symbols:",
            self.kept_local,
            self.promoted.len()
        )?;
        for (own, promoted, why) in &self.promoted {
            writeln!(f, "  {own} -> {promoted}: {why}")?;
        }
        writeln!(f, "{} functions glued to others:", self.glued.len())?;
        for (a, b, why) in &self.glued {
            writeln!(f, "  {a} + {b}: {why}")?;
        }
        Ok(())
    }
}

/// FNV-1a: a stable hash of the input, so that promoted names are the same on every run and
/// differ between modules.
fn salt_of(input: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in input {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}_")
}

/// Splits `input` (bitcode or IR, named `input_name` in messages) into codegen units.
pub fn split(input: &[u8], input_name: &str, options: &SplitOptions) -> Result<Units> {
    llvm::initialize();
    let context = Context::create();
    let parsed = llvm::parse_input(&context, input, input_name)
        .map_err(|e| Error::failure(format!("{input_name}: {e}")))?;
    let mut home = parsed.module;
    llvm::verify(&home).map_err(|e| {
        Error::failure(format!(
            "{input_name}: input module fails the verifier: {e}"
        ))
    })?;
    let struct_types = llvm::struct_types(&home);
    let salt = salt_of(input);
    let (mut split, glue) = plan(&home, &salt, options);
    let report = report(&split, &home, &glue, options.strategy);
    let tag = UnitTag {
        count: split.chunks.len(),
        salt: &salt,
        input_name,
    };
    let mut bitcode = extract_units(&split, &home, &tag)?;
    split.remove_chunked_bodies(&mut home);
    llvm::erase_unused_comdats(&mut home);
    if let Some(first) = bitcode.first_mut() {
        let first_unit = std::mem::take(first);
        *first = unit_zero(&context, &mut home, first_unit, &split, &struct_types, &tag)?;
    }
    Ok(Units {
        bitcode,
        warnings: parsed.warning.into_iter().collect(),
        report,
    })
}

/// The units planned by `options.strategy`, with local symbols promoted (but those one unit
/// alone uses), and the pairs of functions glued into one unit.
fn plan<'c>(home: &Module<'c>, salt: &str, options: &SplitOptions) -> (Split<'c>, Vec<Glue>) {
    let mut glue: Vec<Glue> = Vec::new();
    let split = split::prepare_planned(
        home,
        Purpose::Codegen,
        salt,
        true,
        |costs, together, calls| {
            let (units, g) = plan::plan_units(
                costs,
                together,
                calls,
                options.strategy,
                options.units,
                options.target_size,
            );
            glue = g;
            units
        },
    );
    (split, glue)
}

/// What went where and why (`--report`).
fn report(split: &Split, home: &Module, glue: &[Glue], strategy: Strategy) -> Report {
    let functions = llvm::functions(home);
    let mut unit_of_function = std::collections::HashMap::new();
    let mut units = Vec::new();
    for (u, chunk) in split.chunks.iter().enumerate() {
        for &i in &chunk.functions {
            unit_of_function.insert(functions[i], u);
        }
        units.push(UnitSummary {
            functions: split.chunk_function_names(u),
            cost: chunk.cost,
        });
    }
    let glued = glue
        .iter()
        .map(|g| {
            let (first, second) = (split.function_name(g.first), split.function_name(g.second));
            (first, second, g.reason)
        })
        .collect();
    let promoted = split
        .restore
        .promoted_names()
        .map(|(name, own)| {
            let why = why_promoted(home, name, own, &unit_of_function);
            let own = String::from_utf8_lossy(own).into_owned();
            (own, String::from_utf8_lossy(name).into_owned(), why)
        })
        .collect();
    let costs: Vec<u64> = units.iter().map(|u| u.cost).collect();
    let mean = costs.iter().sum::<u64>() as f64 / costs.len().max(1) as f64;
    let balance = costs.iter().copied().max().unwrap_or(0) as f64 / mean.max(1.0);
    Report {
        strategy,
        units,
        promoted,
        kept_local: split.unit_locals().len(),
        glued,
        balance,
    }
}

fn why_promoted(
    home: &Module,
    name: &[u8],
    own: &[u8],
    unit_of_function: &std::collections::HashMap<llvm::GlobalRef, usize>,
) -> String {
    if name == own {
        return "named in module inline asm: promoted under its own name".to_string();
    }
    match llvm::named_global(home, name) {
        Some(g) if g.is_function() => match unit_of_function.get(&g) {
            Some(u) => {
                format!("local function defined in unit {u}, declared in the others that use it")
            }
            None => "local function declaration".to_string(),
        },
        Some(g) if g.is_variable() => {
            "local variable: defined in unit 0 (or with its functions), copied or declared where used".to_string()
        }
        _ => "local alias or ifunc".to_string(),
    }
}

/// What every unit records of the split: how many units, and the salt of promoted names.
struct UnitTag<'a> {
    count: usize,
    salt: &'a str,
    input_name: &'a str,
}

/// Every unit extracted from `home`; unit 0 gets the home module's globals later.
fn extract_units<'c>(split: &Split<'c>, home: &Module<'c>, tag: &UnitTag) -> Result<Vec<Vec<u8>>> {
    // Locals that one unit alone uses stay local there, under their own names.
    let unit_locals = split.unit_locals();
    let ranks = llvm::UseRanks::new(home);
    let (recipe, uses) = (split.recipe(), llvm::UseTable::new(home));
    let listed = split::Listed::new(home);
    (0..split.chunks.len())
        .map(|index| {
            let chunk = split.extract(&recipe, &listed, &ranks, &uses, index);
            finish_unit(index, &chunk.bitcode, &unit_locals, tag)
        })
        .collect()
}

/// A unit as it is written: tagged, its unit-local symbols local again, verified.
fn finish_unit(
    index: usize,
    bitcode: &[u8],
    unit_locals: &[(Vec<u8>, llvm::Linkage)],
    tag: &UnitTag,
) -> Result<Vec<u8>> {
    let input_name = tag.input_name;
    let unit_context = Context::create();
    let module = llvm::parse(&unit_context, bitcode, &format!("unit {index}"))
        .map_err(|e| Error::failure(format!("{input_name}: unit {index}: {e}")))?;
    llvm::finish_chunk(&module);
    let (count, salt) = (tag.count, tag.salt);
    llvm::set_named_string(&module, UNIT_METADATA, &format!("{index} {count} {salt}"));
    // finish_chunk made every local function hidden, for the promoted ones' sake.
    for (name, linkage) in unit_locals {
        if let Some(g) = llvm::named_global(&module, name).filter(|g| !g.is_declaration()) {
            g.set_visibility(llvm::Visibility::LLVMDefaultVisibility);
            g.set_linkage(*linkage);
        }
    }
    llvm::verify(&module).map_err(|e| {
        Error::failure(format!(
            "{input_name}: unit {index} fails the verifier: {e}"
        ))
    })?;
    Ok(llvm::write_bitcode(&module))
}

/// Unit 0: the home module (globals, declarations, the restore information) with the first
/// unit's functions linked in.
fn unit_zero<'c>(
    context: &'c Context,
    home: &mut Module<'c>,
    first_unit: Vec<u8>,
    split: &Split,
    struct_types: &llvm::StructTypes<'c>,
    tag: &UnitTag,
) -> Result<Vec<u8>> {
    let input_name = tag.input_name;
    let mut merger = Merger::new(context, home);
    merger
        .accept(0, first_unit)
        .map_err(|e| Error::failure(format!("{input_name}: unit 0: {e}")))?;
    drop(merger);
    // The first unit's functions brought their llvm.used entries, which unit 0 has already.
    llvm::dedupe_used_lists(home);
    // Linking gave the first unit's copies of struct types suffixed names: give them back.
    llvm::restore_struct_names(home, struct_types);
    llvm::set_named_string(home, RESTORE_METADATA, &split.restore.encode());
    let (count, salt) = (tag.count, tag.salt);
    llvm::set_named_string(home, UNIT_METADATA, &format!("0 {count} {salt}"));
    llvm::verify(home)
        .map_err(|e| Error::failure(format!("{input_name}: unit 0 fails the verifier: {e}")))?;
    Ok(llvm::write_bitcode(home))
}

/// A unit `split` wrote: its debug info, if any, is valid, so a reader that would drop it as
/// invalid means the unit is damaged.
fn parse_unit<'c>(
    context: &'c Context,
    bytes: &[u8],
    name: &str,
) -> Result<inkwell::module::Module<'c>> {
    let parsed = llvm::parse_input(context, bytes, name)
        .map_err(|e| Error::failure(format!("{name}: {e}")))?;
    match parsed.warning {
        Some(warning) => Err(Error::failure(format!(
            "{warning} (not as `llpar split` wrote it)"
        ))),
        None => Ok(parsed.module),
    }
}

/// Links units written by `split` (unit 0 first, as named) back into one module: local symbols
/// local again under their names, functions in the input's order, one copy of each debug
/// compile unit. Returns the module's bitcode.
pub fn merge(units: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    llvm::initialize();
    let Some((first_name, first)) = units.first() else {
        return Err(Error::usage("merge needs at least one unit"));
    };
    let context = Context::create();
    let mut home = parse_unit(&context, first, first_name)?;
    let text = llvm::take_named_string(&home, RESTORE_METADATA).ok_or_else(|| {
        Error::failure(format!(
            "{first_name}: not unit 0 of `llpar split` (no llpar.split metadata); give unit 0 first"
        ))
    })?;
    let mut restore = split::Restore::decode(&text, &home)
        .map_err(|e| Error::failure(format!("{first_name}: {e}")))?;
    let (_, count, salt) = unit_label(&home, first_name)?;
    if count != units.len() {
        return Err(Error::failure(format!(
            "{first_name}: the module was split into {count} units; {} given",
            units.len()
        )));
    }
    {
        let mut merger = Merger::new(&context, &mut home);
        for (index, (name, bitcode)) in units.iter().enumerate().skip(1) {
            let unit = parse_unit(&context, bitcode, name)?;
            let (got, _, unit_salt) = unit_label(&unit, name)?;
            if unit_salt != salt || got != index {
                return Err(Error::failure(format!(
                    "{name}: not unit {index} of the split that {first_name} starts (units go in order, from one split)"
                )));
            }
            merger
                .accept_module(index, unit)
                .map_err(|e| Error::failure(format!("{name}: {e}")))?;
        }
    }
    llvm::dedupe_used_lists(&mut home);
    restore.refresh_moved_comdats(&home);
    restore.apply(&home);
    llvm::verify(&home)
        .map_err(|e| Error::failure(format!("merged module fails the verifier: {e}")))?;
    Ok(llvm::write_bitcode(&home))
}

/// Reads and removes a unit's "INDEX COUNT SALT" label.
fn unit_label(unit: &inkwell::module::Module, name: &str) -> Result<(usize, usize, String)> {
    let text = llvm::take_named_string(unit, UNIT_METADATA).unwrap_or_default();
    let mut fields = text.split(' ');
    let parsed = (|| {
        let index = fields.next()?.parse().ok()?;
        let count = fields.next()?.parse().ok()?;
        Some((index, count, fields.next()?.to_string()))
    })();
    parsed.ok_or_else(|| Error::failure(format!("{name}: not a unit of `llpar split`")))
}

/// Textual IR of a module given as bitcode.
pub fn to_text(bitcode: &[u8]) -> Result<Vec<u8>> {
    let context = Context::create();
    let module = llvm::parse(&context, bitcode, "merged").map_err(Error::failure)?;
    Ok(llvm::print_ir(&module).into_bytes())
}
