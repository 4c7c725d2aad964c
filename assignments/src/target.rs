//! What the harness needs from a machine, as a trait: the core's `Machine` implements
//! it (see `core_machine`); the trait keeps the harness apart from how a machine is built.

use emulator_core::{CpuState, FlatEntry, MachineConfig, StopReason};

/// A machine a test runs a guest submission on.
pub trait GuestMachine {
    /// Loads a flat image at `addr` and prepares to enter it as `entry` says.
    fn load_flat(&mut self, addr: u32, image: &[u8], entry: FlatEntry) -> Result<(), String>;
    /// Writes guest-physical memory.
    fn write_phys(&mut self, addr: u32, bytes: &[u8]) -> Result<(), String>;
    /// Reads guest-physical memory without side effects (unmapped reads as 0xFF).
    fn peek_phys(&self, addr: u32, buf: &mut [u8]);
    /// The architectural state (as the guest sees it).
    fn cpu(&self) -> &CpuState;
    /// The architectural state, for setting a test's inputs.
    fn cpu_mut(&mut self) -> &mut CpuState;
    /// The privilege level the guest believes it runs at (under trap-and-emulate the
    /// hardware runs the guest kernel at ring 1, 2 or 3 and this says 0).
    fn guest_cpl(&self) -> u8;
    /// Runs at most `budget` instructions.
    fn run(&mut self, budget: u64) -> StopReason;
    /// Instructions retired.
    fn icount(&self) -> u64;
    /// Everything the guest wrote to COM1 (bounded by the serial capacity).
    fn serial_output(&self) -> Vec<u8>;
    /// Queues bytes on COM1's input.
    fn push_serial_input(&mut self, bytes: &[u8]);
    /// How many VM exits of the reason named `reason` the VMM took (`None`: this
    /// machine runs no VMM, or keeps no such count).
    fn vm_exits(&self, reason: &str) -> Option<u64>;
    /// The last exceptions delivered (at most `n`, oldest first), one line each with
    /// where they happened: what a student needs to see after a triple fault.
    fn recent_exceptions(&self, n: usize) -> Vec<String>;
    /// The VMM's Popek–Goldberg reports, one line each (`None`: no VMM).
    fn sensitive_reports(&self) -> Option<Vec<String>>;
    /// Attaches a virtio-blk disk holding `image` (whole 512-byte sectors).
    fn attach_virtio_disk(&mut self, image: Vec<u8>) -> Result<(), String>;
    /// The attached disk's contents now (`None`: no disk).
    fn disk_image(&self) -> Option<Vec<u8>>;
}

/// Builds machines for tests.
pub trait MachineFactory {
    /// A fresh machine, or why it could not be built.
    fn create(&self, cfg: MachineConfig) -> Result<Box<dyn GuestMachine>, String>;
}

/// Turns a guest lab's source into a flat image.
pub trait Assembler {
    /// The image, or the assembler's messages (`file:line:col: message`).
    fn assemble(&self, name: &str, source: &str) -> Result<Vec<u8>, String>;
}
