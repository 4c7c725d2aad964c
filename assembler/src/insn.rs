//! Instruction encoding: matches operands against iced-x86's op-code tables and picks
//! the encoding NASM picks (shortest form, sign-extended imm8, default operand size).

use crate::bounds::{self, Store};
use crate::expr::{Hint, Value};
use crate::parser::{Dist, Insn, Prefix};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use iced_x86::{
    Code, Encoder, EncodingKind, Instruction, MemorySize, Mnemonic, OpCodeOperandKind as K, OpKind,
    Register,
};

/// The instruction set: every legacy-encoded 16/32-bit `Code`, grouped by mnemonic.
#[derive(Debug)]
pub(crate) struct Isa {
    names: BTreeMap<String, Vec<Mnemonic>>,
    codes: BTreeMap<u32, Vec<Code>>,
}

const CC_ALIASES: &[(&str, &str)] = &[
    ("z", "e"),
    ("nz", "ne"),
    ("c", "b"),
    ("nc", "ae"),
    ("nae", "b"),
    ("nb", "ae"),
    ("na", "be"),
    ("nbe", "a"),
    ("pe", "p"),
    ("po", "np"),
    ("nge", "l"),
    ("nl", "ge"),
    ("ng", "le"),
    ("nle", "g"),
];

impl Isa {
    /// Builds the tables from iced-x86's op-code information.
    pub fn new() -> Self {
        let mut codes: BTreeMap<u32, Vec<Code>> = BTreeMap::new();
        for code in Code::values() {
            let info = code.op_code();
            if !info.is_instruction()
                || info.encoding() != EncodingKind::Legacy
                || !(info.mode16() || info.mode32())
            {
                continue;
            }
            // NASM's `sal` is `shl` (/4); iced's Sal codes are the undocumented /6 forms.
            if code.mnemonic() == Mnemonic::Sal
                || matches!(
                    code,
                    Code::Cmpxchg486_rm8_r8 | Code::Cmpxchg486_rm16_r16 | Code::Cmpxchg486_rm32_r32
                )
            {
                continue;
            }
            codes.entry(code.mnemonic() as u32).or_default().push(code);
        }
        let mut names: BTreeMap<String, Vec<Mnemonic>> = BTreeMap::new();
        for m in Mnemonic::values() {
            if codes.contains_key(&(m as u32)) {
                names.insert(format!("{m:?}").to_ascii_lowercase(), vec![m]);
            }
        }
        for (alias, target) in CC_ALIASES {
            for p in ["j", "set", "cmov"] {
                if let Some(m) = names.get(&format!("{p}{target}")).cloned() {
                    names.insert(format!("{p}{alias}"), m);
                }
            }
        }
        let pairs: &[(&str, &[Mnemonic])] = &[
            ("sal", &[Mnemonic::Shl]),
            ("pusha", &[Mnemonic::Pusha, Mnemonic::Pushad]),
            ("pushaw", &[Mnemonic::Pusha]),
            ("popa", &[Mnemonic::Popa, Mnemonic::Popad]),
            ("popaw", &[Mnemonic::Popa]),
            ("pushf", &[Mnemonic::Pushf, Mnemonic::Pushfd]),
            ("pushfw", &[Mnemonic::Pushf]),
            ("popf", &[Mnemonic::Popf, Mnemonic::Popfd]),
            ("popfw", &[Mnemonic::Popf]),
            ("iret", &[Mnemonic::Iret, Mnemonic::Iretd]),
            ("iretw", &[Mnemonic::Iret]),
            ("retn", &[Mnemonic::Ret]),
            ("icebp", &[Mnemonic::Int1]),
            ("xlat", &[Mnemonic::Xlatb]),
            ("fwait", &[Mnemonic::Wait]),
            ("loopz", &[Mnemonic::Loope]),
            ("loopnz", &[Mnemonic::Loopne]),
        ];
        for (alias, ms) in pairs {
            names.insert(alias.to_string(), ms.to_vec());
        }
        Isa { names, codes }
    }

    /// Whether `lower` is an instruction mnemonic.
    pub fn is_mnemonic(&self, lower: &str) -> bool {
        self.names.contains_key(lower)
    }
}

/// A memory operand after evaluation.
#[derive(Clone, Debug)]
pub(crate) struct RMem {
    pub seg: Option<Register>,
    pub base: Register,
    pub index: Register,
    pub scale: u32,
    pub disp: i64,
    /// The displacement is a plain number (no label, known), so it may be shortened.
    pub disp_simple: bool,
    /// Labels took part in the displacement (even if they cancel out).
    pub disp_labels: bool,
    pub disp_forced: Option<u32>,
    /// 16 or 32 from the registers used, 0 for an absolute address.
    pub addr_bits: u32,
}

/// What an evaluated operand is.
#[derive(Clone, Debug)]
pub(crate) enum RKind {
    Reg(Register),
    Mem(RMem),
    Imm(Value),
    Far(Value, Value),
}

/// An evaluated operand with its modifiers.
#[derive(Clone, Debug)]
pub(crate) struct Resolved {
    pub kind: RKind,
    pub size: Option<u32>,
    pub strict: bool,
    pub dist: Option<Dist>,
}

