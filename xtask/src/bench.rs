//! `cargo xtask bench`: vmlab's performance figures next to the peers', with targets.
//!
//! Guests are built with the project's assembler. Each figure is the median of several
//! runs; MIPS always divide vmlab's own instruction count for the guest by the wall
//! time, so every emulator is credited with the same work. Peers run where they can be
//! had on this machine: Unicorn from PyPI in a venv under `target/bench/venv`, v86 from
//! npm under `target/bench/node`. A figure that cannot be measured is shown as missing
//! with the reason, never invented.

use crate::step;
use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Options of `cargo xtask bench`.
#[derive(Debug, Clone)]
pub struct Options {
    /// ITER of the mixed workload for vmlab and Unicorn.
    pub iter: u32,
    /// ITER of the mixed workload for v86 (its JIT needs a longer run to warm up).
    pub v86_iter: u32,
    /// Runs per figure (the median is reported).
    pub runs: usize,
    /// Skip the peers (Unicorn, v86).
    pub no_peers: bool,
    /// Build the site (release) first, for the bundle size and page-load figures.
    pub web: bool,
    /// Only the translating tier's rows: v86 and the Wasm build's tiers under Node.js.
    pub translate_only: bool,
}

/// One row of the result table.
#[derive(Debug)]
pub(crate) struct Row {
    what: String,
    value: String,
    target: String,
    verdict: Option<bool>,
}

impl Row {
    pub(crate) fn new(what: &str, value: String, target: &str, verdict: Option<bool>) -> Row {
        Row {
            what: what.into(),
            value,
            target: target.into(),
            verdict,
        }
    }
    pub(crate) fn missing(what: &str, why: &str, target: &str) -> Row {
        Row::new(what, format!("not measured: {why}"), target, None)
    }
}

pub(crate) fn bench_dir() -> PathBuf {
    crate::target_dir().join("bench")
}

/// Runs `vmlab run … --json` as `cmd` holds it for `guests/<guest>`: its report, an
/// error unless the guest left with status 0.
pub(crate) fn guest_report(cmd: &mut Command, guest: &str) -> Result<Value> {
    let out = cmd.output().context("could not start vmlab")?;
    let v: Value = serde_json::from_slice(&out.stdout)
        .with_context(|| format!("vmlab run {guest}: no JSON report"))?;
    if v["exit_status"] != 0 {
        bail!(
            "guests/{guest} failed under trap-emulate: {}",
            v["exit_status"]
        );
    }
    Ok(v)
}

/// The number at `p` of guest `guest`'s report.
pub(crate) fn report_number(p: &Value, guest: &str) -> Result<f64> {
    p.as_f64()
        .with_context(|| format!("{guest}: {p} is not a number"))
}

