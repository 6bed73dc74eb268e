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
    let module = context.create_module("llpar-pipeline-check");
    llvm::run_passes(&module, pipeline, None)
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

#[cfg(test)]
mod tests {
    use super::*;

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
