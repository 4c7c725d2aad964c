//! The baseline JIT: hot methods (an invocation and back-edge counter per method
//! reaching a threshold) compile to 32-bit x86 that vmlab's own CPU runs, in flat
//! protected mode, in the same process.
//!
//! A region starts at the pc where the method became hot and covers the int subset
//! (`analyze.rs`): constants, int locals, arithmetic, shifts and logic, `iinc`,
//! compares and branches, `goto`, `ireturn`/`return`. The code generator
//! (`emit.rs`) writes NASM text that vmlab's assembler turns into bytes, so the text
//! is the listing. The most used locals live in registers for the whole region, the
//! others and the operand stack in emulated memory. Any other bytecode, and a division by zero, is an
//! exit: the host reads the locals and stack back into the interpreter's frame and
//! the interpreter continues at that pc (deoptimization). Calls therefore run in the
//! interpreter, and a return from compiled code returns to it (`enter.rs`).

mod analyze;
mod emit;
mod enter;
mod ops;
mod regs;
mod stage;
mod view;

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use serde::Serialize;

use emulator_core::descriptor::{system, Descriptor};
use emulator_core::{FlatEntry, Machine, MachineConfig, TableReg};

pub use emit::Exit;
pub use stage::Staged;
pub use view::{CompiledView, Row, X86Line};

use crate::interp::Vm;
use crate::JvmError;

/// Where compiled code goes in the JIT's machine.
pub const CODE_BASE: u32 = 0x1000;
/// The end of the code cache.
pub const CODE_END: u32 = 0x10_0000;
/// EBP while compiled code runs: locals, then the operand stack's memory slots.
pub const FRAME_BASE: u32 = 0x10_0000;
/// The interrupt descriptor table: one gate, for #DE.
const IDT_BASE: u32 = 0x800;
/// The #DE handler: a `hlt` the host recognizes.
pub(crate) const DE_HANDLER: u32 = 0xf00;
/// The JIT machine's RAM (the frame needs up to 512 KiB above `FRAME_BASE`): the
/// size of the lab's machine, so that a snapshot of it opens in the lab's panels.
pub const RAM_MIB: u32 = 4;
const ESP: usize = 4;
/// Most events kept (the counters count them all).
const MAX_EVENTS: usize = 10_000;
/// Deopt events kept (and traced) per method and pc; the counters count them all.
const DEOPTS_PER_PC: u32 = 8;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// A region was compiled.
    Compile,
    /// A method became hot at a pc the JIT cannot start from.
    NotCompiled,
    /// Compiled code left for the interpreter at a bytecode it does not compile.
    Deopt,
}

/// One JIT event, with the method and bytecode pc.
#[derive(Clone, Debug, Serialize)]
pub struct JitEvent {
    pub kind: EventKind,
    /// `Class.name(desc)`.
    pub method: String,
    pub pc: usize,
    pub detail: String,
}

/// The JIT's counters.
#[derive(Clone, Debug, Default, Serialize)]
pub struct JitStats {
    /// Regions compiled.
    pub compiled: u64,
    /// Times a hot method could not be compiled where it was hot.
    pub not_compiled: u64,
    /// Times compiled code was entered.
    pub entries: u64,
    /// Exits to the interpreter in the middle of a method.
    pub deopts: u64,
    /// Returns from compiled code.
    pub returns: u64,
    /// x86 instructions compiled code retired.
    pub x86_instructions: u64,
    /// Bytes of x86 code in the code cache.
    pub code_bytes: u64,
    /// Bytecodes covered by the compiled regions.
    pub bytecodes_compiled: u64,
}

/// One compiled region of a method.
#[derive(Clone, Debug)]
pub struct Region {
    pub class: u32,
    pub method: usize,
    /// `Class.name(desc)`.
    pub title: String,
    /// The pc it was compiled from.
    pub entry: usize,
    /// Its address in the JIT's machine.
    pub base: u32,
    pub bytes: Vec<u8>,
    /// The NASM text it was assembled from.
    pub text: String,
    pub max_locals: u16,
    depth: Vec<Option<u16>>,
    /// Locals the code reads or writes.
    locals: Vec<u16>,
    /// The locals that live in registers: (local, index in the CPU's general registers).
    regs: Vec<(u16, usize)>,
    /// Block starts (where it may be entered): pc → address.
    starts: BTreeMap<usize, u32>,
    /// The `hlt` of each exit: address → exit.
    exits: BTreeMap<u32, Exit>,
    /// The code of each bytecode: pc → address.
    pub pcs: BTreeMap<usize, u32>,
    /// The address where the out-of-line stubs start.
    stubs: u32,
    /// An `idiv` that may raise #DE: its address → the stub that deoptimizes.
    faults: BTreeMap<u32, u32>,
}