/// Assembles `guests/<src>` with `-D` definitions into `target/bench/<out>`;
/// `%include` files are found beside the source, then in `guests/include/`.
pub(crate) fn assemble(src: &str, defines: &[(&str, String)], out: &str) -> Result<PathBuf> {
    let guests = crate::workspace_root().join("guests");
    let path = guests.join(src);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let include = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .or_else(|_| std::fs::read_to_string(guests.join("include").join(name)))
            .ok()
    };
    let opts = vmlab_asm::Options {
        defines: defines
            .iter()
            .map(|(k, v)| (k.to_string(), Some(v.clone())))
            .collect(),
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    let image = match vmlab_asm::assemble(src, &text, &opts) {
        Ok(o) => o.bytes,
        Err(e) => bail!("guests/{src} does not assemble:\n{e}"),
    };
    let file = bench_dir().join(out);
    std::fs::create_dir_all(bench_dir())?;
    std::fs::write(&file, image)?;
    Ok(file)
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs `cmd` and parses the last line of its standard output as JSON.
pub(crate) fn json_run(cmd: &mut Command) -> Result<Value> {
    let out = cmd
        .output()
        .with_context(|| format!("could not start `{}`", step::display(cmd)))?;
    if !out.status.success() {
        bail!(
            "`{}` failed: {}",
            step::display(cmd),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'))
        .with_context(|| format!("`{}` printed no JSON line", step::display(cmd)))?;
    Ok(serde_json::from_str(line)?)
}

pub(crate) fn num(v: &Value, key: &str) -> Result<f64> {
    v.get(key)
        .and_then(Value::as_f64)
        .with_context(|| format!("no number `{key}` in {v}"))
}

/// The native runner (`emulator-core`'s `bench_rom` example, release build).
fn native_runner() -> Result<PathBuf> {
    step::heading("build the native benchmark runner (release)");
    release_example("emulator-core", "bench_rom")
}

/// Builds example `example` of `package` (release) and returns its path.
pub(crate) fn release_example(package: &str, example: &str) -> Result<PathBuf> {
    let mut cmd = step::cargo_fast_native();
    cmd.args([
        "build",
        "--release",
        "--package",
        package,
        "--example",
        example,
    ]);
    if !step::run(&mut cmd)? {
        bail!("building {package}'s {example} (release) failed");
    }
    Ok(crate::target_dir().join("release/examples").join(example))
}

/// A native run of `rom`: the runner's JSON line.
pub(crate) fn native(runner: &Path, rom: &Path, args: &[&str]) -> Result<Value> {
    json_run(Command::new(runner).arg(rom).args(args))
}

/// Median wall-clock MIPS and the last run's figures (with `cpu_mips` replaced by the
/// median MIPS per second of CPU time) of `runs` native runs.
fn native_median(runner: &Path, rom: &Path, args: &[&str], runs: usize) -> Result<(f64, Value)> {
    let mut mips = Vec::new();
    let mut cpu = Vec::new();
    let mut last = Value::Null;
    for _ in 0..runs {
        let v = native(runner, rom, args)?;
        mips.push(num(&v, "mips")?);
        cpu.push(num(&v, "cpu_mips")?);
        last = v;
    }
    if let Some(o) = last.as_object_mut() {
        o.insert("cpu_mips".into(), median(cpu).into());
    }
    Ok((median(mips), last))
}

/// The Python in `target/bench/venv`, with `unicorn` installed.
fn unicorn_python() -> Result<PathBuf> {
    let venv = bench_dir().join("venv");
    let python = venv.join("bin/python");
    let has = |p: &Path| {
        Command::new(p)
            .args(["-c", "import unicorn"])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if python.is_file() && has(&python) {
        return Ok(python);
    }
    step::heading("install Unicorn (PyPI) into target/bench/venv");
    if !python.is_file() && !step::run(Command::new("python3").args(["-m", "venv"]).arg(&venv))? {
        bail!("python3 -m venv failed (apt-get install -y python3-venv)");
    }
    if !step::run(Command::new(&python).args(["-m", "pip", "install", "-q", "unicorn"]))? {
        bail!("pip install unicorn failed");
    }
    Ok(python)
}

/// `target/bench/node` with the npm package `v86` installed.
fn v86_dir() -> Result<PathBuf> {
    let dir = bench_dir().join("node");
    if dir.join("node_modules/v86/build/libv86.mjs").is_file() {
        return Ok(dir);
    }
    step::heading("install v86 (npm) into target/bench/node");
    std::fs::create_dir_all(&dir)?;
    if !dir.join("package.json").is_file() {
        std::fs::write(dir.join("package.json"), "{\"private\":true}\n")?;
    }
    if !step::run(
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "v86"])
            .current_dir(&dir),
    )? {
        bail!("npm install v86 failed (is Node.js with npm installed?)");
    }
    Ok(dir)
}

/// Runs the benchmarks and prints the table; false when a target is missed.
pub fn run(opts: &Options) -> Result<bool> {
    if opts.translate_only {
        return crate::bench_xlate::run(opts);
    }
    let runs = opts.runs.max(1);
    step::heading("assemble the benchmark guests (vmlab-asm)");
    let mix = |n: u32| {
        assemble(
            "bench/mix.asm",
            &[("ITER", n.to_string())],
            &format!("mix{n}.rom"),
        )
    };
    let rom = mix(opts.iter)?;
    let rom1 = mix(1)?;
    let rom2 = mix(2)?;
    println!("built {} and the ITER=1/2 counting images", rom.display());
    let runner = native_runner()?;
    let mut rows = Vec::new();

    // Instruction counts: ours, per iteration, for any ITER.
    let n1 = num(&native(&runner, &rom1, &[])?, "instructions")?;
    let n2 = num(&native(&runner, &rom2, &[])?, "instructions")?;
    let ours_for = |iter: u32| n1 + (n2 - n1) * (iter as f64 - 1.0);

    step::heading(format!("mixed workload, ITER={}, {runs} runs each", opts.iter).as_str());
    let (native_mips, last) = native_median(&runner, &rom, &["--mem", "64"], runs)?;
    println!("vmlab native: {last}");
    let rss_mib = num(&last, "peak_rss_kib")? / 1024.0;
    // Our exact count for this ROM (the per-iteration extrapolation is for other ITERs).
    let ours = num(&last, "instructions")?;
    let (general_mips, _) = native_median(&runner, &rom, &["--mem", "64", "--general"], 1)?;
    rows.push(Row::new(
        "mix: vmlab native (fast tier)",
        format!("{native_mips:.1} MIPS"),
        "",
        None,
    ));
    rows.push(Row::new(
        "mix: vmlab native, per CPU second",
        format!("{:.1} MIPS", num(&last, "cpu_mips")?),
        "",
        None,
    ));
    rows.push(Row::new(
        "mix: vmlab native (general interpreter only)",
        format!("{general_mips:.1} MIPS (1 run)"),
        "",
        None,
    ));

    let unicorn = if opts.no_peers {
        Err(anyhow::anyhow!("--no-peers"))
    } else {
        unicorn_median(&rom, &rom1, &rom2, opts.iter, runs, ours)
    };
    match &unicorn {
        Ok(u) => {
            rows.push(Row::new(
                "mix: Unicorn (PyPI)",
                format!("{u:.1} MIPS"),
                "",
                None,
            ));
            let ratio = native_mips / u;
            rows.push(Row::new(
                "mix: native / Unicorn",
                format!("{ratio:.2}x"),
                ">= 2x",
                Some(ratio >= 2.0),
            ));
        }
        Err(e) => rows.push(Row::missing(
            "mix: native / Unicorn",
            &format!("{e:#}"),
            ">= 2x",
        )),
    }
    let mut v86_mips = None;
    if !opts.no_peers {
        match v86_median(opts.v86_iter, runs, ours_for(opts.v86_iter), true) {
            Ok(peer) => {
                v86_mips = Some(peer);
                let v = peer.wall;
                rows.push(Row::new(
                    &format!("mix: v86 (npm, ITER={})", opts.v86_iter),
                    format!("{v:.1} MIPS"),
                    "",
                    None,
                ));
                rows.push(Row::new(
                    "mix: native / v86",
                    format!("{:.2}x", native_mips / v),
                    "",
                    None,
                ));
            }
            Err(e) => rows.push(Row::missing("mix: v86", &format!("{e:#}"), "")),
        }
    }
    let node = crate::bench_wasm::node_mips(opts.iter, runs, ours, "fast");
    match &node {
        Ok(w) => {
            rows.push(Row::new(
                "mix: vmlab Wasm under Node.js, first run",
                format!("{:.1} MIPS", w.first),
                "",
                None,
            ));
            rows.push(Row::new(
                "mix: vmlab Wasm under Node.js, warm",
                format!("{:.1} MIPS", w.warm),
                "",
                None,
            ));
            match &unicorn {
                Ok(u) => rows.push(Row::new(
                    "mix: Wasm (warm) / Unicorn",
                    format!("{:.2}x (first run {:.2}x)", w.warm / u, w.first / u),
                    ">= 1x",
                    Some(w.warm >= *u),
                )),
                Err(e) => rows.push(Row::missing(
                    "mix: Wasm (warm) / Unicorn",
                    &format!("{e:#}"),
                    ">= 1x",
                )),
            }
        }
        Err(e) => rows.push(Row::missing(
            "mix: Wasm under Node.js",
            &format!("{e:#}"),
            ">= Unicorn",
        )),
    }
    rows.extend(translate_rows(
        opts,
        runs,
        ours,
        node.as_ref().ok(),
        v86_mips,
    ));
    rows.extend(crate::bench_guests::rows(runs));
    rows.push(Row::new(
        "host memory, 64 MiB guest (peak RSS)",
        format!("{rss_mib:.1} MiB"),
        "< 100 MiB",
        Some(rss_mib < 100.0),
    ));

    step::heading("trap-heavy: the VMM guest, bare / trap-emulate / hw-assist");
    match crate::bench_vmm::rows(&runner) {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing(
            "vmm guest: VMM / bare",
            &format!("{e:#}"),
            ">= 30% / 60%",
        )),
    }

    step::heading("disk: VM exits per MiB under trap-emulate, ATA PIO and virtio-blk");
    match crate::bench_disk::rows() {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing(
            "disk: exits per MiB, ATA PIO / virtio-blk",
            &format!("{e:#}"),
            ">= 20x fewer",
        )),
    }

    step::heading("nic: exits, interrupts and instructions per MiB, NE2000 and virtio-net");
    match crate::bench_nic::rows() {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing(
            "nic: exits per MiB, NE2000 / virtio-net",
            &format!("{e:#}"),
            ">= 20x fewer",
        )),
    }

    step::heading("jvm: the baseline JIT on the loop-heavy program");
    match crate::bench_jvm::rows() {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing(
            "jvm: Loops.java, time interpreter / JIT",
            &format!("{e:#}"),
            ">= 2x faster",
        )),
    }

    step::heading("multi-VM host: four VMs on one CPU, page sharing");
    match crate::bench_host::rows() {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing(
            "host: four 16 MiB VMs / one; 4x64 MiB RSS",
            &format!("{e:#}"),
            ">= 50%; < 256 MiB",
        )),
    }

    step::heading("posted interrupts: the APIC guest under hw-assist, with and without --apicv");
    match crate::bench_grade::build_vmlab().and_then(|v| crate::bench_smp::rows(&v)) {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing(
            "posted interrupts: VM exits per interrupt",
            &format!("{e:#}"),
            "fewer with --apicv",
        )),
    }

    step::heading("paging-heavy guest");
    match assemble("bench/paging.asm", &[], "paging.rom") {
        Ok(p) => {
            let (mips, last) = native_median(&runner, &p, &[], runs)?;
            println!("paging: {last}");
            rows.push(Row::new(
                "paging-heavy guest: native",
                format!("{mips:.1} MIPS"),
                "",
                None,
            ));
        }
        Err(e) => rows.push(Row::missing("paging-heavy guest", &format!("{e:#}"), "")),
    }

    step::heading("grading throughput (vmlab grade, guest lab asm-warmup)");
    match grading_rate(20) {
        Ok(r) => rows.push(Row::new(
            "grading: guest-lab submissions per second",
            format!("{r:.1}/s (sequential `vmlab grade` processes)"),
            ">= 20/s",
            Some(r >= 20.0),
        )),
        Err(e) => rows.push(Row::missing(
            "grading throughput",
            &format!("{e:#}"),
            ">= 20/s",
        )),
    }

    step::heading("live migration: pre-copy of an idle 64 MiB guest (vmlab migrate)");
    rows.push(crate::bench_migrate::row(runs));

    step::heading("batch grading: generated submissions, vmlab grade --jobs 2");
    match crate::bench_grade::rows() {
        Ok(r) => rows.extend(r),
        Err(e) => rows.push(Row::missing("batch grading", &format!("{e:#}"), "")),
    }

    if opts.web {
        let built = crate::wasm::Toolchain::ensure().and_then(|t| crate::site::build(&t, true));
        if let Err(e) = built {
            println!("error: the site build failed: {e:#}");
        }
    }
    step::heading("Wasm bundle (target/site)");
    rows.push(crate::bench_bundle::row());
    step::heading("page load to interactive (headless Chromium)");
    match page_load_seconds(runs) {
        Ok(t) => rows.push(Row::new(
            "lab interactive after page load",
            format!("{t:.2} s"),
            "< 1.5 s",
            Some(t < 1.5),
        )),
        Err(e) => rows.push(Row::missing(
            "lab interactive after page load",
            &format!("{e:#}"),
            "< 1.5 s",
        )),
    }

    if opts.web {
        step::heading("the lab in headless Chromium: Step latency and Run speed");
        lab_rows(
            &mut rows,
            runs,
            node.as_ref().ok().map(|w| w.warm),
            v86_mips.map(|p| p.wall),
        );
    }

    Ok(finish(&rows))
}

