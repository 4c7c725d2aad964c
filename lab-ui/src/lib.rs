//! vmlab's browser lab: the Yew app compiled to `wasm32-unknown-unknown`.

pub mod components;
pub mod demos;
pub mod highlight;
pub mod program;
pub mod protocol;
pub mod share;
pub mod state;
pub mod storage;
