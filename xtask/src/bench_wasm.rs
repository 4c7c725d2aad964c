//! The Wasm figure of `cargo xtask bench`: emulator-core built for the browser's target
//! (crate `vmlab-bench-wasm`) and timed under Node.js by `bench/wasm/run.mjs`.

use crate::{step, wasm};
use anyhow::{bail, Context, Result};
use std::process::Command;

/// Medians of `runs` Node.js runs of the mix ROM with `ITER=iter`, counted as `ours`
/// instructions (checked against the Wasm build's own count): MIPS of a process's first
/// run, and of its warm run (the same ROM again once V8 has optimised the code).
/// `tier` is `interp`, `fast` or `translate`.
pub fn node_mips(iter: u32, runs: usize, ours: f64, tier: &str) -> Result<NodeMips> {
    step::heading(
        format!("mixed workload as Wasm under Node.js (ITER={iter}, {tier} tier)").as_str(),
    );
    let module = build()?;
    let (mut first, mut warm, mut warm_cpu) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs.max(1) {
        let v = node_run(&module, iter, tier)?;
        println!("wasm: {v}");
        let n = v["instructions"].as_f64().unwrap_or(0.0);
        if (n - ours).abs() > 0.5 {
            bail!("the Wasm build ran {n} instructions, the native one {ours}");
        }
        let secs = |key: &str| v[key].as_f64().with_context(|| format!("no {key}"));
        first.push(ours / secs("first_seconds")? / 1e6);
        warm.push(ours / secs("warm_seconds")? / 1e6);
        if let Some(cpu) = v["warm_cpu_seconds"].as_f64().filter(|&c| c > 0.0) {
            warm_cpu.push(ours / cpu / 1e6);
        }
    }
    Ok(NodeMips {
        first: crate::bench::median(first),
        warm: crate::bench::median(warm),
        warm_cpu: (!warm_cpu.is_empty()).then(|| crate::bench::median(warm_cpu)),
    })
}

/// Instructions the Wasm build (fast tier) retires on the mix ROM with `ITER=iter`.
pub fn node_count(iter: u32) -> Result<f64> {
    let v = node_run(&build()?, iter, "fast")?;
    v["instructions"]
        .as_f64()
        .with_context(|| format!("no instruction count in {v}"))
}

/// Builds the bench module (release) and returns its path.
pub(crate) fn build() -> Result<std::path::PathBuf> {
    let toolchain = wasm::Toolchain::ensure()?;
    toolchain.build("vmlab-bench-wasm", true)
}

/// One `node run.mjs MODULE ITER TIER`: its JSON line.
fn node_run(module: &std::path::Path, iter: u32, tier: &str) -> Result<serde_json::Value> {
    node_script("run.mjs", module, &[&iter.to_string(), tier])
}

/// One `node bench/wasm/SCRIPT MODULE ARGS…`: the JSON line it printed.
pub(crate) fn node_script(
    script: &str,
    module: &std::path::Path,
    args: &[&str],
) -> Result<serde_json::Value> {
    let script = crate::workspace_root().join("bench/wasm").join(script);
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(module).args(args);
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
    serde_json::from_str(text.trim()).with_context(|| format!("node printed `{}`", text.trim()))
}

/// The differential test of the translating tier under Node.js: the mix ROM run in the
/// Wasm build by the interpreter, the fast tier and the translating tier (regions
/// compiled by Node.js) ends with the same instruction count and state digest; random
/// instruction streams do too; and so does every guest and lab reference solution
/// (`corpus.rs`). Returns (passed, failed) with one test per tier compared to the
/// interpreter, one for the streams and one per corpus case and lab.
pub fn node_differential() -> Result<(u32, u32)> {
    let module = build()?;
    let base = node_run(&module, 1, "interp")?;
    println!("interp: {base}");
    let (mut passed, mut failed) = (0, 0);
    for tier in ["fast", "translate"] {
        let v = node_run(&module, 1, tier)?;
        println!("{tier}: {v}");
        let same = v["instructions"] == base["instructions"] && v["digest"] == base["digest"];
        let compiled = tier != "translate" || v["regions"].as_u64().unwrap_or(0) > 0;
        if same && compiled {
            println!("test {tier} tier under Node.js = interpreter ... ok");
            passed += 1;
        } else {
            println!("test {tier} tier under Node.js = interpreter ... FAILED");
            failed += 1;
        }
    }
    let reused = format!(", the table's places reused every {FUZZ_MODULE_CAP} modules");
    for (cap, mode, what) in [
        (None, "at-once", String::new()),
        (Some(FUZZ_MODULE_CAP), "at-once", reused.clone()),
        (
            Some(FUZZ_MODULE_CAP),
            "late",
            format!("{reused}, each module ready one compile late"),
        ),
        (
            None,
            "background",
            ", modules compiled in the background".to_string(),
        ),
    ] {
        let verdict = if node_fuzz(&module, FUZZ_CASES, cap, mode)? {
            passed += 1;
            "ok"
        } else {
            failed += 1;
            "FAILED"
        };
        println!(
            "test translated Wasm = interpreter on {FUZZ_CASES} random streams{what} ... {verdict}"
        );
    }
    let (p, f) = crate::corpus::node_corpus(&module, None)?;
    Ok((passed + p, failed + f))
}

/// Random instruction streams the differential test runs under Node.js (a size that
/// fits in CI; `node bench/wasm/fuzz.mjs MODULE N` runs more).
const FUZZ_CASES: u32 = 40;

/// Region modules the function table holds in the second fuzz run before its places
/// start over (the 40 streams compile about 850 modules, so they start over often).
const FUZZ_MODULE_CAP: u32 = 64;

/// `node fuzz.mjs MODULE CASES CAP MODE` (CAP 0: the default; MODE: how modules are
/// compiled): true when every case ended alike in the interpreter and with its regions
/// compiled to Wasm.
fn node_fuzz(module: &std::path::Path, cases: u32, cap: Option<u32>, mode: &str) -> Result<bool> {
    let script = crate::workspace_root().join("bench/wasm/fuzz.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script)
        .arg(module)
        .arg(cases.to_string())
        .arg(cap.unwrap_or(0).to_string())
        .arg(mode);
    let out = cmd
        .output()
        .context("could not start node (apt-get install -y nodejs)")?;
    println!("fuzz: {}", String::from_utf8_lossy(&out.stdout).trim());
    let err = String::from_utf8_lossy(&out.stderr);
    if !err.trim().is_empty() {
        println!("fuzz: {}", err.trim());
    }
    Ok(out.status.success())
}

/// The Wasm build's speed on the mix ROM.
#[derive(Clone, Copy, Debug)]
pub struct NodeMips {
    /// MIPS of a process's first run (baseline code, tier-up included).
    pub first: f64,
    /// MIPS of the warm run (optimised code), the figure held to the target.
    pub warm: f64,
    /// MIPS of the warm run per second its main thread spent on a CPU (Linux only),
    /// which other processes on a loaded machine inflate less than wall time.
    pub warm_cpu: Option<f64>,
}
