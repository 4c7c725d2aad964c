//! The preprocessor: `%define`, `%assign`, `%if`/`%ifdef` families and `%include`.

use crate::diag::Loc;
use crate::expr::{self, Context};
use crate::lexer;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A source file taking part in a run: its name and its lines.
#[derive(Debug)]
pub(crate) struct SourceFile {
    pub name: String,
    pub text: String,
    /// Byte offset of the start of each line.
    pub line_starts: Vec<usize>,
}

impl SourceFile {
    fn new(name: &str, text: String) -> Self {
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

/// A preprocessor error at a line and byte offset in the original text.
pub(crate) struct PpError {
    pub loc: Loc,
    pub pos: usize,
    pub message: String,
}

/// The preprocessor's limits.
pub(crate) struct Limits {
    pub max_include_depth: usize,
    pub max_lines: usize,
}

const MAX_LINE_EXPANSION: usize = 1 << 16;
const MAX_EXPANSION_DEPTH: usize = 64;
const MAX_INCLUDES: usize = 4096;

struct Cond {
    /// Lines of the current branch are assembled.
    active: bool,
    /// Some branch of this `%if` chain has been taken.
    taken: bool,
    /// The enclosing context is active.
    outer: bool,
    else_seen: bool,
    loc: Loc,
}

struct Pp<'a> {
    defines: BTreeMap<String, String>,
    include: Option<crate::IncludeFn<'a>>,
    files: Vec<SourceFile>,
    out: Vec<PLine>,
    errors: Vec<PpError>,
    limits: Limits,
    stack: Vec<u32>,
    in_macro: bool,
    includes: usize,
}

struct NoSymbols;

impl Context for NoSymbols {
    fn symbol(&self, _: &str) -> Option<(i64, bool)> {
        None
    }
    fn here(&self) -> i64 {
        0
    }
    fn sect_start(&self) -> i64 {
        0
    }
}

/// Runs the preprocessor on the main file.
pub(crate) fn run(
    name: &str,
    source: &str,
    defines: &[(String, Option<String>)],
    include: Option<crate::IncludeFn<'_>>,
    limits: Limits,
) -> (Vec<SourceFile>, Vec<PLine>, Vec<PpError>) {
    let mut pp = Pp {
        defines: BTreeMap::new(),
        include,
        files: Vec::new(),
        out: Vec::new(),
        errors: Vec::new(),
        limits,
        stack: Vec::new(),
        in_macro: false,
        includes: 0,
    };
    for (k, v) in defines {
        pp.defines.insert(k.clone(), v.clone().unwrap_or_default());
    }
    pp.files.push(SourceFile::new(name, source.to_string()));
    pp.file(0);
    (pp.files, pp.out, pp.errors)
}

fn is_ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'_' | b'.' | b'?' | b'@')
}

fn is_ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'?' | b'@' | b'$' | b'#' | b'~')
}

/// Splits off a leading identifier; returns it and the rest.
fn split_ident(s: &str) -> Option<(&str, &str)> {
    let b = s.as_bytes();
    if b.is_empty() || !is_ident_start(b[0]) {
        return None;
    }
    let mut i = 1;
    while i < b.len() && is_ident_char(b[i]) {
        i += 1;
    }
    Some((&s[..i], &s[i..]))
}

