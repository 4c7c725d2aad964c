//! The machine in a Web Worker: takes [`Command`]s, answers with [`Event`]s, and runs
//! in time-boxed slices so that the page stays responsive and "pause" is heard.

pub mod collect;
pub mod devices;
pub mod disk;
pub mod linux;
pub mod linux_setup;
pub mod pace;
pub mod percpu;
pub mod session;
pub mod snapfile;
pub mod tsc_setup;
pub mod xlate_host;

use emulator_core::StopReason;
use gloo_worker::{HandlerId, Worker, WorkerScope};

use crate::protocol::{Command, Event, Speed, Until, ADVANCE_BUDGET};
use session::{Loaded, Session};

/// Milliseconds of guest execution per slice at full speed. Between slices the
/// worker yields through a message to itself ([`pace::Yield`]), which costs
/// microseconds, so the guest runs nearly all the time while a pause is still heard
/// within two frames.
const SLICE_MS: f64 = 30.0;
/// Instructions of the first chunk inside a full-speed slice; later chunks are sized
/// from the speed measured to take about [`CHUNK_MS`].
const FIRST_CHUNK: u64 = 100_000;
/// Milliseconds a chunk of a full-speed slice aims at (the clock is read between chunks).
const CHUNK_MS: f64 = 2.0;

/// Internal messages: the next slice of a run.
#[derive(Debug)]
pub enum Tick {
    /// Run the next slice of run number `.0`.
    Slice(u64),
}

/// The worker: one session, the run in progress, and the page to answer.
#[derive(Debug)]
pub struct MachineWorker {
    session: Option<Session>,
    running: Option<Until>,
    run_id: u64,
    speed: Speed,
    page: Option<HandlerId>,
    last_view: f64,
    /// Milliseconds until the next view while running at full speed.
    view_every: f64,
    /// Instructions per full-speed chunk.
    chunk: u64,
    /// The queue for the next slice (`None` outside a browser: a timeout then).
    next_slice: Option<pace::Yield>,
    /// The CPUs and quantum of the machines the page loads.
    smp: crate::smp::Smp,
    /// The tier switch's setting, given to every session loaded.
    tier: (crate::xlate::Tier, u32),
    /// MIPS measured at full speed, per tier (the last slice run in it).
    mips: Vec<(crate::xlate::Tier, f64)>,
}

fn now() -> f64 {
    js_sys::Date::now()
}

impl MachineWorker {
    fn send(&self, scope: &WorkerScope<Self>, event: Event) {
        if let Some(id) = self.page {
            scope.respond(id, event);
        }
    }

    fn send_view(&mut self, scope: &WorkerScope<Self>) {
        let running = self.running.is_some();
        let mips = self.mips.clone();
        if let Some(s) = self.session.as_mut() {
            let start = now();
            let mut v = s.view(running);
            if let Some(x) = v.xlate.as_mut() {
                x.mips = mips;
            }
            self.send(scope, Event::View(Box::new(v)));
            self.last_view = now();
            self.view_every = pace::view_interval(self.last_view - start);
        }
    }

    fn schedule(&self, scope: &WorkerScope<Self>) {
        let id = self.run_id;
        if self.speed != Speed::Slow {
            if let Some(y) = &self.next_slice {
                if y.post(id) {
                    return;
                }
            }
        }
        let scope = scope.clone();
        let delay = if self.speed == Speed::Slow { 50 } else { 0 };
        gloo_timers::callback::Timeout::new(delay, move || scope.send_message(Tick::Slice(id)))
            .forget();
    }

    fn start_run(&mut self, scope: &WorkerScope<Self>, until: Until) {
        if self.session.is_none() {
            return;
        }
        self.run_id += 1;
        self.running = Some(until);
        self.send_view(scope);
        self.schedule(scope);
    }

