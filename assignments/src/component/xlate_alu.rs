//! The translator's ALU family: the IR operands and operations it is lowered to, and
//! the trait through which vmlab's translating tier lowers ADD, ADC, SUB, SBB, AND, OR,
//! XOR, CMP, TEST, INC and DEC. Only `core` is used, so the core (`no_std`) compiles
//! this very file as part of its IR.

use core::fmt;

/// A temporary's number.
pub type Tmp = u16;

/// An IR operand: a temporary or a constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val {
    /// The value of a temporary.
    T(Tmp),
    /// A constant.
    C(u32),
}

impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Val::T(t) => write!(f, "t{t}"),
            Val::C(c) => write!(f, "{c:#x}"),
        }
    }
}

/// A 32-bit wrapping arithmetic or logic operation (no flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// Wrapping addition.
    Add,
    /// Wrapping subtraction.
    Sub,
    /// Bitwise AND.
    And,
    /// Bitwise OR.
    Or,
    /// Bitwise XOR.
    Xor,
    /// Left shift by the low 5 bits of the second operand (so are the other shifts).
    Shl,
    /// Logical right shift.
    Shr,
    /// Arithmetic right shift.
    Sar,
    /// Wrapping multiplication (the low 32 bits of the product).
    Mul,
}

/// Every binary operation.
pub const BIN_OPS: [BinOp; 9] = [
    BinOp::Add,
    BinOp::Sub,
    BinOp::And,
    BinOp::Or,
    BinOp::Xor,
    BinOp::Shl,
    BinOp::Shr,
    BinOp::Sar,
    BinOp::Mul,
];

impl BinOp {
    /// The operation's name in the IR listing.
    pub fn name(self) -> &'static str {
        match self {
            BinOp::Add => "add",
            BinOp::Sub => "sub",
            BinOp::And => "and",
            BinOp::Or => "or",
            BinOp::Xor => "xor",
            BinOp::Shl => "shl",
            BinOp::Shr => "shr",
            BinOp::Sar => "sar",
            BinOp::Mul => "mul",
        }
    }
}

/// What a `flags` operation records: the ALU instruction whose flags the core's ALU
/// computes from the operands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    /// ADD.
    Add,
    /// ADC: reads CF.
    Adc,
    /// SUB and CMP.
    Sub,
    /// SBB: reads CF.
    Sbb,
    /// AND and TEST.
    And,
    /// OR.
    Or,
    /// XOR.
    Xor,
    /// INC: keeps CF (the second operand is unused, as for DEC and NEG).
    Inc,
    /// DEC.
    Dec,
    /// NEG of the first operand.
    Neg,
    /// SHL by a count of 1 to 31 (the second operand; so for SHR and SAR).
    Shl,
    /// SHR.
    Shr,
    /// SAR.
    Sar,
    /// IMUL of two or three operands (the product truncated to the operand size).
    Imul,
    /// ROL by a count of 1 to 31: sets CF and OF, keeps SF, ZF, AF and PF.
    Rol,
    /// ROR: as ROL.
    Ror,
}

/// Every flag operation, in the order the Wasm backend numbers them.
pub const FLAG_OPS: [FlagOp; 16] = [
    FlagOp::Add,
    FlagOp::Adc,
    FlagOp::Sub,
    FlagOp::Sbb,
    FlagOp::And,
    FlagOp::Or,
    FlagOp::Xor,
    FlagOp::Inc,
    FlagOp::Dec,
    FlagOp::Neg,
    FlagOp::Shl,
    FlagOp::Shr,
    FlagOp::Sar,
    FlagOp::Imul,
    FlagOp::Rol,
    FlagOp::Ror,
];

impl FlagOp {
    /// The operation's name in the IR listing.
    pub fn name(self) -> &'static str {
        match self {
            FlagOp::Add => "add",
            FlagOp::Adc => "adc",
            FlagOp::Sub => "sub",
            FlagOp::Sbb => "sbb",
            FlagOp::And => "and",
            FlagOp::Or => "or",
            FlagOp::Xor => "xor",
            FlagOp::Inc => "inc",
            FlagOp::Dec => "dec",
            FlagOp::Neg => "neg",
            FlagOp::Shl => "shl",
            FlagOp::Shr => "shr",
            FlagOp::Sar => "sar",
            FlagOp::Imul => "imul",
            FlagOp::Rol => "rol",
            FlagOp::Ror => "ror",
        }
    }
}

