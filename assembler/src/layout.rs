//! Layout: the multi-pass loop that places every statement, resolves labels and emits bytes.

use crate::bounds::{self, Store};
use crate::expr::{self, Context, Expr, Value};
use crate::insn::{self, Env, Isa, RKind, Resolved};
use crate::parser::{DataItem, Kind, OpKind, Stmt};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

/// A symbol's value as of the pass that last defined it.
#[derive(Clone, Debug)]
pub(crate) struct Sym {
    pub value: i64,
    pub is_label: bool,
    pub pass: u32,
}

/// An error from layout: preprocessed line index, byte position, message.
pub(crate) type LError = (usize, usize, String);

/// The result of the last pass.
pub(crate) struct Layout {
    pub bytes: Vec<u8>,
    /// (preprocessed line index, offset, length) for each statement that emitted bytes.
    pub spans: Vec<(usize, u32, u32)>,
    pub symbols: BTreeMap<String, Sym>,
    pub origin: i64,
    pub errors: Vec<LError>,
    /// Errors beyond the kept ones, only counted.
    pub dropped_errors: usize,
    /// Warnings of the last pass (NASM's number-overflow warnings), in the same form.
    pub warnings: Vec<LError>,
}

/// Resource limits for layout.
pub(crate) struct Limits {
    pub max_output: usize,
}

/// Errors kept per pass; more are only counted.
const MAX_KEPT_ERRORS: usize = 10_000;

/// Passes before statements that keep growing are locked to their long forms.
const MONOTONE_AFTER: u32 = 16;
/// Base number of passes allowed (one more per statement, up to a limit, once locking starts).
const MAX_PASSES: u32 = 32;

struct Ctx<'a> {
    syms: &'a BTreeMap<String, Sym>,
    here: i64,
    start: i64,
}

impl Context for Ctx<'_> {
    fn symbol(&self, name: &str) -> Option<(i64, bool)> {
        self.syms.get(name).map(|s| (s.value, s.is_label))
    }
    fn here(&self) -> i64 {
        self.here
    }
    fn sect_start(&self) -> i64 {
        self.start
    }
}

struct Pass<'a> {
    isa: &'a Isa,
    syms: &'a mut BTreeMap<String, Sym>,
    pass: u32,
    origin: i64,
    org_seen: Option<i64>,
    out: Vec<u8>,
    spans: Vec<(usize, u32, u32)>,
    errors: Vec<LError>,
    warnings: Vec<LError>,
    changed: bool,
    bits: u32,
    max_output: usize,
    overflow: bool,
    line_start: i64,
    /// The current statement's count or address was a forward reference in pass 1.
    critical_stmt: bool,
    /// A critical expression of the current statement is not known yet.
    critical_unknown: bool,
    dropped_errors: usize,
    /// Inside `struc NAME`: the offset counter and the name.
    structure: Option<(i64, String)>,
    /// Inside `istruc NAME`: where the instance starts in the output, and the name.
    instance: Option<(usize, String)>,
}

fn uses_here(e: &Expr) -> bool {
    match e {
        Expr::Here | Expr::SectStart => true,
        Expr::Un(_, a, _) => uses_here(a),
        Expr::Bin(_, a, b, _) => uses_here(a) || uses_here(b),
        _ => false,
    }
}

fn kind_uses_ip(k: &Kind) -> bool {
    match k {
        Kind::Data { items, .. } => items
            .iter()
            .any(|i| matches!(i, DataItem::Expr(e, _) if uses_here(e))),
        Kind::Insn(insn) => {
            let m = insn.mnem.as_str();
            m.starts_with('j')
                || m.starts_with("loop")
                || m == "call"
                || insn.ops.iter().any(|o| match &o.kind {
                    OpKind::Imm(e) => uses_here(e),
                    OpKind::Mem(m) => uses_here(&m.expr),
                    OpKind::Far(a, b) => uses_here(a) || uses_here(b),
                    OpKind::Reg(_) => false,
                })
        }
        _ => true,
    }
}

