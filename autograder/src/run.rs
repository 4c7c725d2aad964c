//! `vmlab run`: loads a guest (ROM, flat binary or Multiboot kernel), runs it under an
//! instruction budget with the serial console on the terminal, and reports how it stopped.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::{ArgGroup, Args, ValueEnum};
use emulator_core::smp::TscPolicy;
use emulator_core::vmm::TlbTagging;
use emulator_core::{
    ExecMode, FlatEntry, GuestPaging, GuestRing, Machine, MachineConfig, StopReason,
};

use crate::{gdb, run_nic, run_report};

/// Instructions per slice: the console is flushed after each one.
const SLICE: u64 = 1_000_000;

/// Exit status when the guest halted.
pub const EXIT_HALTED: u8 = 0;
/// Exit status for a file or option the machine cannot use.
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit status after a triple fault.
pub const EXIT_TRIPLE_FAULT: u8 = 4;
/// Exit status when the instruction budget ran out (as `timeout` does).
pub const EXIT_BUDGET: u8 = 124;

/// Options of `vmlab run`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("image").required(true).args(["rom", "flat", "multiboot", "linux"])))]
#[command(
    after_help = "Exit status: 0 halted; v when the guest wrote v to the debug-exit port \
0xF4 (0 is success); 4 triple fault; 124 instruction budget used up; 2 bad file or option \
(a guest can write 2, 4 or 124 too: the --json report's `stop` tells them apart).\n\
With --json the console goes to stderr and the report alone to stdout \
(schema: docs/run-json.md); a bad file or option prints a JSON error object."
)]
pub struct RunArgs {
    /// A 64 or 128 KiB ROM image, started at the reset vector F000:FFF0.
    #[arg(long, value_name = "FILE")]
    rom: Option<PathBuf>,
    /// A flat binary loaded at physical ADDR (0x… for hex).
    #[arg(long, num_args = 2, value_names = ["ADDR", "FILE"])]
    flat: Option<Vec<String>>,
    /// How a flat binary starts: real mode at 0:ADDR, or flat 32-bit ring-0 protected
    /// mode at EIP = ADDR.
    #[arg(long, default_value = "real", requires = "flat",
          value_parser = PossibleValuesParser::new(FlatEntry::ALL.map(FlatEntry::name))
              .try_map(|s| s.parse::<FlatEntry>()))]
    entry: FlatEntry,
    /// A Multiboot (v1) ELF kernel, loaded as QEMU's -kernel does.
    #[arg(long, value_name = "FILE")]
    multiboot: Option<PathBuf>,
    /// The Multiboot kernel's command line.
    #[arg(long, default_value = "", requires = "multiboot")]
    cmdline: String,
    /// Guest RAM in MiB.
    #[arg(long, value_name = "MiB", default_value_t = 16)]
    mem: u32,
    /// Processors: CPU 0 starts, the others wait for INIT and a start-up IPI (the MP
    /// table at 0x9FC00 lists them, each with a local APIC at 0xFEE00000).
    #[arg(long, value_name = "N", default_value_t = 1,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(emulator_core::config::MAX_CPUS)))]
    cpus: u32,
    /// With several CPUs: instructions each runs before the next one's turn (round
    /// robin; the same quantum always gives the same run).
    #[arg(long, value_name = "Q", default_value_t = 1000,
          value_parser = clap::value_parser!(u64).range(1..))]
    quantum: u64,
    /// Stop after this many instructions.
    #[arg(long, value_name = "N", default_value_t = 1_000_000_000)]
    pub max_insns: u64,
    /// Print a JSON report at the end (stop reason, instruction count, registers,
    /// POST writes, counters, exit status; under a VMM also the exits by reason, the
    /// shadow or nested paging statistics and the Popek–Goldberg reports).
    #[arg(long)]
    pub json: bool,
    /// Run bare, or under the trap-and-emulate or hardware-assisted VMM (the names lab
    /// files use; `--paging` and `--guest-ring` adjust the mode).
    #[arg(long, default_value = "bare",
          value_parser = PossibleValuesParser::new(ExecMode::ALL.map(ExecMode::name))
              .try_map(|s| s.parse::<ExecMode>()))]
    mode: ExecMode,
    /// Memory virtualization under hw-assist (trap-emulate always uses shadow paging).
    #[arg(long, value_enum)]
    paging: Option<PagingArg>,
    /// The ring trap-emulate deprivileges the guest kernel to: 1 (VMware, 32-bit
    /// Xen), 2, or 3 (64-bit Xen PV: the VMM tracks the virtual CPL and keeps a
    /// kernel-mode and a user-mode shadow root).
    #[arg(long, value_name = "RING", value_parser = clap::value_parser!(u8).range(1..=3))]
    guest_ring: Option<u8>,
    /// Under a VMM: `tagged` TLB entries (VPID/ASID) survive VM exits; `flush`
    /// empties the TLB on every exit and entry (`vmm.tlb` in the --json report
    /// counts the flushes, `counters.tlb_misses` the misses they cause).
    #[arg(long, value_name = "TAGGING",
          value_parser = PossibleValuesParser::new(TlbTagging::ALL.map(TlbTagging::name))
              .try_map(|s| s.parse::<TlbTagging>()))]
    tlb: Option<TlbTagging>,
    /// Under shadow paging (trap-emulate, or hw-assist with `--paging shadow`): map
    /// the guest's page tables read-only, so each store to them exits (`pt-write`)
    /// and the shadow follows it without waiting for INVLPG.
    #[arg(long)]
    pt_protect: bool,
    /// Under hw-assist: turn interrupt-window exiting off (an interrupt raised while
    /// the guest's IF is clear then waits in the PIC with no `interrupt-window` exit).
    #[arg(long)]
    no_interrupt_window: bool,
    /// Under hw-assist: APIC virtualization with posted interrupts (a virtual-APIC
    /// page answers APIC reads and EOIs, APIC interrupts arrive without an exit;
    /// IPI sends still exit).
    #[arg(long)]
    apicv: bool,
    /// Under a VMM with several CPUs: the host time-slices the vCPUs, running each
    /// for N instructions before the next (a vCPU descheduled while it holds a lock
    /// leaves the others spinning: lock-holder preemption).
    #[arg(long, value_name = "N")]
    host_slice: Option<u64>,
    /// With --host-slice: co-schedule the vCPUs (they run together, interleaved at
    /// --quantum, and the host deschedules all of them at once).
    #[arg(long)]
    cosched: bool,
    /// Under hw-assist: pause-loop exiting (a PAUSE loop longer than the window exits
    /// with `pause-loop` and the host runs the next vCPU).
    #[arg(long)]
    ple: bool,
    /// Under a VMM: what the host does with a vCPU's TSC while it runs another vCPU in
    /// its slice: `sync` keeps every vCPU's TSC offset equal (as KVM does), `drift`
    /// stops the descheduled vCPU's counter so the vCPUs' counters drift apart.
    #[arg(long, value_name = "POLICY",
          value_parser = PossibleValuesParser::new(TscPolicy::ALL.map(TscPolicy::name))
              .try_map(|s| s.parse::<TscPolicy>()))]
    tsc: Option<TscPolicy>,
    /// Serve the GDB remote protocol on 127.0.0.1:PORT (0 picks a free port; the
    /// address goes to stderr) and wait for gdb before the first instruction.
    #[arg(long, value_name = "PORT")]
    gdb: Option<u16>,
    #[command(flatten)]
    pub(crate) linux: crate::linux::LinuxArgs,
    /// A disk image as the primary IDE master (ATA PIO, with a PCI bus to find it):
    /// FILE or FILE,format=raw|qcow2. The guest's writes go to the file (a qcow2
    /// overlay keeps its backing files unchanged).
    #[arg(long, value_name = "FILE[,format=raw|qcow2]")]
    disk: Option<String>,
    /// How the guest sees `--disk`: an ATA drive on the primary IDE channel, or a
    /// virtio-blk device (PCI 00:03.0, vendor 1AF4h, legacy I/O BAR 0, IRQ 11).
    #[arg(long, value_enum, default_value = "ata")]
    disk_if: DiskIf,
    /// virtio-blk and virtio-net: each request keeps the device busy for FIXED guest
    /// cycles plus PER_512 per 512 bytes it moves. While busy the device polls its
    /// available ring and asks the driver not to notify (`VIRTQ_USED_F_NO_NOTIFY`, or
    /// `avail_event` under event indexes). 0, the default, serves each notify at once.
    #[arg(long, value_name = "FIXED[+PER_512]",
          value_parser = |s: &str| emulator_core::devices::virtio::ServiceTime::parse(s))]
    virtio_service: Option<emulator_core::devices::virtio::ServiceTime>,
    /// A network card: `virtio` is a virtio-net device (PCI 00:04.0, vendor 1AF4h,
    /// legacy I/O BAR 0, IRQ 10, MAC 52:54:00:12:34:56) on a link to an endpoint stub
    /// that answers ARP, ICMP echo and UDP echo; `ne2000` is an RTL8029 (PCI 00:05.0,
    /// 10EC:8029, 32 I/O ports, IRQ 9, the same MAC) on the same link.
    #[arg(long, value_parser = ["virtio", "ne2000"])]
    nic: Option<String>,
    /// With `--nic`: the stub's IPv4 address.
    #[arg(long, value_name = "IP", default_value = "10.0.0.1", requires = "nic")]
    nic_stub: String,
    /// With `--nic`: capture the link's frames to this pcap file (`tcpdump -r` reads it).
    #[arg(long, value_name = "FILE", requires = "nic")]
    nic_pcap: Option<PathBuf>,
    /// How instructions run: the general interpreter, the pre-decoded fast tier, or the
    /// translating tier (natively its regions run through the IR interpreter: the same
    /// state, for inspection rather than speed).
    #[arg(long, value_enum, default_value = "fast")]
    pub tier: Tier,
    /// With `--tier translate`: executions of an entry point before its region is
    /// translated.
    #[arg(long, value_name = "N", default_value_t = emulator_core::translate::DEFAULT_THRESHOLD)]
    pub threshold: u32,
}

