//! The test machine's memory map, descriptor tables and instruction encodings: the
//! stack tests run a program at CPL 3 whose faults (and the HLT that ends every case,
//! which is privileged there) go through ring-0 interrupt gates to a HLT, so the
//! ring-0 frame shows the user state where the instruction left it; or at CPL 0
//! (segments of DPL 0, the same selectors with RPL 0), where the HLT stops the run.

use emulator_core::{FlatEntry, Machine, MachineConfig, Segment, TableReg};

/// Where the instruction under test starts; the rest of `CODE..CODE_END` is HLT.
pub const CODE: u32 = 0x8000;
pub const CODE_END: u32 = 0xa000;
/// Data for memory operands (DS is flat).
pub const DATA: u32 = 0xc000;
/// The 16-bit stack segments' base.
pub const STACK16_BASE: u32 = 0x2_0000;
/// Around the 32-bit stack.
pub const STACK32_TOP: u32 = 0x4_0000;
/// Ring-0 interrupt handlers: a HLT at `HANDLERS + 16 * vector`.
pub const HANDLERS: u32 = 0x3000;
/// The ring-0 stack top (ESP0 in the TSS).
pub const RING0_STACK: u32 = 0x6000;
const GDT: u32 = 0x800;
const IDT: u32 = 0x1000;
const TSS: u32 = 0x2000;
const PAGE_DIR: u32 = 0x8_0000;
const PAGE_TABLE: u32 = 0x8_1000;

/// Memory the model may write and the test compares: `(start, end)`.
pub const WINDOWS: [(u32, u32); 3] = [
    (DATA, DATA + 0x1000),
    (STACK16_BASE, STACK16_BASE + 0x1_0000),
    (STACK32_TOP - 0x2000, STACK32_TOP + 0x2000),
];

/// Selectors (RPL 3 for the program's; [`at`] gives them for another ring).
pub const RING0_CODE: u16 = 0x08;
pub const RING0_DATA: u16 = 0x10;
pub const CODE32: u16 = 0x1b;
pub const CODE16: u16 = 0x23;
pub const FLAT: u16 = 0x2b;
pub const STACK16: u16 = 0x33;
pub const STACK16_DOWN: u16 = 0x3b;
pub const STACK32_DOWN: u16 = 0x43;
const TSS_SEL: u16 = 0x48;
pub const SHORT_DATA: u16 = 0x53;
/// The program's selector `sel` for a program at `ring` (its segments have DPL `ring`).
pub fn at(ring: u8, sel: u16) -> u16 {
    (sel & !3) | ring as u16
}

/// The limit of `SHORT_DATA` (a store past it raises #GP).
pub const SHORT_LIMIT: u32 = DATA + 0xff;

/// A segment as the model sees it.
#[derive(Clone, Copy, Debug)]
pub struct SegDesc {
    pub base: u32,
    pub limit: u32,
    /// Access byte (P, DPL, S, type) in bits 0..7, D/B in bit 14.
    pub attrs: u16,
}

impl SegDesc {
    /// This descriptor with DPL `dpl`.
    fn with_dpl(mut self, dpl: u8) -> SegDesc {
        self.attrs = (self.attrs & !0x60) | (dpl as u16) << 5;
        self
    }
    pub fn big(&self) -> bool {
        self.attrs & 0x4000 != 0
    }
    pub fn expand_down(&self) -> bool {
        self.attrs & 0x1c == 0x14
    }
    /// The descriptor-cache form (granularity bit set for limits past 1 MiB).
    pub fn segment(&self, selector: u16) -> Segment {
        let g = if self.limit > 0xf_ffff { 0x8000 } else { 0 };
        Segment {
            selector,
            base: self.base,
            limit: self.limit,
            attrs: self.attrs | g,
        }
    }
    /// The 8-byte descriptor.
    fn encode(&self) -> u64 {
        let (raw, g) = if self.limit > 0xf_ffff {
            (self.limit >> 12, 1u64 << 55)
        } else {
            (self.limit, 0)
        };
        let (b, a) = (self.base as u64, self.attrs as u64);
        (raw as u64 & 0xffff)
            | (b & 0xff_ffff) << 16
            | (a & 0xff) << 40
            | ((raw as u64 >> 16) & 0xf) << 48
            | ((a >> 12) & 0xf) << 52
            | g
            | (b >> 24) << 56
    }
}

