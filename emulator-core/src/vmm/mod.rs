//! The VMM model: the same guest runs bare, under a classic trap-and-emulate
//! VMM with shadow paging, or under a VT-x-like hardware-assisted VMM with
//! nested (or shadow) paging, and every VM exit is recorded, counted and costed.
//!
//! # The machine and the VMM
//!
//! The emulated CPU is the "hardware". The VMM is Rust code that the machine
//! calls at four points, and nowhere else. Each call acts for one vCPU: it gets
//! that CPU's registers and a [`VmmHost`] (shared memory and devices, that CPU's
//! TLB), and [`Vmm::vcpu`] is that CPU's virtual state (the machine switches it
//! with its CPU). Per VM are the shadow and nested tables, the exit controls, the
//! cost model, the exit counters and the reports.
//!
//! * [`Vmm::intercept`]: every exception and interrupt the hardware would
//!   deliver through the IDT goes to the VMM first. Under trap-and-emulate the
//!   VMM owns the hardware IDT, so it decides: a #GP raised by a privileged
//!   instruction of the guest kernel is decoded and emulated on the virtual CPU;
//!   anything else is injected through the *guest's* IDT, as the real CPU would
//!   deliver it (gate checks, stack switch from the guest's TSS, the frame the
//!   guest expects). Under hardware assistance the exception exit control says
//!   whether an exception exits before it is delivered natively.
//! * [`Vmm::before_execute`]: each decoded instruction, before it runs. This is
//!   where hardware assistance's exit controls (HLT, I/O, CR3, CR0/CR4, INVLPG)
//!   act, where CPUID and VMCALL always exit (CPUID faulting under
//!   trap-and-emulate, as Xen uses for its paravirtual guests), and where the
//!   sensitive but unprivileged instructions of a deprivileged kernel are
//!   observed for the Popek–Goldberg report.
//! * [`Vmm::translate`]: the page walk on a TLB miss. Under trap-and-emulate
//!   (and hardware assistance with `--paging shadow`) the MMU uses the VMM's
//!   shadow tables ([`shadow`]); under nested paging it makes the
//!   two-dimensional walk ([`nested`]).
//! * [`Vmm::interrupts_enabled`]: whether the hardware may take an interrupt
//!   now. The VMM keeps the deprivileged guest kernel's interrupt flag (CLI and
//!   STI trap), so the interrupt window is the virtual one.
//!
//! # Modes
//!
//! **bare**: no VMM; the machine never calls one.
//!
//! **trap-emulate**: while the guest is in real mode the VMM interprets it (as
//! early VMMs did: real mode cannot be deprivileged, and vmlab's emulated CPU
//! is the interpreter), without exits. The guest's MOV to CR0 that sets PE is
//! the one real-mode exit (`mode-switch`): from then on the guest kernel runs
//! deprivileged at ring 1 (`guest_ring`, as VMware and 32-bit Xen did; 2 also
//! works, and 3 as 64-bit Xen PV does it, see *Ring 3* below).
//! The hardware then runs with the VMM's values: IDTR = the VMM's IDT
//! ([`vcpu::VMM_IDT_BASE`]), TR over the VMM's TSS without an I/O bitmap and
//! with the kernel's ring as its RPL ([`vcpu::vmm_task_register`]), CR0 with PG/WP/NE set (the shadow tables),
//! EFLAGS with IOPL = 0 (IF mirrors the virtual IF, so PUSHF reads it true,
//! but the guest's POPF cannot change it), so every CLI, STI, HLT,
//! IN/OUT, MOV to or from CRn/DRn, LGDT/LIDT/LLDT/LTR, INVLPG, CLTS, LMSW,
//! WBINVD, RDTSC with CR4.TSD faults with #GP and is emulated on the
//! [`vcpu::VirtualCpu`]. Ring compression costs exits too: loads of the guest's
//! DPL-0 data and stack selectors, far jumps into its DPL-0 code and IRETs back
//! into its kernel fault at ring 1 and are emulated (`segment-load`,
//! `far-transfer`, `iret`). As on IA-32 the CPL is CS.RPL: while the kernel runs
//! at ring 1 its CS and SS selectors carry RPL 1 ([`Vmm::compress_rpl`]), so MOV
//! or PUSH from CS/SS read `0x09` where a real machine gives `0x08`, as on 32-bit
//! Xen, and are reported. A selector the kernel read that way and hands back (a
//! far jump, RETF, IRET or a segment load) names its own ring-0 segment and is
//! taken as RPL 0 ([`Vmm::guest_selector`]); the frames the VMM builds itself
//! (injections, emulated far calls) hold the guest's virtual RPL 0. The
//! hardware GDT is the guest's own, so SGDT and SLDT read true; SIDT, SMSW,
//! PUSHF, CS.RPL and the RPL of the TR selector that STR reads do not.
//! Guest interrupts and exceptions are injected through the guest's IDT; a
//! true page fault sets the virtual CR2. The guest's page tables are never used
//! by the hardware: [`shadow`] tables map guest-virtual to host-physical,
//! hidden faults fill them (setting the guest's A and D bits), true faults are
//! injected with the guest's error code, guest CR3 writes switch and
//! resynchronize them, INVLPG trims them, and at ring 1 or 2 supervisor-only
//! guest pages stay out of ring 3's reach because the kernel's ring is a
//! supervisor ring too.
//! Virtual-8086 mode and task gates are not virtualized (a task gate in the
//! guest's IDT is reported as #GP).
//!
//! **Ring 3** (`guest_ring` 3, `vmlab run --mode trap-emulate --guest-ring 3`):
//! the guest kernel and its user mode share hardware ring 3, so the hardware
//! ring no longer tells them apart. The VMM tracks the virtual CPL itself
//! ([`VirtualCpu::cpl`], read by [`Vmm::guest_cpl`]): an injection through the
//! guest's IDT enters the handler's (virtual) ring, normally 0; an emulated IRET
//! or far RET leaves for the ring in the popped CS. At ring 3 the kernel's IRET
//! or RETF to its user mode would be a same-ring return on the hardware (no SS:ESP
//! popped), so every IRET and far RET of the guest kernel exits (`iret`,
//! `far-transfer`), where ring 1 runs those to user mode natively; this is the
//! extra exit of ring 3. Privileged instructions and the #GP they raise are
//! told apart by the virtual CPL: the kernel's are emulated, its user mode's are
//! the guest's own #GP. Since both run as hardware user accesses, the shadow
//! keeps two roots per guest address space ([`ShadowPaging::select_root`]): a
//! kernel-mode root, filled by the guest kernel's supervisor walks and mapping
//! every page it may touch user-accessible, and a user-mode root, filled by
//! user walks, in which the guest's supervisor-only pages are absent (a user
//! access to one is a true #PF with the guest's error code, U/S set). Each change
//! of the virtual CPL switches the root, which on real hardware reloads CR3 and
//! flushes the TLB: vmlab flushes the TLB, counts it
//! ([`ShadowStats::root_switches`]) and charges [`shadow::ROOT_SWITCH_CYCLES`]
//! to the exit cycles. Both roots are resynchronized by a guest CR3 write and
//! trimmed by INVLPG. The sensitive instructions reported are the same as at
//! ring 1 (LAR, LSL, VERR and VERW now answer for ring 3).
//!
//! **hw-assist**: the guest runs at ring 0 in "non-root" mode with its own
//! control registers and tables. Exits happen where the [`ExitControls`] say;
//! the VMM's handling of HLT, I/O, CR and INVLPG exits has the native
//! semantics (the devices are the same), so after recording the exit the
//! hardware completes the instruction, as VMX's "emulate and resume" does.
//! An external interrupt that arrives while the guest's IF is clear is held
//! and, with interrupt-window exiting on, injected at an `interrupt-window`
//! exit once the guest can take it ([`window`]).
//! Memory is virtualized by nested paging (the default) or by the same shadow
//! tables as trap-and-emulate (CR3 writes, CR0/CR4 writes and INVLPG then
//! always exit).
//!
//! # Popek and Goldberg
//!
//! Under trap-and-emulate, each sensitive but unprivileged instruction the
//! guest kernel executes (POPF, PUSHF, SGDT, SIDT, SLDT, STR, SMSW, LAR, LSL,
//! VERR, VERW, MOV/PUSH from CS or SS) is reported ([`sensitive`]): where,
//! what the guest saw on the deprivileged hardware, what a real machine would
//! have given it, and whether the two differ. The VMM does not correct them:
//! that x86 cannot be virtualized by trap-and-emulate alone is the lesson.
//!
//! # Cost
//!
//! Every exit goes to the event ring ([`crate::events::EventKind::VmExit`])
//! with its reason, the guest instruction, the VMM's action and its cost in
//! cycles from the [`CostModel`]; exits are counted by reason. Exits do not
//! advance virtual time: an emulated instruction retires as one instruction,
//! as it would have bare, so the timer sees the same instruction stream in
//! every mode.
//!
//! # TLB tagging
//!
//! [`Vmm::tlb_tagging`] says what an exit does to the TLB. Tagged (the default, as
//! with VPID on VT-x or ASIDs on AMD-V) the guest's entries survive the exit and
//! the entry back. Untagged (`vmlab run --tlb flush`) the VMM runs in another
//! address space, so every hook that took an exit ends with a TLB flush, counted in
//! [`TlbTagStats::exit_flushes`]; the guest then refills the TLB by page walks,
//! which the machine's `tlb_misses` and `page_walks` counters show.
//!
//! # Views
//!
//! Everything is data for the UI and the CLI: [`Machine::vmm`](crate::Machine::vmm)
//! gives the [`Vmm`]; its [`ShadowPaging::spaces`], [`ShadowPaging::directory`]
//! and [`ShadowPaging::table`] show the shadow tables beside the guest's,
//! [`Vmm::nested_directory`] and [`Vmm::nested_table`] the nested table,
//! [`Machine::nested_walk`](crate::Machine::nested_walk) one two-dimensional walk
//! reference by reference, [`Vmm::stats`] the counters and reports (`vmlab run
//! --json`), and [`Vmm::stop_on_exit`] makes a run stop after each exit.
//!
//! # Hypercalls
//!
//! [`hypercall`] documents the paravirtual interface: CPUID leaf 0x40000000
//! announces the VMM, VMCALL with a number in EAX calls it.

