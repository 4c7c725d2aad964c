//! `cargo xtask bench --translate-only`: the translating tier's rows alone (v86, with its
//! JIT on and off, and the Wasm build's tiers under Node.js on the mix ROM, then the
//! paging, kernel and fetch-demo rows of `bench_guests.rs`), without the rest of the bench.

use crate::bench::{self, Options, Row};
use crate::bench_wasm;
use anyhow::Result;

/// Runs v86 and the two Wasm tiers on the mix ROM, then the other guests' rows, and
/// prints their table; false when a target is missed.
pub fn run(opts: &Options) -> Result<bool> {
    let runs = opts.runs.max(1);
    crate::step::heading("instruction counts of the mix ROM (Wasm build, fast tier)");
    let n1 = bench_wasm::node_count(1)?;
    let n2 = bench_wasm::node_count(2)?;
    let ours = bench_wasm::node_count(opts.iter)?;
    let ours_for = |iter: u32| n1 + (n2 - n1) * (iter as f64 - 1.0);
    let mut rows = Vec::new();
    let mut v86 = None;
    if !opts.no_peers {
        match bench::v86_median(opts.v86_iter, runs, ours_for(opts.v86_iter), true) {
            Ok(v) => {
                v86 = Some(v);
                rows.push(Row::new(
                    &format!("mix: v86 (npm, ITER={})", opts.v86_iter),
                    format!("{:.1} MIPS", v.wall),
                    "",
                    None,
                ));
            }
            Err(e) => rows.push(Row::missing("mix: v86", &format!("{e:#}"), "")),
        }
    }
    let node = bench_wasm::node_mips(opts.iter, runs, ours, "fast");
    match &node {
        Ok(w) => rows.push(Row::new(
            "mix: vmlab Wasm under Node.js (fast tier), warm",
            format!("{:.1} MIPS (first run {:.1})", w.warm, w.first),
            "",
            None,
        )),
        Err(e) => rows.push(Row::missing(
            "mix: Wasm under Node.js (fast tier)",
            &format!("{e:#}"),
            "",
        )),
    }
    rows.extend(bench::translate_rows(
        opts,
        runs,
        ours,
        node.as_ref().ok(),
        v86,
    ));
    rows.extend(crate::bench_guests::rows(runs));
    Ok(bench::finish(&rows))
}
