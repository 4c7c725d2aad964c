//! A lecture demo's manifest (`demo.toml`): its guest and mode, and narrated steps,
//! each with what it runs, which panels it is about and what it claims the machine did.
//!
//! The build script checks every manifest with [`Manifest::parse`] and
//! [`Manifest::validate`], so this module uses nothing but `serde` and `toml`.

use std::collections::BTreeMap;

use serde::Deserialize;

#[path = "host_schedule.rs"]
pub mod host_schedule;
#[path = "kind_disk.rs"]
pub mod kind_disk;
#[path = "kind_host.rs"]
pub mod kind_host;
#[path = "kind_jvm.rs"]
pub mod kind_jvm;
#[path = "kind_net.rs"]
pub mod kind_net;

/// The execution modes a demo or a step may run in (the lab's mode switch spells
/// them so; `hw-assist-shadow` is hardware assistance with shadow paging).
pub const MODES: [&str; 4] = ["bare", "trap-emulate", "hw-assist", "hw-assist-shadow"];

/// The TLB settings a step may switch to: `tagged` (VPID/ASID, entries survive VM
/// exits) or `flush` (every exit and entry flushes the TLB).
pub const TLB_TAGGINGS: [&str; 2] = ["tagged", "flush"];

/// The tiers a demo or a step may run in: the general interpreter (decode and
/// dispatch), the fast tier (pre-decoded, threaded) and the translating tier.
pub const TIERS: [&str; 3] = ["interp", "fast", "translate"];

/// The most panels a step may focus: what one 1280×720 screen shows large.
pub const MAX_FOCUS: usize = 3;

/// One demo's `demo.toml`.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The menu title.
    pub title: String,
    /// Position in the demo menu (lecture order).
    pub order: u32,
    /// The guest's assembly source, relative to the demo's folder (a flat guest
    /// lives in the folder; a ROM guest may be one of `guests/`).
    /// A host demo's guest is its host scenario (TOML).
    pub guest: String,
    /// How the guest starts: `flat` (the default) or `rom`.
    #[serde(default)]
    pub boot: Boot,
    /// What the demo drives: a whole machine (the default) or another kind of VM.
    #[serde(default)]
    pub kind: Kind,
    /// The mode it starts in: one of [`MODES`].
    pub mode: String,
    /// CPUs in the machine (1 to [`MAX_CPUS`]; one when left out).
    pub cpus: Option<u32>,
    /// Instructions each CPU runs before the next one's turn (the machine's default
    /// when left out).
    pub quantum: Option<u64>,
    /// Hardware assistance's APIC virtualization with posted interrupts, on from the
    /// start (a step's `exit-controls` may turn it off).
    #[serde(default)]
    pub apicv: bool,
    /// Under a VMM, instructions the host runs one vCPU before the next (none when
    /// left out: the vCPUs interleave at the quantum).
    pub host_slice: Option<u64>,
    /// Pause-loop exiting (hardware assistance), on from the start.
    #[serde(default)]
    pub ple: bool,
    /// Co-scheduling of the vCPUs (with `host_slice`), on from the start.
    #[serde(default)]
    pub cosched: bool,
    /// The tier it starts in: one of [`TIERS`] (the lab's tier switch otherwise).
    pub tier: Option<String>,
    /// Executions of an entry before the translating tier translates it.
    pub threshold: Option<u32>,
    /// The narrated steps, in order.
    #[serde(rename = "step")]
    pub steps: Vec<Step>,
    /// What a JVM demo runs (`[jvm]`, `kind = "jvm"` only).
    pub jvm: Option<kind_jvm::JvmSetup>,
    /// A Linux demo's host files and container setups (`[linux]`).
    pub linux: Option<crate::kind_linux::LinuxDemo>,
    /// The disk a machine demo attaches (`[disk]`).
    pub disk: Option<kind_disk::DiskSetup>,
}

/// The kind of virtual machine a demo drives (`kind = "jvm"`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The x86 machine, bare or under a VMM (the default).
    #[default]
    Machine,
    /// The process VM: a Linux program on the emulated system-call interface.
    Linux,
    /// The JVM workbench: class files, interpreter, JIT and collectors.
    Jvm,
    /// The multi-VM host: several machines on one pool of frames.
    Host,
    /// A virtual network: switches, tunnels and machines with NICs (a `vmlab net` scenario).
    Net,
}

/// How a demo's guest starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Boot {
    /// A flat binary loaded at its `org` (`boot = "flat"`, the default).
    #[default]
    Flat,
    /// A 64 or 128 KiB ROM mapped below 1 MiB and started at the reset vector
    /// F000:FFF0 (`boot = "rom"`), like the teaching kernel.
    Rom,
}

impl Boot {
    /// The ROM sizes the machine maps.
    pub const ROM_SIZES: [usize; 2] = [0x1_0000, 0x2_0000];

    /// Where byte 0 of an image of `len` bytes sits in physical memory: the ROM's
    /// base below 1 MiB (its labels, assembled at `org 0`, are offsets from it), or
    /// `None` for a flat guest, whose labels are already addresses, or for an image
    /// the machine cannot map as a ROM.
    pub fn rom_base(self, len: usize) -> Option<u32> {
        match self {
            Boot::Flat => None,
            Boot::Rom if Boot::ROM_SIZES.contains(&len) => {
                u32::try_from(len).ok().map(|l| 0x10_0000 - l)
            }
            Boot::Rom => None,
        }
    }
}