pub mod balloon;
mod dirty;
pub mod exit;
pub mod guest;
pub mod host;
pub mod hypercall;
pub mod nested;
pub mod operand;
pub mod p2m;
pub mod sensitive;
pub mod shadow;
mod share;
pub mod tlb_tag;
pub mod vcpu;

mod attach;
mod emulate;
mod inject;
pub mod window;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use iced_x86::{Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter};
use serde::{Deserialize, Serialize};

use crate::config::{ExecMode, GuestPaging, MachineConfig};
use crate::cpu::percpu::Parked;
use crate::error::{Exception, HostError};
use crate::events::EventKind;
use crate::state::{flags, CpuState, SegReg, Segment, TableReg};
use crate::stop::StopReason;

pub use exit::{CostModel, ExitCounters, ExitReason};
pub use guest::PhysMem;
pub use host::VmmHost;
pub use nested::{NestedPaging, NestedPdeView, NestedPteView, NestedStats};
pub use p2m::P2m;
pub use sensitive::SensitiveReport;
pub use shadow::{ShadowPaging, ShadowPdeView, ShadowPteView, ShadowStats};
pub use tlb_tag::{TlbTagStats, TlbTagging};
pub use vcpu::VirtualCpu;

use crate::mmu::PagingRegs;
use guest::access;

