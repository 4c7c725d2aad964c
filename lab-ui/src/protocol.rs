//! The page ↔ worker protocol: `Command`s the page sends, `Event`s the worker answers with.
//!
//! Everything the page draws arrives as a [`View`]: plain data taken from the
//! machine through its side-effect-free probes, so drawing never changes the guest.

use emulator_core::vmm::{
    ExitControls, ExitCounters, NestedStats, ShadowStats, TlbTagStats, TlbTagging,
};
use emulator_core::{Counters, CpuState, ExecMode, FlatEntry};
use serde::{Deserialize, Serialize};

/// The execution modes the page offers in its mode switch, in its order.
pub const MODE_SWITCH: [ExecMode; 4] = [
    ExecMode::Bare,
    ExecMode::TRAP_EMULATE,
    ExecMode::HW_ASSIST,
    ExecMode::HwAssist {
        paging: emulator_core::GuestPaging::Shadow,
    },
];

/// How fast "run" goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum Speed {
    /// A few instructions per frame: every change is visible.
    Slow,
    /// About a thousand instructions per frame.
    Medium,
    /// As fast as the worker can go, refreshing the view at display rate.
    #[default]
    Full,
}

impl Speed {
    /// All speeds, slowest first.
    pub const ALL: [Speed; 3] = [Speed::Slow, Speed::Medium, Speed::Full];

    /// A short label.
    pub const fn name(self) -> &'static str {
        match self {
            Speed::Slow => "slow",
            Speed::Medium => "medium",
            Speed::Full => "full",
        }
    }
}

/// Which address space the memory panel shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum Space {
    /// Physical addresses.
    #[default]
    Physical,
    /// Linear addresses, translated through the current page tables.
    Linear,
}

/// The most instructions one [`Command::Advance`] runs.
pub const ADVANCE_BUDGET: u64 = 5_000_000;

/// Where a run ends (besides breakpoints and guest stops).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Until {
    /// Only a breakpoint, a guest stop or a pause ends it.
    Stop,
    /// The next exception, interrupt or VM exit.
    Trap,
    /// The next VM exit of this reason.
    Exit(emulator_core::vmm::ExitReason),
    /// EIP's linear address equals this one.
    Linear(u32),
    /// This many instructions.
    Steps(u32),
}

