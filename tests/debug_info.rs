//! Modules with debug info, as `-g` builds and rustc hand them over (scripts/build-corpus.sh:
//! sqlite3-g.bc, lua-g.bc, rustprog.bc): every level, function pipeline and `--emit` works and
//! writes valid modules and DWARF; chunks, `--save-temps` files and units are valid modules that
//! `opt` and `llc` read as they are; the programs behave like their serial builds, and gdb
//! shows the same backtrace at a breakpoint set by file and line.
mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

fn llpar_to(input: &Path, args: &[&str], out: &Path) {
    run_ok(llpar().arg(input).args(args).arg("-o").arg(out));
}

/// The error lines of `llvm-dwarfdump --verify` on an object (none when its DWARF is right),
/// with offsets (`0x...`) left out.
fn dwarf_errors(object: &Path) -> Vec<String> {
    let out = run(Command::new(llvm_tool("llvm-dwarfdump"))
        .arg("--verify")
        .arg(object));
    let text = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("error:"))
        .map(|l| {
            l.split(' ')
                .map(|w| if w.starts_with("0x") { "0x_" } else { w })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(
        out.status.success() == errors.is_empty(),
        "llvm-dwarfdump --verify {}:\n{text}",
        object.display()
    );
    errors
}

/// `llvm-dwarfdump --verify` finds nothing wrong in the object's DWARF.
fn assert_dwarf_verifies(object: &Path) {
    let errors = dwarf_errors(object);
    assert!(errors.is_empty(), "{}: {errors:?}", object.display());
}

/// Assembles `asm` with llvm-mc into `object`.
fn assemble(asm: &Path, object: &Path) {
    run_ok(
        Command::new(llvm_tool("llvm-mc"))
            .args(["-filetype=obj", "-o"])
            .arg(object)
            .arg(asm),
    );
}

#[test]
fn lua_with_debug_info_every_level_pipeline_and_emit() {
    let input = corpus("lua-g.bc");
    let dir = tempfile::tempdir().unwrap();
    // Lua is linked from 32 files: 32 compile units in one module. Assembled by llvm-mc, the
    // assembly of such a module fails the DWARF verifier whoever wrote it (`llc` too: the units
    // share a line table), so llpar's assembly must fail it exactly as `llc`'s does.
    let serial_asm = dir.path().join("serial.s");
    run_ok(
        Command::new(llvm_tool("llc"))
            .args(["-O0", "-relocation-model=pic", "-o"])
            .arg(&serial_asm)
            .arg(&input),
    );
    let serial_object = dir.path().join("serial-asm.o");
    assemble(&serial_asm, &serial_object);
    let serial_errors = dwarf_errors(&serial_object);
    let light = format!("--passes={}", pipeline("light"));
    for level in ["-O0", "-O1", "-O2", "-O3", "-Os", "-Oz", light.as_str()] {
        for emit in ["bc", "ll", "asm", "obj"] {
            let out = dir.path().join(format!("out.{emit}"));
            llpar_to(&input, &[level, &format!("--emit={emit}"), "-j2"], &out);
            match emit {
                "bc" | "ll" => assert_verifies(&out),
                "obj" => assert_dwarf_verifies(&out),
                _ => {
                    let object = dir.path().join("asm.o");
                    assemble(&out, &object);
                    assert_eq!(dwarf_errors(&object), serial_errors, "{level} --emit=asm");
                }
            }
        }
    }
}

/// Lua is 32 compile units in one module: where a struct is defined by several units alike (one
/// header), the chunks' objects only declare it too, and gdb finds it by name.
#[test]
fn lua_with_debug_info_describes_its_types_once() {
    let input = corpus("lua-g.bc");
    let dir = tempfile::tempdir().unwrap();
    let (ours, theirs) = (dir.path().join("llpar.o"), dir.path().join("serial.o"));
    llpar_to(&input, &["-O2", "--emit=obj", "-j2"], &ours);
    assert_dwarf_verifies(&ours);
    serial_o2_object(&input, &theirs);
    assert_one_unit_per_source(&ours, &theirs);
    let (our_bytes, their_bytes) = (debug_bytes(&ours), debug_bytes(&theirs));
    assert!(
        our_bytes as f64 <= 1.05 * their_bytes as f64,
        ".debug_* sections take {our_bytes} bytes, the serial object's {their_bytes}"
    );
    let link = |object: &Path| {
        let program = object.with_extension("exe");
        run_ok(
            Command::new(llvm_tool("clang"))
                .args(["-g", "-O1", "-fuse-ld=lld"])
                .arg(format!("-I{}", root().join("target/corpus/lua").display()))
                .arg(root().join("scripts/workloads/lua_driver.c"))
                .arg(object)
                .arg("-o")
                .arg(&program)
                .args(["-lm", "-ldl"]),
        );
        program
    };
    let workload = root().join("scripts/workloads/workload.lua");
    let args = format!("{} 0.2", workload.display());
    let types = ["L", "t", "L->l_G"];
    let ours = gdb_at(&link(&ours), "luaH_resize", &args, &types);
    assert!(
        ours.iter().any(|l| l == "type = struct lua_State {"),
        "{ours:?}"
    );
    assert_eq!(ours, gdb_at(&link(&theirs), "luaH_resize", &args, &types));
}

/// Two C files that each define their own `struct node` and share `struct shared` from a
/// header, linked into one module: the chunks' objects declare `shared` (defined once, by the
/// home object), but keep both `node`s, since a debugger looking one up by name could find the
/// other. gdb prints every type as for the serial build.
#[test]
fn a_name_two_units_define_differently_keeps_its_definitions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("s.h"), "struct shared { long x; char tag; };\n").unwrap();
    std::fs::write(
        d.join("a.c"),
        "#include <stdio.h>\n#include \"s.h\"\nstruct node { int a; int b; };\n\
         __attribute__((noinline)) int use_a(struct node *n, struct shared *s) { return n->a + n->b + (int)s->x; }\n\
         int run_b(int);\n\
         int main(int argc, char **argv) { struct node n = {argc, 2}; struct shared s = {40, 'q'};\n\
         printf(\"%d %d\\n\", use_a(&n, &s), run_b(argc)); return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.c"),
        "#include \"s.h\"\nstruct node { double weight; const char *name; int kids[3]; };\n\
         __attribute__((noinline)) int use_b(struct node *n, struct shared *s) { return (int)n->weight + n->kids[1] + s->tag; }\n\
         int run_b(int k) { struct node n = {1.5 * k, \"b\", {1, k, 3}}; struct shared s = {1, 'z'}; return use_b(&n, &s); }\n",
    )
    .unwrap();
    let module = link_sources(d, "clang", &["a.c", "b.c"]);
    let (ours, theirs) = (d.join("llpar.o"), d.join("serial.o"));
    llpar_to(
        &module,
        &["-O2", "--emit=obj", "-j2", "--min-chunk-cost=1"],
        &ours,
    );
    assert_dwarf_verifies(&ours);
    serial_o2_object(&module, &theirs);
    let structs = struct_types(&ours);
    let count = |name: &str, what: &str| {
        structs
            .iter()
            .filter(|(n, w)| n == name && w == what)
            .count()
    };
    assert_eq!(count("\"shared\"", "16"), 1, "{structs:?}");
    assert!(count("\"shared\"", "declaration") >= 1, "{structs:?}");
    assert_eq!(count("\"node\"", "declaration"), 0, "{structs:?}");
    assert!(
        count("\"node\"", "8") >= 1 && count("\"node\"", "32") >= 1,
        "{structs:?}"
    );
    let (ours, theirs) = (link_program("clang", &ours), link_program("clang", &theirs));
    for function in ["use_a", "use_b"] {
        let types = ["n", "s"];
        let shown = gdb_at(&ours, function, "", &types);
        assert!(
            shown.iter().any(|l| l == "type = struct node {"),
            "{shown:?}"
        );
        assert_eq!(shown, gdb_at(&theirs, function, "", &types));
    }
}

