//! Splitting: plans chunks of a parsed module and extracts each as a standalone module (bitcode).
//!
//! Architecture invariant: the module being split (the "home" module) keeps every global variable,
//! alias and declaration; a chunk carries only its functions' bodies plus what they need to be
//! optimized alone:
//! - local (`internal`/`private`) symbols are promoted, in the home module before cloning, to
//!   external hidden symbols under collision-free names, so chunks can refer to them and the linker
//!   can match them up; `Restore` makes them local again under their names after the merge;
//! - global variables that the chunk's code uses keep their initializers as `available_externally`
//!   copies, so loads from constants still fold and alias analysis still knows object sizes
//!   (unless the linkage lets the definition be replaced at link time, or the initializer holds a
//!   `blockaddress`, which would tie it to a function the chunk may not have);
//! - a chunk holds only the globals its code reaches: appending globals (`llvm.global_ctors`,
//!   `llvm.used`, ...), module inline asm and named metadata other than the debug units and module
//!   flags stay at home, so merging never duplicates them; comdats stay at home too and are
//!   re-attached after the merge;
//! - use lists keep their relative order from the home module and travel in the bitcode, so the
//!   passes see what they would see in the whole module (some transformations depend on it).
use crate::llvm::{self, ComdatRef, GlobalRef, Linkage, Visibility};
use crate::plan::{self, Chunk, FunctionCost, PlanOptions};
use inkwell::module::Module;
use std::collections::HashMap;
use std::fmt::Write as _;

/// Prefix of promoted local symbols; never kept in llpar's output.
pub const PROMOTED_PREFIX: &str = "__llpar.local.";

/// A local symbol made external for the duration of a split, and how to make it local again.
#[derive(Clone, Debug)]
struct Promotion {
    promoted_name: Vec<u8>,
    original_name: Vec<u8>,
    linkage: Linkage,
}

/// Everything needed to turn the merged module back into the input's shape.
#[derive(Debug)]
pub struct Restore {
    promotions: Vec<Promotion>,
    /// Every function of the home module, in order, by its (possibly promoted) name.
    function_order: Vec<Vec<u8>>,
    /// Every global variable, in order, by name (units only: linking units reorders them).
    variable_order: Vec<Vec<u8>>,
    /// The comdat of each chunked function, by (possibly promoted) name.
    comdats: Vec<(Vec<u8>, ComdatRef)>,
    /// Variables a chunk owns while it is optimized (block address tables): name, linkage, comdat.
    moved_variables: Vec<(Vec<u8>, Linkage, Option<ComdatRef>)>,
    /// The input's named struct types, whose names copies made by merging take back.
    struct_types: llvm::StructTypes,
    /// Promoted name -> the local name it stands for (empty for unnamed globals).
    original_names: HashMap<Vec<u8>, Vec<u8>>,
}

/// One chunk as it leaves the home module.
pub struct ChunkModule {
    pub index: usize,
    pub bitcode: Vec<u8>,
    /// A short description for messages: the chunk's first functions.
    pub description: String,
    /// The chunk's largest function and its cost, for the critical path.
    pub largest_function: (String, u64),
    /// (promoted name, own name) of the chunk's functions that were promoted, for messages.
    pub promoted_names: Vec<(String, String)>,
}

/// The split of one module: its plan and how to restore it.
pub struct Split {
    pub chunks: Vec<Chunk>,
    pub restore: Restore,
    /// The function definitions of the home module, by index in its function list.
    functions: Vec<GlobalRef>,
    /// The cost (instructions) of each of `functions`; 0 for declarations.
    function_costs: Vec<u64>,
    /// Global variables whose definitions chunks may copy as `available_externally`.
    copyable_variables: Vec<GlobalRef>,
    /// Functions that were local before promotion, with their linkage: chunks keep them local.
    local_functions: Vec<(GlobalRef, Linkage)>,
    /// Per chunk, the variables it owns while optimized (tables of its functions' block addresses).
    owned_variables: Vec<Vec<GlobalRef>>,
    /// Per chunk, the aliases and ifuncs it owns (code generation only).
    owned_aliases: Vec<Vec<GlobalRef>>,
    /// Locals left local because one chunk alone uses them (codegen units only).
    unit_locals: Vec<GlobalRef>,
    purpose: Purpose,
    /// Dropped once bodies are removed, which invalidates it.
    use_ranks: Option<llvm::UseRanks>,
}

