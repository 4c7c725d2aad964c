//! The translating tier: hot flat 32-bit code becomes regions of IR (`ir.rs`), found by
//! `lower.rs`, optimised by `opt.rs`, and run by a backend; `run.rs` is the reference
//! backend, an interpreter of the IR.
//!
//! Tiering: with translation on, each time the run loop reaches an instruction where a
//! region could start (flat 32-bit code, as for the fast tier), the EIP's counter goes
//! up; when it passes the threshold the region there is discovered, lowered and
//! optimised, and from then on entered there. A region is entered only when the budget
//! and the next device deadline leave room for all its instructions, so time and
//! interrupts stay exact; it leaves at a branch, before the first instruction it does
//! not translate, or before a memory access off the fast path (a TLB miss whose walk
//! writes nothing is walked in place, `mem.rs`), and the interpreter goes on from there.
//!
//! Regions are cached by linear entry and physical page (a paging change that maps
//! other code there looks up another key) and remember their page's code generation:
//! a write to the page (self-modifying code included) drops them at their next entry.
//! Restoring a snapshot or loading an image clears the cache with the fast tier's.

pub mod alu_family;
pub mod chain;
pub mod context;
pub mod events;
pub mod ifconv;
pub mod ir;
pub(crate) mod lower;
mod mem;
pub mod opt;
pub mod run;
pub mod wasm;

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use iced_x86::{Decoder, DecoderOptions, Instruction};

use crate::cpu::decode::Decoded;
use crate::machine::Machine;
use ir::Region;

/// Executions of an entry point before its region is translated, unless configured.
///
/// Translating a region costs the main thread about as much as interpreting a few
/// hundred instructions (discovery, lowering, the passes and encoding; the engine
/// compiles the module in the background), and a pass through a small region saves a few
/// instructions' interpretation: code run fewer times than this does not repay its
/// translation, and a short guest shows its output before anything is translated.
pub const DEFAULT_THRESHOLD: u32 = 64;
/// Entry-point counters kept before they are all forgotten (bounds the memory).
const HEAT_ENTRIES: usize = 4096;

/// Counts of the translating tier's work since the machine was built.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TranslateStats {
    /// Regions translated.
    pub translated: u64,
    /// Region runs.
    pub runs: u64,
    /// Guest instructions retired inside regions.
    pub instructions: u64,
    /// Regions dropped because their page was written.
    pub invalidated: u64,
}

/// One cached region, for listing.
#[derive(Clone, Debug)]
pub struct RegionInfo {
    /// Linear entry address.
    pub entry: u32,
    /// Physical address of the entry.
    pub phys: u32,
    /// Guest instructions (the most one pass through it retires).
    pub instructions: u32,
    /// Times it was entered.
    pub runs: u64,
    /// The guest code, one `address: instruction` line each.
    pub x86: String,
    /// The IR as lowered, before the passes.
    pub before: Region,
    /// The IR the backend runs.
    pub after: Region,
    /// Entries of the other cached regions its exits go to (chained when compiled).
    pub successors: Vec<u32>,
}

#[derive(Clone, Debug)]
struct Entry {
    generation: u32,
    /// The host's handle of the region's compiled module.
    handle: Option<u32>,
    /// The module behind `handle` can be called (a host that compiles in the
    /// background hands the handle out first).
    ready: bool,
    /// The region's guest instructions.
    insns: u32,
    /// `None`: the first instruction is not translated (do not try again).
    region: Option<Arc<Region>>,
    before: Option<Arc<Region>>,
    runs: u64,
}