/// How far a step runs the machine (from where the previous step left it).
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Run {
    /// Nothing runs: only narration (`run = "look"`, the default).
    #[default]
    Look,
    /// This many instructions (`run = { instructions = 3 }`).
    Instructions(u32),
    /// Until EIP reaches this label of the guest (`run = { to = "paging_on" }`).
    To(String),
    /// Until the next exception, interrupt or VM exit (`run = "to-trap"`).
    ToTrap,
    /// Until the next VM exit of this reason, as the log names it without `exit:`
    /// (`run = { to-exit = "page-fault" }`).
    ToExit(String),
    /// Until the guest stops (`run = "to-end"`).
    ToEnd,
    /// Until the JVM's next garbage collection (`run = "to-gc"`).
    ToGc,
}

/// A lab panel a step can be about (the part of its test id after `panel-`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Panel {
    /// The disassembly.
    Disasm,
    /// Registers, flags, control registers.
    Registers,
    /// Traps and VM exits.
    Log,
    /// The memory bytes.
    Memory,
    /// Page tables and the page walk.
    Pagetables,
    /// The TLB.
    Tlb,
    /// Counters and the virtualization cost.
    Counters,
    /// The serial console.
    Serial,
    /// The VGA text screen.
    Vga,
    /// The source editor.
    Editor,
    /// The side-by-side comparison of every mode.
    Compare,
    /// The page walk as a picture: the address's bit fields, CR3 → directory →
    /// table → frame, the entries' flags.
    Walk,
    /// Shadow paging as a picture: guest-virtual, guest-physical and
    /// host-physical pages, guest entries linked to their shadows, the faults.
    Shadow,
    /// The two-dimensional walk of nested paging as a grid, each reference in order.
    Nested,
    /// The cost of virtualization as one stacked bar per mode.
    Cost,
    /// The exit cycles of each phase of the guest, one bar per mode of the demo.
    Crossover,
    /// The JVM panel's bytecode of the current method, the pc marked.
    JvmCode,
    /// The JVM panel's frames, with their locals and operand stacks.
    JvmFrames,
    /// The JVM panel's constant pool.
    JvmPool,
    /// The JVM panel's heap view.
    JvmHeap,
    /// The JVM panel's collector counters.
    JvmCounters,
    /// The CPUs side by side: run state, EIP, next instructions, APIC requests.
    Cpus,
    /// Each CPU's local APIC: IRR, ISR, TPR, the timer, IPIs received.
    Apic,
    /// The translation cache: regions, events, one region's x86, IR and Wasm.
    Xlate,
    /// The process VM: the program's output and how it ended.
    Linux,
    /// The process VM's container: its root, host name, namespaces, mounts and limits.
    LinuxContainer,
    /// The process VM's process table (host pids beside the namespace's).
    LinuxProcesses,
    /// The process VM's system calls, as strace lists them.
    LinuxStrace,
    /// The same program as a process, in a container and as a unikernel: the costs.
    LinuxWays,
    /// The disk: the qcow2 L1/L2 mapping, refcounts, the sectors the guest moved.
    Disk,
    /// The JVM panel's JIT view: counters, events, each region's bytecode beside its x86.
    JvmJit,
    /// The PCI bus and each virtio device: status, notifications and interrupts, rings.
    Devices,
}

impl Panel {
    /// The panel's `data-testid` (and element id).
    pub const fn testid(self) -> &'static str {
        match self {
            Panel::Disasm => "panel-disasm",
            Panel::Registers => "panel-registers",
            Panel::Log => "panel-log",
            Panel::Memory => "panel-memory",
            Panel::Pagetables => "panel-pagetables",
            Panel::Tlb => "panel-tlb",
            Panel::Counters => "panel-counters",
            Panel::Serial => "panel-serial",
            Panel::Vga => "panel-vga",
            Panel::Editor => "panel-editor",
            Panel::Compare => "panel-compare",
            Panel::Walk => "panel-walk",
            Panel::Shadow => "panel-shadow",
            Panel::Nested => "panel-nested",
            Panel::Cost => "panel-cost",
            Panel::Crossover => "panel-crossover",
            Panel::JvmCode => "panel-jvm-code",
            Panel::JvmFrames => "panel-jvm-frames",
            Panel::JvmPool => "panel-jvm-pool",
            Panel::JvmHeap => "panel-jvm-heap",
            Panel::JvmCounters => "panel-jvm-counters",
            Panel::Cpus => "panel-cpus",
            Panel::Apic => "panel-apic",
            Panel::Xlate => "panel-xlate",
            Panel::Linux => "panel-linux",
            Panel::LinuxContainer => "panel-linux-container",
            Panel::LinuxProcesses => "panel-linux-processes",
            Panel::LinuxStrace => "panel-linux-strace",
            Panel::LinuxWays => "panel-linux-ways",
            Panel::Disk => "panel-disk",
            Panel::JvmJit => "panel-jvm-jit",
            Panel::Devices => "panel-devices",
        }
    }
}

/// The kinds of trap-log entry a step's `log` filter may name, besides
/// `exit:REASON` (one VM exit reason) and `exit` (every VM exit).
pub const LOG_KINDS: [&str; 7] = [
    "exception",
    "interrupt",
    "software-interrupt",
    "io",
    "triple-fault",
    "popek-goldberg",
    "sensitive",
];