/// `--tier`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Tier {
    /// The general interpreter: decode and dispatch, one instruction at a time.
    Interp,
    /// Pre-decoded operations per page with threaded dispatch.
    Fast,
    /// Hot regions translated to IR and optimised.
    Translate,
}

/// `--disk-if`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DiskIf {
    /// ATA PIO on the primary IDE channel: every word moved is a port access.
    Ata,
    /// virtio-blk: requests on a split virtqueue, data moved by DMA.
    Virtio,
}

/// Opens `--disk FILE[,format=F]` with its backing chain.
fn open_disk(spec: &str) -> Result<vmlab_disk::Image, String> {
    let (file, format) = match spec.rsplit_once(",format=") {
        Some((file, f)) => (
            file,
            Some(vmlab_disk::Format::parse(f).map_err(|e| format!("--disk {spec}: {e}"))?),
        ),
        None => (spec, None),
    };
    vmlab_disk::open::open_path(file, format, true).map_err(|e| format!("--disk: {e}"))
}

/// `--paging`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum PagingArg {
    Shadow,
    Nested,
}

/// The guest image and how to start it.
enum Image {
    Rom(Vec<u8>),
    Flat(u32, Vec<u8>, FlatEntry),
    Multiboot(Vec<u8>, String),
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Parses `0x…` hex or decimal.
pub fn parse_addr(s: &str) -> Result<u32, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse(),
    };
    r.map_err(|_| format!("bad load address {s:?}: expected a number such as 0x7c00"))
}

