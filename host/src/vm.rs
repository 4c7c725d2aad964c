//! One VM on the host: its machine under a VMM mode, its guest, its life-cycle state and its per-VM memory and CPU counters.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use emulator_core::memory::HostFrame;
use emulator_core::{ExecMode, FlatEntry, Machine, MachineConfig, Snapshot};

use crate::guest::{self, GuestImage, Workload};
use crate::introspect::{self, Profile, View};

/// How to build a VM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VmSpec {
    /// Its name in tables and events.
    pub name: String,
    /// Guest RAM in MiB.
    pub ram_mib: u32,
    /// The VMM mode it runs under (never bare: the balloon needs hypercalls).
    pub mode: ExecMode,
    /// The scheduler weight (proportional share).
    pub weight: u32,
    /// The cap in percent of the CPU (0: none).
    pub cap: u32,
    /// What its guest does.
    pub workload: Workload,
    /// Boots the teaching kernel instead of the balloon guest; the host reads its
    /// processes with this profile.
    pub kernel: Option<Profile>,
}

impl VmSpec {
    /// A VM of `ram_mib` with the default workload under `hw-assist`, weight 256.
    pub fn new(name: &str, ram_mib: u32) -> VmSpec {
        VmSpec {
            name: name.into(),
            ram_mib,
            mode: ExecMode::HW_ASSIST,
            weight: 256,
            cap: 0,
            workload: Workload::default(),
            kernel: None,
        }
    }
}

/// Where a VM is in its life cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VmState {
    /// Runnable: the scheduler gives it slices.
    Running,
    /// Paused by the host: no slices, its time does not count as steal.
    Paused,
    /// Its guest stopped (halted, exited, triple fault).
    Stopped,
    /// Destroyed: its frames went back to the pool.
    Destroyed,
}

impl VmState {
    /// The state's name.
    pub const fn name(self) -> &'static str {
        match self {
            VmState::Running => "running",
            VmState::Paused => "paused",
            VmState::Stopped => "stopped",
            VmState::Destroyed => "destroyed",
        }
    }
}

/// Per-VM memory figures, in pages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemCounters {
    /// Backed by a host frame of its own.
    pub private: u64,
    /// Backed by a host frame another guest frame also uses.
    pub shared: u64,
    /// Unbacked: never written, or merged into the zero page.
    pub zero: u64,
    /// Given to the balloon.
    pub ballooned: u64,
    /// Swapped out by the host.
    pub swapped: u64,
}

/// Per-VM memory events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemEvents {
    /// Frames merged into another by the sharing scan (zero pages included).
    pub merged: u64,
    /// Share-break exits: guest stores to a merged frame (write-protected in the
    /// VM's P2M) that copied it into a machine frame of the VM's own.
    pub share_breaks: u64,
    /// Pages the host swapped out.
    pub swap_outs: u64,
    /// Pages the host swapped back in.
    pub swap_ins: u64,
    /// Pages the host swapped in that the guest then gave to its balloon: read from
    /// swap only to be thrown away (double paging).
    pub double_paged: u64,
    /// Pages the balloon reclaimed.
    pub balloon_reclaimed: u64,
    /// Pages the balloon returned.
    pub balloon_returned: u64,
}

/// Per-VM CPU and time figures, in cycles of the 100 MHz virtual CPU.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCounters {
    /// Cycles run.
    pub run: u64,
    /// Cycles it was runnable but another VM ran (steal time).
    pub steal: u64,
    /// Slices it was given; each ended with a preemption exit to the host.
    pub slices: u64,
    /// Cycles its virtual clock was moved forward (the TSC offset).
    pub tsc_offset: u64,
    /// Timer ticks it missed while descheduled (the PIT coalesces them).
    pub ticks_missed: u64,
}

/// One VM.
#[derive(Debug)]
pub struct Vm {
    /// How it was built.
    pub spec: VmSpec,
    /// Its machine.
    pub machine: Machine,
    /// Its guest's image and counter addresses.
    pub image: GuestImage,
    /// Its life-cycle state.
    pub state: VmState,
    /// Credit left in this accounting period (cycles; negative: over).
    pub credit: i64,
    /// Cycles run in this accounting period (for the cap).
    pub period_used: u64,
    /// Host time it last ran at (for round robin).
    pub last_ran: u64,
    /// CPU and time figures.
    pub cpu: CpuCounters,
    /// Memory events.
    pub mem: MemEvents,
    /// Per guest frame: in the balloon.
    pub ballooned: Vec<bool>,
    /// Per guest frame: swapped back in and not yet given or written since.
    pub swapped_in: Vec<bool>,
    /// The host's swap area for this VM (guest frame → contents).
    pub swap: BTreeMap<u32, Arc<HostFrame>>,
    /// Snapshots taken by the host.
    pub snapshots: Vec<Snapshot>,
}