/// Where and how an instruction is being encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Env {
    pub bits: u32,
    pub ip: u64,
    /// The statement grew in a late pass: keep long forms for jumps and for values
    /// computed from labels, so that passes settle.
    pub no_short: bool,
}

/// Builds a memory operand from an evaluated address expression (NASM's register rules).
pub(crate) fn resolve_mem(
    v: &Value,
    seg: Option<Register>,
    forced: Option<u32>,
) -> Result<RMem, String> {
    let bad = || String::from("invalid effective address");
    let mut m = RMem {
        seg,
        base: Register::None,
        index: Register::None,
        scale: 1,
        disp: v.n,
        disp_simple: v.reloc == 0 && v.unknown.is_none(),
        disp_labels: v.labels,
        disp_forced: forced,
        addr_bits: 0,
    };
    let regs = &v.regs;
    if regs.is_empty() {
        return Ok(m);
    }
    let bits = crate::regs::gpr_bits(regs[0].0);
    if !(bits == 16 || bits == 32) || regs.iter().any(|&(r, _)| crate::regs::gpr_bits(r) != bits) {
        return Err(bad());
    }
    m.addr_bits = bits;
    if bits == 16 {
        if regs.len() > 2 || regs.iter().any(|&(_, k)| k != 1) {
            return Err(bad());
        }
        let is_base = |r: Register| r == Register::BX || r == Register::BP;
        let is_index = |r: Register| r == Register::SI || r == Register::DI;
        match regs.as_slice() {
            [(r, _)] if is_base(*r) || is_index(*r) => m.base = *r,
            [(a, _), (b, _)] if is_base(*a) && is_index(*b) => {
                m.base = *a;
                m.index = *b;
            }
            [(a, _), (b, _)] if is_base(*b) && is_index(*a) => {
                m.base = *b;
                m.index = *a;
            }
            _ => return Err(bad()),
        }
        return Ok(m);
    }
    let esp = Register::ESP;
    match regs.as_slice() {
        [(r, 1)] => m.base = *r,
        [(r, k)] if matches!(k, 2 | 3 | 5 | 9) && *r != esp => {
            m.base = *r;
            m.index = *r;
            m.scale = (*k - 1) as u32;
        }
        [(r, k)] if matches!(k, 4 | 8) && *r != esp => {
            m.index = *r;
            m.scale = *k as u32;
        }
        [(a, 1), (b, 1)] => {
            // NASM lists registers by name; the first is the base unless the hint
            // (the register written first, if not multiplied or summed) says otherwise.
            let (mut base, mut index) = if nasm_order(*a) < nasm_order(*b) {
                (*a, *b)
            } else {
                (*b, *a)
            };
            let swap = match v.hint {
                Hint::MakeBase(h) => h == index,
                Hint::NotBase(h) => h == base,
                _ => false,
            };
            if swap {
                core::mem::swap(&mut base, &mut index);
            }
            if index == esp {
                if base == esp {
                    return Err(bad());
                }
                core::mem::swap(&mut base, &mut index);
            }
            m.base = base;
            m.index = index;
        }
        [(a, 1), (b, k)] | [(b, k), (a, 1)] if matches!(k, 2 | 4 | 8) && *b != esp => {
            m.base = *a;
            m.index = *b;
            m.scale = *k as u32;
        }
        _ => return Err(bad()),
    }
    Ok(m)
}

/// The general-purpose register with the same number as `r` and `bits` wide (16 or 32).
fn same_gpr(r: Register, bits: u32) -> Option<Register> {
    use Register as R;
    const W: [Register; 8] = [R::AX, R::CX, R::DX, R::BX, R::SP, R::BP, R::SI, R::DI];
    const D: [Register; 8] = [
        R::EAX,
        R::ECX,
        R::EDX,
        R::EBX,
        R::ESP,
        R::EBP,
        R::ESI,
        R::EDI,
    ];
    let n = W
        .iter()
        .position(|&x| x == r)
        .or_else(|| D.iter().position(|&x| x == r))?;
    match bits {
        16 => W.get(n).copied(),
        32 => D.get(n).copied(),
        _ => None,
    }
}

/// Position of a 32-bit register in NASM's (alphabetical) register list.
fn nasm_order(r: Register) -> usize {
    const ORDER: [Register; 8] = [
        Register::EAX,
        Register::EBP,
        Register::EBX,
        Register::ECX,
        Register::EDI,
        Register::EDX,
        Register::ESI,
        Register::ESP,
    ];
    ORDER.iter().position(|&x| x == r).unwrap_or(ORDER.len())
}

fn is_string_kind(k: K) -> bool {
    matches!(k, K::seg_rSI | K::es_rDI | K::seg_rDI | K::seg_rBX_al)
}

fn reg_ok(k: K, r: Register) -> bool {
    match k {
        K::r8_or_mem | K::r8_reg | K::r8_opcode => r.is_gpr8(),
        K::r16_or_mem | K::r16_reg | K::r16_reg_mem | K::r16_rm | K::r16_opcode => r.is_gpr16(),
        K::r32_or_mem | K::r32_reg | K::r32_reg_mem | K::r32_rm | K::r32_opcode => r.is_gpr32(),
        K::seg_reg => r.is_segment_register(),
        K::cr_reg => r.is_cr(),
        K::dr_reg => r.is_dr(),
        K::tr_reg => r.is_tr(),
        K::es => r == Register::ES,
        K::cs => r == Register::CS,
        K::ss => r == Register::SS,
        K::ds => r == Register::DS,
        K::fs => r == Register::FS,
        K::gs => r == Register::GS,
        K::al => r == Register::AL,
        K::cl => r == Register::CL,
        K::ax => r == Register::AX,
        K::dx => r == Register::DX,
        K::eax => r == Register::EAX,
        K::st0 => r == Register::ST0,
        K::sti_opcode => r.is_st(),
        _ => false,
    }
}

