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
//! *undefined*, vmlab makes the deterministic choices below. The machine these were
//! tested on has an AMD processor, so they could not be checked against a modern Intel
//! part; they follow the behaviour sandpile.org documents for Intel's P6/NetBurst cores
//! where that is unambiguous, and otherwise the SDM's count-1 expressions evaluated on
//! the final result. The last column records what the AMD host does (found by the
//! differential test `tests/alu_vs_host.rs`, which masks these entries out).
//!
//! | instruction | undefined in the SDM | vmlab | AMD host |
//! | --- | --- | --- | --- |
//! | AND OR XOR TEST | AF | 0 | same |
//! | SHL/SAL SHR SAR, count ≠ 0 | AF | 0 | 1 |
//! | SHL/SAL, count > 1 | OF | MSB(result) XOR CF | same |
//! | SHR, count > 1 | OF | MSB(result) XOR the bit below it (so 0) | same |
//! | SAR, count > 1 | OF | 0 | same |
//! | SHL SHR, 8/16-bit, count ≥ width | CF | last bit out of a 5-bit-count shifter (0 above the width) | same |
//! | ROL RCL, count ≠ 1 | OF | MSB(result) XOR CF | same |
//! | ROR RCR, count ≠ 1 | OF | MSB(result) XOR the bit below it | same |
//! | RCL RCR, count a multiple of width + 1 | OF | value and CF unchanged, OF as above | same |
//! | SHLD, count > 1 | OF AF | MSB(result) XOR CF; AF = 0 | same OF except 16-bit count 16; AF = 1 |
//! | SHRD, count > 1 | OF AF | MSB(result) XOR the bit below it; AF = 0 | same OF; AF = 1 |
//! | SHLD SHRD, 16-bit, count > 16 | result, all flags | the 48-bit string `dst:src:dst` is shifted; flags as above | not compared |
//! | MUL IMUL | SF ZF AF PF | SF ZF PF from the low half of the product; AF = 0 | unchanged |
//! | DIV IDIV | all six | unchanged | not compared |
//! | DAA DAS | OF | 0 | overflow of the adjusting addition |
//! | AAA AAS | OF SF ZF PF | OF = 0; SF ZF PF from the final (masked) AL | SF ZF PF from AL ± 6 before masking |
//! | AAM | OF AF CF | 0 | same |
//! | AAD | OF AF CF | as for the byte addition AL + AH × base | same |
//! | BSF BSR | CF OF SF AF PF | 0, except PF from the index written (PF = 1 for a zero source) | same |
//! | BT BTS BTR BTC | OF SF AF PF | unchanged | same |

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
pub use flags::{sign, size_mask as mask};
pub use muldiv::{div, idiv, imul, imul_trunc, mul};
pub use shift::{rcl, rcr, rol, ror, sar, shl, shld, shr, shrd};

#[cfg(test)]
mod tests;
