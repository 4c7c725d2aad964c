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
}

impl Value {
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

const MAX_DEPTH: u32 = 200;

/// Recursive-descent parser over a token slice.
pub(crate) struct Parser<'a> {
    pub toks: &'a [Token],
    pub i: usize,
    pub scope: &'a str,
    pub end: usize,
    depth: u32,
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
    Ok(match e {
        Expr::Num(n) => Value {
            n: *n,
            ..Value::default()
        },
        Expr::Here => Value {
            n: ctx.here(),
            reloc: 1,
            ..Value::default()
        },
        Expr::SectStart => Value {
            n: ctx.sect_start(),
            reloc: 1,
            ..Value::default()
        },
        Expr::Reg(r, _) => Value {
            regs: alloc::vec![(*r, 1)],
            ..Value::default()
        },
        Expr::Sym(name, pos) => match ctx.symbol(name) {
            Some((n, is_label)) => Value {
                n,
                reloc: is_label as i64,
                ..Value::default()
            },
            None => Value {
                unknown: Some((name.clone(), *pos)),
                ..Value::default()
            },
        },
        Expr::Un(op, a, pos) => {
            let v = eval(a, ctx)?;
            if !v.regs.is_empty() && *op != UnOp::Plus && *op != UnOp::Neg {
                return Err((*pos, "invalid use of a register in an expression".into()));
            }
            match op {
                UnOp::Plus => v,
                UnOp::Neg => Value {
                    n: v.n.wrapping_neg(),
                    reloc: v.reloc.wrapping_neg(),
                    unknown: v.unknown,
                    regs: v.regs.iter().map(|&(r, k)| (r, k.wrapping_neg())).collect(),
                },
                UnOp::Not => Value {
                    n: !v.n,
                    reloc: if v.reloc != 0 { 1 << 20 } else { 0 },
                    ..v
                },
                UnOp::LogNot => Value {
                    n: (v.n == 0) as i64,
                    reloc: if v.reloc != 0 { 1 << 20 } else { 0 },
                    ..v
                },
            }
        }
        Expr::Bin(op, a, b, pos) => {
            let x = eval(a, ctx)?;
            let y = eval(b, ctx)?;
            let unknown = x.unknown.clone().or(y.unknown.clone());
            match op {
                BinOp::Add | BinOp::Sub => {
                    let sign = if *op == BinOp::Add { 1 } else { -1 };
                    Value {
                        n: x.n.wrapping_add(y.n.wrapping_mul(sign)),
                        reloc: x.reloc.wrapping_add(y.reloc.wrapping_mul(sign)),
                        unknown,
                        regs: combine_regs(&x.regs, &y.regs, sign),
                    }
                }
                BinOp::Mul => {
                    if !x.regs.is_empty() && !y.regs.is_empty() {
                        return Err((*pos, "invalid use of a register in an expression".into()));
                    }
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
                        n: x.n.wrapping_mul(y.n),
                        reloc,
                        unknown,
                        regs,
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
                    }
                }
            }
        }
    })
}