fn is_far_mem(ms: MemorySize) -> bool {
    matches!(ms, MemorySize::SegPtr16 | MemorySize::SegPtr32)
}

fn sbyte16(n: i64) -> bool {
    (n.wrapping_add(128) as u16) <= 255
}

fn sbyte32(n: i64) -> bool {
    (n.wrapping_add(128) as u32) <= 255
}

fn fits_i8(n: i64, bits: u32) -> bool {
    if bits == 16 {
        (n as i16) >= -128 && (n as i16) <= 127
    } else {
        (n as i32) >= -128 && (n as i32) <= 127
    }
}

struct Cand {
    key: (u8, usize, u8, u8, u32),
    bytes: Vec<u8>,
    /// Number-overflow warnings for the immediates, as NASM gives them.
    warnings: Vec<String>,
    memsize: Option<usize>,
    short_failed: bool,
}

#[derive(Clone, Copy)]
struct Ctx<'a> {
    env: &'a Env,
    eosize: u32,
    easize: u32,
    seg: Option<Register>,
    prefixes: &'a [Prefix],
    near_default_mem: bool,
    /// The mnemonic has a near (16/32-bit displacement) branch form.
    has_near_branch: bool,
    /// The mnemonic has a sign-extended byte immediate form (the ALU group, IMUL,
    /// PUSH): NASM words the overflow of its full-size immediates as a "value".
    has_sign_extended_form: bool,
}

fn set_mem(ins: &mut Instruction, m: &RMem, easize: u32, moffs: bool, no_short: bool) {
    let disp_simple = m.disp_simple && !(no_short && m.disp_labels);
    let full = easize / 8;
    let size = if moffs || (m.base == Register::None && m.index == Register::None) {
        full
    } else if m.base == Register::None {
        4
    } else if let Some(f) = m.disp_forced {
        if f == 1 {
            1
        } else {
            full
        }
    } else if disp_simple
        && m.disp == 0
        && !(m.base == Register::BP && m.index == Register::None)
        && m.base != Register::EBP
    {
        0
    } else if disp_simple && fits_i8(m.disp, easize) {
        1
    } else {
        full
    };
    let disp = if easize == 16 {
        m.disp as u16 as u32
    } else if size == 1 {
        m.disp as i8 as i32 as u32
    } else {
        m.disp as u32
    };
    ins.set_memory_base(m.base);
    ins.set_memory_index(m.index);
    ins.set_memory_index_scale(m.scale);
    ins.set_memory_displacement32(disp);
    ins.set_memory_displ_size(size);
    if let Some(s) = m.seg {
        ins.set_segment_prefix(s);
    }
}

/// What filling in a form's operands learned, for encoding and ranking it.
#[derive(Default)]
struct Filled {
    /// An immediate operand was set (a second one is `Immediate8_2nd`).
    had_imm: bool,
    /// An immediate was taken in its sign-extended byte form.
    imm8: bool,
    /// The memory operand's size, when the form has one.
    memsize: Option<usize>,
    /// The form is a short branch.
    is_short: bool,
    /// A short branch to a plain number: (16-bit, target). NASM does not
    /// range-check those; it keeps the low byte of the displacement.
    absolute_short: Option<(bool, u64)>,
    /// Immediates too wide for their field (see [`bounds::check`]).
    warnings: Vec<String>,
}

impl Filled {
    /// Notes NASM's warning when `v` does not fit in `bytes` bytes.
    fn warn(&mut self, v: &Value, bytes: u32, store: Store) {
        self.warnings.extend(bounds::check(v, bytes, store));
    }
}

/// An operand and the place it takes in a form: its index and kind.
#[derive(Clone, Copy)]
struct Slot<'o> {
    i: u32,
    k: K,
    op: &'o Resolved,
}

/// Encodes `ops` with form `code`, or `None` when the form does not take them. A short
/// branch whose target is out of range gives a candidate marked `short_failed`.
fn try_code(code: Code, ops: &[Resolved], cx: &Ctx<'_>, order: u8) -> Option<Cand> {
    let string = form_applies(code, ops, cx)?;
    let kinds = code.op_code().op_kinds();
    let mut ins = Instruction::default();
    ins.set_code(code);
    let mut filled = Filled::default();
    if string {
        set_string_operands(&mut ins, kinds, cx.easize)?;
    } else {
        for (i, (&k, op)) in kinds.iter().zip(ops).enumerate() {
            set_operand(&mut ins, i as u32, k, op, code, cx, &mut filled)?;
        }
    }
    set_prefixes(&mut ins, cx);
    encode_candidate(code, &mut ins, cx, order, filled)
}

