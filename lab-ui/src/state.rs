//! The page's state and its reducer: every change arrives as an [`Action`].
//!
//! The trap log and the serial text grow with every view; successive states share
//! them ([`Shared`]) so an action copies neither.

use std::cell::RefCell;
use std::collections::{BTreeSet, VecDeque};
use std::rc::Rc;

use yew::Reducible;

use crate::demos::Demo;
use crate::program::{Diag, Program};
use emulator_core::ExecMode;

use crate::protocol::{Event, LogEntry, ModeRun, Space, Speed, TestResult, View};

/// At most this many log lines are kept in the page.
pub const LOG_CAPACITY: usize = 2000;
/// At most this many characters of serial output are kept in the page.
pub const SERIAL_CAPACITY: usize = 64 * 1024;

/// A buffer that successive states share instead of copying: every state made from
/// one holds the same buffer, which changes in place (only the newest state is
/// drawn). States compare equal only if no change happened between them.
#[derive(Debug, Default)]
pub struct Shared<B> {
    inner: Rc<RefCell<B>>,
    generation: u64,
}

impl<B> Clone for Shared<B> {
    fn clone(&self) -> Self {
        Shared {
            inner: Rc::clone(&self.inner),
            generation: self.generation,
        }
    }
}

impl<B> PartialEq for Shared<B> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner) && self.generation == other.generation
    }
}

impl<B> Shared<B> {
    /// Changes the buffer.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut B) -> R) -> R {
        self.generation += 1;
        f(&mut self.inner.borrow_mut())
    }

    /// Reads the buffer.
    pub fn read<R>(&self, f: impl FnOnce(&B) -> R) -> R {
        f(&self.inner.borrow())
    }
}

/// Everything the page shows.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct LabState {
    /// The latest view from the worker.
    pub view: Option<Rc<View>>,
    /// The view before it (for highlighting changes).
    pub prev: Option<Rc<View>>,
    /// The trap / VM-exit log, oldest first.
    pub log: Shared<VecDeque<LogEntry>>,
    /// Only log entries of these kinds are shown (empty: every entry); see
    /// [`vmlab_demos::manifest::log_passes`]. A demo step may set it.
    pub log_filter: Vec<String>,
    /// The serial console's text.
    pub serial: Shared<String>,
    /// The translation cache's events, oldest first.
    pub xlate_log: Shared<VecDeque<crate::xlate::XlateLine>>,
    /// The editor's text.
    pub source: String,
    /// The program last assembled.
    pub program: Option<Rc<Program>>,
    /// The assembler's errors for the editor's text.
    pub diagnostics: Vec<Diag>,
    /// The mode of the mode switch.
    pub mode: ExecMode,
    /// The speed of "run".
    pub speed: Speed,
    /// The open demo and the step reached.
    pub demo: Option<(&'static Demo, usize)>,
    /// The open lab's id.
    pub lab: Option<String>,
    /// The visible tests' results.
    pub lab_results: Option<Vec<TestResult>>,
    /// The visible test whose setup the machine was loaded with by "debug this test"
    /// (`None`: the lab's default setup, that of the first test).
    pub lab_debug: Option<usize>,
    /// The editor holds the lab's draft from an earlier visit, not the starter.
    pub lab_draft: bool,
    /// The side-by-side comparison.
    pub comparison: Option<Vec<ModeRun>>,
    /// The crossover's counters: per run, at each stop.
    pub crossover: Option<Vec<(ExecMode, Vec<crate::protocol::CounterSet>)>>,
    /// The Linux panel's last run (None while none ran or one runs).
    pub linux: Option<Rc<Result<crate::worker::linux::LinuxReport, String>>>,
    /// Large type, high contrast.
    pub presentation: bool,
    /// The keyboard help overlay is open.
    pub help: bool,
    /// A short message for the status bar.
    pub status: String,
    /// The disassembly line selected (for run to cursor), linear.
    pub cursor: Option<u32>,
    /// Page-directory indices expanded in the page-table trees.
    pub expanded: BTreeSet<u32>,
    /// The memory panel's address and space.
    pub memory: (u32, Space),
}