/// What the page asks of the worker.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum Command {
    /// Builds a fresh machine in `mode` and loads `image` at `origin`.
    Load {
        /// The flat binary.
        image: Vec<u8>,
        /// Where it goes (physical = linear).
        origin: u32,
        /// How it starts.
        entry: FlatEntry,
        /// Bare or under a VMM.
        mode: ExecMode,
    },
    /// Builds a fresh machine in `mode` with `image` mapped as its ROM below 1 MiB,
    /// started at the reset vector F000:FFF0.
    LoadRom {
        /// The 64 or 128 KiB ROM image.
        image: Vec<u8>,
        /// Bare or under a VMM.
        mode: ExecMode,
    },
    /// Builds a fresh machine for a lab in `mode`: `image` at the lab's load address,
    /// with the setup (registers, memory, stack) of one of its visible tests.
    LoadLab {
        /// The flat binary.
        image: Vec<u8>,
        /// The lab and the test whose setup the machine starts from.
        setup: crate::labs::LabSetup,
        /// Bare or under a VMM.
        mode: ExecMode,
    },
    /// Drops the loaded program (a lab opens whose program is not loaded yet).
    Unload,
    /// Reloads the current program in another mode.
    SetMode(ExecMode),
    /// Tags the VMM's TLB entries (VPID/ASID) or flushes the TLB on every VM exit,
    /// from now on and after each reload.
    SetTlb(TlbTagging),
    /// Write-protects the guest's page tables in the shadow (a PTE store exits and
    /// the shadow follows it) or not, from now on and after each reload.
    SetPtProtect(bool),
    /// Reloads the current program (breakpoints are kept).
    Reset,
    /// One instruction.
    Step,
    /// One instruction, or a whole CALL / INT / REP until the next instruction.
    StepOver,
    /// One instruction back (restore a checkpoint and replay).
    StepBack,
    /// Runs in slices, refreshing the view at display rate, until `Until`, a
    /// breakpoint, a guest stop or [`Command::Pause`].
    Run(Until),
    /// Runs at once, without intermediate views, until `Until`, a breakpoint or a
    /// guest stop, at most [`ADVANCE_BUDGET`] instructions (demos and replays).
    Advance(Until),
    /// Stops a run.
    Pause,
    /// Shows the disassembly from this linear address (until the next stop).
    ShowCode(u32),
    /// How fast "run" goes.
    SetSpeed(Speed),
    /// Adds or removes a breakpoint at a linear address.
    ToggleBreakpoint(u32),
    /// Points the memory panel at an address.
    ShowMemory {
        /// The first address shown.
        addr: u32,
        /// Physical or linear.
        space: Space,
    },
    /// Walks the page tables for this linear address.
    Translate(u32),
    /// Runs in `tier`, translating entries after `threshold` executions.
    SetTier {
        /// The tier.
        tier: crate::xlate::Tier,
        /// Executions before an entry is translated.
        threshold: u32,
    },
    /// Shows this region of the translation cache in detail (`None`: none).
    ShowRegion(Option<u32>),
    /// Sets hardware assistance's exit controls on the machine just loaded (kept
    /// across a reset; a machine without them ignores it).
    SetExitControls(emulator_core::vmm::ExitControls),
    /// Bytes typed into the serial console.
    SerialInput(Vec<u8>),
    /// Adds course-pack labs (where each came from, its files), so that their
    /// visible tests run here as the page's do.
    AddPackLabs(Vec<(String, assignments::pack::PackLab)>),
    /// Installs the built-in demos and labs (the text of `builtin.json`, which the page
    /// fetched); the page sends it first.
    InstallBuiltin(String),
    /// Saves the machine as a file (answered by [`Event::MachineFile`]).
    SaveMachine,
    /// Replaces the machine with one saved as a file.
    LoadMachine(Vec<u8>),
    /// Runs a lab's visible tests against a submission.
    RunLabTests {
        /// The lab's id.
        lab: String,
        /// The submission's source.
        source: String,
    },
    /// Runs the current program to its end in every mode, for the side-by-side table.
    Compare,
    /// Runs the current program once per [`CrossoverRun`], stopping at each of its
    /// addresses, for the crossover picture.
    Crossover(Vec<CrossoverRun>),
    /// Runs backwards to the latest breakpoint or trap before this instruction (within
    /// the history).
    ReverseContinue,
    /// Goes back to the last instruction that changed a memory byte or a register.
    WhoWrote(Watch),
    /// Runs a Linux program under the process VM (answered by [`Event::Linux`]).
    RunLinux(crate::worker::linux::LinuxRun),
    /// Builds the machines from now on with these CPUs and quantum, and reloads the
    /// current program with them.
    SetSmp(crate::smp::Smp),
    /// Attaches a disk to the machine (none: takes it away) and restarts the guest.
    SetDisk(Option<crate::diskview::DiskSpec>),
    /// Takes an internal snapshot of the machine's qcow2 disk.
    DiskSnapshot(String),
}

/// What "who wrote this?" looks for.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Watch {
    /// A byte of memory, at an address of the given space.
    Memory {
        /// The address.
        addr: u32,
        /// Physical or linear (translated through the current page tables).
        space: Space,
    },
    /// A register, by its name in the registers panel (`eax`, `esp`, `eflags`, `cr3`, `ds`…).
    Register(Register),
}

/// The registers "who wrote this?" can watch.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Register {
    /// A general-purpose register, by its encoding (0 = EAX … 7 = EDI).
    Gpr(u8),
    /// EFLAGS.
    Eflags,
    /// A control register: 0, 2, 3 or 4.
    Cr(u8),
    /// A segment register's selector, by its encoding (0 = ES … 5 = GS).
    Segment(u8),
}

