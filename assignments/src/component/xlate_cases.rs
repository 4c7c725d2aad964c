//! The translation lab's case protocol: a case is a block of ALU-family instructions
//! (`add.4 r0 i1f; adc.4 m r3; inc.4 r1 -`), the answer the IR the submission's
//! lowering wrote for each, recorded call by call (`get 0, bin add t0 0x1f, …`), or `-`
//! where it declined. The grader replays the answer into vmlab's translator and runs it.

use super::xlate_alu::{
    AluFamily, AluInsn, AluOp, BinOp, Emit, FlagOp, Operand, Val, BIN_OPS, FLAG_OPS,
};

/// One recorded call of [`Emit`]; its `Val::T(n)` operands name the values the
/// instruction's earlier calls made, numbered from 0 per instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rec {
    /// `get reg` (makes a value).
    Get(u8),
    /// `set reg v`.
    Set(u8, Val),
    /// `bin op a b` (makes a value).
    Bin(BinOp, Val, Val),
    /// `flags op size a b`.
    Flags(FlagOp, u8, Val, Val),
    /// `cond cc` (makes a value).
    Cond(u8),
    /// `ea` (makes a value).
    Ea,
    /// `load size addr` (makes a value).
    Load(u8, Val),
    /// `store size addr v`.
    Store(u8, Val, Val),
}

impl Rec {
    /// Whether the call makes a value (the next temporary).
    pub fn makes_value(&self) -> bool {
        matches!(
            self,
            Rec::Get(_) | Rec::Bin(..) | Rec::Cond(_) | Rec::Ea | Rec::Load(..)
        )
    }

    /// The call as answer text.
    pub fn to_text(&self) -> String {
        match *self {
            Rec::Get(r) => format!("get {r}"),
            Rec::Set(r, v) => format!("set {r} {v}"),
            Rec::Bin(op, a, b) => format!("bin {} {a} {b}", op.name()),
            Rec::Flags(op, size, a, b) => format!("flags {} {size} {a} {b}", op.name()),
            Rec::Cond(cc) => format!("cond {cc}"),
            Rec::Ea => "ea".to_string(),
            Rec::Load(size, a) => format!("load {size} {a}"),
            Rec::Store(size, a, v) => format!("store {size} {a} {v}"),
        }
    }

    /// Parses [`Rec::to_text`]'s output.
    pub fn parse(text: &str) -> Result<Rec, String> {
        let f: Vec<&str> = text.split_whitespace().collect();
        let small = |s: &str| -> Result<u8, String> {
            s.parse::<u8>()
                .map_err(|_| format!("bad number {s:?} in {text:?}"))
        };
        let val = |s: &str| -> Result<Val, String> {
            if let Some(t) = s.strip_prefix('t') {
                return t
                    .parse::<u16>()
                    .map(Val::T)
                    .map_err(|_| format!("bad temporary {s:?} in {text:?}"));
            }
            let digits = s.strip_prefix("0x").unwrap_or(s);
            u32::from_str_radix(digits, 16)
                .map(Val::C)
                .map_err(|_| format!("bad value {s:?} in {text:?}"))
        };
        let bin = |s: &str| BIN_OPS.into_iter().find(|o| o.name() == s);
        let flag = |s: &str| FLAG_OPS.into_iter().find(|o| o.name() == s);
        Ok(match f.as_slice() {
            ["get", r] => Rec::Get(small(r)?),
            ["set", r, v] => Rec::Set(small(r)?, val(v)?),
            ["bin", op, a, b] => Rec::Bin(
                bin(op).ok_or_else(|| format!("unknown operation {op:?}"))?,
                val(a)?,
                val(b)?,
            ),
            ["flags", op, size, a, b] => Rec::Flags(
                flag(op).ok_or_else(|| format!("unknown flag operation {op:?}"))?,
                small(size)?,
                val(a)?,
                val(b)?,
            ),
            ["cond", cc] => Rec::Cond(small(cc)?),
            ["ea"] => Rec::Ea,
            ["load", size, a] => Rec::Load(small(size)?, val(a)?),
            ["store", size, a, v] => Rec::Store(small(size)?, val(a)?, val(v)?),
            _ => return Err(format!("unknown IR call {text:?}")),
        })
    }
}