/// A change to [`LabState`].
#[derive(Clone, Debug)]
pub enum Action {
    /// A message from the worker.
    Worker(Event),
    /// The editor's text changed.
    SetSource(String),
    /// The editor's text was assembled.
    Assembled(Result<Rc<Program>, Vec<Diag>>),
    /// The mode switch moved.
    SetMode(ExecMode),
    /// The speed changed.
    SetSpeed(Speed),
    /// The log filter changed (empty: every entry).
    SetFilter(Vec<String>),
    /// Presentation mode on or off.
    TogglePresentation,
    /// The help overlay opens or closes.
    SetHelp(bool),
    /// A demo opens at its first step.
    OpenDemo(&'static Demo),
    /// The open demo moves to a step.
    DemoStep(usize),
    /// The demo closes.
    CloseDemo,
    /// A lab opens with its draft or its starter; the previous machine is gone.
    OpenLab {
        /// The lab's id.
        id: String,
        /// The editor's text: the draft, a shared program or the starter.
        source: String,
        /// The text is the student's draft from an earlier visit.
        draft: bool,
    },
    /// The machine was loaded with a visible test's setup (`None`: the lab's default).
    SetLabDebug(Option<usize>),
    /// Text typed into the serial console, echoed there.
    SerialEcho(String),
    /// The lab page closes.
    CloseLab,
    /// A disassembly line is selected.
    SetCursor(u32),
    /// A page-directory entry is expanded or collapsed.
    ToggleExpanded(u32),
    /// The memory panel moves.
    SetMemory(u32, Space),
    /// A status message.
    Status(String),
}

/// The log filter step `i` of `demo` names (empty: every entry).
fn step_filter(demo: &Demo, i: usize) -> Vec<String> {
    demo.steps()
        .get(i)
        .and_then(|s| s.log.as_ref())
        .map(vmlab_demos::manifest::LogFilter::kinds)
        .unwrap_or_default()
}

impl Reducible for LabState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        s.apply(action);
        Rc::new(s)
    }
}

