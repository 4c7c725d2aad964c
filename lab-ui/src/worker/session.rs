//! One machine and what the lab does with it: load, step, run bounded slices,
//! checkpoints for stepping back, and the [`View`] the page draws.
//!
//! Plain Rust with no browser API, so it is tested natively.

use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, Snapshot, StopReason};
use iced_x86::{Decoder, DecoderOptions, FlowControl};

use super::collect;
use crate::protocol::{DisasmLine, ModeRun, Space, Until, View, Walk, ADVANCE_BUDGET, MODE_SWITCH};

/// RAM of the lab's machines (small, so that checkpoints stay cheap).
pub const RAM_MIB: u32 = 4;
/// Checkpoints kept for stepping back.
const MAX_CHECKPOINTS: usize = 16;
/// Instructions between checkpoints (a step back replays at most this many).
const CHECKPOINT_EVERY: u64 = 10_000;
/// Instructions shown in the disassembly.
const DISASM_LINES: usize = 16;
/// Rows of 16 bytes in the memory panel.
const MEMORY_ROWS: u32 = 16;

/// The program a session loads (again on reset and mode switch).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Loaded {
    /// The flat binary.
    pub image: Vec<u8>,
    /// Its load address.
    pub origin: u32,
    /// How it starts.
    pub entry: FlatEntry,
    /// A lab's machine and test setup (registers, memory), when a lab's program is loaded.
    pub setup: Option<crate::labs::LabSetup>,
}

/// The machine and the lab's bookkeeping around it.
#[derive(Debug)]
pub struct Session {
    machine: Machine,
    program: Loaded,
    mode: ExecMode,
    breakpoints: Vec<u32>,
    checkpoints: Vec<(u64, Snapshot)>,
    last_stop: String,
    code_base: u32,
    code_pin: Option<u32>,
    memory: (u32, Space),
    walk: Option<u32>,
    events_seen: u64,
    events_reset: bool,
    log_keep_before: Option<u64>,
    serial_sent: usize,
    serial_reset: bool,
}

/// Builds a machine in `mode` with `program` loaded.
pub fn build(program: &Loaded, mode: ExecMode) -> Result<Machine, String> {
    if let Some(setup) = &program.setup {
        return crate::labs::build_machine(setup, &program.image, mode);
    }
    let cfg = MachineConfig {
        ram_mib: RAM_MIB,
        mode,
        ..MachineConfig::default()
    };
    let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
    m.load_flat(program.origin, &program.image, program.entry)
        .map_err(|e| format!("cannot load the program: {e}"))?;
    Ok(m)
}

/// Whether a stop ends a run (anything but "go on").
fn ends_run(r: StopReason) -> bool {
    !matches!(r, StopReason::BudgetExhausted | StopReason::Stepped)
}

impl Session {
    /// A session with `program` loaded in `mode`.
    pub fn new(program: Loaded, mode: ExecMode) -> Result<Session, String> {
        let machine = build(&program, mode)?;
        let mut s = Session {
            machine,
            program,
            mode,
            breakpoints: Vec::new(),
            checkpoints: Vec::new(),
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
        };
        s.memory = (s.program.origin, Space::Physical);
        s.checkpoint();
        Ok(s)
    }

