//! The translating tier's host in a Wasm build, shared by the lab's worker and the
//! Node.js bench: an embedder compiles each region module with `WebAssembly.Module`,
//! instantiates it with this module's memory, function table and the `xlate_*`
//! slow-path exports below, and puts its `run` in the function table; the core then
//! calls a region through the table, with no trip through the embedder. How a module is
//! compiled is the embedder's (a `compile` function). Natively there is no embedder:
//! nothing is installed and regions run through the IR interpreter. A module emitted
//! again reuses the table entry of its first compile (`cache.rs`); the table's places
//! are bounded and reused a generation at a time (`slots.rs`).

pub mod cache;
pub mod slots;

use emulator_core::Machine;

/// Compiles a region module and puts its `run` in the function table: at the place
/// given (one whose module is no longer called), else at a new place at the end; the
/// index, or `None`.
pub type Compile = fn(&[u8], Option<u32>) -> Option<u32>;

/// Installs a host that compiles region modules with `compile` on `m` (in a Wasm build
/// only; natively `m` keeps running regions through the IR interpreter).
pub fn install(m: &mut Machine, compile: Compile) {
    #[cfg(target_arch = "wasm32")]
    m.set_region_host(Box::new(wasm32::TableHost::new(compile)));
    #[cfg(not(target_arch = "wasm32"))]
    let _ = (m, compile);
}

/// Sets how many modules this thread's function table holds before its places start
/// over ([`slots::MAX_MODULES`] unless set; a Wasm build only).
pub fn set_module_cap(cap: usize) {
    #[cfg(target_arch = "wasm32")]
    wasm32::SLOTS.with(|s| s.borrow_mut().set_cap(cap));
    #[cfg(not(target_arch = "wasm32"))]
    let _ = cap;
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // calls into the function table and back, through the machine's address
mod wasm32 {
    use std::cell::{Cell, RefCell};

    use emulator_core::translate::RegionHost;
    use emulator_core::Machine;

    use super::cache::ModuleCache;
    use super::slots::Slots;

    thread_local! {
        /// The machine a region is running on, while it runs.
        static CURRENT: Cell<*mut Machine> = const { Cell::new(std::ptr::null_mut()) };
        /// The modules in the function table, shared by every machine of this thread.
        static MODULES: RefCell<ModuleCache> = RefCell::new(ModuleCache::default());
        /// The table's places, shared by every machine of this thread.
        pub(super) static SLOTS: RefCell<Slots> = RefCell::new(Slots::default());
    }

    /// Regions compiled by the embedder, called through the function table.
    #[derive(Debug)]
    pub struct TableHost {
        compile: super::Compile,
        /// The generation of the places this machine's handles are in.
        generation: u64,
    }

    impl TableHost {
        pub fn new(compile: super::Compile) -> TableHost {
            TableHost {
                compile,
                generation: SLOTS.with(|s| s.borrow().generation()),
            }
        }
    }

    impl RegionHost for TableHost {
        fn compile(&mut self, module: &[u8]) -> Option<u32> {
            if let Some(h) = MODULES.with(|c| c.borrow().get(module)) {
                return Some(h);
            }
            // A full generation starts over: this region runs through the IR
            // interpreter once, and the machine drops its regions before the next.
            let Ok(slot) = SLOTS.with(|s| s.borrow_mut().place()) else {
                MODULES.with(|c| c.borrow_mut().clear());
                return None;
            };
            let Some(h) = (self.compile)(module, slot).filter(|&h| h != 0) else {
                if let Some(i) = slot {
                    SLOTS.with(|s| s.borrow_mut().unused(i));
                }
                return None;
            };
            SLOTS.with(|s| s.borrow_mut().taken(h));
            MODULES.with(|c| c.borrow_mut().insert(module, h));
            Some(h)
        }

        fn recycled(&mut self) -> bool {
            let now = SLOTS.with(|s| s.borrow().generation());
            let changed = now != self.generation;
            self.generation = now;
            changed
        }

        fn call(&mut self, handle: u32, m: &mut Machine, room: u32) -> i64 {
            let ctx = m.region_context() as u32;
            let prev = CURRENT.with(|c| c.replace(m as *mut Machine));
            // SAFETY: on wasm32 a function pointer is an index in the function table,
            // and the embedder put a function of type (i32, i32, i32) -> i64 at `handle`.
            let run = unsafe {
                std::mem::transmute::<usize, extern "C" fn(u32, u32, u32) -> i64>(handle as usize)
            };
            // While the region runs, `m` is reached only through CURRENT (the
            // slow-path exports below), on this one thread; the pointer is cleared
            // after the call.
            let v = run(ctx, room, 0);
            CURRENT.with(|c| c.set(prev));
            v
        }
    }

    /// Runs `f` on the machine a region is running on (nothing outside a region).
    fn with_current<R>(f: impl FnOnce(&mut Machine) -> R, none: R) -> R {
        let p = CURRENT.with(|c| c.get());
        if p.is_null() {
            return none;
        }
        // SAFETY: set by `TableHost::call` from a `&mut Machine` that is not used
        // otherwise until the region returns; regions run on one thread.
        f(unsafe { &mut *p })
    }

    /// The `flags` slow path.
    #[unsafe(no_mangle)]
    pub extern "C" fn xlate_flags(op: u32, size: u32, a: u32, b: u32) {
        with_current(|m| m.slow_flags(op, size, a, b), ())
    }

    /// The `cond` slow path.
    #[unsafe(no_mangle)]
    pub extern "C" fn xlate_cond(cc: u32) -> u32 {
        with_current(|m| m.slow_cond(cc), 0)
    }

    /// The `load` slow path.
    #[unsafe(no_mangle)]
    pub extern "C" fn xlate_load(addr: u32, size: u32) -> u64 {
        with_current(|m| m.slow_load(addr, size), 1 << 32)
    }

    /// The `store` slow path.
    #[unsafe(no_mangle)]
    pub extern "C" fn xlate_store(addr: u32, size: u32, value: u32) -> u32 {
        with_current(|m| m.slow_store(addr, size, value), 0)
    }
}
