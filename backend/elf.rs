//! Just enough of 64-bit little-endian ELF relocatable objects (x86-64) to replace some sections
//! and their relocations: the debug-info linker (`dwarf`) reads the `.debug_*` sections of the
//! joined object and writes new ones. Every other section, the symbol table and every section
//! index stay as they were, so the relocations of code, COMDAT groups and address-significance
//! tables keep pointing where they pointed.

pub const R_X86_64_64: u32 = 1;
pub const R_X86_64_32: u32 = 10;
pub const R_X86_64_DTPOFF64: u32 = 17;
const SHT_RELA: u32 = 4;
const SHT_NOBITS: u32 = 8;
const SHT_REL: u32 = 9;
const SHT_SYMTAB_SHNDX: u32 = 18;
const SHN_XINDEX: u16 = 0xffff;
const SHN_LORESERVE: usize = 0xff00;
const SHF_INFO_LINK: u64 = 0x40;
const STT_SECTION: u8 = 3;
const HEADER_SIZE: usize = 64;
const SECTION_HEADER_SIZE: usize = 64;
const SYMBOL_SIZE: usize = 24;
const RELA_SIZE: usize = 24;

/// One section header, as in the file.
#[derive(Clone, Debug)]
pub struct Section {
    pub name: String,
    name_offset: u32,
    pub kind: u32,
    flags: u64,
    offset: u64,
    size: u64,
    link: u32,
    info: u32,
    align: u64,
    entsize: u64,
}

/// A relocation with an explicit addend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rela {
    pub offset: u64,
    pub symbol: u32,
    pub kind: u32,
    pub addend: i64,
}

/// What a symbol-table entry says that the debug-info linker needs.
#[derive(Clone, Copy, Debug)]
pub struct Symbol {
    pub is_section: bool,
    pub section: u32,
    pub value: u64,
}

/// A parsed relocatable object. `data` is borrowed: sections are read in place.
pub struct Object<'a> {
    data: &'a [u8],
    pub sections: Vec<Section>,
    shstrndx: usize,
    symtab: usize,
    /// The extended section indices of the symbols (`SHT_SYMTAB_SHNDX`), if any.
    shndx: Option<usize>,
}

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

impl<'a> Object<'a> {
    /// Parses the section headers of an x86-64 relocatable object; `None` for anything else.
    pub fn parse(data: &'a [u8]) -> Option<Object<'a>> {
        let ident_ok = data.get(..6) == Some(&[0x7f, b'E', b'L', b'F', 2, 1]);
        if !ident_ok || u16_at(data, 0x10)? != 1 || u16_at(data, 0x12)? != 62 {
            return None;
        }
        let shoff = u64_at(data, 0x28)? as usize;
        // Past 0xff00 sections, the counts live in the first section header.
        let mut shnum = u16_at(data, 0x3c)? as usize;
        if shnum == 0 {
            shnum = u64_at(data, shoff + 32)? as usize;
        }
        let mut shstrndx = u16_at(data, 0x3e)? as usize;
        if shstrndx == SHN_XINDEX as usize {
            shstrndx = u32_at(data, shoff + 40)? as usize;
        }
        if u16_at(data, 0x3a)? as usize != SECTION_HEADER_SIZE || shnum == 0 || shstrndx >= shnum {
            return None;
        }
        let mut sections = Vec::with_capacity(shnum);
        for i in 0..shnum {
            let h = shoff + i * SECTION_HEADER_SIZE;
            sections.push(Section {
                name: String::new(),
                name_offset: u32_at(data, h)?,
                kind: u32_at(data, h + 4)?,
                flags: u64_at(data, h + 8)?,
                offset: u64_at(data, h + 24)?,
                size: u64_at(data, h + 32)?,
                link: u32_at(data, h + 40)?,
                info: u32_at(data, h + 44)?,
                align: u64_at(data, h + 48)?,
                entsize: u64_at(data, h + 56)?,
            });
        }
        let symtab = sections.iter().position(|s| s.kind == 2)?;
        let shndx = sections.iter().position(|s| s.kind == SHT_SYMTAB_SHNDX);
        let mut object = Object {
            data,
            sections,
            shstrndx,
            symtab,
            shndx,
        };
        let names = object.section_data(shstrndx)?;
        let mut named = Vec::with_capacity(shnum);
        for s in &object.sections {
            let start = names.get(s.name_offset as usize..)?;
            let end = start.iter().position(|&b| b == 0)?;
            named.push(String::from_utf8_lossy(&start[..end]).into_owned());
        }
        for (s, name) in object.sections.iter_mut().zip(named) {
            s.name = name;
        }
        Some(object)
    }

    /// The bytes of section `index` (empty for `SHT_NOBITS`).
    pub fn section_data(&self, index: usize) -> Option<&'a [u8]> {
        let s = self.sections.get(index)?;
        if s.kind == SHT_NOBITS {
            return Some(&[]);
        }
        self.data
            .get(s.offset as usize..(s.offset + s.size) as usize)
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.sections.iter().position(|s| s.name == name)
    }

