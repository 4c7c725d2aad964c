//! Statement parser: labels, directives, data, instructions and their operands.

use crate::expr::{self, Expr};
use crate::lexer::{Tok, Token};
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use iced_x86::Register;

/// Branch distance keywords.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dist {
    Short,
    Near,
    Far,
}

/// A memory reference as written: `[seg: expr]`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct MemRef {
    pub seg: Option<Register>,
    pub expr: Expr,
    /// `[byte ...]`, `[word ...]`, `[dword ...]`: displacement size in bytes.
    pub disp_size: Option<u32>,
}

/// What an operand is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum OpKind {
    Reg(Register),
    Mem(MemRef),
    Imm(Expr),
    /// `seg:offset` immediate far pointer.
    Far(Expr, Expr),
}

/// One operand with its modifiers.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Operand {
    pub kind: OpKind,
    /// `byte`/`word`/`dword`/`qword`/`tword` in bytes.
    pub size: Option<u32>,
    pub strict: bool,
    pub dist: Option<Dist>,
    pub pos: usize,
}

/// Instruction prefixes written before the mnemonic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefix {
    Rep,
    Repe,
    Repne,
    Lock,
    O16,
    O32,
    A16,
    A32,
    Seg(Register),
}

/// An instruction statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Insn {
    pub prefixes: Vec<Prefix>,
    /// Lower-case mnemonic; empty for a line with prefixes only.
    pub mnem: String,
    pub mpos: usize,
    pub ops: Vec<Operand>,
}

/// One item of a `db`/`dw`/`dd`/`dq` list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum DataItem {
    Expr(Expr, usize),
    Str(Vec<u8>),
    /// A floating-point constant: its text (sign included) and position.
    Float(String, usize),
}

/// The statement kinds.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Empty,
    Equ(Expr, usize),
    Bits(u32),
    Org(Expr, usize),
    Align {
        n: Expr,
        fill: Option<Expr>,
        bss: bool,
        pos: usize,
    },
    Data {
        unit: u32,
        items: Vec<DataItem>,
    },
    Res {
        unit: u32,
        count: Expr,
        pos: usize,
    },
    Insn(Insn),
    /// `struc NAME`: labels up to `endstruc` are offsets into a structure.
    Struc(String, usize),
    /// `endstruc`: defines `NAME_size`.
    EndStruc(usize),
    /// `istruc NAME`: an instance of a structure follows.
    IStruc(String, usize),
    /// `at FIELD, db ...`: pads the instance up to the field, then the data.
    At(Expr, usize, alloc::boxed::Box<Kind>),
    /// `iend`: pads the instance to `NAME_size`.
    IEnd(usize),
}

/// A parsed statement.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Stmt {
    /// Index of the preprocessed line.
    pub line: usize,
    pub label: Option<(String, usize)>,
    pub times: Option<(Expr, usize)>,
    pub kind: Kind,
}

/// A parse error: byte position and message.
pub(crate) type PError = (usize, String);

fn size_keyword(s: &str) -> Option<u32> {
    Some(match s {
        "byte" => 1,
        "word" => 2,
        "dword" => 4,
        "fword" => 6,
        "qword" => 8,
        "tword" => 10,
        "oword" => 16,
        _ => return None,
    })
}

fn data_unit(s: &str) -> Option<u32> {
    Some(match s {
        "db" => 1,
        "dw" => 2,
        "dd" => 4,
        "dq" => 8,
        "dt" => 10,
        "do" => 16,
        _ => return None,
    })
}

fn res_unit(s: &str) -> Option<u32> {
    Some(match s {
        "resb" => 1,
        "resw" => 2,
        "resd" => 4,
        "resq" => 8,
        "rest" => 10,
        "reso" => 16,
        _ => return None,
    })
}