/// The general-purpose registers' names, by encoding.
const GPR_NAMES: [&str; 8] = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"];
/// The segment registers' names, by encoding.
const SEGMENT_NAMES: [&str; 6] = ["es", "cs", "ss", "ds", "fs", "gs"];

impl Register {
    /// Every register "who wrote this?" can watch.
    pub fn all() -> impl Iterator<Item = Register> {
        (0..8)
            .map(Register::Gpr)
            .chain([Register::Eflags])
            .chain([0, 2, 3, 4].map(Register::Cr))
            .chain((0..6).map(Register::Segment))
    }

    /// Its name in the registers panel (`eax`, `eflags`, `cr3`, `ds`…).
    pub fn name(self) -> String {
        match self {
            Register::Gpr(i) => GPR_NAMES[usize::from(i & 7)].to_string(),
            Register::Eflags => "eflags".to_string(),
            Register::Cr(n) => format!("cr{n}"),
            Register::Segment(i) => SEGMENT_NAMES[usize::from(i % 6)].to_string(),
        }
    }

    /// The register of a panel name.
    pub fn from_name(name: &str) -> Option<Register> {
        Register::all().find(|r| r.name() == name)
    }

    /// The register's value in `cpu`.
    pub fn read(self, cpu: &CpuState) -> u32 {
        match self {
            Register::Gpr(i) => cpu.gpr[usize::from(i & 7)],
            Register::Eflags => cpu.eflags,
            Register::Cr(0) => cpu.cr0,
            Register::Cr(2) => cpu.cr2,
            Register::Cr(3) => cpu.cr3,
            Register::Cr(_) => cpu.cr4,
            Register::Segment(i) => u32::from(cpu.seg[usize::from(i % 6)].selector),
        }
    }
}

/// What the worker tells the page.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub enum Event {
    /// A fresh picture of the machine.
    View(Box<View>),
    /// Something went wrong on the host side (bad image, bad snapshot…).
    Error(String),
    /// The results of [`Command::RunLabTests`].
    LabResults(Vec<TestResult>),
    /// The results of [`Command::Compare`].
    Comparison(Vec<ModeRun>),
    /// The results of [`Command::Crossover`]: per run, the counters at each stop.
    Crossover(Vec<(ExecMode, Vec<CounterSet>)>),
    /// The machine saved as a file (for [`Command::SaveMachine`]).
    MachineFile(Vec<u8>),
    /// How a [`Command::RunLinux`] went.
    Linux(Result<crate::worker::linux::LinuxReport, String>),
}

/// One visible test's outcome.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct TestResult {
    /// The test's name.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Points earned.
    pub score: f64,
    /// Points possible.
    pub max_score: f64,
    /// What differed, or a confirmation.
    pub message: String,
}

/// One run of the crossover: a mode, its exit controls, the addresses it stops at.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct CrossoverRun {
    /// The mode.
    pub mode: ExecMode,
    /// Hardware assistance's exit controls, when the run sets them.
    pub controls: Option<emulator_core::vmm::ExitControls>,
    /// The linear addresses it runs to, in order.
    pub stops: Vec<u32>,
}

/// One mode's line in the side-by-side comparison.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct ModeRun {
    /// The mode.
    pub mode: ExecMode,
    /// Why the run stopped.
    pub stop: String,
    /// Instructions retired.
    pub instructions: u64,
    /// The guest's serial output.
    pub serial: String,
    /// Every counter.
    pub counters: CounterSet,
}

/// The counters of a machine and of its VMM, as the core keeps them.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct CounterSet {
    /// The machine's.
    pub machine: Counters,
    /// The VMM's, when the machine has one.
    pub vmm: Option<VmmCounters>,
}

/// What the VMM counted.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct VmmCounters {
    /// Exits and their cycles, by reason.
    pub exits: ExitCounters,
    /// Sensitive instructions observed.
    pub sensitive_total: u64,
    /// Shadow paging, when the VMM keeps shadow tables.
    pub shadow: Option<ShadowStats>,
    /// Nested paging, when the VMM uses it.
    pub nested: Option<NestedStats>,
    /// The TLB's tagging and the flushes exits caused.
    #[serde(default)]
    pub tlb: TlbTagStats,
}

