//! The translation lab's differential runs: random and hand-picked blocks of ALU-family
//! instructions (assembled by vmlab-asm, ending in HLT or a jump to one), each lowered
//! through the submission's answer into vmlab's translator and run through its IR
//! interpreter, against vmlab's interpreter from the same registers, flags and memory.

use std::cell::{Cell, RefCell};

use emulator_core::translate::alu_family::translate_page_with;
use emulator_core::{FlatEntry, Machine, MachineConfig, StopReason};

use crate::component::shift::{flag_names, AF, CF, OF, PF, SF, ZF};
use crate::component::xlate_alu::{AluFamily, AluInsn, AluOp, Emit, Operand, ALU_OPS};
use crate::component::xlate_cases::{block_line, parse_answer, replay, Rec};
use crate::component::{CaseRng, CaseSelect};

/// Where the block is loaded and entered.
const CODE: u32 = 0x1000;
/// The data the memory operands reach.
const DATA: u32 = 0x3000;
/// Bytes of data.
const DATA_LEN: usize = 16;
/// The status flags.
const STATUS: u32 = CF | PF | AF | ZF | SF | OF;
/// Register names, by number.
const REGS: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// The operand forms a test can select (`select` may name them beside instructions).
pub const FORMS: [&str; 3] = ["reg-reg", "reg-imm", "memory"];

/// One differential case: a block and the state it starts from.
#[derive(Clone, Debug)]
pub struct Block {
    /// The instructions.
    pub insns: Vec<AluInsn>,
    /// Per instruction, the offset of its memory operand in the data.
    pub offsets: Vec<u32>,
    /// EAX … EDI before.
    pub regs: [u32; 8],
    /// The status flags before.
    pub status: u32,
    /// The data before.
    pub data: [u8; DATA_LEN],
    /// Ends with a jump to the HLT (else the HLT follows).
    pub jump_end: bool,
}

fn size_word(size: u8) -> &'static str {
    match size {
        1 => "byte",
        2 => "word",
        _ => "dword",
    }
}

impl Block {
    /// The case line sent to the submission.
    pub fn to_line(&self) -> String {
        block_line(&self.insns)
    }

    /// Instruction `i` in NASM syntax.
    pub fn nasm(&self, i: usize) -> String {
        let Some(insn) = self.insns.get(i) else {
            return String::new();
        };
        let at = DATA + self.offsets.get(i).copied().unwrap_or(0);
        let text = |p: Operand| match p {
            Operand::Reg(r) => REGS[usize::from(r & 7)].to_string(),
            Operand::Mem => format!("{} [{at:#x}]", size_word(insn.size)),
            Operand::Imm(v) => format!("{v:#x}"),
        };
        match insn.src {
            Some(s) => format!("{} {}, {}", insn.op.name(), text(insn.dst), text(s)),
            None => format!("{} {}", insn.op.name(), text(insn.dst)),
        }
    }

    /// The block's program.
    fn source(&self) -> String {
        let mut s = format!("bits 32\norg {CODE:#x}\n");
        for i in 0..self.insns.len() {
            s.push_str(&self.nasm(i));
            s.push('\n');
        }
        if self.jump_end {
            s.push_str("jmp .end\nint3\n.end:\n");
        }
        s.push_str("hlt\n");
        s
    }

    /// The block and its start, for messages.
    fn describe(&self) -> String {
        let code: Vec<String> = (0..self.insns.len()).map(|i| self.nasm(i)).collect();
        let regs: Vec<String> = self
            .regs
            .iter()
            .zip(REGS)
            .map(|(v, n)| format!("{n}={v:#x}"))
            .collect();
        format!(
            "`{}` from {} flags [{}]",
            code.join("; "),
            regs.join(" "),
            flag_names(self.status, STATUS)
        )
    }

    /// The status flags the SDM defines after the block: AF is undefined after AND, OR,
    /// XOR and TEST (when one of them writes the flags last).
    fn defined_flags(&self) -> u32 {
        match self.insns.last().map(|i| i.op) {
            Some(AluOp::And | AluOp::Or | AluOp::Xor | AluOp::Test) => STATUS & !AF,
            _ => STATUS,
        }
    }

    /// The block assembled (at [`CODE`]), and the code page that holds it.
    fn image(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let opts = vmlab_asm::Options::default();
        let image = vmlab_asm::assemble("block.asm", &self.source(), &opts)
            .map_err(|e| format!("grader: the block does not assemble: {e}"))?
            .bytes;
        let mut page = vec![0u8; 4096];
        page.get_mut(..image.len())
            .ok_or("grader: the block is longer than a page")?
            .copy_from_slice(&image);
        Ok((image, page))
    }