impl LabState {
    /// Applies one action in place.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::Worker(event) => self.apply_event(event),
            Action::SetSource(src) => self.source = src,
            Action::Assembled(Ok(p)) => {
                self.status = format!("assembled {} bytes at {:#x}", p.image.len(), p.origin);
                self.diagnostics.clear();
                self.program = Some(p);
            }
            Action::Assembled(Err(diags)) => {
                self.status = format!("{} assembler error(s)", diags.len());
                self.diagnostics = diags;
            }
            Action::SetMode(m) => self.mode = m,
            Action::SetSpeed(sp) => self.speed = sp,
            Action::SetFilter(f) => self.log_filter = f,
            Action::TogglePresentation => self.presentation = !self.presentation,
            Action::SetHelp(open) => self.help = open,
            Action::OpenDemo(d) => {
                self.demo = Some((d, 0));
                self.log_filter = step_filter(d, 0);
                self.lab = None;
                self.lab_results = None;
                self.comparison = None;
                self.crossover = None;
                self.source = d.source.to_string();
                self.mode = crate::demos::mode(d);
            }
            Action::DemoStep(i) => {
                if let Some((d, _)) = self.demo {
                    let i = i.min(d.steps().len().saturating_sub(1));
                    self.demo = Some((d, i));
                    self.log_filter = step_filter(d, i);
                }
            }
            Action::CloseDemo => self.demo = None,
            Action::OpenLab { id, source, draft } => {
                self.lab = Some(id);
                self.demo = None;
                self.lab_results = None;
                self.lab_debug = None;
                self.lab_draft = draft;
                self.comparison = None;
                self.crossover = None;
                self.source = source;
                self.program = None;
                self.diagnostics.clear();
                self.view = None;
                self.prev = None;
                self.log.update(VecDeque::clear);
                self.serial.update(String::clear);
            }
            Action::SetLabDebug(test) => self.lab_debug = test,
            Action::SerialEcho(text) => self.serial.update(|s| s.push_str(&text)),
            Action::CloseLab => {
                self.lab = None;
                self.lab_results = None;
                self.lab_debug = None;
                self.lab_draft = false;
            }
            Action::SetCursor(a) => self.cursor = Some(a),
            Action::ToggleExpanded(i) => {
                if !self.expanded.remove(&i) {
                    self.expanded.insert(i);
                }
            }
            Action::SetMemory(a, sp) => self.memory = (a, sp),
            Action::Status(msg) => self.status = msg,
        }
    }

    fn apply_event(&mut self, event: Event) {
        match event {
            Event::View(view) => {
                self.log.update(|log| {
                    if view.events_reset {
                        log.clear();
                    }
                    if let Some(before) = view.log_keep_before {
                        log.retain(|e| e.icount < before);
                    }
                    log.extend(view.new_events.iter().cloned());
                    let excess = log.len().saturating_sub(LOG_CAPACITY);
                    log.drain(..excess);
                });
                if let Some(x) = &view.xlate {
                    self.xlate_log.update(|log| {
                        if x.events_reset {
                            log.clear();
                        }
                        log.extend(x.new_events.iter().cloned());
                        let excess = log.len().saturating_sub(LOG_CAPACITY);
                        log.drain(..excess);
                    });
                }
                if view.serial_reset || !view.serial_append.is_empty() {
                    self.serial.update(|serial| {
                        if view.serial_reset {
                            serial.clear();
                        }
                        serial.push_str(&view.serial_append);
                        if serial.len() > SERIAL_CAPACITY {
                            let mut cut = serial.len() - SERIAL_CAPACITY;
                            while !serial.is_char_boundary(cut) {
                                cut += 1;
                            }
                            serial.drain(..cut);
                        }
                    });
                }
                self.mode = view.mode;
                self.status = if view.running {
                    "running".to_string()
                } else if self.cursor == Some(view.linear_eip) && view.stop.starts_with("reached") {
                    format!(
                        "stopped: at the cursor ({:08x}) after {} instructions",
                        view.linear_eip, view.icount
                    )
                } else {
                    format!("stopped: {} after {} instructions", view.stop, view.icount)
                };
                self.prev = self.view.take();
                self.view = Some(Rc::new(*view));
            }
            Event::Error(msg) => self.status = format!("error: {msg}"),
            Event::LabResults(r) => {
                let passed = r.iter().filter(|t| t.passed).count();
                self.status = format!("{passed} of {} visible tests passed", r.len());
                self.lab_results = Some(r);
            }
            Event::Comparison(c) => self.comparison = Some(c),
            Event::Crossover(c) => self.crossover = Some(c),
            Event::Linux(r) => {
                self.status = match &r {
                    Ok(report) => report.status.clone(),
                    Err(e) => format!("error: {e}"),
                };
                self.linux = Some(Rc::new(r));
            }
            Event::MachineFile(bytes) => {
                self.status = format!("saved the machine ({} KiB)", bytes.len().div_ceil(1024));
            }
        }
    }

    /// The newest `n` log entries that pass the filter, newest first.
    pub fn recent_log(&self, n: usize) -> Vec<LogEntry> {
        self.log.read(|log| {
            log.iter()
                .rev()
                .filter(|e| vmlab_demos::manifest::log_passes(&self.log_filter, &e.reason))
                .take(n)
                .cloned()
                .collect()
        })
    }

    /// Every kept log entry that passes the filter, oldest first (for export).
    pub fn filtered_log(&self) -> Vec<LogEntry> {
        self.log.read(|log| {
            log.iter()
                .filter(|e| vmlab_demos::manifest::log_passes(&self.log_filter, &e.reason))
                .cloned()
                .collect()
        })
    }

    /// Entries in the log.
    pub fn log_len(&self) -> usize {
        self.log.read(VecDeque::len)
    }

    /// The reasons present in the log, sorted, for the filter menu.
    pub fn log_reasons(&self) -> Vec<String> {
        self.log.read(|log| {
            let set: BTreeSet<&str> = log.iter().map(|e| e.reason.as_str()).collect();
            set.into_iter().map(str::to_string).collect()
        })
    }

    /// The serial console's text.
    pub fn serial_text(&self) -> String {
        self.serial.read(String::clone)
    }

    /// True while the worker is running the guest.
    pub fn running(&self) -> bool {
        self.view.as_ref().is_some_and(|v| v.running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::MemoryView;
    use emulator_core::CpuState;

    fn view(n: u64, log: &[&str], serial: &str, reset: bool) -> Event {
        Event::View(Box::new(View {
            cpu: CpuState::reset(),
            icount: n,
            mode: ExecMode::TRAP_EMULATE,
            running: false,
            stop: "stepped".into(),
            linear_eip: 0,
            disasm: vec![],
            breakpoints: vec![],
            memory: MemoryView::default(),
            guest_tables: None,
            vmm_tables: None,
            walk: None,
            tlb: vec![],
            new_events: log
                .iter()
                .map(|r| LogEntry {
                    icount: n,
                    linear_eip: 0,
                    reason: r.to_string(),
                    text: String::new(),
                    page: None,
                })
                .collect(),
            events_reset: reset,
            log_keep_before: None,
            counters: Default::default(),
            serial_append: serial.into(),
            serial_reset: reset,
            vga: vec![],
            can_step_back: false,
            history_from: 0,
            vcpu: None,
            vmm_settings: None,
            devices: None,
            disks: vec![],
            smp: Default::default(),
            xlate: None,
        }))
    }

    #[test]
    fn views_append_log_and_serial_until_a_reset() {
        let mut s = LabState::default();
        s.apply(Action::Worker(view(1, &["io", "vm-exit"], "a", false)));
        s.apply(Action::Worker(view(2, &["io"], "b", false)));
        assert_eq!(s.log_len(), 3);
        assert_eq!(s.serial_text(), "ab");
        assert_eq!(s.prev.as_ref().map(|v| v.icount), Some(1));
        assert_eq!(s.mode, ExecMode::TRAP_EMULATE);
        s.apply(Action::SetFilter(vec!["io".into()]));
        assert_eq!(s.recent_log(10).len(), 2);
        assert_eq!(s.recent_log(1).len(), 1);
        assert_eq!(s.log_reasons(), ["io", "vm-exit"]);
        s.apply(Action::Worker(view(0, &["vm-exit"], "c", true)));
        assert_eq!(s.log_len(), 1);
        assert_eq!(s.serial_text(), "c");
    }

    #[test]
    fn demo_steps_stay_in_range_and_labs_replace_demos() {
        let mut s = LabState::default();
        let d = &crate::demos::all()[0];
        s.apply(Action::OpenDemo(d));
        assert_eq!(s.source, d.source);
        s.apply(Action::DemoStep(999));
        assert_eq!(s.demo.map(|(_, i)| i), Some(d.steps().len() - 1));
        s.apply(Action::Worker(view(5, &["io"], "demo output", false)));
        s.apply(Action::OpenLab {
            id: "warmup".into(),
            source: "; start here".into(),
            draft: false,
        });
        assert!(s.demo.is_none());
        assert_eq!(s.source, "; start here");
        assert!(s.view.is_none(), "the demo's machine is gone");
        assert!(s.log.read(VecDeque::is_empty) && s.serial.read(String::is_empty));
    }

    #[test]
    fn a_run_to_the_cursor_says_so() {
        let mut s = LabState::default();
        s.apply(Action::SetCursor(0));
        if let Event::View(mut v) = view(3, &[], "", false) {
            v.stop = "reached 00000000".into();
            s.apply(Action::Worker(Event::View(v)));
        }
        assert_eq!(
            s.status,
            "stopped: at the cursor (00000000) after 3 instructions"
        );
        s.apply(Action::SerialEcho("typed\n".into()));
        assert_eq!(s.serial.read(String::clone), "typed\n");
    }

    #[test]
    fn the_log_is_bounded() {
        let mut s = LabState::default();
        let many: Vec<&str> = std::iter::repeat_n("io", LOG_CAPACITY + 10).collect();
        s.apply(Action::Worker(view(1, &many, "", false)));
        assert_eq!(s.log_len(), LOG_CAPACITY);
    }

    #[test]
    fn actions_share_the_log_and_the_console_and_views_change_them() {
        let s = Rc::new(LabState::default());
        let s = s.reduce(Action::Worker(view(1, &["io"], "a", false)));
        let after_view = s.clone();
        let s = s.reduce(Action::SetCursor(0x10));
        assert!(
            Rc::ptr_eq(&s.log.inner, &after_view.log.inner),
            "not copied"
        );
        assert!(Rc::ptr_eq(&s.serial.inner, &after_view.serial.inner));
        assert_eq!(s.log, after_view.log, "a non-view action leaves them equal");
        let s = s.reduce(Action::Worker(view(2, &["io"], "b", false)));
        assert_ne!(s.log, after_view.log, "a view changes the log");
        assert_ne!(s.serial, after_view.serial);
        assert_eq!((s.log_len(), s.serial_text().as_str()), (2, "ab"));
    }
}