/// The descriptor for `selector` in a machine whose expand-down stacks have `down_limit`
/// (the program's segments with DPL 3).
pub fn descriptor(selector: u16, down_limit: u32) -> Option<SegDesc> {
    let d = |base, limit, attrs| Some(SegDesc { base, limit, attrs });
    match selector & !3 {
        0x08 => d(0, u32::MAX, 0x409b),
        0x10 => d(0, u32::MAX, 0x4093),
        0x18 => d(0, u32::MAX, 0x40fb),
        0x20 => d(0, 0xffff, 0x00fb),
        0x28 => d(0, u32::MAX, 0x40f3),
        0x30 => d(STACK16_BASE, 0xffff, 0x00f3),
        0x38 => d(STACK16_BASE, down_limit, 0x00f7),
        0x40 => d(0, down_limit, 0x40f7),
        0x48 => d(TSS, 0x67, 0x008b),
        0x50 => d(0, SHORT_LIMIT, 0x00f3),
        _ => None,
    }
}

/// INT n vectors the tests use: (vector, gate type, target selector, target offset).
pub const INT_GATES: [(u8, u8, u16, u32); 4] = [
    (0x40, 0xe, CODE32, 0x9000),
    (0x41, 0xf, CODE16, 0x9100),
    (0x42, 0x6, CODE32, 0x9200),
    (0x43, 0x7, CODE16, 0x9300),
];

/// The byte the compared windows hold before a run.
pub fn pattern(lin: u32) -> u8 {
    (lin.wrapping_mul(0x9e37_79b1) >> 24) as u8 ^ (lin as u8)
}

/// The windows' bytes before a run, computed once.
pub fn window_patterns() -> &'static [Vec<u8>] {
    static P: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    P.get_or_init(|| {
        WINDOWS
            .iter()
            .map(|&(s, e)| (s..e).map(pattern).collect())
            .collect()
    })
}

/// Everything a case sets before its one instruction.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The program's privilege level (0 or 3).
    pub ring: u8,
    pub code: Vec<u8>,
    pub code32: bool,
    pub gpr: [u32; 8],
    pub eflags: u32,
    /// ES, CS, SS, DS, FS, GS selectors.
    pub sel: [u16; 6],
    pub down_limit: u32,
    /// A linear page left not present (paging is on when set).
    pub absent_page: Option<u32>,
    /// Bytes written over the pattern before the run.
    pub preset: Vec<(u32, u8)>,
}

