//! The x87's 80-bit extended-precision numbers in software: classification, exact
//! conversions in, correctly rounded conversions out (to single, double, integers and
//! packed BCD), and add, subtract, multiply, divide, square root and remainder rounded
//! as the control word says, with the six exception flags the status word collects.

/// Status-word exception flags.
pub mod exc {
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Zero divide.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision (inexact result).
    pub const PE: u16 = 1 << 5;
}

/// Rounding control (control word bits 10–11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Round {
    /// To nearest, ties to even.
    Nearest,
    /// Towards −∞.
    Down,
    /// Towards +∞.
    Up,
    /// Towards zero.
    Zero,
}

impl Round {
    /// From the control word.
    pub fn from_cw(cw: u16) -> Round {
        match (cw >> 10) & 3 {
            0 => Round::Nearest,
            1 => Round::Down,
            2 => Round::Up,
            _ => Round::Zero,
        }
    }
}

/// How a result is rounded: significand bits (24, 53 or 64) and the mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ctx {
    /// Significand bits kept.
    pub precision: u32,
    /// Rounding mode.
    pub round: Round,
}

impl Ctx {
    /// From the control word: PC (bits 8–9: 0 → 24, 2 → 53, 3 → 64) and RC.
    pub fn from_cw(cw: u16) -> Ctx {
        let precision = match (cw >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        };
        Ctx {
            precision,
            round: Round::from_cw(cw),
        }
    }
    /// Full precision, to nearest.
    pub const EXTENDED: Ctx = Ctx {
        precision: 64,
        round: Round::Nearest,
    };
}

/// An 80-bit extended-precision value as its fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct F80 {
    /// Sign.
    pub sign: bool,
    /// Biased exponent (0..=0x7FFF).
    pub exp: u16,
    /// Significand with the explicit integer bit (bit 63).
    pub mant: u64,
}

/// What kind of value an [`F80`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// ±0.
    Zero,
    /// A denormal (or pseudo-denormal).
    Denormal,
    /// A normal number.
    Normal,
    /// ±∞.
    Infinity,
    /// A quiet NaN.
    QNan,
    /// A signalling NaN.
    SNan,
    /// An encoding the 387 and later reject (unnormal, pseudo-NaN, pseudo-infinity).
    Unsupported,
}

const INT_BIT: u64 = 1 << 63;
const QUIET: u64 = 1 << 62;
const BIAS: i32 = 16383;

/// The exponent range a result is rounded into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// 80-bit: 15-bit exponent, explicit integer bit.
    Extended,
    /// 64-bit double.
    Double,
    /// 32-bit single.
    Single,
}

impl Format {
    const fn bias(self) -> i32 {
        match self {
            Format::Extended => 16383,
            Format::Double => 1023,
            Format::Single => 127,
        }
    }
    const fn emax(self) -> i32 {
        match self {
            Format::Extended => 16383,
            Format::Double => 1023,
            Format::Single => 127,
        }
    }
    const fn bits(self) -> u32 {
        match self {
            Format::Extended => 64,
            Format::Double => 53,
            Format::Single => 24,
        }
    }
}

/// A finite non-zero value unpacked: `sig` (bit 127 set) × 2^(`exp` − 127).
#[derive(Clone, Copy, Debug)]
struct Wide {
    sign: bool,
    exp: i32,
    sig: u128,
}

/// A rounded result: the packed fields, the flags raised, and whether the
/// magnitude was rounded up (the status word's C1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounded<T> {
    /// The value.
    pub value: T,
    /// Exception flags raised.
    pub flags: u16,
    /// The last bit was rounded up.
    pub up: bool,
}

impl F80 {
    /// The value with these fields.
    pub const fn new(sign: bool, exp: u16, mant: u64) -> F80 {
        F80 { sign, exp, mant }
    }
    /// +0.
    pub const ZERO: F80 = F80::new(false, 0, 0);
    /// +1.
    pub const ONE: F80 = F80::new(false, 0x3fff, INT_BIT);
    /// The default NaN (real indefinite) an invalid operation gives when masked.
    pub const INDEFINITE: F80 = F80::new(true, 0x7fff, INT_BIT | QUIET);
    /// ±∞.
    pub const fn infinity(sign: bool) -> F80 {
        F80::new(sign, 0x7fff, INT_BIT)
    }

