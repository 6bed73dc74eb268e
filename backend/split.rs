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
use crate::llvm::{self, ComdatRef, GlobalRef, Linkage, UseRanks, UseTable, Visibility};
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

/// Everything needed to turn the merged module back into the input's shape. It holds names, not
/// handles, so that it outlives the edits of the merge (linking erases the home module's
/// declarations of what the chunks define).
#[derive(Debug)]
pub struct Restore<'c> {
    promotions: Vec<Promotion>,
    /// Every function of the home module, in order, by its (possibly promoted) name.
    function_order: Vec<Vec<u8>>,
    /// Every global variable, in order, by name (units only: linking units reorders them).
    variable_order: Vec<Vec<u8>>,
    /// The comdat of each chunked function: the function's (possibly promoted) name, the
    /// comdat's name.
    comdats: Vec<(Vec<u8>, Vec<u8>)>,
    /// Variables a chunk owns while it is optimized (block address tables): name, linkage, the
    /// comdat's name.
    moved_variables: Vec<(Vec<u8>, Linkage, Option<Vec<u8>>)>,
    /// The input's named struct types, whose names copies made by merging take back.
    struct_types: llvm::StructTypes<'c>,
    /// Promoted name -> the local name it stands for (empty for unnamed globals).
    original_names: HashMap<Vec<u8>, Vec<u8>>,
}

/// One chunk as it leaves the home module.
pub struct ChunkModule {
    pub bitcode: Vec<u8>,
    /// A short description for messages: the chunk's first functions.
    pub description: String,
    /// The chunk's largest function and its cost, for the critical path.
    pub largest_function: (String, u64),
    /// (promoted name, own name) of the chunk's functions that were promoted, for messages.
    pub promoted_names: Vec<(String, String)>,
}

/// The split of one module: its plan and how to restore it. It refers to the home module's
/// globals by position in its lists (functions, variables, aliases then ifuncs), not by handle,
/// so that it does not borrow the module: the merge edits it meanwhile.
pub struct Split<'c> {
    pub chunks: Vec<Chunk>,
    pub restore: Restore<'c>,
    /// The cost (instructions) of each function of the home module's list; 0 for declarations.
    function_costs: Vec<u64>,
    /// Variables whose definitions chunks may copy as `available_externally`.
    copyable_variables: Vec<usize>,
    /// Functions that were local before promotion, with their linkage: chunks keep them local.
    local_functions: Vec<(usize, Linkage)>,
    /// Per chunk, the variables it owns while optimized (tables of its functions' block addresses).
    owned_variables: Vec<Vec<usize>>,
    /// Per chunk, the aliases and ifuncs it owns (code generation only).
    owned_aliases: Vec<Vec<usize>>,
    /// Functions and variables left local because one chunk alone uses them (codegen units
    /// only), and their names and linkages.
    unit_local_functions: Vec<usize>,
    unit_local_variables: Vec<usize>,
    unit_locals: Vec<(Vec<u8>, Linkage)>,
    purpose: Purpose,
    /// Per chunk, set once its bodies are removed: it cannot be extracted after that.
    removed: Vec<bool>,
    /// What the call-graph walk needs, for a split made by `prepare_walk`.
    walk: Option<WalkPlan>,
}

/// What the call-graph walk adds to a split (see `plan::plan_walk`).
struct WalkPlan {
    /// Per chunk, the functions of the same or later waves its functions call (positions in the
    /// home module's function list; members of a large SCC): imported as they are before the walk.
    callees: Vec<Vec<usize>>,
    /// Per chunk, the chunks of earlier waves it calls into, and per such chunk the (promoted)
    /// names of the functions called: imported from their results.
    deps: Vec<(Vec<usize>, Vec<Vec<String>>)>,
    /// Per chunk, the functions it owns that may be dropped when unused (`linkonce`,
    /// `available_externally`) and that are used outside it.
    keep_alive: Vec<Vec<usize>>,
    /// Local functions used outside their chunk: external (and hidden) in it, so that its
    /// passes neither drop them nor count on knowing every caller.
    shared_locals: std::collections::HashSet<usize>,
    /// Per chunk, the names of the functions it holds only for other chunks' instructions
    /// (local, `linkonce` or `available_externally`, used outside it by instructions alone),
    /// and the chunks whose walk results alone can still refer to them: those of their users,
    /// and of every chunk that imports a body from one of those, and so on. Once those are
    /// walked, a function that none of their results refers to, and its own chunk no longer
    /// uses, is dead, as `opt` would find it after the walk.
    droppable: Vec<(Vec<String>, Vec<usize>)>,
}

/// A callee of another chunk at most this costly (instructions, as simplified) is imported into
/// its callers' chunks, where the inliner may inline it. The inliner's threshold at `-O2`
/// (225, about 5 per instruction) and `-O3` (250) stay well below it.
pub const IMPORT_LIMIT: u64 = 300;

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
pub fn prepare<'c>(home: &Module<'c>, options: PlanOptions, purpose: Purpose) -> Split<'c> {
    let sole = sole_callers(&llvm::functions(home));
    prepare_planned(home, purpose, "", false, |costs, together, _calls| {
        plan::plan(costs, &with_sole_callers(costs, together, &sole), options)
    })
}

/// (caller, callee) function indices of the local functions that one other function alone uses,
/// through its instructions, at one place. Such a callee stays with its caller: passes treat a
/// call to a local function with one use as an inlining candidate (loop unrolling and peeling
/// hold back for it, LLVM's `CodeMetrics`), which a declaration in another chunk would not be.
/// A callee used twice is no candidate, wherever it is.
fn sole_callers(functions: &[GlobalRef]) -> Vec<(usize, usize)> {
    let once = Uses::of(functions).sole_users(functions);
    once.into_iter()
        .filter(|&(_, callee)| functions[callee].has_one_use())
        .collect()
}

/// Each global's position in `list`.
fn positions_of<'m>(list: &[GlobalRef<'m>]) -> HashMap<GlobalRef<'m>, usize> {
    list.iter().enumerate().map(|(i, &g)| (g, i)).collect()
}