/// The exit controls of hardware assistance: which events leave non-root mode.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ExitControls {
    /// HLT exiting.
    pub hlt: bool,
    /// Unconditional I/O exiting.
    pub io: bool,
    /// CR3-load exiting.
    pub cr3_write: bool,
    /// CR0 and CR4 writes (and CLTS, LMSW) exit.
    pub cr0_cr4_write: bool,
    /// INVLPG exiting.
    pub invlpg: bool,
    /// Exceptions exit before their delivery (the exception bitmap, all ones).
    pub exceptions: bool,
    /// External-interrupt exiting.
    pub external_interrupts: bool,
    /// Interrupt-window exiting: an external interrupt that arrives while the
    /// guest's IF is clear (or an STI or MOV SS shadow holds) is kept pending, and
    /// the guest exits (`interrupt-window`) at the first boundary where it can take
    /// it; the VMM then injects it. Off: the interrupt waits in the PIC and is
    /// taken natively when the window opens.
    #[serde(default = "control_on")]
    pub interrupt_window: bool,
    /// APIC virtualization with posted interrupts (hardware assistance only, off by
    /// default): the virtual-APIC page answers register reads and absorbs EOI
    /// writes, and what the local APIC delivers (its timer, IPIs) is posted to the
    /// vCPU without an exit. Off, every access to the APIC page exits and each
    /// interrupt is an `external-interrupt` exit and an injection.
    #[serde(default)]
    pub apic_virtualization: bool,
}

fn control_on() -> bool {
    true
}

impl Default for ExitControls {
    fn default() -> Self {
        ExitControls {
            hlt: true,
            io: true,
            cr3_write: true,
            cr0_cr4_write: true,
            invlpg: true,
            exceptions: true,
            external_interrupts: true,
            interrupt_window: true,
            apic_virtualization: false,
        }
    }
}

