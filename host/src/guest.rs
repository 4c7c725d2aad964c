//! The guest every VM runs (`guests/host/balloon.asm`: the framework `balloon_guest.inc` and the driver `balloon_driver.inc`), assembled with the VM's parameters, and where its counters live.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

/// The guest's source.
pub static SOURCE: &str = include_str!("../../guests/host/balloon.asm");
/// The include file it uses.
pub static PC_INC: &str = include_str!("../../guests/include/pc.inc");
/// The teaching kernel's source, which a VM boots instead with `workload = "kernel"`.
pub static KERNEL_SOURCE: &str = include_str!("../../guests/kernel/kernel.asm");
/// The shared includes the teaching kernel's drivers use (`guests/include/NAME`).
static KERNEL_INCLUDES: &[(&str, &str)] = &[
    (
        "kdrivers.inc",
        include_str!("../../guests/include/kdrivers.inc"),
    ),
    ("pci.inc", include_str!("../../guests/include/pci.inc")),
    ("ata.inc", include_str!("../../guests/include/ata.inc")),
    (
        "virtio_blk.inc",
        include_str!("../../guests/include/virtio_blk.inc"),
    ),
    (
        "virtio_net.inc",
        include_str!("../../guests/include/virtio_net.inc"),
    ),
    ("nic.inc", include_str!("../../guests/include/nic.inc")),
    ("arp.inc", include_str!("../../guests/include/arp.inc")),
];
/// The framework: timer, page cache, workload; it calls the driver's `balloon_step`.
pub static FRAMEWORK_INC: &str = include_str!("../../guests/include/balloon_guest.inc");
/// The balloon driver the host's guest runs.
pub static DRIVER_INC: &str = include_str!("../../guests/include/balloon_driver.inc");
/// Where the guest is loaded (flat, 32-bit protected mode).
pub const LOAD_ADDR: u32 = 0x10000;
/// The first page of the guest's page cache and balloon region.
pub const REGION_START: u32 = 0x20_0000;
/// The smallest RAM the guest runs in, in MiB (code and stack below 1 MiB, the region
/// from 2 MiB, the top MiB for the loader's tables).
pub const MIN_RAM_MIB: u32 = 4;

/// What a VM's guest does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Pages of the cache whose contents are the same in every VM.
    pub shared_pages: u32,
    /// Pages whose contents are this VM's own.
    pub private_pages: u32,
    /// Pages rewritten (with the same words) every round: each write breaks a share.
    pub dirty_pages: u32,
    /// Work loop iterations per round.
    pub work: u32,
    /// The PIT divisor of the guest's clock (0: no timer).
    pub tick_div: u32,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            shared_pages: 256,
            private_pages: 16,
            dirty_pages: 0,
            work: 2000,
            tick_div: 1193,
        }
    }
}

impl Workload {
    /// Pages the cache fills at most in a guest of `ram_mib`.
    pub fn region_pages(ram_mib: u32) -> u32 {
        (ram_mib.saturating_sub(1) << 8).saturating_sub(REGION_START >> 12)
    }
}

/// An assembled guest and the addresses of its counters.
#[derive(Clone, Debug)]
pub struct GuestImage {
    /// The flat image, loaded at [`LOAD_ADDR`].
    pub bytes: Vec<u8>,
    /// Timer interrupts seen (the guest's clock).
    pub ticks: u32,
    /// Work loop iterations.
    pub work: u32,
    /// Main loop rounds.
    pub rounds: u32,
    /// Pages in the balloon, by the guest's count.
    pub balloon: u32,
    /// The end of the filled cache.
    pub fill_top: u32,
    /// It is the teaching kernel (a ROM): it has no cache and no balloon, `ticks`
    /// is its timer count and `work` the lines it has written.
    pub kernel: bool,
    /// It runs the balloon framework: it has a page cache and a balloon driver (a
    /// migration workload or the teaching kernel has neither).
    pub cache: bool,
}

/// Assembles the guest for VM number `vm_id` with `ram_mib` of RAM.
pub fn assemble(w: &Workload, vm_id: u32, ram_mib: u32) -> Result<GuestImage, String> {
    assemble_source("guests/host/balloon.asm", SOURCE, w, vm_id, ram_mib, true)
}