/// An [`Emit`] that records the calls (the submission's side).
#[derive(Debug, Default)]
pub struct Recorder {
    /// The calls, in order.
    pub calls: Vec<Rec>,
    made: u16,
}

impl Recorder {
    fn push(&mut self, r: Rec) -> Val {
        self.calls.push(r);
        if r.makes_value() {
            self.made = self.made.saturating_add(1);
        }
        Val::T(self.made.saturating_sub(1))
    }
}

impl Emit for Recorder {
    fn get(&mut self, reg: u8) -> Val {
        self.push(Rec::Get(reg))
    }
    fn set(&mut self, reg: u8, v: Val) {
        self.push(Rec::Set(reg, v));
    }
    fn bin(&mut self, op: BinOp, a: Val, b: Val) -> Val {
        self.push(Rec::Bin(op, a, b))
    }
    fn flags(&mut self, op: FlagOp, size: u8, a: Val, b: Val) {
        self.push(Rec::Flags(op, size, a, b));
    }
    fn cond(&mut self, cc: u8) -> Val {
        self.push(Rec::Cond(cc))
    }
    fn ea(&mut self) -> Val {
        self.push(Rec::Ea)
    }
    fn load(&mut self, size: u8, addr: Val) -> Val {
        self.push(Rec::Load(size, addr))
    }
    fn store(&mut self, size: u8, addr: Val, v: Val) {
        self.push(Rec::Store(size, addr, v));
    }
}

/// Replays recorded calls into `ir`, renaming the recorded temporaries to the values
/// `ir` makes; `Err` when a call uses a value not made yet, or a register, size or
/// condition out of range.
pub fn replay(calls: &[Rec], ir: &mut dyn Emit) -> Result<(), String> {
    let mut made: Vec<Val> = Vec::new();
    let map = |made: &Vec<Val>, v: Val| match v {
        Val::C(_) => Ok(v),
        Val::T(t) => made
            .get(usize::from(t))
            .copied()
            .ok_or_else(|| format!("t{t} is used before it is made")),
    };
    let reg = |r: u8| {
        if r < 8 {
            Ok(r)
        } else {
            Err(format!("register {r} does not exist (0 = EAX … 7 = EDI)"))
        }
    };
    let size = |s: u8| {
        if matches!(s, 1 | 2 | 4) {
            Ok(s)
        } else {
            Err(format!("size {s} is not 1, 2 or 4 bytes"))
        }
    };
    for c in calls {
        let v = match *c {
            Rec::Get(r) => Some(ir.get(reg(r)?)),
            Rec::Set(r, v) => {
                let v = map(&made, v)?;
                ir.set(reg(r)?, v);
                None
            }
            Rec::Bin(op, a, b) => Some(ir.bin(op, map(&made, a)?, map(&made, b)?)),
            Rec::Flags(op, s, a, b) => {
                let (a, b) = (map(&made, a)?, map(&made, b)?);
                ir.flags(op, size(s)?, a, b);
                None
            }
            Rec::Cond(cc) if cc < 16 => Some(ir.cond(cc)),
            Rec::Cond(cc) => return Err(format!("condition {cc} does not exist (0 to 15)")),
            Rec::Ea => Some(ir.ea()),
            Rec::Load(s, a) => {
                let a = map(&made, a)?;
                Some(ir.load(size(s)?, a))
            }
            Rec::Store(s, a, v) => {
                let (a, v) = (map(&made, a)?, map(&made, v)?);
                ir.store(size(s)?, a, v);
                None
            }
        };
        made.extend(v);
    }
    Ok(())
}