/// An event the hardware is about to deliver through the IDT.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GuestEvent {
    /// An exception; `cpu.eip` is the faulting instruction (or, for traps, the next).
    Exception(Exception),
    /// An external interrupt acknowledged from the PIC.
    External {
        /// The vector.
        vector: u8,
    },
    /// INT n, INT3 or INTO; `cpu.eip` is the instruction after it.
    Software {
        /// The vector.
        vector: u8,
    },
}

/// What the machine must do after the VMM saw an event or an instruction.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Delivery {
    /// Deliver or execute it natively, as without a VMM.
    Native,
    /// The VMM did it: the instruction retired (or the event was injected).
    Done,
    /// The VMM stops the machine.
    Stop(StopReason),
    /// Delivering a software interrupt faulted: the CPU raises this exception at
    /// the INT instruction, as the hardware would.
    Fault(Exception),
}

/// An event the VMM produced, for the machine's event ring.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VmmEvent {
    /// The guest instruction's linear address.
    pub linear_eip: u32,
    /// What happened.
    pub kind: EventKind,
}

/// Everything the VMM reports at the end of a run (`vmlab run --json`).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct VmmStats {
    /// The mode's name ([`ExecMode::name`]: `trap-emulate`, `hw-assist-shadow`, …).
    pub mode: String,
    /// Exits by reason, cycles by reason, totals.
    pub exits: ExitCounters,
    /// Shadow paging counters (trap-emulate, or hw-assist with shadow paging).
    pub shadow: Option<ShadowStats>,
    /// Nested paging counters (hw-assist with nested paging).
    pub nested: Option<NestedStats>,
    /// Sensitive instructions observed (all, including those no longer kept).
    pub sensitive_total: u64,
    /// The Popek–Goldberg reports kept (the first [`sensitive::MAX_REPORTS`]).
    pub popek_goldberg: Vec<SensitiveReport>,
    /// TLB tagging and the flushes exits caused.
    #[serde(default)]
    pub tlb: TlbTagStats,
}

/// The VMM: its mode, the virtual CPU, the shadow and nested tables, and its records.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Vmm {
    mode: ExecMode,
    guest_ring: u8,
    ram_bytes: u32,
    /// The guest's privileged state (trap-and-emulate) on the vCPU the hooks act
    /// for: the machine's running CPU.
    pub vcpu: VirtualCpu,
    /// The virtual CPUs of the machine's other CPUs.
    #[serde(default)]
    parked_vcpus: Parked<VirtualCpu>,
    /// Shadow page tables.
    pub shadow: ShadowPaging,
    /// The nested table and its walk counters.
    pub nested: NestedPaging,
    /// Hardware assistance's exit controls.
    pub controls: ExitControls,
    /// The cost model.
    pub cost: CostModel,
    /// Exit counters.
    pub exits: ExitCounters,
    reports: Vec<SensitiveReport>,
    sensitive_total: u64,
    pending: Vec<VmmEvent>,
    injecting: u8,
    /// The last #GP intercepted was a privileged instruction the VMM emulated.
    emulated: bool,
    /// Stop the run after an instruction that took a VM exit (`StopReason::VmExit`),
    /// for "run to the next trap".
    #[serde(default)]
    pub stop_on_exit: bool,
    #[serde(default)]
    stop_requested: bool,
    /// Whether the TLB keeps its entries across exits (tagged) or is flushed.
    #[serde(default)]
    pub tlb_tagging: TlbTagging,
    /// TLB flushes caused by exits (untagged TLB).
    #[serde(default)]
    exit_flushes: u64,
    /// An exit happened with an untagged TLB: the machine flushes it.
    #[serde(default)]
    flush_requested: bool,
    /// The linear address of the instruction a hook is handling.
    #[serde(default)]
    at: Option<u32>,
    /// The frames written in this dirty-log round (migration); empty and off
    /// unless a migration tracks dirty pages.
    #[serde(skip)]
    dirty: crate::memory::PageLog,
    /// The paravirtual balloon (hypercalls 5 to 7).
    #[serde(default)]
    pub balloon: balloon::Balloon,
    /// The physical-to-machine map.
    #[serde(default)]
    p2m: P2m,
    /// A share break moved a frame: the machine flushes the TLB.
    #[serde(skip)]
    p2m_flush: bool,
}

/// Most events held between two drains (a guest cannot flood the host).
const MAX_PENDING: usize = 4096;

