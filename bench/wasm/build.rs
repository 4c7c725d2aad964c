//! Exports the module's function table in the Wasm build, so the embedder can put the
//! translating tier's compiled regions in it and the core calls them directly.

fn main() {
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-cdylib-link-arg=--export-table");
        println!("cargo:rustc-cdylib-link-arg=--growable-table");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
