//! Running compiled code: the interpreter's frame is written into the JIT machine's
//! memory and registers, the machine runs under the remaining budget, and at the
//! exit (or, when the budget runs out, at the next block start) the locals and the
//! operand stack are written back so the interpreter continues at that pc.

use alloc::format;
use alloc::rc::Rc;
use alloc::vec::Vec;

use emulator_core::StopReason;

use super::{EventKind, Exit, Region, DE_HANDLER, FRAME_BASE};
use crate::heap::Value;
use crate::interp::Vm;
use crate::opcode;
use crate::JvmError;

const EAX: usize = 0;
const ESP: usize = 4;
const EBP: usize = 5;
/// Most instructions stepped from where the budget ran out to the next block start.
const SAFEPOINT_STEPS: u32 = 100_000;

impl Region {
    /// The address of operand-stack slot `s`'s memory home.
    fn home(&self, s: usize) -> u32 {
        FRAME_BASE + 4 * (u32::from(self.max_locals) + s as u32)
    }

    /// The general register local `k` lives in, if it does.
    fn reg_of(&self, k: u16) -> Option<usize> {
        self.regs.iter().find_map(|&(l, g)| (l == k).then_some(g))
    }

    /// The block start at address `addr`.
    fn start_at(&self, addr: u32) -> Option<usize> {
        self.starts
            .iter()
            .find_map(|(&pc, &a)| (a == addr).then_some(pc))
    }
}

/// Writes the top frame into the JIT's machine for `region` at `pc` and points EIP
/// at its code; `false` when the frame cannot go in (a local the code uses holds a
/// non-int, or `pc` is not a block start).
pub(crate) fn load_frame(vm: &mut Vm, region: &Region, pc: usize) -> Result<bool, JvmError> {
    let Some(&addr) = region.starts.get(&pc) else {
        return Ok(false);
    };
    let Some(f) = vm.frames.last() else {
        return Ok(false);
    };
    let mut locals = Vec::with_capacity(region.locals.len());
    for &k in &region.locals {
        match f.locals.get(usize::from(k)) {
            Some(Value::Int(n)) => locals.push((k, *n)),
            Some(Value::Top) => locals.push((k, 0)),
            _ => return Ok(false),
        }
    }
    let mut stack = Vec::with_capacity(f.stack.len());
    for v in &f.stack {
        match v {
            Value::Int(n) => stack.push(*n),
            _ => return Ok(false),
        }
    }
    let title = &region.title;
    let m = vm.jit.machine()?;
    let put = |m: &mut emulator_core::Machine, a: u32, n: i32| {
        m.write_phys(a, &n.to_le_bytes())
            .map_err(|e| JvmError(format!("the JIT could not write {title}'s frame: {e}")))
    };
    let mut gpr = m.cpu().gpr;
    for (k, n) in locals {
        match region.reg_of(k) {
            Some(g) => gpr[g] = n as u32,
            None => put(m, FRAME_BASE + 4 * u32::from(k), n)?,
        }
    }
    for (s, &n) in stack.iter().enumerate() {
        put(m, region.home(s), n)?;
    }
    let stack_top = vm.jit.stack_top;
    let m = vm.jit.machine()?;
    gpr[ESP] = stack_top;
    gpr[EBP] = FRAME_BASE;
    m.resume_at(addr, gpr);
    Ok(true)
}

