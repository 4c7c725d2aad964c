//! VGA text mode: the 80×25 screen of (character, attribute) cells at 0xB8000.
//!
//! The text buffer itself is ordinary RAM; this module only interprets its bytes.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use serde::{Deserialize, Serialize};

/// One character cell: a code page 437 character and its colour attribute.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct VgaCell {
    /// The character (code page 437).
    pub ch: u8,
    /// Attribute: bits 0–3 foreground, 4–6 background, 7 blink.
    pub attr: u8,
}

impl VgaCell {
    /// The character as Unicode.
    pub fn to_char(self) -> char {
        cp437(self.ch)
    }
}

/// A copy of the 80×25 text screen.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VgaText {
    cells: Vec<VgaCell>,
}

impl VgaText {
    /// Columns per row.
    pub const COLS: usize = 80;
    /// Rows on the screen.
    pub const ROWS: usize = 25;
    /// Physical address of the text buffer.
    pub const BASE: u32 = 0xb8000;
    /// Bytes in the text buffer (two per cell).
    pub const BYTES: usize = Self::COLS * Self::ROWS * 2;

    /// Interprets `bytes` as the text buffer (character byte, then attribute byte, per
    /// cell, row by row); missing bytes read as zero.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        let mut cells = alloc::vec![VgaCell::default(); Self::COLS * Self::ROWS];
        for (cell, pair) in cells.iter_mut().zip(bytes.chunks(2)) {
            cell.ch = pair.first().copied().unwrap_or(0);
            cell.attr = pair.get(1).copied().unwrap_or(0);
        }
        VgaText { cells }
    }

    /// The cell at `row`, `col` (`None` off the screen).
    pub fn cell(&self, row: usize, col: usize) -> Option<VgaCell> {
        if row >= Self::ROWS || col >= Self::COLS {
            return None;
        }
        self.cells.get(row * Self::COLS + col).copied()
    }

    /// One row of cells.
    pub fn row(&self, row: usize) -> &[VgaCell] {
        let start = row.min(Self::ROWS) * Self::COLS;
        self.cells.get(start..start + Self::COLS).unwrap_or(&[])
    }

    /// The text of one row with trailing blanks removed (NUL shows as a blank).
    pub fn row_text(&self, row: usize) -> String {
        let s: String = self.row(row).iter().map(|c| c.to_char()).collect();
        String::from(s.trim_end_matches(' '))
    }
}

impl fmt::Display for VgaText {
    /// The screen as 25 lines of text, trailing blanks removed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for row in 0..Self::ROWS {
            if row > 0 {
                f.write_str("\n")?;
            }
            f.write_str(&self.row_text(row))?;
        }
        Ok(())
    }
}

/// Code page 437 to Unicode (NUL shows as a blank).
fn cp437(b: u8) -> char {
    const LOW: [char; 32] = [
        ' ', '☺', '☻', '♥', '♦', '♣', '♠', '•', '◘', '○', '◙', '♂', '♀', '♪', '♫', '☼', '►', '◄',
        '↕', '‼', '¶', '§', '▬', '↨', '↑', '↓', '→', '←', '∟', '↔', '▲', '▼',
    ];
    const HIGH: [char; 128] = [
        'Ç', 'ü', 'é', 'â', 'ä', 'à', 'å', 'ç', 'ê', 'ë', 'è', 'ï', 'î', 'ì', 'Ä', 'Å', 'É', 'æ',
        'Æ', 'ô', 'ö', 'ò', 'û', 'ù', 'ÿ', 'Ö', 'Ü', '¢', '£', '¥', '₧', 'ƒ', 'á', 'í', 'ó', 'ú',
        'ñ', 'Ñ', 'ª', 'º', '¿', '⌐', '¬', '½', '¼', '¡', '«', '»', '░', '▒', '▓', '│', '┤', '╡',
        '╢', '╖', '╕', '╣', '║', '╗', '╝', '╜', '╛', '┐', '└', '┴', '┬', '├', '─', '┼', '╞', '╟',
        '╚', '╔', '╩', '╦', '╠', '═', '╬', '╧', '╨', '╤', '╥', '╙', '╘', '╒', '╓', '╫', '╪', '┘',
        '┌', '█', '▄', '▌', '▐', '▀', 'α', 'ß', 'Γ', 'π', 'Σ', 'σ', 'µ', 'τ', 'Φ', 'Θ', 'Ω', 'δ',
        '∞', 'φ', 'ε', '∩', '≡', '±', '≥', '≤', '⌠', '⌡', '÷', '≈', '°', '∙', '·', '√', 'ⁿ', '²',
        '■', '\u{a0}',
    ];
    match b {
        0x00..=0x1f => LOW[usize::from(b)],
        0x7f => '⌂',
        0x20..=0x7e => char::from(b),
        _ => HIGH[usize::from(b - 0x80)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn cells_rows_and_text() {
        let mut mem = alloc::vec![0u8; VgaText::BYTES];
        for (i, b) in b"Hello".iter().enumerate() {
            mem[2 * i] = *b;
            mem[2 * i + 1] = 0x1f;
        }
        let at = (2 * 80 + 78) * 2;
        mem[at] = 0xc9; // box corner
        mem[at + 1] = 0x07;
        let screen = VgaText::from_bytes(&mem);
        assert_eq!(
            screen.cell(0, 1),
            Some(VgaCell {
                ch: b'e',
                attr: 0x1f
            })
        );
        assert_eq!(screen.cell(25, 0), None);
        assert_eq!(screen.cell(0, 80), None);
        assert_eq!(screen.row_text(0), "Hello");
        assert_eq!(screen.row_text(2).chars().count(), 79);
        assert!(screen.row_text(2).ends_with('╔'));
        let text = screen.to_string();
        assert_eq!(text.split('\n').count(), 25);
        assert!(text.starts_with("Hello\n\n"));
    }

    #[test]
    fn short_input_pads_with_blanks() {
        let screen = VgaText::from_bytes(b"A\x07B");
        assert_eq!(screen.cell(0, 0), Some(VgaCell { ch: b'A', attr: 7 }));
        assert_eq!(screen.cell(0, 1), Some(VgaCell { ch: b'B', attr: 0 }));
        assert_eq!(screen.row_text(0), "AB");
        assert_eq!(screen.row(24).len(), 80);
        assert!(screen.row(25).is_empty());
    }

    #[test]
    fn code_page_437() {
        assert_eq!(cp437(0), ' ');
        assert_eq!(cp437(1), '☺');
        assert_eq!(cp437(b'z'), 'z');
        assert_eq!(cp437(0x7f), '⌂');
        assert_eq!(cp437(0x80), 'Ç');
        assert_eq!(cp437(0xdb), '█');
        assert_eq!(cp437(0xff), '\u{a0}');
    }
}
