//! The ELF reader: a static i386 Linux executable (ET_EXEC or static PIE) as the
//! segments to load, refused with the byte offset of what is wrong.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// Where a static PIE is placed, as Linux places it for i386.
pub const PIE_BASE: u32 = 0x5655_5000;

/// A loadable segment (PT_LOAD), already relocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// First virtual address.
    pub vaddr: u32,
    /// Bytes in memory (the tail past the file bytes is zero).
    pub mem_size: u32,
    /// Offset of its bytes in the file.
    pub file_offset: u32,
    /// Bytes in the file.
    pub file_size: u32,
    /// PF_W.
    pub writable: bool,
    /// PF_X.
    pub executable: bool,
}

/// A program ready to load.
#[derive(Clone, Debug)]
pub struct Program {
    /// Entry point (relocated).
    pub entry: u32,
    /// The load bias (0 for ET_EXEC).
    pub bias: u32,
    /// Address of the program headers in memory (for AT_PHDR).
    pub phdr: u32,
    /// Number of program headers.
    pub phnum: u32,
    /// The segments.
    pub segments: Vec<Segment>,
}

/// Why a file is not a program vmlab can run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElfError {
    /// Byte offset in the file where the problem is.
    pub offset: usize,
    /// What is wrong.
    pub reason: String,
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ELF: at byte {:#x}: {}", self.offset, self.reason)
    }
}

fn err<T>(offset: usize, reason: impl Into<String>) -> Result<T, ElfError> {
    Err(ElfError {
        offset,
        reason: reason.into(),
    })
}

fn u16_at(b: &[u8], at: usize, what: &str) -> Result<u16, ElfError> {
    match b.get(at..at + 2) {
        Some(s) => Ok(u16::from_le_bytes([s[0], s[1]])),
        None => err(at, format!("the file ends inside {what}")),
    }
}

fn u32_at(b: &[u8], at: usize, what: &str) -> Result<u32, ElfError> {
    match b.get(at..at + 4) {
        Some(s) => Ok(u32::from_le_bytes([s[0], s[1], s[2], s[3]])),
        None => err(at, format!("the file ends inside {what}")),
    }
}

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;

/// Reads `file` as a static i386 Linux executable.
pub fn parse(file: &[u8]) -> Result<Program, ElfError> {
    if file.len() < 4 || &file[..4] != b"\x7fELF" {
        return err(0, "not an ELF file (the magic is not 7F 'E' 'L' 'F')");
    }
    if file.len() < 52 {
        return err(file.len(), "the file ends inside the 52-byte ELF header");
    }
    if file[4] != 1 {
        return err(4, "not a 32-bit ELF file (EI_CLASS is not ELFCLASS32)");
    }
    if file[5] != 1 {
        return err(5, "not little-endian (EI_DATA is not ELFDATA2LSB)");
    }
    let etype = u16_at(file, 16, "e_type")?;
    let machine = u16_at(file, 18, "e_machine")?;
    if machine != 3 {
        return err(18, format!("e_machine is {machine}, not EM_386 (3)"));
    }
    let pie = match etype {
        2 => false,
        3 => true,
        t => {
            return err(
                16,
                format!("e_type is {t}: only executables (2) and static PIEs (3) run"),
            )
        }
    };
    let entry = u32_at(file, 24, "e_entry")?;
    let phoff = u32_at(file, 28, "e_phoff")? as usize;
    let phentsize = u16_at(file, 42, "e_phentsize")? as usize;
    let phnum = u16_at(file, 44, "e_phnum")? as usize;
    if phnum == 0 {
        return err(44, "no program headers");
    }
    if phentsize != 32 {
        return err(42, format!("e_phentsize is {phentsize}, not 32"));
    }
    let bias = if pie { PIE_BASE } else { 0 };
    let mut segments = Vec::new();
    let mut phdr = None;
    let mut has_dynamic = false;
    for i in 0..phnum {
        let at = phoff
            .checked_add(i * 32)
            .filter(|a| a.checked_add(32).is_some_and(|e| e <= file.len()))
            .map_or_else(
                || {
                    err(
                        phoff.saturating_add(i * 32),
                        format!("program header {i} lies past the end of the file"),
                    )
                },
                Ok,
            )?;
        let typ = u32_at(file, at, "p_type")?;
        let offset = u32_at(file, at + 4, "p_offset")?;
        let vaddr = u32_at(file, at + 8, "p_vaddr")?;
        let filesz = u32_at(file, at + 16, "p_filesz")?;
        let memsz = u32_at(file, at + 20, "p_memsz")?;
        let flags = u32_at(file, at + 24, "p_flags")?;
        match typ {
            PT_INTERP => {
                return err(
                    at,
                    "the program is dynamically linked (it has PT_INTERP); build it with -static",
                )
            }
            PT_DYNAMIC => has_dynamic = true,
            PT_PHDR => phdr = Some(vaddr.wrapping_add(bias)),
            PT_LOAD => {
                if filesz > memsz {
                    return err(
                        at + 16,
                        format!(
                            "segment {i}: p_filesz {filesz:#x} is larger than p_memsz {memsz:#x}"
                        ),
                    );
                }
                if offset as usize > file.len() || file.len() - (offset as usize) < filesz as usize
                {
                    return err(at + 4, format!("segment {i}: its bytes {offset:#x}+{filesz:#x} lie past the end of the file ({:#x})", file.len()));
                }
                let start = vaddr.wrapping_add(bias);
                if start
                    .checked_add(memsz)
                    .is_none_or(|end| end > crate::space::USER_TOP)
                {
                    return err(
                        at + 8,
                        format!(
                            "segment {i}: {start:#x}+{memsz:#x} reaches past user space ({:#x})",
                            crate::space::USER_TOP
                        ),
                    );
                }
                if start < crate::space::USER_BOTTOM {
                    return err(
                        at + 8,
                        format!(
                            "segment {i}: {start:#x} is below the lowest user address {:#x}",
                            crate::space::USER_BOTTOM
                        ),
                    );
                }
                segments.push(Segment {
                    vaddr: start,
                    mem_size: memsz,
                    file_offset: offset,
                    file_size: filesz,
                    writable: flags & 2 != 0,
                    executable: flags & 1 != 0,
                });
            }
            _ => {}
        }
    }
    if pie && !has_dynamic {
        return err(16, "an ET_DYN file without PT_DYNAMIC is not a static PIE");
    }
    if segments.is_empty() {
        return err(28, "no PT_LOAD segment");
    }
    // AT_PHDR: the headers' address in memory, from the segment that maps file offset e_phoff.
    let phdr = phdr
        .or_else(|| {
            segments.iter().find_map(|s| {
                let o = phoff as u32;
                (o >= s.file_offset && o - s.file_offset < s.file_size)
                    .then(|| s.vaddr + (o - s.file_offset))
            })
        })
        .unwrap_or(0);
    let entry = entry.wrapping_add(bias);
    if !segments
        .iter()
        .any(|s| s.executable && entry >= s.vaddr && entry - s.vaddr < s.mem_size)
    {
        return err(
            24,
            format!("the entry point {entry:#x} is in no executable segment"),
        );
    }
    Ok(Program {
        entry,
        bias,
        phdr,
        phnum: phnum as u32,
        segments,
    })
}
