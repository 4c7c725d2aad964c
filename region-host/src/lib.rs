//! The translating tier's host in a Wasm build, shared by the lab's worker and the
//! Node.js bench: an embedder compiles each region module with `WebAssembly.Module`,
//! instantiates it with this module's memory, function table and the `xlate_*`
//! slow-path exports below, and puts its `run` in the function table; the core then
//! calls a region through the table, with no trip through the embedder. How a module is
//! compiled is the embedder's (a `compile` function). Natively there is no embedder:
//! nothing is installed and regions run through the IR interpreter. A module emitted
//! again reuses the table entry of its first compile (`cache.rs`), and a region whose
//! code page has the same bytes as one translated before is recalled whole (`memo.rs`);
//! the table's places are bounded and reused a generation at a time (`slots.rs`).
//!
//! An embedder may compile in the background (`WebAssembly.compile`, on the engine's
//! own threads): it hands the place out at once and calls [`finished`] when the module
//! is compiled, and until then the region runs through the IR interpreter
//! (`pending.rs`). The guest waits for no compile: tiering hides it.

pub mod cache;
pub mod memo;
pub mod pending;
pub mod slots;

use emulator_core::Machine;

/// Where an embedder's compile of a region module stands when it returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Started {
    /// Its `run` is in the function table at this index.
    Ready(u32),
    /// It is compiling in the background and will be put at this index; the embedder
    /// calls [`finished`] with the compile's ticket when it ends (never before
    /// `compile` returns).
    Pending(u32),
}

/// Compiles a region module (`ticket` names this compile to [`finished`]) and puts its
/// `run` in the function table: at the place given (one whose module is no longer
/// called), else at a new place at the end; where it stands, or `None` when it cannot.
pub type Compile = fn(&[u8], Option<u32>, u32) -> Option<Started>;

/// The embedder's background compile `ticket` for place `index` ended. When the place
/// still waits for that compile, `install` puts the module's `run` there (false when it
/// failed to compile, instantiate or go in the table), and regions there run compiled
/// from their next entry; otherwise `install` is not called (the place was given to
/// another module since). Whether the module is now in the table.
pub fn finished(index: u32, ticket: u32, install: impl FnOnce() -> bool) -> bool {
    #[cfg(target_arch = "wasm32")]
    {
        if !wasm32::PENDING.with(|p| p.borrow().is_latest(index, ticket)) {
            return false;
        }
        let ok = install();
        wasm32::PENDING.with(|p| p.borrow_mut().finished(index, ticket, ok))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = (index, ticket, install);
        false
    }
}

/// Installs a host that compiles region modules with `compile` on `m` (in a Wasm build
/// only; natively `m` keeps running regions through the IR interpreter).
///
/// The first install on a thread also warms the translator up (see [`warm_up`]), so
/// that the engine's first compile of the translator's own code happens while a
/// machine loads, not while its guest waits for its first region.
pub fn install(m: &mut Machine, compile: Compile) {
    #[cfg(target_arch = "wasm32")]
    {
        if !wasm32::WARM.with(|w| w.replace(true)) {
            warm_up(compile);
        }
        m.set_region_host(Box::new(wasm32::TableHost::new(compile)));
    }
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

/// A counted loop of an addition, a store and DEC/JNZ, in flat 32-bit code at 0x1000
/// (`mov ecx, 100` / `l: add eax, ecx` / `mov [0x2000], eax` / `dec ecx` / `jnz l` /
/// `hlt`).
const WARM_UP_CODE: [u8; 16] = [
    0xb9, 0x64, 0x00, 0x00, 0x00, 0x01, 0xc8, 0xa3, 0x00, 0x20, 0x00, 0x00, 0x49, 0x75, 0xf6, 0xf4,
];

/// Translates [`WARM_UP_CODE`]'s loop and has `compile` compile its module: the
/// translator's discovery, lowering, passes and Wasm encoding run once, and the embedder's
/// compile and instantiation, without a machine running (the interpreter's first use is
/// left to the guest, whatever its tier). The module's size in bytes, 0 when none was
/// made.
pub fn warm_up(compile: Compile) -> usize {
    let mut page = [0u8; 4096];
    page[..WARM_UP_CODE.len()].copy_from_slice(&WARM_UP_CODE);
    let Some((_, region)) = emulator_core::translate::translate_page(&page, 0x1005) else {
        return 0;
    };
    let module = emulator_core::translate::wasm::encode(&region);
    #[cfg(target_arch = "wasm32")]
    {
        use emulator_core::translate::RegionHost;
        let _ = wasm32::TableHost::new(compile).compile(&module);
    }
    #[cfg(not(target_arch = "wasm32"))]
    let _ = compile;
    module.len()
}

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code)] // calls into the function table and back, through the machine's address
mod wasm32 {
    use std::cell::{Cell, RefCell};