impl CounterSet {
    /// Every counter as `name = value`, in a fixed order: the machine's (exceptions by
    /// vector as `exceptions[14]`), then `vmm.exits`, `vmm.exit_cycles`, exits by
    /// reason, `vmm.sensitive_instructions`, and the shadow or nested statistics.
    pub fn rows(&self) -> Vec<(String, u64)> {
        let c = &self.machine;
        let mut out: Vec<(String, u64)> = vec![("instructions".into(), c.instructions)];
        for (v, n) in c.exceptions.iter().enumerate() {
            out.push((format!("exceptions[{v}]"), *n));
        }
        for (name, n) in [
            ("irqs", c.irqs),
            ("software_interrupts", c.software_interrupts),
            ("io", c.io),
            ("tlb_hits", c.tlb_hits),
            ("tlb_misses", c.tlb_misses),
            ("page_walks", c.page_walks),
            ("decode_hits", c.decode_hits),
            ("decode_misses", c.decode_misses),
            ("decode_invalidations", c.decode_invalidations),
            ("fast_instructions", c.fast_instructions),
            ("spin_instructions", c.spin_instructions),
        ] {
            out.push((name.into(), n));
        }
        let Some(v) = &self.vmm else {
            return out;
        };
        out.push(("vmm.exits".into(), v.exits.total));
        out.push(("vmm.exit_cycles".into(), v.exits.cycles));
        for (reason, n) in &v.exits.by_reason {
            out.push((format!("vmm.exits.{}", reason.name()), *n));
        }
        for (reason, n) in &v.exits.cycles_by_reason {
            out.push((format!("vmm.exit_cycles.{}", reason.name()), *n));
        }
        out.push(("vmm.sensitive_instructions".into(), v.sensitive_total));
        out.push(("vmm.tlb_flushes".into(), v.tlb.exit_flushes));
        if let Some(s) = &v.shadow {
            for (name, n) in [
                ("hidden_faults", s.hidden_faults),
                ("true_faults", s.true_faults),
                ("tables_built", s.tables_built),
                ("tables_dropped", s.tables_dropped),
                ("spaces_built", s.spaces_built),
                ("hits", s.hits),
                ("root_switches", s.root_switches),
            ] {
                out.push((format!("shadow.{name}"), n));
            }
        }
        if let Some(s) = &v.nested {
            for (name, n) in [
                ("walks", s.walks),
                ("references", s.references),
                ("native_references", s.native_references),
            ] {
                out.push((format!("nested.{name}"), n));
            }
        }
        out
    }
}

/// One decoded instruction of the disassembly panel.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DisasmLine {
    /// Linear address.
    pub addr: u32,
    /// The encoding in hex.
    pub bytes: String,
    /// Intel syntax.
    pub text: String,
}

/// A page-directory or page-table entry as the panel shows it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct TableEntry {
    /// Index in its table (0..1024).
    pub index: u32,
    /// The raw 32-bit entry.
    pub raw: u32,
}

impl TableEntry {
    /// Present.
    pub const fn present(self) -> bool {
        self.raw & 1 != 0
    }
    /// The frame (or table) address the entry points at.
    pub const fn frame(self) -> u32 {
        self.raw & 0xffff_f000
    }
    /// Page size (a 4 MiB page in a PDE).
    pub const fn large(self) -> bool {
        self.raw & 0x80 != 0
    }
    /// The flags as letters: P W U T C A D S G (a dot when clear).
    pub fn flag_letters(self) -> String {
        const NAMES: [(u32, char); 9] = [
            (0x001, 'P'),
            (0x002, 'W'),
            (0x004, 'U'),
            (0x008, 'T'),
            (0x010, 'C'),
            (0x020, 'A'),
            (0x040, 'D'),
            (0x080, 'S'),
            (0x100, 'G'),
        ];
        NAMES
            .iter()
            .map(|&(bit, c)| if self.raw & bit != 0 { c } else { '.' })
            .collect()
    }
}

