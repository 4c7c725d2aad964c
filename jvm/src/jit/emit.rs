//! The code generator: a planned region's bytecodes as NASM text for 32-bit x86.
//!
//! The most used locals live in EBX, ESI and EDI for the whole region (`regs.rs`),
//! the others at `[ebp + 4*k]`; operand-stack slot `s` has its home at
//! `[ebp + 4*(max_locals + s)]`. Within a block the generator keeps a virtual stack
//! (a local, a constant, a value in a scratch register EAX/ECX/EDX, or the value in
//! its home), so `iload; iconst; iadd; istore` becomes one `add`, and a compare of a
//! local with a constant one `cmp`. At block starts, branches and exits every slot is
//! in its home and every local in its register or memory, so the host can rebuild
//! the interpreter's frame there. Every exit is a `hlt` the host maps back to a pc.
//! The bytecodes themselves are compiled in `ops.rs`.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write;

use super::analyze::Plan;
use super::regs::{self, LOCAL_REGS, SCRATCH};
use crate::classfile::verify::ends_flow;
use crate::classfile::ConstantPool;
use crate::opcode;

/// How compiled code leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Exit {
    /// The interpreter continues at `pc` with the stack in its homes.
    Deopt { pc: usize },
    /// `return`.
    Return,
    /// `ireturn` with the value in EAX.
    IReturn,
}

/// Where a stack value is while a block is compiled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Slot {
    Local(u16),
    Const(i32),
    /// In a scratch register (an index into `SCRATCH`).
    Reg(u8),
    /// In the memory home of stack slot `s` (its own, unless operands were swapped).
    Home(u16),
}

/// The value in stack slot `i`'s own home.
pub(super) fn home(i: usize) -> Slot {
    Slot::Home(u16::try_from(i).unwrap_or(u16::MAX))
}

/// The text of a region and the labels the host resolves after assembly.
pub(crate) struct Text {
    pub text: String,
    /// (label, exit) for every `hlt`.
    pub exits: Vec<(String, Exit)>,
    /// (label of an `idiv` that may fault, label of the stub that deoptimizes).
    pub faults: Vec<(String, String)>,
    /// The locals in registers: (local, index in the CPU's general registers).
    pub regs: Vec<(u16, usize)>,
}

pub(super) struct Emitter<'a> {
    pub max_locals: u32,
    pub out: String,
    pub stubs: String,
    pub vs: Vec<Slot>,
    pub exits: Vec<(String, Exit)>,
    pub faults: Vec<(String, String)>,
    pub next: u32,
    pub pool: &'a ConstantPool,
    pub code: &'a [u8],
    pub plan: &'a Plan,
    /// The bytecode being compiled.
    pub pc: usize,
    /// Locals in registers: local → register name.
    pub regs: BTreeMap<u16, &'static str>,
    /// A bytecode compiled together with the one before it.
    pub fused: Option<usize>,
    /// Loop bodies: the pcs after a loop's test, where the copy of the test at the
    /// back edge jumps (they are block starts too).
    pub heads: BTreeSet<usize>,
    /// Compiling a loop's test again at its back edge: nothing fuses.
    pub replay: bool,
}