/// Builds the machine for `s`, ready to run the instruction at `CODE`.
pub fn machine(s: &Setup, fast: bool) -> Machine {
    let mut m = Machine::new(MachineConfig {
        ram_mib: 1,
        ..MachineConfig::default()
    })
    .unwrap();
    m.set_fast_tier(fast);
    let mut image = vec![0xf4u8; (CODE_END - CODE) as usize];
    image[..s.code.len()].copy_from_slice(&s.code);
    m.load_flat(CODE, &image, FlatEntry::Protected32).unwrap();
    // The program's segments (0x18 up, but the TSS) have DPL `ring`.
    let desc = |sel: u16| {
        let d = descriptor(sel, s.down_limit)?;
        Some(if sel & !3 >= 0x18 && sel & !3 != TSS_SEL {
            d.with_dpl(s.ring)
        } else {
            d
        })
    };
    for sel in (0x08..=0x50).step_by(8) {
        if let Some(d) = desc(sel) {
            // Accessed already, so descriptor loads leave the table as it is.
            let mut d = d;
            d.attrs |= 1;
            let at = GDT + sel as u32;
            m.write_phys(at, &d.encode().to_le_bytes()).unwrap();
        }
    }
    let gate = |offset: u32, sel: u16, typ: u8, dpl: u8| -> u64 {
        (offset as u64 & 0xffff)
            | (sel as u64) << 16
            | (0x80 | (dpl as u64) << 5 | typ as u64) << 40
            | (offset as u64 >> 16) << 48
    };
    for v in [12u32, 13, 14] {
        let g = gate(HANDLERS + 16 * v, RING0_CODE, 0xe, 0);
        m.write_phys(IDT + 8 * v, &g.to_le_bytes()).unwrap();
    }
    for (v, typ, sel, off) in INT_GATES {
        let g = gate(off, at(s.ring, sel), typ, 3);
        m.write_phys(IDT + 8 * v as u32, &g.to_le_bytes()).unwrap();
    }
    m.write_phys(HANDLERS, &[0xf4; 0x1000]).unwrap();
    let mut tss = [0u8; 0x68];
    tss[4..8].copy_from_slice(&RING0_STACK.to_le_bytes());
    tss[8..10].copy_from_slice(&RING0_DATA.to_le_bytes());
    m.write_phys(TSS, &tss).unwrap();
    for ((start, _), bytes) in WINDOWS.iter().zip(window_patterns()) {
        m.write_phys(*start, bytes).unwrap();
    }
    for &(a, b) in &s.preset {
        m.write_phys(a, &[b]).unwrap();
    }
    if let Some(page) = s.absent_page {
        m.write_phys(PAGE_DIR, &(PAGE_TABLE | 7).to_le_bytes())
            .unwrap();
        for i in 0..256u32 {
            let pte = if i << 12 == page { 0 } else { (i << 12) | 7 };
            m.write_phys(PAGE_TABLE + 4 * i, &pte.to_le_bytes())
                .unwrap();
        }
    }
    let c = m.cpu_mut();
    c.gdtr = TableReg {
        base: GDT,
        limit: 0x57,
    };
    c.idtr = TableReg {
        base: IDT,
        limit: 0x7ff,
    };
    c.tr = descriptor(TSS_SEL, 0).unwrap().segment(TSS_SEL);
    for (i, &sel) in s.sel.iter().enumerate() {
        c.seg[i] = desc(sel).map(|d| d.segment(sel)).unwrap_or_default();
    }
    c.cpl = s.ring;
    c.gpr = s.gpr;
    c.eip = CODE;
    c.eflags = s.eflags;
    if s.absent_page.is_some() {
        c.cr3 = PAGE_DIR;
        c.cr0 |= 0x8000_0000;
    }
    m
}

/// A memory operand form; the `A16` ones use 16-bit addressing.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Mem {
    /// `[bx+si+d8]` (DS).
    A16BxSi(i8),
    /// `[bp+d8]` (SS).
    A16Bp(i8),
    /// `[ebx+d32]` (DS).
    A32Ebx(u32),
    /// `[esp+d8]` (SS).
    A32Esp(i8),
}

impl Mem {
    pub fn asize(self) -> u8 {
        match self {
            Mem::A16BxSi(_) | Mem::A16Bp(_) => 2,
            _ => 4,
        }
    }
    /// ModRM (and SIB and displacement) with `reg` in the reg field.
    fn encode(self, reg: u8, out: &mut Vec<u8>) {
        match self {
            Mem::A16BxSi(d) => out.extend([0x40 | reg << 3, d as u8]),
            Mem::A16Bp(d) => out.extend([0x46 | reg << 3, d as u8]),
            Mem::A32Ebx(d) => {
                out.push(0x83 | reg << 3);
                out.extend(d.to_le_bytes());
            }
            Mem::A32Esp(d) => out.extend([0x44 | reg << 3, 0x24, d as u8]),
        }
    }
}

