//! The Wasm bundle's size for `cargo xtask bench`: the lab's module and JS glue, and the
//! region modules' printer the lab fetches apart, each raw and `gzip -9`, and their sum.

use crate::bench::Row;
use anyhow::{ensure, Context, Result};
use std::path::Path;
use std::process::Command;

/// Raw and gzip -9 bytes of some files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Size {
    raw: u64,
    gz: u64,
}

impl Size {
    fn add(self, o: Size) -> Size {
        Size {
            raw: self.raw + o.raw,
            gz: self.gz + o.gz,
        }
    }
}

/// The raw and `gzip -9` size of the file at `p`.
fn file_size(p: &Path) -> Result<Size> {
    let raw = std::fs::metadata(p)
        .with_context(|| format!("reading {}", p.display()))?
        .len();
    let out = Command::new("gzip")
        .args(["-9", "-c"])
        .arg(p)
        .output()
        .context("could not start gzip")?;
    ensure!(
        out.status.success(),
        "gzip -9 {} failed: {}",
        p.display(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(Size {
        raw,
        gz: out.stdout.len() as u64,
    })
}

/// The lab's bundle (every `.wasm` and `.js` under `site` but the printer) and the
/// region modules' printer the lab fetches when a region is shown (`site::PRINTER`).
fn bundle_sizes(site: &Path) -> Result<(Size, Size)> {
    let printer_path = site.join(crate::site::PRINTER);
    let printer = file_size(&printer_path)?;
    let mut files = Vec::new();
    crate::bundle::files_under(site, &mut files)?;
    let mut lab = Size::default();
    for p in files {
        if p != printer_path && p.extension().is_some_and(|x| x == "wasm" || x == "js") {
            lab = lab.add(file_size(&p)?);
        }
    }
    ensure!(lab.raw > 0, "no .wasm or .js under {}", site.display());
    Ok((lab, printer))
}

/// The Wasm bundle's size: the lab's and the printer's, whose sum has the target.
pub(crate) fn row() -> Row {
    const WHAT: &str = "Wasm bundle (lab .wasm + .js, and the region printer, under target/site)";
    const TARGET: &str = "sum < 2 MB gzip";
    let (lab, printer) = match bundle_sizes(&crate::site::site_dir()) {
        Ok(s) => s,
        Err(e) => {
            return Row::missing(
                WHAT,
                &format!("{e:#} (run `cargo xtask build-web --release` first)"),
                TARGET,
            )
        }
    };
    let sum = lab.add(printer);
    let mb = |b: u64| b as f64 / 1e6;
    Row::new(
        WHAT,
        format!(
            "lab {:.3} MB gzip ({:.2} MB raw) + printer {:.3} MB gzip ({:.2} MB raw) = {:.3} MB gzip",
            mb(lab.gz),
            mb(lab.raw),
            mb(printer.gz),
            mb(printer.raw),
            mb(sum.gz)
        ),
        TARGET,
        Some(sum.gz < 2_000_000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printer_is_counted_apart_from_the_lab() {
        let site = std::env::temp_dir().join(format!("vmlab-bundle-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&site);
        std::fs::create_dir_all(site.join("pkg")).expect("temp site");
        assert!(bundle_sizes(&site).is_err(), "a site without the printer");
        std::fs::write(site.join(crate::site::PRINTER), vec![7u8; 3000]).expect("write");
        assert!(bundle_sizes(&site).is_err(), "a site without the lab");
        std::fs::write(site.join("pkg/lab_ui_bg.wasm"), vec![1u8; 5000]).expect("write");
        std::fs::write(site.join("pkg/lab_ui.js"), "export default 1;").expect("write");
        std::fs::write(site.join("index.html"), "<html></html>").expect("write");
        let (lab, printer) = bundle_sizes(&site).expect("sizes");
        assert_eq!(lab.raw, 5000 + 17);
        assert_eq!(printer.raw, 3000);
        assert!(printer.gz > 0 && printer.gz < printer.raw, "{printer:?}");
        assert!(lab.gz > 0 && lab.gz < lab.raw, "{lab:?}");
        let _ = std::fs::remove_dir_all(&site);
    }
}