    use emulator_core::translate::{Recalled, RegionHost};
    use emulator_core::Machine;

    use super::cache::ModuleCache;
    use super::memo::Memo;
    use super::pending::Pending;
    use super::slots::Slots;
    use super::Started;

    thread_local! {
        /// The machine a region is running on, while it runs.
        static CURRENT: Cell<*mut Machine> = const { Cell::new(std::ptr::null_mut()) };
        /// The modules in the function table, shared by every machine of this thread.
        static MODULES: RefCell<ModuleCache> = RefCell::new(ModuleCache::default());
        /// The table's places, shared by every machine of this thread.
        pub(super) static SLOTS: RefCell<Slots> = RefCell::new(Slots::default());
        /// What was made of each region, by code page bytes, shared by every machine
        /// of this thread.
        static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
        /// Places whose module is compiling in the background, or failed to.
        pub(super) static PENDING: RefCell<Pending> = RefCell::new(Pending::default());
        /// The translator has been warmed up on this thread.
        pub(super) static WARM: Cell<bool> = const { Cell::new(false) };
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
            let ticket = PENDING.with(|p| p.borrow_mut().ticket());
            let started = (self.compile)(module, slot, ticket);
            let h = match started {
                Some(Started::Ready(h)) if h != 0 => {
                    PENDING.with(|p| p.borrow_mut().ready_now(h));
                    h
                }
                Some(Started::Pending(h)) if h != 0 => {
                    PENDING.with(|p| p.borrow_mut().wait(h, ticket));
                    h
                }
                _ => {
                    if let Some(i) = slot {
                        SLOTS.with(|s| s.borrow_mut().unused(i));
                    }
                    return None;
                }
            };
            SLOTS.with(|s| s.borrow_mut().taken(h));
            MODULES.with(|c| c.borrow_mut().insert(module, h));
            Some(h)
        }

        fn recall(&mut self, page: &[u8], entry: u32) -> Option<Recalled> {
            let generation = SLOTS.with(|s| s.borrow().generation());
            MEMO.with(|m| m.borrow_mut().recall(generation, page, entry))
        }

        fn remember(&mut self, page: &[u8], entry: u32, made: Recalled) {
            let generation = SLOTS.with(|s| s.borrow().generation());
            MEMO.with(|m| m.borrow_mut().remember(generation, page, entry, made))
        }

        fn ready(&mut self, handle: u32) -> bool {
            PENDING.with(|p| p.borrow().ready(handle))
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

#[cfg(test)]
mod tests {
    /// The warm-up code is the loop it says: one region of four instructions (its back
    /// edge goes to its own entry), with a store, that encodes to a module.
    #[test]
    fn the_warm_up_code_is_one_loop_region() {
        let mut page = [0u8; 4096];
        page[..super::WARM_UP_CODE.len()].copy_from_slice(&super::WARM_UP_CODE);
        let (_, region) = emulator_core::translate::translate_page(&page, 0x1005).unwrap();
        assert_eq!(region.instructions(), 4, "{region}");
        assert!(region.exit_targets().contains(&0x1005), "{region}");
        assert!(region.to_string().contains("store"), "{region}");
        assert!(super::warm_up(|_, _, _| None) > 100);
    }
}