/// Step latency and Run speed of the lab (release site in `target/site`), Run speed
/// against the Wasm build's warm figure under Node.js, and the translating tier's
/// against the lab's fast tier and v86 (`v86`, under Node.js in the same run).
fn lab_rows(rows: &mut Vec<Row>, runs: usize, node_warm: Option<f64>, v86: Option<f64>) {
    const FIRST: &str = "< 150 ms";
    const MEDIAN: &str = "< 50 ms";
    const SHARE: &str = ">= 80% of Node.js warm";
    let measured = served_site().and_then(|server| {
        let f = crate::bench_web::measure(server.url(), runs);
        drop(server);
        f
    });
    let f = match measured {
        Ok(f) => f,
        Err(e) => {
            let why = format!("{e:#}");
            rows.push(Row::missing("lab: first Step after load", &why, FIRST));
            rows.push(Row::missing("lab: Step, median of 20", &why, MEDIAN));
            rows.push(Row::missing("lab: Run, mix", &why, SHARE));
            rows.push(Row::missing("lab: Run, mix, translating tier", &why, ""));
            return;
        }
    };
    rows.push(Row::new(
        "lab: first Step after load (Chromium)",
        format!("{:.0} ms", f.first_step_ms),
        FIRST,
        Some(f.first_step_ms < 150.0),
    ));
    rows.push(Row::new(
        "lab: Step, median of 20 (Chromium)",
        format!("{:.0} ms", f.step_ms),
        MEDIAN,
        Some(f.step_ms < 50.0),
    ));
    rows.push(Row::new(
        "lab: Run, loop (Chromium)",
        format!("{:.1} MIPS", f.loop_mips),
        "",
        None,
    ));
    rows.push(Row::new(
        "lab: Run, printing to COM1 (Chromium)",
        format!("{:.2} MIPS", f.print_mips),
        "",
        None,
    ));
    match node_warm {
        Some(w) => rows.push(Row::new(
            "lab: Run, mix (Chromium) / Node.js warm",
            format!(
                "{:.1} MIPS = {:.0}% of {w:.1} MIPS",
                f.mix_mips,
                f.mix_mips * 100.0 / w
            ),
            SHARE,
            Some(f.mix_mips >= 0.8 * w),
        )),
        None => rows.push(Row::new(
            "lab: Run, mix (Chromium)",
            format!("{:.1} MIPS (no Node.js figure to compare)", f.mix_mips),
            SHARE,
            None,
        )),
    }
    const TRANSLATE: &str = "lab: Run, mix, translating tier (Chromium)";
    match &f.mix_translate_mips {
        Ok(t) => {
            let v86 = v86.map_or(String::new(), |v| {
                format!(", {:.2}x v86 under Node.js ({v:.1} MIPS)", t / v)
            });
            rows.push(Row::new(
                TRANSLATE,
                format!(
                    "{t:.1} MIPS = {:.2}x the lab's fast tier{v86}",
                    t / f.mix_mips
                ),
                "",
                None,
            ));
        }
        Err(why) => rows.push(Row::missing(TRANSLATE, why, "")),
    }
}