impl Emitter<'_> {
    pub fn loc(&self, k: u16) -> String {
        match self.regs.get(&k) {
            Some(r) => (*r).into(),
            None => alloc::format!("dword [ebp+{}]", 4 * u32::from(k)),
        }
    }

    pub fn loc_in_reg(&self, k: u16) -> bool {
        self.regs.contains_key(&k)
    }

    pub fn home(&self, s: usize) -> String {
        alloc::format!("dword [ebp+{}]", 4 * (self.max_locals as usize + s))
    }

    fn line(out: &mut String, s: &str) {
        out.push_str("    ");
        out.push_str(s);
        out.push('\n');
    }

    pub fn emit(&mut self, s: &str) {
        Self::line(&mut self.out, s);
    }

    /// The operand for stack slot `i` as it is now.
    pub fn opnd(&self, i: usize) -> String {
        match self.vs[i] {
            Slot::Local(k) => self.loc(k),
            Slot::Const(n) => n.to_string(),
            Slot::Reg(r) => SCRATCH[usize::from(r)].0.into(),
            Slot::Home(s) => self.home(usize::from(s)),
        }
    }

    /// Whether slot `i` is a memory operand.
    pub fn is_mem(&self, i: usize) -> bool {
        match self.vs[i] {
            Slot::Local(k) => !self.loc_in_reg(k),
            Slot::Home(_) => true,
            _ => false,
        }
    }

    pub fn is_const(&self, i: usize) -> Option<i32> {
        match self.vs[i] {
            Slot::Const(n) => Some(n),
            _ => None,
        }
    }

    pub fn busy(&self, r: u8) -> bool {
        self.vs.contains(&Slot::Reg(r))
    }

    /// Stores slot `i`, when it is in a scratch register, to its home.
    pub fn spill(&mut self, i: usize) {
        if let Slot::Reg(r) = self.vs[i] {
            let h = self.home(i);
            self.emit(&alloc::format!("mov {h}, {}", SCRATCH[usize::from(r)].0));
            self.vs[i] = home(i);
        }
    }

    /// A free scratch register other than `avoid`, spilling a value when all are busy.
    pub fn temp(&mut self, avoid: &[u8]) -> Result<u8, String> {
        let free = (0..SCRATCH.len() as u8).find(|r| !avoid.contains(r) && !self.busy(*r));
        if let Some(r) = free {
            return Ok(r);
        }
        for i in 0..self.vs.len() {
            if let Slot::Reg(r) = self.vs[i] {
                if !avoid.contains(&r) {
                    self.spill(i);
                    return Ok(r);
                }
            }
        }
        Err(alloc::format!(
            "no scratch register is free at pc {}",
            self.pc
        ))
    }

    /// Slot `i` in a scratch register other than `avoid`, loaded when it is not.
    pub fn load_reg(&mut self, i: usize, avoid: &[u8]) -> Result<u8, String> {
        if let Slot::Reg(r) = self.vs[i] {
            if !avoid.contains(&r) {
                return Ok(r);
            }
        }
        let t = self.temp(avoid)?;
        let src = self.opnd(i);
        self.emit(&alloc::format!("mov {}, {src}", SCRATCH[usize::from(t)].0));
        self.vs[i] = Slot::Reg(t);
        Ok(t)
    }

    /// Code that moves slots `..upto` of `vs` to their homes, leaving the scratch
    /// registers of the slots above alone.
    pub fn flush_code(&self, vs: &[Slot], upto: usize) -> String {
        let mut out = String::new();
        let upto = upto.min(vs.len());
        for (i, s) in vs[..upto].iter().enumerate() {
            if let Slot::Reg(r) = s {
                let line = alloc::format!("mov {}, {}", self.home(i), SCRATCH[usize::from(*r)].0);
                Self::line(&mut out, &line);
            }
        }
        let via = (0..SCRATCH.len() as u8)
            .find(|r| !vs[upto..].contains(&Slot::Reg(*r)))
            .map_or("eax", |r| SCRATCH[usize::from(r)].0);
        for (i, s) in vs[..upto].iter().enumerate() {
            let h = self.home(i);
            match *s {
                Slot::Const(n) => Self::line(&mut out, &alloc::format!("mov {h}, {n}")),
                Slot::Local(k) if self.loc_in_reg(k) => {
                    Self::line(&mut out, &alloc::format!("mov {h}, {}", self.loc(k)));
                }
                Slot::Local(k) => {
                    Self::line(&mut out, &alloc::format!("mov {via}, {}", self.loc(k)));
                    Self::line(&mut out, &alloc::format!("mov {h}, {via}"));
                }
                Slot::Home(s) if usize::from(s) != i => {
                    let from = self.home(usize::from(s));
                    Self::line(&mut out, &alloc::format!("mov {via}, {from}"));
                    Self::line(&mut out, &alloc::format!("mov {h}, {via}"));
                }
                _ => {}
            }
        }
        out
    }

    /// Every slot below `upto` to its home.
    pub fn flush_below(&mut self, upto: usize) {
        let upto = upto.min(self.vs.len());
        let code = self.flush_code(&self.vs, upto);
        self.out.push_str(&code);
        for (i, s) in self.vs[..upto].iter_mut().enumerate() {
            *s = home(i);
        }
    }

    pub fn flush(&mut self) {
        self.flush_below(self.vs.len());
    }

    pub fn exit(&mut self, e: Exit) {
        let l = alloc::format!("X{}", self.next);
        self.next += 1;
        let _ = writeln!(self.out, "{l}:");
        self.emit(match e {
            Exit::Deopt { .. } => "hlt                ; deoptimize: the interpreter continues",
            Exit::Return | Exit::IReturn => "hlt                ; return to the interpreter",
        });
        self.exits.push((l, e));
    }

    /// The depth of the lowest of the top `n` slots, checked.
    pub fn depth_check(&self, n: usize) -> Result<usize, String> {
        self.vs
            .len()
            .checked_sub(n)
            .ok_or_else(|| alloc::format!("operand stack underflow at pc {}", self.pc))
    }

    /// Moves any virtual copies of local `k` below `upto` into registers before `k`
    /// changes.
    pub fn before_store(&mut self, k: u16, upto: usize) -> Result<(), String> {
        for i in 0..upto.min(self.vs.len()) {
            if self.vs[i] == Slot::Local(k) {
                self.load_reg(i, &[])?;
            }
        }
        Ok(())
    }

    /// The bytecode after the current one when it may be compiled together with it:
    /// compiled, and reached only from here. (pc, opcode)
    pub fn next_fusable(&self) -> Option<(usize, u8)> {
        let next = self.pc + opcode::length(self.code, self.pc)?;
        let ok = !self.replay
            && next < self.code.len()
            && self.plan.compiled[next]
            && !self.plan.starts[next]
            && !self.heads.contains(&next);
        ok.then(|| (next, self.code[next]))
    }
}

