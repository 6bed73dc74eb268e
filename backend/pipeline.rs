//! Pipelines: which parts of a pass pipeline run per chunk in parallel, and which run serially on
//! the whole module.
//!
//! A pipeline is the new pass manager's text (`-passes=`), or the `default<On>` pipeline printed as
//! `opt -print-pipeline-passes` prints it. At the top level it is a list of module-level elements;
//! each `function(...)` (or `function<...>(...)`) element only looks at one function at a time and
//! runs on the chunks in parallel; every other element (module passes, `cgscc(...)` with the
//! inliner) runs serially on the merged module. A pipeline whose first element is a function pass
//! is, as in `opt`, wrapped whole in `function(...)`.
use crate::llvm;
use inkwell::context::Context;

/// One stretch of a pipeline, run either on every chunk (in parallel) or on the whole module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// A function pipeline (`function(...)` groups), run on each chunk.
    PerChunk(String),
    /// A module pipeline, run on the merged module.
    WholeModule(String),
    /// The inliner's call-graph walk (`cgscc(...)`), run on the chunks of `split::prepare_walk`
    /// wave after wave, each chunk once the chunks it calls into are merged.
    Walk(String),
}

/// How the pipeline was asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PipelineRequest {
    /// `-O0` .. `-O3`, `-Os` (size 1), `-Oz` (size 2).
    Level { speed: u8, size: u8 },
    /// `-passes=TEXT`.
    Text(String),
}

