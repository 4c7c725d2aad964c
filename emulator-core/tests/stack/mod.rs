//! Table-driven tests of the stack instructions: each case is an initial state, the
//! instruction's bytes and the final state the SDM model computes; the machine runs
//! it with the fast tier on and off and must end where the model says.

pub mod layout;
pub mod model;

use emulator_core::{Machine, StopReason};

use layout::{
    encode, machine, Mem, Op, Setup, CODE, CODE16, CODE32, DATA, FLAT, HANDLERS, INT_GATES,
    RING0_STACK, SHORT_DATA, STACK16, STACK16_BASE, STACK16_DOWN, STACK32_DOWN, STACK32_TOP,
    WINDOWS,
};
use model::{Fault, Model, Regs};

/// One case of the table.
#[derive(Clone, Debug)]
pub struct Case {
    pub op: Op,
    pub osize: u8,
    pub setup: Setup,
}

impl Case {
    pub fn name(&self) -> String {
        let s = &self.setup;
        format!(
            "{:?} o{} in {}-bit code at CPL {}, SS {:#x} ESP {:#x} EBP {:#x}{}{}",
            self.op,
            self.osize * 8,
            if s.code32 { 32 } else { 16 },
            s.ring,
            s.sel[2],
            s.gpr[4],
            s.gpr[5],
            if s.sel[2] | 3 == STACK16_DOWN || s.sel[2] | 3 == STACK32_DOWN {
                format!(" (expand-down, limit {:#x})", s.down_limit)
            } else {
                String::new()
            },
            s.absent_page
                .map(|p| format!(" (page {p:#x} not present)"))
                .unwrap_or_default()
        )
    }

    /// The model's answer: the registers and fault, and the model for its memory.
    pub fn expect(&self) -> (Outcome, Model) {
        let mut m = Model::new(&self.setup);
        let fault = m.exec(self.op, self.setup.code.len() as u32, self.osize);
        let out = Outcome {
            regs: m.regs.clone(),
            fault,
        };
        (out, m)
    }
}

/// Where a run ended: the user's registers and the fault the instruction raised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub regs: Regs,
    pub fault: Option<Fault>,
}

/// Instructions the general interpreter fetched (the fast tier's are not counted).
pub fn general_fetches(m: &Machine) -> u64 {
    m.counters().decode_hits + m.counters().decode_misses
}

/// Runs `case` (fast tier on or off); returns where it ended and the machine.
pub fn run(case: &Case, fast: bool) -> (Outcome, Machine) {
    let mut m = machine(&case.setup, fast);
    let stop = m.run(1000);
    let name = case.name();
    assert_eq!(
        stop,
        StopReason::Halted,
        "{name}: the run must end in a handler"
    );
    let c = m.cpu().clone();
    if case.setup.ring == 0 && (CODE..layout::CODE_END).contains(&c.eip.wrapping_sub(1)) {
        // At CPL 0 the HLT ran: the state is the live one.
        let regs = Regs {
            gpr: c.gpr,
            eip: c.eip - 1,
            eflags: c.eflags,
            sel: c.seg.map(|s| s.selector),
        };
        return (Outcome { regs, fault: None }, m);
    }
    let at = c.eip.wrapping_sub(HANDLERS + 1);
    assert!(
        at.is_multiple_of(16) && at < 0x1000,
        "{name}: stopped at {:#x}",
        c.eip
    );
    let vector = at / 16;
    let mut frame = [0u8; 24];
    m.peek_phys(RING0_STACK - 24, &mut frame);
    let word = |i: usize| u32::from_le_bytes(frame[4 * i..4 * i + 4].try_into().unwrap());
    let (err, eip, cs, eflags, esp, ss) = (word(0), word(1), word(2), word(3), word(4), word(5));
    let mut gpr = c.gpr;
    gpr[4] = esp;
    let sel = [
        c.seg[0].selector,
        cs as u16,
        ss as u16,
        c.seg[3].selector,
        c.seg[4].selector,
        c.seg[5].selector,
    ];
    let ended_in_code = (CODE..layout::CODE_END).contains(&eip) && err == 0 && vector == 13;
    let fault = if ended_in_code && eip != CODE {
        None
    } else {
        Some(match vector {
            12 => Fault::Stack,
            13 => Fault::General,
            14 => Fault::Page(c.cr2, err),
            v => panic!("{name}: vector {v}"),
        })
    };
    let regs = Regs {
        gpr,
        eip,
        eflags,
        sel,
    };
    (Outcome { regs, fault }, m)
}