impl Pp<'_> {
    fn err(&mut self, loc: Loc, pos: usize, message: String) {
        self.errors.push(PpError { loc, pos, message });
    }

    /// Expands `%define`d names in `text`. Each output byte maps to an input byte offset.
    fn expand(
        &self,
        text: &str,
        base: &[u32],
        active: &mut Vec<String>,
        out: &mut String,
        map: &mut Vec<u32>,
    ) -> Result<(), String> {
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i];
            let start = i;
            if c == b'\'' || c == b'"' || c == b'`' {
                i += 1;
                while i < b.len() && b[i] != c {
                    if c == b'`' && b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(b.len());
            } else if c.is_ascii_digit() || c == b'$' {
                i += 1;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
            } else if is_ident_start(c) {
                i += 1;
                while i < b.len() && is_ident_char(b[i]) {
                    i += 1;
                }
                let name = &text[start..i];
                if let Some(body) = self.defines.get(name) {
                    if !active.iter().any(|a| a == name) {
                        if active.len() >= MAX_EXPANSION_DEPTH {
                            return Err(format!("macro expansion of `{name}' nested too deeply"));
                        }
                        active.push(name.to_string());
                        let sub: Vec<u32> =
                            alloc::vec![base.get(start).copied().unwrap_or(0); body.len()];
                        self.expand(body, &sub, active, out, map)?;
                        active.pop();
                        if out.len() > MAX_LINE_EXPANSION {
                            return Err(format!(
                                "macro expansion exceeds {MAX_LINE_EXPANSION} bytes"
                            ));
                        }
                        continue;
                    }
                }
            } else {
                i += 1;
                while i < b.len() && !b[i].is_ascii() {
                    i += 1;
                }
            }
            let piece = &text[start..i];
            out.push_str(piece);
            map.extend((start..i).map(|k| base.get(k).copied().unwrap_or(0)));
        }
        Ok(())
    }

    fn expand_line(&self, text: &str) -> Result<(String, Option<Vec<u32>>), String> {
        let b = text.as_bytes();
        // Fast path: no defined identifier in the line.
        let mut any = false;
        let mut i = 0;
        while i < b.len() {
            if is_ident_start(b[i]) && (i == 0 || !is_ident_char(b[i - 1])) {
                let mut j = i + 1;
                while j < b.len() && is_ident_char(b[j]) {
                    j += 1;
                }
                if self.defines.contains_key(&text[i..j]) {
                    any = true;
                    break;
                }
                i = j;
            } else {
                i += 1;
            }
        }
        if !any {
            return Ok((text.to_string(), None));
        }
        let base: Vec<u32> = (0..text.len() as u32).collect();
        let mut out = String::new();
        let mut map = Vec::new();
        self.expand(text, &base, &mut Vec::new(), &mut out, &mut map)?;
        Ok((out, Some(map)))
    }

    fn eval_cond(&mut self, loc: Loc, pos: usize, text: &str) -> bool {
        let (expanded, _) = match self.expand_line(text) {
            Ok(x) => x,
            Err(m) => {
                self.err(loc, pos, m);
                return false;
            }
        };
        let toks = match lexer::tokenize(&expanded) {
            Ok(t) => t,
            Err(e) => {
                self.err(loc, pos, e.message);
                return false;
            }
        };
        let mut p = expr::Parser::new(&toks, "", expanded.len());
        let r = p.expr().and_then(|e| {
            if p.i < toks.len() {
                return Err((p.pos(), "unexpected text after the expression".to_string()));
            }
            expr::eval(&e, &NoSymbols)
        });
        match r {
            Ok(v) => {
                if let Some((name, _)) = v.unknown {
                    self.err(
                        loc,
                        pos,
                        format!("`{name}' is not defined in a preprocessor expression"),
                    );
                    return false;
                }
                v.n != 0
            }
            Err((_, m)) => {
                self.err(loc, pos, m);
                false
            }
        }
    }

    fn file(&mut self, idx: u32) {
        if self.stack.len() >= self.limits.max_include_depth {
            return;
        }
        self.stack.push(idx);
        let mut conds: Vec<Cond> = Vec::new();
        let nlines = self
            .files
            .get(idx as usize)
            .map_or(0, |f| f.line_starts.len());
        for ln in 1..=nlines as u32 {
            if self.out.len() >= self.limits.max_lines {
                let loc = Loc {
                    file: idx,
                    line: ln,
                };
                self.err(
                    loc,
                    0,
                    format!(
                        "source exceeds {} lines after preprocessing",
                        self.limits.max_lines
                    ),
                );
                break;
            }
            let loc = Loc {
                file: idx,
                line: ln,
            };
            let raw = self.files[idx as usize].line(ln).to_string();
            let text = match lexer::comment_start(&raw) {
                Some(c) => &raw[..c],
                None => &raw[..],
            };
            let trimmed = text.trim_start();
            let lead = text.len() - trimmed.len();
            let active = conds.last().is_none_or(|c| c.active);
            if self.in_macro {
                if trimmed.to_ascii_lowercase().starts_with("%endm") {
                    self.in_macro = false;
                }
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix('%') {
                let Some((dname, args)) = split_ident(rest) else {
                    if active {
                        self.err(
                            loc,
                            lead,
                            "preprocessor directive expected after `%'".into(),
                        );
                    }
                    continue;
                };
                let d = dname.to_ascii_lowercase();
                let args_pos = lead + 1 + dname.len() + (args.len() - args.trim_start().len());
                let args = args.trim();
                match d.as_str() {
                    "if" | "ifdef" | "ifndef" => {
                        let v = if !active {
                            false
                        } else if d == "if" {
                            self.eval_cond(loc, args_pos, args)
                        } else {
                            let name = args.split_whitespace().next().unwrap_or("");
                            if name.is_empty() {
                                self.err(loc, args_pos, format!("`%{d}' expects a macro name"));
                            }
                            self.defines.contains_key(name) == (d == "ifdef")
                        };
                        conds.push(Cond {
                            active: active && v,
                            taken: v,
                            outer: active,
                            else_seen: false,
                            loc,
                        });
                    }
                    "elif" | "elifdef" | "elifndef" => {
                        let Some(top) = conds.last() else {
                            self.err(loc, lead, format!("`%{d}' without `%if'"));
                            continue;
                        };
                        let (outer, taken) = (top.outer, top.taken);
                        let v = if !outer || taken {
                            false
                        } else if d == "elif" {
                            self.eval_cond(loc, args_pos, args)
                        } else {
                            let name = args.split_whitespace().next().unwrap_or("");
                            self.defines.contains_key(name) == (d == "elifdef")
                        };
                        if let Some(top) = conds.last_mut() {
                            top.active = outer && !taken && v;
                            top.taken |= v;
                        }
                    }
                    "else" => match conds.last_mut() {
                        Some(top) => {
                            if top.else_seen {
                                self.err(loc, lead, "`%else' after `%else'".into());
                            }
                            top.else_seen = true;
                            top.active = top.outer && !top.taken;
                            top.taken = true;
                        }
                        None => self.err(loc, lead, "`%else' without `%if'".into()),
                    },
                    "endif" => {
                        if conds.pop().is_none() {
                            self.err(loc, lead, "`%endif' without `%if'".into());
                        }
                    }
                    _ if !active => {}
                    "define" | "xdefine" | "idefine" | "xidefine" => {
                        let Some((name, body)) = split_ident(args) else {
                            self.err(loc, args_pos, format!("`%{d}' expects a macro name"));
                            continue;
                        };
                        if body.starts_with('(') {
                            self.err(
                                loc,
                                args_pos + name.len(),
                                "function-like macros are not supported".into(),
                            );
                            continue;
                        }
                        let mut body = body.trim().to_string();
                        if d.starts_with('x') {
                            match self.expand_line(&body) {
                                Ok((e, _)) => body = e,
                                Err(m) => {
                                    self.err(loc, args_pos, m);
                                    continue;
                                }
                            }
                        }
                        self.defines.insert(name.to_string(), body);
                    }
                    "undef" => {
                        let name = args.split_whitespace().next().unwrap_or("");
                        self.defines.remove(name);
                    }
                    "assign" | "iassign" => {
                        let Some((name, body)) = split_ident(args) else {
                            self.err(loc, args_pos, "`%assign' expects a macro name".into());
                            continue;
                        };
                        let epos = args_pos + name.len() + (body.len() - body.trim_start().len());
                        let (expanded, _) = match self.expand_line(body) {
                            Ok(x) => x,
                            Err(m) => {
                                self.err(loc, epos, m);
                                continue;
                            }
                        };
                        let toks = match lexer::tokenize(&expanded) {
                            Ok(t) => t,
                            Err(e) => {
                                self.err(loc, epos, e.message);
                                continue;
                            }
                        };
                        let mut p = expr::Parser::new(&toks, "", expanded.len());
                        match p.expr().and_then(|e| expr::eval(&e, &NoSymbols)) {
                            Ok(v) if v.unknown.is_none() && p.i == toks.len() => {
                                self.defines.insert(name.to_string(), format!("{}", v.n));
                            }
                            Ok(_) => {
                                self.err(loc, epos, "`%assign' needs a constant expression".into())
                            }
                            Err((_, m)) => self.err(loc, epos, m),
                        }
                    }
                    "include" => self.include_file(loc, args_pos, args),
                    "error" | "fatal" => self.err(loc, lead, format!("%{d}: {args}")),
                    "warning" | "line" | "pragma" => {}
                    "macro" | "imacro" | "rmacro" | "rep" => {
                        self.err(loc, lead, format!("`%{d}' is not supported"));
                        if d != "rep" {
                            self.in_macro = true;
                        }
                    }
                    _ => self.err(
                        loc,
                        lead,
                        format!("unknown preprocessor directive `%{dname}'"),
                    ),
                }
                continue;
            }
            if !active {
                continue;
            }
            match self.expand_line(text) {
                Ok((t, colmap)) => self.out.push(PLine {
                    loc,
                    text: t,
                    colmap,
                }),
                Err(m) => self.err(loc, lead, m),
            }
        }
        for c in conds {
            self.err(
                c.loc,
                0,
                "`%if' without `%endif' at the end of the file".into(),
            );
        }
        self.stack.pop();
    }

    fn include_file(&mut self, loc: Loc, pos: usize, args: &str) {
        let a = args.trim();
        let name = if a.len() >= 2
            && ((a.starts_with('"') && a.ends_with('"'))
                || (a.starts_with('\'') && a.ends_with('\''))
                || (a.starts_with('<') && a.ends_with('>')))
        {
            &a[1..a.len() - 1]
        } else {
            self.err(loc, pos, "`%include' expects a quoted file name".into());
            return;
        };
        if self.stack.len() >= self.limits.max_include_depth {
            let chain: Vec<&str> = self
                .stack
                .iter()
                .filter_map(|&i| self.files.get(i as usize))
                .map(|f| f.name.as_str())
                .collect();
            let cycle = chain.contains(&name);
            let msg = if cycle {
                format!(
                    "%include cycle: `{name}' is already open (nesting limit {})",
                    self.limits.max_include_depth
                )
            } else {
                format!(
                    "%include nested deeper than {} files",
                    self.limits.max_include_depth
                )
            };
            self.err(loc, pos, msg);
            return;
        }
        self.includes += 1;
        if self.includes > MAX_INCLUDES {
            if self.includes == MAX_INCLUDES + 1 {
                self.err(
                    loc,
                    pos,
                    format!("more than {MAX_INCLUDES} `%include's in one run"),
                );
            }
            return;
        }
        let Some(cb) = self.include else {
            self.err(
                loc,
                pos,
                format!("unable to open include file `{name}': no include files are available"),
            );
            return;
        };
        let Some(text) = cb(name) else {
            self.err(loc, pos, format!("unable to open include file `{name}'"));
            return;
        };
        self.files.push(SourceFile::new(name, text));
        let idx = (self.files.len() - 1) as u32;
        self.file(idx);
    }
}
