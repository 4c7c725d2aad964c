//! The preprocessor: `%define` and `%assign`, the `%if`/`%ifdef` families, `%include`,
//! multi-line `%macro`s and `%rep` blocks.

use crate::expr::{self, Context};
use crate::lexer;
use crate::source::{Loc, PLine, SourceFile};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// A preprocessor error at a line and byte offset in the original text.
pub(crate) struct PpError {
    pub loc: Loc,
    pub pos: usize,
    pub message: String,
}

/// What preprocessing gives: the files read, the lines for the parser, and the
/// errors and `%warning`s at their original positions.
pub(crate) struct Preprocessed {
    pub files: Vec<SourceFile>,
    pub lines: Vec<PLine>,
    pub errors: Vec<PpError>,
    pub warnings: Vec<PpError>,
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
    /// `%warning` messages, in the same form as the errors.
    warnings: Vec<PpError>,
    limits: Limits,
    stack: Vec<u32>,
    includes: usize,
    macros: BTreeMap<String, Macro>,
    /// `%define NAME(a, b) body`: parameter names and body.
    fdefines: BTreeMap<String, (Vec<String>, String)>,
    macro_uses: u64,
    /// Lines processed so far, expansions included.
    work: usize,
    /// A limit was hit; nothing more is processed.
    halted: bool,
}

/// A multi-line macro from `%macro NAME COUNT ... %endmacro`.
struct Macro {
    min: usize,
    max: usize,
    /// The last parameter takes the rest of the line (`%macro NAME 1+`).
    greedy: bool,
    body: Vec<(Loc, String)>,
}

