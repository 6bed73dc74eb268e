//! Planning: which function definitions go into which chunk.
//!
//! Architecture invariant: the plan depends only on the module (and the chunking options), never
//! on the number of worker threads, so the output never depends on `-j`. Every function definition
//! is in exactly one chunk. Functions that must stay together (members of one comdat group, a
//! function and the functions whose `blockaddress` it uses) form one group; chunks are contiguous
//! runs of groups in module order, so the merged module keeps the input's order, cut where the
//! accumulated cost reaches the target.

/// What the planner knows of one function definition.
#[derive(Clone, Debug)]
pub struct FunctionCost {
    /// Index of the function in the module's function list.
    pub index: usize,
    /// Estimated work (instruction count).
    pub cost: u64,
    /// A hash of the function's name: whether a chunk may end before it depends on this and
    /// its cost alone, not on the functions around it (see `plan`).
    pub anchor: u64,
}

/// A chunk: indices (into the module's function list) of the definitions it holds, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Chunk {
    pub functions: Vec<usize>,
    pub cost: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    /// The smallest cost worth a chunk of its own: below it, per-chunk overhead dominates.
    pub min_chunk_cost: u64,
    /// The most chunks a module is split into, unless it is so large that its chunks would
    /// cost more than `large_chunk_cost` each.
    pub max_chunks: usize,
    /// The largest chunk worth making: a module larger than `max_chunks` such chunks gets one
    /// chunk per this much, so that on many cores its largest chunks do not decide the wall
    /// time alone (HiGHS, 1.48M instructions, in 32 chunks: 4.5 s for its slowest on 16 cores).
    /// `u64::MAX`: `max_chunks` is a hard cap.
    pub large_chunk_cost: u64,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            min_chunk_cost: 4000,
            max_chunks: 32,
            large_chunk_cost: 16_000,
        }
    }
}

impl PlanOptions {
    /// How many chunks a module of `total` cost is cut into: one per `min_chunk_cost`, at most
    /// `max_chunks`, or one per `large_chunk_cost` for a larger module.
    fn chunk_count(&self, total: u64) -> u64 {
        (total / self.min_chunk_cost.max(1)).clamp(1, self.chunk_cap(total))
    }

    /// The most chunks a module of `total` cost may have: `max_chunks`, or one per
    /// `large_chunk_cost` for a larger module.
    fn chunk_cap(&self, total: u64) -> u64 {
        let by_size = total.div_ceil(self.large_chunk_cost.max(1));
        (self.max_chunks as u64).max(by_size).max(1)
    }
}

/// Union-find over function positions, used to glue functions that must share a chunk.
struct Groups {
    parent: Vec<usize>,
}

impl Groups {
    fn new(n: usize) -> Self {
        Groups {
            parent: (0..n).collect(),
        }
    }
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }
    /// The groups, in the order of their first member; a group's members in module order.
    fn members(&mut self) -> Vec<Vec<usize>> {
        let mut group_of_root = std::collections::HashMap::new();
        let mut members: Vec<Vec<usize>> = Vec::new();
        for pos in 0..self.parent.len() {
            let root = self.find(pos);
            let g = *group_of_root.entry(root).or_insert_with(|| {
                members.push(Vec::new());
                members.len() - 1
            });
            members[g].push(pos);
        }
        members
    }

    /// Joins two sets. Which root represents them does not matter: `members` orders groups by
    /// their first member.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        self.parent[rb] = ra;
    }
}

/// A group's cost: its functions' costs, each at least 1 (an empty function is still work).
fn group_cost(functions: &[FunctionCost], group: &[usize]) -> u64 {
    group.iter().map(|&p| functions[p].cost.max(1)).sum()
}

/// Plans chunks over `functions` (definitions in module order). `together` lists pairs of
/// positions in `functions` that must share a chunk.
///
/// Cuts are placed by content, so that an edit moves only the cuts next to it and the chunks
/// elsewhere keep their bytes (and their cache entries): a chunk ends before a group that is an
/// *anchor* (decided by its first function's name, see `FunctionCost::anchor`) once it holds half
/// the target cost, or before a group that would take it past three times the target; a group
/// that costs the target or more is a chunk of its own. The target
/// is rounded up to a step of a fixed series, so that a small change of the module's total cost
/// leaves it alone. Chunks cost the target on average; where that makes more than half again
/// as many chunks as wanted, the adjacent pair of least cost is merged, again and again.
pub fn plan(
    functions: &[FunctionCost],
    together: &[(usize, usize)],
    options: PlanOptions,
) -> Vec<Chunk> {
    if functions.is_empty() {
        return Vec::new();
    }
    let mut groups = Groups::new(functions.len());
    for &(a, b) in together {
        groups.union(a, b);
    }
    let members = groups.members();
    let total: u64 = members.iter().map(|g| group_cost(functions, g)).sum();
    let wanted = options.chunk_count(total);
    let target = stable_target(total.div_ceil(wanted));
    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current = Chunk {
        functions: Vec::new(),
        cost: 0,
    };
    let mut last_cost = 0;
    for g in &members {
        let cost = group_cost(functions, g);
        let full =
            current.cost >= target.div_ceil(2) && is_anchor(functions[g[0]].anchor, cost, target);
        // A group of a target's worth or more is a chunk of its own: on many cores, the
        // largest chunks decide the wall time.
        let large = cost >= target || last_cost >= target;
        if !current.functions.is_empty() && (full || large || current.cost + cost > 3 * target) {
            chunks.push(std::mem::take(&mut current));
        }
        last_cost = cost;
        current
            .functions
            .extend(g.iter().map(|&p| functions[p].index));
        current.cost += cost;
    }
    chunks.push(current);
    let most = (wanted + wanted / 2).min(options.chunk_cap(total));
    merge_smallest(chunks, most as usize)
}