/// `together` with the `sole` (caller, callee) pairs added, as positions in `costs`.
fn with_sole_callers(
    costs: &[FunctionCost],
    together: &[(usize, usize)],
    sole: &[(usize, usize)],
) -> Vec<(usize, usize)> {
    let position: HashMap<usize, usize> = costs
        .iter()
        .enumerate()
        .map(|(p, c)| (c.index, p))
        .collect();
    let mut together = together.to_vec();
    together.extend(
        sole.iter()
            .filter_map(|(a, b)| Some((*position.get(a)?, *position.get(b)?))),
    );
    together
}

/// Plans the waves of the call-graph walk over `home` (see `plan::plan_walk`) and promotes its
/// local symbols. A local function whose one user is another function goes with that function,
/// so that the inliner there sees its only caller, as in the whole module.
pub fn prepare_walk<'c>(home: &Module<'c>, options: PlanOptions, purpose: Purpose) -> Split<'c> {
    let functions = llvm::functions(home);
    let uses = Uses::of(&functions);
    let sole = uses.sole_users(&functions);
    let mut waves = Vec::new();
    let mut calls_by_index = Vec::new();
    let mut split = prepare_planned(home, purpose, "", false, |costs, together, calls| {
        let together = with_sole_callers(costs, together, &sole);
        calls_by_index = calls
            .iter()
            .map(|&(a, b)| (costs[a].index, costs[b].index))
            .collect();
        waves = plan::plan_walk(costs, &together, calls, options);
        waves.iter().flatten().cloned().collect()
    });
    let mut chunk_of = vec![usize::MAX; functions.len()];
    for (c, chunk) in split.chunks.iter().enumerate() {
        for &i in &chunk.functions {
            chunk_of[i] = c;
        }
    }
    let wave_of: Vec<usize> = waves
        .iter()
        .enumerate()
        .flat_map(|(w, wave)| std::iter::repeat_n(w, wave.len()))
        .collect();
    let may_import = worth_importing_early(&functions, &sole);
    // A chunk's result this small costs little to read: the chunks of long call chains (see
    // `plan::plan_walk`), and the last of a level's.
    let small_result = options.min_chunk_cost / 8;
    let cheap_import = memoized(functions.len(), |i| {
        split.chunks[chunk_of[i]].cost <= small_result && importable(functions[i])
    });
    let calls = CrossCalls::of(
        &calls_by_index,
        &chunk_of,
        &wave_of,
        may_import,
        cheap_import,
    );
    let deps = calls.named_deps(&functions);
    let mut outside =
        uses.outside_chunks(&functions, &chunk_of, split.chunks.len(), &calls.exposed);
    let importers = importers(&deps, &calls.callees, &chunk_of);
    for (_, chunks) in &mut outside.droppable {
        *chunks = closure(std::mem::take(chunks), &importers);
    }
    split.walk = Some(WalkPlan {
        callees: calls.callees,
        deps,
        keep_alive: outside.keep_alive,
        shared_locals: outside.shared_locals,
        droppable: outside.droppable,
    });
    split
}

/// Per function, whether a chunk that calls it within its own wave (a member of a large SCC)
/// may import its body as it is before the walk: a body small enough to inline (see
/// `importable`; a local one is promoted for it), and without a local callee that it alone
/// calls, once. `opt` inlines such a callee into it first (the last call of a local function
/// costs almost nothing), so the body its callers weigh is larger than the one before the
/// walk; and importing it would expose that callee to other chunks, which would make it
/// external, and so no longer inlined for free in its own chunk. (Lua: `luaC_step`, whose
/// `genstep` and `incstep` were left out of line.)
fn worth_importing_early<'a>(
    functions: &'a [GlobalRef],
    sole: &[(usize, usize)],
) -> impl FnMut(usize) -> bool + 'a {
    let mut alone_calls_a_local = vec![false; functions.len()];
    for &(user, callee) in sole {
        alone_calls_a_local[user] |= functions[callee].has_one_use();
    }
    memoized(functions.len(), move |i| {
        let f = functions[i];
        !alone_calls_a_local[i]
            && !f.is_declaration()
            && (f.has_local_linkage() || means_what_it_says(f))
            && small_enough_to_import(f)
    })
}

/// `predicate` over `0..n`, each answer computed once (the import rules read function bodies).
fn memoized(n: usize, mut predicate: impl FnMut(usize) -> bool) -> impl FnMut(usize) -> bool {
    let mut known: Vec<Option<bool>> = vec![None; n];
    move |i| *known[i].get_or_insert_with(|| predicate(i))
}

/// The calls between the walk's chunks, by function index.
struct CrossCalls {
    /// Per chunk, the callees in chunks of the same or a later wave (members of a large SCC,
    /// see `plan::plan_walk`): imported as they are before their own chunk's passes.
    callees: Vec<Vec<usize>>,
    /// Per chunk, per chunk of an earlier wave it calls into, the callees there.
    dep_calls: Vec<std::collections::BTreeMap<usize, Vec<usize>>>,
    /// Per function, whether a chunk imports it as it is before the walk: what it uses, its
    /// own chunk must not drop.
    exposed: Vec<bool>,
}

impl CrossCalls {
    fn of(
        calls: &[(usize, usize)],
        chunk_of: &[usize],
        wave_of: &[usize],
        mut may_import: impl FnMut(usize) -> bool,
        cheap_import: impl FnMut(usize) -> bool,
    ) -> Self {
        let chunks = wave_of.len();
        let mut cross = CrossCalls {
            callees: vec![Vec::new(); chunks],
            dep_calls: vec![Default::default(); chunks],
            exposed: vec![false; chunk_of.len()],
        };
        for &(caller, callee) in calls {
            let (from, to) = (chunk_of[caller], chunk_of[callee]);
            if from == to {
                continue;
            }
            if wave_of[from] <= wave_of[to] {
                if may_import(callee) {
                    cross.callees[from].push(callee);
                    cross.exposed[callee] = true;
                }
            } else {
                cross.dep_calls[from].entry(to).or_default().push(callee);
            }
        }
        cross.add_callees_of_imports(calls, chunk_of, cheap_import);
        for list in &mut cross.callees {
            list.sort_unstable();
            list.dedup();
        }
        cross
    }