/// Generates the region `plan` covers, to be assembled at `origin`.
pub(crate) fn generate(
    code: &[u8],
    pool: &ConstantPool,
    plan: &Plan,
    max_locals: u16,
    origin: u32,
    title: &str,
) -> Result<Text, String> {
    let chosen = regs::choose(code, pool, plan);
    let in_regs: Vec<String> = chosen
        .iter()
        .map(|&(k, r)| alloc::format!("{k} in {}", LOCAL_REGS[r].0))
        .collect();
    let mut e = Emitter {
        max_locals: u32::from(max_locals),
        out: alloc::format!(
            "; {title}, from pc {}\n; locals {} for the whole region, the others at [ebp+4*k]\n; stack slots at [ebp+4*({max_locals}+s)]; eax, ecx, edx hold values within a block\nbits 32\norg {origin:#x}\n",
            plan.entry,
            if in_regs.is_empty() { "none".into() } else { in_regs.join(", ") }
        ),
        stubs: String::new(),
        vs: Vec::new(),
        exits: Vec::new(),
        faults: Vec::new(),
        next: 0,
        pool,
        code,
        plan,
        pc: 0,
        regs: chosen
            .iter()
            .map(|&(k, r)| (k, LOCAL_REGS[r].0))
            .collect(),
        fused: None,
        heads: BTreeSet::new(),
        replay: false,
    };
    e.heads = e.loop_heads();
    let mut fall_to = usize::MAX;
    for pc in 0..code.len() {
        let Some(d) = plan.depth[pc] else {
            continue;
        };
        e.pc = pc;
        let d = usize::from(d);
        let op = code[pc];
        let len = opcode::length(code, pc)
            .ok_or_else(|| alloc::format!("undecodable {} at pc {pc}", opcode::name(op)))?;
        if e.fused == Some(pc) {
            e.fused = None;
            let _ = writeln!(
                e.out,
                "P{pc}:               ; {} (with the bytecode before)",
                opcode::name(op)
            );
            fall_to = pc + len;
            continue;
        }
        if fall_to != pc {
            e.vs = (0..d).map(home).collect();
        } else if e.vs.len() != d {
            return Err(alloc::format!(
                "the stack depth at pc {pc} is {d}, but {} values reach it",
                e.vs.len()
            ));
        }
        let start = plan.starts[pc] || e.heads.contains(&pc);
        if start || !plan.compiled[pc] {
            e.flush();
        }
        if start {
            let _ = writeln!(e.out, "L{pc}:");
        }
        let _ = writeln!(e.out, "P{pc}:               ; {}", opcode::name(op));
        if !plan.compiled[pc] {
            e.exit(Exit::Deopt { pc });
            fall_to = usize::MAX;
            continue;
        }
        e.instruction(pc, op)?;
        fall_to = if ends_flow(op) { usize::MAX } else { pc + len };
    }
    e.out.push_str("S:                 ; out-of-line exits\n");
    e.out.push_str(&e.stubs);
    Ok(Text {
        text: e.out,
        exits: e.exits,
        faults: e.faults,
        regs: chosen.iter().map(|&(k, r)| (k, LOCAL_REGS[r].1)).collect(),
    })
}