    /// The relocation section that applies to section `index`: `Ok(None)` when it has none,
    /// `Err` when it uses implicit addends (`SHT_REL`), which the linker does not handle.
    pub fn rela_section_for(&self, index: usize) -> Result<Option<usize>, String> {
        let target = |s: &Section| s.info as usize == index && s.flags & SHF_INFO_LINK != 0;
        if let Some(s) = self
            .sections
            .iter()
            .find(|s| s.kind == SHT_REL && target(s))
        {
            return Err(format!("{} has implicit addends", s.name));
        }
        Ok(self
            .sections
            .iter()
            .position(|s| s.kind == SHT_RELA && s.link as usize == self.symtab && target(s)))
    }

    pub fn relocations(&self, rela: usize) -> Option<Vec<Rela>> {
        let d = self.section_data(rela)?;
        let mut out = Vec::with_capacity(d.len() / RELA_SIZE);
        for r in d.chunks_exact(RELA_SIZE) {
            let info = u64_at(r, 8)?;
            out.push(Rela {
                offset: u64_at(r, 0)?,
                symbol: (info >> 32) as u32,
                kind: info as u32,
                addend: u64_at(r, 16)? as i64,
            });
        }
        Some(out)
    }

    pub fn symbol(&self, index: u32) -> Option<Symbol> {
        let at = index as usize * SYMBOL_SIZE;
        let table = self.section_data(self.symtab)?;
        let s = table.get(at..at + SYMBOL_SIZE)?;
        let mut section = u32::from(u16_at(s, 6)?);
        if section == u32::from(SHN_XINDEX) {
            section = u32_at(self.section_data(self.shndx?)?, index as usize * 4)?;
        }
        Some(Symbol {
            is_section: s[4] & 0xf == STT_SECTION,
            section,
            value: u64_at(s, 8)?,
        })
    }

    /// The symbol that stands for section `index` itself (`STT_SECTION`), if the table has one.
    pub fn section_symbol(&self, index: usize) -> Option<u32> {
        let count = self.section_data(self.symtab)?.len() / SYMBOL_SIZE;
        (1..count as u32).find(|&i| {
            self.symbol(i)
                .is_some_and(|s| s.is_section && s.section as usize == index)
        })
    }

