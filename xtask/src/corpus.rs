//! The translating tier's differential corpus under Node.js: every guest of the
//! repository (the table in `corpus_guests.rs` and every machine demo) as a case, and
//! every guest lab's reference solution, written to `target/corpus/cases.json` and run by
//! `bench/wasm/corpus.mjs` in vmlab's Wasm build, interpreter against translating tier.

use crate::corpus_guests::{Guest, Load, EXCLUDED, GUESTS};
use crate::step;
use anyhow::{bail, Context, Result};
use emulator_core::smp::{HostSchedule, DEFAULT_PLE_WINDOW};
use emulator_core::{ExecMode, FlatEntry, MachineConfig};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The slices every case runs in, cycled: budgets end inside looping and chained regions.
const SLICES: [u64; 8] = [1, 7, 1000, 3, 12_345, 2, 50_000, 1_000_000];
/// Instructions a demo's guest runs at most.
const DEMO_BUDGET: u64 = 5_000_000;
/// The RAM the lab's machine gives a demo.
const DEMO_RAM_MIB: u32 = 4;

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The JSON of a case.
struct CaseSpec<'a> {
    name: String,
    image: &'a [u8],
    load: Value,
    config: MachineConfig,
    disks: Vec<(&'a str, Vec<u8>)>,
    nic: Option<&'a str>,
    host: Option<HostSchedule>,
    virtio_service: Option<[u64; 2]>,
    budget: u64,
}

impl CaseSpec<'_> {
    fn to_json(&self) -> Result<Value> {
        Ok(json!({
            "name": self.name,
            "image": hex(self.image),
            "load": self.load,
            "config": serde_json::to_value(&self.config)?,
            "disks": self.disks.iter().map(|(k, b)| json!({"kind": k, "bytes": hex(b)})).collect::<Vec<_>>(),
            "nic": self.nic.map(|k| json!({"kind": k, "stub": true})),
            "host": self.host,
            "virtio_service": self.virtio_service,
            "budget": self.budget,
            "slices": SLICES,
        }))
    }
}

/// Assembles `guests/<path>` with `defines`; `%include` names are found beside it, then
/// in `guests/include/`.
fn assemble_guest(path: &str, defines: &[&str]) -> Result<Vec<u8>> {
    let root = crate::workspace_root().join("guests");
    let file = root.join(path);
    let source =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let dir = file.parent().unwrap_or(&root).to_path_buf();
    let shared = root.join("include");
    let include = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .or_else(|_| std::fs::read_to_string(shared.join(name)))
            .ok()
    };
    let opts = vmlab_asm::Options {
        defines: defines.iter().map(|d| vmlab_asm::parse_define(d)).collect(),
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    match vmlab_asm::assemble(path, &source, &opts) {
        Ok(out) => Ok(out.bytes),
        Err(e) => bail!("guests/{path} does not assemble:\n{e}"),
    }
}

/// The cases of one guest of the table: one per mode.
fn guest_cases(g: &Guest) -> Result<Vec<Value>> {
    let image = assemble_guest(g.path, g.defines)?;
    let load = match g.load {
        Load::Rom => json!({"kind": "rom"}),
        Load::Flat(addr) => json!({"kind": "flat", "addr": addr, "entry": FlatEntry::Protected32}),
        Load::Multiboot(cmdline) => json!({"kind": "multiboot", "cmdline": cmdline}),
    };
    let disks: Vec<(&str, Vec<u8>)> = g
        .disk
        .iter()
        .map(|&(kind, len)| (kind, (0..len).map(|i| (i * 7 + i / 512) as u8).collect()))
        .collect();
    g.modes
        .iter()
        .map(|&mode| {
            CaseSpec {
                name: format!("{} ({})", g.path, mode.name()),
                image: &image,
                load: load.clone(),
                config: MachineConfig {
                    ram_mib: g.ram_mib,
                    mode,
                    cpus: g.cpus,
                    quantum: g.quantum,
                    ..MachineConfig::default()
                },
                disks: disks.clone(),
                nic: g.nic,
                host: None,
                virtio_service: None,
                budget: g.budget,
            }
            .to_json()
        })
        .collect()
}

/// The machines a demo's steps run on: its mode and host schedule, then each other
/// pair a step reruns the guest with.
fn demo_runs(d: &vmlab_demos::Demo) -> Result<Vec<(ExecMode, HostSchedule)>> {
    let mut runs = Vec::new();
    for i in 0..d.steps().len().max(1) {
        let name = d.manifest.mode_at(i);
        let mode: ExecMode = name
            .parse()
            .map_err(|e| anyhow::anyhow!("demo {}: mode {name:?}: {e}", d.id))?;
        let h = d.manifest.host_schedule_at(i);
        let host = HostSchedule {
            slice: h.slice,
            cosched: h.cosched,
            ple_window: if h.ple { DEFAULT_PLE_WINDOW } else { 0 },
        };
        // The lab runs a bare machine without a host schedule.
        let host = if host.refusal(mode).is_some() {
            HostSchedule::default()
        } else {
            host
        };
        if !runs.contains(&(mode, host)) {
            runs.push((mode, host));
        }
    }
    Ok(runs)
}