fn check_spec(spec: &VmSpec) -> Result<(), String> {
    let name = &spec.name;
    if spec.ram_mib < guest::MIN_RAM_MIB || spec.ram_mib > 1024 {
        return Err(format!(
            "vm {name}: ram is {} MiB; it must be between {} and 1024",
            spec.ram_mib,
            guest::MIN_RAM_MIB
        ));
    }
    if spec.mode == ExecMode::Bare {
        return Err(format!(
            "vm {name}: mode bare has no VMM; the host runs VMs under trap-emulate or hw-assist"
        ));
    }
    Ok(())
}

impl Vm {
    /// Builds VM number `id` from `spec`: a machine with pooled RAM and the guest loaded.
    pub fn create(spec: VmSpec, id: u32) -> Result<Vm, String> {
        check_spec(&spec)?;
        let name = &spec.name;
        let image = if spec.kernel.is_some() {
            guest::assemble_kernel()
        } else {
            guest::assemble(&spec.workload, id, spec.ram_mib)
        }
        .map_err(|e| format!("vm {name}: {e}"))?;
        Vm::with_image(spec, image)
    }

    /// Builds a VM from `spec` that runs `image` (a guest assembled for it, e.g. with
    /// [`guest::assemble_source`]) instead of the host's own guest.
    pub fn with_image(spec: VmSpec, image: GuestImage) -> Result<Vm, String> {
        check_spec(&spec)?;
        let name = &spec.name;
        let cfg = MachineConfig {
            ram_mib: spec.ram_mib,
            mode: spec.mode,
            event_capacity: 64,
            serial_capacity: 4096,
            ..MachineConfig::default()
        };
        let mut machine = Machine::new(cfg).map_err(|e| format!("vm {name}: {e}"))?;
        machine.use_pooled_ram();
        if image.kernel {
            machine.load_rom(&image.bytes)
        } else {
            machine.load_flat(guest::LOAD_ADDR, &image.bytes, FlatEntry::Protected32)
        }
        .map_err(|e| format!("vm {name}: {e}"))?;
        let frames = (spec.ram_mib as usize) << 8;
        Ok(Vm {
            spec,
            machine,
            image,
            state: VmState::Running,
            credit: 0,
            period_used: 0,
            last_ran: 0,
            cpu: CpuCounters::default(),
            mem: MemEvents::default(),
            ballooned: vec![false; frames],
            swapped_in: vec![false; frames],
            swap: BTreeMap::new(),
            snapshots: Vec::new(),
        })
    }

    /// Reads a guest counter (a dword at guest-physical `addr`).
    pub fn read_u32(&self, addr: u32) -> u32 {
        let mut b = [0u8; 4];
        self.machine.peek_phys(addr, &mut b);
        u32::from_le_bytes(b)
    }

    /// The guest's clock: timer ticks it has counted.
    pub fn guest_ticks(&self) -> u32 {
        self.read_u32(self.image.ticks)
    }

    /// The pages the guest has in its balloon, by its own count.
    pub fn guest_balloon(&self) -> u32 {
        if !self.image.cache {
            return 0;
        }
        self.read_u32(self.image.balloon)
    }

    /// Pages of the guest's cache filled so far.
    pub fn guest_filled_pages(&self) -> u32 {
        if !self.image.cache {
            return 0;
        }
        self.read_u32(self.image.fill_top)
            .saturating_sub(guest::REGION_START)
            >> 12
    }

    /// The guest's virtual time (its time stamp counter).
    pub fn tsc(&self) -> u64 {
        self.machine.cpu().tsc
    }

    /// Memory figures by page, from the frame table and the host's marks.
    pub fn mem_counters(&self) -> MemCounters {
        let mut c = MemCounters {
            swapped: self.swap.len() as u64,
            ..MemCounters::default()
        };
        let Some(ram) = self.machine.pooled_ram() else {
            return c;
        };
        for (gfn, slot) in ram.slots().iter().enumerate() {
            let swapped = self.swap.contains_key(&(gfn as u32));
            match slot {
                None if self.ballooned.get(gfn) == Some(&true) => c.ballooned += 1,
                None if swapped => {}
                None => c.zero += 1,
                Some(f) if Arc::strong_count(f) > 1 => c.shared += 1,
                Some(_) => c.private += 1,
            }
        }
        c
    }

    /// The balloon's target in pages.
    pub fn balloon_target(&self) -> u32 {
        self.machine.vmm().map_or(0, |v| v.balloon.target)
    }

    /// The guest's processes read from its memory with its profile, from
    /// outside (`None`: it is not a kernel the host has a profile of).
    pub fn processes(&self) -> Option<Result<View, String>> {
        let p = self.spec.kernel.as_ref()?;
        Some(introspect::read(&self.machine, p))
    }
}