    /// Names for each chunk the callees of the functions it imports from its dependencies,
    /// where they are in one of those dependencies or, when `cheap_import` (small enough to
    /// import, from a small result), in a dependency of the dependency that the calling body
    /// comes from: either is done before the chunk starts, so what it imports never depends on
    /// timing. Once the inliner inlines an imported body, the calls it brings are its next
    /// candidates, as in `opt`: in Lua, `luaL_setfuncs` inlined into each `luaopen_*` brought
    /// `lua_pushcclosure`, which `opt` then inlined and a chunk could not; in sqlite3,
    /// `sqlite3VdbeChangeP4` brings `freeP4`, whose long chain of callers gives it a small
    /// chunk of its own. Only those that an imported body calls are imported
    /// (`llpar_import_all`). Other callees are left out: reading every result that holds one
    /// cost HiGHS 10-15% more CPU time, for 0.2-0.4% more .text (two comparisons).
    fn add_callees_of_imports(
        &mut self,
        calls: &[(usize, usize)],
        chunk_of: &[usize],
        mut cheap_import: impl FnMut(usize) -> bool,
    ) {
        let mut callees_of: HashMap<usize, Vec<usize>> = HashMap::new();
        for &(caller, callee) in calls {
            callees_of.entry(caller).or_default().push(callee);
        }
        let done_before: Vec<Vec<usize>> = self
            .dep_calls
            .iter()
            .map(|deps| deps.keys().copied().collect())
            .collect();
        for deps in &mut self.dep_calls {
            let mut more: Vec<(usize, usize)> = Vec::new();
            for (&from, imported) in deps.iter() {
                for g in imported
                    .iter()
                    .flat_map(|f| callees_of.get(f).into_iter().flatten())
                {
                    let at = chunk_of[*g];
                    if deps.contains_key(&at)
                        || (done_before[from].binary_search(&at).is_ok() && cheap_import(*g))
                    {
                        more.push((at, *g));
                    }
                }
            }
            for (at, g) in more {
                deps.entry(at).or_default().push(g);
            }
        }
    }

    /// Per chunk, the chunks it depends on, and per such chunk the names of its callees there.
    fn named_deps(&self, functions: &[GlobalRef]) -> Vec<(Vec<usize>, Vec<Vec<String>>)> {
        let name = |f: usize| String::from_utf8_lossy(&functions[f].name()).into_owned();
        self.dep_calls
            .iter()
            .map(|by_chunk| {
                by_chunk
                    .iter()
                    .map(|(&d, fs)| {
                        let mut fs = fs.clone();
                        fs.sort_unstable();
                        fs.dedup();
                        (d, fs.into_iter().map(name).collect())
                    })
                    .unzip()
            })
            .collect()
    }
}

/// Who uses each function, and whether its chunk may drop it.
struct Uses {
    /// Per function, the functions whose instructions use it; `None` if something else does.
    users: Vec<Option<Vec<usize>>>,
    /// `linkonce` and `available_externally` functions: dropped where unused.
    discardable: Vec<bool>,
    local: Vec<bool>,
}

impl Uses {
    fn of(functions: &[GlobalRef]) -> Self {
        let at = positions_of(functions);
        let users = functions
            .iter()
            .map(|f| {
                let users = f.only_instruction_users()?;
                users.iter().map(|u| at.get(u).copied()).collect()
            })
            .collect();
        let discardable = functions
            .iter()
            .map(|f| {
                matches!(
                    f.linkage(),
                    Linkage::LLVMLinkOnceAnyLinkage
                        | Linkage::LLVMLinkOnceODRLinkage
                        | Linkage::LLVMAvailableExternallyLinkage
                )
            })
            .collect();
        let local = functions.iter().map(|f| f.has_local_linkage()).collect();
        Uses {
            users,
            discardable,
            local,
        }
    }

    /// (user, callee) function indices of the local functions whose uses are all in one
    /// other function's instructions.
    fn sole_users(&self, functions: &[GlobalRef]) -> Vec<(usize, usize)> {
        (0..functions.len())
            .filter(|&i| self.local[i] && !functions[i].is_declaration())
            .filter_map(|i| match self.users[i].as_deref() {
                Some(&[caller]) if caller != i => Some((caller, i)),
                _ => None,
            })
            .collect()
    }

    /// For the functions used outside their chunk (or by a body another chunk imports): per
    /// chunk those to keep alive (`linkonce`), the locals shared, and per chunk those it may
    /// drop once unused, with the chunks whose users could still refer to them.
    fn outside_chunks(
        &self,
        functions: &[GlobalRef],
        chunk_of: &[usize],
        chunks: usize,
        exposed: &[bool],
    ) -> Outside {
        let used_outside = |i: usize| match &self.users[i] {
            Some(list) => list
                .iter()
                .any(|&u| chunk_of[u] != chunk_of[i] || exposed[u]),
            None => true,
        };
        let mut keep_alive = vec![Vec::new(); chunks];
        let mut droppable: Vec<(Vec<String>, Vec<usize>)> = vec![Default::default(); chunks];
        let mut shared_locals = std::collections::HashSet::new();
        for i in (0..functions.len()).filter(|&i| chunk_of[i] != usize::MAX && used_outside(i)) {
            let (local, discardable) = (self.local[i], self.discardable[i]);
            if local {
                shared_locals.insert(i);
            } else if discardable {
                keep_alive[chunk_of[i]].push(i);
            }
            if let (true, Some(users)) = (local || discardable, &self.users[i]) {
                let (names, user_chunks) = &mut droppable[chunk_of[i]];
                names.push(String::from_utf8_lossy(&functions[i].name()).into_owned());
                let chunks = users.iter().map(|&u| chunk_of[u]);
                user_chunks.extend(chunks.filter(|&c| c != usize::MAX));
            }
        }
        Outside {
            keep_alive,
            shared_locals,
            droppable,
        }
    }
}