/// Splits `text` at top-level commas, respecting `(...)` and `<...>` nesting.
pub fn top_level_elements(text: &str) -> Result<Vec<String>, String> {
    let mut elements = Vec::new();
    let mut depth: i32 = 0;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' | '<' => depth += 1,
            ')' | '>' => {
                depth -= 1;
                if depth < 0 {
                    return Err(format!("invalid pipeline '{text}': unbalanced '{c}'"));
                }
            }
            ',' if depth == 0 => {
                elements.push(std::mem::take(&mut current).trim().to_string());
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if depth != 0 {
        return Err(format!("invalid pipeline '{text}': unbalanced parentheses"));
    }
    elements.push(current.trim().to_string());
    Ok(elements.into_iter().filter(|e| !e.is_empty()).collect())
}

fn is_function_group(element: &str) -> bool {
    let rest = match element.strip_prefix("function") {
        Some(rest) => rest,
        None => return false,
    };
    let rest = if rest.starts_with('<') {
        match rest.find('>') {
            Some(end) => &rest[end + 1..],
            None => return false,
        }
    } else {
        rest
    };
    rest.starts_with('(') && rest.ends_with(')')
}

/// Passes too cheap to be worth a split and a merge: analysis bookkeeping and remarks.
fn is_trivial_function_group(element: &str) -> bool {
    let open = element.find('(').unwrap_or(element.len());
    let inner = &element[(open + 1).min(element.len())..element.len().saturating_sub(1)];
    match top_level_elements(inner) {
        Ok(passes) => passes.iter().all(|p| {
            p.starts_with("invalidate<")
                || p.starts_with("require<")
                || p == "annotation-remarks"
                || p == "verify"
        }),
        Err(_) => false,
    }
}

/// Checks that `pipeline` parses, by running it on an empty module in a scratch context.
pub fn check_parses(pipeline: &str) -> Result<(), String> {
    let context = Context::create();
    let mut module = context.create_module("llpar-pipeline-check");
    llvm::run_passes(&mut module, pipeline, None, None)
}

/// Segments a module-level pipeline text. The pipeline must already have been checked to parse.
pub fn segment(text: &str) -> Result<Vec<Segment>, String> {
    let elements = top_level_elements(text)?;
    if elements.is_empty() {
        return Ok(Vec::new());
    }
    // `opt` reads a pipeline whose first element is not a module pass as a function (or CGSCC, or
    // loop) pipeline. A module pass followed by `no-op-module` still parses; a function pass does not.
    let first_is_module_pass = check_parses(&format!("{},no-op-module", elements[0])).is_ok();
    if !first_is_module_pass {
        let wrapped = format!("function({text})");
        return Ok(if check_parses(&wrapped).is_ok() {
            vec![Segment::PerChunk(wrapped)]
        } else {
            vec![Segment::WholeModule(text.to_string())]
        });
    }
    let mut segments: Vec<Segment> = Vec::new();
    for element in elements {
        let per_chunk = is_function_group(&element) && !is_trivial_function_group(&element);
        match (segments.last_mut(), per_chunk) {
            (Some(Segment::PerChunk(s)), true) | (Some(Segment::WholeModule(s)), false) => {
                s.push(',');
                s.push_str(&element);
            }
            _ => segments.push(if per_chunk {
                Segment::PerChunk(element)
            } else {
                Segment::WholeModule(element)
            }),
        }
    }
    Ok(segments)
}

/// The passes of the function simplification group that stay with the inliner, so that a caller
/// weighs its callees cleaned up much as `opt` has them (the rest of the group runs per chunk
/// after the walk). Measured by the inliner's remarks against `opt -O2` (README, "Inlining
/// decisions"): with `simplifycfg` alone, callees look costlier than in `opt`, and llpar takes
/// 97.7% of `opt`'s (caller, callee) pairs on sqlite3 and 94.2% on regex-automata; with `sroa`
/// and `early-cse` before it (they clean up what inlining leaves: allocas, repeated loads),
/// 98.2% and 98.3%, for 0.3-1.5 s more serial time on sqlite3 (of about 4.5 s) and 0.3-0.6 s
/// on regex-automata (of about 5.5 s). Adding `instcombine` gets 98.7% and 99.2% but
/// nearly doubles the walk's time on sqlite3 (3.0 s to 5.2 s).
const INLINER_CLEANUP: &[&str] = &["sroa", "early-cse", "simplifycfg"];

/// Ends a stretch of serial elements: they become one whole-module segment.
fn flush(serial: &mut Vec<String>, segments: &mut Vec<Segment>) {
    if !serial.is_empty() {
        segments.push(Segment::WholeModule(serial.join(",")));
        serial.clear();
    }
}

/// Segments a `default<On>` pipeline (as printed) so that most of its function passes run in
/// parallel, with as few split/merge rounds as possible.
///
/// In the default pipeline the function simplification passes run inside
/// `cgscc(devirt<N>(inline, ..., function<...>(SIMPLIFY)))`, interleaved with inlining, on one
/// thread. Here the inliner keeps a light cleanup of each function it has inlined into (see
/// `INLINER_CLEANUP`), and the whole SIMPLIFY group runs, per
/// chunk, together with the post-inline optimization group (vectorizers, unrolling) that follows
/// the inliner: one parallel segment. With `simplify_before_inlining`, SIMPLIFY also runs per
/// chunk before the inliner, so that the inliner weighs callees as simplified as in `opt`.
/// The small function groups before the inliner stay serial: a split/merge round costs more
/// than they do. A pipeline of another shape is segmented as usual.
pub fn default_segments(
    text: &str,
    simplify_before_inlining: bool,
) -> Result<Vec<Segment>, String> {
    let elements = top_level_elements(text)?;
    let Some(cgscc_at) = elements.iter().position(|e| e.starts_with("cgscc(")) else {
        return segment(text);
    };
    let cgscc = &elements[cgscc_at];
    let Some(group_start) = cgscc.find("function<").or_else(|| cgscc.find("function(")) else {
        return segment(text);
    };
    let open = group_start
        + cgscc[group_start..]
            .find('(')
            .ok_or("malformed cgscc group")?;
    let mut depth = 0;
    let mut close = None;
    for (i, c) in cgscc[open..].char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(open + i);
                    break;
                }
            }
            _ => {}
        }
    }
    let close = close.ok_or("malformed cgscc group")?;
    let simplify = &cgscc[open + 1..close];
    let passes = top_level_elements(simplify)?;
    // The first run of each cleanup pass, in the group's order.
    let mut cleanup: Vec<&str> = Vec::new();
    let mut taken: Vec<&str> = Vec::new();
    for p in &passes {
        let name = p.split(['<', '(']).next().unwrap_or("");
        if INLINER_CLEANUP.contains(&name) && !taken.contains(&name) {
            taken.push(name);
            cleanup.push(p);
        }
    }
    let light_cgscc = if cleanup.is_empty() {
        let before = cgscc[..group_start].trim_end_matches(',');
        let after = &cgscc[close + 1..];
        format!(
            "{before}{}",
            if before.ends_with('(') {
                after.trim_start_matches(',')
            } else {
                after
            }
        )
    } else {
        format!(
            "{}{}{}",
            &cgscc[..open + 1],
            cleanup.join(","),
            &cgscc[close..]
        )
    };
    let post_at = (cgscc_at + 1..elements.len()).find(|&i| is_function_group(&elements[i]));

    let mut segments = Vec::new();
    let mut serial: Vec<String> = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        if i == cgscc_at {
            if simplify_before_inlining {
                flush(&mut serial, &mut segments);
                segments.push(Segment::PerChunk(format!(
                    "function<eager-inv>({simplify})"
                )));
            }
            serial.push(light_cgscc.clone());
        } else if Some(i) == post_at {
            flush(&mut serial, &mut segments);
            segments.push(Segment::PerChunk(format!(
                "function<eager-inv>({simplify}),{element}"
            )));
        } else {
            serial.push(element.clone());
        }
    }
    if post_at.is_none() {
        flush(&mut serial, &mut segments);
        segments.push(Segment::PerChunk(format!(
            "function<eager-inv>({simplify})"
        )));
    }
    flush(&mut serial, &mut segments);
    Ok(segments)
}

