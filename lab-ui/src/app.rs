//! The first lab page: a built-in program on a real machine, its registers, the
//! next instruction and a Step button.

use emulator_core::{CpuState, FlatEntry, Gpr, Machine, MachineConfig, SegReg, StopReason};
use iced_x86::code_asm::{eax, ebx, ecx, CodeAssembler};
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use yew::prelude::*;

/// Where the built-in program is loaded (linear = physical, paging off).
pub const PROGRAM_BASE: u32 = 0x1000;

/// The built-in program, assembled with iced-x86's code assembler.
pub fn program() -> Result<Vec<u8>, iced_x86::IcedError> {
    let mut a = CodeAssembler::new(32)?;
    a.mov(eax, 1u32)?;
    a.mov(ebx, 2u32)?;
    a.add(eax, ebx)?;
    a.shl(eax, 4u32)?;
    a.mov(ecx, eax)?;
    a.hlt()?;
    a.assemble(u64::from(PROGRAM_BASE))
}

/// Disassembles `code` (32-bit, at `base`) into `(address, text)` lines, Intel syntax.
pub fn disassemble(code: &[u8], base: u32) -> Vec<(u32, String)> {
    let mut decoder = Decoder::with_ip(32, code, u64::from(base), DecoderOptions::NONE);
    let mut lines = Vec::new();
    while decoder.can_decode() {
        let insn = decoder.decode();
        lines.push((insn.ip32(), format_instruction(&insn)));
    }
    lines
}

fn format_instruction(insn: &Instruction) -> String {
    if insn.is_invalid() {
        return "(invalid instruction)".to_owned();
    }
    let mut text = String::new();
    IntelFormatter::new().format(insn, &mut text);
    text
}

/// The instruction at CS:EIP, decoded in the CPU's current mode, in Intel syntax.
pub fn next_instruction(machine: &Machine) -> String {
    let cpu = machine.cpu();
    let cs = cpu.sreg(SegReg::Cs);
    let linear = cs.base.wrapping_add(cpu.eip);
    let mut bytes = [0u8; 15];
    if let Err(e) = machine.peek_linear(linear, &mut bytes) {
        return format!("(cannot read {linear:#010x}: {e:?})");
    }
    let bitness = if cpu.protected_mode() && !cpu.v86() && cs.big() {
        32
    } else {
        16
    };
    let mut decoder = Decoder::with_ip(bitness, &bytes, u64::from(cpu.eip), DecoderOptions::NONE);
    format_instruction(&decoder.decode())
}

/// The machine running the built-in program.
#[derive(Debug)]
pub struct Lab {
    machine: Machine,
    before: CpuState,
    last_stop: Option<StopReason>,
}

impl Lab {
    /// A machine with the built-in program loaded at [`PROGRAM_BASE`] in flat 32-bit protected mode.
    pub fn new() -> Result<Lab, String> {
        let code = program().map_err(|e| format!("the built-in program: {e}"))?;
        let config = MachineConfig {
            ram_mib: 1,
            ..MachineConfig::default()
        };
        let mut machine = Machine::new(config).map_err(|e| format!("the machine: {e:?}"))?;
        machine
            .load_flat(PROGRAM_BASE, &code, FlatEntry::Protected32)
            .map_err(|e| format!("loading the program: {e:?}"))?;
        Ok(Lab {
            before: machine.cpu().clone(),
            machine,
            last_stop: None,
        })
    }

    /// Executes one instruction.
    pub fn step(&mut self) {
        self.before = self.machine.cpu().clone();
        self.last_stop = Some(self.machine.step());
    }

    /// What the page shows now.
    pub fn view(&self) -> View {
        View {
            cpu: self.machine.cpu().clone(),
            before: self.before.clone(),
            next: next_instruction(&self.machine),
            icount: self.machine.icount(),
            last_stop: self.last_stop,
        }
    }
}

/// A snapshot of the machine for rendering.
#[derive(Clone, PartialEq, Debug)]
pub struct View {
    /// The CPU now.
    pub cpu: CpuState,
    /// The CPU before the last step (changed registers are highlighted).
    pub before: CpuState,
    /// The next instruction, disassembled.
    pub next: String,
    /// Instructions retired.
    pub icount: u64,
    /// Why the last step stopped.
    pub last_stop: Option<StopReason>,
}

/// The general-purpose registers in the order the page shows them.
const GPRS: [(Gpr, &str); 8] = [
    (Gpr::Eax, "eax"),
    (Gpr::Ebx, "ebx"),
    (Gpr::Ecx, "ecx"),
    (Gpr::Edx, "edx"),
    (Gpr::Esi, "esi"),
    (Gpr::Edi, "edi"),
    (Gpr::Ebp, "ebp"),
    (Gpr::Esp, "esp"),
];

