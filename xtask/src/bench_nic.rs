//! The NIC row of `cargo xtask bench`: the same guest work (an ARP exchange and 350
//! pings of 1472 data bytes to the endpoint stub, about 1 MiB of frames both ways) on
//! the NE2000 (`guests/net/ne2000.asm`) and on virtio-net (`guests/net/virtio_net.asm`),
//! both asleep in HLT until their NIC interrupts, through `vmlab run --nic … --json`
//! under trap-emulate: VM exits, interrupts and guest instructions per MiB moved, and
//! the transmit interrupts the virtio guest suppressed.

use std::process::Command;

use anyhow::{bail, Result};
use serde_json::Value;

use crate::bench::{assemble, guest_report, report_number, Row};

/// How many times fewer exits virtio-net must take.
const TARGET: f64 = 20.0;
/// Echo requests per run.
const PINGS: u32 = 350;
/// Data bytes per echo request: 1514-byte frames.
const PAYLOAD: u32 = 1472;

/// One run's figures per MiB moved.
struct PerMib {
    exits: f64,
    interrupts: f64,
    instructions: f64,
    suppressed: Option<u64>,
}

/// Runs `guest` with its NIC `nic` on the stub's link.
fn run(vmlab: &std::path::Path, guest: &str, nic: &str) -> Result<PerMib> {
    let defines = [
        ("NIC_IRQ", String::new()),
        ("PINGS", PINGS.to_string()),
        ("PAYLOAD", PAYLOAD.to_string()),
    ];
    let bin = assemble(guest, &defines, &format!("{nic}-nic.bin"))?;
    let mut cmd = Command::new(vmlab);
    cmd.args(["run", "--flat", "0x10000"])
        .arg(&bin)
        .args(["--entry", "pm32", "--nic", nic, "--mode", "trap-emulate"])
        .args(["--max-insns", "4000000000", "--json"]);
    let v = guest_report(&mut cmd, guest)?;
    let n = |p: &Value| report_number(p, guest);
    let mib = n(&v["nic"]["bytes_moved"])? / f64::from(1 << 20);
    if mib < 1.0 {
        bail!("guests/{guest} moved only {mib:.2} MiB");
    }
    Ok(PerMib {
        exits: n(&v["vmm"]["exits"]["total"])? / mib,
        interrupts: n(&v["counters"]["irqs"])? / mib,
        instructions: n(&v["instructions"])? / mib,
        suppressed: v["nic"]["suppressed_interrupts"].as_u64(),
    })
}

/// The row: both NICs' figures and the exit ratio.
pub fn rows() -> Result<Vec<Row>> {
    let vmlab = crate::bench_grade::build_vmlab()?;
    let ne = run(&vmlab, "net/ne2000.asm", "ne2000")?;
    let vio = run(&vmlab, "net/virtio_net.asm", "virtio")?;
    let ratio = ne.exits / vio.exits.max(1.0);
    let suppressed = vio.suppressed.unwrap_or(0);
    println!(
        "per MiB moved under trap-emulate: NE2000 {:.0} exits, {:.0} interrupts, {:.0} instructions; \
         virtio-net {:.0} exits, {:.0} interrupts ({suppressed} transmit interrupts suppressed in all), {:.0} instructions",
        ne.exits, ne.interrupts, ne.instructions, vio.exits, vio.interrupts, vio.instructions
    );
    Ok(vec![Row::new(
        "nic: VM exits per MiB (trap-emulate), NE2000 / virtio-net",
        format!(
            "{:.0} / {:.0} = {ratio:.0}x fewer with virtio-net (interrupts {:.0} / {:.0}, {suppressed} suppressed; instructions {:.0} / {:.0} per MiB)",
            ne.exits, vio.exits, ne.interrupts, vio.interrupts, ne.instructions, vio.instructions
        ),
        &format!(">= {TARGET:.0}x fewer"),
        Some(ratio >= TARGET),
    )])
}
