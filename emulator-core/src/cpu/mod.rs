//! The IA-32 processor: instruction semantics and their building blocks.

pub mod alu;