/// A two-level page-table tree: the directory and the tables under present PDEs.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct TableTree {
    /// What this tree is ("guest", "shadow", "nested").
    pub title: String,
    /// The physical address of the directory.
    pub root: u32,
    /// Present directory entries.
    pub directory: Vec<TableEntry>,
    /// For each present PDE that points at a table: its index and the table's present entries.
    pub tables: Vec<(u32, Vec<TableEntry>)>,
}

/// One step of a page walk.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WalkStep {
    /// "PDE", "PTE" or a step of the nested walk.
    pub level: String,
    /// Where the entry was read.
    pub entry_addr: u32,
    /// Its value.
    pub entry: u32,
}

/// A translation of one linear address, step by step.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Walk {
    /// The address translated.
    pub linear: u32,
    /// The steps taken.
    pub steps: Vec<WalkStep>,
    /// The physical address, or why there is none.
    pub result: Result<u32, String>,
    /// The core's own account of the walk (nested steps included), when it gives one.
    pub detail: String,
    /// The page directory the walk started from (the guest's CR3, page-aligned).
    pub root: u32,
    /// Where the address lives in host-physical memory (through the nested table
    /// under nested paging); `None` when the guest does not map it.
    pub host: Option<u32>,
    /// Under nested paging: the two-dimensional walk, every reference in order.
    pub nested: Option<emulator_core::vmm::nested::NestedWalk>,
}

/// The memory panel's bytes.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct MemoryView {
    /// The first address.
    pub addr: u32,
    /// Physical or linear.
    pub space: Space,
    /// 16-byte rows; `None` for a row whose page is not mapped.
    pub rows: Vec<Option<Vec<u8>>>,
}

/// Everything the page draws, taken at one instant.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
pub struct View {
    /// Registers, flags, segments, control registers.
    pub cpu: CpuState,
    /// Instructions retired.
    pub icount: u64,
    /// The mode the machine runs in.
    pub mode: ExecMode,
    /// A run is in progress.
    pub running: bool,
    /// Why the machine last stopped (`stepped`, `breakpoint`, `halted`…).
    pub stop: String,
    /// Linear address of the next instruction.
    pub linear_eip: u32,
    /// Instructions from a stable window around EIP.
    pub disasm: Vec<DisasmLine>,
    /// Breakpoints (linear).
    pub breakpoints: Vec<u32>,
    /// The memory panel's bytes.
    pub memory: MemoryView,
    /// The guest's page tables from its CR3.
    pub guest_tables: Option<TableTree>,
    /// The shadow (trap-emulate) or nested (hw-assist) tables, when the mode has them.
    pub vmm_tables: Option<TableTree>,
    /// The last translation asked for.
    pub walk: Option<Walk>,
    /// TLB entries, one line each.
    pub tlb: Vec<String>,
    /// Events recorded after the previous view (the page appends them to its log).
    pub new_events: Vec<LogEntry>,
    /// The event ring was reset (reload, step back): the page clears its log first.
    pub events_reset: bool,
    /// After a step back: the page drops log entries from this instruction count on.
    pub log_keep_before: Option<u64>,
    /// Every counter.
    pub counters: CounterSet,
    /// Serial output after the previous view.
    pub serial_append: String,
    /// The serial output was reset: the page clears its console first.
    pub serial_reset: bool,
    /// The VGA text screen, 25 rows of 80 (character, attribute) cells.
    pub vga: Vec<Vec<(u8, u8)>>,
    /// Checkpoints available for stepping back.
    pub can_step_back: bool,
    /// The earliest instruction count stepping back can reach (the history's start).
    pub history_from: u64,
    /// Under a VMM: the guest's virtual CPU (what the guest believes), one line.
    pub vcpu: Option<String>,
    /// Under a VMM: the switches the toolbar's VMM settings show.
    #[serde(default)]
    pub vmm_settings: Option<VmmSettings>,
    /// The PCI bus and its virtio devices, when the machine has them.
    #[serde(default)]
    pub devices: Option<DevicesView>,
    /// The machine's disks, for the disk panel.
    #[serde(default)]
    pub disks: Vec<crate::diskview::DiskView>,
    /// Every CPU of the machine and its local APIC, and the machine's CPU options.
    #[serde(default)]
    pub smp: crate::smp::SmpView,
    /// The translating tier: the tier switch, the cache, its events.
    #[serde(default)]
    pub xlate: Option<crate::xlate::XlateView>,
}

