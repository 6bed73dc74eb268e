//! `--cache-dir`: the cache never changes the output bytes; an unchanged input is answered
//! whole from it; an edit of one function recomputes only the chunks it touches; damaged
//! entries are detected and computed again; processes share a cache; the size cap holds.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `compile_o2` with chunks small enough that Lua has many.
fn compile(input: &Path, out: &Path, extra: &[&str]) -> String {
    compile_o2(input, out, &["--min-chunk-cost=500"], extra)
}

fn with_cache(cache: &Path) -> Vec<String> {
    vec![format!("--cache-dir={}", cache.display()), "--stats".into()]
}

fn compile_cached(input: &Path, out: &Path, cache: &Path) -> String {
    let args = with_cache(cache);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    compile(input, out, &args)
}

/// (chunk results from the cache, chunks) from a `--stats` report.
fn cache_line(stats: &str) -> (usize, usize) {
    let line = stats
        .lines()
        .find(|l| l.starts_with("llpar: cache: "))
        .unwrap_or_else(|| panic!("no cache line in:\n{stats}"));
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[2].parse().unwrap(), words[4].parse().unwrap())
}

fn whole_output_cached(stats: &str) -> bool {
    stats.contains("the whole output from the cache")
}

/// The cache's entries (files in its subdirectories) and the temporary files at its top.
fn entries(cache: &Path) -> (Vec<PathBuf>, Vec<PathBuf>) {
    let (mut found, mut temporary) = (Vec::new(), Vec::new());
    for item in std::fs::read_dir(cache).unwrap().flatten() {
        let path = item.path();
        if path.is_dir() {
            found.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .flatten()
                    .map(|e| e.path()),
            );
        } else {
            temporary.push(path);
        }
    }
    (found, temporary)
}

#[test]
fn the_cache_never_changes_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    for name in ["lua.bc", "lua-g.bc"] {
        let input = corpus(name);
        let plain = dir.path().join("plain.o");
        compile(&input, &plain, &[]);
        let cold = dir.path().join("cold.o");
        let stats = compile_cached(&input, &cold, &cache);
        let (hits, chunks) = cache_line(&stats);
        assert!(
            hits == 0 && chunks > 1,
            "{name}: {hits} of {chunks} from a cold cache"
        );
        same_bytes(&plain, &cold);
        let warm = dir.path().join("warm.o");
        let stats = compile_cached(&input, &warm, &cache);
        assert!(
            whole_output_cached(&stats),
            "{name}: warm run not from the cache:\n{stats}"
        );
        same_bytes(&plain, &warm);
    }
}

#[test]
fn bitcode_and_the_parallel_walk_keep_their_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let input = corpus("lua.bc");
    // The walk to objects has two jobs per chunk, the second on the first's result.
    let variants = [
        &["--emit=bc"][..],
        &["--emit=bc", "--inliner=parallel"],
        &["--emit=obj", "--inliner=parallel"],
    ];
    for (k, extra) in variants.iter().enumerate() {
        let plain = dir.path().join(format!("plain{k}.bc"));
        compile(&input, &plain, extra);
        let cached = dir.path().join(format!("cached{k}.bc"));
        let mut args = extra.to_vec();
        let cache_arg = format!("--cache-dir={}", cache.display());
        args.push(&cache_arg);
        compile(&input, &cached, &args);
        same_bytes(&plain, &cached);
        // Chunk results alone (the whole output's entries removed): the same bytes again.
        for entry in entries(&cache).0 {
            std::fs::remove_file(entry).unwrap();
        }
        compile(&input, &cached, &args);
        compile(&input, &cached, &args);
        same_bytes(&plain, &cached);
    }
}

/// Lua with `function` in `file` built from `source` (the shipped text or an edited one), at
/// the same path each time, linked as the corpus links it.
fn lua_with(dir: &Path, file: &str, source: &str, out: &Path) -> PathBuf {
    let lua = corpus("lua.bc").with_extension("");
    let src = dir.join("src");
    std::fs::create_dir_all(&src).unwrap();
    for header in std::fs::read_dir(root().join("target/corpus/lua"))
        .unwrap()
        .flatten()
    {
        if header.path().extension().is_some_and(|e| e == "h") {
            std::fs::copy(header.path(), src.join(header.file_name())).unwrap();
        }
    }
    std::fs::write(src.join(file), source).unwrap();
    let part = src.join(Path::new(file).with_extension("bc"));
    run_ok(
        Command::new(llvm_tool("clang"))
            .args([
                "-O2",
                "-Xclang",
                "-disable-llvm-passes",
                "-emit-llvm",
                "-c",
                "-fPIC",
            ])
            .args(["-DLUA_USE_LINUX", "-Dluai_makeseed(L)=0"])
            .arg(src.join(file))
            .arg("-o")
            .arg(&part),
    );
    let mut parts: Vec<PathBuf> = std::fs::read_dir(&lua)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "bc"))
        .collect();
    parts.sort();
    let stem = Path::new(file).with_extension("bc");
    let parts: Vec<PathBuf> = parts
        .into_iter()
        .map(|p| if p.ends_with(&stem) { part.clone() } else { p })
        .collect();
    run_ok(
        Command::new(llvm_tool("llvm-link"))
            .args(&parts)
            .arg("-o")
            .arg(out),
    );
    out.to_path_buf()
}

