//! The Wasm figure of `cargo xtask bench`: emulator-core built for the browser's target
//! (crate `vmlab-bench-wasm`) and timed under Node.js by `bench/wasm/run.mjs`.

use crate::{step, wasm};
use anyhow::{bail, Context, Result};
use std::process::Command;

/// Median MIPS of `runs` Node.js runs of the mix ROM with `ITER=iter`, counted as
/// `ours` instructions (checked against the Wasm build's own count).
pub fn node_mips(iter: u32, runs: usize, ours: f64) -> Result<f64> {
    step::heading(format!("mixed workload as Wasm under Node.js (ITER={iter})").as_str());
    let toolchain = wasm::Toolchain::ensure()?;
    let module = toolchain.build("vmlab-bench-wasm", true)?;
    let script = crate::workspace_root().join("bench/wasm/run.mjs");
    let mut mips = Vec::new();
    for _ in 0..runs.max(1) {
        let mut cmd = Command::new("node");
        cmd.arg(&script).arg(&module).arg(iter.to_string());
        let out = cmd
            .output()
            .context("could not start node (apt-get install -y nodejs)")?;
        if !out.status.success() {
            bail!(
                "`{}` failed: {}",
                step::display(&cmd),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let v: serde_json::Value = serde_json::from_str(text.trim())
            .with_context(|| format!("node printed `{}`", text.trim()))?;
        println!("wasm: {v}");
        let n = v["instructions"].as_f64().unwrap_or(0.0);
        if (n - ours).abs() > 0.5 {
            bail!("the Wasm build ran {n} instructions, the native one {ours}");
        }
        let secs = v["seconds"].as_f64().context("no seconds")?;
        mips.push(ours / secs / 1e6);
    }
    mips.sort_by(|a, b| a.total_cmp(b));
    Ok(mips[mips.len() / 2])
}