impl Pass<'_> {
    fn here(&self) -> i64 {
        self.origin.wrapping_add(self.out.len() as i64)
    }

    /// `$`: the address where the current statement starts (the first repetition of a `times`).
    fn line_here(&self) -> i64 {
        self.line_start
    }

    fn eval(&mut self, line: usize, e: &Expr) -> Option<Value> {
        let ctx = Ctx {
            syms: self.syms,
            here: self.line_here(),
            start: self.origin,
        };
        match expr::eval(e, &ctx) {
            Ok(v) => {
                if let Some((name, pos)) = &v.undefined {
                    self.err((line, *pos, format!("symbol `{name}' not defined")));
                }
                Some(v)
            }
            Err((pos, m)) => {
                self.err((line, pos, m));
                None
            }
        }
    }

    /// Evaluates an expression that must be a plain number (counts, alignments).
    /// With `critical`, the value must be known in the first pass (NASM's rule for
    /// `times`, `align` and `org`): a forward reference there is an error.
    fn scalar(
        &mut self,
        line: usize,
        pos: usize,
        e: &Expr,
        what: &str,
        critical: bool,
    ) -> Option<i64> {
        if critical && self.critical_stmt {
            self.err((
                line,
                pos,
                format!("{what} uses a symbol defined later in the source"),
            ));
            return None;
        }
        let v = self.eval(line, e)?;
        if v.unknown.is_some() {
            self.critical_unknown |= critical;
            return None;
        }
        if !v.regs.is_empty() || v.reloc != 0 {
            self.err((line, pos, format!("{what} must be a constant")));
            return None;
        }
        Some(v.n)
    }

    /// Pads a structure instance that started at output offset `start` up to `offset`.
    fn pad_instance(&mut self, line: usize, pos: usize, start: usize, offset: i64) {
        let have = (self.out.len() - start) as i64;
        if offset < have {
            self.err((line, pos, format!("structure field at offset {offset} overlaps data already written ({have} bytes)")));
            return;
        }
        if self.room(line, pos, (offset - have) as u64) {
            self.out
                .resize(self.out.len() + (offset - have) as usize, 0);
        }
    }

    /// Handles a statement inside `struc`; false if it must not be assembled normally.
    fn struc_stmt(&mut self, st: &Stmt) -> bool {
        let line = st.line;
        match &st.kind {
            Kind::Empty | Kind::Equ(..) | Kind::EndStruc(_) => return true,
            Kind::Res { unit, count, pos } => {
                if let Some(c) = self.scalar(line, *pos, count, "reserve count", false) {
                    if let Some((offset, _)) = &mut self.structure {
                        *offset = offset.wrapping_add(c.wrapping_mul(*unit as i64));
                    }
                }
            }
            Kind::Align {
                n, bss: true, pos, ..
            } => {
                if let Some(a) = self.scalar(line, *pos, n, "alignment", true) {
                    if let Some((offset, _)) = &mut self.structure {
                        if a > 0 {
                            *offset = offset.wrapping_add(a - 1) / a * a;
                        }
                    }
                }
            }
            _ => self.err((
                line,
                0,
                "only `resb'-style reservations and `alignb' can go inside `struc'".into(),
            )),
        }
        false
    }

    /// Records an error; past a bound they are only counted.
    fn err(&mut self, e: LError) {
        if self.errors.len() < MAX_KEPT_ERRORS {
            self.errors.push(e);
        } else {
            self.dropped_errors += 1;
        }
    }

    fn warn(&mut self, w: LError) {
        if self.warnings.len() < MAX_KEPT_ERRORS {
            self.warnings.push(w);
        }
    }

    fn define(&mut self, line: usize, pos: usize, name: &str, value: i64, is_label: bool) {
        match self.syms.get_mut(name) {
            Some(s) if s.pass == self.pass => {
                self.err((line, pos, format!("label `{name}' redefined")));
            }
            Some(s) => {
                if s.value != value || s.is_label != is_label {
                    self.changed = true;
                }
                *s = Sym {
                    value,
                    is_label,
                    pass: self.pass,
                };
            }
            None => {
                self.changed = true;
                self.syms.insert(
                    name.into(),
                    Sym {
                        value,
                        is_label,
                        pass: self.pass,
                    },
                );
            }
        }
    }

    fn room(&mut self, line: usize, pos: usize, n: u64) -> bool {
        if self.out.len() as u64 + n > self.max_output as u64 {
            if !self.overflow {
                self.err((
                    line,
                    pos,
                    format!("output would exceed the limit of {} bytes", self.max_output),
                ));
            }
            self.overflow = true;
            return false;
        }
        true
    }

    fn stmt(&mut self, st: &Stmt, grow: bool) {
        let line = st.line;
        if self.structure.is_some() && !self.struc_stmt(st) {
            return;
        }
        match &st.kind {
            Kind::Empty | Kind::Equ(..) => {}
            Kind::Bits(b) => self.bits = *b,
            Kind::Struc(name, pos) => {
                if self.structure.is_some() {
                    self.err((line, *pos, "`struc' inside another `struc'".into()));
                    return;
                }
                self.define(line, *pos, name, 0, false);
                self.structure = Some((0, name.clone()));
            }
            Kind::IStruc(name, pos) => {
                if self.instance.is_some() {
                    self.err((line, *pos, "`istruc' inside another `istruc'".into()));
                    return;
                }
                self.instance = Some((self.out.len(), name.clone()));
            }
            Kind::At(field, pos, data) => {
                let Some((start, _)) = self.instance.clone() else {
                    self.err((line, *pos, "`at' outside `istruc'".into()));
                    return;
                };
                let Some(offset) = self.scalar(line, *pos, field, "`at' field", false) else {
                    return;
                };
                self.pad_instance(line, *pos, start, offset);
                let inner = Stmt {
                    line,
                    label: None,
                    times: None,
                    kind: (**data).clone(),
                };
                self.stmt(&inner, grow);
            }
            Kind::IEnd(pos) => match self.instance.take() {
                Some((start, name)) => {
                    let size = self.syms.get(&format!("{name}_size")).map(|s| s.value);
                    match size {
                        Some(size) => self.pad_instance(line, *pos, start, size),
                        None => self.err((line, *pos, format!("symbol `{name}_size' not defined"))),
                    }
                }
                None => self.err((line, *pos, "`iend' without `istruc'".into())),
            },
            Kind::EndStruc(pos) => match self.structure.take() {
                Some((size, name)) => self.define(line, *pos, &format!("{name}_size"), size, false),
                None => self.err((line, *pos, "`endstruc' without `struc'".into())),
            },
            Kind::Org(e, pos) => {
                if let Some(v) = self.scalar(line, *pos, e, "`org' value", true) {
                    if let Some(prev) = self.org_seen {
                        if prev != v {
                            self.err((line, *pos, "program origin redefined".into()));
                        }
                    }
                    self.org_seen = Some(v);
                    // Labels after `org` use it at once (NASM knows it in the first pass too).
                    self.origin = v;
                }
            }
            Kind::Align { n, fill, bss, pos } => {
                let Some(a) = self.scalar(line, *pos, n, "alignment", true) else {
                    return;
                };
                if a <= 0 || (a & (a - 1)) != 0 {
                    self.err((line, *pos, format!("alignment {a} is not a power of two")));
                    return;
                }
                let fill_byte = match fill {
                    Some(f) => match self.eval(line, f) {
                        Some(v) => v.n as u8,
                        None => return,
                    },
                    None if *bss => 0,
                    None => 0x90,
                };
                let off = self.out.len() as u64;
                let pad = (a as u64 - off % a as u64) % a as u64;
                if !self.room(line, *pos, pad) {
                    return;
                }
                self.out.resize(self.out.len() + pad as usize, fill_byte);
            }
            Kind::Res { unit, count, pos } => {
                let Some(c) = self.scalar(line, *pos, count, "reserve count", false) else {
                    return;
                };
                if c < 0 {
                    self.err((line, *pos, format!("reserve count {c} is negative")));
                    return;
                }
                let n = (c as u64).saturating_mul(*unit as u64);
                if !self.room(line, *pos, n) {
                    return;
                }
                self.out.resize(self.out.len() + n as usize, 0);
            }
            Kind::Data { unit, items } => {
                for item in items {
                    match item {
                        DataItem::Str(b) => {
                            let u = *unit as usize;
                            let padded = b.len().div_ceil(u).max(1) * u;
                            if !self.room(line, 0, padded as u64) {
                                return;
                            }
                            self.out.extend_from_slice(b);
                            self.out.resize(self.out.len() + padded - b.len(), 0);
                        }
                        DataItem::Float(text, pos) => {
                            // Rust's parsers round correctly, straight to each width.
                            let bytes = match unit {
                                4 => text.parse::<f32>().map(|v| v.to_le_bytes().to_vec()),
                                8 => text.parse::<f64>().map(|v| v.to_le_bytes().to_vec()),
                                _ => {
                                    let msg = "floating-point constants need `dd' (single) or `dq' (double)";
                                    self.err((line, *pos, msg.into()));
                                    continue;
                                }
                            };
                            match bytes {
                                Ok(b) if self.room(line, *pos, b.len() as u64) => {
                                    self.out.extend_from_slice(&b)
                                }
                                Ok(_) => return,
                                Err(_) => self.err((
                                    line,
                                    *pos,
                                    format!("invalid floating-point constant `{text}'"),
                                )),
                            }
                        }
                        DataItem::Expr(e, pos) => {
                            if !self.room(line, *pos, *unit as u64) {
                                return;
                            }
                            let v = self.eval(line, e).unwrap_or_default();
                            if !v.regs.is_empty() {
                                self.err((line, *pos, "invalid use of a register in data".into()));
                            }
                            if let Some(w) = bounds::check(&v, *unit, Store::Data) {
                                self.warn((line, *pos, w));
                            }
                            let bytes = v.n.to_le_bytes();
                            self.out
                                .extend_from_slice(&bytes[..(*unit as usize).min(8)]);
                        }
                    }
                }
            }
            Kind::Insn(insn) => {
                let mut ops = Vec::with_capacity(insn.ops.len());
                for op in &insn.ops {
                    let kind = match &op.kind {
                        OpKind::Reg(r) => RKind::Reg(*r),
                        OpKind::Mem(m) => {
                            let Some(v) = self.eval(line, &m.expr) else {
                                return;
                            };
                            match insn::resolve_mem(&v, m.seg, m.disp_size) {
                                Ok(rm) => RKind::Mem(rm),
                                Err(msg) => {
                                    self.err((line, op.pos, msg));
                                    return;
                                }
                            }
                        }
                        OpKind::Imm(e) => {
                            let Some(v) = self.eval(line, e) else { return };
                            if !v.regs.is_empty() {
                                self.err((
                                    line,
                                    op.pos,
                                    "invalid use of a register in an expression".into(),
                                ));
                                return;
                            }
                            RKind::Imm(v)
                        }
                        OpKind::Far(a, b) => {
                            let Some(s) = self.eval(line, a) else { return };
                            let Some(o) = self.eval(line, b) else { return };
                            RKind::Far(s, o)
                        }
                    };
                    ops.push(Resolved {
                        kind,
                        size: op.size,
                        strict: op.strict,
                        dist: op.dist,
                    });
                }
                let env = Env {
                    bits: self.bits,
                    ip: self.here() as u64,
                    no_short: grow,
                };
                match insn::encode(self.isa, insn, &ops, &env) {
                    Ok(enc) => {
                        for w in enc.warnings {
                            self.warn((line, insn.mpos, w));
                        }
                        if self.room(line, insn.mpos, enc.bytes.len() as u64) {
                            self.out.extend_from_slice(&enc.bytes);
                        }
                    }
                    Err(msg) => self.err((line, insn.mpos, msg)),
                }
            }
        }
    }
}