/// A host that compiles region modules (the Wasm backend's output) and runs them: the
/// browser lab's worker and the Node.js bench, with `WebAssembly.Module`. Without one,
/// regions run through the IR interpreter.
pub trait RegionHost {
    /// Compiles and instantiates a region module; its handle, or `None` when the host
    /// cannot (the region then runs through the IR interpreter).
    fn compile(&mut self, module: &[u8]) -> Option<u32>;
    /// Runs the region with `handle` on `m` (its `run` export with the address of the
    /// region context, [`Machine::region_context`], `room`, the instructions it may
    /// retire, and 0, the instructions retired before it) and returns what `run`
    /// returned.
    fn call(&mut self, handle: u32, m: &mut Machine, room: u32) -> i64;
    /// Whether the module behind `handle` can be called yet. A host that compiles in
    /// the background hands a handle out at once and says it is ready when the engine
    /// has compiled the module; until then, and for good when that compile failed, the
    /// region runs through the IR interpreter, which leaves the same state.
    fn ready(&mut self, handle: u32) -> bool {
        let _ = handle;
        true
    }
    /// Whether the host has since put other modules where the handles it gave out
    /// before were (it bounds its function table): the machine then drops every region
    /// before it runs one. True once per reuse.
    fn recycled(&mut self) -> bool {
        false
    }
    /// What the host made before of the region entered at `entry` in a code page with
    /// the bytes `page`, when it kept that (discovery and lowering depend on nothing
    /// else, so a reset or another machine with the same code reuses them).
    fn recall(&mut self, page: &[u8], entry: u32) -> Option<Recalled> {
        let _ = (page, entry);
        None
    }
    /// Keeps what was made of the region entered at `entry` in a page with bytes `page`.
    fn remember(&mut self, page: &[u8], entry: u32, made: Recalled) {
        let _ = (page, entry, made);
    }
}

/// What was made of one region: its IR before and after the passes (`None`: nothing
/// at that entry is translated) and its compiled module's handle.
#[derive(Clone, Debug)]
pub struct Recalled {
    /// The IR as lowered and after the passes.
    pub made: Option<(Arc<Region>, Arc<Region>)>,
    /// The host's handle of the compiled module.
    pub handle: Option<u32>,
}

/// The installed host, if any (not cloned with the machine state).
#[derive(Default)]
pub(crate) struct HostSlot(Option<alloc::boxed::Box<dyn RegionHost>>);

impl Clone for HostSlot {
    fn clone(&self) -> Self {
        HostSlot(None)
    }
}

impl core::fmt::Debug for HostSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.0.is_some() {
            "HostSlot(host)"
        } else {
            "HostSlot(none)"
        })
    }
}

/// The translation cache and its switch.
#[derive(Clone, Debug, Default)]
pub(crate) struct Translator {
    /// Executions before an entry is translated; `None`: translation off.
    pub threshold: Option<u32>,
    host: HostSlot,
    heat: BTreeMap<u32, u32>,
    cache: BTreeMap<(u32, u32), Entry>,
    pub stats: TranslateStats,
    /// Compiled regions by entry, where regions and the run loop find them.
    pub chain: chain::ChainTable,
    /// What a compiled region reads at entry (kept at a stable address).
    pub context: alloc::boxed::Box<context::RegionContext>,
    /// Translate, chain, invalidate and flush events.
    events: events::EventRing,
    /// The instruction count when the tier last looked (the time of a flush).
    now: u64,
}

impl Translator {
    /// Forgets every region and counter (not the statistics); a flush event when the
    /// cache held regions.
    pub fn clear(&mut self) {
        let regions = self.cache.values().filter(|e| e.region.is_some()).count();
        if regions > 0 {
            self.events.push(
                self.now,
                events::XlateEventKind::Flush {
                    regions: regions as u32,
                },
            );
        }
        self.heat.clear();
        self.cache.clear();
        self.chain.clear();
    }

    /// Chain events for the region just cached at `entry`: exits of cached regions that
    /// go to it, and its exits that go to cached regions.
    fn chain_events(&mut self, entry: u32, region: &Region) {
        let mut links = Vec::new();
        for (&(from, _), e) in &self.cache {
            if let Some(r) = &e.region {
                if from != entry && r.exit_targets().contains(&entry) {
                    links.push((from, entry));
                }
            }
        }
        for to in region.exit_targets() {
            let cached = self
                .cache
                .iter()
                .any(|(&(e, _), v)| e == to && v.region.is_some());
            if cached {
                links.push((entry, to));
            }
        }
        for (from, to) in links {
            self.events
                .push(self.now, events::XlateEventKind::Chain { from, to });
        }
    }
}