fn operand_text(p: Option<Operand>) -> String {
    match p {
        Some(Operand::Reg(r)) => format!("r{r}"),
        Some(Operand::Mem) => "m".to_string(),
        Some(Operand::Imm(i)) => format!("i{i:x}"),
        None => "-".to_string(),
    }
}

fn parse_operand(s: &str) -> Result<Option<Operand>, String> {
    if s == "-" {
        return Ok(None);
    }
    if s == "m" {
        return Ok(Some(Operand::Mem));
    }
    if let Some(r) = s.strip_prefix('r') {
        return match r.parse::<u8>() {
            Ok(r) if r < 8 => Ok(Some(Operand::Reg(r))),
            _ => Err(format!("bad register {s:?}")),
        };
    }
    if let Some(i) = s.strip_prefix('i') {
        return u32::from_str_radix(i, 16)
            .map(|i| Some(Operand::Imm(i)))
            .map_err(|_| format!("bad immediate {s:?}"));
    }
    Err(format!("bad operand {s:?}"))
}

/// An instruction as case text: `op.size dst src`.
pub fn insn_text(i: &AluInsn) -> String {
    format!(
        "{}.{} {} {}",
        i.op.name(),
        i.size,
        operand_text(Some(i.dst)),
        operand_text(i.src)
    )
}

/// Parses [`insn_text`]'s output.
pub fn parse_insn(text: &str) -> Result<AluInsn, String> {
    let f: Vec<&str> = text.split_whitespace().collect();
    let [head, dst, src] = f.as_slice() else {
        return Err(format!("bad instruction {text:?}"));
    };
    let (op, size) = head
        .split_once('.')
        .ok_or_else(|| format!("bad instruction {text:?}"))?;
    let op = AluOp::parse(op).ok_or_else(|| format!("unknown instruction {op:?}"))?;
    let size = match size {
        "1" => 1,
        "2" => 2,
        "4" => 4,
        _ => return Err(format!("bad size in {text:?}")),
    };
    Ok(AluInsn {
        op,
        size,
        dst: parse_operand(dst)?.ok_or_else(|| format!("no destination in {text:?}"))?,
        src: parse_operand(src)?,
    })
}

/// A block as a case line: its instructions, `; ` between them.
pub fn block_line(insns: &[AluInsn]) -> String {
    insns.iter().map(insn_text).collect::<Vec<_>>().join("; ")
}

/// The answer to a case line: each instruction's recorded calls (`, ` between them),
/// `; ` between instructions, `-` for an instruction the lowering declined.
pub fn answer(line: &str, imp: &dyn AluFamily) -> Result<String, String> {
    let mut out = Vec::new();
    for text in line.split(';') {
        let insn = parse_insn(text)?;
        let mut r = Recorder::default();
        out.push(if imp.lower(&insn, &mut r) {
            r.calls
                .iter()
                .map(Rec::to_text)
                .collect::<Vec<_>>()
                .join(", ")
        } else {
            "-".to_string()
        });
    }
    Ok(out.join("; "))
}

/// Parses an answer to a block of `n` instructions: per instruction its calls, or
/// `None` where the lowering declined.
pub fn parse_answer(line: &str, n: usize) -> Result<Vec<Option<Vec<Rec>>>, String> {
    let parts: Vec<&str> = line.split(';').map(str::trim).collect();
    if parts.len() != n {
        return Err(format!(
            "the answer has {} instructions, the block {n}",
            parts.len()
        ));
    }
    parts
        .iter()
        .map(|p| {
            if *p == "-" {
                return Ok(None);
            }
            if p.is_empty() {
                return Ok(Some(Vec::new()));
            }
            p.split(',')
                .map(|c| Rec::parse(c.trim()))
                .collect::<Result<Vec<_>, _>>()
                .map(Some)
        })
        .collect()
}

/// The component's program body: answers block cases on standard input with `imp`.
pub fn serve(imp: &dyn AluFamily) {
    super::serve(&|line| answer(line, imp));
}