/// Functions used outside their chunk (see `WalkPlan`'s fields of the same names).
struct Outside {
    keep_alive: Vec<Vec<usize>>,
    shared_locals: std::collections::HashSet<usize>,
    droppable: Vec<(Vec<String>, Vec<usize>)>,
}

/// Per chunk, the chunks that import bodies from it: from its walk's result (they depend on
/// it) or as they are before the walk (callees of a large SCC).
fn importers(
    deps: &[(Vec<usize>, Vec<Vec<String>>)],
    callees: &[Vec<usize>],
    chunk_of: &[usize],
) -> Vec<Vec<usize>> {
    let mut importers = vec![Vec::new(); deps.len()];
    for (c, (ds, _)) in deps.iter().enumerate() {
        for &d in ds {
            importers[d].push(c);
        }
    }
    for (c, list) in callees.iter().enumerate() {
        for &f in list.iter().filter(|&&f| chunk_of[f] != usize::MAX) {
            importers[chunk_of[f]].push(c);
        }
    }
    importers
}

/// `start` with every chunk that imports from one in it, sorted.
fn closure(start: Vec<usize>, importers: &[Vec<usize>]) -> Vec<usize> {
    let mut seen = vec![false; importers.len()];
    let mut stack = start;
    let mut all = Vec::new();
    while let Some(c) = stack.pop() {
        if std::mem::replace(&mut seen[c], true) {
            continue;
        }
        all.push(c);
        stack.extend(importers[c].iter().copied().filter(|&x| !seen[x]));
    }
    all.sort_unstable();
    all
}

/// Whether a function of another chunk can come along, as an `available_externally` copy, for
/// the inliner: a definition small enough to be worth inlining, whose body means what it says
/// (not interposable), and with no `blockaddress` ties.
fn importable(f: GlobalRef) -> bool {
    !f.is_declaration() && means_what_it_says(f) && small_enough_to_import(f)
}

/// Whether every caller of `f` gets the body `f` has here (its linkage lets no other
/// definition replace it at link time).
fn means_what_it_says(f: GlobalRef) -> bool {
    use Linkage::*;
    matches!(
        f.linkage(),
        LLVMExternalLinkage
            | LLVMLinkOnceODRLinkage
            | LLVMWeakODRLinkage
            | LLVMAvailableExternallyLinkage
    )
}

/// Whether `f`'s body is small enough for a chunk to import, and has no `blockaddress` ties.
fn small_enough_to_import(f: GlobalRef) -> bool {
    let (cost, block_addresses, _) = f.body_summary_with_calls();
    cost <= IMPORT_LIMIT && block_addresses.is_empty()
}

/// `prepare` with the chunks chosen by `planner`, which gets the function definitions (in
/// module order), the pairs of positions that must share a chunk, and the direct calls between
/// definitions (caller position, callee position). Promoted names carry `salt`
/// (`__llpar.local.<salt>N`), so that units of different modules never share a name.
///
/// With `keep_unit_locals` (codegen units), a local function or variable used only by
/// instructions of one chunk's functions is not promoted: it stays local in that chunk (a
/// variable moves there), and `remove_unit_locals` takes it out of the home module afterwards.
pub fn prepare_planned<'c>(
    home: &Module<'c>,
    purpose: Purpose,
    salt: &str,
    keep_unit_locals: bool,
    planner: impl FnOnce(&[FunctionCost], &[(usize, usize)], &[(usize, usize)]) -> Vec<Chunk>,
) -> Split<'c> {
    let survey = Survey::of(home);
    let chunks = planner(&survey.costs, &survey.together, &survey.calls);
    let chunk_at = survey.chunk_at(&chunks);
    let mut owned = Owned::of(home, &survey, &chunk_at, chunks.len(), purpose);
    let unit_locals = match keep_unit_locals {
        true => unit_locals(home, &survey, &chunk_at, &mut owned.variables),
        false => Vec::new(),
    };
    let (promotions, local_functions) = promote(home, &unit_locals, salt);
    let parts = Parts {
        functions: survey.functions,
        function_costs: survey.function_costs,
        owned,
        unit_locals,
        promotions,
        local_functions,
    };
    parts.into_split(home, chunks, purpose)
}

/// What planning needs to know of the home module's function definitions. A definition's
/// *position* is its place among the definitions, in module order.
struct Survey<'m> {
    /// Every function of the home module's list, declarations included.
    functions: Vec<GlobalRef<'m>>,
    /// Per position: its index in `functions`, its cost, its anchor.
    costs: Vec<FunctionCost>,
    /// Per index in `functions`: the cost (0 for declarations).
    function_costs: Vec<u64>,
    /// Pairs of positions that must share a chunk.
    together: Vec<(usize, usize)>,
    /// Direct calls between definitions (caller position, callee position).
    calls: Vec<(usize, usize)>,
    position_of: HashMap<GlobalRef<'m>, usize>,
    /// Per comdat, the position of its first function.
    first_in_comdat: HashMap<ComdatRef<'m>, usize>,
    /// Variables holding block addresses (computed-goto tables), with the position of a
    /// function whose blocks they name.
    block_address_tables: Vec<(GlobalRef<'m>, usize)>,
}