/// Whether form `code` exists in this mode and address size and takes as many operands
/// as given: `Some(true)` for a string form, whose operands are implicit.
fn form_applies(code: Code, ops: &[Resolved], cx: &Ctx<'_>) -> Option<bool> {
    let info = code.op_code();
    let bits = cx.env.bits;
    if (bits == 16 && !info.mode16()) || (bits == 32 && !info.mode32()) {
        return None;
    }
    let kinds = info.op_kinds();
    let string = kinds.iter().any(|&k| is_string_kind(k));
    if string {
        if !ops.is_empty() {
            return None;
        }
    } else if kinds.len() != ops.len() {
        return None;
    }
    if info.address_size() != 0
        && info.address_size() != cx.easize
        && !matches!(code.mnemonic(), Mnemonic::Jcxz | Mnemonic::Jecxz)
    {
        return None;
    }
    Some(string)
}

/// The implicit operands of a string form, for the address size `easize`.
fn set_string_operands(ins: &mut Instruction, kinds: &[K], easize: u32) -> Option<()> {
    let a32 = easize == 32;
    for (i, &k) in kinds.iter().enumerate() {
        let i = i as u32;
        let kind = match k {
            K::seg_rSI if a32 => OpKind::MemorySegESI,
            K::seg_rSI => OpKind::MemorySegSI,
            K::es_rDI if a32 => OpKind::MemoryESEDI,
            K::es_rDI => OpKind::MemoryESDI,
            K::seg_rDI if a32 => OpKind::MemorySegEDI,
            K::seg_rDI => OpKind::MemorySegDI,
            K::seg_rBX_al => {
                ins.set_memory_base(if a32 { Register::EBX } else { Register::BX });
                ins.set_memory_index(Register::AL);
                ins.set_memory_index_scale(1);
                ins.set_memory_displ_size(0);
                OpKind::Memory
            }
            _ => {
                let r = match k {
                    K::al => Register::AL,
                    K::ax => Register::AX,
                    K::eax => Register::EAX,
                    K::dx => Register::DX,
                    _ => return None,
                };
                ins.set_op_register(i, r);
                OpKind::Register
            }
        };
        ins.set_op_kind(i, kind);
    }
    Some(())
}

/// Operand `i` of kind `k` from `op`, or `None` when the form does not take it.
fn set_operand(
    ins: &mut Instruction,
    i: u32,
    k: K,
    op: &Resolved,
    code: Code,
    cx: &Ctx<'_>,
    filled: &mut Filled,
) -> Option<()> {
    match &op.kind {
        RKind::Reg(r) => {
            if !reg_ok(k, *r) || op.size.is_some_and(|s| r.size() != s as usize) {
                return None;
            }
            ins.set_op_kind(i, OpKind::Register);
            ins.set_op_register(i, *r);
        }
        RKind::Mem(m) => set_memory_operand(ins, Slot { i, k, op }, m, code, cx, filled)?,
        RKind::Imm(v) => {
            set_immediate_operand(ins, Slot { i, k, op }, v, code, cx, filled)?;
            filled.had_imm = true;
        }
        RKind::Far(sel, off) => {
            let o = match k {
                K::farbr2_2 => 16,
                K::farbr4_2 => 32,
                _ => return None,
            };
            if op.size.is_some_and(|s| s * 8 != o) {
                return None;
            }
            if o == 16 {
                ins.set_op_kind(i, OpKind::FarBranch16);
                ins.set_far_branch16(off.n as u16);
            } else {
                ins.set_op_kind(i, OpKind::FarBranch32);
                ins.set_far_branch32(off.n as u32);
            }
            ins.set_far_branch_selector(sel.n as u16);
        }
    }
    Some(())
}

/// A memory operand (ModRM memory, or a `moffs` absolute address).
fn set_memory_operand(
    ins: &mut Instruction,
    Slot { i, k, op }: Slot<'_>,
    m: &RMem,
    code: Code,
    cx: &Ctx<'_>,
    filled: &mut Filled,
) -> Option<()> {
    let info = code.op_code();
    let (osize, ms) = (info.operand_size(), info.memory_size());
    let moffs = k == K::mem_offs;
    if !matches!(k, K::r8_or_mem | K::r16_or_mem | K::r32_or_mem | K::mem) && !moffs {
        return None;
    }
    if moffs
        && (m.base != Register::None
            || m.index != Register::None
            || m.disp_forced.is_some_and(|f| f * 8 < cx.easize))
    {
        return None;
    }
    let far = is_far_mem(ms);
    if op.dist == Some(Dist::Far) {
        if !far || op.size.is_some_and(|s| osize != s * 8) {
            return None;
        }
    } else {
        if far && matches!(code.mnemonic(), Mnemonic::Jmp | Mnemonic::Call) {
            return None;
        }
        if cx.near_default_mem && op.size.is_none() && osize != 0 && osize != cx.eosize {
            return None;
        }
        if op
            .size
            .is_some_and(|s| ms.size() != 0 && ms.size() != s as usize)
        {
            return None;
        }
        filled.memsize = Some(ms.size());
    }
    set_mem(ins, m, cx.easize, moffs, cx.env.no_short);
    ins.set_op_kind(i, OpKind::Memory);
    Some(())
}