/// `--mode` adjusted by `--paging` and `--guest-ring`.
fn exec_mode(
    mode: ExecMode,
    paging: Option<PagingArg>,
    guest_ring: Option<u8>,
) -> Result<ExecMode, String> {
    match (mode, paging, guest_ring) {
        (m, None, None) => Ok(m),
        (ExecMode::TrapEmulate { .. }, None | Some(PagingArg::Shadow), ring) => {
            Ok(ExecMode::TrapEmulate {
                guest_ring: match ring {
                    Some(n) => GuestRing::from_number(n)
                        .ok_or_else(|| format!("--guest-ring {n}: use 1, 2 or 3"))?,
                    None => GuestRing::default(),
                },
            })
        }
        (ExecMode::TrapEmulate { .. }, Some(PagingArg::Nested), _) => Err(
            "--mode trap-emulate always uses shadow paging; --paging nested needs hw-assist".into(),
        ),
        (_, _, Some(_)) => Err("--guest-ring only applies to --mode trap-emulate".into()),
        (ExecMode::HwAssist { .. }, Some(p), None) => Ok(ExecMode::HwAssist {
            paging: match p {
                PagingArg::Shadow => GuestPaging::Shadow,
                PagingArg::Nested => GuestPaging::Nested,
            },
        }),
        (ExecMode::Bare, Some(_), None) => Err("--paging only applies to --mode hw-assist".into()),
    }
}