/// The instructions of the family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AluOp {
    /// `dst += src`.
    Add,
    /// `dst += src + CF`.
    Adc,
    /// `dst -= src`.
    Sub,
    /// `dst -= src + CF`.
    Sbb,
    /// `dst &= src`.
    And,
    /// `dst |= src`.
    Or,
    /// `dst ^= src`.
    Xor,
    /// The flags of `dst - src`; `dst` is kept.
    Cmp,
    /// The flags of `dst & src`; `dst` is kept.
    Test,
    /// `dst += 1`, CF kept (no source operand).
    Inc,
    /// `dst -= 1`, CF kept (no source operand).
    Dec,
}

/// Every instruction of the family.
pub const ALU_OPS: [AluOp; 11] = [
    AluOp::Add,
    AluOp::Adc,
    AluOp::Sub,
    AluOp::Sbb,
    AluOp::And,
    AluOp::Or,
    AluOp::Xor,
    AluOp::Cmp,
    AluOp::Test,
    AluOp::Inc,
    AluOp::Dec,
];

impl AluOp {
    /// The mnemonic in lower case.
    pub fn name(self) -> &'static str {
        match self {
            AluOp::Add => "add",
            AluOp::Adc => "adc",
            AluOp::Sub => "sub",
            AluOp::Sbb => "sbb",
            AluOp::And => "and",
            AluOp::Or => "or",
            AluOp::Xor => "xor",
            AluOp::Cmp => "cmp",
            AluOp::Test => "test",
            AluOp::Inc => "inc",
            AluOp::Dec => "dec",
        }
    }

    /// The instruction called `name`.
    pub fn parse(name: &str) -> Option<AluOp> {
        ALU_OPS.into_iter().find(|o| o.name() == name)
    }
}

/// Where an operand lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A general-purpose register, 0 = EAX … 7 = EDI (32-bit operands only).
    Reg(u8),
    /// The instruction's memory operand, at the address [`Emit::ea`] gives.
    Mem,
    /// An immediate, already extended to the operand size.
    Imm(u32),
}

/// One instruction of the family, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AluInsn {
    /// The instruction.
    pub op: AluOp,
    /// The operand size in bytes: 4, or 1 and 2 for a memory destination with an
    /// immediate source.
    pub size: u8,
    /// The first (destination) operand.
    pub dst: Operand,
    /// The second (source) operand; `None` for INC and DEC.
    pub src: Option<Operand>,
}

/// The IR builder a lowering writes one instruction's operations into. Every method
/// appends one operation; those that make a value return the temporary holding it.
pub trait Emit {
    /// `t = get reg`: the guest register's value.
    fn get(&mut self, reg: u8) -> Val;
    /// `set reg, v`: writes the guest register.
    fn set(&mut self, reg: u8, v: Val);
    /// `t = op a, b`.
    fn bin(&mut self, op: BinOp, a: Val, b: Val) -> Val;
    /// `flags op.size a, b`: the status flags become what `op` on `a`, `b` of `size`
    /// bytes leaves (the core's ALU computes them when they are read).
    fn flags(&mut self, op: FlagOp, size: u8, a: Val, b: Val);
    /// `t = cond cc`: 1 when condition `cc` (the Jcc encoding's low nibble: 2 = B,
    /// i.e. CF set) holds on the flags as they are now, else 0.
    fn cond(&mut self, cc: u8) -> Val;
    /// `t = ea`: the memory operand's effective (flat linear) address.
    fn ea(&mut self) -> Val;
    /// `t = load.size addr`: the `size`-byte value at `addr`, zero-extended. A load
    /// must come before every guest-visible write of its instruction.
    fn load(&mut self, size: u8, addr: Val) -> Val;
    /// `store.size addr, v`: writes the low `size` bytes of `v` at `addr`. A store
    /// must come before the instruction's `set` and `flags`.
    fn store(&mut self, size: u8, addr: Val, v: Val);
}

/// What a submission implements: the lowering of one instruction of the family.
pub trait AluFamily {
    /// Appends the IR of `insn` to `ir` and returns true, or returns false when this
    /// form is not lowered (the interpreter then runs it; what was appended is dropped).
    fn lower(&self, insn: &AluInsn, ir: &mut dyn Emit) -> bool;
}
