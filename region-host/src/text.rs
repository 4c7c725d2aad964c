//! A region module in the WebAssembly text format (wasmprinter), for the lab's region
//! detail and `vmlab translate`.

/// The module's text, or a message naming what could not be printed.
pub fn wasm_text(module: &[u8]) -> Result<String, String> {
    wasmprinter::print_bytes(module).map_err(|e| {
        format!(
            "region module ({} bytes) not printable as text: {e:#}",
            module.len()
        )
    })
}

/// The module's text a line an entry; a module wasmprinter cannot read gives one
/// comment line with the message instead.
pub fn wasm_lines(module: &[u8]) -> Vec<String> {
    match wasm_text(module) {
        Ok(text) => text.lines().map(str::to_string).collect(),
        Err(e) => vec![format!(";; {e}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_prints_with_its_imports_and_exports() {
        let mut module = wasm_encoder::Module::new();
        let mut types = wasm_encoder::TypeSection::new();
        types
            .ty()
            .function([wasm_encoder::ValType::I32], [wasm_encoder::ValType::I32]);
        let mut funcs = wasm_encoder::FunctionSection::new();
        funcs.function(0);
        let mut exports = wasm_encoder::ExportSection::new();
        exports.export("run", wasm_encoder::ExportKind::Func, 0);
        let mut code = wasm_encoder::CodeSection::new();
        let mut f = wasm_encoder::Function::new([]);
        f.instructions().local_get(0).i32_const(1).i32_add().end();
        code.function(&f);
        module
            .section(&types)
            .section(&funcs)
            .section(&exports)
            .section(&code);
        let lines = wasm_lines(&module.finish());
        assert_eq!(
            lines.first().map(String::as_str),
            Some("(module"),
            "{lines:#?}"
        );
        assert_eq!(lines.last().map(|l| l.trim()), Some(")"), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("(func")), "{lines:#?}");
        assert!(
            lines.iter().any(|l| l.contains("(export \"run\"")),
            "{lines:#?}"
        );
        assert!(lines.iter().any(|l| l.trim() == "i32.add"), "{lines:#?}");
    }

    #[test]
    fn a_corrupt_module_gives_a_message() {
        let e = wasm_text(b"\0asm\x01\0\0\0\x01\x7f").expect_err("a truncated section");
        assert!(e.contains("not printable"), "{e}");
        let lines = wasm_lines(b"not wasm");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with(";; region module (8 bytes)"),
            "{lines:?}"
        );
    }
}
