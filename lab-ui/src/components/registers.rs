//! Registers and flags, with the values that changed since the previous view highlighted.

use emulator_core::state::flags;
use emulator_core::{CpuState, SegReg};
use yew::prelude::*;

use super::{hex32, use_ctx, Ctx, Panel};
use crate::protocol::{Command, Register, Watch};

const GPR_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

const FLAG_BITS: [(&str, u32); 10] = [
    ("CF", flags::CF),
    ("PF", flags::PF),
    ("AF", flags::AF),
    ("ZF", flags::ZF),
    ("SF", flags::SF),
    ("TF", flags::TF),
    ("IF", flags::IF),
    ("DF", flags::DF),
    ("OF", flags::OF),
    ("VM", flags::VM),
];

/// A "who wrote this?" button for a register the history can search.
fn who_wrote(ctx: &Ctx, name: &str) -> Html {
    let Some(reg) = Register::from_name(name) else {
        return Html::default();
    };
    let disabled = ctx.state.running();
    html! {
        <td><button class="who" data-testid={format!("who-{name}")} {disabled}
                    title={format!("who wrote {name}? go back to the last instruction that changed it")}
                    aria-label={format!("who wrote {name}?")}
                    onclick={ctx.send_on(Command::WhoWrote(Watch::Register(reg)))}>{"?"}</button></td>
    }
}

fn reg_row(ctx: &Ctx, name: &str, value: String, changed: bool) -> Html {
    html! {
        <tr class={classes!(changed.then_some("changed"))} data-testid={format!("reg-{name}")}>
            <th scope="row">{ name.to_string() }</th>
            <td class="mono">{ value }</td>
            { who_wrote(ctx, name) }
        </tr>
    }
}

/// The registers panel.
#[function_component(Registers)]
pub fn registers() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.clone() else {
        return html! { <Panel id="panel-registers" title="Registers">{"No machine yet: load a program or open a demo."}</Panel> };
    };
    let cpu = &view.cpu;
    let prev: Option<CpuState> = ctx.state.prev.as_ref().map(|p| p.cpu.clone());
    let old = |f: &dyn Fn(&CpuState) -> u64| prev.as_ref().is_some_and(|p| f(p) != f(cpu));
    let gprs = GPR_NAMES.iter().enumerate().map(|(i, n)| {
        reg_row(
            &ctx,
            n,
            hex32(cpu.gpr[i]),
            old(&|c: &CpuState| u64::from(c.gpr[i])),
        )
    });
    let flag_cells = FLAG_BITS.iter().map(|&(n, bit)| {
        let on = cpu.eflags & bit != 0;
        let changed = prev.as_ref().is_some_and(|p| (p.eflags & bit != 0) != on);
        html! {
            <span class={classes!("flag", on.then_some("on"), changed.then_some("changed"))}
                  data-testid={format!("flag-{}", n.to_ascii_lowercase())}
                  aria-label={format!("{n} = {}", u8::from(on))}>{ n }</span>
        }
    });
    let segs = SegReg::ALL.iter().map(|&s| {
        let seg = cpu.sreg(s);
        let changed = prev.as_ref().is_some_and(|p| p.sreg(s) != seg);
        html! {
            <tr class={classes!(changed.then_some("changed"))} data-testid={format!("reg-{}", s.name())}>
                <th scope="row">{ s.name() }</th>
                <td class="mono">{ format!("{:04x}", seg.selector) }</td>
                <td class="mono small">{ format!("base {:08x} limit {:08x} dpl {}", seg.base, seg.limit, seg.dpl()) }</td>
                { who_wrote(&ctx, s.name()) }
            </tr>
        }
    });
    html! {
        <Panel id="panel-registers" title={super::cpus::titled("Registers", &view.smp)} hint="General-purpose, segment and control registers; yellow = changed by the last step">
            <div class="regs">
                <table class="reg-table">
                    { for gprs }
                    { reg_row(&ctx, "eip", hex32(cpu.eip), old(&|c: &CpuState| u64::from(c.eip))) }
                    { reg_row(&ctx, "eflags", hex32(cpu.eflags), old(&|c: &CpuState| u64::from(c.eflags))) }
                </table>
                <table class="reg-table">
                    { reg_row(&ctx, "cr0", hex32(cpu.cr0), old(&|c: &CpuState| u64::from(c.cr0))) }
                    { reg_row(&ctx, "cr2", hex32(cpu.cr2), old(&|c: &CpuState| u64::from(c.cr2))) }
                    { reg_row(&ctx, "cr3", hex32(cpu.cr3), old(&|c: &CpuState| u64::from(c.cr3))) }
                    { reg_row(&ctx, "cr4", hex32(cpu.cr4), old(&|c: &CpuState| u64::from(c.cr4))) }
                    { reg_row(&ctx, "cpl", cpu.cpl.to_string(), old(&|c: &CpuState| u64::from(c.cpl))) }
                    { reg_row(&ctx, "iopl", cpu.iopl().to_string(), old(&|c: &CpuState| u64::from(c.iopl()))) }
                    { reg_row(&ctx, "icount", view.icount.to_string(), false) }
                </table>
            </div>
            <div class="flags" data-testid="flags" aria-label="EFLAGS bits">{ for flag_cells }</div>
            <table class="reg-table segs">{ for segs }</table>
            if let Some(line) = view.vcpu.clone() {
                <div class="mono vcpu" data-testid="reg-vcpu" title="the VMM's virtual CPU: the privileged state the guest kernel believes it has">{ line }</div>
            }
            <div class="small mono" data-testid="reg-tables">
                { format!("gdtr {:08x}/{:04x}  idtr {:08x}/{:04x}  tr {:04x}  ldtr {:04x}{}",
                    cpu.gdtr.base, cpu.gdtr.limit, cpu.idtr.base, cpu.idtr.limit,
                    cpu.tr.selector, cpu.ldtr.selector, if cpu.halted { "  HALTED" } else { "" }) }
            </div>
        </Panel>
    }
}