impl Vmm {
    /// The VMM for `cfg`, or `None` for a bare machine.
    pub fn new(cfg: &MachineConfig) -> Result<Option<Vmm>, HostError> {
        let guest_ring = match cfg.mode {
            ExecMode::Bare => return Ok(None),
            ExecMode::TrapEmulate { guest_ring } => guest_ring.number(),
            ExecMode::HwAssist { .. } => 0,
        };
        Ok(Some(Vmm {
            mode: cfg.mode,
            guest_ring,
            ram_bytes: cfg.ram_mib.saturating_mul(1 << 20),
            vcpu: VirtualCpu::default(),
            parked_vcpus: Parked::default(),
            shadow: ShadowPaging::default(),
            nested: NestedPaging::default(),
            controls: ExitControls::default(),
            cost: CostModel::default(),
            exits: ExitCounters::default(),
            reports: Vec::new(),
            sensitive_total: 0,
            pending: Vec::new(),
            injecting: 0,
            emulated: false,
            stop_on_exit: false,
            stop_requested: false,
            tlb_tagging: TlbTagging::default(),
            exit_flushes: 0,
            flush_requested: false,
            at: None,
            dirty: crate::memory::PageLog::default(),
            balloon: balloon::Balloon::default(),
            p2m: P2m::default(),
            p2m_flush: false,
        }))
    }

    /// The last exception intercepted was a privileged instruction the VMM emulated
    /// (it retired), not a fault injected into the guest.
    pub fn last_emulated(&self) -> bool {
        self.emulated
    }

    /// Adds the virtual CPU of a CPU the machine added.
    pub(crate) fn add_vcpu(&mut self) {
        self.parked_vcpus.push(VirtualCpu::default());
    }

    /// Makes virtual CPU `i` the one the hooks act for (the machine switched CPUs).
    pub(crate) fn switch_vcpu(&mut self, i: usize) {
        self.parked_vcpus.switch(&mut self.vcpu, i);
    }

    /// Every virtual CPU, the running one first.
    pub(crate) fn vcpus_mut(&mut self) -> impl Iterator<Item = &mut VirtualCpu> {
        core::iter::once(&mut self.vcpu).chain(self.parked_vcpus.others_mut())
    }

    /// Virtual CPU `i` (`None` past the last).
    pub fn vcpu_at(&self, i: usize) -> Option<&VirtualCpu> {
        self.parked_vcpus.get(&self.vcpu, i)
    }

    /// The mode this VMM implements.
    pub fn mode(&self) -> ExecMode {
        self.mode
    }

    /// Forgets the guest (machine reset): the next boot starts interpreted again.
    pub fn reset(&mut self) {
        self.vcpu = VirtualCpu::default();
        for v in self.parked_vcpus.others_mut() {
            *v = VirtualCpu::default();
        }
        // write protection of the guest's tables is the VMM's policy: it stays
        let pt_protect = self.shadow.pt_protect;
        self.shadow = ShadowPaging::default();
        self.shadow.pt_protect = pt_protect;
        self.injecting = 0;
    }

    fn trap_emulate(&self) -> bool {
        matches!(self.mode, ExecMode::TrapEmulate { .. })
    }

    /// The VMM keeps shadow page tables (trap-and-emulate, or hardware assistance
    /// without nested paging).
    pub fn uses_shadow(&self) -> bool {
        match self.mode {
            ExecMode::TrapEmulate { .. } => true,
            ExecMode::HwAssist { paging } => paging == GuestPaging::Shadow,
            ExecMode::Bare => false,
        }
    }

    /// The guest's privilege level as it believes it to be: the virtual CPL the
    /// VMM tracks at guest ring 3, else told by the hardware ring.
    pub fn guest_cpl(&self, cpu: &CpuState) -> u8 {
        if !(self.trap_emulate() && self.vcpu.deprivileged) {
            cpu.cpl
        } else if self.ring3() {
            self.vcpu.cpl
        } else if cpu.cpl == self.guest_ring {
            0
        } else {
            cpu.cpl
        }
    }

    /// The guest kernel shares hardware ring 3 with its user mode: the VMM tracks
    /// the virtual CPL and keeps two shadow roots.
    fn ring3(&self) -> bool {
        self.trap_emulate() && self.guest_ring == 3
    }

    /// The hardware ring that runs guest privilege level `vcpl`.
    pub(crate) fn hw_ring(&self, vcpl: u8) -> u8 {
        if self.ring3() {
            3
        } else if vcpl == 0 && self.trap_emulate() {
            self.guest_ring
        } else {
            vcpl
        }
    }