    /// The region `family` lowers the block to, before the passes, as the IR listing.
    pub fn listing(&self, family: &dyn AluFamily) -> Result<String, String> {
        let (_, page) = self.image()?;
        translate_page_with(&page, CODE, family)
            .map(|(before, _)| before.to_string())
            .ok_or_else(|| "its first instruction was declined: nothing is translated".into())
    }

    /// A machine at the block's start.
    fn machine(&self, image: &[u8]) -> Result<Machine, String> {
        let mut m = Machine::new(MachineConfig {
            ram_mib: 1,
            ..MachineConfig::default()
        })
        .map_err(|e| format!("grader: {e}"))?;
        m.load_flat(CODE, image, FlatEntry::Protected32)
            .map_err(|e| format!("grader: {e}"))?;
        m.write_phys(DATA, &self.data)
            .map_err(|e| format!("grader: {e}"))?;
        let c = m.cpu_mut();
        c.gpr = self.regs;
        c.eflags = (c.eflags & !STATUS) | (self.status & STATUS);
        Ok(m)
    }

    /// Judges a submission's answer: every instruction lowered, and the translated run
    /// leaves the registers, the defined flags, the data and the instruction count
    /// that vmlab's interpreter leaves.
    pub fn judge(&self, got: &str) -> Result<(), String> {
        let answer =
            parse_answer(got, self.insns.len()).map_err(|e| format!("{}: {e}", self.describe()))?;
        let mut calls = Vec::new();
        for (i, a) in answer.into_iter().enumerate() {
            match a {
                Some(c) => calls.push(c),
                None => {
                    return Err(format!(
                        "`{}` was declined: every form of the family must be lowered",
                        self.nasm(i)
                    ))
                }
            }
        }
        let (image, page) = self.image()?;
        let family = Replay {
            want: &self.insns,
            calls: &calls,
            next: Cell::new(0),
            error: RefCell::new(None),
        };
        let region = translate_page_with(&page, CODE, &family).map(|(_, after)| after);
        if let Some(e) = family.error.borrow_mut().take() {
            return Err(format!("{}: {e}", self.describe()));
        }
        let region =
            region.ok_or_else(|| format!("{}: nothing was translated", self.describe()))?;
        if region.instructions() as usize != self.insns.len() + usize::from(self.jump_end) {
            // The region holds the block (and the jump); the HLT ends it.
            return Err(format!(
                "{}: the region holds {} instructions, not the block's {}",
                self.describe(),
                region.instructions(),
                self.insns.len()
            ));
        }
        let mut oracle = self.machine(&image)?;
        let mut tried = self.machine(&image)?;
        let budget = 4 * self.insns.len() as u64 + 16;
        let stop = oracle.run(budget);
        if stop != StopReason::Halted {
            return Err(format!("grader: the interpreter stopped with {stop:?}"));
        }
        if tried.run_region(&region) == 0 {
            return Err("grader: the translated region did not run".into());
        }
        let stop = tried.run(budget);
        if stop != StopReason::Halted {
            return Err(format!(
                "{}: after the translated region the machine stopped with {stop:?}, not at the HLT",
                self.describe()
            ));
        }
        self.compare(&oracle, &tried)
    }

    fn compare(&self, want: &Machine, got: &Machine) -> Result<(), String> {
        let (w, g) = (want.cpu(), got.cpu());
        let mut diffs = Vec::new();
        for (i, name) in REGS.iter().enumerate() {
            if w.gpr[i] != g.gpr[i] {
                diffs.push(format!("{name} {:#x}, got {:#x}", w.gpr[i], g.gpr[i]));
            }
        }
        let mask = self.defined_flags();
        if w.eflags & mask != g.eflags & mask {
            diffs.push(format!(
                "flags [{}], got [{}]",
                flag_names(w.eflags, mask),
                flag_names(g.eflags, mask)
            ));
        }
        let (mut wd, mut gd) = ([0u8; DATA_LEN], [0u8; DATA_LEN]);
        want.peek_phys(DATA, &mut wd);
        got.peek_phys(DATA, &mut gd);
        if wd != gd {
            diffs.push(format!("memory at {DATA:#x} {wd:02x?}, got {gd:02x?}"));
        }
        if want.icount() != got.icount() {
            diffs.push(format!(
                "{} instructions retired, got {}",
                want.icount(),
                got.icount()
            ));
        }
        if diffs.is_empty() {
            return Ok(());
        }
        Err(format!(
            "{}: expected {}",
            self.describe(),
            diffs.join("; expected ")
        ))
    }
}