/// The translating tier's rows: its warm MIPS under Node.js and its ratios to the fast
/// tier's (`fast`, the same build) and to v86 (`v86`), each held to its target.
pub(crate) fn translate_rows(
    opts: &Options,
    runs: usize,
    ours: f64,
    node: Option<&crate::bench_wasm::NodeMips>,
    v86_mips: Option<V86Mips>,
) -> Vec<Row> {
    let mut out = Vec::new();
    let translated = crate::bench_wasm::node_mips(opts.iter, runs, ours, "translate");
    match &translated {
        Ok(t) => {
            out.push(Row::new(
                "mix: translating tier, Wasm under Node.js, warm",
                format!("{:.1} MIPS (first run {:.1})", t.warm, t.first),
                "",
                None,
            ));
            if let Some(w) = node {
                let r = t.warm / w.warm;
                out.push(Row::new(
                    "mix: translating / fast tier (both Wasm, warm)",
                    format!("{r:.2}x"),
                    ">= 2x",
                    Some(r >= 2.0),
                ));
            }
            if let Some(v) = v86_mips.map(|p| p.wall) {
                let r = t.warm / v;
                out.push(Row::new(
                    "mix: translating tier / v86",
                    format!("{r:.2}x"),
                    ">= 1.2x",
                    Some(r >= 1.2),
                ));
            }
            // The same ratios per second on the main thread's CPU: what the code costs,
            // less skewed by other processes on a loaded machine (not held to a target).
            if let (Some(tc), Some(fc)) = (t.warm_cpu, node.and_then(|w| w.warm_cpu)) {
                out.push(Row::new(
                    "mix: translating / fast tier, per main-thread CPU s",
                    format!("{:.2}x ({tc:.0} / {fc:.0} MIPS)", tc / fc),
                    "",
                    None,
                ));
            }
            if let (Some(tc), Some(vc)) = (t.warm_cpu, v86_mips.and_then(|p| p.cpu)) {
                out.push(Row::new(
                    "mix: translating tier / v86, per main-thread CPU s",
                    format!("{:.2}x ({tc:.0} / {vc:.0} MIPS)", tc / vc),
                    "",
                    None,
                ));
            }
        }
        Err(e) => out.push(Row::missing(
            "mix: translating tier under Node.js",
            &format!("{e:#}"),
            ">= 2x the fast tier",
        )),
    }
    if !opts.no_peers {
        let t = translated.as_ref().ok().map(|t| t.warm);
        out.extend(interpreter_rows(opts, runs, ours, node, t, v86_mips));
    }
    out
}