/// Runs `case` on both tiers and checks registers, fault and memory against the model.
/// Returns the instructions the fast tier retired.
pub fn check(case: &Case) -> u64 {
    let (want, model) = case.expect();
    let (general, gm) = run(case, false);
    let (fast, fm) = run(case, true);
    let name = case.name();
    assert_eq!(
        general, want,
        "{name}: the interpreter against the SDM model"
    );
    assert_eq!(fast, want, "{name}: the fast tier against the SDM model");
    let (gsnap, fsnap) = (gm.snapshot(), fm.snapshot());
    for ((start, end), pattern) in WINDOWS.iter().zip(layout::window_patterns()) {
        let mut want = pattern.clone();
        for (&a, &b) in &model.mem {
            if let Some(x) = a.checked_sub(*start).and_then(|i| want.get_mut(i as usize)) {
                *x = b;
            }
        }
        for (who, snap) in [("interpreter", &gsnap), ("fast tier", &fsnap)] {
            let got = &snap.ram()[*start as usize..*end as usize];
            if got == want {
                continue;
            }
            if let Some(i) = (0..got.len()).find(|&i| got[i] != want[i]) {
                panic!(
                    "{name}: the {who}'s byte at {:#x} is {:#x}, the model's {:#x}",
                    start + i as u32,
                    got[i],
                    want[i]
                );
            }
        }
    }
    assert_eq!(gm.icount(), fm.icount(), "{name}: instruction count");
    general_fetches(&gm) - general_fetches(&fm)
}

/// A small deterministic generator for register values.
pub struct Rng(u32);

impl Rng {
    pub fn new(seed: u32) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9) | 1)
    }
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// A stack to run on: SS selector and ESP.
#[derive(Clone, Copy, Debug)]
pub struct Stack {
    pub sel: u16,
    pub esp: u32,
}

/// The stacks every form runs on: a 32-bit flat stack, and a 16-bit one whose ESP has
/// upper bits set, at the middle, at 0 (the next push wraps to FFFE), at 2 (a
/// doubleword push wraps across the limit) and at FFFC (pops wrap to 0).
pub fn stacks(rng: &mut Rng) -> Vec<Stack> {
    let hi = (rng.next() | 0x0001_0000) & 0xffff_0000;
    vec![
        Stack {
            sel: FLAT,
            esp: STACK32_TOP,
        },
        Stack {
            sel: FLAT,
            esp: STACK32_TOP + 6,
        },
        Stack {
            sel: STACK16,
            esp: hi | 0x8000,
        },
        Stack {
            sel: STACK16,
            esp: hi,
        },
        Stack {
            sel: STACK16,
            esp: hi | 2,
        },
        Stack {
            sel: STACK16,
            esp: hi | 0xfffc,
        },
        Stack {
            sel: STACK16,
            esp: 0,
        },
    ]
}

/// A near-branch target in the HLT area.
pub const TARGET: u32 = 0x9010;

/// Builds the case for `op` on `stack` at CPL 3; `seed` picks the register values.
pub fn case(op: Op, code32: bool, osize: u8, stack: Stack, seed: u32) -> Case {
    case_in(3, op, code32, osize, stack, seed)
}

