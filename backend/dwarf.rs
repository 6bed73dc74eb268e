//! Debug-info linking: one compile unit per source in the joined object.
//!
//! LLVM writes a compile unit for every module it compiles, so an object joined from N chunks
//! describes a source in up to N+1 units. This stage reads the joined object's DWARF (applying
//! its relocations), gives every group of units with the same name, directory, producer and
//! language one unit (the DIEs of all, in object order, under one root; one line program with
//! every sequence; the union of the address ranges), and writes the `.debug_*` sections again
//! with relocations against the same symbols.
//!
//! Addresses in a relocatable object are relocations. The reader turns each relocated address
//! into a token that names the relocation's symbol and addend (`token`), so that arithmetic the
//! reader does (a line table's advances, a base address plus an offset) stays inside the token,
//! and the writer turns tokens back into relocations. Anything this does not understand (a
//! relocation other than a plain 64-bit address or 32-bit section offset, such as a thread-local
//! variable's, an operation it cannot rewrite, a section it does not know) leaves the object as
//! it was, with the reason: the per-chunk units are valid DWARF, just more of it.
use crate::elf::{self, Object, Rela};
use gimli::write::{self, Address, AttributeValue, DebugInfoRef, Expression, FileId, LineProgram};
use gimli::{constants, LittleEndian, Reader, SectionId};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Sections the linker reads and rewrites.
const KNOWN: [&str; 11] = [
    ".debug_abbrev",
    ".debug_info",
    ".debug_str",
    ".debug_str_offsets",
    ".debug_addr",
    ".debug_line",
    ".debug_line_str",
    ".debug_rnglists",
    ".debug_loclists",
    ".debug_ranges",
    ".debug_loc",
];

/// Sections that refer to units or DIEs by offset, which the linker does not rewrite: with one
/// of them present, the object is kept as it is. (Other sections, such as `.debug_frame` or
/// `.debug_gdb_scripts`, do not depend on `.debug_info`'s layout.)
const REFER_TO_UNITS: [&str; 11] = [
    ".debug_types",
    ".debug_names",
    ".debug_aranges",
    ".debug_pubnames",
    ".debug_pubtypes",
    ".debug_gnu_pubnames",
    ".debug_gnu_pubtypes",
    ".debug_macro",
    ".debug_macinfo",
    ".debug_cu_index",
    ".debug_tu_index",
];

/// What the linker did.
#[derive(Debug, PartialEq, Eq)]
pub struct Merged {
    pub units_before: usize,
    pub units_after: usize,
}

/// Merges the compile units of `object` that describe the same source. `Ok(None)`: nothing to
/// merge (no debug info, or one unit per source already). `Err`: the reason the object is kept
/// as it is.
pub fn merge_units(object: &[u8]) -> Result<Option<(Vec<u8>, Merged)>, String> {
    let Some(obj) = Object::parse(object) else {
        return Ok(None);
    };
    if obj.find(".debug_info").is_none() {
        return Ok(None);
    }
    if let Some(s) = obj
        .sections
        .iter()
        .find(|s| REFER_TO_UNITS.contains(&s.name.as_str()))
    {
        return Err(format!("section {} is not supported", s.name));
    }
    let input = Input::load(&obj)?;
    input.check_kinds()?;
    let dwarf = input.dwarf()?;
    let plan = group_units(&dwarf)?;
    if plan.groups.len() == plan.unit_count {
        return Ok(None);
    }
    let mut out = write::Dwarf::new();
    Linker::new(&dwarf, &input, &plan, &mut out)
        .run()
        .map_err(|e| format!("debug info: {e}"))?;
    input.check_all_consumed()?;
    let mut sections = write::Sections::new(Writer::default());
    out.write(&mut sections).map_err(|e| e.to_string())?;
    let bytes = emit(&obj, &sections)?;
    let merged = Merged {
        units_before: plan.unit_count,
        units_after: plan.groups.len(),
    };
    Ok(Some((bytes, merged)))
}

// ---- Reading, with relocations as tokens ----

/// Marks a relocated address: bit 63, the symbol index in bits 32..63, the addend below.
const TOKEN: u64 = 1 << 63;

fn token(symbol: u32, addend: i64) -> Option<u64> {
    (symbol < 1 << 31 && (0..1 << 32).contains(&addend))
        .then(|| TOKEN | (u64::from(symbol) << 32) | addend as u64)
}

/// The address a value read from the DWARF stands for.
fn address(value: u64) -> Address {
    if value & TOKEN != 0 {
        Address::Symbol {
            symbol: ((value >> 32) & 0x7fff_ffff) as usize,
            addend: (value & 0xffff_ffff) as i64,
        }
    } else {
        Address::Constant(value)
    }
}

/// Marks, in an `Address::Symbol`'s symbol, a thread-local variable's offset: written as
/// `DW_OP_const8u` with an `R_X86_64_DTPOFF64` relocation (see `tls_offset` and `emit`).
const TLS: usize = 1 << 40;

fn same_symbol(a: u64, b: u64) -> bool {
    a & TOKEN != 0 && a >> 32 == b >> 32
}

/// The relocations of one section, and which of them the reader has used.
#[derive(Debug)]
struct SectionRelocs {
    name: String,
    /// Sorted by offset: the reader mostly goes forward, so lookups stay in cache.
    relas: Vec<Rela>,
    /// Values of section symbols, by symbol index (offset relocations resolve against them).
    section_symbols: HashMap<u32, u64>,
    /// Per relocation in `relas`, whether the reader used it.
    used: RefCell<Vec<bool>>,
    errors: RefCell<Vec<String>>,
}

#[derive(Clone, Debug)]
struct Relocs(Rc<SectionRelocs>);

impl Relocs {
    fn take(&self, offset: usize, expected: u32) -> Option<Rela> {
        let at = self
            .0
            .relas
            .binary_search_by_key(&(offset as u64), |r| r.offset)
            .ok()?;
        let rela = self.0.relas[at];
        if rela.kind != expected {
            let e = format!("relocation type {} in {}", rela.kind, self.0.name);
            self.0.errors.borrow_mut().push(e);
            return None;
        }
        self.0.used.borrow_mut()[at] = true;
        Some(rela)
    }
}

impl gimli::read::Relocate for Relocs {
    fn relocate_address(&self, offset: usize, value: u64) -> gimli::Result<u64> {
        let Some(rela) = self.take(offset, elf::R_X86_64_64) else {
            return Ok(value);
        };
        match token(rela.symbol, rela.addend) {
            Some(t) => Ok(t),
            None => {
                let e = format!("address out of range in {}", self.0.name);
                self.0.errors.borrow_mut().push(e);
                Ok(value)
            }
        }
    }

    fn relocate_offset(&self, offset: usize, value: usize) -> gimli::Result<usize> {
        let Some(rela) = self.take(offset, elf::R_X86_64_32) else {
            return Ok(value);
        };
        match self.0.section_symbols.get(&rela.symbol) {
            Some(base) => Ok((*base as i64 + rela.addend) as usize),
            None => {
                let e = format!("offset against a symbol in {}", self.0.name);
                self.0.errors.borrow_mut().push(e);
                Ok(value)
            }
        }
    }
}

type R<'a> = gimli::RelocateReader<gimli::EndianSlice<'a, LittleEndian>, Relocs>;

/// The debug sections of the object with their relocations.
struct Input<'a> {
    sections: HashMap<&'static str, (&'a [u8], Relocs)>,
}