/// The VMM's switches as the toolbar shows them.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VmmSettings {
    /// Whether the guest's page tables are write-protected in the shadow (`None`
    /// when the VMM keeps no shadow tables).
    pub pt_protect: Option<bool>,
    /// Hardware assistance's exit controls (`None` under trap-and-emulate).
    pub controls: Option<ExitControls>,
}

/// One line of the trap / VM-exit log.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LogEntry {
    /// Instructions retired before it happened.
    pub icount: u64,
    /// The instruction's linear address.
    pub linear_eip: u32,
    /// The filterable reason (`exception`, `interrupt`, `io`, `vm-exit`, …).
    pub reason: String,
    /// A one-line description.
    pub text: String,
    /// The linear page a shadow fill (hidden fault) or an injected page fault
    /// (true fault) concerns.
    pub page: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_letters_follow_the_bits() {
        let e = TableEntry {
            index: 0,
            raw: 0x0010_3067,
        };
        assert_eq!(e.flag_letters(), "PWU..AD..");
        assert_eq!(e.frame(), 0x0010_3000);
        assert!(e.present() && !e.large());
    }

    #[test]
    fn register_names_round_trip() {
        assert_eq!(Register::all().count(), 19);
        for r in Register::all() {
            assert_eq!(Register::from_name(&r.name()), Some(r));
        }
        let mut cpu = CpuState::reset();
        cpu.gpr[3] = 0x1234;
        assert_eq!(
            Register::from_name("ebx").map(|r| r.read(&cpu)),
            Some(0x1234)
        );
        assert_eq!(Register::from_name("eip"), None);
    }

    #[test]
    fn counter_rows_name_every_counter_once() {
        let mut c = CounterSet::default();
        c.machine.instructions = 7;
        c.machine.exceptions[14] = 2;
        let rows = c.rows();
        assert_eq!(rows[0], ("instructions".to_string(), 7));
        assert!(rows.contains(&("exceptions[14]".to_string(), 2)));
        assert!(rows.iter().all(|(n, _)| !n.starts_with("vmm.")));
        c.vmm = Some(VmmCounters::default());
        let with_vmm = c.rows();
        assert!(with_vmm.contains(&("vmm.exits".to_string(), 0)));
        let mut names: Vec<&String> = with_vmm.iter().map(|(n, _)| n).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), with_vmm.len());
    }

    #[test]
    fn commands_survive_the_worker_codec() {
        let c = Command::Load {
            image: vec![0x90, 0xf4],
            origin: 0x7c00,
            entry: FlatEntry::Real16,
            mode: ExecMode::TRAP_EMULATE,
        };
        let json = serde_json::to_string(&c).expect("serializes");
        let back: Command = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, c);
    }
}

/// The PCI bus and its virtio devices, for the devices panel (`None` in a view when
/// the machine has no PCI bus).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct DevicesView {
    /// Every PCI function, in slot order.
    pub functions: Vec<PciFunctionView>,
    /// The virtio devices.
    pub virtio: Vec<VirtioView>,
    /// The NE2000's registers, when the machine has one.
    #[serde(default)]
    pub ne2000: Option<Ne2000View>,
}

/// The NE2000's DP8390 registers and counters, for the devices panel.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct Ne2000View {
    /// `(register name, value)` in the order the panel shows them.
    pub registers: Vec<(String, u16)>,
    /// The station address in page 1's PAR0–5.
    pub par: [u8; 6],
    /// `(frames sent, frames received, frames dropped, interrupts raised, bytes moved
    /// by remote DMA)`.
    pub counters: (u64, u64, u64, u64, u64),
}

