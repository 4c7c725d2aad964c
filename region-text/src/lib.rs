//! A translated region's Wasm module in the WebAssembly text format, printed by
//! wasmprinter: natively for `vmlab translate`, and built for wasm32 as a module of its
//! own (`pkg/region_text.wasm`) that the lab fetches the first time a region is shown,
//! so the printer stays out of the lab's bundle (`exports.rs`).

#[cfg(target_arch = "wasm32")]
mod exports;

/// The module's text a line an entry; a module wasmprinter cannot print gives one
/// `;;` line naming what went wrong instead.
pub fn wasm_text(module: &[u8]) -> Vec<String> {
    match wasmprinter::print_bytes(module) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(e) => vec![format!(
            ";; the region module ({} bytes) cannot be printed as text: {e:#}",
            module.len()
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 4 KiB code page at 0x1000 holding `code` at its start.
    fn page(code: &[u8]) -> Vec<u8> {
        let mut page = vec![0u8; 4096];
        page[..code.len()].copy_from_slice(code);
        page
    }

    #[test]
    fn a_translated_region_prints_with_its_function_and_operators() {
        // add eax, ebx; add eax, 1; hlt
        let page = page(&[0x01, 0xd8, 0x83, 0xc0, 0x01, 0xf4]);
        let (_, after) = emulator_core::translate::translate_page(&page, 0x1000).expect("a region");
        let lines = wasm_text(&emulator_core::translate::wasm::encode(&after));
        assert_eq!(
            lines.first().map(String::as_str),
            Some("(module"),
            "{lines:#?}"
        );
        assert_eq!(lines.last().map(|l| l.trim()), Some(")"), "{lines:#?}");
        let has = |s: &str| lines.iter().any(|l| l.contains(s));
        assert!(has("(func "), "{lines:#?}");
        assert!(has("(export \"run\""), "{lines:#?}");
        assert!(
            lines.iter().any(|l| l.trim().starts_with("local.get ")),
            "{lines:#?}"
        );
        assert!(lines.iter().any(|l| l.trim() == "i32.add"), "{lines:#?}");
    }

    #[test]
    fn bytes_that_are_no_module_give_one_comment_line() {
        for bad in [&b"not wasm"[..], b"\0asm\x01\0\0\0\x01\x7f", b""] {
            let lines = wasm_text(bad);
            assert_eq!(lines.len(), 1, "{lines:?}");
            assert!(
                lines[0].starts_with(&format!(
                    ";; the region module ({} bytes) cannot be printed",
                    bad.len()
                )),
                "{lines:?}"
            );
        }
    }
}
