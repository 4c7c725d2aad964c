//! The machine: CPU, memory, MMU and devices behind the public API (load, run, step,
//! breakpoints, probes, events, counters, snapshots).
//!
//! Time is virtual: the CPU is a nominal 100 MHz part that retires one instruction per
//! cycle, and the time stamp counter (`CpuState::tsc`) is the clock every device sees.
//! HLT with interrupts enabled skips virtual time to the next timer deadline.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use crate::config::MachineConfig;
use crate::counters::Counters;
use crate::cpu::alu::Flags;
use crate::cpu::percpu::Parked;
use crate::cpu::{Cpu, CS};
use crate::devices::apic::LocalApic;
use crate::devices::{PostWrite, VgaText};
use crate::error::{Exception, HostError};
use crate::events::{Event, EventKind, EventRing};
use crate::memory::Memory;
use crate::mmu::{self, PageWalk, PdeView, PteView, TlbEntryView};
use crate::platform::Platform;
use crate::snapshot::{ParkedCpu, Snapshot};
use crate::state::CpuState;
use crate::stop::StopReason;

/// What the run loop does after the between-instructions checks.
enum Between {
    /// Execute the next instruction.
    Execute,
    /// Start the next iteration (an interrupt was delivered or time skipped).
    Continue,
    /// Return from the run.
    Stop(StopReason),
}

/// How a flat binary starts.
///
/// Its name ([`FlatEntry::name`], parsed back by `FromStr`) is shared by the CLI's
/// `--entry`, lab files, the lab page's worker protocol and serde.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FlatEntry {
    /// Real mode at CS:IP = 0:addr, like a boot sector (the stack grows down from addr).
    Real16,
    /// Flat 32-bit ring-0 protected mode at EIP = addr, paging off; the loader builds a
    /// GDT in the last page of RAM and sets ESP just below it.
    Protected32,
}

impl FlatEntry {
    /// Both entries.
    pub const ALL: [FlatEntry; 2] = [FlatEntry::Real16, FlatEntry::Protected32];

    /// The entry's name: `real` or `pm32`.
    pub const fn name(self) -> &'static str {
        match self {
            FlatEntry::Real16 => "real",
            FlatEntry::Protected32 => "pm32",
        }
    }

    /// The spelling older lab files use (`real16`, `flat32`), also accepted by `FromStr`.
    const fn lab_file_name(self) -> &'static str {
        match self {
            FlatEntry::Real16 => "real16",
            FlatEntry::Protected32 => "flat32",
        }
    }
}

crate::named::by_name!(FlatEntry, "entry", alias = FlatEntry::lab_file_name);

/// An IA-32 PC-style machine.
#[derive(Debug)]
pub struct Machine {
    pub(crate) cfg: MachineConfig,
    /// The CPU that runs: its state, TLB, decode cache and fast-tier pages.
    pub(crate) cpu: Cpu,
    /// The other CPUs (none unless [`Machine::add_cpu`] added some).
    pub(crate) parked: Parked<Cpu>,
    pub(crate) mem: Memory,
    pub(crate) platform: Platform,
    pub(crate) events: EventRing,
    pub(crate) counters: Counters,
    pub(crate) icount: u64,
    breakpoints: BTreeSet<u32>,
    /// Set by an instruction that ends the run (debug exit, triple fault).
    pub(crate) stop: Option<StopReason>,
    /// Virtual time of the next device deadline.
    pub(crate) next_deadline: u64,
    /// The PIC's INTR line as last seen.
    pub(crate) intr: bool,
    /// The VMM the guest runs under (`None` when bare).
    pub(crate) vmm: Option<alloc::boxed::Box<crate::vmm::Vmm>>,
    /// Stop a run after an instruction that logged a trap (see [`EventKind::is_trap`]).
    stop_on_trap: bool,
    /// A halted CPU waiting for a timer skips virtual time no further than this
    /// (`u64::MAX`: no limit); see [`Machine::set_time_limit`].
    pub(crate) time_limit: u64,
    /// Instructions left in the running CPU's quantum (several scheduled CPUs).
    pub(crate) slice_left: u64,
    /// How the host schedules the vCPUs under a VMM (`smp/host.rs`).
    pub(crate) host: crate::smp::HostSched,
}