/// (name, "declaration" or size) of every struct the object describes.
fn struct_types(object: &Path) -> Vec<(String, String)> {
    let out = run_ok(
        Command::new(llvm_tool("llvm-dwarfdump"))
            .arg("--debug-info")
            .arg(object),
    );
    let text = String::from_utf8_lossy(&out);
    let mut structs: Vec<(String, String)> = Vec::new();
    for die in text.split("DW_TAG_structure_type").skip(1) {
        let attribute = |name: &str| {
            die.lines()
                .skip(1)
                .take_while(|l| !l.trim().is_empty())
                .find(|l| l.contains(name))
                .and_then(|l| {
                    l.split_once('(')
                        .map(|(_, v)| v.trim_end_matches(')').to_string())
                })
        };
        // The size as a number: LLVM prints a fixed-size form in hex, ULEB128 in decimal.
        let size = |v: String| match v.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16).map_or(v.clone(), |n| n.to_string()),
            None => v,
        };
        let what = attribute("DW_AT_byte_size").map_or_else(|| "declaration".into(), size);
        structs.push((attribute("DW_AT_name").unwrap_or_default(), what));
    }
    structs
}

/// Compiles each of `sources` (in `dir`) with `compiler -g` to unoptimized bitcode and links
/// them into one module.
fn link_sources(dir: &Path, compiler: &str, sources: &[&str]) -> PathBuf {
    let mut modules = Vec::new();
    for source in sources {
        let bitcode = dir.join(format!("{source}.bc"));
        run_ok(
            Command::new(llvm_tool(compiler))
                .args([
                    "-g",
                    "-O2",
                    "-Xclang",
                    "-disable-llvm-passes",
                    "-emit-llvm",
                    "-c",
                ])
                .arg(dir.join(source))
                .arg("-o")
                .arg(&bitcode),
        );
        modules.push(bitcode);
    }
    let module = dir.join("linked.bc");
    run_ok(
        Command::new(llvm_tool("llvm-link"))
            .args(&modules)
            .arg("-o")
            .arg(&module),
    );
    module
}