impl RunArgs {
    fn image(&self) -> Result<Image, String> {
        if let Some(path) = &self.rom {
            return Ok(Image::Rom(read(path)?));
        }
        if let Some(v) = &self.flat {
            let [addr, file] = v.as_slice() else {
                return Err("--flat takes ADDR FILE".into());
            };
            return Ok(Image::Flat(
                parse_addr(addr)?,
                read(Path::new(file))?,
                self.entry,
            ));
        }
        if let Some(path) = &self.multiboot {
            return Ok(Image::Multiboot(read(path)?, self.cmdline.clone()));
        }
        Err("give one of --rom, --flat or --multiboot".into())
    }

    fn config(&self) -> Result<MachineConfig, String> {
        Ok(MachineConfig {
            ram_mib: self.mem,
            mode: exec_mode(self.mode, self.paging, self.guest_ring)?,
            cpus: self.cpus,
            quantum: self.quantum,
            ..MachineConfig::default()
        })
    }
}

/// Refuses a run that cannot do anything useful, naming why.
fn check_input(args: &RunArgs, image: &Image, file: &str) -> Result<(), String> {
    if args.max_insns == 0 {
        return Err("--max-insns 0 would run nothing: give at least 1".into());
    }
    let (Image::Rom(bytes) | Image::Flat(_, bytes, _) | Image::Multiboot(bytes, _)) = image;
    if bytes.is_empty() {
        return Err(format!("{file} is empty: there is no program to run"));
    }
    if let Image::Flat(addr, bytes, _) = image {
        let ram = u64::from(args.mem) << 20;
        if u64::from(*addr) + bytes.len() as u64 > ram {
            return Err(format!(
                "--flat {addr:#x}: {file} ({} bytes) does not fit in the guest's {} MiB of RAM (physical 0x0 to {:#x}); load it lower or raise --mem",
                bytes.len(),
                args.mem,
                ram.saturating_sub(1)
            ));
        }
    }
    Ok(())
}

/// Builds and loads the machine with the `--tier` asked for; every failure is a
/// message for the user.
pub fn prepare(args: &RunArgs) -> Result<Machine, String> {
    let cfg = args.config()?;
    let image = args.image()?;
    let file = args
        .rom
        .as_deref()
        .or(args.multiboot.as_deref())
        .map(|p| p.display().to_string())
        .or_else(|| args.flat.as_ref().and_then(|v| v.get(1).cloned()))
        .unwrap_or_default();
    check_input(args, &image, &file)?;
    let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
    if let Some(t) = args.tlb {
        m.vmm_mut()
            .ok_or("--tlb only applies under a VMM (--mode trap-emulate or hw-assist)")?
            .tlb_tagging = t;
    }
    if args.pt_protect {
        m.vmm_mut()
            .ok_or("--pt-protect only applies under a VMM with shadow paging")?
            .shadow
            .pt_protect = true;
    }
    if args.no_interrupt_window {
        m.vmm_mut()
            .ok_or("--no-interrupt-window only applies under --mode hw-assist")?
            .controls
            .interrupt_window = false;
    }
    if args.apicv {
        let v = m
            .vmm_mut()
            .filter(|v| matches!(v.mode(), ExecMode::HwAssist { .. }))
            .ok_or("--apicv only applies under --mode hw-assist")?;
        v.controls.apic_virtualization = true;
    }
    if args.host_slice.is_some() || args.cosched || args.ple {
        m.set_host_schedule(emulator_core::smp::HostSchedule {
            slice: args.host_slice.unwrap_or(0),
            cosched: args.cosched,
            ple_window: if args.ple {
                emulator_core::smp::DEFAULT_PLE_WINDOW
            } else {
                0
            },
        })
        .map_err(|e| e.to_string())?;
    }
    if let Some(p) = args.tsc {
        m.set_tsc_policy(p).map_err(|e| format!("--tsc: {e}"))?;
    }
    let loaded = match &image {
        Image::Rom(bytes) => m.load_rom(bytes),
        Image::Flat(addr, bytes, entry) => m.load_flat(*addr, bytes, *entry),
        Image::Multiboot(bytes, cmdline) => m.load_multiboot(bytes, cmdline),
    };
    loaded.map_err(|e| format!("{file}: {e}"))?;
    if let Some(service) = args.virtio_service {
        m.set_virtio_service(service);
    }
    if let Some(spec) = &args.disk {
        let disk = Box::new(open_disk(spec)?);
        match args.disk_if {
            DiskIf::Ata => m.attach_disk(disk),
            DiskIf::Virtio => m.attach_virtio_blk(disk),
        }
        .map_err(|e| format!("--disk {spec}: {e}"))?;
    }
    m.set_fast_tier(args.tier == Tier::Fast);
    if args.tier == Tier::Translate {
        m.set_fast_tier(false);
        m.set_translate(Some(args.threshold));
    }
    Ok(m)
}