/// One PCI function as its configuration space shows it.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct PciFunctionView {
    /// `bus:device.function`.
    pub slot: String,
    /// What vmlab calls it.
    pub name: String,
    /// Vendor and device ID.
    pub vendor: u16,
    /// Device ID.
    pub device: u16,
    /// The command register.
    pub command: u16,
    /// Each BAR that is set, one line (`BAR0 I/O 0xc040`).
    pub bars: Vec<String>,
    /// The interrupt line the guest wrote and the pin (1 = INTA#; 0: none).
    pub irq: (u8, u8),
    /// The first 64 bytes of configuration space.
    pub config: Vec<u8>,
}

/// One virtio device: transport state and its queues.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct VirtioView {
    /// `virtio-blk` or `virtio-net`.
    pub name: String,
    /// The device status bits set, by name (`ACKNOWLEDGE`, `DRIVER`, `DRIVER_OK`…).
    pub status: Vec<String>,
    /// Features offered and accepted.
    pub features: (u32, u32),
    /// Used-buffer interrupts sent, and those the driver suppressed.
    pub interrupts: (u64, u64),
    /// Why the device stopped, if it did.
    pub error: Option<String>,
    /// Its queues.
    pub queues: Vec<QueueView>,
    /// Requests the interrupts announced (several per interrupt when the device
    /// coalesces a batch), and requests taken without a notify of their own.
    #[serde(default)]
    pub coalescing: (u64, u64),
    /// Whether the driver negotiated `VIRTIO_F_RING_EVENT_IDX`.
    #[serde(default)]
    pub event_idx: bool,
    /// The busy device (a service time): requests taken without a kick (kicks the
    /// driver skipped), notifies that came while busy, and whether it is busy now.
    #[serde(default)]
    pub busy: (u64, u64, bool),
    /// The interface the driver uses: `legacy` (I/O BAR 0) or `modern`.
    #[serde(default)]
    pub transport: String,
    /// The modern interface's capabilities: `(type name, BAR, offset, length)`.
    #[serde(default)]
    pub caps: Vec<(String, u8, u32, u32)>,
}

impl VirtioView {
    /// The notification and interrupt counters as `name = value` rows
    /// (`virtio-blk.notifies`, `.interrupts`, `.suppressed`, `.announced`, `.unkicked`,
    /// `.skipped`, `.busy-notifies`).
    pub fn rows(&self) -> Vec<(String, u64)> {
        let notifies = self.queues.iter().map(|q| q.notifies).sum();
        [
            ("notifies", notifies),
            ("interrupts", self.interrupts.0),
            ("suppressed", self.interrupts.1),
            ("announced", self.coalescing.0),
            ("unkicked", self.coalescing.1),
            ("skipped", self.busy.0),
            ("busy-notifies", self.busy.1),
        ]
        .into_iter()
        .map(|(k, n)| (format!("{}.{k}", self.name), n))
        .collect()
    }
}

/// One split virtqueue, read from guest memory.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct QueueView {
    /// Its number.
    pub index: u16,
    /// Descriptors.
    pub size: u16,
    /// Where its descriptor table, available ring and used ring are (none until the
    /// driver sets it up).
    pub layout: Option<(u32, u32, u32)>,
    /// The available ring's index as the driver wrote it, and the next entry the
    /// device takes.
    pub avail: (u16, u16),
    /// The used ring's index.
    pub used: u16,
    /// Notifications, and chains completed.
    pub notifies: u64,
    /// Chains completed.
    pub completed: u64,
    /// Descriptors that are not all zero: index, address, length, flags, next.
    pub descriptors: Vec<(u16, u64, u32, u16, u16)>,
    /// The newest available-ring entries: (position, descriptor head).
    pub avail_ring: Vec<(u16, u16)>,
    /// The newest used-ring entries: (position, descriptor head, bytes written).
    pub used_ring: Vec<(u16, u32, u32)>,
}