/// The lab's root component.
#[function_component(App)]
pub fn app() -> Html {
    let lab = use_mut_ref(Lab::new);
    let view = use_state(|| lab.borrow().as_ref().ok().map(Lab::view));
    let listing = use_memo((), |()| {
        program()
            .map(|code| disassemble(&code, PROGRAM_BASE))
            .unwrap_or_default()
    });

    let on_step = {
        let lab = lab.clone();
        let view = view.clone();
        Callback::from(move |_: MouseEvent| {
            if let Ok(lab) = lab.borrow_mut().as_mut() {
                lab.step();
                view.set(Some(lab.view()));
            }
        })
    };
    let on_reset = {
        let lab = lab.clone();
        let view = view.clone();
        Callback::from(move |_: MouseEvent| {
            let fresh = Lab::new();
            view.set(fresh.as_ref().ok().map(Lab::view));
            *lab.borrow_mut() = fresh;
        })
    };

    let body = match (&*view, &*lab.borrow()) {
        (Some(v), _) => machine_panels(v, &listing, on_step, on_reset),
        (None, Err(e)) => html! { <p class="error" data-testid="lab-error">{ e }</p> },
        (None, Ok(_)) => html! {},
    };
    html! {
        <main class="lab" data-testid="lab">
            <header>
                <h1>{ "vmlab" }</h1>
                <p>{ "An x86 machine in your browser: step through a program and watch the registers." }</p>
            </header>
            { body }
        </main>
    }
}

fn machine_panels(
    v: &View,
    listing: &[(u32, String)],
    on_step: Callback<MouseEvent>,
    on_reset: Callback<MouseEvent>,
) -> Html {
    let gprs = GPRS
        .iter()
        .map(|&(r, name)| register_row(name, v.cpu.reg(r), v.before.reg(r)));
    let status = match v.last_stop {
        None => "ready".to_owned(),
        Some(_) if v.cpu.halted => format!("{} instructions · halted", v.icount),
        Some(StopReason::Stepped) => format!("{} instructions", v.icount),
        Some(stop) => format!("{} instructions · {}", v.icount, stop.name()),
    };
    html! {
        <>
            <section class="panel" aria-label="Registers" data-testid="panel-registers">
                <h2>{ "Registers" }</h2>
                <table class="registers">
                    <tbody>
                        { for gprs }
                        { register_row("eip", v.cpu.eip, v.before.eip) }
                        { register_row("eflags", v.cpu.eflags, v.before.eflags) }
                    </tbody>
                </table>
                <div class="controls">
                    <button data-testid="btn-step" aria-label="Step one instruction"
                        disabled={ v.cpu.halted } onclick={ on_step }>{ "Step" }</button>
                    <button data-testid="btn-reset" aria-label="Reload the program"
                        onclick={ on_reset }>{ "Reset" }</button>
                </div>
                <p class="status" data-testid="status">{ status }</p>
            </section>
            <section class="panel" aria-label="Program" data-testid="panel-program">
                <h2>{ "Next instruction" }</h2>
                <p class="next"><code data-testid="next-insn">{ &v.next }</code></p>
                <h2>{ "Program" }</h2>
                <ol class="listing" data-testid="listing">
                    { for listing.iter().map(|(addr, text)| {
                        let current = *addr == v.cpu.eip;
                        html! {
                            <li class={ classes!(current.then_some("current")) }
                                aria-current={ current.then_some("step") }>
                                <span class="addr">{ format!("{addr:08x}") }</span>
                                <code>{ text }</code>
                            </li>
                        }
                    }) }
                </ol>
            </section>
        </>
    }
}

fn register_row(name: &str, value: u32, before: u32) -> Html {
    html! {
        <tr class={ classes!((value != before).then_some("changed")) }>
            <th scope="row">{ name }</th>
            <td><code data-testid={ format!("reg-{name}") }>{ format!("{value:08x}") }</code></td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_program_disassembles_to_its_source() {
        let code = program().expect("the program assembles");
        let lines = disassemble(&code, PROGRAM_BASE);
        let texts: Vec<&str> = lines.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            [
                "mov eax,1",
                "mov ebx,2",
                "add eax,ebx",
                "shl eax,4",
                "mov ecx,eax",
                "hlt"
            ]
        );
        assert_eq!(lines[0].0, PROGRAM_BASE);
    }

    #[test]
    fn stepping_runs_the_program_one_instruction_at_a_time() {
        let mut lab = Lab::new().expect("the lab starts");
        assert_eq!(lab.view().next, "mov eax,1");
        assert_eq!(lab.view().cpu.eip, PROGRAM_BASE);
        lab.step();
        let v = lab.view();
        assert_eq!(
            (v.cpu.reg(Gpr::Eax), v.cpu.eip, v.icount),
            (1, PROGRAM_BASE + 5, 1)
        );
        assert_eq!(v.next, "mov ebx,2");
        for _ in 0..4 {
            lab.step();
        }
        let v = lab.view();
        assert_eq!(v.cpu.reg(Gpr::Eax), 0x30);
        assert_eq!(v.cpu.reg(Gpr::Ecx), 0x30);
        assert_eq!(v.next, "hlt");
        lab.step();
        let v = lab.view();
        assert!(v.cpu.halted, "HLT halts the CPU");
        assert_eq!(v.icount, 6);
    }
}