/// Runs in slices until the guest stops or the budget is used up, copying the serial
/// console to `console` as it goes.
pub fn run_machine(m: &mut Machine, max_insns: u64, console: &mut dyn Write) -> StopReason {
    run_linked(m, max_insns, console, None)
}

/// [`run_machine`], carrying the NIC's frames over `link` after each slice.
fn run_linked(
    m: &mut Machine,
    max_insns: u64,
    console: &mut dyn Write,
    mut link: Option<&mut run_nic::Link>,
) -> StopReason {
    let mut used = 0u64;
    loop {
        let slice = SLICE.min(max_insns - used);
        if slice == 0 {
            return StopReason::BudgetExhausted;
        }
        let before = m.icount();
        let stop = m.run(slice);
        copy_console(m, console);
        let answered = link.as_deref_mut().is_some_and(|l| l.pump(m));
        match stop {
            // A guest asleep in HLT until its NIC interrupts: the stub's answers wake it.
            StopReason::Halted if answered => {
                used += (m.icount() - before).clamp(1, slice);
            }
            StopReason::BudgetExhausted => {
                used += slice;
            }
            StopReason::Breakpoint(_) | StopReason::VmExit | StopReason::Stepped => {
                // Nothing asked for these stops: count what ran and go on.
                used += (m.icount() - before).clamp(1, slice);
            }
            other => return other,
        }
    }
}

/// Copies what the guest wrote to its serial port since the last call to `console`.
pub fn copy_console(m: &mut Machine, console: &mut dyn Write) {
    let out = m.take_serial_output();
    // The console is best effort: a closed pipe must not stop the run.
    let _ = console.write_all(&out);
    let _ = console.flush();
}

/// The process exit status for a stop reason: a debug-exit value as it is (0 is
/// success), 0 for a halt, and the `EXIT_*` statuses otherwise.
pub fn exit_status(stop: StopReason) -> u8 {
    match stop {
        StopReason::DebugExit(v) => v,
        StopReason::TripleFault => EXIT_TRIPLE_FAULT,
        StopReason::BudgetExhausted => EXIT_BUDGET,
        _ => EXIT_HALTED,
    }
}