/// Links `object` alone into a program with `compiler` and lld.
fn link_program(compiler: &str, object: &Path) -> PathBuf {
    let program = object.with_extension("exe");
    run_ok(
        Command::new(llvm_tool(compiler))
            .arg("-fuse-ld=lld")
            .arg(object)
            .arg("-o")
            .arg(&program),
    );
    program
}

/// Two C++ files that share `struct shared` and the typedef `scaler` from a header, and each
/// define a `struct node` of their own in an anonymous namespace: as in the serial object,
/// `shared` and `scaler` are described once for both units (the one-definition rule makes each
/// one entity in the whole program; the chunks' objects repeat `scaler`), and both `node`s are
/// kept. The object verifies; gdb prints every type as for the serial build.
#[test]
fn cpp_types_are_described_once_for_the_whole_program() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("s.h"),
        "typedef long (*scaler)(long);\n\
         struct shared { long x; char tag; long twice() const { return 2 * x; } };\n",
    )
    .unwrap();
    std::fs::write(
        d.join("a.cpp"),
        "#include <cstdio>\n#include \"s.h\"\nnamespace { struct node { int a; int b; }; }\n\
         __attribute__((noinline)) int use_a(node *n, shared *s) { return n->a + n->b + (int)s->twice(); }\n\
         __attribute__((noinline)) int more_a(shared *s, scaler f) { return s->tag + (int)f(s->x); }\n\
         int run_b(int);\n\
         int main(int argc, char **argv) { node n = {argc, 2}; shared s = {40, 'q'};\n\
         std::printf(\"%d %d %d\\n\", use_a(&n, &s), more_a(&s, [](long v) { return v + 1; }), run_b(argc)); return 0; }\n",
    )
    .unwrap();
    std::fs::write(
        d.join("b.cpp"),
        "#include \"s.h\"\nnamespace { struct node { double weight; const char *name; int kids[3]; }; }\n\
         __attribute__((noinline)) int use_b(node *n, shared *s) { return (int)n->weight + n->kids[1] + s->tag; }\n\
         __attribute__((noinline)) int more_b(shared *s, scaler f) { return (int)s->twice() - (int)f(1); }\n\
         int run_b(int k) { node n = {1.5 * k, \"b\", {1, k, 3}}; shared s = {1, 'z'}; return use_b(&n, &s) + more_b(&s, [](long v) { return v * 3; }); }\n",
    )
    .unwrap();
    let module = link_sources(d, "clang++", &["a.cpp", "b.cpp"]);
    let (ours, theirs) = (d.join("llpar.o"), d.join("serial.o"));
    let args = ["-O2", "--emit=obj", "-j2", "--min-chunk-cost=1", "--stats"];
    let out = run(llpar().args(args).arg(&module).arg("-o").arg(&ours));
    let stats = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stats}");
    assert!(stats.contains("one per source"), "{stats}");
    assert_dwarf_verifies(&ours);
    serial_o2_object(&module, &theirs);
    let count = |structs: &[(String, String)], name: &str, what: &str| {
        structs
            .iter()
            .filter(|(n, w)| n == name && w == what)
            .count()
    };
    let (mine, serial) = (struct_types(&ours), struct_types(&theirs));
    assert_eq!(count(&serial, "\"shared\"", "16"), 1, "{serial:?}");
    assert_eq!(count(&mine, "\"shared\"", "16"), 1, "{mine:?}");
    assert!(
        count(&mine, "\"node\"", "8") == 1 && count(&mine, "\"node\"", "32") == 1,
        "{mine:?}"
    );
    let typedefs = |object: &Path| {
        let out = run_ok(
            Command::new(llvm_tool("llvm-dwarfdump"))
                .args(["--debug-info", "--name=scaler"])
                .arg(object),
        );
        String::from_utf8_lossy(&out)
            .matches("DW_TAG_typedef")
            .count()
    };
    assert_eq!(typedefs(&theirs), 1);
    assert_eq!(
        typedefs(&ours),
        1,
        "the chunks' copies of `scaler` are not one"
    );
    let (ours, theirs) = (
        link_program("clang++", &ours),
        link_program("clang++", &theirs),
    );
    for (function, types) in [
        ("use_b", &["s", "*s"][..]),
        ("more_a", &["s", "*s", "f"]),
        ("more_b", &["s", "*s", "f"]),
    ] {
        let shown = gdb_at(&ours, function, "", types);
        assert!(
            shown.iter().any(|l| l == "type = struct shared {"),
            "{shown:?}"
        );
        assert_eq!(shown, gdb_at(&theirs, function, "", types));
    }
}