/// A step's trap-log filter: one kind (`log = "popek-goldberg"`) or several
/// (`log = ["exit:io", "io"]`).
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(untagged)]
pub enum LogFilter {
    /// One kind.
    One(String),
    /// Several kinds.
    Many(Vec<String>),
}

impl LogFilter {
    /// The kinds, in the manifest's order.
    pub fn kinds(&self) -> Vec<String> {
        match self {
            LogFilter::One(k) => vec![k.clone()],
            LogFilter::Many(v) => v.clone(),
        }
    }
}

/// Whether a log entry of `reason` (`io`, `exit:cr-write`, `popek-goldberg`…)
/// passes a filter of `kinds`: an empty filter passes everything, `exit` passes
/// every VM exit, any other kind only its own entries.
pub fn log_passes(kinds: &[String], reason: &str) -> bool {
    kinds.is_empty()
        || kinds
            .iter()
            .any(|k| k == reason || (k == "exit" && reason.starts_with("exit:")))
}

/// Checks one kind of a `log` filter: a [`LOG_KINDS`] entry, `exit`, or
/// `exit:` and a lower-case, dash-separated reason name.
fn check_log_kind(kind: &str) -> Result<(), String> {
    if LOG_KINDS.contains(&kind) || kind == "exit" {
        return Ok(());
    }
    if let Some(name) = kind.strip_prefix("exit:") {
        let word = |w: &str| {
            !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        };
        if name.split('-').all(word) {
            return Ok(());
        }
        return Err(format!(
            "{kind:?}: `exit:` needs a reason name such as exit:io"
        ));
    }
    Err(format!(
        "{kind:?} is not one of {}, exit or exit:REASON",
        LOG_KINDS.join(", ")
    ))
}

/// Checks a `tier` key (one of [`TIERS`]) and its `threshold` (at least 1).
fn check_tier(tier: Option<&str>, threshold: Option<u32>) -> Result<(), String> {
    if let Some(t) = tier {
        if !TIERS.contains(&t) {
            return Err(format!("tier: {t:?} is not one of {}", TIERS.join(", ")));
        }
    }
    match threshold {
        Some(0) => Err("threshold: must be at least 1".into()),
        Some(_) if tier.is_none() => Err("threshold: goes with tier = \"translate\"".into()),
        _ => Ok(()),
    }
}

/// Which addresses the memory panel shows.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Space {
    /// Physical addresses.
    #[default]
    Physical,
    /// Linear addresses, through the current page tables.
    Linear,
}

/// Where a step points the memory panel.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryAt {
    /// The first address shown.
    pub addr: u32,
    /// Physical (the default) or linear.
    #[serde(default)]
    pub space: Space,
}

/// Hardware assistance's exit controls a step sets (`exit-controls = { io = false }`);
/// a control left out is on, as the VMM starts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ExitControlsSet {
    /// HLT exiting.
    pub hlt: Option<bool>,
    /// Unconditional I/O exiting.
    pub io: Option<bool>,
    /// CR3-load exiting.
    pub cr3_write: Option<bool>,
    /// CR0 and CR4 writes exit.
    pub cr0_cr4_write: Option<bool>,
    /// INVLPG exiting.
    pub invlpg: Option<bool>,
    /// Exceptions exit before their delivery.
    pub exceptions: Option<bool>,
    /// External-interrupt exiting.
    pub external_interrupts: Option<bool>,
    /// Interrupt-window exiting.
    pub interrupt_window: Option<bool>,
    /// APIC virtualization with posted interrupts (off unless named, or unless the
    /// demo sets `apicv`).
    pub apic_virtualization: Option<bool>,
}

/// What a step's narration says the machine did; a native test checks each claim.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Expect {
    /// The status line's stop reason, first word (`loaded`, `stepped`, `trap`,
    /// `reached` for a label run to, `breakpoint`, `halted`).
    pub stop: Option<String>,
    /// The label EIP is at.
    pub at: Option<String>,
    /// The CPL the registers panel shows.
    pub cpl: Option<u8>,
    /// The reason of the newest VM exit in the log (`interrupt-flag`, `cr3-write`…).
    pub exit: Option<String>,
    /// How much counters changed during the step (`"vmm.exits" = 0`); a counter
    /// not shown counts as 0.
    #[serde(default)]
    pub counters: BTreeMap<String, i64>,
    /// Linear pages the TLB holds after the step.
    #[serde(default)]
    pub tlb_has: Vec<u32>,
    /// Linear pages the TLB does not hold after the step.
    #[serde(default)]
    pub tlb_lacks: Vec<u32>,
    /// Text the serial console shows after the step.
    pub serial: Option<String>,
    /// The physical address the page-table panel's walk arrives at.
    pub walk: Option<u32>,
    /// What a JVM step claims about the frames and the heap.
    pub jvm: Option<kind_jvm::JvmExpect>,
    /// What the CPU strip shows of each CPU, in index order (an empty table
    /// claims nothing about its CPU).
    #[serde(default)]
    pub cpus: Vec<CpuExpect>,
    /// What the step claims about the disk and the exit counters' growth.
    pub disk: Option<kind_disk::DiskExpect>,
}

/// The run states a CPU claim may name.
pub const CPU_STATES: [&str; 3] = ["running", "halted", "wait-sipi"];
/// The operating modes a CPU claim may name.
pub const CPU_MODES: [&str; 3] = ["real", "protected", "paging"];
/// The most CPUs a demo's machine has.
pub const MAX_CPUS: u32 = 4;