impl<'m> Survey<'m> {
    fn of(home: &'m Module) -> Self {
        let functions = llvm::functions(home);
        let mut survey = Survey {
            function_costs: vec![0; functions.len()],
            functions,
            costs: Vec::new(),
            together: Vec::new(),
            calls: Vec::new(),
            position_of: HashMap::new(),
            first_in_comdat: HashMap::new(),
            block_address_tables: Vec::new(),
        };
        let mut block_address_uses = Vec::new();
        let mut callees = Vec::new();
        for (index, &f) in survey.functions.iter().enumerate() {
            if f.is_declaration() {
                continue;
            }
            let pos = survey.costs.len();
            survey.position_of.insert(f, pos);
            let (cost, uses, calls) = f.body_summary_with_calls();
            callees.extend(calls.into_iter().map(|g| (pos, g)));
            survey.costs.push(FunctionCost {
                index,
                cost,
                anchor: plan::anchor(&f.name()),
            });
            survey.function_costs[index] = cost;
            if let Some(c) = f.comdat() {
                let first = *survey.first_in_comdat.entry(c).or_insert(pos);
                survey.together.push((first, pos));
            }
            block_address_uses.extend(uses.into_iter().map(|g| (pos, g)));
        }
        for (pos, target) in block_address_uses {
            if let Some(&other) = survey.position_of.get(&target) {
                survey.together.push((pos, other));
            }
        }
        survey.calls = callees
            .into_iter()
            .filter_map(|(pos, g)| survey.position_of.get(&g).map(|&callee| (pos, callee)))
            .collect();
        survey.block_address_tables(home);
        survey
    }

    /// A variable holding block addresses (a computed-goto table) goes with the functions
    /// whose blocks it names, and so do the functions that use it: the blocks must stay
    /// address-taken where they are optimized, and loads from the table can still fold.
    fn block_address_tables(&mut self, home: &'m Module) {
        for v in llvm::variables(home) {
            let targets = v.block_address_functions();
            if targets.is_empty() || v.is_declaration() {
                continue;
            }
            let group: Vec<usize> = targets
                .iter()
                .chain(v.user_functions().iter())
                .filter_map(|f| self.position_of.get(f).copied())
                .collect();
            self.together.extend(group.windows(2).map(|w| (w[0], w[1])));
            if let Some(&owner) = targets.iter().find_map(|f| self.position_of.get(f)) {
                self.block_address_tables.push((v, owner));
            }
        }
    }

    /// Per position, the chunk that holds it (the planner puts every definition in one).
    fn chunk_at(&self, chunks: &[Chunk]) -> Vec<usize> {
        let mut chunk_of_index = HashMap::new();
        for (c, chunk) in chunks.iter().enumerate() {
            for &i in &chunk.functions {
                chunk_of_index.insert(i, c);
            }
        }
        self.costs
            .iter()
            .map(|f| chunk_of_index[&f.index])
            .collect()
    }

    /// The chunk that holds function `f`, if it is a definition.
    fn chunk_of(&self, chunk_at: &[usize], f: &GlobalRef<'m>) -> Option<usize> {
        self.position_of.get(f).map(|&pos| chunk_at[pos])
    }
}

/// Per chunk, the globals other than functions that it owns.
struct Owned<'m> {
    /// Block address tables of its functions, and (code generation) variables of its comdats.
    variables: Vec<Vec<GlobalRef<'m>>>,
    /// Aliases and ifuncs of its functions (code generation only).
    aliases: Vec<Vec<GlobalRef<'m>>>,
}

impl<'m> Owned<'m> {
    fn of(
        home: &'m Module,
        survey: &Survey<'m>,
        chunk_at: &[usize],
        chunks: usize,
        purpose: Purpose,
    ) -> Self {
        let mut owned = Owned {
            variables: vec![Vec::new(); chunks],
            aliases: vec![Vec::new(); chunks],
        };
        for &(v, owner) in &survey.block_address_tables {
            owned.variables[chunk_at[owner]].push(v);
        }
        if purpose != Purpose::Codegen {
            return owned;
        }
        // An object must have a comdat group, and an alias with what it stands for, whole.
        let chunk_of_comdat: HashMap<ComdatRef, usize> = survey
            .first_in_comdat
            .iter()
            .map(|(&c, &pos)| (c, chunk_at[pos]))
            .collect();
        for v in llvm::variables(home) {
            if let Some(&c) = v.comdat().and_then(|c| chunk_of_comdat.get(&c)) {
                if !v.is_declaration() && !owned.variables[c].contains(&v) {
                    owned.variables[c].push(v);
                }
            }
        }
        for a in llvm::aliases(home).into_iter().chain(llvm::ifuncs(home)) {
            let target = a.alias_target();
            if let Some(c) = target.as_ref().and_then(|f| survey.chunk_of(chunk_at, f)) {
                owned.aliases[c].push(a);
            }
        }
        owned
    }
}

/// Locals that instructions of one chunk alone use: they need no promotion. A variable among
/// them moves to that chunk (added to `owned_variables`).
fn unit_locals<'m>(
    home: &'m Module,
    survey: &Survey<'m>,
    chunk_at: &[usize],
    owned_variables: &mut [Vec<GlobalRef<'m>>],
) -> Vec<GlobalRef<'m>> {
    let owned: std::collections::HashSet<GlobalRef> =
        owned_variables.iter().flatten().copied().collect();
    let mut unit_locals = Vec::new();
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
        let user_chunks: Vec<Option<usize>> =
            users.iter().map(|f| survey.chunk_of(chunk_at, f)).collect();
        let Some(&Some(chunk)) = user_chunks.first() else {
            continue;
        };
        if user_chunks.iter().any(|c| *c != Some(chunk)) {
            continue;
        }
        if g.is_function() {
            if survey.chunk_of(chunk_at, &g) == Some(chunk) {
                unit_locals.push(g);
            }
        } else if !owned.contains(&g) {
            owned_variables[chunk].push(g);
            unit_locals.push(g);
        }
    }
    unit_locals
}