impl<'a> Input<'a> {
    fn load(obj: &Object<'a>) -> Result<Input<'a>, String> {
        let mut sections = HashMap::new();
        for name in KNOWN {
            let Some(index) = obj.find(name) else {
                continue;
            };
            let data = obj.section_data(index).ok_or("truncated section")?;
            let mut relas = Vec::new();
            let mut section_symbols = HashMap::new();
            if let Some(rela) = obj.rela_section_for(index)? {
                for r in obj.relocations(rela).ok_or("truncated relocations")? {
                    let symbol = obj.symbol(r.symbol).ok_or("bad symbol index")?;
                    if symbol.is_section {
                        section_symbols.insert(r.symbol, symbol.value);
                    }
                    relas.push(r);
                }
            }
            relas.sort_by_key(|r| r.offset);
            let relocs = Relocs(Rc::new(SectionRelocs {
                name: name.to_string(),
                used: RefCell::new(vec![false; relas.len()]),
                relas,
                section_symbols,
                errors: RefCell::default(),
            }));
            sections.insert(name, (data, relocs));
        }
        Ok(Input { sections })
    }

    fn dwarf(&self) -> Result<gimli::Dwarf<R<'a>>, String> {
        let load = |id: SectionId| -> gimli::Result<R<'a>> {
            let (data, relocs) = match self.sections.get(id.name()) {
                Some((d, r)) => (*d, r.clone()),
                None => (&[][..], Relocs(Rc::new(empty_relocs(id.name())))),
            };
            let slice = gimli::EndianSlice::new(data, LittleEndian);
            Ok(gimli::RelocateReader::new(slice, relocs))
        };
        gimli::Dwarf::load(load).map_err(|e| e.to_string())
    }

    /// Every relocation is of a kind the linker carries over (checked first: it is cheap).
    fn check_kinds(&self) -> Result<(), String> {
        let known = [elf::R_X86_64_64, elf::R_X86_64_32, elf::R_X86_64_DTPOFF64];
        for (_, relocs) in self.sections.values() {
            let r = &relocs.0;
            if let Some(rela) = r.relas.iter().find(|x| !known.contains(&x.kind)) {
                return Err(format!(
                    "relocation type {} at {}+{:#x} not understood",
                    rela.kind, r.name, rela.offset
                ));
            }
        }
        Ok(())
    }

    /// The section of `bytes`, which the reader gave out of one of the sections, and where in it
    /// they start.
    fn locate(&self, bytes: &[u8]) -> Option<(&Relocs, usize)> {
        let at = bytes.as_ptr() as usize;
        self.sections.values().find_map(|(data, relocs)| {
            let start = data.as_ptr() as usize;
            (start <= at && at + bytes.len() <= start + data.len()).then(|| (relocs, at - start))
        })
    }

    /// Every relocation was understood and used: none is left that the new sections would lose.
    fn check_all_consumed(&self) -> Result<(), String> {
        for (_, relocs) in self.sections.values() {
            let r = &relocs.0;
            if let Some(e) = r.errors.borrow().first() {
                return Err(e.clone());
            }
            // The address and string-offset tables are not written again: an entry nothing
            // refers to is dropped with them.
            if r.name == ".debug_addr" || r.name == ".debug_str_offsets" {
                continue;
            }
            let used = r.used.borrow();
            if let Some((rela, _)) = r.relas.iter().zip(used.iter()).find(|(_, &u)| !u) {
                return Err(format!(
                    "relocation type {} at {}+{:#x} not understood",
                    rela.kind, r.name, rela.offset
                ));
            }
        }
        Ok(())
    }
}

fn empty_relocs(name: &str) -> SectionRelocs {
    SectionRelocs {
        name: name.to_string(),
        relas: Vec::new(),
        section_symbols: HashMap::new(),
        used: RefCell::default(),
        errors: RefCell::default(),
    }
}

// ---- Grouping ----

/// Which output unit each input unit goes to.
struct Plan<'a> {
    units: Vec<gimli::Unit<R<'a>>>,
    /// For each input unit, its group.
    group_of: Vec<usize>,
    groups: Vec<Vec<usize>>,
    unit_count: usize,
}

fn group_units<'a>(dwarf: &gimli::Dwarf<R<'a>>) -> Result<Plan<'a>, String> {
    let e = |e: gimli::Error| e.to_string();
    let mut units = Vec::new();
    let mut headers = dwarf.units();
    while let Some(header) = headers.next().map_err(e)? {
        let unit = dwarf.unit(header).map_err(e)?;
        if unit.header.type_() != gimli::UnitType::Compilation {
            return Err("a unit that is not a compile unit".into());
        }
        units.push(unit);
    }
    let mut keys: HashMap<Vec<Vec<u8>>, usize> = HashMap::new();
    let mut group_of = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, unit) in units.iter().enumerate() {
        let key = unit_key(dwarf, unit).map_err(e)?;
        let g = *keys.entry(key).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if groups[g]
            .first()
            .is_some_and(|&first| units[first].encoding() != unit.encoding())
        {
            return Err("units of one source with different encodings".into());
        }
        groups[g].push(i);
        group_of.push(g);
    }
    let unit_count = units.len();
    Ok(Plan {
        units,
        group_of,
        groups,
        unit_count,
    })
}

/// Units with equal keys describe the same source: name, directory, producer, language.
fn unit_key(dwarf: &gimli::Dwarf<R<'_>>, unit: &gimli::Unit<R<'_>>) -> gimli::Result<Vec<Vec<u8>>> {
    let mut cursor = unit.entries();
    let root = cursor.next_dfs()?.ok_or(gimli::Error::MissingUnitDie)?;
    let mut key = Vec::new();
    for at in [
        constants::DW_AT_name,
        constants::DW_AT_comp_dir,
        constants::DW_AT_producer,
        constants::DW_AT_language,
    ] {
        let value = match root.attr_value(at) {
            Some(gimli::AttributeValue::Language(l)) => l.0.to_le_bytes().to_vec(),
            Some(v) => match dwarf.attr_string(unit, v) {
                Ok(s) => s.to_slice()?.into_owned(),
                Err(_) => Vec::new(),
            },
            None => Vec::new(),
        };
        key.push(value);
    }
    Ok(key)
}

// ---- Conversion ----

/// Converts the input units into one output unit per group.
struct Linker<'a, 'd> {
    dwarf: &'d gimli::Dwarf<R<'a>>,
    input: &'d Input<'a>,
    plan: &'d Plan<'a>,
    out: &'d mut write::Dwarf,
    /// Output unit of each group.
    unit_ids: Vec<write::UnitId>,
    /// Every input DIE (by `.debug_info` offset) to its output unit and entry.
    entries: Entries,
    shared: Shared,
}

type Res<T> = Result<T, String>;

fn err(e: gimli::Error) -> String {
    e.to_string()
}

impl<'a, 'd> Linker<'a, 'd> {
    fn new(
        dwarf: &'d gimli::Dwarf<R<'a>>,
        input: &'d Input<'a>,
        plan: &'d Plan<'a>,
        out: &'d mut write::Dwarf,
    ) -> Self {
        let (entries, shared) = (Entries::default(), Shared::default());
        Linker {
            dwarf,
            input,
            plan,
            out,
            unit_ids: Vec::new(),
            entries,
            shared,
        }
    }

