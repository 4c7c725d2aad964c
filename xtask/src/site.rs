//! The static site: `www/` plus lab-ui's Wasm module and wasm-bindgen's JS glue, in `target/site`.

use crate::step;
use crate::wasm::Toolchain;
use anyhow::{Context, Result};
use std::fs;
use std::path::{Path, PathBuf};

/// The crate compiled to Wasm for the page.
const PACKAGE: &str = "lab-ui";

/// Where the site is assembled.
pub fn site_dir() -> PathBuf {
    crate::target_dir().join("site")
}

/// Builds lab-ui for Wasm, generates its bindings and assembles `target/site`; returns that directory.
pub fn build(toolchain: &Toolchain, release: bool) -> Result<PathBuf> {
    let wasm = toolchain.build(PACKAGE, release)?;
    let site = site_dir();

    step::heading(&format!("assemble {}", site.display()));
    if site.exists() {
        fs::remove_dir_all(&site).with_context(|| format!("removing {}", site.display()))?;
    }
    let www = crate::workspace_root().join("www");
    copy_dir(&www, &site).with_context(|| format!("copying {}", www.display()))?;
    println!("copied {} -> {}", www.display(), site.display());

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
    for entry in fs::read_dir(&pkg)?.flatten() {
        let len = entry.metadata().map(|m| m.len()).unwrap_or(0);
        println!("{:>10} bytes  {}", len, entry.path().display());
    }
    Ok(site)
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
