//! Moving pages and the machine state from one machine to another.

use alloc::vec::Vec;

use emulator_core::Machine;

use crate::MigrateError;

/// Copies RAM page `page` of `src` into `dst`.
pub fn copy_page(src: &Machine, dst: &mut Machine, page: u32) -> Result<(), MigrateError> {
    let bytes = src.ram_page(page);
    dst.write_phys(page.saturating_mul(4096), bytes)
        .map_err(|e| MigrateError::Restore(alloc::format!("page {page:#x}: {e}")))
}

/// Copies the pages `pages` of `src` into `dst`.
pub fn copy_pages(src: &Machine, dst: &mut Machine, pages: &[u32]) -> Result<(), MigrateError> {
    pages.iter().try_for_each(|&p| copy_page(src, dst, p))
}

/// Every page of `m`, in order.
pub fn all_pages(m: &Machine) -> Vec<u32> {
    (0..m.ram_pages() as u32).collect()
}

/// Hands the stopped `src`'s CPU, devices and VMM to `dst` (RAM travels separately).
pub fn move_state(src: &Machine, dst: &mut Machine) -> Result<(), MigrateError> {
    let state = src.snapshot_without_memory();
    dst.restore_without_ram(&state)
        .map_err(|e| MigrateError::Restore(alloc::format!("{e}")))
}

/// The destination machine for `src`: the same configuration, zeroed RAM.
pub fn destination_for(src: &Machine) -> Result<Machine, MigrateError> {
    Machine::new(src.config().clone()).map_err(|e| MigrateError::Restore(alloc::format!("{e}")))
}