/// Like for like with v86's JIT switched off: vmlab's general interpreter and fast tier
/// (Wasm under Node.js) against v86's interpreter on the same ROM and ITER, and what
/// each one's translator buys over its interpreter (`translated`: the translating
/// tier's warm MIPS; not held to targets).
fn interpreter_rows(
    opts: &Options,
    runs: usize,
    ours: f64,
    node: Option<&crate::bench_wasm::NodeMips>,
    translated: Option<f64>,
    v86_jit: Option<V86Mips>,
) -> Vec<Row> {
    let off = match v86_median(opts.iter, runs, ours, false) {
        Ok(v) => v.wall,
        Err(e) => {
            return vec![Row::missing(
                "mix: v86 with its JIT off",
                &format!("{e:#}"),
                "",
            )]
        }
    };
    let mut out = vec![Row::new(
        &format!("mix: v86 with its JIT off (npm, ITER={})", opts.iter),
        format!("{off:.1} MIPS"),
        "",
        None,
    )];
    const INTERPRETERS: &str = "mix: vmlab's interpreters (Wasm, warm) / v86 with its JIT off";
    let interp = match crate::bench_wasm::node_mips(opts.iter, runs, ours, "interp") {
        Ok(i) => i.warm,
        Err(e) => {
            out.push(Row::missing(INTERPRETERS, &format!("{e:#}"), ""));
            return out;
        }
    };
    let fast = node.map_or(String::new(), |w| {
        format!("; fast tier {:.2}x ({:.1} MIPS)", w.warm / off, w.warm)
    });
    out.push(Row::new(
        INTERPRETERS,
        format!(
            "general interpreter {:.2}x ({interp:.1} / {off:.1} MIPS){fast}",
            interp / off
        ),
        "",
        None,
    ));
    if let (Some(t), Some(on)) = (translated, v86_jit.map(|p| p.wall)) {
        out.push(Row::new(
            "mix: what translation buys, vmlab translating / general interpreter, v86 JIT on / off",
            format!(
                "vmlab {:.1}x ({t:.1} / {interp:.1} MIPS), v86 {:.1}x ({on:.1} / {off:.1} MIPS)",
                t / interp,
                on / off
            ),
            "",
            None,
        ));
    }
    out
}