    fn run(mut self) -> Res<()> {
        let plan = self.plan;
        for group in &plan.groups {
            let first = &plan.units[group[0]];
            let program = self.new_line_program(first)?;
            let id = self
                .out
                .units
                .add(write::Unit::new(first.encoding(), program));
            self.unit_ids.push(id);
        }
        for (i, unit) in plan.units.iter().enumerate() {
            self.reserve(unit, self.unit_ids[plan.group_of[i]])?;
        }
        for (g, group) in plan.groups.iter().enumerate() {
            let uid = self.unit_ids[g];
            let mut ranges = Vec::new();
            for (n, &i) in group.iter().enumerate() {
                let unit = &plan.units[i];
                let files = self.add_lines(unit, uid)?;
                let mut converter = Converter {
                    linker: &mut self,
                    unit,
                    uid,
                    files: &files,
                };
                if group.len() > 1 {
                    ranges.extend(converter.unit_ranges()?);
                }
                converter.convert_entries(n == 0)?;
            }
            self.set_root_ranges(uid, ranges, group.len())?;
        }
        Ok(())
    }

    /// Gives every DIE of `unit` an entry in output unit `uid`; the roots share the output root,
    /// and DIEs equal to earlier ones of the group share theirs (`Shared`).
    fn reserve(&mut self, unit: &gimli::Unit<R<'a>>, uid: write::UnitId) -> Res<()> {
        let files = file_paths(self.dwarf, unit)?;
        let root = self.out.units.get(uid).root();
        let mut cursor = unit.entries();
        // (depth, the entry of a scope whose children may be shared: the root, a namespace)
        let mut scopes: Vec<(isize, Option<write::UnitEntryId>)> = Vec::new();
        let mut pending: Option<Candidate> = None;
        let mut odr = false;
        while let Some(entry) = cursor.next_dfs().map_err(err)? {
            let depth = entry.depth();
            let offset = section_offset(unit, entry.offset())?;
            if let Some(p) = &mut pending {
                if depth > p.depth {
                    p.dies
                        .push((offset, entry.tag(), die_name(self.dwarf, unit, entry)?));
                    continue;
                }
            }
            if let Some(p) = pending.take() {
                self.settle(p, uid);
            }
            if depth == 0 {
                odr = follows_odr(entry);
                self.entries.push(offset, uid, root, true);
                scopes.push((0, Some(root)));
                continue;
            }
            while scopes.last().is_some_and(|&(d, _)| d >= depth) {
                scopes.pop();
            }
            let scope = scopes.last().and_then(|s| s.1);
            let shared = match scope {
                Some(scope) => {
                    let place = (uid, scope, odr);
                    self.shared.key(self.dwarf, unit, entry, &files, place)?
                }
                None => None,
            };
            match shared {
                Some(Key::Namespace(key)) => {
                    let (id, owner) = match self.shared.namespaces.get(&key) {
                        Some(&id) => (id, false),
                        None => {
                            let id = self.out.units.get_mut(uid).reserve();
                            self.shared.enter(&key, id);
                            self.shared.namespaces.insert(key, id);
                            (id, true)
                        }
                    };
                    self.entries.push(offset, uid, id, owner);
                    scopes.push((depth, Some(id)));
                }
                Some(Key::Type(key)) => {
                    let name = die_name(self.dwarf, unit, entry)?;
                    pending = Some(Candidate {
                        key,
                        depth,
                        dies: vec![(offset, entry.tag(), name)],
                    });
                }
                None => {
                    let id = self.out.units.get_mut(uid).reserve();
                    self.entries.push(offset, uid, id, true);
                    scopes.push((depth, None));
                }
            }
        }
        if let Some(p) = pending.take() {
            self.settle(p, uid);
        }
        Ok(())
    }

    /// A candidate's DIEs take the entries of an equal earlier one (same key, and DIE by DIE the
    /// same tags and names), maybe in another unit, or new ones in `uid`.
    fn settle(&mut self, candidate: Candidate, uid: write::UnitId) {
        let same = |kept: &Kept| {
            kept.1.len() == candidate.dies.len()
                && kept
                    .1
                    .iter()
                    .zip(&candidate.dies)
                    .all(|(k, c)| k.0 == c.1 && k.1 == c.2)
        };
        let variants = self.shared.types.entry(candidate.key).or_default();
        if let Some((kuid, kept)) = variants.iter().find(|k| same(k)) {
            for ((offset, ..), (_, _, id)) in candidate.dies.iter().zip(kept) {
                self.entries.push(*offset, *kuid, *id, false);
            }
            self.shared.merged += candidate.dies.len();
            return;
        }
        let mut kept = Vec::with_capacity(candidate.dies.len());
        for (offset, tag, name) in candidate.dies {
            let id = self.out.units.get_mut(uid).reserve();
            self.entries.push(offset, uid, id, true);
            kept.push((tag, name, id));
        }
        if variants.len() < MAX_VARIANTS {
            variants.push((uid, kept));
        }
    }

    /// A line program for a group, named after its first unit.
    fn new_line_program(&mut self, unit: &gimli::Unit<R<'a>>) -> Res<LineProgram> {
        let Some(program) = &unit.line_program else {
            return Ok(LineProgram::none());
        };
        let header = program.header();
        if header.version() < 5 {
            // Before DWARF 5, directory and file 0 are implicit (the unit's): not written.
            let dot = || write::LineString::String(b".".to_vec());
            return Ok(LineProgram::new(
                header.encoding(),
                header.line_encoding(),
                dot(),
                None,
                dot(),
                None,
            ));
        }
        let dir0 = header
            .directory(0)
            .ok_or("line program without directories")?;
        let working_dir = self.line_string(unit, dir0)?;
        let file0 = header.file(0).ok_or("line program without files")?;
        let name = self.line_string(unit, file0.path_name())?;
        let source_dir = match header.directory(file0.directory_index()) {
            Some(d) if file0.directory_index() != 0 => Some(self.line_string(unit, d)?),
            _ => None,
        };
        let info = file_info(header, file0);
        let mut out = LineProgram::new(
            header.encoding(),
            header.line_encoding(),
            working_dir,
            source_dir,
            name,
            info,
        );
        out.file_has_md5 = header.file_has_md5();
        Ok(out)
    }

    fn line_string(
        &mut self,
        unit: &gimli::Unit<R<'a>>,
        value: gimli::AttributeValue<R<'a>>,
    ) -> Res<write::LineString> {
        let bytes = self.dwarf.attr_string(unit, value).map_err(err)?;
        let bytes = bytes.to_slice().map_err(err)?.into_owned();
        Ok(if unit.encoding().version >= 5 {
            write::LineString::LineStringRef(self.out.line_strings.add(bytes))
        } else {
            write::LineString::String(bytes)
        })
    }

    /// Adds `unit`'s files and rows to the group's line program; returns the file map.
    fn add_lines(
        &mut self,
        unit: &gimli::Unit<R<'a>>,
        uid: write::UnitId,
    ) -> Res<Vec<Option<FileId>>> {
        let Some(program) = unit.line_program.clone() else {
            return Ok(Vec::new());
        };
        let header = program.header().clone();
        let mut files = Vec::new();
        let base = usize::from(header.version() < 5);
        for file in header.file_names() {
            let name = self.line_string(unit, file.path_name())?;
            let dir = header
                .directory(file.directory_index())
                .ok_or("bad directory index")?;
            let dir = self.line_string(unit, dir)?;
            let info = file_info(&header, file);
            let lines = &mut self.out.units.get_mut(uid).line_program;
            let dir = lines.add_directory(dir);
            files.push(Some(lines.add_file(name, dir, info)));
        }
        if base == 1 {
            // DWARF 4 numbers files from 1; index 0 names no file.
            files.insert(0, None);
        }
        let lines = &mut self.out.units.get_mut(uid).line_program;
        copy_rows(program, lines, &files)?;
        Ok(files)
    }

