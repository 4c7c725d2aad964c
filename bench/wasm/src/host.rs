//! The bench's embedder of region modules: Node.js (`vmlab_host.region_compile` in
//! `host.mjs`) compiles them, in one of three ways ([`set_compile_mode`]); the calls and
//! slow paths are `vmlab-region-host`'s.

use std::cell::Cell;

use emulator_core::Machine;
use vmlab_region_host::Started;

/// How Node.js compiles region modules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompileMode {
    /// With `new WebAssembly.Module` while the core waits (the differential runs).
    AtOnce = 0,
    /// With `WebAssembly.instantiate` in the background, as the lab's worker does: the
    /// region runs through the IR interpreter until the module is there (the caller
    /// must give the event loop a turn between runs).
    Background = 1,
    /// At once, but put in the table only when the next module is compiled: a
    /// background compile that always ends one module late, deterministically.
    Late = 2,
}

thread_local! {
    static MODE: Cell<CompileMode> = const { Cell::new(CompileMode::AtOnce) };
}

/// Sets how the next region modules are compiled: 0 at once, 1 in the background, 2
/// late ([`CompileMode`]); false for another number.
pub fn set_compile_mode(mode: u32) -> bool {
    let m = match mode {
        0 => CompileMode::AtOnce,
        1 => CompileMode::Background,
        2 => CompileMode::Late,
        _ => return false,
    };
    MODE.with(|c| c.set(m));
    true
}

/// Installs the embedder's host on `m` (in the Wasm build only).
pub fn install(m: &mut Machine) {
    vmlab_region_host::install(m, compile);
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // the embedder's import
fn compile(module: &[u8], slot: Option<u32>, ticket: u32) -> Option<Started> {
    #[link(wasm_import_module = "vmlab_host")]
    unsafe extern "C" {
        /// Compiles the module of `len` bytes at `ptr` in `mode` ([`CompileMode`]) and
        /// puts its `run` in the function table at `slot` (-1: a new place at the end),
        /// now or, with `ticket`, when `region_finished` says so; the index, or -1.
        fn region_compile(ptr: *const u8, len: usize, slot: i32, mode: u32, ticket: u32) -> i32;
    }
    let mode = MODE.with(|c| c.get());
    // SAFETY: the embedder only reads `len` bytes at `ptr` during the call.
    let slot = slot.and_then(|i| i32::try_from(i).ok()).unwrap_or(-1);
    let h = unsafe { region_compile(module.as_ptr(), module.len(), slot, mode as u32, ticket) };
    let h = u32::try_from(h).ok()?;
    Some(match mode {
        CompileMode::AtOnce => Started::Ready(h),
        CompileMode::Background | CompileMode::Late => Started::Pending(h),
    })
}

/// `vmlab_region_host::finished` for Node.js, which says whether the compile succeeded
/// (`ok` 1) and, when this returns 1, puts the module's `run` at `index` at once, before
/// the core runs again.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn region_finished(index: u32, ticket: u32, ok: u32) -> u32 {
    vmlab_region_host::finished(index, ticket, || ok != 0) as u32
}

#[cfg(not(target_arch = "wasm32"))]
fn compile(_module: &[u8], _slot: Option<u32>, _ticket: u32) -> Option<Started> {
    None
}