/// A server for `target/site` (which must hold a build).
fn served_site() -> Result<crate::server::RunningServer> {
    let site = crate::site::site_dir();
    if !site.join("index.html").is_file() {
        bail!("no target/site build (run with --web, or `cargo xtask build-web --release`)");
    }
    Ok(crate::server::SiteServer::bind(&site, 0)?.spawn())
}

fn unicorn_median(
    rom: &Path,
    rom1: &Path,
    rom2: &Path,
    iter: u32,
    runs: usize,
    ours: f64,
) -> Result<f64> {
    step::heading("Unicorn on the same ROM");
    let python = unicorn_python()?;
    let script = crate::workspace_root().join("bench/peers/unicorn_rom.py");
    let mut mips = Vec::new();
    for _ in 0..runs {
        let v = json_run(
            Command::new(&python)
                .arg(&script)
                .arg(rom)
                .arg("--count-a")
                .arg(rom1)
                .arg("--count-b")
                .arg(rom2)
                .args(["--iter", &iter.to_string()]),
        )?;
        println!("unicorn: {v}");
        mips.push(ours / num(&v, "seconds")? / 1e6);
    }
    Ok(median(mips))
}

/// v86's MIPS on the mix ROM: by wall time, and per second its main thread spent on a
/// CPU (Linux only).
#[derive(Clone, Copy, Debug)]
pub(crate) struct V86Mips {
    pub wall: f64,
    pub cpu: Option<f64>,
}

