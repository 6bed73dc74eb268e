//! A stricter equivalence check than `llvm-diff`, on the disassembly (`llvm-dis`) of two modules.
//!
//! Compared, each by name: every function (header, attributes and body, line by line), every
//! declaration with its attributes, every global variable, alias and ifunc (linkage, visibility,
//! initializer, section, alignment), comdats, named metadata, module asm, the data layout and
//! triple; a missing or extra global is a difference, and so is a different order of function
//! definitions or of globals. Before comparing, names that may differ without meaning are resolved:
//! - struct types by shape: `%struct.A` is replaced by its body, recursively, so that two names of
//!   one shape (which linking gives isomorphic structs) and a literal struct of that shape compare
//!   equal;
//! - attribute groups `#N` (on definitions, declarations and call sites) by their contents;
//! - numbered metadata `!N` by a hash of its contents, to a bounded depth (locations without
//!   their key-instruction atom group, a number like a value number);
//! - comments (`; preds = ...`, `; Function Attrs: ...`) are dropped.
//!
//! `llvm-diff`, by contrast, misreports functions with `indirectbr`/`blockaddress`, and does not
//! look at attributes of declarations and call sites, initializers, linkage, or missing globals.
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;

/// The differences between two disassembled modules, `reference` and `candidate`, at most
/// `limit` of them; empty when they are equivalent.
pub fn differences(reference: &str, candidate: &str, limit: usize) -> Vec<String> {
    let (a, b) = (Module::parse(reference), Module::parse(candidate));
    let mut out = Vec::new();
    let mut say = |s: String| {
        if out.len() < limit {
            out.push(s)
        }
    };
    compare_maps("module", &a.header, &b.header, &mut say);
    compare_maps("comdat", &a.comdats, &b.comdats, &mut say);
    compare_maps("global", &a.globals, &b.globals, &mut say);
    compare_maps("function", &a.functions, &b.functions, &mut say);
    compare_maps(
        "named metadata",
        &a.named_metadata,
        &b.named_metadata,
        &mut say,
    );
    for (what, x, y) in [
        ("globals", &a.global_order, &b.global_order),
        ("functions", &a.function_order, &b.function_order),
    ] {
        let common: HashSet<&String> = x.iter().filter(|n| y.contains(n)).collect();
        let xs: Vec<_> = x.iter().filter(|n| common.contains(n)).collect();
        let ys: Vec<_> = y.iter().filter(|n| common.contains(n)).collect();
        if let Some(i) = (0..xs.len()).find(|&i| xs[i] != ys[i]) {
            say(format!(
                "order of {what}: reference has {} where candidate has {}",
                xs[i], ys[i]
            ));
        }
    }
    out
}

/// `llvm-dis` of a module, without its first line (the ModuleID, which names the file).
pub fn disassemble(module: &Path) -> String {
    let out = super::run_ok(
        Command::new(super::llvm_tool("llvm-dis"))
            .arg(module)
            .arg("-o")
            .arg("-"),
    );
    let text = String::from_utf8(out).unwrap();
    match text.split_once('\n') {
        Some((first, rest)) if first.starts_with("; ModuleID") => rest.to_string(),
        _ => text,
    }
}

/// Whether two modules are equivalent under the strict comparison; otherwise its first `limit`
/// differences.
pub fn strict_diff(reference: &Path, candidate: &Path, limit: usize) -> Result<(), String> {
    let found = differences(&disassemble(reference), &disassemble(candidate), limit);
    if found.is_empty() {
        Ok(())
    } else {
        Err(found.join("\n"))
    }
}

/// The two modules are equivalent under the strict comparison.
pub fn assert_equivalent(reference: &Path, candidate: &Path) {
    if let Err(report) = strict_diff(reference, candidate, 20) {
        panic!(
            "{} and {} differ:\n{report}",
            reference.display(),
            candidate.display()
        );
    }
}