impl Machine {
    /// Builds a machine with `cfg.ram_mib` MiB of zeroed RAM, in the RESET state.
    pub fn new(cfg: MachineConfig) -> Result<Machine, HostError> {
        if !(1..=crate::config::MAX_CPUS).contains(&cfg.cpus) || cfg.quantum == 0 {
            return Err(HostError::BadConfig(alloc::format!(
                "cpus is {} and quantum {}; cpus must be between 1 and {} and the quantum at least 1",
                cfg.cpus,
                cfg.quantum,
                crate::config::MAX_CPUS
            )));
        }
        if !(1..=3072).contains(&cfg.ram_mib) {
            return Err(HostError::BadConfig(alloc::format!(
                "ram_mib is {}; it must be between 1 and 3072",
                cfg.ram_mib
            )));
        }
        let platform = Platform::new(&cfg)?;
        let vmm = Machine::build_vmm(&cfg)?;
        let mut m = Machine {
            mem: Memory::new(cfg.ram_mib as usize * 1024 * 1024),
            events: EventRing::new(cfg.event_capacity),
            cfg,
            cpu: Cpu::reset(),
            parked: Parked::default(),
            platform,
            counters: Counters::default(),
            icount: 0,
            breakpoints: BTreeSet::new(),
            stop: None,
            next_deadline: u64::MAX,
            intr: false,
            vmm,
            stop_on_trap: false,
            time_limit: u64::MAX,
            slice_left: 0,
            host: Default::default(),
        };
        m.set_up_processors()?;
        m.refresh_platform();
        Ok(m)
    }

    /// The configuration the machine was built with.
    pub fn config(&self) -> &MachineConfig {
        &self.cfg
    }

    /// CPU and device reset; RAM (and the ROM) are kept, and virtual time goes on.
    pub fn reset(&mut self) {
        // The time stamp counter is the machine's virtual clock, shared with the
        // devices: it keeps running across a reset.
        self.cpu.reset_keeping_tsc();
        for c in self.parked.others_mut() {
            c.reset_keeping_tsc();
        }
        self.hold_application_processors();
        self.platform.reset();
        self.stop = None;
        self.refresh_platform();
        if let Some(v) = self.vmm.as_deref_mut() {
            v.reset();
        }
    }

    /// Maps a 64 or 128 KiB ROM image below 1 MiB and at the top of 4 GiB, then resets
    /// to F000:FFF0.
    pub fn load_rom(&mut self, image: &[u8]) -> Result<(), HostError> {
        self.mem.load_rom(image)?;
        self.cpu.clear_code_caches();
        for c in self.parked.others_mut() {
            c.clear_code_caches();
        }
        self.reset();
        Ok(())
    }

    /// Writes bytes to guest RAM (for harnesses); fails when they do not fit.
    pub fn write_phys(&mut self, addr: u32, bytes: &[u8]) -> Result<(), HostError> {
        self.mem.write_bytes(addr, bytes)
    }

    /// The architectural state, flags materialised.
    pub fn cpu(&self) -> &CpuState {
        &self.cpu.state
    }

    /// The architectural state for editing; the next run picks up every change
    /// (the TLB is flushed in case paging registers changed).
    pub fn cpu_mut(&mut self) -> &mut CpuState {
        self.cpu.flags_stale = true;
        &mut self.cpu.state
    }

    /// Sets EIP and the general registers for the next run and wakes the CPU from
    /// HLT. Unlike [`Machine::cpu_mut`] it keeps the TLB and the flags, which these
    /// registers do not affect (for a host that enters guest code often).
    pub fn resume_at(&mut self, eip: u32, gpr: [u32; 8]) {
        let s = &mut self.cpu.state;
        s.eip = eip;
        s.gpr = gpr;
        s.halted = false;
    }