    fn set_root_ranges(
        &mut self,
        uid: write::UnitId,
        ranges: Vec<(u64, u64)>,
        n: usize,
    ) -> Res<()> {
        if n == 1 {
            return Ok(());
        }
        let unit = self.out.units.get_mut(uid);
        let root = unit.root();
        let list = range_list(&ranges)?;
        let id = unit.ranges.add(list);
        let entry = unit.get_mut(root);
        entry.set(
            constants::DW_AT_low_pc,
            AttributeValue::Address(Address::Constant(0)),
        );
        entry.set(constants::DW_AT_ranges, AttributeValue::RangeListRef(id));
        entry.delete(constants::DW_AT_high_pc);
        Ok(())
    }
}

/// Every input DIE, by its `.debug_info` offset, to its output unit and entry: per output
/// unit, offsets in increasing order (DIEs are reserved in the order they are read), so that a
/// lookup is two binary searches over memory read in order.
#[derive(Default)]
struct Entries {
    /// (first offset, offsets, (output unit, entry, whether this DIE makes it)): one run per
    /// input unit. A DIE that does not make its entry was found equal to one before it (see
    /// `Shared`), maybe in another output unit: its references lead to that one, and it is not
    /// written.
    runs: Vec<Run>,
}

type Run = (
    usize,
    Vec<usize>,
    Vec<(write::UnitId, write::UnitEntryId, bool)>,
);

impl Entries {
    fn push(&mut self, offset: usize, uid: write::UnitId, id: write::UnitEntryId, owner: bool) {
        match self.runs.last_mut() {
            Some((_, offsets, ids)) if offsets.last().is_some_and(|&o| o < offset) => {
                offsets.push(offset);
                ids.push((uid, id, owner));
            }
            _ => self
                .runs
                .push((offset, vec![offset], vec![(uid, id, owner)])),
        }
    }

    fn find(&self, offset: usize) -> Option<(write::UnitId, write::UnitEntryId, bool)> {
        let run = self
            .runs
            .partition_point(|r| r.0 <= offset)
            .checked_sub(1)?;
        let (_, offsets, ids) = &self.runs[run];
        let at = offsets.binary_search(&offset).ok()?;
        Some(ids[at])
    }

    fn get(&self, offset: usize) -> Option<(write::UnitId, write::UnitEntryId)> {
        self.find(offset).map(|(uid, id, _)| (uid, id))
    }
}

/// DIEs that every chunk's unit repeats and the joined unit needs once: namespaces (merged,
/// their children kept) and, at file or namespace scope, named types and declarations (a DIE
/// and all its children taken as one, when they match DIE by DIE). In one source, a name at
/// one scope, declared at one place, is one entity. In C++ that holds in the whole program
/// (the one-definition rule), outside anonymous namespaces: there one copy serves every unit,
/// as LLVM shares a type among the units of one module. (In C, two sources may give one name
/// two meanings; base types stay in every unit, since expressions refer to them.)
#[derive(Default)]
struct Shared {
    namespaces: HashMap<(write::UnitId, write::UnitEntryId, Vec<u8>), write::UnitEntryId>,
    /// A namespace's qualified name, and whether an anonymous namespace encloses it.
    scopes: HashMap<(write::UnitId, write::UnitEntryId), (Vec<u8>, bool)>,
    /// Per key, the copies kept so far (they differed in some DIE).
    types: HashMap<TypeKey, Vec<Kept>>,
    /// DIEs that took the entry of an earlier equal one.
    merged: usize,
}

/// The output unit of a kept copy, and its DIEs in order: (tag, name, entry).
type Kept = (
    write::UnitId,
    Vec<(gimli::DwTag, Vec<u8>, write::UnitEntryId)>,
);

/// Copies kept per key: a few member lists differ between chunks (members a chunk's code
/// added), and past that many the search would cost more than it saves.
const MAX_VARIANTS: usize = 8;

/// The unit for an entity of its own (`None`: shared by the whole program), the qualified name
/// of its scope, tag, name, declaring file and line, size, and whether a declaration.
type TypeKey = (
    Option<write::UnitId>,
    Vec<u8>,
    gimli::DwTag,
    Vec<u8>,
    Vec<u8>,
    u64,
    u64,
    bool,
);

enum Key {
    Namespace((write::UnitId, write::UnitEntryId, Vec<u8>)),
    Type(TypeKey),
}

/// A DIE that may equal an earlier one, with its children as they are read: (offset, tag, name).
struct Candidate {
    key: TypeKey,
    depth: isize,
    dies: Vec<(usize, gimli::DwTag, Vec<u8>)>,
}

impl Shared {
    /// Records the qualified name of a new namespace `id`, from its key.
    fn enter(
        &mut self,
        key: &(write::UnitId, write::UnitEntryId, Vec<u8>),
        id: write::UnitEntryId,
    ) {
        let (uid, parent, name) = key;
        let (mut path, anonymous) = self
            .scopes
            .get(&(*uid, *parent))
            .cloned()
            .unwrap_or_default();
        path.push(1);
        path.extend_from_slice(name);
        self.scopes
            .insert((*uid, id), (path, anonymous || name.is_empty()));
    }

