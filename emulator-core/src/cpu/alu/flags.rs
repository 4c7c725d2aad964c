//! Lazy EFLAGS status flags: the last flag-setting operation is recorded and each flag
//! is derived from it only when something reads it.

use serde::{Deserialize, Serialize};

use crate::state::flags::{AF, CF, OF, PF, SF, STATUS, ZF};

/// The six arithmetic status flags (CF PF AF ZF SF OF), evaluated lazily.
///
/// An operation records its operands and result; a flag marked *lazy* is derived from
/// that record when read, the others hold their value in the state word. CF is never
/// lazy: an operation that sets it computes it (a carry costs one host comparison, and
/// INC, DEC, ADC, SBB and the unsigned Jcc read it often), so reading it is one bit
/// test.
/// Additions and subtractions share one record form: a subtraction `a - b` is stored
/// as the addition `a + !b + 1` with the borrow bit set, which inverts the carries (AF
/// is a borrow).
/// Logic operations and shifts record only their result: CF, OF and AF are stored as
/// values.
///
/// Which flags are lazy, the values of the others, the operand size and the borrow
/// share one word (`state`), so recording an operation is four stores and a copy of the
/// record is four words.
///
/// Equality compares the materialised flags, and serde stores the six bits as one
/// `u32`, so a restored value behaves exactly like the original.
///
/// The layout is fixed (`repr(C)`: `a`, `b`, `res`, `state` at byte offsets 0, 4, 8,
/// 12) because the translating tier's Wasm code records and reads it in place.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(from = "u32", into = "u32")]
#[repr(C)]
pub struct Flags {
    /// First addend.
    a: u32,
    /// Second addend (complemented for subtractions).
    b: u32,
    /// Result, masked to the operand size.
    res: u32,
    /// Bits 0–11: the values of the status flags that are not lazy (EFLAGS bit
    /// positions); bits 12–23: which status flags are derived from the record (the same
    /// positions, shifted by [`LAZY`]); bits 24–28: the index of the sign bit of the
    /// recorded operation (7, 15 or 31); bit 29 ([`BORROW`]): the record is a
    /// subtraction (CF and AF are borrows).
    state: u32,
}

/// Shift of the lazy-flag mask in [`Flags::state`].
const LAZY: u32 = 12;
/// Shift of the sign-bit index in [`Flags::state`].
const TOP: u32 = 24;
/// The borrow bit of [`Flags::state`].
const BORROW: u32 = 1 << 29;

/// The state word of a record of operand size `size` with the flags `lazy` derived
/// from it, the values `bits` for the others, and `borrow`.
#[inline(always)]
const fn state(size: u8, bits: u32, lazy: u32, borrow: bool) -> u32 {
    (bits & STATUS)
        | ((lazy & STATUS) << LAZY)
        | ((top_bit(size) as u32) << TOP)
        | if borrow { BORROW } else { 0 }
}

/// Index of the sign bit for an operand size in bytes (1, 2, anything else is 4).
#[inline(always)]
pub(super) const fn top_bit(size: u8) -> u8 {
    match size {
        1 => 7,
        2 => 15,
        _ => 31,
    }
}

/// All-ones mask for an operand size in bytes (1, 2, anything else is 4).
#[inline(always)]
pub const fn size_mask(size: u8) -> u32 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        _ => 0xffff_ffff,
    }
}

/// The sign bit for an operand size in bytes (1, 2, anything else is 4).
#[inline(always)]
pub const fn sign(size: u8) -> u32 {
    1 << top_bit(size)
}

/// 1 when the low byte of `v` has an even number of set bits (the PF rule).
#[inline(always)]
pub(super) const fn parity(v: u32) -> u32 {
    let x = (v ^ (v >> 4)) & 0xf;
    (0x9669u32 >> x) & 1
}

// The translating tier's Wasm code relies on the four words and their order.
const _: () = assert!(core::mem::size_of::<Flags>() == 16);