/// [`case`] for a program at `ring` (0 or 3).
pub fn case_in(ring: u8, op: Op, code32: bool, osize: u8, stack: Stack, seed: u32) -> Case {
    let at = |s: u16| layout::at(ring, s);
    let stack = Stack {
        sel: at(stack.sel),
        esp: stack.esp,
    };
    let mut rng = Rng::new(seed);
    let mut gpr = [0u32; 8];
    for g in gpr.iter_mut() {
        *g = rng.next();
    }
    let big = stack.sel != at(STACK16) && stack.sel != at(STACK16_DOWN);
    let base = if big { 0 } else { STACK16_BASE };
    let wrap = |v: u32| if big { v } else { v & 0xffff };
    let hi = rng.next() & 0xffff_0000;
    let sp = wrap(stack.esp);
    gpr[4] = stack.esp;
    gpr[5] = match op {
        Op::Enter(..) if big => stack.esp + 0x100,
        Op::Enter(..) => hi | ((sp + 0x100) & 0xffff),
        Op::Leave if big => stack.esp + 0x20,
        Op::Leave => hi | (sp.wrapping_sub(2) & 0xffff),
        _ => hi | 0xc100,
    };
    gpr[3] = DATA + 0x40;
    gpr[6] = hi | 0x10;
    gpr[0] = if osize == 4 { TARGET } else { hi | TARGET };
    let eflags = (rng.next() & 0x8d5) | 0x202;
    let mut sel = [
        at(FLAT),
        at(if code32 { CODE32 } else { CODE16 }),
        stack.sel,
        at(FLAT),
        at(FLAT),
        at(FLAT),
    ];
    if let Op::PopM(Mem::A32Ebx(0x200)) | Op::PushM(Mem::A32Ebx(0x200)) = op {
        sel[3] = at(SHORT_DATA);
    }
    let mut preset = Vec::new();
    // Values for pops and memory operands (an operand outside memory faults anyway).
    let mut put = |lin: u32, size: u8, v: u32| {
        for i in 0..size as u32 {
            let a = lin.wrapping_add(i);
            if WINDOWS.iter().any(|&(s, e)| a >= s && a < e) {
                preset.push((a, (v >> (8 * i)) as u8));
            }
        }
    };
    // The k-th stack item of the operand size, counting from the top.
    let slot = |k: u32| base + wrap(sp.wrapping_add(k * osize as u32));
    let junk = rng.next() & 0xffff_0000;
    // A target past 64 KiB: truncated by a 16-bit operand, past a 16-bit CS's limit.
    let far_ok = !code32 || osize == 2;
    // The code segment a far return, IRET or indirect far call goes to.
    let far_cs = at(if seed.is_multiple_of(2) {
        CODE16
    } else {
        CODE32
    });
    match op {
        Op::PopS(s) => {
            let v = if s == 2 || seed.is_multiple_of(2) {
                STACK16
            } else {
                FLAT
            };
            let v = if s != 2 && seed.is_multiple_of(3) {
                0
            } else {
                at(v)
            };
            put(slot(0), osize, junk | v as u32);
        }
        Op::Ret(_) => {
            let t = if seed.is_multiple_of(5) && far_ok {
                0x1_0000 | TARGET
            } else {
                TARGET
            };
            put(slot(0), osize, t);
        }
        Op::Retf(_) => {
            put(slot(0), osize, TARGET + 0x100);
            put(slot(1), osize, junk | far_cs as u32);
        }
        Op::Iret => {
            put(slot(0), osize, TARGET + 0x200);
            put(slot(1), osize, junk | far_cs as u32);
            // Not TF; at CPL 0 not VM either (that IRET goes to virtual-8086 mode).
            let vm = if ring == 0 { 1 << 17 } else { 0 };
            put(slot(2), osize, rng.next() & !0x100 & !vm);
        }
        Op::CallM(m) | Op::CallFarM(m) => {
            let lin = Model::operand_linear(&gpr, &sel, m);
            put(lin, osize, TARGET + 0x300);
            put(lin.wrapping_add(osize as u32), 2, far_cs as u32);
        }
        _ => {}
    }
    let op = match op {
        Op::CallRel(_) => {
            let len = encode(Op::CallRel(0), code32, osize).len() as u32;
            let t = if seed.is_multiple_of(7) && far_ok {
                0x1_0000 | TARGET
            } else {
                TARGET
            };
            Op::CallRel(t.wrapping_sub(CODE + len) as i32)
        }
        Op::CallFar(sel, off) => Op::CallFar(at(sel), off),
        op => op,
    };
    Case {
        op,
        osize,
        setup: Setup {
            ring,
            code: encode(op, code32, osize),
            code32,
            gpr,
            eflags,
            sel,
            down_limit: 0,
            absent_page: None,
            preset,
        },
    }
}

/// The memory operand forms.
pub const MEMS: [Mem; 5] = [
    Mem::A16BxSi(8),
    Mem::A16Bp(-4),
    Mem::A32Ebx(0x20),
    Mem::A32Esp(4),
    Mem::A32Ebx(0x200),
];

/// Every operand-size and code-size combination: (code32, osize).
pub const SIZES: [(bool, u8); 4] = [(true, 4), (true, 2), (false, 2), (false, 4)];

/// The INT n vectors with gates.
pub fn int_vectors() -> impl Iterator<Item = u8> {
    INT_GATES.iter().map(|g| g.0)
}

/// The far-call targets.
pub const FAR_TARGETS: [(u16, u32); 2] = [(CODE32, 0x9400), (CODE16, 0x9500)];
