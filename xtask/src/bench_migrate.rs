//! The live-migration benchmark: pre-copy of an idle 64 MiB guest over a 1 Gbit/s
//! link by the release `vmlab migrate`, timed natively (wall time of the migration).

use anyhow::{bail, Context, Result};
use std::process::Command;

use crate::bench::{median, num, Row};

/// Target wall time of the migration, seconds.
const TARGET_S: f64 = 1.0;

/// The median wall time of `runs` migrations of the idle workload with 64 MiB of RAM
/// (65,536 ticks, so the guest outlasts its migration).
fn migrate_seconds(runs: usize) -> Result<f64> {
    let vmlab = crate::bench_grade::build_vmlab()?;
    let guest = crate::workspace_root().join("guests/migrate/idle.asm");
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        let out = Command::new(&vmlab)
            .args([
                "migrate",
                "--ram",
                "64",
                "--after-ms",
                "1",
                "-D",
                "END_TICKS=65536",
                "--json",
                "--guest",
            ])
            .arg(&guest)
            .output()
            .context("could not start vmlab migrate")?;
        if !out.status.success() {
            bail!(
                "vmlab migrate failed: {}",
                String::from_utf8_lossy(&out.stdout).trim()
            );
        }
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        if v["migration"]["stop_rule"] != "converged" {
            bail!("the idle guest did not converge: {}", v["migration"]);
        }
        times.push(num(&v, "wall_ms")? / 1000.0);
    }
    Ok(median(times))
}

/// The benchmark's row.
pub(crate) fn row(runs: usize) -> Row {
    const WHAT: &str = "pre-copy migration, idle 64 MiB guest, 1 Gbit/s (wall)";
    match migrate_seconds(runs) {
        Ok(s) => Row::new(
            WHAT,
            format!("{:.0} ms", s * 1000.0),
            "< 1 s",
            Some(s < TARGET_S),
        ),
        Err(e) => Row::new(WHAT, format!("not measured: {e:#}"), "< 1 s", None),
    }
}
