//! How each guest under `guests/` runs in the translating tier's differential corpus
//! (its load, machine, defines, devices and modes, as the native tests run it), and the
//! guests that do not run on the x86 machine.

use emulator_core::ExecMode;

/// How a guest's image starts.
#[derive(Clone, Copy, Debug)]
pub enum Load {
    /// A ROM at the reset vector.
    Rom,
    /// Flat 32-bit protected mode at this address.
    Flat(u32),
    /// A Multiboot kernel with this command line.
    Multiboot(&'static str),
}

/// One guest file and the machine it runs on.
#[derive(Clone, Copy, Debug)]
pub struct Guest {
    /// Its path under `guests/`.
    pub path: &'static str,
    /// How it starts.
    pub load: Load,
    /// `NAME=VALUE` defines.
    pub defines: &'static [&'static str],
    /// RAM in MiB.
    pub ram_mib: u32,
    /// The modes it runs in, one case each.
    pub modes: &'static [ExecMode],
    /// CPUs and their quantum.
    pub cpus: u32,
    /// Instructions each CPU runs before the next one's turn.
    pub quantum: u64,
    /// A disk: its controller (`ata`, `virtio`) and size in bytes; byte `i` is
    /// `i * 7 + i / 512`.
    pub disk: Option<(&'static str, usize)>,
    /// A NIC (`ne2000`, `virtio`) with the endpoint stub at 10.0.0.1 answering.
    pub nic: Option<&'static str>,
    /// Instructions at most.
    pub budget: u64,
}

const BARE: &[ExecMode] = &[ExecMode::Bare];
const ALL: &[ExecMode] = &ExecMode::ALL;
const BARE_HW: &[ExecMode] = &[ExecMode::Bare, ExecMode::HW_ASSIST];
/// Every mode with a VMM.
const UNDER_A_VMM: &[ExecMode] = ExecMode::ALL.split_at(1).1;

const BASE: Guest = Guest {
    path: "",
    load: Load::Flat(0x10000),
    defines: &[],
    ram_mib: 16,
    modes: BARE,
    cpus: 1,
    quantum: 1000,
    disk: None,
    nic: None,
    budget: 20_000_000,
};

/// Every guest that runs on the x86 machine.
pub const GUESTS: &[Guest] = &[
    Guest {
        path: "bench/mix.asm",
        load: Load::Rom,
        defines: &["ITER=1"],
        ..BASE
    },
    Guest {
        path: "bench/paging.asm",
        load: Load::Rom,
        defines: &["ITER=20"],
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "bench/vmm.asm",
        load: Load::Rom,
        defines: &["CALLS=100"],
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "cputest/cputest.asm",
        load: Load::Rom,
        ram_mib: 8,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "cputest/multiboot.asm",
        load: Load::Multiboot("console=ttyS0 quiet"),
        ram_mib: 32,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "disk/ata_pio.asm",
        disk: Some(("ata", 2 << 20)),
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "disk/virtio_blk.asm",
        disk: Some(("virtio", 2 << 20)),
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "disk/virtio_modern.asm",
        disk: Some(("virtio", 1 << 20)),
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "host/balloon.asm",
        defines: &[
            "RAM_BYTES=16777216",
            "VM_ID=1",
            "SHARED_PAGES=64",
            "PRIVATE_PAGES=16",
            "DIRTY_PAGES=4",
            "WORK=2000",
            "TICK_DIV=1193",
            "PAGING=1",
        ],
        // The multi-VM host runs it under a VMM, which answers its balloon hypercalls.
        modes: UNDER_A_VMM,
        budget: 5_000_000,
        ..BASE
    },
    Guest {
        path: "kernel/kernel.asm",
        load: Load::Rom,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "migrate/diabolical.asm",
        defines: &["END_TICKS=5"],
        budget: 5_000_000,
        ..BASE
    },
    Guest {
        path: "migrate/idle.asm",
        defines: &["END_TICKS=5"],
        budget: 5_000_000,
        ..BASE
    },
    Guest {
        path: "migrate/moderate.asm",
        defines: &["END_TICKS=5"],
        budget: 5_000_000,
        ..BASE
    },
    Guest {
        path: "net/ne2000.asm",
        nic: Some("ne2000"),
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "net/peer.asm",
        nic: Some("virtio"),
        ..BASE
    },
    Guest {
        path: "net/virtio_net.asm",
        nic: Some("virtio"),
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "net/virtio_net_burst.asm",
        nic: Some("virtio"),
        ..BASE
    },
    Guest {
        path: "smp/apic.asm",
        load: Load::Flat(0x8000),
        cpus: 2,
        quantum: 100,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "smp/apic_ticks.asm",
        load: Load::Flat(0x8000),
        defines: &["ITERS=20000"],
        cpus: 2,
        quantum: 100,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "smp/kernel.asm",
        load: Load::Flat(0x8000),
        cpus: 2,
        quantum: 50,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "smp/lhp.asm",
        load: Load::Flat(0x8000),
        cpus: 4,
        quantum: 50,
        modes: BARE_HW,
        ..BASE
    },
    Guest {
        path: "smp/smc.asm",
        load: Load::Flat(0x8000),
        cpus: 2,
        quantum: 50,
        ..BASE
    },
    Guest {
        path: "smp/smp.asm",
        load: Load::Flat(0x8000),
        defines: &["ITER=100"],
        cpus: 2,
        quantum: 100,
        ..BASE
    },
    Guest {
        path: "smp/tsc_sync.asm",
        load: Load::Flat(0x8000),
        cpus: 2,
        quantum: 20,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "vmm/flatpm.asm",
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "vmm/paravirt.asm",
        load: Load::Rom,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "vmm/popf.asm",
        load: Load::Rom,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "vmm/privtour.asm",
        load: Load::Rom,
        modes: ALL,
        ..BASE
    },
    Guest {
        path: "vmm/redpill.asm",
        load: Load::Rom,
        modes: ALL,
        ..BASE
    },
];

/// Guests under `guests/` that do not run on the x86 machine, and why.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "linux/fork.asm",
        "a static i386 Linux program: the process VM runs it, not the x86 machine",
    ),
    (
        "linux/hello.asm",
        "a static i386 Linux program: the process VM runs it, not the x86 machine",
    ),
];
