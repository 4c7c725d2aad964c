//! The posted-interrupt figure of `cargo xtask bench`: the APIC guest
//! (`guests/smp/apic.asm`: APIC timer ticks, PIT ticks through the I/O APIC, IPIs)
//! on two CPUs under hw-assist, with every APIC access and interrupt exiting and
//! with APIC virtualization (`vmlab run --apicv`), in VM exits per interrupt taken.

use std::path::Path;
use std::process::Command;

use anyhow::{ensure, Context, Result};
use serde_json::Value;

use crate::bench::{num, Row};

/// One run's exits per interrupt.
fn exits_per_interrupt(vmlab: &Path, bin: &Path, apicv: bool) -> Result<f64> {
    let mut cmd = Command::new(vmlab);
    cmd.args(["run", "--flat", "0x8000"]).arg(bin).args([
        "--entry",
        "pm32",
        "--cpus",
        "2",
        "--mode",
        "hw-assist",
        "--json",
    ]);
    if apicv {
        cmd.arg("--apicv");
    }
    let out = cmd
        .output()
        .with_context(|| format!("starting {}", vmlab.display()))?;
    ensure!(
        out.status.success(),
        "vmlab run failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    let exits = num(&report["vmm"]["exits"], "total")?;
    let irqs = num(&report["counters"], "irqs")?;
    ensure!(irqs > 0.0, "the APIC guest took no interrupt");
    Ok(exits / irqs)
}

/// Assembles the APIC guest with `vmlab asm` and returns the figure's row.
pub fn rows(vmlab: &Path) -> Result<Vec<Row>> {
    let root = crate::workspace_root();
    let bin = crate::target_dir().join("bench").join("smp-apic.bin");
    std::fs::create_dir_all(crate::target_dir().join("bench"))?;
    let st = Command::new(vmlab)
        .arg("asm")
        .arg(root.join("guests/smp/apic.asm"))
        .arg("-I")
        .arg(root.join("guests/include"))
        .arg("-o")
        .arg(&bin)
        .status()
        .with_context(|| format!("starting {}", vmlab.display()))?;
    ensure!(st.success(), "vmlab asm guests/smp/apic.asm failed");
    let exiting = exits_per_interrupt(vmlab, &bin, false)?;
    let posted = exits_per_interrupt(vmlab, &bin, true)?;
    Ok(vec![Row::new(
        "posted interrupts (hw-assist, APIC guest, 2 CPUs): VM exits per interrupt",
        format!(
            "{exiting:.2} → {posted:.2} with --apicv (÷{:.1})",
            exiting / posted
        ),
        "fewer with --apicv",
        Some(posted < exiting),
    )])
}

#[cfg(test)]
mod tests {
    /// Prints the figure with the debug CLI:
    /// `cargo build -p autograder && cargo test -p xtask -- --ignored posted_interrupt`.
    #[test]
    #[ignore = "needs a built vmlab; cargo xtask bench runs it with the release build"]
    fn posted_interrupt_figure() {
        let vmlab = crate::target_dir().join("debug/vmlab");
        for row in super::rows(&vmlab).expect("the figure") {
            println!("{row:?}");
        }
    }
}