/// An immediate operand, or a near or short branch target.
fn set_immediate_operand(
    ins: &mut Instruction,
    slot: Slot<'_>,
    v: &Value,
    code: Code,
    cx: &Ctx<'_>,
    filled: &mut Filled,
) -> Option<()> {
    let Slot { i, k, op } = slot;
    let n = v.n;
    let simple = v.is_simple() && !(cx.env.no_short && v.labels);
    match k {
        K::imm8 | K::imm8_const_1 => {
            if op.size.is_some_and(|s| s != 1) {
                return None;
            }
            // The `, 1` forms only for a bare 1 (NASM's `unity`: no size keyword, not strict).
            if k == K::imm8_const_1
                && (!((simple && n == 1) || v.just_unknown()) || op.strict || op.size.is_some())
            {
                return None;
            }
            if k == K::imm8 {
                filled.warn(v, 1, Store::Data);
            }
            if filled.had_imm {
                ins.set_op_kind(i, OpKind::Immediate8_2nd);
                ins.set_immediate8_2nd(n as u8);
            } else {
                ins.set_op_kind(i, OpKind::Immediate8);
                ins.set_immediate8(n as u8);
            }
        }
        K::imm8sex16 | K::imm8sex32 => {
            let full = if k == K::imm8sex16 { 2 } else { 4 };
            match op.size {
                None | Some(1) => {}
                Some(s) if s == full && !op.strict => {}
                _ => return None,
            }
            let fits = if k == K::imm8sex16 {
                sbyte16(n)
            } else {
                sbyte32(n)
            };
            // Like NASM, a value that is only a forward reference is assumed to fit.
            if op.size != Some(1) && !(simple && fits) && !v.just_unknown() {
                return None;
            }
            filled.imm8 = true;
            if op.size == Some(1) {
                filled.warn(v, 1, Store::Signed);
            } else {
                filled.warn(v, full, Store::Value);
            }
            if k == K::imm8sex16 {
                ins.set_op_kind(i, OpKind::Immediate8to16);
                ins.set_immediate8to16(n as i8 as i16);
            } else {
                ins.set_op_kind(i, OpKind::Immediate8to32);
                ins.set_immediate8to32(n as i8 as i32);
            }
        }
        K::imm16 => {
            if op.size.is_some_and(|s| s != 2) {
                return None;
            }
            filled.warn(v, 2, full_immediate_wording(code, op, cx));
            ins.set_op_kind(i, OpKind::Immediate16);
            ins.set_immediate16(n as u16);
        }
        K::imm32 => {
            if op.size.is_some_and(|s| s != 4) {
                return None;
            }
            filled.warn(v, 4, full_immediate_wording(code, op, cx));
            ins.set_op_kind(i, OpKind::Immediate32);
            ins.set_immediate32(n as u32);
        }
        K::br16_1 | K::br32_1 | K::br16_2 | K::br32_4 => {
            set_branch_operand(ins, slot, v, code.op_code().operand_size(), cx, filled)?
        }
        _ => return None,
    }
    Some(())
}

/// How NASM words the overflow of a word or dword immediate: as a "value" for a
/// mnemonic that also has a sign-extended byte form (unless `strict`, or a PUSH whose
/// size is not the mode's), as "data" otherwise.
fn full_immediate_wording(code: Code, op: &Resolved, cx: &Ctx<'_>) -> Store {
    let push_of_other_size = matches!(code, Code::Push_imm16 | Code::Pushd_imm32)
        && code.op_code().operand_size() != cx.env.bits;
    if cx.has_sign_extended_form && !op.strict && !push_of_other_size {
        Store::Value
    } else {
        Store::Data
    }
}

/// A relative branch target: the short form (`br*_1`) or the near one.
fn set_branch_operand(
    ins: &mut Instruction,
    Slot { i, k, op }: Slot<'_>,
    v: &Value,
    osize: u32,
    cx: &Ctx<'_>,
    filled: &mut Filled,
) -> Option<()> {
    let short = matches!(k, K::br16_1 | K::br32_1);
    if op.dist == Some(Dist::Far) {
        return None;
    }
    // NASM picks the short form by itself only for targets in this
    // section (labels, `$`); a plain number gets the near form.
    let absolute = v.reloc == 0 && v.unknown.is_none();
    if short
        && op.dist != Some(Dist::Short)
        && (op.dist == Some(Dist::Near) || cx.env.no_short || (absolute && cx.has_near_branch))
    {
        return None;
    }
    if !short && op.dist == Some(Dist::Short) {
        return None;
    }
    if op.size.is_some_and(|s| osize != s * 8) {
        return None;
    }
    let target = if v.unknown.is_some() {
        cx.env.ip
    } else {
        v.n as u64
    };
    if matches!(k, K::br16_1 | K::br16_2) {
        ins.set_op_kind(i, OpKind::NearBranch16);
        ins.set_near_branch16(target as u16);
    } else {
        ins.set_op_kind(i, OpKind::NearBranch32);
        ins.set_near_branch32(target as u32);
    }
    filled.is_short = short;
    if short && absolute {
        filled.absolute_short = Some((matches!(k, K::br16_1), target));
    }
    Some(())
}

/// The segment override and the LOCK/REP prefixes of the statement.
fn set_prefixes(ins: &mut Instruction, cx: &Ctx<'_>) {
    if let Some(s) = cx.seg {
        ins.set_segment_prefix(s);
    }
    for p in cx.prefixes {
        match p {
            Prefix::Rep | Prefix::Repe => ins.set_has_repe_prefix(true),
            Prefix::Repne => ins.set_has_repne_prefix(true),
            Prefix::Lock => ins.set_has_lock_prefix(true),
            _ => {}
        }
    }
}

