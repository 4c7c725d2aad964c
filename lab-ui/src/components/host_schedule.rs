//! The toolbar's host schedule for a machine's vCPUs: the host's slice, pause-loop
//! exiting and co-scheduling, each disabled with the core's refusal as its tooltip
//! where the machine's mode cannot apply it.

use emulator_core::smp::{HostSchedule, DEFAULT_PLE_WINDOW};
use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::use_ctx;
use crate::protocol::Command;
use crate::smp::Smp;

/// The host slices the toolbar offers (instructions; 0 for none).
pub const SLICES: [u64; 4] = [0, 1_000, 5_000, 20_000];

/// A control's tooltip: the refusal when there is one, else what it does.
fn tip(refused: Option<&'static str>, what: &str) -> String {
    refused.map_or_else(|| what.to_string(), |r| format!("cannot apply: {r}"))
}

/// Host slice, PLE and co-scheduling.
#[function_component(HostScheduleSettings)]
pub fn host_schedule_settings() -> Html {
    let ctx = use_ctx();
    let Some(view) = ctx.state.view.as_ref() else {
        return html! {};
    };
    let now: Smp = view.smp.options;
    let host = now.host;
    let mode = view.mode;
    let running = ctx.state.running();
    let emit = {
        let send = ctx.send.clone();
        move |host: HostSchedule| send.emit(Command::SetSmp(Smp { host, ..now }))
    };
    let on_slice = {
        let emit = emit.clone();
        Callback::from(move |e: Event| {
            let Some(slice) = e
                .target_dyn_into::<HtmlSelectElement>()
                .and_then(|s| s.value().parse::<u64>().ok())
            else {
                return;
            };
            // co-scheduling goes with the slice
            emit(HostSchedule {
                slice,
                cosched: host.cosched && slice > 0,
                ..host
            })
        })
    };
    let on_ple = {
        let emit = emit.clone();
        Callback::from(move |e: Event| {
            let on = super::vmm_settings::checked(&e);
            emit(HostSchedule {
                ple_window: if on { DEFAULT_PLE_WINDOW } else { 0 },
                ..host
            })
        })
    };
    let on_cosched = Callback::from(move |e: Event| {
        emit(HostSchedule {
            cosched: super::vmm_settings::checked(&e),
            ..host
        })
    });
    let slice_refused = HostSchedule {
        slice: 1,
        ..HostSchedule::default()
    }
    .refusal(mode);
    let ple_refused = HostSchedule {
        ple_window: DEFAULT_PLE_WINDOW,
        ..host
    }
    .refusal(mode);
    let co_refused = HostSchedule {
        cosched: true,
        ..host
    }
    .refusal(mode);
    let slice_tip = tip(
        slice_refused,
        "host slice: under a VMM, instructions the host runs one vCPU before the next (off: the vCPUs run side by side, as on as many physical CPUs; changing it reloads the program)",
    );
    let ple_tip = tip(
        ple_refused,
        &format!("pause-loop exiting: a PAUSE loop longer than {DEFAULT_PLE_WINDOW} instructions exits (pause-loop) and the host runs the next vCPU (reloads the program)"),
    );
    let co_tip = tip(
        co_refused,
        "co-scheduling: the host runs all the vCPUs together for a slice, then deschedules them all at once (reloads the program)",
    );
    html! {
        <span class="host-schedule" data-testid="host-schedule" role="group" aria-label="host schedule">
            <label title={slice_tip.clone()} data-testid="host-slice-label">
                {" host slice "}
                <select data-testid="host-slice-select" aria-label="host slice" title={slice_tip}
                        disabled={running || slice_refused.is_some()} onchange={on_slice}>
                    { for SLICES.iter().map(|&s| html! {
                        <option value={s.to_string()} selected={s == host.slice}>
                            { if s == 0 { "off".to_string() } else { s.to_string() } }
                        </option>
                    }) }
                </select>
            </label>
            <label title={ple_tip} data-testid="ple-label">
                <input type="checkbox" data-testid="ple" checked={host.ple_window > 0}
                       disabled={running || (ple_refused.is_some() && host.ple_window == 0)} onchange={on_ple}/>
                {" PLE"}
            </label>
            <label title={co_tip} data-testid="cosched-label">
                <input type="checkbox" data-testid="cosched" checked={host.cosched}
                       disabled={running || (co_refused.is_some() && !host.cosched)} onchange={on_cosched}/>
                {" co-schedule"}
            </label>
        </span>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use emulator_core::ExecMode;

    #[test]
    fn a_refused_control_says_why_in_its_tooltip() {
        let ple = HostSchedule {
            ple_window: DEFAULT_PLE_WINDOW,
            ..HostSchedule::default()
        };
        let why = ple.refusal(ExecMode::TRAP_EMULATE);
        assert!(tip(why, "x").starts_with("cannot apply: pause-loop exiting"));
        assert_eq!(
            tip(ple.refusal(ExecMode::HW_ASSIST), "what it does"),
            "what it does"
        );
    }
}