    /// The key of a DIE at `place`: its output unit, scope there (the root or a namespace),
    /// and whether the unit's language follows the one-definition rule.
    #[allow(non_upper_case_globals)] // gimli's constants
    fn key(
        &self,
        dwarf: &gimli::Dwarf<R<'_>>,
        unit: &gimli::Unit<R<'_>>,
        entry: &gimli::DebuggingInformationEntry<R<'_>>,
        files: &[Vec<u8>],
        place: (write::UnitId, write::UnitEntryId, bool),
    ) -> Res<Option<Key>> {
        let (uid, scope, odr) = place;
        use constants::*;
        let tag = entry.tag();
        let name = die_name(dwarf, unit, entry)?;
        if tag == DW_TAG_namespace {
            return Ok(Some(Key::Namespace((uid, scope, name))));
        }
        let declaration = entry.attr_value(DW_AT_declaration).is_some();
        let shareable = matches!(
            tag,
            DW_TAG_structure_type
                | DW_TAG_class_type
                | DW_TAG_union_type
                | DW_TAG_enumeration_type
                | DW_TAG_typedef
                | DW_TAG_base_type
        ) || (tag == DW_TAG_subprogram && declaration);
        if !shareable || name.is_empty() {
            return Ok(None);
        }
        let number = |at| match entry.attr_value(at) {
            Some(v) => v.udata_value().unwrap_or(u64::MAX),
            None => u64::MAX,
        };
        let file = match entry.attr_value(DW_AT_decl_file) {
            Some(gimli::AttributeValue::FileIndex(i)) => {
                files.get(i as usize).cloned().unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let line = number(DW_AT_decl_line);
        let size = number(DW_AT_byte_size);
        let (path, anonymous) = self.scopes.get(&(uid, scope)).cloned().unwrap_or_default();
        let own = !odr || anonymous || tag == DW_TAG_base_type;
        Ok(Some(Key::Type((
            own.then_some(uid),
            path,
            tag,
            name,
            file,
            line,
            size,
            declaration,
        ))))
    }
}

/// Whether a unit's language has C++'s one-definition rule (DWARF 5's C++ language codes).
#[allow(non_upper_case_globals)] // gimli's constants
fn follows_odr(root: &gimli::DebuggingInformationEntry<R<'_>>) -> bool {
    use constants::*;
    matches!(
        root.attr_value(DW_AT_language),
        Some(gimli::AttributeValue::Language(
            DW_LANG_C_plus_plus
                | DW_LANG_C_plus_plus_03
                | DW_LANG_C_plus_plus_11
                | DW_LANG_C_plus_plus_14
        ))
    )
}

/// A DIE's name, and its linkage name after a NUL when it has one (empty when neither).
fn die_name(
    dwarf: &gimli::Dwarf<R<'_>>,
    unit: &gimli::Unit<R<'_>>,
    entry: &gimli::DebuggingInformationEntry<R<'_>>,
) -> Res<Vec<u8>> {
    let mut out = Vec::new();
    for at in [constants::DW_AT_name, constants::DW_AT_linkage_name] {
        if let Some(v) = entry.attr_value(at) {
            if !out.is_empty() {
                out.push(0);
            }
            out.extend_from_slice(&bytes(&dwarf.attr_string(unit, v).map_err(err)?)?);
        }
    }
    Ok(out)
}

/// The paths of a unit's files (directory, then name), by the index `DW_AT_decl_file` uses.
fn file_paths(dwarf: &gimli::Dwarf<R<'_>>, unit: &gimli::Unit<R<'_>>) -> Res<Vec<Vec<u8>>> {
    let Some(program) = &unit.line_program else {
        return Ok(Vec::new());
    };
    let header = program.header();
    let mut out = Vec::new();
    if header.version() < 5 {
        out.push(Vec::new());
    }
    for file in header.file_names() {
        let mut path = Vec::new();
        if let Some(dir) = header.directory(file.directory_index()) {
            path = bytes(&dwarf.attr_string(unit, dir).map_err(err)?)?;
            path.push(b'/');
        }
        path.extend_from_slice(&bytes(
            &dwarf.attr_string(unit, file.path_name()).map_err(err)?,
        )?);
        out.push(path);
    }
    Ok(out)
}

fn section_offset(unit: &gimli::Unit<R<'_>>, offset: gimli::UnitOffset) -> Res<usize> {
    // Only `.debug_info` is read (no `.debug_types`), so this is an offset in it.
    Ok(offset.to_unit_section_offset(unit).0)
}

fn file_info(
    header: &gimli::LineProgramHeader<R<'_>>,
    file: &gimli::FileEntry<R<'_>>,
) -> Option<write::FileInfo> {
    header.file_has_md5().then(|| write::FileInfo {
        md5: *file.md5(),
        ..Default::default()
    })
}

/// Appends the rows of `program` to `out`, sequence by sequence, with files mapped by `files`.
fn copy_rows(
    program: gimli::IncompleteLineProgram<R<'_>>,
    out: &mut LineProgram,
    files: &[Option<FileId>],
) -> Res<()> {
    let mut rows = program.rows();
    let mut base = 0;
    while let Some((_, row)) = rows.next_row().map_err(err)? {
        let at = row.address();
        if !out.in_sequence() {
            base = at;
            out.begin_sequence(Some(address(at)));
        }
        if at < base || (base & TOKEN != 0 && !same_symbol(base, at)) {
            return Err("a line sequence crosses sections".into());
        }
        if row.end_sequence() {
            out.end_sequence(at - base);
            continue;
        }
        let file = files.get(row.file_index() as usize).copied().flatten();
        let file = file.ok_or("bad file index")?;
        let r = out.row();
        r.address_offset = at - base;
        r.op_index = row.op_index();
        r.file = file;
        r.line = row.line().map_or(0, |l| l.get());
        r.column = match row.column() {
            gimli::ColumnType::LeftEdge => 0,
            gimli::ColumnType::Column(c) => c.get(),
        };
        r.discriminator = row.discriminator();
        r.is_statement = row.is_stmt();
        r.basic_block = row.basic_block();
        r.prologue_end = row.prologue_end();
        r.epilogue_begin = row.epilogue_begin();
        r.isa = row.isa();
        out.generate_row();
    }
    if out.in_sequence() {
        return Err("a line sequence without its end".into());
    }
    Ok(())
}

/// `[begin, end)` address pairs (tokens) as a range list (see `Bases`).
fn range_list(ranges: &[(u64, u64)]) -> Res<write::RangeList> {
    let mut out = Vec::new();
    let mut bases = Bases::default();
    for &(begin, end) in ranges {
        match bases.span(begin, end)? {
            Span::Absolute(begin, end) => out.push(write::Range::StartEnd { begin, end }),
            Span::Offsets {
                new_base,
                begin,
                end,
            } => {
                if let Some(address) = new_base {
                    out.push(write::Range::BaseAddress { address });
                }
                out.push(write::Range::OffsetPair { begin, end });
            }
        }
    }
    Ok(write::RangeList(out))
}

/// How an entry of a range or location list is written: with absolute addresses, or as
/// offsets from a base address, written first when it changes.
enum Span {
    Absolute(Address, Address),
    Offsets {
        new_base: Option<Address>,
        begin: u64,
        end: u64,
    },
}

/// The base address of a list being written: one per symbol, as LLVM writes them.
#[derive(Default)]
struct Bases(Option<u64>);

impl Bases {
    fn span(&mut self, begin: u64, end: u64) -> Res<Span> {
        if begin & TOKEN == 0 {
            return Ok(Span::Absolute(address(begin), address(end)));
        }
        if !same_symbol(begin, end) || end < begin {
            return Err("a range crosses sections".into());
        }
        let mut new_base = None;
        if !self.0.is_some_and(|b| same_symbol(b, begin) && b <= begin) {
            self.0 = Some(begin);
            new_base = Some(address(begin));
        }
        let base = self.0.unwrap_or(begin);
        Ok(Span::Offsets {
            new_base,
            begin: begin - base,
            end: end - base,
        })
    }
}

/// Converts the DIEs of one input unit into its group's output unit.
struct Converter<'l, 'a, 'd> {
    linker: &'l mut Linker<'a, 'd>,
    unit: &'d gimli::Unit<R<'a>>,
    uid: write::UnitId,
    files: &'l [Option<FileId>],
}

impl<'a, 'd> Converter<'_, 'a, 'd> {
    fn uref(&self) -> gimli::UnitRef<'d, R<'a>> {
        self.unit.unit_ref(self.linker.dwarf)
    }

    /// The address ranges the unit's root covers, as token pairs.
    fn unit_ranges(&self) -> Res<Vec<(u64, u64)>> {
        let mut cursor = self.unit.entries();
        let root = cursor
            .next_dfs()
            .map_err(err)?
            .ok_or("a unit without a root")?;
        let mut out = Vec::new();
        let mut ranges = self.linker.dwarf.die_ranges(self.unit, root).map_err(err)?;
        while let Some(r) = ranges.next().map_err(err)? {
            out.push((r.begin, r.end));
        }
        Ok(out)
    }