    /// From the 10 bytes of memory (little-endian).
    pub fn from_bytes(b: [u8; 10]) -> F80 {
        let mut m = [0u8; 8];
        m.copy_from_slice(&b[..8]);
        let se = u16::from_le_bytes([b[8], b[9]]);
        F80::new(se & 0x8000 != 0, se & 0x7fff, u64::from_le_bytes(m))
    }
    /// The 10 bytes of memory.
    pub fn to_bytes(self) -> [u8; 10] {
        let mut b = [0u8; 10];
        b[..8].copy_from_slice(&self.mant.to_le_bytes());
        let se = self.exp | if self.sign { 0x8000 } else { 0 };
        b[8..].copy_from_slice(&se.to_le_bytes());
        b
    }

    /// What kind of value this is.
    pub fn class(self) -> Class {
        match (self.exp, self.mant & INT_BIT != 0) {
            (0, _) if self.mant == 0 => Class::Zero,
            (0, _) => Class::Denormal,
            (0x7fff, true) if self.mant << 1 == 0 => Class::Infinity,
            (0x7fff, true) if self.mant & QUIET != 0 => Class::QNan,
            (0x7fff, true) => Class::SNan,
            (_, false) => Class::Unsupported,
            _ => Class::Normal,
        }
    }
    /// A NaN of either kind, or an unsupported encoding.
    pub fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNan | Class::SNan | Class::Unsupported)
    }
    /// ±0.
    pub fn is_zero(self) -> bool {
        self.class() == Class::Zero
    }
    /// The value with the sign cleared.
    pub fn abs(self) -> F80 {
        F80 {
            sign: false,
            ..self
        }
    }

    fn wide(self) -> Wide {
        // Finite, non-zero: normalise denormals (exponent 0 counts as 1).
        let e = if self.exp == 0 { 1 } else { self.exp as i32 } - BIAS;
        let lz = self.mant.leading_zeros() as i32;
        Wide {
            sign: self.sign,
            exp: e - lz,
            sig: ((self.mant << lz) as u128) << 64,
        }
    }

    /// From a double (exact).
    pub fn from_f64(v: f64) -> Rounded<F80> {
        let bits = v.to_bits();
        let sign = bits >> 63 != 0;
        let e = ((bits >> 52) & 0x7ff) as i32;
        let f = bits & ((1 << 52) - 1);
        let value = match e {
            0 if f == 0 => F80::new(sign, 0, 0),
            0 => {
                let lz = f.leading_zeros() as i32 - 11;
                F80::new(sign, (BIAS - 1022 - lz) as u16, f << (11 + lz))
            }
            0x7ff if f == 0 => F80::infinity(sign),
            0x7ff => {
                let snan = f & (1 << 51) == 0;
                let v = F80::new(sign, 0x7fff, INT_BIT | (f << 11) | QUIET);
                return Rounded {
                    value: v,
                    flags: if snan { exc::IE } else { 0 },
                    up: false,
                };
            }
            _ => F80::new(sign, (e - 1023 + BIAS) as u16, INT_BIT | (f << 11)),
        };
        let flags = if e == 0 && f != 0 { exc::DE } else { 0 };
        Rounded {
            value,
            flags,
            up: false,
        }
    }

    /// From a single (exact).
    pub fn from_f32(v: f32) -> Rounded<F80> {
        let bits = v.to_bits();
        if bits & 0x7f80_0000 == 0x7f80_0000 && bits & 0x007f_ffff != 0 {
            // Keep the NaN's payload and quiet it, as FLD does.
            let sign = bits >> 31 != 0;
            let snan = bits & 0x0040_0000 == 0;
            let payload = ((bits & 0x003f_ffff) as u64) << 40;
            return Rounded {
                value: F80::new(sign, 0x7fff, INT_BIT | QUIET | payload),
                flags: if snan { exc::IE } else { 0 },
                up: false,
            };
        }
        let r = F80::from_f64(v as f64);
        let denormal = bits & 0x7f80_0000 == 0 && bits & 0x007f_ffff != 0;
        Rounded {
            flags: if denormal { exc::DE } else { 0 },
            ..r
        }
    }

    /// From a signed integer (exact).
    pub fn from_i64(v: i64) -> F80 {
        from_mag(v < 0, v.unsigned_abs())
    }

    /// From 10 bytes of packed BCD (18 digits and a sign byte); digits above 9 are
    /// taken as their binary values, as the hardware's result is undefined for them.
    pub fn from_bcd(b: [u8; 10]) -> F80 {
        let mut v: i64 = 0;
        for i in (0..9).rev() {
            v = v * 100 + ((b[i] >> 4) as i64) * 10 + (b[i] & 0xf) as i64;
        }
        let r = F80::from_i64(v);
        if b[9] & 0x80 != 0 {
            -r
        } else {
            r
        }
    }

    /// Rounds `w` into `fmt` with `ctx` (precision is the smaller of the two).
    fn round(w: Wide, fmt: Format, ctx: Ctx) -> Rounded<(bool, i32, u64)> {
        let p = ctx.precision.min(fmt.bits());
        let emin = 1 - fmt.bias();
        let mut exp = w.exp;
        let mut sig = w.sig;
        let mut flags = 0;
        let mut sticky_extra = false;
        let tiny = exp < emin;
        if tiny {
            let shift = (emin - exp) as u32;
            if shift >= 128 {
                sticky_extra = sig != 0;
                sig = 0;
            } else {
                sticky_extra = sig & ((1u128 << shift) - 1) != 0;
                sig >>= shift;
            }
            exp = emin;
        }
        let drop = 128 - p;
        let mut kept = (sig >> drop) as u64;
        let guard = (sig >> (drop - 1)) & 1 != 0;
        let sticky = sticky_extra || sig & ((1u128 << (drop - 1)) - 1) != 0;
        let inexact = guard || sticky;
        let inc = match ctx.round {
            Round::Nearest => guard && (sticky || kept & 1 != 0),
            Round::Up => !w.sign && inexact,
            Round::Down => w.sign && inexact,
            Round::Zero => false,
        };
        if inc {
            let (k, wrapped) = kept.overflowing_add(1);
            kept = k;
            // The significand overflowed its p bits: one more exponent step.
            if wrapped {
                kept = INT_BIT;
                exp += 1;
            } else if p < 64 && kept == 1 << p {
                kept >>= 1;
                exp += 1;
            }
        }
        if inexact {
            flags |= exc::PE;
            if tiny {
                flags |= exc::UE;
            }
        }
        if exp > fmt.emax() {
            // Overflow: ∞ or the largest finite value, as the rounding mode says.
            flags |= exc::OE | exc::PE;
            let to_inf = match ctx.round {
                Round::Nearest => true,
                Round::Up => !w.sign,
                Round::Down => w.sign,
                Round::Zero => false,
            };
            let (e, m) = if to_inf {
                (fmt.emax() + 1, 1u64 << (p - 1))
            } else {
                (fmt.emax(), (u64::MAX >> (64 - p)))
            };
            return Rounded {
                value: (w.sign, e, m),
                flags,
                up: to_inf,
            };
        }
        // A subnormal result that rounded up to the smallest normal is normal.
        let normal = kept >> (p - 1) & 1 != 0;
        let e = if normal { exp } else { emin - 1 };
        Rounded {
            value: (w.sign, e, kept),
            flags,
            up: inc,
        }
    }

    /// Rounds an unpacked result into an 80-bit register.
    fn pack(w: Wide, ctx: Ctx) -> Rounded<F80> {
        let r = F80::round(w, Format::Extended, ctx);
        let (sign, e, kept) = r.value;
        let p = ctx.precision;
        let mant = if e > Format::Extended.emax() {
            INT_BIT
        } else {
            kept << (64 - p)
        };
        Rounded {
            value: F80::new(sign, (e + BIAS) as u16, mant),
            flags: r.flags,
            up: r.up,
        }
    }

    /// The bits of a double, rounded as `ctx.round` says.
    pub fn to_f64(self, ctx: Ctx) -> Rounded<u64> {
        self.to_ieee(Format::Double, ctx.round)
    }
    /// The bits of a single, rounded as `ctx.round` says.
    pub fn to_f32(self, ctx: Ctx) -> Rounded<u32> {
        let r = self.to_ieee(Format::Single, ctx.round);
        Rounded {
            value: r.value as u32,
            flags: r.flags,
            up: r.up,
        }
    }

    fn to_ieee(self, fmt: Format, round: Round) -> Rounded<u64> {
        let frac_bits = fmt.bits() - 1;
        let exp_bits = match fmt {
            Format::Double => 11,
            _ => 8,
        };
        let sign_bit = (self.sign as u64) << (frac_bits + exp_bits);
        let exp_max = (1u64 << exp_bits) - 1;
        let done = |v: u64, flags: u16| Rounded {
            value: v,
            flags,
            up: false,
        };
        match self.class() {
            Class::Zero => return done(sign_bit, 0),
            Class::Infinity => return done(sign_bit | (exp_max << frac_bits), 0),
            Class::QNan | Class::SNan => {
                let payload = (self.mant & !INT_BIT) >> (64 - fmt.bits());
                let quiet = 1u64 << (frac_bits - 1);
                let flags = if self.class() == Class::SNan {
                    exc::IE
                } else {
                    0
                };
                return done(sign_bit | (exp_max << frac_bits) | payload | quiet, flags);
            }
            Class::Unsupported => {
                let quiet = 1u64 << (frac_bits - 1);
                return done(
                    1 << (frac_bits + exp_bits) | (exp_max << frac_bits) | quiet,
                    exc::IE,
                );
            }
            Class::Denormal | Class::Normal => {}
        }
        let ctx = Ctx {
            precision: fmt.bits(),
            round,
        };
        let r = F80::round(self.wide(), fmt, ctx);
        let (_, e, kept) = r.value;
        let biased = (e + fmt.bias()) as u64;
        let frac = kept & ((1u64 << frac_bits) - 1);
        let v = if biased >= exp_max {
            sign_bit | (exp_max << frac_bits)
        } else {
            sign_bit | (biased << frac_bits) | frac
        };
        Rounded {
            value: v,
            flags: r.flags,
            up: r.up,
        }
    }

    /// Rounds to an integer value (FRNDINT), as `round` says.
    pub fn round_int(self, round: Round) -> Rounded<F80> {
        match self.class() {
            Class::Zero | Class::Infinity => {
                return Rounded {
                    value: self,
                    flags: 0,
                    up: false,
                }
            }
            Class::QNan => {
                return Rounded {
                    value: self,
                    flags: 0,
                    up: false,
                }
            }
            Class::SNan | Class::Unsupported => return nan_result(self, self),
            Class::Denormal | Class::Normal => {}
        }
        let w = self.wide();
        if w.exp >= 63 {
            return Rounded {
                value: self,
                flags: 0,
                up: false,
            };
        }
        let (v, inexact, up) = round_to_integer(w, round);
        let flags = if inexact { exc::PE } else { 0 }
            | if self.class() == Class::Denormal {
                exc::DE
            } else {
                0
            };
        Rounded {
            value: from_mag(self.sign, v),
            flags,
            up,
        }
    }

    /// To a signed integer of `bits` (16, 32 or 64), rounded as `round` says; out of
    /// range or NaN is invalid and gives the integer indefinite (the most negative value).
    pub fn to_int(self, bits: u32, round: Round) -> Rounded<i64> {
        let indefinite = Rounded {
            value: i64::MIN >> (64 - bits),
            flags: exc::IE,
            up: false,
        };
        match self.class() {
            Class::Zero => {
                return Rounded {
                    value: 0,
                    flags: 0,
                    up: false,
                }
            }
            Class::Infinity | Class::QNan | Class::SNan | Class::Unsupported => return indefinite,
            Class::Denormal | Class::Normal => {}
        }
        let w = self.wide();
        if w.exp >= 64 {
            return indefinite;
        }
        let (mag, inexact, up) = round_to_integer(w, round);
        let limit = 1u64 << (bits - 1);
        let ok = if self.sign { mag <= limit } else { mag < limit };
        if !ok {
            return indefinite;
        }
        let v = if self.sign {
            (mag as i64).wrapping_neg()
        } else {
            mag as i64
        };
        Rounded {
            value: v,
            flags: if inexact { exc::PE } else { 0 },
            up,
        }
    }

    /// To packed BCD (FBSTP): 18 digits and a sign byte; out of range is invalid and
    /// gives the BCD indefinite.
    pub fn to_bcd(self, round: Round) -> Rounded<[u8; 10]> {
        let r = self.to_int(64, round);
        let mag = r.value.unsigned_abs();
        if r.flags & exc::IE != 0 || mag >= 1_000_000_000_000_000_000 {
            let mut b = [0u8; 10];
            b[7] = 0xc0;
            b[8] = 0xff;
            b[9] = 0xff;
            return Rounded {
                value: b,
                flags: exc::IE,
                up: false,
            };
        }
        let mut b = [0u8; 10];
        let mut m = mag;
        for byte in b.iter_mut().take(9) {
            let lo = (m % 10) as u8;
            m /= 10;
            let hi = (m % 10) as u8;
            m /= 10;
            *byte = hi << 4 | lo;
        }
        b[9] = if self.sign { 0x80 } else { 0 };
        Rounded {
            value: b,
            flags: r.flags,
            up: r.up,
        }
    }

    /// `self + other`.
    pub fn add(self, other: F80, ctx: Ctx) -> Rounded<F80> {
        add_sub(self, other, false, ctx)
    }
    /// `self − other`.
    pub fn sub(self, other: F80, ctx: Ctx) -> Rounded<F80> {
        add_sub(self, other, true, ctx)
    }

    /// `self × other`.
    pub fn mul(self, other: F80, ctx: Ctx) -> Rounded<F80> {
        let (sign, ca, cb, de) = match operands(self, other) {
            Ok(o) => o,
            Err(nan) => return nan,
        };
        match (ca, cb) {
            (Class::Infinity, Class::Zero) | (Class::Zero, Class::Infinity) => {
                return invalid();
            }
            (Class::Infinity, _) | (_, Class::Infinity) => {
                return exact(F80::infinity(sign), de);
            }
            (Class::Zero, _) | (_, Class::Zero) => return exact(F80::new(sign, 0, 0), de),
            _ => {}
        }
        let (a, b) = (self.wide(), other.wide());
        let p = ((a.sig >> 64) as u64 as u128) * ((b.sig >> 64) as u64 as u128);
        let (sig, exp) = if p >> 127 != 0 {
            (p, a.exp + b.exp + 1)
        } else {
            (p << 1, a.exp + b.exp)
        };
        with_flags(F80::pack(Wide { sign, exp, sig }, ctx), de)
    }

    /// `self ÷ other`.
    pub fn div(self, other: F80, ctx: Ctx) -> Rounded<F80> {
        let (sign, ca, cb, de) = match operands(self, other) {
            Ok(o) => o,
            Err(nan) => return nan,
        };
        match (ca, cb) {
            (Class::Infinity, Class::Infinity) | (Class::Zero, Class::Zero) => return invalid(),
            (Class::Infinity, _) => return exact(F80::infinity(sign), de),
            (_, Class::Infinity) => return exact(F80::new(sign, 0, 0), de),
            (Class::Zero, _) => return exact(F80::new(sign, 0, 0), de),
            (_, Class::Zero) => {
                return Rounded {
                    value: F80::infinity(sign),
                    flags: exc::ZE,
                    up: false,
                }
            }
            _ => {}
        }
        let (a, b) = (self.wide(), other.wide());
        let ma = (a.sig >> 64) as u64 as u128;
        let mb = (b.sig >> 64) as u64 as u128;
        let q1 = (ma << 64) / mb;
        let r1 = (ma << 64) % mb;
        let q2 = (r1 << 64) / mb;
        let r2 = (r1 << 64) % mb;
        let sticky = (r2 != 0) as u128;
        let (sig, exp) = if q1 >> 64 != 0 {
            ((q1 << 63) | (q2 >> 1) | (q2 & 1) | sticky, a.exp - b.exp)
        } else {
            ((q1 << 64) | q2 | sticky, a.exp - b.exp - 1)
        };
        with_flags(F80::pack(Wide { sign, exp, sig }, ctx), de)
    }

    /// √self.
    pub fn sqrt(self, ctx: Ctx) -> Rounded<F80> {
        match self.class() {
            Class::QNan => return exact(self, 0),
            Class::SNan | Class::Unsupported => return nan_result(self, self),
            Class::Zero => return exact(self, 0),
            Class::Infinity if !self.sign => return exact(self, 0),
            _ if self.sign => return invalid(),
            _ => {}
        }
        let de = denormal_flag(self.class());
        let w = self.wide();
        // value = m × 2^(exp − 63) with m = sig >> 64; make the power even.
        let m = (w.sig >> 64) as u64 as u128;
        let e = w.exp - 63;
        let (x, half) = if e.rem_euclid(2) == 0 {
            (m << 64, (e - 64) / 2)
        } else {
            (m << 63, (e - 63) / 2)
        };
        let (root, rem) = isqrt(x);
        // The exact root lies in (root, root + 1); it is above root + ½ exactly when
        // rem > root, and never equal to it.
        let frac: u128 = if rem == 0 {
            0
        } else if rem > root as u128 {
            0xc000_0000_0000_0000
        } else {
            0x4000_0000_0000_0000
        };
        let sig = ((root as u128) << 64) | frac;
        // value = root × 2^half; sig has root's top bit at 127: exp = half + 63.
        with_flags(
            F80::pack(
                Wide {
                    sign: false,
                    exp: half + 63,
                    sig,
                },
                ctx,
            ),
            de,
        )
    }

    /// The partial remainder of `self ÷ other` (FPREM when `nearest` is false, FPREM1
    /// when true): the remainder, the low three quotient bits, and whether the
    /// reduction is complete (C2 clear).
    pub fn rem(self, other: F80, nearest: bool) -> (Rounded<F80>, u8, bool) {
        if let Some(r) = special2(self, other) {
            return (r, 0, true);
        }
        let (ca, cb) = (self.class(), other.class());
        let de = denormal_flag(ca) | denormal_flag(cb);
        if ca == Class::Infinity || cb == Class::Zero {
            return (invalid(), 0, true);
        }
        if ca == Class::Zero || cb == Class::Infinity {
            return (exact(self, de), 0, true);
        }
        let (a, b) = (self.wide(), other.wide());
        let d = a.exp - b.exp;
        if d < 0 && !(nearest && d == -1) {
            return (exact(self, de), 0, true);
        }
        let ma = (a.sig >> 64) as u64;
        let mb = (b.sig >> 64) as u64;
        if d >= 64 {
            // Partial: reduce the exponent difference by a multiple of 32 bits.
            let n = 32 + (d - 64) % 32;
            let r = partial_reduce(self, other, n as u32);
            return (with_flags(exact(r, 0), de), 0, false);
        }
        // Exact: |a| = ma × 2^(ea−63), |b| = mb × 2^(eb−63).
        let (num, den, scale) = if d >= 0 {
            ((ma as u128) << d, mb as u128, b.exp)
        } else {
            (ma as u128, (mb as u128) << 1, a.exp)
        };
        let mut q = num / den;
        let r = num % den;
        if nearest && (r * 2 > den || (r * 2 == den && q & 1 == 1)) {
            q += 1;
            // r − den is negative: the remainder's sign flips.
            let neg = den - r;
            let v = from_scaled(!self.sign, neg, scale);
            return (exact(v, de), (q & 7) as u8, true);
        }
        let v = from_scaled(self.sign, r, scale);
        (exact(v, de), (q & 7) as u8, true)
    }

    /// self × 2^n (FSCALE with an integer), correctly rounded.
    pub fn scale(self, n: i32, ctx: Ctx) -> Rounded<F80> {
        match self.class() {
            Class::Zero | Class::Infinity | Class::QNan => return exact(self, 0),
            Class::SNan | Class::Unsupported => return nan_result(self, self),
            _ => {}
        }
        let mut w = self.wide();
        w.exp = w.exp.saturating_add(n.clamp(-40000, 40000));
        with_flags(F80::pack(w, ctx), denormal_flag(self.class()))
    }

    /// The unbiased exponent and the significand scaled to [1, 2) (FXTRACT).
    pub fn extract(self) -> (F80, F80) {
        let w = self.wide();
        let e = F80::from_i64(w.exp as i64);
        let s = F80::new(self.sign, BIAS as u16, (w.sig >> 64) as u64);
        (e, s)
    }

    /// Compares: `Some(Ordering)`, or `None` when unordered.
    pub fn compare(self, other: F80) -> Option<core::cmp::Ordering> {
        use core::cmp::Ordering;
        if self.is_nan() || other.is_nan() {
            return None;
        }
        let (za, zb) = (self.is_zero(), other.is_zero());
        if za && zb {
            return Some(Ordering::Equal);
        }
        let key = |v: F80| -> (bool, i32, u64) {
            if v.is_zero() {
                return (false, i32::MIN, 0);
            }
            if v.class() == Class::Infinity {
                return (v.sign, i32::MAX, 0);
            }
            let w = v.wide();
            (v.sign, w.exp, (w.sig >> 64) as u64)
        };
        let (ka, kb) = (key(self), key(other));
        let sa = self.sign && !za;
        let sb = other.sign && !zb;
        if sa != sb {
            return Some(if sa {
                Ordering::Less
            } else {
                Ordering::Greater
            });
        }
        let mag = (ka.1, ka.2).cmp(&(kb.1, kb.2));
        let mag = if za {
            Ordering::Less
        } else if zb {
            Ordering::Greater
        } else {
            mag
        };
        Some(if sa { mag.reverse() } else { mag })
    }

    /// The nearest double, for the transcendental functions computed in double
    /// precision.
    pub fn to_f64_value(self) -> f64 {
        f64::from_bits(self.to_f64(Ctx::EXTENDED).value)
    }
}