/// Every file in `dir` that ends in `.bc` is a valid module that `llc` compiles.
fn assert_valid_modules_in(dir: &Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bc") {
            assert_verifies(&path);
            run_ok(
                Command::new(llvm_tool("llc"))
                    .args(["-O0", "-filetype=null"])
                    .arg(&path),
            );
            count += 1;
        }
    }
    count
}

#[test]
fn sqlite3_with_debug_info_chunks_isolation_and_determinism() {
    let input = corpus("sqlite3-g.bc");
    let dir = tempfile::tempdir().unwrap();
    let temps = dir.path().join("temps");
    std::fs::create_dir(&temps).unwrap();
    let threads = dir.path().join("threads.o");
    let temps_arg = format!("--save-temps={}", temps.display());
    llpar_to(&input, &["-O2", "--emit=obj", "-j2", &temps_arg], &threads);
    assert_dwarf_verifies(&threads);
    assert!(assert_valid_modules_in(&temps) > 2);
    let one = dir.path().join("one.o");
    llpar_to(&input, &["-O2", "--emit=obj", "-j1"], &one);
    assert!(std::fs::read(&one).unwrap() == std::fs::read(&threads).unwrap());
    let isolated = dir.path().join("isolated.o");
    llpar_to(
        &input,
        &["-O2", "--emit=obj", "-j2", "--isolate"],
        &isolated,
    );
    assert!(std::fs::read(&isolated).unwrap() == std::fs::read(&threads).unwrap());
    let merged = dir.path().join("merged.bc");
    llpar_to(&input, &["-O2", "-j2"], &merged);
    assert_verifies(&merged);
}

#[test]
fn sqlite3_with_debug_info_units_are_valid_and_merge_back() {
    let input = corpus("sqlite3-g.bc");
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("unit");
    run_ok(
        llpar()
            .arg("split")
            .arg(&input)
            .args(["-n", "4", "--strategy", "callgraph", "-o"])
            .arg(&prefix),
    );
    let units: Vec<PathBuf> = (0..4)
        .map(|i| dir.path().join(format!("unit{i}")))
        .collect();
    for unit in &units {
        assert_verifies(unit);
        run_ok(
            Command::new(llvm_tool("llc"))
                .args(["-O0", "-filetype=null"])
                .arg(unit),
        );
    }
    let merged = dir.path().join("merged.bc");
    run_ok(llpar().arg("merge").args(&units).arg("-o").arg(&merged));
    assert_verifies(&merged);
}

/// The sources an object's compile units name, sorted: one entry per unit.
fn compile_units(object: &Path) -> Vec<String> {
    let out = run_ok(
        Command::new(llvm_tool("llvm-dwarfdump"))
            .args(["--debug-info", "--recurse-depth=0"])
            .arg(object),
    );
    let text = String::from_utf8_lossy(&out);
    let mut units = Vec::new();
    let mut in_unit = false;
    for line in text.lines() {
        if line.contains("DW_TAG_") {
            in_unit = line.ends_with("DW_TAG_compile_unit");
            continue;
        }
        match line.trim().strip_prefix("DW_AT_name\t") {
            Some(name) if in_unit => {
                units.push(name.to_string());
                in_unit = false;
            }
            _ => {}
        }
    }
    units.sort();
    units
}