/// Segments a `default<On>` pipeline (as printed) for the parallel call-graph walk: the module
/// passes before the inliner stay serial; the inliner's walk, with the whole function
/// simplification group inside it as in `opt`, runs per chunk along the call graph, leaves first
/// (`Segment::Walk`); the module passes after it stay serial; and the post-inline optimization
/// group runs per chunk. A pipeline of another shape is segmented as usual.
///
/// What directly precedes the inliner and needs nothing of other chunks runs in the walk's
/// chunks, before the walk (see `runs_before_the_walk`).
pub fn walk_segments(text: &str) -> Result<Vec<Segment>, String> {
    let elements = top_level_elements(text)?;
    let Some(cgscc_at) = elements.iter().position(|e| e.starts_with("cgscc(")) else {
        return segment(text);
    };
    let walk_from = (0..cgscc_at)
        .rev()
        .take_while(|&i| elements[i] == "always-inline" || runs_before_the_walk(&elements[i]))
        .last()
        .unwrap_or(cgscc_at);
    let mut segments = Vec::new();
    let mut serial: Vec<String> = Vec::new();
    let mut before_walk: Vec<String> = Vec::new();
    for (i, element) in elements.iter().enumerate() {
        if (walk_from..cgscc_at).contains(&i) && element != "always-inline" {
            before_walk.push(element.clone());
        } else if i == cgscc_at {
            flush(&mut serial, &mut segments);
            before_walk.push(element.clone());
            segments.push(Segment::Walk(before_walk.join(",")));
        } else if i > cgscc_at && is_function_group(element) && !is_trivial_function_group(element)
        {
            flush(&mut serial, &mut segments);
            segments.push(Segment::PerChunk(element.clone()));
        } else {
            serial.push(element.clone());
        }
    }
    flush(&mut serial, &mut segments);
    Ok(segments)
}

/// Whether an element that comes between the last module pass before the inliner and the
/// inliner can run in each chunk of the walk instead of on the whole module (HiGHS at `-O2`:
/// 3 s of serial time, 1.9 s of it instcombine). A function group changes each function by
/// itself; on a chunk it runs on the chunk's own functions, as the bodies imported from finished
/// chunks are skipped (`only_imported` in the shim), and those had the same group in their own
/// chunk. The analyses required here (GlobalsAA above all, 0.7 s on HiGHS) are for the walk:
/// the whole module's results never reach the chunks, so they serve only if computed per chunk.
///
/// `always-inline` among them stays on the whole module and runs before them. In a chunk it would
/// see its callees' bodies only after their own walk (and a large one not at all), and an
/// `alwaysinline` function walked by itself inlines its callees as their only caller, where `opt`
/// inlines it first and weighs the callees in each of its callers: zstd's `.text` grew to 1.07
/// of `opt`'s. Run first, it inlines bodies that the function group has not yet simplified,
/// which the group then simplifies in the caller.
fn runs_before_the_walk(element: &str) -> bool {
    is_function_group(element)
        || matches!(
            element,
            "require<globals-aa>" | "function(invalidate<aa>)" | "require<profile-summary>"
        )
}