/// The JIT's state: counters, the code cache and the machine that runs it.
#[derive(Debug, Default)]
pub struct Jit {
    /// Invocations plus back edges before a method compiles (0: the JIT is off).
    pub threshold: u32,
    counters: BTreeMap<(u32, usize), u32>,
    pub regions: Vec<Rc<Region>>,
    by_method: BTreeMap<(u32, usize), Vec<usize>>,
    refused: BTreeSet<(u32, usize, usize)>,
    machine: Option<Machine>,
    /// ESP at every entry (the #DE handler's frame goes below it).
    stack_top: u32,
    next_code: u32,
    /// Compile and not-compiled events, and the first deopts at each pc.
    pub events: Vec<JitEvent>,
    /// Deopts seen per (class, method, pc), to keep the event list short.
    deopts_at: BTreeMap<(u32, usize, usize), u32>,
    pub stats: JitStats,
    /// When set, the VM stops before it enters compiled code (see [`Jit::staged`]).
    pub stop_at_entry: bool,
    /// Compiled code the VM stopped before (`stop_at_entry`); `Vm::run` enters it.
    pub staged: Option<Staged>,
}

impl Jit {
    /// A JIT that compiles after `threshold` invocations and back edges (0: off).
    pub fn new(threshold: u32) -> Jit {
        Jit {
            threshold,
            next_code: CODE_BASE,
            ..Jit::default()
        }
    }

    fn machine(&mut self) -> Result<&mut Machine, JvmError> {
        if self.machine.is_none() {
            let err = |e: emulator_core::HostError| {
                JvmError(alloc::format!("the JIT's machine could not start: {e}"))
            };
            let mut m = Machine::new(MachineConfig {
                ram_mib: RAM_MIB,
                ..MachineConfig::default()
            })
            .map_err(err)?;
            m.load_flat(CODE_BASE, &[0xf4], FlatEntry::Protected32)
                .map_err(err)?;
            let gate = Descriptor::new_gate(system::INTERRUPT_GATE32, 0x08, DE_HANDLER, 0);
            m.write_phys(IDT_BASE, &gate.to_u64().to_le_bytes())
                .map_err(err)?;
            m.write_phys(DE_HANDLER, &[0xf4]).map_err(err)?;
            m.cpu_mut().idtr = TableReg {
                base: IDT_BASE,
                limit: 7,
            };
            self.stack_top = m.cpu().gpr[ESP];
            self.machine = Some(m);
        }
        match self.machine.as_mut() {
            Some(m) => Ok(m),
            None => Err(JvmError("the JIT's machine is missing".into())),
        }
    }

    /// The JIT's machine, once something was compiled (for the lab's panels).
    pub fn machine_ref(&self) -> Option<&Machine> {
        self.machine.as_ref()
    }

    fn event(&mut self, vm_trace: Option<&mut Vec<String>>, e: JitEvent) {
        if let Some(t) = vm_trace {
            t.push(alloc::format!(
                "jit: {} {} pc {}: {}",
                match e.kind {
                    EventKind::Compile => "compile",
                    EventKind::NotCompiled => "not compiled",
                    EventKind::Deopt => "deopt",
                },
                e.method,
                e.pc,
                e.detail
            ));
        }
        if self.events.len() < MAX_EVENTS {
            self.events.push(e);
        }
    }

    /// A region of `key` that can be entered at `pc` with `depth` stack values.
    fn find(&self, key: (u32, usize), pc: usize, depth: usize) -> Option<Rc<Region>> {
        self.by_method.get(&key)?.iter().find_map(|&i| {
            let r = self.regions.get(i)?;
            (r.starts.contains_key(&pc) && r.depth.get(pc).copied().flatten() == Some(depth as u16))
                .then(|| r.clone())
        })
    }

    /// The views of every region, for the lab and the JSON report.
    pub fn views(&self, vm: &Vm) -> Vec<CompiledView> {
        self.regions.iter().map(|r| view::view(vm, r)).collect()
    }
}

/// Called after each interpreted bytecode when the JIT is on: counts invocations
/// and back edges, compiles what became hot and runs compiled code where it can.
/// `before` is the frame depth and pc before the bytecode; returns the x86
/// instructions compiled code retired (at most about `left`).
pub(crate) fn after_step(vm: &mut Vm, before: (usize, usize), left: u64) -> Result<u64, JvmError> {
    let Some(f) = vm.frames.last() else {
        return Ok(0);
    };
    let invoked = vm.frames.len() == before.0 + 1 && f.pc == 0;
    let back_edge = vm.frames.len() == before.0 && f.pc < before.1;
    if !(invoked || back_edge) || left == 0 {
        return Ok(0);
    }
    let key = (f.class, f.method);
    let (pc, depth) = (f.pc, f.stack.len());
    let threshold = vm.jit.threshold;
    let count = vm.jit.counters.entry(key).or_insert(0);
    *count = count.saturating_add(1);
    if *count < threshold {
        return Ok(0);
    }
    let region = match vm.jit.find(key, pc, depth) {
        Some(r) => r,
        None => {
            if vm.jit.refused.contains(&(key.0, key.1, pc)) {
                return Ok(0);
            }
            match compile(vm, key, pc, depth)? {
                Some(r) => r,
                None => return Ok(0),
            }
        }
    };
    if vm.jit.stop_at_entry {
        if let Some(i) = vm.jit.regions.iter().position(|r| Rc::ptr_eq(r, &region)) {
            vm.jit.staged = Some(Staged {
                region: i,
                pc,
                loaded: false,
            });
            return Ok(0);
        }
    }
    enter::enter(vm, &region, pc, left)
}