/// ±`m` exactly (+0 or −0 for 0).
fn from_mag(sign: bool, m: u64) -> F80 {
    if m == 0 {
        return F80::new(sign, 0, 0);
    }
    let lz = m.leading_zeros();
    F80::new(sign, (BIAS + 63 - lz as i32) as u16, m << lz)
}

impl core::ops::Neg for F80 {
    type Output = F80;
    /// The value with the sign flipped (FCHS).
    fn neg(self) -> F80 {
        F80 {
            sign: !self.sign,
            ..self
        }
    }
}

fn isqrt(x: u128) -> (u64, u128) {
    // Bit by bit: the root of a 128-bit value has 64 bits.
    let mut root: u128 = 0;
    let mut rem: u128 = 0;
    for i in (0..64).rev() {
        rem = (rem << 2) | ((x >> (2 * i)) & 3);
        let trial = (root << 2) | 1;
        root <<= 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    (root as u64, rem)
}

fn from_scaled(sign: bool, mag: u128, exp_of_unit: i32) -> F80 {
    // mag × 2^(exp_of_unit − 63), mag < 2^65.
    if mag == 0 {
        return F80::new(sign, 0, 0);
    }
    let lz = mag.leading_zeros() as i32;
    let top = 127 - lz; // bit index of the leading one
    let exp = exp_of_unit - 63 + top;
    let mant = if top >= 63 {
        (mag >> (top - 63)) as u64
    } else {
        (mag << (63 - top)) as u64
    };
    let biased = exp + BIAS;
    if biased <= 0 {
        // A denormal remainder: shift into the denormal range (exact here).
        let shift = (1 - biased) as u32;
        return F80::new(sign, 0, if shift >= 64 { 0 } else { mant >> shift });
    }
    F80::new(sign, biased as u16, mant)
}

fn partial_reduce(a: F80, b: F80, n: u32) -> F80 {
    // a − b × trunc(a / (b × 2^(d−n))) × 2^(d−n), done on the significands.
    let (wa, wb) = (a.wide(), b.wide());
    let d = wa.exp - wb.exp;
    let ma = (wa.sig >> 64) as u64 as u128;
    let mb = (wb.sig >> 64) as u64 as u128;
    // Compare ma × 2^n with mb: quotient of (ma << n) / mb, remainder kept at b's scale
    // shifted up by d − n.
    let num = ma << n.min(63);
    let r = num % mb;
    from_scaled(a.sign, r, wb.exp + (d - n as i32))
}

/// Rounds a finite value with exponent < 64 to an integer magnitude: (magnitude,
/// inexact, rounded up).
fn round_to_integer(w: Wide, round: Round) -> (u64, bool, bool) {
    // value = sig × 2^(exp − 127): integer part = sig >> (127 − exp).
    let shift = 127 - w.exp;
    let (int, guard, sticky) = if shift > 128 {
        (0u128, false, w.sig != 0)
    } else if shift == 128 {
        (0u128, w.sig >> 127 != 0, w.sig << 1 != 0)
    } else if shift == 0 {
        (w.sig, false, false)
    } else {
        let int = if shift >= 128 { 0 } else { w.sig >> shift };
        let guard = (w.sig >> (shift - 1)) & 1 != 0;
        let sticky = shift >= 2 && w.sig & ((1u128 << (shift - 1)) - 1) != 0;
        (int, guard, sticky)
    };
    let inexact = guard || sticky;
    let inc = match round {
        Round::Nearest => guard && (sticky || int & 1 != 0),
        Round::Up => !w.sign && inexact,
        Round::Down => w.sign && inexact,
        Round::Zero => false,
    };
    let v = int + inc as u128;
    (v.min(u64::MAX as u128) as u64, inexact, inc)
}

fn denormal_flag(c: Class) -> u16 {
    if c == Class::Denormal {
        exc::DE
    } else {
        0
    }
}

fn exact(v: F80, flags: u16) -> Rounded<F80> {
    Rounded {
        value: v,
        flags,
        up: false,
    }
}

fn with_flags(mut r: Rounded<F80>, flags: u16) -> Rounded<F80> {
    r.flags |= flags;
    r
}

fn invalid() -> Rounded<F80> {
    Rounded {
        value: F80::INDEFINITE,
        flags: exc::IE,
        up: false,
    }
}

fn quiet(v: F80) -> F80 {
    F80 {
        mant: v.mant | QUIET | INT_BIT,
        ..v
    }
}

/// The result when an operand is a NaN or unsupported: the x87's NaN rules.
fn nan_result(a: F80, b: F80) -> Rounded<F80> {
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Unsupported || cb == Class::Unsupported {
        return invalid();
    }
    let ie = if ca == Class::SNan || cb == Class::SNan {
        exc::IE
    } else {
        0
    };
    let larger = |qa: F80, qb: F80| {
        if (qb.mant & !INT_BIT) > (qa.mant & !INT_BIT) {
            qb
        } else {
            qa
        }
    };
    let value = match (ca, cb) {
        // A quiet NaN wins over a signalling one; of two alike, the larger significand.
        (Class::QNan, Class::SNan) => a,
        (Class::SNan, Class::QNan) => b,
        (Class::QNan | Class::SNan, Class::QNan | Class::SNan) => larger(quiet(a), quiet(b)),
        (Class::QNan | Class::SNan, _) => quiet(a),
        _ => quiet(b),
    };
    Rounded {
        value,
        flags: ie,
        up: false,
    }
}

/// For multiply and divide: the result's sign, both classes and the denormal flag,
/// or the NaN result.
fn operands(a: F80, b: F80) -> Result<(bool, Class, Class, u16), Rounded<F80>> {
    if let Some(r) = special2(a, b) {
        return Err(r);
    }
    let (ca, cb) = (a.class(), b.class());
    Ok((
        a.sign != b.sign,
        ca,
        cb,
        denormal_flag(ca) | denormal_flag(cb),
    ))
}

fn special2(a: F80, b: F80) -> Option<Rounded<F80>> {
    (a.is_nan() || b.is_nan()).then(|| nan_result(a, b))
}

fn add_sub(a: F80, b: F80, subtract: bool, ctx: Ctx) -> Rounded<F80> {
    if let Some(r) = special2(a, b) {
        return r;
    }
    let b = if subtract { -b } else { b };
    let (ca, cb) = (a.class(), b.class());
    let de = denormal_flag(ca) | denormal_flag(cb);
    match (ca, cb) {
        (Class::Infinity, Class::Infinity) if a.sign != b.sign => return invalid(),
        (Class::Infinity, _) => return exact(a, de),
        (_, Class::Infinity) => return exact(b, de),
        (Class::Zero, Class::Zero) => {
            let sign = if a.sign == b.sign {
                a.sign
            } else {
                ctx.round == Round::Down
            };
            return exact(F80::new(sign, 0, 0), 0);
        }
        (Class::Zero, _) => return with_flags(F80::pack(b.wide(), ctx), de),
        (_, Class::Zero) => return with_flags(F80::pack(a.wide(), ctx), de),
        _ => {}
    }
    let (mut x, mut y) = (a.wide(), b.wide());
    if (y.exp, y.sig) > (x.exp, x.sig) {
        core::mem::swap(&mut x, &mut y);
    }
    let d = (x.exp - y.exp) as u32;
    // Significands sit in the top 64 bits; shifts up to 64 are exact.
    let ys = if d >= 128 {
        (y.sig != 0) as u128
    } else if d == 0 {
        y.sig
    } else {
        (y.sig >> d) | ((y.sig & ((1u128 << d) - 1) != 0) as u128)
    };
    if x.sign == y.sign {
        let (sum, carry) = x.sig.overflowing_add(ys);
        let (sig, exp) = if carry {
            ((sum >> 1) | (1 << 127) | (sum & 1), x.exp + 1)
        } else {
            (sum, x.exp)
        };
        with_flags(
            F80::pack(
                Wide {
                    sign: x.sign,
                    exp,
                    sig,
                },
                ctx,
            ),
            de,
        )
    } else {
        let diff = x.sig - ys;
        if diff == 0 {
            return exact(F80::new(ctx.round == Round::Down, 0, 0), de);
        }
        let lz = diff.leading_zeros();
        with_flags(
            F80::pack(
                Wide {
                    sign: x.sign,
                    exp: x.exp - lz as i32,
                    sig: diff << lz,
                },
                ctx,
            ),
            de,
        )
    }
}