    /// Moves the deprivileged guest to virtual CPL `vcpl`: the hardware ring, and at
    /// guest ring 3 the virtual CPL and the shadow root (kernel-mode root at CPL 0,
    /// user-mode root otherwise); a root switch flushes the TLB and is charged
    /// [`shadow::ROOT_SWITCH_CYCLES`].
    pub(crate) fn enter_cpl(&mut self, host: &mut dyn VmmHost, cpu: &mut CpuState, vcpl: u8) {
        cpu.cpl = self.hw_ring(vcpl);
        self.compress_rpl(cpu);
        if self.ring3() {
            self.vcpu.cpl = vcpl;
            if self.shadow.select_root(vcpl == 0) {
                host.flush_tlb();
                self.exits.cycles += shadow::ROOT_SWITCH_CYCLES as u64;
            }
        }
    }

    /// Ring compression as IA-32 does it: the CPL is CS.RPL, so while the guest
    /// kernel runs deprivileged its CS and SS selectors carry the hardware ring
    /// (RPL 1 at ring 1), which `mov ax, cs` and `push cs` then reveal.
    pub(crate) fn compress_rpl(&self, cpu: &mut CpuState) {
        if !self.deprivileged() || !cpu.protected_mode() || cpu.v86() {
            return;
        }
        let ring = cpu.cpl as u16 & 3;
        let cs = &mut cpu.seg[SegReg::Cs as usize];
        cs.selector = (cs.selector & !3) | ring;
        let ss = &mut cpu.seg[SegReg::Ss as usize];
        if ss.selector & !3 != 0 {
            ss.selector = (ss.selector & !3) | ring;
        }
    }

    /// A selector the guest kernel hands back after reading it from CS or SS
    /// (RPL = the ring it runs at, descriptor DPL 0) names its own ring-0 segment:
    /// the VMM takes it as RPL 0. Any other selector is left as it is.
    pub(crate) fn guest_selector(
        &mut self,
        host: &mut dyn VmmHost,
        cpu: &CpuState,
        sel: u16,
    ) -> u16 {
        let ring = self.hw_ring(0) as u16;
        if !self.deprivileged() || ring == 0 || sel & 3 != ring || sel & !3 == 0 {
            return sel;
        }
        match self.descriptor(host, cpu, sel) {
            Ok(d) if d.dpl() == 0 && !(d.is_code() && d.conforming()) => sel & !3,
            _ => sel,
        }
    }

    /// The guest's paging registers (the virtual ones under trap-and-emulate).
    fn guest_paging(&self, cpu: &CpuState) -> PagingRegs {
        if self.trap_emulate() {
            self.vcpu.paging()
        } else {
            PagingRegs::of(cpu)
        }
    }

    /// The guest's deprivileged kernel is running (trap-and-emulate, protected mode).
    pub fn deprivileged(&self) -> bool {
        self.trap_emulate() && self.vcpu.deprivileged
    }

    /// Whether the hardware may take an external interrupt now: the virtual IF
    /// while a deprivileged guest kernel runs, always in its user mode (which runs
    /// with IOPL 0 and so cannot mask interrupts), the hardware IF otherwise.
    pub fn interrupts_enabled(&self, cpu: &CpuState) -> bool {
        if self.deprivileged() {
            self.guest_cpl(cpu) != 0 || self.vcpu.interrupt_flag
        } else {
            cpu.eflags & flags::IF != 0
        }
    }

    /// The page walk on a TLB miss: `None` when the hardware's own walk applies,
    /// else the machine frame, the guest-physical page and the TLB bits (or the
    /// guest's #PF), write-protected for the dirty log when it is on and for shared
    /// frames ([`Vmm::protect_writes`]).
    pub fn translate(
        &mut self,
        mem: &mut dyn PhysMem,
        cpu: &CpuState,
        linear: u32,
        acc: u8,
    ) -> Option<Result<(u32, u32, u8), Exception>> {
        let r = self.walk_for_tlb(mem, cpu, linear, acc)?;
        Some(r.map(|(frame, bits)| {
            let gpa = self.guest_page(mem, cpu, linear, frame);
            self.protect_writes(mem, cpu, linear, (frame, gpa, bits), acc, true)
        }))
    }

    /// The guest-physical page behind machine frame `frame`, which the walk of
    /// `linear` gave: a home frame by the map; a shared one (several guest frames
    /// may hold it) by the guest's own tables.
    fn guest_page(&self, mem: &mut dyn PhysMem, cpu: &CpuState, linear: u32, frame: u32) -> u32 {
        if self.p2m.sharer(frame >> 12).is_none() {
            return self.p2m.guest_of(frame) & !0xfff;
        }
        let regs = self.guest_paging(cpu);
        if !regs.paging() {
            return linear & !0xfff;
        }
        crate::mmu::probe(&mut crate::mmu::ReadOnly(|a| mem.read_u32(a)), regs, linear)
            .physical
            .unwrap_or_else(|| self.p2m.guest_of(frame))
            & !0xfff
    }