/// A walk segment's passes (`Segment::Walk`) cut in two: the function groups that lead it, which
/// a chunk runs before it imports anything from its dependencies, and the rest. In `opt` that
/// group runs before any attribute is inferred; run after the imports, its `instcombine` sees
/// the callees' attributes as their own walk inferred them, and erases a call whose result is
/// unused to a callee that does nothing observable (sqlite3's `memdbEnter`, empty in that build)
/// before the inliner ever weighs it. `None` when the walk starts with something else.
pub fn before_imports(walk: &str) -> (Option<String>, String) {
    let Ok(elements) = top_level_elements(walk) else {
        return (None, walk.to_string());
    };
    let lead = elements.iter().take_while(|e| is_function_group(e)).count();
    if lead == 0 || lead == elements.len() {
        return (None, walk.to_string());
    }
    (Some(elements[..lead].join(",")), elements[lead..].join(","))
}

/// With `--inliner=parallel` and code generation to follow (`segments` and the per-chunk
/// pipeline before code generation as `fuse_with_codegen` leaves them): the pipeline each chunk
/// runs after its walk, in a job of its own, when nothing but module passes comes between the
/// walk and it. Those module passes (dead argument and global elimination, GlobalOpt, ...)
/// need the whole module, which is then never rebuilt: they are dropped but for
/// `coro-cleanup`, which lowers what coroutine passes leave and is needed per chunk. `None`
/// otherwise.
pub fn after_walk_per_chunk(segments: &[Segment], before_codegen: Option<&str>) -> Option<String> {
    let walk_at = segments
        .iter()
        .position(|s| matches!(s, Segment::Walk(_)))?;
    let mut kept: Vec<String> = Vec::new();
    for segment in &segments[walk_at + 1..] {
        let Segment::WholeModule(passes) = segment else {
            return None;
        };
        let elements = top_level_elements(passes).ok()?;
        kept.extend(elements.into_iter().filter(|e| e == "coro-cleanup"));
    }
    kept.extend(before_codegen.map(str::to_string));
    Some(kept.join(","))
}

