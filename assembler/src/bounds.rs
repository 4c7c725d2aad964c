//! NASM's number-overflow warnings: a known number too wide for the bytes that hold it.

use alloc::format;
use alloc::string::String;

use crate::expr::Value;

/// How NASM checks and words a value it stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Store {
    /// Data and most immediates: anything from -2^(8n) to 2^(8n) - 1 fits
    /// (`byte data exceeds bounds`).
    Data,
    /// The same range, worded as NASM words some immediates (`dword value exceeds bounds`).
    Value,
    /// A sign-extended immediate: -2^(8n-1) to 2^(8n-1) - 1
    /// (`signed byte value exceeds bounds`).
    Signed,
}

/// The warning for `v` stored in `bytes` bytes, when it is a plain number (no label
/// or `$` in it: NASM leaves those to the linker) that does not fit.
pub(crate) fn check(v: &Value, bytes: u32, store: Store) -> Option<String> {
    if !v.is_simple() || bytes == 0 || bytes >= 8 {
        return None;
    }
    let n = i128::from(v.n);
    let bits = bytes * 8;
    let (min, max) = match store {
        Store::Data | Store::Value => (-(1i128 << bits), (1i128 << bits) - 1),
        Store::Signed => (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1),
    };
    if (min..=max).contains(&n) {
        return None;
    }
    let size = match bytes {
        1 => "byte",
        2 => "word",
        4 => "dword",
        _ => "tword",
    };
    Some(match store {
        Store::Data => format!("{size} data exceeds bounds [-w+number-overflow]"),
        Store::Value => format!("{size} value exceeds bounds [-w+number-overflow]"),
        Store::Signed => format!("signed {size} value exceeds bounds [-w+number-overflow]"),
    })
}
