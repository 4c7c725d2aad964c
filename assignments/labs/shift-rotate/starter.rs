//! Lab 7: shifts and rotates. Implement `exec` for every `ShiftOp`.
//!
//! ROL is done as an example; the other operations still return their input.
//! Build and grade locally with `vmlab grade --lab shift-rotate --submission this-file.rs`.

use assignments::component::shift::{ShiftOp, ShiftRotate, CF, OF};

/// Your implementation (keep the name: the grader looks for `Submission`).
#[derive(Debug)]
pub struct Submission;

impl ShiftRotate for Submission {
    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {
        let n = u32::from(size);
        let mask = ((1u64 << n) - 1) as u32;
        let v = value & mask;
        let c = u32::from(count & 0x1f); // the CPU masks the count to 5 bits
        if c == 0 {
            return (v, eflags); // a zero count changes nothing, not even the flags
        }
        match op {
            ShiftOp::Rol => {
                let r = c % n;
                let res = (((u64::from(v) << r) | (u64::from(v) >> (n - r))) as u32) & mask;
                let cf = res & 1;
                let mut f = (eflags & !CF) | cf;
                if c == 1 {
                    let msb = (res >> (n - 1)) & 1;
                    f = if msb != cf { f | OF } else { f & !OF };
                }
                (res, f)
            }
            // Your work: ROR, RCL, RCR, SHL, SHR, SAR.
            _ => (v, eflags),
        }
    }
}
