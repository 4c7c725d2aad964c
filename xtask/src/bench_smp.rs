//! The SMP figures of `cargo xtask bench`: posted interrupts (the APIC guest,
//! `guests/smp/apic.asm`: APIC timer ticks, PIT ticks through the I/O APIC, IPIs, on
//! two CPUs under hw-assist, with every APIC access and interrupt exiting and with
//! APIC virtualization, `vmlab run --apicv`, in VM exits per interrupt taken), and
//! lock-holder preemption (`guests/smp/lhp.asm` on four vCPUs whose host time-slices
//! them, `--host-slice`, against `--ple` and `--cosched`, in instructions spent in
//! PAUSE loops).

use std::path::{Path, PathBuf};
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

/// `guests/smp/NAME.asm` assembled by `vmlab asm` into the bench folder.
fn assemble(vmlab: &Path, name: &str) -> Result<PathBuf> {
    let root = crate::workspace_root();
    let bin = crate::target_dir()
        .join("bench")
        .join(format!("smp-{name}.bin"));
    std::fs::create_dir_all(crate::target_dir().join("bench"))?;
    let st = Command::new(vmlab)
        .arg("asm")
        .arg(root.join(format!("guests/smp/{name}.asm")))
        .arg("-I")
        .arg(root.join("guests/include"))
        .arg("-o")
        .arg(&bin)
        .status()
        .with_context(|| format!("starting {}", vmlab.display()))?;
    ensure!(st.success(), "vmlab asm guests/smp/{name}.asm failed");
    Ok(bin)
}

/// Instructions spent in PAUSE loops by the lock-holder-preemption guest on four
/// vCPUs under hw-assist, with the host options `host`.
fn spin_instructions(vmlab: &Path, bin: &Path, host: &[&str]) -> Result<f64> {
    let out = Command::new(vmlab)
        .args(["run", "--flat", "0x8000"])
        .arg(bin)
        .args(["--entry", "pm32", "--cpus", "4", "--quantum", "20"])
        .args(["--mode", "hw-assist", "--json"])
        .args(host)
        .output()
        .with_context(|| format!("starting {}", vmlab.display()))?;
    ensure!(
        out.status.success(),
        "vmlab run {} failed: {}",
        host.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let report: Value = serde_json::from_slice(&out.stdout)?;
    num(&report["counters"], "spin_instructions")
}

/// The lock-holder-preemption row.
fn lhp_row(vmlab: &Path) -> Result<Row> {
    let bin = assemble(vmlab, "lhp")?;
    let sliced = spin_instructions(vmlab, &bin, &["--host-slice", "5000"])?;
    let ple = spin_instructions(vmlab, &bin, &["--host-slice", "5000", "--ple"])?;
    let co = spin_instructions(vmlab, &bin, &["--host-slice", "5000", "--cosched"])?;
    Ok(Row::new(
        "lock-holder preemption (hw-assist, 4 vCPUs, host slice 5000): instructions in PAUSE loops",
        format!(
            "{sliced:.0} → {ple:.0} with --ple (÷{:.1}), {co:.0} with --cosched (÷{:.1})",
            sliced / ple.max(1.0),
            sliced / co.max(1.0)
        ),
        "fewer with --ple and with --cosched",
        Some(ple < sliced && co < sliced),
    ))
}

/// Assembles the SMP guests with `vmlab asm` and returns the figures' rows.
pub fn rows(vmlab: &Path) -> Result<Vec<Row>> {
    let bin = assemble(vmlab, "apic")?;
    let exiting = exits_per_interrupt(vmlab, &bin, false)?;
    let posted = exits_per_interrupt(vmlab, &bin, true)?;
    let lhp = lhp_row(vmlab)?;
    Ok(vec![
        Row::new(
            "posted interrupts (hw-assist, APIC guest, 2 CPUs): VM exits per interrupt",
            format!(
                "{exiting:.2} → {posted:.2} with --apicv (÷{:.1})",
                exiting / posted
            ),
            "fewer with --apicv",
            Some(posted < exiting),
        ),
        lhp,
    ])
}

#[cfg(test)]
mod tests {
    /// Prints the figures with the debug CLI:
    /// `cargo build -p autograder && cargo test -p xtask -- --ignored smp_figures`.
    #[test]
    #[ignore = "needs a built vmlab; cargo xtask bench runs it with the release build"]
    fn smp_figures() {
        let vmlab = crate::target_dir().join("debug/vmlab");
        for row in super::rows(&vmlab).expect("the figures") {
            println!("{row:?}");
        }
    }
}