/// Decodes the 32-bit instruction at page offset `off` of `page` (linear `eip`), when it
/// is valid and whole on the page.
fn decode_on_page(page: &[u8], eip: u32) -> Option<Decoded> {
    let off = (eip & 0xfff) as usize;
    let bytes = page.get(off..)?;
    let mut decoder = Decoder::try_with_ip(32, bytes, eip as u64, DecoderOptions::NONE).ok()?;
    let mut ins = Instruction::default();
    decoder.decode_out(&mut ins);
    if ins.is_invalid() || ins.len() > bytes.len() {
        return None;
    }
    Some(Decoded::new(ins, 32))
}

/// Discovers, lowers and optimises the region entered at `entry` in the 4 KiB code page
/// `page` (the bytes of the page that holds `entry`): the IR before and after the passes.
pub fn translate_page(page: &[u8], entry: u32) -> Option<(Region, Region)> {
    let before = lower::lower_region(
        |eip| decode_on_page(page, eip),
        entry,
        &alu_family::REFERENCE,
    )?;
    let mut after = before.clone();
    opt::optimize(&mut after);
    Some((before, after))
}

/// The instructions of a region as `address: instruction` lines (Intel syntax).
pub fn disassemble(page: &[u8], r: &Region) -> String {
    use iced_x86::{Formatter, IntelFormatter};
    let mut f = IntelFormatter::new();
    let mut s = String::new();
    for op in &r.ops {
        if let ir::Op::Insn { eip, .. } = *op {
            if let Some(d) = decode_on_page(page, eip) {
                let mut text = String::new();
                f.format(&d.ins, &mut text);
                s.push_str(&alloc::format!("{eip:08x}: {text}\n"));
            }
        }
    }
    s
}

impl Machine {
    /// Turns the translating tier on (entry points translated after `threshold`
    /// executions) or off (`None`, the default). Both give the same machine state.
    pub fn set_translate(&mut self, threshold: Option<u32>) {
        self.cpu.fast.xlate.threshold = threshold;
        self.cpu.fast.xlate.clear();
    }

    /// Installs the host that compiles and runs region modules (regions translated
    /// from now on are compiled; the cache starts over).
    pub fn set_region_host(&mut self, host: alloc::boxed::Box<dyn RegionHost>) {
        self.cpu.fast.xlate.host = HostSlot(Some(host));
        self.cpu.fast.xlate.clear();
    }

    /// The translating tier's counts.
    pub fn translate_stats(&self) -> TranslateStats {
        self.cpu.fast.xlate.stats
    }

    /// The executions before an entry is translated; `None` when translation is off.
    pub fn translate_threshold(&self) -> Option<u32> {
        self.cpu.fast.xlate.threshold
    }

    /// The translation cache's events kept with a sequence number of at least `from`.
    pub fn translate_events(&self, from: u64) -> Vec<events::XlateEvent> {
        self.cpu.fast.xlate.events.since(from).copied().collect()
    }

    /// The regions in the translation cache, by entry address.
    pub fn translated_regions(&self) -> Vec<RegionInfo> {
        let mut page = alloc::vec![0u8; 4096];
        let mut out = Vec::new();
        let cached: Vec<u32> = self
            .cpu
            .fast
            .xlate
            .cache
            .iter()
            .filter(|(_, e)| e.region.is_some())
            .map(|(&(entry, _), _)| entry)
            .collect();
        for (&(entry, phys), e) in &self.cpu.fast.xlate.cache {
            if let (Some(r), Some(b)) = (&e.region, &e.before) {
                self.mem.peek(phys & !0xfff, &mut page);
                let chained = if entry == phys {
                    self.cpu.fast.xlate.chain.runs(entry) as u64
                } else {
                    0
                };
                out.push(RegionInfo {
                    entry,
                    phys,
                    instructions: b.instructions(),
                    runs: e.runs + chained,
                    x86: disassemble(&page, b),
                    before: (**b).clone(),
                    after: (**r).clone(),
                    successors: r
                        .exit_targets()
                        .into_iter()
                        .filter(|t| *t != entry && cached.contains(t))
                        .collect(),
                });
            }
        }
        out
    }