    fn convert_entries(&mut self, first: bool) -> Res<()> {
        let mut cursor = self.unit.entries();
        let mut parents: Vec<(isize, write::UnitEntryId)> = Vec::new();
        let root = self.linker.out.units.get(self.uid).root();
        while let Some(entry) = cursor.next_dfs().map_err(err)? {
            let depth = entry.depth();
            let at = section_offset(self.unit, entry.offset())?;
            let (_, id, owner) = self
                .linker
                .entries
                .find(at)
                .ok_or("a DIE without an entry")?;
            if depth == 0 {
                if first {
                    self.convert_root(entry, root)?;
                }
                parents.push((0, root));
                continue;
            }
            while parents.last().is_some_and(|&(d, _)| d >= depth) {
                parents.pop();
            }
            if !owner {
                // Written from the DIE whose entry it shares; a namespace's children still
                // belong under it.
                if entry.tag() == constants::DW_TAG_namespace {
                    parents.push((depth, id));
                }
                continue;
            }
            let parent = parents.last().ok_or("a DIE outside its unit")?.1;
            let unit = self.linker.out.units.get_mut(self.uid);
            unit.add_reserved(id, parent, entry.tag());
            self.convert_attrs(entry, id)?;
            if entry.has_children() {
                parents.push((depth, id));
            }
        }
        Ok(())
    }

    fn convert_root(
        &mut self,
        entry: &gimli::DebuggingInformationEntry<R<'a>>,
        root: write::UnitEntryId,
    ) -> Res<()> {
        self.convert_attrs(entry, root)?;
        let unit = self.linker.out.units.get_mut(self.uid);
        if !unit.line_program.is_none() {
            unit.get_mut(root)
                .set(constants::DW_AT_stmt_list, AttributeValue::LineProgramRef);
        }
        Ok(())
    }

    fn lookup(&self, offset: gimli::UnitOffset) -> Res<(write::UnitId, write::UnitEntryId)> {
        let at = section_offset(self.unit, offset)?;
        self.linker
            .entries
            .get(at)
            .ok_or_else(|| "a reference to no DIE".into())
    }

    /// A reference that must stay inside the unit (a DWARF expression's operand).
    fn local_ref(&self, offset: gimli::UnitOffset) -> Res<write::UnitEntryId> {
        match self.lookup(offset)? {
            (uid, id) if uid == self.uid => Ok(id),
            _ => Err("a unit-local reference to a DIE shared from another unit".into()),
        }
    }

    /// A reference from an attribute: unit-relative where the DIE it names is written in this
    /// unit, else to the other unit's DIE (`DW_FORM_ref_addr`).
    fn unit_ref(&self, offset: gimli::UnitOffset) -> Res<AttributeValue> {
        Ok(match self.lookup(offset)? {
            (uid, id) if uid == self.uid => AttributeValue::UnitRef(id),
            (uid, id) => AttributeValue::DebugInfoRef(DebugInfoRef::Entry(uid, id)),
        })
    }

    fn convert_attrs(
        &mut self,
        entry: &gimli::DebuggingInformationEntry<R<'a>>,
        id: write::UnitEntryId,
    ) -> Res<()> {
        for attr in entry.attrs() {
            let name = attr.name();
            let skip = [
                constants::DW_AT_sibling,
                constants::DW_AT_GNU_locviews,
                constants::DW_AT_str_offsets_base,
                constants::DW_AT_addr_base,
                constants::DW_AT_rnglists_base,
                constants::DW_AT_loclists_base,
                constants::DW_AT_stmt_list,
            ];
            if skip.contains(&name) {
                continue;
            }
            let value = self.convert_value(attr)?;
            self.linker
                .out
                .units
                .get_mut(self.uid)
                .get_mut(id)
                .set(name, value);
        }
        Ok(())
    }

    fn convert_value(&mut self, attr: &gimli::Attribute<R<'a>>) -> Res<AttributeValue> {
        use gimli::AttributeValue as V;
        if attr.form() == constants::DW_FORM_implicit_const {
            return match attr.raw_value() {
                V::Sdata(v) => Ok(AttributeValue::ImplicitConst(v)),
                _ => Err("bad implicit constant".into()),
            };
        }
        let value = attr.value();
        let unsigned = [
            constants::DW_AT_decl_line,
            constants::DW_AT_decl_column,
            constants::DW_AT_call_line,
            constants::DW_AT_call_column,
            constants::DW_AT_byte_size,
            constants::DW_AT_bit_size,
            constants::DW_AT_data_bit_offset,
            constants::DW_AT_data_member_location,
            constants::DW_AT_alignment,
            constants::DW_AT_high_pc,
        ];
        if matches!(value, V::Udata(_) | V::Sdata(_)) && !unsigned.contains(&attr.name()) {
            // A constant whose sign only its type tells (DW_AT_const_value, array bounds)
            // keeps the form LLVM chose; lines, columns, sizes and code lengths are ULEB128,
            // which takes a byte or two where LLVM's fixed forms often take two or four.
            match attr.raw_value() {
                V::Data1(v) => return Ok(AttributeValue::Data1(v)),
                V::Data2(v) => return Ok(AttributeValue::Data2(v)),
                V::Data4(v) => return Ok(AttributeValue::Data4(v)),
                V::Data8(v) => return Ok(AttributeValue::Data8(v)),
                _ => {}
            }
        }
        let uref = self.uref();
        Ok(match value {
            V::Addr(v) => AttributeValue::Address(address(v)),
            V::DebugAddrIndex(i) => AttributeValue::Address(address(uref.address(i).map_err(err)?)),
            V::Block(r) => AttributeValue::Block(bytes(&r)?),
            V::Data1(v) => AttributeValue::Data1(v),
            V::Data2(v) => AttributeValue::Data2(v),
            V::Data4(v) => AttributeValue::Data4(v),
            V::Data8(v) => AttributeValue::Data8(v),
            V::Data16(v) => AttributeValue::Data16(v),
            V::Sdata(v) => AttributeValue::Sdata(v),
            V::Udata(v) => AttributeValue::Udata(v),
            V::Flag(v) if attr.form() == constants::DW_FORM_flag_present && v => {
                AttributeValue::FlagPresent
            }
            V::Flag(v) => AttributeValue::Flag(v),
            V::String(r) => AttributeValue::String(bytes(&r)?),
            V::Exprloc(e) if attr.name() == constants::DW_AT_vtable_elem_location => {
                AttributeValue::Exprloc(Expression::raw(bytes(&e.0)?))
            }
            V::Exprloc(e) => AttributeValue::Exprloc(self.convert_expression(e)?),
            V::UnitRef(o) => self.unit_ref(o)?,
            V::DebugInfoRef(o) => self.info_ref(o)?,
            V::LocationListsRef(o) => self.location_list(o)?,
            V::DebugLocListsIndex(i) => {
                self.location_list(uref.locations_offset(i).map_err(err)?)?
            }
            V::RangeListsRef(o) => self.range_list_value(uref.ranges_offset_from_raw(o))?,
            V::DebugRngListsIndex(i) => {
                self.range_list_value(uref.ranges_offset(i).map_err(err)?)?
            }
            v @ (V::DebugStrRef(_) | V::DebugStrOffsetsIndex(_)) => {
                let s = bytes(&uref.attr_string(v).map_err(err)?)?;
                AttributeValue::StringRef(self.linker.out.strings.add(s))
            }
            v @ V::DebugLineStrRef(_) => {
                let s = bytes(&uref.attr_string(v).map_err(err)?)?;
                AttributeValue::LineStringRef(self.linker.out.line_strings.add(s))
            }
            V::FileIndex(i) => self.file_index(i)?,
            V::Encoding(v) => AttributeValue::Encoding(v),
            V::DecimalSign(v) => AttributeValue::DecimalSign(v),
            V::Endianity(v) => AttributeValue::Endianity(v),
            V::Accessibility(v) => AttributeValue::Accessibility(v),
            V::Visibility(v) => AttributeValue::Visibility(v),
            V::Virtuality(v) => AttributeValue::Virtuality(v),
            V::Language(v) => AttributeValue::Language(v),
            V::AddressClass(v) => AttributeValue::AddressClass(v),
            V::IdentifierCase(v) => AttributeValue::IdentifierCase(v),
            V::CallingConvention(v) => AttributeValue::CallingConvention(v),
            V::Inline(v) => AttributeValue::Inline(v),
            V::Ordering(v) => AttributeValue::Ordering(v),
            other => return Err(format!("attribute {} with value {other:?}", attr.name())),
        })
    }