/// Runs passes until labels stop moving; returns the last pass.
pub(crate) fn run(stmts: &[Stmt], isa: &Isa, limits: &Limits) -> Layout {
    let mut syms: BTreeMap<String, Sym> = BTreeMap::new();
    let mut origin = 0i64;
    let mut grow = vec![false; stmts.len()];
    let mut sizes = vec![0usize; stmts.len()];
    let mut critical = vec![false; stmts.len()];
    let max_passes = MAX_PASSES.saturating_add(stmts.len().min(4096) as u32);
    let mut pass_no = 1;
    loop {
        let mut p = Pass {
            isa,
            syms: &mut syms,
            pass: pass_no,
            origin,
            org_seen: None,
            out: Vec::new(),
            spans: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            changed: false,
            bits: 16,
            max_output: limits.max_output,
            overflow: false,
            line_start: origin,
            critical_stmt: false,
            critical_unknown: false,
            dropped_errors: 0,
            structure: None,
            instance: None,
        };
        let monotone = pass_no > MONOTONE_AFTER;
        for (idx, st) in stmts.iter().enumerate() {
            if p.overflow {
                break;
            }
            let start = p.out.len();
            p.line_start = p.here();
            p.critical_stmt = critical[idx];
            p.critical_unknown = false;
            if let Kind::Equ(e, pos) = &st.kind {
                if let Some((name, npos)) = &st.label {
                    if let Some(v) = p.eval(st.line, e) {
                        if v.unknown.is_none() {
                            if !v.regs.is_empty() {
                                p.err((
                                    st.line,
                                    *pos,
                                    "`equ' value cannot contain registers".into(),
                                ));
                            } else {
                                p.define(st.line, *npos, name, v.n, v.reloc != 0);
                            }
                        }
                    }
                }
                continue;
            }
            if let Some((name, pos)) = &st.label {
                match &p.structure {
                    Some((offset, _)) => {
                        let offset = *offset;
                        p.define(st.line, *pos, name, offset, false);
                    }
                    None => {
                        let here = p.here();
                        p.define(st.line, *pos, name, here, true);
                    }
                }
            }
            let count = match &st.times {
                None => 1,
                Some((e, pos)) => match p.scalar(st.line, *pos, e, "`times' count", true) {
                    None => 0,
                    Some(c) if c < 0 => {
                        p.err((st.line, *pos, format!("`times' count {c} is negative")));
                        0
                    }
                    Some(c) if c as u64 > p.max_output as u64 => {
                        p.err((
                            st.line,
                            *pos,
                            format!(
                                "`times' count {c} exceeds the output limit of {} bytes",
                                p.max_output
                            ),
                        ));
                        0
                    }
                    Some(c) => c as u64,
                },
            };
            let g = grow[idx];
            if count > 1 && !kind_uses_ip(&st.kind) {
                // Same bytes every time: emit once, then copy.
                let before = p.out.len();
                p.stmt(st, g);
                let piece: Vec<u8> = p.out[before..].to_vec();
                let total = (piece.len() as u64).saturating_mul(count - 1);
                if p.room(st.line, st.times.as_ref().map_or(0, |t| t.1), total) {
                    for _ in 1..count {
                        p.out.extend_from_slice(&piece);
                    }
                }
            } else {
                for _ in 0..count {
                    if p.overflow {
                        break;
                    }
                    p.stmt(st, g);
                }
            }
            if pass_no == 1 && p.critical_unknown {
                critical[idx] = true;
            }
            let len = p.out.len() - start;
            if monotone && len > sizes[idx] {
                grow[idx] = true;
            }
            sizes[idx] = len;
            if len > 0 {
                p.spans.push((st.line, start as u32, len as u32));
            }
        }
        if let Some((_, name)) = p.structure.take() {
            let at = stmts
                .iter()
                .find(|st| matches!(&st.kind, Kind::Struc(n, _) if *n == name))
                .map_or(0, |st| st.line);
            p.err((at, 0, format!("`struc {name}' without `endstruc'")));
        }
        let new_origin = p.org_seen.unwrap_or(0);
        let changed = p.changed || new_origin != origin;
        let dropped_errors = p.dropped_errors;
        let (out, spans, errors, warnings) = (p.out, p.spans, p.errors, p.warnings);
        origin = new_origin;
        if !changed || pass_no >= max_passes {
            let mut errors = errors;
            if changed {
                errors.push((
                    0,
                    0,
                    format!("label addresses did not settle after {pass_no} passes"),
                ));
            }
            return Layout {
                bytes: out,
                spans,
                symbols: syms,
                origin,
                errors,
                dropped_errors,
                warnings,
            };
        }
        pass_no += 1;
    }
}