/// Encodes the filled-in instruction at the current address and ranks the result.
fn encode_candidate(
    code: Code,
    ins: &mut Instruction,
    cx: &Ctx<'_>,
    order: u8,
    filled: Filled,
) -> Option<Cand> {
    let bits = cx.env.bits;
    let ip = if bits == 16 {
        cx.env.ip & 0xFFFF
    } else {
        cx.env.ip & 0xFFFF_FFFF
    };
    let mut enc = Encoder::new(bits);
    if let Some((is16, target)) = filled.absolute_short {
        // Learn the length with an in-range target, then aim at the truncated one.
        if is16 {
            ins.set_near_branch16(ip as u16);
        } else {
            ins.set_near_branch32(ip as u32);
        }
        let len = enc.encode(ins, ip).ok()? as u64;
        let _ = enc.take_buffer();
        let next = ip.wrapping_add(len);
        let disp = target.wrapping_sub(next) as i8 as i64 as u64;
        let aim = next.wrapping_add(disp);
        if is16 {
            ins.set_near_branch16(aim as u16);
        } else {
            ins.set_near_branch32(aim as u32);
        }
    }
    if enc.encode(ins, ip).is_err() {
        return filled.is_short.then_some(Cand {
            key: (u8::MAX, 0, 0, 0, 0),
            bytes: Vec::new(),
            warnings: Vec::new(),
            memsize: filled.memsize,
            short_failed: true,
        });
    }
    let mut bytes = fix_prefixes(code, enc.take_buffer());
    if NO_OSIZE_PREFIX.contains(&code) {
        // NASM writes these without an operand-size prefix whatever the register size.
        let run = bytes.iter().take_while(|&&b| is_prefix_byte(b)).count();
        if let Some(p) = bytes[..run].iter().position(|&b| b == 0x66) {
            bytes.remove(p);
        }
    }
    let osize = code.op_code().operand_size();
    let mismatch = (osize != 0 && osize != cx.eosize) as u8;
    Some(Cand {
        key: (
            mismatch,
            bytes.len(),
            order,
            (!filled.imm8) as u8,
            code as u32,
        ),
        bytes,
        warnings: filled.warnings,
        memsize: filled.memsize,
        short_failed: false,
    })
}

/// Instructions NASM encodes without a 0x66 prefix even with a 16-bit register in 32-bit code.
const NO_OSIZE_PREFIX: &[Code] = &[
    Code::Mov_Sreg_rm16,
    Code::Mov_Sreg_r32m16,
    Code::Arpl_rm16_r16,
    Code::Arpl_r32m16_r32,
    Code::Lldt_rm16,
    Code::Lldt_r32m16,
    Code::Ltr_rm16,
    Code::Ltr_r32m16,
    Code::Verr_rm16,
    Code::Verr_r32m16,
    Code::Verw_rm16,
    Code::Verw_r32m16,
    Code::Lmsw_rm16,
    Code::Lmsw_r32m16,
    Code::Popw_CS,
];

fn is_prefix_byte(b: u8) -> bool {
    matches!(
        b,
        0xF0 | 0xF2 | 0xF3 | 0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0x66 | 0x67
    )
}

/// Puts legacy prefixes in NASM's order: lock/rep, segment, operand size, address size.
fn fix_prefixes(code: Code, mut bytes: Vec<u8>) -> Vec<u8> {
    if code.op_code().mandatory_prefix() != iced_x86::MandatoryPrefix::None
        && code.op_code().mandatory_prefix() != iced_x86::MandatoryPrefix::PNP
    {
        return bytes;
    }
    let rank = |b: u8| match b {
        0xF0 | 0xF2 | 0xF3 => Some(0),
        0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 => Some(1),
        0x66 => Some(2),
        0x67 => Some(3),
        _ => None,
    };
    let n = bytes.iter().take_while(|&&b| rank(b).is_some()).count();
    if n > 1 && n < bytes.len() {
        bytes[..n].sort_by_key(|&b| rank(b).unwrap_or(0));
    }
    bytes
}