fn prefix_keyword(s: &str) -> Option<Prefix> {
    Some(match s {
        "rep" => Prefix::Rep,
        "repe" | "repz" => Prefix::Repe,
        "repne" | "repnz" => Prefix::Repne,
        "lock" => Prefix::Lock,
        "o16" => Prefix::O16,
        "o32" => Prefix::O32,
        "a16" => Prefix::A16,
        "a32" => Prefix::A32,
        "es" => Prefix::Seg(Register::ES),
        "cs" => Prefix::Seg(Register::CS),
        "ss" => Prefix::Seg(Register::SS),
        "ds" => Prefix::Seg(Register::DS),
        "fs" => Prefix::Seg(Register::FS),
        "gs" => Prefix::Seg(Register::GS),
        _ => return None,
    })
}

const DIRECTIVES: &[&str] = &[
    "equ", "times", "bits", "use16", "use32", "org", "align", "alignb", "section", "segment",
    "cpu", "global", "extern", "default", "absolute", "incbin", "common", "struc", "endstruc",
    "istruc", "iend", "at",
];

/// Whether `lower` starts a statement (mnemonic, prefix or directive) rather than naming a label.
fn is_keyword(lower: &str, is_mnemonic: &dyn Fn(&str) -> bool) -> bool {
    data_unit(lower).is_some()
        || res_unit(lower).is_some()
        || prefix_keyword(lower).is_some()
        || DIRECTIVES.contains(&lower)
        || is_mnemonic(lower)
}

fn seg_reg(t: &Token) -> Option<Register> {
    match &t.kind {
        Tok::Ident(s) => crate::regs::lookup(s).filter(|r| r.is_segment_register()),
        _ => None,
    }
}

/// Statement parser for one line.
pub(crate) struct LineParser<'a> {
    pub toks: &'a [Token],
    pub end: usize,
    /// The last non-local label, for `.local` names.
    pub scope: &'a mut String,
    pub is_mnemonic: &'a dyn Fn(&str) -> bool,
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token {
            kind: Tok::Ident(s),
            ..
        }) => Some(s),
        _ => None,
    }
}

fn is_op(t: Option<&Token>, op: &str) -> bool {
    matches!(t, Some(Token { kind: Tok::Op(o), .. }) if *o == op)
}

