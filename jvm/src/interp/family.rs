//! The int family of bytecodes, run through the bytecodes lab's trait: the top frame
//! as an [`IntFrame`], and the reference implementation, which is the lab's solution.

use super::Vm;
use crate::component::jvm_bytecodes::{Fault, IntFrame, Next};
use crate::heap::Value;
use crate::JvmError;

#[path = "../../../assignments/labs/jvm-bytecodes/solution.rs"]
mod solution;

/// The interpreter's own int family (the bytecodes lab's reference solution).
pub static REFERENCE: solution::Submission = solution::Submission;

/// The top frame of a machine, as the family sees it; keeps the first refusal.
struct Top<'v, 's> {
    vm: &'v mut Vm<'s>,
    refused: Option<JvmError>,
}

impl Top<'_, '_> {
    fn keep<T>(&mut self, r: Result<T, JvmError>) -> Result<T, Fault> {
        r.map_err(|e| {
            self.refused.get_or_insert(e);
            Fault::Frame
        })
    }
}

impl IntFrame for Top<'_, '_> {
    fn pop_int(&mut self) -> Result<i32, Fault> {
        let r = self.vm.pop_int();
        self.keep(r)
    }

    fn push_int(&mut self, value: i32) -> Result<(), Fault> {
        let r = self.vm.push(Value::Int(value));
        self.keep(r)
    }

    fn load_int(&self, index: usize) -> Result<i32, Fault> {
        match self.vm.frames.last().and_then(|f| f.locals.get(index)) {
            Some(Value::Int(n)) => Ok(*n),
            _ => Err(Fault::Frame),
        }
    }

    fn store_int(&mut self, index: usize, value: i32) -> Result<(), Fault> {
        let r = self.vm.set_local(index, Value::Int(value));
        self.keep(r)
    }
}

/// What a family instruction did, for the interpreter's dispatch.
pub(crate) enum Done {
    Next(Next),
    /// `idiv`/`irem` by zero.
    DivideByZero,
}

/// Runs the family instruction `code` (its bytes) on `vm`'s top frame through
/// `vm.int_family`.
pub(crate) fn execute(vm: &mut Vm, code: &[u8]) -> Result<Done, JvmError> {
    let family = vm.int_family;
    let mut top = Top { vm, refused: None };
    let r = family.execute(code, &mut top);
    let refused = top.refused.take();
    match r {
        Ok(n) => Ok(Done::Next(n)),
        Err(Fault::DivideByZero) => Ok(Done::DivideByZero),
        Err(Fault::Frame) => Err(refused.unwrap_or_else(|| {
            let f = vm
                .frames
                .last()
                .map(|f| f.locals.clone())
                .unwrap_or_default();
            vm.error_here(alloc::format!(
                "{}: a local it reads holds no int (locals {f:?})",
                crate::component::jvm_bytecodes::name(code)
            ))
        })),
        Err(Fault::Unsupported) => Err(vm.error_here(alloc::format!(
            "{} is not one the int family executes",
            crate::component::jvm_bytecodes::name(code)
        ))),
    }
}
