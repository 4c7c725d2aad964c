//! The toolbar's VMM settings: write protection of the guest's page tables in the
//! shadow, and hardware assistance's interrupt-window exiting.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::use_ctx;
use crate::protocol::Command;

/// Whether a checkbox's change event left it checked.
pub(super) fn checked(e: &Event) -> bool {
    e.target_dyn_into::<HtmlInputElement>()
        .is_some_and(|i| i.checked())
}

/// The VMM's switches the running mode has (none on the bare machine).
#[function_component(VmmSettings)]
pub fn vmm_settings() -> Html {
    let ctx = use_ctx();
    let Some(set) = ctx.state.view.as_ref().and_then(|v| v.vmm_settings) else {
        return html! {};
    };
    let running = ctx.state.running();
    let pt = set.pt_protect.map(|on| {
        let send = ctx.send.clone();
        let onchange = Callback::from(move |e: Event| send.emit(Command::SetPtProtect(checked(&e))));
        html! {
            <label title="write-protect the guest's page tables in the shadow: a guest write to one exits (pt-write) and the VMM updates the shadow at once, with no INVLPG needed">
                <input type="checkbox" data-testid="pt-protect" checked={on} disabled={running} {onchange}/>
                {" protect page tables"}
            </label>
        }
    });
    let window = set.controls.map(|c| {
        let send = ctx.send.clone();
        let onchange = Callback::from(move |e: Event| {
            send.emit(Command::SetExitControls(emulator_core::vmm::ExitControls {
                interrupt_window: checked(&e),
                ..c
            }))
        });
        html! {
            <label title="interrupt-window exiting: an interrupt that arrives while the guest's IF is clear exits (interrupt-window) as soon as the guest can take it, and the VMM injects it; off, it waits in the PIC and is taken natively">
                <input type="checkbox" data-testid="interrupt-window" checked={c.interrupt_window} disabled={running} {onchange}/>
                {" interrupt-window exits"}
            </label>
        }
    });
    html! {
        <span class="vmm-settings" data-testid="vmm-settings" role="group" aria-label="VMM settings">
            { for pt }
            { for window }
        </span>
    }
}
