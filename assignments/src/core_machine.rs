//! The core's [`Machine`] as the harness's [`GuestMachine`], and the assembler
//! (`vmlab-asm`) as its [`Assembler`]: the pair the browser and the grader use.

use std::sync::{Arc, Mutex};

use emulator_core::devices::block::BlockStore;
use emulator_core::vmm::ExitReason;
use emulator_core::{CpuState, EventKind, FlatEntry, Machine, MachineConfig, StopReason};

use crate::target::{Assembler, GuestMachine, MachineFactory};

/// A [`Machine`] under test, and the disk attached to it, if any.
#[derive(Debug)]
pub struct CoreMachine(pub Machine, pub Option<SharedDisk>);

/// A disk in memory that the harness reads back after the run while the machine's
/// device holds it.
#[derive(Clone, Debug, Default)]
pub struct SharedDisk(Arc<Mutex<Vec<u8>>>);

impl SharedDisk {
    /// A disk holding `bytes` (a whole number of 512-byte sectors).
    pub fn new(bytes: Vec<u8>) -> SharedDisk {
        SharedDisk(Arc::new(Mutex::new(bytes)))
    }

    /// The contents now.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl BlockStore for SharedDisk {
    fn sectors(&self) -> u64 {
        self.0.lock().map_or(0, |d| d.len() as u64 / 512)
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), String> {
        let d = self
            .0
            .lock()
            .map_err(|_| "the disk is poisoned".to_string())?;
        let at = usize::try_from(lba.saturating_mul(512)).map_err(|e| e.to_string())?;
        let src = d
            .get(at..at.saturating_add(buf.len()))
            .ok_or_else(|| format!("sector {lba} is past the end of the disk"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn write_sectors(&mut self, lba: u64, data: &[u8]) -> Result<(), String> {
        let mut d = self
            .0
            .lock()
            .map_err(|_| "the disk is poisoned".to_string())?;
        let at = usize::try_from(lba.saturating_mul(512)).map_err(|e| e.to_string())?;
        let dst = d
            .get_mut(at..at.saturating_add(data.len()))
            .ok_or_else(|| format!("sector {lba} is past the end of the disk"))?;
        dst.copy_from_slice(data);
        Ok(())
    }
}

impl GuestMachine for CoreMachine {
    fn load_flat(&mut self, addr: u32, image: &[u8], entry: FlatEntry) -> Result<(), String> {
        self.0
            .load_flat(addr, image, entry)
            .map_err(|e| e.to_string())
    }
    fn write_phys(&mut self, addr: u32, bytes: &[u8]) -> Result<(), String> {
        self.0.write_phys(addr, bytes).map_err(|e| e.to_string())
    }
    fn peek_phys(&self, addr: u32, buf: &mut [u8]) {
        self.0.peek_phys(addr, buf);
    }
    fn cpu(&self) -> &CpuState {
        self.0.cpu()
    }
    fn cpu_mut(&mut self) -> &mut CpuState {
        self.0.cpu_mut()
    }
    fn guest_cpl(&self) -> u8 {
        let cpu = self.0.cpu();
        self.0.vmm().map_or(cpu.cpl, |v| v.guest_cpl(cpu))
    }
    fn run(&mut self, budget: u64) -> StopReason {
        self.0.run(budget)
    }
    fn icount(&self) -> u64 {
        self.0.icount()
    }
    fn serial_output(&self) -> Vec<u8> {
        self.0.serial_output()
    }
    fn push_serial_input(&mut self, bytes: &[u8]) {
        self.0.push_serial_input(bytes);
    }
    fn recent_exceptions(&self, n: usize) -> Vec<String> {
        let mut last: Vec<String> = self
            .0
            .events()
            .iter()
            .rev()
            .filter_map(|e| match &e.kind {
                EventKind::Exception(x) => Some(format!("{x} at EIP {:#010x}", e.linear_eip)),
                EventKind::TripleFault => {
                    Some(format!("triple fault at EIP {:#010x}", e.linear_eip))
                }
                _ => None,
            })
            .take(n)
            .collect();
        last.reverse();
        last
    }
    fn vm_exits(&self, reason: &str) -> Option<u64> {
        let vmm = self.0.vmm()?;
        let reason: ExitReason = reason.parse().ok()?;
        Some(vmm.exits.count(reason))
    }
    fn sensitive_reports(&self) -> Option<Vec<String>> {
        let vmm = self.0.vmm()?;
        Some(
            vmm.reports()
                .iter()
                .map(|r| {
                    format!(
                        "{} at {:#010x}: the guest saw {}, a real machine gives {}",
                        r.instruction, r.linear_eip, r.saw, r.real
                    )
                })
                .collect(),
        )
    }
    fn attach_virtio_disk(&mut self, image: Vec<u8>) -> Result<(), String> {
        let disk = SharedDisk::new(image);
        self.0
            .attach_virtio_blk(Box::new(disk.clone()))
            .map_err(|e| e.to_string())?;
        self.1 = Some(disk);
        Ok(())
    }
    fn disk_image(&self) -> Option<Vec<u8>> {
        self.1.as_ref().map(SharedDisk::bytes)
    }
}

/// Builds [`CoreMachine`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreFactory;

impl MachineFactory for CoreFactory {
    fn create(&self, cfg: MachineConfig) -> Result<Box<dyn GuestMachine>, String> {
        Machine::new(cfg)
            .map(|m| Box::new(CoreMachine(m, None)) as Box<dyn GuestMachine>)
            .map_err(|e| e.to_string())
    }
}

/// vmlab's own assembler, with an output limit.
#[derive(Clone, Copy, Debug)]
pub struct VmlabAssembler {
    /// Largest image accepted, in bytes.
    pub max_output_bytes: usize,
}

impl Default for VmlabAssembler {
    fn default() -> Self {
        VmlabAssembler {
            max_output_bytes: 1 << 20,
        }
    }
}

impl VmlabAssembler {
    /// Assembles a whole source file named `submission.asm`.
    pub fn assemble_file(&self, source: &str) -> Result<Vec<u8>, String> {
        Assembler::assemble(self, "submission.asm", source)
    }
}

/// The include files a guest lab's source may use: the frameworks labs give (the
/// ballooning guest's `balloon_guest.inc`, and the `pc.inc` it uses) and the driver
/// the reference shares with the host's guest (balloon tests refuse it elsewhere).
fn framework_include(name: &str) -> Option<String> {
    match name {
        "balloon_guest.inc" => Some(vmlab_host::guest::FRAMEWORK_INC.to_string()),
        "balloon_driver.inc" => Some(vmlab_host::guest::DRIVER_INC.to_string()),
        "pc.inc" => Some(vmlab_host::guest::PC_INC.to_string()),
        _ => None,
    }
}

impl Assembler for VmlabAssembler {
    fn assemble(&self, name: &str, source: &str) -> Result<Vec<u8>, String> {
        let opts = vmlab_asm::Options {
            max_output_bytes: self.max_output_bytes,
            include: Some(&framework_include),
            ..vmlab_asm::Options::default()
        };
        vmlab_asm::assemble(name, source, &opts)
            .map(|out| out.bytes)
            .map_err(|e| e.to_string())
    }
}
