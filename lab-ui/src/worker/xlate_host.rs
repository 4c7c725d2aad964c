//! The worker's compiler of region modules: `js_sys::WebAssembly` compiles each module
//! the translating tier emits and instantiates it with the worker's own memory, function
//! table and slow-path exports, and puts its `run` in that table (as the Node.js bench's
//! `host.mjs` does). A module that does not compile leaves its region to the IR
//! interpreter, and the lab says so.

use std::cell::RefCell;

use emulator_core::Machine;

/// What the compiler did since the worker started.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    /// Modules compiled and in the function table.
    pub compiled: u64,
    /// Modules that did not compile or instantiate.
    pub failed: u64,
    /// Why the last one failed.
    pub last_error: Option<String>,
}

thread_local! {
    static STATS: RefCell<HostStats> = RefCell::new(HostStats::default());
}

/// What the compiler did since the worker started.
pub fn stats() -> HostStats {
    STATS.with(|s| s.borrow().clone())
}

/// Whether region modules can be compiled here (in the browser's Wasm build).
pub const AVAILABLE: bool = cfg!(target_arch = "wasm32");

/// Installs the compiler on `m` (in the browser; natively regions run through the IR
/// interpreter).
pub fn install(m: &mut Machine) {
    vmlab_region_host::install(m, compile);
}

fn compile(module: &[u8], slot: Option<u32>) -> Option<u32> {
    let r = instantiate(module, slot);
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        match &r {
            Ok(_) => s.compiled += 1,
            Err(e) => {
                s.failed += 1;
                s.last_error = Some(e.clone());
            }
        }
    });
    r.ok()
}

#[cfg(target_arch = "wasm32")]
fn instantiate(module: &[u8], slot: Option<u32>) -> Result<u32, String> {
    use js_sys::{Function, Object, Reflect, Uint8Array, WebAssembly};
    use wasm_bindgen::{JsCast, JsValue};

    let text = |e: JsValue| {
        e.dyn_ref::<js_sys::Error>()
            .map(|e| String::from(e.message()))
            .unwrap_or_else(|| format!("{e:?}"))
    };
    let set = |o: &Object, k: &str, v: &JsValue| {
        Reflect::set(o, &JsValue::from_str(k), v)
            .map(|_| ())
            .map_err(text)
    };
    let bytes = Uint8Array::from(module);
    let compiled = WebAssembly::Module::new(&bytes).map_err(text)?;
    let table: WebAssembly::Table = wasm_bindgen::function_table().unchecked_into();
    let env = Object::new();
    set(&env, "memory", &wasm_bindgen::memory())?;
    set(&env, "table", &table)?;
    let exports = wasm_bindgen::exports();
    let vmlab = Object::new();
    for (name, export) in [
        ("flags", "xlate_flags"),
        ("cond", "xlate_cond"),
        ("load", "xlate_load"),
        ("store", "xlate_store"),
    ] {
        let f = Reflect::get(&exports, &JsValue::from_str(export)).map_err(text)?;
        if !f.is_function() {
            return Err(format!("the lab's module does not export {export}"));
        }
        set(&vmlab, name, &f)?;
    }
    let imports = Object::new();
    set(&imports, "env", &env)?;
    set(&imports, "vmlab", &vmlab)?;
    let instance = WebAssembly::Instance::new(&compiled, &imports).map_err(text)?;
    let run: Function = Reflect::get(&instance.exports(), &JsValue::from_str("run"))
        .map_err(text)?
        .dyn_into()
        .map_err(|_| "the region module exports no `run`".to_string())?;
    // A place the region host gives out again (its old instance is then collected),
    // else a new one.
    let index = match slot {
        Some(i) => i,
        None => table.grow(1).map_err(text)?,
    };
    table.set(index, &run).map_err(text)?;
    Ok(index)
}

#[cfg(not(target_arch = "wasm32"))]
fn instantiate(_module: &[u8], _slot: Option<u32>) -> Result<u32, String> {
    Err("region modules are compiled in the browser only".into())
}
