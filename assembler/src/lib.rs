//! vmlab's assembler: the NASM subset that course material uses, for flat binaries.
//!
//! [`assemble`] turns one source text (plus `%include`d texts supplied by a callback)
//! into the bytes `nasm -f bin` would produce, a listing that maps every emitted byte
//! range to its source line, and the symbol table. It never touches a file system, so
//! the browser and the command line share it.
//!
//! The language: `bits 16/32` (and `[bits]`, `use16/32`), `org`, labels and `.local`
//! labels, `equ`, `times`, `db/dw/dd/dq` with strings and character constants,
//! `resb/resw/resd/resq`, `align`/`alignb`, `struc`/`istruc`, `$` and `$$`, NASM's
//! numbers and operators; the preprocessor's `%define` (also with parameters),
//! `%xdefine`, `%undef`, `%assign`, `%if/%elif/%else/%endif` and the `%ifdef` family,
//! `%include`, `%macro`, `%rep` and `%+`; every legacy-encoded integer and system
//! instruction of 16/32-bit x86 that iced-x86 knows, with `o16/o32/a16/a32`,
//! `rep/lock` and segment prefixes, `byte/word/dword` sizes, `short/near/far/strict`.
//!
//! Encodings follow NASM's choices byte for byte: the shortest form, sign-extended
//! immediates, the `r/m, reg` direction for register pairs, NASM's base-register
//! hints, and its multi-pass sizing of jumps and of values computed from labels,
//! including its first-pass optimism about forward references.
#![no_std]
#![deny(missing_docs)]

extern crate alloc;

mod bounds;
mod diag;
mod expr;
mod insn;
mod layout;
mod lexer;
mod listing;
mod parser;
mod preproc;
mod regs;
mod source;

pub use diag::{Diagnostic, Errors, Severity};
pub use listing::ListingLine;

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// Default limit on the size of the output image (16 MiB).
pub const DEFAULT_MAX_OUTPUT: usize = 16 << 20;
/// Default limit on `%include` nesting.
pub const DEFAULT_MAX_INCLUDE_DEPTH: usize = 32;
/// Default limit on the number of errors reported.
pub const DEFAULT_MAX_ERRORS: usize = 100;
/// Default limit on the number of source lines after preprocessing.
pub const DEFAULT_MAX_LINES: usize = 2 << 20;

/// Returns the text of an `%include`d file, given the name written in the source.
pub type IncludeFn<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Settings for one assembler run.
pub struct Options<'a> {
    /// `-D NAME[=VALUE]` definitions, applied before the first line.
    pub defines: Vec<(String, Option<String>)>,
    /// Returns the text of an `%include`d file by the name written in the source.
    pub include: Option<crate::IncludeFn<'a>>,
    /// Largest output image, in bytes; larger programs are an error.
    pub max_output_bytes: usize,
    /// Deepest `%include` nesting allowed (also stops include cycles).
    pub max_include_depth: usize,
    /// Most errors reported; the rest are summarised in one last message.
    pub max_errors: usize,
    /// Most source lines after preprocessing (macro and `%rep` expansion may look
    /// at twice as many before giving up).
    pub max_lines: usize,
}

impl Default for Options<'_> {
    fn default() -> Self {
        Options {
            defines: Vec::new(),
            include: None,
            max_output_bytes: DEFAULT_MAX_OUTPUT,
            max_include_depth: DEFAULT_MAX_INCLUDE_DEPTH,
            max_errors: DEFAULT_MAX_ERRORS,
            max_lines: DEFAULT_MAX_LINES,
        }
    }
}

impl fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("defines", &self.defines)
            .field("include", &self.include.is_some())
            .field("max_output_bytes", &self.max_output_bytes)
            .field("max_include_depth", &self.max_include_depth)
            .field("max_errors", &self.max_errors)
            .field("max_lines", &self.max_lines)
            .finish()
    }
}

/// A `-D` argument, `NAME` or `NAME=VALUE`, as an entry of [`Options::defines`].
pub fn parse_define(arg: &str) -> (String, Option<String>) {
    match arg.split_once('=') {
        Some((k, v)) => (String::from(k), Some(String::from(v))),
        None => (String::from(arg), None),
    }
}