/// The stack instructions under test.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    PushR(usize),
    PopR(usize),
    /// PUSH imm (the `bool`: the sign-extended imm8 form).
    PushI(u32, bool),
    PushM(Mem),
    PopM(Mem),
    /// Segment register index (ES, CS, SS, DS, FS, GS).
    PushS(usize),
    PopS(usize),
    Pusha,
    Popa,
    Enter(u16, u8),
    Leave,
    CallRel(i32),
    CallR(usize),
    CallM(Mem),
    Ret(Option<u16>),
    CallFar(u16, u32),
    CallFarM(Mem),
    Retf(Option<u16>),
    Int(u8),
    Iret,
}

impl Op {
    pub fn mem(self) -> Option<Mem> {
        match self {
            Op::PushM(m) | Op::PopM(m) | Op::CallM(m) | Op::CallFarM(m) => Some(m),
            _ => None,
        }
    }
}

/// Encodes `op` for code of `code32` with operand size `osize`.
pub fn encode(op: Op, code32: bool, osize: u8) -> Vec<u8> {
    let mut b = Vec::new();
    if (osize == 4) != code32 {
        b.push(0x66);
    }
    if let Some(m) = op.mem() {
        if (m.asize() == 4) != code32 {
            b.push(0x67);
        }
    }
    let imm = |b: &mut Vec<u8>, v: u32| {
        if osize == 4 {
            b.extend(v.to_le_bytes())
        } else {
            b.extend((v as u16).to_le_bytes())
        }
    };
    match op {
        Op::PushR(r) => b.push(0x50 + r as u8),
        Op::PopR(r) => b.push(0x58 + r as u8),
        Op::PushI(v, true) => b.extend([0x6a, v as u8]),
        Op::PushI(v, false) => {
            b.push(0x68);
            imm(&mut b, v);
        }
        Op::PushM(m) => {
            b.push(0xff);
            m.encode(6, &mut b);
        }
        Op::PopM(m) => {
            b.push(0x8f);
            m.encode(0, &mut b);
        }
        Op::PushS(s) => b.extend(match s {
            0 => &[0x06][..],
            1 => &[0x0e],
            2 => &[0x16],
            3 => &[0x1e],
            4 => &[0x0f, 0xa0],
            _ => &[0x0f, 0xa8],
        }),
        Op::PopS(s) => b.extend(match s {
            0 => &[0x07][..],
            2 => &[0x17],
            3 => &[0x1f],
            4 => &[0x0f, 0xa1],
            _ => &[0x0f, 0xa9],
        }),
        Op::Pusha => b.push(0x60),
        Op::Popa => b.push(0x61),
        Op::Enter(alloc, level) => {
            b.push(0xc8);
            b.extend(alloc.to_le_bytes());
            b.push(level);
        }
        Op::Leave => b.push(0xc9),
        Op::CallRel(rel) => {
            b.push(0xe8);
            imm(&mut b, rel as u32);
        }
        Op::CallR(r) => b.extend([0xff, 0xd0 | r as u8]),
        Op::CallM(m) => {
            b.push(0xff);
            m.encode(2, &mut b);
        }
        Op::Ret(None) => b.push(0xc3),
        Op::Ret(Some(n)) => {
            b.push(0xc2);
            b.extend(n.to_le_bytes());
        }
        Op::CallFar(sel, off) => {
            b.push(0x9a);
            imm(&mut b, off);
            b.extend(sel.to_le_bytes());
        }
        Op::CallFarM(m) => {
            b.push(0xff);
            m.encode(3, &mut b);
        }
        Op::Retf(None) => b.push(0xcb),
        Op::Retf(Some(n)) => {
            b.push(0xca);
            b.extend(n.to_le_bytes());
        }
        Op::Int(v) => b.extend([0xcd, v]),
        Op::Iret => b.push(0xcf),
    }
    b
}