/// `vmlab run`.
pub fn main(args: RunArgs) -> ExitCode {
    if let Some(elf) = &args.linux.linux {
        return crate::linux::main(elf, &args.linux, args.max_insns, args.json);
    }
    let mut m = match prepare(&args) {
        Ok(m) => m,
        Err(e) => {
            if args.json {
                println!("{}", run_report::error(&e, EXIT_BAD_INPUT));
            }
            eprintln!("vmlab run: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let mut link = match args.nic.as_deref().map(|nic| {
        run_nic::attach(&mut m, nic)
            .map_err(|e| format!("--nic: {e}"))
            .and_then(|()| run_nic::Link::new(&args.nic_stub, args.nic_pcap.clone()))
    }) {
        Some(Ok(l)) => Some(l),
        None => None,
        Some(Err(e)) => {
            if args.json {
                println!("{}", run_report::error(&e, EXIT_BAD_INPUT));
            }
            eprintln!("vmlab run: {e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let mut stderr = std::io::stderr();
    let mut stdout = std::io::stdout();
    let console: &mut dyn Write = if args.json { &mut stderr } else { &mut stdout };
    let stop = match args.gdb {
        None => run_linked(&mut m, args.max_insns, console, link.as_mut()),
        Some(port) => match gdb::serve(&mut m, port, args.max_insns, console) {
            Ok(gdb::Ended::Stopped(stop)) => stop,
            Ok(gdb::Ended::Detached) => {
                let left = args.max_insns.saturating_sub(m.icount());
                run_machine(&mut m, left, console)
            }
            Ok(gdb::Ended::Killed) => {
                eprintln!(
                    "vmlab run: gdb killed the guest after {} instructions",
                    m.icount()
                );
                return ExitCode::from(EXIT_HALTED);
            }
            Err(e) => {
                if args.json {
                    println!("{}", run_report::error(&e, EXIT_BAD_INPUT));
                }
                eprintln!("vmlab run: {e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
    };
    let status = exit_status(stop);
    if let Some(Err(e)) = link.as_ref().map(run_nic::Link::finish) {
        eprintln!("vmlab run: {e}");
    }
    if args.tier == Tier::Translate && !args.json {
        eprintln!("vmlab run: {}", crate::translate::NATIVE_NOTE);
    }
    if args.json {
        let mut report = run_report::report(&m, stop, status);
        if args.tier == Tier::Translate {
            report["translate"] = crate::translate::stats_json(&m);
        }
        report["nic"] = link
            .as_ref()
            .map_or(serde_json::Value::Null, |l| l.json(&m));
        match serde_json::to_string_pretty(&report) {
            Ok(s) => println!("{s}"),
            Err(e) => eprintln!("vmlab run: cannot write the report: {e}"),
        }
    } else {
        eprintln!(
            "vmlab run: {} after {} instructions",
            stop.name(),
            m.icount()
        );
        for line in run_report::vmm_summary(&m) {
            eprintln!("vmlab run: {line}");
        }
        if let Some(line) = crate::run_tsc::summary(&m) {
            eprintln!("vmlab run: {line}");
        }
        if let Some(line) = run_report::disk_summary(&m) {
            eprintln!("vmlab run: {line}");
        }
        if let Some(l) = &link {
            eprintln!("vmlab run: {}", l.summary(&m));
        }
    }
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_statuses() {
        assert_eq!(exit_status(StopReason::Halted), 0);
        assert_eq!(exit_status(StopReason::DebugExit(0)), 0);
        assert_eq!(exit_status(StopReason::DebugExit(3)), 3);
        assert_eq!(exit_status(StopReason::TripleFault), EXIT_TRIPLE_FAULT);
        assert_eq!(exit_status(StopReason::BudgetExhausted), EXIT_BUDGET);
    }

    #[test]
    fn addresses_and_modes() {
        assert_eq!(parse_addr("0x7c00"), Ok(0x7c00));
        assert_eq!(parse_addr("4096"), Ok(4096));
        assert!(parse_addr("0xzz").is_err());
        assert_eq!(exec_mode(ExecMode::Bare, None, None), Ok(ExecMode::Bare));
        let ring3 = ExecMode::TrapEmulate {
            guest_ring: GuestRing::Ring3,
        };
        assert_eq!(exec_mode(ExecMode::TRAP_EMULATE, None, Some(3)), Ok(ring3));
        assert_eq!(exec_mode(ring3, None, None), Ok(ring3));
        assert!(exec_mode(ExecMode::TRAP_EMULATE, None, Some(4)).is_err());
        assert!(exec_mode(ExecMode::HW_ASSIST, None, Some(3)).is_err());
        let shadow = ExecMode::HwAssist {
            paging: GuestPaging::Shadow,
        };
        assert_eq!(
            exec_mode(ExecMode::HW_ASSIST, Some(PagingArg::Shadow), None),
            Ok(shadow)
        );
        assert_eq!(
            exec_mode(shadow, Some(PagingArg::Nested), None),
            Ok(ExecMode::HW_ASSIST)
        );
        assert!(exec_mode(ExecMode::TRAP_EMULATE, Some(PagingArg::Nested), None).is_err());
        assert!(exec_mode(ExecMode::Bare, Some(PagingArg::Nested), None).is_err());
    }
}
