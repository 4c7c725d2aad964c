//! JSON text in and out of the Wasm exports: the embedder writes a request into the
//! input buffer (`bench_input(len)` gives its address), calls an export, then reads the
//! answer from the output buffer (`bench_output_ptr`, `bench_output_len`).

use std::cell::RefCell;

thread_local! {
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    static OUTPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Makes the input buffer `len` bytes long (zeroed) and returns its address.
pub fn input(len: usize) -> usize {
    INPUT.with(|b| {
        let mut b = b.borrow_mut();
        b.clear();
        b.resize(len, 0);
        b.as_ptr() as usize
    })
}

/// Sets the input buffer to `bytes` (for native callers).
pub fn set_input(bytes: &[u8]) {
    INPUT.with(|b| *b.borrow_mut() = bytes.to_vec());
}

/// Runs `f` on the input buffer parsed as `T` and puts its answer, as JSON, in the
/// output buffer; a request that does not parse answers `{"error": ...}`. Returns the
/// output's length.
pub fn answer<T: serde::de::DeserializeOwned>(
    what: &str,
    f: impl FnOnce(T) -> serde_json::Value,
) -> usize {
    let parsed = INPUT.with(|b| serde_json::from_slice::<T>(&b.borrow()));
    let value = match parsed {
        Ok(req) => f(req),
        Err(e) => serde_json::json!({ "error": format!("{what}: the request is not valid: {e}") }),
    };
    let text = serde_json::to_vec(&value).unwrap_or_else(|e| {
        format!("{{\"error\":\"{what}: the answer did not serialize: {e}\"}}").into_bytes()
    });
    OUTPUT.with(|b| {
        *b.borrow_mut() = text;
        b.borrow().len()
    })
}

/// The output buffer's contents (for native callers).
pub fn output() -> Vec<u8> {
    OUTPUT.with(|b| b.borrow().clone())
}

/// Address of the output buffer.
pub fn output_ptr() -> usize {
    OUTPUT.with(|b| b.borrow().as_ptr() as usize)
}

/// Decodes lowercase or uppercase hex text; `what` names the field in the error.
pub fn hex(what: &str, text: &str) -> Result<Vec<u8>, String> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return Err(format!("{what}: odd number of hex digits ({})", b.len()));
    }
    b.chunks(2)
        .enumerate()
        .map(|(i, p)| match (digit(p[0]), digit(p[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => Err(format!("{what}: not a hex digit at offset {}", i * 2)),
        })
        .collect()
}

/// Wasm export of [`input`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_input(len: u32) -> u32 {
    input(len as usize) as u32
}

/// Wasm export of [`output_ptr`].
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_output_ptr() -> u32 {
    output_ptr() as u32
}

/// Length of the output buffer.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_output_len() -> u32 {
    OUTPUT.with(|b| b.borrow().len() as u32)
}
