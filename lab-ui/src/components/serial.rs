//! The serial console (COM1): output, and a line to type into the guest.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use super::{use_ctx, Panel};
use crate::protocol::Command;
use crate::state::Action;

/// The serial console panel.
#[function_component(Serial)]
pub fn serial() -> Html {
    let ctx = use_ctx();
    let input = use_node_ref();
    let submit = {
        let ctx = ctx.clone();
        let input = input.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(i) = input.cast::<HtmlInputElement>() {
                let text = i.value();
                let mut bytes = text.clone().into_bytes();
                bytes.push(b'\r');
                ctx.send.emit(Command::SerialInput(bytes));
                ctx.dispatch(Action::SerialEcho(format!("{text}\n")));
                i.set_value("");
            }
        })
    };
    html! {
        <Panel id="panel-serial" title="Serial console" hint="What the guest writes to COM1 (port 3F8).">
            <pre class="console" data-testid="serial-output" aria-live="polite">{ ctx.state.serial_text() }</pre>
            <form class="row" onsubmit={submit}>
                <input ref={input} data-testid="serial-input" aria-label="type into the serial port" placeholder="type, then Enter"/>
            </form>
        </Panel>
    }
}