    fn slice(&mut self, scope: &WorkerScope<Self>) {
        let (Some(until), Some(s)) = (self.running, self.session.as_mut()) else {
            return;
        };
        let start = now();
        let mut stopped = false;
        match self.speed {
            Speed::Slow | Speed::Medium => {
                let n = if self.speed == Speed::Slow { 1 } else { 500 };
                stopped = s.advance(until, n) != StopReason::BudgetExhausted;
            }
            Speed::Full => {
                let icount0 = s.machine().icount();
                let mut t = start;
                while t - start < SLICE_MS {
                    let before = s.machine().icount();
                    let r = s.advance(until, self.chunk);
                    let t1 = now();
                    let ran = s.machine().icount() - before;
                    if r != StopReason::BudgetExhausted {
                        stopped = true;
                        break;
                    }
                    if t1 > t {
                        let per_ms = ran as f64 / (t1 - t);
                        self.chunk = ((per_ms * CHUNK_MS) as u64).clamp(10_000, 50_000_000);
                    } else {
                        self.chunk = self.chunk.saturating_mul(2).min(50_000_000);
                    }
                    t = t1;
                }
                let ms = now() - start;
                let ran = s.machine().icount() - icount0;
                if ms >= 5.0 && ran > 0 {
                    let tier = s.tier().0;
                    let m = ran as f64 / ms / 1000.0;
                    self.mips.retain(|(t, _)| *t != tier);
                    self.mips.push((tier, m));
                    self.mips.sort_by_key(|(t, _)| *t as u8);
                }
            }
        }
        if stopped {
            self.running = None;
            self.send_view(scope);
        } else {
            if self.speed != Speed::Full || now() - self.last_view >= self.view_every {
                self.send_view(scope);
            }
            self.schedule(scope);
        }
    }

