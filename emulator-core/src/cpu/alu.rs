//! The integer ALU: results and lazily evaluated status flags of every arithmetic,
//! logic, shift, multiply/divide, BCD and bit instruction.
//!
//! Operand sizes are given in bytes (1, 2 or 4); operands are `u32`s holding the
//! zero-extended value and results come back masked to the size. Flags are kept in a
//! [`Flags`] record: the common operations store their operands and result, and a
//! flag is computed only when it is read ([`Flags::cf`], [`Flags::cond`],
//! [`Flags::status`]).
//!
//! Every flag the Intel SDM defines is set as the SDM defines it. Where the SDM says
//! *undefined*, vmlab makes the following deterministic choices. The host CPU this is
//! tested on is an AMD processor, so these could not be checked against a modern Intel
//! part; they follow the behaviour documented for Intel's P6/NetBurst cores
//! (sandpile.org's "undefined flags" table) where that table is unambiguous, and the
//! SDM's count-1 expressions otherwise. The differential test against the host masks
//! exactly these entries out.
//!
//! | instruction | flag(s) undefined by the SDM | vmlab's value |
//! | --- | --- | --- |
//! | AND OR XOR TEST | AF | 0 |
//! | SHL/SAL SHR SAR, count ≠ 0 | AF | 0 |
//! | SHL/SAL, count > 1 | OF | MSB(result) XOR CF |
//! | SHR, count > 1 | OF | MSB(result) XOR bit below it (so 0) |
//! | SAR, count > 1 | OF | 0 |
//! | SHL SHR, 8/16-bit, count ≥ width | CF | last bit out of the 5-bit-count shifter (0 above the width) |
//! | ROL, count ≠ 1 | OF | MSB(result) XOR CF |
//! | ROR, count ≠ 1 | OF | MSB(result) XOR bit below it |
//! | RCL, count ≠ 1 | OF | MSB(result) XOR CF |
//! | RCR, count ≠ 1 | OF | MSB(result) XOR bit below it |
//! | RCL RCR, count a multiple of width + 1 | (no rotation) | value and CF unchanged, OF as above |
//! | SHLD, count > 1 | OF, AF | MSB(result) XOR CF; AF = 0 |
//! | SHRD, count > 1 | OF, AF | MSB(result) XOR bit below it; AF = 0 |
//! | SHLD SHRD, 16-bit, count > 16 | result, all | shift of the 48-bit string `dst:src:dst`; flags as above |
//! | MUL IMUL | SF ZF PF AF | SF ZF PF from the low half of the product; AF = 0 |
//! | DIV IDIV | all six | unchanged |
//! | DAA DAS | OF | 0 |
//! | AAA AAS | OF SF ZF PF | OF = 0; SF ZF PF from the final AL |
//! | AAM | OF AF CF | 0 |
//! | AAD | OF AF CF | as for the byte addition AL + AH × base |
//! | BSF BSR | CF OF SF AF PF | 0, except PF from the index written (PF = 1 for a zero source) |
//! | BT BTS BTR BTC | OF SF AF PF | unchanged |

mod arith;
mod bcd;
mod bits;
mod flags;
mod muldiv;
mod shift;

pub use arith::{adc, add, and, cmp, dec, inc, neg, or, sbb, sub, test, xor};
pub use bcd::{aaa, aad, aam, aas, daa, das};
pub use bits::{bsf, bsr, bt, btc, btr, bts};
pub use flags::Flags;
pub use muldiv::{div, idiv, imul, imul_trunc, mul};
pub use shift::{rcl, rcr, rol, ror, sar, shl, shld, shr, shrd};

#[cfg(test)]
mod tests;
