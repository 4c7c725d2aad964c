//! The worker's compiler of region modules: `js_sys::WebAssembly` compiles each module
//! the translating tier emits in the background (`WebAssembly.instantiate`, on the
//! browser's compile threads), instantiates it with the worker's own memory, function
//! table and slow-path exports, and puts its `run` in that table when it is ready (as
//! the Node.js bench's `host.mjs` does). The guest does not wait: until then the region
//! runs through the IR interpreter. A module that does not compile leaves its region to
//! the IR interpreter, and the lab says so.

use std::cell::RefCell;

use emulator_core::Machine;
use vmlab_region_host::Started;

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

fn compile(module: &[u8], slot: Option<u32>, ticket: u32) -> Option<Started> {
    match start(module, slot, ticket) {
        Ok(index) => Some(Started::Pending(index)),
        Err(e) => {
            failed(e);
            None
        }
    }
}

/// Counts a module that did not compile or instantiate.
fn failed(e: String) {
    STATS.with(|s| {
        let mut s = s.borrow_mut();
        s.failed += 1;
        s.last_error = Some(e);
    });
}

/// Starts compiling and instantiating `module` for place `slot` (else a new place at
/// the end of the table): the place. When it ends, the region host decides whether its
/// `run` goes there (`ticket` is still the place's latest).
#[cfg(target_arch = "wasm32")]
fn start(module: &[u8], slot: Option<u32>, ticket: u32) -> Result<u32, String> {
    use js_sys::{Function, Object, Reflect, WebAssembly};
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
    // A place the region host gives out again (its old instance is then collected),
    // else a new one.
    let index = match slot {
        Some(i) => i,
        None => table.grow(1).map_err(text)?,
    };
    let promise = WebAssembly::instantiate_buffer(module, &imports);
    wasm_bindgen_futures::spawn_local(async move {
        let run = match wasm_bindgen_futures::JsFuture::from(promise).await {
            Ok(done) => ["instance", "exports", "run"]
                .iter()
                .try_fold(done, |v, k| Reflect::get(&v, &JsValue::from_str(k)))
                .map_err(text)
                .and_then(|f| {
                    f.dyn_into::<Function>()
                        .map_err(|_| "the region module exports no `run`".to_string())
                }),
            Err(e) => Err(text(e)),
        };
        let mut error = run.as_ref().err().cloned();
        let put = vmlab_region_host::finished(index, ticket, || match &run {
            Ok(run) => table
                .set(index, run)
                .map_err(|e| error = Some(text(e)))
                .is_ok(),
            Err(_) => false,
        });
        if put {
            STATS.with(|s| s.borrow_mut().compiled += 1);
        }
        if let Some(e) = error {
            failed(e);
        }
    });
    Ok(index)
}

#[cfg(not(target_arch = "wasm32"))]
fn start(_module: &[u8], _slot: Option<u32>, _ticket: u32) -> Result<u32, String> {
    Err("region modules are compiled in the browser only".into())
}