/// What a step claims about one CPU.
#[derive(Clone, PartialEq, Eq, Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CpuExpect {
    /// Its run state: one of [`CPU_STATES`].
    pub state: Option<String>,
    /// Its operating mode: one of [`CPU_MODES`].
    pub mode: Option<String>,
    /// The label its EIP is at.
    pub at: Option<String>,
    /// Its CS selector.
    pub cs: Option<u16>,
    /// It is the CPU that runs now (the registers and disassembly panels show it).
    pub current: Option<bool>,
    /// Interrupts its APIC accepted from IPIs, in all.
    pub ipis: Option<u64>,
    /// Vectors requested at its APIC (IRR), not yet taken.
    pub irr: Option<Vec<u8>>,
    /// Vectors in service at its APIC.
    pub isr: Option<Vec<u8>>,
    /// Linear pages its TLB holds.
    #[serde(default)]
    pub tlb_has: Vec<u32>,
    /// Linear pages its TLB does not hold.
    #[serde(default)]
    pub tlb_lacks: Vec<u32>,
    /// Where the host has it: one of [`host_schedule::HOST_STATES`].
    pub host: Option<String>,
    /// Instructions it spent in PAUSE loops, in all.
    pub spin: Option<u64>,
}

impl Expect {
    /// Whether the step claims nothing.
    pub fn is_empty(&self) -> bool {
        *self == Expect::default()
    }
}

/// One narrated step.
#[derive(Clone, PartialEq, Eq, Debug, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Step {
    /// A short heading.
    pub title: String,
    /// What to look at and why it matters (Markdown).
    pub text: String,
    /// How far the machine runs.
    #[serde(default)]
    pub run: Run,
    /// The trap log shows only these kinds of entry during the step.
    pub log: Option<LogFilter>,
    /// A linear address the page-table panel translates.
    pub translate: Option<u32>,
    /// Where the memory panel points.
    pub memory: Option<MemoryAt>,
    /// Shows the guest run to its end in every mode, side by side.
    #[serde(default)]
    pub compare: bool,
    /// Names the phases of the guest (the `run = { to = ... }` steps of each mode
    /// the demo runs in, in order), and shows their exit cycles as bars per mode.
    #[serde(default)]
    pub crossover: Vec<String>,
    /// Switches the VMM's TLB to `tagged` or `flush` (one of [`TLB_TAGGINGS`])
    /// before the step runs; it holds for the later steps.
    pub tlb: Option<String>,
    /// Turns the VMM's write protection of the guest's page tables on or off
    /// before the step runs (shadow paging: a guest PTE store exits `pt-write`);
    /// it holds for the later steps.
    pub pt_protect: Option<bool>,
    /// The panels the step is about, most important first.
    #[serde(default)]
    pub focus: Vec<Panel>,
    /// Reruns the guest from its start in this mode (one of [`MODES`]) before the
    /// step's run; later steps go on in it.
    pub mode: Option<String>,
    /// Reruns the guest from its start with these exit controls (hardware
    /// assistance only) before the step's run.
    pub exit_controls: Option<ExitControlsSet>,
    /// Switches the tier (one of [`TIERS`]) before the step runs; it holds for the
    /// later steps.
    pub tier: Option<String>,
    /// Sets the translating tier's threshold before the step runs (with `tier`).
    pub threshold: Option<u32>,
    /// What the narration claims.
    #[serde(default)]
    pub expect: Expect,
    /// What a host demo's step does to the host, focuses and claims.
    pub host: Option<kind_host::HostStep>,
    /// What a JVM step changes before it runs.
    pub jvm: Option<kind_jvm::JvmStep>,
    /// A Linux demo's run, setup and claims for the step (`[step.linux]`).
    pub linux: Option<crate::kind_linux::LinuxStep>,
    /// Reruns the guest from its start under another host schedule.
    pub host_schedule: Option<host_schedule::HostScheduleSet>,
    /// What the step does to the disk after its run (`[step.disk]`).
    pub disk: Option<kind_disk::DiskStep>,
    /// What a network demo's step runs, focuses and claims (`[step.net]`).
    pub net: Option<kind_net::NetStep>,
}

/// Whether `source` defines `label` (a line starting `label:`).
pub fn defines_label(source: &str, label: &str) -> bool {
    source.lines().any(|l| {
        l.strip_prefix(label)
            .is_some_and(|rest| rest.starts_with(':'))
    })
}

/// `source` followed by the text of each file it `%include`s that `lookup` finds, so
/// the labels a demo stops at may be in the guest's includes (as the kernel's drivers).
pub fn with_includes<S: AsRef<str>>(source: &str, lookup: impl Fn(&str) -> Option<S>) -> String {
    let mut all = source.to_string();
    for name in includes(source) {
        if let Some(text) = lookup(&name) {
            all.push('\n');
            all.push_str(text.as_ref());
        }
    }
    all
}

/// The file names `source` pulls in with `%include "NAME"` (or `'NAME'`, `<NAME>`).
pub fn includes(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| {
            let rest = l.trim_start().strip_prefix("%include")?;
            let code = rest.split(';').next().unwrap_or("").trim();
            let inner = code.get(1..code.len().checked_sub(1)?)?;
            Some(inner.to_string())
        })
        .collect()
}

