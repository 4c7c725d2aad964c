//! Expressions: parsing NASM's operator grammar and evaluating it to values.

use crate::lexer::{Tok, Token};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use iced_x86::Register;

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnOp {
    Neg,
    Plus,
    Not,
    LogNot,
}

/// Binary operators, NASM semantics (`/` and `%` unsigned, `//` and `%%` signed).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    SDiv,
    Mod,
    SMod,
    Shl,
    Shr,
    And,
    Or,
    Xor,
    LogAnd,
    LogOr,
    LogXor,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// An expression tree. `pos` fields are byte offsets in the line.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Expr {
    Num(i64),
    Sym(String, usize),
    Here,
    SectStart,
    Reg(Register, usize),
    Un(UnOp, Box<Expr>, usize),
    Bin(BinOp, Box<Expr>, Box<Expr>, usize),
}

/// A parse or evaluation error at a byte position.
pub(crate) type ExprError = (usize, String);

/// The result of evaluating an expression.
#[derive(Clone, Debug, PartialEq, Default)]
pub(crate) struct Value {
    /// The number (wrapping 64-bit arithmetic).
    pub n: i64,
    /// How many section-relative addresses (labels, `$`, `$$`) it contains, net:
    /// 0 for a pure number; anything else keeps NASM from using short forms.
    pub reloc: i64,
    /// Some symbol has no value yet (a forward reference in the first pass).
    pub unknown: Option<(String, usize)>,
    /// Registers with their multipliers (only valid inside memory references).
    pub regs: Vec<(Register, i64)>,
    /// Some label, `$` or `$$` took part (even if they cancel out).
    pub labels: bool,
    /// The first symbol used that has no value (reported if it stays undefined).
    pub undefined: Option<(String, usize)>,
    /// Net multiplier of undefined symbols in a linear combination: like NASM,
    /// `b - a` with both still undefined is a (provisional) known number.
    pub unk: i64,
    /// An undefined symbol went through a non-linear operator.
    pub opaque: bool,
    /// NASM keeps a plain-number term (even a zero one) in its expression vectors;
    /// whether this value has one decides when two terms are "summed".
    pub has_simple: bool,
    /// NASM's base-register hint after evaluating the whole expression.
    pub hint: Hint,
}

/// NASM's effective-address hint: which written register should be the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) enum Hint {
    /// No register seen yet.
    #[default]
    None,
    /// The first register written, unscaled so far: make it the base.
    MakeBase(Register),
    /// The first register written was multiplied: prefer the other as base.
    NotBase(Register),
    /// Two terms of one kind were added together: no preference is kept.
    Summed,
}

impl Value {
    /// A not-yet-defined symbol and no registers. NASM's expression vectors drop
    /// every term after an unknown one, so such a value counts as "just unknown",
    /// and NASM is optimistic about the size of that immediate in the first pass.
    pub fn just_unknown(&self) -> bool {
        self.unknown.is_some() && self.regs.is_empty()
    }

    /// A known number with no labels or registers.
    pub fn is_simple(&self) -> bool {
        self.reloc == 0 && self.unknown.is_none() && self.regs.is_empty()
    }
}

/// What the evaluator needs from the assembler: symbol values and the location counter.
pub(crate) trait Context {
    /// The value of a symbol and whether it is a label (section-relative), if known.
    fn symbol(&self, name: &str) -> Option<(i64, bool)>;
    /// The value of `$`.
    fn here(&self) -> i64;
    /// The value of `$$`.
    fn sect_start(&self) -> i64;
}

const MAX_DEPTH: u32 = 64;
/// Most operators in one expression (keeps evaluation and its recursion bounded).
const MAX_NODES: u32 = 256;

/// Recursive-descent parser over a token slice.
pub(crate) struct Parser<'a> {
    pub toks: &'a [Token],
    pub i: usize,
    pub scope: &'a str,
    pub end: usize,
    depth: u32,
    nodes: u32,
}

impl<'a> Parser<'a> {
    /// A parser over `toks`; `scope` prefixes `.local` names; `end` is the line length.
    pub fn new(toks: &'a [Token], scope: &'a str, end: usize) -> Self {
        Parser {
            toks,
            i: 0,
            scope,
            end,
            depth: 0,
            nodes: 0,
        }
    }

