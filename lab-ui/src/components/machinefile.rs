//! Save the machine to a file and load one back (the core's snapshot with its program).

use yew::prelude::*;

use super::use_ctx;
use crate::protocol::Command;
use crate::state::Action;
use crate::storage;
use crate::worker::snapfile::FILE_NAME;

/// Offers a saved machine as a download.
pub fn offer(bytes: &[u8]) -> Result<(), String> {
    storage::download_as(FILE_NAME, "application/octet-stream", bytes)
}

/// The toolbar's "Save machine" button and "Load machine…" file picker.
#[function_component(MachineFile)]
pub fn machine_file() -> Html {
    let ctx = use_ctx();
    let loaded = ctx.state.view.is_some();
    let running = ctx.state.running();
    let on_load = super::file_picker(&ctx, |ctx, name, bytes| {
        ctx.dispatch(Action::Status(format!("loading {name}…")));
        ctx.send.emit(Command::LoadMachine(bytes));
    });
    html! {
        <>
            <button data-testid="btn-save-machine" title="save the whole machine to a file"
                    onclick={ctx.send_on(Command::SaveMachine)} disabled={!loaded || running}>{"Save machine"}</button>
            <label class="filebtn" title="load a machine saved with Save machine">{"Load machine…"}
                <input type="file" accept=".vmlab-snapshot" data-testid="machine-file"
                       aria-label="load a saved machine" onchange={on_load}/>
            </label>
        </>
    }
}
