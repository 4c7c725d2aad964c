//! A guest lab's reference solution graded twice by the lab harness, on machines of the
//! general interpreter and of the translating tier: every machine a test builds is
//! recorded when the test drops it ([`Outcome`]), and the two tiers must leave the same
//! records and the same test outcomes, every test passing. `bench_lab` takes a
//! [`LabRequest`] as JSON.

use std::cell::RefCell;
use std::rc::Rc;

use assignments::core_machine::{CoreMachine, VmlabAssembler};
use assignments::harness::{self, Prepared};
use assignments::spec::TestFile;
use assignments::target::{GuestMachine, MachineFactory};
use assignments::{LabKind, LabManifest};
use emulator_core::{CpuState, FlatEntry, Machine, MachineConfig, StopReason};
use serde::Deserialize;

use crate::corpus::{Outcome, Tier};
use crate::io;

/// A guest lab as its files hold it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabRequest {
    /// The lab's id.
    pub id: String,
    /// `lab.toml`.
    pub manifest: String,
    /// The test files (`tests/visible.toml`, `tests/hidden.toml`).
    pub tests: Vec<String>,
    /// The reference solution's source.
    pub solution: String,
}

/// The slices each recorded machine runs in, cycled (the harness asks for its whole
/// budget at once).
const SLICES: [u64; 6] = [1, 7, 1000, 3, 12_345, 50_000];

/// The harness's machine, recording what it leaves when dropped.
#[derive(Debug)]
struct Recorded {
    inner: CoreMachine,
    stops: Vec<StopReason>,
    log: Rc<RefCell<Vec<Outcome>>>,
}

impl Drop for Recorded {
    fn drop(&mut self) {
        let disks: Vec<_> = self.inner.1.iter().cloned().collect();
        let stops = std::mem::take(&mut self.stops);
        self.log
            .borrow_mut()
            .push(Outcome::of(&self.inner.0, stops, &disks));
    }
}

impl GuestMachine for Recorded {
    fn load_flat(&mut self, addr: u32, image: &[u8], entry: FlatEntry) -> Result<(), String> {
        self.inner.load_flat(addr, image, entry)
    }
    fn write_phys(&mut self, addr: u32, bytes: &[u8]) -> Result<(), String> {
        self.inner.write_phys(addr, bytes)
    }
    fn peek_phys(&self, addr: u32, buf: &mut [u8]) {
        self.inner.peek_phys(addr, buf)
    }
    fn cpu(&self) -> &CpuState {
        self.inner.cpu()
    }
    fn cpu_mut(&mut self) -> &mut CpuState {
        self.inner.cpu_mut()
    }
    fn guest_cpl(&self) -> u8 {
        self.inner.guest_cpl()
    }
    fn run(&mut self, budget: u64) -> StopReason {
        let stops = crate::corpus::run(&mut self.inner.0, &SLICES, budget, false);
        let last = stops.last().copied().unwrap_or(StopReason::BudgetExhausted);
        self.stops.extend(stops);
        last
    }
    fn icount(&self) -> u64 {
        self.inner.icount()
    }
    fn serial_output(&self) -> Vec<u8> {
        self.inner.serial_output()
    }
    fn push_serial_input(&mut self, bytes: &[u8]) {
        self.inner.push_serial_input(bytes)
    }
    fn vm_exits(&self, reason: &str) -> Option<u64> {
        self.inner.vm_exits(reason)
    }
    fn recent_exceptions(&self, n: usize) -> Vec<String> {
        self.inner.recent_exceptions(n)
    }
    fn sensitive_reports(&self) -> Option<Vec<String>> {
        self.inner.sensitive_reports()
    }
    fn attach_virtio_disk(&mut self, image: Vec<u8>) -> Result<(), String> {
        self.inner.attach_virtio_disk(image)
    }
    fn disk_image(&self) -> Option<Vec<u8>> {
        self.inner.disk_image()
    }
}

/// Builds [`Recorded`] machines of one tier.
#[derive(Debug)]
struct TierFactory {
    tier: Tier,
    log: Rc<RefCell<Vec<Outcome>>>,
}

impl MachineFactory for TierFactory {
    fn create(&self, cfg: MachineConfig) -> Result<Box<dyn GuestMachine>, String> {
        let mut m = Machine::new(cfg).map_err(|e| e.to_string())?;
        self.tier.apply(&mut m);
        Ok(Box::new(Recorded {
            inner: CoreMachine(m, None),
            stops: Vec::new(),
            log: self.log.clone(),
        }))
    }
}

