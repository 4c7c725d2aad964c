//! The CPU strip (every CPU side by side: run state, mode, CS:EIP, instructions,
//! registers, next instructions, APIC requests, TLB) and the APIC panel (each
//! CPU's local APIC: ID, TPR, IRR, ISR, timer, IPIs received).

use yew::prelude::*;

use super::{hex32, use_ctx, Panel};
use crate::smp::{vector_list, CpuView, SmpView};

const GPR_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];

/// Whether the machine has something per CPU to show: several CPUs, or an APIC
/// the guest enabled.
pub fn worth_showing(smp: &SmpView) -> bool {
    smp.cpus.len() > 1 || smp.cpus.iter().any(|c| c.apic_enabled)
}

/// A panel title that names the CPU it shows when the machine has several
/// (`Registers · CPU 1`).
pub fn titled(base: &str, smp: &SmpView) -> String {
    match smp.cpus.iter().find(|c| c.current) {
        Some(c) if smp.cpus.len() > 1 => format!("{base} · CPU {}", c.index),
        _ => base.to_string(),
    }
}

/// One CPU's column of the strip.
fn column(c: &CpuView, prev: Option<&CpuView>) -> Html {
    let changed = |f: &dyn Fn(&CpuView) -> u64| prev.is_some_and(|p| f(p) != f(c));
    let regs = GPR_NAMES.iter().enumerate().map(|(i, n)| {
        let cls = classes!(changed(&|x: &CpuView| u64::from(x.gpr[i])).then_some("changed"));
        html! { <span class={cls}>{ format!("{n} {}", hex32(c.gpr[i])) }</span> }
    });
    let code = c.disasm.iter().enumerate().map(|(k, l)| {
        html! {
            <li class={classes!("mono", (k == 0).then_some("current"))}>
                { format!("{:08x}  {}", l.addr, l.text) }
            </li>
        }
    });
    let state = c.state.name();
    let cls = classes!(
        "cpu-col",
        c.current.then_some("running-now"),
        format!("state-{state}")
    );
    html! {
        <div class={cls} data-testid={format!("cpu-{}", c.index)} data-state={state}
             data-mode={c.mode.name()} data-current={c.current.to_string()}
             aria-label={format!("CPU {}: {state}, {} mode", c.index, c.mode.name())}>
            <h3>
                { format!("CPU {}", c.index) }
                if c.index == 0 { <span class="small">{" (BSP)"}</span> }
                if c.current { <span class="badge" title="the CPU that runs now: the registers and disassembly panels show it">{"▶ on"}</span> }
            </h3>
            <div class={classes!("cpu-state", format!("state-{state}"))} data-testid={format!("cpu-{}-state", c.index)}>
                { format!("{state} · {} mode", c.mode.name()) }
            </div>
            <div class="mono" data-testid={format!("cpu-{}-eip", c.index)}>
                { format!("{:04x}:{:08x} → {:08x}", c.cs, c.eip, c.linear_eip) }
            </div>
            <div class="small">{ format!("{} instructions", c.instructions) }</div>
            { host_line(c) }
            <div class="mono small cpu-regs">{ for regs }</div>
            <ol class="cpu-code" data-testid={format!("cpu-{}-disasm", c.index)}>{ for code }</ol>
            <div class="mono small" data-testid={format!("cpu-{}-irr", c.index)}>
                { format!("IRR {}  ISR {}", vector_list(&c.irr), vector_list(&c.isr)) }
            </div>
            <div class="mono small" data-testid={format!("cpu-{}-timer", c.index)}>
                { timer_line(c) }
            </div>
            <div class="mono small" data-testid={format!("cpu-{}-tlb", c.index)}
                 title="the linear pages this CPU's own TLB holds">
                { format!("TLB {}", page_list(&c.tlb)) }
            </div>
        </div>
    }
}

/// Where the host has the vCPU, and the instructions it spent spinning.
fn host_line(c: &CpuView) -> Html {
    let h = c.host.name();
    let why = match c.host {
        emulator_core::smp::HostState::Running => "the host runs this vCPU",
        emulator_core::smp::HostState::Descheduled => {
            "the host runs another vCPU in its slice: this one makes no progress, and a lock it holds stays held"
        }
        emulator_core::smp::HostState::Spinning => "this vCPU waits in a PAUSE loop",
    };
    html! {
        <div class={classes!("small", "cpu-host", format!("host-{h}"))} data-testid={format!("cpu-{}-host", c.index)}
             data-host={h} title={why}>
            { format!("host: {h} · spun {}", c.spin) }
        </div>
    }
}