/// One compile unit per source, as the serial object has.
fn assert_one_unit_per_source(ours: &Path, serial: &Path) {
    let (ours, theirs) = (compile_units(ours), compile_units(serial));
    assert!(!theirs.is_empty());
    assert_eq!(ours, theirs, "compile units (llpar, then serial)");
}

/// The bytes of an object's `.debug_*` sections.
fn debug_bytes(object: &Path) -> u64 {
    section_bytes(object, ".debug_")
}

/// What gdb shows at `breakpoint`: the backtrace, one line per frame (function, arguments' names
/// and place, without addresses and argument values, since pointers differ from build to
/// build), then the lines of `ptype` of each expression in `types`.
fn gdb_at(program: &Path, breakpoint: &str, args: &str, types: &[&str]) -> Vec<String> {
    let mut gdb = Command::new("gdb");
    gdb.args(["-batch", "-nx", "-ex", "set debuginfod enabled off"])
        .args(["-ex", &format!("break {breakpoint}")])
        .args(["-ex", &format!("run {args} > /dev/null")])
        .args(["-ex", "bt"]);
    for expression in types {
        gdb.args(["-ex", &format!("ptype {expression}")]);
    }
    let out = run_ok(gdb.arg(program));
    let text = String::from_utf8_lossy(&out);
    let frames: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| {
            let l = l.split_once(" in ").map_or(l, |(_, rest)| rest);
            let l = l.trim_start_matches(|c: char| c == '#' || c.is_ascii_digit() || c == ' ');
            let name = l.split(" (").next().unwrap_or("");
            // gdb prints the file as the compile unit names it: relative or absolute
            // depending on how the corpus was built, so only its last component counts.
            let place = l.rsplit(" at ").next().unwrap_or("");
            let place = place.rsplit('/').next().unwrap_or(place);
            format!("{name} at {place}")
        })
        .collect();
    assert!(!frames.is_empty(), "no backtrace from gdb:\n{text}");
    let type_lines = text
        .lines()
        .skip_while(|l| !l.starts_with("type = "))
        .map(str::to_string);
    frames.into_iter().chain(type_lines).collect()
}

#[test]
fn sqlite3_with_debug_info_runs_and_debugs_like_serial() {
    let input = corpus("sqlite3-g.bc");
    let dir = tempfile::tempdir().unwrap();
    let parallel = dir.path().join("llpar.o");
    llpar_to(&input, &["-O2", "--emit=obj", "-j2"], &parallel);
    assert_dwarf_verifies(&parallel);
    let serial = dir.path().join("serial.o");
    serial_o2_object(&input, &serial);
    assert_one_unit_per_source(&parallel, &serial);
    let (ours, theirs) = (debug_bytes(&parallel), debug_bytes(&serial));
    assert!(
        ours as f64 <= 1.05 * theirs as f64,
        ".debug_* sections take {ours} bytes, the serial object's {theirs}"
    );
    let driver = root().join("scripts/workloads/sqlite_driver.c");
    let link = |object: &Path, program: &Path| {
        run_ok(
            Command::new(llvm_tool("clang"))
                .args(["-g", "-O1", "-fPIE", "-pie", "-fuse-ld=lld"])
                .arg(format!("-I{}", root().join("target/corpus").display()))
                .arg(&driver)
                .arg(object)
                .arg("-o")
                .arg(program)
                .arg("-lm"),
        );
    };
    let (ours, theirs) = (
        dir.path().join("sqlite-llpar"),
        dir.path().join("sqlite-serial"),
    );
    link(&parallel, &ours);
    link(&serial, &theirs);
    let expected = run_ok(Command::new(&theirs).arg("20000"));
    assert!(!expected.is_empty());
    assert!(run_ok(Command::new(&ours).arg("20000")) == expected);
    // Inside sqlite3Step, where it calls the bytecode interpreter.
    let line = std::fs::read_to_string(root().join("target/corpus/sqlite3.c"))
        .unwrap()
        .lines()
        .position(|l| l.trim() == "rc = sqlite3VdbeExec(p);")
        .expect("sqlite3.c calls sqlite3VdbeExec")
        + 1;
    let breakpoint = format!("sqlite3.c:{line}");
    // The chunks' objects only declare sqlite3's structs (the home object defines them), so
    // gdb must find the definitions by name: the types print as in the serial build.
    let types = ["p", "p->db", "*p->db->aDb"];
    let ours = gdb_at(&ours, &breakpoint, "100", &types);
    assert!(ours[0].starts_with("sqlite3Step at sqlite3.c:"), "{ours:?}");
    assert!(ours.iter().any(|l| l == "type = struct Vdbe {"), "{ours:?}");
    assert!(ours.iter().any(|l| l == "type = struct Db {"), "{ours:?}");
    assert_eq!(ours, gdb_at(&theirs, &breakpoint, "100", &types));
}