/// Compiles a region of `key` from `pc`; `None` (and an event) when it cannot.
fn compile(
    vm: &mut Vm,
    key: (u32, usize),
    pc: usize,
    depth: usize,
) -> Result<Option<Rc<Region>>, JvmError> {
    let Some(cf) = vm
        .classes
        .list
        .get(key.0 as usize)
        .and_then(|c| c.file.clone())
    else {
        return Ok(None);
    };
    let Some(m) = cf.methods.get(key.1) else {
        return Ok(None);
    };
    let Some(code) = m.code.as_ref() else {
        return Ok(None);
    };
    let title = alloc::format!("{}.{}", vm.classes.name(key.0), m.label());
    let origin = (vm.jit.next_code + 15) & !15;
    let built = u16::try_from(depth)
        .map_err(|_| String::from("the operand stack is too deep"))
        .and_then(|d| analyze::plan(&code.code, &cf.pool, pc, d))
        .and_then(|plan| {
            let text =
                emit::generate(&code.code, &cf.pool, &plan, code.max_locals, origin, &title)?;
            let out = vmlab_asm::assemble(&title, &text.text, &vmlab_asm::Options::default())
                .map_err(|e| alloc::format!("the assembler refused the code: {e}"))?;
            Ok((plan, text, out))
        });
    let (plan, text, out) = match built {
        Ok(b) => b,
        Err(reason) => return refuse(vm, key, pc, title, reason),
    };
    let end = u64::from(origin) + out.bytes.len() as u64;
    if end > u64::from(CODE_END) {
        return refuse(vm, key, pc, title, "the code cache is full".into());
    }
    let sym: BTreeMap<&str, u32> = out.symbols.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let at = |name: &str| sym.get(name).copied();
    let mut starts = BTreeMap::new();
    let mut pcs = BTreeMap::new();
    for p in 0..code.code.len() {
        if let Some(a) = at(&alloc::format!("P{p}")) {
            pcs.insert(p, a);
        }
        if let Some(a) = at(&alloc::format!("L{p}")) {
            starts.insert(p, a);
        }
    }
    let mut exits = BTreeMap::new();
    for (label, exit) in &text.exits {
        if let Some(a) = at(label) {
            exits.insert(a, *exit);
        }
    }
    let mut faults = BTreeMap::new();
    for (at_idiv, stub) in &text.faults {
        if let (Some(a), Some(b)) = (at(at_idiv), at(stub)) {
            faults.insert(a, b);
        }
    }
    let compiled = plan.compiled.iter().filter(|&&c| c).count();
    let region = Rc::new(Region {
        class: key.0,
        method: key.1,
        title: title.clone(),
        entry: pc,
        base: origin,
        stubs: at("S").unwrap_or(origin + out.bytes.len() as u32),
        bytes: out.bytes,
        text: text.text,
        max_locals: code.max_locals,
        depth: plan.depth,
        locals: plan.locals.into_iter().collect(),
        regs: text.regs,
        starts,
        exits,
        pcs,
        faults,
    });
    vm.jit
        .machine()?
        .write_phys(origin, &region.bytes)
        .map_err(|e| JvmError(alloc::format!("the JIT could not place {title}: {e}")))?;
    vm.jit.next_code = end as u32;
    vm.jit.stats.compiled += 1;
    vm.jit.stats.code_bytes += region.bytes.len() as u64;
    vm.jit.stats.bytecodes_compiled += compiled as u64;
    let i = vm.jit.regions.len();
    vm.jit.regions.push(region.clone());
    vm.jit.by_method.entry(key).or_default().push(i);
    let detail = alloc::format!(
        "{compiled} bytecodes to {} bytes of x86 at {origin:#x}",
        region.bytes.len()
    );
    event(vm, EventKind::Compile, title, pc, detail);
    Ok(Some(region))
}

/// Records that `key` cannot compile from `pc`, so it is not tried again.
fn refuse(
    vm: &mut Vm,
    key: (u32, usize),
    pc: usize,
    title: String,
    reason: String,
) -> Result<Option<Rc<Region>>, JvmError> {
    vm.jit.refused.insert((key.0, key.1, pc));
    vm.jit.stats.not_compiled += 1;
    event(vm, EventKind::NotCompiled, title, pc, reason);
    Ok(None)
}

/// Records an event (and traces it when the VM traces).
pub(crate) fn event(vm: &mut Vm, kind: EventKind, method: String, pc: usize, detail: String) {
    let trace = vm.config.trace.then_some(&mut vm.trace);
    vm.jit.event(
        trace,
        JitEvent {
            kind,
            method,
            pc,
            detail,
        },
    );
}
