//! A small JVM: class files made by `javac` are read and structurally verified
//! (`classfile/`), interpreted bytecode by bytecode (`interp/`) over one heap that a
//! mark-sweep or a semi-space copying collector manages (`heap/`); hot methods compile
//! to x86 that vmlab's CPU runs (`jit/`).
//!
//! Everything is `no_std` + `alloc`, so the same machine runs in the browser lab and
//! under `vmlab jvm`. Input never panics: a bad class file or an unsupported
//! bytecode is a [`JvmError`] that says where it went wrong.
#![no_std]

extern crate alloc;
// The bytecodes lab's API and reference solution are compiled here as the interpreter's
// own int family, under the names the lab's files use.
extern crate self as assignments;

pub mod classfile;
/// The component-lab API the interpreter shares with the bytecodes lab.
pub mod component {
    pub use super::{gc_mark, jvm_bytecodes};
}
mod error;
pub mod examples;
#[path = "../../assignments/src/component/gc_mark.rs"]
pub mod gc_mark;
pub mod heap;
pub mod interp;
pub mod jit;
#[path = "../../assignments/src/component/jvm_bytecodes.rs"]
pub mod jvm_bytecodes;
pub mod opcode;

pub use error::JvmError;
pub use heap::{GcKind, GcStats, HeapSnapshot};
pub use interp::{ClassSource, MapSource, Outcome, Vm, VmConfig};