/// Makes every local symbol but `kept` external and hidden under a name of its own
/// (`__llpar.local.<salt>N`); returns the promotions, and the functions among them with their
/// linkage.
fn promote<'m>(
    home: &'m Module,
    kept: &[GlobalRef<'m>],
    salt: &str,
) -> (Vec<Promotion>, Vec<(GlobalRef<'m>, Linkage)>) {
    let kept: std::collections::HashSet<GlobalRef> = kept.iter().copied().collect();
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
    (promotions, local_functions)
}

/// What `prepare_planned` found and did, by handle, before it becomes a `Split` by position.
struct Parts<'m> {
    functions: Vec<GlobalRef<'m>>,
    function_costs: Vec<u64>,
    owned: Owned<'m>,
    unit_locals: Vec<GlobalRef<'m>>,
    promotions: Vec<Promotion>,
    local_functions: Vec<(GlobalRef<'m>, Linkage)>,
}

impl Parts<'_> {
    /// The split, with handles turned into positions in the home module's lists (which a
    /// worker's copy of the home module shares), and names as they are after promotion.
    fn into_split<'c>(self, home: &Module<'c>, chunks: Vec<Chunk>, purpose: Purpose) -> Split<'c> {
        let functions = &self.functions;
        let variables = llvm::variables(home);
        let (function_at, variable_at) = (positions_of(functions), positions_of(&variables));
        let alias_at = positions_of(&llvm::aliases_and_ifuncs(home));
        let positions = |globals: &[GlobalRef], at: &HashMap<GlobalRef, usize>| -> Vec<usize> {
            globals.iter().filter_map(|g| at.get(g).copied()).collect()
        };
        let chunked: Vec<GlobalRef> = chunks
            .iter()
            .flat_map(|c| c.functions.iter().map(|&i| functions[i]))
            .collect();
        let restore = Restore {
            function_order: functions.iter().map(|f| f.name()).collect(),
            variable_order: variables.iter().map(|v| v.name()).collect(),
            comdats: chunked
                .iter()
                .filter_map(|f| f.comdat().map(|c| (f.name(), c.name())))
                .collect(),
            moved_variables: self
                .owned
                .variables
                .iter()
                .flatten()
                .map(|v| (v.name(), v.linkage(), v.comdat().map(|c| c.name())))
                .collect(),
            struct_types: llvm::struct_types(home),
            original_names: self
                .promotions
                .iter()
                .map(|p| (p.promoted_name.clone(), p.original_name.clone()))
                .collect(),
            promotions: self.promotions,
        };
        Split {
            restore,
            function_costs: self.function_costs,
            copyable_variables: copyable_variables(&variables),
            owned_variables: self
                .owned
                .variables
                .iter()
                .map(|vs| positions(vs, &variable_at))
                .collect(),
            local_functions: self
                .local_functions
                .iter()
                .filter_map(|(f, l)| Some((*function_at.get(f)?, *l)))
                .collect(),
            owned_aliases: self
                .owned
                .aliases
                .iter()
                .map(|a| positions(a, &alias_at))
                .collect(),
            unit_local_functions: positions(&self.unit_locals, &function_at),
            unit_local_variables: positions(&self.unit_locals, &variable_at),
            unit_locals: self
                .unit_locals
                .iter()
                .map(|g| (g.name(), g.linkage()))
                .collect(),
            removed: vec![false; chunks.len()],
            chunks,
            purpose,
            walk: None,
        }
    }
}

/// Positions of the variables whose definitions chunks may copy as `available_externally`.
fn copyable_variables(variables: &[GlobalRef]) -> Vec<usize> {
    variables
        .iter()
        .enumerate()
        .filter(|(_, v)| {
            !v.is_declaration()
                && copyable_linkage(v.linkage())
                && !is_llvm_reserved(&v.name())
                && v.block_address_functions().is_empty()
        })
        .map(|(i, _)| i)
        .collect()
}

/// What extracting a chunk takes, by position in the home module's lists (functions, variables,
/// aliases then ifuncs): plain data, no LLVM handle, so that a worker can extract chunks from a
/// copy of the home module read in a context of its own, where the same positions hold the
/// same globals.
#[derive(Debug, Clone)]
pub struct Recipe {
    /// Per chunk, the functions it owns.
    functions: Vec<Vec<usize>>,
    owned_variables: Vec<Vec<usize>>,
    owned_aliases: Vec<Vec<usize>>,
    copyable_variables: Vec<usize>,
    /// Functions that were local before promotion and stay local in their chunk.
    local_functions: Vec<(usize, Linkage)>,
    /// Per chunk (call-graph walk only), the callees whose bodies come along, and the functions
    /// kept alive.
    imports: Vec<Vec<usize>>,
    keep_alive: Vec<Vec<usize>>,
    /// The functions some chunk imports (their bodies serve more than one chunk).
    imported: std::collections::HashSet<usize>,
    for_codegen: bool,
}

/// A module that chunks are extracted from (the home module, or a worker's copy of it), with
/// its globals listed once. Listing them for every chunk walked the whole module each time: on
/// HiGHS, twice per chunk for 428 chunks over some 45,000 functions (`LLVMGetNextFunction` was
/// 1.6% of a profile of the workers).
pub struct Listed<'m, 'c> {
    pub module: &'m Module<'c>,
    pub functions: Vec<GlobalRef<'m>>,
    variables: Vec<GlobalRef<'m>>,
    aliases: Vec<GlobalRef<'m>>,
}

impl<'m, 'c> Listed<'m, 'c> {
    pub fn new(module: &'m Module<'c>) -> Self {
        Listed {
            module,
            functions: llvm::functions(module),
            variables: llvm::variables(module),
            aliases: llvm::aliases_and_ifuncs(module),
        }
    }
}

impl Recipe {
    /// The functions whose bodies chunk `index` copies: its own, and its imports.
    pub fn bodies(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        let imports = self.imports.get(index).map_or(&[][..], Vec::as_slice);
        self.functions[index].iter().chain(imports).copied()
    }