    /// The machine's CPUs in index order (one unless [`Machine::add_cpu`] added more).
    /// Each has its status flags materialised in EFLAGS between runs.
    pub fn cpus(&self) -> impl Iterator<Item = &Cpu> + '_ {
        (0..self.cpu_count()).filter_map(|i| self.cpu_at(i))
    }

    /// The CPUs that are not running, for editing.
    pub(crate) fn parked_cpus_mut(&mut self) -> impl Iterator<Item = &mut Cpu> + '_ {
        self.parked.others_mut()
    }

    /// The number of CPUs.
    pub fn cpu_count(&self) -> usize {
        self.parked.count()
    }

    /// CPU `i` (`None` past the last).
    pub fn cpu_at(&self, i: usize) -> Option<&Cpu> {
        self.parked.get(&self.cpu, i)
    }

    /// The index of the CPU that runs ([`Machine::cpu`] and the next `run`).
    pub fn current_cpu(&self) -> usize {
        self.parked.running()
    }

    /// Adds a CPU in the RESET state with empty caches and a local APIC whose ID is
    /// its index (and, under a VMM, its virtual CPU) and returns its index. On a
    /// machine built with one CPU the caller drives it with [`Machine::switch_cpu`];
    /// a machine built with `cpus` above one schedules its CPUs itself.
    pub fn add_cpu(&mut self) -> usize {
        let mut cpu = Cpu::reset();
        cpu.tsc = self.cpu.tsc;
        cpu.apic.id = self.parked.count() as u8;
        if let Some(v) = self.vmm.as_deref_mut() {
            v.add_vcpu();
        }
        self.parked.push(cpu)
    }

    /// Makes CPU `i` the one that runs (and, under a VMM, its virtual CPU the one
    /// the hooks act for); `false` when there is no CPU `i`. The CPU that leaves
    /// keeps its TLB and caches and its EFLAGS materialised.
    pub fn switch_cpu(&mut self, i: usize) -> bool {
        if i == self.parked.running() {
            return true;
        }
        let eflags = self.eflags();
        let tsc = self.cpu.tsc;
        if i >= self.cpu_count() {
            return false;
        }
        self.cpu.state.eflags = eflags;
        self.tsc_leave(tsc);
        if self.parked.switch(&mut self.cpu, i).is_none() {
            return false;
        }
        // the time stamp counter is the machine's clock: it goes on
        self.cpu.tsc = self.cpu.tsc.max(tsc);
        self.cpu.flags = Flags::from_eflags(self.cpu.state.eflags);
        self.cpu.flags_stale = false;
        if let Some(v) = self.vmm.as_deref_mut() {
            v.switch_vcpu(i);
        }
        self.tsc_enter(self.cpu.tsc);
        // the interrupt line and the timer deadline are the incoming CPU's
        self.refresh_platform();
        true
    }

    /// Turns the pre-decoded fast tier on or off (on by default). Both give the same
    /// machine state; off runs every instruction through the general interpreter (for
    /// differential tests and measurements).
    pub fn set_fast_tier(&mut self, on: bool) {
        self.cpu.fast.enabled = on;
    }

    /// Instructions retired since the machine was built.
    pub fn icount(&self) -> u64 {
        self.icount
    }

    /// Stops `run` before the instruction at linear address `linear`.
    pub fn add_breakpoint(&mut self, linear: u32) {
        self.breakpoints.insert(linear);
    }

    /// Removes a breakpoint.
    pub fn remove_breakpoint(&mut self, linear: u32) {
        self.breakpoints.remove(&linear);
    }

    /// The breakpoints, in address order.
    pub fn breakpoints(&self) -> impl Iterator<Item = u32> + '_ {
        self.breakpoints.iter().copied()
    }

    /// Physical memory, no side effects; unmapped bytes read 0xFF.
    pub fn peek_phys(&self, addr: u32, buf: &mut [u8]) {
        self.mem.peek(addr, buf);
    }

    /// Linear memory through a probe walk (no A/D bits, no TLB fill, no protection
    /// check); #PF when a page is not present.
    pub fn peek_linear(&self, addr: u32, buf: &mut [u8]) -> Result<(), Exception> {
        for (i, b) in buf.iter_mut().enumerate() {
            let lin = addr.wrapping_add(i as u32);
            let w = mmu::probe(
                &mut mmu::ReadOnly(|a| self.mem.read_u32(a)),
                self.paging_regs(),
                lin,
            );
            match w.physical {
                Some(p) => *b = self.mem.read_u8(p),
                None => {
                    return Err(Exception::PageFault {
                        linear: lin,
                        error_code: 0,
                    })
                }
            }
        }
        Ok(())
    }

    /// The page walk for `linear` as data (probe: no side effects).
    pub fn translate(&self, linear: u32) -> PageWalk {
        mmu::probe(
            &mut mmu::ReadOnly(|a| self.mem.read_u32(a)),
            self.paging_regs(),
            linear,
        )
    }

    /// The page directory at CR3.
    pub fn page_directory(&self) -> Vec<PdeView> {
        mmu::page_directory(&self.mem, self.paging_regs())
    }

    /// The page table under PDE `pde_index`.
    pub fn page_table(&self, pde_index: u32) -> Vec<PteView> {
        mmu::page_table(&self.mem, self.paging_regs(), pde_index)
    }

    /// The valid TLB entries.
    pub fn tlb_entries(&self) -> Vec<TlbEntryView> {
        self.cpu.mmu.entries()
    }

    /// The event ring.
    pub fn events(&self) -> &EventRing {
        &self.events
    }

    /// The counters (up to date after each `run`/`step`).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Serial output so far.
    pub fn serial_output(&self) -> Vec<u8> {
        self.platform.serial_output()
    }

    /// Serial output after the first `seen` bytes ever written (what of it the buffer
    /// still holds), and the bytes written in all: a console polls with the total it saw.
    pub fn serial_output_since(&self, seen: u64) -> (Vec<u8>, u64) {
        self.platform.serial_output_since(seen)
    }

    /// Serial output so far, emptying the buffer.
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        self.platform.take_serial_output()
    }

    /// Queues bytes for the guest to read from COM1.
    pub fn push_serial_input(&mut self, bytes: &[u8]) {
        self.platform.push_serial_input(bytes);
        self.refresh_platform();
    }

    /// Every write to the POST ports.
    pub fn post_writes(&self) -> &[PostWrite] {
        self.platform.post_writes()
    }

    /// The VGA text screen read from 0xB8000.
    pub fn vga_text(&self) -> VgaText {
        let mut buf = [0u8; VgaText::BYTES];
        self.mem.peek(VgaText::BASE, &mut buf);
        VgaText::from_bytes(&buf)
    }

    /// The whole machine state as one serializable value.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            ram: self.mem.ram_bytes(),
            rom: self.mem.rom().to_vec(),
            ..self.state_without_memory()
        }
    }

    /// The machine state but RAM and ROM (which [`crate::history::History`] keeps by page).
    pub(crate) fn state_without_memory(&self) -> Snapshot {
        Snapshot {
            config: self.cfg.clone(),
            cpu: self.cpu.state.clone(),
            icount: self.icount,
            ram: Vec::new(),
            rom: Vec::new(),
            platform: self.platform.snapshot(),
            tlb: self.cpu.mmu.save(),
            vmm: self.vmm.as_deref().cloned(),
            parked: self
                .parked
                .others()
                .map(|c| ParkedCpu {
                    cpu: c.state.clone(),
                    tlb: c.mmu.save(),
                    apic: Some(c.apic.clone()),
                })
                .collect(),
            running: self.parked.running(),
            apic: Some(self.cpu.apic.clone()),
            slice_left: self.slice_left,
            host: Some(self.host.clone()),
        }
    }

    /// Returns to a snapshot; running on continues exactly as the original did.
    pub fn restore(&mut self, s: &Snapshot) -> Result<(), HostError> {
        self.check_snapshot(s)?;
        self.mem.restore(&s.ram, &s.rom)?;
        self.restore_state(s);
        Ok(())
    }

    fn check_snapshot(&self, s: &Snapshot) -> Result<(), HostError> {
        if s.config.ram_mib != self.cfg.ram_mib {
            return Err(HostError::BadSnapshot(alloc::format!(
                "snapshot is of a {} MiB machine, this one has {} MiB",
                s.config.ram_mib,
                self.cfg.ram_mib
            )));
        }
        if let Some(h) = &s.host {
            let mode = self
                .vmm
                .as_deref()
                .map_or(crate::ExecMode::Bare, |v| v.mode());
            if let Some(why) = h.schedule.refusal(mode) {
                return Err(HostError::BadSnapshot(alloc::format!(
                    "snapshot's host schedule: {why}"
                )));
            }
        }
        Ok(())
    }

    /// Returns to a snapshot's state but memory (the caller put RAM back).
    pub(crate) fn restore_without_memory(&mut self, s: &Snapshot) -> Result<(), HostError> {
        self.check_snapshot(s)?;
        self.restore_state(s);
        Ok(())
    }

    fn restore_state(&mut self, s: &Snapshot) {
        self.cpu.state = s.cpu.clone();
        self.cpu.flags = Flags::from_eflags(self.cpu.eflags);
        self.cpu.flags_stale = false;
        self.icount = s.icount;
        self.platform.restore(&s.platform);
        // the TLB's frames are machine frames under a VMM: the map they come back under
        let p2m = self.vmm.as_deref().map(|v| match s.vmm.as_ref() {
            Some(saved) if saved.mode() == v.mode() => saved.p2m().clone(),
            _ => v.p2m().clone(),
        });
        let ram_of = |f: u32| p2m.as_ref().map_or(f, |p| p.guest_of(f) & !0xfff);
        self.cpu.mmu.load(&s.tlb, ram_of);
        self.cpu.apic = s
            .apic
            .clone()
            .unwrap_or_else(|| LocalApic::new(s.running as u8));
        self.slice_left = s.slice_left;
        if let Some(h) = &s.host {
            self.host = h.clone();
        }
        self.cfg.cpus = s.config.cpus.min(crate::config::MAX_CPUS);
        self.cfg.quantum = s.config.quantum.max(1);
        if s.parked.is_empty() && self.parked.count() == 1 {
            // one CPU, as before and after: nothing to rebuild
        } else {
            let others = s
                .parked
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let mut c = Cpu::reset();
                    let id = if i < s.running { i } else { i + 1 };
                    c.apic = p.apic.clone().unwrap_or_else(|| LocalApic::new(id as u8));
                    c.state = p.cpu.clone();
                    c.flags = Flags::from_eflags(c.state.eflags);
                    c.mmu.load(&p.tlb, ram_of);
                    c
                })
                .collect();
            self.parked = Parked::from_parts(s.running, others);
        }
        if let Some(v) = self.vmm.as_deref_mut() {
            match s.vmm.as_ref() {
                Some(saved) if saved.mode() == v.mode() => *v = saved.clone(),
                _ => v.reset(),
            }
        }
        self.cpu.dcache.clear();
        self.cpu.fast.clear();
        self.stop = None;
        self.cpu.resume_from_breakpoint = false;
        self.refresh_platform();
    }

    // ---- running -------------------------------------------------------------------

    /// Executes exactly one instruction (or delivers one interrupt).
    pub fn step(&mut self) -> StopReason {
        if self.scheduled() {
            return self.run_scheduled(1, false).unwrap_or(StopReason::Stepped);
        }
        self.enter();
        let before = self.icount;
        let r = self.run_loop(&mut 1, false).unwrap_or(StopReason::Stepped);
        self.cpu.retired += self.icount - before;
        self.leave();
        r
    }

    /// Runs at most `budget` instructions (interrupt deliveries count as one).
    pub fn run(&mut self, budget: u64) -> StopReason {
        if self.scheduled() {
            return self
                .run_scheduled(budget, true)
                .unwrap_or(StopReason::BudgetExhausted);
        }
        self.enter();
        let before = self.icount;
        let r = self
            .run_loop(&mut { budget }, true)
            .unwrap_or(StopReason::BudgetExhausted);
        self.cpu.retired += self.icount - before;
        self.leave();
        r
    }

    pub(crate) fn enter(&mut self) {
        if self.cpu.flags_stale {
            self.cpu.flags = Flags::from_eflags(self.cpu.eflags);
            self.cpu.eflags = self.eflags();
            self.cpu.mmu.flush();
            self.cpu.flags_stale = false;
        }
        self.update_attention();
    }

    pub(crate) fn leave(&mut self) {
        self.cpu.eflags = self.eflags();
        let c = &mut self.counters;
        c.instructions = self.icount;
        let (mut tlb_hits, mut tlb_misses, mut walks, mut dhits, mut dmisses) = (0, 0, 0, 0, 0);
        for cpu in core::iter::once(&self.cpu).chain(self.parked.others()) {
            tlb_hits += cpu.mmu.hits;
            tlb_misses += cpu.mmu.misses;
            walks += cpu.mmu.walks;
            dhits += cpu.dcache.hits;
            dmisses += cpu.dcache.misses;
        }
        c.tlb_hits = tlb_hits;
        c.tlb_misses = tlb_misses;
        c.page_walks = walks;
        c.decode_hits = dhits;
        c.decode_misses = dmisses;
        c.decode_invalidations = self.mem.invalidations;
    }

    /// Re-reads the devices' deadline and interrupt line.
    pub(crate) fn refresh_platform(&mut self) {
        if !self.platform.io_apic().outbox.is_empty() {
            self.deliver_io_apic();
        }
        self.next_deadline = self
            .platform
            .next_deadline()
            .unwrap_or(u64::MAX)
            .min(self.cpu.apic.timer_deadline);
        self.intr = self.cpu.apic.pending().is_some()
            || (self.pic_reaches_cpu() && self.platform.interrupt_pending());
        self.update_attention();
    }

    /// Recomputes [`Machine::attention`] after the INTR line, HLT or a deadline changed.
    #[inline]
    pub(crate) fn update_attention(&mut self) {
        self.cpu.attention = if self.intr || self.cpu.halted {
            0
        } else {
            self.next_deadline
        };
    }

    /// The run loop; `None` when the budget ran out. `left` is what remains of the
    /// budget when it returns.
    pub(crate) fn run_loop(&mut self, left: &mut u64, use_breakpoints: bool) -> Option<StopReason> {
        let watch = use_breakpoints && !self.breakpoints.is_empty();
        while *left > 0 {
            *left -= 1;
            if watch || self.cpu.tsc >= self.cpu.attention || self.cpu.halted {
                match self.between_instructions(watch) {
                    Between::Execute => {}
                    Between::Continue => continue,
                    Between::Stop(s) => return Some(s),
                }
            }
            if !watch && (self.translate_run(left) || self.fast_run(left)) {
                if self.stop.is_some() {
                    return self.stop.take();
                }
                continue;
            }
            self.execute_one();
            if self.stop.is_some() {
                return self.stop.take();
            }
        }
        None
    }

    /// Timers, interrupts, HLT and breakpoints between two instructions.
    #[inline(never)]
    fn between_instructions(&mut self, watch: bool) -> Between {
        let r = self.between_checks(watch);
        self.update_attention();
        r
    }

    fn between_checks(&mut self, watch: bool) -> Between {
        if self.cpu.apic.wait_for_sipi {
            return Between::Stop(StopReason::Halted);
        }
        if self.cpu.tsc >= self.next_deadline {
            self.platform.advance(self.cpu.tsc);
            self.advance_local_timer();
            // A virtio device whose requests finished publishes them by DMA.
            let ram = u32::try_from(self.mem.ram_size()).unwrap_or(u32::MAX);
            self.platform.service_dma(&mut self.mem, ram);
            self.refresh_platform();
        }
        if self.intr && self.interrupts_enabled() && !self.cpu.interrupt_shadow {
            if let Some((vector, irq)) = self.acknowledge_interrupt() {
                self.refresh_platform();
                self.cpu.halted = false;
                self.counters.irqs += 1;
                self.log(EventKind::Interrupt { vector, irq });
                if irq == crate::smp::APIC_IRQ && self.apic_virtualized() {
                    self.posted_interrupt(vector);
                } else {
                    self.external_interrupt(vector);
                }
                return match self.stop.take() {
                    Some(s) => Between::Stop(s),
                    None => Between::Continue,
                };
            }
            self.refresh_platform();
        } else if self.intr {
            self.vmm_interrupt_held();
            if let Some(s) = self.stop.take() {
                return Between::Stop(s);
            }
        }
        if self.cpu.halted {
            if self.scheduled() {
                // the scheduler runs the other CPUs meanwhile
                return Between::Stop(StopReason::Halted);
            }
            if self.interrupts_enabled() && self.next_deadline != u64::MAX {
                if self.next_deadline > self.time_limit {
                    self.cpu.tsc = self.cpu.tsc.max(self.time_limit);
                    return Between::Stop(StopReason::BudgetExhausted);
                }
                self.cpu.tsc = self.cpu.tsc.max(self.next_deadline);
                return Between::Continue;
            }
            return Between::Stop(StopReason::Halted);
        }
        if watch {
            let lin = self.cpu.seg[CS].base.wrapping_add(self.cpu.eip);
            if !self.cpu.resume_from_breakpoint && self.breakpoints.contains(&lin) {
                self.cpu.resume_from_breakpoint = true;
                return Between::Stop(StopReason::Breakpoint(lin));
            }
            self.cpu.resume_from_breakpoint = false;
        }
        Between::Execute
    }

    /// Makes runs stop after an instruction that logs a trap (an exception, interrupt,
    /// triple fault or VM exit: [`Event::is_trap`]) with [`StopReason::Trap`].
    pub fn set_stop_on_trap(&mut self, on: bool) {
        self.stop_on_trap = on;
    }

    /// Records an event at the current instruction.
    pub(crate) fn log(&mut self, kind: EventKind) {
        let linear_eip = self.cpu.seg[CS].base.wrapping_add(self.cpu.eip);
        self.record_event(Event {
            icount: self.icount,
            linear_eip,
            kind,
        });
    }

    /// Records an event; a trap ends the run when [`Machine::set_stop_on_trap`] asked.
    pub(crate) fn record_event(&mut self, event: Event) {
        if self.stop_on_trap && self.stop.is_none() && event.is_trap() {
            self.stop = Some(StopReason::Trap);
        }
        self.events.push(event);
    }
}
