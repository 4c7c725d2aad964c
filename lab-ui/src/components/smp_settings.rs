//! The toolbar's machine settings for several CPUs: how many, their quantum,
//! (under hardware assistance) APIC virtualization with posted interrupts, and the
//! host's schedule (`host_schedule.rs`).

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::use_ctx;
use crate::protocol::Command;
use crate::smp::{Smp, MAX_CPUS, QUANTA};

/// A select's value after a change event.
fn selected(e: &Event) -> Option<u64> {
    e.target_dyn_into::<HtmlSelectElement>()?
        .value()
        .parse()
        .ok()
}

/// CPUs, quantum and APICv.
#[function_component(SmpSettings)]
pub fn smp_settings() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.as_ref() else {
        return html! {};
    };
    let now = view.smp.options;
    let running = ctx.state.running();
    let on_cpus = {
        let send = ctx.send.clone();
        Callback::from(move |e: Event| {
            if let Some(n) = selected(&e) {
                send.emit(Command::SetSmp(Smp {
                    cpus: n as u32,
                    ..now
                }));
            }
        })
    };
    let on_quantum = {
        let send = ctx.send.clone();
        Callback::from(move |e: Event| {
            if let Some(q) = selected(&e) {
                send.emit(Command::SetSmp(Smp { quantum: q, ..now }));
            }
        })
    };
    let mut quanta: Vec<u64> = QUANTA.to_vec();
    if !quanta.contains(&now.quantum) {
        quanta.push(now.quantum);
        quanta.sort_unstable();
    }
    let apicv = view.vmm_settings.and_then(|s| s.controls).map(|c| {
        let send = ctx.send.clone();
        let onchange = Callback::from(move |e: Event| {
            send.emit(Command::SetExitControls(emulator_core::vmm::ExitControls {
                apic_virtualization: super::vmm_settings::checked(&e),
                ..c
            }))
        });
        html! {
            <label title="APIC virtualization with posted interrupts: the virtual-APIC page answers APIC reads and writes (no apic-access or eoi exit) and the APIC's interrupts are posted to the running vCPU without an exit; IPIs still exit">
                <input type="checkbox" data-testid="apicv" checked={c.apic_virtualization} disabled={running} {onchange}/>
                {" APICv"}
            </label>
        }
    });
    html! {
        <span class="smp-settings" data-testid="smp-settings" role="group" aria-label="CPUs">
            <label title="CPUs in the machine: CPU 0 starts, the others wait for INIT and a start-up IPI (changing it reloads the program)">
                {"CPUs "}
                <select data-testid="cpus-select" disabled={running} onchange={on_cpus} aria-label="CPUs">
                    { for (1..=MAX_CPUS).map(|n| html! {
                        <option value={n.to_string()} selected={n == now.cpus}>{ n }</option>
                    }) }
                </select>
            </label>
            <label title="instructions each CPU runs before the next one's turn (changing it reloads the program)">
                {" quantum "}
                <select data-testid="quantum-select" disabled={running} onchange={on_quantum} aria-label="quantum">
                    { for quanta.iter().map(|&q| html! {
                        <option value={q.to_string()} selected={q == now.quantum}>{ q }</option>
                    }) }
                </select>
            </label>
            { for apicv }
            <super::host_schedule::HostScheduleSettings/>
        </span>
    }
}