    /// The functions whose bodies no chunk but `index` needs: those it owns that no chunk
    /// imports. A worker's copy may drop them once the chunk is extracted; dropping any other
    /// would leave a later chunk of the same worker without an import, which would make its
    /// input depend on how the chunks were shared among the workers.
    pub fn bodies_done_with(&self, index: usize) -> impl Iterator<Item = usize> + '_ {
        self.functions[index]
            .iter()
            .copied()
            .filter(|i| !self.imported.contains(i))
    }

    /// Extracts chunk `index` from `home` (the home module, or a copy of it whose chunk bodies
    /// are read), in bitcode. `ranks` are `home`'s; `uses` the home module's (see `UseTable`).
    pub fn extract<'m>(
        &self,
        home: &Listed<'m, '_>,
        ranks: &UseRanks<'m>,
        uses: &UseTable,
        index: usize,
    ) -> Vec<u8> {
        let (functions, variables, aliases) = (&home.functions, &home.variables, &home.aliases);
        let pick = |list: &[GlobalRef<'m>], at: &[usize]| -> Vec<GlobalRef<'m>> {
            at.iter().filter_map(|&i| list.get(i).copied()).collect()
        };
        let per_chunk = |lists: &[Vec<usize>]| lists.get(index).cloned().unwrap_or_default();
        let mut owned = pick(functions, &self.functions[index]);
        owned.extend(pick(variables, &self.owned_variables[index]));
        owned.extend(pick(aliases, &self.owned_aliases[index]));
        let one_use = |i: usize| uses.0.get(i).is_some_and(|u| u.one_use);
        let extras = llvm::ChunkExtras {
            copyable: pick(variables, &self.copyable_variables),
            local_functions: self
                .local_functions
                .iter()
                .filter_map(|&(i, l)| Some((*functions.get(i)?, l, one_use(i))))
                .collect(),
            imports: pick(functions, &per_chunk(&self.imports))
                .into_iter()
                .filter(|f| importable(*f))
                .collect(),
            keep_alive: pick(functions, &per_chunk(&self.keep_alive)),
        };
        let span = crate::trace::span("clone into the chunk");
        let chunk = llvm::extract_chunk(home.module, ranks, &owned, &extras, self.for_codegen);
        drop(span);
        let span = crate::trace::span("write the chunk's bitcode");
        let bitcode = llvm::write_bitcode(&chunk);
        drop(span);
        let _span = crate::trace::span("free the chunk");
        drop(chunk);
        bitcode
    }
}

impl<'c> Split<'c> {
    /// The functions of chunk `index`, by name, for messages and reports.
    pub fn chunk_function_names(&self, index: usize) -> Vec<String> {
        self.chunks[index]
            .functions
            .iter()
            .map(|&i| self.function_name(i))
            .collect()
    }

    /// The own name (not the promoted one) of function `index` of the home module's list.
    pub fn function_name(&self, index: usize) -> String {
        let name = &self.restore.function_order[index];
        let shown = self.restore.original_names.get(name).unwrap_or(name);
        String::from_utf8_lossy(shown).into_owned()
    }

    /// What extracting any chunk of this split takes, as plain data (see `Recipe`).
    pub fn recipe(&self) -> Recipe {
        let shared = |i: &usize| {
            self.walk
                .as_ref()
                .is_some_and(|w| w.shared_locals.contains(i))
        };
        let per_chunk = |pick: fn(&WalkPlan) -> &Vec<Vec<usize>>| {
            self.walk
                .as_ref()
                .map_or_else(Vec::new, |w| pick(w).clone())
        };
        Recipe {
            functions: self.chunks.iter().map(|c| c.functions.clone()).collect(),
            owned_variables: self.owned_variables.clone(),
            owned_aliases: self.owned_aliases.clone(),
            copyable_variables: self.copyable_variables.clone(),
            local_functions: self
                .local_functions
                .iter()
                .filter(|(i, _)| !shared(i))
                .copied()
                .collect(),
            imports: per_chunk(|w| &w.callees),
            keep_alive: per_chunk(|w| &w.keep_alive),
            imported: per_chunk(|w| &w.callees).into_iter().flatten().collect(),
            for_codegen: self.purpose == Purpose::Codegen,
        }
    }