/// A successful assembly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// The flat binary image.
    pub bytes: Vec<u8>,
    /// Every emitted byte range with the source line it came from, in output order.
    pub listing: Vec<ListingLine>,
    /// Labels and `equ` constants with their values, sorted by value then name.
    pub symbols: Vec<(String, u32)>,
    /// The `org` address: the address of the first byte of `bytes`.
    pub origin: u32,
    /// Warnings where NASM warns too (a number too wide for the bytes that hold it),
    /// in source order; the image is as NASM makes it.
    pub warnings: Vec<Diagnostic>,
    /// The source files of the run (name, text), for [`Output::listing_text`].
    files: Vec<(String, String)>,
}

/// Assembles `source` (named `name` in messages) into a flat binary.
pub fn assemble(name: &str, source: &str, opts: &Options<'_>) -> Result<Output, Errors> {
    let isa = insn::Isa::new();
    let preproc::Preprocessed {
        files,
        lines: plines,
        errors: pp_errors,
        warnings: pp_warnings,
    } = preproc::run(
        name,
        source,
        &opts.defines,
        opts.include,
        preproc::Limits {
            max_include_depth: opts.max_include_depth,
            max_lines: opts.max_lines,
        },
    );
    let mut diags = diag::Sink::new(opts.max_errors.saturating_mul(4).max(64));
    for e in pp_errors {
        diags.push(|| diag::at_original(&files, e.loc, e.pos, e.message));
    }
    let mut stmts = Vec::new();
    let mut scope = String::new();
    let is_mnemonic = |s: &str| isa.is_mnemonic(s);
    for (idx, pl) in plines.iter().enumerate() {
        let toks = match lexer::tokenize(&pl.text) {
            Ok(t) => t,
            Err(e) => {
                diags.push(|| diag::at_line(&files, &plines, idx, e.pos, e.message));
                continue;
            }
        };
        let mut lp = parser::LineParser {
            toks: &toks,
            end: pl.text.len(),
            scope: &mut scope,
            is_mnemonic: &is_mnemonic,
        };
        match lp.statement(idx) {
            Ok(Some(st)) => stmts.push(st),
            Ok(None) => {}
            Err((pos, msg)) => diags.push(|| diag::at_line(&files, &plines, idx, pos, msg)),
        }
    }
    let lay = layout::run(
        &stmts,
        &isa,
        &layout::Limits {
            max_output: opts.max_output_bytes,
        },
    );
    for (idx, pos, msg) in lay.errors {
        diags.push(|| diag::at_line(&files, &plines, idx, pos, msg));
    }
    diags.count_dropped(lay.dropped_errors);
    if !diags.is_empty() {
        return Err(diags.finish(opts.max_errors));
    }
    let origin = lay.origin as u32;
    let listing = lay
        .spans
        .iter()
        .filter_map(|&(idx, offset, length)| {
            let pl = plines.get(idx)?;
            let f = files.get(pl.loc.file as usize)?;
            Some(ListingLine {
                file: f.name.clone(),
                line: pl.loc.line,
                offset,
                address: origin.wrapping_add(offset),
                length,
            })
        })
        .collect();
    let mut symbols: Vec<(String, u32)> = lay
        .symbols
        .into_iter()
        .map(|(k, s)| (k, s.value as u32))
        .collect();
    symbols.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let mut warnings: Vec<Diagnostic> = pp_warnings
        .into_iter()
        .map(|w| diag::at_original(&files, w.loc, w.pos, w.message))
        .chain(
            lay.warnings
                .into_iter()
                .map(|(idx, pos, msg)| diag::at_line(&files, &plines, idx, pos, msg)),
        )
        .map(|d| Diagnostic {
            severity: Severity::Warning,
            ..d
        })
        .collect();
    // Source order: by file (in the order files were read), then line.
    warnings.sort_by_key(|d| (files.iter().position(|f| f.name == d.file), d.line));
    warnings.dedup();
    Ok(Output {
        bytes: lay.bytes,
        listing,
        symbols,
        origin,
        warnings,
        files: files.into_iter().map(|f| (f.name, f.text)).collect(),
    })
}
