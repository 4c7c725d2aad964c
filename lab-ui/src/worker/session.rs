//! One machine and what the lab does with it: load, step, run bounded slices, the
//! history of checkpoints behind step back, reverse-continue and "who wrote this?",
//! and the [`View`] the page draws.
//!
//! Plain Rust with no browser API, so it is tested natively.

use emulator_core::vmm::{ExitControls, TlbTagging};
use emulator_core::{
    EventKind, ExecMode, FlatEntry, History, HistoryLimits, Machine, MachineConfig, StopReason,
};
use iced_x86::{Decoder, DecoderOptions, FlowControl};

use super::snapfile::{self, MachineFile};
use super::{collect, devices};
use crate::protocol::{
    DisasmLine, ModeRun, Space, Until, View, Walk, Watch, ADVANCE_BUDGET, MODE_SWITCH,
};

/// RAM of the lab's machines.
pub const RAM_MIB: u32 = 4;
/// Serial output the machine holds (what the page's console keeps).
const SERIAL_BYTES: usize = crate::state::SERIAL_CAPACITY;
/// What the history keeps: with a checkpoint at least every [`CHECKPOINT_EVERY`]
/// instructions, about the last 128 M instructions.
const HISTORY: HistoryLimits = HistoryLimits {
    checkpoints: 128,
    page_bytes: 64 << 20,
};
/// Instructions between checkpoints at least (a step back replays at most about this many).
#[cfg(not(test))]
const CHECKPOINT_EVERY: u64 = 1 << 20;
/// Closer checkpoints in the (unoptimized) tests, so short guests cross several.
#[cfg(test)]
const CHECKPOINT_EVERY: u64 = 1 << 14;
/// Instructions of run per byte a checkpoint copied before the next one, so that copying
/// pages stays a small share of the run (a 4 KiB page costs about as much as a few
/// hundred instructions).
const RUN_PER_COPIED_BYTE: u64 = 4;
/// Instructions shown in the disassembly.
const DISASM_LINES: usize = 16;
/// Rows of 16 bytes in the memory panel.
const MEMORY_ROWS: u32 = 16;

/// The program a session loads (again on reset and mode switch).
#[derive(Clone, PartialEq, Eq, Debug, serde::Serialize, serde::Deserialize)]
pub struct Loaded {
    /// The flat binary.
    pub image: Vec<u8>,
    /// Its load address.
    pub origin: u32,
    /// How it starts.
    pub entry: FlatEntry,
    /// A lab's machine and test setup (registers, memory), when a lab's program is loaded.
    pub setup: Option<crate::labs::LabSetup>,
    /// The image is a ROM, mapped below 1 MiB and started at the reset vector
    /// (`origin` is then where its first byte sits).
    pub rom: bool,
}

impl Loaded {
    /// A ROM image (64 or 128 KiB), mapped below 1 MiB and started at the reset vector.
    pub fn rom(image: Vec<u8>) -> Result<Loaded, String> {
        let origin = vmlab_demos::Boot::Rom
            .rom_base(image.len())
            .ok_or_else(|| format!("a ROM is 64 or 128 KiB, not {} bytes", image.len()))?;
        Ok(Loaded {
            image,
            origin,
            entry: FlatEntry::Real16,
            setup: None,
            rom: true,
        })
    }

    /// An assembled flat program, started as the editor's Load starts it.
    pub fn flat(p: &crate::program::Program) -> Loaded {
        Loaded {
            image: p.image.clone(),
            origin: p.origin,
            entry: p.entry.unwrap_or(FlatEntry::Protected32),
            setup: None,
            rom: false,
        }
    }
}

/// The machine and the lab's bookkeeping around it.
#[derive(Debug)]
pub struct Session {
    machine: Machine,
    program: Loaded,
    mode: ExecMode,
    breakpoints: Vec<u32>,
    history: History,
    /// Instruction count at which the next checkpoint is due.
    next_checkpoint: u64,
    last_stop: String,
    code_base: u32,
    code_pin: Option<u32>,
    memory: (u32, Space),
    walk: Option<u32>,
    events_seen: u64,
    events_reset: bool,
    log_keep_before: Option<u64>,
    serial_sent: u64,
    serial_reset: bool,
    /// Exit controls set on the machine (hardware assistance), kept across reloads.
    controls: Option<ExitControls>,
    tlb: TlbTagging,
    /// The shadow write-protects the guest's page tables, kept across reloads.
    pt_protect: bool,
    /// The machine's CPUs and quantum, kept across reloads.
    smp: crate::smp::Smp,
    /// The tier and translation threshold, kept across reloads.
    tier: (crate::xlate::Tier, u32),
    /// Translation-cache events already sent to the page.
    xlate_seen: u64,
    /// The region the cache panel shows in detail.
    region: Option<u32>,
    /// The disk the machine gets, kept across reloads, and its drives now.
    disk: Option<crate::diskview::DiskSpec>,
    drives: Vec<(String, super::disk::SharedDisk)>,
}

/// Builds a machine in `mode` with `program` loaded.
pub fn build(program: &Loaded, mode: ExecMode) -> Result<Machine, String> {
    build_smp(program, mode, crate::smp::Smp::default())
}

