//! An assembled program as the page keeps it: image, entry, source map, symbols, errors.

use emulator_core::{ExecMode, FlatEntry};

use crate::protocol::Command;

/// An assembler diagnostic, placed on its source line.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Diag {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub col: usize,
    /// What is wrong.
    pub message: String,
}

/// A program ready to load.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Program {
    /// The flat binary.
    pub image: Vec<u8>,
    /// Its load address.
    pub origin: u32,
    /// Real mode (`bits 16`) or flat protected mode.
    pub entry: Option<FlatEntry>,
    /// `(first address, end address, 1-based source line)`, sorted by address.
    pub lines: Vec<(u32, u32, usize)>,
    /// Labels and their addresses.
    pub symbols: Vec<(String, u32)>,
    /// The source it was assembled from.
    pub source: String,
    /// A ROM started at the reset vector ([`Program::into_rom`]).
    pub rom: bool,
}

impl Program {
    /// The source line that produced the byte at `addr`.
    pub fn line_of(&self, addr: u32) -> Option<usize> {
        let i = self.lines.partition_point(|&(start, _, _)| start <= addr);
        let &(start, end, line) = self.lines.get(i.checked_sub(1)?)?;
        (start <= addr && addr < end).then_some(line)
    }

    /// The text of the source line that produced the byte at `addr`.
    pub fn source_line_at(&self, addr: u32) -> Option<(usize, &str)> {
        let line = self.line_of(addr)?;
        Some((line, self.source.lines().nth(line.checked_sub(1)?)?.trim()))
    }

    /// The address of the first byte produced by a source line.
    pub fn addr_of_line(&self, line: usize) -> Option<u32> {
        self.lines
            .iter()
            .find(|&&(s, e, l)| l == line && e > s)
            .map(|&(s, _, _)| s)
    }

    /// A label's address.
    pub fn symbol(&self, name: &str) -> Option<u32> {
        self.symbols
            .iter()
            .find(|(n, _)| n == name)
            .map(|&(_, a)| a)
    }

    /// The program as a ROM: assembled at `org 0`, it is mapped below 1 MiB, so its
    /// origin, labels and source lines move to where the ROM sits.
    pub fn into_rom(mut self) -> Result<Program, String> {
        let base = vmlab_demos::Boot::Rom
            .rom_base(self.image.len())
            .ok_or_else(|| format!("a ROM is 64 or 128 KiB, not {} bytes", self.image.len()))?;
        if self.origin != 0 {
            return Err(format!(
                "a ROM is assembled at org 0, not {:#x}",
                self.origin
            ));
        }
        self.origin = base;
        for (_, a) in &mut self.symbols {
            *a = a.wrapping_add(base);
        }
        for (start, end, _) in &mut self.lines {
            *start = start.wrapping_add(base);
            *end = end.wrapping_add(base);
        }
        self.entry = Some(FlatEntry::Real16);
        self.rom = true;
        Ok(self)
    }

    /// The command that loads this program in `mode`.
    pub fn load_command(&self, mode: ExecMode) -> Command {
        if self.rom {
            return Command::LoadRom {
                image: self.image.clone(),
                mode,
            };
        }
        Command::Load {
            image: self.image.clone(),
            origin: self.origin,
            entry: self.entry.unwrap_or(FlatEntry::Protected32),
            mode,
        }
    }
}

/// `bits 16` before any code means a real-mode (boot-sector style) program.
pub fn entry_for(source: &str) -> FlatEntry {
    if vmlab_demos::real_mode_program(source) {
        FlatEntry::Real16
    } else {
        FlatEntry::Protected32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_map_finds_lines_both_ways() {
        let p = Program {
            lines: vec![(0x100, 0x105, 3), (0x105, 0x106, 4), (0x110, 0x112, 9)],
            ..Program::default()
        };
        assert_eq!(p.line_of(0x100), Some(3));
        assert_eq!(p.line_of(0x104), Some(3));
        assert_eq!(p.line_of(0x105), Some(4));
        assert_eq!(p.line_of(0x107), None);
        assert_eq!(p.line_of(0xff), None);
        assert_eq!(p.addr_of_line(9), Some(0x110));
        assert_eq!(p.addr_of_line(5), None);
    }

    #[test]
    fn bits_directive_picks_the_entry() {
        assert_eq!(
            entry_for("; boot\n  BITS 16\norg 0x7c00"),
            FlatEntry::Real16
        );
        assert_eq!(entry_for("[bits 32]\n"), FlatEntry::Protected32);
        assert_eq!(entry_for("mov eax, 1"), FlatEntry::Protected32);
    }
}
