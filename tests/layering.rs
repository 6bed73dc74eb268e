//! The library's modules form a straight line: no module reaches, through `crate::` paths,
//! a module that reaches it back. Read from the sources, so a new circle fails here rather than
//! in review.
mod common;
use std::collections::{BTreeMap, BTreeSet};

/// Module name to the modules its non-test code names as `crate::NAME`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let backend = common::root().join("backend");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files: Vec<(String, std::path::PathBuf)> = Vec::new();
    for dir in [backend.clone(), backend.join("llvm")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            // The command and the build script are crates of their own, not library modules.
            let library = !path.ends_with("main.rs") && !path.ends_with("build.rs");
            if library && path.extension().is_some_and(|e| e == "rs") {
                // Files under `llvm/` are one module.
                let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
                let module = if dir == backend { stem } else { "llvm".into() };
                files.push((module, path));
            }
        }
    }
    for (module, path) in files {
        let source = std::fs::read_to_string(&path).unwrap();
        let code = source
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let names = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + 7..];
            // `crate::{a, b::c}` names every module of its group.
            let named: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group[..group.find('}').unwrap_or(0)]
                    .split(',')
                    .map(|path| path.trim().split("::").next().unwrap_or_default())
                    .collect(),
                None => vec![rest],
            };
            for path in named {
                let name: String = path
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() && name != module {
                    names.insert(name);
                }
            }
        }
    }
    graph
}

/// A path from `from` back to `to` in `graph`, if there is one.
fn path_back(
    graph: &BTreeMap<String, BTreeSet<String>>,
    from: &str,
    to: &str,
) -> Option<Vec<String>> {
    let mut stack = vec![vec![from.to_string()]];
    let mut seen = BTreeSet::new();
    while let Some(path) = stack.pop() {
        let last = path.last().unwrap();
        if last == to {
            return Some(path);
        }
        if !seen.insert(last.clone()) {
            continue;
        }
        for next in graph.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next.clone());
            stack.push(longer);
        }
    }
    None
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let graph = imports();
    assert!(graph.len() > 10, "found only {:?}", graph.keys());
    let mut circles = Vec::new();
    for (module, names) in &graph {
        for name in names {
            if let Some(back) = path_back(&graph, name, module) {
                circles.push(format!("{module} -> {}", back.join(" -> ")));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}
