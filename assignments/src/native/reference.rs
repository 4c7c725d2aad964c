//! The references component submissions are compared with: for shifts and rotates,
//! the core's own ALU (`emulator_core::alu`), the code the interpreter runs; for the
//! shadow fill and the JVM's int family, the lab's reference solution (the JVM's
//! interpreter compiles the same file), compiled into the native grader only.

use emulator_core::alu::{self, Flags};

use crate::component::shift::{size_mask, ShiftOp, ShiftRotate, CF, OF, PF, SF, ZF};

#[path = "../../labs/shadow-fill/solution.rs"]
pub mod shadow_fill;

/// The int family as vmlab's JVM executes it: the interpreter compiles this same file.
#[path = "../../labs/jvm-bytecodes/solution.rs"]
pub mod jvm_bytecodes;

/// The mark phase as vmlab's collector runs it: the collector compiles this same file.
#[path = "../../labs/gc-mark/solution.rs"]
pub mod gc_mark;

/// Shifts and rotates as vmlab's interpreter executes them.
#[derive(Clone, Copy, Debug, Default)]
pub struct CoreShift;

impl ShiftRotate for CoreShift {
    fn exec(&self, op: ShiftOp, size: u8, value: u32, count: u8, eflags: u32) -> (u32, u32) {
        const STATUS: u32 = CF | PF | (1 << 4) | ZF | SF | OF;
        let mut f = Flags::from_eflags(eflags);
        let bytes = size / 8;
        let v = value & size_mask(size);
        let r = match op {
            ShiftOp::Rol => alu::rol(&mut f, bytes, v, count),
            ShiftOp::Ror => alu::ror(&mut f, bytes, v, count),
            ShiftOp::Rcl => alu::rcl(&mut f, bytes, v, count),
            ShiftOp::Rcr => alu::rcr(&mut f, bytes, v, count),
            ShiftOp::Shl => alu::shl(&mut f, bytes, v, count),
            ShiftOp::Shr => alu::shr(&mut f, bytes, v, count),
            ShiftOp::Sar => alu::sar(&mut f, bytes, v, count),
        };
        (r & size_mask(size), (eflags & !STATUS) | f.status())
    }
}
