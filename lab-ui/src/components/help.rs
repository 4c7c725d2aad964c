//! The keyboard help overlay.

use yew::prelude::*;

use super::use_ctx;
use crate::state::Action;

/// The keyboard shortcuts: key, what it does.
pub const SHORTCUTS: &[(&str, &str)] = &[
    ("F11", "step into: one instruction"),
    (
        "F10",
        "step over: a CALL, INT or REP runs to the next instruction",
    ),
    (
        "Shift+F11",
        "step back one instruction (checkpoint + replay)",
    ),
    ("F5", "run / pause"),
    ("F8", "run to the next trap or VM exit"),
    ("F7", "run to the selected disassembly line"),
    ("F9", "toggle a breakpoint on the selected line"),
    ("Ctrl+Enter", "assemble & load the editor's program"),
    ("PageDown / PageUp", "next / previous demo step"),
    ("F1 or ?", "this help; Esc closes it"),
];

/// The help overlay (shown when the state says so).
#[function_component(Help)]
pub fn help() -> Html {
    let ctx = use_ctx();
    if !ctx.state.help {
        return Html::default();
    }
    let close = {
        let ctx = ctx.clone();
        Callback::from(move |_: MouseEvent| ctx.dispatch(Action::SetHelp(false)))
    };
    html! {
        <div class="overlay" data-testid="help-overlay" role="dialog" aria-modal="true" aria-label="keyboard shortcuts">
            <div class="overlay-box">
                <h2>{"Keyboard shortcuts"}</h2>
                <table>
                    { for SHORTCUTS.iter().map(|(k, d)| html! { <tr><th scope="row"><kbd>{ *k }</kbd></th><td>{ *d }</td></tr> }) }
                </table>
                <h3>{"The panels"}</h3>
                <p>{"Registers: yellow values changed in the last step. Disassembly: ▶ is the next instruction; click the left column for a breakpoint. Page tables: the guest's tree from CR3 and, under a VMM, the shadow or nested tree. Traps: every exception, interrupt, I/O access and VM exit; click one to see its instruction. Counters: the cost of virtualization."}</p>
                <button data-testid="help-close" onclick={close} aria-label="close help">{"Close"}</button>
            </div>
        </div>
    }
}
