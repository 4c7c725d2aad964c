//! The JIT row of `cargo xtask bench`: `jvm/java/Loops.java` (compiled with javac)
//! under `vmlab jvm --json`, with the JIT off and on (the default threshold), the
//! median wall time of each, and the steps: bytecodes interpreted, and bytecodes
//! interpreted plus x86 instructions compiled code retired.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};

use crate::bench::{bench_dir, json_run, median, num, Row};

/// How many times faster the JIT must run the loops.
const TARGET: f64 = 2.0;
const RUNS: usize = 3;

/// One configuration: (median seconds, bytecodes interpreted, x86 instructions, stdout).
fn measure(vmlab: &Path, classes: &Path, threshold: u32) -> Result<(f64, f64, f64, String)> {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..RUNS {
        let mut cmd = Command::new(vmlab);
        cmd.arg("jvm").arg(classes).args([
            "Loops",
            "--json",
            "--jit-threshold",
            &threshold.to_string(),
        ]);
        let t = Instant::now();
        let v = json_run(&mut cmd)?;
        times.push(t.elapsed().as_secs_f64());
        ensure!(
            v["outcome"] == "finished",
            "Loops did not finish with threshold {threshold}: {v}"
        );
        last = Some(v);
    }
    let v = last.context("no run")?;
    let jit = &v["jit"];
    Ok((
        median(times),
        num(&v, "bytecodes")?,
        num(jit, "x86_instructions")?,
        v["stdout"].as_str().unwrap_or_default().to_string(),
    ))
}

/// The row.
pub fn rows() -> Result<Vec<Row>> {
    crate::tools::ensure(&[crate::tools::OPENJDK])?;
    let vmlab = crate::bench_grade::build_vmlab()?;
    let classes = bench_dir().join("jvm-loops");
    std::fs::create_dir_all(&classes)?;
    let src = crate::workspace_root().join("jvm/java/Loops.java");
    let st = Command::new("javac")
        .arg("-d")
        .arg(&classes)
        .arg(&src)
        .status()
        .context("javac runs")?;
    if !st.success() {
        bail!("javac failed on {}", src.display());
    }
    let (t_off, bc_off, _, out_off) = measure(&vmlab, &classes, 0)?;
    let (t_on, bc_on, x86, out_on) = measure(&vmlab, &classes, 1000)?;
    ensure!(
        out_on == out_off,
        "Loops prints differently with the JIT on"
    );
    let factor = t_off / t_on.max(1e-9);
    let steps_on = bc_on + x86;
    println!(
        "Loops: interpreter {t_off:.3} s, {bc_off:.0} bytecodes; JIT {t_on:.3} s, {bc_on:.0} bytecodes + {x86:.0} x86 instructions"
    );
    Ok(vec![Row::new(
        "jvm: Loops.java, time interpreter / JIT (threshold 1000)",
        format!(
            "{t_off:.2} s / {t_on:.2} s = {factor:.1}x faster; steps {bc_off:.0} bytecodes / {bc_on:.0} bytecodes + {x86:.0} x86 = {:.2}x",
            bc_off / steps_on.max(1.0)
        ),
        &format!(">= {TARGET:.0}x faster"),
        Some(factor >= TARGET),
    )])
}