/// The submission's answer as an ALU family: instruction `k` of the block replays the
/// calls answered for it.
struct Replay<'a> {
    want: &'a [AluInsn],
    calls: &'a [Vec<Rec>],
    next: Cell<usize>,
    error: RefCell<Option<String>>,
}

impl AluFamily for Replay<'_> {
    fn lower(&self, insn: &AluInsn, ir: &mut dyn Emit) -> bool {
        let k = self.next.get();
        self.next.set(k + 1);
        let fail = |e: String| {
            self.error.borrow_mut().get_or_insert(e);
            false
        };
        match (self.want.get(k), self.calls.get(k)) {
            (Some(w), Some(calls)) if w == insn => match replay(calls, ir) {
                Ok(()) => true,
                Err(e) => fail(format!("instruction {}: {e}", k + 1)),
            },
            _ => fail(format!(
                "grader: instruction {} decoded as {insn:?}, not as generated",
                k + 1
            )),
        }
    }
}

/// A random 32-bit operand value, often an edge value.
fn value(rng: &mut CaseRng) -> u32 {
    match rng.next_u32() % 8 {
        0 => rng.pick(&[0, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX, 0xffff_fffe]),
        1 => rng.next_u32() % 256,
        _ => rng.next_u32(),
    }
}

/// A random immediate: often one a sign-extended byte holds.
fn immediate(rng: &mut CaseRng, size: u8) -> u32 {
    let v = match rng.next_u32() % 4 {
        0 => (rng.next_u32() % 256) as u8 as i8 as i32 as u32,
        1 => rng.pick(&[0, 1, 0x7fff_ffff, 0x8000_0000, u32::MAX]),
        _ => rng.next_u32(),
    };
    match size {
        1 => v & 0xff,
        2 => v & 0xffff,
        _ => v,
    }
}

/// One random instruction of `ops` in one of `forms` and `sizes`.
fn random_insn(rng: &mut CaseRng, ops: &[AluOp], forms: &[&str], sizes: &[u8]) -> (AluInsn, u32) {
    let op = rng.pick(ops);
    let reg = |rng: &mut CaseRng| Operand::Reg((rng.next_u32() % 8) as u8);
    let offset = rng.next_u32() % (DATA_LEN as u32 - 3);
    if matches!(op, AluOp::Inc | AluOp::Dec) {
        return (
            AluInsn {
                op,
                size: 4,
                dst: reg(rng),
                src: None,
            },
            0,
        );
    }
    let size = rng.pick(sizes);
    if size != 4 {
        let src = Some(Operand::Imm(immediate(rng, size)));
        return (
            AluInsn {
                op,
                size,
                dst: Operand::Mem,
                src,
            },
            offset,
        );
    }
    let (dst, src) = match rng.pick(forms) {
        "reg-reg" => (reg(rng), reg(rng)),
        "reg-imm" => (reg(rng), Operand::Imm(immediate(rng, 4))),
        _ => match rng.next_u32() % 3 {
            0 if op != AluOp::Test => (reg(rng), Operand::Mem),
            1 => (Operand::Mem, Operand::Imm(immediate(rng, 4))),
            _ => (Operand::Mem, reg(rng)),
        },
    };
    (
        AluInsn {
            op,
            size,
            dst,
            src: Some(src),
        },
        offset,
    )
}

/// A hand-picked block: `(op, dst, src)` with registers by name, `m` for memory at
/// the data's start and numbers for immediates.
fn edge(code: &[(AluOp, u8, &str, &str)], regs: [u32; 8], status: u32) -> Block {
    let operand = |s: &str| -> Option<Operand> {
        if s.is_empty() {
            return None;
        }
        if s.starts_with('m') {
            return Some(Operand::Mem);
        }
        if let Some(r) = REGS.iter().position(|n| *n == s) {
            return Some(Operand::Reg(r as u8));
        }
        let digits = s.strip_prefix("0x").unwrap_or(s);
        u32::from_str_radix(digits, 16).ok().map(Operand::Imm)
    };
    let insns: Vec<AluInsn> = code
        .iter()
        .map(|&(op, size, d, s)| AluInsn {
            op,
            size,
            dst: operand(d).unwrap_or(Operand::Reg(0)),
            src: operand(s),
        })
        .collect();
    let offsets = code
        .iter()
        .map(|(_, _, d, s)| {
            [d, s]
                .iter()
                .find_map(|x| x.strip_prefix('m').and_then(|o| o.parse::<u32>().ok()))
                .unwrap_or(0)
        })
        .collect();
    Block {
        insns,
        offsets,
        regs,
        status,
        data: [
            0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0x80, 0x7f, 0x80, 0xff, 0x7f, 0, 0, 0, 0,
        ],
        jump_end: false,
    }
}

