//! vmlab's browser lab: the Yew app compiled to `wasm32-unknown-unknown`.
//!
//! `cargo xtask build-web` builds this crate, runs wasm-bindgen on it and puts the
//! result next to `www/index.html`, whose module script calls [`start`].

mod app;
pub mod components;
pub mod demos;
pub mod highlight;
pub mod program;
pub mod protocol;
pub mod share;
pub mod state;
pub mod storage;

pub use app::App;

use wasm_bindgen::prelude::wasm_bindgen;

/// Mounts the lab into the page's `#app` element (or `<body>` when there is none).
#[wasm_bindgen(start)]
pub fn start() {
    let document = web_sys::window().and_then(|w| w.document());
    match document.and_then(|d| d.get_element_by_id("app")) {
        Some(root) => {
            // The page shows a loading note until the lab replaces it.
            root.set_inner_html("");
            yew::Renderer::<App>::with_root(root).render()
        }
        None => yew::Renderer::<App>::new().render(),
    };
}