/// The anchor of a function named `name` (see `FunctionCost::anchor`): FNV-1a, then mixed
/// (splitmix64's finalizer) so that every bit depends on every byte.
pub fn anchor(name: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in name {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// `cost` rounded up to the series 2^(k/4): steps of 19%, so that most edits leave the
/// target, and with it every cut, where it was.
fn stable_target(cost: u64) -> u64 {
    let mut step = 1.0f64;
    while (step.round() as u64) < cost {
        step *= 2f64.powf(0.25);
    }
    (step.round() as u64).max(1)
}

/// Whether a group of `cost` whose first function has `anchor` ends the chunk before it (once
/// the chunk holds half the target): true with probability 2 * cost / target, so that a chunk
/// past half its target ends after another half on average, wherever its functions come from.
fn is_anchor(anchor: u64, cost: u64, target: u64) -> bool {
    let draw = u128::from(anchor as u32);
    draw * u128::from(target) < u128::from(2 * cost) << 32
}

/// Joins the adjacent pair of chunks of least total cost (the first such pair) until there are
/// at most `most` chunks.
fn merge_smallest(mut chunks: Vec<Chunk>, most: usize) -> Vec<Chunk> {
    while chunks.len() > most.max(1) {
        let at = (0..chunks.len() - 1)
            .min_by_key(|&i| chunks[i].cost + chunks[i + 1].cost)
            .expect("two chunks or more");
        let next = chunks.remove(at + 1);
        chunks[at].functions.extend(next.functions);
        chunks[at].cost += next.cost;
    }
    chunks
}

/// The number of workers the walk's plan makes room for: a chain of groups costing more than
/// this share of the module is cut into small chunks (see `plan_walk`).
const CHAIN_WORKERS: u64 = 16;

/// How much smaller than the usual chunks the chunks of such a chain are.
const CHAIN_CHUNK_DIVISOR: u64 = 16;

/// How many times the plan looks for a chain of chunks that the groups' chains miss (see
/// `GroupGraph::widen_chain`), each time after cutting the chunks again.
const CHAIN_ROUNDS: usize = 8;

/// Plans the chunks of the parallel call-graph walk of `-O<n>` over `functions` (definitions
/// in module order), level by level of the call graph, leaves first: every callee of a chunk's
/// functions (`calls`: caller and callee positions) is in the same chunk or on a lower level,
/// so a chunk can start once the chunks it calls into are done, and see its callees already
/// simplified. Recursion (a call-graph SCC, unless it is large) and the `together` pairs stay
/// in one group; a level's groups call no other group of their level. They are cut in module
/// order at about half of `min_chunk_cost` per chunk, except the groups on chains that would
/// keep the walk from using `CHAIN_WORKERS` workers: those come first, in chunks
/// `CHAIN_CHUNK_DIVISOR` times smaller. Then, up to `CHAIN_ROUNDS` times, the groups that tie
/// a costly chain of dependent chunks together where it passes through usual-size chunks join
/// them (`GroupGraph::widen_chain`), and the levels are cut again.
/// Depends only on its arguments, never on the thread count.
pub fn plan_walk(
    functions: &[FunctionCost],
    together: &[(usize, usize)],
    calls: &[(usize, usize)],
    options: PlanOptions,
) -> Vec<Vec<Chunk>> {
    if functions.is_empty() {
        return Vec::new();
    }
    let target = (options.min_chunk_cost / 2).max(1);
    let calls = &without_large_cycles(functions, calls, 2 * target);
    let (members, group_of) = acyclic_groups(functions.len(), together, calls);
    let graph = GroupGraph::new(functions, &members, &group_of, calls);
    let level = graph.levels();
    let through = graph.chain_through();
    // A chunk on the chain of dependent chunks holds up every chunk after it for all of its
    // work, its own chain's or not: on sqlite3, chunks cut in module order made a chain of 35
    // chunks of 7-103 functions each. A group on a chain that costs more than a sixteenth of
    // the module would bound the walk below 16 workers: such groups get small chunks.
    let total: u64 = graph.cost.iter().sum();
    let mut on_chain: Vec<bool> = through
        .iter()
        .map(|&t| t.saturating_mul(CHAIN_WORKERS) >= total)
        .collect();
    let targets = (target, (target / CHAIN_CHUNK_DIVISOR).max(1));
    let mut waves = pack_waves(&graph.cost, &level, &on_chain, targets);
    for _ in 0..CHAIN_ROUNDS {
        if !graph.widen_chain(&waves, &mut on_chain, total, targets.1) {
            break;
        }
        waves = pack_waves(&graph.cost, &level, &on_chain, targets);
    }
    waves
        .into_iter()
        .map(|wave| {
            wave.into_iter()
                .map(|groups| {
                    let positions = groups.iter().flat_map(|&g| members[g].iter().copied());
                    chunk_of_positions(functions, positions.collect())
                })
                .collect()
        })
        .collect()
}

/// Per level of the call graph, leaves first, its chunks, each a list of groups (of `cost`):
/// the groups on a long chain (`on_chain`) first, in chunks of the second of `targets`, the
/// others in module order, in chunks of the first, which keeps the members of a large SCC
/// (and a file's static functions) together where they are not on one.
fn pack_waves(
    cost: &[u64],
    level: &[usize],
    on_chain: &[bool],
    (usual, small): (u64, u64),
) -> Vec<Vec<Vec<usize>>> {
    let target_of = |g: usize| if on_chain[g] { small } else { usual };
    let top = level.iter().copied().max().unwrap_or(0);
    (0..=top)
        .map(|l| {
            let mut groups: Vec<usize> = (0..cost.len()).filter(|&g| level[g] == l).collect();
            groups.sort_by_key(|&g| target_of(g));
            pack_level(cost, &groups, target_of)
        })
        .filter(|chunks| !chunks.is_empty())
        .collect()
}

/// `calls` without those between members of an SCC costlier than `limit`. A parser or an
/// interpreter is one SCC holding a sixth to a quarter of the program: glued, it would be one
/// chunk that every caller waits for. Apart, its functions are simplified in parallel, each
/// seeing the others as they were before the walk (in `opt` too, members of an SCC see each
/// other only partly simplified).
fn without_large_cycles(
    functions: &[FunctionCost],
    calls: &[(usize, usize)],
    limit: u64,
) -> Vec<(usize, usize)> {
    let mut large = vec![usize::MAX; functions.len()];
    for (i, scc) in strongly_connected(functions.len(), calls)
        .iter()
        .enumerate()
    {
        if group_cost(functions, scc) > limit {
            for &p in scc {
                large[p] = i;
            }
        }
    }
    calls
        .iter()
        .copied()
        .filter(|&(a, b)| large[a] == usize::MAX || large[a] != large[b])
        .collect()
}

/// Glues `together` pairs and call-graph cycles into groups whose call graph is acyclic.
/// Returns each group's positions (ascending) and the group of each position.
fn acyclic_groups(
    n: usize,
    together: &[(usize, usize)],
    calls: &[(usize, usize)],
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut groups = Groups::new(n);
    for &(a, b) in together {
        groups.union(a, b);
    }
    // Functions glued together may close a cycle through others: the cycles of the graph of
    // groups are glued too, after which it is acyclic.
    let edges: Vec<(usize, usize)> = calls
        .iter()
        .map(|&(a, b)| (groups.find(a), groups.find(b)))
        .filter(|(a, b)| a != b)
        .collect();
    for scc in strongly_connected(n, &edges) {
        for w in scc.windows(2) {
            groups.union(w[0], w[1]);
        }
    }
    let members = groups.members();
    let mut group_of = vec![0; n];
    for (g, m) in members.iter().enumerate() {
        for &p in m {
            group_of[p] = g;
        }
    }
    (members, group_of)
}

/// The acyclic call graph of groups: each group's callers and callees (distinct groups), and
/// its cost.
struct GroupGraph {
    callers: Vec<Vec<usize>>,
    callees: Vec<Vec<usize>>,
    cost: Vec<u64>,
}

impl GroupGraph {
    fn new(
        functions: &[FunctionCost],
        members: &[Vec<usize>],
        group_of: &[usize],
        calls: &[(usize, usize)],
    ) -> Self {
        let n = members.len();
        let (mut callers, mut callees) = (vec![Vec::new(); n], vec![Vec::new(); n]);
        let mut seen = std::collections::HashSet::new();
        for &(a, b) in calls {
            let (ga, gb) = (group_of[a], group_of[b]);
            if ga != gb && seen.insert((ga, gb)) {
                callers[gb].push(ga);
                callees[ga].push(gb);
            }
        }
        let cost = members.iter().map(|m| group_cost(functions, m)).collect();
        GroupGraph {
            callers,
            callees,
            cost,
        }
    }

    /// The groups, callees before their callers.
    fn bottom_up(&self) -> Vec<usize> {
        let n = self.callers.len();
        let mut pending: Vec<usize> = self.callees.iter().map(Vec::len).collect();
        let mut ready: Vec<usize> = (0..n).filter(|&g| pending[g] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(g) = ready.pop() {
            order.push(g);
            for &c in &self.callers[g] {
                pending[c] -= 1;
                if pending[c] == 0 {
                    ready.push(c);
                }
            }
        }
        order
    }

    /// Each group's level: 0 for a group that calls no other, else one more than its highest
    /// callee.
    fn levels(&self) -> Vec<usize> {
        let mut level = vec![0; self.callers.len()];
        for g in self.bottom_up() {
            level[g] = self.callees[g]
                .iter()
                .map(|&c| level[c] + 1)
                .max()
                .unwrap_or(0);
        }
        level
    }

    /// The cost of the costliest chain of groups through each group: from a leaf, up through
    /// the group's callers, to a group nobody calls.
    fn chain_through(&self) -> Vec<u64> {
        let (order, cost) = (self.bottom_up(), &self.cost);
        let (mut below, mut above) = (vec![0u64; cost.len()], vec![0u64; cost.len()]);
        for &g in &order {
            below[g] = cost[g] + self.callees[g].iter().map(|&c| below[c]).max().unwrap_or(0);
        }
        for &g in order.iter().rev() {
            above[g] = self.callers[g]
                .iter()
                .map(|&c| cost[c] + above[c])
                .max()
                .unwrap_or(0);
        }
        below.iter().zip(&above).map(|(b, a)| b + a).collect()
    }

    /// Finds the costliest chain of dependent chunks of `waves` (chunks of groups, see
    /// `pack_waves`; `overhead` counted per chunk) that passes through a chunk of usual size,
    /// and, if it costs a `CHAIN_WORKERS`th of the module and at least three quarters of the
    /// costliest chain of all, marks `on_chain` the groups that tie it together at such chunks:
    /// for each call from a chunk on the chain into the one before it, the caller and the
    /// callee. Returns whether it marked any. A chain of cheap groups passes through a full
    /// chunk on every level, whatever else that chunk holds (sqlite3: chunks of 46-160
    /// functions, 80-180 ms each, on a chain of 22), and `chain_through`, which counts the
    /// groups' own costs, misses it. (Marking only the groups that carry the chain through a
    /// chunk, called from the chunk after it and calling into the one before, left sqlite3's
    /// prediction at 16 workers at 4.68x with 403 chunks, against 5.40x with 469.)
    fn widen_chain(
        &self,
        waves: &[Vec<Vec<usize>>],
        on_chain: &mut [bool],
        total: u64,
        overhead: u64,
    ) -> bool {
        let chunks: Vec<&Vec<usize>> = waves.iter().flatten().collect();
        let mut chunk_of = vec![0; self.cost.len()];
        for (c, groups) in chunks.iter().enumerate() {
            for &g in groups.iter() {
                chunk_of[g] = c;
            }
        }
        let usual: Vec<bool> = chunks
            .iter()
            .map(|gs| gs.iter().any(|&g| !on_chain[g]))
            .collect();
        let Some((with_usual, all, path)) =
            self.costliest_chains(&chunks, &chunk_of, &usual, overhead)
        else {
            return false;
        };
        if with_usual.saturating_mul(CHAIN_WORKERS) < total || with_usual * 4 < all * 3 {
            return false;
        }
        let mut marked = false;
        for pair in path.windows(2).filter(|p| usual[p[0]] || usual[p[1]]) {
            let (before, c) = (pair[0], pair[1]);
            for &g in chunks[c].iter() {
                for &h in self.callees[g].iter().filter(|&&h| chunk_of[h] == before) {
                    for x in [g, h] {
                        marked |= !on_chain[x];
                        on_chain[x] = true;
                    }
                }
            }
        }
        marked
    }

    /// The cost of the costliest chain of dependent `chunks` (of groups; `chunk_of` each
    /// group's) that passes through a chunk of usual size (`usual`), the cost of the costliest
    /// chain of all, and the chunks of the first, leaf first; `overhead` counted per chunk.
    fn costliest_chains(
        &self,
        chunks: &[&Vec<usize>],
        chunk_of: &[usize],
        usual: &[bool],
        overhead: u64,
    ) -> Option<(u64, u64, Vec<usize>)> {
        // Per chunk, the costliest chain ending in it without [0] and with [1] a chunk of
        // usual size on it, and where it comes from (the chunk before it, in which state).
        // Chunks come level by level, so each comes after the chunks it calls into.
        type Best = Option<(u64, Option<(usize, usize)>)>;
        let mut best: Vec<[Best; 2]> = Vec::with_capacity(chunks.len());
        for (c, groups) in chunks.iter().enumerate() {
            let own: u64 = groups.iter().map(|&g| self.cost[g]).sum::<u64>() + overhead;
            let mut here: [Best; 2] = [None, None];
            here[usize::from(usual[c])] = Some((own, None));
            let before = groups
                .iter()
                .flat_map(|&g| self.callees[g].iter().map(|&h| chunk_of[h]));
            for d in before.filter(|&d| d != c) {
                for (was, prior) in best[d].iter().enumerate() {
                    let Some((cost, _)) = *prior else { continue };
                    let slot = &mut here[was | usize::from(usual[c])];
                    if slot.is_none_or(|(have, _)| own + cost > have) {
                        *slot = Some((own + cost, Some((d, was))));
                    }
                }
            }
            best.push(here);
        }
        let costliest = |state: usize| {
            (0..best.len())
                .filter_map(|c| Some((best[c][state]?.0, std::cmp::Reverse(c))))
                .max()
        };
        let (with_usual, std::cmp::Reverse(mut last)) = costliest(1)?;
        let all = costliest(0).map_or(0, |(cost, _)| cost).max(with_usual);
        let (mut path, mut state) = (vec![last], 1);
        while let Some((_, Some((previous, was)))) = best[last][state] {
            path.push(previous);
            (last, state) = (previous, was);
        }
        path.reverse();
        Some((with_usual, all, path))
    }
}

/// The chunks of one level: its groups (which do not call each other) in the order given, cut
/// at about the target of each chunk's first group (`target_of`), and where that target
/// changes: a chunk that a long chain passes through does not also hold cheap groups.
fn pack_level(cost: &[u64], groups: &[usize], target_of: impl Fn(usize) -> u64) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let (mut current, mut have, mut target) = (Vec::new(), 0, 0);
    for &g in groups {
        let add = cost[g];
        let full = have >= target || have + add / 2 > target;
        if !current.is_empty() && (full || target_of(g) != target) {
            chunks.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            (have, target) = (0, target_of(g));
        }
        current.push(g);
        have += add;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

fn chunk_of_positions(functions: &[FunctionCost], mut positions: Vec<usize>) -> Chunk {
    positions.sort_unstable();
    Chunk {
        cost: group_cost(functions, &positions),
        functions: positions.iter().map(|&p| functions[p].index).collect(),
    }
}

/// How `llpar split` assigns functions to codegen units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Strategy {
    /// Groups, largest first, each to the unit with the least cost so far.
    Balanced,
    /// As `Balanced`, but recursive functions (a call-graph SCC) stay together, and a small
    /// callee with one caller stays with it, so that unit-local inlining still sees them.
    CallGraph,
    /// Every group of functions in a unit of its own.
    PerFunction,
    /// Groups in module order, dealt out to the units in turn (as `llvm-split -round-robin`).
    RoundRobin,
}

/// A callee at most this costly (instructions) with one caller stays with it (`CallGraph`).
pub const SMALL_CALLEE: u64 = 40;

/// Why two functions share a unit, for the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glue {
    pub first: usize,
    pub second: usize,
    pub reason: &'static str,
}

/// Codegen units over `functions` (definitions in module order): `units` of them, or as many
/// as `target_size` (cost per unit) asks for, or one per group with `PerFunction`. `together`
/// pairs must share a unit; `calls` are (caller, callee) positions. Deterministic: depends on
/// nothing but its arguments. Returns the units (possibly empty ones) and why functions were
/// glued together.
pub fn plan_units(
    functions: &[FunctionCost],
    together: &[(usize, usize)],
    calls: &[(usize, usize)],
    strategy: Strategy,
    units: Option<usize>,
    target_size: Option<u64>,
) -> (Vec<Chunk>, Vec<Glue>) {
    let mut groups = Groups::new(functions.len());
    let mut glue = Vec::new();
    let mut join = |groups: &mut Groups, a: usize, b: usize, reason: &'static str| {
        if groups.find(a) != groups.find(b) {
            groups.union(a, b);
            glue.push(Glue {
                first: functions[a.min(b)].index,
                second: functions[a.max(b)].index,
                reason,
            });
        }
    };
    for &(a, b) in together {
        join(
            &mut groups,
            a,
            b,
            "must share a unit (comdat, blockaddress or its table, alias)",
        );
    }
    if strategy == Strategy::CallGraph {
        for scc in strongly_connected(functions.len(), calls) {
            for w in scc.windows(2) {
                join(&mut groups, w[0], w[1], "recursion (one call-graph SCC)");
            }
        }
        let mut callers: Vec<Vec<usize>> = vec![Vec::new(); functions.len()];
        for &(caller, callee) in calls {
            if caller != callee && !callers[callee].contains(&caller) {
                callers[callee].push(caller);
            }
        }
        for (callee, list) in callers.iter().enumerate() {
            if list.len() == 1 && functions[callee].cost <= SMALL_CALLEE {
                join(
                    &mut groups,
                    list[0],
                    callee,
                    "small callee with its only caller",
                );
            }
        }
    }
    let members = groups.members();
    let cost_of = |g: &Vec<usize>| group_cost(functions, g);
    let total: u64 = members.iter().map(cost_of).sum();
    let count = match (strategy, target_size, units) {
        (Strategy::PerFunction, _, _) => members.len(),
        (_, Some(size), _) => total.div_ceil(size.max(1)) as usize,
        (_, None, Some(n)) => n,
        (_, None, None) => 2,
    }
    .max(1);
    let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); count];
    match strategy {
        Strategy::PerFunction => {
            for (g, m) in members.iter().enumerate() {
                assigned[g].extend(m);
            }
        }
        Strategy::RoundRobin => {
            for (g, m) in members.iter().enumerate() {
                assigned[g % count].extend(m);
            }
        }
        Strategy::Balanced | Strategy::CallGraph => {
            let mut order: Vec<usize> = (0..members.len()).collect();
            order.sort_by_key(|&g| (std::cmp::Reverse(cost_of(&members[g])), members[g][0]));
            let mut load = vec![0u64; count];
            for g in order {
                let unit = (0..count)
                    .min_by_key(|&u| (load[u], u))
                    .expect("count >= 1");
                load[unit] += cost_of(&members[g]);
                assigned[unit].extend(&members[g]);
            }
        }
    }
    let chunks = assigned
        .into_iter()
        .map(|mut positions| {
            positions.sort_unstable();
            Chunk {
                cost: group_cost(functions, &positions),
                functions: positions.iter().map(|&p| functions[p].index).collect(),
            }
        })
        .collect();
    (chunks, glue)
}