    /// The physical-to-machine map.
    pub fn p2m(&self) -> &P2m {
        &self.p2m
    }

    fn walk_for_tlb(
        &mut self,
        mem: &mut dyn PhysMem,
        cpu: &CpuState,
        linear: u32,
        acc: u8,
    ) -> Option<Result<(u32, u8), Exception>> {
        if self.trap_emulate() && !self.vcpu.deprivileged {
            return None;
        }
        let regs = self.guest_paging(cpu);
        if !regs.paging() {
            // guest paging off under the VMM's paging: guest-physical = linear, in
            // the host frame the map gives
            return Some(Ok((
                self.p2m.host_of(linear & !0xfff),
                guest::tlb::USER | guest::tlb::WRITE | guest::tlb::DIRTY,
            )));
        }
        if self.uses_shadow() {
            let r = self.shadow.translate(mem, regs, linear, acc, &self.p2m);
            match r {
                Ok((_, _, shadow::ShadowOutcome::Filled)) => {
                    let action = format!(
                        "hidden fault: filled shadow entry for {:#010x} from the guest's tables",
                        linear & !0xfff
                    );
                    self.exit(
                        cpu,
                        ExitReason::ShadowFill,
                        String::from("(page walk)"),
                        action,
                    );
                }
                Ok((frame, _, shadow::ShadowOutcome::PtWrite { entries, tables })) => {
                    let action = format!(
                        "write to the guest page table at {:#010x}: dropped {entries} shadow entries and {tables} shadow tables built from it, flushed the TLB",
                        frame | (linear & 0xfff)
                    );
                    self.exit(
                        cpu,
                        ExitReason::PtWrite,
                        String::from("(page-table write)"),
                        action,
                    );
                }
                _ => {}
            }
            Some(r.map(|(f, b, _)| (f, b)))
        } else {
            let before = self.nested.stats.references;
            let r = self.nested.translate(mem, regs, linear, acc, &self.p2m);
            let extra = self.nested.stats.references - before;
            let cycles = extra.saturating_sub(2) as u32 * self.cost.nested_reference;
            self.exits.cycles += cycles as u64;
            Some(r)
        }
    }

    /// Records one exit of `reason`: counted, costed and put in the event ring.
    fn exit(&mut self, cpu: &CpuState, reason: ExitReason, instruction: String, action: String) {
        let round_trip = if self.trap_emulate() {
            self.cost.trap_round_trip
        } else {
            self.cost.vmexit_round_trip
        };
        let cost = round_trip + reason.handler_cycles();
        self.exits.record(reason, cost);
        self.stop_requested |= self.stop_on_exit;
        if self.tlb_tagging == TlbTagging::Flush {
            self.flush_requested = true;
        }
        self.event(
            cpu,
            EventKind::VmExit {
                reason,
                instruction,
                action,
                cost,
            },
        );
    }

    /// Records an exit for an access to the local APIC's page by `instruction`
    /// (every such access exits: the VMM emulates the APIC).
    pub(crate) fn apic_exit(&mut self, cpu: &CpuState, reason: ExitReason, action: String) {
        let instruction = String::from("an access to the local APIC page");
        self.exit(cpu, reason, instruction, action);
    }

    /// Records an exit for an access to a PCI memory BAR.
    pub(crate) fn mmio_exit(&mut self, cpu: &CpuState, action: String) {
        let instruction = String::from("an access to a PCI memory BAR");
        self.exit(cpu, ExitReason::Mmio, instruction, action);
    }

    /// Records a pause-loop exit (the vCPU spun longer than the PLE window).
    pub(crate) fn pause_loop_exit(&mut self, cpu: &CpuState, action: String) {
        let instruction = String::from("pause");
        self.exit(cpu, ExitReason::PauseLoop, instruction, action);
    }

    fn event(&mut self, cpu: &CpuState, kind: EventKind) {
        if self.pending.len() >= MAX_PENDING {
            self.pending.remove(0);
        }
        let linear_eip = self
            .at
            .unwrap_or_else(|| cpu.sreg(SegReg::Cs).base.wrapping_add(cpu.eip));
        self.pending.push(VmmEvent { linear_eip, kind });
    }