    fn peek_op(&self) -> Option<&'static str> {
        match self.toks.get(self.i) {
            Some(Token {
                kind: Tok::Op(o), ..
            }) => Some(o),
            _ => None,
        }
    }

    /// Byte position of the current token (or the end of the line).
    pub fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.end, |t| t.pos)
    }

    fn count(&mut self, pos: usize) -> Result<(), ExprError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err((
                pos,
                format!("expression has more than {MAX_NODES} operators"),
            ));
        }
        Ok(())
    }

    /// Parses a full expression.
    pub fn expr(&mut self) -> Result<Expr, ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err((self.pos(), "expression nested too deeply".into()));
        }
        let r = self.binary(0);
        self.depth -= 1;
        r
    }

    fn binary(&mut self, level: u32) -> Result<Expr, ExprError> {
        const LEVELS: &[&[(&str, BinOp)]] = &[
            &[("||", BinOp::LogOr)],
            &[("^^", BinOp::LogXor)],
            &[("&&", BinOp::LogAnd)],
            &[
                ("==", BinOp::Eq),
                ("=", BinOp::Eq),
                ("!=", BinOp::Ne),
                ("<>", BinOp::Ne),
                ("<=", BinOp::Le),
                (">=", BinOp::Ge),
                ("<", BinOp::Lt),
                (">", BinOp::Gt),
            ],
            &[("|", BinOp::Or)],
            &[("^", BinOp::Xor)],
            &[("&", BinOp::And)],
            &[("<<", BinOp::Shl), (">>", BinOp::Shr)],
            &[("+", BinOp::Add), ("-", BinOp::Sub)],
            &[
                ("*", BinOp::Mul),
                ("/", BinOp::Div),
                ("//", BinOp::SDiv),
                ("%", BinOp::Mod),
                ("%%", BinOp::SMod),
            ],
        ];
        let Some(ops) = LEVELS.get(level as usize) else {
            return self.unary();
        };
        let mut lhs = self.binary(level + 1)?;
        while let Some(op) = self.peek_op() {
            let Some(&(_, bop)) = ops.iter().find(|(s, _)| *s == op) else {
                break;
            };
            let pos = self.pos();
            self.i += 1;
            let rhs = self.binary(level + 1)?;
            self.count(pos)?;
            lhs = Expr::Bin(bop, Box::new(lhs), Box::new(rhs), pos);
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, ExprError> {
        let pos = self.pos();
        let op = match self.peek_op() {
            Some("-") => Some(UnOp::Neg),
            Some("+") => Some(UnOp::Plus),
            Some("~") => Some(UnOp::Not),
            Some("!") => Some(UnOp::LogNot),
            _ => None,
        };
        if let Some(op) = op {
            self.i += 1;
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err((pos, "expression nested too deeply".into()));
            }
            let e = self.unary()?;
            self.depth -= 1;
            self.count(pos)?;
            return Ok(Expr::Un(op, Box::new(e), pos));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Expr, ExprError> {
        let pos = self.pos();
        let Some(t) = self.toks.get(self.i) else {
            return Err((pos, "expression expected".into()));
        };
        self.i += 1;
        match &t.kind {
            Tok::Num(n) => Ok(Expr::Num(*n)),
            Tok::Here => Ok(Expr::Here),
            Tok::SectStart => Ok(Expr::SectStart),
            Tok::Str(bytes) => {
                if bytes.len() > 8 {
                    return Err((pos, "character constant too long".into()));
                }
                let mut v: u64 = 0;
                for (k, b) in bytes.iter().enumerate() {
                    v |= (*b as u64) << (8 * k);
                }
                Ok(Expr::Num(v as i64))
            }
            Tok::Op("(") => {
                let e = self.expr()?;
                if self.peek_op() != Some(")") {
                    return Err((self.pos(), "expecting `)'".into()));
                }
                self.i += 1;
                Ok(e)
            }
            Tok::Ident(name) => {
                if let Some(r) = crate::regs::lookup(name) {
                    return Ok(Expr::Reg(r, pos));
                }
                let lower = name.to_ascii_lowercase();
                if matches!(lower.as_str(), "seg" | "wrt") {
                    return Err((pos, format!("`{lower}' is not supported in flat binaries")));
                }
                Ok(Expr::Sym(qualify(self.scope, name), pos))
            }
            Tok::Op(o) => Err((pos, format!("unexpected `{o}' in expression"))),
            Tok::Float(f) => Err((
                pos,
                format!(
                    "floating-point constant `{f}' in an expression: only `dd' and `dq' take one"
                ),
            )),
        }
    }
}

/// Turns a `.local` name into its full name under the last non-local label.
pub(crate) fn qualify(scope: &str, name: &str) -> String {
    if name.starts_with('.') && !name.starts_with("..") {
        let mut s = String::from(scope);
        s.push_str(name);
        s
    } else {
        String::from(name)
    }
}

fn combine_regs(a: &[(Register, i64)], b: &[(Register, i64)], sign: i64) -> Vec<(Register, i64)> {
    let mut out: Vec<(Register, i64)> = a.to_vec();
    for &(r, k) in b {
        if let Some(e) = out.iter_mut().find(|(x, _)| *x == r) {
            e.1 = e.1.wrapping_add(k.wrapping_mul(sign));
        } else {
            out.push((r, k.wrapping_mul(sign)));
        }
    }
    out.retain(|&(_, k)| k != 0);
    out
}

/// Evaluates `e` in `ctx`.
pub(crate) fn eval(e: &Expr, ctx: &dyn Context) -> Result<Value, ExprError> {
    let mut hint = Hint::None;
    let mut v = eval_h(e, ctx, &mut hint)?;
    v.hint = hint;
    Ok(v)
}

fn eval_h(e: &Expr, ctx: &dyn Context, hint: &mut Hint) -> Result<Value, ExprError> {
    Ok(match e {
        Expr::Num(n) => Value {
            n: *n,
            has_simple: true,
            ..Value::default()
        },
        Expr::Here => Value {
            n: ctx.here(),
            reloc: 1,
            labels: true,
            has_simple: true,
            ..Value::default()
        },
        Expr::SectStart => Value {
            n: ctx.sect_start(),
            reloc: 1,
            labels: true,
            has_simple: true,
            ..Value::default()
        },
        Expr::Reg(r, _) => {
            if *hint == Hint::None {
                *hint = Hint::MakeBase(*r);
            }
            Value {
                regs: alloc::vec![(*r, 1)],
                ..Value::default()
            }
        }
        Expr::Sym(name, pos) => match ctx.symbol(name) {
            Some((n, is_label)) => Value {
                n,
                reloc: is_label as i64,
                labels: is_label,
                has_simple: true,
                ..Value::default()
            },
            None => Value {
                unknown: Some((name.clone(), *pos)),
                undefined: Some((name.clone(), *pos)),
                unk: 1,
                ..Value::default()
            },
        },
        Expr::Un(op, a, pos) => {
            let v = eval_h(a, ctx, hint)?;
            if !v.regs.is_empty() && *op != UnOp::Plus && *op != UnOp::Neg {
                return Err((*pos, "invalid use of a register in an expression".into()));
            }
            let (unk, opaque) = match op {
                UnOp::Plus => (v.unk, v.opaque),
                UnOp::Neg => (v.unk.wrapping_neg(), v.opaque),
                _ => (0, v.opaque || v.unk != 0),
            };
            let r = match op {
                UnOp::Plus => v,
                UnOp::Neg => Value {
                    n: v.n.wrapping_neg(),
                    reloc: v.reloc.wrapping_neg(),
                    unknown: v.unknown,
                    regs: v.regs.iter().map(|&(r, k)| (r, k.wrapping_neg())).collect(),
                    labels: v.labels,
                    undefined: v.undefined,
                    ..Value::default()
                },
                UnOp::Not => Value {
                    has_simple: true,
                    n: !v.n,
                    reloc: if v.reloc != 0 { 1 << 20 } else { 0 },
                    ..v
                },
                UnOp::LogNot => Value {
                    has_simple: true,
                    n: (v.n == 0) as i64,
                    reloc: if v.reloc != 0 { 1 << 20 } else { 0 },
                    ..v
                },
            };
            settle(r, unk, opaque)
        }
        Expr::Bin(op, a, b, pos) => {
            let x = eval_h(a, ctx, hint)?;
            let y = eval_h(b, ctx, hint)?;
            let unknown = x.unknown.clone().or(y.unknown.clone());
            let labels = x.labels || y.labels;
            let xk = x.unk == 0 && !x.opaque;
            let yk = y.unk == 0 && !y.opaque;
            let (unk, opaque) = match op {
                BinOp::Add => (x.unk.wrapping_add(y.unk), x.opaque || y.opaque),
                BinOp::Sub => (x.unk.wrapping_sub(y.unk), x.opaque || y.opaque),
                BinOp::Mul if xk => (y.unk.wrapping_mul(x.n), y.opaque),
                BinOp::Mul if yk => (x.unk.wrapping_mul(y.n), x.opaque),
                _ => (0, !(xk && yk)),
            };
            let undefined = x.undefined.clone().or(y.undefined.clone());
            let r = match op {
                BinOp::Add | BinOp::Sub => {
                    let sign = if *op == BinOp::Add { 1 } else { -1 };
                    let n = x.n.wrapping_add(y.n.wrapping_mul(sign));
                    let both = |a: i64, b: i64| {
                        a != 0 && b != 0 && a.wrapping_add(b.wrapping_mul(sign)) != 0
                    };
                    let summed = (x.has_simple && y.has_simple && n != 0)
                        || both(x.reloc, y.reloc)
                        || both(x.unk, y.unk)
                        || x.regs
                            .iter()
                            .any(|&(r, k)| y.regs.iter().any(|&(q, j)| q == r && both(k, j)));
                    if summed {
                        *hint = Hint::Summed;
                    }
                    Value {
                        has_simple: if x.has_simple && y.has_simple {
                            n != 0
                        } else {
                            x.has_simple || y.has_simple
                        },
                        n: x.n.wrapping_add(y.n.wrapping_mul(sign)),
                        reloc: x.reloc.wrapping_add(y.reloc.wrapping_mul(sign)),
                        unknown,
                        regs: combine_regs(&x.regs, &y.regs, sign),
                        labels,
                        ..Value::default()
                    }
                }
                BinOp::Mul => {
                    if !x.regs.is_empty() && !y.regs.is_empty() {
                        return Err((*pos, "invalid use of a register in an expression".into()));
                    }
                    // NASM multiplies the non-scalar side; a register it scales stops
                    // being the hinted base.
                    let x_scalar = x.regs.is_empty() && x.reloc == 0 && x.unk == 0 && !x.opaque;
                    let vect = if x_scalar { &y } else { &x };
                    if let Hint::MakeBase(r) = *hint {
                        if vect.regs.iter().any(|&(q, _)| q == r) {
                            *hint = Hint::NotBase(r);
                        }
                    }
                    let has_simple = vect.has_simple;
                    let regs = if x.regs.is_empty() {
                        combine_regs(&[], &y.regs, x.n)
                    } else {
                        combine_regs(&[], &x.regs, y.n)
                    };
                    let reloc = if x.reloc == 0 {
                        y.reloc.wrapping_mul(x.n)
                    } else if y.reloc == 0 {
                        x.reloc.wrapping_mul(y.n)
                    } else {
                        1 << 20
                    };
                    let reloc = if reloc == 0 && (x.reloc != 0 || y.reloc != 0) {
                        1 << 20
                    } else {
                        reloc
                    };
                    Value {
                        has_simple,
                        n: x.n.wrapping_mul(y.n),
                        reloc,
                        unknown,
                        regs,
                        labels,
                        ..Value::default()
                    }
                }
                _ => {
                    if !x.regs.is_empty() || !y.regs.is_empty() {
                        return Err((*pos, "invalid use of a register in an expression".into()));
                    }
                    let (a, b) = (x.n, y.n);
                    let n = match op {
                        BinOp::Div | BinOp::SDiv | BinOp::Mod | BinOp::SMod if b == 0 => {
                            if unknown.is_some() {
                                0
                            } else {
                                return Err((*pos, "division by zero".into()));
                            }
                        }
                        BinOp::Div => ((a as u64) / (b as u64)) as i64,
                        BinOp::SDiv => a.wrapping_div(b),
                        BinOp::Mod => ((a as u64) % (b as u64)) as i64,
                        BinOp::SMod => a.wrapping_rem(b),
                        BinOp::Shl => {
                            if (b as u64) >= 64 {
                                0
                            } else {
                                a.wrapping_shl(b as u32)
                            }
                        }
                        BinOp::Shr => {
                            if (b as u64) >= 64 {
                                0
                            } else {
                                ((a as u64) >> b) as i64
                            }
                        }
                        BinOp::And => a & b,
                        BinOp::Or => a | b,
                        BinOp::Xor => a ^ b,
                        BinOp::LogAnd => (a != 0 && b != 0) as i64,
                        BinOp::LogOr => (a != 0 || b != 0) as i64,
                        BinOp::LogXor => ((a != 0) != (b != 0)) as i64,
                        BinOp::Eq => (a == b) as i64,
                        BinOp::Ne => (a != b) as i64,
                        BinOp::Lt => (a < b) as i64,
                        BinOp::Le => (a <= b) as i64,
                        BinOp::Gt => (a > b) as i64,
                        BinOp::Ge => (a >= b) as i64,
                        BinOp::Add | BinOp::Sub | BinOp::Mul => 0,
                    };
                    let reloc = if x.reloc != 0 || y.reloc != 0 {
                        1 << 20
                    } else {
                        0
                    };
                    Value {
                        n,
                        reloc,
                        unknown,
                        regs: Vec::new(),
                        labels,
                        has_simple: true,
                        ..Value::default()
                    }
                }
            };
            settle(Value { undefined, ..r }, unk, opaque)
        }
    })
}

/// Fills in the unknown-tracking fields of an operator's result.
fn settle(mut v: Value, unk: i64, opaque: bool) -> Value {
    v.unk = unk;
    v.opaque = opaque;
    v.unknown = if unk != 0 || opaque {
        v.unknown.or_else(|| v.undefined.clone())
    } else {
        None
    };
    v
}