    /// Rebuilds the machine (same program, `mode`), keeping breakpoints and panels.
    pub fn reload(&mut self, mode: ExecMode) -> Result<(), String> {
        self.machine = build(&self.program, mode)?;
        self.mode = mode;
        for &b in &self.breakpoints {
            self.machine.add_breakpoint(b);
        }
        self.checkpoints.clear();
        self.checkpoint();
        self.last_stop = "reset".into();
        self.events_seen = 0;
        self.events_reset = true;
        self.serial_sent = 0;
        self.serial_reset = true;
        Ok(())
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

    fn checkpoint(&mut self) {
        let icount = self.machine.icount();
        if self.checkpoints.last().is_some_and(|c| c.0 == icount) {
            return;
        }
        if self.checkpoints.len() == MAX_CHECKPOINTS {
            // Keep the first (the load) and thin out the older half.
            self.checkpoints.remove(1);
        }
        self.checkpoints.push((icount, self.machine.snapshot()));
    }

    /// Called before each command that executes guest code.
    fn before_execution(&mut self) {
        self.code_pin = None;
        let icount = self.machine.icount();
        let last = self.checkpoints.last().map_or(0, |c| c.0);
        if self.checkpoints.is_empty() || icount.saturating_sub(last) >= CHECKPOINT_EVERY {
            self.checkpoint();
        }
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
        self.before_execution();
        let r = self.machine.step();
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
        if now == 0 {
            return Ok(false);
        }
        let target = now - 1;
        while self.checkpoints.last().is_some_and(|c| c.0 > target) {
            self.checkpoints.pop();
        }
        let Some((_, cp)) = self.checkpoints.last().cloned() else {
            return Ok(false);
        };
        self.machine.restore(&cp).map_err(|e| e.to_string())?;
        self.replay_to(target);
        self.events_seen = self.machine.events().total();
        self.log_keep_before = Some(self.machine.icount());
        self.serial_sent = 0;
        self.serial_reset = true;
        self.code_pin = None;
        self.last_stop = "stepped back".into();
        Ok(true)
    }

    /// Runs to exactly `target` retired instructions, through breakpoints.
    fn replay_to(&mut self, target: u64) {
        let mut guard = 0u64;
        while self.machine.icount() < target && guard < ADVANCE_BUDGET {
            guard += 1;
            let r = self.machine.run(target - self.machine.icount());
            match r {
                StopReason::Breakpoint(_) => {
                    let _ = self.machine.step();
                }
                StopReason::BudgetExhausted | StopReason::Stepped => {}
                _ => break,
            }
        }
    }

    /// Whether there is an earlier state to step back to.
    pub fn can_step_back(&self) -> bool {
        self.machine.icount() > 0 && !self.checkpoints.is_empty()
    }

    /// Runs at most `budget` instructions towards `until`; returns why it stopped
    /// (`BudgetExhausted` when the budget ran out first).
    pub fn advance(&mut self, until: Until, budget: u64) -> StopReason {
        self.before_execution();
        // A target reached through a temporary breakpoint is no breakpoint of the user's.
        let mut reached = None;
        // Leaving a breakpoint we stand on is the first instruction of any run.
        let r = match until {
            Until::Steps(n) => {
                let mut r = StopReason::Stepped;
                for _ in 0..u64::from(n).min(budget) {
                    r = self.machine.step();
                    if ends_run(r) {
                        break;
                    }
                }
                r
            }
            Until::Trap | Until::Exit(_) => {
                let seen = self.machine.events().total();
                let mut r = StopReason::BudgetExhausted;
                for _ in 0..budget {
                    let s = self.machine.step();
                    if ends_run(s) {
                        r = s;
                        break;
                    }
                    let trapped = self
                        .machine
                        .events()
                        .since(seen)
                        .any(|e| collect::ends_run_to(until, e));
                    if trapped {
                        r = StopReason::Stepped;
                        self.last_stop = "trap".into();
                        break;
                    }
                }
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
        if matches!(until, Until::Trap | Until::Exit(_)) && r == StopReason::Stepped {
            self.last_stop = "trap".into();
        }
        r
    }

    fn run_budget(&mut self, budget: u64) -> StopReason {
        if budget == 0 {
            return StopReason::BudgetExhausted;
        }
        let mut left = budget;
        let mut r = StopReason::BudgetExhausted;
        while left > 0 {
            let chunk = left.min(CHECKPOINT_EVERY);
            let before = self.machine.icount();
            r = self.machine.run(chunk);
            let done = self.machine.icount() - before;
            left = left.saturating_sub(done.max(1));
            if ends_run(r) {
                break;
            }
            if self.machine.icount() - self.checkpoints.last().map_or(0, |c| c.0)
                >= CHECKPOINT_EVERY
            {
                self.checkpoint();
            }
        }
        r
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

    /// Remembers an address to translate in every view.
    pub fn translate(&mut self, linear: u32) {
        self.walk = Some(linear);
    }

    /// Types into the serial port.
    pub fn serial_input(&mut self, bytes: &[u8]) {
        self.machine.push_serial_input(bytes);
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
        let serial = m.serial_output();
        let from = if self.serial_sent <= serial.len() {
            self.serial_sent
        } else {
            self.serial_reset = true;
            0
        };
        let serial_append = String::from_utf8_lossy(&serial[from..]).into_owned();
        self.serial_sent = serial.len();
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
            vcpu: collect::vcpu_line(m),
        };
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
                counters: Vec::new(),
            },
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
        assert_eq!(runs.len(), 3);
        assert_eq!(runs[0].serial, "fetch, decode, execute: done\n");
        assert_eq!(runs[0].stop, "halted");
    }

    #[test]
    fn trap_emulate_logs_exits_and_shows_shadow_tables() {
        let (mut s, _) = session("trap-emulate", ExecMode::TRAP_EMULATE);
        assert_eq!(s.advance(Until::Trap, ADVANCE_BUDGET), StopReason::Stepped);
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
        assert!(!shadow.directory.is_empty());
        assert_eq!(v.walk.expect("walked").result, Ok(0x0030_0000));
        assert!(
            v.new_events.iter().any(|e| e.reason == "exception"),
            "a true #PF"
        );
        let _ = p;
    }

    #[test]
    fn nested_paging_shows_the_nested_table() {
        let (mut s, _) = session("nested-paging", ExecMode::HW_ASSIST);
        s.advance(Until::Stop, ADVANCE_BUDGET);
        let v = s.view(false);
        assert!(v
            .vmm_tables
            .expect("nested tables")
            .title
            .starts_with("nested"));
        assert_eq!(v.vga[0][0], (b'H', 0x1f));
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
