//! The Multiboot (v1) loader: parses an ELF32 or a.out-kludge kernel into a [`LoadPlan`]
//! of segments, entry point and Multiboot information block, as QEMU's `-kernel` does.
//!
//! Parsing never panics and never trusts a size or an offset from the image: every
//! refusal is a [`HostError::BadImage`] naming the byte offset where the image went
//! wrong.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use serde::{Deserialize, Serialize};

use crate::error::HostError;
use crate::state::{cr0, flags, Gpr};

/// The magic value in the Multiboot header.
pub const MULTIBOOT_HEADER_MAGIC: u32 = 0x1bad_b002;
/// The value EAX holds when a Multiboot loader enters the kernel.
pub const MULTIBOOT_BOOTLOADER_MAGIC: u32 = 0x2bad_b002;
/// The header must lie, 4-byte aligned, within this many bytes of the file's start.
pub const MULTIBOOT_SEARCH: usize = 8192;

/// Header flag: align modules on page boundaries (there are no modules).
const FLAG_PAGE_ALIGN: u32 = 1 << 0;
/// Header flag: the kernel wants memory information.
const FLAG_MEMORY_INFO: u32 = 1 << 1;
/// Header flag: the kernel wants a video mode table (none is given).
const FLAG_VIDEO_MODE: u32 = 1 << 2;
/// Header flag: the address fields of the header are valid (a.out kludge).
const FLAG_AOUT_KLUDGE: u32 = 1 << 16;

/// Info flag bits (the `flags` word of the Multiboot information structure).
pub mod info_flags {
    /// `mem_lower` and `mem_upper` are valid.
    pub const MEMORY: u32 = 1 << 0;
    /// `cmdline` is valid.
    pub const CMDLINE: u32 = 1 << 2;
    /// `mmap_length` and `mmap_addr` are valid.
    pub const MMAP: u32 = 1 << 6;
    /// `boot_loader_name` is valid.
    pub const LOADER_NAME: u32 = 1 << 9;
}

/// Where the loader puts the information block (with its GDT, memory map, command
/// line and loader name) unless the kernel occupies that memory.
pub const INFO_BASE: u32 = 0x9000;
/// The name reported in `boot_loader_name`.
pub const LOADER_NAME: &str = "vmlab";
/// The longest command line accepted, in bytes.
pub const MAX_CMDLINE: usize = 4096;

/// A piece of the image to copy into guest memory, followed by zeroes.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LoadSegment {
    /// Physical address of the first byte.
    pub paddr: u32,
    /// Offset of the bytes in the image.
    pub file_offset: usize,
    /// Bytes copied from the image.
    pub file_size: u32,
    /// Bytes occupied in memory (the rest after `file_size` is zeroed).
    pub mem_size: u32,
}

/// One entry of the Multiboot memory map.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MemoryMapEntry {
    /// First byte.
    pub base: u64,
    /// Length in bytes.
    pub length: u64,
    /// 1 = available RAM, 2 = reserved.
    pub kind: u32,
}

/// The Multiboot information structure and what hangs off it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MultibootInfo {
    /// Physical address of the information structure (EBX at entry).
    pub addr: u32,
    /// Which fields are valid ([`info_flags`]).
    pub flags: u32,
    /// KiB of conventional memory from 0.
    pub mem_lower: u32,
    /// KiB of memory from 1 MiB.
    pub mem_upper: u32,
    /// The kernel command line.
    pub cmdline: String,
    /// The BIOS-style memory map.
    pub mmap: Vec<MemoryMapEntry>,
}

/// Everything needed to start a Multiboot kernel, as plain data.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LoadPlan {
    /// Segments to copy and zero.
    pub segments: Vec<LoadSegment>,
    /// Physical entry address.
    pub entry: u32,
    /// The information block to place in memory.
    pub info: MultibootInfo,
}

/// Byte layout of the information block built by [`MultibootInfo::encode`].
const GDT_OFFSET: u32 = 0;
const STRUCT_OFFSET: u32 = 0x20;
const STRUCT_SIZE: u32 = 0x78;
const MMAP_OFFSET: u32 = STRUCT_OFFSET + STRUCT_SIZE;
const MMAP_ENTRY_SIZE: u32 = 24;

/// The flat GDT in the information block: null, code 0x08 and data 0x10, 4 GiB each.
pub const ENTRY_GDT: [u64; 3] = [0, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff];
/// Code selector at entry.
pub const ENTRY_CS: u16 = 0x08;
/// Data selector at entry.
pub const ENTRY_DS: u16 = 0x10;