/// Encodes one instruction with its evaluated operands.
pub(crate) fn encode(
    isa: &Isa,
    insn: &Insn,
    ops: &[Resolved],
    env: &Env,
) -> Result<Encoded, String> {
    let mut eosize = env.bits;
    let mut easize = 0;
    let mut seg = None;
    for p in &insn.prefixes {
        match p {
            Prefix::O16 => eosize = 16,
            Prefix::O32 => eosize = 32,
            Prefix::A16 => easize = 16,
            Prefix::A32 => easize = 32,
            Prefix::Seg(r) => seg = Some(*r),
            _ => {}
        }
    }
    if insn.mnem.is_empty() {
        let mut out = Vec::new();
        for p in &insn.prefixes {
            out.push(match p {
                Prefix::Rep | Prefix::Repe => 0xF3,
                Prefix::Repne => 0xF2,
                Prefix::Lock => 0xF0,
                Prefix::O16 if env.bits == 32 => 0x66,
                Prefix::O32 if env.bits == 16 => 0x66,
                Prefix::A16 if env.bits == 32 => 0x67,
                Prefix::A32 if env.bits == 16 => 0x67,
                Prefix::O16 | Prefix::O32 | Prefix::A16 | Prefix::A32 => continue,
                Prefix::Seg(r) => match r {
                    Register::ES => 0x26,
                    Register::CS => 0x2E,
                    Register::SS => 0x36,
                    Register::DS => 0x3E,
                    Register::FS => 0x64,
                    _ => 0x65,
                },
            });
        }
        return Ok(Encoded {
            bytes: out,
            warnings: Vec::new(),
        });
    }
    let mnem = insn.mnem.as_str();
    let mut ops: Vec<Resolved> = ops.to_vec();
    // Memory operands decide the address size.
    for op in &ops {
        if let RKind::Mem(m) = &op.kind {
            if m.addr_bits != 0 {
                if easize != 0 && easize != m.addr_bits {
                    return Err("address size prefix conflicts with the registers used".into());
                }
                easize = m.addr_bits;
            }
            if m.seg.is_some() && seg.is_some() {
                return Err("more than one segment override".into());
            }
        }
    }
    let mnem_list: Vec<Mnemonic> = match isa.names.get(mnem) {
        Some(l) => l.clone(),
        None => return Err(format!("instruction expected, found `{mnem}'")),
    };
    // NASM conveniences.
    if mnem.starts_with("loop") && ops.len() == 2 {
        match ops[1].kind {
            RKind::Reg(Register::CX) => easize = 16,
            RKind::Reg(Register::ECX) => easize = 32,
            _ => return Err("the second operand of `loop' must be cx or ecx".into()),
        }
        ops.pop();
    }
    if easize == 0 {
        easize = env.bits;
    }
    match mnem {
        "imul" if ops.len() == 2 && matches!(ops[1].kind, RKind::Imm(_)) => {
            let first = ops[0].clone();
            ops.insert(1, first);
        }
        "aam" | "aad" if ops.is_empty() => {
            ops.push(Resolved {
                kind: RKind::Imm(Value {
                    n: 10,
                    ..Value::default()
                }),
                size: None,
                strict: false,
                dist: None,
            });
        }
        "movzx" | "movsx"
            if ops.len() == 2 && matches!(ops[0].kind, RKind::Reg(r) if r.is_gpr16()) =>
        {
            if let RKind::Mem(_) = ops[1].kind {
                if ops[1].size.is_none() {
                    ops[1].size = Some(1);
                }
            }
        }
        _ => {}
    }
    // `add [mem], byte 5`: with no register to size the operation, NASM takes the
    // immediate's size keyword as the operation size.
    if matches!(
        mnem,
        "add" | "or" | "adc" | "sbb" | "and" | "sub" | "xor" | "cmp" | "mov" | "test"
    ) && ops.len() == 2
    {
        if let (RKind::Mem(_), RKind::Imm(_), None, Some(s)) =
            (&ops[0].kind, &ops[1].kind, ops[0].size, ops[1].size)
        {
            ops[0].size = Some(s);
        }
    }
    // NASM reads `lea r, imm` as `lea r, [imm]` and ignores size and distance keywords there.
    if mnem == "lea" && ops.len() == 2 {
        if let RKind::Imm(v) = &ops[1].kind {
            ops[1].kind = RKind::Mem(resolve_mem(v, None, None)?);
        }
        ops[1].dist = None;
        ops[1].size = None;
        ops[1].strict = false;
    }
    // `lar`/`lsl` take the size from the destination; NASM accepts either size of source register.
    if matches!(mnem, "lar" | "lsl") && ops.len() == 2 {
        if let (RKind::Reg(d), RKind::Reg(src)) = (&ops[0].kind, &ops[1].kind) {
            if let Some(r) = same_gpr(*src, crate::regs::gpr_bits(*d)) {
                ops[1].kind = RKind::Reg(r);
            }
        }
    }
    x87_short_forms(mnem, &mut ops);
    let mut orders: Vec<Vec<Resolved>> = Vec::new();
    match mnem {
        "xchg" if ops.len() == 2 && matches!(ops[0].kind, RKind::Reg(_)) => {
            orders.push(vec![ops[1].clone(), ops[0].clone()]);
            orders.push(ops.clone());
        }
        "test"
            if ops.len() == 2
                && matches!(ops[0].kind, RKind::Reg(_))
                && matches!(ops[1].kind, RKind::Mem(_)) =>
        {
            orders.push(vec![ops[1].clone(), ops[0].clone()]);
        }
        _ => orders.push(ops.clone()),
    }
    let near_default_mem = matches!(mnem, "jmp" | "call");
    let has_near_branch = !(mnem.starts_with("loop") || mnem == "jcxz" || mnem == "jecxz");
    // A prefix added after encoding moves the end of a branch by one byte.
    let want_asize = match (
        insn.prefixes.contains(&Prefix::A16),
        insn.prefixes.contains(&Prefix::A32),
    ) {
        (true, false) => 16,
        (false, true) => 32,
        _ => env.bits,
    };
    let has_sign_extended_form = mnem_list.iter().any(|m| {
        isa.codes.get(&(*m as u32)).is_some_and(|codes| {
            codes.iter().any(|c| {
                c.op_code()
                    .op_kinds()
                    .iter()
                    .any(|&k| matches!(k, K::imm8sex16 | K::imm8sex32))
            })
        })
    });
    let cx = Ctx {
        has_near_branch,
        has_sign_extended_form,
        env,
        eosize,
        easize,
        seg,
        prefixes: &insn.prefixes,
        near_default_mem,
    };
    let mut best = select(isa, &mnem_list, &orders, &ops, &cx)?;
    // An explicit a16/a32 that the chosen form does not already imply (NASM drops an
    // o16/o32 that the operands contradict, and the operand-size preference above
    // already honours one that they allow). The added byte moves the end of a
    // branch, so encode again one byte further on.
    if want_asize != env.bits {
        let run = best
            .bytes
            .iter()
            .take_while(|&&b| is_prefix_byte(b))
            .count();
        if !best.bytes[..run].contains(&0x67) {
            let shifted = Env {
                ip: env.ip.wrapping_add(1),
                ..*env
            };
            best = select(
                isa,
                &mnem_list,
                &orders,
                &ops,
                &Ctx {
                    env: &shifted,
                    ..cx
                },
            )?;
            let run = best
                .bytes
                .iter()
                .take_while(|&&b| is_prefix_byte(b))
                .count();
            best.bytes.insert(run, 0x67);
        }
    }
    Ok(Encoded {
        bytes: best.bytes,
        warnings: best.warnings,
    })
}

