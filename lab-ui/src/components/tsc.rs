//! The TSC panel: each vCPU's time stamp counter and its VMM's offset as bars, the
//! drift between them, and (under a VMM with several vCPUs) the host slice and the
//! TSC policy.

use emulator_core::smp::{HostSchedule, TscPolicy};
use emulator_core::ExecMode;
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::Command;
use crate::smp::{Smp, SmpView};

/// The host slices the panel offers (instructions; 0: none).
pub const HOST_SLICES: [u64; 4] = [0, 500, 2_000, 5_000];

/// A bar's width: `part` of `whole` in percent, at least a sliver when `part` is not 0.
fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 || part == 0 {
        return 0.0;
    }
    (part as f64 * 100.0 / whole as f64).clamp(0.5, 100.0)
}

/// One CPU's row: its counter as a bar, the lag behind the furthest CPU hatched.
fn row(i: usize, tsc: u64, offset: i64, max: u64) -> Html {
    let lag = max - tsc;
    html! {
        <div class="tsc-row" data-testid={format!("tsc-cpu-{i}")}
             data-tsc={tsc.to_string()} data-offset={offset.to_string()}
             aria-label={format!("CPU {i}: TSC {tsc}, offset {offset}, {lag} behind")}>
            <span class="tsc-name">{ format!("CPU {i}") }</span>
            <span class="tsc-track">
                <span class="tsc-bar" style={format!("width: {:.2}%", percent(tsc, max))}></span>
                <span class="tsc-lag" style={format!("width: {:.2}%", percent(lag, max))}
                      title="how far this CPU's counter is behind the furthest one"></span>
            </span>
            <span class="mono small">
                { format!("{tsc}  offset {offset}") }
                if lag > 0 { { format!("  −{lag}") } }
            </span>
        </div>
    }
}

/// A select's value after a change event.
fn chosen(e: &Event) -> Option<String> {
    Some(e.target_dyn_into::<HtmlSelectElement>()?.value())
}

/// The host slice and TSC policy selects (they reload the program).
fn settings(now: Smp, running: bool, send: Callback<Command>) -> Html {
    let on_policy = {
        let send = send.clone();
        Callback::from(move |e: Event| {
            if let Some(tsc) = chosen(&e).and_then(|v| v.parse::<TscPolicy>().ok()) {
                send.emit(Command::SetSmp(Smp { tsc, ..now }));
            }
        })
    };
    let on_slice = Callback::from(move |e: Event| {
        if let Some(slice) = chosen(&e).and_then(|v| v.parse::<u64>().ok()) {
            let host = HostSchedule { slice, ..now.host };
            send.emit(Command::SetSmp(Smp { host, ..now }));
        }
    });
    let mut slices = HOST_SLICES.to_vec();
    if !slices.contains(&now.host.slice) {
        slices.push(now.host.slice);
        slices.sort_unstable();
    }
    html! {
        <div class="tsc-settings small" role="group" aria-label="host scheduling of the vCPUs' TSCs">
            <label title="instructions the host runs one vCPU before the next (changing it reloads the program)">
                {"host slice "}
                <select data-testid="tsc-slice-select" disabled={running} onchange={on_slice} aria-label="host slice">
                    { for slices.iter().map(|&s| html! {
                        <option value={s.to_string()} selected={s == now.host.slice}>
                            { if s == 0 { "none".to_string() } else { s.to_string() } }
                        </option>
                    }) }
                </select>
            </label>
            <label title="sync: every vCPU's TSC offset stays equal (as KVM keeps it); drift: the host stops a vCPU's counter while it runs the others, so the counters drift apart (changing it reloads the program)">
                {" TSC "}
                <select data-testid="tsc-policy-select" disabled={running} onchange={on_policy} aria-label="TSC policy">
                    { for TscPolicy::ALL.iter().map(|p| html! {
                        <option value={p.name()} selected={*p == now.tsc}>{ p.name() }</option>
                    }) }
                </select>
            </label>
        </div>
    }
}

/// The panel's summary: the policy and the drift.
fn summary(smp: &SmpView, vmm: bool) -> String {
    let o = smp.options;
    if !vmm {
        return format!(
            "bare machine: every CPU reads one clock; drift {} ticks",
            smp.tsc_drift
        );
    }
    let slice = match o.host.slice {
        0 => "no host slice".to_string(),
        s => format!("host slice {s}"),
    };
    format!(
        "TSC {} · {slice} · drift {} ticks",
        o.tsc.name(),
        smp.tsc_drift
    )
}

/// Each CPU's TSC, its offset and the drift.
#[function_component(TscPanel)]
pub fn tsc_panel() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.as_ref() else {
        return html! {};
    };
    let smp = &view.smp;
    let focused = crate::demos::focus_rank(&ctx.state, "panel-tsc")
        .flatten()
        .is_some();
    if !focused && smp.cpus.len() < 2 {
        return html! {};
    }
    let vmm = !matches!(view.mode, ExecMode::Bare);
    let max = smp.cpus.iter().map(|c| c.tsc.tsc).max().unwrap_or(0);
    let rows = smp
        .cpus
        .iter()
        .map(|c| row(c.index, c.tsc.tsc, c.tsc.offset, max));
    html! {
        <Panel id="panel-tsc" title="Time stamp counters"
               hint="Each CPU's TSC as its guest's RDTSC reads it. Under a VMM it is the machine's clock plus the vCPU's TSC offset (VT-x's TSC-offset field). The hatched part is how far a counter is behind the furthest; the drift is the largest difference.">
            <div class="small" data-testid="tsc-drift" data-drift={smp.tsc_drift.to_string()}>
                { summary(smp, vmm) }
            </div>
            <div class="tsc-bars">{ for rows }</div>
            if vmm { { settings(smp.options, ctx.state.running(), ctx.send.clone()) } }
        </Panel>
    }
}