    /// Writes the object again with new contents for some sections (`replace`: index and bytes),
    /// new names for some (`renames`) and new sections added at the end (`add`: header template
    /// and bytes), dropping bytes no header refers to any more.
    pub fn rewrite(
        &self,
        replace: &[(usize, Vec<u8>)],
        add: &[(Section, Vec<u8>)],
        renames: &[(usize, String)],
    ) -> Vec<u8> {
        let mut sections = self.sections.clone();
        let mut names = self.section_data(self.shstrndx).unwrap_or(&[]).to_vec();
        for (index, name) in renames {
            sections[*index].name_offset = names.len() as u32;
            sections[*index].name = name.clone();
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        for (header, _) in add {
            let mut header = header.clone();
            header.name_offset = names.len() as u32;
            names.extend_from_slice(header.name.as_bytes());
            names.push(0);
            sections.push(header);
        }
        let mut out = self.data[..HEADER_SIZE].to_vec();
        for (index, section) in sections.iter_mut().enumerate().skip(1) {
            if section.kind == SHT_NOBITS {
                section.offset = out.len() as u64;
                continue;
            }
            let bytes: &[u8] = if index == self.shstrndx {
                &names
            } else if let Some((_, b)) = replace.iter().find(|(i, _)| *i == index) {
                b
            } else if index >= self.sections.len() {
                &add[index - self.sections.len()].1
            } else {
                self.section_data(index).unwrap_or(&[])
            };
            pad_to(&mut out, section.align.max(1) as usize);
            section.offset = out.len() as u64;
            section.size = bytes.len() as u64;
            out.extend_from_slice(bytes);
        }
        pad_to(&mut out, 8);
        let shoff = out.len() as u64;
        for s in &sections {
            write_section_header(&mut out, s);
        }
        out[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        let count = sections.len();
        if count >= SHN_LORESERVE {
            out[0x3c..0x3e].copy_from_slice(&0u16.to_le_bytes());
            let size_at = shoff as usize + 32;
            out[size_at..size_at + 8].copy_from_slice(&(count as u64).to_le_bytes());
        } else {
            out[0x3c..0x3e].copy_from_slice(&(count as u16).to_le_bytes());
        }
        out
    }

    /// A header for a new section: debug data (`rela_for: None`), or the relocations of section
    /// `rela_for`.
    pub fn new_section(&self, name: &str, rela_for: Option<usize>) -> Section {
        let strings = name == ".debug_str" || name == ".debug_line_str";
        Section {
            name: name.to_string(),
            name_offset: 0,
            kind: if rela_for.is_some() { SHT_RELA } else { 1 },
            flags: match rela_for {
                Some(_) => SHF_INFO_LINK,
                None if strings => 0x30,
                None => 0,
            },
            offset: 0,
            size: 0,
            link: if rela_for.is_some() {
                self.symtab as u32
            } else {
                0
            },
            info: rela_for.unwrap_or(0) as u32,
            align: if rela_for.is_some() { 8 } else { 1 },
            entsize: match rela_for {
                Some(_) => RELA_SIZE as u64,
                None => u64::from(strings),
            },
        }
    }
}

fn pad_to(out: &mut Vec<u8>, align: usize) {
    while !out.len().is_multiple_of(align) {
        out.push(0);
    }
}

fn write_section_header(out: &mut Vec<u8>, s: &Section) {
    out.extend_from_slice(&s.name_offset.to_le_bytes());
    out.extend_from_slice(&s.kind.to_le_bytes());
    out.extend_from_slice(&s.flags.to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
    out.extend_from_slice(&s.offset.to_le_bytes());
    out.extend_from_slice(&s.size.to_le_bytes());
    out.extend_from_slice(&s.link.to_le_bytes());
    out.extend_from_slice(&s.info.to_le_bytes());
    out.extend_from_slice(&s.align.to_le_bytes());
    out.extend_from_slice(&s.entsize.to_le_bytes());
}

/// Encodes relocations as an `SHT_RELA` section's bytes.
pub fn encode_relas(relas: &[Rela]) -> Vec<u8> {
    let mut out = Vec::with_capacity(relas.len() * RELA_SIZE);
    for r in relas {
        out.extend_from_slice(&r.offset.to_le_bytes());
        out.extend_from_slice(&((u64::from(r.symbol) << 32) | u64::from(r.kind)).to_le_bytes());
        out.extend_from_slice(&r.addend.to_le_bytes());
    }
    out
}
