//! The ALU family behind the translation lab's trait: the lab's API file (the IR's
//! operands and ALU and flag operations, the `AluFamily` trait), the lab's reference
//! solution as the lowering the tier uses, and the hooks a differential check of another
//! lowering drives (a page lowered through it, a region run once).

use super::ir::Region;
use super::lower;
use crate::machine::Machine;

/// The family's API, shared with the lab's submissions.
#[path = "../../../../assignments/src/component/xlate_alu.rs"]
pub mod api;

#[path = "../../../../assignments/labs/xlate-alu/solution.rs"]
mod solution;

/// The tier's own lowering of the family (the translation lab's reference solution).
pub static REFERENCE: solution::Submission = solution::Submission;

/// Discovers and lowers the region entered at `entry` in the code page `page` as
/// [`super::translate_page`] does, with `family` lowering the ALU instructions; the IR
/// before and after the passes.
pub fn translate_page_with(
    page: &[u8],
    entry: u32,
    family: &dyn api::AluFamily,
) -> Option<(Region, Region)> {
    let before = lower::lower_region(|eip| super::decode_on_page(page, eip), entry, family)?;
    let mut after = before.clone();
    super::opt::optimize(&mut after);
    Some((before, after))
}

impl Machine {
    /// Runs region `r` once through the IR interpreter, as the tier does without a
    /// Wasm host: when EIP is its entry, the CPU is in the flat 32-bit mode the tier
    /// needs and no device is due before its end. The instructions it retired (0: it
    /// did not run); EIP, the instruction count and the time stamp counter move on.
    pub fn run_region(&mut self, r: &Region) -> u32 {
        self.enter();
        let due = self.cpu.attention.saturating_sub(self.cpu.tsc);
        if self.cpu.eip != r.entry || !self.flat_eligible() || u64::from(r.instructions()) > due {
            self.leave();
            return 0;
        }
        let out = self.run_ir(r, due.min(u32::MAX as u64) as u32);
        self.cpu.eip = out.eip;
        let done = u64::from(out.retired);
        if done > 0 {
            self.cpu.tsc = self.cpu.tsc.wrapping_add(done);
            self.icount += done;
            self.cpu.retired += done;
            self.cpu.interrupt_shadow = false;
        }
        self.leave();
        out.retired
    }
}