impl Step {
    /// Whether the step reruns the guest from its start (it sets a mode or exit controls).
    pub fn reruns(&self) -> bool {
        self.mode.is_some() || self.exit_controls.is_some() || self.host_schedule.is_some()
    }
}

impl Manifest {
    /// The index of the step that last reran the guest up to step `upto`, if any.
    pub fn rerun_at(&self, upto: usize) -> Option<usize> {
        self.steps
            .iter()
            .take(upto.saturating_add(1))
            .rposition(Step::reruns)
    }

    /// The mode the last step up to `upto` that set one names, if any.
    pub fn step_mode(&self, upto: usize) -> Option<&str> {
        self.steps
            .iter()
            .take(upto.saturating_add(1))
            .rev()
            .find_map(|s| s.mode.as_deref())
    }

    /// The mode step `upto` runs in: [`Manifest::step_mode`], else the demo's.
    pub fn mode_at(&self, upto: usize) -> &str {
        self.step_mode(upto).unwrap_or(&self.mode)
    }

    /// Checks that step `i` has a title and text and that no earlier step has its title.
    fn check_step_words(&self, i: usize) -> Result<(), String> {
        let Some(s) = self.steps.get(i) else {
            return Ok(());
        };
        let key = |k: &str| format!("step[{i}].{k}");
        if s.title.trim().is_empty() {
            return Err(key("title: empty"));
        }
        if s.text.trim().is_empty() {
            return Err(key("text: empty"));
        }
        if self.steps[..i].iter().any(|o| o.title == s.title) {
            return Err(key(&format!(
                "title: {:?} is used by an earlier step",
                s.title
            )));
        }
        Ok(())
    }

