//! `cargo xtask bundle-report`: where the lab's Wasm bundle spends its bytes, by section, crate and function.

use anyhow::{bail, Context, Result};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wasmparser::{KnownCustom, Name, Parser, Payload, TypeRef};

/// The release build of the lab before wasm-bindgen strips its names.
pub fn default_input() -> PathBuf {
    crate::wasm::Toolchain::target_dir()
        .join(crate::wasm::TARGET)
        .join("release")
        .join("lab_ui.wasm")
}

/// One module's sizes.
#[derive(Debug, Default)]
pub struct Report {
    /// Bytes of each section (custom sections by name).
    pub sections: Vec<(String, u64)>,
    /// Code bytes and function count of each crate, largest first.
    pub crates: Vec<(String, u64, u64)>,
    /// The largest function bodies: size and demangled name.
    pub functions: Vec<(u64, String)>,
    /// Function bodies whose name the module does not give.
    pub unnamed: u64,
}

/// Measures the module in `bytes`; `top` limits the function list.
pub fn measure(bytes: &[u8], top: usize) -> Result<Report> {
    let mut report = Report::default();
    let mut imported = 0u32;
    let mut bodies: Vec<u64> = Vec::new();
    let mut names: BTreeMap<u32, String> = BTreeMap::new();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.context("reading the module")?;
        match &payload {
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    if let TypeRef::Func(_) = import.context("reading an import")?.ty {
                        imported += 1;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => bodies.push(body.range().len() as u64),
            Payload::CustomSection(custom) => {
                if let KnownCustom::Name(reader) = custom.as_known() {
                    for sub in reader {
                        if let Name::Function(map) = sub.context("reading the name section")? {
                            for naming in map {
                                let naming = naming.context("reading a function name")?;
                                names.insert(naming.index, naming.name.to_string());
                            }
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some((id, range)) = payload.as_section() {
            let label = match &payload {
                Payload::CustomSection(c) => format!("custom {}", c.name()),
                _ => section_name(id).to_string(),
            };
            report.sections.push((label, range.len() as u64));
        }
    }
    let mut crates: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (i, &size) in bodies.iter().enumerate() {
        let index = imported + i as u32;
        let Some(name) = names.get(&index) else {
            report.unnamed += size;
            continue;
        };
        let readable = format!("{:#}", rustc_demangle::demangle(name));
        let entry = crates.entry(crate_of(&readable)).or_default();
        entry.0 += size;
        entry.1 += 1;
        report.functions.push((size, readable));
    }
    report.crates = crates.into_iter().map(|(c, (s, n))| (c, s, n)).collect();
    report
        .crates
        .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    report
        .functions
        .sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    report.functions.truncate(top);
    Ok(report)
}

/// The crate a demangled name belongs to: the first path segment, past `<`, `&` and `dyn`.
pub fn crate_of(name: &str) -> String {
    let mut s = name.trim_start_matches(['<', '&', '*', '(', '[']);
    for prefix in ["mut ", "const ", "dyn "] {
        s = s.strip_prefix(prefix).unwrap_or(s);
    }
    match s.find("::") {
        Some(end)
            if s[..end]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
        {
            s[..end].to_string()
        }
        _ => "(other)".to_string(),
    }
}

fn section_name(id: u8) -> &'static str {
    match id {
        1 => "type",
        2 => "import",
        3 => "function",
        4 => "table",
        5 => "memory",
        6 => "global",
        7 => "export",
        8 => "start",
        9 => "element",
        10 => "code",
        11 => "data",
        12 => "data count",
        13 => "tag",
        _ => "other",
    }
}

/// Prints the report of `input` (the release build's `lab_ui.wasm` when `None`).
pub fn run(input: Option<&Path>, top: usize, json: bool) -> Result<bool> {
    let path = input.map_or_else(default_input, Path::to_path_buf);
    if !path.is_file() {
        bail!(
            "{} is missing: run `cargo xtask build-web --release` first",
            path.display()
        );
    }
    let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
    let report = measure(&bytes, top).with_context(|| format!("measuring {}", path.display()))?;
    if json {
        let value = serde_json::json!({
            "file": path.display().to_string(),
            "sections": report.sections.iter().map(|(n, s)| serde_json::json!({"name": n, "bytes": s})).collect::<Vec<_>>(),
            "crates": report.crates.iter().map(|(c, s, n)| serde_json::json!({"crate": c, "bytes": s, "functions": n})).collect::<Vec<_>>(),
            "functions": report.functions.iter().map(|(s, n)| serde_json::json!({"name": n, "bytes": s})).collect::<Vec<_>>(),
            "unnamed_bytes": report.unnamed,
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(true);
    }
    println!("{}", path.display());
    println!("\nsections");
    for (name, size) in &report.sections {
        println!("{size:>12}  {name}");
    }
    let code: u64 = report.crates.iter().map(|c| c.1).sum::<u64>() + report.unnamed;
    println!("\ncode by crate (bytes, share, functions)");
    for (name, size, count) in &report.crates {
        let share = 100.0 * *size as f64 / code.max(1) as f64;
        println!("{size:>12} {share:>5.1}% {count:>6}  {name}");
    }
    if report.unnamed > 0 {
        println!("{:>12}  (functions without a name)", report.unnamed);
    }
    println!("\nlargest functions");
    for (size, name) in &report.functions {
        println!("{size:>12}  {name}");
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crates_are_read_from_demangled_paths() {
        assert_eq!(crate_of("toml_edit::parser::value::value"), "toml_edit");
        assert_eq!(
            crate_of("<toml_edit::de::ValueDeserializer as serde_core::de::Deserializer>::deserialize_any::<X>"),
            "toml_edit"
        );
        assert_eq!(
            crate_of("<&mut serde_json::de::Deserializer<R>>::parse"),
            "serde_json"
        );
        assert_eq!(crate_of("__wbindgen_malloc"), "(other)");
    }

    /// A module with one import and three bodies of known size, two of them named with
    /// v0-mangled Rust names and one not named.
    #[test]
    fn a_module_is_measured_by_crate_and_function() {
        use wasm_encoder::{
            CodeSection, EntityType, Function, FunctionSection, ImportSection, Instruction, Module,
            NameMap, NameSection, TypeSection,
        };
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut imports = ImportSection::new();
        imports.import("env", "f", EntityType::Function(0));
        let mut funcs = FunctionSection::new();
        let mut code = CodeSection::new();
        let mut sizes = Vec::new();
        for n in [3usize, 40, 7] {
            let mut f = Function::new([]);
            for _ in 0..n {
                f.instruction(&Instruction::Nop);
            }
            f.instruction(&Instruction::End);
            funcs.function(0);
            // The body without its length prefix, as the report counts it.
            sizes.push(f.byte_len() as u64);
            code.function(&f);
        }
        let mut map = NameMap::new();
        map.append(0, "env_f");
        map.append(1, "_RNvNtCs1234_9toml_edit6parser5value");
        map.append(2, "_RNvNtCs1234_9toml_edit6parser5array");
        let mut names = NameSection::new();
        names.functions(&map);
        let mut module = Module::new();
        module
            .section(&types)
            .section(&imports)
            .section(&funcs)
            .section(&code)
            .section(&names);
        let bytes = module.finish();

        let report = measure(&bytes, 10).expect("the module reads");
        assert_eq!(
            report.crates,
            vec![("toml_edit".to_string(), sizes[0] + sizes[1], 2)]
        );
        assert_eq!(report.unnamed, sizes[2]);
        assert_eq!(
            report.functions[0],
            (sizes[1], "toml_edit::parser::array".to_string())
        );
        let code_bytes = report.sections.iter().find(|s| s.0 == "code").map(|s| s.1);
        assert!(
            code_bytes.is_some_and(|c| c > sizes.iter().sum::<u64>()),
            "{report:?}"
        );
    }
}