fn copyable_linkage(l: Linkage) -> bool {
    use Linkage::*;
    matches!(
        l,
        LLVMExternalLinkage
            | LLVMInternalLinkage
            | LLVMPrivateLinkage
            | LLVMAvailableExternallyLinkage
            | LLVMLinkOnceODRLinkage
            | LLVMWeakODRLinkage
    )
}

fn is_llvm_reserved(name: &[u8]) -> bool {
    name.starts_with(b"llvm.")
}

/// What the chunks are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    /// Running function passes; the chunks are merged back into the home module.
    Optimize,
    /// Generating code; each chunk becomes an object file of its own, the home module another
    /// one. A chunk then also owns the variables in its functions' comdats and the aliases and
    /// ifuncs of its functions, which must land in the same object.
    Codegen,
}

/// Plans the chunks of `home` and promotes its local symbols. `home` must stay alive and untouched
/// (but for `extract`, `remove_chunked_bodies` and the merge) until `Restore` has been applied.
pub fn prepare(home: &Module, options: PlanOptions, purpose: Purpose) -> Split {
    prepare_planned(home, purpose, "", false, |costs, together, _calls| {
        plan::plan(costs, together, options)
    })
}

/// `prepare` with the chunks chosen by `planner`, which gets the function definitions (in
/// module order), the pairs of positions that must share a chunk, and the direct calls between
/// definitions (caller position, callee position). Promoted names carry `salt`
/// (`__llpar.local.<salt>N`), so that units of different modules never share a name.
///
/// With `keep_unit_locals` (codegen units), a local function or variable used only by
/// instructions of one chunk's functions is not promoted: it stays local in that chunk (a
/// variable moves there), and `remove_unit_locals` takes it out of the home module afterwards.
pub fn prepare_planned(
    home: &Module,
    purpose: Purpose,
    salt: &str,
    keep_unit_locals: bool,
    planner: impl FnOnce(&[FunctionCost], &[(usize, usize)], &[(usize, usize)]) -> Vec<Chunk>,
) -> Split {
    let functions = llvm::functions(home);
    let mut costs = Vec::new();
    let mut function_costs = vec![0; functions.len()];
    let mut together = Vec::new();
    let mut position_of: HashMap<GlobalRef, usize> = HashMap::new();
    let mut first_in_comdat: HashMap<ComdatRef, usize> = HashMap::new();
    let mut block_address_uses = Vec::new();
    let mut callees = Vec::new();
    for (index, &f) in functions.iter().enumerate() {
        if f.is_declaration() {
            continue;
        }
        let pos = costs.len();
        position_of.insert(f, pos);
        let (cost, uses, calls) = f.body_summary_with_calls();
        callees.extend(calls.into_iter().map(|g| (pos, g)));
        costs.push(FunctionCost { index, cost });
        function_costs[index] = cost;
        if let Some(c) = f.comdat() {
            let first = *first_in_comdat.entry(c).or_insert(pos);
            together.push((first, pos));
        }
        block_address_uses.extend(uses.into_iter().map(|g| (pos, g)));
    }
    for (pos, target) in block_address_uses {
        if let Some(&other) = position_of.get(&target) {
            together.push((pos, other));
        }
    }
    // A variable holding block addresses (a computed-goto table) goes with the functions whose
    // blocks it names, and so do the functions that use it: the blocks must stay address-taken
    // where they are optimized, and loads from the table can still fold.
    let mut block_address_tables = Vec::new();
    for v in llvm::variables(home) {
        let targets = v.block_address_functions();
        if targets.is_empty() || v.is_declaration() {
            continue;
        }
        let group: Vec<usize> = targets
            .iter()
            .chain(v.user_functions().iter())
            .filter_map(|f| position_of.get(f).copied())
            .collect();
        together.extend(group.windows(2).map(|w| (w[0], w[1])));
        if let Some(&owner) = targets.iter().find_map(|f| position_of.get(f)) {
            block_address_tables.push((v, owner));
        }
    }
    let calls: Vec<(usize, usize)> = callees
        .into_iter()
        .filter_map(|(pos, g)| position_of.get(&g).map(|&callee| (pos, callee)))
        .collect();
    let chunks = planner(&costs, &together, &calls);
    let mut chunk_of_function = HashMap::new();
    for (c, chunk) in chunks.iter().enumerate() {
        for &i in &chunk.functions {
            chunk_of_function.insert(i, c);
        }
    }
    let mut owned_variables = vec![Vec::new(); chunks.len()];
    for (v, owner) in block_address_tables {
        owned_variables[chunk_of_function[&costs[owner].index]].push(v);
    }
    let mut owned_aliases = vec![Vec::new(); chunks.len()];
    if purpose == Purpose::Codegen {
        let chunk_of = |f: &GlobalRef| {
            position_of
                .get(f)
                .map(|&pos| chunk_of_function[&costs[pos].index])
        };
        let mut chunk_of_comdat: HashMap<ComdatRef, usize> = HashMap::new();
        for (&c, &pos) in &first_in_comdat {
            chunk_of_comdat.insert(c, chunk_of_function[&costs[pos].index]);
        }
        for v in llvm::variables(home) {
            if let Some(c) = v.comdat().and_then(|c| chunk_of_comdat.get(&c)) {
                if !v.is_declaration() && !owned_variables[*c].contains(&v) {
                    owned_variables[*c].push(v);
                }
            }
        }
        for a in llvm::aliases(home).into_iter().chain(llvm::ifuncs(home)) {
            if let Some(c) = a.alias_target().as_ref().and_then(chunk_of) {
                owned_aliases[c].push(a);
            }
        }
    }

    // Locals that one chunk alone uses (through instructions only) need no promotion.
    let mut unit_locals = Vec::new();
    if keep_unit_locals {
        let chunk_of_defined = |f: &GlobalRef| {
            position_of
                .get(f)
                .map(|&pos| chunk_of_function[&costs[pos].index])
        };
        let owned: std::collections::HashSet<GlobalRef> =
            owned_variables.iter().flatten().copied().collect();
        for g in llvm::global_values(home) {
            // Unnamed ones are promoted all the same: the units and the merge find globals by name.
            if !g.has_local_linkage()
                || g.is_declaration()
                || !(g.is_function() || g.is_variable())
                || g.name().is_empty()
            {
                continue;
            }
            let Some(users) = g.only_instruction_users() else {
                continue;
            };
            let user_chunks: Vec<Option<usize>> = users.iter().map(chunk_of_defined).collect();
            let Some(&Some(chunk)) = user_chunks.first() else {
                continue;
            };
            if user_chunks.iter().any(|c| *c != Some(chunk)) {
                continue;
            }
            if g.is_function() {
                if chunk_of_defined(&g) == Some(chunk) {
                    unit_locals.push(g);
                }
            } else if !owned.contains(&g) {
                owned_variables[chunk].push(g);
                unit_locals.push(g);
            }
        }
    }
    let kept: std::collections::HashSet<GlobalRef> = unit_locals.iter().copied().collect();
    let mut promotions = Vec::new();
    let mut local_functions = Vec::new();
    let mut counter = 0usize;
    // Module-level assembly refers to symbols by name: a local it names keeps its name when
    // promoted (made external and hidden), so that the assembly still finds it.
    let inline_asm = llvm::module_inline_asm(home);
    let named_in_asm = |name: &[u8]| {
        !name.is_empty() && inline_asm.as_bytes().windows(name.len()).any(|w| w == name)
    };
    for g in llvm::global_values(home) {
        if !g.has_local_linkage() || kept.contains(&g) {
            continue;
        }
        let promoted_name = loop {
            if named_in_asm(&g.name()) {
                break g.name();
            }
            let candidate = format!("{PROMOTED_PREFIX}{salt}{counter}").into_bytes();
            counter += 1;
            if llvm::named_global(home, &candidate).is_none() {
                break candidate;
            }
        };
        promotions.push(Promotion {
            promoted_name: promoted_name.clone(),
            original_name: g.name(),
            linkage: g.linkage(),
        });
        if g.is_function() {
            local_functions.push((g, g.linkage()));
        }
        g.set_linkage(Linkage::LLVMExternalLinkage);
        g.set_visibility(Visibility::LLVMHiddenVisibility);
        g.set_name(&promoted_name);
    }
    let function_order = functions.iter().map(|f| f.name()).collect();
    let variable_order = llvm::variables(home).iter().map(|v| v.name()).collect();
    let chunked: Vec<GlobalRef> = chunks
        .iter()
        .flat_map(|c| c.functions.iter().map(|&i| functions[i]))
        .collect();
    let comdats = chunked
        .iter()
        .filter_map(|f| f.comdat().map(|c| (f.name(), c)))
        .collect();
    let moved_variables = owned_variables
        .iter()
        .flatten()
        .map(|v| (v.name(), v.linkage(), v.comdat()))
        .collect();
    let copyable_variables = llvm::variables(home)
        .into_iter()
        .filter(|v| {
            !v.is_declaration()
                && copyable_linkage(v.linkage())
                && !is_llvm_reserved(&v.name())
                && v.block_address_functions().is_empty()
        })
        .collect();
    let original_names = promotions
        .iter()
        .map(|p| (p.promoted_name.clone(), p.original_name.clone()))
        .collect();
    Split {
        chunks,
        restore: Restore {
            promotions,
            function_order,
            variable_order,
            comdats,
            moved_variables,
            struct_types: llvm::struct_types(home),
            original_names,
        },
        functions,
        function_costs,
        copyable_variables,
        owned_variables,
        local_functions,
        owned_aliases,
        unit_locals,
        purpose,
        use_ranks: Some(llvm::UseRanks::new(home)),
    }
}

