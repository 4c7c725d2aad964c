//! The multi-VM host rows of `cargo xtask bench`: four 16 MiB VMs together against one alone, and the host memory (RSS) of four identical 64 MiB guests with page sharing.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Result;

use crate::bench::{json_run, num, release_example, Row};
use crate::step;

/// Host time each MIPS scenario runs, in ms (100 000 instructions per ms).
const RUN_MS: u32 = 1500;

fn runner() -> Result<PathBuf> {
    step::heading("build the host benchmark runner (release)");
    release_example("vmlab-host", "bench_host")
}

/// A scenario of `n` VMs of `ram_mib` with the given workload keys, for `ms`.
fn scenario(name: &str, n: usize, ram_mib: u32, ms: u32, vm_keys: &str, scan: u32) -> String {
    let mut s = format!(
        "[host]\nname = \"{name}\"\npool_mib = {}\nduration_ms = {ms}\nscan_pages = {scan}\n",
        ram_mib as usize * n
    );
    for i in 0..n {
        s += &format!("\n[[vm]]\nname = \"vm{i}\"\nram_mib = {ram_mib}\n{vm_keys}");
    }
    s
}

fn run(runner: &Path, name: &str, text: &str) -> Result<serde_json::Value> {
    let dir = crate::target_dir().join("bench");
    std::fs::create_dir_all(&dir)?;
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text)?;
    json_run(Command::new(runner).arg(&file))
}

/// The rows for the multi-VM host.
pub fn rows() -> Result<Vec<Row>> {
    let runner = runner()?;
    let busy = "shared_pages = 256\nprivate_pages = 64\nwork = 2000\n";
    let one = run(
        &runner,
        "host-one",
        &scenario("one", 1, 16, RUN_MS, busy, 256),
    )?;
    let four = run(
        &runner,
        "host-four",
        &scenario("four", 4, 16, RUN_MS, busy, 256),
    )?;
    let (m1, m4) = (num(&one, "mips")?, num(&four, "mips")?);
    println!("one 16 MiB VM: {one}\nfour 16 MiB VMs: {four}");
    let share = m4 / m1;
    let fill = "shared_pages = 14000\nprivate_pages = 256\nwork = 200\n";
    let big = run(
        &runner,
        "host-share64",
        &scenario("share64", 4, 64, 1500, fill, 512),
    )?;
    println!("four identical 64 MiB guests: {big}");
    let rss = num(&big, "peak_rss_kib")? / 1024.0;
    let frames = num(&big, "peak_frames")? / 256.0;
    let unshared = num(&big, "peak_unshared")? / 256.0;
    Ok(vec![
        Row::new(
            "host: four 16 MiB VMs together / one VM",
            format!("{:.0}% ({m4:.1} MIPS together, {m1:.1} MIPS alone)", share * 100.0),
            ">= 50%",
            Some(share >= 0.5),
        ),
        Row::new(
            "host: four identical 64 MiB guests, sharing (peak RSS)",
            format!(
                "{rss:.1} MiB (guest frames at peak {frames:.1} MiB; {unshared:.1} MiB without sharing)"
            ),
            "< 256 MiB",
            Some(rss < 256.0),
        ),
    ])
}