/// When code generation follows, the last per-chunk segment can run in the same worker job as
/// the chunk's code generation, saving a merge and a second split. That is only possible when
/// what follows it is a module tail that does not need the chunks merged first: dead global
/// elimination and constant merging (which then run just before the last segment instead of
/// after it), and the conversion of lookup tables to relative ones (which works table by table,
/// so per chunk). Returns the remaining segments and the pipeline to run before code generation.
pub fn fuse_with_codegen(mut segments: Vec<Segment>) -> (Vec<Segment>, Option<String>) {
    const MOVABLE: &[&str] = &[
        "alloc-token",
        "globaldce",
        "constmerge",
        "cg-profile",
        "function(annotation-remarks)",
        "verify",
    ];
    const PER_CHUNK: &str = "rel-lookup-table-converter";
    let tail = match segments.last() {
        Some(Segment::WholeModule(t)) => Some(t.clone()),
        Some(Segment::PerChunk(_)) => None,
        Some(Segment::Walk(_)) | None => return (segments, None),
    };
    let tail_elements = match &tail {
        Some(t) => match top_level_elements(t) {
            Ok(e) => e,
            Err(_) => return (segments, None),
        },
        None => Vec::new(),
    };
    if !tail_elements
        .iter()
        .all(|e| MOVABLE.contains(&e.as_str()) || e == PER_CHUNK)
    {
        return (segments, None);
    }
    // Only a per-chunk segment can take the tail along; a pipeline of module passes alone
    // (`--passes=globaldce`) runs as it is, then code generation.
    let before_tail = segments.len() - usize::from(tail.is_some());
    let last = match before_tail.checked_sub(1).map(|i| &segments[i]) {
        Some(Segment::PerChunk(last)) => last.clone(),
        _ => return (segments, None),
    };
    segments.truncate(before_tail - 1);
    let moved: Vec<String> = tail_elements
        .iter()
        .filter(|e| e.as_str() != PER_CHUNK)
        .cloned()
        .collect();
    if !moved.is_empty() {
        match segments.last_mut() {
            Some(Segment::WholeModule(before)) => {
                before.push(',');
                before.push_str(&moved.join(","));
            }
            _ => segments.push(Segment::WholeModule(moved.join(","))),
        }
    }
    let mut per_chunk = last;
    if tail_elements.iter().any(|e| e == PER_CHUNK) {
        per_chunk.push_str(",rel-lookup-table-converter");
    }
    (segments, Some(per_chunk))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_walk_runs_its_leading_function_group_before_the_imports() {
        let walk = "function<eager-inv>(mem2reg,instcombine<x>),require<globals-aa>,function(invalidate<aa>),cgscc(inline)";
        assert_eq!(
            before_imports(walk),
            (
                Some("function<eager-inv>(mem2reg,instcombine<x>)".to_string()),
                "require<globals-aa>,function(invalidate<aa>),cgscc(inline)".to_string()
            )
        );
        assert_eq!(
            before_imports("cgscc(inline)"),
            (None, "cgscc(inline)".to_string())
        );
    }

    #[test]
    fn splits_at_top_level_commas_only() {
        let e =
            top_level_elements("function<eager-inv>(sroa,gvn<>),cgscc(inline),globaldce").unwrap();
        assert_eq!(
            e,
            vec![
                "function<eager-inv>(sroa,gvn<>)",
                "cgscc(inline)",
                "globaldce"
            ]
        );
        assert!(top_level_elements("function(sroa").is_err());
    }

    #[test]
    fn function_groups_run_per_chunk_and_module_passes_whole() {
        llvm::initialize();
        let s = segment("function(sroa,instcombine<no-verify-fixpoint>),globaldce,function(gvn)")
            .unwrap();
        assert_eq!(
            s,
            vec![
                Segment::PerChunk("function(sroa,instcombine<no-verify-fixpoint>)".into()),
                Segment::WholeModule("globaldce".into()),
                Segment::PerChunk("function(gvn)".into()),
            ]
        );
    }

    #[test]
    fn bare_function_passes_are_wrapped_like_opt_does() {
        llvm::initialize();
        assert_eq!(
            segment("sroa,gvn").unwrap(),
            vec![Segment::PerChunk("function(sroa,gvn)".into())]
        );
        assert_eq!(
            segment("globaldce").unwrap(),
            vec![Segment::WholeModule("globaldce".into())]
        );
    }

    #[test]
    fn default_pipeline_moves_simplification_out_of_the_inliner() {
        let text = "function(lower-expect),ipsccp,cgscc(devirt<4>(inline,function-attrs,function<eager-inv;no-rerun>(sroa<modify-cfg>,early-cse<memssa>,jump-threading,simplifycfg<x>,instcombine<y>,gvn<>))),deadargelim,function<eager-inv>(loop-vectorize),globaldce";
        let simplify =
            "sroa<modify-cfg>,early-cse<memssa>,jump-threading,simplifycfg<x>,instcombine<y>,gvn<>";
        assert_eq!(
            default_segments(text, false).unwrap(),
            vec![
                Segment::WholeModule("function(lower-expect),ipsccp,cgscc(devirt<4>(inline,function-attrs,function<eager-inv;no-rerun>(sroa<modify-cfg>,early-cse<memssa>,simplifycfg<x>))),deadargelim".into()),
                Segment::PerChunk(format!("function<eager-inv>({simplify}),function<eager-inv>(loop-vectorize)")),
                Segment::WholeModule("globaldce".into()),
            ]
        );
        let before = default_segments(text, true).unwrap();
        assert_eq!(
            before[1],
            Segment::PerChunk(format!("function<eager-inv>({simplify})"))
        );
        assert_eq!(before.len(), 5);
    }

    #[test]
    fn last_segment_fuses_with_code_generation_when_the_tail_allows() {
        let segments = vec![
            Segment::WholeModule("ipsccp".into()),
            Segment::PerChunk("function(gvn)".into()),
            Segment::WholeModule("globaldce,constmerge,rel-lookup-table-converter".into()),
        ];
        let (rest, fused) = fuse_with_codegen(segments);
        assert_eq!(
            rest,
            vec![Segment::WholeModule("ipsccp,globaldce,constmerge".into())]
        );
        assert_eq!(
            fused.as_deref(),
            Some("function(gvn),rel-lookup-table-converter")
        );
        let blocked = vec![
            Segment::PerChunk("function(gvn)".into()),
            Segment::WholeModule("inline".into()),
        ];
        assert_eq!(fuse_with_codegen(blocked.clone()), (blocked, None));
    }

    #[test]
    fn a_tail_without_the_lookup_table_converter_adds_none() {
        let segments = vec![
            Segment::PerChunk("function(gvn)".into()),
            Segment::WholeModule("globaldce".into()),
        ];
        let (rest, fused) = fuse_with_codegen(segments);
        assert_eq!(rest, vec![Segment::WholeModule("globaldce".into())]);
        assert_eq!(fused.as_deref(), Some("function(gvn)"));
        // A module pass alone has no per-chunk segment to join: it runs as it is.
        let alone = vec![Segment::WholeModule("globaldce".into())];
        assert_eq!(fuse_with_codegen(alone.clone()), (alone, None));
    }

    #[test]
    fn the_post_inline_group_is_the_first_function_group_after_the_inliner() {
        // A function group right before the inliner stays serial, before it.
        let text = "ipsccp,function(lower-expect),cgscc(devirt<4>(inline,function<eager-inv;no-rerun>(simplifycfg<x>,gvn<>))),deadargelim,function<eager-inv>(loop-vectorize)";
        assert_eq!(
            default_segments(text, false).unwrap(),
            vec![
                Segment::WholeModule("ipsccp,function(lower-expect),cgscc(devirt<4>(inline,function<eager-inv;no-rerun>(simplifycfg<x>))),deadargelim".into()),
                Segment::PerChunk("function<eager-inv>(simplifycfg<x>,gvn<>),function<eager-inv>(loop-vectorize)".into()),
            ]
        );
    }

    #[test]
    fn the_inliner_keeps_the_first_run_of_each_cleanup_pass_in_order() {
        let text = "cgscc(devirt<4>(inline,function<eager-inv;no-rerun>(simplifycfg<a>,sroa<b>,gvn<>,sroa<c>,early-cse<d>))),function<eager-inv>(loop-vectorize)";
        assert_eq!(
            default_segments(text, false).unwrap()[0],
            Segment::WholeModule(
                "cgscc(devirt<4>(inline,function<eager-inv;no-rerun>(simplifycfg<a>,sroa<b>,early-cse<d>)))"
                    .into()
            )
        );
    }

    #[test]
    fn without_cleanup_passes_the_inliner_keeps_no_function_group() {
        let text = "cgscc(devirt<4>(inline,function<eager-inv;no-rerun>(gvn<>,sccp))),function<eager-inv>(loop-vectorize)";
        assert_eq!(
            default_segments(text, false).unwrap()[0],
            Segment::WholeModule("cgscc(devirt<4>(inline))".into())
        );
    }

    #[test]
    fn the_walk_takes_what_directly_precedes_the_inliner() {
        let text = "function(sroa),ipsccp,globalopt,function<eager-inv>(mem2reg,instcombine<x>),always-inline,require<globals-aa>,function(invalidate<aa>),require<profile-summary>,cgscc(devirt<4>(inline)),deadargelim,function<eager-inv>(loop-vectorize)";
        assert_eq!(
            walk_segments(text).unwrap(),
            vec![
                Segment::WholeModule("function(sroa),ipsccp,globalopt,always-inline".into()),
                Segment::Walk("function<eager-inv>(mem2reg,instcombine<x>),require<globals-aa>,function(invalidate<aa>),require<profile-summary>,cgscc(devirt<4>(inline))".into()),
                Segment::WholeModule("deadargelim".into()),
                Segment::PerChunk("function<eager-inv>(loop-vectorize)".into()),
            ]
        );
        // Nothing before the inliner: the walk is the inliner alone.
        assert_eq!(
            walk_segments("cgscc(inline)").unwrap(),
            vec![Segment::Walk("cgscc(inline)".into())]
        );
    }

    #[test]
    fn function_groups_are_told_by_their_parentheses() {
        assert!(is_function_group("function(sroa)"));
        assert!(is_function_group("function<eager-inv>(sroa)"));
        // A pass whose name only starts with "function" is not a group.
        assert!(!is_function_group("function-attrs(x)"));
        assert!(!is_function_group("function(sroa"));
        assert!(!is_function_group("function-attrs"));
        for trivial in [
            "function(invalidate<aa>)",
            "function(require<domtree>)",
            "function(annotation-remarks)",
            "function(verify)",
        ] {
            assert!(is_trivial_function_group(trivial), "{trivial}");
        }
        assert!(!is_trivial_function_group("function(sroa)"));
        assert!(!is_trivial_function_group("function(verify,sroa)"));
    }

    #[test]
    fn trivial_groups_stay_in_the_module_segment() {
        llvm::initialize();
        let s = segment("globaldce,function(invalidate<aa>),constmerge").unwrap();
        assert_eq!(
            s,
            vec![Segment::WholeModule(
                "globaldce,function(invalidate<aa>),constmerge".into()
            )]
        );
    }
}