    /// Extracts chunk `index` of `home` as a standalone module, in bitcode, by `recipe` (this
    /// split's). `ranks` and `uses` are the home module's, computed after `prepare`. Panics once
    /// `remove_chunked_bodies` has run.
    pub fn extract<'m>(
        &self,
        recipe: &Recipe,
        home: &Listed<'m, '_>,
        ranks: &UseRanks<'m>,
        uses: &UseTable,
        index: usize,
    ) -> ChunkModule {
        assert!(
            !self.removed[index],
            "a chunk is extracted before its bodies are removed"
        );
        ChunkModule {
            bitcode: recipe.extract(home, ranks, uses, index),
            ..self.chunk_info(index)
        }
    }

    /// Chunk `index`'s description, largest function and promoted names (its bitcode empty).
    pub fn chunk_info(&self, index: usize) -> ChunkModule {
        let names = self.chunk_function_names(index);
        let largest_function = self.chunks[index]
            .functions
            .iter()
            .max_by_key(|&&i| self.function_costs[i])
            .map(|&i| (self.function_name(i), self.function_costs[i]))
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
            .map(|&i| String::from_utf8_lossy(&self.restore.function_order[i]).into_owned())
            .zip(names)
            .filter(|(promoted, original)| promoted != original)
            .collect();
        ChunkModule {
            bitcode: Vec::new(),
            description,
            promoted_names,
            largest_function,
        }
    }

    /// The locals that stayed local in their chunk, by name, with their linkage.
    pub fn unit_locals(&self) -> Vec<(Vec<u8>, Linkage)> {
        self.unit_locals.clone()
    }

    /// Turns every chunked function of `home` into a declaration, ready to receive the optimized
    /// bodies, and the variables and aliases chunks own into declarations; then takes the locals
    /// that stayed local in their chunk (codegen units) out of `home`, where only their (now
    /// invalid, local) declarations are left. Call once every chunk has been extracted.
    pub fn remove_chunked_bodies(&mut self, home: &mut Module<'c>) {
        self.remove_bodies(home, 0..self.chunks.len());
    }

    /// Per chunk of a split made by `prepare_walk`, the chunks it waits for and the functions
    /// of each it imports from their results.
    pub fn walk_deps(&self) -> Vec<(Vec<usize>, Vec<Vec<String>>)> {
        self.walk.as_ref().map_or_else(Vec::new, |w| w.deps.clone())
    }

    /// Per chunk of a split made by `prepare_walk`, the functions it holds only for other
    /// chunks (see `WalkPlan::droppable`).
    pub fn walk_droppable(&self) -> Vec<(Vec<String>, Vec<usize>)> {
        self.walk
            .as_ref()
            .map_or_else(Vec::new, |w| w.droppable.clone())
    }

    /// Puts the home module's functions and variables back in the order they had when the
    /// split was made: the merge appends what it links, and the split finds globals by position.
    pub fn keep_positions(&self, home: &Module<'c>) -> Result<(), String> {
        let find = |names: &[Vec<u8>], function: bool| -> Result<Vec<GlobalRef>, String> {
            names
                .iter()
                .map(|n| {
                    llvm::named_global(home, n)
                        .filter(|g| g.is_function() == function)
                        .ok_or_else(|| format!("'{}' is gone", String::from_utf8_lossy(n)))
                })
                .collect()
        };
        llvm::order_functions(home, &find(&self.restore.function_order, true)?);
        llvm::order_variables(home, &find(&self.restore.variable_order, false)?);
        Ok(())
    }

    /// Erases the chunked functions that came back from no chunk (the inliner deleted them)
    /// and that nothing uses any more. Call before `restore.apply`.
    pub fn erase_deleted_functions(&self, home: &mut Module<'c>) {
        let functions = llvm::functions(home);
        let gone: Vec<usize> = self
            .chunks
            .iter()
            .flat_map(|c| c.functions.iter().copied())
            .filter(|&i| functions.get(i).is_some_and(|f| f.is_declaration()))
            .collect();
        llvm::erase_unused_globals(home, &gone, &[]);
    }

    /// `remove_chunked_bodies` for the chunks in `range` only (a wave of the call-graph walk;
    /// later waves are extracted after its results are merged).
    pub fn remove_bodies(&mut self, home: &mut Module<'c>, range: std::ops::Range<usize>) {
        for r in &mut self.removed[range.clone()] {
            *r = true;
        }
        {
            let functions = llvm::functions(home);
            for chunk in &self.chunks[range.clone()] {
                for &i in &chunk.functions {
                    if let Some(f) = functions.get(i) {
                        f.delete_body();
                    }
                }
            }
            let variables = llvm::variables(home);
            for &i in self.owned_variables[range].iter().flatten() {
                if let Some(v) = variables.get(i) {
                    v.remove_initializer();
                    v.set_linkage(Linkage::LLVMExternalLinkage);
                }
            }
        }
        let aliases: Vec<usize> = self.owned_aliases.iter().flatten().copied().collect();
        llvm::replace_aliases_with_declarations(home, &aliases);
        // The declarations that replaced the aliases went to the ends of the lists: the
        // positions of the locals still hold.
        llvm::erase_unused_globals(
            home,
            &std::mem::take(&mut self.unit_local_functions),
            &std::mem::take(&mut self.unit_local_variables),
        );
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

impl<'c> Restore<'c> {
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
    pub fn decode(text: &str, first_unit: &Module<'c>) -> Result<Restore<'c>, String> {
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
            *comdat = llvm::named_global(merged, name)
                .and_then(|v| v.comdat())
                .map(|c| c.name());
        }
    }

    /// (promoted name, the local symbol's name in an object): a private global's symbol is a
    /// temporary label, `.L` and its name (or its promoted name when it has none), as LLVM's
    /// ELF assembly printer names it, so that the linker drops it as it drops the serial
    /// object's; an internal one keeps its own name.
    pub fn object_symbol_names(&self) -> impl Iterator<Item = (&[u8], Vec<u8>)> {
        self.promotions.iter().map(|p| {
            let name = if p.linkage == Linkage::LLVMPrivateLinkage {
                let own = if p.original_name.is_empty() {
                    &p.promoted_name
                } else {
                    &p.original_name
                };
                [b".L".as_slice(), own].concat()
            } else {
                p.original_name.clone()
            };
            (p.promoted_name.as_slice(), name)
        })
    }

    /// `text` (remarks) with every promoted name replaced by the symbol's own name.
    pub fn with_own_names(&self, text: &[u8]) -> Vec<u8> {
        let prefix = PROMOTED_PREFIX.as_bytes();
        if !text.windows(prefix.len()).any(|w| w == prefix) {
            return text.to_vec();
        }
        let own: HashMap<&[u8], &[u8]> = self.promoted_names().collect();
        let mut out = Vec::with_capacity(text.len());
        let mut rest = text;
        while let Some(at) = rest.windows(prefix.len()).position(|w| w == prefix) {
            out.extend_from_slice(&rest[..at]);
            let tail = &rest[at + prefix.len()..];
            let len = prefix.len()
                + tail
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
            let name = &rest[at..at + len];
            out.extend_from_slice(own.get(name).copied().unwrap_or(name));
            rest = &rest[at + len..];
        }
        out.extend_from_slice(rest);
        out
    }

    /// Promoted symbol names and the local names they stood for (empty for unnamed globals).
    pub fn promoted_names(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.promotions
            .iter()
            .map(|p| (p.promoted_name.as_slice(), p.original_name.as_slice()))
    }

    /// Puts the merged module back into the input's shape: function order, comdats, and local
    /// symbols under their own names.
    pub fn apply(&self, merged: &Module<'c>) {
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
        let comdat_named = |name: &Option<Vec<u8>>| -> Option<ComdatRef> {
            llvm::comdat_named(merged, name.as_deref()?)
        };
        for (name, comdat) in &self.comdats {
            if let Some(f) = llvm::named_global(merged, name) {
                if f.is_function() && !f.is_declaration() {
                    f.set_comdat(llvm::comdat_named(merged, comdat));
                }
            }
        }
        for (name, linkage, comdat) in &self.moved_variables {
            if let Some(v) = llvm::named_global(merged, name) {
                v.set_linkage(*linkage);
                if v.is_function() || v.is_variable() {
                    v.set_comdat(comdat_named(comdat));
                }
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
        let own_names: Vec<(&[u8], &[u8])> = self
            .original_names
            .iter()
            .map(|(p, o)| (p.as_slice(), o.as_slice()))
            .collect();
        llvm::rename_derived_values(merged, PROMOTED_PREFIX, &own_names);
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
