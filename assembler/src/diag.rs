//! Diagnostics: where an error is (file, line, column) and how it prints.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use crate::source::{Loc, PLine, SourceFile};

/// Whether a diagnostic stops the assembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Severity {
    /// The source cannot be assembled.
    #[default]
    Error,
    /// The source assembles, but probably not as meant (NASM warns here too).
    Warning,
}

impl Severity {
    /// `error` or `warning`, as the message prints it.
    pub const fn name(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One error or warning found while assembling, with its position in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Name of the file the error is in (the main file's name or an `%include`d name).
    pub file: String,
    /// Line number, counting from 1.
    pub line: u32,
    /// Column number (in characters), counting from 1.
    pub col: u32,
    /// What went wrong.
    pub message: String,
    /// The text of the source line, for display under the message.
    pub source_line: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{}:{}:{}: {}: {}",
            self.file,
            self.line,
            self.col,
            self.severity.name(),
            self.message
        )?;
        writeln!(f, "{}", self.source_line)?;
        let mut caret = String::new();
        for (i, ch) in self.source_line.chars().enumerate() {
            if i + 1 >= self.col as usize {
                break;
            }
            caret.push(if ch == '\t' { '\t' } else { ' ' });
        }
        caret.push('^');
        write!(f, "{caret}")
    }
}

/// All the errors of one assembler run, in source order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Errors(pub Vec<Diagnostic>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            writeln!(f, "{d}")?;
        }
        Ok(())
    }
}

/// Builds a diagnostic for byte `pos` of original line `loc`.
pub(crate) fn at_original(
    files: &[SourceFile],
    loc: Loc,
    pos: usize,
    message: String,
) -> Diagnostic {
    let (name, text) = match files.get(loc.file as usize) {
        Some(f) => (f.name.clone(), f.line(loc.line)),
        None => (String::new(), ""),
    };
    let mut p = pos.min(text.len());
    while !text.is_char_boundary(p) {
        p -= 1;
    }
    let col = text[..p].chars().count() as u32 + 1;
    Diagnostic {
        severity: Severity::Error,
        file: name,
        line: loc.line,
        col,
        message,
        source_line: String::from(text),
    }
}

/// Builds a diagnostic for byte `pos` of preprocessed line `idx`.
pub(crate) fn at_line(
    files: &[SourceFile],
    lines: &[PLine],
    idx: usize,
    pos: usize,
    message: String,
) -> Diagnostic {
    let Some(pl) = lines.get(idx) else {
        let name = files.first().map(|f| f.name.clone()).unwrap_or_default();
        return Diagnostic {
            severity: Severity::Error,
            file: name,
            line: 0,
            col: 0,
            message,
            source_line: String::new(),
        };
    };
    let orig = match &pl.colmap {
        Some(map) => map.get(pos).map_or_else(
            || map.last().map_or(0, |&l| l as usize + 1),
            |&o| o as usize,
        ),
        None => pos,
    };
    at_original(files, pl.loc, orig, message)
}

/// Collects diagnostics, keeping a bounded number (the rest are only counted).
pub(crate) struct Sink {
    pub kept: Vec<Diagnostic>,
    pub dropped: usize,
    pub keep: usize,
}

impl Sink {
    /// A sink that keeps at most `keep` diagnostics.
    pub fn new(keep: usize) -> Self {
        Sink {
            kept: Vec::new(),
            dropped: 0,
            keep,
        }
    }

    /// Whether more diagnostics would only be counted.
    pub fn full(&self) -> bool {
        self.kept.len() >= self.keep
    }

    /// Adds one diagnostic (built lazily, so a full sink costs nothing).
    pub fn push(&mut self, make: impl FnOnce() -> Diagnostic) {
        if self.full() {
            self.dropped += 1;
        } else {
            self.kept.push(make());
        }
    }

    /// Counts diagnostics that were never built.
    pub fn count_dropped(&mut self, n: usize) {
        self.dropped += n;
    }

    /// Whether nothing went wrong.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty() && self.dropped == 0
    }

    /// Sorts by position, drops repeats and applies the error limit.
    pub fn finish(self, max: usize) -> Errors {
        let mut diags = self.kept;
        let mut names: Vec<String> = Vec::new();
        for d in &diags {
            if !names.contains(&d.file) {
                names.push(d.file.clone());
            }
        }
        diags.sort_by_key(|d| (names.iter().position(|n| *n == d.file), d.line, d.col));
        diags.dedup();
        let max = max.max(1);
        let extra = diags.len().saturating_sub(max) + self.dropped;
        diags.truncate(max);
        if extra > 0 {
            if let Some(last) = diags.last().cloned() {
                diags.push(Diagnostic {
                    message: alloc::format!("too many errors; {extra} more not shown"),
                    ..last
                });
            }
        }
        Errors(diags)
    }
}
