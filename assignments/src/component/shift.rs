//! The shift/rotate component: ROL, ROR, RCL, RCR, SHL, SHR, SAR on 8, 16 and
//! 32-bit operands, result and EFLAGS as the Intel SDM (vol. 2B, "RCL/RCR/ROL/ROR"
//! and "SAL/SAR/SHL/SHR") defines them.

use super::{parse_hex, CaseRng};

/// EFLAGS.CF.
pub const CF: u32 = 1 << 0;
/// EFLAGS.PF.
pub const PF: u32 = 1 << 2;
/// EFLAGS.AF.
pub const AF: u32 = 1 << 4;
/// EFLAGS.ZF.
pub const ZF: u32 = 1 << 6;
/// EFLAGS.SF.
pub const SF: u32 = 1 << 7;
/// EFLAGS.OF.
pub const OF: u32 = 1 << 11;

/// One shift or rotate instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShiftOp {
    /// Rotate left.
    Rol,
    /// Rotate right.
    Ror,
    /// Rotate left through CF.
    Rcl,
    /// Rotate right through CF.
    Rcr,
    /// Shift left (SAL is the same instruction).
    Shl,
    /// Logical shift right.
    Shr,
    /// Arithmetic shift right.
    Sar,
}

impl ShiftOp {
    /// All seven.
    pub const ALL: [ShiftOp; 7] = [
        ShiftOp::Rol,
        ShiftOp::Ror,
        ShiftOp::Rcl,
        ShiftOp::Rcr,
        ShiftOp::Shl,
        ShiftOp::Shr,
        ShiftOp::Sar,
    ];
    /// The mnemonic in lower case.
    pub const fn name(self) -> &'static str {
        match self {
            ShiftOp::Rol => "rol",
            ShiftOp::Ror => "ror",
            ShiftOp::Rcl => "rcl",
            ShiftOp::Rcr => "rcr",
            ShiftOp::Shl => "shl",
            ShiftOp::Shr => "shr",
            ShiftOp::Sar => "sar",
        }
    }
    /// The operation called `name`.
    pub fn parse(name: &str) -> Option<ShiftOp> {
        ShiftOp::ALL.into_iter().find(|o| o.name() == name)
    }
    /// ROL, ROR, RCL or RCR.
    pub const fn is_rotate(self) -> bool {
        matches!(
            self,
            ShiftOp::Rol | ShiftOp::Ror | ShiftOp::Rcl | ShiftOp::Rcr
        )
    }
}

/// What a submission implements: one shift or rotate.
pub trait ShiftRotate {
    /// Executes `op` on the low `size` bits (8, 16 or 32) of `value` by `count` (the
    /// raw CL or immediate, before masking), with `eflags` the flags before the
    /// instruction. Returns the result, zero-extended to 32 bits, and EFLAGS after it.
    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32);
}

/// The EFLAGS bits whose value the SDM defines after `op` with `count`: the others
/// (OF after a multi-bit count, AF after any shift, CF after SHL/SHR by the operand
/// size or more) are not compared.
pub fn defined_flags(op: ShiftOp, size: u8, count: u8) -> u32 {
    let masked = count & 0x1f;
    if masked == 0 {
        return u32::MAX;
    }
    let mut mask = u32::MAX;
    if masked != 1 {
        mask &= !OF;
    }
    if !op.is_rotate() {
        mask &= !AF;
        if matches!(op, ShiftOp::Shl | ShiftOp::Shr) && masked >= size {
            mask &= !CF;
        }
    }
    mask
}

/// One differential case.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Case {
    /// The operation.
    pub op: ShiftOp,
    /// 8, 16 or 32.
    pub size: u8,
    /// The destination operand.
    pub value: u32,
    /// The count operand.
    pub count: u8,
    /// EFLAGS before.
    pub eflags: u32,
}