impl Flags {
    /// Byte offset of the first addend in the record.
    pub const OFFSET_A: u64 = 0;
    /// Byte offset of the second addend (complemented for subtractions).
    pub const OFFSET_B: u64 = 4;
    /// Byte offset of the result.
    pub const OFFSET_RES: u64 = 8;
    /// Byte offset of the state word.
    pub const OFFSET_STATE: u64 = 12;

    /// The state word an addition (with `borrow`, a subtraction) of `size` bytes
    /// records, CF clear: what [`Flags::record_arith`] stores before CF is or-ed in.
    pub const fn arith_state(size: u8, borrow: bool) -> u32 {
        state(size, 0, STATUS & !CF, borrow)
    }

    /// The state word a result of `size` bytes records with CF, OF and AF clear: what
    /// [`Flags::record_result`] stores before the explicit flags are or-ed in.
    pub const fn result_state(size: u8) -> u32 {
        state(size, 0, SF | ZF | PF, false)
    }

    /// Status flags taken from an EFLAGS image (other bits are ignored).
    #[inline]
    pub fn from_eflags(e: u32) -> Flags {
        Flags {
            a: 0,
            b: 0,
            res: 0,
            state: state(4, e, 0, false),
        }
    }

    /// The values of the status flags that are not lazy.
    #[inline(always)]
    fn bits(&self) -> u32 {
        self.state & STATUS
    }
    /// Which status flags are derived from the record.
    #[inline(always)]
    fn lazy(&self) -> u32 {
        (self.state >> LAZY) & STATUS
    }
    /// Index of the recorded operation's sign bit.
    #[inline(always)]
    fn top(&self) -> u32 {
        (self.state >> TOP) & 31
    }

    #[inline(always)]
    fn lazy_af(&self) -> u32 {
        (((self.a ^ self.b ^ self.res) >> 4) ^ (self.state & BORROW != 0) as u32) & 1
    }
    #[inline(always)]
    fn lazy_of(&self) -> u32 {
        (((self.a ^ self.res) & (self.b ^ self.res)) >> self.top()) & 1
    }
    #[inline(always)]
    fn lazy_sf(&self) -> u32 {
        (self.res >> self.top()) & 1
    }
    #[inline(always)]
    fn lazy_zf(&self) -> u32 {
        (self.res == 0) as u32
    }

    /// Reads one flag: from the record when it is lazy, else from the state word.
    #[inline(always)]
    fn get(&self, flag: u32, lazy_value: impl FnOnce(&Self) -> u32) -> bool {
        if self.state & (flag << LAZY) != 0 {
            lazy_value(self) != 0
        } else {
            self.state & flag != 0
        }
    }

    /// The six status bits in their EFLAGS positions (all other bits zero).
    #[inline]
    pub fn status(&self) -> u32 {
        let lazy = self.lazy();
        let bits = self.bits();
        if lazy == 0 {
            return bits;
        }
        let computed = (parity(self.res) << 2)
            | (self.lazy_af() << 4)
            | (self.lazy_zf() << 6)
            | (self.lazy_sf() << 7)
            | (self.lazy_of() << 11);
        (bits & !lazy) | (computed & lazy)
    }

    /// Carry flag (never lazy).
    #[inline(always)]
    pub fn cf(&self) -> bool {
        self.state & CF != 0
    }
    /// Parity flag (even parity of the low result byte).
    #[inline]
    pub fn pf(&self) -> bool {
        self.get(PF, |f| parity(f.res))
    }
    /// Auxiliary carry flag (carry or borrow out of bit 3).
    #[inline]
    pub fn af(&self) -> bool {
        self.get(AF, Self::lazy_af)
    }
    /// Zero flag.
    #[inline]
    pub fn zf(&self) -> bool {
        self.get(ZF, Self::lazy_zf)
    }
    /// Sign flag.
    #[inline]
    pub fn sf(&self) -> bool {
        self.get(SF, Self::lazy_sf)
    }
    /// Overflow flag.
    #[inline]
    pub fn of(&self) -> bool {
        self.get(OF, Self::lazy_of)
    }