/// Grades `req`'s reference solution in both tiers, test by test: the report as JSON.
pub fn compare(req: &LabRequest) -> serde_json::Value {
    match try_compare(req) {
        Ok(v) => v,
        Err(e) => serde_json::json!({ "id": req.id, "error": format!("lab {}: {e}", req.id) }),
    }
}

fn try_compare(req: &LabRequest) -> Result<serde_json::Value, String> {
    let lab = LabManifest::parse(&req.manifest)?;
    if lab.kind != LabKind::Guest {
        return Err("a component lab does not run on the x86 machine".into());
    }
    let mut tests = Vec::new();
    for (i, text) in req.tests.iter().enumerate() {
        tests.extend(TestFile::parse(&format!("test file {i}"), text)?.tests);
    }
    let source = req.solution.as_bytes();
    let prepared = harness::prepare(&lab, &VmlabAssembler::default(), source, false);
    if let Prepared::Rejected(why) = &prepared {
        return Err(format!("the reference solution is rejected: {why}"));
    }
    let log = Rc::new(RefCell::new(Vec::new()));
    let factory = |tier| TierFactory {
        tier,
        log: log.clone(),
    };
    let (interp, translate) = (factory(Tier::Interp), factory(Tier::Translate));
    let (mut off_machine, mut failed, mut differs) = (Vec::new(), Vec::new(), None);
    let (mut machines, mut icount, mut region_instructions, mut regions) = (0, 0, 0, 0);
    for t in &tests {
        if t.balloon.is_some() || t.linux.is_some() {
            off_machine.push(t.name.clone());
            continue;
        }
        let a = harness::run_prepared(&lab, &interp, &prepared, source, t);
        let ra: Vec<Outcome> = log.borrow_mut().drain(..).collect();
        let b = harness::run_prepared(&lab, &translate, &prepared, source, t);
        let rb: Vec<Outcome> = log.borrow_mut().drain(..).collect();
        machines += rb.len();
        for r in &rb {
            icount += r.icount;
            region_instructions += r.region_instructions;
            regions += r.regions;
        }
        if !a.passed || !b.passed {
            failed.push(format!(
                "{}: {}",
                t.name,
                if a.passed { &b } else { &a }.message
            ));
        }
        if differs.is_none() {
            differs = if a != b {
                Some(format!("test {}: outcome {a:?} vs {b:?}", t.name))
            } else if ra.len() != rb.len() {
                Some(format!(
                    "test {}: {} vs {} machines",
                    t.name,
                    ra.len(),
                    rb.len()
                ))
            } else {
                ra.iter()
                    .zip(&rb)
                    .find_map(|(x, y)| x.differs(y))
                    .map(|d| format!("test {}: {d}", t.name))
            };
        }
    }
    Ok(serde_json::json!({
        "id": req.id,
        "same": differs.is_none() && failed.is_empty(),
        "differs": differs,
        "tests": tests.len(),
        "machines": machines,
        "failed": failed,
        "not_on_machine": off_machine,
        "icount": icount,
        "region_instructions": region_instructions,
        "regions": regions,
    }))
}

/// Wasm export: grades the lab in the input buffer; returns the report's length in the
/// output buffer.
#[allow(unsafe_code)] // an exported symbol name is an unsafe attribute; no unsafe code runs
#[unsafe(no_mangle)]
pub extern "C" fn bench_lab() -> u32 {
    io::answer("bench_lab", |r: LabRequest| compare(&r)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The assembly warm-up lab's reference solution passes every test in both tiers, on
    /// machines that end alike, with regions having run.
    #[test]
    fn the_warm_up_lab_grades_alike_in_both_tiers() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../assignments/labs/asm-warmup");
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).expect("the lab's file reads");
        let req = LabRequest {
            id: "asm-warmup".into(),
            manifest: read("lab.toml"),
            tests: vec![read("tests/visible.toml"), read("tests/hidden.toml")],
            solution: read("solution.asm"),
        };
        let r = compare(&req);
        assert_eq!(r["same"], true, "{r}");
        assert!(r["machines"].as_u64() > Some(3), "{r}");
        assert!(r["region_instructions"].as_u64() > Some(0), "{r}");
        let broken = LabRequest {
            solution: req.solution.replace("ret", "nop"),
            ..req
        };
        let r = compare(&broken);
        assert_eq!(r["same"], false, "a broken solution fails its tests: {r}");
    }
}