/// The host schedule and the spin-instruction counter in one line.
fn host_summary(smp: &SmpView) -> String {
    let h = smp.options.host;
    let mut parts = vec![if h.slice == 0 {
        "host slice off".to_string()
    } else {
        format!("host slice {}", h.slice)
    }];
    if h.ple_window > 0 {
        parts.push(format!("PLE window {}", h.ple_window));
    }
    if h.cosched {
        parts.push("co-scheduled".into());
    }
    parts.push(format!("{} spin instructions", smp.spin_instructions));
    parts.join(" · ")
}

/// The APIC timer in one line.
fn timer_line(c: &CpuView) -> String {
    let t = &c.timer;
    if t.initial == 0 {
        return "timer stopped".into();
    }
    format!(
        "timer {} vec {:#04x}{} {}/{} fired {}",
        if t.periodic { "periodic" } else { "one-shot" },
        t.vector,
        if t.masked { " masked" } else { "" },
        t.current,
        t.initial,
        t.fired
    )
}

/// Linear pages as `00400000 00401000`, at most eight, or `empty`.
fn page_list(pages: &[u32]) -> String {
    if pages.is_empty() {
        return "empty".into();
    }
    let mut s: Vec<String> = pages.iter().take(8).map(|p| format!("{p:08x}")).collect();
    if pages.len() > 8 {
        s.push(format!("+{}", pages.len() - 8));
    }
    s.join(" ")
}

/// Every CPU side by side.
#[function_component(CpuStrip)]
pub fn cpu_strip() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.as_ref() else {
        return html! {};
    };
    let smp = &view.smp;
    let focused = crate::demos::focus_rank(&ctx.state, "panel-cpus")
        .flatten()
        .is_some();
    if !focused && !worth_showing(smp) {
        return html! {};
    }
    let prev = ctx.state.prev.as_ref().map(|p| &p.smp);
    let cols = smp
        .cpus
        .iter()
        .map(|c| column(c, prev.and_then(|p| p.cpu(c.index))));
    html! {
        <Panel id="panel-cpus" title="CPUs"
               hint="Every CPU side by side: its state, where it is, its next instructions, its APIC's requests and its own TLB. ▶ marks the CPU that runs now, which the registers and disassembly panels show.">
            <div class="small" data-testid="cpus-summary">
                { format!("{} CPU(s), quantum {} instructions, {} IPI(s) sent", smp.options.cpus, smp.options.quantum, smp.ipis) }
            </div>
            <div class="small" data-testid="cpus-host">{ host_summary(smp) }</div>
            <div class="cpu-strip">{ for cols }</div>
        </Panel>
    }
}

/// Each CPU's local APIC as a table.
#[function_component(ApicPanel)]
pub fn apic_panel() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.as_ref() else {
        return html! {};
    };
    let smp = &view.smp;
    let focused = crate::demos::focus_rank(&ctx.state, "panel-apic")
        .flatten()
        .is_some();
    if !focused && !worth_showing(smp) {
        return html! {};
    }
    let rows = smp.cpus.iter().map(|c| {
        html! {
            <tr data-testid={format!("apic-{}", c.index)}>
                <th scope="row">{ c.index }</th>
                <td class="mono">{ c.apic_id }</td>
                <td>{ if c.apic_enabled { "on" } else { "off" } }</td>
                <td class="mono">{ format!("{:#04x}", c.tpr) }</td>
                <td class="mono" data-testid={format!("apic-{}-irr", c.index)}>{ vector_list(&c.irr) }</td>
                <td class="mono" data-testid={format!("apic-{}-isr", c.index)}>{ vector_list(&c.isr) }</td>
                <td class="mono small">{ timer_line(c) }</td>
                <td class="mono" data-testid={format!("apic-{}-ipis", c.index)}>{ c.ipis_received }</td>
            </tr>
        }
    });
    html! {
        <Panel id="panel-apic" title="Local APICs"
               hint="Each CPU's local APIC: IRR holds requested vectors, ISR those being handled until EOI; the timer counts down on virtual time">
            <table class="apic-table">
                <thead><tr>
                    <th>{"CPU"}</th><th>{"ID"}</th><th>{"APIC"}</th><th>{"TPR"}</th>
                    <th>{"IRR"}</th><th>{"ISR"}</th><th>{"timer"}</th><th>{"IPIs in"}</th>
                </tr></thead>
                <tbody>{ for rows }</tbody>
            </table>
        </Panel>
    }
}
