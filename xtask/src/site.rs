//! The static site: `www/` plus lab-ui's Wasm module and wasm-bindgen's JS glue, and the
//! region modules' printer the lab fetches when a region is shown, in `target/site`.

use crate::step;
use crate::wasm::Toolchain;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The crate compiled to Wasm for the page.
const PACKAGE: &str = "lab-ui";

/// The printer of region modules as text, a Wasm module of its own outside the lab's bundle.
const PRINTER_PACKAGE: &str = "vmlab-region-text";

/// Where the site holds the printer, relative to it (the lab fetches it from there).
pub const PRINTER: &str = "pkg/region_text.wasm";

/// Where the site is assembled.
pub fn site_dir() -> PathBuf {
    crate::target_dir().join("site")
}

/// Builds lab-ui for Wasm, generates its bindings and assembles `target/site`; returns that directory.
pub fn build(toolchain: &Toolchain, release: bool) -> Result<PathBuf> {
    let wasm = toolchain.build(PACKAGE, release)?;
    let printer = toolchain.build(PRINTER_PACKAGE, release)?;
    let site = site_dir();

    step::heading(&format!("assemble {}", site.display()));
    if site.exists() {
        fs::remove_dir_all(&site).with_context(|| format!("removing {}", site.display()))?;
    }
    let www = crate::workspace_root().join("www");
    copy_dir(&www, &site).with_context(|| format!("copying {}", www.display()))?;
    println!("copied {} -> {}", www.display(), site.display());
    let builtin = write_builtin(&site)?;
    println!("{:>10} bytes  {}", builtin.1, builtin.0.display());

    step::heading("wasm-bindgen (target web, in-process)");
    let pkg = site.join("pkg");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&wasm)
        .web(true)?
        .typescript(false)
        .omit_default_module_path(false)
        .debug(!release)
        .remove_name_section(release)
        .generate(&pkg)
        .with_context(|| format!("wasm-bindgen on {}", wasm.display()))?;
    let printer_dest = site.join(PRINTER);
    fs::copy(&printer, &printer_dest).with_context(|| {
        format!(
            "copying {} to {}",
            printer.display(),
            printer_dest.display()
        )
    })?;
    for entry in fs::read_dir(&pkg)?.flatten() {
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        println!("{:>10} bytes  {}", len, entry.path().display());
    }
    Ok(site)
}

/// Writes the built-in demos and labs' visible files (`builtin.json`), which the lab's
/// Wasm module leaves out and fetches at start; returns the file and its size.
pub fn write_builtin(site: &Path) -> Result<(PathBuf, usize)> {
    let text = builtin_json()?;
    let path = site.join(vmlab_demos::served::FILE_NAME);
    fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    Ok((path, text.len()))
}

/// The text of `builtin.json`, from the native crates' compiled-in files.
pub fn builtin_json() -> Result<String> {
    let value = serde_json::json!({
        "format": vmlab_demos::served::FORMAT,
        "demos": vmlab_demos::served::files(),
        "labs": assignments::served::files(),
    });
    serde_json::to_string(&value).context("writing builtin.json")
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            fs::copy(entry.path(), &dest)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_json_holds_every_demo_and_lab_and_no_hidden_test() {
        let text = builtin_json().expect("writes");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(value["format"], vmlab_demos::served::FORMAT);
        let demos = value["demos"]["demos"].as_array().expect("demos");
        assert_eq!(demos.len(), vmlab_demos::every().len());
        for d in vmlab_demos::every() {
            assert!(demos.iter().any(|v| v["id"] == d.id), "{}", d.id);
        }
        let labs = value["labs"]["labs"].as_array().expect("labs");
        assert_eq!(labs.len(), assignments::catalog().len());
        let markers = assignments::native::secret_markers(&assignments::native::default_labs_dir())
            .expect("markers");
        assert!(!markers.is_empty());
        for m in &markers {
            assert!(!text.contains(m.as_str()), "builtin.json holds {m:?}");
        }
    }
}
