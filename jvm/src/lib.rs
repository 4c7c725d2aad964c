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

pub mod classfile;
mod error;
pub mod heap;
pub mod interp;
pub mod jit;
pub mod opcode;

pub use error::JvmError;
pub use heap::{GcKind, GcStats, HeapSnapshot};
pub use interp::{ClassSource, MapSource, Outcome, Vm, VmConfig};
