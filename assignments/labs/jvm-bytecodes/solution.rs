// reference solution: jvm-bytecodes (vmlab component lab)
//! The int family of JVM bytecodes as vmlab's interpreter executes them (JVM
//! specification, chapter 6): constants, local loads and stores, `iinc`, int
//! arithmetic with 32-bit wrap-around, compares and branches.

use assignments::component::jvm_bytecodes::{Fault, IntBytecodes, IntFrame, Next, WIDE};

/// The reference implementation.
#[derive(Debug)]
pub struct Submission;

/// A big-endian signed 16-bit operand at `at`.
fn s16(code: &[u8], at: usize) -> Result<i32, Fault> {
    match code.get(at..at + 2) {
        Some(b) => Ok(i32::from(i16::from_be_bytes([b[0], b[1]]))),
        None => Err(Fault::Unsupported),
    }
}

/// An unsigned operand byte at `at`.
fn u8_at(code: &[u8], at: usize) -> Result<usize, Fault> {
    code.get(at)
        .map(|&b| usize::from(b))
        .ok_or(Fault::Unsupported)
}

/// An unsigned 16-bit operand at `at`.
fn u16_at(code: &[u8], at: usize) -> Result<usize, Fault> {
    match code.get(at..at + 2) {
        Some(b) => Ok(usize::from(u16::from_be_bytes([b[0], b[1]]))),
        None => Err(Fault::Unsupported),
    }
}

/// The comparison of `if<cond>` and `if_icmp<cond>`, by its place in the group.
fn holds(k: u8, a: i32, b: i32) -> bool {
    match k {
        0 => a == b,
        1 => a != b,
        2 => a < b,
        3 => a >= b,
        4 => a > b,
        _ => a <= b,
    }
}

impl IntBytecodes for Submission {
    fn execute(&self, code: &[u8], f: &mut dyn IntFrame) -> Result<Next, Fault> {
        let op = *code.first().ok_or(Fault::Unsupported)?;
        match op {
            0x02..=0x08 => f.push_int(i32::from(op) - 3)?,
            0x10 => f.push_int(i32::from(*code.get(1).ok_or(Fault::Unsupported)? as i8))?,
            0x11 => f.push_int(s16(code, 1)?)?,
            0x15 => {
                let v = f.load_int(u8_at(code, 1)?)?;
                f.push_int(v)?;
            }
            0x1a..=0x1d => {
                let v = f.load_int(usize::from(op - 0x1a))?;
                f.push_int(v)?;
            }
            0x36 => {
                let v = f.pop_int()?;
                f.store_int(u8_at(code, 1)?, v)?;
            }
            0x3b..=0x3e => {
                let v = f.pop_int()?;
                f.store_int(usize::from(op - 0x3b), v)?;
            }
            0x74 => {
                let a = f.pop_int()?;
                f.push_int(a.wrapping_neg())?;
            }
            0x60 | 0x64 | 0x68 | 0x6c | 0x70 | 0x78 | 0x7a | 0x7c | 0x7e | 0x80 | 0x82 => {
                let b = f.pop_int()?;
                let a = f.pop_int()?;
                let r = match op {
                    0x60 => a.wrapping_add(b),
                    0x64 => a.wrapping_sub(b),
                    0x68 => a.wrapping_mul(b),
                    0x6c | 0x70 if b == 0 => return Err(Fault::DivideByZero),
                    0x6c => a.wrapping_div(b),
                    0x70 => a.wrapping_rem(b),
                    // Shifts use the low five bits of the count.
                    0x78 => a.wrapping_shl(b as u32 & 31),
                    0x7a => a.wrapping_shr(b as u32 & 31),
                    0x7c => ((a as u32) >> (b as u32 & 31)) as i32,
                    0x7e => a & b,
                    0x80 => a | b,
                    _ => a ^ b,
                };
                f.push_int(r)?;
            }
            0x84 => {
                let i = u8_at(code, 1)?;
                let d = i32::from(*code.get(2).ok_or(Fault::Unsupported)? as i8);
                let v = f.load_int(i)?;
                f.store_int(i, v.wrapping_add(d))?;
            }
            0x99..=0x9e => {
                let a = f.pop_int()?;
                if holds(op - 0x99, a, 0) {
                    return Ok(Next::Branch(s16(code, 1)?));
                }
            }
            0x9f..=0xa4 => {
                let b = f.pop_int()?;
                let a = f.pop_int()?;
                if holds(op - 0x9f, a, b) {
                    return Ok(Next::Branch(s16(code, 1)?));
                }
            }
            0xa7 => return Ok(Next::Branch(s16(code, 1)?)),
            WIDE => {
                let i = u16_at(code, 2)?;
                match code.get(1) {
                    Some(0x15) => {
                        let v = f.load_int(i)?;
                        f.push_int(v)?;
                    }
                    Some(0x36) => {
                        let v = f.pop_int()?;
                        f.store_int(i, v)?;
                    }
                    Some(0x84) => {
                        let v = f.load_int(i)?;
                        f.store_int(i, v.wrapping_add(s16(code, 4)?))?;
                    }
                    _ => return Err(Fault::Unsupported),
                }
            }
            _ => return Err(Fault::Unsupported),
        }
        Ok(Next::Fall)
    }
}