impl Case {
    /// The line sent to the submission: `op size value count eflags` (numbers in hex).
    pub fn to_line(&self) -> String {
        format!(
            "{} {} {:x} {:x} {:x}",
            self.op.name(),
            self.size,
            self.value,
            self.count,
            self.eflags
        )
    }
    /// Parses [`Case::to_line`]'s output.
    pub fn from_line(line: &str) -> Result<Case, String> {
        let mut f = line.split_whitespace();
        let op = f
            .next()
            .and_then(ShiftOp::parse)
            .ok_or_else(|| format!("bad operation in {line:?}"))?;
        let size = match f.next() {
            Some("8") => 8,
            Some("16") => 16,
            Some("32") => 32,
            _ => return Err(format!("bad size in {line:?}")),
        };
        let value = parse_hex(f.next())?;
        let count = u8::try_from(parse_hex(f.next())?).map_err(|_| "count out of range")?;
        let eflags = parse_hex(f.next())?;
        Ok(Case {
            op,
            size,
            value,
            count,
            eflags,
        })
    }
    /// Runs the case on `imp` and formats the answer line: `result eflags` in hex.
    pub fn answer(&self, imp: &dyn ShiftRotate) -> String {
        let (r, f) = imp.exec(self.op, self.size, self.value, self.count, self.eflags);
        format!("{r:x} {f:x}")
    }
    /// Compares a submission's answer line with the reference's answer; `Err` says
    /// what differed.
    pub fn compare(&self, want: (u32, u32), got_line: &str) -> Result<(), String> {
        let mut f = got_line.split_whitespace();
        let got = match (parse_hex(f.next()), parse_hex(f.next())) {
            (Ok(r), Ok(fl)) => (r, fl),
            _ => return Err(format!("{}: answered {got_line:?}", self.describe())),
        };
        let mask = defined_flags(self.op, self.size, self.count);
        if got.0 != want.0 || got.1 & mask != want.1 & mask {
            return Err(format!(
                "{}: expected result {:#x} flags [{}], got result {:#x} flags [{}]",
                self.describe(),
                want.0,
                flag_names(want.1, mask),
                got.0,
                flag_names(got.1, mask)
            ));
        }
        Ok(())
    }
    /// A readable description (`shl 8-bit 0x81 by 1, flags [CF]`).
    pub fn describe(&self) -> String {
        format!(
            "{} {}-bit {:#x} by {} with flags [{}]",
            self.op.name(),
            self.size,
            self.value & size_mask(self.size),
            self.count,
            flag_names(self.eflags, u32::MAX)
        )
    }
}

/// The low `size` bits set.
pub fn size_mask(size: u8) -> u32 {
    match size {
        8 => 0xff,
        16 => 0xffff,
        _ => u32::MAX,
    }
}

/// The status flags set in `eflags` among `mask` (`CF ZF`…), and any other bits in hex.
pub fn flag_names(eflags: u32, mask: u32) -> String {
    let names = [
        (CF, "CF"),
        (PF, "PF"),
        (AF, "AF"),
        (ZF, "ZF"),
        (SF, "SF"),
        (OF, "OF"),
    ];
    let mut parts: Vec<String> = names
        .iter()
        .filter(|(b, _)| eflags & mask & b != 0)
        .map(|(_, n)| (*n).to_string())
        .collect();
    // Bit 1 is always set in EFLAGS: not worth showing.
    let other = eflags & mask & !(CF | PF | AF | ZF | SF | OF | 0x2);
    if other != 0 {
        parts.push(format!("other {other:#x}"));
    }
    parts.join(" ")
}

/// The cases a test selects: the edge cases, then `random` seeded ones.
pub fn cases(select: &super::CaseSelect) -> Vec<Case> {
    let ops: Vec<ShiftOp> = if select.select.is_empty() {
        ShiftOp::ALL.to_vec()
    } else {
        select
            .select
            .iter()
            .filter_map(|s| ShiftOp::parse(s))
            .collect()
    };
    let sizes: Vec<u8> = if select.sizes.is_empty() {
        vec![8, 16, 32]
    } else {
        select.sizes.clone()
    };
    let base_flags = [0x2, 0x2 | CF, 0x2 | OF | SF | ZF | AF | PF, 0x202 | CF | OF];
    let mut out = Vec::new();
    if select.edge {
        let counts = [0u8, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 255];
        for &op in &ops {
            for &size in &sizes {
                let top = 1u32 << (size - 1);
                let values = [
                    0,
                    1,
                    top,
                    top | 1,
                    size_mask(size),
                    0x5a5a_5a5a & size_mask(size),
                ];
                for &value in &values {
                    for &count in &counts {
                        for &eflags in &base_flags[..2] {
                            out.push(Case {
                                op,
                                size,
                                value,
                                count,
                                eflags,
                            });
                        }
                    }
                }
            }
        }
    }
    let mut rng = CaseRng::new(select.seed);
    for _ in 0..select.random {
        if ops.is_empty() || sizes.is_empty() {
            break;
        }
        let op = rng.pick(&ops);
        let size = rng.pick(&sizes);
        let count = if rng.next_u32().is_multiple_of(4) {
            rng.next_u32() as u8
        } else {
            (rng.next_u32() % (u32::from(size) + 2)) as u8
        };
        out.push(Case {
            op,
            size,
            value: rng.next_u32() & size_mask(size),
            count,
            eflags: rng.pick(&base_flags),
        });
    }
    out
}

/// The component's program body: answers shift cases on standard input with `imp`.
pub fn serve(imp: &dyn ShiftRotate) {
    super::serve(&|line| Case::from_line(line).map(|c| c.answer(imp)));
}