    fn file_index(&self, index: u64) -> Res<AttributeValue> {
        if index == 0 && self.unit.encoding().version <= 4 {
            return Ok(AttributeValue::FileIndex(None));
        }
        let file = self.files.get(index as usize).copied().flatten();
        Ok(AttributeValue::FileIndex(Some(
            file.ok_or("bad file index")?,
        )))
    }

    fn info_ref(&self, offset: gimli::DebugInfoOffset) -> Res<AttributeValue> {
        Ok(match self.debug_info_ref(offset)? {
            DebugInfoRef::Entry(uid, id) if uid == self.uid => AttributeValue::UnitRef(id),
            other => AttributeValue::DebugInfoRef(other),
        })
    }

    fn debug_info_ref(&self, offset: gimli::DebugInfoOffset) -> Res<DebugInfoRef> {
        let (uid, id) = self
            .linker
            .entries
            .get(offset.0)
            .ok_or("a reference to no DIE")?;
        Ok(DebugInfoRef::Entry(uid, id))
    }

    fn range_list_value(&mut self, offset: gimli::RangeListsOffset) -> Res<AttributeValue> {
        let mut iter = self.uref().ranges(offset).map_err(err)?;
        let mut ranges = Vec::new();
        while let Some(r) = iter.next().map_err(err)? {
            ranges.push((r.begin, r.end));
        }
        let list = range_list(&ranges)?;
        let id = self.linker.out.units.get_mut(self.uid).ranges.add(list);
        Ok(AttributeValue::RangeListRef(id))
    }

    fn location_list(&mut self, offset: gimli::LocationListsOffset) -> Res<AttributeValue> {
        let mut iter = self.uref().locations(offset).map_err(err)?;
        let mut out = Vec::new();
        let mut bases = Bases::default();
        while let Some(entry) = iter.next().map_err(err)? {
            let data = self.convert_expression(entry.data)?;
            match bases.span(entry.range.begin, entry.range.end)? {
                Span::Absolute(begin, end) => {
                    out.push(write::Location::StartEnd { begin, end, data })
                }
                Span::Offsets {
                    new_base,
                    begin,
                    end,
                } => {
                    if let Some(address) = new_base {
                        out.push(write::Location::BaseAddress { address });
                    }
                    out.push(write::Location::OffsetPair { begin, end, data });
                }
            }
        }
        let list = write::LocationList(out);
        let id = self.linker.out.units.get_mut(self.uid).locations.add(list);
        Ok(AttributeValue::LocationListRef(id))
    }

    /// Rebuilds a DWARF expression with addresses as relocations and DIE references mapped to
    /// the output unit.
    fn convert_expression(&self, expression: gimli::Expression<R<'a>>) -> Res<Expression> {
        use gimli::Operation as O;
        let encoding = self.unit.encoding();
        let whole = expression.0.to_slice().map_err(err)?;
        let place = self.linker.input.locate(&whole);
        let mut rest = expression.0.clone();
        let mut out = Expression::new();
        while !rest.is_empty() {
            let at = whole.len() - rest.len();
            let op = gimli::Operation::parse(&mut rest, encoding).map_err(err)?;
            let size = whole.len() - rest.len() - at;
            let tls = match op {
                gimli::Operation::UnsignedConstant { .. } => {
                    tls_offset(place, &whole[at..at + size], at)
                }
                _ => None,
            };
            if let Some(address) = tls {
                out.op_addr(address);
                continue;
            }
            match op {
                O::Deref { space: true, .. } => return Err("DW_OP_xderef".into()),
                O::Deref {
                    base_type, size, ..
                } if base_type.0 != 0 => out.op_deref_type(size, self.local_ref(base_type)?),
                O::Deref { size, .. } if size == encoding.address_size => out.op_deref(),
                O::Deref { size, .. } => out.op_deref_size(size),
                O::Pick { index: 0 } => out.op(constants::DW_OP_dup),
                O::Pick { index: 1 } => out.op(constants::DW_OP_over),
                O::Pick { index } => out.op_pick(index),
                O::PlusConstant { value } => out.op_plus_uconst(value),
                O::UnsignedConstant { value } => out.op_constu(value),
                O::SignedConstant { value } => out.op_consts(value),
                O::Register { register } => out.op_reg(register),
                O::RegisterOffset {
                    register,
                    offset,
                    base_type,
                } if base_type.0 == 0 => out.op_breg(register, offset),
                O::RegisterOffset {
                    register,
                    base_type,
                    ..
                } => out.op_regval_type(register, self.local_ref(base_type)?),
                O::FrameOffset { offset } => out.op_fbreg(offset),
                O::Piece {
                    size_in_bits,
                    bit_offset: None,
                } => out.op_piece(size_in_bits / 8),
                O::Piece {
                    size_in_bits,
                    bit_offset: Some(o),
                } => out.op_bit_piece(size_in_bits, o),
                O::ImplicitValue { data } => out.op_implicit_value(bytes(&data)?.into()),
                O::ImplicitPointer { value, byte_offset } => {
                    out.op_implicit_pointer(self.debug_info_ref(value)?, byte_offset)
                }
                O::EntryValue { expression } => {
                    out.op_entry_value(self.convert_expression(gimli::Expression(expression))?)
                }
                O::ParameterRef { offset } => out.op_gnu_parameter_ref(self.local_ref(offset)?),
                O::Address { address: a } => out.op_addr(address(a)),
                O::AddressIndex { index } => {
                    out.op_addr(address(self.uref().address(index).map_err(err)?))
                }
                O::TypedLiteral { base_type, value } => {
                    out.op_const_type(self.local_ref(base_type)?, bytes(&value)?.into())
                }
                O::Convert { base_type } => {
                    let base = (base_type.0 != 0)
                        .then(|| self.local_ref(base_type))
                        .transpose()?;
                    out.op_convert(base)
                }
                O::Reinterpret { base_type } => {
                    let base = (base_type.0 != 0)
                        .then(|| self.local_ref(base_type))
                        .transpose()?;
                    out.op_reinterpret(base)
                }
                simple => out.op(simple_opcode(&simple).ok_or_else(|| format!("{simple:?}"))?),
            }
        }
        Ok(out)
    }
}

/// A `DW_OP_const8u` whose operand is a thread-local variable's offset (`R_X86_64_DTPOFF64`),
/// as the address `emit` writes back as such; `place` is the expression's section and offset,
/// `op` the operation's bytes, `at` their offset in the expression.
fn tls_offset(place: Option<(&Relocs, usize)>, op: &[u8], at: usize) -> Option<Address> {
    let (relocs, start) = place?;
    if op.len() != 9 || op[0] != constants::DW_OP_const8u.0 {
        return None;
    }
    let rela = relocs.take(start + at + 1, elf::R_X86_64_DTPOFF64)?;
    Some(Address::Symbol {
        symbol: rela.symbol as usize | TLS,
        addend: rela.addend,
    })
}