    /// Runs a translated region at EIP when translation is on, one is (or becomes)
    /// ready there, and the budget and deadline leave room for it. The caller has taken
    /// the budget unit of the instruction at EIP; false when nothing ran.
    pub(crate) fn translate_run(&mut self, left: &mut u64) -> bool {
        let Some(threshold) = self.cpu.fast.xlate.threshold else {
            return false;
        };
        if !self.flat_eligible() {
            return false;
        }
        // Regions chain: after one leaves, the next runs at once while no
        // between-instructions check is due (a region changes neither the segments nor
        // the mode, so the tier stays eligible).
        *left += 1;
        let mut ran = false;
        loop {
            let done = self.region_step(*left, threshold);
            if done == 0 {
                break;
            }
            ran = true;
            *left -= done;
            if *left == 0 || self.cpu.tsc >= self.cpu.attention {
                break;
            }
        }
        if !ran {
            *left -= 1;
        }
        ran
    }

    /// Runs the region at EIP when one is (or becomes) ready there and `left` and the
    /// next device deadline leave room for it; the instructions it retired.
    fn region_step(&mut self, left: u64, threshold: u32) -> u64 {
        let x = &mut self.cpu.fast.xlate;
        if x.host.0.as_mut().is_some_and(|h| h.recycled()) {
            x.clear();
        }
        let eip = self.cpu.eip;
        if self.cpu.cr0 & crate::state::cr0::PG == 0 {
            let generation = self.mem.generation(eip);
            if let Some(s) = self.cpu.fast.xlate.chain.get(eip, generation) {
                let (handle, insns) = (s.handle, s.insns);
                return self.run_compiled(eip, handle, insns, left);
            }
        }
        let Some(page) = self.fast_code_page(eip) else {
            return 0;
        };
        let phys = page | (eip & 0xfff);
        let Some((region, handle, insns)) = self.region_at(eip, phys, threshold) else {
            return 0;
        };
        let due = self.cpu.attention.saturating_sub(self.cpu.tsc).max(1);
        let room = left.min(due);
        if insns as u64 > room {
            return 0;
        }
        let out = match (handle, self.cpu.fast.xlate.host.0.take()) {
            (Some(h), Some(mut host)) => {
                let v = host.call(h, self, room.min(u32::MAX as u64) as u32);
                self.cpu.fast.xlate.host.0 = Some(host);
                wasm::unpack(v)
            }
            (_, host) => {
                self.cpu.fast.xlate.host.0 = host;
                self.run_ir(&region, room.min(u32::MAX as u64) as u32)
            }
        };
        let done = out.retired as u64;
        self.cpu.eip = out.eip;
        let x = &mut self.cpu.fast.xlate;
        x.stats.runs += 1;
        x.stats.instructions += done;
        if let Some(e) = x.cache.get_mut(&(eip, phys)) {
            e.runs += 1;
        }
        if done > 0 {
            self.cpu.tsc = self.cpu.tsc.wrapping_add(done);
            self.icount += done;
            self.cpu.interrupt_shadow = false;
        }
        done
    }

    /// Runs the compiled region `handle` of `insns` instructions found in the chain
    /// table for `eip`, when `left` and the next device deadline leave room for it; the
    /// instructions retired (by it and the regions it chained to).
    fn run_compiled(&mut self, eip: u32, handle: u32, insns: u32, left: u64) -> u64 {
        let due = self.cpu.attention.saturating_sub(self.cpu.tsc).max(1);
        let room = left.min(due);
        if insns as u64 > room {
            return 0;
        }
        let Some(mut host) = self.cpu.fast.xlate.host.0.take() else {
            return 0;
        };
        let v = host.call(handle, self, room.min(u32::MAX as u64) as u32);
        self.cpu.fast.xlate.host.0 = Some(host);
        let out = wasm::unpack(v);
        let done = out.retired as u64;
        self.cpu.eip = out.eip;
        let x = &mut self.cpu.fast.xlate;
        x.chain.count(eip);
        x.stats.runs += 1;
        x.stats.instructions += done;
        if done > 0 {
            self.cpu.tsc = self.cpu.tsc.wrapping_add(done);
            self.icount += done;
            self.cpu.interrupt_shadow = false;
        }
        done
    }