    /// Parses `demo.toml`; the error names the line and the key.
    pub fn parse(text: &str) -> Result<Manifest, String> {
        vmlab_net::toml_de::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// The CPUs of the demo's machine (one unless `cpus` says more).
    pub fn cpu_count(&self) -> u32 {
        self.cpus.unwrap_or(1)
    }

    /// Checks the machine options (`cpus`, `quantum`, `apicv`) and the steps'
    /// claims about each CPU.
    fn validate_machine(&self, guest_source: &str) -> Result<(), String> {
        if let Some(n) = self.cpus {
            if !(1..=MAX_CPUS).contains(&n) {
                return Err(format!("cpus: {n} is not between 1 and {MAX_CPUS}"));
            }
        }
        if self.quantum == Some(0) {
            return Err("quantum: must be at least 1".into());
        }
        if self.apicv && !self.mode.starts_with("hw-assist") {
            return Err(format!(
                "apicv: the demo runs in {}; APIC virtualization is hardware assistance's",
                self.mode
            ));
        }
        for (i, s) in self.steps.iter().enumerate() {
            if s.expect.cpus.len() > self.cpu_count() as usize {
                return Err(format!(
                    "step[{i}].expect.cpus: claims about {} CPUs, the machine has {}",
                    s.expect.cpus.len(),
                    self.cpu_count()
                ));
            }
            for (j, c) in s.expect.cpus.iter().enumerate() {
                let key = |k: &str| format!("step[{i}].expect.cpus[{j}].{k}");
                if let Some(st) = &c.state {
                    if !CPU_STATES.contains(&st.as_str()) {
                        return Err(key(&format!(
                            "state: {st:?} is not one of {}",
                            CPU_STATES.join(", ")
                        )));
                    }
                }
                if let Some(m) = &c.mode {
                    if !CPU_MODES.contains(&m.as_str()) {
                        return Err(key(&format!(
                            "mode: {m:?} is not one of {}",
                            CPU_MODES.join(", ")
                        )));
                    }
                }
                if let Some(l) = &c.at {
                    if !defines_label(guest_source, l) {
                        return Err(key(&format!("at: no label `{l}:` in {}", self.guest)));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks what parsing cannot: a known mode, steps with titles, text and focus,
    /// distinct titles, and labels that exist in `guest_source`. The error starts
    /// with the key (`step[2].run.to: …`).
    pub fn validate(&self, guest_source: &str) -> Result<(), String> {
        if self.title.trim().is_empty() {
            return Err("title: empty".into());
        }
        if self.kind == Kind::Host {
            return kind_host::validate_host(self, guest_source);
        }
        if self.kind == Kind::Jvm {
            return kind_jvm::validate_jvm(self, guest_source);
        }
        if self.kind == Kind::Net {
            return kind_net::validate_net(self, guest_source);
        }
        if self.kind == Kind::Linux {
            crate::kind_linux::validate(self)?;
        } else {
            crate::kind_linux::refuse(self)?;
        }
        if !matches!(self.kind, Kind::Machine | Kind::Linux) {
            return Err(format!(
                "kind: {:?} demos have no player in this build",
                self.kind
            ));
        }
        if self.jvm.is_some() {
            return Err("jvm: for kind = \"jvm\" demos only".into());
        }
        if !MODES.contains(&self.mode.as_str()) {
            return Err(format!(
                "mode: {:?} is not one of {}",
                self.mode,
                MODES.join(", ")
            ));
        }
        if self.steps.is_empty() {
            return Err("step: a demo needs at least one [[step]]".into());
        }
        self.validate_machine(guest_source)?;
        self.validate_host_schedule()?;
        kind_disk::validate_disk(self)?;
        check_tier(self.tier.as_deref(), self.threshold)?;
        let label = |key: String, name: &str| {
            if defines_label(guest_source, name) {
                Ok(())
            } else {
                Err(format!("{key}: no label `{name}:` in {}", self.guest))
            }
        };
        for (i, s) in self.steps.iter().enumerate() {
            let key = |k: &str| format!("step[{i}].{k}");
            self.check_step_words(i)?;
            if let Some(t) = &s.tlb {
                if !TLB_TAGGINGS.contains(&t.as_str()) {
                    return Err(key(&format!(
                        "tlb: {t:?} is not one of {}",
                        TLB_TAGGINGS.join(", ")
                    )));
                }
                if self.mode == "bare" {
                    return Err(key("tlb: a bare machine has no VMM to tag its TLB"));
                }
            }
            check_tier(s.tier.as_deref(), s.threshold).map_err(|e| key(&e))?;
            if s.pt_protect.is_some() && self.mode_at(i) == "bare" {
                return Err(key("pt-protect: a bare machine has no shadow page tables"));
            }
            match &s.run {
                Run::Instructions(0) => return Err(key("run.instructions: must be at least 1")),
                Run::To(l) => label(key("run.to"), l)?,
                Run::ToGc => return Err(key("run: to-gc is for kind = \"jvm\" demos")),
                _ => {}
            }
            if s.jvm.is_some() || s.expect.jvm.is_some() {
                return Err(key("jvm: for kind = \"jvm\" demos only"));
            }
            if let Some(l) = &s.expect.at {
                label(key("expect.at"), l)?;
            }
            if s.host.is_some() {
                return Err(key("host: only a host demo's step drives the host"));
            }
            if s.net.is_some() {
                return Err(key("net: only a network demo's step runs a network"));
            }
            if s.focus.is_empty() {
                return Err(key("focus: name the panels the step is about"));
            }
            if s.focus.len() > MAX_FOCUS {
                return Err(key(&format!(
                    "focus: at most {MAX_FOCUS} panels fit one projector screen"
                )));
            }
            for (j, p) in s.focus.iter().enumerate() {
                if s.focus[..j].contains(p) {
                    return Err(key(&format!("focus: {} twice", p.testid())));
                }
            }
            if let Some(m) = &s.mode {
                if !MODES.contains(&m.as_str()) {
                    return Err(key(&format!(
                        "mode: {m:?} is not one of {}",
                        MODES.join(", ")
                    )));
                }
            }
            if s.exit_controls.is_some() && !self.mode_at(i).starts_with("hw-assist") {
                return Err(key(&format!(
                    "exit-controls: the step runs in {}; exit controls are hardware assistance's",
                    self.mode_at(i)
                )));
            }
            if s.compare && !s.focus.contains(&Panel::Compare) {
                return Err(key(
                    "focus: a step with compare = true shows the compare panel",
                ));
            }
            if let Some(filter) = &s.log {
                let kinds = filter.kinds();
                if kinds.is_empty() {
                    return Err(key("log: name at least one kind of entry"));
                }
                for (j, kind) in kinds.iter().enumerate() {
                    check_log_kind(kind).map_err(|e| key(&format!("log[{j}]: {e}")))?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUEST: &str = "start:\n    nop\nthere:\n    hlt\n";

    fn manifest(steps: &str) -> Result<Manifest, String> {
        let m = Manifest::parse(&format!(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"bare\"\n{steps}"
        ))?;
        m.validate(GUEST)?;
        Ok(m)
    }

    #[test]
    fn a_demo_boots_flat_unless_it_names_a_rom() {
        let flat =
            manifest("[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"log\"]").expect("valid");
        assert_eq!(flat.boot, Boot::Flat);
        assert_eq!(flat.boot.rom_base(0x1_0000), None);
        let rom = Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"k.asm\"\nboot = \"rom\"\nmode = \"bare\"\nstep = []",
        )
        .expect("parses");
        assert_eq!(rom.boot, Boot::Rom);
        assert_eq!(rom.boot.rom_base(0x1_0000), Some(0xF_0000));
        assert_eq!(rom.boot.rom_base(0x2_0000), Some(0xE_0000));
        assert_eq!(rom.boot.rom_base(0x1_8000), None, "not a ROM size");
        let e = Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"k.asm\"\nboot = \"disk\"\nmode = \"bare\"\nstep = []",
        )
        .expect_err("an unknown boot");
        assert!(e.contains("boot"), "{e}");
    }

    #[test]
    fn a_tier_is_one_of_three_with_a_threshold_of_at_least_one() {
        let step = |keys: &str| {
            manifest(&format!(
                "[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"xlate\"]\n{keys}\n"
            ))
        };
        let m = step("tier = \"translate\"\nthreshold = 2").expect("valid");
        assert_eq!(m.steps[0].tier.as_deref(), Some("translate"));
        assert_eq!(m.steps[0].threshold, Some(2));
        assert_eq!(m.steps[0].focus, vec![Panel::Xlate]);
        let e = step("tier = \"jit\"").expect_err("an unknown tier");
        assert!(e.starts_with("step[0].tier:"), "{e}");
        let e = step("tier = \"translate\"\nthreshold = 0").expect_err("threshold 0");
        assert!(e.starts_with("step[0].threshold:"), "{e}");
        let e = step("threshold = 3").expect_err("a threshold alone");
        assert!(e.contains("goes with tier"), "{e}");
        let top = Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"bare\"\ntier = \"interp\"\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"log\"]",
        )
        .expect("parses");
        assert_eq!(top.tier.as_deref(), Some("interp"));
        assert!(top.validate(GUEST).is_ok());
    }

    #[test]
    fn a_log_filter_is_one_kind_or_several() {
        let step = |log: &str| {
            manifest(&format!(
                "[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"log\", \"walk\"]\nlog = {log}\n"
            ))
            .map(|m| m.steps[0].log.as_ref().map(LogFilter::kinds))
        };
        assert_eq!(
            step("\"popek-goldberg\""),
            Ok(Some(vec!["popek-goldberg".into()]))
        );
        assert_eq!(
            step("[\"exit:io\", \"io\", \"exit\"]"),
            Ok(Some(vec!["exit:io".into(), "io".into(), "exit".into()]))
        );
        let kinds = ["exit".to_string(), "io".to_string()];
        assert!(log_passes(&kinds, "exit:cr-write") && log_passes(&kinds, "io"));
        assert!(!log_passes(&kinds, "popek-goldberg") && !log_passes(&kinds, "exits"));
        assert!(log_passes(&[], "anything"));
        assert!(!log_passes(&["exit:io".to_string()], "exit:hlt"));
    }

    #[test]
    fn a_full_step_parses() {
        let m = manifest(
            "[[step]]\ntitle = \"a\"\ntext = \"*b*\"\nrun = { to = \"there\" }\ntranslate = 0x400000\nmemory = { addr = 0xb8000, space = \"linear\" }\nfocus = [\"disasm\", \"tlb\"]\n[step.expect]\nstop = \"reached\"\nat = \"there\"\ncpl = 0\nexit = \"hlt\"\ncounters = { \"vmm.exits\" = 0 }\ntlb-has = [0x400000]\n[[step]]\ntitle = \"b\"\ntext = \"c\"\nrun = \"to-end\"\nfocus = [\"serial\"]\n[[step]]\ntitle = \"c\"\ntext = \"d\"\nrun = { to-exit = \"page-fault\" }\nfocus = [\"log\"]\n",
        )
        .expect("valid");
        let s = &m.steps[0];
        assert_eq!(s.run, Run::To("there".into()));
        assert_eq!(s.translate, Some(0x40_0000));
        assert_eq!(s.memory.map(|m| m.space), Some(Space::Linear));
        assert_eq!(s.focus, [Panel::Disasm, Panel::Tlb]);
        assert_eq!(s.expect.counters.get("vmm.exits"), Some(&0));
        assert_eq!(s.expect.tlb_has, [0x40_0000]);
        assert_eq!(m.steps[1].run, Run::ToEnd);
        assert!(m.steps[1].expect.is_empty());
        assert_eq!(m.steps[2].run, Run::ToExit("page-fault".into()));
    }

    #[test]
    fn errors_name_the_key() {
        let step = |body: &str| format!("[[step]]\ntitle = \"a\"\ntext = \"b\"\n{body}");
        let cases = [
            (
                step("focus = [\"log\"]\nlog = \"popek\""),
                "step[0].log[0]: \"popek\" is not one of exception",
            ),
            (
                step("focus = [\"log\"]\nlog = [\"io\", \"exit:CR_write\"]"),
                "step[0].log[1]: \"exit:CR_write\": `exit:` needs a reason name",
            ),
            (
                step("focus = [\"log\"]\nlog = []"),
                "step[0].log: name at least one",
            ),
            (
                step("focus = [\"cost\", \"walks\"]"),
                "unknown variant `walks`",
            ),
            (
                step("run = { to = \"nowhere\" }\nfocus = [\"log\"]"),
                "step[0].run.to: no label `nowhere:` in g.asm",
            ),
            (
                step("focus = [\"log\"]\n[step.expect]\nat = \"gone\""),
                "step[0].expect.at: no label `gone:`",
            ),
            (
                step("run = { instructions = 0 }\nfocus = [\"log\"]"),
                "step[0].run.instructions",
            ),
            (step(""), "step[0].focus"),
            (step("focus = [\"log\", \"log\"]"), "panel-log twice"),
            (
                step("focus = [\"log\", \"tlb\", \"vga\", \"disasm\"]"),
                "at most 3 panels",
            ),
            (step("focus = [\"log\"]\ncompare = true"), "compare panel"),
            (
                step("focus = [\"log\"]\ntlb = \"vpid\""),
                "step[0].tlb: \"vpid\" is not one of tagged, flush",
            ),
            (
                step("focus = [\"log\"]\ntlb = \"flush\""),
                "step[0].tlb: a bare machine has no VMM",
            ),
            (
                step("focus = [\"log\"]\n") + &step("focus = [\"log\"]"),
                "step[1].title",
            ),
            (step("focus = [\"lgo\"]"), "unknown variant `lgo`"),
            (
                step("focus = [\"log\"]\nrun = \"sprint\""),
                "unknown variant `sprint`",
            ),
            (
                step("focus = [\"log\"]\nnarration = \"x\""),
                "unknown field `narration`",
            ),
            (
                step("focus = [\"log\"]\n[step.expect]\ncpu = 1"),
                "unknown field `cpu`",
            ),
            (
                step("focus = [\"log\"]\nmode = \"fast\""),
                "step[0].mode: \"fast\" is not one of",
            ),
            (
                step("focus = [\"log\"]\nexit-controls = { io = false }"),
                "step[0].exit-controls: the step runs in bare",
            ),
            (
                step("focus = [\"log\"]\nexit-controls = { cr2 = false }"),
                "unknown field `cr2`",
            ),
            (String::new(), "missing field `step`"),
            ("step = []".to_string(), "step: a demo needs at least one"),
        ];
        for (body, want) in cases {
            let e = manifest(&body).expect_err(want);
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
        let e =
            Manifest::parse("title = \"t\"\norder = 1\nguest = \"g\"\nmode = \"fast\"\nstep = []")
                .and_then(|m| m.validate(GUEST))
                .expect_err("a bad mode");
        assert!(e.starts_with("mode: \"fast\""), "{e}");
    }

    #[test]
    fn steps_rerun_in_their_mode_with_their_controls() {
        let step = |t: &str, body: &str| {
            format!("[[step]]\ntitle = \"{t}\"\ntext = \"b\"\nfocus = [\"log\"]\n{body}\n")
        };
        let m = manifest(
            &[
                step("a", ""),
                step(
                    "b",
                    "mode = \"hw-assist\"\nexit-controls = { io = false, hlt = true }",
                ),
                step("c", "run = \"to-end\""),
                step("d", "exit-controls = { cr3-write = false }"),
                step("e", "mode = \"hw-assist-shadow\""),
            ]
            .concat(),
        )
        .expect("valid");
        let modes: Vec<&str> = (0..5).map(|i| m.mode_at(i)).collect();
        assert_eq!(
            modes,
            [
                "bare",
                "hw-assist",
                "hw-assist",
                "hw-assist",
                "hw-assist-shadow"
            ]
        );
        let reruns: Vec<Option<usize>> = (0..5).map(|i| m.rerun_at(i)).collect();
        assert_eq!(reruns, [None, Some(1), Some(1), Some(3), Some(4)]);
        let c = m.steps[1].exit_controls.expect("controls");
        assert_eq!((c.io, c.hlt, c.invlpg), (Some(false), Some(true), None));
        assert_eq!(
            m.steps[3].exit_controls.and_then(|c| c.cr3_write),
            Some(false)
        );
    }

    #[test]
    fn machine_options_and_cpu_claims_are_checked() {
        let demo = |top: &str, expect: &str| {
            Manifest::parse(&format!(
                "title = \"t\"\norder = 1\nguest = \"g.asm\"\nmode = \"hw-assist\"\n{top}\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"cpus\", \"apic\"]\n[step.expect]\n{expect}\n"
            ))
            .and_then(|m| m.validate(GUEST).map(|()| m))
        };
        let m = demo(
            "cpus = 2\nquantum = 50\napicv = true",
            "cpus = [{ state = \"running\", at = \"start\" }, { state = \"wait-sipi\", mode = \"real\", cs = 0xf000, tlb-has = [0x400000] }]",
        )
        .expect("valid");
        assert_eq!((m.cpu_count(), m.quantum, m.apicv), (2, Some(50), true));
        assert_eq!(m.steps[0].focus, [Panel::Cpus, Panel::Apic]);
        assert_eq!(m.steps[0].expect.cpus[1].cs, Some(0xf000));
        assert_eq!(m.steps[0].expect.cpus[1].tlb_has, [0x40_0000]);
        assert_eq!(demo("", "stop = \"halted\"").map(|m| m.cpu_count()), Ok(1));
        for (top, expect, want) in [
            ("cpus = 9", "", "cpus: 9 is not between 1 and 4"),
            ("cpus = 2\nquantum = 0", "", "quantum: must be at least 1"),
            (
                "",
                "cpus = [{}, {}]",
                "step[0].expect.cpus: claims about 2 CPUs",
            ),
            (
                "cpus = 2",
                "cpus = [{ state = \"asleep\" }]",
                "cpus[0].state: \"asleep\"",
            ),
            (
                "cpus = 2",
                "cpus = [{}, { mode = \"long\" }]",
                "cpus[1].mode: \"long\"",
            ),
            (
                "cpus = 2",
                "cpus = [{ at = \"nowhere\" }]",
                "cpus[0].at: no label `nowhere:`",
            ),
            ("cpus = 2", "cpus = [{ eip = 1 }]", "unknown field `eip`"),
        ] {
            let e = demo(top, expect).expect_err(want);
            assert!(e.contains(want), "{want:?} not in {e:?}");
        }
        let bare = Manifest::parse(
            "title = \"t\"\norder = 1\nguest = \"g\"\nmode = \"bare\"\napicv = true\n[[step]]\ntitle = \"a\"\ntext = \"b\"\nfocus = [\"log\"]",
        )
        .and_then(|m| m.validate(GUEST))
        .expect_err("apicv on a bare machine");
        assert!(bare.starts_with("apicv: the demo runs in bare"), "{bare}");
    }

    #[test]
    fn includes_are_found_by_name() {
        let src = "bits 32\n%include \"pc.inc\"  ; devices\n  %include <b.inc>\nnop\n%include x\n";
        assert_eq!(includes(src), ["pc.inc", "b.inc"]);
        assert!(includes(GUEST).is_empty());
    }

    #[test]
    fn labels_are_whole_names() {
        assert!(defines_label(GUEST, "there"));
        assert!(!defines_label(GUEST, "ther"));
        assert!(!defines_label("    there:\n", "there"));
    }
}