/// An encoded instruction and NASM's warnings about it.
pub(crate) struct Encoded {
    pub bytes: Vec<u8>,
    /// Number-overflow warnings (an immediate too wide for its field).
    pub warnings: Vec<String>,
}

/// NASM's short x87 forms: `fcom` and `fxch` alone mean ST0 with ST1, `fadd st2`
/// means `fadd st0, st2`, `faddp` means `faddp st1, st0` and `faddp st2` means
/// `faddp st2, st0`.
fn x87_short_forms(mnem: &str, ops: &mut Vec<Resolved>) {
    let st = |r: Register| Resolved {
        kind: RKind::Reg(r),
        size: None,
        strict: false,
        dist: None,
    };
    let one_st = ops.len() == 1
        && matches!(ops[0].kind, RKind::Reg(r) if (Register::ST0..=Register::ST7).contains(&r));
    const TO_ST0: &[&str] = &[
        "fcom", "fcomp", "fucom", "fucomp", "fxch", "fcomi", "fcomip", "fucomi", "fucomip", "fadd",
        "fmul", "fsub", "fsubr", "fdiv", "fdivr", "fcmovb", "fcmove", "fcmovbe", "fcmovu",
        "fcmovnb", "fcmovne", "fcmovnbe", "fcmovnu",
    ];
    const POPPING: &[&str] = &["faddp", "fmulp", "fsubp", "fsubrp", "fdivp", "fdivrp"];
    let to_st0 = TO_ST0.contains(&mnem);
    let popping = POPPING.contains(&mnem);
    if ops.is_empty() && matches!(mnem, "fcom" | "fcomp" | "fucom" | "fucomp" | "fxch") {
        *ops = vec![st(Register::ST0), st(Register::ST1)];
    } else if ops.is_empty() && popping {
        *ops = vec![st(Register::ST1), st(Register::ST0)];
    } else if one_st && to_st0 {
        *ops = vec![st(Register::ST0), ops[0].clone()];
    } else if one_st && popping {
        *ops = vec![ops[0].clone(), st(Register::ST0)];
    }
}

/// Tries every candidate encoding and returns the one NASM would pick.
fn select(
    isa: &Isa,
    mnem_list: &[Mnemonic],
    orders: &[Vec<Resolved>],
    ops: &[Resolved],
    cx: &Ctx<'_>,
) -> Result<Cand, String> {
    let mut cands: Vec<Cand> = Vec::new();
    for (oi, o) in orders.iter().enumerate() {
        for m in mnem_list {
            if let Some(codes) = isa.codes.get(&(*m as u32)) {
                for &code in codes {
                    if let Some(c) = try_code(code, o, cx, oi as u8) {
                        cands.push(c);
                    }
                }
            }
        }
    }
    let short_failed = cands.iter().any(|c| c.short_failed);
    cands.retain(|c| !c.short_failed);
    if cands.is_empty() {
        if short_failed {
            return Err("short jump is out of range".into());
        }
        return Err("invalid combination of opcode and operands".into());
    }
    let unsized_mem = ops
        .iter()
        .any(|o| matches!(o.kind, RKind::Mem(_)) && o.size.is_none() && o.dist != Some(Dist::Far));
    if unsized_mem && !cx.near_default_mem {
        let mut sizes: Vec<usize> = cands
            .iter()
            .filter_map(|c| c.memsize)
            .filter(|&s| s != 0)
            .collect();
        sizes.sort_unstable();
        sizes.dedup();
        // The x87 environment and state images come in a 16- and a 32-bit layout,
        // chosen by the operand size as NASM does.
        if sizes == [14, 28] || sizes == [94, 108] {
            let want = if cx.eosize == 16 { sizes[0] } else { sizes[1] };
            cands.retain(|c| c.memsize == Some(want));
        } else if sizes.len() > 1 {
            return Err("operation size not specified".into());
        }
    }
    cands
        .into_iter()
        .min_by_key(|c| c.key)
        .ok_or_else(|| String::from("invalid combination of opcode and operands"))
}