impl Split {
    /// The functions of chunk `index`, by name, for messages and reports.
    pub fn chunk_function_names(&self, index: usize) -> Vec<String> {
        self.chunks[index]
            .functions
            .iter()
            .map(|&i| self.display_name(self.functions[i]))
            .collect()
    }

    /// The own name (not the promoted one) of function `index` of the home module's list.
    pub fn function_name(&self, index: usize) -> String {
        self.display_name(self.functions[index])
    }

    fn display_name(&self, f: GlobalRef) -> String {
        let name = f.name();
        let shown = self.restore.original_names.get(&name).unwrap_or(&name);
        String::from_utf8_lossy(shown).into_owned()
    }

    /// Extracts chunk `index` of `home` as a standalone module, in bitcode.
    pub fn extract(&self, home: &Module, index: usize) -> ChunkModule {
        let mut owned: Vec<GlobalRef> = self.chunks[index]
            .functions
            .iter()
            .map(|&i| self.functions[i])
            .collect();
        owned.extend(self.owned_variables[index].iter().copied());
        owned.extend(self.owned_aliases[index].iter().copied());
        let chunk = llvm::extract_chunk(
            home,
            self.use_ranks
                .as_ref()
                .expect("chunks are extracted before bodies are removed"),
            &owned,
            &self.copyable_variables,
            &self.local_functions,
            self.purpose == Purpose::Codegen,
        );
        let names = self.chunk_function_names(index);
        let largest_function = self.chunks[index]
            .functions
            .iter()
            .max_by_key(|&&i| self.function_costs[i])
            .map(|&i| (self.display_name(self.functions[i]), self.function_costs[i]))
            .unwrap_or_default();
        let mut description = format!(
            "chunk {index} ({} function{}: ",
            names.len(),
            if names.len() == 1 { "" } else { "s" }
        );
        description.push_str(&names.iter().take(3).cloned().collect::<Vec<_>>().join(", "));
        if names.len() > 3 {
            description.push_str(", ...");
        }
        description.push(')');
        let promoted_names = self.chunks[index]
            .functions
            .iter()
            .map(|&i| self.functions[i].display_name())
            .zip(names)
            .filter(|(promoted, original)| promoted != original)
            .collect();
        ChunkModule {
            index,
            bitcode: llvm::write_bitcode(&chunk),
            description,
            promoted_names,
            largest_function,
        }
    }