    fn handle(&mut self, scope: &WorkerScope<Self>, cmd: Command) -> Result<(), String> {
        // Any command but a speed change ends a run in progress.
        if !matches!(cmd, Command::SetSpeed(_) | Command::Run(_)) {
            let was_running = self.running.take().is_some();
            if let (true, Command::Pause, Some(s)) = (was_running, &cmd, self.session.as_mut()) {
                s.pause();
            }
        }
        let loads = matches!(
            cmd,
            Command::Load { .. }
                | Command::LoadRom { .. }
                | Command::LoadLab { .. }
                | Command::LoadMachine(_)
        );
        match cmd {
            Command::Load {
                image,
                origin,
                entry,
                mode,
            } => {
                self.session = Some(Session::with_smp(
                    Loaded {
                        image,
                        origin,
                        entry,
                        setup: None,
                        rom: false,
                    },
                    mode,
                    self.smp,
                )?);
            }
            Command::LoadRom { image, mode } => {
                self.session = Some(Session::with_smp(Loaded::rom(image)?, mode, self.smp)?);
            }
            Command::LoadLab { image, setup, mode } => {
                self.session = Some(Session::new(crate::labs::loaded(image, setup)?, mode)?);
            }
            Command::Unload => {
                self.session = None;
                return Ok(());
            }
            Command::SetSpeed(sp) => {
                self.speed = sp;
                return Ok(());
            }
            Command::RunLabTests { lab, source } => {
                let results = crate::labs::run_visible_tests(&lab, &source);
                self.send(scope, Event::LabResults(results));
                return Ok(());
            }
            Command::RunLinux(run) => {
                self.send(scope, Event::Linux(linux::run(&run)));
                return Ok(());
            }
            Command::Run(until) => {
                self.start_run(scope, until);
                return Ok(());
            }
            Command::InstallBuiltin(text) => {
                crate::builtin::install(crate::builtin::FILE_NAME, &text)?;
                return Ok(());
            }
            Command::AddPackLabs(labs) => {
                for (from, lab) in labs {
                    assignments::pack::add(&from, lab)?;
                }
                return Ok(());
            }
            Command::LoadMachine(bytes) => {
                let s = Session::from_file(&bytes)?;
                self.smp = s.smp();
                self.session = Some(s);
            }
            Command::SetSmp(smp) => {
                self.smp = smp.clamped();
                if let Some(s) = self.session.as_mut() {
                    s.set_smp(self.smp)?;
                } else {
                    return Ok(());
                }
            }
            other => {
                let Some(s) = self.session.as_mut() else {
                    return Err("no program loaded: assemble one or open a demo".into());
                };
                match other {
                    Command::SetMode(mode) => s.reload(mode)?,
                    Command::SetTlb(t) => s.set_tlb(t),
                    Command::SetDisk(d) => s.set_disk(d)?,
                    Command::DiskSnapshot(n) => s.disk_snapshot(&n)?,
                    Command::SetPtProtect(p) => s.set_pt_protect(p),
                    Command::Reset => {
                        let mode = s.mode();
                        s.reload(mode)?;
                    }
                    Command::Step => {
                        s.step();
                    }
                    Command::StepOver => {
                        s.step_over();
                    }
                    Command::StepBack => {
                        if !s.step_back()? {
                            return Err("nothing to step back to".into());
                        }
                    }
                    Command::ReverseContinue => {
                        if !s.reverse_continue()? {
                            return Err("already at the start of the history".into());
                        }
                    }
                    Command::WhoWrote(watch) => {
                        if s.who_wrote(watch)?.is_none() {
                            self.send_view(scope);
                            return Err(
                                "nothing in the history changed it (it was set before the history starts)"
                                    .into(),
                            );
                        }
                    }
                    Command::Advance(until) => {
                        s.advance(until, ADVANCE_BUDGET);
                    }
                    Command::Pause => {}
                    Command::ShowCode(a) => s.show_code(a),
                    Command::ToggleBreakpoint(a) => s.toggle_breakpoint(a),
                    Command::ShowMemory { addr, space } => s.show_memory(addr, space),
                    Command::Translate(a) => s.translate(a),
                    Command::SetTier { tier, threshold } => {
                        self.tier = (tier, threshold);
                        s.set_tier(tier, threshold);
                    }
                    Command::ShowRegion(a) => s.show_region(a),
                    Command::SetExitControls(c) => s.set_exit_controls(c),
                    Command::SerialInput(bytes) => s.serial_input(&bytes),
                    Command::SaveMachine => {
                        let bytes = s.to_file()?;
                        self.send(scope, Event::MachineFile(bytes));
                        return Ok(());
                    }
                    Command::Compare => {
                        let runs = session::compare(s.program());
                        self.send(scope, Event::Comparison(runs));
                    }
                    Command::Crossover(runs) => {
                        let counters = session::crossover(s.program(), &runs);
                        self.send(scope, Event::Crossover(counters));
                    }
                    Command::Load { .. }
                    | Command::LoadRom { .. }
                    | Command::LoadLab { .. }
                    | Command::Unload
                    | Command::SetSpeed(_)
                    | Command::RunLabTests { .. }
                    | Command::RunLinux(_)
                    | Command::LoadMachine(_)
                    | Command::AddPackLabs(_)
                    | Command::InstallBuiltin(_)
                    | Command::SetSmp(_)
                    | Command::Run(_) => {}
                }
            }
        }
        if let (true, Some(s)) = (loads, self.session.as_mut()) {
            let (tier, threshold) = self.tier;
            s.set_tier(tier, threshold);
        }
        self.send_view(scope);
        Ok(())
    }
}

impl Worker for MachineWorker {
    type Message = Tick;
    type Input = Command;
    type Output = Event;

    fn create(scope: &WorkerScope<Self>) -> Self {
        let wake = scope.clone();
        MachineWorker {
            session: None,
            running: None,
            run_id: 0,
            speed: Speed::Full,
            page: None,
            last_view: 0.0,
            view_every: pace::VIEW_MS,
            chunk: FIRST_CHUNK,
            next_slice: pace::Yield::new(move |id| wake.send_message(Tick::Slice(id))),
            smp: crate::smp::Smp::default(),
            tier: (
                crate::xlate::Tier::default(),
                crate::xlate::DEFAULT_THRESHOLD,
            ),
            mips: Vec::new(),
        }
    }

    fn update(&mut self, scope: &WorkerScope<Self>, msg: Tick) {
        let Tick::Slice(id) = msg;
        if id == self.run_id && self.running.is_some() {
            self.slice(scope);
        }
    }

    fn received(&mut self, scope: &WorkerScope<Self>, cmd: Command, id: HandlerId) {
        self.page = Some(id);
        if let Err(e) = self.handle(scope, cmd) {
            self.send(scope, Event::Error(e));
        }
    }
}