/// The hand-picked blocks: carries into ADC and SBB, CMP and TEST before a carry
/// reader, INC and DEC keeping CF at the overflow points, the memory forms.
pub fn edge_blocks() -> Vec<Block> {
    use AluOp::*;
    let r = |a: u32, b: u32, c: u32, d: u32| [a, b, c, d, 0x8000, 0x7fff_ffff, 0x8000_0000, 1];
    vec![
        edge(&[(Add, 4, "eax", "ebx")], r(u32::MAX, 0, 0, 1), 0),
        edge(
            &[(Add, 4, "eax", "ecx"), (Adc, 4, "edx", "ebx")],
            r(u32::MAX, 1, 0x7fff_ffff, 0),
            0,
        ),
        edge(
            &[(Sub, 4, "eax", "eax"), (Sbb, 4, "ecx", "0")],
            r(5, 0, 0, 0),
            CF,
        ),
        edge(
            &[
                (Cmp, 4, "eax", "ebx"),
                (Adc, 4, "esi", "0"),
                (Sbb, 4, "edi", "edi"),
            ],
            r(1, 0, 0, 2),
            0,
        ),
        edge(&[(Inc, 4, "esi", "")], r(0, 0, 0, 0), CF),
        edge(
            &[(Dec, 4, "edi", ""), (Dec, 4, "eax", "")],
            r(0, 0, 0, 0),
            CF,
        ),
        edge(
            &[(Test, 4, "ebp", "0x80000000"), (Adc, 4, "ebx", "ebx")],
            r(0, 0, 0, 3),
            CF,
        ),
        edge(
            &[
                (Add, 4, "m0", "eax"),
                (Adc, 4, "m4", "edx"),
                (Cmp, 4, "ecx", "m8"),
            ],
            r(1, 0x7f80, 0, 0),
            0,
        ),
        edge(
            &[
                (Sub, 1, "m8", "0x1"),
                (Sbb, 2, "m10", "0x0"),
                (Xor, 1, "m12", "0xff"),
            ],
            r(0, 0, 0, 0),
            CF,
        ),
        edge(
            &[
                (Xor, 4, "eax", "eax"),
                (Or, 4, "ecx", "m0"),
                (And, 4, "m4", "0xffffff00"),
            ],
            r(9, 0, 0, 0),
            OF | CF,
        ),
    ]
}

/// The blocks a test selects: the edge blocks (when asked, restricted to the selected
/// instructions), then `random` seeded ones of 3 to 12 instructions.
pub fn cases(select: &CaseSelect) -> Result<Vec<Block>, String> {
    let mut ops = Vec::new();
    let mut forms = Vec::new();
    for s in &select.select {
        if let Some(op) = AluOp::parse(s) {
            ops.push(op);
        } else if let Some(f) = FORMS.iter().find(|f| **f == s.as_str()) {
            forms.push(*f);
        } else {
            return Err(format!(
                "unknown selection {s:?} (an instruction of the family or one of {FORMS:?})"
            ));
        }
    }
    if ops.is_empty() {
        ops = ALU_OPS.to_vec();
    }
    if forms.is_empty() {
        forms = FORMS.to_vec();
    }
    let mut sizes = Vec::new();
    for s in &select.sizes {
        sizes.push(match s {
            8 => 1,
            16 => 2,
            32 => 4,
            _ => return Err(format!("size {s} is not 8, 16 or 32")),
        });
    }
    if sizes.is_empty() {
        sizes = vec![4, 4, 4, 1, 2];
    }
    if !forms.contains(&"memory") {
        sizes.retain(|&s| s == 4);
        if sizes.is_empty() {
            return Err("byte and word forms need the memory form".into());
        }
    }
    let mut out = Vec::new();
    if select.edge {
        out.extend(
            edge_blocks()
                .into_iter()
                .filter(|b| b.insns.iter().all(|i| ops.contains(&i.op))),
        );
    }
    let mut rng = CaseRng::new(select.seed);
    for _ in 0..select.random {
        let n = 3 + rng.next_u32() % 10;
        let mut insns = Vec::new();
        let mut offsets = Vec::new();
        for _ in 0..n {
            let (i, o) = random_insn(&mut rng, &ops, &forms, &sizes);
            insns.push(i);
            offsets.push(o);
        }
        let mut regs = [0u32; 8];
        for r in &mut regs {
            *r = value(&mut rng);
        }
        let mut data = [0u8; DATA_LEN];
        for b in &mut data {
            *b = rng.next_u32() as u8;
        }
        out.push(Block {
            insns,
            offsets,
            regs,
            status: rng.next_u32() & STATUS,
            data,
            jump_end: rng.next_u32().is_multiple_of(3),
        });
    }
    Ok(out)
}