impl LineParser<'_> {
    fn pos_at(&self, i: usize) -> usize {
        self.toks.get(i).map_or(self.end, |t| t.pos)
    }

    fn expr_at(&self, toks: &[Token], end: usize) -> Result<Expr, PError> {
        let mut p = expr::Parser::new(toks, self.scope, end);
        let e = p.expr()?;
        if p.i < toks.len() {
            return Err((p.pos(), "unexpected text after the expression".into()));
        }
        Ok(e)
    }

    /// Parses the whole line into a statement (or `None` for a blank line).
    pub fn statement(&mut self, line: usize) -> Result<Option<Stmt>, PError> {
        let toks = self.toks;
        if toks.is_empty() {
            return Ok(None);
        }
        // `[bits 32]`, `[org 0x7c00]`, `[map ...]`, `[section .text]` ...
        if is_op(toks.first(), "[") {
            let close = toks.iter().rposition(|t| t.kind == Tok::Op("]"));
            let Some(close) = close else {
                return Err((toks[0].pos, "expecting `]'".into()));
            };
            if close + 1 != toks.len() {
                return Err((toks[close + 1].pos, "unexpected text after `]'".into()));
            }
            let inner = &toks[1..close];
            let Some(name) = ident(inner.first()) else {
                return Err((self.pos_at(1), "directive expected after `['".into()));
            };
            let lower = name.to_ascii_lowercase();
            if matches!(
                lower.as_str(),
                "map" | "list" | "cpu" | "global" | "default" | "warning" | "optimize"
            ) {
                return Ok(Some(Stmt {
                    line,
                    label: None,
                    times: None,
                    kind: Kind::Empty,
                }));
            }
            let end = toks[close].pos;
            let kind = self.directive(&lower, inner, 1, end)?;
            return match kind {
                Some(k) => Ok(Some(Stmt {
                    line,
                    label: None,
                    times: None,
                    kind: k,
                })),
                None => Err((inner[0].pos, format!("unknown directive `{name}'"))),
            };
        }
        let mut i = 0;
        let mut label = None;
        if let Some(name) = ident(toks.first()) {
            let lower = name.to_ascii_lowercase();
            let colon = is_op(toks.get(1), ":");
            let reg = crate::regs::lookup(name).is_some();
            if colon && !reg {
                label = Some((name.to_string(), toks[0].pos));
                i = 2;
            } else if !is_keyword(&lower, self.is_mnemonic) && !reg {
                let next = ident(toks.get(1)).map(|s| s.to_ascii_lowercase());
                match next {
                    Some(n) if is_keyword(&n, self.is_mnemonic) => {
                        label = Some((name.to_string(), toks[0].pos));
                        i = 1;
                    }
                    None if toks.len() == 1 => {
                        label = Some((name.to_string(), toks[0].pos));
                        i = 1;
                    }
                    _ => {
                        return Err((toks[0].pos, format!("instruction expected, found `{name}'")));
                    }
                }
            }
        }
        let label = label.map(|(name, pos)| {
            let full = expr::qualify(self.scope, &name);
            (full, pos, name)
        });
        // `name equ value` does not open a new scope for local labels.
        if let Some(kw) = ident(toks.get(i)) {
            if kw.eq_ignore_ascii_case("equ") {
                let Some((full, pos, _)) = label else {
                    return Err((toks[i].pos, "`equ' without a label".into()));
                };
                let e = self.expr_at(&toks[i + 1..], self.end)?;
                return Ok(Some(Stmt {
                    line,
                    label: Some((full, pos)),
                    times: None,
                    kind: Kind::Equ(e, self.pos_at(i + 1)),
                }));
            }
        }
        let label = label.map(|(full, pos, name)| {
            if !name.starts_with('.') {
                *self.scope = name;
            }
            (full, pos)
        });
        let mut times = None;
        if let Some(kw) = ident(toks.get(i)) {
            if kw.eq_ignore_ascii_case("times") {
                // The count runs up to the next keyword that starts a statement.
                let start = i + 1;
                let mut j = start;
                let mut depth = 0i32;
                while j < toks.len() {
                    match &toks[j].kind {
                        Tok::Op("(") => depth += 1,
                        Tok::Op(")") => depth -= 1,
                        Tok::Ident(s)
                            if depth == 0
                                && j > start
                                && is_keyword(&s.to_ascii_lowercase(), self.is_mnemonic)
                                && (!matches!(toks[j - 1].kind, Tok::Op(_))
                                    || matches!(toks[j - 1].kind, Tok::Op(")"))) =>
                        {
                            break;
                        }
                        _ => {}
                    }
                    j += 1;
                }
                let e = self.expr_at(&toks[start..j], self.pos_at(j))?;
                times = Some((e, self.pos_at(start)));
                i = j;
                if i >= toks.len() {
                    return Err((
                        self.end,
                        "`times' needs an instruction or data after its count".into(),
                    ));
                }
            }
        }
        if i >= toks.len() {
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: Kind::Empty,
            }));
        }
        let Some(word) = ident(toks.get(i)) else {
            return Err((
                toks[i].pos,
                "instruction, directive or label expected".into(),
            ));
        };
        let lower = word.to_ascii_lowercase();
        let end = self.end;
        if lower == "struc" {
            let Some(name) = ident(toks.get(i + 1)) else {
                return Err((
                    self.pos_at(i + 1),
                    "`struc' expects a structure name".into(),
                ));
            };
            *self.scope = name.to_string();
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: Kind::Struc(name.to_string(), self.pos_at(i + 1)),
            }));
        }
        if lower == "istruc" {
            let Some(name) = ident(toks.get(i + 1)) else {
                return Err((
                    self.pos_at(i + 1),
                    "`istruc' expects a structure name".into(),
                ));
            };
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: Kind::IStruc(name.to_string(), self.pos_at(i + 1)),
            }));
        }
        if lower == "iend" {
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: Kind::IEnd(toks[i].pos),
            }));
        }
        if lower == "at" {
            let rest = &toks[i + 1..];
            let Some(comma) = rest.iter().position(|t| t.kind == Tok::Op(",")) else {
                return Err((
                    self.pos_at(i + 1),
                    "`at' expects a field, a comma and data".into(),
                ));
            };
            let field = self.expr_at(&rest[..comma], rest[comma].pos)?;
            let data = &rest[comma + 1..];
            let dname = ident(data.first())
                .map(|w| w.to_ascii_lowercase())
                .unwrap_or_default();
            let Some(inner @ Kind::Data { .. }) = self.directive(&dname, data, 0, end)? else {
                return Err((
                    data.first().map_or(end, |t| t.pos),
                    "`at' data must be `db', `dw', `dd' or `dq'".into(),
                ));
            };
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: Kind::At(field, self.pos_at(i + 1), alloc::boxed::Box::new(inner)),
            }));
        }
        if lower == "endstruc" {
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: Kind::EndStruc(toks[i].pos),
            }));
        }
        if let Some(k) = self.directive(&lower, &toks[i..], i, end)? {
            return Ok(Some(Stmt {
                line,
                label,
                times,
                kind: k,
            }));
        }
        let insn = self.instruction(&toks[i..])?;
        Ok(Some(Stmt {
            line,
            label,
            times,
            kind: Kind::Insn(insn),
        }))
    }

    /// Parses a directive starting at `toks[0]`; `None` if the word is not a directive.
    fn directive(
        &self,
        lower: &str,
        toks: &[Token],
        _at: usize,
        end: usize,
    ) -> Result<Option<Kind>, PError> {
        let args = &toks[1..];
        let args_pos = toks.get(1).map_or(end, |t| t.pos);
        if let Some(unit) = data_unit(lower) {
            if unit > 8 {
                return Err((toks[0].pos, format!("`{lower}' is not supported")));
            }
            let mut items = Vec::new();
            for (s, e) in split_commas(args) {
                let part = &args[s..e];
                if part.is_empty() {
                    return Err((
                        args.get(s).map_or(end, |t| t.pos),
                        "expression expected".into(),
                    ));
                }
                if part.len() == 1 {
                    if let Tok::Str(b) = &part[0].kind {
                        items.push(DataItem::Str(b.clone()));
                        continue;
                    }
                }
                match (part.len(), &part[0].kind, part.last().map(|t| &t.kind)) {
                    (1, Tok::Float(f), _) => {
                        items.push(DataItem::Float(f.clone(), part[0].pos));
                        continue;
                    }
                    (2, Tok::Op(sign @ ("-" | "+")), Some(Tok::Float(f))) => {
                        items.push(DataItem::Float(format!("{sign}{f}"), part[0].pos));
                        continue;
                    }
                    _ => {}
                }
                let item_end = args.get(e).map_or(end, |t| t.pos);
                items.push(DataItem::Expr(self.expr_at(part, item_end)?, part[0].pos));
            }
            if items.is_empty() {
                return Err((args_pos, format!("`{lower}' needs at least one value")));
            }
            return Ok(Some(Kind::Data { unit, items }));
        }
        if let Some(unit) = res_unit(lower) {
            let count = self.expr_at(args, end)?;
            return Ok(Some(Kind::Res {
                unit,
                count,
                pos: args_pos,
            }));
        }
        Ok(Some(match lower {
            "bits" => {
                let e = self.expr_at(args, end)?;
                match e {
                    Expr::Num(16) => Kind::Bits(16),
                    Expr::Num(32) => Kind::Bits(32),
                    Expr::Num(64) => return Err((args_pos, "64-bit code is not supported".into())),
                    _ => return Err((args_pos, "`bits' expects 16 or 32".into())),
                }
            }
            "use16" => Kind::Bits(16),
            "use32" => Kind::Bits(32),
            "org" => Kind::Org(self.expr_at(args, end)?, args_pos),
            "align" | "alignb" => {
                let parts = split_commas(args);
                let Some(&(s, e)) = parts.first() else {
                    return Err((args_pos, format!("`{lower}' expects an alignment")));
                };
                let n = self.expr_at(&args[s..e], args.get(e).map_or(end, |t| t.pos))?;
                let mut fill = None;
                if let Some(&(s2, e2)) = parts.get(1) {
                    let part = &args[s2..e2];
                    match ident(part.first()).map(|w| w.to_ascii_lowercase()) {
                        Some(w) if w == "db" && part.len() > 1 => {
                            fill = Some(self.expr_at(&part[1..], end)?)
                        }
                        Some(w) if w == "nop" && part.len() == 1 => fill = Some(Expr::Num(0x90)),
                        Some(w) if w == "resb" || w == "alignb" => {}
                        _ => {
                            return Err((
                                part.first().map_or(end, |t| t.pos),
                                "`align' fill must be `db VALUE' or `nop'".into(),
                            ));
                        }
                    }
                }
                if parts.len() > 2 {
                    return Err((args_pos, "too many arguments to `align'".into()));
                }
                Kind::Align {
                    n,
                    fill,
                    bss: lower == "alignb",
                    pos: args_pos,
                }
            }
            "section" | "segment" => {
                let name = ident(args.first()).unwrap_or("");
                if name != ".text" {
                    return Err((
                        args_pos,
                        "only the `.text' section is supported in flat binaries".into(),
                    ));
                }
                Kind::Empty
            }
            "cpu" | "global" | "default" => Kind::Empty,
            "extern" | "common" | "absolute" | "incbin" => {
                return Err((
                    toks[0].pos,
                    format!("`{lower}' is not supported in flat binaries"),
                ));
            }
            _ => return Ok(None),
        }))
    }

    fn instruction(&self, toks: &[Token]) -> Result<Insn, PError> {
        let mut prefixes = Vec::new();
        let mut i = 0;
        while let Some(w) = ident(toks.get(i)) {
            let lw = w.to_ascii_lowercase();
            match prefix_keyword(&lw) {
                // `es` etc. are prefixes only when not followed by `:` (that would be `es:[...]`).
                Some(p) if !is_op(toks.get(i + 1), ":") && !is_op(toks.get(i + 1), ",") => {
                    prefixes.push(p);
                    i += 1;
                }
                _ => break,
            }
        }
        let mpos = self.pos_at_tok(toks, i);
        let Some(m) = ident(toks.get(i)) else {
            if i >= toks.len() && !prefixes.is_empty() {
                return Ok(Insn {
                    prefixes,
                    mnem: String::new(),
                    mpos,
                    ops: Vec::new(),
                });
            }
            return Err((mpos, "instruction expected".into()));
        };
        let mnem = m.to_ascii_lowercase();
        if !(self.is_mnemonic)(&mnem) {
            return Err((mpos, format!("instruction expected, found `{m}'")));
        }
        let rest = &toks[i + 1..];
        let mut ops = Vec::new();
        if !rest.is_empty() {
            for (s, e) in split_commas(rest) {
                let part = &rest[s..e];
                let end = rest.get(e).map_or(self.end, |t| t.pos);
                if part.is_empty() {
                    return Err((end, "operand expected".into()));
                }
                ops.push(self.operand(part, end)?);
            }
        }
        Ok(Insn {
            prefixes,
            mnem,
            mpos,
            ops,
        })
    }

    fn pos_at_tok(&self, toks: &[Token], i: usize) -> usize {
        toks.get(i).map_or(self.end, |t| t.pos)
    }

    fn operand(&self, toks: &[Token], end: usize) -> Result<Operand, PError> {
        let pos = toks[0].pos;
        let mut size = None;
        let mut strict = false;
        let mut dist = None;
        let mut i = 0;
        while let Some(w) = ident(toks.get(i)) {
            let lw = w.to_ascii_lowercase();
            if let Some(s) = size_keyword(&lw) {
                size = Some(s);
            } else if lw == "strict" {
                strict = true;
            } else if lw == "short" {
                dist = Some(Dist::Short);
            } else if lw == "near" {
                dist = Some(Dist::Near);
            } else if lw == "far" {
                dist = Some(Dist::Far);
            } else {
                break;
            }
            i += 1;
        }
        let t = &toks[i..];
        if t.is_empty() {
            return Err((end, "operand expected".into()));
        }
        // seg:[...]
        let mut seg = None;
        let mut mt = t;
        if let Some(r) = t.first().and_then(seg_reg) {
            if is_op(t.get(1), ":") && is_op(t.get(2), "[") {
                seg = Some(r);
                mt = &t[2..];
            }
        }
        if is_op(mt.first(), "[") {
            let Some(close) = mt.iter().rposition(|t| t.kind == Tok::Op("]")) else {
                return Err((mt[0].pos, "expecting `]'".into()));
            };
            if close + 1 != mt.len() {
                return Err((mt[close + 1].pos, "unexpected text after `]'".into()));
            }
            let mut inner = &mt[1..close];
            let mut disp_size = None;
            while let Some(w) = ident(inner.first()) {
                let lw = w.to_ascii_lowercase();
                if let Some(s) = size_keyword(&lw) {
                    disp_size = Some(s);
                    inner = &inner[1..];
                } else if lw == "nosplit" || lw == "abs" || lw == "rel" {
                    inner = &inner[1..];
                } else {
                    break;
                }
            }
            if let Some(r) = inner.first().and_then(seg_reg) {
                if is_op(inner.get(1), ":") {
                    if seg.is_some() {
                        return Err((inner[0].pos, "more than one segment override".into()));
                    }
                    seg = Some(r);
                    inner = &inner[2..];
                }
            }
            if inner.is_empty() {
                return Err((mt[close].pos, "address expected inside `[ ]'".into()));
            }
            let expr = self.expr_at(inner, mt[close].pos)?;
            return Ok(Operand {
                kind: OpKind::Mem(MemRef {
                    seg,
                    expr,
                    disp_size,
                }),
                size,
                strict,
                dist,
                pos,
            });
        }
        if t.len() == 1 {
            if let Some(r) = ident(t.first()).and_then(crate::regs::lookup) {
                return Ok(Operand {
                    kind: OpKind::Reg(r),
                    size,
                    strict,
                    dist,
                    pos,
                });
            }
        }
        // seg:offset far pointer (a top-level `:`).
        let mut depth = 0i32;
        let mut colon = None;
        for (k, tk) in t.iter().enumerate() {
            match tk.kind {
                Tok::Op("(") => depth += 1,
                Tok::Op(")") => depth -= 1,
                Tok::Op(":") if depth == 0 => {
                    colon = Some(k);
                    break;
                }
                _ => {}
            }
        }
        if let Some(c) = colon {
            let a = self.expr_at(&t[..c], t[c].pos)?;
            let b = self.expr_at(&t[c + 1..], end)?;
            return Ok(Operand {
                kind: OpKind::Far(a, b),
                size,
                strict,
                dist,
                pos,
            });
        }
        let e = self.expr_at(t, end)?;
        Ok(Operand {
            kind: OpKind::Imm(e),
            size,
            strict,
            dist,
            pos,
        })
    }
}

/// Splits a token list at top-level commas; returns index ranges.
fn split_commas(toks: &[Token]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::Op("(") | Tok::Op("[") => depth += 1,
            Tok::Op(")") | Tok::Op("]") => depth -= 1,
            Tok::Op(",") if depth <= 0 => {
                out.push((start, i));
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push((start, toks.len()));
    out
}