fn shorten(s: &str) -> String {
    if s.len() <= 400 {
        return s.to_string();
    }
    let mut end = 400;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn compare_maps(
    what: &str,
    a: &HashMap<String, Vec<String>>,
    b: &HashMap<String, Vec<String>>,
    say: &mut impl FnMut(String),
) {
    let mut names: Vec<&String> = a.keys().chain(b.keys()).collect();
    names.sort();
    names.dedup();
    for name in names {
        match (a.get(name), b.get(name)) {
            (Some(_), None) => say(format!("{what} {name}: missing from the candidate")),
            (None, Some(_)) => say(format!("{what} {name}: not in the reference")),
            (Some(x), Some(y)) if x != y => {
                let i = (0..x.len().max(y.len()))
                    .find(|&i| x.get(i) != y.get(i))
                    .unwrap();
                let line = |v: &Vec<String>| v.get(i).map_or("<end>".into(), |l| shorten(l));
                say(format!(
                    "{what} {name}, line {}:\n  reference: {}\n  candidate: {}",
                    i + 1,
                    line(x),
                    line(y)
                ));
            }
            _ => {}
        }
    }
}

#[derive(Default)]
struct Module {
    header: HashMap<String, Vec<String>>,
    comdats: HashMap<String, Vec<String>>,
    globals: HashMap<String, Vec<String>>,
    functions: HashMap<String, Vec<String>>,
    named_metadata: HashMap<String, Vec<String>>,
    global_order: Vec<String>,
    function_order: Vec<String>,
}

/// One token of a line of IR, as far as the normalization cares.
enum Token<'a> {
    Text(&'a str),
    /// `%name` (the name without `%`, quotes kept), and where it starts and ends in the line
    Local(&'a str, usize, usize),
    /// `#N`
    Attributes(&'a str),
    /// `!N`
    Metadata(&'a str),
}

fn is_name_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-$._".contains(&c)
}

/// Splits a line into tokens, dropping a trailing comment; string constants are kept whole.
fn tokens(line: &str) -> Vec<Token<'_>> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut text_start) = (0, 0);
    let quoted_end = |from: usize| {
        // `from` is an opening quote; LLVM escapes quotes inside strings as \22.
        line[from + 1..]
            .find('"')
            .map_or(bytes.len(), |k| from + 1 + k + 1)
    };
    while i < bytes.len() {
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let (end, token) = match c {
            b';' => break,
            b'"' => {
                i = quoted_end(i);
                continue;
            }
            b'%' if next == Some(b'"') => {
                let end = quoted_end(i + 1);
                (end, Token::Local(&line[i + 1..end], i, end))
            }
            b'%' if next.is_some_and(is_name_char) => {
                let mut end = i + 1;
                while end < bytes.len() && is_name_char(bytes[end]) {
                    end += 1;
                }
                (end, Token::Local(&line[i + 1..end], i, end))
            }
            b'#' | b'!' if next.is_some_and(|d| d.is_ascii_digit()) => {
                let mut end = i + 1;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
                let n = &line[i + 1..end];
                (
                    end,
                    if c == b'#' {
                        Token::Attributes(n)
                    } else {
                        Token::Metadata(n)
                    },
                )
            }
            b'@' if next == Some(b'"') => {
                i = quoted_end(i + 1);
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        if text_start < i {
            out.push(Token::Text(&line[text_start..i]));
        }
        out.push(token);
        i = end;
        text_start = end;
    }
    if text_start < i.min(bytes.len()) {
        out.push(Token::Text(&line[text_start..i.min(bytes.len())]));
    }
    // Trailing blanks before a dropped comment.
    if let Some(Token::Text(t)) = out.last_mut() {
        *t = t.trim_end();
    }
    out
}

/// The name defined by a line `PREFIXname = ...` (`%T = type`, `@g = ...`, `!n = ...`, `$c = ...`),
/// and the rest after ` = `.
fn definition(line: &str, prefix: char) -> Option<(&str, &str)> {
    let rest = line.strip_prefix(prefix)?;
    let name_end = if let Some(quoted) = rest.strip_prefix('"') {
        quoted.find('"')? + 2
    } else {
        rest.find(" = ")?
    };
    let (name, tail) = rest.split_at(name_end);
    Some((name, tail.strip_prefix(" = ")?))
}

struct Context<'a> {
    types: HashMap<&'a str, &'a str>,
    type_shapes: HashMap<&'a str, String>,
    attributes: HashMap<&'a str, String>,
    metadata: HashMap<&'a str, &'a str>,
    metadata_hashes: HashMap<(&'a str, u32), String>,
}

const METADATA_DEPTH: u32 = 6;

impl<'a> Context<'a> {
    fn type_shape(&mut self, name: &'a str, visiting: &mut Vec<&'a str>) -> String {
        if let Some(s) = self.type_shapes.get(name) {
            return s.clone();
        }
        if visiting.contains(&name) {
            return format!("%<recursive {name}>");
        }
        visiting.push(name);
        let body = self.types[name];
        let mut shape = String::new();
        for token in tokens(body) {
            match token {
                Token::Local(n, ..) if self.types.contains_key(n) => {
                    shape.push_str(&self.type_shape(n, visiting))
                }
                Token::Local(n, ..) => {
                    shape.push('%');
                    shape.push_str(n)
                }
                Token::Text(t) => shape.push_str(t),
                Token::Attributes(n) => {
                    shape.push('#');
                    shape.push_str(n)
                }
                Token::Metadata(n) => {
                    shape.push('!');
                    shape.push_str(n)
                }
            }
        }
        visiting.pop();
        self.type_shapes.insert(name, shape.clone());
        shape
    }

    fn metadata_hash(&mut self, n: &'a str, depth: u32) -> String {
        if depth == 0 {
            return "!_".into();
        }
        if let Some(h) = self.metadata_hashes.get(&(n, depth)) {
            return h.clone();
        }
        let text = self.metadata.get(n).copied().unwrap_or("<undefined>");
        let resolved = without_atom_group(&self.normalize(text, &HashSet::new(), depth - 1));
        // FNV-1a, 64 bits.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in resolved.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
        let hash = format!("!<{h:016x}>");
        self.metadata_hashes.insert((n, depth), hash.clone());
        hash
    }

    /// A line with type names, attribute groups and metadata resolved, `locals` being the
    /// function's own value names (which are never types).
    fn normalize(&mut self, line: &'a str, locals: &HashSet<&str>, depth: u32) -> String {
        let mut out = String::new();
        for token in tokens(line) {
            match token {
                Token::Text(t) => out.push_str(t),
                Token::Local(n, start, end)
                    if self.types.contains_key(n)
                        && (!is_local(locals, n) || is_type_position(line, start, end)) =>
                {
                    let shape = self.type_shape(n, &mut Vec::new());
                    out.push_str(&shape)
                }
                Token::Local(n, ..) => {
                    out.push('%');
                    out.push_str(n)
                }
                Token::Attributes(n) => match self.attributes.get(n) {
                    Some(a) => out.push_str(&format!("#{a}")),
                    None => out.push_str(&format!("#<undefined {n}>")),
                },
                Token::Metadata(n) => {
                    let h = self.metadata_hash(n, depth);
                    out.push_str(&h)
                }
            }
        }
        out
    }
}

/// A location without its key-instruction atom group (`atomGroup: N`). The groups number a
/// function's source atoms, as value numbers number its values: cloning a function into a chunk
/// numbers them anew, and passes that duplicate code take new numbers from a counter of the whole
/// context. What they mean (which instructions share an atom) is not compared; the line tables
/// they produce are (tests/debug_info.rs).
fn without_atom_group(text: &str) -> String {
    match text.find("atomGroup: ") {
        Some(at) => {
            let digits = text[at + 11..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            let rest = text[at + 11 + digits..].trim_start_matches(", ");
            format!("{}{}", &text[..at], rest)
        }
        None => text.to_string(),
    }
}

/// Whether `%name`, which names both a type and a local value of the function (numbered types
/// `%0` and numbered values or blocks `%0`), stands for the type where it follows `before` in
/// `line`: a value is followed by ` = `, ` ]`, ` to ` or nothing but punctuation, and follows
/// `label`, a phi's `[ ` or `, `, or its type and attributes; a type follows `(`, `{`, `x`, `, `
/// or an opcode, and is followed by a space and its value.
fn is_type_position(line: &str, start: usize, end: usize) -> bool {
    let (before, after) = (&line[..start], &line[end..]);
    if after.starts_with(" = ") || after.starts_with(" ]") || after.starts_with(" to ") {
        return false;
    }
    if after.starts_with(' ') {
        return true;
    }
    let before = before.trim_end();
    if before.ends_with("label") || before.ends_with('[') && !before.ends_with(" [") {
        return before.ends_with('[') && !before.ends_with("[ ");
    }
    if before.ends_with(',') {
        let phi = line.contains(" phi ");
        let blockaddress = before
            .rfind("blockaddress(")
            .is_some_and(|i| !before[i..].contains(')'));
        return !phi && !blockaddress;
    }
    let last = before
        .rsplit(|c: char| c.is_whitespace())
        .next()
        .unwrap_or("");
    last.ends_with('(')
        || last.ends_with('{')
        || last.ends_with('[')
        || [
            "x",
            "alloca",
            "load",
            "volatile",
            "getelementptr",
            "inbounds",
            "nuw",
            "nusw",
            "extractvalue",
            "insertvalue",
            "to",
            "ret",
            "phi",
            "call",
            "invoke",
        ]
        .contains(&last)
}

/// Whether `%name` may be a value of the function: one it names, or a number (an entry block
/// without a label takes a number without a line that defines it).
fn is_local(locals: &HashSet<&str>, name: &str) -> bool {
    locals.contains(name) || (!locals.is_empty() && name.bytes().all(|b| b.is_ascii_digit()))
}

/// The names of a function's parameters and of the values its body defines.
fn locals<'a>(header: &'a str, body: &[&'a str]) -> HashSet<&'a str> {
    let mut names = HashSet::new();
    if let Some(open) = header.find('(') {
        let mut depth = 0;
        let mut start = open + 1;
        for (i, c) in header.char_indices().skip(open + 1) {
            match c {
                '(' | '[' | '{' | '<' => depth += 1,
                ')' | ']' | '}' | '>' if depth > 0 => depth -= 1,
                ',' | ')' if depth == 0 => {
                    if let Some(p) = header[start..i].split_whitespace().last() {
                        if let Some(n) = p.strip_prefix('%') {
                            names.insert(n);
                        }
                    }
                    start = i + 1;
                    if c == ')' {
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    for line in body {
        if let Some((n, _)) = definition(line.trim_start(), '%') {
            names.insert(n);
        } else if !line.starts_with(' ') {
            // A block label, `name:` or `"name":`, with perhaps a comment.
            let label = line.split(" ;").next().unwrap_or("").trim_end();
            if let Some(n) = label.strip_suffix(':') {
                names.insert(n);
            }
        }
    }
    names
}

fn first_global_name(line: &str) -> String {
    let at = line.find('@').unwrap_or(0);
    let rest = &line[at..];
    let end = if rest[1..].starts_with('"') {
        rest[2..].find('"').map_or(rest.len(), |k| k + 3)
    } else {
        rest[1..]
            .find(|c: char| !is_name_char(c as u8) || !c.is_ascii())
            .map_or(rest.len(), |k| k + 1)
    };
    rest[..end].to_string()
}

impl Module {
    fn parse(text: &str) -> Module {
        let lines: Vec<&str> = text.lines().collect();
        let mut cx = Context {
            types: HashMap::new(),
            type_shapes: HashMap::new(),
            attributes: HashMap::new(),
            metadata: HashMap::new(),
            metadata_hashes: HashMap::new(),
        };
        for line in &lines {
            if let Some((name, body)) = definition(line, '%') {
                if let Some(t) = body.strip_prefix("type ") {
                    cx.types.insert(name, t);
                }
            } else if let Some(rest) = line.strip_prefix("attributes #") {
                if let Some((n, contents)) = rest.split_once(" = ") {
                    cx.attributes.insert(n, contents.to_string());
                }
            } else if let Some((name, body)) = definition(line, '!') {
                if name.bytes().all(|b| b.is_ascii_digit()) {
                    cx.metadata.insert(name, body);
                }
            }
        }
        let mut m = Module::default();
        let none = HashSet::new();
        let mut i = 0;
        while i < lines.len() {
            let line = lines[i];
            i += 1;
            let keyed = |map: &mut HashMap<String, Vec<String>>, key: String, v: String| {
                map.entry(key).or_default().push(v)
            };
            if line.starts_with("define ") {
                let start = i;
                while i < lines.len() && lines[i] != "}" {
                    i += 1;
                }
                let body = &lines[start..i.min(lines.len())];
                i += 1;
                let locals = locals(line, body);
                let name = first_global_name(line);
                let mut v = vec![cx.normalize(line, &locals, METADATA_DEPTH)];
                for l in body {
                    let n = cx.normalize(l, &locals, METADATA_DEPTH);
                    if !n.trim().is_empty() {
                        v.push(n);
                    }
                }
                m.function_order.push(name.clone());
                m.functions.insert(name, v);
            } else if line.starts_with("declare ") {
                // The order of declarations is not compared: passes append the declarations they
                // create (intrinsics, library functions), and their order carries no meaning.
                let name = first_global_name(line);
                keyed(
                    &mut m.functions,
                    name,
                    cx.normalize(line, &none, METADATA_DEPTH),
                );
            } else if let Some((name, _)) = definition(line, '@') {
                let name = format!("@{name}");
                m.global_order.push(name.clone());
                keyed(
                    &mut m.globals,
                    name,
                    cx.normalize(line, &none, METADATA_DEPTH),
                );
            } else if let Some((name, _)) = definition(line, '$') {
                keyed(&mut m.comdats, format!("${name}"), line.to_string());
            } else if let Some((name, _)) = definition(line, '!') {
                if !name.bytes().all(|b| b.is_ascii_digit()) {
                    keyed(
                        &mut m.named_metadata,
                        format!("!{name}"),
                        cx.normalize(line, &none, METADATA_DEPTH),
                    );
                }
            } else if line.starts_with("source_filename")
                || line.starts_with("target ")
                || line.starts_with("module asm")
            {
                let key = line.split(" = ").next().unwrap_or(line).to_string();
                let key = if key.starts_with("module asm") {
                    "module asm".to_string()
                } else {
                    key
                };
                keyed(&mut m.header, key, line.to_string());
            }
        }
        m
    }
}