    /// Sets one status flag to `v`; the others keep their (possibly lazy) values.
    #[inline(always)]
    fn put(&mut self, flag: u32, v: bool) {
        self.state = (self.state & !(flag | flag << LAZY)) | if v { flag } else { 0 };
    }
    /// Sets CF.
    #[inline]
    pub fn set_cf(&mut self, v: bool) {
        self.put(CF, v);
    }
    /// Sets OF.
    #[inline]
    pub fn set_of(&mut self, v: bool) {
        self.put(OF, v);
    }
    /// Sets ZF.
    #[inline]
    pub fn set_zf(&mut self, v: bool) {
        self.put(ZF, v);
    }
    /// Sets SF.
    #[inline]
    pub fn set_sf(&mut self, v: bool) {
        self.put(SF, v);
    }
    /// Sets PF.
    #[inline]
    pub fn set_pf(&mut self, v: bool) {
        self.put(PF, v);
    }
    /// Sets AF.
    #[inline]
    pub fn set_af(&mut self, v: bool) {
        self.put(AF, v);
    }
    /// Replaces all six status flags with the matching bits of `bits` (an EFLAGS image).
    #[inline]
    pub fn set_status(&mut self, bits: u32) {
        self.state = (self.state & !(STATUS | STATUS << LAZY)) | (bits & STATUS);
    }

    /// Puts back the record `old` when `back` holds, field by field and without a
    /// branch on `back` (a condition the host cannot predict).
    #[inline(always)]
    pub(crate) fn restore_if(&mut self, back: bool, old: &Flags) {
        use core::hint::select_unpredictable as pick;
        self.a = pick(back, old.a, self.a);
        self.b = pick(back, old.b, self.b);
        self.res = pick(back, old.res, self.res);
        self.state = pick(back, old.state, self.state);
    }

    /// Evaluates condition `cc`, the low nibble of a Jcc/SETcc/CMOVcc opcode:
    /// O NO B AE E NE BE A S NS P NP L GE LE G.
    #[inline(always)]
    pub fn cond(&self, cc: u8) -> bool {
        let holds = match (cc >> 1) & 7 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() | self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() | (self.sf() != self.of()),
        };
        holds ^ (cc & 1 != 0)
    }

    /// Records an addition `res = a + b (+ carry)` or, with `borrow`, a subtraction
    /// `res = a - b (- borrow)`, with the carry (borrow) `cf` the operation computed:
    /// the five other flags become lazy.
    #[inline(always)]
    pub(super) fn record_arith(
        &mut self,
        size: u8,
        a: u32,
        b: u32,
        res: u32,
        borrow: bool,
        cf: bool,
    ) {
        let inv = if borrow { u32::MAX } else { 0 };
        self.a = a;
        self.b = b ^ inv;
        self.res = res;
        self.state = state(size, cf as u32, STATUS & !CF, borrow);
    }

    /// Records a logic result: CF = OF = AF = 0, SF ZF PF from `res`.
    #[inline(always)]
    pub(super) fn record_logic(&mut self, size: u8, res: u32) {
        self.record_result(size, res, 0);
    }

    /// Records a result whose SF ZF PF follow `res` while CF, OF and AF are given
    /// explicitly (`explicit` holds them in EFLAGS positions).
    #[inline(always)]
    pub(super) fn record_result(&mut self, size: u8, res: u32, explicit: u32) {
        self.res = res;
        self.state = state(size, explicit & (CF | OF | AF), SF | ZF | PF, false);
    }

    /// Sets CF and OF only (rotates); the other flags keep their values.
    #[inline(always)]
    pub(super) fn put_cf_of(&mut self, cf: bool, of: bool) {
        let m = CF | OF;
        self.state = (self.state & !(m | m << LAZY)) | cf as u32 | ((of as u32) << 11);
    }
}

impl Default for Flags {
    /// All status flags clear.
    fn default() -> Self {
        Flags::from_eflags(0)
    }
}

impl PartialEq for Flags {
    fn eq(&self, other: &Self) -> bool {
        self.status() == other.status()
    }
}

impl Eq for Flags {}

impl From<u32> for Flags {
    fn from(e: u32) -> Self {
        Flags::from_eflags(e)
    }
}

impl From<Flags> for u32 {
    fn from(f: Flags) -> u32 {
        f.status()
    }
}
