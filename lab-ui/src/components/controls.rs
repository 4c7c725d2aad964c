//! The toolbar: stepping, running, reverse step, reset, mode, TLB tagging, the VMM
//! settings, speed, machine files, share, help, presentation, theme and font size.

use web_sys::HtmlSelectElement;
use yew::prelude::*;

use super::{use_ctx, Op};
use crate::protocol::{Command, Speed, Until, MODE_SWITCH};
use crate::state::Action;
use emulator_core::vmm::TlbTagging;

fn button(id: &str, label: &str, key: &str, onclick: Callback<MouseEvent>, disabled: bool) -> Html {
    let title = if key.is_empty() {
        label.to_string()
    } else {
        format!("{label} ({key})")
    };
    html! {
        <button data-testid={id.to_string()} id={id.to_string()} aria-label={title.clone()} title={title}
                aria-keyshortcuts={key.to_string()} {onclick} {disabled}>{ label.to_string() }</button>
    }
}

/// The value a `<select>` holds now (empty before it is mounted).
fn selected(r: &NodeRef) -> String {
    r.cast::<HtmlSelectElement>()
        .map(|s| s.value())
        .unwrap_or_default()
}

/// The toolbar.
#[function_component(Controls)]
pub fn controls() -> Html {
    let ctx = use_ctx();
    let loaded = ctx.state.view.is_some();
    let running = ctx.state.running();
    let can_back = ctx.state.view.as_ref().is_some_and(|v| v.can_step_back);
    let run_pause = if running {
        ctx.send_on(Command::Pause)
    } else {
        ctx.send_on(Command::Run(Until::Stop))
    };
    let to_cursor = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| match ctx.state.cursor {
            Some(a) => ctx.send.emit(Command::Run(Until::Linear(a))),
            None => ctx.dispatch(Action::Status("select a disassembly line first".into())),
        })
    };
    let mode_ref = use_node_ref();
    let on_mode = {
        let ctx = ctx.clone();
        let r = mode_ref.clone();
        Callback::from(move |_: Event| {
            let v = selected(&r);
            if let Ok(m) = v.parse::<emulator_core::ExecMode>() {
                ctx.op.emit(Op::SetMode(m));
            }
        })
    };
    let tlb_ref = use_node_ref();
    let on_tlb = {
        let ctx = ctx.clone();
        let r = tlb_ref.clone();
        Callback::from(move |_: Event| {
            let v = selected(&r);
            if let Ok(t) = v.parse::<TlbTagging>() {
                ctx.send.emit(Command::SetTlb(t));
            }
        })
    };
    let vmm_tlb = ctx
        .state
        .view
        .as_ref()
        .and_then(|v| v.counters.vmm.as_ref())
        .map(|v| v.tlb.tagging);
    let speed_ref = use_node_ref();
    let on_speed = {
        let ctx = ctx.clone();
        let r = speed_ref.clone();
        Callback::from(move |_: Event| {
            let v = selected(&r);
            if let Some(sp) = Speed::ALL.into_iter().find(|s| s.name() == v) {
                ctx.dispatch(Action::SetSpeed(sp));
                ctx.send.emit(Command::SetSpeed(sp));
            }
        })
    };
    let help = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.dispatch(Action::SetHelp(true)))
    };
    let present = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.dispatch(Action::TogglePresentation))
    };
    let share = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.op.emit(Op::Share))
    };
    html! {
        <nav class="controls" data-testid="controls" aria-label="machine controls">
            { button("btn-step", "Step", "F11", ctx.send_on(Command::Step), !loaded || running) }
            { button("btn-step-over", "Step over", "F10", ctx.send_on(Command::StepOver), !loaded || running) }
            { button("btn-step-back", "Step back", "Shift+F11", ctx.send_on(Command::StepBack), !can_back || running) }
            { button("btn-reverse", "Reverse continue", "", ctx.send_on(Command::ReverseContinue), !can_back || running) }
            { button("btn-run", if running { "Pause" } else { "Run" }, "F5", run_pause, !loaded) }
            { button("btn-run-trap", "Run to trap", "F8", ctx.send_on(Command::Run(Until::Trap)), !loaded || running) }
            { button("btn-run-cursor", "Run to cursor", "F7", to_cursor, !loaded || running) }
            { button("btn-reset", "Reset", "", ctx.send_on(Command::Reset), !loaded) }
            <label>{"mode "}
                <select ref={mode_ref} onchange={on_mode} data-testid="mode-select" aria-label="execution mode">
                    { for MODE_SWITCH.iter().map(|m| html! { <option value={m.name()} selected={*m == ctx.state.mode}>{ m.name() }</option> }) }
                    // a demo step may run in a mode the switch does not offer (hw-assist-shadow)
                    if !MODE_SWITCH.contains(&ctx.state.mode) {
                        <option value={ctx.state.mode.name()} selected=true>{ ctx.state.mode.name() }</option>
                    }
                </select>
            </label>
            <label title="under a VMM: TLB entries tagged with the VM's VPID/ASID survive VM exits; untagged, every exit and entry flushes the TLB">{"TLB "}
                <select ref={tlb_ref} onchange={on_tlb} data-testid="tlb-select" aria-label="TLB across VM exits"
                        disabled={vmm_tlb.is_none() || running}>
                    { for TlbTagging::ALL.iter().map(|t| html! { <option value={t.name()} selected={Some(*t) == vmm_tlb}>{ t.name() }</option> }) }
                </select>
            </label>
            <super::vmm_settings::VmmSettings/>
            <super::smp_settings::SmpSettings/>
            <super::tier_switch::TierSwitch/>
            <label>{"speed "}
                <select ref={speed_ref} onchange={on_speed} data-testid="speed-select" aria-label="run speed">
                    { for Speed::ALL.iter().map(|s| html! { <option value={s.name()} selected={*s == ctx.state.speed}>{ s.name() }</option> }) }
                </select>
            </label>
            <super::machinefile::MachineFile/>
            { button("btn-share", "Share link", "", share, false) }
            { button("btn-presentation", if ctx.state.presentation { "Normal view" } else { "Presentation" }, "", present, false) }
            { button("btn-help", "Keys ?", "F1", help, false) }
            <super::settings::DisplaySettings/>
            <span class="status" data-testid="status" role="status" aria-live="polite">{ ctx.state.status.clone() }</span>
            if let Some(v) = ctx.state.view.as_ref() {
                <span class="small history" data-testid="history"
                      title="step back, reverse continue and who-wrote-this reach back this far (about the last 128 M instructions)">
                    { format!("history from instruction {}", v.history_from) }
                </span>
            }
        </nav>
    }
}
