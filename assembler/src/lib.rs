//! vmlab's assembler: the NASM subset that course material uses, for flat binaries.
#![no_std]