/// Assembles another guest built on the framework (`%include "balloon_guest.inc"`):
/// `source` is named `name` in messages; `with_driver` offers `balloon_driver.inc`.
pub fn assemble_source(
    name: &str,
    source: &str,
    w: &Workload,
    vm_id: u32,
    ram_mib: u32,
    with_driver: bool,
) -> Result<GuestImage, String> {
    let defines = [
        ("RAM_BYTES", ram_mib << 20),
        ("VM_ID", vm_id & 0x3f),
        ("SHARED_PAGES", w.shared_pages),
        ("PRIVATE_PAGES", w.private_pages),
        ("DIRTY_PAGES", w.dirty_pages),
        ("WORK", w.work.max(1)),
        ("TICK_DIV", w.tick_div & 0xffff),
        // paging on, so the guest's stores meet the VMM's write protection
        ("PAGING", 1),
    ];
    let include = |file: &str| match file {
        "pc.inc" => Some(PC_INC.to_string()),
        "balloon_guest.inc" => Some(FRAMEWORK_INC.to_string()),
        "balloon_driver.inc" if with_driver => Some(DRIVER_INC.to_string()),
        _ => None,
    };
    let opts = vmlab_asm::Options {
        defines: defines
            .iter()
            .map(|(k, v)| (k.to_string(), Some(format!("{v}"))))
            .collect(),
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    let out = vmlab_asm::assemble(name, source, &opts)
        .map_err(|e| format!("the guest does not assemble: {e}"))?;
    let sym = |name: &str| symbol(&out, name, "the guest");
    Ok(GuestImage {
        ticks: sym("ticks")?,
        work: sym("work")?,
        rounds: sym("rounds")?,
        balloon: sym("balloon")?,
        fill_top: sym("fill_top")?,
        bytes: out.bytes.clone(),
        kernel: false,
        cache: true,
    })
}

/// The migration workloads' sources (`guests/migrate/`), by name.
pub const MIGRATE_WORKLOADS: [(&str, &str); 3] = [
    ("idle", include_str!("../../guests/migrate/idle.asm")),
    (
        "moderate",
        include_str!("../../guests/migrate/moderate.asm"),
    ),
    (
        "diabolical",
        include_str!("../../guests/migrate/diabolical.asm"),
    ),
];
/// Their include files.
const MIGRATE_INCLUDES: [(&str, &str); 2] = [
    (
        "workload.inc",
        include_str!("../../guests/migrate/workload.inc"),
    ),
    ("pc.inc", PC_INC),
];
/// The PIT divisor the migration workloads program (about 1 kHz).
pub const MIGRATE_TICK_DIV: u32 = 1193;

/// Assembles migration workload `name` (`idle`, `moderate`, `diabolical`), which
/// prints `done` and halts after `end_ticks` timer ticks (a multiple of 64).
pub fn assemble_migrate(name: &str, end_ticks: u32) -> Result<vmlab_asm::Output, String> {
    let (_, src) = MIGRATE_WORKLOADS
        .iter()
        .find(|(n, _)| *n == name)
        .ok_or_else(|| format!("workload {name:?}: not one of idle, moderate, diabolical"))?;
    let include = |n: &str| -> Option<String> {
        MIGRATE_INCLUDES
            .iter()
            .find(|(i, _)| *i == n)
            .map(|(_, t)| (*t).to_string())
    };
    let opts = vmlab_asm::Options {
        defines: alloc::vec![("END_TICKS".into(), Some(end_ticks.to_string()))],
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    vmlab_asm::assemble(&format!("{name}.asm"), src, &opts).map_err(|e| format!("{name}.asm: {e}"))
}

/// Migration workload `name` as a host VM's guest: its clock is `ticks`; it has no
/// page cache and no balloon (its other counters read the clock).
pub fn migrate_image(name: &str, end_ticks: u32) -> Result<GuestImage, String> {
    let out = assemble_migrate(name, end_ticks)?;
    let ticks = symbol(&out, "ticks", "the migration workload")?;
    Ok(GuestImage {
        ticks,
        work: ticks,
        rounds: ticks,
        balloon: ticks,
        fill_top: ticks,
        bytes: out.bytes,
        kernel: false,
        cache: false,
    })
}

/// Assembles the teaching kernel's ROM and finds its timer and line counters.
pub fn assemble_kernel() -> Result<GuestImage, String> {
    let mut text = String::from(KERNEL_SOURCE);
    text.push_str("\nvmlab_ticks equ (ticks)\nvmlab_lines equ (lines)\n");
    let out = assemble_kernel_text("guests/kernel/kernel.asm", &text)
        .map_err(|e| format!("the teaching kernel does not assemble: {e}"))?;
    let sym = |name: &str| symbol(&out, name, "the teaching kernel");
    let ticks = sym("vmlab_ticks")?;
    Ok(GuestImage {
        ticks,
        work: sym("vmlab_lines")?,
        rounds: ticks,
        balloon: ticks,
        fill_top: ticks,
        bytes: out.bytes.clone(),
        kernel: true,
        cache: false,
    })
}

/// The text of `name`, one of the shared includes the teaching kernel's drivers use.
pub fn kernel_include(name: &str) -> Option<&'static str> {
    KERNEL_INCLUDES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
}

/// Assembles `text`, a teaching-kernel source named `file`, with the shared includes
/// its drivers use.
pub fn assemble_kernel_text(
    file: &str,
    text: &str,
) -> Result<vmlab_asm::Output, vmlab_asm::Errors> {
    let include = |name: &str| kernel_include(name).map(str::to_string);
    let opts = vmlab_asm::Options {
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    vmlab_asm::assemble(file, text, &opts)
}

/// The value of symbol `name` in `out`, or an error saying `what` lacks it.
pub(crate) fn symbol(out: &vmlab_asm::Output, name: &str, what: &str) -> Result<u32, String> {
    out.symbols
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .ok_or_else(|| format!("{what} has no symbol {name}"))
}