    /// Turns every chunked function of `home` into a declaration, ready to receive the optimized
    /// bodies. Call once every chunk has been extracted.
    /// After `remove_chunked_bodies`: takes the locals that stayed local in their chunk out of
    /// the home module, where only their (now invalid, local) declarations are left.
    pub fn remove_unit_locals(&mut self) {
        for g in std::mem::take(&mut self.unit_locals) {
            g.erase_if_unused();
        }
    }

    /// The locals that stayed local in their chunk, by name, with their linkage.
    pub fn unit_locals(&self) -> Vec<(Vec<u8>, Linkage)> {
        self.unit_locals
            .iter()
            .map(|g| (g.name(), g.linkage()))
            .collect()
    }

    pub fn remove_chunked_bodies(&mut self) {
        self.use_ranks = None;
        for chunk in &self.chunks {
            for &i in &chunk.functions {
                self.functions[i].delete_body();
            }
        }
        for v in self.owned_variables.iter().flatten() {
            v.remove_initializer();
            v.set_linkage(Linkage::LLVMExternalLinkage);
        }
        for a in self.owned_aliases.iter().flatten() {
            a.replace_alias_with_declaration();
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2 + 1);
    out.push('x');
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.strip_prefix('x')?;
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2)?, 16).ok())
        .collect()
}