pub(crate) fn v86_median(iter: u32, runs: usize, ours: f64, jit: bool) -> Result<V86Mips> {
    let how = if jit { "" } else { ", its JIT off" };
    step::heading(format!("v86 on the same ROM (ITER={iter}{how})").as_str());
    let dir = v86_dir()?;
    let rom = assemble(
        "bench/mix.asm",
        &[("ITER", iter.to_string())],
        &format!("mix{iter}.rom"),
    )?;
    let script = crate::workspace_root().join("bench/peers/v86_rom.mjs");
    let (mut mips, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let v = json_run(
            Command::new("node")
                .arg(&script)
                .arg(&rom)
                .args((!jit).then_some("--no-jit"))
                .current_dir(&dir),
        )?;
        println!("v86: {v}");
        if v["jit"].as_bool() != Some(jit) {
            bail!(
                "v86 ran with its JIT {} ({v})",
                if jit { "off" } else { "on" }
            );
        }
        mips.push(ours / num(&v, "seconds")? / 1e6);
        if let Some(c) = v["cpu_seconds"].as_f64().filter(|&c| c > 0.0) {
            cpu.push(ours / c / 1e6);
        }
    }
    Ok(V86Mips {
        wall: median(mips),
        cpu: (!cpu.is_empty()).then(|| median(cpu)),
    })
}

/// Submissions per second for `n` sequential `vmlab grade` runs of the asm-warmup
/// lab's reference solution (each a full Gradescope grading: visible and hidden tests).
fn grading_rate(n: usize) -> Result<f64> {
    let vmlab = crate::bench_grade::build_vmlab()?;
    let lab = crate::workspace_root().join("assignments/labs/asm-warmup");
    let out = bench_dir().join("results.json");
    let start = std::time::Instant::now();
    for _ in 0..n {
        let st = Command::new(&vmlab)
            .args(["grade", "--lab", "asm-warmup", "--submission"])
            .arg(lab.join("solution.asm"))
            .arg("--out")
            .arg(&out)
            .stdout(std::process::Stdio::null())
            .status()
            .context("could not start vmlab")?;
        if !st.success() {
            bail!("vmlab grade failed on the reference solution");
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Median time from navigation start to the lab's Step button, served from a local
/// server (includes the WebDriver poll interval, so it is an upper bound).
fn page_load_seconds(runs: usize) -> Result<f64> {
    let server = served_site()?;
    let browser = crate::browser::Browser::launch(server.url())?;
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        browser.open("/")?;
        browser.wait_for(&crate::webdriver::Session::testid("btn-step"))?;
        let ms = browser.execute("return performance.now();", Vec::new())?;
        times.push(ms.as_f64().context("performance.now() is not a number")? / 1000.0);
    }
    Ok(median(times))
}

/// Prints the table; false when a row misses its target.
pub(crate) fn finish(rows: &[Row]) -> bool {
    print_table(rows);
    rows.iter().all(|r| r.verdict != Some(false))
}

fn print_table(rows: &[Row]) {
    step::heading("results (medians)");
    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    let w1 = rows
        .iter()
        .map(|r| r.value.len())
        .max()
        .unwrap_or(0)
        .min(60);
    let w2 = rows.iter().map(|r| r.target.len()).max().unwrap_or(0);
    println!(
        "{:w0$}  {:w1$}  {:w2$}  verdict",
        "figure", "value", "target"
    );
    for r in rows {
        let v = match r.verdict {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None if r.target.is_empty() => "",
            None => "n/a",
        };
        println!("{:w0$}  {:w1$}  {:w2$}  {v}", r.what, r.value, r.target);
    }
}