/// [`build`] with `smp.cpus` CPUs taking turns of `smp.quantum` instructions (a
/// lab's machine keeps its own configuration).
pub fn build_smp(
    program: &Loaded,
    mode: ExecMode,
    smp: crate::smp::Smp,
) -> Result<Machine, String> {
    if let Some(setup) = &program.setup {
        let mut m = crate::labs::build_machine(setup, &program.image, mode)?;
        super::xlate_host::install(&mut m);
        return Ok(m);
    }
    let cfg = MachineConfig {
        ram_mib: RAM_MIB,
        mode,
        serial_capacity: SERIAL_BYTES,
        cpus: smp.cpus,
        quantum: smp.quantum,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
    super::xlate_host::install(&mut m);
    if program.rom {
        m.load_rom(&program.image)
            .map_err(|e| format!("cannot load the ROM: {e}"))?;
    } else {
        m.load_flat(program.origin, &program.image, program.entry)
            .map_err(|e| format!("cannot load the program: {e}"))?;
    }
    apply_host_schedule(&mut m, smp.host);
    super::tsc_setup::apply(&mut m, smp)?;
    Ok(m)
}

/// Sets as much of `host` as the machine's mode applies: all of it, else without
/// pause-loop exiting, else nothing ([`HostSchedule::refusal`] says why).
///
/// [`HostSchedule::refusal`]: emulator_core::smp::HostSchedule::refusal
fn apply_host_schedule(m: &mut Machine, host: emulator_core::smp::HostSchedule) {
    let without_ple = emulator_core::smp::HostSchedule {
        ple_window: 0,
        ..host
    };
    if m.set_host_schedule(host).is_err() && m.set_host_schedule(without_ple).is_err() {
        let _ = m.set_host_schedule(Default::default());
    }
}

/// Whether a stop ends a run (anything but "go on").
fn ends_run(r: StopReason) -> bool {
    !matches!(r, StopReason::BudgetExhausted | StopReason::Stepped)
}

/// A stop that replays count as an instant of interest (reverse-continue).
fn is_hit(r: StopReason) -> bool {
    matches!(r, StopReason::Breakpoint(_) | StopReason::Trap)
}

impl Session {
    /// A session with `program` loaded in `mode`.
    pub fn new(program: Loaded, mode: ExecMode) -> Result<Session, String> {
        Session::with_smp(program, mode, crate::smp::Smp::default())
    }

    /// A session with `program` loaded in `mode` on a machine of `smp.cpus` CPUs.
    pub fn with_smp(
        program: Loaded,
        mode: ExecMode,
        smp: crate::smp::Smp,
    ) -> Result<Session, String> {
        let smp = smp.clamped();
        let mut machine = build_smp(&program, mode, smp)?;
        let history = History::new(&mut machine, HISTORY);
        let mut s = Session {
            machine,
            program,
            mode,
            breakpoints: Vec::new(),
            history,
            next_checkpoint: CHECKPOINT_EVERY,
            last_stop: "loaded".into(),
            code_base: 0,
            code_pin: None,
            memory: (0, Space::Physical),
            walk: None,
            events_seen: 0,
            events_reset: true,
            log_keep_before: None,
            serial_sent: 0,
            serial_reset: true,
            controls: None,
            tlb: TlbTagging::default(),
            pt_protect: false,
            smp,
            tier: (
                crate::xlate::Tier::default(),
                crate::xlate::DEFAULT_THRESHOLD,
            ),
            xlate_seen: 0,
            region: None,
            disk: None,
            drives: Vec::new(),
        };
        s.memory = (s.program.origin, Space::Physical);
        Ok(s)
    }

    /// Rebuilds the machine (same program, `mode`), keeping breakpoints and panels.
    pub fn reload(&mut self, mode: ExecMode) -> Result<(), String> {
        self.machine = build_smp(&self.program, mode, self.smp)?;
        self.drives = match &self.disk {
            Some(spec) => super::disk::attach(&mut self.machine, spec)?,
            None => Vec::new(),
        };
        self.mode = mode;
        self.apply_tlb();
        let (tier, threshold) = self.tier;
        tier.apply(&mut self.machine, threshold);
        self.xlate_seen = 0;
        for &b in &self.breakpoints {
            self.machine.add_breakpoint(b);
        }
        if let (Some(c), Some(vmm)) = (self.controls, self.machine.vmm_mut()) {
            vmm.controls = c;
        }
        self.history = History::new(&mut self.machine, HISTORY);
        self.next_checkpoint = CHECKPOINT_EVERY;
        self.last_stop = "reset".into();
        self.events_seen = 0;
        self.events_reset = true;
        self.serial_sent = 0;
        self.serial_reset = true;
        Ok(())
    }

    /// Tags the VMM's TLB or flushes it on every exit, from the next exit on and
    /// after each reload (a bare machine has no VMM: nothing changes).
    pub fn set_tlb(&mut self, t: TlbTagging) {
        self.tlb = t;
        self.apply_tlb();
    }

    fn apply_tlb(&mut self) {
        if let Some(v) = self.machine.vmm_mut() {
            v.tlb_tagging = self.tlb;
            v.shadow.pt_protect = self.pt_protect;
        }
    }

    /// Write-protects the guest's page tables in the shadow or not, from the next
    /// page walk on and after each reload.
    pub fn set_pt_protect(&mut self, on: bool) {
        self.pt_protect = on;
        self.apply_tlb();
    }

    /// Rebuilds the machine with `smp`'s CPUs and quantum (kept for later reloads).
    pub fn set_smp(&mut self, smp: crate::smp::Smp) -> Result<(), String> {
        self.smp = smp.clamped();
        self.reload(self.mode)
    }

    /// Attaches the disk `spec` describes (none: no disk) and restarts the guest with
    /// it; a fresh image each time, so the guest's writes go with the run they belong to.
    pub fn set_disk(&mut self, spec: Option<crate::diskview::DiskSpec>) -> Result<(), String> {
        if spec == self.disk {
            return Ok(());
        }
        let keep = self.last_stop.clone();
        self.disk = spec;
        let mode = self.mode;
        let r = self.reload(mode);
        self.last_stop = keep;
        r
    }

    /// Takes an internal snapshot of every qcow2 drive.
    pub fn disk_snapshot(&mut self, name: &str) -> Result<(), String> {
        if self.drives.is_empty() {
            return Err("disk snapshot: the machine has no disk".into());
        }
        self.drives.iter().try_for_each(|(_, d)| d.snapshot(name))
    }

    /// The machine's CPUs and quantum.
    pub fn smp(&self) -> crate::smp::Smp {
        self.smp
    }

    /// The machine as a file ([`snapfile`]): its program, mode and whole state.
    pub fn to_file(&self) -> Result<Vec<u8>, String> {
        snapfile::encode(&MachineFile {
            program: self.program.clone(),
            mode: self.mode,
            machine: self.machine.snapshot(),
        })
    }

    /// A session from a machine file: the file's program in its mode, at its state.
    /// Its history starts there.
    pub fn from_file(bytes: &[u8]) -> Result<Session, String> {
        let file = snapfile::decode(bytes)?;
        let mut s = Session::new(file.program, file.mode)?;
        s.machine
            .restore(&file.machine)
            .map_err(|e| format!("the snapshot does not fit the lab's machine: {e}"))?;
        s.history = History::new(&mut s.machine, HISTORY);
        s.next_checkpoint = s.machine.icount() + CHECKPOINT_EVERY;
        s.smp = crate::smp::Smp {
            cpus: s.machine.config().cpus,
            quantum: s.machine.config().quantum,
            host: s.machine.host_schedule(),
            tsc: s.machine.tsc_policy(),
        }
        .clamped();
        s.events_seen = s.machine.events().total();
        s.last_stop = "snapshot loaded".into();
        Ok(s)
    }

    /// The machine, for reading.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// The program loaded.
    pub fn program(&self) -> &Loaded {
        &self.program
    }

    /// The mode it runs in.
    pub fn mode(&self) -> ExecMode {
        self.mode
    }

    /// The linear address of the next instruction.
    pub fn linear_eip(&self) -> u32 {
        collect::linear_eip(self.machine.cpu())
    }

    /// Takes a checkpoint when one is due.
    fn checkpoint_if_due(&mut self) {
        let now = self.machine.icount();
        if now < self.next_checkpoint || now == self.history.current_icount() {
            return;
        }
        let copied = self.history.record(&mut self.machine) as u64;
        self.next_checkpoint = now + CHECKPOINT_EVERY.max(copied * RUN_PER_COPIED_BYTE);
    }

    /// Instructions until the next checkpoint is due (at least 1).
    fn until_checkpoint(&self) -> u64 {
        self.next_checkpoint
            .saturating_sub(self.machine.icount())
            .max(1)
    }

    fn finish(&mut self, r: StopReason) -> StopReason {
        self.last_stop = match r {
            StopReason::Breakpoint(a) => format!("breakpoint at {a:08x}"),
            StopReason::DebugExit(v) => format!("debug-exit {v}"),
            other => other.name().to_string(),
        };
        r
    }

    /// Runs one instruction.
    pub fn step(&mut self) -> StopReason {
        self.code_pin = None;
        let r = self.machine.step();
        self.checkpoint_if_due();
        self.finish(r)
    }

    /// Steps over a CALL, INT or REP: runs until the instruction after it.
    pub fn step_over(&mut self) -> StopReason {
        let eip = self.linear_eip();
        let mut bytes = [0u8; 15];
        let next = match collect::guest_peek_linear(&self.machine, eip, &mut bytes) {
            true => {
                let cpu = self.machine.cpu();
                let bits = collect::code_bitness(cpu);
                let mut d = Decoder::with_ip(bits, &bytes, u64::from(eip), DecoderOptions::NONE);
                let i = d.decode();
                let over = matches!(
                    i.flow_control(),
                    FlowControl::Call | FlowControl::IndirectCall | FlowControl::Interrupt
                ) || i.has_rep_prefix()
                    || i.has_repne_prefix();
                (over && !i.is_invalid()).then(|| i.next_ip() as u32)
            }
            false => None,
        };
        match next {
            Some(target) => self.advance(Until::Linear(target), ADVANCE_BUDGET),
            None => self.step(),
        }
    }

    /// Steps back one instruction: restores the latest checkpoint before it and replays.
    /// `false` when there is nothing to go back to.
    pub fn step_back(&mut self) -> Result<bool, String> {
        let now = self.machine.icount();
        if now == 0 || now <= self.history.oldest_icount() {
            return Ok(false);
        }
        self.travel_to(now - 1)?;
        self.last_stop = "stepped back".into();
        Ok(true)
    }

    /// Restores the latest checkpoint at or before `target` and replays to exactly
    /// `target` retired instructions.
    fn travel_to(&mut self, target: u64) -> Result<(), String> {
        let index = self.history.at_or_before(target).unwrap_or(0);
        self.restore(index)?;
        self.replay(|m| {
            let left = target.saturating_sub(m.icount());
            (left > 0).then_some(left)
        });
        self.after_travel();
        Ok(())
    }

    fn restore(&mut self, index: usize) -> Result<(), String> {
        self.history
            .restore(&mut self.machine, index)
            .map_err(|e| e.to_string())
    }

    /// The page learns that the machine went back: its log and console are redone.
    fn after_travel(&mut self) {
        self.events_seen = self.machine.events().total();
        self.log_keep_before = Some(self.machine.icount());
        self.serial_sent = 0;
        self.serial_reset = true;
        self.code_pin = None;
        self.next_checkpoint = self.history.current_icount() + CHECKPOINT_EVERY;
    }

    /// Runs with the breakpoints lifted (the fast tier runs) while `budget` gives the
    /// instructions left to run, then puts them back.
    fn replay(&mut self, mut budget: impl FnMut(&Machine) -> Option<u64>) {
        for &b in &self.breakpoints {
            self.machine.remove_breakpoint(b);
        }
        let mut guard = 0u64;
        while let Some(left) = budget(&self.machine) {
            guard += 1;
            if guard > ADVANCE_BUDGET || ends_run(self.machine.run(left)) {
                break;
            }
        }
        for &b in &self.breakpoints {
            self.machine.add_breakpoint(b);
        }
    }

    /// Runs from the current state to instruction count `end`, stopping at breakpoints
    /// and traps before `end`; counts those stops, and returns early at the
    /// `stop_at`-th.
    fn count_hits(&mut self, end: u64, stop_at: Option<u64>) -> u64 {
        self.machine.set_stop_on_trap(true);
        let mut hits = 0;
        while self.machine.icount() < end && Some(hits) != stop_at {
            let r = self.machine.run(end - self.machine.icount());
            if is_hit(r) {
                hits += u64::from(self.machine.icount() < end);
            } else if ends_run(r) {
                break;
            }
        }
        self.machine.set_stop_on_trap(false);
        hits
    }

    /// Runs backwards to the latest breakpoint or trap before the current instruction,
    /// or to the start of the history when there is none. `false` when already there.
    pub fn reverse_continue(&mut self) -> Result<bool, String> {
        let now = self.machine.icount();
        if now <= self.history.oldest_icount() {
            return Ok(false);
        }
        let mut index = self.history.at_or_before(now - 1).unwrap_or(0);
        loop {
            self.restore(index)?;
            let hits = self.count_hits(now, None);
            if hits > 0 {
                self.restore(index)?;
                self.count_hits(now, Some(hits));
                self.after_travel();
                let at = self.linear_eip();
                self.last_stop = if self.breakpoints.contains(&at) {
                    format!("reversed to the breakpoint at {at:08x}")
                } else {
                    "reversed to a trap".into()
                };
                return Ok(true);
            }
            if index == 0 {
                self.restore(0)?;
                self.after_travel();
                self.last_stop = "reversed to the start of the history".into();
                return Ok(true);
            }
            index -= 1;
        }
    }

    /// Goes back to just before the last instruction that changed `watch`, searching
    /// the history backwards from the current instruction. `Ok(None)` when nothing in
    /// the history changed it (the machine stays put); otherwise what was found.
    pub fn who_wrote(&mut self, watch: Watch) -> Result<Option<String>, String> {
        let now = self.machine.icount();
        let watched = self.watched(watch)?;
        let read = |m: &Machine| watched.read(m);
        let what = watch_name(watch);
        let Some(mut index) = self.history.at_or_before(now.saturating_sub(1)) else {
            return Ok(None);
        };
        let found = loop {
            self.restore(index)?;
            // Single steps up to `now`: the last step that changed the value.
            let mut last: Option<(u64, u32, u32)> = None;
            let mut steps = 0u64;
            let mut value = read(&self.machine);
            while self.machine.icount() < now {
                let r = self.machine.step();
                steps += 1;
                let v = read(&self.machine);
                if v != value {
                    last = Some((steps - 1, value, v));
                    value = v;
                }
                if ends_run(r) {
                    break;
                }
            }
            if last.is_some() || index == 0 {
                break last;
            }
            index -= 1;
        };
        // Back to the instruction that wrote it, or to where the search began.
        match found {
            Some((steps, old, new)) => {
                self.restore(index)?;
                for _ in 0..steps {
                    self.machine.step();
                }
                self.after_travel();
                let at = self.linear_eip();
                let text = format!(
                    "{what} was last changed by the instruction at {at:08x} (instruction {}): {old:#x} → {new:#x}",
                    self.machine.icount()
                );
                self.last_stop = text.clone();
                Ok(Some(text))
            }
            None => {
                self.travel_to(now)?;
                Ok(None)
            }
        }
    }

    /// What `watch` names, fixed now (a linear address is translated once).
    fn watched(&self, watch: Watch) -> Result<Watched, String> {
        Ok(match watch {
            Watch::Register(r) => Watched::Register(r),
            Watch::Memory { addr, space } => Watched::Physical(match space {
                Space::Physical => addr,
                Space::Linear => collect::guest_translate(&self.machine, addr)
                    .ok_or_else(|| format!("linear {addr:08x} is not mapped"))?,
            }),
        })
    }

    /// Whether there is an earlier state to step back to.
    pub fn can_step_back(&self) -> bool {
        self.machine.icount() > self.history.oldest_icount()
    }

    /// Runs at most `budget` instructions towards `until`; returns why it stopped
    /// (`BudgetExhausted` when the budget ran out first).
    pub fn advance(&mut self, until: Until, budget: u64) -> StopReason {
        self.code_pin = None;
        // A target reached through a temporary breakpoint is no breakpoint of the user's.
        let mut reached = None;
        // Leaving a breakpoint we stand on is the first instruction of any run.
        let r = match until {
            Until::Steps(n) => {
                let mut r = StopReason::Stepped;
                for _ in 0..u64::from(n).min(budget) {
                    r = self.machine.step();
                    self.checkpoint_if_due();
                    if ends_run(r) {
                        break;
                    }
                }
                r
            }
            Until::Trap => {
                self.machine.set_stop_on_trap(true);
                let r = self.run_budget(budget);
                self.machine.set_stop_on_trap(false);
                r
            }
            Until::Exit(want) => {
                // Trap by trap until one is a VM exit of that reason.
                self.machine.set_stop_on_trap(true);
                let mut left = budget;
                let r = loop {
                    let seen = self.machine.events().total();
                    let start = self.machine.icount();
                    let r = self.run_budget(left);
                    left = left.saturating_sub((self.machine.icount() - start).max(1));
                    let hit = self.machine.events().since(seen).any(
                        |e| matches!(e.kind, EventKind::VmExit { reason, .. } if reason == want),
                    );
                    if r != StopReason::Trap || hit || left == 0 {
                        break r;
                    }
                };
                self.machine.set_stop_on_trap(false);
                r
            }
            Until::Linear(target) => {
                let temporary = !self.breakpoints.contains(&target);
                if temporary {
                    self.machine.add_breakpoint(target);
                }
                let r = self.run_budget(budget);
                if temporary {
                    self.machine.remove_breakpoint(target);
                }
                if temporary && r == StopReason::Breakpoint(target) {
                    reached = Some(target);
                }
                r
            }
            Until::Stop => self.run_budget(budget),
        };

        let r = self.finish(r);
        if let Some(a) = reached {
            self.last_stop = format!("reached {a:08x}");
        }
        r
    }

    /// Runs up to `budget` instructions, taking checkpoints as they fall due.
    fn run_budget(&mut self, budget: u64) -> StopReason {
        if budget == 0 {
            return StopReason::BudgetExhausted;
        }
        let mut left = budget;
        loop {
            let chunk = left.min(self.until_checkpoint());
            let before = self.machine.icount();
            let r = self.machine.run(chunk);
            left = left.saturating_sub((self.machine.icount() - before).max(1));
            self.checkpoint_if_due();
            if ends_run(r) || left == 0 {
                return r;
            }
        }
    }

    /// Marks a run as paused by the page.
    pub fn pause(&mut self) {
        self.last_stop = "paused".into();
    }

    /// Adds or removes a breakpoint.
    pub fn toggle_breakpoint(&mut self, linear: u32) {
        if let Some(i) = self.breakpoints.iter().position(|&b| b == linear) {
            self.breakpoints.remove(i);
            self.machine.remove_breakpoint(linear);
        } else {
            self.breakpoints.push(linear);
            self.machine.add_breakpoint(linear);
        }
    }

    /// Points the memory panel.
    pub fn show_memory(&mut self, addr: u32, space: Space) {
        self.memory = (addr & !0xf, space);
    }

    /// Shows code at `linear` in the disassembly until the next execution.
    pub fn show_code(&mut self, linear: u32) {
        self.code_pin = Some(linear);
    }

    /// Runs in `tier` from here on, translating entries after `threshold` executions
    /// (kept across reloads; switching drops the translation cache).
    pub fn set_tier(&mut self, tier: crate::xlate::Tier, threshold: u32) {
        self.tier = (tier, threshold.max(1));
        tier.apply(&mut self.machine, threshold);
    }

    /// The tier and threshold the machine runs with.
    pub fn tier(&self) -> (crate::xlate::Tier, u32) {
        self.tier
    }

    /// Shows a region of the translation cache in detail in every view.
    pub fn show_region(&mut self, entry: Option<u32>) {
        self.region = entry;
    }

    /// Remembers an address to translate in every view.
    pub fn translate(&mut self, linear: u32) {
        self.walk = Some(linear);
    }

    /// Sets hardware assistance's exit controls (nothing on a machine without
    /// them) and starts the history again from here, so that going back keeps them.
    pub fn set_exit_controls(&mut self, controls: ExitControls) {
        self.controls = Some(controls);
        if let Some(vmm) = self.machine.vmm_mut() {
            vmm.controls = controls;
            self.history = History::new(&mut self.machine, HISTORY);
            self.next_checkpoint = self.machine.icount() + CHECKPOINT_EVERY;
        }
    }

    /// Types into the serial port: the machine's future changes, so later
    /// checkpoints go.
    pub fn serial_input(&mut self, bytes: &[u8]) {
        self.machine.push_serial_input(bytes);
        self.history.forget_after_current();
    }

    /// The disassembly window: stays put while EIP moves inside it.
    fn disasm(&mut self) -> Vec<DisasmLine> {
        let eip = self.linear_eip();
        let base = match self.code_pin {
            Some(p) => p,
            None => self.code_base,
        };
        let lines = collect::disassemble(&self.machine, base, DISASM_LINES);
        let inside = lines.iter().take(DISASM_LINES - 2).any(|l| l.addr == eip);
        if self.code_pin.is_some() || inside {
            return lines;
        }
        self.code_base = eip;
        collect::disassemble(&self.machine, eip, DISASM_LINES)
    }

    /// The picture of the machine for the page; `running` says a run is in progress.
    pub fn view(&mut self, running: bool) -> View {
        let m = &self.machine;
        let new_events: Vec<_> = {
            let total = m.events().total();
            let skip = total.saturating_sub(self.events_seen).saturating_sub(500);
            m.events()
                .since(self.events_seen)
                .skip(skip as usize)
                .map(collect::log_entry)
                .collect()
        };
        self.events_seen = m.events().total();
        let (serial, total) = m.serial_output_since(self.serial_sent);
        if total < self.serial_sent {
            self.serial_reset = true;
        }
        let serial_append = String::from_utf8_lossy(&serial).into_owned();
        self.serial_sent = total;
        let walk: Option<Walk> = self.walk.map(|a| collect::walk(m, a));
        let disasm = self.disasm();
        let m = &self.machine;
        let mut view = View {
            cpu: m.cpu().clone(),
            icount: m.icount(),
            mode: self.mode,
            running,
            stop: self.last_stop.clone(),
            linear_eip: collect::linear_eip(m.cpu()),
            disasm,
            breakpoints: self.breakpoints.clone(),
            memory: collect::memory(m, self.memory.0, self.memory.1, MEMORY_ROWS),
            guest_tables: collect::guest_tables(m),
            vmm_tables: collect::vmm_tables(m),
            walk,
            tlb: collect::tlb(m),
            new_events,
            events_reset: self.events_reset,
            log_keep_before: None,
            counters: collect::counters(m),
            serial_append,
            serial_reset: self.serial_reset,
            vga: collect::vga(m),
            can_step_back: false,
            history_from: self.history.oldest_icount(),
            vcpu: collect::vcpu_line(m),
            vmm_settings: collect::vmm_settings(m),
            devices: devices::devices(m),
            disks: self
                .drives
                .iter()
                .map(|(c, d)| super::disk::view(c, d))
                .collect(),
            smp: super::percpu::smp_view(m),
            xlate: None,
        };
        let reset = self.xlate_seen == 0;
        let mut x = crate::xlate::view(
            &self.machine,
            self.tier.0,
            self.tier.1,
            &mut self.xlate_seen,
            self.region,
        );
        x.events_reset = reset || self.events_reset;
        view.xlate = Some(x);
        view.can_step_back = self.can_step_back();
        if let Some(before) = self.log_keep_before.take() {
            view.new_events.retain(|e| e.icount < before);
            view.log_keep_before = Some(before);
        }
        self.events_reset = false;
        self.serial_reset = false;
        view
    }
}

/// A register, or a byte at a physical address.
#[derive(Clone, Copy, Debug)]
enum Watched {
    Register(crate::protocol::Register),
    Physical(u32),
}

impl Watched {
    fn read(self, m: &Machine) -> u32 {
        match self {
            Watched::Register(r) => r.read(m.cpu()),
            Watched::Physical(addr) => {
                let mut b = [0u8];
                m.peek_phys(addr, &mut b);
                u32::from(b[0])
            }
        }
    }
}

/// How the status line names a watched place.
fn watch_name(watch: Watch) -> String {
    match watch {
        Watch::Memory { addr, space } => match space {
            Space::Physical => format!("the byte at physical {addr:08x}"),
            Space::Linear => format!("the byte at linear {addr:08x}"),
        },
        Watch::Register(r) => r.name().to_string(),
    }
}

/// Runs `program` to its end in every mode, for the side-by-side table.
pub fn compare(program: &Loaded) -> Vec<ModeRun> {
    MODE_SWITCH
        .iter()
        .map(|&mode| match build(program, mode) {
            Ok(mut m) => {
                let mut r = m.run(ADVANCE_BUDGET);
                let mut guard = 0;
                while let StopReason::Breakpoint(_) = r {
                    guard += 1;
                    if guard > 1000 {
                        break;
                    }
                    r = m.run(ADVANCE_BUDGET);
                }
                ModeRun {
                    mode,
                    stop: r.name().to_string(),
                    instructions: m.icount(),
                    serial: String::from_utf8_lossy(&m.serial_output()).into_owned(),
                    counters: collect::counters(&m),
                }
            }
            Err(e) => ModeRun {
                mode,
                stop: e,
                instructions: 0,
                serial: String::new(),
                counters: Default::default(),
            },
        })
        .collect()
}

/// The counters of `program` at each stop of each run, as [`Session::advance`] gets
/// there (a run that cannot load has no counters).
pub fn crossover(
    program: &Loaded,
    runs: &[crate::protocol::CrossoverRun],
) -> Vec<(ExecMode, Vec<crate::protocol::CounterSet>)> {
    runs.iter()
        .map(|r| {
            let Ok(mut s) = Session::new(program.clone(), r.mode) else {
                return (r.mode, Vec::new());
            };
            if let Some(c) = r.controls {
                s.set_exit_controls(c);
            }
            let counters = r
                .stops
                .iter()
                .map(|&a| {
                    s.advance(Until::Linear(a), ADVANCE_BUDGET);
                    collect::counters(&s.machine)
                })
                .collect();
            (r.mode, counters)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::assemble;
    use crate::demos;

    fn session(demo: &str, mode: ExecMode) -> (Session, crate::program::Program) {
        let d = demos::find(demo).expect("demo exists");
        let p = assemble("demo.asm", d.source).expect("demo assembles");
        let s = Session::new(
            Loaded {
                image: p.image.clone(),
                origin: p.origin,
                entry: p.entry.unwrap_or(FlatEntry::Protected32),
                setup: None,
                rom: false,
            },
            mode,
        )
        .expect("loads");
        (s, p)
    }

    #[test]
    fn step_and_step_back_return_to_the_same_state() {
        let (mut s, p) = session("fetch-decode-execute", ExecMode::Bare);
        assert_eq!(s.linear_eip(), p.origin);
        let before = s.machine().cpu().clone();
        s.step();
        s.step();
        let after_two = s.machine().cpu().clone();
        assert_ne!(before, after_two);
        s.step();
        assert!(s.step_back().expect("restores"));
        assert_eq!(s.machine().cpu(), &after_two);
        assert!(s.step_back().expect("restores"));
        assert!(s.step_back().expect("restores"));
        assert_eq!(s.machine().cpu(), &before);
        assert!(!s.step_back().expect("nothing to restore"));
    }

    #[test]
    fn run_prints_and_views_carry_output_once() {
        let (mut s, _) = session("fetch-decode-execute", ExecMode::Bare);
        let r = s.advance(Until::Stop, ADVANCE_BUDGET);
        assert_eq!(r, StopReason::Halted);
        let v = s.view(false);
        assert_eq!(v.serial_append, "fetch, decode, execute: done\n");
        assert!(v.serial_reset && v.events_reset);
        assert!(v.new_events.iter().any(|e| e.reason == "io"));
        let again = s.view(false);
        assert_eq!(again.serial_append, "");
        assert!(again.new_events.is_empty());
    }

    #[test]
    fn breakpoints_run_to_label_and_step_over() {
        let (mut s, p) = session("fetch-decode-execute", ExecMode::Bare);
        let print = p.symbol("print").expect("label");
        s.toggle_breakpoint(print);
        assert_eq!(
            s.advance(Until::Stop, 10_000),
            StopReason::Breakpoint(print)
        );
        assert_eq!(s.linear_eip(), print);
        s.toggle_breakpoint(print);
        let done = p.symbol("done").expect("label");
        assert_eq!(
            s.advance(Until::Linear(done), 10_000),
            StopReason::Breakpoint(done)
        );
        assert!(s.view(false).breakpoints.is_empty());
    }

    #[test]
    fn page_walk_demo_shows_tables_walk_and_vga() {
        let (mut s, p) = session("page-walk", ExecMode::Bare);
        let on = p.symbol("paging_on").expect("label");
        s.advance(Until::Linear(on), ADVANCE_BUDGET);
        s.translate(0x0040_0000);
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let v = s.view(false);
        let guest = v.guest_tables.expect("paging is on");
        assert_eq!(guest.root, 0x80000);
        assert_eq!(guest.directory.len(), 2);
        let walk = v.walk.expect("translated");
        assert_eq!(walk.result, Ok(0xb8000));
        assert_eq!(walk.steps.len(), 2);
        assert_eq!(v.vga[0][0], (b'H', 0x1f));
        assert_eq!(v.vga[0][2], (b'!', 0x1f));
        assert!(!v.disasm.is_empty());
    }

    #[test]
    fn a_target_reached_is_no_breakpoint_and_a_pause_says_so() {
        let (mut s, p) = session("fetch-decode-execute", ExecMode::Bare);
        let print = p.symbol("print").expect("label");
        s.advance(Until::Linear(print), 10_000);
        assert_eq!(s.view(false).stop, format!("reached {print:08x}"));
        let (mut s, _) = session("fetch-decode-execute", ExecMode::Bare);
        s.toggle_breakpoint(print);
        s.advance(Until::Linear(print), 10_000);
        assert_eq!(s.view(false).stop, format!("breakpoint at {print:08x}"));
        s.pause();
        assert_eq!(s.view(false).stop, "paused");
    }

    #[test]
    fn run_to_trap_stops_at_an_event() {
        let (mut s, _) = session("fetch-decode-execute", ExecMode::Bare);
        // Bare and without faults, only I/O happens: run to trap reaches the end.
        let r = s.advance(Until::Trap, ADVANCE_BUDGET);
        assert_eq!(r, StopReason::Halted);
    }

    #[test]
    fn memory_view_marks_unmapped_linear_rows() {
        let (mut s, p) = session("page-walk", ExecMode::Bare);
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let m = collect::memory(s.machine(), 0x003f_fff0, Space::Linear, 3);
        assert!(m.rows[0].is_some(), "the last identity-mapped row");
        assert!(m.rows[1].is_some(), "0x400000 maps to VGA");
        s.show_memory(p.origin, Space::Physical);
        let v = s.view(false);
        assert_eq!(v.memory.addr, p.origin);
        assert_eq!(v.memory.rows[0].as_deref().map(|r| r[0]), Some(p.image[0]));
    }

    #[test]
    fn compare_runs_every_mode() {
        let (s, _) = session("fetch-decode-execute", ExecMode::Bare);
        let runs = compare(s.program());
        assert_eq!(runs.len(), MODE_SWITCH.len());
        assert_eq!(runs[0].serial, "fetch, decode, execute: done\n");
        assert_eq!(runs[0].stop, "halted");
    }

    #[test]
    fn trap_emulate_logs_exits_and_shows_shadow_tables() {
        let (mut s, _) = session("trap-emulate", ExecMode::TRAP_EMULATE);
        assert_eq!(s.advance(Until::Trap, ADVANCE_BUDGET), StopReason::Trap);
        let v = s.view(false);
        assert!(
            v.new_events.iter().any(|e| e.reason.starts_with("exit:")),
            "{:?}",
            v.new_events
        );
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let v = s.view(false);
        assert_eq!(v.serial_append, "VM\n");
        let at_eip = v.disasm.iter().find(|l| l.addr == v.linear_eip);
        assert!(
            at_eip.is_some_and(|l| l.text.starts_with("jmp")),
            "{:?}",
            v.disasm
        );

        let (mut s, p) = session("shadow-paging", ExecMode::TRAP_EMULATE);
        assert_eq!(s.advance(Until::Stop, ADVANCE_BUDGET), StopReason::Halted);
        s.translate(0x0030_0000);
        let v = s.view(false);
        assert_eq!(v.serial_append, "demand-zero page mapped\n");
        let guest = v.guest_tables.expect("the guest turned paging on");
        assert_eq!(guest.root, 0x80000);
        let shadow = v.vmm_tables.expect("trap-emulate keeps shadow tables");
        assert!(shadow.title.starts_with("shadow"));
        use emulator_core::vmm::shadow::{SHADOW_ROOT_BASE, SHADOW_TABLE_BASE};
        assert!(
            (SHADOW_ROOT_BASE..SHADOW_TABLE_BASE).contains(&shadow.root),
            "the shadow directory lives in the VMM, not at the guest's CR3: {:08x}",
            shadow.root
        );
        assert!(!shadow.directory.is_empty());
        assert_eq!(v.walk.expect("walked").result, Ok(0x0030_0000));
        assert!(
            v.new_events.iter().any(|e| e.reason == "exception"),
            "a true #PF"
        );
        let _ = p;
    }

    #[test]
    fn the_tlb_setting_holds_across_reloads_and_counts_its_flushes() {
        let (mut s, _) = session("tagged-tlb", ExecMode::HW_ASSIST);
        s.set_tlb(TlbTagging::Flush);
        s.reload(ExecMode::TRAP_EMULATE).expect("reloads");
        assert_eq!(
            s.machine().vmm().expect("a VMM").tlb_tagging,
            TlbTagging::Flush
        );
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let flushed = collect::counters(s.machine());
        s.set_tlb(TlbTagging::Tagged);
        s.reload(ExecMode::TRAP_EMULATE).expect("reloads");
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let tagged = collect::counters(s.machine());
        let flushes =
            |c: &crate::protocol::CounterSet| c.vmm.as_ref().map_or(0, |v| v.tlb.exit_flushes);
        assert!(flushes(&flushed) > 0);
        assert_eq!(flushes(&tagged), 0);
        assert!(flushed.machine.tlb_misses > tagged.machine.tlb_misses);
    }

    #[test]
    fn nested_paging_shows_the_nested_table() {
        let (mut s, _) = session("nested-paging", ExecMode::HW_ASSIST);
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let v = s.view(false);
        let nested = v.vmm_tables.expect("nested tables");
        assert!(nested.title.starts_with("nested"));
        assert_eq!(nested.root, emulator_core::vmm::nested::NESTED_ROOT);
        assert_eq!(v.vga[0][0], (b'H', 0x1f));
    }

    /// Writes `value` 20,000 times, then `other` 20,000 times, then halts: about
    /// 160,000 instructions, so the history holds several checkpoints.
    const WRITER: &str = "bits 32
org 0x10000
    xor ecx, ecx
first:
    mov [value], ecx
    inc ecx
    cmp ecx, 20000
    jne first
    xor ebx, ebx
second:
    mov [other], ebx
bump:
    inc ebx
    cmp ebx, 20000
    jne second
    hlt
value: dd 0
other: dd 0
";

    fn writer() -> (Session, crate::program::Program) {
        let p = assemble("writer.asm", WRITER).expect("assembles");
        let s = Session::new(
            Loaded {
                image: p.image.clone(),
                origin: p.origin,
                entry: FlatEntry::Protected32,
                setup: None,
                rom: false,
            },
            ExecMode::Bare,
        )
        .expect("loads");
        (s, p)
    }

    #[test]
    fn step_back_after_a_long_run_matches_a_fresh_run() {
        let (mut s, _) = writer();
        s.advance(Until::Stop, 150_000);
        assert_eq!(s.machine().icount(), 150_000);
        let (mut fresh, _) = writer();
        fresh.advance(Until::Stop, 149_999);
        assert!(s.step_back().expect("restores"));
        assert_eq!(s.machine().icount(), 149_999);
        assert_eq!(s.machine().cpu(), fresh.machine().cpu());
        assert_eq!(s.machine().snapshot(), fresh.machine().snapshot());
        // The history reaches back to the load.
        assert_eq!(s.view(false).history_from, 0);
    }

    #[test]
    fn who_wrote_finds_the_last_write_to_a_byte_and_a_register() {
        let (mut s, p) = writer();
        assert_eq!(s.advance(Until::Stop, ADVANCE_BUDGET), StopReason::Halted);
        let end = s.machine().icount();
        let value = p.symbol("value").expect("label");
        let found = s
            .who_wrote(Watch::Memory {
                addr: value,
                space: Space::Physical,
            })
            .expect("searches")
            .expect("found");
        assert!(found.contains(&format!("{:08x}", p.symbol("first").expect("label"))));
        assert_eq!(s.linear_eip(), p.symbol("first").expect("label"));
        assert_eq!(s.machine().cpu().gpr[1], 19_999, "ECX of the last write");
        let mut byte = [0u8];
        s.machine().peek_phys(value, &mut byte);
        assert_eq!(byte[0], (19_998 & 0xff) as u8, "the value before it");
        s.step();
        s.machine().peek_phys(value, &mut byte);
        assert_eq!(byte[0], (19_999 & 0xff) as u8, "the write");

        // A register: from the end, the last INC EBX.
        s.advance(Until::Stop, ADVANCE_BUDGET);
        assert_eq!(s.machine().icount(), end);
        let ebx = crate::protocol::Register::from_name("ebx").expect("a register");
        s.who_wrote(Watch::Register(ebx))
            .expect("searches")
            .expect("found");
        assert_eq!(s.linear_eip(), p.symbol("bump").expect("label"));
        assert_eq!(s.machine().cpu().gpr[3], 19_999);

        // EBP never changes: nothing found, and the machine stays where it was.
        let here = s.machine().cpu().clone();
        let ebp = crate::protocol::Register::from_name("ebp").expect("a register");
        assert_eq!(s.who_wrote(Watch::Register(ebp)).expect("searches"), None);
        assert_eq!(s.machine().cpu(), &here);
    }

    #[test]
    fn reverse_continue_goes_back_to_the_latest_breakpoint_or_trap() {
        let (mut s, p) = writer();
        let second = p.symbol("second").expect("label");
        s.toggle_breakpoint(second);
        // Run through some breakpoint hits to about 100,000 instructions.
        while s.machine().icount() < 100_000 {
            s.advance(Until::Stop, ADVANCE_BUDGET);
        }
        let here = s.machine().icount();
        s.step();
        assert!(s.reverse_continue().expect("reverses"));
        assert_eq!(s.linear_eip(), second);
        assert_eq!(s.machine().icount(), here, "the hit before the step");
        assert!(s.reverse_continue().expect("reverses"));
        assert_eq!(s.linear_eip(), second);
        assert_eq!(s.machine().icount(), here - 4, "the hit one loop earlier");
        // Without breakpoints or traps: back to the start of the history.
        s.toggle_breakpoint(second);
        assert!(s.reverse_continue().expect("reverses"));
        assert_eq!(s.machine().icount(), 0);
        assert!(!s.reverse_continue().expect("nothing before"));

        // Under trap-and-emulate, traps: the latest VM exit before the end.
        let (mut s, _) = session("trap-emulate", ExecMode::TRAP_EMULATE);
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let end = s.machine().icount();
        assert!(s.reverse_continue().expect("reverses"));
        let last = s
            .machine()
            .events()
            .iter()
            .last()
            .expect("an event")
            .clone();
        assert!(last.kind.is_trap(), "{last:?}");
        // Stopped right after it (an emulated instruction retires).
        let at = s.machine().icount();
        assert!(at == last.icount || at == last.icount + 1, "{at} {last:?}");
        assert!(at < end);
    }

    #[test]
    fn popf_differs_only_under_trap_emulate() {
        let (s, _) = session("popf", ExecMode::TRAP_EMULATE);
        let runs = compare(s.program());
        assert_eq!(runs[0].serial, "IF = 1: POPF did what the kernel asked\n");
        assert_eq!(
            runs[1].serial,
            "IF = 0: POPF was ignored and nothing trapped\n"
        );
        assert_eq!(runs[2].serial, runs[0].serial);
        assert!(runs.iter().all(|r| r.stop == "halted"), "{runs:?}");
    }
}