/// A directive line, `%name args`, split up.
struct Directive<'t> {
    loc: Loc,
    /// Byte offset of the `%`.
    lead: usize,
    /// The name as written.
    name: &'t str,
    /// The name in lower case.
    lower: String,
    /// The arguments, trimmed, and the byte offset where they start.
    args: &'t str,
    args_pos: usize,
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
) -> Preprocessed {
    let mut pp = Pp {
        defines: BTreeMap::new(),
        include,
        files: Vec::new(),
        out: Vec::new(),
        errors: Vec::new(),
        warnings: Vec::new(),
        limits,
        stack: Vec::new(),
        includes: 0,
        macros: BTreeMap::new(),
        fdefines: BTreeMap::new(),
        macro_uses: 0,
        work: 0,
        halted: false,
    };
    for (k, v) in defines {
        pp.defines.insert(k.clone(), v.clone().unwrap_or_default());
    }
    pp.files.push(SourceFile::new(name, source.to_string()));
    pp.file(0);
    Preprocessed {
        files: pp.files,
        lines: pp.out,
        errors: pp.errors,
        warnings: pp.warnings,
    }
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
                if let Some((params, body)) = self.fdefines.get(name) {
                    let after = text[i..].trim_start();
                    if after.starts_with('(') && !active.iter().any(|a| a == name) {
                        let open = text.len() - after.len();
                        let Some((args, end)) = call_args(text, open) else {
                            return Err(format!("expecting `)' to end the arguments of `{name}'"));
                        };
                        if args.len() != params.len()
                            && !(params.is_empty() && args.len() == 1 && args[0].is_empty())
                        {
                            return Err(format!(
                                "`{name}' expects {} arguments, got {}",
                                params.len(),
                                args.len()
                            ));
                        }
                        let substituted = replace_params(body, params, &args);
                        if active.len() >= MAX_EXPANSION_DEPTH {
                            return Err(format!("macro expansion of `{name}' nested too deeply"));
                        }
                        active.push(name.to_string());
                        let sub: Vec<u32> =
                            alloc::vec![base.get(start).copied().unwrap_or(0); substituted.len()];
                        self.expand(&substituted, &sub, active, out, map)?;
                        active.pop();
                        if out.len() > MAX_LINE_EXPANSION {
                            return Err(format!(
                                "macro expansion exceeds {MAX_LINE_EXPANSION} bytes"
                            ));
                        }
                        i = end;
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
                if self.defines.contains_key(&text[i..j]) || self.fdefines.contains_key(&text[i..j])
                {
                    any = true;
                    break;
                }
                i = j;
            } else {
                i += 1;
            }
        }
        if !any && !text.contains("%+") {
            return Ok((text.to_string(), None));
        }
        let base: Vec<u32> = (0..text.len() as u32).collect();
        let mut out = String::new();
        let mut map = Vec::new();
        self.expand(text, &base, &mut Vec::new(), &mut out, &mut map)?;
        // `a %+ b` pastes two tokens together.
        while let Some(p) = out.find("%+") {
            let left = out[..p].trim_end().len();
            let right = p + 2 + (out[p + 2..].len() - out[p + 2..].trim_start().len());
            out.replace_range(left..right, "");
            map.drain(left..right.min(map.len()));
        }
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
        let lines: Vec<(Loc, String)> = match self.files.get(idx as usize) {
            Some(f) => (1..=f.line_starts.len() as u32)
                .map(|ln| {
                    (
                        Loc {
                            file: idx,
                            line: ln,
                        },
                        f.line(ln).to_string(),
                    )
                })
                .collect(),
            None => Vec::new(),
        };
        self.block(&lines, &mut conds, 0);
        for c in conds {
            self.err(
                c.loc,
                0,
                "`%if' without `%endif' at the end of the file".into(),
            );
        }
        self.stack.pop();
    }

    /// Preprocesses a run of lines (a file, a `%rep` body or a macro expansion).
    fn block(&mut self, lines: &[(Loc, String)], conds: &mut Vec<Cond>, depth: usize) {
        if self.halted {
            return;
        }
        if depth > MAX_EXPANSION_DEPTH {
            if let Some((loc, _)) = lines.first() {
                self.err(
                    *loc,
                    0,
                    format!("macros and `%rep' nested deeper than {MAX_EXPANSION_DEPTH}"),
                );
            }
            return;
        }
        let mut i = 0;
        while i < lines.len() {
            let (loc, raw) = (lines[i].0, lines[i].1.clone());
            if !self.count_line(loc) {
                return;
            }
            i += 1;
            let text = match lexer::comment_start(&raw) {
                Some(c) => &raw[..c],
                None => &raw[..],
            };
            let trimmed = text.trim_start();
            let lead = text.len() - trimmed.len();
            let active = conds.last().is_none_or(|c| c.active);
            if let Some(rest) = trimmed.strip_prefix('%') {
                let Some((name, args)) = split_ident(rest) else {
                    if active {
                        self.err(
                            loc,
                            lead,
                            "preprocessor directive expected after `%'".into(),
                        );
                    }
                    continue;
                };
                let dir = Directive {
                    loc,
                    lead,
                    name,
                    lower: name.to_ascii_lowercase(),
                    args_pos: lead + 1 + name.len() + (args.len() - args.trim_start().len()),
                    args: args.trim(),
                };
                if Self::is_conditional(&dir.lower) {
                    self.conditional(&dir, conds, active);
                } else if active && !self.directive(&dir, lines, &mut i, depth) {
                    return;
                }
                continue;
            }
            if active {
                self.text_line(loc, lead, text, depth);
            }
        }
    }

    /// Counts one line looked at against the limits; false (after reporting it once)
    /// when preprocessing must stop. Every line counts, so macros that call themselves
    /// or nested `%rep`s cannot run away even when they produce nothing.
    fn count_line(&mut self, loc: Loc) -> bool {
        self.work += 1;
        if self.work > self.limits.max_lines.saturating_mul(2) {
            if !self.halted {
                self.halted = true;
                self.err(
                    loc,
                    0,
                    format!(
                        "preprocessing stopped after {} lines of macro and `%rep' expansion",
                        self.work - 1
                    ),
                );
            }
            return false;
        }
        if self.out.len() >= self.limits.max_lines {
            if !self.halted {
                self.halted = true;
                self.err(
                    loc,
                    0,
                    format!(
                        "source exceeds {} lines after preprocessing",
                        self.limits.max_lines
                    ),
                );
            }
            return false;
        }
        true
    }

    /// Whether directive `d` (lower case) opens, continues or closes a conditional.
    fn is_conditional(d: &str) -> bool {
        matches!(
            d,
            "if" | "ifdef" | "ifndef" | "elif" | "elifdef" | "elifndef" | "else" | "endif"
        )
    }

    /// Whether `name` is a defined single-line macro (with or without parameters).
    fn is_defined(&self, name: &str) -> bool {
        self.defines.contains_key(name) || self.fdefines.contains_key(name)
    }

    /// `%if`, `%ifdef`, `%ifndef`, the `%elif` family, `%else` and `%endif`.
    fn conditional(&mut self, dir: &Directive<'_>, conds: &mut Vec<Cond>, active: bool) {
        let (loc, lead, d, args) = (dir.loc, dir.lead, dir.lower.as_str(), dir.args);
        match d {
            "if" | "ifdef" | "ifndef" => {
                let v = if !active {
                    false
                } else if d == "if" {
                    self.eval_cond(loc, dir.args_pos, args)
                } else {
                    let name = args.split_whitespace().next().unwrap_or("");
                    if name.is_empty() {
                        self.err(loc, dir.args_pos, format!("`%{d}' expects a macro name"));
                    }
                    self.is_defined(name) == (d == "ifdef")
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
                    return;
                };
                let (outer, taken) = (top.outer, top.taken);
                let v = if !outer || taken {
                    false
                } else if d == "elif" {
                    self.eval_cond(loc, dir.args_pos, args)
                } else {
                    let name = args.split_whitespace().next().unwrap_or("");
                    self.is_defined(name) == (d == "elifdef")
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
            _ => {
                if conds.pop().is_none() {
                    self.err(loc, lead, "`%endif' without `%if'".into());
                }
            }
        }
    }

    /// Every other directive, in an active region. `i` is the next line of `lines`;
    /// `%macro` and `%rep` move it past their bodies. Returns false when the block
    /// must stop (a body without its end).
    fn directive(
        &mut self,
        dir: &Directive<'_>,
        lines: &[(Loc, String)],
        i: &mut usize,
        depth: usize,
    ) -> bool {
        let (loc, lead, d, args) = (dir.loc, dir.lead, dir.lower.as_str(), dir.args);
        match d {
            "define" | "xdefine" | "idefine" | "xidefine" => {
                self.define(loc, dir.args_pos, d, args)
            }
            "undef" => {
                let name = args.split_whitespace().next().unwrap_or("");
                self.defines.remove(name);
                self.fdefines.remove(name);
            }
            "assign" | "iassign" => self.assign(loc, dir.args_pos, args),
            "include" => self.include_file(loc, dir.args_pos, args),
            "error" | "fatal" => self.err(loc, lead, format!("%{d}: {args}")),
            "warning" => self.warnings.push(PpError {
                loc,
                pos: lead,
                message: format!("{args} [-w+user]"),
            }),
            "line" | "pragma" => {}
            "macro" | "imacro" => {
                let end = find_end(lines, *i, &["macro", "imacro"], &["endmacro", "endm"]);
                let Some(end) = end else {
                    self.err(loc, lead, format!("`%{d}' without `%endmacro'"));
                    return false;
                };
                self.define_macro(loc, dir.args_pos, args, &lines[*i..end]);
                *i = end + 1;
            }
            "rep" => {
                let Some(end) = find_end(lines, *i, &["rep"], &["endrep"]) else {
                    self.err(loc, lead, "`%rep' without `%endrep'".into());
                    return false;
                };
                let body = &lines[*i..end];
                *i = end + 1;
                self.repeat(loc, dir.args_pos, args, body, depth);
            }
            "endrep" | "endmacro" | "endm" => {
                self.err(loc, lead, format!("`%{d}' without a matching start"))
            }
            "rmacro" | "exitrep" | "exitmacro" | "rotate" => {
                self.err(loc, lead, format!("`%{d}' is not supported"))
            }
            _ => self.err(
                loc,
                lead,
                format!("unknown preprocessor directive `%{}'", dir.name),
            ),
        }
        true
    }

    /// `%define` and its variants (`d`): a single-line macro, with parameters when the
    /// name is followed by `(`; `%xdefine` and `%xidefine` expand the body at definition.
    fn define(&mut self, loc: Loc, args_pos: usize, d: &str, args: &str) {
        let Some((name, body)) = split_ident(args) else {
            self.err(loc, args_pos, format!("`%{d}' expects a macro name"));
            return;
        };
        if let Some(rest) = body.strip_prefix('(') {
            let Some(close) = rest.find(')') else {
                self.err(
                    loc,
                    args_pos + name.len(),
                    "expecting `)' after the macro parameters".into(),
                );
                return;
            };
            let params: Vec<String> = rest[..close]
                .split(',')
                .map(|p| p.trim().to_string())
                .filter(|p| !p.is_empty())
                .collect();
            let body = rest[close + 1..].trim().to_string();
            self.fdefines.insert(name.to_string(), (params, body));
            return;
        }
        let mut body = body.trim().to_string();
        if d.starts_with('x') {
            match self.expand_line(&body) {
                Ok((e, _)) => body = e,
                Err(m) => {
                    self.err(loc, args_pos, m);
                    return;
                }
            }
        }
        self.defines.insert(name.to_string(), body);
    }

    /// `%assign name expr`: defines `name` as the expression's constant value.
    fn assign(&mut self, loc: Loc, args_pos: usize, args: &str) {
        let Some((name, body)) = split_ident(args) else {
            self.err(loc, args_pos, "`%assign' expects a macro name".into());
            return;
        };
        let epos = args_pos + name.len() + (body.len() - body.trim_start().len());
        let (expanded, _) = match self.expand_line(body) {
            Ok(x) => x,
            Err(m) => {
                self.err(loc, epos, m);
                return;
            }
        };
        let toks = match lexer::tokenize(&expanded) {
            Ok(t) => t,
            Err(e) => {
                self.err(loc, epos, e.message);
                return;
            }
        };
        let mut p = expr::Parser::new(&toks, "", expanded.len());
        match p.expr().and_then(|e| expr::eval(&e, &NoSymbols)) {
            Ok(v) if v.unknown.is_none() && p.i == toks.len() => {
                self.defines.insert(name.to_string(), format!("{}", v.n));
            }
            Ok(_) => self.err(loc, epos, "`%assign' needs a constant expression".into()),
            Err((_, m)) => self.err(loc, epos, m),
        }
    }

    /// `%rep count` … `%endrep`: preprocesses `body` `count` times, within the line limit.
    fn repeat(
        &mut self,
        loc: Loc,
        args_pos: usize,
        args: &str,
        body: &[(Loc, String)],
        depth: usize,
    ) {
        let Some(count) = self.eval_number(loc, args_pos, args) else {
            return;
        };
        if count < 0 {
            self.err(loc, args_pos, format!("`%rep' count {count} is negative"));
            return;
        }
        let room = self.limits.max_lines.saturating_sub(self.out.len()) as u64;
        if (count as u64).saturating_mul(body.len().max(1) as u64) > room.saturating_add(1) {
            self.err(
                loc,
                args_pos,
                format!(
                    "`%rep' count {count} exceeds the limit of {} lines",
                    self.limits.max_lines
                ),
            );
            return;
        }
        for _ in 0..count {
            if self.halted {
                break;
            }
            let mut inner = Vec::new();
            self.block(body, &mut inner, depth + 1);
            for c in inner {
                self.err(c.loc, 0, "`%if' without `%endif' inside `%rep'".into());
            }
        }
    }

    /// A line that is not a directive: a multi-line macro call is expanded in place,
    /// anything else goes out with its single-line macros expanded.
    fn text_line(&mut self, loc: Loc, lead: usize, text: &str, depth: usize) {
        if let Some(expansion) = self
            .expand_line(text)
            .ok()
            .and_then(|(t, _)| self.macro_call(loc, &t))
        {
            let mut inner = Vec::new();
            self.block(&expansion, &mut inner, depth + 1);
            for c in inner {
                self.err(c.loc, 0, "`%if' without `%endif' inside a macro".into());
            }
            return;
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

    fn eval_number(&mut self, loc: Loc, pos: usize, text: &str) -> Option<i64> {
        let (expanded, _) = match self.expand_line(text) {
            Ok(x) => x,
            Err(m) => {
                self.err(loc, pos, m);
                return None;
            }
        };
        let toks = match lexer::tokenize(&expanded) {
            Ok(t) => t,
            Err(e) => {
                self.err(loc, pos, e.message);
                return None;
            }
        };
        let mut p = expr::Parser::new(&toks, "", expanded.len());
        match p.expr().and_then(|e| expr::eval(&e, &NoSymbols)) {
            Ok(v) if v.unknown.is_none() && p.i == toks.len() => Some(v.n),
            Ok(_) => {
                self.err(loc, pos, "a constant expression is needed here".into());
                None
            }
            Err((_, m)) => {
                self.err(loc, pos, m);
                None
            }
        }
    }

    fn define_macro(&mut self, loc: Loc, pos: usize, args: &str, body: &[(Loc, String)]) {
        let mut words = args.split_whitespace();
        let (Some(name), Some(spec)) = (words.next(), words.next()) else {
            self.err(
                loc,
                pos,
                "`%macro' expects a name and a parameter count".into(),
            );
            return;
        };
        let greedy = spec.ends_with('+');
        let spec = spec.trim_end_matches('+');
        let (min, max) = match spec.split_once('-') {
            Some((a, b)) => (
                a.parse().ok(),
                if b == "*" {
                    Some(usize::MAX)
                } else {
                    b.parse().ok()
                },
            ),
            None => (spec.parse().ok(), spec.parse().ok()),
        };
        let (Some(min), Some(max)) = (min, max) else {
            self.err(
                loc,
                pos,
                format!("invalid parameter count `{spec}' in `%macro'"),
            );
            return;
        };
        self.macros.insert(
            name.to_string(),
            Macro {
                min,
                max,
                greedy,
                body: body.to_vec(),
            },
        );
    }

    /// If `text` calls a multi-line macro, returns its expansion (with the line's label first).
    fn macro_call(&mut self, loc: Loc, text: &str) -> Option<Vec<(Loc, String)>> {
        if self.macros.is_empty() {
            return None;
        }
        let t = text.trim_start();
        let (label, rest) = match split_ident(t) {
            Some((l, r)) if r.starts_with(':') && !self.macros.contains_key(l) => {
                (Some(l), r[1..].trim_start())
            }
            _ => (None, t),
        };
        let (name, args) = split_ident(rest)?;
        let m = self.macros.get(name)?;
        let mut params = split_args(args);
        if m.greedy && m.max > 0 && params.len() > m.max {
            let tail = params.split_off(m.max - 1).join(", ");
            params.push(tail);
        }
        if params.len() < m.min || params.len() > m.max {
            let msg = format!(
                "macro `{name}' expects {} to {} parameters, got {}",
                m.min,
                m.max,
                params.len()
            );
            self.err(loc, 0, msg);
            return Some(Vec::new());
        }
        self.macro_uses += 1;
        let id = self.macro_uses;
        let mut out = Vec::new();
        if let Some(l) = label {
            out.push((loc, format!("{l}:")));
        }
        for (bloc, line) in &m.body {
            out.push((*bloc, substitute(line, &params, id)));
        }
        Some(out)
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

/// Index of the line that closes the block opened just before `lines[from]`.
fn find_end(lines: &[(Loc, String)], from: usize, open: &[&str], close: &[&str]) -> Option<usize> {
    let mut depth = 0usize;
    for (k, (_, raw)) in lines.iter().enumerate().skip(from) {
        let Some(rest) = raw.trim_start().strip_prefix('%') else {
            continue;
        };
        let Some((name, _)) = split_ident(rest) else {
            continue;
        };
        let name = name.to_ascii_lowercase();
        if open.contains(&name.as_str()) {
            depth += 1;
        } else if close.contains(&name.as_str()) {
            if depth == 0 {
                return Some(k);
            }
            depth -= 1;
        }
    }
    None
}

/// Splits macro arguments at top-level commas (quotes, brackets and braces group).
fn split_args(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => {
                quote = Some(c);
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' => {
                depth -= 1;
                cur.push(c);
            }
            ',' if depth == 0 => out.push(core::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    if !s.trim().is_empty() {
        out.push(cur);
    }
    out.into_iter()
        .map(|a| {
            let t = a.trim();
            t.strip_prefix('{')
                .and_then(|x| x.strip_suffix('}'))
                .unwrap_or(t)
                .to_string()
        })
        .collect()
}

/// Replaces `%1`..`%9`, `%{N}`, `%0` and `%%local` in one line of a macro body.
fn substitute(line: &str, params: &[String], id: u64) -> String {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if b.get(i + 1) == Some(&b'%') && b.get(i + 2).is_some_and(|&c| is_ident_start(c)) {
                out.push_str(&format!("..@{id}."));
                i += 2;
                continue;
            }
            let (num, len) = if b.get(i + 1) == Some(&b'{') {
                match line.get(i + 2..).and_then(|r| r.find('}')) {
                    Some(e) => (
                        line.get(i + 2..i + 2 + e)
                            .and_then(|d| d.parse::<usize>().ok()),
                        e + 3,
                    ),
                    None => (None, 0),
                }
            } else {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                (
                    line.get(i + 1..i + 1 + digits)
                        .and_then(|d| d.parse::<usize>().ok()),
                    digits + 1,
                )
            };
            if let Some(n) = num {
                if n == 0 {
                    out.push_str(&format!("{}", params.len()));
                } else if let Some(p) = params.get(n - 1) {
                    out.push_str(p);
                }
                i += len;
                continue;
            }
        }
        let ch = line[i..].chars().next().unwrap_or(' ');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}

/// The arguments of a function-like macro call whose `(` is at `open`, and the index
/// just after the closing `)`.
fn call_args(text: &str, open: usize) -> Option<(Vec<String>, usize)> {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (k, c) in text[open..].char_indices() {
        if let Some(q) = quote {
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' | '`' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => {
                depth -= 1;
                if depth == 0 {
                    let inner = &text[open + 1..open + k];
                    return Some((
                        split_args(inner)
                            .into_iter()
                            .chain(inner.trim().is_empty().then(String::new))
                            .collect(),
                        open + k + 1,
                    ));
                }
            }
            _ => {}
        }
    }
    None
}

/// Replaces whole-word parameter names in a function-like macro body.
fn replace_params(body: &str, params: &[String], args: &[String]) -> String {
    let b = body.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if is_ident_start(b[i]) && (i == 0 || !is_ident_char(b[i - 1])) {
            let mut j = i + 1;
            while j < b.len() && is_ident_char(b[j]) {
                j += 1;
            }
            let word = &body[i..j];
            match params.iter().position(|p| p == word) {
                Some(k) => out.push_str(args.get(k).map_or("", |a| a.as_str())),
                None => out.push_str(word),
            }
            i = j;
        } else {
            let ch = body[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}