/// Runs `region` from `pc` on the top frame; returns the x86 instructions retired
/// (0 when the frame cannot go in: a local the code uses holds a non-int).
pub(crate) fn enter(
    vm: &mut Vm,
    region: &Rc<Region>,
    pc: usize,
    left: u64,
) -> Result<u64, JvmError> {
    if !load_frame(vm, region, pc)? {
        return Ok(0);
    }
    let title = &region.title;
    let m = vm.jit.machine()?;
    let start = m.icount();
    let mut stop = m.run(left.max(1));
    let mut stepped = 0;
    // (exit, whether it is a real exit rather than a budget stop)
    let (exit, real) = loop {
        let eip = m.cpu().eip;
        if m.cpu().halted && eip.wrapping_sub(1) == DE_HANDLER {
            // An idiv faulted: continue in its stub, which deoptimizes.
            let esp = m.cpu().gpr[ESP];
            let mut b = [0u8; 4];
            m.peek_phys(esp, &mut b);
            let at = u32::from_le_bytes(b);
            let Some(&stub) = region.faults.get(&at) else {
                return Err(JvmError(format!(
                    "compiled code of {title} raised #DE at {at:#x}, which is not a division"
                )));
            };
            let cpu = m.cpu_mut();
            cpu.gpr[ESP] = esp.wrapping_add(12);
            cpu.eip = stub;
            cpu.halted = false;
            let used = m.icount() - start;
            stop = m.run(left.saturating_sub(used).max(1));
            continue;
        }
        if m.cpu().halted {
            match region.exits.get(&eip.wrapping_sub(1)) {
                Some(e) => break (*e, true),
                None => {
                    return Err(JvmError(format!(
                        "compiled code of {title} halted at {eip:#x}, which is not one of its exits"
                    )))
                }
            }
        }
        if !matches!(stop, StopReason::BudgetExhausted | StopReason::Stepped) {
            return Err(JvmError(format!(
                "compiled code of {title} stopped at {eip:#x}: {}",
                stop.name()
            )));
        }
        if let Some(pc) = region.start_at(eip) {
            break (Exit::Deopt { pc }, false);
        }
        stepped += 1;
        if stepped > SAFEPOINT_STEPS {
            return Err(JvmError(format!(
                "compiled code of {title} reached no block start in {SAFEPOINT_STEPS} instructions after the budget ran out"
            )));
        }
        stop = m.step();
    };
    let retired = m.icount() - start;
    let eax = m.cpu().gpr[EAX] as i32;
    let mut values = Vec::new();
    if let Exit::Deopt { pc } = exit {
        let depth = region.depth.get(pc).copied().flatten().unwrap_or(0);
        for &k in &region.locals {
            let n = match region.reg_of(k) {
                Some(g) => m.cpu().gpr[g] as i32,
                None => {
                    let mut b = [0u8; 4];
                    m.peek_phys(FRAME_BASE + 4 * u32::from(k), &mut b);
                    i32::from_le_bytes(b)
                }
            };
            values.push(n);
        }
        for s in 0..usize::from(depth) {
            let mut b = [0u8; 4];
            m.peek_phys(region.home(s), &mut b);
            values.push(i32::from_le_bytes(b));
        }
    }
    vm.jit.stats.entries += 1;
    vm.jit.stats.x86_instructions += retired;
    match exit {
        Exit::Deopt { pc } => {
            let n = region.locals.len();
            let Some(f) = vm.frames.last_mut() else {
                return Err(JvmError("compiled code left without a frame".into()));
            };
            for (&k, &v) in region.locals.iter().zip(&values[..n]) {
                if let Some(slot) = f.locals.get_mut(usize::from(k)) {
                    *slot = Value::Int(v);
                }
            }
            f.stack = values[n..].iter().map(|&v| Value::Int(v)).collect();
            f.pc = pc;
            if real {
                vm.jit.stats.deopts += 1;
                // Only the first deopts at each pc become events.
                let seen = vm
                    .jit
                    .deopts_at
                    .entry((region.class, region.method, pc))
                    .or_insert(0);
                *seen = seen.saturating_add(1);
                if *seen > super::DEOPTS_PER_PC {
                    return Ok(retired.max(1));
                }
                let op = vm
                    .classes
                    .list
                    .get(region.class as usize)
                    .and_then(|c| c.file.as_ref())
                    .and_then(|cf| cf.methods.get(region.method))
                    .and_then(|m| m.code.as_ref())
                    .and_then(|c| c.code.get(pc).copied())
                    .unwrap_or(0);
                let detail = if matches!(op, 108 | 112) {
                    format!(
                        "{} raised #DE (divisor 0, or MIN_VALUE / -1): the interpreter runs it",
                        opcode::name(op)
                    )
                } else {
                    format!(
                        "{} is not compiled: the interpreter runs it",
                        opcode::name(op)
                    )
                };
                super::event(vm, EventKind::Deopt, region.title.clone(), pc, detail);
            }
        }
        Exit::Return => {
            vm.jit.stats.returns += 1;
            vm.return_from_frame(None)?;
        }
        Exit::IReturn => {
            vm.jit.stats.returns += 1;
            vm.return_from_frame(Some(Value::Int(eax)))?;
        }
    }
    Ok(retired.max(1))
}