    /// Marks the guest instruction the following events belong to (before the VMM
    /// moves EIP), until [`Vmm::done_at`].
    /// Instructions that are neither privileged nor sensitive (moves, arithmetic, near
    /// branches, pushes and pops) run natively with no VMM bookkeeping in the current
    /// state, so the fast tier may run them.
    pub(crate) fn plain_instructions_native(&self) -> bool {
        match self.mode {
            ExecMode::Bare | ExecMode::HwAssist { .. } => true,
            ExecMode::TrapEmulate { .. } => self.vcpu.deprivileged,
        }
    }

    fn start_at(&mut self, cpu: &CpuState) {
        self.at = Some(cpu.sreg(SegReg::Cs).base.wrapping_add(cpu.eip));
    }

    fn done_at(&mut self) {
        self.at = None;
    }

    /// Whether an exit asked the run to stop (see [`Vmm::stop_on_exit`]); clears the request.
    pub fn take_stop_request(&mut self) -> bool {
        core::mem::take(&mut self.stop_requested)
    }

    /// Whether an exit asked for a TLB flush (untagged TLB); clears the request and
    /// counts the flush.
    pub fn take_flush_request(&mut self) -> bool {
        let f = core::mem::take(&mut self.flush_requested);
        self.exit_flushes += f as u64;
        f
    }

    /// Events are waiting to be taken.
    pub fn has_events(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Takes the events recorded since the last call (the machine moves them to its ring).
    pub fn take_events(&mut self) -> Vec<VmmEvent> {
        core::mem::take(&mut self.pending)
    }

    /// The Popek–Goldberg reports kept so far.
    pub fn reports(&self) -> &[SensitiveReport] {
        &self.reports
    }

    /// The summary for `--json`.
    pub fn stats(&self) -> VmmStats {
        VmmStats {
            mode: String::from(self.mode.name()),
            exits: self.exits.clone(),
            shadow: self.uses_shadow().then_some(self.shadow.stats),
            nested: (!self.uses_shadow()).then_some(self.nested.stats),
            sensitive_total: self.sensitive_total,
            popek_goldberg: self.reports.clone(),
            tlb: TlbTagStats {
                tagging: self.tlb_tagging,
                exit_flushes: self.exit_flushes,
            },
        }
    }

    /// The nested page directory (hardware assistance), for the UI.
    pub fn nested_directory(&self) -> Vec<NestedPdeView> {
        self.nested.directory(self.ram_bytes, &self.p2m)
    }

    /// One nested page table, for the UI.
    pub fn nested_table(&self, pde_index: u32) -> Vec<NestedPteView> {
        self.nested.table(self.ram_bytes, pde_index, &self.p2m)
    }

    /// Decodes the guest instruction at CS:EIP (reading guest memory as the CPU would).
    fn fetch(&self, mem: &mut dyn PhysMem, cpu: &CpuState) -> Result<Instruction, Exception> {
        let cs = cpu.sreg(SegReg::Cs);
        let linear = cs.base.wrapping_add(cpu.eip);
        let acc = if self.guest_cpl(cpu) == 3 {
            access::USER
        } else {
            access::READ
        };
        let regs = if self.deprivileged() || !self.trap_emulate() {
            self.guest_paging(cpu)
        } else {
            PagingRegs::of(cpu)
        };
        let mut bytes = [0u8; 15];
        let mut n = 0;
        for (i, b) in bytes.iter_mut().enumerate() {
            let mut one = [0u8];
            match guest::read_linear(mem, regs, linear.wrapping_add(i as u32), &mut one, acc) {
                Ok(()) => {
                    *b = one[0];
                    n += 1;
                }
                Err(e) if i == 0 => return Err(e),
                Err(_) => break,
            }
        }
        let bitness = if cs.big() { 32 } else { 16 };
        let mut d = Decoder::with_ip(bitness, &bytes[..n], cpu.eip as u64, DecoderOptions::NONE);
        let insn = d.decode();
        if insn.is_invalid() {
            return Err(Exception::InvalidOpcode);
        }
        Ok(insn)
    }
}

/// The instruction in Intel syntax, for the trap log.
pub fn format_instruction(insn: &Instruction) -> String {
    let mut f = IntelFormatter::new();
    let mut s = String::new();
    f.format(insn, &mut s);
    s
}

/// A segment register value in the trap log's notation.
fn show_table(t: TableReg) -> String {
    format!("base={:#010x} limit={:#06x}", t.base, t.limit)
}

fn show_selector(s: &Segment) -> String {
    format!("{:#06x}", s.selector)
}
