//! The bench's embedder of region modules: Node.js (`vmlab_host.region_compile` in
//! `host.mjs`) compiles them with `WebAssembly.Module`; the calls and slow paths are
//! `vmlab-region-host`'s.

use emulator_core::Machine;

/// Installs the embedder's host on `m` (in the Wasm build only).
pub fn install(m: &mut Machine) {
    vmlab_region_host::install(m, compile);
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // the embedder's import
fn compile(module: &[u8], slot: Option<u32>) -> Option<u32> {
    #[link(wasm_import_module = "vmlab_host")]
    unsafe extern "C" {
        /// Compiles the module of `len` bytes at `ptr` and puts its `run` in the
        /// function table at `slot` (-1: a new place at the end); the index, or -1.
        fn region_compile(ptr: *const u8, len: usize, slot: i32) -> i32;
    }
    // SAFETY: the embedder only reads `len` bytes at `ptr` during the call.
    let slot = slot.and_then(|i| i32::try_from(i).ok()).unwrap_or(-1);
    let h = unsafe { region_compile(module.as_ptr(), module.len(), slot) };
    u32::try_from(h).ok()
}

#[cfg(not(target_arch = "wasm32"))]
fn compile(_module: &[u8], _slot: Option<u32>) -> Option<u32> {
    None
}
