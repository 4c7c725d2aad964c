//! Source locations: the files of a run with their lines, a position in them ([`Loc`]),
//! and the preprocessed lines that map back to those positions.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A position in the original source: which file and line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Loc {
    /// Index into the run's file list.
    pub file: u32,
    /// Line number, from 1.
    pub line: u32,
}

/// A source file taking part in a run: its name and its lines.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte offset of the start of each line.
    pub line_starts: Vec<usize>,
}

impl SourceFile {
    /// The file `name` with contents `text`.
    pub fn new(name: &str, text: String) -> Self {
        let mut line_starts = alloc::vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                line_starts.push(i + 1);
            }
        }
        SourceFile {
            name: name.to_string(),
            text,
            line_starts,
        }
    }

    /// The text of line `line` (from 1), without its line ending.
    pub fn line(&self, line: u32) -> &str {
        let i = line.saturating_sub(1) as usize;
        let Some(&start) = self.line_starts.get(i) else {
            return "";
        };
        let end = self
            .line_starts
            .get(i + 1)
            .map_or(self.text.len(), |e| e - 1);
        let s = self.text.get(start..end.max(start)).unwrap_or("");
        s.strip_suffix('\r').unwrap_or(s)
    }
}

/// One line after preprocessing, ready for the parser.
#[derive(Debug)]
pub(crate) struct PLine {
    pub loc: Loc,
    /// The text with macros expanded and the comment removed.
    pub text: String,
    /// For each byte of `text`, the byte offset in the original line it came from
    /// (`None` when the text is the original line unchanged).
    pub colmap: Option<Vec<u32>>,
}
