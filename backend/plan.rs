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
}

/// A chunk: indices (into the module's function list) of the definitions it holds, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    pub functions: Vec<usize>,
    pub cost: u64,
}

#[derive(Clone, Copy, Debug)]
pub struct PlanOptions {
    /// The smallest cost worth a chunk of its own: below it, per-chunk overhead dominates.
    pub min_chunk_cost: u64,
    /// The most chunks a module is split into.
    pub max_chunks: usize,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            min_chunk_cost: 4000,
            max_chunks: 32,
        }
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
    /// Joins two sets; the smaller position becomes the representative so groups keep module order.
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
            self.parent[hi] = lo;
        }
    }
}

/// Plans chunks over `functions` (definitions in module order). `together` lists pairs of
/// positions in `functions` that must share a chunk.
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
    // Groups in the order of their first member; a group's members in module order.
    let mut group_of_root: std::collections::HashMap<usize, usize> =
        std::collections::HashMap::new();
    let mut members: Vec<Vec<usize>> = Vec::new();
    for pos in 0..functions.len() {
        let root = groups.find(pos);
        let g = *group_of_root.entry(root).or_insert_with(|| {
            members.push(Vec::new());
            members.len() - 1
        });
        members[g].push(pos);
    }
    let group_cost = |g: &Vec<usize>| g.iter().map(|&p| functions[p].cost.max(1)).sum::<u64>();
    let total: u64 = members.iter().map(group_cost).sum();
    let wanted = (total / options.min_chunk_cost.max(1)).clamp(1, options.max_chunks.max(1) as u64);
    let target = total.div_ceil(wanted);

    let mut chunks: Vec<Chunk> = Vec::new();
    let mut current = Chunk {
        functions: Vec::new(),
        cost: 0,
    };
    let mut remaining = total;
    for g in &members {
        let cost = group_cost(g);
        // Cut before this group when the chunk is full, or when adding it would overshoot the
        // target by more than stopping short of it does.
        let chunks_left = wanted.saturating_sub(chunks.len() as u64);
        if !current.functions.is_empty()
            && chunks_left > 1
            && (current.cost >= target || current.cost + cost / 2 > target)
        {
            chunks.push(std::mem::replace(
                &mut current,
                Chunk {
                    functions: Vec::new(),
                    cost: 0,
                },
            ));
        }
        current
            .functions
            .extend(g.iter().map(|&p| functions[p].index));
        current.cost += cost;
        remaining -= cost;
    }
    debug_assert_eq!(remaining, 0);
    chunks.push(current);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn costs(c: &[u64]) -> Vec<FunctionCost> {
        c.iter()
            .enumerate()
            .map(|(i, &cost)| FunctionCost { index: i, cost })
            .collect()
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
            },
        );
        assert_eq!(chunks.len(), 10);
        let all: Vec<usize> = chunks.iter().flat_map(|c| c.functions.clone()).collect();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert!(chunks.iter().all(|c| c.cost == 5000));
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
            },
        );
        assert!(chunks.iter().any(|ch| ch.functions == vec![25]));
        assert!(chunks.len() <= 8);
    }
}