fn linkage_code(l: Linkage) -> &'static str {
    use Linkage::*;
    match l {
        LLVMExternalLinkage => "external",
        LLVMAvailableExternallyLinkage => "available_externally",
        LLVMLinkOnceAnyLinkage => "linkonce",
        LLVMLinkOnceODRLinkage => "linkonce_odr",
        LLVMWeakAnyLinkage => "weak",
        LLVMWeakODRLinkage => "weak_odr",
        LLVMAppendingLinkage => "appending",
        LLVMInternalLinkage => "internal",
        LLVMPrivateLinkage => "private",
        LLVMExternalWeakLinkage => "extern_weak",
        LLVMCommonLinkage => "common",
        _ => "external",
    }
}

fn linkage_from_code(code: &str) -> Option<Linkage> {
    use Linkage::*;
    Some(match code {
        "external" => LLVMExternalLinkage,
        "available_externally" => LLVMAvailableExternallyLinkage,
        "linkonce" => LLVMLinkOnceAnyLinkage,
        "linkonce_odr" => LLVMLinkOnceODRLinkage,
        "weak" => LLVMWeakAnyLinkage,
        "weak_odr" => LLVMWeakODRLinkage,
        "appending" => LLVMAppendingLinkage,
        "internal" => LLVMInternalLinkage,
        "private" => LLVMPrivateLinkage,
        "extern_weak" => LLVMExternalWeakLinkage,
        "common" => LLVMCommonLinkage,
        _ => return None,
    })
}

impl Restore {
    /// The restore information as text, for a split whose units are written out (code generation
    /// purpose, where comdats travel with their functions): promotions and function order.
    pub fn encode(&self) -> String {
        let mut out = String::from("llpar-restore 1\n");
        for p in &self.promotions {
            let _ = writeln!(
                out,
                "promote {} {} {}",
                hex(&p.promoted_name),
                hex(&p.original_name),
                linkage_code(p.linkage)
            );
        }
        for name in &self.function_order {
            let _ = writeln!(out, "function {}", hex(name));
        }
        for name in &self.variable_order {
            let _ = writeln!(out, "variable {}", hex(name));
        }
        for (name, linkage, _) in &self.moved_variables {
            let _ = writeln!(out, "moved {} {}", hex(name), linkage_code(*linkage));
        }
        out
    }

