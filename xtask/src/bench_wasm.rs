//! The Wasm figure of `cargo xtask bench`: emulator-core built for the browser's target
//! (crate `vmlab-bench-wasm`) and timed under Node.js by `bench/wasm/run.mjs`.

use crate::{step, wasm};
use anyhow::{bail, Context, Result};
use std::process::Command;

/// Medians of `runs` Node.js runs of the mix ROM with `ITER=iter`, counted as `ours`
/// instructions (checked against the Wasm build's own count): MIPS of a process's first
/// run, and of its warm run (the same ROM again once V8 has optimised the code).
pub fn node_mips(iter: u32, runs: usize, ours: f64) -> Result<NodeMips> {
    step::heading(format!("mixed workload as Wasm under Node.js (ITER={iter})").as_str());
    let toolchain = wasm::Toolchain::ensure()?;
    let module = toolchain.build("vmlab-bench-wasm", true)?;
    let script = crate::workspace_root().join("bench/wasm/run.mjs");
    let (mut first, mut warm) = (Vec::new(), Vec::new());
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
        let secs = |key: &str| v[key].as_f64().with_context(|| format!("no {key}"));
        first.push(ours / secs("first_seconds")? / 1e6);
        warm.push(ours / secs("warm_seconds")? / 1e6);
    }
    Ok(NodeMips {
        first: crate::bench::median(first),
        warm: crate::bench::median(warm),
    })
}

/// The Wasm build's speed on the mix ROM.
#[derive(Clone, Copy, Debug)]
pub struct NodeMips {
    /// MIPS of a process's first run (baseline code, tier-up included).
    pub first: f64,
    /// MIPS of the warm run (optimised code), the figure held to the target.
    pub warm: f64,
}
