//! The listing: which source line produced which bytes, and a `nasm -l` style text.

use crate::Output;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

/// One emitted byte range and the source line that produced it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListingLine {
    /// Source file name (the main file's name or an `%include`d name).
    pub file: String,
    /// Line number in that file, from 1.
    pub line: u32,
    /// Offset of the first byte in [`Output::bytes`].
    pub offset: u32,
    /// Address of the first byte (`org` + offset).
    pub address: u32,
    /// Number of bytes.
    pub length: u32,
}

impl Output {
    /// The source line (file, line) whose bytes include address `addr`.
    pub fn line_for_address(&self, addr: u32) -> Option<(&str, u32)> {
        let i = self.listing.partition_point(|l| l.address <= addr);
        let l = self.listing.get(i.checked_sub(1)?)?;
        (addr.wrapping_sub(l.address) < l.length).then_some((l.file.as_str(), l.line))
    }

    /// The addresses of the first byte of each range emitted by `file`:`line`.
    pub fn addresses_for_line(&self, file: &str, line: u32) -> Vec<u32> {
        self.listing
            .iter()
            .filter(|l| l.line == line && l.file == file)
            .map(|l| l.address)
            .collect()
    }

    /// A listing in the style of `nasm -l`: line number, offset, bytes, source text.
    pub fn listing_text(&self) -> String {
        let mut out = String::new();
        let mut by_line: alloc::collections::BTreeMap<(&str, u32), Vec<&crate::ListingLine>> =
            alloc::collections::BTreeMap::new();
        for l in &self.listing {
            by_line
                .entry((l.file.as_str(), l.line))
                .or_default()
                .push(l);
        }
        for (name, text) in &self.files {
            for (n, src) in text.lines().enumerate() {
                let n = n as u32 + 1;
                let ranges = by_line.get(&(name.as_str(), n));
                let mut first = true;
                for r in ranges.into_iter().flatten() {
                    let start = r.offset as usize;
                    let end = (start + r.length as usize).min(self.bytes.len());
                    let bytes = self.bytes.get(start..end).unwrap_or(&[]);
                    let chunks = bytes.len().div_ceil(9);
                    for (k, chunk) in bytes.chunks(9).enumerate() {
                        let mut hex: String = chunk.iter().map(|b| format!("{b:02X}")).collect();
                        if k + 1 < chunks {
                            hex.push('-');
                        }
                        let off = r.offset as usize + k * 9;
                        let _ = if first {
                            writeln!(out, "{n:6} {off:08X} {hex:<24}{src}")
                        } else {
                            writeln!(out, "{n:6} {off:08X} {hex}")
                        };
                        first = false;
                    }
                }
                if first {
                    let _ = writeln!(out, "{n:6} {:33}{src}", "");
                }
            }
        }
        out
    }
}