/// The cases of one machine demo: one per mode it runs in.
fn demo_cases(d: &vmlab_demos::Demo) -> Result<Vec<Value>> {
    let include = |name: &str| vmlab_demos::include(name).map(str::to_string);
    let opts = vmlab_asm::Options {
        include: Some(&include),
        ..vmlab_asm::Options::default()
    };
    let out = match vmlab_asm::assemble("demo.asm", d.source, &opts) {
        Ok(out) => out,
        Err(e) => bail!("demo {} does not assemble:\n{e}", d.id),
    };
    let load = match d.manifest.boot {
        vmlab_demos::Boot::Rom => json!({"kind": "rom"}),
        vmlab_demos::Boot::Flat => {
            let entry = if vmlab_demos::real_mode_program(d.source) {
                FlatEntry::Real16
            } else {
                FlatEntry::Protected32
            };
            json!({"kind": "flat", "addr": out.origin, "entry": entry})
        }
    };
    let mut disks = Vec::new();
    if let Some(s) = &d.manifest.disk {
        let content = vmlab_demos::kind_disk::pattern(s.sectors, s.seed);
        match s.controller.as_str() {
            "both" => {
                disks.push(("ata", content.clone()));
                disks.push(("virtio", content));
            }
            c => disks.push((c, content)),
        }
    }
    demo_runs(d)?
        .into_iter()
        .map(|(mode, host)| {
            let schedule = if host == HostSchedule::default() {
                String::new()
            } else {
                format!(
                    ", host slice {}{}{}",
                    host.slice,
                    if host.cosched { " co-scheduled" } else { "" },
                    if host.ple_window > 0 { " with PLE" } else { "" }
                )
            };
            CaseSpec {
                name: format!("demo {} ({}{schedule})", d.id, mode.name()),
                image: &out.bytes,
                load: load.clone(),
                config: MachineConfig {
                    ram_mib: DEMO_RAM_MIB,
                    mode,
                    cpus: d.manifest.cpu_count(),
                    quantum: d
                        .manifest
                        .quantum
                        .unwrap_or(MachineConfig::default().quantum),
                    ..MachineConfig::default()
                },
                disks: disks.clone(),
                nic: None,
                host: Some(host).filter(|h| *h != HostSchedule::default()),
                virtio_service: d.manifest.disk.as_ref().and_then(|s| s.virtio_service),
                budget: DEMO_BUDGET,
            }
            .to_json()
        })
        .collect()
}

/// Demos that do not run on the x86 machine, and why.
fn demo_exclusions() -> Exclusions {
    vmlab_demos::every()
        .iter()
        .filter(|d| d.manifest.kind != vmlab_demos::Kind::Machine)
        .map(|d| {
            (
                d.id.to_string(),
                format!(
                    "a {:?} demo: not a guest of the x86 machine",
                    d.manifest.kind
                ),
            )
        })
        .collect()
}

/// What is left out of the corpus (an id or path) and why.
type Exclusions = Vec<(String, String)>;

/// Every guest lab's files as `bench_lab` takes them, and the component labs with why
/// they are left out.
fn labs() -> Result<(Vec<Value>, Exclusions)> {
    let dir = assignments::native::default_labs_dir();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("lab.toml").is_file())
        .collect();
    entries.sort();
    let read =
        |p: &Path| std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()));
    let (mut guest, mut excluded) = (Vec::new(), Vec::new());
    for lab in entries {
        let manifest = read(&lab.join("lab.toml"))?;
        let m = assignments::LabManifest::parse(&manifest)
            .map_err(|e| anyhow::anyhow!("{}: {e}", lab.display()))?;
        if m.kind != assignments::LabKind::Guest {
            excluded.push((
                m.id,
                "a component lab: Rust built natively, not an x86 guest".into(),
            ));
            continue;
        }
        let tests = ["visible.toml", "hidden.toml"]
            .iter()
            .map(|f| read(&lab.join("tests").join(f)))
            .collect::<Result<Vec<_>>>()?;
        guest.push(json!({
            "id": m.id,
            "manifest": manifest,
            "tests": tests,
            "solution": read(&lab.join("solution.asm"))?,
        }));
    }
    Ok((guest, excluded))
}

/// Writes the corpus (`{cases, labs}`) to `target/corpus/cases.json`; its path.
pub fn write() -> Result<PathBuf> {
    let mut cases = Vec::new();
    for g in GUESTS {
        cases.extend(guest_cases(g)?);
    }
    for d in vmlab_demos::of_kind(vmlab_demos::Kind::Machine) {
        cases.extend(demo_cases(d)?);
    }
    let (labs, excluded_labs) = labs()?;
    for (path, why) in EXCLUDED {
        println!("not on the machine: guests/{path}: {why}");
    }
    for (id, why) in demo_exclusions() {
        println!("not on the machine: demo {id}: {why}");
    }
    for (id, why) in &excluded_labs {
        println!("not on the machine: lab {id}: {why}");
    }
    let dir = crate::target_dir().join("corpus");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("cases.json");
    let text = serde_json::to_string(&json!({"cases": cases, "labs": labs}))?;
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "corpus: {} cases, {} labs in {}",
        cases.len(),
        labs.len(),
        path.display()
    );
    Ok(path)
}

