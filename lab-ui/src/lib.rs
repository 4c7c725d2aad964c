//! vmlab's browser lab: the Yew app compiled to `wasm32-unknown-unknown`.
//!
//! The same module runs twice: in the page, [`start`] mounts the [`App`]; in the
//! Web Worker the page spawns, it registers the machine worker instead.

pub mod app;
pub mod assemble;
pub mod builtin;
pub mod components;
pub mod demos;
pub mod demos_linux;
pub mod diskview;
pub mod export;
pub mod highlight;
pub mod labs;
pub mod packs;
pub mod program;
pub mod protocol;
pub mod region_text;
pub mod settings;
pub mod share;
pub mod smp;
pub mod state;
pub mod storage;
pub mod worker;
pub mod xlate;

pub use app::App;

use gloo_worker::Registrable;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsCast;

/// Mounts the lab into the page's `#app` element, or, inside the worker, serves the
/// machine; the page first loads the built-in demos and labs ([`builtin`]).
#[wasm_bindgen(start)]
pub fn start() {
    if js_sys::global().dyn_into::<web_sys::Window>().is_err() {
        // The page sends the built-in demos and labs as the first command.
        worker::MachineWorker::registrar().register();
        return;
    }
    settings::apply(settings::load());
    let document = web_sys::window().and_then(|w| w.document());
    let root = document.and_then(|d| d.get_element_by_id("app"));
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = builtin::load().await {
            if let Some(root) = root {
                root.set_text_content(Some(&format!("The lab failed to load: {e}")));
                let _ = root.set_attribute("data-testid", "load-error");
            }
            return;
        }
        match root {
            Some(root) => {
                root.set_inner_html("");
                yew::Renderer::<App>::with_root(root).render();
            }
            None => {
                yew::Renderer::<App>::new().render();
            }
        }
    });
}