impl MultibootInfo {
    /// Physical address of the flat GDT placed in front of the structure.
    pub fn gdt_addr(&self) -> u32 {
        self.block_base() + GDT_OFFSET
    }

    /// Where [`MultibootInfo::encode`]'s bytes go.
    pub fn block_base(&self) -> u32 {
        self.addr.wrapping_sub(STRUCT_OFFSET)
    }

    /// Size in bytes of the encoded block.
    pub fn block_len(&self) -> u32 {
        MMAP_OFFSET
            + MMAP_ENTRY_SIZE * self.mmap.len() as u32
            + self.cmdline.len() as u32
            + 1
            + LOADER_NAME.len() as u32
            + 1
    }

    /// The block as it sits in memory at [`MultibootInfo::block_base`]: the GDT, the
    /// information structure, the memory map, the command line and the loader name.
    pub fn encode(&self) -> Vec<u8> {
        let base = self.block_base();
        let mut b = alloc::vec![0u8; MMAP_OFFSET as usize];
        for (i, d) in ENTRY_GDT.iter().enumerate() {
            b[GDT_OFFSET as usize + 8 * i..][..8].copy_from_slice(&d.to_le_bytes());
        }
        let mmap_len = MMAP_ENTRY_SIZE * self.mmap.len() as u32;
        let cmdline_addr = base + MMAP_OFFSET + mmap_len;
        let name_addr = cmdline_addr + self.cmdline.len() as u32 + 1;
        let mut put = |off: u32, v: u32| {
            let at = (STRUCT_OFFSET + off) as usize;
            b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        put(0, self.flags);
        put(4, self.mem_lower);
        put(8, self.mem_upper);
        put(12, 0xffff_ffff); // boot_device: none
        put(16, cmdline_addr);
        put(44, mmap_len);
        put(48, base + MMAP_OFFSET);
        put(64, name_addr);
        for e in &self.mmap {
            b.extend_from_slice(&(MMAP_ENTRY_SIZE - 4).to_le_bytes());
            b.extend_from_slice(&e.base.to_le_bytes());
            b.extend_from_slice(&e.length.to_le_bytes());
            b.extend_from_slice(&e.kind.to_le_bytes());
        }
        b.extend_from_slice(self.cmdline.as_bytes());
        b.push(0);
        b.extend_from_slice(LOADER_NAME.as_bytes());
        b.push(0);
        b
    }
}

fn bad(reason: String) -> HostError {
    HostError::BadImage {
        what: "multiboot kernel",
        reason,
    }
}

fn u16_at(image: &[u8], off: usize) -> Option<u16> {
    let b = image.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(image: &[u8], off: usize) -> Option<u32> {
    let b = image.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a little-endian u32 or explains which field the file ends in.
fn field(image: &[u8], off: usize, name: &str) -> Result<u32, HostError> {
    u32_at(image, off).ok_or_else(|| {
        bad(format!(
            "at byte {off:#x}: the file ends ({} bytes) inside {name}",
            image.len()
        ))
    })
}

fn field16(image: &[u8], off: usize, name: &str) -> Result<u16, HostError> {
    u16_at(image, off).ok_or_else(|| {
        bad(format!(
            "at byte {off:#x}: the file ends ({} bytes) inside {name}",
            image.len()
        ))
    })
}

/// Finds the Multiboot header: its offset and flags.
fn find_header(image: &[u8]) -> Result<(usize, u32), HostError> {
    let end = image.len().min(MULTIBOOT_SEARCH);
    let mut off = 0;
    while off + 4 <= end {
        if u32_at(image, off) == Some(MULTIBOOT_HEADER_MAGIC) {
            let flags = field(image, off + 4, "the Multiboot header flags")?;
            let checksum = field(image, off + 8, "the Multiboot header checksum")?;
            if MULTIBOOT_HEADER_MAGIC
                .wrapping_add(flags)
                .wrapping_add(checksum)
                != 0
            {
                return Err(bad(format!(
                    "at byte {:#x}: Multiboot header checksum {checksum:#010x} does not make \
                     magic + flags + checksum zero (flags {flags:#010x})",
                    off + 8
                )));
            }
            return Ok((off, flags));
        }
        off += 4;
    }
    Err(bad(format!(
        "no Multiboot header (magic {MULTIBOOT_HEADER_MAGIC:#010x}, 4-byte aligned) in the \
         first {end} bytes"
    )))
}

/// Checks that `paddr..paddr+size` lies in RAM.
fn check_fits(what: &str, at: usize, paddr: u32, size: u32, ram: u32) -> Result<(), HostError> {
    match paddr.checked_add(size) {
        Some(end) if end <= ram => Ok(()),
        _ => Err(bad(format!(
            "at byte {at:#x}: {what} occupies {paddr:#x}..{:#x}, outside the {} MiB of RAM",
            u64::from(paddr) + u64::from(size),
            ram >> 20
        ))),
    }
}

/// Segments from the a.out kludge fields of a header at `hdr` with bit 16 set.
fn aout_segments(image: &[u8], hdr: usize) -> Result<(Vec<LoadSegment>, u32), HostError> {
    let header_addr = field(image, hdr + 12, "header_addr")?;
    let load_addr = field(image, hdr + 16, "load_addr")?;
    let load_end_addr = field(image, hdr + 20, "load_end_addr")?;
    let bss_end_addr = field(image, hdr + 24, "bss_end_addr")?;
    let entry = field(image, hdr + 28, "entry_addr")?;
    if load_addr > header_addr {
        return Err(bad(format!(
            "at byte {:#x}: load_addr {load_addr:#x} is above header_addr {header_addr:#x}",
            hdr + 16
        )));
    }
    let file_offset = (hdr as u64)
        .checked_sub(u64::from(header_addr - load_addr))
        .ok_or_else(|| {
            bad(format!(
                "at byte {:#x}: header_addr - load_addr = {:#x} puts the text segment before \
                 the start of the file (header at byte {hdr:#x})",
                hdr + 12,
                header_addr - load_addr
            ))
        })? as usize;
    let available = (image.len() - file_offset) as u64;
    let file_size = if load_end_addr == 0 {
        available
    } else if load_end_addr < load_addr {
        return Err(bad(format!(
            "at byte {:#x}: load_end_addr {load_end_addr:#x} is below load_addr {load_addr:#x}",
            hdr + 20
        )));
    } else {
        u64::from(load_end_addr - load_addr)
    };
    if file_size > available {
        return Err(bad(format!(
            "at byte {:#x}: load_end_addr asks for {file_size:#x} bytes from byte \
             {file_offset:#x}, but the file has only {available:#x} there",
            hdr + 20
        )));
    }
    let file_size = u32::try_from(file_size)
        .map_err(|_| bad(format!("at byte {file_offset:#x}: the image is over 4 GiB")))?;
    let load_end = load_addr.checked_add(file_size).ok_or_else(|| {
        bad(format!(
            "at byte {:#x}: load_addr {load_addr:#x} plus {file_size:#x} bytes passes 4 GiB",
            hdr + 16
        ))
    })?;
    let mem_end = if bss_end_addr == 0 {
        load_end
    } else if bss_end_addr < load_end {
        return Err(bad(format!(
            "at byte {:#x}: bss_end_addr {bss_end_addr:#x} is below the end of the loaded \
             image {load_end:#x}",
            hdr + 24
        )));
    } else {
        bss_end_addr
    };
    let seg = LoadSegment {
        paddr: load_addr,
        file_offset,
        file_size,
        mem_size: mem_end - load_addr,
    };
    Ok((alloc::vec![seg], entry))
}

const PT_LOAD: u32 = 1;

/// Segments and physical entry of an ELF32 i386 executable.
fn elf_segments(image: &[u8]) -> Result<(Vec<LoadSegment>, u32), HostError> {
    if image.get(0..4) != Some(b"\x7fELF".as_slice()) {
        return Err(bad(String::from(
            "at byte 0x0: not an ELF file (no \\x7fELF magic) and the Multiboot header has no \
             a.out address fields (flag bit 16)",
        )));
    }
    let ident = |i: usize| image.get(i).copied();
    if ident(4) != Some(1) {
        return Err(bad(format!(
            "at byte 0x4: ELF class {:?} is not ELFCLASS32 (1)",
            ident(4)
        )));
    }
    if ident(5) != Some(1) {
        return Err(bad(format!(
            "at byte 0x5: ELF data encoding {:?} is not little-endian (1)",
            ident(5)
        )));
    }
    let e_type = field16(image, 16, "e_type")?;
    if e_type != 2 {
        return Err(bad(format!(
            "at byte 0x10: ELF type {e_type} is not an executable (ET_EXEC = 2)"
        )));
    }
    let e_machine = field16(image, 18, "e_machine")?;
    if e_machine != 3 {
        return Err(bad(format!(
            "at byte 0x12: ELF machine {e_machine} is not i386 (EM_386 = 3)"
        )));
    }
    let e_entry = field(image, 24, "e_entry")?;
    let e_phoff = field(image, 28, "e_phoff")? as usize;
    let e_phentsize = usize::from(field16(image, 42, "e_phentsize")?);
    let e_phnum = usize::from(field16(image, 44, "e_phnum")?);
    if e_phnum == 0 {
        return Err(bad(String::from(
            "at byte 0x2c: the ELF file has no program headers",
        )));
    }
    if e_phentsize < 32 {
        return Err(bad(format!(
            "at byte 0x2a: program header size {e_phentsize} is below the 32 bytes of Elf32_Phdr"
        )));
    }
    let mut segments = Vec::new();
    let mut entry = None;
    for i in 0..e_phnum {
        let ph = e_phoff
            .checked_add(i * e_phentsize)
            .filter(|&o| o <= image.len())
            .ok_or_else(|| {
                bad(format!(
                    "at byte 0x1c: program header {i} at e_phoff {e_phoff:#x} + {i} × \
                     {e_phentsize} lies beyond the end of the file ({} bytes)",
                    image.len()
                ))
            })?;
        let name = format!("program header {i}");
        let p_type = field(image, ph, &name)?;
        if p_type != PT_LOAD {
            continue;
        }
        let p_offset = field(image, ph + 4, &name)?;
        let p_vaddr = field(image, ph + 8, &name)?;
        let p_paddr = field(image, ph + 12, &name)?;
        let p_filesz = field(image, ph + 16, &name)?;
        let p_memsz = field(image, ph + 20, &name)?;
        if p_filesz > p_memsz {
            return Err(bad(format!(
                "at byte {:#x}: {name} has p_filesz {p_filesz:#x} larger than p_memsz \
                 {p_memsz:#x}",
                ph + 16
            )));
        }
        let file_end = u64::from(p_offset) + u64::from(p_filesz);
        if file_end > image.len() as u64 {
            return Err(bad(format!(
                "at byte {:#x}: {name} takes bytes {p_offset:#x}..{file_end:#x} of a \
                 {:#x}-byte file",
                ph + 4,
                image.len()
            )));
        }
        if p_paddr.checked_add(p_memsz).is_none() {
            return Err(bad(format!(
                "at byte {:#x}: {name} at p_paddr {p_paddr:#x} with p_memsz {p_memsz:#x} \
                 passes 4 GiB",
                ph + 12
            )));
        }
        if entry.is_none() && e_entry.wrapping_sub(p_vaddr) < p_memsz {
            entry = Some(p_paddr.wrapping_add(e_entry.wrapping_sub(p_vaddr)));
        }
        if p_memsz == 0 {
            continue;
        }
        segments.push(LoadSegment {
            paddr: p_paddr,
            file_offset: p_offset as usize,
            file_size: p_filesz,
            mem_size: p_memsz,
        });
    }
    if segments.is_empty() {
        return Err(bad(format!(
            "at byte {e_phoff:#x}: none of the {e_phnum} program headers is a non-empty PT_LOAD"
        )));
    }
    Ok((segments, entry.unwrap_or(e_entry)))
}

/// The memory map of a machine with `ram` bytes: conventional memory, the EBDA and
/// BIOS areas reserved, extended memory from 1 MiB.
fn memory_map(ram: u32) -> Vec<MemoryMapEntry> {
    let mut map = alloc::vec![
        MemoryMapEntry {
            base: 0,
            length: 0x9fc00,
            kind: 1
        },
        MemoryMapEntry {
            base: 0x9fc00,
            length: 0x400,
            kind: 2
        },
        MemoryMapEntry {
            base: 0xf0000,
            length: 0x10000,
            kind: 2
        },
    ];
    if ram > 0x10_0000 {
        map.push(MemoryMapEntry {
            base: 0x10_0000,
            length: u64::from(ram - 0x10_0000),
            kind: 1,
        });
    }
    map
}

/// Parses a Multiboot v1 kernel for a machine with `ram_bytes` of RAM.
///
/// The header is searched in the first 8 KiB; with flag bit 16 its a.out address fields
/// say where to load, otherwise the file must be an ELF32 i386 executable whose
/// `PT_LOAD` program headers are loaded at their physical addresses (`p_paddr`).
pub fn parse_multiboot(image: &[u8], cmdline: &str, ram_bytes: u32) -> Result<LoadPlan, HostError> {
    let (hdr, flags) = find_header(image)?;
    let unsupported = flags & 0xffff & !(FLAG_PAGE_ALIGN | FLAG_MEMORY_INFO | FLAG_VIDEO_MODE);
    if unsupported != 0 {
        return Err(bad(format!(
            "at byte {:#x}: the kernel requires Multiboot features this loader lacks (flag \
             bits {unsupported:#x})",
            hdr + 4
        )));
    }
    let (segments, entry) = if flags & FLAG_AOUT_KLUDGE != 0 {
        aout_segments(image, hdr)?
    } else {
        elf_segments(image)?
    };
    for (i, s) in segments.iter().enumerate() {
        check_fits(
            &format!("segment {i}"),
            s.file_offset,
            s.paddr,
            s.mem_size,
            ram_bytes,
        )?;
    }
    if !segments
        .iter()
        .any(|s| entry.wrapping_sub(s.paddr) < s.mem_size)
    {
        return Err(bad(format!(
            "at byte {hdr:#x}: the entry point {entry:#x} is outside every loaded segment"
        )));
    }
    if cmdline.len() > MAX_CMDLINE {
        return Err(HostError::BadConfig(format!(
            "the kernel command line is {} bytes; at most {MAX_CMDLINE} fit",
            cmdline.len()
        )));
    }
    let mut info = MultibootInfo {
        addr: 0,
        flags: info_flags::MEMORY
            | info_flags::CMDLINE
            | info_flags::MMAP
            | info_flags::LOADER_NAME,
        mem_lower: 639,
        mem_upper: ram_bytes.saturating_sub(0x10_0000) / 1024,
        cmdline: String::from(cmdline),
        mmap: memory_map(ram_bytes),
    };
    let len = info.block_len();
    let overlaps = |base: u32| {
        segments.iter().any(|s| {
            u64::from(base) < u64::from(s.paddr) + u64::from(s.mem_size)
                && u64::from(s.paddr) < u64::from(base) + u64::from(len)
        })
    };
    let base = if overlaps(INFO_BASE) {
        let top = segments
            .iter()
            .map(|s| u64::from(s.paddr) + u64::from(s.mem_size))
            .max()
            .unwrap_or(0);
        (top + 0xfff) & !0xfff
    } else {
        u64::from(INFO_BASE)
    };
    if base + u64::from(len) > u64::from(ram_bytes) {
        return Err(bad(format!(
            "at byte {hdr:#x}: no room for the Multiboot information after the kernel \
             (it ends at {base:#x} in {} MiB of RAM)",
            ram_bytes >> 20
        )));
    }
    info.addr = base as u32 + STRUCT_OFFSET;
    Ok(LoadPlan {
        segments,
        entry,
        info,
    })
}

/// Bytes of zeroes written at a time when clearing a segment's BSS.
const ZERO_CHUNK: usize = 64 * 1024;

impl crate::machine::Machine {
    /// Loads a Multiboot (v1) kernel as QEMU's `-kernel` does and prepares the entry
    /// state the specification defines: EAX = 0x2BADB002, EBX = the information
    /// structure, flat 32-bit protected mode (CS = 0x08 code, the other segment
    /// registers 0x10 data, both base 0 and limit 4 GiB, from a GDT placed in front of
    /// the information block), paging off, EFLAGS.IF and VM clear. ESP points just
    /// below the information block (the specification leaves it undefined).
    ///
    /// The machine is reset first; RAM outside the kernel and the block is kept.
    pub fn load_multiboot(&mut self, elf: &[u8], cmdline: &str) -> Result<(), HostError> {
        let ram = self.config().ram_mib.saturating_mul(1 << 20);
        let plan = parse_multiboot(elf, cmdline, ram)?;
        self.reset();
        for (i, seg) in plan.segments.iter().enumerate() {
            let bytes = seg
                .file_offset
                .checked_add(seg.file_size as usize)
                .and_then(|end| elf.get(seg.file_offset..end))
                .ok_or_else(|| bad(format!("segment {i} runs past the end of the file")))?;
            self.write_phys(seg.paddr, bytes)?;
            let zeroes = alloc::vec![0u8; ZERO_CHUNK];
            let mut at = seg.paddr + seg.file_size;
            let end = seg.paddr + seg.mem_size;
            while at < end {
                let n = ((end - at) as usize).min(ZERO_CHUNK);
                self.write_phys(at, &zeroes[..n])?;
                at += n as u32;
            }
        }
        self.write_phys(plan.info.block_base(), &plan.info.encode())?;
        let cpu = self.cpu_mut();
        super::enter_flat32(cpu, plan.info.gdt_addr());
        cpu.cr0 &= !cr0::PG;
        cpu.eflags = flags::RESERVED1;
        cpu.gpr = [0; 8];
        cpu.gpr[Gpr::Eax as usize] = MULTIBOOT_BOOTLOADER_MAGIC;
        cpu.gpr[Gpr::Ebx as usize] = plan.info.addr;
        cpu.gpr[Gpr::Esp as usize] = plan.info.block_base();
        cpu.eip = plan.entry;
        cpu.cpl = 0;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::SegReg;

    const RAM: u32 = 16 << 20;

    /// A minimal ELF32 kernel: one PT_LOAD of `code` at 1 MiB (vaddr `vaddr`), memsz
    /// `code.len() + bss`, with the Multiboot header at the start of the segment.
    fn elf(vaddr: u32, flags: u32, code: &[u8], bss: u32) -> Vec<u8> {
        let mut f = alloc::vec![0u8; 0x54];
        f[0..4].copy_from_slice(b"\x7fELF");
        f[4] = 1;
        f[5] = 1;
        f[6] = 1;
        f[16..18].copy_from_slice(&2u16.to_le_bytes());
        f[18..20].copy_from_slice(&3u16.to_le_bytes());
        f[20..24].copy_from_slice(&1u32.to_le_bytes());
        f[24..28].copy_from_slice(&(vaddr + 12).to_le_bytes()); // entry after the header
        f[28..32].copy_from_slice(&0x34u32.to_le_bytes());
        f[40..42].copy_from_slice(&0x34u16.to_le_bytes());
        f[42..44].copy_from_slice(&32u16.to_le_bytes());
        f[44..46].copy_from_slice(&1u16.to_le_bytes());
        let mut seg = Vec::new();
        seg.extend_from_slice(&MULTIBOOT_HEADER_MAGIC.to_le_bytes());
        seg.extend_from_slice(&flags.to_le_bytes());
        seg.extend_from_slice(
            &0u32
                .wrapping_sub(MULTIBOOT_HEADER_MAGIC)
                .wrapping_sub(flags)
                .to_le_bytes(),
        );
        seg.extend_from_slice(code);
        let ph = [
            PT_LOAD,
            0x60,
            vaddr,
            0x10_0000,
            seg.len() as u32,
            seg.len() as u32 + bss,
            5,
            4,
        ];
        for (i, v) in ph.iter().enumerate() {
            f[0x34 + 4 * i..0x38 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        f.resize(0x60, 0);
        f.extend_from_slice(&seg);
        f
    }

    fn reason(e: HostError) -> String {
        match e {
            HostError::BadImage { reason, .. } => reason,
            other => panic!("expected BadImage, got {other:?}"),
        }
    }

    #[test]
    fn elf_kernel_loads_at_physical_addresses() {
        let image = elf(0x10_0000, 0x3, &[0xf4, 0x90], 0x1000);
        let plan = parse_multiboot(&image, "console=ttyS0", RAM).unwrap();
        assert_eq!(
            plan.segments,
            [LoadSegment {
                paddr: 0x10_0000,
                file_offset: 0x60,
                file_size: 14,
                mem_size: 14 + 0x1000
            }]
        );
        assert_eq!(plan.entry, 0x10_000c);
        assert_eq!(plan.info.addr, INFO_BASE + STRUCT_OFFSET);
        assert_eq!(plan.info.mem_lower, 639);
        assert_eq!(plan.info.mem_upper, 15 * 1024);
        assert_eq!(plan.info.cmdline, "console=ttyS0");
        assert_eq!(plan.info.mmap.last().map(|e| e.length), Some(15 << 20));
    }

    #[test]
    fn higher_half_entry_is_translated_to_physical() {
        let image = elf(0xc010_0000, 0x3, &[0xf4], 0);
        let plan = parse_multiboot(&image, "", RAM).unwrap();
        assert_eq!(plan.entry, 0x10_000c);
    }

    #[test]
    fn info_block_encoding() {
        let image = elf(0x10_0000, 0x3, &[0xf4], 0);
        let plan = parse_multiboot(&image, "a b", RAM).unwrap();
        let info = &plan.info;
        let block = info.encode();
        assert_eq!(block.len() as u32, info.block_len());
        let base = info.block_base();
        let word = |addr: u32| u32_at(&block, (addr - base) as usize).unwrap();
        assert_eq!(
            u64::from(word(info.gdt_addr() + 8)),
            ENTRY_GDT[1] & 0xffff_ffff
        );
        assert_eq!(word(info.addr), 0x245);
        assert_eq!(word(info.addr + 4), 639);
        assert_eq!(word(info.addr + 8), 15 * 1024);
        let cmdline = word(info.addr + 16);
        assert_eq!(&block[(cmdline - base) as usize..][..4], b"a b\0");
        let mmap_len = word(info.addr + 44);
        let mmap = word(info.addr + 48);
        assert_eq!(mmap_len, 4 * 24);
        assert_eq!(word(mmap), 20, "entry size field");
        assert_eq!(word(mmap + 4 + 8), 0x9fc00, "first entry length");
        assert_eq!(word(mmap + 3 * 24 + 4), 0x10_0000, "extended memory base");
        let name = word(info.addr + 64);
        assert_eq!(&block[(name - base) as usize..], b"vmlab\0");
    }

    #[test]
    fn info_moves_above_a_kernel_loaded_low() {
        let mut image = elf(0x8000, 0x3, &[0xf4], 0x2000);
        image[0x34 + 12..0x34 + 16].copy_from_slice(&0x8000u32.to_le_bytes());
        let plan = parse_multiboot(&image, "", RAM).unwrap();
        assert_eq!(plan.entry, 0x800c);
        assert_eq!(plan.info.block_base(), 0xb000);
    }

    #[test]
    fn aout_kludge_fields() {
        // Header at byte 0x20 of a flat image loaded at 0x200000.
        let mut image = alloc::vec![0x90u8; 0x100];
        let flags = FLAG_AOUT_KLUDGE | FLAG_MEMORY_INFO;
        let hdr = [
            MULTIBOOT_HEADER_MAGIC,
            flags,
            0u32.wrapping_sub(MULTIBOOT_HEADER_MAGIC)
                .wrapping_sub(flags),
            0x20_0020,
            0x20_0000,
            0x20_00c0,
            0x20_4000,
            0x20_0040,
        ];
        for (i, v) in hdr.iter().enumerate() {
            image[0x20 + 4 * i..0x24 + 4 * i].copy_from_slice(&v.to_le_bytes());
        }
        let plan = parse_multiboot(&image, "", RAM).unwrap();
        assert_eq!(
            plan.segments,
            [LoadSegment {
                paddr: 0x20_0000,
                file_offset: 0,
                file_size: 0xc0,
                mem_size: 0x4000
            }]
        );
        assert_eq!(plan.entry, 0x20_0040);
        // load_end_addr 0: the whole rest of the file.
        image[0x34..0x38].copy_from_slice(&0u32.to_le_bytes());
        let plan = parse_multiboot(&image, "", RAM).unwrap();
        assert_eq!(plan.segments[0].file_size, 0x100);
        // A header_addr that puts the text before the file.
        image[0x2c..0x30].copy_from_slice(&0x20_1000u32.to_le_bytes());
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(r.contains("before the start of the file"), "{r}");
    }

    #[test]
    fn refusals_name_the_offset() {
        let r = reason(parse_multiboot(&[0u8; 100], "", RAM).unwrap_err());
        assert!(r.contains("no Multiboot header"), "{r}");
        let mut image = elf(0x10_0000, 0x3, &[0xf4], 0);
        image[0x68] ^= 1;
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(
            r.starts_with("at byte 0x68: Multiboot header checksum"),
            "{r}"
        );
        let image = elf(0x10_0000, 0x3 | 0x8, &[0xf4], 0);
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(r.contains("flag bits 0x8"), "{r}");
        let mut image = elf(0x10_0000, 0x3, &[0xf4], 0);
        image[18] = 62;
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(r.starts_with("at byte 0x12"), "{r}");
        let image = elf(0x10_0000, 0x3, &[0xf4], 32 << 20);
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(r.contains("outside the 16 MiB of RAM"), "{r}");
        let mut image = elf(0x10_0000, 0x3, &[0xf4], 0);
        image[0x34 + 16] = 0xff; // p_filesz beyond the file and memsz
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(r.contains("larger than p_memsz"), "{r}");
        let mut image = elf(0x10_0000, 0x3, &[0xf4], 0);
        image[24..28].copy_from_slice(&0x50_0000u32.to_le_bytes());
        let r = reason(parse_multiboot(&image, "", RAM).unwrap_err());
        assert!(r.contains("entry point 0x500000"), "{r}");
        let image = elf(0x10_0000, 0x3, &[0xf4], 0);
        let long = "x".repeat(MAX_CMDLINE + 1);
        assert!(matches!(
            parse_multiboot(&image, &long, RAM),
            Err(HostError::BadConfig(_))
        ));
    }

    #[test]
    fn truncations_never_panic() {
        let image = elf(0x10_0000, 0x3, &[0xf4, 0x90, 0x90], 0x100);
        assert!(parse_multiboot(&image, "", RAM).is_ok());
        for len in 0..image.len() {
            if let Err(e) = parse_multiboot(&image[..len], "", RAM) {
                assert!(matches!(e, HostError::BadImage { .. }));
            }
        }
    }

    #[test]
    fn hostile_bytes_never_panic() {
        // A deterministic xorshift stream: random files, and a valid kernel with each
        // header byte corrupted.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let base = elf(0x10_0000, 0x3, &[0xf4, 0x90, 0x90], 0x100);
        let mut accepted = 0;
        for _ in 0..3000 {
            let mut image = base.clone();
            let n = 1 + (next() % 4) as usize;
            for _ in 0..n {
                let at = (next() % image.len() as u64) as usize;
                image[at] = next() as u8;
            }
            if parse_multiboot(&image, "", RAM).is_ok() {
                accepted += 1;
            }
            let len = (next() % 200) as usize;
            let mut noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if len >= 12 && next() % 2 == 0 {
                noise[0..4].copy_from_slice(&MULTIBOOT_HEADER_MAGIC.to_le_bytes());
                let flags = (next() as u32) | FLAG_AOUT_KLUDGE;
                noise[4..8].copy_from_slice(&flags.to_le_bytes());
                let sum = 0u32
                    .wrapping_sub(MULTIBOOT_HEADER_MAGIC)
                    .wrapping_sub(flags);
                noise[8..12].copy_from_slice(&sum.to_le_bytes());
            }
            let _ = parse_multiboot(&noise, "", RAM);
        }
        assert!(accepted > 0, "some corruptions hit unused bytes");
        assert!(accepted < 3000, "most corruptions are refused");
    }

    #[test]
    fn machine_entry_state_follows_the_specification() {
        use crate::machine::Machine;
        use crate::stop::StopReason;
        let image = elf(0x10_0000, 0x3, &[0xf4], 0x100);
        let mut m = Machine::new(crate::MachineConfig::default()).unwrap();
        // Garbage where the BSS goes proves that the loader zeroes it.
        m.write_phys(0x10_0000, &[0xaa; 0x200]).unwrap();
        m.load_multiboot(&image, "root=/dev/null").unwrap();
        let cpu = m.cpu().clone();
        assert_eq!(cpu.reg(Gpr::Eax), MULTIBOOT_BOOTLOADER_MAGIC);
        assert_eq!(cpu.reg(Gpr::Ebx), INFO_BASE + STRUCT_OFFSET);
        assert_eq!(cpu.eip, 0x10_000c);
        assert_eq!(cpu.cr0 & (cr0::PE | cr0::PG), cr0::PE);
        assert_eq!(cpu.eflags & (flags::IF | flags::VM), 0);
        assert_eq!(cpu.sreg(SegReg::Cs).selector, ENTRY_CS);
        assert!(cpu.sreg(SegReg::Cs).big());
        assert_eq!(cpu.sreg(SegReg::Ss).limit, 0xffff_ffff);
        assert_eq!(cpu.gdtr.base, INFO_BASE);
        let mut seg = [0u8; 0x200];
        m.peek_phys(0x10_0000, &mut seg);
        assert_eq!(seg[..4], MULTIBOOT_HEADER_MAGIC.to_le_bytes());
        assert_eq!(seg[12], 0xf4);
        assert!(seg[13..13 + 0x100].iter().all(|&b| b == 0), "BSS zeroed");
        assert_eq!(seg[13 + 0x100], 0xaa, "memory past the BSS untouched");
        let mut info = [0u8; 20];
        m.peek_phys(INFO_BASE + STRUCT_OFFSET, &mut info);
        assert_eq!(u32_at(&info, 8), Some(15 * 1024));
        let cmdline = u32_at(&info, 16).unwrap();
        let mut text = [0u8; 15];
        m.peek_phys(cmdline, &mut text);
        assert_eq!(&text, b"root=/dev/null\0");
        assert_eq!(m.run(10), StopReason::Halted);
    }

    #[test]
    fn machine_refuses_a_kernel_beyond_ram() {
        use crate::machine::Machine;
        let image = elf(0x10_0000, 0x3, &[0xf4], 0);
        let cfg = crate::MachineConfig {
            ram_mib: 1,
            ..crate::MachineConfig::default()
        };
        let mut m = Machine::new(cfg).unwrap();
        let r = reason(m.load_multiboot(&image, "").unwrap_err());
        assert!(r.contains("outside the 1 MiB of RAM"), "{r}");
    }
}
