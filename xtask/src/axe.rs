//! The accessibility audit: axe-core (from npm, cached under `target/axe/`) injected
//! into the page, failing on serious or critical violations.

use crate::browser::Browser;
use crate::{step, tools};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Command;

/// The axe-core release the audit uses.
const VERSION: &str = "4.14.1";
/// The impacts that fail the audit.
const FAILING: &[&str] = &["serious", "critical"];

fn script_path() -> PathBuf {
    crate::target_dir()
        .join("axe")
        .join("node_modules/axe-core/axe.min.js")
}

/// axe-core's script: installed with npm into `target/axe/` on first use.
pub fn script() -> Result<String> {
    let path = script_path();
    if !path.exists() {
        tools::ensure(&[tools::NPM])?;
        println!(
            "installing axe-core {VERSION} (npm) into target/axe: the accessibility rules the browser tests check the lab against"
        );
        let dir = crate::target_dir().join("axe");
        std::fs::create_dir_all(&dir)?;
        let ok = step::run(Command::new(tools::NPM.provides).args([
            "install",
            "--no-audit",
            "--no-fund",
            "--prefix",
            &dir.to_string_lossy(),
            &format!("axe-core@{VERSION}"),
        ]))?;
        if !ok || !path.exists() {
            bail!(
                "`npm install axe-core@{VERSION}` did not give {}",
                path.display()
            );
        }
    }
    std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))
}

/// Audits the page as it is now (`what` names the view in messages): fails on any
/// serious or critical violation, listing each with the elements it found. The VGA
/// screen is left out: its colours are the guest's.
pub fn audit(b: &Browser, axe: &str, what: &str) -> Result<usize> {
    b.execute(
        "if (!window.axe) {
             const s = document.createElement('script');
             s.textContent = arguments[0];
             document.head.appendChild(s);
         }",
        vec![json!(axe)],
    )?;
    let found = b
        .execute(
            "return window.axe.run({ exclude: [['[data-testid=vga-screen]']] }, { resultTypes: ['violations'] }).then((r) =>
                 r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                     nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ': ' + n.failureSummary) })));",
            vec![],
        )
        .with_context(|| format!("running axe on {what}"))?;
    let all = found.as_array().cloned().unwrap_or_default();
    let failing: Vec<&Value> = all
        .iter()
        .filter(|v| FAILING.contains(&v["impact"].as_str().unwrap_or_default()))
        .collect();
    if !failing.is_empty() {
        let lines: Vec<String> = failing
            .iter()
            .map(|v| {
                format!(
                    "{} ({}): {}\n      {}",
                    v["id"], v["impact"], v["help"], v["nodes"]
                )
            })
            .collect();
        bail!("axe on {what}: {}", lines.join("\n  "));
    }
    println!(
        "axe on {what}: no serious or critical violation ({} minor or moderate)",
        all.len()
    );
    Ok(all.len())
}