    /// Reads what `encode` wrote into unit 0, `first_unit`, before the other units are linked
    /// into it: its struct types are the ones whose names the merge gives back.
    pub fn decode(text: &str, first_unit: &Module) -> Result<Restore, String> {
        let mut lines = text.lines();
        if lines.next() != Some("llpar-restore 1") {
            return Err("no llpar split information (not a unit 0 of `llpar split`?)".into());
        }
        let mut restore = Restore {
            promotions: Vec::new(),
            function_order: Vec::new(),
            variable_order: Vec::new(),
            comdats: Vec::new(),
            moved_variables: Vec::new(),
            struct_types: llvm::struct_types(first_unit),
            original_names: HashMap::new(),
        };
        for line in lines {
            let fields: Vec<&str> = line.split(' ').collect();
            let bad = || format!("malformed llpar split information: '{line}'");
            match fields.as_slice() {
                ["promote", promoted, original, linkage] => restore.promotions.push(Promotion {
                    promoted_name: unhex(promoted).ok_or_else(bad)?,
                    original_name: unhex(original).ok_or_else(bad)?,
                    linkage: linkage_from_code(linkage).ok_or_else(bad)?,
                }),
                ["function", name] => restore.function_order.push(unhex(name).ok_or_else(bad)?),
                ["variable", name] => restore.variable_order.push(unhex(name).ok_or_else(bad)?),
                ["moved", name, linkage] => {
                    // Comdats travel with the units' definitions: `refresh_moved_comdats` takes
                    // them from the merged module once the units are linked.
                    restore.moved_variables.push((
                        unhex(name).ok_or_else(bad)?,
                        linkage_from_code(linkage).ok_or_else(bad)?,
                        None,
                    ));
                }
                _ => return Err(bad()),
            }
        }
        restore.original_names = restore
            .promotions
            .iter()
            .map(|p| (p.promoted_name.clone(), p.original_name.clone()))
            .collect();
        Ok(restore)
    }

    /// After the units are linked: the variables that units own keep the comdats they brought.
    pub fn refresh_moved_comdats(&mut self, merged: &Module) {
        for (name, _, comdat) in &mut self.moved_variables {
            *comdat = llvm::named_global(merged, name).and_then(|v| v.comdat());
        }
    }

    /// Promoted symbol names and the local names they stood for (empty for unnamed globals).
    pub fn promoted_names(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.promotions
            .iter()
            .map(|p| (p.promoted_name.as_slice(), p.original_name.as_slice()))
    }

    /// Puts the merged module back into the input's shape: function order, comdats, and local
    /// symbols under their own names.
    pub fn apply(&self, merged: &Module) {
        llvm::restore_struct_names(merged, &self.struct_types);
        let order: Vec<GlobalRef> = self
            .function_order
            .iter()
            .filter_map(|n| llvm::named_global(merged, n))
            .filter(|g| g.is_function())
            .collect();
        llvm::order_functions(merged, &order);
        let order: Vec<GlobalRef> = self
            .variable_order
            .iter()
            .filter_map(|n| llvm::named_global(merged, n))
            .filter(|g| g.is_variable())
            .collect();
        if !order.is_empty() {
            llvm::order_variables(merged, &order);
        }
        for (name, comdat) in &self.comdats {
            if let Some(f) = llvm::named_global(merged, name) {
                if !f.is_declaration() {
                    f.set_comdat(Some(*comdat));
                }
            }
        }
        for (name, linkage, comdat) in &self.moved_variables {
            if let Some(v) = llvm::named_global(merged, name) {
                v.set_linkage(*linkage);
                v.set_comdat(*comdat);
            }
        }
        for p in &self.promotions {
            if let Some(g) = llvm::named_global(merged, &p.promoted_name) {
                g.set_visibility(Visibility::LLVMDefaultVisibility);
                g.set_linkage(p.linkage);
                g.set_name(&p.original_name);
            }
        }
        self.rename_derived_globals(merged);
    }

    /// Passes name what they create after the function they work on (`switch.table.f`); for a
    /// promoted function that name holds the promoted one. Gives such globals the real name.
    fn rename_derived_globals(&self, merged: &Module) {
        let prefix = PROMOTED_PREFIX.as_bytes();
        for g in llvm::global_values(merged) {
            let name = g.name();
            let Some(at) = name.windows(prefix.len()).position(|w| w == prefix) else {
                continue;
            };
            // The promoted name goes on with its salt and number: letters, digits and `_`.
            let digits = name[at + prefix.len()..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count();
            let promoted = &name[at..at + prefix.len() + digits];
            if let Some(original) = self.original_names.get(promoted).filter(|o| !o.is_empty()) {
                let mut renamed = name[..at].to_vec();
                renamed.extend_from_slice(original);
                renamed.extend_from_slice(&name[at + promoted.len()..]);
                g.set_name(&renamed);
            }
        }
    }
}