/// Runs `node corpus.mjs MODULE CASES [only]`: (passed, failed), one test per case and
/// per lab.
pub fn node_corpus(module: &Path, only: Option<&str>) -> Result<(u32, u32)> {
    let cases = write()?;
    let script = crate::workspace_root().join("bench/wasm/corpus.mjs");
    let mut cmd = Command::new("node");
    cmd.arg(&script).arg(module).arg(&cases);
    if let Some(o) = only {
        cmd.arg(o);
    }
    let out = cmd
        .output()
        .context("could not start node (apt-get install -y nodejs)")?;
    let err = String::from_utf8_lossy(&out.stderr);
    let (mut passed, mut failed) = (0, 0);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: Value =
            serde_json::from_str(line).with_context(|| format!("node printed `{line}`"))?;
        if let Some(s) = v.get("summary") {
            println!("corpus: {s}");
            continue;
        }
        let item = v["item"].as_str().unwrap_or("?");
        let ok = v["ok"] == true;
        let end = match v.get("tests") {
            Some(tests) => format!("{tests} tests on {} machines", v["machines"]),
            None => format!("stop {}", v["stop"]),
        };
        println!(
            "test {item} under Node.js ... {}  ({} instructions, {} in regions, {end}, {}s)",
            if ok { "ok" } else { "FAILED" },
            v["icount"],
            v["region_instructions"],
            v["seconds"]
        );
        if let Some(n) = v["not_on_machine"].as_array().filter(|n| !n.is_empty()) {
            println!(
                "    {} test(s) not on the machine (run by their own VM): {}",
                n.len(),
                v["not_on_machine"]
            );
        }
        if ok {
            passed += 1;
        } else {
            println!("    {v}");
            failed += 1;
        }
    }
    if !err.trim().is_empty() {
        println!("corpus: {}", err.trim());
    }
    if passed + failed == 0 || (!out.status.success() && failed == 0) {
        bail!(
            "`{}` ran no case or failed: {}",
            step::display(&cmd),
            err.trim()
        );
    }
    Ok((passed, failed))
}

/// `cargo xtask corpus [--only TEXT]`: builds the bench module and runs the corpus (the
/// cases and labs whose name contains TEXT).
pub fn run(only: Option<&str>) -> Result<bool> {
    let module = crate::bench_wasm::build()?;
    step::heading("translating tier under Node.js: every guest and lab (differential)");
    let (passed, failed) = node_corpus(&module, only)?;
    println!("corpus: {passed} passed, {failed} failed");
    Ok(failed == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `.asm` under `dir` (not `.inc`), as paths relative to `root`.
    fn asm_files(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir)
            .expect("guests/ is readable")
            .flatten()
        {
            let p = e.path();
            if p.is_dir() {
                asm_files(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "asm") {
                let rel = p.strip_prefix(root).expect("under guests/");
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_guest_file_is_in_the_table_or_excluded() {
        let root = crate::workspace_root().join("guests");
        let mut files = Vec::new();
        asm_files(&root, &root, &mut files);
        assert!(files.len() > 20, "found only {files:?}");
        for f in &files {
            let listed = GUESTS.iter().filter(|g| g.path == f).count()
                + EXCLUDED.iter().filter(|(p, _)| p == f).count();
            assert_eq!(
                listed, 1,
                "guests/{f}: in the corpus table or the exclusions, once"
            );
        }
        for path in GUESTS
            .iter()
            .map(|g| g.path)
            .chain(EXCLUDED.iter().map(|e| e.0))
        {
            assert!(
                files.iter().any(|f| f == path),
                "guests/{path} is listed but missing"
            );
        }
    }

    #[test]
    fn every_demo_is_a_case_or_excluded() {
        let excluded = demo_exclusions();
        for d in vmlab_demos::every() {
            let machine = d.manifest.kind == vmlab_demos::Kind::Machine;
            let out = excluded.iter().any(|(id, _)| id == d.id);
            assert!(
                machine != out,
                "demo {}: a case or excluded, not both",
                d.id
            );
            if machine {
                let cases = demo_cases(d).expect("the demo's cases build");
                assert!(!cases.is_empty(), "demo {} has no case", d.id);
            }
        }
    }

    #[test]
    fn every_guest_lab_is_sent_and_component_labs_are_excluded() {
        let (guest, excluded) = labs().expect("the labs read");
        for l in assignments::catalog() {
            let sent = guest.iter().filter(|v| v["id"] == l.id).count();
            let out = excluded.iter().filter(|(id, _)| *id == l.id).count();
            let guest_lab = l.kind == assignments::LabKind::Guest;
            assert_eq!(
                (sent, out),
                if guest_lab { (1, 0) } else { (0, 1) },
                "lab {}",
                l.id
            );
        }
    }
}