    /// The region entered at `eip` (physical `phys`), translating it when the entry is
    /// hot; `None` while it is cold or when it cannot be translated.
    fn region_at(
        &mut self,
        eip: u32,
        phys: u32,
        threshold: u32,
    ) -> Option<(Arc<Region>, Option<u32>, u32)> {
        let generation = self.mem.generation(phys);
        let write = self
            .mem
            .last_code_write()
            .filter(|w| w & !0xfff == phys & !0xfff);
        let x = &mut self.cpu.fast.xlate;
        x.now = self.icount;
        if let Some(e) = x.cache.get_mut(&(eip, phys)) {
            if e.generation == generation {
                let became_ready = match (e.handle, e.ready, x.host.0.as_mut()) {
                    (Some(h), false, Some(host)) => {
                        e.ready = host.ready(h);
                        e.ready
                    }
                    _ => false,
                };
                let handle = e.handle.filter(|_| e.ready);
                let found = e.region.clone().map(|r| (r, handle, e.insns));
                if let (true, Some((_, Some(h), insns))) = (became_ready, &found) {
                    self.chain_ready(eip, phys, *h, *insns, generation);
                }
                return found;
            }
            let had = e.region.is_some();
            x.cache.remove(&(eip, phys));
            x.stats.invalidated += 1;
            if had {
                x.events.push(
                    self.icount,
                    events::XlateEventKind::Invalidate { entry: eip, write },
                );
            }
        }
        if x.heat.len() >= HEAT_ENTRIES {
            x.heat.clear();
        }
        let heat = x.heat.entry(eip).or_insert(0);
        *heat += 1;
        if *heat <= threshold {
            return None;
        }
        x.heat.remove(&eip);
        // Marks the page as holding code, so a write to it changes its generation.
        let generation = self.mem.code_generation(phys);
        let mut page = alloc::vec![0u8; 4096];
        self.mem.peek(phys & !0xfff, &mut page);
        let x = &mut self.cpu.fast.xlate;
        // The same code bytes give the same region and module: the host may recall them
        // from an earlier machine.
        let Recalled { made, handle } = match x.host.0.as_mut().and_then(|h| h.recall(&page, eip)) {
            Some(r) => r,
            None => {
                let made = translate_page(&page, eip).map(|(b, a)| (Arc::new(b), Arc::new(a)));
                let handle = match (&made, x.host.0.as_mut()) {
                    (Some((_, r)), Some(host)) => host.compile(&wasm::encode(r)),
                    _ => None,
                };
                let r = Recalled { made, handle };
                if let Some(host) = x.host.0.as_mut() {
                    host.remember(&page, eip, r.clone());
                }
                r
            }
        };
        if made.is_some() {
            x.stats.translated += 1;
        }
        let (before, region) = match made {
            Some((b, a)) => (Some(b), Some(a)),
            None => (None, None),
        };
        let insns = region.as_ref().map_or(0, |r| r.instructions());
        let ready = match (handle, x.host.0.as_mut()) {
            (Some(h), Some(host)) => host.ready(h),
            _ => false,
        };
        if let (Some(h), true) = (handle, ready) {
            self.chain_ready(eip, phys, h, insns, generation);
        }
        let x = &mut self.cpu.fast.xlate;
        if let Some(r) = &region {
            x.events.push(
                self.icount,
                events::XlateEventKind::Translate {
                    entry: eip,
                    instructions: insns,
                },
            );
            x.chain_events(eip, r);
        }
        x.cache.insert(
            (eip, phys),
            Entry {
                generation,
                handle,
                ready,
                insns,
                region: region.clone(),
                before,
                runs: 0,
            },
        );
        region.map(|r| (r, handle.filter(|_| ready), insns))
    }

    /// Puts the compiled region `handle` entered at `eip` (physical `phys`) in the chain
    /// table, where regions and the run loop find it, when paging is off and its page
    /// has a code generation.
    fn chain_ready(&mut self, eip: u32, phys: u32, handle: u32, insns: u32, generation: u32) {
        let flat = self.cpu.cr0 & crate::state::cr0::PG == 0;
        let page = (phys >> 12) as usize;
        if flat && page < self.mem.generation_map().len() {
            self.cpu
                .fast
                .xlate
                .chain
                .insert(eip, handle, insns, generation);
        }
    }
}