/// The strongly connected components with more than one member (Tarjan's algorithm, without
/// recursion), each in ascending order.
fn strongly_connected(n: usize, edges: &[(usize, usize)]) -> Vec<Vec<usize>> {
    let mut successors: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in edges {
        successors[a].push(b);
    }
    let (mut index, mut low) = (vec![usize::MAX; n], vec![0; n]);
    let (mut on_stack, mut stack, mut next, mut out) = (vec![false; n], Vec::new(), 0, Vec::new());
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, next successor to visit)
        let mut work = vec![(root, 0usize)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut i)) = work.last_mut() {
            if let Some(&w) = successors[v].get(*i) {
                *i += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut scc = Vec::new();
                loop {
                    let w = stack.pop().expect("v is on the stack");
                    on_stack[w] = false;
                    scc.push(w);
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    scc.sort_unstable();
                    out.push(scc);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs(c: &[u64]) -> Vec<FunctionCost> {
        c.iter()
            .enumerate()
            .map(|(i, &cost)| FunctionCost {
                index: i,
                cost,
                anchor: anchor(format!("f{i}").as_bytes()),
            })
            .collect()
    }

    #[test]
    fn a_large_module_gets_more_chunks_than_the_cap() {
        let options = PlanOptions::default();
        // 244k instructions (sqlite3): 32 chunks of about 7.6k.
        assert_eq!(options.chunk_count(244_000), 32);
        // 1.48M (HiGHS): one chunk per 16k instead of 32 of 46k.
        assert_eq!(options.chunk_count(1_480_000), 93);
        let capped = PlanOptions {
            large_chunk_cost: u64::MAX,
            ..options
        };
        assert_eq!(capped.chunk_count(1_480_000), 32);
        assert_eq!(options.chunk_count(100), 1);
    }

    #[test]
    fn every_function_in_exactly_one_chunk_in_order() {
        let f = costs(&[500; 100]);
        let chunks = plan(
            &f,
            &[],
            PlanOptions {
                min_chunk_cost: 5000,
                max_chunks: 32,
                large_chunk_cost: u64::MAX,
            },
        );
        // Ten wanted; about the target's worth each, never more than half again as many.
        assert!((5..=15).contains(&chunks.len()), "{} chunks", chunks.len());
        let all: Vec<usize> = chunks.iter().flat_map(|c| c.functions.clone()).collect();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let target = stable_target(5000);
        let last = chunks.len() - 1;
        assert!(chunks[..last]
            .iter()
            .all(|c| c.cost >= target / 2 && c.cost <= 3 * target));
    }

    fn sizes(chunks: &[Chunk]) -> Vec<usize> {
        chunks.iter().map(|c| c.functions.len()).collect()
    }

    #[test]
    fn never_more_chunks_than_allowed() {
        let options = PlanOptions {
            min_chunk_cost: 1,
            max_chunks: 2,
            large_chunk_cost: u64::MAX,
        };
        let chunks = plan(&costs(&[10, 10, 100, 10, 10, 100, 10]), &[], options);
        assert!(chunks.len() <= 2);
        assert_eq!(sizes(&chunks).iter().sum::<usize>(), 7);
        let tiny = PlanOptions {
            max_chunks: 32,
            ..options
        };
        assert!(plan(&costs(&[1; 100]), &[], tiny).len() <= 32);
    }

    #[test]
    fn an_edit_moves_few_cuts() {
        // 2,000 functions of varied cost; one of them grows or shrinks: only the chunks next
        // to it change.
        let base: Vec<u64> = (0..2000u64).map(|i| 20 + (i * 7919) % 300).collect();
        let options = PlanOptions::default();
        let before = plan(&costs(&base), &[], options);
        for (at, delta) in [(10usize, 40i64), (700, -100), (1500, 250), (1999, 5)] {
            let mut edited = base.clone();
            edited[at] = (edited[at] as i64 + delta) as u64;
            let after = plan(&costs(&edited), &[], options);
            let changed = after
                .iter()
                .filter(|c| !before.iter().any(|b| b.functions == c.functions))
                .count();
            assert!(
                changed <= 2,
                "{changed} chunks changed by editing function {at}"
            );
        }
    }

    #[test]
    fn glued_functions_share_a_chunk() {
        let f = costs(&[1000; 10]);
        let chunks = plan(
            &f,
            &[(0, 9), (3, 4)],
            PlanOptions {
                min_chunk_cost: 2000,
                max_chunks: 32,
                large_chunk_cost: u64::MAX,
            },
        );
        let chunk_of = |i: usize| {
            chunks
                .iter()
                .position(|c| c.functions.contains(&i))
                .unwrap()
        };
        assert_eq!(chunk_of(0), chunk_of(9));
        assert_eq!(chunk_of(3), chunk_of(4));
        let n: usize = chunks.iter().map(|c| c.functions.len()).sum();
        assert_eq!(n, 10);
    }

    #[test]
    fn small_modules_are_one_chunk_and_empty_ones_none() {
        assert_eq!(
            plan(&costs(&[10, 20, 30]), &[], PlanOptions::default()).len(),
            1
        );
        assert!(plan(&[], &[], PlanOptions::default()).is_empty());
    }

    #[test]
    fn one_huge_function_gets_a_chunk_of_its_own() {
        let mut c = vec![100u64; 50];
        c[25] = 100_000;
        let chunks = plan(
            &costs(&c),
            &[],
            PlanOptions {
                min_chunk_cost: 1000,
                max_chunks: 8,
                large_chunk_cost: u64::MAX,
            },
        );
        assert!(chunks.iter().any(|ch| ch.functions == vec![25]));
        assert!(chunks.len() <= 8);
    }

    #[test]
    fn strongly_connected_components_of_more_than_one_function() {
        // 0 -> 1 -> 2 -> 0 and 2 -> 3 <-> 4; 5 alone; 6 calls itself.
        let edges = [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 3), (6, 6)];
        let mut sccs = strongly_connected(7, &edges);
        sccs.sort();
        assert_eq!(sccs, vec![vec![0, 1, 2], vec![3, 4]]);
    }

    #[test]
    fn callgraph_glues_recursion_and_only_small_callees_of_one_caller() {
        let glued = |c: &[u64], calls: &[(usize, usize)]| {
            let (_, glue) = plan_units(&costs(c), &[], calls, Strategy::CallGraph, Some(2), None);
            glue.len()
        };
        // Two large functions calling each other: one SCC.
        assert_eq!(glued(&[100, 100], &[(0, 1), (1, 0)]), 1);
        // A large callee with one caller, a small callee with two: nothing glued.
        assert_eq!(glued(&[100, 100], &[(0, 1)]), 0);
        assert_eq!(glued(&[100, 100, 10], &[(0, 2), (1, 2)]), 0);
        // A small callee with one caller is glued to it, however often it is called, and
        // whether or not it also calls itself.
        assert_eq!(glued(&[100, 100, 10], &[(0, 2)]), 1);
        assert_eq!(glued(&[100, 10], &[(0, 1), (0, 1)]), 1);
        assert_eq!(glued(&[100, 10], &[(0, 1), (1, 1)]), 1);
    }

    #[test]
    fn strategies_assign_every_function_once() {
        let f = costs(&[100, 10, 10, 300, 5, 50]);
        // 0 calls 1, 1 calls 0 (recursion); 3 calls 4 (a small callee).
        let calls = [(0, 1), (1, 0), (3, 4)];
        for strategy in [
            Strategy::Balanced,
            Strategy::CallGraph,
            Strategy::PerFunction,
            Strategy::RoundRobin,
        ] {
            let (units, _) = plan_units(&f, &[], &calls, strategy, Some(3), None);
            let mut all: Vec<usize> = units.iter().flat_map(|u| u.functions.clone()).collect();
            all.sort_unstable();
            assert_eq!(all, vec![0, 1, 2, 3, 4, 5], "{strategy:?}");
        }
        let unit_of =
            |units: &[Chunk], i: usize| units.iter().position(|u| u.functions.contains(&i));
        let (units, glue) = plan_units(&f, &[], &calls, Strategy::CallGraph, Some(3), None);
        assert_eq!(unit_of(&units, 0), unit_of(&units, 1));
        assert_eq!(unit_of(&units, 3), unit_of(&units, 4));
        assert_eq!(glue.len(), 2);
        // Balanced, largest first: 300 | 100 | 50, then 10, 10, 5 to the lightest.
        let (units, _) = plan_units(&f, &[], &[], Strategy::Balanced, Some(3), None);
        assert_eq!(units.iter().map(|u| u.cost).max(), Some(300));
        let (units, _) = plan_units(&f, &[], &[], Strategy::RoundRobin, Some(2), None);
        assert_eq!(units[0].functions, vec![0, 2, 4]);
        let (units, _) = plan_units(&f, &[], &[], Strategy::PerFunction, None, None);
        assert_eq!(units.len(), 6);
        // 475 instructions at most 200 per unit: 3 units.
        let (units, _) = plan_units(&f, &[], &[], Strategy::Balanced, None, Some(200));
        assert_eq!(units.len(), 3);
    }

    /// The chunk (index into the flattened plan) and level holding each function.
    fn walk_positions(waves: &[Vec<Chunk>], n: usize) -> Vec<(usize, usize)> {
        let mut at = vec![(usize::MAX, usize::MAX); n];
        let mut chunk = 0;
        for (level, wave) in waves.iter().enumerate() {
            for c in wave {
                for &f in &c.functions {
                    assert_eq!(at[f], (usize::MAX, usize::MAX), "function {f} twice");
                    at[f] = (chunk, level);
                }
                chunk += 1;
            }
        }
        assert!(
            at.iter().all(|&(c, _)| c != usize::MAX),
            "a function in no chunk"
        );
        at
    }

    #[test]
    fn walk_puts_callees_on_lower_levels_and_recursion_together() {
        let options = PlanOptions {
            min_chunk_cost: 200,
            max_chunks: 32,
            large_chunk_cost: u64::MAX,
        };
        // 0 calls 1 and 2; 1 and 3 call each other (small SCC); 3 calls 4; 5 calls nothing.
        let f = costs(&[10; 6]);
        let calls = [(0, 1), (0, 2), (1, 3), (3, 1), (3, 4)];
        let at = walk_positions(&plan_walk(&f, &[], &calls, options), 6);
        assert_eq!(at[1].0, at[3].0, "a small SCC shares a chunk");
        assert!(at[4].1 < at[1].1 && at[1].1 < at[0].1 && at[2].1 < at[0].1);
        assert_eq!((at[2].1, at[4].1, at[5].1), (0, 0, 0), "leaves on level 0");
        // `together` pairs share a chunk, and a cycle they close is glued too: 2 and 5 together,
        // 5 calls 0, 0 calls 2.
        let at = walk_positions(&plan_walk(&f, &[(2, 5)], &[(0, 2), (5, 0)], options), 6);
        assert!(at[0].0 == at[2].0 && at[2].0 == at[5].0);
    }

    #[test]
    fn walk_sets_the_members_of_a_large_scc_apart() {
        let options = PlanOptions {
            min_chunk_cost: 200,
            max_chunks: 32,
            large_chunk_cost: u64::MAX,
        };
        // A ring of four functions of 100 instructions (more than two chunks' worth of 100),
        // and a ring of two small ones.
        let f = costs(&[100, 100, 100, 100, 10, 10]);
        let calls = [(0, 1), (1, 2), (2, 3), (3, 0), (4, 5), (5, 4)];
        let waves = plan_walk(&f, &[], &calls, options);
        let at = walk_positions(&waves, 6);
        let big: std::collections::HashSet<usize> = (0..4).map(|i| at[i].0).collect();
        assert_eq!(big.len(), 4, "{waves:?}");
        assert_eq!(at[4].0, at[5].0);
    }

    #[test]
    fn walk_cuts_a_chain_of_cheap_groups_that_full_chunks_carry() {
        let options = PlanOptions {
            min_chunk_cost: 2000,
            max_chunks: 32,
            large_chunk_cost: u64::MAX,
        };
        // Six levels of 33 fillers (30 instructions each), filler j of a level calling filler
        // j of the level below, and among them, in module order, a spine of 10 instructions
        // per level calling the spine below. No chain of groups costs a sixteenth of the
        // module (180 of 6,000 instructions), but cut in module order each level is one full
        // chunk waiting for the one below: a chain of six chunks of 1,000 instructions.
        let (levels, fillers) = (6, 33);
        let mut c = Vec::new();
        let mut calls = Vec::new();
        let mut spine = Vec::new();
        for l in 0..levels {
            for j in 0..fillers {
                if j == fillers / 2 {
                    if let Some(&below) = spine.last() {
                        calls.push((c.len(), below));
                    }
                    spine.push(c.len());
                    c.push(10);
                }
                if l > 0 {
                    calls.push((c.len(), c.len() - fillers - 1));
                }
                c.push(30);
            }
        }
        let f = costs(&c);
        let waves = plan_walk(&f, &[], &calls, options);
        let at = walk_positions(&waves, f.len());
        let chunks: Vec<&Chunk> = waves.iter().flatten().collect();
        let top = chunks[at[*spine.last().unwrap()].0];
        assert!(
            top.cost <= 125,
            "the spine's last group is in a chunk of {}",
            top.cost
        );
        // The costliest chain of dependent chunks, by their costs.
        let mut chain = vec![0u64; chunks.len()];
        for (k, chunk) in chunks.iter().enumerate() {
            let before = calls
                .iter()
                .filter(|&&(a, b)| at[a].0 == k && at[b].0 != k)
                .map(|&(_, b)| chain[at[b].0])
                .max();
            chain[k] = chunk.cost + before.unwrap_or(0);
        }
        let longest = chain.iter().max().copied().unwrap_or(0);
        assert!(
            longest <= 6000 / 8,
            "a chain of chunks costs {longest}: {waves:?}"
        );
    }

    #[test]
    fn walk_keeps_the_longest_chain_apart_from_cheap_functions() {
        let options = PlanOptions {
            min_chunk_cost: 2000,
            max_chunks: 32,
            large_chunk_cost: u64::MAX,
        };
        // Cheap leaves nobody calls (0-9, 11-19), and a chain 10 <- 20 <- 21 <- 22 of 50
        // instructions each, whose leaf sits among the cheap ones in module order.
        let mut c = vec![5; 20];
        c[10] = 50;
        c.extend([50, 50, 50]);
        let f = costs(&c);
        let calls = [(20, 10), (21, 20), (22, 21)];
        let waves = plan_walk(&f, &[], &calls, options);
        let at = walk_positions(&waves, f.len());
        let with_leaf = (0..20).filter(|&p| at[p].0 == at[10].0).count();
        assert_eq!(with_leaf, 1, "the chain's leaf shares its chunk: {waves:?}");
        let cheap: std::collections::HashSet<usize> =
            (0..20).filter(|&p| p != 10).map(|p| at[p].0).collect();
        assert_eq!(cheap.len(), 1, "the cheap leaves are one chunk: {waves:?}");
    }
}