/// For a function pipeline, llpar's module compiles to the same line table as `opt`'s.
#[test]
fn lua_with_debug_info_function_pipeline_line_tables_match_opt() {
    let input = corpus("lua-g.bc");
    let dir = tempfile::tempdir().unwrap();
    let passes = format!("-passes={}", pipeline("light"));
    let reference = dir.path().join("opt.bc");
    run_ok(
        Command::new(llvm_tool("opt"))
            .arg(&passes)
            .arg(&input)
            .arg("-o")
            .arg(&reference),
    );
    let candidate = dir.path().join("llpar.bc");
    llpar_to(&input, &["-j2", &format!("-{passes}")], &candidate);
    let rows = |module: &Path| {
        let object = module.with_extension("o");
        run_ok(
            Command::new(llvm_tool("llc"))
                .args(["-O2", "-relocation-model=pic", "-filetype=obj"])
                .arg(module)
                .arg("-o")
                .arg(&object),
        );
        let dump = run_ok(
            Command::new(llvm_tool("llvm-dwarfdump"))
                .arg("--debug-line")
                .arg(&object),
        );
        let rows: Vec<String> = String::from_utf8_lossy(&dump)
            .lines()
            .filter(|l| l.starts_with("0x"))
            .map(str::to_string)
            .collect();
        rows
    };
    let (theirs, ours) = (rows(&reference), rows(&candidate));
    assert!(theirs.len() > 1000, "{} line rows", theirs.len());
    assert_eq!(ours.len(), theirs.len());
    let differing = ours.iter().zip(&theirs).filter(|(a, b)| a != b).count();
    assert_eq!(differing, 0, "line table rows differ from opt's");
}

/// A Rust program compiled whole by rustc (fat LTO: std, serde_json, regex and the program in
/// one module with rustc's debug info) built by llpar behaves as its serial build.
#[test]
fn rust_program_compiled_whole_runs_like_serial() {
    let input = corpus("rustprog.bc");
    let link_args = std::fs::read_to_string(root().join("target/corpus/rustprog.link")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let parallel = dir.path().join("llpar.o");
    llpar_to(&input, &["-O2", "--emit=obj", "-j2"], &parallel);
    assert_dwarf_verifies(&parallel);
    let serial = dir.path().join("serial.o");
    serial_o2_object(&input, &serial);
    assert_one_unit_per_source(&parallel, &serial);
    let link = |object: &Path, program: &Path| {
        run_ok(
            Command::new(llvm_tool("clang"))
                .arg("-fuse-ld=lld")
                .arg(object)
                .args(link_args.split_whitespace())
                .arg("-o")
                .arg(program),
        );
    };
    let (ours, theirs) = (
        dir.path().join("prog-llpar"),
        dir.path().join("prog-serial"),
    );
    link(&parallel, &ours);
    link(&serial, &theirs);
    let expected = run_ok(&mut Command::new(&theirs));
    assert!(String::from_utf8_lossy(&expected).starts_with("matches "));
    assert!(run_ok(&mut Command::new(&ours)) == expected);
}

/// rustc's `main` shim has no subprogram of its own, yet holds code inlined from functions that
/// have one: the merge must fold the compile units that code names too, at every level that
/// inlines before a parallel phase.
#[test]
fn rust_program_compiled_whole_optimizes_to_bitcode() {
    let input = corpus("rustprog.bc");
    let dir = tempfile::tempdir().unwrap();
    for level in ["-O1", "-O2", "-Oz"] {
        let out = dir.path().join(format!("out{level}.bc"));
        llpar_to(&input, &[level, "-j2"], &out);
        assert_verifies(&out);
    }
}
