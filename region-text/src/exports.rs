//! The printer's raw Wasm exports, for the lab: the page writes a module's bytes into
//! the buffer `region_text_alloc(len)` returns, calls `region_text_print(len)` for the
//! byte length of its text and reads that many bytes of UTF-8 (lines separated by
//! `\n`) at `region_text_output()`.

use std::cell::RefCell;

thread_local! {
    /// The module to print, written by the page.
    static INPUT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// The text of the last module printed.
    static OUTPUT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A zeroed buffer of `len` bytes for the module to print (replacing the previous one);
/// its address in this module's memory.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn region_text_alloc(len: usize) -> *mut u8 {
    INPUT.with(|i| {
        let mut i = i.borrow_mut();
        *i = vec![0; len];
        i.as_mut_ptr()
    })
}

/// Prints the first `len` bytes of the buffer (at most its length) and returns the
/// text's length in bytes.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn region_text_print(len: usize) -> usize {
    let text = INPUT.with(|i| {
        let i = i.borrow();
        crate::wasm_text(&i[..len.min(i.len())]).join("\n")
    });
    OUTPUT.with(|o| {
        *o.borrow_mut() = text;
        o.borrow().len()
    })
}

/// The address of the last text printed.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn region_text_output() -> *const u8 {
    OUTPUT.with(|o| o.borrow().as_ptr())
}