#[test]
fn an_edit_of_one_function_recomputes_few_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let file = "ltable.c";
    let shipped = root().join("target/corpus/lua").join(file);
    let edited = dir.path().join("edited.c");
    run_ok(
        Command::new("python3")
            .arg(root().join("scripts/edit_function.py"))
            .arg(&shipped)
            .arg("luaH_resize")
            .arg(&edited),
    );
    let before = lua_with(
        dir.path(),
        file,
        &std::fs::read_to_string(&shipped).unwrap(),
        &dir.path().join("before.bc"),
    );
    let after = lua_with(
        dir.path(),
        file,
        &std::fs::read_to_string(&edited).unwrap(),
        &dir.path().join("after.bc"),
    );
    compile_cached(&before, &dir.path().join("before.o"), &cache);
    let stats = compile_cached(&after, &dir.path().join("after.o"), &cache);
    let (hits, chunks) = cache_line(&stats);
    assert!(
        chunks - hits <= 3 && hits > 0,
        "{} of {chunks} chunks computed again",
        chunks - hits
    );
    compile(&after, &dir.path().join("plain.o"), &[]);
    same_bytes(&dir.path().join("after.o"), &dir.path().join("plain.o"));
}

#[test]
fn damaged_entries_are_detected_and_computed_again() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let input = corpus("lua.bc");
    let plain = dir.path().join("plain.o");
    compile(&input, &plain, &[]);
    compile_cached(&input, &dir.path().join("first.o"), &cache);
    // Every entry damaged, one way or another: a flipped byte, a truncation, emptied.
    for (k, entry) in entries(&cache).0.iter().enumerate() {
        let mut bytes = std::fs::read(entry).unwrap();
        match k % 3 {
            0 => *bytes.last_mut().unwrap() ^= 0x20,
            1 => bytes.truncate(bytes.len() / 2),
            _ => bytes.clear(),
        }
        std::fs::write(entry, bytes).unwrap();
    }
    let again = dir.path().join("again.o");
    let stats = compile_cached(&input, &again, &cache);
    assert!(stats.contains("damaged entries removed"), "{stats}");
    assert_eq!(cache_line(&stats).0, 0, "a damaged chunk result was used");
    same_bytes(&plain, &again);
    let stats = compile_cached(&input, &again, &cache);
    assert!(
        whole_output_cached(&stats),
        "entries were not written again:\n{stats}"
    );
    same_bytes(&plain, &again);
}

#[test]
fn processes_share_one_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let input = corpus("lua.bc");
    let plain = dir.path().join("plain.o");
    compile(&input, &plain, &[]);
    let children: Vec<_> = (0..3)
        .map(|k| {
            llpar()
                .args(["-O2", "--emit=obj", "-j1", "--min-chunk-cost=500"])
                .arg(format!("--cache-dir={}", cache.display()))
                .arg(&input)
                .arg("-o")
                .arg(dir.path().join(format!("out{k}.o")))
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    for k in 0..3 {
        same_bytes(&plain, &dir.path().join(format!("out{k}.o")));
    }
    assert!(
        entries(&cache).1.is_empty(),
        "temporary files left: {:?}",
        entries(&cache).1
    );
}

#[test]
fn the_size_cap_holds_and_the_environment_names_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let input = corpus("lua.bc");
    let out = dir.path().join("out.o");
    let output = run(llpar()
        .args(["-O2", "--emit=obj", "-j2", "--stats"])
        .env("LLPAR_CACHE_DIR", &cache)
        .env("LLPAR_CACHE_MAX_SIZE", "64K")
        .arg(&input)
        .arg("-o")
        .arg(&out));
    assert!(output.status.success());
    let (found, _) = entries(&cache);
    let total: u64 = found.iter().map(|p| p.metadata().unwrap().len()).sum();
    assert!(total <= 64 << 10, "{total} bytes kept over a 64K cap");
    assert!(String::from_utf8_lossy(&output.stderr).contains("llpar: cache: "));
}

#[test]
fn a_cache_directory_that_cannot_be_made_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.o");
    let output = run(llpar()
        .args(["-O2", "--emit=obj", "--cache-dir=/dev/null/cache"])
        .arg(root().join("ir-fixtures/inline-across-chunks.ll"))
        .arg("-o")
        .arg(&out));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("llpar: error: --cache-dir: "),
        "{stderr}"
    );
    assert!(!out.exists());
}
