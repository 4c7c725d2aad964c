//! `vmlab jvm --step-compiled N`: stops before the first compiled code the program
//! would enter, loads its frame into the JIT's machine and steps N x86 instructions
//! there, each reported with its address, its text (from the region's view) and the
//! bytecode pcs it belongs to; the program then runs on as without the option.

use serde::Serialize;
use vmlab_jvm::{Outcome, Vm};

/// One x86 instruction stepped in compiled code.
#[derive(Debug, Serialize)]
pub struct Stepped {
    /// EIP before the instruction.
    pub addr: u32,
    /// The instruction, as the region's view disassembles it.
    pub text: String,
    /// The bytecode pcs (first, last) whose x86 holds it; `None` in the exits.
    pub bytecode_pcs: Option<(usize, usize)>,
    /// The general registers after it (EAX..EDI).
    pub gpr: [u32; 8],
}

/// What `--step-compiled` saw.
#[derive(Debug, Serialize)]
pub struct StepReport {
    /// `Class.name(desc)` of the compiled region.
    pub method: String,
    /// The bytecode pc it is entered at.
    pub pc: usize,
    /// The instructions stepped.
    pub steps: Vec<Stepped>,
}

/// Runs until compiled code is about to be entered (within `budget`), then steps
/// `n` of its instructions in the JIT's machine. `Ok(None)`: the program ended or the
/// budget ran out before any compiled code.
pub fn step_compiled(vm: &mut Vm, n: u32, budget: u64) -> Result<Option<StepReport>, String> {
    vm.jit.stop_at_entry = true;
    let o = vm.run(budget).map_err(|e| e.to_string());
    vm.jit.stop_at_entry = false;
    let (Outcome::Budget, Some(s)) = (o?, vm.jit.staged) else {
        return Ok(None);
    };
    vm.load_staged().map_err(|e| e.to_string())?;
    let region = vm
        .jit
        .regions
        .get(s.region)
        .cloned()
        .ok_or("the staged region is missing")?;
    let lines: Vec<_> = vm
        .jit
        .views(vm)
        .into_iter()
        .nth(s.region)
        .map(|v| v.rows.into_iter().flat_map(|r| r.x86).collect())
        .unwrap_or_default();
    let m = vm.jit_machine_mut().ok_or("the JIT has no machine")?;
    let mut steps = Vec::new();
    for _ in 0..n {
        if m.cpu().halted {
            break;
        }
        let addr = m.cpu().eip;
        m.step();
        steps.push(Stepped {
            addr,
            text: lines
                .iter()
                .find(|l| l.addr == addr)
                .map_or_else(|| "(outside the region)".into(), |l| l.text.clone()),
            bytecode_pcs: region.bytecode_pcs(addr),
            gpr: m.cpu().gpr,
        });
    }
    Ok(Some(StepReport {
        method: region.title.clone(),
        pc: s.pc,
        steps,
    }))
}