/// The opcode of an operation without operands.
fn simple_opcode(op: &gimli::Operation<R<'_>>) -> Option<constants::DwOp> {
    use constants::*;
    use gimli::Operation as O;
    Some(match op {
        O::Drop => DW_OP_drop,
        O::Swap => DW_OP_swap,
        O::Rot => DW_OP_rot,
        O::Abs => DW_OP_abs,
        O::And => DW_OP_and,
        O::Div => DW_OP_div,
        O::Minus => DW_OP_minus,
        O::Mod => DW_OP_mod,
        O::Mul => DW_OP_mul,
        O::Neg => DW_OP_neg,
        O::Not => DW_OP_not,
        O::Or => DW_OP_or,
        O::Plus => DW_OP_plus,
        O::Shl => DW_OP_shl,
        O::Shr => DW_OP_shr,
        O::Shra => DW_OP_shra,
        O::Xor => DW_OP_xor,
        O::Eq => DW_OP_eq,
        O::Ge => DW_OP_ge,
        O::Gt => DW_OP_gt,
        O::Le => DW_OP_le,
        O::Lt => DW_OP_lt,
        O::Ne => DW_OP_ne,
        O::Nop => DW_OP_nop,
        O::PushObjectAddress => DW_OP_push_object_address,
        O::TLS => DW_OP_form_tls_address,
        O::CallFrameCFA => DW_OP_call_frame_cfa,
        O::StackValue => DW_OP_stack_value,
        _ => return None,
    })
}

fn bytes(r: &R<'_>) -> Res<Vec<u8>> {
    Ok(r.to_slice().map_err(err)?.into_owned())
}

// ---- Writing ----

/// A section's bytes and the relocations the writer recorded.
#[derive(Clone)]
struct Writer {
    data: write::EndianVec<LittleEndian>,
    relocs: Vec<write::Relocation>,
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            data: write::EndianVec::new(LittleEndian),
            relocs: Vec::new(),
        }
    }
}

impl write::RelocateWriter for Writer {
    type Writer = write::EndianVec<LittleEndian>;
    fn writer(&self) -> &Self::Writer {
        &self.data
    }
    fn writer_mut(&mut self) -> &mut Self::Writer {
        &mut self.data
    }
    fn relocate(&mut self, relocation: write::Relocation) {
        self.relocs.push(relocation);
    }
}

/// Puts the written sections into the object: existing debug sections get new bytes (empty
/// when nothing was written for them) and their relocation sections new entries. A section
/// the input lacks (`.debug_rnglists`, when each chunk's unit had one address range) takes the
/// place of one the output no longer needs (`.debug_addr`, `.debug_str_offsets`), renamed:
/// that keeps its section symbol, which relocations need, and adding a local symbol would
/// renumber every global one.
fn emit(obj: &Object<'_>, sections: &write::Sections<Writer>) -> Res<Vec<u8>> {
    let mut written: HashMap<&str, &Writer> = HashMap::new();
    sections
        .for_each(|id, w| {
            if !w.data.slice().is_empty() {
                written.insert(id.name(), w);
            }
            Ok::<(), gimli::write::Error>(())
        })
        .map_err(|e| e.to_string())?;
    let placement = place_sections(obj, &written)?;
    // Looked up once per section: the symbol table is scanned, and there are millions of
    // relocations.
    let symbols: Vec<(&str, Option<u32>)> = placement
        .iter()
        .map(|&(name, i)| (name, obj.section_symbol(i)))
        .collect();
    let mut replace = Vec::new();
    let mut add = Vec::new();
    let mut renames = Vec::new();
    for (name, index) in &placement {
        let (data, relocs) = match written.get(name) {
            Some(w) => (tls_opcodes(w)?, relocations(&w.relocs, &symbols)?),
            None => (Vec::new(), Vec::new()),
        };
        replace.push((*index, data));
        let rela_name = format!(".rela{name}");
        if obj.sections[*index].name != *name {
            renames.push((*index, name.to_string()));
        }
        match obj.rela_section_for(*index)? {
            Some(r) => {
                replace.push((r, elf::encode_relas(&relocs)));
                if obj.sections[r].name != rela_name {
                    renames.push((r, rela_name));
                }
            }
            None if relocs.is_empty() => {}
            None => add.push((
                obj.new_section(&rela_name, Some(*index)),
                elf::encode_relas(&relocs),
            )),
        }
    }
    Ok(obj.rewrite(&replace, &add, &renames))
}

/// Which section of the object each debug section goes to: its own, or a spare one.
fn place_sections(
    obj: &Object<'_>,
    written: &HashMap<&str, &Writer>,
) -> Res<Vec<(&'static str, usize)>> {
    let mut placement: Vec<(&'static str, usize)> = KNOWN
        .iter()
        .filter_map(|name| Some((*name, obj.find(name)?)))
        .collect();
    let mut spares: Vec<usize> = placement
        .iter()
        .filter(|(name, _)| !written.contains_key(name))
        .map(|&(_, i)| i)
        .collect();
    for name in KNOWN {
        if written.contains_key(name) && obj.find(name).is_none() {
            let spare = spares.pop().ok_or_else(|| format!("no room for {name}"))?;
            let slot = placement
                .iter_mut()
                .find(|(_, i)| *i == spare)
                .ok_or("lost a section")?;
            slot.0 = name;
        }
    }
    Ok(placement)
}

/// A section's bytes, with each thread-local offset, which gimli wrote as `DW_OP_addr`, turned
/// back into the `DW_OP_const8u` it was (same size: one opcode, eight bytes).
fn tls_opcodes(w: &Writer) -> Res<Vec<u8>> {
    let mut data = w.data.slice().to_vec();
    for r in &w.relocs {
        let tls = matches!(r.target, write::RelocationTarget::Symbol(s) if s & TLS != 0);
        if tls {
            let opcode = r.offset.checked_sub(1).and_then(|at| data.get_mut(at));
            match opcode {
                Some(op) if *op == constants::DW_OP_addr.0 && r.size == 8 => {
                    *op = constants::DW_OP_const8u.0
                }
                _ => return Err("a thread-local offset outside an expression".into()),
            }
        }
    }
    Ok(data)
}

fn relocations(relocs: &[write::Relocation], symbols: &[(&str, Option<u32>)]) -> Res<Vec<Rela>> {
    let mut out = Vec::with_capacity(relocs.len());
    for r in relocs {
        let kind = match r.size {
            8 => elf::R_X86_64_64,
            4 => elf::R_X86_64_32,
            n => return Err(format!("a relocation of {n} bytes")),
        };
        let (symbol, kind) = match r.target {
            write::RelocationTarget::Symbol(s) if s & TLS != 0 => {
                ((s & !TLS) as u32, elf::R_X86_64_DTPOFF64)
            }
            write::RelocationTarget::Symbol(s) => (s as u32, kind),
            write::RelocationTarget::Section(id) => {
                let symbol = symbols
                    .iter()
                    .find(|(name, _)| *name == id.name())
                    .and_then(|&(_, s)| s)
                    .ok_or_else(|| format!("no section symbol for {}", id.name()))?;
                (symbol, kind)
            }
        };
        out.push(Rela {
            offset: r.offset as u64,
            symbol,
            kind,
            addend: r.addend,
        });
    }
    Ok(out)
}
